"""The perimeter settings in force, readable by auditors.

Settings live in ``ir.config_parameter``, which only Settings administrators
may read, and the Settings screen is theirs alone. This read-only model is a
SQL view over the settings table (``perimeter/settings.py``) joined to the
stored parameters, so an auditor sees every setting, its value and whether it
is the default, without any access to other parameters.
"""

from odoo import api, fields, models
from odoo.tools import SQL

from ..guard import wording
from ..perimeter import settings


def setting_label(env, key):
    """The label of parameter ``key`` in ``env``'s language, from the settings table (the key itself if unknown)."""
    setting = settings.KEYS.get(key)
    return wording.word(env, setting.label) if setting is not None else key


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
