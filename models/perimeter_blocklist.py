from dataclasses import replace

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..guard import verdicts, wording
from ..perimeter.blocklist import check_blockable
from ..perimeter.networks import NetworkSet
from ..perimeter.policy import decide


class PerimeterBlocklist(models.Model):
    """Networks refused everywhere, before any other rule, until they expire.

    Every change goes through the lockout check: a block that would refuse
    the administrator saving it is refused, and this server's own loopback
    address can never be blocked (``perimeter.blocklist.check_blockable``).
    """

    _name = "perimeter.blocklist"
    _inherit = ["perimeter.expiring.rule"]
    _description = "IP Blocklist"
    _order = "active desc, create_date desc, id desc"
    _rec_name = "network"

    network = fields.Char(
        required=True,
        help="An address or a CIDR, IPv4 or IPv6 (203.0.113.9, 203.0.113.0/24, 2001:db8::/32). "
        "Stored normalised, like the allowlist.",
    )
    reason = fields.Char(help="Why it is blocked, e.g. \"Password guessing\".")
    expires_at = fields.Datetime(string="Expires", help="The block is lifted at this moment. Empty: until removed.")
    source = fields.Selection(
        [("manual", "Manual"), ("automatic", "Automatic")], required=True, default="manual", readonly=True,
        help="Automatic: banned by the automatic bans of Settings › Perimeter.",
    )
    ban_count = fields.Integer(
        string="Bans", default=1, readonly=True,
        help="How many times this network was blocked; automatic bans last longer each time.",
    )
    hits = fields.Integer(
        string="Refused requests", compute="_compute_hits",
        help="Requests refused because of this block, from the access log.",
    )
    active = fields.Boolean(default=True)

    _sql_constraints = [
        ("network_unique", "unique(network)", "This network is already in the blocklist (perhaps archived)."),
    ]

    def _compute_hits(self):
        rows = self.env["perimeter.access.log"].sudo().search_fetch(
            [("reason", "=", "blocklisted")], ["ip", "hits", "last_seen"])
        for rule in self:
            networks = NetworkSet([rule.network]) if rule.network else NetworkSet()
            since = rule.create_date
            rule.hits = sum(row.hits for row in rows
                            if row.ip in networks and (not since or row.last_seen >= since.replace(microsecond=0)))

    # -- validation ------------------------------------------------------------------------------

    @api.model
    def _normalize_network_vals(self, vals):
        if "network" in vals:
            try:
                vals["network"] = check_blockable(vals["network"] or "")
            except ValueError as exc:
                raise ValidationError(wording.message_of(self.env, exc)) from None
        return vals

    @api.constrains("network")
    def _check_network(self):
        for rule in self:
            try:
                check_blockable(rule.network)
            except ValueError as exc:
                raise ValidationError(wording.message_of(self.env, exc)) from None

    def _check_own_address(self):
        """Refuse a block that covers the address of the administrator saving it (clearer than the lockout's)."""
        facts = verdicts.current_facts()
        if facts is None or self.env.context.get("perimeter_skip_lockout_check"):
            return
        policy, _next_expiry = self.env["perimeter.policy"]._perimeter_policy_build()
        client = decide(replace(facts, path="/odoo"), policy).client
        for rule in self.filtered(lambda rule: rule.active and not rule.is_expired):
            own = next((ip for ip in client.addresses if ip in NetworkSet([rule.network])), None)
            if own is not None:
                raise UserError(self.env._(
                    "%(network)s cannot be blocked: this server sees your own address as %(address)s, and the "
                    "block would lock you out.",
                    network=rule.network, address=own,
                ))

    # -- writes ----------------------------------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        rules = super().create([self._normalize_network_vals(dict(vals)) for vals in vals_list])
        rules._perimeter_changed()
        return rules

    def write(self, vals):
        result = super().write(self._normalize_network_vals(dict(vals)))
        self._perimeter_changed()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        self.env["perimeter.policy"]._perimeter_policy_changed()
        return result

    def _perimeter_changed(self):
        self.env.registry.clear_cache()
        self._check_own_address()
        self.env["perimeter.policy"]._perimeter_policy_changed()

    def action_perimeter_unblock(self):
        """Lift the block now (kept, archived, so that a repeat offender's count survives)."""
        self.write({"active": False})

    def action_perimeter_client_log(self):
        self.ensure_one()
        address, _slash, prefix = self.network.partition("/")
        if prefix in ("32", "128"):
            return self.env["perimeter.access.log"]._perimeter_client_log_action(address)
        action = self.env["perimeter.access.log"]._perimeter_client_log_action(address)
        rows = self.env["perimeter.access.log"].search_fetch([], ["ip"])
        action["domain"] = [("id", "in", rows.filtered(lambda row: row.ip in NetworkSet([self.network])).ids)]
        action["display_name"] = self.env._("Access log of %s", self.network)
        return action

    @api.model
    def _read_rules_in_force(self):
        """Compile the active, unexpired blocks as they are now (uncached): ``(NetworkSet, next expiry)``."""
        now = fields.Datetime.now()
        rules = self.sudo().search_fetch(
            ["|", ("expires_at", "=", False), ("expires_at", ">", now)], ["network", "expires_at"]
        )
        return NetworkSet(rules.mapped("network")), min(filter(None, rules.mapped("expires_at")), default=None)
