from odoo.tests import HttpCase, tagged


@tagged("post_install", "-at_install")
class TestChangeHistoryTour(HttpCase):
    def test_settings_section_and_change_history_tour(self):
        """Settings › Perimeter, then Perimeter › Change History, in Chromium; the row says who and from where."""
        self.start_tour("/odoo", "perimeter_security_change_history_tour", login="admin")
        change = self.env["perimeter.change.log"].search([("field_name", "=", "perimeter_security.trusted_proxies")])
        self.assertEqual(len(change), 1)
        self.assertEqual((change.old_value, change.new_value), (False, "10.0.0.5/32"))
        self.assertEqual(change.user_id, self.env.ref("base.user_admin"))
        self.assertEqual(change.client_address, "127.0.0.1", "the address the browser came from")
