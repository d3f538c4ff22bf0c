"""Who a count is charged to: the judged address, an IPv6 client by its prefix, and bounded rows per window."""

import ipaddress
from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perimeter.access_log import OVERFLOW_IP, PROMOTE_HITS, Aggregator, Hit, network_to_admit, refused_per_client
from perimeter.blocklist import ban_counts
from perimeter.charge import charged_address, prefix_key
from perimeter.client import resolve_client
from perimeter.networks import NetworkSet
from perimeter.settings import parse_setting

T0 = datetime(2026, 3, 1, 10, 0, 0)
PROXY = NetworkSet(["10.0.0.1/32"])
OFFICE = NetworkSet(["203.0.113.0/24"])


def through_proxy(**headers):
    environ = {"REMOTE_ADDR": "10.0.0.1"}
    environ.update({f"HTTP_{name.upper()}": value for name, value in headers.items()})
    return resolve_client(environ, PROXY)


# -- the judged address --------------------------------------------------------------------------

def test_a_forged_candidate_inside_the_allowlist_is_never_charged():
    # The proxy writes Forwarded; the client chose X-Forwarded-For (an office address).
    client = through_proxy(x_forwarded_for="203.0.113.10", forwarded="for=198.51.100.7")
    assert client.ip == "203.0.113.10"  # resolution lists the candidates in header order ...
    assert charged_address(client, OFFICE) == "198.51.100.7"  # ... counts go to the one the policy refuses
    # The other way round (the proxy writes X-Forwarded-For, the client chose Forwarded): the same answer.
    client = through_proxy(x_forwarded_for="198.51.100.7", forwarded="for=203.0.113.10")
    assert charged_address(client, OFFICE) == "198.51.100.7"


def test_the_charged_address_without_disagreement_blocked_or_all_allowed():
    assert charged_address(through_proxy(x_forwarded_for="198.51.100.7"), OFFICE) == "198.51.100.7"
    assert charged_address(through_proxy(x_forwarded_for="203.0.113.10"), OFFICE) == "203.0.113.10"
    both_inside = through_proxy(x_forwarded_for="203.0.113.10", forwarded="for=203.0.113.11")
    assert charged_address(both_inside, OFFICE) == "203.0.113.10"
    blocked = NetworkSet(["198.51.100.0/24"])
    two_outsiders = through_proxy(x_forwarded_for="192.0.2.1", forwarded="for=198.51.100.7")
    assert charged_address(two_outsiders, OFFICE, blocked) == "198.51.100.7", "the blocked one, as the refusal"
    assert charged_address(two_outsiders, OFFICE) == "192.0.2.1"


@given(st.lists(st.sampled_from(["203.0.113.10", "203.0.113.77", "198.51.100.7", "192.0.2.1"]),
                min_size=1, max_size=2, unique=True))
def test_an_allowed_address_is_charged_only_when_every_candidate_is_allowed(addresses):
    headers = {"x_forwarded_for": addresses[0]}
    if len(addresses) > 1:
        headers["forwarded"] = f"for={addresses[1]}"
    client = through_proxy(**headers)
    charged = charged_address(client, OFFICE)
    assert charged in addresses
    if charged in OFFICE:
        assert all(address in OFFICE for address in addresses)


# -- IPv6 prefixes -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("address", "prefix", "key"),
    [
        ("2001:db8:1:2::5", 64, "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", 64, "2001:db8:1:2::/64"),
        ("2001:db8:1:2::5", 48, "2001:db8:1::/48"),
        ("2001:db8:1:2:3:4:5:6", 56, "2001:db8:1::/56"),
        ("2001:db8:1:2::5", 128, "2001:db8:1:2::5"),
        ("::1", 64, "::/64"),
        ("::ffff:192.0.2.33", 64, "192.0.2.33"),
        ("203.0.113.9", 64, "203.0.113.9"),
        ("unknown", 64, "unknown"),
        (OVERFLOW_IP, 64, OVERFLOW_IP),
        ("2001:db8:1:2::/64", 64, "2001:db8:1:2::/64"),
    ],
)
def test_prefix_key(address, prefix, key):
    assert prefix_key(address, prefix) == key


@given(st.integers(0, 2**128 - 1), st.integers(48, 128))
def test_prefix_key_is_the_network_of_the_address(number, prefix):
    address = str(ipaddress.IPv6Address(number))
    key = prefix_key(address, prefix)
    if prefix == 128:
        assert key == address
    else:
        assert ipaddress.IPv6Address(number) in ipaddress.ip_network(key)
        assert ipaddress.ip_network(key).prefixlen == prefix


def test_an_ipv6_client_walking_its_prefix_is_one_bucket_one_alert_one_ban():
    aggregator = Aggregator()
    for n in range(2000):
        address = str(ipaddress.IPv6Address(0x20010DB8000100020000000000000000 + n * 7919))
        aggregator.add("db", Hit(ip=address, reason="not_allowlisted", blocked=True, at=T0))
    buckets = aggregator.drain()["db"]
    assert [(bucket.ip, bucket.hits) for bucket in buckets] == [("2001:db8:1:2::/64", 2000)]
    assert list(refused_per_client(buckets, 10)) == [("2001:db8:1:2::/64", T0)]
    assert list(ban_counts(buckets, 10)) == [("2001:db8:1:2::/64", T0)]


def test_the_prefix_is_the_databases():
    aggregator = Aggregator()
    aggregator.ipv6_prefixes["exact"] = 128
    aggregator.ipv6_prefixes["wide"] = 48
    for dbname in ("exact", "wide", "default"):
        aggregator.add(dbname, Hit(ip="2001:db8:1:2::5", reason="failed_login", blocked=True, at=T0))
    assert {dbname: buckets[0].ip for dbname, buckets in aggregator.drain().items()} == {
        "exact": "2001:db8:1:2::5", "wide": "2001:db8:1::/48", "default": "2001:db8:1:2::/64"}


@pytest.mark.parametrize(
    ("key", "widen", "network"),
    [
        ("2001:db8:1:2::/64", False, "2001:db8:1:2::/64"),
        ("2001:db8:1:2::/64", True, "2001:db8:1:2::/64"),
        ("2001:db8:1::/48", True, "2001:db8:1::/48"),
        ("2001:db8:1:2:3::/80", True, "2001:db8:1:2::/64"),
    ],
)
def test_a_prefix_key_is_admitted_and_banned_as_its_network(key, widen, network):
    assert network_to_admit(key, widen) == network


def test_the_prefix_setting_is_a_length_between_48_and_128():
    assert parse_setting("ipv6_prefix", None) == 64
    assert parse_setting("ipv6_prefix", " 56 ") == 56
    for bad in ("47", "129", "0", "-64", "/64", "sixty-four"):
        with pytest.raises(ValueError, match="ipv6_prefix"):
            parse_setting("ipv6_prefix", bad)


# -- rows one window can add ---------------------------------------------------------------------

def test_the_clients_of_one_window_are_capped_and_the_rest_keeps_its_count():
    aggregator = Aggregator(max_window_clients=3)
    for n in range(10):
        aggregator.add("db", Hit(ip=f"198.51.100.{n}", reason="not_allowlisted", blocked=True, at=T0))
    # Flushed in between: the cap holds for the window, not for one flush.
    first = aggregator.drain()["db"]
    for n in range(10):
        aggregator.add("db", Hit(ip=f"198.51.100.{n}", reason="failed_login", blocked=True, at=T0))
    second = aggregator.drain()["db"]
    rows = {(bucket.ip, bucket.reason): bucket.hits for bucket in first + second}
    assert rows == {
        **{(f"198.51.100.{n}", reason): 1 for n in range(3) for reason in ("not_allowlisted", "failed_login")},
        (OVERFLOW_IP, "not_allowlisted"): 7, (OVERFLOW_IP, "failed_login"): 7,
    }
    assert aggregator.take_lost() == (0, 14)
    # Another database, and the next window, have rows of their own again.
    aggregator.add("other", Hit(ip="198.51.100.9", reason="not_allowlisted", blocked=True, at=T0))
    aggregator.add("db", Hit(ip="198.51.100.9", reason="not_allowlisted", blocked=True, at=T0 + timedelta(hours=1)))
    assert {bucket.ip for buckets in aggregator.drain().values() for bucket in buckets} == {"198.51.100.9"}
    # The overflow row never alerts nor bans.
    assert set(ban_counts(first + second, 10)) == {(f"198.51.100.{n}", T0) for n in range(3)}


def test_junk_filling_the_cap_does_not_hide_a_repeat_offender():
    aggregator = Aggregator(max_window_clients=3)
    for n in range(3):
        aggregator.add("db", Hit(ip=f"2001:db8:1:{n}::1", reason="not_allowlisted", blocked=True, at=T0))
    for _ in range(PROMOTE_HITS + 5):  # a password guesser, after the cap is full
        aggregator.add("db", Hit(ip="198.51.100.7", reason="failed_login", blocked=True, at=T0))
    rows = {(bucket.ip, bucket.reason): bucket.hits for bucket in aggregator.drain()["db"]}
    assert rows[OVERFLOW_IP, "failed_login"] == PROMOTE_HITS - 1, "its first hits stay in the * row ..."
    assert rows["198.51.100.7", "failed_login"] == 6, "... then it is counted as itself, and can be banned"
    aggregator.forget_windows()  # a clean slate (tests, benchmarks): the next client has a row at once
    aggregator.add("db", Hit(ip="198.51.100.8", reason="failed_login", blocked=True, at=T0))
    assert [bucket.ip for bucket in aggregator.drain()["db"]] == ["198.51.100.8"]
