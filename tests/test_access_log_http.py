"""The access log end to end, through Odoo's real HTTP server: what refused clients leave behind.

Requests come from distinct loopback addresses (``127.0.0.x``); enforcement
hands each refused (or monitored) request to ``access_log.record_hit``, and
``access_log.flush_now`` writes the rows (in test mode, through the test's
cursor: see docs/DESIGN.md "Blocked-access log › In tests").
"""

import threading
import time
from collections import Counter
from datetime import UTC, datetime, timedelta

from odoo.tests import tagged

from ..guard import access_log
from ..perimeter.access_log import LOG_WINDOW
from .common import INSIDE, OUTSIDE, PerimeterHttpCase

STATIC_FILE = "/web/static/img/favicon.ico"
FLOOD_CLIENTS = [f"127.0.0.{index}" for index in range(10, 30)]  # 20 distinct outsiders
FLOOD_REQUESTS = 600
FLOOD_THREADS = 3
FLOOD_PATHS = ("/web/login", STATIC_FILE, "/odoo", "/no/such/page")
FLOOD_TIMEOUT = 180  # seconds: the whole flood, a bound, not a measure
INSIDER_MIN, INSIDER_MAX = 20, 400  # requests of the allowlisted client during the flood


def _now():
    """Real time, as hits are stamped (the test transaction's clock stands still)."""
    return datetime.now(UTC).replace(tzinfo=None)


def _windows_between(start, end):
    """How many log windows (hours) the moments from ``start`` to ``end`` touch."""
    epoch = datetime(1970, 1, 1)
    return (end - epoch) // LOG_WINDOW - (start - epoch) // LOG_WINDOW + 1


@tagged("post_install", "-at_install")
class TestAccessLogHttp(PerimeterHttpCase):
    """Refused requests over HTTP become exact access log rows, and a refused client can be admitted."""

    def setUp(self):
        super().setUp()
        self.dbname = self.env.cr.dbname
        access_log.discard_pending()  # hits of earlier tests in this process are not ours
        self.addCleanup(access_log.discard_pending)
        self.started = _now()

    def rows(self, *domain):
        """The access log as it is now in the database (the flush wrote behind the ORM's back)."""
        Log = self.env["perimeter.access.log"]
        Log.invalidate_model()
        return Log.search(list(domain))

    def flush(self, expected_hits):
        """Write the pending hits; exactly ``expected_hits`` were waiting and are written."""
        self.assertEqual(access_log.pending_hits(self.dbname), expected_hits)
        self.assertEqual(access_log.flush_now(self.dbname), expected_hits)
        self.assertEqual(access_log.pending_hits(self.dbname), 0)

    def assertRowsPerWindow(self, rows, hits):
        """The rows of one (client, reason, verdict): one per hour touched, ``hits`` in all."""
        windows = _windows_between(self.started, _now())
        self.assertTrue(1 <= len(rows) <= windows, f"{len(rows)} rows for {windows} window(s): {rows}")
        self.assertEqual(len(set(rows.mapped("window_start"))), len(rows))
        self.assertEqual(sum(rows.mapped("hits")), hits)

    # -- the rows outlive the refusals ---------------------------------------------------------

    def test_rows_written_by_the_flush_survive_the_refused_requests(self):
        self.strict_policy()
        sent = [
            ("GET", "/odoo", "html"),
            ("GET", "/web/login", "html"),
            ("GET", STATIC_FILE, "html"),
            ("GET", "/no/such/page", "html"),
            ("POST", "/xmlrpc/2/common", "xmlrpc"),
        ]
        for number, (method, path, kind) in enumerate(sent, 1):
            headers = [("User-Agent", f"e2e-client/{number}")]
            if method == "POST":
                reply = self.xml_rpc(path, "version", [], source=OUTSIDE, headers=headers)
            else:
                reply = self.call(method, path, source=OUTSIDE, headers=headers)
            self.assertRefused(reply, OUTSIDE, kind)
        self.flush(len(sent))
        rows = self.rows(("ip", "=", OUTSIDE))
        self.assertRowsPerWindow(rows, len(sent))
        self.assertEqual(set(rows.mapped("reason")), {"not_allowlisted"})
        self.assertEqual(set(rows.mapped("blocked")), {True})
        latest = rows.sorted("last_seen")[-1]
        self.assertEqual((latest.path, latest.method, latest.user_agent),
                         ("/xmlrpc/2/common", "POST", f"e2e-client/{len(sent)}"))
        self.assertFalse(latest.peer, "no proxy: the peer is the client")
        self.assertLessEqual(min(rows.mapped("first_seen")), latest.last_seen)

        # More refusals: each rolls its own cursor back, and the rows written before stay as they were...
        for _ in range(2):
            self.assertRefused(self.get("/web/login", source=OUTSIDE, headers=[("User-Agent", "e2e-late")]), OUTSIDE)
        again = self.rows(("ip", "=", OUTSIDE))
        self.assertEqual((again, sum(again.mapped("hits")), again.sorted("last_seen")[-1].path),
                         (rows, len(sent), "/xmlrpc/2/common"))
        # ... until the next flush adds to them.
        self.flush(2)
        rows = self.rows(("ip", "=", OUTSIDE))
        self.assertRowsPerWindow(rows, len(sent) + 2)
        latest = rows.sorted("last_seen")[-1]
        self.assertEqual((latest.path, latest.method, latest.user_agent), ("/web/login", "GET", "e2e-late"))
        self.assertFalse(self.rows(("ip", "=", INSIDE)), "the allowlisted client is not logged")

    def test_monitor_mode_lets_the_request_through_and_logs_it(self):
        self.strict_policy(mode="monitor")
        reply = self.get("/web/login", source=OUTSIDE, headers=[("User-Agent", "e2e-monitored")])
        self.assertEqual(reply.status, 200, reply)
        self.assertIn("oe_login_form", reply.text, "the real login page, not a refusal")
        self.flush(1)
        row = self.rows(("ip", "=", OUTSIDE))
        self.assertEqual((row.reason, row.blocked, row.hits, row.path, row.user_agent),
                         ("not_allowlisted", False, 1, "/web/login", "e2e-monitored"))

    def test_proxy_headers_from_an_untrusted_peer(self):
        self.strict_policy()
        for header, value in (("X-Forwarded-For", INSIDE), ("Forwarded", f"for={INSIDE}")):
            self.assertRefused(self.get("/odoo", source=OUTSIDE, headers=[(header, value)]), OUTSIDE)
        self.flush(2)
        rows = self.rows(("ip", "=", OUTSIDE))
        self.assertRowsPerWindow(rows, 2)
        self.assertEqual(set(rows.mapped("reason")), {"untrusted_proxy_headers"})
        self.assertEqual(set(rows.mapped("blocked")), {True})
        self.assertFalse(self.rows(("ip", "=", INSIDE)), "the address named in the headers is not blamed")

    def test_a_nul_byte_from_a_client_does_not_stop_the_access_log(self):
        # Issue 10 #1: a refused request with a NUL in its user agent or path made every later flush fail.
        self.strict_policy()
        self.assertRefused(self.get("/web/login", source=OUTSIDE, headers=[("User-Agent", "a\x00b")]), OUTSIDE)
        self.flush(1)
        self.assertEqual(self.rows(("ip", "=", OUTSIDE)).user_agent, "a\\x00b", "the NUL is shown escaped")
        self.assertRefused(self.get("/odoo%00", source=OUTSIDE, headers=[("User-Agent", "nul-path")]), OUTSIDE)
        self.flush(1)
        row = self.rows(("ip", "=", OUTSIDE))
        self.assertEqual((row.hits, row.path, row.user_agent), (2, "/odoo\\x00", "nul-path"))
        # Later refusals, from another client, are still recorded.
        later = "127.0.0.9"
        self.assertRefused(self.get("/odoo", source=later, headers=[("User-Agent", "later")]), later)
        self.flush(1)
        self.assertEqual(self.rows(("ip", "=", later)).mapped("user_agent"), ["later"])

    # -- a flood ---------------------------------------------------------------------------------

    def send_flood(self):
        """Send the flood from FLOOD_THREADS threads while 127.0.0.1 keeps asking for the login page.

        Returns ``([(client, status)...] of the flood, [status...] of the allowlisted client, [errors])``.
        Bounded by count and by FLOOD_TIMEOUT.
        """
        flood_replies, insider_statuses, errors = [], [], []
        lock = threading.Lock()
        flood_done = threading.Event()
        deadline = time.monotonic() + FLOOD_TIMEOUT

        def flood(share):
            try:
                for number in share:
                    if time.monotonic() > deadline:
                        break
                    client = FLOOD_CLIENTS[number % len(FLOOD_CLIENTS)]
                    path = FLOOD_PATHS[number // len(FLOOD_CLIENTS) % len(FLOOD_PATHS)]
                    reply = self.get(path, source=client, headers=[("User-Agent", "flood")])
                    with lock:
                        flood_replies.append((client, reply.status))
            except Exception as error:  # reported by the main thread, which owns the assertions
                with lock:
                    errors.append(f"flood: {error!r}")

        def insider():
            try:
                count = 0
                while count < INSIDER_MAX and time.monotonic() < deadline and (
                        count < INSIDER_MIN or not flood_done.is_set()):
                    reply = self.get("/web/login")
                    count += 1
                    with lock:
                        insider_statuses.append(reply.status)
            except Exception as error:
                with lock:
                    errors.append(f"insider: {error!r}")

        numbers = range(FLOOD_REQUESTS)
        flooders = [threading.Thread(target=flood, args=(numbers[start::FLOOD_THREADS],), daemon=True)
                    for start in range(FLOOD_THREADS)]
        inside = threading.Thread(target=insider, daemon=True)
        with self.requests_allowed():  # once, for every thread (19's allow_requests is per test, not per thread)
            inside.start()
            for thread in flooders:
                thread.start()
            for thread in flooders:
                thread.join(max(0.0, deadline - time.monotonic()) + 30)
            flood_done.set()
            inside.join(max(0.0, deadline - time.monotonic()) + 30)
        self.assertFalse([thread for thread in [*flooders, inside] if thread.is_alive()], "the flood is bounded")
        return flood_replies, insider_statuses, errors

    def test_bounded_flood_one_row_per_client_exact_hits(self):
        """600 refused requests from 20 addresses while an allowlisted client keeps working."""
        self.strict_policy()
        flood_replies, insider_statuses, errors = self.send_flood()
        self.assertEqual(errors, [])
        self.assertEqual(len(flood_replies), FLOOD_REQUESTS, "every flood request was answered in time")
        self.assertEqual(Counter(status for _client, status in flood_replies), {403: FLOOD_REQUESTS})
        self.assertGreaterEqual(len(insider_statuses), INSIDER_MIN)
        self.assertEqual(Counter(insider_statuses), {200: len(insider_statuses)}, "the allowlisted client never failed")

        self.flush(FLOOD_REQUESTS)
        sent = Counter(client for client, _status in flood_replies)
        rows = self.rows(("ip", "in", FLOOD_CLIENTS))
        self.assertEqual(set(rows.mapped("reason")), {"not_allowlisted"})
        self.assertEqual(set(rows.mapped("blocked")), {True})
        self.assertEqual(set(rows.mapped("ip")), set(FLOOD_CLIENTS))
        for client in FLOOD_CLIENTS:
            with self.subTest(client=client):
                self.assertRowsPerWindow(rows.filtered(lambda row, client=client: row.ip == client), sent[client])
        self.assertEqual(sum(rows.mapped("hits")), FLOOD_REQUESTS)
        self.assertFalse(self.rows(("ip", "=", INSIDE)), "the allowlisted client is not logged")

    # -- admit --------------------------------------------------------------------------------

    def test_admit_a_refused_client_from_its_row(self):
        self.strict_policy()
        other = "127.0.0.4"
        self.assertRefused(self.get("/web/login", source=OUTSIDE), OUTSIDE)
        self.assertRefused(self.get(STATIC_FILE, source=OUTSIDE), OUTSIDE)
        self.assertRefused(self.get("/web/login", source=other), other)
        self.flush(3)
        rows = self.rows(("ip", "=", OUTSIDE))
        self.assertRowsPerWindow(rows, 2)

        action = rows.action_perimeter_admit()
        wizard = self.env[action["res_model"]].with_context(**action["context"]).create({"scope": "address"})
        self.assertIn(f"{OUTSIDE}/32: a rule will be added.", wizard.plan)
        wizard.action_admit()
        self.env.flush_all()
        rule = self.env["perimeter.allowlist"].search([("network", "=", f"{OUTSIDE}/32")])
        self.assertIn(f"2 refused requests from {OUTSIDE}", rule.note)

        # The very next requests, without any cache being dropped by hand: both tiers let it in.
        self.assertEqual(self.get("/web/login", source=OUTSIDE).status, 200)
        self.assertEqual(self.get(STATIC_FILE, source=OUTSIDE).status, 200)
        self.assertEqual(self.get("/odoo", source=OUTSIDE).status, 303, "to the login page, as for anyone")
        # Only that address was admitted.
        self.assertRefused(self.get("/web/login", source=other), other)
        self.flush(1)
        self.assertEqual(sum(self.rows(("ip", "=", OUTSIDE)).mapped("hits")), 2, "an admitted client is not logged")
        self.assertEqual(sum(self.rows(("ip", "=", other)).mapped("hits")), 2)

    def test_windows_helper_counts_hours(self):
        """The helper the assertions rely on (a wrong count would hide duplicate rows)."""
        start = datetime(2024, 5, 1, 9, 59, 59)
        self.assertEqual(_windows_between(start, start + timedelta(seconds=0.5)), 1)
        self.assertEqual(_windows_between(start, start + timedelta(seconds=2)), 2)
        self.assertEqual(_windows_between(start.replace(minute=0, second=0), start), 1)
