"""What goes to the change history, model by model.

``perimeter.change.tracked`` compares the tracked values of the records
before and after each create, write and unlink, and appends one
``perimeter.change.log`` row per value that changed. The models below only
name what they track: a rule's network, activity, expiry, note and audience
(who names it, whether it is reserved), the networks of users and groups
however they are given (the user or group form, the rule, RPC, ``odoo
shell``), blocks, the ``perimeter_security.*`` parameters (which Odoo does not
track, however they are written: Settings, ``set_param`` over RPC, ``odoo
shell``). The mail servers and the connected systems name theirs (trust,
fence) in their own files.

Every row of one request carries the same client address: the one the
module resolved for it, taken before the request's first change (which may
be to the trusted proxies themselves).
"""

from odoo import api, fields, models

from ..perimeter import settings
from .perimeter_change_log import client_address

# Context key set while a tracked write runs, so that writes it makes on the same records
# (ir.config_parameter writes several parameters one by one) are not recorded twice.
_TRACKING = "perimeter_change_tracking"


def _render(record, name):
    """Text of ``record``'s value of field ``name`` as the history shows it (False when empty)."""
    field = record._fields[name]
    value = record[name]
    if field.type == "boolean":
        return "True" if value else "False"
    if field.type in ("integer", "float", "monetary"):
        return str(value)
    if not value:
        return False
    render = _RENDERERS.get(field.type, lambda value, field, env: str(value))
    return render(value, field, record.env)


_RENDERERS = {
    "selection": lambda value, field, env: dict(field._description_selection(env)).get(value, value),
    "many2one": lambda value, field, env: value.display_name,
    "one2many": lambda value, field, env: ", ".join(value.mapped("display_name")),
    "many2many": lambda value, field, env: ", ".join(value.mapped("display_name")),
    "datetime": lambda value, field, env: f"{fields.Datetime.to_string(value)} UTC",
}


class PerimeterChangeTracked(models.AbstractModel):
    _name = "perimeter.change.tracked"
    _description = "Perimeter change tracking"

    # Fields whose changes go to the change history (those of them the model has).
    _perimeter_tracked_fields = ()

    def _perimeter_tracked_names(self):
        return [name for name in self._perimeter_tracked_fields if name in self._fields]

    def _perimeter_touches(self, vals):
        return any(name in vals for name in self._perimeter_tracked_names())

    def _perimeter_snapshot(self):
        """``{record id: (record name, {field or parameter key: text})}`` as stored now."""
        names = self._perimeter_tracked_names()
        return {
            record.id: (record.display_name, {name: _render(record, name) for name in names})
            for record in self.sudo().with_context(active_test=False)
        }

    def _perimeter_log(self, operation, before, after):
        """Append a history row per tracked value that differs between two snapshots."""
        entries = self._perimeter_entries(operation, before, after)
        if entries:
            self.env["perimeter.change.log"]._perimeter_record(entries, client_address(self.env))

    def _perimeter_entries(self, operation, before, after):
        entries = []
        for record_id in dict.fromkeys([*before, *after]):
            old_name, old_values = before.get(record_id, (False, {}))
            new_name, new_values = after.get(record_id, (False, {}))
            for what in dict.fromkeys([*old_values, *new_values]):
                old, new = old_values.get(what, False), new_values.get(what, False)
                if old == new or (operation != "write" and not (old or new)):
                    continue
                if operation == "create" and what == "active" and new == "True":
                    continue  # every record starts active: say nothing
                field = self._fields.get(what)  # None for a parameter key
                if (operation != "write" and what != "active" and field is not None and field.type == "boolean"
                        and {old, new} <= {False, "False"}):
                    continue  # a flag that is off when created or deleted (not reserved): nothing to say
                entries.append({
                    "operation": operation, "res_model": self._name, "res_id": record_id,
                    "record_name": new_name or old_name, "field_name": what,
                    "old_value": old, "new_value": new,
                })
        return entries

    @api.model_create_multi
    def create(self, vals_list):
        if self.env.context.get(_TRACKING):
            return super().create(vals_list)
        if any(self._perimeter_touches(vals) for vals in vals_list):
            client_address(self.env)  # resolved before anything changes, for every row of the request
        records = super().create(vals_list)
        records._perimeter_log("create", {}, records._perimeter_snapshot())
        return records

    def write(self, vals):
        if self.env.context.get(_TRACKING) or not self._perimeter_touches(vals):
            return super().write(vals)
        client_address(self.env)
        before = self._perimeter_snapshot()
        result = super(PerimeterChangeTracked, self.with_context(**{_TRACKING: True})).write(vals)
        self._perimeter_log("write", before, self._perimeter_snapshot())
        return result

    def unlink(self):
        if self.env.context.get(_TRACKING):
            return super().unlink()
        client_address(self.env)
        before = self._perimeter_snapshot()
        result = super().unlink()
        self._perimeter_log("unlink", before, {})  # uses only the model and environment of ``self``
        return result


class PerimeterAllowlist(models.Model):
    _name = "perimeter.allowlist"
    _inherit = ["perimeter.allowlist", "mail.thread", "perimeter.change.tracked"]

    # "group_ids", "user_ids" and "reserved": who the rule is for, when the model has them.
    _perimeter_tracked_fields = ("name", "network", "active", "expires_at", "note", "group_ids", "user_ids",
                                 "reserved")

    name = fields.Char(tracking=True)
    network = fields.Char(tracking=True)
    active = fields.Boolean(tracking=True)
    expires_at = fields.Datetime(tracking=True)
    note = fields.Text(tracking=True)


class PerimeterBlocklist(models.Model):
    _name = "perimeter.blocklist"
    _inherit = ["perimeter.blocklist", "perimeter.change.tracked"]

    # Blocking (by hand, the Block wizard, or automatically), renewing and unblocking a client.
    _perimeter_tracked_fields = ("network", "active", "expires_at", "reason")


class IrConfigParameter(models.Model):
    """The ``perimeter_security.*`` parameters: one history row per key whose value changes."""

    _name = "ir.config_parameter"
    _inherit = ["ir.config_parameter", "perimeter.change.tracked"]

    def _perimeter_touches(self, vals):
        return "value" in vals or "key" in vals

    def _perimeter_snapshot(self):
        return {
            param.id: (param.key, {param.key: param.value or False})
            for param in self.sudo()
            if param.key in settings.KEYS
        }

    def _perimeter_entries(self, operation, before, after):
        # A parameter that is not stored holds its default: say so rather than leave "before" empty.
        entries = super()._perimeter_entries(operation, before, after)
        for entry in entries:
            default = settings.KEYS[entry["field_name"]].default or False
            if operation == "create" and entry["old_value"] is False:
                entry["old_value"] = default
            if operation == "unlink" and entry["new_value"] is False:
                entry["new_value"] = default
        return [entry for entry in entries if entry["old_value"] != entry["new_value"]]
