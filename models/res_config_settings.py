from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..perimeter import settings

# Fields of the settings screen and the setting each one edits. They are not
# plain ``config_parameter`` fields: Odoo deletes a parameter saved as False
# or 0, which would turn "allow loopback: off" or "HSTS: 0" back into their
# defaults. They have no ``default`` of their own either: ``get_values`` fills
# every one from the settings table (``perimeter/settings.py``), defaults
# included, whenever the screen opens.
_FIELD_SETTINGS = {
    "perimeter_mode": "mode",
    "perimeter_trusted_proxies": "trusted_proxies",
    "perimeter_allow_loopback": "allow_loopback",
    "perimeter_exempt_paths": "exempt_paths",
    "perimeter_require_https": "require_https",
    "perimeter_hsts_max_age": "hsts_max_age",
    "perimeter_log_retention_days": "log_retention_days",
    "perimeter_mail_tls_policy": "mail_tls_policy",
    "perimeter_mail_tls_min_version": "mail_tls_min_version",
    "perimeter_alert_threshold": "alert_threshold",
    "perimeter_alert_window_minutes": "alert_window_minutes",
    "perimeter_autoban_refusals": "autoban_refusals",  # fields in res_config_settings_autoban.py
    "perimeter_autoban_failed_logins": "autoban_failed_logins",
    "perimeter_autoban_minutes": "autoban_minutes",
}


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    perimeter_mode = fields.Selection(
        [("off", "Off"), ("monitor", "Monitor (log only)"), ("enforce", "Enforce")],
        string="Perimeter mode",
        required=True,
    )
    perimeter_trusted_proxies = fields.Text(
        string="Trusted proxies",
        help="Addresses or CIDRs of the reverse proxies in front of Odoo, comma or newline separated. "
        "Only their X-Forwarded-For / Forwarded / X-Forwarded-Proto headers are believed.",
    )
    perimeter_allow_loopback = fields.Boolean(string="Allow loopback")
    perimeter_exempt_paths = fields.Text(string="Exempt paths")
    perimeter_require_https = fields.Boolean(string="Require HTTPS")
    perimeter_hsts_max_age = fields.Integer(string="HSTS max-age (seconds)")
    perimeter_log_retention_days = fields.Integer(string="Keep access log (days)")
    perimeter_mail_tls_policy = fields.Selection(
        [("off", "Off (Odoo's default)"), ("warn", "Warn"), ("enforce", "Enforce")],
        string="Mail TLS policy",
        required=True,
    )
    perimeter_mail_tls_min_version = fields.Selection(
        [("TLSv1_2", "TLS 1.2"), ("TLSv1_3", "TLS 1.3")],
        string="Minimum mail TLS version",
        required=True,
    )
    perimeter_alert_threshold = fields.Integer(
        string="Alert threshold",
        help="Refused requests from one client within the alert window that notify the administrators "
        "(once per client and window). 0 turns alerts off.",
    )
    perimeter_alert_window_minutes = fields.Integer(string="Alert window (minutes)")

    @api.model
    def get_values(self):
        res = super().get_values()
        values = self.env["ir.config_parameter"]._perimeter_settings()
        for field_name, setting_name in _FIELD_SETTINGS.items():
            value = values[setting_name]
            res[field_name] = "\n".join(value) if isinstance(value, tuple) else value
        return res

    def _perimeter_texts(self):
        """Canonical text of every perimeter setting as entered; errors name each bad value."""
        texts, errors = {}, []
        for field_name, setting_name in _FIELD_SETTINGS.items():
            value = self[field_name]
            if value is False and self._fields[field_name].type != "boolean":
                value = ""  # an emptied text field
            try:
                texts[settings.SETTINGS[setting_name].key] = settings.canonical_text(setting_name, value)
            except ValueError as exc:
                errors.append(str(exc))
        if errors:
            raise ValidationError("\n".join(errors))
        return texts

    def set_values(self):
        res = super().set_values()
        params = self.env["ir.config_parameter"].sudo()
        for key, text in self._perimeter_texts().items():
            if params._get_param(key) != text:
                params.set_param(key, text)
        return res
