"""``res.users``: every field and override this module adds to users.

Users held to their networks (the audience), the connected-systems fence and
the RPC caller record, failed logins for the automatic bans, and the change
history of a user's own networks. Where a credential of a user is checked:

- ``_check_credentials``: every login (web form, ``/web/session/authenticate``,
  XML-RPC/JSON-RPC ``common.login``/``authenticate``, API keys, and the
  methods OAuth, LDAP and TOTP plug in there). The audience judges it before
  the password is looked at: an outsider's password is never checked, so the
  answer is the same ``AccessDenied`` whether it was right or wrong, as for an
  unknown login. Once the password is accepted, the fence of the connected
  systems applies to it;
- ``authenticate`` (a class method on 18, a method on 19: both bound by
  ``guard.odoo_version``, as is ``check``): the RPC caller is recorded (``common.login`` /
  ``common.authenticate`` of a script), and the audience judges again with
  the uid that logged in (an override that catches ``AccessDenied`` and logs
  in by other means, as LDAP does, cannot slip past); every failed login
  leaves it with the same traceback;
- ``check`` (Odoo 19: ``_check_uid_passwd``): every ``execute``/``execute_kw`` call: the audience first (from
  its cache, no SQL per call), then Odoo's cached password check, then the
  fence and the RPC caller record (from the compiled fence: no SQL per call);
- ``_assert_can_auth``: the block Odoo checks every password in: a refused
  password (or an unknown login) counts as a failed login (``failed_login``
  in the access log, for the automatic bans); Odoo's own cooldown answers
  before it, and is nobody's failed login.

Refusals are reported to the access log once per request: reason
``user_network`` (audience, with the login) or ``system_network`` (fence).
``res.users.apikeys`` (bearer authentication of HTTP routes) is in
``res_users_apikeys.py``.
"""

import contextlib
import logging

import werkzeug.exceptions

from odoo import SUPERUSER_ID, api, fields, models, tools
from odoo.exceptions import AccessDenied

from ..guard import access_log, api_keys, failed_logins, odoo_version, rpc_callers, rpc_context
from ..guard import audience as audience_guard
from ..guard.registry_cache import cached_decider
from ..perimeter.access_log import Hit
from ..perimeter.audience import SOURCES
from ..perimeter.client import resolve_client
from .perimeter_edge_sync import SYNC_USER as EDGE_SYNC_USER

_logger = logging.getLogger(__name__)
GROUPS = odoo_version.USER_GROUPS_FIELD  # res.users -> res.groups: groups_id (18), group_ids (19)

# RPC calls hide the request from the code that authenticates them; remember it (see rpc_context).
rpc_context.install()


class ResUsers(models.Model):
    _name = "res.users"
    _inherit = ["res.users", "perimeter.audience.holder", "perimeter.change.tracked"]
    # Fields of a user whose change moves their networks.
    _perimeter_audience_fields = ("perimeter_allowlist_ids", GROUPS, "share", "login", "active")
    # A user's own networks, given from the user form, go to the change history (the rule's side is
    # tracked on the rule); so does joining or leaving a group that names networks (see _perimeter_snapshot).
    _perimeter_tracked_fields = ("perimeter_allowlist_ids",)

    perimeter_allowlist_ids = fields.Many2many(
        "perimeter.allowlist", "perimeter_allowlist_res_users_rel", "user_id", "rule_id",
        string="Allowed networks", context={"active_test": False}, groups="base.group_system",
        help="This user, and every API key of theirs, may only come from these networks. Empty: the networks "
        "of their groups, else the trusted proxies for the edge sync user, else the IP Allowlist.",
    )

    perimeter_held = fields.Boolean(
        string="Held to networks", compute="_compute_perimeter_held", search="_search_perimeter_held",
        groups="base.group_system",
        help="This user may only come from networks: those named on the user or one of their groups, else the "
        "trusted proxies for the edge sync user, else the IP Allowlist for every user in scope Every request "
        "and for internal users in scope Internal users.",
    )
    perimeter_networks_source = fields.Selection(
        [("user", "Own networks"), ("groups", "Networks of their groups"), ("proxies", "Trusted proxies"),
         ("allowlist", "IP Allowlist")],
        string="Networks from", compute="_compute_perimeter_networks", groups="base.group_system",
    )
    perimeter_networks_group_ids = fields.Many2many(
        "res.groups", string="Of the groups", compute="_compute_perimeter_networks", groups="base.group_system",
        help="The groups whose networks this user may come from.",
    )
    perimeter_is_edge_sync = fields.Boolean(string="Edge sync user", compute="_compute_perimeter_is_edge_sync")
    perimeter_effective_networks = fields.Text(
        string="May come from", compute="_compute_perimeter_networks", groups="base.group_system",
        help="The networks in force for this user now, as the perimeter applies them.",
    )

    @api.depends("perimeter_allowlist_ids", f"{GROUPS}.perimeter_allowlist_ids", "share")
    def _compute_perimeter_held(self):
        scope = self.env["ir.config_parameter"].sudo()._perimeter_settings()["scope"]
        for user in self:
            user.perimeter_held = bool(scope == "all" or not user.share or user.perimeter_allowlist_ids
                                       or user[GROUPS].perimeter_allowlist_ids or user._perimeter_is_edge_sync())

    def _search_perimeter_held(self, operator, value):
        if operator not in ("=", "!="):
            raise NotImplementedError(operator)
        domain = self._perimeter_held_domain()
        return domain if (operator == "=") == bool(value) else ["!", *domain]

    def _perimeter_held_domain(self):
        """Who is held to networks (perimeter/audience.py): named networks, the edge sync user, then the scope."""
        if self.env["ir.config_parameter"].sudo()._perimeter_settings()["scope"] == "all":
            return [(1, "=", 1)]
        edge = self.env.ref(EDGE_SYNC_USER, raise_if_not_found=False)
        return ["|", "|", "|", ("perimeter_allowlist_ids", "!=", False),
                (f"{GROUPS}.perimeter_allowlist_ids", "!=", False), ("share", "=", False),
                ("id", "=", edge.id if edge else 0)]

    def _perimeter_is_edge_sync(self):
        edge = self.env.ref(EDGE_SYNC_USER, raise_if_not_found=False)
        return bool(edge) and self.id == edge.id

    def _compute_perimeter_is_edge_sync(self):
        for user in self:
            user.perimeter_is_edge_sync = user._perimeter_is_edge_sync()

    @api.depends("perimeter_allowlist_ids", GROUPS)
    def _compute_perimeter_networks(self):
        Policy = self.env["perimeter.policy"].sudo()
        policy = Policy._perimeter_policy()
        for user in self:
            holding = Policy._perimeter_holding(policy, user.id) if user.id else None
            if holding is None:
                user.perimeter_networks_source = False
                user.perimeter_networks_group_ids = False
                user.perimeter_effective_networks = False
                continue
            user.perimeter_networks_source = holding.source if holding.source in SOURCES else False
            user.perimeter_networks_group_ids = self.env["res.groups"].browse(holding.group_ids)
            if not holding.held:
                user.perimeter_effective_networks = self.env._("Anywhere: a portal user, with scope Internal users")
                continue
            user.perimeter_effective_networks = "\n".join(holding.networks) or self.env._(
                "None in force: refused everywhere (but loopback, while allowed)")

    # -- change history: membership of the groups that name networks ------------------------------

    def _perimeter_touches(self, vals):
        return super()._perimeter_touches(vals) or GROUPS in vals

    def _perimeter_snapshot(self):
        """Also the groups naming networks the user belongs to (implied ones included): joining or leaving
        one moves where the user may come from; other group changes are not the perimeter's history."""
        snapshot = super()._perimeter_snapshot()
        for user in self.sudo().with_context(active_test=False):
            held_by = user[GROUPS].filtered("perimeter_allowlist_ids")
            snapshot[user.id][1][GROUPS] = ", ".join(sorted(held_by.mapped("full_name"))) or False
        return snapshot

    # -- credentials: each override runs its steps top to bottom ------------------------------------

    def _check_credentials(self, credential, env):
        self._perimeter_hold(self.env.uid)  # audience, before the password is looked at: no oracle
        auth_info = super()._check_credentials(credential, env)
        if credential.get("type") == "password":  # the fence of the connected systems
            self._perimeter_guard(auth_info.get("uid") or self.env.user.id, credential.get("password"))
        return auth_info

    @contextlib.contextmanager
    def _assert_can_auth(self, user=None):
        # Odoo checks every password inside this block: the login form, /web/session/authenticate,
        # RPC common.login / common.authenticate and the password of every execute_kw: a refused one is a
        # failed login (``failed_login`` in the access log, for the automatic bans). Its own cooldown
        # ("Too many login failures") refuses before the block runs: that answer is not a failed login of
        # the client (Odoo keys it on the TCP peer, a proxy's address behind one, so an attacker's guesses
        # would be charged to everyone behind the same proxy).
        with super()._assert_can_auth(user=user):
            try:
                yield
            except AccessDenied:
                failed_logins.record(self.env.cr.dbname)
                raise

    # -- audience: users held to their networks --------------------------------------------------

    @classmethod
    def _perimeter_hold_uid(cls, uid):
        """``_perimeter_hold`` from a class method: from the cached audience, else through a cursor of its own."""
        info = rpc_context.current_request()
        if info is None or not uid:
            return
        decider = cached_decider(cls.pool)
        holding = decider.policy.audience.cached(uid) if decider is not None and decider.policy.audience else None
        if holding is not None:
            cls._perimeter_refuse_if(decider.policy, holding, info, cls.pool.db_name)
            return
        with contextlib.closing(cls.pool.cursor()) as cr:
            api.Environment(cr, SUPERUSER_ID, {})["res.users"]._perimeter_hold(uid)

    @api.model
    def _perimeter_hold(self, uid):
        """Refuse (``AccessDenied``) a credential of user ``uid`` presented from outside their networks."""
        info = rpc_context.current_request()
        if info is None or not uid:
            return  # cron, shell, in-process scripts: no client to judge
        Policy = self.env["perimeter.policy"].sudo()
        policy = Policy._perimeter_policy()
        if not policy.active or policy.mode == "off" or policy.audience is None:
            return
        holding = Policy._perimeter_holding(policy, uid)
        self._perimeter_refuse_if(policy, holding, info, self.env.cr.dbname)

    @staticmethod
    def _perimeter_refuse_if(policy, holding, info, dbname):
        if not policy.active or policy.mode == "off" or not policy.audience.narrows(holding):
            return
        verdict = audience_guard.judge_once(audience_guard.facts_of(info), policy, holding, dbname)
        if not verdict.allowed:
            raise AccessDenied()

    # -- connected systems: the fence, and the RPC caller record ----------------------------------

    @classmethod
    def _perimeter_record_rpc_login(cls, credential, auth_info):
        """common.login / common.authenticate: record a script starting its RPC session."""
        request = rpc_context.current_request()
        if request is not None and request.rpc and credential.get("type") == "password":
            with contextlib.closing(cls.pool.cursor()) as cr:
                users = api.Environment(cr, SUPERUSER_ID, {})["res.users"]
                call = users._perimeter_guard(auth_info["uid"], credential.get("password"), fence=False, record=True)
            if call:
                rpc_callers.record_call(*call)

    @api.model
    @tools.ormcache("uid", "secret")
    def _perimeter_apikey_of(self, uid, secret):
        """Id of the API key of user ``uid`` that ``secret`` is, or 0 (a password).

        Cached like ``check``: its query and hash run once per credential and process.
        """
        index = api_keys.key_index(secret)
        if index is None:
            return 0
        self.env.cr.execute("SELECT id, key FROM res_users_apikeys WHERE user_id = %s AND index = %s", [uid, index])
        for key_id, hashed in self.env.cr.fetchall():
            if api_keys.key_matches(secret, hashed):
                return key_id
        return 0

    @api.model
    def _perimeter_guard(self, uid, secret, *, fence=True, record=False, http_error=False):
        """Apply the fence to a credential that just authenticated; return the RPC call to record, if any.

        Refusal raises ``AccessDenied`` (``Forbidden`` with ``http_error``), after
        handing the refused request to the access log with reason ``system_network``.
        """
        snapshot = self.env["perimeter.connected.system"].sudo()._fence_snapshot()
        bound = fence and bool(snapshot)
        if not (bound or record):
            return None
        apikey_id = self._perimeter_apikey_of(uid, secret) if (record or snapshot.keys) else 0
        request = rpc_context.current_request()
        client = resolve_client(request.connection, snapshot.trusted_proxies) if request is not None else None
        if bound and snapshot.binds(uid, apikey_id):
            refused = snapshot.refused_address(uid, apikey_id, client)
            if refused:
                self._perimeter_refuse(uid, apikey_id, refused, client=client, request=request, http_error=http_error)
        if record and client is not None:
            return (self.env.cr.dbname, uid, apikey_id, client.ip, client.scheme)
        return None

    @api.model
    def _perimeter_refuse(self, uid, apikey_id, address, *, client, request, http_error):
        what = f"API key {apikey_id} of user {uid}" if apikey_id else f"user {uid}"
        _logger.info("perimeter: refused %s from %s: outside the allowed networks of its connected system",
                     what, address)
        peer = client.peer if client is not None and client.peer != address else ""
        access_log.record_hit(self.env.cr.dbname, Hit(
            ip=address, reason="system_network", blocked=True, peer=peer,
            path=request.path if request else "", method=request.method if request else "",
            user_agent=request.user_agent if request else "",
        ))
        if http_error:
            raise werkzeug.exceptions.Forbidden()
        raise AccessDenied()


# -- the credential hooks whose signature differs between series (18: classmethods ``authenticate(db, ...)``
# and ``check(db, uid, passwd)``; 19: instance ``authenticate(credential, ...)`` and ``_check_uid_passwd``).
# Written once as functions of ``owner`` (the model class on 18, a recordset on 19: both have ``pool`` and the
# class methods below) and bound by guard/odoo_version.

def _after_authenticate(owner, dbname, credential, user_agent_env, call_next):
    try:
        auth_info = call_next()
        owner._perimeter_record_rpc_login(credential, auth_info)
        owner._perimeter_hold_uid(auth_info.get("uid"))
    except AccessDenied as denied:
        failed = denied
    else:
        return auth_info
    # Raised again from here, its traceback cut: every failed login, whether its login is unknown, its
    # password wrong or its user held elsewhere, has the same traceback (``error.data.debug`` of a JSON
    # answer), so where a refusal came from (Odoo's ``_login``, a password check, this module) tells nothing.
    raise failed.with_traceback(None) from None


def _around_check(owner, dbname, uid, passwd, call_next):
    # The password sent with every XML-RPC / JSON-RPC execute_kw.
    owner._perimeter_hold_uid(uid)
    result = call_next()
    with contextlib.closing(owner.pool.cursor()) as cr:
        call = api.Environment(cr, SUPERUSER_ID, {})["res.users"]._perimeter_guard(uid, passwd, record=True)
    if call:
        rpc_callers.record_call(*call)
    return result


odoo_version.bind_authenticate(ResUsers, _after_authenticate)
odoo_version.bind_check(ResUsers, _around_check)
