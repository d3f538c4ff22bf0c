"""Odoo's own suites as a regression gate: the module must not break what Odoo tests about itself.

One stage of ``scripts/test.py``. On one throwaway PostgreSQL cluster:

1. a baseline database with Odoo's ``base_setup``, ``mail`` and ``test_http``
   (``bus`` comes with ``mail``), served with Odoo's default server-wide
   modules: Odoo's suites run there **without** the module;
2. a copy of it (``createdb --template``, and its filestore) where ``perimeter_security`` is
   installed too and loaded server-wide (``--load=base,web,perimeter_security``);
   the mode is set in the database (``ir.config_parameter`` through ``odoo
   shell``, as an administrator would), then the same suites run with
   ``--test-enable`` and no ``-i``/``-u`` (at_install and post_install tests
   of every installed module, narrowed by ``--test-tags``), once per mode.

A failure in ``off`` or ``monitor`` that does not also happen in the baseline
fails the stage, once confirmed: each new failure runs again alone, with and
without the module (some of Odoo's tests depend on timing and fail now and
then on a loaded machine); it counts if it fails again with the module only.
In ``enforce`` (loopback allowed, as installed) the only accepted differences
are the tests docs/DESIGN.md lists under
"Accepted differences in enforce" (Odoo's ``TestDevice`` sends
``X-Forwarded-For`` from an untrusted peer, which ``enforce`` refuses by
design). A run that does not finish within its time limit counts as failed.
"""

import os
import re
import shutil
import subprocess
import tempfile
import time

import odoo_env
import pgcluster

SUITES = "/test_http,/bus,/base:TestIrMailServer,/base:TestIrMailServerSMTPD"
ODOO_MODULES = "base_setup,mail,test_http"
MODES = ("off", "monitor", "enforce")
RUN_TIMEOUT = 600  # seconds for one run of the suites (a hang is a failure, not a stuck CI)
INSTALL_TIMEOUT = 600

# "... ERROR db odoo.addons.test_http.tests.test_misc: FAIL: TestHttpMisc.test_x" (odoo/tests/result.py)
FAILURE = re.compile(r" (?:ERROR|CRITICAL) \S+ (\S+): (?:FAIL|ERROR): (?:Subtest )?([\w.]+?\.\w+)(?:\s|$)")
# "... odoo.tests.suite: ERROR: setUpClass (odoo.addons.base.tests.test_x.TestClass)"
CLASS_FAILURE = re.compile(r": (?:FAIL|ERROR): (setUpClass|tearDownClass) \(([\w.]+)\.(\w+)\)")
REPORT = re.compile(r"(\d+) failed, (\d+) error\(s\) of (\d+) tests when loading database")
TESTS_RUN = re.compile(r"(\d+) post-tests in|Ran (\d+) tests")
ACCEPTED_HEADING = "#### Accepted differences in enforce"

SET_MODE = """
env["ir.config_parameter"].sudo().set_param("perimeter_security.mode", {mode!r})
env.cr.commit()
print("PERIMETER-MODE", env["ir.config_parameter"].sudo().get_param("perimeter_security.mode"))
"""


def accepted_in_enforce(design_path):
    """Tests (``module:Class`` or ``module:Class.test``) docs/DESIGN.md accepts as refused by ``enforce`` by design."""
    accepted, inside = set(), False
    with open(design_path, encoding="utf-8") as design:
        for line in design:
            if line.startswith("#"):
                inside = line.strip() == ACCEPTED_HEADING
            elif inside and (found := re.match(r"- `([\w.]+):([\w.]+)`", line)):
                accepted.add(f"{found.group(1)}:{found.group(2)}")
    return accepted


def run(odoo_bin, python, addons_dir, tally, log_dir, *, series="18.0"):
    """Run the gate on Odoo ``series``; add one line per mode to ``tally``; keep every log in ``log_dir``."""
    started = time.monotonic()
    accepted = accepted_in_enforce(os.path.join(odoo_env.REPO_ROOT, "docs", "DESIGN.md"))
    base_db, module_db = f"suites_base_{os.getpid()}", f"suites_module_{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="perimeter-suites-") as data_dir, pgcluster.database_server() as db:
        # With demo data, as Odoo's own suites expect (their demo user, e.g. TestIrMailServerSMTPD's).
        common = [*odoo_env.server_options(python, addons_dir, data_dir, db), "--workers=0", "--max-cron-threads=0",
                  "--http-interface=127.0.0.1", "--log-level=info"]
        pg = []  # createdb/dropdb take their server from the environment (_pg_env)

        def odoo(label, argv, timeout, stdin=None):
            log_path = os.path.join(log_dir, f"suites-{series}-{label}.log")
            command = argv[:1] if argv[:1] == ["shell"] else []  # a subcommand comes first
            return log_path, _run_logged([odoo_bin, *command, *common, *argv[len(command):]], log_path, timeout, stdin)

        try:
            demo = odoo_env.demo_data_options(series, demo=True)
            _, code = odoo("install-base", ["-d", base_db, "-i", ODOO_MODULES, *demo, "--stop-after-init",
                                            f"--http-port={odoo_env.free_port()}"], INSTALL_TIMEOUT)
            if code:
                tally.add(f"odoo {series} suites", 0, 1, problems=[f"installing {ODOO_MODULES} failed ({code})"])
                return
            subprocess.run([*pg, "createdb", "-T", base_db, module_db], check=True, env=_pg_env(db))
            filestore = os.path.join(data_dir, "filestore")  # attachments live beside the database
            if os.path.isdir(os.path.join(filestore, base_db)):
                shutil.copytree(os.path.join(filestore, base_db), os.path.join(filestore, module_db))
            _, code = odoo("install-module", ["-d", module_db, "-i", odoo_env.MODULE, "--stop-after-init",
                                              "--load=base,web," + odoo_env.MODULE,
                                              f"--http-port={odoo_env.free_port()}"], INSTALL_TIMEOUT)
            if code:
                tally.add(f"odoo {series} suites", 0, 1, problems=[f"installing {odoo_env.MODULE} failed ({code})"])
                return
            baseline = _run_suites(odoo, "baseline", base_db, "base,web")
            print(f"baseline (without the module): {baseline.summary()}", flush=True)
            for mode in MODES:
                log_path, code = odoo(f"set-{mode}", ["shell", "-d", module_db, "--no-http"], 300,
                                      SET_MODE.format(mode=mode))
                with open(log_path, encoding="utf-8", errors="replace") as log:
                    if f"PERIMETER-MODE {mode}" not in log.read():
                        tally.add(f"odoo {series} suites ({mode})", 0, 1,
                                  problems=[f"could not set the mode {mode}: {log_path}"])
                        continue
                result = _run_suites(odoo, mode, module_db, "base,web," + odoo_env.MODULE)
                new = sorted(name for name in result.failures - baseline.failures
                             if not (mode == "enforce" and _accepted(name, accepted)))
                new, flaky = _confirm(odoo, mode, new, base_db, module_db)
                if flaky:
                    print(f"{mode}: did not fail again when run alone, or failed without the module too "
                          f"(not counted): {flaky}", flush=True)
                problems = [f"{mode}: {name} fails with the module, not without it" for name in new]
                if result.timed_out:
                    problems.append(f"{mode}: the suites did not finish within {RUN_TIMEOUT} s (see {result.log})")
                if result.tests == 0 and not result.timed_out:
                    problems.append(f"{mode}: no test ran (see {result.log})")
                failed = len(new) + int(result.timed_out) + int(result.tests == 0 and not result.timed_out)
                documented = sorted(name for name in result.failures if _accepted(name, accepted))
                print(f"{mode}: {result.summary()}; {len(new)} failure(s) not in the baseline"
                      + (f", accepted as documented: {documented}" if mode == "enforce" else ""), flush=True)
                tally.add(f"odoo {series} suites ({mode})", max(result.tests - len(result.failures), 0), failed,
                          problems=problems)
            if baseline.failures:
                print(f"also failing WITHOUT the module (not counted): {sorted(baseline.failures)}", flush=True)
        finally:
            if pgcluster.given_connection():
                for name in (module_db, base_db):
                    subprocess.run([*pg, "dropdb", "--if-exists", name], env=_pg_env(db), check=False)
            print(f"Odoo's own suites: {time.monotonic() - started:.0f} s; logs in {log_dir}", flush=True)


def _confirm(odoo, mode, new, base_db, module_db):
    """Run each new failure again, alone, with and without the module: ``(confirmed, not confirmed)``.

    Some of Odoo's tests depend on timing (session lifetimes under ``freeze_time``) and fail now and
    then on a loaded machine, with or without the module. A failure counts when it happens again with
    the module and not without it; a failure that names no test cannot be run again and counts.
    """
    tags = {name: _tag(name) for name in new}
    if not new or None in tags.values():
        return new, []
    retry_tags = ",".join(sorted(set(tags.values())))
    again = _run_suites(odoo, f"{mode}-again", module_db, "base,web," + odoo_env.MODULE, retry_tags)
    without = _run_suites(odoo, f"{mode}-again-baseline", base_db, "base,web", retry_tags)
    confirmed = [name for name in new
                 if (name in again.failures or again.timed_out or not again.tests) and name not in without.failures]
    return confirmed, [name for name in new if name not in confirmed]


def _tag(name):
    """The --test-tags of one failure ``odoo.addons.<module>.tests.<file>:<Class>.<test>``, or None."""
    logger, _, test = name.partition(":")
    parts = logger.split(".")
    if len(parts) < 3 or parts[:2] != ["odoo", "addons"] or "." not in test:
        return None
    cls, _, method = test.partition(".")
    return f"/{parts[2]}:{cls}" if method in ("setUpClass", "tearDownClass") else f"/{parts[2]}:{cls}.{method}"


class SuiteResult:
    def __init__(self, log, failures, tests, timed_out):
        self.log, self.failures, self.tests, self.timed_out = log, failures, tests, timed_out

    def summary(self):
        state = "TIMED OUT, " if self.timed_out else ""
        return f"{state}{self.tests} tests, {len(self.failures)} failing: {sorted(self.failures)}"


def _run_suites(odoo, label, dbname, load, tags=SUITES):
    log_path, code = odoo(f"run-{label}", ["-d", dbname, f"--db-filter=^{dbname}$", "--test-enable",
                                           f"--test-tags={tags}",
                                           "--stop-after-init", f"--load={load}",
                                           f"--http-port={odoo_env.free_port()}"], RUN_TIMEOUT)
    with open(log_path, encoding="utf-8", errors="replace") as log:
        text = log.read()
    failures = {f"{logger}:{test.split('.')[0]}.{test.split('.')[1]}" for logger, test in FAILURE.findall(text)}
    failures |= {f"{module}:{cls}.{what}" for what, module, cls in CLASS_FAILURE.findall(text)}
    report = REPORT.findall(text)
    tests = int(report[-1][2]) if report else 0
    if report and int(report[-1][0]) + int(report[-1][1]) > len(failures):
        failures.add("odoo:failures without a test name (setUpClass, teardown): see the log")
    if code and not report and not failures and code != "timeout":
        failures.add(f"odoo:exit {code}")
    return SuiteResult(log_path, failures, tests, code == "timeout")


def _accepted(name, accepted):
    return name in accepted or _class_level(name) in accepted


def _class_level(name):
    """``module.tests.test_x:Class.test`` -> ``module.tests.test_x:Class`` (what docs/DESIGN.md may accept)."""
    return name.rpartition(".")[0] if ":" in name and "." in name.partition(":")[2] else name


def _run_logged(argv, log_path, timeout, stdin=None):
    """Run ``argv`` with its output in ``log_path``; return its exit status, or "timeout"."""
    with open(log_path, "w") as log:
        proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, text=True,
                                stdin=subprocess.PIPE if stdin is not None else subprocess.DEVNULL)
        try:
            proc.communicate(stdin, timeout=timeout)
            return proc.returncode
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            return "timeout"
        except BaseException:
            proc.kill()  # interrupted: leave no Odoo behind
            proc.wait()
            raise


def _pg_env(db):
    return dict(os.environ, PGHOST=db["db_host"], PGPORT=db["db_port"], PGUSER=db["db_user"],
                PGPASSWORD=db["db_password"])
