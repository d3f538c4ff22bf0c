/** @odoo-module */

import { Component } from "@odoo/owl";
import { registry } from "@web/core/registry";
import { session } from "@web/session";

/**
 * A red badge in the systray of every backend page while the break-glass switch
 * ([perimeter_security] disabled = True in the Odoo configuration file) is on,
 * so that nobody forgets that the perimeter is open.
 */
export class PerimeterBreakGlassSystray extends Component {
    static template = "perimeter_security.BreakGlassSystray";
    static props = {};
}

if (session.perimeter_break_glass) {
    registry
        .category("systray")
        .add("perimeter_security.break_glass", { Component: PerimeterBreakGlassSystray }, { sequence: 1 });
}
