import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perimeter.networks import NetworkSet
from perimeter.policy import (
    DENY,
    ORIGINAL_CONNECTION,
    REDIRECT,
    Decider,
    Policy,
    RequestFacts,
    break_glass,
    decide,
    https_origin,
    is_exempt,
    server_policy,
)
from perimeter.settings import canonical_text, load_settings, parse_setting

ALLOWED = NetworkSet(["192.0.2.0/24", "2001:db8::/32"])
PROXY = NetworkSet(["10.0.0.1"])


def facts(*, peer="203.0.113.9", method="GET", path="/odoo", scheme="http", host="erp.example.com", query="",
          **headers):
    environ = {"REMOTE_ADDR": peer, "wsgi.url_scheme": scheme, "REQUEST_METHOD": method, "PATH_INFO": path,
               "QUERY_STRING": query, "HTTP_HOST": host}
    environ.update({f"HTTP_{name.upper()}": value for name, value in headers.items()})
    return RequestFacts.from_environ(environ)


def policy(**overrides):
    values = {"mode": "enforce", "allowlist": ALLOWED, "trusted_proxies": PROXY, "https_origin": "erp.example.com"}
    values.update(overrides)
    return Policy(**values)


def test_off_allows_everything_and_reports_nothing():
    verdict = decide(facts(), policy(mode="off"))
    assert verdict.allowed and not verdict.report


def test_enforce_denies_outsiders_and_allows_the_allowlist():
    denied = decide(facts(), policy())
    assert (denied.action, denied.reason, denied.blocked, denied.report) == (DENY, "not_allowlisted", True, True)
    assert denied.client_ip == "203.0.113.9"
    assert decide(facts(peer="192.0.2.44"), policy()).allowed
    assert decide(facts(peer="2001:db8::5"), policy()).allowed
    assert decide(facts(peer="::ffff:192.0.2.44"), policy()).allowed


def test_monitor_allows_but_reports():
    verdict = decide(facts(), policy(mode="monitor"))
    assert verdict.allowed and verdict.report and not verdict.blocked
    assert verdict.reason == "not_allowlisted"


def test_loopback_rule():
    assert decide(facts(peer="127.0.0.1"), policy()).allowed
    assert decide(facts(peer="::1"), policy()).allowed
    assert decide(facts(peer="127.0.0.1"), policy(allow_loopback=False)).action == DENY
    # A loopback peer relaying someone else's request is not "local".
    local_proxy = policy(trusted_proxies=NetworkSet(["127.0.0.1"]))
    assert decide(facts(peer="127.0.0.1", x_forwarded_for="203.0.113.9"), local_proxy).action == DENY
    assert decide(facts(peer="127.0.0.1", x_forwarded_for="192.0.2.9"), local_proxy).allowed


def test_spoofed_headers_from_an_untrusted_peer_are_refused_with_that_reason():
    verdict = decide(facts(x_forwarded_for="192.0.2.44"), policy())
    assert (verdict.action, verdict.reason, verdict.client_ip) == (DENY, "untrusted_proxy_headers", "203.0.113.9")
    # An allowlisted client sending proxy headers passes, and is reported.
    verdict = decide(facts(peer="192.0.2.44", x_forwarded_for="198.51.100.1"), policy())
    assert verdict.allowed and verdict.report and verdict.reason == "untrusted_proxy_headers"


def test_trusted_proxy_every_candidate_must_be_allowed():
    assert decide(facts(peer="10.0.0.1", x_forwarded_for="192.0.2.44"), policy()).allowed
    forged = decide(facts(peer="10.0.0.1", x_forwarded_for="203.0.113.9", forwarded="for=192.0.2.44"), policy())
    assert forged.action == DENY and forged.client_ip == "203.0.113.9"
    garbage = decide(facts(peer="10.0.0.1", x_forwarded_for="garbage"), policy())
    assert garbage.action == DENY


def test_unreadable_proxy_headers_refuse_even_when_an_allowed_address_survives():
    proxies = NetworkSet(["10.0.0.0/8"])
    too_deep = ", ".join(["192.0.2.44"] + ["10.0.0.1"] * 30)  # more hops than any real chain
    request = facts(peer="10.0.0.1", x_forwarded_for=too_deep)
    verdict = decide(request, policy(trusted_proxies=proxies))
    assert verdict.client.malformed and verdict.action == DENY
    monitored = decide(request, policy(trusted_proxies=proxies, mode="monitor"))
    assert monitored.allowed and monitored.report


def test_exempt_paths():
    exempt = policy(exempt_paths=("/web/health", "/payment/webhook"))
    assert decide(facts(path="/web/health"), exempt).allowed
    assert decide(facts(path="/payment/webhook/stripe"), exempt).allowed
    for sneaky in ("/web/healthz", "/web/health/../login", "/web/health/./x", "/payment/webhookX", "//web/health"):
        assert decide(facts(path=sneaky), exempt).action == DENY, sneaky


def test_https_redirect_for_get_and_head_refusal_otherwise():
    https = policy(require_https=True)
    inside = {"peer": "192.0.2.44"}
    redirect = decide(facts(**inside, path="/odoo/action-1", query="a=1&b=2"), https)
    assert redirect.action == REDIRECT
    assert redirect.location == "https://erp.example.com/odoo/action-1?a=1&b=2"
    assert decide(facts(**inside, method="HEAD"), https).action == REDIRECT
    post = decide(facts(**inside, method="POST", path="/web/dataset/call_kw"), https)
    assert (post.action, post.reason, post.blocked) == (DENY, "not_https", True)


def test_https_requests_get_hsts_and_secure_cookie():
    verdict = decide(facts(peer="192.0.2.44", scheme="https"), policy(require_https=True, hsts_max_age=600))
    assert verdict.allowed and verdict.hsts == 600 and verdict.secure_cookie
    via_proxy = decide(facts(peer="10.0.0.1", x_forwarded_for="192.0.2.44", x_forwarded_proto="https"),
                       policy(require_https=True))
    assert via_proxy.allowed and via_proxy.hsts == 31536000
    assert decide(facts(peer="192.0.2.44", scheme="https"), policy(require_https=True, hsts_max_age=0)).hsts == 0
    assert decide(facts(peer="192.0.2.44", scheme="https"), policy()).hsts == 0


def test_https_applies_even_when_mode_is_off_but_not_to_loopback():
    verdict = decide(facts(), policy(mode="off", require_https=True))
    assert verdict.action == REDIRECT
    assert decide(facts(peer="127.0.0.1", method="POST"), policy(require_https=True)).allowed


def test_outsiders_are_refused_not_redirected():
    assert decide(facts(), policy(require_https=True)).action == DENY


@pytest.mark.parametrize("host", ["", "evil.com", "evil.com/path", "a b", "x@evil.com", "evil.com:99999999",
                                  "\r\nSet-Cookie:x", "erp.example.com:8069"])
def test_redirect_goes_to_the_canonical_origin_whatever_the_host_header(host):
    verdict = decide(facts(peer="192.0.2.44", host=host), policy(require_https=True))
    assert verdict.action == REDIRECT and verdict.location == "https://erp.example.com/odoo"


def test_without_a_canonical_origin_plain_http_is_refused_not_redirected():
    verdict = decide(facts(peer="192.0.2.44", host="erp.example.com"), policy(require_https=True, https_origin=""))
    assert (verdict.action, verdict.reason) == (DENY, "not_https")


@pytest.mark.parametrize(("base_url", "origin"), [
    ("https://erp.example.com", "erp.example.com"),
    ("https://erp.example.com:443/", "erp.example.com"),
    ("https://erp.example.com:8443", "erp.example.com:8443"),
    ("http://erp.example.com:8069", "erp.example.com"),  # that port serves plain HTTP: never redirect there
    ("http://[2001:db8::1]:8069/odoo", "[2001:db8::1]"),
    ("", ""), ("not a url", ""), ("https://exa mple.com", ""), ("https://x:99999", ""),
])
def test_https_origin_from_web_base_url(base_url, origin):
    assert https_origin(base_url) == origin


def test_redirect_goes_only_to_a_canonical_host():
    """A trusted proxy that forwards the client's Host (X-Forwarded-Host: $host) cannot send anyone elsewhere."""
    https = policy(require_https=True, https_origin="erp.example.com:8443")
    via_proxy = {"peer": "10.0.0.1", "x_forwarded_for": "192.0.2.44", "host": "127.0.0.1:8069"}
    for forwarded in ("evil.example", "shop.example.com", "evil.com/x", "erp.example.com.evil.example"):
        assert decide(facts(**via_proxy, x_forwarded_host=forwarded), https).location == \
            "https://erp.example.com:8443/odoo", forwarded
    # The canonical host, whatever port the plain-HTTP request named: the canonical entry's.
    assert decide(facts(**via_proxy, x_forwarded_host="ERP.example.com:80"), https).location == \
        "https://erp.example.com:8443/odoo"
    # From anyone else, X-Forwarded-Host is not believed.
    spoofed = decide(facts(peer="192.0.2.44", x_forwarded_host="evil.com"), https)
    assert spoofed.location == "https://erp.example.com:8443/odoo"


def test_canonical_hosts_setting():
    values, problems = load_settings({"perimeter_security.require_https": "True",
                                      "perimeter_security.trusted_proxies": "10.0.0.1",
                                      "perimeter_security.canonical_hosts": "erp.example.com\nShop.Example.com:8443"})
    assert not problems
    https = Policy.from_settings(values, ALLOWED, https_origin="localhost")  # web.base.url's host: not listed
    assert https.canonical_hosts == ("erp.example.com", "shop.example.com:8443")
    via_proxy = {"peer": "10.0.0.1", "x_forwarded_for": "192.0.2.44", "host": "127.0.0.1:8069"}
    assert decide(facts(**via_proxy, x_forwarded_host="shop.example.com"), https).location == \
        "https://shop.example.com:8443/odoo"
    assert decide(facts(peer="192.0.2.44", host="shop.example.com"), https).location == \
        "https://shop.example.com:8443/odoo", "a canonical Host header is kept, with its https port"
    for host in ("evil.example", "localhost", "localhost:8069"):
        assert decide(facts(peer="192.0.2.44", host=host), https).location == "https://erp.example.com/odoo", host
    # Empty: web.base.url's host alone.
    values, _problems = load_settings({"perimeter_security.require_https": "True"})
    default = Policy.from_settings(values, ALLOWED, https_origin="erp.example.com")
    assert default.canonical_hosts == ("erp.example.com",)
    assert decide(facts(peer="192.0.2.44", host="shop.example.com"), default).location == \
        "https://erp.example.com/odoo"


@pytest.mark.parametrize("text", ["https://erp.example.com", "erp.example.com/odoo", "*.example.com", "a b",
                                  "erp.example.com:0", "erp.example.com:65536", "[2001:db8::zz]", "-erp.example.com",
                                  "erp..example.com", "erp.example.com\nevil@example.com"])
def test_canonical_hosts_refuses_what_is_not_a_host_name(text):
    with pytest.raises(ValueError, match="not a host name"):
        parse_setting("canonical_hosts", text)


def test_canonical_hosts_canonical_text():
    assert canonical_text("canonical_hosts", " ERP.example.com:443 \n# a comment\n\n[2001:DB8::1]:8443, x.example") == \
        "erp.example.com\n[2001:db8::1]:8443\nx.example"
    assert canonical_text("canonical_hosts", "") == ""


def test_hsts_on_every_https_answer_refusals_and_exempt_paths_included():
    https = policy(require_https=True, hsts_max_age=600, exempt_paths=("/web/health",))
    refused = decide(facts(scheme="https"), https)
    assert refused.action == DENY and refused.hsts == 600
    exempt = decide(facts(scheme="https", path="/web/health"), https)
    assert exempt.allowed and exempt.hsts == 600
    assert decide(facts(path="/web/health"), https).hsts == 0, "never over plain HTTP"
    assert decide(facts(scheme="https"), policy(exempt_paths=("/web/health",))).hsts == 0, "only with Require HTTPS"


def test_break_glass_disables_everything():
    verdict = decide(facts(method="POST"), policy(require_https=True, disabled=True))
    assert verdict.allowed and not verdict.report


def test_policy_from_stored_settings():
    built = Policy.from_stored(
        {"perimeter_security.mode": "monitor", "perimeter_security.exempt_paths": "/hook/\n/web/health"}, ALLOWED
    )
    assert built.mode == "monitor" and built.exempt_paths == ("/hook", "/web/health")
    assert is_exempt("/hook/x", built.exempt_paths)


@settings(max_examples=400, deadline=None)
@given(
    peer=st.one_of(st.ip_addresses(v=4).map(str), st.ip_addresses(v=6).map(str)),
    headers=st.dictionaries(st.sampled_from(["x_forwarded_for", "forwarded", "x_real_ip", "x_forwarded_proto"]),
                            st.text(max_size=80)),
    path=st.text(min_size=1, max_size=40).map(lambda text: "/" + text),
    method=st.sampled_from(["GET", "POST", "HEAD", "PUT", "OPTIONS", "PROPFIND"]),
)
def test_outsiders_never_get_in(peer, headers, path, method):
    """In enforce mode with no exemption, a peer outside the allowlist, not a proxy, not loopback, is refused."""
    strict = policy(allow_loopback=False, exempt_paths=())
    verdict = decide(facts(peer=peer, path=path, method=method, **headers), strict)
    if peer not in ALLOWED and peer not in PROXY:
        assert verdict.action == DENY


def test_odoo_proxy_mode_rewrite_is_undone():
    """With proxy_mode, ProxyFix rewrites REMOTE_ADDR from X-Forwarded-For; the real peer is kept aside
    (by guard/peer.py, under ORIGINAL_CONNECTION)."""
    environ = {
        "REMOTE_ADDR": "192.0.2.44",  # what ProxyFix believed from the header
        "HTTP_X_FORWARDED_FOR": "192.0.2.44",
        "HTTP_X_FORWARDED_HOST": "erp.example.com",
        "wsgi.url_scheme": "http",
        ORIGINAL_CONNECTION: {"REMOTE_ADDR": "203.0.113.9", "wsgi.url_scheme": "http"},
        "PATH_INFO": "/odoo",
    }
    verdict = decide(RequestFacts.from_environ(environ), policy())
    assert verdict.action == DENY and verdict.client.peer == "203.0.113.9"


@pytest.mark.parametrize(("path", "query", "location"), [
    ("/odoo/action-1", "a=1&b=%20x", "https://erp.example.com/odoo/action-1?a=1&b=%20x"),
    ("/web/x\r\nSet-Cookie: a=b", "", "https://erp.example.com/web/x%0D%0ASet-Cookie:%20a=b"),
    ("/caf\xc3\xa9", "q=\xc3\xa9", "https://erp.example.com/caf%C3%A9?q=%C3%A9"),  # WSGI latin-1 strings
    ("/a b<script>", "x=\"y\"", "https://erp.example.com/a%20b%3Cscript%3E?x=%22y%22"),
])
def test_redirect_location_is_percent_encoded(path, query, location):
    verdict = decide(facts(peer="192.0.2.44", path=path, query=query), policy(require_https=True))
    assert verdict.action == REDIRECT and verdict.location == location
    assert not any(c in verdict.location for c in "\r\n \"<>")


def test_server_policy_from_the_configuration_section():
    off, problems = server_policy({})
    assert off.mode == "off" and not off.active and not problems
    strict, problems = server_policy({"server_allowlist": "192.0.2.0/24, 2001:db8::/32", "trusted_proxies": "10.0.0.1",
                                      "allow_loopback": False})
    assert not problems and strict.mode == "enforce" and not strict.allow_loopback
    assert decide(facts(peer="192.0.2.9"), strict).allowed
    assert decide(facts(peer="10.0.0.1", x_forwarded_for="192.0.2.9"), strict).allowed
    assert decide(facts(peer="198.51.100.1"), strict).action == DENY
    assert decide(facts(peer="127.0.0.1"), strict).action == DENY
    # Present but empty: nobody but loopback.
    empty, problems = server_policy({"server_allowlist": ""})
    assert not problems and decide(facts(peer="192.0.2.9"), empty).action == DENY
    assert decide(facts(peer="127.0.0.1"), empty).allowed


def test_server_policy_fails_closed_and_names_bad_options():
    bad, problems = server_policy({"server_allowlist": "192.0.2.1/24", "trusted_proxies": "proxy.lan", "disable": True,
                                   "allow_loopback": "perhaps"})
    text = "\n".join(problems)
    assert "server_allowlist" in text and "did you mean '192.0.2.0/24'" in text
    assert "trusted_proxies" in text and "proxy.lan" in text
    assert "disable: unknown option, ignored (did you mean disabled?" in text and "allow_loopback" in text
    assert bad.mode == "enforce" and not bad.allowlist and not bad.trusted_proxies
    assert decide(facts(peer="192.0.2.9"), bad).action == DENY


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), ("True", True), ("yes", True), ("1", True), (False, False), ("False", False), ("", False),
    ("maybe", False), (None, False),
])
def test_break_glass_option(value, expected):
    assert break_glass({"disabled": value}) is expected
    assert server_policy({"disabled": value, "server_allowlist": ""})[0].disabled is expected
    assert bool(server_policy({"disabled": value})[1]) is (value == "maybe")


def environ_of(*, peer="203.0.113.9", method="GET", path="/odoo", scheme="http", host="erp.example.com", query="",
               orig=None, **headers):
    environ = {"REMOTE_ADDR": peer, "wsgi.url_scheme": scheme, "REQUEST_METHOD": method, "PATH_INFO": path,
               "QUERY_STRING": query, "HTTP_HOST": host}
    environ.update({f"HTTP_{name.upper()}": value for name, value in headers.items()})
    if orig:
        environ[ORIGINAL_CONNECTION] = orig
    return environ


def test_decider_remembers_only_what_cannot_depend_on_the_path():
    strict = policy(exempt_paths=("/hook",), require_https=True)
    decider = Decider(strict)
    # An outsider on an exempt path is let in there, and refused everywhere else: never remembered.
    assert decider(environ_of(path="/hook/x")).allowed
    assert decider(environ_of(path="/odoo")).action == DENY
    assert not decider._memo
    # An insider over plain HTTP is redirected (depends on the path): not remembered either.
    assert decider(environ_of(peer="192.0.2.44", path="/a")).location == "https://erp.example.com/a"
    assert decider(environ_of(peer="192.0.2.44", path="/b")).location == "https://erp.example.com/b"
    # Over HTTPS the insider is allowed whatever the path: remembered, and the same verdict comes back.
    first = decider(environ_of(peer="192.0.2.44", scheme="https", path="/a"))
    assert first.allowed and first.hsts and len(decider._memo) == 1
    assert decider(environ_of(peer="192.0.2.44", scheme="https", path="/other", method="POST")) is first
    # ProxyFix's rewrite is part of the key: a forged X-Forwarded-For cannot reuse the insider's verdict.
    forged = environ_of(peer="192.0.2.44", scheme="https", orig={"REMOTE_ADDR": "203.0.113.9"},
                        x_forwarded_for="192.0.2.44", x_forwarded_host="x")
    assert decider(forged).action == DENY


def test_decider_memo_is_bounded():
    decider = Decider(policy(mode="monitor"))
    for index in range(Decider.MEMO_SIZE + 10):
        decider(environ_of(peer=f"10.{index // 65536}.{index // 256 % 256}.{index % 256}"))
    assert len(decider._memo) <= Decider.MEMO_SIZE
    decider(environ_of(peer="192.0.2.44", x_forwarded_for="1" * 2000))
    assert all(len(str(key)) < 2000 for key in decider._memo)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.fixed_dictionaries({
    "peer": st.sampled_from(["192.0.2.44", "203.0.113.9", "10.0.0.1", "127.0.0.1", "::ffff:192.0.2.1"]),
    "scheme": st.sampled_from(["http", "https"]),
    "path": st.sampled_from(["/odoo", "/web/health", "/hook", "/hook/../odoo", "/x"]),
    "method": st.sampled_from(["GET", "POST", "HEAD"]),
    "headers": st.dictionaries(st.sampled_from(["x_forwarded_for", "forwarded", "x_forwarded_proto", "x_real_ip"]),
                               st.sampled_from(["192.0.2.44", "203.0.113.9", "for=192.0.2.44", "https", "garbage"]),
                               max_size=2),
}), max_size=12), st.sampled_from(["enforce", "monitor", "off"]), st.booleans(), st.booleans())
def test_decider_always_agrees_with_decide(requests, mode, require_https, allow_loopback):
    strict = policy(mode=mode, require_https=require_https, allow_loopback=allow_loopback,
                    exempt_paths=("/web/health", "/hook"))
    decider = Decider(strict)
    for request in requests:
        environ = environ_of(peer=request["peer"], scheme=request["scheme"], path=request["path"],
                             method=request["method"], **request["headers"])
        assert decider(environ) == decide(RequestFacts.from_environ(environ), strict)


def test_server_policy_can_require_https():
    section = {"require_https": "True"}
    https, problems = server_policy(section)
    assert not problems and https.active and https.mode == "off"
    plain = decide(facts(peer="198.51.100.1", path="/web/database/manager"), https)
    assert (plain.action, plain.reason) == (DENY, "not_https"), "no web.base.url speaks for the server: refused"
    proxied = {"peer": "10.0.0.1", "x_forwarded_for": "198.51.100.1", "path": "/web/database/manager"}
    # A forwarded host is no proof: without canonical_hosts, no redirect...
    forwarded = decide(facts(**proxied, x_forwarded_host="evil.example"),
                       server_policy({**section, "trusted_proxies": "10.0.0.1"})[0])
    assert (forwarded.action, forwarded.reason) == (DENY, "not_https")
    # ...with it, only to one of them.
    canonical, problems = server_policy({**section, "trusted_proxies": "10.0.0.1",
                                         "canonical_hosts": "erp.example.com\nadmin.example.com"})
    assert not problems
    for host, location in (("admin.example.com", "https://admin.example.com/web/database/manager"),
                           ("evil.example", "https://erp.example.com/web/database/manager")):
        assert decide(facts(**proxied, x_forwarded_host=host), canonical).location == location
    unreadable_hosts, problems = server_policy({**section, "canonical_hosts": "https://erp.example.com"})
    assert unreadable_hosts.canonical_hosts == () and "canonical_hosts" in problems[0]
    secure = decide(facts(peer="198.51.100.1", scheme="https"), https)
    assert secure.allowed and secure.hsts == 31536000
    assert decide(facts(peer="127.0.0.1"), https).allowed, "loopback scripts keep plain HTTP"
    unreadable, problems = server_policy({"require_https": "sometimes"})
    assert unreadable.require_https and "require_https" in problems[0], "fails closed"


# -- blocklist ---------------------------------------------------------------------------------


def test_a_blocked_client_is_refused_before_every_other_rule():
    blocked = policy(blocklist=NetworkSet(["192.0.2.7/32"]), exempt_paths=("/web/health",))
    for path in ("/odoo", "/web/health", "/web/static/x.png"):
        verdict = decide(facts(peer="192.0.2.7", path=path), blocked)
        assert (verdict.action, verdict.reason, verdict.client_ip, verdict.blocked) == (
            DENY, "blocklisted", "192.0.2.7", True), path
    # Its allowlisted neighbour is not affected.
    assert decide(facts(peer="192.0.2.8"), blocked).allowed


def test_the_blocklist_applies_to_every_candidate_address_behind_a_proxy():
    blocked = policy(blocklist=NetworkSet(["203.0.113.0/24"]), allowlist=NetworkSet(["0.0.0.0/0"]))
    verdict = decide(facts(peer="10.0.0.1", x_forwarded_for="203.0.113.5"), blocked)
    assert (verdict.action, verdict.client_ip) == (DENY, "203.0.113.5")
    # Both X-Forwarded-For and Forwarded are candidates: a forged one cannot hide the other.
    verdict = decide(facts(peer="10.0.0.1", x_forwarded_for="192.0.2.1", forwarded="for=203.0.113.5"), blocked)
    assert (verdict.action, verdict.client_ip) == (DENY, "203.0.113.5")


def test_monitor_reports_a_blocked_client_and_lets_it_through():
    verdict = decide(facts(peer="192.0.2.7"), policy(mode="monitor", blocklist=NetworkSet(["192.0.2.7"])))
    assert verdict.allowed and verdict.report and not verdict.blocked
    assert verdict.reason == "blocklisted"


def test_off_break_glass_and_allowed_loopback_ignore_the_blocklist():
    blocklist = NetworkSet(["192.0.2.0/24", "127.0.0.0/8"])
    assert not decide(facts(peer="192.0.2.7"), policy(mode="off", blocklist=blocklist)).report
    assert decide(facts(peer="192.0.2.7"), policy(blocklist=blocklist, disabled=True)).allowed
    assert decide(facts(peer="127.0.0.2"), policy(blocklist=blocklist, allow_loopback=True)).allowed
    verdict = decide(facts(peer="127.0.0.2"), policy(blocklist=blocklist, allow_loopback=False))
    assert verdict.reason == "blocklisted"


def test_a_blocked_client_is_never_remembered_as_allowed():
    decider = Decider(policy(mode="monitor", blocklist=NetworkSet(["192.0.2.7"])))
    environ = {"REMOTE_ADDR": "192.0.2.7", "PATH_INFO": "/odoo"}
    assert decider(environ).reason == "blocklisted"
    assert decider(environ).reason == "blocklisted"


def test_the_blocklist_refuses_in_scope_internal_too():
    # Scope internal lets every outsider reach the public side; the blocklist comes before it.
    blocked = policy(scope="internal", blocklist=NetworkSet(["192.0.2.7/32"]))
    assert (decide(facts(peer="192.0.2.7"), blocked).reason, decide(facts(peer="192.0.2.7"), blocked).action) == (
        "blocklisted", DENY)
    assert decide(facts(peer="192.0.2.8"), blocked).allowed
