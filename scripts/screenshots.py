#!/usr/bin/env python3
"""Take the README's screenshots from a real Odoo with the module installed and real data.

    python3 scripts/screenshots.py

Installs the module on a throwaway database, fills it through the module's own
features (allowlist rules, refused requests flushed into the access log, mail
servers and connected systems checked against local TLS servers), starts Odoo
and photographs the backend with headless Chromium. Images go to
static/description/ (the Apps page shows them too).
"""

import contextlib
import http.client
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import odoo_env  # noqa: E402
import pgcluster  # noqa: E402

OUT = os.path.join(odoo_env.REPO_ROOT, "static", "description")
DATABASE = "perimeter_screenshots"

SEED = r'''
import datetime
from odoo.addons.perimeter_security.guard import access_log
from odoo.addons.perimeter_security.perimeter.access_log import Hit
from odoo.addons.perimeter_security.testing.certs import CertFactory
from odoo.addons.perimeter_security.testing.servers import HttpServer, HttpsServer, SmtpServer

now = datetime.datetime.utcnow()
env["perimeter.allowlist"].create([
    {"name": "Head office", "network": "192.0.2.0/24", "note": "Paris, fibre line"},
    {"name": "Head office (IPv6)", "network": "2001:db8:100::/48"},
    {"name": "Warehouse Lyon", "network": "198.51.100.0/26"},
    {"name": "Accountant (temporary)", "network": "203.0.113.77", "expires_at": now + datetime.timedelta(days=10)},
    {"name": "Old VPN", "network": "198.51.100.128/25", "expires_at": now - datetime.timedelta(days=3)},
    {"name": "Monitoring", "network": "127.0.0.1"},
])
params = env["ir.config_parameter"]
params.set_param("perimeter_security.mode", "monitor")
params.set_param("perimeter_security.trusted_proxies", "10.0.0.5")
env.cr.commit()

agents = ["Mozilla/5.0 (X11; Linux x86_64) Firefox/131.0", "python-requests/2.31.0", "curl/8.5.0", "zgrab/0.x"]
for index, (ip, reason, count) in enumerate([
    ("203.0.113.9", "not_allowlisted", 412), ("203.0.113.10", "not_allowlisted", 57),
    ("198.51.100.200", "not_allowlisted", 9), ("2001:db8:dead::7", "not_allowlisted", 130),
    ("192.0.2.80", "untrusted_proxy_headers", 4), ("203.0.113.9", "not_https", 3),
]):
    for _ in range(count):
        path = ["/odoo", "/web/login", "/xmlrpc/2/common", "/jsonrpc"][index % 4]
        access_log.record_hit(env.cr.dbname, Hit(ip=ip, reason=reason, blocked=reason != "untrusted_proxy_headers",
                                                 path=path, method="POST" if index % 2 else "GET",
                                                 user_agent=agents[index % len(agents)]))
access_log.flush_now(env.cr.dbname)

with CertFactory() as certs:
    with SmtpServer(certs.trusted(), mode="starttls") as good, SmtpServer(certs.expired(), mode="implicit") as old, \
            SmtpServer(mode="plain") as plain, HttpsServer(certs.self_signed()) as shop, HttpServer() as hook:
        servers = env["ir.mail_server"].create([
            {"name": "Office 365 relay", "smtp_host": "127.0.0.1", "smtp_port": good.port,
             "smtp_encryption": "starttls", "perimeter_ca_bundle": certs.ca.cert_pem, "sequence": 1},
            {"name": "Legacy relay", "smtp_host": "127.0.0.1", "smtp_port": old.port, "smtp_encryption": "ssl",
             "perimeter_ca_bundle": certs.ca.cert_pem, "sequence": 2},
            {"name": "Printer scan-to-mail", "smtp_host": "127.0.0.1", "smtp_port": plain.port,
             "smtp_encryption": "none", "sequence": 3},
        ])
        servers.action_perimeter_check()
        Systems = env["perimeter.connected.system"]
        Systems.action_discover()
        Systems.create([
            {"name": "Web shop", "kind": "webhook", "direction": "outbound",
             "endpoint": f"https://127.0.0.1:{shop.port}/orders", "contact_phone": "+33 1 23 45 67 89"},
            {"name": "Stock sync webhook", "kind": "webhook", "direction": "outbound",
             "endpoint": f"http://127.0.0.1:{hook.port}/hook"},
            {"name": "POS Lyon", "kind": "pos", "direction": "inbound", "allowed_networks": "198.51.100.0/26"},
        ])
        Systems.search([]).action_check()
# This server's posture, counted in the dashboard's header (the Posture menu would review it too).
env["perimeter.posture.finding"]._perimeter_review()
env.cr.commit()
print("SEEDED")
'''

OPEN_LEGACY_RELAY = (
    "[...document.querySelectorAll('.o_data_row')].find(row => row.textContent.includes('Legacy relay'))"
    ".querySelector('td.o_data_cell').click()"
)
SHOTS = [
    # (file, path, selector to wait for, element to clip or None, javascript to run first, then wait for)
    ("screenshot_dashboard.png", "/odoo/action-perimeter_security.perimeter_connected_system_action",
     ".o_kanban_renderer", None, None, None),
    ("screenshot_allowlist.png", "/odoo/action-perimeter_security.perimeter_allowlist_action",
     ".o_list_renderer .o_data_row", None, None, None),
    ("screenshot_access_log.png", "/odoo/action-perimeter_security.perimeter_access_log_action",
     ".o_list_renderer .o_data_row", None, None, None),
    ("screenshot_mail_tls.png", "/odoo/action-perimeter_security.perimeter_ir_mail_server_action",
     ".o_list_renderer .o_data_row", None, None, None),
    ("screenshot_mail_tls_check.png", "/odoo/action-perimeter_security.perimeter_ir_mail_server_action",
     ".o_list_renderer .o_data_row", None, OPEN_LEGACY_RELAY, ".o_form_view .o_field_widget[name='smtp_host']"),
    ("screenshot_edge_export.png", "/odoo/action-perimeter_security.perimeter_allowlist_action",
     ".o_list_renderer .o_data_row", ".modal-content",
     "document.querySelector(\".o_control_panel button[name='action_perimeter_export_edge']\").click()",
     ".modal .o_field_widget[name='content']"),
    ("screenshot_posture.png", "/odoo/action-perimeter_security.perimeter_posture_review_action",
     ".o_list_renderer .o_data_row", None, None, None),
    # Settings draws only the open tab's block: the Perimeter action opens Settings on its own tab.
    ("screenshot_settings.png", "/odoo/action-perimeter_security.perimeter_settings_action",
     "#perimeter_mode_setting", None,
     "document.querySelector('#perimeter_mode_setting').closest('.o_settings_container')"
     ".previousElementSibling.scrollIntoView()", None),
]


def main():
    odoo_env.exit_cleanly_on_sigterm()
    odoo_bin, python = odoo_env.require_odoo()
    odoo_env.ensure_python_packages(python, {"aiosmtpd": "aiosmtpd", "websocket": "websocket-client"})
    try:
        import websocket  # noqa: F401  (the browser driver's one dependency)
    except ImportError:
        if os.environ.get("PERIMETER_SCREENSHOTS_REEXEC"):
            raise
        # Odoo's Python has websocket-client (its browser tests need it): run there.
        os.environ["PERIMETER_SCREENSHOTS_REEXEC"] = "1"
        os.execv(python, [python, os.path.abspath(__file__), *sys.argv[1:]])
    addons_dir = odoo_env.linked_addons_dir()
    port = odoo_env.free_port()
    try:
        with pgcluster.database_server() as db, tempfile.TemporaryDirectory(prefix="perimeter-shots-") as data_dir:
            common = [
                *odoo_env.server_options(python, addons_dir, data_dir, db), "-d", DATABASE,
                "--db-filter", f"^{DATABASE}$", "--log-level=warn",
            ]
            subprocess.run([odoo_bin, *common, "-i", odoo_env.MODULE, "--without-demo=all", "--stop-after-init",
                            "--no-http"], check=True)
            seeded = subprocess.run([odoo_bin, "shell", *common, "--no-http"], input=SEED, text=True,
                                    capture_output=True)
            if "SEEDED" not in seeded.stdout:
                raise SystemExit(f"seeding failed:\n{seeded.stdout}\n{seeded.stderr}")
            with subprocess.Popen([odoo_bin, *common, "--http-interface=127.0.0.1", f"--http-port={port}",
                                   "--workers=0", "--max-cron-threads=0"]) as odoo:
                try:
                    _photograph(f"http://127.0.0.1:{port}")
                finally:
                    odoo.terminate()
    finally:
        shutil.rmtree(addons_dir, ignore_errors=True)


def _photograph(base_url):
    deadline = time.monotonic() + 120
    while True:
        try:
            urllib.request.urlopen(f"{base_url}/web/login", timeout=5).close()
            break
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit("Odoo did not answer") from None
            time.sleep(1)
    import cdp  # websocket-client: present in Odoo's Python, where main() re-ran us

    session = cdp.login(base_url, DATABASE)
    browser = cdp.Browser()
    try:
        browser.set_cookie("session_id", session, base_url)
        for name, path, wait_for, clip, script, then_wait_for in SHOTS:
            browser.open(base_url + path, wait_for, settle=2.0)
            if script:
                browser.evaluate(script)
                if then_wait_for:
                    browser.wait_for(then_wait_for)
                time.sleep(1.0)
            browser.screenshot(os.path.join(OUT, name), clip_selector=clip)
            print(f"wrote static/description/{name}")
        _photograph_refusal(browser, base_url)
    finally:
        browser.close()


def _photograph_refusal(browser, base_url):
    """What a client outside the allowlist sees: enforce, then ask from another loopback address."""
    port = int(base_url.rsplit(":", 1)[1])
    # 127.0.0.1 is allowlisted ("Monitoring"), so this is no lockout; 127.0.0.2 is an outsider once
    # loopback no longer passes on its own.
    for key, value in (("perimeter_security.allow_loopback", "False"), ("perimeter_security.mode", "enforce")):
        body = json.dumps({"jsonrpc": "2.0", "method": "call", "params": {
            "service": "object", "method": "execute_kw",
            "args": [DATABASE, 2, "admin", "ir.config_parameter", "set_param", [key, value]],
        }})
        with contextlib.closing(http.client.HTTPConnection("127.0.0.1", port, timeout=30)) as local:
            local.request("POST", "/jsonrpc", body, {"Content-Type": "application/json"})
            local.getresponse().read()
    with contextlib.closing(http.client.HTTPConnection("127.0.0.1", port, timeout=30,
                                                       source_address=("127.0.0.2", 0))) as outsider:
        outsider.request("GET", "/odoo", headers={"Accept": "text/html", "Accept-Language": "en"})
        answer = outsider.getresponse()
        page = answer.read()
    if answer.status != 403:
        raise SystemExit(f"expected a refusal, got {answer.status}")
    with tempfile.NamedTemporaryFile("wb", suffix=".html", delete=False) as saved:
        saved.write(page)
    try:
        browser.width, browser.height = 900, 420
        browser.call("Emulation.setDeviceMetricsOverride", width=900, height=420, deviceScaleFactor=1, mobile=False)
        browser.open(f"file://{saved.name}", "h1", settle=0.5)
        browser.screenshot(os.path.join(OUT, "screenshot_refusal.png"))
        print("wrote static/description/screenshot_refusal.png")
    finally:
        os.unlink(saved.name)


if __name__ == "__main__":
    main()
