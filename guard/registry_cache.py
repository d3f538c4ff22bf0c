"""The fast path to a database's compiled policy: a copy kept on its registry, valid while Odoo's cache is.

``perimeter.policy._perimeter_decider`` is called for every request. Its
``Decider`` is kept on the registry (``registry._perimeter_fast_policy``),
valid while a sentinel of ours is still in the registry's ``default``
ormcache: whatever clears that cache (a write to rules or parameters, Odoo's
signaling from another worker, a rollback) drops the sentinel, and the next
call compiles again. Reading that cache uses Odoo's private internals
(``Registry.__caches``, name-mangled, and the ``odoo.tools.lru.LRU`` inside):
they are read here only, and if Odoo changes them, the fast path is simply
never taken.
"""

import time
from typing import NamedTuple

from odoo import fields

from . import odoo_version, server_config

# A key of ours in the registry's ``default`` ormcache.
_SENTINEL = ("perimeter.policy", "snapshot sentinel")

# Seconds a worker trusts its snapshot without looking at the database: Odoo's signaling (and the
# triggers of guard/signaling.py) announce every change at once; this bounds what a missed signal costs.
VERIFY_INTERVAL = 60.0


class KeptPolicy(NamedTuple):
    disabled: bool  # the break-glass switch it was compiled with
    token: object  # the sentinel it is valid with
    decider: object  # the perimeter.policy.Decider
    next_expiry: object  # when a rule expires (naive UTC datetime) or None
    verify_at: float  # time.monotonic() after which it is compared with the database again


def _default_ormcache(registry):
    """The registry's ``default`` ormcache (an ``odoo.tools.lru.LRU``), or None if Odoo changed it."""
    caches = getattr(registry, "_Registry__caches", None)
    lru = caches.get("default") if isinstance(caches, dict) else None
    return lru if odoo_version.is_lru(lru) else None


def kept_policy(registry):
    """The registry's kept copy if no cache clear, break-glass change or expiry made it stale, else None."""
    kept = registry.__dict__.get("_perimeter_fast_policy")
    if kept is None:
        return None
    lru = _default_ormcache(registry)
    if (lru is None or odoo_version.lru_get(lru, _SENTINEL) is not kept.token
            or kept.disabled != server_config.break_glass()):
        return None
    if kept.next_expiry and fields.Datetime.now() >= kept.next_expiry:
        return None
    return kept


def cached_decider(registry):
    """The registry's current ``Decider`` if its snapshot is still valid and not due for a look at the
    database, else None (no ORM, no SQL)."""
    kept = kept_policy(registry)
    if kept is None or time.monotonic() >= kept.verify_at:
        return None
    return kept.decider


def watch_cache(registry):
    """A new token, put in the registry's ``default`` ormcache: a clear from now on drops it (call before
    compiling, so that a copy kept with it dies with any clear that happens meanwhile)."""
    token = object()
    lru = _default_ormcache(registry)
    if lru is not None:
        lru[_SENTINEL] = token
    return token


def keep(registry, disabled, token, decider, next_expiry):
    """Keep ``decider`` on the registry, valid with ``token`` and trusted for ``VERIFY_INTERVAL`` seconds."""
    registry._perimeter_fast_policy = KeptPolicy(disabled, token, decider, next_expiry,
                                                 time.monotonic() + VERIFY_INTERVAL)


def keep_verified(registry, kept):
    """The database was looked at and holds the same policy: trust ``kept`` for ``VERIFY_INTERVAL`` more."""
    registry._perimeter_fast_policy = kept._replace(verify_at=time.monotonic() + VERIFY_INTERVAL)
