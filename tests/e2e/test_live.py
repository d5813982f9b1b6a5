"""Device event streams: real SSE clients against a real meetd.

Covers what issue 3 asks of the streams: `kicked` with reason and operator
then close, others keep theirs, heartbeats, wrong or expired tokens, presence
following the stream (grace period), many streams on one process, and a clean
shutdown with streams open."""
import hashlib
import http.client
import json
import os
import resource
import secrets
import signal
import socket
import sqlite3
import subprocess
import time
import unittest
import urllib.parse

import meetd_harness as h
from meetd_harness import MeetdCase, kick_body, op_ms, op_userid, tgt_ms


def read_until_comment(stream):
    """Reads raw stream bytes until a heartbeat comment line arrives; returns
    the text read (and empties the buffer)."""
    while ":\n\n" not in stream._buf.replace(": meetd event stream\n\n", ""):
        try:
            chunk = stream.resp.read1(4096)
        except (socket.timeout, TimeoutError):
            raise AssertionError("no heartbeat within %s s" % h.DEADLINE)
        if not chunk:
            raise AssertionError("stream ended while waiting for a heartbeat")
        stream._buf += chunk.decode("utf-8").replace("\r\n", "\n")
    text, stream._buf = stream._buf, ""
    return text


def read_to_end(stream):
    """The raw text of the stream from here to its end (the server's close)."""
    text = stream._buf
    stream._buf = ""
    # Heartbeats keep the socket busy: its timeout alone would never fire.
    give_up = time.monotonic() + h.DEADLINE
    while True:
        if time.monotonic() > give_up:
            raise AssertionError("stream not closed within %s s; got %r" % (h.DEADLINE, text))
        try:
            chunk = stream.resp.read1(4096)
        except (socket.timeout, TimeoutError):
            raise AssertionError("stream not closed within %s s; got %r" % (h.DEADLINE, text))
        except (http.client.IncompleteRead, ConnectionResetError):
            raise AssertionError("stream cut, not closed; got %r" % text)
        if not chunk:
            return text
        text += chunk.decode("utf-8").replace("\r\n", "\n")


def assert_ends_with_reason(test, stream, reason):
    """The stream carries no event and closes right after ": end REASON"."""
    text = read_to_end(stream)
    test.assertTrue(text.endswith("\n: end %s\n\n" % reason) or
                    text == ": end %s\n\n" % reason, text)
    test.assertEqual(text.count(": end "), 1, text)
    test.assertNotIn("event:", text)


class StreamTest(MeetdCase):
    # One-second heartbeats keep these tests quick; production uses 15 s.
    server_args = ("--heartbeat", "1")

    def scene(self):
        mid = self.new_meeting("alice")
        return mid, self.join(mid, "alice", 1), self.join(mid, "bob", 2), self.join(mid, "carol", 3)

    def test_kicked_event_then_close_others_keep_theirs(self):
        mid, alice, bob, carol = self.scene()
        bob_s, carol_s = self.events(bob), self.events(carol)
        self.assertEqual((bob_s.status, carol_s.status), (200, 200))
        self.assertEqual(bob_s.resp.getheader("Content-Type"), "text/event-stream")
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)], allow_rejoin=False,
                                    reason="off topic"))
        event, data = bob_s.next_event()
        self.assertEqual(event, "kicked")
        data = json.loads(data)
        self.assertEqual(data["reason"], "off topic")
        self.assertIs(data["allow_rejoin"], False)
        self.assertEqual(data["operator"], {"ms_open_id": alice["ms_open_id"], "instanceid": 1})
        self.assertIsInstance(data["time"], int)
        self.assertIsNone(bob_s.next_event(), "kicked stream stayed open")
        # Carol's stream is untouched: it still gets heartbeats, no event.
        read_until_comment(carol_s)
        read_until_comment(carol_s)
        # And the banned device cannot come back, on any device.
        self.assert_error(self.join_req(mid, "bob", 4), 403, 9101)

    def test_operator_by_userid_is_named_without_ms_open_id(self):
        mid, alice, bob, carol = self.scene()
        s = self.events(carol)
        self.kick_ok(mid, kick_body(op_userid("alice"), [tgt_ms(carol)]))
        event, data = s.next_event()
        self.assertEqual(event, "kicked")
        self.assertEqual(json.loads(data)["allow_rejoin"], True)

    def test_heartbeat_is_a_comment(self):
        mid, alice, bob, carol = self.scene()
        s = self.events(bob)
        read_until_comment(s)

    def test_wrong_or_missing_token_is_401_without_stream(self):
        for token in ["0" * 64, "x", "a" * 129]:
            s = self.events(token=token)
            self.assertEqual(s.status, 401, token)
            body = json.loads(s.resp.read())
            self.assertEqual(body["error_info"]["error_code"], 190303)
            self.assertEqual(s.resp.getheader("Content-Type"), "application/json")
            s.close()
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=h.DEADLINE)
        conn.request("GET", "/meetd/v1/events")
        resp = conn.getresponse()
        self.assertEqual(resp.status, 401)
        conn.close()

    def test_token_needs_its_own_number_and_secret(self):
        # A token is "<session number>.<secret>": either part from another
        # device, or a spelling of the number that is not the canonical one,
        # opens nothing.
        mid, alice, bob, carol = self.scene()
        b_no, b_secret = bob["device_token"].split(".")
        c_no, c_secret = carol["device_token"].split(".")
        self.assertEqual(len(b_secret), 64)
        self.assertNotEqual(b_no, c_no)
        for token in [c_no + "." + b_secret, b_no + "." + c_secret, "0" + b_no + "." + b_secret,
                      b_no + "." + b_secret.upper(), b_secret, b_no + "." + b_secret + "0",
                      str(int(b_no) + 10**6) + "." + b_secret]:
            s = self.events(token=token)
            self.assertEqual(s.status, 401, token)
            self.assertEqual(json.loads(s.resp.read())["error_info"]["error_code"], 190303)
            s.close()
        s = self.events(bob)
        self.assertEqual(s.status, 200)
        s.close()

    def test_token_of_a_device_that_left_is_401(self):
        mid, alice, bob, carol = self.scene()
        self.assert_ok(self.leave(mid, bob))
        s = self.events(bob)
        self.assertEqual(s.status, 401)

    def test_leave_ends_the_stream_without_an_event(self):
        mid, alice, bob, carol = self.scene()
        s = self.events(bob)
        self.assert_ok(self.leave(mid, bob))
        self.assertIsNone(s.next_event())

    def test_leave_says_why_before_the_close(self):
        mid, alice, bob, carol = self.scene()
        s = self.events(bob)
        self.assert_ok(self.leave(mid, bob))
        assert_ends_with_reason(self, s, "left")

    def test_second_stream_says_why_the_first_ends(self):
        mid, alice, bob, carol = self.scene()
        first = self.events(bob)
        self.stream_recorded(bob)       # across nodes: then the second is the newer
        second = self.events(bob)
        self.assertEqual(second.status, 200)
        assert_ends_with_reason(self, first, "superseded")
        # The second carries no end comment of its own: it hears the kick.
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)]))
        text = read_to_end(second)
        self.assertIn("event: kicked\n", text)
        self.assertNotIn(": end ", text)

    def test_second_stream_of_a_device_replaces_the_first(self):
        mid, alice, bob, carol = self.scene()
        first = self.events(bob)
        self.stream_recorded(bob)       # across nodes: then the second is the newer
        second = self.events(bob)
        self.assertEqual(second.status, 200)
        self.assertIsNone(first.next_event(within=h.DEADLINE), "first stream kept open")
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)]))
        self.assertEqual(second.next_event()[0], "kicked")

    def test_kicked_before_the_stream_opens(self):
        mid, alice, bob, carol = self.scene()
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)]))
        s = self.events(bob)
        self.assertEqual(s.status, 401, "a removed device's token still opens a stream")


class PresenceTest(MeetdCase):
    """A stream gone longer than the grace period makes its device leave."""
    server_args = ("--heartbeat", "1", "--presence-grace", "1")
    server_per_test = True

    def test_gone_stream_leaves_never_streamed_device_stays(self):
        mid = self.new_meeting("alice")
        bob = self.join(mid, "bob", 2)
        carol = self.join(mid, "carol", 3)          # never opens a stream
        s = self.events(bob)
        self.assertEqual(s.status, 200)
        s.close()
        # The server notices at a heartbeat, waits out the grace period, and
        # says so in its log; that line is the synchronisation point.
        self.server.wait_line(lambda l: "left: event stream gone" in l,
                              what="presence time-out log line")
        rows = {(r["ms_open_id"], r["instanceid"]): r for r in self.participants(mid)}
        self.assertIn("left_time", rows[(bob["ms_open_id"], 2)])
        self.assertNotIn("left_time", rows[(carol["ms_open_id"], 3)])
        # The timed-out device's token is dead; it may join again (no ban).
        self.assertEqual(self.events(bob).status, 401)
        self.join(mid, "bob", 2)


class ManyStreamsTest(MeetdCase):
    """Streams hold no thread each: a thousand on a four-thread server."""
    server_args = ("--threads", "4", "--heartbeat", "1")
    N = 1000

    @classmethod
    def setUpClass(cls):
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, 8192)
        if soft < want:
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        super().setUpClass()

    def test_thousand_streams_and_a_kick(self):
        mid = self.new_meeting("alice")
        alice = self.join(mid, "alice", 1)
        devs = [self.join(mid, "user%04d" % i, 2) for i in range(self.N)]
        streams = [self.events(d) for d in devs]
        self.assertTrue(all(s.status == 200 for s in streams))
        victims = list(range(0, self.N, self.N // 20))[:20]
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(devs[i]) for i in victims],
                                    reason="too many"))
        for i in victims:
            event, data = streams[i].next_event()
            self.assertEqual(event, "kicked")
            self.assertEqual(json.loads(data)["reason"], "too many")
        # A sample of the others is still served.
        for i in (1, self.N // 2 + 1, self.N - 1):
            read_until_comment(streams[i])
        present = self.present(mid)
        self.assertEqual(len(present), self.N + 1 - len(victims))


@unittest.skipIf(h.pg_everywhere(), "SQLite's history: a store on PostgreSQL began at "
                 "schema version 8 and never issued such a token")
class LegacyTokenTest(MeetdCase):
    """A token issued before schema version 3 (a bare 64-hex secret) still
    opens its device's stream. The database is made to hold what the
    migration to 3 leaves for a device present at the upgrade: the hash of
    its old token on the row and in legacy_tokens."""
    server_per_test = True

    def test_token_from_before_schema_3_opens_its_stream(self):
        mid = self.new_meeting("alice")
        alice, bob = self.join(mid, "alice", 1), self.join(mid, "bob", 2)
        number = int(bob["device_token"].split(".")[0])
        legacy = secrets.token_hex(32)
        digest = hashlib.sha256(legacy.encode()).digest()
        self.server.stop()
        db = sqlite3.connect(os.path.join(self.server.data, "meetd.db"), isolation_level=None)
        db.execute("BEGIN")
        db.execute("UPDATE devices SET token_hash = ? WHERE device_no = ?", (digest, number))
        db.execute("INSERT INTO legacy_tokens (token_hash, device_no) VALUES (?, ?)",
                   (digest, number))
        db.execute("COMMIT")
        db.close()
        self.server.start()
        self.client = self.server.client()

        # The token it was given (whose hash the row no longer holds) and
        # an upper-case spelling of the old one open nothing; the old one,
        # or its secret behind the session's number (the same secret), do.
        for token in [bob["device_token"], legacy.upper(), "%d.%s" % (number + 1, legacy)]:
            s = self.events(token=token)
            self.assertEqual(s.status, 401, token)
            s.close()
        s = self.events(token="%d.%s" % (number, legacy))
        self.assertEqual(s.status, 200)
        s.close()
        s = self.events(token=legacy)
        self.assertEqual(s.status, 200)
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)]))
        self.assertEqual(s.next_event()[0], "kicked")
        self.assertIsNone(s.next_event())
        # Removed, its old token is dead like any other.
        again = self.events(token=legacy)
        self.assertEqual(again.status, 401)


class RoleChangedTest(MeetdCase):
    """role-changed: a device whose user is made or unmade co-host hears it
    and keeps streaming (docs/api.md "Device event stream")."""
    server_args = ("--heartbeat", "1")

    def role_event(self, stream, mid, role, user_role):
        event, data = stream.next_event()
        self.assertEqual(event, "role-changed", data)
        data = json.loads(data)
        self.assertEqual(set(data), {"role", "user_role", "meeting_id", "time"})
        self.assertEqual((data["role"], data["user_role"], data["meeting_id"]),
                         (role, user_role, mid))
        self.assertIsInstance(data["time"], int)

    def test_made_and_unmade_cohost_then_kicked(self):
        mid = self.new_meeting("alice")
        alice, bob = self.join(mid, "alice", 1), self.join(mid, "bob", 2)
        carol = self.join(mid, "carol", 3)
        bob_s, carol_s = self.events(bob), self.events(carol)
        self.assert_ok(self.cohost(mid, op_ms(alice), bob, True))
        self.role_event(bob_s, mid, "cohost", 6)
        # Made co-host again: no change, nothing said.
        self.assert_ok(self.cohost(mid, op_ms(alice), bob, True))
        self.assert_ok(self.cohost(mid, op_ms(alice), bob, False))
        self.role_event(bob_s, mid, "attendee", 0)
        # The stream stayed open: it still hears the final event, then ends.
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)], reason="bye"))
        event, data = bob_s.next_event()
        self.assertEqual(event, "kicked")
        self.assertEqual(json.loads(data)["reason"], "bye")
        self.assertIsNone(bob_s.next_event(), "kicked stream stayed open")
        # Nobody else heard a thing.
        self.assertNotIn("event:", read_until_comment(carol_s))

    def test_ban_ends_cohost_on_the_users_other_device(self):
        mid = self.new_meeting("alice")
        alice = self.join(mid, "alice", 1)
        bob2, bob3 = self.join(mid, "bob", 2), self.join(mid, "bob", 3)
        s2, s3 = self.events(bob2), self.events(bob3)
        self.assert_ok(self.cohost(mid, op_ms(alice), bob2, True))
        self.role_event(s2, mid, "cohost", 6)
        self.role_event(s3, mid, "cohost", 6)
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob2)], allow_rejoin=False))
        # The removed device hears kicked alone; the other one loses the role
        # and goes on.
        self.assertEqual(s2.next_event()[0], "kicked")
        self.assertIsNone(s2.next_event())
        self.role_event(s3, mid, "attendee", 0)
        self.assertNotIn("event:", read_until_comment(s3))


class PgHold:
    """On PostgreSQL, what BEGIN IMMEDIATE is on SQLite: a session of psql
    holding the meetings table in EXCLUSIVE mode, which lets reads through
    but not a write's FOR UPDATE of its meeting (store.h), so that meetd's
    writes queue until the ROLLBACK."""

    def __init__(self, conninfo):
        self.proc = subprocess.Popen(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                                      "-d", conninfo],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, env=h.child_env())
        self.proc.stdin.write("BEGIN;\nLOCK TABLE meetings IN EXCLUSIVE MODE;\n"
                              "SELECT 'held';\n")
        self.proc.stdin.flush()
        while True:
            line = self.proc.stdout.readline()
            if not line:
                raise AssertionError("psql ended before holding the meetings")
            if line.strip() == "held":
                return

    def execute(self, sql):
        self.proc.stdin.write(sql + ";\n")
        self.proc.stdin.flush()

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=h.DEADLINE)
        self.proc.stdout.close()


class QueuedWriteTest(MeetdCase):
    """What follows a commit is not lost with the client or at shutdown.

    A transaction held open on meetd.db by the test keeps meetd's writer
    waiting (SQLite's busy timeout, 5 s), so that a kickout is certainly
    queued, its connection suspended, while the client leaves or meetd is
    told to stop."""
    server_per_test = True
    server_args = ("--heartbeat", "1")

    def hold_the_database(self):
        if self.server.postgres:
            return PgHold(self.server.postgres)
        db = sqlite3.connect(os.path.join(self.server.data, "meetd.db"),
                             isolation_level=None, timeout=h.DEADLINE)
        db.execute("BEGIN IMMEDIATE")
        return db

    def send_kick_unanswered(self, mid, body):
        """Sends a signed kickout and returns its connection, unread."""
        return self.send_unanswered("/v1/real-control/meetings/%s/kickout" % mid, body)

    def send_unanswered(self, uri, body):
        """Sends a signed PUT and returns its connection, unread."""
        data = h.to_bytes(body)
        c = self.client
        ts, nonce = str(h.now()), h.new_nonce()
        conn = http.client.HTTPConnection("127.0.0.1", self.server.port, timeout=h.DEADLINE)
        conn.putrequest("PUT", uri, skip_accept_encoding=True)
        for name, value in (("Content-Type", "application/json"), ("X-TC-Key", c.secret_id),
                            ("X-TC-Timestamp", ts), ("X-TC-Nonce", nonce),
                            ("X-TC-Signature", h.signature(c.secret_key, "PUT", c.secret_id,
                                                           nonce, ts, uri, data)),
                            ("AppId", c.app_id), ("SdkId", c.sdk_id),
                            ("Content-Length", str(len(data)))):
            if value:
                conn.putheader(name, value)
        conn.endheaders(data)
        return conn

    def wait_pending(self, n):
        deadline = time.monotonic() + h.DEADLINE
        while self.metrics()["meetd_writes_pending"] != n:
            self.assertLess(time.monotonic(), deadline, "no write queued")

    def test_kicked_device_is_told_though_the_kicker_left(self):
        mid = self.new_meeting("alice")
        alice, bob = self.join(mid, "alice", 1), self.join(mid, "bob", 2)
        bob_s = self.events(bob)
        db = self.hold_the_database()
        try:
            conn = self.send_kick_unanswered(mid, kick_body(op_ms(alice), [tgt_ms(bob)],
                                                            reason="gone"))
            self.wait_pending(1)
            conn.close()                      # the kicker leaves before its answer
        finally:
            db.execute("ROLLBACK")
            db.close()
        event, data = bob_s.next_event()
        self.assertEqual(event, "kicked")
        self.assertEqual(json.loads(data)["reason"], "gone")
        self.assert_absent(mid, bob)

    def test_role_changed_is_not_heard_before_the_commit(self):
        mid = self.new_meeting("alice")
        alice, bob = self.join(mid, "alice", 1), self.join(mid, "bob", 2)
        bob_s = self.events(bob)
        body = dict(op_ms(alice), action=True, user=tgt_ms(bob))
        db = self.hold_the_database()
        try:
            conn = self.send_unanswered("/v1/real-control/meetings/%s/cohosts" % mid, body)
            self.wait_pending(1)
            # Queued, not committed: heartbeats (one second apart) go on,
            # the last read sent after the write was queued, and no event
            # comes before them.
            queued, text = time.monotonic(), ""
            while time.monotonic() < queued + 1.5:
                text += read_until_comment(bob_s)
            self.assertNotIn("event:", text)
        finally:
            db.execute("ROLLBACK")
            db.close()
        self.assertEqual(conn.getresponse().status, 200)
        conn.close()
        event, data = bob_s.next_event()
        self.assertEqual(event, "role-changed")
        self.assertEqual(json.loads(data)["role"], "cohost")

    def test_write_queued_at_shutdown_is_answered_and_meetd_exits_clean(self):
        mid = self.new_meeting("alice")
        alice, bob = self.join(mid, "alice", 1), self.join(mid, "bob", 2)
        db = self.hold_the_database()
        try:
            conn = self.send_kick_unanswered(mid, kick_body(op_ms(alice), [tgt_ms(bob)]))
            self.wait_pending(1)
            mark = len(self.server.stderr().splitlines())
            self.server.proc.send_signal(signal.SIGTERM)
            self.server.wait_line(lambda l: "shutting down" in l, since=mark,
                                  what="meetd's shutdown line")
        finally:
            db.execute("ROLLBACK")
            db.close()
        # Committed as meetd stopped: the kicker hears so, not a closed
        # connection (http_writes_drain waits for the answer).
        resp = conn.getresponse()
        self.assertEqual(resp.status, 200)
        self.assertEqual(resp.read().strip(), b"{}")
        conn.close()
        self.server.stop()     # exit 0, no sanitizer report: nothing leaked
        self.assertNotIn("answers to committed writes not sent", self.server.stderr())
        self.server.start()
        self.assert_absent(mid, bob)


class ShutdownTest(MeetdCase):
    server_per_test = True

    def test_stops_cleanly_with_streams_open(self):
        mid = self.new_meeting("alice")
        streams = [self.events(self.join(mid, "u%d" % i, 2)) for i in range(20)]
        self.assertTrue(all(s.status == 200 for s in streams))
        self.server.stop()       # fails the test on a non-zero exit or sanitizer report
        for s in streams:
            self.assertIsNone(s.next_event())

    def test_sigterm_says_why_before_the_close(self):
        mid = self.new_meeting("alice")
        streams = [self.events(self.join(mid, "u%d" % i, 2)) for i in range(3)]
        self.assertTrue(all(s.status == 200 for s in streams))
        self.server.proc.send_signal(signal.SIGTERM)
        for s in streams:
            assert_ends_with_reason(self, s, "shutdown")
        self.server.stop()       # exit 0, no sanitizer report


if __name__ == "__main__":
    unittest.main()
