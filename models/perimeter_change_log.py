"""The audit trail: who changed the perimeter, when, from where, from what to what.

Rules, perimeter parameters, connected systems' fences and mail servers'
trust all end up here through ``perimeter.change.tracked`` (see
``perimeter_change_tracked.py``). Rows are append-only: only the superuser
(code running with ``sudo()``, such as the retention job) may alter or remove
them.
"""

import logging
from datetime import datetime, timedelta

from odoo import api, fields, models
from odoo.exceptions import AccessError
from odoo.tools import SQL

from ..guard import verdicts
from ..perimeter.client import resolve_client
from ..perimeter.networks import NetworkSet
from .perimeter_setting import setting_label, setting_value_text, yes_no

_logger = logging.getLogger(__name__)

# The trail outlives the access log it explains, and is never kept less than a year.
MIN_RETENTION_DAYS = 365


# Key of the per-request memo of the address recorded (in the WSGI environ, per database).
_ADDRESS_MEMO = "perimeter_security.change_address"


def client_address(env):
    """The client address the module resolved for the current request; False outside requests (shell, cron).

    It is the address the perimeter resolved for this request (trusted proxies
    applied) when a verdict was reached, else the request's facts resolved
    with the trusted proxies stored when it is first asked for. Kept for the
    rest of the request: every row of one save carries the same address, even
    when the save changes the trusted proxies (call it before the first change).
    """
    state = verdicts.current_state()
    memo = state.environ.setdefault(_ADDRESS_MEMO, {}) if state is not None else {}
    dbname = env.cr.dbname
    if dbname not in memo:
        memo[dbname] = _resolved_address(env, state)
    return memo[dbname]


def _resolved_address(env, state):
    if state is not None:
        verdict = state.verdicts.get(env.cr.dbname)
        if verdict is not None and verdict.client is not None:
            return verdict.client.ip
    facts = verdicts.current_facts()
    if facts is None:
        return False
    proxies = env["ir.config_parameter"].sudo()._perimeter_settings()["trusted_proxies"]
    return resolve_client(facts.connection, NetworkSet(proxies)).ip or False


class PerimeterChangeLog(models.Model):
    _name = "perimeter.change.log"
    _description = "Perimeter Change"
    _order = "changed_at desc, id desc"
    _rec_name = "what"
    _rec_names_search = ["record_name", "field_name"]

    changed_at = fields.Datetime(string="Time", required=True, readonly=True, index=True,
                                 default=fields.Datetime.now)
    user_id = fields.Many2one("res.users", readonly=True, index=True, ondelete="set null")
    login = fields.Char(readonly=True, help="The user's login when the change was made.")
    client_address = fields.Char(
        readonly=True,
        help="The client address the server saw for the request that made the change (trusted proxies "
        "applied). Empty for changes made outside a web request: odoo shell, scheduled actions, upgrades.",
    )
    operation = fields.Selection(
        [("create", "Created"), ("write", "Changed"), ("unlink", "Deleted")],
        required=True, readonly=True,
    )
    res_model = fields.Char(string="Model", required=True, readonly=True, index=True)
    model_description = fields.Char(string="Kind", compute="_compute_descriptions")
    res_id = fields.Integer(string="Record ID", readonly=True, index=True)
    record_name = fields.Char(string="Record name as stored", readonly=True)
    field_name = fields.Char(string="Field or parameter", required=True, readonly=True, index=True,
                             help="A field name, or an ir.config_parameter key.")
    field_description = fields.Char(string="Field or setting", compute="_compute_descriptions")
    what = fields.Char(compute="_compute_what")
    old_value = fields.Text(string="Stored value before", readonly=True)
    new_value = fields.Text(string="Stored value after", readonly=True)
    # The stored facts above, worded when read, in the reader's language and time zone.
    record_text = fields.Char(string="Record", compute="_compute_texts")
    old_text = fields.Text(string="Before", compute="_compute_texts")
    new_text = fields.Text(string="After", compute="_compute_texts")

    @api.depends("res_model", "field_name")
    def _compute_descriptions(self):
        # Worded when read, in the reader's language.
        for change in self:
            model = self.env["ir.model"].sudo()._get(change.res_model)
            change.model_description = model.name if model else change.res_model
            if change.res_model == "ir.config_parameter":
                change.field_description = setting_label(self.env, change.field_name)
            elif change.res_model in self.env and change.field_name in self.env[change.res_model]._fields:
                change.field_description = self.env[change.res_model]._fields[change.field_name]._description_string(
                    self.env)
            else:
                change.field_description = change.field_name

    @api.depends("record_name", "field_description", "field_name")
    def _compute_what(self):
        for change in self:
            label = change.field_description or change.field_name
            parameter = change.res_model == "ir.config_parameter"
            change.what = f"{change.record_name}: {label}" if change.record_name and not parameter else label

    @api.depends("res_model", "field_name", "record_name", "old_value", "new_value")
    @api.depends_context("lang", "tz")
    def _compute_texts(self):
        for change in self:
            parameter = change.res_model == "ir.config_parameter"
            change.record_text = change.field_description if parameter else change.record_name
            change.old_text = change._perimeter_value_text(change.old_value)
            change.new_text = change._perimeter_value_text(change.new_value)

    def _perimeter_value_text(self, text):
        """A stored value as the screens show it: a setting's label, Yes or No, a date in the reader's time zone."""
        if not text:
            return text
        if self.res_model == "ir.config_parameter":
            return setting_value_text(self.env, self.field_name, text)
        model = self.env.get(self.res_model)
        field = model._fields.get(self.field_name) if model is not None else None
        if field is None:
            return text
        if field.type == "boolean" and text in ("True", "False"):
            return yes_no(self.env, text == "True")
        if field.type == "datetime":
            return self._perimeter_datetime_text(text)
        return text

    def _perimeter_datetime_text(self, text):
        """A moment stored as ``2026-12-03 18:00:00 UTC``, in the reader's time zone and date format."""
        try:
            moment = datetime.strptime(text, "%Y-%m-%d %H:%M:%S UTC")
        except ValueError:
            return text
        local = fields.Datetime.context_timestamp(self, moment)
        lang = self.env["res.lang"].sudo().with_context(active_test=False).search(
            [("code", "=", self.env.lang or "en_US")], limit=1)
        return local.strftime(f"{lang.date_format or '%m/%d/%Y'} {lang.time_format or '%H:%M:%S'}")

    # -- append-only -----------------------------------------------------------------------------

    def write(self, vals):
        self._perimeter_check_superuser()
        return super().write(vals)

    def unlink(self):
        self._perimeter_check_superuser()
        return super().unlink()

    def _perimeter_check_superuser(self):
        if not self.env.su:
            raise AccessError(self.env._("The perimeter change history cannot be altered: it is append-only."))

    # -- recording -------------------------------------------------------------------------------

    @api.model
    def _perimeter_record(self, entries, address=False):
        """Append ``entries`` (dicts of the fields above, without who/when/where) for the current user."""
        if not entries:
            return self.browse()
        user = self.env.user
        common = {
            "changed_at": fields.Datetime.now(),
            "user_id": user.id,
            "login": user.login,
            "client_address": address or False,
        }
        return self.sudo().create([{**common, **entry} for entry in entries])

    # -- retention -------------------------------------------------------------------------------

    @api.model
    def _perimeter_retention_days(self):
        """Days the trail is kept: the access log's retention, at least a year; 0 keeps everything."""
        days = self.env["ir.config_parameter"]._perimeter_settings()["log_retention_days"]
        return max(days, MIN_RETENTION_DAYS) if days else 0

    @api.autovacuum
    def _gc_perimeter_change_log(self):
        days = self._perimeter_retention_days()
        if not days:
            return
        limit = fields.Datetime.now() - timedelta(days=days)
        self.env.cr.execute(SQL("DELETE FROM perimeter_change_log WHERE changed_at < %s", limit))
        if self.env.cr.rowcount:
            _logger.info("perimeter: removed %s change history rows older than %s days", self.env.cr.rowcount, days)
        self.invalidate_model()
