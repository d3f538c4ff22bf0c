"""The state above the dashboard (perimeter.dashboard.dashboard_state, issue 21 #5).

Demo data may hold refusals, alerts and findings of its own: the counts are compared before and after
the rows each test makes, with clients of 10.7x.0.0/24 that the demo data never uses.
"""

from datetime import timedelta

from odoo import fields
from odoo.exceptions import AccessError
from odoo.tests import TransactionCase, new_test_user, tagged

from ..perimeter import posture

AUDITOR = "perimeter_security.group_perimeter_auditor"
MANAGER = "perimeter_security.group_perimeter_manager"


def _items(sections):
    """``{item name: item}`` of a header."""
    return {item["name"]: item for section in sections for item in section["items"]}


@tagged("post_install", "-at_install")
class TestDashboardState(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.auditor = new_test_user(cls.env, "dashboard_auditor", groups=f"base.group_user,{AUDITOR}")
        cls.Dashboard = cls.env["perimeter.dashboard"]
        # The start of "today" as the web client sends it; a minute before is yesterday.
        cls.today_start = fields.Datetime.now().replace(hour=0, minute=0, second=0, microsecond=0)

    def state(self, env=None):
        dashboard = self.Dashboard.with_env(env) if env else self.Dashboard
        return _items(dashboard.dashboard_state(today_start=fields.Datetime.to_string(self.today_start)))

    def log(self, ip, hits, *, blocked=True, at=None):
        at = at or self.today_start + timedelta(minutes=1)
        return self.env["perimeter.access.log"].create({
            "ip": ip, "reason": "not_allowlisted", "blocked": blocked, "hits": hits,
            "window_start": at.replace(minute=0), "first_seen": at, "last_seen": at,
        })

    def alert(self, ip, *, notified=True, handled=False):
        now = fields.Datetime.now()
        return self.env["perimeter.access.alert"].create({
            "ip": ip, "window_start": now - timedelta(minutes=10), "window_end": now, "hits": 100,
            "notified_at": now if notified else False, "handled_at": now if handled else False,
        })

    def finding(self, key, severity, host=None):
        return self.env["perimeter.posture.finding"].create({
            "key": key, "category": "server", "severity": severity, "name_facts": '"Dashboard test finding"',
            "host": host or posture.local_hostname(),
        })

    def test_counts_match_the_rows(self):
        before = self.state()
        self.log("10.71.0.1", 5)
        self.log("10.71.0.2", 2)
        self.log("10.71.0.3", 40, at=self.today_start - timedelta(minutes=1))  # yesterday
        self.log("10.71.0.4", 9, blocked=False)  # monitored, not refused
        self.alert("10.71.0.1")
        self.alert("10.71.0.2", handled=True)
        self.alert("10.71.0.3", notified=False)  # a counter below the threshold: no alert yet
        self.finding("test:dashboard:critical", "critical")
        self.finding("test:dashboard:warning", "warning")
        self.finding("test:dashboard:other-host", "critical", host="other-server.example")
        after = self.state()
        deltas = {name: after[name]["value"] - before[name]["value"]
                  for name in ("refused_today", "open_alerts", "posture_critical", "posture_warning", "posture_info")}
        self.assertEqual(deltas, {"refused_today": 7, "open_alerts": 1, "posture_critical": 1,
                                  "posture_warning": 1, "posture_info": 0})

    def test_each_number_opens_what_it_counts(self):
        self.log("10.72.0.1", 3)
        state = self.state()
        refused = state["refused_today"]["action"]
        self.assertEqual((refused["res_model"], refused["context"]), (
            "perimeter.access.log", {"search_default_filter_blocked": 1, "search_default_filter_today": 1}))
        alerts = state["open_alerts"]["action"]
        self.assertEqual((alerts["res_model"], alerts["context"]),
                         ("perimeter.access.alert", {"search_default_filter_open": 1}))
        critical = state["posture_critical"]["action"]
        self.assertEqual((critical["res_model"], critical["context"]), (
            "perimeter.posture.finding", {"search_default_this_server": 1, "search_default_critical": 1}))
        # The filters the actions name exist in their search views.
        for action, names in ((refused, ("filter_blocked", "filter_today")), (alerts, ("filter_open",)),
                              (critical, ("this_server", "critical", "warning", "info"))):
            arch = self.env[action["res_model"]].get_views([(False, "search")])["views"]["search"]["arch"]
            for name in names:
                self.assertIn(f'name="{name}"', arch)

    def test_mode_and_scope_in_the_words_of_settings(self):
        params = self.env["ir.config_parameter"]
        params.set_param("perimeter_security.mode", "monitor")
        params.set_param("perimeter_security.scope", "internal")
        state = self.state()
        self.assertEqual(state["mode"]["value"], "Monitor (log only)")
        self.assertEqual(state["scope"]["value"], "Internal users")
        # In monitor mode nothing is refused by the allowlist: what would be is counted beside.
        before = state["monitored_today"]["value"]
        self.log("10.73.0.1", 4, blocked=False)
        self.assertEqual(self.state()["monitored_today"]["value"] - before, 4)
        params.set_param("perimeter_security.mode", "off")
        self.assertEqual(self.state()["mode"]["value"], "Off")
        self.assertNotIn("monitored_today", self.state())

    def test_french(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms(["perimeter_security"], ["fr_FR"], overwrite=True)
        french = self.env(context={"lang": "fr_FR"})
        sections = {section["name"]: section for section in self.Dashboard.with_env(french).dashboard_state()}
        self.assertEqual(sections["open_alerts"]["title"], "Alertes ouvertes")
        self.assertEqual(sections["posture"]["items"][0]["caption"], "Critique")

    def test_an_auditor_reads_it_and_each_link_needs_reading_only(self):
        admin_state = self.state(self.env(user=self.env.ref("base.user_admin")))
        self.assertEqual(admin_state["mode"]["action"]["res_model"], "res.config.settings")
        auditor_env = self.env(user=self.auditor)
        auditor_state = self.state(auditor_env)
        # Settings is for Settings administrators: the auditor reads the mode in Settings in Force.
        self.assertEqual(auditor_state["mode"]["action"]["res_model"], "perimeter.setting")
        self.assertEqual({name: item["value"] for name, item in auditor_state.items()},
                         {name: item["value"] for name, item in admin_state.items()})
        for name, item in auditor_state.items():
            with self.subTest(name):
                self.assertTrue(auditor_env[item["action"]["res_model"]].has_access("read"))
        plain = new_test_user(self.env, "dashboard_plain", groups="base.group_user")
        with self.assertRaises(AccessError):
            self.Dashboard.with_user(plain).dashboard_state()

    def test_without_the_browser_day_it_is_the_day_of_the_user_time_zone(self):
        for zone in ("Asia/Kolkata", "America/Los_Angeles", "UTC"):
            with self.subTest(zone):
                start = self.Dashboard.with_context(tz=zone)._perimeter_day_start()
                local = fields.Datetime.context_timestamp(self.Dashboard.with_context(tz=zone), start)
                self.assertEqual((local.hour, local.minute), (0, 0))
                self.assertEqual(local.date(), fields.Datetime.context_timestamp(
                    self.Dashboard.with_context(tz=zone), fields.Datetime.now()).date())

    def test_a_malformed_day_from_a_caller_counts_the_users_day(self):
        """The header's one argument comes from the browser; anything else is read as if it were absent."""
        self.log("10.71.0.4", 5)
        expected = _items(self.Dashboard.dashboard_state())["refused_today"]["value"]
        for wrong in ("yesterday", "2026-13-45 99:00:00", 42, ["2026-12-06"]):
            with self.subTest(wrong=wrong):
                state = _items(self.Dashboard.dashboard_state(today_start=wrong))
                self.assertEqual(state["refused_today"]["value"], expected)
