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
    ],
});
