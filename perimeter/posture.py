"""Perimeter posture: what this server exposes, and the server options that weaken it.

Two sources of findings, each with the fix in words:

- the TCP sockets listening on the machine (read from ``/proc/net/tcp`` and
  ``/proc/net/tcp6``, so no third-party library and no privilege is needed):
  a database, a cache or Odoo's own port reachable from other machines;
- Odoo's server options (a plain mapping such as ``odoo.tools.config.options``)
  and the module's own settings: a public database manager, the default
  master password, a proxy mode that anyone can spoof, plaintext database or
  mail traffic, protections switched off;
- peers seen sending proxy headers without being trusted proxies (from the
  access log) that the allowlist admits: every client behind them gets in.

Nothing here imports Odoo; the addon passes the options and settings in. A
finding's title, detail and fix are :class:`~perimeter.wording.Text`: English
sentences that keep their facts, so that the addon can store them and word them
again in each reader's language.
"""

# The engine has no env: its _() is perimeter.wording's, worded for the reader on the Odoo side.
# pylint: disable=prefer-env-translation

import dataclasses
import ipaddress
import socket
import typing
from pathlib import Path
from urllib.parse import urlsplit

from .networks import NetworkSet
from .wording import Text, _

SEVERITIES = {"critical": "Critical", "warning": "Warning", "info": "Information"}
CATEGORIES = {"port": "Open port", "server": "Server option", "module": "Perimeter setting"}


class _RiskyService(typing.NamedTuple):
    # A named call rather than a bare tuple: Odoo 19's extractor takes a tuple after a _() for one more text.
    name: str
    severity: str
    why: Text


# Services that must never be reachable from other machines, and why.
# The reason follows the service's name in a sentence ("PostgreSQL holds every Odoo database; ...").
_RISKY_SERVICES = {
    21: _RiskyService("FTP", "critical", _("sends passwords and files in clear text")),
    23: _RiskyService("Telnet", "critical", _("sends passwords in clear text")),
    5432: _RiskyService("PostgreSQL", "critical",
                        _("holds every Odoo database; only the Odoo servers need to reach it")),
    3306: _RiskyService("MySQL/MariaDB", "critical", _("a database server; only its applications need to reach it")),
    6379: _RiskyService("Redis", "critical", _("accepts commands without authentication by default")),
    11211: _RiskyService("Memcached", "critical", _("accepts commands without authentication")),
    27017: _RiskyService("MongoDB", "critical", _("a database server; only its applications need to reach it")),
    9200: _RiskyService("Elasticsearch", "critical",
                        _("answers queries over plain HTTP without authentication by default")),
    2375: _RiskyService("Docker API", "critical", _("gives root on the host to whoever connects")),
    22: _RiskyService("SSH", "info", _("is the administrators' way in; restrict it to their networks")),
}
_LISTEN = "0A"  # TCP_LISTEN in /proc/net/tcp*
_HASH_PREFIXES = ("$pbkdf2", "$6$", "$5$", "$2")  # passlib hashes Odoo writes for the master password


@dataclasses.dataclass(frozen=True, order=True)
class Finding:
    """One thing to fix. ``key`` identifies it across reviews, so a review updates instead of duplicating.

    ``title``, ``detail`` and ``fix`` are sentences (:class:`~perimeter.wording.Text`, or plain strings).
    """

    key: str
    category: str  # a key of CATEGORIES
    severity: str  # a key of SEVERITIES
    title: str
    detail: str
    fix: str


@dataclasses.dataclass(frozen=True, order=True)
class ListeningSocket:
    """A TCP socket in the LISTEN state: the local address it is bound to, and its port."""

    port: int
    address: str

    @property
    def exposed(self):
        """True when other machines may connect: bound to a wildcard or a non-loopback address."""
        return not ipaddress.ip_address(self.address).is_loopback


# -- listening sockets -----------------------------------------------------------------------------

def _decode_address(hex_address):
    """``/proc/net/tcp*`` prints addresses as host-order 32-bit words in hex."""
    raw = bytes.fromhex(hex_address)
    host_order = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    address = ipaddress.ip_address(host_order)
    if address.version == 6 and address.ipv4_mapped:
        return str(address.ipv4_mapped)
    return str(address)


def parse_proc_net_tcp(text):
    """The listening sockets in the text of ``/proc/net/tcp`` or ``/proc/net/tcp6``; other lines are skipped."""
    sockets = set()
    for line in text.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 4 or fields[3] != _LISTEN or ":" not in fields[1]:
            continue
        hex_address, hex_port = fields[1].rsplit(":", 1)
        try:
            sockets.add(ListeningSocket(int(hex_port, 16), _decode_address(hex_address)))
        except ValueError:
            continue  # a line this parser does not understand is not a finding
    return sorted(sockets)


def listening_sockets(proc_net=Path("/proc/net")):
    """The TCP sockets listening on this machine, or ``None`` where ``/proc/net`` cannot be read."""
    found = set()
    readable = False
    for name in ("tcp", "tcp6"):
        try:
            found.update(parse_proc_net_tcp((Path(proc_net) / name).read_text(encoding="ascii")))
            readable = True
        except OSError:
            continue
    return sorted(found) if readable else None


def _describe_binding(addresses):
    """Where a port listens, as words: "all interfaces" for a wildcard address, else the addresses."""
    shown = [_("all interfaces") if ipaddress.ip_address(a).is_unspecified else a for a in sorted(addresses)]
    return Text.join(dict.fromkeys(shown), ", ")


def review_sockets(sockets, odoo_ports=(), behind_proxy=False):
    """Findings for the exposed sockets among ``sockets``.

    ``odoo_ports`` are the ports Odoo itself serves (``http_port``, ``gevent_port``);
    ``behind_proxy`` says that clients should reach Odoo through a reverse proxy.
    """
    if sockets is None:
        return [Finding(
            "port:unreadable", "port", "info", _("Listening ports could not be read"),
            _("This system has no /proc/net/tcp, so the open ports were not reviewed."),
            _("Review the listening ports with the system's own tools (ss -ltn, netstat -an)."))]
    by_port = {}
    for sock in sockets:
        if sock.exposed:
            by_port.setdefault(sock.port, set()).add(sock.address)
    findings = []
    for port, addresses in sorted(by_port.items()):
        where = _describe_binding(addresses)
        if port in odoo_ports:
            findings.append(_odoo_port_finding(port, where, behind_proxy))
        elif port in _RISKY_SERVICES:
            service, severity, why = _RISKY_SERVICES[port]
            findings.append(Finding(
                f"port:{port}", "port", severity,
                _("%(service)s (port %(port)s) listens on %(where)s", service=service, port=port, where=where),
                _("%(service)s %(why)s. Any machine that can route to this server can try it.",
                  service=service, why=why),
                _("Bind %(service)s to 127.0.0.1 (or the private address its clients use) "
                  "or close port %(port)s in the firewall to everyone but them.", service=service, port=port)))
        else:
            findings.append(Finding(
                f"port:{port}", "port", "info", _("Port %(port)s listens on %(where)s", port=port, where=where),
                _("A service outside Odoo accepts connections on port %(port)s from other machines.", port=port),
                _("Check which program listens (ss -ltnp 'sport = :%(port)s'); "
                  "if it needs no outside clients, bind it to 127.0.0.1 or firewall the port.", port=port)))
    return findings


def _odoo_port_finding(port, where, behind_proxy):
    if behind_proxy:
        return Finding(
            f"port:{port}", "port", "warning",
            _("Odoo's port %(port)s is reachable without the proxy (%(where)s)", port=port, where=where),
            _("Odoo runs behind a reverse proxy, yet clients can connect to it directly, past the proxy's "
              "TLS and filtering."),
            _("Set http_interface = 127.0.0.1 in the Odoo configuration file (the proxy connects over "
              "loopback) or firewall port %(port)s to everyone but the proxy.", port=port))
    return Finding(
        f"port:{port}", "port", "warning",
        _("Odoo serves plain HTTP on port %(port)s (%(where)s)", port=port, where=where),
        _("Clients reach Odoo without TLS: passwords and session cookies cross the network readable."),
        _("Put a TLS reverse proxy (nginx, HAProxy) in front of Odoo, list it under Trusted proxies, "
          "turn on Require HTTPS, and set http_interface = 127.0.0.1."))


# -- server options --------------------------------------------------------------------------------

def _is_loopback_host(host):
    host = (host or "").strip()
    if not host or host.startswith("/") or host == "localhost":
        return True  # empty or a path: a Unix socket
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _comma_list(value):
    """An option Odoo keeps as "a,b" text or as a list, as a set."""
    if isinstance(value, str):
        return {m.strip() for m in value.split(",") if m.strip()}
    return set(value or ())


def review_server_options(options, master_password_is=None):
    """Findings for risky values among Odoo's server ``options`` (``odoo.tools.config.options``).

    ``master_password_is(word)`` tells whether the master password is ``word``
    (Odoo stores it hashed); without it only a clear-text value can be compared.
    """
    findings = []
    add = findings.append
    if options.get("list_db", True):
        add(Finding(
            "option:list_db", "server", "warning", _("The database manager is public"),
            _("/web/database/manager lists the databases and offers backup, restore, duplicate and drop to "
              "whoever knows the master password."),
            _("Set list_db = False in the Odoo configuration file (and dbfilter to the database name).")))
    findings.extend(_master_password_findings(options.get("admin_passwd") or "", master_password_is))
    # An empty http_interface is every interface (unlike an empty db_host, which is a Unix socket).
    if options.get("proxy_mode") and not _is_loopback_host(options.get("http_interface") or "0.0.0.0"):
        add(Finding(
            "option:proxy_mode", "server", "warning", _("proxy_mode believes any client's X-Forwarded-For"),
            _("With proxy_mode, Odoo takes the client address and scheme from X-Forwarded-* headers without "
              "checking that they came from the proxy; Odoo listens on %(interface)s, so anyone who reaches "
              "it can choose their address in Odoo's logs and rate limits.",
              interface=options.get("http_interface") or _("all interfaces")),
            _("Set http_interface = 127.0.0.1 so that only the local proxy reaches Odoo (Perimeter Security "
              "itself believes proxy headers only from its trusted proxies).")))
    if not _is_loopback_host(options.get("db_host")) and (options.get("db_sslmode") or "prefer") in (
            "disable", "allow", "prefer"):
        add(Finding(
            "option:db_sslmode", "server", "warning", _("Database traffic may travel unencrypted"),
            _("PostgreSQL runs on %(host)s and db_sslmode is %(sslmode)s: the connection falls back to plain "
              "text, and no certificate is verified.",
              host=options.get("db_host"), sslmode=options.get("db_sslmode") or "prefer"),
            _("Set db_sslmode = verify-full (with the server's CA in ~/.postgresql/root.crt) in the Odoo "
              "configuration file.")))
    if options.get("dev_mode"):
        add(Finding(
            "option:dev_mode", "server", "critical", _("Developer options are on (--dev)"),
            _("dev_mode = %(dev_mode)s: tracebacks, the debugger and live code reloading are meant for a "
              "developer's machine.", dev_mode=",".join(sorted(_comma_list(options["dev_mode"])))),
            _("Remove --dev from the command line and dev_mode from the configuration file.")))
    if options.get("smtp_server") and not _is_loopback_host(options.get("smtp_server")) \
            and not options.get("smtp_ssl"):
        add(Finding(
            "option:smtp_ssl", "server", "warning", _("The fallback SMTP server is used without TLS"),
            _("smtp_server = %(smtp_server)s with smtp_ssl off: mail sent through it (when no outgoing mail "
              "server matches) crosses the network readable.", smtp_server=options["smtp_server"]),
            _("Set smtp_ssl = True (STARTTLS) in the Odoo configuration file, or configure an outgoing mail "
              "server with TLS under Settings › Technical › Outgoing Mail Servers.")))
    if "perimeter_security" not in _comma_list(options.get("server_wide_modules")):
        add(Finding(
            "option:server_wide_modules", "server", "info", _("Perimeter Security is not loaded server-wide"),
            _("Static files and the database manager are checked only once a database with the module has "
              "been loaded by this Odoo process."),
            _("Set server_wide_modules = base,web,perimeter_security in the Odoo configuration file.")))
    return findings


def _master_password_findings(stored, master_password_is):
    if not stored:
        return []  # empty: the database manager refuses every operation
    hashed = stored.startswith(_HASH_PREFIXES)
    is_default = master_password_is("admin") if master_password_is else (not hashed and stored == "admin")
    if is_default:
        return [Finding(
            "option:admin_passwd", "server", "critical", _("The master password is 'admin'"),
            _("Odoo's default master password lets anyone who reaches the database manager back up, "
              "restore or drop every database."),
            _("Set a long random master password in the database manager (Set Master Password), or "
              "admin_passwd in the configuration file; an empty value disables the database manager."))]
    if not hashed:
        return [Finding(
            "option:admin_passwd", "server", "warning", _("The master password is stored in clear text"),
            _("admin_passwd in the configuration file is readable by whoever can read that file or its "
              "backups."),
            _("Change it once in the database manager (Set Master Password): Odoo then stores a hash."))]
    return []


# -- the module's own settings ---------------------------------------------------------------------

def review_module_settings(settings, base_url="", break_glass=False):
    """Findings for the module's ``settings`` (see :mod:`perimeter.settings`) and ``web.base.url``."""
    findings = []
    add = findings.append
    where = _("Settings › Perimeter")
    if break_glass:
        add(Finding(
            "module:break_glass", "module", "critical", _("Perimeter Security is switched off (break-glass)"),
            _("[perimeter_security] disabled = True in the Odoo configuration file: no address, HTTPS or "
              "proxy check runs."),
            _("Once access is restored, remove disabled = True from the [perimeter_security] section and "
              "restart Odoo.")))
    mode = settings.get("mode", "off")
    if mode == "off":
        add(Finding(
            "module:mode", "module", "warning", _("The IP allowlist is not enforced"),
            _("Enforcement mode is Off: every network can reach Odoo."),
            _("Add your networks to Perimeter › Rules › IP Allowlist, then set Enforcement mode to Monitor "
              "and later Enforce in %(where)s.", where=where)))
    elif mode == "monitor":
        add(Finding(
            "module:mode", "module", "info", _("The IP allowlist only monitors"),
            _("Requests from outside the allowlist are logged but let through."),
            _("When Perimeter › Monitoring › Access Log shows no legitimate client left, set Enforcement "
              "mode to Enforce in %(where)s.", where=where)))
    if not settings.get("require_https"):
        add(Finding(
            "module:require_https", "module", "warning", _("Plain HTTP is accepted"),
            _("Require HTTPS is off: logins and session cookies may cross the network unencrypted."),
            _("Serve Odoo over HTTPS (a TLS reverse proxy), then turn on Require HTTPS in %(where)s.",
              where=where)))
    if base_url.lower().startswith("http://") and not _is_loopback_url(base_url):
        add(Finding(
            "module:web_base_url", "module", "warning", _("Links in mail point to plain HTTP"),
            _("web.base.url is %(base_url)s: links in invitations, password resets and portal mail are "
              "followed unencrypted.", base_url=base_url),
            _("Open Odoo over https:// as an administrator (web.base.url follows) or set web.base.url in "
              "Settings › Technical › System Parameters.")))
    if settings.get("mail_tls_policy", "off") == "off":
        add(Finding(
            "module:mail_tls_policy", "module", "warning", _("Mail server certificates are not verified"),
            _("Mail TLS policy is Off: Odoo talks to SMTP, IMAP and POP servers without checking who answers."),
            _("Check the servers in Perimeter › Systems › Mail TLS, then set Mail TLS policy to Warn or "
              "Enforce in %(where)s.", where=where)))
    return findings


def review_proxy_peers(peers, allowlist, trusted_proxies=()):
    """Findings for peers that sent proxy headers without being trusted proxies, and that the allowlist admits.

    ``peers`` maps each such peer's address to the requests seen (the access
    log's reason ``untrusted_proxy_headers``); ``allowlist`` is the
    ``NetworkSet`` in force; ``trusted_proxies`` the CIDRs trusted now. Such
    a peer is most likely a reverse proxy left out of Trusted proxies: its
    headers are ignored, the proxy is taken for the client, and since the
    proxy is allowlisted every client it forwards is admitted.
    """
    trusted = NetworkSet(trusted_proxies)
    findings = []
    for peer, hits in sorted(peers.items()):
        if peer in trusted or peer not in allowlist:
            continue
        findings.append(Finding(
            f"module:untrusted_proxy:{peer}", "module", "critical",
            _("%(peer)s sends proxy headers and is allowlisted, but is not a trusted proxy", peer=peer),
            _("%(hits)s requests from %(peer)s carried X-Forwarded-For, Forwarded or X-Real-IP headers. "
              "%(peer)s is not in Trusted proxies, so those headers are ignored and the proxy is taken for the "
              "client; as %(peer)s is in the IP Allowlist, every client coming through it is admitted, "
              "whatever its address.", hits=hits, peer=peer),
            _("If %(peer)s is your reverse proxy, add it to Trusted proxies (Settings › Perimeter), "
              "then remove its own rule from the IP Allowlist and allowlist the clients' networks instead. If "
              "it is not a proxy, find out which program on it sends those headers.", peer=peer)))
    return findings


def _is_loopback_url(url):
    try:
        host = urlsplit(url).hostname
    except ValueError:
        return False  # an unreadable URL is not known to stay on this machine
    return bool(host) and _is_loopback_host(host)


def _port_number(value):
    """A port option as a number, or None: a hand-edited configuration file must not break the review."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def review_server_section(options, section):
    """The database manager over plain HTTP: ``[perimeter_security] require_https`` (``section``) is not on."""
    # With list_db off Odoo refuses every database management operation: nothing worth a password crosses.
    required = str(section.get("require_https", "")).strip().lower() in ("true", "1", "yes", "on")
    if required or not options.get("list_db", True):
        return []
    return [Finding(
        "section:require_https", "server", "warning", _("The database manager accepts plain HTTP"),
        _("/web/database/manager and /xmlrpc/2/db belong to no database, so a database's Require HTTPS does "
          "not cover them: the master password can cross the network in clear text."),
        _("Add require_https = True to the [perimeter_security] section of the Odoo configuration file "
          "(loopback scripts keep plain HTTP while allow_loopback is on), or set list_db = False."))]


def review(options, settings, sockets, *, base_url="", break_glass=False, master_password_is=None,
           proxy_peers=None, allowlist=None, server_section=None):
    """Every finding, worst first. ``sockets`` comes from :func:`listening_sockets`.

    ``proxy_peers`` and ``allowlist``: see :func:`review_proxy_peers` (omitted: not reviewed);
    ``server_section``: the configuration file's ``[perimeter_security]`` section.
    """
    odoo_ports = {port for port in map(_port_number, (options.get("http_port"), options.get("gevent_port"))) if port}
    behind_proxy = bool(settings.get("trusted_proxies")) or bool(options.get("proxy_mode"))
    findings = [
        *review_sockets(sockets, odoo_ports, behind_proxy),
        *review_server_options(options, master_password_is),
        *review_module_settings(settings, base_url, break_glass),
        *(review_proxy_peers(proxy_peers, allowlist, settings.get("trusted_proxies") or ())
          if proxy_peers and allowlist is not None else ()),
        *review_server_section(options, server_section or {}),
    ]
    rank = list(SEVERITIES)
    return sorted(findings, key=lambda f: (rank.index(f.severity), f.category, f.key))


def local_hostname():
    """The name of the machine that ran a review: findings describe that machine."""
    return socket.gethostname()
