"""A node dies while holding streams (issue 16, guarantee 7; docs/cluster.md
"A node is killed or stopped"), on a real PostgreSQL with two nodes.

Node A holds the streams of two devices and node B stays up throughout;
A is killed (SIGKILL) or stopped (SIGTERM) and never restarted:
- bob, streaming on A, whose client does not come back, is ended by B as a
  presence time-out (left_reason 5) within grace + 10 s of A's end, and each
  webhook gets one participant-left delivery for him;
- carol, streaming on A, reconnects her stream to B within the grace: she
  stays present and her stream on B stays live (it hears her kickout);
- alice joined on A and never streamed: she stays;
- dave streams on B throughout: he stays.
When A is killed while it holds webhook deliveries (attempts in flight at a
receiver that has not answered), B delivers them once their leases end:
every delivery ends delivered, none pending or leased to A.

Two orders of carol's return are tried besides the plain one (after A is
gone, before B takes A for dead): after B has taken A for dead and given
A's devices their grace (a longer grace), and, at a clean stop, as soon as
her stream on A ends, while A is still writing its stop.

Runs against the PostgreSQL of CTest's fixture `postgres`
(MEETD_TEST_POSTGRES); each test makes a database of its own there."""
import re
import signal
import subprocess
import threading
import time
import unittest

import meetd_harness as h
import test_webhooks
from meetd_harness import DEADLINE, kick_body, op_ms, tgt_ms
from test_crash import GRACE, LEFT, LEFT_TIMEOUT, crash, poll

TIMEOUT_MS = 2000   # --webhook-timeout-ms: a lease lasts this plus 5 s
NODE_ID_RE = re.compile(r"node id (\d+)")


class NodeDiesCase(test_webhooks.WebhookCase):
    """Two nodes and the scenario; the tests are in the classes below."""

    server_per_test = True
    server_nodes = 2
    server_args = ("--presence-grace", str(GRACE), "--heartbeat", "1",
                   "--webhook-timeout-ms", str(TIMEOUT_MS),
                   "--webhook-backoff-ms", "100", "--webhook-backoff-max-ms", "500")

    def setUp(self):
        super().setUp()
        self.a, self.b = self.nodes
        self.cb = self.b.client()

    # -- the rows
    def scalar(self, sql):
        return int(h.psql(self.server.postgres, sql))

    def node_id(self, node):
        line = node.wait_line(lambda l: NODE_ID_RE.search(l), what="'node id N'")
        return int(NODE_ID_RE.search(line).group(1))

    @staticmethod
    def device_no(dev):
        # The token is "<device_no>.<secret>" (docs/api.md "Device token").
        return int(dev["device_token"].split(".")[0])

    def stream_node(self, dev):
        out = h.psql(self.server.postgres, "SELECT coalesce(stream_node, 0) FROM devices "
                     "WHERE device_no = %d" % self.device_no(dev))
        return int(out)

    def stream_on(self, node, dev):
        """Opens dev's stream on node; returns it once its row names node."""
        s = h.EventStream(node.port, dev["device_token"])
        self.addCleanup(s.close)
        self.assertEqual(s.status, 200, "%s's stream refused" % dev["ms_open_id"])
        want = self.node_id(node)
        poll(lambda: self.stream_node(dev) == want, "%s's stream open recorded" % dev["ms_open_id"])
        return s

    def left(self, mid, dev):
        rows = {(r["ms_open_id"], r["instanceid"]): r for r in self.participants(mid, client=self.cb)}
        return "left_time" in rows[(dev["ms_open_id"], dev["instanceid"])]

    def lefts(self, path, dev):
        """participant-left POSTs answered 2xx at path for dev."""
        return [e for e in self.rx.accepted(path)
                if e.get("event") == LEFT
                and test_webhooks.item(e)["operator"]["ms_open_id"] == dev["ms_open_id"]]

    def converted(self, dev):
        """B took dev's node for dead: the row names no node, a grace runs."""
        out = h.psql(self.server.postgres, "SELECT stream_node IS NULL AND grace_until > 0 "
                     "FROM devices WHERE device_no = %d" % self.device_no(dev))
        return out == "t"

    # -- the scenario
    def scenario(self, take_down, hold_deliveries, carol_back=None, grace=GRACE):
        """take_down(node) ends A; carol_back(carol, her stream on A, bob)
        brings carol's stream to B and returns it (default: at once)."""
        creds = self.a.create_app("--name", h.uniq("nodedies"))
        ca, cb = self.a.client(creds), self.b.client(creds)
        self.cb = cb                 # read through B: A does not outlive the test
        paths = [self.hook_for(ca, h.uniq("dies"))[1] for _ in range(2)]
        a_id = self.node_id(self.a)
        if hold_deliveries:
            self.rx.hold(True)       # A's attempts stay in flight until the kill

        mid = self.new_meeting("alice", client=ca)
        alice = self.join(mid, "alice", 1, client=ca)   # never streams
        bob = self.join(mid, "bob", 2, client=ca)       # streams on A; never comes back
        carol = self.join(mid, "carol", 3, client=ca)   # streams on A; comes back on B
        dave = self.join(mid, "dave", 4, client=cb)     # streams on B throughout
        self.stream_on(self.a, bob)
        carol_a = self.stream_on(self.a, carol)
        dave_s = self.stream_on(self.b, dave)

        held = set()
        if hold_deliveries:
            total = self.scalar("SELECT count(*) FROM outbox WHERE app_id = '%s'" % creds["MEETD_APP_ID"])
            self.assertGreaterEqual(total, 8, "the joins' deliveries")
            self.rx.wait(lambda rx: rx.arrived >= total, "every delivery's first attempt")
            held = set(h.psql(self.server.postgres,
                              "SELECT delivery_id FROM outbox WHERE status = 0 AND leased_by = %d"
                              % a_id).split())
            self.assertTrue(held, "node A holds no delivery: the kill would test nothing")

        down = time.monotonic()
        take_down(self.a)
        self.rx.hold(False)
        carol_s = (carol_back or (lambda *_: self.stream_on(self.b, carol)))(carol, carol_a, bob)
        self.assertLess(time.monotonic() - down, grace, "carol came back after her grace")

        poll(lambda: self.left(mid, bob), "bob's time-out on B", grace + 10)
        self.assertLessEqual(time.monotonic() - down, grace + 10)
        self.assertEqual(self.scalar("SELECT left_reason FROM devices WHERE device_no = %d"
                                     % self.device_no(bob)), LEFT_TIMEOUT)
        for dev in (alice, carol, dave):
            self.assertFalse(self.left(mid, dev), "%s left with node A" % dev["ms_open_id"])
        self.assertEqual(self.stream_node(carol), self.node_id(self.b))

        # Every delivery settles delivered, by B: A is gone, so none may be
        # left pending or leased to it.
        for path in paths:
            self.rx.wait(lambda rx: len(self.lefts(path, bob)) >= 1, "bob's participant-left")
        test_webhooks.wait_for(lambda: self.all_settled(cb, "delivered", 1), "settled deliveries")
        self.assertEqual(self.scalar("SELECT count(*) FROM outbox WHERE status = 0"), 0)
        if held:
            delivered = set(h.psql(self.server.postgres,
                                   "SELECT delivery_id FROM outbox WHERE status = 1 AND "
                                   "delivery_id IN (%s)" % ",".join(held)).split())
            self.assertEqual(delivered, held, "deliveries held by A at the kill")
            got = {r["delivery"] for r in self.rx.requests if 200 <= r["status"] < 300}
            self.assertLessEqual(held, got, "a delivery A held never reached the receiver")
        # bob's participant-left was made by B after A's end: once per webhook.
        for path in paths:
            self.assertEqual(len(self.lefts(path, bob)), 1, "bob's participant-left on %s" % path)

        # carol's and dave's streams on B are live: they hear what B does.
        for dev, s in ((carol, carol_s), (dave, dave_s)):
            self.assert_ok(self.kickout(mid, kick_body(op_ms(alice), [tgt_ms(dev)]), client=cb))
            event, data = s.next_event(within=DEADLINE)
            self.assertEqual(event, "kicked", data)


class NodeDiesTest(NodeDiesCase):
    def test_sigkill_survivor_ends_devices_reconnected_stay(self):
        self.scenario(crash, hold_deliveries=True)

    def test_clean_stop_grace_from_the_stop(self):
        self.scenario(lambda node: node.stop(), hold_deliveries=False)

    def test_clean_stop_reconnected_while_the_node_stops(self):
        """carol's client comes back as soon as her stream on A ends, while
        A is still stopping: what A writes as it stops (her stream's close,
        the node's stop) concerns a row that names B by then, and leaves it."""
        def sigterm(node):
            node.proc.send_signal(signal.SIGTERM)

        def at_once(carol, carol_a, bob):
            while carol_a.next_event(within=DEADLINE) is not None:
                pass
            s = self.stream_on(self.b, carol)
            self.a.proc.wait(DEADLINE)
            self.a.stop()               # exited 0, no sanitizer report
            return s

        self.scenario(sigterm, hold_deliveries=False, carol_back=at_once)


class NodeDiesLongGraceTest(NodeDiesCase):
    """carol comes back after B has taken the killed A for dead (5 s after
    A's last heartbeat) and given A's devices their grace, within it."""

    GRACE = 9
    server_args = ("--presence-grace", str(GRACE)) + NodeDiesCase.server_args[2:]

    def test_sigkill_reconnected_after_the_takeover_stays(self):
        def after_takeover(carol, carol_a, bob):
            poll(lambda: self.converted(bob) and self.converted(carol), "B's take-over of A",
                 self.GRACE)
            return self.stream_on(self.b, carol)

        self.scenario(crash, hold_deliveries=False, carol_back=after_takeover, grace=self.GRACE)


if __name__ == "__main__":
    unittest.main()


class MovedBeforeTheOpenIsRecorded(NodeDiesCase):
    """A stream's open and close are written by the node's presence thread
    after the fact. A client that opens its stream on A and moves to B
    before A has written that open (A's writer busy: here a psql session
    holds the row lock of another meeting that a write to A waits for) must
    keep its row on B: A's late attach is a compare-and-set from the row its
    open read (no node), which B's attach has changed, so it is refused, and
    A's close then detaches nothing (src/live/presence.c).
    A runs one writer (--pg-writers 1), so that the lock holds up the
    presence thread's write as well as the join's: with several, the two
    would likely be on different writers and the open recorded in time."""

    server_args = NodeDiesCase.server_args + ("--pg-writers", "1")

    def test_late_attach_on_the_first_node_keeps_the_device_on_the_second(self):
        creds = self.a.create_app("--name", h.uniq("late"))
        ca, self.cb = self.a.client(creds), self.b.client(creds)
        mid, busy = self.new_meeting("alice", client=ca), self.new_meeting("alice", client=ca)
        self.join(mid, "alice", 1, client=ca)
        carol = self.join(mid, "carol", 3, client=ca)
        lock = subprocess.Popen(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-d",
                                 self.server.postgres], stdin=subprocess.PIPE,
                                stdout=subprocess.PIPE, text=True, env=h.child_env())
        self.addCleanup(lock.stdout.close)
        self.addCleanup(lock.wait, DEADLINE)
        self.addCleanup(lock.stdin.close)
        lock.stdin.write("BEGIN;\nSELECT 1 FROM meetings WHERE meeting_id = '%s' FOR UPDATE;\n"
                         "\\echo locked\n" % busy)
        lock.stdin.flush()
        poll(lambda: "locked" in lock.stdout.readline(), "psql's row lock")
        joined = {}
        writer = threading.Thread(target=lambda: joined.setdefault(
            "r", self.join_req(busy, "zed", 1, client=ca)))
        writer.start()
        poll(lambda: self.scalar("SELECT count(*) FROM pg_stat_activity WHERE "
                                 "wait_event_type = 'Lock' AND datname = current_database()"),
             "A's writer waiting for the lock")
        h.EventStream(self.a.port, carol["device_token"]).close()   # opened on A, gone
        carol_b = self.stream_on(self.b, carol)
        lock.stdin.write("COMMIT;\n")
        lock.stdin.flush()
        writer.join(DEADLINE)
        self.assert_ok(joined["r"])
        # A writes the open and the close it holds now; carol streams on B
        # throughout, so no grace may end her.
        with self.assertRaises(AssertionError):
            poll(lambda: self.left(mid, carol), "carol's end", GRACE + 3)
        self.assertEqual(self.stream_node(carol), self.node_id(self.b))
        carol_b.close()
