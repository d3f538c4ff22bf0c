"""Odoo's mail against Debian's real Postfix and Dovecot, started by the test on loopback ports.

Outgoing mail servers and incoming mail servers exactly as an administrator
configures them, against the servers administrators run: every certificate
flaw on SMTP STARTTLS and implicit TLS (Postfix), IMAP STARTTLS and IMAPS,
POP3 STLS and POP3S (Dovecot). Skipped, and listed as skipped, where the
packages are not installed (the test command installs them when it can).
"""

import email
import os
import unittest

from odoo.tests import tagged

from ..guard import odoo_version
from ..testing.certs import tls11_possible
from ..testing.dovecot import DOVECOT, DovecotServer
from ..testing.postfix import POSTFIX, PostfixServer
from .mail_tls_common import LOCAL, MailTlsCase

ROOT = os.geteuid() == 0
USER, PASSWORD = "purchase@example.com", "imap-secret"
MESSAGE = "From: supplier@example.com\nTo: purchase@example.com\nSubject: {subject}\nMessage-Id: <{subject}@x>\n\nHi\n"
TRUST = ("Trust it on this mail server (tab TLS Trust): paste the issuing CA in CA bundle, or pin the certificate's "
         "SHA-256 fingerprint.")


class RealServerCase(MailTlsCase):
    def flaws(self, outgoing=True):
        """name → (certificate, CA bundle the server record trusts, the problem in words, the advice)."""
        expired, wrong = self.certs.expired(), self.certs.wrong_host()
        host_field = "SMTP Server" if outgoing else "Server Name"
        return {
            "expired": (expired, self.ca_pem, f"certificate has expired on {expired.not_after:%Y-%m-%d}",
                        "Renew the mail server's certificate (a pin does not make an expired certificate valid)."),
            "wrong host": (wrong, self.ca_pem, f"certificate is for mail.other.com, not {LOCAL}",
                           f"Enter in {host_field} a name the certificate is issued for, or give the server a "
                           "certificate for this name."),
            "self-signed": (self.certs.self_signed(), self.ca_pem,
                            "self-signed certificate: add its CA to the server's CA bundle or pin it", TRUST),
            "unknown CA": (self.good, False, "unable to verify the certificate chain: add the issuing CA to the CA "
                                             "bundle (issuer: CN=Perimeter Test CA)", TRUST),
        }


@tagged("post_install", "-at_install")
@unittest.skipIf(POSTFIX is None or not ROOT, "Postfix is not installed (apt-get install postfix), or not root")
class TestMailTlsPostfix(RealServerCase):
    """ir.mail_server against a real Postfix."""

    def send_refused(self, server):
        # Not assertRaises: its savepoint would roll back what the refusal recorded on the server.
        try:
            self.send(server)
        except Exception as exc:  # noqa: BLE001 - the test asserts which one
            return exc
        self.fail("the connection should have been refused")

    def test_delivered_over_verified_starttls_and_implicit_tls(self):
        self.set_policy("enforce")
        with PostfixServer(self.good) as postfix:
            for port, encryption in ((postfix.port, "starttls"), (postfix.smtps_port, "ssl")):
                server = self.smtp_record(port, encryption, perimeter_ca_bundle=self.ca_pem)
                message_id, _message = self.send(server, subject=f"Invoice over {encryption}")
                self.assertEqual(server.perimeter_tls_state, "ok")
                delivered = email.message_from_bytes(postfix.wait_for_messages(1 + (encryption == "ssl"))[-1])
                self.assertEqual(delivered["Message-Id"], message_id)
                self.assertEqual(delivered["Subject"], f"Invoice over {encryption}")

    def test_each_certificate_flaw_is_refused_before_anything_is_sent(self):
        self.set_policy("enforce")
        for flaw, (cert, bundle, words, advice) in self.flaws().items():
            with PostfixServer(cert) as postfix:
                for port, encryption in ((postfix.port, "starttls"), (postfix.smtps_port, "ssl")):
                    with self.subTest(flaw=flaw, encryption=encryption):
                        server = self.smtp_record(port, encryption, perimeter_ca_bundle=bundle)
                        refusal = self.send_refused(server)
                        self.assertEqual(str(refusal), f"Mail TLS (enforce): refused to connect to {LOCAL}:{port}: "
                                                       f"{words}. Nothing was sent. {advice} Then retry this mail.")
                        self.assertEqual(server.perimeter_tls_state, "failed")
                        self.assertIn(f"  - {words}\n", server.perimeter_tls_details)
                self.assertEqual(postfix.messages(), [], "nothing crossed an unverified channel")

    @unittest.skipUnless(tls11_possible(), "this OpenSSL cannot speak TLS 1.1 any more")
    def test_a_server_speaking_only_tls_1_1_is_refused(self):
        self.set_policy("enforce")
        with PostfixServer(self.good, tls_version="TLSv1_1") as postfix:
            server = self.smtp_record(postfix.smtps_port, "ssl", perimeter_ca_bundle=self.ca_pem)
            refusal = self.send_refused(server)
            self.assertEqual(str(refusal), (
                f"Mail TLS (enforce): refused to connect to {LOCAL}:{postfix.smtps_port}: TLS 1.1 is below the "
                "required minimum TLS 1.2. Nothing was sent. Have the mail server accept TLS 1.2 or later (it only "
                "offers older versions, which are no longer safe). Then retry this mail."))
            self.assertEqual(postfix.messages(), [])

    def test_clear_text_is_refused_under_enforce_and_sent_under_warn(self):
        self.set_policy("enforce")
        with PostfixServer() as postfix:
            server = self.smtp_record(postfix.port, "starttls")
            refusal = self.send_refused(server)
            self.assertEqual(str(refusal), (
                f"Mail TLS (enforce): refused to connect to {LOCAL}:{postfix.port}: the server does not offer "
                "STARTTLS. Nothing was sent. Enable STARTTLS on the mail server, or use SSL/TLS on its implicit-TLS "
                "port (usually 465). Then retry this mail."))
            self.set_policy("warn")
            server.smtp_encryption = "none"
            self.send(server)
            self.assertEqual(len(postfix.wait_for_messages(1)), 1, "warn never stops mail")
        self.assertEqual(server.perimeter_tls_state, "failed")

    def test_nothing_is_lost_refused_mail_waits_and_goes_out_once_on_retry(self):
        self.set_policy("enforce")
        mails = self.env["mail.mail"]
        with PostfixServer(self.certs.expired()) as postfix:
            server = self.smtp_record(postfix.port, "starttls", perimeter_ca_bundle=self.ca_pem)
            for number in range(20):
                mails |= self.env["mail.mail"].create({
                    "subject": f"Invoice {number}", "body_html": f"<p>Invoice {number}</p>", "auto_delete": False,
                    "email_from": "billing@example.com", "email_to": "customer@example.com",
                    "mail_server_id": server.id,
                })
            mails.send()
            self.assertEqual(postfix.messages(), [])
        self.assertEqual(set(mails.mapped("state")), {"exception"})
        self.assertEqual(server.perimeter_refused_mail_count, 20)
        with PostfixServer(self.good) as postfix:  # the certificate was renewed (and the server moved)
            server.smtp_port = postfix.port
            server.action_perimeter_retry_refused()
            self.env["mail.mail"].process_email_queue(mails.ids)  # 18 ids, 19 email_ids
            delivered = postfix.wait_for_messages(20)
        self.assertEqual(set(mails.mapped("state")), {"sent"})
        ids = sorted(email.message_from_bytes(raw)["Message-Id"] for raw in delivered)
        self.assertEqual(ids, sorted(mails.mapped("message_id")), "every refused mail delivered, each once")
        self.assertEqual(mails.mapped("failure_type"), [False] * 20)


@tagged("post_install", "-at_install")
@unittest.skipIf(DOVECOT is None or not ROOT,
                 "Dovecot is not installed (apt-get install dovecot-imapd dovecot-pop3d), or not root")
class TestMailTlsDovecot(RealServerCase):
    """fetchmail.server against a real Dovecot (IMAP and POP3)."""

    def fetch_record(self, port, server_type, is_ssl, bundle):
        return self.env["fetchmail.server"].create({
            "name": f"Dovecot {server_type} {port}", "server_type": server_type, "server": LOCAL, "port": port,
            "is_ssl": is_ssl, "user": USER, "password": PASSWORD, "perimeter_ca_bundle": bundle,
            "object_id": self.env["ir.model"]._get_id("res.partner"), "state": "done",
        })

    def ways(self, dovecot):
        return (("IMAP STARTTLS", dovecot.imap_port, "imap", False), ("IMAPS", dovecot.imaps_port, "imap", True),
                ("POP3 STLS", dovecot.pop3_port, "pop", False), ("POP3S", dovecot.pop3s_port, "pop", True))

    def test_fetched_over_verified_tls_every_way(self):
        self.set_policy("enforce")
        subjects = [f"Supplier invoice {number}" for number in range(4)]
        for number, way in enumerate(("IMAP STARTTLS", "IMAPS", "POP3 STLS", "POP3S")):
            with DovecotServer(self.good, credentials=(USER, PASSWORD),
                               messages=[MESSAGE.format(subject=subjects[number].replace(" ", "-"))]) as dovecot:
                name, port, server_type, is_ssl = next(w for w in self.ways(dovecot) if w[0] == way)
                server = self.fetch_record(port, server_type, is_ssl, self.ca_pem)
                self.fetch(server)
                self.assertEqual(server.perimeter_tls_state, "ok", name)
                self.assertEqual(dovecot.logins(), [(USER, True)], name)
                self.assertTrue(self.env["res.partner"].search([("name", "=", subjects[number].replace(" ", "-"))]),
                                name)

    def test_each_certificate_flaw_is_refused_before_the_password_is_sent(self):
        self.set_policy("enforce")
        for flaw, (cert, bundle, words, advice) in self.flaws(outgoing=False).items():
            with DovecotServer(cert, credentials=(USER, PASSWORD), messages=[MESSAGE.format(subject="x")]) as dovecot:
                for name, port, server_type, is_ssl in self.ways(dovecot):
                    with self.subTest(flaw=flaw, way=name):
                        server = self.fetch_record(port, server_type, is_ssl, bundle)
                        # Our sentence, in Odoo's own frame for a failed Fetch Now (18 adds a first line, 19 none).
                        self.assertEqual(self.fetch_now_refused(server), odoo_version.fetch_now_message(
                            f"Mail TLS (enforce): refused to connect to {LOCAL}:{port}: {words}. Nothing was "
                            f"fetched: the mail waits on the server. {advice}"))
                        self.assertEqual(server.perimeter_tls_state, "failed")
                self.assertEqual(dovecot.logins(), [], "no password crossed an unverified channel")
                self.assertEqual(dovecot.unread(), 1, "the mail waits on the server")

    def test_clear_text_is_refused_under_enforce(self):
        self.set_policy("enforce")
        with DovecotServer(credentials=(USER, PASSWORD), messages=[MESSAGE.format(subject="y")]) as dovecot:
            for port, server_type, command in ((dovecot.imap_port, "imap", "STARTTLS"),
                                               (dovecot.pop3_port, "pop", "STLS")):
                server = self.fetch_record(port, server_type, False, False)
                self.fetch(server)
                self.assertEqual(server.perimeter_tls_state, "failed")
                self.assertIn(f"the server offers neither SSL/TLS on this port nor {command}",
                              server.perimeter_tls_details)
            self.assertEqual(dovecot.logins(), [])
            self.assertEqual(dovecot.unread(), 1)
