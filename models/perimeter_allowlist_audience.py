from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError

from ..perimeter.networks import normalize_network

SETTINGS = "base.group_system"
# Fields of a rule whose change moves the users and groups that name it (as archiving or deleting would).
HOLDING_FIELDS = ("network", "active", "expires_at")
NAMING_FIELDS = ("user_ids", "group_ids")


class PerimeterAllowlist(models.Model):
    """Rules as networks of users and groups, and rules reserved for them.

    Who is held to which networks is a Settings administrator's decision, as
    the networks of users and groups are (their fields are Settings-only):
    naming users or groups on a rule, and changing the network, expiry or
    activity of a rule that users or groups name, are theirs too. A named rule
    is never deleted (its users would fall back to wider networks): it is
    archived, which keeps them held, or first removed from their networks.
    """

    _inherit = "perimeter.allowlist"

    reserved = fields.Boolean(
        string="Only for those who name it",
        help="Admit only the users and groups that name this rule (a partner's network for its integration "
        "user): nobody else may use it, and nobody falls back to it. Without it, the rule is also part of the "
        "allowlist of every user who has no networks of their own or of their groups.",
    )
    group_ids = fields.Many2many(
        "res.groups", "perimeter_allowlist_res_groups_rel", "rule_id", "group_id", string="Groups",
        help="Groups whose users may come from this network (see Allowed networks on the group). "
        "Named by Settings administrators.",
    )
    user_ids = fields.Many2many(
        "res.users", "perimeter_allowlist_res_users_rel", "rule_id", "user_id", string="Users",
        context={"active_test": False},
        help="Users whose own allowed networks include this one (their own networks replace their groups'). "
        "Named by Settings administrators.",
    )

    # -- who decides -------------------------------------------------------------------------------

    def _perimeter_decides_holding(self):
        """Whether the current user may decide who is held to which networks (a Settings administrator)."""
        return self.env.su or self.env.user.has_group(SETTINGS)

    def _perimeter_settings_only(self, rules):
        names = ", ".join(f'"{name}"' for name in rules.mapped("name")) or "-"
        return AccessError(self.env._(
            "Only Settings administrators decide who is held to which networks: naming users or groups on a "
            "rule, and changing the network, expiry or activity of a rule that users or groups name (%(rules)s). "
            "Ask a Settings administrator.", rules=names))

    @api.model_create_multi
    def create(self, vals_list):
        if not self._perimeter_decides_holding() and any(
                command for vals in vals_list for name in NAMING_FIELDS for command in vals.get(name) or ()
                if self._perimeter_links(command)):
            raise self._perimeter_settings_only(self.browse())
        return super().create(vals_list)

    @staticmethod
    def _perimeter_links(command):
        """Whether a x2many ``command`` (or a bare id) would name somebody."""
        if isinstance(command, (list, tuple)) and command:
            return command[0] in (0, 4) or (command[0] == 6 and bool(command[2]))
        return bool(command)

    def write(self, vals):
        if not self._perimeter_decides_holding():
            if any(name in vals for name in NAMING_FIELDS):
                raise self._perimeter_settings_only(self)
            moved = self._perimeter_named().filtered(lambda rule: rule._perimeter_moves(vals))
            if moved:
                raise self._perimeter_settings_only(moved)
        return super().write(vals)

    def _perimeter_named(self):
        """The rules of ``self`` that users or groups name (archived users included)."""
        return self.sudo().with_context(active_test=False).filtered(lambda rule: rule.user_ids or rule.group_ids)

    def _perimeter_moves(self, vals):
        """Whether writing ``vals`` changes where the holders of this rule may come from."""
        for name in HOLDING_FIELDS:
            if name not in vals:
                continue
            field = self._fields[name]
            new = vals[name]
            if name == "network":
                try:
                    new = normalize_network(new or "")
                except ValueError:
                    return True  # refused anyway; the role is said first
            new = field.convert_to_record(field.convert_to_cache(new, self), self)
            if new != self[name]:
                return True
        return False

    # -- deleting ----------------------------------------------------------------------------------

    @api.ondelete(at_uninstall=False)
    def _unlink_except_named(self):
        """A deleted rule would let the users naming it fall back to their groups' networks (or the whole
        allowlist): wider, where archiving keeps them held. Refused, whoever asks."""
        for rule in self._perimeter_named():
            named = ", ".join([*rule.user_ids.mapped("login"), *rule.group_ids.mapped("full_name")])
            raise UserError(self.env._(
                "The rule \"%(rule)s\" (%(network)s) cannot be deleted: it is named on %(named)s, who would then "
                "fall back to other, wider networks.\n\nArchive it instead: they stay held to it, and it admits "
                "nobody. Or have a Settings administrator remove it from their networks first.",
                rule=rule.name, network=rule.network, named=named))
