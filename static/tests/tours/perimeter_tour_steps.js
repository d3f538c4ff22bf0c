/** @odoo-module */

// No import of Odoo's tour utilities: 18 serves them as @web_tour/tour_service/tour_utils, 19 as
// @web_tour/tour_utils, and a missing module breaks every tour of the bundle. The one step used is inlined
// (identical in both: web_tour showAppsMenuItem()).
function showAppsMenuItem() {
    return {
        isActive: ["auto", "community", "desktop"],
        trigger: ".o_navbar_apps_menu button:enabled",
        tooltipPosition: "bottom",
        run: "click",
    };
}

// The steps several tours share: into the Perimeter app, its Access Log, its Settings, and saving them.

export function openPerimeterApp() {
    return [
        showAppsMenuItem(),
        {
            content: "Open the Perimeter app",
            trigger: ".o_app[data-menu-xmlid='perimeter_security.perimeter_menu_root']",
            run: "click",
        },
    ];
}

export function openAccessLog() {
    return [
        ...openPerimeterApp(),
        {
            content: "Open the Access Log",
            trigger: ".o_menu_sections [data-menu-xmlid='perimeter_security.perimeter_menu_access_log']",
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
            // 19 fails a tour whose page unloads during a step not marked so (18 knows the key too, optional).
            expectUnloadPage: true,
            async run(helpers) {
                // Marks this page, so that the next step waits for the reloaded one.
                document.body.dataset.perimeterBeforeSave = "1";
                await helpers.click();
            },
        },
        { content, trigger: `body:not([data-perimeter-before-save]) ${savedTrigger}` },
    ];
}
