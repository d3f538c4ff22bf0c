"""``res.users.apikeys``: API keys presented as bearer tokens to HTTP routes.

RPC logins with an API key are judged by ``res.users`` (``_check_credentials``,
``check``); here, bearer authentication of HTTP routes: the fence of the
connected systems (refused with 403, the RPC caller recorded for ``rpc``
keys), then the networks of the key's user (refused like a wrong key: 401).
"""

from odoo import models
from odoo.exceptions import AccessDenied

from ..guard import rpc_callers, rpc_context


class ResUsersApikeys(models.Model):
    _inherit = "res.users.apikeys"

    def _check_credentials(self, *, scope, key):
        uid = super()._check_credentials(scope=scope, key=key)
        request = rpc_context.current_request()
        if uid and request is not None and not request.rpc:
            # The fence of the connected systems: Forbidden (403) when fenced off.
            call = self.env["res.users"].sudo()._perimeter_guard(uid, key, record=scope == "rpc", http_error=True)
            if call:
                rpc_callers.record_call(*call)
            # The networks of the key's user: refused like a wrong key.
            try:
                self.env["res.users"].sudo()._perimeter_hold(uid)
            except AccessDenied:
                return None
        return uid
