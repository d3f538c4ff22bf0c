"""What Odoo's runtime says about itself, read where Odoo keeps it (module attributes that are not public API)."""

from . import odoo_version


def in_odoo_test(env):
    """Whether Odoo connects to no mail server now (a test runs, or the registry loads): its mail then connects
    nowhere (Odoo's own tests mock the clients), nor does this module's. Read at each call: tests that talk to
    real servers turn it off for themselves (18: ``current_test``; 19: ``ir.mail_server._disable_send``)."""
    return odoo_version.mail_sending_disabled(env)
