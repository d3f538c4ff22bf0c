"""The sink of RPC caller counts: where authentication hooks record who called.

``record_call`` runs on the request's path: it only updates this process's
:class:`perimeter.rpccallers.CallerTally`. Every few seconds (or when asked,
e.g. by discovery) the counts are written into ``perimeter.rpc.caller``
through a cursor of their own, one upsert per key; a failed write puts the
counts back for the next flush and never raises into the request.
"""

import logging

from odoo import SUPERUSER_ID, api
from odoo.modules.registry import Registry

from ..perimeter.rpccallers import CallerKey, CallerTally

_logger = logging.getLogger(__name__)

TALLY = CallerTally()


def record_call(dbname, user_id, apikey_id, ip, scheme):
    """Count one authenticated RPC call (cheap; flushes now and then)."""
    if TALLY.add(dbname, CallerKey(int(user_id), int(apikey_id or 0), str(ip)[:64], scheme)):
        flush()


def flush(dbname=None, env=None):
    """Write the pending counts (of ``dbname``, or of every database).

    With ``env``, the counts of its database go through its cursor, so that
    the caller's transaction sees them (discovery does this).
    """
    if env is not None:
        dbname = env.cr.dbname
    for name, counts in TALLY.drain(dbname).items():
        try:
            if env is not None and name == env.cr.dbname:
                with env.cr.savepoint():
                    env["perimeter.rpc.caller"].sudo()._merge_counts(counts)
                continue
            registry = Registry(name)
            with registry.cursor() as cr:
                if not registry.in_test_mode():  # a test's cursor is its whole transaction
                    cr.execute("SET LOCAL statement_timeout = 5000")
                api.Environment(cr, SUPERUSER_ID, {})["perimeter.rpc.caller"]._merge_counts(counts)
        except Exception:
            # Never into the request; the counts wait for the next flush.
            _logger.warning("perimeter: could not record RPC callers of %s; kept for the next flush", name,
                            exc_info=True)
            TALLY.restore(name, counts)
