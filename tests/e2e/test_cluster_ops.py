"""What several nodes on one PostgreSQL share beyond the rows of the API
(docs/cluster.md "What is shared"): one replay memory for every signed
request, webhook deliveries claimed with a lease, one rate limit per app.

Runs against the PostgreSQL of CTest's fixture `postgres`
(MEETD_TEST_POSTGRES); each test makes a database of its own there, or runs
a PostgreSQL of its own when it stops it (test_pg_outage.pg_test)."""
import tempfile
import time
import unittest

import meetd_harness as h
from test_pg_outage import pg_test


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


if __name__ == "__main__":
    unittest.main()
