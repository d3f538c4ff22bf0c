from odoo.tests import tagged

from ..guard import odoo_version
from ..testing.servers import ImapServer, Mailbox, Pop3Server
from .mail_tls_common import LOCAL, MailTlsCase

MESSAGE = """From: supplier@example.com
To: purchase@example.com
Subject: {subject}
Message-Id: <{subject}@example.com>

Our invoice is attached.
"""
CREDENTIALS = ("purchase@example.com", "imap-secret")


@tagged("post_install", "-at_install")
class TestMailTlsFetchmail(MailTlsCase):
    """fetchmail.server over IMAP and POP3 against real servers: fetch when verified, refuse and say why when not."""

    def fetch_record(self, port, server_type="imap", is_ssl=True, **vals):
        return self.env["fetchmail.server"].create({
            "name": f"Test {server_type} {port}",
            "server_type": server_type,
            "server": LOCAL,
            "port": port,
            "is_ssl": is_ssl,
            "user": CREDENTIALS[0],
            "password": CREDENTIALS[1],
            "object_id": self.env["ir.model"]._get_id("res.partner"),
            "state": "done",
            **vals,
        })

    def partner(self, subject):
        return self.env["res.partner"].search([("name", "=", subject)])

    def test_imap_over_verified_tls_fetches_the_message(self):
        self.set_policy("enforce")
        mailbox = Mailbox([MESSAGE.format(subject="Supplier invoice 7")])
        with ImapServer(self.good, mode="implicit", mailbox=mailbox, credentials=CREDENTIALS) as imap:
            server = self.fetch_record(imap.port, perimeter_ca_bundle=self.ca_pem)
            self.fetch(server)
        self.assertTrue(self.partner("Supplier invoice 7"), "the message became a record")
        self.assertIn("\\Seen", mailbox.snapshot()[0].flags)
        self.assertEqual(imap.logins, [(CREDENTIALS[0], True)])
        self.assertEqual(server.perimeter_tls_state, "ok")

    def test_imap_with_a_bad_certificate_is_refused_and_says_why(self):
        self.set_policy("enforce")
        mailbox = Mailbox([MESSAGE.format(subject="Supplier invoice 8")])
        with ImapServer(self.certs.self_signed(), mode="implicit", mailbox=mailbox, credentials=CREDENTIALS) as imap:
            server = self.fetch_record(imap.port, perimeter_ca_bundle=self.ca_pem)
            self.fetch(server)
        self.assertEqual(imap.logins, [], "the password never crossed the unverified channel")
        self.assertFalse(self.partner("Supplier invoice 8"))
        self.assertEqual(mailbox.snapshot()[0].flags, set(), "the mail waits on the server")
        self.assertEqual(server.perimeter_tls_state, "failed")
        self.assertIn("self-signed certificate: add its CA to the server's CA bundle or pin it",
                      server.perimeter_tls_details)
        self.assertEqual(len(self.channel_messages(server.name)), 1)

    def test_test_and_confirm_under_enforce_refuses_a_bad_certificate(self):
        self.set_policy("enforce")
        expired = self.certs.expired()
        with ImapServer(expired, mode="implicit", credentials=CREDENTIALS) as imap:
            server = self.fetch_record(imap.port, perimeter_ca_bundle=self.ca_pem, state="draft")
            action = server.button_confirm_login()
        self.assertEqual(action["params"]["type"], "danger")
        self.assertIn(f"certificate has expired on {expired.not_after:%Y-%m-%d}", action["params"]["message"])
        self.assertEqual(server.state, "draft")
        self.assertEqual(imap.logins, [])
        with ImapServer(self.good, mode="implicit", credentials=CREDENTIALS) as imap:
            server.port = imap.port
            action = server.button_confirm_login()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("TLS verified", action["params"]["message"])
        self.assertEqual(server.state, "done")

    def test_imap_without_ssl_uses_starttls_under_enforce_or_is_refused(self):
        self.set_policy("enforce")
        mailbox = Mailbox([MESSAGE.format(subject="Supplier invoice 9")])
        with ImapServer(self.good, mode="starttls", mailbox=mailbox, credentials=CREDENTIALS) as imap:
            server = self.fetch_record(imap.port, is_ssl=False, perimeter_ca_bundle=self.ca_pem)
            self.fetch(server)
        self.assertTrue(self.partner("Supplier invoice 9"))
        self.assertEqual(imap.logins, [(CREDENTIALS[0], True)], "logged in over STARTTLS, never in clear text")

        with ImapServer(mode="plain", credentials=CREDENTIALS) as imap:
            server = self.fetch_record(imap.port, is_ssl=False)
            self.fetch(server)
        self.assertEqual(imap.logins, [])
        self.assertEqual(server.perimeter_tls_state, "failed")
        self.assertIn("the server offers neither SSL/TLS on this port nor STARTTLS", server.perimeter_tls_details)

    def test_warn_fetches_in_clear_text_as_odoo_does_and_records_it(self):
        self.set_policy("warn")
        mailbox = Mailbox([MESSAGE.format(subject="Supplier invoice 10")])
        with ImapServer(self.good, mode="starttls", mailbox=mailbox, credentials=CREDENTIALS) as imap:
            server = self.fetch_record(imap.port, is_ssl=False)
            self.fetch(server)
        self.assertTrue(self.partner("Supplier invoice 10"))
        self.assertEqual(imap.logins, [(CREDENTIALS[0], False)])
        self.assertEqual(server.perimeter_tls_state, "failed")
        self.assertIn("unencrypted", server.perimeter_tls_details)

    def test_pop3_stls_fetches_and_a_wrong_host_is_refused(self):
        self.set_policy("enforce")
        mailbox = Mailbox([MESSAGE.format(subject="Supplier invoice 11")])
        with Pop3Server(self.good, mode="starttls", mailbox=mailbox, credentials=CREDENTIALS) as pop:
            server = self.fetch_record(pop.port, "pop", is_ssl=False, perimeter_ca_bundle=self.ca_pem)
            self.fetch(server)
        self.assertTrue(self.partner("Supplier invoice 11"))
        self.assertEqual(len(mailbox), 0, "POP3 deletes what it fetched")
        self.assertEqual(pop.logins, [(CREDENTIALS[0], True)])

        mailbox = Mailbox([MESSAGE.format(subject="Supplier invoice 12")])
        with Pop3Server(self.certs.wrong_host(), mode="implicit", mailbox=mailbox, credentials=CREDENTIALS) as pop:
            server = self.fetch_record(pop.port, "pop", perimeter_ca_bundle=self.ca_pem)
            self.fetch(server)
        self.assertEqual(pop.logins, [])
        self.assertEqual(len(mailbox), 1)
        self.assertIn(f"certificate is for mail.other.com, not {LOCAL}", server.perimeter_tls_details)

    def test_a_failed_starttls_is_reported_as_what_it_is(self):
        """IMAP STARTTLS and POP3 STLS with a bad certificate: Fetch Now says why (not [Errno 9]), the
        server's TLS state is updated and the administrators are told."""
        self.set_policy("enforce")
        expired = self.certs.expired()
        for server_class, server_type in ((ImapServer, "imap"), (Pop3Server, "pop")):
            mailbox = Mailbox([MESSAGE.format(subject=f"Supplier invoice {server_type}")])
            with self.subTest(server_type), server_class(expired, mode="starttls", mailbox=mailbox,
                                                         credentials=CREDENTIALS) as mail:
                server = self.fetch_record(mail.port, server_type, is_ssl=False, perimeter_ca_bundle=self.ca_pem)
                # Our sentence, in Odoo's own frame for a failed Fetch Now (18 adds a first line, 19 none).
                self.assertEqual(self.fetch_now_refused(server), odoo_version.fetch_now_message(
                    f"Mail TLS (enforce): refused to connect to {LOCAL}:{mail.port}: certificate has expired on "
                    f"{expired.not_after:%Y-%m-%d}. Nothing was fetched: the mail waits on the server. Renew the mail "
                    "server's certificate (a pin does not make an expired certificate valid)."))
                self.assertEqual(mail.logins, [])
                self.assertEqual(len(mailbox), 1)
                self.assertEqual(server.perimeter_tls_state, "failed")
                self.assertEqual(len(self.channel_messages(server.name)), 1, "the administrators are told")

    def test_check_tls_fills_the_fields(self):
        self.set_policy("enforce")
        pinned = self.certs.self_signed()
        with ImapServer(pinned, mode="starttls") as imap:
            server = self.fetch_record(imap.port, is_ssl=False, perimeter_pinned_sha256=pinned.sha256)
            action = server.action_perimeter_check()
        self.assertEqual(action["params"]["type"], "success")
        self.assertIn("trusted by its pinned fingerprint", action["params"]["message"])
        self.assertEqual(server.perimeter_tls_state, "ok")
        self.assertEqual(server.perimeter_cert_sha256, pinned.sha256_colons)
        self.assertIn("(IMAP STARTTLS)", server.perimeter_tls_details)
        local = self.env["fetchmail.server"].create({"name": "Mailgate", "server_type": "local"})
        local.action_perimeter_check()
        self.assertEqual(local.perimeter_tls_state, "unknown")
        self.assertIn("Local server", local.perimeter_tls_details)
