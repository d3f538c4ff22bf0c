import xmlrpc.client
from datetime import timedelta

from odoo import fields
from odoo.tests import TransactionCase, tagged
from odoo.tools import mute_logger

from .common import INSIDE, OUTSIDE, PROXY, PerimeterHttpCase

LOCKOUT = "This change is refused because it would lock you out."


@tagged("post_install", "-at_install")
class TestLockout(PerimeterHttpCase):
    """An administrator cannot save a policy that blocks their own current address."""

    def setUp(self):
        super().setUp()
        self.strict_policy()
        self.set_policy(rules=[f"{OUTSIDE}/32"])
        self.outside_rule = self.env["perimeter.allowlist"].search([("network", "=", f"{OUTSIDE}/32")])
        self.authenticate("admin", "admin")
        # Odoo logs every UserError a request raises; here they are the expected answers, asserted below.
        self.enterContext(mute_logger("odoo.http"))

    def call_kw(self, model, method, args, kwargs=None, **options):
        params = {"model": model, "method": method, "args": args, "kwargs": kwargs or {}}
        reply = self.json_rpc(f"/web/dataset/call_kw/{model}/{method}", params,
                              cookies={"session_id": self.session.sid}, **options)
        self.assertEqual(reply.status, 200, reply)
        return reply.json()

    def assertLockout(self, answer, address, https=False):
        self.assertIn("error", answer, answer)
        data = answer["error"]["data"]
        self.assertEqual(data["name"], "odoo.exceptions.UserError")
        self.assertIn(LOCKOUT, data["message"])
        self.assertIn(address, data["message"])
        self.assertIn("https://" if https else "IP Allowlist", data["message"])

    def test_removing_or_expiring_your_own_rule_is_refused(self):
        rule = self.outside_rule.id
        self.assertLockout(self.call_kw("perimeter.allowlist", "unlink", [[rule]], source=OUTSIDE), OUTSIDE)
        self.assertLockout(self.call_kw("perimeter.allowlist", "action_archive", [[rule]], source=OUTSIDE), OUTSIDE)
        self.assertLockout(self.call_kw("perimeter.allowlist", "write",
                                        [[rule], {"expires_at": "2001-01-01 00:00:00"}], source=OUTSIDE), OUTSIDE)
        self.assertLockout(self.call_kw("perimeter.allowlist", "write", [[rule], {"network": "192.0.2.0/24"}],
                                        source=OUTSIDE), OUTSIDE)
        self.assertTrue(self.outside_rule.exists() and self.outside_rule.active, "nothing was changed")
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 200)
        # Someone else's rule, or from another address: fine.
        self.assertNotIn("error", self.call_kw("perimeter.allowlist", "unlink", [[rule]], source=INSIDE))
        self.assertFalse(self.outside_rule.exists())

    def test_parameters_written_by_scripts_are_checked(self):
        self.set_policy(mode="monitor")
        self.outside_rule.unlink()
        enforce = ["perimeter_security.mode", "enforce"]
        self.assertLockout(self.call_kw("ir.config_parameter", "set_param", enforce, source=OUTSIDE), OUTSIDE)
        self.assertEqual(self.env["ir.config_parameter"].get_param("perimeter_security.mode"), "monitor")
        # The same through XML-RPC, where Odoo hides the request from the code it runs.
        reply = self.xml_rpc("/xmlrpc/2/object", "execute_kw",
                             [self.env.cr.dbname, 2, "admin", "ir.config_parameter", "set_param",
                              ["perimeter_security.mode", "enforce"]], source=OUTSIDE)
        with self.assertRaises(xmlrpc.client.Fault) as fault:
            xmlrpc.client.loads(reply.body)
        self.assertIn(LOCKOUT, fault.exception.faultString)
        self.assertIn(OUTSIDE, fault.exception.faultString)
        self.assertNotIn("error", self.call_kw("ir.config_parameter", "set_param",
                                               ["perimeter_security.mode", "enforce"], source=INSIDE))

    def test_settings_screen_is_judged_as_a_whole(self):
        self.set_policy(mode="monitor", trusted_proxies="")
        via_proxy = {"source": PROXY, "headers": [("X-Forwarded-For", INSIDE)]}
        settings = self.call_kw("res.config.settings", "create", [{"perimeter_mode": "enforce"}], **via_proxy)
        self.assertLockout(self.call_kw("res.config.settings", "execute", [[settings["result"]]], **via_proxy), PROXY)
        # Trusting the proxy in the same save makes the administrator 127.0.0.1: allowed.
        settings = self.call_kw("res.config.settings", "create",
                                [{"perimeter_mode": "enforce", "perimeter_trusted_proxies": PROXY}], **via_proxy)
        self.assertNotIn("error", self.call_kw("res.config.settings", "execute", [[settings["result"]]], **via_proxy))
        self.assertEqual(self.env["ir.config_parameter"].get_param("perimeter_security.mode"), "enforce")

    def test_loopback_switch(self):
        self.set_policy(allow_loopback=True)
        self.outside_rule.unlink()
        answer = self.call_kw("ir.config_parameter", "set_param", ["perimeter_security.allow_loopback", "False"],
                              source=OUTSIDE)
        self.assertLockout(answer, OUTSIDE)
        self.assertIn("Allow loopback", answer["error"]["data"]["message"])

    def test_require_https_from_plain_http_is_refused(self):
        answer = self.call_kw("ir.config_parameter", "set_param", ["perimeter_security.require_https", "True"],
                              source=OUTSIDE)
        self.assertLockout(answer, OUTSIDE, https=True)
        https = [("X-Forwarded-For", OUTSIDE), ("X-Forwarded-Proto", "https")]
        self.assertNotIn("error", self.call_kw("ir.config_parameter", "set_param",
                                               ["perimeter_security.require_https", "True"],
                                               source=PROXY, headers=https))

    def test_require_https_from_loopback_is_fine(self):
        self.set_policy(allow_loopback=True)
        self.assertNotIn("error", self.call_kw("ir.config_parameter", "set_param",
                                               ["perimeter_security.require_https", "True"], source=OUTSIDE))

    def test_a_callers_context_cannot_switch_the_check_off(self):
        # Issue 10 #2: {'perimeter_skip_lockout_check': True} in an RPC call's context disabled the guard.
        skip = {"context": {"perimeter_skip_lockout_check": True}}
        rule = self.outside_rule.id
        self.assertLockout(self.call_kw("perimeter.allowlist", "write", [[rule], {"network": "127.0.0.42"}], skip,
                                        source=OUTSIDE), OUTSIDE)
        https = ["perimeter_security.require_https", "True"]
        self.assertLockout(self.call_kw("ir.config_parameter", "set_param", https, skip, source=OUTSIDE), OUTSIDE,
                           https=True)
        for model, method, args in (("perimeter.allowlist", "write", [[rule], {"network": "127.0.0.42"}]),
                                    ("ir.config_parameter", "set_param", https)):
            reply = self.xml_rpc("/xmlrpc/2/object", "execute_kw",
                                 [self.env.cr.dbname, 2, "admin", model, method, args, skip], source=OUTSIDE)
            with self.subTest(model=model), self.assertRaises(xmlrpc.client.Fault) as fault:
                xmlrpc.client.loads(reply.body)
            self.assertIn(LOCKOUT, fault.exception.faultString)
        self.assertEqual(self.outside_rule.network, f"{OUTSIDE}/32")
        self.assertFalse(self.env["perimeter.policy"]._perimeter_policy().require_https)
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 200, "still in")

    def test_an_expiry_on_your_only_rule_is_refused(self):
        # Issue 10 #3: an expiry 40 s ahead was accepted, and locked the administrator out 40 s later.
        rule = self.outside_rule.id
        soon = fields.Datetime.to_string(fields.Datetime.now() + timedelta(seconds=40))
        answer = self.call_kw("perimeter.allowlist", "write", [[rule], {"expires_at": soon}], source=OUTSIDE)
        self.assertLockout(answer, OUTSIDE)
        self.assertIn("expires", answer["error"]["data"]["message"])
        self.assertFalse(self.outside_rule.expires_at)
        # A rule that admits the same address for good makes the expiry harmless.
        self.assertNotIn("error", self.call_kw("perimeter.allowlist", "create",
                                               [{"name": "Office", "network": "127.0.0.0/30"}], source=OUTSIDE))
        self.assertNotIn("error", self.call_kw("perimeter.allowlist", "write", [[rule], {"expires_at": soon}],
                                               source=OUTSIDE))

    def test_behind_an_untrusted_proxy_the_advice_is_to_trust_it(self):
        # Issue 10 #5: "Add a rule for 127.0.0.3 first" would admit every client of the proxy.
        self.set_policy(mode="monitor", trusted_proxies="")
        via_proxy = {"source": PROXY, "headers": [("X-Forwarded-For", INSIDE)]}
        answer = self.call_kw("ir.config_parameter", "set_param", ["perimeter_security.mode", "enforce"],
                              **via_proxy)
        self.assertIn("error", answer, answer)
        message = answer["error"]["data"]["message"]
        self.assertIn(LOCKOUT, message)
        self.assertIn("Trusted proxies", message)
        self.assertIn(PROXY, message)
        self.assertNotIn(f"Add a rule for {PROXY}", message)

    def test_break_glass_skips_the_check(self):
        self.set_server_section(disabled=True)
        self.assertNotIn("error", self.call_kw("perimeter.allowlist", "unlink", [[self.outside_rule.id]],
                                               source=OUTSIDE))


@tagged("post_install", "-at_install")
class TestLockoutOutsideRequests(TransactionCase):
    def test_no_request_no_own_address(self):
        """Cron, shell and scripts run in-process have no address to lose: anything may be saved."""
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("perimeter_security.allow_loopback", "False")
        params.set_param("perimeter_security.mode", "enforce")
        params.set_param("perimeter_security.require_https", "True")
        self.env["perimeter.allowlist"].create({"name": "Only", "network": "192.0.2.0/24"}).unlink()
        policy = self.env["perimeter.policy"]._perimeter_policy()
        self.assertEqual((policy.mode, policy.allow_loopback, policy.require_https), ("enforce", False, True))

    def test_lockout_check_builds_the_policy_being_saved(self):
        self.env["perimeter.allowlist"].create({"name": "Office", "network": "192.0.2.0/24"})
        # Sooner than any rule the database may hold already (the demo data's expire in days).
        fair = self.env["perimeter.allowlist"].create({
            "name": "Fair", "network": "10.99.0.0/16", "expires_at": fields.Datetime.now() + timedelta(hours=1)})
        policy, next_expiry = self.env["perimeter.policy"]._perimeter_policy_build()
        self.assertIn("192.0.2.9", policy.allowlist)
        self.assertIn("10.99.1.1", policy.allowlist)
        self.assertEqual(next_expiry, fair.expires_at, "the policy is compiled again when the fair's rule expires")
