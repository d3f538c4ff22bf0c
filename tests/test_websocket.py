import json
import socket

from odoo.tests import tagged

from odoo.addons.bus.tests.common import WebsocketCase, websocket
from odoo.addons.bus.websocket import CloseCode

from .common import INSIDE, OUTSIDE, PerimeterMixin, WebsocketDoorMixin


@tagged("post_install", "-at_install")
class TestWebsocket(WebsocketDoorMixin, PerimeterMixin, WebsocketCase):
    """The websocket handshake is a request like any other, and open connections follow the policy."""

    def connect_from(self, source):
        sock = socket.create_connection(("127.0.0.1", self.http_port()), timeout=10, source_address=(source, 0))
        return self.websocket_connect(socket=sock)

    def _outside_connection(self):
        self.strict_policy()
        self.set_policy(rules=[f"{OUTSIDE}/32"])
        ws = self.connect_from(OUTSIDE)
        self.subscribe(ws, ["perimeter_channel"], self.env["bus.bus"]._bus_last_id())
        return ws

    def _remove_outside_rule(self):
        self.env["perimeter.allowlist"].search([("network", "=", f"{OUTSIDE}/32")]).unlink()
        self.env.flush_all()

    def test_handshake(self):
        self.strict_policy()
        self.connect_from(INSIDE)
        with self.assertRaises(websocket.WebSocketBadStatusException) as refused:
            self.connect_from(OUTSIDE)
        self.assertEqual(refused.exception.status_code, 403)
        self.assertHit(OUTSIDE, "not_allowlisted", path="/websocket")

    def test_open_connection_is_closed_at_its_next_message(self):
        ws = self._outside_connection()
        self._remove_outside_rule()
        ws.send(json.dumps({"event_name": "subscribe", "data": {"channels": ["perimeter_channel"], "last": 0}}))
        self.assert_close_with_code(ws, CloseCode.SESSION_EXPIRED)
        self.assertHit(OUTSIDE, "not_allowlisted")

    def test_idle_connection_gets_no_more_notifications(self):
        ws = self._outside_connection()
        self.env["bus.bus"]._sendone("perimeter_channel", "perimeter_test", "before")
        self.trigger_notification_dispatching(["perimeter_channel"])
        self.assertEqual(json.loads(ws.recv())[0]["message"]["payload"], "before")
        self._remove_outside_rule()
        self.env["bus.bus"]._sendone("perimeter_channel", "perimeter_test", "after")
        self.trigger_notification_dispatching(["perimeter_channel"])
        self.assert_close_with_code(ws, CloseCode.SESSION_EXPIRED)
