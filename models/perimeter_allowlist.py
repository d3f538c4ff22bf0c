from odoo import api, fields, models
from odoo.exceptions import ValidationError

from ..guard import wording
from ..perimeter.networks import NetworkSet, normalize_network, pack_address, parse_network


class PerimeterAllowlist(models.Model):
    """Networks allowed to reach Odoo when enforcement is on."""

    _name = "perimeter.allowlist"
    _inherit = ["perimeter.expiring.rule"]
    _description = "IP Allowlist"
    _order = "name, network, id"

    name = fields.Char(string="Label", required=True, help='Who this network is, e.g. "Head office" or "POS Lyon".')
    network = fields.Char(
        required=True,
        help="An address or a CIDR, IPv4 or IPv6 (10.0.0.0/8, 192.0.2.7, 2001:db8::/32). "
        "Stored normalised; IPv4-mapped IPv6 clients match IPv4 rules.",
    )
    active = fields.Boolean(default=True)
    expires_at = fields.Datetime(string="Expires", help="The rule stops counting after this moment.")
    note = fields.Text()
    contains_address = fields.Char(
        string="Contains address",
        compute="_compute_contains_address",
        search="_search_contains_address",
        help="Search helper: the rules whose network contains this address.",
    )

    _sql_constraints = [
        (
            "network_unique",
            "unique(network)",
            "This network is already in the allowlist (the existing rule may be archived).",
        ),
    ]

    def _compute_contains_address(self):
        self.contains_address = False

    def _search_contains_address(self, operator, value):
        if operator not in ("=", "ilike") or not isinstance(value, str):
            raise ValidationError(self.env._("Search rules by the address they contain, e.g. 10.1.2.3."))
        packed = pack_address(value.strip())
        if packed is None:
            return [("id", "=", 0)]
        matching = [
            rule.id
            for rule in self.with_context(active_test=False).search_fetch([], ["network"])
            if NetworkSet([rule.network]).contains_packed(packed)
        ]
        return [("id", "in", matching)]

    @api.model
    def _normalize_network_vals(self, vals):
        if "network" in vals:
            try:
                vals["network"] = normalize_network(vals["network"] or "")
            except ValueError as exc:
                raise ValidationError(wording.message_of(self.env, exc)) from None
        return vals

    @api.model_create_multi
    def create(self, vals_list):
        rules = super().create([self._normalize_network_vals(dict(vals)) for vals in vals_list])
        self.env.registry.clear_cache()
        return rules

    def write(self, vals):
        result = super().write(self._normalize_network_vals(dict(vals)))
        self.env.registry.clear_cache()
        return result

    def unlink(self):
        result = super().unlink()
        self.env.registry.clear_cache()
        return result

    @api.constrains("network")
    def _check_network(self):
        # Rows written around create/write (imports with raw SQL, old data) are still checked here.
        for rule in self:
            try:
                parse_network(rule.network)
            except ValueError as exc:
                raise ValidationError(wording.message_of(self.env, exc)) from None

    def action_perimeter_export_edge(self):
        """Open the export of the rules in force for nginx or HAProxy (whatever rows are selected)."""
        return {
            "type": "ir.actions.act_window",
            "name": self.env._("Export for the edge"),
            "res_model": "perimeter.edge.export",
            "view_mode": "form",
            "target": "new",
        }

    @api.model
    def _get_allowed_networks(self):
        """The compiled ``NetworkSet`` of the rules in force, from the policy snapshot (cached)."""
        return self.env["perimeter.policy"]._perimeter_policy().allowlist

    @api.model
    def _read_rules_in_force(self, lasting=False):
        """Compile the active, unexpired rules as they are now (uncached).

        Returns ``(NetworkSet, moment the next rule expires or None)``: the
        snapshot that uses it must be compiled again once that moment passes.
        ``lasting``: only the rules without an expiry (what is left once every other has run out).
        """
        now = fields.Datetime.now()
        domain = [("expires_at", "=", False)] if lasting else \
            ["|", ("expires_at", "=", False), ("expires_at", ">", now)]
        rules = self.sudo().search_fetch(domain, ["network", "expires_at"])
        return NetworkSet(rules.mapped("network")), min(filter(None, rules.mapped("expires_at")), default=None)

    @api.model
    def _perimeter_expiring_rules_for(self, address):
        """The active rules with an expiry still ahead that contain ``address``, soonest first."""
        rules = self.sudo().search([("expires_at", ">", fields.Datetime.now())], order="expires_at, id")
        return rules.filtered(lambda rule: address in NetworkSet([rule.network]))
