#!/usr/bin/env python3
"""Regenerate i18n/perimeter_security.pot from a fresh database with the module installed.

    python3 scripts/export_pot.py [--series 18.0 --series 19.0]

Exported on every supported series (or those given): one template serves them all, so their exports
must find the same texts, else this says which and writes nothing.
Same Odoo and PostgreSQL discovery as scripts/test.py (throwaway cluster unless PGHOST is set).
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

import polib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import odoo_env  # noqa: E402
import pgcluster  # noqa: E402


def export(series, target):
    """Odoo ``series``' own export of the module's texts into ``target``."""
    odoo_bin, python = odoo_env.require_odoo(series)
    addons_dir = odoo_env.linked_addons_dir()
    try:
        with pgcluster.database_server() as db, tempfile.TemporaryDirectory(prefix="perimeter-pot-") as data_dir:
            common = [
                *odoo_env.server_options(python, addons_dir, data_dir, db), "-d", "perimeter_pot",
                *odoo_env.demo_data_options(series, demo=False), "--stop-after-init", "--no-http", "--log-level=warn",
            ]
            subprocess.run([odoo_bin, *common, "-i", odoo_env.MODULE], check=True)
            if series == "18.0":
                subprocess.run([odoo_bin, *common, f"--i18n-export={target}", f"--modules={odoo_env.MODULE}"],
                               check=True)
            else:  # 19 exports with its i18n command, which reads the rest from a configuration file
                config = os.path.join(data_dir, "odoo.conf")
                server = odoo_env.server_options(python, addons_dir, data_dir, db)
                options = (option.partition("=") for option in server)
                with open(config, "w") as conf:
                    conf.write("[options]\n" + "".join(
                        f"{name.lstrip('-').replace('-', '_')} = {value}\n" for name, _sep, value in options))
                subprocess.run([odoo_bin, "i18n", "export", "-c", config, "-d", "perimeter_pot", "-o", target,
                                odoo_env.MODULE], check=True)
    finally:
        shutil.rmtree(addons_dir, ignore_errors=True)


def differences(exported):
    """The texts some series' export finds and another's does not: ``[(text, [series that find it])]``."""
    found_by = {}
    for series, path in exported.items():
        for entry in polib.pofile(path):
            found_by.setdefault(entry.msgid, []).append(series)
    return sorted((text, found) for text, found in found_by.items() if len(found) < len(exported))


def main():
    odoo_env.exit_cleanly_on_sigterm()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--series", action="append", choices=odoo_env.SUPPORTED_SERIES,
                        help="export on this series only (repeatable; default: every supported series)")
    args = parser.parse_args()
    target = os.path.join(odoo_env.REPO_ROOT, "i18n", f"{odoo_env.MODULE}.pot")
    with tempfile.TemporaryDirectory(prefix="perimeter-pots-") as pots:
        exported = {}
        for series in args.series or odoo_env.SUPPORTED_SERIES:
            exported[series] = os.path.join(pots, f"{series}.pot")
            export(series, exported[series])
        differing = differences(exported)
        if differing:
            raise SystemExit("The series do not find the same texts; word the code so that both extractors read it "
                             "alike (see perimeter/posture.py's _RiskyService):\n" + "\n".join(
                                 f"  {text!r}: only {', '.join(found)}" for text, found in differing))
        os.makedirs(os.path.dirname(target), exist_ok=True)
        shutil.copyfile(next(iter(exported.values())), target)  # the first series' file, as Odoo wrote it
    print(f"wrote {target}, the same texts on Odoo {', '.join(exported)}")


if __name__ == "__main__":
    main()
