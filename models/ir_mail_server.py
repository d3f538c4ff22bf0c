"""``ir.mail_server``: what this module adds to Odoo's outgoing mail servers.

- Mail TLS (the trust settings, the last check and its notifications come
  from ``perimeter.mail.tls.mixin``): ``connect()`` under the mail TLS policy,
  Test Connection saying what the handshake saw, the mail the policy refused
  and its retry, the daily check of every mail server.
- The change history of the server's trust (CA bundle, pin), through
  ``perimeter.change.tracked``.
- Roles: the actions that write check for a Perimeter administrator first.

Odoo's ``connect()`` resolves the server, the credentials and the client
certificate, then creates its SMTP client and calls ``starttls()`` and
``_smtp_login()``. All of that is kept: the override only states, for the
duration of the call, how the connection must be secured (an attempt), and
the client Odoo creates is opened by the attempt through
:class:`perimeter.mail_tls.MailTls` (see ``guard/mail_connections.py``).
Whatever else overrides ``connect()`` or ``_smtp_login()`` (Gmail and Outlook
OAuth) runs unchanged, on the verified channel.
"""

import base64
import contextvars

from odoo import api, fields, models, tools
from odoo.exceptions import UserError

from ..guard import mail_connections, odoo_version
from ..guard.odoo_runtime import in_odoo_test
from ..perimeter import mail_tls
from .perimeter_mail_tls_mixin import CheckTarget, MailTlsError
from .roles import require_manager

# The latest refusal of connect(): (server id, reason). mail.mail reads it right after Odoo
# caught the refusal, to remember which server refused the batch (see take_refusal).
_LAST_REFUSAL = contextvars.ContextVar("perimeter_smtp_refusal", default=None)


def take_refusal(reason):
    """The id of the mail server whose connect() just refused with ``reason`` (False if none); forgets it."""
    refusal = _LAST_REFUSAL.get()
    if refusal is None or refusal[1] != reason:
        return False
    _LAST_REFUSAL.set(None)
    return refusal[0]


def _plain_encryption(server, encryption):
    """What a client without implicit TLS is for: ``"starttls"`` or ``"none"`` (Odoo 19 calls ``smtplib.SMTP()``
    without saying whether STARTTLS follows; 18's SMTPConnection is told the encryption)."""
    if server and server.smtp_authentication != "cli":
        value = server.smtp_encryption
    else:
        value = encryption or ("starttls" if tools.config.get("smtp_ssl") else "none")
    return "starttls" if (value or "").startswith("starttls") else "none"


class _SmtpAttempt:
    """One ``connect()`` under the policy: settings in, what happened out."""

    def __init__(self, policy, min_version, server, cli_client_cert):
        self.policy = policy
        self.min_version = min_version
        self.server = server  # the ir.mail_server record; empty with explicit or command-line settings
        self.cli_client_cert = cli_client_cert
        self.plain_encryption = "none"  # set by connect(): see _plain_encryption
        self.mail_tls = None
        self.host = self.port = None
        self.encryption = None

    @property
    def protocol(self):
        return mail_tls.smtp_protocol(self.encryption)

    def open_smtp(self, host, port, encryption, *, client_cert_requested, timeout):
        """The SMTP client Odoo's connect() asked for, opened through MailTls (see guard/mail_connections.py)."""
        self.host, self.port, self.encryption = host, port, encryption or "none"
        server = self.server
        client_cert = self._client_cert() if client_cert_requested else None
        self.mail_tls = mail_tls.MailTls(
            self.policy, self.min_version,
            ca_bundle_pem=server.perimeter_ca_bundle if server else None,
            pinned_sha256=server.perimeter_pinned_sha256 if server else None,
            client_cert=client_cert,
        )
        return self.mail_tls.open_smtp(host, port, self.encryption, timeout=timeout)

    def failure_report(self, failure):
        """A failed TlsReport for this refused connection, with the facts a probe can see."""
        return self.server._perimeter_failure_report(self.host, self.port, self.protocol, self.min_version,
                                                     failure=failure, policy=self.policy)

    def _client_cert(self):
        # Odoo built a context only to present a client certificate: present
        # the same one on the verifying context.
        server = self.server
        if server and server.smtp_authentication == "certificate":
            return (base64.b64decode(server.smtp_ssl_certificate) + b"\n"
                    + base64.b64decode(server.smtp_ssl_private_key))
        cert, key = self.cli_client_cert or (None, None)
        return (cert, key) if cert and key else None  # 19 passes Odoo's context for every ssl connection


class IrMailServer(models.Model):
    _name = "ir.mail_server"
    # On a write: Odoo's ir.mail_server, then the mixin (the pin normalised), then the change history
    # (what is stored, compared with what was).
    _inherit = ["ir.mail_server", "perimeter.mail.tls.mixin", "perimeter.change.tracked"]

    _perimeter_tracked_fields = ("perimeter_ca_bundle", "perimeter_pinned_sha256")

    perimeter_refused_mail_count = fields.Integer(
        string="Refused mail", compute="_compute_perimeter_refused_mail_count",
        help="Mail waiting in the queue (Delivery Failed) because the mail TLS policy refused this server.")

    def _compute_perimeter_refused_mail_count(self):
        counts = dict(self.env["mail.mail"].sudo()._read_group(
            self._perimeter_refused_mail_domain(), ["perimeter_refused_by_id"], ["__count"]))
        for server in self:
            server.perimeter_refused_mail_count = counts.get(server._origin, 0)

    def _perimeter_connection_timeout(self):
        return mail_connections.smtp_timeout()

    def _perimeter_kind(self):
        return self.env._("Outgoing mail server")

    def _perimeter_refusal_consequence(self, policy):
        if policy == "enforce":
            return self.env._("Mail through it is refused and waits in the queue (Delivery Failed) until it is "
                              "fixed and retried.")
        return self.env._("Odoo still sends through it without verification (mail TLS policy: warn).")

    def _perimeter_endpoint(self):
        """``(host, port, encryption)`` this server connects to; the command line's for 'cli' servers."""
        self.ensure_one()
        if self.smtp_authentication == "cli":
            encryption = "starttls" if tools.config.get("smtp_ssl") else "none"
            return tools.config.get("smtp_server"), int(tools.config.get("smtp_port") or 25), encryption
        return self.smtp_host, self.smtp_port, self.smtp_encryption

    def _perimeter_tls_target(self, policy):
        host, port, encryption = self._perimeter_endpoint()
        if not host:
            return mail_tls.NOTHING_TO_CHECK["no_smtp_host"]
        protocol = mail_tls.smtp_protocol(encryption)
        if protocol != "plain":
            return CheckTarget(host, port, protocol)
        notes = (("unencrypted", mail_tls.UNENCRYPTED),)
        if policy == "enforce":
            notes += (("policy", mail_tls.PLAINTEXT_SMTP_REFUSED),)
            return CheckTarget(host, port, protocol, notes, connect=False)
        return CheckTarget(host, port, protocol, notes)

    # --- Check TLS -----------------------------------------------------------------------------------------------

    def action_perimeter_check(self):
        require_manager(self.env)
        return super().action_perimeter_check()

    def _perimeter_collect_reports(self, policy, min_version):
        # A probe cannot present a client certificate; a server that demands one
        # during the handshake is checked by connecting as Odoo will.
        by_certificate = self.filtered(lambda server: server.smtp_authentication == "certificate")
        results = super(IrMailServer, self - by_certificate)._perimeter_collect_reports(policy, min_version)
        for server in by_certificate:
            results[server] = server._perimeter_check_by_connecting(min_version)
        return results

    def _perimeter_check_by_connecting(self, min_version):
        self.ensure_one()
        attempt = _SmtpAttempt("enforce", min_version, self.sudo(), None)
        attempt.plain_encryption = _plain_encryption(self.sudo(), None)
        try:
            connection = self._perimeter_connect_with(attempt, {"mail_server_id": self.id, "allow_archived": True})
        except Exception as exc:  # noqa: BLE001 - any failure is the check's answer, in words
            if mail_tls.is_tls_failure(exc):
                return attempt.failure_report(exc)
            return mail_tls.failed_report(*self._perimeter_endpoint()[:2], attempt.protocol,
                                         [("connect", mail_tls.cannot_connect(exc))], min_version=min_version)
        connection.quit()
        return attempt.mail_tls.report

    # --- connect() -----------------------------------------------------------------------------------------------

    def _perimeter_connect(self, host=None, port=None, user=None, password=None, encryption=None,  # noqa: PLR0917 - Odoo's
                smtp_from=None, ssl_certificate=None, ssl_private_key=None, smtp_debug=False, mail_server_id=None,
                allow_archived=False):
        kwargs = {
            "host": host, "port": port, "user": user, "password": password, "encryption": encryption,
            "smtp_from": smtp_from, "ssl_certificate": ssl_certificate, "ssl_private_key": ssl_private_key,
            "smtp_debug": smtp_debug, "mail_server_id": mail_server_id, "allow_archived": allow_archived,
        }
        # Odoo's test mode connects nowhere; neither do we.
        if in_odoo_test(self.env):
            return self._perimeter_super_connect(kwargs)
        policy, min_version = self._perimeter_mail_tls_settings()
        if policy == "off":
            return self._perimeter_super_connect(kwargs)
        server = self._perimeter_server_for(host, mail_server_id, smtp_from)
        cli_client_cert = (
            ssl_certificate or tools.config.get("smtp_ssl_certificate_filename"),
            ssl_private_key or tools.config.get("smtp_ssl_private_key_filename"),
        )
        attempt = _SmtpAttempt(policy, min_version, server, cli_client_cert)
        attempt.plain_encryption = _plain_encryption(server, encryption)
        try:
            connection = self._perimeter_connect_with(attempt, kwargs)
        except Exception as exc:
            if not mail_tls.is_tls_failure(exc):
                if attempt.mail_tls is not None and attempt.mail_tls.verified and server:
                    server._perimeter_record_connection(attempt.mail_tls.report, policy)  # TLS was fine; AUTH was not
                raise
            failure = exc
        else:
            if attempt.mail_tls is not None and attempt.mail_tls.plaintext and server:
                server._perimeter_record_connection(mail_tls.failed_report(
                    attempt.host, attempt.port, "plain", [("unencrypted", mail_tls.UNENCRYPTED)],
                    min_version=min_version), policy)
            elif attempt.mail_tls is not None and attempt.mail_tls.verified and server:
                server._perimeter_record_connection(attempt.mail_tls.report, policy)
            return connection
        report = attempt.failure_report(failure)
        if server:
            server._perimeter_record_connection(report, policy)
        if policy == "enforce":
            reason = self._perimeter_reason(attempt.host, attempt.port, report, policy)
            _LAST_REFUSAL.set((server.id or False, reason))
            raise MailTlsError(reason) from failure
        # warn: the channel could not be verified; connect as Odoo always did.
        return self._perimeter_super_connect(kwargs)

    def _perimeter_super_connect(self, kwargs):
        """Odoo's connect() (18) / _connect__() (19), not ours."""
        return getattr(super(), odoo_version.SMTP_CONNECT)(**kwargs)

    def _perimeter_connect_with(self, attempt, kwargs):
        """Odoo's connect() with ``attempt`` deciding how its SMTP client is secured."""
        with mail_connections.smtp_connections_verified_by(attempt):
            # Odoo's connect(), not ours: this method is the core of our override.
            connection = self._perimeter_super_connect(kwargs)
        if attempt.policy == "enforce" and (attempt.mail_tls is None or not attempt.mail_tls.verified):
            # Something skipped starttls(): never hand out an unverified session under enforce.
            if connection is not None:
                connection.close()
            raise mail_tls.MailTlsRefused.not_secured()
        return connection

    @api.model
    def _perimeter_server_for(self, host, mail_server_id, smtp_from):
        """The ir.mail_server record connect() will use (empty when it uses explicit or command-line settings)."""
        if mail_server_id:
            return self.sudo().browse(mail_server_id)
        if host:
            return self.sudo().browse()
        server, _smtp_from = self.sudo()._find_mail_server(smtp_from)
        return server or self.sudo().browse()

    # --- Test Connection -----------------------------------------------------------------------------------------

    def test_smtp_connection(self, autodetect_max_email_size=False):
        require_manager(self.env)
        # Odoo's contract, relied on by scripts and other modules: under off and warn this raises
        # UserError exactly when Odoo raises it (with the TLS facts added); only enforce refuses more.
        if in_odoo_test(self.env):
            return super().test_smtp_connection(autodetect_max_email_size)
        policy, _min_version = self._perimeter_mail_tls_settings()
        if policy == "off":
            return super().test_smtp_connection(autodetect_max_email_size)
        results, failed, refusal = self._perimeter_check_for_test(policy)
        if refusal:
            return refusal
        try:
            action = super().test_smtp_connection(autodetect_max_email_size)
        except UserError as exc:
            if not failed:
                raise
            tls = self._perimeter_notification(results)["params"]["message"]
            raise UserError(self.env._("%(odoo)s\n\n%(tls)s", odoo=exc.args[0], tls=tls)) from exc
        tls = self._perimeter_notification(results)["params"]
        params = action.get("params", {})
        if tls["type"] == "success":
            params["message"] = f"{params.get('message', '')}\n{tls['message']}".strip()
            return action
        # One outcome, not "Successful!" beside "failed": Odoo could connect, over a channel not verified.
        params.update(
            type=tls["type"], sticky=True, title=self.env._("Connected, but over an unverified channel"),
            message=self.env._(
                "%(tls)s\n\nOdoo could connect and log in (%(odoo)s), but the channel is not verified: under the "
                "Warn policy mail is sent through it all the same, under Enforce it would be refused.",
                tls=tls["message"], odoo=params.get("message", "").strip().rstrip("!."),
            ),
        )
        return action

    # --- refused mail --------------------------------------------------------------------------------------------

    def _perimeter_refused_mail_domain(self):
        # By record, not by host and port: after the server is fixed (another port, another
        # encryption) its refused mail is still its own, and another server on the same
        # host:port never gets it.
        return [
            ("state", "=", "exception"),
            ("perimeter_refused_by_id", "in", self._origin.ids),
        ]

    def action_perimeter_retry_refused(self):
        """Put the mail the TLS policy refused for these servers back in the queue, and wake the mail queue."""
        require_manager(self.env)
        mails = self.env["mail.mail"].sudo().search(self._perimeter_refused_mail_domain())
        mails.action_retry()
        cron = self.env.ref("mail.ir_cron_mail_scheduler_action", raise_if_not_found=False)
        if cron and mails:
            cron.sudo()._trigger()
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Refused mail"),
                "message": self.env._("%s refused mail(s) queued again.", len(mails)),
                "type": "success" if mails else "info",
                "sticky": False,
            },
        }

    @api.model
    def _perimeter_cron_check_mail_tls(self):
        """Daily TLS check of every outgoing and incoming mail server: one message for the whole run."""
        # A cron has no language of its own: its notice speaks the language of the user it runs as.
        servers = self.with_context(lang=self.env.user.lang) if not self.env.lang and self.env.user.lang else self
        policy, _min_version = servers._perimeter_mail_tls_settings()
        _results, outgoing = servers._perimeter_check_all()
        _results, incoming = servers.env["fetchmail.server"]._perimeter_check_all()
        servers._perimeter_notify(outgoing + incoming, policy)


# Odoo's connect() (18) is _connect__() on 19: the override is bound to the name this Odoo calls (defined
# under its own name so that 19 gets no new public, RPC-callable ``connect``).
odoo_version.bind_method(IrMailServer, odoo_version.SMTP_CONNECT, IrMailServer._perimeter_connect)
