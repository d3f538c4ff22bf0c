from odoo.tests import new_test_user, tagged

from ..guard import odoo_version
from ..testing.servers import SmtpServer
from .mail_tls_common import LOCAL, MailTlsCase

TRUST_ADVICE_FR = ("Faites-lui confiance sur ce serveur de courrier (onglet Confiance TLS) : collez l'AC émettrice "
                   "dans Paquet d'AC, ou épinglez l'empreinte SHA-256 du certificat.")
SELF_SIGNED_FR = "certificat auto-signé : ajoutez son AC au paquet d'AC du serveur ou épinglez-le"
SELF_SIGNED_EN = "self-signed certificate: add its CA to the server's CA bundle or pin it"


@tagged("post_install", "-at_install")
class TestMailTlsWording(MailTlsCase):
    """What a TLS check saw is stored as facts and read in the reader's language; a refusal is written in the
    language of whoever sends, and is still known as a Mail TLS refusal; the administrators are told in theirs."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")
        cls.french_admin = new_test_user(cls.env, login="perimeter_admin_fr", groups="base.group_system",
                                         lang="fr_FR")
        cls.english_admin = new_test_user(cls.env, login="perimeter_admin_en", groups="base.group_system",
                                          lang="en_US")

    def read_as(self, user, record):
        """``record`` as ``user`` sees it (a request's context carries the user's language)."""
        return record.with_user(user).with_context(lang=user.lang)

    def queue_mail(self, server, subject):
        return self.env["mail.mail"].create({
            "subject": subject, "body_html": f"<p>{subject}</p>", "email_from": "billing@example.com",
            "email_to": "customer@example.com", "mail_server_id": server.id, "auto_delete": False,
        })

    def test_details_of_a_real_check_read_in_each_readers_language(self):
        self.set_policy("enforce")
        with SmtpServer(self.certs.self_signed(), mode="starttls") as smtp:
            server = self.smtp_record(smtp.port)
            # Checked by the English administrator; the French one clicks Check TLS afterwards.
            self.read_as(self.english_admin, server).action_perimeter_check()
            action = self.read_as(self.french_admin, server).action_perimeter_check()
        self.assertEqual(action["params"]["message"], f"La vérification TLS a échoué : {SELF_SIGNED_FR}. "
                                                      f"{TRUST_ADVICE_FR}")
        french = self.read_as(self.french_admin, server).perimeter_tls_details
        english = self.read_as(self.english_admin, server).perimeter_tls_details
        self.assertTrue(french.startswith(
            f"État : échec\nPoint de terminaison : {LOCAL}:{smtp.port} (SMTP STARTTLS)\nErreurs :\n"
            f"  - {SELF_SIGNED_FR}\nProtocole : TLS 1."), french)
        self.assertIn("\nConfiance : aucune ; les informations ci-dessus proviennent d'une négociation non vérifiée\n",
                      french)
        self.assertNotIn("Trust:", french)
        self.assertTrue(english.startswith(
            f"State: failed\nEndpoint: {LOCAL}:{smtp.port} (SMTP STARTTLS)\nErrors:\n  - {SELF_SIGNED_EN}\n"
            "Protocol: TLS 1."), english)
        self.assertIn("\nTrust: none; the facts above come from an unverified handshake\n", english)

        # The connected-systems dashboard shows the same check, worded for its reader too.
        self.env["perimeter.connected.system"]._discover()
        system = self.env["perimeter.connected.system"].search([("source_ref", "=", f"ir.mail_server,{server.id}")])
        self.assertEqual(self.read_as(self.french_admin, system).details, french)
        self.assertEqual(self.read_as(self.english_admin, system).details, english)
        self.assertIn(system.tls_version, ("TLS 1.2", "TLS 1.3"))

    def test_details_stored_before_they_were_facts_still_show(self):
        server = self.smtp_record(2525)
        server.perimeter_tls_facts = "State: failed\nEndpoint: 127.0.0.1:2525 (SMTP STARTTLS)"
        self.assertEqual(self.read_as(self.french_admin, server).perimeter_tls_details,
                         "State: failed\nEndpoint: 127.0.0.1:2525 (SMTP STARTTLS)")

    def test_refused_mail_reason_is_in_the_senders_language_and_still_retried(self):
        self.set_policy("enforce")
        self_signed = self.certs.self_signed()
        with SmtpServer(self_signed, mode="starttls") as smtp:
            server = self.smtp_record(smtp.port)
            mail = self.queue_mail(server, "Facture FAC/2024/0042")
            mail.with_context(lang="fr_FR").send()
            self.assertEqual(smtp.messages, [])
            self.assertEqual(mail.state, "exception")
            self.assertEqual(mail.failure_reason, (
                f"Mail TLS (enforce): connexion à {LOCAL}:{smtp.port} refusée : {SELF_SIGNED_FR}. Rien n'a été envoyé. "
                f"{TRUST_ADVICE_FR} Relancez ensuite l'envoi de ce courrier."))
            # Still known as a refusal of this server's TLS check, whatever the language.
            self.assertEqual(mail.failure_type, "mail_smtp")
            self.assertEqual(mail.perimeter_refused_by_id, server)
            self.assertEqual(server.perimeter_refused_mail_count, 1)
            # The administrators (English here, as most of them read) are told in their language, not the sender's.
            self.assertTrue(self.channel_messages(f"the TLS check now fails: {SELF_SIGNED_EN}"),
                            "the administrators are told in their language, not in the language of the send")
            self.assertFalse(self.channel_messages(f"la vérification TLS échoue désormais : {SELF_SIGNED_FR}"))
            # The stored details stay facts: an English reader reads them in English.
            self.assertIn(f"Errors:\n  - {SELF_SIGNED_EN}\n",
                          self.read_as(self.english_admin, server).perimeter_tls_details)

            server.perimeter_pinned_sha256 = self_signed.sha256_colons
            action = server.action_perimeter_retry_refused()
            self.assertEqual(action["params"]["message"], "1 refused mail(s) queued again.")
            self.assertEqual(mail.state, "outgoing")
            self.env["mail.mail"].process_email_queue(mail.ids)  # 18 ids, 19 email_ids
        self.assertEqual(mail.state, "sent")
        self.assertEqual(len(smtp.messages), 1)
        self.assertFalse(mail.perimeter_refused_by_id)

    def test_the_daily_check_tells_the_administrators_in_their_language(self):
        self.set_policy("warn")
        # Most administrators read French; the cron happens to run as an English user.
        self.env["res.users"].search([(odoo_version.USER_GROUPS_FIELD, "in", self.env.ref("base.group_system").ids),
                                      ("id", "!=", self.english_admin.id)]).lang = "fr_FR"
        expiring = self.certs.expiring_in(10)
        with SmtpServer(expiring, mode="starttls") as smtp:
            server = self.smtp_record(smtp.port, perimeter_ca_bundle=self.ca_pem)
            self.env["ir.mail_server"].with_user(self.english_admin)._perimeter_cron_check_mail_tls()
        message = self.channel_messages(server.name)
        self.assertEqual(len(message), 1)
        self.assertIn(f": son certificat TLS expire dans 9 jours, le {expiring.not_after:%Y-%m-%d %H:%M} (UTC). "
                      "Renouvelez-le d'ici là.", message.body)
        self.assertIn("Expiration : ", self.read_as(self.french_admin, server).perimeter_tls_details)
        self.assertIn("(in 9 days)", self.read_as(self.english_admin, server).perimeter_tls_details)
