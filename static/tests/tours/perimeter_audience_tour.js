/** @odoo-module */

import { registry } from "@web/core/registry";

// An administrator holds the Settings group to the VPN while working from the office: the save is refused,
// and the dialog says why and what to do.
registry.category("web_tour.tours").add("perimeter_security_audience_tour", {
    steps: () => [
        {
            content: "Open the group's Allowed networks tab",
            trigger: ".o_form_view .o_notebook a[role='tab']:contains('Allowed networks')",
            run: "click",
        },
        {
            content: "Name the VPN",
            trigger: ".o_field_widget[name='perimeter_allowlist_ids'] input",
            run: "edit VPN",
        },
        {
            content: "Pick it",
            trigger: ".o-autocomplete--dropdown-item:contains('VPN')",
            run: "click",
        },
        {
            content: "Save",
            trigger: ".o_form_button_save",
            run: "click",
        },
        {
            content: "The save is refused with the explanation",
            // The group is not named here: base.group_system is "Settings" on 18, "Administrator" on 19
            // (the Python test checks the name).
            trigger: ".modal:contains('would lock you out'):contains('127.0.0.1')",
        },
        {
            content: "Close the dialog",
            trigger: ".modal .modal-footer .btn-primary",
            run: "click",
        },
        {
            content: "Discard the change",
            trigger: ".o_form_button_cancel",
            run: "click",
        },
        {
            content: "Back to the group as it was",
            trigger: ".o_form_view .o_notebook",
        },
    ],
});
