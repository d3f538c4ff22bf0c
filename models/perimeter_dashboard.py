"""``perimeter.dashboard``: the state of the perimeter, shown above the Perimeter dashboard when the app opens.

The header's one server call. It reads as the current user (an auditor gets the
same numbers as an administrator) and gives, with each number, the action it
opens, so that the web client only draws and follows them.
"""

from datetime import datetime, time

import pytz

from odoo import api, fields, models

from ..guard import server_config
from ..perimeter import posture
from .perimeter_setting import setting_label, setting_value_text

SETTINGS_ADMINISTRATOR = "base.group_system"
_MODE_TONES = {"off": "muted", "monitor": "warning", "enforce": "success"}
_SEVERITY_TONES = {"critical": "danger", "warning": "warning", "info": "info"}


class PerimeterDashboard(models.AbstractModel):
    _name = "perimeter.dashboard"
    _description = "Perimeter Dashboard"

    @api.model
    def dashboard_state(self, today_start=None):
        """The header: a list of sections ``{name, title, items}``, each item ``{name, value, caption, tone, action}``.

        ``value`` is a number or words, ``caption`` words after it (or ``""``), ``tone`` a Bootstrap
        colour (``success``, ``warning``, ``danger``, ``info``, ``muted``), ``action`` an
        ``ir.actions.act_window`` dict opening what the number counts. ``today_start`` is the UTC
        moment (``"YYYY-MM-DD HH:MM:SS"``) the reader's day began: the web client sends the start of
        its own day, as its "Today" filters count it; without it, the day of the user's time zone
        (Preferences), else UTC.
        """
        values = self.env["ir.config_parameter"]._perimeter_settings()
        try:
            since = fields.Datetime.to_datetime(today_start) if isinstance(today_start, str) else None
        except ValueError:
            since = None  # not a moment: the user's day, as without it
        since = since or self._perimeter_day_start()
        sections = [
            self._perimeter_setting_section("mode", values["mode"], _MODE_TONES.get(values["mode"], "muted")),
            self._perimeter_setting_section("scope", values["scope"], "body"),
            self._perimeter_log_section(since, blocked=True),
        ]
        if values["mode"] == "monitor":
            sections.append(self._perimeter_log_section(since, blocked=False))
        sections += [self._perimeter_alert_section(), self._perimeter_posture_section()]
        return sections

    @api.model
    def _perimeter_day_start(self):
        """Midnight of today in the user's time zone (UTC when none is set), as a naive UTC datetime."""
        try:
            zone = pytz.timezone(self.env.context.get("tz") or self.env.user.tz or "UTC")
        except pytz.UnknownTimeZoneError:
            zone = pytz.utc
        today = datetime.now(zone).date()
        return zone.localize(datetime.combine(today, time.min)).astimezone(pytz.utc).replace(tzinfo=None)

    def _perimeter_action(self, xmlid, context):
        action = self.env["ir.actions.act_window"]._for_xml_id(f"perimeter_security.{xmlid}")
        action["context"] = context
        return action

    def _perimeter_setting_section(self, name, value, tone):
        key = f"perimeter_security.{name}"
        words = setting_value_text(self.env, key, value)
        if name == "mode" and server_config.break_glass():
            # The configuration file's break-glass overrides the mode: nothing is blocked, whatever it says.
            words, tone = self.env._("%s, but the break-glass is on: nothing is blocked", words), "danger"
        # Settings is for Settings administrators; everyone else reads the same values in Settings in Force.
        if self.env.user.has_group(SETTINGS_ADMINISTRATOR):
            action = self.env["ir.actions.act_window"]._for_xml_id("perimeter_security.perimeter_settings_action")
        else:
            action = self._perimeter_action("perimeter_setting_action", {})
        item = {"name": name, "value": words, "caption": "", "tone": tone, "action": action}
        return {"name": name, "title": setting_label(self.env, key), "items": [item]}

    def _perimeter_log_section(self, since, blocked):
        """Requests refused (or, ``blocked=False``, only monitored) since ``since``: the total of the
        access log's rows, as its list sums them under the same filters."""
        groups = self.env["perimeter.access.log"]._read_group(
            [("blocked", "=", blocked), ("last_seen", ">=", since)], [], ["hits:sum"])
        hits = groups[0][0] or 0
        name = "refused_today" if blocked else "monitored_today"
        title = self.env._("Refused today") if blocked else self.env._("Would be refused today")
        log_filter = "search_default_filter_blocked" if blocked else "search_default_filter_monitored"
        action = self._perimeter_action("perimeter_access_log_action",
                                        {log_filter: 1, "search_default_filter_today": 1})
        # No parenthesised group after an _() call: Odoo 19's extractor takes it for one more text.
        tone = "muted" if not hits else "danger" if blocked else "warning"
        item = {"name": name, "value": hits, "caption": self.env._("requests"), "tone": tone, "action": action}
        return {"name": name, "title": title, "items": [item]}

    def _perimeter_alert_section(self):
        Alerts = self.env["perimeter.access.alert"]
        count = Alerts.search_count(Alerts._perimeter_open_domain())
        action = self._perimeter_action("perimeter_access_alert_action", {"search_default_filter_open": 1})
        item = {"name": "open_alerts", "value": count, "caption": "", "tone": "danger" if count else "muted",
                "action": action}
        return {"name": "open_alerts", "title": self.env._("Open alerts"), "items": [item]}

    def _perimeter_posture_section(self):
        """This server's findings by severity (the latest review: the daily one, or the Posture menu's)."""
        Findings = self.env["perimeter.posture.finding"]
        counts = dict(Findings._read_group([("is_this_server", "=", True)], ["severity"], ["__count"]))
        labels = dict(Findings._fields["severity"]._description_selection(self.env))
        items = [
            {
                "name": f"posture_{severity}",
                "value": counts.get(severity, 0),
                "caption": labels.get(severity, severity),
                "tone": tone if counts.get(severity) else "muted",
                "action": self._perimeter_action(
                    "perimeter_posture_action", {"search_default_this_server": 1, f"search_default_{severity}": 1}),
            }
            for severity, tone in _SEVERITY_TONES.items()
            if severity in posture.SEVERITIES
        ]
        return {"name": "posture", "title": self.env._("Posture of this server"), "items": items}
