from datetime import timedelta

from odoo import fields
from odoo.tests import TransactionCase, tagged

from .common import INSIDE, PerimeterHttpCase


def _rules(text):
    return [line for line in text.splitlines() if line and not line.startswith("#")]


@tagged("post_install", "-at_install")
class TestEdgeExport(TransactionCase):
    def setUp(self):
        super().setUp()
        now = fields.Datetime.now()
        self.env["perimeter.allowlist"].search([]).unlink()
        self.env["perimeter.allowlist"].create([
            {"name": "Office", "network": "198.51.100.0/24"},
            {"name": "Contractor", "network": "2001:db8::/48", "expires_at": now + timedelta(days=3)},
            {"name": "Expired", "network": "192.0.2.0/24", "expires_at": now - timedelta(days=1)},
            {"name": "Archived", "network": "203.0.113.0/24", "active": False},
        ])
        self.env["ir.config_parameter"].sudo().set_param("perimeter_security.allow_loopback", "False")
        self.next_expiry = fields.Datetime.to_string(now + timedelta(days=3))[:10]

    def _export(self, edge):
        action = self.env["perimeter.allowlist"].action_perimeter_export_edge()
        return self.env[action["res_model"]].create({"edge": edge})

    def test_nginx_gets_the_rules_in_force_then_deny_all(self):
        export = self._export("nginx")
        self.assertEqual(_rules(export.content), ["allow 198.51.100.0/24;", "allow 2001:db8::/48;", "deny all;"])
        self.assertEqual(export.filename, "odoo-allowlist.conf")
        self.assertIn(f"# A rule expires on {self.next_expiry}", export.content)
        self.assertIn(f"from database {self.env.cr.dbname}", export.content)
        self.assertFalse(export.warning, "outside a request there is no administrator's address to check")

    def test_haproxy_and_loopback_follow_the_policy(self):
        self.env["ir.config_parameter"].sudo().set_param("perimeter_security.allow_loopback", "True")
        export = self._export("haproxy")
        # In address order, IPv4 then IPv6, loopback included (readme/CONFIGURE.md, Export for the edge).
        self.assertEqual(_rules(export.content), ["127.0.0.0/8", "198.51.100.0/24", "::1/128", "2001:db8::/48"])
        self.assertEqual(export.filename, "odoo-allowlist.lst")


@tagged("post_install", "-at_install")
class TestEdgeExportOwnAddress(PerimeterHttpCase):
    """The export warns the administrator whose own address the file would refuse."""

    def _warning(self, source):
        self.authenticate("admin", "admin")
        params = {"model": "perimeter.edge.export", "method": "web_save", "args": [[], {"edge": "nginx"}],
                  "kwargs": {"specification": {"warning": {}, "content": {}}}}
        reply = self.json_rpc("/web/dataset/call_kw/perimeter.edge.export/web_save", params,
                              cookies={"session_id": self.session.sid}, source=source)
        self.assertEqual(reply.status, 200, reply)
        [record] = reply.json()["result"]
        return record

    def test_warns_when_the_file_would_refuse_you(self):
        self.set_policy(rules=[f"{INSIDE}/32", "2001:db8::/32"], mode="monitor", allow_loopback=False)
        self.assertFalse(self._warning(INSIDE)["warning"])
        outside = self._warning("127.0.0.2")
        self.assertIn("Your address, 127.0.0.2, is not in this file", outside["warning"])
        self.assertIn(f"allow {INSIDE}/32;", outside["content"])

    def test_the_file_downloads_under_its_name(self):
        self.set_policy(rules=[f"{INSIDE}/32"], allow_loopback=True)
        self.authenticate("admin", "admin")
        wizard = self.env["perimeter.edge.export"].create({"edge": "nginx"})
        action = wizard.action_download()
        self.assertEqual(action["type"], "ir.actions.act_url")
        reply = self.get(action["url"], cookies={"session_id": self.session.sid})
        self.assertEqual(reply.status, 200, reply)
        self.assertEqual(reply.header("Content-Disposition"), "attachment; filename=odoo-allowlist.conf")
        self.assertIn(f"allow {INSIDE}/32;", reply.text)
        self.assertTrue(reply.text.rstrip().endswith("deny all;"))
