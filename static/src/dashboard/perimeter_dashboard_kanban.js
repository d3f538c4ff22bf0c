/** @odoo-module */

import { Component, onWillStart } from "@odoo/owl";
import { serializeDateTime } from "@web/core/l10n/dates";
import { registry } from "@web/core/registry";
import { useService } from "@web/core/utils/hooks";
import { KanbanRenderer } from "@web/views/kanban/kanban_renderer";
import { kanbanView } from "@web/views/kanban/kanban_view";

const { DateTime } = luxon;

/**
 * The state of the perimeter, above the dashboard's kanban (as Purchase heads its own): the mode, the scope,
 * today's refusals, the open alerts and this server's posture, each a link to what it counts. One call to
 * perimeter.dashboard gives the words, the numbers and the actions to open; this only draws them.
 */
export class PerimeterStateHeader extends Component {
    static template = "perimeter_security.StateHeader";
    static props = {};

    setup() {
        this.orm = useService("orm");
        this.action = useService("action");
        onWillStart(async () => {
            // Today as the web client's own "Today" filters count it: from midnight in the browser's time zone.
            const todayStart = serializeDateTime(DateTime.local().startOf("day"));
            this.sections = await this.orm.call("perimeter.dashboard", "dashboard_state", [], {
                today_start: todayStart,
            });
        });
    }

    open(item) {
        return this.action.doAction(item.action);
    }
}

export class PerimeterDashboardKanbanRenderer extends KanbanRenderer {
    static template = "perimeter_security.DashboardKanbanRenderer";
    static components = { ...KanbanRenderer.components, PerimeterStateHeader };
}

export const perimeterDashboardKanbanView = {
    ...kanbanView,
    Renderer: PerimeterDashboardKanbanRenderer,
};

registry.category("views").add("perimeter_dashboard_kanban", perimeterDashboardKanbanView);
