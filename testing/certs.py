"""Certificates made on the fly for tests: a private CA and its server certificates.

Every test scenario of a TLS check needs a certificate with one precise flaw
(expired, not yet valid, self-signed, issued for another host). Making them
at test time with ``cryptography`` keeps the flaws explicit in the test and
the dates relative to today, so no fixture file expires in the repository.

EC P-256 keys: generating one takes microseconds, an RSA key tens of
milliseconds. Works with cryptography 3.4.8 and 42+.
"""

import dataclasses
import datetime
import hashlib
import ipaddress
import itertools
import os
import re
import shutil
import ssl
import tempfile
import warnings

from cryptography import x509
from cryptography.hazmat.backends import default_backend
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Names every loopback test server answers to.
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
_DAY = datetime.timedelta(days=1)


def _utcnow():
    return datetime.datetime.now(datetime.UTC).replace(tzinfo=None)


def _naive_utc(cert, name):
    # ``*_utc`` exists from cryptography 42 on, which deprecates the naive names.
    aware = getattr(cert, name + "_utc", None)
    return aware.replace(tzinfo=None) if aware is not None else getattr(cert, name)


def sha256_fingerprint(cert):
    """Lowercase hex SHA-256 of a certificate given as DER, PEM or ``x509.Certificate``."""
    if isinstance(cert, x509.Certificate):
        der = cert.public_bytes(serialization.Encoding.DER)
    elif isinstance(cert, str) or (isinstance(cert, bytes) and cert.lstrip().startswith(b"-----")):
        text = cert if isinstance(cert, str) else cert.decode("ascii")
        der = ssl.PEM_cert_to_DER_cert(text.strip())
    else:
        der = bytes(cert)
    return hashlib.sha256(der).hexdigest()


def colon_fingerprint(hex_digest):
    """``"ab01…"`` → ``"AB:01:…"``: the form administrators copy from ``openssl``."""
    text = hex_digest.upper()
    return ":".join(text[i:i + 2] for i in range(0, len(text), 2))


@dataclasses.dataclass(frozen=True)
class Issued:
    """A certificate with its key, as PEM text and as files."""

    name: str
    cert_pem: str
    key_pem: str
    cert_path: str
    key_path: str
    certificate: x509.Certificate = dataclasses.field(repr=False)
    private_key: object = dataclasses.field(repr=False)

    @property
    def der(self):
        return self.certificate.public_bytes(serialization.Encoding.DER)

    @property
    def not_before(self):
        """Naive UTC, whichever cryptography version is installed."""
        return _naive_utc(self.certificate, "not_valid_before")

    @property
    def not_after(self):
        return _naive_utc(self.certificate, "not_valid_after")

    @property
    def sha256(self):
        """Lowercase hex SHA-256 fingerprint (what a pin holds)."""
        return sha256_fingerprint(self.der)

    @property
    def sha256_colons(self):
        return colon_fingerprint(self.sha256)

    @property
    def files(self):
        """``(cert_path, key_path)``, as ``SSLContext.load_cert_chain`` takes them."""
        return self.cert_path, self.key_path


def _general_name(value):
    try:
        return x509.IPAddress(ipaddress.ip_address(value))
    except ValueError:
        return x509.DNSName(value)


class CertFactory:
    """A private CA in a directory, issuing certificates on demand.

    Use as a context manager (or call :meth:`cleanup`) to remove the
    directory it created. ``factory.ca`` is the CA; :meth:`leaf` issues
    server certificates and the other methods are its flawed variants.
    """

    def __init__(self, directory=None, ca_name="Perimeter Test CA"):
        self._owns_directory = directory is None
        self.directory = directory or tempfile.mkdtemp(prefix="perimeter-certs-")
        self._counter = itertools.count(1)
        self.ca = self.make_ca(ca_name)

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.cleanup()

    def cleanup(self):
        if self._owns_directory:
            shutil.rmtree(self.directory, ignore_errors=True)

    def _write(self, name, certificate, key):
        slug = re.sub(r"[^A-Za-z0-9]+", "-", name).strip("-").lower() or "cert"
        stem = os.path.join(self.directory, f"{next(self._counter):03d}-{slug}")
        cert_pem = certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")
        key_pem = key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode("ascii")
        with open(stem + ".cert.pem", "w", encoding="ascii") as handle:
            handle.write(cert_pem)
        with open(stem + ".key.pem", "w", encoding="ascii") as handle:
            handle.write(key_pem)
        return Issued(name, cert_pem, key_pem, stem + ".cert.pem", stem + ".key.pem", certificate, key)

    @staticmethod
    def _new_key():
        return ec.generate_private_key(ec.SECP256R1(), default_backend())

    def make_ca(self, name="Perimeter Test CA", days=3650):
        """A self-signed CA certificate (also usable as a second, untrusted CA)."""
        key = self._new_key()
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
        now = _utcnow()
        certificate = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - _DAY)
            .not_valid_after(now + days * _DAY)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .add_extension(
                x509.KeyUsage(
                    digital_signature=True, content_commitment=False, key_encipherment=False,
                    data_encipherment=False, key_agreement=False, key_cert_sign=True, crl_sign=True,
                    encipher_only=False, decipher_only=False,
                ),
                critical=True,
            )
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256(), default_backend())
        )
        return self._write(name, certificate, key)

    def leaf(self, hostnames=LOOPBACK_NAMES, *, issuer=None, self_signed=False,
             not_before=None, not_after=None, days=365, common_name=None, usage=ExtendedKeyUsageOID.SERVER_AUTH):
        """A server certificate for ``hostnames`` (DNS names and/or IP addresses).

        Signed by ``issuer`` (default: this factory's CA) unless
        ``self_signed``. Dates are naive UTC; by default valid from yesterday
        for ``days`` days. ``usage`` is its extended key usage (see :meth:`client`).
        """
        hostnames = [hostnames] if isinstance(hostnames, str) else list(hostnames)
        key = self._new_key()
        now = _utcnow()
        not_before = not_before or now - _DAY
        not_after = not_after or now + days * _DAY
        common_name = common_name or (hostnames[0] if hostnames else "no-name")
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
        signer = None if self_signed else (issuer or self.ca)
        builder = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(subject if signer is None else signer.certificate.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(not_before)
            .not_valid_after(not_after)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        )
        if hostnames:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([_general_name(name) for name in hostnames]), critical=False
            )
        if signer is not None:
            builder = builder.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(signer.private_key.public_key()), critical=False
            )
        signing_key = key if signer is None else signer.private_key
        certificate = builder.sign(signing_key, hashes.SHA256(), default_backend())
        label = "self-signed " + common_name if self_signed else common_name
        return self._write(label, certificate, key)

    def trusted(self, hostnames=LOOPBACK_NAMES, **options):
        """A valid certificate from this factory's CA."""
        return self.leaf(hostnames, **options)

    def expired(self, hostnames=LOOPBACK_NAMES, **options):
        """Valid for a while, ended yesterday."""
        now = _utcnow()
        return self.leaf(hostnames, not_before=now - 90 * _DAY, not_after=now - _DAY, **options)

    def not_yet_valid(self, hostnames=LOOPBACK_NAMES, **options):
        """Valid from ten days from now."""
        now = _utcnow()
        return self.leaf(hostnames, not_before=now + 10 * _DAY, not_after=now + 400 * _DAY, **options)

    def expiring_in(self, days, hostnames=LOOPBACK_NAMES, **options):
        """Valid now, ending in ``days`` days (for expiry warnings)."""
        now = _utcnow()
        return self.leaf(hostnames, not_before=now - 30 * _DAY, not_after=now + days * _DAY, **options)

    def self_signed(self, hostnames=LOOPBACK_NAMES, **options):
        """Signed with its own key, trusted by nobody until pinned or bundled."""
        return self.leaf(hostnames, self_signed=True, **options)

    def wrong_host(self, hostnames=("mail.other.com",), **options):
        """Issued by the trusted CA, but for other names than the loopback ones."""
        return self.leaf(hostnames, **options)

    def client(self, name="odoo-client", days=30):
        """A client certificate (clientAuth) from this factory's CA, for a server that asks for one."""
        return self.leaf((), common_name=name, days=days, usage=ExtendedKeyUsageOID.CLIENT_AUTH)


def tls11_possible():
    """Whether this Python's OpenSSL can still speak TLS 1.1 (to a test server, and to name it)."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        try:
            context.minimum_version = ssl.TLSVersion.TLSv1_1
        except (ValueError, ssl.SSLError):
            return False
    return ssl.HAS_TLSv1_1
