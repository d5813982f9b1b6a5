"""Fidelity: participants, real-time participants and co-hosts as the
official SDKs send and read them (docs/api.md, Participants, Real-time
participants, Co-hosts).

Requests are built as the SDK serialises them: query parameters in the
SDK's order, every value a string; a GET carries Content-Type
application/json, an empty body and the SdkId header (empty for an app
without one); a body is compact JSON in the model's key order. Responses are
checked field by field against the SDK models' declared JSON types; fields
meetd cannot know are checked absent."""

import base64
import unittest

import sdk_wire
from meetd_harness import MeetdCase, now

# The participant model's fields meetd cannot know: absent, never invented.
UNKNOWABLE = ("app_version", "audio_state", "customer_data", "ip", "link_type",
              "location", "net", "open_id", "phone", "screen_shared_state",
              "video_state", "webinar_member_role")


class SdkCase(sdk_wire.TypeChecks, MeetdCase):

    def sdk_get(self, path, params, client=None):
        """GET as the SDK sends it: params is a list of (name, value) pairs."""
        return sdk_wire.send(client or self.client, "GET", path, params=params)

    def sdk_put(self, path, body, client=None):
        return sdk_wire.send(client or self.client, "PUT", path, body)

    def plist(self, mid, operator="alice", extra=(), client=None, op_type="1", sub=None):
        params = [] if sub is None else [("sub_meeting_id", sub)]
        params += [("operator_id", operator), ("operator_id_type", op_type)] + list(extra)
        return self.sdk_get("/v1/meetings/%s/participants" % mid, params, client)

    def realtime(self, mid, operator="alice", page="1", page_size="20",
                 path="real-time-participants", sub=None, client=None, op_type="1"):
        params = [] if sub is None else [("sub_meeting_id", sub)]
        params += [("operator_id", operator), ("operator_id_type", op_type),
                   ("page", page), ("page_size", page_size)]
        return self.sdk_get("/v1/meetings/%s/%s" % (mid, path), params, client)

    def cohost_body(self, op_id, op_type, op_inst, target, target_inst, action=True):
        # V1RealControlMeetingsMeetingIdCohostsPutRequest's order:
        # action, instanceid, operator_id, operator_id_type, user.
        return {"action": action, "instanceid": op_inst, "operator_id": op_id,
                "operator_id_type": op_type,
                "user": {"instanceid": target_inst, "to_operator_id": target["ms_open_id"],
                         "to_operator_id_type": 4}}

    def set_cohost(self, mid, op_id, op_type, op_inst, target, target_inst, action=True):
        return self.sdk_put("/v1/real-control/meetings/%s/cohosts" % mid,
                            self.cohost_body(op_id, op_type, op_inst, target, target_inst,
                                             action))

    def assert_row(self, row, nick, userid=None, instanceid=None, left=False, role=None):
        self.assertIsInstance(row["ms_open_id"], str, row)
        self.assertTrue(row["ms_open_id"], row)
        self.assertIsInstance(row["user_name"], str, row)
        self.assertEqual(base64.b64decode(row["user_name"]).decode("utf-8"), nick, row)
        self.assert_int(row, "instanceid")
        if instanceid is not None:
            self.assertEqual(row["instanceid"], instanceid, row)
        self.assert_digits(row, "join_time")
        self.assert_int(row, "join_type")
        self.assertEqual(row["join_type"], 0 if row["instanceid"] == 0 else 1, row)
        self.assert_int(row, "user_role")
        if role is not None:
            self.assertEqual(row["user_role"], role, row)
        if userid is None:
            self.assertNotIn("userid", row, "a guest has no userid: %r" % row)
        else:
            self.assertEqual(row["userid"], userid, row)
        if left:
            self.assert_digits(row, "left_time")
            self.assertGreaterEqual(int(row["left_time"]), int(row["join_time"]), row)
        else:
            self.assertNotIn("left_time", row, row)
        for k in UNKNOWABLE:
            self.assertNotIn(k, row, "meetd cannot know %s" % k)

    def scene(self, **kw):
        """alice (creator, PC), bob (Mac, then left), a guest (Web), dave
        by telephone (PSTN, instanceid 0)."""
        mid = self.new_meeting("alice", **kw)
        t0 = now()
        alice = self.join(mid, "alice", 1, nick_name="Alice")
        bob = self.join(mid, "bob", 2, nick_name="Bob 小明")
        guest = self.join(mid, None, 5, guest_id="g-1", nick_name="Guest")
        dave = self.join(mid, "dave", 0, nick_name="Dave")
        self.assert_ok(self.leave(mid, bob))
        return mid, t0, dict(alice=alice, bob=bob, guest=guest, dave=dave)


class ParticipantsFidelityTest(SdkCase):

    def test_fields_as_the_model_declares(self):
        mid, _, d = self.scene()
        resp = self.plist(mid, extra=[("pos", "0"), ("size", "20")])
        body = self.assert_ok(resp)
        self.assertEqual(body["meeting_id"], mid)
        self.assert_digits(body, "meeting_id")
        self.assert_digits(body, "meeting_code")
        self.assertIsInstance(body["subject"], str)
        self.assert_digits(body, "schedule_start_time")
        self.assert_digits(body, "schedule_end_time")
        self.assert_int(body, "total_count")
        self.assert_int(body, "next_pos")
        self.assertIs(type(body["has_remaining"]), bool)
        self.assertEqual((body["total_count"], body["next_pos"], body["has_remaining"]),
                         (4, 4, False))
        rows = {r["ms_open_id"]: r for r in body["participants"]}
        self.assertEqual(len(rows), 4)
        self.assert_row(rows[d["alice"]["ms_open_id"]], "Alice", "alice", 1, role=3)
        self.assert_row(rows[d["bob"]["ms_open_id"]], "Bob 小明", "bob", 2, left=True, role=0)
        self.assert_row(rows[d["guest"]["ms_open_id"]], "Guest", None, 5, role=4)
        self.assert_row(rows[d["dave"]["ms_open_id"]], "Dave", "dave", 0, role=0)
        self.assertEqual(rows[d["dave"]["ms_open_id"]]["join_type"], 0)
        self.assertEqual(rows[d["alice"]["ms_open_id"]]["join_type"], 1)
        self.assertIs(rows[d["alice"]["ms_open_id"]]["is_enterprise_user"], True)
        self.assertIs(rows[d["guest"]["ms_open_id"]]["is_enterprise_user"], False)

    def test_older_userid_form_and_operator_id_wins(self):
        mid, _, _ = self.scene()
        current = self.assert_ok(self.plist(mid))
        older = self.assert_ok(self.sdk_get("/v1/meetings/%s/participants" % mid,
                                            [("userid", "alice")]))
        self.assertEqual(older["participants"], current["participants"])
        # Both given: operator_id is the operator (the userid names a member).
        both = self.sdk_get("/v1/meetings/%s/participants" % mid,
                            [("operator_id", "alice"), ("operator_id_type", "1"),
                             ("userid", "bob")])
        self.assertEqual(self.assert_ok(both)["participants"], current["participants"])
        both = self.sdk_get("/v1/meetings/%s/participants" % mid,
                            [("operator_id", "bob"), ("operator_id_type", "1"),
                             ("userid", "alice")])
        self.assert_error(both, 403, 9042)

    def test_cohost_may_list(self):
        mid, _, d = self.scene()
        carol = self.join(mid, "carol", 3, nick_name="Carol")
        self.assert_error(self.plist(mid, "carol"), 403, 9042)
        self.assert_ok(self.set_cohost(mid, "alice", 1, 1, carol, 3))
        body = self.assert_ok(self.plist(mid, "carol"))
        self.assertEqual(body["total_count"], 5)
        row = [r for r in body["participants"] if r["ms_open_id"] == carol["ms_open_id"]][0]
        self.assertEqual(row["user_role"], 6)
        # The older form too, and the real-time list.
        self.assert_ok(self.sdk_get("/v1/meetings/%s/participants" % mid, [("userid", "carol")]))
        self.assert_ok(self.realtime(mid, "carol"))
        # Revoked: refused again.
        self.assert_ok(self.set_cohost(mid, "alice", 1, 1, carol, 3, action=False))
        self.assert_error(self.plist(mid, "carol"), 403, 9042)
        self.assert_error(self.realtime(mid, "carol"), 403, 9042)

    def test_refusals(self):
        mid, _, _ = self.scene()
        path = "/v1/meetings/%s/participants" % mid
        for params, contains in [
                ([], "operator_id"),
                ([("operator_id", "alice")], "operator_id_type"),
                ([("operator_id", "alice"), ("operator_id_type", "2")], "OAuth2.0"),
                ([("operator_id", "alice"), ("operator_id_type", "4")], "operator_id_type"),
                ([("operator_id", "alice"), ("operator_id_type", "x")], "operator_id_type"),
                ([("operator_id", ""), ("operator_id_type", "1")], "operator_id"),
                ([("operator_id", "u" * 65), ("operator_id_type", "1")], "operator_id"),
                ([("operator_id", "alice"), ("operator_id_type", "1"), ("size", "101")], "size"),
                ([("operator_id", "alice"), ("operator_id_type", "1"), ("size", "0")], "size"),
                ([("operator_id", "alice"), ("operator_id_type", "1"), ("pos", "-1")], "pos")]:
            with self.subTest(params=params):
                self.assert_error(self.sdk_get(path, params), 400, 190004, contains=contains)
        self.assert_error(self.plist(mid, "bob"), 403, 9042)            # a member
        self.assert_error(self.plist(mid, "nobody"), 403, 9042)         # a stranger
        # A rooms_id that names no room of this meeting (alice is a userid).
        self.assert_error(self.sdk_get(path, [("operator_id", "alice"),
                                              ("operator_id_type", "3")]),
                          403, 9042, contains="rooms_id")
        self.assert_error(self.plist("1" * 19), 400, 9003)

    def test_join_time_filter(self):
        mid, t0, _ = self.scene()
        every = self.assert_ok(self.plist(mid, extra=[("size", "100")]))["participants"]
        times = sorted(int(r["join_time"]) for r in every)
        self.assertGreaterEqual(times[0], t0 - 1)

        def page(start=None, end=None, pos="0", size="100"):
            extra = [("pos", pos), ("size", size)]
            if start is not None:
                extra.append(("start_time", str(start)))
            if end is not None:
                extra.append(("end_time", str(end)))
            return self.assert_ok(self.plist(mid, extra=extra))

        # Inclusive bounds: the last join's second selects exactly the joins
        # made in that second; a span ending just before the first, none.
        last = times[-1]
        body = page(last, last)
        self.assertEqual([r["ms_open_id"] for r in body["participants"]],
                         [r["ms_open_id"] for r in every if int(r["join_time"]) == last])
        self.assertEqual(body["total_count"], len(body["participants"]))
        body = page(times[0] - 86400, times[0] - 1)
        self.assertEqual((body["participants"], body["total_count"], body["has_remaining"]),
                         ([], 0, False))
        # start_time alone: up to now; end_time alone: 31 days before it.
        self.assertEqual(page(start=times[0])["participants"], every)
        self.assertEqual(page(end=times[0] - 1)["total_count"], 0)
        self.assertEqual(page(end=last)["total_count"], len(every))
        # Paged within the filter, and a page far past its end is empty.
        got, pos = [], 0
        for _ in range(10):
            body = page(times[0], last, pos=str(pos), size="1")
            got += body["participants"]
            if not body["has_remaining"]:
                break
            pos = body["next_pos"]
        self.assertEqual(got, every)
        far = page(times[0], last, pos=str(10 ** 18))
        self.assertEqual((far["participants"], far["total_count"], far["has_remaining"]),
                         ([], len(every), False))
        # Refused: reversed, wider than 31 days, not a number; nothing else.
        month = 31 * 86400
        for extra, contains in [
                ([("start_time", str(last)), ("end_time", str(last - 1))], "after"),
                ([("start_time", "0"), ("end_time", str(month + 1))], "31 days"),
                ([("start_time", str(last + 3600))], "after"),
                ([("start_time", "soon")], "start_time"),
                ([("end_time", "-5")], "end_time")]:
            with self.subTest(extra=extra):
                self.assert_error(self.plist(mid, extra=extra), 400, 190004, contains=contains)

    def test_filter_not_applied_to_recurring_meetings(self):
        # Tencent: the time filter does not apply to recurring meetings
        # (they are paged by occurrence); meetd does the same.
        rule = {"recurring_type": 0, "until_type": 1, "until_count": 3}
        mid = self.new_meeting("alice", rule=rule)
        self.join(mid, "alice", 1)
        self.join(mid, "bob", 2)
        body = self.assert_ok(self.plist(mid, extra=[("start_time", "1000"), ("end_time", "2000")]))
        self.assertEqual(body["total_count"], 2)
        # The real-time list of an occurrence, by its sub_meeting_id.
        sub = self.query(mid)["current_sub_meeting_id"]
        body = self.assert_ok(self.realtime(mid, sub=sub))
        self.assertEqual(body["total_count"], 2)
        self.assert_error(self.realtime(mid, sub="123"), 400, 190004, contains="sub_meeting_id")


class OccurrenceFidelityTest(SdkCase):
    """The lists of one occurrence of a recurring meeting: schedule_start_time
    and schedule_end_time are that occurrence's own, as sub_meetings[]
    gives them, not the series' first."""

    def dismiss(self, mid):
        # V1MeetingsMeetingIdDismissPostRequest's order.
        body = {"instanceid": 1, "operator_id": "alice", "operator_id_type": 1,
                "reason_code": 1}
        resp = sdk_wire.send(self.client, "POST", "/v1/meetings/%s/dismiss" % mid, body)
        self.assertEqual((resp.status, resp.raw), (200, b"{}"), resp)

    def assert_times(self, body, occ):
        self.assert_digits(body, "schedule_start_time")
        self.assert_digits(body, "schedule_end_time")
        self.assertEqual((body["schedule_start_time"], body["schedule_end_time"]),
                         (occ["start_time"], occ["end_time"]))

    def test_a_later_occurrence_has_its_own_times(self):
        rule = {"recurring_type": 0, "until_type": 1, "until_count": 3}
        mid = self.new_meeting("alice", rule=rule)
        self.join(mid, "bob", 2)
        self.dismiss(mid)                        # the first occurrence ends
        carol = self.join(mid, "carol", 3)       # the second is in progress
        q = self.query(mid)
        occ = q["sub_meetings"]
        self.assertEqual(q["current_sub_meeting_id"], occ[1]["sub_meeting_id"])
        self.assertNotEqual(occ[1]["start_time"], occ[0]["start_time"])
        # Without sub_meeting_id: the current occurrence, both lists.
        body = self.assert_ok(self.plist(mid))
        self.assert_times(body, occ[1])
        self.assertEqual([r["ms_open_id"] for r in body["participants"]], [carol["ms_open_id"]])
        body = self.assert_ok(self.realtime(mid))
        self.assert_times(body, occ[1])
        # Named by sub_meeting_id: that occurrence, past or yet to be held.
        for i in range(3):
            sub = occ[i]["sub_meeting_id"]
            with self.subTest(occurrence=i):
                self.assert_times(self.assert_ok(self.plist(mid, sub=sub)), occ[i])
                self.assert_times(self.assert_ok(self.realtime(mid, sub=sub)), occ[i])

    def test_a_one_off_meeting_has_its_scheduled_times(self):
        info = self.create_meeting("alice")
        self.join(info["meeting_id"], "bob", 2)
        for body in (self.assert_ok(self.plist(info["meeting_id"])),
                     self.assert_ok(self.realtime(info["meeting_id"]))):
            self.assert_times(body, info)


class RealtimeFidelityTest(SdkCase):

    def test_fields_and_only_present_devices(self):
        mid, _, d = self.scene()
        for path in ("real-time-participants", "real_time_participants"):
            with self.subTest(path=path):
                body = self.assert_ok(self.realtime(mid, path=path))
                self.assertEqual(body["meeting_id"], mid)
                self.assert_digits(body, "meeting_code")
                subject = self.query(mid)["subject"]
                self.assertEqual(base64.b64decode(body["subject"]).decode("utf-8"), subject)
                self.assertEqual(body["status"], "MEETING_STATE_STARTED")
                self.assert_digits(body, "schedule_start_time")
                self.assert_digits(body, "schedule_end_time")
                for k in ("total_count", "total_page", "current_page", "current_size"):
                    self.assert_int(body, k)
                self.assertEqual((body["total_count"], body["total_page"], body["current_page"],
                                  body["current_size"]), (3, 1, 1, 3))
                rows = {r["ms_open_id"]: r for r in body["participants"]}
                self.assertNotIn(d["bob"]["ms_open_id"], rows)   # left
                self.assert_row(rows[d["alice"]["ms_open_id"]], "Alice", "alice", 1, role=3)
                self.assert_row(rows[d["guest"]["ms_open_id"]], "Guest", None, 5, role=4)
                self.assert_row(rows[d["dave"]["ms_open_id"]], "Dave", "dave", 0, role=0)

    def test_paging(self):
        mid, _, _ = self.scene()
        self.join(mid, "erin", 4)
        self.join(mid, "erin", 1)
        seen = []
        for page in ("1", "2", "3"):
            body = self.assert_ok(self.realtime(mid, page=page, page_size="2"))
            self.assertEqual((body["total_count"], body["total_page"], body["current_page"]),
                             (5, 3, int(page)))
            self.assertEqual(body["current_size"], len(body["participants"]))
            seen += [(r["ms_open_id"], r["instanceid"]) for r in body["participants"]]
        self.assertEqual(len(set(seen)), 5)
        for page in ("4", str(10 ** 12)):
            body = self.assert_ok(self.realtime(mid, page=page, page_size="50"))
            self.assertEqual((body["participants"], body["current_size"], body["total_count"]),
                             ([], 0, 5))

    def test_refusals(self):
        mid, _, _ = self.scene()
        path = "/v1/meetings/%s/real-time-participants" % mid
        base = [("operator_id", "alice"), ("operator_id_type", "1")]
        for params, contains in [
                ([("page", "1"), ("page_size", "10")], "operator_id"),
                ([("userid", "alice"), ("page", "1"), ("page_size", "10")], "operator_id"),
                (base + [("page_size", "10")], "page"),
                (base + [("page", "1")], "page_size"),
                (base + [("page", "0"), ("page_size", "10")], "page"),
                (base + [("page", "1"), ("page_size", "51")], "page_size"),
                (base + [("page", "1"), ("page_size", "0")], "page_size"),
                ([("operator_id", "alice"), ("operator_id_type", "2"), ("page", "1"),
                  ("page_size", "10")], "OAuth2.0")]:
            with self.subTest(params=params):
                self.assert_error(self.sdk_get(path, params), 400, 190004, contains=contains)
        self.assert_error(self.realtime(mid, "bob"), 403, 9042)
        self.assert_error(self.realtime("1" * 19), 400, 9003)
        # Another app's meeting does not exist for this one, whatever the operator.
        other = self.server.client(self.server.create_app())
        self.assert_error(self.realtime(mid, client=other), 400, 9003)
        self.assert_error(self.plist(mid, client=other), 400, 9003)

    def test_before_anyone_joins(self):
        mid = self.new_meeting("alice")
        body = self.assert_ok(self.realtime(mid))
        self.assertEqual((body["participants"], body["total_count"], body["total_page"],
                          body["status"]), ([], 0, 0, "MEETING_STATE_INIT"))


class RoomsIdFidelityTest(SdkCase):
    """operator_id_type 3: a rooms_id, in meetd the ms_open_id of an MRA
    device (instanceid 9) present in the meeting, as the query takes it.
    Who may list is the rule of the other forms: the creator, a host or a
    co-host; a room is one when it was made co-host."""

    def lists(self, mid, operator, op_type):
        """Every answer a list gives this operator: participants, and the
        real-time list under both spellings of its path."""
        return [self.plist(mid, operator, op_type=op_type)] + [
            self.realtime(mid, operator, path=path, op_type=op_type)
            for path in ("real-time-participants", "real_time_participants")]

    def test_a_cohost_room_lists_as_its_creator_does(self):
        mid, _, _ = self.scene()
        room = self.join(mid, "room-1", 9, nick_name="Room 1")
        self.assert_ok(self.set_cohost(mid, "alice", 1, 1, room, 9))
        by_alice = [self.assert_ok(r) for r in self.lists(mid, "alice", "1")]
        by_room = [self.assert_ok(r) for r in self.lists(mid, room["ms_open_id"], "3")]
        self.assertEqual(by_room, by_alice)
        rows = {r["ms_open_id"]: r for r in by_room[0]["participants"]}
        self.assert_row(rows[room["ms_open_id"]], "Room 1", "room-1", 9, role=6)
        self.assertEqual(by_room[1]["total_count"], 4)   # alice, guest, dave, the room

    def test_a_room_without_a_role_is_refused(self):
        mid, _, _ = self.scene()
        room = self.join(mid, "room-2", 9)
        for resp in self.lists(mid, room["ms_open_id"], "3"):
            self.assert_error(resp, 403, 9042, contains="co-host")

    def test_a_rooms_id_must_be_a_room_present_in_this_meeting(self):
        mid, _, d = self.scene()
        other = self.new_meeting("alice")
        elsewhere = self.join(other, "room-3", 9)
        self.assert_ok(self.set_cohost(other, "alice", 1, 1, elsewhere, 9))
        gone = self.join(mid, "room-4", 9)
        self.assert_ok(self.set_cohost(mid, "alice", 1, 1, gone, 9))
        self.assert_ok(self.leave(mid, gone))
        # The creator herself, named by the ms_open_id of her PC: not a room.
        for what, rooms_id in [("a PC", d["alice"]["ms_open_id"]),
                               ("unknown", "ms-nobody"),
                               ("another meeting's room", elsewhere["ms_open_id"]),
                               ("a room that left", gone["ms_open_id"])]:
            for resp in self.lists(mid, rooms_id, "3"):
                with self.subTest(what):
                    self.assert_error(resp, 403, 9042, contains="rooms_id")


class CohostFidelityTest(SdkCase):

    def role_of(self, mid, dev):
        rows = self.assert_ok(self.realtime(mid))["participants"]
        return [r["user_role"] for r in rows if r["ms_open_id"] == dev["ms_open_id"]
                and r["instanceid"] == dev["instanceid"]][0]

    def test_mra_room_may_be_cohost(self):
        mid = self.new_meeting("alice")
        alice = self.join(mid, "alice", 1)
        room = self.join(mid, "room-1", 9, nick_name="Room 1")
        resp = self.set_cohost(mid, "alice", 1, 1, room, 9)
        self.assertEqual(self.assert_ok(resp), {})
        self.assertEqual(self.role_of(mid, room), 6)
        # The room, as co-host, now reads the lists too.
        self.assert_ok(self.plist(mid, "room-1"))
        # Revoked by the creator named by ms_open_id (operator_id_type 4).
        self.assert_ok(self.set_cohost(mid, alice["ms_open_id"], 4, 1, room, 9, action=False))
        self.assertEqual(self.role_of(mid, room), 0)

    def test_refusals(self):
        mid = self.new_meeting("alice", hosts=["hank"])
        self.join(mid, "alice", 1)
        bob = self.join(mid, "bob", 2)
        carol = self.join(mid, "carol", 3)
        self.assert_ok(self.set_cohost(mid, "hank", 1, 1, carol, 3))     # a host may
        before = self.assert_ok(self.realtime(mid))
        # A co-host may not appoint; a member neither.
        self.assert_error(self.set_cohost(mid, "carol", 1, 3, bob, 2), 403, 9042)
        self.assert_error(self.set_cohost(mid, "bob", 1, 2, carol, 3, action=False), 403, 9042)
        # The device named must be the one present; openid is OAuth2.0 only.
        self.assert_error(self.set_cohost(mid, "alice", 1, 1, bob, 9), 400, 190004)
        self.assert_error(self.set_cohost(mid, "alice", 2, 1, bob, 2), 400, 190004)
        self.assertEqual(self.assert_ok(self.realtime(mid)), before)


if __name__ == "__main__":
    unittest.main()
