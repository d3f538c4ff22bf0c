"""The module's settings: their keys, defaults, parsing and canonical text.

One table serves the Odoo settings screen, ``ir.config_parameter`` writes
from scripts, and the policy snapshot, so a value is validated the same way
wherever it comes from. Values are stored as text (``ir.config_parameter``).
"""

import re
from dataclasses import dataclass

from .charge import MAX_IPV6_PREFIX, MIN_IPV6_PREFIX
from .networks import canonical_address, normalize_network_list
from .wording import _

# pylint: disable=prefer-env-translation  # no env in the engine: this _ is perimeter.wording's, not Odoo's

PREFIX = "perimeter_security."

MODES = ("off", "monitor", "enforce")
MAIL_TLS_POLICIES = ("off", "warn", "enforce")
TLS_VERSIONS = ("TLSv1_2", "TLSv1_3")
SCOPES = ("all", "internal")  # who the allowlist holds: every request, or internal users (audience.py)

_TRUE = ("true", "1", "yes", "on")
_FALSE = ("false", "0", "no", "off", "")


def _choice(choices):
    def parse(text):
        value = text.strip()
        if value not in choices:
            raise ValueError(_("%(value)r is not one of %(choices)s", value=text, choices=", ".join(choices)))
        return value

    return parse


def _boolean(text):
    value = text.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ValueError(_("%(value)r is not True or False", value=text))


def _seconds_or_days(text):
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError(_("%(value)r is not a whole number", value=text)) from None
    if value < 0:
        raise ValueError(_("%(value)r is negative", value=text))
    return value


def _minutes(text):
    value = _seconds_or_days(text)
    if not 1 <= value <= 1440:
        raise ValueError(_("%(value)r is not between 1 and 1440 minutes (one day)", value=text))
    return value


def _ipv6_prefix(text):
    try:
        value = int(text.strip())
    except ValueError:
        raise ValueError(_("%(value)r is not a whole number", value=text)) from None
    if not MIN_IPV6_PREFIX <= value <= MAX_IPV6_PREFIX:
        raise ValueError(_("%(value)r is not a prefix length between 48 and 128 (64: one client is one /64, "
                           "what every home line has; 128: one address)", value=text))
    return value


def _networks(text):
    return tuple(normalize_network_list(text))


def _paths(text):
    paths = []
    for line in text.splitlines():
        path = line.strip()
        if not path or path.startswith("#"):
            continue
        if not path.startswith("/") or any(c.isspace() for c in path):
            raise ValueError(_("%(path)r is not a path prefix (it must start with / and contain no spaces)", path=path))
        if not path.strip("/"):
            raise ValueError(_("%(path)r would exempt every path: name the paths to exempt, such as /web/health",
                               path=path))
        if path not in paths:
            paths.append(path)
    return tuple(paths)


# A DNS name (labels of letters, digits and inner hyphens) or a bracketed IPv6 literal, then an optional port.
_HOST_NAME = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*"
                        r"|\[([0-9a-f:.]+)\])(?::(\d{1,5}))?$")


def canonical_host(text):
    """``"host"`` or ``"host:port"`` (lower case, port 443 dropped) of a host name as written, or None."""
    host = text.strip().lower()
    match = _HOST_NAME.match(host) if len(host) <= 259 else None
    if not match or (match.group(1) and canonical_address(match.group(1)) is None):
        return None
    port = match.group(2)
    if port is None:
        return host
    if not 1 <= int(port) <= 65535:
        return None
    name = host[: -len(port) - 1]
    return name if int(port) == 443 else f"{name}:{int(port)}"


def _hosts(text):
    hosts, bad = [], []
    for line in text.replace(",", "\n").splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        host = canonical_host(entry)
        if host is None:
            bad.append(entry)
        elif host not in hosts:
            hosts.append(host)
    if bad:
        raise ValueError(_("%(hosts)s: not a host name; write one host per line, such as erp.example.com "
                           "(or erp.example.com:8443 for another https port), without https:// or a path",
                           hosts=", ".join(repr(entry) for entry in bad)))
    return tuple(hosts)


# The refused-login sentence's placeholder for the client address, as written in the setting.
ADDRESS_PLACEHOLDER = "{address}"
MAX_REFUSED_LOGIN_MESSAGE = 500


def _login_message(text):
    value = " ".join(text.split())
    if len(value) > MAX_REFUSED_LOGIN_MESSAGE:
        raise ValueError(_("%(length)s characters: write at most %(most)s", length=len(value),
                           most=MAX_REFUSED_LOGIN_MESSAGE))
    return value


def _render(value):
    if isinstance(value, bool):
        return "True" if value else "False"
    if isinstance(value, tuple):
        return "\n".join(value)
    return str(value)


@dataclass(frozen=True)
class Setting:
    name: str
    default: str
    parse: object
    label: str  # a Text: worded again in the reader's language

    @property
    def key(self):
        return PREFIX + self.name


SETTINGS = {
    setting.name: setting
    for setting in (
        Setting("mode", "off", _choice(MODES), _("Enforcement mode")),
        Setting("scope", "all", _choice(SCOPES), _("Scope")),
        Setting("trusted_proxies", "", _networks, _("Trusted proxies")),
        Setting("allow_loopback", "True", _boolean, _("Allow loopback")),
        Setting("exempt_paths", "/web/health", _paths, _("Exempt paths")),
        Setting("require_https", "False", _boolean, _("Require HTTPS")),
        Setting("hsts_max_age", "31536000", _seconds_or_days, _("HSTS max-age (seconds)")),
        Setting("canonical_hosts", "", _hosts, _("Canonical hosts")),
        Setting("log_retention_days", "90", _seconds_or_days, _("Access log retention (days)")),
        Setting("mail_tls_policy", "warn", _choice(MAIL_TLS_POLICIES), _("Mail TLS policy")),
        Setting("mail_tls_min_version", "TLSv1_2", _choice(TLS_VERSIONS), _("Minimum mail TLS version")),
        Setting("alert_threshold", "100", _seconds_or_days, _("Alert threshold (refused requests, 0 = off)")),
        Setting("alert_window_minutes", "10", _minutes, _("Alert window (minutes)")),
        Setting("autoban_refusals", "0", _seconds_or_days, _("Automatic ban after refused requests (0 = off)")),
        Setting("autoban_failed_logins", "0", _seconds_or_days, _("Automatic ban after failed logins (0 = off)")),
        Setting("autoban_minutes", "0", _seconds_or_days, _("Automatic ban duration (minutes, 0 = off)")),
        Setting("ipv6_prefix", "64", _ipv6_prefix, _("IPv6 prefix of one client")),
        # Empty: DEFAULT_REFUSED_LOGIN_MESSAGE, in the reader's language.
        Setting("refused_login_message", "", _login_message, _("Failed login message")),
    )
}
# What a failed login shows, from a client some held user would be refused from, while the setting is empty.
DEFAULT_REFUSED_LOGIN_MESSAGE = _("Wrong login/password, or this account cannot sign in from your network "
                                  "(your address: {address})")
KEYS = {setting.key: setting for setting in SETTINGS.values()}


def parse_setting(name, text):
    """Parse the stored text of setting ``name``; ``None`` means its default.

    Raises ``ValueError`` naming the setting and the bad value.
    """
    setting = SETTINGS[name]
    raw = setting.default if text is None or text is False else str(text)
    try:
        return setting.parse(raw)
    except ValueError as exc:
        raise ValueError(_("%(setting)s (%(key)s): %(problem)s", setting=setting.label, key=setting.key,
                           problem=exc.args[0] if exc.args else str(exc))) from None


def canonical_text(name, value):
    """Validate ``value`` (text as entered, or already typed) and return the text to store."""
    text = value if isinstance(value, str) else _render(value)
    return _render(parse_setting(name, text))


def load_settings(stored):
    """Typed values of every setting from ``{key: text}``; missing keys take their default.

    Returns ``(values, problems)``: a stored value that does not parse (written
    around the ORM) falls back to its default and is named in ``problems``.
    """
    values, problems = {}, []
    for name, setting in SETTINGS.items():
        try:
            values[name] = parse_setting(name, stored.get(setting.key))
        except ValueError as exc:
            problems.append(exc.args[0])  # a Text, English for the log and worded again for a reader
            values[name] = parse_setting(name, None)
    return values, problems
