"""The fence of inbound connected systems: where their credentials may be used from.

An inbound system (a point of sale, a third-party tool) carries the networks
it may call from; the users and API keys bound to it are accepted only from
there. A credential bound to several systems is accepted from any of their
networks; a request with a user bound to one system and an API key bound to
another must satisfy both. When the client cannot be known (no request, an
unreadable proxy header), a bound credential is refused.

Nothing here imports Odoo.
"""

import dataclasses

from .audience import outside
from .networks import NetworkSet


@dataclasses.dataclass(frozen=True)
class Fence:
    """A compiled snapshot: bound user ids and API key ids → the networks they may come from."""

    users: dict = dataclasses.field(default_factory=dict)  # user id -> NetworkSet
    keys: dict = dataclasses.field(default_factory=dict)  # API key id -> NetworkSet
    trusted_proxies: NetworkSet = NetworkSet()

    @classmethod
    def build(cls, bindings, trusted_proxies=()):
        """From ``(networks text list, user ids, key ids)`` per system (empty networks bind nothing)."""
        users, keys = {}, {}
        for networks, user_ids, key_ids in bindings:
            entries = [entry for entry in networks if entry]
            if not entries:
                continue
            for user_id in user_ids:
                users.setdefault(user_id, []).extend(entries)
            for key_id in key_ids:
                keys.setdefault(key_id, []).extend(entries)
        return cls(
            users={user_id: NetworkSet(entries) for user_id, entries in users.items()},
            keys={key_id: NetworkSet(entries) for key_id, entries in keys.items()},
            trusted_proxies=NetworkSet(trusted_proxies),
        )

    def __bool__(self):
        return bool(self.users or self.keys)

    def binds(self, user_id, apikey_id=0):
        return user_id in self.users or (bool(apikey_id) and apikey_id in self.keys)

    def networks_of(self, user_id, apikey_id=0):
        """The network sets a credential is held to by the systems it is bound to (empty: not bound)."""
        return [networks for networks in (self.users.get(user_id), self.keys.get(apikey_id) if apikey_id else None)
                if networks is not None]

    def refused_address(self, user_id, apikey_id, client):
        """The client address that the fence refuses, or None when the credential may be used.

        ``client`` is a :class:`perimeter.client.Client`, or None when unknown:
        a bound credential is then refused (returned as ``"unknown"``). The
        same rule as a user's own networks (``audience.outside``): one engine.
        """
        return outside(client, self.networks_of(user_id, apikey_id))
