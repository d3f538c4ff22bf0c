from odoo.tests import HttpCase, tagged

from odoo.addons.perimeter_security.testing.servers import ClosedPort


@tagged("post_install", "-at_install")
class TestDashboardTour(HttpCase):
    def test_dashboard_tour(self):
        """Discover, check and follow a system to its source, in Chromium."""
        with ClosedPort() as closed:
            server = self.env["ir.mail_server"].create({
                "name": "Tour relay", "smtp_host": "127.0.0.1", "smtp_port": closed.port, "smtp_encryption": "none",
            })
            self.start_tour("/odoo", "perimeter_security_dashboard_tour", login="admin")
        system = self.env["perimeter.connected.system"].search([("discovery_key", "=", f"ir.mail_server,{server.id}")])
        self.assertEqual(system.state, "critical")
        self.assertTrue(system.last_check)
