import email
import email.policy

from odoo.tests import tagged

from ..testing.servers import SmtpServer
from .mail_tls_common import LOCAL, MailTlsCase


@tagged("post_install", "-at_install")
class TestMailQueue(MailTlsCase):
    """Nothing is lost: refused mail waits in the queue with its reason and goes out once fixed."""

    def queue_mail(self, server, subject, **values):
        return self.env["mail.mail"].create({
            "subject": subject,
            "body_html": f"<p>{subject}: the body that must arrive intact.</p>",
            "email_from": "billing@example.com",
            "email_to": "customer@example.com",
            "mail_server_id": server.id,
            "auto_delete": False,
            **values,
        })

    def assertDelivered(self, smtp, message_id, subject):
        received = [email.message_from_bytes(message.content, policy=email.policy.default)
                    for message in smtp.messages]
        matching = [message for message in received if message["Message-Id"] == message_id]
        self.assertEqual(len(matching), 1, "the very message refused earlier is delivered, once")
        message = matching[0]
        self.assertEqual(message["Subject"], subject)
        self.assertEqual(message["To"], "customer@example.com")
        html = next(part for part in message.walk() if part.get_content_type() == "text/html")
        self.assertIn(f"{subject}: the body that must arrive intact.", html.get_content())
        self.assertIn(smtp.messages[received.index(message)].tls_version, ("TLSv1.2", "TLSv1.3"))

    def test_refused_mail_waits_with_its_reason_and_goes_out_after_the_fix(self):
        self.set_policy("enforce")
        self_signed = self.certs.self_signed()
        with SmtpServer(self_signed, mode="starttls") as smtp:
            server = self.smtp_record(smtp.port)
            first = self.queue_mail(server, "Invoice INV/2024/0042", auto_delete=True)
            second = self.queue_mail(server, "Invoice INV/2024/0043")
            (first | second).send()

            self.assertEqual(smtp.messages, [])
            for mail in first | second:
                self.assertEqual(mail.state, "exception", "refused mail stays in the queue")
                self.assertEqual(mail.failure_type, "mail_smtp")
                self.assertEqual(mail.failure_reason, (
                    f"Mail TLS (enforce): refused to connect to {LOCAL}:{smtp.port}: self-signed certificate: add "
                    "its CA to the server's CA bundle or pin it. Nothing was sent. Trust it on this mail server (tab "
                    "TLS Trust): paste the issuing CA in CA bundle, or pin the certificate's SHA-256 fingerprint. "
                    "Then retry this mail."))
                self.assertEqual(mail.perimeter_refused_by_id, server)
            self.assertTrue(first.exists(), "auto-deleted mail is kept while it is undelivered")
            self.assertEqual(server.perimeter_refused_mail_count, 2)

            # The administrator trusts the certificate (pins it) and retries, the standard way.
            server.perimeter_pinned_sha256 = self_signed.sha256_colons
            first_id, first_subject = first.message_id, first.subject
            first.action_retry()
            self.assertEqual(first.state, "outgoing")
            self.env["mail.mail"].process_email_queue((first | second).ids)  # 18 ids, 19 email_ids
            self.assertDelivered(smtp, first_id, first_subject)
            self.assertFalse(first.exists(), "delivered, then auto-deleted as Odoo does")
            self.assertEqual(second.state, "exception", "only retried mail is sent again")
            self.assertEqual(second.failure_type, "mail_smtp")

            # ...or from the mail server, which retries what the TLS policy refused for it.
            action = server.action_perimeter_retry_refused()
            self.assertEqual(action["params"]["message"], "1 refused mail(s) queued again.")
            self.assertEqual(second.state, "outgoing")
            self.env["mail.mail"].process_email_queue((first | second).ids)  # 18 ids, 19 email_ids
            self.assertDelivered(smtp, second.message_id, second.subject)
            self.assertEqual(second.state, "sent")
            self.assertFalse(second.failure_reason)
            self.assertFalse(second.failure_type, "sent mail no longer says 'Connection failed'")
            self.assertFalse(second.perimeter_refused_by_id)
        self.assertEqual(len(smtp.messages), 2)
        self.assertEqual(server.perimeter_refused_mail_count, 0)

    def test_plaintext_mail_is_refused_without_a_connection_then_sent_over_tls(self):
        self.set_policy("enforce")
        with SmtpServer(mode="plain") as plain:
            server = self.smtp_record(plain.port, "none")
            mail = self.queue_mail(server, "Payslip 2024-05")
            mail.send()
        self.assertEqual(plain.connections, 0)
        self.assertEqual(mail.state, "exception")
        self.assertEqual(mail.failure_reason, (
            f"Mail TLS (enforce): refused to connect to {LOCAL}:{plain.port}: Connection Encryption is None, so mail "
            "would travel in clear text; choose TLS (STARTTLS) or SSL/TLS. Nothing was sent. Set Connection "
            "Encryption to TLS (STARTTLS) or SSL/TLS, as the server supports. Then retry this mail."))
        with SmtpServer(self.good, mode="starttls") as smtp:
            server.write({"smtp_port": smtp.port, "smtp_encryption": "starttls", "perimeter_ca_bundle": self.ca_pem})
            mail.action_retry()
            self.env["mail.mail"].process_email_queue(mail.ids)  # 18 ids, 19 email_ids
        self.assertDelivered(smtp, mail.message_id, mail.subject)
        self.assertEqual(mail.state, "sent")
        self.assertFalse(mail.failure_type)

    def test_retry_finds_what_this_server_refused_even_after_its_port_changed(self):
        """Retry by server record: a fixed server (new port, new encryption) still finds its refused mail, and
        another server on the old host:port (an archived copy) never gets it."""
        self.set_policy("enforce")
        with SmtpServer(mode="plain") as plain:
            server = self.smtp_record(plain.port, "none")
            twin = self.smtp_record(plain.port, "none", name="Old copy of the relay")
            mails = self.queue_mail(server, "Order 1") | self.queue_mail(server, "Order 2")
            mails.send()
        twin.active = False
        self.assertEqual(mails.mapped("state"), ["exception", "exception"])
        self.assertEqual(server.perimeter_refused_mail_count, 2)
        self.assertEqual(twin.perimeter_refused_mail_count, 0)
        twin.action_perimeter_retry_refused()
        self.assertEqual(mails.mapped("state"), ["exception", "exception"], "not the twin's mail")
        with SmtpServer(self.good, mode="implicit") as smtp:
            server.write({"smtp_port": smtp.port, "smtp_encryption": "ssl", "perimeter_ca_bundle": self.ca_pem})
            action = server.action_perimeter_retry_refused()
            self.assertEqual(action["params"]["message"], "2 refused mail(s) queued again.")
            self.env["mail.mail"].process_email_queue(mails.ids)  # 18 ids, 19 email_ids
        self.assertEqual(mails.mapped("state"), ["sent", "sent"])
        self.assertEqual(len(smtp.messages), 2, "each once")
        self.assertEqual(mails.mapped("failure_type"), [False, False])

    def test_the_author_sees_why_in_the_chatter(self):
        self.set_policy("enforce")
        partner = self.env["res.partner"].create({"name": "Customer", "email": "customer@example.com"})
        expired = self.certs.expired()
        with SmtpServer(expired, mode="starttls") as smtp:
            server = self.smtp_record(smtp.port, perimeter_ca_bundle=self.ca_pem)
            message = partner.message_post(body="Your order shipped.", partner_ids=partner.ids,
                                           mail_server_id=server.id, message_type="comment",
                                           subtype_xmlid="mail.mt_comment")
            mails = self.env["mail.mail"].search([("mail_message_id", "=", message.id)])
            mails.send()
        self.assertEqual(smtp.messages, [])
        notification = message.notification_ids.filtered(lambda notif: notif.res_partner_id == partner)
        self.assertEqual(notification.notification_status, "exception")
        self.assertEqual(notification.failure_type, "mail_smtp")
        self.assertEqual(notification.failure_reason, (
            f"Mail TLS (enforce): refused to connect to {LOCAL}:{smtp.port}: certificate has expired on "
            f"{expired.not_after:%Y-%m-%d}. Nothing was sent. Renew the mail server's certificate (a pin does not "
            "make an expired certificate valid). Then retry this mail."))
