"""Open alerts: an alert is open from its notification until an administrator answers it (issue 21 #5)."""

from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged

AUDITOR = "perimeter_security.group_perimeter_auditor"
MANAGER = "perimeter_security.group_perimeter_manager"


@tagged("post_install", "-at_install")
class TestOpenAlerts(TransactionCase):
    """An alert is open from its notification until an administrator answers it: Block…, Admit…, or Mark as handled."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(cls.env, "alerts_manager", groups=f"base.group_user,{MANAGER}")
        cls.auditor = new_test_user(cls.env, "alerts_auditor", groups=f"base.group_user,{AUDITOR}")
        now = fields.Datetime.now()
        cls.log = cls.env["perimeter.access.log"].create({
            "ip": "10.74.0.9", "reason": "not_allowlisted", "blocked": True, "hits": 120,
            "window_start": now.replace(minute=0, second=0, microsecond=0), "first_seen": now, "last_seen": now,
        })
        cls.alert = cls.env["perimeter.access.alert"].create({
            "ip": "10.74.0.9", "window_start": now - timedelta(minutes=5), "window_end": now + timedelta(minutes=5),
            "hits": 120, "notified_at": now,
        })

    def is_open(self):
        Alerts = self.env["perimeter.access.alert"]
        return bool(Alerts.search_count(Alerts._perimeter_open_domain() + [("id", "=", self.alert.id)]))

    def test_mark_as_handled(self):
        self.assertTrue(self.is_open())
        with self.assertRaises(AccessError):
            self.alert.with_user(self.auditor).action_perimeter_handled()
        self.assertTrue(self.is_open())
        self.alert.with_user(self.manager).action_perimeter_handled()
        self.assertFalse(self.is_open())
        self.assertEqual(self.alert.handled_by_id, self.manager)

    def test_blocking_from_the_alert_answers_it(self):
        self.env["perimeter.block"].with_user(self.manager).with_context(
            active_model="perimeter.access.alert", active_ids=self.alert.ids,
        ).create({"duration": "1h"}).action_block()
        self.assertFalse(self.is_open())

    def test_admitting_from_the_alert_answers_it(self):
        action = self.alert.with_user(self.manager).action_perimeter_admit()
        wizard = self.env["perimeter.access.admit"].with_user(self.manager).with_context(**action["context"]).create({})
        self.assertEqual(wizard.log_ids, self.log)
        wizard.action_admit()
        self.assertFalse(self.is_open())
        self.assertTrue(self.env["perimeter.allowlist"].search([("network", "=", "10.74.0.9/32")]))

    def test_admitting_from_the_log_leaves_the_alert_open(self):
        """Admitting some rows of the log is no answer to an alert nobody opened."""
        self.env["perimeter.access.admit"].with_user(self.manager).create(
            {"log_ids": [fields.Command.set(self.log.ids)]}).action_admit()
        self.assertTrue(self.is_open())
