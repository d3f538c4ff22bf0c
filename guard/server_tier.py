"""Server tier: enforcement where no database's ``ir.http`` runs.

Installed by the module's ``post_load`` hook, once per process, by wrapping
methods of Odoo's classes (never by rebinding ``odoo.http.root``):

- ``Application.__call__``: the door. A client that every policy that could
  apply refuses is answered there, before Odoo builds its request (see
  ``_at_the_door``); it keeps the request's state for every enforcement
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
  database stops admitting the client it was opened from;
- werkzeug's ``WSGIRequestHandler.make_environ`` (Odoo's threaded server's
  handler inherits it, prefork workers use it as is): a request header whose
  name holds an underscore is dropped before werkzeug 2.2 would merge it with
  its dash spelling (``X_Forwarded_For`` into ``HTTP_X_FORWARDED_FOR``), as
  nginx, Apache 2.4, Django and gunicorn 22 do. gevent's handler already drops them.

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
import werkzeug.serving

import odoo.http
import odoo.service.common
import odoo.service.db
import odoo.service.model
import odoo.tools
from odoo import SUPERUSER_ID, api
from odoo.http import Application, Request, Session
from odoo.modules.registry import Registry

from . import odoo_version, peer, refusal, server_config, verdicts

_logger = logging.getLogger(__name__)

SNAPSHOT_TTL = 5.0  # seconds the server tier reuses a database's policy
POLICY_MODEL = "perimeter.policy"
# Database management answers to the server policy, whichever database is selected.
DATABASE_MANAGEMENT = ("/web/database/", "/xmlrpc/2/db", "/xmlrpc/db")
_MARK = "_perimeter_security_guard"
_SECURE_FLAG = re.compile(r";\s*secure\s*(?:;|$)", re.IGNORECASE)
_RPC_DATABASE_METHODS = {"common": ("login", "authenticate"), "model": None}  # None: every method
_UNUSABLE_DATABASE = (AttributeError, KeyError, psycopg2.OperationalError, psycopg2.ProgrammingError)
_MAX_DATABASE_NAME = 63  # bytes: PostgreSQL's NAMEDATALEN - 1

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
    _wrap(werkzeug.serving.WSGIRequestHandler, "make_environ", _guard_make_environ)
    server_config.check_section()  # a mistyped option is reported at start, not at some later request
    if server_config.break_glass():
        _logger.warning(
            "perimeter_security: BREAK-GLASS is on ([perimeter_security] disabled = True in the configuration "
            "file): nothing is blocked. Fix the allowlist, remove the option and restart Odoo."
        )


def websocket_cursor(dbname):
    """A cursor on ``dbname`` opened as the bus opens them for its websockets."""
    from odoo.addons.bus.websocket import acquire_cursor  # noqa: PLC0415 -- bus loads after post_load

    return acquire_cursor(dbname)


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
    _door_databases[:] = [None, 0.0]


def database_decider(dbname, fresh=False, load=False, open_cursor=None):
    """The ``Decider`` of database ``dbname``'s policy if the module is installed there, else None.

    Only a registry already loaded is used, unless ``load`` (the RPC wrappers:
    Odoo opens that registry the next instant anyway, so the first call after
    a restart is checked too). ``open_cursor(dbname)``: how the caller's thread
    opens cursors, when not ``registry.cursor()`` (the bus' websocket threads).
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
        with (open_cursor(dbname) if open_cursor else closing(registry.cursor())) as cr:
            if not odoo_version.registry_in_test_mode(registry):
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


def drop_underscore_headers(headers):
    """Remove from ``headers`` (an ``http.client.HTTPMessage``) every header whose name holds an underscore.

    WSGI spells ``X-Forwarded-For`` and ``X_Forwarded_For`` alike
    (``HTTP_X_FORWARDED_FOR``): only the raw name tells them apart, and only
    here, before the environ is built. Returns the names dropped.
    """
    dropped = {name.lower() for name in headers.keys() if "_" in name}
    for name in dropped:
        del headers[name]  # every occurrence, whatever its case; the dash spelling is another name
    return dropped


# ---------------------------------------------------------------------------------------------
# Wrappers. Each takes the original callable and returns its guarded version.
# ---------------------------------------------------------------------------------------------


def _guard_make_environ(original):
    @functools.wraps(original)
    def make_environ(self):
        drop_underscore_headers(self.headers)
        return original(self)

    return make_environ


def _guard_call(original):
    @functools.wraps(original)
    def __call__(self, environ, start_response):
        peer.keep_real_peer(environ)  # before Odoo's ProxyFix rewrites it
        token = verdicts.begin(environ)
        state = verdicts.current_state()

        def start_response_with_flags(status, headers, exc_info=None):
            if state.response_verdict is not None:
                headers = secure_headers(headers, state.response_verdict)
            return start_response(status, headers, exc_info)

        try:
            refused = _at_the_door(environ)
            if refused is not None:
                return refused(environ, start_response_with_flags)
            return original(self, environ, start_response_with_flags)
        finally:
            verdicts.end(token)

    return __call__


def _at_the_door(environ):
    """The refusal (or HTTPS redirect) of a client every policy that could apply refuses, else None.

    Runs before Odoo builds its request, reads a session or lists databases:
    whatever the request looks like (no ``Host`` header, a broken request line,
    a path no route knows), a refused client gets its 403 here, and a flood of
    them costs no session, no cursor and no database listing. "Could apply":
    every database Odoo might serve this request from (its ``dbfilter`` /
    ``db_name`` applied to the databases of this server, for every ``Host`` it
    might use) and, unless exactly one database is certain, the configuration
    file's policy of requests with no database. A database whose policy is not
    known here (registry not loaded, module not installed) stands aside: the
    request goes on to Odoo, whose enforcement points decide as before.
    """
    try:
        served = _refusing_policy(environ)
        if served is None:
            return None
        verdict = verdicts.decide_once(*served, environ)  # reported once; HSTS kept for the answer
        return verdicts.response_for(verdict, environ, refusal.environ_language(environ))
    except Exception:
        # The door is a shortcut: when it cannot tell, Odoo's own enforcement points decide.
        _logger.warning("perimeter_security: the WSGI door could not decide; the request goes on", exc_info=True)
        return None


def _refusing_policy(environ):
    """``(Decider, database name or None)`` whose refusal to serve, if every policy that could apply refuses."""
    candidates = _door_candidates(environ)
    if candidates is None:
        return None
    databases, no_database_possible = candidates
    served = None
    for dbname in databases:
        decider = database_decider(dbname)
        if decider is None or not decider.policy.active or decider(environ).allowed:
            return None  # unknown here, or admitted: Odoo decides
        served = (decider, dbname)
    if no_database_possible:
        decider = server_config.server_decider()
        if not decider.policy.active or decider(environ).allowed:
            return None
        served = (decider, None)
    return served


_door_databases = [None, 0.0]  # [names of this server's databases, time.monotonic() deadline]


def _known_databases():
    """The databases of this server (``list_dbs``), kept ``SNAPSHOT_TTL`` seconds; None if unknown."""
    names, deadline = _door_databases
    now = time.monotonic()
    if names is None or deadline <= now:
        try:
            names = tuple(odoo.service.db.list_dbs(force=True))
        except Exception:  # noqa: BLE001 -- an unreachable PostgreSQL: the door stands aside
            return None
        _door_databases[:] = [names, now + SNAPSHOT_TTL]
    return names


def _door_candidates(environ):
    """``(databases Odoo may serve this request from, whether it may be served with no database)``, or None."""
    names = _known_databases()
    if names is None:
        return None
    dbfilter = odoo.tools.config["dbfilter"] or ""
    if "%h" not in dbfilter and "%d" not in dbfilter:
        databases = odoo.http.db_filter(names, host="")  # the Host header plays no part
        return databases, len(databases) != 1
    hosts = [environ.get("HTTP_HOST")]
    if odoo.tools.config["proxy_mode"] and environ.get("HTTP_X_FORWARDED_HOST"):
        hosts.append(environ["HTTP_X_FORWARDED_HOST"])  # ProxyFix will make it the Host Odoo filters with
    if None in hosts:
        return names, True  # no Host header: any database might be meant
    databases = sorted({db for host in hosts for db in odoo.http.db_filter(names, host=host)})
    return databases, len(hosts) != 1 or len(databases) != 1


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
    def authenticate(self, dbname_or_env, credential):
        # /web/session/authenticate checks a password in the database its payload names
        # (Odoo 18 passes the database's name, 19 an environment on it).
        dbname = odoo_version.session_authenticate_dbname(dbname_or_env)
        state = verdicts.current_state()
        if state is not None and isinstance(dbname, str) and dbname:
            _check_target(state, dbname)
        return original(self, dbname_or_env, credential)

    return authenticate


def _check_target(state, dbname):
    """Refuse, as an RPC answer, a call into database ``dbname`` (None: the server) that refuses this client."""
    verdict = state.verdicts.get(dbname)
    if verdict is None:
        if dbname is None:
            decider = server_config.server_decider()
        else:
            if not _is_database_name(dbname):
                # Odoo would raise ValueError from deep inside (a NUL byte, a postgresql:// URI), with a
                # traceback: answer as for a database that does not exist, and never open anything.
                raise refusal.unknown_database(state.facts.path, state.environ.get("CONTENT_TYPE", ""))
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


def _is_database_name(name):
    """Whether ``name`` can name a PostgreSQL database that Odoo would open by name.

    Not a connection URI (Odoo's ``db_connect`` refuses those with ValueError),
    no control character (psycopg2 refuses NUL with ValueError), at most 63
    bytes (PostgreSQL's limit: a longer name is truncated, so it names another
    database than the one written).
    """
    return (
        not name.lower().startswith(("postgresql://", "postgres://"))
        and name.isprintable()
        and len(name.encode("utf-8", "surrogatepass")) <= _MAX_DATABASE_NAME
    )


def _guard_notifications(original):
    @functools.wraps(original)
    def _dispatch_bus_notifications(self):
        facts = getattr(self, "_perimeter_facts", None)
        if facts is not None:
            # The bus' own way to a cursor in its threads (retries a full pool; the one tests admit on 19).
            decider = database_decider(self._db, open_cursor=websocket_cursor)
            if decider is not None:
                verdicts.check_websocket(decider.policy, facts, self._db)
        return original(self)

    return _dispatch_bus_notifications
