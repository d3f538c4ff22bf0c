"""``fetchmail.server``: what this module adds to Odoo's incoming mail servers.

- Mail TLS (the trust settings, the last check and its notifications come
  from ``perimeter.mail.tls.mixin``): ``connect()`` under the mail TLS policy,
  Test & Confirm saying what the handshake saw.
- The change history of the server's trust (CA bundle, pin), through
  ``perimeter.change.tracked``.
- Roles: credentials stay with Settings administrators; the actions that
  write check for a Perimeter administrator first.

The same shape as the outgoing side: Odoo's ``connect()`` runs unchanged (so
``_imap_login`` overrides, Gmail and Outlook OAuth, keep working) while an
attempt opens the IMAP or POP3 client it creates through
:class:`perimeter.mail_tls.MailTls` (see ``guard/mail_connections.py``):
implicit TLS verified, or, under ``enforce`` on a port without it,
STARTTLS/STLS when the server offers it and a refusal when it does not.
"""

import contextlib

from odoo import api, fields, models

from ..guard import mail_connections, odoo_version
from ..guard.odoo_runtime import in_odoo_test
from ..guard.wording import message_of
from ..perimeter import mail_tls
from .perimeter_mail_tls_mixin import CheckTarget, MailTlsError
from .roles import require_manager


class _FetchAttempt:
    """One ``connect()`` of an incoming mail server under the policy."""

    def __init__(self, policy, min_version, server):
        self.policy = policy
        self.min_version = min_version
        self.server = server
        self.mail_tls = mail_tls.MailTls(policy, min_version, server.perimeter_ca_bundle or None,
                                        server.perimeter_pinned_sha256 or None)
        self.host = self.port = None
        self.protocol = "plain"

    # The clients Odoo's connect() asks for, opened through MailTls (see guard/mail_connections.py).

    def open_imap(self, host, port, is_ssl, *, timeout, imap_class, imap_ssl_class):
        self.host, self.port = host, port
        self.protocol = mail_tls.fetch_protocol("imap", is_ssl, self.policy)
        return self.mail_tls.open_imap(host, port, is_ssl, timeout=timeout,
                                       imap_class=imap_class, imap_ssl_class=imap_ssl_class)

    def open_pop3(self, host, port, is_ssl, *, timeout, pop_class, pop_ssl_class):
        self.host, self.port = host, port
        self.protocol = mail_tls.fetch_protocol("pop", is_ssl, self.policy)
        return self.mail_tls.open_pop3(host, port, is_ssl, timeout=timeout,
                                       pop_class=pop_class, pop_ssl_class=pop_ssl_class)


class FetchmailServer(models.Model):
    _name = "fetchmail.server"
    # On a write: Odoo's fetchmail.server, then the mixin (the pin normalised), then the change history
    # (what is stored, compared with what was).
    _inherit = ["fetchmail.server", "perimeter.mail.tls.mixin", "perimeter.change.tracked"]

    _perimeter_tracked_fields = ("perimeter_ca_bundle", "perimeter_pinned_sha256")

    # Credentials stay with Settings administrators, as before auditors could read these servers.
    user = fields.Char(groups="base.group_system")
    password = fields.Char(groups="base.group_system")

    def _perimeter_kind(self):
        return self.env._("Incoming mail server")

    def _perimeter_is_outgoing(self):
        return False

    def _perimeter_connection_timeout(self):
        return mail_connections.fetch_timeout()

    def _perimeter_refusal_consequence(self, policy):
        if policy == "enforce":
            return self.env._("No mail is fetched from it until it is fixed; the mail waits on the server.")
        return self.env._("Odoo still fetches from it without verification (mail TLS policy: warn).")

    def _perimeter_tls_target(self, policy):
        if self.server_type == "local":
            return mail_tls.NOTHING_TO_CHECK["local"]
        if not self.server:
            return mail_tls.NOTHING_TO_CHECK["no_server_name"]
        protocol = mail_tls.fetch_protocol(self._get_connection_type(), self.is_ssl, policy)
        if protocol != "plain":
            return CheckTarget(self.server, int(self.port or 0), protocol)
        notes = (("unencrypted", mail_tls.UNENCRYPTED_FETCH),)
        return CheckTarget(self.server, int(self.port or 0), protocol, notes)

    def action_perimeter_check(self):
        require_manager(self.env)
        return super().action_perimeter_check()

    # --- connect() -----------------------------------------------------------------------------------------------

    def _perimeter_connect(self, allow_archived=False):
        self.ensure_one()
        # Odoo's tests replace imaplib/poplib with mocks: step aside, as the SMTP side does.
        if in_odoo_test(self.env):
            return self._perimeter_super_connect(allow_archived)
        policy, min_version = self._perimeter_mail_tls_settings()
        if policy == "off":
            return self._perimeter_super_connect(allow_archived)
        server = self.sudo()
        try:
            attempt = _FetchAttempt(policy, min_version, server)
        except ValueError as exc:
            raise MailTlsError(message_of(self.env, exc)) from None
        try:
            with mail_connections.fetch_connections_verified_by(attempt):
                connection = self._perimeter_super_connect(allow_archived)
        except Exception as exc:
            if not mail_tls.is_tls_failure(exc):
                if attempt.mail_tls.verified:  # the channel was fine; the login was not
                    server._perimeter_record_connection(attempt.mail_tls.report, policy)
                raise
            failure = exc
        else:
            failure = None
        if failure is None:
            if policy == "enforce" and not attempt.mail_tls.verified:
                self._perimeter_close(connection)
                failure = mail_tls.MailTlsRefused.not_secured()
            else:
                server._perimeter_record_connection(self._perimeter_session_report(attempt), policy)
                return connection
        report = server._perimeter_failure_report(attempt.host or self.server, attempt.port or self.port,
                                                  attempt.protocol, attempt.min_version, failure=failure, policy=policy)
        server._perimeter_record_connection(report, policy)
        if policy == "enforce":
            raise MailTlsError(server._perimeter_reason(
                attempt.host or self.server, attempt.port or self.port, report, policy)) from failure
        return self._perimeter_super_connect(allow_archived)

    def _perimeter_super_connect(self, allow_archived):
        """Odoo's connect() (18) / _connect__() (19), not ours."""
        return getattr(super(), odoo_version.FETCH_CONNECT)(allow_archived=allow_archived)

    def _perimeter_close(self, connection):
        with contextlib.suppress(Exception):
            if self._get_connection_type() == "imap":
                connection.shutdown()
            else:
                connection.quit()

    def _perimeter_session_report(self, attempt):
        if attempt.mail_tls.verified:
            return attempt.mail_tls.report
        return mail_tls.failed_report(attempt.host, attempt.port, "plain", self._perimeter_tls_target("warn").notes,
                                     min_version=attempt.min_version)

    # --- Test & Confirm, fetching, back to draft -----------------------------------------------------------------

    def button_confirm_login(self):
        require_manager(self.env)
        if in_odoo_test(self.env):
            return super().button_confirm_login()
        policy, _min_version = self._perimeter_mail_tls_settings()
        if policy == "off":
            return super().button_confirm_login()
        results, _failed, refusal = self._perimeter_check_for_test(policy)
        if refusal:
            return refusal
        super().button_confirm_login()
        return self._perimeter_notification(results, title=self.env._("Connection confirmed"))

    def fetch_mail(self, *args, **kwargs):
        # 18: fetch_mail(raise_exception=True); 19: fetch_mail() (raises what _fetch_mail() returns).
        require_manager(self.env)
        return super().fetch_mail(*args, **kwargs)

    def set_draft(self):
        require_manager(self.env)
        return super().set_draft()

    @api.model
    def _perimeter_servers_to_check(self):
        return self.search([("active", "=", True), ("server_type", "!=", "local")])


# Odoo's connect() (18) is _connect__() on 19: the override is bound to the name this Odoo calls.
odoo_version.bind_method(FetchmailServer, odoo_version.FETCH_CONNECT, FetchmailServer._perimeter_connect)
