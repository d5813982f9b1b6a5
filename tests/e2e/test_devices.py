"""Devices: join, leave, identities, event streams, co-hosts (docs/api.md "Identities",
"Co-hosts", "Join a device" to "Device event stream")."""
import unittest

import meetd_harness as h
from meetd_harness import op_ms, op_userid, tgt_ms

UUID_RE = r"^[0-9A-F]{32}$"
MS_RE = r"^ms.{42}$"


def ids(dev):
    return dev["uuid"], dev["ms_open_id"]


class JoinTest(h.MeetdCase):
    def test_ids_stable_per_meeting_across_devices_and_rejoins(self):
        m1, m2 = self.new_meeting(), self.new_meeting()
        a1 = self.join(m1, "alice", 1)
        self.assertRegex(a1["uuid"], UUID_RE)
        self.assertRegex(a1["ms_open_id"], MS_RE)
        self.assertEqual(a1["user_role"], 3)                  # creator, host by default
        a2 = self.join(m1, "alice", 4)
        self.assertEqual(ids(a2), ids(a1))
        self.assert_ok(self.leave(m1, a1))
        a3 = self.join(m1, "alice", 1)
        self.assertEqual(ids(a3), ids(a1))
        bob = self.join(m1, "bob", 1)
        self.assertEqual(bob["user_role"], 0)
        self.assertNotEqual(bob["uuid"], a1["uuid"])
        self.assertNotEqual(bob["ms_open_id"], a1["ms_open_id"])
        elsewhere = self.join(m2, "alice", 1)
        self.assertNotEqual(elsewhere["uuid"], a1["uuid"])
        self.assertNotEqual(elsewhere["ms_open_id"], a1["ms_open_id"])
        tokens = [d["device_token"] for d in (a1, a2, a3, bob, elsewhere)]
        self.assertEqual(len(set(tokens)), len(tokens), "device tokens repeat")

    def test_guest_join(self):
        mid = self.new_meeting()
        g = self.join(mid, guest_id="visitor-7", instanceid=5, nick_name="Visitor")
        self.assertEqual(g["user_role"], 4)
        g2 = self.join(mid, guest_id="visitor-7", instanceid=8)
        self.assertEqual(ids(g2), ids(g))
        other = self.join(mid, guest_id="visitor-8", instanceid=5)
        self.assertNotEqual(ids(other), ids(g))
        row = [r for r in self.participants(mid) if r["ms_open_id"] == g["ms_open_id"]][0]
        # A guest has no userid: the field is absent (docs/api.md "Participants").
        self.assertEqual((row.get("userid"), row.get("guest_id"), row["user_role"]),
                         (None, "visitor-7", 4))

    def test_one_off_join_reports_sub_meeting_0_recurring_the_occurrence(self):
        self.assertEqual(self.join(self.new_meeting(), "bob")["sub_meeting_id"], "0")
        info = self.create_meeting(rule={"recurring_type": 2, "until_type": 1, "until_count": 2})
        dev = self.join(info["meeting_id"], "bob")
        self.assertEqual(dev["sub_meeting_id"], info["sub_meetings"][0]["sub_meeting_id"])

    def test_invalid_join_bodies_join_nobody(self):
        mid = self.new_meeting()
        cases = {
            "userid and guest_id": {"userid": "bob", "guest_id": "bob", "instanceid": 1},
            "neither": {"nick_name": "Bob", "instanceid": 1},
            "instanceid missing": {"userid": "bob"},
            "instanceid unknown": {"userid": "bob", "instanceid": 11},
            "instanceid negative": {"userid": "bob", "instanceid": -1},
            "instanceid string": {"userid": "bob", "instanceid": "1"},
            "userid empty": {"userid": "", "instanceid": 1},
            "userid 65 bytes": {"userid": "b" * 65, "instanceid": 1},
            "userid control char": {"userid": "b\u0001b", "instanceid": 1},
            "userid not string": {"userid": 12, "instanceid": 1},
            "guest_id 65 bytes": {"guest_id": "g" * 65, "instanceid": 1},
            "nick_name 129 bytes": {"userid": "bob", "nick_name": "n" * 129, "instanceid": 1},
            "malformed": b'{"userid":"bob","instanceid":1',
            "duplicate key": b'{"userid":"bob","userid":"eve","instanceid":1}',
            "array": b'[{"userid":"bob","instanceid":1}]',
        }
        for what, body in cases.items():
            with self.subTest(what):
                self.assert_error(self.client.post("/meetd/v1/meetings/%s/join" % mid, body),
                                  400, 190004)
        self.assertEqual(self.participants(mid), [])
        self.assertEqual(self.query(mid)["status"], "MEETING_STATE_INIT")
        # The limits themselves are fine.
        self.join(mid, "b" * 64, 1, nick_name="n" * 128)

    def test_join_replaces_session_on_same_instanceid(self):
        mid = self.new_meeting()
        first = self.join(mid, "alice", 1)
        other = self.join(mid, "alice", 2)
        second = self.join(mid, "alice", 1)
        self.assertEqual(ids(second), ids(first))
        self.assertNotEqual(second["device_token"], first["device_token"])
        rows = [r for r in self.participants(mid) if r["instanceid"] == 1]
        self.assertEqual(len(rows), 2, rows)
        self.assertIn("left_time", rows[0])
        self.assertNotIn("left_time", rows[1])
        self.assertEqual(self.present(mid),
                         sorted([(first["ms_open_id"], 1), (other["ms_open_id"], 2)]))

    def test_replaced_stream_is_told_and_old_token_dies(self):
        mid = self.new_meeting()
        first = self.join(mid, "bob", 2)
        stream = self.events(first)
        self.assertEqual(stream.status, 200)
        self.join(mid, "bob", 2)
        self.assertEqual(stream.next_event()[0], "replaced")
        self.assertIsNone(stream.next_event(), "stream not closed after 'replaced'")
        again = self.events(first)
        self.assertGreaterEqual(again.status, 400, "old device token still opens a stream")

    def test_leave(self):
        mid = self.new_meeting()
        alice = self.join(mid, "alice", 1)
        bob = self.join(mid, "bob", 2)
        carol = self.join(mid, "carol", 3)
        self.assertEqual(self.assert_ok(self.leave(mid, bob)), {})
        self.assertEqual(self.present(mid), sorted([(alice["ms_open_id"], 1),
                                                    (carol["ms_open_id"], 3)]))
        rows = self.participants(mid)
        self.assertEqual(self.assert_ok(self.leave(mid, bob)), {})           # idempotent
        self.assertEqual(self.assert_ok(self.leave(mid, alice, instanceid=2)), {})  # not there
        self.assertEqual(self.participants(mid), rows)
        self.assertEqual(self.assert_ok(self.leave(mid, carol, by="uuid")), {})
        self.assertEqual(self.present(mid), [(alice["ms_open_id"], 1)])

    def test_leave_needs_an_identity_and_device(self):
        mid = self.new_meeting()
        bob = self.join(mid, "bob", 2)
        uri = "/meetd/v1/meetings/%s/leave" % mid
        for body in ({"instanceid": 2}, {"ms_open_id": bob["ms_open_id"]},
                     {"ms_open_id": bob["ms_open_id"], "instanceid": 11}):
            with self.subTest(body=body):
                self.assert_error(self.client.post(uri, body), 400, 190004)
        self.assert_present(mid, bob)

    def test_join_refused_once_ended_or_cancelled(self):
        ended = self.new_meeting()
        self.join(ended, "bob", 2)
        self.assert_ok(self.dismiss(ended))
        cancelled = self.new_meeting()
        self.assert_ok(self.cancel(cancelled))
        for mid in (ended, cancelled):
            with self.subTest(mid=mid):
                before = self.state(mid)
                self.assert_error(self.join_req(mid, "bob", 2), 400, 190004)
                self.assert_error(self.join_req(mid, guest_id="g", instanceid=5), 400, 190004)
                self.assert_unchanged(before, mid)

    def test_dismiss_tells_every_stream(self):
        mid = self.new_meeting()
        streams = [self.events(self.join(mid, u, i)) for u, i in (("alice", 1), ("bob", 2))]
        for s in streams:
            self.assertEqual(s.status, 200)
        self.assert_ok(self.dismiss(mid))
        for s in streams:
            self.assertEqual(s.next_event()[0], "meeting-ended")
            self.assertIsNone(s.next_event(), "stream not closed after 'meeting-ended'")


class CohostTest(h.MeetdCase):
    def scene(self):
        """alice creator (not host), hank scheduled host, bob and carol members."""
        mid = self.new_meeting("alice", hosts=["hank"])
        devs = {"alice": self.join(mid, "alice", 1), "hank": self.join(mid, "hank", 1),
                "bob": self.join(mid, "bob", 2), "carol": self.join(mid, "carol", 3)}
        self.assertEqual((devs["alice"]["user_role"], devs["hank"]["user_role"]), (1, 2))
        return mid, devs

    def role(self, mid, dev):
        rows = [r for r in self.participants(mid)
                if r["ms_open_id"] == dev["ms_open_id"] and "left_time" not in r]
        self.assertTrue(rows, "device not present")
        return {r["user_role"] for r in rows}

    def co_hosts(self, mid):
        return [c["ms_open_id"] for c in self.query(mid).get("current_co_hosts", [])]

    def test_host_appoints_and_revokes(self):
        mid, d = self.scene()
        self.assertEqual(self.assert_ok(self.cohost(mid, op_ms(d["hank"]), d["bob"])), {})
        self.assertEqual(self.role(mid, d["bob"]), {6})
        # The role belongs to the user: another device of bob is a co-host too.
        self.assertEqual(self.join(mid, "bob", 4)["user_role"], 6)
        # ...and it carries power: bob may now remove carol's device.
        self.kick_ok(mid, h.kick_body(op_ms(d["bob"]), [tgt_ms(d["carol"])]))
        self.assertEqual(self.assert_ok(self.cohost(mid, op_ms(d["hank"]), d["bob"],
                                                    action=False)), {})
        self.assertEqual(self.role(mid, d["bob"]), {0})
        carol = self.join(mid, "carol", 3)
        self.assert_error(self.kickout(mid, h.kick_body(op_ms(d["bob"]), [tgt_ms(carol)])),
                          403, 9042)
        self.assert_present(mid, carol)

    def test_query_lists_current_co_hosts(self):
        mid, d = self.scene()
        self.assertEqual(self.co_hosts(mid), [])
        self.assert_ok(self.cohost(mid, op_ms(d["hank"]), d["bob"]))
        self.assertEqual(self.co_hosts(mid), [d["bob"]["ms_open_id"]])
        self.assert_ok(self.cohost(mid, op_ms(d["hank"]), d["bob"], action=False))
        self.assertEqual(self.co_hosts(mid), [])

    def test_creator_appoints_by_userid_and_creator_cohost_is_7(self):
        mid, d = self.scene()
        self.assertEqual(self.assert_ok(self.cohost(mid, op_userid("alice"), d["bob"])), {})
        self.assertEqual(self.role(mid, d["bob"]), {6})
        self.assertEqual(self.assert_ok(self.cohost(mid, op_ms(d["hank"]), d["alice"])), {})
        self.assertEqual(self.role(mid, d["alice"]), {7})

    def test_only_host_or_creator_appoints(self):
        mid, d = self.scene()
        self.assert_ok(self.cohost(mid, op_ms(d["hank"]), d["bob"]))
        before = self.state(mid)
        self.assert_error(self.cohost(mid, op_ms(d["bob"]), d["carol"]), 403, 9042)   # co-host
        self.assert_error(self.cohost(mid, op_ms(d["carol"]), d["carol"]), 403, 9042)  # member
        self.assert_error(self.cohost(mid, op_userid("carol", 3), d["carol"]), 403, 9042)
        self.assert_error(self.cohost(mid, op_ms(d["carol"]), d["bob"], action=False),
                          403, 9042)
        self.assert_unchanged(before, mid)
        self.assertEqual(self.role(mid, d["carol"]), {0})

    def test_mra_target_allowed(self):
        # Tencent's current co-host doc allows meeting-room (MRA) targets.
        mid, d = self.scene()
        room = self.join(mid, "room-1", 9)
        self.assertEqual(self.role(mid, room), {0})
        self.assertEqual(self.cohost(mid, op_ms(d["hank"]), room).status, 200)
        self.assertEqual(self.role(mid, room), {6})

    def test_target_must_be_present_on_that_device(self):
        mid, d = self.scene()
        gone = self.join(mid, "dave", 5)
        self.assert_ok(self.leave(mid, gone))
        before = self.state(mid)
        body = dict(op_ms(d["hank"]), action=True)
        for target in (tgt_ms(d["carol"], instanceid=2), tgt_ms(gone),
                       {"to_operator_id": h.FAKE_MS, "to_operator_id_type": 4, "instanceid": 1}):
            with self.subTest(target=target):
                body["user"] = target
                self.assert_error(self.client.put(
                    "/v1/real-control/meetings/%s/cohosts" % mid, body), 400, 190004)
        self.assert_unchanged(before, mid)

    def test_meeting_not_in_progress(self):
        mid, d = self.scene()
        self.assert_ok(self.dismiss(mid))
        before = self.state(mid)
        self.assert_error(self.cohost(mid, op_userid("alice"), d["bob"]), 400, 190004)
        self.assert_unchanged(before, mid)


if __name__ == "__main__":
    unittest.main()
