from odoo import models

from ..perimeter.mailtls import REASON_PREFIX


class MailMail(models.Model):
    _inherit = "mail.mail"

    def _postprocess_sent_message(self, success_pids, failure_reason=False, failure_type=None):
        # Odoo marks mail whose server connection failed as "exception" with the
        # reason, but leaves its failure type empty and tells the chatter
        # nothing. For mail refused by the TLS policy, say both.
        if failure_type == "mail_smtp":
            refused = self.filtered(
                lambda mail: mail.state == "exception" and (mail.failure_reason or "").startswith(REASON_PREFIX))
            if refused:
                refused.filtered(lambda mail: not mail.failure_type).write({"failure_type": "mail_smtp"})
                reasons = set(refused.mapped("failure_reason"))
                if not failure_reason and refused == self and len(reasons) == 1:
                    failure_reason = reasons.pop()
        return super()._postprocess_sent_message(
            success_pids=success_pids, failure_reason=failure_reason, failure_type=failure_type)
