from . import models
from . import wizards


def uninstall_hook(env):
    """Leave no setting behind: parameters are not owned by the module's data, so Odoo would keep them."""
    env["ir.config_parameter"].sudo().search([("key", "=like", "perimeter_security.%")]).unlink()
