"""Applying audiences (``perimeter/audience.py``) where Odoo knows the user of a request.

- :func:`judge_once` judges a request made as a user (a session, a password,
  an API key) and reports it to the access log with the login, once per
  request and user however many points see it (``ir.http``, the credential
  checks, RPC ``check`` of every call);
- :func:`end_session`: a session used from outside its user's networks is
  ended (deleted from the session store) whatever the refusal looks like;
- :func:`install_websocket_guard`: an open websocket whose user is no longer
  admitted from the handshake's client is closed before notifications go out.
"""

import contextlib
import functools
import logging

import odoo.http
from odoo import SUPERUSER_ID, api

from ..perimeter.audience import judge
from ..perimeter.policy import RequestFacts
from . import refusal, server_tier, verdicts

_logger = logging.getLogger(__name__)

_MEMO = "perimeter_security.audience"  # key of the per-request memo in the WSGI environ
_MARK = "_perimeter_security_audience"


def facts_of(info):
    """``RequestFacts`` from ``rpc_context.RequestInfo`` (the request a credential is checked in)."""
    return RequestFacts(connection=info.connection, method=info.method, path=info.path, user_agent=info.user_agent)


def judge_once(facts, policy, holding, dbname):
    """The verdict on ``facts`` made as ``holding``'s user; reported once per request and user."""
    state = verdicts.current_state()
    memo = state.environ.setdefault(_MEMO, {}) if state is not None else {}
    key = (dbname, holding.uid if holding is not None else None)
    verdict = memo.get(key)
    if verdict is None:
        verdict = memo[key] = judge(facts, policy, holding)
        if verdict.report:
            verdicts.report(verdict, facts, dbname, holding.login)
    return verdict


def refused_in_request(dbname):
    """Whether the current request was refused as a user held elsewhere (already one access-log row)."""
    state = verdicts.current_state()
    memo = state.environ.get(_MEMO, {}) if state is not None else {}
    return any(key[0] == dbname and not verdict.allowed for key, verdict in memo.items())


def end_session(request):
    """End the session of ``request``: gone from the store (a stolen cookie is dead), anonymous from now on."""
    session = request.session
    with contextlib.suppress(OSError):
        odoo.http.root.session_store.delete(session)
    session.logout(keep_db=True)
    request.env = api.Environment(request.env.cr, None, request.env.context)


def install_websocket_guard():
    """Check an open websocket's user before sending notifications (called when a registry loads)."""
    try:
        from odoo.addons.bus.websocket import Websocket  # noqa: PLC0415 -- bus loads after post_load
    except ImportError:
        return
    original = Websocket._dispatch_bus_notifications
    if getattr(original, _MARK, False):
        return

    @functools.wraps(original)
    def _dispatch_bus_notifications(self):
        facts = getattr(self, "_perimeter_facts", None)
        uid = getattr(self._session, "uid", None)
        if facts is not None and uid:
            _check_websocket_user(self._db, uid, facts)
        return original(self)

    setattr(_dispatch_bus_notifications, _MARK, True)
    Websocket._dispatch_bus_notifications = _dispatch_bus_notifications


def _check_websocket_user(dbname, uid, facts):
    decider = server_tier.database_decider(dbname, open_cursor=server_tier.websocket_cursor)
    if decider is None or not decider.policy.active or decider.policy.audience is None:
        return
    holding = decider.policy.audience.cached(uid)
    if holding is None:
        if server_tier._registry(dbname, False) is None:
            return
        with server_tier.websocket_cursor(dbname) as cr:
            holding = api.Environment(cr, SUPERUSER_ID, {})["perimeter.policy"]._perimeter_holding(
                decider.policy, uid)
    verdict = judge(facts, decider.policy, holding)
    if verdict.report:
        verdicts.report(verdict, facts, dbname, holding.login if holding else "")
    if not verdict.allowed:
        raise refusal.WebsocketRefused()
