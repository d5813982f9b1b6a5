"""Hostile clients against the endpoints of issue 14: modify, cancel of one
occurrence, co-host dismiss, participants filters, real-time participants, a
user's meeting list, the join page and the Host-built join_url.

Each test names the defect it proves (or the attack it shows held) and builds
its own meetings and users; a recurring meeting whose first occurrence
already began is made with a start time a minute in the past, so that a join
lands in it and the next occurrence is a day later.
"""
import unittest

import meetd_harness as h
from meetd_harness import kick_body, now, op_userid, op_ms, tgt_ms, uniq

DAILY3 = {"recurring_type": 0, "until_type": 1, "until_count": 3}


class CohostAfterDismissTest(h.MeetdCase):
    """A dismiss puts everyone out of the meeting; a co-host appointed in it
    must not keep the role, or in a recurring meeting they act, by userid and
    from outside, in every later occurrence (kickout with a ban, dismiss,
    participants), which the creator and hosts never granted there."""

    def started_series(self, creator):
        t = now() - 60
        return self.create_meeting(creator, rule=DAILY3, start_time=str(t),
                                   end_time=str(t + 3600))["meeting_id"]

    def test_dismiss_ends_the_cohost_role_in_the_next_occurrence(self):
        alice, bob, carol = uniq("alice"), uniq("bob"), uniq("carol")
        mid = self.started_series(alice)
        da, db = self.join(mid, alice, 1), self.join(mid, bob, 2)
        self.assert_ok(self.cohost(mid, op_ms(da), db))
        self.assert_ok(self.dismiss(mid, alice))
        self.assertEqual(self.query(mid, alice)["current_co_hosts"], [],
                         "a dismissed occurrence still lists co-hosts")
        dc = self.join(mid, carol, 3)           # the next occurrence
        before = self.state(mid, alice)
        self.assert_error(self.kickout(mid, kick_body(op_userid(bob), [tgt_ms(dc)],
                                                      allow_rejoin=False)), 403, 9042)
        self.assert_error(self.dismiss(mid, bob), 403, 9042)
        self.assert_error(self.participants_req(mid, bob), 403, 9042)
        self.assert_unchanged(before, mid, alice)
        self.assert_present(mid, dc, alice)

    def test_dismissed_one_off_meeting_lists_no_cohost(self):
        alice, bob = uniq("alice"), uniq("bob")
        mid = self.new_meeting(alice)
        da, db = self.join(mid, alice, 1), self.join(mid, bob, 2)
        self.assert_ok(self.cohost(mid, op_ms(da), db))
        self.assertEqual(len(self.query(mid, alice)["current_co_hosts"]), 1)
        self.assert_ok(self.dismiss(mid, alice))
        info = self.query(mid, alice)
        self.assertEqual(info["status"], "MEETING_STATE_ENDED")
        self.assertEqual(info["current_co_hosts"], [])

    def test_refused_dismiss_keeps_the_cohost(self):
        # force_dismiss_meeting 0 with devices present is refused: the role
        # stays with everything else.
        alice, bob = uniq("alice"), uniq("bob")
        mid = self.new_meeting(alice)
        da, db = self.join(mid, alice, 1), self.join(mid, bob, 2)
        self.assert_ok(self.cohost(mid, op_ms(da), db))
        before = self.state(mid, alice)
        cohosts = self.query(mid, alice)["current_co_hosts"]
        resp = self.client.post("/v1/meetings/%s/dismiss" % mid,
                                {"userid": alice, "instanceid": 1, "reason_code": 1,
                                 "force_dismiss_meeting": 0})
        self.assert_error(resp, 400, 190004)
        self.assert_unchanged(before, mid, alice)
        self.assertEqual(self.query(mid, alice)["current_co_hosts"], cohosts)


if __name__ == "__main__":
    unittest.main()
