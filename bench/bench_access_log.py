#!/usr/bin/env python3
"""What a flood of refused requests costs the access log, against a plain dict increment, same run.

    /opt/odoo18/venv/bin/python bench/bench_access_log.py [--quick]

For floods from 1, 100, 10,000 and 100,000 client addresses (the last two
beyond the in-memory key cap), prints a markdown table: ``record_hit``
throughput (hits/s, one thread and four threads), its cost per hit next to a
``dict[key] += 1`` on the same keys, and the rows one flush would write with
the hits they carry. With a Python that cannot import Odoo, the engine's
``Aggregator.add`` (all that ``record_hit`` does besides a flag test) is
measured instead. No database is involved: this is the request-path cost;
the flush writes that many rows every few seconds whatever the number of hits.
"""

import argparse
import atexit
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, REPO)

from perimeter.access_log import MAX_KEYS, Aggregator, Hit  # noqa: E402

REASONS = ("not_allowlisted", "not_https")


def make_hits(clients, count):
    """``count`` refused hits spread over ``clients`` addresses within one flush interval."""
    at = datetime(2026, 3, 1, 10, 0, 0)
    addresses = [f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}" for n in range(clients)]
    return [
        Hit(ip=addresses[n % clients], reason=REASONS[n % 7 == 0], blocked=True, path="/web/login", method="POST",
            user_agent="Mozilla/5.0 (flood)", at=at + timedelta(microseconds=n))
        for n in range(count)
    ]


def odoo_sink():
    """The addon's ``access_log`` module when Odoo can be imported, else None."""
    try:
        import odoo.addons
    except ImportError:
        return None
    addons = tempfile.mkdtemp(prefix="perimeter-bench-")
    atexit.register(shutil.rmtree, addons, ignore_errors=True)
    os.symlink(REPO, os.path.join(addons, "perimeter_security"))
    # Odoo's own addons too: importing the addon imports the models, which extend mail's.
    odoo_root = os.path.dirname(os.path.abspath(odoo.__file__))
    for folder in (os.path.join(odoo_root, "addons"), os.path.join(odoo_root, "..", "addons"), addons):
        if os.path.isdir(folder) and folder not in odoo.addons.__path__:
            odoo.addons.__path__.append(folder)
    from odoo.addons.perimeter_security.guard import access_log

    access_log.start_flusher(interval=1e6)  # started, as in a server, but idle: nothing is written
    return access_log


class EngineSink:
    """``record_hit`` without Odoo: the aggregator it feeds."""

    def __init__(self):
        self._aggregator = Aggregator()

    def record_hit(self, dbname, hit):
        self._aggregator.add(dbname, hit)

    def discard_pending(self):
        self._aggregator.drain()
        self._aggregator.take_lost()
        self._aggregator.forget_windows()


def time_sink(sink, hits, threads):
    """Seconds to record every hit (split across ``threads``); the buckets and lost count."""
    sink.discard_pending()
    shares = [hits[index::threads] for index in range(threads)]
    start = threading.Barrier(threads + 1)

    def run(share):
        record_hit = sink.record_hit
        start.wait()
        for hit in share:
            record_hit("db", hit)

    workers = [threading.Thread(target=run, args=(share,)) for share in shares]
    for worker in workers:
        worker.start()
    started = time.perf_counter()
    start.wait()
    for worker in workers:
        worker.join()
    elapsed = time.perf_counter() - started
    buckets = sink._aggregator.drain().get("db", [])
    lost, _overflowed = sink._aggregator.take_lost()
    return elapsed, buckets, lost


def time_dict_baseline(hits):
    """The least any counter can do: one dict increment per hit on the same key."""
    counts = {}
    started = time.perf_counter()
    for hit in hits:
        key = ("db", hit.ip, hit.reason, hit.blocked)
        counts[key] = counts.get(key, 0) + 1
    return time.perf_counter() - started


def median(function, rounds):
    return statistics.median(function() for _ in range(rounds))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="fewer hits (a smoke run)")
    args = parser.parse_args()
    count = 50_000 if args.quick else 300_000
    rounds = 3 if args.quick else 5
    sink = odoo_sink()
    measured = "access_log.record_hit" if sink else "Aggregator.add (Odoo not importable)"
    sink = sink or EngineSink()
    print(f"Python {sys.version.split()[0]}; {measured}; {count:,} hits per run; median of {rounds} runs; "
          f"key cap {MAX_KEYS:,}\n")
    print("| clients | hits/s, 1 thread | hits/s, 4 threads | µs per hit | dict += 1 µs | ratio | "
          "rows per flush | hits in them | lost |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    try:
        for clients in (1, 100, 10_000, 100_000):
            hits = make_hits(clients, count)
            one = median(lambda hits=hits: time_sink(sink, hits, 1)[0], rounds)
            four = median(lambda hits=hits: time_sink(sink, hits, 4)[0], rounds)
            base = median(lambda hits=hits: time_dict_baseline(hits), rounds)
            _seconds, buckets, lost = time_sink(sink, hits, 4)
            carried = sum(bucket.hits for bucket in buckets)
            assert carried + lost == count, "every hit is in a row or counted as lost"
            print(f"| {clients:,} | {count / one:,.0f} | {count / four:,.0f} | {one / count * 1e6:.2f} | "
                  f"{base / count * 1e6:.2f} | {one / base:.1f}x | {len(buckets):,} | {carried:,} | {lost:,} |")
    finally:
        sink.discard_pending()
        if hasattr(sink, "stop_flusher"):
            sink.stop_flusher()


if __name__ == "__main__":
    main()
