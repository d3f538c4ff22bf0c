"""HTTP and HTTPS test servers on ``http.server``: answer 200 to GET and HEAD."""

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .base import loopback_host, server_context


class _Handler(BaseHTTPRequestHandler):
    server_version = "PerimeterTest/1.0"
    timeout = 5  # seconds a client may stay silent

    def _answer(self, with_body):
        self.server.owner._record(self.command, self.path)
        body = b"ok\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if with_body:
            self.wfile.write(body)

    def do_GET(self):
        self._answer(with_body=True)

    def do_HEAD(self):
        self._answer(with_body=False)

    def log_message(self, format, *args):
        pass


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # Stopping must not wait for a client that keeps its connection open.
    block_on_close = False

    def __init__(self, owner, address, family):
        self.address_family = family
        self.owner = owner
        super().__init__(address, _Handler)

    def verify_request(self, request, client_address):
        self.owner._count_connection()
        return True

    def handle_error(self, request, client_address):
        # TLS tests make clients hang up mid-handshake on purpose.
        self.owner._count_error()


class HttpServer:
    """Plain HTTP on 127.0.0.1 for one ``with`` block; ``HttpServer(cert=...)`` serves HTTPS.

    ``url`` is the base URL; ``requests`` lists ``(method, path)``;
    ``connections`` counts accepted TCP connections.
    """

    def __init__(self, cert=None, host="127.0.0.1", min_version=None, max_version=None):
        self.host = loopback_host(host)
        self.port = None
        self.context = server_context(cert, min_version, max_version) if cert is not None else None
        self.requests = []
        self.connections = 0
        self.errors = 0
        self._lock = threading.Lock()
        self._server = None
        self._thread = None

    @property
    def address(self):
        return (self.host, self.port)

    @property
    def url(self):
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'https' if self.context else 'http'}://{host}:{self.port}/"

    def _record(self, method, path):
        with self._lock:
            self.requests.append((method, path))

    def _count_connection(self):
        with self._lock:
            self.connections += 1

    def _count_error(self):
        with self._lock:
            self.errors += 1

    def __enter__(self):
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._server = _Server(self, (self.host, 0), family)
        if self.context is not None:
            # The handshake then happens in the handler thread, on first read,
            # so one stalled client cannot block the accept loop.
            self._server.socket = self.context.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"HttpServer:{self.port}", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def stop(self):
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._thread.join(timeout=5)
            self._server = None


class HttpsServer(HttpServer):
    """HTTPS on 127.0.0.1 presenting ``cert``."""

    def __init__(self, cert, **options):
        super().__init__(cert=cert, **options)
