"""The shipped translation template and French translation match the code, and French loads."""

import re

import polib

from odoo.modules.module import get_module_path
from odoo.tests import TransactionCase, tagged
from odoo.tools.translate import TranslationModuleReader

MODULE = "perimeter_security"
# Python %-placeholders (%s, %(name)s, %d, %.2f...) and JavaScript's {name}: a translation keeps them all.
_PLACEHOLDER = re.compile(r"%(?:\([a-zA-Z_0-9]+\))?[-+ #0]*\d*(?:\.\d+)?[sdifr]|\{[a-zA-Z_]\w*\}")


def _entries(name):
    return polib.pofile(f"{get_module_path(MODULE)}/i18n/{name}", encoding="utf-8")


@tagged("post_install", "-at_install")
class TestTranslations(TransactionCase):
    def test_template_lists_every_translatable_text_of_the_code(self):
        """i18n/perimeter_security.pot is what Odoo's export finds now: no text missing, none stale."""
        exported = {source for _module, kind, name, _res_id, source, _value, _comments
                    in TranslationModuleReader(self.env.cr, modules=[MODULE]) if self._ours(kind, name)}
        shipped = {entry.msgid for entry in _entries(f"{MODULE}.pot")}
        missing, stale = sorted(exported - shipped), sorted(shipped - exported)
        self.assertFalse(missing, "texts not in the .pot: run python3 scripts/export_pot.py")
        self.assertFalse(stale, "texts in the .pot the code no longer has: run python3 scripts/export_pot.py")

    def _ours(self, kind, name):
        """Not a text of a field some module beside ours adds to a record Odoo files under our name too (with
        website on 19, the ir.model of mail.mail, which we extend, brings website's form label along)."""
        if kind != "model" or "," not in name:
            return True
        if not hasattr(self, "_known_modules"):  # the module and everything it depends on, base included
            self._known_modules, todo = set(), [MODULE]
            Dependency = self.env["ir.module.module.dependency"]
            while todo:
                module = todo.pop()
                if module not in self._known_modules:
                    self._known_modules.add(module)
                    todo += Dependency.search([("module_id.name", "=", module)]).mapped("name")
        model, field_name = name.split(",", 1)
        field = self.env["ir.model.fields"].search([("model", "=", model), ("name", "=", field_name)], limit=1)
        return not field or bool(set(filter(None, (field.modules or "").split(", "))) & self._known_modules)

    def test_french_translates_every_text_and_keeps_its_placeholders(self):
        french = {entry.msgid: entry for entry in _entries("fr.po") if not entry.obsolete}
        for entry in _entries(f"{MODULE}.pot"):
            with self.subTest(msgid=entry.msgid[:80]):
                translated = french.get(entry.msgid)
                self.assertTrue(translated and translated.msgstr.strip(), "not translated to French")
                self.assertFalse(translated.fuzzy, "marked fuzzy: Odoo ignores it")
                self.assertEqual(sorted(_PLACEHOLDER.findall(entry.msgid)),
                                 sorted(_PLACEHOLDER.findall(translated.msgstr)))

    def test_french_loads_into_menus_labels_and_messages(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        self.env["ir.module.module"]._load_module_terms([MODULE], ["fr_FR"], overwrite=True)
        french = self.env(context={"lang": "fr_FR"})
        english = self.env(context={"lang": "en_US"})
        menu = self.env.ref("perimeter_security.perimeter_menu_allowlist")
        self.assertEqual(menu.with_env(french).name, "Liste d'autorisation IP")
        self.assertEqual(menu.with_env(english).name, "IP Allowlist")
        label = french["ir.model.fields"]._get("perimeter.allowlist", "expires_at").field_description
        self.assertEqual(label, "Expire")
        # A message worded on the Odoo side with env._: the same table the engine's sentences are read from.
        self.assertEqual(french._("Perimeter: %(client)s refused %(hits)s times", client="203.0.113.9", hits=3),
                         "Périmètre : 203.0.113.9 refusé 3 fois")
