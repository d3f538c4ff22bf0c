"""``perimeter.policy``: this database's policy, compiled once and shared by every enforcement point.

The snapshot (rules, parameters, and the audience: networks per group and
user), how every request reaches it without SQL (``guard/registry_cache.py``),
and the lockout checks that refuse a change that would lock its author, or
every Settings administrator, out.
"""

import contextlib
import contextvars
import logging
from dataclasses import replace

from odoo import SUPERUSER_ID, api, fields, models, tools
from odoo.exceptions import UserError

from ..guard import access_log, odoo_version, registry_cache, server_config, server_tier, verdicts, wording
from ..guard import audience as audience_guard
from ..perimeter import settings
from ..perimeter.audience import ANYWHERE, Audience, Member, judge, reach, refuses_someone
from ..perimeter.client import resolve_client
from ..perimeter.policy import ALLOW, REDIRECT, Decider, Policy, decide
from .perimeter_edge_sync import SYNC_USER

_logger = logging.getLogger(__name__)

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


class PerimeterPolicy(models.AbstractModel):
    """This database's perimeter policy, compiled once and shared by every enforcement point.

    The snapshot is cached with ``ormcache``: every write to the allowlist, to
    ``ir.config_parameter``, or to the networks of users and groups clears the registry cache, and Odoo's signaling
    carries that to the other workers and servers; writes that bypass the
    request's signaling (``odoo shell``, scripts, SQL) are signalled by
    PostgreSQL triggers when they commit (``guard/signaling.py``), and each
    worker compares its snapshot with the database once a minute anyway.
    Serving a request costs a cache lookup, no SQL.

    The snapshot carries the compiled audience: networks per group, and a
    cache per user. A user's networks are read once per snapshot (one query),
    then served from the audience's cache: no SQL per request.
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

        Called for every request, so ``registry_cache.cached_decider`` first tries a copy kept
        on the registry, valid while a sentinel of ours is still in the
        registry's ``default`` ormcache: whatever clears that cache (a write to
        rules or parameters, Odoo's signaling from another worker, a rollback)
        drops the sentinel, and the next call goes through the ``ormcache``
        again. That saves the ~15 µs of an ``ormcache`` lookup, and keeps the
        ``Decider``'s memory of allowed clients for as long as the policy lasts.
        """
        registry = self.env.registry
        decider = registry_cache.cached_decider(registry)
        if decider is not None:
            return decider
        disabled = server_config.break_glass()
        kept = registry_cache.kept_policy(registry)
        if kept is not None:
            # Due for its periodic look at the database: a change no signal announced shows here.
            policy, _next_expiry = self._perimeter_policy_build(disabled)
            if policy == kept.decider.policy:
                registry_cache.keep_verified(registry, kept)
                return kept.decider
            _logger.warning("perimeter_security: the policy of %s changed without Odoo's cache signaling; "
                            "reloaded", self.env.cr.dbname)
            registry.clear_cache()  # here, and through the signaling that follows, in every other process
        token = registry_cache.watch_cache(registry)  # before compiling: a clear from now on drops this copy
        policy, next_expiry = self._perimeter_policy_cached(disabled)
        if next_expiry and fields.Datetime.now() >= next_expiry:
            # A rule expired since the snapshot was compiled: compile again, in every worker.
            registry.clear_cache()
            return self._perimeter_decider()
        decider = Decider(policy)
        access_log.use_ipv6_prefix(self.env.cr.dbname, policy.ipv6_prefix)
        registry_cache.keep(registry, disabled, token, decider, next_expiry)
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
        audience = self._perimeter_audience_build(policy.scope, lasting, proxies=policy.trusted_proxies)
        policy = replace(policy, audience=audience)
        return policy, min(filter(None, (next_expiry, block_expiry)), default=None)

    @api.model
    def _perimeter_audience_build(self, scope, lasting=False, proxies=()):
        """``lasting``: only the rules without an expiry, as in ``_perimeter_policy_build``; ``proxies``: the
        trusted proxies, where the edge sync user comes from unless networks are named for it."""
        now = fields.Datetime.now()
        in_force = [("expires_at", "=", False)] if lasting else \
            ["|", ("expires_at", "=", False), ("expires_at", ">", now)]
        rules = self.env["perimeter.allowlist"].sudo().search_fetch(in_force, ["network", "reserved"])
        self.env["res.groups"].flush_model(["perimeter_allowlist_ids", "implied_ids"])
        cr = self.env.cr
        cr.execute("SELECT group_id, array_agg(rule_id) FROM perimeter_allowlist_res_groups_rel GROUP BY group_id")
        group_rules = dict(cr.fetchall())
        implied = {}
        if group_rules:
            cr.execute("SELECT gid, array_agg(hid) FROM res_groups_implied_rel GROUP BY gid")
            implied = dict(cr.fetchall())
        sync_user = self.env.ref(SYNC_USER, raise_if_not_found=False)
        return Audience(scope, [(rule.id, rule.network, rule.reserved) for rule in rules], group_rules, implied,
                        edge_users=sync_user.ids if sync_user else (), proxies=proxies)

    @api.model
    def _perimeter_member(self, uid):
        """What the audience needs to know of user ``uid`` (as saved in this transaction), or None."""
        self.env["res.users"].flush_model(["login", "share", odoo_version.USER_GROUPS_FIELD, "perimeter_allowlist_ids"])
        self.env.cr.execute("""
            SELECT u.login, u.share,
                   ARRAY(SELECT rule_id FROM perimeter_allowlist_res_users_rel WHERE user_id = u.id ORDER BY rule_id),
                   ARRAY(SELECT gid FROM res_groups_users_rel WHERE uid = u.id ORDER BY gid)
              FROM res_users u WHERE u.id = %s
        """, [uid])
        row = self.env.cr.fetchone()
        if row is None:
            return None
        login, share, own, groups = row
        return Member(uid, login or "", not share, tuple(own), tuple(groups))

    @api.model
    def _perimeter_failed_login_message(self):
        """The sentence a failed login of this request shows instead of Odoo's "Wrong login/password", or None.

        Only from a client some held user would be refused from (the client's address decides, never the
        login: a right and a wrong password still read the same), worded in the reader's language.
        """
        facts = verdicts.current_facts()
        if facts is None:
            return None
        policy = self._perimeter_policy()
        if policy.audience is None or policy.mode != "enforce" or not policy.active:
            return None
        self.env.cr.execute("""
            SELECT DISTINCT ARRAY(SELECT rule_id FROM perimeter_allowlist_res_users_rel r
                                   WHERE r.user_id = u.id ORDER BY rule_id)
              FROM res_users u
             WHERE u.active AND EXISTS (SELECT 1 FROM perimeter_allowlist_res_users_rel r WHERE r.user_id = u.id)
        """)
        own = [tuple(row[0]) for row in self.env.cr.fetchall()]
        if not refuses_someone(facts, policy, own):
            return None
        template = policy.refused_login_message or wording.word(self.env, settings.DEFAULT_REFUSED_LOGIN_MESSAGE)
        client = resolve_client(facts.connection, policy.trusted_proxies)
        return template.replace(settings.ADDRESS_PLACEHOLDER, client.ip)

    @api.model
    def _perimeter_holding(self, policy, uid):
        """The ``audience.Holding`` of user ``uid`` under ``policy`` (cached in its audience), or None."""
        audience = policy.audience
        if audience is None or not uid:
            return None
        holding = audience.cached(uid)
        if holding is None:
            member = self._perimeter_member(uid)
            holding = audience.remember(member) if member is not None else None
        return holding

    @api.model
    def _perimeter_policy_changed(self):
        """Called after every write to rules or perimeter parameters: check lockout, refresh copies."""
        self._perimeter_check_lockout()
        # The ormcache is cleared by the write itself; the server tier's copies are dropped here.
        server_tier.forget_snapshots()

    @api.model
    def _perimeter_check_lockout(self):
        """Refuse a change that would block the administrator who is saving it, hold them to networks
        their client is not in, or leave no Settings administrator able to reach Odoo from anywhere.

        The current request's client is resolved again with the policy as saved
        in this transaction; if that policy would refuse it (or send it to an
        https address while it came over plain HTTP), a ``UserError`` explains
        why and the change is rolled back. Outside a request (cron, shell,
        scripts run in-process) there is no "own address": nothing to check
        (the way back in when all else fails).
        """
        if lockout_check_skipped():
            return
        facts = verdicts.current_facts()
        if facts is None:
            return
        # Judge the administrator's access to the backend, not this very request (which may be exempt).
        facts = replace(facts, path="/odoo", method="GET", query_string="")
        # 1. The site: the policy being saved must admit the administrator's client.
        policy, _next_expiry = self._perimeter_policy_build()
        verdict = decide(facts, policy)
        if not verdict.allowed:
            raise UserError(self._perimeter_lockout_explanation(verdict))
        # Judged as the rules will stand once the ones with an expiry have run out: a rule that
        # expires in 40 s must not be the only one letting the administrator in.
        later_policy, _next_expiry = self._perimeter_policy_build(lasting=True)
        later = decide(facts, later_policy)
        if not later.allowed:
            raise UserError(self._perimeter_expiry_explanation(later))
        # 2. The audience: the saving user's own networks, now and once every rule with an expiry has run out.
        uid = self.env.uid
        policies = [(lasting, self._perimeter_policy_build(lasting=lasting)[0]) for lasting in (False, True)]
        if uid and uid != SUPERUSER_ID:
            for lasting, policy in policies:
                holding = self._perimeter_holding(policy, uid)
                verdict = judge(facts, policy, holding)
                if verdict.action != ALLOW:
                    raise UserError(self._perimeter_audience_lockout_explanation(verdict, holding, lasting))
        # 3. Somebody must still be able to decide who is held where.
        for lasting, policy in policies:
            self._perimeter_check_administrators_reach(policy, lasting)

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

    @api.model
    def _perimeter_settings_administrators(self):
        """The active internal users of the Settings group: those who decide who is held where."""
        return self.env["res.users"].sudo().search([
            (odoo_version.USER_GROUPS_FIELD, "in", self.env.ref("base.group_system").id), ("share", "=", False),
        ], order="id")

    @api.model
    def _perimeter_check_administrators_reach(self, policy, lasting):
        """Refuse a policy under which no Settings administrator could reach Odoo from any address.

        Whoever makes the change (a Perimeter administrator who is not a Settings
        administrator, or one who works from loopback): someone must still be
        able to decide who is held where. Judged by the engine's ``reach``.
        """
        if reach(policy, None)[0] == ANYWHERE:
            return  # off, monitor, break-glass: nobody is refused
        admins = self._perimeter_settings_administrators()
        holdings = [self._perimeter_holding(policy, admin.id) for admin in admins]
        reaches = [reach(policy, holding) for holding in holdings]
        if any(address is not None for address, _blocked in reaches):
            return
        raise UserError(self._perimeter_administrators_explanation(policy, holdings, reaches, lasting))

    def _perimeter_administrators_explanation(self, policy, holdings, reaches, lasting):
        """Who the Settings administrators are, and why none of them could come in from anywhere."""
        lines = []
        for holding, (_address, blocked) in zip(holdings, reaches, strict=True):
            if holding is None:
                continue
            where = self._perimeter_where(holding) if policy.audience.narrows(holding) else \
                self.env._("the IP Allowlist")
            networks = ", ".join(holding.networks) if policy.audience.narrows(holding) else \
                ", ".join(policy.allowlist)
            if blocked:
                why = self.env._("may come from %(where)s (%(networks)s), all of it in the IP Blocklist (%(blocks)s)",
                                 where=where, networks=networks, blocks=", ".join(policy.blocklist))
            else:
                why = self.env._("may come from %(where)s, where no rule is in force", where=where)
            lines.append(f"- {holding.login}: {why}")
        when = self.env._(" once the rules with an expiry have run out") if lasting else ""
        return self.env._(
            "This change is refused: after it, no Settings administrator could reach Odoo%(when)s.\n\n"
            "%(administrators)s\n\n"
            "Settings administrators decide who is held to which networks: keep at least one of them able to come "
            "in (a rule in force for their user or group, or in the IP Allowlist, and not in the IP Blocklist).",
            when=when, administrators="\n".join(lines) or self.env._("There is no active Settings administrator."),
        )

    def _perimeter_audience_lockout_explanation(self, verdict, holding, lasting):
        """Why the change would hold the saving user to networks their client is not in."""
        when = self.env._(" once the rules with an expiry have run out") if lasting else ""
        return self.env._(
            "This change is refused because it would lock you out.\n\n"
            "This server sees your address as %(address)s, and with this change your account (%(login)s) "
            "could only be used from %(where)s%(when)s, which does not include it.\n\n"
            "Add a rule for %(address)s (or its network) to the networks of your user or of its groups first, "
            "or name your own networks on your user (Perimeter tab): a user's own networks come before "
            "those of their groups.",
            address=verdict.client_ip, login=holding.login if holding else self.env.user.login,
            where=self._perimeter_where(holding), when=when,
        )

    @api.model
    def _perimeter_where(self, holding):
        """Where ``holding``'s user may come from, in words."""
        if holding and holding.source == "user":
            return self.env._("the networks named on the user")
        if holding and holding.source == "proxies":
            return self.env._("the trusted proxies")
        if holding and holding.source == "groups":
            names = ", ".join(self.env["res.groups"].sudo().browse(holding.group_ids).mapped("full_name"))
            return self.env._("the networks of the group(s) %(groups)s", groups=names)
        return self.env._("the IP Allowlist (rules not reserved for others)")

    def _register_hook(self):
        super()._register_hook()
        server_tier.install_websocket_guard()  # the site gate on open websockets
        audience_guard.install_websocket_guard()  # and their users' networks
