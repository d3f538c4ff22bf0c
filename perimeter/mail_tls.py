"""The TLS side of Odoo's mail connections: policy, verified channels, plain words.

Odoo talks to SMTP, IMAP and POP servers through smtplib, imaplib and poplib,
with contexts that verify nothing. :class:`MailTls` opens those same client
objects with a *verifying* context (system CAs plus the server's CA bundle,
hostname check, minimum version, optional SHA-256 pin) and checks the channel
right after the handshake, before a single credential crosses it. The policy
decides what happens to a channel that cannot be verified:

- ``enforce``: nothing is sent without a verified channel. Clear-text SMTP is
  refused before a socket is opened; IMAP/POP without implicit TLS upgrade
  with STARTTLS/STLS when the server offers it, else are refused.
- ``warn``: the caller is told (an ``ssl.SSLError`` or :class:`MailTlsRefused`
  propagates) and goes on the way Odoo always did; clear text is allowed and
  flagged with :attr:`MailTls.plaintext`.
- ``off``: the caller does not use this module at all.

Facts for an administrator about a failed channel come from
:func:`perimeter.tlscheck.probe`; there is no second prober here. A verified
session is summed up by :func:`session_report` in the same
:class:`~perimeter.tls_report.TlsReport` a probe returns, so both read the same.

Nothing here imports Odoo.
"""

import contextlib
import imaplib
import os
import poplib
import smtplib
import ssl
import tempfile

from .certinfo import utcnow
from .tls_contexts import build_context_for, parse_min_version, verify_peer
from .tls_report import (
    UNENCRYPTED,
    TlsReport,
    classify_failure,
    endpoint_text,
    expiry_words,
    sentence_of,
    version_label,
)
from .tlscheck import record_session
from .wording import Text, _

# The engine has no env: its _() returns a Text that the Odoo side words for the reader (perimeter.wording).
# pylint: disable=prefer-env-translation

POLICIES = ("off", "warn", "enforce")
# Days before a certificate expires on which administrators hear about it.
EXPIRY_NOTICE_DAYS = (30, 14, 7, 1)
# Every failure reason this module writes starts with it, so refused mail can
# be told from other delivery failures (and found again to retry it).
REASON_PREFIX = "Mail TLS"
# The reason's untranslated head ("Mail TLS (enforce): "), so that it starts the same in every language;
# what follows is worded in the reader's language.
_REASON_TEMPLATE = REASON_PREFIX + " (%(policy)s): %(refusal)s"
# Odoo's smtp_encryption values and the probe protocol each one means.
# Odoo 19 adds ``ssl_strict`` / ``starttls_strict`` (Odoo itself verifies): the same channels.
SMTP_PROTOCOLS = {
    "ssl": "direct", "starttls": "smtp", "none": "plain", "ssl_strict": "direct", "starttls_strict": "smtp",
}
_STARTTLS_BY_MAIL_PROTOCOL = {"imap": "imap", "pop": "pop3"}


class MailTlsRefused(Exception):
    """No verified channel could be had, and the policy does not allow any other.

    ``problem`` is the plain-English cause ("the server does not offer
    STARTTLS", a :class:`~perimeter.wording.Text`); ``str(exc)`` is the same sentence.
    """

    def __init__(self, problem, key="policy"):
        super().__init__(problem)
        self.problem = problem
        self.message = problem
        self.key = key

    @classmethod
    def not_secured(cls):
        """Something skipped the TLS step: under ``enforce`` an unverified session is never handed out."""
        return cls(_("the connection was not secured with TLS before use"), key="unencrypted")


# What a mail server check says when there is nothing to connect to (stored as the server's details).
NOTHING_TO_CHECK = {
    "no_smtp_host": _("No SMTP server is set, so there is nothing to check."),
    "no_server_name": _("No server name is set, so there is nothing to check."),
    "local": _("Local server: mail arrives through a script, there is no connection to check."),
}
# Why clear-text SMTP under ``enforce`` is refused without opening a socket.
PLAINTEXT_SMTP_REFUSED = _(
    "refused: the mail TLS policy is enforce, so Odoo sends nothing through this server until Connection "
    "Encryption is TLS (STARTTLS) or SSL/TLS")
# An incoming server without SSL/TLS, under a policy that lets it fetch in clear text.
UNENCRYPTED_FETCH = _(
    "%(unencrypted)s (SSL/TLS is off; under the enforce policy Odoo would use STARTTLS when the server offers it)",
    unencrypted=UNENCRYPTED)


def cannot_connect(exc):
    """A connection that failed for another reason than TLS (a client certificate refused, say)."""
    return _("cannot connect: %(error)s", error=str(exc))


def failure_reason(host, port, problem, policy="enforce", keys=(), *, outgoing=True, min_version="TLSv1_2"):
    """The sentence stored on refused mail (``mail.mail.failure_reason``) or shown for a refused fetch.

    ``keys`` are the categories of the problems (``TlsReport.error_keys``):
    they choose the advice, so that a clear-text server is not told to
    renew a certificate. A :class:`~perimeter.wording.Text` that starts with
    ``"Mail TLS (<policy>): "`` in every language (see :data:`REASON_PREFIX`).
    """
    facts = {"endpoint": endpoint_text(host, port), "problem": problem,
             "advice": advice(keys, outgoing=outgoing, min_version=min_version)}
    if outgoing:
        refusal = _("refused to connect to %(endpoint)s: %(problem)s. Nothing was sent. %(advice)s "
                    "Then retry this mail.", **facts)
    else:
        refusal = _("refused to connect to %(endpoint)s: %(problem)s. Nothing was fetched: the mail waits on the "
                    "server. %(advice)s", **facts)
    return Text(_REASON_TEMPLATE, policy=policy, refusal=refusal)


# What to do, by category of problem (see TlsReport.error_keys). Outgoing and incoming servers name
# their settings differently: (outgoing, incoming) when they differ.
_ADVICE = {
    "unencrypted": (
        _("Set Connection Encryption to TLS (STARTTLS) or SSL/TLS, as the server supports."),
        _("Tick SSL/TLS (or, under the enforce policy, let Odoo use STARTTLS: enable it on the server)."),
    ),
    "no_starttls": (
        _("Enable STARTTLS on the mail server, or use SSL/TLS on its implicit-TLS port (usually 465)."),
        _("Enable STARTTLS on the mail server, or tick SSL/TLS and use its implicit-TLS port "
          "(993 for IMAP, 995 for POP3)."),
    ),
    "trust": _("Trust it on this mail server (tab TLS Trust): paste the issuing CA in CA bundle, "
               "or pin the certificate's SHA-256 fingerprint."),
    "hostname": (
        _("Enter in SMTP Server a name the certificate is issued for, or give the server a certificate for this "
          "name."),
        _("Enter in Server Name a name the certificate is issued for, or give the server a certificate for this "
          "name."),
    ),
    "expired": _("Renew the mail server's certificate (a pin does not make an expired certificate valid)."),
    "not_yet_valid": _("Check the clocks of both machines, or install a certificate that is valid today."),
    "pin": _("If the server's certificate was renewed on purpose, pin the new fingerprint (Check TLS shows it as "
             "Certificate SHA-256); if not, someone may be intercepting the connection: keep the pin."),
    "certificate": _("Install a valid certificate for a TLS server on the mail server."),
    "channel": (
        _("Check the port and Connection Encryption: they must match what the server serves on that port "
          "(SSL/TLS on 465, STARTTLS on 587 or 25)."),
        _("Check the port and SSL/TLS: they must match what the server serves on that port "
          "(SSL/TLS on 993 and 995, STARTTLS on 143 and 110)."),
    ),
    "reach": _("Check the host name, the port, and that the server is reachable from Odoo."),
    "config": _("Correct the server's TLS settings (CA bundle, pinned fingerprint, client certificate)."),
    "default": _("Fix the server's certificate, or trust it on the mail server (CA bundle or pinned SHA-256 "
                 "fingerprint)."),
}
_ADVICE_BY_KEY = {
    "unencrypted": "unencrypted", "policy": "unencrypted", "no_starttls": "no_starttls",
    "self_signed": "trust", "untrusted_chain": "trust", "hostname": "hostname", "expired": "expired",
    "not_yet_valid": "not_yet_valid", "pin": "pin", "revoked": "certificate", "invalid_ca": "certificate",
    "purpose": "certificate", "parse": "certificate", "not_tls": "channel", "eof": "channel",
    "handshake": "channel", "tls": "channel", "connect": "reach", "refused": "reach", "dns": "reach",
    "timeout": "reach", "reset": "reach", "config": "config",
}


def advice(keys, *, outgoing=True, min_version="TLSv1_2"):
    """What an administrator should do about problems of these categories, in one or two sentences."""
    sentences = []
    for key in keys or ("default",):
        if key == "version":
            text = _("Have the mail server accept %(version)s or later (it only offers older versions, which are "
                     "no longer safe).", version=version_label(parse_min_version(min_version)))
            if parse_min_version(min_version) == "TLSv1_3":
                text = Text.join([text, _("Or set the minimum mail TLS version back to TLS 1.2 in Settings.")], " ")
        else:
            entry = _ADVICE[_ADVICE_BY_KEY.get(key, "default")]
            text = entry if isinstance(entry, str) else entry[0 if outgoing else 1]
        if text not in sentences:
            sentences.append(text)
    return Text.join(sentences[:2], " ")


def failure_of(exc, hostname=None, min_version=None):
    """``(category, plain words)`` for a failure raised while opening a mail connection."""
    if isinstance(exc, MailTlsRefused):
        return exc.key, exc.problem
    return classify_failure(exc, hostname=hostname, min_version=min_version)


def is_tls_failure(exc):
    """Whether ``exc`` says the channel could not be secured (rather than, say, a wrong password)."""
    return isinstance(exc, ssl.SSLError | MailTlsRefused)


def problem_of(exc, hostname=None, min_version=None):
    """Plain words for a TLS failure raised while opening a mail connection."""
    return failure_of(exc, hostname, min_version)[1]


def smtp_protocol(encryption):
    """Probe protocol of an ``ir.mail_server`` ``smtp_encryption`` value."""
    return SMTP_PROTOCOLS.get(encryption or "none", "plain")


def fetch_protocol(connection_type, is_ssl, policy):
    """Probe protocol of a ``fetchmail.server``: what :class:`MailTls` will actually do.

    Implicit TLS when ``is_ssl``; otherwise STARTTLS/STLS under ``enforce``,
    and clear text under the other policies (as Odoo does).
    """
    if is_ssl:
        return "direct"
    if policy == "enforce":
        return _STARTTLS_BY_MAIL_PROTOCOL.get(connection_type, "plain")
    return "plain"


def load_client_certificate(context, client_cert):
    """Load a client certificate and its key into ``context``.

    ``client_cert`` is PEM (text or bytes) holding both the certificate and
    the key, as Odoo stores them on a mail server, or a ``(cert_path,
    key_path)`` pair, as given on Odoo's command line. In-memory PEM goes
    through an anonymous memory file where the platform has one, so the key
    is never written to disk. Raises ``ValueError`` in plain words.
    """
    try:
        if isinstance(client_cert, tuple | list):
            cert_path, key_path = client_cert
            context.load_cert_chain(cert_path, key_path or None)
            return
        data = client_cert.encode("ascii", "replace") if isinstance(client_cert, str) else bytes(client_cert)
        if b"PRIVATE KEY-----" not in data or b"CERTIFICATE-----" not in data:
            raise ValueError(_("the client certificate needs both a PEM certificate and its PEM private key"))
        if hasattr(os, "memfd_create"):
            fd = os.memfd_create("perimeter-client-cert", getattr(os, "MFD_CLOEXEC", 0))
            try:
                os.write(fd, data)
                context.load_cert_chain(f"/proc/self/fd/{fd}")
            finally:
                os.close(fd)
            return
        with tempfile.TemporaryDirectory(prefix="perimeter-") as directory:
            path = os.path.join(directory, "client.pem")
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(data)
            context.load_cert_chain(path)
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(_("the client certificate or its private key cannot be loaded: %(error)s",
                           error=str(exc))) from None


def session_report(ssl_sock, host, port, protocol, *, server_hostname=None, min_version="TLSv1_2",
                   pinned_sha256=None, expiry_warning_days=30, now=None):
    """A :class:`TlsReport` of an established, already verified session.

    Reads what the handshake saw (version, cipher, certificate) and adds the
    expiry warning a probe would give; call it only after
    :func:`~perimeter.tls_contexts.verify_peer` accepted the channel.
    """
    now = now or utcnow()
    report = TlsReport(host=str(host), port=int(port), protocol=protocol,
                       server_hostname=server_hostname or str(host), min_version=parse_min_version(min_version),
                       checked_at=now)
    record_session(report, ssl_sock)
    report.pinned = bool(pinned_sha256)
    report.pin_match = True if pinned_sha256 else None
    report.trusted_by = "pin" if ssl_sock.context.verify_mode == ssl.CERT_NONE else "ca"
    report.warn_if_expiring(now, expiry_warning_days)
    return report.settle()


def failed_report(host, port, protocol, problems, *, server_hostname=None, min_version="TLSv1_2"):
    """A failed :class:`TlsReport` for a channel refused without a handshake to look at."""
    report = TlsReport(host=str(host or ""), port=int(port or 0), protocol=protocol,
                       server_hostname=server_hostname or str(host or ""),
                       min_version=parse_min_version(min_version))
    for key, message in problems:
        report.add_error(key, message)
    return report.settle()


def summary(report):
    """One line for a notification: the verdict and the facts that matter most."""
    if report.state == "failed":
        return _("TLS check failed: %(errors)s", errors=Text.join(report.errors, "; "))
    facts = []
    if report.tls_version:
        facts.append(version_label(report.tls_version))
    if report.sans or report.subject:
        names = ", ".join(report.sans[:3]) or report.subject
        facts.append(_("certificate for %(names)s", names=names))
    if report.not_after is not None:
        facts.append(_("valid until %(date)s", date=report.not_after.strftime("%Y-%m-%d")))
    if report.trusted_by == "pin":
        facts.append(_("trusted by its pinned fingerprint"))
    text = _("TLS verified (%(facts)s)", facts=Text.join(facts, ", ")) if facts else _("TLS verified")
    if report.warnings:
        text = _("%(verdict)s. Warning: %(warnings)s", verdict=text, warnings=Text.join(report.warnings, "; "))
    return text


def expiry_notice_due(days_left, last_notice_days, thresholds=EXPIRY_NOTICE_DAYS):
    """The notice (in days: 30, 14, 7 or 1) to send now about an expiring certificate, or ``None``.

    ``last_notice_days`` is the notice already sent for this certificate (0 or
    ``None``: none yet). Only the nearest threshold reached is announced, once:
    a certificate first seen 10 days before its end gets the 14-day notice,
    then the 7-day and the 1-day ones, never the 30-day one afterwards.
    """
    if days_left is None or days_left < 0:
        return None
    reached = [threshold for threshold in thresholds if days_left <= threshold]
    if not reached:
        return None
    notice = min(reached)
    if last_notice_days and last_notice_days <= notice:
        return None
    return notice


def starts_failing(previous_state, new_state):
    """A check that fails after anything else (never checked included) is news; a repeat is not."""
    return new_state == "failed" and previous_state != "failed"


class _VerifyingSMTP(smtplib.SMTP):
    """smtplib.SMTP whose STARTTLS uses the verifying context and checks the peer at once."""

    def __init__(self, host, port, *, mail_tls, timeout):
        self._mail_tls = mail_tls
        self._perimeter_port = port
        super().__init__(host, port, timeout=timeout)

    def starttls(self, *args, **kwargs):
        # Odoo passes its own (non-verifying) context; the verifying one replaces it.
        kwargs.pop("context", None)
        self.ehlo_or_helo_if_needed()
        if not self.has_extn("starttls"):
            self.close()
            raise MailTlsRefused(_("the server does not offer STARTTLS"), key="no_starttls")
        try:
            reply = super().starttls(*args, context=self._mail_tls.context())
            self._mail_tls.accept(self.sock, self._host, self._perimeter_port, "smtp")
        except BaseException:
            self.close()
            raise
        return reply


class _VerifyingSMTP_SSL(smtplib.SMTP_SSL):  # noqa: N801 - named after smtplib.SMTP_SSL
    """smtplib.SMTP_SSL that checks the peer before reading the greeting."""

    def __init__(self, host, port, *, mail_tls, timeout):
        self._mail_tls = mail_tls
        self._perimeter_port = port
        super().__init__(host, port, timeout=timeout, context=mail_tls.context())

    def _get_socket(self, host, port, timeout):
        sock = super()._get_socket(host, port, timeout)
        try:
            self._mail_tls.accept(sock, host, port, "direct")
        except BaseException:
            sock.close()
            raise
        return sock


class MailTls:
    """How one mail connection secures itself, and what it saw.

    :param policy: ``warn`` or ``enforce`` (see the module docstring).
    :param min_version: ``TLSv1_2`` or ``TLSv1_3``.
    :param ca_bundle_pem: PEM certificates trusted in addition to the system store.
    :param pinned_sha256: fingerprint the server certificate must have (then the pin is the trust anchor).
    :param client_cert: PEM certificate + key, or ``(cert_path, key_path)``, for certificate authentication.

    After a successful opening, :attr:`report` is the :class:`TlsReport` of
    the verified session; :attr:`plaintext` is True when ``warn`` let a
    clear-text connection through. A channel that cannot be verified raises
    ``ssl.SSLError`` (:class:`~perimeter.tls_report.TlsVerificationError` for a
    pin, name or date problem found after the handshake) or
    :class:`MailTlsRefused`, and the socket is closed.
    """

    def __init__(self, policy="enforce", min_version="TLSv1_2", ca_bundle_pem=None, pinned_sha256=None,
                 client_cert=None):
        if policy not in ("warn", "enforce"):
            raise ValueError(_("%(value)s is not a mail TLS policy that opens connections: use warn or enforce",
                               value=repr(policy)))
        self.policy = policy
        self.min_version = parse_min_version(min_version)
        self.ca_bundle_pem = ca_bundle_pem or None
        self.pinned_sha256 = pinned_sha256 or None
        self.client_cert = client_cert or None
        self.report = None
        self.plaintext = False
        self._context = None

    @property
    def verified(self):
        return self.report is not None

    def context(self):
        """The verifying client context (built once); bad settings raise :class:`MailTlsRefused`."""
        if self._context is None:
            try:
                context = build_context_for(self.min_version, self.ca_bundle_pem, self.pinned_sha256)
                if self.client_cert:
                    load_client_certificate(context, self.client_cert)
            except ValueError as exc:
                raise MailTlsRefused(_("the server's TLS settings cannot be used: %(error)s", error=sentence_of(exc)),
                                     key="config") from None
            self._context = context
        return self._context

    def accept(self, ssl_sock, host, port, protocol):
        """Check an established channel (pin, and in pin mode the name and dates); record it."""
        verify_peer(ssl_sock, self.pinned_sha256, host)
        self.report = session_report(ssl_sock, host, port, protocol, min_version=self.min_version,
                                     pinned_sha256=self.pinned_sha256)
        return self.report

    def _allow_plaintext(self, why):
        if self.policy == "enforce":
            raise MailTlsRefused(why, key="unencrypted")
        self.plaintext = True

    # --- SMTP (smtplib, as Odoo's ir.mail_server drives it) -------------------------------------------------------

    def open_smtp(self, host, port, encryption, timeout):
        """An ``smtplib.SMTP`` for Odoo's ``smtp_encryption`` value.

        ``ssl``: implicit TLS, verified before the greeting is read.
        ``starttls``: verified inside ``starttls()``, which the caller must
        call (Odoo does) before anything else. ``none``: refused under
        ``enforce`` before any socket is opened.
        """
        encryption = (encryption or "none").removesuffix("_strict")  # Odoo 19's ssl_strict / starttls_strict
        if encryption == "ssl":
            return _VerifyingSMTP_SSL(host, port, mail_tls=self, timeout=timeout)
        if encryption == "starttls":
            return _VerifyingSMTP(host, port, mail_tls=self, timeout=timeout)
        self._allow_plaintext(_(
            "Connection Encryption is None, so mail would travel in clear text; choose TLS (STARTTLS) or SSL/TLS"))
        return smtplib.SMTP(host, port, timeout=timeout)

    # --- IMAP and POP3 (imaplib, poplib, as Odoo's fetchmail drives them) ----------------------------------------

    def open_imap(self, host, port, is_ssl, timeout, *, imap_class=imaplib.IMAP4, imap_ssl_class=imaplib.IMAP4_SSL):
        """A connected, not yet logged-in IMAP client."""
        if is_ssl:
            connection = imap_ssl_class(host, port, ssl_context=self.context(), timeout=timeout)
            self._accept_or_close(connection.sock, host, port, "direct", connection.shutdown)
            return connection
        connection = imap_class(host, port, timeout=timeout)
        if self.policy != "enforce":
            self.plaintext = True
            return connection
        if "STARTTLS" not in connection.capabilities:
            connection.shutdown()
            raise MailTlsRefused(_("the server offers neither SSL/TLS on this port nor STARTTLS"), key="no_starttls")
        try:
            connection.starttls(ssl_context=self.context())
        except BaseException:
            _close_quietly(connection.shutdown)
            raise
        self._accept_or_close(connection.sock, host, port, "imap", connection.shutdown)
        return connection

    def open_pop3(self, host, port, is_ssl, timeout, *, pop_class=poplib.POP3, pop_ssl_class=poplib.POP3_SSL):
        """A connected, not yet logged-in POP3 client."""
        if is_ssl:
            connection = pop_ssl_class(host, port, timeout=timeout, context=self.context())
            self._accept_or_close(connection.sock, host, port, "direct", connection.close)
            return connection
        connection = pop_class(host, port, timeout=timeout)
        if self.policy != "enforce":
            self.plaintext = True
            return connection
        try:
            capabilities = connection.capa()
        except poplib.error_proto:
            capabilities = {}
        if "STLS" not in capabilities:
            connection.close()
            raise MailTlsRefused(_("the server offers neither SSL/TLS on this port nor STLS"), key="no_starttls")
        try:
            connection.stls(context=self.context())
        except BaseException:
            _close_quietly(connection.close)
            raise
        self._accept_or_close(connection.sock, host, port, "pop3", connection.close)
        return connection

    def _accept_or_close(self, sock, host, port, protocol, close):
        try:
            self.accept(sock, host, port, protocol)
        except BaseException:
            _close_quietly(close)
            raise


def _close_quietly(close):
    """Clean up after a failed TLS step without hiding why it failed.

    A handshake that fails inside ``starttls()``/``stls()`` has already
    detached and closed the client's socket: imaplib's ``shutdown()`` and
    poplib's ``close()`` then raise ``[Errno 9] Bad file descriptor``, which
    must not replace the TLS error the caller has to report.
    """
    with contextlib.suppress(OSError):
        close()


__all__ = [
    "EXPIRY_NOTICE_DAYS",
    "NOTHING_TO_CHECK",
    "PLAINTEXT_SMTP_REFUSED",
    "POLICIES",
    "REASON_PREFIX",
    "SMTP_PROTOCOLS",
    "UNENCRYPTED",
    "UNENCRYPTED_FETCH",
    "MailTls",
    "MailTlsRefused",
    "advice",
    "cannot_connect",
    "endpoint_text",
    "expiry_notice_due",
    "expiry_words",
    "failed_report",
    "failure_of",
    "failure_reason",
    "fetch_protocol",
    "is_tls_failure",
    "load_client_certificate",
    "problem_of",
    "session_report",
    "smtp_protocol",
    "starts_failing",
    "summary",
]
