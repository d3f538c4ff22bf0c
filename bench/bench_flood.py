#!/usr/bin/env python3
"""A flood of refused requests against a real Odoo server: does the allowlisted client notice, do rows stay few?

How to run (from the repository root; about 3 minutes, half of it installing Odoo)::

    python3 bench/bench_flood.py                       # prefork, 2 workers, 5,000 refused requests
    python3 bench/bench_flood.py --workers 0           # Odoo's threaded server instead
    python3 bench/bench_flood.py --rate 100            # a paced flood: 100 refused requests/s in all
    python3 bench/bench_flood.py --flood-requests 1500 --rounds 1 --threads 4   # quicker
    python3 bench/bench_flood.py --edge                # every request through nginx with the exported allowlist
    python3 bench/bench_flood.py --costs-only          # only the cost of one request (allowed vs refused): ~2 min
    python3 bench/bench_flood.py --until-banned --flood-requests 20000 --threads 4 --max-seconds 90
                                                       # one client until the automatic ban stops it

It starts a throwaway PostgreSQL cluster and ONE Odoo server (``--workers=2``,
prefork, by default) on one database with the module installed, in
``enforce`` mode, the allowlist holding 127.0.0.1 only, loopback not
special. It measures, in the same run:

1. what one request costs with no flood: the allowlisted client's small
   JSON-RPC request (``POST /web/webclient/version_info`` from 127.0.0.1) and a
   refused request on each path of the flood (from 127.0.0.250), sequential,
   interleaved in blocks;
2. in rounds, for each flood concurrency (``--threads``, rotating order): a
   quiet block of the allowlisted client's requests, then a flood block:
   that many threads send refused requests from ``--clients`` distinct
   addresses 127.0.0.10, 127.0.0.11... (a scanner's mix of paths) while the
   allowlisted client keeps sending its requests one after the other;
3. the access log: after the flood it waits for the background writers
   (every 5 s in each worker) until the rows hold every refused request,
   and reads them with psql.

With ``--edge``, a real nginx (``testing/nginx.py``) stands in front
of Odoo with the allowlist the module exports for it (Export for nginx /
HAProxy), connecting from 127.0.0.5, a trusted proxy; every request of the
run, allowlisted or not, goes through nginx, and the access log must stay
empty: no refused request reaches Odoo.

Every request is a new connection (Odoo closes each). Request counts are
bounded and the flood phase is capped by ``--max-seconds``. Prints markdown
tables: the cost of one request; the allowlisted client's latency without and
during each flood (median, p90, ratio: target <= 1.5x); refused requests per
second; rows written, rows per client and window, hits counted against hits
sent. Exits non-zero if a flood request was not refused, an allowlisted
request failed, or the access log does not add up.
"""

import argparse
import contextlib
import itertools
import json
import os
import platform
import statistics
import sys
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from odoo_server import admin_rpc, bench_environment, free_port, odoo_server, timed_request

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from testing.nginx import NGINX, NginxProxy  # noqa: E402

DBNAME = "bench_flood"
INSIDER = "127.0.0.1"
ROUTE = "/web/webclient/version_info"
BODY = json.dumps({"jsonrpc": "2.0", "method": "call", "params": {}, "id": 1}).encode()
# What a scanner asks for: pages, the backend, a static file (served before any database), a missing page.
FLOOD_PATHS = ("/web/login", "/odoo", "/web/static/img/favicon.ico", "/wp-login.php")
SEQUENTIAL_OUTSIDER = "127.0.0.250"  # the refused client of the one-request costs (not a flood client)
EDGE_PROXY = "127.0.0.5"  # where nginx connects to Odoo from, with --edge
FLUSH_WAIT = 30  # seconds to wait for the background writers after the flood (they run every 5 s)


def cpu_seconds(server_pid):
    """CPU seconds used so far by this process (flood generator and allowlisted client) and by the Odoo server.

    The server's: its master process, the children it reaped, and its live children (prefork workers, the
    gevent process). Linux ``/proc``; elsewhere the server's is None.
    """
    times = os.times()
    mine = times.user + times.system
    tick = os.sysconf("SC_CLK_TCK")

    def stat(pid):
        with open(f"/proc/{pid}/stat") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
        return int(fields[1]), [int(value) for value in fields[11:15]]  # ppid; utime, stime, cutime, cstime

    try:
        _ppid, (utime, stime, cutime, cstime) = stat(server_pid)
        total = utime + stime + cutime + cstime
        for entry in os.listdir("/proc"):
            if entry.isdigit() and int(entry) != server_pid:
                with contextlib.suppress(OSError, ValueError, IndexError):
                    ppid, (utime, stime, _cutime, _cstime) = stat(entry)
                    if ppid == server_pid:
                        total += utime + stime
    except OSError:
        return mine, None
    return mine, total / tick


def flood_client(index):
    return f"127.0.0.{10 + index}"


def insider_request(port):
    """One allowlisted request; its latency in seconds, or None if it did not get its answer."""
    try:
        elapsed, status, data = timed_request(port, "POST", ROUTE, body=BODY,
                                              headers={"Content-Type": "application/json"}, source=INSIDER)
    except OSError:
        return None
    return elapsed if status == 200 and b'"result"' in data else None


class Flood:
    """``count`` refused requests from ``threads`` threads, round-robin over ``clients`` addresses.

    ``rate``: requests per second in all, paced (0: each thread sends its next request as soon as it has the
    answer to the previous one).
    """

    def __init__(self, port, *, count, clients, threads, deadline, rate=0):
        self.port, self.count, self.clients, self.threads, self.deadline = port, count, clients, threads, deadline
        self.rate = rate
        self.started = time.monotonic()
        self.numbers = itertools.count()
        self.lock = threading.Lock()
        self.sent = Counter()  # client -> requests answered (whatever the answer)
        self.statuses = Counter()
        self.errors = Counter()  # client -> requests that got no answer (not counted as sent)
        self.done = threading.Event()
        self.seconds = 0.0

    def _worker(self):
        while time.monotonic() < self.deadline:
            with self.lock:
                number = next(self.numbers)
            if number >= self.count:
                return
            if self.rate:
                time.sleep(max(0.0, self.started + number / self.rate - time.monotonic()))
            client = flood_client(number % self.clients)
            path = FLOOD_PATHS[number // self.clients % len(FLOOD_PATHS)]
            try:
                _elapsed, status, _data = timed_request(self.port, "GET", path, source=client,
                                                        headers={"User-Agent": "bench-flood"})
            except OSError:
                with self.lock:
                    self.errors[client] += 1
                continue
            with self.lock:
                self.sent[client] += 1
                self.statuses[status] += 1

    def run_with(self, measure_inside):
        """Run the flood; meanwhile ``measure_inside(flood)`` runs in this thread until ``done`` is set."""
        workers = [threading.Thread(target=self._worker, daemon=True) for _ in range(self.threads)]
        started = time.perf_counter()
        self.started = time.monotonic()
        for worker in workers:
            worker.start()

        def finish():
            for worker in workers:
                worker.join()
            self.seconds = time.perf_counter() - started
            self.done.set()

        closer = threading.Thread(target=finish, daemon=True)
        closer.start()
        measure_inside(self)
        closer.join()


@dataclass
class Block:
    """One flood block and the quiet block measured just before it."""

    threads: int
    quiet: list  # the allowlisted client's latencies without flood (seconds)
    during: list  # its latencies during the flood
    flood: Flood
    client_cpu: float  # CPU seconds this process used during the flood (generator and allowlisted client)
    server_cpu: float | None  # CPU seconds the Odoo server used during the flood


@dataclass
class Measurements:
    single: dict = field(default_factory=dict)  # kind -> latencies of sequential requests, no flood
    single_sent: Counter = field(default_factory=Counter)  # client -> sequential refused requests answered
    blocks: list = field(default_factory=list)
    failures: list = field(default_factory=list)  # requests that did not get the expected answer

    def refused_sent(self):
        """client -> refused requests answered, flood and sequential."""
        sent = Counter(self.single_sent)
        for block in self.blocks:
            sent.update(block.flood.sent)
        return sent


def configure(port, edge=False):
    """Enforce the allowlist of the insider only; with ``edge``, trust nginx and return the export it gets."""
    call = admin_rpc(port, DBNAME)
    call("perimeter.allowlist", "create", [{"name": "Benchmark client", "network": f"{INSIDER}/32"}])
    call("ir.config_parameter", "set_param", "perimeter_security.mode", "enforce")
    call("ir.config_parameter", "set_param", "perimeter_security.allow_loopback", "False")
    if not edge:
        return None
    call("ir.config_parameter", "set_param", "perimeter_security.trusted_proxies", f"{EDGE_PROXY}/32")
    export = call("perimeter.edge.export", "create", {"edge": "nginx"})
    return call("perimeter.edge.export", "read", [export], ["content"])[0]["content"]


def measure_single(port, measured, requests, block=10):
    """What one request costs with no flood: allowed, and refused on each flood path, interleaved in blocks."""
    kinds = [(f"allowed: POST {ROUTE}", None), *((f"refused: GET {path}", path) for path in FLOOD_PATHS)]
    for label, _path in kinds:
        measured.single[label] = []
    for turn in range(-(-requests // block) + 1):  # the first round warms up and is not kept
        for label, path in kinds:
            for _ in range(block):
                if path is None:
                    elapsed = insider_request(port)
                else:
                    elapsed, status, _data = timed_request(port, "GET", path, source=SEQUENTIAL_OUTSIDER)
                    measured.single_sent[SEQUENTIAL_OUTSIDER] += 1
                    elapsed = elapsed if status == 403 else None
                if elapsed is None:
                    measured.failures.append(label)
                elif turn:
                    measured.single[label].append(elapsed)


def measure_floods(port, server_pid, args, measured):
    """Rounds; in each, per flood concurrency (rotating order): a quiet block, then a flood block."""
    deadline = time.monotonic() + args.max_seconds
    blocks = args.rounds * len(args.threads)
    per_block = -(-args.flood_requests // blocks)
    for turn in range(args.rounds):
        shift = turn % len(args.threads)
        for threads in args.threads[shift:] + args.threads[:shift]:
            values = [insider_request(port) for _ in range(args.quiet_requests)]
            count = min(per_block, args.flood_requests - sum(sum(b.flood.sent.values()) for b in measured.blocks))
            flood = Flood(port, count=count, clients=args.clients, threads=threads, deadline=deadline, rate=args.rate)
            samples = []

            def inside(flood, samples=samples):
                while not flood.done.is_set() and len(samples) < args.max_insider:
                    samples.append(insider_request(port))

            before = cpu_seconds(server_pid)
            flood.run_with(inside)
            after = cpu_seconds(server_pid)
            measured.failures.extend(["allowed, no flood"] * values.count(None))
            measured.failures.extend(["allowed, during the flood"] * samples.count(None))
            measured.blocks.append(Block(
                threads, [value for value in values if value is not None],
                [value for value in samples if value is not None], flood, after[0] - before[0],
                None if after[1] is None or before[1] is None else after[1] - before[1],
            ))
            print(f"   round {turn + 1}, {threads} flooding threads: {sum(flood.sent.values()):,} refused requests "
                  f"in {flood.seconds:.1f} s, {len(samples)} allowlisted requests meanwhile", flush=True)


def access_log_rows(bench):
    """[(ip, reason, blocked, window_start, hits)] of the flood's clients, as PostgreSQL has them."""
    output = bench.psql(DBNAME, "SELECT ip, reason, blocked, window_start, hits FROM perimeter_access_log "
                                "WHERE ip LIKE '127.0.0.%' ORDER BY ip, reason, window_start")
    rows = []
    for line in output.splitlines():
        ip, reason, blocked, window, hits = line.split("|")
        rows.append((ip, reason, blocked == "t", window, int(hits)))
    return rows


def wait_for_rows(bench, expected_hits):
    """Poll until the rows hold ``expected_hits`` (or FLUSH_WAIT passes); return (rows, seconds waited)."""
    started = time.monotonic()
    while True:
        rows = access_log_rows(bench)
        if sum(row[4] for row in rows) >= expected_hits or time.monotonic() - started > FLUSH_WAIT:
            return rows, time.monotonic() - started
        time.sleep(0.5)


def percentile_90(values):
    return statistics.quantiles(values, n=10)[-1] if len(values) >= 10 else max(values)


def median_ms(values):
    return f"{statistics.median(values) * 1e3:.2f}"


def p90_ms(values):
    return f"{(statistics.quantiles(values, n=10)[-1] if len(values) >= 10 else max(values)) * 1e3:.2f}"


def report_single(measured):
    allowed = next(iter(measured.single.values()))
    print("\n| one request, no flood | requests | median (ms) | p90 (ms) | vs the allowed request |")
    print("|---|---:|---:|---:|---:|")
    for label, values in measured.single.items():
        ratio = statistics.median(values) / statistics.median(allowed)
        print(f"| {label} | {len(values):,} | {median_ms(values)} | {p90_ms(values)} | {ratio:.2f}x |")


def report_latency(args, measured):
    print(f"\n| allowlisted client (POST {ROUTE}) | requests | median (ms) | p90 (ms) "
          "| median vs without flood | paired by round (each flood block / the quiet block before it) |")
    print("|---|---:|---:|---:|---:|---:|")
    quiet = [value for block in measured.blocks for value in block.quiet]
    print(f"| without flood | {len(quiet):,} | {median_ms(quiet)} | {p90_ms(quiet)} | 1.00x | |")
    for threads in args.threads:
        blocks = [block for block in measured.blocks if block.threads == threads and block.during and block.quiet]
        during = [value for block in blocks for value in block.during]
        if not during:
            continue
        paired = [statistics.median(block.during) / statistics.median(block.quiet) for block in blocks]
        print(f"| during a flood from {threads} threads | {len(during):,} | {median_ms(during)} | {p90_ms(during)} "
              f"| {statistics.median(during) / statistics.median(quiet):.2f}x "
              f"| {statistics.median(paired):.2f}x ({', '.join(f'{ratio:.2f}' for ratio in paired)}) |")


def report_flood(args, measured, rows, waited):
    """The flood and the access log it left; returns the problems found."""
    print("\n| flooding threads | refused requests | answered 403 | no answer | flood time (s) | refused/s "
          "| CPU cores used by Odoo | by the flood generator (this script) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for threads in args.threads:
        blocks = [block for block in measured.blocks if block.threads == threads]
        floods = [block.flood for block in blocks]
        total = sum(sum(flood.sent.values()) for flood in floods)
        seconds = sum(flood.seconds for flood in floods) or float("nan")
        server = [block.server_cpu for block in blocks]
        server_cores = "n/a" if None in server else f"{sum(server) / seconds:.2f}"
        print(f"| {threads} | {total:,} | {sum(flood.statuses[403] for flood in floods):,} "
              f"| {sum(sum(flood.errors.values()) for flood in floods)} | {seconds:.1f} | {total / seconds:.0f} "
              f"| {server_cores} | {sum(block.client_cpu for block in blocks) / seconds:.2f} |")

    if args.edge:
        return _edge_problems(measured, rows) + _answer_problems(measured)
    sent = measured.refused_sent()
    per_key = Counter((ip, reason, blocked, window) for ip, reason, blocked, window, _hits in rows)
    rows_per_client = Counter(ip for ip, *_rest in rows)
    windows = len({window for *_rest, window, _hits in rows})
    hits_by_client = defaultdict(int)
    for ip, _reason, _blocked, _window, hits in rows:
        hits_by_client[ip] += hits
    mismatched = sorted(ip for ip in set(sent) | set(hits_by_client) if sent[ip] != hits_by_client[ip])
    print("\n| refused requests sent | clients | rows | rows per client (max) | log windows "
          "| rows per client and window (max) | hits in rows | clients whose hits differ | complete after |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    print(f"| {sum(sent.values()):,} | {len(sent)} | {len(rows)} | {max(rows_per_client.values(), default=0)} "
          f"| {windows} | {max(per_key.values(), default=0)} | {sum(hits_by_client.values()):,} | {len(mismatched)} "
          f"| {waited:.1f} s |")

    problems = _answer_problems(measured)
    if mismatched:
        problems.append(f"hits differ from requests sent for {mismatched[:5]}")
    if max(per_key.values(), default=0) > 1 or any(count > windows for count in rows_per_client.values()):
        problems.append("more than one row per client and window")
    return problems


def _answer_problems(measured):
    problems = []
    statuses = sum((block.flood.statuses for block in measured.blocks), Counter())
    if set(statuses) - {403}:
        problems.append(f"flood answers other than 403: {dict(statuses)}")
    if measured.failures:
        problems.append(f"unexpected answers: {dict(Counter(measured.failures))}")
    return problems


def _edge_problems(measured, rows):
    """With nginx in front, Odoo's access log must not have seen any refused request."""
    sent = sum(measured.refused_sent().values())
    print("\n| refused requests sent | refused by nginx (403) | rows in Odoo's access log | hits in them |")
    print("|---:|---:|---:|---:|")
    statuses = sum((block.flood.statuses for block in measured.blocks), Counter())
    print(f"| {sent:,} | {statuses[403] + measured.single_sent[SEQUENTIAL_OUTSIDER]:,} | {len(rows)} "
          f"| {sum(row[4] for row in rows):,} |")
    return [f"{len(rows)} access-log rows: refused requests reached Odoo through nginx"] if rows else []


def report(args, measured, rows, waited):
    edge = "; every request through nginx with the exported allowlist (`--edge`)" if args.edge else ""
    print(f"\nOdoo `--workers={args.workers}`{edge}, enforce mode, allowlist 127.0.0.1/32, loopback not special; "
          f"every request on a new connection. Flood: {f'{args.rate:g} requests/s' if args.rate else 'unpaced'}, "
          f"{args.clients} clients (127.0.0.10+), paths "
          f"{', '.join(FLOOD_PATHS)}. Python {platform.python_version()}, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}.")
    report_single(measured)
    if args.costs_only:
        return _answer_problems(measured)
    report_latency(args, measured)
    problems = report_flood(args, measured, rows, waited)
    print("\nRead: the first table is what one request costs with no flood (a refusal vs an allowed request). "
          "The second compares the allowlisted client's median latency during each flood with its own without "
          "flood, in the same run (target <= 1.5x); the paired column divides each flood block by the quiet block "
          "just before it, which cancels a shared machine's drift. The third: how many refusals per second the server "
          "answered, and the CPU it took (the flood generator runs on the same machine and takes its share: a flood "
          "that saturates the CPUs slows everything down, so the ratio measures queueing as much as the module). "
          "The fourth: what the access log kept: one row per client, reason and hour, whose hits add up to exactly "
          "the refused requests sent.")
    return problems


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", type=int, default=2, help="Odoo --workers (0: the threaded server)")
    parser.add_argument("--flood-requests", type=int, default=5000, help="refused requests in all")
    parser.add_argument("--clients", type=int, default=50, help="distinct flooding addresses (at most 240)")
    parser.add_argument("--threads", default="2,4",
                        help="flooding threads: one flood block per value and round (comma separated)")
    parser.add_argument("--rate", type=float, default=0,
                        help="paced flood: refused requests per second in all (0: as fast as the server answers)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quiet-requests", type=int, default=100, help="allowlisted requests per quiet block")
    parser.add_argument("--max-insider", type=int, default=3000, help="cap on allowlisted requests per flood block")
    parser.add_argument("--single-requests", type=int, default=100,
                        help="sequential requests per kind for the cost of one request")
    parser.add_argument("--max-seconds", type=float, default=240, help="cap on the flood phase")
    parser.add_argument("--edge", action="store_true",
                        help="put a real nginx with the exported allowlist in front of Odoo")
    parser.add_argument("--costs-only", action="store_true",
                        help="measure only the cost of one request, allowed and refused (no flood)")
    parser.add_argument("--until-banned", action="store_true",
                        help="one client floods until the automatic ban stops it (bench_flood_ban.py)")
    parser.add_argument("--ban-after", type=int, default=200, help="with --until-banned: refusals before a ban")
    parser.add_argument("--after-seconds", type=float, default=10, help="with --until-banned: flood on, banned")
    parser.add_argument("--ipv6-walk", type=int, default=0, metavar="N",
                        help="with --until-banned: a new IPv6 address per request over N /64s (via a trusted proxy)")
    args = parser.parse_args()
    if args.costs_only:
        args.rounds = 0
    if args.until_banned:
        import bench_flood_ban  # noqa: PLC0415 -- its own scenario, in its own file

        bench_flood_ban.run(args)
        return
    if args.edge and NGINX is None:
        parser.error("--edge needs nginx (apt-get install nginx-light)")
    args.threads = [int(value) for value in args.threads.split(",") if value.strip()]
    if not 1 <= args.clients <= 240:
        parser.error("--clients must be between 1 and 240 (127.0.0.10 to 127.0.0.249)")

    with bench_environment() as bench:
        bench.install(DBNAME, "perimeter_security")
        port, gevent_port = free_port(), free_port()
        # ``-d`` alone, as a single-database server is configured: with ``--db-filter`` Odoo would list the
        # databases (a new PostgreSQL connection) on every request without a session, refused or not.
        argv = bench.argv(f"--workers={args.workers}", "--http-interface=127.0.0.1", f"--http-port={port}",
                          f"--gevent-port={gevent_port}", "-d", DBNAME)
        with (odoo_server(argv, port, os.path.join(bench.data_dir, "odoo.log")) as server,
              contextlib.ExitStack() as stack):
            allowlist = configure(port, edge=args.edge)
            bench.psql(DBNAME, "VACUUM ANALYZE")
            target = stack.enter_context(NginxProxy(allowlist, port, proxy_bind=EDGE_PROXY)).port \
                if args.edge else port
            if insider_request(target) is None:
                raise SystemExit("the allowlisted client is refused after configuration")
            print(f"-- enforce mode on {DBNAME}, --workers={args.workers}{', through nginx' if args.edge else ''}; "
                  "measuring", flush=True)
            measured = Measurements()
            measure_single(target, measured, args.single_requests)
            if not args.costs_only:
                measure_floods(target, server.pid, args, measured)
            # With the edge, nothing should arrive: wait one flush period anyway, to see it stay empty.
            rows, waited = wait_for_rows(bench, 0 if args.edge else sum(measured.refused_sent().values()))
            if args.edge and not rows:
                time.sleep(6)
                rows, waited = access_log_rows(bench), waited + 6
        problems = report(args, measured, rows, waited)
    if problems:
        raise SystemExit("FAILED: " + "; ".join(problems))


if __name__ == "__main__":
    main()
