"""``perimeter.allowlist``: the networks allowed to reach Odoo, and everything the module does on them.

Fields, validation and the compiled rules; the rules as networks of users and
groups (who names them, reserved rules) and who may decide that; what an
administrator is told while editing (duplicates, expired rules, the note's
links); the change history and chatter; the lockout check after every change.

A write runs, top to bottom: the duplicate check, the check of who decides
who is held where, the network's normalisation, then the write itself
(``perimeter.expiring.rule``, the chatter's tracking, the change history);
then the policy cache is cleared and the lockout check runs.
"""

import re

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import AccessError, UserError, ValidationError

from ..guard import odoo_version, wording
from ..perimeter.networks import NetworkSet, normalize_network, pack_address, parse_network
from .roles import archive_offered_to_writers_only

SETTINGS = "base.group_system"
# Fields of a rule whose change moves the users and groups that name it (as archiving or deleting would).
HOLDING_FIELDS = ("network", "active", "expires_at")
NAMING_FIELDS = ("user_ids", "group_ids")

_URL = re.compile(r"https?://[^\s<>\"']+")


@odoo_version.sql_constraints(
    ("network_unique", "unique(network)",
     "This network is already in the allowlist (the existing rule may be archived)."),
)
class PerimeterAllowlist(models.Model):
    """Networks allowed to reach Odoo when enforcement is on.

    Rules are also the networks of users and groups, and may be reserved for
    them. Who is held to which networks is a Settings administrator's
    decision, as the networks of users and groups are (their fields are
    Settings-only): naming users or groups on a rule, and changing the
    network, expiry or activity of a rule that users or groups name, are
    theirs too. A named rule is never deleted (its users would fall back to
    wider networks): it is archived, which keeps them held, or first removed
    from their networks.
    """

    _name = "perimeter.allowlist"
    _inherit = ["perimeter.expiring.rule", "mail.thread", "perimeter.change.tracked"]
    _description = "Allowlist Rule"
    _order = "name, network, id"

    # "group_ids", "user_ids" and "reserved": who the rule is for.
    _perimeter_tracked_fields = ("name", "network", "active", "expires_at", "note", "group_ids", "user_ids",
                                 "reserved")

    name = fields.Char(string="Label", required=True, tracking=True,
                       help='Who this network is, e.g. "Head office" or "POS Lyon".')
    network = fields.Char(
        required=True,
        tracking=True,
        help="An address or a CIDR, IPv4 or IPv6 (10.0.0.0/8, 192.0.2.7, 2001:db8::/32). "
        "Stored normalised; IPv4-mapped IPv6 clients match IPv4 rules.",
    )
    active = fields.Boolean(default=True, tracking=True)
    expires_at = fields.Datetime(string="Expires", tracking=True, help="The rule stops counting after this moment.")
    note = fields.Text(tracking=True)
    contains_address = fields.Char(
        string="Contains address",
        compute="_compute_contains_address",
        search="_search_contains_address",
        help="Search helper: the rules whose network contains this address.",
    )
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
    note_links = fields.Html(string="Links", compute="_compute_note_links", sanitize=False,
                             help="The links of the note, clickable.")

    def _compute_contains_address(self):
        self.contains_address = False

    def _search_contains_address(self, operator, value):
        if operator not in ("=", "ilike") or not isinstance(value, str):
            raise ValidationError(self.env._("Search rules by the address they contain, e.g. 10.1.2.3."))
        packed = pack_address(value.strip())
        if packed is None:
            return [("id", "=", 0)]
        matching = [
            rule.id
            for rule in self.with_context(active_test=False).search_fetch([], ["network"])
            if NetworkSet([rule.network]).contains_packed(packed)
        ]
        return [("id", "in", matching)]

    @api.model
    def _normalize_network_vals(self, vals):
        if "network" in vals:
            try:
                vals["network"] = normalize_network(vals["network"] or "")
            except ValueError as exc:
                raise ValidationError(wording.message_of(self.env, exc)) from None
        return vals

    # -- writes: top to bottom, what runs -----------------------------------------------------------

    @api.model
    def fields_get(self, allfields=None, attributes=None):
        return archive_offered_to_writers_only(self, super().fields_get(allfields, attributes))

    @api.model_create_multi
    def create(self, vals_list):
        self._perimeter_check_duplicates([vals.get("network") for vals in vals_list])
        if not self._perimeter_decides_holding() and any(
                command for vals in vals_list for name in NAMING_FIELDS for command in vals.get(name) or ()
                if self._perimeter_links(command)):
            raise self._perimeter_settings_only(self.browse())
        rules = super().create([self._normalize_network_vals(dict(vals)) for vals in vals_list])
        self.env.registry.clear_cache()
        self.env["perimeter.policy"]._perimeter_policy_changed()
        return rules

    def write(self, vals):
        if vals.get("network"):
            if len(self) > 1:
                raise ValidationError(self.env._("Each rule has its own network: change them one at a time."))
            self._perimeter_check_duplicates([vals["network"]])
        if not self._perimeter_decides_holding():
            if any(name in vals for name in NAMING_FIELDS):
                raise self._perimeter_settings_only(self)
            moved = self._perimeter_named().filtered(lambda rule: rule._perimeter_moves(vals))
            if moved:
                raise self._perimeter_settings_only(moved)
        result = super().write(self._normalize_network_vals(dict(vals)))
        self.env.registry.clear_cache()
        self.env["perimeter.policy"]._perimeter_policy_changed()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        self.env["perimeter.policy"]._perimeter_policy_changed()
        return result

    # -- what an administrator is told while editing ------------------------------------------------
    # A network already in the allowlist is refused naming the rule that has it, before PostgreSQL's
    # unique constraint would (which leaves an SQL error in the server log); a rule that is already
    # expired when saved gets a warning; the links a note holds (the access log rows a rule was
    # admitted from) are shown clickable under it, since a text field shows them as plain text.

    @api.depends("note")
    def _compute_note_links(self):
        for rule in self:
            urls = list(dict.fromkeys(_URL.findall(rule.note or "")))
            rule.note_links = Markup("<br/>").join(
                Markup('<a href="%s" target="_blank" rel="noopener">%s</a>') % (url, url) for url in urls
            ) if urls else False

    def _perimeter_check_duplicates(self, networks):
        seen = {}
        for raw in networks:
            try:
                network = normalize_network(raw or "")
            except ValueError:
                continue  # the network's own validation names the problem
            if network in seen:
                raise ValidationError(self.env._("%(network)s is entered twice.", network=network))
            seen[network] = True
            existing = self.with_context(active_test=False).search(
                [("network", "=", network), ("id", "not in", self.ids)], limit=1)
            if existing:
                raise ValidationError(self._perimeter_duplicate_message(network, existing))

    def _perimeter_duplicate_message(self, network, rule):
        if not rule.active:
            return self.env._(
                "%(network)s is already in the allowlist: rule \"%(rule)s\", archived. Restore that rule "
                "(filter Archived) instead of adding another.", network=network, rule=rule.name)
        if rule.is_expired:
            return self.env._(
                "%(network)s is already in the allowlist: rule \"%(rule)s\", expired. Change its expiry "
                "instead of adding another.", network=network, rule=rule.name)
        return self.env._("%(network)s is already in the allowlist: rule \"%(rule)s\".",
                          network=network, rule=rule.name)

    @api.onchange("expires_at")
    def _onchange_expires_at_warn_expired(self):
        if self.expires_at and self.expires_at <= fields.Datetime.now():
            return {"warning": {
                "title": self.env._("This rule is already expired"),
                "message": self.env._(
                    "The expiry date is in the past: saved like this, the rule does not count. "
                    "Clear the expiry date, or choose a later one."),
            }}
        return None

    # -- who decides who is held to which networks --------------------------------------------------

    def _perimeter_decides_holding(self):
        """Whether the current user may decide who is held to which networks (a Settings administrator)."""
        return self.env.su or self.env.user.has_group(SETTINGS)

    def _perimeter_settings_only(self, rules):
        names = ", ".join(f'"{name}"' for name in rules.mapped("name")) or "-"
        return AccessError(self.env._(
            "Only Settings administrators decide who is held to which networks: naming users or groups on a "
            "rule, and changing the network, expiry or activity of a rule that users or groups name (%(rules)s). "
            "Ask a Settings administrator.", rules=names))

    @staticmethod
    def _perimeter_links(command):
        """Whether a x2many ``command`` (or a bare id) would name somebody."""
        if isinstance(command, (list, tuple)) and command:
            return command[0] in (0, 4) or (command[0] == 6 and bool(command[2]))
        return bool(command)

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

    # -- deleting -----------------------------------------------------------------------------------

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

    # -- validation and the compiled rules ----------------------------------------------------------

    @api.constrains("network")
    def _check_network(self):
        # Rows written around create/write (imports with raw SQL, old data) are still checked here.
        for rule in self:
            try:
                parse_network(rule.network)
            except ValueError as exc:
                raise ValidationError(wording.message_of(self.env, exc)) from None

    def action_perimeter_export_edge(self):
        """Open the export of the rules in force for nginx or HAProxy (whatever rows are selected)."""
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Export for the edge"),
            "res_model": "perimeter.edge.export",
            "view_mode": "form",
            "target": "new",
        }

    @api.model
    def _get_allowed_networks(self):
        """The compiled ``NetworkSet`` of the rules in force, from the policy snapshot (cached)."""
        return self.env["perimeter.policy"]._perimeter_policy().allowlist

    @api.model
    def _read_rules_in_force(self, lasting=False):
        """Compile the active, unexpired rules as they are now (uncached).

        Returns ``(NetworkSet, moment the next rule expires or None)``: the
        snapshot that uses it must be compiled again once that moment passes.
        ``lasting``: only the rules without an expiry (what is left once every other has run out).
        """
        now = fields.Datetime.now()
        domain = [("expires_at", "=", False)] if lasting else \
            ["|", ("expires_at", "=", False), ("expires_at", ">", now)]
        rules = self.sudo().search_fetch(domain, ["network", "expires_at"])
        return NetworkSet(rules.mapped("network")), min(filter(None, rules.mapped("expires_at")), default=None)

    @api.model
    def _perimeter_expiring_rules_for(self, address):
        """The active rules with an expiry still ahead that contain ``address``, soonest first."""
        rules = self.sudo().search([("expires_at", ">", fields.Datetime.now())], order="expires_at, id")
        return rules.filtered(lambda rule: address in NetworkSet([rule.network]))
