from datetime import timedelta

from odoo import api, fields, models
from odoo.exceptions import UserError, ValidationError

from ..guard import wording
from ..perimeter.access_log import OVERFLOW_IP, network_to_admit
from ..perimeter.networks import split_network_list

DURATIONS = {
    "1h": ("1 hour", timedelta(hours=1)),
    "1d": ("1 day", timedelta(days=1)),
    "7d": ("1 week", timedelta(days=7)),
    "30d": ("30 days", timedelta(days=30)),
    "forever": ("Until removed", None),
}
# Where "Block…" can be opened from, and the field holding the client address there.
SOURCES = {"perimeter.access.log": "ip", "perimeter.access.alert": "ip"}


class PerimeterBlock(models.TransientModel):
    """Block clients seen in the access log or an alert, for a while.

    Each network becomes (or renews) a manual ``perimeter.blocklist`` rule;
    the blocklist refuses a network covering this server's loopback or the
    administrator's own address, with a message saying so.
    """

    _name = "perimeter.block"
    _description = "Block clients"

    networks = fields.Text(required=True, help="One address or CIDR per line.")
    duration = fields.Selection([(key, label) for key, (label, _delta) in DURATIONS.items()],
                                required=True, default="1d")
    reason = fields.Char(required=True, default=lambda self: self.env._("Blocked by an administrator"))

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        context = self.env.context
        field = SOURCES.get(context.get("active_model"))
        if "networks" in fields_list and not values.get("networks") and field and context.get("active_ids"):
            records = self.env[context["active_model"]].browse(context["active_ids"])
            addresses = dict.fromkeys(ip for ip in records.mapped(field) if ip and ip != OVERFLOW_IP)
            values["networks"] = "\n".join(addresses)
        return values

    def action_block(self):
        self.ensure_one()
        entries = split_network_list(self.networks)
        if not entries:
            raise UserError(self.env._("Enter at least one address or network to block."))
        _label, delta = DURATIONS[self.duration]
        expires_at = fields.Datetime.now() + delta if delta else False
        Blocklist = self.env["perimeter.blocklist"].with_context(active_test=False)
        blocked = Blocklist
        for entry in entries:
            try:
                # A bare address is blocked as its host network, an IPv4-mapped one as IPv4 (as rules match).
                network = network_to_admit(entry) if "/" not in entry else entry
            except ValueError as exc:
                raise ValidationError(wording.message_of(self.env, exc)) from None
            network = Blocklist._normalize_network_vals({"network": network})["network"]
            values = {"reason": self.reason, "expires_at": expires_at, "active": True}
            existing = Blocklist.search([("network", "=", network)], limit=1)
            if existing:
                existing.write({**values, "ban_count": existing.ban_count + 1, "source": "manual"})
                blocked |= existing
            else:
                blocked |= Blocklist.create({**values, "network": network, "source": "manual"})
        context = self.env.context
        if context.get("active_model") == "perimeter.access.alert" and context.get("active_ids"):
            # Blocking the clients of alerts answers them.
            self.env["perimeter.access.alert"].browse(context["active_ids"])._perimeter_mark_handled()
        action = self.env["ir.actions.act_window"]._for_xml_id("perimeter_security.perimeter_blocklist_action")
        action["domain"] = [("id", "in", blocked.ids)]
        return action
