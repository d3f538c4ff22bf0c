/** @odoo-module */

import { registry } from "@web/core/registry";
import { openMenu, openPerimeterSettings, saveSettings } from "@perimeter_security/../tests/tours/perimeter_tour_steps";

// An administrator opens the Perimeter section of Settings, changes the trusted proxies, and finds the change,
// with its before and after, in Perimeter › Change History.
registry.category("web_tour.tours").add("perimeter_security_change_history_tour", {
    url: "/odoo",
    steps: () => [
        ...openPerimeterSettings(),
        {
            content: "Settings open on the Perimeter section, listed in the sidebar as core apps are",
            trigger: ".settings_tab .tab.selected[data-key='perimeter_security']:contains('Perimeter')",
        },
        {
            content: "The Perimeter section shows its settings",
            trigger: ".app_settings_block[data-key='perimeter_security'] #perimeter_trusted_proxies_setting",
        },
        {
            content: "Enter a trusted proxy",
            trigger: "#perimeter_trusted_proxies_setting .o_field_widget[name='perimeter_trusted_proxies'] textarea",
            run: "edit 10.0.0.5",
        },
        ...saveSettings(
            "Settings reloaded with the proxy saved, normalised",
            "#perimeter_trusted_proxies_setting textarea:value('10.0.0.5/32')",
        ),
        ...openMenu("perimeter_menu_monitoring", "perimeter_menu_change_log"),
        {
            content: "The change is listed with its value before and after",
            trigger: ".o_data_row:has(td[name='field_description']:contains('Trusted proxies')):has(td[name='new_text']:contains('10.0.0.5/32'))",
        },
        {
            content: "Group the history by user",
            trigger: ".o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: "Choose User",
            trigger: ".o_group_by_menu .o_menu_item:contains('User')",
            run: "click",
        },
        {
            // "Administrator", or "Mitchell Admin" on a database with demo data
            content: "The changes are grouped by the user who made them",
            trigger: ".o_group_header:contains('Admin')",
        },
    ],
});
