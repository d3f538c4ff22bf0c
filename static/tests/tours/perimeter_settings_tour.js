/** @odoo-module */

import { registry } from "@web/core/registry";
import { openMenu, openPerimeterSettings, saveSettings } from "@perimeter_security/../tests/tours/perimeter_tour_steps";

// An administrator turns on monitor mode, adds a network to the allowlist, and exports it for nginx/HAProxy.
registry.category("web_tour.tours").add("perimeter_security_settings_tour", {
    url: "/odoo",
    steps: () => [
        ...openPerimeterSettings(),
        {
            content: "Choose monitor mode",
            trigger: "#perimeter_mode_setting input[data-value='monitor']",
            run: "click",
        },
        ...saveSettings(
            "Settings reloaded with monitor mode saved",
            "#perimeter_mode_setting input[data-value='monitor']:checked",
        ),
        ...openMenu("perimeter_menu_rules", "perimeter_menu_allowlist"),
        {
            content: "Add a rule",
            trigger: ".o_list_button_add",
            run: "click",
        },
        {
            content: "Label it",
            trigger: ".o_field_widget[name='name'] input",
            run: "edit Office VPN",
        },
        {
            content: "Enter its network as a bare address",
            trigger: ".o_field_widget[name='network'] input",
            run: "edit 10.8.0.7",
        },
        {
            content: "Save the rule",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "The saved rule shows its normalised network",
            trigger: ".o_field_widget[name='network'] input:value('10.8.0.7/32')",
        },
        {
            content: "Back to the list",
            trigger: ".o_breadcrumb .o_back_button a, .o_breadcrumb .breadcrumb-item a",
            run: "click",
        },
        {
            content: "The rule is in the list",
            trigger: ".o_data_row:has(td:contains('Office VPN')):has(td:contains('10.8.0.7/32'))",
        },
        {
            content: "Export the allowlist for the reverse proxy",
            trigger: ".o_control_panel button[name='action_perimeter_export_edge']",
            run: "click",
        },
        {
            content: "nginx rules: the new rule allowed, everything else denied",
            trigger: ".modal .o_field_widget[name='content']:contains('allow 10.8.0.7/32;'):contains('deny all;')",
        },
        {
            content: "Switch to HAProxy",
            trigger: ".modal .o_field_widget[name='edge'] input[data-value='haproxy']",
            run: "click",
        },
        {
            content: "An HAProxy pattern file, with how to use it",
            trigger: ".modal .o_field_widget[name='content']:contains('acl odoo_allowed src -f'):not(:contains('deny all;'))",
        },
        {
            content: "Close the dialog",
            trigger: ".modal .modal-footer button:contains('Close')",
            run: "click",
        },
        {
            content: "Back on the allowlist",
            trigger: "body:not(:has(.modal)) .o_data_row:has(td:contains('Office VPN'))",
        },
    ],
});
