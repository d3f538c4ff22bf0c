import contextlib

from odoo import models
from odoo.exceptions import AccessDenied

from ..guard import failed_logins


class ResUsers(models.Model):
    """Every refused password reaches the access log (``failed_login``), for the automatic bans."""

    _inherit = "res.users"

    @contextlib.contextmanager
    def _assert_can_auth(self, user=None):
        # Odoo checks every password inside this block: the login form, /web/session/authenticate,
        # RPC common.login / common.authenticate and the password of every execute_kw. Its own
        # cooldown ("Too many login failures") refuses before the block runs: that answer is not a
        # failed login of the client (Odoo keys it on the TCP peer, a proxy's address behind one, so
        # an attacker's guesses would be charged to everyone behind the same proxy).
        with super()._assert_can_auth(user=user):
            try:
                yield
            except AccessDenied:
                failed_logins.record(self.env.cr.dbname)
                raise
