"""The blocked-access log: writes that survive the request, floods that stay small, alerts, admit, retention.

``access_log.flush_now`` writes through its own cursor. Outside Odoo's test
mode that cursor commits for real, so the flush tests read through a fresh
``registry.cursor()`` (the test's own transaction cannot see other
transactions' commits) and delete what they wrote when they end.
"""

import threading
import time
from collections import Counter
from datetime import datetime, timedelta
from unittest.mock import patch

from odoo import SUPERUSER_ID, api, fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.perimeter_security.guard import access_log, odoo_version
from odoo.addons.perimeter_security.perimeter.access_log import LOG_WINDOW, Aggregator, Bucket, Hit

REFUSED = "not_allowlisted"


def _hit(ip, reason=REFUSED, blocked=True, at=None, **details):
    return Hit(ip=ip, reason=reason, blocked=blocked, at=at or fields.Datetime.now(), **details)


class CommittedLogCase(TransactionCase):
    """Flushes commit: read them from fresh cursors and remove them afterwards."""

    clients = ()

    def setUp(self):
        super().setUp()
        self.dbname = self.env.cr.dbname
        access_log.discard_pending()  # hits other tests left in this process are not ours
        self.addCleanup(access_log.discard_pending)
        # Rows and alerts already there (demo data, a real database) are not this test's: never read or removed.
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            self.older_rows = env["perimeter.access.log"].with_context(active_test=False).search([]).ids
            self.older_alerts = env["perimeter.access.alert"].with_context(active_test=False).search([]).ids
        self.addCleanup(self._purge)

    def _purge(self):
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["perimeter.access.alert"].search([("ip", "in", list(self.clients)),
                                                  ("id", "not in", self.older_alerts)]).unlink()
            cr.execute("DELETE FROM perimeter_access_log WHERE ip = ANY(%s) AND NOT id = ANY(%s)",
                       [list(self.clients), self.older_rows])

    def committed_rows(self, *extra_domain):
        """This test's rows as another transaction sees them: [(ip, reason, blocked, hits, ...)]."""
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            rows = env["perimeter.access.log"].search([("ip", "in", list(self.clients)),
                                                       ("id", "not in", self.older_rows), *extra_domain])
            return [
                {name: row[name] for name in ("ip", "reason", "blocked", "hits", "path", "first_seen", "last_seen")}
                for row in rows
            ]


@tagged("post_install", "-at_install")
class TestAccessLogFlush(CommittedLogCase):
    # Not the addresses of the demo data's rows (198.51.100.23, 203.0.113.66, 2001:db8:beef::7);
    # 2001:db8::7 is counted under its /64 (perimeter_security.ipv6_prefix).
    clients = (*(f"198.51.100.{n}" for n in range(101, 141)), "2001:db8::/64", "192.0.2.50", "192.0.2.51",
               "192.0.2.52")

    def test_a_flood_from_threads_yields_one_row_per_client_and_reason_with_exact_counts(self):
        clients = self.clients[:40]
        at = fields.Datetime.now().replace(minute=30)  # one hour window for the whole flood
        sent = Counter()
        lock = threading.Lock()

        def flood(seed):
            mine = Counter()
            for n in range(1250):
                ip = clients[(n * 7 + seed) % len(clients)]
                reason = REFUSED if n % 5 else "not_https"
                access_log.record_hit(self.dbname, _hit(ip, reason, at=at + timedelta(seconds=n % 50),
                                                        path=f"/web/login?try={n}", method="POST"))
                mine[ip, reason] += 1
            with lock:
                sent.update(mine)

        threads = [threading.Thread(target=flood, args=(seed,)) for seed in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(access_log.pending_hits(self.dbname), 5000)
        self.assertEqual(access_log.flush_now(self.dbname), 5000)
        self.assertEqual(access_log.pending_hits(self.dbname), 0)

        rows = self.committed_rows()
        self.assertEqual(len(rows), len(sent), "one row per client and reason in this hour")
        self.assertEqual(Counter({(row["ip"], row["reason"]): row["hits"] for row in rows}), sent)
        self.assertEqual(sum(row["hits"] for row in rows), 5000)
        self.assertTrue(all(row["path"].startswith("/web/login?try=") for row in rows))

        # The next wave adds to the same rows instead of creating new ones.
        for ip in clients:
            access_log.record_hit(self.dbname, _hit(ip, at=at + timedelta(minutes=1), path="/late"))
        access_log.flush_now(self.dbname)
        again = self.committed_rows()
        self.assertEqual(len(again), len(sent))
        self.assertEqual(sum(row["hits"] for row in again), 5000 + len(clients))
        late = [row for row in again if row["reason"] == REFUSED]
        self.assertTrue(all(row["path"] == "/late" and row["last_seen"] == at + timedelta(minutes=1) for row in late))

    def test_rows_survive_the_rollback_of_the_refused_request(self):
        ip = "192.0.2.50"
        with self.registry.cursor() as request_cr:
            # A refused request: whatever it wrote on its own cursor is rolled back with it.
            request_env = api.Environment(request_cr, SUPERUSER_ID, {})
            request_env["perimeter.allowlist"].create({"name": "Rolled back", "network": "192.0.2.50/32"})
            access_log.record_hit(request_cr.dbname, _hit(ip, path="/odoo", method="GET", user_agent="curl/8"))
            request_cr.rollback()
        access_log.flush_now(self.dbname)
        (row,) = self.committed_rows()
        self.assertEqual((row["ip"], row["hits"], row["path"]), (ip, 1, "/odoo"))
        with self.registry.cursor() as cr:
            cr.execute("SELECT count(*) FROM perimeter_allowlist WHERE network = '192.0.2.50/32'")
            self.assertEqual(cr.fetchone()[0], 0)

    def test_two_workers_flushing_the_same_client_at_once_share_one_row(self):
        at = fields.Datetime.now()
        workers = [Aggregator(), Aggregator()]  # each Odoo worker process has its own
        for count, worker in zip((300, 200), workers, strict=True):
            for n in range(count):
                worker.add(self.dbname, _hit("2001:db8::7", at=at + timedelta(microseconds=n)))
        batches = [worker.drain()[self.dbname] for worker in workers]
        start = threading.Barrier(2)
        results = []

        def flush(buckets):
            start.wait()
            results.append(access_log._write_database(self.dbname, buckets))

        threads = [threading.Thread(target=flush, args=(batch,)) for batch in batches]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        self.assertEqual(sorted(results), [200, 300])
        (row,) = self.committed_rows()
        self.assertEqual(row["hits"], 500)

    def test_two_workers_crossing_the_alert_threshold_together_send_one_alert(self):
        # Neither worker alone reaches the default threshold (100); together they do, once.
        at = fields.Datetime.now()
        workers = [Aggregator(), Aggregator()]
        for worker in workers:
            for _ in range(60):
                worker.add(self.dbname, _hit("192.0.2.52", at=at))
        batches = [worker.drain()[self.dbname] for worker in workers]
        start = threading.Barrier(2)

        def flush(buckets):
            start.wait()
            access_log._write_database(self.dbname, buckets)

        threads = [threading.Thread(target=flush, args=(batch,)) for batch in batches]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        with self.registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            alert = env["perimeter.access.alert"].search([("ip", "=", "192.0.2.52")])
            self.assertEqual((alert.hits, bool(alert.notified_at)), (120, True))
            messages = env["mail.message"].search([("model", "=", alert._name), ("res_id", "=", alert.id)])
            self.assertEqual(len(messages), 1)
            channel = env.ref("mail.channel_admin")
            posts = env["mail.message"].search([("model", "=", "discuss.channel"), ("res_id", "=", channel.id),
                                                ("body", "ilike", "192.0.2.52")])
            self.assertEqual(len(posts), 1, "one post in #Administrators")
            posts.unlink()

    def test_a_failed_flush_is_logged_and_retried_with_nothing_lost(self):
        ip = "192.0.2.51"
        access_log.record_hit(self.dbname, _hit(ip))
        access_log.flush_now(self.dbname)
        for _ in range(4):
            access_log.record_hit(self.dbname, _hit(ip))
        with self.registry.cursor() as blocker:
            # Another transaction holds the row: the flush's statement timeout fires instead of waiting.
            blocker.execute("SELECT id FROM perimeter_access_log WHERE ip = %s FOR UPDATE", [ip])
            with (
                patch.object(access_log, "STATEMENT_TIMEOUT_MS", 300),
                patch.dict(access_log._last_warnings, clear=True),
                mute_logger("odoo.sql_db"),  # "bad query: ... canceling statement due to statement timeout"
                self.assertLogs("odoo.addons.perimeter_security.guard.access_log", "WARNING") as logs,
            ):
                self.assertEqual(access_log.flush_now(self.dbname), 0)
            blocker.rollback()
        self.assertIn("could not write 4 refused requests", logs.output[0])
        self.assertIn("statement timeout", logs.output[0])
        self.assertEqual(access_log.pending_hits(self.dbname), 4)
        self.assertEqual(access_log.flush_now(self.dbname), 4)
        (row,) = self.committed_rows()
        self.assertEqual(row["hits"], 5)

    def test_a_row_postgresql_refuses_is_dropped_alone_and_later_flushes_go_on(self):
        # Issue 10 #1: a NUL in one row made the whole batch fail, and the batch was put back for ever.
        # The hit is made storable when it is taken; a row that still fails is written apart from the rest.
        now = fields.Datetime.now()
        bad = Bucket(self.dbname, "192.0.2.52", REFUSED, True, (now - datetime(1970, 1, 1)) // LOG_WINDOW)
        bad.hits, bad.first_seen, bad.last_seen = 3, now, now
        bad.latest = _hit("192.0.2.52", user_agent="a\x00b", at=now)  # as if it had escaped the cleaning
        access_log._aggregator.requeue([bad])
        access_log.record_hit(self.dbname, _hit("192.0.2.50", path="/good"))
        with (
            patch.dict(access_log._last_warnings, clear=True),
            mute_logger("odoo.sql_db"),  # "bad query: ... A string literal cannot contain NUL"
            self.assertLogs("odoo.addons.perimeter_security.guard.access_log", "WARNING") as logs,
        ):
            self.assertEqual(access_log.flush_now(self.dbname), 1, "the good row is written")
        self.assertEqual(len(logs.output), 1, logs.output)
        self.assertIn("dropped 3 refused requests of 192.0.2.52", logs.output[0])
        self.assertEqual(access_log.pending_hits(self.dbname), 0, "the refused row is not retried for ever")
        access_log.record_hit(self.dbname, _hit("192.0.2.51"))
        self.assertEqual(access_log.flush_now(self.dbname), 1, "later flushes are not held back")
        self.assertEqual(sorted((row["ip"], row["hits"]) for row in self.committed_rows()),
                         [("192.0.2.50", 1), ("192.0.2.51", 1)])

    def test_the_background_writer_flushes_without_being_asked(self):
        self.addCleanup(access_log.stop_flusher)
        access_log.start_flusher(interval=0.2)
        for _ in range(3):
            access_log.record_hit(self.dbname, _hit("198.51.100.101", blocked=False))
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not self.committed_rows():
            time.sleep(0.2)
        (row,) = self.committed_rows()
        self.assertEqual((row["hits"], row["blocked"]), (3, False))
        self.assertEqual(access_log.pending_hits(), 0)

    def test_requests_without_a_database_are_summarised_in_the_server_log(self):
        for n in range(5):
            access_log.record_hit(None, _hit("192.0.2.51", path="/web/database/manager", at=None))
            access_log.record_hit(False, _hit(f"192.0.2.{60 + n}", path="/web/database/list"))
        with self.assertLogs("odoo.addons.perimeter_security.guard.access_log", "WARNING") as logs:
            access_log.flush_now()
        self.assertEqual(len(logs.output), 1)
        self.assertIn("10 refused or monitored requests without a database", logs.output[0])
        self.assertIn("192.0.2.51 ×5", logs.output[0])
        self.assertEqual(self.committed_rows(), [])
        self.assertEqual(access_log.pending_hits(), 0)

    def test_record_hit_never_raises(self):
        with (
            self.assertLogs("odoo.addons.perimeter_security.guard.access_log", "WARNING") as logs,
            patch.dict(access_log._last_warnings, clear=True),
        ):
            access_log.record_hit(self.dbname, None)  # not a Hit at all
        self.assertIn("could not record a refused request", logs.output[0])
        access_log.record_hit(self.dbname, Hit(ip="192.0.2.50", reason=REFUSED, blocked=True,
                                               path=None, method=None, user_agent="x" * 10_000))
        access_log.flush_now(self.dbname)
        (row,) = self.committed_rows()
        self.assertEqual(row["path"], False)

    def test_shutdown_hooks_are_registered_with_the_server(self):
        from odoo.service.server import CommonServer

        self.addCleanup(access_log.stop_flusher)
        access_log.start_flusher(interval=60)
        self.assertIn(access_log._flush_at_shutdown, CommonServer._on_stop_funcs)


@tagged("post_install", "-at_install")
class TestAccessLogRows(TransactionCase):
    """The model side, inside the test's transaction: upserts, alerts, retention, admit."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Log = cls.env["perimeter.access.log"]
        cls.Alert = cls.env["perimeter.access.alert"]
        cls.params = cls.env["ir.config_parameter"].sudo()
        cls.second_admin = new_test_user(cls.env, "perimeter_admin2", groups="base.group_system,base.group_user")
        cls.user = new_test_user(cls.env, "perimeter_user", groups="base.group_user")

    def store_buckets(self, *hits, dbname="db"):
        aggregator = Aggregator()
        for hit in hits:
            aggregator.add(dbname, hit)
        return aggregator.drain().get(dbname, [])

    def store(self, *hits, dbname="db"):
        aggregator = Aggregator()
        for hit in hits:
            aggregator.add(dbname, hit)
        buckets = aggregator.drain().get(dbname, [])
        self.Log._perimeter_store_buckets(buckets)
        return buckets

    def admin_notifications(self, alert):
        messages = self.env["mail.message"].search([("model", "=", alert._name), ("res_id", "=", alert.id)])
        return messages, messages.notification_ids

    def test_upsert_adds_hits_and_keeps_the_latest_details(self):
        at = fields.Datetime.now().replace(minute=10)
        self.store(*[_hit("203.0.113.9", at=at, path="/first", peer="10.0.0.2")] * 3)
        self.store(_hit("203.0.113.9", at=at - timedelta(minutes=5), path="/older"),
                   _hit("203.0.113.9", at=at + timedelta(minutes=5), path="/newest", user_agent="bot"))
        row = self.Log.search([("ip", "=", "203.0.113.9")])
        self.assertEqual(len(row), 1)
        self.assertEqual((row.hits, row.path, row.user_agent, row.peer), (5, "/newest", "bot", False))
        self.assertEqual((row.first_seen, row.last_seen), (at - timedelta(minutes=5), at + timedelta(minutes=5)))
        self.assertEqual(row.window_start, at.replace(minute=0, second=0, microsecond=0))
        self.assertEqual(row.display_name, "203.0.113.9 · Not in the allowlist")

    def test_one_alert_per_client_and_window_to_every_administrator(self):
        self.params.set_param("perimeter_security.alert_threshold", "10")
        self.params.set_param("perimeter_security.alert_window_minutes", "10")
        at = fields.Datetime.now().replace(minute=21)
        self.store(*[_hit("203.0.113.20", at=at)] * 6)
        self.assertFalse(self.Alert.search([("ip", "=", "203.0.113.20"), ("notified_at", "!=", False)]))
        self.store(*[_hit("203.0.113.20", at=at + timedelta(seconds=5))] * 6,
                   *[_hit("203.0.113.21", blocked=False, at=at)] * 50,  # monitored: not refusals
                   *[_hit("203.0.113.22", at=at)] * 9)  # below the threshold
        alert = self.Alert.search([("ip", "=", "203.0.113.20")])
        self.assertEqual(alert.hits, 12)
        self.assertTrue(alert.notified_at)
        window_start = at.replace(minute=20, second=0, microsecond=0)
        self.assertEqual((alert.window_start, alert.window_end), (window_start, window_start + timedelta(minutes=10)))
        self.assertFalse(self.Alert.search([("ip", "=", "203.0.113.21")]))
        self.assertFalse(self.Alert.search([("ip", "=", "203.0.113.22")]).notified_at)
        message, _notifications = self.admin_notifications(alert)
        self.assertEqual(len(message), 1)
        self.assertEqual(message.author_id, self.env.ref("base.partner_root"))
        self.assertIn("203.0.113.20 was refused 12 times", str(message.body))
        self.assertEqual(len(self.channel_posts("203.0.113.20")), 1)
        # More refusals in the same window: counted, not notified again.
        self.store(*[_hit("203.0.113.20", at=at + timedelta(seconds=9))] * 40)
        self.assertEqual(alert.hits, 52)
        self.assertEqual(self.admin_notifications(alert)[0], message)
        self.assertEqual(len(self.channel_posts("203.0.113.20")), 1)
        # The next window is a new alert.
        self.store(*[_hit("203.0.113.20", at=at + timedelta(minutes=10))] * 10)
        self.assertEqual(len(self.Alert.search([("ip", "=", "203.0.113.20"), ("notified_at", "!=", False)])), 2)
        self.assertEqual(alert.log_ids.ip, "203.0.113.20")

    def channel_posts(self, ip):
        """Messages of the #Administrators channel that name ``ip``."""
        channel = self.env.ref("mail.channel_admin")
        return self.env["mail.message"].search([("model", "=", "discuss.channel"), ("res_id", "=", channel.id),
                                                ("body", "ilike", ip)])

    def test_alerts_reach_a_default_administrator_without_a_mail_server(self):
        # Issue 10 #13: the alert went out by e-mail only; with no mail server it sat in the queue,
        # and the administrator saw no badge, no activity, and an empty chatter on the alert.
        self.assertFalse(self.env["ir.mail_server"].search([]), "a fresh database: no mail server")
        admin = self.env.ref("base.user_admin")
        self.assertEqual(admin.notification_type, "email", "Odoo's default")
        self.params.set_param("perimeter_security.alert_threshold", "5")
        self.store(*[_hit("203.0.113.60")] * 5)
        alert = self.Alert.search([("ip", "=", "203.0.113.60")])
        self.assertTrue(alert.notified_at)
        (post,) = self.channel_posts("203.0.113.60")
        link = rf"data-oe-model=[\"']perimeter.access.alert[\"'] data-oe-id=[\"']{alert.id}[\"']"
        self.assertRegex(str(post.body), link, "the post links to the alert")
        channel = self.env.ref("mail.channel_admin")
        self.assertIn(admin.partner_id, channel.channel_member_ids.partner_id, "the admin sees the channel's badge")
        chatter, notifications = self.admin_notifications(alert)
        self.assertEqual(len(chatter), 1)
        self.assertIn("203.0.113.60 was refused 5 times", str(chatter.body))
        self.assertFalse(notifications, "no e-mail left to rot in the queue")
        self.assertFalse(self.env["mail.mail"].search([("model", "=", alert._name), ("res_id", "=", alert.id)]))

    def test_alerts_are_worded_in_the_administrators_language_not_the_triggering_users(self):
        """Issue 21 #3: French administrators read a French alert, whoever's request brought it."""
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env.ref("base.group_system")[odoo_version.group_users_field()].write({"lang": "fr_FR"})
        self.params.set_param("perimeter_security.alert_threshold", "5")
        self.Log.with_context(lang="en_US")._perimeter_store_buckets(self.store_buckets(*[_hit("203.0.113.61")] * 5))
        (post,) = self.channel_posts("203.0.113.61")
        self.assertIn("203.0.113.61 a été refusé 5 fois", str(post.body))
        self.assertNotIn("was refused", str(post.body))

    def test_alerts_are_also_mailed_when_a_mail_server_is_configured(self):
        self.env["ir.mail_server"].create({"name": "Relay", "smtp_host": "127.0.0.1", "smtp_port": 2525})
        self.params.set_param("perimeter_security.alert_threshold", "5")
        self.store(*[_hit("203.0.113.61")] * 5)
        alert = self.Alert.search([("ip", "=", "203.0.113.61")])
        message, notifications = self.admin_notifications(alert)
        self.assertEqual(len(message), 1)
        admins = self.env.ref("base.user_admin") | self.second_admin
        self.assertEqual(notifications.res_partner_id, admins.partner_id)
        self.assertEqual(set(notifications.mapped("notification_type")), {"email"})
        self.assertNotIn(self.user.partner_id, notifications.res_partner_id)
        self.assertEqual(len(self.channel_posts("203.0.113.61")), 1)

    def test_alerts_off(self):
        self.params.set_param("perimeter_security.alert_threshold", "0")
        self.store(*[_hit("203.0.113.30")] * 500)
        self.assertFalse(self.Alert.search([("ip", "=", "203.0.113.30")]))
        self.assertEqual(self.Log.search([("ip", "=", "203.0.113.30")]).hits, 500)

    def test_retention_removes_old_rows_and_finished_counters(self):
        now = fields.Datetime.now()
        self.params.set_param("perimeter_security.alert_threshold", "5")
        self.store(*[_hit("203.0.113.40", at=now - timedelta(days=91))] * 5,
                   *[_hit("203.0.113.41", at=now - timedelta(days=89))] * 5,
                   _hit("203.0.113.42", at=now - timedelta(days=3)),
                   _hit("203.0.113.43", at=now))
        ips = ["203.0.113.40", "203.0.113.41", "203.0.113.42", "203.0.113.43"]
        self.assertEqual(len(self.Alert.search([("ip", "in", ips)])), 4)
        self.Log._gc_perimeter_access_log()
        self.Alert._gc_perimeter_access_alert()
        self.assertEqual(sorted(self.Log.search([("ip", "in", ips)]).mapped("ip")), ips[1:])
        # Sent alerts follow the log's retention; windows that never alerted go once over.
        self.assertEqual(sorted(self.Alert.search([("ip", "in", ips)]).mapped("ip")), ["203.0.113.41", "203.0.113.43"])
        self.params.set_param("perimeter_security.log_retention_days", "0")  # keep everything
        self.store(_hit("203.0.113.44", at=now - timedelta(days=3000)))
        self.Log._gc_perimeter_access_log()
        self.assertTrue(self.Log.search([("ip", "=", "203.0.113.44")]))
        self.params.set_param("perimeter_security.log_retention_days", "2")
        self.Log._gc_perimeter_access_log()
        self.assertEqual(self.Log.search([("ip", "in", [*ips, "203.0.113.44"])]).mapped("ip"), ["203.0.113.43"])

    def test_only_administrators_see_the_log(self):
        self.store(_hit("203.0.113.50"))
        with self.assertRaises(AccessError):
            self.Log.with_user(self.user).search([])
        with self.assertRaises(AccessError):
            self.Alert.with_user(self.user).search([])
        rows = self.Log.with_user(self.second_admin).search([("ip", "=", "203.0.113.50")])
        self.assertEqual(len(rows), 1)
        with self.assertRaises(AccessError):
            rows.write({"hits": 0})  # the log is a record, not a worksheet

    def test_alert_settings_on_the_settings_screen(self):
        self.env["res.config.settings"].create({
            "perimeter_alert_threshold": 0, "perimeter_alert_window_minutes": 60,
        }).execute()
        self.assertEqual(self.params.get_param("perimeter_security.alert_threshold"), "0")
        settings = self.env["res.config.settings"].create({})
        self.assertEqual((settings.perimeter_alert_threshold, settings.perimeter_alert_window_minutes), (0, 60))
        with self.assertRaisesRegex(ValidationError, r"'0' is not between 1 and 1440"):
            self.env["res.config.settings"].create({"perimeter_alert_window_minutes": 0}).execute()


@tagged("post_install", "-at_install")
class TestAdmitFromTheLog(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Allowlist = cls.env["perimeter.allowlist"]
        aggregator = Aggregator()
        aggregator.ipv6_prefixes["db"] = 128  # a database counting each IPv6 address apart: rows of addresses
        at = fields.Datetime.now()
        for ip, count in (("203.0.113.9", 3), ("203.0.113.10", 1), ("2001:db8:5:6:7::9", 2), ("2001:db8:7::7", 1),
                          ("::ffff:192.0.2.33", 1)):
            for _ in range(count):
                aggregator.add("db", _hit(ip, at=at, path="/odoo"))
        cls.env["perimeter.access.log"]._perimeter_store_buckets(aggregator.drain()["db"])
        cls.env.cr.execute("UPDATE perimeter_access_log SET ip = '*' WHERE ip = '203.0.113.10'")  # an overflow row
        cls.rows = cls.env["perimeter.access.log"].search([("last_seen", "=", at)])
        cls.Allowlist.create({"name": "Partner", "network": "2001:db8:7::/48"})  # no network of the demo data

    def admit(self, scope, rows=None, **values):
        rows = self.rows if rows is None else rows
        action = rows.action_perimeter_admit()
        wizard = self.env[action["res_model"]].with_context(**action["context"]).create(dict(values, scope=scope))
        plan = wizard.plan  # what the administrator reads before clicking Admit
        return plan, wizard.action_admit()

    def test_admit_addresses(self):
        plan, result = self.admit("address")
        self.assertEqual(plan.splitlines(), [
            "*: not a single client address, skipped.",
            "2001:db8:5:6:7::9/128: a rule will be added.",
            "2001:db8:7::7/128: already allowed by the rule Partner (2001:db8:7::/48), skipped.",
            "203.0.113.9/32: a rule will be added.",
            "192.0.2.33/32: a rule will be added.",
        ])
        added = self.Allowlist.search([("note", "ilike", "Admitted from the access log")])
        self.assertEqual(sorted(added.mapped("network")),
                         ["192.0.2.33/32", "2001:db8:5:6:7::9/128", "203.0.113.9/32"])
        rule = added.filtered(lambda rule: rule.network == "203.0.113.9/32")
        self.assertEqual(rule.name, "203.0.113.9")
        self.assertIn("3 refused requests from 203.0.113.9 (Not in the allowlist)", rule.note)
        self.assertIn("/odoo/perimeter.access.log/", rule.note)
        self.assertIn("192.0.2.33", self.Allowlist._get_allowed_networks())
        self.assertEqual(result["params"]["type"], "success")
        self.assertIn("203.0.113.9/32: added.", result["params"]["message"])
        self.assertIn("already allowed", result["params"]["message"])
        # Admitting again adds nothing.
        _wizard, again = self.admit("address")
        self.assertEqual(again["params"]["type"], "warning")
        self.assertEqual(self.Allowlist.search_count([("note", "ilike", "Admitted from the access log")]), 3)

    def test_admit_networks(self):
        self.admit("network")
        added = self.Allowlist.search([("note", "ilike", "Admitted from the access log")])
        self.assertEqual(sorted(added.mapped("network")), ["192.0.2.0/24", "2001:db8:5:6::/64", "203.0.113.0/24"])
        self.assertEqual(added.filtered(lambda rule: rule.network == "203.0.113.0/24").name, "203.0.113.0/24")
        self.assertIn("203.0.113.77", self.Allowlist._get_allowed_networks())

    def test_an_archived_or_expired_rule_is_restored_not_duplicated(self):
        archived = self.Allowlist.create({"name": "Old", "network": "203.0.113.9/32", "active": False})
        expired = self.Allowlist.create({
            "name": "Contractor", "network": "2001:db8:5:6:7::9/128", "note": "until March",
            "expires_at": fields.Datetime.now() - timedelta(days=1),
        })
        plan, result = self.admit("address", expires_at=fields.Datetime.now() + timedelta(days=7))
        self.assertIn("203.0.113.9/32: the rule Old exists but is archived or expired: it will be restored", plan)
        self.assertIn("2001:db8:5:6:7::9/128: the rule Contractor is restored.", result["params"]["message"])
        self.assertTrue(archived.active)
        self.assertGreater(expired.expires_at, fields.Datetime.now())
        self.assertTrue(expired.note.startswith("until March\n\nAdmitted from the access log"))
        self.assertIn("2001:db8:5:6:7::9", self.Allowlist._get_allowed_networks())

    def test_wizard_from_the_action_menu_takes_the_selected_rows(self):
        row = self.rows.filtered(lambda row: row.ip == "203.0.113.9")
        wizard = self.env["perimeter.access.admit"].with_context(
            active_model="perimeter.access.log", active_ids=row.ids
        ).create({})
        self.assertEqual(wizard.log_ids, row)
        self.assertEqual(wizard.plan, "203.0.113.9/32: a rule will be added.")


@tagged("post_install", "-at_install")
class TestAccessLogInTestMode(HttpCase):
    """How an HTTP test finds the row of the request it had refused: flush, then search."""

    def test_flush_writes_into_the_test_transaction(self):
        access_log.discard_pending()
        self.addCleanup(access_log.discard_pending)
        self.env.cr.execute("SHOW statement_timeout")
        before = self.env.cr.fetchone()[0]
        access_log.record_hit(self.env.cr.dbname, _hit("127.0.0.2", path="/odoo", method="GET"))
        self.assertEqual(access_log.flush_now(self.env.cr.dbname), 1)
        row = self.env["perimeter.access.log"].search([("ip", "=", "127.0.0.2")])
        self.assertEqual((row.hits, row.path), (1, "/odoo"))
        self.env.cr.execute("SHOW statement_timeout")
        self.assertEqual(self.env.cr.fetchone()[0], before)
