"""An SMTP test server on aiosmtpd that records what it receives.

aiosmtpd is what Odoo's own SMTP tests use; wrapping it here adds what a TLS
test needs: an ephemeral loopback port, STARTTLS / implicit TLS / plain
modes, a count of TCP connections (to assert that a refused send never even
connected) and the TLS version each message arrived over.
"""

import dataclasses
import socket
import threading
import warnings

import aiosmtpd.controller
import aiosmtpd.smtp

from .base import loopback_host, server_context

MODES = ("starttls", "implicit", "plain")

# In implicit mode AUTH runs inside TLS, yet aiosmtpd (which only counts
# STARTTLS) warns on every connection that it does not.
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS", category=UserWarning)


@dataclasses.dataclass
class ReceivedMessage:
    mail_from: str
    rcpt_tos: list
    content: bytes
    tls_version: str | None
    peer: object = None
    login: str | None = None


class _Controller(aiosmtpd.controller.Controller):
    """aiosmtpd's threaded controller, on a socket we bound to port 0."""

    def __init__(self, owner, handler, sock, **options):
        self._owner = owner
        self._sock = sock
        host, port = sock.getsockname()[:2]
        super().__init__(handler, hostname=host, port=port, **options)

    def factory(self):
        # Called once per accepted TCP connection, before any TLS handshake.
        self._owner._count_connection()
        return super().factory()

    def _create_server(self):
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)


class _Recorder:
    def __init__(self, owner):
        self.owner = owner

    async def handle_DATA(self, server, session, envelope):
        transport = server.transport
        ssl_object = transport.get_extra_info("ssl_object") if transport is not None else None
        login = getattr(session, "_perimeter_login", None)
        self.owner._record(ReceivedMessage(
            mail_from=envelope.mail_from,
            rcpt_tos=list(envelope.rcpt_tos),
            content=envelope.original_content or envelope.content,
            tls_version=ssl_object.version() if ssl_object is not None else None,
            peer=session.peer,
            login=login,
        ))
        return "250 Message accepted"


class SmtpServer:
    """SMTP server on 127.0.0.1 for one ``with`` block.

    :param cert: server certificate (an ``Issued`` or ``(cert, key)`` paths); not needed in ``plain`` mode.
    :param mode: ``starttls`` (offers STARTTLS), ``implicit`` (TLS from the first byte, like port 465)
        or ``plain`` (no TLS offered at all).
    :param credentials: ``(user, password)``: AUTH is offered (after TLS unless plain) and required.
    :param require_starttls: refuse MAIL before STARTTLS.

    ``messages`` lists every :class:`ReceivedMessage`; ``connections`` counts TCP connections.
    """

    def __init__(self, cert=None, mode="starttls", *, credentials=None, require_starttls=False,
                 min_version=None, max_version=None, host="127.0.0.1"):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if mode != "plain" and cert is None:
            raise ValueError(f"an SMTP server in {mode!r} mode needs a certificate")
        self.mode = mode
        self.host = loopback_host(host)
        self.port = None
        self.credentials = credentials
        self.require_starttls = require_starttls
        self.context = server_context(cert, min_version, max_version) if cert is not None else None
        self.messages = []
        self.logins = []
        self.connections = 0
        self._lock = threading.Lock()
        self._controller = None

    @property
    def address(self):
        return (self.host, self.port)

    def _count_connection(self):
        with self._lock:
            self.connections += 1

    def _record(self, message):
        with self._lock:
            self.messages.append(message)

    def _authenticate(self, server, session, envelope, mechanism, auth_data):
        login = auth_data.login.decode() if isinstance(auth_data.login, bytes) else auth_data.login
        password = auth_data.password.decode() if isinstance(auth_data.password, bytes) else auth_data.password
        success = (login, password) == tuple(self.credentials)
        if success:
            session._perimeter_login = login
            with self._lock:
                self.logins.append(login)
        # handled=False: aiosmtpd answers 535 itself; True would leave the client waiting.
        return aiosmtpd.smtp.AuthResult(success=success, handled=False)

    def __enter__(self):
        options = {"server_hostname": "localhost", "ready_timeout": 10.0}
        if self.mode == "starttls":
            options.update(tls_context=self.context, require_starttls=self.require_starttls)
        elif self.mode == "implicit":
            options["ssl_context"] = self.context
        if self.credentials:
            # aiosmtpd counts only STARTTLS as TLS: with implicit TLS the whole
            # session is encrypted, yet auth_require_tls would hide AUTH forever.
            options.update(authenticator=self._authenticate, auth_required=True,
                           auth_require_tls=self.mode == "starttls")
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        self.port = sock.getsockname()[1]
        self._controller = _Controller(self, _Recorder(self), sock, **options)
        self._controller.start()
        # start() makes one connection of its own to check the server is up.
        with self._lock:
            self.connections = 0
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def stop(self):
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
