"""``perimeter.access.log``: refused requests, one row per client, reason and hour, with the login concerned.

Written by the access log's flush (``guard/access_log.py``), never by a
request. A flush runs, top to bottom: the upsert of the rows, the alerts, the
automatic bans' counters, then the login of the rows about a user.
"""

import logging
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL, split_every

from ..guard import odoo_version
from ..perimeter.access_log import REASONS

_logger = logging.getLogger(__name__)

# Rows per INSERT statement: each statement stays well under the flush's statement timeout.
_CHUNK = 500


def _seconds(moment):
    """Odoo stores datetimes to the second."""
    return moment.replace(microsecond=0)


@odoo_version.sql_constraints(
    # The target of the flush's upsert: two workers never make two rows for one hour.
    ("window_unique", "unique(ip, reason, blocked, window_start)", "One row per client, reason and hour."),
)
class PerimeterAccessLog(models.Model):
    """Refused (or, in monitor mode, would-be-refused) requests, one row per client, reason and hour.

    Rows are written by ``access_log`` through its own cursor, never by the
    request: ``hits`` is exact however many requests were refused.
    """

    _name = "perimeter.access.log"
    _description = "Access Log"
    _order = "last_seen desc, id desc"
    _rec_name = "ip"

    ip = fields.Char(
        string="Client",
        required=True,
        readonly=True,
        index=True,
        help="The client address as resolved (through trusted proxies). "
        "'*' counts clients beyond what one Odoo process keeps in memory during a flood.",
    )
    peer = fields.Char(string="Proxy", readonly=True, help="The TCP peer, when it is not the client (a proxy).")
    reason = fields.Selection(list(REASONS.items()), required=True, readonly=True, index=True)
    blocked = fields.Boolean(readonly=True, help="Unchecked: only monitored (monitor mode), not refused.")
    path = fields.Char(readonly=True, help="Path of the latest request of this row.")
    method = fields.Char(readonly=True)
    user_agent = fields.Char(readonly=True)
    hits = fields.Integer(string="Requests", readonly=True, aggregator="sum")
    first_seen = fields.Datetime(readonly=True)
    last_seen = fields.Datetime(readonly=True, index=True)
    window_start = fields.Datetime(string="Hour", readonly=True, help="Rows aggregate one client per hour.")
    # The login concerned by a refusal that is about a user (reason ``user_network``).
    login = fields.Char(readonly=True, index="btree_not_null",
                        help="The user the refused request was made as (latest request of this row).")

    @api.depends("ip", "reason")
    def _compute_display_name(self):
        labels = dict(self._fields["reason"]._description_selection(self.env))
        for row in self:
            row.display_name = f"{row.ip} · {labels.get(row.reason, row.reason or '')}"

    @api.model
    def _perimeter_store_buckets(self, buckets):
        """Add aggregated hits (``perimeter.access_log.Bucket``) to their rows, then count alerts.

        One upsert per chunk, rows in key order so that two workers writing
        the same keys lock them in the same order.
        """
        if not buckets:
            return 0
        self.flush_model()
        now = fields.Datetime.now()
        uid = self.env.uid
        rows = sorted(buckets, key=lambda bucket: (bucket.ip, bucket.reason, bucket.blocked, bucket.window))
        for chunk in split_every(_CHUNK, rows):
            values = SQL(", ").join(
                SQL(
                    "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    bucket.ip, (bucket.peer if bucket.peer != bucket.ip else "") or None, bucket.reason,
                    bool(bucket.blocked), bucket.path or None, bucket.method or None, bucket.user_agent or None,
                    bucket.hits, _seconds(bucket.first_seen), _seconds(bucket.last_seen), bucket.window_start(),
                    uid, now, uid, now,
                )
                for bucket in chunk
            )
            self.env.cr.execute(SQL(
                """
                INSERT INTO perimeter_access_log AS log
                    (ip, peer, reason, blocked, path, method, user_agent, hits, first_seen, last_seen,
                     window_start, create_uid, create_date, write_uid, write_date)
                VALUES %s
                ON CONFLICT (ip, reason, blocked, window_start) DO UPDATE SET
                    hits = log.hits + EXCLUDED.hits,
                    first_seen = LEAST(log.first_seen, EXCLUDED.first_seen),
                    last_seen = GREATEST(log.last_seen, EXCLUDED.last_seen),
                    peer = CASE WHEN EXCLUDED.last_seen >= log.last_seen THEN EXCLUDED.peer ELSE log.peer END,
                    path = CASE WHEN EXCLUDED.last_seen >= log.last_seen THEN EXCLUDED.path ELSE log.path END,
                    method = CASE WHEN EXCLUDED.last_seen >= log.last_seen THEN EXCLUDED.method ELSE log.method END,
                    user_agent = CASE WHEN EXCLUDED.last_seen >= log.last_seen
                                      THEN EXCLUDED.user_agent ELSE log.user_agent END,
                    write_uid = EXCLUDED.write_uid,
                    write_date = EXCLUDED.write_date
                """,
                values,
            ))
        self.invalidate_model()
        try:
            # Alerts must not cost the log: a failing notification rolls back alone.
            with self.env.cr.savepoint():
                self.env["perimeter.access.alert"]._perimeter_count(buckets)
        except Exception:
            _logger.warning("perimeter: could not check or send access alerts", exc_info=True)
        try:
            with self.env.cr.savepoint():
                self.env["perimeter.autoban.counter"]._perimeter_count(buckets)
        except Exception:
            _logger.warning("perimeter: could not count or apply automatic bans", exc_info=True)
        for bucket in buckets:
            if not bucket.login:
                continue
            # The row's latest details are the latest bucket's: so is its login.
            self.env.cr.execute(SQL(
                "UPDATE perimeter_access_log SET login = %s WHERE ip = %s AND reason = %s AND blocked = %s "
                "AND window_start = %s AND last_seen <= %s",
                bucket.login, bucket.ip, bucket.reason, bool(bucket.blocked), bucket.window_start(),
                bucket.last_seen.replace(microsecond=0),
            ))
        self.invalidate_model(["login"])
        return len(rows)

    def action_perimeter_admit(self):
        """Open the wizard that admits these clients to the allowlist."""
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Admit to the allowlist"),
            "res_model": "perimeter.access.admit",
            "view_mode": "form",
            "target": "new",
            "context": {"default_log_ids": [fields.Command.set(self.ids)]},
        }

    def action_perimeter_client_log(self):
        """Every row of this client."""
        self.ensure_one()
        return self._perimeter_client_log_action(self.ip)

    @api.model
    def _perimeter_client_log_action(self, ip):
        """The access log, filtered on client ``ip`` (also opened from its alerts)."""
        action = self.env["ir.actions.act_window"]._for_xml_id("perimeter_security.perimeter_access_log_action")
        action["domain"] = [("ip", "=", ip)]
        action["display_name"] = self.env._("Access log of %s", ip)
        action["context"] = {}
        return action

    @api.autovacuum
    def _gc_perimeter_access_log(self):
        """Remove rows older than the retention setting (``0`` keeps everything)."""
        days = self.env["ir.config_parameter"]._perimeter_settings()["log_retention_days"]
        if not days:
            return
        limit = fields.Datetime.now() - timedelta(days=days)
        self.env.cr.execute(SQL("DELETE FROM perimeter_access_log WHERE last_seen < %s", limit))
        if self.env.cr.rowcount:
            _logger.info("perimeter: removed %s access log rows older than %s days", self.env.cr.rowcount, days)
        self.invalidate_model()
