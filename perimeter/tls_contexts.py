"""TLS contexts and versions: how a client context is built (system CAs, a pasted CA bundle, a
minimum version, a pin) and how an established channel is checked afterwards.

The same contexts and checks serve the probes (``tlscheck``) and Odoo's mail connections
(``mail_tls``). Nothing here imports Odoo.
"""

import contextlib
import functools
import hmac
import re
import ssl

from cryptography import x509
from cryptography.hazmat.backends import default_backend

from .certinfo import cert_info, format_fingerprint, normalize_pin, utcnow
from .tls_report import TlsVerificationError, expired_on, not_for_host, not_valid_until, sentence_of
from .wording import _

# pylint: disable=prefer-env-translation

MIN_VERSIONS = {"TLSv1_2": ssl.TLSVersion.TLSv1_2, "TLSv1_3": ssl.TLSVersion.TLSv1_3}
_VERSION_ALIASES = {
    "tlsv1_2": "TLSv1_2", "tlsv1.2": "TLSv1_2", "tls1.2": "TLSv1_2", "tls 1.2": "TLSv1_2", "1.2": "TLSv1_2",
    "tlsv1_3": "TLSv1_3", "tlsv1.3": "TLSv1_3", "tls1.3": "TLSv1_3", "tls 1.3": "TLSv1_3", "1.3": "TLSv1_3",
}
_PEM_BLOCK = re.compile(r"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)


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
def shared_verifying_context(min_version, ca_bundle_pem):
    # Loading the system CA store costs milliseconds of CPU; a dashboard
    # probing a hundred endpoints with the same settings loads it once.
    return build_client_context(min_version, ca_bundle_pem, verify=True)


@functools.lru_cache(maxsize=1)
def inspection_context():
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    # Accept whatever an old server still speaks, to be able to name it.
    with contextlib.suppress(ValueError, ssl.SSLError):
        context.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
        context.set_ciphers("ALL:@SECLEVEL=0")
    return context


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
            raise TlsVerificationError(pin_mismatch_message(pin, info.sha256), key="pin")
    if ssl_sock.context.verify_mode == ssl.CERT_NONE:
        if not pinned_sha256:
            raise TlsVerificationError(_("the certificate was not verified: use a verifying context or pin it"))
        hostname = server_hostname or ssl_sock.server_hostname
        problems = certificate_problems(info, hostname, now or utcnow())
        if problems:
            key, message = problems[0]
            raise TlsVerificationError(message, key=key)
    return info


def pin_mismatch_message(pin, actual):
    return _("pinned fingerprint mismatch: expected %(expected)s, got %(actual)s",
             expected=format_fingerprint(pin), actual=format_fingerprint(actual))


def certificate_problems(info, hostname, now):
    """Date and name problems, checked by hand when OpenSSL did not verify."""
    problems = []
    if info.not_after < now:
        problems.append(("expired", expired_on(info)))
    elif info.not_before > now:
        problems.append(("not_yet_valid", not_valid_until(info)))
    if hostname and not info.matches_host(hostname):
        problems.append(("hostname", not_for_host(info, hostname)))
    return problems
