from odoo.tests import HttpCase, tagged
from odoo.tools import config


@tagged("post_install", "-at_install")
class TestBreakGlassBanner(HttpCase):
    def test_break_glass_badge_on_every_backend_page(self):
        """With [perimeter_security] disabled = True, the backend shows a red badge in the systray."""
        previous = config.misc.get("perimeter_security")
        config.misc["perimeter_security"] = {"disabled": True}
        try:
            self.start_tour("/odoo", "perimeter_security_break_glass_tour", login="admin")
        finally:
            if previous is None:
                config.misc.pop("perimeter_security", None)
            else:
                config.misc["perimeter_security"] = previous
