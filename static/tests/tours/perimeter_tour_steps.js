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

// The steps several tours share: into the Perimeter app, one of its menus, its Access Log, its Settings, and
// saving them.

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

// The top menu groups its entries under Rules, Monitoring, Systems and Configuration, as core apps do:
// such an entry is opened from its section's dropdown. Both are named by their xmlid (without the module),
// never by their words, so that the steps hold in every language.
export function openMenu(section, entry) {
    return [
        {
            content: `Open the ${section} menu`,
            trigger: `.o_menu_sections button[data-menu-xmlid='perimeter_security.${section}']`,
            run: "click",
        },
        {
            content: `Open ${entry}`,
            trigger: `.o-dropdown--menu [data-menu-xmlid='perimeter_security.${entry}']`,
            run: "click",
        },
    ];
}

export function openAccessLog() {
    return [...openPerimeterApp(), ...openMenu("perimeter_menu_monitoring", "perimeter_menu_access_log")];
}

export function openPerimeterSettings() {
    return [...openPerimeterApp(), ...openMenu("perimeter_menu_configuration", "perimeter_menu_settings")];
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
