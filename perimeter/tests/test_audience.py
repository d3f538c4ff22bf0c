"""The audience engine: which networks a user has, and whether a client is admitted for a user."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from perimeter.audience import ANYWHERE, Audience, Member, judge, judge_anonymous, outside, reach
from perimeter.client import resolve_client
from perimeter.fence import Fence
from perimeter.networks import NetworkSet
from perimeter.policy import ALLOW, DENY, Policy, RequestFacts, decide

OFFICE, VPN, SHOP, PARTNER = "192.0.2.0/26", "198.51.100.0/24", "192.0.2.128/28", "203.0.113.0/24"
# Rule ids, as perimeter.allowlist records.
R_OFFICE, R_VPN, R_SHOP, R_PARTNER = 1, 2, 3, 4
RULES = [(R_OFFICE, OFFICE, False), (R_VPN, VPN, False), (R_SHOP, SHOP, False), (R_PARTNER, PARTNER, True)]
# Groups: 10 Internal User, 11 Access Rights (implies 10), 12 Settings (implies 11), 13 Cashier (implies 10),
# 14 Portal.
USER, RIGHTS, SETTINGS, CASHIER, PORTAL = 10, 11, 12, 13, 14
IMPLIED = {RIGHTS: [USER], SETTINGS: [RIGHTS], CASHIER: [USER]}


def audience(scope="all", groups=None, rules=RULES):
    group_rules = {USER: [R_OFFICE, R_VPN], SETTINGS: [R_VPN]} if groups is None else groups
    return Audience(scope, rules, group_rules, IMPLIED)


def facts(peer, path="/odoo", **headers):
    environ = {"REMOTE_ADDR": peer, "wsgi.url_scheme": "http", "REQUEST_METHOD": "GET", "PATH_INFO": path}
    environ.update({f"HTTP_{name.upper()}": value for name, value in headers.items()})
    return RequestFacts.from_environ(environ)


def policy(aud, mode="enforce", **values):
    allowlist = NetworkSet([network for _id, network, _reserved in RULES])
    return Policy(mode=mode, allowlist=allowlist, scope=aud.scope, audience=aud,
                  trusted_proxies=NetworkSet(["10.0.0.1"]), **values)


ADMIN = Member(2, "admin", True, (), (SETTINGS,))  # Odoo stores implied groups too; the closure does not need it
EMPLOYEE = Member(5, "emma", True, (), (USER,))
CASHIER_USER = Member(6, "carl", True, (), (CASHIER,))
CASHIER_OWN = Member(7, "cora", True, (R_SHOP,), (USER,))
INTEGRATION = Member(8, "bot", True, (R_PARTNER,), (USER,))
PORTAL_USER = Member(9, "paula", False, (), (PORTAL,))


def admitted(aud, member, address):
    return judge(facts(address), policy(aud), aud.holding(member)).allowed


@pytest.mark.parametrize("scope", ["all", "internal"])
def test_scenario_a_administrators_only_from_the_vpn(scope):
    aud = audience(scope)
    holding = aud.holding(ADMIN)
    assert (holding.source, holding.group_ids) == ("groups", (SETTINGS,)), "the Settings group decides"
    assert admitted(aud, ADMIN, "198.51.100.7")
    assert not admitted(aud, ADMIN, "192.0.2.7"), "not from the office"
    assert admitted(aud, EMPLOYEE, "192.0.2.7") and admitted(aud, EMPLOYEE, "198.51.100.7")
    assert not admitted(aud, EMPLOYEE, "192.0.2.130"), "the shop is not an employee network"


@pytest.mark.parametrize("scope", ["all", "internal"])
def test_scenario_b_cashier_only_from_the_shop(scope):
    aud = audience(scope, groups={USER: [R_OFFICE, R_VPN], CASHIER: [R_SHOP]})
    for cashier in (CASHIER_USER, CASHIER_OWN):  # through a group, or named on the user
        assert admitted(aud, cashier, "192.0.2.130")
        assert not admitted(aud, cashier, "192.0.2.7")
        assert not admitted(aud, cashier, "198.51.100.7")


@pytest.mark.parametrize("scope", ["all", "internal"])
def test_scenario_c_a_reserved_network_admits_nobody_else(scope):
    aud = audience(scope, groups={})
    assert admitted(aud, INTEGRATION, "203.0.113.5")
    assert not admitted(aud, INTEGRATION, "192.0.2.7")
    # An employee with no networks of any kind falls back to the allowlist, without the reserved rule.
    assert aud.holding(EMPLOYEE).source == "allowlist"
    assert admitted(aud, EMPLOYEE, "192.0.2.7")
    assert not admitted(aud, EMPLOYEE, "203.0.113.5")
    assert "203.0.113.5" not in aud.site and "203.0.113.5" in aud.reserved


def test_scope_all_anonymous_on_a_reserved_network_only_at_the_doors():
    aud = audience("all", groups={})
    pol = policy(aud)
    # The site gate lets the partner through (so that its credentials can be presented) ...
    assert decide(facts("203.0.113.5"), pol).allowed
    # ... but an anonymous request there is refused like any outsider's.
    verdict = judge_anonymous(facts("203.0.113.5"), pol, aud)
    assert (verdict.action, verdict.reason, verdict.client_ip) == (DENY, "not_allowlisted", "203.0.113.5")
    assert judge_anonymous(facts("192.0.2.7"), pol, aud).allowed
    assert judge_anonymous(facts("203.0.113.5"), policy(audience("internal", groups={})),
                           audience("internal", groups={})).allowed


def test_scope_internal_opens_the_public_side_and_holds_internal_users():
    aud = audience("internal")
    pol = policy(aud)
    assert decide(facts("233.252.0.1"), pol).allowed, "anybody reaches the public side"
    assert decide(facts("233.252.0.1"), policy(audience("all"))).action == DENY
    assert not aud.holding(PORTAL_USER).held, "portal users are not held in scope internal"
    assert admitted(aud, PORTAL_USER, "233.252.0.1")
    assert aud.holding(EMPLOYEE).held and not admitted(aud, EMPLOYEE, "233.252.0.1")
    # A portal user named on networks is held, in both scopes.
    named = Member(9, "paula", False, (R_SHOP,), (PORTAL,))
    assert aud.holding(named).held and not admitted(aud, named, "233.252.0.1")
    assert audience("all").holding(PORTAL_USER).held


def test_named_but_expired_networks_admit_nobody():
    aud = audience(groups={}, rules=[(R_OFFICE, OFFICE, False)])  # the shop rule is not in force
    holding = aud.holding(CASHIER_OWN)
    assert holding.source == "user" and not holding.networks
    assert not admitted(aud, CASHIER_OWN, "192.0.2.7"), "never widened to the allowlist"


def test_unrelated_groups_add_up():
    aud = audience(groups={CASHIER: [R_SHOP], SETTINGS: [R_VPN]})
    both = Member(11, "boss", True, (), (CASHIER, SETTINGS))
    assert set(aud.holding(both).group_ids) == {CASHIER, SETTINGS}
    assert admitted(aud, both, "192.0.2.130") and admitted(aud, both, "198.51.100.7")


def test_groups_implying_each_other_both_count():
    aud = Audience("all", RULES, {20: [R_SHOP], 21: [R_VPN]}, {20: [21], 21: [20]})
    assert set(aud.deciding_groups([20])) == {20, 21}


def test_monitor_reports_and_blocks_nothing():
    aud = audience()
    verdict = judge(facts("192.0.2.7"), policy(aud, mode="monitor"), aud.holding(ADMIN))
    assert (verdict.action, verdict.reason, verdict.report, verdict.blocked) == (ALLOW, "user_network", True, False)
    assert not judge(facts("192.0.2.7"), policy(aud, mode="off"), aud.holding(ADMIN)).report


def test_loopback_exempt_and_break_glass_keep_their_meaning():
    aud = audience()
    holding = aud.holding(ADMIN)
    assert judge(facts("127.0.0.1"), policy(aud), holding).allowed
    assert not judge(facts("127.0.0.1"), policy(aud, allow_loopback=False), holding).allowed
    assert judge(facts("192.0.2.7", path="/web/health"), policy(aud, exempt_paths=("/web/health",)), holding).allowed
    assert judge(facts("192.0.2.7"), policy(aud, disabled=True), holding).allowed


def test_through_a_trusted_proxy_the_forwarded_client_is_judged():
    aud = audience()
    holding = aud.holding(ADMIN)
    assert judge(facts("10.0.0.1", x_forwarded_for="198.51.100.7"), policy(aud), holding).allowed
    refused = judge(facts("10.0.0.1", x_forwarded_for="192.0.2.7"), policy(aud), holding)
    assert (refused.action, refused.client_ip, refused.client.peer) == (DENY, "192.0.2.7", "10.0.0.1")
    # Headers from a peer that is not a trusted proxy are not believed.
    assert not judge(facts("192.0.2.7", x_forwarded_for="198.51.100.7"), policy(aud), holding).allowed
    # An unreadable header of a trusted proxy: the client is unknown, refused.
    assert not judge(facts("10.0.0.1", x_forwarded_for="not-an-address"), policy(aud), holding).allowed


def test_the_cache_belongs_to_the_audience():
    aud = audience()
    assert aud.cached(ADMIN.uid) is None
    holding = aud.remember(ADMIN)
    assert aud.cached(ADMIN.uid) is holding
    assert audience().cached(ADMIN.uid) is None, "a new policy starts empty"


def test_unknown_scope_is_refused():
    with pytest.raises(ValueError, match="'everyone' is not one of all, internal"):
        Audience("everyone")


def test_the_fence_and_the_users_share_one_rule():
    fence = Fence.build([(["192.0.2.0/24"], [5], [])])
    client = resolve_client({"REMOTE_ADDR": "198.51.100.7"}, NetworkSet())
    assert fence.refused_address(5, 0, client) == outside(client, [NetworkSet(["192.0.2.0/24"])]) == "198.51.100.7"
    assert outside(None, [NetworkSet(["192.0.2.0/24"])]) == "unknown"
    assert outside(None, []) is None


@given(st.ip_addresses(v=4).map(str), st.booleans())
def test_outside_is_membership_in_every_set(address, wide):
    sets = [NetworkSet(["0.0.0.0/0"])] + ([] if wide else [NetworkSet([OFFICE])])
    client = resolve_client({"REMOTE_ADDR": address}, NetworkSet())
    assert (outside(client, sets) is None) == all(address in networks for networks in sets)


def test_nothing_to_judge_when_the_site_gate_already_says_it_all():
    plain = Audience("all", [(R_OFFICE, OFFICE, False)], {}, {})
    assert not plain.narrows(plain.holding(EMPLOYEE)), "scope all, no networks, no reserved rule"
    assert plain.narrows(plain.holding(CASHIER_OWN)), "own networks narrow"
    assert audience("all", groups={}).narrows(audience("all", groups={}).holding(EMPLOYEE)), "a reserved rule"
    assert Audience("internal", [(R_OFFICE, OFFICE, False)]).narrows(plain.holding(EMPLOYEE))
    assert not plain.narrows(None)


def test_audiences_compiled_from_the_same_state_are_equal_whatever_their_cache():
    # The periodic verification compares a policy read again with the one in force: equal means unchanged.
    first = Audience("internal", [(1, "10.0.0.0/8", False)], {7: [1]}, {7: [3]})
    second = Audience("internal", [(1, "10.0.0.0/8", False)], {7: [1]}, {7: [3]})
    first.remember(Member(5, "ann", True, (), (7,)))
    assert first == second and hash(first) == hash(second)
    assert first != Audience("internal", [(1, "10.0.0.0/8", True)], {7: [1]}, {7: [3]})
    assert first != Audience("all", [(1, "10.0.0.0/8", False)], {7: [1]}, {7: [3]})


@pytest.mark.parametrize("scope", ["all", "internal"])
def test_edge_users_come_from_the_trusted_proxies_unless_networks_are_named(scope):
    sync = Member(20, "perimeter-edge-sync", False, (), (99,))  # a share user of a group naming no networks
    aud = Audience(scope, RULES, {USER: [R_OFFICE, R_VPN]}, IMPLIED, edge_users=[20], proxies=["10.0.0.1/32"])
    holding = aud.holding(sync)
    assert (holding.held, holding.source, holding.networks.networks) == (True, "proxies", ("10.0.0.1/32",))
    assert aud.narrows(holding)
    assert admitted(aud, sync, "10.0.0.1")
    assert not admitted(aud, sync, "192.0.2.7"), "the office is no proxy"
    assert not judge(facts("10.0.0.1", x_forwarded_for="192.0.2.7"), policy(aud), holding).allowed, \
        "a client behind the proxy is not the proxy"
    assert aud.holding(Member(20, "perimeter-edge-sync", False, (R_SHOP,), (99,))).source == "user"
    assert aud.holding(Member(20, "perimeter-edge-sync", False, (), (USER,))).source == "groups"
    assert aud.holding(PORTAL_USER).source == "allowlist", "nobody else"
    assert Audience(scope, RULES, edge_users=[20], proxies=[]).holding(sync).networks.networks == (), \
        "no trusted proxy: refused everywhere"
    assert aud != Audience(scope, RULES, {USER: [R_OFFICE, R_VPN]}, IMPLIED, edge_users=[20], proxies=["10.0.0.2/32"])


# -- reach: could a user get in from anywhere at all? -------------------------------------------


def test_reach_follows_the_networks_the_gate_and_the_blocklist():
    aud = audience("all")
    holding = aud.holding(ADMIN)  # the Settings group: the VPN
    assert reach(policy(aud), holding) == ("198.51.100.0", False)
    blocked = policy(aud, blocklist=NetworkSet([VPN]))
    assert reach(blocked, holding) == (None, True), "every address of the VPN is blocked"
    half = policy(aud, blocklist=NetworkSet(["198.51.100.0/25"]))
    assert reach(half, holding) == ("198.51.100.128", False)
    assert judge(facts("198.51.100.128"), half, holding).allowed and decide(facts("198.51.100.128"), half).allowed
    # Networks all expired or archived: nowhere.
    none_in_force = Audience("all", [(R_OFFICE, OFFICE, False)], {SETTINGS: [R_VPN]}, IMPLIED)
    assert reach(policy(none_in_force), none_in_force.holding(ADMIN)) == (None, False)


def test_reach_counts_only_unreserved_rules_for_those_without_networks():
    aud = Audience("all", [(R_OFFICE, OFFICE, True), (R_PARTNER, PARTNER, True)], {}, IMPLIED)
    holding = aud.holding(ADMIN)
    assert holding.source == "allowlist"
    assert reach(policy(aud), holding) == (None, False), "only reserved rules: the administrator is nowhere"
    assert not judge(facts("192.0.2.7"), policy(aud), holding).allowed


def test_reach_in_scope_internal_ignores_the_site_gate():
    aud = audience("internal")
    gateless = Policy(mode="enforce", allowlist=NetworkSet(), scope="internal", audience=aud)
    assert reach(gateless, aud.holding(ADMIN)) == ("198.51.100.0", False)
    unheld = Audience("internal", [], {}, IMPLIED)
    assert reach(Policy(mode="enforce", scope="internal", audience=unheld), unheld.holding(ADMIN))[0] is None, \
        "an internal user with no network at all is refused everywhere"


@pytest.mark.parametrize("mode", ["off", "monitor"])
def test_reach_anywhere_when_nothing_is_refused(mode):
    aud = Audience("all", [], {SETTINGS: [R_VPN]}, IMPLIED)
    assert reach(policy(aud, mode=mode), aud.holding(ADMIN)) == (ANYWHERE, False)
    assert reach(policy(aud, disabled=True), aud.holding(ADMIN)) == (ANYWHERE, False)


def test_reach_does_not_count_loopback():
    aud = Audience("all", [], {}, IMPLIED)
    empty = Policy(mode="enforce", allowlist=NetworkSet(), allow_loopback=True, audience=aud)
    assert reach(empty, aud.holding(ADMIN)) == (None, False)
