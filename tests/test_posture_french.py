from unittest.mock import patch

from odoo.tests import TransactionCase, new_test_user, tagged
from odoo.tools import SQL, config

from ..guard import odoo_version
from ..perimeter import posture
from .test_posture import CAREFUL_OPTIONS

# What a French reader must see (i18n/fr.po); the English is the engine's own sentence.
LIST_DB_FR = (
    "Le gestionnaire de bases de données est public",
    "/web/database/manager liste les bases de données et propose de les sauvegarder, restaurer, dupliquer et "
    "supprimer à quiconque connaît le mot de passe maître.",
    "Définissez list_db = False dans le fichier de configuration d'Odoo (et dbfilter sur le nom de la base de "
    "données).",
)
LIST_DB_EN = (
    "The database manager is public",
    "/web/database/manager lists the databases and offers backup, restore, duplicate and drop to whoever knows "
    "the master password.",
    "Set list_db = False in the Odoo configuration file (and dbfilter to the database name).",
)
# Facts that are sentences themselves are translated too: the Settings path, "all interfaces".
MODE_FIX_FR = (
    "Ajoutez vos réseaux dans Périmètre › Règles › Liste d'autorisation IP, puis réglez le mode d'application "
    "sur « Surveillance », et plus tard sur « Application », dans Paramètres › Périmètre."
)
PROXY_MODE_DETAIL_FR = "Odoo écoute sur toutes les interfaces, donc quiconque le joint peut choisir son adresse"


@tagged("post_install", "-at_install")
class TestPostureFrench(TransactionCase):
    """Issue 13 #5: a finding is stored as facts and read in each reader's language, whoever ran the review."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.env["res.lang"]._activate_lang("fr_FR")
        manager = "perimeter_security.group_perimeter_manager"
        cls.french = new_test_user(cls.env, login="posture_fr", groups=manager, lang="fr_FR")
        cls.english = new_test_user(cls.env, login="posture_en", groups=manager, lang="en_US")
        cls.host = posture.local_hostname()

    def _as(self, user):
        """The findings model as ``user`` sees it in a request: in the user's own language."""
        return self.env(user=user, context={"lang": user.lang})["perimeter.posture.finding"]

    def _findings(self, user):
        return {f.key: f for f in self._as(user).search([("host", "=", self.host)])}

    def _worded(self, finding):
        return (finding.name, finding.detail, finding.fix)

    def test_the_daily_review_reads_in_french_for_a_french_reader(self):
        # The cron reviews in English (its user has no French context); the French reader still reads French.
        cron = self.env.ref("perimeter_security.ir_cron_perimeter_posture_review")
        # 19 runs the job on a cursor of its own: keep it in the test's transaction.
        odoo_version.same_transaction_for_new_cursors(self)
        with patch.dict(config.options, {**CAREFUL_OPTIONS, "list_db": True, "http_interface": ""}):
            cron.method_direct_trigger()
        french, english = self._findings(self.french), self._findings(self.english)
        self.assertEqual(self._worded(french["option:list_db"]), LIST_DB_FR)
        self.assertEqual(self._worded(english["option:list_db"]), LIST_DB_EN)
        self.assertEqual(french["module:mode"].fix, MODE_FIX_FR)
        self.assertIn(PROXY_MODE_DETAIL_FR, french["option:proxy_mode"].detail)
        self.assertIn("Odoo listens on all interfaces, so anyone", english["option:proxy_mode"].detail)
        self.assertEqual(french["option:list_db"].display_name, LIST_DB_FR[0])

    def test_a_french_administrators_review_reads_in_english_for_an_english_reader(self):
        with patch.dict(config.options, {**CAREFUL_OPTIONS, "admin_passwd": "admin"}):
            self._as(self.french).action_review()
        self.assertEqual(self._findings(self.english)["option:admin_passwd"].name, "The master password is 'admin'")
        self.assertEqual(self._findings(self.french)["option:admin_passwd"].name,
                         "Le mot de passe maître est « admin »")

    def test_findings_are_searched_by_the_words_the_reader_sees(self):
        with patch.dict(config.options, {**CAREFUL_OPTIONS, "list_db": True}):
            self._as(self.english).action_review()
        mine = [("host", "=", self.host)]
        french, english = self._as(self.french), self._as(self.english)
        public = "gestionnaire de bases de données est public"
        self.assertEqual(french.search([*mine, ("name", "ilike", public)]).key, "option:list_db")
        self.assertEqual(french.search([*mine, ("name", "ilike", "GESTIONNAIRE DE BASES DE DONNÉES EST")]).key,
                         "option:list_db", "like any list search: case does not matter")
        self.assertFalse(english.search([*mine, ("name", "ilike", public)]))
        self.assertEqual(english.search([*mine, ("name", "ilike", "database manager is public")]).key,
                         "option:list_db")
        self.assertEqual(english.search([*mine, ("fix", "ilike", "dbfilter")]).key, "option:list_db")
        self.assertEqual(french.search([*mine, ("detail", "ilike", "propose de les sauvegarder")]).key,
                         "option:list_db")
        self.assertEqual(english.search([*mine, ("name", "not ilike", "database manager")]),
                         english.search(mine) - english.search([*mine, ("name", "ilike", "database manager")]))
        # The search view's "Search Finding for: ..." and the name_search of a many2one go the same way.
        finding = french.search([*mine, ("key", "=", "option:list_db")])
        self.assertIn(finding.id, [id_ for id_, _name in french.name_search(public)])
        self.assertNotIn(finding.id, [id_ for id_, _name in english.name_search(public)])

    def test_a_finding_stored_as_words_before_facts_still_shows(self):
        # A table from before the facts: its English words are in the old columns, which init() turns into facts.
        old = self.env["perimeter.posture.finding"].create({
            "key": "option:list_db", "host": "old-server", "category": "server", "severity": "warning"})
        self.env.flush_all()
        cr = self.env.cr
        for column, words in zip(("name", "detail", "fix"), LIST_DB_EN, strict=True):
            cr.execute(SQL("ALTER TABLE perimeter_posture_finding ADD COLUMN %s text", SQL.identifier(column)))
            cr.execute(SQL("UPDATE perimeter_posture_finding SET %s = %s WHERE id = %s",
                           SQL.identifier(column), words, old.id))
        self.env["perimeter.posture.finding"].init()
        self.env.invalidate_all()
        self.assertEqual(self._worded(old.with_user(self.french).with_context(lang="fr_FR")), LIST_DB_EN,
                         "no facts to word again: shown as it was written")
        self.assertEqual(self._worded(old.with_user(self.english)), LIST_DB_EN)
