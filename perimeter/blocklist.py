"""The blocklist: networks refused before any other rule, and what may never be in it.

``decide`` (policy.py) refuses a client in ``Policy.blocklist`` first, in
every scope and on exempt paths too. What can never be blocked is this
machine talking to itself (``127.0.0.1``, ``::1``: scripts, health checks, the
cron's own calls): a rule that covers one of them is refused here. The other
guard, "not the administrator's own address", needs the request and is the
lockout check's (models/perimeter_lockout.py).

Nothing here imports Odoo.
"""

from .networks import network_covers, normalize_network

# The addresses this machine uses to reach itself: never blockable, by hand or automatically.
PROTECTED = ("127.0.0.1", "::1")


def check_blockable(network):
    """Return the canonical text of ``network`` if it may be blocked; raise ``ValueError`` saying why not."""
    canonical = normalize_network(network)
    for address in PROTECTED:
        if network_covers(canonical, address):
            raise ValueError(
                f"{canonical} cannot be blocked: it contains {address}, this server's own loopback address "
                "(scripts, health checks and Odoo's own calls use it). Block a narrower network."
            )
    return canonical
