"""The server tier at the WSGI door, HTTPS redirects and HSTS, the configuration file's section at start,
database names from RPC payloads, and RPC callers recorded off the request path (issue 10)."""

import random
import socket
import time
import xmlrpc.client
from unittest.mock import patch

from markupsafe import escape

from odoo.http import Request
from odoo.tests import tagged

from ..guard import rpc_callers, server_tier
from .common import INSIDE, OUTSIDE, PROXY, PerimeterHttpCase, no_database_selected

HTTPS_VIA_PROXY = [("X-Forwarded-Proto", "https")]
FUZZ_REQUESTS = 300
FUZZ_SECONDS = 90


def raw_request(port, data, source=OUTSIDE, timeout=10):
    """Send ``data`` as is from ``source``; return the status code of the answer (None: no status line)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0)) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        received = b""
        while b"\r\n" not in received and len(received) < 65536:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
    status_line = received.partition(b"\r\n")[0].split()
    return int(status_line[1]) if len(status_line) >= 2 and status_line[1].isdigit() else None


@tagged("post_install", "-at_install")
class TestServerTierDoor(PerimeterHttpCase):

    def raw_request(self, port, data):
        """``raw_request`` from OUTSIDE while this test admits requests (raw bytes carry no test cookie)."""
        with self.requests_allowed(without_cookie=True):
            return raw_request(port, data)

    # -- issue 10 item 8: a refused client gets its 403 whatever it sends ---------------------------

    def test_requests_without_host_from_refused_clients_get_403_not_500(self):
        self.strict_policy()
        port = self.http_port()
        for data in (b"GET /odoo HTTP/1.0\r\n\r\n", b"GET /odoo HTTP/1.1\r\nConnection: close\r\n\r\n",
                     b"POST /web/login HTTP/1.0\r\nContent-Length: 3\r\n\r\nabc",
                     b"GET /web/static/img/favicon.ico HTTP/1.0\r\n\r\n"):
            with self.subTest(request=data[:30]):
                self.assertEqual(self.raw_request(port, data), 403)
        self.assertHit(OUTSIDE, "not_allowlisted", path="/odoo")

    def test_refusal_at_the_door_builds_no_odoo_request(self):
        self.strict_policy()
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 403)  # the policy is now held
        built = []
        original = Request.__init__

        def counting_init(request, *args, **kwargs):
            built.append(request)
            return original(request, *args, **kwargs)

        with patch.object(Request, "__init__", counting_init):
            french = self.get("/odoo", source=OUTSIDE, headers=[("Accept-Language", "fr-FR")])
            self.assertRefused(french, OUTSIDE, "status")
            # In the browser's language (i18n/fr.po), though no Odoo request (nor session) exists yet.
            self.assertIn(str(escape("L'accès depuis ce réseau n'est pas autorisé.")), french.text)
            self.assertIn(f"Votre adresse, telle que ce serveur la voit : <code>{OUTSIDE}</code>", french.text)
            self.assertIn('<html lang="fr-FR">', french.text)
            self.assertRefused(self.json_rpc("/web/dataset/call_kw/res.users/read", source=OUTSIDE), OUTSIDE, "json")
            self.assertEqual(built, [], "no Odoo request, so no session read and no database listed")
            self.assertEqual(self.get("/web/login").status, 200)
            self.assertTrue(built, "an allowed client goes on to Odoo")

    def test_the_refusal_page_looks_like_odoos_own_403_in_the_browsers_language(self):
        """Issue 21 items 3 and 8: Odoo's 403 layout (heading in a container), French without English left over."""
        self.strict_policy()
        english = self.get("/odoo", source=OUTSIDE)
        self.assertIn("<title>403: Forbidden</title>", english.text)
        self.assertIn('<h1 class="container mt32">403: Forbidden</h1>', english.text)
        self.assertIn('<p class="lead">Access from this network is not allowed.</p>', english.text)
        french = self.get("/odoo", source=OUTSIDE, headers=[("Accept-Language", "fr-FR,fr;q=0.9")])
        self.assertIn("<title>403 : Accès refusé</title>", french.text)
        self.assertIn('<h1 class="container mt32">403 : Accès refusé</h1>', french.text)
        self.assertIn("Si vous pensez devoir y avoir accès, communiquez cette adresse", french.text)
        for english_word in ("Forbidden", "devriez", "address", "Access"):
            self.assertNotIn(english_word, french.text)
        for revealing in ("<nav", "<header", "<footer", "href=", "<script", "<link"):
            self.assertNotIn(revealing, french.text, "no menu, no link, nothing that reveals the site")

    def test_the_door_stands_aside_when_a_policy_that_could_apply_admits_the_client(self):
        self.strict_policy()
        with no_database_selected():
            # No database can be chosen: the configuration file's policy applies, and it restricts nothing.
            self.assertNotEqual(self.get("/web/database/selector", source=OUTSIDE).status, 403)
            self.set_server_section(server_allowlist=f"{INSIDE}/32", allow_loopback=False)
            self.assertRefused(self.get("/web/database/selector", source=OUTSIDE), OUTSIDE)
            self.assertHit(OUTSIDE, "not_allowlisted", path="/web/database/selector", dbname=False)

    def test_fuzzed_requests_from_refused_clients_never_get_a_500(self):
        """A bounded fuzz of the full request path (raw sockets, loopback): refused clients get 403, never 500."""
        self.strict_policy()
        port = self.http_port()
        rng = random.Random(10)
        methods = [b"GET", b"POST", b"HEAD", b"PUT", b"DELETE", b"OPTIONS", b"PROPFIND", b"PATCH", b"CONNECT",
                   b"TRACE", b"BREW"]
        paths = [b"/odoo", b"/", b"*", b"/%00", b"/odoo%00", b"//", b"/../../etc/passwd", b"http://evil.example/odoo",
                 b"/web/login?db=x", b"/web/login?db=%00", b"/websocket", b"/xmlrpc/2/object", b"/xmlrpc/2/db",
                 b"/jsonrpc", b"/web/database/manager", b"/web/static/../../x", b"/web/health/../login",
                 b"/web/dataset/call_kw", b"/" + b"a" * 4000, b"/%ff%fe", b"/caf\xc3\xa9", b"/a?" + b"x=1&" * 200]
        # HTTP/2.0 is answered 505 by the HTTP server before any WSGI code (and Odoo's handler logs an error).
        versions = [b"HTTP/1.0", b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.2"]
        hosts = [None, b"", b"evil.example", b"a b", b"127.0.0.1:99999", b"[::1]", b"\xff\xfe", b"x" * 300,
                 b"127.0.0.1", b"localhost:8069"]
        extras = [b"", b"Cookie: session_id=../../etc\r\n", b"Cookie: session_id=" + b"z" * 200 + b"\r\n",
                  b"X-Forwarded-For: 127.0.0.1\r\n", b"X-Forwarded-Host: evil.example\r\n",
                  b"Forwarded: for=127.0.0.1;proto=https\r\n", b"Content-Type: application/json\r\n",
                  b"Content-Type: text/xml\r\n", b"Accept-Language: ;;;q=x,fr-FR\r\n", b"Upgrade: websocket\r\n",
                  b"Transfer-Encoding: chunked\r\n", b"Content-Length: -1\r\n", b"X-Odoo-Database: x\x01\r\n",
                  b"Host: second.example\r\n"]
        bodies = [b"", b"{", b'{"jsonrpc":"2.0","params":{"db":"x\\u0000"}}', b"<?xml version='1.0'?><methodCall>",
                  b"0\r\n\r\n"]
        statuses, deadline = {}, time.monotonic() + FUZZ_SECONDS
        sent = 0
        while sent < FUZZ_REQUESTS and time.monotonic() < deadline:
            host = rng.choice(hosts)
            body = rng.choice(bodies)
            data = b"%s %s %s\r\n" % (rng.choice(methods), rng.choice(paths), rng.choice(versions))
            data += b"Host: %s\r\n" % host if host is not None else b""
            data += b"".join(rng.sample(extras, rng.randint(0, 3)))
            data += b"Content-Length: %d\r\n" % len(body) if body and rng.random() < 0.7 else b""
            data += b"\r\n" + body
            status = self.raw_request(port, data)
            statuses.setdefault(status, []).append(data[:120])
            sent += 1
        self.assertGreaterEqual(sent, 50, "the fuzz ran")
        self.assertNotIn(500, statuses, statuses.get(500, [])[:5])
        # Requests the HTTP server itself rejects (a broken request line) get its 4xx/5xx before any WSGI code;
        # everything that reaches Odoo gets the refusal.
        reached = {status for status in statuses if status not in (400, 414, 431, 501, 505, None)}
        self.assertEqual(reached, {403}, {status: statuses[status][:3] for status in reached})

    # -- item 10: the HTTPS redirect goes to the canonical origin -----------------------------------

    def _require_https(self, base_url):
        self._set_base_url(base_url)
        self.strict_policy(require_https=True)

    def _set_base_url(self, base_url):
        self.env["ir.config_parameter"].sudo().set_param("web.base.url", base_url)
        self.env.flush_all()
        server_tier.forget_snapshots()

    def test_https_redirect_goes_to_web_base_url_not_the_host_header(self):
        self._require_https("http://erp.example.com:8069")
        for host in ("evil.com", "erp.example.com:8069", f"127.0.0.1:{self.http_port()}", "a b"):
            with self.subTest(host=host):
                reply = self.get("/odoo?x=1", host=host)
                self.assertEqual(reply.status, 308)
                self.assertEqual(reply.header("Location"), "https://erp.example.com/odoo?x=1",
                                 "never the client's Host, never the plain-HTTP port")
        self._set_base_url("https://erp.example.com:8443/")
        self.assertEqual(self.get("/odoo", host="evil.com").header("Location"), "https://erp.example.com:8443/odoo")

    def test_https_redirect_follows_the_host_a_trusted_proxy_forwarded(self):
        self._require_https("https://erp.example.com")
        self.set_policy(canonical_hosts="erp.example.com\nshop.example.com")
        forwarded = [("X-Forwarded-For", INSIDE), ("X-Forwarded-Host", "shop.example.com:8080"),
                     ("X-Forwarded-Proto", "http")]
        reply = self.get("/shop", source=PROXY, headers=forwarded)
        self.assertEqual(reply.header("Location"), "https://shop.example.com/shop")
        spoofed = self.get("/shop", headers=[("X-Forwarded-Host", "shop.example.com")])
        self.assertEqual(spoofed.header("Location"), "https://erp.example.com/shop", "only a trusted proxy's")
        # Even a trusted proxy cannot send anyone to a host that is not canonical.
        forwarded[1] = ("X-Forwarded-Host", "evil.com")
        self.assertEqual(self.get("/shop", source=PROXY, headers=forwarded).header("Location"),
                         "https://erp.example.com/shop")

    # -- item 11: HSTS on every HTTPS response ------------------------------------------------------

    def test_hsts_on_refusals_and_exempt_paths_over_https(self):
        self._require_https("https://erp.example.com")
        refused = self.get("/odoo", source=PROXY, headers=[("X-Forwarded-For", OUTSIDE), *HTTPS_VIA_PROXY])
        self.assertRefused(refused, OUTSIDE)
        self.assertEqual(refused.header("Strict-Transport-Security"), "max-age=31536000")
        health = self.get("/web/health", source=PROXY, headers=[("X-Forwarded-For", OUTSIDE), *HTTPS_VIA_PROXY])
        self.assertEqual(health.status, 200)
        self.assertEqual(health.header("Strict-Transport-Security"), "max-age=31536000")
        self.assertIsNone(self.get("/web/health", source=OUTSIDE).header("Strict-Transport-Security"),
                          "never over plain HTTP")

    # -- item 12: requests with no database over HTTPS only -----------------------------------------

    def test_database_manager_requires_https_from_the_configuration_file(self):
        self.set_server_section(require_https="True", allow_loopback="False", trusted_proxies=f"{PROXY}/32")
        manager = self.get("/web/database/manager", source=OUTSIDE)
        self.assertEqual(manager.status, 403)
        self.assertIn("HTTPS", manager.text)
        self.assertHit(OUTSIDE, "not_https", path="/web/database/manager", dbname=False)
        fault = self.xml_rpc("/xmlrpc/2/db", "list", [], source=OUTSIDE)
        self.assertEqual(fault.status, 403)
        proxied = self.get("/web/database/manager", source=PROXY,
                           headers=[("X-Forwarded-For", OUTSIDE), ("X-Forwarded-Host", "erp.example.com")])
        self.assertEqual((proxied.status, proxied.header("Location")), (403, None),
                         "a forwarded host alone is no canonical host")
        self.set_server_section(require_https="True", allow_loopback="False", trusted_proxies=f"{PROXY}/32",
                                canonical_hosts="erp.example.com")
        proxied = self.get("/web/database/manager", source=PROXY,
                           headers=[("X-Forwarded-For", OUTSIDE), ("X-Forwarded-Host", "erp.example.com")])
        self.assertEqual((proxied.status, proxied.header("Location")),
                         (308, "https://erp.example.com/web/database/manager"))
        self.set_server_section(require_https="True", allow_loopback="False", trusted_proxies=f"{PROXY}/32")
        secure = self.get("/web/database/manager", source=PROXY, headers=[("X-Forwarded-For", OUTSIDE),
                                                                         *HTTPS_VIA_PROXY])
        self.assertEqual(secure.status, 200)
        self.assertEqual(secure.header("Strict-Transport-Security"), "max-age=31536000")
        with no_database_selected():
            self.assertEqual(self.get("/web/database/selector", source=OUTSIDE).status, 403)
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 200, "database requests: its own policy")

    # -- item 6: the section is checked at start ----------------------------------------------------

    def test_mistyped_option_is_reported_when_the_server_tier_starts(self):
        self.set_server_section(disable="True", require_https="sometimes")
        with self.assertLogs("odoo.addons.perimeter_security.guard.server_config", "ERROR") as logs:
            server_tier.install()  # what post_load does at start
        text = "\n".join(logs.output)
        self.assertIn("disable: unknown option, ignored (did you mean disabled?", text)
        self.assertIn("require_https: 'sometimes' is not True or False", text)

    # -- item 9: database names from RPC payloads ---------------------------------------------------

    def test_unusable_database_names_in_rpc_payloads_answer_database_not_found(self):
        self.strict_policy()
        for dbname in ("rt_main\x00x", "postgresql://user:pw@127.0.0.1:5433/db", "x" * 80):
            with self.subTest(dbname=dbname[:30]):
                args = [dbname, 2, "admin", "res.users", "search_count", [[]]]
                reply = self.json_rpc("/jsonrpc", {"service": "object", "method": "execute_kw", "args": args})
                error = reply.json()["error"]
                self.assertEqual(error["data"]["message"], "Database not found.")
                self.assertFalse(error["data"]["debug"], "no traceback")
                login = self.json_rpc("/jsonrpc", {"service": "common", "method": "login",
                                                   "args": [dbname, "admin", "admin"]})
                self.assertEqual(login.json()["error"]["data"]["message"], "Database not found.")
        fault = self.xml_rpc("/xmlrpc/2/object", "execute_kw",
                             ["postgresql://user:pw@127.0.0.1:5433/db", 2, "admin", "res.users", "search_count", [[]]])
        with self.assertRaises(xmlrpc.client.Fault) as raised:
            xmlrpc.client.loads(fault.body)
        self.assertEqual((raised.exception.faultCode, raised.exception.faultString), (4, "Database not found."))
        # Odoo's own controller answers first when its dbfilter excludes the name; the same words either way.
        authenticate = self.json_rpc("/web/session/authenticate",
                                     {"db": "rt_main\x00x", "login": "admin", "password": "admin"})
        self.assertEqual(authenticate.json()["error"]["data"]["message"], "Database not found.")

    # -- item 14: recording an RPC caller never writes on the request path --------------------------

    def test_recording_an_rpc_caller_never_writes_on_the_request_path(self):
        dbname = self.env.cr.dbname
        rpc_callers.TALLY.drain()
        callers = self.env["perimeter.rpc.caller"].sudo()
        with patch.object(rpc_callers.TALLY, "flush_interval", 0):  # every call finds a flush "due"
            rpc_callers.record_call(dbname, self.env.uid, 0, "192.0.2.45", "https")
            rpc_callers.record_call(dbname, self.env.uid, 0, "192.0.2.45", "https")
        self.assertEqual(rpc_callers.TALLY.pending(dbname), 1, "counted in memory")
        self.assertFalse(callers.search([("ip", "=", "192.0.2.45")]), "nothing written by the caller")
        rpc_callers.flush(env=self.env)
        self.assertEqual(callers.search([("ip", "=", "192.0.2.45")]).mapped("hits"), [2])
