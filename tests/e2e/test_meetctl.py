"""meetctl against a real meetd: every subcommand, table and --json output,
API errors (exit 1, code on stderr), usage errors (exit 2), and the checks
meetctl makes before a request leaves (exit 2, nothing sent).

Needs MEETCTL_BIN (the meetctl binary) besides MEETD_BIN.
"""
import http.server
import json
import os
import pty
import queue
import re
import socket
import subprocess
import threading
import time
import unittest

from meetd_harness import (DEADLINE, MeetdCase, child_env, kick_body, now, op_ms, op_userid,
                           sanitizer_reports, tgt_ms, uniq)

MEETING_ID_RE = re.compile(r"^meeting_id\s+(\d{1,19})$", re.M)
ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))

COMMANDS = ["meeting create", "meeting get", "meeting list", "meeting update",
            "meeting cancel", "meeting dismiss", "meeting participants", "meeting realtime",
            "kickout", "cohost add", "cohost remove",
            "device join", "device leave", "device watch", "bans list", "bans lift",
            "audit", "health", "request"]

FAKE_CREDS = {"MEETD_APP_ID": "200000001", "MEETD_SDK_ID": "",
              "MEETD_SECRET_ID": "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
              "MEETD_SECRET_KEY": "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"}


def meetctl_bin():
    path = os.environ.get("MEETCTL_BIN")
    if not path:
        raise RuntimeError("MEETCTL_BIN is not set (path of the meetctl binary)")
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        raise RuntimeError("MEETCTL_BIN=%s is not an executable file" % path)
    return path


def read_doc(path):
    """A file of the source tree, by its path from the top."""
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


def doc_matches(case, pattern, path):
    """Fails unless the doc at path has a match for pattern (without printing the doc)."""
    if re.search(pattern, read_doc(path), re.M) is None:
        case.fail("%s has nothing that matches %r" % (path, pattern))


def project_version():
    m = re.search(r"project\(meetd VERSION ([0-9.]+)", read_doc("CMakeLists.txt"))
    if m is None:
        raise AssertionError("no project(meetd VERSION x.y.z) in CMakeLists.txt")
    return m.group(1)


def ctl_env(creds=None, **extra):
    """The environment of one meetctl run: no stray MEETD_*, UTC times."""
    env = child_env()
    env["TZ"] = "UTC"
    env.update(creds or {})
    env.update(extra)
    return env


def run_ctl(args, env, stdin=None):
    cp = subprocess.run([meetctl_bin()] + list(args), input=stdin, capture_output=True,
                        text=True, timeout=DEADLINE, env=env)
    bad = sanitizer_reports(cp.stderr)
    if bad:
        raise AssertionError("meetctl %s reported %s:\n%s" % (" ".join(args), bad, cp.stderr))
    return cp


class Lines:
    """Lines of a pipe, read by a thread, taken with a deadline."""

    def __init__(self, pipe):
        self.q = queue.Queue()
        self.seen = []
        self.t = threading.Thread(target=self._read, args=(pipe,), daemon=True)
        self.t.start()

    def _read(self, pipe):
        for line in iter(pipe.readline, ""):
            self.q.put(line.rstrip("\n"))
        self.q.put(None)

    def next(self, timeout=DEADLINE):
        try:
            line = self.q.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no line within %s s (seen %r)" % (timeout, self.seen))
        self.seen.append(line)
        return line

    def rest(self):
        self.t.join(DEADLINE)
        out = []
        while not self.q.empty():
            line = self.q.get()
            if line is not None:
                out.append(line)
        return out


class Watch:
    """meetctl device watch running in the background."""

    def __init__(self, args, env):
        self.proc = subprocess.Popen([meetctl_bin()] + list(args), stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                     env=env)
        self.out = Lines(self.proc.stdout)
        self.err = Lines(self.proc.stderr)

    def wait_connected(self):
        """The stream is open once meetctl says so on stderr; None if it exited first."""
        while True:
            line = self.err.next()
            if line is None:
                return None
            if "connected" in line:
                return line

    def finish(self):
        try:
            rc = self.proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("meetctl device watch did not end")
        err = "\n".join(self.err.seen + self.err.rest())
        bad = sanitizer_reports(err)
        if bad:
            raise AssertionError("meetctl device watch reported %s:\n%s" % (bad, err))
        return rc, err

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class Tripwire:
    """A TCP listener that counts connections and closes them unanswered:
    an endpoint for commands that must not send anything."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.accepts = 0
        self.t = threading.Thread(target=self._run, daemon=True)
        self.t.start()

    def _run(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.accepts += 1
            conn.close()

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()
        self.t.join(DEADLINE)


# ---------------------------------------------------------------- no server

class HelpTest(unittest.TestCase):
    def test_every_subcommand_has_help_with_an_example(self):
        for cmd in COMMANDS:
            with self.subTest(cmd=cmd):
                cp = run_ctl(cmd.split() + ["--help"], ctl_env())
                self.assertEqual(cp.returncode, 0, cp.stderr)
                self.assertTrue(cp.stdout.startswith("usage: meetctl " + cmd), cp.stdout)
                self.assertIn("Example:\n  meetctl ", cp.stdout)
                self.assertIn("--json", cp.stdout)

    def test_top_level_and_group_help(self):
        cp = run_ctl(["--help"], ctl_env())
        self.assertEqual(cp.returncode, 0)
        for cmd in COMMANDS:
            self.assertIn(cmd, cp.stdout)
        self.assertIn("Exit status: 0 success, 1 API error", cp.stdout)
        for group in ("meeting", "cohost", "device", "bans"):
            cp = run_ctl([group, "--help"], ctl_env())
            self.assertEqual(cp.returncode, 0, group)
            self.assertIn("usage: meetctl %s SUBCOMMAND" % group, cp.stdout)

    def test_version(self):
        cp = run_ctl(["--version"], ctl_env())
        self.assertEqual((cp.returncode, cp.stdout, cp.stderr),
                         (0, "meetctl %s\n" % project_version(), ""))
        self.assertIn("meetctl --version", run_ctl(["--help"], ctl_env()).stdout)

    def test_exit_status_table(self):
        # --help and docs/meetctl.md give every status meetctl uses.
        top = run_ctl(["--help"], ctl_env()).stdout
        self.assertIn("3 kickout removed nothing, 4-11 why 'device watch' ended", top)
        watch = run_ctl(["device", "watch", "--help"], ctl_env()).stdout
        for code, what in ((4, "kicked"), (5, "meeting-ended"), (6, "replaced"),
                           (7, "meetd closed the stream without an event"),
                           (8, "connection lost"), (9, "left"), (10, "superseded"),
                           (11, "shutdown")):
            self.assertRegex(watch, r"(?m)^  %-2d %s" % (code, re.escape(what)))
            doc_matches(self, r"^\| %d \| device watch: %s" % (code, re.escape(what)),
                        "docs/meetctl.md")
        doc_matches(self, r"^\| 3 \| kickout: no target was removed", "docs/meetctl.md")
        self.assertIn("Exit status 3: meetd reported that no target was removed",
                      run_ctl(["kickout", "--help"], ctl_env()).stdout)

    def test_device_type_names_agree(self):
        # One name per device type: the contract's table (docs/api.md "Identities").
        doc_matches(self, r"^\| 0 \| PSTN phone \|", "docs/api.md")
        kick = run_ctl(["kickout", "--help"], ctl_env()).stdout
        self.assertIn("INST is the device type: 0 PSTN phone, 1 PC,", kick)
        doc_matches(self, r"INST is the device type: 0 PSTN phone, 1 PC,", "docs/meetctl.md")

    def test_page_sizes_are_stated(self):
        for cmd in (["audit"], ["meeting", "participants"]):
            out = run_ctl(cmd + ["--help"], ctl_env()).stdout
            self.assertRegex(out, r"--size N\s+\S+ per page, 1\.\.100 \(default 20\)", cmd)

    def test_usage_errors_exit_2(self):
        cases = [[], ["frobnicate"], ["meeting"], ["meeting", "frob"],
                 ["meeting", "get", "1", "--userid"], ["meeting", "get", "1"],
                 ["meeting", "get", "--userid", "alice"],
                 ["meeting", "get", "1", "2", "--userid", "alice"],
                 ["bans", "list", "1", "--bogus"], ["audit", "1", "--size", "x"],
                 ["--timeout", "0", "health"], ["meeting", "create", "--userid", "a"],
                 ["meeting", "create", "--userid", "a", "--subject", "s", "--start", "+1h"],
                 ["meeting", "create", "--userid", "a", "--subject", "s", "--start", "+2h",
                  "--end", "+1h"],
                 ["meeting", "create", "--userid", "a", "--subject", "s", "--type", "x"],
                 ["meeting", "create", "--userid", "a", "--subject", "s", "--recurring", "hourly"],
                 ["meeting", "get", "1", "--userid", "a", "--subject", "s"],
                 ["meeting", "participants", "1", "--userid", "a", "--instanceid", "2"],
                 ["device", "join", "1"], ["device", "join", "1", "--userid", "a", "--guest", "g"],
                 ["device", "leave", "1", "userid:bob/1"], ["device", "watch"],
                 ["request", "GET"], ["request", "get", "/healthz"]]
        tw = Tripwire()
        self.addCleanup(tw.close)
        for args in cases:
            with self.subTest(args=args):
                cp = run_ctl(args, ctl_env(FAKE_CREDS, MEETD_ENDPOINT=tw.url))
                self.assertEqual(cp.returncode, 2, (cp.stdout, cp.stderr))
                self.assertEqual(cp.stdout, "")
                self.assertTrue(cp.stderr.startswith("meetctl"), cp.stderr)
        self.assertEqual(tw.accepts, 0, "a usage error sent a request")

    def test_secrets_are_not_taken_from_argv(self):
        for flag in ("--secret-key", "--secret-id", "--app-id"):
            cp = run_ctl(["bans", "list", "1", flag, "x"], ctl_env())
            self.assertEqual(cp.returncode, 2, flag)
            self.assertIn("unknown option", cp.stderr)

    def test_no_credentials_is_a_usage_error(self):
        cp = run_ctl(["bans", "list", "1"], ctl_env())
        self.assertEqual(cp.returncode, 2)
        self.assertIn("no credentials", cp.stderr)
        self.assertIn("MEETD_SECRET_KEY", cp.stderr)

    def test_unreachable_server_exits_1(self):
        tw = Tripwire()
        url = tw.url
        tw.close()      # nothing listens there any more
        cp = run_ctl(["--endpoint", url, "health"], ctl_env())
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertIn("transport error", cp.stderr)


class PreflightTest(unittest.TestCase):
    """What the contract makes invalid is refused before anything is sent."""

    def setUp(self):
        self.tw = Tripwire()
        self.addCleanup(self.tw.close)

    def ctl(self, *args):
        return run_ctl(list(args), ctl_env(FAKE_CREDS, MEETD_ENDPOINT=self.tw.url))

    def refused(self, args, says):
        cp = self.ctl(*args)
        self.assertEqual(cp.returncode, 2, (cp.stdout, cp.stderr))
        self.assertIn(says, cp.stderr)
        self.assertEqual(cp.stdout, "")
        self.assertEqual(self.tw.accepts, 0, "request sent despite: %s" % cp.stderr)

    def test_tripwire_sees_a_request(self):
        # The control: a valid command does reach the endpoint.
        cp = self.ctl("kickout", "1", "--operator", "userid:alice/1", "--user", "ms:msB/2")
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertEqual(self.tw.accepts, 1)

    def test_more_than_20_users(self):
        users = []
        for i in range(21):
            users += ["--user", "ms:ms%d/2" % i]
        self.refused(["kickout", "1", "--operator", "userid:alice/1"] + users,
                     "21 --user given: a kickout names at most 20 devices")

    def test_no_users(self):
        self.refused(["kickout", "1", "--operator", "userid:alice/1"], "no --user given")

    def test_mra_target_without_reason(self):
        self.refused(["kickout", "1", "--operator", "userid:alice/1", "--user", "ms:msA/2",
                      "--user", "uuid:0A/9"], "--reason is required when a target is an MRA room")
        self.refused(["kickout", "1", "--operator", "userid:alice/1", "--user", "ms:msA/9",
                      "--reason", ""], "--reason is required")

    def test_unknown_instanceid(self):
        for bad in ("11", "31", "-1", "x", "99999999999"):
            self.refused(["kickout", "1", "--operator", "userid:alice/1", "--user",
                          "ms:msA/" + bad], "unknown instanceid")
        self.refused(["kickout", "1", "--operator", "ms:msOp/23", "--user", "ms:msA/2"],
                     "unknown instanceid")
        self.refused(["meeting", "get", "1", "--userid", "a", "--instanceid", "12"],
                     "unknown instanceid")
        self.refused(["device", "join", "1", "--userid", "a", "--instanceid", "40"],
                     "unknown instanceid")

    def test_malformed_names(self):
        for who in ("msA/2", "ms:/2", "ms:msA/", "ms:msA", "openid:x/1", "userid:bob/2"):
            cp = self.ctl("kickout", "1", "--operator", "userid:alice/1", "--user", who)
            self.assertEqual(cp.returncode, 2, who)
        self.refused(["kickout", "1", "--operator", "userid:" + "u" * 65 + "/1",
                      "--user", "ms:msA/2"], "longer than 64 bytes")

    def test_self_kick_and_long_reason(self):
        self.refused(["kickout", "1", "--operator", "ms:msSame/1", "--user", "ms:msSame/2"],
                     "nobody removes themselves")
        self.refused(["kickout", "1", "--operator", "userid:alice/1", "--user", "ms:msA/2",
                      "--reason", "r" * 1025], "at most 1024")

    def test_cohost_rules(self):
        self.refused(["cohost", "add", "1", "--operator", "userid:alice/1"],
                     "exactly one --user")
        self.refused(["cohost", "remove", "1", "--user", "ms:msA/2"], "--operator is required")

    def test_participants_size(self):
        self.refused(["meeting", "participants", "1", "--userid", "a", "--size", "101"],
                     "--size wants a whole number from 1 to 100")

    def test_audit_size(self):
        # The server's bound (docs/api.md "Audit log"), checked before sending.
        for bad in ("101", "1000", "0"):
            self.refused(["audit", "1", "--size", bad], "--size wants a whole number from 1 to 100")

    def test_subject_and_hosts(self):
        self.refused(["meeting", "create", "--userid", "a", "--subject", "s" * 257],
                     "--subject must be at most 512 bytes as Tencent counts them")
        self.refused(["meeting", "create", "--userid", "a", "--subject", "s" * 769],
                     "--subject must be 1 to 768 bytes")
        hosts = []
        for i in range(11):
            hosts += ["--host", "h%d" % i]
        self.refused(["meeting", "create", "--userid", "a", "--subject", "s"] + hosts,
                     "at most 10 --host")


# ---------------------------------------------------------------- against meetd

class MeetctlCase(MeetdCase):
    def env(self, creds=None, **extra):
        creds = dict(creds or self.server.creds)
        creds["MEETD_ENDPOINT"] = "http://127.0.0.1:%d" % self.server.port
        return ctl_env(creds, **extra)

    def ctl(self, *args, env=None, stdin=None):
        return run_ctl(list(args), env or self.env(), stdin=stdin)

    def ok(self, *args, **kw):
        cp = self.ctl(*args, **kw)
        self.assertEqual(cp.returncode, 0, "meetctl %s: %s" % (" ".join(args), cp.stderr))
        return cp.stdout

    def ok_json(self, *args, **kw):
        out = self.ok("--json", *args, **kw)
        self.assertEqual(out.count("\n"), 1, "--json off a terminal is one line: %r" % out)
        return json.loads(out)

    def api_error(self, args, http_status, code, says=None):
        cp = self.ctl(*args)
        self.assertEqual(cp.returncode, 1, (cp.stdout, cp.stderr))
        self.assertEqual(cp.stdout, "")
        m = re.search(r"error (\d+) \(HTTP (\d+)\): (.*) \[trace ([0-9A-Za-z-]+)\]$", cp.stderr)
        self.assertIsNotNone(m, cp.stderr)
        self.assertEqual((int(m.group(1)), int(m.group(2))), (code, http_status), cp.stderr)
        if says is not None:
            self.assertIn(says, m.group(3))
        # The trace id is the server's: its access log names the same request.
        self.assertTrue(self.server.access_line(m.group(4)))
        return cp.stderr

    def new_mid(self, creator="alice"):
        return self.new_meeting(creator)


class MeetingCommandsTest(MeetctlCase):
    def test_health(self):
        self.assertEqual(self.ok("health"), "ok\n")
        self.assertEqual(self.ok_json("health"), {"status": "ok"})

    def test_create_quick_table(self):
        out = self.ok("meeting", "create", "--userid", "alice", "--subject", "周会 tour")
        mid = MEETING_ID_RE.search(out).group(1)
        self.assertRegex(out, r"(?m)^meeting_code\s+\d{9}$")
        self.assertRegex(out, r"(?m)^subject\s+周会 tour$")
        self.assertRegex(out, r"(?m)^type\s+quick$")
        self.assertRegex(out, r"(?m)^hosts\s+alice$")
        info = self.query(mid)
        self.assertEqual(info["subject"], "周会 tour")
        self.assertEqual(info["type"], 1)

    def test_create_scheduled_json(self):
        t = now() + 7200
        body = self.ok_json("meeting", "create", "--userid", "alice", "--subject", "plan",
                            "--start", str(t), "--end", str(t + 1800), "--host", "bob",
                            "--host", "carol", "--instanceid", "2")
        self.assertEqual(body["meeting_number"], 1)
        info = body["meeting_info_list"][0]
        self.assertEqual((info["start_time"], info["end_time"]), (str(t), str(t + 1800)))
        self.assertEqual([h["userid"] for h in info["hosts"]], ["bob", "carol"])
        self.assertEqual(info["type"], 0)
        self.assertEqual(self.query(info["meeting_id"])["meeting_id"], info["meeting_id"])

    def test_create_recurring(self):
        body = self.ok_json("meeting", "create", "--userid", "alice", "--subject", "weekly",
                            "--start", "+1h", "--end", "+2h", "--recurring", "weekly",
                            "--until-count", "3")
        info = body["meeting_info_list"][0]
        self.assertEqual(info["meeting_type"], 1)
        self.assertEqual(len(info["sub_meetings"]), 3)
        out = self.ok("meeting", "get", info["meeting_id"], "--userid", "alice")
        self.assertRegex(out, r"(?m)^recurring\s+yes$")
        self.assertIn("SUB_MEETING_ID", out)
        self.assertEqual(out.count("MEETING_STATE_INIT"), 4)    # the meeting and 3 occurrences

    def test_get_table_and_json(self):
        mid = self.new_mid()
        out = self.ok("meeting", "get", mid, "--userid", "alice")
        self.assertRegex(out, r"(?m)^meeting_id\s+%s$" % mid)
        self.assertRegex(out, r"(?m)^status\s+MEETING_STATE_INIT$")
        body = self.ok_json("meeting", "get", mid, "--userid", "alice", "--instanceid", "1")
        self.assertEqual(body, self.assert_ok(self.query_req(mid)))

    def test_get_errors(self):
        self.api_error(["meeting", "get", "1234567", "--userid", "alice"], 400, 9003,
                       "MEETING NOT EXIST")
        self.api_error(["meeting", "get", "abc", "--userid", "alice"], 400, 9002)

    def test_participants(self):
        mid = self.new_mid()
        bob = self.join(mid, "bob", 2, nick_name="Bob Ng")
        guest = self.join(mid, guest_id="g-1", instanceid=5, nick_name="访客")
        self.leave(mid, bob)
        out = self.ok("meeting", "participants", mid, "--userid", "alice")
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["MS_OPEN_ID", "USER", "NAME", "DEVICE", "JOIN",
                                            "ROLE", "JOINED", "LEFT"])
        self.assertEqual(len(lines), 4)
        self.assertIn(bob["ms_open_id"], lines[1])
        self.assertIn("Bob Ng", lines[1])
        self.assertIn("2 Mac", lines[1])
        self.assertEqual(len(re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", lines[1])), 2)
        self.assertIn(guest["ms_open_id"], lines[2])
        self.assertIn("guest:g-1", lines[2])
        self.assertIn("访客", lines[2])
        self.assertEqual(len(re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", lines[2])), 1)
        self.assertEqual(lines[3], "2 devices")
        body = self.ok_json("meeting", "participants", mid, "--userid", "alice", "--size", "1")
        self.assertEqual(body, self.assert_ok(self.participants_req(mid, size=1)))
        self.assertTrue(body["has_remaining"])
        out = self.ok("meeting", "participants", mid, "--userid", "alice", "--size", "1")
        self.assertIn("1 of 2 devices; more with --pos 1", out)
        self.api_error(["meeting", "participants", mid, "--userid", "mallory"], 403, 9042)

    def test_cancel(self):
        mid = self.new_mid()
        self.assertEqual(self.ok("meeting", "cancel", mid, "--userid", "alice"),
                         "cancelled: %s\n" % mid)
        self.assertEqual(self.query(mid)["status"], "MEETING_STATE_CANCELLED")
        self.api_error(["meeting", "cancel", mid, "--userid", "alice"], 400, 9007)
        mid2 = self.new_mid()
        self.assertEqual(self.ok_json("meeting", "cancel", mid2, "--userid", "alice",
                                      "--reason-code", "2"), {})

    def test_dismiss(self):
        mid = self.new_mid()
        dev = self.join(mid, "bob", 2)
        self.api_error(["meeting", "dismiss", mid, "--userid", "bob"], 403, 9042)
        self.assertEqual(self.ok("meeting", "dismiss", mid, "--userid", "alice"),
                         "dismissed: %s\n" % mid)
        self.assertEqual(self.query(mid)["status"], "MEETING_STATE_ENDED")
        self.assert_absent(mid, dev)

    def test_json_on_a_terminal_is_indented(self):
        master, slave = pty.openpty()
        try:
            proc = subprocess.run([meetctl_bin(), "--json", "health"], stdout=slave,
                                  stderr=subprocess.PIPE, timeout=DEADLINE, env=self.env())
            os.close(slave)
            slave = None
            out = b""
            while True:
                try:
                    chunk = os.read(master, 4096)
                except OSError:     # EIO: the terminal's other side is closed
                    break
                if not chunk:
                    break
                out += chunk
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        self.assertEqual(proc.returncode, 0)
        self.assertEqual(out.decode().replace("\r\n", "\n"), '{\n  "status": "ok"\n}\n')


class DeviceCommandsTest(MeetctlCase):
    def test_pstn_phone_in_tables(self):
        mid = self.new_mid()
        self.ok("device", "join", mid, "--userid", "dial-in", "--instanceid", "0")
        out = self.ok("meeting", "participants", mid, "--userid", "alice")
        self.assertRegex(out, r"(?m)^\S+\s+dial-in\s+dial-in\s+0 PSTN phone\s+PSTN\s+member\s")
        # The largest page the help states is one meetd serves.
        self.assertEqual(self.ok_json("audit", mid, "--size", "100")["records"], [])

    def test_join_table_and_leave(self):
        mid = self.new_mid()
        out = self.ok("device", "join", mid, "--userid", "bob", "--nick", "Bob", "--instanceid", "2")
        fields = dict(line.split(None, 1) for line in out.splitlines())
        self.assertTrue(fields["ms_open_id"].startswith("ms"))
        self.assertRegex(fields["uuid"], r"^[0-9A-F]{32}$")
        self.assertEqual(fields["instanceid"], "2")
        self.assertTrue(fields["device_token"])
        dev = {"ms_open_id": fields["ms_open_id"], "instanceid": 2}
        self.assert_present(mid, dev)
        self.assertEqual(self.ok("device", "leave", mid, "ms:%s/2" % dev["ms_open_id"]),
                         "left: ms:%s/2\n" % dev["ms_open_id"])
        self.assert_absent(mid, dev)
        # Leaving again is not an error.
        self.assertEqual(self.ok_json("device", "leave", mid, "ms:%s/2" % dev["ms_open_id"]), {})

    def test_join_guest_json_and_leave_by_uuid(self):
        mid = self.new_mid()
        dev = self.ok_json("device", "join", mid, "--guest", "g-7", "--instanceid", "5")
        self.assertEqual(dev["user_role"], 4)
        self.assertEqual(dev["instanceid"], 5)
        self.assert_present(mid, dev)
        self.ok("device", "leave", mid, "uuid:%s/5" % dev["uuid"])
        self.assert_absent(mid, dev)

    def test_join_errors(self):
        self.api_error(["device", "join", "1234567", "--userid", "bob"], 400, 9003)
        mid = self.new_mid()
        self.cancel(mid)
        self.api_error(["device", "join", mid, "--userid", "bob"], 400, 190004)


class KickoutCommandsTest(MeetctlCase):
    def setup_meeting(self):
        mid = self.new_mid()
        devs = {"alice": self.join(mid, "alice", 1), "bob": self.join(mid, "bob", 2),
                "room": self.join(mid, "room-7", 9), "carol": self.join(mid, "carol", 3)}
        return mid, devs

    def test_kickout_table_bans_audit_and_rejoin(self):
        mid, d = self.setup_meeting()
        out = self.ok("kickout", mid, "--operator", "userid:alice/1",
                      "--user", "ms:%s/2" % d["bob"]["ms_open_id"],
                      "--user", "ms:%s/9" % d["room"]["ms_open_id"],
                      "--no-rejoin", "--reason", "tour")
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["MS_OPEN_ID", "UUID", "DEVICE", "RESULT"])
        self.assertRegex(lines[1], r"^%s\s+%s\s+2 Mac\s+removed$"
                         % (d["bob"]["ms_open_id"], d["bob"]["uuid"]))
        self.assertRegex(lines[2], r"^%s\s+\S+\s+9 MRA\s+removed$" % d["room"]["ms_open_id"])
        self.assert_absent(mid, d["bob"])
        self.assert_absent(mid, d["room"])
        self.assert_present(mid, d["carol"])

        # Retrying is safe: nothing left to remove, and the status says so.
        cp = self.ctl("--json", "kickout", mid, "--operator", "userid:alice/1",
                      "--user", "ms:%s/2" % d["bob"]["ms_open_id"])
        self.assertEqual(cp.returncode, 3, cp.stderr)
        self.assertIn("meetctl kickout: no device was removed", cp.stderr)
        again = json.loads(cp.stdout)
        self.assertEqual([r["result"] for r in again["results"]], ["not_in_meeting"])

        out = self.ok("bans", "list", mid)
        self.assertEqual(out.splitlines()[0].split(),
                         ["USER", "MS_OPEN_ID", "BANNED_AT", "REASON", "OPERATOR"])
        self.assertRegex(out, r"(?m)^bob\s+%s\s+.*tour" % d["bob"]["ms_open_id"])
        self.assertTrue(out.endswith("2 bans\n"), out)
        self.assertEqual(self.ok_json("bans", "list", mid), self.bans(mid))

        out = self.ok("audit", mid)
        self.assertEqual(out.splitlines()[0].split(),
                         ["TIME", "ACTION", "OPERATOR", "TARGET", "DEVICE", "REJOIN", "REASON"])
        self.assertRegex(out, r"(?m)kickout\s+alice\s+bob\s+2 Mac\s+false\s+tour$")
        self.assertRegex(out, r"(?m)kickout\s+alice\s+room-7\s+9 MRA\s+false\s+tour$")
        self.assertTrue(out.endswith("2 records\n"), out)
        body = self.ok_json("audit", mid, "--size", "1")
        self.assertEqual(body, self.assert_ok(self.audit_req(mid, size=1)))
        self.assertIn("1 of 2 records; more with --pos 1", self.ok("audit", mid, "--size", "1"))
        self.assertEqual(len(self.ok_json("audit", mid, "--pos", "1")["records"]), 1)

        # Banned: any device is refused, until the ban is lifted.
        self.api_error(["device", "join", mid, "--userid", "bob", "--instanceid", "4"], 403, 9101)
        self.assertEqual(self.ok("bans", "lift", mid, "bob"), "ban lifted: bob\n")
        self.assertEqual(self.ok("bans", "lift", mid, "bob"), "not banned: bob\n")
        self.assertEqual(self.ok_json("bans", "lift", mid, d["room"]["ms_open_id"]),
                         {"lifted": True})
        self.assertEqual(self.ok_json("bans", "lift", mid, "bob"), {"lifted": False})
        self.ok("device", "join", mid, "--userid", "bob", "--instanceid", "4")

    def banned_bob_and_guest_bob(self):
        """alice, never joined, bans userid bob, guest bob and carol by userid
        (the tour's way)."""
        mid = self.new_mid()
        bob = self.join(mid, "bob", 2)
        gbob = self.join(mid, guest_id="bob", instanceid=5)
        carol = self.join(mid, "carol", 3)
        self.ok("kickout", mid, "--operator", "userid:alice/1",
                "--user", "ms:%s/2" % bob["ms_open_id"],
                "--user", "ms:%s/5" % gbob["ms_open_id"],
                "--user", "ms:%s/3" % carol["ms_open_id"], "--no-rejoin", "--reason", "tour")
        return mid, carol

    def test_bans_show_an_operator_named_by_userid(self):
        # The bans list showed an empty OPERATOR where the audit shows alice.
        mid, carol = self.banned_bob_and_guest_bob()
        out = self.ok("bans", "list", mid)
        for user in ("bob", "guest:bob", "carol"):
            self.assertRegex(out, r"(?m)^%s\s+ms\S+\s+.*\stour\s+alice$" % user)
        self.assertRegex(self.ok("audit", mid), r"(?m)kickout\s+alice\s+bob\s+2 Mac")
        self.assertEqual(self.ok_json("bans", "list", mid), self.bans(mid))

    def test_bans_lift_by_kind(self):
        mid, carol = self.banned_bob_and_guest_bob()
        # "bob" is a userid and a guest_id: meetd says how to choose.
        self.api_error(["bans", "lift", mid, "bob"], 400, 190004,
                       says="?kind=userid or ?kind=guest_id")
        self.assertEqual(self.bans(mid)["total_count"], 3)
        self.assertEqual(self.ok("bans", "lift", mid, "guest:bob"), "ban lifted: guest:bob\n")
        self.assertEqual(self.ok("bans", "lift", mid, "guest:bob"), "not banned: guest:bob\n")
        self.assertEqual(self.ok("bans", "lift", mid, "userid:bob"), "ban lifted: userid:bob\n")
        self.assertEqual(self.ok_json("bans", "lift", mid, "uuid:%s" % carol["uuid"]),
                         {"lifted": True})
        self.assertEqual(self.ok_json("bans", "lift", mid, "ms:%s" % carol["ms_open_id"]),
                         {"lifted": False})
        self.assertEqual(self.bans(mid)["bans"], [])
        self.join(mid, guest_id="bob", instanceid=5)
        self.join(mid, "bob", 2)

    def test_kickout_forms_json(self):
        mid, d = self.setup_meeting()
        # Seed form: operator by uuid, target by uuid.
        body = self.ok_json("kickout", mid, "--operator", "uuid:%s/1" % d["alice"]["uuid"],
                            "--user", "uuid:%s/3" % d["carol"]["uuid"])
        self.assertEqual(body["results"], [{"ms_open_id": d["carol"]["ms_open_id"],
                                            "uuid": d["carol"]["uuid"], "instanceid": 3,
                                            "result": "removed"}])
        # Current form with an ms_open_id operator; a device mismatch does nothing.
        cp = self.ctl("--json", "kickout", mid, "--operator", "ms:%s/1" % d["alice"]["ms_open_id"],
                      "--user", "ms:%s/4" % d["bob"]["ms_open_id"])
        self.assertEqual(cp.returncode, 3, cp.stderr)
        body = json.loads(cp.stdout)
        self.assertEqual(body["results"][0]["result"], "device_mismatch")
        self.assert_present(mid, d["bob"])
        self.assertEqual(self.bans(mid)["bans"], [])

    def test_kickout_exit_status_says_whether_anyone_was_removed(self):
        mid, d = self.setup_meeting()
        bob, carol = "ms:%s/2" % d["bob"]["ms_open_id"], "ms:%s/3" % d["carol"]["ms_open_id"]
        gone = "ms:%s/4" % d["carol"]["ms_open_id"]      # carol is not on an iPhone
        before = self.state(mid)
        cp = self.ctl("kickout", mid, "--operator", "userid:alice/1", "--user", gone)
        self.assertEqual(cp.returncode, 3, cp.stderr)
        self.assertRegex(cp.stdout, r"(?m)\s4 iOS\s+device_mismatch$")   # the table still
        self.assertIn("no device was removed", cp.stderr)
        self.assert_unchanged(before, mid)
        # One removed out of two: success.
        cp = self.ctl("kickout", mid, "--operator", "userid:alice/1", "--user", bob,
                      "--user", gone)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stderr, "")
        self.assert_absent(mid, d["bob"])
        self.assert_present(mid, d["carol"])
        self.assertEqual(self.ok("kickout", mid, "--operator", "userid:alice/1",
                                 "--user", carol).count("removed"), 1)

    def test_kickout_api_errors_change_nothing(self):
        mid, d = self.setup_meeting()
        before = self.state(mid)
        self.api_error(["kickout", mid, "--operator", "ms:%s/2" % d["bob"]["ms_open_id"],
                        "--user", "ms:%s/3" % d["carol"]["ms_open_id"]], 403, 9042)
        self.api_error(["kickout", "1234567", "--operator", "userid:alice/1",
                        "--user", "ms:%s/3" % d["carol"]["ms_open_id"]], 400, 9003)
        self.assert_unchanged(before, mid)

    def test_cohost_add_and_remove(self):
        mid, d = self.setup_meeting()
        bob, carol = d["bob"], d["carol"]
        self.assertEqual(self.ok("cohost", "add", mid, "--operator", "userid:alice/1",
                                 "--user", "ms:%s/2" % bob["ms_open_id"]),
                         "co-host granted: ms:%s/2\n" % bob["ms_open_id"])
        self.assertRegex(self.ok("meeting", "get", mid, "--userid", "alice"),
                         r"(?m)^co-hosts\s+bob$")
        # As co-host, bob may remove carol.
        self.ok("kickout", mid, "--operator", "ms:%s/2" % bob["ms_open_id"],
                "--user", "ms:%s/3" % carol["ms_open_id"])
        self.assert_absent(mid, carol)
        carol = self.join(mid, "carol", 3)
        self.assertEqual(self.ok_json("cohost", "remove", mid, "--operator", "userid:alice/1",
                                      "--user", "uuid:%s/2" % bob["uuid"]), {})
        self.api_error(["kickout", mid, "--operator", "ms:%s/2" % bob["ms_open_id"],
                        "--user", "ms:%s/3" % carol["ms_open_id"]], 403, 9042)
        self.assert_present(mid, carol)
        self.api_error(["cohost", "add", mid, "--operator", "ms:%s/3" % carol["ms_open_id"],
                        "--user", "ms:%s/2" % bob["ms_open_id"]], 403, 9042)

    def test_request_generic(self):
        mid, d = self.setup_meeting()
        body = json.dumps(kick_body(op_userid("alice"), [tgt_ms(d["bob"])]),
                          separators=(",", ":"))
        out = self.ok("request", "PUT", "/v1/real-control/meetings/%s/kickout" % mid, body,
                      "--header", "Prefer: return=representation")
        self.assertEqual(json.loads(out)["results"][0]["result"], "removed")
        # The body from standard input, byte for byte.
        body = json.dumps(kick_body(op_userid("alice"), [tgt_ms(d["carol"])]))
        out = self.ok("request", "PUT", "/v1/real-control/meetings/%s/kickout" % mid, "-",
                      stdin=body)
        self.assertEqual(json.loads(out), {})
        self.assert_absent(mid, d["carol"])
        cp = self.ctl("request", "GET", "/v1/meetings/1234567?userid=alice&instanceid=1")
        self.assertEqual(cp.returncode, 1)
        self.assertEqual(json.loads(cp.stdout)["error_info"]["error_code"], 9003)
        self.assertIn("error 9003 (HTTP 400)", cp.stderr)


class TencentAnswerTest(unittest.TestCase):
    """Tencent answers a kickout with {} and nothing per target: exit 0."""

    def test_empty_answer_is_success(self):
        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        t = threading.Thread(target=httpd.serve_forever, daemon=True)
        t.start()
        self.addCleanup(t.join, DEADLINE)
        self.addCleanup(httpd.server_close)
        self.addCleanup(httpd.shutdown)
        cp = run_ctl(["kickout", "1", "--operator", "userid:alice/1", "--user", "ms:msB/2"],
                     ctl_env(FAKE_CREDS, MEETD_ENDPOINT="http://127.0.0.1:%d"
                             % httpd.server_address[1]))
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout, "kickout accepted\n")


class CredentialsTest(MeetctlCase):
    def test_profile_file_as_meetd_writes_it(self):
        mid = self.new_mid()
        path = os.path.join(self.server.data, "credentials")
        out = self.ok("--profile", path, "bans", "list", mid, env=ctl_env())
        self.assertEqual(out.splitlines()[-1], "0 bans")
        # A profile given wins over the environment.
        wrong = dict(self.server.creds, MEETD_SECRET_KEY="x" * 32)
        self.ok("bans", "list", mid, "--profile", path, env=self.env(wrong))

    def test_bad_profile(self):
        path = os.path.join(self.server.data, "bad-profile")
        with open(path, "w") as f:
            f.write("MEETD_APP_ID=1\nthis is not a pair\n")
        os.chmod(path, 0o600)
        cp = self.ctl("--profile", path, "health")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("line 2: not a KEY=VALUE line", cp.stderr)
        cp = self.ctl("--profile", path + ".missing", "health")
        self.assertEqual(cp.returncode, 2)
        self.assertIn("No such file", cp.stderr)

    def test_world_readable_profile_warns(self):
        path = os.path.join(self.server.data, "loose-profile")
        with open(path, "w") as f:
            f.write(open(os.path.join(self.server.data, "credentials")).read())
        os.chmod(path, 0o644)
        cp = self.ctl("--profile", path, "bans", "list", self.new_mid(), env=ctl_env())
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("can be read by other users", cp.stderr)

    def test_wrong_secret_is_an_api_error(self):
        wrong = dict(self.server.creds, MEETD_SECRET_KEY="x" * 32)
        cp = self.ctl("bans", "list", self.new_mid(), env=self.env(wrong))
        self.assertEqual(cp.returncode, 1)
        self.assertIn("error 200003 (HTTP 401): Signature failed", cp.stderr)
        unknown = dict(self.server.creds, MEETD_SECRET_ID="AKIDnope")
        cp = self.ctl("bans", "list", "1", env=self.env(unknown))
        self.assertEqual(cp.returncode, 1)
        self.assertIn("error 190303 (HTTP 401)", cp.stderr)

    def test_endpoint_flag_wins_over_environment(self):
        tw = Tripwire()
        self.addCleanup(tw.close)
        env = self.env(MEETD_ENDPOINT=tw.url)
        self.ok("--endpoint", "http://127.0.0.1:%d" % self.server.port, "bans", "list",
                self.new_mid(), env=env)
        self.assertEqual(tw.accepts, 0)
        # And without the flag the environment's endpoint is used.
        cp = self.ctl("health", env=env)
        self.assertEqual(cp.returncode, 1)
        self.assertEqual(tw.accepts, 1)

    def test_app_without_sdk_id(self):
        creds = self.server.create_app("--no-sdk-id")
        self.assertEqual(creds["MEETD_SDK_ID"], "")
        body = self.ok_json("meeting", "create", "--userid", "zed", "--subject", "no sdk",
                            env=self.env(creds))
        mid = body["meeting_info_list"][0]["meeting_id"]
        # Another app's meeting does not exist for the first app.
        self.api_error(["meeting", "get", mid, "--userid", "zed"], 400, 9003)


# ---------------------------------------------------------------- device watch

class FakeEvents:
    """A stand-in for meetd's event stream (docs/api.md "Device event stream"), to test
    meetctl's side alone: one event, then the next only once `go` is set."""

    def __init__(self):
        self.go = threading.Event()
        self.requests = []
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self):
                outer.requests.append((self.path, {k.lower(): v for k, v in self.headers.items()}))
                if self.path.endswith(("=quiet", "=broken", "=unknown-end")):
                    self.send_response(200)
                    self.send_header("Content-Type", "text/event-stream")
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    first = b": heartbeat\n\n"
                    if self.path.endswith("=quiet"):
                        first += b"event: notice\ndata: {}\n\n"
                    elif self.path.endswith("=unknown-end"):
                        first += b": end maintenance\n\n"    # a reason newer than meetctl
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(first), first))
                    if not self.path.endswith("=broken"):
                        self.wfile.write(b"0\r\n\r\n")        # the chunked end
                    else:
                        self.wfile.write(b"40\r\nevent: kic")   # a chunk cut short
                    self.wfile.flush()
                    self.close_connection = True
                    return
                if "device_token=good%2Btoken" not in self.path:
                    body = (b'{"error_info":{"error_code":190303,"new_error_code":200190303,'
                            b'"message":"invalid or expired device_token"}}')
                    self.send_response(401)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(body)))
                    self.send_header("X-TC-Trace", "fake-401")
                    self.end_headers()
                    self.wfile.write(body)
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("X-TC-Trace", "fake-200")
                self.send_header("Connection", "close")
                self.end_headers()
                self.wfile.write(b": heartbeat\n\nevent: kicked\n"
                                 b'data: {"reason":"bye","allow_rejoin":false}\n\n')
                self.wfile.flush()
                if outer.go.wait(DEADLINE):
                    self.wfile.write(b"event: meeting-ended\ndata: {}\n\n")
                    self.wfile.flush()
                self.close_connection = True

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_address[1]
        self.t = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.t.start()

    def close(self):
        self.go.set()
        self.httpd.shutdown()
        self.httpd.server_close()
        self.t.join(DEADLINE)


class WatchFakeServerTest(unittest.TestCase):
    def setUp(self):
        self.fake = FakeEvents()
        self.addCleanup(self.fake.close)

    def watch(self, *args, **env):
        w = Watch(["--endpoint", self.fake.url, "device", "watch"] + list(args), ctl_env(**env))
        self.addCleanup(w.kill)
        return w

    def test_events_printed_as_they_arrive(self):
        w = self.watch("good+token")
        self.assertIn("connected [trace fake-200]", w.wait_connected())
        # The second event is sent only after the first was read: meetctl
        # must print (and flush) each event as it arrives.
        self.assertEqual(w.out.next(timeout=DEADLINE / 2),
                         'kicked {"reason":"bye","allow_rejoin":false}')
        self.fake.go.set()
        self.assertEqual(w.out.next(), "meeting-ended {}")
        rc, err = w.finish()
        # The last event that ends a session says why it ended.
        self.assertEqual(rc, 5, err)
        self.assertIn("stream ended: the meeting ended (meeting-ended)", err)
        path, headers = self.fake.requests[0]
        self.assertEqual(path, "/meetd/v1/events?device_token=good%2Btoken")
        self.assertEqual(headers.get("accept"), "text/event-stream")
        for h in ("x-tc-key", "x-tc-signature", "appid"):
            self.assertNotIn(h, headers, "the stream is authorised by the token alone")

    def test_json_lines_and_token_from_environment(self):
        w = self.watch("--json", MEETD_DEVICE_TOKEN="good+token")
        w.wait_connected()
        first = json.loads(w.out.next(timeout=DEADLINE / 2))
        self.assertEqual(first, {"event": "kicked",
                                 "data": {"reason": "bye", "allow_rejoin": False}})
        self.fake.go.set()
        self.assertEqual(json.loads(w.out.next()), {"event": "meeting-ended", "data": {}})
        rc, err = w.finish()
        self.assertEqual(rc, 5, err)

    def test_closed_without_an_event(self):
        # A heartbeat, an event that ends nothing, then a clean end of stream
        # with no end comment (a meetd older than them): 7, all three named.
        w = self.watch("quiet")
        w.wait_connected()
        self.assertEqual(w.out.next(), "notice {}")
        rc, err = w.finish()
        self.assertEqual(rc, 7, err)
        self.assertIn("stream ended: meetd closed it without an event or a reason (the device "
                      "left, another watch took over this device's stream, or meetd is "
                      "stopping)", err)

    def test_end_reason_this_meetctl_does_not_know(self):
        w = self.watch("unknown-end")
        w.wait_connected()
        rc, err = w.finish()
        self.assertEqual(rc, 7, err)
        self.assertIn("stream ended: meetd closed it without an event (maintenance)", err)
        self.assertEqual(w.out.rest(), [], "a comment is not an event")

    def test_connection_lost(self):
        # The stream breaks in the middle of a chunk: not an end the server chose.
        w = self.watch("broken")
        w.wait_connected()
        rc, err = w.finish()
        self.assertEqual(rc, 8, err)
        self.assertIn("device watch: connection lost: ", err)
        self.assertEqual(w.out.rest(), [])

    def test_refused_token(self):
        w = self.watch("stale")
        rc, err = w.finish()
        self.assertEqual(rc, 1)
        self.assertIn("error 190303 (HTTP 401): invalid or expired device_token [trace fake-401]",
                      err)
        self.assertEqual(w.out.rest(), [])


class WatchMeetdTest(MeetctlCase):
    """device watch against meetd's own event stream."""

    def setUp(self):
        super().setUp()
        probe = self.client.get("/meetd/v1/events?device_token=probe")
        if probe.status == 404:
            self.skipTest("this meetd has no /meetd/v1/events yet")

    def watch(self, dev, *args):
        w = Watch(["device", "watch", dev["device_token"]] + list(args), self.env())
        self.addCleanup(w.kill)
        line = w.wait_connected()
        if line is None:
            rc, err = w.finish()
            self.fail("watch ended before connecting (%s): %s" % (rc, err))
        return w

    def test_kicked(self):
        mid = self.new_mid()
        bob = self.join(mid, "bob", 2)
        w = self.watch(bob)
        self.kick_ok(mid, kick_body(op_userid("alice"), [tgt_ms(bob)], reason="bye now"))
        line = w.out.next()
        self.assertTrue(line.startswith("kicked {"), line)
        self.assertEqual(json.loads(line[len("kicked "):])["reason"], "bye now")
        rc, err = w.finish()
        self.assertEqual(rc, 4, err)
        self.assertIn("stream ended: the device was removed from the meeting (kicked)", err)
        self.assertEqual(w.out.rest(), [])

    def test_role_changed_printed_and_watch_goes_on(self):
        mid = self.new_mid()
        alice, bob = self.join(mid, "alice", 1), self.join(mid, "bob", 2)
        w = self.watch(bob)
        self.assert_ok(self.cohost(mid, op_ms(alice), bob, True))
        line = w.out.next()
        self.assertTrue(line.startswith("role-changed {"), line)
        self.assertEqual(json.loads(line[len("role-changed "):])["role"], "cohost")
        # Still watching: the removal that follows is heard and ends it.
        self.kick_ok(mid, kick_body(op_userid("alice"), [tgt_ms(bob)]))
        self.assertTrue(w.out.next().startswith("kicked {"))
        rc, err = w.finish()
        self.assertEqual(rc, 4, err)

    def test_meeting_ended_json(self):
        mid = self.new_mid()
        bob = self.join(mid, "bob", 2)
        w = self.watch(bob, "--json")
        self.assert_ok(self.dismiss(mid))
        self.assertEqual(json.loads(w.out.next())["event"], "meeting-ended")
        rc, err = w.finish()
        self.assertEqual(rc, 5, err)
        self.assertIn("stream ended: the meeting ended", err)

    def test_replaced(self):
        mid = self.new_mid()
        bob = self.join(mid, "bob", 2)
        w = self.watch(bob)
        self.join(mid, "bob", 2)            # the same user again on the same device type
        self.assertTrue(w.out.next().startswith("replaced {"))
        rc, err = w.finish()
        self.assertEqual(rc, 6, err)
        self.assertIn("stream ended: the same user joined again on this device type", err)

    def test_left(self):
        mid = self.new_mid()
        bob = self.join(mid, "bob", 2)
        w = self.watch(bob)
        self.ok("device", "leave", mid, "ms:%s/2" % bob["ms_open_id"])
        rc, err = w.finish()
        self.assertEqual(rc, 9, err)
        self.assertIn("stream ended: the device left the meeting (left)", err)
        self.assertEqual(w.out.rest(), [], "a leave sends no event")

    def test_another_watch_takes_over(self):
        mid = self.new_mid()
        bob = self.join(mid, "bob", 2)
        first = self.watch(bob)
        second = self.watch(bob)
        rc, err = first.finish()
        self.assertEqual(rc, 10, err)
        self.assertIn("stream ended: another watch took over this device's stream (superseded)",
                      err)
        # The second stream is the device's now: it hears the kickout.
        self.kick_ok(mid, kick_body(op_userid("alice"), [tgt_ms(bob)]))
        self.assertTrue(second.out.next().startswith("kicked {"))
        rc, err = second.finish()
        self.assertEqual(rc, 4, err)

    def test_help_shows_the_token_meetd_issues(self):
        issued = self.join(self.new_mid(), "bob", 2)["device_token"]
        # docs/api.md "Join a device": <session>.<64 lower-case hex>.
        shape = re.compile(r"\d+\.[0-9a-f]{64}")
        self.assertRegex(issued, "^%s$" % shape.pattern)
        help_text = self.ok("device", "watch", "--help")
        shown = re.findall(r"(?m)^  meetctl device watch ([^-\s]\S*)$", help_text)
        self.assertTrue(shown, help_text)
        for token in shown:
            self.assertRegex(token, "^%s$" % shape.pattern, "the example is not a meetd token")
        doc_matches(self, r"SESSION\.SECRET", "docs/meetctl.md")


class WatchServerGoneTest(MeetctlCase):
    """device watch when meetd itself goes: stopped, or killed."""
    server_per_test = True

    def watch_bob(self):
        mid = self.new_mid()
        bob = self.join(mid, "bob", 2)
        w = Watch(["device", "watch", bob["device_token"]], self.env())
        self.addCleanup(w.kill)
        self.assertIsNotNone(w.wait_connected())
        return w

    def test_meetd_stops(self):
        w = self.watch_bob()
        self.server.stop()
        rc, err = w.finish()
        self.assertEqual(rc, 11, err)
        self.assertIn("stream ended: meetd is stopping (shutdown)", err)

    def test_meetd_killed(self):
        w = self.watch_bob()
        proc, self.server.proc = self.server.proc, None     # stop() must not expect exit 0
        proc.kill()
        proc.wait()
        rc, err = w.finish()
        self.assertEqual(rc, 8, err)
        self.assertIn("device watch: connection lost: ", err)

    def test_dead_token(self):
        mid = self.new_mid()
        bob = self.join(mid, "bob", 2)
        self.leave(mid, bob)
        cp = self.ctl("device", "watch", bob["device_token"])
        self.assertEqual(cp.returncode, 1, cp.stderr)
        self.assertIn("error 190303 (HTTP 401)", cp.stderr)


class ParticipantListsCommandsTest(MeetctlCase):
    """meeting participants (current form, filters, JOIN), meeting realtime,
    and co-host for an MRA room."""

    def scene(self):
        mid = self.new_mid()
        bob = self.join(mid, "bob", 2, nick_name="Bob")
        room = self.join(mid, "room-1", 9, nick_name="Room 1")
        phone = self.join(mid, "dial-in", 0)
        self.leave(mid, bob)
        return mid, bob, room, phone

    def test_participants_by_cohost_with_filters(self):
        mid, bob, room, phone = self.scene()
        self.ok("cohost", "add", mid, "--operator", "userid:alice/1",
                "--user", "ms:%s/9" % room["ms_open_id"])
        # The co-host (the MRA room's user) lists; JOIN says how each came in.
        out = self.ok("meeting", "participants", mid, "--userid", "room-1")
        self.assertRegex(out, r"(?m)^%s\s+room-1\s+Room 1\s+9 MRA\s+VoIP\s+co-host\s"
                         % room["ms_open_id"])
        self.assertRegex(out, r"(?m)^%s\s+dial-in\s+dial-in\s+0 PSTN phone\s+PSTN\s+member\s"
                         % phone["ms_open_id"])
        self.assertTrue(out.endswith("3 devices\n"), out)
        # The join-time filter is what the API answers for the same span.
        rows = self.assert_ok(self.participants_req(mid))["participants"]
        first = min(int(r["join_time"]) for r in rows)
        body = self.ok_json("meeting", "participants", mid, "--userid", "alice",
                            "--start", str(first - 60), "--end", "now")
        self.assertEqual(body["participants"], rows)
        body = self.ok_json("meeting", "participants", mid, "--userid", "alice",
                            "--start", str(first - 60), "--end", str(first - 1))
        self.assertEqual((body["participants"], body["total_count"]), ([], 0))
        # The co-host room named as a room (operator_id_type 3): the same list.
        by_room = self.ok_json("meeting", "participants", mid, "--rooms-id", room["ms_open_id"])
        self.assertEqual(by_room, self.ok_json("meeting", "participants", mid,
                                               "--userid", "room-1"))
        # A rooms_id that is no room of the meeting (alice is a userid).
        self.api_error(["meeting", "participants", mid, "--userid", "alice", "--operator-type",
                        "3"], 403, 9042, "rooms_id")
        self.api_error(["meeting", "participants", mid, "--userid", "bob"], 403, 9042)
        for args, says in [(["--operator-type", "4"], "--operator-type"),
                           (["--rooms-id", "x"], "--userid or --rooms-id, not both"),
                           (["--start", "200", "--end", "100"], "--end must not be before"),
                           (["--page", "2"], "--page is not an option")]:
            cp = self.ctl("meeting", "participants", mid, "--userid", "alice", *args)
            self.assertEqual(cp.returncode, 2, (args, cp.stderr))
            self.assertIn(says, cp.stderr)

    def test_realtime(self):
        mid, bob, room, phone = self.scene()
        out = self.ok("meeting", "realtime", mid, "--userid", "alice")
        lines = out.splitlines()
        self.assertEqual(lines[0].split(), ["MS_OPEN_ID", "USER", "NAME", "DEVICE", "JOIN",
                                            "ROLE", "JOINED"])
        self.assertNotIn(bob["ms_open_id"], out)                     # left
        self.assertIn(room["ms_open_id"], lines[1])
        self.assertIn(phone["ms_open_id"], lines[2])
        self.assertEqual(lines[3:], ["2 devices present"])
        out = self.ok("meeting", "realtime", mid, "--userid", "alice", "--size", "1")
        self.assertTrue(out.endswith("page 1 of 2, 2 devices present; more with --page 2\n"), out)
        body = self.ok_json("meeting", "realtime", mid, "--userid", "alice", "--page", "2",
                            "--size", "1")
        api = self.assert_ok(self.client.get(
            "/v1/meetings/%s/real_time_participants?operator_id=alice&operator_id_type=1"
            "&page=2&page_size=1" % mid))
        self.assertEqual(body, api)
        self.assertEqual([r["ms_open_id"] for r in body["participants"]], [phone["ms_open_id"]])
        self.api_error(["meeting", "realtime", mid, "--userid", "bob"], 403, 9042)
        # The room is present but no co-host: refused as a room, with the rule.
        self.api_error(["meeting", "realtime", mid, "--rooms-id", room["ms_open_id"]],
                       403, 9042, "co-host")
        cp = self.ctl("meeting", "realtime", mid, "--rooms-id", room["ms_open_id"],
                      "--operator-type", "3")
        self.assertEqual(cp.returncode, 2, cp.stderr)
        self.assertIn("no --operator-type with it", cp.stderr)
        for args, says in [(["--size", "51"], "--size wants a whole number from 1 to 50"),
                           (["--start", "now"], "--start is not an option"),
                           (["--page", "0"], "--page")]:
            cp = self.ctl("meeting", "realtime", mid, "--userid", "alice", *args)
            self.assertEqual(cp.returncode, 2, (args, cp.stderr))
            self.assertIn(says, cp.stderr)

    def test_cohost_mra_room(self):
        mid, _, room, _ = self.scene()
        self.assertEqual(self.ok("cohost", "add", mid, "--operator", "userid:alice/1",
                                 "--user", "ms:%s/9" % room["ms_open_id"]),
                         "co-host granted: ms:%s/9\n" % room["ms_open_id"])
        self.assertRegex(self.ok("meeting", "realtime", mid, "--userid", "alice"),
                         r"(?m)^%s\s.*\sco-host\s" % room["ms_open_id"])
        self.ok("cohost", "remove", mid, "--operator", "userid:alice/1",
                "--user", "ms:%s/9" % room["ms_open_id"])
        self.assertRegex(self.ok("meeting", "realtime", mid, "--userid", "alice"),
                         r"(?m)^%s\s.*\smember\s" % room["ms_open_id"])



class MeetingUpdateTest(MeetctlCase):
    """meetctl meeting update: PUT /v1/meetings/MEETING with only what changes."""

    def test_subject_times_hosts(self):
        mid = self.new_mid("alice")
        start = now() + 86400
        out = self.ok("meeting", "update", mid, "--userid", "alice", "--subject", "moved",
                      "--start", str(start), "--end", str(start + 1800), "--host", "hank",
                      "--host", "hope")
        self.assertEqual(out, "updated: %s\n" % mid)
        q = self.query(mid)
        self.assertEqual((q["subject"], q["start_time"], q["end_time"]),
                         ("moved", str(start), str(start + 1800)))
        self.assertEqual([x["userid"] for x in q["hosts"]], ["hank", "hope"])
        self.ok("meeting", "update", mid, "--userid", "alice", "--no-hosts")
        self.assertEqual([x["userid"] for x in self.query(mid)["hosts"]], ["alice"])

    def test_json_quiet_and_recurring(self):
        mid = self.new_mid("alice")
        out = self.ok_json("meeting", "update", mid, "--userid", "alice", "--recurring", "weekly",
                           "--until-count", "2")
        self.assertEqual(out["meeting_info_list"][0]["meeting_id"], mid)
        self.assertEqual(len(self.query(mid)["sub_meetings"]), 2)
        self.assertEqual(self.ok("meeting", "update", mid, "--userid", "alice", "--subject", "q",
                                 "-q"), mid + "\n")

    def test_api_refusals(self):
        mid = self.new_mid("alice")
        self.api_error(["meeting", "update", mid, "--userid", "bob", "--subject", "x"], 403, 9102)
        self.assert_ok(self.cancel(mid))
        self.api_error(["meeting", "update", mid, "--userid", "alice", "--subject", "x"], 400,
                       9007)

    def test_usage_errors_send_nothing(self):
        tw = Tripwire()
        self.addCleanup(tw.close)
        env = ctl_env(FAKE_CREDS, MEETD_ENDPOINT=tw.url)
        for args, says in [
                ([], "nothing to change"),
                (["--host", "h", "--no-hosts"], "not both"),
                (["--type", "quick", "--subject", "x"], "--type is not an option"),
                (["--sub-meeting", "1700000000"], "needs --start or --end"),
                (["--sub-meeting", "1", "--start", "+1h", "--recurring", "daily"],
                 "not with --recurring"),
                (["--until-count", "3", "--subject", "x"], "need --recurring")]:
            with self.subTest(args=args):
                cp = run_ctl(["meeting", "update", "123", "--userid", "alice"] + args, env)
                self.assertEqual(cp.returncode, 2, (cp.stdout, cp.stderr))
                self.assertIn(says, cp.stderr)
class EndCommandsTest(MeetctlCase):
    """meeting cancel | dismiss: the operator by --operator, Tencent's forms and codes."""

    def capture(self, *args):
        """Runs meetctl against a stand-in that answers {} and keeps each body."""
        bodies = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                bodies.append((self.path, json.loads(raw, object_pairs_hook=list)))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *a):
                pass

        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        t = threading.Thread(target=httpd.serve_forever, daemon=True)
        t.start()
        try:
            cp = run_ctl(list(args), ctl_env(FAKE_CREDS, MEETD_ENDPOINT="http://127.0.0.1:%d"
                                             % httpd.server_address[1]))
        finally:
            httpd.shutdown()
            httpd.server_close()
            t.join(DEADLINE)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(len(bodies), 1)
        return bodies[0]

    def test_wire_forms_are_the_sdks(self):
        # Keys in the SDK's order, numbers as integers, strings as strings.
        self.assertEqual(self.capture("meeting", "dismiss", "12", "--operator", "ms:msA/2",
                                      "--reason-code", "7", "--reason", "done", "--no-force"),
                         ("/v1/meetings/12/dismiss",
                          [("force_dismiss_meeting", 0), ("instanceid", 2),
                           ("operator_id", "msA"), ("operator_id_type", 4),
                           ("reason_code", 7), ("reason_detail", "done")]))
        self.assertEqual(self.capture("meeting", "dismiss", "12", "--userid", "alice"),
                         ("/v1/meetings/12/dismiss",
                          [("instanceid", 1), ("operator_id", "alice"),
                           ("operator_id_type", 1), ("reason_code", 1)]))
        self.assertEqual(self.capture("meeting", "cancel", "12", "--operator", "userid:alice/3",
                                      "--sub-meeting", "1764100800"),
                         ("/v1/meetings/12/cancel",
                          [("instanceid", 3), ("reason_code", 1),
                           ("sub_meeting_id", "1764100800"), ("userid", "alice")]))
        self.assertEqual(self.capture("meeting", "cancel", "12", "--operator", "ms:msA/2"),
                         ("/v1/meetings/12/cancel",
                          [("instanceid", 2), ("operator_id", "msA"),
                           ("operator_id_type", 4), ("reason_code", 1)]))

    def test_dismiss_by_cohost(self):
        mid = self.new_mid()
        self.join(mid, "alice", 1)
        bob, carol = self.join(mid, "bob", 2), self.join(mid, "carol", 3)
        self.assert_ok(self.cohost(mid, op_userid("alice"), bob))
        # A member may not; --no-force is refused while devices are in.
        self.api_error(["meeting", "dismiss", mid, "--operator", "ms:%s/3" % carol["ms_open_id"]],
                       403, 9042)
        self.api_error(["meeting", "dismiss", mid, "--operator", "ms:%s/2" % bob["ms_open_id"],
                        "--no-force"], 400, 190004, says="force_dismiss_meeting is 0")
        self.assertEqual(self.query(mid)["status"], "MEETING_STATE_STARTED")
        self.assertEqual(self.ok("meeting", "dismiss", mid, "--operator",
                                 "ms:%s/2" % bob["ms_open_id"], "--reason-code", "3"),
                         "dismissed: %s\n" % mid)
        self.assertEqual(self.query(mid)["status"], "MEETING_STATE_ENDED")
        self.assertEqual(self.present(mid), [])

    def test_cancel_codes(self):
        mid = self.new_mid()
        self.api_error(["meeting", "dismiss", mid, "--operator", "userid:alice/1"], 400, 190004,
                       says="nobody has joined it yet")
        self.join(mid, "bob", 2)
        self.api_error(["meeting", "cancel", mid, "--operator", "userid:alice/1"], 400, 13602)
        rule = {"recurring_type": 0, "until_type": 1, "until_count": 3}
        info = self.create_meeting(rule=rule)
        series, sub = info["meeting_id"], info["sub_meetings"][1]["sub_meeting_id"]
        self.assertEqual(self.ok("meeting", "cancel", series, "--operator", "userid:alice/1",
                                 "--sub-meeting", sub, "--reason", "holiday"),
                         "occurrence cancelled: %s\n" % series)
        self.api_error(["meeting", "cancel", series, "--userid", "alice", "--sub-meeting", sub],
                       400, 9007)
        self.assertEqual(self.ok("meeting", "cancel", series, "--userid", "alice"),
                         "cancelled: %s\n" % series)

    def test_operator_named_once(self):
        tw = Tripwire()
        self.addCleanup(tw.close)
        env = ctl_env(FAKE_CREDS, MEETD_ENDPOINT=tw.url)
        for args in (["meeting", "dismiss", "1"],
                     ["meeting", "dismiss", "1", "--userid", "a", "--operator", "userid:a/1"],
                     ["meeting", "cancel", "1", "--operator", "uuid:0A/1"],
                     ["meeting", "cancel", "1", "--operator", "userid:a/1", "--instanceid", "2"],
                     ["meeting", "cancel", "1", "--userid", "a", "--no-force"],
                     ["meeting", "dismiss", "1", "--userid", "a", "--sub-meeting", "5"]):
            with self.subTest(args=args):
                cp = run_ctl(args, env)
                self.assertEqual(cp.returncode, 2, (cp.stdout, cp.stderr))
        self.assertEqual(tw.accepts, 0)


class MeetingQueryCommandsTest(MeetctlCase):
    """meeting get by id and by --code, as a user or a room; meeting list with paging."""

    def test_get_shows_join_url(self):
        info = self.create_meeting("alice")
        out = self.ok("meeting", "get", info["meeting_id"], "--userid", "alice")
        self.assertRegex(out, r"(?m)^join_url\s+http://127\.0\.0\.1:%d/meetd/v1/j/%s$"
                         % (self.server.port, info["meeting_code"]))
        # The current form on the wire: tests/unit/test_libmeet.c.

    def test_get_by_code_and_as_a_room(self):
        info = self.create_meeting("alice", rule={"recurring_type": 0, "until_type": 1,
                                                  "until_count": 2})
        by_id = self.ok_json("meeting", "get", info["meeting_id"], "--userid", "alice")
        self.assertEqual(self.ok_json("meeting", "get", "--code", info["meeting_code"],
                                      "--userid", "alice"), by_id)
        room = self.join(info["meeting_id"], "room-9", 9)
        got = self.ok_json("meeting", "get", "--code", info["meeting_code"], "--rooms-id",
                           room["ms_open_id"], "--instanceid", "9")
        self.assertEqual(got["meeting_info_list"][0]["meeting_id"], info["meeting_id"])
        out = self.ok("meeting", "get", info["meeting_id"], "--userid", "alice")
        self.assertRegex(out, r"(?m)^remaining occurrences\s+2$")
        self.assertEqual(out.count("MEETING_STATE_STARTED"), 2)  # the series, its occurrence
        self.api_error(["meeting", "get", info["meeting_id"], "--rooms-id", "nobody"],
                       403, 9042, "rooms_id")
        self.api_error(["meeting", "get", "--code", "000000000", "--userid", "alice"], 400, 9003)

    def test_get_usage(self):
        for args in (["meeting", "get", "--userid", "alice"],
                     ["meeting", "get", "1", "--code", "806123456", "--userid", "alice"],
                     ["meeting", "get", "1", "--userid", "a", "--rooms-id", "b"],
                     ["meeting", "get", "1"],
                     ["meeting", "list", "--rooms-id", "b"],
                     ["meeting", "list", "--userid", "a", "--pos", "5"],
                     ["meeting", "list", "--userid", "a", "--code", "806123456"]):
            with self.subTest(args=args):
                cp = self.ctl(*args)
                self.assertEqual(cp.returncode, 2, (cp.stdout, cp.stderr))

    def test_list_pages(self):
        user = uniq("ctl")
        t = now() + 7200
        mids = [self.create_meeting(user, start_time=str(t), end_time=str(t + 60))["meeting_id"]
                for _ in range(21)]
        out = self.ok("meeting", "list", "--userid", user)
        self.assertIn("MEETING_ID", out)
        self.assertRegex(out, r"(?m)^20 meetings, 1 more with --pos %d --cursory 20$" % t)
        self.assertEqual(out.count(" creator"), 20)
        out = self.ok("meeting", "list", "--userid", user, "--pos", str(t), "--cursory", "20")
        self.assertRegex(out, r"(?m)^1 meeting$")
        self.assertIn(max(mids, key=int), out)
        body = self.ok_json("meeting", "list", "--userid", user)
        self.assertEqual(sorted(i["meeting_id"] for i in body["meeting_info_list"]),
                         sorted(mids, key=int)[:20])
        self.assertEqual(self.ok("meeting", "list", "--userid", uniq("nobody")), "0 meetings\n")
        self.assertEqual(self.ok("-q", "meeting", "list", "--userid", user).strip(),
                         min(mids, key=int))


if __name__ == "__main__":
    unittest.main()
