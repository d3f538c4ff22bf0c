from unittest.mock import patch

from odoo.tests import tagged
from odoo.tools import config

from .common import INSIDE, OUTSIDE, PROXY, PerimeterHttpCase

OUTSIDER = "203.0.113.7"  # in no rule, the demo data's included


@tagged("post_install", "-at_install")
class TestProxies(PerimeterHttpCase):
    """Who the client is: only a trusted proxy's headers count, and nothing can spoof its way in."""

    def setUp(self):
        super().setUp()
        self.strict_policy(trusted_proxies=f"{PROXY}/32\n10.0.0.0/8")
        self.set_policy(rules=["2001:db8::/32", "192.0.2.0/24"])

    def via_proxy(self, *headers, path="/web/login"):
        return self.get(path, source=PROXY, headers=list(headers))

    def test_trusted_proxy_x_forwarded_for(self):
        self.assertEqual(self.via_proxy(("X-Forwarded-For", INSIDE)).status, 200)
        self.assertRefused(self.via_proxy(("X-Forwarded-For", OUTSIDER)), OUTSIDER)
        hit = self.assertHit(OUTSIDER, "not_allowlisted")
        self.assertEqual(hit.peer, PROXY, "the access log keeps the proxy as peer")
        # The proxy itself is not a client: without headers it is judged on its own address.
        self.assertRefused(self.get("/web/login", source=PROXY), PROXY)

    def test_ipv6_and_ipv4_mapped_clients_through_the_proxy(self):
        self.assertEqual(self.via_proxy(("X-Forwarded-For", "2001:db8::42")).status, 200)
        self.assertEqual(self.via_proxy(("X-Forwarded-For", "2001:DB8:0:0::42")).status, 200)
        self.assertRefused(self.via_proxy(("X-Forwarded-For", "2001:db9::42")), "2001:db9::42")
        self.assertEqual(self.via_proxy(("X-Forwarded-For", "::ffff:192.0.2.77")).status, 200)
        self.assertEqual(self.via_proxy(("X-Forwarded-For", "::ffff:127.0.0.1")).status, 200)
        self.assertRefused(self.via_proxy(("X-Forwarded-For", f"::ffff:{OUTSIDER}")), OUTSIDER)
        self.assertEqual(self.via_proxy(("Forwarded", 'for="[2001:db8::7]:4711"')).status, 200)
        self.assertRefused(self.via_proxy(("Forwarded", 'for="[2001:db9::7]"')), "2001:db9::7")

    def test_forwarded_and_x_real_ip(self):
        self.assertEqual(self.via_proxy(("Forwarded", f"for={INSIDE};proto=http")).status, 200)
        self.assertRefused(self.via_proxy(("Forwarded", f"for={OUTSIDER}")), OUTSIDER)
        self.assertEqual(self.via_proxy(("X-Real-IP", INSIDE)).status, 200)
        self.assertRefused(self.via_proxy(("X-Real-IP", OUTSIDER)), OUTSIDER)
        # A forged list beside the one the proxy writes: every candidate must be allowed.
        self.assertRefused(self.via_proxy(("X-Forwarded-For", OUTSIDER), ("Forwarded", f"for={INSIDE}")), OUTSIDER)
        self.assertRefused(self.via_proxy(("X-Forwarded-For", INSIDE), ("Forwarded", f"for={OUTSIDER}")), OUTSIDER)
        # X-Real-IP does not override a list.
        self.assertRefused(self.via_proxy(("X-Forwarded-For", OUTSIDER), ("X-Real-IP", INSIDE)), OUTSIDER)

    def test_mixed_case_and_repeated_headers(self):
        self.assertEqual(self.via_proxy(("x-FORWARDED-for", INSIDE)).status, 200)
        self.assertRefused(self.via_proxy(("X-forwarded-FOR", OUTSIDER)), OUTSIDER)
        # Repeated headers are one list: the right-most (the proxy's own) entry decides.
        self.assertRefused(self.via_proxy(("X-Forwarded-For", INSIDE), ("X-Forwarded-For", OUTSIDER)), OUTSIDER)
        self.assertEqual(self.via_proxy(("X-Forwarded-For", OUTSIDER), ("X-Forwarded-For", INSIDE)).status, 200)
        self.assertRefused(self.via_proxy(("Forwarded", f"for={INSIDE}"), ("FORWARDED", f"for={OUTSIDER}")), OUTSIDER)

    def test_several_proxies_and_spoofed_prefixes(self):
        self.assertEqual(self.via_proxy(("X-Forwarded-For", f"{INSIDE}, 10.1.1.1, 10.2.2.2")).status, 200)
        self.assertRefused(self.via_proxy(("X-Forwarded-For", f"{OUTSIDER}, 10.1.1.1")), OUTSIDER)
        # Whatever the client prepends, the first untrusted hop from the right is the client.
        self.assertRefused(self.via_proxy(("X-Forwarded-For", f"{INSIDE}, {OUTSIDER}, 10.1.1.1")), OUTSIDER)
        self.assertRefused(self.via_proxy(("X-Forwarded-For", f"{INSIDE}, {OUTSIDER}")), OUTSIDER)

    def test_spoofing_from_an_untrusted_peer_is_refused(self):
        for header, value in (("X-Forwarded-For", INSIDE), ("Forwarded", f"for={INSIDE}"), ("X-Real-IP", INSIDE),
                              ("X-Forwarded-For", f"{PROXY}, {INSIDE}")):
            reply = self.get("/web/login", source=OUTSIDE, headers=[(header, value)])
            self.assertRefused(reply, OUTSIDE)
        self.assertHit(OUTSIDE, "untrusted_proxy_headers")
        # An allowlisted client sending proxy headers is let in on its own address, and reported.
        self.assertEqual(self.get("/web/login", headers=[("X-Forwarded-For", OUTSIDER)]).status, 200)
        self.assertHit(INSIDE, "untrusted_proxy_headers", blocked=False)

    def test_odoo_proxy_mode_cannot_be_used_to_spoof(self):
        """With proxy_mode, Odoo's ProxyFix believes X-Forwarded-For from anyone: the module does not."""
        with patch.dict(config.options, {"proxy_mode": True}):
            spoofed = self.get("/web/login", source=OUTSIDE,
                               headers=[("X-Forwarded-For", INSIDE), ("X-Forwarded-Host", "erp.example.com")])
            self.assertRefused(spoofed, OUTSIDE)
            relayed = self.via_proxy(("X-Forwarded-For", INSIDE), ("X-Forwarded-Host", "erp.example.com"))
            self.assertEqual(relayed.status, 200)
            self.assertRefused(self.via_proxy(("X-Forwarded-For", OUTSIDER), ("X-Forwarded-Host", "x")), OUTSIDER)

    def test_garbage_and_over_long_headers_never_500_never_in(self):
        garbage = [
            "garbage", "1.2.3.4.5", "", ",,,", f"{INSIDE}, evil", "unknown", "[::1", f"{INSIDE}]",
            f"{INSIDE}," * 2000, "a" * 9000, "\u00e9\u00e0", "for=", f"{INSIDE}%eth0", "0x7f.1",
        ]
        for value in garbage:
            for header in ("X-Forwarded-For", "Forwarded", "X-Real-IP", "X-Forwarded-Proto"):
                with self.subTest(header=header, value=value[:40]):
                    # From the trusted proxy, an unreadable client is never let in (nor is the proxy itself)...
                    self.assertEqual(self.get("/web/login", source=PROXY, headers=[(header, value)]).status, 403)
                    outsider = self.get("/web/login", source=OUTSIDE, headers=[(header, value)])
                    self.assertEqual(outsider.status, 403, "...and garbage never opens the door to an outsider")
        self.assertEqual(self.via_proxy(("Forwarded", 'for=127.0.0.1;;;"')).status, 403)
        too_deep = ", ".join([INSIDE] + ["10.0.0.1"] * 25)  # more trusted hops than any real chain
        self.assertEqual(self.via_proxy(("X-Forwarded-For", too_deep)).status, 403)
        self.assertEqual(self.via_proxy(("X-Forwarded-For", ", ".join([INSIDE] + ["10.0.0.1"] * 3))).status, 200)

    def test_loopback_sending_proxy_headers_is_not_loopback(self):
        """What Odoo's own TestDevice sends with proxy_mode on: this machine, with forwarded headers and an
        empty Host. Allow loopback covers this machine without proxy headers only, on every series."""
        self.env["perimeter.allowlist"].search([("network", "=", f"{INSIDE}/32")]).action_archive()
        self.set_policy(mode="enforce", allow_loopback=True, trusted_proxies=f"{PROXY}/32", rules=["10.79.0.0/24"])
        headers = [("X-Forwarded-For", "192.0.2.42"), ("X-Forwarded-Host", "odoo.com"), ("X-Forwarded-Proto", "https")]
        with patch.dict(config.options, {"proxy_mode": True}):
            self.assertRefused(self.get("/web/login", source=INSIDE, headers=headers, host=""), INSIDE)
        self.assertEqual(self.get("/web/login", source=INSIDE).status, 200, "without proxy headers it is loopback")
