from odoo.tests import tagged

from ..guard import odoo_version
from ..testing.servers import ImapServer, SmtpServer
from .mail_tls_common import MailTlsCase


@tagged("post_install", "-at_install")
class TestMailTlsCron(MailTlsCase):
    """The daily check: one message to the administrators per event, never the same one twice."""

    def run_cron(self):
        cron = self.env.ref("perimeter_security.ir_cron_perimeter_mail_tls_check")
        self.assertTrue(cron.active)
        # 19 runs the job on a cursor of its own: keep it in the test's transaction.
        odoo_version.same_transaction_for_new_cursors(self)
        cron.method_direct_trigger()

    def test_expiry_is_announced_once_per_threshold(self):
        self.set_policy("warn")
        expiring = self.certs.expiring_in(10)
        with SmtpServer(expiring, mode="starttls") as smtp:
            server = self.smtp_record(smtp.port, perimeter_ca_bundle=self.ca_pem)
            self.run_cron()
            self.run_cron()
        messages = self.channel_messages(server.name)
        self.assertEqual(len(messages), 1, "the 14-day notice, once")
        self.assertIn("its TLS certificate expires in 9 days, on "
                      f"{expiring.not_after:%Y-%m-%d}", messages.body)
        self.assertEqual(server.perimeter_tls_state, "warning")
        self.assertEqual(server.perimeter_expiry_notice_days, 14)
        self.assertEqual(server.perimeter_cert_expires_at, expiring.not_after)

        # A renewed certificate starts afresh; one far from its end says nothing.
        with SmtpServer(self.good, mode="starttls") as smtp:
            server.smtp_port = smtp.port
            self.run_cron()
        self.assertEqual(len(self.channel_messages(server.name)), 1)
        self.assertEqual(server.perimeter_tls_state, "ok")
        self.assertEqual(server.perimeter_expiry_notice_days, 0)

        # Closer to the end, the next notice (1 day) comes, once.
        last_day = self.certs.expiring_in(0.5)
        with SmtpServer(last_day, mode="starttls") as smtp:
            server.smtp_port = smtp.port
            self.run_cron()
            self.run_cron()
        messages = self.channel_messages(server.name)
        self.assertEqual(len(messages), 2)
        self.assertIn("expires within a day", messages[0].body)

    def test_a_check_that_starts_failing_is_announced_once(self):
        self.set_policy("enforce")
        with ImapServer(self.good, mode="implicit") as imap:
            incoming = self.env["fetchmail.server"].create({
                "name": "Supplier inbox", "server_type": "imap", "server": "127.0.0.1", "port": imap.port,
                "is_ssl": True, "user": "u", "password": "p", "perimeter_ca_bundle": self.ca_pem,
            })
            self.run_cron()
        self.assertEqual(incoming.perimeter_tls_state, "ok")
        self.assertFalse(self.channel_messages("Supplier inbox"))

        expired = self.certs.expired()
        with ImapServer(expired, mode="implicit") as imap:
            incoming.port = imap.port
            self.run_cron()
            self.run_cron()
        messages = self.channel_messages("Supplier inbox")
        self.assertEqual(len(messages), 1, "announced when it starts failing, not every day after")
        self.assertIn("Incoming mail server", messages.body)
        self.assertIn(f"the TLS check now fails: certificate has expired on {expired.not_after:%Y-%m-%d}",
                      messages.body)
        self.assertIn("No mail is fetched from it until it is fixed", messages.body)
        self.assertIn(f'data-oe-model="fetchmail.server" data-oe-id="{incoming.id}">Supplier inbox</a>', messages.body)

    def test_one_message_per_run_for_outgoing_and_incoming(self):
        self.set_policy("enforce")
        expired = self.certs.expired()
        with SmtpServer(expired, mode="implicit") as smtp, ImapServer(expired, mode="implicit") as imap:
            outgoing = self.smtp_record(smtp.port, "ssl", name="Invoices relay", perimeter_ca_bundle=self.ca_pem)
            incoming = self.env["fetchmail.server"].create({
                "name": "Orders inbox", "server_type": "imap", "server": "127.0.0.1", "port": imap.port,
                "is_ssl": True, "user": "u", "password": "p", "perimeter_ca_bundle": self.ca_pem,
            })
            channel = self.env.ref("mail.channel_admin")
            before = channel.message_ids
            self.run_cron()
        posted = channel.message_ids - before
        self.assertEqual(len(posted), 1, "the daily check posts one message per run")
        self.assertIn("Invoices relay", posted.body)
        self.assertIn("Orders inbox", posted.body)
        self.assertEqual((outgoing.perimeter_tls_state, incoming.perimeter_tls_state), ("failed", "failed"))

    def test_the_cron_stays_quiet_when_the_policy_is_off(self):
        self.set_policy("off")
        with SmtpServer(self.certs.expired(), mode="starttls") as smtp:
            server = self.smtp_record(smtp.port)
            self.run_cron()
        self.assertEqual(smtp.connections, 0)
        self.assertEqual(server.perimeter_tls_state, "unknown")
