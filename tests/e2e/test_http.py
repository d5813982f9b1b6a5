"""HTTP layer: routes, methods, size limits, health, access log (docs/api.md "Errors", configuration.md)."""
import datetime
import re
import unittest

import meetd_harness as h

LIMIT = 64 * 1024
ACCESS_RE = re.compile(r"^(?P<time>\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z) info access "
                       r"method=(?P<method>\S+) path=(?P<path>\S+) status=(?P<status>\d{3}) "
                       r"error_code=(?P<error_code>\d+) latency_ms=\d+\.\d{3} "
                       r"trace=(?P<trace>[0-9a-f]{32})$")
LATENCY_RE = re.compile(r"(?i)(latency|duration|elapsed|took)\w*\W{0,3}\d"
                        r"|\d(\.\d+)?\s?(ms|us|µs|ns)\b|\d\.\d+s\b")


def padded_create_body(size, base):
    """A valid create body of exactly `size` bytes (spaces inside the object)."""
    raw = h.to_bytes(base)
    pad = size - len(raw)
    assert pad >= 0
    return b"{" + b" " * pad + raw[1:]


class HttpTest(h.MeetdCase):
    def test_unknown_route(self):
        for method, uri in (("GET", "/v1/nope"), ("GET", "/meetd/v1/nope"),
                            ("POST", "/v2/meetings"), ("GET", "/v1/meetings/1/frobnicate"),
                            ("GET", "/")):
            with self.subTest(uri=uri):
                body = None if method == "GET" else {}
                self.assert_error(self.client.request(method, uri, body), 404, 190004)

    def test_known_route_wrong_method(self):
        mid = self.new_meeting()
        bob = self.join(mid, "bob", 2)
        before = self.state(mid)
        for method, uri in (("DELETE", "/v1/meetings/%s" % mid),
                            ("PUT", "/v1/meetings"),
                            ("GET", "/v1/real-control/meetings/%s/kickout" % mid),
                            ("POST", "/v1/real-control/meetings/%s/kickout" % mid),
                            ("GET", "/meetd/v1/meetings/%s/join" % mid),
                            ("DELETE", "/v1/meetings/%s/participants" % mid)):
            with self.subTest(method=method, uri=uri):
                body = None if method in ("GET", "DELETE") else {}
                self.assert_error(self.client.request(method, uri, body), 405, 190004)
        self.assert_unchanged(before, mid)
        self.assert_present(mid, bob)

    def test_error_quoting_bytes_that_are_not_utf8(self):
        """A message quoting the request must still be JSON (found by fuzzing)."""
        for method, uri, status in (("DELETE", "/v1/meetings/%FF", 405),
                                    ("DELETE", "/meetd/v1/webhooks/%FF%FE", 400)):
            with self.subTest(uri=uri):
                resp = self.client.request(method, uri, None)
                self.assertEqual(resp.status, status, resp)
                self.assertIsInstance(resp.json, dict, resp)
                self.assertEqual(resp.json["error_info"]["error_code"], 190004)

    def test_healthz_needs_no_auth(self):
        resp = self.client.get("/healthz", signed=False)
        self.assertEqual(self.assert_ok(resp), {"status": "ok"})

    def test_json_responses_say_so(self):
        for resp in (self.client.post("/v1/meetings", self.meeting_body()),
                     self.query_req("1234")):
            self.assertTrue(resp.headers.get("content-type", "").startswith("application/json"),
                            resp.headers)

    def test_body_limit_with_content_length(self):
        ok = padded_create_body(LIMIT, self.meeting_body())
        self.assertEqual(len(ok), LIMIT)
        self.assert_ok(self.client.post("/v1/meetings", ok))
        self.assert_error(self.client.post("/v1/meetings", ok + b" "), 413, 190004)

    def test_body_limit_chunked(self):
        ok = padded_create_body(LIMIT, self.meeting_body())
        self.assert_ok(self.client.post("/v1/meetings", ok, chunked=True))
        self.assert_error(self.client.post("/v1/meetings", ok + b" ", chunked=True), 413, 190004)

    def test_oversized_kickout_body_changes_nothing(self):
        mid = self.new_meeting()
        alice, bob = self.join(mid, "alice", 1), self.join(mid, "bob", 2)
        body = h.kick_body(h.op_ms(alice), [h.tgt_ms(bob)], reason="x")
        raw = h.to_bytes(body)
        raw = b"{" + b" " * (LIMIT + 1 - len(raw)) + raw[1:]
        before = self.state(mid)
        self.assert_error(self.kickout(mid, raw), 413, 190004)
        self.assert_unchanged(before, mid)

    def test_oversized_header_block(self):
        for size in (64 * 1024, 256 * 1024):
            with self.subTest(size=size):
                req = (b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * size +
                       b"\r\n\r\n")
                status, raw = h.raw_exchange(self.server.port, req)
                self.assertTrue(status is None or status in (400, 431),
                                "oversized headers answered %r" % raw[:200])
                self.assertEqual(self.client.get("/healthz", signed=False).status, 200)

    def test_ordinary_large_header_is_fine(self):
        mid = self.new_meeting()
        resp = self.client.get("/v1/meetings/%s?userid=alice&instanceid=1" % mid,
                               headers={"X-Pad": "p" * 8000})
        self.assertEqual(self.assert_ok(resp)["meeting_info_list"][0]["meeting_id"], mid)

    def check_access_line(self, resp, method, path, error_code=None):
        self.assertTrue(resp.trace, resp)
        lines = self.server.access_line(resp.trace)
        self.assertEqual(len(lines), 1, "trace %s in %d lines: %s" % (resp.trace, len(lines), lines))
        line = lines[0]
        self.assertRegex(line, LATENCY_RE, "no latency in access line")
        # The whole line, as docs/operations.md shows it: a UTC time to the
        # millisecond, then one key=value per field.
        m = ACCESS_RE.match(line)
        self.assertIsNotNone(m, "access line not in the documented form: %r" % line)
        self.assertEqual(m["method"], method)
        self.assertEqual(m["path"], path)
        self.assertEqual(int(m["status"]), resp.status)
        if error_code is not None:
            self.assertEqual(int(m["error_code"]), error_code)
        self.assertEqual(m["trace"], resp.trace)
        when = datetime.datetime.strptime(m["time"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
            tzinfo=datetime.timezone.utc)
        age = datetime.datetime.now(datetime.timezone.utc) - when
        self.assertLess(abs(age.total_seconds()), 60, "access line time %s" % m["time"])

    def test_one_access_line_per_request(self):
        mid = self.new_meeting()
        path = "/v1/meetings/%s" % mid
        cases = [
            (self.client.get(path + "?userid=alice&instanceid=1"), "GET", path, None),
            (self.client.get(path + "?userid=alice&instanceid=1", sig="AAAA"), "GET", path, 200003),
            (self.client.get("/v1/nope"), "GET", "/v1/nope", 190004),
            (self.client.request("DELETE", path), "DELETE", path, 190004),
            (self.client.get("/healthz", signed=False), "GET", "/healthz", None),
            (self.kickout(mid, {}), "PUT", "/v1/real-control/meetings/%s/kickout" % mid, 190004),
        ]
        self.assertEqual([c[0].status for c in cases], [200, 401, 404, 405, 200, 400], cases)
        for resp, method, p, code in cases:
            with self.subTest(method=method, path=p):
                self.check_access_line(resp, method, p, code)
        traces = [c[0].trace for c in cases]
        self.assertEqual(len(set(traces)), len(traces), traces)

    def test_413_and_404_carry_trace(self):
        big = b"{" + b" " * LIMIT + b"}"
        for resp in (self.client.post("/v1/meetings", big), self.client.get("/v1/nope"),
                     self.client.get("/healthz", signed=False)):
            self.assertTrue(resp.trace, resp)

    def test_log_never_holds_secret_key_or_device_token(self):
        mid = self.new_meeting()
        dev = self.join(mid, "bob", 2)                     # device_token in a response body
        bogus = "tok" + h.uniq("NeverLogMe") + "Z" * 30
        bad = self.events(token=bogus)                     # token in a query string
        bad.close()
        self.assertGreaterEqual(bad.status, 400, "an unknown device token opened a stream")
        self.assertTrue(bad.trace, "event stream response lacks X-TC-Trace")
        self.server.access_line(bad.trace)
        log = self.server.stderr()
        self.assertNotIn(dev["device_token"], log)
        self.assertNotIn(bogus, log)
        self.assertNotIn(self.client.secret_key, log)

    def test_event_stream_logged_without_its_token(self):
        dev = self.join(self.new_meeting(), "bob", 2)
        stream = self.events(dev)
        self.assertEqual(stream.status, 200)
        self.assertTrue(stream.trace, "event stream response lacks X-TC-Trace")
        stream.close()
        self.server.access_line(stream.trace)
        self.assertNotIn(dev["device_token"], self.server.stderr())


if __name__ == "__main__":
    unittest.main()


def raw_whole(port, data):
    """Send raw bytes on a connection the server closes (Connection: close);
    return (status, {lower-case header: value}, bytes after the header block)."""
    s = h.socket.create_connection(("127.0.0.1", port), timeout=h.DEADLINE)
    try:
        s.sendall(data)
        chunks = []
        while True:
            c = s.recv(65536)
            if not c:
                break
            chunks.append(c)
    finally:
        s.close()
    out = b"".join(chunks)
    head, sep, rest = out.partition(b"\r\n\r\n")
    assert sep, "no complete header block: %r" % out[:300]
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, rest


class HeadTest(h.MeetdCase):
    """Every GET route answers HEAD: the same status and headers, no body.
    A signed HEAD is signed with method HEAD (api.md "Authentication")."""

    SAME = ("content-type", "content-length", "transfer-encoding")

    def head(self, uri, headers=()):
        # The Host a client sends (a meeting's join_url is built from it).
        req = ("HEAD %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n"
               % (uri, self.server.port))
        req += "".join("%s: %s\r\n" % kv for kv in headers) + "\r\n"
        return raw_whole(self.server.port, req.encode())

    def signed_headers(self, method, uri):
        ts, nonce = str(h.now()), h.new_nonce()
        c = self.client
        sig = h.signature(c.secret_key, method, c.secret_id, nonce, ts, uri, b"")
        out = [("X-TC-Key", c.secret_id), ("X-TC-Timestamp", ts), ("X-TC-Nonce", nonce),
               ("X-TC-Signature", sig), ("AppId", c.app_id)]
        if c.sdk_id:
            out.append(("SdkId", c.sdk_id))
        return out

    def assert_head_like_get(self, head, get, same=SAME):
        status, headers, rest = head
        self.assertEqual(status, get.status, (head, get))
        self.assertEqual(rest, b"", "HEAD answered with a body")
        for name in same:
            self.assertEqual(headers.get(name), get.headers.get(name), (name, headers, get))
        self.assertTrue(headers.get("x-tc-trace"), headers)

    def test_healthz_and_metrics(self):
        for uri in ("/healthz", "/metrics"):
            with self.subTest(uri=uri):
                get = h.send(self.server.port, "GET", uri, [("Connection", "close")], None)
                self.assertEqual(get.status, 200, get)
                # /metrics counts the requests between the two: not the same length.
                same = self.SAME if uri == "/healthz" else ("content-type",)
                self.assert_head_like_get(self.head(uri), get, same)

    def test_signed_get_routes(self):
        mid = self.new_meeting()
        self.join(mid, "bob", 2)
        for uri in ("/v1/meetings/%s?userid=alice&instanceid=1" % mid,
                    "/v1/meetings?userid=alice&instanceid=1",
                    "/v1/meetings/%s/participants?userid=alice" % mid,
                    "/meetd/v1/meetings/%s/bans" % mid,
                    "/meetd/v1/meetings/%s/audit" % mid,
                    "/meetd/v1/webhooks"):
            with self.subTest(uri=uri):
                get = self.client.get(uri)
                self.assertEqual(get.status, 200, get)
                self.assert_head_like_get(self.head(uri, self.signed_headers("HEAD", uri)), get)
                # Signed as GET, sent as HEAD: the signature covers the method.
                status, _, rest = self.head(uri, self.signed_headers("GET", uri))
                self.assertEqual((status, rest), (401, b""))
                # An error of a signed GET is the same error for HEAD.
                status, _, rest = self.head(uri)
                self.assertEqual((status, rest), (401, b""))

    def test_head_of_a_write_route_is_405(self):
        mid = self.new_meeting()
        uri = "/v1/real-control/meetings/%s/kickout" % mid
        status, _, rest = self.head(uri, self.signed_headers("HEAD", uri))
        self.assertEqual((status, rest), (405, b""))

    def test_event_stream_head_opens_and_ends_nothing(self):
        mid = self.new_meeting()
        alice = self.join(mid, "alice", 1)
        bob = self.join(mid, "bob", 2)
        stream = self.events(bob)
        self.assertEqual(stream.status, 200)
        uri = "/meetd/v1/events?device_token=" + h.urllib.parse.quote(bob["device_token"], safe="")
        status, headers, rest = self.head(uri)
        self.assertEqual((status, rest), (200, b""))
        self.assertEqual(headers.get("content-type"), "text/event-stream")
        self.assertEqual(headers.get("content-type"), stream.resp.getheader("Content-Type"))
        # The open stream was neither replaced nor ended: it hears the kick.
        self.kick_ok(mid, h.kick_body(h.op_ms(alice), [h.tgt_ms(bob)], reason="after head"))
        event, _ = stream.next_event()
        self.assertEqual(event, "kicked")
        status, _, rest = self.head("/meetd/v1/events?device_token=nope")
        self.assertEqual((status, rest), (401, b""))
