"""Who a count is charged to: the address the policy judged.

Refused requests, failed logins, alerts and automatic bans all count per
client:

- **The judged address, never a mere candidate.** When a trusted proxy writes
  one forwarding header and passes the other through (``X-Forwarded-For``
  and ``Forwarded`` disagree), the request could come from any of their
  addresses, and the policy admits it only if every one is allowed. A client
  chooses the header the proxy passes: charging its address would let an
  outsider get an office address banned. Counts go to the candidate the
  policy refuses (outside the allowlist, or in the blocklist), never to an
  address the allowlist admits; when the candidates agree, to the address.

Nothing here imports Odoo.
"""


def charged_address(client, allowlist, blocklist=None):
    """The one address of ``client`` (``client.Client``) that counts are charged to.

    ``allowlist`` and ``blocklist`` are the policy's ``NetworkSet``s. With one
    candidate (the usual case) it is the client's address; with several,
    the first in the blocklist, else the first outside the allowlist, else
    the resolved address (every candidate is allowed: none is a stranger).
    """
    if not client.other_ips or client.malformed:
        return client.ip
    addresses = client.addresses
    if blocklist:
        blocked = next((ip for ip in addresses if ip in blocklist), None)
        if blocked is not None:
            return blocked
    return next((ip for ip in addresses if ip not in allowlist), client.ip)
