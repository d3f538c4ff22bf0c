"""The ``[perimeter_security]`` section of Odoo's configuration file.

It holds what must work without any database: the break-glass switch
(``disabled = True``) and the policy of requests that belong to no database
(``server_allowlist``, ``trusted_proxies``, ``allow_loopback``,
``require_https``). Odoo 18 keeps sections other than ``[options]`` in
``config.misc``; Odoo 19 reads only ``[options]``, so the file is read again
whenever it changes (``odoo_version.config_section``). Either way the section is
read on every call, so a test or a reload sees a change at once. :func:`check_section` runs at start (the
server tier's install): a mistyped option (``disable = True``) or an
unreadable value is logged as an ERROR then, not at the first request that
happens to need the section.
"""

import logging

from ..perimeter.policy import Decider, server_policy
from ..perimeter.policy import break_glass as _break_glass
from . import odoo_version

SECTION = "perimeter_security"

_logger = logging.getLogger(__name__)
# (options as text, Decider): rebuilt only when the section changes.
_compiled = (None, None)


def options():
    return odoo_version.config_section(SECTION)


def break_glass():
    """Whether the break-glass switch is on: nothing is blocked anywhere."""
    return _break_glass(options())


def server_decider():
    """The ``Decider`` of the policy of requests that belong to no database.

    Compiled once per distinct section; it remembers allowed clients while the section is unchanged.
    """
    global _compiled  # noqa: PLW0603 -- one immutable tuple swapped atomically, safe across threads
    section = options()
    key = tuple(sorted((str(name), repr(value)) for name, value in section.items()))
    compiled_key, decider = _compiled
    if compiled_key == key:
        return decider
    policy, problems = server_policy(section)
    for problem in problems:
        # Fails closed: the policy refuses what it cannot read. Say so once, loudly.
        _logger.error("perimeter_security: %s (Odoo configuration file)", problem)
    decider = Decider(policy)
    _compiled = (key, decider)
    return decider


def check_section():
    """Read the whole section now and log an ERROR for each unknown option and unreadable value.

    Called when the server tier is installed (``post_load``, at start when
    the module is loaded server-wide). Returns the problems found.
    """
    global _compiled  # noqa: PLW0603 -- see server_decider
    _compiled = (None, None)  # compile (and report) again, even if a request already did
    server_decider()
    return server_policy(options())[1]
