"""``perimeter.change.tracked``: the abstract model behind the change history.

It compares the tracked values of the records before and after each create,
write and unlink, and appends one ``perimeter.change.log`` row per value that
changed. Each model that inherits it names what it tracks in its own file
(``_perimeter_tracked_fields``): the allowlist and blocklist rules, the
networks of users and groups, the ``perimeter_security.*`` parameters (which
Odoo does not track, however they are written), the mail servers and the
connected systems.

Every row of one request carries the same client address: the one the
module resolved for it, taken before the request's first change (which may
be to the trusted proxies themselves).
"""

from odoo import api, fields, models

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
