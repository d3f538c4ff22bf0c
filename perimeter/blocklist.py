"""The blocklist: networks refused before any other rule, and what may never be in it.

``decide`` (policy.py) refuses a client in ``Policy.blocklist`` first, in
every scope and on exempt paths too. What can never be blocked is this
machine talking to itself (``127.0.0.1``, ``::1``: scripts, health checks, the
cron's own calls): a rule that covers one of them is refused here. The other
guard, "not the administrator's own address", needs the request and is the
lockout check's (``perimeter.policy``, models/perimeter_policy.py).

Nothing here imports Odoo.
"""

from .networks import network_covers, normalize_network
from .wording import _

# pylint: disable=prefer-env-translation  # no env in the engine: this _ is perimeter.wording's, not Odoo's

# The addresses this machine uses to reach itself: never blockable, by hand or automatically.
PROTECTED = ("127.0.0.1", "::1")


def check_blockable(network):
    """Return the canonical text of ``network`` if it may be blocked; raise ``ValueError`` saying why not."""
    canonical = normalize_network(network)
    for address in PROTECTED:
        if network_covers(canonical, address):
            raise ValueError(_(
                "%(network)s cannot be blocked: it contains %(address)s, this server's own loopback address "
                "(scripts, health checks and Odoo's own calls use it). Block a narrower network.",
                network=canonical, address=address,
            ))
    return canonical


# -- automatic bans -------------------------------------------------------------------------------

MAX_BAN = 30 * 24 * 60  # minutes: escalation stops at 30 days


def ban_minutes(base_minutes, previous_bans):
    """How long an automatic ban lasts: ``base_minutes``, doubled for each earlier ban, at most 30 days."""
    return min(base_minutes * 2 ** min(previous_bans, 20), MAX_BAN)


class BanCount:
    """Refused requests and failed logins of one client in one alert window, from flushed buckets."""

    __slots__ = ("ip", "window_start", "window_end", "refusals", "failed_logins")

    def __init__(self, ip, window_start, window_end):
        self.ip, self.window_start, self.window_end = ip, window_start, window_end
        self.refusals = self.failed_logins = 0


def ban_counts(buckets, minutes, monitored=False):
    """Sum flushed access-log buckets per (client, alert window): ``{(ip, window_start): BanCount}``.

    Refusals are the blocked hits of every reason but ``failed_login`` and
    ``blocklisted`` (a banned client is already banned); failed logins are
    the ``failed_login`` hits. Monitored hits (would-be refusals) count only
    with ``monitored`` (monitor mode, which logs the would-be bans); the
    overflow bucket (many clients) never does.
    """
    from .access_log import OVERFLOW_IP, alert_window  # noqa: PLC0415 -- access_log is the bigger module

    counts = {}
    for bucket in buckets:
        if (not bucket.blocked and not monitored) or bucket.ip == OVERFLOW_IP or bucket.reason == "blocklisted":
            continue
        start, end = alert_window(bucket.last_seen, minutes)
        count = counts.get((bucket.ip, start))
        if count is None:
            count = counts[bucket.ip, start] = BanCount(bucket.ip, start, end)
        if bucket.reason == "failed_login":
            count.failed_logins += bucket.hits
        else:
            count.refusals += bucket.hits
    return counts


def ban_reason(refusals, failed_logins, max_refusals, max_failed_logins, minutes):
    """Why a client with these totals in one ``minutes`` window must be banned, or "" (0 turns a rule off)."""
    if max_failed_logins and failed_logins > max_failed_logins:
        return _("%(count)s failed logins within %(minutes)s minutes (more than %(limit)s)",
                 count=failed_logins, minutes=minutes, limit=max_failed_logins)
    if max_refusals and refusals > max_refusals:
        return _("%(count)s refused requests within %(minutes)s minutes (more than %(limit)s)",
                 count=refusals, minutes=minutes, limit=max_refusals)
    return ""
