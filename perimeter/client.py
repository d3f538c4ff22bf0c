"""Who is the client: the TCP peer, unless a trusted proxy says otherwise.

Like nginx's realip module with ``real_ip_recursive on``: proxy headers count
only when the TCP peer is a trusted proxy; their hops are walked from the
right, skipping trusted proxies, and the first untrusted hop is the client.
Headers sent by anyone else are ignored and reported, whatever Odoo's
``proxy_mode`` says and whether ``X-Forwarded-Host`` is present.

``X-Forwarded-For`` and RFC 7239 ``Forwarded`` are both read when both are
present: a proxy that writes one usually passes the other through untouched,
so a client could forge whichever one the proxy does not write. Every address
they yield is a candidate, and the policy admits a request only when all
candidates are allowed. ``X-Real-IP`` (a single address) is used only when
neither list is present.
"""

import re
from dataclasses import dataclass

from .networks import NetworkSet, canonical_address

LOOPBACK = NetworkSet(["127.0.0.0/8", "::1/128"])

# Right-to-left walks stop after this many hops: deeper chains are not real proxies.
MAX_HOPS = 20
# A header longer than this is not read at all (treated as malformed).
MAX_HEADER_LENGTH = 8192

PROXY_HEADERS = ("HTTP_X_FORWARDED_FOR", "HTTP_FORWARDED", "HTTP_X_REAL_IP", "HTTP_X_FORWARDED_PROTO")

_IPV4_WITH_PORT = re.compile(r"^(\d{1,3}(?:\.\d{1,3}){3}):\d{1,5}$")
_BRACKETED = re.compile(r"^\[([0-9A-Fa-f:.]+)\](?::\d{1,5})?$")
_FORWARDED_PAIR = re.compile(r'\s*([A-Za-z]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^;,"\s]*)\s*')


@dataclass(frozen=True, slots=True)
class Client:
    ip: str  # the resolved client address (canonical text), or the unreadable token that stopped the walk
    peer: str  # the TCP peer (canonical text)
    scheme: str  # "http" or "https" as the client used it
    other_ips: tuple = ()  # further candidates when X-Forwarded-For and Forwarded disagree
    via_proxy: bool = False  # resolved through a trusted proxy's headers
    untrusted_headers: bool = False  # proxy headers came from a peer that is not a trusted proxy (ignored)
    malformed: bool = False  # a trusted proxy's header could not be read: the client is unknown

    @property
    def addresses(self):
        return (self.ip, *self.other_ips)


def _hop_address(token):
    """Canonical address of one hop (``1.2.3.4``, ``1.2.3.4:80``, ``[2001:db8::1]:80``), or None."""
    token = token.strip().strip('"').strip()
    address = canonical_address(token)
    if address is not None:
        return address
    match = _IPV4_WITH_PORT.match(token) or _BRACKETED.match(token)
    return canonical_address(match.group(1)) if match else None


def _walk(hops, trusted):
    """Right-to-left walk over hop tokens; return ``(client, index, malformed)``.

    ``index`` is the position of the client in ``hops``. When every hop is
    trusted, the left-most is the client (nginx does the same).
    """
    client, index = None, -1
    for position in range(len(hops) - 1, max(-1, len(hops) - 1 - MAX_HOPS), -1):
        address = _hop_address(hops[position])
        if address is None:
            return hops[position].strip()[:64] or "unknown", position, True
        client, index = address, position
        if address not in trusted:
            return client, index, False
    if len(hops) > MAX_HOPS:
        return hops[0].strip()[:64] or "unknown", 0, True
    return client, index, client is None


def _forwarded_elements(value):
    """Parse RFC 7239 ``Forwarded`` into a list of {param: value} dicts, or None when malformed."""
    elements = []
    for element in value.split(","):
        pairs = {}
        for part in element.split(";"):
            if not part.strip():
                continue
            match = _FORWARDED_PAIR.fullmatch(part)
            if not match:
                return None
            pairs[match.group(1).lower()] = match.group(2).strip('"')
        elements.append(pairs)
    return elements


def _scheme(value, default):
    value = value.strip().lower()
    return value if value in ("http", "https") else default


def resolve_client(environ, trusted_proxies):
    """Resolve the client of a WSGI request from ``REMOTE_ADDR`` and its proxy headers.

    ``trusted_proxies`` is a ``NetworkSet``. Never raises: unreadable values
    give an unreadable client (which no allowlist contains) and ``malformed``.
    """
    raw_peer = environ.get("REMOTE_ADDR") or ""
    peer = canonical_address(raw_peer) or raw_peer[:64]
    scheme = "https" if environ.get("wsgi.url_scheme") == "https" else "http"
    present = [name for name in PROXY_HEADERS if environ.get(name)]
    if not present:
        return Client(ip=peer, peer=peer, scheme=scheme)
    if peer not in trusted_proxies:
        return Client(ip=peer, peer=peer, scheme=scheme, untrusted_headers=True)
    if any(len(environ[name]) > MAX_HEADER_LENGTH for name in present):
        return Client(ip="unknown", peer=peer, scheme=scheme, via_proxy=True, malformed=True)

    candidates, malformed = [], False
    xff = environ.get("HTTP_X_FORWARDED_FOR")
    xff_position = xff_count = None
    if xff:
        hops = xff.split(",")
        client, xff_position, bad = _walk(hops, trusted_proxies)
        xff_count = len(hops)
        candidates.append(client)
        malformed |= bad
    forwarded = environ.get("HTTP_FORWARDED")
    forwarded_proto = None
    if forwarded:
        elements = _forwarded_elements(forwarded)
        if elements is None or any("for" not in element for element in elements):
            candidates.append("unknown")
            malformed = True
        else:
            client, position, bad = _walk([element["for"] for element in elements], trusted_proxies)
            candidates.append(client)
            malformed |= bad
            forwarded_proto = elements[position].get("proto")
    if not candidates and environ.get("HTTP_X_REAL_IP"):
        client, _position, bad = _walk([environ["HTTP_X_REAL_IP"]], trusted_proxies)
        candidates.append(client)
        malformed |= bad
    if not candidates:  # only X-Forwarded-Proto: the peer is the client
        candidates.append(peer)

    # Every scheme a trusted proxy states must say https: one forged header cannot upgrade the request.
    schemes = [_scheme(forwarded_proto, "http")] if forwarded_proto else []
    if proto := environ.get("HTTP_X_FORWARDED_PROTO"):
        protos = proto.split(",")
        # Aligned with X-Forwarded-For when each proxy appended to both; else the nearest proxy's.
        aligned = xff_count == len(protos) and xff_position is not None and xff_position >= 0
        schemes.append(_scheme(protos[xff_position] if aligned else protos[-1], "http"))
    if schemes:
        scheme = "https" if all(value == "https" for value in schemes) else "http"

    unique = tuple(dict.fromkeys(candidates))
    return Client(ip=unique[0], peer=peer, scheme=scheme, other_ips=unique[1:], via_proxy=True, malformed=malformed)


def is_loopback(client):
    """A request from this machine that no proxy relayed (local scripts, health checks)."""
    return not client.via_proxy and not client.untrusted_headers and client.peer in LOOPBACK
