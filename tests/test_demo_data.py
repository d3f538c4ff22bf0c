from odoo.tests import TransactionCase, tagged
from odoo.tools import convert_file


@tagged("post_install", "-at_install")
class TestDemoData(TransactionCase):
    def test_demo_data_loads_and_fills_the_screens(self):
        """The manifest's demo file loads on an installed module and gives every screen something to show."""
        convert_file(self.env, "perimeter_security", "data/perimeter_demo.xml", {}, mode="init")
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

    def test_demo_states_stay_as_the_readme_says(self):
        """Discovery, the checks and a review leave the demo examples as the README describes them, and the
        posture list opens on this server's findings only (not the demo's other server)."""
        convert_file(self.env, "perimeter_security", "data/perimeter_demo.xml", {}, mode="init")
        ref = self.env.ref
        Systems = self.env["perimeter.connected.system"]
        examples = (ref("perimeter_security.demo_system_scanner") | ref("perimeter_security.demo_system_carrier")
                    | ref("perimeter_security.demo_system_legacy_ftp"))
        self.assertEqual(examples.mapped("is_example"), [True] * 3)
        Systems._discover()
        examples.action_check()
        self.assertEqual(examples.mapped("state"), ["ok", "warning", "critical"],
                         "API client OK, webhook expiring soon, plaintext feed critical: never probed")
        self.assertFalse(any(examples.mapped("discovery_key")), "discovery adopts no example")
        Findings = self.env["perimeter.posture.finding"]
        demo_findings = ref("perimeter_security.demo_finding_postgres") | ref("perimeter_security.demo_finding_list_db")
        Findings._perimeter_review()
        self.assertEqual(len(demo_findings.exists()), 2)
        # The Posture action opens filtered to this server, which shows its own findings only.
        action = self.env["ir.actions.act_window"]._for_xml_id("perimeter_security.perimeter_posture_action")
        self.assertIn("search_default_this_server", action["context"])
        shown = Findings.search([("is_this_server", "=", True)])
        self.assertTrue(shown, "the review found something on this test server")
        self.assertFalse(shown & demo_findings, "the other server's findings are not mixed in")
        self.assertEqual(set(shown.mapped("host")), {shown[:1].host})
