#!/usr/bin/env python3
"""Run every check of perimeter_security: lint, engine tests, then the Odoo suite.

    python3 scripts/test.py

Then, for every supported Odoo series (or those given with ``--series``): the Odoo
given for it (``$ODOO_BIN_18``/``$ODOO_BIN_19``, or ``$ODOO_BIN``/``odoo`` on PATH when
of that series), else one set up and cached by ``odoo_setup.py`` from ``--odoo-src``,
``$ODOO_SRC_<series>`` or the official repository. On it, the module's tests
(``--test-tags /perimeter_security``) run twice, each time on a fresh database, on a
throwaway PostgreSQL cluster unless PGHOST (and PGPORT, PGUSER, PGPASSWORD) name a
server (see RUNS):

- ``no demo``: without demo data, the module alone (with auth_ldap);
- ``demo``: with demo data (Odoo's default, and OCA's CI), and ``website``,
  ``portal`` and ``project`` beside the module, so that the audience tests go
  through the public and portal pages (a project task opened by its access token).

Only the demo run installs website: it is what real databases look like and
what OCA's CI does. Measured on 2 cores: 46 modules to install instead of 26
(about a minute more, plus website's asset bundles) and slower pages for every
HTTP test; on both runs that would be paid twice for no test that needs it.
``--demo`` / ``--no-demo`` select one run while developing. Then Odoo's own
suites run with and without the module as a regression gate (``odoo_suites.py``).
Each run prints ``== odoo <series> (<run>): N passed, N failed``, each series a line
``Odoo <series>: N passed, N failed``, and the last line is always the total
``N passed, N failed``; the exit status is non-zero on any failure, an Odoo that
could not be set up included.
"""

import argparse
import collections
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import odoo_env  # noqa: E402
import odoo_setup  # noqa: E402
import odoo_suites  # noqa: E402
import pgcluster  # noqa: E402

TEST_PACKAGES = {
    "pytest": "pytest",
    "hypothesis": "hypothesis",
    "aiosmtpd": "aiosmtpd",
    "websocket": "websocket-client",  # without it Odoo silently skips browser tests
    "cryptography": "cryptography",
    "ruff": "ruff",
    "pylint_odoo": "pylint-odoo",
    "polib": "polib",  # the translation tests read i18n/fr.po
}
ODOO_RUNTIME_PACKAGES = {"phonenumbers": "phonenumbers"}

# What Odoo's test runner prints, see odoo/tests/result.py.
FINAL_REPORT = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")
SKIPPED = re.compile(r" INFO \S+ \S+: skipped (\S+(?: \(\S+\))?)")  # a whole class: "setUpClass (its.name)"
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \d+ (DEBUG|INFO|WARNING|ERROR|CRITICAL) (\S+) (\S+): (.*)")


# The module's Odoo tests run once per run, each on its own fresh database. ``modules`` are
# installed beside the module; the tests read them from $PERIMETER_TEST_MODULES and fail (rather
# than skip) when one of them is missing from the database (tests/test_audience_website.py).
RUNS = {
    "no demo": {"demo": False, "modules": []},
    "demo": {"demo": True, "modules": ["website", "portal", "project"]},
}


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0
        self.skipped = []
        self.problems = []
        self.series = {}  # series -> (passed, failed) of its Odoo runs

    def add(self, label, passed, failed, skipped=(), problems=()):
        self.passed += passed
        self.failed += failed
        self.skipped.extend(f"{label}: {name}" for name in skipped)
        self.problems.extend(f"{label}: {problem}" for problem in problems)
        print(f"== {label}: {passed} passed, {failed} failed" + (f", {len(skipped)} skipped" if skipped else ""),
              flush=True)


def banner(text):
    print(f"\n{'=' * 78}\n{text}\n{'=' * 78}", flush=True)


def run_lint(python, addons_dir, tally):
    banner("Lint: ruff, pylint-odoo")
    ruff = subprocess.run([python, "-m", "ruff", "check", "."], cwd=odoo_env.REPO_ROOT)
    tally.add("ruff", int(ruff.returncode == 0), int(ruff.returncode != 0),
              problems=["ruff found problems"] if ruff.returncode else ())
    module_dir = os.path.join(addons_dir, odoo_env.MODULE)
    pylint = subprocess.run(
        [python, "-m", "pylint", f"--rcfile={os.path.join(odoo_env.REPO_ROOT, '.pylintrc')}", module_dir],
        cwd=addons_dir,
    )
    tally.add("pylint-odoo", int(pylint.returncode == 0), int(pylint.returncode != 0),
              problems=["pylint-odoo found problems"] if pylint.returncode else ())


def run_engine_tests(python, tally):
    banner("Engine tests (pytest, no Odoo)")
    with tempfile.TemporaryDirectory(prefix="perimeter-pytest-") as tmp:
        # The checkout's root is an Odoo addon package; seen from there, pytest would import it.
        # The engine and the loopback test servers are linked in beside each other, without Odoo.
        for package in ("perimeter", "testing"):
            os.symlink(os.path.join(odoo_env.REPO_ROOT, package), os.path.join(tmp, package))
        report = os.path.join(tmp, "junit.xml")
        proc = subprocess.run([python, "-m", "pytest", "-q", f"--junitxml={report}", "perimeter"], cwd=tmp)
        if not os.path.exists(report):
            tally.add("engine", 0, 1, problems=[f"pytest exited with {proc.returncode} and no report"])
            return
        total = failed = 0
        skipped = []
        for case in ET.parse(report).iter("testcase"):
            total += 1
            if case.find("failure") is not None or case.find("error") is not None:
                failed += 1
            elif case.find("skipped") is not None:
                skipped.append(f"{case.get('classname')}.{case.get('name')}")
        problems = [f"pytest exited with {proc.returncode}"] if proc.returncode and not failed else []
        tally.add("engine", total - failed - len(skipped), failed + len(problems), skipped, problems)


def quiet_options(series):
    """19 warns at every XML-RPC and JSON-RPC call that they are deprecated: the tests call them on purpose."""
    if series == "18.0":
        return []
    return [f"--log-handler=odoo.addons.rpc.controllers.{name}:ERROR" for name in ("jsonrpc", "xmlrpc")]


def run_odoo_tests(odoo, addons_dir, tags, tally, *, run="no demo"):
    series, odoo_bin, python = odoo
    label = f"odoo {series} ({run})"
    banner(f"Odoo {series}: the module's tests, {run}, with {odoo_bin}")
    chromium = odoo_env.chromium()
    if not chromium:
        print("WARNING: Chromium not found: Odoo will skip the browser tours.", flush=True)
    slug = run.replace(" ", "")
    dbname = f"perimeter_test_{slug}_{os.getpid()}"
    given = pgcluster.given_connection()
    beside = RUNS[run]["modules"]
    modules = [odoo_env.MODULE, *_optional_modules(python), *beside]
    demo = odoo_env.demo_data_options(series, RUNS[run]["demo"])
    env = dict(os.environ, PERIMETER_TEST_MODULES=",".join(beside))
    with tempfile.TemporaryDirectory(prefix="perimeter-odoo-") as data_dir:
        log_path = os.path.join(data_dir, "odoo.log")
        with pgcluster.database_server() as db:
            argv = [
                odoo_bin, *odoo_env.server_options(python, addons_dir, data_dir, db),
                "-d", dbname, "--db-filter", f"^{dbname}$",
                "-i", ",".join(modules), *demo, "--test-enable", f"--test-tags={tags}",
                "--stop-after-init", "--workers=0", "--max-cron-threads=0", "--http-interface=127.0.0.1",
                f"--http-port={odoo_env.free_port()}", "--log-level=info", *quiet_options(series),
            ]
            started = time.monotonic()
            with open(log_path, "w") as log:
                proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                        cwd=data_dir, env=env)
                try:
                    for line in proc.stdout:
                        log.write(line)
                        if _worth_showing(line):
                            print(line, end="", flush=True)
                    returncode = proc.wait()
                except BaseException:
                    proc.kill()
                    proc.wait()
                    raise
            if returncode == 0:
                _check_uninstall(odoo_bin, argv, dbname, tally, f"uninstall {series} ({run})")
            if given:  # a server we were given: leave it as we found it
                subprocess.run(["dropdb", "--if-exists", "-h", db["db_host"], "-p", db["db_port"], "-U", db["db_user"],
                                dbname], env=dict(os.environ, PGPASSWORD=db["db_password"]), check=False)
        _tally_odoo_log(log_path, returncode, time.monotonic() - started, tally, label)
        kept = os.path.join(odoo_env.REPO_ROOT, ".tmp", f"odoo-test-{series}-{slug}.log")
        os.makedirs(os.path.dirname(kept), exist_ok=True)
        shutil.copyfile(log_path, kept)
        shutil.copyfile(log_path, os.path.join(odoo_env.REPO_ROOT, ".tmp", "odoo-test.log"))  # the last run's
        print(f"Full Odoo log: {kept}", flush=True)


def run_odoo_suites(odoo, addons_dir, tally):
    banner(f"Odoo {odoo.series}'s own suites with and without the module ({odoo_suites.SUITES})")
    log_dir = os.path.join(odoo_env.REPO_ROOT, ".tmp")
    os.makedirs(log_dir, exist_ok=True)
    odoo_suites.run(odoo.bin, odoo.python, addons_dir, tally, log_dir, series=odoo.series)


UNINSTALL_SCRIPT = """
env["ir.config_parameter"].set_param("perimeter_security.mode", "monitor")
env["perimeter.allowlist"].create({"name": "Uninstall check", "network": "192.0.2.0/24"})
env.cr.commit()
module = env["ir.module.module"].search([("name", "=", "perimeter_security")])
module.button_immediate_uninstall()
env.cr.execute("SELECT count(*) FROM information_schema.tables WHERE table_name LIKE 'perimeter%'")
tables = env.cr.fetchone()[0]
env.cr.execute("SELECT count(*) FROM information_schema.columns WHERE column_name LIKE 'perimeter%'")
tables += env.cr.fetchone()[0]
models = env["ir.model"].search_count([("model", "=like", "perimeter.%")])
params = env["ir.config_parameter"].search_count([("key", "=like", "perimeter_security.%")])
print("PERIMETER-UNINSTALL state=%s tables=%s models=%s params=%s" % (module.state, tables, models, params))
"""


def _optional_modules(python):
    """Odoo modules installed beside ours so that the tests of their integrations run.

    auth_ldap (LDAP directories as connected systems) needs python-ldap, which Odoo's
    requirements list but a hand-made Odoo may lack: then its tests are skipped, and said so.
    """
    if subprocess.run([python, "-c", "import ldap"], capture_output=True).returncode:
        print("WARNING: python-ldap is missing from Odoo's Python: auth_ldap is not installed and the "
              "LDAP discovery test will be skipped.", flush=True)
        return []
    return ["auth_ldap"]


def _check_uninstall(odoo_bin, test_argv, dbname, tally, label="uninstall"):
    """Uninstall the module from the test database: it must leave no table, model or parameter behind."""
    banner("Uninstall check")
    keep = [arg for arg in test_argv[1:] if arg.startswith(("--addons-path", "--data-dir", "--db_"))]
    proc = subprocess.run([odoo_bin, "shell", *keep, "-d", dbname, "--no-http", "--log-level=warn"],
                          input=UNINSTALL_SCRIPT, capture_output=True, text=True, timeout=600)
    output = proc.stdout + proc.stderr
    result = re.search(r"PERIMETER-UNINSTALL state=(\w+) tables=(\d+) models=(\d+) params=(\d+)", output)
    noise = [line for line in output.splitlines() if LOG_LINE.match(line) and " WARNING " in line
             and "Running as user 'root'" not in line or " ERROR " in line]
    clean = result and result.groups() == ("uninstalled", "0", "0", "0") and not noise
    print(output if not clean else f"uninstalled cleanly: {result.group(0)}", flush=True)
    tally.add(label, int(bool(clean)), int(not clean),
              problems=() if clean else [f"uninstall left: {result and result.group(0)}; {noise[:3]}"])


def _worth_showing(line):
    match = LOG_LINE.match(line)
    if not match:
        return True  # tracebacks and other continuation lines
    level, _db, logger, message = match.groups()
    return (
        level in ("WARNING", "ERROR", "CRITICAL")
        or message.startswith(("Starting ", "skipped "))
        or "tests when loading database" in message
        or "post-tests in" in message
        or logger == "odoo.modules.loading" and "loaded in" in message
    )


def _tally_odoo_log(log_path, returncode, seconds, tally, label):
    with open(log_path) as log:
        lines = log.read().splitlines()
    report = None
    skipped, problems = [], []
    for line in lines:
        if found := FINAL_REPORT.search(line):
            report = tuple(int(n) for n in found.groups())
        if found := SKIPPED.search(line):
            skipped.append(found.group(1))
        match = LOG_LINE.match(line)
        if not match:
            continue
        level, _db, logger, message = match.groups()
        if level in ("ERROR", "CRITICAL") and "tests when loading database" not in message:
            problems.append(f"{level} {logger}: {message[:200]}")
        elif level == "WARNING" and ("perimeter" in logger or "perimeter_security" in message):
            problems.append(f"WARNING {logger}: {message[:200]}")
    if report is None:
        tally.add(label, 0, 1, problems=[f"Odoo exited with {returncode} without a test report (log: see above)"])
        return
    failures, errors, run = report
    if run == 0:
        problems.append("the Odoo run executed no test")
    if returncode and not (failures or errors):
        problems.append(f"Odoo exited with status {returncode}")
    failed = failures + errors
    # A skipped or failed setUpClass is counted by Odoo as no test run: only skipped tests are taken off.
    passed = max(0, run - failed - len([name for name in skipped if not name.startswith("setUpClass")]))
    print(f"Odoo ran {run} tests in {seconds:.0f} s", flush=True)
    tally.add(label, passed, failed + (1 if problems and not failed else 0), skipped, problems)


Odoo = collections.namedtuple("Odoo", "series bin python")


def find_odoos(series_list, sources, tally):
    """An ``Odoo`` for each series we were given or could set up; a failed setup counts as a failure."""
    odoos = []
    for series in series_list:
        try:
            odoo_bin = odoo_env.odoo_for_series(series, sources.get(series))
        except odoo_setup.SetupError as exc:
            banner(f"ODOO {series} COULD NOT BE SET UP: its tests DO NOT RUN.\n{exc}")
            tally.add(f"odoo {series} setup", 0, 1, problems=[str(exc)])
            continue
        print(f"Odoo {series}: {odoo_bin}", flush=True)
        odoos.append(Odoo(series, odoo_bin, odoo_env.odoo_python(odoo_bin)))
    return odoos


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", action="append", choices=odoo_env.SUPPORTED_SERIES,
                        help="run against this Odoo series only (repeatable; default: every supported series)")
    parser.add_argument("--odoo-src", action="append", metavar="[SERIES=]SOURCE",
                        help="set Odoo up from this directory, tarball or git URL[#branch] "
                        "(default: $ODOO_SRC_<18|19>, else the official repository's branch)")
    parser.add_argument("--tags", default=f"/{odoo_env.MODULE}",
                        help="Odoo --test-tags (default: every test of the module)")
    parser.add_argument("--no-lint", action="store_true", help="skip ruff and pylint-odoo (development only)")
    parser.add_argument("--no-engine", action="store_true", help="skip the engine tests (development only)")
    parser.add_argument("--no-odoo", action="store_true", help="skip every Odoo run (development only)")
    parser.add_argument("--no-suites", action="store_true",
                        help="skip the regression gate of Odoo's own suites (development only)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--demo", dest="runs", action="store_const", const=["demo"],
                       help="only the Odoo run with demo data (and website, portal) (development only)")
    which.add_argument("--no-demo", dest="runs", action="store_const", const=["no demo"],
                       help="only the Odoo run without demo data (development only)")
    args = parser.parse_args()
    odoo_env.exit_cleanly_on_sigterm()
    series_list = args.series or list(odoo_env.SUPPORTED_SERIES)
    sources = odoo_env.parse_sources(args.odoo_src, series_list)

    tally = Tally()
    odoos = [] if args.no_odoo else find_odoos(series_list, sources, tally)
    python = odoos[0].python if odoos else sys.executable
    odoo_env.ensure_test_servers()

    addons_dir = odoo_env.linked_addons_dir()
    try:
        odoo_env.ensure_python_packages(python, dict(TEST_PACKAGES, **ODOO_RUNTIME_PACKAGES))
        if not args.no_lint:
            run_lint(python, addons_dir, tally)
        if not args.no_engine:
            run_engine_tests(python, tally)
        for odoo in odoos:
            odoo_env.ensure_python_packages(odoo.python, dict(TEST_PACKAGES, **ODOO_RUNTIME_PACKAGES))
            before = (tally.passed, tally.failed)
            for run in args.runs or RUNS:
                run_odoo_tests(odoo, addons_dir, args.tags, tally, run=run)
            if not args.no_suites:
                run_odoo_suites(odoo, addons_dir, tally)
            tally.series[odoo.series] = (tally.passed - before[0], tally.failed - before[1])
    finally:
        shutil.rmtree(addons_dir, ignore_errors=True)

    banner("Summary")
    if args.no_odoo:
        print("The Odoo runs were skipped (--no-odoo).")
    for problem in tally.problems:
        print(f"problem: {problem}")
    if tally.skipped:
        print(f"{len(tally.skipped)} skipped:")
        for name in tally.skipped:
            print(f"  skipped {name}")
    for series, (passed, failed) in tally.series.items():
        print(f"Odoo {series}: {passed} passed, {failed} failed")
    print(f"{tally.passed} passed, {tally.failed} failed", flush=True)
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
