"""The sink of RPC caller counts: where authentication hooks record who called.

``record_call`` runs on the request's path: it only updates this process's
:class:`perimeter.rpc_callers.CallerTally`, and never writes: a request may run
on a read-only cursor (Odoo 18's ``readonly`` routes), and a write opened from
there (a read/write cursor, under the test runner the registry's test lock)
would fail or wait. A daemon thread, started by the first call (outside
tests), like the access log's, writes the counts every ``FLUSH_INTERVAL``
seconds into ``perimeter.rpc.caller`` through a cursor of its own, one upsert
per key; a failed write puts the counts back for the next flush and never
raises into a request. Discovery flushes through its own cursor
(``flush(env=...)``); pending counts are written when the server stops.

While Odoo runs tests (``--test-enable``) nothing is written automatically:
tests call ``flush()``.
"""

import logging

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry
from odoo.tools import config

from ..perimeter.flusher import PeriodicFlusher
from ..perimeter.rpc_callers import FLUSH_INTERVAL, CallerKey, CallerTally
from . import background, odoo_version

_logger = logging.getLogger(__name__)

TALLY = CallerTally()


def record_call(dbname, user_id, apikey_id, ip, scheme):
    """Count one authenticated RPC call: a dictionary update, never a database write."""
    TALLY.add(dbname, CallerKey(int(user_id), int(apikey_id or 0), str(ip)[:64], scheme))
    if not _flusher.started and not config["test_enable"]:
        background.register_at_shutdown(_flush_at_shutdown)
        _flusher.ensure_started()


def flush(dbname=None, env=None):
    """Write the pending counts (of ``dbname``, or of every database).

    With ``env``, the counts of its database go through its cursor, so that
    the caller's transaction sees them (discovery does this). Otherwise only
    registries already loaded in this process are written to (a flush never
    loads one); the others keep their counts.
    """
    if env is not None:
        dbname = env.cr.dbname
    for name, counts in TALLY.drain(dbname).items():
        try:
            if env is not None and name == env.cr.dbname:
                with env.cr.savepoint():
                    env["perimeter.rpc.caller"].sudo()._merge_counts(counts)
                continue
            registry = Registry.registries.get(name)
            if registry is None or not registry.ready:
                TALLY.restore(name, counts)  # written once that database is loaded here again
                continue
            with registry.cursor() as cr:
                if not odoo_version.registry_in_test_mode(registry):  # a test's cursor is its whole transaction
                    cr.execute("SET LOCAL statement_timeout = 5000")
                cr.transaction = odoo_version.new_transaction(registry)  # the registry in hand, not Registry()'s lock
                api.Environment(cr, SUPERUSER_ID, {})["perimeter.rpc.caller"]._merge_counts(counts)
        except Exception:
            # Never into a request; the counts wait for the next flush.
            _logger.warning("perimeter: could not record RPC callers of %s; kept for the next flush", name,
                            exc_info=True)
            TALLY.restore(name, counts)


_flusher = PeriodicFlusher(flush, interval=FLUSH_INTERVAL, name="perimeter-rpc-callers")
_flush_at_shutdown = background.shutdown_writer(_flusher, flush, "RPC callers")
