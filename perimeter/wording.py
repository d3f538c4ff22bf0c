"""Sentences for an administrator, kept as facts until someone reads them.

The engine never imports Odoo, so it cannot translate. It words what it has
to say with :func:`_`, which returns a :class:`Text`: an English template with
named placeholders and the facts that fill them. A ``Text`` *is* the English
sentence (a ``str``), so logs, tests and the engine alone read it as before;
the Odoo side (``guard/wording.py``) words the same template again in the
reader's language from the module's ``i18n/*.po``.

Write every template as a literal inside ``_()``: Odoo's translation export
collects the ``_()`` calls of every Python file of the module, this package
included, into ``i18n/perimeter_security.pot``. A fact that is itself a
``Text`` is translated too; any other fact (an address, a date, a name) is
shown as it is.
"""

import json

__all__ = ["Text", "_", "from_json", "to_json"]


class Text(str):
    """An English sentence that remembers its template and facts, so that it can be worded again."""

    def __new__(cls, template, /, **params):
        text = super().__new__(cls, template % params if params else template)
        text.template = template
        text.params = params
        return text

    def render(self, translate):
        """This sentence in another language: ``translate(template)`` gives the template's translation.

        A translation that does not fit the facts (a placeholder renamed by a
        translator) falls back to English rather than hide the sentence.
        """
        params = {name: value.render(translate) if isinstance(value, Text) else value
                  for name, value in self.params.items()}
        worded = translate(self.template) or self.template
        if not params:
            return worded
        try:
            return worded % params
        except (KeyError, TypeError, ValueError):
            return self.template % params

    def __reduce__(self):
        return (_rebuild, (self.template, self.params))

    @classmethod
    def join(cls, texts, separator="\n"):
        """Several sentences as one ``Text`` (each keeps its own template)."""
        texts = list(texts)
        template = separator.replace("%", "%%").join(f"%(p{index})s" for index in range(len(texts)))
        return cls(template, **{f"p{index}": text for index, text in enumerate(texts)})


def _rebuild(template, params):
    return Text(template, **params)


def _(template, /, **params):
    """Mark ``template`` for translation and fill it with ``params`` (``%(name)s`` placeholders)."""
    return Text(template, **params)


def _to_plain(value):
    if isinstance(value, Text):
        return {"t": value.template, "p": {name: _to_plain(fact) for name, fact in value.params.items()}}
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    return str(value)


def to_json(text):
    """A ``Text`` (or plain string) as JSON, to be stored and worded again when read."""
    return json.dumps(_to_plain(text), ensure_ascii=False)


def _from_plain(value):
    if isinstance(value, dict) and "t" in value:
        return Text(value["t"], **{name: _from_plain(fact) for name, fact in (value.get("p") or {}).items()})
    return value


def from_json(data):
    """The ``Text`` stored by :func:`to_json`; a stored plain sentence comes back as it was."""
    if not data:
        return data
    try:
        return _from_plain(json.loads(data))
    except (TypeError, ValueError):
        return data  # written before sentences were stored as facts: show it as it is
