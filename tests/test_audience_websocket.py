import json
import socket

from odoo import Command
from odoo.tests import new_test_user, tagged

from odoo.addons.bus.tests.common import WebsocketCase
from odoo.addons.bus.websocket import CloseCode

from .common import INSIDE, PerimeterMixin, WebsocketDoorMixin

SUBSCRIBE = {"event_name": "subscribe", "data": {"channels": ["perimeter_channel"], "last": 0}}


@tagged("post_install", "-at_install")
class TestAudienceWebsocket(WebsocketDoorMixin, PerimeterMixin, WebsocketCase):
    """An open websocket of a held user follows their networks: a message or a notification after they
    moved away closes it."""

    def _employee_connection(self):
        self.set_policy(mode="enforce", scope="internal", allow_loopback=False)
        Rules = self.env["perimeter.allowlist"]
        self.office = Rules.create({"name": "Office", "network": f"{INSIDE}/32"})
        self.vpn = Rules.create({"name": "VPN", "network": "192.0.2.64/27"})
        self.employees = self.env.ref("base.group_user")
        self.employees.perimeter_allowlist_ids = [Command.set(self.office.ids)]
        new_test_user(self.env, login="emma", password="emma-password-1", groups="base.group_user")
        self.env.flush_all()
        session = self.authenticate("emma", "emma-password-1")
        sock = socket.create_connection(("127.0.0.1", self.http_port()), timeout=10, source_address=(INSIDE, 0))
        ws = self.websocket_connect(socket=sock, cookie=f"session_id={session.sid}")
        self.subscribe(ws, ["perimeter_channel"], self.env["bus.bus"]._bus_last_id())
        return ws

    def _move_employees_to_the_vpn(self):
        self.employees.perimeter_allowlist_ids = [Command.set(self.vpn.ids)]
        self.env.flush_all()

    def test_next_message_closes_it(self):
        ws = self._employee_connection()
        self._move_employees_to_the_vpn()
        ws.send(json.dumps(SUBSCRIBE))
        self.assert_close_with_code(ws, CloseCode.SESSION_EXPIRED)
        hit = self.assertHit(INSIDE, "user_network")
        self.assertEqual(hit.login, "emma")

    def test_no_more_notifications(self):
        ws = self._employee_connection()
        self.env["bus.bus"]._sendone("perimeter_channel", "perimeter_test", "before")
        self.trigger_notification_dispatching(["perimeter_channel"])
        self.assertEqual(json.loads(ws.recv())[0]["message"]["payload"], "before")
        self._move_employees_to_the_vpn()
        self.env["bus.bus"]._sendone("perimeter_channel", "perimeter_test", "after")
        self.trigger_notification_dispatching(["perimeter_channel"])
        self.assert_close_with_code(ws, CloseCode.SESSION_EXPIRED)
