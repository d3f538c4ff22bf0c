import json
import xmlrpc.client

import odoo
from odoo.http import Application, Request, Session
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..guard import server_config, server_tier
from .common import INSIDE, OUTSIDE, PerimeterHttpCase, no_database_selected

STATIC_FILE = "/web/static/img/favicon.ico"


@tagged("post_install", "-at_install")
class TestServerTier(PerimeterHttpCase):
    """Static files, requests with no database, the database manager and cross-database RPC."""

    def _execute_kw(self, path, source):
        params = [self.env.cr.dbname, 2, "admin", "res.users", "search_count", [[("login", "=", "admin")]]]
        return self.xml_rpc(path, "execute_kw", params, source=source)

    def _jsonrpc_object(self, source):
        args = [self.env.cr.dbname, 2, "admin", "res.users", "search_count", [[("login", "=", "admin")]]]
        return self.json_rpc("/jsonrpc", {"service": "object", "method": "execute_kw", "args": args}, source=source)

    def test_guard_is_installed_once(self):
        for owner, name in ((Application, "__call__"), (Request, "_serve_static"), (Request, "_serve_nodb"),
                            (Request, "_serve_db"), (Session, "authenticate"), (odoo.service.model, "dispatch"),
                            (odoo.service.common, "dispatch"), (odoo.service.db, "dispatch")):
            self.assertTrue(server_tier.is_installed(owner, name), name)
        wrapped = Application.__call__
        server_tier.install()
        self.assertIs(Application.__call__, wrapped, "installing again wraps nothing twice")
        self.assertIs(odoo.http.root.__class__, Application, "odoo.http.root is never rebound")

    def test_requests_with_no_database_follow_the_configuration_file(self):
        with no_database_selected():
            # No [perimeter_security] section: the server tier changes nothing.
            self.assertEqual(self.get("/web/database/selector", source=OUTSIDE).status, 200)
            self.assertEqual(self.get(STATIC_FILE, source=OUTSIDE).status, 200)
            self.set_server_section(server_allowlist=f"{INSIDE}/32", allow_loopback=False)
            self.assertRefused(self.get("/web/database/manager", source=OUTSIDE), OUTSIDE)
            self.assertRefused(self.get("/web/database/selector", source=OUTSIDE), OUTSIDE)
            self.assertRefused(self.get("/web/login", source=OUTSIDE), OUTSIDE)
            self.assertRefused(self.get(STATIC_FILE, source=OUTSIDE), OUTSIDE)
            self.assertRefused(self.get("/no/such/page", source=OUTSIDE), OUTSIDE)
            self.assertRefused(self.json_rpc("/web/database/list", source=OUTSIDE), OUTSIDE, "json")
            self.assertRefused(self.xml_rpc("/xmlrpc/2/db", "list", [], source=OUTSIDE), OUTSIDE, "xmlrpc")
            self.assertRefused(self.xml_rpc("/xmlrpc/2/common", "version", [], source=OUTSIDE), OUTSIDE, "xmlrpc")
            self.assertRefused(self.json_rpc("/jsonrpc", {"service": "db", "method": "list", "args": []},
                                             source=OUTSIDE), OUTSIDE, "json")
            self.assertHit(OUTSIDE, "not_allowlisted", path="/web/database/manager", dbname=False)
            # The allowlisted client sees Odoo's own answers.
            self.assertEqual(self.get("/web/database/manager").status, 200)
            self.assertEqual(self.get(STATIC_FILE).status, 200)
            self.assertIn("result", self.json_rpc("/web/database/list").json())
            version = xmlrpc.client.loads(self.xml_rpc("/xmlrpc/2/common", "version", []).body)[0][0]
            self.assertIn("server_version", version)
            # Loopback passes by default.
            self.set_server_section(server_allowlist="")
            self.assertEqual(self.get("/web/database/manager", source=OUTSIDE).status, 200)

    def test_database_manager_answers_to_the_server_policy_even_with_a_database(self):
        self.set_server_section(server_allowlist=f"{INSIDE}/32", allow_loopback="False")
        self.assertRefused(self.get("/web/database/manager", source=OUTSIDE), OUTSIDE)
        self.assertRefused(self.xml_rpc("/xmlrpc/2/db", "list", [], source=OUTSIDE), OUTSIDE, "xmlrpc")
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 200, "the database's own policy is off")
        self.assertEqual(self.get("/web/database/manager").status, 200)

    def test_static_files_follow_the_database_policy(self):
        self.strict_policy()
        self.assertRefused(self.get(STATIC_FILE, source=OUTSIDE), OUTSIDE)
        self.assertHit(OUTSIDE, "not_allowlisted", path=STATIC_FILE)
        self.assertEqual(self.get(STATIC_FILE).status, 200)
        self.assertEqual(self.get("/web/static/no/such/file.js").status, 404)
        self.assertRefused(self.get("/web/static/no/such/file.js", source=OUTSIDE), OUTSIDE)

    def test_rpc_is_judged_by_the_database_named_in_the_payload(self):
        """With no database selected, /xmlrpc/2/object and /jsonrpc still answer to the target's policy."""
        self.strict_policy()
        with no_database_selected():
            fault_reply = self._execute_kw("/xmlrpc/2/object", OUTSIDE)
            self.assertEqual(fault_reply.status, 200, "an XML-RPC fault, the way RPC clients read refusals")
            with self.assertRaises(xmlrpc.client.Fault) as fault:
                xmlrpc.client.loads(fault_reply.body)
            self.assertEqual(fault.exception.faultCode, 3)
            self.assertIn(f"not allowed. Your address, as this server sees it: {OUTSIDE}", fault.exception.faultString)
            self.assertNotIn("Traceback", fault.exception.faultString)
            legacy = self._execute_kw("/xmlrpc/object", OUTSIDE)
            with self.assertRaises(xmlrpc.client.Fault) as fault:
                xmlrpc.client.loads(legacy.body)
            self.assertEqual(fault.exception.faultCode, "AccessDenied")
            login = self.xml_rpc("/xmlrpc/2/common", "login", [self.env.cr.dbname, "admin", "admin"], source=OUTSIDE)
            with self.assertRaises(xmlrpc.client.Fault):
                xmlrpc.client.loads(login.body)
            self.assertRefused(self._jsonrpc_object(OUTSIDE), OUTSIDE, "json")
            self.assertHit(OUTSIDE, "not_allowlisted", path="/xmlrpc/2/object")
            # Inside: the real answers.
            self.assertEqual(xmlrpc.client.loads(self._execute_kw("/xmlrpc/2/object", INSIDE).body)[0][0], 1)
            self.assertEqual(self._jsonrpc_object(INSIDE).json()["result"], 1)
            uid = xmlrpc.client.loads(
                self.xml_rpc("/xmlrpc/2/common", "login", [self.env.cr.dbname, "admin", "admin"]).body)[0][0]
            self.assertEqual(uid, 2)
            # Methods that name no database are left alone.
            version = self.xml_rpc("/xmlrpc/2/common", "version", [], source=OUTSIDE)
            self.assertIn("server_version", xmlrpc.client.loads(version.body)[0][0])

    def test_session_authenticate_is_judged_by_the_database_it_names(self):
        self.strict_policy()
        params = {"db": self.env.cr.dbname, "login": "admin", "password": "admin"}
        with no_database_selected():
            self.assertRefused(self.json_rpc("/web/session/authenticate", params, source=OUTSIDE), OUTSIDE, "json")
            self.assertHit(OUTSIDE, "not_allowlisted", path="/web/session/authenticate")
            inside = self.json_rpc("/web/session/authenticate", params)
        self.assertEqual(inside.json()["result"]["uid"], 2)

    def test_rpc_refusal_happens_before_the_password_is_checked(self):
        self.strict_policy()
        with no_database_selected(), mute_logger("odoo.addons.base.models.res_users"):
            reply = self.xml_rpc("/xmlrpc/2/object", "execute_kw",
                                 [self.env.cr.dbname, 2, "wrong password", "res.users", "search_count", [[]]],
                                 source=OUTSIDE)
        with self.assertRaises(xmlrpc.client.Fault) as fault:
            xmlrpc.client.loads(reply.body)
        self.assertIn(OUTSIDE, fault.exception.faultString, "refused as an outsider, not as a wrong password")

    def test_unreadable_section_fails_closed_and_says_so(self):
        with self.assertLogs("odoo.addons.perimeter_security.guard.server_config", "ERROR") as logs:
            self.set_server_section(server_allowlist="10.0.0.1/8", allow_loopback=False, disabel=True)
            policy = server_config.server_decider().policy
        self.assertIn("did you mean '10.0.0.0/8'", "\n".join(logs.output))
        self.assertIn("disabel: unknown option", "\n".join(logs.output))
        self.assertEqual(policy.mode, "enforce")
        with no_database_selected():
            self.assertRefused(self.get("/web/database/manager"), INSIDE)

    def test_break_glass_is_announced_when_the_guard_starts(self):
        self.set_server_section(disabled=True)
        with self.assertLogs("odoo.addons.perimeter_security.guard.server_tier", "WARNING") as logs:
            server_tier.install()
        self.assertIn("BREAK-GLASS is on", "\n".join(logs.output))

    def test_databases_without_the_module_are_not_touched(self):
        self.assertIsNone(server_tier.database_decider("perimeter_no_such_database"))
        self.assertIsNotNone(server_tier.database_decider(self.env.cr.dbname))

    def test_json_refusal_is_a_json_rpc_error(self):
        self.strict_policy()
        body = self.json_rpc("/web/dataset/call_kw/res.partner/read", source=OUTSIDE).json()
        self.assertEqual(set(body), {"jsonrpc", "id", "error"})
        self.assertEqual(json.dumps(body["error"]["data"]["arguments"]).count(OUTSIDE), 1)
