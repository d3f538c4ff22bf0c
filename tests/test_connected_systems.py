import datetime

from odoo.exceptions import AccessError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged

from odoo.addons.perimeter_security.guard import rpc_callers
from odoo.addons.perimeter_security.perimeter.rpc_callers import CallerKey, Count
from odoo.addons.perimeter_security.testing.certs import CertFactory
from odoo.addons.perimeter_security.testing.servers import (
    ClosedPort,
    HttpServer,
    HttpsServer,
    LdapStartTlsServer,
    SmtpServer,
)


def _generate_key(user, name):
    """A real API key, as the "New API Key" wizard makes it."""
    return user.env["res.users.apikeys"].with_user(user).sudo()._generate(None, name, None)


class ConnectedSystemsCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Systems = cls.env["perimeter.connected.system"]
        cls.closed = ClosedPort().__enter__()
        cls.addClassCleanup(cls.closed.__exit__, None, None, None)
        # Everything that could be probed points at this machine: tests never leave loopback.
        cls.env["ir.config_parameter"].set_param("web.base.url", f"http://127.0.0.1:{cls.closed.port}")
        cls.smtp_tls = cls.env["ir.mail_server"].create({
            "name": "Relay", "smtp_host": "127.0.0.1", "smtp_port": cls.closed.port, "smtp_encryption": "starttls",
        })
        cls.smtp_plain = cls.env["ir.mail_server"].create({
            "name": "Old relay", "smtp_host": "127.0.0.1", "smtp_port": 25, "smtp_encryption": "none",
        })
        cls.imap = cls.env["fetchmail.server"].create({
            "name": "Support inbox", "server": "127.0.0.1", "port": 993, "server_type": "imap", "is_ssl": True,
        })
        cls.bot = new_test_user(cls.env, login="shop_bot", groups="base.group_user")
        _generate_key(cls.bot, "Web shop sync")
        cls.key = cls.env["res.users.apikeys"].sudo().search([("user_id", "=", cls.bot.id)])
        cls.webhook = cls.env["ir.actions.server"].create({
            "name": "Notify warehouse",
            "model_id": cls.env.ref("base.model_res_partner").id,
            "state": "webhook",
            "webhook_url": f"https://127.0.0.1:{cls.closed.port}/hook",
        })

    def _by_key(self, record):
        key = f"{record._name},{record.id}"
        return self.Systems.with_context(active_test=False).search([("discovery_key", "=", key)])


@tagged("post_install", "-at_install")
class TestDiscovery(ConnectedSystemsCase):
    def test_discovery_finds_every_source(self):
        result = self.Systems._discover()
        self.assertGreaterEqual(len(result["created"]), 6)

        relay = self._by_key(self.smtp_tls)
        self.assertRecordValues(relay, [{
            "kind": "mail_out", "direction": "outbound", "endpoint": f"smtp://127.0.0.1:{self.closed.port}",
            "probe_protocol": "smtp", "state": "unknown", "name": "Outgoing mail: Relay",
        }])
        self.assertEqual(relay.source_ref, self.smtp_tls)
        # Odoo talks to this one without encryption: it is probed as what it is.
        self.assertEqual(self._by_key(self.smtp_plain).probe_protocol, "plain")
        self.assertRecordValues(self._by_key(self.imap), [{
            "kind": "mail_in", "endpoint": "imaps://127.0.0.1:993", "probe_protocol": "direct",
        }])
        api = self._by_key(self.key)
        self.assertRecordValues(api, [{"kind": "api_client", "direction": "inbound", "endpoint": False}])
        self.assertEqual(api.apikey_ids, self.key, "a discovered API-key system is bound to its key")
        self.assertFalse(api.user_ids, "its user may be a person: only the key is bound")
        self.assertRecordValues(self._by_key(self.webhook), [{
            "kind": "webhook", "direction": "outbound", "endpoint": f"https://127.0.0.1:{self.closed.port}/hook",
        }])
        base = self.Systems.search([("discovery_key", "=", "ir.config_parameter,web.base.url")])
        self.assertRecordValues(base, [{"kind": "website", "endpoint": f"http://127.0.0.1:{self.closed.port}"}])

    def test_rediscovery_updates_never_duplicates_and_keeps_manual_edits(self):
        self.Systems._discover()
        count = self.Systems.search_count([])
        relay = self._by_key(self.smtp_tls)
        relay.write({"name": "Main relay (Postfix)", "contact_phone": "+41 44 668 18 00", "notes": "Ask Bob"})
        api = self._by_key(self.key)
        api.write({"allowed_networks": "192.0.2.7, 198.51.100.0/24"})
        # The source changes: what was not edited by hand follows it.
        self.smtp_tls.write({"smtp_port": 2525, "name": "Relay 2"})

        result = self.Systems._discover()
        self.assertFalse(result["created"])
        self.assertEqual(self.Systems.search_count([]), count)
        self.assertRecordValues(relay, [{
            "name": "Main relay (Postfix)", "endpoint": "smtp://127.0.0.1:2525", "contact_phone": "+41446681800",
            "notes": "Ask Bob", "manual_fields": "name",
        }])
        self.assertEqual(api.allowed_networks, "192.0.2.7/32, 198.51.100.0/24")
        self.assertEqual(api.apikey_ids, self.key)

        # A source that disappears is flagged, not deleted: its notes and fence stay.
        self.webhook.unlink()
        result = self.Systems._discover()
        gone = result["gone"].filtered(lambda system: system.kind == "webhook")
        self.assertTrue(gone.discovery_gone)
        self.assertTrue(gone.active)

    def test_a_system_entered_by_hand_is_adopted(self):
        manual = self.Systems.create({
            "name": "Our relay", "kind": "mail_out", "endpoint": f"smtp://127.0.0.1:{self.closed.port}",
            "contact_name": "Alice",
        })
        self.Systems._discover()
        self.assertEqual(self._by_key(self.smtp_tls), manual)
        self.assertRecordValues(manual, [{"name": "Our relay", "contact_name": "Alice"}])
        self.assertEqual(manual.source_ref, self.smtp_tls)
        self.assertEqual(manual.action_open_source()["res_id"], self.smtp_tls.id)

    def test_rpc_password_callers_become_systems(self):
        rpc_callers.TALLY.add(self.env.cr.dbname, CallerKey(self.bot.id, 0, "192.0.2.44", "http"))
        self.Systems._discover()  # flushes this process's counts first
        system = self.Systems.search([("discovery_key", "=", f"res.users,{self.bot.id}")])
        self.assertRecordValues(system, [{"kind": "api_client", "direction": "inbound"}])
        self.assertEqual(system.user_ids, self.bot)
        system.action_check()
        self.assertEqual(system.state, "critical")
        self.assertIn("Calls over plain HTTP from 192.0.2.44", system.details)


@tagged("post_install", "-at_install")
class TestValidation(ConnectedSystemsCase):
    def test_bad_values_are_refused_with_their_value(self):
        cases = {
            "allowed_networks": ("10.0.0.0/8, 10.1.2.3/8", "'10.1.2.3/8' has host bits set"),
            "contact_phone": ("12", "'12' is not a (valid )?phone number"),
            "pinned_sha256": ("abc", "abc"),
            "ca_bundle": ("not a certificate", "no PEM certificate"),
        }
        system = self.Systems.create({"name": "Partner tool", "kind": "other"})
        for field_name, (value, message) in cases.items():
            with self.subTest(field=field_name), self.assertRaisesRegex(ValidationError, message):
                system.write({field_name: value})
        self.assertFalse(system.allowed_networks)

    def test_values_are_stored_normalised(self):
        self.env.company.country_id = self.env.ref("base.ch")
        system = self.Systems.create({
            "name": "POS Lyon", "kind": "pos", "direction": "inbound",
            "allowed_networks": "192.0.2.0/24\n2001:DB8::/48", "contact_phone": "044 668 18 00",
        })
        self.assertEqual(system.allowed_networks, "192.0.2.0/24, 2001:db8::/48")
        self.assertEqual(system.contact_phone, "+41446681800")

    def test_the_fence_follows_every_change(self):
        system = self.Systems.create({"name": "Tool", "kind": "api_client", "direction": "inbound",
                                      "apikey_ids": [(6, 0, self.key.ids)]})
        self.assertFalse(self.Systems._fence_snapshot(), "no networks yet: nothing is fenced")
        system.allowed_networks = "192.0.2.0/24"
        fence = self.Systems._fence_snapshot()
        self.assertIn("192.0.2.9", fence.keys[self.key.id])
        system.user_ids = self.bot
        self.assertIn(self.bot.id, self.Systems._fence_snapshot().users)
        system.active = False
        self.assertFalse(self.Systems._fence_snapshot())

    def test_only_administrators_see_connected_systems(self):
        self.Systems.create({"name": "Tool"})
        internal = new_test_user(self.env, login="perimeter_viewer", groups="base.group_user")
        with self.assertRaises(AccessError):
            self.Systems.with_user(internal).search([])
        with self.assertRaises(AccessError):
            self.env["perimeter.rpc.caller"].with_user(internal).search([])


@tagged("post_install", "-at_install")
class TestChecks(ConnectedSystemsCase):
    """Probes against real servers on loopback, started by the test."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certs = CertFactory().__enter__()
        cls.addClassCleanup(cls.certs.__exit__, None, None, None)
        cls.ca = cls.certs.ca.cert_pem

    def _system(self, name, endpoint, **vals):
        return self.Systems.create({"name": name, "kind": "other", "endpoint": endpoint, **vals})

    def test_states_and_reasons_in_words(self):
        with (HttpsServer(self.certs.trusted()) as good, HttpsServer(self.certs.self_signed()) as self_signed,
              HttpsServer(self.certs.expired()) as expired, HttpsServer(self.certs.expiring_in(5)) as expiring,
              HttpServer() as plain):
            systems = (
                self._system("Good", good.url, ca_bundle=self.ca)
                | self._system("Self-signed", self_signed.url, ca_bundle=self.ca)
                | self._system("Expired", expired.url, ca_bundle=self.ca)
                | self._system("Expiring", expiring.url, ca_bundle=self.ca)
                | self._system("Plain", plain.url)
                | self._system("Closed", f"https://127.0.0.1:{self.closed.port}/")
                | self._system("Nowhere", False)
                | self._system("Good, but not trusted without its CA", good.url)
            )
            systems.action_check()
        good_s, self_s, expired_s, expiring_s, plain_s, closed_s, nowhere_s, untrusted_s = systems
        self.assertEqual(
            systems.mapped("state"),
            ["ok", "critical", "critical", "warning", "critical", "critical", "unknown", "critical"],
        )
        self.assertRegex(good_s.tls_version, r"^TLS 1\.[23]$")
        self.assertGreater(good_s.cert_expires_at, datetime.datetime.now())
        self.assertIn("self-signed certificate", self_s.details)
        self.assertIn("certificate has expired on", expired_s.details)
        self.assertIn("certificate expires in", expiring_s.details)
        self.assertEqual(plain_s.tls_version, "no TLS")
        self.assertIn("unencrypted", plain_s.details)
        self.assertIn("connection refused", closed_s.details)
        self.assertIn("No endpoint to check", nowhere_s.details)
        self.assertIn("unable to verify the certificate chain", untrusted_s.details)
        self.assertTrue(all(systems.mapped("last_check")))
        self.assertEqual(
            self.Systems.search([("id", "in", systems.ids), ("last_check", "=", False)]), self.Systems,
            "none is left in the 'never checked' filter",
        )

    def test_discovered_mail_server_is_checked_as_odoo_uses_it(self):
        with (SmtpServer(cert=self.certs.trusted(), mode="starttls") as tls_server,
              SmtpServer(mode="plain") as plain_server):
            self.smtp_tls.smtp_port = tls_server.port
            self.smtp_plain.smtp_port = plain_server.port
            self.Systems._discover()
            relay, old_relay = self._by_key(self.smtp_tls), self._by_key(self.smtp_plain)
            # A mail server is trusted where Mail TLS reads it: on the server (one truth for both screens).
            self.smtp_tls.perimeter_ca_bundle = self.ca
            action = (relay | old_relay).action_check()
        self.assertEqual(relay.state, "ok", relay.details)
        self.assertIn("SMTP STARTTLS", relay.details)
        self.assertRegex(relay.tls_version, r"^TLS 1\.[23]$")
        self.assertEqual(old_relay.state, "critical")
        self.assertIn("unencrypted", old_relay.details)
        self.assertEqual((self.smtp_tls.perimeter_tls_state, self.smtp_plain.perimeter_tls_state), ("ok", "failed"))
        self.assertEqual(relay.details, self.smtp_tls.perimeter_tls_details)
        self.assertEqual(action["params"]["message"], "2 systems checked: 1 Critical, 1 OK.\nCritical: "
                                                      "Outgoing mail: Old relay.")

    def test_discovery_keeps_the_verdict_of_the_latest_mail_tls_check(self):
        """Check TLS marked the server failed: Discover must show it Critical, not "Not checked"."""
        expired = self.certs.expired()
        with SmtpServer(cert=expired, mode="implicit") as smtp:
            self.smtp_tls.write({"smtp_port": smtp.port, "smtp_encryption": "ssl", "perimeter_ca_bundle": self.ca})
            self.smtp_tls.action_perimeter_check()
        self.assertEqual(self.smtp_tls.perimeter_tls_state, "failed")
        action = self.Systems.browse().action_discover_button()
        relay = self._by_key(self.smtp_tls)
        self.assertEqual(relay.state, "critical")
        self.assertEqual(relay.details, self.smtp_tls.perimeter_tls_details)
        self.assertIn(f"certificate has expired on {expired.not_after:%Y-%m-%d}", relay.details)
        self.assertEqual(relay.last_check, self.smtp_tls.perimeter_last_check)
        message = action["params"]["message"]
        self.assertRegex(message, r"^\d+ systems found: \d+ new, 0 already listed\.\nNew: ")
        self.assertIn("Outgoing mail: Relay", message)
        self.assertRegex(message, r"(1 mail server shows its|\d+ mail servers show their) latest TLS check")
        # A later check of the server moves the dashboard with it.
        with SmtpServer(cert=self.certs.trusted(), mode="implicit") as smtp:
            self.smtp_tls.smtp_port = smtp.port
            self.smtp_tls.action_perimeter_check()
        self.assertEqual(relay.state, "ok")

    def test_discovered_ldap_directory_is_checked_as_auth_ldap_uses_it(self):
        if "res.company.ldap" not in self.env:
            self.skipTest("auth_ldap is not installed (the test command installs it when python-ldap is present)")
        with (LdapStartTlsServer(self.certs.trusted()) as tls_server,
              LdapStartTlsServer(offer_starttls=False) as plain_server):
            directory, old_directory = self.env["res.company.ldap"].create([
                {"company": self.env.company.id, "ldap_server": "127.0.0.1", "ldap_server_port": tls_server.port,
                 "ldap_tls": True, "ldap_base": "dc=example,dc=com", "ldap_filter": "uid=%s"},
                {"company": self.env.company.id, "ldap_server": "127.0.0.1", "ldap_server_port": plain_server.port,
                 "ldap_tls": False, "ldap_base": "dc=example,dc=com", "ldap_filter": "uid=%s"},
            ])
            self.Systems._discover()
            secured, plain = self._by_key(directory), self._by_key(old_directory)
            self.assertEqual((secured.kind, secured.direction, secured.probe_protocol), ("ldap", "outbound", "ldap"))
            self.assertEqual(plain.probe_protocol, "plain", "auth_ldap without Use TLS speaks plain LDAP")
            secured.ca_bundle = self.ca
            (secured | plain).action_check()
            self.Systems._discover()  # rediscovery updates, never duplicates
        self.assertEqual(len(self._by_key(directory)), 1)
        self.assertEqual(secured.state, "ok", secured.details)
        self.assertIn("LDAP StartTLS", secured.details)
        self.assertEqual(plain.state, "critical")
        self.assertIn("unencrypted", plain.details)

    def test_cron_discovers_and_checks_everything(self):
        self.env["ir.mail_server"].search([]).active = False
        self.env["fetchmail.server"].search([]).active = False
        self.webhook.unlink()
        with HttpsServer(self.certs.trusted()) as server:
            self.env["ir.config_parameter"].set_param("web.base.url", server.url.rstrip("/"))
            self.Systems._cron_discover_and_check()
        base = self.Systems.search([("discovery_key", "=", "ir.config_parameter,web.base.url")])
        # Checked for real: the test CA is not in the system store, so the chain is not trusted.
        self.assertEqual(base.state, "critical")
        self.assertIn("unable to verify the certificate chain", base.details)
        api = self._by_key(self.key)
        self.assertEqual(api.state, "unknown")
        self.assertIn("No call seen yet", api.details)

    def test_inbound_judged_by_calls_seen(self):
        self.Systems._discover()
        api = self._by_key(self.key)
        now = datetime.datetime(2024, 5, 1, 12, 0).replace(tzinfo=datetime.UTC).timestamp()
        self.env["perimeter.rpc.caller"]._merge_counts({
            CallerKey(self.bot.id, self.key.id, "192.0.2.7", "https"): Count(5, now, now),
        })
        api.action_check()
        self.assertEqual(api.state, "ok")
        self.assertIn("192.0.2.7 over HTTPS: 5 calls, last 2024-05-01 12:00 UTC", api.details)
        self.env["perimeter.rpc.caller"]._merge_counts({
            CallerKey(self.bot.id, self.key.id, "198.51.100.3", "http"): Count(1, now, now),
            CallerKey(self.bot.id, self.key.id, "192.0.2.7", "https"): Count(2, now, now),
        })
        api.action_check()
        self.assertEqual(api.state, "critical")
        self.assertIn("192.0.2.7 over HTTPS: 7 calls", api.details)
        self.assertEqual(len(api.caller_ids), 2)
