"""No hook can be silently dead: each override whose Odoo counterpart differs between 18.0 and 19.0 is proved
to run on the Odoo under test (docs/PORT19.md §13).

Two kinds of proof: (a) Odoo's own class still defines the method the override is bound to (else the
override is reachable by nobody); (b) a call through Odoo's real entry point reaches the hook (a spy, or an
observable effect). A series that renames or reshapes one of them fails here, not silently in production.
"""

import email.message
import inspect
from unittest.mock import ANY, patch

import odoo.http
from odoo.tests import HttpCase, TransactionCase, tagged

from ..guard import mail_connections, odoo_version, server_config, server_tier, signaling, verdicts
from .common import use_configuration_file

OWN_MODULE = "odoo.addons.perimeter_security"

# (model, method name this Odoo calls): overrides bound per series, and the ones whose signature changed.
OVERRIDES = (
    ("res.users", odoo_version.CHECK_METHOD),
    ("res.users", "authenticate"),
    ("res.users", "_check_credentials"),
    ("res.users", "_assert_can_auth"),
    ("res.users.apikeys", "_check_credentials"),
    ("ir.mail_server", odoo_version.SMTP_CONNECT),
    ("ir.mail_server", "test_smtp_connection"),
    ("fetchmail.server", odoo_version.FETCH_CONNECT),
    ("fetchmail.server", "fetch_mail"),
    ("mail.mail", "_postprocess_sent_message"),
)

# (table, constraint name) made by odoo_version.sql_constraints: the flush's upserts need them.
SQL_CONSTRAINTS = (
    ("perimeter_access_log", "window_unique"),
    ("perimeter_access_alert", "window_unique"),
    ("perimeter_autoban_counter", "window_unique"),
    ("perimeter_allowlist", "network_unique"),
    ("perimeter_blocklist", "network_unique"),
    ("perimeter_posture_finding", "key_host_unique"),
    ("perimeter_admin_address", "address_unique"),
)


class _Stop(Exception):
    """Raised by a spy: the hook was reached, go no further."""


@tagged("post_install", "-at_install")
class TestOdooHooks(TransactionCase):

    def test_every_override_overrides_a_method_of_odoo(self):
        for model, name in OVERRIDES:
            with self.subTest(model=model, method=name):
                classes = type(self.env[model]).mro()
                ours = [cls for cls in classes if name in vars(cls) and cls.__module__.startswith(OWN_MODULE)]
                odoos = [cls for cls in classes if name in vars(cls) and not cls.__module__.startswith(OWN_MODULE)]
                self.assertTrue(ours, f"{model}.{name}: the module does not override it on this Odoo")
                self.assertTrue(odoos, f"{model}.{name}: Odoo no longer defines it, the override is dead")

    def test_the_unique_constraints_exist(self):
        for table, name in SQL_CONSTRAINTS:
            with self.subTest(table=table):
                self.env.cr.execute("SELECT 1 FROM pg_constraint WHERE conname = %s", [f"{table}_{name}"])
                self.assertTrue(self.env.cr.fetchone(), f"{table}_{name} is missing: its upserts would fail")

    def test_a_committed_rule_change_signals_odoos_cache_invalidation(self):
        """The commit trigger bumps the signal this Odoo reads (18 sequence, 19 table) for the cache 'default'."""
        cr = self.env.cr
        try:
            before = self.registry.get_sequences(cr)[1]["default"] or 0
        except Exception:  # noqa: BLE001 - no signaling set up in this database
            self.skipTest("Odoo's signaling is not set up in this database")
        self.env["perimeter.allowlist"].create({"name": "Signal", "network": "10.79.0.0/24"})
        self.env.flush_all()
        # The trigger is deferred to the commit; make it fire now (the test cannot commit).
        cr.execute("SET CONSTRAINTS perimeter_security_rules_changed IMMEDIATE")
        cr.execute("SET CONSTRAINTS perimeter_security_rules_changed DEFERRED")
        after = self.registry.get_sequences(cr)[1]["default"] or 0
        self.assertGreater(after, before, f"the trigger bumped neither {signaling.TABLE} nor {signaling.SEQUENCE}")

    def test_the_configuration_file_section_is_read(self):
        """Break-glass read from the file as this Odoo keeps it (18: config.misc; 19: the file itself)."""
        use_configuration_file(self, "[options]\n\n[perimeter_security]\ndisabled = True\n"
                                     "server_allowlist = 10.0.0.0/8\n")
        self.assertTrue(server_config.break_glass())
        self.assertEqual(server_config.options().get("server_allowlist"), "10.0.0.0/8")

    def test_session_authenticate_guard_sees_the_database(self):
        """/web/session/authenticate's guard gets the database name whatever this Odoo passes (18 name, 19 env)."""
        original = inspect.unwrap(odoo.http.Session.authenticate)
        self.assertIsNot(original, odoo.http.Session.authenticate, "Session.authenticate is not wrapped")
        first = list(inspect.signature(original).parameters)[1]
        self.assertIn(first, ("dbname", "env"), "Session.authenticate changed shape: the guard would not fire")
        argument = self.env if first == "env" else self.env.cr.dbname
        with patch.object(verdicts, "current_state", return_value=object()), \
                patch.object(server_tier, "_check_target", side_effect=_Stop) as spy, \
                self.assertRaises(_Stop):
            odoo.http.Session.authenticate(None, argument, {})
        spy.assert_called_once_with(ANY, self.env.cr.dbname)

    def test_outgoing_mail_connects_through_the_override(self):
        odoo_version.allow_real_mail_connections(self)
        message = email.message.EmailMessage()
        message["From"], message["To"], message["Subject"] = "a@example.com", "b@example.com", "hook"
        message.set_content("hook")
        with patch.object(type(self.env["ir.mail_server"]), "_perimeter_mail_tls_settings",
                          side_effect=_Stop) as spy, self.assertRaises(_Stop):
            self.env["ir.mail_server"].send_email(message, smtp_server="127.0.0.1", smtp_port=9)
        spy.assert_called_once()

    def test_incoming_mail_connects_through_the_override(self):
        server = self.env["fetchmail.server"].create({
            "name": "Hook", "server_type": "imap", "server": "127.0.0.1", "port": 9, "user": "u", "password": "p",
        })
        odoo_version.allow_real_mail_connections(self)
        with patch.object(type(server), "_perimeter_mail_tls_settings", side_effect=_Stop) as spy, \
                self.assertRaises(_Stop):
            getattr(server, odoo_version.FETCH_CONNECT)()
        spy.assert_called_once()

    def test_one_mail_connection_adapter_fits_this_odoo(self):
        self.assertTrue(any(adapter.fits() for adapter in mail_connections._ADAPTERS))


@tagged("post_install", "-at_install")
class TestOdooCredentialHooks(HttpCase):
    """The res.users hooks, reached through Odoo's own XML-RPC entry points."""

    def test_execute_kw_runs_the_per_call_check(self):
        users = type(self.env["res.users"])
        with patch.object(users, "_perimeter_hold_uid") as spy:
            count = self.xmlrpc_object.execute_kw(self.env.cr.dbname, 2, "admin", "res.partner", "search_count", [[]])
        self.assertIsInstance(count, int)
        spy.assert_any_call(2)

    def test_rpc_authenticate_runs_the_login_hook(self):
        users = type(self.env["res.users"])
        with patch.object(users, "_perimeter_record_rpc_login") as spy:
            uid = self.xmlrpc_common.authenticate(self.env.cr.dbname, "admin", "admin", {})
        self.assertEqual(uid, 2)
        spy.assert_called_once()
