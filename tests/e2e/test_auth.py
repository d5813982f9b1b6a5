"""Authentication (docs/api.md Conventions: Authentication, Errors).

The probe request is a signed join: when authentication wrongly passes it adds
a device, so every refusal also checks that the meeting has no device."""
import base64
import hashlib
import hmac
import time
import unittest

import meetd_harness as h

JOIN = "/meetd/v1/meetings/%s/join"
PROBE_BODY = {"userid": "mallory", "instanceid": 1}


class AuthTest(h.MeetdCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.sdk_app = cls.server.create_app()                 # SdkId generated
        cls.nosdk_app = cls.server.create_app("--no-sdk-id")
        assert cls.sdk_app["MEETD_SDK_ID"], "app create gave no SdkId by default"
        assert cls.nosdk_app["MEETD_SDK_ID"] == "", "--no-sdk-id app has an SdkId"
        cls.sdk_client = cls.server.client(cls.sdk_app)
        cls.nosdk_client = cls.server.client(cls.nosdk_app)

    # -- probe helpers
    def attempt(self, client=None, body=PROBE_BODY, **kw):
        client = self.c(client)
        mid = self.new_meeting(client=client)
        return client.post(JOIN % mid, body, **kw), mid, client

    def refused(self, http_status, code, client=None, message=None, contains=None, **kw):
        resp, mid, client = self.attempt(client, **kw)
        self.assert_error(resp, http_status, code, message=message, contains=contains)
        self.assertEqual(self.participants(mid, client=client), [],
                         "a refused join added a device")
        return resp

    def accepted(self, client=None, **kw):
        resp, mid, client = self.attempt(client, **kw)
        dev = self.assert_ok(resp)
        self.assertEqual(self.present(mid, client=client), [(dev["ms_open_id"], 1)])
        return resp

    # -- tests
    def test_valid_request_accepted(self):
        for client in (None, self.sdk_client, self.nosdk_client):
            with self.subTest(app=self.c(client).app_id):
                self.accepted(client)

    def test_missing_each_auth_header(self):
        for name in ("X-TC-Key", "X-TC-Timestamp", "X-TC-Nonce", "X-TC-Signature", "AppId"):
            with self.subTest(missing=name):
                self.refused(401, 190303, headers={name: None})

    def test_empty_key_or_appid(self):
        for name in ("X-TC-Key", "AppId"):
            with self.subTest(empty=name):
                self.refused(401, 190303, headers={name: ""})

    def test_oauth_headers_refused_with_clear_message(self):
        variants = [{"AccessToken": "tok123", "OpenId": "open123", "X-TC-Key": None},
                    {"AccessToken": "tok123", "OpenId": "open123", "X-TC-Key": None,
                     "X-TC-Signature": None},
                    {"AccessToken": "tok123", "X-TC-Key": None}]
        for hdrs in variants:
            with self.subTest(headers=sorted(hdrs)):
                self.refused(401, 190303, contains="oauth", headers=hdrs)

    def test_unknown_secret_id(self):
        self.refused(401, 190303, secret_id="AKIDunknownunknownunknownunknown00")

    def test_appid_of_another_app(self):
        self.refused(401, 190303, headers={"AppId": self.sdk_app["MEETD_APP_ID"]})
        self.refused(401, 190303, headers={"AppId": self.client.app_id + "0"})

    def test_sdkid_required_and_must_match(self):
        app = self.sdk_client
        self.refused(401, 190303, app, headers={"SdkId": None})
        self.refused(401, 190303, app, headers={"SdkId": ""})          # empty = absent
        self.refused(401, 190303, app, headers={"SdkId": app.sdk_id + "9"})
        self.refused(401, 190303, app, headers={"SdkId": self.nosdk_app["MEETD_APP_ID"]})
        self.accepted(app, headers={"SdkId": app.sdk_id})

    def test_empty_sdkid_header_accepted_for_app_without_sdkid(self):
        self.accepted(self.nosdk_client, headers={"SdkId": ""})

    def test_official_python_sdk_header_set(self):
        # Vector 4's note: charset suffix, empty SdkId, X-TC-Registered 1.
        self.accepted(self.nosdk_client, content_type="application/json; charset=utf-8",
                      headers={"SdkId": "", "X-TC-Registered": "1",
                               "User-Agent": "TencentMeetingSDK/python"})

    def test_content_type_with_charset_accepted(self):
        self.accepted(content_type="application/json; charset=utf-8")

    def test_lowercase_header_names_accepted(self):
        self.accepted(name_case=str.lower)
        self.accepted(self.sdk_client, name_case=str.lower)
        self.accepted(name_case=str.upper)

    def test_bad_signature(self):
        good = h.signature(self.client.secret_key, "POST", self.client.secret_id, "5", "6",
                           "/x", b"")
        for sig in ("AAAA", good, "not base64 at all!"):
            with self.subTest(sig=sig):
                self.refused(401, 200003, message="Signature failed", sig=sig)

    def test_signature_with_wrong_key_or_encoding(self):
        self.refused(401, 200003, message="Signature failed",
                     secret_key=self.client.secret_key + "x")
        self.refused(401, 200003, message="Signature failed",
                     secret_key=self.sdk_app["MEETD_SECRET_KEY"])

    def test_signature_must_be_base64_of_lowercase_hex(self):
        c = self.client
        ts, nonce = str(h.now()), h.new_nonce()
        mid = self.new_meeting()
        uri = JOIN % mid
        body = h.to_bytes(PROBE_BODY)
        sts = h.string_to_sign("POST", c.secret_id, nonce, ts, uri, body)
        raw = hmac.new(c.secret_key.encode(), sts, hashlib.sha256)
        wrong = {"raw digest": base64.b64encode(raw.digest()).decode(),
                 "upper hex": base64.b64encode(raw.hexdigest().upper().encode()).decode(),
                 "bare hex": raw.hexdigest()}
        for what, sig in wrong.items():
            with self.subTest(what):
                self.assert_error(c.post(uri, body, timestamp=ts, nonce=h.new_nonce(),
                                         sig=sig), 401, 200003, message="Signature failed")
        self.assertEqual(self.participants(mid), [])

    def test_signature_over_other_uri_body_or_method(self):
        cases = {"uri": {"sign_uri": "/meetd/v1/meetings/1/join"},
                 "uri query": {"sign_uri": "/meetd/v1/meetings/%s/join?x=1"},
                 "body": {"sign_body": h.to_bytes({"userid": "mallory", "instanceid": 2})},
                 "body whitespace": {"sign_body": h.to_bytes(PROBE_BODY) + b" "},
                 "method": {"sign_method": "PUT"},
                 "method case": {"sign_method": "post"}}
        for what, kw in cases.items():
            with self.subTest(what):
                client = self.client
                mid = self.new_meeting()
                if "sign_uri" in kw and "%s" in kw["sign_uri"]:
                    kw = {"sign_uri": kw["sign_uri"] % mid}
                self.assert_error(client.post(JOIN % mid, PROBE_BODY, **kw), 401, 200003,
                                  message="Signature failed")
                self.assertEqual(self.participants(mid), [])

    def test_timestamp_window(self):
        for skew in (-301, 301, -100000):
            with self.subTest(skew=skew):
                self.refused(400, 190300, timestamp=h.now() + skew)
        self.refused(400, 190300, timestamp=int(time.time() * 1000))   # milliseconds
        self.accepted(timestamp=h.now() + 299)
        ts = h.now() - 299
        if ts < int(self.server.started_at):
            # operations.md "Replay memory": the replay memory is not persisted, so
            # a timestamp not later than meetd's start time is refused (190301).
            self.refused(400, 190301, timestamp=ts)
        else:
            self.accepted(timestamp=ts)

    def test_check_order_signature_before_window(self):
        # api.md: signature (200003) is checked before the window (190300);
        # key (190303) before both.
        self.refused(401, 200003, timestamp=h.now() - 1000, sig="AAAA")
        self.refused(401, 190303, timestamp=h.now() - 1000, secret_id="AKIDnope")

    def test_replay_refused(self):
        ts, nonce = h.now(), h.new_nonce()
        mid = self.new_meeting()
        first = self.client.post(JOIN % mid, PROBE_BODY, timestamp=ts, nonce=nonce)
        self.assert_ok(first)
        rows = self.participants(mid)
        self.assertEqual(len(rows), 1)
        # The very same request again, and another request with the same pair.
        self.assert_error(self.client.post(JOIN % mid, PROBE_BODY, timestamp=ts, nonce=nonce),
                          400, 190301)
        self.assert_error(self.client.post(JOIN % mid, {"userid": "eve", "instanceid": 2},
                                           timestamp=ts, nonce=nonce), 400, 190301)
        self.assertEqual(self.participants(mid), rows, "a replayed request changed state")
        # Same nonce with another timestamp, same timestamp with another nonce: fine.
        # (ts + 1, not ts - 1: operations.md refuses timestamps not later than
        # meetd's start time, which may be ts - 1 on a server started just now.)
        self.assert_ok(self.client.post(JOIN % mid, {"userid": "eve", "instanceid": 2},
                                        timestamp=ts + 1, nonce=nonce))
        self.assert_ok(self.client.post(JOIN % mid, {"userid": "zed", "instanceid": 3},
                                        timestamp=ts, nonce=h.new_nonce()))

    def test_same_pair_on_another_app_is_fine(self):
        ts, nonce = h.now(), h.new_nonce()
        for client in (self.client, self.sdk_client, self.nosdk_client):
            with self.subTest(app=client.app_id):
                self.accepted(client, timestamp=ts, nonce=nonce)

    def test_nonce_compared_by_numeric_value(self):
        ts = h.now()
        n = str(int(h.new_nonce()) // 10)   # 18 digits, so "0" + n is 19
        self.accepted(timestamp=ts, nonce=n)
        self.refused(400, 190301, timestamp=ts, nonce="0" + n)

    def test_refused_signature_does_not_use_up_the_pair(self):
        ts, nonce = h.now(), h.new_nonce()
        self.refused(401, 200003, timestamp=ts, nonce=nonce, sig="AAAA")
        self.accepted(timestamp=ts, nonce=nonce)

    def test_malformed_nonce(self):
        for nonce in ("0", "-1", "abc", "1" * 21, "", "1.5", "+7", "12a",
                      "18446744073709551616", "99999999999999999999"):
            with self.subTest(nonce=nonce):
                self.refused(401, 190303, nonce=nonce)

    def test_wellformed_nonce_edges(self):
        for nonce in ("1", "9223372036854775807"):
            with self.subTest(nonce=nonce):
                self.accepted(nonce=nonce)

    def test_trace_on_every_response_matches_access_log(self):
        mid = self.new_meeting()
        responses = [
            self.query_req(mid),                                              # 200
            self.client.get("/v1/meetings/%s?userid=alice&instanceid=1" % mid, sig="AAAA"),
            self.client.get("/v1/meetings/%s?userid=alice&instanceid=1" % mid,
                            headers={"X-TC-Key": None}),                      # 401
            self.client.get("/v1/meetings/%s?userid=alice&instanceid=1" % mid,
                            timestamp=h.now() - 999),                         # 400
            self.query_req("4242424242"),                                     # 9003
        ]
        self.assertEqual([r.status for r in responses], [200, 401, 401, 400, 400],
                         responses)
        traces = [r.trace for r in responses]
        self.assertTrue(all(traces), responses)
        self.assertEqual(len(set(traces)), len(traces), "trace ids repeat: %s" % traces)
        for r in responses:
            lines = self.server.access_line(r.trace)
            self.assertEqual(len(lines), 1, "trace %s in %d log lines: %s"
                             % (r.trace, len(lines), lines))
            self.assertRegex(lines[0], r"\b%d\b" % r.status)

    def test_rejected_kickout_changes_nothing(self):
        mid = self.new_meeting()
        alice = self.join(mid, "alice", 1)
        bob = self.join(mid, "bob", 2)
        before = self.state(mid)
        body = h.kick_body(h.op_ms(alice), [h.tgt_ms(bob)], allow_rejoin=False, reason="x")
        uri = "/v1/real-control/meetings/%s/kickout" % mid
        self.assert_error(self.client.put(uri, body, sig="AAAA"), 401, 200003)
        self.assert_error(self.client.put(uri, body, secret_id="AKIDnope"), 401, 190303)
        self.assert_error(self.client.put(uri, body, timestamp=h.now() - 400), 400, 190300)
        self.assert_error(self.client.put(uri, body, headers={"AccessToken": "t",
                                                              "OpenId": "o",
                                                              "X-TC-Key": None}),
                          401, 190303)
        self.assert_error(self.sdk_client.put(uri, body), 400, 9003)
        self.assert_unchanged(before, mid)
        # The control: the same kickout, correctly signed, does remove bob.
        self.assertEqual(self.assert_ok(self.client.put(uri, body)), {})
        self.assert_absent(mid, bob)


class ReplayAcrossRestartTest(h.MeetdCase):
    def test_replay_after_restart_refused(self):
        """operations.md: the replay memory is not persisted; a replay of a request
        sent before a restart is refused all the same."""
        mid = self.new_meeting()
        ts, nonce = h.now(), h.new_nonce()
        self.assert_ok(self.client.post(JOIN % mid, PROBE_BODY, timestamp=ts, nonce=nonce))
        rows = self.participants(mid)
        self.server.restart()
        self.assert_error(self.client.post(JOIN % mid, PROBE_BODY, timestamp=ts, nonce=nonce),
                          400, 190301)
        self.assertEqual(self.participants(mid), rows)


class RateLimitTest(h.MeetdCase):
    server_args = ("--rate-limit", "2")

    def patiently(self, fn, client=None):
        """Retry fn() while it answers 429 (the bucket refills at 2/s)."""
        deadline = time.monotonic() + h.DEADLINE
        while True:
            resp = fn()
            if resp.status != 429 or time.monotonic() > deadline:
                return resp
            time.sleep(0.1)   # polling interval, not synchronisation

    def test_rate_limit_per_app(self):
        other = self.server.client(self.server.create_app())
        mid = self.assert_ok(self.patiently(
            lambda: self.client.post("/v1/meetings", self.meeting_body())))[
                "meeting_info_list"][0]["meeting_id"]
        joined, limited = [], None
        for i in range(200):
            user = "u%d" % i
            resp = self.join_req(mid, user, 1)
            if resp.status == 429:
                limited = (user, resp)
                break
            self.assert_ok(resp)
            joined.append(user)
        self.assertIsNotNone(limited, "200 requests at full speed never got 429")
        user, resp = limited
        self.assert_error(resp, 429, 190310)
        # Another app is not limited by this app's traffic.
        self.assert_ok(other.post("/v1/meetings", self.meeting_body()))
        # The limited join did nothing.
        rows = self.assert_ok(self.patiently(lambda: self.participants_req(mid, pos=0, size=100)))
        self.assertEqual([r["userid"] for r in rows["participants"]], joined)
        self.assertNotIn(user, [r["userid"] for r in rows["participants"]])


if __name__ == "__main__":
    unittest.main()
