"""The real TCP peer of a request, given to the engine under a key of its own.

With ``proxy_mode``, Odoo runs werkzeug's ProxyFix on every request that has
an ``X-Forwarded-Host`` header: it rewrites ``REMOTE_ADDR``,
``wsgi.url_scheme`` and ``HTTP_HOST`` in place from headers any client can
send, and keeps the values it replaced in werkzeug's private
``werkzeug.proxy_fix.orig``. :func:`keep_real_peer` keeps the connection as
received under ``perimeter.policy.ORIGINAL_CONNECTION``, which the engine
reads: the server tier calls it at the WSGI door, before ProxyFix runs; the
enforcement points call it again (a no-op once kept) for a request that
entered before the door was installed, where it takes ProxyFix's record.
"""

from ..perimeter.policy import ORIGINAL_CONNECTION

_WERKZEUG_PROXY_FIX_ORIGINAL = "werkzeug.proxy_fix.orig"
_KEPT = ("REMOTE_ADDR", "wsgi.url_scheme", "HTTP_HOST")


def keep_real_peer(environ):
    """Keep the real TCP peer (with the scheme and Host as received) in ``environ``; returns ``environ``."""
    if ORIGINAL_CONNECTION not in environ:
        received = environ.get(_WERKZEUG_PROXY_FIX_ORIGINAL) or environ
        environ[ORIGINAL_CONNECTION] = {key: received[key] for key in _KEPT if received.get(key)}
    return environ
