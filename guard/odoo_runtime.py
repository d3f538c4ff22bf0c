"""What Odoo's runtime says about itself, read where Odoo keeps it (module attributes that are not public API)."""

from odoo import modules


def in_odoo_test():
    """Whether Odoo runs a test now: its mail then connects nowhere (Odoo's own tests mock the clients), nor
    does this module's. Read at each call: tests that talk to real servers turn it off for themselves."""
    return bool(modules.module.current_test)
