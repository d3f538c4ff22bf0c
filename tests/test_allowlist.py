from datetime import timedelta

from freezegun import freeze_time

from odoo import fields
from odoo.exceptions import AccessError, ValidationError
from odoo.tests import TransactionCase, new_test_user, tagged


@tagged("post_install", "-at_install")
class TestAllowlist(TransactionCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.Allowlist = cls.env["perimeter.allowlist"]

    def test_network_is_stored_normalised(self):
        rule = self.Allowlist.create({"name": "Office", "network": " 10.1.2.3 "})
        self.assertEqual(rule.network, "10.1.2.3/32")
        rule.network = "2001:DB8:0::/32"
        self.assertEqual(rule.network, "2001:db8::/32")

    def test_invalid_networks_are_refused_with_their_value(self):
        cases = {
            "10.1.2.3/8": "did you mean '10.0.0.0/8'?",
            "fe80::1%eth0": "zone index",
            "not-an-ip": "'not-an-ip' is not a valid",
            "": "empty value",
        }
        for value, message in cases.items():
            with self.subTest(value=value), self.assertRaisesRegex(ValidationError, message.replace("?", r"\?")):
                self.Allowlist.create({"name": "Bad", "network": value})
        rule = self.Allowlist.create({"name": "Good", "network": "192.0.2.0/24"})
        with self.assertRaisesRegex(ValidationError, "did you mean '192.0.2.0/24'"):
            rule.write({"network": "192.0.2.9/24"})
        self.assertEqual(rule.network, "192.0.2.0/24")

    def test_an_invalid_network_is_refused_in_the_users_language_naming_the_value(self):
        self.env["res.lang"]._activate_lang("fr_FR")
        for lang, expected in (
            ("fr_FR", "'10.1.2.3/8' a des bits d'hôte positionnés : vouliez-vous dire '10.0.0.0/8' ?"),
            ("en_US", "'10.1.2.3/8' has host bits set: did you mean '10.0.0.0/8'?"),
        ):
            admin = new_test_user(self.env, login=f"perimeter_{lang}", groups="base.group_system", lang=lang)
            # The web client sends the user's language in the context of every call.
            rules = self.Allowlist.with_user(admin).with_context(lang=admin.lang)
            with self.subTest(lang=lang), self.assertRaises(ValidationError) as error:
                rules.create({"name": "Office", "network": "10.1.2.3/8"})
            self.assertEqual(error.exception.args[0], expected)
            # A row written around create/write is checked by the constraint, in the same words.
            rule = rules.create({"name": "Office", "network": "192.0.2.7"})
            self.env.cr.execute("UPDATE perimeter_allowlist SET network = '10.1.2.3/8' WHERE id = %s", [rule.id])
            rule.invalidate_recordset()
            with self.subTest(lang=lang, check="constraint"), self.assertRaises(ValidationError) as error:
                rule._check_network()
            self.assertEqual(error.exception.args[0], expected)
            rule.unlink()

    def test_duplicate_network_names_the_existing_rule_without_sql_error(self):
        # Not a network of the demo data (its "Head office" is 198.51.100.0/24).
        self.Allowlist.create({"name": "One", "network": "203.0.113.128/25"})
        with self.assertNoLogs("odoo.sql_db", level="ERROR"):
            with self.assertRaisesRegex(ValidationError, r'203.0.113.128/25 is already in the allowlist: rule "One"\.'):
                self.Allowlist.create({"name": "Two", "network": "203.0.113.128/25"})
            archived = self.Allowlist.create({"name": "Old VPN", "network": "10.8.0.0/16", "active": False})
            with self.assertRaisesRegex(ValidationError, r'rule "Old VPN", archived'):
                self.Allowlist.create({"name": "VPN", "network": "10.8.0.0/16"})
            other = self.Allowlist.create({"name": "Other", "network": "192.0.2.0/24"})
            with self.assertRaisesRegex(ValidationError, r'rule "One"'):
                other.write({"network": "203.0.113.128/25"})
            with self.assertRaisesRegex(ValidationError, "entered twice"):
                self.Allowlist.create([{"name": "A", "network": "203.0.113.1"},
                                       {"name": "B", "network": "203.0.113.1/32"}])
        self.assertEqual(other.network, "192.0.2.0/24")
        archived.write({"name": "Old VPN (2019)", "network": "10.8.0.0/16"})  # its own network: no complaint

    def test_a_rule_saved_already_expired_gets_a_warning(self):
        rule = self.Allowlist.new({"name": "Fair", "network": "192.0.2.0/24",
                                   "expires_at": fields.Datetime.now() - timedelta(days=1)})
        warning = rule._onchange_expires_at_warn_expired()
        self.assertIn("already expired", warning["warning"]["title"])
        rule.expires_at = fields.Datetime.now() + timedelta(days=1)
        self.assertFalse(rule._onchange_expires_at_warn_expired())

    def test_links_of_the_note_are_clickable(self):
        rule = self.Allowlist.create({"name": "Admitted", "network": "192.0.2.0/24",
                                      "note": "Admitted.\nAccess log: http://odoo.example.com/odoo/perimeter.access.log/7"})
        self.assertIn('<a href="http://odoo.example.com/odoo/perimeter.access.log/7"', rule.note_links)
        rule.note = "No link <b>here</b>"
        self.assertFalse(rule.note_links)

    def test_ipv4_mapped_rule_is_its_ipv4_twin(self):
        # Issue 10 #7: "::ffff:127.0.0.88" was stored as "::ffff:7f00:58/128", "127.0.0.88" was then
        # accepted beside it, and archiving that one still admitted the client through its twin.
        mapped = self.Allowlist.create({"name": "Mapped", "network": "::ffff:127.0.0.88"})
        self.assertEqual(mapped.network, "127.0.0.88/32")
        with self.assertRaisesRegex(ValidationError, r'127.0.0.88/32 is already in the allowlist: rule "Mapped"'):
            self.Allowlist.create({"name": "Twin", "network": "127.0.0.88"})
        wide = self.Allowlist.create({"name": "Mapped range", "network": "::ffff:10.0.0.0/104"})
        self.assertEqual(wide.network, "10.0.0.0/8")
        with self.assertRaisesRegex(ValidationError, r"did you mean '172.16.0.0/12'\?"):
            self.Allowlist.create({"name": "Host bits", "network": "::ffff:172.16.9.9/108"})
        mapped.active = False
        self.assertNotIn("127.0.0.88", self.Allowlist._get_allowed_networks())

    def test_compiled_networks_follow_every_change(self):
        Allowlist = self.Allowlist
        self.assertNotIn("203.0.113.9", Allowlist._get_allowed_networks())
        rule = Allowlist.create({"name": "Partner", "network": "203.0.113.0/24"})
        self.assertIn("203.0.113.9", Allowlist._get_allowed_networks())
        rule.network = "203.0.113.128/25"
        self.assertNotIn("203.0.113.9", Allowlist._get_allowed_networks())
        self.assertIn("203.0.113.200", Allowlist._get_allowed_networks())
        rule.active = False
        self.assertNotIn("203.0.113.200", Allowlist._get_allowed_networks())
        rule.active = True
        self.assertIn("203.0.113.200", Allowlist._get_allowed_networks())
        rule.unlink()
        self.assertNotIn("203.0.113.200", Allowlist._get_allowed_networks())

    def test_ipv6_and_ipv4_mapped_clients(self):
        self.Allowlist.create([
            {"name": "v4", "network": "10.0.0.0/8"},
            {"name": "v6", "network": "2001:db8::/32"},
        ])
        networks = self.Allowlist._get_allowed_networks()
        self.assertIn("::ffff:10.9.8.7", networks)
        self.assertIn("2001:db8:ffff::1", networks)
        self.assertNotIn("2001:db9::1", networks)

    def test_expired_rules_stop_counting(self):
        now = fields.Datetime.now()
        self.Allowlist.create([
            {"name": "Expired", "network": "192.0.2.0/25", "expires_at": now - timedelta(minutes=1)},
            {"name": "Soon", "network": "203.0.113.128/25", "expires_at": now + timedelta(hours=1)},
        ])
        networks = self.Allowlist._get_allowed_networks()
        self.assertNotIn("192.0.2.1", networks)
        self.assertIn("203.0.113.129", networks)
        # Once its moment passes, the cached set is rebuilt without the rule.
        with freeze_time(now + timedelta(hours=2)):
            self.assertNotIn("203.0.113.129", self.Allowlist._get_allowed_networks())

    def test_expired_filter_and_address_search(self):
        now = fields.Datetime.now()
        expired = self.Allowlist.create(
            {"name": "Old", "network": "192.0.2.0/24", "expires_at": now - timedelta(days=1)}
        )
        current = self.Allowlist.create({"name": "New", "network": "10.20.0.0/16"})
        mine = [("id", "in", (expired | current).ids)]  # the database may hold rules of its own (demo data)
        self.assertEqual(self.Allowlist.search([("is_expired", "=", True), *mine]), expired)
        self.assertIn(current, self.Allowlist.search([("is_expired", "=", False)]))
        self.assertNotIn(expired, self.Allowlist.search([("is_expired", "=", False)]))
        self.assertEqual(self.Allowlist.search([("contains_address", "ilike", "10.20.3.4")]), current)
        self.assertFalse(self.Allowlist.search([("contains_address", "ilike", "10.21.3.4")]))
        self.assertFalse(self.Allowlist.search([("contains_address", "ilike", "garbage")]))

    def test_only_administrators_see_the_allowlist(self):
        self.Allowlist.create({"name": "Office", "network": "10.0.0.0/8"})
        internal = new_test_user(self.env, login="perimeter_internal", groups="base.group_user")
        with self.assertRaises(AccessError):
            self.Allowlist.with_user(internal).search([])
        admin = new_test_user(self.env, login="perimeter_admin", groups="base.group_system")
        self.assertTrue(self.Allowlist.with_user(admin).search([]))
