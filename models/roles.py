"""Roles: a Perimeter auditor reads everything and changes nothing.

Access rights (``security/ir.model.access.csv``) give the auditor read access
only. Some actions write on their own, with ``sudo()`` (probes, discovery, a
posture review, retrying refused mail, fetching mail), so access rights do not
stop them: each one calls :func:`require_manager` first, in the file of its
model. Auditors may read the mail servers' TLS state, not their credentials,
which stay Settings-administrator only. Nothing that writes is offered to an
auditor either: buttons carry ``groups=``, and :func:`archive_offered_to_writers_only`
keeps Archive out of the gear menus.
"""

from odoo.exceptions import AccessError

MANAGER = "perimeter_security.group_perimeter_manager"


def require_manager(env):
    """Refuse an action that changes something to anyone but a Perimeter administrator (or the superuser)."""
    if env.su or env.user.has_group(MANAGER):
        return
    raise AccessError(env._(
        "Only Perimeter administrators can do this. You can review the perimeter (Perimeter / Auditor), "
        "not change it: ask an administrator, or a Settings administrator to give you the "
        "Perimeter / Administrator role."
    ))


def archive_offered_to_writers_only(model, fields):
    """``fields`` (a ``fields_get`` result) with ``active`` read-only for who cannot write ``model``.

    Odoo's web client offers Archive / Unarchive in a gear menu whenever ``active`` is in the view and not
    read-only; it does not look at the user's access rights, so an auditor was offered Archive and got an
    Access Error. Only the menu entries go: the access rights already refused the write.
    """
    active = fields.get("active")
    if active is not None and "readonly" in active and not model.browse().has_access("write"):
        active["readonly"] = True
    return fields
