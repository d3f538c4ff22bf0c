/** @odoo-module */

import { registry } from "@web/core/registry";

// While the break-glass switch is on, every backend page says so in the systray.
registry.category("web_tour.tours").add("perimeter_security_break_glass_tour", {
    url: "/odoo",
    steps: () => [
        {
            content: "The break-glass badge is in the systray",
            trigger: ".o_main_navbar .o_menu_systray .o_perimeter_break_glass:contains('break-glass')",
        },
        {
            content: "The badge shows its whole text (not cut off by the navbar)",
            trigger: ".o_perimeter_break_glass .badge",
            run() {
                const badge = document.querySelector(".o_perimeter_break_glass .badge");
                const box = badge.getBoundingClientRect();
                if (badge.scrollWidth > badge.clientWidth + 1 || box.right > window.innerWidth) {
                    throw new Error(`break-glass badge cut off: ${badge.scrollWidth}px of text in ${badge.clientWidth}px`);
                }
            },
        },
    ],
});
