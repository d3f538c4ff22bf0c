"""Lockout protection: no save may block the administrator who makes it.

Every write that can change who gets in (allowlist rules, the perimeter
parameters, the settings screen) ends with ``perimeter.policy``'s lockout
check, in the same transaction: a refused change is rolled back whole.
"""

from odoo import api, models

from ..perimeter import settings
from .perimeter_policy import lockout_check_deferred

# The parameters a request's verdict depends on.
POLICY_KEYS = frozenset(
    settings.SETTINGS[name].key for name in ("mode", "trusted_proxies", "allow_loopback", "exempt_paths",
                                             "require_https", "scope")
)


class PerimeterAllowlist(models.Model):
    _inherit = "perimeter.allowlist"

    @api.model_create_multi
    def create(self, vals_list):
        rules = super().create(vals_list)
        self.env["perimeter.policy"]._perimeter_policy_changed()
        return rules

    def write(self, vals):
        result = super().write(vals)
        self.env["perimeter.policy"]._perimeter_policy_changed()
        return result

    def unlink(self):
        result = super().unlink()
        self.env["perimeter.policy"]._perimeter_policy_changed()
        return result


class IrConfigParameter(models.Model):
    _inherit = "ir.config_parameter"

    @api.model_create_multi
    def create(self, vals_list):
        params = super().create(vals_list)
        if any(vals.get("key") in POLICY_KEYS for vals in vals_list):
            self.env["perimeter.policy"]._perimeter_policy_changed()
        return params

    def write(self, vals):
        touched = vals.get("key") in POLICY_KEYS or any(param.key in POLICY_KEYS for param in self)
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


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    def set_values(self):
        # The screen saves its parameters one by one: judge the policy they make together, once.
        # The marker is Python's, not the context's: an RPC caller cannot send it.
        with lockout_check_deferred():
            result = super().set_values()
        self.env["perimeter.policy"]._perimeter_policy_changed()
        return result
