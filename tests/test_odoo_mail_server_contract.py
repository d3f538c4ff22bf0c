"""Odoo's own mail-server tests, run again with this module installed and in its default settings.

Scripts and other modules rely on ``ir.mail_server.test_smtp_connection()``
raising ``UserError`` exactly when Odoo raises it, and on ``connect()``
behaving as Odoo's. Under ``off`` and ``warn`` that contract is unchanged
(the TLS facts are only added to Odoo's message); only ``enforce`` may
refuse more. Odoo's classes are at_install tests of ``base`` and ``mail``:
they run before this module is installed, so they prove nothing about it
there. Subclassed here, tagged post_install, the very same test methods (with
Odoo's own patches: 0.1 s SMTP timeout, no command-line server) run against
the registry with this module loaded.
"""

import logging
import socket
import unittest
from unittest.mock import patch

from odoo.tests import tagged

from odoo.addons.base.tests import test_ir_mail_server as base_mail_server_tests
from odoo.addons.base.tests import test_ir_mail_server_smtpd as base_smtpd_tests
from odoo.addons.mail.tests import test_ir_mail_server as mail_mail_server_tests


def _ipv6_localhost_resolves():
    try:
        socket.getaddrinfo("localhost", 25, socket.AF_INET6)
    except OSError:
        return False
    return True


class _Policy:
    """Runs the inherited tests under the module's default mail TLS policy (warn), or ``perimeter_policy``.

    ``alias_domains``: base's SMTP tests expect base's test sender (``noreply@localhost``); with the mail
    module installed (a dependency of this one) Odoo takes it from a matching alias domain, so one is
    created. Nothing about TLS depends on it.
    """

    perimeter_policy = None
    alias_domains = ()
    # Odoo's loader collects only the methods a class defines itself unless told otherwise.
    allow_inherited_tests_method = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for name in cls.alias_domains:
            cls.env["mail.alias.domain"].create({
                "name": name, "default_from": "noreply",
                "bounce_alias": f"bounce-{name}", "catchall_alias": f"catchall-{name}",
            })

    def setUp(self):
        super().setUp()
        params = self.env["ir.config_parameter"].sudo()
        if self.perimeter_policy:
            params.set_param("perimeter_security.mail_tls_policy", self.perimeter_policy)
        self.assertEqual(params._perimeter_settings()["mail_tls_policy"], self.perimeter_policy or "warn")


@tagged("post_install", "-at_install")
class TestOdooIrMailServerUnderWarn(_Policy, base_mail_server_tests.TestIrMailServer):
    @unittest.skip("base's expected sender without the mail module (an alias domain for it would change the other "
                   "tests' senders); mail's own TestIrMailServer, run below, checks the sender with mail installed")
    def test_mail_server_get_test_email_from(self):
        pass


@tagged("post_install", "-at_install")
class TestOdooMailIrMailServerUnderWarn(_Policy, mail_mail_server_tests.TestIrMailServer):
    pass


class _Smtpd(_Policy):
    alias_domains = ("localhost",)

    @classmethod
    def setUpClass(cls):
        # Odoo's test binds aiosmtpd on get_localhost() (::1 when IPv6 is up) and resolves "localhost"
        # in that family; on a machine whose /etc/hosts names only 127.0.0.1 localhost, use IPv4.
        ipv4 = None if _ipv6_localhost_resolves() else patch("aiosmtpd.controller.get_localhost",
                                                               return_value="127.0.0.1")
        if ipv4:
            ipv4.start()  # before Odoo's setUpClass starts the server
        super().setUpClass()
        if ipv4:
            # Registered after Odoo's check for patchers left active, so that it runs before it (class
            # cleanups run last-in first-out): startClassPatcher would warn at the end of every class.
            cls.addClassCleanup(ipv4.stop)
        # Under warn a verified channel is tried first: aiosmtpd reports each handshake our client
        # abandons (it does not trust Odoo's test CA) as an ERROR, which is the expected first step.
        mail_log = logging.getLogger("mail.log")
        cls.addClassCleanup(mail_log.setLevel, mail_log.level)
        mail_log.setLevel(logging.CRITICAL + 1)


@tagged("post_install", "-at_install")
class TestOdooIrMailServerSMTPDUnderWarn(_Smtpd, base_smtpd_tests.TestIrMailServerSMTPD):
    pass


@tagged("post_install", "-at_install")
class TestOdooIrMailServerSMTPDUnderOff(_Smtpd, base_smtpd_tests.TestIrMailServerSMTPD):
    perimeter_policy = "off"
