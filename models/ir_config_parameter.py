from odoo import api, models
from odoo.exceptions import ValidationError

from ..guard import wording
from ..perimeter import settings


class IrConfigParameter(models.Model):
    """Validate perimeter_security.* parameters however they are written.

    Scripts set them through XML-RPC or ``odoo shell`` as often as through the
    settings screen; a typo there must be refused, not silently ignored.
    """

    _inherit = "ir.config_parameter"

    @api.model
    def _perimeter_canonical(self, key, value):
        setting = settings.KEYS.get(key)
        if setting is None or value is False or value is None:
            return value
        try:
            return settings.canonical_text(setting.name, str(value))
        except ValueError as exc:
            raise ValidationError(wording.message_of(self.env, exc)) from None

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if "value" in vals:
                vals["value"] = self._perimeter_canonical(vals.get("key"), vals["value"])
        return super().create(vals_list)

    def write(self, vals):
        if "value" in vals or "key" in vals:
            if len(self) > 1:
                # Each key has its own canonical form: validate them one by one.
                for param in self:
                    param.write(vals)
                return True
            if self:
                canonical = self._perimeter_canonical(vals.get("key", self.key), vals.get("value", self.value))
                if "value" in vals:
                    vals = dict(vals, value=canonical)
        return super().write(vals)

    @api.model
    def _perimeter_settings(self):
        """Typed values of every perimeter setting (cached with ``_get_param``).

        ``_get_param`` tells a missing parameter (None: the default) from an
        emptied one (""), which ``get_param`` does not.
        """
        stored = {key: self.sudo()._get_param(key) for key in settings.KEYS}
        values, _problems = settings.load_settings(stored)
        return values
