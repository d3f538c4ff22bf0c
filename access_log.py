"""The access log sink: where every enforcement point hands a refused or monitored request.

``record_hit`` is called on the request's path, so it must stay cheap and must
never raise or write through the request's cursor (which is rolled back with
the refusal). The blocked-access log issue replaces the body below with a
per-process aggregator flushed through its own cursor.
"""

import logging

_logger = logging.getLogger(__name__)


def record_hit(dbname, hit):
    """Record one ``perimeter.accesslog.Hit`` for database ``dbname`` (None: no database)."""
    _logger.info(
        "perimeter: %s %s from %s (peer %s) %s %s",
        "blocked" if hit.blocked else "monitored", hit.reason, hit.ip, hit.peer or hit.ip, hit.method, hit.path,
    )
