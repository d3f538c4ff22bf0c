"""Which HTTP request an RPC call came in, for the code that authenticates it.

``odoo.http.dispatch_rpc`` hides the current request (``borrow_request``)
before XML-RPC/JSON-RPC services authenticate the caller, so
``res.users.check`` cannot see who is calling. :func:`install` wraps
``odoo.http.borrow_request`` (looked up by ``dispatch_rpc`` at each call) to
remember the facts of the request being borrowed — the connection as
received, path, method, user agent — for the duration of the call. It covers
every RPC entry point, database-less requests included, and is installed
once per process when the addon's Python code is imported.
"""

import contextlib
import contextvars
import dataclasses

import odoo.http

from ..perimeter.policy import RequestFacts
from . import peer

_BORROWED = contextvars.ContextVar("perimeter_security_rpc_request", default=None)


@dataclasses.dataclass(frozen=True)
class RequestInfo:
    """What the fence and the RPC caller record need to know of a request."""

    connection: dict  # REMOTE_ADDR, wsgi.url_scheme and the proxy headers, as received
    path: str = ""
    method: str = ""
    user_agent: str = ""
    rpc: bool = False  # the request is being served by dispatch_rpc

    @classmethod
    def from_environ(cls, environ, rpc=False):
        facts = RequestFacts.from_environ(peer.keep_real_peer(environ))
        return cls(
            connection=facts.connection,
            path=facts.path[:512],
            method=facts.method[:16],
            user_agent=(environ.get("HTTP_USER_AGENT") or "")[:256],
            rpc=rpc,
        )


def _facts_of(request):
    try:
        return RequestInfo.from_environ(request.httprequest.environ, rpc=True)
    except (AttributeError, RuntimeError):
        return None


def _remembering(original):
    @contextlib.contextmanager
    def borrow_request():
        with original() as request:
            token = _BORROWED.set(_facts_of(request) if request is not None else None)
            try:
                yield request
            finally:
                _BORROWED.reset(token)

    borrow_request.perimeter_original = original
    return borrow_request


def install():
    """Wrap ``odoo.http.borrow_request``; idempotent."""
    current = odoo.http.borrow_request
    if getattr(current, "perimeter_original", None) is None:
        odoo.http.borrow_request = _remembering(current)


def current_request():
    """The :class:`RequestInfo` of the request being served, or None outside any request."""
    request = odoo.http.request
    if request:
        with contextlib.suppress(AttributeError, RuntimeError):
            return RequestInfo.from_environ(request.httprequest.environ)
    return _BORROWED.get()
