"""Connected systems in the engine: probe plans, concurrent checks against real loopback servers,
inbound judgement, networks, phone numbers, the fence and the caller tally."""

import datetime
import threading

import pytest

from perimeter.client import Client, resolve_client
from perimeter.fence import Fence
from perimeter.networks import NetworkSet
from perimeter.rpc_callers import CallerKey, CallerTally
from perimeter.systems import (
    CallerSeen,
    CheckJob,
    canonical_networks,
    check_endpoints,
    judge_callers,
    normalize_phone,
    plan_probe,
)
from testing.servers import ClosedPort, HttpServer, HttpsServer, SmtpServer, TlsServer


def test_plan_follows_the_endpoint_unless_told_otherwise():
    assert plan_probe("https://api.example.com").target() == {
        "host": "api.example.com", "port": 443, "protocol": "https", "url": "https://api.example.com"}
    assert plan_probe("smtp://mail.example.com:587").protocol == "smtp"
    assert plan_probe("smtps://mail.example.com").port == 465
    # Odoo reaches this server without encryption: probe what it really does.
    assert plan_probe("smtp://mail.example.com:25", "plain").protocol == "plain"
    with pytest.raises(ValueError, match="'gopher'"):
        plan_probe("gopher://example.com")
    with pytest.raises(ValueError, match="'telnet' is not a probe protocol"):
        plan_probe("example.com:23", "telnet")


def test_checks_run_concurrently_and_say_why(certs):
    ca = certs.ca.cert_pem
    with (HttpsServer(certs.trusted()) as good, HttpsServer(certs.self_signed()) as self_signed,
          HttpsServer(certs.expired()) as expired, HttpServer() as plain, ClosedPort() as closed,
          TlsServer(certs.trusted(), delay=0.5) as slow_a, TlsServer(certs.trusted(), delay=0.5) as slow_b):
        jobs = [
            CheckJob(good.url, ca_bundle_pem=ca),
            CheckJob(self_signed.url, ca_bundle_pem=ca),
            CheckJob(expired.url, ca_bundle_pem=ca),
            CheckJob(plain.url),
            CheckJob(f"127.0.0.1:{closed.port}"),
            CheckJob("not a url://"),
            CheckJob(f"127.0.0.1:{slow_a.port}", ca_bundle_pem=ca),
            CheckJob(f"127.0.0.1:{slow_b.port}", ca_bundle_pem=ca),
        ]
        results = check_endpoints(jobs, timeout=5)
    states = [result.state for result in results]
    assert states == ["ok", "critical", "critical", "critical", "critical", "critical", "ok", "ok"]
    assert results[0].tls_version.startswith("TLS 1.")
    assert results[0].cert_expires_at > datetime.datetime.now(datetime.UTC).replace(tzinfo=None)
    assert "self-signed certificate" in results[1].details
    assert "certificate has expired on" in results[2].details
    assert results[3].tls_version == "no TLS"
    assert "unencrypted" in results[3].details
    assert "connection refused" in results[4].details
    assert results[4].tls_version == ""
    assert "invalid endpoint" in results[5].details
    # The two servers that each wait half a second were probed side by side.
    assert results[6].elapsed >= 0.5 and results[7].elapsed >= 0.5
    values = results[0].values()
    assert set(values) == {"state", "details", "last_check", "tls_version", "cert_expires_at"}


def test_expiring_certificate_is_a_warning(certs):
    with HttpsServer(certs.expiring_in(5)) as server:
        [result] = check_endpoints([CheckJob(server.url, ca_bundle_pem=certs.ca.cert_pem)])
    assert result.state == "warning"
    assert "certificate expires in" in result.details


def test_smtp_starttls_and_plain_smtp(certs):
    with SmtpServer(cert=certs.trusted(), mode="starttls") as tls_server, SmtpServer(mode="plain") as plain_server:
        results = check_endpoints([
            CheckJob(f"smtp://127.0.0.1:{tls_server.port}", "smtp", ca_bundle_pem=certs.ca.cert_pem),
            CheckJob(f"smtp://127.0.0.1:{plain_server.port}", "plain"),
        ])
    assert [result.state for result in results] == ["ok", "critical"]


def test_inbound_judged_by_what_was_seen():
    now = datetime.datetime(2024, 5, 1, 12, 0)
    assert judge_callers([], "", now)[0] == "unknown"
    state, details = judge_callers([CallerSeen("192.0.2.7", "https", 3, now)], "192.0.2.0/24", now)
    assert state == "ok"
    assert "Fenced: its credentials are accepted only from 192.0.2.0/24" in details
    state, details = judge_callers(
        [CallerSeen("192.0.2.7", "https", 3, now), CallerSeen("198.51.100.9", "http", 1, now)], "", now)
    assert state == "critical"
    assert "Calls over plain HTTP from 198.51.100.9" in details
    assert "198.51.100.9 over plain HTTP: 1 call" in details
    assert "Not fenced" in details


def test_networks_and_phones_are_normalised_or_named():
    assert canonical_networks(" 10.1.2.3, 192.0.2.0/24\n2001:DB8::/32") == "10.1.2.3/32, 192.0.2.0/24, 2001:db8::/32"
    assert canonical_networks("") == ""
    with pytest.raises(ValueError, match="'10.1.2.3/8' has host bits set"):
        canonical_networks("10.1.2.3/8")
    assert normalize_phone("+41 44 668 18 00") == "+41446681800"
    assert normalize_phone("044 668 18 00", "ch") == "+41446681800"
    assert normalize_phone("  ") == ""
    with pytest.raises(ValueError, match="'12' is not a valid phone number"):
        normalize_phone("12", "CH")
    with pytest.raises(ValueError, match="'call me' is not a phone number"):
        normalize_phone("call me")


def _client(ip, **options):
    return Client(ip=ip, peer=ip, scheme="https", **options)


def test_fence_binds_users_and_keys_to_their_networks():
    fence = Fence.build([
        (["127.0.0.1/32"], [7], [70]),
        (["10.0.0.0/8"], [7], []),
        ([], [8], [80]),  # no networks yet: binds nothing
    ], trusted_proxies=["127.0.0.1"])
    assert fence and fence.binds(7) and fence.binds(9, 70) and not fence.binds(8, 80)
    assert fence.refused_address(7, 0, _client("10.2.3.4")) is None  # either system's networks
    assert fence.refused_address(7, 0, _client("192.0.2.1")) == "192.0.2.1"
    # The key's own networks apply on top of its user's.
    assert fence.refused_address(7, 70, _client("10.2.3.4")) == "10.2.3.4"
    assert fence.refused_address(9, 70, _client("127.0.0.1")) is None
    assert fence.refused_address(8, 80, _client("192.0.2.1")) is None
    assert fence.refused_address(7, 0, None) == "unknown"
    assert fence.refused_address(7, 0, _client("garbage", malformed=True)) == "garbage"
    assert not Fence()


def test_fence_reads_the_client_through_trusted_proxies_only():
    fence = Fence.build([(["192.0.2.0/24"], [7], [])], trusted_proxies=["127.0.0.1"])
    relayed = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "192.0.2.5"}
    assert fence.refused_address(7, 0, resolve_client(relayed, fence.trusted_proxies)) is None
    forged = {"REMOTE_ADDR": "127.0.0.2", "HTTP_X_FORWARDED_FOR": "192.0.2.5"}
    assert fence.refused_address(7, 0, resolve_client(forged, fence.trusted_proxies)) == "127.0.0.2"
    assert isinstance(fence.trusted_proxies, NetworkSet)


def test_tally_counts_flushes_and_restores():
    clock = [0.0]
    tally = CallerTally(flush_interval=10, max_keys=3, clock=lambda: clock[0])
    key = CallerKey(2, 0, "127.0.0.1", "http")
    early, late = datetime.datetime(2024, 1, 1).timestamp(), datetime.datetime(2024, 1, 2).timestamp()
    assert not tally.add("db", key, at=late)
    assert not tally.add("db", key, at=early)
    assert tally.pending("db") == 1
    clock[0] = 11
    assert tally.add("other", key, at=late)  # the interval passed
    taken = tally.drain("db")
    count = taken["db"][key]
    assert (count.hits, count.first, count.last) == (2, early, late)
    assert count.last_seen - count.first_seen == datetime.timedelta(days=1)
    assert count.first_seen.tzinfo is None
    assert tally.pending() == 1 and tally.pending("db") == 0
    tally.restore("db", taken["db"])  # writing failed: nothing is lost
    assert tally.drain()["db"][key].hits == 2
    for number in range(3):
        due = tally.add("db", CallerKey(2, 0, f"10.0.0.{number}", "https"))
    assert due  # too many keys held


def test_tally_is_exact_under_threads():
    tally = CallerTally(flush_interval=3600)
    key = CallerKey(2, 5, "127.0.0.1", "https")

    def hammer():
        for _ in range(2000):
            tally.add("db", key)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert tally.drain("db")["db"][key].hits == 8000


def test_inbound_details_and_phone_errors_can_be_worded_again():
    french = {
        "%(address)s over %(transport)s: %(calls)s": "%(address)s en %(transport)s : %(calls)s",
        "plain HTTP": "HTTP en clair",
        "%(count)d calls": "%(count)d appels",
        "Seen from:": "Vu depuis :",
        "%(value)r is not a valid phone number in %(region)s: %(hint)s.":
            "%(value)r n'est pas un numéro de téléphone valide pour %(region)s : %(hint)s.",
        "enter it in international form, for example +41 44 668 18 00":
            "saisissez-le au format international, par exemple +41 44 668 18 00",
    }
    _state, details = judge_callers([CallerSeen("198.51.100.9", "http", 2)], "")
    assert "  - 198.51.100.9 over plain HTTP: 2 calls" in details.split("\n")
    worded = details.render(french.get).split("\n")
    assert "Vu depuis :" in worded
    assert "  - 198.51.100.9 en HTTP en clair : 2 appels" in worded
    assert "Not fenced: set its allowed networks" in worded[-2], "a sentence without translation stays English"
    with pytest.raises(ValueError) as error:
        normalize_phone("12", "ch")
    assert error.value.args[0].render(french.get) == (
        "'12' n'est pas un numéro de téléphone valide pour CH : "
        "saisissez-le au format international, par exemple +41 44 668 18 00.")
