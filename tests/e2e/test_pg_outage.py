"""PostgreSQL goes away and comes back (docs/cluster.md "When PostgreSQL goes
away"): the node answers 5108 meanwhile, reconnects by itself, and a write
answered with an error is not there.

The test runs a PostgreSQL of its own (scripts/pg-test.sh in a temporary
directory), since it stops it; CTest's fixture `postgres` only tells it that
PostgreSQL is there to be run."""
import os
import subprocess
import tempfile
import time
import unittest

import meetd_harness as h

PG_TEST = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                       "pg-test.sh")


def pg_test(cmd, d):
    cp = subprocess.run([PG_TEST, cmd, d], stdin=subprocess.DEVNULL, capture_output=True,
                        text=True, timeout=120, env=h.child_env())
    if cp.returncode != 0:
        raise AssertionError("pg-test.sh %s failed: %s" % (cmd, cp.stderr))
    return cp.stdout.strip()


class OutageTest(h.MeetdCase):
    server_per_test = True

    def setUp(self):
        h.pg_base()     # run under the fixture, as every PostgreSQL test
        self.pgdir = tempfile.mkdtemp(prefix="meetd-pgo-", dir="/tmp")
        self.addCleanup(pg_test, "stop", self.pgdir)
        conninfo = pg_test("start", self.pgdir)
        self.server = h.Server(postgres=conninfo)
        self.addCleanup(self.server.close)
        self.server.start()
        self.addCleanup(self.server.stop)
        self.client = self.server.client()

    def wait_ok(self, req, what):
        """req() until it answers 200; the deadline is the harness's bound."""
        deadline = time.monotonic() + h.DEADLINE
        while True:
            resp = req()
            if resp.status == 200:
                return resp
            if time.monotonic() > deadline:
                self.fail("%s: no 200 within %s s of PostgreSQL's return: %r"
                          % (what, h.DEADLINE, resp))
            time.sleep(0.1)

    def test_healthz_follows_the_database(self):
        """/healthz asks the store (at most every 100 ms: docs/api.md
        "Health"): 5108 soon after PostgreSQL is down, 200 once it is back."""
        health = lambda: self.client.get("/healthz", signed=False)
        self.assertEqual(health().status, 200)
        pg_test("down", self.pgdir)
        deadline = time.monotonic() + h.DEADLINE
        while True:
            resp = health()
            if resp.status != 200:
                break
            if time.monotonic() > deadline:
                self.fail("/healthz still 200 %s s after PostgreSQL went down" % h.DEADLINE)
            time.sleep(0.02)
        self.assertEqual((resp.status, h._code(resp)), (500, 5108), resp)
        pg_test("up", self.pgdir)
        self.assertEqual(self.wait_ok(health, "/healthz").body, {"status": "ok"})

    def test_down_answers_5108_and_up_serves_again(self):
        mid = self.new_meeting("alice")
        alice = self.join(mid, "alice", 1)
        pg_test("down", self.pgdir)
        # A write and a read meanwhile: 5108, and the write is not made.
        resp = self.join_req(mid, "bob", 2)
        self.assertEqual((resp.status, h._code(resp)), (500, 5108), resp)
        resp = self.query_req(mid)
        self.assertEqual(h._code(resp), 5108, resp)
        pg_test("up", self.pgdir)
        # The node reconnects by itself.
        self.wait_ok(lambda: self.query_req(mid), "a read")
        self.assertEqual(self.present(mid), [(alice["ms_open_id"], 1)])
        bob = self.join(mid, "bob", 2)
        self.assertEqual(self.present(mid), sorted([(alice["ms_open_id"], 1),
                                                   (bob["ms_open_id"], 2)]))
        self.assertIn("store: postgres:", self.server.stderr())


if __name__ == "__main__":
    unittest.main()
