"""Hostile text through the hand-written output paths (issue 17): the JSON
text writer jtext (a participants page, a join's answer) and the batched
access log (src/common/log.c).

- Ids and nick names holding every character JSON escapes or a careless
  escaper breaks on (quotes, backslashes, control characters, U+2028/2029,
  4-byte UTF-8, the longest allowed values) come back field by field as
  they were sent; the values the contract refuses are refused.
- Under requests from many threads at once, every line of the server's
  log is whole, and after a SIGTERM stop each request has exactly one
  access line.
- A request's path and method cannot forge log lines or fields: no byte of
  theirs starts a new line, and a space cannot start a new field.

Lines are read from meetd's stderr as the harness collects it; nothing here
sleeps to synchronise (the stop is SIGTERM, and meetd's exit the condition).
"""
import base64
import re
import socket
import threading
import unittest

import meetd_harness as h
from meetd_harness import DEADLINE

STAMP = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"
# A log line, or the one line meetd prints without a stamp (harness's LISTEN_RE).
LINE_RE = re.compile(r"^(" + STAMP + r" (info|error) \S|meetd: listening on http://\S+$)")
ACCESS_RE = re.compile(r"^" + STAMP + r" info access method=(\S+) path=(\S+) status=(\d+) "
                       r"error_code=(-?\d+) latency_ms=\d+\.\d{3} trace=([0-9a-f]{32})"
                       r"( aborted=1| stream=open| stream=closed)?$")
TRACE_HDR_RE = re.compile(rb"\r\n(?i:x-tc-trace): ([0-9a-f]{32})\r\n")

# Every control character an id may not hold but a nick name may.
CONTROLS = "".join(chr(c) for c in range(1, 0x20)) + "\x7f"

# Ids (1..64 bytes of UTF-8, no control characters) that JSON escapes or
# that a hand-written escaper could get wrong.
HOSTILE_IDS = [
    'q"uote',
    "back\\slash\\",
    '\\"\\\\"',
    "sl/ash</script>",
    "ls\u2028ps\u2029",
    "\U0001F600" * 16,                 # 64 bytes of 4-byte characters
    "x" * 64,                           # the longest
    "\u0085nel\u00a0\u00e9\u8bbf\u5ba2",  # C1 control (not escaped by JSON), CJK
    "\ufeffbom\uffff",
    "\U0010FFFF" * 2 + "\\u0000",       # the last code point; a backslash-u as text
]

# Nick names (at most 128 bytes, UTF-8; control characters allowed).
HOSTILE_NICKS = [
    CONTROLS + '"\\/',
    "\u2028\u2029" + "\U0001F600" * 30,   # 6 + 120 = 126 bytes
    "n" * 128,
    "\U0001F600" * 32,                    # 128 bytes of 4-byte characters
    "\\u2028\\n\\\"",
]


class TextFidelity(h.MeetdCase):
    """Join answers and participants pages carry the values as sent."""

    def check_row(self, row, userid, guest_id, nick, dev):
        self.assertEqual(row.get("userid"), userid, row)
        self.assertEqual(row.get("guest_id"), guest_id, row)
        self.assertEqual(base64.b64decode(row["user_name"]).decode("utf-8"), nick, row)
        self.assertEqual(row["ms_open_id"], dev["ms_open_id"], row)
        self.assertEqual(row["uuid"], dev["uuid"], row)
        self.assertEqual(row["instanceid"], dev["instanceid"], row)

    def test_hostile_ids_and_nicks_come_back_as_sent(self):
        mid = self.new_meeting()
        sent = []   # (userid, guest_id, nick, join answer)
        for i, uid in enumerate(HOSTILE_IDS):
            nick = HOSTILE_NICKS[i % len(HOSTILE_NICKS)]
            dev = self.join(mid, uid, 1 + i % 8, nick_name=nick)
            self.assertEqual(set(dev), {"ms_open_id", "uuid", "instanceid", "user_role",
                                        "device_token", "sub_meeting_id"}, dev)
            sent.append((uid, None, nick, dev))
        for i, gid in enumerate(HOSTILE_IDS[:5]):
            nick = HOSTILE_NICKS[(i + 2) % len(HOSTILE_NICKS)]
            dev = self.join(mid, None, 1 + i, guest_id=gid, nick_name=nick)
            self.assertEqual(dev["user_role"], 4, dev)
            sent.append((None, gid, nick, dev))
        # A nick name left out defaults to the id, escapes and all.
        uid = 'dflt"\\\u2028\U0001F600'
        sent.append((uid, None, uid, self.join(mid, uid, 3)))

        rows = self.participants(mid)
        self.assertEqual(len(rows), len(sent), rows)
        by_ms = {r["ms_open_id"]: r for r in rows}
        for uid, gid, nick, dev in sent:
            self.check_row(by_ms[dev["ms_open_id"]], uid, gid, nick, dev)

        # Small pages cut between hostile rows read the same.
        paged, pos = [], 0
        while True:
            body = self.assert_ok(self.participants_req(mid, pos=pos, size=3))
            paged += body["participants"]
            if not body["has_remaining"]:
                break
            pos = body["next_pos"]
        self.assertEqual(paged, rows)

    def test_refused_values_change_nothing(self):
        mid = self.new_meeting()
        self.join(mid, "alice", 1)
        before = self.participants(mid)
        bad = [
            {"userid": "x" * 65},
            {"userid": "\U0001F600" * 16 + "x"},
            {"userid": "tab\there"},
            {"userid": "del\x7f"},
            {"userid": "nl\n"},
            {"guest_id": "cr\r"},
            {"userid": "bob", "nick_name": "n" * 129},
            {"userid": "bob", "nick_name": "\U0001F600" * 32 + "x"},
            # A NUL would end the C string: "alice\0evil" must not act as alice.
            {"userid": "alice\u0000evil"},
            {"guest_id": "\u0000"},
            {"userid": "bob", "nick_name": "Bob\u0000 the admin"},
        ]
        for extra in bad:
            with self.subTest(body=extra):
                resp = self.client.post("/meetd/v1/meetings/%s/join" % mid,
                                        dict(extra, instanceid=2))
                self.assert_error(resp, 400, 190004)
        self.assertEqual(self.participants(mid), before)


class AccessLogWhole(h.MeetdCase):
    """The batched access log under concurrency, and a SIGTERM stop."""

    server_per_test = True
    server_args = ("--threads", "4")

    def lines_after_stop(self):
        self.server.stop()
        return self.server.stderr().split("\n")

    def assert_lines_whole(self, lines):
        for line in lines:
            self.assertRegex(line, LINE_RE, "a log line that is not whole")
            if " info access " in line:
                self.assertRegex(line, ACCESS_RE, "an access line that is not whole")

    def access_by_trace(self, lines):
        seen = {}
        for line in lines:
            m = ACCESS_RE.match(line)
            if m:
                seen.setdefault(m.group(5), []).append(line)
        return seen

    def test_many_threads_every_request_logged_once_and_whole(self):
        mid = self.new_meeting()
        traces, errors = [], []
        lock = threading.Lock()

        def worker(k):
            try:
                got = []
                for i in range(30):
                    if i % 3 == 0:
                        r = self.client.get("/healthz", signed=False)
                    elif i % 3 == 1:
                        # A 404 with the longest path the log keeps, and more.
                        r = self.client.get("/v1/nowhere/" + "p%d-" % k * 60, signed=False)
                    else:
                        r = self.participants_req(mid)
                    if not r.trace:
                        raise AssertionError("no trace: %r" % r)
                    got.append(r.trace)
                with lock:
                    traces.extend(got)
            except Exception as e:   # reported by the main thread
                with lock:
                    errors.append(e)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(16)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(DEADLINE * 4)
        self.assertEqual(errors, [])
        self.assertEqual(len(traces), 16 * 30)

        lines = self.lines_after_stop()
        self.assert_lines_whole(lines)
        seen = self.access_by_trace(lines)
        for trace in traces:
            self.assertEqual(len(seen.get(trace, [])), 1,
                             "trace %s has %d access lines" % (trace, len(seen.get(trace, []))))

    def raw(self, data):
        """Sends raw bytes; -> the X-TC-Trace of the answer, or None."""
        s = socket.create_connection(("127.0.0.1", self.server.port), timeout=DEADLINE)
        try:
            s.sendall(data)
            out = b""
            while b"\r\n\r\n" not in out:
                chunk = s.recv(65536)
                if not chunk:
                    break
                out += chunk
        finally:
            s.close()
        m = TRACE_HDR_RE.search(out)
        return m.group(1).decode() if m else None

    def test_hostile_paths_and_methods_cannot_forge_lines(self):
        forged = "2026-01-01T00:00:00.000Z info access method=GET path=/forged"
        quoted = forged.replace(" ", "%20")
        requests = {
            "newline": b"GET /v1/meetings/x%0A" + quoted.encode() + b" HTTP/1.1\r\n",
            "cr": b"GET /v1/meetings/x%0D" + quoted.encode() + b" HTTP/1.1\r\n",
            "fields": b"GET /v1/x%20status=200%20error_code=0%20trace=" + b"f" * 32 +
                      b" HTTP/1.1\r\n",
            "escape": b"GET /v1/%1B%5B2J%1B%5DOSC%07bell%7F HTTP/1.1\r\n",
            "utf8": b"GET /v1/%E2%80%A8%F0%9F%98%80%FF%C0%AF HTTP/1.1\r\n",
            "nul": b"GET /v1/a%00b HTTP/1.1\r\n",
            "long": b"GET /v1/" + b"%0A" * 2000 + b"L" * 3000 + b" HTTP/1.1\r\n",
            "method": b"G\x1bT /healthz HTTP/1.1\r\n",
            "method-long": b"PROPFINDPROPFINDPROPFIND /healthz HTTP/1.1\r\n",
            "header": b"GET /healthz HTTP/1.1\r\nUser-Agent: a\x1b[2Jb\x7f\r\nX-Long: " +
                      b"v" * 4000 + b"\r\n",
        }
        traces = {}
        for name, line in requests.items():
            traces[name] = self.raw(line + b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n")
        # meetd itself answered these (libmicrohttpd may answer the odd methods).
        for name in ("newline", "cr", "fields", "escape", "utf8", "long", "header"):
            self.assertIsNotNone(traces[name], name)

        lines = self.lines_after_stop()
        self.assert_lines_whole(lines)
        self.assertFalse([l for l in lines if l.startswith("2026-01-01T00:00:00.000Z")])
        self.assertFalse([l for l in lines if "path=/forged" in l and "%" not in l])
        seen = self.access_by_trace(lines)
        for name, trace in traces.items():
            if trace is None:
                continue
            with self.subTest(request=name):
                self.assertEqual(len(seen.get(trace, [])), 1, seen.get(trace))
                line = seen[trace][0]
                # One of each field, in printable ASCII.
                for field in ("method=", "path=", "status=", "error_code=", "trace="):
                    self.assertEqual(line.count(" " + field), 1, line)
                self.assertRegex(line, r"^[\x21-\x7e ]+$")
        long_line = seen[traces["long"]][0]
        path = ACCESS_RE.match(long_line).group(2)
        self.assertTrue(path.startswith("/v1/%0A%0A"), long_line)
        self.assertLessEqual(len(path), 200, long_line)


if __name__ == "__main__":
    unittest.main()
