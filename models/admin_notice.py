"""Telling the administrators something, where an Odoo administrator looks.

The #Administrators channel (``mail.channel_admin``, where Odoo posts its own
cron failures): every administrator is a member, sees the unread badge and
needs no mail server. When that channel has been deleted, their inboxes.
"""

from odoo import SUPERUSER_ID
from odoo.tools import config

from ..guard import odoo_version


def administrators(env):
    """The active internal users of Settings (``base.group_system``)."""
    members = env.ref("base.group_system").sudo()[odoo_version.GROUP_USERS_FIELD]
    return members.filtered(lambda user: user.active and not user.share)


def administrators_language(env):
    """The language most administrators read (else ``env``'s): what is said to all of them is worded in it,
    not in the language of whoever happened to trigger it."""
    langs = [lang for lang in administrators(env).mapped("lang") if lang]
    return max(sorted(set(langs)), key=langs.count) if langs else env.lang


def post_to_administrators(env, body, subject):
    """Post ``body`` (markup) in the #Administrators channel, else notify the administrators' inboxes.

    ``subject`` heads the inbox notification; a channel shows the body alone, as a chat message.
    """
    channel = env.ref("mail.channel_admin", raise_if_not_found=False)
    if channel:
        return channel.with_user(SUPERUSER_ID).message_post(
            body=body, message_type="comment", subtype_xmlid="mail.mt_comment")
    admins = administrators(env)
    if admins:
        return env["mail.thread"].sudo().message_notify(partner_ids=admins.partner_id.ids, body=body, subject=subject)
    return env["mail.message"]


def mail_server_configured(env):
    """Whether Odoo has somewhere to send e-mail: an outgoing mail server, or an SMTP server in its options.

    Odoo's default (``localhost``, port 25, no server record) is not counted:
    on a fresh database nothing listens there and mail only piles up in the queue.
    """
    if env["ir.mail_server"].sudo().search_count([], limit=1):
        return True
    return (config.get("smtp_server") or "localhost") != "localhost"
