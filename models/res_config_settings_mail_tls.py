"""Settings: warn before the mail TLS policy becomes Enforce while a mail server fails its check.

Under ``enforce`` a failing server gets no mail at all (refused mail waits in
the queue, incoming mail waits on the server): switching should not be a
surprise. Kept apart from ``res_config_settings.py`` (the settings fields);
this only adds the warning.
"""

from odoo import api, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

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
