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
import contextlib
import http.client
import ipaddress
import json
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import xmlrpc.client

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))

import odoo_env  # noqa: E402
import pgcluster  # noqa: E402

WITHOUT, WITH, OFF = "bench_without", "bench_with", "bench_with_off"
ROUTE = "/web/webclient/version_info"
BODY = json.dumps({"jsonrpc": "2.0", "method": "call", "params": {}, "id": 1}).encode()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def odoo_argv(odoo_bin, python, addons_dir, data_dir, db, *extra):
    return [
        odoo_bin, f"--addons-path={','.join([*odoo_env.odoo_addons_paths(python), addons_dir])}",
        f"--data-dir={data_dir}", f"--db_host={db['db_host']}", f"--db_port={db['db_port']}",
        f"--db_user={db['db_user']}", f"--db_password={db['db_password']}", "--without-demo=all",
        "--max-cron-threads=0", "--log-level=warn", *extra,
    ]


def run(argv, what):
    print(f"-- {what}", flush=True)
    started = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    print(f"   done in {time.monotonic() - started:.0f} s", flush=True)


def psql(db, dbname, command):
    psql_bin = os.path.join(pgcluster._pg_bindir(), "psql")  # the server's own client, as the cluster helper uses
    subprocess.run([psql_bin, "-h", db["db_host"], "-p", db["db_port"], "-U", db["db_user"], "-d", dbname, "-qc",
                    command], check=True, env=dict(os.environ, PGPASSWORD=db["db_password"]))


def copy_database(db, data_dir, source, target):
    """``target`` as a copy of ``source``: same modules, same data, same files."""
    psql(db, "postgres", f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
    filestore = os.path.join(data_dir, "filestore")
    if os.path.isdir(os.path.join(filestore, source)):
        shutil.copytree(os.path.join(filestore, source), os.path.join(filestore, target))


@contextlib.contextmanager
def odoo_server(argv, port, log_path, timeout=180):
    with open(log_path, "w") as log:
        proc = subprocess.Popen([*argv, f"--logfile={log_path}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                with open(log_path) as log:
                    raise SystemExit(f"Odoo exited with {proc.returncode}: {log.read()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.5)
        else:
            raise SystemExit("Odoo did not start listening in time")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def session_for(port, dbname):
    """A session cookie bound to ``dbname`` (so that requests go to that database)."""
    body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1,
                       "params": {"db": dbname, "login": "admin", "password": "admin"}})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", "/web/session/authenticate", body=body,
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = json.loads(response.read())
        if "error" in payload:
            raise SystemExit(f"cannot log in to {dbname}: {payload['error']}")
        cookie = response.getheader("Set-Cookie", "")
    finally:
        connection.close()
    return cookie.split(";", 1)[0]


def configure_enforcement(port, rules):
    """Enforce on bench_with: ``rules`` networks in 10.0.0.0/8 plus 127.0.0.1, loopback not special."""
    rpc = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/xmlrpc/2/object", allow_none=True)

    def call(model, method, *args):
        return rpc.execute_kw(WITH, 2, "admin", model, method, list(args))

    networks = [str(ipaddress.IPv4Network((0x0A000000 + (index << 8), 24))) for index in range(rules)]
    values = [{"name": f"Branch {index}", "network": network} for index, network in enumerate(networks)]
    values.append({"name": "Benchmark client", "network": "127.0.0.1/32"})
    for start in range(0, len(values), 2500):
        call("perimeter.allowlist", "create", values[start:start + 2500])
    call("ir.config_parameter", "set_param", "perimeter_security.mode", "enforce")
    call("ir.config_parameter", "set_param", "perimeter_security.allow_loopback", "False")
    return call("perimeter.allowlist", "search_count", [])


def one_request(port, cookie):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        started = time.perf_counter()
        connection.request("POST", ROUTE, body=BODY, headers={"Content-Type": "application/json", "Cookie": cookie})
        response = connection.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - started
    finally:
        connection.close()
    if response.status != 200 or b'"result"' not in data:
        raise SystemExit(f"unexpected answer {response.status}: {data[:300]!r}")
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
    odoo_env.exit_cleanly_on_sigterm()

    odoo_bin = odoo_env.find_odoo()
    if not odoo_bin:
        raise SystemExit("Odoo not found: set $ODOO_BIN or put `odoo` on PATH.")
    python = odoo_env.odoo_python(odoo_bin)
    addons_dir = odoo_env.linked_addons_dir()
    try:
        with pgcluster.throwaway_cluster() as db, tempfile.TemporaryDirectory(prefix="perimeter-bench-") as data_dir:
            run(odoo_argv(odoo_bin, python, addons_dir, data_dir, db, "-d", WITHOUT, "-i", "base_setup,mail",
                          "--stop-after-init"), f"installing base_setup and mail on {WITHOUT}")
            copy_database(db, data_dir, WITHOUT, WITH)
            run(odoo_argv(odoo_bin, python, addons_dir, data_dir, db, "-d", WITH, "-i", odoo_env.MODULE,
                          "--stop-after-init"), f"installing {odoo_env.MODULE} on {WITH}")
            copy_database(db, data_dir, WITH, OFF)
            port = free_port()
            argv = odoo_argv(odoo_bin, python, addons_dir, data_dir, db, "--workers=0",
                             "--http-interface=127.0.0.1", f"--http-port={port}")
            with odoo_server(argv, port, os.path.join(data_dir, "odoo.log")):
                cookies = {name: session_for(port, name) for name in (WITHOUT, WITH, OFF)}
                rules = configure_enforcement(port, args.rules)
                for name in (WITHOUT, WITH, OFF):
                    psql(db, name, "VACUUM ANALYZE")  # same footing: no database carries its install's dead rows
                print(f"-- {rules:,} rules in force on {WITH}; measuring", flush=True)
                targets = [("without the module", cookies[WITHOUT]),
                           (f"module, enforce, {rules:,} rules", cookies[WITH])]
                if not args.no_off:
                    targets.append(("module installed, mode off", cookies[OFF]))
                timings, rounds = measure(port, targets, requests=args.requests, block=args.block, warmup=args.warmup,
                                  max_seconds=args.max_seconds)
            report(timings, rounds, "without the module", rules)
    finally:
        shutil.rmtree(addons_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
