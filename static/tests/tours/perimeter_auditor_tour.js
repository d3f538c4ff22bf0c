/** @odoo-module */

import { registry } from "@web/core/registry";
import { openAccessLog, openMenu } from "@perimeter_security/../tests/tours/perimeter_tour_steps";

// A Perimeter auditor reviews the access log, an alert and a rule, and is offered nothing that writes:
// no Block… or Admit…, no Archive in the gear menu, no Send message or Log note on a rule.
const NOTHING_THAT_WRITES =
    "body:not(:has(button:contains('Block…'))):not(:has(button:contains('Admit…')))";

registry.category("web_tour.tours").add("perimeter_security_auditor_tour", {
    url: "/odoo",
    steps: () => [
        ...openAccessLog(),
        {
            content: "Select the refused client's row",
            trigger: ".o_data_row:has(td:contains('203.0.113.77')) .o_list_record_selector input",
            run: "click",
        },
        {
            content: "The row is selected",
            // 18 .o_list_selection_box, 19 .o_selection_box (web's selection box, shared by the views)
            trigger: ".o_list_selection_box, .o_selection_box",
        },
        {
            content: "The list offers neither Block… nor Admit…",
            trigger: NOTHING_THAT_WRITES,
        },
        {
            // 19: while rows are selected, a click on a row selects it instead of opening it.
            content: "Unselect the row",
            trigger: ".o_data_row:has(td:contains('203.0.113.77')) .o_list_record_selector input:checked",
            run: "click",
        },
        {
            content: "Open the client's row",
            trigger: ".o_data_row td:contains('203.0.113.77')",
            run: "click",
        },
        {
            content: "The form is open",
            trigger: ".o_form_view .o_field_widget[name='ip']:contains('203.0.113.77')",
        },
        {
            content: "The form offers neither Block… nor Admit…",
            trigger: NOTHING_THAT_WRITES,
        },
        ...openMenu("perimeter_menu_monitoring", "perimeter_menu_access_alert"),
        {
            content: "Open the alert",
            trigger: ".o_data_row td:contains('203.0.113.77')",
            run: "click",
        },
        {
            content: "The alert is open",
            trigger: ".o_form_view .o_field_widget[name='ip']:contains('203.0.113.77')",
        },
        {
            content: "The alert offers neither Block… nor Admit…",
            trigger: NOTHING_THAT_WRITES,
        },
        ...openMenu("perimeter_menu_rules", "perimeter_menu_allowlist"),
        {
            content: "Select the auditor's rule",
            trigger: ".o_data_row:has(td:contains('Audited office')) .o_list_record_selector input",
            run: "click",
        },
        {
            content: "Open the gear menu of the selection",
            trigger: ".o_control_panel .o_cp_action_menus button:has(.fa-cog)",
            run: "click",
        },
        {
            content: "The menu is open (Export is reading)",
            trigger: ".o-dropdown--menu .o_menu_item:contains('Export')",
        },
        {
            content: "The gear menu offers no Archive",
            trigger: "body:not(:has(.o-dropdown--menu .o_menu_item:contains('Archive')))",
        },
        {
            content: "Unselect it (a click on a row of a selection selects on 19 rather than opening)",
            trigger: ".o_data_row:has(td:contains('Audited office')) .o_list_record_selector input:checked",
            run: "click",
        },
        {
            content: "Open the rule",
            trigger: ".o_list_view:not(:has(.o_list_record_selector input:checked)) .o_data_row td:contains('Audited office')",
            run: "click",
        },
        {
            content: "The rule is open, with its chatter",
            trigger: ".o_form_view .o-mail-Chatter-topbar",
        },
        {
            content: "The chatter offers neither Send message nor Log note",
            trigger: ".o-mail-Chatter-topbar:not(:has(.o-mail-Chatter-sendMessage:enabled)):not(:has(.o-mail-Chatter-logNote:enabled))",
        },
        {
            content: "The form's gear menu offers no Archive",
            trigger: "body:not(:has(.o_cp_action_menus .o-dropdown-item:contains('Archive')))",
        },
    ],
});
