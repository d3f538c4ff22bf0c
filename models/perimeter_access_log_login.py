from odoo import api, fields, models
from odoo.tools import SQL


class PerimeterAccessLog(models.Model):
    """The login concerned by a refusal that is about a user (reason ``user_network``)."""

    _inherit = "perimeter.access.log"

    login = fields.Char(readonly=True, index="btree_not_null",
                        help="The user the refused request was made as (latest request of this row).")

    @api.model
    def _perimeter_store_buckets(self, buckets):
        written = super()._perimeter_store_buckets(buckets)
        for bucket in buckets:
            if not bucket.login:
                continue
            # The row's latest details are the latest bucket's: so is its login.
            self.env.cr.execute(SQL(
                "UPDATE perimeter_access_log SET login = %s WHERE ip = %s AND reason = %s AND blocked = %s "
                "AND window_start = %s AND last_seen <= %s",
                bucket.login, bucket.ip, bucket.reason, bool(bucket.blocked), bucket.window_start(),
                bucket.last_seen.replace(microsecond=0),
            ))
        self.invalidate_model(["login"])
        return written
