"""Issue 15's "Done when", as one integration written against the official
SDK's API classes and models would run it, with only the host changed.

Every request is built as the SDK builds it: a body is the model's fields in
their declared (alphabetical) order with the absent ones dropped, compact
JSON, UTF-8 as is; a query string carries the API's parameters in the order
the SDK appends them; the headers are the SDK's (Content-Type
`application/json; charset=utf-8` on every request, a body or not, an SdkId
header even when empty, X-TC-Registered 1). Every field the journey reads is
checked against the JSON type its response model declares (`str` numbers as
strings of digits, `int` as integers, `bool` as booleans). Devices enter and
leave through meetd's own join (Tencent's clients have no API for it).

The journey: create a one-off and a recurring meeting; query each by id and
by code; list the owner's meetings; modify; page the participants of the
current occurrence; set a co-host; kick out by ms_open_id and by uuid, the
operator named by userid, by ms_open_id and by the older uuid; dismiss the
occurrence, join devices into the next one (meetd starts an occurrence when
its first device joins, and a device joins the current occurrence: a later
occurrence is reached by ending the earlier one) and page it and the ended
one; cancel a not-yet-started meeting and one occurrence; and on the way each
documented refusal with Tencent's code, changing nothing.
"""
import json
import re
import unittest
import urllib.parse

import meetd_harness as h

SDK_CT = "application/json; charset=utf-8"
DIGITS = re.compile(r"[0-9]+\Z")

# Declared JSON types of the response models' fields the journey reads.
# "digits": a `str` the SDK carries a number in.
USER_REF = {"operator_id": str, "operator_id_type": int, "userid": str}
SUB_MEETING = {"sub_meeting_id": "digits", "status": int, "start_time": "digits",
               "end_time": "digits"}
RULE = {"recurring_type": int, "until_type": int, "until_count": int, "until_date": int,
        "customized_recurring_type": int, "customized_recurring_step": int,
        "customized_recurring_days": int}
MEETING = {"meeting_id": "digits", "meeting_code": "digits", "subject": str, "type": int,
           "meeting_type": int, "start_time": "digits", "end_time": "digits",
           "join_url": str, "status": str, "hosts": [USER_REF],
           "current_co_hosts": [USER_REF], "current_hosts": [USER_REF],
           "current_sub_meeting_id": "digits", "sub_meetings": [SUB_MEETING],
           "has_more_sub_meeting": int, "remain_sub_meetings": int, "recurring_rule": RULE,
           "join_meeting_role": str}
MEETINGS = {"meeting_number": int, "meeting_info_list": [MEETING]}
LIST = dict(MEETINGS, remaining=int, next_pos=int, next_cursory=int)
MODIFIED = {"meeting_number": int,
            "meeting_info_list": [{"meeting_id": "digits", "meeting_code": "digits"}]}
PARTICIPANT = {"userid": str, "ms_open_id": str, "user_name": str, "instanceid": int,
               "join_time": "digits", "left_time": "digits", "join_type": int,
               "user_role": int, "is_enterprise_user": bool}
PARTICIPANTS = {"meeting_id": "digits", "meeting_code": "digits", "subject": str,
                "schedule_start_time": "digits", "schedule_end_time": "digits",
                "total_count": int, "next_pos": int, "has_remaining": bool,
                "participants": [PARTICIPANT]}
REALTIME = {"meeting_id": "digits", "meeting_code": "digits", "subject": str, "status": str,
            "schedule_start_time": "digits", "schedule_end_time": "digits",
            "total_count": int, "total_page": int, "current_page": int, "current_size": int,
            "participants": [PARTICIPANT]}

# The order in which the SDK appends each API's query parameters.
BY_ID = ("operator_id", "operator_id_type", "instanceid")
LISTING = ("operator_id", "operator_id_type", "userid", "instanceid", "meeting_code",
           "cursory", "pos", "is_show_all_sub_meetings")
PAGED = ("sub_meeting_id", "operator_id", "operator_id_type", "userid", "pos", "size",
         "start_time", "end_time")
RT_PAGED = ("sub_meeting_id", "operator_id", "operator_id_type", "page", "page_size")


def sdk_json(v):
    """A model as the SDK serialises it: fields in declared (alphabetical)
    order, None dropped, compact, UTF-8 as is."""
    def order(x):
        if isinstance(x, dict):
            return {k: order(x[k]) for k in sorted(x) if x[k] is not None}
        if isinstance(x, list):
            return [order(i) for i in x]
        return x
    return json.dumps(order(v), separators=(",", ":"), ensure_ascii=False).encode("utf-8")


class JourneyTest(h.MeetdCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # An app without an SdkId: the SDK sends the header, empty.
        cls.client = cls.server.client(cls.server.create_app("--no-sdk-id"))
        assert cls.client.sdk_id == ""

    # ------------------------------------------------------------ the SDK's wire
    def sdk(self, method, path, body=None, query=None, order=()):
        uri = path
        if query is not None:
            uri += "?" + urllib.parse.urlencode(
                [(k, str(query[k])) for k in order if query.get(k) is not None])
        headers = {"Content-Type": SDK_CT, "SdkId": self.client.sdk_id,
                   "X-TC-Registered": "1", "User-Agent": "wemeet-openapi-sdk-python"}
        return self.client.request(method, uri, None if body is None else sdk_json(body),
                                   headers=headers, content_type=None)

    def typed(self, value, schema, where="answer"):
        """Every declared field present has its declared JSON type."""
        if isinstance(schema, list):
            self.assertIsInstance(value, list, where)
            for i, item in enumerate(value):
                self.typed(item, schema[0], "%s[%d]" % (where, i))
        elif isinstance(schema, dict):
            self.assertIsInstance(value, dict, where)
            for k, sub in schema.items():
                if k in value:
                    self.typed(value[k], sub, "%s.%s" % (where, k))
        elif schema == "digits":
            self.assertIsInstance(value, str, where)
            self.assertRegex(value, DIGITS, where)
        elif schema is int:
            self.assertTrue(isinstance(value, int) and not isinstance(value, bool),
                            "%s: %r is not an integer" % (where, value))
        else:
            self.assertIsInstance(value, schema, where)

    def answer(self, resp, schema, present=()):
        body = self.assert_ok(resp)
        self.typed(body, schema)
        for k in present:
            self.assertIn(k, body, resp)
        return body

    def refused(self, mids, send, http_status, code):
        """Tencent's code, the SDK's error body, nothing changed in any of mids."""
        before = [self.state(m, self.owner) for m in mids]
        resp = send()
        info = self.assert_error(resp, http_status, code)
        for k in ("error_code", "new_error_code"):
            self.assertTrue(type(info[k]) is int, resp)
        self.assertEqual([self.state(m, self.owner) for m in mids], before,
                         "a refused request changed a meeting")

    # ------------------------------------------------------------ the calls
    def create(self, **fields):
        t = h.now() + 3600
        body = {"userid": self.owner, "instanceid": 1, "subject": h.uniq("journey "),
                "type": 0, "start_time": str(t), "end_time": str(t + 3600),
                # Settings an integration sends; meetd keeps none of them.
                "settings": {"mute_enable_join": True, "allow_unmute_self": False}}
        body.update(fields)
        out = self.answer(self.sdk("POST", "/v1/meetings", body), MEETINGS,
                          ("meeting_number", "meeting_info_list"))
        self.assertEqual(out["meeting_number"], 1)
        m = out["meeting_info_list"][0]
        for k in ("meeting_id", "meeting_code", "subject", "type", "meeting_type",
                  "start_time", "end_time", "hosts", "join_url"):
            self.assertIn(k, m)
        self.assertEqual(m["subject"], body["subject"])
        self.assertIn(m["meeting_code"], m["join_url"])
        return m

    def by_id(self, mid, **q):
        q = dict({"operator_id": self.owner, "operator_id_type": 1, "instanceid": 1}, **q)
        return self.sdk("GET", "/v1/meetings/" + mid, query=q, order=BY_ID)

    def get(self, mid, **q):
        out = self.answer(self.by_id(mid, **q), MEETINGS, ("meeting_info_list",))
        self.assertEqual(out["meeting_number"], 1)
        return out["meeting_info_list"][0]

    def listing(self, **q):
        return self.sdk("GET", "/v1/meetings", query=q, order=LISTING)

    def parts(self, mid, **q):
        q = dict({"operator_id": self.owner, "operator_id_type": 1}, **q)
        return self.sdk("GET", "/v1/meetings/%s/participants" % mid, query=q, order=PAGED)

    def all_parts(self, mid, **q):
        """Every row, one a page, as an integration following next_pos does."""
        rows, pos = [], 0
        for _ in range(50):
            page = self.answer(self.parts(mid, pos=pos, size=1, **q), PARTICIPANTS,
                               ("total_count", "has_remaining", "next_pos"))
            rows += page["participants"]
            if not page["has_remaining"]:
                self.assertEqual(len(rows), page["total_count"])
                return rows
            pos = page["next_pos"]
        self.fail("participants paging does not end")

    def realtime(self, mid, **q):
        q = dict({"operator_id": self.owner, "operator_id_type": 1, "page": 1,
                  "page_size": 20}, **q)
        return self.answer(self.sdk("GET", "/v1/meetings/%s/real-time-participants" % mid,
                                    query=q, order=RT_PAGED), REALTIME)

    def cohost(self, mid, body):
        return self.sdk("PUT", "/v1/real-control/meetings/%s/cohosts" % mid, body)

    def kick(self, mid, body):
        return self.sdk("PUT", "/v1/real-control/meetings/%s/kickout" % mid, body)

    def done(self, resp):
        self.assertEqual((resp.status, resp.raw), (200, b"{}"), resp)

    def ms_user(self, dev):
        return {"instanceid": dev["instanceid"], "to_operator_id": dev["ms_open_id"],
                "to_operator_id_type": 4}

    # ------------------------------------------------------------ the journey
    def test_done_when(self):
        self.owner = h.uniq("owner")
        owner = self.owner

        # Create a one-off and a recurring meeting.
        once = self.create()
        rec = self.create(meeting_type=1, recurring_rule={
            "recurring_type": 0, "until_type": 1, "until_count": 3})
        self.assertEqual((once["type"], once["meeting_type"], rec["meeting_type"]), (0, 0, 1))
        subs = [s["sub_meeting_id"] for s in rec["sub_meetings"]]
        self.assertEqual(len(subs), 3)
        self.assertEqual(rec["current_sub_meeting_id"], subs[0])
        self.assertEqual([s["status"] for s in rec["sub_meetings"]], [0, 0, 0])
        self.assertEqual((rec["has_more_sub_meeting"], rec["remain_sub_meetings"]), (0, 3))
        mids = [once["meeting_id"], rec["meeting_id"]]
        self.refused(mids, lambda: self.sdk("POST", "/v1/meetings", {
            "end_time": "1", "instanceid": 1, "meeting_type": 1,
            "recurring_rule": {"recurring_type": 0}, "start_time": "1", "subject": "quick",
            "type": 1, "userid": owner}), 400, 190004)

        # Query each by id and by code: the same meeting either way.
        for m in (once, rec):
            q = self.get(m["meeting_id"])
            self.assertEqual((q["meeting_id"], q["meeting_code"], q["status"]),
                             (m["meeting_id"], m["meeting_code"], "MEETING_STATE_INIT"))
            self.assertEqual(q["hosts"], [{"operator_id": owner, "operator_id_type": 1,
                                           "userid": owner}])
            for form in ({"operator_id": owner, "operator_id_type": 1}, {"userid": owner}):
                code = self.answer(self.listing(instanceid=1, meeting_code=m["meeting_code"],
                                                **form), MEETINGS)
                self.assertEqual(code["meeting_info_list"], [q])
        self.assertEqual(self.get(rec["meeting_id"])["sub_meetings"], rec["sub_meetings"])
        self.refused(mids, lambda: self.by_id("1234567890123456789"), 400, 9003)
        self.refused(mids, lambda: self.by_id(once["meeting_id"], operator_id_type=2),
                     400, 190004)
        self.refused(mids, lambda: self.listing(userid=owner, instanceid=1,
                                                meeting_code="000000001"), 400, 9003)

        # The owner's meetings, page by page.
        seen, q = [], {"userid": owner, "instanceid": 1}
        for _ in range(10):
            page = self.answer(self.listing(**q), LIST, ("meeting_number", "remaining"))
            self.assertEqual(page["meeting_number"], len(page["meeting_info_list"]))
            seen += [(m["meeting_id"], m["join_meeting_role"]) for m in
                     page["meeting_info_list"]]
            if page["remaining"] == 0:
                break
            q.update(pos=page["next_pos"], cursory=page["next_cursory"])
        self.assertEqual(sorted(seen), sorted((m, "creator") for m in mids))

        # Modify the one-off: a new subject and time.
        t = h.now() + 7200
        subject = "改期 " + h.uniq()
        mod = self.answer(self.sdk("PUT", "/v1/meetings/" + once["meeting_id"], {
            "end_time": str(t + 1800), "instanceid": 1, "start_time": str(t),
            "subject": subject, "userid": owner}), MODIFIED)
        self.assertEqual(mod["meeting_info_list"][0]["meeting_id"], once["meeting_id"])
        q = self.get(once["meeting_id"])
        self.assertEqual((q["subject"], q["start_time"], q["end_time"]),
                         (subject, str(t), str(t + 1800)))
        self.refused(mids, lambda: self.sdk("PUT", "/v1/meetings/" + once["meeting_id"], {
            "instanceid": 1, "subject": "not yours", "userid": "bob"}), 403, 9102)

        # The current occurrence: devices join, the owner pages them.
        rid = rec["meeting_id"]
        me = self.join(rid, owner, 1)
        bob = self.join(rid, "bob", 2)
        carol = self.join(rid, "carol", 3)
        dave = self.join(rid, "dave", 4)
        erin = self.join(rid, guest_id=h.uniq("guest"), nick_name="Erin", instanceid=5)
        self.assertEqual({d["sub_meeting_id"] for d in (me, bob, carol, dave, erin)}, {subs[0]})
        rows = self.all_parts(rid, sub_meeting_id=subs[0])
        self.assertEqual([r["ms_open_id"] for r in rows],
                         [d["ms_open_id"] for d in (me, bob, carol, dave, erin)])
        self.assertEqual([r.get("userid") for r in rows], [owner, "bob", "carol", "dave", None])
        self.assertEqual([r["is_enterprise_user"] for r in rows], [True] * 4 + [False])
        self.assertTrue(all("left_time" not in r for r in rows))
        rt = self.realtime(rid, sub_meeting_id=subs[0])
        self.assertEqual((rt["total_count"], rt["status"]), (5, "MEETING_STATE_STARTED"))
        self.refused(mids, lambda: self.parts(rid, operator_id="bob"), 403, 9042)

        # A co-host, named by ms_open_id by the owner on their PC.
        self.done(self.cohost(rid, {"action": True, "instanceid": 1,
                                    "operator_id": me["ms_open_id"], "operator_id_type": 4,
                                    "user": self.ms_user(bob)}))
        q = self.get(rid)
        self.assertEqual([(c["operator_id"], c["operator_id_type"], c.get("userid"))
                          for c in q["current_co_hosts"]], [(bob["ms_open_id"], 4, "bob")])
        self.refused(mids, lambda: self.cohost(rid, {
            "action": True, "instanceid": 3, "operator_id": carol["ms_open_id"],
            "operator_id_type": 4, "user": self.ms_user(dave)}), 403, 9042)

        # Kick out by every id type.
        self.refused(mids, lambda: self.kick(rid, {
            "allow_rejoin": True, "instanceid": 1, "operator_id": "oid", "operator_id_type": 2,
            "users": [self.ms_user(carol)]}), 400, 190004)
        self.refused(mids, lambda: self.kick(rid, {
            "allow_rejoin": True, "instanceid": 3, "operator_id": carol["ms_open_id"],
            "operator_id_type": 4, "users": [self.ms_user(dave)]}), 403, 9042)
        # The operator by userid, the target by ms_open_id.
        self.done(self.kick(rid, {"allow_rejoin": True, "instanceid": 1, "operator_id": owner,
                                  "operator_id_type": 1, "users": [self.ms_user(carol)]}))
        # The co-host by ms_open_id, the target by the older uuid.
        self.done(self.kick(rid, {"allow_rejoin": False, "instanceid": 2,
                                  "operator_id": bob["ms_open_id"], "operator_id_type": 4,
                                  "reason": "请勿打扰",
                                  "users": [{"instanceid": 4, "uuid": dave["uuid"]}]}))
        # The older form throughout: operator and target by uuid.
        self.done(self.kick(rid, {"allow_rejoin": True, "instanceid": 1, "uuid": me["uuid"],
                                  "users": [{"instanceid": 5, "uuid": erin["uuid"]}]}))
        present = self.realtime(rid)["participants"]
        self.assertEqual(sorted(r["ms_open_id"] for r in present),
                         sorted([me["ms_open_id"], bob["ms_open_id"]]))
        self.assert_error(self.join_req(rid, "dave", 4), 403, 9101)

        # Dismiss the occurrence; devices join the next one.
        self.refused(mids, lambda: self.sdk("POST", "/v1/meetings/%s/dismiss" % rid, {
            "instanceid": 1, "operator_id": owner, "operator_id_type": 1}), 400, 190004)
        self.refused(mids, lambda: self.sdk("POST", "/v1/meetings/%s/cancel" % rid, {
            "instanceid": 1, "reason_code": 1, "userid": owner}), 400, 13602)
        self.done(self.sdk("POST", "/v1/meetings/%s/dismiss" % rid, {
            "instanceid": 1, "operator_id": owner, "operator_id_type": 1, "reason_code": 1,
            "reason_detail": "结束"}))
        q = self.get(rid)
        self.assertEqual(q["current_sub_meeting_id"], subs[1])
        self.assertEqual(q["remain_sub_meetings"], 2)
        self.refused(mids, lambda: self.sdk("POST", "/v1/meetings/%s/dismiss" % rid, {
            "instanceid": 1, "operator_id": owner, "operator_id_type": 1, "reason_code": 1}),
            400, 190004)
        frank = self.join(rid, "frank", 2)
        me2 = self.join(rid, owner, 1)
        self.assertEqual({frank["sub_meeting_id"], me2["sub_meeting_id"]}, {subs[1]})
        later = self.all_parts(rid, sub_meeting_id=subs[1])
        self.assertEqual([(r["userid"], r["instanceid"]) for r in later],
                         [("frank", 2), (owner, 1)])
        self.assertEqual(self.all_parts(rid), later)          # the current occurrence
        earlier = self.all_parts(rid, sub_meeting_id=subs[0])
        self.assertEqual(len(earlier), 5)
        self.assertTrue(all("left_time" in r for r in earlier))
        self.assertEqual(self.realtime(rid, sub_meeting_id=subs[1])["total_count"], 2)
        self.refused(mids, lambda: self.parts(rid, sub_meeting_id="1"), 400, 190004)

        # Cancel one occurrence (the third), then the one-off not yet started.
        self.done(self.sdk("POST", "/v1/meetings/%s/cancel" % rid, {
            "instanceid": 1, "meeting_type": 1, "reason_code": 1, "sub_meeting_id": subs[2],
            "userid": owner}))
        q = self.get(rid)
        self.assertEqual([s["status"] for s in q["sub_meetings"]], [0, 0, 1])
        self.assertEqual(q["remain_sub_meetings"], 1)
        oid = once["meeting_id"]
        self.refused(mids, lambda: self.sdk("POST", "/v1/meetings/%s/dismiss" % oid, {
            "instanceid": 1, "operator_id": owner, "operator_id_type": 1, "reason_code": 1}),
            400, 190004)
        self.done(self.sdk("POST", "/v1/meetings/%s/cancel" % oid, {
            "instanceid": 1, "reason_code": 1, "reason_detail": "改期", "userid": owner}))
        self.assertEqual(self.get(oid)["status"], "MEETING_STATE_CANCELLED")
        self.refused(mids, lambda: self.sdk("POST", "/v1/meetings/%s/cancel" % oid, {
            "instanceid": 1, "reason_code": 1, "userid": owner}), 400, 9007)
        self.refused(mids, lambda: self.sdk("POST", "/v1/meetings/%s/cancel" % rid, {
            "instanceid": 1, "meeting_type": 1, "reason_code": 1, "sub_meeting_id": subs[2],
            "userid": owner}), 400, 9007)
        self.refused(mids, lambda: self.sdk("POST", "/v1/meetings/%s/cancel" % rid, {
            "instanceid": 1, "meeting_type": 1, "reason_code": 1, "sub_meeting_id": subs[0],
            "userid": owner}), 400, 13603)

        # The last occurrence ends: the series is over and leaves the list.
        self.done(self.sdk("POST", "/v1/meetings/%s/dismiss" % rid, {
            "instanceid": 1, "operator_id": me2["ms_open_id"], "operator_id_type": 4,
            "reason_code": 1}))
        self.assertEqual(self.get(rid)["status"], "MEETING_STATE_ENDED")
        self.refused(mids, lambda: self.sdk("POST", "/v1/meetings/%s/cancel" % rid, {
            "instanceid": 1, "reason_code": 1, "userid": owner}), 400, 13603)
        page = self.answer(self.listing(userid=owner, instanceid=1), LIST)
        self.assertEqual((page["meeting_number"], page["meeting_info_list"],
                          page["remaining"]), (0, [], 0))


if __name__ == "__main__":
    unittest.main()
