from types import SimpleNamespace
from unittest.mock import patch

from lxml import etree

from odoo.exceptions import UserError
from odoo.tests import Form, TransactionCase, new_test_user, tagged
from odoo.tools.safe_eval import safe_eval


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


@tagged("post_install", "-at_install")
class TestAppSecondPass(TransactionCase):
    """Issue 21 #7: smaller things seen in the app."""

    def arch(self, model, view_type="form"):
        return etree.fromstring(self.env[model].get_views([(False, view_type)])["views"][view_type]["arch"])

    def test_a_new_blocked_network_shows_neither_unblock_nor_a_ban_count(self):
        unblock = self.arch("perimeter.blocklist").xpath("//header/button[@name='action_perimeter_unblock']")[0]
        form = Form(self.env["perimeter.blocklist"])
        self.assertTrue(form._get_modifier("ban_count", "invisible"), "no 'Bans 1' before anything is banned")
        self.assertTrue(safe_eval(unblock.get("invisible"), {"active": True, "id": False}))
        form.network = "203.0.113.9"
        rule = form.save()
        self.assertFalse(Form(rule)._get_modifier("ban_count", "invisible"))
        self.assertFalse(safe_eval(unblock.get("invisible"), {"active": True, "id": rule.id}))

    def test_discovery_counts_one_mail_server_in_the_singular(self):
        server = self.env["ir.mail_server"].create({"name": "Relay", "smtp_host": "127.0.0.1"})
        Systems = self.env["perimeter.connected.system"]
        system = Systems.create({"name": "Relay", "kind": "mail_out", "direction": "outbound",
                                 "source_ref": f"ir.mail_server,{server.id}"})
        found = {"created": system, "updated": Systems.browse(), "gone": Systems.browse()}
        with patch.object(type(Systems), "_discover", lambda self: found):
            message = Systems.browse().action_discover_button()["params"]["message"]
        self.assertIn("1 mail server shows its latest TLS check (Mail TLS).", message)

    def test_automatic_ban_inputs_keep_zero_never_on_one_line(self):
        setting = self.arch("res.config.settings").xpath("//setting[@id='perimeter_autoban_setting']")[0]
        kept = [span.text for span in setting.xpath(".//span[hasclass('text-nowrap')]")]
        self.assertEqual(kept, ["(0: never)", "(0: never)"])

    def test_the_perimeter_tab_names_the_groups_and_who_is_held(self):
        params = self.env["ir.config_parameter"]
        params.set_param("perimeter_security.mode", "monitor")
        params.set_param("perimeter_security.scope", "internal")
        vpn = self.env["perimeter.allowlist"].create({"name": "VPN", "network": "10.8.0.0/16"})
        settings_group = self.env.ref("base.group_system")
        settings_group.perimeter_allowlist_ids = vpn
        admin = self.env.ref("base.user_admin")
        self.assertEqual(admin.perimeter_networks_source, "groups")
        self.assertIn(settings_group, admin.perimeter_networks_group_ids)
        employee = new_test_user(self.env, "held_employee", groups="base.group_user")
        portal = new_test_user(self.env, "free_portal", groups="base.group_portal")
        edge = self.env.ref("perimeter_security.user_perimeter_edge_sync")
        self.assertEqual((employee.perimeter_held, portal.perimeter_held, edge.perimeter_held), (True, False, True),
                         "in scope Internal users every internal user is held, to the IP Allowlist at least")
        users = employee | portal | edge
        self.assertEqual(users.search([("id", "in", users.ids), ("perimeter_held", "=", True)]), employee | edge)
        self.assertEqual(users.search([("id", "in", users.ids), ("perimeter_held", "=", False)]), portal)
        params.set_param("perimeter_security.scope", "all")
        portal.invalidate_recordset(["perimeter_held"])
        self.assertTrue(portal.perimeter_held, "in scope Every request everybody is held")

    def test_the_allowlist_chatter_names_an_allowlist_rule(self):
        rule = self.env["perimeter.allowlist"].create({"name": "Office", "network": "192.0.2.0/24"})
        self.assertIn("Allowlist Rule created", rule.message_ids[-1].body)

    def test_the_edge_sync_user_says_what_it_is(self):
        edge = self.env.ref("perimeter_security.user_perimeter_edge_sync")
        self.assertTrue(edge.perimeter_is_edge_sync)
        self.assertFalse(self.env.ref("base.user_admin").perimeter_is_edge_sync)
        arch = etree.fromstring(self.env["res.users"].get_view(self.env.ref("base.view_users_form").id)["arch"])
        alert = arch.xpath("//div[hasclass('alert')][contains(@invisible, 'perimeter_is_edge_sync')]")
        self.assertEqual(len(alert), 1)
        self.assertIn("Never Connected", "".join(alert[0].itertext()))
