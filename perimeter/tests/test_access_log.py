import logging
import os
import threading
import time
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perimeter.access_log import (
    OVERFLOW_IP,
    Aggregator,
    Hit,
    alert_window,
    network_to_admit,
    refused_per_client,
    storable,
    summarize,
)
from perimeter.flusher import PeriodicFlusher

T0 = datetime(2026, 3, 1, 10, 0, 0)


def hit(ip="203.0.113.9", reason="not_allowlisted", blocked=True, at=T0, **kw):
    return Hit(ip=ip, reason=reason, blocked=blocked, at=at, **kw)


def drained(aggregator, dbname="db"):
    return {(b.ip, b.reason, b.blocked, b.window_start()): b for b in aggregator.drain().get(dbname, [])}


def test_a_flood_from_threads_becomes_one_bucket_per_client_with_exact_counts():
    aggregator = Aggregator()
    clients = [f"198.51.100.{n}" for n in range(1, 31)]

    def flood(offset):
        for n in range(1000):
            aggregator.add("db", hit(ip=clients[(n + offset) % len(clients)], at=T0 + timedelta(seconds=n % 60)))

    threads = [threading.Thread(target=flood, args=(offset,)) for offset in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    buckets = drained(aggregator)
    assert len(buckets) == len(clients)
    assert sum(b.hits for b in buckets.values()) == 5000
    assert {b.ip for b in buckets.values()} == set(clients)
    assert min(b.first_seen for b in buckets.values()) == T0
    assert max(b.last_seen for b in buckets.values()) == T0 + timedelta(seconds=59)
    assert aggregator.pending_hits() == 0 and len(aggregator) == 0


def test_rows_are_split_by_hour_reason_verdict_and_database():
    aggregator = Aggregator()
    aggregator.add("db", hit(at=T0 + timedelta(minutes=59, seconds=59)))
    aggregator.add("db", hit(at=T0 + timedelta(minutes=60)))
    aggregator.add("db", hit(reason="not_https"))
    aggregator.add("db", hit(blocked=False))
    aggregator.add("other", hit())
    aggregator.add(None, hit())
    grouped = aggregator.drain()
    assert sorted(grouped, key=str) == [None, "db", "other"]
    windows = sorted((b.window_start(), b.reason, b.blocked) for b in grouped["db"])
    assert windows == [
        (T0, "not_allowlisted", False),
        (T0, "not_allowlisted", True),
        (T0, "not_https", True),
        (T0 + timedelta(hours=1), "not_allowlisted", True),
    ]


def test_latest_details_win_even_when_hits_arrive_out_of_order():
    aggregator = Aggregator()
    late = T0 + timedelta(seconds=10)
    aggregator.add("db", hit(at=late, path="/late", method="POST", user_agent="B", peer="10.0.0.1"))
    aggregator.add("db", hit(at=T0, path="/early", method="GET", user_agent="A"))
    (bucket,) = drained(aggregator).values()
    assert (bucket.hits, bucket.first_seen, bucket.last_seen) == (2, T0, T0 + timedelta(seconds=10))
    assert (bucket.path, bucket.method, bucket.user_agent, bucket.peer) == ("/late", "POST", "B", "10.0.0.1")


def test_what_a_client_sends_is_clipped_and_odd_values_do_not_break_it():
    aggregator = Aggregator()
    aggregator.add("db", hit(path="/" + "a" * 100_000, user_agent="x" * 100_000, method="M" * 100))
    aggregator.add("db", Hit(ip=None, reason="not_https", blocked=True, user_agent=None, path=None, at=None))
    aware = datetime(2026, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=2)))
    aggregator.add("db", Hit(ip="192.0.2.1", reason="not_https", blocked=True, at=aware))
    buckets = drained(aggregator)
    flooded = buckets["203.0.113.9", "not_allowlisted", True, T0]
    assert len(flooded.path) == 1024 and len(flooded.user_agent) == 256 and len(flooded.method) == 16
    unknown = next(b for b in buckets.values() if b.ip == "unknown")
    assert unknown.path == "" and unknown.user_agent == ""
    converted = next(b for b in buckets.values() if b.ip == "192.0.2.1")
    assert converted.last_seen == datetime(2026, 3, 1, 10, 30)


def test_what_postgresql_cannot_store_is_escaped_when_the_hit_is_taken():
    # Issue 10 #1: one NUL byte in a user agent or a path made every later flush fail.
    aggregator = Aggregator()
    aggregator.add("db", hit(path="/odoo\x00", user_agent="a\x00b", method="G\x01T", peer="p\ud800"))
    aggregator.add("db", hit(ip="bad\x00hop", path="/" + "\x00" * 5000))
    buckets = drained(aggregator)
    first = buckets["203.0.113.9", "not_allowlisted", True, T0]
    assert (first.path, first.user_agent, first.method, first.peer) == ("/odoo\\x00", "a\\x00b", "G\\x01T",
                                                                        "p\\ud800")
    second = buckets["bad\\x00hop", "not_allowlisted", True, T0]
    assert len(second.path) == 1024 and second.path.startswith("/\\x00\\x00")
    for bucket in (first, second):
        for text in (bucket.ip, bucket.path, bucket.user_agent, bucket.method, bucket.peer):
            assert not any(ord(char) < 0x20 or 0x7F <= ord(char) <= 0x9F or 0xD800 <= ord(char) <= 0xDFFF
                           for char in text), text
            text.encode("utf-8")  # no lone surrogate left


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=2000), st.integers(min_value=1, max_value=1024))
def test_storable_text_is_bounded_and_encodable(text, limit):
    value = storable(text, limit)
    assert len(value) <= limit
    assert "\x00" not in value
    value.encode("utf-8")
    if text.isprintable() and len(text) <= limit:
        assert value == text


def test_memory_is_bounded_and_nothing_is_silently_lost():
    aggregator = Aggregator(max_keys=10, overflow_keys=2)
    for n in range(50):
        aggregator.add("db", hit(ip=f"10.0.0.{n}"))
    assert len(aggregator) == 11  # 10 clients and one overflow bucket
    aggregator.add("db", hit(ip="10.9.9.9", reason="not_https"))  # a second overflow bucket
    aggregator.add("db", hit(ip="10.9.9.9", reason="untrusted_proxy_headers"))  # no room left
    assert len(aggregator) == 12
    assert aggregator.take_lost() == (1, 41)
    assert aggregator.take_lost() == (0, 0)
    buckets = drained(aggregator)
    assert buckets[OVERFLOW_IP, "not_allowlisted", True, T0].hits == 40
    assert sum(b.hits for b in buckets.values()) == 51


def test_drain_by_database_and_requeue_merges_back():
    aggregator = Aggregator()
    aggregator.add("a", hit(at=T0))
    aggregator.add("b", hit())
    taken = aggregator.drain(lambda dbname: dbname == "a")
    assert list(taken) == ["a"]
    assert aggregator.pending_hits() == 1 and aggregator.pending_hits("a") == 0
    aggregator.add("a", hit(at=T0 + timedelta(seconds=5), path="/newer"))
    aggregator.requeue(taken["a"])  # a failed flush gives its buckets back
    (bucket,) = aggregator.drain(lambda dbname: dbname == "a")["a"]
    assert (bucket.hits, bucket.first_seen, bucket.path) == (2, T0, "/newer")


def test_requeue_is_bounded_too():
    aggregator = Aggregator(max_keys=2, overflow_keys=0)
    for n in range(3):
        aggregator.add("db", hit(ip=f"10.0.0.{n}"))
    failed = aggregator.drain()["db"]
    assert aggregator.take_lost() == (1, 0)
    aggregator.add("db", hit(ip="10.1.1.1"))
    aggregator.add("db", hit(ip="10.1.1.2"))
    aggregator.requeue(failed)
    assert aggregator.take_lost() == (2, 0)
    assert aggregator.pending_hits() == 2


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.sampled_from(["not_allowlisted", "not_https"]), st.booleans(),
                  st.integers(0, 7200)),
        max_size=200,
    ),
    st.integers(1, 20),
    st.integers(0, 5),
)
def test_every_hit_is_counted_exactly_once(events, max_keys, overflow_keys):
    aggregator = Aggregator(max_keys=max_keys, overflow_keys=overflow_keys)
    for index, (client, reason, blocked, seconds) in enumerate(events):
        aggregator.add("db", hit(ip=f"10.0.0.{client}", reason=reason, blocked=blocked,
                                 at=T0 + timedelta(seconds=seconds)))
        if index == len(events) // 2:
            aggregator.requeue(aggregator.drain().get("db", []))
    buckets = aggregator.drain().get("db", [])
    lost, _overflowed = aggregator.take_lost()
    assert sum(b.hits for b in buckets) + lost == len(events)
    assert len({b.key for b in buckets}) == len(buckets)
    for bucket in buckets:
        start = bucket.window_start()
        assert start <= bucket.first_seen <= bucket.last_seen < start + timedelta(hours=1)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="needs fork")
def test_a_forked_child_starts_empty_even_if_the_lock_was_held():
    aggregator = Aggregator()
    aggregator.add("db", hit())
    flusher = PeriodicFlusher(lambda: None, interval=60)
    flusher.ensure_started()
    aggregator._lock.acquire()  # another thread in the middle of add() at fork time
    try:
        pid = os.fork()
        if pid == 0:  # the child: its own empty aggregator, usable; no flusher thread yet
            code = 0
            try:
                aggregator.add("db", hit(ip="192.0.2.1"))
                if aggregator.pending_hits() != 1 or flusher.running or not flusher.ensure_started():
                    code = 1
            except BaseException:
                code = 2
            os._exit(code)
    finally:
        aggregator._lock.release()
    _pid, status = os.waitpid(pid, 0)
    flusher.stop()
    assert os.waitstatus_to_exitcode(status) == 0
    assert aggregator.pending_hits() == 1


def test_flusher_runs_periodically_survives_errors_and_stops(caplog):
    calls = []
    done = threading.Event()

    def flush():
        calls.append(time.monotonic())
        if len(calls) == 2:
            raise RuntimeError("database went away")
        if len(calls) >= 4:
            done.set()

    flusher = PeriodicFlusher(flush, interval=0.02, name="test-flusher")
    assert not flusher.running
    with caplog.at_level(logging.ERROR, logger="perimeter.flusher"):
        assert flusher.ensure_started()
        assert not flusher.ensure_started()  # already running: nothing to do
        assert done.wait(5)
        flusher.stop()
    assert not flusher.running
    settled = len(calls)
    time.sleep(0.1)
    assert len(calls) == settled
    assert "database went away" in caplog.text
    assert flusher.ensure_started()  # can be started again
    flusher.stop()


def test_alert_counts_refused_hits_per_client_and_window():
    aggregator = Aggregator()
    for n in range(30):
        aggregator.add("db", hit(ip="203.0.113.9", at=T0 + timedelta(minutes=n % 12)))
    aggregator.add("db", hit(ip="203.0.113.9", reason="not_https", at=T0 + timedelta(minutes=3)))
    aggregator.add("db", hit(ip="203.0.113.10", blocked=False))  # monitored: not a refusal
    buckets = []
    for n in range(3):  # three flushes: one bucket each time
        buckets += aggregator.drain().get("db", [])
        aggregator.add("db", hit(ip="203.0.113.9", at=T0 + timedelta(minutes=20 + n)))
    counts = refused_per_client(buckets, 10)
    # A bucket counts in the window of its latest hit: the first flush's 30 hits
    # (10:00-10:11) count at 10:10. Real buckets span a flush interval (seconds).
    assert sorted((ip, start, count.hits) for (ip, start), count in counts.items()) == [
        ("203.0.113.9", T0, 1),
        ("203.0.113.9", T0 + timedelta(minutes=10), 30),
        ("203.0.113.9", T0 + timedelta(minutes=20), 2),
    ]
    late = counts["203.0.113.9", T0 + timedelta(minutes=10)]
    assert (late.first_seen, late.last_seen, late.reason) == (T0, T0 + timedelta(minutes=11), "not_allowlisted")
    assert alert_window(T0 + timedelta(minutes=17, seconds=3), 10) == (T0 + timedelta(minutes=10),
                                                                       T0 + timedelta(minutes=20))


def test_summary_of_requests_without_a_database():
    aggregator = Aggregator()
    for n in range(8):
        for _ in range(n + 1):
            aggregator.add(None, hit(ip=f"192.0.2.{n}", path="/web/database/manager"))
    aggregator.add(None, hit(ip="192.0.2.1", blocked=False))
    line = summarize(aggregator.drain()[None], 60)
    assert line.startswith("37 refused or monitored requests without a database in the last 60 s")
    assert "36 not_allowlisted, 1 not_allowlisted (monitored)" in line
    assert "from 8 clients: 192.0.2.7 ×8, 192.0.2.6 ×7" in line and "and 3 more" in line


@pytest.mark.parametrize(
    ("address", "widen", "network"),
    [
        ("203.0.113.9", False, "203.0.113.9/32"),
        ("203.0.113.9", True, "203.0.113.0/24"),
        ("2001:db8:1:2:3::9", False, "2001:db8:1:2:3::9/128"),
        ("2001:DB8:1:2:3::9", True, "2001:db8:1:2::/64"),
        ("::ffff:198.51.100.7", True, "198.51.100.0/24"),
        ("fe80::1%eth0", False, "fe80::1/128"),
    ],
)
def test_network_to_admit(address, widen, network):
    assert network_to_admit(address, widen) == network


def test_network_to_admit_refuses_what_is_not_an_address():
    with pytest.raises(ValueError, match="'\\*' is not an IP address"):
        network_to_admit(OVERFLOW_IP)


def test_hits_default_to_now_in_naive_utc():
    before = datetime.now(UTC).replace(tzinfo=None)
    assert before <= Hit(ip="192.0.2.1", reason="not_https", blocked=True).at <= before + timedelta(seconds=5)
