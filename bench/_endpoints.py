"""The loopback endpoints the TLS benchmarks probe, served from a child process.

A quarter each: trusted, self-signed, expired (both cost a second,
inspecting handshake) and closed ports; one set per server delay, so that a
run compares plain loopback with servers that wait before each handshake, as
a server across a network does. The servers run in a child process so that
their handshakes do not compete with the prober for the GIL.
"""

import contextlib
import multiprocessing
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repository root: ``perimeter``

from testing.certs import CertFactory  # noqa: E402
from testing.servers import ClosedPort, TlsServer  # noqa: E402

KINDS = ("trusted", "self-signed", "expired", "closed")
EXPECTED = {"trusted": "ok", "self-signed": "failed", "expired": "failed", "closed": "failed"}


def add_arguments(parser):
    """The options every TLS benchmark takes: how many endpoints, rounds, the server delay, the timeout."""
    parser.add_argument("--endpoints", type=int, default=100, help="endpoints per scenario (a multiple of 4)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per scenario; medians are reported")
    parser.add_argument("--delay-ms", type=float, default=50.0, help="server delay of the second scenario")
    parser.add_argument("--timeout", type=float, default=5.0, help="per-probe timeout in seconds")


def per_kind(args):
    return max(1, args.endpoints // len(KINDS))


def _serve(connection, count, delays):
    """Child process: start the servers, send the CA and {delay: [(kind, port)]}, wait for 'stop'."""
    with CertFactory() as certs, contextlib.ExitStack() as stack:
        certificates = {"trusted": certs.trusted(), "self-signed": certs.self_signed(), "expired": certs.expired()}
        scenarios = {}
        for delay in delays:
            endpoints = scenarios.setdefault(delay, [])
            for index in range(count * len(KINDS)):
                kind = KINDS[index % len(KINDS)]
                if kind == "closed":
                    endpoints.append((kind, stack.enter_context(ClosedPort()).port))
                    continue
                server = TlsServer(certificates[kind], delay=delay, max_connections=100_000, lifetime=3600)
                endpoints.append((kind, stack.enter_context(server).port))
        connection.send((certs.ca.cert_pem, scenarios))
        connection.recv()


@contextlib.contextmanager
def served(args):
    """Serve the endpoints ``args`` ask for; yield ``(ca_pem, {delay in s: [(kind, port)]})``."""
    parent, child = multiprocessing.Pipe()
    delays = (0.0, args.delay_ms / 1000)
    process = multiprocessing.Process(target=_serve, args=(child, per_kind(args), delays), daemon=True)
    process.start()
    try:
        yield parent.recv()
    finally:
        parent.send("stop")
        process.join(timeout=10)
