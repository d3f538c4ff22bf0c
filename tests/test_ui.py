from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestSettingsTour(HttpCase):
    def test_settings_and_allowlist_tour(self):
        """An administrator sets monitor mode and adds a rule through the UI, in Chromium."""
        self.start_tour("/odoo", "perimeter_security_settings_tour", login="admin")
        params = self.env["ir.config_parameter"].sudo()
        self.assertEqual(params.get_param("perimeter_security.mode"), "monitor")
        rule = self.env["perimeter.allowlist"].search([("name", "=", "Office VPN")])
        self.assertEqual(rule.network, "10.8.0.7/32")
        self.assertIn("10.8.0.7", self.env["perimeter.allowlist"]._get_allowed_networks())
