"""Crash safety (issue 6 item 3): SIGKILL meetd while clients kick and join,
restart it on the same data directory, and check that every acknowledged change
is there and nothing is half-applied.

What a 200 promises (docs/operations.md "Data", docs/api.md "Kickout"): the change is
committed -- with `--durability full` synced to disk, with `normal` it survives
a meetd crash. A kickout is one transaction: each removed device gets
`left_time`, its user a ban (allow_rejoin=false) and the removal one audit row
whose request_id is the request's X-TC-Trace. A webhook delivery row is written
in the same transaction as the change it reports (docs/api.md "Delivery").

The kill comes after a number of acknowledged operations (count-based), never
after a time. Requests in flight at the kill may or may not have been applied;
they must be all there or not at all.
"""
import base64
import http.server
import json
import os
import random
import signal
import sqlite3
import sys
import threading
import time
import unittest

import meetd_harness as h
from meetd_harness import DEADLINE, kick_body, op_userid, tgt_ms

JOINED = "meeting.participant-joined"
LEFT = "meeting.participant-left"
KICKED = "meeting.participant-kicked-out"
INSTANCES = (1, 2, 3, 4, 5)
REASON = "crash test"


# ---------------------------------------------------------------- helpers

def crash(server):
    """SIGKILL meetd and forget the process, so that a later stop() or start()
    works; fails if meetd had already died or reported a sanitizer error."""
    if server.peer is not None:
        crash(server.peer)      # cluster mode: "meetd" is both nodes
    proc = server.proc
    if proc is None or proc.poll() is not None:
        raise AssertionError("meetd was not running when the test meant to kill it\n%s"
                             % server.tail())
    proc.kill()
    rc = proc.wait(DEADLINE)
    for t in server._readers:
        t.join(DEADLINE)
    server.proc = None
    if rc != -signal.SIGKILL:
        raise AssertionError("meetd exited with %s, not by SIGKILL\n%s" % (rc, server.tail()))
    bad = h.sanitizer_reports(server.stderr())
    if bad:
        raise AssertionError("meetd reported %s before the kill\n%s" % (bad, server.tail(80)))


class Receiver:
    """A webhook receiver answering 200; keeps the decoded events."""

    def __init__(self):
        self.cond = threading.Condition()
        self.events = []
        rx = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()
                try:
                    event = json.loads(base64.b64decode(json.loads(raw)["data"]))
                except (ValueError, KeyError, TypeError):
                    event = {"unparsable": raw[:200].decode("utf-8", "replace")}
                with rx.cond:
                    rx.events.append(event)
                    rx.cond.notify_all()

            def log_message(self, *args):
                pass

        class Srv(http.server.ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 512    # meetd sends a batch at once after a restart

        self.srv = Srv(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.srv.serve_forever,
                                       kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()
        self.url = "http://127.0.0.1:%d/hook" % self.srv.server_address[1]

    def close(self):
        self.srv.shutdown()
        self.srv.server_close()
        self.thread.join(DEADLINE)

    def snapshot(self):
        with self.cond:
            return list(self.events)


class Load:
    """Shared state of the client threads: what was acknowledged."""

    def __init__(self, mids):
        self.cond = threading.Condition()
        self.acked = 0
        self.killed = False
        self.cut = 0             # requests that failed because of the kill (in flight)
        self.stop = False
        self.joins = []          # acknowledged joins: dicts
        self.refused = []        # (mid, userid, instanceid) answered 403/9101
        self.kicks = []          # acknowledged kickouts: dicts
        self.unexpected = []     # answers the contract does not allow here
        self.pool = {mid: [] for mid in mids}   # joined devices a kicker may pick

    def done(self):
        with self.cond:
            return self.stop


# ---------------------------------------------------------------- the test

class CrashTest(h.MeetdCase):
    server_per_test = True

    def setUp(self):
        # Servers are made per iteration below (MeetdCase.setUp would make one).
        unittest.TestCase.setUp(self)

    # -- load
    def call(self, load, fn):
        """fn() -> Resp, or None once meetd was killed (or the load stopped)."""
        try:
            return fn()
        except Exception as e:      # after a kill: any way a connection can fail
            with load.cond:
                if load.killed:
                    load.cut += 1
                    return None
                load.unexpected.append("transport error before the kill: %r" % e)
                load.stop = True
                load.cond.notify_all()
            return None

    def joiner(self, load, mids, seed, users):
        rnd = random.Random(seed)
        while not load.done():
            mid = rnd.choice(mids)
            userid = "u%d" % rnd.randrange(users)
            inst = rnd.choice(INSTANCES)
            resp = self.call(load, lambda: self.join_req(mid, userid, inst))
            if resp is None:
                return
            with load.cond:
                if resp.status == 200 and isinstance(resp.json, dict):
                    dev = dict(resp.json, mid=mid, userid=userid, trace=resp.trace)
                    load.joins.append(dev)
                    load.pool[mid].append(dev)
                    load.acked += 1
                elif (resp.status, h._code(resp)) == (403, 9101):
                    load.refused.append((mid, userid, inst))
                else:
                    load.unexpected.append("join %s %s/%d: %r" % (mid, userid, inst, resp))
                load.cond.notify_all()

    def kicker(self, load, mids, seed):
        rnd = random.Random(seed)
        while True:
            with load.cond:
                load.cond.wait_for(lambda: load.stop or any(load.pool.values()), DEADLINE)
                if load.stop:
                    return
                mid = rnd.choice([m for m in mids if load.pool[m]])
                devs = {(d["ms_open_id"], d["instanceid"]): d for d in load.pool[mid]}
                targets = rnd.sample(sorted(devs), min(len(devs), rnd.randint(1, 3)))
            body = kick_body(op_userid("alice"), [tgt_ms(devs[t]) for t in targets],
                             allow_rejoin=False, reason=REASON)
            resp = self.call(load, lambda: self.kickout(mid, body, prefer=True))
            if resp is None:
                return
            with load.cond:
                if resp.status == 200 and isinstance(resp.json, dict) and "results" in resp.json:
                    load.kicks.append({"mid": mid, "trace": resp.trace, "targets": targets,
                                       "results": resp.json["results"]})
                    load.acked += 1
                else:
                    load.unexpected.append("kickout %s %s: %r" % (mid, targets, resp))
                load.cond.notify_all()

    def run_until_killed(self, mids, kill_after, seed, users=40, joiners=3, kickers=2):
        load = Load(mids)
        threads = [threading.Thread(target=self.joiner, args=(load, mids, seed * 100 + i, users))
                   for i in range(joiners)]
        threads += [threading.Thread(target=self.kicker, args=(load, mids, seed * 100 + 50 + i))
                    for i in range(kickers)]
        for t in threads:
            t.start()
        try:
            with load.cond:
                reached = load.cond.wait_for(lambda: load.acked >= kill_after or load.stop,
                                             4 * DEADLINE)
                load.killed = True
            self.assertTrue(reached, "only %d acknowledged operations within %s s"
                            % (load.acked, 4 * DEADLINE))
            crash(self.server)
        finally:
            with load.cond:
                load.killed = True
                load.stop = True
                load.cond.notify_all()
            for t in threads:
                t.join(2 * DEADLINE)
        self.assertFalse([t for t in threads if t.is_alive()], "client threads hang")
        self.assertEqual(load.unexpected, [], "answers outside the contract under load")
        return load

    # -- checks after the restart
    def check_meeting(self, mid, load):
        rows = self.participants(mid)
        bans = self.bans(mid)["bans"]
        audit = self.audit(mid)
        kicks = [k for k in load.kicks if k["mid"] == mid]
        joins = [j for j in load.joins if j["mid"] == mid]

        sessions = {}                       # (ms_open_id, instanceid) -> rows in join order
        for r in rows:
            sessions.setdefault((r["ms_open_id"], r["instanceid"]), []).append(r)
        banned = {b["ms_open_id"]: b for b in bans}
        by_target = {}
        for a in audit:
            key = (a["target"]["ms_open_id"], a["target"]["instanceid"])
            by_target.setdefault(key, []).append(a)

        # 1. Every acknowledged kickout is fully there.
        for k in kicks:
            removed = {(r["ms_open_id"], r["instanceid"]) for r in k["results"]
                       if r["result"] == "removed"}
            mine = [a for a in audit if a["request_id"] == k["trace"]]
            self.assertEqual(sorted((a["target"]["ms_open_id"], a["target"]["instanceid"])
                                    for a in mine), sorted(removed),
                             "kickout %s (acknowledged): audit rows do not match the "
                             "devices it reported removed" % k["trace"])
            for a in mine:
                self.assertEqual((a["action"], a["allow_rejoin"], a["reason"],
                                  a["operator"]["userid"]), ("kickout", False, REASON, "alice"), a)
            for ms, inst in removed:
                self.assertIn(ms, banned, "kickout %s (acknowledged) removed %s/%d but its "
                              "ban is gone" % (k["trace"], ms, inst))
                self.assertIn((ms, inst), sessions, "removed device has no participant row")
                live = [r for r in sessions[(ms, inst)] if "left_time" not in r]
                self.assertEqual(live, [], "kickout %s (acknowledged) removed %s/%d but the "
                                 "device is present after the restart" % (k["trace"], ms, inst))

        # 2. Nothing half-applied: every audit row has its ban and its left device;
        # every ban comes from an audit row; no removal is logged twice.
        seen = set()
        for a in audit:
            key = (a["request_id"], a["target"]["ms_open_id"], a["target"]["instanceid"])
            self.assertNotIn(key, seen, "audit row twice: %r" % (a,))
            seen.add(key)
            ms, inst = key[1], key[2]
            self.assertIn(ms, banned, "audit row %r without its ban" % (a,))
            self.assertIn((ms, inst), sessions, "audit row %r without a participant row" % (a,))
            self.assertEqual([r for r in sessions[(ms, inst)] if "left_time" not in r], [],
                             "audit row %r but the device is still present" % (a,))
        audited_users = {a["target"]["ms_open_id"] for a in audit}
        for ms, ban in banned.items():
            self.assertIn(ms, audited_users, "ban %r without any audit row" % (ban,))
            self.assertIn(ban.get("request_id"),
                          {a["request_id"] for a in audit if a["target"]["ms_open_id"] == ms},
                          "ban %r: no audit row of its request" % (ban,))

        # 3. Every acknowledged join is there, present unless it was legitimately
        # ended: removed by a kickout, or replaced by a later join of that device.
        acked = {}
        for j in joins:
            acked.setdefault((j["ms_open_id"], j["instanceid"]), []).append(j)
        for key, js in acked.items():
            got = sessions.get(key, [])
            self.assertGreaterEqual(len(got), len(js),
                                    "%d acknowledged joins of %s/%d, %d participant rows after "
                                    "the restart (traces %s)" % (len(js), key[0], key[1], len(got),
                                                                 [j["trace"] for j in js]))
            for r in got:
                self.assertEqual((r["uuid"], r["userid"]), (js[0]["uuid"], js[0]["userid"]), r)
            for r in got[:-1]:
                self.assertIn("left_time", r, "a replaced session of %s/%d is still present"
                              % key)
            if key not in by_target:
                self.assertNotIn("left_time", got[-1],
                                 "acknowledged join of %s/%d (traces %s) ended without a "
                                 "kickout" % (key[0], key[1], [j["trace"] for j in js]))

        # 4. A 9101 answer saw a committed ban: it is still there.
        banned_users = {b["userid"] for b in bans}
        for m, userid, inst in load.refused:
            if m == mid:
                self.assertIn(userid, banned_users,
                              "%s was refused 9101 before the kill; no ban after it" % userid)
        return rows, audit

    def check_webhooks(self, rx, totals, load):
        """The outbox holds one delivery per committed join and removal, and
        every acknowledged one reaches the receiver (at least once)."""
        def deliveries():
            out, pos = [], 0
            for _ in range(1000):
                body = self.assert_ok(self.client.get(
                    "/meetd/v1/webhooks/deliveries?pos=%d&size=100" % pos))
                out += body["deliveries"]
                if not body["has_remaining"]:
                    return out
                pos = body["next_pos"]
            self.fail("deliveries paging does not end")

        rows = deliveries()
        counts = {}
        for d in rows:
            counts[d["event"]] = counts.get(d["event"], 0) + 1
        self.assertEqual(counts.get(JOINED, 0), totals["sessions"],
                         "joined deliveries vs committed device sessions")
        self.assertEqual(counts.get(KICKED, 0), totals["removals"],
                         "kicked-out deliveries vs committed removals (audit rows)")

        want = {(JOINED, j["trace"], j["ms_open_id"], str(j["instanceid"])) for j in load.joins}
        for k in load.kicks:
            for r in k["results"]:
                if r["result"] == "removed":
                    want.add((KICKED, k["trace"], r["ms_open_id"], str(r["instanceid"])))

        def heard():
            got = set()
            for e in rx.snapshot():
                try:
                    p = e["payload"][0]
                    who = p["to_operator"] if e["event"] == KICKED else p["operator"]
                    got.add((e["event"], e["trace_id"], who["ms_open_id"], who["instance_id"]))
                except (KeyError, IndexError, TypeError):
                    pass
            return got

        deadline = time.monotonic() + 3 * DEADLINE
        while True:
            missing = want - heard()
            if not missing:
                break
            if time.monotonic() > deadline:
                self.fail("%d acknowledged events never reached the webhook, e.g. %s"
                          % (len(missing), sorted(missing)[:5]))
            with rx.cond:
                rx.cond.wait(0.2)

    # -- one iteration
    def iteration(self, kill_after, seed, durability, self_check=False):
        self.server = h.Server(["--durability", durability, "--webhook-backoff-ms", "100",
                                "--webhook-backoff-max-ms", "500"])
        self.addCleanup(self.server.close)
        self.server.start()
        self.client = self.server.client()
        rx = Receiver()
        self.addCleanup(rx.close)
        self.assert_ok(self.client.post("/meetd/v1/webhooks", {"url": rx.url}))

        mids = [self.new_meeting("alice") for _ in range(2)]
        seeds = []
        for mid in mids:                    # alice's join starts each meeting
            resp = self.join_req(mid, "alice", 1)
            seeds.append(dict(self.assert_ok(resp), mid=mid, userid="alice", trace=resp.trace))
        load = self.run_until_killed(mids, kill_after, seed)
        load.joins += seeds

        self.server.start()                 # same data dir
        totals = {"sessions": 0, "removals": 0}
        for mid in mids:
            rows, audit = self.check_meeting(mid, load)
            totals["sessions"] += len(rows)
            totals["removals"] += len(audit)
        t0 = time.monotonic()
        self.check_webhooks(rx, totals, load)
        if os.environ.get("CRASH_VERBOSE"):
            print("\nwebhook wait %.1f s" % (time.monotonic() - t0), file=sys.stderr)

        # Still a working meetd: bans hold, new joins work.
        removed = [(k, r) for k in load.kicks for r in k["results"] if r["result"] == "removed"]
        for k, r in removed[-3:]:
            user = [j["userid"] for j in load.joins if j["ms_open_id"] == r["ms_open_id"]][0]
            self.assert_error(self.join_req(k["mid"], user, 5), 403, 9101)
        self.join(mids[0], h.uniq("after"), 2)

        # The checks above can fail: a ban lifted behind their back is caught.
        if self_check and removed:
            k, r = removed[0]
            self.assertEqual(self.assert_ok(self.lift_ban(k["mid"], r["ms_open_id"])),
                             {"lifted": True})
            with self.assertRaises(AssertionError):
                self.check_meeting(k["mid"], load)
        self.server.stop()
        return load

    def test_sigkill_under_kicks_and_joins(self):
        """Kill points: a few, tens and hundreds of acknowledged operations."""
        plan = [(10, 1, "full"), (40, 2, "full"), (120, 3, "normal"), (250, 4, "full")]
        kicks = 0
        for kill_after, seed, durability in plan:
            with self.subTest(kill_after=kill_after, durability=durability):
                load = self.iteration(kill_after, seed, durability,
                                      self_check=(kill_after == plan[-1][0]))
                kicks += len(load.kicks)
                if os.environ.get("CRASH_VERBOSE"):
                    print("\nkill after %d: %d joins, %d refused, %d kickouts (%d removals), "
                          "%d requests cut" % (kill_after, len(load.joins), len(load.refused),
                                               len(load.kicks),
                             sum(r["result"] == "removed" for k in load.kicks
                                 for r in k["results"]), load.cut), file=sys.stderr)
                self.assertGreaterEqual(len(load.joins) + len(load.kicks), kill_after)
        self.assertTrue(kicks, "no kickout was acknowledged before any kill")



# ---------------------------------------------------------------- presence

GRACE = 3           # --presence-grace, seconds
LEFT_TIMEOUT = 5    # devices.left_reason of a presence time-out (core.h)


def poll(pred, what, bound=DEADLINE):
    """Polls pred until true; fails after bound seconds."""
    deadline = time.monotonic() + bound
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("no %s within %s s" % (what, bound))
        time.sleep(0.02)


class PresenceAfterCrashTest(h.MeetdCase):
    """Presence time-outs survive meetd (issue 16): a device whose stream was
    open when meetd was killed or stopped, and whose client does not come
    back, is ended as a time-out within grace + 10 s of the restart's node
    taking over; one whose client reconnects within the grace stays.
    docs/operations.md "What a crash does to presence"."""
    server_per_test = True
    server_args = ("--presence-grace", str(GRACE), "--heartbeat", "1",
                   "--webhook-backoff-ms", "100", "--webhook-backoff-max-ms", "500")

    def scalar(self, sql):
        """One integer read from the server's store, whichever backend."""
        if self.server.postgres:
            return int(h.psql(self.server.postgres, sql))
        conn = sqlite3.connect("file:%s?mode=ro" % os.path.join(self.server.data, "meetd.db"),
                               uri=True, isolation_level=None, timeout=DEADLINE)
        try:
            return conn.execute(sql).fetchone()[0]
        finally:
            conn.close()

    def count_streaming(self, nos):
        return self.scalar("SELECT count(*) FROM devices WHERE device_no IN (%s) "
                           "AND stream_node IS NOT NULL" % nos)

    def device_no(self, dev):
        # The token is "<device_no>.<secret>" (docs/api.md "Device token").
        return int(dev["device_token"].split(".")[0])

    def streaming(self, *devs):
        """The stream opens are written (the rows name a node): what a crash
        may lose before that is only a stream the server never recorded."""
        nos = ",".join(str(self.device_no(d)) for d in devs)
        poll(lambda: self.count_streaming(nos) == len(devs), "stream opens recorded")

    def left(self, mid, dev):
        rows = {(r["ms_open_id"], r["instanceid"]): r for r in self.participants(mid)}
        return "left_time" in rows[(dev["ms_open_id"], dev["instanceid"])]

    def scenario(self, take_down):
        rx = Receiver()
        self.addCleanup(rx.close)
        self.assert_ok(self.client.post("/meetd/v1/webhooks", {"url": rx.url}))
        mid = self.new_meeting("alice")
        alice = self.join(mid, "alice", 1)          # never opens a stream
        bob = self.join(mid, "bob", 2)              # streaming; never comes back
        carol = self.join(mid, "carol", 3)          # streaming; comes back in time
        bob_s, carol_s = self.events(bob), self.events(carol)
        self.assertEqual((bob_s.status, carol_s.status), (200, 200))
        self.streaming(bob, carol)

        take_down(self.server)
        down = time.monotonic()
        self.server.start()
        self.client = self.server.client()
        carol_again = self.events(carol)
        self.assertEqual(carol_again.status, 200, "carol's device left before her grace ran out")
        self.assertLess(time.monotonic() - down, GRACE, "the restart took longer than the grace")

        poll(lambda: self.left(mid, bob), "bob's time-out after the restart", GRACE + 10)
        self.assertLessEqual(time.monotonic() - down, GRACE + 10)
        reason = self.scalar("SELECT left_reason FROM devices WHERE device_no = %d"
                             % self.device_no(bob))
        self.assertEqual(reason, LEFT_TIMEOUT)
        # Its participant-left webhook, under a trace id of no request.
        poll(lambda: [e for e in rx.snapshot() if e.get("event") == LEFT and
                      e["payload"][0]["operator"]["ms_open_id"] == bob["ms_open_id"]],
             "bob's participant-left webhook")
        # Carol came back: present, her stream open; alice never streamed.
        self.assertFalse(self.left(mid, carol))
        self.assertFalse(self.left(mid, alice))
        self.assertEqual(self.events(carol).status, 200)   # replaces carol_again
        return bob

    def test_sigkill_streaming_device_times_out_reconnected_stays(self):
        self.scenario(crash)

    def test_clean_stop_grace_from_the_stop(self):
        self.scenario(lambda server: server.stop())


if __name__ == "__main__":
    unittest.main()
