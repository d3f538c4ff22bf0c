#!/usr/bin/env python3
"""Start a demo Odoo with perimeter_security installed on http://127.0.0.1:8069.

    python3 scripts/demo.py [--series 18.0] [--odoo-src SOURCE] [--port 8069] [--database perimeter_demo]
                            [-- extra odoo options]

The Odoo of the series is the one given ($ODOO_BIN_18, $ODOO_BIN / ``odoo`` on PATH), else
one set up and cached from --odoo-src, $ODOO_SRC_18 or the official repository.

Uses a throwaway PostgreSQL cluster (removed on exit) unless PGHOST (and
PGPORT, PGUSER, PGPASSWORD) name a server. Log in as admin / admin.
Stop with Ctrl-C.
"""

import argparse
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import odoo_env  # noqa: E402
import pgcluster  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--series", default=odoo_env.SUPPORTED_SERIES[-1], choices=odoo_env.SUPPORTED_SERIES,
                        help="the Odoo series to run (default: the newest supported)")
    parser.add_argument("--odoo-src", help="set that Odoo up from this directory, tarball or git URL[#branch]")
    parser.add_argument("--port", type=int, default=8069)
    parser.add_argument("--database", default="perimeter_demo")
    parser.add_argument("--config", help="an Odoo configuration file to add (e.g. with a [perimeter_security] section)")
    parser.add_argument("odoo_args", nargs="*", help="more Odoo options, after --")
    args = parser.parse_args()
    odoo_env.exit_cleanly_on_sigterm()

    odoo_bin, python = odoo_env.require_odoo(args.series, args.odoo_src)
    odoo_env.ensure_python_packages(python, {"phonenumbers": "phonenumbers"})
    addons_dir = odoo_env.linked_addons_dir()
    try:
        with pgcluster.database_server() as db, tempfile.TemporaryDirectory(prefix="perimeter-demo-") as data_dir:
            argv = [
                odoo_bin, *odoo_env.server_options(python, addons_dir, data_dir, db),
                "-d", args.database, "--db-filter", f"^{args.database}$",
                "-i", odoo_env.MODULE,  # with demo data: rules, systems, log rows, an alert, findings
                *odoo_env.demo_data_options(args.series, demo=True),
                "--http-interface=127.0.0.1", f"--http-port={args.port}",
            ]
            if args.config:
                argv.append(f"--config={os.path.abspath(args.config)}")
            argv.extend(args.odoo_args)
            print(f"Starting Odoo on http://127.0.0.1:{args.port} (database {args.database}; log in as admin / admin)",
                  flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                subprocess.run(argv, check=False)
    finally:
        shutil.rmtree(addons_dir, ignore_errors=True)


if __name__ == "__main__":
    main()
