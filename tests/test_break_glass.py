from odoo.tests import HttpCase, tagged

from ..guard import odoo_version


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
