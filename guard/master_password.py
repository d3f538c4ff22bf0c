"""The database manager's master password, checked without Odoo's side effects.

Odoo's hash context for it (``odoo.tools.config.crypt_context``) is a module
global of its configuration, not public API.
"""

from odoo.tools import config
from odoo.tools.config import crypt_context


def master_password_is(word):
    """Whether the master password is ``word``; never rewrites the stored value as Odoo's check does."""
    stored = config.get("admin_passwd") or ""
    try:
        return bool(stored) and crypt_context.verify(word, stored)
    except ValueError:  # not a hash passlib knows: compare as text
        return stored == word
