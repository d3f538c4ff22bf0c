"""Scope ``all`` on a database where ``website`` is installed (the test command installs it).

Website turns ``/web/login`` into a public website page and renders the
errors of its pages itself; neither may change what the perimeter answers:
refusals are the module's neutral page, and a user held to a reserved network
logs in through the login page from there as through JSON.
"""

import re

from odoo.tests import tagged

from .common import INSIDE, OUTSIDE
from .test_audience import PARTNER, WRONG, AudienceCase

WEBSITE_WORDS = ("Powered by", "o_footer", "o_main_navbar", "top_menu", "Contact Us")


@tagged("post_install", "-at_install")
class TestScopeAllWithWebsite(AudienceCase):
    def setUp(self):
        super().setUp()
        website = self.env["ir.module.module"].search([("name", "=", "website")])
        self.assertEqual(website.state, "installed",
                         "these tests need the website module installed in the test database (scripts/test.py)")

    def assertNeutral(self, reply, address):
        self.assertRefused(reply, address)
        for word in WEBSITE_WORDS:
            self.assertNotIn(word, reply.text, "the module's own page, not the website's")

    def test_refusals_are_the_modules_page_not_the_websites(self):
        self.hold("all")
        self.assertEqual(self.get("/", source=INSIDE).status, 200, "the website is there")
        for path in ("/", "/contactus", "/web/login", "/odoo", "/no-such-page"):
            with self.subTest(path=path):
                self.assertNeutral(self.get(path, source=OUTSIDE), OUTSIDE)
        # From the partner's network (a reserved rule): no public page, refused as an outsider.
        for path in ("/", "/contactus", "/no-such-page"):
            with self.subTest(path=path, client="partner"):
                self.assertNeutral(self.get(path, source=PARTNER), PARTNER)
        self.assertHit(PARTNER, "not_allowlisted", path="/")

    def test_the_held_user_logs_in_through_the_page_from_their_network(self):
        self.hold("all")
        page = self.get("/web/login", source=PARTNER)
        self.assertEqual(page.status, 200, page)
        self.assertIn('name="csrf_token"', page.text)
        # What the page needs to be usable: its style sheets and scripts.
        assets = re.findall(r'(?:href|src)="(/web/assets/[^"]+)"', page.text)
        self.assertTrue(assets, page.text)
        for asset in assets:
            self.assertEqual(self.get(asset, source=PARTNER).status, 200, asset)
        # Through the page as through JSON.
        self.assertEqual(self.rpc_login("bot", "bot-password-1", source=PARTNER), self.bot.id)
        answer = self.form_login("bot", "bot-password-1", source=PARTNER)
        self.assertEqual(answer.status, 303, answer)
        self.assertNotIn("/web/login", answer.header("Location"))
        # Nobody else logs in from there, and the page is all the partner's network sees.
        self.assertIn(WRONG, self.form_login("emma", "emma-password-1", source=PARTNER).text)
        self.assertNeutral(self.get("/", source=PARTNER), PARTNER)
