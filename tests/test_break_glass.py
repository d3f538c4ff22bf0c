from odoo.tests import HttpCase, tagged

from ..guard import odoo_version, server_tier
from .common import OUTSIDE, PerimeterHttpCase, use_configuration_file


@tagged("post_install", "-at_install")
class TestBreakGlassBanner(HttpCase):
    def test_break_glass_badge_on_every_backend_page(self):
        """With [perimeter_security] disabled = True, the backend shows a red badge in the systray."""
        saved = odoo_version.save_config_section("perimeter_security")
        odoo_version.set_config_section("perimeter_security", {"disabled": True})
        try:
            self.start_tour("/odoo", "perimeter_security_break_glass_tour", login="admin")
        finally:
            odoo_version.restore_config_section("perimeter_security", saved)


@tagged("post_install", "-at_install")
class TestBreakGlassInTheFile(PerimeterHttpCase):
    """The break-glass as an administrator writes it: in the configuration file Odoo was started with."""

    def test_an_outsider_refused_by_enforce_comes_in_once_the_file_says_disabled(self):
        self.strict_policy()
        section = "[options]\n\n[perimeter_security]\nserver_allowlist = 127.0.0.1\nallow_loopback = False\n"
        use_configuration_file(self, section + "disabled = False\n")
        self.assertRefused(self.get("/web/login", source=OUTSIDE), OUTSIDE)
        self.assertRefused(self.get("/web/database/manager", source=OUTSIDE), OUTSIDE)
        use_configuration_file(self, section + "disabled = True\n")
        server_tier.forget_snapshots()  # the WSGI door's copy of the policy lives SNAPSHOT_TTL seconds
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 200, "the break-glass lets everyone in")
        self.assertEqual(self.get("/web/database/manager", source=OUTSIDE).status, 200)
