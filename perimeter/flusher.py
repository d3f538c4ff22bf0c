"""Run a flush function every few seconds on a daemon thread, started on first use.

Why a thread rather than "flush on the next hit after the interval": the
last hits of a burst must be written even if no request follows, and a
refused request should not wait for a database write. A daemon thread works
in each of Odoo's servers: the threaded server (one more thread), prefork
workers (the thread is started lazily in the worker, and reset after a
fork so a child never inherits a dead thread or a held lock) and the gevent
server (where ``threading`` is monkey-patched: the thread is a greenlet and
the database waits yield).
"""

import logging
import os
import threading
import weakref

_logger = logging.getLogger(__name__)


def call_after_fork(bound_method):
    """Call ``bound_method()`` in every forked child, for as long as its object lives."""
    method = weakref.WeakMethod(bound_method)

    def after_in_child():
        bound = method()
        if bound is not None:
            bound()

    if hasattr(os, "register_at_fork"):
        os.register_at_fork(after_in_child=after_in_child)


class PeriodicFlusher:
    """Call ``flush()`` every ``interval`` seconds once ``ensure_started()`` is called.

    ``flush`` should not raise; if it does, the error is logged and the next
    round runs as usual.
    """

    def __init__(self, flush, interval=5.0, name="perimeter-flusher"):
        self._flush = flush
        self.interval = interval
        self.name = name
        self._lock = threading.Lock()
        self._thread = None
        self._stop = threading.Event()
        call_after_fork(self._after_fork)

    @property
    def started(self):
        """True once ``ensure_started()`` ran (until ``stop()`` or a fork)."""
        return self._thread is not None

    @property
    def running(self):
        thread = self._thread
        return thread is not None and thread.is_alive()

    def ensure_started(self):
        """Start the thread unless it runs; cheap enough to call on every hit."""
        if self._thread is not None:
            return False
        with self._lock:
            if self._thread is not None:
                return False
            self._stop = threading.Event()
            thread = threading.Thread(target=self._run, args=(self._stop,), name=self.name, daemon=True)
            thread.start()
            self._thread = thread
        return True

    def stop(self, timeout=10.0):
        """Stop the thread (after its current round) and wait for it."""
        with self._lock:
            thread, self._thread = self._thread, None
            self._stop.set()
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)

    def _run(self, stop):
        while not stop.wait(self.interval):
            try:
                self._flush()
            except Exception:
                _logger.exception("%s: flush failed; the next round retries", self.name)

    def _after_fork(self):
        # The parent's thread does not exist in the child, and its lock may be held.
        self._lock = threading.Lock()
        self._thread = None
        self._stop = threading.Event()
