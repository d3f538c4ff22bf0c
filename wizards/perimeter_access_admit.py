from odoo import Command, api, fields, models
from odoo.exceptions import UserError

from ..perimeter.access_log import network_to_admit
from ..perimeter.networks import network_covers, parse_network

ADD, RESTORE, ALLOWED, INVALID = "add", "restore", "allowed", "invalid"


class PerimeterAccessAdmit(models.TransientModel):
    """Admit clients seen in the access log: add allowlist rules for them.

    It only adds rules (or restores an archived or expired rule for the same
    network), so it can never lock anyone out; clients already allowed are
    skipped and named.
    """

    _name = "perimeter.access.admit"
    _description = "Admit clients from the access log"

    log_ids = fields.Many2many("perimeter.access.log", string="Access log rows")
    scope = fields.Selection(
        [("address", "The address only"), ("network", "Its network: /24 for IPv4, /64 for IPv6")],
        required=True,
        default="address",
    )
    expires_at = fields.Datetime(string="Expires", help="Leave empty for a rule that does not expire.")
    plan = fields.Text(string="What will be done", compute="_compute_plan")

    @api.model
    def default_get(self, fields_list):
        values = super().default_get(fields_list)
        context = self.env.context
        if (
            "log_ids" in fields_list
            and not values.get("log_ids")
            and context.get("active_model") == "perimeter.access.log"
            and context.get("active_ids")
        ):
            values["log_ids"] = [Command.set(context["active_ids"])]
        return values

    @api.depends("log_ids", "scope")
    def _compute_plan(self):
        for wizard in self:
            wizard.plan = "\n".join(step["text"] for step in wizard._perimeter_plan()) or self.env._(
                "Select rows of the access log first."
            )

    def _perimeter_plan(self):
        """One step per network to admit: what it is, which clients and rows, and what will be done."""
        self.ensure_one()
        Allowlist = self.env["perimeter.allowlist"]
        steps, by_network = [], {}
        for row in self.log_ids.sorted(lambda row: (row.ip, row.id)):
            try:
                network = network_to_admit(row.ip, widen=self.scope == "network")
            except ValueError:
                if not any(step["status"] == INVALID and step["network"] == row.ip for step in steps):
                    steps.append({
                        "status": INVALID, "network": row.ip, "clients": [row.ip], "rows": row,
                        "text": self.env._("%s: not a single client address, skipped.", row.ip),
                    })
                continue
            step = by_network.get(network)
            if step is None:
                step = by_network[network] = {"network": network, "clients": [], "rows": row.browse()}
                steps.append(step)
            if row.ip not in step["clients"]:
                step["clients"].append(row.ip)
            step["rows"] |= row
        now = fields.Datetime.now()
        for step in steps:
            if step.get("status") == INVALID:
                continue
            first_address = str(parse_network(step["network"]).network_address)
            covering = Allowlist.search([("contains_address", "=", first_address)]).filtered(
                lambda rule, network=step["network"]: not (rule.expires_at and rule.expires_at <= now)
                and _covers(rule.network, network)
            )
            same = Allowlist.with_context(active_test=False).search([("network", "=", step["network"])], limit=1)
            if covering:
                rule = covering[0]
                step.update(status=ALLOWED, rule=rule, text=self.env._(
                    "%(network)s: already allowed by the rule %(rule)s (%(rule_network)s), skipped.",
                    network=step["network"], rule=rule.name, rule_network=rule.network,
                ))
            elif same:
                step.update(status=RESTORE, rule=same, text=self.env._(
                    "%(network)s: the rule %(rule)s exists but is archived or expired: it will be restored.",
                    network=step["network"], rule=same.name,
                ))
            else:
                step.update(status=ADD, text=self.env._("%s: a rule will be added.", step["network"]))
        return steps

    def _perimeter_note(self, step):
        rows = step["rows"]
        latest = rows.sorted("last_seen", reverse=True)[:1]
        base_url = self.env["ir.config_parameter"].sudo().get_param("web.base.url", "")
        # Built outside the translated call: Odoo's term extraction cannot read an f-string argument.
        url = f"{base_url}/odoo/perimeter.access.log/{latest.id}"
        labels = dict(rows._fields["reason"]._description_selection(self.env))
        return self.env._(
            "Admitted from the access log by %(user)s on %(date)s UTC: %(hits)s refused requests from %(clients)s "
            "(%(reasons)s) between %(first)s and %(last)s UTC.\nAccess log: %(url)s",
            user=self.env.user.name,
            date=fields.Datetime.to_string(fields.Datetime.now())[:16],
            hits=sum(rows.mapped("hits")),
            clients=", ".join(step["clients"]),
            reasons=", ".join(sorted({labels.get(reason, reason) for reason in rows.mapped("reason")})),
            first=fields.Datetime.to_string(min(rows.mapped("first_seen")))[:16],
            last=fields.Datetime.to_string(max(rows.mapped("last_seen")))[:16],
            url=url,
        )

    def action_admit(self):
        self.ensure_one()
        if not self.log_ids:
            raise UserError(self.env._("Select the access log rows of the clients to admit."))
        steps = self._perimeter_plan()
        to_add = [step for step in steps if step["status"] == ADD]
        Allowlist = self.env["perimeter.allowlist"]
        if to_add:
            # One create: rules are added together (and checked together by the allowlist).
            Allowlist.create([
                {
                    "name": _rule_name(step["network"]),
                    "network": step["network"],
                    "expires_at": self.expires_at,
                    "note": self._perimeter_note(step),
                }
                for step in to_add
            ])
        for step in steps:
            if step["status"] == RESTORE:
                rule = step["rule"]
                rule.write({
                    "active": True,
                    "expires_at": self.expires_at,
                    "note": "\n\n".join(filter(None, [rule.note, self._perimeter_note(step)])),
                })
        done = [
            self.env._("%s: added.", step["network"]) if step["status"] == ADD
            else self.env._("%(network)s: the rule %(rule)s is restored.", network=step["network"],
                            rule=step["rule"].name)
            for step in steps if step["status"] in (ADD, RESTORE)
        ]
        # Opened from alerts (their Admit…): admitting their clients answers them.
        self.env["perimeter.access.alert"].browse(
            self.env.context.get("perimeter_answered_alert_ids") or [])._perimeter_mark_handled()
        skipped = [step["text"] for step in steps if step["status"] in (ALLOWED, INVALID)]
        message = "\n".join(done + skipped)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "title": self.env._("Admitted %s", len(done)) if done else self.env._("Nothing to admit"),
                "message": message,
                "type": "success" if done else "warning",
                "sticky": bool(skipped),
                "next": {"type": "ir.actions.act_window_close"},
            },
        }


def _rule_name(network):
    """A host rule is named after its address, a network rule after its CIDR."""
    parsed = parse_network(network)
    return str(parsed.network_address) if parsed.prefixlen == parsed.max_prefixlen else network


def _covers(rule_network, network):
    try:
        return network_covers(rule_network, network)
    except ValueError:  # a rule written around the ORM: it covers nothing
        return False
