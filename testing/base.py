"""A loopback TCP server that lives for one ``with`` block.

Tests need real servers, not mocks, but a test server must never outlive its
test, listen beyond the loopback interface, or spin forever on a misbehaving
client. :class:`LoopbackServer` binds ``127.0.0.1`` (or ``::1``) on an
ephemeral port, accepts in a background thread and serves each connection in
its own thread; every loop is bounded in count and in time, and leaving the
``with`` block closes the listener and every open connection.

It also counts: accepted connections, open ones at the same time, and
completed TLS handshakes (``tls_versions``, one entry each), so a test can
assert "the server saw nothing" or "these probes overlapped".
"""

import contextlib
import socket
import ssl
import threading
import time

from .certs import Issued

LOOPBACK_HOSTS = ("127.0.0.1", "::1")
TLS_VERSIONS = {
    "TLSv1_2": ssl.TLSVersion.TLSv1_2, "TLSv1.2": ssl.TLSVersion.TLSv1_2,
    "TLSv1_3": ssl.TLSVersion.TLSv1_3, "TLSv1.3": ssl.TLSVersion.TLSv1_3,
}


def loopback_host(host):
    """``host`` itself if it is ``127.0.0.1`` or ``::1``; a test server listens nowhere else."""
    if host not in LOOPBACK_HOSTS:
        raise ValueError(f"test servers listen on loopback only, not on {host!r}")
    return host


def server_context(cert, min_version=None, max_version=None):
    """A server-side ``SSLContext`` presenting ``cert``.

    ``cert`` is an :class:`~testing.certs.Issued` or a
    ``(cert_path, key_path)`` pair; versions are ``ssl.TLSVersion`` values or
    names such as ``"TLSv1_3"`` (a TLS 1.3-only server: ``min_version="TLSv1_3"``).
    """
    cert_path, key_path = cert.files if isinstance(cert, Issued) else cert
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_path, key_path)
    if min_version:
        context.minimum_version = TLS_VERSIONS.get(min_version, min_version)
    if max_version:
        context.maximum_version = TLS_VERSIONS.get(max_version, max_version)
    return context


def closed_port(host="127.0.0.1"):
    """A loopback port with nothing listening (connecting to it is refused).

    The port is bound then released, so it is free right now; for a port
    guaranteed to stay closed while a test runs, use :class:`ClosedPort`.
    """
    with ClosedPort(host) as closed:
        return closed.port


class ClosedPort:
    """Holds a bound, never listening socket: its port refuses connections
    and no other process can take it until the ``with`` block ends."""

    def __init__(self, host="127.0.0.1"):
        self.host = host
        self._sock = None
        self.port = None

    def __enter__(self):
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._sock = socket.socket(family, socket.SOCK_STREAM)
        self._sock.bind((self.host, 0))
        self.port = self._sock.getsockname()[1]
        return self

    def __exit__(self, *exc_info):
        self._sock.close()


class LoopbackServer:
    """Base class: override :meth:`handle` to speak a protocol on one connection.

    :param host: ``127.0.0.1`` or ``::1``; nothing else is accepted.
    :param tls_context: server ``SSLContext`` for implicit TLS (see :meth:`wrap`).
    :param max_connections: the accept loop stops after this many.
    :param lifetime: seconds after which the server stops accepting, whatever happens.
    :param io_timeout: timeout of every read and write on a connection.
    """

    def __init__(self, host="127.0.0.1", tls_context=None, max_connections=500, lifetime=300.0, io_timeout=5.0):
        self.host = loopback_host(host)
        self.port = None
        self.tls_context = tls_context
        self.max_connections = max_connections
        self.lifetime = lifetime
        self.io_timeout = io_timeout
        self.connections = 0
        self.active = 0
        self.max_active = 0
        self.tls_versions = []
        self.tls_failures = []
        self.errors = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._listener = None
        self._thread = None
        self._open = {}  # handler thread id -> its current socket (raw, then TLS)
        self._workers = []

    @property
    def address(self):
        return (self.host, self.port)

    def __enter__(self):
        family = socket.AF_INET6 if ":" in self.host else socket.AF_INET
        self._listener = socket.socket(family, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((self.host, 0))
        self._listener.listen(128)
        # Accept polls so that stopping never waits on a blocked accept().
        self._listener.settimeout(0.1)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept_loop, name=f"{type(self).__name__}:{self.port}",
                                        daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def stop(self):
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self._listener is not None:
            self._listener.close()
        with self._lock:
            still_open = list(self._open.values())
        for conn in still_open:
            # Wakes handler threads blocked in recv() right away.
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for worker in self._workers:
            worker.join(timeout=5)

    def _accept_loop(self):
        deadline = time.monotonic() + self.lifetime
        while not self._stop.is_set() and time.monotonic() < deadline:
            with self._lock:
                if self.connections >= self.max_connections:
                    break
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                break
            with self._lock:
                self.connections += 1
                self.active += 1
                self.max_active = max(self.max_active, self.active)
            worker = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            self._workers.append(worker)
            worker.start()

    def _serve(self, conn):
        ident = threading.get_ident()
        with self._lock:
            self._open[ident] = conn
        try:
            conn.settimeout(self.io_timeout)
            # Replies go out line by line; without this, Nagle's algorithm and
            # the client's delayed ACK stall each multi-line reply by ~40 ms.
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.handle(conn)
        except (OSError, ValueError) as exc:
            # Clients of a TLS test hang up mid-dialogue on purpose; record, never crash.
            with self._lock:
                self.errors.append(f"{type(exc).__name__}: {exc}")
        finally:
            with self._lock:
                self.active -= 1
                current = self._open.pop(ident, conn)
            current.close()
            conn.close()

    def wrap(self, conn, context=None):
        """Server-side TLS handshake on ``conn``; ``None`` (and recorded) when it fails."""
        context = context or self.tls_context
        try:
            tls_conn = context.wrap_socket(conn, server_side=True)
        except (OSError, ValueError) as exc:
            with self._lock:
                self.tls_failures.append(str(exc))
            return None
        with self._lock:
            self.tls_versions.append(tls_conn.version())
            # The TLS socket owns the descriptor now; stop() must shut that one down.
            self._open[threading.get_ident()] = tls_conn
        return tls_conn

    def handle(self, conn):
        raise NotImplementedError


class LineChannel:
    """Line-oriented I/O on a connection that may switch to TLS midway."""

    max_line = 65536

    def __init__(self, server, conn):
        self.server = server
        self.conn = conn
        self.reader = conn.makefile("rb")
        self.tls = False

    def readline(self):
        """One line without its end of line, or ``None`` at end of stream."""
        line = self.reader.readline(self.max_line + 1)
        if not line:
            return None
        if len(line) > self.max_line:
            raise ValueError("line too long")
        return line.rstrip(b"\r\n").decode("utf-8", "replace")

    def send(self, data):
        self.conn.sendall(data if isinstance(data, bytes) else data.encode("utf-8"))

    def close(self):
        # A socket stays open while a makefile() reader exists.
        self.reader.close()

    def start_tls(self, context=None):
        """Upgrade after a STARTTLS-like command; False when the handshake failed."""
        self.reader.close()
        tls_conn = self.server.wrap(self.conn, context)
        if tls_conn is None:
            return False
        self.conn = tls_conn
        self.reader = tls_conn.makefile("rb")
        self.tls = True
        return True
