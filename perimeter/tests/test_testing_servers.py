"""The loopback test servers speak their protocols well enough for the stdlib
clients Odoo uses (smtplib, imaplib, poplib, urllib), and stop cleanly.

Later Odoo tests rely on these servers to stand in for real mail servers, so
they are checked here with the same calls Odoo's ir.mail_server and
fetchmail make.
"""

import datetime
import imaplib
import os
import poplib
import smtplib
import socket
import ssl
import urllib.request

import pytest

from perimeter.tlscheck import probe
from testing.certs import CertFactory, sha256_fingerprint
from testing.servers import (
    HAVE_AIOSMTPD,
    HttpServer,
    HttpsServer,
    ImapServer,
    LoopbackServer,
    Mailbox,
    Pop3Server,
    SmtpServer,
    TlsServer,
    closed_port,
)

needs_aiosmtpd = pytest.mark.skipif(not HAVE_AIOSMTPD, reason="aiosmtpd is not installed")
MESSAGE = "From: a@example.com\nTo: b@example.com\nSubject: hello {n}\n\nBody {n}\n.leading dot\n"


@pytest.fixture
def client_context(certs):
    return ssl.create_default_context(cadata=certs.ca.cert_pem)


# --- certificates ---------------------------------------------------------------------------------------------------

def test_cert_factory_writes_loadable_files_and_cleans_up():
    with CertFactory() as factory:
        leaf = factory.trusted()
        assert os.path.exists(leaf.cert_path) and os.path.exists(leaf.key_path)
        ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER).load_cert_chain(*leaf.files)
        assert sha256_fingerprint(leaf.cert_pem) == sha256_fingerprint(leaf.der) == leaf.sha256
        assert leaf.sha256_colons.count(":") == 31
        directory = factory.directory
    assert not os.path.exists(directory)


def test_cert_factory_flaws(certs):
    now = datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    trusted = certs.trusted()
    assert trusted.not_before < now < trusted.not_after
    assert trusted.certificate.issuer == certs.ca.certificate.subject
    assert certs.expired().not_after < now
    assert certs.not_yet_valid().not_before > now
    assert 2 <= (certs.expiring_in(3).not_after - now).days <= 3
    self_signed = certs.self_signed()
    assert self_signed.certificate.issuer == self_signed.certificate.subject


# --- SMTP -----------------------------------------------------------------------------------------------------------

@needs_aiosmtpd
def test_smtp_starttls_records_the_message_and_its_tls(good, client_context, email_message):
    with SmtpServer(good, mode="starttls", credentials=("odoo", "secret")) as server:
        assert server.connections == 0
        with smtplib.SMTP(*server.address, timeout=5) as client:
            client.starttls(context=client_context)
            client.login("odoo", "secret")
            client.send_message(email_message)
        assert server.connections == 1
    [received] = server.messages
    assert received.mail_from == "odoo@example.com"
    assert received.rcpt_tos == ["you@example.com"]
    assert b"Hello over TLS" in received.content
    assert received.tls_version in ("TLSv1.2", "TLSv1.3")
    assert received.login == "odoo"
    assert server.logins == ["odoo"]


@needs_aiosmtpd
def test_smtp_implicit_tls(good, client_context, email_message):
    with (SmtpServer(good, mode="implicit") as server,
          smtplib.SMTP_SSL(*server.address, context=client_context, timeout=5) as client):
        client.send_message(email_message)
    assert server.messages[0].tls_version is not None


@needs_aiosmtpd
def test_smtp_plain_offers_no_starttls_and_records_clear_text(email_message):
    with SmtpServer(mode="plain") as server, smtplib.SMTP(*server.address, timeout=5) as client:
        client.ehlo()
        assert not client.has_extn("starttls")
        client.send_message(email_message)
    assert server.messages[0].tls_version is None


@needs_aiosmtpd
def test_smtp_client_refusing_the_certificate_delivers_nothing(certs):
    with (SmtpServer(certs.self_signed(), mode="starttls") as server,
          smtplib.SMTP(*server.address, timeout=5) as client,
          pytest.raises(ssl.SSLCertVerificationError)):
        client.starttls(context=ssl.create_default_context(cadata=certs.ca.cert_pem))
    assert server.messages == []


# --- IMAP, exactly as Odoo's fetchmail drives it ---------------------------------------------------------------------

def _fetch_like_odoo(connection):
    """The calls of fetchmail.server.fetch_mail() for IMAP."""
    connection.select()
    result, data = connection.search(None, "(UNSEEN)")
    assert result == "OK"
    fetched = []
    for num in data[0].split():
        result, data = connection.fetch(num, "(RFC822)")
        connection.store(num, "-FLAGS", "\\Seen")
        fetched.append(data[0][1])
        connection.store(num, "+FLAGS", "\\Seen")
    connection.close()
    connection.logout()
    return fetched


def test_imap_starttls_login_and_fetch(good, client_context):
    mailbox = Mailbox([MESSAGE.format(n=1), MESSAGE.format(n=2)])
    mailbox.add(MESSAGE.format(n=3), flags={"\\Seen"})
    with ImapServer(good, mode="starttls", mailbox=mailbox, credentials=("odoo", 'pa ss"word')) as server:
        connection = imaplib.IMAP4(*server.address, timeout=5)
        assert "STARTTLS" in connection.capabilities
        connection.starttls(ssl_context=client_context)
        connection.login("odoo", 'pa ss"word')
        fetched = _fetch_like_odoo(connection)
    assert [b"Subject: hello 1" in m for m in fetched] == [True, False]
    assert b"Subject: hello 2" in fetched[1]
    assert fetched[0].endswith(b"\r\n.leading dot\r\n")
    assert all("\\Seen" in m.flags for m in mailbox.snapshot())
    assert server.logins == [("odoo", True)]


def test_imap_implicit_tls_with_no_message(good, client_context):
    with ImapServer(good, mode="implicit") as server:
        connection = imaplib.IMAP4_SSL(*server.address, ssl_context=client_context, timeout=5)
        connection.login("anyone", "anything")
        assert _fetch_like_odoo(connection) == []


def test_imap_wrong_password_and_clear_text_login(good):
    with ImapServer(good, mode="starttls", credentials=("odoo", "secret"), require_tls_for_login=True) as server:
        connection = imaplib.IMAP4(*server.address, timeout=5)
        assert "LOGINDISABLED" in connection.capabilities
        with pytest.raises(imaplib.IMAP4.error, match="LOGIN needs TLS"):
            connection.login("odoo", "secret")
        connection.logout()
    with ImapServer(mode="plain", credentials=("odoo", "secret")) as server:
        connection = imaplib.IMAP4(*server.address, timeout=5)
        with pytest.raises(imaplib.IMAP4.error, match="invalid credentials"):
            connection.login("odoo", "wrong")
        connection.login("odoo", "secret")
        connection.logout()
        assert server.logins == [("odoo", False)]


def test_imap_expunge_removes_deleted_messages(good, client_context):
    mailbox = Mailbox([MESSAGE.format(n=n) for n in range(1, 4)])
    with ImapServer(good, mode="implicit", mailbox=mailbox) as server:
        connection = imaplib.IMAP4_SSL(*server.address, ssl_context=client_context, timeout=5)
        connection.login("u", "p")
        connection.select("INBOX")
        connection.store(b"1,3", "+FLAGS", "\\Deleted")
        result, data = connection.expunge()
        assert result == "OK" and data == [b"3", b"1"]
        connection.logout()
    assert [b"hello 2" in m.content for m in mailbox.snapshot()] == [True]


# --- POP3, exactly as Odoo's fetchmail drives it ---------------------------------------------------------------------

def _pop_like_odoo(connection):
    num_messages, _ = connection.stat()
    connection.list()
    fetched = []
    for num in range(1, num_messages + 1):
        _, lines, _ = connection.retr(num)
        fetched.append(b"\n".join(lines))
        connection.dele(num)
    connection.quit()
    return fetched


def test_pop3_stls_fetch_and_delete(good, client_context):
    mailbox = Mailbox([MESSAGE.format(n=1), MESSAGE.format(n=2)])
    with Pop3Server(good, mode="starttls", mailbox=mailbox, credentials=("odoo", "secret")) as server:
        connection = poplib.POP3(*server.address, timeout=5)
        connection.stls(context=client_context)
        connection.user("odoo")
        connection.pass_("secret")
        fetched = _pop_like_odoo(connection)
    assert b"Subject: hello 1" in fetched[0] and b"Subject: hello 2" in fetched[1]
    assert fetched[0].endswith(b"\n.leading dot")
    assert len(mailbox) == 0
    assert server.logins == [("odoo", True)]


def test_pop3_implicit_and_wrong_password(good, client_context):
    with Pop3Server(good, mode="implicit", credentials=("odoo", "secret")) as server:
        connection = poplib.POP3_SSL(*server.address, context=client_context, timeout=5)
        connection.user("odoo")
        with pytest.raises(poplib.error_proto, match="invalid credentials"):
            connection.pass_("wrong")
        connection.user("odoo")
        connection.pass_("secret")
        assert _pop_like_odoo(connection) == []


def test_pop3_plain_has_no_stls():
    with Pop3Server(mode="plain") as server:
        connection = poplib.POP3(*server.address, timeout=5)
        with pytest.raises(poplib.error_proto, match="STLS not supported"):
            connection.stls()
        connection.quit()


# --- web, bounds, shutdown ------------------------------------------------------------------------------------------

def test_https_and_http_answer(good, client_context):
    with HttpsServer(good) as secure, HttpServer() as plain:
        with urllib.request.urlopen(secure.url, context=client_context, timeout=5) as response:
            assert response.read() == b"ok\n"
        with urllib.request.urlopen(plain.url, timeout=5) as response:
            assert response.status == 200
    assert secure.requests == [("GET", "/")]
    assert plain.url.startswith("http://127.0.0.1:")


def test_servers_listen_on_loopback_only(good):
    with pytest.raises(ValueError, match="loopback only"):
        LoopbackServer(host="0.0.0.0")
    with pytest.raises(ValueError, match="loopback only"):
        HttpServer(host="203.0.113.1")


def test_a_stopped_server_refuses_connections(good):
    with TlsServer(good) as server:
        address = server.address
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(address, timeout=2).close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", closed_port()), timeout=2).close()


def test_tls_server_version_limits(good, client_context):
    with (TlsServer(good, max_version="TLSv1_2") as server,
          client_context.wrap_socket(socket.create_connection(server.address, timeout=5),
                                     server_hostname="localhost") as tls):
        tls.sendall(b"ping")
        assert tls.recv(4) == b"ping"
        assert tls.version() == "TLSv1.2"
    assert server.tls_versions == ["TLSv1.2"]


def test_tls_server_delay_acts_like_a_distant_server(good):
    # A probe whose budget is shorter than the delay gives up; stopping the
    # server does not wait for the delay either.
    with TlsServer(good, delay=30) as server:
        report = probe(*server.address, timeout=0.2)
    assert report.errors == ["timed out after 0.2 s during the TLS handshake"]
