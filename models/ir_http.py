from odoo import models
from odoo.http import request

from ..guard import server_config, verdicts
from .perimeter_policy import cached_decider


class IrHttp(models.AbstractModel):
    """Database tier: every request of this database passes here before any route or page.

    ``_match`` runs for every database request (backend, login, JSON-RPC,
    website and portal pages, 404s, the websocket handshake, attachments served
    by the fallback) before anything is served. It may run more than once per
    request (``http_routing``): the verdict is kept on the request.
    """

    _inherit = "ir.http"

    @classmethod
    def _match(cls, path_info):
        if getattr(request, "_perimeter_verdict", None) is None:
            cls._perimeter_enforce()
        return super()._match(path_info)

    @classmethod
    def _perimeter_enforce(cls):
        """Decide this request against this database's policy; refuse (403) or redirect (308) here.

        Never ``NotFound``: that would fall through to website pages and
        attachments. Reported to the access log once.
        """
        decider = cached_decider(request.registry) or request.env["perimeter.policy"]._perimeter_decider()
        environ = request.httprequest.environ
        verdict = verdicts.decide_once(decider, request.db, environ)
        request._perimeter_verdict = verdict
        if not verdict.allowed:
            verdicts.raise_for(verdict, environ)

    def session_info(self):
        info = super().session_info()
        if server_config.break_glass() and self.env.user._is_system():
            # Shown as a banner in the backend (perimeter_security/static/src/break_glass).
            info["perimeter_break_glass"] = True
        return info
