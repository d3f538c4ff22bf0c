"""``ir.websocket``: each message of an open websocket is judged against the policy in force now.

The handshake went through ``ir.http._match``; a connection stays open for
hours, so every message (subscribe, presence) is judged again with the facts
of the handshake: first the site gate, then the session's user (afresh for
each message: no per-request memo). The server tier checks the same facts
before sending notifications. A refused client is disconnected.
"""

from odoo import models

from ..guard import refusal, verdicts
from ..guard.websocket import current_websocket_facts, current_websocket_request
from ..perimeter.audience import judge


class IrWebsocket(models.AbstractModel):
    _inherit = "ir.websocket"

    @classmethod
    def _authenticate(cls):
        wsrequest = current_websocket_request()
        facts = current_websocket_facts()  # kept on the websocket from its first message
        verdicts.check_websocket(wsrequest.env["perimeter.policy"]._perimeter_policy(), facts, wsrequest.db)
        super()._authenticate()
        uid = wsrequest.session.uid
        if not uid:
            return
        Policy = wsrequest.env["perimeter.policy"].sudo()
        policy = Policy._perimeter_policy()
        if not policy.active or policy.mode == "off" or policy.audience is None:
            return
        holding = Policy._perimeter_holding(policy, uid)
        if holding is None or not holding.held:
            return
        # Judged afresh for each message (no per-request memo: a websocket lives for hours).
        verdict = judge(facts, policy, holding)
        if verdict.report:
            verdicts.report(verdict, facts, wsrequest.db, holding.login)
        if not verdict.allowed:
            raise refusal.WebsocketRefused()
