"""Real TLS probes that explain what they saw in plain words.

A probe connects, runs the clear-text part of the protocol when there is one
(SMTP/IMAP STARTTLS, POP3 STLS, LDAP StartTLS), then does a *verifying*
handshake: system CAs plus an optional PEM bundle, hostname check, minimum
protocol version. Only that handshake can make a report ``ok``.

When it fails, the failure alone ("certificate verify failed") does not help
an administrator, so a second handshake is made that trusts nothing
(``CERT_NONE``), only to read the certificate and protocol the server offers
and turn the failure into facts: expired on which day, issued for which
names, self-signed, which version is too old. That channel is never used for
anything else, and a report built from it is never ``ok`` — except when the
administrator pinned the certificate's SHA-256 fingerprint: a pin *is* the
trust anchor, so a pinned self-signed certificate with valid dates and the
right name is accepted.

The same contexts and checks serve Odoo's mail connections, through
:func:`build_context_for` and :func:`verify_peer`.

Nothing here imports Odoo.
"""

import concurrent.futures
import contextlib
import dataclasses
import datetime
import functools
import hmac
import re
import socket
import ssl
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from cryptography import x509
from cryptography.hazmat.backends import default_backend

from .certinfo import (
    CertInfo,
    cert_info,
    check_pin,
    format_fingerprint,
    normalize_pin,
    utcnow,
)
from .starttls import Deadline, StartTlsError, goodbye, prepare
from .wording import Text, _

# The engine has no env: its _() returns a Text that the Odoo side words for the reader (perimeter.wording).
# pylint: disable=prefer-env-translation

PROTOCOLS = {
    "direct": "direct TLS",
    "https": "HTTPS",
    "smtp": "SMTP STARTTLS",
    "imap": "IMAP STARTTLS",
    "pop3": "POP3 STLS",
    "ldap": "LDAP StartTLS",
    "plain": "plain TCP, no TLS",
}
# The same protocols as words inside a sentence (PROTOCOLS stays plain: Odoo translates it as selection labels).
PROTOCOL_WORDS = {
    "direct": _("direct TLS"),
    "https": _("HTTPS"),
    "smtp": _("SMTP STARTTLS"),
    "imap": _("IMAP STARTTLS"),
    "pop3": _("POP3 STLS"),
    "ldap": _("LDAP StartTLS"),
    "plain": _("plain TCP, no TLS"),
}
STATES = ("ok", "warning", "failed")
# A report's state as the details say it ("State: failed").
STATE_WORDS = {"ok": _("ok"), "warning": _("warning"), "failed": _("failed")}
UNENCRYPTED = _("unencrypted: no TLS, everything (passwords included) travels in clear text")
# Longest wait for the polite end of a session (QUIT, LOGOUT) once the verdict is known.
GOODBYE_SECONDS = 1.0
# The connected-systems dashboard speaks of "critical" where a probe says "failed".
DASHBOARD_STATES = {"ok": "ok", "warning": "warning", "failed": "critical"}
MIN_VERSIONS = {"TLSv1_2": ssl.TLSVersion.TLSv1_2, "TLSv1_3": ssl.TLSVersion.TLSv1_3}
_VERSION_ALIASES = {
    "tlsv1_2": "TLSv1_2", "tlsv1.2": "TLSv1_2", "tls1.2": "TLSv1_2", "tls 1.2": "TLSv1_2", "1.2": "TLSv1_2",
    "tlsv1_3": "TLSv1_3", "tlsv1.3": "TLSv1_3", "tls1.3": "TLSv1_3", "tls 1.3": "TLSv1_3", "1.3": "TLSv1_3",
}
# Protocol names as ``SSLSocket.version()`` reports them, in order.
_VERSION_RANK = {"SSLv3": 0, "TLSv1": 1, "TLSv1.1": 2, "TLSv1.2": 3, "TLSv1.3": 4}
_MIN_RANK = {"TLSv1_2": 3, "TLSv1_3": 4}

# Scheme → (protocol, default port). The implicit-TLS variants are "direct".
SCHEMES = {
    "https": ("https", 443), "wss": ("https", 443),
    "http": ("plain", 80), "ws": ("plain", 80),
    "smtp": ("smtp", 25), "submission": ("smtp", 587), "smtps": ("direct", 465),
    "imap": ("imap", 143), "imaps": ("direct", 993),
    "pop3": ("pop3", 110), "pop": ("pop3", 110), "pop3s": ("direct", 995), "pops": ("direct", 995),
    "ldap": ("ldap", 389), "ldaps": ("direct", 636),
    "tls": ("direct", None),
}
# For ``host:port`` with no scheme: the clear-text-first protocols by their
# well-known ports; anything else is taken as direct TLS.
PORT_PROTOCOLS = {25: "smtp", 587: "smtp", 143: "imap", 110: "pop3", 389: "ldap", 80: "plain"}
# ``smtp://host:465`` means implicit TLS, whatever the scheme says.
_IMPLICIT_TLS_PORTS = {465, 993, 995, 636}

# OpenSSL verification codes (X509_V_ERR_*) and the plain-English category they fall in.
_VERIFY_CODES = {
    2: "untrusted_chain",    # unable to get issuer certificate
    9: "not_yet_valid",
    10: "expired",
    18: "self_signed",       # depth zero self-signed
    19: "untrusted_chain",   # self-signed root in the chain, not trusted
    20: "untrusted_chain",   # unable to get local issuer certificate
    21: "untrusted_chain",   # unable to verify the first certificate
    23: "revoked",
    24: "invalid_ca",
    26: "purpose",
    62: "hostname",
    64: "hostname",          # IP address mismatch
}
# Chain-trust problems a matching pin stands in for.
_TRUST_KEYS = {"self_signed", "untrusted_chain"}
_VERSION_REASONS = {
    "TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS_AVAILABLE",
    "WRONG_SSL_VERSION", "VERSION_TOO_LOW", "TLSV1_ALERT_INAPPROPRIATE_FALLBACK",
}
_NOT_TLS_REASONS = {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNKNOWN_PROTOCOL", "RECORD_LAYER_FAILURE"}
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)


class TlsVerificationError(ssl.SSLError):
    """A check on an established TLS channel failed (pin, name, dates).

    It is an ``ssl.SSLError`` so that code which already handles TLS failures
    (Odoo's mail server test, smtplib callers) handles this one too;
    ``str(exc)`` is the plain-English reason, ``message`` the same reason as a
    :class:`~perimeter.wording.Text`, and ``key`` its category (``pin``,
    ``expired``, ``hostname``...), as a probe's errors have.
    """

    def __init__(self, message, key="verify"):
        super().__init__(message)
        self.message = message
        self.key = key

    def __str__(self):
        # ssl.SSLError prints its args tuple when it has no strerror:
        # "('pinned fingerprint mismatch: ...',)" would reach the mail queue.
        return str(self.args[0]) if self.args else ""


def version_label(version):
    """``"TLSv1_3"`` or ``"TLSv1.3"`` → ``"TLS 1.3"``."""
    if not version:
        return "no TLS"
    text = str(version).replace("_", ".")
    if text == "TLSv1":
        return "TLS 1.0"
    return text.replace("TLSv", "TLS ").replace("SSLv", "SSL ")


def parse_min_version(value):
    """Return the canonical name (``"TLSv1_2"`` / ``"TLSv1_3"``) of a minimum version.

    Accepts the setting's values and common spellings (``TLSv1.3``, ``1.3``)
    or an ``ssl.TLSVersion``; raises ``ValueError`` naming anything else.
    """
    if isinstance(value, ssl.TLSVersion):
        for name, version in MIN_VERSIONS.items():
            if version == value:
                return name
    elif isinstance(value, str):
        name = _VERSION_ALIASES.get(value.strip().lower())
        if name:
            return name
    raise ValueError(_("%(value)s is not a supported minimum TLS version: use TLSv1_2 or TLSv1_3.", value=repr(value)))


def _clean_ca_bundle(pem_text):
    """Check a pasted CA bundle and keep only its certificate blocks.

    ``load_verify_locations(cadata=...)`` reports a bad bundle as an opaque
    OpenSSL error, or silently skips what follows a good block; checking each
    block with ``cryptography`` first lets the message say which one is wrong.
    """
    if isinstance(pem_text, bytes):
        pem_text = pem_text.decode("ascii", "replace")
    if not isinstance(pem_text, str):
        raise TypeError(_("The CA bundle must be PEM text, not %(type)s.", type=type(pem_text).__name__))
    blocks = list(_PEM_BLOCK.finditer(pem_text))
    if any("PRIVATE KEY" in block.group(1) for block in blocks):
        raise ValueError(_("The CA bundle contains a private key: remove it, a CA bundle holds only certificates."))
    certificates = [block.group(0) for block in blocks if block.group(1) == "CERTIFICATE"]
    if not certificates:
        raise ValueError(_(
            "The CA bundle contains no PEM certificate: paste certificates that start with "
            "-----BEGIN CERTIFICATE-----."
        ))
    for number, block in enumerate(certificates, 1):
        try:
            x509.load_pem_x509_certificate(block.encode("ascii"), default_backend())
        except (ValueError, TypeError, UnicodeError) as exc:
            raise ValueError(_("Certificate #%(number)d of the CA bundle is not valid PEM: %(error)s",
                               number=number, error=str(exc))) from None
    return "\n".join(certificates) + "\n"


def build_client_context(min_version="TLSv1_2", ca_bundle_pem=None, verify=True):
    """Return a client ``ssl.SSLContext`` for connecting to a server.

    With ``verify`` (the default) it checks the chain against the system CAs
    plus the certificates of ``ca_bundle_pem``, checks the hostname, and
    refuses protocol versions below ``min_version``. ``verify=False`` keeps
    only the version floor: use it solely with a pin, checked afterwards by
    :func:`verify_peer`. Raises ``ValueError`` for a bad version or bundle.
    """
    minimum = MIN_VERSIONS[parse_min_version(min_version)]
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.load_default_certs(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = minimum
    # Let any certificate of the bundle be a trust anchor, so that an
    # administrator may paste the intermediate that issued the server
    # certificate (Python 3.13 does the same by default).
    context.verify_flags |= getattr(ssl, "VERIFY_X509_PARTIAL_CHAIN", 0)
    if ca_bundle_pem and str(ca_bundle_pem).strip():
        try:
            context.load_verify_locations(cadata=_clean_ca_bundle(ca_bundle_pem))
        except ssl.SSLError as exc:
            raise ValueError(_("The CA bundle cannot be loaded: %(error)s", error=str(exc))) from None
    if not verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def build_context_for(min_version="TLSv1_2", ca_bundle_pem=None, pinned_sha256=None):
    """The context a mail connection needs for these settings.

    Without a pin: a verifying context. With one: the pin is the trust anchor
    (so a self-signed server can be accepted), the context verifies nothing,
    and the caller must call :func:`verify_peer` right after the handshake.
    """
    if pinned_sha256:
        normalize_pin(pinned_sha256)
    return build_client_context(min_version, ca_bundle_pem, verify=not pinned_sha256)


@functools.lru_cache(maxsize=64)
def _shared_context(min_version, ca_bundle_pem):
    # Loading the system CA store costs milliseconds of CPU; a dashboard
    # probing a hundred endpoints with the same settings loads it once.
    return build_client_context(min_version, ca_bundle_pem, verify=True)


@functools.lru_cache(maxsize=1)
def _inspection_context():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # Accept whatever an old server still speaks, to be able to name it.
    with contextlib.suppress(ValueError, ssl.SSLError):
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.set_ciphers("ALL:@SECLEVEL=0")
    return context


# Facts are computed outside the ``_()`` call's own arguments (no f-string there): Odoo's
# translation export (babel) evaluates every string literal among them.
def _date(moment):
    return moment.strftime("%Y-%m-%d")


def _minute(moment):
    return moment.strftime("%Y-%m-%d %H:%M")


def _days(count):
    count = int(count)
    return _("1 day") if count == 1 else _("%(count)d days", count=count)


def expiry_words(not_after, now):
    """``"in 9 days"``, ``"within a day"``, ``"expired 2 days ago"``: whole days, as the details say."""
    days = (not_after - now).total_seconds() / 86400
    if days < 0:
        return _("expired %(days)s ago", days=_days(-days)) if days <= -1 else _("expired within the last day")
    return _("in %(days)s", days=_days(days)) if days >= 1 else _("within a day")


def endpoint_text(host, port):
    """``host:port``, with an IPv6 address in brackets."""
    host = str(host or "")
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _names_text(names):
    if not names:
        return _("no name at all")
    if len(names) <= 3:
        return ", ".join(names)
    return _("%(names)s (and %(more)d more)", names=", ".join(names[:3]), more=len(names) - 3)


_VERIFY_MESSAGES = {
    "revoked": _("certificate has been revoked"),
    "invalid_ca": _("the chain contains a certificate that is not allowed to act as a CA"),
    "purpose": _("certificate is not meant for a TLS server (key usage)"),
    "self_signed": _("self-signed certificate: add its CA to the server's CA bundle or pin it"),
}


def sentence_of(exc):
    """The sentence an exception carries: its :class:`~perimeter.wording.Text` when it has one, else its text."""
    message = getattr(exc, "message", None)
    if isinstance(message, Text):
        return message
    if exc.args and isinstance(exc.args[0], Text):
        return exc.args[0]
    return str(exc)


def _expired_on(cert):
    return _("certificate has expired on %(date)s", date=_date(cert.not_after))


def _not_valid_until(cert):
    return _("certificate is not valid until %(date)s", date=_date(cert.not_before))


def _not_for_host(cert, hostname):
    return _("certificate is for %(names)s, not %(host)s", names=_names_text(cert.names), host=hostname)


def _describe_verification(exc, hostname, cert):
    """Category and message of an ``SSLCertVerificationError``, with facts from ``cert``."""
    code = getattr(exc, "verify_code", None)
    key = _VERIFY_CODES.get(code, "verify")
    if key == "expired":
        message = _expired_on(cert) if cert else _("certificate has expired")
    elif key == "not_yet_valid":
        message = _not_valid_until(cert) if cert else _("certificate is not valid yet")
    elif key == "untrusted_chain":
        message = _("unable to verify the certificate chain: add the issuing CA to the CA bundle (issuer: %(issuer)s)",
                    issuer=cert.issuer) if cert else (
            _("unable to verify the certificate chain: add the issuing CA to the CA bundle"))
    elif key == "hostname":
        message = _not_for_host(cert, hostname) if cert else (
            _("certificate is not valid for %(host)s", host=hostname))
    else:
        message = _VERIFY_MESSAGES.get(key) or _(
            "certificate verification failed: %(error)s", error=getattr(exc, "verify_message", None) or str(exc))
    return key, message


def _describe_ssl(exc, min_version):
    """Category and message of a handshake failure that is not about the certificate."""
    reason = getattr(exc, "reason", None) or ""
    if isinstance(exc, ssl.SSLEOFError) or reason == "UNEXPECTED_EOF_WHILE_READING":
        return "eof", _("the server closed the connection during the TLS handshake")
    if reason in _VERSION_REASONS:
        floor = version_label(min_version) if min_version else _("the required minimum")
        return "version", _("no TLS version in common: the server does not accept %(floor)s or later", floor=floor)
    if reason in _NOT_TLS_REASONS:
        return "not_tls", _("the server did not answer with TLS: wrong port, or it expects STARTTLS or plain text")
    if any(word in reason for word in ("HANDSHAKE_FAILURE", "NO_SHARED_CIPHER", "NO_CIPHERS")):
        return "handshake", _("the TLS handshake failed: no cipher or parameters in common (%(reason)s)",
                              reason=reason)
    return "tls", _("TLS error: %(error)s", error=reason or str(exc))


def _timed_out(timeout):
    return _("timed out after %(seconds)s s", seconds=format(timeout, "g")) if timeout else _("timed out")


def _describe(exc, hostname=None, cert=None, min_version=None, timeout=None):
    """Return ``(category, plain-English message)`` for a connection or TLS error."""
    if isinstance(exc, ssl.SSLCertVerificationError) or getattr(exc, "verify_code", None):
        return _describe_verification(exc, hostname, cert)
    if isinstance(exc, ssl.SSLError):
        return _describe_ssl(exc, min_version)
    if isinstance(exc, TimeoutError):
        return "timeout", _timed_out(timeout)
    simple = {
        ConnectionRefusedError: ("refused", _("connection refused")),
        ConnectionResetError: ("reset", _("the server reset the connection")),
        socket.gaierror: ("dns", _("cannot resolve the host name %(host)s", host=repr(hostname))),
    }
    for kind, result in simple.items():
        if isinstance(exc, kind):
            return result
    if isinstance(exc, OSError):
        return "connect", _("cannot connect: %(error)s", error=exc.strerror or str(exc))
    return "error", _("unexpected error: %(error)s", error=str(exc))


def classify_failure(exc, hostname=None, cert=None, min_version=None, timeout=None):
    """``(category, sentence)`` for an ``ssl``/socket exception: the sentence of
    :func:`describe_ssl_error` and the category (``expired``, ``version``, ``not_tls``...) advice is chosen by."""
    if isinstance(exc, TlsVerificationError):
        return exc.key, exc.message
    return _describe(exc, hostname, cert, min_version, timeout)


def describe_ssl_error(exc, hostname=None, cert=None, min_version=None, timeout=None):
    """Turn an ``ssl``/socket exception into a sentence an administrator can act on.

    ``cert`` (a :class:`CertInfo`, when known) adds the facts: the expiry
    date, the names the certificate is for, its issuer.
    """
    return _describe(exc, hostname, cert, min_version, timeout)[1]


def verify_peer(ssl_sock, pinned_sha256=None, server_hostname=None, now=None):
    """Check an established TLS connection; return its :class:`CertInfo`.

    Checks the pin when one is given. On a non-verifying context (pin mode,
    see :func:`build_context_for`) it also checks the dates and the name,
    which OpenSSL then did not. Raises :class:`TlsVerificationError`.
    """
    der = ssl_sock.getpeercert(binary_form=True)
    if not der:
        raise TlsVerificationError(_("the server sent no certificate"))
    try:
        info = cert_info(der)
    except ValueError as exc:
        raise TlsVerificationError(sentence_of(exc), key="parse") from None
    if pinned_sha256:
        pin = normalize_pin(pinned_sha256)
        if not hmac.compare_digest(info.sha256, pin):
            raise TlsVerificationError(_pin_mismatch_message(pin, info.sha256), key="pin")
    if ssl_sock.context.verify_mode == ssl.CERT_NONE:
        if not pinned_sha256:
            raise TlsVerificationError(_("the certificate was not verified: use a verifying context or pin it"))
        hostname = server_hostname or ssl_sock.server_hostname
        problems = _certificate_problems(info, hostname, now or utcnow())
        if problems:
            key, message = problems[0]
            raise TlsVerificationError(message, key=key)
    return info


def _pin_mismatch_message(pin, actual):
    return _("pinned fingerprint mismatch: expected %(expected)s, got %(actual)s",
             expected=format_fingerprint(pin), actual=format_fingerprint(actual))


def _certificate_problems(info, hostname, now):
    """Date and name problems, checked by hand when OpenSSL did not verify."""
    problems = []
    if info.not_after < now:
        problems.append(("expired", _expired_on(info)))
    elif info.not_before > now:
        problems.append(("not_yet_valid", _not_valid_until(info)))
    if hostname and not info.matches_host(hostname):
        problems.append(("hostname", _not_for_host(info, hostname)))
    return problems


@dataclasses.dataclass
class TlsReport:
    """What one probe saw, and its verdict.

    ``state`` is ``ok`` (verified, nothing to say), ``warning`` (verified, but
    for example expiring soon) or ``failed`` (no trustworthy TLS channel).
    Certificate facts are filled whenever a certificate was seen, even one
    that failed verification; ``trusted_by`` says what vouched for it.
    Datetimes are naive UTC.
    """

    host: str
    port: int
    protocol: str = "direct"
    server_hostname: str | None = None
    url: str | None = None
    min_version: str = "TLSv1_2"
    state: str = "failed"
    tls_version: str | None = None
    cipher: str | None = None
    cipher_bits: int | None = None
    subject: str | None = None
    issuer: str | None = None
    sans: list = dataclasses.field(default_factory=list)
    not_before: datetime.datetime | None = None
    not_after: datetime.datetime | None = None
    self_signed: bool | None = None
    fingerprint_sha256: str | None = None
    pinned: bool = False
    pin_match: bool | None = None
    trusted_by: str | None = None
    errors: list = dataclasses.field(default_factory=list)
    warnings: list = dataclasses.field(default_factory=list)
    checked_at: datetime.datetime = dataclasses.field(default_factory=utcnow)
    elapsed: float = 0.0
    certificate: CertInfo | None = dataclasses.field(default=None, repr=False)
    # The category of each error, in the order of ``errors`` (``expired``, ``pin``, ``unencrypted``...):
    # what the advice to an administrator is chosen by.
    error_keys: list = dataclasses.field(default_factory=list)
    _keys: set = dataclasses.field(default_factory=set, repr=False, compare=False)

    @property
    def endpoint(self):
        return (self.host, self.port)

    @property
    def encrypted(self):
        """A TLS handshake took place (verified or not)."""
        return self.tls_version is not None

    @property
    def dashboard_state(self):
        """``ok`` / ``warning`` / ``critical``, as the connected-systems dashboard names them."""
        return DASHBOARD_STATES[self.state]

    @property
    def protocol_label(self):
        """The protocol in words ("SMTP STARTTLS"), as a sentence names it."""
        return PROTOCOL_WORDS.get(self.protocol, self.protocol)

    def add_error(self, key, message):
        """Record an error once per category (the handshake and the facts may both see it)."""
        if key not in self._keys:
            self._keys.add(key)
            self.errors.append(message)
            self.error_keys.append(key)

    def warn_if_expiring(self, now, expiry_warning_days):
        """Warn when the certificate ends within ``expiry_warning_days`` of ``now`` (and has not ended yet)."""
        if self.not_after is None:
            return
        days_left = (self.not_after - now).total_seconds() / 86400
        if 0 <= days_left < expiry_warning_days:
            self.warnings.append(_("certificate expires %(when)s, on %(date)s",
                                   when=expiry_words(self.not_after, now), date=_date(self.not_after)))

    def set_certificate(self, info):
        self.certificate = info
        self.subject, self.issuer = info.subject, info.issuer
        self.sans = info.sans
        self.not_before, self.not_after = info.not_before, info.not_after
        self.self_signed = info.self_signed
        self.fingerprint_sha256 = info.sha256

    def settle(self):
        """Derive ``state`` from what was recorded; only a trusted channel may be ok."""
        if not self.errors and self.trusted_by is None:
            self.add_error("verify", _("the certificate could not be verified"))
        self.state = "failed" if self.errors else "warning" if self.warnings else "ok"
        return self

    def as_dict(self):
        """Plain data (datetimes kept as naive UTC ``datetime``), for storing or JSON."""
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        data.pop("_keys")
        data.pop("certificate")
        data["errors"], data["warnings"], data["sans"] = list(self.errors), list(self.warnings), list(self.sans)
        data["error_keys"] = list(self.error_keys)
        data["dashboard_state"] = self.dashboard_state
        return data

    def details_text(self):
        """A multi-line summary for an administrator (Odoo's ``*_tls_details`` fields).

        A :class:`~perimeter.wording.Text` of one line per fact, each worded again in the reader's language.
        """
        endpoint = endpoint_text(self.host, self.port)
        lines = [_("State: %(state)s", state=STATE_WORDS.get(self.state, self.state))]
        if self.server_hostname and self.server_hostname != self.host:
            lines.append(_("Endpoint: %(endpoint)s (%(protocol)s), checked as %(name)s",
                           endpoint=endpoint, protocol=self.protocol_label, name=self.server_hostname))
        else:
            lines.append(_("Endpoint: %(endpoint)s (%(protocol)s)", endpoint=endpoint, protocol=self.protocol_label))
        if self.errors:
            lines.append(_("Errors:"))
            lines.extend(bullet(error) for error in self.errors)
        if self.warnings:
            lines.append(_("Warnings:"))
            lines.extend(bullet(warning) for warning in self.warnings)
        if self.tls_version:
            lines.append(self._protocol_line())
        elif self.protocol != "plain":
            lines.append(_("Protocol: no TLS handshake"))
        if self.subject is not None:
            lines.append(_("Subject: %(subject)s", subject=self.subject or _("(empty)")))
            issuer = self.issuer or _("(empty)")
            lines.append(_("Issuer: %(issuer)s (self-signed)", issuer=issuer) if self.self_signed
                         else _("Issuer: %(issuer)s", issuer=issuer))
            lines.append(_("Names (SAN): %(names)s", names=", ".join(self.sans) if self.sans else _("none")))
            lines.append(_("Valid from: %(date)s UTC", date=_minute(self.not_before)))
            lines.append(_("Expires: %(date)s UTC (%(when)s)", date=_minute(self.not_after),
                           when=expiry_words(self.not_after, self.checked_at)))
            lines.append(_("SHA-256: %(fingerprint)s", fingerprint=format_fingerprint(self.fingerprint_sha256)))
        if self.pinned:
            lines.append(_("Pinned fingerprint: matches") if self.pin_match
                         else _("Pinned fingerprint: does not match"))
        lines.append(self._trust_line())
        lines.append(_("Checked: %(moment)s UTC in %(seconds)s s",
                       moment=self.checked_at.strftime("%Y-%m-%d %H:%M:%S"),
                       seconds=format(self.elapsed, ".2f")))
        return Text.join([line for line in lines if line], "\n")

    def _protocol_line(self):
        version = version_label(self.tls_version)
        if self.cipher and self.cipher_bits:
            return _("Protocol: %(version)s, cipher %(cipher)s (%(bits)s bits)",
                     version=version, cipher=self.cipher, bits=self.cipher_bits)
        if self.cipher:
            return _("Protocol: %(version)s, cipher %(cipher)s", version=version, cipher=self.cipher)
        return _("Protocol: %(version)s", version=version)

    def _trust_line(self):
        """What vouched for the certificate, never contradicting ``state``: a failed check trusts nothing."""
        if self.state == "failed" and self.trusted_by:
            # A wrong pin on a valid chain, say: the chain alone is not enough.
            if self.trusted_by == "ca":
                return _("Trust: none, refused (see Errors), although the chain verifies against the system CAs "
                         "and the CA bundle")
            return _("Trust: none, refused (see Errors)")
        if self.trusted_by == "ca":
            return _("Trust: chain verified against the system CAs and the CA bundle")
        if self.trusted_by == "pin":
            return _("Trust: pinned fingerprint (the chain itself is not trusted)")
        if self.subject is not None:
            return _("Trust: none; the facts above come from an unverified handshake")
        return ""


def bullet(text):
    """One entry of a list in the details ("  - certificate has expired..."): layout, nothing to translate."""
    return Text("  - %(item)s", item=text)


def first_error(details):
    """The first error listed in details written by :meth:`TlsReport.details_text` (stored and read back), or "".

    A ``Text`` gives back the error as a ``Text`` (to be worded for the
    reader); details stored as plain English before give back plain English.
    """
    if isinstance(details, Text):
        lines = list(details.params.values())
        for line, following in zip(lines, lines[1:], strict=False):
            if getattr(line, "template", None) == "Errors:" and isinstance(following, Text):
                return following.params.get("item", "")
        return ""
    return (details or "").partition("Errors:\n  - ")[2].partition("\n")[0]


class _ProbeError(Exception):
    """A failure before the handshake, already in plain words (``message``); ``key`` is its category."""

    def __init__(self, message, key="connect"):
        super().__init__(message)
        self.message = message
        self.key = key


def _connect(report, deadline):
    try:
        return socket.create_connection((report.host, report.port), timeout=deadline.remaining())
    except TimeoutError:
        raise _ProbeError(_("timed out after %(seconds)s s while connecting", seconds=format(deadline.seconds, "g")),
                          "timeout") from None
    except ConnectionRefusedError:
        raise _ProbeError(_("connection refused"), "refused") from None
    except OSError as exc:
        key, message = _describe(exc, report.host)
        raise _ProbeError(message, key) from None


def _open_tls(report, context, deadline):
    """Connect, run the clear-text dialogue, and hand back a handshaken socket.

    Failures before the handshake raise :class:`_ProbeError`; the handshake's
    own exceptions propagate so the caller can classify them.
    """
    raw = _connect(report, deadline)
    try:
        try:
            prepare(report.protocol, raw, deadline)
        except TimeoutError:
            raise _ProbeError(
                _("timed out after %(seconds)s s waiting for the %(protocol)s dialogue",
                  seconds=format(deadline.seconds, "g"), protocol=report.protocol_label), "timeout"
            ) from None
        except StartTlsError as exc:
            raise _ProbeError(sentence_of(exc), "no_starttls" if exc.no_starttls else "connect") from None
        except OSError as exc:
            raise _ProbeError(_("the connection failed before TLS could start: %(error)s",
                                error=exc.strerror or str(exc))) from None
        deadline.arm(raw)
        return context.wrap_socket(raw, server_hostname=report.server_hostname)
    except BaseException:
        raw.close()
        raise


def record_session(report, tls_sock):
    """Fill ``report`` with what the handshake of ``tls_sock`` saw: version, cipher, certificate."""
    report.tls_version = tls_sock.version()
    cipher = tls_sock.cipher()
    if cipher:
        report.cipher, report.cipher_bits = cipher[0], cipher[2]
    der = tls_sock.getpeercert(binary_form=True)
    if der:
        try:
            report.set_certificate(cert_info(der))
        except ValueError as exc:
            report.add_error("parse", sentence_of(exc))


def _inspect(report, deadline):
    """Second, unverified handshake: only to read the facts for the report."""
    if deadline.expired():
        return False
    try:
        tls_sock = _open_tls(report, _inspection_context(), deadline)
    except (_ProbeError, OSError):
        return False
    with tls_sock:
        record_session(report, tls_sock)
    return True


def _check_facts(report, pin, now, expiry_warning_days, verified):
    info = report.certificate
    if info is None:
        return
    if not verified:
        # OpenSSL stops at the first problem; list the others too.
        for key, message in _certificate_problems(info, report.server_hostname, now):
            report.add_error(key, message)
    report.warn_if_expiring(now, expiry_warning_days)
    if pin:
        report.pin_match = hmac.compare_digest(info.sha256, pin)
        if not report.pin_match:
            report.add_error("pin", _pin_mismatch_message(pin, info.sha256))


def _below_minimum(report):
    rank = _VERSION_RANK.get(report.tls_version)
    return rank is not None and rank < _MIN_RANK[report.min_version]


def _below_minimum_message(report):
    return _("%(version)s is below the required minimum %(minimum)s",
             version=version_label(report.tls_version), minimum=version_label(report.min_version))


def _probe_tls(report, context, pin, deadline, expiry_warning_days):
    try:
        tls_sock = _open_tls(report, context, deadline)
    except _ProbeError as exc:
        report.add_error(exc.key, exc.message)
        return
    except ssl.SSLCertVerificationError as exc:
        _inspect(report, deadline)
        key, message = _describe(exc, report.server_hostname, report.certificate)
        now = utcnow()
        if pin and key in _TRUST_KEYS and report.certificate and hmac.compare_digest(report.certificate.sha256, pin):
            # The administrator vouched for this exact certificate.
            report.trusted_by = "pin"
        else:
            report.add_error(key, message)
        _check_facts(report, pin, now, expiry_warning_days, verified=False)
        if report.trusted_by == "pin" and report.errors:
            report.trusted_by = None
        return
    except TimeoutError:
        report.add_error("timeout", _("timed out after %(seconds)s s during the TLS handshake",
                                      seconds=format(deadline.seconds, "g")))
        return
    except OSError as exc:
        key, message = _describe(exc, report.server_hostname, min_version=report.min_version)
        # Servers on asyncio (aiosmtpd, for one) hang up on a version they refuse
        # instead of sending an alert: a second look tells the two apart.
        if key in ("version", "eof") and _inspect(report, deadline) and _below_minimum(report):
            key, message = "version", _below_minimum_message(report)
        report.add_error(key, message)
        if key == "version":
            _check_facts(report, pin, utcnow(), expiry_warning_days, verified=False)
        return
    with tls_sock:
        record_session(report, tls_sock)
        report.trusted_by = "ca"
        if _below_minimum(report):  # the context forbids it; kept as a second line of defence
            report.add_error("version", _below_minimum_message(report))
        _check_facts(report, pin, utcnow(), expiry_warning_days, verified=True)
        # The verdict is in; a server slow to say goodbye must not stretch the probe.
        with contextlib.suppress(TimeoutError):
            goodbye(report.protocol, tls_sock, Deadline(min(GOODBYE_SECONDS, deadline.remaining())))


def _probe_plain(report, deadline):
    report.add_error("unencrypted", UNENCRYPTED)
    try:
        _connect(report, deadline).close()
    except _ProbeError as exc:
        report.add_error(exc.key, exc.message)


def probe(host, port, protocol="direct", *, server_hostname=None, timeout=5.0, min_version="TLSv1_2",
          ca_bundle_pem=None, pinned_sha256=None, expiry_warning_days=30, url=None):
    """Check the TLS of one endpoint for real and return a :class:`TlsReport`.

    ``protocol`` is one of :data:`PROTOCOLS`. ``server_hostname`` is the name
    the certificate must carry (default: ``host``), useful when connecting to
    an address. The whole probe, second look included, stays within
    ``timeout`` seconds. Problems with the endpoint or with its settings (bad
    pin, bad CA bundle) come back as a failed report; only an unknown
    ``protocol`` raises ``ValueError``.
    """
    if protocol not in PROTOCOLS:
        raise ValueError(_("%(value)s is not a known protocol: use one of %(protocols)s.",
                           value=repr(protocol), protocols=", ".join(PROTOCOLS)))
    started = time.monotonic()
    report = TlsReport(host=str(host), port=int(port), protocol=protocol, url=url,
                       server_hostname=server_hostname or str(host))
    try:
        report.min_version = parse_min_version(min_version)
        pin = normalize_pin(pinned_sha256) if pinned_sha256 else None
        report.pinned = bool(pin)
        context = None if protocol == "plain" else _shared_context(report.min_version, ca_bundle_pem or None)
        if not timeout or timeout <= 0:
            raise ValueError(_("the timeout must be a positive number of seconds, not %(value)s", value=repr(timeout)))
    except ValueError as exc:
        report.add_error("config", _("configuration error: %(error)s", error=sentence_of(exc)))
        report.elapsed = time.monotonic() - started
        return report.settle()
    deadline = Deadline(float(timeout))
    try:
        if protocol == "plain":
            _probe_plain(report, deadline)
        else:
            _probe_tls(report, context, pin, deadline, expiry_warning_days)
    except Exception as exc:  # noqa: BLE001 - a dashboard of a hundred endpoints must survive one odd server
        report.add_error("error", _("unexpected error: %(error)s", error=repr(exc)))
    report.elapsed = time.monotonic() - started
    return report.settle()


def parse_endpoint(text):
    """Return ``(host, port, protocol)`` for a URL or ``host:port``.

    Schemes: see :data:`SCHEMES`. A bare ``host:port`` is taken by its port
    (:data:`PORT_PROTOCOLS`), else as direct TLS; a bare host as HTTPS.
    Raises ``ValueError`` naming the value.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(_("%(value)s is not an endpoint: enter a URL or host:port.", value=repr(text)))
    value = text.strip()
    has_scheme = "://" in value
    try:
        parts = urlsplit(value if has_scheme else "//" + value)
        port = parts.port
    except ValueError as exc:
        raise ValueError(_("%(value)s is not a valid endpoint: %(error)s.",
                           value=repr(value), error=str(exc))) from None
    host = parts.hostname
    if not host:
        raise ValueError(_("%(value)s has no host name.", value=repr(value)))
    if has_scheme:
        scheme = parts.scheme.lower()
        if scheme not in SCHEMES:
            raise ValueError(_(
                "%(value)s: unsupported scheme %(scheme)s (use https, http, smtp, smtps, submission, imap, imaps, "
                "pop3, pop3s, ldap, ldaps, or host:port).", value=repr(value), scheme=repr(scheme),
            ))
        protocol, default_port = SCHEMES[scheme]
        port = port or default_port
        if port is None:
            raise ValueError(_("%(value)s needs a port.", value=repr(value)))
        if protocol in ("smtp", "imap", "pop3", "ldap") and port in _IMPLICIT_TLS_PORTS:
            protocol = "direct"
        return host, port, protocol
    if port is None:
        return host, 443, "https"
    return host, port, PORT_PROTOCOLS.get(port, "direct")


def probe_url(url, **options):
    """:func:`probe` an endpoint given as a URL or ``host:port``.

    A value that cannot be parsed comes back as a failed report.
    """
    try:
        host, port, protocol = parse_endpoint(url)
    except ValueError as exc:
        report = TlsReport(host=str(url), port=0, url=str(url))
        report.add_error("config", _("invalid endpoint: %(error)s", error=sentence_of(exc)))
        return report.settle()
    return probe(host, port, protocol, url=url, **options)


def _probe_target(target, options):
    if isinstance(target, str):
        return probe_url(target, **options)
    if isinstance(target, Mapping):
        merged = {**options, **target}
        if "url" in merged and "host" not in merged:
            return probe_url(merged.pop("url"), **merged)
        return probe(**merged)
    return probe(*target, **options)


def _failed_target(target, exc):
    name = target if isinstance(target, str) else repr(target)
    report = TlsReport(host=str(name)[:200], port=0)
    report.add_error("error", _("cannot probe %(target)s: %(error)s", target=name, error=str(exc)))
    return report.settle()


def probe_many(targets, max_workers=32, **options):
    """Probe many endpoints concurrently; return their reports in input order.

    A target is a URL or ``host:port`` string, a mapping of :func:`probe`
    arguments (or ``{"url": ...}`` with options), or a ``(host, port[,
    protocol])`` tuple; ``options`` apply to all and a mapping overrides
    them. Each probe keeps its own ``timeout``; one bad target yields a
    failed report, never an exception.
    """
    targets = list(targets)
    if not targets:
        return []
    workers = max(1, min(int(max_workers), len(targets)))
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers, thread_name_prefix="tlscheck") as pool:
        futures = [pool.submit(_probe_target, target, options) for target in targets]
        reports = []
        for target, future in zip(targets, futures, strict=True):
            try:
                reports.append(future.result())
            except Exception as exc:  # noqa: BLE001 - one bad target must not hide the others
                reports.append(_failed_target(target, exc))
        return reports


__all__ = [
    "DASHBOARD_STATES",
    "MIN_VERSIONS",
    "PORT_PROTOCOLS",
    "PROTOCOLS",
    "SCHEMES",
    "STATES",
    "UNENCRYPTED",
    "CertInfo",
    "TlsReport",
    "TlsVerificationError",
    "build_client_context",
    "bullet",
    "build_context_for",
    "cert_info",
    "classify_failure",
    "check_pin",
    "describe_ssl_error",
    "endpoint_text",
    "expiry_words",
    "first_error",
    "format_fingerprint",
    "sentence_of",
    "normalize_pin",
    "parse_endpoint",
    "parse_min_version",
    "probe",
    "probe_many",
    "probe_url",
    "record_session",
    "verify_peer",
    "version_label",
]
