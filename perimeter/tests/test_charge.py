"""Who a count is charged to: the judged address, never a candidate a client chose."""

from hypothesis import given
from hypothesis import strategies as st

from perimeter.charge import charged_address
from perimeter.client import resolve_client
from perimeter.networks import NetworkSet

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
