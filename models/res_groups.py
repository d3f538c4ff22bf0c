"""``res.groups``: the networks a group's members may come from, and their change history."""

from odoo import fields, models


class ResGroups(models.Model):
    _name = "res.groups"
    _inherit = ["res.groups", "perimeter.audience.holder", "perimeter.change.tracked"]
    # Fields of a group whose change moves somebody's networks.
    _perimeter_audience_fields = ("perimeter_allowlist_ids", "implied_ids", "users")
    # A group's networks, given from the group form, go to the change history.
    _perimeter_tracked_fields = ("perimeter_allowlist_ids",)

    perimeter_allowlist_ids = fields.Many2many(
        "perimeter.allowlist", "perimeter_allowlist_res_groups_rel", "group_id", "rule_id",
        string="Allowed networks", context={"active_test": False}, groups="base.group_system",
        help="Members of this group (and of the groups that imply it) may only come from these networks, "
        "unless they have networks of their own. When a member's groups name networks and one of them implies "
        "another, the more specific group decides (Settings before Internal User).",
    )

    def _perimeter_touches(self, vals):
        return super()._perimeter_touches(vals) or "users" in vals

    def _perimeter_snapshot(self):
        """Also the members of a group that names networks (joining or leaving it moves where they may
        come from); the members of other groups are not the perimeter's history."""
        snapshot = super()._perimeter_snapshot()
        for group in self.sudo().with_context(active_test=False):
            members = group.users if group.perimeter_allowlist_ids else group.users.browse()
            snapshot[group.id][1]["users"] = ", ".join(sorted(members.mapped("login"))) or False
        return snapshot

    def unlink(self):
        named = any(group.perimeter_allowlist_ids for group in self)
        result = super().unlink()  # the change history's rows are written in there (perimeter.change.tracked)
        if named:
            self._perimeter_audience_changed()
        return result
