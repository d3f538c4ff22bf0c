"""HTTPS redirects go only to a host this Odoo serves, through a real nginx.

Two nginx set-ups in front of Odoo's test server: one that forwards the
client's ``Host`` as ``X-Forwarded-Host`` over plain HTTP (what the README used
to recommend, and what many proxies do), and the README's own configuration,
taken from README.md with only its ports and certificate paths rewritten.
"""

import http.client
import re
import socket
import ssl
import unittest
from pathlib import Path

from odoo.exceptions import ValidationError
from odoo.tests import TransactionCase, tagged
from odoo.tests.common import TEST_CURSOR_COOKIE_NAME
from odoo.tools import mute_logger

from ..testing.certs import CertFactory
from ..testing.nginx import NGINX, NginxProxy, NginxServers, free_port
from .common import INSIDE, OUTSIDE, PROXY, PerimeterHttpCase, Reply

README = Path(__file__).resolve().parent.parent / "README.md"


def readme_nginx_configuration():
    """The nginx configuration of the README's "Behind nginx" section, as written."""
    section = README.read_text(encoding="utf-8").split("## Behind nginx", 1)[1]
    return re.search(r"```nginx\n(.*?)```", section, re.DOTALL).group(1)


@tagged("post_install", "-at_install")
class TestCanonicalHostsSetting(TransactionCase):
    def _settings(self, **values):
        return self.env["res.config.settings"].create(values)

    def test_saved_normalised_and_shown(self):
        self._settings(perimeter_canonical_hosts="ERP.example.com:443\nshop.example.com:8443\nerp.example.com").execute()
        stored = self.env["ir.config_parameter"].sudo().get_param("perimeter_security.canonical_hosts")
        self.assertEqual(stored, "erp.example.com\nshop.example.com:8443")
        self.assertEqual(self._settings().perimeter_canonical_hosts, "erp.example.com\nshop.example.com:8443")
        self.assertEqual(self.env["perimeter.policy"]._perimeter_decider().policy.canonical_hosts,
                         ("erp.example.com", "shop.example.com:8443"), "compiled into the policy snapshot")
        self._settings(perimeter_canonical_hosts=False).execute()
        self.assertFalse(self._settings().perimeter_canonical_hosts)

    def test_a_url_or_a_wildcard_is_refused_with_a_clear_error(self):
        for text in ("https://erp.example.com", "*.example.com", "erp.example.com/odoo"):
            with self.subTest(text=text), \
                    self.assertRaisesRegex(ValidationError, r"Canonical hosts: .*not a host name"):
                self._settings(perimeter_canonical_hosts=text).execute()
        with self.assertRaisesRegex(ValidationError, "not a host name"):
            self.env["ir.config_parameter"].sudo().set_param("perimeter_security.canonical_hosts", "evil.example/x")


@tagged("post_install", "-at_install")
@unittest.skipIf(NGINX is None, "nginx is not installed (apt-get install nginx-light)")
class TestCanonicalHostsThroughNginx(PerimeterHttpCase):
    """An nginx (trusted, from 127.0.0.3) that forwards ``X-Forwarded-Host: $host`` over plain HTTP."""

    def setUp(self):
        super().setUp()
        self.enterContext(mute_logger("odoo.http"))
        self.env["ir.config_parameter"].sudo().set_param("web.base.url", "http://erp.example.com:8069")
        self.set_policy(require_https=True, allow_loopback=False, trusted_proxies=f"{PROXY}/32")
        self.nginx = self.enterContext(NginxProxy("", self.http_port(), proxy_bind=PROXY,
                                                  location_directives="proxy_set_header X-Forwarded-Host $host;"))

    def redirect(self, host):
        reply = self.get("/odoo?x=1", source=OUTSIDE, host=host, port=self.nginx.port)
        self.assertEqual(reply.status, 308, reply)
        return reply.header("Location")

    def test_the_clients_host_is_not_a_redirect_target(self):
        for host in ("evil.example", "evil.example:8069", "shop.example.com", "erp.example.com.evil.example"):
            with self.subTest(host=host):
                self.assertEqual(self.redirect(host), "https://erp.example.com/odoo?x=1")
        self.assertEqual(self.redirect("ERP.example.com"), "https://erp.example.com/odoo?x=1")

    def test_canonical_hosts_listed(self):
        self.set_policy(canonical_hosts="erp.example.com\nshop.example.com:8443")
        self.assertEqual(self.redirect("shop.example.com"), "https://shop.example.com:8443/odoo?x=1")
        self.assertEqual(self.redirect("evil.example"), "https://erp.example.com/odoo?x=1")
        self.set_policy(canonical_hosts="shop.example.com")
        self.assertEqual(self.redirect("erp.example.com"), "https://shop.example.com/odoo?x=1",
                         "the list replaces web.base.url's host")

    def test_database_manager_needs_canonical_hosts_in_the_configuration_file(self):
        self.set_policy(require_https=False)  # the configuration file's section alone decides
        self.set_server_section(require_https="True", trusted_proxies=f"{PROXY}/32")
        reply = self.get("/web/database/manager", source=OUTSIDE, host="evil.example", port=self.nginx.port)
        self.assertEqual(reply.status, 403, reply)
        self.assertIsNone(reply.header("Location"))
        self.set_server_section(require_https="True", trusted_proxies=f"{PROXY}/32", canonical_hosts="erp.example.com")
        reply = self.get("/web/database/manager", source=OUTSIDE, host="evil.example", port=self.nginx.port)
        self.assertEqual((reply.status, reply.header("Location")), (308, "https://erp.example.com/web/database/manager"))


class _TlsConnection(http.client.HTTPConnection):
    """HTTPS to 127.0.0.1:port, naming ``server_name`` in SNI."""

    def __init__(self, port, server_name, context, source):
        super().__init__("127.0.0.1", port, timeout=15, source_address=(source, 0))
        self.server_name, self.context = server_name, context

    def connect(self):
        self.sock = self.context.wrap_socket(
            socket.create_connection((self.host, self.port), self.timeout, self.source_address),
            server_hostname=self.server_name)


@tagged("post_install", "-at_install")
@unittest.skipIf(NGINX is None, "nginx is not installed (apt-get install nginx-light)")
class TestReadmeNginx(PerimeterHttpCase):
    """The README's nginx configuration, run as written (ports and certificate paths rewritten)."""

    def setUp(self):
        super().setUp()
        self.enterContext(mute_logger("odoo.http"))
        self.env["ir.config_parameter"].sudo().set_param("web.base.url", "https://erp.example.com")
        # As the README says: nginx on the same machine, trusted as 127.0.0.1.
        self.set_policy(mode="enforce", rules=[f"{OUTSIDE}/32"], require_https=True, allow_loopback=False,
                        trusted_proxies=f"{INSIDE}/32")
        certs = self.enterContext(CertFactory())
        self.ca = certs.ca.cert_path
        leaf = certs.leaf(["erp.example.com"])
        self.http, self.https = free_port(), free_port()
        config = readme_nginx_configuration()
        for old, new in ((r"listen 80\b", f"listen 127.0.0.1:{self.http}"),
                         (r"listen 443\b", f"listen 127.0.0.1:{self.https}"),
                         (r"127\.0\.0\.1:80(69|72)\b", f"127.0.0.1:{self.http_port()}"),
                         (r"/etc/ssl/erp\.example\.com\.pem", leaf.cert_path),
                         (r"/etc/ssl/erp\.example\.com\.key", leaf.key_path)):
            config, count = re.subn(old, new, config)
            self.assertTrue(count, f"the README's configuration has {old}")
        self.enterContext(NginxServers(config, wait_port=self.https))

    def request(self, port, host, path="/odoo?x=1", server_name=None, verify=True):
        """The reply, or None when nginx closed the connection without answering (or refused the handshake)."""
        with self.requests_allowed():
            if server_name is None:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=15, source_address=(OUTSIDE, 0))
            else:
                context = ssl.create_default_context(cafile=self.ca)
                if not verify:
                    context.check_hostname = False  # whatever certificate nginx shows: does it answer at all?
                connection = _TlsConnection(port, server_name, context, OUTSIDE)
            try:
                connection.putrequest("GET", path, skip_host=True, skip_accept_encoding=True)
                connection.putheader("Host", host)
                connection.putheader("Cookie", f"{TEST_CURSOR_COOKIE_NAME}={self.http_request_key}")
                connection.endheaders()
                return Reply(connection.getresponse())
            except (http.client.RemoteDisconnected, ConnectionResetError, ssl.SSLError):
                return None
            finally:
                connection.close()

    def test_plain_http_goes_to_the_servers_own_name(self):
        reply = self.request(self.http, "erp.example.com")
        self.assertEqual((reply.status, reply.header("Location")), (308, "https://erp.example.com/odoo?x=1"))
        for host in ("evil.example", "erp.example.com.evil.example"):
            with self.subTest(host=host):
                reply = self.request(self.http, host)
                self.assertFalse(reply is not None and "evil" in (reply.header("Location") or ""), reply)

    def test_https_reaches_odoo_for_its_own_name_only(self):
        served = self.request(self.https, "erp.example.com", "/web/login", server_name="erp.example.com")
        self.assertEqual(served.status, 200, served)
        self.assertEqual(served.header("Strict-Transport-Security"), "max-age=31536000",
                         "Odoo sees https and the client's own address (allowlisted) through the README's nginx")
        for host in ("evil.example", "evil.example:443"):
            with self.subTest(host=host):
                reply = self.request(self.https, host, server_name="erp.example.com")
                self.assertFalse(reply is not None and "evil" in (reply.header("Location") or ""), reply)
                self.assertFalse(reply is not None and reply.status == 200, "another name never reaches Odoo")
        self.assertIsNone(self.request(self.https, "evil.example", server_name="evil.example", verify=False),
                          "no handshake for another name")
