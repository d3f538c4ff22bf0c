from . import models
from . import wizards
from . import controllers
from .guard import mail_connections, server_tier, signaling
from .perimeter.settings import PREFIX


def post_load():
    """Install the server tier (static files, requests with no database, cross-database RPC) and the verified
    mail connections (mail TLS)."""
    server_tier.install()
    mail_connections.install()


def uninstall_hook(env):
    """Leave no setting behind: parameters are not owned by the module's data, so Odoo would keep them."""
    env["ir.config_parameter"].sudo().search([("key", "=like", f"{PREFIX}%")]).unlink()
    signaling.uninstall(env.cr)  # the triggers on ir_config_parameter would outlive the module
