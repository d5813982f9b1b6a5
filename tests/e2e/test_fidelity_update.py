"""Modify a meeting (PUT /v1/meetings/{meetingId}) as Tencent's SDK sends it.

Written from the SDK's request model V1MeetingsMeetingIdPutRequest and its
answer V1MeetingsMeetingIdPut200Response (docs/api.md "Modify a meeting"):
the body carries only the fields set, in the model's attribute order, times
as strings of Unix seconds, compact JSON. Every refusal is checked for its
code and for leaving the meeting as it was.
"""
import json

import meetd_harness as h
import sdk_wire

DAY = 86400

# V1MeetingsMeetingIdPutRequest's attributes, and its recurring rule's: a
# test sends no other. The SDK writes them in this (alphabetical) order and
# drops the unset ones: sdk_wire.body.
SDK_ORDER = ("allow_enterprise_intranet_only", "enable_doc_upload_permission", "enable_enroll",
             "enable_host_key", "enable_live", "end_time", "guests", "host_key", "hosts",
             "instanceid", "invitees", "live_config", "location", "media_set_type",
             "meeting_type", "password", "recurring_rule", "settings", "start_time", "subject",
             "time_zone", "userid")
RULE_ORDER = ("customized_recurring_days", "customized_recurring_step",
              "customized_recurring_type", "recurring_type", "sub_meeting_id", "until_count",
              "until_date", "until_type")
# Declared by the answer's model; meetd keeps none of them, so never sends them.
ABSENT_INFO = ("enable_live", "host_key", "live_config", "settings")


def sdk_body(userid="alice", instanceid=1, **fields):
    """The bytes the SDK sends for these fields (only the model's attributes)."""
    fields.update(userid=userid, instanceid=instanceid)
    unknown = set(fields) - set(SDK_ORDER)
    assert not unknown, unknown
    rule = fields.get("recurring_rule")
    if isinstance(rule, dict):
        unknown = set(rule) - set(RULE_ORDER)
        assert not unknown, unknown
    return sdk_wire.body(fields)


def cancelled(sub):
    """An occurrence's status says cancelled (string, or the SDK's integer 1)."""
    return sub["status"] in ("MEETING_STATE_CANCELLED", 1)


class UpdateCase(sdk_wire.TypeChecks, h.MeetdCase):
    def put(self, mid, body, client=None):
        raw = body if isinstance(body, bytes) else sdk_body(**body)
        return sdk_wire.send(self.c(client), "PUT", "/v1/meetings/%s" % mid, raw)

    def snapshot(self, mid, viewer="alice"):
        """The meeting as a query shows it, and everything state() checks."""
        return self.query(mid, viewer), self.state(mid, viewer)

    def daily(self, count, start):
        """alice's daily series of count hour-long occurrences from start:
        (meeting_id, the created meeting)."""
        created = self.create_meeting("alice", rule={"recurring_type": 0, "until_type": 1,
                                                     "until_count": count},
                                      start_time=str(start), end_time=str(start + 3600))
        return created["meeting_id"], created

    def assert_refused(self, mid, body, status, code, contains=None, viewer="alice"):
        before = self.snapshot(mid, viewer)
        resp = self.put(mid, body)
        self.assert_error(resp, status, code, contains=contains)
        self.assertEqual(self.snapshot(mid, viewer), before,
                         "a refused modify changed the meeting")
        return resp

    def assert_modified(self, mid, body):
        out = self.assert_ok(self.put(mid, body))
        self.assertEqual(set(out), {"meeting_number", "meeting_info_list"}, out)
        self.assert_int(out, "meeting_number")
        self.assertEqual(out["meeting_number"], 1)
        self.assertEqual(len(out["meeting_info_list"]), 1, out)
        info = out["meeting_info_list"][0]
        self.assertEqual(set(info), {"meeting_id", "meeting_code"}, info)
        self.assertEqual(info["meeting_id"], mid)
        self.assertRegex(info["meeting_code"], r"^[0-9]{9}$")
        for key in ABSENT_INFO:
            self.assertNotIn(key, info)
        return info


class ModifyTest(UpdateCase):
    def test_subject_times_hosts_as_the_sdk_sends_them(self):
        created = self.create_meeting("alice", hosts=["hank"])
        mid = created["meeting_id"]
        t = h.now() + 2 * DAY
        info = self.assert_modified(mid, dict(subject="周会 moved", start_time=str(t),
                                              end_time=str(t + 1800),
                                              hosts=[{"userid": "hope"}, {"userid": "alice"}]))
        self.assertEqual(info["meeting_code"], created["meeting_code"])
        q = self.query(mid)
        self.assertEqual((q["subject"], q["start_time"], q["end_time"]),
                         ("周会 moved", str(t), str(t + 1800)))
        self.assertEqual([x["userid"] for x in q["hosts"]], ["hope", "alice"])
        self.assertEqual(q["meeting_code"], created["meeting_code"])

    def test_only_what_is_given_changes(self):
        created = self.create_meeting("alice", hosts=["hank"])
        mid = created["meeting_id"]
        self.assert_modified(mid, dict(subject="renamed"))
        q = self.query(mid)
        self.assertEqual((q["start_time"], q["end_time"], [x["userid"] for x in q["hosts"]]),
                         (created["start_time"], created["end_time"], ["hank"]))
        # An empty list clears the hosts: the creator hosts again.
        self.assert_modified(mid, dict(hosts=[]))
        self.assertEqual([x["userid"] for x in self.query(mid)["hosts"]], ["alice"])

    def test_new_hosts_are_hosts_of_the_devices_present(self):
        mid = self.new_meeting("alice", hosts=["hank"])
        bob = self.join(mid, "bob", 2)
        roles = lambda: {r["userid"]: r["user_role"] for r in self.participants(mid, "alice")}
        self.assertEqual(roles(), {"bob": 0})
        self.assert_modified(mid, dict(hosts=[{"userid": "bob"}]))
        self.assertEqual(roles(), {"bob": 2})
        # And so what a host may do: bob, no longer a member, dismisses it.
        self.assert_ok(self.dismiss(mid, "bob"))
        self.assert_absent(mid, bob)

    def test_operator_id_form(self):
        mid = self.new_meeting("alice")
        body = {"instanceid": 1, "operator_id": "alice", "operator_id_type": 1,
                "subject": "by operator_id"}
        self.assert_ok(self.put(mid, json.dumps(body).encode()))
        self.assertEqual(self.query(mid)["subject"], "by operator_id")
        # operator_id wins over userid.
        body = dict(body, userid="mallory", subject="operator_id wins")
        self.assert_ok(self.put(mid, json.dumps(body).encode()))
        self.assertEqual(self.query(mid)["subject"], "operator_id wins")

    def test_fields_meetd_does_not_keep_are_accepted_and_ignored(self):
        mid = self.new_meeting("alice")
        self.assert_modified(mid, dict(
            allow_enterprise_intranet_only=False, enable_doc_upload_permission=True,
            enable_enroll=False, enable_host_key=True, enable_live=False,
            guests=[], host_key="123456", invitees=[{"userid": "bob"}],
            live_config={"enable_live_im": True}, location="room 1", media_set_type=0,
            password="1234", settings={"mute_enable_join": True, "change_nickname": 1},
            time_zone="Asia/Shanghai", subject="with extras"))
        q = self.query(mid)
        self.assertEqual(q["subject"], "with extras")
        self.assertNotIn("password", q)

    def test_recurring_rule_replaced_keeps_ids_that_stay(self):
        start = h.now() + DAY
        mid, created = self.daily(5, start)
        old = [s["sub_meeting_id"] for s in created["sub_meetings"]]
        self.assert_modified(mid, dict(meeting_type=1, recurring_rule={
            "recurring_type": 0, "until_type": 1, "until_count": 3}))
        subs = self.query(mid)["sub_meetings"]
        self.assertEqual([s["sub_meeting_id"] for s in subs], old[:3])
        # New times: the occurrences to come move, named by their new starts.
        self.assert_modified(mid, dict(start_time=str(start + 7200),
                                       end_time=str(start + 9000)))
        subs = self.query(mid)["sub_meetings"]
        self.assertEqual([s["sub_meeting_id"] for s in subs],
                         [str(start + 7200 + i * DAY) for i in range(3)])
        self.assertEqual([s["end_time"] for s in subs],
                         [str(start + 9000 + i * DAY) for i in range(3)])

    def test_history_kept_when_the_rule_changes(self):
        # The first occurrence is under way now: joined, then dismissed.
        start = h.now() - 600
        mid, created = self.daily(4, start)
        ids = [s["sub_meeting_id"] for s in created["sub_meetings"]]
        dev = self.join(mid, "bob", 1)
        self.assert_ok(self.dismiss(mid))
        self.assert_ok(self.cancel(mid, sub_meeting_id=ids[2]))
        self.assert_modified(mid, dict(recurring_rule={"recurring_type": 0, "until_type": 1,
                                                       "until_count": 6}))
        subs = self.query(mid)["sub_meetings"]
        self.assertEqual([s["sub_meeting_id"] for s in subs],
                         ids + [str(start + i * DAY) for i in (4, 5)])
        self.assertEqual([cancelled(s) for s in subs], [False, False, True, False, False, False])
        # The ended occurrence's session is still found under its id.
        rows = self.participants(mid, sub_meeting_id=ids[0])
        self.assertEqual([r["ms_open_id"] for r in rows], [dev["ms_open_id"]])

    def test_one_occurrence_moves(self):
        start = h.now() + DAY
        mid, created = self.daily(3, start)
        ids = [s["sub_meeting_id"] for s in created["sub_meetings"]]
        self.assert_modified(mid, dict(recurring_rule={"sub_meeting_id": ids[1]},
                                       start_time=str(start + DAY + 1800),
                                       end_time=str(start + DAY + 5400),
                                       subject="ignored for one occurrence"))
        q = self.query(mid)
        self.assertEqual(q["subject"], created["subject"])
        subs = q["sub_meetings"]
        self.assertEqual([s["sub_meeting_id"] for s in subs], ids)
        self.assertEqual((subs[1]["start_time"], subs[1]["end_time"]),
                         (str(start + DAY + 1800), str(start + DAY + 5400)))
        # It may not reach into the next one.
        self.assert_refused(mid, dict(recurring_rule={"sub_meeting_id": ids[1]},
                                      end_time=str(start + 2 * DAY + 60)), 400, 190004,
                            contains="next one")

    def test_one_off_becomes_recurring(self):
        created = self.create_meeting("alice")
        mid = created["meeting_id"]
        self.assert_modified(mid, dict(meeting_type=1, recurring_rule={
            "recurring_type": 2, "until_type": 1, "until_count": 2}))
        q = self.query(mid)
        self.assertEqual(q["meeting_type"], 1)
        start = int(created["start_time"])
        self.assertEqual([s["sub_meeting_id"] for s in q["sub_meetings"]],
                         [str(start), str(start + 7 * DAY)])

    def test_in_progress_end_may_change_start_may_not(self):
        created = self.create_meeting("alice")
        mid = created["meeting_id"]
        self.join(mid, "bob", 1)
        new_end = str(int(created["end_time"]) + 1800)
        self.assert_modified(mid, dict(end_time=new_end, start_time=created["start_time"]))
        self.assertEqual(self.query(mid)["end_time"], new_end)
        self.assert_refused(mid, dict(start_time=str(int(created["start_time"]) + 60)),
                            400, 190004, contains="in progress")
        self.assertEqual(self.query(mid)["status"], "MEETING_STATE_STARTED")


class RefusalTest(UpdateCase):
    def test_only_the_creator(self):
        mid = self.new_meeting("alice", hosts=["hank"])
        self.assert_refused(mid, dict(userid="hank", subject="by a host"), 403, 9102)
        self.assert_refused(mid, dict(userid="nobody", subject="by a stranger"), 403, 9102)

    def test_banned_creator(self):
        mid = self.new_meeting("alice", hosts=["hank"])
        dev = self.join(mid, "alice", 1)
        self.kick_ok(mid, h.kick_body(h.op_userid("hank"), [h.tgt_ms(dev)], allow_rejoin=False))
        self.assert_refused(mid, dict(subject="banned"), 403, 9042, contains="allow_rejoin",
                            viewer="hank")

    def test_cancelled_and_ended(self):
        mid = self.new_meeting("alice")
        self.assert_ok(self.cancel(mid))
        self.assert_refused(mid, dict(subject="too late"), 400, 9007)
        mid = self.new_meeting("alice")
        self.join(mid, "bob", 1)
        self.assert_ok(self.dismiss(mid))
        self.assert_refused(mid, dict(subject="too late"), 400, 190004, contains="ended")

    def test_cancelled_occurrence(self):
        start = h.now() + DAY
        mid, created = self.daily(3, start)
        sub = created["sub_meetings"][1]["sub_meeting_id"]
        self.assert_ok(self.cancel(mid, sub_meeting_id=sub))
        self.assert_refused(mid, dict(recurring_rule={"sub_meeting_id": sub},
                                      end_time=str(start + DAY + 7200)), 400, 9007)

    def test_quick_meeting(self):
        info = self.assert_ok(self.client.post("/v1/meetings", h.variant(
            self.meeting_body(), type=1, start_time=h.DROP, end_time=h.DROP)))
        mid = info["meeting_info_list"][0]["meeting_id"]
        self.assert_refused(mid, dict(subject="quick"), 400, 190004, contains="quick")
        self.assert_refused(mid, dict(meeting_type=1, recurring_rule={"recurring_type": 0}),
                            400, 190004, contains="quick")

    def test_unknown_and_malformed_ids(self):
        self.assert_error(self.put("1234567890123456789", dict(subject="x")), 400, 9003)
        self.assert_error(self.put("12a4", dict(subject="x")), 400, 9002)

    def test_bad_inputs_change_nothing(self):
        start = h.now() + DAY
        mid = self.new_meeting("alice")
        rec = self.create_meeting("alice", rule={"recurring_type": 0, "until_count": 3},
                                  start_time=str(start), end_time=str(start + 3600))
        raw = lambda d: json.dumps(d).encode()
        cases = [
            (mid, raw({"instanceid": 1, "subject": "no userid"})),
            (mid, raw({"userid": "alice", "subject": "no instanceid"})),
            (mid, dict(instanceid=11, subject="bad device")),
            (mid, dict(subject="x" * 257)),
            (mid, dict(subject="")),
            (mid, dict(start_time=str(start + 3600), end_time=str(start))),
            (mid, raw({"userid": "alice", "instanceid": 1, "start_time": start})),
            (mid, dict(hosts=[{"userid": "hank"}, {"userid": "hank"}])),
            (mid, dict(hosts=[{"userid": "h%d" % i} for i in range(11)])),
            (mid, dict(meeting_type=2)),
            (mid, dict(meeting_type=1)),
            (mid, dict(recurring_rule={"recurring_type": 0, "until_count": 3})),
            (mid, dict(recurring_rule={"sub_meeting_id": str(start)})),
            (mid, dict(settings="loud")),
            (mid, dict(password=1234)),
            (mid, raw({"operator_id": "alice", "operator_id_type": 2, "instanceid": 1})),
            (mid, raw({"operator_id": "alice", "instanceid": 1})),
            (rec["meeting_id"], dict(meeting_type=0)),
            (rec["meeting_id"], dict(recurring_rule={"recurring_type": 9})),
            (rec["meeting_id"], dict(recurring_rule={"sub_meeting_id": "1"},
                                     end_time=str(start + 60))),
            (rec["meeting_id"], dict(recurring_rule={"sub_meeting_id": str(start),
                                                     "until_count": 2})),
            (rec["meeting_id"], dict(recurring_rule={"sub_meeting_id": str(start)},
                                     hosts=[{"userid": "hank"}])),
            (mid, b"{\"userid\":\"alice\",\"instanceid\":1,\"subject\":\"a\",\"subject\":\"b\"}"),
            (mid, b"not json"),
        ]
        for target, body in cases:
            with self.subTest(body=body):
                self.assert_refused(target, body, 400, 190004)
