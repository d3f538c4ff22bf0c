"""Odoo 19's ``/json/2/<model>/<method>`` with bearer API keys: judged as the key's user on every count."""

import json
import unittest

from odoo.tests import tagged
from odoo.tools import mute_logger

from odoo.addons.perimeter_security.guard import odoo_version, rpc_callers

from .common import INSIDE, OUTSIDE
from .test_system_fence import FenceCase


@tagged("post_install", "-at_install")
@unittest.skipUnless(odoo_version.ODOO_19, "/json/2 exists from Odoo 19 on")
class TestJson2(FenceCase):
    def _json2(self, source, secret, model="res.partner", method="search_count"):
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json",
                   "X-Odoo-Database": self.env.cr.dbname}
        with self._shared_transaction():
            return self.call("POST", f"/json/2/{model}/{method}", source=source, body=json.dumps({"domain": []}),
                             headers=list(headers.items()))

    def test_the_site_gate_refuses_an_outsider_in_json2s_own_error_format(self):
        self.strict_policy()
        refused = self._json2(OUTSIDE, self.key_secret)
        self.assertRefused(refused, OUTSIDE, "status")
        error = refused.json()
        self.assertEqual((error["name"], error["client_address"], error["arguments"][1]), ("Forbidden", OUTSIDE, 403))
        self.assertIn(OUTSIDE, error["message"])
        self.assertFalse(error["debug"], "no traceback")
        self.assertNotIn("odoo", refused.text.lower())
        self.assertHit(OUTSIDE, "not_allowlisted", path="/json/2/res.partner/search_count")
        self.assertEqual(self._json2(INSIDE, self.key_secret).json(), self.env["res.partner"].search_count([]))

    def test_a_fenced_key_is_refused_outside_its_networks_and_its_calls_recorded(self):
        self._fence_key(f"{INSIDE}/32")
        with mute_logger("odoo.http"):
            self.assertEqual(self._json2(OUTSIDE, "0" * 40).status, 401, "a wrong key is still a wrong key")
            self.assertEqual(self._json2(OUTSIDE, self.key_secret).status, 403)
        self.assertHit(OUTSIDE, "system_network", path="/json/2/res.partner/search_count")
        inside = self._json2(INSIDE, self.key_secret)
        self.assertEqual(inside.status, 200, inside)
        self.assertIsInstance(inside.json(), int)
        rpc_callers.flush(env=self.env)
        callers = self.env["perimeter.rpc.caller"].search([("user_id", "=", self.bot.id)])
        self.assertEqual([(caller.apikey_id, caller.ip, caller.hits) for caller in callers], [(self.key, INSIDE, 1)],
                         "RPC callers count the key's admitted call (the refused one is in the access log)")

    def test_a_user_held_to_networks_is_refused_with_their_key_elsewhere(self):
        office = self.env["perimeter.allowlist"].create({"name": "Office", "network": f"{INSIDE}/32"})
        self.bot.perimeter_allowlist_ids = office
        self.set_policy(mode="enforce", allow_loopback=False, scope="internal")
        self.env["perimeter.allowlist"].create({"name": "Everyone", "network": "127.0.0.0/8"})
        with mute_logger("odoo.http"):
            refused = self._json2(OUTSIDE, self.key_secret)
        self.assertEqual(refused.status, 401, "refused like a wrong key: no oracle on the key")
        self.assertHit(OUTSIDE, "user_network")
        self.assertEqual(self._json2(INSIDE, self.key_secret).status, 200)
