"""The engine's sentences in the reader's language.

The engine words what it says as :class:`perimeter.wording.Text` (an English
template and its facts); here the template is looked up in this module's
translations (``i18n/<lang>.po``, the same table Odoo's ``_()`` reads) for the
language of ``env`` and filled with the facts again. Anything that is not a
``Text`` (a plain string, ``False``) comes back unchanged.
"""

from odoo.tools.translate import code_translations

from ..perimeter.wording import Text, from_json

MODULE = "perimeter_security"


def word(env, text):
    """``text`` in the language of ``env`` (English when there is no translation)."""
    if not isinstance(text, Text):
        return text
    lang = env.lang or "en_US"
    if lang == "en_US":
        return str(text)
    translations = code_translations.get_python_translations(MODULE, lang)
    return text.render(translations.get)


def word_stored(env, data):
    """A sentence stored with :func:`perimeter.wording.to_json`, in the language of ``env``."""
    return word(env, from_json(data))


def message_of(env, exc):
    """An engine exception's message (``ValueError(_("..."))``) in the language of ``env``."""
    if exc.args and isinstance(exc.args[0], Text):
        return word(env, exc.args[0])
    return str(exc)


def odoo_words(env, module, source):
    """Odoo's own sentence ``source`` of ``module`` (``_()`` in its code) as it shows it in the language of ``env``."""
    lang = env.lang or "en_US"
    if lang == "en_US":
        return source
    return code_translations.get_python_translations(module, lang).get(source) or source
