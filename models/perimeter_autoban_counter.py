"""``perimeter.autoban.counter``: refused requests and failed logins per client and window, and who is banned."""

from odoo import api, fields, models
from odoo.tools import SQL

from ..guard import odoo_version
from ..perimeter.blocklist import ban_counts, ban_reason


@odoo_version.sql_constraints(
    ("window_unique", "unique(ip, window_start)", "One counter per client and window."),
)
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
