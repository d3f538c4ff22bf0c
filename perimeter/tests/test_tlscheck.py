"""TLS probes against real servers on the loopback interface; nothing is mocked.

Each scenario starts the server it needs with a certificate made for it, and
asserts the state and the exact words an administrator would read.
"""

import socket
import ssl
import time

import pytest

from perimeter.certinfo import cert_info, check_pin, normalize_pin
from perimeter.tls_contexts import build_client_context, build_context_for, parse_min_version, verify_peer
from perimeter.tls_report import TlsVerificationError, describe_ssl_error
from perimeter.tlscheck import parse_endpoint, probe, probe_many, probe_url
from testing.certs import colon_fingerprint
from testing.servers import (
    HAVE_AIOSMTPD,
    ClosedPort,
    HttpServer,
    HttpsServer,
    ImapServer,
    LdapStartTlsServer,
    LoopbackServer,
    Pop3Server,
    SilentServer,
    SmtpServer,
    TlsServer,
)

LOCAL = "127.0.0.1"
needs_aiosmtpd = pytest.mark.skipif(not HAVE_AIOSMTPD, reason="aiosmtpd is not installed")


@pytest.fixture(scope="module")
def self_signed(certs):
    return certs.self_signed()


def check(server, certs, protocol="direct", **options):
    options.setdefault("ca_bundle_pem", certs.ca.cert_pem)
    options.setdefault("timeout", 3.0)
    return probe(server.host, server.port, protocol, **options)


def day(moment):
    return moment.strftime("%Y-%m-%d")


def eventually(condition, seconds=3.0):
    """A server counts a connection when its own thread accepts it, a moment after the client."""
    deadline = time.monotonic() + seconds
    while not condition() and time.monotonic() < deadline:
        time.sleep(0.01)
    return condition()


# --- chain, dates, names --------------------------------------------------------------------------------------------

def test_trusted_through_ca_bundle_is_ok_with_facts(certs, good):
    with TlsServer(good) as server:
        report = check(server, certs)
    assert report.state == "ok", report.errors
    assert report.errors == [] and report.warnings == []
    assert report.trusted_by == "ca"
    assert report.tls_version in ("TLSv1.2", "TLSv1.3")
    assert report.cipher and report.cipher_bits >= 128
    assert report.subject == "CN=localhost"
    assert report.issuer == "CN=Perimeter Test CA"
    assert report.sans == ["localhost", "127.0.0.1", "::1"]
    assert report.self_signed is False
    assert report.fingerprint_sha256 == good.sha256
    assert report.not_after == good.not_after
    assert report.dashboard_state == "ok"
    text = report.details_text()
    assert "State: ok" in text
    assert "Issuer: CN=Perimeter Test CA" in text
    assert "Names (SAN): localhost, 127.0.0.1, ::1" in text
    assert "Trust: chain verified" in text


def test_unknown_issuer_is_explained_and_facts_still_read(certs, good):
    with TlsServer(good) as server:
        report = check(server, certs, ca_bundle_pem=None)
    assert report.state == "failed"
    assert report.errors == [
        "unable to verify the certificate chain: add the issuing CA to the CA bundle (issuer: CN=Perimeter Test CA)"
    ]
    assert report.trusted_by is None
    # The facts come from the second, unverified handshake.
    assert report.subject == "CN=localhost"
    assert report.fingerprint_sha256 == good.sha256
    assert "Trust: none; the facts above come from an unverified handshake" in report.details_text()


def test_self_signed_is_refused_with_advice(certs, self_signed):
    with TlsServer(self_signed) as server:
        report = check(server, certs)
        # One verifying handshake, then one only to read the certificate.
        assert server.connections == 2
    assert report.state == "failed"
    assert report.errors == ["self-signed certificate: add its CA to the server's CA bundle or pin it"]
    assert report.self_signed is True
    assert report.subject == report.issuer == "CN=localhost"
    assert report.dashboard_state == "critical"


def test_self_signed_added_to_bundle_is_trusted(certs, self_signed):
    with TlsServer(self_signed) as server:
        report = check(server, certs, ca_bundle_pem=self_signed.cert_pem)
    assert report.state == "ok", report.errors
    assert report.trusted_by == "ca"
    assert report.self_signed is True


def test_self_signed_trusted_by_its_pin(certs, self_signed):
    with TlsServer(self_signed) as server:
        report = check(server, certs, pinned_sha256=self_signed.sha256_colons)
    assert report.state == "ok", report.errors
    assert report.trusted_by == "pin"
    assert report.pin_match is True
    assert "Pinned fingerprint: matches" in report.details_text()


def test_self_signed_with_wrong_pin_lists_both_problems(certs, self_signed, good):
    with TlsServer(self_signed) as server:
        report = check(server, certs, pinned_sha256=good.sha256)
    assert report.state == "failed"
    assert report.errors == [
        "self-signed certificate: add its CA to the server's CA bundle or pin it",
        f"pinned fingerprint mismatch: expected {good.sha256_colons}, got {self_signed.sha256_colons}",
    ]
    assert report.pin_match is False


def test_expired(certs):
    expired = certs.expired()
    with TlsServer(expired) as server:
        report = check(server, certs)
    assert report.state == "failed"
    assert report.errors == [f"certificate has expired on {day(expired.not_after)}"]
    assert report.not_after < report.checked_at
    assert "expired 1 day ago" in report.details_text()


def test_expired_even_when_pinned(certs):
    expired = certs.expired(self_signed=True)
    with TlsServer(expired) as server:
        report = check(server, certs, pinned_sha256=expired.sha256)
    assert report.state == "failed"
    assert report.errors == [f"certificate has expired on {day(expired.not_after)}"]
    assert report.trusted_by is None


def test_not_yet_valid(certs):
    future = certs.not_yet_valid()
    with TlsServer(future) as server:
        report = check(server, certs)
    assert report.state == "failed"
    assert report.errors == [f"certificate is not valid until {day(future.not_before)}"]


def test_wrong_host_names_what_the_certificate_is_for(certs):
    wrong = certs.wrong_host()
    with TlsServer(wrong) as server:
        by_address = check(server, certs)
        by_name = check(server, certs, server_hostname="smtp.example.com")
    assert by_address.errors == ["certificate is for mail.other.com, not 127.0.0.1"]
    assert by_name.errors == ["certificate is for mail.other.com, not smtp.example.com"]
    assert by_name.state == "failed"
    assert "checked as smtp.example.com" in by_name.details_text()


def test_server_hostname_checks_the_name_not_the_address(certs, good):
    with TlsServer(good) as server:
        assert check(server, certs, server_hostname="localhost").state == "ok"


def test_wildcard_certificate_matches_one_label(certs):
    wildcard = certs.leaf(["*.example.test"])
    with TlsServer(wildcard) as server:
        assert check(server, certs, server_hostname="mail.example.test").state == "ok"
        deeper = check(server, certs, server_hostname="a.mail.example.test")
    assert deeper.errors == ["certificate is for *.example.test, not a.mail.example.test"]


def test_expiring_soon_is_a_warning(certs):
    soon = certs.expiring_in(10)
    with TlsServer(soon) as server:
        report = check(server, certs)
        relaxed = check(server, certs, expiry_warning_days=5)
    assert report.state == "warning"
    assert report.errors == []
    assert len(report.warnings) == 1
    assert report.warnings[0] in (
        f"certificate expires in {n} days, on {day(soon.not_after)}" for n in (9, 10)
    )
    assert relaxed.state == "ok"


# --- pins -----------------------------------------------------------------------------------------------------------

def test_pin_match_on_a_trusted_certificate(certs, good):
    with TlsServer(good) as server:
        report = check(server, certs, pinned_sha256=good.sha256_colons.lower())
    assert report.state == "ok"
    assert report.pin_match is True
    assert report.trusted_by == "ca"


def test_pin_mismatch_fails_even_with_a_valid_chain(certs, good):
    other = certs.trusted()
    with TlsServer(good) as server:
        report = check(server, certs, pinned_sha256=other.sha256)
    assert report.state == "failed"
    assert report.errors == [f"pinned fingerprint mismatch: expected {other.sha256_colons}, got {good.sha256_colons}"]
    assert report.pin_match is False
    details = report.details_text()
    assert "Pinned fingerprint: does not match" in details
    # What is shown agrees with the state: a failed check is never "chain verified".
    assert "State: failed" in details
    assert ("Trust: none, refused (see Errors), although the chain verifies against the system CAs and the CA "
            "bundle") in details
    assert "Trust: chain verified" not in details
    assert report.error_keys == ["pin"]


def test_normalize_pin_accepts_what_administrators_paste(good):
    assert normalize_pin(good.sha256_colons) == good.sha256
    assert normalize_pin(" ".join(good.sha256_colons.split(":"))) == good.sha256
    assert normalize_pin(f"sha256 Fingerprint={good.sha256_colons}") == good.sha256
    assert normalize_pin(good.sha256.upper()) == good.sha256


@pytest.mark.parametrize("bad", ["xyz", "ab:cd", "g" * 64, "a" * 65])
def test_normalize_pin_names_the_bad_value(bad):
    with pytest.raises(ValueError, match="is not a SHA-256 fingerprint") as caught:
        normalize_pin(bad)
    assert repr(bad) in str(caught.value)


def test_normalize_pin_recognises_sha1():
    with pytest.raises(ValueError, match="looks like a SHA-1 fingerprint"):
        normalize_pin("ab" * 20)


def test_check_pin(good, self_signed):
    assert check_pin(good.der, good.sha256_colons) is True
    assert check_pin(good.der, self_signed.sha256) is False
    with pytest.raises(ValueError):
        check_pin(good.der, "not a pin")


def test_bad_pin_in_a_probe_fails_before_connecting(certs, good):
    with TlsServer(good) as server:
        report = check(server, certs, pinned_sha256="12:34")
        assert server.connections == 0
    assert report.state == "failed"
    assert report.errors[0].startswith("configuration error: '12:34' is not a SHA-256 fingerprint")


# --- protocol versions ----------------------------------------------------------------------------------------------

def test_tls13_only_server_meets_minimum_13(certs, good):
    with TlsServer(good, min_version="TLSv1_3") as server:
        report = check(server, certs, min_version="TLSv1_3")
    assert report.state == "ok", report.errors
    assert report.tls_version == "TLSv1.3"
    assert "Protocol: TLS 1.3" in report.details_text()


def test_tls12_server_is_below_minimum_13(certs, good):
    with TlsServer(good, max_version="TLSv1_2") as server:
        strict = check(server, certs, min_version="TLSv1_3")
        default = check(server, certs)
    assert strict.state == "failed"
    assert strict.errors == ["TLS 1.2 is below the required minimum TLS 1.3"]
    assert strict.tls_version == "TLSv1.2"
    assert strict.trusted_by is None
    assert default.state == "ok"
    assert default.tls_version == "TLSv1.2"


def test_min_version_spellings():
    assert parse_min_version("TLSv1.3") == "TLSv1_3"
    assert parse_min_version(ssl.TLSVersion.TLSv1_2) == "TLSv1_2"
    with pytest.raises(ValueError, match="'TLSv1_1' is not a supported minimum TLS version"):
        parse_min_version("TLSv1_1")


# --- mail protocols -------------------------------------------------------------------------------------------------

@needs_aiosmtpd
def test_smtp_starttls(certs, good):
    with SmtpServer(good, mode="starttls") as server:
        report = check(server, certs, "smtp")
        assert server.connections == 1
    assert report.state == "ok", report.errors
    assert report.protocol == "smtp"
    assert "(SMTP STARTTLS)" in report.details_text()


@needs_aiosmtpd
def test_smtp_starttls_self_signed_reads_facts_through_a_second_starttls(certs, self_signed):
    with SmtpServer(self_signed, mode="starttls") as server:
        report = check(server, certs, "smtp")
        assert server.connections == 2
    assert report.errors == ["self-signed certificate: add its CA to the server's CA bundle or pin it"]
    assert report.fingerprint_sha256 == self_signed.sha256


@needs_aiosmtpd
def test_smtp_implicit_tls(certs, good):
    with SmtpServer(good, mode="implicit") as server:
        direct = check(server, certs, "direct")
        by_url = probe_url(f"smtps://127.0.0.1:{server.port}", ca_bundle_pem=certs.ca.cert_pem, timeout=3)
    assert direct.state == "ok", direct.errors
    assert by_url.state == "ok" and by_url.protocol == "direct"


@needs_aiosmtpd
def test_smtp_without_starttls_is_unencrypted(certs):
    with SmtpServer(mode="plain") as server:
        report = check(server, certs, "smtp")
    assert report.state == "failed"
    assert report.errors == ["server offers no STARTTLS: mail would travel unencrypted"]
    assert report.error_keys == ["no_starttls"]
    assert report.encrypted is False
    assert report.tls_version is None


@needs_aiosmtpd
def test_direct_tls_to_a_starttls_port_says_so(certs, good):
    with SmtpServer(good, mode="starttls") as server:
        report = check(server, certs, "direct")
    assert report.errors == [
        "the server did not answer with TLS: wrong port, or it expects STARTTLS or plain text"
    ]


def test_imap_starttls_and_implicit(certs, good):
    with ImapServer(good, mode="starttls") as starttls, ImapServer(good, mode="implicit") as implicit:
        upgraded = check(starttls, certs, "imap")
        direct = check(implicit, certs, "direct")
    assert upgraded.state == "ok", upgraded.errors
    assert direct.state == "ok", direct.errors


def test_imap_without_starttls(certs):
    with ImapServer(mode="plain") as server:
        report = check(server, certs, "imap")
    assert report.errors == ["server offers no STARTTLS: mail would travel unencrypted"]
    assert report.error_keys == ["no_starttls"]


def test_pop3_stls_implicit_and_plain(certs, good):
    with (Pop3Server(good, mode="starttls") as starttls, Pop3Server(good, mode="implicit") as implicit,
          Pop3Server(mode="plain") as plain):
        upgraded = check(starttls, certs, "pop3")
        direct = check(implicit, certs, "direct")
        clear = check(plain, certs, "pop3")
    assert upgraded.state == "ok", upgraded.errors
    assert direct.state == "ok", direct.errors
    assert clear.errors == ["server offers no STARTTLS (POP3 STLS): mail would travel unencrypted"]


def test_ldap_starttls(certs, good):
    with LdapStartTlsServer(good) as server, LdapStartTlsServer(offer_starttls=False) as refusing:
        upgraded = check(server, certs, "ldap")
        refused = check(refusing, certs, "ldap")
    assert upgraded.state == "ok", upgraded.errors
    assert refused.errors == ["server offers no STARTTLS (LDAP result 2: protocolError)"]


class _InjectingSmtp(LoopbackServer):
    """Sends a forged line right behind its STARTTLS reply (the CVE-2011-0411 pattern)."""

    def handle(self, conn):
        conn.sendall(b"220 ready\r\n")
        conn.recv(1024)
        conn.sendall(b"250-hello\r\n250 STARTTLS\r\n")
        conn.recv(1024)
        conn.sendall(b"220 go ahead\r\n250 injected\r\n")


def test_data_sent_with_the_starttls_reply_is_refused(certs):
    with _InjectingSmtp() as server:
        report = check(server, certs, "smtp")
    assert report.errors == [
        "the server sent data after its STARTTLS reply: refusing to continue (possible injection)"
    ]


# --- web, plain, unreachable ----------------------------------------------------------------------------------------

def test_https_url(certs, good):
    with HttpsServer(good) as server:
        report = probe_url(server.url, ca_bundle_pem=certs.ca.cert_pem, timeout=3)
    assert report.state == "ok", report.errors
    assert report.protocol == "https"
    assert report.url == server.url


def test_plain_http_url_is_critical(certs):
    with HttpServer() as server:
        report = probe_url(server.url, timeout=3)
        assert eventually(lambda: server.connections == 1)
    assert report.protocol == "plain"
    assert report.state == "failed"
    assert report.dashboard_state == "critical"
    assert report.errors == ["unencrypted: no TLS, everything (passwords included) travels in clear text"]


def test_closed_port_is_connection_refused(certs):
    with ClosedPort() as closed:
        report = probe(LOCAL, closed.port, timeout=3)
    assert report.state == "failed"
    assert report.errors == ["connection refused"]
    assert report.subject is None


def test_silent_server_times_out_within_the_budget(certs):
    with SilentServer() as server:
        tls = probe(LOCAL, server.port, timeout=0.5)
        smtp = probe(LOCAL, server.port, "smtp", timeout=0.5)
    assert tls.errors == ["timed out after 0.5 s during the TLS handshake"]
    assert smtp.errors == ["timed out after 0.5 s waiting for the SMTP STARTTLS dialogue"]
    # Bounded: one budget for the whole probe, not one per step.
    assert tls.elapsed < 3 and smtp.elapsed < 3


def test_ipv6_loopback(certs, good):
    try:
        socket.socket(socket.AF_INET6).close()
        with TlsServer(good, host="::1") as server:
            report = check(server, certs)
    except OSError:
        pytest.skip("no IPv6 loopback here")
    assert report.state == "ok", report.errors
    assert f"Endpoint: [::1]:{server.port}" in report.details_text()


# --- many at once ---------------------------------------------------------------------------------------------------

def test_probe_many_keeps_input_order_and_never_raises(certs, good, self_signed):
    with TlsServer(good) as trusted, TlsServer(self_signed) as untrusted, ClosedPort() as closed:
        targets = [
            f"127.0.0.1:{trusted.port}",
            ("127.0.0.1", closed.port),
            {"host": "127.0.0.1", "port": untrusted.port, "pinned_sha256": self_signed.sha256},
            "ftp://127.0.0.1/",
            42,
            {"url": f"https://localhost:{trusted.port}/", "min_version": "TLSv1_2"},
            ("127.0.0.1", untrusted.port, "direct"),
        ]
        reports = probe_many(targets, max_workers=4, ca_bundle_pem=certs.ca.cert_pem, timeout=3)
    assert [r.state for r in reports] == ["ok", "failed", "ok", "failed", "failed", "ok", "failed"]
    assert [r.port for r in reports[:3]] == [trusted.port, closed.port, untrusted.port]
    assert reports[1].errors == ["connection refused"]
    assert reports[2].trusted_by == "pin"
    assert reports[3].errors[0].startswith("invalid endpoint: 'ftp://127.0.0.1/': unsupported scheme 'ftp'")
    assert reports[4].errors[0].startswith("cannot probe 42:")
    assert reports[5].server_hostname == "localhost"
    assert reports[6].self_signed is True


def test_probe_many_runs_probes_concurrently():
    # The silent server hangs up on its own after ``hold`` seconds, so it has
    # counted a connection as closed before that client can start the next
    # probe: the most connections it saw at once is the number of probes in flight.
    with SilentServer(hold=0.5) as server:
        reports = probe_many([("127.0.0.1", server.port)] * 4, max_workers=4, timeout=5)
        concurrent = server.max_active
    with SilentServer(hold=0.1) as server:
        probe_many([("127.0.0.1", server.port)] * 3, max_workers=1, timeout=5)
        sequential = server.max_active
    assert all(r.errors == ["the server closed the connection during the TLS handshake"] for r in reports)
    assert concurrent == 4
    assert sequential == 1


def test_probe_many_of_nothing():
    assert probe_many([]) == []


# --- configuration errors -------------------------------------------------------------------------------------------

def test_build_client_context_verifies_by_default(certs):
    context = build_client_context("TLSv1_3", certs.ca.cert_pem)
    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    assert context.minimum_version == ssl.TLSVersion.TLSv1_3
    assert any(ca["subject"] == ((("commonName", "Perimeter Test CA"),),) for ca in context.get_ca_certs())
    lax = build_client_context(verify=False)
    assert lax.verify_mode == ssl.CERT_NONE and lax.minimum_version == ssl.TLSVersion.TLSv1_2


@pytest.mark.parametrize(("pem", "message"), [
    ("garbage", "The CA bundle contains no PEM certificate"),
    ("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", "Certificate #1 of the CA bundle is not valid"),
    ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "contains a private key"),
])
def test_bad_ca_bundle_is_a_clear_value_error(pem, message):
    with pytest.raises(ValueError, match=message):
        build_client_context(ca_bundle_pem=pem)


def test_bad_ca_bundle_names_which_certificate(certs):
    broken = certs.ca.cert_pem + "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    with pytest.raises(ValueError, match="Certificate #2 of the CA bundle is not valid PEM"):
        build_client_context(ca_bundle_pem=broken)


def test_bad_ca_bundle_in_a_probe_fails_before_connecting(certs, good):
    with TlsServer(good) as server:
        report = check(server, certs, ca_bundle_pem="not a certificate")
        assert server.connections == 0
    assert report.errors == [
        (
            "configuration error: The CA bundle contains no PEM certificate: paste certificates that start with "
            "-----BEGIN CERTIFICATE-----."
        )
    ]


def test_unknown_protocol_is_a_programming_error():
    with pytest.raises(ValueError, match="'gopher' is not a known protocol"):
        probe(LOCAL, 70, "gopher")


@pytest.mark.parametrize(("text", "expected"), [
    ("https://example.com/path", ("example.com", 443, "https")),
    ("http://example.com:8080", ("example.com", 8080, "plain")),
    ("smtp://mail.example.com", ("mail.example.com", 25, "smtp")),
    ("submission://mail.example.com", ("mail.example.com", 587, "smtp")),
    ("smtp://mail.example.com:465", ("mail.example.com", 465, "direct")),
    ("smtps://mail.example.com", ("mail.example.com", 465, "direct")),
    ("imap://mail.example.com", ("mail.example.com", 143, "imap")),
    ("imaps://mail.example.com", ("mail.example.com", 993, "direct")),
    ("pop3://mail.example.com", ("mail.example.com", 110, "pop3")),
    ("pop3s://mail.example.com", ("mail.example.com", 995, "direct")),
    ("ldap://dc.example.com", ("dc.example.com", 389, "ldap")),
    ("ldaps://dc.example.com", ("dc.example.com", 636, "direct")),
    ("smtp://user:secret@[2001:db8::1]:587", ("2001:db8::1", 587, "smtp")),
    ("mail.example.com:587", ("mail.example.com", 587, "smtp")),
    ("mail.example.com:993", ("mail.example.com", 993, "direct")),
    ("203.0.113.5:8443", ("203.0.113.5", 8443, "direct")),
    ("example.com", ("example.com", 443, "https")),
])
def test_parse_endpoint(text, expected):
    assert parse_endpoint(text) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("", "is not an endpoint"),
    ("ftp://example.com", "unsupported scheme 'ftp'"),
    ("https://example.com:99999", "is not a valid endpoint"),
    ("tls://example.com", "needs a port"),
    ("https://", "has no host name"),
])
def test_parse_endpoint_errors(text, message):
    with pytest.raises(ValueError, match=message):
        parse_endpoint(text)


# --- helpers for Odoo's own connections -----------------------------------------------------------------------------

def _connect(server, context, hostname="localhost"):
    raw = socket.create_connection(server.address, timeout=3)
    return context.wrap_socket(raw, server_hostname=hostname)


def test_verify_peer_with_a_pin_accepts_a_self_signed_server(self_signed, good):
    pin_mode = build_context_for(pinned_sha256=self_signed.sha256)
    with TlsServer(self_signed) as server:
        with _connect(server, pin_mode) as tls:
            info = verify_peer(tls, self_signed.sha256)
        assert info.sha256 == self_signed.sha256
        with (_connect(server, pin_mode) as tls,
              pytest.raises(TlsVerificationError, match="pinned fingerprint mismatch: expected ")):
            verify_peer(tls, good.sha256)
        with (_connect(server, pin_mode, "other.example") as tls,
              pytest.raises(TlsVerificationError, match="certificate is for localhost, 127.0.0.1, ::1, not other")):
            verify_peer(tls, self_signed.sha256)


def test_verify_peer_refuses_an_unverified_channel_without_pin(self_signed):
    with (TlsServer(self_signed) as server, _connect(server, build_client_context(verify=False)) as tls,
          pytest.raises(TlsVerificationError, match="not verified")):
        verify_peer(tls)


def test_verify_peer_checks_dates_in_pin_mode(certs):
    expired = certs.expired(self_signed=True)
    with (TlsServer(expired) as server, _connect(server, build_context_for(pinned_sha256=expired.sha256)) as tls,
          pytest.raises(TlsVerificationError, match="certificate has expired on ")):
        verify_peer(tls, expired.sha256)


def test_describe_ssl_error_on_a_real_failure(certs):
    wrong = certs.wrong_host()
    with TlsServer(wrong) as server, pytest.raises(ssl.SSLCertVerificationError) as caught:
        _connect(server, build_client_context(ca_bundle_pem=certs.ca.cert_pem), "smtp.example.com")
    assert describe_ssl_error(caught.value, "smtp.example.com", cert_info(wrong.der)) == (
        "certificate is for mail.other.com, not smtp.example.com"
    )
    assert describe_ssl_error(caught.value, "smtp.example.com") == "certificate is not valid for smtp.example.com"
    assert describe_ssl_error(ConnectionRefusedError()) == "connection refused"
    assert describe_ssl_error(TimeoutError(), timeout=5) == "timed out after 5 s"


def test_as_dict_is_plain_data(certs, good):
    with TlsServer(good) as server:
        data = check(server, certs).as_dict()
    assert data["state"] == "ok" and data["dashboard_state"] == "ok"
    assert "_keys" not in data and "certificate" not in data
    assert colon_fingerprint(data["fingerprint_sha256"]) == good.sha256_colons
