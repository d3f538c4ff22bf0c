"""What an administrator is told while editing allowlist rules.

A network already in the allowlist is refused naming the rule that has it,
before PostgreSQL's unique constraint would (which leaves an SQL error in
the server log); a rule that is already expired when saved gets a warning;
the links a note holds (the access log rows a rule was admitted from) are
shown clickable under it, since a text field shows them as plain text.
"""

import re

from markupsafe import Markup

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..perimeter.networks import normalize_network

_URL = re.compile(r"https?://[^\s<>\"']+")


class PerimeterAllowlist(models.Model):
    _inherit = "perimeter.allowlist"

    note_links = fields.Html(string="Links", compute="_compute_note_links", sanitize=False,
                             help="The links of the note, clickable.")

    @api.depends("note")
    def _compute_note_links(self):
        for rule in self:
            urls = list(dict.fromkeys(_URL.findall(rule.note or "")))
            rule.note_links = Markup("<br/>").join(
                Markup('<a href="%s" target="_blank" rel="noopener">%s</a>') % (url, url) for url in urls
            ) if urls else False

    @api.model_create_multi
    def create(self, vals_list):
        self._perimeter_check_duplicates([vals.get("network") for vals in vals_list])
        return super().create(vals_list)

    def write(self, vals):
        if vals.get("network"):
            if len(self) > 1:
                raise ValidationError(self.env._("Each rule has its own network: change them one at a time."))
            self._perimeter_check_duplicates([vals["network"]])
        return super().write(vals)

    def _perimeter_check_duplicates(self, networks):
        seen = {}
        for raw in networks:
            try:
                network = normalize_network(raw or "")
            except ValueError:
                continue  # the network's own validation names the problem
            if network in seen:
                raise ValidationError(self.env._("%(network)s is entered twice.", network=network))
            seen[network] = True
            existing = self.with_context(active_test=False).search(
                [("network", "=", network), ("id", "not in", self.ids)], limit=1)
            if existing:
                raise ValidationError(self._perimeter_duplicate_message(network, existing))

    def _perimeter_duplicate_message(self, network, rule):
        if not rule.active:
            return self.env._(
                "%(network)s is already in the allowlist: rule \"%(rule)s\", archived. Restore that rule "
                "(filter Archived) instead of adding another.", network=network, rule=rule.name)
        if rule.is_expired:
            return self.env._(
                "%(network)s is already in the allowlist: rule \"%(rule)s\", expired. Change its expiry "
                "instead of adding another.", network=network, rule=rule.name)
        return self.env._("%(network)s is already in the allowlist: rule \"%(rule)s\".",
                          network=network, rule=rule.name)

    @api.onchange("expires_at")
    def _onchange_expires_at_warn_expired(self):
        if self.expires_at and self.expires_at <= fields.Datetime.now():
            return {"warning": {
                "title": self.env._("This rule is already expired"),
                "message": self.env._(
                    "The expiry date is in the past: saved like this, the rule does not count. "
                    "Clear the expiry date, or choose a later one."),
            }}
        return None
