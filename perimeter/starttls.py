"""Plain-text dialogues that bring a connection to the point where TLS starts.

SMTP, IMAP, POP3 and LDAP all open in clear text and upgrade with a command
(STARTTLS, STLS, the LDAP StartTLS extended operation). Each function here
speaks just enough of one protocol to issue that command on a raw socket and
stops right before the handshake, so the caller can wrap the socket with the
``ssl`` context of its choice (verifying, or a second inspection pass).

The standard clients (smtplib, imaplib, poplib) are not used: they hide the
socket, retry, and read without bounds. Here every read is bounded in size,
in count and by one shared :class:`Deadline`.
"""

import contextlib
import time

from .wording import _

# The engine has no env: its _() returns a Text that the Odoo side words for the reader (perimeter.wording).
# pylint: disable=prefer-env-translation

# A reply line longer than this is not a real server talking.
MAX_LINE = 8192
# More lines than this in one reply (an EHLO list, a CAPA list) is not either.
MAX_LINES = 200
# Extended request for LDAP StartTLS (RFC 4511 §4.14): messageID 1, OID 1.3.6.1.4.1.1466.20037.
_LDAP_STARTTLS_OID = b"1.3.6.1.4.1.1466.20037"
LDAP_STARTTLS_REQUEST = (
    b"\x30" + bytes([5 + 2 + len(_LDAP_STARTTLS_OID)])
    + b"\x02\x01\x01"
    + b"\x77" + bytes([2 + len(_LDAP_STARTTLS_OID)])
    + b"\x80" + bytes([len(_LDAP_STARTTLS_OID)]) + _LDAP_STARTTLS_OID
)
LDAP_UNBIND_REQUEST = b"\x30\x05\x02\x01\x02\x42\x00"
_LDAP_RESULT_NAMES = {2: "protocolError", 52: "unavailable", 53: "unwillingToPerform"}

STARTTLS_PROTOCOLS = ("smtp", "imap", "pop3", "ldap")
NOT_LDAP = _("the server did not answer like an LDAP server")
NO_STARTTLS = _("server offers no STARTTLS: mail would travel unencrypted")


class Deadline:
    """One time budget shared by every step of a probe.

    Each blocking call gets what is left of the budget rather than a fresh
    timeout, so a slow server cannot stretch a probe step by step.
    """

    def __init__(self, seconds):
        self.seconds = seconds
        self._end = time.monotonic() + seconds

    def remaining(self):
        """Seconds left; raises ``TimeoutError`` when the budget is spent."""
        left = self._end - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline reached")
        return left

    def expired(self):
        return time.monotonic() >= self._end

    def arm(self, sock):
        """Give ``sock`` what is left of the budget as its timeout."""
        sock.settimeout(self.remaining())


class StartTlsError(Exception):
    """The server did not let the dialogue reach the TLS handshake.

    ``str(exc)`` is a plain-English sentence for an administrator, and
    ``message`` the same sentence as a :class:`~perimeter.wording.Text`, to be
    worded again in the reader's language.
    ``no_starttls`` is True when the server simply does not offer TLS, so the
    caller can say the channel would stay unencrypted.
    """

    def __init__(self, message, no_starttls=False):
        super().__init__(message)
        self.message = message
        self.no_starttls = no_starttls


class _Reader:
    """Line reader over a raw socket that never reads past what it needs."""

    def __init__(self, sock, deadline):
        self.sock = sock
        self.deadline = deadline
        self.buffer = b""

    def _fill(self):
        self.deadline.arm(self.sock)
        chunk = self.sock.recv(4096)
        if not chunk:
            raise StartTlsError(_("the server closed the connection before TLS could start"))
        self.buffer += chunk

    def line(self):
        while b"\n" not in self.buffer:
            if len(self.buffer) > MAX_LINE:
                raise StartTlsError(_("the server sent an overlong line: this is not the expected protocol"))
            self._fill()
        line, _newline, self.buffer = self.buffer.partition(b"\n")
        return line.rstrip(b"\r").decode("latin-1")

    def exact(self, size):
        while len(self.buffer) < size:
            self._fill()
        data, self.buffer = self.buffer[:size], self.buffer[size:]
        return data

    def send(self, text):
        self.deadline.arm(self.sock)
        self.sock.sendall(text if isinstance(text, bytes) else text.encode("ascii"))

    def ensure_drained(self):
        # Bytes already buffered when TLS starts were sent in clear text and
        # would be taken as part of the encrypted session (CVE-2011-0411 class).
        if self.buffer:
            raise StartTlsError(_(
                "the server sent data after its STARTTLS reply: refusing to continue (possible injection)"
            ))


def _smtp_reply(reader):
    """Read one SMTP reply; return (code, [text lines])."""
    lines = []
    for _count in range(MAX_LINES):
        line = reader.line()
        code, sep, text = line[:3], line[3:4], line[4:]
        if not code.isdigit():
            raise StartTlsError(_("the server did not answer like an SMTP server: %(reply)s", reply=repr(line[:80])))
        lines.append(text)
        if sep != "-":
            return int(code), lines
    raise StartTlsError(_("the server sent an endless SMTP reply"))


def _ehlo_name(sock):
    # An address literal is always a syntactically valid EHLO argument and
    # avoids a (possibly slow) reverse DNS lookup of our own name.
    try:
        address = sock.getsockname()[0]
    except OSError:
        return "[127.0.0.1]"
    return f"[IPv6:{address}]" if ":" in address else f"[{address}]"


def smtp_starttls(sock, deadline):
    """EHLO, then STARTTLS; return the EHLO name used (for the EHLO after TLS)."""
    reader = _Reader(sock, deadline)
    code, text = _smtp_reply(reader)
    if code != 220:
        raise StartTlsError(_("the SMTP server refused the connection: %(code)s %(reply)s",
                              code=code, reply=" ".join(text)[:120]))
    name = _ehlo_name(sock)
    reader.send(f"EHLO {name}\r\n")
    code, text = _smtp_reply(reader)
    if code != 250:
        raise StartTlsError(_("server offers no STARTTLS: it refused EHLO (%(code)s)", code=code), no_starttls=True)
    extensions = {line.split(" ", 1)[0].upper() for line in text[1:]}
    if "STARTTLS" not in extensions:
        raise StartTlsError(NO_STARTTLS, no_starttls=True)
    reader.send("STARTTLS\r\n")
    code, text = _smtp_reply(reader)
    if code != 220:
        raise StartTlsError(_("server refused STARTTLS: %(code)s %(reply)s", code=code, reply=" ".join(text)[:120]),
                            no_starttls=True)
    reader.ensure_drained()
    return name


def _imap_tagged(reader, tag):
    """Read an IMAP response up to its tagged line; return (status, untagged lines)."""
    untagged = []
    for _count in range(MAX_LINES):
        line = reader.line()
        if line.startswith(tag + " "):
            return line[len(tag) + 1:].split(" ", 1)[0].upper(), untagged
        untagged.append(line)
    raise StartTlsError(_("the server sent an endless IMAP response"))


def _imap_capabilities(text):
    return {word.upper() for word in text.replace("[", " ").replace("]", " ").split()}


def imap_starttls(sock, deadline):
    """Read the greeting, look for STARTTLS in the capabilities, send it."""
    reader = _Reader(sock, deadline)
    greeting = reader.line()
    upper = greeting.upper()
    if upper.startswith("* BYE"):
        raise StartTlsError(_("the IMAP server refused the connection: %(reply)s", reply=greeting[:120]))
    if upper.startswith("* PREAUTH"):
        raise StartTlsError(
            _("server offers no STARTTLS: the session is pre-authenticated in clear text"), no_starttls=True
        )
    if not upper.startswith("* OK"):
        raise StartTlsError(_("the server did not answer like an IMAP server: %(reply)s", reply=repr(greeting[:80])))
    if "[CAPABILITY " in upper:
        capabilities = _imap_capabilities(upper.split("[CAPABILITY ", 1)[1].split("]", 1)[0])
    else:
        reader.send("P1 CAPABILITY\r\n")
        _status, lines = _imap_tagged(reader, "P1")
        capabilities = set()
        for line in lines:
            if line.upper().startswith("* CAPABILITY "):
                capabilities |= _imap_capabilities(line[len("* CAPABILITY "):])
    if "STARTTLS" not in capabilities:
        raise StartTlsError(NO_STARTTLS, no_starttls=True)
    reader.send("P2 STARTTLS\r\n")
    status, _untagged = _imap_tagged(reader, "P2")
    if status != "OK":
        raise StartTlsError(_("server refused STARTTLS (%(status)s)", status=status), no_starttls=True)
    reader.ensure_drained()


def pop3_stls(sock, deadline):
    """Read the greeting and send STLS (POP3's STARTTLS, RFC 2595)."""
    reader = _Reader(sock, deadline)
    greeting = reader.line()
    if not greeting.startswith("+OK"):
        if greeting.startswith("-ERR"):
            raise StartTlsError(_("the POP3 server refused the connection: %(reply)s", reply=greeting[:120]))
        raise StartTlsError(_("the server did not answer like a POP3 server: %(reply)s", reply=repr(greeting[:80])))
    reader.send("STLS\r\n")
    reply = reader.line()
    if not reply.startswith("+OK"):
        raise StartTlsError(_("server offers no STARTTLS (POP3 STLS): mail would travel unencrypted"),
                            no_starttls=True)
    reader.ensure_drained()


def _ber_length(reader):
    first = reader.exact(1)[0]
    if first < 0x80:
        return first
    count = first & 0x7F
    if not 1 <= count <= 3:
        raise StartTlsError(NOT_LDAP)
    return int.from_bytes(reader.exact(count), "big")


def ldap_starttls(sock, deadline):
    """Send the StartTLS extended request and check its result code."""
    reader = _Reader(sock, deadline)
    reader.send(LDAP_STARTTLS_REQUEST)
    if reader.exact(1) != b"\x30":
        raise StartTlsError(NOT_LDAP)
    length = _ber_length(reader)
    if length > 65536:
        raise StartTlsError(NOT_LDAP)
    message = reader.exact(length)
    # messageID INTEGER, then [APPLICATION 24] ExtendedResponse whose first
    # element is resultCode ENUMERATED.
    marker = message.find(b"\x0a\x01")
    if not message.startswith(b"\x02") or b"\x78" not in message[:8] or marker < 0:
        raise StartTlsError(NOT_LDAP)
    result = message[marker + 2]
    if result != 0:
        name = _LDAP_RESULT_NAMES.get(result, "error")
        raise StartTlsError(_("server offers no STARTTLS (LDAP result %(code)s: %(name)s)", code=result, name=name),
                            no_starttls=True)
    reader.ensure_drained()


_DIALOGUES = {"smtp": smtp_starttls, "imap": imap_starttls, "pop3": pop3_stls, "ldap": ldap_starttls}


def prepare(protocol, sock, deadline):
    """Run the clear-text part of ``protocol`` on ``sock``; no-op for direct TLS."""
    dialogue = _DIALOGUES.get(protocol)
    if dialogue is not None:
        dialogue(sock, deadline)


def goodbye(protocol, tls_sock, deadline):
    """Close the session politely over TLS (best effort, never raises).

    SMTP gets the second EHLO that RFC 3207 requires after STARTTLS, then
    QUIT; servers then log a clean session instead of a dropped connection.
    """
    commands = {
        "smtp": [f"EHLO {_ehlo_name(tls_sock)}\r\n", "QUIT\r\n"],
        "imap": ["P3 LOGOUT\r\n"],
        "pop3": ["QUIT\r\n"],
        "ldap": [LDAP_UNBIND_REQUEST],
    }.get(protocol)
    if not commands:
        return
    with contextlib.suppress(OSError, StartTlsError, ValueError):
        reader = _Reader(tls_sock, deadline)
        for command in commands:
            reader.send(command)
            if protocol == "smtp":
                _smtp_reply(reader)
            elif protocol != "ldap":
                reader.line()


__all__ = [
    "STARTTLS_PROTOCOLS",
    "Deadline",
    "StartTlsError",
    "goodbye",
    "imap_starttls",
    "ldap_starttls",
    "pop3_stls",
    "prepare",
    "smtp_starttls",
]
