/** @odoo-module */

import { registry } from "@web/core/registry";
import { openMenu, openPerimeterApp } from "@perimeter_security/../tests/tours/perimeter_tour_steps";

// The client the test refused today, raised an alert for, and the finding it made on this server.
const CLIENT = "10.71.0.9";
const FINDING = "Tour finding";

function stateItem(name) {
    return `.o_perimeter_state .o_perimeter_state_item[data-item='${name}']`;
}

function backToDashboard() {
    return {
        content: "Back to the dashboard",
        trigger: ".o_breadcrumb .breadcrumb-item a:contains('Dashboard')",
        run: "click",
    };
}

// Issue 21 #5: the app tells the state when it opens. An administrator reads the mode and the numbers above the
// dashboard, follows each to the list it counts, and finds their way through the grouped menus.
registry.category("web_tour.tours").add("perimeter_security_dashboard_state_tour", {
    url: "/odoo",
    steps: () => {
        let refusedToday = null;
        return [
            ...openPerimeterApp(),
            {
                content: "The app opens on the dashboard, headed by the mode as Settings words it",
                trigger: `${stateItem("mode")}:contains('Monitor')`,
            },
            {
                content: "The scope in words",
                trigger: `${stateItem("scope")}:contains('Internal users')`,
            },
            {
                content: "Monitor mode: what would be refused today is counted too",
                trigger: stateItem("monitored_today"),
            },
            {
                content: "This server's critical finding is counted",
                trigger: `${stateItem("posture_critical")}:contains('Critical')`,
            },
            {
                content: "Read today's refused requests",
                trigger: `${stateItem("refused_today")} .o_perimeter_state_value`,
                run() {
                    refusedToday = Number(this.anchor.textContent.replace(/\D/g, ""));
                    if (!(refusedToday >= 7)) {
                        throw new Error(`refused today: ${this.anchor.textContent}, expected at least the test's 7`);
                    }
                },
            },
            {
                content: "Open them",
                trigger: stateItem("refused_today"),
                run: "click",
            },
            {
                content: "The Access Log, filtered on refused requests",
                trigger: ".o_searchview_facet:contains('Refused')",
            },
            {
                content: "and on today's",
                trigger: ".o_searchview_facet:contains('Today')",
            },
            {
                content: "The client refused today is listed",
                trigger: `.o_data_row:has(td:contains('${CLIENT}'))`,
            },
            {
                content: "The list's total (its one sum: requests) is the header's number",
                trigger: ".o_list_footer td.o_list_number",
                run() {
                    // 19 marks every footer cell after the first sum o_list_number, empty or not.
                    const sums = [...this.anchor.closest("tr").querySelectorAll("td")]
                        .map((cell) => cell.textContent.trim())
                        .filter((text) => /\d/.test(text));
                    const total = Number((sums[0] || "").replace(/\D/g, ""));
                    if (sums.length !== 1 || total !== refusedToday) {
                        throw new Error(`the header said ${refusedToday} refused today, the list totals ${sums}`);
                    }
                },
            },
            backToDashboard(),
            {
                content: "Open the open alerts",
                trigger: stateItem("open_alerts"),
                run: "click",
            },
            {
                content: "The alerts, filtered on the open ones",
                trigger: ".o_searchview_facet:contains('Open')",
            },
            {
                content: "The client's alert is listed",
                trigger: `.o_data_row:has(td:contains('${CLIENT}'))`,
            },
            backToDashboard(),
            {
                content: "Open this server's critical findings",
                trigger: stateItem("posture_critical"),
                run: "click",
            },
            {
                content: "Posture, filtered on critical findings",
                trigger: ".o_searchview_facet:contains('Critical')",
            },
            {
                content: "This server's critical finding is listed",
                trigger: `.o_data_row:contains('${FINDING}')`,
            },
            {
                content: "Only critical findings are listed",
                trigger: ".o_list_renderer:not(:has(.o_data_row:contains('Warning')))",
            },
            ...openMenu("perimeter_menu_systems", "perimeter_menu_systems_all"),
            {
                content: "Systems › All Systems lists the connected systems",
                trigger: ".o_list_view .o_breadcrumb:contains('Connected Systems')",
            },
            ...openMenu("perimeter_menu_rules", "perimeter_menu_group_networks"),
            {
                content: "Rules › Group Networks lists the groups with their networks",
                trigger: ".o_list_renderer th[data-name='perimeter_allowlist_ids']",
            },
            ...openMenu("perimeter_menu_monitoring", "perimeter_menu_change_log"),
            {
                content: "Monitoring › Change History",
                trigger: ".o_breadcrumb:contains('Change History')",
            },
            {
                content: "Back to the dashboard from the top menu",
                trigger: ".o_menu_sections [data-menu-xmlid='perimeter_security.perimeter_menu_dashboard']",
                run: "click",
            },
            {
                content: "The header opens Settings from the mode",
                trigger: stateItem("mode"),
                run: "click",
            },
            {
                content: "Settings, with the enforcement mode",
                trigger: "#perimeter_mode_setting input[data-value='monitor']:checked",
            },
        ];
    },
});

// An auditor sees the same header, and no link of it needs more than reading: the mode opens Settings in Force.
registry.category("web_tour.tours").add("perimeter_security_dashboard_state_auditor_tour", {
    url: "/odoo",
    steps: () => [
        ...openPerimeterApp(),
        {
            content: "The auditor's dashboard is headed by the mode",
            trigger: `${stateItem("mode")}:contains('Monitor')`,
        },
        {
            content: "Open the mode",
            trigger: stateItem("mode"),
            run: "click",
        },
        {
            content: "Settings in Force, not the Settings screen",
            trigger: ".o_breadcrumb:contains('Settings in Force')",
        },
        {
            content: "The mode is listed there",
            trigger: ".o_data_row:contains('Monitor')",
        },
        backToDashboard(),
        {
            content: "Open the open alerts",
            trigger: stateItem("open_alerts"),
            run: "click",
        },
        {
            content: "The client's alert is listed, and nothing failed",
            trigger: `body:not(:has(.o_error_dialog)) .o_data_row:has(td:contains('${CLIENT}'))`,
        },
        ...openMenu("perimeter_menu_rules", "perimeter_menu_group_networks"),
        {
            content: "Group Networks reads for the auditor",
            trigger: "body:not(:has(.o_error_dialog)) .o_list_renderer th[data-name='perimeter_allowlist_ids']",
        },
    ],
});
