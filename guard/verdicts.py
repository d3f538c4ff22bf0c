"""Applying verdicts: what every enforcement point shares.

Each point (``ir.http._match``, the server tier in ``server_tier``, the RPC
wrappers) takes its policy's ``Decider`` and calls :func:`decide_once` with the
request's environ, then :func:`raise_for` the verdict; an open websocket is
judged on the facts of its handshake by :func:`check_websocket`. The current HTTP
request's :class:`RequestState` (a context variable the server tier sets
around each request) keeps the verdicts per database, so a request is decided
and reported once per policy however many points see it, and it tells the
response which HSTS and cookie flags to add.
"""

import contextvars
import logging

from ..perimeter.access_log import MAX_METHOD, MAX_PATH, MAX_USER_AGENT, Hit
from ..perimeter.policy import ALLOW, DENY, REDIRECT, RequestFacts, Verdict, decide
from . import access_log, peer, refusal

_logger = logging.getLogger(__name__)

MAX_LOGIN = 64  # characters of a login kept in the access log

# The policy cannot affect anything (off, or break-glass): nothing decided, nothing to add.
INACTIVE = Verdict(ALLOW, None)

_STATE = contextvars.ContextVar("perimeter_security_request", default=None)


class RequestState:
    """What the enforcement points of one HTTP request share."""

    __slots__ = ("_facts", "environ", "response_verdict", "verdicts")

    def __init__(self, environ):
        self.environ = environ  # the WSGI environ (ProxyFix may rewrite it in place; facts undo that: guard/peer.py)
        self.verdicts = {}  # database name (None: the server policy) -> Verdict
        self.response_verdict = None  # the verdict whose HSTS and Secure cookie flag the response gets
        self._facts = None

    @property
    def facts(self):
        if self._facts is None:
            self._facts = RequestFacts.from_environ(self.environ)
        return self._facts


def begin(environ):
    """Start the state of one HTTP request; returns the token for :func:`end`."""
    return _STATE.set(RequestState(environ))


def end(token):
    _STATE.reset(token)


def current_state():
    return _STATE.get()


def current_facts():
    """The facts of the HTTP request this code runs for, or None (cron, shell, scripts without request)."""
    state = _STATE.get()
    if state is not None:
        return state.facts
    from odoo.http import request  # noqa: PLC0415 -- unbound outside requests

    if request and getattr(request, "httprequest", None) is not None:
        return RequestFacts.from_environ(peer.keep_real_peer(request.httprequest.environ))
    return None


def decide_once(decider, dbname, environ, state=None):
    """The verdict of ``decider``'s policy (of database ``dbname``; None: the server) on this request.

    ``environ`` is the request's WSGI environ. Decided and reported to the
    access log once per request and policy.
    """
    peer.keep_real_peer(environ)
    state = state if state is not None else _STATE.get()
    if state is not None and dbname in state.verdicts:
        return state.verdicts[dbname]
    return _settle(decider(environ) if decider.policy.active else INACTIVE, dbname, environ, state)


def refuse_early(decider, dbname, environ):
    """Refuse (or redirect) now if ``decider`` says so; leave an allow to the authoritative check.

    The server tier calls it with a database's recent copy of the policy
    before Odoo opens a cursor, so that a flood of refused requests costs no
    database work. An allow is not kept: ``ir.http._match`` decides it again
    with the current snapshot, so a revoked client is never let in by a copy.
    """
    state = _STATE.get()
    if state is None or dbname in state.verdicts or not decider.policy.active:
        return
    verdict = decider(peer.keep_real_peer(environ))
    if not verdict.allowed:
        raise_for(_settle(verdict, dbname, environ, state), environ)


def _settle(verdict, dbname, environ, state):
    """Report ``verdict`` once and keep it for the rest of the request."""
    if verdict.report:
        report(verdict, RequestFacts.from_environ(environ), dbname)
    if state is not None:
        state.verdicts[dbname] = verdict
        if verdict.hsts or verdict.secure_cookie:
            state.response_verdict = verdict
    return verdict


def report(verdict, facts, dbname, login=""):
    """Hand a refused or monitored request to the access log (with the login concerned, if any);
    never raises into the request."""
    client = verdict.client
    hit = Hit(
        ip=verdict.client_ip,
        reason=verdict.reason,
        blocked=verdict.blocked,
        peer=client.peer if client is not None and client.peer != verdict.client_ip else "",
        path=facts.path[:MAX_PATH],
        method=facts.method[:MAX_METHOD],
        user_agent=facts.user_agent[:MAX_USER_AGENT],
        login=(login or "")[:MAX_LOGIN],
    )
    try:
        access_log.record_hit(dbname, hit)
    except Exception:
        # The refusal itself must still be served: a broken log cannot turn it into a 500.
        _logger.exception("perimeter_security: the access log failed to record a hit")


def check_websocket(policy, facts, dbname):
    """Close an open websocket (``WebsocketRefused``) whose handshake ``facts`` ``policy`` now refuses."""
    if not policy.active:
        return
    verdict = decide(facts, policy)
    if not verdict.allowed:
        report(verdict, facts, dbname)
        raise refusal.WebsocketRefused()


def raise_for(verdict, environ, lang=None):
    """Raise the refusal (403) or the HTTPS redirect (308) of ``verdict``; return when it allows.

    ``environ`` is the request's WSGI environ: its path and content type choose the refusal's format.
    """
    if verdict.action == DENY:
        raise refusal.Refused(response=response_for(verdict, environ, lang))
    if verdict.action == REDIRECT:
        raise refusal.HttpsRedirect(response=response_for(verdict, environ, lang))


def response_for(verdict, environ, lang=None):
    """The 403 or 308 response of a verdict that does not allow (the server tier's door serves it as is)."""
    if verdict.action == REDIRECT:
        return refusal.redirect_response(verdict.location)
    return refusal.refusal_response(
        verdict, environ.get("PATH_INFO") or "/", environ.get("CONTENT_TYPE", ""),
        lang or refusal.request_language(),
        upgrade=environ.get("HTTP_UPGRADE", "").strip().lower() == "websocket",
    )
