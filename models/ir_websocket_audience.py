from odoo import models

from odoo.addons.bus.websocket import wsrequest

from ..guard import refusal, verdicts
from ..perimeter.audience import judge


class IrWebsocket(models.AbstractModel):
    """Each message of an open websocket is judged as its session's user, with the handshake's facts."""

    _inherit = "ir.websocket"

    @classmethod
    def _authenticate(cls):
        super()._authenticate()  # sets the handshake's facts, checks the site gate
        uid = wsrequest.session.uid
        facts = getattr(wsrequest.ws, "_perimeter_facts", None)
        if not uid or facts is None:
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
