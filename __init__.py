from . import models
from . import wizards
from . import http_guard
from .perimeter.settings import PREFIX


def post_load():
    """Install the server tier (static files, requests with no database, cross-database RPC)."""
    http_guard.install()


def uninstall_hook(env):
    """Leave no setting behind: parameters are not owned by the module's data, so Odoo would keep them."""
    env["ir.config_parameter"].sudo().search([("key", "=like", f"{PREFIX}%")]).unlink()
