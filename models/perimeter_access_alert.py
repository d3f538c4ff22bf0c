from datetime import timedelta

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import UserError
from odoo.tools import SQL

from ..guard import odoo_version
from ..perimeter.access_log import REASONS, refused_per_client
from .admin_notice import administrators, administrators_language, mail_server_configured, post_to_administrators
from .roles import require_manager


@odoo_version.sql_constraints(
    ("window_unique", "unique(ip, window_start)", "One alert per client and window."),
)
class PerimeterAccessAlert(models.Model):
    """Refused requests of one client in one alert window, and whether administrators were told.

    The flush adds refused hits per (client, window); the first flush that
    brings a window to the threshold marks it notified, in the same
    statement that locks the row, so that one worker and one notification
    win however many workers flush at once. Windows that never reach the
    threshold are counters only, removed once over.
    """

    _name = "perimeter.access.alert"
    _description = "Access Alert"
    _inherit = ["mail.thread"]
    _order = "window_start desc, id desc"
    _rec_name = "ip"
    _mail_post_access = "read"

    ip = fields.Char(string="Client", required=True, readonly=True, index=True)
    window_start = fields.Datetime(string="From", required=True, readonly=True)
    window_end = fields.Datetime(string="To", required=True, readonly=True)
    hits = fields.Integer(string="Refused requests", readonly=True, aggregator="sum")
    reason = fields.Selection(list(REASONS.items()), string="Latest reason", readonly=True)
    first_seen = fields.Datetime(readonly=True)
    last_seen = fields.Datetime(readonly=True)
    notified_at = fields.Datetime(string="Administrators notified", readonly=True, index=True)
    # An alert is open from its notification until an administrator answers it: Block…, Admit… or Mark as
    # handled. The dashboard counts the open ones.
    handled_at = fields.Datetime(string="Handled", readonly=True, index="btree_not_null",
                                 help="When an administrator blocked or admitted the client, or marked the alert "
                                 "handled.")
    handled_by_id = fields.Many2one("res.users", string="Handled by", readonly=True)
    log_ids = fields.Many2many("perimeter.access.log", string="Access log", compute="_compute_log_ids")

    @api.depends("ip", "window_start", "window_end")
    def _compute_display_name(self):
        for alert in self:
            start = fields.Datetime.to_string(alert.window_start) if alert.window_start else ""
            alert.display_name = f"{alert.ip} ({start[:16]} UTC)" if start else alert.ip

    @api.depends("ip", "window_start", "window_end")
    def _compute_log_ids(self):
        Log = self.env["perimeter.access.log"]
        for alert in self:
            alert.log_ids = Log.search([
                ("ip", "=", alert.ip),
                ("last_seen", ">=", alert.window_start),
                ("first_seen", "<", alert.window_end),
            ]) if alert.ip and alert.window_start else Log

    @api.model
    def _perimeter_count(self, buckets):
        """Add the refused hits of ``buckets`` to their windows; notify the windows that reach the threshold."""
        settings = self.env["ir.config_parameter"]._perimeter_settings()
        threshold = settings["alert_threshold"]
        if not threshold:
            return self.browse()
        counts = refused_per_client(buckets, settings["alert_window_minutes"])
        if not counts:
            return self.browse()
        self.flush_model()
        now = fields.Datetime.now()
        uid = self.env.uid
        rows = sorted(counts.values(), key=lambda count: (count.ip, count.window_start))
        values = SQL(", ").join(
            SQL(
                "(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                count.ip, count.window_start, count.window_end, count.hits,
                count.first_seen.replace(microsecond=0), count.last_seen.replace(microsecond=0),
                count.reason, uid, now, uid, now,
            )
            for count in rows
        )
        self.env.cr.execute(SQL(
            """
            INSERT INTO perimeter_access_alert AS alert
                (ip, window_start, window_end, hits, first_seen, last_seen, reason,
                 create_uid, create_date, write_uid, write_date)
            VALUES %s
            ON CONFLICT (ip, window_start) DO UPDATE SET
                hits = alert.hits + EXCLUDED.hits,
                first_seen = LEAST(alert.first_seen, EXCLUDED.first_seen),
                last_seen = GREATEST(alert.last_seen, EXCLUDED.last_seen),
                reason = CASE WHEN EXCLUDED.last_seen >= alert.last_seen THEN EXCLUDED.reason ELSE alert.reason END,
                write_uid = EXCLUDED.write_uid,
                write_date = EXCLUDED.write_date
            RETURNING id, hits, notified_at
            """,
            values,
        ))
        due = [alert_id for alert_id, hits, notified_at in self.env.cr.fetchall()
               if notified_at is None and hits >= threshold]
        notified = self.browse()
        if due:
            # The upsert holds these rows' locks until commit: no other worker can mark them too.
            self.env.cr.execute(SQL(
                """UPDATE perimeter_access_alert SET notified_at = %s
                   WHERE id IN %s AND notified_at IS NULL RETURNING id""",
                now, tuple(due),
            ))
            notified = self.browse(row[0] for row in self.env.cr.fetchall())
        self.invalidate_model()
        notified.with_context(lang=administrators_language(self.env))._perimeter_notify(threshold)
        return notified

    def _perimeter_notify(self, threshold):
        """Tell the administrators of each alert where they look, whether or not Odoo can send mail.

        - the #Administrators channel: every administrator sees its badge, no mail server needed;
        - the alert's own chatter: the record keeps what was said, from OdooBot;
        - e-mail to the administrators who take notifications by e-mail, only when a mail server is
          configured (otherwise it would sit in the queue unseen). Queued for the mail cron: a
          flush never waits on SMTP.
        """
        if not self:
            return
        admins = administrators(self.env)
        by_mail = admins.filtered(lambda user: user.notification_type == "email") \
            if mail_server_configured(self.env) else admins.browse()
        odoobot = self.env.ref("base.partner_root")
        labels = dict(self._fields["reason"]._description_selection(self.env))
        for alert in self.sudo():
            minutes = round((alert.window_end - alert.window_start).total_seconds() / 60)
            subject = self.env._("Perimeter: %(client)s refused %(hits)s times", client=alert.ip, hits=alert.hits)
            what = self.env._(
                "%(client)s was refused %(hits)s times between %(start)s and %(end)s (UTC), "
                "most recently: %(reason)s.",
                client=alert.ip,
                hits=alert.hits,
                start=fields.Datetime.to_string(alert.window_start)[:16],
                end=fields.Datetime.to_string(alert.window_end)[11:16],
                reason=labels.get(alert.reason, alert.reason or ""),
            )
            body = Markup("<p>%s</p><p>%s</p>") % (
                what,
                self.env._(
                    "An alert is sent once per client and %(minutes)s-minute window when refused requests reach "
                    "%(threshold)s (Settings › Perimeter). Open it to see the client's access log, "
                    "or to admit the client to the allowlist.",
                    minutes=minutes,
                    threshold=threshold,
                ),
            )
            alert.with_context(mail_create_nosubscribe=True, mail_notify_force_send=False).message_post(
                author_id=odoobot.id,
                subject=subject,
                body=body,
                message_type="comment",
                subtype_xmlid="mail.mt_note",  # no follower is notified; the e-mail recipients are named
                partner_ids=by_mail.partner_id.ids,
            )
            post_to_administrators(
                self.env, Markup("%s %s") % (alert._get_html_link(title=subject), what), subject)

    @api.model
    def _perimeter_open_domain(self):
        """Alerts the administrators were told about and nobody has answered yet."""
        return [("notified_at", "!=", False), ("handled_at", "=", False)]

    def action_perimeter_admit(self):
        if not self.log_ids:
            raise UserError(self.env._("The access log has no rows of %s any more.", ", ".join(self.mapped("ip"))))
        action = self.log_ids.action_perimeter_admit()
        # Admitting the clients answers these alerts (perimeter.access.admit marks them handled).
        action["context"] = {**action["context"], "perimeter_answered_alert_ids": self.ids}
        return action

    def action_perimeter_handled(self):
        """Mark these alerts handled, when the answer is neither a block nor an admission (a harmless scanner)."""
        require_manager(self.env)
        self._perimeter_mark_handled()
        return True

    def _perimeter_mark_handled(self):
        """Record that the current user answered these alerts (those not answered yet)."""
        unanswered = self.filtered(lambda alert: not alert.handled_at)
        # Alerts are written by the access log's flush only (nobody has write access): the answer of an
        # administrator (checked by the caller) is recorded as superuser.
        unanswered.sudo().write({"handled_at": fields.Datetime.now(), "handled_by_id": self.env.uid})

    def action_perimeter_client_log(self):
        self.ensure_one()
        return self.env["perimeter.access.log"]._perimeter_client_log_action(self.ip)

    @api.autovacuum
    def _gc_perimeter_access_alert(self):
        """Drop counters of windows that are over without an alert; alerts follow the log's retention."""
        now = fields.Datetime.now()
        self.env.cr.execute(SQL(
            "DELETE FROM perimeter_access_alert WHERE notified_at IS NULL AND window_end < %s", now,
        ))
        days = self.env["ir.config_parameter"]._perimeter_settings()["log_retention_days"]
        if days:
            # Through the ORM: their notification messages go with them.
            self.search([("notified_at", "!=", False), ("window_end", "<", now - timedelta(days=days))]).unlink()
        self.invalidate_model()
