from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, new_test_user, tagged

from odoo.addons.perimeter_security.perimeter import posture
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


@tagged("post_install", "-at_install")
class TestDashboardStateTour(HttpCase):
    """Issue 21 #5, in Chromium: the app opens on the state of the perimeter, and each number leads to its list."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        params = cls.env["ir.config_parameter"]
        params.set_param("perimeter_security.mode", "monitor")
        params.set_param("perimeter_security.scope", "internal")
        now = fields.Datetime.now()
        cls.env["perimeter.access.log"].create({
            "ip": "10.71.0.9", "reason": "not_allowlisted", "blocked": True, "hits": 7,
            "window_start": now.replace(minute=0, second=0, microsecond=0), "first_seen": now, "last_seen": now,
        })
        cls.env["perimeter.access.alert"].create({
            "ip": "10.71.0.9", "window_start": now - timedelta(minutes=10), "window_end": now, "hits": 7,
            "notified_at": now,
        })
        cls.env["perimeter.posture.finding"].create({
            "key": "test:dashboard:tour", "category": "server", "severity": "critical",
            "name_facts": '"Tour finding"', "host": posture.local_hostname(),
        })

    def test_the_app_opens_on_the_state(self):
        self.start_tour("/odoo", "perimeter_security_dashboard_state_tour", login="admin")

    def test_an_auditor_reads_the_state_and_follows_it(self):
        new_test_user(self.env, "dashboard_tour_auditor",
                      groups="base.group_user,perimeter_security.group_perimeter_auditor")
        self.start_tour("/odoo", "perimeter_security_dashboard_state_auditor_tour", login="dashboard_tour_auditor")


@tagged("post_install", "-at_install")
class TestFrenchMenuTour(HttpCase):
    def test_the_french_top_menu_fits_without_overflow(self):
        """Issue 21 #5: the French menu used to push entries into "+"; grouped as core apps, it fits."""
        self.env["res.lang"]._activate_lang("fr_FR")
        modules = ["base", "web", "perimeter_security"]
        self.env["ir.module.module"]._load_module_terms(modules, ["fr_FR"], overwrite=True)
        new_test_user(self.env, "perimeter_french_admin", groups="base.group_user,base.group_system", lang="fr_FR")
        self.start_tour("/odoo", "perimeter_security_french_menu_tour", login="perimeter_french_admin")
