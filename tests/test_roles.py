from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged

AUDITOR = "perimeter_security.group_perimeter_auditor"
MANAGER = "perimeter_security.group_perimeter_manager"


@tagged("post_install", "-at_install")
class TestRoles(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.auditor = new_test_user(cls.env, "perimeter_auditor", groups=f"base.group_user,{AUDITOR}")
        cls.manager = new_test_user(cls.env, "perimeter_manager", groups=f"base.group_user,{MANAGER}")
        cls.rule = cls.env["perimeter.allowlist"].create({"name": "Head office", "network": "192.0.2.0/24"})
        cls.system = cls.env["perimeter.connected.system"].create({
            "name": "Warehouse robot", "kind": "api_client", "direction": "inbound",
            "allowed_networks": "198.51.100.0/24",
        })
        cls.smtp = cls.env["ir.mail_server"].create({
            "name": "Relay", "smtp_host": "127.0.0.1", "smtp_port": 1, "smtp_encryption": "none",
        })
        cls.imap = cls.env["fetchmail.server"].create({
            "name": "Inbox", "server": "127.0.0.1", "port": 1, "server_type": "imap", "user": "inbox",
            "password": "secret",
        })

    def test_settings_administrators_are_perimeter_administrators(self):
        admin = self.env.ref("base.user_admin")
        self.assertTrue(admin.has_group(MANAGER))
        self.assertTrue(admin.has_group(AUDITOR))
        self.assertTrue(self.manager.has_group(AUDITOR), "an administrator reads what an auditor reads")
        self.assertFalse(self.auditor.has_group(MANAGER))

    def test_auditor_reads_everything(self):
        env = self.env(user=self.auditor)
        self.assertEqual(env["perimeter.allowlist"].search([("id", "=", self.rule.id)]).network, "192.0.2.0/24")
        self.assertEqual(env["perimeter.connected.system"].browse(self.system.id).allowed_networks,
                         "198.51.100.0/24")
        for model in ("perimeter.access.log", "perimeter.access.alert", "perimeter.posture.finding",
                      "perimeter.rpc.caller", "perimeter.change.log"):
            env[model].search([], limit=1)  # no AccessError
        self.assertEqual(env["ir.mail_server"].browse(self.smtp.id).perimeter_tls_state, "unknown")
        self.assertEqual(env["fetchmail.server"].browse(self.imap.id).perimeter_tls_state, "unknown")
        settings_in_force = env["perimeter.setting"].search([])
        mode = settings_in_force.filtered(lambda setting: setting.key == "perimeter_security.mode")
        self.assertEqual((mode.value, mode.name, mode.is_default), ("off", "Enforcement mode", True))
        self.assertEqual(len(settings_in_force), len(self.env["ir.config_parameter"]._perimeter_settings()))

    def test_settings_in_force_show_stored_values(self):
        self.env["ir.config_parameter"].sudo().set_param("perimeter_security.mode", "monitor")
        mode = self.env(user=self.auditor)["perimeter.setting"].search([("key", "=", "perimeter_security.mode")])
        self.assertEqual((mode.value, mode.is_default, mode.default_value), ("monitor", False, "off"))

    def test_auditor_does_not_read_mail_credentials(self):
        env = self.env(user=self.auditor)
        with self.assertRaises(AccessError):
            env["fetchmail.server"].browse(self.imap.id).password  # noqa: B018
        with self.assertRaises(AccessError):
            env["ir.mail_server"].browse(self.smtp.id).smtp_pass  # noqa: B018

    def test_auditor_changes_nothing(self):
        env = self.env(user=self.auditor)
        with self.assertRaises(AccessError):
            env["perimeter.allowlist"].create({"name": "Mine", "network": "203.0.113.0/24"})
        with self.assertRaises(AccessError):
            env["perimeter.allowlist"].browse(self.rule.id).write({"network": "203.0.113.0/24"})
        with self.assertRaises(AccessError):
            env["perimeter.allowlist"].browse(self.rule.id).unlink()
        with self.assertRaises(AccessError):
            env["perimeter.connected.system"].browse(self.system.id).write({"allowed_networks": False})
        with self.assertRaises(AccessError):
            env["ir.config_parameter"].set_param("perimeter_security.mode", "enforce")
        with self.assertRaises(AccessError):
            env["ir.mail_server"].browse(self.smtp.id).write({"perimeter_pinned_sha256": "ab" * 32})
        with self.assertRaises(AccessError):
            env["perimeter.access.admit"].create({})
        self.assertEqual(self.rule.network, "192.0.2.0/24")
        self.assertEqual(self.system.allowed_networks, "198.51.100.0/24")

    def test_auditor_cannot_run_actions_that_write(self):
        env = self.env(user=self.auditor)
        system = env["perimeter.connected.system"].browse(self.system.id)
        smtp = env["ir.mail_server"].browse(self.smtp.id)
        imap = env["fetchmail.server"].browse(self.imap.id)
        systems_before = self.env["perimeter.connected.system"].search_count([])
        findings_before = self._findings()
        actions = {
            "discover": env["perimeter.connected.system"].action_discover,
            "discover button": system.action_discover_button,
            "check": system.action_check,
            "check all": system.action_check_all,
            "posture review": env["perimeter.posture.finding"].action_review,
            "mail server check": smtp.action_perimeter_check,
            "retry refused mail": smtp.action_perimeter_retry_refused,
            "test connection": smtp.test_smtp_connection,
            "incoming server check": imap.action_perimeter_check,
            "confirm login": imap.button_confirm_login,
            "fetch now": imap.fetch_mail,
        }
        for name, action in actions.items():
            with self.subTest(name), self.assertRaisesRegex(AccessError, "Only Perimeter administrators"):
                action()
        self.assertEqual(self.env["perimeter.connected.system"].search_count([]), systems_before)
        self.assertFalse(self.system.last_check)
        self.assertFalse(self.smtp.perimeter_last_check)
        self.assertEqual(self._findings(), findings_before, "no review ran")

    def _findings(self):
        return self.env["perimeter.posture.finding"].search_read([], ["key", "host", "last_seen"])

    def test_auditor_posture_menu_shows_the_last_review_without_running_one(self):
        findings_before = self._findings()
        menu_action = self.env.ref("perimeter_security.perimeter_posture_review_action")
        action = menu_action.with_user(self.auditor).run()
        self.assertEqual(action["res_model"], "perimeter.posture.finding")
        self.assertEqual(self._findings(), findings_before, "no review ran")

    def test_manager_manages_rules_and_fences(self):
        env = self.env(user=self.manager)
        rule = env["perimeter.allowlist"].create({"name": "VPN", "network": "198.51.100.7"})
        self.assertEqual(rule.network, "198.51.100.7/32")
        env["perimeter.connected.system"].browse(self.system.id).write({"allowed_networks": "203.0.113.0/24"})
        self.assertEqual(self.system.allowed_networks, "203.0.113.0/24")

    def test_menus_follow_the_roles(self):
        def visible(user):
            return self.env["ir.ui.menu"].with_user(user)._visible_menu_ids()

        root = self.env.ref("perimeter_security.perimeter_menu_root").id
        history = self.env.ref("perimeter_security.perimeter_menu_change_log").id
        settings_menu = self.env.ref("perimeter_security.perimeter_menu_settings").id
        in_force = self.env.ref("perimeter_security.perimeter_menu_setting").id
        auditor_menus = visible(self.auditor)
        self.assertTrue({root, history, in_force} <= auditor_menus)
        self.assertNotIn(settings_menu, auditor_menus, "the Settings screen changes settings")
        self.assertIn(settings_menu, visible(self.env.ref("base.user_admin")))
        plain = new_test_user(self.env, "plain_user", groups="base.group_user")
        self.assertNotIn(root, visible(plain))

    def test_change_history_is_append_only(self):
        self.rule.write({"note": "Moved to the new office"})
        change = self.env["perimeter.change.log"].search([("res_id", "=", self.rule.id), ("field_name", "=", "note")])
        self.assertTrue(change)
        admin_env = self.env(user=self.env.ref("base.user_admin"))
        for env in (self.env(user=self.auditor), self.env(user=self.manager), admin_env):
            with self.assertRaises(AccessError):
                env["perimeter.change.log"].browse(change.id).write({"new_value": "forged"})
            with self.assertRaises(AccessError):
                env["perimeter.change.log"].browse(change.id).unlink()
            with self.assertRaises(AccessError):
                env["perimeter.change.log"].create({"res_model": "x", "field_name": "y", "operation": "write"})
        self.assertEqual(change.new_value, "Moved to the new office")
        change.sudo().unlink()  # the superuser (the retention job) may
        self.assertFalse(change.exists())
