/** @odoo-module */

import { registry } from "@web/core/registry";
import { openAccessLog } from "@perimeter_security/../tests/tours/perimeter_tour_steps";

// An administrator reviews the access log (list, pivot, graph, today's filter), opens a refused
// client and admits its /24 network to the allowlist.
registry.category("web_tour.tours").add("perimeter_security_access_log_tour", {
    url: "/odoo",
    steps: () => [
        ...openAccessLog(),
        {
            content: "The refused client is listed with its request count",
            trigger: ".o_data_row:has(td:contains('203.0.113.77')):has(td:contains('7'))",
        },
        {
            content: "Open the filters",
            trigger: ".o_searchview_dropdown_toggler",
            run: "click",
        },
        {
            content: "Keep today's rows",
            trigger: ".o_filter_menu .o_menu_item:contains('Today')",
            run: "click",
        },
        {
            content: "Today's rows still include the client",
            trigger: ".o_facet_value:contains('Today')",
        },
        {
            content: "Switch to the pivot view",
            trigger: ".o_switch_view.o_pivot",
            run: "click",
        },
        {
            content: "The pivot has a row per client",
            trigger: ".o_pivot .o_pivot_header_cell_closed:contains('203.0.113.77')",
        },
        {
            content: "Switch to the graph view",
            trigger: ".o_switch_view.o_graph",
            run: "click",
        },
        {
            content: "The graph is drawn",
            trigger: ".o_graph_renderer canvas",
        },
        {
            content: "Back to the list",
            trigger: ".o_switch_view.o_list",
            run: "click",
        },
        {
            content: "Open the client's row",
            trigger: ".o_data_row td:contains('203.0.113.77')",
            run: "click",
        },
        {
            content: "The form says why it was refused",
            trigger: ".o_field_widget[name='reason']:contains('Not in the allowlist')",
        },
        {
            content: "Admit it",
            trigger: ".o_form_statusbar button[name='action_perimeter_admit']",
            run: "click",
        },
        {
            content: "Choose its network",
            trigger: ".modal .o_field_widget[name='scope'] input[data-value='network']",
            run: "click",
        },
        {
            content: "The wizard says what it will do",
            trigger: ".modal .o_field_widget[name='plan']:contains('203.0.113.0/24: a rule will be added.')",
        },
        {
            content: "Confirm",
            trigger: ".modal button[name='action_admit']",
            run: "click",
        },
        {
            content: "A notification confirms it",
            trigger: ".o_notification:contains('203.0.113.0/24: added.')",
        },
    ],
});
