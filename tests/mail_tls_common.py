"""Real mail servers on loopback for the mail TLS tests, as Odoo's own SMTP tests do.

Odoo's test mode connects nowhere (``ir.mail_server.connect`` returns None and
``send_email`` skips sending), so each test turns it off for itself, like
``odoo/addons/base/tests/test_ir_mail_server_smtpd.py``, and only ever talks
to servers it started. The command-line SMTP settings are blanked so that
nothing can leave through them.
"""

import base64
import contextlib
import logging
from unittest.mock import patch

from odoo.exceptions import UserError
from odoo.tests import TransactionCase
from odoo.tools import config

from odoo.addons.base.models import ir_mail_server as odoo_ir_mail_server

from ..guard import odoo_version
from ..testing.certs import CertFactory

LOCAL = "127.0.0.1"


class MailTlsCase(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.certs = CertFactory()
        cls.addClassCleanup(cls.certs.cleanup)
        cls.good = cls.certs.trusted()
        cls.ca_pem = cls.certs.ca.cert_pem
        cls.startClassPatcher(patch.dict(config.options, {
            "smtp_server": "", "smtp_port": 25, "smtp_ssl": False, "smtp_user": False, "smtp_password": False,
            "smtp_ssl_certificate_filename": False, "smtp_ssl_private_key_filename": False,
        }))
        # A server that does not answer must fail the test, not hang it for a minute.
        cls.startClassPatcher(patch.object(odoo_ir_mail_server, "SMTP_TIMEOUT", 10))
        # aiosmtpd reports every session at INFO, and every handshake our client
        # refuses (the point of these tests) as an ERROR with a traceback.
        mail_log = logging.getLogger("mail.log")
        level = mail_log.level
        mail_log.setLevel(logging.CRITICAL + 1)
        cls.addClassCleanup(mail_log.setLevel, level)

    def setUp(self):
        super().setUp()
        # Real connections, to the servers this test starts and to nothing else.
        odoo_version.allow_real_mail_connections(self)

    def set_policy(self, policy, min_version="TLSv1_2"):
        params = self.env["ir.config_parameter"].sudo()
        params.set_param("perimeter_security.mail_tls_policy", policy)
        params.set_param("perimeter_security.mail_tls_min_version", min_version)

    def smtp_record(self, port, encryption="starttls", **vals):
        return self.env["ir.mail_server"].create({
            "name": f"Test SMTP {port}",
            "smtp_host": LOCAL,
            "smtp_port": port,
            "smtp_encryption": encryption,
            "smtp_authentication": "login",
            **vals,
        })

    def build_message(self, subject="Invoice INV/2024/0042", body="Please find your invoice attached."):
        return getattr(self.env["ir.mail_server"], odoo_version.BUILD_EMAIL)(
            email_from="billing@example.com", email_to=["customer@example.com"], subject=subject, body=body)

    def send(self, server, **message_values):
        message = self.build_message(**message_values)
        return self.env["ir.mail_server"].send_email(message, mail_server_id=server.id), message

    def channel_messages(self, text):
        channel = self.env.ref("mail.channel_admin")
        return channel.message_ids.filtered(lambda message: text in (message.body or ""))

    @contextlib.contextmanager
    def no_commit(self):
        """fetch_mail() commits after each message; inside a test that is the savepoint's job."""
        with patch.object(self.env.cr, "commit", self.env.flush_all):
            yield

    @contextlib.contextmanager
    def fetching(self):
        """Around a fetch: what it commits and the records it creates stay in the test's transaction.

        19 processes fetched messages on a cursor of its own (``registry.cursor()``, committed message by
        message): without the registry's test mode a fetched message's record would be committed for real
        and invisible to the test.
        """
        odoo_version.same_transaction_for_new_cursors(self)
        with self.no_commit():
            yield

    def fetch(self, server):
        """What the fetchmail cron does with ``server``: fetch, and never raise."""
        with self.fetching():
            odoo_version.fetch_now(server)

    def fetch_now_refused(self, server):
        """Click "Fetch Now" on ``server``; the message of the error it must show."""
        # Not assertRaises: its savepoint would roll back the state the refusal recorded.
        try:
            with self.fetching():
                server.fetch_mail()
        except UserError as exc:  # a dialog, not a traceback (18 ValidationError, 19 our MailTlsError)
            return exc.args[0]
        self.fail("Fetch Now must fail")


def b64(text):
    """PEM text as Odoo stores an uploaded file: base64 bytes."""
    return base64.b64encode(text.encode("ascii"))
