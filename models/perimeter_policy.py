import contextlib
import contextvars
import logging
import time
from dataclasses import replace
from typing import NamedTuple

from odoo import api, fields, models, tools
from odoo.exceptions import UserError

from ..guard import access_log, server_config, server_tier, verdicts
from ..perimeter import settings
from ..perimeter.policy import REDIRECT, Decider, Policy, decide

_logger = logging.getLogger(__name__)

# A key of ours in the registry's ``default`` ormcache (see ``_perimeter_policy``).
_SENTINEL = ("perimeter.policy", "snapshot sentinel")

# Set by ``lockout_check_deferred``: a Python marker, so that nothing a client sends (an RPC
# call's context, a URL) can switch the lockout check off.
_LOCKOUT_CHECK_DEFERRED = contextvars.ContextVar("perimeter_lockout_check_deferred", default=False)


@contextlib.contextmanager
def lockout_check_deferred():
    """Within this block, writes to rules and parameters are not judged one by one.

    For code of this module that saves several values and then calls
    ``_perimeter_policy_changed()`` once on the whole (the settings screen).
    """
    token = _LOCKOUT_CHECK_DEFERRED.set(True)
    try:
        yield
    finally:
        _LOCKOUT_CHECK_DEFERRED.reset(token)


def lockout_check_skipped():
    """True inside ``lockout_check_deferred`` or under the break-glass: no change is judged for lockout."""
    return _LOCKOUT_CHECK_DEFERRED.get() or server_config.break_glass()


def _default_ormcache(registry):
    """The registry's ``default`` ormcache (an ``odoo.tools.lru.LRU``), or None if Odoo changed it."""
    caches = getattr(registry, "_Registry__caches", None)
    lru = caches.get("default") if isinstance(caches, dict) else None
    return lru if isinstance(getattr(lru, "d", None), dict) else None


# Seconds a worker trusts its snapshot without looking at the database: Odoo's signaling (and the
# triggers of guard/signaling.py) announce every change at once; this bounds what a missed signal costs.
VERIFY_INTERVAL = 60.0


class _FastPolicy(NamedTuple):
    disabled: bool  # the break-glass switch it was compiled with
    token: object  # the sentinel it is valid with
    decider: Decider
    next_expiry: object  # when a rule expires (naive UTC datetime) or None
    verify_at: float  # time.monotonic() after which it is compared with the database again


def _fast_policy(registry):
    """The registry's copy of its snapshot if no cache clear, break-glass change or expiry made it stale."""
    fast = registry.__dict__.get("_perimeter_fast_policy")
    if fast is None:
        return None
    lru = _default_ormcache(registry)
    if lru is None or lru.d.get(_SENTINEL) is not fast.token or fast.disabled != server_config.break_glass():
        return None
    if fast.next_expiry and fields.Datetime.now() >= fast.next_expiry:
        return None
    return fast


def cached_decider(registry):
    """The registry's current ``Decider`` if its snapshot is still valid, else None (no ORM, no SQL)."""
    fast = _fast_policy(registry)
    if fast is None or time.monotonic() >= fast.verify_at:
        return None
    return fast.decider


class PerimeterPolicy(models.AbstractModel):
    """This database's perimeter policy, compiled once and shared by every enforcement point.

    The snapshot is cached with ``ormcache``: every write to the allowlist or to
    ``ir.config_parameter`` clears the registry cache, and Odoo's signaling
    carries that to the other workers and servers; writes that bypass the
    request's signaling (``odoo shell``, scripts, SQL) are signalled by
    PostgreSQL triggers when they commit (``guard/signaling.py``), and each
    worker compares its snapshot with the database once a minute anyway.
    Serving a request costs a cache lookup, no SQL.
    """

    _name = "perimeter.policy"
    _description = "Perimeter policy"

    @api.model
    def _perimeter_policy(self):
        """The ``perimeter.policy.Policy`` in force now (break-glass included)."""
        return self._perimeter_decider().policy

    @api.model
    def _perimeter_decider(self):
        """The ``perimeter.policy.Decider`` of the policy in force now: what every request calls.

        Called for every request, so ``cached_decider`` first tries a copy kept
        on the registry, valid while a sentinel of ours is still in the
        registry's ``default`` ormcache: whatever clears that cache (a write to
        rules or parameters, Odoo's signaling from another worker, a rollback)
        drops the sentinel, and the next call goes through the ``ormcache``
        again. That saves the ~15 µs of an ``ormcache`` lookup, and keeps the
        ``Decider``'s memory of allowed clients for as long as the policy lasts.
        """
        registry = self.env.registry
        decider = cached_decider(registry)
        if decider is not None:
            return decider
        disabled = server_config.break_glass()
        fast = _fast_policy(registry)
        if fast is not None:
            # Due for its periodic look at the database: a change no signal announced shows here.
            policy, _next_expiry = self._perimeter_policy_build(disabled)
            if policy == fast.decider.policy:
                registry._perimeter_fast_policy = fast._replace(verify_at=time.monotonic() + VERIFY_INTERVAL)
                return fast.decider
            _logger.warning("perimeter_security: the policy of %s changed without Odoo's cache signaling; "
                            "reloaded", self.env.cr.dbname)
            registry.clear_cache()  # here, and through the signaling that follows, in every other process
        token = object()
        lru = _default_ormcache(registry)
        if lru is not None:
            lru[_SENTINEL] = token  # before compiling: a clear from now on drops it, and this copy with it
        policy, next_expiry = self._perimeter_policy_cached(disabled)
        if next_expiry and fields.Datetime.now() >= next_expiry:
            # A rule expired since the snapshot was compiled: compile again, in every worker.
            registry.clear_cache()
            return self._perimeter_decider()
        decider = Decider(policy)
        access_log.use_ipv6_prefix(self.env.cr.dbname, policy.ipv6_prefix)
        registry._perimeter_fast_policy = _FastPolicy(disabled, token, decider, next_expiry,
                                                      time.monotonic() + VERIFY_INTERVAL)
        return decider

    @tools.ormcache("disabled")
    def _perimeter_policy_cached(self, disabled):
        return self._perimeter_policy_build(disabled)

    @api.model
    def _perimeter_policy_build(self, disabled=False, lasting=False):
        """Compile the policy from the database as it is now; returns ``(policy, next rule expiry)``.

        Reads around the caches, so that the lockout check sees the values
        being saved in this transaction without caching them for others.
        ``lasting``: only the rules that never expire (the policy once every
        rule with an expiry has run out).
        """
        params = self.env["ir.config_parameter"].sudo().search_fetch(
            [("key", "in", [*settings.KEYS, "web.base.url"])], ["key", "value"]
        )
        stored = {param.key: param.value for param in params}
        allowlist, next_expiry = self.env["perimeter.allowlist"]._read_rules_in_force(lasting=lasting)
        blocklist, block_expiry = self.env["perimeter.blocklist"]._read_rules_in_force()
        # web.base.url: where plain HTTP is redirected (never the client's Host header).
        policy = Policy.from_stored(stored, allowlist, disabled, base_url=stored.get("web.base.url") or "",
                                    blocklist=blocklist)
        return policy, min(filter(None, (next_expiry, block_expiry)), default=None)

    @api.model
    def _perimeter_policy_changed(self):
        """Called after every write to rules or perimeter parameters: check lockout, refresh copies."""
        self._perimeter_check_lockout()
        # The ormcache is cleared by the write itself; the server tier's copies are dropped here.
        server_tier.forget_snapshots()

    @api.model
    def _perimeter_check_lockout(self):
        """Refuse a change that would block the administrator who is saving it.

        The current request's client is resolved again with the policy as saved
        in this transaction; if that policy would refuse it (or send it to an
        https address while it came over plain HTTP), a ``UserError`` explains
        why and the change is rolled back. Outside a request (cron, shell,
        scripts run in-process) there is no "own address": nothing to check.
        """
        if lockout_check_skipped():
            return
        facts = verdicts.current_facts()
        if facts is None:
            return
        # Judge the administrator's access to the backend, not this very request (which may be exempt).
        facts = replace(facts, path="/odoo", method="GET", query_string="")
        policy, _next_expiry = self._perimeter_policy_build()
        verdict = decide(facts, policy)
        if not verdict.allowed:
            raise UserError(self._perimeter_lockout_explanation(verdict))
        # Judged as the rules will stand once the ones with an expiry have run out: a rule that
        # expires in 40 s must not be the only one letting the administrator in.
        lasting, _next_expiry = self._perimeter_policy_build(lasting=True)
        later = decide(facts, lasting)
        if not later.allowed:
            raise UserError(self._perimeter_expiry_explanation(later))

    def _perimeter_lockout_explanation(self, verdict):
        """Why the policy being saved refuses the administrator now, and what to do first."""
        if verdict.action == REDIRECT or verdict.reason == "not_https":
            return self.env._(
                "This change is refused because it would lock you out.\n\n"
                "You are connected over plain HTTP (this server sees your address as %(address)s): with "
                "\"Require HTTPS\" on, your next request would be sent to an https:// address, which may not "
                "be served.\n\nConnect through HTTPS first (for example through your reverse proxy, with its "
                "address in \"Trusted proxies\" so that its X-Forwarded-Proto header is believed), then turn "
                "\"Require HTTPS\" on.",
                address=verdict.client_ip,
            )
        if verdict.reason == "untrusted_proxy_headers":
            # Allowlisting the proxy would "work", and admit every client it forwards: name the real cause.
            return self.env._(
                "This change is refused because it would lock you out.\n\n"
                "Your requests reach Odoo through a proxy at %(proxy)s: it sends X-Forwarded-For (or "
                "Forwarded) headers, but %(proxy)s is not in \"Trusted proxies\", so its headers are ignored "
                "and the proxy itself is taken for the client.\n\n"
                "Add %(proxy)s to \"Trusted proxies\" (Settings › Perimeter, in the same save) so "
                "that the address it forwards is believed, and make sure that address is in the IP Allowlist. "
                "Do not add %(proxy)s itself to the IP Allowlist: that would admit every client coming "
                "through the proxy.",
                proxy=verdict.client.peer if verdict.client else verdict.client_ip,
            )
        return self.env._(
            "This change is refused because it would lock you out.\n\n"
            "This server sees your address as %(address)s, and the policy being saved would refuse it.\n\n"
            "Add a rule for %(address)s (or its network) to the IP Allowlist first. If you connect through "
            "a reverse proxy, check that its address is in \"Trusted proxies\" so that the address it "
            "forwards is believed. Loopback (this machine) stays allowed while \"Allow loopback\" is on.",
            address=verdict.client_ip,
        )

    def _perimeter_expiry_explanation(self, verdict):
        """The administrator is admitted now only by rules that expire: name them and when."""
        rules = self.env["perimeter.allowlist"]._perimeter_expiring_rules_for(verdict.client_ip)
        # Worded before the sentence that names them: the .pot export does not see a _() inside another's arguments.
        listed = ", ".join(
            self.env._("%(name)s (%(network)s, expires %(expires)s UTC)", name=rule.name, network=rule.network,
                       expires=fields.Datetime.to_string(rule.expires_at))
            for rule in rules
        ) or "-"
        return self.env._(
            "This change is refused because it would lock you out.\n\n"
            "This server sees your address as %(address)s, and only rules that expire admit it: "
            "%(rules)s. Once the last of them expires, you would be refused.\n\n"
            "Add a rule without expiry for %(address)s (or its network) to the IP Allowlist first, or "
            "remove the expiry.",
            address=verdict.client_ip,
            rules=listed,
        )

    def _register_hook(self):
        super()._register_hook()
        server_tier.install_websocket_guard()
