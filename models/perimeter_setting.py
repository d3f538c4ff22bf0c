"""The perimeter settings in force, readable by auditors.

Settings live in ``ir.config_parameter``, which only Settings administrators
may read, and the Settings screen is theirs alone. This read-only model is a
SQL view over the settings table (``perimeter/settings.py``) joined to the
stored parameters, so an auditor sees every setting, its value and whether it
is the default, without any access to other parameters.
"""

from odoo import api, fields, models
from odoo.tools import SQL
from odoo.tools.translate import LazyTranslate

from ..guard import wording
from ..perimeter import settings

_lt = LazyTranslate(__name__)

# What an administrator reads for each setting where it differs from the engine's label (a Text).
LABELS = {
    "mode": _lt("Enforcement mode"),
    "trusted_proxies": _lt("Trusted proxies"),
    "allow_loopback": _lt("Allow loopback"),
    "exempt_paths": _lt("Exempt paths"),
    "require_https": _lt("Require HTTPS"),
    "hsts_max_age": _lt("HSTS max-age (seconds)"),
    "log_retention_days": _lt("Access log retention (days)"),
    "mail_tls_policy": _lt("Mail TLS policy"),
    "mail_tls_min_version": _lt("Minimum mail TLS version"),
    "alert_threshold": _lt("Alert threshold (refused requests, 0 = off)"),
    "alert_window_minutes": _lt("Alert window (minutes)"),
}


def setting_label(env, key):
    """The label of parameter ``key`` in ``env``'s language (the key itself for settings added later)."""
    setting = settings.KEYS.get(key)
    if setting is None:
        return key
    label = LABELS.get(setting.name)
    return env._(label) if label is not None else wording.word(env, setting.label)


class PerimeterSetting(models.Model):
    _name = "perimeter.setting"
    _description = "Perimeter Setting"
    _auto = False
    _order = "sequence"
    _depends = {"ir.config_parameter": ["key", "value"]}

    sequence = fields.Integer(readonly=True)
    key = fields.Char(string="Parameter", readonly=True)
    name = fields.Char(string="Setting", compute="_compute_name")
    value = fields.Text(string="Value in force", readonly=True)
    default_value = fields.Text(string="Default", readonly=True)
    is_default = fields.Boolean(string="Default value", readonly=True)

    @property
    def _table_query(self):
        rows = SQL(", ").join(
            SQL("(%s, %s, %s)", sequence, setting.key, setting.default)
            for sequence, setting in enumerate(settings.SETTINGS.values(), start=1)
        )
        return SQL(
            """SELECT s.sequence AS id, s.sequence, s.key,
                      COALESCE(p.value, s.default_value) AS value, s.default_value,
                      (p.value IS NULL OR p.value = s.default_value) AS is_default
                 FROM (VALUES %s) AS s(sequence, key, default_value)
            LEFT JOIN ir_config_parameter p ON p.key = s.key""",
            rows,
        )

    @api.depends("key")
    def _compute_name(self):
        for setting in self:
            setting.name = setting_label(self.env, setting.key)
