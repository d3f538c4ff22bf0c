"""``perimeter.audience.holder``: what users and groups share as holders of allowed networks."""

from odoo import api, models

from ..guard import signaling


class PerimeterAudienceHolder(models.AbstractModel):
    """What users and groups share as holders of allowed networks: a change that moves somebody's
    networks drops the cached policy everywhere and is checked for lockout, whoever makes it.

    Each model lists in ``_perimeter_audience_fields`` the fields whose change moves networks.
    """

    _name = "perimeter.audience.holder"
    _description = "Holder of allowed networks (users, groups)"
    _perimeter_audience_fields = ("perimeter_allowlist_ids",)

    def init(self):
        result = super().init()
        signaling.install(self.env.cr)  # the relation table of the networks exists from here on
        return result

    def _perimeter_audience_changed(self):
        self.env.registry.clear_cache()
        self.env["perimeter.policy"]._perimeter_policy_changed()

    @api.model_create_multi
    def create(self, vals_list):
        records = super().create(vals_list)
        if any(vals.get("perimeter_allowlist_ids") for vals in vals_list):
            records._perimeter_audience_changed()
        return records

    def write(self, vals):
        result = super().write(vals)
        if any(name in vals for name in self._perimeter_audience_fields):
            self._perimeter_audience_changed()
        return result
