import xmlrpc.client
from datetime import timedelta

from odoo import Command, fields
from odoo.exceptions import AccessError, UserError
from odoo.tests import TransactionCase, new_test_user, tagged
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


MANAGER = "perimeter_security.group_perimeter_manager"
SETTINGS_ONLY = "Only Settings administrators decide who is held to which networks"
NOBODY_LEFT = "no Settings administrator could reach Odoo"


@tagged("post_install", "-at_install")
class TestSettingsAdministratorsDecide(TransactionCase):
    """Who is held to which networks is a Settings administrator's decision, whatever the path."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(cls.env, "perimeter_lockout_manager", groups=f"base.group_user,{MANAGER}")
        cls.employee = new_test_user(cls.env, "perimeter_lockout_employee", groups="base.group_user")
        cls.admin = cls.env.ref("base.user_admin")
        cls.settings_group = cls.env.ref("base.group_system")
        cls.team = cls.env["res.groups"].create({"name": "Perimeter lockout team"})
        Rules = cls.env["perimeter.allowlist"]
        cls.office = Rules.create({"name": "Lockout office", "network": "192.0.2.0/26"})
        cls.vpn = Rules.create({"name": "Lockout VPN", "network": "10.77.0.0/24"})

    def test_naming_users_or_groups_on_a_rule_is_for_settings_administrators(self):
        Rules = self.env(user=self.manager)["perimeter.allowlist"]
        vpn = Rules.browse(self.vpn.id)
        for vals in ({"group_ids": [Command.link(self.settings_group.id)]},
                     {"user_ids": [Command.link(self.admin.id)]},
                     {"user_ids": [Command.set([self.employee.id])]}):
            with self.subTest(vals=vals), self.assertRaisesRegex(AccessError, SETTINGS_ONLY):
                vpn.write(vals)
        with self.assertRaisesRegex(AccessError, SETTINGS_ONLY):
            Rules.create({"name": "Mine", "network": "203.0.113.0/24", "group_ids": [Command.link(self.team.id)]})
        self.assertFalse(self.vpn.group_ids or self.vpn.user_ids)
        self.assertFalse(self.settings_group.perimeter_allowlist_ids)
        # Rules that name nobody stay the Perimeter administrator's, as before.
        rule = Rules.create({"name": "Mine", "network": "203.0.113.0/24", "user_ids": [], "group_ids": []})
        rule.write({"network": "203.0.113.0/25", "active": False})
        # A Settings administrator decides.
        self.env(user=self.admin)["perimeter.allowlist"].browse(self.vpn.id).write(
            {"group_ids": [Command.link(self.team.id)], "user_ids": [Command.link(self.employee.id)]})
        self.assertEqual(self.team.perimeter_allowlist_ids, self.vpn)
        self.assertEqual(self.employee.perimeter_allowlist_ids, self.vpn)

    def test_archiving_or_changing_a_named_rule_is_for_settings_administrators(self):
        self.vpn.group_ids = [Command.link(self.team.id)]
        self.office.user_ids = [Command.link(self.employee.id)]
        Rules = self.env(user=self.manager)["perimeter.allowlist"]
        for rule in (self.vpn, self.office):
            for vals in ({"active": False}, {"network": "203.0.113.0/24"},
                         {"expires_at": fields.Datetime.now() + timedelta(days=1)}):
                with self.subTest(rule=rule.name, vals=vals), self.assertRaisesRegex(AccessError, SETTINGS_ONLY):
                    Rules.browse(rule.id).write(vals)
        self.assertEqual((self.vpn.network, self.vpn.active, self.vpn.expires_at), ("10.77.0.0/24", True, False))
        # What does not move anybody's networks stays theirs.
        Rules.browse(self.vpn.id).write({"name": "VPN (Paris)", "note": "New concentrator", "active": True})
        self.assertEqual(self.vpn.name, "VPN (Paris)")
        self.env(user=self.admin)["perimeter.allowlist"].browse(self.vpn.id).write({"network": "10.77.0.0/25"})
        self.assertEqual(self.vpn.network, "10.77.0.0/25")

    def test_a_rule_named_on_users_or_groups_is_not_deleted(self):
        """Deleting a named rule widened its users to their groups' networks; archiving holds them."""
        self.office.user_ids = [Command.link(self.employee.id)]
        self.vpn.group_ids = [Command.link(self.team.id)]
        Policy = self.env["perimeter.policy"]
        for rule, named in ((self.office, self.employee.login), (self.vpn, self.team.name)):
            for env in (self.env(user=self.admin), self.env):  # a Settings administrator, the superuser (shell)
                with self.subTest(rule=rule.name, uid=env.uid), self.assertRaisesRegex(UserError, named) as refused:
                    env["perimeter.allowlist"].browse(rule.id).unlink()
                self.assertIn("Archive it instead", str(refused.exception))
            self.assertTrue(rule.exists())
        holding = Policy._perimeter_holding(Policy._perimeter_policy_build()[0], self.employee.id)
        self.assertEqual((holding.source, list(holding.networks)), ("user", ["192.0.2.0/26"]))
        # Archived, the rule still holds them, and admits nobody.
        self.office.action_archive()
        holding = Policy._perimeter_holding(Policy._perimeter_policy_build()[0], self.employee.id)
        self.assertEqual((holding.source, list(holding.networks)), ("user", []))
        # Once nobody names it, it may go.
        self.office.user_ids = [Command.clear()]
        self.office.unlink()
        self.assertFalse(self.office.exists())


@tagged("post_install", "-at_install")
class TestSettingsAdministratorsKeptIn(PerimeterHttpCase):
    """No change, by anyone, may leave no Settings administrator able to reach Odoo."""

    ADMINS_NET, BEHIND = "10.77.0.0/24", "10.77.0.10"

    def setUp(self):
        super().setUp()
        # Only the rules this test makes: the database's own (demo data) would be more ways in for administrators.
        self.env["perimeter.allowlist"].search([]).write({"active": False})
        self.strict_policy()  # enforce; 127.0.0.1 in; loopback not special; 127.0.0.3 a trusted proxy
        Rules = self.env["perimeter.allowlist"]
        self.inside_rule = Rules.search([("network", "=", f"{INSIDE}/32")])
        self.admins_rule = Rules.create({"name": "Administrators' VPN", "network": self.ADMINS_NET})
        self.keeper = new_test_user(self.env, "perimeter_keeper", password="keeper-password-1",
                                    groups=f"base.group_user,{MANAGER}")
        self.settings_group = self.env.ref("base.group_system")
        self.enterContext(mute_logger("odoo.http"))
        self.env.flush_all()

    def execute_kw(self, model, method, args, *, login="perimeter_keeper", password="keeper-password-1",
                   **where):
        """``execute_kw`` over XML-RPC through Odoo's server: the result, or the fault."""
        uid = self.env["res.users"].search([("login", "=", login)]).id
        where.setdefault("source", INSIDE)
        reply = self.xml_rpc("/xmlrpc/2/object", "execute_kw",
                             [self.env.cr.dbname, uid, password, model, method, args], **where)
        self.assertEqual(reply.status, 200, reply)
        try:
            return xmlrpc.client.loads(reply.body)[0][0]
        except xmlrpc.client.Fault as fault:
            return fault

    def assertFault(self, answer, *texts):
        self.assertIsInstance(answer, xmlrpc.client.Fault, answer)
        for text in texts:
            self.assertIn(text, answer.faultString)

    def test_a_perimeter_administrator_cannot_name_networks_over_rpc(self):
        answer = self.execute_kw("perimeter.allowlist", "write",
                                 [[self.admins_rule.id], {"group_ids": [(4, self.settings_group.id)]}])
        self.assertFault(answer, SETTINGS_ONLY)
        admin = self.env.ref("base.user_admin")
        answer = self.execute_kw("perimeter.allowlist", "write",
                                 [[self.admins_rule.id], {"user_ids": [(4, admin.id)]}])
        self.assertFault(answer, SETTINGS_ONLY)
        self.assertFalse(self.settings_group.perimeter_allowlist_ids)
        self.assertEqual(self.get("/web/login", source=INSIDE).status, 200, "administrators still come in")

    def test_blocking_the_administrators_networks_is_refused(self):
        # A Settings administrator's decision: administrators only from their VPN.
        self.settings_group.perimeter_allowlist_ids = [Command.set(self.admins_rule.ids)]
        self.env.flush_all()
        answer = self.execute_kw("perimeter.blocklist", "create", [{"network": self.ADMINS_NET}])
        self.assertFault(answer, NOBODY_LEFT, "admin", self.ADMINS_NET, "IP Blocklist")
        self.assertFalse(self.env["perimeter.blocklist"].search([("network", "=", self.ADMINS_NET)]))
        # Half of it leaves them the other half.
        self.assertIsInstance(self.execute_kw("perimeter.blocklist", "create", [{"network": "10.77.0.128/25"}]),
                              int)
        behind = {"source": PROXY, "headers": [("X-Forwarded-For", self.BEHIND)]}
        self.assertEqual(self.get("/web/login", **behind).status, 200, "the administrators' VPN still comes in")

    def test_reserving_the_rule_administrators_come_from_is_refused(self):
        # The keeper comes from the office, named on their user (a Settings administrator's decision);
        # administrators have no networks of their own: they come from the IP Allowlist.
        self.keeper.perimeter_allowlist_ids = [Command.set(self.inside_rule.ids)]
        self.admins_rule.active = False
        self.env.flush_all()
        answer = self.execute_kw("perimeter.allowlist", "write", [[self.inside_rule.id], {"reserved": True}])
        self.assertFault(answer, NOBODY_LEFT, "admin", "IP Allowlist")
        self.assertFalse(self.inside_rule.reserved)
        self.assertIsInstance(self.execute_kw("res.partner", "search_count", [[]], login="admin", password="admin"),
                              int, "the administrator still gets in")

    def test_an_expiry_on_the_only_rule_administrators_come_from_is_refused(self):
        # The office is reserved for the keeper; administrators come from the rest of the IP Allowlist: their VPN.
        self.inside_rule.write({"reserved": True, "user_ids": [Command.set(self.keeper.ids)]})
        self.env.flush_all()
        soon = fields.Datetime.to_string(fields.Datetime.now() + timedelta(days=1))
        answer = self.execute_kw("perimeter.allowlist", "write", [[self.admins_rule.id], {"expires_at": soon}])
        self.assertFault(answer, NOBODY_LEFT, "admin", "once the rules with an expiry have run out")
        self.assertFalse(self.admins_rule.expires_at)
