"""Perimeter posture in the engine: listening sockets read from /proc, and the findings for risky
ports, server options and module settings, each with its fix."""

import socket
import sys

import pytest

from perimeter.networks import NetworkSet
from perimeter.posture import (
    ListeningSocket,
    listening_sockets,
    parse_proc_net_tcp,
    review,
    review_module_settings,
    review_proxy_peers,
    review_server_options,
    review_sockets,
)
from perimeter.settings import load_settings
from perimeter.wording import Text, from_json, to_json

# /proc/net/tcp and tcp6 as Linux prints them: PostgreSQL on all IPv4 interfaces, Odoo on
# loopback, Redis on all IPv6 interfaces, an established connection (not a listener) to port 22.
PROC_TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000:1538 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 2001 1
   1: 0100007F:1F95 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 2002 1
   2: 0100007F:0016 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 2003 1
   3: garbage
"""
PROC_TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue rx_queue
   0: 00000000000000000000000000000000:18EB 00000000000000000000000000000000:0000 0A 00000000:00000000
   1: 00000000000000000000000001000000:1F95 00000000000000000000000000000000:0000 0A 00000000:00000000
   2: 0000000000000000FFFF00000100007F:2710 00000000000000000000000000000000:0000 0A 00000000:00000000
"""


def _keys(findings):
    return {f.key for f in findings}


def _defaults():
    return load_settings({})[0]


def test_proc_net_tcp_lists_listeners_with_their_addresses():
    assert parse_proc_net_tcp(PROC_TCP) == [
        ListeningSocket(5432, "0.0.0.0"), ListeningSocket(8085, "127.0.0.1")]
    assert parse_proc_net_tcp(PROC_TCP6) == [
        ListeningSocket(6379, "::"), ListeningSocket(8085, "::1"), ListeningSocket(10000, "127.0.0.1")]
    assert [s.exposed for s in parse_proc_net_tcp(PROC_TCP6)] == [True, False, False]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/net")
def test_a_real_loopback_listener_is_seen_and_not_reported():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        sockets = listening_sockets()
        assert ListeningSocket(port, "127.0.0.1") in sockets
        assert f"port:{port}" not in _keys(review_sockets(sockets))
    # Closed: gone from the next reading.
    assert ListeningSocket(port, "127.0.0.1") not in listening_sockets()


def test_unreadable_proc_is_said_not_guessed(tmp_path):
    sockets = listening_sockets(tmp_path / "missing")
    assert sockets is None
    [finding] = review_sockets(sockets)
    assert finding.key == "port:unreadable" and "ss -ltn" in finding.fix


def test_exposed_services_are_findings_with_fixes_and_one_per_port():
    sockets = parse_proc_net_tcp(PROC_TCP) + parse_proc_net_tcp(PROC_TCP6) + [
        ListeningSocket(5432, "::"), ListeningSocket(4444, "192.0.2.10")]
    findings = {f.key: f for f in review_sockets(sockets, odoo_ports={8085})}
    assert set(findings) == {"port:5432", "port:6379", "port:4444"}
    postgres = findings["port:5432"]
    assert postgres.severity == "critical"
    assert postgres.title == "PostgreSQL (port 5432) listens on all interfaces"
    assert "Bind PostgreSQL to 127.0.0.1" in postgres.fix
    assert findings["port:6379"].severity == "critical"
    assert findings["port:4444"].severity == "info" and "192.0.2.10" in findings["port:4444"].title


def test_odoo_port_open_to_all_is_named_for_what_it_bypasses():
    exposed = [ListeningSocket(8069, "0.0.0.0")]
    [direct] = review_sockets(exposed, odoo_ports={8069}, behind_proxy=False)
    assert direct.title == "Odoo serves plain HTTP on port 8069 (all interfaces)"
    [bypass] = review_sockets(exposed, odoo_ports={8069}, behind_proxy=True)
    assert "reachable without the proxy" in bypass.title
    assert "http_interface = 127.0.0.1" in bypass.fix
    assert review_sockets([ListeningSocket(8069, "127.0.0.1")], odoo_ports={8069}, behind_proxy=True) == []


SAFE_OPTIONS = {
    "list_db": False,
    "admin_passwd": "$pbkdf2-sha512$600000$c2FsdA$aGFzaA",
    "proxy_mode": True,
    "http_interface": "127.0.0.1",
    "db_host": "db.internal",
    "db_sslmode": "verify-full",
    "dev_mode": [],
    "smtp_server": "localhost",
    "smtp_ssl": False,
    "server_wide_modules": "base,web,perimeter_security",
}


def test_a_careful_configuration_has_no_server_finding():
    assert review_server_options(SAFE_OPTIONS, master_password_is=lambda word: False) == []


@pytest.mark.parametrize(("change", "key", "severity", "fix_says"), [
    ({"list_db": True}, "option:list_db", "warning", "list_db = False"),
    ({"admin_passwd": "admin"}, "option:admin_passwd", "critical", "Set Master Password"),
    ({"admin_passwd": "long-but-clear"}, "option:admin_passwd", "warning", "stores a hash"),
    ({"http_interface": ""}, "option:proxy_mode", "warning", "http_interface = 127.0.0.1"),
    ({"db_sslmode": "prefer"}, "option:db_sslmode", "warning", "verify-full"),
    ({"dev_mode": ["reload", "qweb"]}, "option:dev_mode", "critical", "Remove --dev"),
    ({"smtp_server": "smtp.example.com"}, "option:smtp_ssl", "warning", "smtp_ssl = True"),
    ({"server_wide_modules": "base,web"}, "option:server_wide_modules", "info", "perimeter_security"),
])
def test_each_risky_option_is_one_finding_with_its_fix(change, key, severity, fix_says):
    options = {**SAFE_OPTIONS, **change}
    [finding] = review_server_options(options, master_password_is=lambda word: word == options["admin_passwd"])
    assert (finding.key, finding.severity) == (key, severity)
    assert fix_says in finding.fix


def test_hashed_default_master_password_is_found_through_the_verifier():
    options = {**SAFE_OPTIONS, "admin_passwd": "$pbkdf2-sha512$600000$hash-of-admin"}
    [finding] = review_server_options(options, master_password_is=lambda word: word == "admin")
    assert finding.title == "The master password is 'admin'"
    # Without a verifier a hash is never guessed at.
    assert review_server_options(options) == []
    # Empty: the database manager refuses everything, nothing to report.
    assert review_server_options({**SAFE_OPTIONS, "admin_passwd": ""}) == []


def test_database_on_loopback_or_socket_needs_no_tls():
    for host in ("", "localhost", "127.0.0.1", "::1", "/var/run/postgresql"):
        assert review_server_options({**SAFE_OPTIONS, "db_host": host, "db_sslmode": "disable"}) == []


def test_fresh_install_settings_say_what_is_off():
    findings = {f.key: f for f in review_module_settings(_defaults(), base_url="http://127.0.0.1:8069")}
    assert set(findings) == {"module:mode", "module:require_https"}
    assert findings["module:mode"].severity == "warning"
    # Loopback demo URLs are no finding; a public one over http is.
    assert "module:web_base_url" in _keys(review_module_settings(_defaults(), "http://erp.example.com"))
    assert "module:web_base_url" not in _keys(review_module_settings(_defaults(), "https://erp.example.com"))


def test_fully_enforced_settings_leave_nothing_but_break_glass():
    settings = {**_defaults(), "mode": "enforce", "require_https": True, "mail_tls_policy": "enforce"}
    assert review_module_settings(settings, "https://erp.example.com") == []
    [finding] = review_module_settings(settings, "https://erp.example.com", break_glass=True)
    assert finding.severity == "critical" and "disabled = True" in finding.fix
    monitor = review_module_settings({**settings, "mode": "monitor"}, "https://erp.example.com")
    assert [(f.key, f.severity) for f in monitor] == [("module:mode", "info")]


def test_review_names_odoo_own_ports_and_survives_odd_values():
    sockets = [ListeningSocket(8069, "0.0.0.0"), ListeningSocket(8072, "::")]
    findings = {f.key: f for f in review({"http_port": 8069, "gevent_port": "8072"}, _defaults(), sockets)}
    assert "Odoo serves plain HTTP on port 8069" in findings["port:8069"].title
    assert "Odoo serves plain HTTP on port 8072" in findings["port:8072"].title
    odd = {f.key: f for f in review({"http_port": "eighty", "gevent_port": None}, _defaults(), sockets)}
    assert odd["port:8069"].title == "Port 8069 listens on all interfaces"


def test_review_lists_the_worst_first():
    findings = review({**SAFE_OPTIONS, "list_db": True, "admin_passwd": "admin"}, _defaults(),
                      [ListeningSocket(5432, "0.0.0.0"), ListeningSocket(2222, "::")],
                      base_url="https://erp.example.com")
    severities = [f.severity for f in findings]
    assert severities == sorted(severities, key=["critical", "warning", "info"].index)
    assert _keys(findings) >= {"port:5432", "option:admin_passwd", "option:list_db", "port:2222"}
    assert findings[0].severity == "critical"


def test_an_allowlisted_peer_sending_proxy_headers_untrusted_is_critical():
    # Issue 10 #5: a proxy left out of Trusted proxies but allowlisted admits every client behind it.
    allowlist = NetworkSet(["127.0.0.1/32", "10.0.0.0/8"])
    peers = {"127.0.0.1": 42, "10.1.2.3": 5, "192.0.2.7": 9}
    (finding,) = review_proxy_peers(peers, allowlist, trusted_proxies=("10.1.2.0/24",))
    assert (finding.key, finding.severity) == ("module:untrusted_proxy:127.0.0.1", "critical")
    assert "Trusted proxies" in finding.fix and "every client" in finding.detail
    assert review_proxy_peers(peers, allowlist, trusted_proxies=("127.0.0.1", "10.0.0.0/8")) == []
    settings, _ = load_settings({})
    keys = {f.key for f in review({}, settings, [], proxy_peers=peers, allowlist=allowlist)}
    assert {"module:untrusted_proxy:127.0.0.1", "module:untrusted_proxy:10.1.2.3"} <= keys
    assert not [f for f in review({}, settings, []) if f.key.startswith("module:untrusted_proxy:")]

def test_database_manager_over_plain_http_recommends_the_section_option():
    reachable = {**SAFE_OPTIONS, "list_db": True}
    [finding] = [f for f in review(reachable, _defaults(), []) if f.key == "section:require_https"]
    assert finding.severity == "warning" and "require_https = True" in finding.fix
    assert "[perimeter_security]" in finding.fix
    assert "section:require_https" not in _keys(review(reachable, _defaults(), [],
                                                       server_section={"require_https": True}))
    assert "section:require_https" not in _keys(review(SAFE_OPTIONS, _defaults(), []))


def _every_kind_of_finding():
    options = {**SAFE_OPTIONS, "list_db": True, "admin_passwd": "admin", "http_interface": "", "db_sslmode": "",
               "dev_mode": ["reload"], "smtp_server": "smtp.example.com", "server_wide_modules": "base"}
    sockets = [ListeningSocket(port, "0.0.0.0") for port in (21, 22, 5432, 4444, 8069)]
    return [*review(options, _defaults(), sockets, base_url="http://erp.example.com", break_glass=True,
                    proxy_peers={"127.0.0.1": 3}, allowlist=NetworkSet(["127.0.0.1/32"])),
            *review_sockets(None), *review_module_settings({**_defaults(), "mode": "monitor"})]


def test_every_sentence_keeps_its_facts_to_be_worded_again():
    # Issue 13 #5: a finding is stored as facts and shown in each reader's language.
    findings = _every_kind_of_finding()
    assert len(findings) >= 20
    for finding in findings:
        for sentence in (finding.title, finding.detail, finding.fix):
            assert isinstance(sentence, Text), (finding.key, sentence)
            assert from_json(to_json(sentence)) == sentence
            assert sentence.render({}.get) == sentence, "no translation: the English sentence"


def test_a_finding_is_worded_with_its_facts_translated_too():
    french = {
        "%(service)s (port %(port)s) listens on %(where)s": "%(service)s (port %(port)s) écoute sur %(where)s",
        "all interfaces": "toutes les interfaces",
        "%(service)s %(why)s. Any machine that can route to this server can try it.":
            "%(service)s %(why)s. Toute machine capable de joindre ce serveur peut s'y essayer.",
        "holds every Odoo database; only the Odoo servers need to reach it":
            "contient toutes les bases Odoo",
        "Serve Odoo over HTTPS (a TLS reverse proxy), then turn on Require HTTPS in %(where)s.":
            "Servez Odoo en HTTPS, puis activez Exiger HTTPS dans %(where)s.",
        "Settings › Perimeter": "Paramètres › Périmètre",
    }
    [postgres] = review_sockets([ListeningSocket(5432, "0.0.0.0"), ListeningSocket(5432, "192.0.2.1")])
    assert postgres.title == "PostgreSQL (port 5432) listens on all interfaces, 192.0.2.1"
    assert from_json(to_json(postgres.title)).render(french.get) == (
        "PostgreSQL (port 5432) écoute sur toutes les interfaces, 192.0.2.1")
    assert postgres.detail.render(french.get) == (
        "PostgreSQL contient toutes les bases Odoo. Toute machine capable de joindre ce serveur peut s'y essayer.")
    https = {f.key: f for f in review_module_settings(_defaults())}["module:require_https"]
    assert https.fix.render(french.get) == (
        "Servez Odoo en HTTPS, puis activez Exiger HTTPS dans Paramètres › Périmètre.")
