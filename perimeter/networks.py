"""Sets of IP networks with fast membership tests.

Every network is mapped into one 128-bit space (IPv4 as IPv4-mapped IPv6,
``::ffff:0:0/96``), merged into disjoint sorted ranges, and looked up by
binary search on packed 16-byte strings. A lookup therefore costs one
``inet_pton`` and one ``bisect``: no ``ipaddress`` object is built per probe.
"""

import bisect
import ipaddress
import re
import socket

_V4_MAPPED_PREFIX = b"\x00" * 10 + b"\xff\xff"
_ALL_ONES = (1 << 128) - 1
# Pasted lists may use commas, semicolons, whitespace or newlines between
# entries, and ``#`` comments to the end of a line.
_SEPARATORS = re.compile(r"[\s,;]+")


def pack_address(address):
    """Return the 16-byte packed form of an IPv4 or IPv6 address string.

    IPv4 addresses map into ``::ffff:0:0/96`` so that IPv4 rules match
    IPv4-mapped IPv6 clients. A zone index (``fe80::1%eth0``) is dropped: a
    peer on a link-local address is still that address. Returns ``None`` for
    anything that is not an address.
    """
    if not isinstance(address, str):
        return None
    if ":" in address:
        address = address.partition("%")[0]
        try:
            return socket.inet_pton(socket.AF_INET6, address)
        except (OSError, ValueError):
            return None
    try:
        return _V4_MAPPED_PREFIX + socket.inet_pton(socket.AF_INET, address)
    except (OSError, ValueError):
        return None


def parse_network(value):
    """Parse one address or CIDR into an ``ipaddress`` network.

    A bare address becomes a host network (``10.1.2.3`` → ``10.1.2.3/32``).
    Raises ``ValueError`` with a message naming the value and, when it can,
    suggesting the fix.
    """
    text = value.strip() if isinstance(value, str) else value
    if not text:
        raise ValueError("An empty value is not a network: enter an address or a CIDR such as 10.0.0.0/8.")
    if not isinstance(text, str):
        raise ValueError(f"{value!r} is not a network: enter an address or a CIDR such as 10.0.0.0/8.")
    if "%" in text:
        raise ValueError(
            f"{text!r} has a zone index (the part after %): rules apply to every interface, "
            f"enter {text.partition('%')[0]!r} without it."
        )
    try:
        return ipaddress.ip_network(text, strict=True)
    except ValueError:
        pass
    try:
        loose = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(
            f"{text!r} is not a valid IPv4 or IPv6 address or CIDR (examples: 10.0.0.0/8, 192.0.2.7, 2001:db8::/32)."
        ) from None
    raise ValueError(f"{text!r} has host bits set: did you mean {str(loose)!r}?")


def normalize_network(value):
    """Return the canonical text of one address or CIDR (``10.1.2.3`` → ``10.1.2.3/32``)."""
    return str(parse_network(value))


def split_network_list(text):
    """Split a pasted list into entries, dropping comments, blanks and duplicates.

    Entries may be separated by newlines, commas, semicolons or spaces; ``#``
    starts a comment. Order is kept; nothing is validated here.
    """
    entries = []
    seen = set()
    for line in (text or "").splitlines():
        for entry in _SEPARATORS.split(line.partition("#")[0]):
            if entry and entry not in seen:
                seen.add(entry)
                entries.append(entry)
    return entries


def normalize_network_list(text):
    """Validate and normalise a pasted list; return the canonical entries.

    Raises ``ValueError`` naming every bad entry at once, so the administrator
    fixes the list in one go.
    """
    normalised, errors = [], []
    for entry in split_network_list(text):
        try:
            network = normalize_network(entry)
        except ValueError as exc:
            errors.append(str(exc))
            continue
        if network not in normalised:
            normalised.append(network)
    if errors:
        raise ValueError("\n".join(errors))
    return normalised


def _range_of(network):
    """Return the (first, last) integer of ``network`` in the 128-bit space."""
    first = int(network.network_address)
    size = network.num_addresses
    if network.version == 4:
        first |= 0xFFFF << 32
    return first, first + size - 1


class NetworkSet:
    """An immutable set of IPv4/IPv6 networks.

    ``"10.1.2.3" in networks`` is True when the address lies in any network.
    A malformed entry raises ``ValueError`` naming it; a malformed probe is
    simply not in the set.
    """

    __slots__ = ("_starts", "_ends", "_networks")

    def __init__(self, networks=()):
        ranges = []
        canonical = []
        for entry in networks:
            network = entry if isinstance(entry, (ipaddress.IPv4Network, ipaddress.IPv6Network)) else parse_network(entry)
            canonical.append(network)
            ranges.append(_range_of(network))
        ranges.sort()
        starts, ends = [], []
        for first, last in ranges:
            # Merge overlapping and adjacent ranges so that lookups need one probe.
            if ends and first <= ends[-1] + 1:
                if last > ends[-1]:
                    ends[-1] = last
                continue
            starts.append(first)
            ends.append(last)
        self._starts = [n.to_bytes(16, "big") for n in starts]
        self._ends = [n.to_bytes(16, "big") for n in ends]
        self._networks = tuple(dict.fromkeys(str(n) for n in canonical))

    def __contains__(self, address):
        packed = pack_address(address)
        return packed is not None and self.contains_packed(packed)

    def contains_packed(self, packed):
        """Membership test for an address already packed by ``pack_address``."""
        index = bisect.bisect_right(self._starts, packed) - 1
        return index >= 0 and packed <= self._ends[index]

    def __bool__(self):
        return bool(self._starts)

    def __len__(self):
        """Number of distinct networks given (not of merged ranges)."""
        return len(self._networks)

    def __iter__(self):
        return iter(self._networks)

    def __eq__(self, other):
        return isinstance(other, NetworkSet) and (self._starts, self._ends) == (other._starts, other._ends)

    def __hash__(self):
        return hash((tuple(self._starts), tuple(self._ends)))

    def __repr__(self):
        shown = ", ".join(self._networks[:5])
        more = f", … ({len(self._networks)} in all)" if len(self._networks) > 5 else ""
        return f"NetworkSet([{shown}{more}])"

    @property
    def range_count(self):
        """Number of disjoint ranges after merging."""
        return len(self._starts)

    @classmethod
    def from_text(cls, text):
        """Build a set from a pasted list (see ``normalize_network_list``)."""
        return cls(normalize_network_list(text))
