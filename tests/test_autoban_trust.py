"""Automatic bans an outsider must not be able to turn against others: who a count is charged to.

Odoo's own login cooldown, a forged forwarding header a proxy passes through,
the administrator's address behind a proxy, and an IPv6 client walking through
its /64. Clients come from distinct loopback addresses, or through a trusted
proxy (127.0.0.3, or a real nginx bound to it) whose headers carry
documentation-range addresses.
"""

import http.client
import unittest
import xmlrpc.client

from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tests.common import TEST_CURSOR_COOKIE_NAME
from odoo.tools import mute_logger

from ..guard import access_log, server_tier
from ..testing.nginx import NGINX, NginxProxy
from .common import OUTSIDE, PROXY, PerimeterHttpCase, Reply

LOGGERS = ("odoo.addons.perimeter_security.models.perimeter_blocklist", "odoo.addons.base.models.res_users",
           "odoo.http")

OFFICE_NETWORK = "203.0.113.0/24"
OFFICE = "203.0.113.10"  # an employee's address, behind the proxy
ATTACKER = "192.0.2.66"  # an outsider, behind the same proxy (outside the demo data's networks)
ADMIN_HOME = "203.0.113.9"

# A proxy that writes RFC 7239 Forwarded and passes the client's X-Forwarded-For through as received.
WRITES_FORWARDED = 'proxy_set_header Forwarded "for=$remote_addr";'


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
        self.set_policy(rules=values.pop("rules", [OFFICE_NETWORK, "192.0.2.0/25"]), mode="enforce",
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

    # -- counts go to the address judged, not a forged candidate ---------------------------------

    def through(self, nginx, method, path, *, source, headers=(), body=None):
        """One request from ``source`` to the real nginx in front of Odoo's test server."""
        with self.requests_allowed():
            connection = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=15, source_address=(source, 0))
            try:
                connection.putrequest(method, path, skip_accept_encoding=True)
                connection.putheader("Cookie", f"{TEST_CURSOR_COOKIE_NAME}={self.http_request_key}")
                for name, value in headers:
                    connection.putheader(name, value)
                data = body.encode() if body is not None else b""
                connection.putheader("Content-Length", str(len(data)))
                connection.endheaders(data)
                return Reply(connection.getresponse())
            finally:
                connection.close()

    @unittest.skipIf(NGINX is None, "nginx is not installed (apt-get install nginx-light)")
    def test_a_forged_header_passed_by_the_proxy_charges_the_real_client(self):
        """A real nginx writes Forwarded and passes X-Forwarded-For: the outsider's guesses stay the outsider's."""
        # Scope internal: the login is open to everyone; the office network is a rule (allowed networks).
        self.behind_proxy(rules=[OFFICE_NETWORK], scope="internal", autoban_failed_logins=3, autoban_refusals=3)
        forged = [("X-Forwarded-For", OFFICE), ("Content-Type", "text/xml")]
        with NginxProxy("", self.http_port(), proxy_bind=PROXY, forwarding=WRITES_FORWARDED) as nginx:
            for attempt in range(4):
                body = xmlrpc.client.dumps((self.env.cr.dbname, "nobody", f"guess-{attempt}"), "login")
                reply = self.through(nginx, "POST", "/xmlrpc/2/common", source=OUTSIDE, headers=forged, body=body)
                self.assertEqual(reply.status, 200, reply)
                self.assertIs(xmlrpc.client.loads(reply.body)[0][0], False)
            self.flush()
            self.assertFalse(self.bans(f"{OFFICE}/32"), "the office address, forged, is not banned")
            self.assertEqual({hit.ip for _db, hit in self.hits if hit.reason == "failed_login"}, {OUTSIDE})
            self.assertIn("4 failed logins", self.bans(f"{OUTSIDE}/32").reason)
            self.assertEqual(self.through(nginx, "GET", "/web/login", source=OUTSIDE, headers=forged).status, 403)
            # Refusals too: in scope all, the refusal of the forged request is the outsider's.
            self.set_policy(scope="all")
            self.hits.clear()
            reply = self.through(nginx, "GET", "/odoo", source="127.0.0.4", headers=forged)
            self.assertEqual(reply.status, 403)
        self.assertEqual({hit.ip for _db, hit in self.hits}, {"127.0.0.4"})

    # -- the administrator's own address, behind a proxy -----------------------------------------

    def login(self, password, forwarded_for, login="admin"):
        """XML-RPC ``common.login`` through the trusted proxy (Odoo has no cooldown there): the uid, or False."""
        reply = self.xml_rpc("/xmlrpc/2/common", "login", [self.env.cr.dbname, login, password], source=PROXY,
                             headers=[("X-Forwarded-For", forwarded_for)])
        self.assertEqual(reply.status, 200, reply)
        return xmlrpc.client.loads(reply.body)[0][0]

    def test_the_administrators_address_behind_a_proxy_is_never_banned(self):
        """The administrator works through the proxy, then mistypes their password: not banned."""
        self.behind_proxy(rules=[OFFICE_NETWORK], autoban_failed_logins=3)
        session = self.authenticate("admin", "admin").sid
        reply = self.json_rpc("/web/session/get_session_info", source=PROXY, cookies={"session_id": session},
                              headers=[("X-Forwarded-For", ADMIN_HOME)])
        self.assertEqual(reply.json()["result"]["uid"], self.env.ref("base.user_admin").id, reply)
        noted = self.env["perimeter.admin.address"].search([("user_id", "=", self.env.ref("base.user_admin").id)])
        self.assertIn(ADMIN_HOME, noted.mapped("ip"), "the address the module resolved, not the proxy's")
        self.assertNotIn(PROXY, noted.mapped("ip"))
        for attempt in range(4):
            self.assertIs(self.login(f"typo-{attempt}", ADMIN_HOME), False)
        self.flush()
        self.assertEqual(len([hit for _db, hit in self.hits if hit.ip == ADMIN_HOME]), 4, "counted, ...")
        self.assertFalse(self.bans(f"{ADMIN_HOME}/32"), "... but an administrator's address is never banned")
        self.assertEqual(self.login("admin", ADMIN_HOME), self.env.ref("base.user_admin").id)

    # -- IPv6: one client is one prefix ----------------------------------------------------------

    def ipv6_flood(self, prefix_hosts):
        for host in prefix_hosts:
            self.get("/odoo", source=PROXY, headers=[("X-Forwarded-For", host)])

    def test_an_ipv6_client_walking_its_64_is_one_client(self):
        self.behind_proxy(rules=[OFFICE_NETWORK], autoban_refusals=5, alert_threshold=5)
        walk = [f"2001:db8:1:2::{n:x}" for n in range(1, 13)] + ["2001:db8:1:2:ffff:ffff:ffff:fffe"]
        self.ipv6_flood(walk)
        self.assertEqual({hit.ip for _db, hit in self.hits}, set(walk), "judged and refused address by address")
        self.flush()
        rows = self.env["perimeter.access.log"].search([("ip", "=like", "2001:db8:1:2:%")])
        self.assertEqual([(row.ip, row.reason, row.hits) for row in rows],
                         [("2001:db8:1:2::/64", "not_allowlisted", 13)], "one row for the /64")
        alert = self.env["perimeter.access.alert"].search([("ip", "=like", "2001:db8:1:2:%")])
        self.assertEqual(alert.mapped("ip"), ["2001:db8:1:2::/64"])
        ban = self.Blocklist.search([("network", "=like", "2001:db8:1:2:%")])
        self.assertEqual(ban.mapped("network"), ["2001:db8:1:2::/64"])
        self.assertIn("13 refused requests", ban.reason)
        # A fresh address of the same /64 meets the ban; the next /64 is another client.
        self.hits.clear()
        self.ipv6_flood(["2001:db8:1:2:abcd::1", "2001:db8:1:3::1"])
        self.assertEqual([(hit.ip, hit.reason) for _db, hit in self.hits],
                         [("2001:db8:1:2:abcd::1", "blocklisted"), ("2001:db8:1:3::1", "not_allowlisted")])

    def test_the_ipv6_prefix_is_a_setting(self):
        self.behind_proxy(rules=[OFFICE_NETWORK], autoban_refusals=3, ipv6_prefix=128)
        self.ipv6_flood([f"2001:db8:5:6::{n}" for n in range(1, 5)])
        self.flush()
        rows = self.env["perimeter.access.log"].search([("ip", "=like", "2001:db8:5:6:%")])
        self.assertEqual(sorted(rows.mapped("ip")), [f"2001:db8:5:6::{n}" for n in range(1, 5)])
        self.assertFalse(self.Blocklist.search([("network", "=like", "2001:db8:5:6:%")]), "1 each: nobody over 3")
        self.set_policy(ipv6_prefix=48)
        self.ipv6_flood([f"2001:db8:7:{n:x}::1" for n in range(1, 5)])
        self.flush()
        self.assertEqual(self.Blocklist.search([("network", "=like", "2001:db8:7:%")]).mapped("network"),
                         ["2001:db8:7::/48"])

    def test_the_ipv6_prefix_setting_is_validated(self):
        settings = self.env["res.config.settings"]
        self.assertEqual(settings.create({}).perimeter_ipv6_prefix, 64)
        for bad in (47, 129, 0):
            with self.assertRaisesRegex(ValidationError, rf"IPv6 prefix of one client: '{bad}' is not a prefix length "
                                                         r"between 48 and 128"):
                settings.create({"perimeter_ipv6_prefix": bad}).execute()
        settings.create({"perimeter_ipv6_prefix": 56}).execute()
        params = self.env["ir.config_parameter"].sudo()
        self.assertEqual(params.get_param("perimeter_security.ipv6_prefix"), "56")
        with self.assertRaisesRegex(ValidationError, r"perimeter_security.ipv6_prefix.*'/64' is not a whole number"):
            params.set_param("perimeter_security.ipv6_prefix", "/64")
