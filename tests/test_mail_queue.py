import email
import email.policy

from odoo.tests import tagged

from ..perimeter.testing.servers import SmtpServer
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
                self.assertTrue(mail.failure_reason.startswith(
                    f"Mail TLS (enforce): refused to connect to {LOCAL}:{smtp.port}: self-signed certificate"))
            self.assertTrue(first.exists(), "auto-deleted mail is kept while it is undelivered")
            self.assertEqual(server.perimeter_refused_mail_count, 2)

            # The administrator trusts the certificate (pins it) and retries, the standard way.
            server.perimeter_pinned_sha256 = self_signed.sha256_colons
            first_id, first_subject = first.message_id, first.subject
            first.action_retry()
            self.assertEqual(first.state, "outgoing")
            self.env["mail.mail"].process_email_queue(ids=(first | second).ids)
            self.assertDelivered(smtp, first_id, first_subject)
            self.assertFalse(first.exists(), "delivered, then auto-deleted as Odoo does")
            self.assertEqual(second.state, "exception", "only retried mail is sent again")

            # ...or from the mail server, which retries what the TLS policy refused for it.
            action = server.action_perimeter_retry_refused()
            self.assertEqual(action["params"]["message"], "1 refused mail(s) queued again.")
            self.assertEqual(second.state, "outgoing")
            self.env["mail.mail"].process_email_queue(ids=(first | second).ids)
            self.assertDelivered(smtp, second.message_id, second.subject)
            self.assertEqual(second.state, "sent")
            self.assertFalse(second.failure_reason)
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
        self.assertIn("Connection Encryption is None", mail.failure_reason)
        with SmtpServer(self.good, mode="starttls") as smtp:
            server.write({"smtp_port": smtp.port, "smtp_encryption": "starttls", "perimeter_ca_bundle": self.ca_pem})
            mail.action_retry()
            self.env["mail.mail"].process_email_queue(ids=mail.ids)
        self.assertDelivered(smtp, mail.message_id, mail.subject)
        self.assertEqual(mail.state, "sent")

    def test_the_author_sees_why_in_the_chatter(self):
        self.set_policy("enforce")
        partner = self.env["res.partner"].create({"name": "Customer", "email": "customer@example.com"})
        with SmtpServer(self.certs.expired(), mode="starttls") as smtp:
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
        self.assertIn("certificate has expired on", notification.failure_reason)
