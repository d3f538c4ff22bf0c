"""Audiences through Odoo's real HTTP server: scopes, networks of groups and users, every login path.

Each request comes from a chosen loopback address (127.0.0.x are distinct
clients). Places: the office is 127.0.0.1, the VPN 127.0.0.4, the shop
127.0.0.5, the partner's network 127.0.0.6 (a reserved rule), and 127.0.0.2
is outside everything. Through the trusted proxy (127.0.0.3) the same places
are documentation addresses in X-Forwarded-For.
"""

import re
import xmlrpc.client
from unittest.mock import patch

from odoo import Command
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from ..guard import access_log, odoo_version, rpc_callers
from .common import INSIDE, OUTSIDE, PROXY, PerimeterHttpCase

VPN, SHOP, PARTNER = "127.0.0.4", "127.0.0.5", "127.0.0.6"
# place -> (direct source, address behind the trusted proxy)
PLACES = {
    "office": (INSIDE, "192.0.2.10"),
    "vpn": (VPN, "192.0.2.74"),
    "shop": (SHOP, "192.0.2.130"),
    "partner": (PARTNER, "203.0.113.10"),
    "outside": (OUTSIDE, "192.0.2.200"),
}
NETWORKS = {
    "office": ("127.0.0.1/32", "192.0.2.0/26"),
    "vpn": ("127.0.0.4/32", "192.0.2.64/27"),
    "shop": ("127.0.0.5/32", "192.0.2.128/28"),
    "partner": ("127.0.0.6/32", "203.0.113.0/24"),
}
WRONG = "Wrong login/password"


class AudienceCase(PerimeterHttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        Rules = cls.env["perimeter.allowlist"]
        cls.rules = {}
        for place, networks in NETWORKS.items():
            cls.rules[place] = Rules.create([
                {"name": f"{place} {network}", "network": network, "reserved": place == "partner"}
                for network in networks])
        cls.employee = new_test_user(cls.env, login="emma", password="emma-password-1", groups="base.group_user")
        cls.portal = new_test_user(cls.env, login="paula", password="paula-password-1", groups="base.group_portal")
        cls.cashier_group = cls.env["res.groups"].create({
            "name": "Cashier", "implied_ids": [Command.link(cls.env.ref("base.group_user").id)]})
        cls.cashier = new_test_user(cls.env, login="carl", password="carl-password-1", groups="base.group_user")
        cls.cashier[odoo_version.USER_GROUPS_FIELD] = [Command.link(cls.cashier_group.id)]
        cls.bot = new_test_user(cls.env, login="bot", password="bot-password-1", groups="base.group_user")
        cls.bot_key = cls.env["res.users.apikeys"].with_user(cls.bot).sudo()._generate(None, "Partner sync", None)
        cls.admin = cls.env.ref("base.user_admin")

    def setUp(self):
        super().setUp()
        self.enterContext(mute_logger("odoo.http", "odoo.addons.base.models.res_users"))
        # Odoo's own cooldown after failed logins would change the answers this test compares.
        self.env["ir.config_parameter"].sudo().set_param("base.login_cooldown_after", "0")

    # -- setup ---------------------------------------------------------------------------------

    def networks(self, *places):
        return [Command.set(sum((self.rules[place] for place in places), self.env["perimeter.allowlist"]).ids)]

    def hold(self, scope="internal", mode="enforce"):
        """Scenarios (a), (b), (c): admins from the VPN, employees from the office or VPN, a cashier from the
        shop, the integration user from the partner's network only."""
        self.set_policy(mode=mode, scope=scope, allow_loopback=False, trusted_proxies=f"{PROXY}/32")
        self.env.ref("base.group_user").perimeter_allowlist_ids = self.networks("office", "vpn")
        self.env.ref("base.group_system").perimeter_allowlist_ids = self.networks("vpn")
        self.cashier_group.perimeter_allowlist_ids = self.networks("shop")
        self.bot.perimeter_allowlist_ids = self.networks("partner")
        self.env.flush_all()

    def at(self, place, proxied=False):
        """``call`` keyword arguments for a request from ``place``, directly or through the trusted proxy."""
        direct, behind = PLACES[place]
        if proxied:
            return {"source": PROXY, "headers": [("X-Forwarded-For", behind)]}
        return {"source": direct}

    # -- clients -------------------------------------------------------------------------------

    def rpc_login(self, login, password, **where):
        """``common.login`` over JSON-RPC: the uid, or False (a refusal by the site gate too)."""
        reply = self.json_rpc("/jsonrpc", {"service": "common", "method": "login",
                                           "args": [self.env.cr.dbname, login, password]}, **where)
        return reply.json().get("result") or False

    def execute(self, uid, secret, **where):
        """``execute_kw`` over XML-RPC: the number of partners, or the fault."""
        reply = self.xml_rpc("/xmlrpc/2/object", "execute_kw",
                             [self.env.cr.dbname, uid, secret, "res.partner", "search_count", [[]]], **where)
        try:
            return xmlrpc.client.loads(reply.body)[0][0]
        except xmlrpc.client.Fault as fault:
            return fault

    def session_login(self, login, password, **where):
        """``/web/session/authenticate``: (JSON answer, session id or None)."""
        reply = self.json_rpc("/web/session/authenticate",
                              {"db": self.env.cr.dbname, "login": login, "password": password}, **where)
        self.assertEqual(reply.status, 200, reply)
        return reply.json(), reply.cookie("session_id") or None

    def form_login(self, login, password, **where):
        """The web login form, as a browser posts it: the page answered."""
        page = self.get("/web/login", **where)
        self.assertEqual(page.status, 200, page)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        cookie = page.cookie("session_id")
        body = f"csrf_token={token}&login={login}&password={password}&redirect="
        return self.call("POST", "/web/login", body=body, cookies={"session_id": cookie},
                         headers=[("Content-Type", "application/x-www-form-urlencoded"), *where.get("headers", ())],
                         source=where.get("source", INSIDE))

    def call_kw(self, sid, **where):
        params = {"model": "res.partner", "method": "search_count", "args": [[]], "kwargs": {}}
        return self.json_rpc("/web/dataset/call_kw/res.partner/search_count", params,
                             cookies={"session_id": sid}, **where)

    def user_hits(self, login):
        return [hit for _db, hit in self.hits if hit.reason == "user_network" and hit.login == login]


@tagged("post_install", "-at_install")
class TestScopeInternal(AudienceCase):
    def test_the_public_side_is_open_to_anybody(self):
        self.hold("internal")
        attachment = self.env["ir.attachment"].create({
            "name": "quote.txt", "raw": b"your quotation", "mimetype": "text/plain"})
        token = attachment.generate_access_token()[0]
        public = self.env["ir.attachment"].create({
            "name": "public.txt", "raw": b"public file", "mimetype": "text/plain", "public": True})
        self.env.flush_all()
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 200)
        self.assertEqual(self.get("/logo.png", source=OUTSIDE).status, 200, "the company logo of mails")
        self.assertEqual(self.get(f"/web/content/{public.id}", source=OUTSIDE).body, b"public file")
        document = self.get(f"/web/content/{attachment.id}?access_token={token}", source=OUTSIDE)
        self.assertEqual(document.body, b"your quotation", "a document through its access token")
        # A portal user signs in from home.
        answer, _sid = self.session_login("paula", "paula-password-1", source=OUTSIDE)
        self.assertEqual(answer["result"]["uid"], self.portal.id)
        self.assertEqual(self.rpc_login("paula", "paula-password-1", source=OUTSIDE), self.portal.id)
        self.assertFalse([hit for _db, hit in self.hits if hit.blocked], self.hits)

    def test_in_scope_all_the_same_outsider_is_refused(self):
        self.hold("all")
        self.assertRefused(self.get("/web/login", source=OUTSIDE), OUTSIDE)
        self.assertRefused(self.get("/logo.png", source=OUTSIDE), OUTSIDE)

    def test_internal_users_log_in_only_from_their_networks(self):
        self.hold("internal")
        answer, _sid = self.session_login("emma", "emma-password-1", source=OUTSIDE)
        self.assertEqual(answer["error"]["data"]["name"], "odoo.exceptions.AccessDenied")
        hits = self.user_hits("emma")
        self.assertEqual([(hit.ip, hit.blocked, hit.path) for hit in hits],
                         [(OUTSIDE, True, "/web/session/authenticate")], "once per request, with the login")
        answer, sid = self.session_login("emma", "emma-password-1", source=INSIDE)
        self.assertEqual(answer["result"]["uid"], self.employee.id)
        self.assertTrue(sid)
        self.assertFalse(self.rpc_login("emma", "emma-password-1", source=OUTSIDE))
        self.assertEqual(self.rpc_login("emma", "emma-password-1", source=INSIDE), self.employee.id)
        self.assertIn(WRONG, self.form_login("emma", "emma-password-1", source=OUTSIDE).text)
        self.assertEqual(self.form_login("emma", "emma-password-1", source=INSIDE).status, 303)

    def test_no_password_oracle(self):
        """Outside, a right password, a wrong one and an unknown login get the same answer."""
        self.hold("internal")
        attempts = {"right": ("emma", "emma-password-1"), "wrong": ("emma", "not-her-password"),
                    "unknown": ("nobody-at-all", "emma-password-1")}
        answers = {}
        for name, (login, password) in attempts.items():
            answer, sid = self.session_login(login, password, source=OUTSIDE)
            error = answer["error"]
            answers[name] = (error["code"], error["data"]["name"], error["data"]["message"], "result" in answer)
            self.assertEqual(self.rpc_login(login, password, source=OUTSIDE), False, name)
            form = self.form_login(login, password, source=OUTSIDE)
            self.assertEqual(form.status, 200, name)
            self.assertIn(WRONG, form.text, name)
            fault = self.execute(self.employee.id if login == "emma" else 999999, password, source=OUTSIDE)
            self.assertIsInstance(fault, xmlrpc.client.Fault, name)
            answers[name] += (fault.faultCode, fault.faultString)
        self.assertEqual(answers["right"], answers["wrong"])
        self.assertEqual(answers["right"][:4], answers["unknown"][:4])
        self.assertTrue(self.user_hits("emma"), "the administrator sees the truth in the access log")

    def test_no_traceback_oracle(self):
        """Outside, the whole JSON answer of /web/session/authenticate, its traceback (``error.data.debug``)
        included, is the same for an unknown login, a portal user's wrong password and a held user's right or
        wrong password: where the refusal was raised tells nothing."""
        self.hold("internal")
        attempts = {
            "unknown login": ("nobody-at-all", "emma-password-1"),
            "portal user, wrong password": ("paula", "not-her-password"),
            "held user, right password": ("emma", "emma-password-1"),
            "held user, wrong password": ("emma", "not-her-password"),
        }
        answers = {}
        for name, (login, password) in attempts.items():
            reply = self.json_rpc("/web/session/authenticate",
                                  {"db": self.env.cr.dbname, "login": login, "password": password}, source=OUTSIDE)
            self.assertEqual(reply.status, 200, name)
            self.assertEqual(reply.json()["error"]["data"]["name"], "odoo.exceptions.AccessDenied", name)
            answers[name] = reply.text
        for name, answer in answers.items():
            self.assertEqual(answer, answers["unknown login"], name)
        # The held user's right password still opens a session from the office.
        answer, _sid = self.session_login("emma", "emma-password-1", source=INSIDE)
        self.assertEqual(answer["result"]["uid"], self.employee.id)

    def test_cookie_replay_from_outside(self):
        self.hold("internal")
        _answer, sid = self.session_login("emma", "emma-password-1", source=INSIDE)
        self.assertEqual(self.call_kw(sid, source=INSIDE).json()["result"], self.env["res.partner"].search_count([]))
        replay = self.call_kw(sid, source=OUTSIDE)
        self.assertRefused(replay, OUTSIDE, "json")
        self.assertEqual([hit.ip for hit in self.user_hits("emma")], [OUTSIDE])
        # The session is ended: the stolen cookie is dead, inside too.
        after = self.call_kw(sid, source=INSIDE).json()
        self.assertEqual(after["error"]["code"], 100, "Odoo's own 'session expired'")

    def test_a_browser_outside_gets_the_login_page(self):
        self.hold("internal")
        _answer, sid = self.session_login("emma", "emma-password-1", source=INSIDE)
        self.assertEqual(self.get("/odoo", cookies={"session_id": sid}, source=INSIDE).status, 200)
        page = self.get("/odoo", cookies={"session_id": sid}, source=OUTSIDE)
        self.assertEqual(page.status, 303)
        self.assertIn("/web/login", page.header("Location"))
        self.assertEqual(self.get("/odoo", cookies={"session_id": sid}, source=INSIDE).status, 303, "ended")

    def test_rpc_as_an_internal_user_from_outside(self):
        self.hold("internal")
        self.assertIsInstance(self.execute(self.employee.id, "emma-password-1", source=INSIDE), int)
        fault = self.execute(self.employee.id, "emma-password-1", source=OUTSIDE)
        self.assertEqual(fault.faultCode, 3, "AccessDenied, as for a wrong password")
        # Odoo caches a good (uid, password): the next call from outside is refused all the same.
        self.assertIsInstance(self.execute(self.employee.id, "emma-password-1", source=OUTSIDE), xmlrpc.client.Fault)
        # API keys of an internal user too.
        key = self.env["res.users.apikeys"].with_user(self.employee).sudo()._generate(None, "script", None)
        self.assertIsInstance(self.execute(self.employee.id, key, source=INSIDE), int)
        self.assertIsInstance(self.execute(self.employee.id, key, source=OUTSIDE), xmlrpc.client.Fault)
        self.assertFalse(self.rpc_login("emma", key, source=OUTSIDE))

    def test_bearer_api_key_from_outside_is_a_wrong_key(self):
        self.hold("internal")
        # The RPC caller record flushes on the request path now and then; not what this test is about.
        self.startPatcher(patch.object(rpc_callers, "record_call", lambda *args, **kwargs: None))
        self.env["ir.config_parameter"].set_param("web.json.enabled", "True")
        self.employee[odoo_version.USER_GROUPS_FIELD] = [Command.link(self.env.ref("base.group_allow_export").id)]
        key = self.env["res.users.apikeys"].with_user(self.employee).sudo()._generate(None, "script", None)
        self.env.flush_all()
        path = "/json/1/action-base.action_partner_form?view_type=list"

        def status(source, secret):
            return self.get(path, source=source, headers=[("Authorization", f"Bearer {secret}")]).status

        self.assertEqual(status(OUTSIDE, "0" * 40), 401)
        self.assertEqual(status(OUTSIDE, key), 401, "the same answer as a wrong key")
        self.assertNotIn(status(INSIDE, key), (401, 403))
        self.assertEqual([hit.ip for hit in self.user_hits("emma")], [OUTSIDE])

    def test_monitor_logs_once_per_request_and_blocks_nothing(self):
        self.hold("internal", mode="monitor")
        answer, sid = self.session_login("emma", "emma-password-1", source=OUTSIDE)
        self.assertEqual(answer["result"]["uid"], self.employee.id)
        self.assertEqual([(hit.ip, hit.blocked) for hit in self.user_hits("emma")], [(OUTSIDE, False)])
        self.assertEqual(self.call_kw(sid, source=OUTSIDE).status, 200)
        self.assertEqual(self.execute(self.employee.id, "emma-password-1", source=OUTSIDE),
                         self.env["res.partner"].search_count([]))
        self.assertEqual(len(self.user_hits("emma")), 3, "one per request")
        self.assertFalse([hit for _db, hit in self.hits if hit.blocked])

    def test_the_access_log_names_the_login(self):
        self.hold("internal")
        access_log.discard_pending()
        self.session_login("emma", "emma-password-1", source=OUTSIDE)
        access_log.flush_now(self.env.cr.dbname)
        row = self.env["perimeter.access.log"].search([("reason", "=", "user_network"), ("ip", "=", OUTSIDE)])
        self.assertEqual((row.login, row.blocked, row.hits), ("emma", True, 1))


@tagged("post_install", "-at_install")
class TestScenarios(AudienceCase):
    """(a) administrators only from the VPN, other employees from the office or the VPN; (b) a cashier only
    from the shop; (c) an integration user only from its partner's network, which admits nobody else.
    In both scopes, directly and through a trusted proxy."""

    def check_scenarios(self, scope, proxied):
        self.hold(scope)
        expected = [
            ("admin", "admin", {"vpn"}),
            ("emma", "emma-password-1", {"office", "vpn"}),
            ("carl", "carl-password-1", {"shop"}),
            ("bot", "bot-password-1", {"partner"}),
            ("bot", self.bot_key, {"partner"}),
        ]
        for login, password, places in expected:
            for place in PLACES:
                with self.subTest(scope=scope, proxied=proxied, login=login, place=place):
                    uid = self.rpc_login(login, password, **self.at(place, proxied))
                    self.assertEqual(bool(uid), place in places)
        # Nobody else from the partner's network, even with no networks of their own.
        self.env.ref("base.group_user").perimeter_allowlist_ids = [Command.clear()]
        self.env.flush_all()
        self.assertFalse(self.rpc_login("emma", "emma-password-1", **self.at("partner", proxied)))
        self.assertTrue(self.rpc_login("emma", "emma-password-1", **self.at("shop", proxied)), "the allowlist")
        # The integration user's calls, and its key, from its network only.
        self.assertIsInstance(self.execute(self.bot.id, self.bot_key, **self.at("partner", proxied)), int)
        self.assertIsInstance(self.execute(self.bot.id, self.bot_key, **self.at("office", proxied)),
                              xmlrpc.client.Fault)

    def test_scope_internal(self):
        self.check_scenarios("internal", proxied=False)

    def test_scope_all(self):
        self.check_scenarios("all", proxied=False)

    def test_scope_internal_through_a_proxy(self):
        self.check_scenarios("internal", proxied=True)

    def test_scope_all_through_a_proxy(self):
        self.check_scenarios("all", proxied=True)

    def test_scope_all_the_partner_network_is_no_public_network(self):
        self.hold("all")
        public = self.env["ir.attachment"].create({
            "name": "public.txt", "raw": b"public file", "mimetype": "text/plain", "public": True})
        self.env.flush_all()
        self.assertRefused(self.get(f"/web/content/{public.id}", source=PARTNER), PARTNER)
        self.assertHit(PARTNER, "not_allowlisted", path=f"/web/content/{public.id}")
        self.assertEqual(self.get(f"/web/content/{public.id}", source=INSIDE).status, 200)
        # In scope internal the public side is everybody's.
        self.set_policy(scope="internal")
        self.assertEqual(self.get(f"/web/content/{public.id}", source=PARTNER).status, 200)


@tagged("post_install", "-at_install")
class TestAudienceLockout(AudienceCase):
    """Restricting your own group or user to networks you are not on, or switching scope so that your own
    session would be refused, is refused with an explanation."""

    LOCKOUT = "This change is refused because it would lock you out."

    def setUp(self):
        super().setUp()
        self.set_policy(mode="enforce", scope="all", allow_loopback=False, trusted_proxies=f"{PROXY}/32")
        self.authenticate("admin", "admin")

    def admin_call(self, model, method, args, source=INSIDE):
        params = {"model": model, "method": method, "args": args, "kwargs": {}}
        reply = self.json_rpc(f"/web/dataset/call_kw/{model}/{method}", params,
                              cookies={"session_id": self.session.sid}, source=source)
        self.assertEqual(reply.status, 200, reply)
        return reply.json()

    def assertLockout(self, answer, *words):
        self.assertIn("error", answer, answer)
        message = answer["error"]["data"]["message"]
        self.assertIn(self.LOCKOUT, message)
        self.assertIn(INSIDE, message)
        for word in words:
            self.assertIn(word, message)

    def test_your_own_group(self):
        system = self.env.ref("base.group_system")
        vpn = self.rules["vpn"].ids
        self.assertLockout(self.admin_call("res.groups", "write", [system.ids, {
            "perimeter_allowlist_ids": [Command.set(vpn)]}]), "admin", system.name)  # 18 Settings, 19 Administrator
        self.assertFalse(system.perimeter_allowlist_ids, "nothing was saved")
        # A group that is not yours, or networks you are on: fine.
        self.assertNotIn("error", self.admin_call("res.groups", "write", [self.cashier_group.ids, {
            "perimeter_allowlist_ids": [Command.set(vpn)]}]))
        office_and_vpn = (self.rules["office"] | self.rules["vpn"]).ids
        self.assertNotIn("error", self.admin_call("res.groups", "write", [system.ids, {
            "perimeter_allowlist_ids": [Command.set(office_and_vpn)]}]))
        # Joining a group held elsewhere is judged too.
        system.perimeter_allowlist_ids = [Command.clear()]
        self.cashier_group.perimeter_allowlist_ids = [Command.set(self.rules["shop"].ids)]
        self.env.flush_all()
        self.assertLockout(self.admin_call("res.users", "write", [self.admin.ids, {
            odoo_version.USER_GROUPS_FIELD: [Command.link(self.cashier_group.id)]}]), "admin", "Cashier")
        self.env.invalidate_all()
        self.assertNotIn(self.cashier_group, self.admin[odoo_version.USER_GROUPS_FIELD])

    def test_your_own_user(self):
        self.assertLockout(self.admin_call("res.users", "write", [self.admin.ids, {
            "perimeter_allowlist_ids": [Command.set(self.rules["vpn"].ids)]}]), "admin", "named on the user")
        self.assertFalse(self.admin.perimeter_allowlist_ids)
        # Somebody else's user: fine.
        self.assertNotIn("error", self.admin_call("res.users", "write", [self.employee.ids, {
            "perimeter_allowlist_ids": [Command.set(self.rules["vpn"].ids)]}]))

    def test_reserving_the_rule_you_come_from(self):
        self.assertLockout(self.admin_call("perimeter.allowlist", "write", [self.rules["office"].ids, {
            "reserved": True}]), "admin")
        self.assertFalse(self.rules["office"].filtered("reserved"))

    def test_switching_scope_so_that_your_session_would_be_refused(self):
        # Monitoring, scope all: the administrator works from outside the networks of the Settings group.
        self.set_policy(mode="monitor", rules=[f"{OUTSIDE}/32"])
        self.env.ref("base.group_system").perimeter_allowlist_ids = self.networks("vpn")
        self.env.flush_all()
        settings = self.admin_call("res.config.settings", "create", [{
            "perimeter_mode": "enforce", "perimeter_scope": "internal"}], source=OUTSIDE)["result"]
        answer = self.admin_call("res.config.settings", "execute", [[settings]], source=OUTSIDE)
        self.assertIn(self.LOCKOUT, answer["error"]["data"]["message"])
        self.assertIn(OUTSIDE, answer["error"]["data"]["message"])
        params = self.env["ir.config_parameter"]
        self.assertEqual((params.get_param("perimeter_security.mode"), params.get_param("perimeter_security.scope")),
                         ("monitor", "all"))


@tagged("post_install", "-at_install")
class TestAudienceBackend(AudienceCase):
    def test_users_list_filter_and_rule_form(self):
        self.hold("internal")
        held = self.env["res.users"].search([("perimeter_held", "=", True), ("login", "in",
                                            ["emma", "carl", "bot", "paula", "admin"])])
        self.assertEqual(set(held.mapped("login")), {"emma", "carl", "bot", "admin"})
        self.assertEqual(self.rules["vpn"].group_ids,
                         self.env.ref("base.group_user") | self.env.ref("base.group_system"))
        self.assertEqual(self.rules["partner"].user_ids, self.bot)
        self.assertEqual(self.admin.perimeter_networks_source, "groups")
        self.assertEqual(set(self.admin.perimeter_effective_networks.split()), set(NETWORKS["vpn"]))
        self.assertEqual(self.bot.perimeter_networks_source, "user")
        self.assertIn("Anywhere", self.portal.perimeter_effective_networks)
        # The views load with their fields.
        for view in ("base.view_users_form", "base.view_users_tree", "base.view_groups_form"):
            model = self.env.ref(view).model
            self.env[model].get_views([(self.env.ref(view).id, self.env.ref(view).type)])
        arch = self.env["res.users"].get_views([(False, "search")])["views"]["search"]["arch"]
        self.assertIn("filter_perimeter_held", arch)

    def test_scope_setting_is_validated(self):
        from odoo.exceptions import ValidationError  # noqa: PLC0415

        with self.assertRaisesRegex(ValidationError, "'everyone' is not one of all, internal"):
            self.env["ir.config_parameter"].set_param("perimeter_security.scope", "everyone")

    def test_the_tour(self):
        """An administrator holds the Settings group to the VPN from the office and is told why it is refused."""
        self.set_policy(mode="enforce", scope="internal", allow_loopback=False)
        self.env.ref("base.group_user").perimeter_allowlist_ids = self.networks("office", "vpn")
        self.env.flush_all()
        system = self.env.ref("base.group_system")
        self.start_tour(f"/odoo/action-base.action_res_groups/{system.id}", "perimeter_security_audience_tour",
                        login="admin")
        self.assertFalse(system.perimeter_allowlist_ids)
