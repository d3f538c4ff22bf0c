import logging

from odoo import api, models

from ..perimeter.charge import charged_address
from ..perimeter.client import resolve_client
from ..perimeter.policy import RequestFacts

_logger = logging.getLogger(__name__)


class ResDeviceLog(models.Model):
    _inherit = "res.device.log"

    @api.model
    def _update_device(self, request):
        # Odoo calls this for every request of a logged-in session (and its websocket): its own device
        # log records the TCP peer; the perimeter notes the client it resolves, for administrators only.
        result = super()._update_device(request)
        self._perimeter_note_administrator(request)
        return result

    @api.model
    def _perimeter_note_administrator(self, request):
        """Note the client address of an administrator's request (``perimeter.admin.address``); never raises."""
        try:
            if not self.env.uid or not self.env.user._is_system():
                return
            policy = self.env["perimeter.policy"]._perimeter_decider().policy
            facts = RequestFacts.from_environ(request.httprequest.environ)
            client = resolve_client(facts.connection, policy.trusted_proxies)
            if client.malformed:
                return  # no address to note
            address = charged_address(client, policy.allowlist, policy.blocklist)  # what a ban would cover
            self.env["perimeter.admin.address"]._perimeter_note(self.env.uid, address)
        except Exception:
            _logger.warning("perimeter: could not note an administrator's address", exc_info=True)
