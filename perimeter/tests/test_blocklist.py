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
