import base64

from odoo import api, fields, models

from ..guard import verdicts
from ..perimeter import edge
from ..perimeter.networks import NetworkSet
from ..perimeter.policy import decide


class PerimeterEdgeExport(models.TransientModel):
    """The allowlist in force, written for the reverse proxy in front of Odoo.

    Dropping refused clients at nginx or HAProxy costs them nothing; Odoo keeps
    enforcing the same rules behind it. The file is a copy: export it again
    after every change of the allowlist (its header says when a rule expires).
    """

    _name = "perimeter.edge.export"
    _description = "Export the allowlist for the edge"

    edge = fields.Selection(list(edge.FORMATS.items()), string="For", required=True, default="nginx")
    content = fields.Text(compute="_compute_content")
    filename = fields.Char(compute="_compute_content")
    warning = fields.Text(compute="_compute_content")
    file = fields.Binary(compute="_compute_file", attachment=False, help="The content, for the Download button.")

    @api.depends("edge")
    def _compute_content(self):
        policy, next_expiry = self.env["perimeter.policy"]._perimeter_policy_build()
        export = edge.EdgeExport(
            networks=policy.allowlist.networks,
            allow_loopback=policy.allow_loopback,
            generated=f"{fields.Datetime.to_string(fields.Datetime.now())} UTC from database {self.env.cr.dbname}",
            next_expiry=f"{fields.Datetime.to_string(next_expiry)} UTC" if next_expiry else "",
            mode=policy.mode,
            blocked=policy.blocklist.networks,
            refuse_others=policy.scope == "all",  # scope internal: the public side stays open at the edge too
            scope=policy.scope,
        )
        warning = self._own_address_warning(policy, export)
        for wizard in self:
            wizard.content = edge.render(wizard.edge, export)
            wizard.filename = edge.FILENAMES[wizard.edge]
            wizard.warning = warning

    @api.depends("content")
    def _compute_file(self):
        for wizard in self:
            wizard.file = base64.b64encode(wizard.content.encode()) if wizard.content else False

    def action_download(self):
        """Download the file under its usual name (copying a long file from the dialog is error-prone)."""
        self.ensure_one()
        return {
            "type": "ir.actions.act_url",
            "url": f"/web/content/{self._name}/{self.id}/file/{self.filename}?download=true",
            "target": "self",
        }

    def _own_address_warning(self, policy, export):
        """Say so when the file would refuse the administrator exporting it."""
        facts = verdicts.current_facts()
        if facts is None or not export.refuse_others:
            return False
        address = decide(facts, policy).client_ip
        if address in NetworkSet(export.all_networks()):
            return False
        return self.env._(
            "Your address, %(address)s, is not in this file: installed at the edge, it would refuse you. "
            "Add a rule for it to the IP Allowlist first, then export again.",
            address=address,
        )
