from odoo.tests import TransactionCase, tagged
from odoo.tools import convert_file


@tagged("post_install", "-at_install")
class TestDemoData(TransactionCase):
    def test_demo_data_loads_and_fills_the_screens(self):
        """The manifest's demo file loads on an installed module and gives every screen something to show."""
        convert_file(self.env, "perimeter_security", "data/perimeter_demo.xml", {}, mode="init", kind="demo")
        ref = self.env.ref
        self.assertEqual(ref("perimeter_security.demo_rule_contractor").network, "203.0.113.40/32")
        self.assertTrue(ref("perimeter_security.demo_rule_trade_fair").is_expired)
        self.assertEqual(ref("perimeter_security.demo_system_scanner").allowed_networks, "198.51.100.0/24")
        self.assertEqual(ref("perimeter_security.demo_log_scanner").hits, 240)
        self.assertEqual(ref("perimeter_security.demo_alert_scanner").ip, "203.0.113.66")
        self.assertEqual(ref("perimeter_security.demo_finding_postgres").severity, "critical")
        self.assertEqual(ref("perimeter_security.demo_finding_postgres").with_context(lang="en_US").name,
                         "PostgreSQL (port 5432) listens on all interfaces", "stored as facts, worded when read")
        params = self.env["ir.config_parameter"]._perimeter_settings()
        self.assertEqual(params["mode"], "off", "demo data blocks nobody")
