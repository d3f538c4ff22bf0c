import email
import smtplib
from unittest.mock import patch

from odoo.exceptions import UserError, ValidationError
from odoo.tests import tagged
from odoo.tools import config

from odoo.addons.base.models import ir_mail_server as odoo_ir_mail_server

from ..guard import odoo_version
from ..models.perimeter_mail_tls_mixin import MailTlsError
from ..testing.servers import SilentServer, SmtpServer
from .mail_tls_common import LOCAL, MailTlsCase, b64

TRUST_ADVICE = ("Trust it on this mail server (tab TLS Trust): paste the issuing CA in CA bundle, or pin the "
                "certificate's SHA-256 fingerprint.")
PIN_ADVICE = ("If the server's certificate was renewed on purpose, pin the new fingerprint (Check TLS shows it as "
              "Certificate SHA-256); if not, someone may be intercepting the connection: keep the pin.")


@tagged("post_install", "-at_install")
class TestMailTlsSmtp(MailTlsCase):
    """ir.mail_server.connect() against real SMTP servers, one certificate flaw at a time."""

    def assertRefused(self, server, smtp, words, advice):
        # Not assertRaises: its savepoint would roll back what the refusal recorded on the server,
        # which the mail queue (it catches the error and commits) keeps.
        try:
            self.send(server)
        except MailTlsError as exc:
            reason = str(exc)
        else:
            self.fail("the connection should have been refused")
        # The whole sentence: a substring would miss a tuple's repr around it.
        self.assertEqual(reason, f"Mail TLS (enforce): refused to connect to {LOCAL}:{smtp.port}: {words}. "
                                 f"Nothing was sent. {advice} Then retry this mail.")
        self.assertEqual(smtp.messages, [], "nothing may be sent over a refused channel")
        self.assertEqual(smtp.logins, [], "no credential may cross a refused channel")
        self.assertEqual(server.perimeter_tls_state, "failed")
        self.assertIn(words, server.perimeter_tls_details)
        return reason

    def test_trusted_through_the_ca_bundle_is_delivered_over_starttls_and_ssl(self):
        self.set_policy("enforce")
        for mode, encryption in (("starttls", "starttls"), ("implicit", "ssl")):
            with SmtpServer(self.good, mode=mode, credentials=("odoo", "secret")) as smtp:
                server = self.smtp_record(smtp.port, encryption, perimeter_ca_bundle=self.ca_pem,
                                          smtp_user="odoo", smtp_pass="secret")
                message_id, _message = self.send(server)
            received = email.message_from_bytes(smtp.messages[0].content)
            self.assertEqual(received["Message-Id"], message_id)
            self.assertEqual(received["Subject"], "Invoice INV/2024/0042")
            self.assertIn(smtp.messages[0].tls_version, ("TLSv1.2", "TLSv1.3"))
            self.assertEqual(smtp.logins, ["odoo"], "_smtp_login ran, over the verified channel")
            # The first connection also told the server record what it saw.
            self.assertEqual(server.perimeter_tls_state, "ok")
            self.assertEqual(server.perimeter_cert_sha256, self.good.sha256_colons)

    def test_a_wrong_password_is_odoos_error_not_a_tls_one(self):
        self.set_policy("enforce")
        with SmtpServer(self.good, mode="starttls", credentials=("odoo", "secret")) as smtp:
            server = self.smtp_record(smtp.port, perimeter_ca_bundle=self.ca_pem, smtp_user="odoo", smtp_pass="nope")
            try:
                self.send(server)
            except smtplib.SMTPAuthenticationError as exc:
                self.assertEqual(exc.smtp_code, 535)
            else:
                self.fail("the server refused the password")
        self.assertEqual(server.perimeter_tls_state, "ok", "the channel itself was verified")

    def test_unknown_ca_is_refused(self):
        self.set_policy("enforce")
        with SmtpServer(self.good, mode="starttls") as smtp:
            server = self.smtp_record(smtp.port)
            self.assertRefused(server, smtp, "unable to verify the certificate chain: add the issuing CA to the "
                                             "CA bundle (issuer: CN=Perimeter Test CA)", TRUST_ADVICE)

    def test_self_signed_is_refused_until_pinned(self):
        self.set_policy("enforce")
        self_signed = self.certs.self_signed()
        with SmtpServer(self_signed, mode="starttls") as smtp:
            server = self.smtp_record(smtp.port)
            self.assertRefused(server, smtp, "self-signed certificate: add its CA to the server's CA bundle or pin it",
                               TRUST_ADVICE)
            server.perimeter_pinned_sha256 = self_signed.sha256.upper()
            self.send(server)
        self.assertEqual(len(smtp.messages), 1)
        self.assertEqual(server.perimeter_tls_state, "ok")
        self.assertIn("Trust: pinned fingerprint", server.perimeter_tls_details)

    def test_expired_not_yet_valid_and_wrong_host_are_refused_in_plain_words(self):
        self.set_policy("enforce")
        expired = self.certs.expired()
        future = self.certs.not_yet_valid()
        cases = (
            (expired, f"certificate has expired on {expired.not_after:%Y-%m-%d}",
             "Renew the mail server's certificate (a pin does not make an expired certificate valid)."),
            (future, f"certificate is not valid until {future.not_before:%Y-%m-%d}",
             "Check the clocks of both machines, or install a certificate that is valid today."),
            (self.certs.wrong_host(), f"certificate is for mail.other.com, not {LOCAL}",
             "Enter in SMTP Server a name the certificate is issued for, or give the server a certificate for this "
             "name."),
        )
        for cert, words, advice in cases:
            with self.subTest(words=words), SmtpServer(cert, mode="implicit") as smtp:
                server = self.smtp_record(smtp.port, "ssl", perimeter_ca_bundle=self.ca_pem)
                self.assertRefused(server, smtp, words, advice)

    def test_pin_mismatch_is_refused_even_with_a_trusted_chain(self):
        self.set_policy("enforce")
        other = self.certs.trusted()
        with SmtpServer(self.good, mode="starttls") as smtp:
            server = self.smtp_record(smtp.port, perimeter_ca_bundle=self.ca_pem,
                                      perimeter_pinned_sha256=other.sha256_colons)
            self.assertRefused(server, smtp, f"pinned fingerprint mismatch: expected {other.sha256_colons}, "
                                             f"got {self.good.sha256_colons}", PIN_ADVICE)
        # What is shown agrees with the state: never "chain verified" next to "State: failed".
        details = server.perimeter_tls_details
        self.assertTrue(details.startswith("State: failed\n"), details)
        self.assertNotIn("Trust: chain verified", details)

    def test_minimum_version(self):
        self.set_policy("enforce", "TLSv1_3")
        with SmtpServer(self.good, mode="starttls", max_version="TLSv1_2") as smtp:
            server = self.smtp_record(smtp.port, perimeter_ca_bundle=self.ca_pem)
            self.assertRefused(server, smtp, "TLS 1.2 is below the required minimum TLS 1.3",
                               "Have the mail server accept TLS 1.3 or later (it only offers older versions, which "
                               "are no longer safe). Or set the minimum mail TLS version back to TLS 1.2 in Settings.")
        with SmtpServer(self.good, mode="starttls", min_version="TLSv1_3") as smtp:
            server = self.smtp_record(smtp.port, perimeter_ca_bundle=self.ca_pem)
            self.send(server)
        self.assertEqual(smtp.messages[0].tls_version, "TLSv1.3")

    def test_plaintext_is_refused_before_any_connection(self):
        self.set_policy("enforce")
        with SmtpServer(mode="plain") as smtp:
            server = self.smtp_record(smtp.port, "none")
            with self.assertRaisesRegex(MailTlsError, "Connection Encryption is None"):
                self.send(server)
            # Odoo's command-line fallback (no record, --smtp-server without --smtp-ssl) too.
            with self.assertRaisesRegex(MailTlsError, "Connection Encryption is None"):
                getattr(self.env["ir.mail_server"], odoo_version.SMTP_CONNECT)(host=LOCAL, port=smtp.port)
            with self.assertRaisesRegex(MailTlsError, "Connection Encryption is None"), \
                 patch.dict(config.options, {"smtp_server": LOCAL, "smtp_port": smtp.port}):
                self.env["ir.mail_server"].search([]).active = False
                getattr(self.env["ir.mail_server"], odoo_version.SMTP_CONNECT)()
            self.assertEqual(smtp.connections, 0, "the server must not even see a connection")

    def test_starttls_not_offered_is_refused(self):
        self.set_policy("enforce")
        with SmtpServer(mode="plain") as smtp:
            server = self.smtp_record(smtp.port, "starttls")
            self.assertRefused(server, smtp, "the server does not offer STARTTLS",
                               "Enable STARTTLS on the mail server, or use SSL/TLS on its implicit-TLS port (usually "
                               "465).")

    def test_client_certificate_authentication_on_the_verifying_context(self):
        self.set_policy("enforce")
        identity = self.certs.client()
        smtp = SmtpServer(self.good, mode="implicit")
        smtp.context.verify_mode = smtp.context.verify_mode.CERT_REQUIRED
        smtp.context.load_verify_locations(cadata=self.ca_pem)
        with smtp:
            server = self.smtp_record(smtp.port, "ssl", smtp_authentication="certificate",
                                      smtp_ssl_certificate=b64(identity.cert_pem),
                                      smtp_ssl_private_key=b64(identity.key_pem), perimeter_ca_bundle=self.ca_pem)
            self.send(server)
            # The check connects as Odoo does, client certificate included.
            server.action_perimeter_check()
        self.assertEqual(len(smtp.messages), 1)
        self.assertEqual(server.perimeter_tls_state, "ok")

    def test_warn_sends_as_odoo_does_and_records_the_failure(self):
        self.set_policy("warn")
        with SmtpServer(self.certs.self_signed(), mode="starttls") as smtp:
            server = self.smtp_record(smtp.port)
            self.send(server)
            self.send(server)
        self.assertEqual(len(smtp.messages), 2, "warn never stops mail")
        self.assertEqual(server.perimeter_tls_state, "failed")
        self.assertIn("self-signed certificate", server.perimeter_tls_details)
        self.assertEqual(len(self.channel_messages(server.name)), 1, "one notification when it starts failing")

    def test_warn_records_clear_text(self):
        self.set_policy("warn")
        with SmtpServer(mode="plain") as smtp:
            server = self.smtp_record(smtp.port, "none")
            self.send(server)
        self.assertEqual(len(smtp.messages), 1)
        self.assertEqual(server.perimeter_tls_state, "failed")
        self.assertIn("unencrypted", server.perimeter_tls_details)

    def test_off_is_odoo_exactly(self):
        self.set_policy("off")
        with SmtpServer(self.certs.expired(), mode="starttls") as smtp:
            server = self.smtp_record(smtp.port)
            self.send(server)
        self.assertEqual(len(smtp.messages), 1)
        self.assertEqual(smtp.connections, 1)
        self.assertEqual(server.perimeter_tls_state, "unknown")

    def test_check_tls_fills_the_fields(self):
        self.set_policy("enforce")
        with SmtpServer(self.good, mode="starttls") as smtp:
            server = self.smtp_record(smtp.port, perimeter_ca_bundle=self.ca_pem)
            action = server.action_perimeter_check()
        self.assertEqual(action["params"]["type"], "success")
        self.assertRegex(action["params"]["message"], r"^TLS verified \(TLS 1\.[23], certificate for localhost")
        self.assertEqual(server.perimeter_tls_state, "ok")
        self.assertEqual(server.perimeter_cert_expires_at, self.good.not_after)
        self.assertTrue(server.perimeter_last_check)
        details = server.perimeter_tls_details
        for line in (f"Endpoint: {LOCAL}:{smtp.port} (SMTP STARTTLS)", "Protocol: TLS 1.", "Subject: CN=localhost",
                     "Issuer: CN=Perimeter Test CA", "Names (SAN): localhost, 127.0.0.1",
                     f"Expires: {self.good.not_after:%Y-%m-%d}"):
            self.assertIn(line, details)

        expired = self.certs.expired()
        with SmtpServer(expired, mode="implicit") as smtp:
            server.write({"smtp_port": smtp.port, "smtp_encryption": "ssl"})
            action = server.action_perimeter_check()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertEqual(action["params"]["message"], (
            f"TLS check failed: certificate has expired on {expired.not_after:%Y-%m-%d}. Renew the mail server's "
            "certificate (a pin does not make an expired certificate valid)."))
        self.assertEqual(server.perimeter_tls_state, "failed")

    def test_plaintext_check_under_enforce_opens_nothing(self):
        self.set_policy("enforce")
        with SmtpServer(mode="plain") as smtp:
            server = self.smtp_record(smtp.port, "none")
            server.action_perimeter_check()
        self.assertEqual(smtp.connections, 0)
        self.assertEqual(server.perimeter_tls_state, "failed")
        self.assertIn("Odoo sends nothing through this server", server.perimeter_tls_details)

    def test_test_connection_shows_the_tls_facts(self):
        self.set_policy("enforce")
        with SmtpServer(self.good, mode="starttls") as smtp:
            server = self.smtp_record(smtp.port, perimeter_ca_bundle=self.ca_pem, from_filter="example.com")
            action = server.test_smtp_connection()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("Connection Test Successful!", action["params"]["message"])
        self.assertIn("TLS verified (TLS 1.", action["params"]["message"])

        with SmtpServer(self.certs.wrong_host(), mode="starttls") as smtp:
            server.smtp_port = smtp.port
            action = server.test_smtp_connection()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn(f"certificate is for mail.other.com, not {LOCAL}", action["params"]["message"])
        self.assertEqual(server.perimeter_tls_state, "failed", "the state is kept, not rolled back with an error")

        self.set_policy("warn")
        with SmtpServer(self.certs.self_signed(), mode="starttls") as smtp:
            server.smtp_port = smtp.port
            action = server.test_smtp_connection()
        self.assertEqual(action["params"]["type"], "danger")
        # One outcome (issue 13): connected, over a channel that is not verified; no "Successful!".
        self.assertEqual(action["params"]["title"], "Connected, but over an unverified channel")
        self.assertNotIn("Successful!", action["params"]["message"])
        self.assertIn("self-signed certificate", action["params"]["message"])
        self.assertIn("Odoo could connect and log in (Connection Test Successful), but the channel is not verified",
                      action["params"]["message"])

    def test_test_connection_under_warn_raises_where_odoo_raises_with_the_tls_facts(self):
        """Odoo's contract: under warn (and off) Test Connection raises UserError exactly when Odoo does."""
        self.set_policy("warn")
        with SmtpServer(mode="plain") as smtp:
            server = self.smtp_record(smtp.port, "starttls", from_filter="example.com")
            with self.assertRaises(UserError) as caught:
                server.test_smtp_connection()
        self.assertEqual(caught.exception.args[0], (
            "An option is not supported by the server:\n STARTTLS extension not supported by server.\n\n"
            "TLS check failed: server offers no STARTTLS: mail would travel unencrypted. Enable STARTTLS on the mail "
            "server, or use SSL/TLS on its implicit-TLS port (usually 465)."))

    def test_the_check_waits_as_long_as_the_connection_would(self):
        """The probe uses the connection's own timeout (Odoo's tests shorten it to 0.1 s), not 10 s."""
        self.set_policy("warn")
        with SilentServer(hold=5) as silent, patch.object(odoo_ir_mail_server, "SMTP_TIMEOUT", 0.5):
            server = self.smtp_record(silent.port, "starttls")
            server.action_perimeter_check()
        self.assertIn("  - timed out after 0.5 s waiting for the SMTP STARTTLS dialogue\n",
                      server.perimeter_tls_details)

    def test_added_columns_on_odoos_tables_are_not_required(self):
        """Code that creates mail servers without this module's columns (other modules' data) must not fail."""
        for model in ("ir.mail_server", "fetchmail.server"):
            self.assertFalse(self.env[model]._fields["perimeter_tls_state"].required, model)
        self.env.cr.execute("INSERT INTO ir_mail_server (name, smtp_host, smtp_port, smtp_encryption, "
                            "smtp_authentication, sequence, active) VALUES ('Raw', 'mail.example.com', 25, 'none', "
                            "'login', 10, true) RETURNING id")
        server = self.env["ir.mail_server"].browse(self.env.cr.fetchone()[0])
        self.assertEqual(server.name, "Raw")
        self.assertFalse(server.perimeter_tls_state)

    def test_switching_to_enforce_warns_naming_the_servers_whose_mail_would_be_refused(self):
        self.set_policy("warn")
        self.env["ir.mail_server"].search([]).active = False
        self.env["fetchmail.server"].search([]).active = False
        expired = self.certs.expired()
        with SmtpServer(expired, mode="implicit") as smtp:
            failing = self.smtp_record(smtp.port, "ssl", name="Invoices relay", perimeter_ca_bundle=self.ca_pem)
            failing.action_perimeter_check()
        self.smtp_record(2525, "none", name="Old relay")  # clear text: refused under enforce, even unchecked
        self.smtp_record(2526, "ssl", name="Unchecked relay")
        settings = self.env["res.config.settings"].new({"perimeter_mail_tls_policy": "enforce"})
        warning = settings._onchange_perimeter_mail_tls_policy()["warning"]
        self.assertEqual(warning["title"], "Mail would stop")
        self.assertEqual(warning["message"], (
            "Under Enforce, these servers fail their TLS check and would get no mail:\n"
            f"- Outgoing mail server Invoices relay: certificate has expired on {expired.not_after:%Y-%m-%d}\n"
            "- Outgoing mail server Old relay: unencrypted: no TLS, everything (passwords included) travels in clear "
            "text\n\n"
            "Outgoing mail through them would wait in the queue (Delivery Failed) and incoming mail on the server, "
            "until each is fixed (see its TLS Trust tab and Check TLS). Save to switch anyway."))
        self.assertFalse(self.env["res.config.settings"].new(
            {"perimeter_mail_tls_policy": "warn"})._onchange_perimeter_mail_tls_policy())

    def test_pin_and_ca_bundle_are_validated(self):
        server = self.smtp_record(2525)
        server.perimeter_pinned_sha256 = "sha256 Fingerprint=" + self.good.sha256_colons.lower()
        self.assertEqual(server.perimeter_pinned_sha256, self.good.sha256_colons)
        with self.assertRaisesRegex(ValidationError, r"'ab:cd' is not a SHA-256 fingerprint"):
            server.perimeter_pinned_sha256 = "ab:cd"
        with self.assertRaisesRegex(ValidationError, r"looks like a SHA-1 fingerprint"):
            server.perimeter_pinned_sha256 = "a" * 40
        with self.assertRaisesRegex(ValidationError, r"CA bundle of Test SMTP 2525: The CA bundle contains no PEM"):
            server.perimeter_ca_bundle = "not a certificate"
        with self.assertRaisesRegex(ValidationError, r"contains a private key"):
            server.perimeter_ca_bundle = self.ca_pem + self.good.key_pem
        server.write({"perimeter_pinned_sha256": "", "perimeter_ca_bundle": self.ca_pem})
        self.assertFalse(server.perimeter_pinned_sha256)

    def test_forms_show_the_tls_status(self):
        for model in ("ir.mail_server", "fetchmail.server"):
            arch = self.env[model].get_views([(False, "form")])["views"]["form"]["arch"]
            self.assertIn('name="action_perimeter_check"', arch)
            for field in ("perimeter_tls_state", "perimeter_tls_details", "perimeter_cert_expires_at",
                          "perimeter_last_check", "perimeter_ca_bundle", "perimeter_pinned_sha256"):
                self.assertIn(f'name="{field}"', arch)
