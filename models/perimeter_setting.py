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


def setting_value_text(env, key, text):
    """Stored text ``text`` of parameter ``key`` as the Settings screen shows it, in ``env``'s language.

    A choice is worded by its label on the screen ("Enforce", "TLS 1.2"), a
    flag by Yes or No; any other text (numbers, networks, paths) is shown as stored.
    """
    setting = settings.KEYS.get(key)
    if setting is None or not isinstance(text, str):
        return text
    field = env["res.config.settings"]._fields.get(f"perimeter_{setting.name}")
    if field is None:
        return text
    if field.type == "selection":
        return dict(field._description_selection(env)).get(text.strip(), text)
    if field.type == "boolean":
        try:
            value = setting.parse(text)
        except ValueError:
            return text
        return yes_no(env, value)
    return text


def yes_no(env, value):
    """A flag in words, in ``env``'s language."""
    return env._("Yes") if value else env._("No")


class PerimeterSetting(models.Model):
    _name = "perimeter.setting"
    _description = "Perimeter Setting"
    _auto = False
    _order = "sequence"
    _depends = {"ir.config_parameter": ["key", "value"]}

    sequence = fields.Integer(readonly=True)
    key = fields.Char(string="Parameter", readonly=True)
    name = fields.Char(string="Setting", compute="_compute_name")
    value = fields.Text(string="Stored value in force", readonly=True)
    default_value = fields.Text(string="Stored default", readonly=True)
    is_default = fields.Boolean(string="Left at default", readonly=True)
    # The values as the Settings screen words them, in the reader's language.
    value_text = fields.Text(string="Value in force", compute="_compute_value_texts")
    default_text = fields.Text(string="Default", compute="_compute_value_texts")

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

    @api.depends("key", "value", "default_value")
    @api.depends_context("lang")
    def _compute_value_texts(self):
        for setting in self:
            setting.value_text = setting_value_text(self.env, setting.key, setting.value)
            setting.default_text = setting_value_text(self.env, setting.key, setting.default_value)
