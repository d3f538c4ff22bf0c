"""Odoo's own mail-server tests, run again with this module installed and in its default settings.

Scripts and other modules rely on ``ir.mail_server.test_smtp_connection()``
raising ``UserError`` exactly when Odoo raises it, and on ``connect()``
behaving as Odoo's. Under ``off`` and ``warn`` that contract is unchanged
(the TLS facts are only added to Odoo's message); only ``enforce`` may
refuse more. Odoo's classes are at_install tests of ``base``: they run before
this module is installed, so they prove nothing about it there. Subclassed
here, tagged post_install, the very same test methods (with Odoo's own
patches: 0.1 s SMTP timeout, no command-line server) run against the
registry with this module loaded.
"""

from odoo.tests import tagged

from odoo.addons.base.tests import test_ir_mail_server as odoo_mail_server_tests
from odoo.addons.base.tests import test_ir_mail_server_smtpd as odoo_smtpd_tests


class _DefaultPolicy:
    """Checks that the policy is the module's default (warn) unless the class sets another one."""

    perimeter_policy = None
    # Odoo's loader collects only the methods a class defines itself unless told otherwise.
    allow_inherited_tests_method = True

    def setUp(self):
        super().setUp()
        params = self.env["ir.config_parameter"].sudo()
        if self.perimeter_policy:
            params.set_param("perimeter_security.mail_tls_policy", self.perimeter_policy)
        self.assertEqual(params._perimeter_settings()["mail_tls_policy"], self.perimeter_policy or "warn")


@tagged("post_install", "-at_install")
class TestOdooIrMailServerUnderWarn(_DefaultPolicy, odoo_mail_server_tests.TestIrMailServer):
    pass


@tagged("post_install", "-at_install")
class TestOdooIrMailServerSMTPDUnderWarn(_DefaultPolicy, odoo_smtpd_tests.TestIrMailServerSMTPD):
    pass


@tagged("post_install", "-at_install")
class TestOdooIrMailServerSMTPDUnderOff(_DefaultPolicy, odoo_smtpd_tests.TestIrMailServerSMTPD):
    perimeter_policy = "off"
