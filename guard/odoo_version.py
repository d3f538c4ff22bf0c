"""One adapter per difference between the Odoo series this module runs on (18.0, 19.0).

The adapters the port needs, each measured in Odoo's source; see docs/PORT19.md
for the file:line of both series. Nothing else in
the module may test the series: it calls one of these.
"""

import configparser
import os
import threading

from odoo import release
from odoo.tools import config

SERIES = release.series  # "18.0" / "19.0"
MAJOR = release.version_info[0]
ODOO_19 = MAJOR >= 19


# -- odoo.http ---------------------------------------------------------------------------------------------------

def json_mimetypes():
    """18: odoo.http.JSON_MIMETYPES; 19: removed (JsonRPCDispatcher.mimetypes / Json2Dispatcher.mimetypes)."""
    import odoo.http  # noqa: PLC0415

    found = getattr(odoo.http, "JSON_MIMETYPES", None)
    if found is not None:
        return tuple(found)
    mimetypes = set()
    for name in ("JsonRPCDispatcher", "Json2Dispatcher"):
        mimetypes.update(getattr(getattr(odoo.http, name, None), "mimetypes", ()))
    return tuple(sorted(mimetypes)) or ("application/json", "application/json-rpc")


def session_authenticate_dbname(dbname_or_env):
    """``Session.authenticate``'s first argument: 18 a database name, 19 an Environment."""
    if isinstance(dbname_or_env, str):
        return dbname_or_env
    registry = getattr(dbname_or_env, "registry", None)
    return getattr(registry, "db_name", None)


# -- registry, transactions, caches ------------------------------------------------------------------------------

def registry_in_test_mode(registry):
    """18: Registry.in_test_mode(); 19: gone -- the test case patches ``registry.cursor`` on the instance."""
    method = getattr(registry, "in_test_mode", None)
    if method is not None:
        return method()
    from odoo.modules import module  # noqa: PLC0415

    return bool(module.current_test) and "cursor" in vars(registry)


def new_transaction(registry):
    """18: odoo.api.Transaction; 19: odoo.orm.environments.Transaction."""
    try:
        from odoo.api import Transaction  # noqa: PLC0415
    except ImportError:
        from odoo.orm.environments import Transaction  # noqa: PLC0415
    return Transaction(registry)


def lru_get(lru, key, default=None):
    """A lock-free read of an ``odoo.tools.lru.LRU`` (18: ``.d`` OrderedDict; 19: ``._values`` dict)."""
    for name in ("d", "_values"):
        store = getattr(lru, name, None)
        if isinstance(store, dict):
            return store.get(key, default)
    return lru.get(key, default)


def is_lru(lru):
    return any(isinstance(getattr(lru, name, None), dict) for name in ("d", "_values"))


# -- configuration file ------------------------------------------------------------------------------------------

_section_lock = threading.Lock()
_section_cache = {}  # (path, mtime_ns, size) -> {section: {option: value}}
_override = {}  # tests: section -> dict (or None = absent)


def config_file_path():
    """18: config.rcfile; 19: config['config'] (config.rcfile warns)."""
    if ODOO_19:
        return config.get("config")
    return getattr(config, "rcfile", None)


def _parse_file(path):
    parser = configparser.RawConfigParser()
    try:
        parser.read([path])
    except (OSError, configparser.Error):
        return {}
    result = {}
    for section in parser.sections():
        if section == "options":
            continue
        values = {}
        for name, value in parser.items(section):
            # Odoo 18's config.misc turns "True"/"true"/"False"/"false" into booleans: do the same.
            values[name] = True if value in ("True", "true") else False if value in ("False", "false") else value
        result[section] = values
    return result


def config_section(name):
    """The options of section ``[name]`` of Odoo's configuration file (a dict, maybe empty).

    18: ``config.misc[name]`` (Odoo keeps every section). 19: Odoo reads only
    ``[options]``, so the file is read here, again whenever it changes (stat per call).
    """
    if name in _override:
        return dict(_override[name] or {})
    misc = getattr(config, "misc", None)
    if isinstance(misc, dict):
        return misc.get(name) or {}
    path = config_file_path()
    if not path:
        return {}
    try:
        stat = os.stat(path)
    except OSError:
        return {}
    key = (path, stat.st_mtime_ns, stat.st_size)
    with _section_lock:
        sections = _section_cache.get(key)
        if sections is None:
            _section_cache.clear()
            sections = _section_cache[key] = _parse_file(path)
    return dict(sections.get(name) or {})


_ABSENT = object()


def set_config_section(name, values):
    """Tests: make section ``[name]`` read ``values`` (a dict; None: absent). 18 writes config.misc;
    19 keeps an override in memory (Odoo 19 has no config.misc)."""
    misc = getattr(config, "misc", None)
    if isinstance(misc, dict):
        if values is None:
            misc.pop(name, None)
        else:
            misc[name] = dict(values)
        return
    _override[name] = None if values is None else dict(values)


def save_config_section(name):
    """Tests: a token for :func:`restore_config_section`."""
    misc = getattr(config, "misc", None)
    if isinstance(misc, dict):
        return dict(misc[name]) if name in misc else _ABSENT
    return dict(_override[name] or {}) if name in _override and _override[name] is not None else \
        (None if name in _override else _ABSENT)


def restore_config_section(name, token):
    misc = getattr(config, "misc", None)
    if isinstance(misc, dict):
        if token is _ABSENT or token is None:
            misc.pop(name, None)
        else:
            misc[name] = token
        return
    if token is _ABSENT:
        _override.pop(name, None)
    else:
        _override[name] = token


def config_list_option(name):
    """An option Odoo 18 keeps as a comma-separated string and 19 as a list (addons_path...), as a string."""
    value = config[name]
    return ",".join(value) if isinstance(value, (list, tuple)) else value


# -- users and groups --------------------------------------------------------------------------------------------

USER_GROUPS_FIELD = "group_ids" if ODOO_19 else "groups_id"  # res.users
GROUP_USERS_FIELD = "user_ids" if ODOO_19 else "users"  # res.groups
GROUPS_FIELD = "group_ids" if ODOO_19 else "groups_id"  # ir.ui.menu, ir.actions.*, ir.ui.view


def user_groups_field():
    return USER_GROUPS_FIELD


def group_users_field():
    return GROUP_USERS_FIELD


def sql_constraints(*constraints):
    """Class decorator: unique/check constraints ``(name, definition, message)`` on both series.

    18: ``_sql_constraints``; 19: ``models.Constraint`` attributes (``_sql_constraints`` is ignored there).
    """

    def apply(cls):
        if not ODOO_19:
            cls._sql_constraints = [*getattr(cls, "_sql_constraints", ()), *constraints]
            return cls
        from odoo import models  # noqa: PLC0415

        for name, definition, message in constraints:
            attr = f"_{name}"
            constraint = models.Constraint(definition, message)
            setattr(cls, attr, constraint)
            constraint.__set_name__(cls, attr)
        return cls

    return apply


# -- mail connections --------------------------------------------------------------------------------------------

SMTP_CONNECT = "_connect__" if ODOO_19 else "connect"  # ir.mail_server: 19 renamed connect() -> _connect__()
SMTP_LOGIN = "_smtp_login__" if ODOO_19 else "_smtp_login"
BUILD_EMAIL = "_build_email__" if ODOO_19 else "build_email"
FETCH_CONNECT = "_connect__" if ODOO_19 else "connect"  # fetchmail.server
IMAP_LOGIN = "_imap_login__" if ODOO_19 else "_imap_login"


def bind_method(cls, name, func):
    """Make ``func`` (defined in ``cls``'s body, so ``super()`` works) the override of Odoo's method ``name``."""
    setattr(cls, name, func)
    return func


def set_record_groups(env, xmlid, group_xmlids):
    """Set (replace) the groups of record ``xmlid``: res.users (18 groups_id / 19 group_ids), or the
    ``groups_id`` / ``group_ids`` of ir.actions.*, ir.ui.menu, ir.ui.view. Called from data files
    (``<function>``), where a field name that exists on one series only cannot be written."""
    from odoo import Command  # noqa: PLC0415

    record = env.ref(xmlid)
    groups = [env.ref(name).id for name in group_xmlids]
    field = USER_GROUPS_FIELD if record._name == "res.users" else GROUPS_FIELD
    record.write({field: [Command.set(groups)]})


def place_group(env, group_xmlid, category_xmlid, privilege=None):
    """Show group ``group_xmlid`` under ``category_xmlid`` on the user form.

    18: ``res.groups.category_id``. 19: groups hang from a ``res.groups.privilege``
    (``privilege_id``), itself in an ``ir.module.category``; ``privilege`` =
    ``(xmlid, name, sequence)`` of the privilege to create or update (None: a hidden
    group, which on 19 simply has no privilege).
    """
    group = env.ref(group_xmlid)
    if not ODOO_19:
        group.write({"category_id": env.ref(category_xmlid).id})
        return
    if privilege is None:
        return
    xmlid, name, sequence = privilege
    record = env.ref(xmlid, raise_if_not_found=False)
    values = {"name": name, "sequence": sequence, "category_id": env.ref(category_xmlid).id}
    if record is None:
        record = env["res.groups.privilege"].create(values)
        module, _sep, local = xmlid.partition(".")
        env["ir.model.data"]._update_xmlids([{"xml_id": xmlid, "record": record, "noupdate": False}])
    else:
        record.write(values)
    group.write({"privilege_id": record.id})


# -- res.users credential hooks ----------------------------------------------------------------------------------
# 18: classmethods check(db, uid, passwd), authenticate(db, credential, user_agent_env), _login(db, ...).
# 19: check() is gone -- model.dispatch calls the ormcached _check_uid_passwd(uid, passwd) on a SUPERUSER env of
#     the RPC cursor; authenticate(credential, user_agent_env) and _login(credential, user_agent_env) are
#     instance methods (the database is self.env.cr.dbname).
# Each hook below is ``hook(owner, dbname, ..., call_next)`` where ``owner`` has ``.pool`` on both series
# (the registry class on 18, a recordset on 19).

CHECK_METHOD = "_check_uid_passwd" if ODOO_19 else "check"


def bind_check(cls, hook):
    """``hook(owner, dbname, uid, passwd, call_next)`` around the per-call RPC credential check."""
    if ODOO_19:
        from odoo import api  # noqa: PLC0415

        def _check_uid_passwd(self, uid, passwd):
            return hook(self, self.env.cr.dbname, uid, passwd,
                        lambda: super(cls, self)._check_uid_passwd(uid, passwd))

        cls._check_uid_passwd = api.model(_check_uid_passwd)
    else:
        def check(klass, db, uid, passwd):
            return hook(klass, db, uid, passwd, lambda: super(cls, klass).check(db, uid, passwd))

        cls.check = classmethod(check)


def bind_authenticate(cls, hook):
    """``hook(owner, dbname, credential, user_agent_env, call_next)`` around res.users.authenticate."""
    if ODOO_19:
        def authenticate(self, credential, user_agent_env):
            return hook(self, self.env.cr.dbname, credential, user_agent_env,
                        lambda: super(cls, self).authenticate(credential, user_agent_env))

        cls.authenticate = authenticate
    else:
        def authenticate(klass, db, credential, user_agent_env):
            return hook(klass, db, credential, user_agent_env,
                        lambda: super(cls, klass).authenticate(db, credential, user_agent_env))

        cls.authenticate = classmethod(authenticate)


def call_check(env, uid, passwd):
    """Tests: run Odoo's per-call RPC credential check as model.dispatch does (18 check, 19 _check_uid_passwd)."""
    if ODOO_19:
        return env["res.users"].sudo()._check_uid_passwd(uid, passwd)
    return env.registry["res.users"].check(env.cr.dbname, uid, passwd)


def fetch_now(server):
    """Tests: fetch from ``server`` now without raising (18 fetch_mail(raise_exception=False); 19 _fetch_mail())."""
    if ODOO_19:
        return server.sudo()._fetch_mail()
    return server.fetch_mail(raise_exception=False)


def fetch_now_message(reason):
    """Tests: what "Fetch Now" shows when fetching fails with an error whose message is ``reason``.

    18's ``fetch_mail`` wraps every failure in a ValidationError of its own
    (``O18/addons/mail/models/fetchmail.py:248,285``); 19's raises the exception ``_fetch_mail`` returned, as is.
    """
    if ODOO_19:
        return reason
    return f"Couldn't get your emails. Check out the error message below for more info:\n{reason}"


def same_transaction_for_new_cursors(testcase):
    """Tests (TransactionCase): make cursors Odoo opens itself reuse the test's transaction.

    19's ``ir.cron.method_direct_trigger`` runs the job through ``_process_job`` and ``fetchmail._fetch_mail``
    processes messages on ``registry.cursor()``: without this their writes are invisible to the test (and
    committed). 18 runs both on the caller's cursor: nothing to do.
    """
    # An HttpCase (and any case already in registry test mode) is there already: entering again is refused.
    if ODOO_19 and not getattr(type(testcase), "_registry_patched", False):
        testcase.enterContext(testcase.enter_registry_test_mode())


def mail_sending_disabled(env):
    """Whether Odoo connects to no mail server now (tests, registry init).

    19: ``ir.mail_server._disable_send()`` (``current_test or pool._init``), which 19's own tests patch to
    allow real connections while ``current_test`` (and so test cursors) stays on. 18: ``current_test``.
    """
    model = env["ir.mail_server"]
    disable = getattr(type(model), "_disable_send", None)
    if disable is not None:
        return bool(model._disable_send())
    from odoo.modules import module  # noqa: PLC0415

    return bool(module.current_test)


def allow_real_mail_connections(testcase):
    """Tests: let Odoo (and the module) really connect to the test's mail servers."""
    from unittest.mock import patch  # noqa: PLC0415

    if ODOO_19:
        testcase.startPatcher(patch.object(type(testcase.env["ir.mail_server"]), "_disable_send", lambda _cls: False))
    else:
        from odoo.modules import module  # noqa: PLC0415

        testcase.startPatcher(patch.object(module, "current_test", False))
