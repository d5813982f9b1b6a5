"""Races (issue 6 item 4), against the real meetd over HTTP.

- Many concurrent joins of one user (several threads, different instanceids,
  over and over) against a kickout of that user with allow_rejoin=false: once
  the kickout has answered 200 the user is never in the meeting, and every join
  sent after that answer gets 403 / 9101 (docs/api.md "Kickout": the removal
  and the ban are one transaction; "Join a device": a banned user gets 9101 on
  any device).
- Concurrent kickouts of the same devices: each device is removed once, and
  there is exactly one audit row per actual removal.

Threads start together on a barrier; the kickout is sent after a number of
joins were acknowledged (count-based), so that joins are in flight around it.
"""
import random
import threading
import time
import unittest

import meetd_harness as h
from meetd_harness import DEADLINE, kick_body, op_userid, tgt_ms

# Every device type a joiner uses; the kickout names the victim on all of them.
JOIN_INSTANCES = (1, 2, 3, 4, 5, 6, 7, 8, 10)


def removed_of(resp):
    return [(r["ms_open_id"], r["instanceid"]) for r in resp.json["results"]
            if r["result"] == "removed"]


class RaceCase(h.MeetdCase):
    def run_threads(self, targets):
        """Runs the callables in threads; re-raises the first failure."""
        errors = []

        def wrap(fn):
            def run():
                try:
                    fn()
                except BaseException as e:     # reported in the main thread
                    errors.append(e)
            return run

        threads = [threading.Thread(target=wrap(fn)) for fn in targets]
        for t in threads:
            t.start()
        for t in threads:
            t.join(4 * DEADLINE)
        self.assertFalse([t for t in threads if t.is_alive()], "threads hang")
        if errors:
            raise errors[0]


class BanAgainstJoinsTest(RaceCase):
    JOINERS = 4
    JOINS_BEFORE = 12        # acknowledged joins of the victim before the kickout is sent
    JOINS_AFTER = 6          # joins each thread sends after the kickout's 200
    ROUNDS = 10

    def one_round(self, rnd):
        mid = self.new_meeting("alice")
        self.join(mid, "alice", 1)                       # the meeting is in progress
        victim_id = h.uniq("victim")
        first = self.join(mid, victim_id, 1)
        cond = threading.Condition()
        state = {"acked": 1, "kicked_at": None, "after": [0] * self.JOINERS}
        log = []        # (sent, answered, status, code, instanceid)
        barrier = threading.Barrier(self.JOINERS + 1)

        def joiner(i):
            insts = list(JOIN_INSTANCES[i::self.JOINERS]) or [2]
            barrier.wait(DEADLINE)
            n = 0
            while True:
                inst = insts[n % len(insts)]
                n += 1
                sent = time.monotonic()
                resp = self.join_req(mid, victim_id, inst)
                answered = time.monotonic()
                with cond:
                    log.append((sent, answered, resp.status, h._code(resp), inst, resp))
                    if resp.status == 200:
                        state["acked"] += 1
                    if state["kicked_at"] is not None and sent > state["kicked_at"]:
                        state["after"][i] += 1
                    cond.notify_all()
                    if state["after"][i] >= self.JOINS_AFTER:
                        return
                    if state["kicked_at"] is None and n > 400:
                        raise AssertionError("the kickout was never sent")

        kick = {}

        def kicker():
            barrier.wait(DEADLINE)
            with cond:
                self.assertTrue(cond.wait_for(lambda: state["acked"] >= self.JOINS_BEFORE,
                                              DEADLINE), "joins are not acknowledged")
            targets = [tgt_ms(first, i) for i in JOIN_INSTANCES]
            rnd.shuffle(targets)
            with cond:
                state["kick_sent"] = time.monotonic()
            resp = self.kickout(mid, kick_body(op_userid("alice"), targets,
                                               allow_rejoin=False, reason="race"), prefer=True)
            with cond:
                state["kicked_at"] = time.monotonic()
                cond.notify_all()
            kick["resp"] = resp

        self.run_threads([lambda i=i: joiner(i) for i in range(self.JOINERS)] + [kicker])

        resp = kick["resp"]
        self.assert_ok(resp)
        removed = removed_of(resp)
        self.assertTrue(removed, "the kickout removed nothing: %r" % resp)
        kicked_at = state["kicked_at"]

        # The banned user is not in the meeting, on any device.
        rows = self.participants(mid)
        live = [(r["instanceid"], r["join_time"]) for r in rows
                if r["ms_open_id"] == first["ms_open_id"] and "left_time" not in r]
        self.assertEqual(live, [], "banned user present after the kickout's 200 "
                         "(kickout trace %s)" % resp.trace)
        self.assertIn(first["ms_open_id"], [b["ms_open_id"] for b in self.bans(mid)["bans"]])

        # Every join sent after the kickout's 200 was refused with 9101.
        after = [(e[4], e[5]) for e in log if e[0] > kicked_at]
        self.assertGreaterEqual(len(after), self.JOINERS * self.JOINS_AFTER)
        wrong = [(inst, r) for inst, r in after if (r.status, h._code(r)) != (403, 9101)]
        self.assertEqual(wrong, [], "joins sent after the kickout's 200 not refused")
        # Joins that overlapped the kickout: either refused, or in and then removed.
        for sent, answered, status, code, inst, r in log:
            self.assertIn((status, code), ((200, None), (403, 9101)), r)

        # One audit row per removal, each with the kickout's request id.
        audit = self.audit(mid)
        self.assertEqual(sorted((a["target"]["ms_open_id"], a["target"]["instanceid"])
                                for a in audit), sorted(removed))
        self.assertEqual({a["request_id"] for a in audit}, {resp.trace})
        # Joins in flight while the kickout was: sent before its answer, answered
        # after it was sent.
        return len([e for e in log if e[0] < kicked_at and e[1] > state["kick_sent"]])

    def test_banned_user_never_ends_up_in_the_meeting(self):
        rnd = random.Random(6)
        overlapping = 0
        for r in range(self.ROUNDS):
            with self.subTest(round=r):
                overlapping += self.one_round(rnd)
        # Guards the test itself: some joins must have raced the kickouts.
        self.assertGreater(overlapping, 0, "no join was in flight during any kickout")


class ConcurrentKickoutsTest(RaceCase):
    THREADS = 6

    def devices(self, mid, users, instances):
        devs = []
        for _ in range(users):
            u = h.uniq("k")
            for i in instances:
                devs.append(dict(self.join(mid, u, i), userid=u))
        return devs

    def kick_all_at_once(self, allow_rejoin, subsets):
        mid = self.new_meeting("alice")
        alice = self.join(mid, "alice", 1)
        devs = self.devices(mid, 10, (2, 3))                 # 20 devices, 10 users
        barrier = threading.Barrier(self.THREADS)
        answers = [None] * self.THREADS
        rnd = random.Random(allow_rejoin * 10 + subsets)

        plans = []
        for t in range(self.THREADS):
            chosen = rnd.sample(devs, rnd.randint(5, 20)) if subsets else list(devs)
            rnd.shuffle(chosen)
            plans.append(chosen)

        def kicker(t):
            body = kick_body(op_userid("alice"), [tgt_ms(d) for d in plans[t]],
                             allow_rejoin=allow_rejoin, reason="race")
            barrier.wait(DEADLINE)
            answers[t] = self.kickout(mid, body, prefer=True)

        self.run_threads([lambda t=t: kicker(t) for t in range(self.THREADS)])
        for resp in answers:
            self.assert_ok(resp)
        named = {(d["ms_open_id"], d["instanceid"]) for p in plans for d in p}
        removals = [dev for resp in answers for dev in removed_of(resp)]
        # Each named device removed exactly once, by one of the requests.
        self.assertEqual(sorted(removals), sorted(named),
                         "devices reported removed by the concurrent kickouts")
        # Exactly one audit row per actual removal, with the remover's request id.
        audit = self.audit(mid)
        self.assertEqual(len(audit), len(removals), "audit rows vs removals")
        by_trace = {}
        for a in audit:
            by_trace.setdefault(a["request_id"], []).append(
                (a["target"]["ms_open_id"], a["target"]["instanceid"]))
        for resp in answers:
            self.assertEqual(sorted(by_trace.pop(resp.trace, [])), sorted(removed_of(resp)),
                             "audit rows of kickout %s" % resp.trace)
        self.assertEqual(by_trace, {}, "audit rows of no answered request")
        # Nobody named is present; the others (alice, unnamed devices) are.
        left = {(d["ms_open_id"], d["instanceid"]) for d in devs} - named
        self.assertEqual(self.present(mid), sorted(left | {(alice["ms_open_id"], 1)}))
        bans = self.bans(mid)["bans"]
        if allow_rejoin:
            self.assertEqual(bans, [])
        else:
            users = sorted({ms for ms, _ in named})
            self.assertEqual(sorted(b["ms_open_id"] for b in bans), users, "one ban per user")

    def test_same_targets_all_at_once(self):
        for allow_rejoin in (False, True):
            with self.subTest(allow_rejoin=allow_rejoin):
                self.kick_all_at_once(allow_rejoin, subsets=False)

    def test_overlapping_targets_all_at_once(self):
        for allow_rejoin in (False, True):
            with self.subTest(allow_rejoin=allow_rejoin):
                self.kick_all_at_once(allow_rejoin, subsets=True)

    def test_kickouts_against_rejoins(self):
        """allow_rejoin=true: devices come back and are removed again, over and
        over, from several threads each way. Every removal has exactly one
        audit row, and every ended session is accounted for."""
        mid = self.new_meeting("alice")
        self.join(mid, "alice", 1)
        devs = self.devices(mid, 6, (2, 3))
        lock = threading.Lock()
        removals, joins = [], []
        barrier = threading.Barrier(6)

        def kicker(seed):
            rnd = random.Random(seed)
            barrier.wait(DEADLINE)
            for _ in range(25):
                chosen = rnd.sample(devs, rnd.randint(1, 6))
                resp = self.kickout(mid, kick_body(op_userid("alice"),
                                                   [tgt_ms(d) for d in chosen],
                                                   allow_rejoin=True), prefer=True)
                self.assert_ok(resp)
                with lock:
                    removals.extend((resp.trace, dev) for dev in removed_of(resp))

        def rejoiner(seed):
            rnd = random.Random(seed)
            barrier.wait(DEADLINE)
            for _ in range(25):
                d = rnd.choice(devs)
                dev = self.join(mid, d["userid"], d["instanceid"])
                with lock:
                    joins.append(dev)

        self.run_threads([lambda s=s: kicker(s) for s in range(3)] +
                         [lambda s=s: rejoiner(100 + s) for s in range(3)])
        audit = self.audit(mid)
        self.assertEqual(sorted((a["request_id"], (a["target"]["ms_open_id"],
                                                   a["target"]["instanceid"])) for a in audit),
                         sorted(removals), "audit rows vs removals reported")
        # Sessions: every row but the last of each device has left_time (a later
        # join replaced it or a kickout removed it); removals never exceed the
        # sessions that existed.
        rows = self.participants(mid)
        sessions = {}
        for r in rows:
            sessions.setdefault((r["ms_open_id"], r["instanceid"]), []).append(r)
        for d in devs:
            key = (d["ms_open_id"], d["instanceid"])
            got = sessions[key]
            self.assertEqual(len(got), 1 + len([j for j in joins if (j["ms_open_id"],
                                                                        j["instanceid"]) == key]))
            self.assertTrue(all("left_time" in r for r in got[:-1]), key)
            n_removed = len([1 for _, dev in removals if dev == key])
            self.assertLessEqual(n_removed, len(got), key)
        self.assertEqual(self.present(mid), sorted(
            [k for k, got in sessions.items() if "left_time" not in got[-1]]))


if __name__ == "__main__":
    unittest.main()
