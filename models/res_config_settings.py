"""``res.config.settings``: the Settings screen's perimeter fields, and what saving them runs.

Saving runs, top to bottom: every value is validated (errors name the
setting as the screen does) and stored as its parameter, and the lockout check
is deferred until all of them are saved; then the policy they make together
is judged once. Choosing Enforce for the mail TLS policy warns first when a
mail server fails its check.
"""

from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..guard import wording
from ..perimeter import settings
from .perimeter_policy import lockout_check_deferred
from .perimeter_setting import setting_label

# Fields of the settings screen and the setting each one edits. They are not
# plain ``config_parameter`` fields: Odoo deletes a parameter saved as False
# or 0, which would turn "allow loopback: off" or "HSTS: 0" back into their
# defaults. ``get_values`` fills every one from the settings table
# (``perimeter/settings.py``) whenever the screen opens; their defaults are the
# same table's. None is ``required``: a required column of this transient
# table cannot get its NOT NULL constraint on a database where Settings were
# saved before, and ``set_values`` validates every value anyway.
_FIELD_SETTINGS = {
    "perimeter_mode": "mode",
    "perimeter_scope": "scope",
    "perimeter_trusted_proxies": "trusted_proxies",
    "perimeter_allow_loopback": "allow_loopback",
    "perimeter_exempt_paths": "exempt_paths",
    "perimeter_require_https": "require_https",
    "perimeter_hsts_max_age": "hsts_max_age",
    "perimeter_canonical_hosts": "canonical_hosts",
    "perimeter_log_retention_days": "log_retention_days",
    "perimeter_mail_tls_policy": "mail_tls_policy",
    "perimeter_mail_tls_min_version": "mail_tls_min_version",
    "perimeter_alert_threshold": "alert_threshold",
    "perimeter_alert_window_minutes": "alert_window_minutes",
    "perimeter_autoban_refusals": "autoban_refusals",
    "perimeter_autoban_failed_logins": "autoban_failed_logins",
    "perimeter_autoban_minutes": "autoban_minutes",
    "perimeter_ipv6_prefix": "ipv6_prefix",
    "perimeter_refused_login_message": "refused_login_message",
}


def _default(name):
    """The typed default of setting ``name`` (texts joined one per line, as the screen shows them)."""
    value = settings.parse_setting(name, None)
    return "\n".join(value) if isinstance(value, tuple) else value


def _label(name):
    """The label of setting ``name`` in the settings table: the screen's field and its errors say the same."""
    return str(settings.SETTINGS[name].label)


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    perimeter_mode = fields.Selection(
        [("off", "Off"), ("monitor", "Monitor (log only)"), ("enforce", "Enforce")],
        string=_label("mode"),
        default=lambda self: _default("mode"),
    )
    perimeter_scope = fields.Selection(
        [("all", "Every request"), ("internal", "Internal users")],
        string=_label("scope"),
        required=True,
        help="Every request: only allowlisted networks reach this database at all. "
        "Internal users: anybody reaches the website, the portal, the login page and the links in mail; "
        "employees, administrators and their API keys only come from their networks.",
    )
    perimeter_trusted_proxies = fields.Text(
        string=_label("trusted_proxies"),
        help="Addresses or CIDRs of the reverse proxies in front of Odoo, comma or newline separated. "
        "Only their X-Forwarded-For / Forwarded / X-Forwarded-Proto headers are believed.",
    )
    perimeter_allow_loopback = fields.Boolean(string=_label("allow_loopback"),
                                              default=lambda self: _default("allow_loopback"))
    perimeter_exempt_paths = fields.Text(string=_label("exempt_paths"), default=lambda self: _default("exempt_paths"))
    perimeter_require_https = fields.Boolean(string=_label("require_https"))
    perimeter_hsts_max_age = fields.Integer(string=_label("hsts_max_age"),
                                            default=lambda self: _default("hsts_max_age"))
    perimeter_canonical_hosts = fields.Text(
        string=_label("canonical_hosts"),
        help="The host names this Odoo is reached at over https, one per line (erp.example.com, or "
        "erp.example.com:8443 for another https port). A plain-HTTP request is redirected only to one of them: "
        "the one it asked for, else the first. Empty: the host of web.base.url.",
    )
    perimeter_log_retention_days = fields.Integer(string=_label("log_retention_days"),
                                                  default=lambda self: _default("log_retention_days"))
    perimeter_mail_tls_policy = fields.Selection(
        [("off", "Off (Odoo's default)"), ("warn", "Warn"), ("enforce", "Enforce")],
        string=_label("mail_tls_policy"),
        default=lambda self: _default("mail_tls_policy"),
    )
    perimeter_mail_tls_min_version = fields.Selection(
        [("TLSv1_2", "TLS 1.2"), ("TLSv1_3", "TLS 1.3")],
        string=_label("mail_tls_min_version"),
        default=lambda self: _default("mail_tls_min_version"),
    )
    perimeter_alert_threshold = fields.Integer(
        string=_label("alert_threshold"),
        help="Refused requests from one client within the alert window that notify the administrators "
        "(once per client and window). 0 turns alerts off.",
        default=lambda self: _default("alert_threshold"),
    )
    perimeter_alert_window_minutes = fields.Integer(string=_label("alert_window_minutes"),
                                                    default=lambda self: _default("alert_window_minutes"))
    perimeter_autoban_refusals = fields.Integer(
        string=_label("autoban_refusals"),
        help="A client refused more than this many times within the alert window is blocked. 0: never.",
    )
    perimeter_autoban_failed_logins = fields.Integer(
        string=_label("autoban_failed_logins"),
        help="A client failing more than this many logins (any login path, any user) within the alert window "
        "is blocked. 0: never.",
    )
    perimeter_autoban_minutes = fields.Integer(
        string=_label("autoban_minutes"),
        help="How long an automatic ban lasts; doubled for each earlier ban of the same client (at most 30 days). "
        "0 turns automatic bans off.",
    )
    perimeter_ipv6_prefix = fields.Integer(
        string=_label("ipv6_prefix"),
        help="An IPv6 client is counted, logged, alerted and banned per network of this prefix length "
        "(48 to 128): 64, the network every home line and server has, so that walking through its addresses "
        "changes nothing; 128 counts each address apart.",
    )

    perimeter_refused_login_message = fields.Char(
        string=_label("refused_login_message"),
        help="Shown instead of \"Wrong login/password\" for every failed login from a client some held user "
        "would be refused from, whatever the login: {address} is the address the server saw. Empty: a sentence "
        "naming the network as a possible cause, in the reader's language.",
    )

    # -- reading and saving: top to bottom, what runs ----------------------------------------------

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
            setting = settings.SETTINGS[setting_name]
            try:
                texts[setting.key] = settings.canonical_text(setting_name, value)
            except ValueError:
                errors.append(self._perimeter_error(field_name, setting, value))
        if errors:
            raise ValidationError("\n".join(errors))
        return texts

    def _perimeter_error(self, field_name, setting, value):
        """What is wrong with ``value``, named by the setting's label as the screen shows it (no parameter key)."""
        label = setting_label(self.env, setting.key)
        try:
            setting.parse(value if isinstance(value, str) else str(value))
        except ValueError as exc:
            return self.env._("%(setting)s: %(problem)s", setting=label, problem=wording.message_of(self.env, exc))
        return label

    def set_values(self):
        # The screen saves its parameters one by one: judge the policy they make together, once.
        # The marker is Python's, not the context's: an RPC caller cannot send it.
        with lockout_check_deferred():
            res = super().set_values()
            params = self.env["ir.config_parameter"].sudo()
            for key, text in self._perimeter_texts().items():
                if params._get_param(key) != text:
                    params.set_param(key, text)
        self.env["perimeter.policy"]._perimeter_policy_changed()
        return res

    # -- warnings while editing --------------------------------------------------------------------
    # Under ``enforce`` a failing mail server gets no mail at all (refused mail waits in the queue,
    # incoming mail waits on the server): switching should not be a surprise.

    @api.onchange("perimeter_mail_tls_policy")
    def _onchange_perimeter_mail_tls_policy(self):
        if self.perimeter_mail_tls_policy != "enforce":
            return None
        current = self.env["ir.config_parameter"].sudo()._perimeter_settings()["mail_tls_policy"]
        if current == "enforce":
            return None
        blocked = self.env["ir.mail_server"]._perimeter_blocked_under_enforce()
        if not blocked:
            return None
        return {"warning": {
            "title": self.env._("Mail would stop"),
            "message": self.env._(
                "Under Enforce, these servers fail their TLS check and would get no mail:\n%(servers)s\n\n"
                "Outgoing mail through them would wait in the queue (Delivery Failed) and incoming mail on the "
                "server, until each is fixed (see its TLS Trust tab and Check TLS). Save to switch anyway.",
                servers="\n".join(f"- {line}" for line in blocked)),
        }}
