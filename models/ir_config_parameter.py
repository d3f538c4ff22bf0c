"""``ir.config_parameter``: what the module adds to Odoo's parameters, for its ``perimeter_security.*`` keys.

However a parameter is written (the settings screen, ``set_param`` over RPC,
``odoo shell``), a write runs, top to bottom: the value is validated and
stored in its canonical form (a typo is refused, not silently ignored); the
write itself, whose change goes to the change history
(``perimeter.change.tracked``, which Odoo does not do for parameters); then,
when a parameter a request's verdict depends on changed, the lockout check.
"""

from odoo import api, models
from odoo.exceptions import ValidationError

from ..guard import wording
from ..perimeter import settings

# The parameters a request's verdict depends on: a change to them goes through the lockout check.
POLICY_KEYS = frozenset(
    settings.SETTINGS[name].key for name in ("mode", "trusted_proxies", "allow_loopback", "exempt_paths",
                                             "require_https", "scope")
)


class IrConfigParameter(models.Model):
    """Validate perimeter_security.* parameters however they are written, track them, check the lockout.

    Scripts set them through XML-RPC or ``odoo shell`` as often as through the
    settings screen; a typo there must be refused, not silently ignored.
    """

    _name = "ir.config_parameter"
    _inherit = ["ir.config_parameter", "perimeter.change.tracked"]

    # -- writes: top to bottom, what runs -----------------------------------------------------------

    @api.model_create_multi
    def create(self, vals_list):
        for vals in vals_list:
            if "value" in vals:
                vals["value"] = self._perimeter_canonical(vals.get("key"), vals["value"])
        params = super().create(vals_list)
        if any(vals.get("key") in POLICY_KEYS for vals in vals_list):
            self.env["perimeter.policy"]._perimeter_policy_changed()
        return params

    def write(self, vals):
        touched = vals.get("key") in POLICY_KEYS or any(param.key in POLICY_KEYS for param in self)
        if ("value" in vals or "key" in vals) and len(self) > 1:
            # Each key has its own canonical form: validate them one by one.
            for param in self:
                param.write(vals)
            result = True
        else:
            if self and ("value" in vals or "key" in vals):
                canonical = self._perimeter_canonical(vals.get("key", self.key), vals.get("value", self.value))
                if "value" in vals:
                    vals = dict(vals, value=canonical)
            result = super().write(vals)
        if touched:
            self.env["perimeter.policy"]._perimeter_policy_changed()
        return result

    def unlink(self):
        touched = any(param.key in POLICY_KEYS for param in self)
        result = super().unlink()
        if touched:
            self.env["perimeter.policy"]._perimeter_policy_changed()
        return result

    # -- validation and the typed settings ----------------------------------------------------------

    @api.model
    def _perimeter_canonical(self, key, value):
        setting = settings.KEYS.get(key)
        if setting is None or value is False or value is None:
            return value
        try:
            return settings.canonical_text(setting.name, str(value))
        except ValueError as exc:
            raise ValidationError(wording.message_of(self.env, exc)) from None

    @api.model
    def _perimeter_settings(self):
        """Typed values of every perimeter setting (cached with ``_get_param``).

        ``_get_param`` tells a missing parameter (None: the default) from an
        emptied one (""), which ``get_param`` does not.
        """
        stored = {key: self.sudo()._get_param(key) for key in settings.KEYS}
        values, _problems = settings.load_settings(stored)
        return values

    # -- the change history: one row per perimeter_security.* key whose value changes ---------------

    def _perimeter_touches(self, vals):
        return "value" in vals or "key" in vals

    def _perimeter_snapshot(self):
        return {
            param.id: (param.key, {param.key: param.value or False})
            for param in self.sudo()
            if param.key in settings.KEYS
        }

    def _perimeter_entries(self, operation, before, after):
        # A parameter that is not stored holds its default: say so rather than leave "before" empty.
        entries = super()._perimeter_entries(operation, before, after)
        for entry in entries:
            default = settings.KEYS[entry["field_name"]].default or False
            if operation == "create" and entry["old_value"] is False:
                entry["old_value"] = default
            if operation == "unlink" and entry["new_value"] is False:
                entry["new_value"] = default
        return [entry for entry in entries if entry["old_value"] != entry["new_value"]]
