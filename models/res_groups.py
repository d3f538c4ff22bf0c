from odoo import api, fields, models

from ..guard import signaling

# Fields of a group whose change moves somebody's networks.
AUDIENCE_FIELDS = ("perimeter_allowlist_ids", "implied_ids", "users")


class ResGroups(models.Model):
    _inherit = "res.groups"

    perimeter_allowlist_ids = fields.Many2many(
        "perimeter.allowlist", "perimeter_allowlist_res_groups_rel", "group_id", "rule_id",
        string="Allowed networks", context={"active_test": False}, groups="base.group_system",
        help="Members of this group (and of the groups that imply it) may only come from these networks, "
        "unless they have networks of their own. When a member's groups name networks and one of them implies "
        "another, the more specific group decides (Settings before Internal User).",
    )

    def init(self):
        result = super().init()
        signaling.install(self.env.cr)  # the relation table of the networks exists from here on
        return result

    @api.model_create_multi
    def create(self, vals_list):
        groups = super().create(vals_list)
        if any(vals.get("perimeter_allowlist_ids") for vals in vals_list):
            self.env.registry.clear_cache()
            self.env["perimeter.policy"]._perimeter_policy_changed()
        return groups

    def write(self, vals):
        result = super().write(vals)
        if any(name in vals for name in AUDIENCE_FIELDS):
            self.env.registry.clear_cache()
            self.env["perimeter.policy"]._perimeter_policy_changed()
        return result

    def unlink(self):
        named = any(group.perimeter_allowlist_ids for group in self)
        result = super().unlink()
        if named:
            self.env.registry.clear_cache()
            self.env["perimeter.policy"]._perimeter_policy_changed()
        return result
