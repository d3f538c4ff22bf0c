"""Benchmark: probing 100 local endpoints one by one vs with ``probe_many``.

The connected-systems dashboard probes about a hundred endpoints; this
measures, in one run, the sum of single ``probe()`` times against the wall
time of ``probe_many`` over the same endpoints: a quarter trusted, a quarter
self-signed, a quarter expired (both cost a second, inspecting handshake)
and a quarter closed ports.

Two scenarios: plain loopback, where a probe is pure CPU (handshake crypto
on both ends), and servers that wait ``--delay-ms`` before each handshake,
as a server across a network does; real endpoints look like the second.
The servers run in a child process so that their handshakes do not compete
with the prober for the GIL.

Run from the repository root: ``python bench/bench_tlscheck.py``; it prints
markdown tables.
"""

import argparse
import contextlib
import multiprocessing
import os
import platform
import ssl
import statistics
import sys
import time
from pathlib import Path

import cryptography

try:
    from perimeter.testing.certs import CertFactory
except ImportError:  # run as ``python bench/bench_tlscheck.py``: the repository root is not on the path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from perimeter.testing.certs import CertFactory
from perimeter.testing.servers import ClosedPort, TlsServer
from perimeter.tlscheck import probe, probe_many

KINDS = ("trusted", "self-signed", "expired", "closed")
EXPECTED = {"trusted": "ok", "self-signed": "failed", "expired": "failed", "closed": "failed"}
HANDSHAKES = {"trusted": 1, "self-signed": 2, "expired": 2, "closed": 0}
WORKERS = (8, 32)


def _serve(connection, per_kind, delays):
    """Child process: start the servers, send the CA and {delay: [(kind, port)]}, wait for 'stop'."""
    with CertFactory() as certs, contextlib.ExitStack() as stack:
        certificates = {"trusted": certs.trusted(), "self-signed": certs.self_signed(), "expired": certs.expired()}
        scenarios = {}
        for delay in delays:
            endpoints = scenarios.setdefault(delay, [])
            for index in range(per_kind * len(KINDS)):
                kind = KINDS[index % len(KINDS)]
                if kind == "closed":
                    endpoints.append((kind, stack.enter_context(ClosedPort()).port))
                    continue
                server = TlsServer(certificates[kind], delay=delay, max_connections=100_000, lifetime=3600)
                endpoints.append((kind, stack.enter_context(server).port))
        connection.send((certs.ca.cert_pem, scenarios))
        connection.recv()


def _check(targets, reports):
    """A timing only counts if every endpoint got the verdict it should."""
    wrong = [(kind, r.state, r.errors) for (kind, _), r in zip(targets, reports, strict=True)
             if r.state != EXPECTED[kind]]
    if wrong:
        raise SystemExit(f"unexpected verdicts: {wrong[:5]}")


def _measure(targets, options, rounds):
    """Median over rounds of: sum of single probes, their loop's wall time, probe_many's wall time per worker count."""
    sums, loops, singles = [], [], {kind: [] for kind in KINDS}
    concurrent = {workers: [] for workers in WORKERS}
    for _ in range(rounds):
        started = time.perf_counter()
        reports = [probe("127.0.0.1", port, **options) for _, port in targets]
        loops.append(time.perf_counter() - started)
        _check(targets, reports)
        sums.append(sum(report.elapsed for report in reports))
        for (kind, _), report in zip(targets, reports, strict=True):
            singles[kind].append(report.elapsed)
        for workers, walls in concurrent.items():
            started = time.perf_counter()
            reports = probe_many([("127.0.0.1", port) for _, port in targets], max_workers=workers, **options)
            walls.append(time.perf_counter() - started)
            _check(targets, reports)
    median = statistics.median
    return {
        "sum": median(sums),
        "loop": median(loops),
        "concurrent": {workers: median(walls) for workers, walls in concurrent.items()},
        "singles": {kind: median(times) for kind, times in singles.items()},
    }


def _print_tables(count, per_kind, results, rounds):
    print(f"TLS probes of {count} loopback endpoints ({per_kind} each: {', '.join(KINDS)}); median of {rounds} rounds")
    print(f"Python {platform.python_version()}, {ssl.OPENSSL_VERSION}, cryptography {cryptography.__version__}, "
          f"{os.cpu_count()} CPUs\n")
    print("| server delay | run | wall time (s) | per endpoint (ms) | speed-up vs sum |")
    print("|---:|---|---:|---:|---:|")
    for delay, result in results.items():
        label = f"{delay * 1000:.0f} ms"
        base = result["sum"]
        rows = [(f"sum of {count} single `probe()` calls", base), ("the same, as one sequential loop", result["loop"])]
        rows += [(f"`probe_many(max_workers={w})`", wall) for w, wall in result["concurrent"].items()]
        for name, wall in rows:
            print(f"| {label} | {name} | {wall:.3f} | {1000 * wall / count:.1f} | {base / wall:.1f}x |")
    print("\n| server delay | endpoint kind | verdict | handshakes | median single probe (ms) |")
    print("|---:|---|---|---:|---:|")
    for delay, result in results.items():
        for kind in KINDS:
            print(f"| {delay * 1000:.0f} ms | {kind} | {EXPECTED[kind]} | {HANDSHAKES[kind]} | "
                  f"{1000 * result['singles'][kind]:.2f} |")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--endpoints", type=int, default=100, help="endpoints per scenario (a multiple of 4)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per scenario; medians are reported")
    parser.add_argument("--delay-ms", type=float, default=50.0, help="server delay of the second scenario")
    parser.add_argument("--timeout", type=float, default=5.0, help="per-probe timeout in seconds")
    args = parser.parse_args()
    per_kind = max(1, args.endpoints // len(KINDS))
    delays = (0.0, args.delay_ms / 1000)

    parent, child = multiprocessing.Pipe()
    server_process = multiprocessing.Process(target=_serve, args=(child, per_kind, delays), daemon=True)
    server_process.start()
    try:
        ca_pem, scenarios = parent.recv()
        options = {"ca_bundle_pem": ca_pem, "server_hostname": "localhost", "timeout": args.timeout}
        # Load the verifying context once, as a dashboard does before its first round.
        probe("127.0.0.1", scenarios[0.0][0][1], **options)
        results = {delay: _measure(targets, options, args.rounds) for delay, targets in scenarios.items()}
    finally:
        parent.send("stop")
        server_process.join(timeout=10)
    _print_tables(per_kind * len(KINDS), per_kind, results, args.rounds)


if __name__ == "__main__":
    main()
