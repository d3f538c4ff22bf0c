"""The allowlist written for the edge: nginx ``allow``/``deny`` rules, an HAProxy pattern file.

A refused request still costs an Odoo worker; the reverse proxy in front of
Odoo can drop it for almost nothing. These files carry the same networks as
the policy, so both layers agree. They are static copies: a comment says
when a rule expires, after which the file must be exported again.

Nothing here imports Odoo.
"""

import dataclasses
import ipaddress

from .client import LOOPBACK

FORMATS = {
    "nginx": "nginx (allow / deny)",
    "haproxy": "HAProxy (pattern file for an acl)",
}
FILENAMES = {"nginx": "odoo-allowlist.conf", "haproxy": "odoo-allowlist.lst"}


@dataclasses.dataclass(frozen=True)
class EdgeExport:
    """What goes into the file, and what the header comment says about it."""

    networks: tuple  # canonical CIDR texts of the rules in force
    allow_loopback: bool
    generated: str  # when and from where, for the header comment
    next_expiry: str = ""  # the first rule expiry, if any
    mode: str = "enforce"

    def all_networks(self):
        """The networks the file admits: the rules, and loopback when the policy admits it, IPv4 then
        IPv6 in address order (so that two exports diff cleanly, and loopback sits where the README says)."""
        # Loopback exactly as the policy's "Allow loopback" admits it.
        extra = [n for n in LOOPBACK.networks if self.allow_loopback and n not in self.networks]
        return tuple(sorted({*self.networks, *extra}, key=_address_order))


def _address_order(network):
    parsed = ipaddress.ip_network(network)
    return parsed.version, parsed.network_address.packed, parsed.prefixlen


def _header(export, lines):
    header = [f"Perimeter Security allowlist, generated {export.generated}."]
    header += lines
    if export.next_expiry:
        header.append(f"A rule expires on {export.next_expiry}: export this file again then.")
    if export.mode != "enforce":
        header.append(f"Odoo's enforcement mode is {export.mode!r}: this file refuses at the edge all the same.")
    if not export.all_networks():
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
    lines += list(export.all_networks())
    return "\n".join(lines) + "\n"


RENDERERS = {"nginx": render_nginx, "haproxy": render_haproxy}


def render(edge, export):
    """The file for ``edge`` (a key of :data:`FORMATS`). Raises ``ValueError`` for an unknown edge."""
    try:
        return RENDERERS[edge](export)
    except KeyError:
        raise ValueError(f"{edge!r} is not an edge format (use {', '.join(FORMATS)})") from None
