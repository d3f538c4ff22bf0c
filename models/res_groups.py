"""``res.groups``: the networks a group's members may come from, and their change history."""

from odoo import api, fields, models

from ..guard import odoo_version

USERS = odoo_version.GROUP_USERS_FIELD  # res.groups -> res.users: users (18), user_ids (19)


class ResGroups(models.Model):
    _name = "res.groups"
    _inherit = ["res.groups", "perimeter.audience.holder", "perimeter.change.tracked"]
    # Fields of a group whose change moves somebody's networks.
    _perimeter_audience_fields = ("perimeter_allowlist_ids", "implied_ids", USERS)
    # A group's networks, given from the group form, go to the change history.
    _perimeter_tracked_fields = ("perimeter_allowlist_ids",)

    perimeter_allowlist_ids = fields.Many2many(
        "perimeter.allowlist", "perimeter_allowlist_res_groups_rel", "group_id", "rule_id",
        # Named by Settings administrators (who may write groups); read by the Perimeter roles, who review them.
        string="Allowed networks", context={"active_test": False},
        groups="base.group_system,perimeter_security.group_perimeter_auditor",
        help="Members of this group (and of the groups that imply it) may only come from these networks, "
        "unless they have networks of their own. When a member's groups name networks and one of them implies "
        "another, the more specific group decides (Settings before Internal User).",
    )

    def _perimeter_touches(self, vals):
        return super()._perimeter_touches(vals) or USERS in vals

    def _perimeter_snapshot(self):
        """Also the members of a group that names networks (joining or leaving it moves where they may
        come from); the members of other groups are not the perimeter's history."""
        snapshot = super()._perimeter_snapshot()
        for group in self.sudo().with_context(active_test=False):
            members = group[USERS] if group.perimeter_allowlist_ids else group[USERS].browse()
            snapshot[group.id][1][USERS] = ", ".join(sorted(members.mapped("login"))) or False
        return snapshot

    def unlink(self):
        named = any(group.perimeter_allowlist_ids for group in self)
        result = super().unlink()  # the change history's rows are written in there (perimeter.change.tracked)
        if named:
            self._perimeter_audience_changed()
        return result

    # -- placing the module's groups: from data files (<function>), the fields differ between series ---------

    @api.model
    def _perimeter_place_roles(self):
        privilege = ("perimeter_security.res_groups_privilege_perimeter", "Perimeter", 30)
        for xmlid in ("perimeter_security.group_perimeter_auditor", "perimeter_security.group_perimeter_manager"):
            odoo_version.place_group(self.env, xmlid, "perimeter_security.module_category_perimeter", privilege)

    @api.model
    def _perimeter_place_edge_sync(self):
        odoo_version.place_group(self.env, "perimeter_security.group_perimeter_edge_sync",
                                 "base.module_category_hidden")
        odoo_version.set_record_groups(self.env, "perimeter_security.user_perimeter_edge_sync",
                                       ["perimeter_security.group_perimeter_edge_sync"])

    @api.model
    def _perimeter_set_record_groups(self, xmlid, group_xmlids):
        odoo_version.set_record_groups(self.env, xmlid, group_xmlids)
