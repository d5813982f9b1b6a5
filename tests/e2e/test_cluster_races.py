"""Races across nodes (issue 16, guarantee 6; docs/cluster.md "How the
nodes keep the rules"), on a real PostgreSQL with two nodes.

test_races.py holds the single-node versions; here the same races are run
with the requests split between node A and node B, which share nothing but
the database:
- joins of a user on A against a banning kickout of that user on B: the
  banned user is never present afterwards, and every join either got the
  ban's error or was undone by the kickout;
- kickouts of the same devices sent to both nodes at once: one removal per
  device, one audit row, and one webhook delivery per subscription; the
  loser answers as a kickout of a device no longer present does on one
  node (200, `not_in_meeting`);
- co-host changes made on both nodes at once end in one state that both
  nodes report.

Threads start together on a barrier (threading.Barrier)."""
import itertools
import random
import threading

import meetd_harness as h
import test_races
import test_webhooks
from meetd_harness import DEADLINE, kick_body, op_ms, tgt_ms

KICKED = test_webhooks.KICKED


class TwoNodeRace(test_races.RaceCase):
    """Node A (self.server, self.client) and node B (self.b, self.cb)."""

    server_per_test = True
    server_nodes = 2

    def setUp(self):
        super().setUp()
        self.b = self.nodes[1]
        self.cb = self.b.client()


class BanOnBAgainstJoinsOnA(TwoNodeRace, test_races.BanAgainstJoinsTest):
    """test_races.BanAgainstJoinsTest's rounds with every join of the victim
    sent to node A and the banning kickout to node B. Its checks hold as on
    one node: after the kickout's 200 the victim is present nowhere and
    every later join is refused 403 / 9101; a join that overlapped it got
    either 200 (and its device was then removed) or 9101; one audit row per
    removal. The checks read node A; node B must report the same."""

    ROUNDS = 12

    def join_req(self, mid, userid=None, instanceid=1, client=None, **kw):
        return super().join_req(mid, userid, instanceid, client=client or self.client, **kw)

    def kickout(self, mid, body, prefer=False, client=None, **kw):
        return super().kickout(mid, body, prefer, client=client or self.cb, **kw)

    def new_meeting(self, creator="alice", hosts=None, rule=None, client=None):
        mid = super().new_meeting(creator, hosts, rule, client)
        self.addCleanup(self.same_on_both_nodes, mid)
        return mid

    def same_on_both_nodes(self, mid):
        self.assertEqual(self.participants(mid, client=self.cb), self.participants(mid))
        self.assertEqual(self.bans(mid, client=self.cb), self.bans(mid))
        self.assertEqual(self.audit(mid, client=self.cb), self.audit(mid))


class KickoutsOnBothNodes(TwoNodeRace, test_races.ConcurrentKickoutsTest):
    """test_races.ConcurrentKickoutsTest with its concurrent kickouts (and
    rejoins) sent to node A and node B in turn: each device is still removed
    once, with one audit row per removal and one ban per user."""

    def setUp(self):
        super().setUp()
        self._turn = itertools.count()

    def other_node(self, client):
        if client is not None:
            return client
        return self.client if next(self._turn) % 2 == 0 else self.cb

    def kickout(self, mid, body, prefer=False, client=None, **kw):
        return super().kickout(mid, body, prefer, client=self.other_node(client), **kw)

    def join_req(self, mid, userid=None, instanceid=1, client=None, **kw):
        return super().join_req(mid, userid, instanceid, client=self.other_node(client), **kw)


class SameDeviceKickedOnBothNodes(TwoNodeRace, test_webhooks.WebhookCase):
    """The same device kicked on A and on B at once, round after round, in an
    app with two webhooks: exactly one kickout removes it, the other answers
    200 with `not_in_meeting` (what one node answers for a device no longer
    present: test_kickout.DeviceRulesTest.test_retry_is_safe), one audit row,
    and each webhook gets exactly one kicked-out POST for it (every attempt
    counted, not only distinct delivery ids: the leases let one node at a
    time attempt a delivery)."""

    server_args = test_webhooks.QUICK
    ROUNDS = 100

    def test_one_removal_one_audit_row_one_webhook_each(self):
        creds = self.server.create_app("--name", h.uniq("races"))   # an app of its own
        ca, cb = self.server.client(creds), self.b.client(creds)
        paths = [self.hook_for(ca, h.uniq("twice"))[1] for _ in range(2)]
        rnd = random.Random(16)
        kicked = {}                         # meeting id -> bob's ms_open_id
        for r in range(self.ROUNDS):
            with self.subTest(round=r):
                mid = self.new_meeting("alice", client=ca)
                alice = self.join(mid, "alice", 1, client=ca)
                bob = self.join(mid, "bob", 2, client=cb)
                body = kick_body(op_ms(alice), [tgt_ms(bob)],
                                 allow_rejoin=rnd.random() < 0.5, reason="twice")
                barrier = threading.Barrier(2)
                answers = {}

                def kick(name, client):
                    barrier.wait(DEADLINE)
                    answers[name] = self.kickout(mid, body, prefer=True, client=client)

                self.run_threads([lambda: kick("a", ca), lambda: kick("b", cb)])
                results = sorted(self.assert_ok(answers[n])["results"][0]["result"]
                                 for n in ("a", "b"))
                self.assertEqual(results, ["not_in_meeting", "removed"], answers)
                winner = [answers[n] for n in ("a", "b")
                          if answers[n].json["results"][0]["result"] == "removed"][0]
                audit = self.audit(mid, client=ca)
                self.assertEqual([(a["request_id"], a["target"]["ms_open_id"]) for a in audit],
                                 [(winner.trace, bob["ms_open_id"])])
                self.assertEqual(self.audit(mid, client=cb), audit)
                self.assertEqual(self.present(mid, client=cb), [(alice["ms_open_id"], 1)])
                self.assertEqual(self.present(mid, client=ca), [(alice["ms_open_id"], 1)])
                kicked[mid] = (bob["ms_open_id"], winner.trace)

        def kicks(path):
            """[(delivery id, meeting id, to_operator, trace)] of every
            kicked-out POST at path, each attempt counted: the leases let
            one node at a time attempt a delivery, and the receiver answers
            each 200, so a second POST of one delivery is a defect."""
            with self.rx.cond:
                reqs = [q for q in self.rx.requests if q["path"] == path and q["event"]
                        and q["event"].get("event") == KICKED]
            return [(q["delivery"], test_webhooks.item(q["event"])["meeting_info"]["meeting_id"],
                     test_webhooks.item(q["event"])["to_operator"]["ms_open_id"],
                     q["event"]["trace_id"]) for q in reqs]

        for path in paths:
            self.rx.wait(lambda rx: len(kicks(path)) >= len(kicked), "kicked-out deliveries")
        # Every event was in the outbox when its kickout answered: once all
        # are delivered none is still to come, and no attempt is under way
        # (a delivered row is never claimed again).
        rows = test_webhooks.wait_for(
            lambda: self.all_settled(ca, "delivered", 1), "settled deliveries")
        want = sorted((m, ms, t) for m, (ms, t) in kicked.items())
        for path in paths:
            posts = kicks(path)
            self.assertEqual(sorted(p[1:] for p in posts), want,
                             "one kicked-out POST per round on %s" % path)
            self.assertEqual(len({p[0] for p in posts}), len(posts),
                             "a delivery POSTed twice to %s" % path)
        per_hook = {}
        for d in rows:
            if d["event"] == KICKED:
                per_hook[d["webhook_id"]] = per_hook.get(d["webhook_id"], 0) + 1
        self.assertEqual(sorted(per_hook.values()), [len(kicked)] * len(paths),
                         "kicked-out deliveries in the outbox per webhook")


class CohostsOnBothNodes(TwoNodeRace):
    """Co-host changes of one meeting sent to both nodes at once: each user
    appointed on A or on B (different users, at once) is co-host afterwards
    -- no change is lost -- and a user appointed on one node while revoked
    on the other ends as one of the two, the same on both nodes."""

    ROUNDS = 10
    USERS = 6

    def cohosts(self, mid, client):
        return sorted(c["userid"] for c in self.query(mid, client=client)
                      .get("current_co_hosts", []))

    def test_concurrent_changes_end_consistent(self):
        for r in range(self.ROUNDS):
            with self.subTest(round=r):
                mid = self.new_meeting("alice")
                alice = self.join(mid, "alice", 1)
                users = [h.uniq("co") for _ in range(self.USERS)]
                devs = {u: self.join(mid, u, 2, client=self.cb) for u in users}
                contested = h.uniq("contested")
                devs[contested] = self.join(mid, contested, 3)
                # The contested user starts co-host half the rounds.
                start = r % 2 == 0
                if start:
                    self.assert_ok(self.cohost(mid, op_ms(alice), devs[contested]))
                plans = [(u, True, self.client if i % 2 else self.cb)
                         for i, u in enumerate(users)]
                plans += [(contested, True, self.client), (contested, False, self.cb)]
                barrier = threading.Barrier(len(plans))
                answers = [None] * len(plans)

                def change(i):
                    u, action, client = plans[i]
                    barrier.wait(DEADLINE)
                    answers[i] = self.cohost(mid, op_ms(alice), devs[u], action, client=client)

                self.run_threads([lambda i=i: change(i) for i in range(len(plans))])
                for resp in answers:
                    self.assertEqual(self.assert_ok(resp), {}, resp)
                on_a, on_b = self.cohosts(mid, self.client), self.cohosts(mid, self.cb)
                self.assertEqual(on_a, on_b, "the nodes disagree on the co-hosts")
                self.assertEqual([u for u in on_a if u != contested], sorted(users),
                                 "an appointment made at the same time as others was lost")

    def test_appointment_against_a_ban(self):
        """A user present on two devices is appointed co-host on A (naming
        the device the kickout leaves) while a kickout on B bans them by the
        other: whichever commits first, a banned user is never co-host
        afterwards (docs/api.md "Kickout": the ban ends the role; "Co-hosts":
        a banned user cannot be made one). The appointment got 200 (and the
        ban then ended the role) or 400 / 190004."""
        for r in range(self.ROUNDS * 2):
            with self.subTest(round=r):
                mid = self.new_meeting("alice")
                alice = self.join(mid, "alice", 1)
                victim = h.uniq("v")
                on2, on3 = self.join(mid, victim, 2), self.join(mid, victim, 3, client=self.cb)
                barrier = threading.Barrier(2)
                answers = {}

                def appoint():
                    barrier.wait(DEADLINE)
                    answers["appoint"] = self.cohost(mid, op_ms(alice), on3, True,
                                                     client=self.client)

                def ban():
                    barrier.wait(DEADLINE)
                    answers["ban"] = self.kickout(mid, kick_body(op_ms(alice), [tgt_ms(on2)],
                                                                 allow_rejoin=False),
                                                  prefer=True, client=self.cb)

                self.run_threads([appoint, ban] if r % 2 else [ban, appoint])
                self.assertEqual([x["result"] for x in self.assert_ok(answers["ban"])["results"]],
                                 ["removed"])
                got = (answers["appoint"].status, h._code(answers["appoint"]))
                self.assertIn(got, ((200, None), (400, 190004)), answers["appoint"])
                for client in (self.client, self.cb):
                    self.assertEqual(self.cohosts(mid, client), [], "a banned user is co-host")
                    self.assertEqual(self.present(mid, client=client),
                                     sorted([(alice["ms_open_id"], 1), (on3["ms_open_id"], 3)]))


if __name__ == "__main__":
    import unittest
    unittest.main()
