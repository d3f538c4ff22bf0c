import pytest

from perimeter.blocklist import check_blockable


def test_networks_are_normalised_like_the_allowlist():
    assert check_blockable("203.0.113.9") == "203.0.113.9/32"
    assert check_blockable("2001:db8::1") == "2001:db8::1/128"
    with pytest.raises(ValueError, match="did you mean '203.0.113.0/24'"):
        check_blockable("203.0.113.9/24")


@pytest.mark.parametrize("network", ["127.0.0.1", "127.0.0.0/8", "0.0.0.0/0", "::1", "::/0", "::ffff:127.0.0.1"])
def test_this_servers_own_loopback_can_never_be_blocked(network):
    with pytest.raises(ValueError, match="cannot be blocked"):
        check_blockable(network)


def test_other_loopback_addresses_and_neighbours_can_be_blocked():
    assert check_blockable("127.0.0.2") == "127.0.0.2/32"
    assert check_blockable("::2") == "::2/128"


# -- automatic bans -------------------------------------------------------------------------------

from datetime import datetime  # noqa: E402

from perimeter.access_log import Aggregator, Hit  # noqa: E402
from perimeter.blocklist import MAX_BAN, ban_counts, ban_minutes, ban_reason  # noqa: E402


def test_bans_escalate_for_repeat_offenders_up_to_a_cap():
    assert [ban_minutes(10, n) for n in range(4)] == [10, 20, 40, 80]
    assert ban_minutes(10, 50) == MAX_BAN


def test_counts_separate_refusals_from_failed_logins_per_window():
    aggregator = Aggregator()
    at = datetime(2026, 11, 30, 12, 3)
    for reason, blocked, n in (("not_allowlisted", True, 5), ("failed_login", True, 3), ("blocklisted", True, 9),
                               ("not_allowlisted", False, 7)):
        for _ in range(n):
            aggregator.add("db", Hit("192.0.2.7", reason, blocked, at=at))
    counts = ban_counts(aggregator.drain()["db"], 10)
    assert list(counts) == [("192.0.2.7", datetime(2026, 11, 30, 12, 0))]
    first = counts["192.0.2.7", datetime(2026, 11, 30, 12, 0)]
    assert (first.refusals, first.failed_logins) == (5, 3)
    # The next flush's hits, ten minutes on, fall in the next window.
    aggregator.add("db", Hit("192.0.2.7", "not_allowlisted", True, at=datetime(2026, 11, 30, 12, 13)))
    later = ban_counts(aggregator.drain()["db"], 10)
    assert later["192.0.2.7", datetime(2026, 11, 30, 12, 10)].refusals == 1


def test_monitored_hits_count_only_in_monitor_mode():
    aggregator = Aggregator()
    for _ in range(4):
        aggregator.add("db", Hit("192.0.2.7", "not_allowlisted", False, at=datetime(2026, 11, 30, 12, 3)))
    buckets = aggregator.drain()["db"]
    assert ban_counts(buckets, 10) == {}
    assert next(iter(ban_counts(buckets, 10, monitored=True).values())).refusals == 4


def test_ban_reason_names_the_rule_that_fired_and_zero_is_off():
    assert ban_reason(101, 0, 100, 0, 10) == "101 refused requests within 10 minutes (more than 100)"
    assert ban_reason(100, 0, 100, 0, 10) == ""
    assert "6 failed logins" in ban_reason(0, 6, 0, 5, 10)
    assert ban_reason(10**6, 10**6, 0, 0, 10) == ""
