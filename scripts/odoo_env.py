"""Find the Odoo installation the commands run against, and prepare its addons path.

Odoo is never part of this repository: each supported series is found through
``$ODOO_BIN_<major>`` or ``$ODOO_BIN`` / ``odoo`` on ``PATH``, else set up from a source
(scripts/odoo_setup.py). The addon's directory name is the checkout's, not
``perimeter_security``, so it is linked into a temporary addons folder.
"""

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile

import odoo_setup

MODULE = "perimeter_security"
REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# The Odoo series this module supports; the test command runs every one of them.
SUPPORTED_SERIES = ("18.0", "19.0")


def find_odoo():
    """Return the path of the Odoo command given to this shell ($ODOO_BIN, else ``odoo`` on PATH), or None."""
    configured = os.environ.get("ODOO_BIN")
    if configured:
        path = shutil.which(configured) or configured
        if not os.path.exists(path):
            raise SystemExit(f"ODOO_BIN={configured!r} does not exist.")
        return os.path.abspath(path)
    found = shutil.which("odoo")
    return os.path.realpath(found) if found else None


def series_of(odoo_bin):
    """``"18.0"`` for an Odoo command that says ``Odoo Server 18.0``; None when it says nothing usable."""
    try:
        said = subprocess.run([odoo_bin, "--version"], capture_output=True, text=True, timeout=120).stdout
    except (OSError, subprocess.TimeoutExpired):
        return None
    words = said.split()
    return ".".join(words[-1].split(".")[:2]) if words else None


def odoo_for_series(series, source=None):
    """The Odoo command of ``series``: the one given for it, else one set up from ``source``.

    Given: ``$ODOO_BIN_<18|19>``, else ``$ODOO_BIN`` / ``odoo`` on PATH when it is of that series.
    Set up (scripts/odoo_setup.py, cached): from ``source``, else ``$ODOO_SRC_<18|19>``, else the
    official repository's branch. Raises ``odoo_setup.SetupError`` when that fails.
    """
    major = series.split(".")[0]
    given = os.environ.get(f"ODOO_BIN_{major}")
    if given:
        path = shutil.which(given) or given
        if not os.path.exists(path):
            raise SystemExit(f"ODOO_BIN_{major}={given!r} does not exist.")
        return os.path.abspath(path)
    found = find_odoo()
    if found and series_of(found) == series:
        return found
    return odoo_setup.ensure(series, source or os.environ.get(f"ODOO_SRC_{major}"))


def parse_sources(values, series_list):
    """``--odoo-src [SERIES=]SOURCE`` values as {series: source}; a bare SOURCE needs a single series."""
    sources = {}
    for value in values or ():
        series, sep, source = value.partition("=")
        if not sep or "/" in series:
            if len(series_list) != 1:
                raise SystemExit(f"--odoo-src {value}: say which series it is (for example 18.0={value}).")
            series, source = series_list[0], value
        if series not in SUPPORTED_SERIES:
            raise SystemExit(f"--odoo-src {value}: series {series} is not supported ({', '.join(SUPPORTED_SERIES)}).")
        sources[series] = source
    return sources


def odoo_python(odoo_bin):
    """The interpreter that runs ``odoo_bin``: its shebang, else python3."""
    try:
        with open(odoo_bin, "rb") as script:
            first = script.readline().decode(errors="replace").strip()
    except OSError:
        first = ""
    if first.startswith("#!"):
        words = first[2:].split()
        if words and os.path.basename(words[0]) == "env" and len(words) > 1:
            return shutil.which(words[1]) or words[1]
        if words and "python" in os.path.basename(words[0]):
            return words[0]
    return shutil.which("python3") or sys.executable


def odoo_addons_paths(python):
    """Odoo's own addons folders (``odoo/addons`` and the ``addons`` beside the package)."""
    code = (
        # 19: odoo is a namespace package (no odoo.__file__); its one folder is in __path__ on both.
        "import os, odoo; root = os.path.abspath(list(odoo.__path__)[0]); "
        "print('\\n'.join(p for p in (os.path.join(root, 'addons'), os.path.join(root, '..', 'addons')) "
        "if os.path.isdir(p)))"
    )
    output = subprocess.run([python, "-c", code], check=True, capture_output=True, text=True).stdout
    return [os.path.normpath(line) for line in output.splitlines() if line.strip()]


def linked_addons_dir():
    """A temporary folder holding ``perimeter_security`` → this checkout. Caller removes it."""
    folder = tempfile.mkdtemp(prefix="perimeter-addons-")
    os.symlink(REPO_ROOT, os.path.join(folder, MODULE))
    return folder


def ensure_python_packages(python, packages):
    """Install the (import name → pip name) packages ``python`` lacks; return what was installed."""
    missing = [
        pip_name
        for import_name, pip_name in packages.items()
        if subprocess.run([python, "-c", f"import {import_name}"], capture_output=True).returncode
    ]
    if missing:
        print(f"Installing missing test packages into {python}: {', '.join(missing)}", flush=True)
        subprocess.run([python, "-m", "pip", "install", "--quiet", *missing], check=True)
    return missing


# Debian packages the tests run for real, by the file that shows each is installed. Their system
# services are stopped right after installing: the tests start their own processes on loopback.
TEST_SERVERS = {
    "chromium": "/usr/bin/chromium",  # Odoo's tours
    "nginx-light": "/usr/sbin/nginx",  # the edge export and the edge sync
    "postfix": "/usr/sbin/postfix",  # mail TLS against real servers
    "dovecot-imapd": "/usr/sbin/dovecot",
    "dovecot-pop3d": "/usr/lib/dovecot/pop3",
}
SERVICES_TO_STOP = ("nginx", "postfix", "dovecot")


def ensure_test_servers():
    """Install the Debian packages of ``TEST_SERVERS`` that are missing, when we can (root, apt-get).

    Without them (not Debian, not root) the tests that need them are skipped and listed.
    """
    missing = [package for package, path in TEST_SERVERS.items() if not os.path.exists(path)]
    if "chromium" in missing and any(shutil.which(name) for name in ("chromium", "chromium-browser", "google-chrome")):
        missing.remove("chromium")
    if not missing or os.geteuid() != 0 or not shutil.which("apt-get"):
        return
    print(f"Installing Debian's {', '.join(missing)} for the tests", flush=True)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", *missing], check=False, env=env, stdout=subprocess.DEVNULL)
    for service in SERVICES_TO_STOP:
        subprocess.run(["service", service, "stop"], check=False, capture_output=True)


def chromium():
    """The Chromium Odoo's tours will use, or None."""
    return next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)


def exit_cleanly_on_sigterm():
    """Turn SIGTERM into SystemExit so that ``finally`` blocks stop Odoo and the throwaway cluster."""
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))


def server_options(python, addons_dir, data_dir, db):
    """The options every command gives Odoo: addons path (Odoo's own + the linked module), data dir, database server."""
    return [
        f"--addons-path={','.join([*odoo_addons_paths(python), addons_dir])}",
        f"--data-dir={data_dir}",
        f"--db_host={db['db_host']}", f"--db_port={db['db_port']}",
        f"--db_user={db['db_user']}", f"--db_password={db['db_password']}",
    ]


def demo_data_options(series, demo):
    """The command-line options for a database with or without demo data: Odoo 18 loads demo data unless
    ``--without-demo=all``; 19 loads none unless ``--with-demo`` (and refuses ``--without-demo=all``)."""
    if series == "18.0":
        return [] if demo else ["--without-demo=all"]
    return ["--with-demo"] if demo else []


def require_odoo(series=SUPPORTED_SERIES[0], source=None):
    """``(odoo command, its Python)`` of ``series``, set up when none is given, or exit saying why."""
    try:
        odoo_bin = odoo_for_series(series, source)
    except odoo_setup.SetupError as exc:
        raise SystemExit(f"{exc}\nGive an Odoo with $ODOO_BIN_{series.split('.')[0]} or a source with --odoo-src "
                         "(see README, The two commands).") from exc
    return odoo_bin, odoo_python(odoo_bin)


def free_port():
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]
