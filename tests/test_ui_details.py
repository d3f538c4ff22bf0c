from types import SimpleNamespace
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import TransactionCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestUiDetails(TransactionCase):
    def test_this_odoo_does_not_open_the_raw_parameter_outside_developer_mode(self):
        param = self.env["ir.config_parameter"].search([("key", "=", "web.base.url")], limit=1)
        system = self.env["perimeter.connected.system"].create({
            "name": "This Odoo", "kind": "website", "direction": "inbound",
            "source_ref": f"ir.config_parameter,{param.id}",
        })
        self.assertTrue(system.source_is_parameter)
        admin = new_test_user(self.env, "settings_admin", groups="base.group_user,base.group_system")
        with self.assertRaisesRegex(UserError, "developer mode"):
            system.with_user(admin).action_open_source()
        developer = new_test_user(self.env, "developer", groups="base.group_user,base.group_system,base.group_no_one")
        with self.assertRaisesRegex(UserError, "developer mode"):
            system.with_user(developer).action_open_source()  # the group counts in developer mode only
        debug_session = SimpleNamespace(session=SimpleNamespace(debug="1"))
        with patch("odoo.addons.base.models.res_users.request", debug_session):
            self.assertEqual(system.with_user(developer).action_open_source()["res_model"], "ir.config_parameter")
        server = self.env["ir.mail_server"].create({"name": "Relay", "smtp_host": "127.0.0.1"})
        system.source_ref = f"ir.mail_server,{server.id}"
        self.assertFalse(system.source_is_parameter)
        self.assertEqual(system.with_user(admin).action_open_source()["res_id"], server.id)

    def test_lists_say_what_to_do_when_empty(self):
        for xmlid in ("perimeter_connected_system_expiry_action", "perimeter_fetchmail_server_action",
                      "perimeter_change_log_action"):
            with self.subTest(xmlid):
                self.assertIn("o_view_nocontent", self.env.ref(f"perimeter_security.{xmlid}").help or "")
