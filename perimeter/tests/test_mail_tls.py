"""MailTls against real loopback mail servers: each flaw refused before a credential crosses.

The clients are the stdlib ones Odoo uses (smtplib, imaplib, poplib), opened
the way Odoo's ir.mail_server and fetchmail drive them.
"""

import datetime
import ssl

import pytest

from perimeter.mail_tls import (
    REASON_PREFIX,
    MailTls,
    MailTlsRefused,
    advice,
    expiry_notice_due,
    expiry_words,
    failed_report,
    failure_of,
    failure_reason,
    fetch_protocol,
    is_tls_failure,
    load_client_certificate,
    problem_of,
    smtp_protocol,
    starts_failing,
    summary,
)
from perimeter.tls_report import TlsVerificationError
from perimeter.tlscheck import probe
from testing.servers import HAVE_AIOSMTPD, ImapServer, Mailbox, Pop3Server, SmtpServer

LOCAL = "127.0.0.1"
needs_aiosmtpd = pytest.mark.skipif(not HAVE_AIOSMTPD, reason="aiosmtpd is not installed")
# aiosmtpd says this for implicit TLS too, where AUTH does run inside TLS.
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
MESSAGE = "From: a@example.com\nTo: b@example.com\nSubject: hello\n\nBody\n"


# --- SMTP ---------------------------------------------------------------------------------------------------------

@needs_aiosmtpd
@pytest.mark.parametrize("mode, encryption", [("starttls", "starttls"), ("implicit", "ssl")])
def test_smtp_verified_channel_sends_and_reports(certs, good, mode, encryption, email_message):
    with SmtpServer(good, mode=mode, credentials=("odoo", "secret")) as server:
        tls = MailTls("enforce", ca_bundle_pem=certs.ca.cert_pem)
        client = tls.open_smtp(LOCAL, server.port, encryption, timeout=5)
        if encryption == "starttls":
            client.starttls(context=None)  # Odoo passes its own context: it must be ignored
        client.login("odoo", "secret")
        client.send_message(email_message)
        client.quit()
    assert tls.verified and not tls.plaintext
    assert tls.report.state == "ok" and tls.report.trusted_by == "ca"
    assert tls.report.protocol == ("smtp" if mode == "starttls" else "direct")
    assert server.messages[0].tls_version in ("TLSv1.2", "TLSv1.3")
    assert server.logins == ["odoo"]


@needs_aiosmtpd
@pytest.mark.parametrize("encryption", ["starttls", "ssl"])
def test_smtp_without_the_ca_is_refused_before_login(good, encryption):
    mode = "starttls" if encryption == "starttls" else "implicit"
    with SmtpServer(good, mode=mode, credentials=("odoo", "secret")) as server:
        tls = MailTls("enforce")
        with pytest.raises(ssl.SSLCertVerificationError) as caught:
            client = tls.open_smtp(LOCAL, server.port, encryption, timeout=5)
            client.starttls()
    assert server.logins == [] and server.messages == []
    assert is_tls_failure(caught.value)
    assert "unable to verify the certificate chain" in problem_of(caught.value, LOCAL)
    assert not tls.verified


@needs_aiosmtpd
def test_smtp_expired_and_wrong_host_are_refused(certs):
    for cert, words in ((certs.expired(), "certificate has expired"),
                        (certs.wrong_host(), "certificate is not valid for 127.0.0.1")):
        with SmtpServer(cert, mode="starttls") as server:
            tls = MailTls("enforce", ca_bundle_pem=certs.ca.cert_pem)
            client = tls.open_smtp(LOCAL, server.port, "starttls", timeout=5)
            with pytest.raises(ssl.SSLCertVerificationError) as caught:
                client.starttls()
        assert words in problem_of(caught.value, LOCAL)
        assert server.messages == []


@needs_aiosmtpd
def test_smtp_pin_is_the_trust_anchor_and_a_wrong_pin_refuses(certs, email_message):
    self_signed = certs.self_signed()
    with SmtpServer(self_signed, mode="implicit") as server:
        tls = MailTls("enforce", pinned_sha256=self_signed.sha256_colons)
        client = tls.open_smtp(LOCAL, server.port, "ssl", timeout=5)
        client.send_message(email_message)
        client.quit()
        assert tls.report.trusted_by == "pin" and tls.report.state == "ok"
        other = certs.trusted().sha256
        with pytest.raises(TlsVerificationError, match="pinned fingerprint mismatch"):
            MailTls("enforce", pinned_sha256=other).open_smtp(LOCAL, server.port, "ssl", timeout=5)
    assert len(server.messages) == 1


@needs_aiosmtpd
def test_smtp_pinned_but_expired_is_still_refused(certs):
    expired = certs.expired()
    with SmtpServer(expired, mode="implicit") as server:
        with pytest.raises(TlsVerificationError, match="certificate has expired on"):
            MailTls("enforce", pinned_sha256=expired.sha256).open_smtp(LOCAL, server.port, "ssl", timeout=5)
    assert server.messages == []


@needs_aiosmtpd
def test_smtp_plaintext_is_refused_under_enforce_before_any_socket(email_message):
    with SmtpServer(mode="plain") as server:
        with pytest.raises(MailTlsRefused, match="Connection Encryption is None") as caught:
            MailTls("enforce").open_smtp(LOCAL, server.port, "none", timeout=5)
        assert caught.value.key == "unencrypted"
        assert server.connections == 0
        warn = MailTls("warn")
        client = warn.open_smtp(LOCAL, server.port, "none", timeout=5)
        client.send_message(email_message)
        client.quit()
    assert warn.plaintext and not warn.verified
    assert server.messages[0].tls_version is None


@needs_aiosmtpd
def test_smtp_starttls_not_offered_is_refused():
    with SmtpServer(mode="plain") as server:
        client = MailTls("warn").open_smtp(LOCAL, server.port, "starttls", timeout=5)
        with pytest.raises(MailTlsRefused, match="does not offer STARTTLS"):
            client.starttls()
    assert server.messages == []


@needs_aiosmtpd
def test_smtp_minimum_version(certs, good):
    with SmtpServer(good, mode="implicit", max_version="TLSv1_2") as old:
        with pytest.raises(ssl.SSLError):
            MailTls("enforce", "TLSv1_3", certs.ca.cert_pem).open_smtp(LOCAL, old.port, "ssl", timeout=5)
        # asyncio servers just hang up; the probe is what names the problem.
        report = probe(LOCAL, old.port, "direct", min_version="TLSv1_3", ca_bundle_pem=certs.ca.cert_pem)
        assert report.errors == ["TLS 1.2 is below the required minimum TLS 1.3"]
    with SmtpServer(good, mode="implicit", min_version="TLSv1_3") as modern:
        tls = MailTls("enforce", "TLSv1_3", certs.ca.cert_pem)
        tls.open_smtp(LOCAL, modern.port, "ssl", timeout=5).quit()
    assert tls.report.tls_version == "TLSv1.3"


@needs_aiosmtpd
def test_smtp_client_certificate_from_memory(certs, good, email_message):
    server = SmtpServer(good, mode="implicit")
    server.context.verify_mode = ssl.CERT_REQUIRED
    server.context.load_verify_locations(cadata=certs.ca.cert_pem)
    identity = certs.client()
    with server:
        tls = MailTls("enforce", ca_bundle_pem=certs.ca.cert_pem, client_cert=identity.cert_pem + identity.key_pem)
        client = tls.open_smtp(LOCAL, server.port, "ssl", timeout=5)
        client.send_message(email_message)
        client.quit()
    assert len(server.messages) == 1


def test_bad_client_certificate_or_bundle_is_a_refusal_in_words(certs):
    with pytest.raises(MailTlsRefused, match="needs both a PEM certificate and its PEM private key"):
        MailTls("enforce", client_cert=certs.ca.cert_pem).context()
    with pytest.raises(MailTlsRefused, match="CA bundle contains no PEM certificate"):
        MailTls("enforce", ca_bundle_pem="not a certificate").context()
    with pytest.raises(ValueError, match="cannot be loaded"):
        load_client_certificate(ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT),
                                certs.ca.cert_pem + "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")


# --- IMAP and POP3 ------------------------------------------------------------------------------------------------

def test_imap_implicit_tls_fetches_after_verification(certs, good):
    mailbox = Mailbox([MESSAGE])
    with ImapServer(good, mode="implicit", mailbox=mailbox, credentials=("odoo", "secret")) as server:
        tls = MailTls("enforce", ca_bundle_pem=certs.ca.cert_pem)
        connection = tls.open_imap(LOCAL, server.port, True, timeout=5)
        connection.login("odoo", "secret")
        connection.select()
        _, data = connection.search(None, "(UNSEEN)")
        _, fetched = connection.fetch(data[0].split()[0], "(RFC822)")
        connection.logout()
    assert b"Subject: hello" in fetched[0][1]
    assert tls.report.state == "ok" and server.logins == [("odoo", True)]


def test_imap_starttls_under_enforce_and_clear_text_under_warn(certs, good):
    with ImapServer(good, mode="starttls", credentials=("odoo", "secret")) as server:
        tls = MailTls("enforce", ca_bundle_pem=certs.ca.cert_pem)
        connection = tls.open_imap(LOCAL, server.port, False, timeout=5)
        connection.login("odoo", "secret")
        connection.logout()
        warn = MailTls("warn", ca_bundle_pem=certs.ca.cert_pem)
        connection = warn.open_imap(LOCAL, server.port, False, timeout=5)
        connection.login("odoo", "secret")
        connection.logout()
    assert tls.report.protocol == "imap"
    assert warn.plaintext
    assert server.logins == [("odoo", True), ("odoo", False)]


def test_imap_without_starttls_or_with_a_bad_certificate_is_refused(certs):
    with ImapServer(mode="plain", credentials=("odoo", "secret")) as server:
        with pytest.raises(MailTlsRefused, match="neither SSL/TLS on this port nor STARTTLS"):
            MailTls("enforce").open_imap(LOCAL, server.port, False, timeout=5)
    assert server.logins == []
    with ImapServer(certs.self_signed(), mode="implicit") as server:
        with pytest.raises(ssl.SSLCertVerificationError) as caught:
            MailTls("enforce", ca_bundle_pem=certs.ca.cert_pem).open_imap(LOCAL, server.port, True, timeout=5)
    assert "self-signed certificate" in problem_of(caught.value, LOCAL)


def test_pop3_stls_and_implicit(certs, good):
    with Pop3Server(good, mode="starttls", mailbox=Mailbox([MESSAGE]), credentials=("odoo", "secret")) as server:
        tls = MailTls("enforce", ca_bundle_pem=certs.ca.cert_pem)
        connection = tls.open_pop3(LOCAL, server.port, False, timeout=5)
        connection.user("odoo")
        connection.pass_("secret")
        assert connection.stat()[0] == 1
        connection.quit()
    assert tls.report.protocol == "pop3" and server.logins == [("odoo", True)]
    with Pop3Server(certs.wrong_host(), mode="implicit") as server:
        with pytest.raises(ssl.SSLCertVerificationError) as caught:
            MailTls("enforce", ca_bundle_pem=certs.ca.cert_pem).open_pop3(LOCAL, server.port, True, timeout=5)
    assert "not valid for 127.0.0.1" in problem_of(caught.value, LOCAL)
    with Pop3Server(mode="plain") as server:
        with pytest.raises(MailTlsRefused, match="nor STLS"):
            MailTls("enforce").open_pop3(LOCAL, server.port, False, timeout=5)


# --- words and decisions ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("days_left, last, expected", [
    (45, 0, None), (30, 0, 30), (29.5, None, 30), (29.5, 30, None), (20, 30, None), (13.9, 30, 14),
    (10, 0, 14), (10, 14, None), (6.5, 14, 7), (6.5, 30, 7), (0.5, 7, 1), (0.5, 1, None), (-1, 0, None),
    (None, 0, None),
])
def test_expiry_notices_once_per_threshold(days_left, last, expected):
    assert expiry_notice_due(days_left, last) == expected


def test_expiry_words_count_whole_days():
    now = datetime.datetime(2024, 1, 1)
    assert expiry_words(now + datetime.timedelta(days=9.99), now) == "in 9 days"
    assert expiry_words(now + datetime.timedelta(days=1.5), now) == "in 1 day"
    assert expiry_words(now + datetime.timedelta(hours=3), now) == "within a day"


def test_failing_is_news_only_on_the_transition():
    assert starts_failing("ok", "failed") and starts_failing("unknown", "failed") and starts_failing(None, "failed")
    assert not starts_failing("failed", "failed") and not starts_failing("failed", "ok")


def test_reasons_and_protocols():
    reason = failure_reason("smtp.example.com", 587, "certificate has expired on 2024-01-31", keys=["expired"])
    assert reason == (
        f"{REASON_PREFIX} (enforce): refused to connect to smtp.example.com:587: certificate has expired on "
        "2024-01-31. Nothing was sent. Renew the mail server's certificate (a pin does not make an expired "
        "certificate valid). Then retry this mail."
    )
    assert "[2001:db8::1]:25" in failure_reason("2001:db8::1", 25, "x")
    assert [smtp_protocol(e) for e in ("ssl", "starttls", "none", False)] == ["direct", "smtp", "plain", "plain"]
    # Odoo 19's strict variants are the same channels (not "plain").
    assert [smtp_protocol(e) for e in ("ssl_strict", "starttls_strict")] == ["direct", "smtp"]
    assert fetch_protocol("imap", True, "warn") == "direct"
    assert fetch_protocol("imap", False, "enforce") == "imap"
    assert fetch_protocol("pop", False, "enforce") == "pop3"
    assert fetch_protocol("pop", False, "warn") == "plain"
    with pytest.raises(ValueError, match="'off' is not a mail TLS policy"):
        MailTls("off")


def test_summary_reads_like_the_probe(certs):
    expiring = certs.expiring_in(10)
    with ImapServer(expiring, mode="implicit") as server:
        report = probe(LOCAL, server.port, "direct", ca_bundle_pem=certs.ca.cert_pem)
    text = summary(report)
    assert text.startswith("TLS verified (TLS 1.")
    assert "certificate for localhost, 127.0.0.1" in text and "Warning: certificate expires in" in text
    failed = failed_report(LOCAL, 25, "plain", [("unencrypted", "unencrypted: no TLS")])
    assert failed.state == "failed" and summary(failed) == "TLS check failed: unencrypted: no TLS"


# --- STARTTLS failures keep their TLS error (issue 11, item 1) ----------------------------------------------------

FLAWS = {
    "expired": lambda certs: certs.expired(),
    "wrong host": lambda certs: certs.wrong_host(),
    "self-signed": lambda certs: certs.self_signed(),
    "unknown CA": lambda certs: certs.trusted(),  # trusted by a CA the client is not given
}


@pytest.mark.parametrize("flaw", sorted(FLAWS))
@pytest.mark.parametrize("server_class, opener", [(ImapServer, "open_imap"), (Pop3Server, "open_pop3")])
def test_a_failed_starttls_raises_the_tls_error_not_a_closed_socket(certs, flaw, server_class, opener):
    """The clean-up after a failed starttls()/stls() must not replace the TLS error with [Errno 9]."""
    bundle = None if flaw == "unknown CA" else certs.ca.cert_pem
    with server_class(FLAWS[flaw](certs), mode="starttls", credentials=("odoo", "secret")) as server:
        tls = MailTls("enforce", ca_bundle_pem=bundle)
        with pytest.raises(ssl.SSLCertVerificationError) as caught:
            getattr(tls, opener)(LOCAL, server.port, False, timeout=5)
    assert is_tls_failure(caught.value)
    assert server.logins == []
    assert not tls.verified


# --- reasons read as sentences, with advice that fits the cause (items 2 and 4) ----------------------------------

@needs_aiosmtpd
def test_a_refusal_after_the_handshake_reads_as_a_sentence(certs, good):
    other = certs.trusted()
    with SmtpServer(good, mode="implicit") as server:
        tls = MailTls("enforce", ca_bundle_pem=certs.ca.cert_pem, pinned_sha256=other.sha256)
        with pytest.raises(TlsVerificationError) as caught:
            tls.open_smtp(LOCAL, server.port, "ssl", timeout=5)
    expected = f"pinned fingerprint mismatch: expected {other.sha256_colons}, got {good.sha256_colons}"
    assert str(caught.value) == expected
    assert failure_of(caught.value, LOCAL) == ("pin", expected)
    assert failure_reason(LOCAL, server.port, expected, keys=["pin"]) == (
        f"Mail TLS (enforce): refused to connect to {LOCAL}:{server.port}: {expected}. Nothing was sent. "
        "If the server's certificate was renewed on purpose, pin the new fingerprint (Check TLS shows it as "
        "Certificate SHA-256); if not, someone may be intercepting the connection: keep the pin. "
        "Then retry this mail."
    )


@needs_aiosmtpd
def test_a_pinned_certificate_that_expired_says_so(certs):
    expired = certs.expired()
    with SmtpServer(expired, mode="implicit") as server:
        with pytest.raises(TlsVerificationError) as caught:
            MailTls("enforce", pinned_sha256=expired.sha256).open_smtp(LOCAL, server.port, "ssl", timeout=5)
    assert str(caught.value) == f"certificate has expired on {expired.not_after:%Y-%m-%d}"
    assert caught.value.key == "expired"


@pytest.mark.parametrize("keys, outgoing, min_version, expected", [
    (["unencrypted"], True, "TLSv1_2", "Set Connection Encryption to TLS (STARTTLS) or SSL/TLS, as the server "
                                       "supports."),
    (["unencrypted"], False, "TLSv1_2", "Tick SSL/TLS (or, under the enforce policy, let Odoo use STARTTLS: "
                                        "enable it on the server)."),
    (["version"], True, "TLSv1_2", "Have the mail server accept TLS 1.2 or later (it only offers older versions, "
                                   "which are no longer safe)."),
    (["version"], True, "TLSv1_3", "Have the mail server accept TLS 1.3 or later (it only offers older versions, "
                                   "which are no longer safe). Or set the minimum mail TLS version back to TLS 1.2 "
                                   "in Settings."),
    (["no_starttls"], True, "TLSv1_2", "Enable STARTTLS on the mail server, or use SSL/TLS on its implicit-TLS "
                                       "port (usually 465)."),
    (["untrusted_chain"], True, "TLSv1_2", "Trust it on this mail server (tab TLS Trust): paste the issuing CA in "
                                           "CA bundle, or pin the certificate's SHA-256 fingerprint."),
    (["hostname"], False, "TLSv1_2", "Enter in Server Name a name the certificate is issued for, or give the "
                                     "server a certificate for this name."),
    (["expired", "hostname"], True, "TLSv1_2",
     "Renew the mail server's certificate (a pin does not make an expired certificate valid). Enter in SMTP Server "
     "a name the certificate is issued for, or give the server a certificate for this name."),
])
def test_advice_fits_the_cause(keys, outgoing, min_version, expected):
    assert advice(keys, outgoing=outgoing, min_version=min_version) == expected


def test_incoming_reasons_say_nothing_was_fetched():
    reason = failure_reason("imap.example.com", 143, "the server offers neither SSL/TLS on this port nor STARTTLS",
                            keys=["no_starttls"], outgoing=False)
    assert reason == (
        "Mail TLS (enforce): refused to connect to imap.example.com:143: the server offers neither SSL/TLS on this "
        "port nor STARTTLS. Nothing was fetched: the mail waits on the server. Enable STARTTLS on the mail server, "
        "or tick SSL/TLS and use its implicit-TLS port (993 for IMAP, 995 for POP3)."
    )
