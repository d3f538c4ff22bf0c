"""What the in-memory sinks (access log, RPC callers) hold is written once more when Odoo stops.

Their background flushers write every few seconds; these helpers make sure
the last few seconds are not lost at a clean shutdown.
"""

import atexit
import contextlib
import logging

from odoo.tools import config

_logger = logging.getLogger(__name__)
_registered = []


def shutdown_writer(flusher, flush, what):
    """A function that runs ``flush`` once more, then stops ``flusher``; ``what`` names it in the log."""

    def write_at_shutdown():
        if config["test_enable"]:
            return  # tests flush by hand, on the test cursor's terms
        try:
            flush()
        except Exception:
            _logger.exception("perimeter: could not write %s at shutdown", what)
        flusher.stop(timeout=1.0)

    return write_at_shutdown


def register_at_shutdown(func):
    """Run ``func`` when Odoo's server stops, and at interpreter exit (scripts, shell); once per function."""
    if func in _registered:
        return
    _registered.append(func)
    atexit.register(func)
    with contextlib.suppress(ImportError):
        from odoo.service.server import CommonServer  # noqa: PLC0415 -- absent in some embeddings

        CommonServer.on_stop(func)
