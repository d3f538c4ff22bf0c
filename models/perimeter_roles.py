"""Roles: a Perimeter auditor reads everything and changes nothing.

Access rights (``security/ir.model.access.csv``) give the auditor read access
only. The actions below write on their own, with ``sudo()`` (probes, discovery,
a posture review, retrying refused mail, fetching mail), so access rights do
not stop them: each one checks the role first. Auditors may read the mail
servers' TLS state, not their credentials, which stay Settings-administrator
only.
"""

from odoo import api, fields, models
from odoo.exceptions import AccessError

MANAGER = "perimeter_security.group_perimeter_manager"


def require_manager(env):
    """Refuse an action that changes something to anyone but a Perimeter administrator (or the superuser)."""
    if env.su or env.user.has_group(MANAGER):
        return
    raise AccessError(env._(
        "Only Perimeter administrators can do this. You can review the perimeter (Perimeter / Auditor), "
        "not change it: ask an administrator, or a Settings administrator to give you the "
        "Perimeter / Administrator role."
    ))


class PerimeterConnectedSystem(models.Model):
    _inherit = "perimeter.connected.system"

    @api.model
    def action_discover(self):
        require_manager(self.env)
        return super().action_discover()

    def action_discover_button(self):
        require_manager(self.env)
        return super().action_discover_button()

    def action_check(self):
        require_manager(self.env)
        return super().action_check()

    def action_check_all(self):
        require_manager(self.env)
        return super().action_check_all()


class PerimeterPostureFinding(models.Model):
    _inherit = "perimeter.posture.finding"

    def action_review(self):
        require_manager(self.env)
        return super().action_review()


class IrMailServer(models.Model):
    _inherit = "ir.mail_server"

    def action_perimeter_check(self):
        require_manager(self.env)
        return super().action_perimeter_check()

    def action_perimeter_retry_refused(self):
        require_manager(self.env)
        return super().action_perimeter_retry_refused()

    def test_smtp_connection(self, autodetect_max_email_size=False):
        require_manager(self.env)
        return super().test_smtp_connection(autodetect_max_email_size)


class FetchmailServer(models.Model):
    _inherit = "fetchmail.server"

    # Credentials stay with Settings administrators, as before auditors could read these servers.
    user = fields.Char(groups="base.group_system")
    password = fields.Char(groups="base.group_system")

    def action_perimeter_check(self):
        require_manager(self.env)
        return super().action_perimeter_check()

    def button_confirm_login(self):
        require_manager(self.env)
        return super().button_confirm_login()

    def fetch_mail(self, raise_exception=True):
        require_manager(self.env)
        return super().fetch_mail(raise_exception=raise_exception)

    def set_draft(self):
        require_manager(self.env)
        return super().set_draft()
