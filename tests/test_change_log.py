import http.client
import xmlrpc.client
from datetime import timedelta

from odoo import Command, fields
from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tests.common import TEST_CURSOR_COOKIE_NAME

from ..guard import odoo_version
from ..testing.nginx import NGINX, NginxProxy
from .common import INSIDE, OUTSIDE, PROXY, PerimeterHttpCase

MANAGER = "perimeter_security.group_perimeter_manager"


class ChangeLogAssertions:
    def changes(self, **where):
        domain = [(name, "=", value) for name, value in where.items()]
        return self.env["perimeter.change.log"].search(domain, order="id")

    def assertChange(self, change, *, old, new, user=None, address=False, operation="write"):
        self.assertEqual(len(change), 1, f"one change expected, got {change.read(['field_name', 'new_value'])}")
        self.assertEqual((change.old_value, change.new_value), (old, new))
        self.assertEqual(change.operation, operation)
        self.assertEqual(change.client_address, address)
        self.assertEqual(change.user_id, user or self.env.user)
        self.assertTrue(change.changed_at)


@tagged("post_install", "-at_install")
class TestChangeLog(ChangeLogAssertions, TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.manager = new_test_user(cls.env, "perimeter_change_manager", groups=f"base.group_user,{MANAGER}")

    def test_rule_changes_are_recorded_with_before_and_after(self):
        Rules = self.env(user=self.manager)["perimeter.allowlist"]
        rule = Rules.create({"name": "Head office", "network": "192.0.2.7"})
        created = self.changes(res_model="perimeter.allowlist", res_id=rule.id, field_name="network")
        self.assertChange(created, old=False, new="192.0.2.7/32", user=self.manager, operation="create")
        self.assertEqual(created.record_name, "Head office")

        expiry = fields.Datetime.now() + timedelta(days=2)
        rule.write({"network": "192.0.2.0/24", "expires_at": expiry, "active": False})
        self.assertChange(self.changes(res_id=rule.id, field_name="network", operation="write"),
                          old="192.0.2.7/32", new="192.0.2.0/24", user=self.manager)
        self.assertChange(self.changes(res_id=rule.id, field_name="active", operation="write"),
                          old="True", new="False", user=self.manager)
        self.assertChange(self.changes(res_id=rule.id, field_name="expires_at", operation="write"),
                          old=False, new=f"{fields.Datetime.to_string(expiry)} UTC", user=self.manager)
        self.assertEqual(self.changes(res_id=rule.id, field_name="network", operation="write").field_description,
                         "Network")

        rule.unlink()
        deleted = self.changes(res_model="perimeter.allowlist", res_id=rule.id, operation="unlink",
                               field_name="network")
        self.assertChange(deleted, old="192.0.2.0/24", new=False, user=self.manager, operation="unlink")

    def test_unchanged_values_and_untracked_fields_are_not_recorded(self):
        rule = self.env["perimeter.allowlist"].create({"name": "VPN", "network": "203.0.113.128/25"})
        before = self.env["perimeter.change.log"].search_count([])
        rule.write({"network": "203.0.113.128/25"})
        self.env["perimeter.connected.system"].create({"name": "Robot", "notes": "no fence"}).write({"notes": "x"})
        self.assertEqual(self.env["perimeter.change.log"].search_count([]), before)

    def test_rule_chatter_tracks_changes(self):
        rule = self.env["perimeter.allowlist"].create({"name": "VPN", "network": "203.0.113.128/25"})
        self.env.flush_all()
        self.env.cr.precommit.run()  # as if created in an earlier transaction
        rule.write({"network": "203.0.113.128/26"})
        self.env.flush_all()
        self.env.cr.precommit.run()  # tracking is written when the transaction commits
        tracking = self.env["mail.tracking.value"].search([
            ("mail_message_id.model", "=", "perimeter.allowlist"), ("mail_message_id.res_id", "=", rule.id),
            ("field_id.name", "=", "network"),
        ])
        self.assertEqual((tracking.old_value_char, tracking.new_value_char), ("203.0.113.128/25", "203.0.113.128/26"))

    def test_settings_saved_from_the_settings_screen_are_recorded(self):
        self.env["res.config.settings"].create({
            "perimeter_mode": "monitor", "perimeter_trusted_proxies": "10.0.0.5",
        }).execute()
        self.assertChange(self.changes(field_name="perimeter_security.mode"), old="off", new="monitor",
                          operation="create")
        proxies = self.changes(field_name="perimeter_security.trusted_proxies")
        self.assertChange(proxies, old=False, new="10.0.0.5/32", operation="create")
        self.assertEqual(proxies.field_description, "Trusted proxies")
        self.env["res.config.settings"].create({"perimeter_mode": "off"}).execute()
        self.assertEqual(self.changes(field_name="perimeter_security.mode").mapped("new_value"), ["monitor", "off"])
        self.assertFalse(self.changes(field_name="perimeter_security.hsts_max_age"), "unchanged values: no row")

    def test_set_param_from_a_script_is_recorded_without_address(self):
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("perimeter_security.exempt_paths", "/web/health\n/payment/webhook")
        params.set_param("perimeter_security.exempt_paths", False)  # back to the default
        changes = self.changes(field_name="perimeter_security.exempt_paths")
        self.assertEqual(changes.mapped("operation"), ["create", "unlink"])
        self.assertEqual(changes[1].old_value, "/web/health\n/payment/webhook")
        self.assertEqual(changes[1].new_value, "/web/health")
        self.assertEqual(changes.mapped("client_address"), [False, False])
        params.set_param("web.base.url.freeze", "True")
        self.assertFalse(self.changes(field_name="web.base.url.freeze"), "other modules' parameters are not ours")

    def test_fence_and_mail_server_trust_are_recorded(self):
        system = self.env["perimeter.connected.system"].create({
            "name": "Warehouse robot", "kind": "api_client", "direction": "inbound",
        })
        system.write({"allowed_networks": "198.51.100.0/24"})
        self.assertChange(self.changes(res_id=system.id, res_model="perimeter.connected.system",
                                       field_name="allowed_networks"), old=False, new="198.51.100.0/24")
        server = self.env["ir.mail_server"].create({"name": "Relay", "smtp_host": "127.0.0.1"})
        server.write({"perimeter_pinned_sha256": "AB" * 32})
        pin = self.changes(res_model="ir.mail_server", res_id=server.id, field_name="perimeter_pinned_sha256")
        self.assertChange(pin, old=False, new=server.perimeter_pinned_sha256)
        incoming = self.env["fetchmail.server"].create({"name": "Inbox", "server": "127.0.0.1", "server_type": "imap"})
        incoming.write({"perimeter_pinned_sha256": "cd" * 32})
        self.assertEqual(len(self.changes(res_model="fetchmail.server", res_id=incoming.id)), 1)

    def test_history_is_kept_at_least_as_long_as_the_access_log(self):
        params = self.env["ir.config_parameter"].sudo()
        Changes = self.env["perimeter.change.log"]
        params.set_param("perimeter_security.log_retention_days", "30")
        self.assertEqual(Changes._perimeter_retention_days(), 365)
        params.set_param("perimeter_security.log_retention_days", "800")
        self.assertEqual(Changes._perimeter_retention_days(), 800)
        now = fields.Datetime.now()
        row = {"res_model": "perimeter.allowlist", "field_name": "network", "operation": "write"}
        old = Changes.sudo().create({**row, "changed_at": now - timedelta(days=801)})
        recent = Changes.sudo().create({**row, "changed_at": now - timedelta(days=799)})
        Changes._gc_perimeter_change_log()
        self.assertFalse(old.exists())
        self.assertTrue(recent.exists())
        params.set_param("perimeter_security.log_retention_days", "0")
        self.assertEqual(Changes._perimeter_retention_days(), 0, "0 keeps everything, as for the access log")


@tagged("post_install", "-at_install")
class TestChangeLogOverRpc(ChangeLogAssertions, PerimeterHttpCase):
    def execute_kw(self, model, method, args, source, headers=()):
        params = [self.env.cr.dbname, self.env.ref("base.user_admin").id, "admin", model, method, args]
        reply = self.xml_rpc("/xmlrpc/2/object", "execute_kw", params, source=source, headers=headers)
        self.assertEqual(reply.status, 200, reply)
        return xmlrpc.client.loads(reply.body)[0][0]

    def test_set_param_over_xmlrpc_records_the_client_address(self):
        self.execute_kw("ir.config_parameter", "set_param", ["perimeter_security.mode", "monitor"], source=OUTSIDE)
        admin = self.env.ref("base.user_admin")
        self.assertChange(self.changes(field_name="perimeter_security.mode"), old="off", new="monitor",
                          user=admin, address=OUTSIDE, operation="create")

    def test_fence_over_xmlrpc_through_a_trusted_proxy_records_the_forwarded_client(self):
        self.set_policy(trusted_proxies=f"{PROXY}/32")
        system = self.env["perimeter.connected.system"].create({
            "name": "Robot", "kind": "api_client", "direction": "inbound",
        })
        self.execute_kw("perimeter.connected.system", "write", [[system.id], {"allowed_networks": "203.0.113.0/24"}],
                        source=PROXY, headers=[("X-Forwarded-For", "198.51.100.20")])
        self.assertChange(self.changes(res_model="perimeter.connected.system", res_id=system.id,
                                       field_name="allowed_networks"),
                          old=False, new="203.0.113.0/24", user=self.env.ref("base.user_admin"),
                          address="198.51.100.20")
        self.execute_kw("perimeter.connected.system", "write", [[system.id], {"allowed_networks": False}],
                        source=INSIDE, headers=[("X-Forwarded-For", "198.51.100.20")])
        cleared = self.changes(res_id=system.id, field_name="allowed_networks", new_value=False)
        self.assertEqual(cleared.client_address, INSIDE, "proxy headers from an untrusted peer are not believed")


@tagged("post_install", "-at_install")
class TestChangeLogWhoFromWhere(ChangeLogAssertions, TransactionCase):
    """Every change of who may come from where is recorded, whichever side it is made from (odoo shell here)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.rule = cls.env["perimeter.allowlist"].create({"name": "Shop floor", "network": "192.0.2.128/28"})
        cls.group = cls.env["res.groups"].create({"name": "Cashiers of the history test"})
        cls.user = new_test_user(cls.env, "perimeter_history_cashier", groups="base.group_user")

    def test_networks_of_a_group_from_the_group(self):
        self.group.write({"perimeter_allowlist_ids": [Command.link(self.rule.id)]})
        change = self.changes(res_model="res.groups", res_id=self.group.id, field_name="perimeter_allowlist_ids")
        self.assertChange(change, old=False, new="Shop floor")
        self.assertEqual(change.record_name, self.group.display_name)
        self.assertEqual(change.field_description, "Allowed networks")
        self.group.write({"perimeter_allowlist_ids": [Command.clear()]})
        self.assertEqual(self.changes(res_model="res.groups", res_id=self.group.id).mapped("new_value"),
                         ["Shop floor", False])

    def test_own_networks_of_a_user_from_the_user(self):
        self.user.write({"perimeter_allowlist_ids": [Command.set(self.rule.ids)]})
        self.assertChange(self.changes(res_model="res.users", res_id=self.user.id,
                                       field_name="perimeter_allowlist_ids"), old=False, new="Shop floor")
        created = new_test_user(self.env, "perimeter_history_new", groups="base.group_user",
                                perimeter_allowlist_ids=[Command.set(self.rule.ids)])
        self.assertChange(self.changes(res_model="res.users", res_id=created.id), old=False, new="Shop floor",
                          operation="create")

    def test_joining_or_leaving_a_group_that_names_networks(self):
        self.group.write({"perimeter_allowlist_ids": [Command.link(self.rule.id)]})
        # From the user's side...
        groups, users = odoo_version.USER_GROUPS_FIELD, odoo_version.GROUP_USERS_FIELD
        self.user.write({groups: [Command.link(self.group.id)]})
        self.assertChange(self.changes(res_model="res.users", res_id=self.user.id, field_name=groups),
                          old=False, new=self.group.full_name)
        # ...and from the group's.
        self.group.write({users: [Command.unlink(self.user.id)]})
        self.assertChange(self.changes(res_model="res.groups", res_id=self.group.id, field_name=users),
                          old=self.user.login, new=False)
        # A group that names no networks is not the perimeter's business.
        other = self.env["res.groups"].create({"name": "Plain group of the history test"})
        self.user.write({groups: [Command.link(other.id)]})
        self.assertFalse(self.changes(res_model="res.users", res_id=self.user.id, field_name=groups)
                         .filtered(lambda change: other.full_name in (change.new_value or "")))

    def test_reserving_a_rule(self):
        rule = self.env["perimeter.allowlist"].create({"name": "Partner", "network": "203.0.113.0/24"})
        self.assertFalse(self.changes(res_id=rule.id, res_model="perimeter.allowlist", field_name="reserved"),
                         "a rule created unreserved says nothing about it")
        rule.write({"reserved": True})
        self.assertChange(self.changes(res_id=rule.id, res_model="perimeter.allowlist", field_name="reserved"),
                          old="False", new="True")

    def test_a_parameter_turned_off_is_still_recorded(self):
        self.env["ir.config_parameter"].sudo().set_param("perimeter_security.allow_loopback", "False")
        self.assertChange(self.changes(field_name="perimeter_security.allow_loopback"), old="True", new="False",
                          operation="create")

    def test_blocking_and_unblocking_a_client(self):
        wizard = self.env["perimeter.block"].create({"networks": "203.0.113.9", "duration": "forever",
                                                     "reason": "Password guessing"})
        wizard.action_block()
        block = self.env["perimeter.blocklist"].search([("network", "=", "203.0.113.9/32")])
        self.assertChange(self.changes(res_model="perimeter.blocklist", res_id=block.id, field_name="network"),
                          old=False, new="203.0.113.9/32", operation="create")
        block.action_perimeter_unblock()
        self.assertChange(self.changes(res_model="perimeter.blocklist", res_id=block.id, field_name="active"),
                          old="True", new="False")


@tagged("post_install", "-at_install")
class TestChangeLogThroughNginx(ChangeLogAssertions, PerimeterHttpCase):
    """Through a real nginx (a trusted proxy): every row of one request carries the client the module resolved."""

    CLIENT = "127.0.0.5"

    def setUp(self):
        super().setUp()
        if NGINX is None:
            self.skipTest("nginx is not installed (apt-get install nginx-light)")
        self.set_policy(trusted_proxies=f"{PROXY}/32")  # mode off: nothing refused, everything recorded
        self.nginx = self.enterContext(NginxProxy("", self.http_port(), proxy_bind=PROXY))

    def execute_kw(self, model, method, args):
        """``execute_kw`` as the administrator, from ``CLIENT`` through nginx: the result."""
        body = xmlrpc.client.dumps((self.env.cr.dbname, self.env.ref("base.user_admin").id, "admin", model, method,
                                    args), "execute_kw", allow_none=True).encode()
        with self.requests_allowed():
            connection = http.client.HTTPConnection("127.0.0.1", self.nginx.port, timeout=30,
                                                    source_address=(self.CLIENT, 0))
            try:
                connection.request("POST", "/xmlrpc/2/object", body=body, headers={
                    "Content-Type": "text/xml", "Cookie": f"{TEST_CURSOR_COOKIE_NAME}={self.http_request_key}"})
                response = connection.getresponse()
                self.assertEqual(response.status, 200)
                return xmlrpc.client.loads(response.read())[0][0]
            finally:
                connection.close()

    def test_one_settings_save_one_address(self):
        settings = self.execute_kw("res.config.settings", "create",
                                   [{"perimeter_mode": "monitor", "perimeter_trusted_proxies": "127.0.0.9"}])
        self.execute_kw("res.config.settings", "execute", [[settings]])
        admin = self.env.ref("base.user_admin")
        self.assertChange(self.changes(field_name="perimeter_security.mode", user_id=admin.id), old="off",
                          new="monitor", user=admin, address=self.CLIENT, operation="create")
        self.assertChange(self.changes(field_name="perimeter_security.trusted_proxies", user_id=admin.id),
                          old=f"{PROXY}/32", new="127.0.0.9/32", user=admin, address=self.CLIENT)

    def test_networks_given_to_a_user_record_the_client(self):
        rule = self.env["perimeter.allowlist"].create({"name": "Shop", "network": "192.0.2.128/28"})
        user = new_test_user(self.env, "perimeter_history_nginx", groups="base.group_user")
        self.execute_kw("res.users", "write", [[user.id], {"perimeter_allowlist_ids": [(6, 0, rule.ids)]}])
        self.execute_kw("perimeter.allowlist", "write", [[rule.id], {"reserved": True}])
        admin = self.env.ref("base.user_admin")
        self.assertChange(self.changes(res_model="res.users", res_id=user.id), old=False, new="Shop", user=admin,
                          address=self.CLIENT)
        self.assertChange(self.changes(res_model="perimeter.allowlist", res_id=rule.id, field_name="reserved"),
                          old="False", new="True", user=admin, address=self.CLIENT)


@tagged("post_install", "-at_install")
class TestChangeLogWording(ChangeLogAssertions, TransactionCase):
    """Issue 21 #2: Settings in Force and the Change History word values as the Settings screen does."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")
        cls.env["ir.module.module"]._load_module_terms(["perimeter_security"], ["fr_FR"], overwrite=True)
        cls.reader = new_test_user(cls.env, "perimeter_wording_reader", groups=f"base.group_user,{MANAGER}",
                                   tz="Europe/Paris")

    def test_settings_in_force_show_the_screens_labels(self):
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("perimeter_security.mode", "enforce")
        params.set_param("perimeter_security.require_https", "True")
        in_force = {setting.key: setting for setting in self.env(user=self.reader)["perimeter.setting"].search([])}
        mode = in_force["perimeter_security.mode"]
        self.assertEqual((mode.value_text, mode.default_text, mode.is_default), ("Enforce", "Off", False))
        self.assertEqual(in_force["perimeter_security.require_https"].value_text, "Yes")
        self.assertEqual(in_force["perimeter_security.mail_tls_min_version"].value_text, "TLS 1.2")
        self.assertEqual(in_force["perimeter_security.mail_tls_policy"].value_text, "Warn")
        self.assertEqual(in_force["perimeter_security.exempt_paths"].value_text, "/web/health", "as stored")
        french = self.env(user=self.reader, context={"lang": "fr_FR"})["perimeter.setting"]
        https = french.search([("key", "=", "perimeter_security.require_https")])
        self.assertEqual(https.value_text, "Oui")
        self.assertEqual(mode.with_env(french.env).value_text, "Application", "as the French Settings screen says")

    def test_a_setting_change_names_the_setting_and_its_values_in_words(self):
        self.env["ir.config_parameter"].sudo().set_param("perimeter_security.scope", "internal")
        change = self.changes(field_name="perimeter_security.scope").with_user(self.reader)
        self.assertChange(change.sudo(), old="all", new="internal", operation="create")
        self.assertEqual((change.record_text, change.old_text, change.new_text),
                         ("Scope", "Every request", "Internal users"))
        self.env["ir.config_parameter"].sudo().set_param("perimeter_security.allow_loopback", "False")
        change = self.changes(field_name="perimeter_security.allow_loopback").with_user(self.reader)
        self.assertEqual((change.old_text, change.new_text), ("Yes", "No"))
        self.assertEqual(change.with_context(lang="fr_FR").new_text, "Non")

    def test_a_rules_flags_and_dates_in_words_and_the_readers_time_zone(self):
        rule = self.env["perimeter.allowlist"].create({"name": "Contractor", "network": "192.0.2.0/24"})
        rule.write({"expires_at": "2026-12-03 18:00:00", "active": False})
        expires = self.changes(res_id=rule.id, field_name="expires_at").with_user(self.reader)
        self.assertEqual(expires.sudo().new_value, "2026-12-03 18:00:00 UTC", "the stored fact is kept")
        # Odoo 19's English says times on a 12-hour clock, 18's on a 24-hour one: as the reader's screens do.
        twelve_hours = "%I" in self.env["res.lang"].search([("code", "=", "en_US")]).time_format
        self.assertEqual(expires.new_text, "12/03/2026 07:00:00 PM" if twelve_hours else "12/03/2026 19:00:00",
                         "in the reader's time zone (Paris) and format")
        active = self.changes(res_id=rule.id, field_name="active").with_user(self.reader)
        self.assertEqual((active.old_text, active.new_text, active.record_text), ("Yes", "No", "Contractor"))
