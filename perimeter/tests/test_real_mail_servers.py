"""MailTls and the probe against Debian's real Postfix and Dovecot, started by the test on loopback.

Each certificate flaw (good, expired, wrong host, self-signed, unknown CA,
TLS 1.1 only, plaintext) on each way in: SMTP STARTTLS and implicit TLS
(Postfix), IMAP STARTTLS and IMAPS, POP3 STLS and POP3S (Dovecot). Skipped,
and listed as skipped, where the packages are not installed
(``apt-get install postfix dovecot-imapd dovecot-pop3d``) or not as root.
"""

import os
import ssl

import pytest

from perimeter.mail_tls import MailTls, MailTlsRefused, failure_of
from perimeter.tlscheck import probe
from testing.certs import tls11_possible
from testing.dovecot import DOVECOT, DovecotServer
from testing.postfix import POSTFIX, PostfixServer

LOCAL = "127.0.0.1"
ROOT = os.geteuid() == 0
needs_postfix = pytest.mark.skipif(POSTFIX is None or not ROOT,
                                   reason="Postfix is not installed (apt-get install postfix) or not root")
needs_dovecot = pytest.mark.skipif(DOVECOT is None or not ROOT,
                                   reason="Dovecot is not installed (apt-get install dovecot-imapd dovecot-pop3d) "
                                          "or not root")
MESSAGE = "From: supplier@example.com\nTo: odoo@example.com\nSubject: Invoice 7\nMessage-Id: <7@example.com>\n\nHi\n"


def _flaws(certs):
    """flaw name → (certificate, CA bundle to trust, the error an administrator reads, its category)."""
    expired, wrong, self_signed = certs.expired(), certs.wrong_host(), certs.self_signed()
    ca = certs.ca.cert_pem
    return {
        "expired": (expired, ca, f"certificate has expired on {expired.not_after:%Y-%m-%d}", "expired"),
        "wrong host": (wrong, ca, f"certificate is for mail.other.com, not {LOCAL}", "hostname"),
        "self-signed": (self_signed, ca, "self-signed certificate: add its CA to the server's CA bundle or pin it",
                        "self_signed"),
        "unknown CA": (certs.trusted(), None, "unable to verify the certificate chain: add the issuing CA to the CA "
                                              "bundle (issuer: CN=Perimeter Test CA)", "untrusted_chain"),
    }


FLAWS = ("expired", "wrong host", "self-signed", "unknown CA")


# --- Postfix ------------------------------------------------------------------------------------------------------

@needs_postfix
def test_postfix_delivers_over_verified_starttls_and_implicit_tls(certs, good, email_message):
    with PostfixServer(good) as postfix:
        for port, encryption in ((postfix.port, "starttls"), (postfix.smtps_port, "ssl")):
            tls = MailTls("enforce", ca_bundle_pem=certs.ca.cert_pem)
            client = tls.open_smtp(LOCAL, port, encryption, timeout=10)
            if encryption == "starttls":
                client.starttls()
            client.send_message(email_message)
            client.quit()
            assert tls.report.state == "ok", tls.report.errors
        delivered = postfix.wait_for_messages(2)
    assert len(delivered) == 2
    assert all(b"Subject: Over TLS" in message for message in delivered)


@needs_postfix
@pytest.mark.parametrize("flaw", FLAWS)
def test_postfix_with_a_flawed_certificate_is_refused_in_words(certs, flaw, email_message):
    cert, bundle, words, key = _flaws(certs)[flaw]
    with PostfixServer(cert) as postfix:
        for port, encryption, protocol in ((postfix.port, "starttls", "smtp"), (postfix.smtps_port, "ssl", "direct")):
            tls = MailTls("enforce", ca_bundle_pem=bundle)
            with pytest.raises(ssl.SSLError) as caught:
                client = tls.open_smtp(LOCAL, port, encryption, timeout=10)
                client.starttls()
            assert failure_of(caught.value, LOCAL)[0] == key
            report = probe(LOCAL, port, protocol, ca_bundle_pem=bundle)
            assert (report.state, report.errors[0], report.error_keys[0]) == ("failed", words, key)
        assert postfix.messages() == []


@needs_postfix
def test_postfix_in_clear_text_is_refused_and_warn_sends(email_message):
    with PostfixServer() as postfix:
        client = MailTls("warn").open_smtp(LOCAL, postfix.port, "starttls", timeout=10)
        with pytest.raises(MailTlsRefused) as caught:
            client.starttls()
        assert caught.value.key == "no_starttls"
        warn = MailTls("warn")
        client = warn.open_smtp(LOCAL, postfix.port, "none", timeout=10)
        client.send_message(email_message)
        client.quit()
        assert warn.plaintext
        assert len(postfix.wait_for_messages(1)) == 1
        report = probe(LOCAL, postfix.port, "smtp")
    assert report.errors == ["server offers no STARTTLS: mail would travel unencrypted"]


@needs_postfix
@pytest.mark.skipif(not tls11_possible(), reason="this OpenSSL cannot speak TLS 1.1 any more")
def test_postfix_speaking_only_tls_1_1_is_refused(certs, good):
    with PostfixServer(good, tls_version="TLSv1_1") as postfix:
        with pytest.raises(ssl.SSLError):
            MailTls("enforce", ca_bundle_pem=certs.ca.cert_pem).open_smtp(LOCAL, postfix.smtps_port, "ssl", timeout=10)
        for port, protocol in ((postfix.port, "smtp"), (postfix.smtps_port, "direct")):
            report = probe(LOCAL, port, protocol, ca_bundle_pem=certs.ca.cert_pem)
            assert report.errors == ["TLS 1.1 is below the required minimum TLS 1.2"]
            assert report.error_keys == ["version"]


# --- Dovecot ------------------------------------------------------------------------------------------------------

def _imap_read(connection):
    connection.login("odoo@example.com", "secret")
    connection.select()
    _, found = connection.search(None, "ALL")
    connection.logout()
    return len(found[0].split())


def _pop3_read(connection):
    connection.user("odoo@example.com")
    connection.pass_("secret")
    count = connection.stat()[0]
    connection.quit()
    return count


@needs_dovecot
def test_dovecot_serves_imap_and_pop3_over_verified_tls(certs, good):
    with DovecotServer(good, messages=[MESSAGE]) as dovecot:
        ways = ((dovecot.imap_port, False, "open_imap", _imap_read),
                (dovecot.imaps_port, True, "open_imap", _imap_read),
                (dovecot.pop3_port, False, "open_pop3", _pop3_read),
                (dovecot.pop3s_port, True, "open_pop3", _pop3_read))
        for port, is_ssl, opener, read in ways:
            tls = MailTls("enforce", ca_bundle_pem=certs.ca.cert_pem)
            assert read(getattr(tls, opener)(LOCAL, port, is_ssl, timeout=10)) == 1
            assert tls.report.state == "ok"
        assert dovecot.logins() == [("odoo@example.com", True)] * 4


@needs_dovecot
@pytest.mark.parametrize("flaw", FLAWS)
def test_dovecot_with_a_flawed_certificate_is_refused_before_login(certs, flaw):
    """IMAP STARTTLS and POP3 STLS included: the TLS error, never [Errno 9] (issue 11, item 1)."""
    cert, bundle, words, key = _flaws(certs)[flaw]
    with DovecotServer(cert, messages=[MESSAGE]) as dovecot:
        ways = ((dovecot.imap_port, False, "open_imap", "imap"), (dovecot.imaps_port, True, "open_imap", "direct"),
                (dovecot.pop3_port, False, "open_pop3", "pop3"), (dovecot.pop3s_port, True, "open_pop3", "direct"))
        for port, is_ssl, opener, protocol in ways:
            with pytest.raises(ssl.SSLError) as caught:
                getattr(MailTls("enforce", ca_bundle_pem=bundle), opener)(LOCAL, port, is_ssl, timeout=10)
            assert failure_of(caught.value, LOCAL)[0] == key
            report = probe(LOCAL, port, protocol, ca_bundle_pem=bundle)
            assert (report.state, report.errors[0]) == ("failed", words)
        assert dovecot.logins() == []
        assert dovecot.unread() == 1


@needs_dovecot
def test_dovecot_in_clear_text_is_refused_under_enforce_and_read_under_warn():
    with DovecotServer(messages=[MESSAGE]) as dovecot:
        with pytest.raises(MailTlsRefused, match="neither SSL/TLS on this port nor STARTTLS"):
            MailTls("enforce").open_imap(LOCAL, dovecot.imap_port, False, timeout=10)
        with pytest.raises(MailTlsRefused, match="nor STLS"):
            MailTls("enforce").open_pop3(LOCAL, dovecot.pop3_port, False, timeout=10)
        assert dovecot.logins() == []
        warn = MailTls("warn")
        assert _imap_read(warn.open_imap(LOCAL, dovecot.imap_port, False, timeout=10)) == 1
        assert warn.plaintext
        assert dovecot.logins() == [("odoo@example.com", False)]


@needs_dovecot
@pytest.mark.skipif(not tls11_possible(), reason="this OpenSSL cannot speak TLS 1.1 any more")
def test_dovecot_speaking_only_tls_1_1_is_refused(certs, good):
    with DovecotServer(good, tls_version="TLSv1_1") as dovecot:
        for port, protocol in ((dovecot.imap_port, "imap"), (dovecot.imaps_port, "direct"),
                               (dovecot.pop3_port, "pop3"), (dovecot.pop3s_port, "direct")):
            report = probe(LOCAL, port, protocol, ca_bundle_pem=certs.ca.cert_pem)
            assert report.errors == ["TLS 1.1 is below the required minimum TLS 1.2"], protocol
        with pytest.raises(ssl.SSLError):
            MailTls("enforce", ca_bundle_pem=certs.ca.cert_pem).open_imap(LOCAL, dovecot.imap_port, False, timeout=10)
        assert dovecot.logins() == []
