import xmlrpc.client
from unittest.mock import patch

from odoo.tests import tagged

from .common import INSIDE, OUTSIDE, PerimeterHttpCase

STATIC_FILE = "/web/static/img/favicon.ico"


@tagged("post_install", "-at_install")
class TestEnforcement(PerimeterHttpCase):
    """Every way into a database: an outsider gets a 403, an allowlisted client sees no difference."""

    def _fallback_attachment(self):
        return self.env["ir.attachment"].create({
            "name": "fallback.txt", "type": "binary", "url": "/perimeter_test/fallback.txt", "public": True,
            "raw": b"served by the fallback", "mimetype": "text/plain",
        })

    def _requests(self):
        """(label, callable(source) -> Reply, expected status from inside, refusal kind)."""
        attachment = self.env["ir.attachment"].create({
            "name": "public.txt", "raw": b"public attachment", "public": True, "mimetype": "text/plain",
        })
        self._fallback_attachment()
        self.env.flush_all()
        common = ("common", "version", [])
        count = {"model": "res.partner", "method": "search_count", "args": [[]], "kwargs": {}}
        return [
            ("login page", lambda src: self.get("/web/login", source=src), 200, "html"),
            ("backend", lambda src: self.get("/odoo", source=src), 303, "html"),
            ("missing page", lambda src: self.get("/no/such/page", source=src), 404, "html"),
            ("static file", lambda src: self.get(STATIC_FILE, source=src), 200, "html"),
            ("attachment", lambda src: self.get(f"/web/content/{attachment.id}", source=src), 200, "html"),
            ("fallback attachment", lambda src: self.get("/perimeter_test/fallback.txt", source=src), 200, "html"),
            ("JSON route", lambda src: self.json_rpc("/web/webclient/version_info", source=src), 200, "json"),
            ("call_kw", lambda src: self.json_rpc(
                "/web/dataset/call_kw/res.partner/search_count", count, source=src), 200, "json"),
            ("XML-RPC common", lambda src: self.xml_rpc("/xmlrpc/2/common", "version", [], source=src), 200, "xmlrpc"),
            ("XML-RPC object", lambda src: self.xml_rpc(
                "/xmlrpc/2/object", "execute_kw",
                [self.env.cr.dbname, 2, "admin", "res.partner", "search_count", [[]]], source=src), 200, "xmlrpc"),
            ("JSON-RPC", lambda src: self.json_rpc(
                "/jsonrpc", {"service": common[0], "method": common[1], "args": common[2]}, source=src), 200, "json"),
            ("database manager", lambda src: self.get("/web/database/manager", source=src), 200, "html"),
            ("database list", lambda src: self.json_rpc("/web/database/list", source=src), 200, "json"),
            ("websocket handshake", lambda src: self.get("/websocket", source=src, headers=[
                ("Upgrade", "websocket"), ("Connection", "Upgrade"), ("Sec-WebSocket-Version", "13"),
                ("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ=="), ("Origin", "http://127.0.0.1")]), None, "status"),
        ]

    def test_off_changes_nothing(self):
        for label, send, expected, _kind in self._requests():
            reply = send(OUTSIDE)
            if expected is not None:
                self.assertEqual(reply.status, expected, f"{label}: {reply}")
            self.assertNotEqual(reply.status, 403, label)
        self.assertFalse(self.hits)

    def test_outsider_refused_everywhere_insider_sees_no_difference(self):
        requests = self._requests()
        self.strict_policy()
        for label, send, expected, kind in requests:
            with self.subTest(label):
                before = len(self.hits)
                self.assertRefused(send(OUTSIDE), OUTSIDE, kind)
                self.assertEqual(len(self.hits), before + 1, "reported once per request")
                inside = send(INSIDE)
                if expected is not None:
                    self.assertEqual(inside.status, expected, f"{label}: {inside}")
                self.assertNotEqual(inside.status, 403, label)
        hit = self.assertHit(OUTSIDE, "not_allowlisted", path="/web/login")
        self.assertEqual(hit.method, "GET")

    def test_inside_results_are_the_real_ones(self):
        self.strict_policy()
        self.assertEqual(self.get(STATIC_FILE).body[:4], b"\x00\x00\x01\x00")  # an .ico
        self._fallback_attachment()
        self.env.flush_all()
        self.assertEqual(self.get("/perimeter_test/fallback.txt").body, b"served by the fallback")
        version = xmlrpc.client.loads(self.xml_rpc("/xmlrpc/2/common", "version", []).body)[0][0]
        self.assertIn("server_version", version)
        count = self.json_rpc("/web/dataset/call_kw/res.partner/search_count",
                              {"model": "res.partner", "method": "search_count", "args": [[]], "kwargs": {}})
        self.assertIn("error", count.json(), "inside, call_kw goes on to Odoo's own session check")
        self.assertEqual(count.json()["error"]["code"], 100)

    def test_refusal_is_the_same_for_existing_and_missing_paths_and_any_method(self):
        self.strict_policy()
        existing = self.get("/web/login", source=OUTSIDE)
        missing = self.get("/definitely/missing", source=OUTSIDE)
        self.assertEqual((existing.status, existing.body), (missing.status, missing.body))
        for method in ("POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PROPFIND", "TRACE"):
            reply = self.call(method, "/web/login", source=OUTSIDE, body="x=1")
            self.assertEqual(reply.status, 403, method)
        head = self.call("HEAD", "/web/login", source=OUTSIDE)
        self.assertEqual((head.status, head.body), (403, b""))

    def test_monitor_lets_through_and_reports_once(self):
        self.strict_policy(mode="monitor")
        reply = self.get("/web/login", source=OUTSIDE)
        self.assertEqual(reply.status, 200)
        self.assertEqual(len(self.hits), 1, "once per request, however many times _match runs")
        self.assertHit(OUTSIDE, "not_allowlisted", blocked=False, path="/web/login")
        self.assertEqual(self.get("/web/login").status, 200)
        self.assertEqual(len(self.hits), 1, "the allowlisted client is not reported")

    def test_exempt_paths_pass(self):
        self.strict_policy(exempt_paths="/web/health\n/perimeter_test")
        self.assertEqual(self.get("/web/health", source=OUTSIDE).status, 200)
        self._fallback_attachment()
        self.env.flush_all()
        self.assertEqual(self.get("/perimeter_test/fallback.txt", source=OUTSIDE).status, 200)
        self.assertEqual(self.get("/web/health/../login", source=OUTSIDE).status, 403)
        self.assertEqual(self.get("/web/healthz", source=OUTSIDE).status, 403)

    def test_loopback_passes_when_allowed(self):
        self.set_policy(rules=["192.0.2.0/24"], mode="enforce")
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 200)
        self.assertFalse(self.hits)
        self.set_policy(allow_loopback=False)
        self.assertRefused(self.get("/web/login", source=OUTSIDE), OUTSIDE)

    def test_policy_changes_apply_at_once(self):
        self.strict_policy()
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 403)
        rule = self.env["perimeter.allowlist"].create({"name": "Second office", "network": "127.0.0.2"})
        self.env.flush_all()
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 200)
        rule.write({"expires_at": "2000-01-01 00:00:00"})
        self.env.flush_all()
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 403)
        rule.write({"expires_at": False, "active": False})
        self.env.flush_all()
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 403)

    def test_a_flood_of_refusals_costs_no_database_work(self):
        """Once the server tier holds the policy, a refused request is answered before Odoo opens a cursor."""
        self.strict_policy()
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 403)  # the snapshot is now held
        opened = []
        # The instance: 19's test mode patches the registry instance's cursor, a class patch would be unseen.
        registry = self.registry
        original = registry.cursor

        def counting_cursor(*args, **kwargs):
            opened.append(registry.db_name)
            return original(*args, **kwargs)

        with patch.object(registry, "cursor", counting_cursor):
            for path in ("/web/login", "/odoo", "/no/such/page", "/web/dataset/call_kw") * 5:
                self.assertEqual(self.get(path, source=OUTSIDE).status, 403, path)
            self.assertEqual(opened, [])
            self.assertEqual(self.get("/web/login", source=INSIDE).status, 200)
            self.assertTrue(opened, "an allowed request still goes through the database")

    def test_break_glass_lets_everyone_in_and_says_so(self):
        self.strict_policy()
        self.set_server_section(disabled=True)
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 200)
        self.assertEqual(self.get(STATIC_FILE, source=OUTSIDE).status, 200)
        self.assertFalse(self.hits)
        self.authenticate("admin", "admin")
        page = self.get("/odoo", cookies={"session_id": self.session.sid})
        self.assertEqual(page.status, 200)
        self.assertIn('"perimeter_break_glass": true', page.text)
        self.set_server_section(disabled=False)
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 403)
        self.assertNotIn("perimeter_break_glass", self.get("/odoo", cookies={"session_id": self.session.sid}).text)

    def test_odd_requests_are_refused_never_crash(self):
        self.strict_policy()
        for path in ("/%00", "/web/login%00.js", "/..%2f..%2fetc/passwd", "/" + "a" * 6000, "//web/login",
                     "/web/static/../../../etc/passwd", "http://evil.example/web/login", "/web/login?x=%ff%fe"):
            with self.subTest(path=path[:60]):
                self.assertEqual(self.get(path, source=OUTSIDE).status, 403)
        for host in ("", "evil.example", "a" * 300, "127.0.0.1:0", "[::1]:80"):
            with self.subTest(host=host[:60]):
                self.assertEqual(self.get("/web/login", source=OUTSIDE, host=host).status, 403)
