"""Failed logins, handed to the access log like refused requests (reason ``failed_login``).

A user held to other networks is not one: that refusal is logged once, as
``user_network`` with the login. Called by ``res.users`` when a password is refused, whatever the way in
(the login form, ``/web/session/authenticate``, XML-RPC/JSON-RPC ``login`` /
``authenticate``, and the password of every ``execute_kw``). It costs what a
refused request costs: a count in this process's aggregator; the flush
writes them, and the automatic bans count them there, across every worker.
"""

import logging

from ..perimeter.access_log import MAX_METHOD, MAX_PATH, MAX_USER_AGENT, Hit
from ..perimeter.charge import charged_address
from ..perimeter.client import resolve_client
from . import access_log, audience, server_tier, verdicts

_logger = logging.getLogger(__name__)


def record(dbname):
    """Count one failed login of the current HTTP request against database ``dbname``; never raises."""
    try:
        facts = verdicts.current_facts()
        if facts is None or not dbname:
            return  # not an HTTP request (shell, cron, tests calling the ORM)
        if audience.refused_in_request(dbname):
            return  # a user held elsewhere: logged once, with the login (``user_network``), a refusal for the bans
        decider = server_tier.database_decider(dbname)
        if decider is None or decider.policy.mode == "off" or decider.policy.disabled:
            return  # the module does nothing here: nothing logged, nothing banned
        policy = decider.policy
        client = resolve_client(facts.connection, policy.trusted_proxies)
        # Charged to the address the policy judges, never to a candidate a client chose (charge.py).
        address = charged_address(client, policy.allowlist, policy.blocklist)
        access_log.record_hit(dbname, Hit(
            ip=address, reason="failed_login", blocked=True,
            peer=client.peer if client.peer != address else "",
            path=facts.path[:MAX_PATH], method=facts.method[:MAX_METHOD], user_agent=facts.user_agent[:MAX_USER_AGENT],
        ))
    except Exception:
        _logger.exception("perimeter_security: could not record a failed login")
