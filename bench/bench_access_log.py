#!/usr/bin/env python3
"""What a flood of refused requests costs the access log, against a plain dict increment, same run.

    python3 bench/bench_access_log.py [--quick]

For floods from 1, 100, 10,000 and 100,000 client addresses (the last one
beyond the in-memory key cap), prints a markdown table: ``Aggregator.add``
throughput (hits/s, one thread and four threads), its cost per hit next to a
``dict[key] += 1`` on the same keys, and the rows one flush would write
(buckets drained) with the hits they carry. No database is involved: this is
the request-path cost; the flush writes ``rows`` rows every few seconds
whatever the number of hits.
"""

import argparse
import os
import statistics
import sys
import threading
import time
from datetime import datetime, timedelta

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from perimeter.accesslog import MAX_KEYS, Aggregator, Hit  # noqa: E402

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


def time_aggregator(hits, threads):
    """Seconds to add every hit (split across ``threads``), and the aggregator."""
    aggregator = Aggregator()
    shares = [hits[index::threads] for index in range(threads)]
    start = threading.Barrier(threads + 1)

    def run(share):
        add = aggregator.add
        start.wait()
        for hit in share:
            add("db", hit)

    workers = [threading.Thread(target=run, args=(share,)) for share in shares]
    for worker in workers:
        worker.start()
    started = time.perf_counter()
    start.wait()
    for worker in workers:
        worker.join()
    return time.perf_counter() - started, aggregator


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
    print(f"Python {sys.version.split()[0]}; {count:,} hits per run; median of {rounds} runs; "
          f"key cap {MAX_KEYS:,}\n")
    print("| clients | hits/s, 1 thread | hits/s, 4 threads | µs per hit | dict += 1 µs | ratio | "
          "rows per flush | hits in them |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for clients in (1, 100, 10_000, 100_000):
        hits = make_hits(clients, count)
        one = median(lambda hits=hits: time_aggregator(hits, 1)[0], rounds)
        four = median(lambda hits=hits: time_aggregator(hits, 4)[0], rounds)
        base = median(lambda hits=hits: time_dict_baseline(hits), rounds)
        _seconds, aggregator = time_aggregator(hits, 4)
        buckets = aggregator.drain().get("db", [])
        lost, _overflowed = aggregator.take_lost()
        carried = sum(bucket.hits for bucket in buckets)
        assert carried + lost == count, "every hit is in a row or counted as lost"
        print(f"| {clients:,} | {count / one:,.0f} | {count / four:,.0f} | {one / count * 1e6:.2f} | "
              f"{base / count * 1e6:.2f} | {one / base:.1f}x | {len(buckets):,} | {carried:,} |")


if __name__ == "__main__":
    main()
