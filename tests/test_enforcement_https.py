from odoo.tests import tagged

from .common import INSIDE, OUTSIDE, PROXY, PerimeterHttpCase

STATIC_FILE = "/web/static/img/favicon.ico"
HTTPS = [("X-Forwarded-For", INSIDE), ("X-Forwarded-Proto", "https")]


@tagged("post_install", "-at_install")
class TestHttps(PerimeterHttpCase):
    """Require HTTPS: 308 for GET/HEAD, 403 otherwise, HSTS and Secure cookies over HTTPS."""

    def setUp(self):
        super().setUp()
        # Redirects go to web.base.url's host (its plain-HTTP port dropped), never to the client's Host.
        self.env["ir.config_parameter"].sudo().set_param("web.base.url", f"http://erp.example.com:{self.http_port()}")
        self.strict_policy(require_https=True)
        self.location = "https://erp.example.com"

    def test_plain_http_get_and_head_are_redirected(self):
        reply = self.get("/web/login?redirect=%2Fodoo&x=1")
        self.assertEqual(reply.status, 308)
        self.assertEqual(reply.header("Location"), f"{self.location}/web/login?redirect=%2Fodoo&x=1")
        self.assertFalse(reply.headers("Set-Cookie"), "no session is opened over plain HTTP")
        self.assertIsNone(reply.header("Strict-Transport-Security"), "HSTS is ignored over HTTP: not sent")
        self.assertEqual(self.call("HEAD", "/odoo").status, 308)
        self.assertEqual(self.get(STATIC_FILE).header("Location"), f"{self.location}{STATIC_FILE}")
        self.assertEqual(self.get("/no/such/page").status, 308)

    def test_plain_http_other_methods_are_refused(self):
        for method in ("POST", "PUT", "DELETE"):
            reply = self.call(method, "/web/login", body="login=admin&password=admin")
            self.assertEqual(reply.status, 403, method)
            self.assertIn("accepts secure (HTTPS) connections only", reply.text)
            self.assertIn(f"<code>{INSIDE}</code>", reply.text)
        self.assertHit(INSIDE, "not_https", path="/web/login")
        rpc = self.json_rpc("/web/webclient/version_info")
        self.assertEqual(rpc.status, 403)
        self.assertIn("HTTPS", rpc.json()["error"]["message"])

    def test_outsiders_are_refused_not_redirected(self):
        self.assertRefused(self.get("/web/login", source=OUTSIDE), OUTSIDE)

    def test_redirect_location_cannot_carry_headers_or_other_hosts(self):
        reply = self.get("/web/x%0d%0aSet-Cookie:%20evil=1")
        self.assertEqual(reply.status, 308)
        self.assertEqual(reply.header("Location"), f"{self.location}/web/x%0D%0ASet-Cookie:%20evil=1")
        self.assertFalse(reply.headers("Set-Cookie"))
        for host in ("evil.com/path", "a b", "x@evil.com", "127.0.0.1:99999999", "evil.com"):
            reply = self.get("/web/login", host=host)
            self.assertEqual((reply.status, reply.header("Location")), (308, f"{self.location}/web/login"), host)

    def test_https_through_the_proxy_gets_hsts_and_secure_cookies(self):
        for path, status in (("/web/login", 200), ("/no/such/page", 404), (STATIC_FILE, 200)):
            reply = self.get(path, source=PROXY, headers=HTTPS)
            self.assertEqual(reply.status, status, path)
            self.assertEqual(reply.header("Strict-Transport-Security"), "max-age=31536000", path)
        login = self.get("/web/login", source=PROXY, headers=HTTPS)
        cookies = login.headers("Set-Cookie")
        self.assertTrue(any(cookie.startswith("session_id=") for cookie in cookies), cookies)
        for cookie in cookies:
            self.assertIn("; Secure", cookie)
            self.assertEqual(cookie.lower().count("secure"), 1, cookie)

    def test_hsts_max_age_setting(self):
        self.set_policy(hsts_max_age=600)
        self.assertEqual(self.get("/web/login", source=PROXY, headers=HTTPS).header("Strict-Transport-Security"),
                         "max-age=600")
        self.set_policy(hsts_max_age=0)
        reply = self.get("/web/login", source=PROXY, headers=HTTPS)
        self.assertIsNone(reply.header("Strict-Transport-Security"))
        self.assertTrue(all("; Secure" in cookie for cookie in reply.headers("Set-Cookie")))

    def test_without_require_https_nothing_is_added(self):
        self.set_policy(require_https=False)
        reply = self.get("/web/login", source=PROXY, headers=HTTPS)
        self.assertIsNone(reply.header("Strict-Transport-Security"))
        self.assertTrue(reply.headers("Set-Cookie"))
        self.assertFalse(any("secure" in cookie.lower() for cookie in reply.headers("Set-Cookie")))
        self.assertEqual(self.get("/web/login").status, 200)

    def test_x_forwarded_proto_is_believed_from_trusted_proxies_only(self):
        spoofed = self.get("/web/login", headers=[("X-Forwarded-Proto", "https")])
        self.assertEqual(spoofed.status, 308, "a client cannot claim HTTPS itself")
        self.assertHit(INSIDE, "untrusted_proxy_headers", blocked=False)
        plain_via_proxy = self.get("/web/login", source=PROXY, headers=[("X-Forwarded-For", INSIDE),
                                                                         ("X-Forwarded-Proto", "http")])
        self.assertEqual(plain_via_proxy.status, 308)

    def test_https_required_even_when_mode_is_off_but_not_for_loopback(self):
        self.set_policy(mode="off")
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 308)
        self.set_policy(allow_loopback=True)
        reply = self.get("/web/login", source=OUTSIDE)
        self.assertEqual(reply.status, 200, "local scripts and health checks do not cross the network")
        self.assertIsNone(reply.header("Strict-Transport-Security"))
        self.assertFalse(any("secure" in cookie.lower() for cookie in reply.headers("Set-Cookie")))
