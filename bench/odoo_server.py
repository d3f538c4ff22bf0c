"""A real Odoo server for the benchmarks: a throwaway cluster, installs, a server subprocess, logins.

Shared by ``bench_enforcement.py`` and ``bench_flood.py``. It reuses the
commands' helpers (``scripts/pgcluster.py`` for PostgreSQL, ``scripts/odoo_env.py``
to find Odoo and link this checkout as ``perimeter_security``).
"""

import contextlib
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from dataclasses import dataclass

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "scripts"))

import odoo_env  # noqa: E402
import pgcluster  # noqa: E402

MODULE = odoo_env.MODULE


@dataclass(frozen=True)
class BenchEnvironment:
    odoo_bin: str
    python: str
    addons_dir: str  # Odoo's addons plus this checkout linked as perimeter_security
    db: dict  # connection settings of the throwaway cluster (db_host, db_port, db_user, db_password)
    data_dir: str  # Odoo's data dir (filestore), removed at the end

    def argv(self, *extra):
        """An ``odoo`` command line on this cluster and data dir, quiet, without cron threads."""
        return [
            self.odoo_bin, f"--addons-path={','.join([*odoo_env.odoo_addons_paths(self.python), self.addons_dir])}",
            f"--data-dir={self.data_dir}", f"--db_host={self.db['db_host']}", f"--db_port={self.db['db_port']}",
            f"--db_user={self.db['db_user']}", f"--db_password={self.db['db_password']}", "--without-demo=all",
            "--max-cron-threads=0", "--log-level=warn", *extra,
        ]

    def install(self, dbname, modules):
        run(self.argv("-d", dbname, "-i", modules, "--stop-after-init"), f"installing {modules} on {dbname}")

    def psql(self, dbname, command):
        """Run one SQL command; return its unaligned, tuples-only output."""
        psql_bin = os.path.join(pgcluster._pg_bindir(), "psql")  # the server's own client, as the cluster uses
        db = self.db
        return subprocess.run(
            [psql_bin, "-h", db["db_host"], "-p", db["db_port"], "-U", db["db_user"], "-d", dbname, "-qAtc", command],
            check=True, capture_output=True, text=True, env=dict(os.environ, PGPASSWORD=db["db_password"]),
        ).stdout

    def copy_database(self, source, target):
        """``target`` as a copy of ``source``: same modules, same data, same files."""
        self.psql("postgres", f'CREATE DATABASE "{target}" TEMPLATE "{source}"')
        filestore = os.path.join(self.data_dir, "filestore")
        if os.path.isdir(os.path.join(filestore, source)):
            shutil.copytree(os.path.join(filestore, source), os.path.join(filestore, target))


@contextlib.contextmanager
def bench_environment():
    """Find Odoo, start a throwaway PostgreSQL cluster; everything is removed on exit (SIGTERM too)."""
    odoo_env.exit_cleanly_on_sigterm()
    odoo_bin, python = odoo_env.require_odoo()
    addons_dir = odoo_env.linked_addons_dir()
    try:
        with pgcluster.throwaway_cluster() as db, tempfile.TemporaryDirectory(prefix="perimeter-bench-") as data_dir:
            yield BenchEnvironment(odoo_bin, python, addons_dir, db, data_dir)
    finally:
        shutil.rmtree(addons_dir, ignore_errors=True)


free_port = odoo_env.free_port


def run(argv, what):
    print(f"-- {what}", flush=True)
    started = time.monotonic()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL)
    print(f"   done in {time.monotonic() - started:.0f} s", flush=True)


@contextlib.contextmanager
def odoo_server(argv, port, log_path, timeout=180):
    """Run ``argv`` until the block ends; yield once it accepts connections on ``port``."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen([*argv, f"--logfile={log_path}"], stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                with open(log_path) as log:
                    raise SystemExit(f"Odoo exited with {proc.returncode}: {log.read()[-2000:]}")
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=1):
                break
            time.sleep(0.5)
        else:
            raise SystemExit("Odoo did not start listening in time")
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def session_for(port, dbname):
    """A session cookie bound to ``dbname`` (so that requests go to that database)."""
    body = json.dumps({"jsonrpc": "2.0", "method": "call", "id": 1,
                       "params": {"db": dbname, "login": "admin", "password": "admin"}})
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("POST", "/web/session/authenticate", body=body,
                           headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        payload = json.loads(response.read())
        if "error" in payload:
            raise SystemExit(f"cannot log in to {dbname}: {payload['error']}")
        cookie = response.getheader("Set-Cookie", "")
    finally:
        connection.close()
    return cookie.split(";", 1)[0]


def admin_rpc(port, dbname):
    """``call(model, method, *args)`` as admin over XML-RPC, from 127.0.0.1."""
    rpc = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{port}/xmlrpc/2/object", allow_none=True)

    def call(model, method, *args, **kwargs):
        return rpc.execute_kw(dbname, 2, "admin", model, method, list(args), kwargs)

    return call


def timed_request(port, method, path, *, body=None, headers=None, source="127.0.0.1", timeout=30):
    """One request on a new connection from ``source`` (Odoo closes each): ``(seconds, status, body)``.

    The time covers connecting, sending and reading the whole answer.
    """
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout, source_address=(source, 0))
    try:
        started = time.perf_counter()
        connection.request(method, path, body=body, headers=headers or {})
        response = connection.getresponse()
        data = response.read()
        return time.perf_counter() - started, response.status, data
    finally:
        connection.close()
