import hashlib
import logging

from odoo import api, models

from ..perimeter import edge

# What ``/perimeter/edge/<format>`` serves: the format, and the one of the blocklist for HAProxy.
SYNC_FORMATS = {("nginx", ""): "nginx", ("haproxy", ""): "haproxy", ("haproxy", "block"): "haproxy-blocklist"}
SYNC_USER = "perimeter_security.user_perimeter_edge_sync"

_logger = logging.getLogger(__name__)


class PerimeterEdgeSync(models.AbstractModel):
    """The rules in force as the edge proxies fetch them, and the API keys of the sync user."""

    _name = "perimeter.edge.sync"
    _description = "Edge sync"

    @api.model
    def _perimeter_edge_file(self, fmt):
        """``(content, etag)`` of format ``fmt`` (a key of ``edge.RENDERERS``) from the policy in force.

        From the cached snapshot (no SQL once compiled), and deterministic (no
        timestamp in it), so that its hash is a stable ``ETag``: a sync that
        finds nothing new is answered ``304``.
        """
        policy = self.env["perimeter.policy"]._perimeter_policy()
        enforcing = policy.mode == "enforce" and not policy.disabled
        export = edge.EdgeExport(
            networks=policy.allowlist.networks,
            allow_loopback=policy.allow_loopback,
            generated=f"for the edge sync from database {self.env.cr.dbname}",
            mode="off (break-glass)" if policy.disabled else policy.mode,
            blocked=policy.blocklist.networks if enforcing else (),
            # Scope internal: the allowlist holds users, which only Odoo can tell apart; the edge keeps the
            # public side open.
            refuse_others=enforcing and policy.scope == "all",
            scope=policy.scope,
        )
        content = edge.render(fmt, export)
        return content, hashlib.sha256(content.encode()).hexdigest()[:32]

    @api.model
    def _perimeter_new_sync_key(self, name):
        """A new API key of the edge sync user (shown once; revoke it from the user's form).

        The key is accepted from the trusted proxies only (Settings › Perimeter
        › Trusted proxies), in either scope, unless networks are named on the
        sync user (its Perimeter tab): the sync job must reach Odoo from the
        proxy's host, directly. Said in the log when no proxy is trusted yet.
        """
        user = self.env.ref(SYNC_USER).sudo()
        key = self.env["res.users.apikeys"].with_user(user).sudo()._generate(None, name, None)
        policy = self.env["perimeter.policy"].sudo()._perimeter_policy()
        if not user.perimeter_allowlist_ids and not policy.trusted_proxies:
            _logger.warning(
                "perimeter_security: the new edge sync key %r is accepted from the trusted proxies only, and no "
                "proxy is trusted yet (Settings > Perimeter > Trusted proxies): it works nowhere until one is.", name)
        return key
