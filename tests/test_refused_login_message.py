"""The web login page of a client some held user is refused from: the network named as a possible cause.

Through the real login page: a right password of an employee outside their
networks, a wrong one and an unknown login read the same sentence with the
client's address; from where nobody is refused, Odoo's own words. One
access-log row per refused login.
"""

import re

from odoo.tests import tagged

from .common import INSIDE, OUTSIDE
from .test_audience import WRONG, AudienceCase

NETWORK = "cannot sign in from your network"


def error_of(page):
    """The error the login page shows, or None."""
    match = re.search(r'role="alert">\s*(.*?)\s*</p>', page.text, re.S)
    return match.group(1) if match else None


@tagged("post_install", "-at_install")
class TestRefusedLoginMessage(AudienceCase):
    def only_employees_held_to_the_office(self):
        """Internal users held to the office (their group's networks), nobody else named anywhere."""
        self.set_policy(mode="enforce", scope="internal", allow_loopback=False)
        self.env["res.users"].with_context(active_test=False).search([]).perimeter_allowlist_ids = False
        self.env["res.groups"].search([]).perimeter_allowlist_ids = False
        self.env.ref("base.group_user").perimeter_allowlist_ids = self.networks("office")
        self.env.flush_all()

    def test_outside_every_failed_login_names_the_network(self):
        self.only_employees_held_to_the_office()
        attempts = {"right": ("emma", "emma-password-1"), "wrong": ("emma", "not-her-password"),
                    "unknown": ("nobody-at-all", "emma-password-1")}
        pages = {name: self.form_login(login, password, source=OUTSIDE) for name, (login, password) in attempts.items()}
        for name, page in pages.items():
            self.assertEqual(page.status, 200, name)
            self.assertEqual(error_of(page), f"{WRONG}, or this account {NETWORK} (your address: {OUTSIDE})", name)
        # A right and a wrong password read the same page, token aside.
        token = re.compile(r"[0-9a-f]{40}o\d+")  # the CSRF token, in the form and in the page's script
        self.assertEqual(token.sub("", pages["right"].text), token.sub("", pages["wrong"].text))
        # Inside, where nobody is refused: Odoo's own words, and the right password signs in.
        self.assertEqual(error_of(self.form_login("emma", "not-her-password", source=INSIDE)), WRONG)
        self.assertEqual(self.form_login("emma", "emma-password-1", source=INSIDE).status, 303)

    def test_the_sentence_is_a_setting(self):
        self.only_employees_held_to_the_office()
        self.set_policy(refused_login_message="Not signed in. From home, use the VPN ({address}).")
        page = self.form_login("nobody-at-all", "x", source=OUTSIDE)
        self.assertEqual(error_of(page), f"Not signed in. From home, use the VPN ({OUTSIDE}).")
        settings = self.env["res.config.settings"].create({})
        self.assertEqual(settings.perimeter_refused_login_message,
                         "Not signed in. From home, use the VPN ({address}).")

    def test_monitor_mode_refuses_nobody(self):
        self.only_employees_held_to_the_office()
        self.set_policy(mode="monitor")
        self.assertEqual(error_of(self.form_login("emma", "not-her-password", source=OUTSIDE)), WRONG)

    def test_one_access_log_row_per_refused_login(self):
        self.only_employees_held_to_the_office()
        self.form_login("emma", "emma-password-1", source=OUTSIDE)
        rows = [(hit.reason, hit.login, hit.ip) for _db, hit in self.hits if hit.blocked]
        self.assertEqual(rows, [("user_network", "emma", OUTSIDE)], "one row, with the login")
        self.hits.clear()
        self.form_login("nobody-at-all", "x", source=OUTSIDE)
        rows = [(hit.reason, hit.ip) for _db, hit in self.hits if hit.blocked]
        self.assertEqual(rows, [("failed_login", OUTSIDE)])
        self.hits.clear()
        self.form_login("emma", "not-her-password", source=INSIDE)
        self.assertEqual([(hit.reason, hit.ip) for _db, hit in self.hits if hit.blocked], [("failed_login", INSIDE)])
