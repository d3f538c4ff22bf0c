from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..guard import signaling


class PerimeterExpiringRule(models.AbstractModel):
    """What the allowlist and the blocklist share: a network rule that may expire, part of the policy."""

    _name = "perimeter.expiring.rule"
    _description = "Perimeter rule with an expiry"

    expires_at = fields.Datetime(string="Expires")
    is_expired = fields.Boolean(string="Expired", compute="_compute_is_expired", search="_search_is_expired")

    def init(self):
        result = super().init()
        # Whatever writes rules or perimeter parameters (a request, cron, odoo shell, psql), PostgreSQL
        # tells every Odoo process to drop its copy of the policy when that transaction commits.
        signaling.install(self.env.cr)
        return result

    @api.depends("expires_at")
    def _compute_is_expired(self):
        now = fields.Datetime.now()
        for rule in self:
            rule.is_expired = bool(rule.expires_at and rule.expires_at <= now)

    def _search_is_expired(self, operator, value):
        if operator not in ("=", "!="):
            raise ValidationError(self.env._("Unsupported search on Expired: %s", operator))
        now = fields.Datetime.now()
        if (operator == "=") == bool(value):
            return [("expires_at", "<=", now)]
        return ["|", ("expires_at", "=", False), ("expires_at", ">", now)]
