"""Facts about one X.509 certificate, read without trusting it.

A TLS check must say *why* a certificate is refused (expired on which day,
issued for which names, which fingerprint), and it must be able to say so
from a certificate that failed verification. Everything here works on the DER
bytes that ``SSLSocket.getpeercert(binary_form=True)`` returns for any
handshake, verified or not.

Only APIs present in both cryptography 3.4.8 (Odoo 18 on Python 3.11) and
42+ (Python 3.12) are used.
"""

import dataclasses
import datetime
import hashlib
import hmac
import ipaddress
import re

from cryptography import x509
from cryptography.hazmat.backends import default_backend
from cryptography.x509.oid import NameOID

from .wording import _

# The engine has no env: its _() returns a Text that the Odoo side words for the reader (perimeter.wording).
# pylint: disable=prefer-env-translation

_PIN_LABEL = re.compile(r"^sha-?256(?:\s*fingerprint)?\s*[=:]\s*", re.IGNORECASE)
_PIN_SEPARATORS = re.compile(r"[\s:]+")
_HEX64 = re.compile(r"[0-9a-f]{64}")


def utcnow():
    """The current time as a naive UTC datetime, the convention of Odoo's fields."""
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def _naive_utc(cert, name):
    # cryptography 42 deprecates the naive properties in favour of ``*_utc``;
    # 3.4.8 only has the naive ones. Both describe the same instant in UTC.
    aware = getattr(cert, name + "_utc", None)
    if aware is not None:
        return aware.replace(tzinfo=None)
    return getattr(cert, name)


def format_fingerprint(hex_digest):
    """``"ab01…"`` → ``"AB:01:…"``, the form ``openssl x509 -fingerprint`` prints."""
    text = hex_digest.upper()
    return ":".join(text[i:i + 2] for i in range(0, len(text), 2))


def sha256_hex(der):
    """Lowercase hex SHA-256 of DER bytes: what a pin is compared with."""
    return hashlib.sha256(der).hexdigest()


def normalize_pin(text):
    """Return a SHA-256 fingerprint as 64 lowercase hex digits.

    Accepts what administrators paste: colons or spaces between bytes, any
    case, and the ``SHA256 Fingerprint=`` label that ``openssl`` prints.
    Raises ``ValueError`` naming the value otherwise.
    """
    if not isinstance(text, str) or not text.strip():
        raise ValueError(_("%(value)s is not a SHA-256 fingerprint: expected 64 hexadecimal digits.",
                           value=repr(text)))
    value = _PIN_LABEL.sub("", text.strip())
    digits = _PIN_SEPARATORS.sub("", value).lower()
    if _HEX64.fullmatch(digits):
        return digits
    shown = text if len(text) <= 120 else text[:117] + "..."
    if re.fullmatch(r"[0-9a-f]{40}", digits):
        raise ValueError(_("%(value)s looks like a SHA-1 fingerprint: pin the SHA-256 fingerprint (64 hex digits).",
                           value=repr(shown)))
    raise ValueError(_(
        "%(value)s is not a SHA-256 fingerprint: expected 64 hexadecimal digits "
        "(colons and spaces allowed), got %(count)d characters.",
        value=repr(shown), count=len(digits),
    ))


def check_pin(der_cert_bytes, pinned_sha256):
    """True when the SHA-256 of the DER certificate equals the pin.

    The pin is normalised first, so a malformed pin raises ``ValueError``
    rather than silently never matching.
    """
    return hmac.compare_digest(sha256_hex(der_cert_bytes), normalize_pin(pinned_sha256))


@dataclasses.dataclass(frozen=True)
class CertInfo:
    """What a certificate says about itself; nothing here is verified."""

    subject: str
    issuer: str
    common_name: str | None
    dns_names: tuple
    ip_addresses: tuple
    not_before: datetime.datetime
    not_after: datetime.datetime
    self_signed: bool
    sha256: str

    @property
    def sans(self):
        """Subject alternative names as text, DNS names first."""
        return list(self.dns_names) + list(self.ip_addresses)

    @property
    def names(self):
        """The names the certificate is for, for messages (SANs, else the CN)."""
        if self.dns_names or self.ip_addresses:
            return self.sans
        return [self.common_name] if self.common_name else []

    def matches_host(self, hostname):
        """Whether ``hostname`` (a name or an IP address) is covered.

        Follows what OpenSSL checks when Python verifies a hostname: IP
        addresses only against IP SANs; names against DNS SANs, with a
        wildcard only as the whole left-most label; the CN only when there
        is no DNS SAN.
        """
        host = _canonical_host(hostname)
        if not host:
            return False
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            address = None
        if address is not None:
            return any(address == ipaddress.ip_address(ip) for ip in self.ip_addresses)
        patterns = self.dns_names or ((self.common_name,) if self.common_name else ())
        return any(_dns_match(pattern, host) for pattern in patterns)


def _canonical_host(hostname):
    if not hostname:
        return ""
    host = hostname.strip().rstrip(".").lower()
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    host = host.partition("%")[0]
    try:
        return host.encode("idna").decode("ascii")
    except UnicodeError:
        return host


def _dns_match(pattern, host):
    pattern = _canonical_host(pattern)
    if not pattern:
        return False
    if "*" not in pattern:
        return pattern == host
    first, _dot, rest = pattern.partition(".")
    # A wildcard is valid only as the entire left-most label, over at least
    # two further labels (``*.example.com``, never ``*.com`` nor ``w*.x.com``).
    if first != "*" or "*" in rest or rest.count(".") < 1:
        return False
    host_first, _dot, host_rest = host.partition(".")
    return bool(host_first) and host_rest == rest


def _common_name(name):
    attributes = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(attributes[0].value) if attributes else None


def _is_self_signed(cert):
    if cert.subject != cert.issuer:
        return False
    # Same name could still be a different key; when both key identifiers
    # are present they settle it.
    try:
        ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value.digest
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value.key_identifier
    except x509.ExtensionNotFound:
        return True
    return aki is None or aki == ski


def load_der(der):
    """Parse DER bytes; raises ``ValueError`` in plain words when they are not a certificate."""
    try:
        return x509.load_der_x509_certificate(bytes(der), default_backend())
    except (ValueError, TypeError) as exc:
        raise ValueError(_("the server's certificate cannot be parsed: %(error)s", error=str(exc))) from None


def cert_info(der):
    """Return the :class:`CertInfo` of a DER certificate."""
    cert = load_der(der)
    dns_names, ip_addresses = (), ()
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        san = None
    except ValueError:
        # A malformed extension is a fact about the certificate, not a crash.
        san = None
    if san is not None:
        dns_names = tuple(san.get_values_for_type(x509.DNSName))
        ip_addresses = tuple(str(ip) for ip in san.get_values_for_type(x509.IPAddress))
    return CertInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        common_name=_common_name(cert.subject),
        dns_names=dns_names,
        ip_addresses=ip_addresses,
        not_before=_naive_utc(cert, "not_valid_before"),
        not_after=_naive_utc(cert, "not_valid_after"),
        self_signed=_is_self_signed(cert),
        sha256=sha256_hex(der),
    )
