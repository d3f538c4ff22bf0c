"""No Archive / Unarchive for who may only read a rule (a Perimeter auditor).

Odoo's web client offers Archive in a list's or form's gear menu whenever the
``active`` field is in the view and not read-only in ``fields_get``; it does not
look at the user's access rights, so an auditor was offered Archive and got an
Access Error. Telling the web client that ``active`` is read-only for whoever
cannot write the model removes the menu entries, nothing else.
"""

from odoo import api, models


def _fields_get(model, result):
    active = result.get("active")
    if active is not None and "readonly" in active and not model.browse().has_access("write"):
        active["readonly"] = True
    return result


class PerimeterAllowlist(models.Model):
    _inherit = "perimeter.allowlist"

    @api.model
    def fields_get(self, allfields=None, attributes=None):
        return _fields_get(self, super().fields_get(allfields, attributes))


class PerimeterBlocklist(models.Model):
    _inherit = "perimeter.blocklist"

    @api.model
    def fields_get(self, allfields=None, attributes=None):
        return _fields_get(self, super().fields_get(allfields, attributes))


class PerimeterConnectedSystem(models.Model):
    _inherit = "perimeter.connected.system"

    @api.model
    def fields_get(self, allfields=None, attributes=None):
        return _fields_get(self, super().fields_get(allfields, attributes))
