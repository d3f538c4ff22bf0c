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

The contexts live in ``tls_contexts``, the report and its words in ``tls_report``.

Nothing here imports Odoo.
"""

import concurrent.futures
import contextlib
import hmac
import socket
import ssl
import time
from collections.abc import Mapping
from urllib.parse import urlsplit

from .certinfo import cert_info, normalize_pin, utcnow
from .starttls import Deadline, StartTlsError, goodbye, prepare
from .tls_contexts import (
    certificate_problems,
    inspection_context,
    parse_min_version,
    pin_mismatch_message,
    shared_verifying_context,
)
from .tls_report import PROTOCOLS, UNENCRYPTED, TlsReport, describe, sentence_of, version_label
from .wording import _

# pylint: disable=prefer-env-translation

# Longest wait for the polite end of a session (QUIT, LOGOUT) once the verdict is known.
GOODBYE_SECONDS = 1.0
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
# Chain-trust problems a matching pin stands in for.
_TRUST_KEYS = {"self_signed", "untrusted_chain"}


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
        key, message = describe(exc, report.host)
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
        tls_sock = _open_tls(report, inspection_context(), deadline)
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
        for key, message in certificate_problems(info, report.server_hostname, now):
            report.add_error(key, message)
    report.warn_if_expiring(now, expiry_warning_days)
    if pin:
        report.pin_match = hmac.compare_digest(info.sha256, pin)
        if not report.pin_match:
            report.add_error("pin", pin_mismatch_message(pin, info.sha256))


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
        key, message = describe(exc, report.server_hostname, report.certificate)
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
        key, message = describe(exc, report.server_hostname, min_version=report.min_version)
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
        context = None if protocol == "plain" else shared_verifying_context(report.min_version, ca_bundle_pem or None)
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
