"""What the access log records about one refused (or monitored) request.

Enforcement points build a ``Hit`` from the request facts and the verdict and
hand it to the access log sink (``access_log.record_hit``): one call, never
a database write on the request's path.
"""

import ipaddress
import re
import threading
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from .charge import DEFAULT_IPV6_PREFIX, prefix_key
from .flusher import call_after_fork
from .wording import _

# pylint: disable=prefer-env-translation  # no env in the engine: this _ is perimeter.wording's, not Odoo's

# Reasons a request is refused or reported; the access log's selection follows this list.
REASONS = {
    "not_allowlisted": "Not in the allowlist",
    "not_https": "Plain HTTP",
    "untrusted_proxy_headers": "Proxy headers from an untrusted peer",
    "system_network": "Outside the connected system's networks",
    "user_network": "A user outside their networks",
    "blocklisted": "In the blocklist",
    "failed_login": "Failed login",
}


def _utcnow():
    return datetime.now(UTC).replace(tzinfo=None)


def _naive_utc(at):
    """``at`` as a naive UTC datetime (None: now), as Odoo stores datetimes."""
    if not isinstance(at, datetime):
        return _utcnow()
    return at.astimezone(UTC).replace(tzinfo=None) if at.tzinfo is not None else at


@dataclass(frozen=True)
class Hit:
    ip: str  # the address the verdict judged (counted under its prefix when IPv6: charge.py)
    reason: str  # a key of REASONS
    blocked: bool  # False when only monitored
    peer: str = ""  # the TCP peer, when it differs from ip (a proxy)
    path: str = ""
    method: str = ""
    user_agent: str = ""
    login: str = ""  # the user concerned (reason user_network); set by the server, never by the client
    at: datetime = field(default_factory=_utcnow)  # naive UTC, as Odoo stores datetimes


# --------------------------------------------------------------------------
# Aggregation: a flood of hits becomes a few rows with exact counts.
# --------------------------------------------------------------------------

LOG_WINDOW = timedelta(hours=1)  # one log row per client, reason, verdict and hour
MAX_KEYS = 10_000  # distinct (database, client, reason, verdict, window) kept in memory
OVERFLOW_KEYS = 1_000  # extra room for the per-database "other addresses" keys
OVERFLOW_IP = "*"  # the client of the row that counts addresses beyond MAX_KEYS or MAX_WINDOW_CLIENTS
# Distinct clients (addresses, IPv6 prefixes) one process gives rows of their own per database and window;
# the others of that window are counted in the OVERFLOW_IP row: a flood from many addresses adds at most
# this many log rows, alert and ban counters (and so bans) per window and process.
MAX_WINDOW_CLIENTS = 1_000
# Past that cap a client still gets a row of its own once it has this many hits in the window (in one
# process): filling the cap with junk addresses must not hide a password guesser from the bans.
PROMOTE_HITS = 10
MAX_TRACKED = 100_000  # clients past the cap whose hits are tracked per window; started over when full
UNKNOWN_IP = "unknown"  # a hit whose client could not be resolved

# Longest text kept from a hit: a client chooses its path and user agent, and
# memory must stay bounded by MAX_KEYS times these, not by what it sends.
MAX_PATH = 1024
MAX_USER_AGENT = 256
MAX_ADDRESS = 64
MAX_METHOD = 16

_EPOCH = datetime(1970, 1, 1)


# What PostgreSQL cannot store (NUL, lone surrogates) and what would garble a log line or a list view
# (the other C0 and C1 controls, DEL): written as visible escapes, ``\x00``, ``\ud800``.
_UNSTORABLE = re.compile(r"[\x00-\x1f\x7f-\x9f\ud800-\udfff]")


def _escape(match):
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def storable(value, limit):
    """``value`` as text PostgreSQL accepts, of at most ``limit`` characters ('' for None).

    A client chooses its path and user agent: one NUL byte there made the
    whole flushed batch fail. Control characters become visible escapes
    (a NUL between ``a`` and ``b`` is shown as ``a\\x00b``), then the text is cut to ``limit``.
    """
    if value.__class__ is not str:
        value = "" if value is None else str(value)
    if _UNSTORABLE.search(value, 0, limit):
        value = _UNSTORABLE.sub(_escape, value[:limit])
    return value[:limit]  # a short str is returned as is, not copied



def _needs_cleaning(hit):
    """Whether the client-chosen text of ``hit`` is too long or holds characters that cannot be stored."""
    try:
        if (len(hit.path) > MAX_PATH or len(hit.user_agent) > MAX_USER_AGENT or len(hit.method) > MAX_METHOD
                or len(hit.peer) > MAX_ADDRESS):
            return True
    except TypeError:  # None, or not text
        return True
    search = _UNSTORABLE.search
    return bool(search(hit.path) or search(hit.user_agent) or search(hit.method) or search(hit.peer))


def _clipped(hit):
    """``hit`` with its client-chosen text made storable and cut to the limits (and None made '')."""
    return replace(
        hit,
        peer=storable(hit.peer, MAX_ADDRESS),
        path=storable(hit.path, MAX_PATH),
        method=storable(hit.method, MAX_METHOD),
        user_agent=storable(hit.user_agent, MAX_USER_AGENT),
    )


class Bucket:
    """The hits of one key: (database, client, reason, blocked, window)."""

    __slots__ = ("dbname", "ip", "reason", "blocked", "window", "hits", "first_seen", "last_seen", "latest")

    def __init__(self, dbname, ip, reason, blocked, window):
        self.dbname = dbname
        self.ip = ip
        self.reason = reason
        self.blocked = blocked
        self.window = window  # index of the window since the epoch
        self.hits = 0
        self.first_seen = self.last_seen = None
        self.latest = None  # the latest Hit, its text within the limits

    @property
    def key(self):
        return self.dbname, self.ip, self.reason, self.blocked, self.window

    def window_start(self, window=LOG_WINDOW):
        return _EPOCH + self.window * window

    # Details of the latest hit.
    @property
    def peer(self):
        return self.latest.peer if self.latest else ""

    @property
    def path(self):
        return self.latest.path if self.latest else ""

    @property
    def method(self):
        return self.latest.method if self.latest else ""

    @property
    def user_agent(self):
        return self.latest.user_agent if self.latest else ""

    @property
    def login(self):
        return self.latest.login if self.latest else ""

    def merge(self, other):
        """Add ``other``'s hits (same key) to this bucket; the latest details win."""
        self.hits += other.hits
        if self.first_seen is None or other.first_seen < self.first_seen:
            self.first_seen = other.first_seen
        if self.last_seen is None or other.last_seen >= self.last_seen:
            self.last_seen = other.last_seen
            self.latest = other.latest

    def __repr__(self):
        return f"<Bucket {self.dbname} {self.ip} {self.reason} blocked={self.blocked} hits={self.hits}>"


class Aggregator:
    """Count hits per (database, client, reason, blocked, time window), thread-safe.

    ``add`` is the request path: a dict lookup and a few attribute updates
    under a lock. ``drain`` hands the buckets to whoever writes them and
    ``requeue`` takes back the ones that could not be written. Memory is
    bounded: past ``max_keys`` distinct keys, new clients are counted in the
    ``OVERFLOW_IP`` bucket of their database, reason and window; past the
    overflow room too, hits are only counted in ``lost`` (reported, never
    silently dropped). Rows are bounded too: past ``max_window_clients``
    distinct clients of one database in one window (across flushes), the
    next ones go to that window's ``OVERFLOW_IP`` bucket, with their count,
    until one of them has ``PROMOTE_HITS`` hits in the window: from then on
    it has a row of its own (so it can be alerted on and banned).
    """

    def __init__(self, window=LOG_WINDOW, max_keys=MAX_KEYS, overflow_keys=OVERFLOW_KEYS,
                 max_window_clients=MAX_WINDOW_CLIENTS):
        self.window = window
        self.max_keys = max_keys
        self.overflow_keys = overflow_keys
        self.max_window_clients = max_window_clients
        self._lock = threading.Lock()
        self._buckets = {}
        # (dbname, window) -> (clients with rows of their own, {client past the cap: hits so far})
        self._window_clients = {}
        self.ipv6_prefixes = {}  # dbname -> the prefix an IPv6 client is counted by (the policy's ipv6_prefix)
        self._current = (_EPOCH, _EPOCH, 0)  # the window of the latest hit: (start, end, index)
        self.lost = 0  # hits that found no room at all since the last take_lost()
        self.overflowed = 0  # hits counted in OVERFLOW_IP buckets since the last take_lost()
        call_after_fork(self._after_fork)

    def _after_fork(self):
        # A lock held by another thread at fork time would stay locked in the
        # child forever; the parent's pending hits are the parent's to write.
        self._lock = threading.Lock()
        self._buckets = {}
        self._window_clients = {}
        self.lost = self.overflowed = 0

    def add(self, dbname, hit):
        """Count one ``Hit`` for ``dbname`` (None: a request with no database)."""
        # The request path: plain comparisons, no call in the common case.
        at = hit.at
        if at.__class__ is not datetime or at.tzinfo is not None:
            at = _naive_utc(at)
        ip = hit.ip or UNKNOWN_IP
        if ip.__class__ is not str or len(ip) > MAX_ADDRESS or _UNSTORABLE.search(ip):
            ip = storable(ip, MAX_ADDRESS)  # an unreadable hop a trusted proxy forwarded is kept as text
        elif ":" in ip:
            ip = prefix_key(ip, self.ipv6_prefixes.get(dbname, DEFAULT_IPV6_PREFIX))  # one client: one prefix
        start, end, window = self._current
        if not start <= at < end:
            window = (at - _EPOCH) // self.window
            start = _EPOCH + window * self.window
            self._current = (start, start + self.window, window)  # one tuple: read and written whole
        if _needs_cleaning(hit):
            # Stored as the flush will write it; memory is bounded by MAX_KEYS times the limits.
            hit = _clipped(hit)
        key = (dbname, ip, hit.reason, hit.blocked, window)
        with self._lock:
            bucket = self._buckets.get(key)
            if bucket is None:
                bucket, overflowed = self._new_bucket(key)
                if bucket is None:
                    self.lost += 1
                    return
                self.overflowed += overflowed
            bucket.hits += 1
            if bucket.last_seen is None or at >= bucket.last_seen:
                if bucket.first_seen is None:
                    bucket.first_seen = at
                bucket.last_seen = at
                bucket.latest = hit
            elif at < bucket.first_seen:
                bucket.first_seen = at

    def _new_bucket(self, key):
        """Create the bucket of ``key`` (lock held) -> ``(bucket or None, overflowed)``.

        Past ``max_keys``, the bucket is the OVERFLOW_IP one of the key's
        database, reason, verdict and window; past the overflow room, None.
        """
        buckets = self._buckets
        dbname, ip, reason, blocked, window = key
        if len(buckets) < self.max_keys and self._own_row(dbname, ip, window):
            bucket = buckets[key] = Bucket(*key)
            return bucket, False
        overflow_key = (dbname, OVERFLOW_IP, reason, blocked, window)
        bucket = buckets.get(overflow_key)
        if bucket is None:
            if len(buckets) >= self.max_keys + self.overflow_keys:
                return None, False
            bucket = buckets[overflow_key] = Bucket(*overflow_key)
        return bucket, ip != OVERFLOW_IP

    def _own_row(self, dbname, ip, window):
        """Whether ``ip`` gets a row of its own in ``window`` (lock held).

        Yes when it has one, when there is room, or once it has ``PROMOTE_HITS`` hits past the cap.
        """
        entry = self._window_clients.get((dbname, window))
        if entry is None:
            # A new window: the clients of windows before the previous one are no longer needed.
            stale = [key for key in self._window_clients if key[1] < window - 1]
            for key in stale:
                del self._window_clients[key]
            entry = self._window_clients[dbname, window] = (set(), {})
        clients, past_cap = entry
        if ip in clients or ip == OVERFLOW_IP:
            return True
        if len(clients) < self.max_window_clients:
            clients.add(ip)
            return True
        hits = past_cap.pop(ip, 0) + 1
        if hits >= PROMOTE_HITS:
            clients.add(ip)
            return True
        if len(past_cap) >= MAX_TRACKED:
            past_cap.clear()
        past_cap[ip] = hits
        return False

    def drain(self, select=None):
        """Remove and return the pending buckets, grouped ``{dbname: [Bucket]}``.

        ``select(dbname) -> bool`` keeps the others pending (None: take all,
        including dbname None, the requests with no database).
        """
        with self._lock:
            if select is None:
                taken, self._buckets = self._buckets, {}
            else:
                taken = {key: bucket for key, bucket in self._buckets.items() if select(key[0])}
                for key in taken:
                    del self._buckets[key]
        grouped = {}
        for bucket in taken.values():
            grouped.setdefault(bucket.dbname, []).append(bucket)
        return grouped

    def requeue(self, buckets):
        """Take back buckets that could not be written; they go out with the next flush.

        Bounded like ``add``: what finds no room is counted in ``lost``.
        """
        with self._lock:
            for bucket in buckets:
                existing = self._buckets.get(bucket.key)
                if existing is None:
                    existing, overflowed = self._new_bucket(bucket.key)
                    if existing is None:
                        self.lost += bucket.hits
                        continue
                    if overflowed:
                        self.overflowed += bucket.hits
                existing.merge(bucket)

    def forget_windows(self):
        """Forget which clients had rows in the current windows (a clean slate for tests and benchmarks)."""
        with self._lock:
            self._window_clients = {}

    def take_lost(self):
        """Return and reset ``(lost, overflowed)`` hit counts."""
        with self._lock:
            counts = self.lost, self.overflowed
            self.lost = self.overflowed = 0
        return counts

    def pending_hits(self, dbname=...):
        """Hits waiting to be written (for one database if ``dbname`` is given)."""
        with self._lock:
            return sum(
                bucket.hits for key, bucket in self._buckets.items() if dbname is ... or key[0] == dbname
            )

    def __len__(self):
        return len(self._buckets)


# --------------------------------------------------------------------------
# Alerts: refused hits per client and alert window.
# --------------------------------------------------------------------------


def alert_window(at, minutes):
    """Return ``(start, end)`` of the ``minutes``-long window that contains ``at``."""
    size = timedelta(minutes=minutes)
    start = _EPOCH + ((at - _EPOCH) // size) * size
    return start, start + size


def refused_per_client(buckets, minutes):
    """Sum the refused hits of ``buckets`` per (client, alert window).

    Returns ``{(ip, window_start): AlertCount}``. Monitored hits are not
    refusals and the overflow bucket is not one client: neither counts. A
    bucket is flushed within seconds of its hits, so it is attributed to the
    window of its latest hit.
    """
    counts = {}
    for bucket in buckets:
        if not bucket.blocked or bucket.ip == OVERFLOW_IP:
            continue
        start, end = alert_window(bucket.last_seen, minutes)
        count = counts.get((bucket.ip, start))
        if count is None:
            count = counts[bucket.ip, start] = AlertCount(bucket.ip, start, end)
        count.add(bucket)
    return counts


class AlertCount:
    __slots__ = ("ip", "window_start", "window_end", "hits", "first_seen", "last_seen", "reason")

    def __init__(self, ip, window_start, window_end):
        self.ip = ip
        self.window_start = window_start
        self.window_end = window_end
        self.hits = 0
        self.first_seen = self.last_seen = None
        self.reason = None

    def add(self, bucket):
        self.hits += bucket.hits
        if self.first_seen is None or bucket.first_seen < self.first_seen:
            self.first_seen = bucket.first_seen
        if self.last_seen is None or bucket.last_seen >= self.last_seen:
            self.last_seen = bucket.last_seen
            self.reason = bucket.reason


# --------------------------------------------------------------------------
# Reading the buckets of requests that have no database.
# --------------------------------------------------------------------------


def summarize(buckets, seconds, top=5):
    """One log line about hits that could not be written to a database."""
    hits = sum(bucket.hits for bucket in buckets)
    reasons, clients = {}, {}
    for bucket in buckets:
        verdict = bucket.reason if bucket.blocked else f"{bucket.reason} (monitored)"
        reasons[verdict] = reasons.get(verdict, 0) + bucket.hits
        clients[bucket.ip] = clients.get(bucket.ip, 0) + bucket.hits
    by_reason = ", ".join(f"{count} {reason}" for reason, count in sorted(reasons.items(), key=lambda i: -i[1]))
    busiest = sorted(clients.items(), key=lambda item: -item[1])[:top]
    shown = ", ".join(f"{ip} ×{count}" for ip, count in busiest)
    more = f" and {len(clients) - top} more" if len(clients) > top else ""
    return (
        f"{hits} refused or monitored requests without a database in the last {seconds:.0f} s "
        f"({by_reason}) from {len(clients)} clients: {shown}{more}"
    )


# --------------------------------------------------------------------------
# Admitting a client seen in the log.
# --------------------------------------------------------------------------

WIDE_PREFIX = {4: 24, 6: 64}


def network_to_admit(address, widen=False):
    """Canonical CIDR that admits ``address``: the host, or its /24 (IPv4) or /64 (IPv6).

    ``address`` may be the IPv6 prefix a client is logged under (``2001:db8:1:2::/64``): that
    network (or, widened, its /64 when narrower). IPv4-mapped IPv6 addresses are admitted as
    IPv4 (rules match them so). Raises ``ValueError`` naming the value when it is not an address.
    """
    text = address.strip() if isinstance(address, str) else address
    if isinstance(text, str) and "/" in text:
        try:
            network = ipaddress.ip_network(text)
        except ValueError:
            raise ValueError(_("%(value)r is not an IP address", value=address)) from None
        wide = WIDE_PREFIX[network.version]
        return str(network.supernet(new_prefix=wide) if widen and network.prefixlen > wide else network)
    try:
        ip = ipaddress.ip_address(text.partition("%")[0] if isinstance(text, str) else text)
    except ValueError:
        raise ValueError(_("%(value)r is not an IP address", value=address)) from None
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    prefix = WIDE_PREFIX[ip.version] if widen else ip.max_prefixlen
    return str(ipaddress.ip_network((ip, prefix), strict=False))
