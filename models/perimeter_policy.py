from dataclasses import replace

from odoo import api, fields, models, tools
from odoo.exceptions import UserError

from ..guard import server_config, server_tier, verdicts
from ..perimeter import settings
from ..perimeter.policy import ALLOW, REDIRECT, Decider, Policy, decide

# A key of ours in the registry's ``default`` ormcache (see ``_perimeter_policy``).
_SENTINEL = ("perimeter.policy", "snapshot sentinel")


def _default_ormcache(registry):
    """The registry's ``default`` ormcache (an ``odoo.tools.lru.LRU``), or None if Odoo changed it."""
    caches = getattr(registry, "_Registry__caches", None)
    lru = caches.get("default") if isinstance(caches, dict) else None
    return lru if isinstance(getattr(lru, "d", None), dict) else None


def cached_decider(registry):
    """The registry's current ``Decider`` if its snapshot is still valid, else None (no ORM, no SQL)."""
    fast = registry.__dict__.get("_perimeter_fast_policy")
    if fast is None:
        return None
    lru = _default_ormcache(registry)
    if lru is None or lru.d.get(_SENTINEL) is not fast[1] or fast[0] != server_config.break_glass():
        return None
    if fast[3] and fields.Datetime.now() >= fast[3]:
        return None
    return fast[2]


class PerimeterPolicy(models.AbstractModel):
    """This database's perimeter policy, compiled once and shared by every enforcement point.

    The snapshot is cached with ``ormcache``: every write to the allowlist or to
    ``ir.config_parameter`` clears the registry cache, and Odoo's signaling
    carries that to the other workers and servers. Serving a request costs a
    cache lookup, no SQL.
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
        registry._perimeter_fast_policy = (disabled, token, decider, next_expiry)
        return decider

    @tools.ormcache("disabled")
    def _perimeter_policy_cached(self, disabled):
        return self._perimeter_policy_build(disabled)

    @api.model
    def _perimeter_policy_build(self, disabled=False):
        """Compile the policy from the database as it is now; returns ``(policy, next rule expiry)``.

        Reads around the caches, so that the lockout check sees the values
        being saved in this transaction without caching them for others.
        """
        params = self.env["ir.config_parameter"].sudo().search_fetch(
            [("key", "in", list(settings.KEYS))], ["key", "value"]
        )
        allowlist, next_expiry = self.env["perimeter.allowlist"]._read_rules_in_force()
        blocklist, block_expiry = self.env["perimeter.blocklist"]._read_rules_in_force()
        policy = Policy.from_stored({param.key: param.value for param in params}, allowlist, disabled, blocklist)
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
        if self.env.context.get("perimeter_skip_lockout_check") or server_config.break_glass():
            return
        facts = verdicts.current_facts()
        if facts is None:
            return
        # Judge the administrator's access to the backend, not this very request (which may be exempt).
        facts = replace(facts, path="/odoo", method="GET", query_string="")
        policy, _next_expiry = self._perimeter_policy_build()
        verdict = decide(facts, policy)
        if verdict.action == ALLOW:
            return
        if verdict.action == REDIRECT or verdict.reason == "not_https":
            raise UserError(self.env._(
                "This change is refused because it would lock you out.\n\n"
                "You are connected over plain HTTP (this server sees your address as %(address)s): with "
                "\"Require HTTPS\" on, your next request would be sent to an https:// address, which may not "
                "be served.\n\nConnect through HTTPS first (for example through your reverse proxy, with its "
                "address in \"Trusted proxies\" so that its X-Forwarded-Proto header is believed), then turn "
                "\"Require HTTPS\" on.",
                address=verdict.client_ip,
            ))
        raise UserError(self.env._(
            "This change is refused because it would lock you out.\n\n"
            "This server sees your address as %(address)s, and the policy being saved would refuse it.\n\n"
            "Add a rule for %(address)s (or its network) to the IP Allowlist first. If you connect through "
            "a reverse proxy, check that its address is in \"Trusted proxies\" so that the address it "
            "forwards is believed. Loopback (this machine) stays allowed while \"Allow loopback\" is on.",
            address=verdict.client_ip,
        ))

    def _register_hook(self):
        super()._register_hook()
        server_tier.install_websocket_guard()
