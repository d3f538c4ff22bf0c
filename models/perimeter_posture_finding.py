"""``perimeter.posture.finding``: what this Odoo server exposes or allows that weakens the perimeter.

The review (ports, the configuration file, the settings, the access log's
proxy peers) and its findings, stored as facts and worded for each reader;
the role check of the action that runs a review.
"""

from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL, config
from odoo.tools.sql import column_exists

from ..guard import odoo_version, server_config
from ..guard.master_password import master_password_is
from ..guard.wording import word_stored
from ..perimeter import posture
from ..perimeter.wording import to_json
from .roles import require_manager

_RANKS = {severity: rank for rank, severity in enumerate(posture.SEVERITIES)}
PROXY_PEERS_DAYS = 7  # how far back the access log is read for peers sending proxy headers untrusted


@odoo_version.sql_constraints(
    ("key_host_unique", "unique(key, host)", "One finding per subject and server."),
)
class PerimeterPostureFinding(models.Model):
    """Something this Odoo server exposes or allows that weakens the perimeter, and how to fix it.

    A review (the menu, the "Review now" button, a daily cron) replaces the
    findings of the server that ran it: ports and configuration files belong
    to one machine, while several Odoo servers may share the database.

    A review stores each sentence as its facts (``*_facts``: the engine's
    English template and what fills it, see ``perimeter/wording.py``), not as
    words: the daily cron runs in English, and each reader sees ``name``,
    ``detail`` and ``fix`` worded in their own language when they read them.
    """

    _name = "perimeter.posture.finding"
    _description = "Perimeter Posture Finding"
    _order = "severity_rank, category, key"

    # Worded for the reader, never stored. Searchable (the search view searches the name) through
    # _search_worded, which matches what the reader sees: a French reader searches the French words.
    name = fields.Char(string="Finding", readonly=True, compute="_compute_worded", search="_search_name")
    key = fields.Char(required=True, readonly=True, index=True,
                      help="What the finding is about; a new review updates the finding with the same key.")
    category = fields.Selection(list(posture.CATEGORIES.items()), required=True, readonly=True)
    severity = fields.Selection(list(posture.SEVERITIES.items()), required=True, readonly=True)
    severity_rank = fields.Integer(compute="_compute_severity_rank", store=True,
                                   help="Worst first: 0 is critical.")
    detail = fields.Text(readonly=True, compute="_compute_worded", search="_search_detail")
    fix = fields.Text(string="How to fix", readonly=True, compute="_compute_worded", search="_search_fix")
    # Not required: a table from before these columns gets them empty, then filled by init().
    name_facts = fields.Text(readonly=True,
                             help="The finding's title as the engine's facts (JSON), worded in each reader's language.")
    detail_facts = fields.Text(readonly=True, help="What was found, as the engine's facts (JSON).")
    fix_facts = fields.Text(readonly=True, help="How to fix it, as the engine's facts (JSON).")
    host = fields.Char(string="Server", required=True, readonly=True, index=True,
                       help="The machine whose ports and configuration were reviewed.")
    # Findings of the demo data (another, fictitious server): never replaced by a review.
    is_example = fields.Boolean(string="Example", readonly=True,
                                help="An example from the demo data, of a fictitious server.")
    is_this_server = fields.Boolean(string="This server", compute="_compute_is_this_server",
                                    search="_search_is_this_server",
                                    help="Found by a review of the server showing this page.")
    first_seen = fields.Datetime(readonly=True)
    last_seen = fields.Datetime(string="Last reviewed", readonly=True)

    @api.depends("severity")
    def _compute_severity_rank(self):
        for finding in self:
            finding.severity_rank = _RANKS.get(finding.severity, len(_RANKS))

    @api.depends("host")
    def _compute_is_this_server(self):
        host = posture.local_hostname()
        for finding in self:
            finding.is_this_server = finding.host == host

    def _search_is_this_server(self, operator, value):
        if operator not in ("=", "!=") or not isinstance(value, bool):
            raise NotImplementedError(operator)
        return [("host", "=" if (operator == "=") == value else "!=", posture.local_hostname())]

    @api.depends("name_facts", "detail_facts", "fix_facts")
    @api.depends_context("lang")
    def _compute_worded(self):
        for finding in self:
            finding.name = word_stored(self.env, finding.name_facts) or False
            finding.detail = word_stored(self.env, finding.detail_facts) or False
            finding.fix = word_stored(self.env, finding.fix_facts) or False

    def _search_worded(self, field, operator, value):
        """Findings whose ``field`` matches as worded for the reader (``ilike`` ignores case, as in SQL).

        Every finding is read and worded: a review keeps a few dozen per server, so this stays small.
        """
        # Each finding must be worded to be compared: all of them, on purpose.
        every = self.search([])  # pylint: disable=no-search-all
        matching = every.filtered_domain([(field, operator, value)])
        return [("id", "in", matching.ids)]

    def _search_name(self, operator, value):
        return self._search_worded("name", operator, value)

    def _search_detail(self, operator, value):
        return self._search_worded("detail", operator, value)

    def _search_fix(self, operator, value):
        return self._search_worded("fix", operator, value)

    def init(self):
        """Findings stored as English words (before their facts were kept) keep showing, as they were.

        Such a row's ``name``/``detail``/``fix`` columns stay in the table; their text becomes the facts
        (a JSON string: :func:`perimeter.wording.from_json` gives it back as it is), until the next review
        of its server replaces it.
        """
        cr = self.env.cr
        for field in ("name", "detail", "fix"):
            if column_exists(cr, self._table, field):
                cr.execute(SQL("UPDATE %(table)s SET %(facts)s = to_jsonb(%(words)s)::text "
                               "WHERE %(facts)s IS NULL AND %(words)s IS NOT NULL",
                               table=SQL.identifier(self._table), facts=SQL.identifier(f"{field}_facts"),
                               words=SQL.identifier(field)))

    @api.model
    def _perimeter_review(self):
        """Review this server now and store its findings; return them."""
        findings = posture.review(
            config.options,
            self.env["ir.config_parameter"]._perimeter_settings(),
            posture.listening_sockets(),
            base_url=self.env["ir.config_parameter"].sudo().get_param("web.base.url") or "",
            break_glass=server_config.break_glass(),
            master_password_is=master_password_is,
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
        known = {f.key: f for f in Findings.search([("host", "=", host), ("is_example", "=", False)])}
        kept = Findings
        for finding in findings:
            vals = {"name_facts": to_json(finding.title), "category": finding.category,
                    "severity": finding.severity, "detail_facts": to_json(finding.detail),
                    "fix_facts": to_json(finding.fix), "last_seen": now}
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
        require_manager(self.env)
        self._perimeter_review()
        action = self.env["ir.actions.act_window"]._for_xml_id("perimeter_security.perimeter_posture_action")
        action["target"] = "main"
        return action

    @api.model
    def _cron_review(self):
        self._perimeter_review()
