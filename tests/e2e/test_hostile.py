"""Hostile clients (issue 6 item 5): each class of bad input gets a clear error
or a closed connection, and meetd keeps serving everybody else.

"A clear error" is the JSON error body of docs/api.md "Errors" whenever meetd
itself answers (its answers carry X-TC-Trace); libmicrohttpd answers some
malformed input on its own (400, 413, 414, 431, 505, an HTML body, no trace) or
just closes the connection -- both are accepted, within a time bound. After each
class the test proves, from another connection, that /healthz and a signed
request still work.

Raw sockets are used wherever http.client would refuse to send the input. Time
bounds on slow clients are assertions about --idle-timeout; nothing here sleeps
to synchronise.
"""
import json
import os
import random
import re
import resource
import socket
import sys
import threading
import time
import unittest
import urllib.parse

import meetd_harness as h
from meetd_harness import DEADLINE, kick_body, op_ms, op_userid, tgt_ms

IDLE = 2                   # --idle-timeout of the servers that set it
REQUEST = 4                # --request-timeout: a whole request must arrive within it
SLACK = 3.0                # scheduling slack on top of a server-side timeout
BOUND = IDLE + SLACK       # an answer or a close must come within this
DRIBBLE_BOUND = 5 * IDLE   # a request trickling in must be cut off within this
MHD_STATUSES = (400, 408, 413, 414, 431, 501, 505)   # libmicrohttpd's own answers
RESPONSE_HEADERS = {"date", "connection", "content-type", "content-length", "x-tc-trace",
                    "transfer-encoding"}
TRACE_RE = re.compile(r"^[0-9a-f]{32}$")
# docs/security.md "Limits": the request line and headers may weigh HEAD_LIMIT,
# each header field, query argument and cookie counting FIELD_COST bytes more.
HEAD_LIMIT = 11 * 1024
FIELD_COST = 64


# ---------------------------------------------------------------- raw HTTP

def connect(port, src=None):
    return socket.create_connection(("127.0.0.1", port), timeout=DEADLINE,
                                    source_address=(src, 0) if src else None)


def send_quietly(sock, data):
    """sendall that tolerates the server closing first (it may answer and close)."""
    try:
        sock.sendall(data)
        return True
    except (BrokenPipeError, ConnectionResetError):
        return False


def drain(sock, until):
    """Read until the server closes or the monotonic time `until`.
    -> (bytes received, closed by the server?, when it closed or None)."""
    chunks = []
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return b"".join(chunks), False, None
        sock.settimeout(left)
        try:
            data = sock.recv(65536)
        except (socket.timeout, TimeoutError):
            return b"".join(chunks), False, None
        except (ConnectionResetError, BrokenPipeError):
            return b"".join(chunks), True, time.monotonic()
        if not data:
            return b"".join(chunks), True, time.monotonic()
        chunks.append(data)


def parse_responses(data):
    """Every complete HTTP/1.x response in data: [(status, headers, body)]."""
    out = []
    while data:
        m = re.match(rb"HTTP/1\.[01] (\d{3})[^\r\n]*\r\n", data)
        if not m:
            break
        end = data.find(b"\r\n\r\n")
        if end < 0:
            break
        headers = {}
        for line in data[m.end():end].split(b"\r\n"):
            name, _, value = line.partition(b":")
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
        length = int(headers.get("content-length", "0") or 0)
        body = data[end + 4:end + 4 + length]
        out.append((int(m.group(1)), headers, body))
        data = data[end + 4 + length:]
    return out


def exchange(port, data, bound=BOUND, src=None):
    """Send raw bytes, read until closed or bound. -> (responses, closed, raw)."""
    sock = connect(port, src)
    try:
        send_quietly(sock, data)
        raw, closed, _ = drain(sock, time.monotonic() + bound)
        return parse_responses(raw), closed, raw
    finally:
        sock.close()


def signed_raw(client, method, uri, body=b"", headers=(), ts=None, nonce=None,
               content_length=None, close=True):
    """A complete signed request as bytes (signature per docs/api.md "Authentication" with the
    harness's signer). `headers` are appended as given (bytes or str values)."""
    body = h.to_bytes(body)
    ts = str(h.now() if ts is None else ts)
    nonce = str(h.new_nonce() if nonce is None else nonce)
    sig = h.signature(client.secret_key, method, client.secret_id, nonce, ts, uri, body)
    hdrs = [("Host", "127.0.0.1"), ("X-TC-Key", client.secret_id), ("X-TC-Timestamp", ts),
            ("X-TC-Nonce", nonce), ("X-TC-Signature", sig), ("AppId", client.app_id)]
    if client.sdk_id:
        hdrs.append(("SdkId", client.sdk_id))
    if body or content_length is not None:
        hdrs.append(("Content-Type", "application/json"))
        hdrs.append(("Content-Length", str(len(body) if content_length is None
                                           else content_length)))
    if close:
        hdrs.append(("Connection", "close"))
    hdrs += list(headers)
    head = ("%s %s HTTP/1.1\r\n" % (method, uri)).encode("latin-1")
    for name, value in hdrs:
        head += name.encode("latin-1") + b": " + (
            value if isinstance(value, bytes) else value.encode("latin-1")) + b"\r\n"
    return head + b"\r\n" + body


# ---------------------------------------------------------------- base

class HostileCase(h.MeetdCase):

    def serving_mid(self):
        mid = getattr(self.server, "hostile_mid", None)
        if mid is None:
            mid = self.server.hostile_mid = self.new_meeting("alice")
        return mid

    def assert_serving(self, within=None):
        """From fresh connections: /healthz and a signed request both work
        (each within `within` seconds when given)."""
        t0 = time.monotonic()
        resp = self.client.get("/healthz", signed=False)
        self.assertEqual((resp.status, resp.json), (200, {"status": "ok"}), resp)
        t1 = time.monotonic()
        info = self.query(self.serving_mid())
        self.assertEqual(info["meeting_id"], self.serving_mid())
        t2 = time.monotonic()
        if within is not None:
            self.assertLess(max(t1 - t0, t2 - t1), within,
                            "meetd took too long to serve a client meanwhile")

    def wait_serving(self, bound=DEADLINE):
        """assert_serving, retried while meetd still refuses connections (it
        notices closed connections a moment after the client closed them)."""
        deadline = time.monotonic() + bound
        while True:
            try:
                return self.assert_serving()
            except (AssertionError, OSError):
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.05)      # polling interval; the deadline is the bound

    def assert_json_error(self, status, headers, body, what=""):
        """meetd's own error answer: the contract's JSON body and a trace."""
        self.assertGreaterEqual(status, 400, "%s: answered %d %r" % (what, status, body[:200]))
        self.assertRegex(headers.get("x-tc-trace", ""), TRACE_RE, what)
        try:
            info = json.loads(body.decode("utf-8"))["error_info"]
        except (ValueError, KeyError, TypeError):
            self.fail("%s: error body is not the contract's JSON: %r" % (what, body[:300]))
        code = info.get("error_code")
        self.assertIsInstance(code, int, what)
        self.assertEqual(info.get("new_error_code"), 200000000 + code, what)
        self.assertTrue(isinstance(info.get("message"), str) and info["message"].strip(), what)
        return code

    def assert_refused(self, responses, closed, what, allow_ok=False):
        """The input got an error answer (meetd's JSON one, or libmicrohttpd's
        own) or a closed connection -- never a hang. allow_ok: libmicrohttpd
        may accept this input leniently; an answer must still be well-formed."""
        if not responses:
            self.assertTrue(closed, "%s: no answer and the connection is still open after "
                            "%.0f s" % (what, BOUND))
            return None
        status, headers, body = responses[-1]
        self.assertFalse(set(headers) - RESPONSE_HEADERS,
                         "%s: unexpected response headers %s" % (what, sorted(headers)))
        if allow_ok and status < 300:
            return status
        if "x-tc-trace" in headers:
            self.assert_json_error(status, headers, body, what)
        else:
            self.assertIn(status, MHD_STATUSES, "%s: %r" % (what, body[:200]))
        return status

    def scene(self, client=None):
        """A meeting in progress: alice (creator) on PC, bob on Mac."""
        mid = self.new_meeting("alice", client=client)
        return mid, self.join(mid, "alice", 1, client=client), self.join(mid, "bob", 2,
                                                                        client=client)


# ---------------------------------------------------------------- slow clients

class SlowClientTest(HostileCase):
    server_args = ("--idle-timeout", str(IDLE), "--request-timeout", str(REQUEST))

    def test_silent_partial_requests_are_closed(self):
        """Partial request line, headers, body or chunked body, then silence:
        closed within the idle timeout, never answered 2xx; others are served
        meanwhile; a kickout whose body never completed changes nothing."""
        mid, alice, bob = self.scene()
        kick = signed_raw(self.client, "PUT", "/v1/real-control/meetings/%s/kickout" % mid,
                          kick_body(op_ms(alice), [tgt_ms(bob)], allow_rejoin=False))
        cut = kick.index(b"\r\n\r\n") + 4 + 10
        chunked = signed_raw(self.client, "PUT", "/v1/real-control/meetings/%s/kickout" % mid,
                             headers=[("Transfer-Encoding", "chunked"),
                                      ("Content-Type", "application/json")])
        partials = {
            "nothing at all": b"",
            "half a request line": b"GET /heal",
            "half the headers": b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: aaaa",
            "headers, half a body": kick[:cut],
            "headers, half a chunk": chunked + b"40\r\n{\"operator_id\":",
        }
        socks = {}
        for what, data in partials.items():
            socks[what] = connect(self.server.port)
            send_quietly(socks[what], data)
        sent = time.monotonic()
        try:
            self.assert_serving(within=1.5)
            for what, sock in socks.items():
                raw, closed, at = drain(sock, sent + BOUND)
                with self.subTest(what):
                    self.assertTrue(closed, "%s: still open %.0f s after the client fell "
                                    "silent (--idle-timeout %d)" % (what, BOUND, IDLE))
                    for status, headers, body in parse_responses(raw):
                        self.assertGreaterEqual(status, 400, "%s: answered %r" % (what, raw))
        finally:
            for sock in socks.values():
                sock.close()
        self.assert_present(mid, bob)
        self.assertEqual(self.bans(mid)["bans"], [])
        self.assert_serving()

    def dribble(self, head, tail_byte, what):
        """Send `head`, then one byte every IDLE/4 s (never silent for the idle
        timeout). Returns when meetd closes; fails after DRIBBLE_BOUND."""
        sock = connect(self.server.port)
        try:
            send_quietly(sock, head)
            start = time.monotonic()
            served = False
            while time.monotonic() - start < DRIBBLE_BOUND:
                raw, closed, _ = drain(sock, time.monotonic() + IDLE / 4)
                if closed or raw:
                    for status, headers, body in parse_responses(raw):
                        self.assertGreaterEqual(status, 400, "%s: answered %r" % (what, raw))
                    return time.monotonic() - start
                if not send_quietly(sock, tail_byte):
                    return time.monotonic() - start
                if not served:                      # others are served meanwhile
                    self.assert_serving(within=1.5)
                    served = True
            self.fail("%s: a client sending one byte every %.1f s still holds its "
                      "connection after %d s (--request-timeout %d)"
                      % (what, IDLE / 4, DRIBBLE_BOUND, REQUEST))
        finally:
            sock.close()
            self.assert_serving()

    def test_dribbled_request_head_is_cut_off(self):
        """Slow loris: headers that never end, one byte at a time."""
        self.dribble(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ", b"a", "dribbled headers")

    def test_dribbled_body_is_cut_off(self):
        """Slow body: Content-Length 60000, one byte at a time."""
        head = signed_raw(self.client, "POST", "/v1/meetings", content_length=60000)
        self.dribble(head + b"{", b" ", "dribbled body")

    def test_many_slow_clients_do_not_starve_others(self):
        """300 connections, each trickling headers: others are served meanwhile."""
        socks = [connect(self.server.port) for _ in range(300)]
        try:
            for s in socks:
                send_quietly(s, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            for _ in range(3):
                for s in socks:
                    send_quietly(s, b"a")
                self.assert_serving(within=1.5)
        finally:
            for s in socks:
                s.close()
        self.assert_serving()


# ---------------------------------------------------------------- connections

def keepalive_conns(port, n, src=None):
    """n connections, each with one answered request and then held idle: each
    is surely accepted by meetd and occupies a connection slot."""
    socks = []
    try:
        for _ in range(n):
            s = connect(port, src)
            socks.append(s)
            s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
        for s in socks:
            buf = b""
            s.settimeout(DEADLINE)
            while b'{"status":"ok"}' not in buf:
                data = s.recv(4096)
                if not data:
                    raise AssertionError("meetd closed a keep-alive connection at once "
                                         "(%d open)" % len(socks))
                buf += data
        return socks
    except BaseException:
        for s in socks:
            s.close()
        raise


class ManyIdleConnectionsTest(HostileCase):
    """Thousands of idle connections under --max-connections: others are served."""
    server_args = ("--max-connections", "4096")
    HELD, SILENT = 1500, 1000

    @classmethod
    def setUpClass(cls):
        # This process and meetd (which inherits the limit) need a descriptor
        # per connection: raise the soft limit before meetd starts.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = cls.HELD + cls.SILENT + 512
        if soft != resource.RLIM_INFINITY and soft < want:
            if hard != resource.RLIM_INFINITY and hard < want:
                raise unittest.SkipTest("RLIMIT_NOFILE hard limit %d < %d" % (hard, want))
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        super().setUpClass()

    def test_thousands_of_idle_connections(self):
        held = keepalive_conns(self.server.port, self.HELD)          # accepted, then idle
        silent = [connect(self.server.port) for _ in range(self.SILENT)]   # never a word
        try:
            for _ in range(10):
                self.assert_serving(within=2.0)
            mid, alice, bob = self.scene()
            self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)]))
            self.assert_absent(mid, bob)
        finally:
            for s in held + silent:
                s.close()
        self.assert_serving()


class ConnectionLimitTest(HostileCase):
    """--max-connections small: excess connections are not served while the
    limit is reached; meetd serves again as soon as connections go away."""
    LIMIT = 16
    server_args = ("--max-connections", str(LIMIT), "--idle-timeout", "30")

    def test_excess_connections_wait_or_are_refused_then_recovery(self):
        self.serving_mid()
        held = keepalive_conns(self.server.port, self.LIMIT)
        excess = []
        try:
            for _ in range(4):
                s = connect(self.server.port)
                send_quietly(s, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                excess.append(s)
            until = time.monotonic() + 1.0
            for s in excess:
                raw, closed, _ = drain(s, until)
                self.assertFalse([r for r in parse_responses(raw) if r[0] == 200],
                                 "served past --max-connections %d" % self.LIMIT)
        finally:
            for s in held:
                s.close()
        # Room again: the waiting connections get their answer or were refused,
        # and new clients are served.
        try:
            for s in excess:
                raw, closed, _ = drain(s, time.monotonic() + DEADLINE)
                self.assertTrue(closed, "an excess connection hangs after room was made")
                for status, _, _ in parse_responses(raw):
                    self.assertEqual(status, 200)
        finally:
            for s in excess:
                s.close()
        self.wait_serving()


class ConnectionLimitRecoveryTest(HostileCase):
    """Limit reached by idle clients that never leave: the idle timeout frees
    the slots and a new client is served within it."""
    LIMIT = 16
    server_args = ("--max-connections", str(LIMIT), "--idle-timeout", str(IDLE),
                   "--request-timeout", str(REQUEST))

    def test_idle_hogs_are_dropped(self):
        self.serving_mid()
        held = keepalive_conns(self.server.port, self.LIMIT)
        try:
            t0 = time.monotonic()
            self.assert_serving()
            self.assertLess(time.monotonic() - t0, BOUND,
                            "a client waited longer than the idle timeout for a slot")
        finally:
            for s in held:
                s.close()

    def test_trickling_hogs_do_not_lock_others_out(self):
        """Slow loris at the connection limit: LIMIT clients that each send a
        header byte every IDLE/4 s (so never silent for the idle timeout) must
        not keep a newcomer out for longer than DRIBBLE_BOUND."""
        self.serving_mid()
        hogs = [connect(self.server.port) for _ in range(self.LIMIT)]
        stop = threading.Event()

        def trickle():
            for s in hogs:
                send_quietly(s, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
            while not stop.wait(IDLE / 4):
                for s in hogs:
                    send_quietly(s, b"a")

        t = threading.Thread(target=trickle)
        t.start()
        try:
            responses, closed, raw = exchange(
                self.server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                bound=DRIBBLE_BOUND)
            self.assertEqual([r[0] for r in responses], [200],
                             "%d clients trickling headers kept a newcomer out for %d s "
                             "(--max-connections %d, --idle-timeout %d)"
                             % (self.LIMIT, DRIBBLE_BOUND, self.LIMIT, IDLE))
        finally:
            stop.set()
            t.join(DEADLINE)
            for s in hogs:
                s.close()
        self.wait_serving()


class PerIpLimitTest(HostileCase):
    """--per-ip-connections: one address hogging its share does not lock out
    another address (127.0.0.2 is loopback too)."""
    PER_IP = 8
    server_args = ("--per-ip-connections", str(PER_IP), "--idle-timeout", "30")

    def test_one_address_cannot_lock_out_another(self):
        try:
            connect(self.server.port, "127.0.0.2").close()
        except OSError as e:
            self.skipTest("cannot use 127.0.0.2 as a source address: %s" % e)
        mid = self.serving_mid()
        # The hog uses an address of its own: connections the test client
        # just closed from 127.0.0.1 may not be counted out yet.
        held = keepalive_conns(self.server.port, self.PER_IP, src="127.0.0.3")
        try:
            responses, closed, raw = exchange(
                self.server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", src="127.0.0.3")
            self.assertFalse([r for r in responses if r[0] == 200],
                             "served past --per-ip-connections %d" % self.PER_IP)
            self.assertTrue(closed, "the excess connection of the same address hangs")
            # Another address is served, signed requests included.
            responses, closed, raw = exchange(
                self.server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
                src="127.0.0.2")
            self.assertEqual([r[0] for r in responses], [200], raw)
            uri = "/v1/meetings/%s?userid=alice&instanceid=1" % mid
            responses, closed, raw = exchange(self.server.port,
                                              signed_raw(self.client, "GET", uri),
                                              src="127.0.0.2")
            self.assertEqual([r[0] for r in responses], [200], raw)
        finally:
            for s in held:
                s.close()
        self.wait_serving()


# ---------------------------------------------------------------- sizes

class OversizeTest(HostileCase):
    server_args = ("--idle-timeout", str(IDLE))

    def test_oversized_header_blocks(self):
        cases = {
            "one 64 KiB header": b"X-Big: " + b"a" * (64 * 1024) + b"\r\n",
            "one 1 MiB header": b"X-Big: " + b"a" * (1024 * 1024) + b"\r\n",
            "5000 small headers": b"X-H: v\r\n" * 5000,
            "1 MiB of one header name": b"X" * (1024 * 1024) + b": v\r\n",
        }
        for what, block in cases.items():
            with self.subTest(what):
                responses, closed, raw = exchange(
                    self.server.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + block + b"\r\n")
                status = self.assert_refused(responses, closed, what)
                if status is not None:
                    self.assertIn(status, (400, 413, 431), raw[:200])
                self.assert_serving()

    def padded_join(self, mid, userid, footprint, cookies):
        """A signed join whose request line and headers weigh `footprint`
        as docs/security.md counts them: their bytes, FIELD_COST for each
        header field and each cookie (the join has no query arguments), and
        the Cookie header's value once more. Padded with a header, or with
        a Cookie header of 40 cookies. Returns the request and its weight."""
        def build(pad):
            if cookies:
                jar = "; ".join("c%d=1" % i for i in range(40)) + "; z=" + "a" * pad
                extra = [("Cookie", jar)]
            else:
                extra = [("X-Pad", "a" * pad)]
            return signed_raw(self.client, "POST", "/meetd/v1/meetings/%s/join" % mid,
                              {"userid": userid, "instanceid": 1}, headers=extra)

        def weight(data):
            head = data[:data.index(b"\r\n\r\n") + 4]
            lines = head.split(b"\r\n")[1:-2]     # not the request line nor the blank one
            jars = [l.split(b":", 1)[1].strip() for l in lines if l.lower().startswith(b"cookie:")]
            fields = len(lines) + sum(len(j.split(b";")) for j in jars)
            return len(head) + FIELD_COST * fields + sum(len(j) for j in jars)
        bare = weight(build(0))
        self.assertLessEqual(bare, footprint)
        # A byte of cookie weighs two: the nearest weight at or below.
        data = build((footprint - bare) // (2 if cookies else 1))
        self.assertIn(footprint - weight(data), (0, 1) if cookies else (0,))
        return data, weight(data)

    def test_headers_that_leave_no_room_for_the_answer(self):
        """Headers up to the documented limit are served; past it, up to
        libmicrohttpd's own 431, meetd refuses them before anything runs.
        Before, a signed join whose headers left libmicrohttpd's memory too
        little room to write the answer's headers was committed and its
        client got a closed connection, never knowing."""
        mid = self.new_meeting("alice")
        outcomes = {}
        for cookies in (False, True):
            # From under the limit to past libmicrohttpd's own 431.
            for footprint in list(range(HEAD_LIMIT - 96, HEAD_LIMIT + 1400, 8)) + [
                    HEAD_LIMIT, HEAD_LIMIT + 1]:
                userid = "pad%d%s" % (footprint, "c" if cookies else "")
                data, footprint = self.padded_join(mid, userid, footprint, cookies)
                responses, closed, raw = exchange(self.server.port, data)
                outcomes[userid] = (footprint, responses, closed, raw)
        joined = {r["userid"] for r in self.participants(mid) if "userid" in r}
        for userid, (footprint, responses, closed, raw) in sorted(outcomes.items()):
            with self.subTest(userid=userid):
                statuses = [r[0] for r in responses]
                # Whatever the size: a join that happened was answered.
                if userid in joined:
                    self.assertEqual(statuses, [200], "joined, and its client got %r" % raw[:300])
                if footprint <= HEAD_LIMIT:
                    self.assertEqual(statuses, [200], raw[:300])
                    self.assertTrue(userid in joined, "answered 200 but not joined")
                    continue
                self.assertFalse(userid in joined, "joined past the header limit: %r" % raw[:300])
                if footprint <= HEAD_LIMIT + 512:
                    # Room to spare for meetd's own answer.
                    self.assertEqual(len(responses), 1, raw[:300])
                    status, headers, body = responses[0]
                    self.assertEqual(status, 431, raw[:300])
                    self.assertEqual(self.assert_json_error(status, headers, body), 190004)
                    refused_trace = headers["x-tc-trace"]
                else:
                    self.assert_refused(responses, closed, "footprint %d" % footprint)
        # Logged as any answer is.
        self.assertIn(" status=431 error_code=190004 ",
                      " ".join(self.server.access_line(refused_trace)))
        self.assert_serving()

    def test_query_arguments_that_fill_the_memory(self):
        """A request line of a few hundred query arguments fills the
        connection's memory with libmicrohttpd's records of them: it drops
        the request unanswered and closes the connection at the idle
        timeout, without reporting the request complete. Before, meetd's
        record of each such request (a few KiB) was never freed -- memory
        anyone who can connect could take without end -- and it had no
        access line. Now each has exactly one, with status 0."""
        names = ["/hostile/args%d" % i for i in range(4)]
        socks = []
        try:
            for name in names:
                s = connect(self.server.port)
                send_quietly(s, ("GET %s?%s HTTP/1.1\r\nHost: x\r\n\r\n"
                                 % (name, "a=1&" * 400)).encode())
                socks.append(s)
            for name, s in zip(names, socks):
                raw, closed, _ = drain(s, time.monotonic() + BOUND)
                self.assert_refused(parse_responses(raw), closed, name)
        finally:
            for s in socks:
                s.close()
        for name in names:
            line = self.server.wait_line(lambda l: " path=%s " % name in l,
                                         what="access line of %s" % name, timeout=BOUND)
            self.assertIn(" status=0 ", line)
            self.assertTrue(line.endswith(" aborted=1"), line)
            self.assertEqual(len(self.server.lines_with(" path=%s " % name)), 1)
        self.assert_serving()
        # Under AddressSanitizer the stop (tearDownClass) fails on a leak.

    def test_very_long_uri(self):
        for what, uri in (("100 KiB path", "/v1/meetings/" + "1" * (100 * 1024)),
                          ("100 KiB query", "/healthz?x=" + "a" * (100 * 1024))):
            with self.subTest(what):
                responses, closed, raw = exchange(
                    self.server.port, ("GET %s HTTP/1.1\r\nHost: x\r\n\r\n" % uri).encode())
                status = self.assert_refused(responses, closed, what)
                if status is not None:
                    self.assertIn(status, (400, 414, 431), raw[:200])
                self.assert_serving()

    def test_content_length_10_mib(self):
        """meetd answers 413 from the Content-Length alone (operations.md
        "Limits"), whether or not the client goes on sending."""
        mid, alice, bob = self.scene()
        uri = "/v1/real-control/meetings/%s/kickout" % mid
        head = signed_raw(self.client, "PUT", uri, content_length=10 * 1024 * 1024)
        for send_body in (False, True):
            with self.subTest(send_body=send_body):
                sock = connect(self.server.port)
                try:
                    send_quietly(sock, head)
                    if send_body:
                        chunk = b" " * 65536
                        for _ in range(160):
                            if not send_quietly(sock, chunk):
                                break
                    raw, closed, _ = drain(sock, time.monotonic() + BOUND)
                finally:
                    sock.close()
                responses = parse_responses(raw)
                if responses or not send_body:
                    self.assertTrue(responses, "no answer to Content-Length 10 MiB: %r" % raw)
                    status, headers, body = responses[0]
                    self.assertEqual(status, 413, raw[:300])
                    self.assertEqual(self.assert_json_error(status, headers, body), 190004)
        self.assert_present(mid, bob)
        self.assert_serving()

    def test_chunked_body_of_1_mib(self):
        mid, alice, bob = self.scene()
        uri = "/v1/real-control/meetings/%s/kickout" % mid
        head = signed_raw(self.client, "PUT", uri,
                          headers=[("Transfer-Encoding", "chunked"),
                                   ("Content-Type", "application/json")])
        sock = connect(self.server.port)
        try:
            send_quietly(sock, head)
            piece = b" " * 16384
            chunk = b"%x\r\n" % len(piece) + piece + b"\r\n"
            for _ in range(64):                            # 1 MiB
                if not send_quietly(sock, chunk):
                    break
            send_quietly(sock, b"0\r\n\r\n")
            raw, closed, _ = drain(sock, time.monotonic() + BOUND)
        finally:
            sock.close()
        responses = parse_responses(raw)
        if responses:
            status, headers, body = responses[0]
            self.assertEqual(status, 413, raw[:300])
            self.assertEqual(self.assert_json_error(status, headers, body), 190004)
        else:
            self.assertTrue(closed, "a 1 MiB chunked body is neither answered nor closed")
        self.assert_present(mid, bob)
        self.assert_serving()


# ---------------------------------------------------------------- garbage

class GarbageTest(HostileCase):
    server_args = ("--idle-timeout", str(IDLE))

    # (what, bytes, libmicrohttpd may accept it leniently)
    CASES = [
        ("random binary", bytes(random.Random(6).randrange(256) for _ in range(4096)), False),
        ("TLS ClientHello", b"\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03" + b"\x00" * 64, False),
        ("HTTP/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", False),
        ("HTTP/0.9", b"GET /healthz\r\n", False),
        ("HTTP/0.9 bare", b"GET /\r\n\r\n", False),
        ("unknown version", b"GET /healthz HTTP/7.3\r\nHost: x\r\n\r\n", False),
        ("not a request line", b"FOO BAR BAZ QUX\r\n\r\n", False),
        ("only CRLFs", b"\r\n" * 64, False),
        ("NUL bytes", b"\x00" * 1024, False),
        ("NUL in request line", b"GET /hea\x00lthz HTTP/1.1\r\nHost: x\r\n\r\n", False),
        ("NUL in method", b"G\x00T /healthz HTTP/1.1\r\nHost: x\r\n\r\n", False),
        ("header without colon", b"GET /healthz HTTP/1.1\r\nNoColonHere\r\n\r\n", False),
        ("negative Content-Length",
         b"POST /v1/meetings HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", False),
        ("Content-Length 2^64",
         b"POST /v1/meetings HTTP/1.1\r\nHost: x\r\nContent-Length: 18446744073709551616\r\n\r\n",
         False),
        ("Content-Length list",
         b"POST /v1/meetings HTTP/1.1\r\nHost: x\r\nContent-Length: 2, 2\r\n\r\n{}", False),
        ("Content-Length and chunked",
         b"POST /v1/meetings HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
         b"Transfer-Encoding: chunked\r\n\r\n{}", False),
        ("bad chunk size",
         b"POST /v1/meetings HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n",
         False),
        ("unknown transfer coding",
         b"POST /v1/meetings HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nxx", False),
        ("lower-case method", b"get /healthz HTTP/1.1\r\nHost: x\r\n\r\n", False),
        ("TRACE", b"TRACE /healthz HTTP/1.1\r\nHost: x\r\n\r\n", False),
        ("CONNECT", b"CONNECT 127.0.0.1:22 HTTP/1.1\r\nHost: x\r\n\r\n", False),
        ("absolute URI", b"GET http://evil.example/healthz HTTP/1.1\r\nHost: x\r\n\r\n", False),
        ("5000-byte method", b"G" * 5000 + b" / HTTP/1.1\r\n\r\n", False),
        # libmicrohttpd is lenient with these; an answer must still be sane.
        ("space in header name", b"GET /healthz HTTP/1.1\r\nBad Name: x\r\n\r\n", True),
        ("NUL header name", b"GET /healthz HTTP/1.1\r\n\x00: x\r\n\r\n", True),
        ("two spaces", b"GET  /healthz HTTP/1.1\r\n\r\n", True),
        ("no Host", b"GET /healthz HTTP/1.1\r\n\r\n", True),
    ]

    def test_garbage_gets_an_error_or_a_close(self):
        socks = {}
        for what, data, _ in self.CASES:
            socks[what] = connect(self.server.port)
            send_quietly(socks[what], data)
        until = time.monotonic() + BOUND
        try:
            for what, data, lenient in self.CASES:
                raw, closed, _ = drain(socks[what], until)
                with self.subTest(what):
                    self.assert_refused(parse_responses(raw), closed, what, allow_ok=lenient)
        finally:
            for s in socks.values():
                s.close()
        self.assert_serving()

    def test_pipelined_garbage_after_a_valid_request(self):
        """A valid request, then garbage on the same connection: the first is
        answered, the garbage gets an error or a close, nothing else runs."""
        mid, alice, bob = self.scene()
        kick = signed_raw(self.client, "PUT", "/v1/real-control/meetings/%s/kickout" % mid,
                          kick_body(op_ms(alice), [tgt_ms(bob)]), close=False)
        for what, garbage in (("binary", b"\x00\x01\x02\xff" * 64 + b"\r\n\r\n"),
                              ("bad line", b"FOO\r\n\r\n"),
                              ("HTTP/0.9", b"GET /healthz\r\n"),
                              ("half a request", b"PUT /v1/real-control/meetings/")):
            with self.subTest(what):
                query = signed_raw(self.client, "GET", "/v1/meetings/%s?userid=alice&instanceid=1"
                                   % self.serving_mid(), close=False)
                responses, closed, raw = exchange(self.server.port, query + garbage)
                self.assertGreaterEqual(len(responses), 1, raw[:300])
                self.assertEqual(responses[0][0], 200, raw[:300])
                self.assert_refused(responses[1:], closed, what)
        # A kickout pipelined behind garbage is never run.
        responses, closed, raw = exchange(self.server.port, b"FOO BAR\r\n\r\n" + kick)
        self.assertFalse([r for r in responses if r[0] == 200], raw[:300])
        self.assert_present(mid, bob)
        self.assert_serving()

    def test_conflicting_content_lengths_refused(self):
        """Two different Content-Length headers (a request-smuggling vector,
        RFC 9112 6.3): 400 or a close; the bytes after the shorter body must
        never run as a second request."""
        mid, alice, bob = self.scene()
        smuggled = signed_raw(self.client, "PUT", "/v1/real-control/meetings/%s/kickout" % mid,
                              kick_body(op_ms(alice), [tgt_ms(bob)]))
        data = (b"POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n"
                b"Content-Length: %d\r\n\r\n{}" % (2 + len(smuggled))) + smuggled
        responses, closed, raw = exchange(self.server.port, data)
        self.assert_present(mid, bob)
        self.assertLessEqual(len(responses), 1, "one request was read as two: %r" % raw[:600])
        status = self.assert_refused(responses, closed, "conflicting Content-Length")
        if status is not None:
            self.assertEqual(status, 400, raw[:300])
        self.assert_serving()


# ---------------------------------------------------------------- JSON

class JsonTest(HostileCase):
    JOIN = "/meetd/v1/meetings/%s/join"

    def refused_all(self, mid, uri, bodies, method="POST", code=190004, http_status=400):
        before = self.state(mid)
        for what, body in bodies:
            with self.subTest(what):
                resp = self.client.request(method, uri, body)
                self.assert_error(resp, http_status, code)
        self.assert_unchanged(before, mid)
        self.assert_serving()

    def test_invalid_utf8(self):
        mid, alice, bob = self.scene()
        join = self.JOIN % mid
        self.refused_all(mid, join, [
            ("0xFF in userid", b'{"userid":"al\xffice","instanceid":3}'),
            ("overlong '/'", b'{"userid":"\xc0\xafetc","instanceid":3}'),
            ("UTF-16 surrogate bytes", b'{"userid":"\xed\xa0\x80x","instanceid":3}'),
            ("truncated sequence", b'{"userid":"caf\xc3","instanceid":3}'),
            ("above U+10FFFF", b'{"userid":"\xf4\x90\x80\x80","instanceid":3}'),
            ("in nick_name", b'{"userid":"carol","nick_name":"\xff\xfe","instanceid":3}'),
            ("in a key", b'{"userid":"carol","\xff":1,"instanceid":3}'),
            ("escaped lone surrogate", b'{"userid":"\\ud800x","instanceid":3}'),
            ("escaped NUL", b'{"userid":"a\\u0000b","instanceid":3}'),
            ("escaped control", b'{"userid":"a\\u0001b","instanceid":3}'),
            ("newline", b'{"userid":"a\\nb","instanceid":3}'),
            ("DEL", b'{"userid":"a\\u007fb","instanceid":3}'),
            ("UTF-8 BOM before the object", b'\xef\xbb\xbf{"userid":"carol","instanceid":3}'),
        ])
        self.refused_all(mid, "/v1/real-control/meetings/%s/kickout" % mid, [
            ("0xFF in reason", h.to_bytes(kick_body(op_ms(alice), [tgt_ms(bob)], reason="R"))
             .replace(b'"R"', b'"\xff"')),
            ("0xFF in target id", h.to_bytes(kick_body(op_ms(alice), [tgt_ms(bob)]))
             .replace(bob["ms_open_id"].encode(), b"ms\xff")),
        ], method="PUT")
        # In a userid in the query string.
        for q in ("alice%FF", "%C0%AF", "%ED%A0%80", "a%01b"):
            with self.subTest(query=q):
                self.assert_error(self.client.get("/v1/meetings/%s/participants?userid=%s"
                                                  % (mid, q)), 400, 190004)
                self.assert_error(self.client.get("/v1/meetings/%s?userid=%s&instanceid=1"
                                                  % (mid, q)), 400, 190004)

    def test_deep_nesting(self):
        mid, alice, bob = self.scene()
        join = self.JOIN % mid
        # 100k '[' is over the 64 KiB body limit: 413 before any parsing.
        self.refused_all(mid, join, [("100k [", b"[" * 100000)], code=190004, http_status=413)
        self.refused_all(mid, join, [
            ("60k [", b"[" * 60000),
            ("60k [ closed", b"[" * 30000 + b"]" * 30000),
            ("10k objects", b'{"a":' * 10000 + b"1" + b"}" * 10000),
            ("inside a field", b'{"userid":"carol","instanceid":3,"x":' + b"[" * 20000 +
             b"]" * 20000 + b"}"),
            ("inside users", h.to_bytes(kick_body(op_ms(alice), [tgt_ms(bob)]))[:-1] +
             b',"extra":' + b"[" * 30000 + b"]" * 30000 + b"}"),
        ])

    def test_numbers_out_of_range(self):
        mid, alice, bob = self.scene()
        join = self.JOIN % mid

        def body(value):
            return b'{"userid":"carol","instanceid":' + value + b"}"

        self.refused_all(mid, join, [(v.decode(), body(v)) for v in (
            b"18446744073709551616", b"9223372036854775808", b"-9223372036854775809",
            b"1e400", b"-1e400", b"1.0", b"2e0", b"1E1", b"4.000000000000001", b"0.5",
            b"-1", b"4294967298", b"NaN", b"Infinity", b"0x2", b"02", b"+2", b"true",
            b'"2"', b"[2]", b"null")])
        kick = "/v1/real-control/meetings/%s/kickout" % mid
        base = h.to_bytes(kick_body(op_ms(alice), [tgt_ms(bob)]))
        self.refused_all(mid, kick, [
            ("operator_id_type 2^64", base.replace(b'"operator_id_type":4',
                                                    b'"operator_id_type":18446744073709551620')),
            ("operator_id_type 4.0", base.replace(b'"operator_id_type":4',
                                                   b'"operator_id_type":4.0')),
            ("target instanceid 2^32+2", base.replace(b'"instanceid":2',
                                                      b'"instanceid":4294967298')),
            ("allow_rejoin 0", base.replace(b'"allow_rejoin":true', b'"allow_rejoin":0')),
        ], method="PUT")
        for q in ("size=18446744073709551616", "size=1e400", "size=1.0", "pos=-0",
                  "pos=99999999999999999999", "size=-1"):
            with self.subTest(query=q):
                resp = self.client.get("/v1/meetings/%s/participants?userid=alice&%s" % (mid, q))
                if q == "pos=-0" and resp.status == 200:
                    continue           # -0 is 0; accepting it is fine
                self.assert_error(resp, 400, 190004)

    def test_minus_zero(self):
        """-0 is the integer 0 (PSTN): refused, or taken as exactly 0."""
        mid = self.new_meeting("alice")
        resp = self.client.post(self.JOIN % mid, b'{"userid":"carol","instanceid":-0}')
        if resp.status == 200:
            self.assertEqual(resp.json["instanceid"], 0, resp)
            self.assertEqual(self.present(mid), [(resp.json["ms_open_id"], 0)])
        else:
            self.assert_error(resp, 400, 190004)

    def test_duplicate_keys(self):
        mid, alice, bob = self.scene()
        join = self.JOIN % mid
        self.refused_all(mid, join, [
            ("userid twice", b'{"userid":"carol","userid":"dave","instanceid":3}'),
            ("same value twice", b'{"userid":"carol","instanceid":3,"instanceid":3}'),
            ("escaped spelling", b'{"userid":"carol","instanceid":3,"instanc\\u0065id":4}'),
            ("userid and guest_id", b'{"userid":"carol","guest_id":"g","instanceid":3}'),
        ])
        kick = "/v1/real-control/meetings/%s/kickout" % mid
        base = h.to_bytes(kick_body(op_ms(alice), [tgt_ms(bob)], allow_rejoin=True))
        self.refused_all(mid, kick, [
            ("allow_rejoin true then false",
             base.replace(b'"allow_rejoin":true', b'"allow_rejoin":true,"allow_rejoin":false')),
            ("users twice", base[:-1] + b',"users":[]}'),
            ("operator twice", base.replace(b'"operator_id_type":4',
                                            b'"operator_id_type":4,"operator_id_type":1')),
            ("key twice inside a target", base.replace(b'"to_operator_id_type":4',
                                                       b'"to_operator_id_type":4,'
                                                       b'"to_operator_id_type":4')),
        ], method="PUT")
        self.refused_all(mid, "/v1/meetings", [
            ("create: subject twice", h.to_bytes(self.meeting_body())[:-1] +
             b',"subject":"again"}'),
        ])

    def test_not_json_at_all(self):
        mid, alice, bob = self.scene()
        self.refused_all(mid, self.JOIN % mid, [
            ("empty", b""), ("array", b"[]"), ("string", b'"x"'), ("number", b"1"),
            ("null", b"null"), ("trailing garbage", b'{"userid":"carol","instanceid":3} x'),
            ("two objects", b'{"userid":"carol","instanceid":3}{}'),
            ("NUL after the object", b'{"userid":"carol","instanceid":3}\x00'),
            ("single quotes", b"{'userid':'carol','instanceid':3}"),
            ("comment", b'{"userid":"carol",/*x*/"instanceid":3}'),
            ("trailing comma", b'{"userid":"carol","instanceid":3,}'),
        ])


# ---------------------------------------------------------------- tenants

class CrossTenantTest(HostileCase):
    """App B on app A's meeting: 400 / 9003 everywhere and nothing changes."""

    def test_other_app_gets_9003_everywhere(self):
        b = self.server.client(self.server.create_app("--name", h.uniq("tenant-b")))
        mid, alice, bob = self.scene()
        carol = self.join(mid, "carol", 3)
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(carol)], allow_rejoin=False))
        before = self.state(mid)
        m = "/v1/meetings/%s" % mid
        attempts = [
            ("GET", m + "?userid=alice&instanceid=1", None),
            ("GET", m + "/participants?userid=alice", None),
            ("GET", m + "/participants?userid=alice&sub_meeting_id=0", None),
            ("POST", m + "/cancel", {"userid": "alice", "instanceid": 1, "reason_code": 1}),
            ("POST", m + "/dismiss", {"userid": "alice", "instanceid": 1, "reason_code": 1}),
            ("PUT", "/v1/real-control/meetings/%s/kickout" % mid,
             kick_body(op_userid("alice"), [tgt_ms(bob)], allow_rejoin=False)),
            ("PUT", "/v1/real-control/meetings/%s/kickout" % mid,
             kick_body(op_ms(alice), [tgt_ms(bob)])),
            ("PUT", "/v1/real-control/meetings/%s/cohosts" % mid,
             dict(op_userid("alice"), action=True, user=tgt_ms(bob))),
            ("POST", "/meetd/v1/meetings/%s/join" % mid, {"userid": "mallory", "instanceid": 4}),
            ("POST", "/meetd/v1/meetings/%s/join" % mid, {"userid": "carol", "instanceid": 3}),
            ("POST", "/meetd/v1/meetings/%s/leave" % mid,
             {"ms_open_id": bob["ms_open_id"], "instanceid": 2}),
            ("GET", "/meetd/v1/meetings/%s/bans" % mid, None),
            ("DELETE", "/meetd/v1/meetings/%s/bans/%s" % (mid, carol["ms_open_id"]), None),
            ("DELETE", "/meetd/v1/meetings/%s/bans/carol" % mid, None),
            ("GET", "/meetd/v1/meetings/%s/audit" % mid, None),
        ]
        for method, uri, body in attempts:
            with self.subTest(method=method, uri=uri):
                self.assert_error(b.request(method, uri, body), 400, 9003,
                                  message="MEETING NOT EXIST")
        # B's key with A's AppId, and A's key with B's AppId: not B's way in.
        uri = m + "?userid=alice&instanceid=1"
        self.assert_error(b.get(uri, headers={"AppId": self.client.app_id}), 401, 190303)
        self.assert_error(self.client.get(uri, headers={"AppId": b.app_id}), 401, 190303)
        # B names A's devices in its own meeting: they are not there.
        mid_b = self.new_meeting("alice", client=b)
        b_alice = self.join(mid_b, "alice", 1, client=b)
        resp = self.kickout(mid_b, kick_body(op_ms(b_alice), [tgt_ms(bob), tgt_ms(alice)],
                                             allow_rejoin=False), prefer=True, client=b)
        self.assertEqual([r["result"] for r in self.assert_ok(resp)["results"]],
                         ["not_in_meeting", "not_in_meeting"])
        self.assertNotEqual(b_alice["ms_open_id"], alice["ms_open_id"])
        # B's webhook deliveries hold nothing of A's.
        self.assertEqual(self.assert_ok(b.get("/meetd/v1/webhooks/deliveries"))["total_count"],
                         0)
        self.assert_unchanged(before, mid)
        self.assertEqual(self.present(mid), sorted([(alice["ms_open_id"], 1),
                                                    (bob["ms_open_id"], 2)]))
        self.assert_serving()


# ---------------------------------------------------------------- replay and skew

class ReplaySkewTest(HostileCase):

    def test_replayed_kickout_changes_nothing_more(self):
        mid, alice, bob = self.scene()
        uri = "/v1/real-control/meetings/%s/kickout" % mid
        raw = signed_raw(self.client, "PUT", uri, kick_body(op_ms(alice), [tgt_ms(bob)]))
        responses, _, _ = exchange(self.server.port, raw)
        self.assertEqual([r[0] for r in responses], [200])
        bob = self.join(mid, "bob", 2)                    # allowed back in
        before = self.state(mid)
        for _ in range(3):                                # byte for byte again
            responses, _, got = exchange(self.server.port, raw)
            self.assertEqual(len(responses), 1, got)
            code = self.assert_json_error(*responses[0])
            self.assertEqual((responses[0][0], code), (400, 190301))
        self.assert_unchanged(before, mid)
        self.assert_present(mid, bob)
        self.assert_serving()

    def test_pair_reused_with_another_request(self):
        """The (timestamp, nonce) pair is used once per AppId, whatever the
        request and however the nonce is spelt (compared by value)."""
        mid, alice, bob = self.scene()
        ts, nonce = h.now(), h.new_nonce()
        self.assert_ok(self.client.get("/v1/meetings/%s?userid=alice&instanceid=1" % mid,
                                       timestamp=ts, nonce=nonce))
        before = self.state(mid)
        body = kick_body(op_ms(alice), [tgt_ms(bob)], allow_rejoin=False)
        for spelt in (nonce, "0" + nonce):
            with self.subTest(nonce=spelt):
                self.assert_error(self.kickout(mid, body, timestamp=ts, nonce=spelt), 400, 190301)
        self.assert_unchanged(before, mid)

    def test_skewed_timestamps(self):
        mid, alice, bob = self.scene()
        before = self.state(mid)
        uri = "/v1/real-control/meetings/%s/kickout" % mid
        body = kick_body(op_ms(alice), [tgt_ms(bob)])
        n = h.now()
        for ts in (n - 301, n + 301, n - 86400, n + 10 ** 9, 0, 1, 2 ** 31, 2 ** 63 - 1,
                   n * 1000, "-5", "abc", "99999999999999999999", "%d.0" % n, "+%d" % n):
            with self.subTest(ts=ts):
                self.assert_error(self.kickout(mid, body, timestamp=ts), 400, 190300)
        self.assert_unchanged(before, mid)
        self.assert_serving()

    def test_malformed_nonces(self):
        mid, alice, bob = self.scene()
        before = self.state(mid)
        body = kick_body(op_ms(alice), [tgt_ms(bob)])
        for nonce in ("0", "-1", "abc", "1" * 21, "18446744073709551616", "1e5", "0x10", "1.5"):
            with self.subTest(nonce=nonce):
                self.assert_error(self.kickout(mid, body, nonce=nonce), 401, 190303)
        self.assert_unchanged(before, mid)


class ReplayCapacityTest(HostileCase):
    """--replay-capacity 1000 and far more valid requests than that: a replay
    is never accepted (operations.md "Replay memory")."""
    CAPACITY = 1000
    server_args = ("--replay-capacity", str(CAPACITY))
    server_per_test = True

    def test_more_requests_than_capacity_never_accept_a_replay(self):
        mid = self.serving_mid()
        uri = "/v1/meetings/%s?userid=alice&instanceid=1" % mid
        rnd = random.Random(1000)
        accepted, honest, replays = [], {}, {}
        last_ts = 0
        for i in range(int(self.CAPACITY * 1.6)):
            ts, nonce = h.now(), h.new_nonce()
            last_ts = ts
            resp = self.client.get(uri, timestamp=ts, nonce=nonce)
            key = (resp.status, h._code(resp))
            honest[key] = honest.get(key, 0) + 1
            if resp.status == 200:
                accepted.append((ts, nonce))
            else:
                self.assert_error(resp, 400, 190301)
            if i < self.CAPACITY - 10:
                self.assertEqual(resp.status, 200, "request %d (within capacity) refused: %r"
                                 % (i, resp))
            if i % 10 == 9:                                  # a replay now and then
                rts, rnonce = rnd.choice(accepted)
                r = self.client.get(uri, timestamp=rts, nonce=rnonce)
                replays[(r.status, h._code(r))] = replays.get((r.status, h._code(r)), 0) + 1
                self.assert_error(r, 400, 190301)
        # Afterwards every accepted pair is refused, forgotten ones included.
        for ts, nonce in rnd.sample(accepted, 300):
            self.assert_error(self.client.get(uri, timestamp=ts, nonce=nonce), 400, 190301)
        if os.environ.get("HOSTILE_VERBOSE"):
            print("\nhonest requests: %s; replays: %s" % (honest, replays), file=sys.stderr)
        # Honest clients recover once the clock has moved past the flood.
        deadline = time.monotonic() + DEADLINE
        while h.now() <= last_ts:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)          # waiting for the clock, not for meetd
        for _ in range(20):
            self.assert_ok(self.client.get(uri))
        self.assert_serving()

    def test_unsigned_flood_does_not_fill_the_memory(self):
        """Only authentic requests reach the replay memory (api.md): 3x its
        capacity of badly signed requests, then honest requests of the same
        second are all accepted."""
        mid = self.serving_mid()
        uri = "/v1/meetings/%s?userid=alice&instanceid=1" % mid
        for i in range(3 * self.CAPACITY):
            resp = self.client.get(uri, sig="AAAA" + str(i))
            self.assertEqual((resp.status, h._code(resp)), (401, 200003), resp)
        for _ in range(50):
            self.assert_ok(self.client.get(uri))


# ---------------------------------------------------------------- headers and URIs

class HeaderInjectionTest(HostileCase):
    server_args = ("--idle-timeout", str(IDLE))

    def send(self, raw, what):
        responses, closed, got = exchange(self.server.port, raw)
        for status, headers, body in responses:
            self.assertNotIn("x-evil", headers, "%s: injected header echoed: %r" % (what, got))
        return responses, closed, got

    def test_cr_lf_nul_in_header_values(self):
        mid, alice, bob = self.scene()
        uri = "/v1/real-control/meetings/%s/kickout" % mid
        body = kick_body(op_ms(alice), [tgt_ms(bob)], allow_rejoin=False)
        before = self.state(mid)

        def tampered(name, suffix):
            raw = signed_raw(self.client, "PUT", uri, body)
            line = name.encode() + b": "
            start = raw.index(line) + len(line)
            end = raw.index(b"\r\n", start)
            return raw[:end] + suffix + raw[end:]

        # The value of an auth header changed by a bare CR: never accepted.
        for name in ("AppId", "X-TC-Key", "X-TC-Nonce", "X-TC-Timestamp", "X-TC-Signature"):
            with self.subTest(header=name, injection="bare CR"):
                responses, closed, got = self.send(tampered(name, b"\rX-Evil: 1"), name)
                status = self.assert_refused(responses, closed, "CR in " + name)
                self.assertNotEqual(status, 200)
        # obs-fold continuation lines on an auth header: refused.
        for name in ("AppId", "X-TC-Signature"):
            with self.subTest(header=name, injection="obs-fold"):
                responses, closed, got = self.send(tampered(name, b"\r\n X-Evil: 1"), name)
                status = self.assert_refused(responses, closed, "fold in " + name)
                self.assertNotEqual(status, 200)
        self.assert_unchanged(before, mid)
        # A bare LF ends a header line for libmicrohttpd (lenient); a NUL ends
        # a value. Either way nothing is injected into the response, and the
        # request is judged on what meetd read.
        for suffix, what in ((b"\nX-Evil: 1", "bare LF"), (b"\x00X-Evil: 1", "NUL")):
            with self.subTest(injection=what):
                responses, closed, got = self.send(tampered("Content-Type", suffix), what)
                self.assertLessEqual(len(responses), 1, got[:400])
        self.assert_serving()

    def test_request_values_are_not_reflected_into_headers(self):
        mid = self.serving_mid()
        uri = "/v1/meetings/%s?userid=alice&instanceid=1" % mid
        raw = signed_raw(self.client, "GET", uri, headers=[
            ("X-TC-Trace", "0123456789abcdef0123456789abcdef"),
            ("Prefer", "return=representation"), ("X-Forwarded-For", "1.2.3.4")])
        responses, closed, got = self.send(raw, "trace from the client")
        self.assertEqual([r[0] for r in responses], [200], got[:300])
        self.assertRegex(responses[0][1]["x-tc-trace"], TRACE_RE)
        self.assertNotEqual(responses[0][1]["x-tc-trace"], "0123456789abcdef0123456789abcdef",
                            "meetd took its trace id from the client")
        self.assertFalse(set(responses[0][1]) - RESPONSE_HEADERS, responses[0][1])
        self.assert_serving()


class UriTrickTest(HostileCase):
    server_args = ("--idle-timeout", str(IDLE))

    def test_dot_segments_and_bad_escapes(self):
        mid, alice, bob = self.scene()
        before = self.state(mid)
        for path in ("/v1/meetings/%2e%2e/meetings/" + mid,
                     "/v1/meetings/%2E%2E%2Fmeetings%2F" + mid,
                     "/v1/meetings/../meetings/" + mid + "/participants",
                     "/v1/real-control/meetings/%2e%2e/meetings/" + mid + "/kickout",
                     "/v1/meetings/%C0%AE%C0%AE/" + mid,
                     "/v1/meetings/%zz",
                     "/v1/meetings/%",
                     "/v1/meetings/%u0031"):
            with self.subTest(path=path):
                for method, body in (("GET", None),
                                     ("PUT", kick_body(op_ms(alice), [tgt_ms(bob)]))):
                    resp = self.client.request(method, path + "?userid=alice&instanceid=1", body)
                    self.assertGreaterEqual(resp.status, 400, resp)
                    self.assert_error(resp, resp.status, h._code(resp))
        self.assert_unchanged(before, mid)
        self.assert_serving()

    def test_percent_encoded_nul_is_not_truncated(self):
        """A %00 must not cut a path or a query value short: the request is
        about "<id>\\0junk", which is not <id> (ids are 1..19 digits; userids
        have no control characters -- api.md "Ids and times")."""
        mid, alice, bob = self.scene()
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)], allow_rejoin=False))
        before = self.state(mid)
        with self.subTest("meeting id with %00"):
            resp = self.client.get("/v1/meetings/%s%%00junk?userid=alice&instanceid=1" % mid)
            self.assertGreaterEqual(resp.status, 400, "answered as if the path were "
                                    "/v1/meetings/%s: %r" % (mid, resp))
        with self.subTest("path segment after %00"):
            resp = self.client.get("/v1/meetings/%s%%00/participants?userid=alice" % mid)
            self.assertIn(resp.status, (400, 404), resp)
        with self.subTest("userid with %00"):
            resp = self.client.get("/v1/meetings/%s?userid=alice%%00x&instanceid=1" % mid)
            self.assert_error(resp, 400, 190004)
        with self.subTest("ban lift with %00"):
            resp = self.lift_ban(mid, "bob\x00zzz")
            if resp.status == 200:
                self.assertEqual(resp.json, {"lifted": False},
                                 "lifting 'bob\\0zzz' lifted bob's ban")
            else:
                self.assert_error(resp, 400, 190004)
        self.assert_unchanged(before, mid)
        self.assert_serving()


# ---------------------------------------------------------------- numbers beyond the data

FAR_BOUND = 5.0            # a page past the end answers in milliseconds
INT64_MAX = 2 ** 63 - 1
FAR_POSITIONS = ("10000000000", "1000000000000", str(2 ** 62), str(INT64_MAX - 101),
                 str(INT64_MAX - 1), str(INT64_MAX), "000" + str(INT64_MAX),
                 "0" * 60 + str(INT64_MAX), "0" * 40 + "1000000000000")


class FarNumbersTest(HostileCase):
    """Numbers the client chose (positions, counts, occurrence ids) far
    beyond the data: no request's work may grow with them. A page asked for
    far past the end (api.md "Paging") is an empty page, answered as fast
    as the first. meetd used to walk towards such a pos 1,024 positions at
    a time: 10^12 took 14 s of a request thread, 2^63 - 1 for ever, and two
    such requests (the default two threads) took /healthz down and left
    meetd deaf to SIGTERM."""
    server_per_test = True     # a stuck server is killed with its test

    def get_within(self, uri, bound=FAR_BOUND, signed=True):
        """GET on a fresh connection: (status, JSON body), or a failure when
        no answer comes within bound seconds."""
        data = (signed_raw(self.client, "GET", uri) if signed else
                b"GET %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
                % uri.encode("latin-1"))
        t0 = time.monotonic()
        responses, _, _ = exchange(self.server.port, data, bound=bound)
        self.assertTrue(responses, "GET %s: no answer within %.0f s" % (uri[:120], bound))
        status, headers, body = responses[-1]
        self.assertLess(time.monotonic() - t0, bound, uri[:120])
        return status, json.loads(body.decode("utf-8"))

    def assert_empty_page(self, uri, pos, first, rows_key):
        status, body = self.get_within(uri)
        self.assertEqual(status, 200, (uri[:120], body))
        self.assertEqual(set(body), set(first), uri[:120])
        self.assertEqual((body[rows_key], body["total_count"], body["has_remaining"],
                          body["next_pos"]), ([], first["total_count"], False, pos), uri[:120])
        for key in set(first) - {rows_key, "has_remaining", "next_pos"}:
            self.assertEqual(body[key], first[key], key)

    def three_in(self):
        mid = self.new_meeting("alice")
        for i, user in enumerate(("alice", "bob", "carol")):
            self.join(mid, user, i + 1)
        return mid

    def test_participants_far_past_the_end(self):
        mid = self.three_in()
        uri = "/v1/meetings/%s/participants?userid=alice&pos=%s&size=%d"
        status, first = self.get_within(uri % (mid, "0", 20))
        self.assertEqual((status, first["total_count"], len(first["participants"])), (200, 3, 3))
        # No subTest: once one page has hung, meetd answers nothing more.
        for pos in ("3", "4", "1023", "1024", "1025", "4096") + FAR_POSITIONS:
            for size in (1, 20, 100):
                self.assert_empty_page(uri % (mid, pos, size), int(pos), first, "participants")

    def test_position_spelt_with_leading_zeros(self):
        """A position is its value: zeros in front change nothing, however
        many; a value past 2^63 - 1 is refused however it is spelt."""
        mid = self.three_in()
        uri = "/v1/meetings/%s/participants?userid=alice&pos=%s"
        for pos, want in (("0" * 40, ["alice", "bob", "carol"]),
                          ("0" * 40 + "1", ["bob", "carol"]), ("0002", ["carol"])):
            with self.subTest(pos=pos):
                status, body = self.get_within(uri % (mid, pos))
                self.assertEqual((status, [r["userid"] for r in body["participants"]],
                                  body["next_pos"]), (200, want, 3), body)
        for pos in (str(INT64_MAX + 1), "0" * 30 + str(INT64_MAX + 1), str(2 ** 64),
                    "9" * 400, "-" + str(INT64_MAX + 1), "-1", "1e18", " 1", "+1", "1 "):
            with self.subTest(pos=pos[:40]):
                status, body = self.get_within(uri % (mid, urllib.parse.quote(pos, safe="")))
                self.assertEqual((status, body["error_info"]["error_code"]), (400, 190004), body)

    def test_far_pages_do_not_take_the_server_down(self):
        """Far pages asked for by as many clients at once as meetd has
        request threads (two by default): /healthz answers meanwhile, every
        far page is answered, and SIGTERM still stops meetd."""
        mid = self.three_in()
        uris = ["/v1/meetings/%s/participants?userid=alice&pos=%s&size=100" % (mid, pos)
                for pos in (str(INT64_MAX), "1000000000000")]
        answers = []
        lock = threading.Lock()

        def far_requests():
            for i in range(10):
                data = signed_raw(self.client, "GET", uris[i % 2])
                try:
                    responses, _, _ = exchange(self.server.port, data, bound=FAR_BOUND)
                except OSError:        # meetd killed once the test had failed
                    responses = None
                with lock:
                    answers.append(responses[-1][0] if responses else None)

        threads = [threading.Thread(target=far_requests, daemon=True) for _ in range(2)]
        for t in threads:
            t.start()
        health = 0
        deadline = time.monotonic() + 4 * FAR_BOUND
        while any(t.is_alive() for t in threads) or health == 0:
            self.assertLess(time.monotonic(), deadline, "far pages still running")
            status, body = self.get_within("/healthz", signed=False)
            self.assertEqual((status, body), (200, {"status": "ok"}))
            health += 1
        for t in threads:
            t.join(FAR_BOUND)
        self.assertEqual(answers, [200] * 20)
        self.assert_serving(within=FAR_BOUND)
        t0 = time.monotonic()
        self.server.stop()       # fails unless meetd exits 0 within the harness's deadline
        self.assertLess(time.monotonic() - t0, FAR_BOUND, "SIGTERM took too long")

    def test_occurrence_numbers_far_out(self):
        """Recurrence counts and dates, and sub_meeting_id, far beyond any
        series: refused or empty at once (a series is at most 200
        occurrences, api.md "Create a meeting")."""
        start = h.now() + 3600
        times = {"start_time": str(start), "end_time": str(start + 3600)}
        for rtype in range(5):
            for rule in ({"until_type": 1, "until_count": INT64_MAX},
                         {"until_type": 1, "until_count": 2 ** 31},
                         {"until_type": 1, "until_count": 2 ** 32 + 2},
                         {"until_type": 0, "until_date": INT64_MAX},
                         {"until_type": 0, "until_date": 253402300799}):
                rule = dict(rule, recurring_type=rtype)
                with self.subTest(rule=rule):
                    data = signed_raw(self.client, "POST", "/v1/meetings",
                                      self.meeting_body(rule=rule, **times))
                    responses, _, _ = exchange(self.server.port, data, bound=FAR_BOUND)
                    self.assertTrue(responses, "no answer within %.0f s" % FAR_BOUND)
                    status, headers, body = responses[-1]
                    self.assertEqual(self.assert_json_error(status, headers, body), 190004)
        info = self.create_meeting(rule={"recurring_type": 0, "until_type": 1, "until_count": 3},
                                   **times)
        mid, sub = info["meeting_id"], info["sub_meetings"][0]["sub_meeting_id"]
        uri = "/v1/meetings/%s/participants?userid=alice&sub_meeting_id=%s&pos=%s"
        status, first = self.get_within(uri % (mid, sub, "0"))
        self.assertEqual((status, first["total_count"]), (200, 0), first)
        for pos in FAR_POSITIONS:
            self.assert_empty_page(uri % (mid, sub, pos), int(pos), first, "participants")
        for bad in (str(INT64_MAX), "9" * 400, str(int(sub) + 2 ** 64), "-1"):
            with self.subTest(sub_meeting_id=bad[:40]):
                status, body = self.get_within(uri % (mid, bad, "0"))
                self.assertEqual((status, body["error_info"]["error_code"]), (400, 190004), body)

    def test_audit_and_deliveries_far_past_the_end(self):
        # Deliveries to a port nobody listens on: rows that stay (retried).
        self.assert_ok(self.client.post("/meetd/v1/webhooks", {"url": "http://127.0.0.1:9/"}))
        mid, alice, bob = self.scene()
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)]))
        pages = (("/meetd/v1/meetings/%s/audit?pos=%%s&size=%%d" % mid, "records"),
                 ("/meetd/v1/webhooks/deliveries?pos=%s&size=%d", "deliveries"))
        for uri, rows_key in pages:
            status, first = self.get_within(uri % ("0", 100))
            self.assertEqual((status, len(first[rows_key]) > 0), (200, True), first)
            end = str(first["total_count"])
            for pos in (end, "1024") + FAR_POSITIONS:
                for size in (1, 100):
                    self.assert_empty_page(uri % (pos, size), int(pos), first, rows_key)

if __name__ == "__main__":
    unittest.main()
