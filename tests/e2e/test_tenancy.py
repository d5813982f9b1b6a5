"""Tenancy: another app sees none of app A's meetings (docs/api.md: AppId, 9003)."""
import unittest

import meetd_harness as h
from meetd_harness import kick_body, op_ms, op_userid, tgt_ms


class TenancyTest(h.MeetdCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.b = cls.server.client(cls.server.create_app())

    def test_other_app_gets_9003_everywhere_and_changes_nothing(self):
        mid = self.new_meeting("alice")
        alice, bob = self.join(mid, "alice", 1), self.join(mid, "bob", 2)
        carol = self.join(mid, "carol", 3)
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(carol)], allow_rejoin=False))
        before = self.state(mid)
        b = self.b
        attempts = {
            "query": self.query_req(mid, client=b),
            "participants": self.participants_req(mid, client=b),
            "kickout": self.kickout(mid, kick_body(op_ms(alice), [tgt_ms(bob)],
                                                   allow_rejoin=False), client=b),
            "kickout by userid": self.kickout(mid, kick_body(op_userid("alice"), [tgt_ms(bob)]),
                                              client=b),
            "join": self.join_req(mid, "mallory", 4, client=b),
            "join banned user": self.join_req(mid, "carol", 3, client=b),
            "leave": self.leave(mid, bob, client=b),
            "cohosts": self.cohost(mid, op_ms(alice), bob, client=b),
            "bans": self.bans_req(mid, client=b),
            "lift ban": self.lift_ban(mid, carol["ms_open_id"], client=b),
            "audit": self.audit_req(mid, client=b),
            "dismiss": self.dismiss(mid, client=b),
            "cancel": self.cancel(mid, client=b),
        }
        for what, resp in attempts.items():
            with self.subTest(what):
                self.assert_error(resp, 400, 9003, message="MEETING NOT EXIST")
        self.assert_unchanged(before, mid)
        self.assertEqual(self.present(mid), sorted([(alice["ms_open_id"], 1),
                                                    (bob["ms_open_id"], 2)]))

    def test_same_userids_in_two_apps_are_separate(self):
        mid_a = self.new_meeting("alice")
        mid_b = self.new_meeting("alice", client=self.b)
        self.assertNotEqual(mid_a, mid_b)
        dev_b = self.join(mid_b, "bob", 2, client=self.b)
        # App A cannot see or touch B's meeting either.
        self.assert_error(self.query_req(mid_b), 400, 9003)
        self.assert_error(self.kickout(mid_b, kick_body(op_userid("alice"), [tgt_ms(dev_b)])),
                          400, 9003)
        self.assertEqual(self.present(mid_b, client=self.b), [(dev_b["ms_open_id"], 2)])
        self.assertEqual(self.participants(mid_a), [])


if __name__ == "__main__":
    unittest.main()
