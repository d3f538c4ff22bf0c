"""``perimeter.connected.system``: the systems that talk to this Odoo, and how well their traffic is protected.

The Connected Systems dashboard's records: discovery (the providers are in
``connected_system_providers.py``), the checks (TLS probes, the calls seen
from API clients, a mail server's own TLS check), the fence of inbound
systems (their users and API keys accepted only from their allowed
networks), the change history of that fence and of the endpoint's trust
(``perimeter.change.tracked``), and the role check of the actions that write.
"""

import re

from odoo import Command, api, fields, models, tools
from odoo.exceptions import UserError, ValidationError
from odoo.tools.sql import column_exists, rename_column

from ..guard import rpc_callers, rpc_context
from ..guard.wording import message_of, word_stored
from ..perimeter import systems as engine
from ..perimeter.certinfo import normalize_pin
from ..perimeter.client import resolve_client
from ..perimeter.fence import Fence
from ..perimeter.networks import normalize_network_list
from ..perimeter.tls_contexts import build_client_context
from ..perimeter.tls_report import DASHBOARD_STATES
from ..perimeter.wording import to_json
from . import connected_system_providers as providers
from .roles import archive_offered_to_writers_only, require_manager

# Fields that discovery fills; once an administrator edits one, discovery leaves it alone.
DISCOVERED_FIELDS = ("name", "kind", "direction", "endpoint", "probe_protocol")
# Fields the compiled fence depends on, and the systems that fence their credentials.
FENCE_FIELDS = ("active", "direction", "allowed_networks", "user_ids", "apikey_ids")
FENCING = [("active", "=", True), ("direction", "=", "inbound"), ("allowed_networks", "!=", False)]
# Models a system may come from (the source_ref field's choices), when installed.
SOURCE_MODELS = (
    "ir.mail_server", "fetchmail.server", "res.users.apikeys", "res.users", "ir.actions.server",
    "base.automation", "ir.config_parameter", "website", "res.company.ldap", "auth.oauth.provider",
    "payment.provider", "pos.config",
)
_COLORS = {"critical": 1, "warning": 2, "ok": 10, "unknown": 0}
# Mail servers keep their own TLS check (Mail TLS): their systems show it instead of probing again.
MAIL_SOURCE_MODELS = ("ir.mail_server", "fetchmail.server")
_DETAILS_VERSION = re.compile(r"^Protocol: ((?:TLS|SSL) [\d.]+)", re.MULTILINE)


def _version_in_details(details):
    """The protocol a mail server's TLS details name ("TLS 1.3"), "no TLS" for clear text, else False."""
    found = _DETAILS_VERSION.search(details or "")
    if found:
        return found.group(1)
    return "no TLS" if "(plain TCP, no TLS)" in (details or "") else False


def _notification(title, message, kind="info"):
    return {
        "type": "ir.actions.client",
        "tag": "display_notification",
        "params": {"title": title, "message": message, "type": kind, "sticky": kind in ("warning", "danger"),
                   # As Odoo's Test Connection: closing reloads the view that called the button.
                   "next": {"type": "ir.actions.act_window_close"}},
    }


class PerimeterConnectedSystem(models.Model):
    """A system that talks to this Odoo, and how well its traffic is protected."""

    _name = "perimeter.connected.system"
    # On a write: this model's (values normalised, hand edits remembered), then the change history (what is
    # stored, compared with what was), then the compiled fence is dropped.
    _inherit = ["perimeter.change.tracked"]
    _description = "Connected System"
    _order = "name, id"

    # Its fence (who may use its credentials, from where) and the trust of its endpoint.
    _perimeter_tracked_fields = ("allowed_networks", "user_ids", "apikey_ids", "ca_bundle", "pinned_sha256")

    name = fields.Char(required=True)
    active = fields.Boolean(default=True)
    kind = fields.Selection(list(engine.KINDS.items()), required=True, default="other")
    direction = fields.Selection(list(engine.DIRECTIONS.items()), required=True, default="outbound")
    endpoint = fields.Char(help="URL or host:port Odoo reaches it at (outbound), or where it reaches Odoo.")
    probe_protocol = fields.Selection(
        list(engine.PROBE_PROTOCOLS.items()), string="Check as", required=True, default="auto",
        help="How to probe the endpoint. 'From the endpoint' reads its scheme or port; discovery sets "
        "'plain TCP' for a server Odoo reaches without encryption.",
    )
    source_ref = fields.Reference(selection="_selection_source_models", string="Source record", readonly=True)
    # *This Odoo* comes from the web.base.url system parameter: outside developer mode, opening that raw
    # technical record is no help (Odoo sets it from the address an administrator logs in with), so the
    # button is not offered there.
    source_is_parameter = fields.Boolean(compute="_compute_source_is_parameter")
    discovery_key = fields.Char(readonly=True, copy=False, index=True,
                                help="Identity of the source that discovery found this system in.")
    discovery_gone = fields.Boolean(string="Gone", readonly=True, copy=False,
                                    help="The latest discovery did not find this system's source any more.")
    manual_fields = fields.Char(readonly=True, copy=False,
                                help="Discovered fields edited by hand, which discovery no longer changes.")
    allowed_networks = fields.Char(
        help="Inbound systems: the only networks its users and API keys are accepted from "
        "(CIDRs, comma separated). Empty: not fenced.",
    )
    user_ids = fields.Many2many("res.users", "perimeter_connected_system_user_rel", "system_id", "user_id",
                                string="Users", help="Users this system logs in as; fenced by its allowed networks.")
    apikey_ids = fields.Many2many("res.users.apikeys", "perimeter_connected_system_apikey_rel", "system_id",
                                  "apikey_id", string="API keys",
                                  help="API keys this system uses; fenced by its allowed networks.")
    state = fields.Selection(list(engine.STATES.items()), required=True, default="unknown", readonly=True,
                             copy=False, index=True)
    color = fields.Integer(compute="_compute_color")
    tls_version = fields.Char(string="TLS version", readonly=True, copy=False)
    cert_expires_at = fields.Datetime(string="Certificate expires", readonly=True, copy=False)
    days_to_expiry = fields.Integer(string="Days left", compute="_compute_days_to_expiry")
    # What the latest check found, as facts (perimeter.wording.to_json); ``details`` words them for the reader.
    # Not searchable: nothing searches the details (state, version and expiry are their own fields).
    details_facts = fields.Text(string="Details (stored facts)", readonly=True, copy=False)
    details = fields.Text(readonly=True, copy=False, compute="_compute_details", inverse="_inverse_details")
    last_check = fields.Datetime(readonly=True, copy=False)
    ca_bundle = fields.Text(
        string="CA bundle",
        help="PEM certificates trusted for this endpoint in addition to the system store (a private CA).",
    )
    pinned_sha256 = fields.Char(string="Pinned SHA-256",
                                help="SHA-256 fingerprint the endpoint's certificate must have (hex, colons optional).")
    contact_name = fields.Char(string="Owner")
    contact_email = fields.Char(string="Owner email")
    contact_phone = fields.Char(string="Owner phone", help="Stored in international (E.164) form.")
    notes = fields.Text()
    # Demo data's systems: their endpoints reach nobody, so they keep the state the README describes.
    is_example = fields.Boolean(string="Example", readonly=True, copy=False,
                                help="An example from the demo data: never checked nor changed by discovery.")
    caller_ids = fields.Many2many("perimeter.rpc.caller", string="Calls seen", compute="_compute_caller_ids")

    def _auto_init(self):
        # The details used to be stored, in English, in ``details`` itself: keep them as the facts
        # (plain text reads back as it was).
        if column_exists(self.env.cr, self._table, "details") and not column_exists(
                self.env.cr, self._table, "details_facts"):
            rename_column(self.env.cr, self._table, "details", "details_facts")
        return super()._auto_init()

    @api.depends("details_facts")
    @api.depends_context("lang")
    def _compute_details(self):
        for system in self:
            system.details = word_stored(self.env, system.details_facts) or False

    def _inverse_details(self):
        # Written by hand, by a script or by demo data: stored as it was given.
        for system in self:
            system.details_facts = to_json(system.details) if system.details else False

    @api.model
    def _selection_source_models(self):
        return [(model.model, model.name)
                for model in self.env["ir.model"].sudo().search([("model", "in", SOURCE_MODELS)])]

    @api.depends("source_ref")
    def _compute_source_is_parameter(self):
        for system in self:
            system.source_is_parameter = bool(system.source_ref) and system.source_ref._name == "ir.config_parameter"

    @api.depends("state")
    def _compute_color(self):
        for system in self:
            system.color = _COLORS.get(system.state, 0)

    @api.depends("cert_expires_at")
    def _compute_days_to_expiry(self):
        now = fields.Datetime.now()
        for system in self:
            expires = system.cert_expires_at
            system.days_to_expiry = int((expires - now).total_seconds() // 86400) if expires else 0

    @api.depends("user_ids", "apikey_ids")
    def _compute_caller_ids(self):
        Callers = self.env["perimeter.rpc.caller"].sudo()
        for system in self:
            system.caller_ids = Callers.search(system._caller_domain()) if system.id else Callers

    def _caller_domain(self):
        self.ensure_one()
        return ["|", ("apikey_id", "in", self.apikey_ids.ids),
                "&", ("apikey_id", "=", False), ("user_id", "in", self.user_ids.ids)]

    # -- validation ------------------------------------------------------------------------------

    @api.model
    def _normalize_vals(self, vals):
        vals = dict(vals)
        try:
            if vals.get("allowed_networks"):
                vals["allowed_networks"] = engine.canonical_networks(vals["allowed_networks"]) or False
            if vals.get("contact_phone"):
                region = self.env.company.country_id.code
                vals["contact_phone"] = engine.normalize_phone(vals["contact_phone"], region) or False
            if vals.get("pinned_sha256"):
                vals["pinned_sha256"] = normalize_pin(vals["pinned_sha256"])
            if vals.get("ca_bundle") and vals["ca_bundle"].strip():
                build_client_context(ca_bundle_pem=vals["ca_bundle"])
            if vals.get("endpoint"):
                vals["endpoint"] = vals["endpoint"].strip()
        except ValueError as exc:
            raise ValidationError(message_of(self.env, exc)) from None
        return vals

    @api.constrains("allowed_networks")
    def _check_allowed_networks(self):
        for system in self:
            try:
                normalize_network_list(system.allowed_networks or "")
            except ValueError as exc:
                raise ValidationError(message_of(self.env, exc)) from None

    @api.constrains("active", "direction", "allowed_networks", "user_ids")
    def _check_no_self_lockout(self):
        """Never let an administrator fence themselves out of their own session's address."""
        request = rpc_context.current_request()
        uid = self.env.uid
        if request is None or not any(uid in system.user_ids.ids for system in self):
            return
        bound = self.sudo().search([("user_ids", "in", uid), *FENCING])
        if not bound:
            return
        fence = Fence.build([(normalize_network_list(s.allowed_networks), [uid], []) for s in bound],
                            self.env["ir.config_parameter"]._perimeter_settings()["trusted_proxies"])
        client = resolve_client(request.connection, fence.trusted_proxies)
        refused = fence.refused_address(uid, 0, client)
        if refused:
            raise ValidationError(self.env._(
                "This would lock you out: you are bound to %(systems)s, and your current address %(address)s is "
                "not in its allowed networks. Add your address first, or remove yourself from its users.",
                systems=", ".join(bound.mapped("name")), address=refused,
            ))

    # -- CRUD ------------------------------------------------------------------------------------

    @api.model
    def fields_get(self, allfields=None, attributes=None):
        return archive_offered_to_writers_only(self, super().fields_get(allfields, attributes))

    @api.model_create_multi
    def create(self, vals_list):
        systems = super().create([self._normalize_vals(vals) for vals in vals_list])
        self.env.registry.clear_cache()
        return systems

    def write(self, vals):
        vals = self._normalize_vals(vals)
        if not self.env.context.get("perimeter_discovery"):
            edited = {name for name in DISCOVERED_FIELDS if name in vals}
            for system in self.filtered("discovery_key") if edited else ():
                manual = set(system._manual_field_names()) | edited
                super(PerimeterConnectedSystem, system).write({"manual_fields": ",".join(sorted(manual))})
        result = super().write(vals)
        if any(name in vals for name in FENCE_FIELDS):
            self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result

    def _manual_field_names(self):
        return [name for name in (self.manual_fields or "").split(",") if name]

    # -- the fence -------------------------------------------------------------------------------

    @api.model
    @tools.ormcache()
    def _fence_snapshot(self):
        """The compiled :class:`Fence` of this database; cached, cleared by every change that matters."""
        systems = self.sudo().search(FENCING)
        bindings = [(normalize_network_list(system.allowed_networks), system.user_ids.ids, system.apikey_ids.ids)
                    for system in systems]
        trusted = self.env["ir.config_parameter"]._perimeter_settings()["trusted_proxies"]
        return Fence.build(bindings, trusted)

    # -- discovery -------------------------------------------------------------------------------

    @api.model
    def action_discover(self):
        """Create or update a system for everything this database connects to (model level)."""
        require_manager(self.env)
        self._discover()
        return True

    def action_discover_button(self):
        """The dashboard's Discover button (buttons always pass record ids, which discovery ignores):
        discover, then say what was found."""
        require_manager(self.env)
        result = self.browse()._discover()
        created, updated, gone = result["created"], result["updated"], result["gone"]
        lines = [self.env._("%(found)s systems found: %(new)s new, %(known)s already listed.",
                            found=len(created | updated), new=len(created), known=len(updated))]
        if created:
            lines.append(self.env._("New: %s.", ", ".join(created.mapped("name"))))
        if gone:
            lines.append(self.env._("No longer found (marked Gone): %s.", ", ".join(gone.mapped("name"))))
        mail = (created | updated).filtered(lambda system: system._mail_source() is not None)
        if mail:
            lines.append(self.env._("1 mail server shows its latest TLS check (Mail TLS).") if len(mail) == 1 else
                         self.env._("%s mail servers show their latest TLS check (Mail TLS).", len(mail)))
        return _notification(self.env._("Discovery"), "\n".join(lines), "success")

    @api.model
    def _discover(self):
        """Run the providers; return ``{"created": systems, "updated": systems, "gone": systems}``."""
        rpc_callers.flush(env=self.env)
        found = providers.discover(self.env(su=True))
        Systems = self.sudo().with_context(active_test=False, perimeter_discovery=True)
        existing = {system.discovery_key: system for system in Systems.search([("discovery_key", "!=", False)])}
        created, updated = Systems.browse(), Systems.browse()
        for item in found:
            system = existing.get(item.key) or self._adoptable(Systems, item)
            if system:
                system._apply_found(item)
                updated |= system
            else:
                created |= Systems.create(self._found_vals(item))
        found_keys = {item.key for item in found}
        gone = Systems.browse([system.id for key, system in existing.items() if key not in found_keys])
        gone.filtered(lambda system: not system.discovery_gone).write({"discovery_gone": True})
        # A mail server already checked keeps its verdict on the dashboard, never "Not checked".
        for model in MAIL_SOURCE_MODELS:
            servers = [item.source for item in found if item.source is not None and item.source._name == model]
            if servers:
                Systems._sync_from_mail_servers(self.env[model].browse([server.id for server in servers]))
        return {"created": created, "updated": updated, "gone": gone}

    @api.model
    def _sync_from_mail_servers(self, servers):
        """Systems discovered from these mail servers take the state of their latest TLS check."""
        if not servers:
            return
        references = [f"{server._name},{server.id}" for server in servers]
        systems = self.sudo().with_context(active_test=False, perimeter_discovery=True).search(
            [("source_ref", "in", references), ("kind", "in", ("mail_out", "mail_in"))])
        for system in systems:
            server = system._mail_source()
            if server is not None and server.perimeter_last_check:
                system.write(system._mail_check_vals(server))

    def _mail_check_vals(self, server):
        return {
            "state": DASHBOARD_STATES.get(server.perimeter_tls_state, "unknown"),
            "details_facts": server.perimeter_tls_facts or False,
            "last_check": server.perimeter_last_check,
            "cert_expires_at": server.perimeter_cert_expires_at or False,
            # Read from the English wording, the same in every language.
            "tls_version": _version_in_details(str(server._perimeter_tls_details_text())),
        }

    def _mail_source(self):
        """The mail server this system was discovered from, if it still exists."""
        source = self._source_record() if self.kind in ("mail_out", "mail_in") else None
        return source if source is not None and source._name in MAIL_SOURCE_MODELS else None

    @api.model
    def _adoptable(self, Systems, item):
        """A system entered by hand for the same thing (same kind and endpoint), not yet discovered."""
        if not item.endpoint:
            return Systems.browse()
        return Systems.search([("discovery_key", "=", False), ("is_example", "=", False), ("kind", "=", item.kind),
                               ("endpoint", "=", item.endpoint)], limit=1)

    @api.model
    def _found_vals(self, item):
        return {
            "name": item.name, "kind": item.kind, "direction": item.direction, "endpoint": item.endpoint or False,
            "probe_protocol": item.probe_protocol, "discovery_key": item.key, "discovery_gone": False,
            "source_ref": f"{item.source._name},{item.source.id}" if item.source else False,
            "user_ids": [Command.link(user_id) for user_id in item.user_ids],
            "apikey_ids": [Command.link(key_id) for key_id in item.apikey_ids],
        }

    def _apply_found(self, item):
        self.ensure_one()
        if not self.discovery_key:  # adopted: what the administrator typed stays theirs
            self.manual_fields = ",".join(DISCOVERED_FIELDS)
        manual = set(self._manual_field_names())
        found = self._found_vals(item)
        vals = {name: found[name] for name in DISCOVERED_FIELDS if name not in manual and self[name] != found[name]}
        for name in ("discovery_key", "discovery_gone", "source_ref"):
            current = self[name]
            if name == "source_ref":
                current = f"{current._name},{current.id}" if current else False
            if current != found[name]:
                vals[name] = found[name]
        # Bindings are only ever added: an administrator may have bound more.
        missing_users = [Command.link(uid) for uid in item.user_ids if uid not in self.user_ids.ids]
        missing_keys = [Command.link(kid) for kid in item.apikey_ids if kid not in self.apikey_ids.ids]
        if missing_users:
            vals["user_ids"] = missing_users
        if missing_keys:
            vals["apikey_ids"] = missing_keys
        if vals:
            self.write(vals)

    # -- checks ----------------------------------------------------------------------------------

    def action_check(self):
        """Probe now: a real TLS check of each outbound endpoint, concurrently; inbound API clients
        are judged by the calls seen from them; mail servers by their own TLS check (the one Mail TLS
        shows). Answers with what was checked and found."""
        require_manager(self.env)
        # Examples (demo data) keep the state they were given: their endpoints reach nobody.
        systems = self.sudo().with_context(perimeter_discovery=True).filtered(lambda system: not system.is_example)
        by_mail = systems.filtered(lambda system: system._mail_source() is not None)
        for model in MAIL_SOURCE_MODELS:
            servers = self.env[model].sudo().browse(
                [system._mail_source().id for system in by_mail if system._mail_source()._name == model])
            if servers:
                servers._perimeter_check_now()  # stores the result on the server and on its systems
        by_calls = (systems - by_mail).filtered(lambda system: system._judged_by_calls())
        probed = systems - by_mail - by_calls
        without_endpoint = probed.filtered(lambda system: not system.endpoint)
        with_endpoint = probed - without_endpoint
        now = fields.Datetime.now()
        if by_calls:
            rpc_callers.flush(env=self.env)
            for system in by_calls:
                state, details = engine.judge_callers(system._callers_seen(), system.allowed_networks or "", now)
                system.write({"state": state, "details_facts": to_json(details), "last_check": now,
                              "tls_version": False, "cert_expires_at": False})
        without_endpoint.write({
            "state": "unknown", "last_check": now, "tls_version": False, "cert_expires_at": False,
            "details_facts": to_json(engine.NO_ENDPOINT),
        })
        if with_endpoint:
            settings = self.env["ir.config_parameter"]._perimeter_settings()
            jobs = [system._check_job(settings) for system in with_endpoint]
            for system, result in zip(with_endpoint, engine.check_endpoints(jobs), strict=True):
                values = result.values()
                values["details_facts"] = to_json(values.pop("details"))
                system.write(values)
        return systems._check_summary()

    def _check_summary(self):
        """A notification: how many systems were checked, and what was found."""
        labels = dict(self._fields["state"]._description_selection(self.env))
        counts = {state: len(self.filtered(lambda system, state=state: system.state == state)) for state in labels}
        found = ", ".join(f"{count} {labels[state]}" for state, count in counts.items() if count)
        message = self.env._("%(count)s systems checked: %(found)s.", count=len(self), found=found or "-")
        critical = self.filtered(lambda system: system.state == "critical")
        if critical:
            message += "\n" + self.env._("Critical: %s.", ", ".join(critical.mapped("name")))
        kind = "danger" if critical else "warning" if counts.get("warning") else "success"
        return _notification(self.env._("Check"), message, kind)

    def action_check_all(self):
        """Check every active system, whatever the records it is called on (the dashboard's button, the cron)."""
        require_manager(self.env)
        return self.sudo().search([("active", "=", True)]).action_check()

    @api.model
    def _cron_discover_and_check(self):
        self._discover()
        self.action_check_all()

    def _judged_by_calls(self):
        return self.kind == "api_client" or (self.direction == "inbound" and not self.endpoint)

    def _callers_seen(self):
        return [engine.CallerSeen(caller.ip, caller.scheme, caller.hits, caller.last_seen)
                for caller in self.env["perimeter.rpc.caller"].sudo().search(self._caller_domain())]

    def _source_record(self):
        source = self.sudo().source_ref
        return source if source and source.exists() else None

    def _check_job(self, settings):
        """What to probe and with which trust settings; a mail server's own CA bundle and pin count too."""
        source = self._source_record()

        def from_source(field_name):
            return source[field_name] if source is not None and field_name in source._fields else None

        mail = self.kind in ("mail_out", "mail_in")
        return engine.CheckJob(
            endpoint=self.endpoint,
            protocol=self.probe_protocol,
            ca_bundle_pem=self.ca_bundle or from_source("perimeter_ca_bundle") or None,
            pinned_sha256=self.pinned_sha256 or from_source("perimeter_pinned_sha256") or None,
            min_version=settings["mail_tls_min_version"] if mail else "TLSv1_2",
        )

    def action_open_source(self):
        """Open the record this system was discovered from, where an administrator can act on it."""
        self.ensure_one()
        if self.source_is_parameter and not self.env.user.has_group("base.group_no_one"):
            raise UserError(self.env._(
                "%(system)s comes from a technical system parameter, which Odoo updates from the address an "
                "administrator logs in with. Activate the developer mode to open it.", system=self.name))
        source = self._source_record()
        if source is None:
            raise UserError(self.env._("The record this system was discovered from no longer exists."))
        return {
            "type": "ir.actions.act_window",
            "name": source.display_name,
            "res_model": source._name,
            "res_id": source.id,
            "view_mode": "form",
            "views": [(False, "form")],
            "target": "current",
        }
