"""Users held to their networks: the fields, and every place a credential of theirs is checked.

- ``_check_credentials``: every login (web form, ``/web/session/authenticate``,
  XML-RPC/JSON-RPC ``common.login``/``authenticate``, API keys, and the
  methods OAuth, LDAP and TOTP plug in there), judged before the password is:
  an outsider's password is never checked, so the answer is the same
  ``AccessDenied`` whether it was right or wrong, as for an unknown login;
- ``authenticate``: judged again with the uid that logged in (an override that
  catches ``AccessDenied`` and logs in by other means, as LDAP does, cannot
  slip past); every failed login leaves it with the same traceback;
- ``check``: every ``execute``/``execute_kw`` call, before Odoo's cached
  password check, from the cached audience (no SQL per call);
- ``res.users.apikeys._check_credentials``: bearer authentication of HTTP
  routes, answered like a wrong key (401).

Refusals are reported to the access log once per request, reason
``user_network``, with the login.
"""

import contextlib

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import AccessDenied

from ..guard import audience as audience_guard
from ..guard import rpc_context
from ..perimeter.audience import SOURCES
from .perimeter_policy import cached_decider


class ResUsers(models.Model):
    _name = "res.users"
    _inherit = ["res.users", "perimeter.audience.holder"]
    # Fields of a user whose change moves their networks.
    _perimeter_audience_fields = ("perimeter_allowlist_ids", "groups_id", "share", "login", "active")

    perimeter_allowlist_ids = fields.Many2many(
        "perimeter.allowlist", "perimeter_allowlist_res_users_rel", "user_id", "rule_id",
        string="Allowed networks", context={"active_test": False}, groups="base.group_system",
        help="This user, and every API key of theirs, may only come from these networks. Empty: the networks "
        "of their groups, else the trusted proxies for the edge sync user, else the IP Allowlist.",
    )

    perimeter_held = fields.Boolean(
        string="Held to networks", compute="_compute_perimeter_held", search="_search_perimeter_held",
        groups="base.group_system",
        help="Networks are named for this user, on the user or on one of their groups.",
    )
    perimeter_networks_source = fields.Selection(
        [("user", "Own networks"), ("groups", "Networks of their groups"), ("proxies", "Trusted proxies"),
         ("allowlist", "IP Allowlist")],
        string="Networks from", compute="_compute_perimeter_networks", groups="base.group_system",
    )
    perimeter_effective_networks = fields.Text(
        string="May come from", compute="_compute_perimeter_networks", groups="base.group_system",
        help="The networks in force for this user now, as the perimeter applies them.",
    )

    @api.depends("perimeter_allowlist_ids", "groups_id.perimeter_allowlist_ids")
    def _compute_perimeter_held(self):
        for user in self:
            user.perimeter_held = bool(user.perimeter_allowlist_ids or user.groups_id.perimeter_allowlist_ids)

    def _search_perimeter_held(self, operator, value):
        if operator not in ("=", "!="):
            raise NotImplementedError(operator)
        domain = ["|", ("perimeter_allowlist_ids", "!=", False), ("groups_id.perimeter_allowlist_ids", "!=", False)]
        return domain if (operator == "=") == bool(value) else ["!", *domain]

    @api.depends("perimeter_allowlist_ids", "groups_id")
    def _compute_perimeter_networks(self):
        Policy = self.env["perimeter.policy"].sudo()
        policy = Policy._perimeter_policy()
        for user in self:
            holding = Policy._perimeter_holding(policy, user.id) if user.id else None
            if holding is None:
                user.perimeter_networks_source = False
                user.perimeter_effective_networks = False
                continue
            user.perimeter_networks_source = holding.source if holding.source in SOURCES else False
            if not holding.held:
                user.perimeter_effective_networks = self.env._("Anywhere: a portal user, with scope Internal users")
                continue
            user.perimeter_effective_networks = "\n".join(holding.networks) or self.env._(
                "None in force: refused everywhere (but loopback, while allowed)")

    # -- credentials -----------------------------------------------------------------------------

    def _check_credentials(self, credential, env):
        self._perimeter_hold(self.env.uid)  # before the password is looked at: no oracle
        return super()._check_credentials(credential, env)

    @classmethod
    def authenticate(cls, db, credential, user_agent_env):
        try:
            auth_info = super().authenticate(db, credential, user_agent_env)
            cls._perimeter_hold_uid(auth_info.get("uid"))
        except AccessDenied as denied:
            failed = denied
        else:
            return auth_info
        # Raised again from here, its traceback cut: every failed login, whether its login is unknown, its
        # password wrong or its user held elsewhere, has the same traceback (``error.data.debug`` of a JSON
        # answer), so where a refusal came from (Odoo's ``_login``, a password check, this module) tells nothing.
        raise failed.with_traceback(None) from None

    @classmethod
    def check(cls, db, uid, passwd):
        cls._perimeter_hold_uid(uid)
        return super().check(db, uid, passwd)

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


class ResUsersApikeys(models.Model):
    _inherit = "res.users.apikeys"

    def _check_credentials(self, *, scope, key):
        uid = super()._check_credentials(scope=scope, key=key)
        info = rpc_context.current_request()
        # RPC is judged by res.users; here: bearer authentication of HTTP routes, refused like a wrong key.
        if uid and info is not None and not info.rpc:
            try:
                self.env["res.users"].sudo()._perimeter_hold(uid)
            except AccessDenied:
                return None
        return uid
