"""What goes to the change history for users and groups (the mixin is ``perimeter_change_tracked.py``)."""

from odoo import models


class ResUsers(models.Model):
    _name = "res.users"
    _inherit = ["res.users", "perimeter.change.tracked"]

    # A user's own networks, given from the user form (the rule's side is tracked on the rule).
    _perimeter_tracked_fields = ("perimeter_allowlist_ids",)


class ResGroups(models.Model):
    _name = "res.groups"
    _inherit = ["res.groups", "perimeter.change.tracked"]

    # A group's networks, given from the group form.
    _perimeter_tracked_fields = ("perimeter_allowlist_ids",)
