"""The fence of inbound connected systems, through Odoo's real HTTP server.

Each request comes from a chosen loopback address (the socket is bound to it),
so 127.0.0.1 and 127.0.0.2 are two distinct clients.
"""

import contextlib
import xmlrpc.client
from unittest.mock import patch

from odoo.exceptions import AccessDenied
from odoo.tests import HttpCase, new_test_user, tagged
from odoo.tools import mute_logger

from odoo.addons.perimeter_security.guard import access_log, odoo_version, rpc_callers

from .common import INSIDE, OUTSIDE, PerimeterMixin


class FenceCase(PerimeterMixin, HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Systems = cls.env["perimeter.connected.system"]
        cls.bot = new_test_user(cls.env, login="shop_bot", password="shop_bot_password",
                                groups="base.group_user,base.group_allow_export")
        cls.key_secret = cls.env["res.users.apikeys"].with_user(cls.bot).sudo()._generate(None, "Web shop", None)
        cls.key = cls.env["res.users.apikeys"].sudo().search([("user_id", "=", cls.bot.id)])

    @contextlib.contextmanager
    def _shared_transaction(self):
        """The server shares this test's transaction: hand it our pending writes, and read its own afterwards."""
        self.env.flush_all()
        try:
            yield
        finally:
            self.env.invalidate_all()

    def _request(self, method, path, source, headers=None):
        with self._shared_transaction():
            return self.call(method, path, source=source, headers=list((headers or {}).items()))

    def _json(self, path, params, source, headers=None, cookies=None):
        with self._shared_transaction():
            reply = self.json_rpc(path, params, source=source, headers=list((headers or {}).items()), cookies=cookies)
        self.assertEqual(reply.status, 200, reply)
        return reply.json(), reply

    def _jsonrpc(self, service, method, args, source, headers=None):
        return self._json("/jsonrpc", {"service": service, "method": method, "args": args}, source, headers)[0]

    def _count_partners(self, source, uid, secret):
        """``search_count`` over XML-RPC (``/xmlrpc/2/object``); a refusal raises its ``xmlrpc.client.Fault``."""
        with self._shared_transaction():
            reply = self.xml_rpc("/xmlrpc/2/object", "execute_kw",
                                 [self.env.cr.dbname, uid, secret, "res.partner", "search_count", [[]]], source=source)
        return xmlrpc.client.loads(reply.body)[0][0]

    def _fence_key(self, networks):
        self.Systems._discover()
        system = self.Systems.search([("discovery_key", "=", f"res.users.apikeys,{self.key.id}")])
        self.assertEqual(system.apikey_ids, self.key, [(s.discovery_key, s.name) for s in self.Systems.search([])])
        system.allowed_networks = networks
        return system


@tagged("post_install", "-at_install")
class TestSystemFence(FenceCase):
    def test_api_key_is_accepted_only_from_its_networks(self):
        db = self.env.cr.dbname
        # Not fenced yet: accepted from anywhere.
        self.assertIsInstance(self._count_partners(OUTSIDE, self.bot.id, self.key_secret), int)
        self._fence_key("127.0.0.1/32")

        # Odoo caches a successful check() per (uid, key): the fence must still run on every call.
        self.assertIsInstance(self._count_partners(INSIDE, self.bot.id, self.key_secret), int)
        with (patch.object(access_log, "record_hit", wraps=access_log.record_hit) as record_hit,
              mute_logger("odoo.http")):
            with self.assertRaises(xmlrpc.client.Fault) as refused:
                self._count_partners(OUTSIDE, self.bot.id, self.key_secret)
        self.assertEqual(refused.exception.faultCode, 3, "an AccessDenied, as for a wrong key")
        self.assertEqual(record_hit.call_count, 1)
        dbname, hit = record_hit.call_args.args
        self.assertEqual(dbname, db)
        self.assertEqual((hit.ip, hit.reason, hit.blocked, hit.path, hit.method),
                         (OUTSIDE, "system_network", True, "/xmlrpc/2/object", "POST"))
        # The same key still works from inside.
        self.assertIsInstance(self._count_partners(INSIDE, self.bot.id, self.key_secret), int)

        # Logging in with the key over JSON-RPC: refused outside, accepted inside.
        with mute_logger("odoo.http"):
            self.assertFalse(self._jsonrpc("common", "login", [db, "shop_bot", self.key_secret], OUTSIDE)["result"])
        self.assertEqual(self._jsonrpc("common", "login", [db, "shop_bot", self.key_secret], INSIDE)["result"],
                         self.bot.id)

    def test_bound_user_logs_in_only_from_its_networks(self):
        self.Systems.create({"name": "Cash registers", "kind": "pos", "direction": "inbound",
                             "allowed_networks": "127.0.0.1/32", "user_ids": [(6, 0, self.bot.ids)]})
        params = {"db": self.env.cr.dbname, "login": "shop_bot", "password": "shop_bot_password"}
        with mute_logger("odoo.http"):
            refused, _ = self._json("/web/session/authenticate", params, OUTSIDE)
        self.assertIn("error", refused)
        accepted, _ = self._json("/web/session/authenticate", params, INSIDE)
        self.assertEqual(accepted["result"]["uid"], self.bot.id)
        # Password RPC too, and its API keys since the user is bound.
        with self.assertRaises(xmlrpc.client.Fault), mute_logger("odoo.http"):
            self._count_partners(OUTSIDE, self.bot.id, "shop_bot_password")
        with self.assertRaises(xmlrpc.client.Fault), mute_logger("odoo.http"):
            self._count_partners(OUTSIDE, self.bot.id, self.key_secret)
        self.assertIsInstance(self._count_partners(INSIDE, self.bot.id, "shop_bot_password"), int)

    def test_bearer_requests_get_403_outside(self):
        self.env["ir.config_parameter"].set_param("web.json.enabled", "True")
        self._fence_key("127.0.0.1/32")
        path = "/json/1/action-base.action_partner_form?view_type=list"

        def status(source, secret):
            return self._request("GET", path, source, headers={"Authorization": f"Bearer {secret}"}).status

        with mute_logger("odoo.http"):
            self.assertEqual(status(OUTSIDE, "0" * 40), 401, "a wrong key is still a wrong key")
            self.assertEqual(status(OUTSIDE, self.key_secret), 403)
        self.assertNotIn(status(INSIDE, self.key_secret), (401, 403))

    def test_a_trusted_proxy_names_the_client(self):
        self.env["ir.config_parameter"].set_param("perimeter_security.trusted_proxies", "127.0.0.1")
        self._fence_key("198.51.100.0/24")
        relayed = {"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"}
        args = [self.env.cr.dbname, "shop_bot", self.key_secret]
        self.assertEqual(self._jsonrpc("common", "login", args, INSIDE, relayed)["result"], self.bot.id)
        # Forwarding headers from a peer that is not a trusted proxy name nobody.
        with mute_logger("odoo.http"):
            self.assertFalse(self._jsonrpc("common", "login", args, OUTSIDE, relayed)["result"])

    def test_no_request_no_client_bound_credential_refused(self):
        self._fence_key("127.0.0.1/32")
        with self.assertRaises(AccessDenied):
            odoo_version.call_check(self.env, self.bot.id, self.key_secret)

    def test_an_administrator_cannot_fence_themselves_out(self):
        login = {"db": self.env.cr.dbname, "login": "admin", "password": "admin"}
        _, reply = self._json("/web/session/authenticate", login, OUTSIDE)
        session_id = reply.header("Set-Cookie").split(";")[0].partition("=")[2]
        admin = self.env.ref("base.user_admin")

        def create(networks):
            params = {"model": "perimeter.connected.system", "method": "create", "kwargs": {}, "args": [{
                "name": "Admin laptop", "kind": "other", "direction": "inbound",
                "allowed_networks": networks, "user_ids": [(6, 0, admin.ids)],
            }]}
            return self._json("/web/dataset/call_kw", params, OUTSIDE, cookies={"session_id": session_id})[0]

        with mute_logger("odoo.http"):
            refused = create("127.0.0.1/32")
        self.assertIn("This would lock you out", refused["error"]["data"]["message"])
        self.assertIn(OUTSIDE, refused["error"]["data"]["message"])
        self.assertFalse(self.Systems.search([("name", "=", "Admin laptop")]))
        self.assertTrue(create("127.0.0.0/8")["result"])


@tagged("post_install", "-at_install")
class TestRpcCallers(FenceCase):
    def test_callers_are_recorded_and_judge_the_system(self):
        self.env["ir.config_parameter"].set_param("perimeter_security.trusted_proxies", "127.0.0.1")
        self._count_partners(OUTSIDE, self.bot.id, self.key_secret)
        self._count_partners(OUTSIDE, self.bot.id, self.key_secret)
        relayed = {"X-Forwarded-For": "198.51.100.7", "X-Forwarded-Proto": "https"}
        self._jsonrpc("object", "execute_kw",
                      [self.env.cr.dbname, self.bot.id, self.key_secret, "res.partner", "search_count", [[]]],
                      INSIDE, relayed)
        self._jsonrpc("common", "login", [self.env.cr.dbname, "shop_bot", "shop_bot_password"], OUTSIDE)
        rpc_callers.flush(env=self.env)

        callers = self.env["perimeter.rpc.caller"].search([("user_id", "=", self.bot.id)])
        seen = {(c.apikey_id.id, c.ip, c.scheme): c.hits for c in callers}
        self.assertEqual(seen, {
            (self.key.id, OUTSIDE, "http"): 2,
            (self.key.id, "198.51.100.7", "https"): 1,
            (False, OUTSIDE, "http"): 1,
        })

        self.Systems._discover()
        key_system = self.Systems.search([("discovery_key", "=", f"res.users.apikeys,{self.key.id}")])
        user_system = self.Systems.search([("discovery_key", "=", f"res.users,{self.bot.id}")])
        (key_system | user_system).action_check()
        self.assertEqual(key_system.state, "critical")
        self.assertIn(f"Calls over plain HTTP from {OUTSIDE}", key_system.details)
        self.assertIn("198.51.100.7 over HTTPS: 1 call", key_system.details)
        self.assertEqual(user_system.state, "critical")
        self.assertEqual(user_system.user_ids, self.bot)
