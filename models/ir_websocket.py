from odoo import models

from odoo.addons.bus.websocket import wsrequest

from ..guard import verdicts
from ..perimeter.policy import RequestFacts


class IrWebsocket(models.AbstractModel):
    """Open websockets: each message is checked against the policy in force now.

    The handshake went through ``ir.http._match``; a connection stays open for
    hours, so every message (subscribe, presence) is judged again with the
    facts of the handshake, and the server tier checks the same facts before
    sending notifications. A refused client is disconnected.
    """

    _inherit = "ir.websocket"

    @classmethod
    def _authenticate(cls):
        facts = getattr(wsrequest.ws, "_perimeter_facts", None)
        if facts is None:
            facts = RequestFacts.from_environ(wsrequest.httprequest.environ)
            wsrequest.ws._perimeter_facts = facts
        verdicts.check_websocket(wsrequest.env["perimeter.policy"]._perimeter_policy(), facts, wsrequest.db)
        return super()._authenticate()
