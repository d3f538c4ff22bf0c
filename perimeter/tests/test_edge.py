"""The allowlist written for the edge: what the files say, and a real nginx enforcing its file."""

import http.client

import pytest

from perimeter.edge import EdgeExport, render, render_haproxy, render_nginx
from testing.nginx import NGINX, NginxProxy
from testing.servers import HttpServer


def _export(**changes):
    values = {"networks": ("10.0.0.0/8", "2001:db8::/32"), "allow_loopback": False,
              "generated": "2026-11-29 08:00:00 UTC from database prod"}
    return EdgeExport(**{**values, **changes})


def _rules(text):
    return [line for line in text.splitlines() if line and not line.startswith("#")]


def test_nginx_allows_the_rules_then_denies_the_rest():
    text = render_nginx(_export())
    assert _rules(text) == ["allow 10.0.0.0/8;", "allow 2001:db8::/32;", "deny all;"]
    # IPv4 first, in address order, whatever order the rules came in: two exports diff cleanly.
    shuffled = _export(networks=("2001:db8::/32", "192.0.2.0/24", "10.0.0.0/8"))
    assert _rules(render_nginx(shuffled)) == [
        "allow 10.0.0.0/8;", "allow 192.0.2.0/24;", "allow 2001:db8::/32;", "deny all;"]
    assert "# Perimeter Security allowlist, generated 2026-11-29 08:00:00 UTC from database prod." in text
    assert "include /etc/nginx/odoo-allowlist.conf;" in text


def test_loopback_follows_the_policy_in_address_order_and_is_never_listed_twice():
    assert _rules(render_nginx(_export(allow_loopback=True))) == [
        "allow 10.0.0.0/8;", "allow 127.0.0.0/8;", "allow ::1/128;", "allow 2001:db8::/32;", "deny all;"]
    looped = _export(networks=("127.0.0.0/8",), allow_loopback=True)
    assert _rules(render_nginx(looped)) == ["allow 127.0.0.0/8;", "allow ::1/128;", "deny all;"]


def test_haproxy_pattern_file_lists_one_network_per_line():
    text = render_haproxy(_export(allow_loopback=True))
    assert _rules(text) == ["10.0.0.0/8", "127.0.0.0/8", "::1/128", "2001:db8::/32"]
    assert "acl odoo_allowed src -f /etc/haproxy/odoo-allowlist.lst" in text


def test_the_header_warns_of_expiry_mode_and_an_empty_list():
    text = render("nginx", _export(next_expiry="2026-12-01 00:00:00 UTC", mode="monitor"))
    assert "# A rule expires on 2026-12-01 00:00:00 UTC: export this file again then." in text
    assert "enforcement mode is 'monitor'" in text
    empty = render("haproxy", _export(networks=()))
    assert "# The allowlist is EMPTY: this file refuses every client." in empty
    assert _rules(empty) == []
    with pytest.raises(ValueError, match="'apache' is not an edge format"):
        render("apache", _export())


def _get(port, source):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=(source, 0))
    try:
        connection.request("GET", "/web/login")
        return connection.getresponse().status
    finally:
        connection.close()


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx-light)")
def test_a_real_nginx_enforces_the_exported_file():
    """nginx in front of a stand-in for Odoo: the allowlisted client goes through, the other never reaches it."""
    allowlist = render_nginx(_export(networks=("127.0.0.1/32", "2001:db8::/32")))
    with HttpServer() as odoo, NginxProxy(allowlist, odoo.port) as nginx:
        assert _get(nginx.port, "127.0.0.1") == 200
        assert _get(nginx.port, "127.0.0.2") == 403
    assert odoo.requests == [("GET", "/web/login")], "only the allowlisted request reached the backend"


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx-light)")
def test_nginx_checks_what_it_is_given():
    with pytest.raises(RuntimeError, match="nginx refused the configuration"), \
            NginxProxy("allow 10.0.0.0/33;\n", 9):
        pass


# -- blocklist and sync --------------------------------------------------------------------------


def test_nginx_denies_the_blocklist_before_allowing_the_rules():
    text = render_nginx(_export(blocked=("10.9.0.0/16", "192.0.2.7/32")))
    assert _rules(text) == ["deny 10.9.0.0/16;", "deny 192.0.2.7/32;", "allow 10.0.0.0/8;", "allow 2001:db8::/32;",
                            "deny all;"]


def test_when_the_allowlist_is_not_enforced_only_the_blocklist_is():
    export = _export(blocked=("192.0.2.7/32",), refuse_others=False, mode="off")
    assert _rules(render_nginx(export)) == ["deny 192.0.2.7/32;"]
    assert _rules(render_haproxy(export)) == ["0.0.0.0/0", "::/0"]
    assert "the allowlist is not enforced" in render_nginx(export)


def test_haproxy_blocklist_is_its_own_pattern_file():
    text = render("haproxy-blocklist", _export(blocked=("2001:db8::/64", "192.0.2.7/32")))
    assert _rules(text) == ["192.0.2.7/32", "2001:db8::/64"]
    assert "acl odoo_blocked src -f /etc/haproxy/odoo-blocklist.lst" in text


def test_loopback_blocks_are_left_out_while_the_policy_admits_loopback():
    export = _export(blocked=("127.0.0.2/32", "192.0.2.7/32"), allow_loopback=True)
    assert _rules(render_nginx(export))[:1] == ["deny 192.0.2.7/32;"]
    assert "deny 127.0.0.2/32;" in render_nginx(_export(blocked=("127.0.0.2/32",)))


@pytest.mark.skipif(NGINX is None, reason="nginx is not installed (apt-get install nginx-light)")
def test_a_real_nginx_refuses_a_blocked_client_inside_an_allowed_network():
    rules = render_nginx(_export(networks=("127.0.0.0/8",), blocked=("127.0.0.2/32",)))
    with HttpServer() as odoo, NginxProxy(rules, odoo.port) as nginx:
        assert _get(nginx.port, "127.0.0.2") == 403
        assert _get(nginx.port, "127.0.0.3") == 200
