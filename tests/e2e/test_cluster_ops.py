"""What several nodes on one PostgreSQL share beyond the rows of the API
(docs/cluster.md "What is shared"): one replay memory for every signed
request, webhook deliveries claimed with a lease, one rate limit per app.

Runs against the PostgreSQL of CTest's fixture `postgres`
(MEETD_TEST_POSTGRES); each test makes a database of its own there, or runs
a PostgreSQL of its own when it stops it (test_pg_outage.pg_test)."""
import collections
import concurrent.futures
import re
import tempfile
import time
import unittest
import urllib.parse

import meetd_harness as h
from test_pg_outage import pg_test
from test_webhooks import QUICK, Receiver, wait_for


class Nodes(h.MeetdCase):
    """Node A (self.server, signed for by self.client) and node B (self.b,
    self.cb) on one database: the fixture's, or `conninfo`."""

    server_per_test = True
    node_args = ()

    def start_nodes(self, conninfo=True, args=None):
        args = self.node_args if args is None else args
        self.server = h.Server(args, postgres=conninfo)
        self.addCleanup(self.server.close)
        self.server.start()
        self.addCleanup(self.server.stop)
        self.client = self.server.client()
        self.b = h.Server(args, postgres=self.server.postgres)
        self.addCleanup(self.b.close)
        self.b.start()
        self.addCleanup(self.b.stop)
        self.cb = self.b.client()

    def setUp(self):
        self.start_nodes()

    def wait_ok(self, req, what):
        """req() until it answers 200, within the harness's bound."""
        deadline = time.monotonic() + h.DEADLINE
        while True:
            resp = req()
            if resp.status == 200:
                return resp
            if time.monotonic() > deadline:
                self.fail("%s: no 200 within %s s: %r" % (what, h.DEADLINE, resp))
            time.sleep(0.1)


class ReplayAcrossNodes(Nodes):
    """Guarantee 4: a signed request accepted by one node is refused on every
    other, reads as well as writes."""

    def read_uri(self, mid):
        return "/v1/meetings/%s?userid=alice&instanceid=1" % mid

    def test_read_replayed_on_the_other_node_is_refused(self):
        mid = self.new_meeting("alice")
        nonce, ts = h.new_nonce(), h.now()
        self.assert_ok(self.client.get(self.read_uri(mid), nonce=nonce, timestamp=ts))
        self.assert_error(self.cb.get(self.read_uri(mid), nonce=nonce, timestamp=ts),
                          400, 190301)
        # Refused on the node that answered it too, and a fresh nonce reads.
        self.assert_error(self.client.get(self.read_uri(mid), nonce=nonce, timestamp=ts),
                          400, 190301)
        self.assert_ok(self.cb.get(self.read_uri(mid)))

    def test_each_read_route_spends_its_nonce(self):
        mid = self.new_meeting("alice")
        for uri in (self.read_uri(mid),
                    "/v1/meetings?userid=alice&instanceid=1",
                    "/v1/meetings/%s/participants?userid=alice" % mid,
                    "/meetd/v1/meetings/%s/audit?userid=alice&instanceid=1" % mid,
                    "/meetd/v1/webhooks"):
            with self.subTest(uri=uri):
                nonce, ts = h.new_nonce(), h.now()
                self.assert_ok(self.client.get(uri, nonce=nonce, timestamp=ts))
                self.assert_error(self.cb.get(uri, nonce=nonce, timestamp=ts), 400, 190301)


class ReplayAfterPostgresRestart(Nodes):
    """The spent triple of a read is committed before the read is answered:
    a PostgreSQL stopped and started again still knows it."""

    def setUp(self):
        h.pg_base()
        self.pgdir = tempfile.mkdtemp(prefix="meetd-pgr-", dir="/tmp")
        self.addCleanup(pg_test, "stop", self.pgdir)
        self.start_nodes(pg_test("start", self.pgdir))

    def test_read_replayed_after_a_restart_of_postgres_is_refused(self):
        mid = self.new_meeting("alice")
        uri = "/v1/meetings/%s?userid=alice&instanceid=1" % mid
        nonce, ts = h.new_nonce(), h.now()
        self.assert_ok(self.client.get(uri, nonce=nonce, timestamp=ts))
        pg_test("down", self.pgdir)
        pg_test("up", self.pgdir)
        # B has its connections back (a fresh read answers), then the replay.
        self.wait_ok(lambda: self.cb.get(uri), "a read on B")
        self.assert_error(self.cb.get(uri, nonce=nonce, timestamp=ts), 400, 190301)


class WebhooksAcrossNodes(Nodes):
    """Guarantee 7, webhooks: each delivery is attempted by one node at a
    time (a lease, docs/cluster.md), and a node killed while it holds some
    leaves them to the other once the leases end."""

    TIMEOUT_MS = 3000
    LEASE_MS = TIMEOUT_MS + 5000      # WEBHOOK_LEASE_SLACK_MS, src/live/webhook.c
    node_args = QUICK + ("--webhook-timeout-ms", str(TIMEOUT_MS))

    def setUp(self):
        super().setUp()
        self.rx = Receiver().start()
        self.addCleanup(self.rx.stop)
        self.addCleanup(lambda: self.assertEqual(self.rx.bad, [], "malformed deliveries"))
        url = self.rx.url(h.uniq("cluster"))
        hook = self.assert_ok(self.client.post("/meetd/v1/webhooks", {"url": url}))
        self.rx.tokens[urllib.parse.urlsplit(url).path] = hook["token"]

    def delivered(self, n):
        """The app's deliveries, once there are n and all are delivered."""
        rows = self.assert_ok(self.cb.get("/meetd/v1/webhooks/deliveries?size=100"))
        rows = rows["deliveries"]
        return rows if len(rows) == n and all(r["status"] == "delivered" for r in rows) else None

    def requests_per_delivery(self):
        with self.rx.cond:
            return collections.Counter(r["delivery"] for r in self.rx.requests)

    def node_id(self, server):
        line = server.wait_line(lambda l: re.search(r"node id [0-9]+", l), what="node id")
        return re.search(r"node id ([0-9]+)", line).group(1)

    def test_each_delivery_made_once_while_both_nodes_run(self):
        # A slow receiver keeps deliveries pending while both nodes look.
        self.rx.delay = 0.05
        mid = self.new_meeting("alice")
        n = 24
        for i in range(n):
            self.join(mid, "u%d" % i, 1, client=self.client if i % 2 else self.cb)
        rows = wait_for(lambda: self.delivered(n), "%d deliveries delivered" % n)
        self.assertEqual(len({r["id"] for r in rows}), n)
        per = self.requests_per_delivery()
        self.assertEqual(sorted(per), sorted(r["id"] for r in rows))
        self.assertEqual([d for d, k in per.items() if k != 1], [], per)
        self.assertEqual(self.rx.arrived, n)

    def test_deliveries_of_a_killed_node_are_made_by_the_other(self):
        a_id = self.node_id(self.server)
        self.rx.hold(True)
        mid = self.new_meeting("alice")
        n = 8
        for i in range(n):
            self.join(mid, "u%d" % i, 1)                  # on A: A's worker wakes
        with self.rx.cond:
            self.assertTrue(self.rx.cond.wait_for(lambda: self.rx.arrived >= n, h.DEADLINE),
                            "%d of %d deliveries reached the receiver" % (self.rx.arrived, n))
            # Each attempted once: B does not take a delivery A holds.
            self.assertEqual(self.rx.arrived, n)
        held_by_a = int(h.psql(self.server.postgres, "SELECT count(*) FROM outbox "
                               "WHERE status = 0 AND leased_by = %s" % a_id))
        self.assertGreater(held_by_a, 0)
        proc, self.server.proc = self.server.proc, None
        proc.kill()                                        # SIGKILL, mid-delivery
        proc.wait()
        killed_at = time.monotonic()
        self.rx.hold(False)
        # B makes A's again once their leases end; nothing is left pending.
        rows = wait_for(lambda: self.delivered(n), "%d deliveries delivered by B" % n)
        self.assertGreaterEqual(time.monotonic() - killed_at, 0)
        per = self.requests_per_delivery()
        self.assertEqual(sorted(per), sorted(r["id"] for r in rows))
        # Twice: exactly those A held (in flight when it died); never more.
        self.assertEqual(sum(1 for k in per.values() if k == 2), held_by_a, per)
        self.assertEqual([d for d, k in per.items() if k > 2], [], per)
        self.assertEqual(h.psql(self.server.postgres,
                                "SELECT count(*) FROM outbox WHERE status <> 1"), "0")


class RateLimitAcrossNodes(Nodes):
    """Guarantee 10: --rate-limit R holds for an app across the nodes, within
    1.2 x R (docs/cluster.md): each node takes its tokens from one bucket in
    PostgreSQL, a chunk at a time."""

    RATE = 20
    SECONDS = 3.0
    node_args = ("--rate-limit", str(RATE))

    def hammer(self, clients):
        """Signed reads from 8 threads, spread over clients, for SECONDS:
        (admitted, refused)."""
        stop = time.monotonic() + self.SECONDS
        statuses = collections.Counter()

        def run(k):
            c = clients[k % len(clients)]
            n = collections.Counter()
            while time.monotonic() < stop:
                resp = c.get("/meetd/v1/webhooks")
                n[resp.status] += 1
                if resp.status not in (200, 429):
                    self.fail("neither 200 nor 429: %r" % resp)
                if resp.status == 429:
                    self.assertEqual(h._code(resp), 190310, resp)
            return n

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            for n in pool.map(run, range(8)):
                statuses.update(n)
        return statuses[200], statuses[429]

    def test_two_nodes_admit_the_rate_of_one(self):
        admitted, refused = self.hammer([self.client, self.cb])
        # Well above the rate, or the test proves nothing.
        self.assertGreater(admitted + refused, 3 * self.RATE * self.SECONDS)
        # The burst (R) and 1.2 x R a second.
        self.assertLessEqual(admitted, self.RATE + 1.2 * self.RATE * self.SECONDS,
                             (admitted, refused))

    def test_one_node_alone_admits_the_whole_rate(self):
        admitted, refused = self.hammer([self.client])
        self.assertGreater(refused, 0)
        # About R a second (not R / nodes): at least 0.8 x R x SECONDS.
        self.assertGreaterEqual(admitted, 0.8 * self.RATE * self.SECONDS, (admitted, refused))
        self.assertLessEqual(admitted, self.RATE + 1.2 * self.RATE * self.SECONDS,
                             (admitted, refused))


if __name__ == "__main__":
    unittest.main()
