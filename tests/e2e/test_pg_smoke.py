"""meetd on PostgreSQL (docs/cluster.md): nodes started with the same
--postgres serve the same apps, meetings, devices and bans.

Runs against the PostgreSQL of CTest's fixture `postgres` (MEETD_TEST_POSTGRES);
each test makes a database of its own there."""
import concurrent.futures
import unittest

import meetd_harness as h
from meetd_harness import kick_body, op_ms, tgt_ms


class TwoNodes(h.MeetdCase):
    """Node A and node B on one new database; self.client signs for A."""

    server_per_test = True

    def setUp(self):
        self.server = h.Server(postgres=True)
        self.addCleanup(self.server.close)
        self.server.start()
        self.addCleanup(self.server.stop)
        self.client = self.server.client()
        self.b = h.Server(postgres=self.server.postgres)
        self.addCleanup(self.b.close)
        self.b.start()
        self.addCleanup(self.b.stop)
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


class ThreeNodesStartTogether(unittest.TestCase):
    def test_one_development_app_and_one_schema(self):
        conninfo, db = h.pg_create_database()
        self.addCleanup(h.pg_drop_database, db)
        nodes = [h.Server(postgres=conninfo) for _ in range(3)]
        for n in nodes:
            self.addCleanup(n.close)
        with concurrent.futures.ThreadPoolExecutor(3) as pool:
            list(pool.map(lambda n: n.start(), nodes))
        for n in nodes:
            self.addCleanup(n.stop)
        self.assertEqual(h.psql(conninfo, "SELECT count(*) FROM apps"), "1")
        self.assertEqual(h.psql(conninfo, "SELECT version FROM meetd_schema"), "10")
        ids = {n.creds["MEETD_SECRET_ID"] for n in nodes}
        self.assertEqual(len(ids), 1, ids)
        created = [n for n in nodes if "created a development app" in n.stdout()]
        self.assertEqual(len(created), 1)
        applied = sum(len(n.lines_with("schema 0 -> 8 applied")) for n in nodes)
        self.assertEqual(applied, 1)


if __name__ == "__main__":
    unittest.main()
