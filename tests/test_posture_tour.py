from unittest.mock import patch

from odoo.tests import HttpCase, tagged
from odoo.tools import config

from ..perimeter import posture


@tagged("post_install", "-at_install")
class TestPostureTour(HttpCase):
    def test_posture_tour(self):
        """Perimeter › Posture in Chromium: the default master password is the first thing to fix."""
        with patch.dict(config.options, {"admin_passwd": "admin"}):
            self.start_tour("/odoo", "perimeter_security_posture_tour", login="admin")
        finding = self.env["perimeter.posture.finding"].search(
            [("key", "=", "option:admin_passwd"), ("host", "=", posture.local_hostname())])
        self.assertEqual(finding.severity, "critical")
