import re
import xmlrpc.client
from datetime import timedelta
from urllib.parse import urlencode

from odoo import fields
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..guard import access_log, server_tier
from .common import INSIDE, OUTSIDE, PerimeterHttpCase

LOGGER = "odoo.addons.perimeter_security.models.perimeter_blocklist"


@tagged("post_install", "-at_install")
class TestAutoban(PerimeterHttpCase):
    """Automatic bans, decided at flush time from the access log's counts: floods and password guessing."""

    def setUp(self):
        super().setUp()
        access_log.discard_pending()
        self.addCleanup(access_log.discard_pending)
        self.Blocklist = self.env["perimeter.blocklist"].with_context(active_test=False)
        # Every ban is logged at WARNING for the operator; here the bans are asserted on the blocklist.
        self.enterContext(mute_logger(LOGGER))

    def autoban(self, **values):
        self.set_policy(**{"autoban_minutes": 10, **values})

    def flush(self):
        access_log.flush_now(self.env.cr.dbname)
        self.env.invalidate_all()
        server_tier.forget_snapshots()

    def ban_of(self, address):
        return self.Blocklist.search([("network", "=", f"{address}/32")])

    def test_off_by_default(self):
        self.strict_policy()
        for _ in range(20):
            self.get("/web/login", source=OUTSIDE)
        self.flush()
        self.assertFalse(self.ban_of(OUTSIDE))

    def test_a_refused_flood_is_banned_counting_across_flushes(self):
        self.strict_policy()
        self.autoban(autoban_refusals=5)
        for _ in range(3):
            self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 403)
        self.flush()  # one worker's flush: 3 refusals, under the threshold
        self.assertFalse(self.ban_of(OUTSIDE))
        for _ in range(3):
            self.get("/odoo", source=OUTSIDE)
        self.flush()  # another flush adds to the same window: 6 > 5
        ban = self.ban_of(OUTSIDE)
        self.assertEqual((ban.source, ban.ban_count), ("automatic", 1))
        self.assertIn("6 refused requests within 10 minutes", ban.reason)
        self.assertAlmostEqual(ban.expires_at, fields.Datetime.now() + timedelta(minutes=10),
                               delta=timedelta(minutes=1))
        self.get("/web/login", source=OUTSIDE)
        self.assertEqual(self.hits[-1][1].reason, "blocklisted")
        self.assertEqual(self.get("/web/login", source=INSIDE).status, 200)
        # Refusals of a banned client do not ban it again, nor count as new offences.
        for _ in range(10):
            self.get("/web/login", source=OUTSIDE)
        self.flush()
        self.assertEqual(self.ban_of(OUTSIDE).ban_count, 1)

    def test_the_ban_is_written_in_the_alert(self):
        self.strict_policy(alert_threshold=3)
        self.autoban(autoban_refusals=3)
        for _ in range(4):
            self.get("/web/login", source=OUTSIDE)
        self.flush()
        alert = self.env["perimeter.access.alert"].search([("ip", "=", OUTSIDE)])
        self.assertTrue(alert.notified_at)
        self.assertIn(f"{OUTSIDE} is banned until", alert.message_ids[0].body)

    def test_password_guessing_on_the_login_form_is_banned(self):
        self.set_policy(rules=[f"{INSIDE}/32", f"{OUTSIDE}/32"], mode="enforce", allow_loopback=False)
        self.autoban(autoban_failed_logins=3)
        self.enterContext(mute_logger("odoo.addons.base.models.res_users"))
        session = self.authenticate(None, None).sid  # an anonymous session, as a browser has one
        for attempt in range(4):
            page = self.get("/web/login", source=OUTSIDE, cookies={"session_id": session})
            self.assertEqual(page.status, 200, page)
            token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
            form = urlencode({"login": "admin", "password": f"guess-{attempt}", "csrf_token": token})
            reply = self.call("POST", "/web/login", source=OUTSIDE, body=form, cookies={"session_id": session},
                              headers=[("Content-Type", "application/x-www-form-urlencoded")])
            self.assertEqual(reply.status, 200, reply)
            self.assertIn("Wrong login/password", reply.text)
        self.assertHit(OUTSIDE, "failed_login", path="/web/login")
        self.flush()
        self.assertIn("4 failed logins within 10 minutes", self.ban_of(OUTSIDE).reason)
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 403)

    def test_password_guessing_over_xml_rpc_is_banned(self):
        self.set_policy(rules=[f"{INSIDE}/32", f"{OUTSIDE}/32"], mode="enforce", allow_loopback=False)
        self.autoban(autoban_failed_logins=3)
        self.enterContext(mute_logger("odoo.addons.base.models.res_users", "odoo.http"))
        db = self.env.cr.dbname
        for attempt in range(2):
            reply = self.xml_rpc("/xmlrpc/2/common", "login", [db, "admin", f"guess-{attempt}"], source=OUTSIDE)
            self.assertIs(xmlrpc.client.loads(reply.body)[0][0], False)
            reply = self.xml_rpc("/xmlrpc/2/object", "execute_kw",
                                 [db, 2, f"guess-{attempt}", "res.partner", "search_count", [[]]], source=OUTSIDE)
            with self.assertRaises(xmlrpc.client.Fault):
                xmlrpc.client.loads(reply.body)
        self.assertHit(OUTSIDE, "failed_login", path="/xmlrpc/2/object")
        self.flush()
        self.assertIn("4 failed logins", self.ban_of(OUTSIDE).reason)

    def test_repeat_offenders_are_banned_longer(self):
        self.strict_policy()
        self.autoban(autoban_refusals=5)
        window = fields.Datetime.now()
        self.assertEqual(self.Blocklist._perimeter_autoban(OUTSIDE, window, "a flood", 10), "banned")
        ban = self.ban_of(OUTSIDE)
        first = ban.expires_at
        self.assertAlmostEqual(first, fields.Datetime.now() + timedelta(minutes=10), delta=timedelta(minutes=1))
        self.assertEqual(self.Blocklist._perimeter_autoban(OUTSIDE, window, "a flood", 10), "already")
        ban.write({"expires_at": fields.Datetime.now() - timedelta(seconds=1)})
        self.assertEqual(self.Blocklist._perimeter_autoban(OUTSIDE, window, "a flood", 10), "banned")
        self.assertEqual(ban.ban_count, 2)
        self.assertAlmostEqual(ban.expires_at, fields.Datetime.now() + timedelta(minutes=20),
                               delta=timedelta(minutes=1))
        ban.write({"expires_at": fields.Datetime.now() - timedelta(seconds=1)})
        self.Blocklist._perimeter_autoban(OUTSIDE, window, "a flood", 10)
        self.assertAlmostEqual(ban.expires_at, fields.Datetime.now() + timedelta(minutes=40),
                               delta=timedelta(minutes=1))

    def test_monitor_mode_logs_the_would_be_ban(self):
        self.strict_policy(mode="monitor")
        self.autoban(autoban_refusals=3)
        for _ in range(4):
            self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 200)
        with self.assertLogs(LOGGER, "WARNING") as logs:
            self.flush()
        self.assertTrue(any(f"monitor mode: {OUTSIDE} would be banned for 10 minutes" in line
                            for line in logs.output), logs.output)
        self.assertFalse(self.ban_of(OUTSIDE))
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 200)

    def test_loopback_and_administrators_addresses_are_never_banned(self):
        self.strict_policy()
        window = fields.Datetime.now()
        self.assertEqual(self.Blocklist._perimeter_autoban("127.0.0.1", window, "a flood", 10), "protected")
        self.env["res.device.log"].sudo().create({
            "session_identifier": "perimeter-test", "ip_address": "203.0.113.9", "user_id": self.env.ref(
                "base.user_admin").id, "first_activity": window, "last_activity": window, "platform": "linux",
            "browser": "firefox", "device_type": "computer",
        })
        self.assertEqual(self.Blocklist._perimeter_autoban("203.0.113.9", window, "a flood", 10), "administrator")
        self.assertFalse(self.Blocklist.search([]))
