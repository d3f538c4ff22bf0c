from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import config
from odoo.tools.config import crypt_context

from ..guard import server_config
from ..perimeter import posture

_RANKS = {severity: rank for rank, severity in enumerate(posture.SEVERITIES)}
PROXY_PEERS_DAYS = 7  # how far back the access log is read for peers sending proxy headers untrusted


class PerimeterPostureFinding(models.Model):
    """Something this Odoo server exposes or allows that weakens the perimeter, and how to fix it.

    A review (the menu, the "Review now" button, a daily cron) replaces the
    findings of the server that ran it: ports and configuration files belong
    to one machine, while several Odoo servers may share the database.
    """

    _name = "perimeter.posture.finding"
    _description = "Perimeter Posture Finding"
    _order = "severity_rank, category, key"

    name = fields.Char(string="Finding", required=True, readonly=True)
    key = fields.Char(required=True, readonly=True, index=True,
                      help="What the finding is about; a new review updates the finding with the same key.")
    category = fields.Selection(list(posture.CATEGORIES.items()), required=True, readonly=True)
    severity = fields.Selection(list(posture.SEVERITIES.items()), required=True, readonly=True)
    severity_rank = fields.Integer(compute="_compute_severity_rank", store=True,
                                   help="Worst first: 0 is critical.")
    detail = fields.Text(readonly=True)
    fix = fields.Text(string="How to fix", readonly=True)
    host = fields.Char(string="Server", required=True, readonly=True, index=True,
                       help="The machine whose ports and configuration were reviewed.")
    first_seen = fields.Datetime(readonly=True)
    last_seen = fields.Datetime(string="Last reviewed", readonly=True)

    _sql_constraints = [
        ("key_host_unique", "unique(key, host)", "One finding per subject and server."),
    ]

    @api.depends("severity")
    def _compute_severity_rank(self):
        for finding in self:
            finding.severity_rank = _RANKS.get(finding.severity, len(_RANKS))

    @api.model
    def _perimeter_review(self):
        """Review this server now and store its findings; return them."""
        findings = posture.review(
            config.options,
            self.env["ir.config_parameter"]._perimeter_settings(),
            posture.listening_sockets(),
            base_url=self.env["ir.config_parameter"].sudo().get_param("web.base.url") or "",
            break_glass=server_config.break_glass(),
            master_password_is=_master_password_is,
            proxy_peers=self._perimeter_proxy_peers(),
            allowlist=self.env["perimeter.allowlist"]._read_rules_in_force()[0],
            server_section=server_config.options(),
        )
        return self._perimeter_store(findings, posture.local_hostname())

    @api.model
    def _perimeter_proxy_peers(self):
        """``{peer: requests}`` of the peers the access log saw sending proxy headers untrusted, lately.

        The access log records them under the reason ``untrusted_proxy_headers``
        even when they are let through (an allowlisted peer): the one place
        where that fact is kept.
        """
        since = fields.Datetime.now() - timedelta(days=PROXY_PEERS_DAYS)
        groups = self.env["perimeter.access.log"].sudo()._read_group(
            [("reason", "=", "untrusted_proxy_headers"), ("last_seen", ">=", since)], ["ip"], ["hits:sum"])
        return dict(groups)

    @api.model
    def _perimeter_store(self, findings, host):
        """Replace ``host``'s findings with ``findings``: update the known, add the new, drop the fixed."""
        Findings = self.sudo()
        now = fields.Datetime.now()
        known = {f.key: f for f in Findings.search([("host", "=", host)])}
        kept = Findings
        for finding in findings:
            vals = {"name": finding.title, "category": finding.category, "severity": finding.severity,
                    "detail": finding.detail, "fix": finding.fix, "last_seen": now}
            record = known.pop(finding.key, None)
            if record:
                record.write(vals)
            else:
                record = Findings.create({**vals, "key": finding.key, "host": host, "first_seen": now})
            kept |= record
        Findings.concat(*known.values()).unlink()
        return kept

    def action_review(self):
        """Review this server and show the findings (the menu, and "Review now", whatever is selected)."""
        self._perimeter_review()
        action = self.env["ir.actions.act_window"]._for_xml_id("perimeter_security.perimeter_posture_action")
        action["target"] = "main"
        return action

    @api.model
    def _cron_review(self):
        self._perimeter_review()


def _master_password_is(word):
    """Whether the master password is ``word``; never rewrites the stored value as Odoo's check does."""
    stored = config.get("admin_passwd") or ""
    try:
        return bool(stored) and crypt_context.verify(word, stored)
    except ValueError:  # not a hash passlib knows: compare as text
        return stored == word
