"""What the access log records about one refused (or monitored) request.

Enforcement points build a ``Hit`` from the request facts and the verdict and
hand it to the access log sink (``access_log.record_hit``): one call, never
a database write on the request's path.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime

# Reasons a request is refused or reported; the access log's selection follows this list.
REASONS = {
    "not_allowlisted": "Not in the allowlist",
    "not_https": "Plain HTTP",
    "untrusted_proxy_headers": "Proxy headers from an untrusted peer",
    "system_network": "Outside the connected system's networks",
}


def _utcnow():
    return datetime.now(UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Hit:
    ip: str  # the resolved client address
    reason: str  # a key of REASONS
    blocked: bool  # False when only monitored
    peer: str = ""  # the TCP peer, when it differs from ip (a proxy)
    path: str = ""
    method: str = ""
    user_agent: str = ""
    at: datetime = field(default_factory=_utcnow)  # naive UTC, as Odoo stores datetimes
