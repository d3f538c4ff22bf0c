/** @odoo-module */

import { stepUtils } from "@web_tour/tour_service/tour_utils";

// The steps several tours share: into the Perimeter app, into its Settings, and saving them.

export function openPerimeterApp() {
    return [
        stepUtils.showAppsMenuItem(),
        {
            content: "Open the Perimeter app",
            trigger: ".o_app[data-menu-xmlid='perimeter_security.perimeter_menu_root']",
            run: "click",
        },
    ];
}

export function openPerimeterSettings() {
    return [
        ...openPerimeterApp(),
        {
            content: "Wait for the Perimeter menus (the home app has a Configuration menu too)",
            trigger: ".o_menu_brand:contains('Perimeter')",
        },
        {
            content: "Open the Configuration menu",
            trigger: ".o_menu_sections button:contains('Configuration')",
            run: "click",
        },
        {
            content: "Open Settings",
            trigger: "[data-menu-xmlid='perimeter_security.perimeter_menu_settings']",
            run: "click",
        },
    ];
}

// Odoo reloads the page after saving Settings: `savedTrigger` is looked for on the reloaded page only.
export function saveSettings(content, savedTrigger) {
    return [
        {
            content: "Save the settings (Odoo reloads the page after saving)",
            trigger: ".o_control_panel .o_form_button_save",
            async run(helpers) {
                // Marks this page, so that the next step waits for the reloaded one.
                document.body.dataset.perimeterBeforeSave = "1";
                await helpers.click();
            },
        },
        { content, trigger: `body:not([data-perimeter-before-save]) ${savedTrigger}` },
    ];
}
