"""Create, query and list meetings as Tencent's official SDK sends and reads them.

Written from the SDK's models (field names, JSON types, required flags) and
docs/api.md, not from meetd's code: each request is serialised as the SDK
does it (a body's keys in the model's order, which is alphabetical, compact
separators, UTF-8 as is; query parameters in the order the SDK appends them;
Content-Type on every request, the SdkId header), and each answer is checked
for every declared field meetd fills, with its JSON type (a number the model
types `str` is a string of digits, an `int` an integer), and for the fields
meetd cannot know being absent.
"""
import re
import unittest
import urllib.parse

import meetd_harness as h
import sdk_wire

# Fields of V1MeetingsPost200ResponseMeetingInfoListInner / the query models
# that meetd does not keep, so must never send.
NEVER = ("password", "settings", "participants", "host_key", "live_config", "enable_live",
         "user_non_registered", "guests", "location", "time_zone", "media_set_type",
         "need_password", "enable_enroll", "enable_host_key", "sync_to_wework",
         "enable_doc_upload_permission", "has_vote", "current_hosts",
         "allow_enterprise_intranet_only")
STATES = {"MEETING_STATE_INIT", "MEETING_STATE_STARTED", "MEETING_STATE_ENDED",
          "MEETING_STATE_CANCELLED"}


# The order in which the SDK appends each API's query parameters.
GET_BY_ID_ORDER = ("operator_id", "operator_id_type", "instanceid")
GET_LIST_ORDER = ("operator_id", "operator_id_type", "userid", "instanceid", "meeting_code",
                  "cursory", "pos", "is_show_all_sub_meetings")


class FidelityCase(sdk_wire.TypeChecks, h.MeetdCase):
    def sdk(self, method, path, body=None, query=None, order=()):
        return sdk_wire.send(self.client, method, path, body, params=query, order=order)

    def sdk_create(self, **fields):
        t = h.now() + 3600
        body = {"userid": "alice", "instanceid": 1, "subject": h.uniq("fidelity "), "type": 0,
                "start_time": str(t), "end_time": str(t + 3600)}
        body.update(fields)
        return self.sdk("POST", "/v1/meetings", body)

    def created(self, **fields):
        out = self.assert_ok(self.sdk_create(**fields))
        self.assert_int(out, "meeting_number")
        self.assertEqual(out["meeting_number"], 1)
        self.assertIsInstance(out["meeting_info_list"], list)
        self.assertEqual(len(out["meeting_info_list"]), 1)
        return out["meeting_info_list"][0]

    def sdk_get(self, mid, **query):
        return self.sdk("GET", "/v1/meetings/%s" % mid, query=query, order=GET_BY_ID_ORDER)

    def sdk_list(self, **query):
        return self.sdk("GET", "/v1/meetings", query=query, order=GET_LIST_ORDER)

    def queried(self, resp):
        out = self.assert_ok(resp)
        self.assert_int(out, "meeting_number")
        self.assertEqual(out["meeting_number"], 1)
        self.assertEqual(len(out["meeting_info_list"]), 1)
        return out["meeting_info_list"][0]

    def check_info(self, info, query=False):
        """Every field of the meeting models meetd fills, with its declared type."""
        for k in ("meeting_id", "start_time", "end_time"):
            self.assert_digits(info, k)
        self.assert_digits(info, "meeting_code", 9)
        self.assert_str(info, "subject")
        self.assert_int(info, "type")
        self.assert_int(info, "meeting_type")
        self.assertRegex(info["join_url"], r"^http://127\.0\.0\.1:%d/meetd/v1/j/%s$"
                         % (self.server.port, info["meeting_code"]))
        self.assertIsInstance(info["hosts"], list)
        for host in info["hosts"]:
            self.assert_str(host, "userid")
            self.assert_str(host, "operator_id")
            self.assert_int(host, "operator_id_type")
            self.assertEqual((host["operator_id"], host["operator_id_type"]), (host["userid"], 1))
        if query:
            self.assertIn(info["status"], STATES)
            self.assertIsInstance(info["current_co_hosts"], list)
        else:
            self.assertNotIn("status", info)
        for k in NEVER:
            self.assertNotIn(k, info, "meetd cannot know %s" % k)
        if info["meeting_type"] == 1:
            rule = info["recurring_rule"]
            for k in ("recurring_type", "until_type", "until_count", "until_date"):
                self.assert_int(rule, k)
            self.assertIsInstance(info["sub_meetings"], list)
            for sub in info["sub_meetings"]:
                self.assert_digits(sub, "sub_meeting_id")
                self.assert_digits(sub, "start_time")
                self.assert_digits(sub, "end_time")
                self.assert_int(sub, "status")
                self.assertIn(sub["status"], (0, 1))
            self.assert_int(info, "has_more_sub_meeting")
            self.assert_int(info, "remain_sub_meetings")
            if "current_sub_meeting_id" in info:
                self.assert_digits(info, "current_sub_meeting_id")
        else:
            for k in ("recurring_rule", "sub_meetings", "current_sub_meeting_id",
                      "has_more_sub_meeting", "remain_sub_meetings"):
                self.assertNotIn(k, info)


class CreateFidelityTest(FidelityCase):
    def test_one_off(self):
        info = self.created(hosts=[{"userid": "hank"}])
        self.check_info(info)
        self.assertEqual([x["userid"] for x in info["hosts"]], ["hank"])

    def test_recurring(self):
        rule = {"recurring_type": 0, "until_type": 1, "until_count": 3}
        info = self.created(meeting_type=1, recurring_rule=rule)
        self.check_info(info)
        subs = info["sub_meetings"]
        self.assertEqual(len(subs), 3)
        self.assertEqual([s["status"] for s in subs], [0, 0, 0])
        self.assertEqual(info["current_sub_meeting_id"], subs[0]["sub_meeting_id"])
        self.assertEqual((info["has_more_sub_meeting"], info["remain_sub_meetings"]), (0, 3))

    def test_join_url_resolves_without_auth_and_tells_nothing_secret(self):
        info = self.created(subject="secret plans")
        path = urllib.parse.urlsplit(info["join_url"]).path
        resp = h.send(self.server.port, "GET", path, [], None)
        self.assertEqual(resp.status, 200, resp)
        self.assertEqual(resp.json["meeting_code"], info["meeting_code"])
        text = resp.raw.decode()
        for secret in ("secret plans", info["meeting_id"], "alice"):
            self.assertNotIn(secret, text)
        # No such code, or no code at all: MEETING NOT EXIST.
        code = info["meeting_code"]
        other = ("0" if code[0] != "0" else "1") + code[1:]
        for bad in (other, "12345", "abcdefghi"):
            with self.subTest(code=bad):
                resp = h.send(self.server.port, "GET", "/meetd/v1/j/" + bad, [], None)
                self.assertEqual((resp.status, resp.json["error_info"]["error_code"]),
                                 (400, 9003), resp)

    def test_subject_up_to_512_bytes_as_tencent_counts(self):
        # Tencent counts 2 bytes a character, 4 above U+FFFF: 512 at most.
        for subject in ("a" * 256, "中" * 256, "😀" * 128, "a" * 254 + "😀"[:1]):
            with self.subTest(n=len(subject)):
                self.assertEqual(self.created(subject=subject)["subject"], subject)
        for subject in ("a" * 257, "中" * 257, "😀" * 129, "a" * 255 + "😀"):
            with self.subTest(n=len(subject)):
                self.assert_error(self.sdk_create(subject=subject), 400, 190004)

    def test_quick_meeting_cannot_be_recurring(self):
        rule = {"recurring_type": 0, "until_type": 1, "until_count": 3}
        user = h.uniq("quick")
        self.assert_error(self.sdk_create(userid=user, type=1, meeting_type=1,
                                          recurring_rule=rule), 400, 190004,
                          contains="cannot be recurring")
        # Nothing was created.
        out = self.assert_ok(self.sdk_list(userid=user, instanceid=1))
        self.assertEqual(out["meeting_number"], 0)


class QueryFidelityTest(FidelityCase):
    def test_by_id_every_operator_form(self):
        rule = {"recurring_type": 2, "until_type": 1, "until_count": 4}
        info = self.created(meeting_type=1, recurring_rule=rule)
        mid = info["meeting_id"]
        room = self.join(mid, "room-1", 9)
        pc = self.join(mid, "bob", 1)
        forms = {
            "operator_id userid": dict(operator_id="alice", operator_id_type=1, instanceid=1),
            "older userid": None,
            "operator_id rooms_id": dict(operator_id=room["ms_open_id"], operator_id_type=3,
                                         instanceid=9),
        }
        answers = []
        for what, q in forms.items():
            with self.subTest(what):
                if q is None:
                    resp = self.client.get("/v1/meetings/%s?userid=alice&instanceid=1" % mid)
                else:
                    resp = self.sdk_get(mid, **q)
                got = self.queried(resp)
                self.check_info(got, query=True)
                answers.append(got)
        self.assertEqual(answers[0], answers[1])
        self.assertEqual(answers[0], answers[2])
        got = answers[0]
        self.assertEqual(got["status"], "MEETING_STATE_STARTED")
        self.assertEqual(got["join_url"], info["join_url"])
        self.assertEqual(got["current_sub_meeting_id"], info["sub_meetings"][0]["sub_meeting_id"])
        self.assertEqual((got["has_more_sub_meeting"], got["remain_sub_meetings"]), (0, 4))
        self.assertEqual([s["sub_meeting_state"] for s in got["sub_meetings"]],
                         ["MEETING_STATE_STARTED"] + ["MEETING_STATE_INIT"] * 3)
        # A rooms_id must be an MRA device present in this meeting.
        for bad in (pc["ms_open_id"], "ms-nobody"):
            with self.subTest(rooms_id=bad):
                self.assert_error(self.sdk_get(mid, operator_id=bad, operator_id_type=3,
                                               instanceid=9), 403, 9042, contains="rooms_id")

    def test_co_hosts_with_the_sdk_keys(self):
        mid = self.created()["meeting_id"]
        bob = self.join(mid, "bob", 2)
        guest = self.join(mid, guest_id=h.uniq("g"), nick_name="Guest", instanceid=1)
        for dev in (bob, guest):
            self.assert_ok(self.cohost(mid, h.op_userid("alice"), dev))
        got = self.queried(self.sdk_get(mid, operator_id="alice", operator_id_type=1,
                                        instanceid=1))
        rows = got["current_co_hosts"]
        self.assertEqual([(r["operator_id"], r["operator_id_type"]) for r in rows],
                         [(bob["ms_open_id"], 4), (guest["ms_open_id"], 4)])
        self.assertEqual(rows[0]["userid"], "bob")
        self.assertNotIn("userid", rows[1], "a guest has no userid")

    def test_refused_operator_forms(self):
        mid = self.created()["meeting_id"]
        cases = {
            "openid": dict(operator_id="oid", operator_id_type=2, instanceid=1),
            "ms_open_id is not a query form": dict(operator_id="x", operator_id_type=4,
                                                   instanceid=1),
            "type without id": dict(operator_id_type=1, instanceid=1),
            "id without type": dict(operator_id="alice", instanceid=1),
            "type not a number": dict(operator_id="alice", operator_id_type="one",
                                      instanceid=1),
            "instanceid missing": dict(operator_id="alice", operator_id_type=1),
            "instanceid unknown": dict(operator_id="alice", operator_id_type=1, instanceid=11),
            "userid too long": dict(operator_id="u" * 65, operator_id_type=1, instanceid=1),
        }
        for what, q in cases.items():
            with self.subTest(what):
                self.assert_error(self.sdk_get(mid, **q), 400, 190004)

    def test_by_code_same_answer_as_by_id(self):
        info = self.created(meeting_type=1,
                            recurring_rule={"recurring_type": 0, "until_type": 1,
                                            "until_count": 2})
        mid, code = info["meeting_id"], info["meeting_code"]
        by_id = self.queried(self.sdk_get(mid, operator_id="alice", operator_id_type=1,
                                          instanceid=1))
        for q in (dict(userid="alice", instanceid=1, meeting_code=code),
                  dict(operator_id="alice", operator_id_type=1, instanceid=1,
                       meeting_code=code)):
            with self.subTest(q=q):
                self.assertEqual(self.queried(self.sdk_list(**q)), by_id)
        room = self.join(mid, "room-2", 9)
        self.assertEqual(self.queried(self.sdk_list(operator_id=room["ms_open_id"],
                                                    operator_id_type=3, instanceid=9,
                                                    meeting_code=code))["meeting_id"], mid)

    def test_by_code_refusals(self):
        info = self.created()
        code = info["meeting_code"]
        other = ("0" if code[0] != "0" else "1") + code[1:]
        self.assert_error(self.sdk_list(userid="alice", instanceid=1, meeting_code=other),
                          400, 9003)
        for bad in ("12345678", "1234567890", "12345678x", ""):
            with self.subTest(code=bad):
                self.assert_error(self.sdk_list(userid="alice", instanceid=1,
                                                meeting_code=bad), 400, 190004)
        # Another app's meeting does not exist for this one.
        other_app = self.server.client(self.server.create_app())
        resp = other_app.get("/v1/meetings?userid=alice&instanceid=1&meeting_code=" + code)
        self.assert_error(resp, 400, 9003)


class ListFidelityTest(FidelityCase):
    def page(self, **q):
        out = self.assert_ok(self.sdk_list(**q))
        for k in ("meeting_number", "remaining"):
            self.assert_int(out, k)
        self.assertIsInstance(out["meeting_info_list"], list)
        self.assertEqual(out["meeting_number"], len(out["meeting_info_list"]))
        if out["remaining"]:
            self.assert_int(out, "next_pos")
            self.assert_int(out, "next_cursory")
        else:
            self.assertNotIn("next_pos", out)
            self.assertNotIn("next_cursory", out)
        for info in out["meeting_info_list"]:
            self.check_info(info, query=True)
            self.assertIn(info["join_meeting_role"], ("creator", "hoster"))
        return out

    def walk(self, **q):
        ids, pos, cursory, pages = [], None, None, 0
        while True:
            out = self.page(pos=pos, cursory=cursory, **q)
            pages += 1
            ids += [i["meeting_id"] for i in out["meeting_info_list"]]
            if not out["remaining"]:
                return ids, pages
            pos, cursory = out["next_pos"], out["next_cursory"]
            self.assertLess(pages, 20, "paging does not end")

    def test_paging_with_equal_start_times(self):
        user = h.uniq("lister")
        t = h.now() + 7200
        same = [self.created(userid=user, start_time=str(t), end_time=str(t + 60))
                for _ in range(22)]
        later = self.created(userid=user, start_time=str(t + 10), end_time=str(t + 70))
        earlier = self.created(userid=user, start_time=str(t - 10), end_time=str(t + 70))
        hosted = self.created(userid=h.uniq("other"), hosts=[{"userid": user}],
                              start_time=str(t + 5), end_time=str(t + 65))
        first = self.page(userid=user, instanceid=1)
        self.assertEqual((first["meeting_number"], first["remaining"]), (20, 5))
        self.assertEqual((first["next_pos"], first["next_cursory"]), (t, 19))
        expected = ([earlier["meeting_id"]]
                    + sorted((m["meeting_id"] for m in same), key=int)
                    + [hosted["meeting_id"], later["meeting_id"]])
        ids, pages = self.walk(userid=user, instanceid=1)
        self.assertEqual((ids, pages), (expected, 2))
        ids, _ = self.walk(operator_id=user, operator_id_type=1, instanceid=1)
        self.assertEqual(ids, expected)
        roles = {i["meeting_id"]: i["join_meeting_role"]
                 for i in self.page(userid=user, instanceid=1, pos=t + 5)["meeting_info_list"]}
        self.assertEqual(roles, {hosted["meeting_id"]: "hoster", later["meeting_id"]: "creator"})

    def test_only_meetings_in_progress_or_to_start(self):
        user = h.uniq("busy")
        mids = [self.created(userid=user)["meeting_id"] for _ in range(4)]
        self.join(mids[1], "bob", 1)                    # in progress: listed
        self.join(mids[2], "bob", 1)
        self.assert_ok(self.dismiss(mids[2], user))     # ended: not listed
        self.assert_ok(self.cancel(mids[3], user))      # cancelled: not listed
        series = self.created(userid=user, meeting_type=1,
                              recurring_rule={"recurring_type": 0, "until_type": 1,
                                              "until_count": 2})
        done = self.created(userid=user, meeting_type=1,
                            recurring_rule={"recurring_type": 0, "until_type": 1,
                                            "until_count": 1})
        self.join(done["meeting_id"], "bob", 1)
        self.assert_ok(self.dismiss(done["meeting_id"], user))   # its only occurrence ended
        ids, _ = self.walk(userid=user, instanceid=1)
        self.assertEqual(sorted(ids), sorted([mids[0], mids[1], series["meeting_id"]]))

    def test_sub_meetings_first_only_unless_asked(self):
        user = h.uniq("series")
        info = self.created(userid=user, meeting_type=1,
                            recurring_rule={"recurring_type": 0, "until_type": 1,
                                            "until_count": 3})
        got = self.page(userid=user, instanceid=1)["meeting_info_list"][0]
        self.assertEqual([s["sub_meeting_id"] for s in got["sub_meetings"]],
                         [info["sub_meetings"][0]["sub_meeting_id"]])
        self.assertEqual((got["has_more_sub_meeting"], got["remain_sub_meetings"]), (1, 3))
        got = self.page(userid=user, instanceid=1,
                        is_show_all_sub_meetings=1)["meeting_info_list"][0]
        self.assertEqual(got["sub_meetings"], info["sub_meetings"])
        self.assertEqual(got["has_more_sub_meeting"], 0)

    def test_refusals(self):
        cases = {
            "no user": dict(instanceid=1),
            "rooms_id lists nothing": dict(operator_id="ms", operator_id_type=3, instanceid=1),
            "openid": dict(operator_id="oid", operator_id_type=2, instanceid=1),
            "no instanceid": dict(userid="alice"),
            "pos not a number": dict(userid="alice", instanceid=1, pos="soon"),
            "cursory negative": dict(userid="alice", instanceid=1, cursory="-1"),
            "is_show_all_sub_meetings 2": dict(userid="alice", instanceid=1,
                                               is_show_all_sub_meetings=2),
        }
        for what, q in cases.items():
            with self.subTest(what):
                self.assert_error(self.sdk_list(**q), 400, 190004)


if __name__ == "__main__":
    unittest.main()
