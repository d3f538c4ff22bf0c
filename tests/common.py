"""Helpers for enforcement tests through Odoo's real HTTP server.

The test server listens on 127.0.0.1; any 127.x address is a distinct client
(``source_address``). The usual setup: enforce, loopback not special, the
allowlist holding 127.0.0.1 only, so 127.0.0.1 is "inside" and 127.0.0.2
"outside"; 127.0.0.3 plays the trusted reverse proxy.
"""

import configparser
import contextlib
import http.client
import inspect
import json
import os
import tempfile
import xmlrpc.client
from unittest.mock import patch

from odoo.tests import HttpCase
from odoo.tests.common import TEST_CURSOR_COOKIE_NAME

from ..guard import access_log, odoo_version, server_config, server_tier
from ..perimeter.settings import PREFIX

INSIDE, OUTSIDE, PROXY = "127.0.0.1", "127.0.0.2", "127.0.0.3"


class Reply:
    """What a client received: status, headers (every value of each, lower-case names), body."""

    def __init__(self, response):
        self.status = response.status
        self.header_list = [(name.lower(), value) for name, value in response.getheaders()]
        try:
            self.body = response.read()
        except http.client.IncompleteRead as partial:
            # Odoo's server drops the body of any answer to a websocket upgrade request.
            self.body = partial.partial

    def header(self, name):
        return next((value for key, value in self.header_list if key == name.lower()), None)

    def headers(self, name):
        return [value for key, value in self.header_list if key == name.lower()]

    def cookie(self, name):
        """The value of the cookie ``name`` this reply sets (not the first one: website adds its own), or None."""
        for header in self.headers("Set-Cookie"):
            key, _sep, value = header.split(";")[0].partition("=")
            if key.strip() == name:
                return value
        return None

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        return json.loads(self.body)

    def __repr__(self):
        return f"<Reply {self.status} {self.text[:200]!r}>"


class PerimeterMixin:
    """Policy setup, distinct loopback clients and access-log capture for HttpCase classes."""

    def setUp(self):
        super().setUp()
        server_tier.forget_snapshots()
        self.addCleanup(server_tier.forget_snapshots)
        self.hits = []
        record_hit = access_log.record_hit

        def capture(dbname, hit):
            self.hits.append((dbname, hit))
            return record_hit(dbname, hit)

        self.startPatcher(patch.object(access_log, "record_hit", capture))
        saved = odoo_version.save_config_section("perimeter_security")
        self.addCleanup(odoo_version.restore_config_section, "perimeter_security", saved)

    # -- policy --------------------------------------------------------------------------------

    def set_policy(self, rules=(), **values):
        """Write perimeter parameters (``mode="enforce"``...) and allowlist rules, visible to requests."""
        params = self.env["ir.config_parameter"].sudo()
        for name, value in values.items():
            text = ("True" if value else "False") if isinstance(value, bool) else str(value)
            params.set_param(PREFIX + name, text)
        for network in rules:
            self.env["perimeter.allowlist"].create({"name": f"Rule {network}", "network": network})
        self.env.flush_all()
        server_tier.forget_snapshots()

    def strict_policy(self, **values):
        """Enforce; only 127.0.0.1 allowed; loopback not special; 127.0.0.3 is a trusted proxy."""
        policy = {"mode": "enforce", "allow_loopback": False, "trusted_proxies": f"{PROXY}/32"}
        policy.update(values)
        self.set_policy(rules=[f"{INSIDE}/32"], **policy)

    def set_server_section(self, **options):
        """The ``[perimeter_security]`` section of the configuration file, for this test only."""
        odoo_version.set_config_section("perimeter_security", dict(options))

    # -- clients -------------------------------------------------------------------------------

    def call(self, method, path, *, source=INSIDE, headers=(), body=None, cookies=None, host=None, timeout=15,
             port=None):
        """One request from ``source``; ``headers`` is a list of (name, value), repeats allowed.

        ``port``: another server on 127.0.0.1 to send it to (a proxy in front of Odoo's), else Odoo's.
        """
        # 19: the test lock is held by the test and released only inside HttpCase.allow_requests(), which also
        # sets the key the test cursor cookie must carry; 18 has no allow_requests (requests always allowed).
        with self.requests_allowed():
            return self._call(method, path, source=source, headers=headers, body=body, cookies=cookies, host=host,
                              timeout=timeout, port=port)

    @contextlib.contextmanager
    def requests_allowed(self, *, without_cookie=False):
        """Requests may reach the server in this block (19: ``allow_requests()``; 18: always). Reentrant; wrap
        a block sending from several threads in it once (``allow_requests`` itself is not thread-safe).

        ``without_cookie``: also requests that cannot carry the test cursor cookie (a script run by the
        test, a websocket handshake), which 19 otherwise refuses as strays from another test.
        """
        allow = getattr(self, "allow_requests", None)
        if allow is None or getattr(self, "_perimeter_requests_allowed", False):
            yield
            return
        self.env.flush_all()  # what Opener.request does on both series before a request
        with allow(all_requests=without_cookie):
            self._perimeter_requests_allowed = True
            try:
                yield
            finally:
                self._perimeter_requests_allowed = False

    def _call(self, method, path, *, source, headers, body, cookies, host, timeout, port):
        connection = http.client.HTTPConnection("127.0.0.1", port or self.http_port(), timeout=timeout,
                                                source_address=(source, 0))
        try:
            connection.putrequest(method, path, skip_host=True, skip_accept_encoding=True)
            connection.putheader("Host", f"127.0.0.1:{self.http_port()}" if host is None else host)
            jar = {TEST_CURSOR_COOKIE_NAME: self.http_request_key, **(cookies or {})}
            connection.putheader("Cookie", "; ".join(f"{name}={value}" for name, value in jar.items() if value))
            for name, value in headers:
                connection.putheader(name, value)
            if body is not None:
                data = body.encode() if isinstance(body, str) else body
                connection.putheader("Content-Length", str(len(data)))
                connection.endheaders(data)
            else:
                connection.endheaders()
            return Reply(connection.getresponse())
        finally:
            connection.close()

    def get(self, path, **kwargs):
        return self.call("GET", path, **kwargs)

    def json_rpc(self, path, params=None, **kwargs):
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": params or {}, "id": 7})
        headers = [("Content-Type", "application/json"), *kwargs.pop("headers", ())]
        return self.call("POST", path, body=body, headers=headers, **kwargs)

    def xml_rpc(self, path, method, params, **kwargs):
        body = xmlrpc.client.dumps(tuple(params), method, allow_none=True)
        headers = [("Content-Type", "text/xml"), *kwargs.pop("headers", ())]
        return self.call("POST", path, body=body, headers=headers, **kwargs)

    # -- assertions ----------------------------------------------------------------------------

    def assertRefused(self, reply, address, kind="html"):
        """A 403 refusal naming ``address``, in the format of ``kind``, revealing nothing else."""
        self.assertEqual(reply.status, 403, reply)
        self.assertEqual(reply.header("Cache-Control"), "no-store")
        if kind == "status":
            return
        if kind == "json":
            error = reply.json()["error"]
            self.assertEqual(error["code"], 403)
            self.assertIn(address, error["data"]["message"])
            self.assertEqual(error["data"]["client_address"], address)
            self.assertFalse(error["data"]["debug"])
        elif kind == "xmlrpc":
            with self.assertRaises(xmlrpc.client.Fault) as fault:
                xmlrpc.client.loads(reply.body)
            self.assertEqual(fault.exception.faultCode, 3)
            self.assertIn(address, fault.exception.faultString)
        else:
            self.assertIn("text/html", reply.header("Content-Type"))
            self.assertIn("Access from this network is not allowed.", reply.text)
            self.assertIn(f"<code>{address}</code>", reply.text)
        for secret in (self.env.cr.dbname, "odoo", odoo_version.SERIES, "traceback", "werkzeug"):
            self.assertNotIn(secret, reply.text.lower(), "the refusal reveals nothing else")

    def assertHit(self, ip, reason, blocked=True, path=None, dbname=None):
        dbname = self.env.cr.dbname if dbname is None else dbname or None
        matching = [hit for db, hit in self.hits
                    if hit.ip == ip and hit.reason == reason and hit.blocked == blocked and db == dbname
                    and (path is None or hit.path == path)]
        self.assertTrue(matching, f"no hit {ip} {reason} blocked={blocked} {path} on {dbname}: {self.hits}")
        return matching[-1]


class PerimeterHttpCase(PerimeterMixin, HttpCase):
    pass


def use_configuration_file(test, text):
    """Make this Odoo read ``text`` as its configuration file, for ``test`` only, the way the series keeps
    its sections (18: Odoo parsed every section into config.misc at start; 19: only [options], the module
    reads the file itself)."""
    saved = odoo_version.save_config_section(server_config.SECTION)
    test.addCleanup(odoo_version.restore_config_section, server_config.SECTION, saved)
    odoo_version.restore_config_section(server_config.SECTION, odoo_version._ABSENT)  # the file, no test value
    handle, path = tempfile.mkstemp(suffix=".conf")
    test.addCleanup(os.unlink, path)
    with os.fdopen(handle, "w") as file:
        file.write(text)
    misc = getattr(odoo_version.config, "misc", None)
    if isinstance(misc, dict):
        parser = configparser.RawConfigParser()
        parser.read([path])
        values = {key: True if value == "True" else value for key, value in parser.items(server_config.SECTION)}
        test.startPatcher(patch.dict(misc, {server_config.SECTION: values}))
    else:
        test.startPatcher(patch.dict(odoo_version.config.options, {"config": path}))


_DOOR_FILE = os.path.join("guard", "server_tier.py")


class WebsocketDoorMixin:
    """For the bus' ``WebsocketCase``: our WSGI door may open a test cursor, as Odoo's own requests do.

    On 19 a websocket test admits only cursors opened by the bus' ``acquire_cursor`` or within an Odoo
    request; the door runs before Odoo builds its request (and needs no test cookie: none exists yet).
    """

    def assertCanOpenTestCursor(self):
        at_the_door = any(frame.function == "_refusing_policy" and frame.filename.endswith(_DOOR_FILE)
                          for frame in inspect.stack(0))
        if at_the_door:
            return HttpCase.assertCanOpenTestCursor(self)
        return super().assertCanOpenTestCursor()



@contextlib.contextmanager
def no_database_selected():
    """Requests resolve to no database, as on a server with several and no ``db`` in the session."""
    with patch("odoo.http.db_list", return_value=[]), patch.object(server_tier, "_known_databases", return_value=()):
        yield
