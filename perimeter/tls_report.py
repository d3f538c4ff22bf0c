"""TLS findings in words: the report of one check, and failures turned into sentences an administrator can act on.

A :class:`TlsReport` is what a probe (``tlscheck``) or a mail connection (``mail_tls``) saw; its
details and errors are :class:`~perimeter.wording.Text`, English here and worded again in the
reader's language on the Odoo side. Nothing here imports Odoo.
"""

import dataclasses
import datetime
import socket
import ssl

from .certinfo import CertInfo, format_fingerprint, utcnow
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
# The connected-systems dashboard speaks of "critical" where a probe says "failed".
DASHBOARD_STATES = {"ok": "ok", "warning": "warning", "failed": "critical"}
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
_VERSION_REASONS = {
    "TLSV1_ALERT_PROTOCOL_VERSION", "UNSUPPORTED_PROTOCOL", "NO_PROTOCOLS_AVAILABLE",
    "WRONG_SSL_VERSION", "VERSION_TOO_LOW", "TLSV1_ALERT_INAPPROPRIATE_FALLBACK",
}
_NOT_TLS_REASONS = {"WRONG_VERSION_NUMBER", "HTTP_REQUEST", "UNKNOWN_PROTOCOL", "RECORD_LAYER_FAILURE"}


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


def expired_on(cert):
    return _("certificate has expired on %(date)s", date=_date(cert.not_after))


def not_valid_until(cert):
    return _("certificate is not valid until %(date)s", date=_date(cert.not_before))


def not_for_host(cert, hostname):
    return _("certificate is for %(names)s, not %(host)s", names=_names_text(cert.names), host=hostname)


def _describe_verification(exc, hostname, cert):
    """Category and message of an ``SSLCertVerificationError``, with facts from ``cert``."""
    code = getattr(exc, "verify_code", None)
    key = _VERIFY_CODES.get(code, "verify")
    if key == "expired":
        message = expired_on(cert) if cert else _("certificate has expired")
    elif key == "not_yet_valid":
        message = not_valid_until(cert) if cert else _("certificate is not valid yet")
    elif key == "untrusted_chain":
        message = _("unable to verify the certificate chain: add the issuing CA to the CA bundle (issuer: %(issuer)s)",
                    issuer=cert.issuer) if cert else (
            _("unable to verify the certificate chain: add the issuing CA to the CA bundle"))
    elif key == "hostname":
        message = not_for_host(cert, hostname) if cert else (
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


def describe(exc, hostname=None, cert=None, min_version=None, timeout=None):
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
    return describe(exc, hostname, cert, min_version, timeout)


def describe_ssl_error(exc, hostname=None, cert=None, min_version=None, timeout=None):
    """Turn an ``ssl``/socket exception into a sentence an administrator can act on.

    ``cert`` (a :class:`CertInfo`, when known) adds the facts: the expiry
    date, the names the certificate is for, its issuer.
    """
    return describe(exc, hostname, cert, min_version, timeout)[1]


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
