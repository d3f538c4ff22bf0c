#!/usr/bin/env python3
"""Benchmark: the connected-systems dashboard's check round, and the cost of recording RPC callers.

    python3 bench/bench_connected_systems.py [--endpoints 100] [--rounds 3] [--delay-ms 50]

1. **Checks.** ``perimeter.systems.check_endpoints`` is what ``action_check``
   runs (the Odoo model only builds the jobs and writes the results). Over 100
   loopback endpoints — a quarter each trusted, self-signed, expired and
   closed, served by ``_endpoints`` as for ``bench_tlscheck`` — it compares, in one
   run, the sum of single checks with the wall time of one concurrent round,
   on plain loopback and behind a per-handshake server delay (real endpoints
   are across a network).
2. **RPC caller record.** What every authenticated XML-RPC/JSON-RPC call pays
   on top of Odoo: resolving the client (trusted proxies), the fence lookup,
   and one count in the per-process tally; against a no-op call with the same
   arguments. The periodic flush (one upsert per distinct caller every 10 s)
   is not on the request's path and not measured here.

Prints markdown tables.
"""

import argparse
import functools
import os
import platform
import ssl
import statistics
import time
import timeit

from _endpoints import EXPECTED, KINDS, add_arguments, per_kind, served  # same servers, same mix as bench_tlscheck

from perimeter.client import resolve_client
from perimeter.fence import Fence
from perimeter.rpc_callers import CallerKey, CallerTally
from perimeter.systems import MAX_WORKERS, CheckJob, check_endpoints
from perimeter.tls_report import DASHBOARD_STATES

WORKERS = (MAX_WORKERS, 32)


def _jobs(targets, ca_pem):
    return [CheckJob(f"localhost:{port}", "direct", ca_bundle_pem=ca_pem) for _, port in targets]


def _check(targets, results):
    wrong = [(kind, result.state) for (kind, _), result in zip(targets, results, strict=True)
             if result.state != DASHBOARD_STATES[EXPECTED[kind]]]
    if wrong:
        raise SystemExit(f"unexpected verdicts: {wrong[:5]}")


def measure_checks(targets, ca_pem, timeout, rounds):
    jobs = _jobs(targets, ca_pem)
    sums, loops, walls = [], [], {workers: [] for workers in WORKERS}
    for _ in range(rounds):
        started = time.perf_counter()
        singles = [check_endpoints([job], timeout=timeout, max_workers=1)[0] for job in jobs]
        loops.append(time.perf_counter() - started)
        _check(targets, singles)
        sums.append(sum(result.elapsed for result in singles))
        for workers, times in walls.items():
            started = time.perf_counter()
            results = check_endpoints(jobs, timeout=timeout, max_workers=workers)
            times.append(time.perf_counter() - started)
            _check(targets, results)
    median = statistics.median
    return median(sums), median(loops), {workers: median(times) for workers, times in walls.items()}


def measure_record(number=200_000, repeat=5):
    """Nanoseconds per call: the record path of one RPC call against a no-op with the same arguments."""
    tally = CallerTally(flush_interval=3600, max_keys=10**9)
    fence = Fence.build([(["192.0.2.0/24"], [7], [70])], trusted_proxies=["127.0.0.1"])
    direct = {"REMOTE_ADDR": "198.51.100.20", "wsgi.url_scheme": "http"}
    relayed = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "192.0.2.9, 127.0.0.1",
               "HTTP_X_FORWARDED_PROTO": "https", "wsgi.url_scheme": "http"}

    def noop(dbname, uid, apikey_id, connection):
        return None

    def record(dbname, uid, apikey_id, connection):
        client = resolve_client(connection, fence.trusted_proxies)
        if fence.binds(uid, apikey_id) and fence.refused_address(uid, apikey_id, client):
            return None
        tally.add(dbname, CallerKey(uid, apikey_id, client.ip, client.scheme))
        return client

    cases = [
        ("unfenced caller, direct", 5, 0, direct),
        ("fenced key, via a trusted proxy", 7, 70, relayed),
    ]
    rows = []
    for label, *args in cases:
        base = min(timeit.repeat(functools.partial(noop, "db", *args), number=number, repeat=repeat))
        cost = min(timeit.repeat(functools.partial(record, "db", *args), number=number, repeat=repeat))
        rows.append((label, 1e9 * base / number, 1e9 * cost / number))
    return rows, tally.drain()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args()
    with served(args) as (ca_pem, scenarios):
        check_endpoints(_jobs(scenarios[0.0][:1], ca_pem), timeout=args.timeout)  # load the CA store once
        results = {delay: measure_checks(targets, ca_pem, args.timeout, args.rounds)
                   for delay, targets in scenarios.items()}
    record_rows, _ = measure_record()

    count = per_kind(args) * len(KINDS)
    print(f"Connected-systems check round: {count} loopback endpoints ({per_kind(args)} each: {', '.join(KINDS)}), "
          f"median of {args.rounds} rounds")
    print(f"Python {platform.python_version()}, {ssl.OPENSSL_VERSION}, {os.cpu_count()} CPUs\n")
    print("| server delay | run | wall time (s) | per system (ms) | speed-up vs sum |")
    print("|---:|---|---:|---:|---:|")
    for delay, (total, loop, walls) in results.items():
        label = f"{delay * 1000:.0f} ms"
        rows = [(f"sum of {count} single checks", total), ("the same, one after the other", loop)]
        rows += [(f"`check_endpoints` ({workers} workers){' (dashboard)' if workers == MAX_WORKERS else ''}", wall)
                 for workers, wall in walls.items()]
        for name, wall in rows:
            print(f"| {label} | {name} | {wall:.3f} | {1000 * wall / count:.1f} | {total / wall:.1f}x |")

    print("\nRecording one RPC call (resolve the client, fence lookup, count it), per call")
    print("\n| case | no-op baseline (ns) | record (ns) | added cost (ns) | ratio |")
    print("|---|---:|---:|---:|---:|")
    for label, base, cost in record_rows:
        print(f"| {label} | {base:.0f} | {cost:.0f} | {cost - base:.0f} | {cost / base:.1f}x |")


if __name__ == "__main__":
    main()
