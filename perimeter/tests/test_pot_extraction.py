"""Every engine sentence reaches the .pot: Odoo's export reads ``perimeter/*.py`` with Babel's Python extractor.

What it cannot read is lost without a failure: a file with an f-string among
a ``_()`` call's arguments is logged and skipped whole, and a ``_()`` inside
another ``_()``'s arguments is not seen. Either way its sentences would never
be translated.
"""

import ast
import pathlib

import pytest

extract = pytest.importorskip("babel.messages.extract")

ENGINE = pathlib.Path(__file__).resolve().parent.parent


def _templates_in_source(path):
    """The literal first argument of every ``_()`` call, as Python reads the file."""
    return {
        node.args[0].value
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_"
        and node.args and isinstance(node.args[0], ast.Constant)
    }


@pytest.mark.parametrize("path", sorted(ENGINE.glob("*.py")), ids=lambda path: path.name)
def test_every_engine_sentence_is_a_literal_the_export_can_read(path):
    with path.open("rb") as source:
        found = list(extract.extract_python(source, ["_"], [], {}))
    exported = set()
    for lineno, _funcname, messages, _comments in found:
        template = messages[0] if isinstance(messages, tuple) else messages
        assert isinstance(template, str) and template, f"{path.name}:{lineno}: _() needs one literal template"
        exported.add(template)
    assert _templates_in_source(path) <= exported, "a _() the export does not see (inside another _()?)"
