"""Per-process tally of who calls Odoo's RPC endpoints, and from where.

Every authenticated XML-RPC/JSON-RPC call adds one to a counter keyed by
(database, user, API key, client address, scheme); the counters are handed
to the database every few seconds, one row per key. Recording a call costs
a dictionary update under a lock, never a database write on the request's
path.

Nothing here imports Odoo.
"""

import dataclasses
import datetime
import threading
import time
from typing import NamedTuple

# Seconds between two flushes of one process's counts.
FLUSH_INTERVAL = 10.0
# Distinct keys held before a flush is asked for at once, whatever the interval.
MAX_KEYS = 5000


class CallerKey(NamedTuple):  # a tuple: cheap to build and to hash on every call
    user_id: int
    apikey_id: int  # 0: the call used a password (or a credential that is not an API key)
    ip: str
    scheme: str  # "http" or "https"


def _utc(timestamp):
    return datetime.datetime.fromtimestamp(timestamp, datetime.UTC).replace(tzinfo=None)


@dataclasses.dataclass(slots=True)
class Count:
    hits: int
    first: float  # epoch seconds: reading the clock as a float is what each call can afford
    last: float

    @property
    def first_seen(self):
        """Naive UTC datetime, as Odoo stores them."""
        return _utc(self.first)

    @property
    def last_seen(self):
        return _utc(self.last)

    def merge(self, other):
        self.hits += other.hits
        self.first = min(self.first, other.first)
        self.last = max(self.last, other.last)


class CallerTally:
    """Thread-safe counts of calls per database and :class:`CallerKey`.

    :meth:`add` returns True when the counts are due to be flushed (the
    interval has passed, or too many keys are held); the caller then calls
    :meth:`drain` and writes what it got, and :meth:`restore` if writing
    failed, so that nothing is lost.
    """

    def __init__(self, flush_interval=FLUSH_INTERVAL, max_keys=MAX_KEYS, clock=time.monotonic):
        self.flush_interval = flush_interval
        self.max_keys = max_keys
        self._clock = clock
        self._lock = threading.Lock()
        self._counts = {}  # dbname -> {CallerKey: Count}
        self._size = 0
        self._last_drain = clock()

    def add(self, dbname, key, at=None):
        """Count one call (at ``at``, epoch seconds, default now); return True when a flush is due."""
        moment = time.time() if at is None else at
        with self._lock:
            counts = self._counts.get(dbname)
            if counts is None:
                counts = self._counts[dbname] = {}
            count = counts.get(key)
            if count is None:
                counts[key] = Count(1, moment, moment)
                self._size += 1
            else:
                count.hits += 1
                if moment > count.last:
                    count.last = moment
                elif moment < count.first:  # threads may hand in their moments out of order
                    count.first = moment
            return self._size >= self.max_keys or self._clock() - self._last_drain >= self.flush_interval

    def drain(self, dbname=None):
        """Take the counts of one database (or all): ``{dbname: {CallerKey: Count}}``."""
        with self._lock:
            if dbname is None:
                taken, self._counts = self._counts, {}
            else:
                counts = self._counts.pop(dbname, None)
                taken = {dbname: counts} if counts else {}
            self._size = sum(len(counts) for counts in self._counts.values())
            self._last_drain = self._clock()
        return taken

    def restore(self, dbname, counts):
        """Put back counts that could not be written; they go out with the next flush."""
        with self._lock:
            target = self._counts.setdefault(dbname, {})
            for key, count in counts.items():
                if key in target:
                    target[key].merge(count)
                else:
                    target[key] = count
            self._size = sum(len(counts) for counts in self._counts.values())

    def pending(self, dbname=None):
        with self._lock:
            if dbname is None:
                return self._size
            return len(self._counts.get(dbname, ()))
