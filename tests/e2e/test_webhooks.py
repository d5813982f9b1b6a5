"""Webhooks: registration (signed API and `meetd app webhook`), the events a
join, a leave and a kickout send, and at-least-once delivery through receiver
outages and meetd restarts (docs/api.md "Webhooks").

The receiver is a real HTTP server on 127.0.0.1 in this process. It checks
every request's signature with its own code -- lowercase hex SHA-1 of the
sorted concatenation of (token, timestamp, nonce, data) -- and decodes the
event from the base64 `data`.
"""
import base64
import hashlib
import http.server
import json
import re
import socket
import subprocess
import threading
import time
import unittest
import urllib.parse

from meetd_harness import (DEADLINE, MeetdCase, b64, kick_body, now, op_ms, tgt_ms, uniq)

QUICK = ("--webhook-backoff-ms", "50", "--webhook-backoff-max-ms", "200")
JOINED = "meeting.participant-joined"
LEFT = "meeting.participant-left"
KICKED = "meeting.participant-kicked-out"


def tencent_signature(token, timestamp, nonce, data):
    """The receiver's own check, written from the scheme, not from meetd."""
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, data]))
                        .encode("utf-8")).hexdigest()


# ---------------------------------------------------------------- receiver

class Receiver:
    """Records every POST; answers `status` (200 unless told otherwise).

    Webhooks are registered at /hook/<name> with a token each (tokens[path]).
    A request whose signature or shape is wrong lands in `bad`, which every
    test checks is empty. hold(True) stalls every answer until hold(False)
    (a receiver that hangs, then recovers); `arrived` counts the requests
    read so far, answered or held; `delay` (s) slows every answer."""

    def __init__(self, status=200):
        self.cond = threading.Condition()
        self.status = status
        self.tokens = {}
        self.requests = []      # dicts: path, delivery, status, event
        self.bad = []
        self.arrived = 0
        self.held = False
        self.delay = 0
        self.port = 0
        self._srv = None
        self._thread = None

    # -- process
    def start(self):
        rx = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                rx._handle(self)

            def log_message(self, *args):
                pass

        srv = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        srv.daemon_threads = True
        self.port = srv.server_address[1]   # the same port again after a stop
        self._srv = srv
        self._thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._srv is not None:
            self._srv.shutdown()
            self._srv.server_close()
            self._thread.join(DEADLINE)
            self._srv = None

    def url(self, name):
        return "http://127.0.0.1:%d/hook/%s" % (self.port, name)

    # -- requests
    def _handle(self, h):
        length = int(h.headers.get("Content-Length") or 0)
        raw = h.rfile.read(length)
        path = urllib.parse.urlsplit(h.path).path
        problem, event = self._check(path, h.headers, raw)
        with self.cond:
            self.arrived += 1
            self.cond.notify_all()
            if not self.cond.wait_for(lambda: not self.held, DEADLINE):
                self.bad.append("%s: held past the deadline" % path)
            status = self.status
        time.sleep(self.delay)
        h.send_response(status)
        h.send_header("Content-Length", "0")
        h.end_headers()
        with self.cond:
            if problem:
                self.bad.append("%s: %s" % (path, problem))
            self.requests.append({"path": path, "delivery": h.headers.get("X-Meetd-Delivery"),
                                  "status": status, "event": event})
            self.cond.notify_all()

    def _check(self, path, headers, raw):
        token = self.tokens.get(path)
        if token is None:
            return "no webhook registered at this path", None
        if (headers.get("Content-Type") or "").split(";")[0].strip() != "application/json":
            return "Content-Type is %r" % headers.get("Content-Type"), None
        ts, nonce, sig = (headers.get(k) for k in ("timestamp", "nonce", "signature"))
        if not (ts and nonce and sig):
            return "missing timestamp/nonce/signature headers", None
        if not re.fullmatch(r"\d+", ts) or abs(int(ts) - now()) > 300:
            return "timestamp %r is not current Unix seconds" % ts, None
        try:
            body = json.loads(raw.decode("utf-8"))
        except ValueError:
            return "body is not JSON: %r" % raw[:200], None
        if not isinstance(body, dict) or list(body) != ["data"] or not isinstance(body["data"], str):
            return "body is not {\"data\": string}: %r" % raw[:200], None
        data = body["data"]
        if sig != tencent_signature(token, ts, nonce, data):
            return "signature mismatch", None
        try:
            event = json.loads(base64.b64decode(data, validate=True).decode("utf-8"))
        except ValueError:
            return "data is not base64 of JSON", None
        return None, event

    # -- waiting (a Condition with DEADLINE as the error bound)
    def wait(self, pred, what):
        with self.cond:
            if not self.cond.wait_for(lambda: pred(self), DEADLINE):
                raise AssertionError("receiver: no %s within %s s; got %d requests: %s"
                                     % (what, DEADLINE, len(self.requests),
                                        [(r["status"], r["event"] and r["event"].get("event"))
                                         for r in self.requests][-20:]))

    def hold(self, on):
        with self.cond:
            self.held = on
            self.cond.notify_all()

    def set_status(self, status):
        with self.cond:
            self.status = status

    def accepted(self, path=None):
        """Events acknowledged with a 2xx (duplicates included)."""
        with self.cond:
            return [r["event"] for r in self.requests
                    if r["event"] is not None and 200 <= r["status"] < 300
                    and (path is None or r["path"] == path)]

    def accepted_deliveries(self):
        with self.cond:
            return {r["delivery"] for r in self.requests if 200 <= r["status"] < 300}

    def count(self, path=None):
        with self.cond:
            return len([r for r in self.requests if path is None or r["path"] == path])


class Listener:
    """A loopback socket that accepts connections and then does `answer`:
    "never" holds them open without a byte (a receiver that hangs), "close"
    closes them at once (a trap that must not be reached). `accepted`
    counts the connections; `first_lines` keeps what the first read gave."""

    def __init__(self, answer):
        self.answer = answer
        self.cond = threading.Condition()
        self.accepted = 0
        self.first_lines = []
        self._held = []
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(128)
        self.port = self._sock.getsockname()[1]
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self):
        while True:
            try:
                conn, _ = self._sock.accept()
            except OSError:
                return
            with self.cond:
                self.accepted += 1
                self.cond.notify_all()
            if self.answer == "never":
                self._held.append(conn)
            else:
                conn.close()

    def url(self, path="/hook"):
        return "http://127.0.0.1:%d%s" % (self.port, path)

    def wait_accepted(self, n):
        with self.cond:
            if not self.cond.wait_for(lambda: self.accepted >= n, DEADLINE):
                raise AssertionError("listener: %d connections within %s s, wanted %d"
                                     % (self.accepted, DEADLINE, n))

    def close(self):
        self._sock.close()
        for c in self._held:
            c.close()


class FakeProxy:
    """An HTTP proxy that forwards nothing: it records each request line
    (absolute-form, as a client sends to a proxy) and answers 200."""

    def __init__(self):
        self.cond = threading.Condition()
        self.lines = []
        fp = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with fp.cond:
                    fp.lines.append(self.requestline)
                    fp.cond.notify_all()
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self._srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._srv.daemon_threads = True
        self.port = self._srv.server_address[1]
        self._thread = threading.Thread(target=self._srv.serve_forever,
                                        kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def wait_lines(self, n):
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.lines) >= n, DEADLINE):
                raise AssertionError("proxy: %d requests within %s s" % (len(self.lines), DEADLINE))
            return list(self.lines)

    def close(self):
        self._srv.shutdown()
        self._srv.server_close()
        self._thread.join(DEADLINE)


def item(event):
    return event["payload"][0]


def find(events, name, ms_open_id, instance_id=None, key="operator"):
    """Events of this name whose operator (or to_operator) is this device."""
    return [e for e in events if e.get("event") == name
            and item(e)[key]["ms_open_id"] == ms_open_id
            and (instance_id is None or item(e)[key]["instance_id"] == str(instance_id))]


def wait_for(pred, what):
    """Polls pred (an API query) until true; DEADLINE is the error bound."""
    deadline = time.monotonic() + DEADLINE
    while True:
        value = pred()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError("no %s within %s s" % (what, DEADLINE))
        time.sleep(0.02)


# ---------------------------------------------------------------- shared helpers

class WebhookCase(MeetdCase):
    def setUp(self):
        super().setUp()
        self.rx = Receiver().start()
        self.addCleanup(self.rx.stop)
        self.addCleanup(lambda: self.assertEqual(self.rx.bad, [], "malformed deliveries"))

    def fresh_client(self):
        """A new app of its own, so that other tests' events never reach it."""
        return self.server.client(self.server.create_app("--name", uniq("hooks")))

    def add_hook(self, client, url, token=None):
        body = {"url": url}
        if token is not None:
            body["token"] = token
        return self.assert_ok(client.post("/meetd/v1/webhooks", body))

    def hook_for(self, client, name):
        """Registers the receiver's /hook/<name> (generated token)."""
        url = self.rx.url(name)
        hook = self.add_hook(client, url)
        self.rx.tokens[urllib.parse.urlsplit(url).path] = hook["token"]
        return hook, urllib.parse.urlsplit(url).path

    def hooks(self, client):
        return self.assert_ok(client.get("/meetd/v1/webhooks"))["webhooks"]

    def deliveries_req(self, client, **params):
        q = ("?" + urllib.parse.urlencode(params)) if params else ""
        return client.get("/meetd/v1/webhooks/deliveries" + q)

    def deliveries(self, client, **params):
        """Every delivery (newest first), following next_pos."""
        rows, pos = [], 0
        for _ in range(100):
            body = self.assert_ok(self.deliveries_req(client, pos=pos, size=100, **params))
            rows += body["deliveries"]
            if not body["has_remaining"]:
                self.assertEqual(body["total_count"], len(rows), body)
                return rows
            pos = body["next_pos"]
        self.fail("deliveries paging does not end")

    def all_settled(self, client, status, n):
        rows = self.deliveries(client)
        return rows if len(rows) >= n and all(r["status"] == status for r in rows) else None


# ---------------------------------------------------------------- registration

class WebhookApiTest(WebhookCase):
    def test_create_list_delete(self):
        c = self.fresh_client()
        self.assertEqual(self.hooks(c), [])
        t0 = int(time.time() * 1000)
        a = self.add_hook(c, "http://127.0.0.1:9/a")
        self.assertEqual(a["url"], "http://127.0.0.1:9/a")
        self.assertRegex(a["token"], r"^[0-9A-Za-z]{32}$")
        self.assertRegex(a["id"], r"^[1-9][0-9]*$")
        b = self.add_hook(c, "https://example.invalid/b?x=1", token="my-Token_1")
        self.assertEqual(b["token"], "my-Token_1")
        listed = self.hooks(c)
        self.assertEqual([(h["id"], h["url"], h["token"]) for h in listed],
                         [(a["id"], a["url"], a["token"]), (b["id"], b["url"], b["token"])])
        for h in listed:
            self.assertGreaterEqual(h["created_at"], t0 - 1000)
            self.assertLessEqual(h["created_at"], int(time.time() * 1000) + 1000)
        self.assertEqual(self.assert_ok(c.delete("/meetd/v1/webhooks/%s" % a["id"])), {})
        self.assertEqual([h["id"] for h in self.hooks(c)], [b["id"]])
        # Gone is gone: a second delete is an unknown id.
        self.assert_error(c.delete("/meetd/v1/webhooks/%s" % a["id"]), 400, 190004)
        # Ids are not reused.
        d = self.add_hook(c, "http://127.0.0.1:9/d")
        self.assertGreater(int(d["id"]), int(b["id"]))

    def test_bad_registrations_change_nothing(self):
        c = self.fresh_client()
        kept = self.add_hook(c, "http://127.0.0.1:9/kept")
        before = self.hooks(c)
        bad = [
            {}, {"url": ""}, {"url": 5}, {"url": None}, {"url": ["http://x/"]},
            {"url": "ftp://example.com/"}, {"url": "file:///etc/passwd"},
            {"url": "example.com/hook"}, {"url": "http://"}, {"url": "http:///x"},
            {"url": "http://exa mple.com/"}, {"url": "http://x/\n"},
            {"url": "http://x/" + "a" * (1024 - 9 + 1)},
            {"url": "http://x/", "token": ""}, {"url": "http://x/", "token": "has space"},
            {"url": "http://x/", "token": "t" * 129}, {"url": "http://x/", "token": 7},
            {"url": "http://x/", "token": "caf\u00e9"},
        ]
        for body in bad:
            with self.subTest(body=body):
                self.assert_error(c.post("/meetd/v1/webhooks", body), 400, 190004)
        self.assert_error(c.post("/meetd/v1/webhooks", "[1]"), 400, 190004)
        self.assert_error(c.post("/meetd/v1/webhooks", "{\"url\":"), 400, 190004)
        self.assertEqual(self.hooks(c), before)
        # The limits themselves are accepted.
        longest = "http://x/" + "a" * (1024 - 9)
        self.add_hook(c, longest, token="t" * 128)
        self.assertEqual(len(self.hooks(c)), 2)
        self.assertEqual(self.hooks(c)[0]["id"], kept["id"])

    def test_unknown_and_foreign_ids(self):
        mine, other = self.fresh_client(), self.fresh_client()
        h = self.add_hook(mine, "http://127.0.0.1:9/mine")
        theirs = self.add_hook(other, "http://127.0.0.1:9/theirs")
        before = (self.hooks(mine), self.hooks(other))
        for bad in ("999999999", "0", "abc", "-1", "1.5", "1" * 20, theirs["id"]):
            with self.subTest(id=bad):
                self.assert_error(mine.delete("/meetd/v1/webhooks/%s" % bad), 400, 190004)
        self.assertEqual((self.hooks(mine), self.hooks(other)), before)
        # Each app sees only its own.
        self.assertEqual([x["id"] for x in self.hooks(mine)], [h["id"]])
        self.assertEqual([x["id"] for x in self.hooks(other)], [theirs["id"]])

    def test_at_most_twenty(self):
        c = self.fresh_client()
        for i in range(20):
            self.add_hook(c, "http://127.0.0.1:9/%d" % i)
        self.assert_error(c.post("/meetd/v1/webhooks", {"url": "http://127.0.0.1:9/x"}),
                          400, 190004)
        self.assertEqual(len(self.hooks(c)), 20)

    def test_signed_and_routed(self):
        c = self.fresh_client()
        self.assert_error(c.get("/meetd/v1/webhooks", signed=False), 401, 190303)
        self.assert_error(c.post("/meetd/v1/webhooks", {"url": "http://x/"}, signed=False),
                          401, 190303)
        self.assert_error(c.request("PUT", "/meetd/v1/webhooks", {"url": "http://x/"}),
                          405, 190004)
        self.assertEqual(self.hooks(c), [])

    def test_deliveries_query_errors(self):
        c = self.fresh_client()
        empty = self.assert_ok(self.deliveries_req(c))
        self.assertEqual(empty, {"total_count": 0, "has_remaining": False, "next_pos": 0,
                                 "deliveries": []})
        for params in ({"status": "done"}, {"status": "PENDING"}, {"size": "0"},
                       {"size": "101"}, {"pos": "-1"}, {"pos": "x"}):
            with self.subTest(params=params):
                self.assert_error(self.deliveries_req(c, **params), 400, 190004)
        for status in ("pending", "delivered", "failed"):
            self.assertEqual(self.assert_ok(self.deliveries_req(c, status=status))["total_count"], 0)


class WebhookCliTest(WebhookCase):
    def parse_rows(self, text):
        lines = [l for l in text.splitlines() if l.strip()]
        self.assertTrue(lines and lines[0].split()[:4] == ["ID", "CREATED", "TOKEN", "URL"], text)
        return [l.split() for l in lines[1:]]

    def test_add_list_remove(self):
        creds = self.server.create_app("--name", uniq("cli"))
        app_id = creds["MEETD_APP_ID"]
        client = self.server.client(creds)
        cp = self.server.app("webhook", "add", app_id, "http://127.0.0.1:9/cli")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        [[hid, created, token, url]] = self.parse_rows(cp.stdout)
        self.assertRegex(token, r"^[0-9A-Za-z]{32}$")
        self.assertEqual(url, "http://127.0.0.1:9/cli")
        self.assertRegex(created, r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
        cp = self.server.app("webhook", "add", app_id, "https://example.invalid/two",
                             "--token", "fixed-token")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        [[hid2, _, token2, _]] = self.parse_rows(cp.stdout)
        self.assertEqual(token2, "fixed-token")

        # The running server sees what the command wrote, and the other way round.
        api = self.hooks(client)
        self.assertEqual([(h["id"], h["token"], h["url"]) for h in api],
                         [(hid, token, "http://127.0.0.1:9/cli"),
                          (hid2, "fixed-token", "https://example.invalid/two")])
        made = self.add_hook(client, "http://127.0.0.1:9/api")
        cp = self.server.app("webhook", "list", app_id)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual([r[0] for r in self.parse_rows(cp.stdout)], [hid, hid2, made["id"]])

        cp = self.server.app("webhook", "remove", app_id, hid)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual([h["id"] for h in self.hooks(client)], [hid2, made["id"]])

    def test_errors(self):
        creds = self.server.create_app("--name", uniq("cli"))
        app_id = creds["MEETD_APP_ID"]
        other = self.server.create_app("--name", uniq("cli"))["MEETD_APP_ID"]
        cp = self.server.app("webhook", "add", other, "http://127.0.0.1:9/other")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        [[other_id, _, _, _]] = self.parse_rows(cp.stdout)
        # Usage errors: 2, nothing written.
        for args in (("add", app_id, "ftp://x/"), ("add", app_id), ("add", app_id, "http://x/",
                     "--token", "a b"), ("list",), ("frob", app_id), ("list", app_id, "--token", "t"),
                     ()):
            with self.subTest(args=args):
                cp = self.server.app("webhook", *args)
                self.assertEqual(cp.returncode, 2, (args, cp.stdout, cp.stderr))
                self.assertTrue(cp.stderr.strip())
        # Failures: 1 with a message.
        for args in (("list", "no-such-app"), ("add", "no-such-app", "http://x/"),
                     ("remove", app_id, "424242"), ("remove", app_id, other_id),
                     ("remove", app_id, "abc")):
            with self.subTest(args=args):
                cp = self.server.app("webhook", *args)
                self.assertEqual(cp.returncode, 1, (args, cp.stdout, cp.stderr))
                self.assertTrue(cp.stderr.strip())
        self.assertEqual(self.hooks(self.server.client(creds)), [])
        cp = self.server.app("webhook", "list", other)
        self.assertEqual([r[0] for r in self.parse_rows(cp.stdout)], [other_id])


# ---------------------------------------------------------------- events
# Everything below needs the handlers to enqueue events (join, leave, kickout).

class WebhookEventsTest(WebhookCase):
    server_args = QUICK

    def test_join_leave_kickout_events(self):
        c = self.fresh_client()
        hook, path = self.hook_for(c, uniq("events"))
        info = self.create_meeting("alice", client=c)
        mid = info["meeting_id"]
        t0 = int(time.time() * 1000)
        resp = self.join_req(mid, "alice", 1, nick_name="Alice 王", client=c)
        alice = self.assert_ok(resp)
        join_trace = resp.trace
        bob = self.join(mid, "bob", 2, nick_name="Bob", client=c)
        guest = self.join(mid, guest_id=uniq("g"), instanceid=3, client=c)
        self.assertEqual(self.assert_ok(self.leave(mid, bob, client=c)), {})
        bob = self.join(mid, "bob", 2, nick_name="Bob", client=c)
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)], allow_rejoin=False,
                                    reason="spamming links"), client=c)
        t1 = int(time.time() * 1000)

        self.rx.wait(lambda rx: find(rx.accepted(path), KICKED, bob["ms_open_id"], 2,
                                     key="to_operator"), "kicked-out event")
        self.rx.wait(lambda rx: len(find(rx.accepted(path), JOINED, bob["ms_open_id"], 2)) >= 2
                     and find(rx.accepted(path), LEFT, bob["ms_open_id"], 2)
                     and find(rx.accepted(path), JOINED, alice["ms_open_id"], 1)
                     and find(rx.accepted(path), JOINED, guest["ms_open_id"], 3),
                     "join and leave events")
        events = self.rx.accepted(path)

        def check_meeting(ev):
            mi = item(ev)["meeting_info"]
            self.assertEqual(mi["meeting_id"], mid)
            self.assertEqual(mi["meeting_code"], info["meeting_code"])
            self.assertEqual(mi["subject"], info["subject"])
            self.assertEqual(mi["meeting_type"], 0)
            self.assertEqual(mi["start_time"], int(info["start_time"]))
            self.assertEqual(mi["end_time"], int(info["end_time"]))
            op = item(ev)["operate_time"]
            self.assertIsInstance(op, int)
            self.assertTrue(t0 - 1000 <= op <= t1 + 1000, (t0, op, t1))
            self.assertIsInstance(ev["trace_id"], str)
            self.assertTrue(ev["trace_id"])

        def check_person(p, dev, userid, nick, instanceid):
            self.assertEqual(p["userid"], userid)
            self.assertEqual(p["uuid"], dev["uuid"])
            self.assertEqual(p["ms_open_id"], dev["ms_open_id"])
            self.assertEqual(p["user_name"], b64(nick))
            self.assertEqual(p["instance_id"], str(instanceid))

        joined = find(events, JOINED, alice["ms_open_id"], 1)[0]
        self.assertEqual(set(joined), {"event", "trace_id", "payload"})
        self.assertEqual(len(joined["payload"]), 1)
        check_meeting(joined)
        check_person(item(joined)["operator"], alice, "alice", "Alice 王", 1)
        self.assertEqual(joined["trace_id"], join_trace)
        self.assertNotIn("to_operator", item(joined))

        left = find(events, LEFT, bob["ms_open_id"], 2)[0]
        check_meeting(left)
        check_person(item(left)["operator"], bob, "bob", "Bob", 2)

        g = find(events, JOINED, guest["ms_open_id"], 3)[0]
        self.assertEqual(item(g)["operator"]["userid"], "")

        kicked = find(events, KICKED, bob["ms_open_id"], 2, key="to_operator")[0]
        check_meeting(kicked)
        check_person(item(kicked)["operator"], alice, "alice", "Alice 王", 1)
        check_person(item(kicked)["to_operator"], bob, "bob", "Bob", 2)
        self.assertEqual(item(kicked)["reason"], "spamming links")
        self.assertIs(item(kicked)["allow_rejoin"], False)

        # The deliveries endpoint tells the same story, every one delivered.
        rows = wait_for(lambda: self.all_settled(c, "delivered", 6), "all deliveries settled")
        self.assertEqual({r["event"] for r in rows}, {JOINED, LEFT, KICKED})
        ids = [int(r["id"]) for r in rows]
        self.assertEqual(ids, sorted(ids, reverse=True))
        for r in rows:
            self.assertEqual(r["webhook_id"], hook["id"])
            self.assertGreaterEqual(r["attempts"], 1)
            self.assertTrue(200 <= r["last_http_status"] < 300, r)
            self.assertEqual(r["last_error"], "")
            self.assertGreaterEqual(r["delivered_at"], r["created_at"])
        self.assertTrue({r["id"] for r in rows} <= self.rx.accepted_deliveries())

    def test_every_webhook_hears_every_event_and_other_apps_nothing(self):
        c, other = self.fresh_client(), self.fresh_client()
        _, p1 = self.hook_for(c, uniq("one"))
        _, p2 = self.hook_for(c, uniq("two"))
        _, p3 = self.hook_for(other, uniq("other"))
        mid = self.new_meeting("alice", client=c)
        dev = self.join(mid, "alice", 1, client=c)
        for p in (p1, p2):
            self.rx.wait(lambda rx, p=p: find(rx.accepted(p), JOINED, dev["ms_open_id"]),
                         "joined event at %s" % p)
        wait_for(lambda: self.all_settled(c, "delivered", 2), "two deliveries")
        # The other app has a webhook too but no events: nothing was queued for it.
        self.assertEqual(self.deliveries(other), [])
        self.assertEqual(self.rx.count(p3), 0)

    def test_deleted_webhook_hears_nothing_more(self):
        c = self.fresh_client()
        hook, path = self.hook_for(c, uniq("gone"))
        _, kept = self.hook_for(c, uniq("kept"))
        self.assert_ok(c.delete("/meetd/v1/webhooks/%s" % hook["id"]))
        mid = self.new_meeting("alice", client=c)
        dev = self.join(mid, "alice", 1, client=c)
        self.rx.wait(lambda rx: find(rx.accepted(kept), JOINED, dev["ms_open_id"]), "joined")
        rows = wait_for(lambda: self.all_settled(c, "delivered", 1), "delivery")
        self.assertEqual(len(rows), 1)
        self.assertEqual(self.rx.count(path), 0)

    def test_deliveries_paging_and_filter(self):
        c = self.fresh_client()
        self.hook_for(c, uniq("paging"))
        mid = self.new_meeting("alice", client=c)
        for i in range(1, 6):
            self.join(mid, "u%d" % i, 1, client=c)
        rows = wait_for(lambda: self.all_settled(c, "delivered", 5), "five deliveries")
        self.assertEqual(len(rows), 5)
        page = self.assert_ok(self.deliveries_req(c, pos=1, size=2))
        self.assertEqual((page["total_count"], page["has_remaining"], page["next_pos"]),
                         (5, True, 3))
        self.assertEqual([r["id"] for r in page["deliveries"]], [rows[1]["id"], rows[2]["id"]])
        last = self.assert_ok(self.deliveries_req(c, pos=4, size=2))
        self.assertEqual((last["has_remaining"], last["next_pos"], len(last["deliveries"])),
                         (False, 5, 1))
        self.assertEqual(self.assert_ok(self.deliveries_req(c, status="delivered"))["total_count"], 5)
        self.assertEqual(self.assert_ok(self.deliveries_req(c, status="pending"))["total_count"], 0)
        self.assertEqual(self.assert_ok(self.deliveries_req(c, status="failed"))["total_count"], 0)


class WebhookWhichEventsTest(WebhookCase):
    """Which events each way in and out of a meeting sends, exactly: what
    docs/api.md's event table says."""
    server_args = QUICK + ("--heartbeat", "1", "--presence-grace", "1")

    def by_trace(self, path):
        """{trace_id: sorted [(event, ms_open_id of the participant)]}, one per
        delivery; the participant of a kicked-out event is its to_operator."""
        with self.rx.cond:
            reqs = [r for r in self.rx.requests if r["path"] == path and r["event"] is not None]
        out, seen = {}, set()
        for r in reqs:
            if r["delivery"] in seen:
                continue
            seen.add(r["delivery"])
            ev = r["event"]
            who = item(ev)["to_operator" if ev["event"] == KICKED else "operator"]
            out.setdefault(ev["trace_id"], []).append((ev["event"], who["ms_open_id"]))
        return {t: sorted(v) for t, v in out.items()}

    def test_events_of_each_way_out(self):
        c = self.fresh_client()
        _, path = self.hook_for(c, uniq("which"))
        mid = self.new_meeting("alice", client=c)
        alice = self.join(mid, "alice", 1, client=c)
        bob = self.join(mid, "bob", 1, client=c)
        carl = self.join(mid, "carl", 1, client=c)
        dave = self.join(mid, "dave", 1, client=c)
        erin = self.join(mid, "erin", 1, client=c)

        leave = self.leave(mid, bob, client=c)
        self.assert_ok(leave)
        kick = self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(carl)], allow_rejoin=True),
                            client=c)
        rejoin = self.join_req(mid, "dave", 1, client=c)
        dave2 = self.assert_ok(rejoin)
        # erin's stream opens and goes: past the grace period she leaves.
        self.events(erin).close()
        wait_for(lambda: (LEFT, erin["ms_open_id"]) in sum(self.by_trace(path).values(), []),
                 "erin's participant-left after her stream went")
        dismiss = self.dismiss(mid, "alice", client=c)
        self.assert_ok(dismiss)

        n = 5 + 1 + 2 + 1 + 1 + 2          # joins, leave, kickout, rejoin, time-out, dismiss
        wait_for(lambda: self.all_settled(c, "delivered", n), "every delivery")
        got = self.by_trace(path)
        self.assertEqual(sum(len(v) for v in got.values()), n, got)
        self.assertEqual(got[leave.trace], [(LEFT, bob["ms_open_id"])])
        # A kickout: kicked-out and participant-left of the removed device.
        self.assertEqual(got[kick.trace], sorted([(KICKED, carl["ms_open_id"]),
                                                  (LEFT, carl["ms_open_id"])]))
        # A second join on the same instanceid replaces the session: only
        # participant-joined, no participant-left for the one it replaced.
        self.assertEqual(dave2["ms_open_id"], dave["ms_open_id"])
        self.assertEqual(got[rejoin.trace], [(JOINED, dave["ms_open_id"])])
        # A dismiss: participant-left of every device still present.
        self.assertEqual(got[dismiss.trace], sorted([(LEFT, alice["ms_open_id"]),
                                                     (LEFT, dave["ms_open_id"])]))
        # A presence time-out: participant-left under a trace id of its own.
        requests = {leave.trace, kick.trace, rejoin.trace, dismiss.trace}
        timeout = [t for t, v in got.items() if t not in requests and (LEFT, erin["ms_open_id"]) in v]
        self.assertEqual(len(timeout), 1, got)
        self.assertEqual(got[timeout[0]], [(LEFT, erin["ms_open_id"])])


class WebhookOutageTest(WebhookCase):
    """At least once: failures and a stopped receiver lose nothing."""
    server_args = QUICK

    def test_receiver_errors_then_down_then_up(self):
        c = self.fresh_client()
        _, path = self.hook_for(c, uniq("outage"))
        mid = self.new_meeting("alice", client=c)

        # 1. The receiver answers 500: events are retried, not lost.
        self.rx.set_status(500)
        first = [self.join(mid, "a%d" % i, 1, client=c) for i in range(3)]
        self.rx.wait(lambda rx: rx.count(path) >= 6, "retries after 500s")
        pending = self.deliveries(c, status="pending")
        self.assertEqual(len(pending), 3)
        self.assertTrue(any(r["attempts"] >= 1 and r["last_http_status"] == 500
                            and r["last_error"] for r in pending), pending)

        # 2. The receiver is down (connection refused); more events happen.
        self.rx.stop()
        second = [self.join(mid, "b%d" % i, 1, client=c) for i in range(3)]
        first_ids = {p["id"] for p in pending}

        def refused():
            rows = [r for r in self.deliveries(c) if r["id"] not in first_ids]
            return len(rows) == 3 and all(r["status"] == "pending" and r["attempts"] >= 1
                                          and r["last_http_status"] == 0 and r["last_error"]
                                          for r in rows)
        wait_for(refused, "refused attempts recorded")

        # 3. Up again: every event arrives (duplicates allowed).
        self.rx.set_status(200)
        self.rx.start()
        for dev in first + second:
            self.rx.wait(lambda rx, d=dev: find(rx.accepted(path), JOINED, d["ms_open_id"]),
                         "joined event of %s" % dev["ms_open_id"])
        rows = wait_for(lambda: self.all_settled(c, "delivered", 6), "all delivered")
        self.assertEqual(len(rows), 6)
        self.assertTrue({r["id"] for r in rows} <= self.rx.accepted_deliveries())


class WebhookRestartTest(WebhookCase):
    server_args = QUICK
    server_per_test = True

    def test_pending_deliveries_survive_a_restart(self):
        c = self.fresh_client()
        _, path = self.hook_for(c, uniq("restart"))
        mid = self.new_meeting("alice", client=c)
        self.rx.set_status(503)
        devs = [self.join(mid, "r%d" % i, 1, client=c) for i in range(3)]
        self.rx.wait(lambda rx: rx.count(path) >= 3, "first attempts")
        self.rx.stop()
        self.assertEqual(len(self.deliveries(c, status="pending")), 3)

        self.server.restart()          # c signs for the same app on the new port
        self.rx.set_status(200)
        self.rx.start()
        for dev in devs:
            self.rx.wait(lambda rx, d=dev: find(rx.accepted(path), JOINED, d["ms_open_id"]),
                         "joined event of %s after the restart" % dev["ms_open_id"])
        rows = wait_for(lambda: self.all_settled(c, "delivered", 3), "delivered after restart")
        self.assertTrue(all(r["attempts"] >= 2 for r in rows), rows)

    def test_nothing_repeated_after_a_clean_restart(self):
        # Stopped with nothing pending: after the start nothing is sent twice.
        c = self.fresh_client()
        _, path = self.hook_for(c, uniq("quiet"))
        mid = self.new_meeting("alice", client=c)
        dev = self.join(mid, "q", 1, client=c)
        self.rx.wait(lambda rx: find(rx.accepted(path), JOINED, dev["ms_open_id"]), "joined")
        wait_for(lambda: self.all_settled(c, "delivered", 1), "delivered")
        n = self.rx.count(path)
        self.server.restart()
        # A new event after the restart arrives; the old one is not repeated.
        dev2 = self.join(mid, "q2", 1, client=c)
        self.rx.wait(lambda rx: find(rx.accepted(path), JOINED, dev2["ms_open_id"]), "joined")
        wait_for(lambda: self.all_settled(c, "delivered", 2), "delivered")
        self.assertEqual(self.rx.count(path), n + 1)


class WebhookStopUnderWayTest(WebhookCase):
    # Attempts may take a minute, and so a lease lasts longer than DEADLINE:
    # only the lease given back at the stop lets the restart make it now.
    server_args = QUICK + ("--webhook-timeout-ms", "60000")
    server_per_test = True

    def test_attempt_under_way_at_a_stop_is_made_after_the_start(self):
        c = self.fresh_client()
        _, path = self.hook_for(c, uniq("held"))
        mid = self.new_meeting("alice", client=c)
        self.rx.hold(True)
        dev = self.join(mid, "h", 1, client=c)
        self.rx.wait(lambda rx: rx.arrived >= 1, "the attempt")
        self.server.stop()             # the attempt is abandoned, its lease given back
        self.rx.hold(False)
        self.server.start()
        self.rx.wait(lambda rx: len(find(rx.accepted(path), JOINED, dev["ms_open_id"])) >= 2,
                     "the attempt made again after the start")
        rows = wait_for(lambda: self.all_settled(c, "delivered", 1), "delivered")
        self.assertEqual(len(rows), 1)


class WebhookGiveUpTest(WebhookCase):
    server_args = QUICK + ("--webhook-attempts", "2")

    def test_failed_after_max_attempts(self):
        c = self.fresh_client()
        _, path = self.hook_for(c, uniq("giveup"))
        self.rx.set_status(500)
        mid = self.new_meeting("alice", client=c)
        self.join(mid, "alice", 1, client=c)
        rows = wait_for(lambda: self.all_settled(c, "failed", 1), "failed delivery")
        [r] = rows
        self.assertEqual((r["attempts"], r["last_http_status"], r["last_error"], r["delivered_at"]),
                         (2, 500, "HTTP 500", 0))
        self.assertEqual(self.rx.count(path), 2)
        self.assertEqual(self.assert_ok(self.deliveries_req(c, status="failed"))["total_count"], 1)
        self.assertEqual(self.assert_ok(self.deliveries_req(c, status="pending"))["total_count"], 0)


class WebhookPublicOnlyTest(WebhookCase):
    """--webhook-public-only: a tenant cannot make meetd connect to loopback
    (or any private address): the delivery fails without a byte sent."""
    server_args = QUICK + ("--webhook-attempts", "1", "--webhook-public-only")

    def test_loopback_receiver_is_never_reached(self):
        c = self.fresh_client()
        _, path = self.hook_for(c, uniq("private"))
        mid = self.new_meeting("alice", client=c)
        self.join(mid, "alice", 1, client=c)
        [r] = wait_for(lambda: self.all_settled(c, "failed", 1), "failed delivery")
        self.assertEqual((r["attempts"], r["last_http_status"]), (1, 0))
        self.assertTrue(r["last_error"])
        self.assertEqual(self.rx.count(path), 0)


class WebhookPublicOnlySpellingsTest(WebhookCase):
    """An IPv6 address that carries an IPv4 one is judged by the IPv4: every
    such spelling of loopback is refused before a connection is made, and
    the delivery says why."""
    server_args = QUICK + ("--webhook-attempts", "1", "--webhook-public-only")

    SPELLINGS = (
        "[::127.0.0.1]",                 # IPv4-compatible
        "[::ffff:127.0.0.1]",            # IPv4-mapped
        "[::ffff:0:7f00:1]",             # IPv4-translated (SIIT)
        "[64:ff9b::7f00:1]",             # NAT64 well-known prefix
        "[64:ff9b::10.0.0.1]",           # NAT64, a private network
        "[64:ff9b:1::7f00:1]",           # NAT64 local-use prefix
        "[2002:7f00:1::1]",              # 6to4 of 127.0.0.1
        "[2002:a9fe:a9fe::1]",           # 6to4 of 169.254.169.254 (cloud metadata)
        "[2001:0:808:808::80ff:fffe]",   # Teredo, client 127.0.0.1
        "localhost",                     # a name: judged by what it resolves to
    )

    def test_embedded_ipv4_spellings_are_refused(self):
        c = self.fresh_client()
        for host in self.SPELLINGS:
            self.add_hook(c, "http://%s:%d/hook/x" % (host, self.rx.port))
        mid = self.new_meeting("alice", client=c)
        self.join(mid, "alice", 1, client=c)
        rows = wait_for(lambda: self.all_settled(c, "failed", len(self.SPELLINGS)),
                        "every delivery failed")
        self.assertEqual(len(rows), len(self.SPELLINGS))
        for r in rows:
            self.assertEqual((r["attempts"], r["last_http_status"]), (1, 0), r)
            self.assertRegex(r["last_error"], r"^address \S+ refused \(--webhook-public-only\)$", r)
        self.assertEqual(self.rx.count(), 0)


PROXY_VARS = ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy",
              "ALL_PROXY")


class WebhookProxyEnvTest(WebhookCase):
    """Proxy variables in meetd's environment are not used: a delivery goes
    straight to its receiver, never to the proxy they name."""
    server_args = QUICK

    @classmethod
    def setUpClass(cls):
        cls.trap = Listener("close")
        cls.addClassCleanup(cls.trap.close)
        cls.server_env = dict({v: cls.trap.url("") for v in PROXY_VARS}, no_proxy="",
                              NO_PROXY="")
        super().setUpClass()

    def test_proxy_variables_are_ignored(self):
        c = self.fresh_client()
        _, path = self.hook_for(c, uniq("direct"))
        mid = self.new_meeting("alice", client=c)
        dev = self.join(mid, "alice", 1, client=c)
        self.rx.wait(lambda rx: find(rx.accepted(path), JOINED, dev["ms_open_id"]), "joined")
        wait_for(lambda: self.all_settled(c, "delivered", 1), "delivered")
        self.assertEqual(self.trap.accepted, 0)


class WebhookProxyOptionTest(WebhookCase):
    """--webhook-proxy: every delivery goes through the configured proxy;
    NO_PROXY in the environment does not route around it."""

    @classmethod
    def setUpClass(cls):
        cls.proxy = FakeProxy()
        cls.addClassCleanup(cls.proxy.close)
        cls.trap = Listener("close")
        cls.addClassCleanup(cls.trap.close)
        cls.server_args = QUICK + ("--webhook-proxy", cls.proxy.url())
        cls.server_env = {"NO_PROXY": "*", "no_proxy": "*", "http_proxy": cls.trap.url("")}
        super().setUpClass()

    def test_deliveries_go_through_the_proxy(self):
        c = self.fresh_client()
        _, path = self.hook_for(c, uniq("proxied"))
        mid = self.new_meeting("alice", client=c)
        self.join(mid, "alice", 1, client=c)
        wait_for(lambda: self.all_settled(c, "delivered", 1), "delivered")
        lines = self.proxy.wait_lines(1)
        self.assertIn("POST http://127.0.0.1:%d%s HTTP/1.1" % (self.rx.port, path), lines)
        self.assertEqual(self.rx.count(path), 0)
        self.assertEqual(self.trap.accepted, 0)

    def test_bad_proxy_option_is_refused(self):
        for bad in ("127.0.0.1:3128", "ftp://127.0.0.1/", "http://", "http://a b/"):
            with self.subTest(proxy=bad):
                cp = subprocess.run([self.server.bin, "serve", "--listen", "127.0.0.1:0",
                                     "--data", self.server.data, "--webhook-proxy", bad],
                                    stdin=subprocess.DEVNULL, capture_output=True, text=True,
                                    timeout=DEADLINE)
                self.assertEqual(cp.returncode, 2, cp)
                self.assertIn("--webhook-proxy", cp.stderr)


class WebhookProxyPublicOnlyTest(WebhookCase):
    """With --webhook-proxy and --webhook-public-only the proxy's address is
    the one checked: a proxy on loopback is refused like a receiver."""
    server_args = QUICK + ("--webhook-attempts", "1", "--webhook-public-only")

    @classmethod
    def setUpClass(cls):
        cls.proxy = FakeProxy()
        cls.addClassCleanup(cls.proxy.close)
        cls.server_args = cls.server_args + ("--webhook-proxy", cls.proxy.url())
        super().setUpClass()

    def test_loopback_proxy_is_refused(self):
        c = self.fresh_client()
        self.add_hook(c, "http://receiver.invalid/hook")   # resolved by the proxy, never here
        mid = self.new_meeting("alice", client=c)
        self.join(mid, "alice", 1, client=c)
        [r] = wait_for(lambda: self.all_settled(c, "failed", 1), "failed delivery")
        self.assertEqual(r["last_error"], "address 127.0.0.1 refused (--webhook-public-only)")
        self.assertEqual(self.proxy.lines, [])


class WebhookFairnessTest(WebhookCase):
    """A receiver that accepts and never answers holds only its own
    deliveries: another app's delivery to a healthy receiver is not held
    up behind them, and meetd still stops at once."""
    server_per_test = True     # its stop is timed

    def test_dead_receiver_of_one_app_does_not_delay_another(self):
        dead = Listener("never")
        self.addCleanup(dead.close)
        a, b = self.fresh_client(), self.fresh_client()
        for i in range(20):
            self.add_hook(a, dead.url("/hook/%d" % i))
        mid_a = self.new_meeting("alice", client=a)
        for i in range(4):                       # 80 deliveries, none will be answered
            self.join(mid_a, "a%d" % i, 1, client=a)
        dead.wait_accepted(8)                    # the worker is busy with them

        _, path = self.hook_for(b, uniq("healthy"))
        mid_b = self.new_meeting("alice", client=b)
        t0 = time.monotonic()
        dev = self.join(mid_b, "bob", 1, client=b)
        self.rx.wait(lambda rx: find(rx.accepted(path), JOINED, dev["ms_open_id"]),
                     "the other app's joined event")
        delay = time.monotonic() - t0
        self.assertLess(delay, 1.0, "delivery to a healthy receiver took %.2f s" % delay)
        # A's deliveries are all still owed, none given up or lost.
        self.assertEqual(len(self.deliveries(a, status="pending")), 80)

        t0 = time.monotonic()
        self.server.stop()
        self.assertLess(time.monotonic() - t0, 3.0, "meetd took long to stop")

    def test_dead_receiver_does_not_delay_the_same_apps_other_receiver(self):
        dead = Listener("never")
        self.addCleanup(dead.close)
        c = self.fresh_client()
        for i in range(19):
            self.add_hook(c, dead.url("/hook/%d" % i))
        _, path = self.hook_for(c, uniq("healthy"))     # the app's 20th
        mid = self.new_meeting("alice", client=c)
        first = self.join(mid, "a0", 1, client=c)
        dead.wait_accepted(8)
        self.rx.wait(lambda rx: find(rx.accepted(path), JOINED, first["ms_open_id"]), "joined")
        for i in range(1, 4):                    # 57 more for the dead receiver
            t0 = time.monotonic()
            dev = self.join(mid, "a%d" % i, 1, client=c)
            self.rx.wait(lambda rx, d=dev: find(rx.accepted(path), JOINED, d["ms_open_id"]),
                         "joined event at the healthy receiver")
            delay = time.monotonic() - t0
            self.assertLess(delay, 1.0, "delivery to the healthy receiver took %.2f s" % delay)
        # The dead receiver never had more than its share of connections
        # (a share per node: each node delivers; two in cluster mode).
        self.assertLessEqual(dead.accepted, 8 * len(self.server.ports()))


if __name__ == "__main__":
    unittest.main()
