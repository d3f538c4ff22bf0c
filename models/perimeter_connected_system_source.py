"""A connected system's source record, opened only where an administrator can act on it.

*This Odoo* comes from the ``web.base.url`` system parameter: outside developer
mode, opening that raw technical record is no help (Odoo sets it from the
address an administrator logs in with), so the button is not offered there.
"""

from odoo import api, fields, models
from odoo.exceptions import UserError


class PerimeterConnectedSystem(models.Model):
    _inherit = "perimeter.connected.system"

    source_is_parameter = fields.Boolean(compute="_compute_source_is_parameter")

    @api.depends("source_ref")
    def _compute_source_is_parameter(self):
        for system in self:
            system.source_is_parameter = bool(system.source_ref) and system.source_ref._name == "ir.config_parameter"

    def action_open_source(self):
        self.ensure_one()
        if self.source_is_parameter and not self.env.user.has_group("base.group_no_one"):
            raise UserError(self.env._(
                "%(system)s comes from a technical system parameter, which Odoo updates from the address an "
                "administrator logs in with. Activate the developer mode to open it.", system=self.name))
        return super().action_open_source()
