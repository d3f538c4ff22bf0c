"""The one decision: given the facts of a request and a policy, allow, deny or redirect.

Every enforcement point (the server tier for static files and requests with
no database, ``ir.http`` for database requests, the websocket) gathers
``RequestFacts``, calls :func:`decide` and applies the ``Verdict``; none of
them re-implements a rule.
"""

import difflib
import posixpath
import re
from dataclasses import dataclass, replace
from urllib.parse import quote, urlsplit

from .client import PROXY_HEADERS, Client, is_loopback, resolve_client
from .networks import NetworkSet
from .settings import load_settings, parse_setting

ALLOW, DENY, REDIRECT = "allow", "deny", "redirect"
_SAFE_METHODS = ("GET", "HEAD")
_HOST = re.compile(r"^(?:[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])(?::(\d{1,5}))?$")
# Characters left as they are in a redirect's path and query (RFC 3986 pchar, plus "?" in queries and "%"
# for escapes the client already made). Everything else is percent-encoded, so a decoded CR/LF in
# PATH_INFO can never reach the Location header.
_PATH_SAFE = "/!$&'()*+,;=:@-._~"
_QUERY_SAFE = _PATH_SAFE + "?%[]"


def _prefixes(exempt_paths):
    # Compared segment-wise by ``is_exempt``: "/web/health/" and "/web/health" are one prefix.
    return tuple(path.rstrip("/") for path in exempt_paths)


# Defaults come from the settings table, like every stored value.
_DEFAULTS, _ = load_settings({})


@dataclass(frozen=True, slots=True)
class Policy:
    """An immutable snapshot of one database's (or the server's) perimeter settings."""

    mode: str = _DEFAULTS["mode"]  # off, monitor, enforce
    allowlist: NetworkSet = NetworkSet()
    trusted_proxies: NetworkSet = NetworkSet(_DEFAULTS["trusted_proxies"])
    allow_loopback: bool = _DEFAULTS["allow_loopback"]
    exempt_paths: tuple = _prefixes(_DEFAULTS["exempt_paths"])
    require_https: bool = _DEFAULTS["require_https"]
    hsts_max_age: int = _DEFAULTS["hsts_max_age"]
    disabled: bool = False  # the break-glass switch of the configuration file
    scope: str = "all"  # all: the allowlist gates every request; internal: only users are held (audience.py)
    audience: object = None  # the compiled audience.Audience (networks per user), None: nobody narrowed
    # Where plain-HTTP requests are redirected by default: "host[:port]", the first canonical host, else
    # web.base.url's (see ``https_origin``); "" with no canonical host refuses them instead.
    https_origin: str = ""
    # The only hosts ("host[:port]") a redirect may go to: the host the request names (a trusted proxy's
    # X-Forwarded-Host, else Host) when it is one of them, else ``https_origin``. Empty: (https_origin,).
    canonical_hosts: tuple = ()
    blocklist: NetworkSet = NetworkSet()  # refused before any other rule (perimeter/blocklist.py)
    ipv6_prefix: int = _DEFAULTS["ipv6_prefix"]  # an IPv6 client is counted, logged and banned per this prefix
    refused_login_message: str = ""  # a failed login's sentence where some user is refused ("": the default)

    @classmethod
    def from_settings(cls, values, allowlist, disabled=False, https_origin="",
                      blocklist=NetworkSet()):  # noqa: B008 -- immutable
        """Build from typed settings (``settings.load_settings``) and the compiled allow- and blocklists.

        ``https_origin``: web.base.url's host, the canonical host when the
        ``canonical_hosts`` setting is empty.
        """
        hosts = tuple(values.get("canonical_hosts", ()))
        return cls(
            mode=values["mode"],
            allowlist=allowlist,
            blocklist=blocklist,
            trusted_proxies=NetworkSet(values["trusted_proxies"]),
            allow_loopback=values["allow_loopback"],
            exempt_paths=_prefixes(values["exempt_paths"]),
            require_https=values["require_https"],
            hsts_max_age=values["hsts_max_age"],
            disabled=disabled,
            scope=values.get("scope", "all"),
            https_origin=hosts[0] if hosts else https_origin,
            canonical_hosts=hosts or ((https_origin,) if https_origin else ()),
            ipv6_prefix=values.get("ipv6_prefix", _DEFAULTS["ipv6_prefix"]),
            refused_login_message=values.get("refused_login_message", ""),
        )

    @classmethod
    def from_stored(cls, stored, allowlist, disabled=False, base_url="",
                    blocklist=NetworkSet()):  # noqa: B008 -- immutable
        """Build from stored ``{parameter key: text}`` and ``web.base.url``; unreadable values take their defaults."""
        values, _problems = load_settings(stored)
        return cls.from_settings(values, allowlist, disabled, https_origin(base_url), blocklist)

    @property
    def active(self):
        """Whether any request can be affected at all (else enforcement points may skip everything)."""
        return not self.disabled and (self.mode != "off" or self.require_https)


# The WSGI keys a decision reads; everything else of the request is irrelevant to it.
_FACT_KEYS = ("REMOTE_ADDR", "wsgi.url_scheme", *PROXY_HEADERS)
# The connection as received (REMOTE_ADDR: the real TCP peer, wsgi.url_scheme, HTTP_HOST), kept by the
# server (guard/peer.py) under this key of ours before a middleware such as a proxy fix rewrote them.
ORIGINAL_CONNECTION = "perimeter_security.original"


@dataclass(frozen=True, slots=True)
class RequestFacts:
    """What a decision needs to know of a request, taken from its WSGI environ."""

    connection: dict  # REMOTE_ADDR, wsgi.url_scheme and the proxy headers present
    method: str = "GET"
    path: str = "/"
    query_string: str = ""
    host: str = ""
    user_agent: str = ""  # for the access log only; no decision reads it
    forwarded_host: str = ""  # X-Forwarded-Host: believed (for redirects) only from a trusted proxy

    @classmethod
    def from_environ(cls, environ):
        """Facts of a WSGI request, read before any middleware (such as ProxyFix) rewrote it."""
        original = environ.get(ORIGINAL_CONNECTION) or {}
        connection = {key: environ[key] for key in _FACT_KEYS if environ.get(key)}
        if original.get("REMOTE_ADDR"):
            connection["REMOTE_ADDR"] = original["REMOTE_ADDR"]
        if original.get("wsgi.url_scheme"):
            connection["wsgi.url_scheme"] = original["wsgi.url_scheme"]
        return cls(
            connection=connection,
            method=environ.get("REQUEST_METHOD", "GET"),
            path=environ.get("PATH_INFO", "/") or "/",
            query_string=environ.get("QUERY_STRING", ""),
            host=original.get("HTTP_HOST") or environ.get("HTTP_HOST", ""),
            user_agent=environ.get("HTTP_USER_AGENT", ""),
            forwarded_host=environ.get("HTTP_X_FORWARDED_HOST", ""),
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    action: str  # allow, deny, redirect
    client: Client  # who the request came from, as resolved with the policy's trusted proxies
    reason: str = ""  # a key of perimeter.access_log.REASONS when refused or reported
    report: bool = False  # hand the request to the access log
    blocked: bool = False  # the request is refused (False when only monitored)
    client_ip: str = ""  # the address the verdict is about (the candidate that failed, if any)
    location: str = ""  # the https URL of a redirect
    hsts: int = 0  # Strict-Transport-Security max-age to send (0: none)
    secure_cookie: bool = False  # mark the session cookie Secure

    @property
    def allowed(self):
        return self.action == ALLOW


def is_exempt(path, exempt_paths):
    """``path`` is under an exempt prefix, segment-wise, and is not a ``..`` or ``.`` trick.

    ``exempt_paths`` hold prefixes without a trailing slash (``Policy`` strips it).
    """
    if not any(path == prefix or path.startswith(prefix + "/") for prefix in exempt_paths):
        return False
    return posixpath.normpath(path) == path.rstrip("/")  # normalised only when a prefix matched: cheap


def https_origin(base_url):
    """The "host[:port]" to redirect plain HTTP to, from ``web.base.url``; "" when it names none.

    The port is kept only when ``web.base.url`` is itself https: the port of an
    ``http://`` URL serves plain HTTP, and a redirect must never go back there.
    """
    try:
        parts = urlsplit((base_url or "").strip())
        port = parts.port
    except ValueError:
        return ""
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    if not _HOST.match(host):
        return ""
    return f"{host}:{port}" if parts.scheme == "https" and port not in (None, 443) else host


def _forwarded_hostname(value):
    """The host a request names (the nearest proxy's, right-most, when forwarded), lower case, no port, or ""."""
    host = value.rpartition(",")[2].strip()
    match = _HOST.match(host)
    if not match:
        return ""
    return (host[: -len(match.group(1)) - 1] if match.group(1) else host).lower()


def _host_name(entry):
    """``"erp.example.com:8443"`` → ``"erp.example.com"``; ``"[2001:db8::1]:8443"`` → ``"[2001:db8::1]"``."""
    if entry.startswith("["):
        return entry.partition("]")[0] + "]"
    return entry.partition(":")[0]


def https_location(facts, client, origin="", canonical_hosts=()):
    """The canonical https URL of a request, or "" when there is none to send it to.

    The host is one of ``canonical_hosts`` (``Policy.canonical_hosts``: the
    ``canonical_hosts`` setting, else ``web.base.url``'s host), never another:
    the one the request names when it is canonical (``X-Forwarded-Host`` from
    a trusted proxy, else ``Host``), else the first (``origin``). A proxy that
    forwards the client's ``Host: evil.example`` cannot send anyone there, and
    the port comes from the canonical entry, never from the plain-HTTP request.
    """
    hosts = canonical_hosts or ((origin,) if origin else ())
    if not hosts:
        return ""
    asked = [facts.forwarded_host] if client.via_proxy and facts.forwarded_host else []
    asked.append(facts.host)
    names = [name for name in map(_forwarded_hostname, asked) if name]
    host = next((entry for name in names for entry in hosts if _host_name(entry) == name), origin or hosts[0])
    path = quote(_wsgi_bytes(facts.path), safe=_PATH_SAFE)
    query = f"?{quote(_wsgi_bytes(facts.query_string), safe=_QUERY_SAFE)}" if facts.query_string else ""
    return f"https://{host}{path}{query}"


def _wsgi_bytes(text):
    """The bytes behind a WSGI string (PEP 3333 carries them as latin-1)."""
    try:
        return text.encode("latin-1")
    except UnicodeEncodeError:
        return text.encode("utf-8", "replace")


def _blocklisted(facts, policy, client, loopback):
    """The verdict for a blocked client, or None: before every other rule, exempt paths included."""
    if not policy.blocklist or policy.mode == "off" or policy.disabled or loopback:
        return None
    blocked = next((ip for ip in client.addresses if ip in policy.blocklist), None)
    if blocked is None:
        return None
    if policy.mode == "enforce":
        return _with_hsts(policy, Verdict(DENY, client, "blocklisted", report=True, blocked=True, client_ip=blocked))
    return _allow(facts, policy, loopback, Verdict(ALLOW, client, "blocklisted", report=True, client_ip=blocked))


def decide(facts, policy):
    """Allow, deny or redirect one request. Pure and cheap: called for every request."""
    client = resolve_client(facts.connection, policy.trusted_proxies)
    loopback = policy.allow_loopback and is_loopback(client)
    blocked = _blocklisted(facts, policy, client, loopback)
    if blocked is not None:
        return blocked
    if not policy.active:
        return Verdict(ALLOW, client, client_ip=client.ip)
    if is_exempt(facts.path, policy.exempt_paths):
        return _with_hsts(policy, Verdict(ALLOW, client, client_ip=client.ip))
    return _judged_by_allowlist(facts, policy, client, loopback)


def _judged_by_allowlist(facts, policy, client, loopback):
    """The verdict of the allowlist for a client neither blocked nor on an exempt path."""
    if policy.mode != "off" and not loopback:
        # A trusted proxy's unreadable header leaves the client unknown: refused, whatever address survived.
        refused = client.ip if client.malformed else next(
            (ip for ip in client.addresses if ip not in policy.allowlist), None)
        if refused is not None and policy.scope != "internal":  # internal: the public side is open to all
            reason = "untrusted_proxy_headers" if client.untrusted_headers else "not_allowlisted"
            if policy.mode == "enforce":
                return _with_hsts(policy, Verdict(DENY, client, reason, report=True, blocked=True, client_ip=refused))
            return _allow(facts, policy, loopback, Verdict(ALLOW, client, reason, report=True, client_ip=refused))
        if client.untrusted_headers:
            # Allowed on its own address, but someone is sending proxy headers: worth knowing.
            return _allow(facts, policy, loopback,
                          Verdict(ALLOW, client, "untrusted_proxy_headers", report=True, client_ip=client.ip))
    return _allow(facts, policy, loopback, Verdict(ALLOW, client, client_ip=client.ip))


class Decider:
    """``decide`` for one policy, remembering the verdicts that cannot depend on the path.

    A request that is allowed on a path that is not exempt is allowed, with
    the same verdict, for every method, path and host arriving with the same
    connection facts (TCP peer, scheme, proxy headers, and what ProxyFix
    rewrote): those verdicts are remembered, keyed by exactly those facts, so
    a returning client costs a dictionary lookup instead of resolving and
    matching again. Refusals, redirects and exempt paths are decided every
    time. A policy change makes a new ``Decider``: nothing outlives its policy.
    """

    __slots__ = ("_memo", "policy")

    MEMO_SIZE = 4096  # remembered connection facts; the memo starts over when full
    MEMO_KEY_LIMIT = 1024  # characters of header values beyond which nothing is remembered

    def __init__(self, policy):
        self.policy = policy
        self._memo = {}

    def __call__(self, environ):
        """The verdict on the WSGI request ``environ``: always ``decide(RequestFacts.from_environ(environ))``."""
        if is_exempt(environ.get("PATH_INFO", "/") or "/", self.policy.exempt_paths):
            return decide(RequestFacts.from_environ(environ), self.policy)  # exempt paths: never remembered
        original = environ.get(ORIGINAL_CONNECTION)
        key = tuple(map(environ.get, _FACT_KEYS))
        if original:
            key += (original.get("REMOTE_ADDR"), original.get("wsgi.url_scheme"))
        verdict = self._memo.get(key)
        if verdict is not None:
            return verdict
        verdict = decide(RequestFacts.from_environ(environ), self.policy)
        if verdict.action == ALLOW and sum(len(value) for value in key if isinstance(value, str)) <= \
                self.MEMO_KEY_LIMIT:
            if len(self._memo) >= self.MEMO_SIZE:
                self._memo.clear()
            self._memo[key] = verdict
        return verdict


def _with_hsts(policy, verdict):
    """HSTS on every answer over HTTPS while HTTPS is required: refusals and exempt paths too."""
    if policy.require_https and verdict.client.scheme == "https":
        return replace(verdict, hsts=policy.hsts_max_age, secure_cookie=True)
    return verdict


def _allow(facts, policy, loopback, verdict):
    """Apply the HTTPS requirement to a request the allowlist lets through."""
    if not policy.require_https:
        return verdict
    if verdict.client.scheme == "https":
        return replace(verdict, hsts=policy.hsts_max_age, secure_cookie=True)
    if loopback:
        # Local scripts and health checks do not cross the network: plain HTTP is fine there.
        return verdict
    location = (https_location(facts, verdict.client, policy.https_origin, policy.canonical_hosts)
                if facts.method in _SAFE_METHODS else "")
    if location:
        return replace(verdict, action=REDIRECT, location=location, secure_cookie=True)
    return replace(verdict, action=DENY, reason="not_https", report=True, blocked=True)


# Options of the ``[perimeter_security]`` section of Odoo's configuration file.
SERVER_OPTIONS = ("disabled", "server_allowlist", "trusted_proxies", "allow_loopback", "require_https",
                  "canonical_hosts")
# option -> the setting whose grammar reads it
_SERVER_OPTION_SETTINGS = {"server_allowlist": "trusted_proxies", "trusted_proxies": "trusted_proxies",
                           "allow_loopback": "allow_loopback", "require_https": "require_https",
                           "canonical_hosts": "canonical_hosts"}
_FAIL_CLOSED = {"trusted_proxies": (), "canonical_hosts": ()}  # unreadable: nothing trusted, nowhere to redirect


def _option_text(value):
    # Odoo's configuration parser turns "True"/"False" into booleans and leaves the rest as text.
    if isinstance(value, bool):
        return "True" if value else "False"
    return "" if value is None else str(value)


def break_glass(options):
    """Whether ``disabled`` is set in the configuration file's section (anything unreadable is not)."""
    value = options.get("disabled")
    if value is None or value is False:
        return False
    try:
        return parse_setting("allow_loopback", _option_text(value))  # the same True/False grammar
    except ValueError:
        return False


def _unknown_option(name):
    close = difflib.get_close_matches(str(name), SERVER_OPTIONS, n=1, cutoff=0.6)
    hint = f"did you mean {close[0]}? " if close else ""
    return (f"[perimeter_security] {name}: unknown option, ignored ({hint}"
            f"known: {', '.join(SERVER_OPTIONS)})")


def server_policy(options):
    """The policy of requests that belong to no database, from the configuration file's section.

    ``server_allowlist`` present (even empty) turns enforcement on for them;
    absent, they are not restricted. ``require_https`` sends them to HTTPS
    on one of ``canonical_hosts`` (see ``https_location``); without it they
    are refused, since no database's ``web.base.url`` speaks for the server
    and a forwarded host is not proof of anything. Returns ``(policy,
    problems)``; an unreadable value fails closed (an unreadable allowlist
    admits nobody but loopback, unreadable proxies are not trusted, an
    unreadable ``require_https`` requires HTTPS) and is named in ``problems``,
    as is every unknown option (a mistyped ``disable = True`` is not the break-glass).
    """
    problems = [_unknown_option(name) for name in options if name not in SERVER_OPTIONS]
    values = {}
    for name, setting in _SERVER_OPTION_SETTINGS.items():
        if name not in options:
            continue
        try:
            values[name] = parse_setting(setting, _option_text(options[name]))
        except ValueError as exc:
            problems.append(f"[perimeter_security] {name}: {str(exc).partition(': ')[2] or exc}")
            values[name] = _FAIL_CLOSED.get(setting, True)  # loopback kept; HTTPS required
    raw_disabled = options.get("disabled")
    if raw_disabled not in (None, False):
        try:
            parse_setting("allow_loopback", _option_text(raw_disabled))  # the True/False grammar, as break_glass
        except ValueError:
            problems.append(f"[perimeter_security] disabled: {_option_text(raw_disabled)!r} is not True or False")
    policy = Policy(
        mode="enforce" if "server_allowlist" in options else "off",
        allowlist=NetworkSet(values.get("server_allowlist", ())),
        trusted_proxies=NetworkSet(values.get("trusted_proxies", ())),
        allow_loopback=values.get("allow_loopback", True),
        require_https=values.get("require_https", False),
        disabled=break_glass(options),
        https_origin=next(iter(values.get("canonical_hosts", ())), ""),
        canonical_hosts=tuple(values.get("canonical_hosts", ())),
    )
    return policy, problems
