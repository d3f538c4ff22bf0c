from odoo import fields, models

from ..perimeter.mail_tls import REASON_PREFIX
from .ir_mail_server import take_refusal


class MailMail(models.Model):
    _inherit = "mail.mail"

    perimeter_refused_by_id = fields.Many2one(
        "ir.mail_server", string="Refused by (mail TLS)", readonly=True, copy=False, index="btree_not_null",
        ondelete="set null",
        help="The outgoing mail server whose TLS check refused this mail; its Retry refused mail button "
        "queues it again.")

    def _postprocess_sent_message(self, success_pids, *args, failure_reason=False, failure_type=None, **kwargs):
        # ``*args, **kwargs``: 19 added ``success_emails`` after ``success_pids`` (Odoo's callers use keywords).
        # Odoo marks mail whose server connection failed as "exception" with the
        # reason, but leaves its failure type empty and tells the chatter
        # nothing. For mail refused by the TLS policy, say both, and remember
        # which server refused it so that this server's retry finds it. The reason is worded in the
        # language of whoever sent, but always starts with REASON_PREFIX ("Mail TLS"), left untranslated.
        if failure_type == "mail_smtp":
            refused = self.filtered(
                lambda mail: mail.state == "exception" and (mail.failure_reason or "").startswith(REASON_PREFIX))
            if refused:
                reasons = set(refused.mapped("failure_reason"))
                refused.write({
                    "failure_type": "mail_smtp",
                    "perimeter_refused_by_id": take_refusal(next(iter(reasons))) if len(reasons) == 1 else False,
                })
                if not failure_reason and refused == self and len(reasons) == 1:
                    failure_reason = next(iter(reasons))
        elif not failure_type:
            # Sent after a refusal: what we marked it with no longer holds (Odoo clears only the reason).
            sent = self.filtered(lambda mail: mail.state == "sent" and (
                mail.perimeter_refused_by_id or mail.failure_type == "mail_smtp"))
            sent.write({"failure_type": False, "perimeter_refused_by_id": False})
        return super()._postprocess_sent_message(
            success_pids, *args, failure_reason=failure_reason, failure_type=failure_type, **kwargs)
