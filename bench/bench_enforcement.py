#!/usr/bin/env python3
"""What enforcement costs a real Odoo server: the module in enforce mode with 10,000 rules vs no module.

How to run (from the repository root; about 3 minutes, most of it installing Odoo)::

    python3 bench/bench_enforcement.py              # 3,000 measured requests per configuration
    python3 bench/bench_enforcement.py --requests 600 --rules 1000   # quicker

It starts a throwaway PostgreSQL cluster (scripts/pgcluster.py) and ONE Odoo
server (threaded, as ``scripts/test.py`` runs it) serving two databases made
from the same installation of ``base_setup`` and ``mail``: ``bench_without``
(the module absent) and ``bench_with`` (the module installed, ``enforce``,
loopback not special, 10,000 allowlist rules plus the benchmark's own address).
A third database, ``bench_with_off`` (the module installed, mode ``off``), shows
the cost of merely having the module installed. The measured request is the small JSON-RPC route
``/web/webclient/version_info``, one connection per request (Odoo's server
closes each), sent sequentially from 127.0.0.1 in interleaved blocks so that
drift on a shared machine hits every configuration alike. Request counts and
the total time are bounded. Prints a markdown table: median and p90 latency,
requests per second, and the ratio to the server without the module.
"""

import argparse
import ipaddress
import json
import os
import platform
import statistics
import time

from odoo_server import admin_rpc, bench_environment, free_port, odoo_server, session_for, timed_request

WITHOUT, WITH, OFF = "bench_without", "bench_with", "bench_with_off"
ROUTE = "/web/webclient/version_info"
BODY = json.dumps({"jsonrpc": "2.0", "method": "call", "params": {}, "id": 1}).encode()


def configure_enforcement(port, rules):
    """Enforce on bench_with: ``rules`` networks in 10.0.0.0/8 plus 127.0.0.1, loopback not special."""
    call = admin_rpc(port, WITH)
    networks = [str(ipaddress.IPv4Network((0x0A000000 + (index << 8), 24))) for index in range(rules)]
    values = [{"name": f"Branch {index}", "network": network} for index, network in enumerate(networks)]
    values.append({"name": "Benchmark client", "network": "127.0.0.1/32"})
    for start in range(0, len(values), 2500):
        call("perimeter.allowlist", "create", values[start:start + 2500])
    call("ir.config_parameter", "set_param", "perimeter_security.mode", "enforce")
    call("ir.config_parameter", "set_param", "perimeter_security.allow_loopback", "False")
    return call("perimeter.allowlist", "search_count", [])


def one_request(port, cookie):
    elapsed, status, data = timed_request(port, "POST", ROUTE, body=BODY,
                                          headers={"Content-Type": "application/json", "Cookie": cookie})
    if status != 200 or b'"result"' not in data:
        raise SystemExit(f"unexpected answer {status}: {data[:300]!r}")
    return elapsed


def measure(port, targets, *, requests, block, warmup, max_seconds):
    """Interleaved rounds of sequential requests.

    Returns ``({label: [seconds, ...]}, {label: [median of each round, ...]})``:
    each round sends one block per configuration, in an order that rotates
    from round to round, so the ratio of round medians cancels the drift of a
    shared machine and any effect of going first.
    """
    timings = {label: [] for label, _cookie in targets}
    rounds = {label: [] for label, _cookie in targets}
    for _label, cookie in targets:
        for _ in range(warmup):
            one_request(port, cookie)
    deadline = time.monotonic() + max_seconds
    turn = 0
    while any(len(values) < requests for values in timings.values()) and time.monotonic() < deadline:
        # Each round starts with the next configuration: no configuration is always first (or last).
        turn += 1
        for label, cookie in targets[turn % len(targets):] + targets[:turn % len(targets)]:
            count = min(block, requests - len(timings[label]))
            if count <= 0:
                continue
            values = [one_request(port, cookie) for _ in range(count)]
            timings[label].extend(values)
            rounds[label].append(statistics.median(values))
    return timings, rounds


def report(timings, rounds, baseline, rules):
    base_median = statistics.median(timings[baseline])
    print(f"\nOdoo `{ROUTE}` (JSON-RPC), one connection per request, sequential, from 127.0.0.1; "
          f"{rules:,} allowlist rules in enforce mode. Python {platform.python_version()}, "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}.\n")
    print("| configuration | requests | median (ms) | p90 (ms) | requests/s | median vs without module "
          "| round-by-round ratio (median, interquartile range) |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, values in timings.items():
        median = statistics.median(values)
        p90 = statistics.quantiles(values, n=10)[-1] if len(values) >= 10 else max(values)
        ratio = median / base_median
        ratios = [mine / base for mine, base in zip(rounds[label], rounds[baseline], strict=False) if base]
        paired = statistics.median(ratios)
        low, _middle, high = statistics.quantiles(ratios, n=4) if len(ratios) >= 4 else (paired, paired, paired)
        print(f"| {label} | {len(values):,} | {median * 1e3:.2f} | {p90 * 1e3:.2f} | {1 / median:.0f} | "
              f"{ratio:.3f} ({(ratio - 1) * 100:+.1f}%) | {paired:.3f} ({(paired - 1) * 100:+.1f}%), "
              f"IQR {low:.3f}-{high:.3f} |")
    print("\nThe last column compares each configuration with the baseline within the same round (blocks "
          "sent back to back, in rotating order), which cancels the drift of a busy machine; read it first. "
          "Its interquartile range shows how much of a difference is noise.")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=3000, help="measured requests per configuration")
    parser.add_argument("--block", type=int, default=20, help="requests per configuration and round")
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--rules", type=int, default=10000)
    parser.add_argument("--max-seconds", type=float, default=600, help="cap on the measuring phase")
    parser.add_argument("--no-off", action="store_true", help="skip the 'installed, mode off' configuration")
    args = parser.parse_args()
    with bench_environment() as bench:
        bench.install(WITHOUT, "base_setup,mail")
        bench.copy_database(WITHOUT, WITH)
        bench.install(WITH, "perimeter_security")
        bench.copy_database(WITH, OFF)
        port = free_port()
        argv = bench.argv("--workers=0", "--http-interface=127.0.0.1", f"--http-port={port}")
        with odoo_server(argv, port, os.path.join(bench.data_dir, "odoo.log")):
            cookies = {name: session_for(port, name) for name in (WITHOUT, WITH, OFF)}
            rules = configure_enforcement(port, args.rules)
            for name in (WITHOUT, WITH, OFF):
                bench.psql(name, "VACUUM ANALYZE")  # same footing: no database carries its install's dead rows
            print(f"-- {rules:,} rules in force on {WITH}; measuring", flush=True)
            targets = [("without the module", cookies[WITHOUT]),
                       (f"module, enforce, {rules:,} rules", cookies[WITH])]
            if not args.no_off:
                targets.append(("module installed, mode off", cookies[OFF]))
            timings, rounds = measure(port, targets, requests=args.requests, block=args.block, warmup=args.warmup,
                                      max_seconds=args.max_seconds)
        report(timings, rounds, "without the module", rules)


if __name__ == "__main__":
    main()
