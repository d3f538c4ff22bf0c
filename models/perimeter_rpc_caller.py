from datetime import timedelta

from odoo import api, fields, models

# Callers not seen for this many days are forgotten (the access log's retention, when longer).
MIN_RETENTION_DAYS = 90


class PerimeterRpcCaller(models.Model):
    """Who called the RPC endpoints, from which address, over which scheme.

    One row per (user, API key, client address, scheme), its counts merged
    in by ``rpc_callers.flush`` from every Odoo process. Discovery turns these
    rows into inbound connected systems.
    """

    _name = "perimeter.rpc.caller"
    _description = "RPC Caller"
    _order = "last_seen desc, id desc"
    _rec_name = "ip"

    user_id = fields.Many2one("res.users", required=True, ondelete="cascade", readonly=True,
                              index=True)
    apikey_id = fields.Many2one("res.users.apikeys", string="API key", ondelete="cascade", readonly=True,
                                help="Empty when the call authenticated with a password.")
    ip = fields.Char(string="Client address", required=True, readonly=True)
    scheme = fields.Selection([("http", "Plain HTTP"), ("https", "HTTPS")], required=True, readonly=True)
    hits = fields.Integer(string="Calls", readonly=True)
    first_seen = fields.Datetime(readonly=True)
    last_seen = fields.Datetime(readonly=True)

    def init(self):
        # One row per key; apikey_id is NULL for passwords, which a plain unique constraint would not merge.
        self.env.cr.execute("""
            CREATE UNIQUE INDEX IF NOT EXISTS perimeter_rpc_caller_key_uniq
            ON perimeter_rpc_caller (user_id, COALESCE(apikey_id, 0), ip, scheme)
        """)

    @api.model
    def _merge_counts(self, counts):
        """Add ``{CallerKey: Count}`` to the rows, creating the missing ones (one upsert per key)."""
        if not counts:
            return
        query = """
            INSERT INTO perimeter_rpc_caller
                (user_id, apikey_id, ip, scheme, hits, first_seen, last_seen,
                 create_uid, write_uid, create_date, write_date)
            SELECT %(user)s, %(key)s, %(ip)s, %(scheme)s, %(hits)s, %(first)s, %(last)s,
                   %(uid)s, %(uid)s, now() at time zone 'utc', now() at time zone 'utc'
            -- the user or key may have been deleted since the call
            WHERE EXISTS (SELECT 1 FROM res_users WHERE id = %(user)s)
              AND (%(key)s IS NULL OR EXISTS (SELECT 1 FROM res_users_apikeys WHERE id = %(key)s))
            ON CONFLICT (user_id, COALESCE(apikey_id, 0), ip, scheme) DO UPDATE SET
                hits = perimeter_rpc_caller.hits + EXCLUDED.hits,
                first_seen = LEAST(perimeter_rpc_caller.first_seen, EXCLUDED.first_seen),
                last_seen = GREATEST(perimeter_rpc_caller.last_seen, EXCLUDED.last_seen),
                write_date = EXCLUDED.write_date
        """
        for key, count in sorted(counts.items(), key=lambda item: (item[0].user_id, item[0].apikey_id, item[0].ip)):
            self.env.cr.execute(query, {
                "user": key.user_id, "key": key.apikey_id or None, "ip": key.ip, "scheme": key.scheme,
                "hits": count.hits, "first": count.first_seen, "last": count.last_seen, "uid": self.env.uid,
            })
        self.invalidate_model()

    @api.autovacuum
    def _gc_old_callers(self):
        days = max(MIN_RETENTION_DAYS, self.env["ir.config_parameter"]._perimeter_settings()["log_retention_days"])
        limit = fields.Datetime.now() - timedelta(days=days)
        self.sudo().search([("last_seen", "<", limit)]).unlink()
