"""Audiences: which networks each user may come from, and whether a client is admitted for a user.

Two scopes (``perimeter_security.scope``):

- ``all``: every request needs an allowlisted client (the site gate of
  ``policy.decide``); the networks of a user narrow it for that user.
- ``internal``: the site gate lets every client through to the public side
  (website, portal, login page, links in mail); internal users, and every
  credential of theirs (password, API key), are held to their networks.

The networks of a user (the rule, as the README states it):

1. the rules named on the user (``res.users.perimeter_allowlist_ids``), if any;
2. else the rules named on the user's groups (implied groups included) that
   name any, where a group implied by another of those groups gives way to
   it (the more specific group decides: administrators, whose Settings group
   implies Internal User, take the Settings group's networks);
3. else, for the users the adapter names as *edge users* (the edge sync
   user, whose API key the edge proxies use), the trusted proxies: that key is
   meant for the proxies' sync job only, in either scope;
4. else the allowlist: every rule in force that is not *reserved*.

A *reserved* rule (``perimeter.allowlist.reserved``, "only for the users and
groups that name it") admits nobody but them: it is not part of anybody's
fallback (4), and, in scope ``all``, a client that only reserved rules admit
reaches nothing anonymously but the doors where credentials are presented.
A named rule that is archived or expired still counts as named (the user is
held) but admits nobody: a user whose networks all expired is refused, never
widened to the whole allowlist.

Who is held: in scope ``all``, every user; in scope ``internal``, internal
users always, portal users only when networks are named for them (on the user
or a group). Loopback (when allowed), exempt paths, monitor and off keep
their meaning.

The one function that says whether a client is admitted for a user is
:func:`outside`; the connected-systems fence (``fence.py``) applies it too.
Nothing here imports Odoo.
"""

from dataclasses import dataclass

from .client import is_loopback, resolve_client
from .networks import NetworkSet, first_common_address
from .policy import ALLOW, DENY, Verdict, is_exempt
from .wording import _

# pylint: disable=prefer-env-translation  # no env in the engine: this _ is perimeter.wording's, not Odoo's

SCOPES = ("all", "internal")
USER_NETWORK = "user_network"  # the access-log reason of a user outside their networks
SOURCES = ("user", "groups", "proxies", "allowlist")
ANYWHERE = "*"  # what ``reach`` answers when the policy refuses nobody
_EVERYWHERE = NetworkSet(["0.0.0.0/0", "::/0"])


def outside(client, networks_list):
    """The client address that one of ``networks_list`` (``NetworkSet``s) refuses, or None when all admit it.

    A client is admitted for a user when every address it may be (the
    candidates of ``client.addresses``) is in every set the user is held to.
    ``client`` None (no request: cron, shell) or unreadable (``malformed``) is
    refused, returned as ``"unknown"`` or the unreadable token.
    """
    if not networks_list:
        return None
    if client is None:
        return "unknown"
    if client.malformed:
        return client.ip
    for networks in networks_list:
        for address in client.addresses:
            if address not in networks:
                return address
    return None


@dataclass(frozen=True, slots=True)
class Member:
    """What the database says about one user (read once per user and policy)."""

    uid: int
    login: str = ""
    internal: bool = True  # not a portal (share) user
    own: tuple = ()  # ids of the rules named on the user (in force or not)
    groups: tuple = ()  # ids of the user's groups


@dataclass(frozen=True, slots=True)
class Holding:
    """Where one user may come from."""

    uid: int
    login: str
    held: bool  # judged at all (else only the site gate applies)
    networks: NetworkSet
    source: str  # "user", "groups", "proxies" or "allowlist" (see SOURCES)
    group_ids: tuple = ()  # the groups whose networks apply (source "groups")


class Audience:
    """The compiled audience of one policy: rules, the networks of groups, and a per-user cache.

    Built with the policy snapshot and dropped with it, so its cache of
    holdings (per user id) is invalidated whenever rules, groups or users
    change. ``holding(member)`` is pure; the adapter fills the cache through
    ``remember`` after reading a member once.
    """

    __slots__ = ("_edge_users", "_group_rules", "_holdings", "_implied", "_key", "_networks", "proxies", "reserved",
                 "scope", "site")

    def __init__(self, scope="all", rules=(), group_rules=None, implied=None, *, edge_users=(), proxies=()):
        """``rules``: ``(id, network, reserved)`` of the rules in force; ``group_rules``: ``{group id: rule ids}``
        of the groups that name any rule (in force or not); ``implied``: ``{group id: directly implied ids}``;
        ``edge_users``: ids of the users held to ``proxies`` (the trusted proxies' networks) unless networks
        are named for them."""
        if scope not in SCOPES:
            raise ValueError(_("%(value)r is not one of %(choices)s", value=scope, choices=", ".join(SCOPES)))
        self.scope = scope
        rules = list(rules)
        self._networks = {rule_id: network for rule_id, network, _reserved in rules}
        self.site = NetworkSet(network for _id, network, reserved in rules if not reserved)
        self.reserved = NetworkSet(network for _id, network, reserved in rules if reserved)
        self._group_rules = {gid: frozenset(ids) for gid, ids in (group_rules or {}).items() if ids}
        self._implied = {gid: frozenset(ids) for gid, ids in (implied or {}).items()}
        self._edge_users = frozenset(edge_users)
        self.proxies = proxies if isinstance(proxies, NetworkSet) else NetworkSet(proxies)
        self._holdings = {}
        # What it was compiled from (not its cache): two audiences of the same database state are equal,
        # so that a policy read again from an unchanged database equals the one in force.
        self._key = (scope, frozenset(rules), frozenset(self._group_rules.items()),
                     frozenset(self._implied.items()), self._edge_users, self.proxies)

    def __eq__(self, other):
        return isinstance(other, Audience) and self._key == other._key

    def __hash__(self):
        return hash(self._key)

    # -- the per-user cache --------------------------------------------------------------------

    def cached(self, uid):
        return self._holdings.get(uid)

    def remember(self, member):
        """Compute, keep and return the holding of ``member``."""
        holding = self.holding(member)
        self._holdings[member.uid] = holding
        return holding

    # -- the rule ------------------------------------------------------------------------------

    def _closure(self, group_ids):
        seen, stack = set(), list(group_ids)
        while stack:
            gid = stack.pop()
            if gid in seen:
                continue
            seen.add(gid)
            stack.extend(self._implied.get(gid, ()))
        return seen

    def deciding_groups(self, group_ids):
        """The groups whose networks apply to a member of ``group_ids``, most specific first by id."""
        named = [gid for gid in self._closure(group_ids) if gid in self._group_rules]
        deciding = []
        for gid in named:
            # Dropped when another named group implies it without being implied by it.
            if not any(other != gid and gid in self._closure([other]) and other not in self._closure([gid])
                       for other in named):
                deciding.append(gid)
        return tuple(sorted(deciding))

    def holding(self, member):
        """The :class:`Holding` of ``member`` under this audience's rule."""
        if member.own:
            rule_ids, source, groups = member.own, "user", ()
        else:
            groups = self.deciding_groups(member.groups)
            rule_ids = [rule_id for gid in groups for rule_id in self._group_rules[gid]]
            source = "groups" if groups else "proxies" if member.uid in self._edge_users else "allowlist"
        if source == "allowlist":
            networks = self.site
        elif source == "proxies":
            networks = self.proxies
        else:
            networks = NetworkSet(self._networks[rule_id] for rule_id in dict.fromkeys(rule_ids)
                                  if rule_id in self._networks)
        held = self.scope == "all" or member.internal or source != "allowlist"
        return Holding(member.uid, member.login, held, networks, source, groups)

    def narrows(self, holding):
        """Whether judging ``holding``'s user can refuse what the site gate admitted.

        In scope ``all`` with no reserved rule, a user with neither own nor
        group networks is held to exactly the site allowlist, which every
        request has already passed: nothing to judge (and nothing to cost).
        """
        if holding is None or not holding.held:
            return False
        return not (self.scope == "all" and holding.source == "allowlist" and not self.reserved)

    def rule_sets(self, rule_id_sets):
        """One ``NetworkSet`` per collection of rule ids (the rules not in force are left out)."""
        return [NetworkSet(self._networks[rule_id] for rule_id in dict.fromkeys(ids) if rule_id in self._networks)
                for ids in rule_id_sets]

    def reserved_only(self, client):
        """In scope ``all``: ``client`` is admitted by reserved rules only (not by the site allowlist)."""
        return (self.scope == "all" and bool(self.reserved) and client is not None and not client.malformed
                and outside(client, [self.site]) is not None and outside(client, [self.reserved]) is None)


def judge(facts, policy, holding):
    """The verdict on a request (``policy.RequestFacts``) made as the user of ``holding``.

    Allowed, with nothing to report, when the policy is off, the path exempt,
    the client loopback (while allowed) or the user not held; else the client
    must be in the user's networks: refused with reason ``user_network``
    (``enforce``), or allowed and reported (``monitor``).
    """
    client = resolve_client(facts.connection, policy.trusted_proxies)
    if (holding is None or not holding.held or not policy.active or policy.mode == "off"
            or is_exempt(facts.path, policy.exempt_paths) or (policy.allow_loopback and is_loopback(client))):
        return Verdict(ALLOW, client, client_ip=client.ip)
    refused = outside(client, [holding.networks])
    if refused is None:
        return Verdict(ALLOW, client, client_ip=client.ip)
    if policy.mode == "enforce":
        return Verdict(DENY, client, USER_NETWORK, report=True, blocked=True, client_ip=refused)
    return Verdict(ALLOW, client, USER_NETWORK, report=True, client_ip=refused)


def refuses_someone(facts, policy, own_rule_sets=()):
    """Whether, from the client of ``facts``, some held user would be refused (``enforce`` only).

    Depends on the client address alone, never on a login: a failed login
    from such a client may then say that the network is a possible cause
    without telling whether it was. Over-approximates: the networks of the
    allowlist (users without named networks), of every group that names
    rules, and ``own_rule_sets`` (rule ids named on users) are each one
    user's networks.
    """
    audience = policy.audience
    if audience is None or not policy.active or policy.mode != "enforce" or is_exempt(facts.path,
                                                                                      policy.exempt_paths):
        return False
    client = resolve_client(facts.connection, policy.trusted_proxies)
    if policy.allow_loopback and is_loopback(client):
        return False
    sets = [audience.site, *audience.rule_sets(audience._group_rules.values()), *audience.rule_sets(own_rule_sets)]
    return any(outside(client, [networks]) is not None for networks in sets)


def judge_anonymous(facts, policy, audience):
    """The verdict on an anonymous request that may reach only the doors where credentials are presented.

    In scope ``all``, a client that only reserved rules admit is not one of
    the allowlist's: refused (``not_allowlisted``) like any other outsider.
    The caller asks only for requests that are anonymous and not at a door.
    """
    client = resolve_client(facts.connection, policy.trusted_proxies)
    if (audience is None or not policy.active or policy.mode == "off" or is_exempt(facts.path, policy.exempt_paths)
            or (policy.allow_loopback and is_loopback(client)) or not audience.reserved_only(client)):
        return Verdict(ALLOW, client, client_ip=client.ip)
    refused = outside(client, [audience.site])
    if policy.mode == "enforce":
        return Verdict(DENY, client, "not_allowlisted", report=True, blocked=True, client_ip=refused)
    return Verdict(ALLOW, client, "not_allowlisted", report=True, client_ip=refused)


def reach(policy, holding):
    """Where ``holding``'s user could reach Odoo from under ``policy``: ``(address, blocked)``.

    ``address`` is the lowest address from which the user would be admitted,
    :data:`ANYWHERE` when the policy refuses nobody (off, monitor, break-glass),
    or None when there is no such address; ``blocked`` then says whether some
    addresses would do but the blocklist covers every one of them.

    An address admits a user when ``decide`` and :func:`judge` would both let
    them in from it: not blocked, through the site gate (scope ``all``: in the
    allowlist) and in the user's networks when those narrow the gate
    (:meth:`Audience.narrows`). "Allow loopback" is not counted: the server's
    own machine is not a network anybody is allowed from, and a remote
    administrator cannot use it.
    """
    if not policy.active or policy.mode != "enforce":
        return ANYWHERE, False
    sets = [_EVERYWHERE]
    if policy.scope != "internal":
        sets.append(policy.allowlist)
    if policy.audience is not None and policy.audience.narrows(holding):
        sets.append(holding.networks)
    address = first_common_address(sets, policy.blocklist)
    return address, address is None and first_common_address(sets) is not None
