"""A header whose name holds an underscore never passes for a forwarding header.

Werkzeug 2.2 (Odoo 18 on Python 3.11) turns both ``X-Forwarded-For`` and
``X_Forwarded_For`` into ``HTTP_X_FORWARDED_FOR`` and joins them. A proxy that
passes headers on as received and writes its own forwarding header first
(nginx with ``underscores_in_headers on``, Traefik by default) therefore puts
the client's ``X_Forwarded_For`` right-most, where the trusted proxy's own
entry should be. These tests run a real nginx configured that way in front of
Odoo's test server, and Odoo's servers directly.
"""

import http.client
import json
import subprocess
import sys
import threading
import unittest

import werkzeug.serving

from odoo.service import server as odoo_server
from odoo.tests import new_test_user, tagged
from odoo.tools import mute_logger

from ..guard import server_tier
from ..testing.nginx import NGINX, NginxProxy
from .common import INSIDE, OUTSIDE, PROXY, PerimeterHttpCase

OFFICE = INSIDE  # the only allowlisted address
HEADERS_SEEN = "/perimeter-test/headers"


@tagged("post_install", "-at_install")
@unittest.skipIf(NGINX is None, "nginx is not installed (apt-get install nginx-light)")
class TestUnderscoreHeadersThroughNginx(PerimeterHttpCase):
    """nginx with ``underscores_in_headers on`` (trusted, connecting from 127.0.0.3) in front of Odoo."""

    def setUp(self):
        super().setUp()
        self.enterContext(mute_logger("odoo.http", "odoo.addons.base.models.res_users"))
        self.strict_policy()
        self.nginx = self.enterContext(NginxProxy("", self.http_port(), proxy_bind=PROXY,
                                                  server_directives="underscores_in_headers on;"))

    def through_nginx(self, path, source, headers=(), **kwargs):
        return self.get(path, source=source, headers=list(headers), port=self.nginx.port, **kwargs)

    def test_x_forwarded_for_with_underscores_is_not_the_client_address(self):
        self.assertEqual(self.through_nginx("/web/login", OFFICE).status, 200, "nginx relays the office")
        for path in ("/web/login", "/odoo"):
            with self.subTest(path=path):
                spoofed = self.through_nginx(path, OUTSIDE, [("X_Forwarded_For", OFFICE)])
                self.assertRefused(spoofed, OUTSIDE)
        self.assertHit(OUTSIDE, "not_allowlisted")
        # Any spelling with an underscore, any case.
        for name in ("x_forwarded_for", "X-Forwarded_For", "X_FORWARDED-FOR"):
            with self.subTest(name=name):
                self.assertRefused(self.through_nginx("/web/login", OUTSIDE, [(name, OFFICE)]), OUTSIDE)

    def test_a_blocklisted_client_is_not_let_through(self):
        self.set_policy(rules=["127.0.0.0/8"])
        self.env["perimeter.blocklist"].create({"network": f"{OUTSIDE}/32", "reason": "password guessing"})
        self.env.flush_all()
        server_tier.forget_snapshots()
        reply = self.through_nginx("/web/login", OUTSIDE, [("X_Forwarded_For", OFFICE)])
        self.assertEqual(reply.status, 403, reply)
        self.assertHit(OUTSIDE, "blocklisted")

    def test_an_employee_held_to_the_office_cannot_log_in_from_outside(self):
        self.set_policy(scope="internal", rules=["127.0.0.0/8"])
        office = self.env["perimeter.allowlist"].search([("network", "=", f"{OFFICE}/32")])
        employee = new_test_user(self.env, login="ursula", password="ursula-password-1", groups="base.group_user")
        employee.perimeter_allowlist_ids = office
        admin = self.env.ref("base.user_admin")
        admin.perimeter_allowlist_ids = office
        key = self.env["res.users.apikeys"].with_user(admin).sudo()._generate(None, "script", None)
        self.env.flush_all()
        server_tier.forget_snapshots()

        def login(source, headers=()):
            params = {"service": "common", "method": "login",
                      "args": [self.env.cr.dbname, "ursula", "ursula-password-1"]}
            return self.json_rpc("/jsonrpc", params, source=source, headers=list(headers),
                                 port=self.nginx.port).json().get("result")

        def admin_call(source, headers=()):
            body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1, "params": {
                "service": "object", "method": "execute_kw",
                "args": [self.env.cr.dbname, admin.id, key, "res.partner", "search_count", [[]]]}})
            reply = self.call("POST", "/jsonrpc", body=body, source=source, port=self.nginx.port,
                              headers=[("Content-Type", "application/json"), *headers])
            return reply.json()

        self.assertEqual(login(OFFICE), employee.id, "from the office, through nginx")
        self.assertFalse(login(OUTSIDE, [("X_Forwarded_For", OFFICE)]), "an office address in X_Forwarded_For")
        self.assertIsInstance(admin_call(OFFICE).get("result"), int)
        self.assertIn("error", admin_call(OUTSIDE, [("X_Forwarded_For", OFFICE)]),
                      "the administrator's API key only works from the office")

    def test_x_forwarded_proto_with_underscores_is_not_https(self):
        self.set_policy(require_https=True)
        plain = self.through_nginx("/web/login", OFFICE, [("X_Forwarded_Proto", "https")])
        self.assertEqual(plain.status, 308, "plain HTTP stays plain HTTP: redirected, not served")
        self.assertTrue(plain.header("Location").startswith("https://"), plain.header("Location"))
        self.assertIsNone(plain.header("Strict-Transport-Security"))


@tagged("post_install", "-at_install")
class TestUnderscoreHeadersDirect(PerimeterHttpCase):
    """Straight to Odoo's server: the underscore spelling changes nothing about who the client is."""

    def setUp(self):
        super().setUp()
        self.enterContext(mute_logger("odoo.http"))
        self.strict_policy()

    def test_from_the_trusted_proxy_itself(self):
        # The dash spelling from the trusted proxy still names the client...
        self.assertEqual(self.get("/web/login", source=PROXY, headers=[("X-Forwarded-For", OFFICE)]).status, 200)
        # ...the underscore spelling is not a proxy header at all: the proxy is judged on its own address.
        self.assertRefused(self.get("/web/login", source=PROXY, headers=[("X_Forwarded_For", OFFICE)]), PROXY)
        self.assertRefused(self.get("/web/login", source=PROXY, headers=[("X_Real_IP", OFFICE)]), PROXY)

    def test_from_an_untrusted_peer(self):
        self.assertRefused(self.get("/web/login", source=OUTSIDE, headers=[("X_Forwarded_For", OFFICE)]), OUTSIDE)
        self.assertHit(OUTSIDE, "not_allowlisted")
        self.assertEqual(self.get("/web/login", source=OFFICE, headers=[("X_Forwarded_For", OUTSIDE)]).status, 200)
        self.assertFalse([hit for _db, hit in self.hits if hit.reason == "untrusted_proxy_headers"],
                         "no proxy header reached Odoo: nothing to report")

    def test_x_forwarded_proto_from_the_trusted_proxy(self):
        self.set_policy(require_https=True)
        forwarded = [("X-Forwarded-For", OFFICE), ("X-Forwarded-Proto", "http"), ("X_Forwarded_Proto", "https")]
        self.assertEqual(self.get("/web/login", source=PROXY, headers=forwarded).status, 308)


def _echo_headers(environ, start_response):
    body = json.dumps({key: value for key, value in environ.items() if key.startswith(("HTTP_", "CONTENT_"))}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _headers_seen(port, headers):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        connection.putrequest("GET", HEADERS_SEEN)
        for name, value in headers:
            connection.putheader(name, value)
        connection.endheaders()
        return json.loads(connection.getresponse().read())
    finally:
        connection.close()


SENT = [("X-Forwarded-For", "192.0.2.1"), ("X_Forwarded_For", "192.0.2.99"), ("X_Custom", "x"),
        ("X-Custom", "y"), ("Content_Type", "text/evil")]
EXPECTED = {"HTTP_X_FORWARDED_FOR": "192.0.2.1", "HTTP_X_CUSTOM": "y"}

# gevent's own handler (Odoo's gevent server subclasses it), in a process of its own.
_GEVENT_ECHO = """
import json, sys
from gevent.pywsgi import WSGIHandler, WSGIServer
def app(environ, start_response):
    body = json.dumps({k: v for k, v in environ.items() if k.startswith(("HTTP_", "CONTENT_"))}).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
server = WSGIServer(("127.0.0.1", 0), app, handler_class=WSGIHandler, log=None)
server.start()
print(server.server_port, flush=True)
server.serve_forever()
"""


def _prefork_handler():
    """The request handler class each prefork worker serves with."""
    prefork = odoo_server.BaseWSGIServerNoBind(_echo_headers)
    prefork.server_close()
    return prefork.RequestHandlerClass


@tagged("post_install", "-at_install")
class TestUnderscoreHeadersEveryServer(PerimeterHttpCase):
    """Threaded (the tests above), prefork and gevent: none hands an underscore header to Odoo."""

    def test_the_handler_is_guarded(self):
        self.assertTrue(server_tier.is_installed(werkzeug.serving.WSGIRequestHandler, "make_environ"))
        self.assertTrue(issubclass(odoo_server.RequestHandler, werkzeug.serving.WSGIRequestHandler),
                        "the threaded server's handler inherits the guard")
        # The prefork workers' handler: werkzeug's on 18, a subclass that keeps its make_environ on 19.
        self.assertTrue(server_tier.is_installed(_prefork_handler(), "make_environ"))

    def test_prefork_workers_handler(self):
        server = werkzeug.serving.BaseWSGIServer("127.0.0.1", 0, _echo_headers, handler=_prefork_handler())
        self.addCleanup(server.server_close)
        thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
        thread.start()
        self.addCleanup(thread.join, 10)
        self.addCleanup(server.shutdown)
        seen = _headers_seen(server.server_port, SENT)
        self.assertEqual({key: seen.get(key) for key in EXPECTED}, EXPECTED)
        self.assertNotIn("evil", json.dumps(seen))

    def test_gevent_handler(self):
        try:
            import gevent  # noqa: F401
        except ImportError:
            self.skipTest("gevent is not installed")
        process = subprocess.Popen([sys.executable, "-c", _GEVENT_ECHO], stdout=subprocess.PIPE, text=True)
        self.addCleanup(process.wait, 10)
        self.addCleanup(process.kill)
        port = int(process.stdout.readline())
        seen = _headers_seen(port, SENT)
        self.assertEqual({key: seen.get(key) for key in EXPECTED}, EXPECTED)
        self.assertNotIn("evil", json.dumps(seen))
