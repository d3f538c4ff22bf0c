import http.client
import os
import shlex
import subprocess
import tempfile
import time
import unittest
from pathlib import Path

from odoo.tests import tagged
from odoo.tools import mute_logger

from ..guard import odoo_version, server_tier
from ..testing.nginx import NGINX, NginxProxy
from .common import INSIDE, OUTSIDE, PROXY, PerimeterHttpCase

SCRIPT = Path(__file__).resolve().parent.parent / "deploy" / "edge_sync.sh"
THIRD = "127.0.0.4"
RELOAD_SECONDS = 10


@tagged("post_install", "-at_install")
class TestEdgeSync(PerimeterHttpCase):
    """GET /perimeter/edge/<format> for the sync user's API key, and the sync job against a real nginx."""

    def setUp(self):
        super().setUp()
        # The sync job runs on the proxy's host (127.0.0.1 here, where nginx reaches Odoo from): a trusted proxy.
        self.set_policy(rules=[f"{INSIDE}/32", f"{OUTSIDE}/32", f"{THIRD}/32"], mode="enforce", allow_loopback=False,
                        trusted_proxies=f"{INSIDE}/32")
        self.key = self.env["perimeter.edge.sync"]._perimeter_new_sync_key("test edge")
        self.enterContext(mute_logger("odoo.http"))

    def block(self, network):
        self.env["perimeter.blocklist"].create({"network": network, "reason": "test"})
        self.env.flush_all()
        server_tier.forget_snapshots()

    def fetch(self, path="/perimeter/edge/nginx", key=None, etag=None):
        headers = [("Authorization", f"Bearer {key or self.key}")] if key is not False else []
        if etag:
            headers.append(("If-None-Match", etag))
        return self.get(path, headers=headers)

    def test_the_sync_user_gets_the_rules_in_force_and_a_304_when_nothing_changed(self):
        first = self.fetch()
        self.assertEqual(first.status, 200, first)
        self.assertIn(f"allow {OUTSIDE}/32;", first.text)
        self.assertTrue(first.text.rstrip().endswith("deny all;"))
        etag = first.header("ETag")
        self.assertEqual(self.fetch(etag=etag).status, 304)
        self.block(OUTSIDE)
        changed = self.fetch(etag=etag)
        self.assertEqual(changed.status, 200)
        self.assertIn(f"deny {OUTSIDE}/32;", changed.text)
        self.assertLess(changed.text.index(f"deny {OUTSIDE}/32;"), changed.text.index(f"allow {OUTSIDE}/32;"))
        self.assertNotEqual(changed.header("ETag"), etag)
        haproxy = self.fetch("/perimeter/edge/haproxy")
        self.assertIn(f"\n{INSIDE}/32\n", haproxy.text)
        blocked = self.fetch("/perimeter/edge/haproxy?list=block")
        self.assertEqual([line for line in blocked.text.splitlines() if not line.startswith("#")], [f"{OUTSIDE}/32"])

    def test_only_the_sync_user_or_an_administrator_with_a_key(self):
        self.assertEqual(self.fetch(key=False).status, 401)
        self.assertEqual(self.fetch(key="not-a-key").status, 401)
        demo = self.env["res.users"].create({"name": "Clerk", "login": "clerk", odoo_version.USER_GROUPS_FIELD: [
            (6, 0, [self.env.ref("base.group_user").id])]})
        clerk_key = self.env["res.users.apikeys"].with_user(demo).sudo()._generate(None, "clerk", None)
        self.assertEqual(self.fetch(key=clerk_key).status, 403)
        admin_key = self.env["res.users.apikeys"].with_user(self.env.ref("base.user_admin")).sudo()._generate(
            None, "admin", None)
        self.assertEqual(self.fetch(key=admin_key).status, 200)

    def test_when_not_enforcing_the_edge_only_gets_the_blocklist(self):
        self.block(OUTSIDE)
        self.set_policy(mode="monitor")
        text = self.fetch().text
        self.assertNotIn("deny all;", text)
        self.assertNotIn(f"deny {OUTSIDE}/32;", text, "monitor refuses nobody in Odoo, so nobody at the edge")

    # -- the sync job against a real nginx in front of Odoo --------------------------------------

    def sync(self, nginx, url=None, key=None):
        with tempfile.NamedTemporaryFile("w", delete=False) as key_file:
            key_file.write(key or self.key)
        self.addCleanup(os.unlink, key_file.name)
        env = dict(os.environ,
                   EDGE_URL=url or f"http://127.0.0.1:{self.http_port()}/perimeter/edge/nginx",
                   EDGE_KEY_FILE=key_file.name, EDGE_TARGET=str(nginx.rules_file),
                   EDGE_CHECK=shlex.join(nginx.command("-t", "-q")),
                   EDGE_RELOAD=shlex.join(nginx.command("-s", "reload")), EDGE_TIMEOUT="15")
        with self.requests_allowed(without_cookie=True):  # the script sends no test cookie
            done = subprocess.run(["sh", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=60)
            return done.returncode, done.stderr

    def through(self, nginx, source):
        with self.requests_allowed(without_cookie=True):  # a plain client, as nginx's users are
            connection = http.client.HTTPConnection("127.0.0.1", nginx.port, timeout=15, source_address=(source, 0))
            try:
                connection.request("GET", "/web/login")
                response = connection.getresponse()
                return response.status, response.read().decode("utf-8", "replace")
            finally:
                connection.close()

    def settled(self, nginx, source, expected, by_nginx=False):
        """The status (and body) ``source`` gets through nginx, once it is ``expected`` (from nginx itself, with
        ``by_nginx``: Odoo, which sees the client behind its trusted proxy, refuses a blocked one too) or after
        RELOAD_SECONDS.

        A reload swaps nginx's workers over a moment: the new rules are waited for, bounded.
        """
        deadline = time.monotonic() + RELOAD_SECONDS
        while True:
            status, body = self.through(nginx, source)
            if status == expected and (not by_nginx or "nginx" in body) or time.monotonic() > deadline:
                return status, body
            time.sleep(0.2)

    def assertRefusedByNginx(self, nginx, source):
        status, body = self.settled(nginx, source, 403, by_nginx=True)
        self.assertEqual(status, 403)
        self.assertIn("nginx", body, "refused by nginx itself, not by Odoo")

    @unittest.skipIf(NGINX is None, "nginx is not installed (apt-get install nginx-light)")
    def test_the_sync_job_keeps_a_real_nginx_in_step(self):
        with NginxProxy("deny all;\n", self.http_port()) as nginx:
            rc, log = self.sync(nginx)
            self.assertEqual(rc, 0, log)
            self.assertIn("installed new rules", log)
            self.assertEqual(self.settled(nginx, OUTSIDE, 200)[0], 200, "the first sync admits the allowlist")
            rc, log = self.sync(nginx)
            self.assertEqual((rc, "unchanged (304)" in log), (0, True), log)

            self.block(OUTSIDE)
            rc, log = self.sync(nginx)
            self.assertEqual(rc, 0, log)
            self.assertRefusedByNginx(nginx, OUTSIDE)
            self.assertEqual(self.through(nginx, THIRD)[0], 200)

            self.block(THIRD)  # a new rule, picked up on the next sync
            self.assertEqual(self.sync(nginx)[0], 0)
            self.assertRefusedByNginx(nginx, THIRD)

            good = nginx.rules_file.read_text()
            rc, log = self.sync(nginx, key="revoked-key")
            self.assertEqual(rc, 1)
            self.assertIn("Odoo answered 401", log)
            rc, log = self.sync(nginx, url="http://127.0.0.1:9/perimeter/edge/nginx")
            self.assertEqual(rc, 1)
            self.assertIn("Odoo unreachable", log)
            self.assertEqual(nginx.rules_file.read_text(), good, "the last good file is kept")
            self.assertRefusedByNginx(nginx, THIRD)
            self.assertEqual(self.through(nginx, INSIDE)[0], 200)


@tagged("post_install", "-at_install")
class TestEdgeSyncKeyFromTheProxies(PerimeterHttpCase):
    """The sync user's key works from the trusted proxies only, in scope internal (where the public side is
    open to anybody) as in scope all, unless networks are named for the sync user."""

    def setUp(self):
        super().setUp()
        self.set_policy(rules=[f"{INSIDE}/32"], mode="enforce", scope="internal", allow_loopback=False,
                        trusted_proxies=f"{PROXY}/32")
        self.sync_user = self.env.ref("perimeter_security.user_perimeter_edge_sync")
        self.key = self.env["perimeter.edge.sync"]._perimeter_new_sync_key("test edge")
        self.enterContext(mute_logger("odoo.http", "odoo.addons.base.models.res_users"))

    def status(self, source, forwarded_for=None):
        headers = [("Authorization", f"Bearer {self.key}")]
        if forwarded_for:
            headers.append(("X-Forwarded-For", forwarded_for))
        return self.get("/perimeter/edge/nginx", source=source, headers=headers).status

    def test_scope_internal(self):
        self.assertEqual(self.status(PROXY), 200, "the sync job, on the proxy's host")
        self.assertEqual(self.status(OUTSIDE), 401, "anywhere else the key is a wrong key")
        self.assertEqual(self.status(INSIDE), 401, "the office is no proxy")
        self.assertEqual(self.status(PROXY, forwarded_for="203.0.113.7"), 401, "nor a client behind the proxy")
        refused = [hit for _db, hit in self.hits if hit.reason == "user_network"]
        self.assertEqual({(hit.ip, hit.login) for hit in refused},
                         {(OUTSIDE, "perimeter-edge-sync"), (INSIDE, "perimeter-edge-sync"),
                          ("203.0.113.7", "perimeter-edge-sync")})
        # Its form says where it may come from.
        self.assertEqual(self.sync_user.perimeter_networks_source, "proxies")
        self.assertEqual(self.sync_user.perimeter_effective_networks, f"{PROXY}/32")

    def test_scope_all(self):
        self.set_policy(rules=[f"{PROXY}/32"], scope="all")
        self.assertEqual(self.status(PROXY), 200)
        self.assertEqual(self.status(INSIDE), 401, "allowlisted, but no proxy")

    def test_named_networks_come_first(self):
        office = self.env["perimeter.allowlist"].search([("network", "=", f"{INSIDE}/32")])
        self.sync_user.perimeter_allowlist_ids = office
        self.env.flush_all()
        self.assertEqual(self.status(INSIDE), 200)
        self.assertEqual(self.status(PROXY), 401)
        self.assertEqual(self.sync_user.perimeter_networks_source, "user")

    def test_a_proxy_list_change_moves_the_key(self):
        self.set_policy(trusted_proxies=f"{PROXY}/32\n{INSIDE}/32")
        self.assertEqual(self.status(INSIDE), 200)
        self.set_policy(trusted_proxies="")
        self.assertEqual(self.status(PROXY), 401, "no trusted proxy: the key works nowhere")
        with self.assertLogs("odoo.addons.perimeter_security.models.perimeter_edge_sync", "WARNING") as logged:
            self.env["perimeter.edge.sync"]._perimeter_new_sync_key("nginx-2")
        self.assertIn("no proxy is trusted yet", logged.output[0], "said where the key is made")
