"""Replays across a restart (issue 14 item 3): the replay memory lives in the
process, so every write of a signed request also spends its (AppId, timestamp,
nonce) in the write's own transaction (docs/operations.md "Replay memory").

A request captured with X-TC-Timestamp up to 300 s ahead of meetd's clock stays
inside the window after a restart, above the start-up floor. Replayed then --
after a SIGKILL or a clean stop -- a write is refused (400 / 190301) and changes
nothing; a read is answered again on SQLite (reads change nothing) and refused
on PostgreSQL, where every signed read spends its triple (docs/cluster.md).
"""
import unittest

import meetd_harness as h
from meetd_harness import kick_body, op_ms, op_userid, tgt_ms
from test_crash import crash

AHEAD = 200     # seconds ahead of the clock; the window is +-300 s


def restart_clean(server):
    server.restart()


def restart_after_crash(server):
    crash(server)
    server.start()


class ReplayAfterRestartTest(h.MeetdCase):
    server_per_test = True

    def capture(self, method, uri, body=None, ahead=AHEAD):
        """Sends a request signed `ahead` seconds in the future and returns its
        answer and a function that sends the very same request again."""
        ts, nonce = h.now() + ahead, h.new_nonce()

        def again():
            return self.client.request(method, uri, body, timestamp=ts, nonce=nonce)
        return again(), again

    def assert_replay_refused(self, again, what):
        with self.subTest(replay=what):
            self.assert_error(again(), 400, 190301)

    def check_kickout_not_replayed(self, restart):
        """The issue's case: a kickout that bans, replayed after a restart, must
        not ban again once the ban was lifted."""
        mid = self.new_meeting()
        alice = self.join(mid, "alice", 1)
        bob = self.join(mid, "bob", 2)
        uri = "/v1/real-control/meetings/%s/kickout" % mid
        resp, replay = self.capture("PUT", uri, kick_body(op_ms(alice), [tgt_ms(bob)],
                                                          allow_rejoin=False, reason="spam"))
        self.assertEqual(self.assert_ok(resp), {})
        self.assert_absent(mid, bob)
        self.assertEqual(len(self.bans(mid)["bans"]), 1)
        # Inside one process the replay memory refuses it.
        self.assert_replay_refused(replay, "the kickout before the restart")

        restart(self.server)

        # An honest request signed as far ahead is accepted after the restart:
        # the durable record refuses only what was spent.
        lifted = self.c(None).delete("/meetd/v1/meetings/%s/bans/%s" % (mid, bob["ms_open_id"]),
                                     timestamp=h.now() + AHEAD)
        self.assertEqual(self.assert_ok(lifted), {"lifted": True})
        bob = self.join(mid, "bob", 2)
        before = self.state(mid)
        self.assertEqual(before["bans"]["bans"], [])
        self.assertEqual(len([r for r in before["audit"] if r.get("action") == "kickout"]), 1,
                         before["audit"])

        self.assert_replay_refused(replay, "the kickout after the restart")
        self.assert_unchanged(before, mid)
        self.assert_present(mid, bob)

    def test_kickout_replay_after_crash_refused(self):
        self.check_kickout_not_replayed(restart_after_crash)

    def test_kickout_replay_after_clean_stop_refused(self):
        self.check_kickout_not_replayed(restart_clean)

    def test_every_write_replay_after_crash_refused(self):
        """Every endpoint that changes state spends its nonce durably: one
        place (the write path), not one per handler."""
        c = self.client
        writes = []

        def write(what, method, uri, body=None):
            resp, again = self.capture(method, uri, body)
            writes.append((what, again))
            return self.assert_ok(resp)

        m = "/v1/meetings/%s"
        d = "/meetd/v1/meetings/%s"
        mid = write("create", "POST", "/v1/meetings",
                    self.meeting_body())["meeting_info_list"][0]["meeting_id"]
        alice = write("join alice", "POST", d % mid + "/join", {"userid": "alice", "instanceid": 1})
        bob = write("join bob", "POST", d % mid + "/join", {"userid": "bob", "instanceid": 2})
        carl = write("join carl", "POST", d % mid + "/join", {"userid": "carl", "instanceid": 3})
        write("cohost", "PUT", "/v1/real-control/meetings/%s/cohosts" % mid,
              dict(op_ms(alice), action=True, user=tgt_ms(bob)))
        write("kickout", "PUT", "/v1/real-control/meetings/%s/kickout" % mid,
              kick_body(op_ms(alice), [tgt_ms(carl)], allow_rejoin=False, reason="x"))
        write("lift", "DELETE", d % mid + "/bans/" + carl["ms_open_id"])
        write("leave", "POST", d % mid + "/leave",
              {"ms_open_id": bob["ms_open_id"], "instanceid": 2})
        write("dismiss", "POST", m % mid + "/dismiss",
              {"userid": "alice", "instanceid": 1, "reason_code": 1})
        other = self.new_meeting()
        write("cancel", "POST", m % other + "/cancel",
              {"userid": "alice", "instanceid": 1, "reason_code": 1})
        hook = write("webhook create", "POST", "/meetd/v1/webhooks",
                     {"url": "http://127.0.0.1:9/never-called"})
        write("webhook delete", "DELETE", "/meetd/v1/webhooks/%s" % hook["id"])

        before = (self.state(mid), self.state(other),
                  self.assert_ok(c.get("/meetd/v1/webhooks")))
        restart_after_crash(self.server)
        self.assertEqual((self.state(mid), self.state(other),
                          self.assert_ok(c.get("/meetd/v1/webhooks"))), before)
        for what, again in writes:
            self.assert_replay_refused(again, what)
        self.assertEqual((self.state(mid), self.state(other),
                          self.assert_ok(c.get("/meetd/v1/webhooks"))), before)

    def test_refused_write_stays_spent(self):
        """A write the rules refused is spent too: replayed after a restart,
        when the rules would now say yes, it is still refused."""
        mid = self.new_meeting()
        self.join(mid, "alice", 1)
        bob = self.join(mid, "bob", 2)
        carl = self.join(mid, "carl", 3)
        uri = "/v1/real-control/meetings/%s/kickout" % mid
        resp, replay = self.capture("PUT", uri, kick_body(op_ms(carl), [tgt_ms(bob)]))
        self.assert_error(resp, 403, 9042)    # carl may not remove anyone yet

        restart_after_crash(self.server)
        # Now carl is a co-host, whose kickout of bob would succeed.
        self.assert_ok(self.cohost(mid, op_userid("alice"), carl))
        before = self.state(mid)
        self.assert_replay_refused(replay, "the refused kickout")
        self.assert_unchanged(before, mid)
        self.assert_present(mid, bob)

    def test_read_replay_after_restart_answered(self):
        """On SQLite reads keep the in-memory replay memory only: replayed in
        the same process a read is refused; after a restart, inside the
        window and above the start-up floor, it is answered again (it
        changes nothing). On PostgreSQL the read spent its triple in the
        database, and the replay is refused after the restart too."""
        mid = self.new_meeting()
        self.join(mid, "alice", 1)
        q = "/v1/meetings/%s/participants?userid=alice&pos=0&size=10" % mid
        first, replay = self.capture("GET", q)
        rows = self.assert_ok(first)
        self.assert_replay_refused(replay, "a read before the restart")
        restart_after_crash(self.server)
        if self.server.postgres:
            self.assert_replay_refused(replay, "a read after the restart (PostgreSQL)")
        else:
            self.assertEqual(self.assert_ok(replay()), rows)


if __name__ == "__main__":
    unittest.main()
