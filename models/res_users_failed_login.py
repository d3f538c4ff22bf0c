from odoo import models
from odoo.exceptions import AccessDenied

from ..guard import failed_logins


class ResUsers(models.Model):
    """Every refused password reaches the access log (``failed_login``), for the automatic bans."""

    _inherit = "res.users"

    @classmethod
    def _login(cls, db, credential, user_agent_env):
        # The login form, /web/session/authenticate, and RPC common.login / common.authenticate.
        try:
            return super()._login(db, credential, user_agent_env)
        except AccessDenied:
            failed_logins.record(db)
            raise

    @classmethod
    def check(cls, db, uid, passwd):
        # The password sent with every XML-RPC / JSON-RPC execute_kw.
        try:
            return super().check(db, uid, passwd)
        except AccessDenied:
            failed_logins.record(db)
            raise
