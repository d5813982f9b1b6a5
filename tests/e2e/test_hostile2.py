"""Hostile clients against the endpoints of issue 14: modify, cancel of one
occurrence, co-host dismiss, participants filters, real-time participants, a
user's meeting list, the join page and the Host-built join_url.

Each test names the defect it proves (or the attack it shows held) and builds
its own meetings and users; a recurring meeting whose first occurrence
already began is made with a start time a minute in the past, so that a join
lands in it and the next occurrence is a day later.
"""
import json
import socket
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


def get_with_host(client, uri, host):
    """A signed GET sent with this exact Host header (bytes) -> (status, JSON)."""
    ts, nonce = str(now()), h.new_nonce()
    sig = h.signature(client.secret_key, "GET", client.secret_id, nonce, ts, uri, b"")
    head = [b"GET " + uri.encode() + b" HTTP/1.1", b"Host: " + host]
    for name, value in (("X-TC-Key", client.secret_id), ("X-TC-Timestamp", ts),
                        ("X-TC-Nonce", nonce), ("X-TC-Signature", sig),
                        ("AppId", client.app_id), ("SdkId", client.sdk_id),
                        ("Connection", "close")):
        head.append(("%s: %s" % (name, value)).encode("latin-1"))
    with socket.create_connection(("127.0.0.1", client.server.port),
                                  timeout=h.DEADLINE) as s:
        s.sendall(b"\r\n".join(head) + b"\r\n\r\n")
        raw = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            raw += chunk
    status_line, _, rest = raw.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


class JoinUrlHostTest(h.MeetdCase):
    """join_url is built from the request's Host. Only a host[:port] is
    echoed; anything else leaves the path alone. Characters alone were
    checked, so "[:]:[]", "a:b:c" or "host:" made join_urls that are no
    URL. CRLF, quotes, spaces, '@', '/', unicode and over-long values were
    refused already and stay so."""

    def join_url(self, mid, host):
        status, body = get_with_host(self.client, "/v1/meetings/%s?userid=alice&instanceid=1"
                                     % mid, host)
        self.assertEqual(status, 200, body)
        return body["meeting_info_list"][0]["join_url"]

    def test_only_host_and_port_are_echoed(self):
        info = self.create_meeting("alice")
        path = "/meetd/v1/j/" + info["meeting_code"]
        for host in (b"127.0.0.1:8080", b"meet.example.com", b"[::1]:443", b"[::1]",
                     b"a-b.example:65535", b"x" * 255):
            with self.subTest(host=host):
                self.assertEqual(self.join_url(info["meeting_id"], host),
                                 "http://" + host.decode() + path)
        for host in (b"[:]:[]", b"a:b:c", b"host:", b":80", b"[::1", b"::1", b"[::1]x",
                     b"[g::1]", b"a:123456", b"a]b", b"[]", b"a\rb", b'a"b', b"a b",
                     b"a@b", b"a/b", b"javascript:alert(1)", b"\xc3\xa9.example",
                     b"x" * 256):
            with self.subTest(host=host):
                self.assertEqual(self.join_url(info["meeting_id"], host), path)


class NewWritesReplayedAfterRestartTest(h.MeetdCase):
    """Held: a modify and a cancel of one occurrence, replayed after a
    restart (the replay memory is gone, the spent nonces stay), are refused
    190301 and change nothing, even where the replay would now be accepted
    as new (an older subject over a newer one). They are signed 200 s ahead
    of the clock (the window is 300 s), so that meetd's start-up floor does
    not refuse them: only the spent nonces do."""

    server_per_test = True

    def test_modify_and_occurrence_cancel_replayed(self):
        alice = uniq("alice")
        info = self.create_meeting(alice, rule=DAILY3)
        mid, subs = info["meeting_id"], info["sub_meetings"]
        sent = []

        def write(method, uri, body):
            ts, nonce = now() + 200, h.new_nonce()
            self.assert_ok(self.client.request(method, uri, body, timestamp=ts, nonce=nonce))
            sent.append((method, uri, body, ts, nonce))

        write("PUT", "/v1/meetings/%s" % mid,
              {"userid": alice, "instanceid": 1, "subject": "first"})
        write("POST", "/v1/meetings/%s/cancel" % mid,
              {"userid": alice, "instanceid": 1, "reason_code": 1, "meeting_type": 1,
               "sub_meeting_id": subs[1]["sub_meeting_id"]})
        # A later modify the replay of the first would undo.
        self.assert_ok(self.client.put("/v1/meetings/%s" % mid,
                                       {"userid": alice, "instanceid": 1, "subject": "second"}))
        self.server.restart()
        before = self.query(mid, alice)
        for method, uri, body, ts, nonce in sent:
            with self.subTest(uri=uri):
                resp = self.client.request(method, uri, body, timestamp=ts, nonce=nonce)
                self.assert_error(resp, 400, 190301)
        self.assertEqual(self.query(mid, alice), before)
        self.assertEqual(before["subject"], "second")


TIME_LIMIT = 253402300799      # 9999-12-31T23:59:59Z, the bound of meetd's times


class SeriesPastTimeLimitTest(h.MeetdCase):
    """A series near the bound of meetd's times: create took a rule whose
    later occurrences (until_count) ran past 9999-12-31, then a modify of
    that very meeting was refused ("start_time is invalid", no start_time
    sent) and none of those occurrences could be moved. Now the rule is
    refused at create and at modify, and nothing is stored."""

    def test_rule_past_the_bound_is_refused_everywhere(self):
        alice = uniq("alice")
        start = TIME_LIMIT - 2 * 86400 - 3600
        times = {"start_time": str(start), "end_time": str(start + 3600)}
        fits = dict(DAILY3)
        info = self.create_meeting(alice, rule=fits, **times)
        self.assertTrue(all(int(o["end_time"]) <= TIME_LIMIT for o in info["sub_meetings"]))
        for rtype in range(5):
            rule = {"recurring_type": rtype, "until_type": 1, "until_count": 40}
            with self.subTest(recurring_type=rtype):
                listed = self.client.get("/v1/meetings?userid=%s&instanceid=1" % alice).json
                resp = self.client.post("/v1/meetings", self.meeting_body(alice, rule=rule,
                                                                          **times))
                self.assert_error(resp, 400, 190004, contains="9999-12-31")
                self.assertEqual(self.client.get("/v1/meetings?userid=%s&instanceid=1"
                                                 % alice).json, listed)
                before = self.query(info["meeting_id"], alice)
                resp = self.client.put("/v1/meetings/%s" % info["meeting_id"],
                                       {"userid": alice, "instanceid": 1,
                                        "recurring_rule": rule})
                self.assert_error(resp, 400, 190004, contains="9999-12-31")
                self.assertEqual(self.query(info["meeting_id"], alice), before)
        # An end past the bound says so, not that it comes before the start.
        late = {"start_time": str(TIME_LIMIT - 10), "end_time": str(TIME_LIMIT + 1)}
        self.assert_error(self.client.post("/v1/meetings", self.meeting_body(alice, **late)),
                          400, 190004, contains="9999-12-31")
        self.assert_error(self.client.post("/v1/meetings",
                                           self.meeting_body(alice, rule=fits, **late)),
                          400, 190004, contains="9999-12-31")
        sub = info["sub_meetings"][2]["sub_meeting_id"]
        resp = self.client.put("/v1/meetings/%s" % info["meeting_id"],
                               {"userid": alice, "instanceid": 1,
                                "recurring_rule": {"sub_meeting_id": sub},
                                "start_time": sub, "end_time": str(TIME_LIMIT + 1)})
        self.assert_error(resp, 400, 190004, contains="9999-12-31")
        # What create accepts a modify takes back as it is.
        self.assert_ok(self.client.put("/v1/meetings/%s" % info["meeting_id"],
                                       {"userid": alice, "instanceid": 1,
                                        "recurring_rule": fits}))


if __name__ == "__main__":
    unittest.main()
