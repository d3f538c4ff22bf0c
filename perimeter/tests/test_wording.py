"""Engine sentences stay English strings for the engine, and can be worded again in another language."""

import pickle

# Imported under another name: Odoo's .pot export collects every literal _() call, tests included.
from perimeter.wording import Text, from_json, to_json
from perimeter.wording import _ as say

FRENCH = {
    "%(service)s listens on %(where)s: %(why)s": "%(service)s écoute sur %(where)s : %(why)s",
    "sends passwords in clear text": "envoie les mots de passe en clair",
}


def finding():
    return say("%(service)s listens on %(where)s: %(why)s", service="FTP", where="0.0.0.0",
             why=say("sends passwords in clear text"))


def test_a_text_is_its_english_sentence():
    assert finding() == "FTP listens on 0.0.0.0: sends passwords in clear text"
    assert isinstance(finding(), str)
    assert str(ValueError(finding())) == "FTP listens on 0.0.0.0: sends passwords in clear text"


def test_render_translates_the_template_and_the_facts_that_are_texts():
    assert finding().render(FRENCH.get) == "FTP écoute sur 0.0.0.0 : envoie les mots de passe en clair"


def test_a_missing_translation_is_english():
    assert say("Plain HTTP is accepted").render({}.get) == "Plain HTTP is accepted"


def test_a_translation_that_does_not_fit_the_facts_falls_back_to_english():
    broken = {"Port %(port)s is open": "Le port %(numero)s est ouvert"}
    assert say("Port %(port)s is open", port=22).render(broken.get) == "Port 22 is open"


def test_stored_as_json_and_pickled_it_is_worded_again():
    for copy in (from_json(to_json(finding())), pickle.loads(pickle.dumps(finding()))):
        assert copy.render(FRENCH.get) == finding().render(FRENCH.get)


def test_a_sentence_stored_before_facts_comes_back_as_it_was():
    assert from_json("Odoo serves plain HTTP on port 8069") == "Odoo serves plain HTTP on port 8069"
    assert from_json(False) is False


def test_joined_texts_keep_their_own_templates():
    joined = Text.join([finding(), say("sends passwords in clear text")], "\n")
    assert joined == f"{finding()}\nsends passwords in clear text"
    assert joined.render(FRENCH.get).splitlines()[1] == "envoie les mots de passe en clair"
