"""Raw TCP/TLS test servers: a TLS echo server, a silent server, an LDAP StartTLS stub."""

from .base import LoopbackServer, server_context

# Reads per connection before a server hangs up: enough for any test, finite.
MAX_READS = 1000


class TlsServer(LoopbackServer):
    """Direct TLS: handshake, then echo what the client sends until it hangs up.

    ``TlsServer(cert)`` presents ``cert``; ``min_version``/``max_version``
    (``"TLSv1_2"``, ``"TLSv1_3"``) restrict the protocol, e.g.
    ``min_version="TLSv1_3"`` for a TLS 1.3-only server or
    ``max_version="TLSv1_2"`` for one that cannot do TLS 1.3. ``delay``
    seconds are waited before each handshake, like a distant server.
    """

    def __init__(self, cert, min_version=None, max_version=None, delay=0.0, **options):
        super().__init__(tls_context=server_context(cert, min_version, max_version), **options)
        self.delay = delay

    def handle(self, conn):
        if self.delay and self._stop.wait(self.delay):
            return
        tls_conn = self.wrap(conn)
        if tls_conn is None:
            return
        with tls_conn:
            for _ in range(MAX_READS):
                data = tls_conn.recv(65536)
                if not data:
                    break
                tls_conn.sendall(data)


class SilentServer(LoopbackServer):
    """Accepts and never says a word: probes against it must time out.

    It reads (and drops) what the client sends until the client hangs up or
    ``hold`` seconds pass. ``max_active`` tells how many clients were
    connected at once, which is how a test sees that probes ran concurrently
    without measuring time.
    """

    def __init__(self, hold=10.0, **options):
        options.setdefault("io_timeout", hold)
        super().__init__(**options)

    def handle(self, conn):
        for _ in range(MAX_READS):
            if not conn.recv(4096):
                break


# LDAPMessage { messageID 1, extendedResp { resultCode, matchedDN "", diagnosticMessage "" } }
def _ldap_extended_response(result_code):
    return bytes([0x30, 0x0C, 0x02, 0x01, 0x01, 0x78, 0x07, 0x0A, 0x01, result_code, 0x04, 0x00, 0x04, 0x00])


class LdapStartTlsServer(LoopbackServer):
    """Answers the LDAP StartTLS extended operation, then does the TLS handshake.

    With ``offer_starttls=False`` it answers protocolError (2), as a server
    without TLS configured does. Nothing else of LDAP is implemented.
    """

    def __init__(self, cert=None, offer_starttls=True, min_version=None, max_version=None, **options):
        context = server_context(cert, min_version, max_version) if cert is not None else None
        super().__init__(tls_context=context, **options)
        self.offer_starttls = offer_starttls and context is not None

    def handle(self, conn):
        request = conn.recv(4096)
        if not request.startswith(b"\x30") or b"1.3.6.1.4.1.1466.20037" not in request:
            return
        if not self.offer_starttls:
            conn.sendall(_ldap_extended_response(2))
            return
        conn.sendall(_ldap_extended_response(0))
        tls_conn = self.wrap(conn)
        if tls_conn is None:
            return
        with tls_conn:
            for _ in range(MAX_READS):
                data = tls_conn.recv(4096)
                # An UnbindRequest (APPLICATION 2) ends the session.
                if not data or b"\x42\x00" in data:
                    break
