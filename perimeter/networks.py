"""Sets of IP networks with fast membership tests.

IPv4 and IPv6 are kept apart: an IPv6 rule such as ``::/0`` never admits IPv4
clients. IPv4-mapped IPv6 (``::ffff:a.b.c.d``) is IPv4, as a rule and as a
probe, so a dual-stack socket's client matches IPv4 rules. Each family's
networks are merged into sorted disjoint ranges of packed addresses (4 or 16
bytes) and looked up by binary search: a lookup costs one ``inet_pton`` and
one ``bisect``; no ``ipaddress`` object is built per probe, nor per rule when
the rule is already in canonical CIDR form.
"""

import array
import bisect
import ipaddress
import re
import socket

from .wording import Text, _

# pylint: disable=prefer-env-translation  # no env in the engine: this _ is perimeter.wording's, not Odoo's

_V4_MAPPED_PREFIX = b"\x00" * 10 + b"\xff\xff"
_V4_MAPPED_NETWORK = ipaddress.IPv6Network("::ffff:0:0/96")
_NETWORK_TYPES = (ipaddress.IPv4Network, ipaddress.IPv6Network)
_AF_INET, _AF_INET6 = socket.AF_INET, socket.AF_INET6
_inet_pton = socket.inet_pton
# Pasted lists may use commas, semicolons, whitespace or newlines between
# entries, and ``#`` comments to the end of a line.
_SEPARATORS = re.compile(r"[\s,;]+")


def pack_address(address):
    """Return the packed address (4 bytes for IPv4, 16 for IPv6), or ``None``.

    IPv4-mapped IPv6 addresses pack as their IPv4 address. A zone index
    (``fe80::1%eth0``) is dropped: a link-local peer is still that address.
    Anything that is not an address gives ``None``.
    """
    if not isinstance(address, str):
        return None
    try:
        if ":" not in address:
            return _inet_pton(_AF_INET, address)
        packed = _inet_pton(_AF_INET6, address.partition("%")[0])
    except (OSError, ValueError):
        return None
    return packed[12:] if packed[:12] == _V4_MAPPED_PREFIX else packed


def canonical_address(address):
    """Return the canonical text of an address (``::FFFF:10.0.0.1`` → ``10.0.0.1``), or ``None``."""
    packed = pack_address(address)
    if packed is None:
        return None
    return socket.inet_ntop(_AF_INET if len(packed) == 4 else _AF_INET6, packed)


def parse_network(value):
    """Parse one address or CIDR into an ``ipaddress`` network.

    A bare address becomes a host network (``10.1.2.3`` → ``10.1.2.3/32``); an
    IPv4-mapped one becomes its IPv4 network (``::ffff:10.0.0.0/104`` → ``10.0.0.0/8``).
    Raises ``ValueError`` with a message naming the value and, when it can,
    suggesting the fix.
    """
    text = value.strip() if isinstance(value, str) else value
    if not text:
        raise ValueError(_("An empty value is not a network: enter an address or a CIDR such as 10.0.0.0/8."))
    if not isinstance(text, str):
        raise ValueError(_("%(value)r is not a network: enter an address or a CIDR such as 10.0.0.0/8.",
                           value=value))
    if "%" in text:
        raise ValueError(_(
            "%(value)r has a zone index (the part after %%): rules apply to every interface, "
            "enter %(address)r without it.",
            value=text, address=text.partition("%")[0],
        ))
    try:
        # strict=False first, so that "host bits set" can be told from "not an address".
        network = ipaddress.ip_network(text, strict=False)
    except ValueError:
        raise ValueError(_(
            "%(value)r is not a valid IPv4 or IPv6 address or CIDR (examples: 10.0.0.0/8, 192.0.2.7, 2001:db8::/32).",
            value=text,
        )) from None
    mapped = _as_ipv4(network)
    if "/" in text and network.network_address != ipaddress.ip_interface(text).ip:
        raise ValueError(_("%(value)r has host bits set: did you mean %(network)r?", value=text, network=str(mapped)))
    return mapped


def _as_ipv4(network):
    """An IPv4-mapped network (``::ffff:10.0.0.0/104``) as the IPv4 network it admits (``10.0.0.0/8``).

    Rules match mapped clients as IPv4, so the two spellings are one rule: stored
    once, a duplicate is caught and archiving one spelling leaves no twin behind.
    Wider IPv6 networks stay as written.
    """
    if network.version == 6 and network.subnet_of(_V4_MAPPED_NETWORK):
        return ipaddress.IPv4Network((int(network.network_address) & 0xFFFFFFFF, network.prefixlen - 96))
    return network


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
            errors.append(exc.args[0])  # a Text: worded again for the reader
            continue
        if network not in normalised:
            normalised.append(network)
    if errors:
        raise ValueError(Text.join(errors, "\n"))
    return normalised


def _range_of(entry):
    """Return ``(width, first, last)`` of one rule: width 4 (IPv4) or 16 (IPv6) bytes.

    Canonical ``address/prefix`` text takes a fast path on ``inet_pton``;
    anything else (bare addresses with odd spelling, netmasks, errors) goes
    through ``parse_network`` for its normalisation and its error messages.
    """
    if isinstance(entry, str):
        address, slash, prefix = entry.partition("/")
        if prefix.isdigit() and prefix.isascii() and len(prefix) <= 3 and "%" not in address:
            try:
                packed = _inet_pton(_AF_INET6 if ":" in address else _AF_INET, address)
            except OSError:
                packed = None
            if packed is not None:
                bits, prefixlen = len(packed) * 8, int(prefix)
                value = int.from_bytes(packed, "big")
                hostmask = (1 << (bits - prefixlen)) - 1 if prefixlen <= bits else -1
                if hostmask >= 0 and not value & hostmask:
                    if bits == 128 and packed[:12] == _V4_MAPPED_PREFIX and prefixlen >= 96:
                        return 4, value & 0xFFFFFFFF, (value | hostmask) & 0xFFFFFFFF
                    return len(packed), value, value | hostmask
    network = _as_ipv4(entry if isinstance(entry, _NETWORK_TYPES) else parse_network(entry))
    first = int(network.network_address)
    return (4 if network.version == 4 else 16), first, first + network.num_addresses - 1


def network_covers(outer, inner):
    """Whether every address of network ``inner`` is in network ``outer`` (addresses or CIDRs).

    Matches as ``NetworkSet`` does: IPv4-mapped IPv6 is IPv4, and IPv6 never
    covers IPv4. Raises ``ValueError`` naming a malformed value.
    """
    outer_width, outer_first, outer_last = _range_of(outer)
    width, first, last = _range_of(inner)
    return width == outer_width and outer_first <= first and last <= outer_last


# Families with more ranges than this get a first-level index on their first 16 bits.
_INDEX_THRESHOLD = 256


class _Ranges:
    """Sorted disjoint ranges of one family's packed addresses (4 or 16 bytes).

    Large sets also keep, for each value of the first two bytes, where its
    ranges sit in the sorted list: a lookup then bisects a few neighbours
    instead of the whole list, which keeps it fast when the list no longer
    fits in the CPU cache.
    """

    __slots__ = ("starts", "ends", "positions")

    def __init__(self, merged, width):
        self.starts = [first.to_bytes(width, "big") for first, _last in merged]
        self.ends = [last.to_bytes(width, "big") for _first, last in merged]
        self.positions = None
        if len(self.starts) > _INDEX_THRESHOLD:
            # positions[b]: how many ranges start before the 16-bit prefix b.
            counts = [0] * 65537
            for start in self.starts:
                counts[(start[0] << 8 | start[1]) + 1] += 1
            for bucket in range(1, 65537):
                counts[bucket] += counts[bucket - 1]
            # A C array, not a list: reading it follows no pointer to a scattered int object.
            self.positions = array.array("I", counts)

    def contains(self, packed):
        positions = self.positions
        if positions is None:
            index = bisect.bisect_right(self.starts, packed) - 1
        else:
            # Every range before positions[bucket] starts below the address and every range from
            # positions[bucket + 1] on starts above it: bisecting between them gives the same answer.
            bucket = packed[0] << 8 | packed[1]
            index = bisect.bisect_right(self.starts, packed, positions[bucket], positions[bucket + 1]) - 1
        return index >= 0 and packed <= self.ends[index]


class NetworkSet:
    """An immutable set of IPv4/IPv6 networks.

    ``"10.1.2.3" in networks`` is True when the address lies in any network.
    A malformed entry raises ``ValueError`` naming it; a malformed probe is
    simply not in the set.
    """

    __slots__ = ("_v4", "_v6", "_entries", "_canonical")

    def __init__(self, networks=()):
        self._entries = tuple(networks)
        self._canonical = None
        ranges = sorted(_range_of(entry) for entry in self._entries)
        merged = []
        for width, first, last in ranges:
            # Merge overlapping and adjacent ranges so that a lookup needs one probe.
            if merged and merged[-1][0] == width and first <= merged[-1][2] + 1:
                merged[-1][2] = max(merged[-1][2], last)
            else:
                merged.append([width, first, last])
        self._v4 = _Ranges([(first, last) for width, first, last in merged if width == 4], 4)
        self._v6 = _Ranges([(first, last) for width, first, last in merged if width == 16], 16)

    def __contains__(self, address):
        # pack_address inlined: this is the per-request hot path.
        if type(address) is not str:
            return False
        try:
            if ":" not in address:
                return self._v4.contains(_inet_pton(_AF_INET, address))
            if "%" in address:
                address = address.partition("%")[0]
            packed = _inet_pton(_AF_INET6, address)
        except (OSError, ValueError):
            return False
        if packed.startswith(_V4_MAPPED_PREFIX):
            return self._v4.contains(packed[12:])
        return self._v6.contains(packed)

    def contains_packed(self, packed):
        """Membership test for an address packed by ``pack_address``."""
        return (self._v4 if len(packed) == 4 else self._v6).contains(packed)

    @property
    def networks(self):
        """The distinct networks given, in canonical text, in the order given."""
        if self._canonical is None:
            self._canonical = tuple(dict.fromkeys(
                str(entry) if isinstance(entry, _NETWORK_TYPES) else normalize_network(entry)
                for entry in self._entries
            ))
        return self._canonical

    def __bool__(self):
        return bool(self._v4.starts or self._v6.starts)

    def __len__(self):
        """Number of distinct networks given (not of merged ranges)."""
        return len(self.networks)

    def __iter__(self):
        return iter(self.networks)

    def __eq__(self, other):
        return isinstance(other, NetworkSet) and self._ranges() == other._ranges()

    def __hash__(self):
        return hash(self._ranges())

    def _ranges(self):
        return tuple(self._v4.starts), tuple(self._v4.ends), tuple(self._v6.starts), tuple(self._v6.ends)

    def __repr__(self):
        shown = ", ".join(self.networks[:5])
        more = f", … ({len(self.networks)} in all)" if len(self.networks) > 5 else ""
        return f"NetworkSet([{shown}{more}])"

    @property
    def range_count(self):
        """Number of disjoint ranges after merging."""
        return len(self._v4.starts) + len(self._v6.starts)


def _int_ranges(ranges):
    return [(int.from_bytes(start, "big"), int.from_bytes(end, "big"))
            for start, end in zip(ranges.starts, ranges.ends, strict=True)]


def _intersect(left, right):
    """The intersection of two sorted lists of disjoint ``(first, last)`` ranges."""
    common, i, j = [], 0, 0
    while i < len(left) and j < len(right):
        first, last = max(left[i][0], right[j][0]), min(left[i][1], right[j][1])
        if first <= last:
            common.append((first, last))
        if left[i][1] < right[j][1]:
            i += 1
        else:
            j += 1
    return common


def _first_outside(ranges, excluded):
    """The lowest value of ``ranges`` in none of ``excluded`` (both sorted, disjoint, merged), or None."""
    for first, last in ranges:
        candidate = first
        for excluded_first, excluded_last in excluded:
            if excluded_last < candidate:
                continue
            if excluded_first > candidate:
                break
            candidate = excluded_last + 1
        if candidate <= last:
            return candidate
    return None


def first_common_address(sets, excluding=None):
    """The lowest address (canonical text) that is in every ``NetworkSet`` of ``sets`` and not in ``excluding``.

    None when there is none (or ``sets`` is empty). IPv4 is looked at before IPv6.
    """
    sets = list(sets)
    if not sets:
        return None
    for family, width in (("_v4", 4), ("_v6", 16)):
        common = _int_ranges(getattr(sets[0], family))
        for other in sets[1:]:
            common = _intersect(common, _int_ranges(getattr(other, family)))
        value = _first_outside(common, _int_ranges(getattr(excluding, family)) if excluding is not None else [])
        if value is not None:
            return socket.inet_ntop(_AF_INET if width == 4 else _AF_INET6, value.to_bytes(width, "big"))
    return None
