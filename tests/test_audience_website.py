"""The audiences on a database with Odoo's website and portal, through their real pages.

Scope ``internal``: the public and portal side stays everybody's, staff stay held to their networks.
Scope ``all``: website turns ``/web/login`` into a public website page and renders the errors of its
pages itself; neither may change what the perimeter answers: refusals are the module's neutral page,
and a user held to a reserved network logs in through the login page from there as through JSON.

The test command installs ``website``, ``portal`` and ``project`` beside the module in its run with
demo data and names them in ``$PERIMETER_TEST_MODULES``: there, a missing one fails these tests
instead of skipping them. Elsewhere (a database without them) they are skipped, and listed.
"""

import os
import re
import unittest

from odoo.tests import tagged

from .common import INSIDE, OUTSIDE
from .test_audience import PARTNER, WRONG, AudienceCase

NEEDED = ("website", "portal", "project")
WEBSITE_WORDS = ("Powered by", "o_footer", "o_main_navbar", "top_menu", "Contact Us")


class WebsiteCase(AudienceCase):
    """Runs where website, portal and project are installed; fails where the run promised them."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        installed = cls.env["ir.module.module"].search([("name", "in", NEEDED), ("state", "=", "installed")])
        missing = sorted(set(NEEDED) - set(installed.mapped("name")))
        expected = set(filter(None, os.environ.get("PERIMETER_TEST_MODULES", "").split(",")))
        if missing and expected & set(missing):
            raise AssertionError(f"this run installs {', '.join(sorted(expected))} but the database lacks "
                                 f"{', '.join(missing)}: the website and portal tests cannot run")
        if missing:
            raise unittest.SkipTest(f"needs {', '.join(missing)} installed")


@tagged("post_install", "-at_install")
class TestScopeInternalWebsite(WebsiteCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        customer = cls.env["res.partner"].create({"name": "Perimeter Customer", "email": "customer@example.com"})
        project = cls.env["project.project"].create({
            "name": "Perimeter Fit-out", "privacy_visibility": "portal", "partner_id": customer.id})
        cls.task = cls.env["project.task"].create({
            "name": "Perimeter fence survey", "project_id": project.id, "partner_id": customer.id})
        cls.task_token = cls.task._portal_ensure_token()

    def assertNobodyBlocked(self):
        self.assertFalse([hit for _db, hit in self.hits if hit.blocked], self.hits)

    def test_an_outsider_reaches_the_website_and_the_portal(self):
        self.hold("internal")
        home = self.get("/", source=OUTSIDE)
        self.assertEqual(home.status, 200, home)
        self.assertIn('id="wrapwrap"', home.text, "the website's home page")
        contact = self.get("/contactus", source=OUTSIDE)
        self.assertEqual(contact.status, 200, contact)
        self.assertIn("Contact us", contact.text)
        # A customer opens the task shared with them, by the link of its notification.
        document = self.get(f"/my/tasks/{self.task.id}?access_token={self.task_token}", source=OUTSIDE)
        self.assertEqual(document.status, 200, document)
        self.assertIn("Perimeter fence survey", document.text)
        # A portal user signs in from home and reaches their portal.
        answer, sid = self.session_login("paula", "paula-password-1", source=OUTSIDE)
        self.assertEqual(answer["result"]["uid"], self.portal.id)
        portal = self.get("/my", cookies={"session_id": sid}, source=OUTSIDE)
        self.assertEqual(portal.status, 200, portal)
        self.assertIn("o_portal_my_home", portal.text)
        self.assertIn(self.portal.name, portal.text)
        self.assertNobodyBlocked()

    def test_a_wrong_token_is_no_way_in(self):
        self.hold("internal")
        wrong = self.get(f"/my/tasks/{self.task.id}?access_token={'0' * 36}", source=OUTSIDE)
        self.assertEqual(wrong.status, 303, wrong)
        self.assertNotIn("Perimeter fence survey", wrong.text)

    def test_an_internal_user_held_to_networks_is_refused_outside(self):
        self.hold("internal")
        # The website's login form: her right password is a wrong one from outside.
        self.assertIn("Wrong login/password", self.form_login("emma", "emma-password-1", source=OUTSIDE).text)
        answer, _sid = self.session_login("emma", "emma-password-1", source=OUTSIDE)
        self.assertEqual(answer["error"]["data"]["name"], "odoo.exceptions.AccessDenied")
        # Signed in at the office, she reaches her portal there...
        _answer, sid = self.session_login("emma", "emma-password-1", source=INSIDE)
        mine = self.get("/my", cookies={"session_id": sid}, source=INSIDE)
        self.assertEqual(mine.status, 200, mine)
        self.assertIn("o_portal_my_home", mine.text)
        # ...but her session taken outside is ended: the portal sends her to the login page,
        page = self.get("/my", cookies={"session_id": sid}, source=OUTSIDE)
        self.assertEqual(page.status, 303, page)
        self.assertIn("/web/login", page.header("Location"))
        self.assertEqual([(hit.ip, hit.blocked) for hit in self.user_hits("emma")][-1], (OUTSIDE, True))
        # and the cookie is dead at the office too.
        self.assertEqual(self.get("/my", cookies={"session_id": sid}, source=INSIDE).status, 303)

    def test_an_internal_user_outside_sees_the_website_as_a_visitor(self):
        self.hold("internal")
        _answer, sid = self.session_login("emma", "emma-password-1", source=INSIDE)
        inside = self.get("/contactus", cookies={"session_id": sid}, source=INSIDE)
        self.assertIn(self.employee.name, inside.text, "signed in, the website names her")
        outside = self.get("/contactus", cookies={"session_id": sid}, source=OUTSIDE)
        self.assertEqual(outside.status, 200, outside)
        self.assertNotIn(self.employee.name, outside.text, "from outside she is an anonymous visitor")
        self.assertTrue(re.search(r'href="/web/login[^"]*"', outside.text), "with the Sign in link")
        # The task shared by its token stays readable from anywhere, even with her dead cookie.
        document = self.get(f"/my/tasks/{self.task.id}?access_token={self.task_token}",
                            cookies={"session_id": sid}, source=OUTSIDE)
        self.assertEqual(document.status, 200, document)
        self.assertIn("Perimeter fence survey", document.text)

    def test_in_scope_all_the_outsider_gets_no_page(self):
        self.hold("all")
        for path in ("/", "/contactus", "/my", f"/my/tasks/{self.task.id}?access_token={self.task_token}"):
            with self.subTest(path=path):
                self.assertRefused(self.get(path, source=OUTSIDE), OUTSIDE)
        self.assertEqual(self.get("/contactus", source=INSIDE).status, 200)


@tagged("post_install", "-at_install")
class TestScopeAllWithWebsite(WebsiteCase):
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
