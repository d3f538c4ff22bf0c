"""Benchmark: probing 100 local endpoints one by one vs with ``probe_many``.

The connected-systems dashboard probes about a hundred endpoints; this
measures, in one run, the sum of single ``probe()`` times against the wall
time of ``probe_many`` over the same endpoints: a quarter trusted, a quarter
self-signed, a quarter expired (both cost a second, inspecting handshake)
and a quarter closed ports.

Two scenarios: plain loopback, where a probe is pure CPU (handshake crypto
on both ends), and servers that wait ``--delay-ms`` before each handshake,
as a server across a network does; real endpoints look like the second
(``_endpoints`` serves both).

Run from the repository root: ``python bench/bench_tlscheck.py``; it prints
markdown tables.
"""

import argparse
import os
import platform
import ssl
import statistics
import time

import cryptography
from _endpoints import EXPECTED, KINDS, add_arguments, per_kind, served  # before perimeter: puts the repo on the path

from perimeter.tlscheck import probe, probe_many

HANDSHAKES = {"trusted": 1, "self-signed": 2, "expired": 2, "closed": 0}
WORKERS = (8, 32)


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
    add_arguments(parser)
    args = parser.parse_args()
    with served(args) as (ca_pem, scenarios):
        options = {"ca_bundle_pem": ca_pem, "server_hostname": "localhost", "timeout": args.timeout}
        # Load the verifying context once, as a dashboard does before its first round.
        probe("127.0.0.1", scenarios[0.0][0][1], **options)
        results = {delay: _measure(targets, options, args.rounds) for delay, targets in scenarios.items()}
    _print_tables(per_kind(args) * len(KINDS), per_kind(args), results, args.rounds)


if __name__ == "__main__":
    main()
