"""Every loopback test server, from one import.

Each is a context manager that binds 127.0.0.1 (or ::1) on an ephemeral
port in ``__enter__``, serves from background threads, and stops in
``__exit__``::

    with CertFactory() as certs, SmtpServer(certs.trusted(), mode="starttls") as smtp:
        report = probe("127.0.0.1", smtp.port, "smtp", server_hostname="localhost",
                       ca_bundle_pem=certs.ca.cert_pem)

``SmtpServer`` needs aiosmtpd; without it the name is ``None`` and
``HAVE_AIOSMTPD`` is False, so the rest stays usable.
"""

from .base import ClosedPort, LineChannel, LoopbackServer, closed_port, server_context
from .imap import ImapServer
from .mailbox import Mailbox, MailboxServer, StoredMessage
from .pop3 import Pop3Server
from .tcp import LdapStartTlsServer, SilentServer, TlsServer
from .web import HttpServer, HttpsServer

try:
    from .smtp import ReceivedMessage, SmtpServer
except ImportError:  # aiosmtpd is a test dependency only
    ReceivedMessage = SmtpServer = None
HAVE_AIOSMTPD = SmtpServer is not None

__all__ = [
    "HAVE_AIOSMTPD",
    "ClosedPort",
    "HttpServer",
    "HttpsServer",
    "ImapServer",
    "LdapStartTlsServer",
    "LineChannel",
    "LoopbackServer",
    "Mailbox",
    "MailboxServer",
    "Pop3Server",
    "ReceivedMessage",
    "SilentServer",
    "SmtpServer",
    "StoredMessage",
    "TlsServer",
    "closed_port",
    "server_context",
]
