"""PostgreSQL goes away and comes back under two nodes (issue 16, guarantee 8;
docs/cluster.md "What each failure does").

A stream of writes -- creates with subjects of their own and joins with
userids of their own -- runs from several threads against node A and node B
in turn while the database is stopped and started (scripts/pg-test.sh
down/up), crashes (pg-test.sh crash: an immediate stop, then up), or has the
nodes' connections terminated (pg_terminate_backend). Afterwards:
- every write answered 200 is in the database, every write answered with an
  error is not (a write whose answer never came may be either);
- the errors are 500 / 5108, and both nodes answered 5108 while the
  database was down;
- both nodes serve again by themselves once it is back.

A commit whose answer the connection lost is resolved before the client is
answered (pgsql.c, "Commit outcome"): PgProxy, a relay of PostgreSQL's wire
protocol between a node and the server, drops a write transaction's COMMIT
before the server sees it, or forwards it and drops the server's answer, so
that the node learns the outcome only by asking pg_xact_status().

The tests run a PostgreSQL of their own (test_pg_outage.pg_test), since they
stop it; CTest's fixture `postgres` only tells them PostgreSQL is there."""
import os
import shutil
import socket
import struct
import tempfile
import threading
import time
import unittest

import meetd_harness as h
from test_pg_outage import pg_test

OK = (200, None)
UNAVAILABLE = (500, 5108)


def pg_own(case):
    """A PostgreSQL of the test's own: (its directory, its conninfo)."""
    h.pg_base()     # run under the fixture, as every PostgreSQL test
    pgdir = tempfile.mkdtemp(prefix="meetd-pgc-", dir="/tmp")
    case.addCleanup(pg_test, "stop", pgdir)
    return pgdir, pg_test("start", pgdir)


def wait_ok(case, req, what):
    """req() until it answers 200; the deadline is the harness's bound."""
    deadline = time.monotonic() + h.DEADLINE
    while True:
        resp = req()
        if resp.status == 200:
            return resp
        if time.monotonic() > deadline:
            case.fail("%s: no 200 within %s s of PostgreSQL's return: %r"
                      % (what, h.DEADLINE, resp))
        time.sleep(0.05)


class Writes:
    """Threads sending writes to the nodes in turn until stop(). Each write
    names something of its own: a create its subject, a join its userid, a
    kickout (banning the device a join of its own just made, sent to the
    other node) its reason, which its audit row keeps.
    `log` holds (kind, name, node index, outcome, time answered), outcome
    (status, error code), or None when no answer came."""

    def __init__(self, case, clients, mid, threads=4):
        self.case, self.clients, self.mid = case, clients, mid
        self.cond = threading.Condition()
        self.log = []
        self.errors = []
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                         for i in range(threads)]

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def halt(self):
        """Tells the threads to stop (a cleanup when a test fails early)."""
        self._stop.set()

    def stop(self):
        """Stops the threads; fails if one hangs or raised."""
        self._stop.set()
        for t in self._threads:
            t.join(2 * h.DEADLINE)
        self.case.assertFalse([t for t in self._threads if t.is_alive()], "writers hang")
        self.case.assertEqual(self.errors, [])

    def _run(self, i):
        n = 0
        try:
            while not self._stop.is_set():
                node = (i + n) % len(self.clients)
                kind = ("create", "join", "kick")[(i + n // 2) % 3]
                n += 1
                self._one(kind, node)
        except BaseException as e:      # reported by stop()
            self.errors.append(e)

    def _one(self, kind, node):
        client = self.clients[node]
        name = h.uniq("oc" if kind == "create" else "oj")
        if kind == "create":
            self._send(kind, name, node,
                       lambda: client.post("/v1/meetings", self.case.meeting_body(subject=name)))
            return
        dev = self._send("join", name, node,
                         lambda: self.case.join_req(self.mid, name, 2, client=client))
        if kind == "kick" and dev is not None:
            other = (node + 1) % len(self.clients)
            body = h.kick_body(h.op_userid("alice"), [h.tgt_ms(dev)], allow_rejoin=False,
                               reason=name)
            self._send(kind, name, other,
                       lambda: self.case.kickout(self.mid, body, client=self.clients[other]))

    def _send(self, kind, name, node, req):
        """Sends req(), logs its outcome; the answer's body when it is 200."""
        try:
            resp = req()
            outcome = (resp.status, h._code(resp))
        except (AssertionError, OSError):    # closed without an answer, or timed out
            resp, outcome = None, None
        with self.cond:
            self.log.append((kind, name, node, outcome, time.monotonic()))
            self.cond.notify_all()
        return resp.json if outcome == OK else None

    def wait(self, pred, what, since=0.0):
        """Until pred(outcomes answered after `since`, per node) holds."""
        def per_node():
            return [[e[3] for e in self.log if e[2] == k and e[4] > since]
                    for k in range(len(self.clients))]
        with self.cond:
            if not self.cond.wait_for(lambda: pred(per_node()), h.DEADLINE):
                raise AssertionError("writers: no %s within %s s: %s"
                                     % (what, h.DEADLINE,
                                        [sorted(set(map(str, o))) for o in per_node()]))


def each_node(n, outcome):
    """A Writes.wait predicate: each node answered `outcome` n times."""
    return lambda nodes: all(o.count(outcome) >= n for o in nodes)


class OutageCase(h.MeetdCase):
    """Two nodes on a PostgreSQL of the test's own."""

    server_per_test = True
    server_nodes = 2

    def setUp(self):
        # Not MeetdCase's: the nodes run on the test's own PostgreSQL.
        self.pgdir, conninfo = pg_own(self)
        self.conninfo = conninfo
        self.nodes = h.start_nodes(self, self.server_nodes, postgres=self.node_conninfo())
        self.clients = [n.client() for n in self.nodes]

    def node_conninfo(self):
        return self.conninfo

    def in_database(self):
        """(subjects of meetings, userids of users, reasons of audit rows
        and of bans) the database holds."""
        def rows(sql):
            out = h.psql(self.conninfo, sql)
            return set(out.split("\n")) if out else set()
        return (rows("SELECT subject FROM meetings WHERE subject LIKE 'oc%'"),
                rows("SELECT userid FROM users WHERE userid LIKE 'oj%'"),
                rows("SELECT reason FROM audit WHERE reason LIKE 'oj%'"),
                rows("SELECT u.userid FROM bans b JOIN users u USING (user_no)"
                     " WHERE u.userid LIKE 'oj%'"))

    def assert_iff(self, writes):
        """200 if and only if the write is there: a create's meeting, a
        join's user, a kickout's audit row and ban (one transaction)."""
        subjects, userids, reasons, banned = self.in_database()
        self.assertEqual(reasons, banned, "audit rows without their ban, or bans without")
        seen = {"create": subjects, "join": userids, "kick": reasons}
        wrong, unanswered = [], 0
        for kind, name, node, outcome, _ in writes.log:
            there = name in seen[kind]
            if outcome is None:
                unanswered += 1
            elif outcome == OK and not there:
                wrong.append("%s %s on node %d: 200 but not in the database" % (kind, name, node))
            elif outcome != OK and there:
                wrong.append("%s %s on node %d: %r but in the database"
                             % (kind, name, node, outcome))
        self.assertEqual(wrong, [], "answers that disagree with the database")
        answered = [e[3] for e in writes.log if e[3] is not None]
        self.assertEqual(sorted(set(answered) - {OK, UNAVAILABLE}), [],
                         "answers other than 200 and 500 / 5108")
        # Nothing the clients were not told of was made either.
        names = {e[1] for e in writes.log}
        self.assertEqual((subjects | userids | reasons) - names, set())
        self.assertGreater(len([e for e in writes.log if e[0] == "kick" and e[3] == OK]), 0)
        return unanswered

    def serving_again(self):
        for k, client in enumerate(self.clients):
            wait_ok(self, lambda: self.query_req(self.mid, client=client), "a read on node %d" % k)
            wait_ok(self, lambda: self.join_req(self.mid, h.uniq("back"), 2, client=client),
                    "a write on node %d" % k)

    def start_writes(self):
        self.mid = self.new_meeting("alice")
        self.join(self.mid, "alice", 1)
        writes = Writes(self, self.clients, self.mid).start()
        self.addCleanup(writes.halt)
        writes.wait(each_node(3, OK), "200 before the outage")
        return writes


class DownAndUpTest(OutageCase):
    def outage(self, how):
        writes = self.start_writes()
        t_down = time.monotonic()
        pg_test(how, self.pgdir)
        # Meanwhile each node answers 5108, and makes nothing.
        writes.wait(each_node(2, UNAVAILABLE), "5108 while PostgreSQL is down", since=t_down)
        for k, client in enumerate(self.clients):
            self.assert_error(self.query_req(self.mid, client=client), 500, 5108)
        t_up = time.monotonic()
        pg_test("up", self.pgdir)
        writes.wait(each_node(3, OK), "200 after PostgreSQL came back", since=t_up)
        writes.stop()
        self.serving_again()
        self.assert_iff(writes)
        for node in self.nodes:
            self.assertIn("store: postgres:", node.stderr())

    def test_stopped_and_started_under_writes(self):
        self.outage("down")

    def test_crashed_and_recovered_under_writes(self):
        self.outage("crash")


class TerminatedBackendsTest(OutageCase):
    ROUNDS = 15

    def test_connections_terminated_under_writes(self):
        """pg_terminate_backend of every meetd connection, over and over while
        writes run on both nodes: writes in flight fail (5108) or are
        resolved, and each node reconnects by itself."""
        writes = self.start_writes()
        terminated = 0
        for r in range(self.ROUNDS):
            since = time.monotonic()
            writes.wait(lambda nodes: sum(o.count(OK) for o in nodes) >= 2,
                        "200 between terminations", since=since)
            terminated += int(h.psql(self.conninfo,
                                     "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                                     " WHERE application_name = 'meetd'"
                                     " AND pid <> pg_backend_pid()"))
        self.assertGreaterEqual(terminated, self.ROUNDS * 2, "the nodes' connections")
        writes.wait(each_node(3, OK), "200 after the last termination", since=time.monotonic())
        writes.stop()
        self.serving_again()
        self.assert_iff(writes)


# ---------------------------------------------------------------- commit outcome

class PgProxy:
    """Relays PostgreSQL's wire protocol between clients and the server of
    `server_dir`, on a Unix socket in a directory of its own (conninfo()).

    arm(mode, marker) makes it lose the next COMMIT of a write transaction
    (one that ran pg_current_xact_id(), as meetd's writers' do, pgsql.c)
    that sent `marker` (bytes: a value the test's request wrote, in a Bind
    message), or of any write transaction when marker is None. A COMMIT is
    a simple Query or, pipelined, a Parse:
    mode "commit" closes both connections instead of forwarding the COMMIT
    (the server rolls the transaction back when it sees its client gone);
    mode "answer" forwards it, reads the server's answer to its end
    (CommandComplete, ReadyForQuery: the commit is durable) and closes both
    connections instead of passing it on. `fired` lists (mode, the command
    tag the server answered or None)."""

    SOCK = ".s.PGSQL.5432"

    def __init__(self, server_dir):
        self.target = os.path.join(server_dir, self.SOCK)
        self.dir = tempfile.mkdtemp(prefix="meetd-pgp-", dir="/tmp")
        self.cond = threading.Condition()
        self.armed = []
        self.fired = []
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._sock.bind(os.path.join(self.dir, self.SOCK))
        self._sock.listen(64)
        threading.Thread(target=self._accept, daemon=True).start()

    def conninfo(self):
        return "host=%s port=5432 dbname=meetd connect_timeout=10" % self.dir

    def close(self):
        self._sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def arm(self, mode, marker=None):
        with self.cond:
            self.armed.append((mode, marker))

    def _take(self, sent):
        """The first armed loss that the transaction which sent `sent` fits."""
        with self.cond:
            for i, (mode, marker) in enumerate(self.armed):
                if marker is None or marker in sent:
                    del self.armed[i]
                    return mode
        return None

    def wait_fired(self, n):
        with self.cond:
            if not self.cond.wait_for(lambda: len(self.fired) >= n, h.DEADLINE):
                raise AssertionError("proxy: %d COMMITs lost, wanted %d" % (len(self.fired), n))
            return list(self.fired)

    def _accept(self):
        while True:
            try:
                c, _ = self._sock.accept()
            except OSError:
                return
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                s.connect(self.target)
            except OSError:
                c.close()
                s.close()
                continue
            st = {"c": c, "s": s, "writer_tx": False, "sent": b"", "swallow": None}
            threading.Thread(target=self._up, args=(st,), daemon=True).start()
            threading.Thread(target=self._down, args=(st,), daemon=True).start()

    @staticmethod
    def _exact(sock, n):
        buf = b""
        while len(buf) < n:
            got = sock.recv(n - len(buf))
            if not got:
                raise EOFError
            buf += got
        return buf

    @staticmethod
    def _cut(st):
        for k in ("c", "s"):
            try:
                st[k].shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            st[k].close()

    def _fire(self, mode, tag):
        with self.cond:
            self.fired.append((mode, tag))
            self.cond.notify_all()

    def _up(self, st):
        """Client to server. The first message (startup) has no type byte;
        a Unix socket carries no SSL or GSS request before it."""
        c, s = st["c"], st["s"]
        try:
            head = self._exact(c, 4)
            s.sendall(head + self._exact(c, struct.unpack("!I", head)[0] - 4))
            while True:
                head = self._exact(c, 5)
                body = self._exact(c, struct.unpack("!I", head[1:])[0] - 4)
                # A command's text: a simple Query's, or a Parse's (meetd
                # pipelines COMMIT behind the last job's savepoint, pgsql.c).
                if head[:1] == b"Q":
                    text = body.rstrip(b"\0").strip().upper()
                elif head[:1] == b"P":
                    text = body.split(b"\0")[1].strip().upper()
                else:
                    text = b""
                if b"PG_CURRENT_XACT_ID" in text:
                    st["writer_tx"], st["sent"] = True, b""
                elif st["writer_tx"] and text != b"COMMIT":
                    st["sent"] += body
                elif st["writer_tx"]:
                    st["writer_tx"] = False
                    mode = self._take(st["sent"])
                    if mode == "commit":
                        self._cut(st)
                        self._fire(mode, None)
                        return
                    if mode == "answer":
                        st["swallow"] = mode
                s.sendall(head + body)
        except (EOFError, OSError):
            self._cut(st)

    def _down(self, st):
        """Server to client: every message has a type byte."""
        c, s = st["c"], st["s"]
        tag = None
        try:
            while True:
                head = self._exact(s, 5)
                body = self._exact(s, struct.unpack("!I", head[1:])[0] - 4)
                if st["swallow"] is None:
                    c.sendall(head + body)
                    continue
                if head[:1] == b"C":
                    tag = body.rstrip(b"\0").decode()
                elif head[:1] == b"Z":        # the answer is complete: lose it
                    self._cut(st)
                    self._fire(st["swallow"], tag)
                    return
        except (EOFError, OSError):
            self._cut(st)


class CommitOutcomeTest(OutageCase):
    """One node behind PgProxy: a COMMIT or its answer lost."""

    server_nodes = 1

    def node_conninfo(self):
        self.proxy = PgProxy(self.pgdir)
        self.addCleanup(self.proxy.close)
        return self.proxy.conninfo()

    def setUp(self):
        super().setUp()
        self.mid = self.new_meeting("alice")
        self.join(self.mid, "alice", 1)

    def test_answer_lost_after_the_commit_is_resolved_committed(self):
        name = h.uniq("oj")
        self.proxy.arm("answer", name.encode())
        resp = self.join_req(self.mid, name, 2)
        self.assertEqual(self.proxy.wait_fired(1), [("answer", "COMMIT")])
        self.assert_ok(resp)
        self.assertEqual(self.in_database()[1], {name})
        self.server.wait_line(lambda l: "had committed" in l, what="the outcome resolved")
        self.assertIn(name, [r.get("userid") for r in self.participants(self.mid)])

    def test_commit_lost_before_the_server_is_resolved_aborted(self):
        name = h.uniq("oj")
        self.proxy.arm("commit", name.encode())
        resp = self.join_req(self.mid, name, 2)
        self.assertEqual(self.proxy.wait_fired(1), [("commit", None)])
        self.assert_error(resp, 500, 5108)
        self.assertEqual(self.in_database()[1], set())
        self.server.wait_line(lambda l: "had not committed" in l, what="the outcome resolved")
        # The node goes on, and the client's retry is made once.
        self.join(self.mid, name, 2)
        self.assertEqual(self.in_database()[1], {name})


class CommitOutcomeUnderWritesTest(OutageCase):
    """Both nodes behind PgProxy while writes run: COMMITs and their answers
    lost over and over, on either node; 200 if and only if the write is there."""

    LOSSES = 16

    def node_conninfo(self):
        self.proxy = PgProxy(self.pgdir)
        self.addCleanup(self.proxy.close)
        return self.proxy.conninfo()

    def test_lost_commits_under_writes(self):
        writes = self.start_writes()
        for i in range(self.LOSSES):
            self.proxy.arm(("answer", "commit")[i % 2])
            self.proxy.wait_fired(i + 1)
        writes.wait(each_node(3, OK), "200 after the last loss", since=time.monotonic())
        writes.stop()
        self.serving_again()
        self.assert_iff(writes)
        fired = self.proxy.fired
        self.assertEqual(fired.count(("answer", "COMMIT")), self.LOSSES // 2, fired)
        resolved = sum(len(n.lines_with("had committed")) for n in self.nodes)
        self.assertEqual(resolved, self.LOSSES // 2)


if __name__ == "__main__":
    unittest.main()
