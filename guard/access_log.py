"""The access log sink: where every enforcement point hands a refused or monitored request.

``record_hit`` is called on the request's path, possibly thousands of times a
second: it only counts the hit in this process's aggregator (a dict update
under a lock), never raises and never touches the request's cursor, which is
rolled back with the refusal. A daemon thread, started by the first hit,
writes the pending counts every ``FLUSH_INTERVAL`` seconds through its own
short cursor per database (``Registry(dbname).cursor()``, registries already
loaded only, statement timeout), one row per client, reason, verdict and hour
(``perimeter.access.log``). A failed write is logged and retried with the next
flush, except a row PostgreSQL refuses for its values: the batch is then
written row by row, and that row is logged and dropped, never retried (its
text is made storable when the hit is taken, so this is a last resort).
Pending hits are written when the server stops (``CommonServer.on_stop`` for
the threaded and gevent servers, ``atexit`` for prefork workers).

Requests that belong to no database (``dbname`` None: database manager,
database-less RPC) have no table to go to: they are counted the same way and
summarised in the server log at WARNING, at most once a minute. They are not
copied into every database: the server's configuration file, not any one
database, governs them, and the server log is where its operator looks.

While Odoo runs tests (``--test-enable``) nothing is written automatically:
a background write would use the test's cursor from another thread. Tests
call ``flush_now()``.
"""

import contextlib
import logging
import threading
import time

import psycopg2

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tools import config

from ..perimeter.access_log import Aggregator, summarize
from ..perimeter.flusher import PeriodicFlusher
from . import background, odoo_version

_logger = logging.getLogger(__name__)

MODEL = "perimeter.access.log"
FLUSH_INTERVAL = 5.0  # seconds between two writes of the pending hits
SUMMARY_INTERVAL = 60.0  # seconds between two summaries of requests with no database
WARNING_INTERVAL = 60.0  # seconds between two warnings about the same problem
STATEMENT_TIMEOUT_MS = 3000  # a flush never waits long on a lock or a busy database

_aggregator = Aggregator()
_flush_lock = threading.Lock()
_last_summary = [time.monotonic()]
_last_warnings = {}


def record_hit(dbname, hit):
    """Record one ``perimeter.access_log.Hit`` for database ``dbname`` (None: no database)."""
    try:
        _aggregator.add(dbname or None, hit)
        if not _flusher.started and _automatic_flush_allowed():
            start_flusher()
    except Exception:
        _warn("record", "could not record a refused request; it is not in the access log", exc_info=True)


def use_ipv6_prefix(dbname, prefix):
    """Count the IPv6 clients of database ``dbname`` per ``prefix`` (its policy's ``ipv6_prefix``)."""
    _aggregator.ipv6_prefixes[dbname] = prefix


def flush_now(dbname=None):
    """Write the pending hits now and return how many were written.

    ``dbname``: only that database's. None: every database's, and the
    summary of requests with no database is logged now.
    """
    if dbname:
        return _flush(lambda name: name == dbname, summary=False)
    return _flush(None, summary=True)


def discard_pending():
    """Forget the pending hits of this process (tests start from a clean slate)."""
    with _flush_lock:
        _aggregator.drain()
        _aggregator.take_lost()
        _aggregator.forget_windows()


def pending_hits(dbname=...):
    """Hits counted in this process and not written yet (of one database if given)."""
    return _aggregator.pending_hits(dbname)


def start_flusher(interval=None):
    """Start the background writer (done by the first hit outside tests)."""
    if interval is not None:
        _flusher.interval = interval
    background.register_at_shutdown(_flush_at_shutdown)
    _flusher.ensure_started()


def stop_flusher():
    _flusher.stop()
    _flusher.interval = FLUSH_INTERVAL


def _automatic_flush_allowed():
    return not config["test_enable"]


def _periodic_flush():
    summary = time.monotonic() - _last_summary[0] >= SUMMARY_INTERVAL
    _flush(None if summary else (lambda name: name is not None), summary=summary)


_flusher = PeriodicFlusher(_periodic_flush, interval=FLUSH_INTERVAL, name="perimeter-access-log")
_flush_at_shutdown = background.shutdown_writer(_flusher, flush_now, "the access log")


def _flush(select, summary):
    with _flush_lock:
        grouped = _aggregator.drain(select)
        written = 0
        for dbname, buckets in grouped.items():
            if dbname is not None:
                written += _write_database(dbname, buckets)
        if summary:
            _log_summary(grouped.get(None, ()))
        return written


def _loaded_registry(dbname):
    with contextlib.suppress(KeyError):
        return Registry.registries[dbname]
    return None


def _write_database(dbname, buckets):
    """Write one database's buckets through a cursor of its own; never raises."""
    hits = sum(bucket.hits for bucket in buckets)
    registry = _loaded_registry(dbname)
    if registry is None:
        # Opening a registry is the job of a request; a flush only writes where Odoo already runs.
        _warn(("unloaded", dbname), "%s refused requests for database %s are not logged: it is not loaded here",
              hits, dbname)
        return 0
    if not registry.ready:
        _aggregator.requeue(buckets)  # being loaded or upgraded: the next flush writes them
        return 0
    if MODEL not in registry:
        return 0  # the module is not installed there: nothing is enforced, nothing to log
    thread = threading.current_thread()
    saved_dbname = getattr(thread, "dbname", None)
    thread.dbname = dbname  # so that log lines name the database
    try:
        with _flush_environment(registry) as env:
            env[MODEL]._perimeter_store_buckets(buckets)
        return hits
    except Exception:
        # One row PostgreSQL refuses must not hold back the others: write them apart.
        return _write_apart(registry, dbname, buckets)
    finally:
        thread.dbname = saved_dbname


# What a row's own values cause (PostgreSQL refuses them); anything else is the database's state
# (a lock, a timeout, a lost connection) and the next flush retries it.
_ROW_ERRORS = (ValueError, psycopg2.DataError, psycopg2.IntegrityError)  # psycopg2: NUL is a ValueError


def _write_apart(registry, dbname, buckets):
    """Write ``buckets`` one by one after their batch failed: drop and log the rows refused for their values.

    Each row goes in a savepoint of one cursor. A row refused for what it
    holds is logged (once a minute at most) and dropped: retrying it would
    fail forever and hold back every later flush. On any other error the
    rows not written yet are kept for the next flush.
    """
    written = 0
    pending = list(buckets)
    try:
        with _flush_environment(registry) as env:
            Log = env[MODEL]
            while pending:
                bucket = pending[0]
                try:
                    with env.cr.savepoint():
                        Log._perimeter_store_buckets([bucket])
                except _ROW_ERRORS as exc:
                    _warn(("row", dbname), "dropped %s refused requests of %s (%s) from the access log of %s: "
                          "PostgreSQL refused the row: %s", bucket.hits, bucket.ip, bucket.reason, dbname, exc)
                else:
                    written += bucket.hits
                pending.pop(0)
    except Exception:
        _aggregator.requeue(pending)
        _warn(("write", dbname), "could not write %s refused requests to the access log of %s; "
              "they are kept for the next flush", sum(bucket.hits for bucket in pending), dbname, exc_info=True)
    return written


@contextlib.contextmanager
def _flush_environment(registry):
    """A superuser environment on a short cursor of its own, committed on success."""
    with registry.cursor() as cr:
        restore = _limit_statements(cr, odoo_version.registry_in_test_mode(registry))
        # The environment is built on the registry in hand: ``api.Environment`` would look it up
        # through ``Registry()``, whose class-wide lock is held while any database loads.
        cr.transaction = odoo_version.new_transaction(registry)
        yield api.Environment(cr, SUPERUSER_ID, {})
        if restore is not None:
            cr.execute("SELECT set_config('statement_timeout', %s, true)", [restore])


def _limit_statements(cr, test_mode):
    """Prepare the flush's transaction; return the statement timeout to restore, if any.

    READ COMMITTED: under Odoo's REPEATABLE READ, two workers adding to the
    same row fail with a serialization error; under READ COMMITTED the
    second upsert waits for the first and adds to its result. Every
    statement is bounded. A test cursor is a savepoint in the test's running
    transaction: its isolation is the test's, and the previous timeout is
    put back afterwards (``SET LOCAL`` lasts until the transaction ends).
    """
    previous = None
    if test_mode:
        cr.execute("SELECT current_setting('statement_timeout')")
        previous = cr.fetchone()[0]
    else:
        cr.execute("SET TRANSACTION ISOLATION LEVEL READ COMMITTED")
    cr.execute("SELECT set_config('statement_timeout', %s, true)", [str(STATEMENT_TIMEOUT_MS)])
    return previous


def _log_summary(no_database):
    now = time.monotonic()
    seconds, _last_summary[0] = now - _last_summary[0], now
    if no_database:
        _logger.warning("perimeter: %s", summarize(no_database, seconds))
    lost, overflowed = _aggregator.take_lost()
    if overflowed:
        _logger.warning("perimeter: %s refused requests from more distinct clients than the access log keeps "
                        "in memory were counted under the client '*'", overflowed)
    if lost:
        _logger.warning("perimeter: %s refused requests could not be counted in the access log "
                        "(too many distinct clients at once)", lost)


def _warn(key, message, *args, exc_info=False):
    """Log a warning about ``key`` at most once per WARNING_INTERVAL."""
    now = time.monotonic()
    if now - _last_warnings.get(key, -WARNING_INTERVAL) < WARNING_INTERVAL:
        return
    _last_warnings[key] = now
    _logger.warning("perimeter: " + message, *args, exc_info=exc_info)
