"""Odoo's API keys as stored: which part of a key is indexed, and whether a key matches its hash.

Odoo keeps an API key as an index (its first ``INDEX_SIZE`` characters) and a
hash made with its own ``KEY_CRYPT_CONTEXT``; both are module constants of
``odoo.addons.base.models.res_users``, not public API.
"""

from odoo.addons.base.models.res_users import INDEX_SIZE, KEY_CRYPT_CONTEXT


def key_index(secret):
    """The part of ``secret`` Odoo indexes API keys by, or None if ``secret`` cannot be an API key."""
    if not isinstance(secret, str) or len(secret) <= INDEX_SIZE:
        return None
    return secret[:INDEX_SIZE]


def key_matches(secret, hashed):
    """Whether ``secret`` is the API key stored as ``hashed``."""
    return KEY_CRYPT_CONTEXT.verify(secret, hashed)
