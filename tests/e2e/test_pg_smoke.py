"""meetd on PostgreSQL (docs/cluster.md): nodes started with the same
--postgres serve the same apps, meetings, devices and bans.

Runs against the PostgreSQL of CTest's fixture `postgres` (MEETD_TEST_POSTGRES);
each test makes a database of its own there."""
import concurrent.futures
import contextlib
import re
import threading
import unittest

import meetd_harness as h
from meetd_harness import kick_body, op_ms, tgt_ms


class TwoNodes(h.MeetdCase):
    """Node A and node B on one new database; self.client signs for A."""

    server_per_test = True
    server_nodes = 2

    def setUp(self):
        super().setUp()
        self.b = self.nodes[1]
        self.cb = self.b.client()

    def test_nodes_share_the_development_app(self):
        same = {k: v for k, v in self.server.creds.items() if k != "MEETD_ENDPOINT"}
        self.assertEqual({k: v for k, v in self.b.creds.items() if k != "MEETD_ENDPOINT"}, same)
        self.assertEqual(self.b.creds["MEETD_ENDPOINT"], "http://127.0.0.1:%d" % self.b.port)
        self.assertIn("created a development app", self.server.stdout())
        self.assertNotIn("created a development app", self.b.stdout())
        self.assertEqual(h.psql(self.server.postgres, "SELECT count(*) FROM apps"), "1")

    def test_create_join_kickout_participants_across_nodes(self):
        mid = self.new_meeting("alice")                       # on A
        alice = self.join(mid, "alice", 1)                    # on A
        bob = self.join(mid, "bob", 2, client=self.cb)        # on B
        # Each node sees both devices.
        self.assertEqual(self.present(mid), sorted([(alice["ms_open_id"], 1),
                                                   (bob["ms_open_id"], 2)]))
        self.assertEqual(self.present(mid, client=self.cb), self.present(mid))
        # Kicked on B (banned), seen gone on A.
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)], allow_rejoin=False),
                     client=self.cb)
        self.assertEqual(self.present(mid), [(alice["ms_open_id"], 1)])
        rows = self.participants(mid)
        left = [r for r in rows if r["ms_open_id"] == bob["ms_open_id"]]
        self.assertEqual(len(left), 1, rows)
        self.assertRegex(left[0].get("left_time", ""), r"^[0-9]+$")
        # The ban holds on both nodes.
        self.assert_error(self.join_req(mid, "bob", 2), 403, 9101)
        self.assert_error(self.join_req(mid, "bob", 3, client=self.cb), 403, 9101)
        self.assertEqual(self.present(mid, client=self.cb), [(alice["ms_open_id"], 1)])
        # The audit of the kickout is one row, on either node.
        self.assertEqual(len(self.audit(mid)), 1)
        self.assertEqual(self.audit(mid), self.audit(mid, client=self.cb))

    def test_write_replayed_on_the_other_node_is_refused(self):
        mid = self.new_meeting("alice")
        self.join(mid, "alice", 1)
        body = {"userid": "carol", "instanceid": 1}
        uri = "/meetd/v1/meetings/%s/join" % mid
        nonce, ts = h.new_nonce(), h.now()
        first = self.client.post(uri, body, nonce=nonce, timestamp=ts)
        self.assert_ok(first)
        again = self.cb.post(uri, body, nonce=nonce, timestamp=ts)
        self.assert_error(again, 400, 190301)

    def test_rotated_key_is_refused_on_every_node_once_the_command_returns(self):
        mid = self.new_meeting("alice")
        # Both nodes have used (and may have cached) the key.
        self.assert_ok(self.query_req(mid))
        self.assert_ok(self.query_req(mid, client=self.cb))
        cp = self.b.app("rotate-key", self.server.creds["MEETD_APP_ID"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        new = dict(self.server.creds, **h.parse_credentials(cp.stdout))
        self.assertNotEqual(new["MEETD_SECRET_ID"], self.server.creds["MEETD_SECRET_ID"])
        for node in (self.server, self.b):
            with self.subTest(node=node.port):
                self.assertEqual(self.query_req(mid, client=node.client()).status, 401)
                self.assert_ok(self.query_req(mid, client=node.client(new)))


class ThreeNodesStartTogether(h.MeetdCase):
    """Issue 16, guarantee 9: three nodes started at once on an empty
    database, again on each of ROUNDS new databases (the race is in who
    takes the schema lock and who finds no app first)."""

    ROUNDS = 5
    APPLIED = re.compile(r"store: postgres: schema (\d+) -> (\d+) applied")
    server_per_test = True

    def setUp(self):
        pass        # each round starts its own nodes

    def one_round(self, stack):
        """stack: an ExitStack the round's nodes and database leave with."""
        conninfo, db = h.pg_create_database()
        stack.callback(h.pg_drop_database, db)
        nodes = [h.Server(postgres=conninfo) for _ in range(3)]
        for n in nodes:
            stack.callback(n.close)
        barrier = threading.Barrier(3)

        def start(n):
            barrier.wait(h.DEADLINE)
            n.start()

        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            list(pool.map(start, nodes))
        for n in nodes:
            stack.callback(n.stop)       # checked: exit 0, no sanitizer report
        self.assertEqual(h.psql(conninfo, "SELECT count(*) FROM apps"), "1")
        self.assertEqual(h.psql(conninfo, "SELECT count(*) FROM app_keys"), "1")
        version = h.psql(conninfo, "SELECT version FROM meetd_schema")
        self.assertEqual(h.psql(conninfo, "SELECT count(*) FROM meetd_schema"), "1")
        ids = {n.creds["MEETD_SECRET_ID"] for n in nodes}
        self.assertEqual(len(ids), 1, ids)
        created = [n for n in nodes if "created a development app" in n.stdout()]
        self.assertEqual(len(created), 1)
        # Each migration applied once, by one node, and they lead from 0 to
        # the version the database is at.
        steps = sorted((int(m.group(1)), int(m.group(2))) for n in nodes
                       for m in map(self.APPLIED.search, n.lines_with("schema "))
                       if m is not None)
        self.assertEqual([a for a, _ in steps], [0] + [b for _, b in steps[:-1]], steps)
        self.assertEqual(steps[-1][1], int(version), steps)
        # Every node serves the app.
        mid = self.new_meeting("alice", client=nodes[2].client())
        for n in nodes:
            self.query(mid, client=n.client())

    def test_one_development_app_and_one_schema(self):
        for r in range(self.ROUNDS):
            with self.subTest(round=r), contextlib.ExitStack() as stack:
                self.one_round(stack)


class WriterRoundTrips(h.MeetdCase):
    """meetd_store_round_trips_total: the writer's waits for the server,
    the bound on a node's writes (bench/README.md), counted rather than
    timed so that a loaded machine does not change it. Steps one after
    another, each its own batch (BEGIN and COMMIT included)."""

    server_per_test = True
    STEPS = 20

    def setUp(self):
        self.server = h.Server(postgres=True)
        self.addCleanup(self.server.close)
        self.server.start()
        self.addCleanup(self.server.stop)
        self.client = self.server.client()

    def test_round_trips_are_counted_per_kickout_step(self):
        mid = self.new_meeting("alice")
        alice = self.join(mid, "alice", 1)
        names = ["u%d" % i for i in range(self.STEPS)]
        devs = [self.join(mid, name, 1) for name in names]
        before = self.metrics()
        for name, dev in zip(names, devs):
            self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(dev)]))
            self.join(mid, name, 1)
        after = self.metrics()
        trips = after["meetd_store_round_trips_total"] - before["meetd_store_round_trips_total"]
        writes = after["meetd_store_writes_total"] - before["meetd_store_writes_total"]
        self.assertGreaterEqual(writes, 2 * self.STEPS)
        self.assertGreater(trips, 0)
        print("\nwriter round trips: %.1f per kickout step, %.1f per write "
              "(%d trips, %d writes, %d steps)"
              % (trips / self.STEPS, trips / writes, trips, writes, self.STEPS))


if __name__ == "__main__":
    unittest.main()
