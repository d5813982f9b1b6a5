"""Connections, event streams and descriptors (configuration.md, operations.md
"Limits", api.md "Device event stream")."""
import http.client
import json
import re
import shutil
import socket
import subprocess
import tempfile
import time
import unittest
import urllib.parse

import meetd_harness as h
from meetd_harness import MeetdCase, kick_body, op_ms, tgt_ms

LIMITS_RE = re.compile(
    r"info limits: open files (?P<nofile>\d+) \((?P<raised>[^)]*)\); "
    r"connections (?P<conns>\d+) \((?P<asked>[^:]*): (?P<held>\d+) descriptors kept for "
    r"meetd itself: (?P<open>\d+) open at start, (?P<store>\d+) for the store's connections, "
    r"(?P<per_thread>\d+) per thread, 1 listening, "
    r"(?P<spare>\d+) spare\); event streams at most (?P<streams>\d+) \((?P<reserve>\d+) "
    r"connections kept for API requests\), (?P<per_app>\d+) per app$")


def start_limits(server):
    """The start log's limits line, as ints (and the two texts)."""
    line = server.wait_line(lambda l: LIMITS_RE.search(l), what="the start log's limits line")
    m = LIMITS_RE.search(line).groupdict()
    return {k: (v if k in ("raised", "asked") else int(v)) for k, v in m.items()}


def open_stream(port, token, timeout=h.DEADLINE):
    """GET the event stream: (status, EventStream or the error body's JSON)."""
    s = h.EventStream(port, token, timeout)
    if s.status == 200:
        return s.status, s
    body = json.loads(s.resp.read().decode())
    s.close()
    return s.status, body


@unittest.skipIf(h.cluster_everywhere(), "the stream caps are each node's "
                 "(docs/cluster.md): two nodes hold twice the streams")
class StreamCapsTest(MeetdCase):
    """Streams up to every cap: the refused one gets the documented error,
    and API requests still get connections."""
    server_args = ("--max-connections", "40", "--api-reserve", "8",
                   "--max-streams-per-app", "10", "--heartbeat", "1")
    server_per_test = True

    def meeting_with_host(self, client):
        mid = self.new_meeting("alice", client=client)
        return mid, self.join(mid, "alice", 1, client=client)

    def fill(self, client, mid, n):
        """n devices of the app with their streams open."""
        out = []
        for _ in range(n):
            dev = self.join(mid, h.uniq("u"), 2, client=client)
            status, stream = open_stream(self.server.port, dev["device_token"])
            self.assertEqual(status, 200, stream)
            self.addCleanup(stream.close)
            out.append((dev, stream))
        return out

    def assert_api_answers(self, client, mid, host, victim):
        self.assertEqual(self.assert_ok(self.client.get("/healthz", signed=False)),
                         {"status": "ok"})
        self.kick_ok(mid, kick_body(op_ms(host), [tgt_ms(victim[0])], reason="capped"),
                     client=client)
        event, data = victim[1].next_event()
        self.assertEqual((event, json.loads(data)["reason"]), ("kicked", "capped"))
        self.join(mid, h.uniq("late"), 3, client=client)

    def test_start_log_states_the_limits(self):
        lim = start_limits(self.server)
        self.assertEqual((lim["conns"], lim["asked"], lim["streams"], lim["reserve"],
                          lim["per_app"]), (40, "as asked", 32, 8, 10), lim)
        self.assertEqual(lim["held"], lim["open"] + lim["store"] + lim["per_thread"] * 2 + 1
                         + lim["spare"])
        # The store's connections, at most: on PostgreSQL a socket for each
        # writer (4 by default), each read connection (8) and the change
        # feed; on SQLite the database file and WAL of each connection (the
        # writer, the checkpointer, 8 readers), the shared memory, the
        # stamp, the lock.
        self.assertEqual(lim["store"], 4 + 8 + 1 if self.server.postgres else 23, lim)

    def test_every_cap_then_api_requests_still_answer(self):
        a, b, c, d = (self.client,) + tuple(self.server.client(self.server.create_app())
                                            for _ in range(3))
        meetings = {app: self.meeting_with_host(app) for app in (a, b, c, d)}
        mid_a, alice_a = meetings[a]
        streams_a = self.fill(a, mid_a, 10)
        # The app's eleventh stream: 429, saying which cap.
        extra = self.join(mid_a, "extra", 2, client=a)
        before = self.state(mid_a, client=a)
        status, body = open_stream(self.server.port, extra["device_token"])
        self.assertEqual(status, 429, body)
        info = body["error_info"]
        self.assertEqual((info["error_code"], info["new_error_code"]), (190310, 200190310))
        self.assertIn("--max-streams-per-app", info["message"])
        self.assertIn("at most 10", info["message"])
        self.assert_unchanged(before, mid_a, client=a)
        self.assert_present(mid_a, extra)
        # Other apps still get theirs, up to all streams: 10 + 10 + 10 + 2.
        for app, n in ((b, 10), (c, 10), (d, 2)):
            self.fill(app, meetings[app][0], n)
        self.assertEqual(self.metrics()["meetd_event_streams"], 32)
        late = self.join(meetings[d][0], "late", 2, client=d)
        status, body = open_stream(self.server.port, late["device_token"])
        self.assertEqual(status, 503, body)
        info = body["error_info"]
        self.assertEqual((info["error_code"], info["new_error_code"]), (190310, 200190310))
        self.assertIn("--api-reserve", info["message"])
        self.assertIn("at most 32", info["message"])
        # The reserve holds: 7 idle connections beside the 32 streams, and
        # each API request still gets the last of the 40.
        idle = [socket.create_connection(("127.0.0.1", self.server.port), timeout=h.DEADLINE)
                for _ in range(7)]
        try:
            self.assert_api_answers(a, mid_a, alice_a, streams_a[0])
        finally:
            for s in idle:
                s.close()
        # The kicked device's stream ended: app A may open one again.
        deadline = time.monotonic() + h.DEADLINE
        while True:
            status, got = open_stream(self.server.port, extra["device_token"])
            if status == 200:
                self.addCleanup(got.close)
                break
            self.assertEqual(status, 429, got)
            self.assertLess(time.monotonic(), deadline, "app A's stream count never dropped")
            time.sleep(0.05)

    def test_a_device_replacing_its_own_stream_is_not_capped(self):
        mid, _ = self.meeting_with_host(self.client)
        full = self.fill(self.client, mid, 10)
        dev, old = full[0]
        status, new = open_stream(self.server.port, dev["device_token"])
        self.assertEqual(status, 200, new)
        self.addCleanup(new.close)
        self.assertIsNone(old.next_event(), "the replaced stream should end")

    def test_head_of_a_capped_stream_says_so(self):
        mid, _ = self.meeting_with_host(self.client)
        self.fill(self.client, mid, 10)
        extra = self.join(mid, "extra", 2)
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=h.DEADLINE)
        try:
            conn.request("HEAD", "/meetd/v1/events?device_token=" +
                         urllib.parse.quote(extra["device_token"], safe=""))
            self.assertEqual(conn.getresponse().status, 429)
        finally:
            conn.close()


class LowDescriptorLimitTest(MeetdCase):
    """Under a low RLIMIT_NOFILE and the default --max-connections, meetd
    raises its soft limit, holds what it says, and streams up to every cap
    leave the API answering (issue: ~1,000 streams locked everybody out)."""
    server_nofile = (64, 256)
    server_args = ("--heartbeat", "1")

    def test_limits_raised_and_sized(self):
        lim = start_limits(self.server)
        self.assertEqual(lim["nofile"], 256, lim)
        self.assertEqual(lim["raised"], "soft limit raised from 64 to the hard limit")
        self.assertEqual(lim["asked"], "--max-connections 4096 lowered to fit")
        self.assertEqual(lim["conns"] + lim["held"], 256, lim)
        self.assertEqual(lim["reserve"], lim["conns"] // 10, lim)
        self.assertEqual(lim["streams"], lim["conns"] - lim["reserve"], lim)
        self.assertEqual(lim["per_app"], lim["streams"] // 2, lim)

    def test_streams_up_to_every_cap_then_api_still_answers(self):
        # Opened until meetd refuses one, without reading its caps first:
        # where descriptors run out instead, the next request hangs.
        apps = [self.client] + [self.server.client(self.server.create_app())
                                for _ in range(2)]
        opened, refused, hosts = [], [], []
        try:
            for app in apps:
                mid = self.new_meeting("alice", client=app)
                hosts.append((app, mid, self.join(mid, "alice", 1, client=app)))
                while len(opened) < 1000:
                    dev = self.join(mid, h.uniq("u"), 2, client=app)
                    status, got = open_stream(self.server.port, dev["device_token"], timeout=5)
                    if status != 200:
                        refused.append((status, got["error_info"]["error_code"]))
                        break
                    self.addCleanup(got.close)
                    opened.append((dev, got))
        except (socket.timeout, TimeoutError, AssertionError) as e:
            self.fail("meetd stopped answering with %d streams open: %s" % (len(opened), e))
        self.assertEqual(refused, [(429, 190310), (429, 190310), (503, 190310)])
        lim = start_limits(self.server)
        self.assertEqual(len(opened), lim["streams"], lim)
        # Every connection meetd said it holds, held at once: the streams,
        # idle ones up to the last, and requests on that last one.
        idle = [socket.create_connection(("127.0.0.1", self.server.port), timeout=h.DEADLINE)
                for _ in range(lim["reserve"] - 1)]
        try:
            self.assertEqual(self.assert_ok(self.client.get("/healthz", signed=False)),
                             {"status": "ok"})
            app0, mid0, host0 = hosts[0]
            victim = opened[0]
            self.kick_ok(mid0, kick_body(op_ms(host0), [tgt_ms(victim[0])], reason="full"),
                         client=app0)
            self.assertEqual(victim[1].next_event()[0], "kicked")
            self.join(mid0, h.uniq("late"), 3, client=app0)
        finally:
            for s in idle:
                s.close()
        self.assertNotIn("Too many open files", self.server.stderr())


class OptionsTest(unittest.TestCase):
    """Bad values of the new options are refused at start, with a message."""

    def setUp(self):
        self.data = tempfile.mkdtemp(prefix="meetd-e2e-")
        self.addCleanup(shutil.rmtree, self.data, True)

    def serve(self, *args, env=None):
        return h.run_serve(["--listen", "127.0.0.1:0", "--data", self.data] + list(args),
                           env=env)

    def test_usage_errors(self):
        for args in (("--api-reserve", "0"), ("--api-reserve", "-1"), ("--api-reserve", "x"),
                     ("--max-streams-per-app", "0"), ("--max-streams-per-app", "")):
            with self.subTest(args=args):
                rc, err = self.serve(*args)
                self.assertEqual(rc, 2, err)
                self.assertIn(args[0], err)

    def test_environment_variables(self):
        for var in ("MEETD_API_RESERVE", "MEETD_MAX_STREAMS_PER_APP"):
            with self.subTest(var=var):
                rc, err = self.serve(env={var: "0"})
                self.assertEqual(rc, 2, err)
                self.assertIn("invalid %s='0'" % var, err)
        rc, err = self.serve("--max-connections", "50",
                             env={"MEETD_API_RESERVE": "5", "MEETD_MAX_STREAMS_PER_APP": "7"})
        self.assertIsNone(rc, err)
        self.assertIn("event streams at most 45 (5 connections kept for API requests), 7 per app",
                      err)
        # A flag wins over its variable.
        rc, err = self.serve("--api-reserve", "6", env={"MEETD_API_RESERVE": "5"})
        self.assertIsNone(rc, err)
        self.assertIn("(6 connections kept for API requests)", err)

    def test_reserve_must_leave_streams(self):
        rc, err = self.serve("--max-connections", "40", "--api-reserve", "40")
        self.assertEqual(rc, 1, err)
        self.assertIn("--api-reserve 40 leaves no connection for event streams", err)

    def test_descriptor_limit_too_low(self):
        proc = subprocess.run(
            ["/bin/sh", "-c", 'ulimit -n 100 && exec "$0" serve --listen 127.0.0.1:0 --data "$1"',
             h.meetd_bin(), self.data], capture_output=True, text=True, timeout=h.DEADLINE,
            env=h.child_env(), stdin=subprocess.DEVNULL)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("the open-files limit 100 leaves", proc.stderr)


if __name__ == "__main__":
    unittest.main()
