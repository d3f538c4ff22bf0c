from datetime import timedelta
from unittest.mock import patch

from odoo import fields
from odoo.tests import TransactionCase, tagged

from ..guard import odoo_version


@tagged("post_install", "-at_install")
class TestPolicySnapshot(TransactionCase):
    """The per-database snapshot: compiled once, no SQL per request, and never stale."""

    def setUp(self):
        super().setUp()
        self.model = self.env["perimeter.policy"]
        self.params = self.env["ir.config_parameter"].sudo()
        saved = odoo_version.save_config_section("perimeter_security")
        self.addCleanup(odoo_version.restore_config_section, "perimeter_security", saved)

    def test_cached_without_sql_and_follows_every_change(self):
        first = self.model._perimeter_policy()
        self.assertEqual(first.mode, "off")
        with self.assertQueryCount(0):
            self.assertIs(self.model._perimeter_policy(), first)
        self.params.set_param("perimeter_security.mode", "monitor")
        self.assertEqual(self.model._perimeter_policy().mode, "monitor")
        rule = self.env["perimeter.allowlist"].create({"name": "Office", "network": "192.0.2.0/24"})
        self.assertIn("192.0.2.9", self.model._perimeter_policy().allowlist)
        rule.action_archive()
        self.assertNotIn("192.0.2.9", self.model._perimeter_policy().allowlist)
        cached = self.model._perimeter_policy()
        # What Odoo's signaling does when another worker changed something: the caches are cleared.
        self.env.registry.clear_cache()
        self.assertIsNot(self.model._perimeter_policy(), cached)

    def test_a_change_no_signal_announced_is_seen_at_the_next_verification(self):
        # Issue 10 #4, the safety net: a write that cleared no cache here (a script, SQL, a missed signal)
        # is found when the snapshot is next compared with the database, at most VERIFY_INTERVAL later.
        self.assertEqual(self.model._perimeter_policy().mode, "off")
        self.env.cr.execute("""
            INSERT INTO ir_config_parameter (key, value) VALUES ('perimeter_security.mode', 'monitor')
            ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value""")
        registry = self.env.registry
        self.assertEqual(self.model._perimeter_policy().mode, "off", "trusted until the next verification")
        unchanged = registry._perimeter_fast_policy
        registry._perimeter_fast_policy = unchanged._replace(verify_at=0)  # a minute has passed
        with self.assertLogs("odoo.addons.perimeter_security.models.perimeter_policy", "WARNING") as logs:
            self.assertEqual(self.model._perimeter_policy().mode, "monitor")
        self.assertIn("changed without Odoo's cache signaling", logs.output[0])
        # Nothing changed: the verification keeps the same snapshot (and its memory of clients).
        kept = registry._perimeter_fast_policy
        registry._perimeter_fast_policy = kept._replace(verify_at=0)
        self.assertIs(self.model._perimeter_decider(), kept.decider)

    def test_rules_and_parameters_signal_other_processes_when_they_commit(self):
        # The triggers exist, deferred to commit, on the rules, the blocks, the parameters and the
        # networks named on groups and users (their effect is shown end to end by
        # test_policy_signaling, which commits for real).
        self.env.cr.execute("""
            SELECT tgname, tgrelid::regclass::text, tgdeferrable, tginitdeferred FROM pg_trigger
            WHERE tgname LIKE 'perimeter\\_security\\_%' ORDER BY tgname""")
        self.assertEqual(self.env.cr.fetchall(), [
            ("perimeter_security_blocks_changed", "perimeter_blocklist", True, True),
            ("perimeter_security_group_networks_changed", "perimeter_allowlist_res_groups_rel", True, True),
            ("perimeter_security_param_deleted", "ir_config_parameter", True, True),
            ("perimeter_security_param_inserted", "ir_config_parameter", True, True),
            ("perimeter_security_param_updated", "ir_config_parameter", True, True),
            ("perimeter_security_rules_changed", "perimeter_allowlist", True, True),
            ("perimeter_security_user_networks_changed", "perimeter_allowlist_res_users_rel", True, True),
        ])

    def test_a_rule_stops_counting_when_it_expires(self):
        now = fields.Datetime.now()
        self.env["perimeter.allowlist"].create(
            {"name": "Contractor", "network": "203.0.113.128/25", "expires_at": now + timedelta(hours=1)})
        self.assertIn("203.0.113.130", self.model._perimeter_policy().allowlist)
        with patch.object(fields.Datetime, "now", return_value=now + timedelta(hours=2)):
            self.assertNotIn("203.0.113.130", self.model._perimeter_policy().allowlist)

    def test_break_glass_is_part_of_the_snapshot(self):
        self.params.set_param("perimeter_security.mode", "enforce")
        self.assertTrue(self.model._perimeter_policy().active)
        odoo_version.set_config_section("perimeter_security", {"disabled": "True"})
        self.assertTrue(self.model._perimeter_policy().disabled)
        self.assertFalse(self.model._perimeter_policy().active)
        odoo_version.set_config_section("perimeter_security", {})
        self.assertFalse(self.model._perimeter_policy().disabled)

    def test_unreadable_stored_values_take_their_defaults(self):
        self.env.cr.execute(
            "INSERT INTO ir_config_parameter (key, value) VALUES ('perimeter_security.hsts_max_age', 'lots')")
        self.env.registry.clear_cache()
        self.assertEqual(self.model._perimeter_policy().hsts_max_age, 31536000)
