/** @odoo-module */

import { registry } from "@web/core/registry";
import { openPerimeterApp } from "@perimeter_security/../tests/tours/perimeter_tour_steps";

const RELAY = "Outgoing mail: Tour relay";

// An administrator opens the Perimeter app on its dashboard, discovers the connected systems,
// checks one, and follows it to the record it was discovered from.
registry.category("web_tour.tours").add("perimeter_security_dashboard_tour", {
    url: "/odoo",
    steps: () => [
        ...openPerimeterApp(),
        {
            content: "The app opens on the dashboard: a kanban grouped by state",
            trigger: ".o_breadcrumb:contains('Dashboard')",
        },
        {
            content: "Discover the systems this database talks to",
            trigger: ".o_control_panel button.o_perimeter_discover",
            run: "click",
        },
        {
            content: "The mail server appears, not checked yet",
            trigger: `.o_kanban_group:has(.o_column_title:contains('Not checked')) .o_kanban_record:contains('${RELAY}'):contains('Never checked')`,
        },
        {
            content: "Open it",
            trigger: `.o_kanban_record:contains('${RELAY}')`,
            run: "click",
        },
        {
            content: "Check it now",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_check']",
            run: "click",
        },
        {
            content: "Odoo sends this mail unencrypted: critical, and the reason is written out",
            trigger: ".o_form_view .o_field_widget[name='state']:contains('Critical')",
        },
        {
            content: "The reason is written out",
            trigger: ".o_form_view .o_field_widget[name='details']:contains('unencrypted')",
        },
        {
            content: "Open the record it was discovered from",
            trigger: ".o_form_view .o_statusbar_buttons button[name='action_open_source']",
            run: "click",
        },
        {
            content: "The outgoing mail server's own form",
            trigger: ".o_form_view .o_field_widget[name='smtp_host'] input:value('127.0.0.1')",
        },
        {
            content: "Back to the dashboard",
            trigger: ".o_breadcrumb .breadcrumb-item a:contains('Dashboard')",
            run: "click",
        },
        {
            content: "The system now sits in the Critical column",
            trigger: `.o_kanban_group:has(.o_column_title:contains('Critical')) .o_kanban_record:contains('${RELAY}')`,
        },
    ],
});

// Issue 21 #5: in French the top menu fits, with no entry pushed into the "+" overflow.
registry.category("web_tour.tours").add("perimeter_security_french_menu_tour", {
    url: "/odoo",
    steps: () => [
        ...openPerimeterApp(),
        {
            content: "The sections are in French",
            trigger:
                ".o_menu_sections:contains('Tableau de bord'):contains('Règles'):contains('Suivi'):contains('Systèmes')",
        },
        {
            content: "Every section is in the bar: nothing overflows into +",
            trigger: ".o_main_navbar:has(.o_menu_sections [data-section]):not(:has(.o_menu_sections_more))",
        },
    ],
});
