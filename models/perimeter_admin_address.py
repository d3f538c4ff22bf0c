import contextlib
import logging
import threading
import time
from datetime import timedelta

from odoo import api, fields, models
from odoo.tools import SQL

from ..guard import odoo_version
from ..perimeter.networks import network_covers

_logger = logging.getLogger(__name__)

# An address an administrator worked from within this many days is never banned automatically.
ADMIN_ADDRESS_DAYS = 30
# A process notes one administrator's address at most this often (seconds), as Odoo's device log does.
NOTE_INTERVAL = 3600
_MAX_NOTED = 10_000  # remembered (database, user, address) in one process; forgotten all at once past it

_noted = {}
_noted_lock = threading.Lock()


@odoo_version.sql_constraints(
    ("address_unique", "unique(ip, user_id)", "One row per administrator and address."),
)
class PerimeterAdminAddress(models.Model):
    """The client addresses administrators worked from, as the perimeter resolved them.

    Odoo's device log (``res.device.log``) records the TCP peer: behind a
    reverse proxy without ``proxy_mode``, the proxy's address, so it cannot
    tell that an administrator works from the address a ban would cover.
    This log records the address the module resolved (through trusted
    proxies), noted with Odoo's device log, at most once an hour per
    administrator, address and process. The automatic bans never ban these
    addresses (``perimeter.blocklist._perimeter_admin_address``).
    """

    _name = "perimeter.admin.address"
    _description = "Address an administrator worked from"
    _order = "last_seen desc, id desc"
    _rec_name = "ip"

    ip = fields.Char(string="Client", required=True, readonly=True, index=True)
    user_id = fields.Many2one("res.users", string="Administrator", required=True, readonly=True,
                              ondelete="cascade", index=True)
    last_seen = fields.Datetime(required=True, readonly=True)

    @api.model
    def _perimeter_note(self, uid, address):
        """Note that administrator ``uid`` works from ``address`` now (at most once an hour per process)."""
        dbname = self.env.cr.dbname
        key = (dbname, uid, address)
        now = time.monotonic()
        with _noted_lock:
            if now - _noted.get(key, -NOTE_INTERVAL) < NOTE_INTERVAL:
                return
            if len(_noted) >= _MAX_NOTED:
                _noted.clear()
            _noted[key] = now
        moment = fields.Datetime.now()
        query = SQL(
            """
            INSERT INTO perimeter_admin_address AS noted (ip, user_id, last_seen, create_uid, create_date,
                                                          write_uid, write_date)
            VALUES (%(ip)s, %(uid)s, %(now)s, %(uid)s, %(now)s, %(uid)s, %(now)s)
            ON CONFLICT (ip, user_id) DO UPDATE SET last_seen = EXCLUDED.last_seen, write_date = EXCLUDED.write_date
            """, ip=address, uid=uid, now=moment)
        try:
            # As Odoo's device log does: the request's cursor, or a cursor of its own when that one is read-only.
            if self.env.cr.readonly:
                self.env.cr.rollback()
                cursor = self.env.registry.cursor(readonly=False)
            else:
                cursor = contextlib.nullcontext(self.env.cr)
            with cursor as cr, cr.savepoint():
                cr.execute(query)
        except Exception:
            with _noted_lock:
                _noted.pop(key, None)
            _logger.warning("perimeter: could not note the address %s of administrator %s", address, uid,
                            exc_info=True)

    @api.model
    def _perimeter_worked_from(self, network, admins):
        """Whether one of ``admins`` worked from an address in ``network`` (a CIDR) lately."""
        since = fields.Datetime.now() - timedelta(days=ADMIN_ADDRESS_DAYS)
        noted = self.sudo().search_fetch([("user_id", "in", admins.ids), ("last_seen", ">=", since)], ["ip"])
        devices = self.env["res.device.log"].sudo().search_fetch(
            [("user_id", "in", admins.ids), ("last_activity", ">=", since)], ["ip_address"])
        addresses = {*noted.mapped("ip"), *filter(None, devices.mapped("ip_address"))}
        return any(_covers(network, address) for address in addresses)

    @api.autovacuum
    def _gc_perimeter_admin_address(self):
        """Addresses older than the protection no longer protect anything."""
        since = fields.Datetime.now() - timedelta(days=ADMIN_ADDRESS_DAYS)
        self.env.cr.execute(SQL("DELETE FROM perimeter_admin_address WHERE last_seen < %s", since))
        self.invalidate_model()


def _covers(network, address):
    try:
        return network_covers(network, address)
    except ValueError:
        return False  # the device log holds what the server saw, not always an address
