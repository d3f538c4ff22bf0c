from hypothesis import given, settings
from hypothesis import strategies as st

from perimeter.client import MAX_HOPS, is_loopback, resolve_client
from perimeter.networks import NetworkSet

PROXIES = NetworkSet(["10.0.0.0/24", "2001:db8:ffff::/48"])


def env(peer="198.51.100.7", scheme="http", **headers):
    environ = {"REMOTE_ADDR": peer, "wsgi.url_scheme": scheme}
    environ.update({f"HTTP_{name.upper()}": value for name, value in headers.items()})
    return environ


def test_no_headers_the_peer_is_the_client():
    client = resolve_client(env(), PROXIES)
    assert (client.ip, client.peer, client.scheme) == ("198.51.100.7", "198.51.100.7", "http")
    assert not client.via_proxy and not client.untrusted_headers


def test_headers_from_an_untrusted_peer_are_ignored_and_reported():
    for header in ("x_forwarded_for", "forwarded", "x_real_ip", "x_forwarded_proto"):
        value = "for=10.0.0.9" if header == "forwarded" else "https" if header.endswith("proto") else "10.0.0.9"
        client = resolve_client(env(**{header: value}), PROXIES)
        assert client.ip == "198.51.100.7", header
        assert client.untrusted_headers, header
        assert client.scheme == "http", header


def test_trusted_proxy_x_forwarded_for_right_to_left():
    client = resolve_client(env(peer="10.0.0.1", x_forwarded_for="203.0.113.5"), PROXIES)
    assert client.ip == "203.0.113.5" and client.peer == "10.0.0.1" and client.via_proxy
    # Whatever the client prepends, the right-most untrusted hop wins.
    spoofed = resolve_client(env(peer="10.0.0.1", x_forwarded_for="10.0.0.50, 192.0.2.1, 203.0.113.5"), PROXIES)
    assert spoofed.ip == "203.0.113.5"
    # Several trusted proxies in a row are skipped.
    chained = resolve_client(env(peer="10.0.0.1", x_forwarded_for="203.0.113.5, 10.0.0.3, 10.0.0.2"), PROXIES)
    assert chained.ip == "203.0.113.5"


def test_all_hops_trusted_takes_the_left_most():
    client = resolve_client(env(peer="10.0.0.1", x_forwarded_for="10.0.0.7, 10.0.0.2"), PROXIES)
    assert client.ip == "10.0.0.7"


def test_forwarded_rfc7239():
    value = 'for=192.0.2.60;proto=https;by=203.0.113.43, for="[2001:db8:cafe::17]:4711"'
    client = resolve_client(env(peer="10.0.0.1", forwarded=value), PROXIES)
    assert client.ip == "2001:db8:cafe::17"
    assert client.scheme == "http"  # that hop stated no proto
    client = resolve_client(env(peer="10.0.0.1", forwarded='For="192.0.2.60";Proto=HTTPS'), PROXIES)
    assert (client.ip, client.scheme) == ("192.0.2.60", "https")


def test_x_forwarded_for_and_forwarded_disagreeing_are_both_candidates():
    # nginx appends X-Forwarded-For and passes the client's forged Forwarded through untouched.
    client = resolve_client(
        env(peer="10.0.0.1", x_forwarded_for="203.0.113.5", forwarded="for=192.0.2.1"), PROXIES
    )
    assert client.addresses == ("203.0.113.5", "192.0.2.1")


def test_x_real_ip_only_without_lists():
    assert resolve_client(env(peer="10.0.0.1", x_real_ip="203.0.113.9"), PROXIES).ip == "203.0.113.9"
    both = resolve_client(env(peer="10.0.0.1", x_real_ip="192.0.2.1", x_forwarded_for="203.0.113.9"), PROXIES)
    assert both.addresses == ("203.0.113.9",)


def test_ports_brackets_case_and_mapped_addresses():
    client = resolve_client(env(peer="::ffff:10.0.0.1", x_forwarded_for="203.0.113.5:4567"), PROXIES)
    assert (client.ip, client.peer) == ("203.0.113.5", "10.0.0.1")
    client = resolve_client(env(peer="10.0.0.1", x_forwarded_for="[2001:DB8::1]:443"), PROXIES)
    assert client.ip == "2001:db8::1"
    client = resolve_client(env(peer="2001:db8:ffff::2", x_forwarded_for="::ffff:203.0.113.5"), PROXIES)
    assert client.ip == "203.0.113.5"


def test_repeated_headers_joined_by_the_server_are_one_list():
    client = resolve_client(env(peer="10.0.0.1", x_forwarded_for="192.0.2.1, 203.0.113.5,10.0.0.2"), PROXIES)
    assert client.ip == "203.0.113.5"


def test_garbage_from_a_trusted_proxy_gives_an_unknown_client():
    for value in ("unknown", "not an ip", "203.0.113.5, garbage", ",", "", "1.2.3.4.5", "\x00", "_hidden"):
        client = resolve_client(env(peer="10.0.0.1", x_forwarded_for=value or ","), PROXIES)
        assert client.malformed, value
        assert client.ip not in NetworkSet(["0.0.0.0/0", "::/0"]), value
    for value in ("for=", "for=unknown", "for=_secret", 'for="unterminated', "proto=https", "for=1.2.3.4;;=x"):
        client = resolve_client(env(peer="10.0.0.1", forwarded=value), PROXIES)
        assert client.malformed, value


def test_over_long_headers_and_chains_are_not_walked():
    client = resolve_client(env(peer="10.0.0.1", x_forwarded_for="203.0.113.5, " * 5000), PROXIES)
    assert client.malformed
    deep = ", ".join(["10.0.0.9"] * (MAX_HOPS + 5))
    assert resolve_client(env(peer="10.0.0.1", x_forwarded_for=deep), PROXIES).malformed


def test_scheme_from_trusted_proxies_only_when_all_agree():
    assert resolve_client(env(peer="10.0.0.1", x_forwarded_proto="https"), PROXIES).scheme == "https"
    assert resolve_client(env(peer="10.0.0.1", x_forwarded_proto="HTTPS "), PROXIES).scheme == "https"
    assert resolve_client(env(peer="10.0.0.1", x_forwarded_proto="gopher"), PROXIES).scheme == "http"
    # A client-forged Forwarded proto cannot upgrade what the proxy's X-Forwarded-Proto says.
    forged = env(peer="10.0.0.1", x_forwarded_proto="http", forwarded="for=203.0.113.5;proto=https")
    assert resolve_client(forged, PROXIES).scheme == "http"
    # Aligned lists: the proto of the hop where the client was found.
    aligned = env(peer="10.0.0.1", x_forwarded_for="203.0.113.5, 10.0.0.2", x_forwarded_proto="https, http")
    assert resolve_client(aligned, PROXIES).scheme == "https"
    assert resolve_client(env(scheme="https"), PROXIES).scheme == "https"


def test_loopback():
    assert is_loopback(resolve_client(env(peer="127.0.0.1"), PROXIES))
    assert is_loopback(resolve_client(env(peer="::1"), PROXIES))
    assert is_loopback(resolve_client(env(peer="127.8.9.10"), PROXIES))
    assert not is_loopback(resolve_client(env(peer="127.0.0.1", x_forwarded_for="203.0.113.5"), PROXIES))
    local_proxy = NetworkSet(["127.0.0.1"])
    assert not is_loopback(resolve_client(env(peer="127.0.0.1", x_forwarded_for="203.0.113.5"), local_proxy))


def test_missing_or_odd_peer():
    assert resolve_client({}, PROXIES).ip == ""
    assert resolve_client({"REMOTE_ADDR": "unix:/run/odoo.sock"}, PROXIES).ip not in NetworkSet(["0.0.0.0/0"])


# --- properties ------------------------------------------------------------------------------

addresses = st.one_of(
    st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str),
)
header_text = st.text(alphabet=st.characters(codec="latin-1"), max_size=200)


@settings(max_examples=300, deadline=None)
@given(addresses, st.dictionaries(st.sampled_from(["x_forwarded_for", "forwarded", "x_real_ip",
                                                   "x_forwarded_proto"]), header_text))
def test_untrusted_peer_can_never_choose_its_address(peer, headers):
    client = resolve_client(env(peer=peer, **headers), PROXIES)
    if peer not in PROXIES:
        assert client.addresses == (resolve_client(env(peer=peer), PROXIES).ip,)


@settings(max_examples=300, deadline=None)
@given(st.lists(header_text.filter(lambda t: "," not in t), max_size=6), addresses,
       st.lists(st.sampled_from(["10.0.0.1", "10.0.0.2", "2001:db8:ffff::1"]), max_size=3))
def test_forged_prefix_never_hides_the_real_client(forged, real, proxies_after):
    """Whatever a client puts before its real address, a trusted chain resolves to the real address."""
    if real in PROXIES:
        return
    value = ", ".join([*forged, real, *proxies_after])
    client = resolve_client(env(peer="10.0.0.1", x_forwarded_for=value), PROXIES)
    assert client.ip == resolve_client(env(peer=real), PROXIES).ip


@settings(max_examples=500, deadline=None)
@given(addresses, st.dictionaries(st.sampled_from(["x_forwarded_for", "forwarded", "x_real_ip",
                                                   "x_forwarded_proto"]), header_text))
def test_any_header_value_resolves_without_raising(peer, headers):
    for candidate_peer in (peer, "10.0.0.1"):
        client = resolve_client(env(peer=candidate_peer, **headers), PROXIES)
        assert client.scheme in ("http", "https")
        assert all(isinstance(ip, str) for ip in client.addresses)
