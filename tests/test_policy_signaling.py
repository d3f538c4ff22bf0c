"""A change committed outside any request reaches a running Odoo server (issue 10 #4).

A real ``odoo shell`` edits the policy and commits, as an administrator fixing
a rule by hand does; a real Odoo server, started by this test on the same
database, must apply it at its next request. Both are subprocesses: the test
runner's own server shares the test's transaction, which sees no commit made
elsewhere, and never runs Odoo's signaling.

What they commit is committed for real in the test database: the test keeps
its own client address (``CLIENT``), puts every perimeter parameter and rule
back as it found them, and removes what the server logged about ``CLIENT``.
"""

import contextlib
import http.client
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

from odoo import sql_db
from odoo.tests import TransactionCase, tagged
from odoo.tools import config

from ..guard import odoo_version

CLIENT = "127.0.0.77"  # refused once the shell's change is applied; no other test uses it
RULE = "Shell-made rule (test_policy_signaling)"
PARAMS = "perimeter\\_security.%"  # LIKE pattern of the module's parameters
START_TIMEOUT = 180  # seconds for the server to answer, a bound and not a measure
SHELL_TIMEOUT = 300

SHELL_SCRIPT = f"""
params = env["ir.config_parameter"].sudo()
env["perimeter.allowlist"].create({{"name": {RULE!r}, "network": "127.0.0.1"}})
params.set_param("perimeter_security.allow_loopback", "False")
params.set_param("perimeter_security.mode", "enforce")
env.cr.commit()
print("PERIMETER-SHELL-COMMITTED")
"""


def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@tagged("post_install", "-at_install")
class TestChangesFromOutsideRequests(TransactionCase):
    def setUp(self):
        super().setUp()
        self.dbname = self.env.cr.dbname
        self.saved_params = self._committed("SELECT key, value FROM ir_config_parameter WHERE key LIKE %s", [PARAMS])
        self.addCleanup(self._restore)
        self.tmp = self.enterContext(tempfile.TemporaryDirectory(prefix="perimeter-signaling-"))

    # -- committed state, through connections of our own ----------------------------------------

    def _committed(self, query, params=None, fetch=True):
        with sql_db.db_connect(self.dbname).cursor() as cr:  # commits when the block ends
            cr.execute(query, params)
            return cr.fetchall() if fetch else None

    def _restore(self):
        self._committed("DELETE FROM perimeter_allowlist WHERE name = %s", [RULE], fetch=False)
        self._committed("DELETE FROM ir_config_parameter WHERE key LIKE %s", [PARAMS], fetch=False)
        for key, value in self.saved_params:
            self._committed("INSERT INTO ir_config_parameter (key, value) VALUES (%s, %s)", [key, value], fetch=False)
        self._committed("DELETE FROM perimeter_access_log WHERE ip = %s", [CLIENT], fetch=False)
        self._committed("DELETE FROM perimeter_access_alert WHERE ip = %s", [CLIENT], fetch=False)

    # -- the processes ---------------------------------------------------------------------------

    def _odoo(self, *args):
        """An Odoo command line on this database and database server."""
        addons_path = odoo_version.config_list_option("addons_path")  # 18 a string, 19 a list
        options = [f"--addons-path={addons_path}", f"--data-dir={config['data_dir']}"]
        for name in ("db_host", "db_port", "db_user", "db_password"):
            if config.get(name):
                options.append(f"--{name}={config[name]}")
        return [sys.executable, "-m", "odoo", *args, *options, "-d", self.dbname, "--log-level=warn"]

    def _start_server(self):
        port = _free_port()
        log = open(os.path.join(self.tmp, "server.log"), "w")  # noqa: SIM115 -- closed by the cleanup
        self.addCleanup(log.close)
        server = subprocess.Popen(
            self._odoo("server", f"--http-port={port}", "--http-interface=127.0.0.1", "--workers=0",
                       "--max-cron-threads=0", f"--db-filter=^{self.dbname}$"),
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.addCleanup(self._stop, server)
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            self.assertIsNone(server.poll(), self._server_log())
            with contextlib.suppress(OSError):
                if self._get(port, "127.0.0.1") == 200:
                    return port
            time.sleep(0.5)
        self.fail(f"the server did not answer within {START_TIMEOUT} s\n{self._server_log()}")

    def _stop(self, server):
        if server.poll() is None:
            os.killpg(server.pid, signal.SIGTERM)  # its own session: the server and nothing else
            try:
                server.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait(10)

    def _server_log(self):
        with open(os.path.join(self.tmp, "server.log")) as log:
            return log.read()[-4000:]

    @staticmethod
    def _get(port, source):
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30, source_address=(source, 0))
        try:
            connection.request("GET", "/web/login")
            response = connection.getresponse()
            response.read()
            return response.status
        finally:
            connection.close()

    # -- the test --------------------------------------------------------------------------------

    def test_a_change_committed_in_odoo_shell_reaches_the_running_server(self):
        port = self._start_server()
        # The server compiles and keeps the policy in force: off, everyone gets in.
        self.assertEqual(self._get(port, CLIENT), 200)
        shell = subprocess.run(self._odoo("shell", "--no-http"), input=SHELL_SCRIPT, capture_output=True,
                               text=True, timeout=SHELL_TIMEOUT)
        self.assertIn("PERIMETER-SHELL-COMMITTED", shell.stdout, shell.stdout + shell.stderr)
        # No request ran Odoo's signaling for that change; the running server applies it at once anyway.
        self.assertEqual(self._get(port, CLIENT), 403, self._server_log())
        self.assertEqual(self._get(port, "127.0.0.1"), 200, "the rule the shell added admits 127.0.0.1")
