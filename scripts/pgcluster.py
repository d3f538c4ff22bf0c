"""A throwaway PostgreSQL cluster for tests and demos.

``initdb`` refuses to run as root and Odoo refuses the ``postgres`` role, so
the cluster runs as the ``postgres`` system user when started by root, with a
``odoo`` role that may create databases. It listens on a Unix socket in its
own directory only (and on no TCP port), and is removed on exit.
"""

import contextlib
import glob
import os
import pwd
import shutil
import subprocess
import tempfile

ROLE = "odoo"


def _pg_bindir():
    """The server's bin folder: Debian's newest /usr/lib/postgresql/N/bin, else where initdb is."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version_of, reverse=True)
    initdb = candidates[0] if candidates else shutil.which("initdb")
    if not initdb:
        raise SystemExit("PostgreSQL server binaries (initdb, pg_ctl) not found: install postgresql.")
    return os.path.dirname(os.path.realpath(initdb))


def _version_of(path):
    version = path.split("/")[-3]
    return int(version) if version.isdigit() else 0


def _as_owner(argv, owner):
    if owner is None:
        return argv
    return ["runuser", "-u", owner, "--", *argv]


@contextlib.contextmanager
def throwaway_cluster(port=5432, keep_on_error=False):
    """Start a private cluster; yield the connection settings for Odoo (``db_host`` etc.)."""
    bindir = _pg_bindir()
    owner = None
    if os.geteuid() == 0:
        owner = "postgres"
        pwd.getpwnam(owner)  # fails clearly when the user does not exist
    root = tempfile.mkdtemp(prefix="perimeter-pg-")
    datadir = os.path.join(root, "data")
    if owner:
        shutil.chown(root, user=owner)
    run = subprocess.run
    run(
        _as_owner([os.path.join(bindir, "initdb"), "-D", datadir, "-A", "trust", "-U", "postgres", "-E", "UTF8",
                   "--no-sync", "--locale=C"], owner),
        check=True, stdout=subprocess.DEVNULL,
    )
    options = f"-c listen_addresses='' -c unix_socket_directories='{root}' -c port={port} -c fsync=off " \
              f"-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
    run(
        _as_owner([os.path.join(bindir, "pg_ctl"), "-D", datadir, "-o", options, "-l",
                   os.path.join(root, "postgres.log"), "-w", "start"], owner),
        check=True, stdout=subprocess.DEVNULL,
    )
    try:
        run(
            _as_owner([os.path.join(bindir, "psql"), "-h", root, "-p", str(port), "-U", "postgres", "-d", "postgres",
                       "-qc", f"CREATE ROLE {ROLE} LOGIN CREATEDB"], owner),
            check=True, stdout=subprocess.DEVNULL,
        )
        yield {"db_host": root, "db_port": str(port), "db_user": ROLE, "db_password": ""}
    finally:
        run(
            _as_owner([os.path.join(bindir, "pg_ctl"), "-D", datadir, "-m", "immediate", "-w", "stop"], owner),
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(root, ignore_errors=True)


def given_connection():
    """Connection settings from the environment (PGHOST, PGPORT, PGUSER, PGPASSWORD), or None."""
    if not os.environ.get("PGHOST"):
        return None
    return {
        "db_host": os.environ["PGHOST"],
        "db_port": os.environ.get("PGPORT", "5432"),
        "db_user": os.environ.get("PGUSER", ROLE),
        "db_password": os.environ.get("PGPASSWORD", ""),
    }


def database_server():
    """The server named by PGHOST & co. if any, else a throwaway cluster: a context manager yielding settings."""
    given = given_connection()
    return contextlib.nullcontext(given) if given else throwaway_cluster()
