"""What the IMAP and POP3 test servers share: an in-memory mailbox, and the server around a session."""

import dataclasses
import threading

from .base import LineChannel, LoopbackServer, server_context

# Commands one session may send before the server hangs up: enough for any test, finite.
MAX_COMMANDS = 1000
MODES = ("implicit", "starttls", "plain")


@dataclasses.dataclass
class StoredMessage:
    content: bytes
    flags: set = dataclasses.field(default_factory=set)


class Mailbox:
    """Messages (raw RFC 5322 bytes) with IMAP flags, safe to share between threads.

    A test fills it before fetchmail runs and reads it afterwards to see what
    was fetched (``\\Seen``) and deleted.
    """

    def __init__(self, messages=()):
        self._lock = threading.Lock()
        self._messages = [StoredMessage(self._bytes(message)) for message in messages]

    @staticmethod
    def _bytes(message):
        if isinstance(message, str):
            message = message.encode("utf-8")
        # Mail on the wire uses CRLF; tests usually write LF.
        return message.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")

    def add(self, message, flags=()):
        with self._lock:
            self._messages.append(StoredMessage(self._bytes(message), set(flags)))

    def __len__(self):
        with self._lock:
            return len(self._messages)

    def snapshot(self):
        """A copy of the messages, for assertions."""
        with self._lock:
            return [StoredMessage(m.content, set(m.flags)) for m in self._messages]

    def get(self, number):
        """The 1-based message ``number`` (its live record), or ``None``."""
        with self._lock:
            if 1 <= number <= len(self._messages):
                return self._messages[number - 1]
            return None

    def remove_numbers(self, numbers):
        """Remove messages by 1-based number; return the numbers removed, highest first."""
        with self._lock:
            removed = sorted({n for n in numbers if 1 <= n <= len(self._messages)}, reverse=True)
            for number in removed:
                del self._messages[number - 1]
            return removed

    def numbers_with_flag(self, flag):
        with self._lock:
            return [i for i, m in enumerate(self._messages, 1) if flag in m.flags]


class MailboxServer(LoopbackServer):
    """A mail-reading test server (IMAP, POP3) over ``mode`` ``implicit`` TLS, ``starttls`` or ``plain``.

    ``mailbox`` (a :class:`Mailbox`) holds the messages; ``credentials=(user,
    password)`` makes login check them; ``require_tls_for_login`` refuses
    login in clear text. ``logins`` records ``(user, over_tls)`` for every
    accepted login. Subclasses name their ``protocol`` and the ``session``
    class that speaks it on one :class:`~testing.base.LineChannel`.
    """

    protocol = ""  # "IMAP", "POP3": for error messages
    session = None  # called as session(server, channel); its run() serves the connection

    def __init__(self, cert=None, mode="starttls", *, mailbox=None, credentials=None, require_tls_for_login=False,
                 min_version=None, max_version=None, **options):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
        if mode != "plain" and cert is None:
            raise ValueError(f"the {self.protocol} test server in {mode!r} mode needs a certificate")
        context = server_context(cert, min_version, max_version) if cert is not None else None
        super().__init__(tls_context=context, **options)
        self.mode = mode
        self.mailbox = mailbox if mailbox is not None else Mailbox()
        self.credentials = credentials
        self.require_tls_for_login = require_tls_for_login
        self.logins = []

    def handle(self, conn):
        if self.mode == "implicit":
            conn = self.wrap(conn)
            if conn is None:
                return
        channel = LineChannel(self, conn)
        channel.tls = self.mode == "implicit"
        try:
            self.session(self, channel).run()
        finally:
            channel.close()
