from odoo import fields, models


class ResConfigSettings(models.TransientModel):
    _inherit = "res.config.settings"

    perimeter_autoban_refusals = fields.Integer(
        string="Ban after refused requests",
        help="A client refused more than this many times within the alert window is blocked. 0: never.",
    )
    perimeter_autoban_failed_logins = fields.Integer(
        string="Ban after failed logins",
        help="A client failing more than this many logins (any login path, any user) within the alert window "
        "is blocked. 0: never.",
    )
    perimeter_autoban_minutes = fields.Integer(
        string="Ban duration (minutes)",
        help="How long an automatic ban lasts; doubled for each earlier ban of the same client (at most 30 days). "
        "0 turns automatic bans off.",
    )
    perimeter_ipv6_prefix = fields.Integer(
        string="IPv6 client prefix",
        help="An IPv6 client is counted, logged, alerted and banned per network of this prefix length "
        "(48 to 128): 64, the network every home line and server has, so that walking through its addresses "
        "changes nothing; 128 counts each address apart.",
    )
