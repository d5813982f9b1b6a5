"""The kickout API: every rule of docs/api.md "Kickout"."""
import json
import unittest

import meetd_harness as h
from meetd_harness import (FAKE_MS, kick_body, op_ms, op_userid, op_uuid, tgt_ms,
                           tgt_uuid, variant, DROP)

KICK = "/v1/real-control/meetings/%s/kickout"


class KickoutBase(h.MeetdCase):
    def scene(self, hosts=None, rule=None):
        """alice (creator) on PC, bob (member) on Mac."""
        mid = self.new_meeting("alice", hosts=hosts, rule=rule)
        return mid, self.join(mid, "alice", 1), self.join(mid, "bob", 2)

    def refused(self, mid, body, http_status, code, viewer="alice", **kw):
        """The kickout is refused with this error and changes nothing."""
        before = self.state(mid, viewer)
        self.assert_error(self.kickout(mid, body, **kw), http_status, code)
        self.assert_unchanged(before, mid, viewer)

    def make_cohost(self, mid, appointer_op, dev):
        self.assertEqual(self.assert_ok(self.cohost(mid, appointer_op, dev)), {})

    def results(self, mid, body):
        resp = self.kickout(mid, body, prefer=True)
        return self.assert_ok(resp)["results"]

    def cohosts(self, mid):
        """userids in current_co_hosts."""
        return sorted(c["userid"] for c in self.query(mid).get("current_co_hosts", []))

    def refused_all(self, mid, req, http_status, code, contains=None):
        """req() is refused with this error and changes nothing, co-hosts included."""
        before = (self.state(mid), self.cohosts(mid))
        self.assert_error(req(), http_status, code, contains=contains)
        self.assertEqual((self.state(mid), self.cohosts(mid)), before,
                         "a refused request changed the meeting")


class BodyFormsTest(KickoutBase):
    def test_seed_form(self):
        mid, alice, bob = self.scene()
        resp = self.kick_ok(mid, kick_body(op_uuid(alice), [tgt_uuid(bob)], reason="test"))
        self.assertEqual(resp.raw.strip(), b"{}")
        self.assertEqual(self.present(mid), [(alice["ms_open_id"], 1)])
        row = [r for r in self.participants(mid) if r["ms_open_id"] == bob["ms_open_id"]][0]
        self.assertRegex(row.get("left_time", ""), r"^[0-9]+$")

    def test_current_form(self):
        mid, alice, bob = self.scene()
        resp = self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)]))
        self.assertEqual(resp.raw.strip(), b"{}")
        self.assertEqual(self.present(mid), [(alice["ms_open_id"], 1)])

    def test_mixed_target_forms_in_one_request(self):
        mid, alice, bob = self.scene()
        carol = self.join(mid, "carol", 3)
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_uuid(bob), tgt_ms(carol)]))
        self.assertEqual(self.present(mid), [(alice["ms_open_id"], 1)])

    def test_operator_id_wins_over_uuid(self):
        mid, alice, bob = self.scene()
        self.join(mid, "alice", 2)              # alice on Mac too
        carol = self.join(mid, "carol", 3)
        # operator_id = member bob, uuid = host alice, both on Mac: bob decides -> 9042.
        body = kick_body(dict(op_ms(bob), uuid=alice["uuid"]), [tgt_ms(carol)])
        self.refused(mid, body, 403, 9042)
        # operator_id = alice on PC, uuid = bob (not on PC): alice decides -> removed.
        self.kick_ok(mid, kick_body(dict(op_ms(alice), uuid=bob["uuid"]), [tgt_ms(carol)]))
        self.assert_absent(mid, carol)


class OperatorTest(KickoutBase):
    def test_operator_by_userid_need_not_be_present(self):
        mid = self.new_meeting("alice", hosts=["hank"])
        bob, carol = self.join(mid, "bob", 2), self.join(mid, "carol", 3)
        self.kick_ok(mid, kick_body(op_userid("alice", 1), [tgt_ms(bob)]))     # creator
        self.kick_ok(mid, kick_body(op_userid("hank", 4), [tgt_ms(carol)]))    # host
        self.assertEqual(self.present(mid), [])

    def test_member_or_stranger_by_userid_refused(self):
        mid, alice, bob = self.scene()
        carol = self.join(mid, "carol", 3)
        self.refused(mid, kick_body(op_userid("carol", 3), [tgt_ms(bob)]), 403, 9042)
        self.refused(mid, kick_body(op_userid("nobody", 1), [tgt_ms(bob)]), 403, 9042)
        self.assert_present(mid, carol)

    def test_openid_operator_refused(self):
        mid, alice, bob = self.scene()
        body = kick_body(dict(op_ms(alice), operator_id_type=2), [tgt_ms(bob)])
        self.refused(mid, body, 400, 190004)

    def test_unknown_operator_id_type(self):
        mid, alice, bob = self.scene()
        for t in (0, 3, 5, 99, -1, "4", None):
            with self.subTest(operator_id_type=t):
                body = kick_body(dict(op_ms(alice), operator_id_type=t), [tgt_ms(bob)])
                self.refused(mid, body, 400, 190004)

    def test_operator_must_be_present_on_that_device(self):
        mid, alice, bob = self.scene()
        carol = self.join(mid, "carol", 3)
        self.refused(mid, kick_body(op_ms(alice, instanceid=2), [tgt_ms(carol)]), 403, 9042)
        self.refused(mid, kick_body(op_uuid(alice, instanceid=4), [tgt_ms(carol)]), 403, 9042)
        self.refused(mid, kick_body({"operator_id": FAKE_MS, "operator_id_type": 4,
                                     "instanceid": 1}, [tgt_ms(carol)]), 403, 9042)
        self.assert_ok(self.leave(mid, alice))
        self.refused(mid, kick_body(op_ms(alice), [tgt_ms(carol)]), 403, 9042)
        self.refused(mid, kick_body(op_uuid(alice), [tgt_ms(carol)]), 403, 9042)

    def test_member_and_guest_operators_refused(self):
        mid, alice, bob = self.scene()
        carol = self.join(mid, "carol", 3)
        guest = self.join(mid, guest_id="g1", instanceid=5)
        self.refused(mid, kick_body(op_ms(bob), [tgt_ms(carol)]), 403, 9042)
        self.refused(mid, kick_body(op_uuid(bob), [tgt_uuid(carol)]), 403, 9042)
        self.refused(mid, kick_body(op_ms(guest), [tgt_ms(carol)]), 403, 9042)

    def test_cohost_removes_a_member(self):
        mid, alice, bob = self.scene()
        carol = self.join(mid, "carol", 3)
        self.make_cohost(mid, op_ms(alice), bob)
        self.kick_ok(mid, kick_body(op_ms(bob), [tgt_ms(carol)]))
        self.assert_absent(mid, carol)

    def test_cohost_cannot_remove_host_or_creator(self):
        mid = self.new_meeting("alice", hosts=["hank"])
        alice, hank = self.join(mid, "alice", 1), self.join(mid, "hank", 1)
        bob, carol = self.join(mid, "bob", 2), self.join(mid, "carol", 3)
        self.make_cohost(mid, op_ms(hank), bob)
        self.refused(mid, kick_body(op_ms(bob), [tgt_ms(hank)]), 403, 9042)
        self.refused(mid, kick_body(op_ms(bob), [tgt_ms(alice)]), 403, 9042)
        # All or nothing: a permitted target beside a forbidden one is not removed.
        self.refused(mid, kick_body(op_ms(bob), [tgt_ms(carol), tgt_ms(hank)]), 403, 9042)
        self.assert_present(mid, carol)

    def test_host_removes_cohost_and_creator(self):
        mid = self.new_meeting("alice", hosts=["hank"])
        alice, hank, bob = (self.join(mid, "alice", 1), self.join(mid, "hank", 1),
                            self.join(mid, "bob", 2))
        self.make_cohost(mid, op_ms(hank), bob)
        self.kick_ok(mid, kick_body(op_ms(hank), [tgt_ms(bob), tgt_ms(alice)]))
        self.assertEqual(self.present(mid), [(hank["ms_open_id"], 1)])

    def test_self_kick_refused(self):
        mid, alice, bob = self.scene()
        self.refused(mid, kick_body(op_ms(alice), [tgt_ms(alice)]), 400, 190004)
        self.refused(mid, kick_body(op_uuid(alice), [tgt_uuid(alice)]), 400, 190004)
        self.refused(mid, kick_body(op_ms(alice), [tgt_ms(bob), tgt_ms(alice)]), 400, 190004)
        self.assert_present(mid, bob)


BANNED = "allow_rejoin=false"   # in the message of 9042 for a banned operator


class BannedOperatorTest(KickoutBase):
    """A banned user is never an operator, whatever names them (docs/api.md)."""

    def cohost_api(self, mid, op, target, action=True):
        return lambda: self.cohost(mid, op, target, action)

    def test_removed_and_banned_cohost_keeps_no_power(self):
        # The report: co-host carl kicked with allow_rejoin=false, then named
        # by userid, removed bob and banned him for "revenge".
        mid, alice, bob = self.scene()
        carl = self.join(mid, "carl", 3)
        self.make_cohost(mid, op_ms(alice), carl)
        self.assertEqual(self.cohosts(mid), ["carl"])
        self.kick_ok(mid, kick_body(op_userid("alice"), [tgt_ms(carl)], allow_rejoin=False,
                                    reason="disruptive"))
        self.assertEqual(self.cohosts(mid), [])
        revenge = kick_body(op_userid("carl", 3), [tgt_ms(bob)], allow_rejoin=False,
                            reason="revenge")
        self.refused_all(mid, lambda: self.kickout(mid, revenge), 403, 9042, contains=BANNED)
        self.assert_present(mid, bob)
        self.assertEqual([b["userid"] for b in self.bans(mid)["bans"]], ["carl"])
        # Nor by the co-host API, in either direction.
        for action in (True, False):
            self.refused_all(mid, self.cohost_api(mid, op_userid("carl", 3), bob, action),
                             403, 9042, contains=BANNED)

    def test_banned_user_present_on_another_device(self):
        # The ban removes the named device only; the power goes at once.
        mid, alice, bob = self.scene()
        carl_pc, carl_ipad = self.join(mid, "carl", 1), self.join(mid, "carl", 6)
        self.make_cohost(mid, op_ms(alice), carl_pc)
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(carl_pc)], allow_rejoin=False))
        self.assert_present(mid, carl_ipad)
        self.assertEqual(self.cohosts(mid), [])
        for op in (op_ms(carl_ipad), op_uuid(carl_ipad), op_userid("carl", 6)):
            with self.subTest(op=op):
                self.refused_all(mid, lambda: self.kickout(mid, kick_body(op, [tgt_ms(bob)])),
                                 403, 9042, contains=BANNED)
        # Made co-host again while banned: refused (it could never act)...
        self.refused_all(mid, self.cohost_api(mid, op_ms(alice), carl_ipad), 400, 190004,
                         contains="lift the ban")
        # ...until the ban is lifted.
        self.assertEqual(self.assert_ok(self.lift_ban(mid, "carl")), {"lifted": True})
        self.make_cohost(mid, op_ms(alice), carl_ipad)
        self.kick_ok(mid, kick_body(op_ms(carl_ipad), [tgt_ms(bob)]))
        self.assert_absent(mid, bob)

    def test_banned_creator_and_host_are_no_operators(self):
        # Hosts are scheduled by userid and act from outside the meeting: a
        # ban still takes every operator's right away, cancel included.
        mid = self.new_meeting("alice", hosts=["hank"])
        alice, hank = self.join(mid, "alice", 1), self.join(mid, "hank", 2)
        bob = self.join(mid, "bob", 3)
        self.kick_ok(mid, kick_body(op_ms(hank), [tgt_ms(alice)], allow_rejoin=False))
        requests = {
            "kickout": lambda: self.kickout(mid, kick_body(op_userid("alice"), [tgt_ms(bob)])),
            "cohosts": self.cohost_api(mid, op_userid("alice"), bob),
            "participants": lambda: self.participants_req(mid, "alice"),
            "dismiss": lambda: self.dismiss(mid, "alice"),
            "cancel": lambda: self.cancel(mid, "alice"),
        }
        for name, req in requests.items():
            with self.subTest(name):
                before = (self.state(mid, "hank"), self.cohosts(mid))
                self.assert_error(req(), 403, 9042, contains=BANNED)
                self.assertEqual((self.state(mid, "hank"), self.cohosts(mid)), before)
        # The host banned by the creator alike.
        self.assertEqual(self.assert_ok(self.lift_ban(mid, "alice")), {"lifted": True})
        self.kick_ok(mid, kick_body(op_userid("alice"), [tgt_ms(hank)], allow_rejoin=False))
        for req in (lambda: self.kickout(mid, kick_body(op_userid("hank", 2), [tgt_ms(bob)])),
                    lambda: self.participants_req(mid, "hank"),
                    lambda: self.dismiss(mid, "hank")):
            before = self.state(mid)
            self.assert_error(req(), 403, 9042, contains=BANNED)
            self.assert_unchanged(before, mid)
        # Lifted, the creator's rights are back: dismiss works.
        self.assert_ok(self.dismiss(mid, "alice"))


class CohostRevokedTest(KickoutBase):
    """Which kickouts take the co-host role away (docs/api.md, Kickout)."""

    def test_last_device_removed_with_rejoin_allowed(self):
        mid, alice, bob = self.scene()
        carl = self.join(mid, "carl", 3)
        self.make_cohost(mid, op_ms(alice), carl)
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(carl)], allow_rejoin=True))
        self.assertEqual(self.cohosts(mid), [])
        # Back as a member: no say.
        carl = self.join(mid, "carl", 3)
        row = [r for r in self.participants(mid) if r["userid"] == "carl" and
               "left_time" not in r][0]
        self.assertEqual(row["user_role"], 0)
        self.refused(mid, kick_body(op_ms(carl), [tgt_ms(bob)]), 403, 9042)

    def test_one_of_several_devices_removed_keeps_the_role(self):
        mid, alice, bob = self.scene()
        carl_pc, carl_ipad = self.join(mid, "carl", 1), self.join(mid, "carl", 6)
        self.make_cohost(mid, op_ms(alice), carl_pc)
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(carl_pc)], allow_rejoin=True))
        self.assertEqual(self.cohosts(mid), ["carl"])
        self.kick_ok(mid, kick_body(op_ms(carl_ipad), [tgt_ms(bob)]))
        self.assert_absent(mid, bob)

    def test_every_device_in_one_request(self):
        mid, alice, bob = self.scene()
        carl_pc, carl_ipad = self.join(mid, "carl", 1), self.join(mid, "carl", 6)
        self.make_cohost(mid, op_ms(alice), carl_ipad)
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(carl_pc), tgt_uuid(carl_ipad)]))
        self.assertEqual(self.cohosts(mid), [])

    def test_refused_or_no_op_kickout_keeps_the_role(self):
        mid, alice, bob = self.scene()
        carl = self.join(mid, "carl", 3)
        self.make_cohost(mid, op_ms(alice), carl)
        # A device carl is not on: nothing removed, nothing banned, still co-host.
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(carl, instanceid=4)],
                                    allow_rejoin=False))
        self.assertEqual(self.cohosts(mid), ["carl"])
        # All or nothing: refused for another entry, carl keeps everything.
        self.refused_all(mid, lambda: self.kickout(mid, kick_body(
            op_ms(alice), [tgt_ms(carl), tgt_ms(alice)], allow_rejoin=False)), 400, 190004)
        self.assertEqual(self.cohosts(mid), ["carl"])


class ValidationTest(KickoutBase):
    def test_user_count_1_to_20(self):
        mid, alice, bob = self.scene()
        members = [self.join(mid, "m%02d" % i, 1 + i % 8) for i in range(20)]
        self.refused(mid, kick_body(op_ms(alice), []), 400, 190004)
        too_many = [tgt_ms(m) for m in members] + [tgt_ms(bob)]
        self.refused(mid, kick_body(op_ms(alice), too_many), 400, 190004)
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(m) for m in members]))
        self.assertEqual(self.present(mid), sorted([(alice["ms_open_id"], 1),
                                                    (bob["ms_open_id"], 2)]))

    def test_mra_target_needs_a_reason(self):
        mid, alice, bob = self.scene()
        room = self.join(mid, "room-1", 9)
        self.refused(mid, kick_body(op_ms(alice), [tgt_ms(room)]), 400, 190004)
        self.refused(mid, kick_body(op_ms(alice), [tgt_ms(room)], reason=""), 400, 190004)
        self.refused(mid, kick_body(op_ms(alice), [tgt_ms(bob), tgt_ms(room)]), 400, 190004)
        # Any target naming instanceid 9 needs it, present or not.
        self.refused(mid, kick_body(op_ms(alice), [tgt_ms(bob, instanceid=9)]), 400, 190004)
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(room)], reason="room closing"))
        self.assert_absent(mid, room)

    def test_reason_at_most_1024_bytes(self):
        mid, alice, bob = self.scene()
        for reason in ("r" * 1025, "中" * 342):        # 1025 and 1026 bytes (342 chars)
            with self.subTest(bytes=len(reason.encode())):
                self.refused(mid, kick_body(op_ms(alice), [tgt_ms(bob)], reason=reason),
                             400, 190004)
        self.refused(mid, kick_body(op_ms(alice), [tgt_ms(bob)], reason=7), 400, 190004)
        reason = "中" * 341 + "a"                      # exactly 1024 bytes
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)], reason=reason,
                                    allow_rejoin=False))
        self.assertEqual(self.audit(mid)[0]["reason"], reason)

    def test_invalid_instanceids(self):
        mid, alice, bob = self.scene()
        good = kick_body(op_ms(alice), [tgt_ms(bob)])
        for bad in (11, -1, 23, 31, 34, 1.5, "1", None, True, 18446744073709551617):
            with self.subTest(operator_instanceid=bad):
                self.refused(mid, variant(good, instanceid=bad), 400, 190004)
            with self.subTest(target_instanceid=bad):
                self.refused(mid, variant(good, users=[variant(tgt_ms(bob), instanceid=bad)]),
                             400, 190004)
        self.refused(mid, variant(good, instanceid=DROP), 400, 190004)
        self.refused(mid, variant(good, users=[variant(tgt_ms(bob), instanceid=DROP)]),
                     400, 190004)

    def test_wrong_types_and_missing_fields(self):
        mid, alice, bob = self.scene()
        good = kick_body(op_ms(alice), [tgt_ms(bob)])
        t = tgt_ms(bob)
        cases = {
            "allow_rejoin string": variant(good, allow_rejoin="false"),
            "allow_rejoin int": variant(good, allow_rejoin=0),
            "allow_rejoin null": variant(good, allow_rejoin=None),
            "allow_rejoin missing": variant(good, allow_rejoin=DROP),
            "users object": variant(good, users=t),
            "users string": variant(good, users=bob["ms_open_id"]),
            "users null": variant(good, users=None),
            "users missing": variant(good, users=DROP),
            "user not object": variant(good, users=[bob["ms_open_id"]]),
            "user without id": variant(good, users=[{"instanceid": 2}]),
            "to_operator_id_type string": variant(good, users=[variant(t, to_operator_id_type="4")]),
            "to_operator_id_type 99": variant(good, users=[variant(t, to_operator_id_type=99)]),
            "to_operator_id not string": variant(good, users=[variant(t, to_operator_id=5)]),
            "to_operator_id empty": variant(good, users=[variant(t, to_operator_id="")]),
            "to_operator_id 129 bytes": variant(good, users=[variant(t, to_operator_id="m" * 129)]),
            "target uuid not string": variant(good, users=[{"uuid": 1, "instanceid": 2}]),
            "operator missing": variant(good, operator_id=DROP, operator_id_type=DROP),
            "operator_id not string": variant(good, operator_id=12),
            "operator_id empty": variant(good, operator_id=""),
            "operator uuid not string": kick_body({"uuid": ["x"], "instanceid": 1}, [t]),
        }
        for what, body in cases.items():
            with self.subTest(what):
                self.refused(mid, body, 400, 190004)

    def test_malformed_bodies(self):
        mid, alice, bob = self.scene()
        good = h.to_bytes(kick_body(op_ms(alice), [tgt_ms(bob)], reason="x"))
        cases = {
            "empty": b"",
            "truncated": good[:-1],
            "trailing comma": good[:-1] + b",}",
            "duplicate top-level key": good[:-1] + b',"allow_rejoin":false}',
            "duplicate key in user": good.replace(b'"instanceid":2}', b'"instanceid":2,"instanceid":3}'),
            "array": b"[" + good + b"]",
            "string": b'"kick"',
            "number": b"1",
            "null": b"null",
            "invalid utf-8 in reason": good.replace(b'"reason":"x"', b'"reason":"\xff\xfe"'),
            "lone surrogate": good.replace(b'"reason":"x"', b'"reason":"\\ud800"'),
            "NaN": good.replace(b'"instanceid":1', b'"instanceid":NaN'),
            "two documents": good + good,
        }
        self.assertIn(b'"instanceid":2}', good)
        for what, raw in cases.items():
            with self.subTest(what):
                self.assertNotEqual(raw, good)
                self.refused(mid, raw, 400, 190004)


class DeviceRulesTest(KickoutBase):
    def test_mismatched_instanceid_is_a_no_op(self):
        mid, alice, bob = self.scene()
        before = self.state(mid)
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob, instanceid=1)],
                                    allow_rejoin=False))
        self.assert_unchanged(before, mid)

    def test_representation_reports_each_target(self):
        mid, alice, bob = self.scene()
        carol = self.join(mid, "carol", 3)
        res = self.results(mid, kick_body(op_ms(alice), [
            tgt_ms(bob), tgt_ms(carol, instanceid=4),
            {"to_operator_id": FAKE_MS, "to_operator_id_type": 4, "instanceid": 1}]))
        self.assertEqual(res, [
            {"ms_open_id": bob["ms_open_id"], "uuid": bob["uuid"], "instanceid": 2,
             "result": "removed"},
            {"ms_open_id": carol["ms_open_id"], "uuid": carol["uuid"], "instanceid": 4,
             "result": "device_mismatch"},
            {"ms_open_id": FAKE_MS, "uuid": "", "instanceid": 1, "result": "not_in_meeting"}])
        self.assertEqual(self.present(mid), sorted([(alice["ms_open_id"], 1),
                                                    (carol["ms_open_id"], 3)]))
        self.assertEqual(len(self.audit(mid)), 1)

    def test_retry_is_safe(self):
        mid, alice, bob = self.scene()
        body = kick_body(op_ms(alice), [tgt_ms(bob)], allow_rejoin=False, reason="spam")
        self.kick_ok(mid, body)
        after = self.state(mid)
        self.kick_ok(mid, body)
        self.assertEqual(self.results(mid, body)[0]["result"], "not_in_meeting")
        self.assert_unchanged(after, mid)
        self.assertEqual(len(after["audit"]), 1)
        self.assertEqual(after["bans"]["total_count"], 1)

    def test_target_listed_twice_is_removed_once(self):
        mid, alice, bob = self.scene()
        res = self.results(mid, kick_body(op_ms(alice), [tgt_ms(bob), tgt_uuid(bob)]))
        self.assertEqual([r["result"] for r in res], ["removed", "removed"])
        self.assertEqual(len(self.audit(mid)), 1)
        self.assert_absent(mid, bob)

    def test_all_or_nothing_on_invalid_entries(self):
        mid, alice, bob = self.scene()
        room = self.join(mid, "room-1", 9)
        for bad in (tgt_ms(room), {"to_operator_id": FAKE_MS, "to_operator_id_type": 4,
                                   "instanceid": 12}, tgt_ms(alice), {"instanceid": 2}):
            with self.subTest(bad=bad):
                self.refused(mid, kick_body(op_ms(alice), [tgt_ms(bob), bad],
                                            allow_rejoin=False), 400, 190004)
        self.assert_present(mid, bob)

    def test_kicked_device_is_told_and_its_stream_closes(self):
        mid, alice, bob = self.scene()
        stream = self.events(bob)
        self.assertEqual(stream.status, 200)
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)], allow_rejoin=False,
                                    reason="bye now"))
        event, data = stream.next_event()
        self.assertEqual(event, "kicked")
        data = json.loads(data)
        self.assertEqual((data.get("reason"), data.get("allow_rejoin")), ("bye now", False))
        self.assertIn("operator", data)
        self.assertIsNone(stream.next_event(), "stream not closed after 'kicked'")

    def test_other_devices_of_the_user_stay(self):
        mid, alice, bob = self.scene()
        bob_ipad = self.join(mid, "bob", 6)
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)], allow_rejoin=False, reason="r"))
        self.assertEqual(self.present(mid), sorted([(alice["ms_open_id"], 1),
                                                    (bob_ipad["ms_open_id"], 6)]))
        # Banned: even joining again on the device still present is refused and
        # does not replace that session.
        before = self.state(mid)
        self.assert_error(self.join_req(mid, "bob", 6), 403, 9101)
        self.assert_unchanged(before, mid)


class MeetingStateTest(KickoutBase):
    NOT_STARTED = ("meeting is not in progress: nobody has joined it yet "
                   "(a meeting starts when its first device joins)")

    def test_meeting_never_started(self):
        # Right after create: the message says why, and what starts a meeting.
        mid = self.new_meeting("alice")
        body = kick_body(op_userid("alice"), [{"to_operator_id": FAKE_MS,
                                               "to_operator_id_type": 4, "instanceid": 2}])
        before = self.state(mid)
        self.assert_error(self.kickout(mid, body), 400, 190004, message=self.NOT_STARTED)
        self.assert_unchanged(before, mid)
        cohost = dict(op_userid("alice"), action=True,
                      user={"to_operator_id": FAKE_MS, "to_operator_id_type": 4,
                            "instanceid": 2})
        self.assert_error(self.client.put("/v1/real-control/meetings/%s/cohosts" % mid, cohost),
                          400, 190004, message=self.NOT_STARTED)
        self.assert_unchanged(before, mid)

    def test_meeting_dismissed_or_cancelled(self):
        messages = {"dismiss": "meeting is not in progress: it has ended (dismissed); "
                               "an ended meeting does not start again",
                    "cancel": "meeting is not in progress: it was cancelled"}
        for end in (self.dismiss, self.cancel):
            with self.subTest(end.__name__):
                # Dismiss ends a meeting in progress; cancel one nobody has
                # joined (a started meeting cannot be cancelled).
                if end == self.dismiss:
                    mid, alice, bob = self.scene()
                    target = tgt_ms(bob)
                else:
                    mid = self.new_meeting("alice")
                    target = {"to_operator_id": FAKE_MS, "to_operator_id_type": 4,
                              "instanceid": 2}
                self.assert_ok(end(mid))
                body = kick_body(op_userid("alice"), [target], allow_rejoin=False)
                before = self.state(mid)
                self.assert_error(self.kickout(mid, body), 400, 190004,
                                  message=messages[end.__name__])
                self.assert_unchanged(before, mid)
                # Dismissing again says the same.
                self.assert_error(self.dismiss(mid), 400, 190004,
                                  message=messages[end.__name__])

    def test_recurring_occurrence_not_joined_yet(self):
        info = self.create_meeting("alice", rule={"recurring_type": 0, "until_type": 1,
                                                  "until_count": 2})
        mid, sub = info["meeting_id"], info["sub_meetings"][0]["sub_meeting_id"]
        body = kick_body(op_userid("alice"), [{"uuid": "X", "instanceid": 2}])
        self.assert_error(self.kickout(mid, body), 400, 190004, message=(
            "meeting is not in progress: nobody has joined its current occurrence "
            "(sub_meeting_id %s) yet (an occurrence starts when its first device joins)" % sub))
        self.assert_ok(self.cancel(mid))
        self.assert_error(self.kickout(mid, body), 400, 190004, message=(
            "meeting is not in progress: the recurring meeting was cancelled"))

    def test_unknown_and_malformed_meeting_ids(self):
        mid, alice, bob = self.scene()
        body = kick_body(op_ms(alice), [tgt_ms(bob)])
        self.assert_error(self.kickout("1234567890123456789", body), 400, 9003,
                          message="MEETING NOT EXIST")
        for bad in ("abc", "1" * 20, "12x"):
            self.assert_error(self.kickout(bad, body), 400, 9002)
        self.assert_present(mid, bob)


class BanTest(KickoutBase):
    def test_ban_blocks_rejoin_from_any_device_and_is_listed(self):
        mid, alice, bob = self.scene()
        resp = self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)], allow_rejoin=False,
                                           reason="disruptive"))
        for instanceid in (2, 1, 9, 4):
            with self.subTest(instanceid=instanceid):
                before = self.state(mid)
                self.assert_error(self.join_req(mid, "bob", instanceid), 403, 9101)
                self.assert_unchanged(before, mid)
        bans = self.bans(mid)
        self.assertEqual((bans["meeting_id"], bans["total_count"], len(bans["bans"])),
                         (mid, 1, 1))
        ban = bans["bans"][0]
        self.assertEqual({k: ban.get(k) for k in ("userid", "uuid", "ms_open_id", "reason",
                                                  "operator_ms_open_id", "request_id")},
                         {"userid": "bob", "uuid": bob["uuid"], "ms_open_id": bob["ms_open_id"],
                          "reason": "disruptive", "operator_ms_open_id": alice["ms_open_id"],
                          "request_id": resp.trace})
        self.assertRegex(ban["banned_at"], r"^[0-9]+$")
        # Other users still join.
        self.join(mid, "carol", 3)

    def test_lifting_a_ban(self):
        for by in ("ms_open_id", "userid"):
            with self.subTest(by=by):
                mid, alice, bob = self.scene()
                self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)], allow_rejoin=False))
                who = bob["ms_open_id"] if by == "ms_open_id" else "bob"
                self.assertEqual(self.assert_ok(self.lift_ban(mid, who)), {"lifted": True})
                self.assertEqual(self.bans(mid)["total_count"], 0)
                again = self.join(mid, "bob", 2)
                self.assertEqual((again["uuid"], again["ms_open_id"]),
                                 (bob["uuid"], bob["ms_open_id"]))
                self.assertEqual(self.assert_ok(self.lift_ban(mid, who)), {"lifted": False})

    def test_lift_ambiguous_name_is_refused_and_kinds_choose(self):
        # The report: userid gus present, guest gus banned; lifting "gus"
        # answered {"lifted":false} and the guest stayed banned.
        mid, alice, bob = self.scene()
        gus_user = self.join(mid, "gus", 3)
        gus_guest = self.join(mid, guest_id="gus", instanceid=5)
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(gus_guest)], allow_rejoin=False))
        before = self.state(mid)
        info = self.assert_error(self.lift_ban(mid, "gus"), 400, 190004)
        self.assertIn("?kind=userid or ?kind=guest_id", info["message"])
        self.assert_unchanged(before, mid)
        # The userid gus is not banned: nothing to lift, and the guest's stays.
        self.assertEqual(self.assert_ok(self.lift_ban(mid, "gus", kind="userid")),
                         {"lifted": False})
        self.assert_unchanged(before, mid)
        self.assertEqual(self.assert_ok(self.lift_ban(mid, "gus", kind="guest_id")),
                         {"lifted": True})
        self.assertEqual(self.bans(mid)["bans"], [])
        self.join(mid, guest_id="gus", instanceid=8)
        self.assert_present(mid, gus_user)

    def test_lift_by_each_kind(self):
        mid, alice, bob = self.scene()
        guest = self.join(mid, guest_id="visitor", instanceid=5)
        for kind, who in (("userid", "bob"), ("ms_open_id", bob["ms_open_id"]),
                          ("uuid", bob["uuid"]), ("guest_id", "visitor")):
            with self.subTest(kind=kind):
                target = guest if kind == "guest_id" else bob
                self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(target)],
                                            allow_rejoin=False))
                # The same string as another kind names nobody: nothing lifted.
                other = "uuid" if kind != "uuid" else "userid"
                before = self.state(mid)
                self.assertEqual(self.assert_ok(self.lift_ban(mid, who, kind=other)),
                                 {"lifted": False})
                self.assert_unchanged(before, mid)
                self.assertEqual(self.assert_ok(self.lift_ban(mid, who, kind=kind)),
                                 {"lifted": True})
                self.assertEqual(self.bans(mid)["bans"], [])
                self.join(mid, guest_id="visitor", instanceid=5) if kind == "guest_id" \
                    else self.join(mid, "bob", 2)

    def test_lift_bad_kinds_change_nothing(self):
        mid, alice, bob = self.scene()
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)], allow_rejoin=False))
        before = self.state(mid)
        for kind in ("", "openid", "USERID", "guest", "ms", "user_id", "userid ", "1",
                     "x" * 300, "userid&kind=uuid", "ms_open_id\n"):
            with self.subTest(kind=kind):
                self.assert_error(self.lift_ban(mid, "bob", kind=kind), 400, 190004,
                                  message="kind must be userid, guest_id, ms_open_id or uuid")
                self.assert_unchanged(before, mid)
        # Checked before the meeting is read: the same for a meeting of nobody.
        self.assert_error(self.lift_ban("1234567890123456789", "bob", kind="nick"), 400, 190004)

    def test_ban_names_its_operator_as_the_audit_does(self):
        # Named by userid and never joined: the bans list showed no operator.
        mid = self.new_meeting("alice")
        bob = self.join(mid, "bob", 2)
        carol = self.join(mid, "carol", 3)
        resp = self.kick_ok(mid, kick_body(op_userid("alice", 4), [tgt_ms(bob)],
                                           allow_rejoin=False, reason="r"))
        ban = self.bans(mid)["bans"][0]
        self.assertEqual(ban["operator"], {"userid": "alice", "uuid": "", "ms_open_id": "",
                                           "instanceid": 4})
        self.assertEqual(ban["operator_ms_open_id"], "")
        self.assertEqual(ban["operator"], self.audit(mid)[0]["operator"])
        self.assertEqual(ban["request_id"], resp.trace)
        # Joined, named by ms_open_id: every field, still as the audit has it.
        alice = self.join(mid, "alice", 1)
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(carol)], allow_rejoin=False))
        ban = [b for b in self.bans(mid)["bans"] if b["userid"] == "carol"][0]
        self.assertEqual(ban["operator"], {"userid": "alice", "uuid": alice["uuid"],
                                           "ms_open_id": alice["ms_open_id"], "instanceid": 1})
        self.assertEqual(ban["operator_ms_open_id"], alice["ms_open_id"])
        self.assertEqual(ban["operator"], self.audit(mid)[0]["operator"])

    def test_allow_rejoin_true_does_not_ban(self):
        mid, alice, bob = self.scene()
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)], allow_rejoin=True))
        self.assert_absent(mid, bob)
        self.assertEqual(self.bans(mid)["total_count"], 0)
        self.join(mid, "bob", 2)
        self.assert_present(mid, bob)

    def test_guest_ban(self):
        mid, alice, bob = self.scene()
        guest = self.join(mid, guest_id="visitor", instanceid=5)
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(guest)], allow_rejoin=False))
        self.assert_error(self.join_req(mid, guest_id="visitor", instanceid=8), 403, 9101)

    def test_ban_covers_the_whole_series(self):
        info = self.create_meeting("alice", rule={"recurring_type": 0, "until_type": 1,
                                                  "until_count": 3})
        mid, subs = info["meeting_id"], [s["sub_meeting_id"] for s in info["sub_meetings"]]
        alice, bob = self.join(mid, "alice", 1), self.join(mid, "bob", 2)
        self.assertEqual(bob["sub_meeting_id"], subs[0])
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)], allow_rejoin=False))
        self.assertEqual(self.audit(mid)[0]["sub_meeting_id"], subs[0])
        self.assert_ok(self.dismiss(mid))
        self.assertEqual(self.join(mid, "carol", 3)["sub_meeting_id"], subs[1])
        for instanceid in (2, 3):
            self.assert_error(self.join_req(mid, "bob", instanceid), 403, 9101)
        self.assertEqual([r["userid"] for r in self.participants(mid)], ["carol"])


class AuditTest(KickoutBase):
    def test_one_row_per_removal_newest_first_paged(self):
        mid, alice, bob = self.scene()
        carol, dave = self.join(mid, "carol", 3), self.join(mid, "dave", 4)
        first = self.kick_ok(mid, kick_body(op_ms(alice), [
            tgt_ms(bob), tgt_ms(carol), tgt_ms(dave, instanceid=5)],
            allow_rejoin=False, reason="r1"))
        self.refused(mid, kick_body(op_ms(dave), [tgt_ms(alice)]), 403, 9042)
        second = self.kick_ok(mid, kick_body(op_userid("alice"), [tgt_uuid(dave)],
                                             allow_rejoin=True, reason="r2"))
        self.assertNotEqual(first.trace, second.trace)
        records = self.audit(mid)
        self.assertEqual(len(records), 3, records)
        newest = records[0]
        self.assertEqual((newest["request_id"], newest["action"], newest["reason"],
                          newest["allow_rejoin"], newest["sub_meeting_id"]),
                         (second.trace, "kickout", "r2", True, "0"))
        self.assertEqual(newest["target"], {"userid": "dave", "uuid": dave["uuid"],
                                            "ms_open_id": dave["ms_open_id"], "instanceid": 4})
        self.assertEqual(newest["operator"]["userid"], "alice")
        older = sorted(records[1:], key=lambda r: r["target"]["userid"])
        for rec, dev, user in zip(older, (bob, carol), ("bob", "carol")):
            self.assertEqual((rec["request_id"], rec["reason"], rec["allow_rejoin"]),
                             (first.trace, "r1", False))
            self.assertEqual(rec["target"], {"userid": user, "uuid": dev["uuid"],
                                             "ms_open_id": dev["ms_open_id"],
                                             "instanceid": dev["instanceid"]})
            self.assertEqual(rec["operator"], {"userid": "alice", "uuid": alice["uuid"],
                                               "ms_open_id": alice["ms_open_id"],
                                               "instanceid": 1})
        times = [int(r["time"]) for r in records]
        self.assertEqual(times, sorted(times, reverse=True))
        # Paging.
        p = self.assert_ok(self.audit_req(mid, pos=0, size=1))
        self.assertEqual((len(p["records"]), p["total_count"], p["has_remaining"], p["next_pos"]),
                         (1, 3, True, 1))
        self.assertEqual(p["records"][0], records[0])
        p = self.assert_ok(self.audit_req(mid, pos=1, size=2))
        self.assertEqual((p["records"], p["has_remaining"], p["next_pos"]),
                         (records[1:], False, 3))
        for params in ({"size": 0}, {"size": 101}, {"pos": -1}):
            self.assert_error(self.audit_req(mid, **params), 400, 190004)


class RestartTest(KickoutBase):
    def test_ban_and_audit_survive_restart(self):
        mid, alice, bob = self.scene()
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)], allow_rejoin=False, reason="x"))
        bans, audit = self.bans(mid), self.audit(mid)
        self.server.restart()
        self.assert_error(self.join_req(mid, "bob", 3), 403, 9101)
        self.assertEqual(self.bans(mid), bans)
        self.assertEqual(self.audit(mid), audit)
        self.assertEqual(self.assert_ok(self.lift_ban(mid, "bob")), {"lifted": True})
        self.join(mid, "bob", 3)


if __name__ == "__main__":
    unittest.main()
