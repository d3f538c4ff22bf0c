"""The SPEC's methods, called as an integration calls them: XML-RPC ``execute_kw`` with an API key.

A method Odoo calls on records needs ids; a model-level method (``@api.model``)
is called with none. Losing ``@api.model`` on an override is invisible from
Python (the ORM takes both) and breaks every script that calls the method over
RPC: ``execute_kw(db, uid, key, 'perimeter.connected.system', 'action_discover', [])``
then fails inside Odoo's ``call_kw``. Only a real RPC call shows it.
"""

import xmlrpc.client

from odoo.tests import HttpCase, tagged

from ..testing.certs import CertFactory
from ..testing.servers import HttpsServer, ImapServer, SmtpServer


@tagged("post_install", "-at_install")
class TestSpecRpc(HttpCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certs = CertFactory()
        cls.addClassCleanup(cls.certs.cleanup)
        cls.admin = cls.env.ref("base.user_admin")
        # What an integration holds: an administrator's API key, as the "New API Key" wizard makes it.
        cls.key = cls.env["res.users.apikeys"].with_user(cls.admin).sudo()._generate(None, "Perimeter automation", None)
        cls.Systems = cls.env["perimeter.connected.system"]

    def call(self, model, method, args, kwargs=None):
        """``execute_kw`` over XML-RPC as the administrator's API key; a fault fails the test with Odoo's words."""
        try:
            return self.xmlrpc_object.execute_kw(
                self.env.cr.dbname, self.admin.id, self.key, model, method, args, kwargs or {})
        except xmlrpc.client.Fault as fault:
            self.fail(f"{model}.{method} over XML-RPC: {fault.faultString.strip().splitlines()[-1]}")

    def test_connected_systems_discover_and_check(self):
        # Only systems this test makes are probed: the others (demo data, discovered sources) are put aside.
        with HttpsServer(self.certs.trusted()) as https:
            system = self.Systems.create({
                "name": "Payment gateway", "kind": "payment", "direction": "outbound",
                "endpoint": f"https://127.0.0.1:{https.port}/", "ca_bundle": self.certs.ca.cert_pem,
            })
            # Model level, no ids: the SPEC's call.
            self.assertIs(self.call("perimeter.connected.system", "action_discover", []), True)
            self.assertTrue(self.Systems.search_count([("discovery_key", "!=", False)]),
                            "discovery over RPC created the systems this database uses")
            result = self.call("perimeter.connected.system", "action_discover_button", [[]])
            self.assertIn("systems found", result["params"]["message"])
            (self.Systems.search([]) - system).action_archive()
            result = self.call("perimeter.connected.system", "action_check", [system.ids])
            self.assertEqual(result["params"]["message"], "1 systems checked: 1 OK.")
            self.assertEqual(system.state, "ok", system.details)
            system.state = "unknown"
            result = self.call("perimeter.connected.system", "action_check_all", [system.ids])
            self.assertEqual(result["params"]["message"], "1 systems checked: 1 OK.")
            self.assertEqual(system.state, "ok", system.details)

    def test_mail_servers_check_tls(self):
        trusted = self.certs.trusted()
        with SmtpServer(cert=trusted, mode="starttls") as smtp, ImapServer(trusted, mode="implicit") as imap:
            outgoing = self.env["ir.mail_server"].create({
                "name": "Relay", "smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_encryption": "starttls",
                "perimeter_ca_bundle": self.certs.ca.cert_pem,
            })
            incoming = self.env["fetchmail.server"].create({
                "name": "Support inbox", "server": "127.0.0.1", "port": imap.port, "server_type": "imap",
                "is_ssl": True, "perimeter_ca_bundle": self.certs.ca.cert_pem,
            })
            result = self.call("ir.mail_server", "action_perimeter_check", [outgoing.ids])
            self.assertEqual(result["params"]["type"], "success", result["params"]["message"])
            self.assertEqual(outgoing.perimeter_tls_state, "ok")
            result = self.call("fetchmail.server", "action_perimeter_check", [incoming.ids])
            self.assertEqual(result["params"]["type"], "success", result["params"]["message"])
            self.assertEqual(incoming.perimeter_tls_state, "ok")
        result = self.call("ir.mail_server", "action_perimeter_retry_refused", [outgoing.ids])
        self.assertEqual(result["params"]["message"], "0 refused mail(s) queued again.")

    def test_posture_review(self):
        result = self.call("perimeter.posture.finding", "action_review", [[]])
        self.assertEqual(result["res_model"], "perimeter.posture.finding")
        self.assertTrue(self.env["perimeter.posture.finding"].search_count([]), "the review stored its findings")
