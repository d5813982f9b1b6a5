"""Kickout as the official SDK sends it (docs/api.md "Kickout"), and the
error body every endpoint answers a refusal with ("Errors").

Written from the SDK's request models of the meeting_control service:
V1RealControlMeetingsMeetingIdKickoutPutRequest (allow_rejoin bool,
instanceid int, operator_id str?, operator_id_type int? — 2 openid, 4
ms_open_id —, reason str?, users list) with its users'
V1RealControlMeetingsMeetingIdKickoutPutRequestUsersInner (instanceid int,
to_operator_id str?, to_operator_id_type int? — 4 ms_open_id), and from how
the SDK serialises a request: the model's fields in that order with the
absent ones dropped, compact JSON, non-ASCII as UTF-8, Content-Type
`application/json; charset=utf-8`, an SdkId header even when empty,
X-TC-Registered 1. The answer is `{}`, which the SDK reads as an object.
The older forms meetd still takes (a uuid for the operator and for a
target; operator_id_type 1, a userid) are sent as those older clients did.
Every refusal carries Tencent's code and changes nothing.

The error body the SDK parses on any status >= 300 is
{"error_info":{"error_code":int,"new_error_code":int,"message":str}}: it is
checked with its JSON types on refusals of every Tencent endpoint.
"""
import json
import unittest
import urllib.parse

import meetd_harness as h

SDK_CT = "application/json; charset=utf-8"
FAKE_MS = "ms" + "Q" * 42      # well-formed, never issued


def sdk_json(fields):
    """(key, value) pairs in the model's order; None is left out, as the SDK does."""
    return json.dumps({k: v for k, v in fields if v is not None}, separators=(",", ":"),
                      ensure_ascii=False).encode("utf-8")


def sdk_user(instanceid, to_operator_id=None, to_operator_id_type=None):
    """A users[] entry: the SDK serialises the inner model the same way."""
    return {k: v for k, v in (("instanceid", instanceid), ("to_operator_id", to_operator_id),
                              ("to_operator_id_type", to_operator_id_type)) if v is not None}


def kick_fields(users, instanceid=1, operator_id=None, operator_id_type=None,
                allow_rejoin=True, reason=None):
    return [("allow_rejoin", allow_rejoin), ("instanceid", instanceid),
            ("operator_id", operator_id), ("operator_id_type", operator_id_type),
            ("reason", reason), ("users", users)]


def by_ms(dev, instanceid=None):
    return sdk_user(dev["instanceid"] if instanceid is None else instanceid,
                    dev["ms_open_id"], 4)


def is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


class KickoutCase(h.MeetdCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        # An app without an SdkId, whose SDK sends the header empty; the
        # default app (with one) is cls.with_sdk_id.
        cls.with_sdk_id = cls.client
        cls.client = cls.server.client(cls.server.create_app("--no-sdk-id"))
        assert cls.client.sdk_id == ""

    def sdk_headers(self, client=None):
        return {"Content-Type": SDK_CT,
                "SdkId": self.c(client).sdk_id,        # sent even when empty
                "X-TC-Registered": "1",
                "User-Agent": "wemeet-openapi-sdk-python"}

    def sdk_kick(self, mid, body, client=None):
        """PUT the kickout; body is bytes (as serialised) or a dict sent as is."""
        return self.c(client).put("/v1/real-control/meetings/%s/kickout" % mid, body,
                                  headers=self.sdk_headers(client), content_type=None)

    def done(self, resp):
        """Success as the SDK parses it: 200 and the JSON object `{}`."""
        self.assertEqual((resp.status, resp.raw), (200, b"{}"), resp)
        self.assertEqual(json.loads(resp.raw), {})

    def error_shape(self, resp, http_status, code):
        """The error body with the JSON types the SDK reads."""
        self.assertEqual(resp.status, http_status, resp)
        body = json.loads(resp.raw)
        self.assertEqual(list(body), ["error_info"], resp)
        info = body["error_info"]
        self.assertTrue(is_int(info.get("error_code")), resp)
        self.assertTrue(is_int(info.get("new_error_code")), resp)
        self.assertIsInstance(info.get("message"), str, resp)
        self.assertTrue(info["message"].strip(), resp)
        self.assertEqual((info["error_code"], info["new_error_code"]),
                         (code, 200000000 + code), resp)
        return info

    def refused(self, mid, send, http_status, code, contains=None):
        before = self.state(mid)
        resp = send()
        info = self.error_shape(resp, http_status, code)
        if contains is not None:
            self.assertIn(contains.lower(), info["message"].lower(), resp)
        self.assert_unchanged(before, mid)

    def started(self, creator="alice", hosts=None):
        """A meeting in progress: the creator on a PC, bob on a Mac."""
        mid = self.new_meeting(creator, hosts)
        alice = self.join(mid, creator, 1)
        bob = self.join(mid, "bob", 2)
        return mid, alice, bob


class KickoutRequestTest(KickoutCase):
    def test_sdk_serialisation(self):
        """The bytes the SDK puts on the wire for an ms_open_id operator and target."""
        users = [sdk_user(2, "msT", 4)]
        self.assertEqual(
            sdk_json(kick_fields(users, 1, "msO", 4, False, "spam")),
            b'{"allow_rejoin":false,"instanceid":1,"operator_id":"msO","operator_id_type":4,'
            b'"reason":"spam","users":[{"instanceid":2,"to_operator_id":"msT",'
            b'"to_operator_id_type":4}]}')

    def test_operator_by_ms_open_id(self):
        mid, alice, bob = self.started()
        self.done(self.sdk_kick(mid, sdk_json(kick_fields(
            [by_ms(bob)], 1, alice["ms_open_id"], 4, reason="请离开"))))
        self.assert_absent(mid, bob)
        self.assert_present(mid, alice)
        # allow_rejoin true: bob may come back.
        self.join(mid, "bob", 2)

    def test_app_with_an_sdk_id(self):
        """The SDK configured with the app's SdkId sends it."""
        app = self.with_sdk_id
        self.assertTrue(app.sdk_id)
        mid = self.new_meeting(client=app)
        bob = self.join(mid, "bob", 2, client=app)
        self.done(self.sdk_kick(mid, sdk_json(kick_fields([by_ms(bob)], 1, "alice", 1)),
                                client=app))
        self.assertEqual(self.participants(mid, client=app)[0]["left_time"].isdigit(), True)
        # The other app's SdkId is not this one's.
        resp = app.put("/v1/real-control/meetings/%s/kickout" % mid,
                       sdk_json(kick_fields([by_ms(bob)], 1, "alice", 1)),
                       headers=dict(self.sdk_headers(app), SdkId="1" + app.sdk_id),
                       content_type=None)
        self.error_shape(resp, 401, 190303)

    def test_operator_by_userid(self):
        """operator_id_type 1: the creator need not be present."""
        mid = self.new_meeting()
        bob, carol = self.join(mid, "bob", 2), self.join(mid, "carol", 3)
        self.done(self.sdk_kick(mid, sdk_json(kick_fields([by_ms(bob), by_ms(carol)], 1,
                                                          "alice", 1, allow_rejoin=False))))
        self.assert_absent(mid, bob)
        self.assert_absent(mid, carol)
        self.assert_error(self.join_req(mid, "bob", 2), 403, 9101)

    def test_older_uuid_forms(self):
        mid, alice, bob = self.started()
        body = {"uuid": alice["uuid"], "instanceid": 1, "allow_rejoin": True,
                "users": [{"uuid": bob["uuid"], "instanceid": 2}]}
        self.done(self.sdk_kick(mid, body))
        self.assert_absent(mid, bob)
        # Mixed: the current operator form, an older target entry.
        carol = self.join(mid, "carol", 3)
        self.done(self.sdk_kick(mid, sdk_json(kick_fields(
            [{"instanceid": 3, "uuid": carol["uuid"]}], 1, alice["ms_open_id"], 4))))
        self.assert_absent(mid, carol)

    def test_operator_id_wins_over_uuid(self):
        mid, alice, bob = self.started()
        carol = self.join(mid, "carol", 3)
        # uuid names a member, who may not kick; operator_id names the creator.
        body = {"allow_rejoin": True, "instanceid": 1, "operator_id": alice["ms_open_id"],
                "operator_id_type": 4, "uuid": carol["uuid"], "users": [by_ms(bob)]}
        self.done(self.sdk_kick(mid, body))
        self.assert_absent(mid, bob)

    def test_mra_target_with_reason(self):
        mid, alice, _ = self.started()
        room = self.join(mid, "room-1", 9)
        self.done(self.sdk_kick(mid, sdk_json(kick_fields(
            [by_ms(room)], 1, alice["ms_open_id"], 4, reason="room booked elsewhere"))))
        self.assert_absent(mid, room)

    def test_target_not_present_is_left_alone(self):
        """A retried kickout, or a user on another device: `{}`, nothing else removed."""
        mid, alice, bob = self.started()
        self.done(self.sdk_kick(mid, sdk_json(kick_fields([by_ms(bob, 4)], 1, "alice", 1))))
        self.assert_present(mid, bob)
        self.done(self.sdk_kick(mid, sdk_json(kick_fields([by_ms(bob)], 1, "alice", 1))))
        self.done(self.sdk_kick(mid, sdk_json(kick_fields([by_ms(bob)], 1, "alice", 1))))
        self.assert_absent(mid, bob)

    def test_cohost_operator(self):
        mid, alice, bob = self.started()
        self.assert_ok(self.cohost(mid, h.op_userid("alice"), bob))
        carol = self.join(mid, "carol", 3)
        self.done(self.sdk_kick(mid, sdk_json(kick_fields(
            [by_ms(carol)], 2, bob["ms_open_id"], 4))))
        self.assert_absent(mid, carol)


class KickoutRefusalTest(KickoutCase):
    def test_openid_operator_refused(self):
        """operator_id_type 2 (openid): OAuth2.0 only."""
        mid, alice, bob = self.started()
        self.refused(mid, lambda: self.sdk_kick(mid, sdk_json(kick_fields(
            [by_ms(bob)], 1, "openid-of-alice", 2))), 400, 190004, contains="openid")

    def test_wrong_types_and_values(self):
        mid, alice, bob = self.started()
        good = dict(kick_fields([by_ms(bob)], 1, alice["ms_open_id"], 4))
        good = {k: v for k, v in good.items() if v is not None}
        cases = {
            "allow_rejoin missing": h.variant(good, allow_rejoin=h.DROP),
            "allow_rejoin as string": h.variant(good, allow_rejoin="true"),
            "allow_rejoin as int": h.variant(good, allow_rejoin=1),
            "instanceid missing": h.variant(good, instanceid=h.DROP),
            "instanceid as string": h.variant(good, instanceid="1"),
            "unknown instanceid": h.variant(good, instanceid=11),
            "operator_id_type as string": h.variant(good, operator_id_type="4"),
            "operator_id_type 3": h.variant(good, operator_id_type=3),
            "operator_id without type": h.variant(good, operator_id_type=h.DROP),
            "no operator": h.variant(good, operator_id=h.DROP, operator_id_type=h.DROP),
            "reason as number": h.variant(good, reason=5),
            "reason too long": h.variant(good, reason="x" * 1025),
            "users missing": h.variant(good, users=h.DROP),
            "users empty": h.variant(good, users=[]),
            "users not a list": h.variant(good, users=by_ms(bob)),
            "21 users": h.variant(good, users=[by_ms(bob)] * 21),
            "user without id": h.variant(good, users=[sdk_user(2)]),
            "to_operator_id_type 1": h.variant(good, users=[sdk_user(2, "bob", 1)]),
            "to_operator_id_type missing": h.variant(
                good, users=[sdk_user(2, bob["ms_open_id"])]),
            "to_operator_id_type as string": h.variant(
                good, users=[sdk_user(2, bob["ms_open_id"], "4")]),
            "user instanceid missing": h.variant(
                good, users=[{"to_operator_id": bob["ms_open_id"], "to_operator_id_type": 4}]),
            "user instanceid as string": h.variant(good, users=[by_ms(bob, "2")]),
        }
        for what, body in cases.items():
            with self.subTest(what):
                self.refused(mid, lambda: self.sdk_kick(mid, body), 400, 190004)

    def test_mra_target_without_reason(self):
        mid, alice, _ = self.started()
        room = self.join(mid, "room-1", 9)
        for reason in (None, ""):
            with self.subTest(reason=reason):
                self.refused(mid, lambda: self.sdk_kick(mid, sdk_json(kick_fields(
                    [by_ms(room)], 1, alice["ms_open_id"], 4, reason=reason))), 400, 190004)

    def test_self_kick(self):
        mid, alice, _ = self.started()
        self.refused(mid, lambda: self.sdk_kick(mid, sdk_json(kick_fields(
            [by_ms(alice)], 1, alice["ms_open_id"], 4))), 400, 190004)

    def test_no_permission_9042(self):
        mid, alice, bob = self.started("alice", hosts=["hank"])
        carol = self.join(mid, "carol", 3)
        hank = self.join(mid, "hank", 4)
        cases = {
            "member by ms_open_id": kick_fields([by_ms(carol)], 2, bob["ms_open_id"], 4),
            "member by userid": kick_fields([by_ms(carol)], 1, "bob", 1),
            "not in the meeting, by userid": kick_fields([by_ms(carol)], 1, "mallory", 1),
            "unknown ms_open_id": kick_fields([by_ms(carol)], 1, FAKE_MS, 4),
            "ms_open_id on another device": kick_fields([by_ms(carol)], 3,
                                                       alice["ms_open_id"], 4),
        }
        for what, fields in cases.items():
            with self.subTest(what):
                self.refused(mid, lambda: self.sdk_kick(mid, sdk_json(fields)), 403, 9042)
        # A co-host cannot remove the creator or a host.
        self.assert_ok(self.cohost(mid, h.op_userid("alice"), bob))
        for target in (alice, hank):
            with self.subTest(cohost_removes=target["instanceid"]):
                self.refused(mid, lambda: self.sdk_kick(mid, sdk_json(kick_fields(
                    [by_ms(target)], 2, bob["ms_open_id"], 4))), 403, 9042)

    def test_banned_operator_9042(self):
        mid, alice, bob = self.started("alice", hosts=["hank"])
        hank = self.join(mid, "hank", 4)
        self.join(mid, "hank", 3)
        self.done(self.sdk_kick(mid, sdk_json(kick_fields(
            [by_ms(hank, 4)], 1, alice["ms_open_id"], 4, allow_rejoin=False))))
        # Still present on instanceid 3, but banned: no operator.
        self.refused(mid, lambda: self.sdk_kick(mid, sdk_json(kick_fields(
            [by_ms(bob)], 3, hank["ms_open_id"], 4))), 403, 9042, contains="allow_rejoin")

    def test_meeting_refusals(self):
        mid, alice, bob = self.started()
        body = sdk_json(kick_fields([by_ms(bob)], 1, alice["ms_open_id"], 4))
        self.error_shape(self.sdk_kick("12x", body), 400, 9002)
        self.error_shape(self.sdk_kick("1" * 20, body), 400, 9002)
        self.error_shape(self.sdk_kick("1234567890123456789", body), 400, 9003)
        other = self.server.client(self.server.create_app())
        self.refused(mid, lambda: self.sdk_kick(mid, body, client=other), 400, 9003)
        # Not started yet: nobody has joined.
        fresh = self.new_meeting()
        self.refused(fresh, lambda: self.sdk_kick(fresh, sdk_json(kick_fields(
            [sdk_user(2, FAKE_MS, 4)], 1, "alice", 1))), 400, 190004,
            contains="not in progress")
        # Cancelled before anyone joined.
        gone = self.new_meeting()
        self.assert_ok(self.cancel(gone))
        self.refused(gone, lambda: self.sdk_kick(gone, sdk_json(kick_fields(
            [sdk_user(2, FAKE_MS, 4)], 1, "alice", 1))), 400, 190004, contains="cancelled")
        # Dismissed: over.
        self.assert_ok(self.dismiss(mid))
        self.refused(mid, lambda: self.sdk_kick(mid, body), 400, 190004,
                     contains="not in progress")

    def test_bad_json_and_content_type(self):
        mid, alice, bob = self.started()
        self.refused(mid, lambda: self.sdk_kick(mid, b'{"allow_rejoin":true,'), 400, 190004)
        self.refused(mid, lambda: self.sdk_kick(mid, b'[]'), 400, 190004)
        body = sdk_json(kick_fields([by_ms(bob)], 1, alice["ms_open_id"], 4))
        self.refused(mid, lambda: self.client.put(
            "/v1/real-control/meetings/%s/kickout" % mid, body,
            headers={"SdkId": self.client.sdk_id}, content_type="text/plain"), 400, 190004)


class CohostRequestTest(KickoutCase):
    """The co-host call of the same service, V1RealControlMeetingsMeetingIdCohostsPutRequest
    (action bool, instanceid int, operator_id str?, operator_id_type int?, user
    {instanceid int, to_operator_id str?, to_operator_id_type int?}), as the
    docs' field table for it says."""

    def sdk_cohost(self, mid, body):
        return self.client.put("/v1/real-control/meetings/%s/cohosts" % mid, body,
                               headers=self.sdk_headers(), content_type=None)

    def role(self, mid, dev):
        rows = self.participants(mid)
        return [r["user_role"] for r in rows if r["ms_open_id"] == dev["ms_open_id"]
                and r["instanceid"] == dev["instanceid"] and "left_time" not in r][0]

    def test_sdk_request_and_the_older_form(self):
        mid, alice, bob = self.started()
        body = sdk_json([("action", True), ("instanceid", 1),
                         ("operator_id", alice["ms_open_id"]), ("operator_id_type", 4),
                         ("user", by_ms(bob))])
        self.assertEqual(body, (
            '{"action":true,"instanceid":1,"operator_id":"%s","operator_id_type":4,'
            '"user":{"instanceid":2,"to_operator_id":"%s","to_operator_id_type":4}}'
            % (alice["ms_open_id"], bob["ms_open_id"])).encode())
        self.done(self.sdk_cohost(mid, body))
        self.assertEqual(self.role(mid, bob), 6)
        self.done(self.sdk_cohost(mid, {"action": False, "instanceid": 1, "uuid": alice["uuid"],
                                        "user": {"instanceid": 2, "uuid": bob["uuid"]}}))
        self.assertEqual(self.role(mid, bob), 0)

    def test_refusals(self):
        mid, alice, bob = self.started()
        good = {"action": True, "instanceid": 1, "operator_id": alice["ms_open_id"],
                "operator_id_type": 4, "user": by_ms(bob)}
        cases = {
            "action missing": h.variant(good, action=h.DROP),
            "action as string": h.variant(good, action="true"),
            "instanceid as string": h.variant(good, instanceid="1"),
            "operator_id_type as string": h.variant(good, operator_id_type="4"),
            "openid operator": h.variant(good, operator_id="oid", operator_id_type=2),
            "user missing": h.variant(good, user=h.DROP),
            "user as a list": h.variant(good, user=[by_ms(bob)]),
            "user.to_operator_id_type 1": h.variant(good, user=sdk_user(2, "bob", 1)),
            "user.instanceid as string": h.variant(good, user=by_ms(bob, "2")),
            "user on a device not present": h.variant(good, user=by_ms(bob, 9)),
        }
        for what, body in cases.items():
            with self.subTest(what):
                self.refused(mid, lambda: self.sdk_cohost(mid, body), 400, 190004)
        fresh = self.new_meeting()
        self.refused(fresh, lambda: self.sdk_cohost(fresh, h.variant(
            good, operator_id="alice", operator_id_type=1, user=sdk_user(2, FAKE_MS, 4))),
            400, 190004, contains="not in progress")


class ErrorBodyTest(KickoutCase):
    """Two refusals of every Tencent endpoint, each body as the SDK parses it."""

    def get(self, path, params, client=None):
        q = urllib.parse.urlencode([(k, v) for k, v in params if v is not None])
        return self.c(client).get(path + "?" + q, headers=self.sdk_headers(client))

    def send(self, method, path, fields):
        return self.client.request(method, path, sdk_json(fields),
                                   headers=self.sdk_headers(), content_type=None)

    def test_every_endpoint(self):
        mid, alice, bob = self.started()
        ghost = "1234567890123456789"
        t = h.now() + 3600
        create = [("end_time", str(t + 3600)), ("instanceid", 1), ("start_time", str(t)),
                  ("subject", "s"), ("type", 0), ("userid", "alice")]
        cases = [
            ("create, type as string", lambda: self.send("POST", "/v1/meetings", [
                (k, "0" if k == "type" else v) for k, v in create]), 400, 190004),
            ("create, recurring quick meeting", lambda: self.send("POST", "/v1/meetings", [
                (k, 1 if k == "type" else v) for k, v in create] + [
                ("meeting_type", 1), ("recurring_rule", {"recurring_type": 0})]), 400, 190004),
            ("query, unknown meeting", lambda: self.get("/v1/meetings/" + ghost, [
                ("operator_id", "alice"), ("operator_id_type", "1"), ("instanceid", "1")]),
             400, 9003),
            ("query, openid", lambda: self.get("/v1/meetings/" + mid, [
                ("operator_id", "alice"), ("operator_id_type", "2"), ("instanceid", "1")]),
             400, 190004),
            ("by code, unknown code", lambda: self.get("/v1/meetings", [
                ("userid", "alice"), ("instanceid", "1"), ("meeting_code", "000000001")]),
             400, 9003),
            ("list, bad pos", lambda: self.get("/v1/meetings", [
                ("userid", "alice"), ("instanceid", "1"), ("pos", "-1")]), 400, 190004),
            ("modify, not the creator", lambda: self.send("PUT", "/v1/meetings/" + mid, [
                ("instanceid", 1), ("subject", "x"), ("userid", "bob")]), 403, 9102),
            ("modify, unknown meeting", lambda: self.send("PUT", "/v1/meetings/" + ghost, [
                ("instanceid", 1), ("subject", "x"), ("userid", "alice")]), 400, 9003),
            ("cancel, started", lambda: self.send("POST", "/v1/meetings/%s/cancel" % mid, [
                ("instanceid", 1), ("reason_code", 1), ("userid", "alice")]), 400, 13602),
            ("cancel, no reason_code", lambda: self.send("POST", "/v1/meetings/%s/cancel" % mid,
                                                         [("instanceid", 1), ("userid", "alice")]),
             400, 190004),
            ("dismiss, member", lambda: self.send("POST", "/v1/meetings/%s/dismiss" % mid, [
                ("instanceid", 2), ("operator_id", "bob"), ("operator_id_type", 1),
                ("reason_code", 1)]), 403, 9042),
            ("dismiss, bad meeting id", lambda: self.send("POST", "/v1/meetings/x1/dismiss", [
                ("instanceid", 1), ("operator_id", "alice"), ("operator_id_type", 1),
                ("reason_code", 1)]), 400, 9002),
            ("participants, member", lambda: self.get("/v1/meetings/%s/participants" % mid, [
                ("operator_id", "bob"), ("operator_id_type", "1")]), 403, 9042),
            ("participants, size 101", lambda: self.get("/v1/meetings/%s/participants" % mid, [
                ("operator_id", "alice"), ("operator_id_type", "1"), ("size", "101")]),
             400, 190004),
            ("real-time, page_size 51", lambda: self.get(
                "/v1/meetings/%s/real-time-participants" % mid, [
                    ("operator_id", "alice"), ("operator_id_type", "1"), ("page", "1"),
                    ("page_size", "51")]), 400, 190004),
            ("real-time, unknown meeting", lambda: self.get(
                "/v1/meetings/%s/real-time-participants" % ghost, [
                    ("operator_id", "alice"), ("operator_id_type", "1"), ("page", "1"),
                    ("page_size", "20")]), 400, 9003),
            ("co-host, member", lambda: self.send(
                "PUT", "/v1/real-control/meetings/%s/cohosts" % mid, [
                    ("action", True), ("instanceid", 2), ("operator_id", bob["ms_open_id"]),
                    ("operator_id_type", 4), ("user", by_ms(alice))]), 403, 9042),
            ("co-host, openid", lambda: self.send(
                "PUT", "/v1/real-control/meetings/%s/cohosts" % mid, [
                    ("action", True), ("instanceid", 1), ("operator_id", "x"),
                    ("operator_id_type", 2), ("user", by_ms(bob))]), 400, 190004),
            ("kickout, member", lambda: self.sdk_kick(mid, sdk_json(kick_fields(
                [by_ms(alice)], 2, bob["ms_open_id"], 4))), 403, 9042),
            ("kickout, unknown meeting", lambda: self.sdk_kick(ghost, sdk_json(kick_fields(
                [by_ms(bob)], 1, "alice", 1))), 400, 9003),
        ]
        before = self.state(mid)
        for what, send, status, code in cases:
            with self.subTest(what):
                self.error_shape(send(), status, code)
        self.assert_unchanged(before, mid)


if __name__ == "__main__":
    unittest.main()
