from . import models
from . import http_guard


def post_load():
    """Install the server tier (static files, requests with no database, cross-database RPC)."""
    http_guard.install()
