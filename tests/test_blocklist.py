from datetime import timedelta

from odoo import fields
from odoo.exceptions import ValidationError
from odoo.tests import tagged
from odoo.tools import mute_logger

from ..guard import server_tier
from . import test_enforcement
from .common import INSIDE, OUTSIDE, PerimeterHttpCase


@tagged("post_install", "-at_install")
class TestBlocklist(PerimeterHttpCase):
    """A blocked client is refused on every way in, before the allowlist; expiry lifts it; nobody locks out."""

    _fallback_attachment = test_enforcement.TestEnforcement._fallback_attachment  # used by its _requests

    def setUp(self):
        super().setUp()
        self.Blocklist = self.env["perimeter.blocklist"]

    def block(self, network, **values):
        rule = self.Blocklist.create({"network": network, "reason": "test", **values})
        self.env.flush_all()
        server_tier.forget_snapshots()
        return rule

    def test_a_blocked_client_is_refused_everywhere_even_when_allowlisted(self):
        requests = test_enforcement.TestEnforcement._requests(self)
        self.strict_policy()
        self.set_policy(rules=[f"{OUTSIDE}/32"])  # allowlisted: only the blocklist can refuse it
        self.block(OUTSIDE)
        for label, send, expected, kind in requests:
            with self.subTest(label):
                before = len(self.hits)
                self.assertRefused(send(OUTSIDE), OUTSIDE, kind)
                self.assertEqual(len(self.hits), before + 1, "reported once per request")
                self.assertEqual(self.hits[-1][1].reason, "blocklisted")
                inside = send(INSIDE)
                if expected is not None:
                    self.assertEqual(inside.status, expected, f"{label}: {inside}")

    def test_in_scope_internal_a_blocked_client_is_refused_where_outsiders_are_welcome(self):
        # Scope internal opens the public side to every outsider; a blocked one still gets nothing.
        requests = test_enforcement.TestEnforcement._requests(self)
        self.strict_policy(scope="internal")
        other_outsider = "127.0.0.62"
        self.assertEqual(self.get("/web/login", source=other_outsider).status, 200, "the public side is open")
        self.block(OUTSIDE)
        for label, send, _expected, kind in requests:
            with self.subTest(label):
                self.assertRefused(send(OUTSIDE), OUTSIDE, kind)
                self.assertEqual(self.hits[-1][1].reason, "blocklisted")
        self.assertEqual(self.get("/web/login", source=other_outsider).status, 200)

    def test_exempt_paths_do_not_let_a_blocked_client_through(self):
        self.strict_policy(exempt_paths="/web/health")
        self.block(OUTSIDE)
        self.assertEqual(self.get("/web/health", source=OUTSIDE).status, 403)
        self.assertEqual(self.get("/web/health", source=INSIDE).status, 200)

    def test_monitor_logs_a_blocked_client_and_lets_it_in(self):
        self.strict_policy(mode="monitor")
        self.block(OUTSIDE)
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 200)
        self.assertHit(OUTSIDE, "blocklisted", blocked=False, path="/web/login")

    def test_expiry_and_unblock_lift_the_block(self):
        self.strict_policy()
        self.set_policy(rules=[f"{OUTSIDE}/32"])
        rule = self.block(OUTSIDE, expires_at=fields.Datetime.now() + timedelta(hours=1))
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 403)
        rule.write({"expires_at": fields.Datetime.now() - timedelta(seconds=1)})
        self.env.flush_all()
        server_tier.forget_snapshots()
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 200)
        self.assertTrue(rule.is_expired)
        rule.write({"expires_at": False})
        self.env.flush_all()
        server_tier.forget_snapshots()
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 403)
        rule.action_perimeter_unblock()
        self.env.flush_all()
        server_tier.forget_snapshots()
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 200)

    def test_the_policy_is_compiled_again_when_a_block_expires_by_itself(self):
        self.strict_policy()
        self.set_policy(rules=[f"{OUTSIDE}/32"])
        self.block(OUTSIDE, expires_at=fields.Datetime.now() + timedelta(hours=1))
        policy = self.env["perimeter.policy"]
        self.assertIn(OUTSIDE, policy._perimeter_policy().blocklist)
        later = fields.Datetime.now() + timedelta(hours=2)
        with self.patch_now(later):
            self.assertNotIn(OUTSIDE, policy._perimeter_policy().blocklist)

    def patch_now(self, moment):
        from unittest.mock import patch  # noqa: PLC0415

        return patch.object(fields.Datetime, "now", return_value=moment)

    def test_networks_are_normalised_and_loopback_cannot_be_blocked(self):
        self.assertEqual(self.block("203.0.113.9").network, "203.0.113.9/32")
        with self.assertRaisesRegex(ValidationError, "did you mean '203.0.113.0/24'"):
            self.Blocklist.create({"network": "203.0.113.9/24"})
        for network in ("127.0.0.1", "127.0.0.0/8", "::1", "0.0.0.0/0"):
            with self.subTest(network), self.assertRaisesRegex(ValidationError, "cannot be blocked"):
                self.Blocklist.create({"network": network})

    def test_blocking_your_own_address_is_refused(self):
        self.strict_policy()
        self.set_policy(rules=[f"{OUTSIDE}/32"])
        self.authenticate("admin", "admin")
        self.enterContext(mute_logger("odoo.http"))
        # The administrator works from OUTSIDE (127.0.0.2) and blocks the network that holds it.
        params = {"model": "perimeter.blocklist", "method": "create", "args": [{"network": "127.0.0.2/31"}],
                  "kwargs": {}}
        answer = self.json_rpc("/web/dataset/call_kw/perimeter.blocklist/create", params, source=OUTSIDE,
                               cookies={"session_id": self.session.sid}).json()
        self.assertIn("error", answer, answer)
        self.assertIn("would lock you out", answer["error"]["data"]["message"])
        self.assertIn(OUTSIDE, answer["error"]["data"]["message"])
        self.assertFalse(self.Blocklist.search([]), "nothing was saved")
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 200)
        # Someone else blocking it, from another address: fine.
        answer = self.json_rpc("/web/dataset/call_kw/perimeter.blocklist/create", params, source=INSIDE,
                               cookies={"session_id": self.session.sid}).json()
        self.assertNotIn("error", answer, answer)
        server_tier.forget_snapshots()
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 403)

    def test_block_from_the_access_log_and_from_an_alert(self):
        log = self.env["perimeter.access.log"].create({
            "ip": "203.0.113.9", "reason": "not_allowlisted", "blocked": True, "hits": 3,
            "window_start": fields.Datetime.now(), "first_seen": fields.Datetime.now(),
            "last_seen": fields.Datetime.now(),
        })
        wizard = self.env["perimeter.block"].with_context(
            active_model="perimeter.access.log", active_ids=log.ids).create({"duration": "1h"})
        self.assertEqual(wizard.networks, "203.0.113.9")
        action = wizard.action_block()
        rule = self.Blocklist.search([("network", "=", "203.0.113.9/32")])
        self.assertEqual(action["domain"], [("id", "in", rule.ids)])
        self.assertEqual((rule.source, rule.ban_count), ("manual", 1))
        self.assertAlmostEqual(rule.expires_at, fields.Datetime.now() + timedelta(hours=1), delta=timedelta(minutes=1))
        # Blocking it again from an alert renews the same rule.
        alert = self.env["perimeter.access.alert"].create({
            "ip": "203.0.113.9", "window_start": fields.Datetime.now(),
            "window_end": fields.Datetime.now() + timedelta(minutes=10),
        })
        self.env["perimeter.block"].with_context(
            active_model="perimeter.access.alert", active_ids=alert.ids).create({"duration": "forever"}).action_block()
        self.assertEqual((rule.ban_count, rule.expires_at), (2, False))
        self.assertEqual(self.Blocklist.search_count([]), 1)
