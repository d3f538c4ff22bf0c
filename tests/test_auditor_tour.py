from datetime import timedelta

from odoo import fields
from odoo.tests import HttpCase, TransactionCase, new_test_user, tagged

from odoo.addons.perimeter_security.guard import access_log
from odoo.addons.perimeter_security.perimeter.access_log import Hit

AUDITOR = "perimeter_security.group_perimeter_auditor"
MANAGER = "perimeter_security.group_perimeter_manager"


@tagged("post_install", "-at_install")
class TestAuditorTour(HttpCase):
    """An auditor can only read: the app offers them nothing that would end in an Access Error."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # Allowed to export, as an auditor may be: the gear menu then has something in it.
        cls.auditor = new_test_user(cls.env, "perimeter_tour_auditor",
                                    groups=f"base.group_user,base.group_allow_export,{AUDITOR}")
        cls.manager = new_test_user(cls.env, "perimeter_tour_manager", groups=f"base.group_user,{MANAGER}")

    def test_rules_cannot_be_archived_by_who_only_reads(self):
        """The web client offers Archive when ``active`` is writable: read-only for an auditor, not a manager."""
        for model in ("perimeter.allowlist", "perimeter.blocklist", "perimeter.connected.system"):
            auditor_fields = self.env[model].with_user(self.auditor).fields_get(["active"], ["readonly"])
            manager_fields = self.env[model].with_user(self.manager).fields_get(["active"], ["readonly"])
            self.assertTrue(auditor_fields["active"]["readonly"], model)
            self.assertFalse(manager_fields["active"]["readonly"], model)

    def test_auditor_is_offered_nothing_that_writes(self):
        """Access log (list, form), alert, rule (gear menu, chatter) as the auditor, in Chromium."""
        access_log.discard_pending()
        self.addCleanup(access_log.discard_pending)
        now = fields.Datetime.now()
        for _ in range(3):
            access_log.record_hit(self.env.cr.dbname, Hit(
                ip="203.0.113.77", reason="not_allowlisted", blocked=True, path="/odoo",
                method="GET", user_agent="Mozilla/5.0", at=now,
            ))
        access_log.flush_now(self.env.cr.dbname)
        self.env["perimeter.access.alert"].create({
            "ip": "203.0.113.77", "window_start": now - timedelta(hours=2), "window_end": now - timedelta(hours=1),
            "hits": 3, "notified_at": now - timedelta(hours=1),
        })
        self.env["perimeter.allowlist"].create({"name": "Audited office", "network": "10.78.0.0/24"})
        self.start_tour("/odoo", "perimeter_security_auditor_tour", login="perimeter_tour_auditor")


@tagged("post_install", "-at_install")
class TestDashboardFrench(TransactionCase):
    def test_a_card_of_a_plain_system_says_no_tls_in_french(self):
        """Issue 21 #3: the dashboard card of a clear-text system read "no TLS" in a French Odoo."""
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(["perimeter_security"], ["fr_FR"], overwrite=True)
        self.env.registry.clear_cache()
        french = self.env(context=dict(self.env.context, lang="fr_FR"))["perimeter.connected.system"]
        arch = french.get_views([(False, "kanban")])["views"]["kanban"]["arch"]
        self.assertIn(">sans TLS</div>", arch)
        self.assertNotIn(">no TLS<", arch)
