from odoo import fields, models


class PerimeterAllowlist(models.Model):
    """Rules as networks of users and groups, and rules reserved for them."""

    _inherit = "perimeter.allowlist"

    reserved = fields.Boolean(
        string="Only for those who name it",
        help="Admit only the users and groups that name this rule (a partner's network for its integration "
        "user): nobody else may use it, and nobody falls back to it. Without it, the rule is also part of the "
        "allowlist of every user who has no networks of their own or of their groups.",
    )
    group_ids = fields.Many2many(
        "res.groups", "perimeter_allowlist_res_groups_rel", "rule_id", "group_id", string="Groups",
        help="Groups whose users may come from this network (see Allowed networks on the group).",
    )
    user_ids = fields.Many2many(
        "res.users", "perimeter_allowlist_res_users_rel", "rule_id", "user_id", string="Users",
        context={"active_test": False},
        help="Users whose own allowed networks include this one (their own networks replace their groups').",
    )
