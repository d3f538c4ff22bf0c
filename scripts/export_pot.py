#!/usr/bin/env python3
"""Regenerate i18n/perimeter_security.pot from a fresh database with the module installed.

    python3 scripts/export_pot.py

Same Odoo and PostgreSQL discovery as scripts/test.py (throwaway cluster unless PGHOST is set).
"""

import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import odoo_env  # noqa: E402
import pgcluster  # noqa: E402


def main():
    odoo_env.exit_cleanly_on_sigterm()
    odoo_bin, python = odoo_env.require_odoo()
    addons_dir = odoo_env.linked_addons_dir()
    target = os.path.join(odoo_env.REPO_ROOT, "i18n", f"{odoo_env.MODULE}.pot")
    try:
        with pgcluster.database_server() as db, tempfile.TemporaryDirectory(prefix="perimeter-pot-") as data_dir:
            common = [
                *odoo_env.server_options(python, addons_dir, data_dir, db), "-d", "perimeter_pot",
                "--without-demo=all", "--stop-after-init", "--no-http", "--log-level=warn",
            ]
            subprocess.run([odoo_bin, *common, "-i", odoo_env.MODULE], check=True)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            subprocess.run([odoo_bin, *common, f"--i18n-export={target}", f"--modules={odoo_env.MODULE}"],
                           check=True)
            print(f"wrote {target}")
    finally:
        shutil.rmtree(addons_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
