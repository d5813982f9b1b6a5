#!/usr/bin/env python3
"""Writes the seed corpora under fuzz/corpus/<target>/ (committed).

Seeds are the contract's example requests: the signature vectors of
tests/vectors/signature.json and the request bodies of docs/api.md, in each
target's input format (see the comment at the top of fuzz/fuzz_<target>.c).
Run it again after changing a format or adding an endpoint; it replaces the
seed files it owns (names starting "seed-") and leaves any other file alone.
"""
import json
import os
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(ROOT, "fuzz", "corpus")
SDK_KEY = "AKIDfuzzSdkApp0000000000000000002"


def write(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def clear(target):
    d = os.path.join(CORPUS, target)
    if os.path.isdir(d):
        for n in os.listdir(d):
            if n.startswith("seed-"):
                os.remove(os.path.join(d, n))


def vectors():
    with open(os.path.join(ROOT, "tests", "vectors", "signature.json"), encoding="utf-8") as f:
        return json.load(f)["vectors"]


# ---- requests of docs/api.md, with the fixture's names (fuzz/fuzz.h) -------

KICK_CURRENT = ('{"operator_id":"{ms1}","operator_id_type":4,"instanceid":1,"allow_rejoin":false,'
                '"reason":"disruptive","users":[{"to_operator_id":"{ms2}","to_operator_id_type":4,'
                '"instanceid":2}]}')
KICK_SEED = ('{"uuid":"{uuid1}","instanceid":1,"allow_rejoin":false,'
             '"users":[{"uuid":"{uuid3}","instanceid":3}]}')
KICK_USERID_MRA = ('{"operator_id":"alice","operator_id_type":1,"instanceid":1,"allow_rejoin":true,'
                   '"reason":"room","users":[{"to_operator_id":"{ms4}","to_operator_id_type":4,'
                   '"instanceid":9},{"uuid":"{uuid2}","instanceid":2},'
                   '{"to_operator_id":"msUnknown","to_operator_id_type":4,"instanceid":1}]}')
KICK_SERIES = ('{"operator_id":"{Rms1}","operator_id_type":4,"instanceid":1,"allow_rejoin":false,'
               '"users":[{"to_operator_id":"{Rms2}","to_operator_id_type":4,"instanceid":2}]}')
COHOST = ('{"operator_id":"alice","operator_id_type":1,"instanceid":1,"action":true,'
          '"user":{"to_operator_id":"{ms2}","to_operator_id_type":4,"instanceid":2}}')
CREATE_SCHEDULED = ('{"userid":"alice","instanceid":1,"subject":"Weekly sync","type":0,'
                    '"start_time":"1700003600","end_time":"1700007200",'
                    '"hosts":[{"userid":"alice"},{"userid":"bob"}]}')
CREATE_QUICK = '{"userid":"alice","instanceid":1,"subject":"quick","type":1}'
CREATE_SERIES = ('{"userid":"alice","instanceid":1,"subject":"standup","type":0,"meeting_type":1,'
                 '"start_time":"1700003600","end_time":"1700005400","recurring_rule":'
                 '{"recurring_type":1,"until_type":0,"until_date":1702000000}}')
CREATE_MONTHLY = ('{"userid":"alice","instanceid":1,"subject":"monthly","type":0,"meeting_type":1,'
                  '"start_time":"1706659200","end_time":"1706662800","recurring_rule":'
                  '{"recurring_type":4,"until_type":1,"until_count":12}}')

# (name, method, uri, extra headers, body): the harness signs each one.
REQUESTS = [
    ("create-scheduled", "POST", "/v1/meetings", [], CREATE_SCHEDULED),
    ("create-quick", "POST", "//v1/meetings", [], CREATE_QUICK),
    ("create-series", "POST", "/v1/meetings", [], CREATE_SERIES),
    ("create-monthly", "POST", "/v1/meetings", [], CREATE_MONTHLY),
    ("get", "GET", "/v1/meetings/{Q}?userid=alice&instanceid=1", [], ""),
    ("get-series", "GET", "/v1/meetings/{R}?userid=bob&instanceid=2", [], ""),
    ("cancel", "POST", "/v1/meetings/{Q}/cancel", [],
     '{"userid":"alice","instanceid":1,"reason_code":1}'),
    ("cancel-occurrence", "POST", "/v1/meetings/{R}/cancel", [],
     '{"instanceid":1,"meeting_type":1,"reason_code":1,"sub_meeting_id":"{Rsub}","userid":"alice"}'),
    ("dismiss", "POST", "/v1/meetings/{Q}/dismiss", [],
     '{"instanceid":1,"operator_id":"alice","operator_id_type":1,"reason_code":1}'),
    ("participants", "GET", "/v1/meetings/{Q}/participants?userid=alice&pos=0&size=20", [], ""),
    ("participants-series", "GET",
     "/v1/meetings/{R}/participants?userid=alice&sub_meeting_id={Rsub}&pos=1&size=1", [], ""),
    ("kickout", "PUT", "/v1/real-control/meetings/{Q}/kickout",
     ["Prefer: return=representation"], KICK_CURRENT),
    ("kickout-seed-form", "PUT", "/v1/real-control/meetings/{Q}/kickout", [], KICK_SEED),
    ("kickout-userid-mra", "PUT", "/v1/real-control/meetings/{Q}/kickout",
     ["Prefer: return=representation"], KICK_USERID_MRA),
    ("kickout-series", "PUT", "/v1/real-control/meetings/{R}/kickout", [], KICK_SERIES),
    ("cohosts", "PUT", "/v1/real-control/meetings/{Q}/cohosts", [], COHOST),
    ("modify", "PUT", "/v1/meetings/{Q}", [],
     '{"end_time":"1700010800","hosts":[{"userid":"bob"}],"instanceid":1,'
     '"settings":{"mute_enable_join":true},"subject":"moved","userid":"alice"}'),
    ("modify-series", "PUT", "/v1/meetings/{R}", [],
     '{"end_time":"1700009000","instanceid":1,"meeting_type":1,"recurring_rule":'
     '{"recurring_type":0,"until_count":3,"until_type":1},"start_time":"1700007200",'
     '"userid":"alice"}'),
    ("modify-occurrence", "PUT", "/v1/meetings/{R}", [],
     '{"end_time":"1800000000","instanceid":1,"operator_id":"alice","operator_id_type":1,'
     '"recurring_rule":{"sub_meeting_id":"{Rsub}"}}'),
    ("join", "POST", "/meetd/v1/meetings/{Q}/join", [],
     '{"userid":"dave","nick_name":"Dave","instanceid":5}'),
    ("join-guest", "POST", "/meetd/v1/meetings/{Q}/join", [], '{"guest_id":"g2","instanceid":8}'),
    ("join-replace", "POST", "/meetd/v1/meetings/{Q}/join", [],
     '{"userid":"bob","nick_name":"Robert","instanceid":2}'),
    ("join-series", "POST", "/meetd/v1/meetings/{R}/join", [], '{"userid":"erin","instanceid":3}'),
    ("leave", "POST", "/meetd/v1/meetings/{Q}/leave", [], '{"ms_open_id":"{ms2}","instanceid":2}'),
    ("leave-uuid", "POST", "/meetd/v1/meetings/{Q}/leave", [], '{"uuid":"{uuid3}","instanceid":3}'),
    ("bans", "GET", "/meetd/v1/meetings/{Q}/bans", [], ""),
    ("bans-lift", "DELETE", "/meetd/v1/meetings/{Q}/bans/{ms5}", [], ""),
    ("bans-lift-userid", "DELETE", "/meetd/v1/meetings/{Q}/bans/mallory", [], ""),
    ("join-banned", "POST", "/meetd/v1/meetings/{Q}/join", [], '{"userid":"mallory","instanceid":3}'),
    ("events-removed", "GET", "/meetd/v1/events?device_token={tok5}", [], ""),
    ("cohost-kicks-creator", "PUT", "/v1/real-control/meetings/{Q}/kickout", [],
     '{"operator_id":"{ms2}","operator_id_type":4,"instanceid":2,"allow_rejoin":true,'
     '"users":[{"to_operator_id":"{ms1}","to_operator_id_type":4,"instanceid":1}]}'),
    ("self-kick", "PUT", "/v1/real-control/meetings/{Q}/kickout", [],
     '{"uuid":"{uuid1}","instanceid":1,"allow_rejoin":true,"users":[{"uuid":"{uuid1}","instanceid":1}]}'),
    ("audit", "GET", "/meetd/v1/meetings/{Q}/audit?pos=0&size=20", [], ""),
    ("webhook-create", "POST", "/meetd/v1/webhooks", [],
     '{"url":"https://hooks.example.com/meetd","token":"r8QmToken"}'),
    ("webhooks", "GET", "/meetd/v1/webhooks", [], ""),
    ("webhook-deliveries", "GET", "/meetd/v1/webhooks/deliveries?status=pending&pos=0&size=5",
     [], ""),
    ("webhook-delete", "DELETE", "/meetd/v1/webhooks/{hook}", [], ""),
    ("events", "GET", "/meetd/v1/events?device_token={tok2}", [], ""),
    ("healthz", "GET", "/healthz", [], ""),
    ("other-app", "GET", "/v1/meetings/{Q}?userid=alice&instanceid=1",
     ["X-TC-Key: " + SDK_KEY], ""),
    ("other-app-kickout", "PUT", "/v1/real-control/meetings/{Q}/kickout",
     ["X-TC-Key: " + SDK_KEY, "SdkId: sdk-2"], KICK_CURRENT),
    ("wrong-method", "DELETE", "/v1/meetings/{Q}", [], ""),
    ("no-route", "GET", "/v2/nothing", [], ""),
    ("bad-signature", "GET", "/meetd/v1/meetings/{Q}/bans", ["X-TC-Signature: abc"], ""),
    ("oauth", "GET", "/v1/meetings/{Q}?userid=alice&instanceid=1",
     ["X-TC-Key:", "AccessToken: token", "OpenId: open"], ""),
    ("skew", "GET", "/meetd/v1/meetings/{Q}/audit", ["X-TC-Timestamp: 1699999000"], ""),
    ("content-type", "POST", "/meetd/v1/meetings/{Q}/join",
     ["Content-Type: text/plain"], '{"userid":"x","instanceid":1}'),
    ("encoded-path", "GET", "/v1/meetings/%31%32?userid=a+b&instanceid=%31", [], ""),
]


def request_text(method, uri, headers, body):
    head = "%s %s HTTP/1.1\n" % (method, uri)
    head += "".join(h + "\n" for h in headers)
    return head + ("\n" + body if body else "")


def by_name(name):
    for r in REQUESTS:
        if r[0] == name:
            return request_text(*r[1:])
    raise KeyError(name)


# Requests in a row on one fixture (fuzz_router.c: separated by "~~~").
SEQUENCES = [
    ("ban-then-rejoin", ["kickout", "join-replace", "bans", "audit"]),
    ("lift-then-rejoin", ["bans-lift", "join-banned", "participants"]),
    ("dismiss-then-join", ["dismiss", "join", "get"]),
    ("cancel-occurrence-then-join", ["cancel-occurrence", "join-series", "get-series"]),
    ("webhook-then-join", ["webhook-create", "join", "webhook-deliveries", "webhooks"]),
    ("leave-then-events", ["leave", "events", "participants"]),
    ("modify-series-then-join", ["modify-series", "join-series", "get-series"]),
]


def router_seeds():
    clear("router")
    for name, method, uri, headers, body in REQUESTS:
        write("router", name, request_text(method, uri, headers, body))
    for name, parts in SEQUENCES:
        write("router", "seq-" + name, "\n~~~\n".join(by_name(p) for p in parts))
    # The vectors exactly as signed (the harness leaves a given signature be).
    for i, v in enumerate(vectors()):
        headers = ["X-TC-Key: " + v["secret_id"], "X-TC-Timestamp: " + v["timestamp"],
                   "X-TC-Nonce: " + v["nonce"], "X-TC-Signature: " + v["signature"],
                   "AppId: 200000001"]
        if v["body"]:
            headers.append("Content-Type: application/json; charset=utf-8")
        write("router", "vector-%d" % i, request_text(v["method"], v["uri"], headers, v["body"]))


# fuzz_json.c's endpoint table, in order.
JSON_ENDPOINTS = ["create", "get", "cancel", "dismiss", "participants", "kickout", "cohosts",
                  "join", "leave", "bans", "bans-lift", "audit", "webhook-create", "webhooks",
                  "webhook-delete", "deliveries", "events"]
JSON_INPUTS = [
    ("create", 0, CREATE_SCHEDULED), ("create", 0, CREATE_SERIES), ("create", 0, CREATE_MONTHLY),
    ("get", 0, "userid=alice&instanceid=1"), ("get", 1, "userid=alice&instanceid=1"),
    ("cancel", 0, '{"userid":"alice","instanceid":1,"reason_code":1}'),
    ("cancel", 1, '{"instanceid":1,"meeting_type":1,"reason_code":1,"sub_meeting_id":"{Rsub}",'
                  '"userid":"alice"}'),
    ("dismiss", 0, '{"instanceid":1,"operator_id":"alice","operator_id_type":1,"reason_code":1}'),
    ("dismiss", 1, '{"force_dismiss_meeting":0,"instanceid":2,"operator_id":"{ms2}",'
                   '"operator_id_type":4,"reason_code":2,"reason_detail":"done","retrieve_code":0}'),
    ("participants", 0, "userid=alice&pos=0&size=20"),
    ("participants", 1, "userid=alice&sub_meeting_id={Rsub}"),
    ("kickout", 8, KICK_CURRENT), ("kickout", 0, KICK_SEED), ("kickout", 8, KICK_USERID_MRA),
    ("kickout", 1, KICK_SERIES), ("kickout", 4, KICK_CURRENT),
    ("cohosts", 0, COHOST),
    ("join", 0, '{"userid":"dave","nick_name":"Dave","instanceid":5}'),
    ("join", 1, '{"guest_id":"g2","instanceid":8}'),
    ("leave", 0, '{"ms_open_id":"{ms2}","instanceid":2}'),
    ("leave", 0, '{"uuid":"{uuid3}","instanceid":3}'),
    ("bans", 0, ""), ("bans-lift", 0, "{ms5}"), ("bans-lift", 0, "mallory"),
    ("join", 0, '{"userid":"mallory","instanceid":3}'),
    ("audit", 0, "pos=0&size=20"),
    ("webhook-create", 0, '{"url":"https://hooks.example.com/meetd","token":"r8QmToken"}'),
    ("webhook-create", 0, '{"url":"http://[::1]:8080/hook?x=1"}'),
    ("webhooks", 0, ""), ("webhook-delete", 0, "{hook}"), ("webhook-delete", 4, "{hook}"),
    ("deliveries", 0, "status=delivered&pos=0&size=100"),
    ("events", 0, "device_token={tok1}"),
]


def json_seeds():
    clear("json")
    for i, (ep, how, text) in enumerate(JSON_INPUTS):
        data = bytes([JSON_ENDPOINTS.index(ep), how]) + text.encode()
        write("json", "%02d-%s" % (i, ep), data)


def auth_input(flags, absent, param, fields, body):
    return bytes([flags, absent, param]) + "\n".join(fields).encode() + b"\n" + body.encode()


def auth_seeds():
    clear("auth")
    for i, v in enumerate(vectors()):
        fields = [v["method"], v["uri"], v["secret_id"], v["timestamp"], v["nonce"],
                  v["signature"], "200000001", "", "", ""]
        # As signed, the clock at the request's own timestamp.
        write("auth", "vector-%d" % i, auth_input(0x04, 0, 0, fields, v["body"]))
        # Signed again by the harness, with replay memory and a replay run.
        write("auth", "vector-%d-replay" % i, auth_input(0x65, 0, 5, fields, v["body"]))
    v = vectors()[0]
    base = [v["method"], v["uri"], v["secret_id"], v["timestamp"], v["nonce"], "", "200000001",
            "", "", ""]
    write("auth", "window-edge", auth_input(0x09, 0, 0, base, v["body"]))
    write("auth", "window-past", auth_input(0x11, 0, 0, base, v["body"]))
    write("auth", "bad-signature", auth_input(0x06, 0, 17, base, v["body"]))
    write("auth", "body-changed", auth_input(0x07, 0, 0, base, v["body"]))
    sdk = list(base)
    sdk[2], sdk[6], sdk[7] = SDK_KEY, "200000002", "sdk-2"
    write("auth", "sdk-app", auth_input(0x05, 0, 0, sdk, v["body"]))
    write("auth", "sdk-missing", auth_input(0x05, 1 << 5, 0, sdk, v["body"]))
    oauth = list(base)
    oauth[8], oauth[9] = "token", "openid"
    write("auth", "oauth", auth_input(0x05, 1, 0, oauth, ""))
    for k in ("AKIDmax", "AKIDraw", "AKIDfail"):
        odd = list(base)
        odd[2] = k
        odd[6] = "9" * 32 if k == "AKIDmax" else ("A" * 32 if k == "AKIDraw" else "200000001")
        if k == "AKIDraw":
            odd[7] = "D" * 32
        write("auth", "key-" + k, auth_input(0x05, 0, 0, odd, v["body"]))
    big = list(base)
    big[4] = "18446744073709551615"
    big[3] = "9223372036854775807"
    write("auth", "limits", auth_input(0x1d, 0, 0, big, ""))


def sse_seeds():
    clear("sse")

    def s(b):
        return bytes([len(b)]) + b

    def kicked(dev, reason, allow, op_ms, inst, time):
        return (bytes([0x01 | dev << 4]) + s(reason) + bytes([allow]) + s(op_ms) +
                struct.pack(">I", inst) + struct.pack(">Q", time))

    open0, open1 = b"\x00", b"\x10"
    close_read, read = b"\x07\x00", b"\x06\x00\x10"
    ended = b"\x03" + struct.pack(">Q", 1764100900)
    write("sse", "kicked", open0 + kicked(0, b"disruptive", 0, b"ms" + b"A" * 42, 1, 1764100900) +
          close_read)
    write("sse", "kicked-multiline-reason",
          open0 + read + kicked(0, "line\nbreak\r\n\u00e9\u2028".encode(), 1, b"", 9, 0) + read)
    write("sse", "replaced-then-late-stream", b"\x02" + struct.pack(">Q", 7) + open0 + close_read)
    write("sse", "two-streams-one-device", open0 + open0 + ended + close_read + close_read)
    write("sse", "left", open1 + b"\x14" + close_read)
    write("sse", "other-device", open0 + b"\x05" + struct.pack(">Q", 2**63 - 1) + b"\x08\x00")
    write("sse", "invalid-utf8-reason", open0 + kicked(0, b"\xff\xfe", 0, b"ms", 1, 1) + close_read)
    role = b"\x09\x01" + struct.pack(">Q", 1764100901)
    write("sse", "role-changed-goes-on", open0 + role + read + b"\x09\x00" +
          struct.pack(">Q", 1764100902) + kicked(0, b"after", 1, b"ms", 1, 3) + close_read)
    write("sse", "role-changed-late-stream", role + open0 + close_read)
    write("sse", "shutdown-ends-streams", open0 + open1 + b"\x0a" + open0 + close_read + close_read)


def webhook_seeds():
    clear("webhook")

    def s(b):
        if isinstance(b, str):
            b = b.encode()
        return bytes([len(b)]) + b

    def user(userid, guest, uuid, ms, nick):
        return s(userid) + s(guest) + s(uuid) + s(ms) + s(nick)

    meeting = (struct.pack(">Q", 7567173273889276131) + s("806146667") + s("Weekly sync") +
               struct.pack(">I", 0) + struct.pack(">Q", 1764100800) + struct.pack(">Q", 1764104400))
    alice = user("alice", "", "6F1A" * 8, "ms" + "a" * 42, "Alice")
    guest = user("", "g1", "09BC" * 8, "ms" + "b" * 42, "\u8bbf\u5ba2")
    tail = (s("r8QmToken") + s("1764100900") + s("4829301746") + s("") +
            struct.pack(">III", 1000, 60000, 5) + s("r8QmToken") + b"https://hooks.example.com/meetd")
    # joined: user, trace
    write("webhook", "joined", bytes([0x04 | 0x80]) + meeting + alice + struct.pack(">I", 1) +
          struct.pack(">I", 0) + struct.pack(">Q", 1764100900123) + s("0f6c" * 8) + tail)
    # left, a guest, generated trace id
    write("webhook", "left-guest", bytes([0x01 | 0x04]) + meeting + guest + struct.pack(">I", 3) +
          struct.pack(">I", 0) + struct.pack(">Q", 1764100900123) + tail)
    # kicked by a userid who never joined, with a reason
    write("webhook", "kicked-by-userid", bytes([0x02 | 0x08 | 0x10 | 0x20]) + meeting + s("alice") +
          struct.pack(">I", 1) + guest + struct.pack(">I", 3) + s("disruptive") +
          struct.pack(">Q", 1764100900123) + tail)
    write("webhook", "unknown-type", bytes([0x03]) + meeting + b"\x07" + tail)
    write("webhook", "url-odd", bytes([0x00]) + meeting + b"\x00" * 24 + s("") * 4 +
          b"\x00" * 12 + s("tok en") + b"HTTP://user@[::1]:99999/%zz#frag")

def text_seeds():
    clear("text")

    def s(b):
        if isinstance(b, str):
            b = b.encode()
        return b"\x00" + struct.pack(">H", len(b)) + b

    def i(v):
        return b"\x02" + struct.pack(">q", v)

    def d(v):
        return b"\x03" + struct.pack(">q", v)

    # A participants page: {"meeting_id":"...","participants":[{...},{...}]}
    row = (b"\x05" + s("ms" + "a" * 42) + s("6F1A" * 8) + s("QWxpY2U=") + i(1) + d(1764100900) +
           i(1) + i(3) + b"\x04\x01" + s("alice") + b"\x07")
    write("text", "page", d(7567173273889276131) + s("806146667") + b"\x06" + row + row + b"\x07")
    # Every character that needs an escape, then UTF-8 of 2, 3 and 4 bytes,
    # U+2028 and U+2029, DEL.
    write("text", "escapes", s(bytes(range(1, 0x20)) + b'"\\/\x7f') +
          s("\u00e9\u8bbf\u2028\u2029\U0001F600"))
    # Not UTF-8: an overlong slash, a surrogate, past U+10FFFF, a cut sequence.
    write("text", "bad-overlong", s(b"a\xc0\xafb"))
    write("text", "bad-surrogate", s(b"\xed\xa0\x80"))
    write("text", "bad-too-high", s(b"\xf4\x90\x80\x80"))
    write("text", "bad-cut", s(b"ab\xe8\xae"))
    # Long strings across the buffer's growth (a 2-byte and a 4-byte
    # character repeated, a quote every 7 bytes).
    write("text", "long", b"\x01\x02\xc3\xa9\xff" + b"\x01\x04\xf0\x9f\x98\x80\xff" +
          b"\x01\x07abcdef\"\x80")
    write("text", "numbers", i(0) + i(-1) + i(-(2 ** 63)) + i(2 ** 63 - 1) + d(-(2 ** 63)) +
          d(0) + b"\x04\x00")
    write("text", "nested", b"\x05\x06\x06\x05\x07\x07\x05\x04\x01\x07\x07\x07\x06")


def main():
    router_seeds()
    json_seeds()
    auth_seeds()
    sse_seeds()
    webhook_seeds()
    text_seeds()
    return 0


if __name__ == "__main__":
    sys.exit(main())
