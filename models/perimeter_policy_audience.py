from dataclasses import replace

from odoo import SUPERUSER_ID, api, fields, models
from odoo.exceptions import UserError

from ..guard import audience as audience_guard
from ..guard import verdicts
from ..perimeter.audience import ANYWHERE, Audience, Member, judge, reach
from ..perimeter.policy import ALLOW
from .perimeter_edge_sync import SYNC_USER
from .perimeter_policy import lockout_check_skipped


class PerimeterPolicy(models.AbstractModel):
    """The policy snapshot carries the compiled audience: networks per group, and a cache per user.

    Compiled with the rest of the snapshot (``ormcache``), so every change to
    rules, groups, users or parameters drops it in every worker. A user's
    networks are read once per snapshot (one query), then served from the
    audience's cache: no SQL per request.
    """

    _inherit = "perimeter.policy"

    @api.model
    def _perimeter_policy_build(self, disabled=False, lasting=False):
        policy, next_expiry = super()._perimeter_policy_build(disabled, lasting=lasting)
        audience = self._perimeter_audience_build(policy.scope, lasting, proxies=policy.trusted_proxies)
        return replace(policy, audience=audience), next_expiry

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
        self.env["res.users"].flush_model(["login", "share", "groups_id", "perimeter_allowlist_ids"])
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

    # -- lockout -----------------------------------------------------------------------------------

    @api.model
    def _perimeter_check_lockout(self):
        """Also refuse a change that would hold the saving user to networks their client is not in, or
        leave no Settings administrator able to reach Odoo from anywhere they are allowed."""
        super()._perimeter_check_lockout()
        if lockout_check_skipped():
            return
        facts = verdicts.current_facts()
        uid = self.env.uid
        if facts is None:
            return  # cron, shell, scripts in-process: the way back in when all else fails
        facts = replace(facts, path="/odoo", method="GET", query_string="")
        # Now, and once every rule with an expiry has run out (as the site-wide check judges).
        policies = [(lasting, self._perimeter_policy_build(lasting=lasting)[0]) for lasting in (False, True)]
        if uid and uid != SUPERUSER_ID:
            for lasting, policy in policies:
                holding = self._perimeter_holding(policy, uid)
                verdict = judge(facts, policy, holding)
                if verdict.action != ALLOW:
                    raise UserError(self._perimeter_audience_lockout_explanation(verdict, holding, lasting))
        for lasting, policy in policies:
            self._perimeter_check_administrators_reach(policy, lasting)

    @api.model
    def _perimeter_settings_administrators(self):
        """The active internal users of the Settings group: those who decide who is held where."""
        return self.env["res.users"].sudo().search([
            ("groups_id", "in", self.env.ref("base.group_system").id), ("share", "=", False),
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
        audience_guard.install_websocket_guard()
