"""Where credentials are checked: the connected-systems fence, and the RPC caller record.

- ``res.users._check_credentials``: every password or API-key login (web
  login, XML-RPC/JSON-RPC ``common.login``/``authenticate``, and the first
  ``execute_kw`` of a credential in a process).
- ``res.users.check``: every ``execute``/``execute_kw`` call. Odoo caches
  its result per (uid, password), so the fence and the record run after it,
  on each call, from the compiled (cached) fence: no SQL per call.
- ``res.users.apikeys._check_credentials``: bearer authentication of HTTP
  routes (answered with 403 when fenced off).
"""

import contextlib
import logging

import werkzeug.exceptions

from odoo import SUPERUSER_ID, api, models, tools
from odoo.exceptions import AccessDenied

from odoo.addons.base.models.res_users import INDEX_SIZE, KEY_CRYPT_CONTEXT

from ..guard import access_log, rpc_callers, rpc_context
from ..perimeter.accesslog import Hit
from ..perimeter.client import resolve_client

_logger = logging.getLogger(__name__)

# RPC calls hide the request from the code that authenticates them; remember it (see rpc_context).
rpc_context.install()


class ResUsers(models.Model):
    _inherit = "res.users"

    def _check_credentials(self, credential, env):
        auth_info = super()._check_credentials(credential, env)
        if credential.get("type") == "password":
            self._perimeter_guard(auth_info.get("uid") or self.env.user.id, credential.get("password"))
        return auth_info

    @classmethod
    def check(cls, db, uid, passwd):
        result = super().check(db, uid, passwd)
        with contextlib.closing(cls.pool.cursor()) as cr:
            call = api.Environment(cr, SUPERUSER_ID, {})["res.users"]._perimeter_guard(uid, passwd, record=True)
        if call:
            rpc_callers.record_call(*call)
        return result

    @classmethod
    def authenticate(cls, db, credential, user_agent_env):
        auth_info = super().authenticate(db, credential, user_agent_env)
        request = rpc_context.current_request()
        # common.login / common.authenticate: a script starting its RPC session.
        if request is not None and request.rpc and credential.get("type") == "password":
            with contextlib.closing(cls.pool.cursor()) as cr:
                users = api.Environment(cr, SUPERUSER_ID, {})["res.users"]
                call = users._perimeter_guard(auth_info["uid"], credential.get("password"), fence=False, record=True)
            if call:
                rpc_callers.record_call(*call)
        return auth_info

    @api.model
    @tools.ormcache("uid", "secret")
    def _perimeter_apikey_of(self, uid, secret):
        """Id of the API key of user ``uid`` that ``secret`` is, or 0 (a password).

        Cached like ``check``: its query and hash run once per credential and process.
        """
        if not isinstance(secret, str) or len(secret) <= INDEX_SIZE:
            return 0
        self.env.cr.execute("SELECT id, key FROM res_users_apikeys WHERE user_id = %s AND index = %s",
                            [uid, secret[:INDEX_SIZE]])
        for key_id, hashed in self.env.cr.fetchall():
            if KEY_CRYPT_CONTEXT.verify(secret, hashed):
                return key_id
        return 0

    @api.model
    def _perimeter_guard(self, uid, secret, *, fence=True, record=False, http_error=False):
        """Apply the fence to a credential that just authenticated; return the RPC call to record, if any.

        Refusal raises ``AccessDenied`` (``Forbidden`` with ``http_error``), after
        handing the refused request to the access log with reason ``system_network``.
        """
        snapshot = self.env["perimeter.connected.system"].sudo()._fence_snapshot()
        bound = fence and bool(snapshot)
        if not (bound or record):
            return None
        apikey_id = self._perimeter_apikey_of(uid, secret) if (record or snapshot.keys) else 0
        request = rpc_context.current_request()
        client = resolve_client(request.connection, snapshot.trusted_proxies) if request is not None else None
        if bound and snapshot.binds(uid, apikey_id):
            refused = snapshot.refused_address(uid, apikey_id, client)
            if refused:
                self._perimeter_refuse(uid, apikey_id, refused, client=client, request=request, http_error=http_error)
        if record and client is not None:
            return (self.env.cr.dbname, uid, apikey_id, client.ip, client.scheme)
        return None

    @api.model
    def _perimeter_refuse(self, uid, apikey_id, address, *, client, request, http_error):
        what = f"API key {apikey_id} of user {uid}" if apikey_id else f"user {uid}"
        _logger.info("perimeter: refused %s from %s: outside the allowed networks of its connected system",
                     what, address)
        peer = client.peer if client is not None and client.peer != address else ""
        access_log.record_hit(self.env.cr.dbname, Hit(
            ip=address, reason="system_network", blocked=True, peer=peer,
            path=request.path if request else "", method=request.method if request else "",
            user_agent=request.user_agent if request else "",
        ))
        if http_error:
            raise werkzeug.exceptions.Forbidden()
        raise AccessDenied()


class ResUsersApikeys(models.Model):
    _inherit = "res.users.apikeys"

    def _check_credentials(self, *, scope, key):
        uid = super()._check_credentials(scope=scope, key=key)
        request = rpc_context.current_request()
        # RPC logins are guarded by res.users; here: bearer authentication of HTTP routes.
        if uid and request is not None and not request.rpc:
            call = self.env["res.users"].sudo()._perimeter_guard(uid, key, record=scope == "rpc", http_error=True)
            if call:
                rpc_callers.record_call(*call)
        return uid
