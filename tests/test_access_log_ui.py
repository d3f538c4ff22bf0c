from odoo import fields
from odoo.tests import HttpCase, tagged

from odoo.addons.perimeter_security.guard import access_log
from odoo.addons.perimeter_security.perimeter.access_log import Hit


@tagged("post_install", "-at_install")
class TestAccessLogTour(HttpCase):
    def test_review_the_log_and_admit_a_network(self):
        """An administrator reviews refused requests and admits a client's /24, in Chromium."""
        access_log.discard_pending()
        self.addCleanup(access_log.discard_pending)
        for _ in range(7):
            access_log.record_hit(self.env.cr.dbname, Hit(
                ip="203.0.113.77", reason="not_allowlisted", blocked=True, path="/odoo/action-contacts",
                method="GET", user_agent="Mozilla/5.0", at=fields.Datetime.now(),
            ))
        access_log.flush_now(self.env.cr.dbname)  # in test mode the flush writes into the test's transaction
        self.start_tour("/odoo", "perimeter_security_access_log_tour", login="admin")
        rule = self.env["perimeter.allowlist"].search([("network", "=", "203.0.113.0/24")])
        self.assertEqual(rule.name, "203.0.113.0/24")
        self.assertIn("7 refused requests from 203.0.113.77", rule.note)
        self.assertIn("203.0.113.200", self.env["perimeter.allowlist"]._get_allowed_networks())
