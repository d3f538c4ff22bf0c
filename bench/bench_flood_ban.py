"""``bench_flood.py --until-banned``: one client floods a real Odoo server until the automatic ban stops it.

Odoo runs with ``--workers`` (prefork, 2 by default), enforce mode, the
allowlist holding 127.0.0.1 only, and automatic bans on (more than
``--ban-after`` refused requests within the 10-minute alert window, 10
minutes). One client, 127.0.0.250, sends refused requests from ``--threads``
threads, bounded by ``--flood-requests`` and ``--max-seconds``, and keeps going
for ``--after-seconds`` once banned. Reported: when the ban came (seconds,
requests sent by then), what the flood became (refusals with reason
``blocklisted``), and the database work: access-log rows, ban counters,
blocklist rows. Exits non-zero when no ban came.

``--ipv6-walk N``: the flooder is a trusted proxy and every request carries a
new IPv6 address in ``X-Forwarded-For``, walking through N /64 networks
(2001:db8:1:<n>::/64, addresses rotating within each), as an attacker with
a /48 does: what a rotation costs, and what the ban covers.
"""

import itertools
import os
import threading
import time
from collections import Counter

from odoo_server import admin_rpc, bench_environment, free_port, odoo_server, timed_request

SNAPSHOT_TTL = 5  # seconds: guard/server_tier.py's copy of a database's policy

DBNAME = "bench_flood_ban"
FLOODER = "127.0.0.250"
PATHS = ("/web/login", "/wp-login.php", "/odoo", "/xmlrpc/2/common")


def configure(port, ban_after, ipv6_walk=0):
    call = admin_rpc(port, DBNAME)
    call("perimeter.allowlist", "create", [{"name": "Benchmark client", "network": "127.0.0.1/32"}])
    settings = [("mode", "enforce"), ("allow_loopback", "False"), ("autoban_refusals", str(ban_after)),
                ("autoban_minutes", "10"), ("alert_window_minutes", "10")]
    if ipv6_walk:
        settings.append(("trusted_proxies", f"{FLOODER}/32"))
    for key, value in settings:
        call("ir.config_parameter", "set_param", f"perimeter_security.{key}", value)
    if ipv6_walk:
        # Each worker's door keeps a copy of the policy for a few seconds: until it has the trusted
        # proxy, it would take the flooder's headers for forged ones (untrusted_proxy_headers).
        time.sleep(SNAPSHOT_TTL + 1)


def ipv6_addresses(networks):
    """Endless addresses: a new one for each request, round-robin over ``networks`` /64s."""
    for n in itertools.count(1):
        yield f"2001:db8:1:{n % networks:x}:{(n * 7919) & 0xFFFF:x}::{n & 0xFFFF:x}"


def banned_at(bench):
    return bench.psql(DBNAME, "SELECT count(*) FROM perimeter_blocklist WHERE source = 'automatic'").strip() != "0"


def run(args):
    with bench_environment() as bench:
        bench.install(DBNAME, "perimeter_security")
        port, gevent_port = free_port(), free_port()
        argv = bench.argv(f"--workers={args.workers}", "--http-interface=127.0.0.1", f"--http-port={port}",
                          f"--gevent-port={gevent_port}", "-d", DBNAME)
        with odoo_server(argv, port, os.path.join(bench.data_dir, "odoo.log")):
            configure(port, args.ban_after, args.ipv6_walk)
            walk = f", a new IPv6 address per request over {args.ipv6_walk} /64s" if args.ipv6_walk else ""
            print(f"-- enforce, ban after {args.ban_after} refusals, --workers={args.workers}{walk}; flooding",
                  flush=True)
            results = flood(bench, port, args)
            time.sleep(6)  # one more flush period: the last hits reach the log
            rows = bench.psql(DBNAME, "SELECT reason, count(*), sum(hits) FROM perimeter_access_log GROUP BY reason")
            counters = bench.psql(DBNAME, "SELECT count(*) FROM perimeter_autoban_counter").strip()
            bans = bench.psql(DBNAME, "SELECT network, reason, ban_count FROM perimeter_blocklist").strip()
            alerts = bench.psql(DBNAME, "SELECT count(*) FROM perimeter_access_alert").strip()
    report(args, results, {"rows": rows, "counters": counters, "bans": bans, "alerts": alerts})


def flood(bench, port, args):
    lock = threading.Lock()
    sent = Counter()
    state = {"banned_at": None, "sent_at_ban": None, "stop": False}
    started = time.monotonic()
    paths = itertools.cycle(PATHS)
    addresses = ipv6_addresses(args.ipv6_walk) if args.ipv6_walk else None
    budget = iter(range(args.flood_requests))

    def worker():
        while not state["stop"]:
            with lock:
                if next(budget, None) is None:
                    return
                path = next(paths)
                headers = {"X-Forwarded-For": next(addresses)} if addresses else None
            _elapsed, status, _data = timed_request(port, "GET", path, headers=headers, source=FLOODER, timeout=30)
            with lock:
                sent[status] += 1

    count = max(int(value) for value in str(args.threads).split(",") if value.strip())  # --threads "2,4": 4
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(count)]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        now = time.monotonic() - started
        if state["banned_at"] is None and banned_at(bench):
            state["banned_at"], state["sent_at_ban"] = now, sum(sent.values())
        if now > args.max_seconds or (state["banned_at"] is not None and
                                      now > state["banned_at"] + args.after_seconds):
            state["stop"] = True
        time.sleep(0.25)
    for thread in threads:
        thread.join(timeout=35)
    return {"sent": sent, "elapsed": time.monotonic() - started, **state}


def report(args, results, database):
    sent = results["sent"]
    print("\n| what | value |\n|---|---|")
    print(f"| refused requests sent | {sum(sent.values())} ({dict(sent)}) in {results['elapsed']:.1f} s |")
    if results["banned_at"] is not None:
        print(f"| banned after | {results['banned_at']:.1f} s, {results['sent_at_ban']} requests "
              f"(threshold {args.ban_after}; flush every 5 s per worker) |")
    for line in database["rows"].strip().splitlines():
        reason, count, hits = line.split("|")
        print(f"| access-log rows `{reason}` | {count} rows, {hits} hits |")
    print(f"| ban counter rows | {database['counters']} |")
    print(f"| alerts | {database['alerts']} |")
    print(f"| blocklist | {'; '.join(database['bans'].splitlines())} |")
    if results["banned_at"] is None:
        raise SystemExit(f"FAILED: no ban within {args.max_seconds} s")
