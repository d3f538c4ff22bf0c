"""The websocket message being served (the bus' ``wsrequest``), and the facts of its handshake.

A websocket stays open for hours; each message is judged again with the facts
of the request that opened it, kept on the bus' ``Websocket`` object (where
the server tier reads them too, before sending notifications).
"""

from odoo.addons.bus.websocket import wsrequest

from ..perimeter.policy import RequestFacts
from . import peer


def current_websocket_request():
    """The bus' request of the websocket message being served (``env``, ``session``, ``db``)."""
    return wsrequest


def current_websocket_facts():
    """The facts of the current websocket's handshake, taken at its first message and kept with it."""
    facts = getattr(wsrequest.ws, "_perimeter_facts", None)
    if facts is None:
        facts = RequestFacts.from_environ(peer.keep_real_peer(wsrequest.httprequest.environ))
        wsrequest.ws._perimeter_facts = facts
    return facts
