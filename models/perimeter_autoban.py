import logging
from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models
from odoo.tools import SQL

from ..guard import wording
from ..perimeter.accesslog import network_to_admit
from ..perimeter.blocklist import ban_counts, ban_minutes, ban_reason, check_blockable

_logger = logging.getLogger(__name__)


class PerimeterAutobanCounter(models.Model):
    """Refused requests and failed logins per client and alert window, summed across workers and servers.

    Written by the access log's flush (never by a request), like the alerts:
    one upsert per flush, so a flood costs no more database work than the log
    itself. The flush that brings a window over a threshold marks it banned in
    the statement that locks the row: one worker bans, once.
    """

    _name = "perimeter.autoban.counter"
    _description = "Automatic ban counter"
    _order = "window_start desc, id desc"
    _rec_name = "ip"

    ip = fields.Char(string="Client", required=True, readonly=True, index=True)
    window_start = fields.Datetime(required=True, readonly=True)
    window_end = fields.Datetime(required=True, readonly=True)
    refusals = fields.Integer(readonly=True)
    failed_logins = fields.Integer(readonly=True)
    banned = fields.Boolean(readonly=True, help="This window's ban (or would-be ban, in monitor mode) is done.")

    _sql_constraints = [("window_unique", "unique(ip, window_start)", "One counter per client and window.")]

    @api.model
    def _perimeter_count(self, buckets):
        """Add flushed ``buckets`` to their windows; ban the clients that go over a threshold."""
        values = self.env["ir.config_parameter"]._perimeter_settings()
        base, max_refusals, max_logins = (values["autoban_minutes"], values["autoban_refusals"],
                                          values["autoban_failed_logins"])
        if not base or not (max_refusals or max_logins):
            return []
        minutes = values["alert_window_minutes"]
        counts = ban_counts(buckets, minutes, monitored=values["mode"] == "monitor")
        if not counts:
            return []
        self.flush_model()
        now, uid = fields.Datetime.now(), self.env.uid
        rows = sorted(counts.values(), key=lambda count: (count.ip, count.window_start))
        self.env.cr.execute(SQL(
            """
            INSERT INTO perimeter_autoban_counter AS counter
                (ip, window_start, window_end, refusals, failed_logins, banned,
                 create_uid, create_date, write_uid, write_date)
            VALUES %s
            ON CONFLICT (ip, window_start) DO UPDATE SET
                refusals = counter.refusals + EXCLUDED.refusals,
                failed_logins = counter.failed_logins + EXCLUDED.failed_logins,
                write_uid = EXCLUDED.write_uid, write_date = EXCLUDED.write_date
            RETURNING id, ip, window_start, refusals, failed_logins, banned
            """,
            SQL(", ").join(SQL("(%s, %s, %s, %s, %s, false, %s, %s, %s, %s)", count.ip, count.window_start,
                               count.window_end, count.refusals, count.failed_logins, uid, now, uid, now)
                           for count in rows),
        ))
        due = {row[0]: (row[1], row[2], ban_reason(row[3], row[4], max_refusals, max_logins, minutes))
               for row in self.env.cr.fetchall() if not row[5]}
        due = {counter_id: info for counter_id, info in due.items() if info[2]}
        if not due:
            return []
        # The upsert holds these rows' locks until commit: no other worker can ban them too.
        self.env.cr.execute(SQL(
            "UPDATE perimeter_autoban_counter SET banned = true WHERE id IN %s AND NOT banned RETURNING id",
            tuple(due),
        ))
        won = [due[row[0]] for row in self.env.cr.fetchall()]
        self.invalidate_model()
        Blocklist = self.env["perimeter.blocklist"]
        return [Blocklist._perimeter_autoban(ip, window_start, why, base) for ip, window_start, why in sorted(won)]

    @api.autovacuum
    def _gc_perimeter_autoban_counter(self):
        """Windows that are over count for nothing any more."""
        self.env.cr.execute(SQL("DELETE FROM perimeter_autoban_counter WHERE window_end < %s",
                                fields.Datetime.now()))
        self.invalidate_model()


class PerimeterBlocklist(models.Model):
    _inherit = "perimeter.blocklist"

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
        admins = self.env.ref("base.group_system").sudo().users
        return self.env["perimeter.admin.address"]._perimeter_worked_from(network, admins)

    @api.model
    def _perimeter_tell_alert(self, ip, window_start, text):
        """Write the ban (or would-be ban) in the client's alert of that window, if there is one."""
        alert = self.env["perimeter.access.alert"].sudo().search(
            [("ip", "=", ip), ("window_start", "<=", window_start), ("window_end", ">", window_start)], limit=1)
        if alert:
            alert.message_post(body=Markup("<p>%s</p>") % text, author_id=self.env.ref("base.partner_root").id,
                               subtype_xmlid="mail.mt_note")
