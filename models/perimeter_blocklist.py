"""``perimeter.blocklist``: networks refused everywhere, blocked by hand or banned automatically.

Fields, validation and the compiled rules, the change history, the lockout
check after every change, and the automatic bans that the access log's
counters (``perimeter.autoban.counter``) ask for. A write runs, top to bottom:
the network's normalisation (this server's loopback is never blockable), the
write itself (``perimeter.expiring.rule``, then the change history); then the
policy cache is cleared, a block of the saving administrator's own address is
refused, and the lockout check runs.
"""

import logging
from dataclasses import replace
from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..guard import odoo_version, verdicts, wording
from ..perimeter.access_log import network_to_admit
from ..perimeter.blocklist import ban_minutes, check_blockable
from ..perimeter.networks import NetworkSet
from ..perimeter.policy import decide
from .roles import archive_offered_to_writers_only

_logger = logging.getLogger(__name__)


@odoo_version.sql_constraints(
    ("network_unique", "unique(network)", "This network is already in the blocklist (perhaps archived)."),
)
class PerimeterBlocklist(models.Model):
    """Networks refused everywhere, before any other rule, until they expire.

    Every change goes through the lockout check: a block that would refuse
    the administrator saving it is refused, and this server's own loopback
    address can never be blocked (``perimeter.blocklist.check_blockable``).
    """

    _name = "perimeter.blocklist"
    _inherit = ["perimeter.expiring.rule", "perimeter.change.tracked"]
    _description = "IP Blocklist"
    _order = "active desc, create_date desc, id desc"
    _rec_name = "network"

    # Blocking (by hand, the Block wizard, or automatically), renewing and unblocking a client.
    _perimeter_tracked_fields = ("network", "active", "expires_at", "reason")

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

    @api.model
    def fields_get(self, allfields=None, attributes=None):
        return archive_offered_to_writers_only(self, super().fields_get(allfields, attributes))

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

    # -- automatic bans --------------------------------------------------------------------------

    @api.model
    def _perimeter_autoban(self, ip, window_start, why, base_minutes):
        """Ban client ``ip`` (or, in monitor mode, say it would be); returns what was done, for the log.

        ``ip`` is the key the access log counted the client under: an address, or an IPv6 prefix
        (``2001:db8:1:2::/64``), banned as a whole.
        """
        try:
            network = check_blockable(network_to_admit(ip))
        except ValueError:
            return "protected"  # this server's loopback, or not an address
        if self._perimeter_admin_address(network):
            _logger.warning("perimeter: %s is not banned automatically (%s): an administrator worked from it "
                            "recently", ip, why)
            return "administrator"
        policy = self.env["perimeter.policy"]._perimeter_policy()
        if network.partition("/")[0] in policy.blocklist:
            return "already"
        existing = self.with_context(active_test=False).search([("network", "=", network)], limit=1)
        minutes = ban_minutes(base_minutes, existing.ban_count if existing else 0)
        until = fields.Datetime.now() + timedelta(minutes=minutes)
        # ``why`` is English for the log; the rule's reason (an editable text, like a hand-written one) and
        # the alert's message are written in the language of the one writing them, as Odoo's chatter is.
        said = wording.word(self.env, why)
        reason = self.env._("Automatic ban: %s", said)
        if policy.mode != "enforce":
            _logger.warning("perimeter: monitor mode: %s would be banned for %s minutes (%s)", ip, minutes, why)
            self._perimeter_tell_alert(ip, window_start, self.env._(
                "Monitor mode: %(client)s would be banned for %(minutes)s minutes: %(why)s.",
                client=ip, minutes=minutes, why=said))
            return "monitored"
        values = {"reason": reason, "expires_at": until, "active": True, "source": "automatic"}
        rule = self.with_context(perimeter_skip_lockout_check=True)
        if existing:
            existing.with_context(perimeter_skip_lockout_check=True).write(
                {**values, "ban_count": existing.ban_count + 1})
        else:
            rule.create({**values, "network": network})
        _logger.warning("perimeter: %s banned until %s UTC (%s)", ip, fields.Datetime.to_string(until), why)
        self._perimeter_tell_alert(ip, window_start, self.env._(
            "%(client)s is banned until %(until)s (UTC): %(why)s.",
            client=ip, until=fields.Datetime.to_string(until)[:16], why=said))
        return "banned"

    @api.model
    def _perimeter_admin_address(self, network):
        """Whether an administrator worked from an address in ``network`` lately: never ban them.

        The addresses the perimeter resolved for their requests (``perimeter.admin.address``: the
        client behind a trusted proxy), and Odoo's device log (the TCP peer) for the rest.
        """
        admins = self.env.ref("base.group_system").sudo()[odoo_version.GROUP_USERS_FIELD]
        return self.env["perimeter.admin.address"]._perimeter_worked_from(network, admins)

    @api.model
    def _perimeter_tell_alert(self, ip, window_start, text):
        """Write the ban (or would-be ban) in the client's alert of that window, if there is one."""
        alert = self.env["perimeter.access.alert"].sudo().search(
            [("ip", "=", ip), ("window_start", "<=", window_start), ("window_end", ">", window_start)], limit=1)
        if alert:
            alert.message_post(body=Markup("<p>%s</p>") % text, author_id=self.env.ref("base.partner_root").id,
                               subtype_xmlid="mail.mt_note")
