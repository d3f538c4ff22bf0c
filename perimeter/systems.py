"""Connected systems: what to probe for each one, and what the results mean.

The dashboard keeps one row per system that talks to Odoo. An outbound
system (a mail server, a webhook target, a payment API) is judged by a real
TLS probe of its endpoint (:mod:`perimeter.tlscheck`, run concurrently);
an inbound one (a script using an API key) by the calls Odoo saw from it:
any call over plain HTTP is critical.

Nothing here imports Odoo.
"""

import dataclasses
import datetime

import phonenumbers

from . import certinfo, tls_report, tlscheck
from .networks import normalize_network_list
from .wording import Text, _

# The engine has no env: its _() returns a Text that the Odoo side words for the reader (perimeter.wording).
# pylint: disable=prefer-env-translation

KINDS = {
    "mail_out": "Outgoing mail server",
    "mail_in": "Incoming mail server",
    "api_client": "API client",
    "webhook": "Webhook",
    "payment": "Payment provider",
    "pos": "Point of sale",
    "ldap": "LDAP directory",
    "oauth": "OAuth provider",
    "website": "Website",
    "other": "Other",
}
DIRECTIONS = {"inbound": "Inbound (it calls Odoo)", "outbound": "Outbound (Odoo calls it)"}
# Worst first: the dashboard lists its columns in this order.
STATES = {"critical": "Critical", "warning": "Warning", "ok": "OK", "unknown": "Not checked"}
# "auto": from the endpoint's scheme or port (tlscheck.parse_endpoint).
PROBE_PROTOCOLS = {"auto": "From the endpoint", **tls_report.PROTOCOLS}
# A dashboard probe waits this long per endpoint at most; probes run side by side.
DEFAULT_TIMEOUT = 5.0
# Threads for one round of probes: waiting on the network costs no CPU, but
# the machine that runs Odoo has other work to do.
MAX_WORKERS = 16
# The details of a system that cannot be probed for want of an endpoint.
NO_ENDPOINT = _("No endpoint to check: enter the URL or host:port this system is reached at.")


@dataclasses.dataclass(frozen=True)
class ProbePlan:
    """Where and how to probe one endpoint."""

    host: str
    port: int
    protocol: str  # a key of tls_report.PROTOCOLS
    endpoint: str  # as the administrator wrote it

    def target(self, **options):
        """Arguments for :func:`perimeter.tlscheck.probe` (a ``probe_many`` target)."""
        return {"host": self.host, "port": self.port, "protocol": self.protocol, "url": self.endpoint, **options}


def plan_probe(endpoint, protocol="auto"):
    """Return the :class:`ProbePlan` of ``endpoint`` (a URL or ``host:port``).

    ``protocol`` overrides what the endpoint's scheme or port says: a mail
    server that Odoo reaches without encryption is probed as ``plain`` even
    on port 25. Raises ``ValueError`` naming the value.
    """
    host, port, derived = tlscheck.parse_endpoint(endpoint)
    if protocol and protocol != "auto":
        if protocol not in tls_report.PROTOCOLS:
            raise ValueError(_("%(value)s is not a probe protocol: use one of %(protocols)s.",
                               value=repr(protocol), protocols=", ".join(PROBE_PROTOCOLS)))
        derived = protocol
    return ProbePlan(host=host, port=port, protocol=derived, endpoint=endpoint.strip())


@dataclasses.dataclass(frozen=True)
class CheckResult:
    """What the dashboard stores about one system after a check."""

    state: str  # a key of STATES
    details: str  # a perimeter.wording.Text: stored as facts, worded for the reader
    checked_at: datetime.datetime  # naive UTC
    tls_version: str = ""  # "TLS 1.3", "no TLS", or "" when nothing was probed
    cert_expires_at: datetime.datetime | None = None
    elapsed: float = 0.0

    def values(self):
        """The result as the dashboard's field values."""
        return {
            "state": self.state,
            "details": self.details,
            "last_check": self.checked_at,
            "tls_version": self.tls_version or False,
            "cert_expires_at": self.cert_expires_at or False,
        }


def result_from_report(report):
    """Turn a :class:`perimeter.tls_report.TlsReport` into a :class:`CheckResult`.

    ``failed`` becomes ``critical``: no trustworthy channel, or none at all.
    """
    if report.tls_version:
        version = tls_report.version_label(report.tls_version)
    else:
        # A plain endpoint has no TLS by design; a failed connection says nothing about TLS.
        version = "no TLS" if report.protocol == "plain" else ""
    return CheckResult(
        state=report.dashboard_state,
        details=report.details_text(),
        checked_at=report.checked_at,
        tls_version=version,
        cert_expires_at=report.not_after,
        elapsed=report.elapsed,
    )


@dataclasses.dataclass(frozen=True)
class CheckJob:
    """One endpoint to check, with the trust settings of its system."""

    endpoint: str
    protocol: str = "auto"
    ca_bundle_pem: str | None = None
    pinned_sha256: str | None = None
    server_hostname: str | None = None
    min_version: str = "TLSv1_2"


def _config_failure(job, message):
    details = Text.join([
        _("State: %(state)s", state=tls_report.STATE_WORDS["failed"]),
        _("Endpoint: %(endpoint)s", endpoint=job.endpoint or _("(none)")),
        _("Errors:"),
        tls_report.bullet(message),
    ], "\n")
    return CheckResult(state="critical", details=details, checked_at=certinfo.utcnow())


def check_endpoints(jobs, timeout=DEFAULT_TIMEOUT, max_workers=MAX_WORKERS, expiry_warning_days=30):
    """Probe every job's endpoint concurrently; return one :class:`CheckResult` per job, in order.

    A job whose endpoint cannot be read fails on its own, without a socket;
    the others still run. A round lasts about as long as its slowest probe,
    and never much more than ``timeout`` per wave of ``max_workers``.
    """
    results, targets, positions = [None] * len(jobs), [], []
    for position, job in enumerate(jobs):
        try:
            plan = plan_probe(job.endpoint, job.protocol)
        except ValueError as exc:
            why = tls_report.sentence_of(exc)
            results[position] = _config_failure(job, _("invalid endpoint: %(error)s", error=why))
            continue
        options = {
            "timeout": timeout,
            "min_version": job.min_version or "TLSv1_2",
            "ca_bundle_pem": job.ca_bundle_pem or None,
            "pinned_sha256": job.pinned_sha256 or None,
            "expiry_warning_days": expiry_warning_days,
        }
        if job.server_hostname:
            options["server_hostname"] = job.server_hostname
        targets.append(plan.target(**options))
        positions.append(position)
    reports = tlscheck.probe_many(targets, max_workers=max_workers) if targets else []
    for position, report in zip(positions, reports, strict=True):
        results[position] = result_from_report(report)
    return results


@dataclasses.dataclass(frozen=True)
class CallerSeen:
    """Calls seen from one address of an inbound system, over one scheme."""

    ip: str
    scheme: str  # "http" or "https", as the client used it
    hits: int
    last_seen: datetime.datetime | None = None


def _caller_line(caller):
    transport = "HTTPS" if caller.scheme == "https" else _("plain HTTP")
    calls = _("1 call") if caller.hits == 1 else _("%(count)d calls", count=caller.hits)
    if caller.last_seen:
        line = _("%(address)s over %(transport)s: %(calls)s, last %(moment)s UTC", address=caller.ip,
                 transport=transport, calls=calls, moment=caller.last_seen.strftime("%Y-%m-%d %H:%M"))
    else:
        line = _("%(address)s over %(transport)s: %(calls)s", address=caller.ip, transport=transport, calls=calls)
    return tls_report.bullet(line)


def judge_callers(callers, allowed_networks="", now=None):
    """Judge an inbound system by the calls Odoo saw from it: ``(state, details)``.

    Plain HTTP is ``critical`` (the credential and the data crossed in clear
    text), HTTPS only is ``ok``, no call seen is ``unknown``. The details (a
    :class:`~perimeter.wording.Text`) list each address and say whether the
    system is fenced.
    """
    callers = sorted(callers, key=lambda c: (c.scheme == "https", c.ip))
    lines = []
    if not callers:
        state = "unknown"
        lines.append(_("No call seen yet: the state is set once the system calls Odoo."))
    else:
        plain = [caller for caller in callers if caller.scheme != "https"]
        if plain:
            state = "critical"
            addresses = ", ".join(dict.fromkeys(caller.ip for caller in plain))
            lines.append(_("Calls over plain HTTP from %(addresses)s: the credential and the data crossed "
                           "the network unencrypted. Use an https:// URL (behind a TLS proxy).", addresses=addresses))
        else:
            state = "ok"
            lines.append(_("Every call seen came over HTTPS."))
        lines.append(_("Seen from:"))
        lines.extend(_caller_line(caller) for caller in callers)
    if allowed_networks:
        lines.append(_("Fenced: its credentials are accepted only from %(networks)s.", networks=allowed_networks))
    else:
        lines.append(_("Not fenced: set its allowed networks to accept its credentials only from there."))
    checked = now or certinfo.utcnow()
    lines.append(_("Checked: %(moment)s UTC", moment=checked.strftime("%Y-%m-%d %H:%M:%S")))
    return state, Text.join(lines, "\n")


def canonical_networks(text):
    """Canonical text of an allowed-networks list (``"10.0.0.0/8, 192.0.2.7/32"``), "" when empty.

    Raises ``ValueError`` naming every bad entry.
    """
    return ", ".join(normalize_network_list(text or ""))


def normalize_phone(value, region=None):
    """Return ``value`` as an E.164 number (``+41446681800``), or "" when empty.

    ``region`` (an ISO country code) reads national numbers; without it the
    number must start with ``+``. Raises ``ValueError`` naming the value.
    """
    text = (value or "").strip()
    if not text:
        return ""
    hint = _("enter it in international form, for example +41 44 668 18 00")
    try:
        number = phonenumbers.parse(text, (region or "").upper() or None)
    except phonenumbers.NumberParseException:
        raise ValueError(_("%(value)r is not a phone number: %(hint)s.", value=text, hint=hint)) from None
    if not phonenumbers.is_valid_number(number):
        if region and not text.startswith("+"):
            raise ValueError(_("%(value)r is not a valid phone number in %(region)s: %(hint)s.",
                               value=text, region=region.upper(), hint=hint))
        raise ValueError(_("%(value)r is not a valid phone number: %(hint)s.", value=text, hint=hint))
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
