/** @odoo-module */

import { registry } from "@web/core/registry";
import { openPerimeterApp } from "@perimeter_security/../tests/tours/perimeter_tour_steps";

const DEFAULT_PASSWORD = "The master password is 'admin'";

// An administrator opens Perimeter › Posture, reads the worst finding and its fix, and reviews again.
registry.category("web_tour.tours").add("perimeter_security_posture_tour", {
    url: "/odoo",
    steps: () => [
        ...openPerimeterApp(),
        {
            content: "Open Posture: the server is reviewed as the list opens",
            trigger: ".o_main_navbar a[data-menu-xmlid='perimeter_security.perimeter_menu_posture']",
            run: "click",
        },
        {
            content: "The worst finding comes first",
            trigger: ".o_list_renderer .o_data_row:first:contains('Critical')",
        },
        {
            // Among the critical ones: another server's may be listed too (the demo data has one).
            content: "The default master password is critical",
            trigger: `.o_list_renderer .o_data_row:contains("${DEFAULT_PASSWORD}"):contains('Critical')`,
        },
        {
            content: "Open it",
            trigger: `.o_list_renderer .o_data_row:contains("${DEFAULT_PASSWORD}") td[name='name']`,
            run: "click",
        },
        {
            content: "The form says what was found and how to fix it",
            trigger: ".o_form_view .o_field_widget[name='fix']:contains('Set Master Password')",
        },
        {
            content: "Back to the list",
            trigger: ".o_breadcrumb .breadcrumb-item a:contains('Posture')",
            run: "click",
        },
        {
            content: "Review again",
            trigger: ".o_control_panel button[name='action_review']",
            run: "click",
        },
        {
            content: "Still listed: nothing was fixed in between",
            trigger: `.o_list_renderer .o_data_row:contains("${DEFAULT_PASSWORD}")`,
        },
    ],
});
