"""``perimeter.mail.tls.mixin``: what outgoing (``ir.mail_server``) and incoming (``fetchmail.server``) mail
servers share about TLS.

The trust settings (CA bundle, pinned fingerprint), the fields of the last
check, checking (**Check TLS**, the checks that start Test Connection and Test
& Confirm, the daily check), storing what was seen, and telling the
administrators (a failing check, an expiring certificate). Each model says
what to check (``_perimeter_tls_target``) and how it connects; ``MailTlsError``
is the refusal both raise.
"""

import dataclasses

from markupsafe import Markup, escape

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError
from odoo.tools.sql import column_exists, rename_column

from ..guard.wording import message_of, word, word_stored
from ..perimeter import mail_tls, tls_contexts, tls_report, tlscheck
from ..perimeter.certinfo import format_fingerprint, normalize_pin, utcnow
from ..perimeter.wording import Text, from_json, to_json
from .admin_notice import administrators_language, post_to_administrators

# One check must not hold a cron worker or a user's request for long; each model
# uses the timeout of its own connections instead when it has one.
PROBE_TIMEOUT = 10.0
PROBE_WORKERS = 8
TLS_STATES = [("unknown", "Not checked"), ("ok", "Verified"), ("warning", "Warning"), ("failed", "Failed")]
_NOTIFICATION_TYPES = {"ok": "success", "warning": "warning", "failed": "danger"}


class MailTlsError(UserError):
    """A mail connection the mail TLS policy refused; the message is the failure reason.

    A ``UserError`` so that a refused send shows as a clear dialog, never as a
    traceback; ``mail.mail`` stores the message as the failure reason.
    """


@dataclasses.dataclass(frozen=True)
class CheckTarget:
    """What a TLS check of one server must look at.

    ``notes`` are ``(key, message)`` problems known without looking (a
    policy that refuses clear text); ``connect=False`` judges on them alone,
    without opening a socket.
    """

    host: str
    port: int
    protocol: str
    notes: tuple = ()
    connect: bool = True


class PerimeterMailTlsMixin(models.AbstractModel):
    """TLS trust settings, last check and notifications shared by outgoing and incoming mail servers."""

    _name = "perimeter.mail.tls.mixin"
    _description = "Mail server TLS verification"

    perimeter_ca_bundle = fields.Text(
        string="CA bundle",
        help="PEM certificates (-----BEGIN CERTIFICATE-----) trusted for this server in addition to the "
        "system's certificate authorities: your private CA, or the intermediate that issued the server's "
        "certificate.",
    )
    perimeter_pinned_sha256 = fields.Char(
        string="Pinned SHA-256 fingerprint",
        help="Optional. The server's certificate must have exactly this SHA-256 fingerprint (as printed by "
        "openssl x509 -noout -fingerprint -sha256; colons optional). A pin is a trust anchor of its own: "
        "a self-signed certificate is accepted when pinned, if its name and dates are right.",
    )
    perimeter_tls_state = fields.Selection(
        # Not required: a NOT NULL column on Odoo's own table would break whatever creates mail servers
        # before this module is loaded (other modules' data and install tests). The default is enough.
        TLS_STATES, string="TLS", default="unknown", readonly=True, copy=False,
        help="Verified: the last check saw a trusted certificate for this host. Warning: verified, but "
        "something needs attention soon (an expiring certificate). Failed: no trustworthy TLS channel.",
    )
    # What the last check saw, as facts (perimeter.wording.to_json); perimeter_tls_details words them for the
    # reader. Not searchable: nothing searches the details (the state and the dates are their own fields).
    perimeter_tls_facts = fields.Text(string="TLS details (stored facts)", readonly=True, copy=False)
    perimeter_tls_details = fields.Text(
        string="TLS details", readonly=True, copy=False,
        compute="_compute_perimeter_tls_details", inverse="_inverse_perimeter_tls_details")
    perimeter_cert_expires_at = fields.Datetime(string="Certificate expires", readonly=True, copy=False)
    perimeter_cert_sha256 = fields.Char(
        string="Certificate SHA-256", readonly=True, copy=False,
        help="Fingerprint of the certificate seen by the last check: what to pin.",
    )
    perimeter_last_check = fields.Datetime(string="Last TLS check", readonly=True, copy=False)
    # Smallest expiry notice (30, 14, 7, 1 days) already sent for the current certificate.
    perimeter_expiry_notice_days = fields.Integer(readonly=True, copy=False)

    def _auto_init(self):
        # The details used to be stored, in English, in perimeter_tls_details itself: keep them as the facts
        # (plain text reads back as it was).
        if self._auto and column_exists(self.env.cr, self._table, "perimeter_tls_details") and not column_exists(
                self.env.cr, self._table, "perimeter_tls_facts"):
            rename_column(self.env.cr, self._table, "perimeter_tls_details", "perimeter_tls_facts")
        return super()._auto_init()

    @api.depends("perimeter_tls_facts")
    @api.depends_context("lang")
    def _compute_perimeter_tls_details(self):
        for server in self:
            server.perimeter_tls_details = word_stored(self.env, server.perimeter_tls_facts) or False

    def _inverse_perimeter_tls_details(self):
        # Written by hand or by a script: stored as it was given.
        for server in self:
            server.perimeter_tls_facts = to_json(server.perimeter_tls_details) if server.perimeter_tls_details \
                else False

    def _perimeter_tls_details_text(self):
        """The stored details as the engine wrote them (a ``Text``, or plain English from before)."""
        self.ensure_one()
        return from_json(self.perimeter_tls_facts) or ""

    # --- settings and validation ---------------------------------------------------------------------------------

    @api.model
    def _perimeter_mail_tls_settings(self):
        values = self.env["ir.config_parameter"]._perimeter_settings()
        return values["mail_tls_policy"], values["mail_tls_min_version"]

    def _perimeter_clean_vals(self, vals):
        if "perimeter_pinned_sha256" not in vals:
            return vals
        raw = vals["perimeter_pinned_sha256"]
        if not raw or not str(raw).strip():
            return dict(vals, perimeter_pinned_sha256=False)
        try:
            pin = format_fingerprint(normalize_pin(str(raw)))
        except ValueError as exc:
            raise ValidationError(self.env._("Pinned SHA-256 fingerprint: %s", message_of(self.env, exc))) from None
        return dict(vals, perimeter_pinned_sha256=pin)

    @api.model_create_multi
    def create(self, vals_list):
        return super().create([self._perimeter_clean_vals(vals) for vals in vals_list])

    def write(self, vals):
        return super().write(self._perimeter_clean_vals(vals))

    @api.constrains("perimeter_ca_bundle")
    def _check_perimeter_ca_bundle(self):
        for server in self:
            if server.perimeter_ca_bundle and server.perimeter_ca_bundle.strip():
                try:
                    tls_contexts.build_client_context(ca_bundle_pem=server.perimeter_ca_bundle)
                except ValueError as exc:
                    raise ValidationError(self.env._(
                        "CA bundle of %(server)s: %(error)s", server=server.display_name,
                        error=message_of(self.env, exc))) from None

    # --- what to check: each model says ---------------------------------------------------------------------------

    def _perimeter_kind(self):
        """"Outgoing mail server", "Incoming mail server": how notifications name the record."""
        return self._description

    def _perimeter_tls_target(self, policy):
        """A :class:`CheckTarget`, or a sentence (a ``Text``, stored as the details) saying why there is nothing
        to check."""
        raise NotImplementedError

    def _perimeter_refusal_consequence(self, policy):
        """What a failing check means for mail, in one sentence, for the notification (in ``self.env``'s
        language)."""
        return ""

    def _perimeter_is_outgoing(self):
        """Outgoing servers send (and retry) mail; incoming ones fetch it: reasons and advice differ."""
        return True

    def _perimeter_connection_timeout(self):
        """Seconds a check may take: the same as the connections it checks (Odoo's tests shorten them)."""
        return PROBE_TIMEOUT

    def _perimeter_reason(self, host, port, report, policy):
        """The refusal's sentence, worded now in ``self.env``'s language: what failed, the consequence, and advice
        fitting the cause. It starts with "Mail TLS (<policy>): " in every language (mail_tls.REASON_PREFIX)."""
        return word(self.env, mail_tls.failure_reason(
            host, port, Text.join(report.errors, "; "), policy, report.error_keys,
            outgoing=self._perimeter_is_outgoing(), min_version=report.min_version))

    # --- checking -------------------------------------------------------------------------------------------------

    def _perimeter_probe_options(self, min_version):
        return {
            "min_version": min_version,
            "ca_bundle_pem": self.perimeter_ca_bundle or None,
            "pinned_sha256": self.perimeter_pinned_sha256 or None,
            "timeout": self._perimeter_connection_timeout(),
        }

    def _perimeter_collect_reports(self, policy, min_version):
        """``{server: TlsReport or sentence}``: every probe of ``self`` run at once."""
        results, probes = {}, []
        for server in self:
            target = server._perimeter_tls_target(policy)
            if isinstance(target, str):
                results[server] = target
            elif not target.connect:
                results[server] = mail_tls.failed_report(target.host, target.port, target.protocol, target.notes,
                                                        min_version=min_version)
            else:
                probes.append((server, target))
        reports = tlscheck.probe_many(
            [dict(host=t.host, port=t.port, protocol=t.protocol, **s._perimeter_probe_options(min_version))
             for s, t in probes],
            max_workers=PROBE_WORKERS,
        )
        for (server, target), report in zip(probes, reports, strict=True):
            if target.notes:
                for key, message in target.notes:
                    report.add_error(key, message)
                report.settle()
            results[server] = report
        return results

    def _perimeter_failure_report(self, host, port, protocol, min_version, *, failure, policy):
        """A failed ``TlsReport`` for a connection to ``host:port`` that ``failure`` refused.

        ``self`` is the server record (empty for settings given by hand or on
        the command line). Our own refusals already say it all; a TLS error
        is probed for the facts (expired on which day, issued for which
        names), unless ``warn`` already knows this server fails.
        """
        key, problem = mail_tls.failure_of(failure, host, min_version)
        quick = mail_tls.failed_report(host, port, protocol, [(key, problem)], min_version=min_version)
        if isinstance(failure, mail_tls.MailTlsRefused | tls_report.TlsVerificationError) or host is None:
            return quick
        if policy == "warn" and self.perimeter_tls_state == "failed":
            return quick  # already known; the daily check refreshes the facts
        report = tlscheck.probe(host, int(port), protocol, **self._perimeter_probe_options(min_version))
        return report if report.state == "failed" else quick

    def _perimeter_check_now(self):
        """Check every server of ``self`` for real, store what was seen, notify; return the results."""
        policy, _min_version = self._perimeter_mail_tls_settings()
        results, events = self._perimeter_check_and_store()
        self._perimeter_notify(events, policy)
        return results

    def _perimeter_check_and_store(self):
        """Check every server of ``self`` and store what was seen: ``(results, events to notify)``."""
        policy, min_version = self._perimeter_mail_tls_settings()
        results = self._perimeter_collect_reports(policy, min_version)
        events = []
        for server, result in results.items():
            if isinstance(result, str):
                server.sudo().write({
                    "perimeter_tls_state": "unknown",
                    "perimeter_tls_facts": to_json(result),
                    "perimeter_last_check": utcnow(),
                })
                server._perimeter_sync_systems()
            else:
                events += server._perimeter_store_report(result)
        return results, events

    def _perimeter_check_for_test(self, policy):
        """Check TLS as a connection test (Test Connection, Test & Confirm) starts: ``(results, failed, refusal)``.

        Under ``enforce`` a failing server is not tested any further: ``refusal``
        is then the notification to answer with, else None.
        """
        results = self._perimeter_check_now()
        failed = [server for server, result in results.items()
                  if not isinstance(result, str) and result.state == "failed"]
        refusal = None
        if failed and policy == "enforce":
            refusal = self._perimeter_notification(
                results, title=self.env._("Connection Test Failed"), force_type="danger")
        return results, failed, refusal

    def action_perimeter_check(self):
        """Check TLS now (the **Check TLS** button): fill the TLS fields and say what was seen."""
        results = self._perimeter_check_now()
        return self._perimeter_notification(results)

    @api.model
    def _perimeter_blocked_under_enforce(self):
        """One line per active mail server (outgoing and incoming) whose mail ``enforce`` would refuse:
        its last check failed, or it is set up without any encryption. In ``self.env``'s language."""
        lines = []
        for model in ("ir.mail_server", "fetchmail.server"):
            Servers = self.env[model].sudo()
            for server in Servers._perimeter_servers_to_check():
                target = server._perimeter_tls_target("enforce")
                refused_unseen = not isinstance(target, str) and not target.connect  # clear text, refused unopened
                if server.perimeter_tls_state == "failed" or refused_unseen:
                    why = tls_report.first_error(server._perimeter_tls_details_text())
                    if refused_unseen and not why:
                        why = target.notes[0][1]
                    why = word(self.env, why)
                    lines.append(f"{server._perimeter_kind()} {server.display_name}" + (f": {why}" if why else ""))
        return lines

    @api.model
    def _perimeter_servers_to_check(self):
        """The servers the daily check looks at."""
        return self.search([("active", "=", True)])

    @api.model
    def _perimeter_check_all(self):
        """Daily: re-check every active server without notifying: ``(results, events)``, empty when off."""
        policy, _min_version = self._perimeter_mail_tls_settings()
        if policy == "off":
            return {}, []
        return self._perimeter_servers_to_check()._perimeter_check_and_store()

    def _perimeter_notification(self, results, title=None, prefix=None, force_type=None):
        """A ``display_notification`` action summing up ``results`` (and reloading the form), in ``self.env``'s
        language."""
        lines, worst = [], "ok"
        order = ["ok", "warning", "failed"]
        for server, result in results.items():
            text = word(self.env, result if isinstance(result, str) else mail_tls.summary(result))
            if not isinstance(result, str) and result.state == "failed":
                # What to do, chosen by the cause, as in refused mail's reason.
                text += ". " + word(self.env, mail_tls.advice(
                    result.error_keys, outgoing=server._perimeter_is_outgoing(), min_version=result.min_version))
            state = "warning" if isinstance(result, str) else result.state
            worst = max(worst, state, key=order.index)
            lines.append(text if len(results) == 1 else f"{server.display_name}: {text}")
        if prefix:
            lines.insert(0, prefix)
        notification_type = force_type or _NOTIFICATION_TYPES[worst]
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": title or self.env._("TLS check"),
                "message": "\n".join(lines),
                "type": notification_type,
                "sticky": notification_type != "success",
                "next": {"type": "ir.actions.act_window_close"},  # reloads the form, as Test Connection does
            },
        }

    # --- storing, and telling administrators ----------------------------------------------------------------------

    def _perimeter_store_report(self, report):
        """Write what ``report`` saw on this server; return the events worth a notification."""
        self.ensure_one()
        fingerprint = format_fingerprint(report.fingerprint_sha256) if report.fingerprint_sha256 else False
        vals = {
            "perimeter_tls_state": report.state,
            "perimeter_tls_facts": to_json(report.details_text()),
            "perimeter_cert_expires_at": report.not_after or False,
            "perimeter_last_check": report.checked_at,
        }
        events = []
        if mail_tls.starts_failing(self.perimeter_tls_state, report.state):
            events.append(("failing", self, report))
        if fingerprint:
            # A new certificate starts its own series of expiry notices.
            notice = self.perimeter_expiry_notice_days if fingerprint == self.perimeter_cert_sha256 else 0
            if report.state != "failed" and report.not_after is not None:
                days_left = (report.not_after - report.checked_at).total_seconds() / 86400
                due = mail_tls.expiry_notice_due(days_left, notice)
                if due:
                    events.append(("expiring", self, report))
                    notice = due
            vals.update(perimeter_cert_sha256=fingerprint, perimeter_expiry_notice_days=notice)
        self.sudo().write(vals)
        self._perimeter_sync_systems()
        return events

    def _perimeter_sync_systems(self):
        """The dashboard's systems discovered from these servers show their latest TLS check."""
        self.env["perimeter.connected.system"].sudo()._sync_from_mail_servers(self)

    def _perimeter_record_connection(self, report, policy):
        """Store what a real connection saw, only when it changes the picture (no write per mail batch)."""
        self.ensure_one()
        fingerprint = format_fingerprint(report.fingerprint_sha256) if report.fingerprint_sha256 else False
        if report.state == self.perimeter_tls_state and fingerprint in (False, self.perimeter_cert_sha256):
            return
        self._perimeter_notify(self._perimeter_store_report(report), policy)

    def _perimeter_event_text(self, kind, server, report, policy):
        """One event for the administrators, worded now in ``self.env``'s language."""
        link = server._get_html_link(title=server.display_name)
        label = escape(server._perimeter_kind())
        if kind == "failing":
            consequence = server._perimeter_refusal_consequence(policy)
            what_to_do = word(self.env, mail_tls.advice(report.error_keys, outgoing=server._perimeter_is_outgoing(),
                                                       min_version=report.min_version))
            return Markup(self.env._(
                "%(kind)s %(server)s: the TLS check now fails: %(errors)s. %(consequence)s %(advice)s")) % {
                "kind": label, "server": link, "errors": word(self.env, Text.join(report.errors, "; ")),
                "consequence": consequence, "advice": what_to_do}
        return Markup(self.env._(
            "%(kind)s %(server)s: its TLS certificate expires %(when)s, on %(date)s (UTC). Renew it before then.")) % {
            "kind": label, "server": link, "when": word(self.env, mail_tls.expiry_words(report.not_after,
                                                                                      report.checked_at)),
            "date": report.not_after.strftime("%Y-%m-%d %H:%M")}

    @api.model
    def _perimeter_notify(self, events, policy):
        """One message to the administrators for these events (the #Administrators channel, as Odoo's
        own cron failures do; the admins' inboxes when that channel is gone)."""
        if not events:
            return
        lang = administrators_language(self.env)  # theirs, not the language of whoever ran the check
        theirs = self.with_context(lang=lang)
        texts = [theirs._perimeter_event_text(kind, server.with_context(lang=lang), report, policy)
                 for kind, server, report in events]
        body = texts[0] if len(texts) == 1 else Markup("<ul>%s</ul>") % Markup().join(
            Markup("<li>%s</li>") % text for text in texts)
        post_to_administrators(self.env, body, theirs.env._("Mail server TLS"))
