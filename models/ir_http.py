"""``ir.http``: the database tier, where every request of this database is judged before any route or page.

- ``_match`` runs for every database request (backend, login, JSON-RPC,
  website and portal pages, 404s, the websocket handshake, attachments served
  by the fallback) before anything is served. It may run more than once per
  request (``http_routing``): the verdicts are kept on the request. First the
  site gate (refuse with 403 or redirect with 308, never ``NotFound``: that
  would fall through to website pages and attachments), then the session's
  user: a session whose user may not come from this client is ended (deleted
  from the session store: a stolen cookie is dead, a laptop that left the
  office logs in again there). RPC and JSON requests are then refused (403);
  a browser's page request goes on as an anonymous visitor's: it gets the
  public page, or Odoo's login page, where this user's login is refused from
  here like a wrong password;
- ``_authenticate`` and ``_serve_fallback``: anonymous requests, only where
  the audience says (scope all);
- ``session_info``: the break-glass banner of the backend.
"""

from odoo import models
from odoo.http import request

from ..guard import audience as audience_guard
from ..guard import refusal, server_config, verdicts
from ..guard.registry_cache import cached_decider
from ..perimeter.audience import judge_anonymous
from ..perimeter.policy import RequestFacts

LOGIN_ROUTES = frozenset({"/web/login"})
LOGIN_ASSETS = "/web/assets/"  # the bundles of every page, the login page's among them


class IrHttp(models.AbstractModel):
    _inherit = "ir.http"

    @classmethod
    def _match(cls, path_info):
        if getattr(request, "_perimeter_verdict", None) is None:
            cls._perimeter_enforce()  # the site gate first: an outsider is refused as such
        if not getattr(request, "_perimeter_audience_done", False):
            request._perimeter_audience_done = True
            cls._perimeter_enforce_session()
        return super()._match(path_info)

    @classmethod
    def _perimeter_decider(cls):
        return cached_decider(request.registry) or request.env["perimeter.policy"]._perimeter_decider()

    @classmethod
    def _perimeter_enforce(cls):
        """Decide this request against this database's policy; refuse (403) or redirect (308) here.

        Never ``NotFound``: that would fall through to website pages and
        attachments. Reported to the access log once.
        """
        decider = cls._perimeter_decider()
        environ = request.httprequest.environ
        verdict = verdicts.decide_once(decider, request.db, environ)
        request._perimeter_verdict = verdict
        if not verdict.allowed:
            verdicts.raise_for(verdict, environ)

    @classmethod
    def _perimeter_enforce_session(cls):
        uid = request.session.uid
        if not uid:
            return
        policy = cls._perimeter_decider().policy
        if not policy.active or policy.mode == "off" or policy.audience is None:
            return
        holding = request.env["perimeter.policy"].sudo()._perimeter_holding(policy, uid)
        if not policy.audience.narrows(holding):
            return
        environ = request.httprequest.environ
        verdict = audience_guard.judge_once(RequestFacts.from_environ(environ), policy, holding, request.db)
        if verdict.allowed:
            return
        audience_guard.end_session(request)
        if refusal.response_kind(environ.get("PATH_INFO") or "/", environ.get("CONTENT_TYPE", "")) != "html":
            verdicts.raise_for(verdict, environ)

    @classmethod
    def _authenticate(cls, endpoint):
        result = super()._authenticate(endpoint)
        if (endpoint.routing.get("auth") == "public" and request.env.uid in (None, *cls._get_public_users())
                and not cls._perimeter_login_door(endpoint)):
            cls._perimeter_enforce_anonymous()
        return result

    @classmethod
    def _perimeter_login_door(cls, endpoint):
        """The login page and what it loads: a door where credentials are presented, whatever its ``auth``.

        Odoo's login page is an ``auth='none'`` route, a door like
        ``/web/session/authenticate``; website makes it a public website page,
        which a client admitted by reserved rules only must still reach, with
        its style sheets and scripts (the same for everybody), to log in there.
        """
        return any(route in LOGIN_ROUTES or route.startswith(LOGIN_ASSETS)
                   for route in endpoint.routing.get("routes") or ())

    @classmethod
    def _serve_fallback(cls):
        if not request.session.uid:
            cls._perimeter_enforce_anonymous()
        return super()._serve_fallback()

    @classmethod
    def _perimeter_enforce_anonymous(cls):
        """Scope all: a client that only reserved rules admit reaches no public page anonymously."""
        policy = cls._perimeter_decider().policy
        if policy.audience is None or not policy.audience.reserved:
            return
        environ = request.httprequest.environ
        facts = RequestFacts.from_environ(environ)
        verdict = judge_anonymous(facts, policy, policy.audience)
        if verdict.report:
            verdicts.report(verdict, facts, request.db)
        if not verdict.allowed:
            verdicts.raise_for(verdict, environ)

    def session_info(self):
        info = super().session_info()
        if server_config.break_glass() and self.env.user._is_system():
            # Shown as a banner in the backend (perimeter_security/static/src/break_glass).
            info["perimeter_break_glass"] = True
        return info
