"""The rules written for the edge: nginx ``allow``/``deny`` rules, HAProxy pattern files.

A refused request still costs an Odoo worker; the reverse proxy in front of
Odoo can drop it for almost nothing. These files carry the same networks as
the policy, so both layers agree: the blocklist first (``deny``), then the
allowlist. Exported by hand they are copies (a comment says when a rule
expires); served by ``/perimeter/edge/<format>`` they are fetched again by the
edge's sync job (``deploy/edge_sync.sh``), which a ``304`` answers when
nothing changed.

Nothing here imports Odoo.
"""

import dataclasses
import ipaddress

from .client import LOOPBACK
from .networks import network_covers
from .wording import _

# pylint: disable=prefer-env-translation  # no env in the engine: this _ is perimeter.wording's, not Odoo's

FORMATS = {
    "nginx": "nginx (allow / deny)",
    "haproxy": "HAProxy (pattern file for an acl)",
    "haproxy-blocklist": "HAProxy blocklist (pattern file for an acl)",
}
FILENAMES = {"nginx": "odoo-allowlist.conf", "haproxy": "odoo-allowlist.lst", "haproxy-blocklist": "odoo-blocklist.lst"}


@dataclasses.dataclass(frozen=True)
class EdgeExport:
    """What goes into the file, and what the header comment says about it."""

    networks: tuple  # canonical CIDR texts of the rules in force
    allow_loopback: bool
    generated: str  # when and from where, for the header comment
    next_expiry: str = ""  # the first rule expiry, if any
    mode: str = "enforce"
    blocked: tuple = ()  # canonical CIDR texts of the blocklist in force
    refuse_others: bool = True  # False: the allowlist is not enforced (a sync in off/monitor): only denials
    scope: str = "all"  # internal: Odoo holds only its users to networks, the edge must admit everyone else

    def all_networks(self):
        """The networks the file admits: the rules, and loopback when the policy admits it, IPv4 then
        IPv6 in address order (so that two exports diff cleanly, and loopback sits where readme/CONFIGURE.md says)."""
        # Loopback exactly as the policy's "Allow loopback" admits it.
        extra = [n for n in LOOPBACK.networks if self.allow_loopback and n not in self.networks]
        return tuple(sorted({*self.networks, *extra}, key=_address_order))

    def all_blocked(self):
        """The networks the file refuses first, in address order; loopback ones are left out when the policy
        admits loopback (Odoo does not refuse loopback then: the edge must not either)."""
        return tuple(sorted((n for n in self.blocked if not (self.allow_loopback and n in LOOPBACK_NETWORKS)),
                            key=_address_order))


class _LoopbackNetworks:
    """``network in LOOPBACK_NETWORKS``: the CIDR lies wholly in loopback."""

    def __contains__(self, network):
        return any(network_covers(outer, network) for outer in LOOPBACK.networks)


LOOPBACK_NETWORKS = _LoopbackNetworks()


def _address_order(network):
    parsed = ipaddress.ip_network(network)
    return parsed.version, parsed.network_address.packed, parsed.prefixlen


def _header(export, lines):
    # The files' comments stay English on purpose: the same file is served to the edge's sync job,
    # whose ETag (and 304) must not change with the language of whoever exported it last, and
    # configuration files are read next to nginx's and HAProxy's own English documentation.
    header = [f"Perimeter Security allowlist, generated {export.generated}."]
    header += lines
    if export.next_expiry:
        header.append(f"A rule expires on {export.next_expiry}: export this file again then.")
    if export.scope == "internal":
        header.append("Odoo's scope is 'internal' (only internal users are held to networks, checked by Odoo): "
                      "the public side is open to all, so this file refuses only the blocklist.")
    elif not export.refuse_others:
        header.append(f"Odoo's enforcement mode is {export.mode!r}: the allowlist is not enforced, "
                      "only the blocklist is.")
    elif export.mode != "enforce":
        header.append(f"Odoo's enforcement mode is {export.mode!r}: this file refuses at the edge all the same.")
    elif not export.all_networks():
        header.append("The allowlist is EMPTY: this file refuses every client.")
    return [f"# {line}" for line in header]


def render_nginx(export):
    """``allow`` lines for the rules (first match wins in nginx), then ``deny all``."""
    lines = _header(export, [
        "Include it in the server (or location) block that proxies to Odoo:",
        "    include /etc/nginx/odoo-allowlist.conf;",
        "nginx checks $remote_addr: behind another proxy or a CDN, set real_ip_header and set_real_ip_from first.",
        "allow/deny run in nginx's access phase: a 'return' in a location answers before them.",
    ])
    lines += [f"deny {network};" for network in export.all_blocked()]
    if export.refuse_others:
        lines += [f"allow {network};" for network in export.all_networks()]
        lines.append("deny all;")
    return "\n".join(lines) + "\n"


def render_haproxy(export):
    """One network per line, for ``acl ... src -f``; the header says how to use it."""
    lines = _header(export, [
        "Use it in the frontend that serves Odoo:",
        "    acl odoo_allowed src -f /etc/haproxy/odoo-allowlist.lst",
        "    http-request deny deny_status 403 if !odoo_allowed",
    ])
    # Not enforcing the allowlist: the file admits every address, so that the frontend's acl stays the same.
    lines += list(export.all_networks() if export.refuse_others else ("0.0.0.0/0", "::/0"))
    return "\n".join(lines) + "\n"


def render_haproxy_blocklist(export):
    """The blocklist as a second pattern file, checked before the allowlist's."""
    lines = [f"# Perimeter Security blocklist, generated {export.generated}.",
             "# Use it in the frontend that serves Odoo, before the allowlist:",
             "#     acl odoo_blocked src -f /etc/haproxy/odoo-blocklist.lst",
             "#     http-request deny deny_status 403 if odoo_blocked"]
    lines += list(export.all_blocked())
    return "\n".join(lines) + "\n"


RENDERERS = {"nginx": render_nginx, "haproxy": render_haproxy, "haproxy-blocklist": render_haproxy_blocklist}


def render(edge, export):
    """The file for ``edge`` (a key of :data:`FORMATS`). Raises ``ValueError`` for an unknown edge."""
    try:
        return RENDERERS[edge](export)
    except KeyError:
        raise ValueError(_("%(value)r is not an edge format (use %(choices)s)",
                           value=edge, choices=", ".join(FORMATS))) from None
