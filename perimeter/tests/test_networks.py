import ipaddress

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perimeter.networks import (
    NetworkSet,
    first_common_address,
    network_covers,
    normalize_network,
    normalize_network_list,
    pack_address,
    split_network_list,
)
from perimeter.wording import Text


def test_membership_ipv4_ipv6_and_mapped():
    networks = NetworkSet(["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"])
    assert "10.200.3.4" in networks
    assert "192.0.2.7" in networks
    assert "192.0.2.8" not in networks
    assert "2001:db8:1::5" in networks
    assert "2001:db9::1" not in networks
    # An IPv4 client seen through a dual-stack socket matches the IPv4 rule.
    assert "::ffff:10.1.2.3" in networks
    assert "::ffff:11.1.2.3" not in networks


def test_ipv6_rule_does_not_swallow_ipv4():
    # "::/0" means every IPv6 client, not every client.
    assert "10.0.0.1" not in NetworkSet(["::/0"])
    assert "::ffff:10.0.0.1" not in NetworkSet(["::/0"])
    # A rule written in IPv4-mapped form is the IPv4 rule it spells.
    assert "10.0.0.1" in NetworkSet(["::ffff:10.0.0.0/104"])
    assert "11.0.0.1" not in NetworkSet(["::ffff:10.0.0.0/104"])


@pytest.mark.parametrize(
    "probe", ["", "garbage", "10.0.0", "10.0.0.256", "1.2.3.4/32", " 10.0.0.1", "010.0.0.1", None, 42, b"10.0.0.1"]
)
def test_malformed_probe_is_simply_not_in(probe):
    assert probe not in NetworkSet(["0.0.0.0/0", "::/0"])


def test_zone_index_of_a_probe_is_ignored():
    assert "fe80::1%eth0" in NetworkSet(["fe80::/10"])


def test_overlapping_and_adjacent_networks_merge():
    networks = NetworkSet(["10.0.0.0/25", "10.0.0.128/25", "10.0.0.0/24", "10.0.1.0/24", "10.0.3.0/24"])
    assert networks.range_count == 2
    assert "10.0.1.255" in networks
    assert "10.0.2.0" not in networks
    assert "10.0.3.0" in networks


def test_empty_set():
    networks = NetworkSet()
    assert not networks
    assert "127.0.0.1" not in networks


def test_extremes_of_the_address_space():
    networks = NetworkSet(["0.0.0.0/32", "255.255.255.255/32", "::/128", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"])
    for address in ("0.0.0.0", "255.255.255.255", "::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"):
        assert address in networks
    assert "0.0.0.1" not in networks


def test_normalisation():
    assert normalize_network("10.1.2.3") == "10.1.2.3/32"
    assert normalize_network(" 10.0.0.0/8 ") == "10.0.0.0/8"
    assert normalize_network("2001:DB8:0:0::/32") == "2001:db8::/32"
    assert normalize_network("::1") == "::1/128"


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("::ffff:127.0.0.88", "127.0.0.88/32"),
        ("::FFFF:7f00:58", "127.0.0.88/32"),
        ("::ffff:10.0.0.0/104", "10.0.0.0/8"),
        ("::ffff:0:0/96", "0.0.0.0/0"),
        ("::FFFE:0:0/95", "::fffe:0:0/95"),  # wider than the mapped space: an IPv6 rule, as written
    ],
)
def test_ipv4_mapped_rules_are_stored_as_the_ipv4_network_they_admit(value, stored):
    # Two spellings of one rule must be one stored value, so that a duplicate is caught and
    # archiving "127.0.0.88" cannot leave a "::ffff:7f00:58/128" twin admitting the same client.
    assert normalize_network(value) == stored
    assert normalize_network(stored) == stored


def test_host_bits_hint_of_a_mapped_rule_suggests_the_ipv4_form():
    with pytest.raises(ValueError, match=r"'::ffff:10.1.2.3/104' has host bits set: did you mean '10.0.0.0/8'\?"):
        normalize_network("::ffff:10.1.2.3/104")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("10.1.2.3/8", "'10.1.2.3/8' has host bits set: did you mean '10.0.0.0/8'?"),
        ("2001:db8::1/32", "did you mean '2001:db8::/32'?"),
        ("fe80::1%eth0", "'fe80::1%eth0' has a zone index"),
        ("", "An empty value is not a network"),
        ("   ", "An empty value is not a network"),
        ("10.0.0.0/33", "'10.0.0.0/33' is not a valid IPv4 or IPv6 address or CIDR"),
        ("hello", "'hello' is not a valid"),
        ("10.0.0.1-10.0.0.9", "'10.0.0.1-10.0.0.9' is not a valid"),
    ],
)
def test_bad_networks_name_the_value(value, message):
    with pytest.raises(ValueError, match=message.replace("?", r"\?").replace("(", r"\(")):
        normalize_network(value)


def test_networkset_rejects_bad_entry_naming_it():
    with pytest.raises(ValueError, match="'10.0.0.300'"):
        NetworkSet(["10.0.0.0/8", "10.0.0.300"])


def test_pasted_lists_with_comments_whitespace_and_duplicates():
    text = """
        # office
        10.0.0.0/8, 192.0.2.7   # the VPN gateway
        10.0.0.0/8;2001:db8::/32

        192.0.2.7
    """
    assert split_network_list(text) == ["10.0.0.0/8", "192.0.2.7", "2001:db8::/32"]
    assert normalize_network_list(text) == ["10.0.0.0/8", "192.0.2.7/32", "2001:db8::/32"]
    # Two spellings of one network are one entry once normalised.
    assert normalize_network_list("10.0.0.1\n10.0.0.1/32") == ["10.0.0.1/32"]


def test_pasted_list_names_every_bad_entry_at_once():
    with pytest.raises(ValueError) as error:
        normalize_network_list("10.0.0.0/8\nbad-one\n10.1.1.1/8")
    assert "'bad-one'" in str(error.value)
    assert "'10.1.1.1/8'" in str(error.value)


def test_pack_address_maps_ipv4_into_ipv6_space():
    assert pack_address("10.1.2.3") == pack_address("::ffff:10.1.2.3")
    assert pack_address("10.1.2.3") != pack_address("::10.1.2.3")
    assert pack_address("nope") is None


def test_network_covers_as_the_set_matches():
    assert network_covers("10.0.0.0/8", "10.1.2.0/24")
    assert network_covers("10.1.2.0/24", "10.1.2.3")
    assert not network_covers("10.1.2.0/24", "10.1.0.0/16")
    assert not network_covers("10.0.0.0/8", "11.0.0.0/24")
    assert not network_covers("::/0", "10.1.2.3"), "IPv6 rules never admit IPv4 clients"
    assert network_covers("::ffff:10.0.0.0/104", "10.1.2.0/24"), "IPv4-mapped rules are IPv4 rules"
    assert network_covers("2001:db8::/32", "2001:db8:5:6::/64")
    with pytest.raises(ValueError, match="'nope'"):
        network_covers("nope", "10.0.0.0/8")


# --- property tests: NetworkSet agrees with a naive ipaddress scan -------------------------------

_MAPPED = ipaddress.ip_network("::ffff:0:0/96")


def _mapped(address):
    """The naive model of an address: IPv4-mapped IPv6 is IPv4."""
    return (address.ipv4_mapped or address) if address.version == 6 else address


def _mapped_network(network):
    """The naive model of a rule: an IPv4-mapped IPv6 network is an IPv4 network."""
    if network.version == 6 and network.subnet_of(_MAPPED):
        return ipaddress.ip_network((int(network.network_address) & 0xFFFFFFFF, network.prefixlen - 96))
    return network


ipv4_networks = st.builds(
    lambda value, prefix: ipaddress.ip_network((value, prefix), strict=False),
    st.integers(0, 2**32 - 1), st.integers(0, 32),
)
ipv6_networks = st.builds(
    lambda value, prefix: ipaddress.ip_network((value, prefix), strict=False),
    st.integers(0, 2**128 - 1), st.integers(0, 128),
)
# Draw addresses near network boundaries as well as anywhere, so edges get tested.
addresses = st.one_of(
    st.integers(0, 2**32 - 1).map(ipaddress.IPv4Address),
    st.integers(0, 2**128 - 1).map(ipaddress.IPv6Address),
    st.integers(0, 2**32 - 1).map(lambda n: ipaddress.IPv6Address((0xFFFF << 32) | n)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(ipv4_networks, ipv6_networks), max_size=30), st.lists(addresses, max_size=30), st.data())
def test_agrees_with_naive_scan(networks, probes, data):
    compiled = NetworkSet(str(n) for n in networks)
    # Add the first and last address of every network and their neighbours.
    for network in networks[:10]:
        for value in (int(network.network_address) - 1, int(network.broadcast_address) + 1,
                      int(network.network_address), int(network.broadcast_address)):
            if 0 <= value < 2 ** network.max_prefixlen:
                probes.append(ipaddress.ip_address(value) if network.version == 6 or value < 2**32
                              else ipaddress.IPv6Address(value))
    for probe in probes:
        mapped = _mapped(probe)
        expected = any(mapped.version == n.version and mapped in n for n in map(_mapped_network, networks))
        assert (str(probe) in compiled) == expected, (probe, networks)


@settings(max_examples=200, deadline=None)
@given(st.one_of(ipv4_networks, ipv6_networks))
def test_normalisation_round_trips(network):
    text = str(_mapped_network(network))  # an IPv4-mapped rule is stored as its IPv4 network
    assert normalize_network(text) == text
    assert str(network.network_address) in NetworkSet([text])


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=60))
def test_arbitrary_text_never_crashes(text):
    assert (text in NetworkSet(["0.0.0.0/0", "::/0"])) in (True, False)
    try:
        normalize_network(text)
    except ValueError as exc:
        assert str(exc)


def test_large_sets_use_the_index_and_agree_with_a_naive_scan():
    """Past a few hundred ranges, lookups go through the 16-bit index: check it at every boundary."""
    import random

    rng = random.Random(7)
    networks = []
    for _ in range(1500):
        networks.append(ipaddress.ip_network((rng.getrandbits(32), rng.choice((8, 12, 16, 20, 24, 30, 32))),
                                             strict=False))
        networks.append(ipaddress.ip_network((rng.getrandbits(128), rng.choice((16, 32, 48, 64, 120, 128))),
                                             strict=False))
    compiled = NetworkSet(str(n) for n in networks)
    assert compiled._v4.positions is not None and compiled._v6.positions is not None
    by_version = {4: [n for n in networks if n.version == 4], 6: [n for n in networks if n.version == 6]}
    probes = []
    for network in networks[:600]:
        for value in (int(network.network_address) - 1, int(network.network_address),
                      int(network.broadcast_address), int(network.broadcast_address) + 1):
            if 0 <= value < 2 ** network.max_prefixlen:
                probes.append(ipaddress.IPv4Address(value) if network.version == 4 else ipaddress.IPv6Address(value))
    probes += [ipaddress.IPv4Address(rng.getrandbits(32)) for _ in range(300)]
    probes += [ipaddress.IPv4Address(value) for value in (0, 2**32 - 1, 0xFFFF, 0x10000)]
    for probe in probes:
        expected = any(probe in n for n in by_version[probe.version])
        assert (str(probe) in compiled) == expected, probe


# The French of i18n/fr.po, as guard/wording.py reads it for a French reader.
FRENCH = {
    "%(value)r is not a valid IPv4 or IPv6 address or CIDR (examples: 10.0.0.0/8, 192.0.2.7, 2001:db8::/32).":
        "%(value)r n'est pas une adresse ou un CIDR IPv4 ou IPv6 valide (exemples : 10.0.0.0/8, 192.0.2.7, "
        "2001:db8::/32).",
    "%(value)r has host bits set: did you mean %(network)r?":
        "%(value)r a des bits d'hôte positionnés : vouliez-vous dire %(network)r ?",
    "%(value)r has a zone index (the part after %%): rules apply to every interface, enter %(address)r without it.":
        "%(value)r comporte un indice de zone (la partie après %%) : les règles s'appliquent à toutes les "
        "interfaces, saisissez %(address)r sans cet indice.",
}


def test_a_bad_network_is_a_sentence_that_can_be_worded_again_naming_the_value():
    with pytest.raises(ValueError) as error:
        normalize_network("fe80::1%eth0")
    message = error.value.args[0]
    assert isinstance(message, Text)
    assert message == "'fe80::1%eth0' has a zone index (the part after %): rules apply to every interface, " \
                      "enter 'fe80::1' without it."
    assert message.render(FRENCH.get) == (
        "'fe80::1%eth0' comporte un indice de zone (la partie après %) : les règles s'appliquent à toutes les "
        "interfaces, saisissez 'fe80::1' sans cet indice.")


def test_every_bad_entry_of_a_list_is_worded_again():
    with pytest.raises(ValueError) as error:
        normalize_network_list("10.0.0.0/8\nbad-one\n10.1.1.1/8")
    message = error.value.args[0]
    assert message == ("'bad-one' is not a valid IPv4 or IPv6 address or CIDR (examples: 10.0.0.0/8, 192.0.2.7, "
                       "2001:db8::/32).\n'10.1.1.1/8' has host bits set: did you mean '10.0.0.0/8'?")
    assert message.render(FRENCH.get) == (
        "'bad-one' n'est pas une adresse ou un CIDR IPv4 ou IPv6 valide (exemples : 10.0.0.0/8, 192.0.2.7, "
        "2001:db8::/32).\n'10.1.1.1/8' a des bits d'hôte positionnés : vouliez-vous dire '10.0.0.0/8' ?")


def test_first_common_address():
    office, vpn = NetworkSet(["192.0.2.0/26", "2001:db8::/32"]), NetworkSet(["192.0.2.32/27", "198.51.100.0/24"])
    assert first_common_address([office, vpn]) == "192.0.2.32"
    assert first_common_address([office, vpn], NetworkSet(["192.0.2.32/28"])) == "192.0.2.48"
    assert first_common_address([office, vpn], NetworkSet(["192.0.2.32/27"])) is None
    assert first_common_address([office], NetworkSet(["192.0.2.0/26"])) == "2001:db8::"
    assert first_common_address([office], NetworkSet(["192.0.2.0/26", "2001:db8::/32"])) is None
    assert first_common_address([NetworkSet()]) is None
    assert first_common_address([]) is None
    assert first_common_address([NetworkSet(["::ffff:10.0.0.0/104"])]) == "10.0.0.0", "mapped is IPv4"


@given(st.lists(st.integers(0, 255), max_size=4), st.lists(st.integers(0, 255), max_size=4),
       st.lists(st.integers(0, 255), max_size=4))
def test_first_common_address_agrees_with_membership(left, right, blocked):
    sets = [NetworkSet(f"10.0.{octet}.0/24" for octet in octets) for octets in (left, right)]
    excluded = NetworkSet(f"10.0.{octet}.0/25" for octet in blocked)
    expected = next((f"10.0.{octet}.{host}" for octet in range(256) for host in (0, 128)
                     if f"10.0.{octet}.{host}" in sets[0] and f"10.0.{octet}.{host}" in sets[1]
                     and f"10.0.{octet}.{host}" not in excluded), None)
    assert first_common_address(sets, excluded) == expected
