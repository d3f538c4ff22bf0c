import socket
from unittest.mock import patch

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import config
from odoo.tools.config import crypt_context

from ..guard import odoo_version
from ..perimeter import posture

# A configuration file an administrator would be proud of: nothing here is a finding.
CAREFUL_OPTIONS = {
    "list_db": False,
    "admin_passwd": "",
    "proxy_mode": True,
    "http_interface": "127.0.0.1",
    "dev_mode": [],
    "smtp_server": "localhost",
    "smtp_ssl": False,
    "db_host": False,
    "server_wide_modules": "base,web,perimeter_security",
}


@tagged("post_install", "-at_install")
class TestPosture(TransactionCase):
    def setUp(self):
        super().setUp()
        self.Findings = self.env["perimeter.posture.finding"]
        self.host = posture.local_hostname()

    def _open_menu(self, **options):
        """Open Perimeter › Posture (it reviews first) with these server options; return this server's findings."""
        with patch.dict(config.options, {**CAREFUL_OPTIONS, **options}):
            action = self.env.ref("perimeter_security.perimeter_posture_review_action").run()
        self.assertEqual(action["res_model"], "perimeter.posture.finding")
        return {f.key: f for f in self.Findings.search([("host", "=", self.host)])}

    def test_risky_options_are_listed_worst_first_with_their_fix(self):
        findings = self._open_menu(list_db=True, admin_passwd="admin", dev_mode=["reload"])
        self.assertEqual(findings["option:admin_passwd"].severity, "critical")
        self.assertEqual(findings["option:admin_passwd"].name, "The master password is 'admin'")
        self.assertIn("list_db = False", findings["option:list_db"].fix)
        self.assertIn("Remove --dev", findings["option:dev_mode"].fix)
        listed = self.Findings.search([("host", "=", self.host)])
        self.assertEqual(listed[0].severity, "critical", "the list opens on the worst finding")

    def test_a_hashed_default_master_password_is_still_found(self):
        findings = self._open_menu(admin_passwd=config_hash("admin"))
        self.assertEqual(findings["option:admin_passwd"].severity, "critical")
        self.assertNotIn("option:admin_passwd", self._open_menu(admin_passwd=config_hash("x7-long-secret")))

    def test_review_again_updates_and_drops_what_was_fixed(self):
        first = self._open_menu(list_db=True)
        again = self._open_menu(list_db=True)
        self.assertEqual(first["option:list_db"], again["option:list_db"], "a review never duplicates")
        # This server's: another server's (the demo data's second one) may have the same finding.
        self.assertEqual(len(self.Findings.search([("key", "=", "option:list_db"), ("host", "=", self.host)])), 1)
        fixed = self._open_menu(list_db=False)
        self.assertNotIn("option:list_db", fixed)
        self.assertFalse(first["option:list_db"].exists())

    def test_other_servers_findings_are_left_alone(self):
        other = self.Findings._perimeter_store(
            [posture.Finding("port:5432", "port", "critical", "PostgreSQL listens", "…", "Bind it")], "db-2")
        self._open_menu()
        self.assertTrue(other.exists())

    def test_module_settings_that_leave_the_door_open(self):
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("web.base.url", "http://erp.example.com")
        findings = self._open_menu()
        self.assertEqual(findings["module:mode"].severity, "warning")
        self.assertIn("module:require_https", findings)
        self.assertIn("module:web_base_url", findings)
        params.set_param("perimeter_security.mode", "monitor")
        params.set_param("perimeter_security.mail_tls_policy", "off")
        findings = self._open_menu()
        self.assertEqual(findings["module:mode"].severity, "info")
        self.assertIn("module:mail_tls_policy", findings)

    def test_break_glass_is_critical(self):
        saved = odoo_version.save_config_section("perimeter_security")
        odoo_version.set_config_section("perimeter_security", {"disabled": "True"})
        try:
            findings = self._open_menu()
        finally:
            odoo_version.restore_config_section("perimeter_security", saved)
        self.assertEqual(findings["module:break_glass"].severity, "critical")
        self.assertNotIn("module:break_glass", self._open_menu())

    def test_an_allowlisted_peer_sending_proxy_headers_untrusted_is_flagged(self):
        # Issue 10 #5: a proxy at 127.0.0.1 left out of Trusted proxies but allowlisted admits everyone.
        self.env["perimeter.access.log"].sudo().create({
            "ip": "127.0.0.1", "reason": "untrusted_proxy_headers", "blocked": False, "hits": 12,
            "first_seen": fields.Datetime.now(), "last_seen": fields.Datetime.now(),
            "window_start": fields.Datetime.now().replace(minute=0, second=0),
        })
        key = "module:untrusted_proxy:127.0.0.1"
        self.assertNotIn(key, self._open_menu(), "not allowlisted: it is refused, nobody gets in through it")
        self.env["perimeter.allowlist"].create({"name": "The proxy", "network": "127.0.0.1"})
        finding = self._open_menu()[key]
        self.assertEqual(finding.severity, "critical")
        self.assertIn("Trusted proxies", finding.fix)
        self.env["ir.config_parameter"].sudo().set_param("perimeter_security.trusted_proxies", "127.0.0.1")
        self.assertNotIn(key, self._open_menu(), "trusted now: its headers are believed")

    def test_real_listeners_on_loopback_are_not_exposed(self):
        with socket.socket() as server:
            server.bind(("127.0.0.1", 0))
            server.listen()
            port = server.getsockname()[1]
            self.assertIn(posture.ListeningSocket(port, "127.0.0.1"), posture.listening_sockets())
            self.assertNotIn(f"port:{port}", self._open_menu())

    def test_only_administrators_see_the_posture(self):
        user = new_test_user(self.env, login="posture_user", groups="base.group_user")
        self._open_menu(list_db=True)
        with self.assertRaises(AccessError):
            self.Findings.with_user(user).search([])


def config_hash(password):
    """``admin_passwd`` as Odoo writes it when the master password is set from the database manager."""
    return crypt_context.hash(password)
