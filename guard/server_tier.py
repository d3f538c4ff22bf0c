"""Server tier: enforcement where no database's ``ir.http`` runs.

Installed by the module's ``post_load`` hook, once per process, by wrapping
methods of Odoo's classes (never by rebinding ``odoo.http.root``):

- ``Application.__call__``: keeps the request's state for every enforcement
  point, and adds HSTS and the cookies' ``Secure`` flag to whatever response
  goes out (pages, errors, redirects, static files) when the verdict says so;
- ``Request._serve_static``: static files, served before any database opens;
- ``Request._serve_nodb``: requests with no database (database manager,
  database-less RPC, and requests whose database is unusable);
- ``Request._serve_db``: database management (``/web/database/*``,
  ``/xmlrpc/*/db``) answers to the server policy even when a database is
  selected; and a client the database's recent policy refuses is refused
  before Odoo opens a cursor (allows are left to ``ir.http._match``);
- ``odoo.service.{common,model,db}.dispatch`` and ``Session.authenticate``:
  ``/xmlrpc/2/*``, ``/jsonrpc`` and ``/web/session/authenticate`` open the
  database named in the payload, not the request's: that database's policy
  is enforced there, before any password is checked (a refusal is an RPC
  fault or a JSON-RPC error);
- the bus ``Websocket``: an open websocket is closed when the policy of its
  database stops admitting the client it was opened from.

A database's policy is used only where the module is installed and its
registry is already loaded (the guard never loads one for a static file);
it is kept ``SNAPSHOT_TTL`` seconds. Requests with no database answer to the
``[perimeter_security]`` section of the configuration file (``server_config``).
Databases without the module are not touched.
"""

import functools
import logging
import re
import time
from contextlib import closing

import psycopg2

import odoo
from odoo import SUPERUSER_ID, api
from odoo.http import Application, Request, Session
from odoo.modules.registry import Registry

from . import refusal, server_config, verdicts

_logger = logging.getLogger(__name__)

SNAPSHOT_TTL = 5.0  # seconds the server tier reuses a database's policy
POLICY_MODEL = "perimeter.policy"
# Database management answers to the server policy, whichever database is selected.
DATABASE_MANAGEMENT = ("/web/database/", "/xmlrpc/2/db", "/xmlrpc/db")
_MARK = "_perimeter_security_guard"
_SECURE_FLAG = re.compile(r";\s*secure\s*(?:;|$)", re.IGNORECASE)
_RPC_DATABASE_METHODS = {"common": ("login", "authenticate"), "model": None}  # None: every method
_UNUSABLE_DATABASE = (AttributeError, KeyError, psycopg2.OperationalError, psycopg2.ProgrammingError)

_snapshots = {}  # database name -> (Decider, time.monotonic() deadline)


def install():
    """Wrap Odoo's request handling; idempotent (a second call changes nothing)."""
    _wrap(Application, "__call__", _guard_call)
    _wrap(Request, "_serve_static", _guard_serve_static)
    _wrap(Request, "_serve_nodb", _guard_serve_nodb)
    _wrap(Request, "_serve_db", _guard_serve_db)
    for service in ("common", "db", "model"):
        _wrap(getattr(odoo.service, service), "dispatch", functools.partial(_guard_dispatch, service))
    _wrap(Session, "authenticate", _guard_session_authenticate)
    if server_config.break_glass():
        _logger.warning(
            "perimeter_security: BREAK-GLASS is on ([perimeter_security] disabled = True in the configuration "
            "file): nothing is blocked. Fix the allowlist, remove the option and restart Odoo."
        )


def install_websocket_guard():
    """Close open websockets the policy stops admitting (called when a registry with the module loads)."""
    try:
        from odoo.addons.bus.websocket import Websocket  # noqa: PLC0415 -- bus loads after post_load
    except ImportError:
        return
    _wrap(Websocket, "_dispatch_bus_notifications", _guard_notifications)


def is_installed(owner, name):
    return getattr(getattr(owner, name), _MARK, False)


def _wrap(owner, name, make_wrapper):
    original = getattr(owner, name)
    if getattr(original, _MARK, False):
        return
    wrapper = make_wrapper(original)
    setattr(wrapper, _MARK, True)
    setattr(owner, name, wrapper)


def forget_snapshots():
    """Drop the server tier's copies of database policies (tests, and after a policy change in-process)."""
    _snapshots.clear()


def database_decider(dbname, fresh=False, load=False):
    """The ``Decider`` of database ``dbname``'s policy if the module is installed there, else None.

    Only a registry already loaded is used, unless ``load`` (the RPC wrappers:
    Odoo opens that registry the next instant anyway, so the first call after
    a restart is checked too).
    """
    now = time.monotonic()
    cached = _snapshots.get(dbname)
    if cached is not None and not fresh and cached[1] > now:
        return cached[0]
    registry = _registry(dbname, load)
    if registry is None or POLICY_MODEL not in registry:
        _snapshots.pop(dbname, None)
        return None
    try:
        with closing(registry.cursor()) as cr:
            if not registry.in_test_mode():
                registry_sequence, _cache_sequences = registry.get_sequences(cr)
                if registry_sequence == registry.registry_sequence:
                    # Clear what other workers invalidated; a pending registry reload is left to Odoo.
                    registry.check_signaling(cr)
            decider = api.Environment(cr, SUPERUSER_ID, {})[POLICY_MODEL]._perimeter_decider()
    except psycopg2.Error:
        _logger.warning("perimeter_security: cannot read the policy of database %s", dbname, exc_info=True)
        return cached[0] if cached is not None else None  # the last one known, else the server's
    _snapshots[dbname] = (decider, now + SNAPSHOT_TTL)
    return decider


def _registry(dbname, load):
    if load:
        return Registry(dbname)
    try:
        registry = Registry.registries[dbname]
    except KeyError:
        return None
    return registry if registry.ready else None


def secure_headers(headers, verdict):
    """Response headers with HSTS and the cookies' ``Secure`` flag that ``verdict`` calls for."""
    result = []
    for name, value in headers:
        insecure = verdict.secure_cookie and name.lower() == "set-cookie" and not _SECURE_FLAG.search(value)
        result.append((name, f"{value}; Secure" if insecure else value))
    if verdict.hsts and not any(name.lower() == "strict-transport-security" for name, _value in result):
        result.append(("Strict-Transport-Security", f"max-age={verdict.hsts}"))
    return result


# ---------------------------------------------------------------------------------------------
# Wrappers. Each takes the original callable and returns its guarded version.
# ---------------------------------------------------------------------------------------------


def _guard_call(original):
    @functools.wraps(original)
    def __call__(self, environ, start_response):
        token = verdicts.begin(environ)
        state = verdicts.current_state()

        def start_response_with_flags(status, headers, exc_info=None):
            if state.response_verdict is not None:
                headers = secure_headers(headers, state.response_verdict)
            return start_response(status, headers, exc_info)

        try:
            return original(self, environ, start_response_with_flags)
        finally:
            verdicts.end(token)

    return __call__


def _guard_serve_static(original):
    @functools.wraps(original)
    def _serve_static(self):
        decider = database_decider(self.db) if self.db else None
        if decider is None:
            _enforce(self, server_config.server_decider(), None)
        else:
            _enforce(self, decider, self.db)
        return original(self)

    return _serve_static


def _guard_serve_nodb(original):
    @functools.wraps(original)
    def _serve_nodb(self):
        _enforce(self, server_config.server_decider(), None)
        return original(self)

    return _serve_nodb


def _guard_serve_db(original):
    @functools.wraps(original)
    def _serve_db(self):
        if self.httprequest.path.startswith(DATABASE_MANAGEMENT):
            _enforce(self, server_config.server_decider(), None)
        # A refusal by the database's recent policy costs no cursor; ir.http._match decides the rest.
        decider = database_decider(self.db)
        if decider is not None:
            verdicts.refuse_early(decider, self.db, self.httprequest.environ)
        return original(self)

    return _serve_db


def _enforce(request, decider, dbname):
    environ = request.httprequest.environ
    verdict = verdicts.decide_once(decider, dbname, environ)
    if not verdict.allowed:
        verdicts.raise_for(verdict, environ)


def _guard_dispatch(service, original):
    @functools.wraps(original)
    def dispatch(method, params):
        state = verdicts.current_state()
        if state is not None:
            _check_rpc(state, service, method, params)
        return original(method, params)

    return dispatch


def _check_rpc(state, service, method, params):
    """Refuse an RPC call whose target (a database, or the server for ``db``) refuses this client."""
    if service == "db":
        _check_target(state, None)
        return
    methods = _RPC_DATABASE_METHODS.get(service, ())
    if methods is not None and method not in methods:
        return
    dbname = params[0] if isinstance(params, (list, tuple)) and params else None
    if isinstance(dbname, str) and dbname:
        _check_target(state, dbname)


def _guard_session_authenticate(original):
    @functools.wraps(original)
    def authenticate(self, dbname, credential):
        # /web/session/authenticate checks a password in the database its payload names.
        state = verdicts.current_state()
        if state is not None and isinstance(dbname, str) and dbname:
            _check_target(state, dbname)
        return original(self, dbname, credential)

    return authenticate


def _check_target(state, dbname):
    """Refuse, as an RPC answer, a call into database ``dbname`` (None: the server) that refuses this client."""
    verdict = state.verdicts.get(dbname)
    if verdict is None:
        if dbname is None:
            decider = server_config.server_decider()
        else:
            try:
                decider = database_decider(dbname, fresh=True, load=True)
            except _UNUSABLE_DATABASE:
                return  # Odoo reports the unusable database itself, the next instant
            if decider is None:
                return
        verdict = verdicts.decide_once(decider, dbname, state.environ, state)
    if verdict.allowed:
        return
    exc = refusal.RpcRefused(refusal.message(verdict))
    if refusal.response_kind(state.facts.path, state.environ.get("CONTENT_TYPE", "")) == "json":
        exc.error_response = refusal.json_refusal(verdict)
    raise exc


def _guard_notifications(original):
    @functools.wraps(original)
    def _dispatch_bus_notifications(self):
        facts = getattr(self, "_perimeter_facts", None)
        if facts is not None:
            decider = database_decider(self._db)
            if decider is not None:
                verdicts.check_websocket(decider.policy, facts, self._db)
        return original(self)

    return _dispatch_bus_notifications
