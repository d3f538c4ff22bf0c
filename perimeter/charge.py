"""Who a count is charged to: the address the policy judged, an IPv6 client by its prefix.

Refused requests, failed logins, alerts and automatic bans all count per
client. Two things decide which "client" that is:

- **The judged address, never a mere candidate.** When a trusted proxy writes
  one forwarding header and passes the other through (``X-Forwarded-For``
  and ``Forwarded`` disagree), the request could come from any of their
  addresses, and the policy admits it only if every one is allowed. A client
  chooses the header the proxy passes: charging its address would let an
  outsider get an office address banned. Counts go to the candidate the
  policy refuses (outside the allowlist, or in the blocklist), never to an
  address the allowlist admits; when the candidates agree, to the address.
- **An IPv6 client is its prefix** (``/64`` by default, setting
  ``ipv6_prefix``): every home line and server has a /64 and walks through
  its 2**64 addresses at will, so one client is one prefix. The key is
  computed with an integer mask on the parsed address: a few microseconds,
  for refused requests and failed logins only.

Nothing here imports Odoo.
"""

import ipaddress

DEFAULT_IPV6_PREFIX = 64
MIN_IPV6_PREFIX, MAX_IPV6_PREFIX = 48, 128

_ALL_ONES = (1 << 128) - 1


def charged_address(client, allowlist, blocklist=None):
    """The one address of ``client`` (``client.Client``) that counts are charged to.

    ``allowlist`` and ``blocklist`` are the policy's ``NetworkSet``s. With one
    candidate (the usual case) it is the client's address; with several,
    the first in the blocklist, else the first outside the allowlist, else
    the resolved address (every candidate is allowed: none is a stranger).
    """
    if not client.other_ips or client.malformed:
        return client.ip
    addresses = client.addresses
    if blocklist:
        blocked = next((ip for ip in addresses if ip in blocklist), None)
        if blocked is not None:
            return blocked
    return next((ip for ip in addresses if ip not in allowlist), client.ip)


def prefix_key(address, prefix=DEFAULT_IPV6_PREFIX):
    """The key ``address`` (canonical text) is counted under: itself, or for IPv6 its ``/prefix`` network.

    ``2001:db8:1:2::5`` → ``2001:db8:1:2::/64``; an IPv4-mapped address is
    its IPv4 address; IPv4, a /128 prefix and what is not an IPv6 address
    (``unknown``, ``*``, an unreadable hop) are returned as they are.
    """
    if prefix >= MAX_IPV6_PREFIX or address.__class__ is not str or ":" not in address or "/" in address:
        return address
    try:
        parsed = ipaddress.IPv6Address(address)
    except ValueError:
        return address
    if parsed.ipv4_mapped:
        return str(parsed.ipv4_mapped)  # an IPv4 client, as rules match it
    packed = int(parsed)
    mask = _ALL_ONES ^ (_ALL_ONES >> prefix)
    return f"{ipaddress.IPv6Address(packed & mask)}/{prefix}"
