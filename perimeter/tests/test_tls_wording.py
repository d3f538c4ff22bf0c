"""The TLS sentences: English as before for the engine, worded again in French from ``i18n/fr.po``.

Real probes of real local servers give the facts; the French comes from the
module's own translation file, as Odoo reads it for a French user.
"""

import ast
import datetime
import pathlib
import re
import socket

import pytest

from perimeter import mail_tls, systems, tls_contexts, tls_report, tlscheck
from perimeter.certinfo import normalize_pin
from perimeter.starttls import MAX_LINE, MAX_LINES, Deadline, StartTlsError, imap_starttls, smtp_starttls
from perimeter.wording import Text, from_json, to_json
from testing.servers import TlsServer

polib = pytest.importorskip("polib")

PACKAGE = pathlib.Path(tlscheck.__file__).resolve().parent
FILES = ("tlscheck.py", "tls_report.py", "tls_contexts.py", "certinfo.py", "starttls.py", "mail_tls.py", "systems.py")
FRENCH_PO = PACKAGE.parent / "i18n" / "fr.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)")
LOCAL = "127.0.0.1"


@pytest.fixture(scope="module")
def french():
    if not FRENCH_PO.exists():
        pytest.skip("no i18n/fr.po next to the engine")
    entries = polib.pofile(str(FRENCH_PO))
    return {entry.msgid: entry.msgstr for entry in entries if entry.msgstr and "odoo-python" in entry.comment}


def _calls(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_":
            yield node


def _templates():
    for name in FILES:
        for call in _calls(PACKAGE / name):
            yield name, call.args[0].value


def test_templates_are_literals_and_no_fact_is_an_f_string():
    # Odoo's export (babel) collects the first literal and evaluates every literal among the call's
    # arguments: an f-string there breaks the export of the whole module.
    for name in FILES:
        for call in _calls(PACKAGE / name):
            first = call.args[0] if call.args else None
            assert isinstance(first, ast.Constant) and isinstance(first.value, str), (name, call.lineno)
            for argument in [*call.args, *(keyword.value for keyword in call.keywords)]:
                assert not isinstance(argument, ast.JoinedStr), (name, call.lineno)


def test_every_template_has_a_french_translation_with_the_same_facts(french):
    missing, broken = [], []
    for name, template in _templates():
        translation = french.get(template)
        if not translation:
            missing.append((name, template))
        elif sorted(PLACEHOLDER.findall(translation)) != sorted(PLACEHOLDER.findall(template)):
            broken.append(template)
    assert missing == []
    assert broken == []


def test_details_of_a_real_probe_read_in_french_and_stay_english_for_the_engine(certs, french):
    self_signed = certs.self_signed()
    with TlsServer(self_signed) as server:
        report = tlscheck.probe(server.host, server.port, "direct", timeout=3.0)
    details = report.details_text()
    assert isinstance(details, Text)
    english = str(details)
    assert english.startswith(f"State: failed\nEndpoint: {LOCAL}:{server.port} (direct TLS)\nErrors:\n  - self-signed")
    stored = from_json(to_json(details))
    assert stored == english
    worded = stored.render(french.get)
    assert worded.startswith(f"État : échec\nPoint de terminaison : {LOCAL}:{server.port} (TLS direct)\nErreurs :\n"
                             "  - certificat auto-signé : ajoutez son AC au paquet d'AC du serveur ou épinglez-le\n")
    assert "\nÉmetteur : CN=localhost (auto-signé)\n" in worded
    assert f"\nExpiration : {self_signed.not_after:%Y-%m-%d %H:%M} UTC (dans " in worded
    assert "Confiance : aucune ; les informations ci-dessus proviennent d'une négociation non vérifiée" in worded
    for english_word in ("Errors:", "Trust:", "Expires:", "self-signed certificate", " days)"):
        assert english_word not in worded


def test_a_refusal_reason_starts_with_mail_tls_in_every_language(certs, french):
    expired = certs.expired()
    with TlsServer(expired) as server:
        report = tlscheck.probe(server.host, server.port, "direct", ca_bundle_pem=certs.ca.cert_pem, timeout=3.0)
    reason = mail_tls.failure_reason(server.host, server.port, Text.join(report.errors, "; "), "enforce",
                                    report.error_keys, min_version=report.min_version)
    day = f"{expired.not_after:%Y-%m-%d}"
    assert reason == (f"Mail TLS (enforce): refused to connect to {LOCAL}:{server.port}: certificate has expired on "
                      f"{day}. Nothing was sent. Renew the mail server's certificate (a pin does not make an expired "
                      "certificate valid). Then retry this mail.")
    worded = from_json(to_json(reason)).render(french.get)
    assert worded == (f"Mail TLS (enforce): connexion à {LOCAL}:{server.port} refusée : le certificat a expiré le "
                      f"{day}. Rien n'a été envoyé. Renouvelez le certificat du serveur de courrier (une empreinte "
                      "épinglée ne rend pas valide un certificat expiré). Relancez ensuite l'envoi de ce courrier.")
    assert worded.startswith(mail_tls.REASON_PREFIX)
    incoming = mail_tls.failure_reason(server.host, server.port, report.errors[0], "warn", report.error_keys,
                                      outgoing=False)
    assert incoming.render(french.get).startswith(f"Mail TLS (warn): connexion à {LOCAL}:{server.port} refusée")


def test_summary_and_advice_in_french(certs, french):
    with TlsServer(certs.self_signed()) as server:
        report = tlscheck.probe(server.host, server.port, "direct", timeout=3.0)
    assert mail_tls.summary(report) == "TLS check failed: " + "; ".join(report.errors)
    french_summary = mail_tls.summary(report).render(french.get)
    assert french_summary.startswith("La vérification TLS a échoué : certificat auto-signé")
    advice = mail_tls.advice(["version"], min_version="TLSv1_3")
    assert advice == ("Have the mail server accept TLS 1.3 or later (it only offers older versions, which are no "
                      "longer safe). Or set the minimum mail TLS version back to TLS 1.2 in Settings.")
    assert advice.render(french.get) == (
        "Faites accepter au serveur de courrier TLS 1.3 ou une version ultérieure (il ne propose que des versions "
        "plus anciennes, qui ne sont plus sûres). Ou remettez la version TLS minimale du courrier à TLS 1.2 dans les "
        "Paramètres.")


def test_errors_about_settings_carry_their_sentence(french):
    checks = [
        (lambda: normalize_pin("ab:cd"), "'ab:cd' n'est pas une empreinte SHA-256"),
        (lambda: normalize_pin("a" * 40), "ressemble à une empreinte SHA-1"),
        (lambda: tls_contexts.build_client_context(ca_bundle_pem="not a certificate"),
         "Le paquet d'AC ne contient aucun certificat PEM"),
        (lambda: tls_contexts.parse_min_version("1.1"), "'1.1' n'est pas une version TLS minimale prise en charge"),
    ]
    for call, words in checks:
        with pytest.raises(ValueError) as caught:
            call()
        sentence = tls_report.sentence_of(caught.value)
        assert isinstance(sentence, Text)
        assert sentence == str(caught.value)
        assert words in sentence.render(french.get)


def test_first_error_of_stored_details_new_and_old(certs):
    with TlsServer(certs.self_signed()) as server:
        report = tlscheck.probe(server.host, server.port, "direct", timeout=3.0)
    stored = from_json(to_json(report.details_text()))
    first = tls_report.first_error(stored)
    assert isinstance(first, Text)
    assert first == report.errors[0]
    # Details stored as plain English before they were facts still give their first error.
    assert tls_report.first_error(str(stored)) == report.errors[0]
    assert tls_report.first_error("State: ok\nEndpoint: x:1 (direct TLS)") == ""
    assert tls_report.first_error(False) == ""


def test_expiry_words_in_french(french):
    now = datetime.datetime(2026, 1, 10, 12, 0)
    cases = {
        now + datetime.timedelta(days=9, hours=1): ("in 9 days", "dans 9 jours"),
        now + datetime.timedelta(days=1, hours=1): ("in 1 day", "dans 1 jour"),
        now + datetime.timedelta(hours=3): ("within a day", "dans moins d'un jour"),
        now - datetime.timedelta(days=2, hours=1): ("expired 2 days ago", "expiré depuis 2 jours"),
    }
    for moment, (english, worded) in cases.items():
        words = tls_report.expiry_words(moment, now)
        assert (words, words.render(french.get)) == (english, worded)


def test_inbound_system_details_in_french(french):
    seen = [systems.CallerSeen("192.0.2.7", "http", 3, datetime.datetime(2024, 5, 1, 12, 0))]
    state, details = systems.judge_callers(seen, "", now=datetime.datetime(2024, 5, 2, 8, 0))
    assert state == "critical"
    assert "  - 192.0.2.7 over plain HTTP: 3 calls, last 2024-05-01 12:00 UTC" in details
    worded = from_json(to_json(details)).render(french.get)
    assert worded.splitlines() == [
        "Appels en HTTP non chiffré depuis 192.0.2.7 : les identifiants et les données ont traversé le réseau sans "
        "chiffrement. Utilisez une URL https:// (derrière un mandataire TLS).",
        "Observés depuis :",
        "  - 192.0.2.7 en HTTP non chiffré : 3 appels, dernier le 2024-05-01 12:00 UTC",
        "Non restreint : définissez ses réseaux autorisés pour n'accepter ses identifiants que depuis ceux-ci.",
        "Vérifié : 2024-05-02 08:00:00 UTC",
    ]


@pytest.mark.parametrize(("dialogue", "answers", "english", "worded"), [
    (smtp_starttls, b"2" * (MAX_LINE + 10),
     "the server sent an overlong line: this is not the expected protocol",
     "le serveur a envoyé une ligne trop longue : ce n'est pas le protocole attendu"),
    (smtp_starttls, b"220-hello\r\n" * (MAX_LINES + 1),
     "the server sent an endless SMTP reply", "le serveur a envoyé une réponse SMTP sans fin"),
    (imap_starttls, b"* OK ready\r\n* CAPABILITY IMAP4rev1 STARTTLS\r\nP1 OK done\r\nP2 NO not now\r\n",
     "server refused STARTTLS (NO)", "le serveur a refusé STARTTLS (NO)"),
])
def test_a_dialogue_that_goes_wrong_says_why_in_both_languages(dialogue, answers, english, worded, french):
    # The dialogues once used "_" as a throwaway name, which hid the translation function there.
    ours, theirs = socket.socketpair()
    with ours, theirs:
        theirs.sendall(answers)
        with pytest.raises(StartTlsError) as caught:
            dialogue(ours, Deadline(3.0))
    assert str(caught.value) == english
    assert caught.value.message.render(french.get) == worded
