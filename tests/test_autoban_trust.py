"""Automatic bans an outsider must not be able to turn against others: who a count is charged to.

Odoo's own login cooldown, a forged forwarding header a proxy passes through,
the administrator's address behind a proxy, and an IPv6 client walking through
its /64. Clients come from distinct loopback addresses, or through a trusted
proxy (127.0.0.3, or a real nginx bound to it) whose headers carry
documentation-range addresses.
"""

from odoo.tests import tagged
from odoo.tools import mute_logger

from ..guard import access_log, server_tier
from .common import PROXY, PerimeterHttpCase

LOGGERS = ("odoo.addons.perimeter_security.models.perimeter_autoban", "odoo.addons.base.models.res_users",
           "odoo.http")

OFFICE_NETWORK = "203.0.113.0/24"
OFFICE = "203.0.113.10"  # an employee's address, behind the proxy
ATTACKER = "198.51.100.66"  # an outsider, behind the same proxy



@tagged("post_install", "-at_install")
class TestAutobanTrust(PerimeterHttpCase):
    def setUp(self):
        super().setUp()
        access_log.discard_pending()
        self.addCleanup(access_log.discard_pending)
        self.Blocklist = self.env["perimeter.blocklist"].with_context(active_test=False)
        self.enterContext(mute_logger(*LOGGERS))
        # Odoo's login cooldown counts failures per TCP peer in the registry, across tests: start clean.
        self._forget_login_failures()
        self.addCleanup(self._forget_login_failures)

    def _forget_login_failures(self):
        failures = getattr(self.registry, "_login_failures", None)
        if failures is not None:
            failures.clear()

    def behind_proxy(self, **values):
        """Scope all, enforce; the office and the attacker's networks allowed; 127.0.0.3 a trusted proxy."""
        self.set_policy(rules=values.pop("rules", [OFFICE_NETWORK, "198.51.100.0/24"]), mode="enforce",
                        allow_loopback=False, trusted_proxies=f"{PROXY}/32", autoban_minutes=10, **values)

    def flush(self):
        access_log.flush_now(self.env.cr.dbname)
        self.env.invalidate_all()
        server_tier.forget_snapshots()

    def bans(self, network):
        return self.Blocklist.search([("network", "=", network)])

    def web_login(self, password, forwarded_for, login="admin"):
        """``/web/session/authenticate`` through the trusted proxy: the uid, or the error's message."""
        reply = self.json_rpc("/web/session/authenticate", {"db": self.env.cr.dbname, "login": login,
                                                            "password": password},
                              source=PROXY, headers=[("X-Forwarded-For", forwarded_for)])
        self.assertEqual(reply.status, 200, reply)
        answer = reply.json()
        return answer["result"]["uid"] if "result" in answer else answer["error"]["data"]["message"]

    # -- Odoo's cooldown is not a failed login ---------------------------------------------------

    def test_odoo_login_cooldown_does_not_get_the_right_password_banned(self):
        """An attacker behind the proxy puts Odoo's per-peer cooldown on; the employee is not banned for it."""
        self.behind_proxy(autoban_failed_logins=3)
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("base.login_cooldown_after", "5")
        params.set_param("base.login_cooldown_duration", "60")
        self.env.flush_all()  # visible to the requests
        answers = [self.web_login(f"guess-{attempt}", ATTACKER) for attempt in range(8)]
        self.assertEqual(answers[:5], ["Access Denied"] * 5)
        self.assertIn("Too many login failures", answers[7])
        # Odoo keys its cooldown on the proxy: the employee's right password is refused too, six times.
        for _attempt in range(6):
            self.assertIn("Too many login failures", self.web_login("admin", OFFICE))
        self.flush()
        self.assertFalse(self.bans(f"{OFFICE}/32"), "a cooldown answer is not a wrong password of the employee")
        self.assertFalse([hit for _db, hit in self.hits if hit.ip == OFFICE])
        # The attacker's five wrong passwords (before the cooldown) are counted, and ban it: 5 > 3.
        failed = [hit for _db, hit in self.hits if hit.reason == "failed_login" and hit.ip == ATTACKER]
        self.assertEqual(len(failed), 5)
        self.assertIn("5 failed logins", self.bans(f"{ATTACKER}/32").reason)
