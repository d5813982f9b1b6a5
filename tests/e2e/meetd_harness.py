"""End-to-end harness for meetd: runs the real binary, signs requests itself.

Written from docs/api.md / docs/configuration.md, not from the
server's code. Python 3 standard library only.
"""
import base64
import hashlib
import hmac
import http.client
import itertools
import json
import os
import re
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse

DEADLINE = 20.0          # error bound for waits; never used as a sleep
SANITIZER_MARKERS = ("AddressSanitizer", "LeakSanitizer", "runtime error:")
CRED_KEYS = ("MEETD_ENDPOINT", "MEETD_APP_ID", "MEETD_SDK_ID",
             "MEETD_SECRET_ID", "MEETD_SECRET_KEY")
LISTEN_RE = re.compile(r"meetd: listening on http://127\.0\.0\.1:(\d+)")

_counter = itertools.count(1)


def uniq(prefix="x"):
    """A name no other call in this process returns."""
    return "%s%d" % (prefix, next(_counter))


def now():
    return int(time.time())


def new_nonce():
    """19 digits like the official SDKs: ms_timestamp * 1e6 + counter."""
    return str(int(time.time() * 1000) * 1000000 + next(_counter) % 1000000)


def meetd_bin():
    path = os.environ.get("MEETD_BIN")
    if not path:
        raise RuntimeError("MEETD_BIN is not set (path of the meetd binary)")
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        raise RuntimeError("MEETD_BIN=%s is not an executable file" % path)
    return path


def child_env():
    # Flags are given explicitly; stray MEETD_* variables must not change them.
    # MEETD_TEST_RERUN_JOBS=1 passes: the suite run with every write job run
    # twice (docs/internals.md, "Jobs run more than once").
    return {k: v for k, v in os.environ.items()
            if not k.startswith("MEETD_") or k == "MEETD_TEST_RERUN_JOBS"}


# ---------------------------------------------------------------- postgres
# CTest's fixture `postgres` (scripts/pg-test.sh) runs a PostgreSQL and puts
# its conninfo in MEETD_TEST_POSTGRES. Each Server that runs on it gets a
# database of its own (or shares another Server's, for several nodes).
# MEETD_E2E_POSTGRES=1 runs every Server of a test on PostgreSQL: the whole
# suite in that mode (tests/e2e/README.md). MEETD_E2E_CLUSTER=1 goes further:
# every such Server is two nodes on one database, the requests alternating
# between them (Server.peer, route()).

def pg_base():
    """The fixture's conninfo; a test that needs it fails without it."""
    base = os.environ.get("MEETD_TEST_POSTGRES")
    if not base:
        raise RuntimeError("MEETD_TEST_POSTGRES is not set (CTest's fixture postgres sets it; "
                           "scripts/pg-test.sh start DIR prints one)")
    return base


def pg_everywhere():
    """Every Server on PostgreSQL: the pg mode, and the cluster mode."""
    return os.environ.get("MEETD_E2E_POSTGRES") == "1" or cluster_everywhere()


def cluster_everywhere():
    """Every Server two nodes on one PostgreSQL database, requests alternating."""
    return os.environ.get("MEETD_E2E_CLUSTER") == "1"


def psql(conninfo, sql):
    """Runs sql with psql on conninfo; returns its output (unaligned, no header)."""
    cp = subprocess.run(["psql", "-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1",
                         "-d", conninfo, "-c", sql],
                        stdin=subprocess.DEVNULL, capture_output=True, text=True,
                        timeout=DEADLINE, env=child_env())
    if cp.returncode != 0:
        raise AssertionError("psql %r failed: %s" % (sql, cp.stderr))
    return cp.stdout.strip()


def pg_create_database():
    """A new empty database on the fixture's server: (conninfo, name)."""
    base = pg_base()
    name = "e2e_%d_%s" % (os.getpid(), uniq("db"))
    psql(base, "CREATE DATABASE %s" % name)
    # A later keyword wins in a libpq conninfo string.
    return "%s dbname=%s" % (base, name), name


def pg_drop_database(name):
    psql(pg_base(), "DROP DATABASE IF EXISTS %s WITH (FORCE)" % name)


def start_nodes(case, n, args=(), postgres=True):
    """n nodes on one PostgreSQL database (postgres: True for a new database
    of the fixture's, or a conninfo), started in turn; stopped (checked) and
    removed when `case` ends. Returns the Servers, the first's client as
    case.client with case.server the first node."""
    nodes = []
    for _ in range(n):
        node = Server(args, postgres=postgres if not nodes else nodes[0].postgres)
        case.addCleanup(node.close)
        node.start()
        case.addCleanup(node.stop)      # runs before close
        nodes.append(node)
    case.server, case.client = nodes[0], nodes[0].client()
    return nodes


def sanitizer_reports(text):
    return [m for m in SANITIZER_MARKERS if m in text]


def parse_credentials(text):
    """KEY=VALUE lines (the credentials file / `meetd app` output) -> dict."""
    creds = {}
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("export "):
            line = line[len("export "):]
        key, sep, value = line.partition("=")
        if sep and key in CRED_KEYS:
            creds[key] = value.strip().strip('"').strip("'")
    return creds


# ---------------------------------------------------------------- signing

def string_to_sign(method, secret_id, nonce, timestamp, uri, body):
    head = "%s\nX-TC-Key=%s&X-TC-Nonce=%s&X-TC-Timestamp=%s\n%s\n" % (
        method, secret_id, nonce, timestamp, uri)
    return head.encode("utf-8") + to_bytes(body)


def hmac_hex(secret_key, sts):
    return hmac.new(secret_key.encode("utf-8"), sts, hashlib.sha256).hexdigest()


def signature(secret_key, method, secret_id, nonce, timestamp, uri, body):
    sts = string_to_sign(method, secret_id, nonce, timestamp, uri, body)
    return base64.b64encode(hmac_hex(secret_key, sts).encode("ascii")).decode("ascii")


def to_bytes(body):
    if body is None:
        return b""
    if isinstance(body, bytes):
        return body
    if isinstance(body, str):
        return body.encode("utf-8")
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


# ---------------------------------------------------------------- responses

class Resp:
    """status, headers (lower-case names), body (parsed JSON or raw bytes).

    Unpacks as (status, headers, body)."""

    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        try:
            self.json = json.loads(raw.decode("utf-8")) if raw else None
        except ValueError:
            self.json = None

    @property
    def body(self):
        return self.json if self.json is not None else self.raw

    @property
    def trace(self):
        return self.headers.get("x-tc-trace")

    def __iter__(self):
        return iter((self.status, self.headers, self.body))

    def __repr__(self):
        return "HTTP %s trace=%s body=%r" % (self.status, self.trace, self.raw[:600])


KEEP = object()  # "use the default" marker for Client.request overrides


class Client:
    """Signs per docs/api.md "Authentication" with its own code; one connection per request."""

    def __init__(self, server, creds):
        self.server = server
        self.app_id = creds["MEETD_APP_ID"]
        self.sdk_id = creds.get("MEETD_SDK_ID", "")
        self.secret_id = creds["MEETD_SECRET_ID"]
        self.secret_key = creds["MEETD_SECRET_KEY"]

    def request(self, method, uri, body=None, *, headers=None, timestamp=None,
                nonce=None, sig=None, secret_id=KEEP, secret_key=KEEP,
                sign_method=None, sign_uri=None, sign_body=None,
                content_type="application/json", chunked=False, signed=True,
                name_case=None):
        """Send one request. `headers` adds or replaces headers (matched
        case-insensitively, the given spelling is sent); a None value removes
        one. `sig` replaces the computed signature; sign_* sign something other
        than what is sent; name_case (e.g. str.lower) respells every header name."""
        data = None if body is None else to_bytes(body)
        ts = str(now()) if timestamp is None else str(timestamp)
        nonce = new_nonce() if nonce is None else str(nonce)
        key_id = self.secret_id if secret_id is KEEP else secret_id
        key = self.secret_key if secret_key is KEEP else secret_key
        hdrs = []
        if data is not None and content_type is not None:
            hdrs.append(("Content-Type", content_type))
        if signed:
            if sig is None:
                sig = signature(key, sign_method or method, key_id, nonce, ts,
                                uri if sign_uri is None else sign_uri,
                                data if sign_body is None else sign_body)
            hdrs += [("X-TC-Key", key_id), ("X-TC-Timestamp", ts),
                     ("X-TC-Nonce", nonce), ("X-TC-Signature", sig),
                     ("AppId", self.app_id)]
            if self.sdk_id:
                hdrs.append(("SdkId", self.sdk_id))
            hdrs.append(("X-TC-Registered", "1"))
        for name, value in (headers or {}).items():
            hdrs = [(n, v) for n, v in hdrs if n.lower() != name.lower()]
            if value is not None:
                hdrs.append((name, value))
        if name_case is not None:
            hdrs = [(name_case(n), v) for n, v in hdrs]
        return send(self.server.port, method, uri, hdrs, data, chunked=chunked)

    # Shorthands
    def get(self, uri, **kw):
        return self.request("GET", uri, None, **kw)

    def post(self, uri, body, **kw):
        return self.request("POST", uri, body, **kw)

    def put(self, uri, body, **kw):
        return self.request("PUT", uri, body, **kw)

    def delete(self, uri, **kw):
        return self.request("DELETE", uri, None, **kw)


# Cluster mode's load balancer, in the harness's own transport: a Server's
# port stands for the pair (as a balancer's address would), and send(),
# raw_exchange() and EventStream connect to route(port), each time the other
# node. The Host header names the port the test asked for, as a balancer
# passes it on, so that join_url and the like are the same from either node.
_BALANCED = {}               # a cluster-mode Server's port -> that Server
_ROUTE_LOCK = threading.Lock()


def route(port):
    """The port to connect to for `port`: itself, or the next node of a pair."""
    with _ROUTE_LOCK:
        server = _BALANCED.get(port)
    return port if server is None or server.port != port else server.next_port()


def send(port, method, uri, hdrs, data, chunked=False, timeout=DEADLINE):
    node = route(port)
    conn = http.client.HTTPConnection("127.0.0.1", node, timeout=timeout)
    try:
        balanced = node != port and not any(n.lower() == "host" for n, _ in hdrs)
        conn.putrequest(method, uri, skip_accept_encoding=True, skip_host=balanced)
        if balanced:
            conn.putheader("Host", "127.0.0.1:%d" % port)
        for name, value in hdrs:
            conn.putheader(name, value)
        if data is not None and not chunked:
            conn.putheader("Content-Length", str(len(data)))
        if chunked:
            conn.putheader("Transfer-Encoding", "chunked")
            chunks = [data[i:i + 8192] for i in range(0, len(data), 8192)]
            send_error = _try(lambda: conn.endheaders(chunks, encode_chunked=True))
        else:
            send_error = _try(lambda: conn.endheaders(data))
        try:
            r = conn.getresponse()
            raw = r.read()
        except (ConnectionResetError, http.client.RemoteDisconnected) as e:
            raise AssertionError("%s %s: meetd closed the connection without a response "
                                 "(%s%s)" % (method, uri[:80], e.__class__.__name__,
                                             ", while sending the request" if send_error else "")
                                 ) from None
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, raw)
    finally:
        conn.close()


def _try(fn):
    # A server may answer (413...) and close before reading the whole body.
    try:
        fn()
    except (BrokenPipeError, ConnectionResetError) as e:
        return e
    return None


def raw_exchange(port, data, timeout=DEADLINE):
    """Send raw bytes; return (status or None if the connection was closed
    without a response, raw response bytes)."""
    s = socket.create_connection(("127.0.0.1", route(port)), timeout=timeout)
    try:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass
        chunks = []
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
                if b"\r\n\r\n" in b"".join(chunks):
                    break
        except ConnectionResetError:
            pass
        out = b"".join(chunks)
        m = re.match(rb"HTTP/1\.[01] (\d{3})", out)
        return (int(m.group(1)) if m else None), out
    finally:
        s.close()


class EventStream:
    """GET /meetd/v1/events?device_token=... (Server-Sent Events, no signature)."""

    def __init__(self, port, token, timeout=DEADLINE):
        self.conn = http.client.HTTPConnection("127.0.0.1", route(port), timeout=timeout)
        self.conn.request("GET", "/meetd/v1/events?device_token=" +
                          urllib.parse.quote(token, safe=""),
                          headers={"Host": "127.0.0.1:%d" % port})
        self.resp = self.conn.getresponse()
        self.status = self.resp.status
        self.trace = self.resp.getheader("X-TC-Trace")
        self._buf = ""

    def next_event(self, within=None):
        """(event, data) of the next event, skipping comments; None at end of
        stream. Raises AssertionError when nothing arrives within the deadline,
        or, with within (seconds), when no event or end has come by then
        (heartbeat comments keep the socket busy, so its timeout alone would
        never fire)."""
        give_up = None if within is None else time.monotonic() + within
        while True:
            if give_up is not None and time.monotonic() > give_up:
                raise AssertionError("no event or end within %s s" % within)
            while "\n\n" in self._buf:
                block, self._buf = self._buf.split("\n\n", 1)
                event, data = None, []
                for line in block.split("\n"):
                    if line.startswith(":"):
                        continue
                    name, _, value = line.partition(":")
                    value = value[1:] if value.startswith(" ") else value
                    if name == "event":
                        event = value
                    elif name == "data":
                        data.append(value)
                if event is not None or data:
                    return event, "\n".join(data)
            try:
                chunk = self.resp.read1(4096)
            except (socket.timeout, TimeoutError):
                raise AssertionError("no event within %s s" % DEADLINE)
            except (http.client.IncompleteRead, ConnectionResetError):
                chunk = b""
            if not chunk:
                return None
            self._buf += chunk.decode("utf-8").replace("\r\n", "\n")

    def close(self):
        self.conn.close()


# ---------------------------------------------------------------- server

class Server:
    """One meetd process on 127.0.0.1:<free port> with its own data dir.

    nofile=(soft, hard) starts meetd with that RLIMIT_NOFILE; env adds
    variables to its environment.

    Under MEETD_E2E_CLUSTER=1 a Server made with postgres=None is two nodes
    on one new database: this one and `peer`, a second node with a data dir
    of its own, started, stopped and restarted with it. `port` stands for the
    pair: the harness's requests to it (signed or raw) and the streams opened
    on it go to each node in turn (route()); the nodes' stdout and stderr
    lines go to one list, so the log helpers search both; `proc`, `data` and
    `creds` are this node's (the app is one: it is in the database)."""

    def __init__(self, args=(), data_dir=None, nofile=None, env=None, postgres=None,
                 _twin_of=None):
        """postgres: None (SQLite in the data dir, or PostgreSQL under
        MEETD_E2E_POSTGRES=1, or two nodes under MEETD_E2E_CLUSTER=1), True
        (a new database of the fixture's), or the conninfo of another
        Server's database, to share it (several nodes)."""
        self.bin = meetd_bin()
        self.args = list(args)
        self._pg_db = None
        pair = postgres is None and cluster_everywhere()
        if postgres is None and pg_everywhere():
            postgres = True
        if postgres is True:
            postgres, self._pg_db = pg_create_database()
        self.postgres = postgres
        self.nofile = nofile
        self.env = dict(env or {})     # added to the child's environment
        self._tmp = None if data_dir else tempfile.mkdtemp(prefix="meetd-e2e-")
        self.data = data_dir or self._tmp
        self.proc = None
        self.port = None
        self._turn = 0
        self.creds = None
        self._lines = []       # stderr of every run, in order
        self._out = []         # stdout of every run
        self._run_start = (0, 0)
        self._cond = threading.Condition()
        self._readers = []
        if _twin_of is not None:
            # One log for both nodes: a test searches "the server's" output.
            self._lines, self._out, self._cond = _twin_of._lines, _twin_of._out, _twin_of._cond
        self.peer = (Server(args, nofile=nofile, env=env, postgres=self.postgres, _twin_of=self)
                     if pair else None)

    def next_port(self):
        """The port of the node the next request goes to: the two in turn."""
        if self.peer is None or self.peer.proc is None:
            return self.port
        with _ROUTE_LOCK:
            self._turn ^= 1
            return (self.peer.port, self.port)[self._turn]

    def ports(self):
        """The port of each running node (one, or two in cluster mode)."""
        return [p for p in (self.port, self.peer and self.peer.port) if p]

    # -- process control
    def start(self):
        with self._cond:
            self._run_start = (len(self._lines), len(self._out))
        self.started_at = time.time()      # lower bound of meetd's own start time
        self.proc = subprocess.Popen(
            [self.bin, "serve", "--listen", "127.0.0.1:0", "--data", self.data]
            + self.pg_args() + self.args,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            env=dict(child_env(), **self.env),
            preexec_fn=self._limits if self.nofile else None)
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stderr, self._lines), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stdout, self._out), daemon=True)]
        for t in self._readers:
            t.start()
        proc = self.proc
        line = self.wait_line(lambda l: LISTEN_RE.search(l),
                              since=self._run_start[0],
                              what="'meetd: listening on http://127.0.0.1:PORT'",
                              give_up=lambda: proc.poll() is not None)
        self.port = int(LISTEN_RE.search(line).group(1))
        self.creds = self._read_credentials()
        if self.peer is not None and self.peer.proc is None:
            # Started once this node is listening: the next listening line is
            # the peer's. (A peer still running after this node was killed
            # alone stays as it is.)
            self.peer.start()
            with _ROUTE_LOCK:
                _BALANCED[self.port] = self
        return self

    def pg_args(self):
        return ["--postgres", self.postgres] if self.postgres else []

    def _limits(self):
        # In the child, before exec: only meetd gets the lower limit.
        resource.setrlimit(resource.RLIMIT_NOFILE, self.nofile)

    def _read(self, stream, sink):
        for raw in iter(stream.readline, b""):
            with self._cond:
                sink.append(raw.decode("utf-8", "replace").rstrip("\n"))
                self._cond.notify_all()
        stream.close()

    def _read_credentials(self):
        path = os.path.join(self.data, "credentials")
        deadline = time.monotonic() + DEADLINE
        while True:
            if os.path.exists(path):
                with open(path) as f:
                    creds = parse_credentials(f.read())
                if all(k in creds for k in CRED_KEYS):
                    return creds
            if time.monotonic() > deadline:
                raise AssertionError("%s missing or incomplete" % path)
            time.sleep(0.05)

    def stop(self):
        """SIGTERM; fails unless meetd exits 0 with no sanitizer report
        (both nodes in cluster mode)."""
        try:
            self._stop()
        finally:
            if self.peer is not None:
                self.peer.stop()

    def _stop(self):
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            rc = proc.wait(DEADLINE)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise AssertionError("meetd did not exit within %s s of SIGTERM\n%s"
                                 % (DEADLINE, self.tail()))
        for t in self._readers:
            t.join(DEADLINE)
        bad = sanitizer_reports(self.stderr())
        if rc != 0 or bad:
            raise AssertionError("meetd exited with status %s%s\n%s" % (
                rc, " and reported " + ", ".join(bad) if bad else "", self.tail(80)))

    def restart(self):
        self.stop()
        return self.start()

    def close(self):
        """Cleanup: kill whatever is left (no checks) and remove the data dir."""
        if self.peer is not None:
            self.peer.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        if self._tmp:
            shutil.rmtree(self._tmp, ignore_errors=True)
        if self._pg_db:
            pg_drop_database(self._pg_db)
            self._pg_db = None

    # -- logs
    def stderr(self):
        with self._cond:
            return "\n".join(self._lines)

    def stdout_of_last_run(self):
        with self._cond:
            return "\n".join(self._out[self._run_start[1]:])

    def stdout(self):
        with self._cond:
            return "\n".join(self._out)

    def tail(self, n=40):
        with self._cond:
            return "--- meetd stderr (last %d lines) ---\n%s" % (n, "\n".join(self._lines[-n:]))

    def wait_line(self, pred, since=0, what="log line", give_up=None, timeout=DEADLINE):
        """First stderr line (index >= since) satisfying pred; waits up to timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for line in self._lines[since:]:
                    if pred(line):
                        return line
                if give_up is not None and give_up():
                    raise AssertionError("meetd exited before %s\n%s" % (what, self.tail()))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError("no %s within %s s\n%s" % (what, timeout, self.tail()))
                self._cond.wait(min(left, 0.2))

    def lines_with(self, text):
        with self._cond:
            return [l for l in self._lines if text in l]

    def access_line(self, trace):
        """The access-log line of the request with this trace id (waits for it)."""
        self.wait_line(lambda l: trace in l and " access " in l,
                       what="access log line with trace id %s" % trace)
        return self.lines_with(trace)

    # -- clients and admin commands
    def client(self, creds=None):
        return Client(self, creds or self.creds)

    def app(self, sub, *args):
        """`meetd app SUB --data DIR [--postgres C] ARGS...` -> CompletedProcess (text)."""
        cp = subprocess.run([self.bin, "app", sub, "--data", self.data] + self.pg_args()
                            + list(args),
                            stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=DEADLINE, env=child_env())
        bad = sanitizer_reports(cp.stderr)
        if bad:
            raise AssertionError("meetd app %s reported %s:\n%s" % (sub, bad, cp.stderr))
        return cp

    def create_app(self, *flags):
        cp = self.app("create", *flags)
        if cp.returncode != 0:
            raise AssertionError("meetd app create failed (%d): %s" % (cp.returncode, cp.stderr))
        creds = parse_credentials(cp.stdout)
        missing = [k for k in CRED_KEYS if k not in creds]
        if missing:
            raise AssertionError("meetd app create printed no %s:\n%s" % (missing, cp.stdout))
        return creds


def run_serve(args, timeout=DEADLINE, env=None):
    """A `meetd serve` expected to fail at start: (exit status, stderr), or
    (None, stderr) when it started listening instead (it is then stopped).
    env: MEETD_* variables to set."""
    proc = subprocess.Popen([meetd_bin(), "serve"] + list(args), stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=dict(child_env(), **(env or {})))
    lines = []
    try:
        deadline = time.monotonic() + timeout
        for raw in iter(proc.stderr.readline, b""):
            lines.append(raw.decode("utf-8", "replace"))
            if "meetd: listening on" in lines[-1] or time.monotonic() > deadline:
                return None, "".join(lines)
        return proc.wait(timeout), "".join(lines)
    finally:
        if proc.poll() is None:
            proc.terminate()
            proc.wait(DEADLINE)
        proc.stderr.close()


# ---------------------------------------------------------------- body builders

def op_ms(dev, instanceid=None):
    return {"operator_id": dev["ms_open_id"], "operator_id_type": 4,
            "instanceid": dev["instanceid"] if instanceid is None else instanceid}


def op_uuid(dev, instanceid=None):
    return {"uuid": dev["uuid"],
            "instanceid": dev["instanceid"] if instanceid is None else instanceid}


def op_userid(userid, instanceid=1):
    return {"operator_id": userid, "operator_id_type": 1, "instanceid": instanceid}


def tgt_ms(dev, instanceid=None):
    return {"to_operator_id": dev["ms_open_id"], "to_operator_id_type": 4,
            "instanceid": dev["instanceid"] if instanceid is None else instanceid}


def tgt_uuid(dev, instanceid=None):
    return {"uuid": dev["uuid"],
            "instanceid": dev["instanceid"] if instanceid is None else instanceid}


def kick_body(op, targets, allow_rejoin=True, reason=None):
    body = dict(op)
    body["allow_rejoin"] = allow_rejoin
    if reason is not None:
        body["reason"] = reason
    body["users"] = list(targets)
    return body


FAKE_MS = "ms" + "Q" * 42      # well-formed, never issued
DROP = object()                # variant(): remove this key


def variant(base, **changes):
    """A copy of dict `base` with keys changed (value DROP removes the key)."""
    out = dict(base)
    for k, v in changes.items():
        if v is DROP:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


# ---------------------------------------------------------------- test case base

class MeetdCase(unittest.TestCase):
    """A server per class (or per test with server_per_test) and API helpers."""

    server_args = ()
    server_nofile = None          # (soft, hard) RLIMIT_NOFILE for meetd
    server_env = None             # extra environment variables for meetd
    server_per_test = False
    server_nodes = 1              # > 1: that many nodes on one PostgreSQL (self.nodes)
    maxDiff = None

    @classmethod
    def setUpClass(cls):
        if not cls.server_per_test:
            cls.server = Server(cls.server_args, nofile=cls.server_nofile, env=cls.server_env)
            cls.addClassCleanup(cls.server.close)
            cls.server.start()
            cls.client = cls.server.client()

    @classmethod
    def tearDownClass(cls):
        if not cls.server_per_test:
            cls.server.stop()

    def setUp(self):
        if self.server_per_test and self.server_nodes > 1:
            self.nodes = start_nodes(self, self.server_nodes, self.server_args)
        elif self.server_per_test:
            self.server = Server(self.server_args, nofile=self.server_nofile,
                                 env=self.server_env)
            self.addCleanup(self.server.close)
            self.server.start()
            self.addCleanup(self.server.stop)   # runs before close
            self.client = self.server.client()

    # -- assertions
    def assert_ok(self, resp, status=200):
        self.assertEqual(resp.status, status, resp)
        self.assertTrue(resp.trace, "no X-TC-Trace header: %r" % resp)
        self.assertIsInstance(resp.json, dict, "body is not a JSON object: %r" % resp)
        return resp.json

    def assert_error(self, resp, http_status, error_code, message=None, contains=None):
        self.assertEqual((resp.status, _code(resp)), (http_status, error_code), resp)
        self.assertTrue(resp.trace, "no X-TC-Trace header: %r" % resp)
        info = resp.json["error_info"]
        self.assertEqual(info.get("new_error_code"), 200000000 + error_code, resp)
        self.assertIsInstance(info.get("message"), str, resp)
        self.assertTrue(info["message"].strip(), "empty message: %r" % resp)
        if message is not None:
            self.assertEqual(info["message"], message, resp)
        if contains is not None:
            self.assertIn(contains.lower(), info["message"].lower(), resp)
        return info

    def assert_unchanged(self, before, mid, viewer="alice", client=None):
        self.assertEqual(self.state(mid, viewer, client), before,
                         "a refused request changed the meeting's state")

    # -- API helpers (client=None: the class's default app)
    def c(self, client):
        return client or self.client

    def meeting_body(self, creator="alice", hosts=None, rule=None, **fields):
        t = now() + 3600
        body = {"userid": creator, "instanceid": 1, "subject": uniq("e2e meeting "),
                "type": 0, "start_time": str(t), "end_time": str(t + 3600)}
        if hosts is not None:
            body["hosts"] = [{"userid": h} for h in hosts]
        if rule is not None:
            body["meeting_type"] = 1
            body["recurring_rule"] = rule
        body.update(fields)
        return body

    def create_meeting(self, creator="alice", hosts=None, rule=None, client=None, **fields):
        resp = self.c(client).post("/v1/meetings",
                                   self.meeting_body(creator, hosts, rule, **fields))
        body = self.assert_ok(resp)
        self.assertEqual(body.get("meeting_number"), 1, resp)
        return body["meeting_info_list"][0]

    def new_meeting(self, creator="alice", hosts=None, rule=None, client=None):
        return self.create_meeting(creator, hosts, rule, client)["meeting_id"]

    def join_req(self, mid, userid=None, instanceid=1, guest_id=None, nick_name=None,
                 client=None, **extra):
        body = {}
        if userid is not None:
            body["userid"] = userid
        if guest_id is not None:
            body["guest_id"] = guest_id
        if nick_name is not None:
            body["nick_name"] = nick_name
        body["instanceid"] = instanceid
        body.update(extra)
        return self.c(client).post("/meetd/v1/meetings/%s/join" % mid, body)

    def join(self, mid, userid=None, instanceid=1, **kw):
        dev = self.assert_ok(self.join_req(mid, userid, instanceid, **kw))
        self.assertEqual(dev.get("instanceid"), instanceid, dev)
        for k in ("ms_open_id", "uuid", "device_token"):
            self.assertTrue(isinstance(dev.get(k), str) and dev[k], "join: bad %s in %r" % (k, dev))
        return dev

    def leave(self, mid, dev, instanceid=None, by="ms_open_id", client=None):
        return self.c(client).post("/meetd/v1/meetings/%s/leave" % mid, {
            by: dev[by], "instanceid": dev["instanceid"] if instanceid is None else instanceid})

    def query_req(self, mid, userid="alice", instanceid=1, client=None):
        return self.c(client).get("/v1/meetings/%s?userid=%s&instanceid=%d"
                                  % (mid, urllib.parse.quote(userid), instanceid))

    def query(self, mid, userid="alice", instanceid=1, client=None):
        body = self.assert_ok(self.query_req(mid, userid, instanceid, client))
        self.assertEqual(body.get("meeting_number"), 1, body)
        return body["meeting_info_list"][0]

    def participants_req(self, mid, userid="alice", client=None, **params):
        q = urllib.parse.urlencode(dict(userid=userid, **params))
        return self.c(client).get("/v1/meetings/%s/participants?%s" % (mid, q))

    def participants(self, mid, userid="alice", client=None, **params):
        """Every participant row, following next_pos with size=100."""
        rows, pos = [], 0
        for _ in range(100):
            body = self.assert_ok(self.participants_req(mid, userid, client,
                                                        pos=pos, size=100, **params))
            rows += body["participants"]
            if not body["has_remaining"]:
                return rows
            pos = body["next_pos"]
        self.fail("participants paging does not end")

    def present(self, mid, userid="alice", client=None, **params):
        """Sorted (ms_open_id, instanceid) of the devices without left_time."""
        return sorted((r["ms_open_id"], r["instanceid"])
                      for r in self.participants(mid, userid, client, **params)
                      if "left_time" not in r)

    def assert_present(self, mid, dev, viewer="alice", instanceid=None):
        key = (dev["ms_open_id"], dev["instanceid"] if instanceid is None else instanceid)
        self.assertIn(key, self.present(mid, viewer), "device should be present")

    def assert_absent(self, mid, dev, viewer="alice", instanceid=None):
        key = (dev["ms_open_id"], dev["instanceid"] if instanceid is None else instanceid)
        self.assertNotIn(key, self.present(mid, viewer), "device should be gone")

    def metrics(self):
        """GET /metrics as {sample name (with labels): value}; in cluster
        mode each sample summed over both nodes (what the cluster did)."""
        values = {}
        for port in self.server.ports():
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=DEADLINE)
            try:
                conn.request("GET", "/metrics")
                resp = conn.getresponse()
                body = resp.read().decode()
            finally:
                conn.close()
            self.assertEqual(resp.status, 200)
            self.assertTrue(resp.getheader("Content-Type").startswith("text/plain"))
            for line in body.splitlines():
                if line and not line.startswith("#"):
                    name, value = line.rsplit(" ", 1)
                    values[name] = values.get(name, 0.0) + float(value)
        return values

    def kickout(self, mid, body, prefer=False, client=None, **kw):
        if prefer:
            kw.setdefault("headers", {})["Prefer"] = "return=representation"
        return self.c(client).put("/v1/real-control/meetings/%s/kickout" % mid, body, **kw)

    def kick_ok(self, mid, body, client=None):
        resp = self.kickout(mid, body, client=client)
        self.assertEqual(self.assert_ok(resp), {}, resp)
        return resp

    def cohost(self, mid, op, target, action=True, client=None):
        body = dict(op)
        body["action"] = action
        body["user"] = tgt_ms(target)
        return self.c(client).put("/v1/real-control/meetings/%s/cohosts" % mid, body)

    def dismiss(self, mid, userid="alice", instanceid=1, client=None):
        """The older userid form; reason_code is required in every form."""
        return self.c(client).post("/v1/meetings/%s/dismiss" % mid,
                                   {"userid": userid, "instanceid": instanceid,
                                    "reason_code": 1})

    def cancel(self, mid, userid="alice", instanceid=1, client=None, **extra):
        body = {"userid": userid, "instanceid": instanceid, "reason_code": 1}
        body.update(extra)
        return self.c(client).post("/v1/meetings/%s/cancel" % mid, body)

    def bans_req(self, mid, client=None):
        return self.c(client).get("/meetd/v1/meetings/%s/bans" % mid)

    def bans(self, mid, client=None):
        return self.assert_ok(self.bans_req(mid, client))

    def lift_ban(self, mid, who, client=None, kind=None):
        """kind: sent as ?kind= (any string, to test bad ones too)."""
        q = "" if kind is None else "?kind=" + urllib.parse.quote(kind, safe="")
        return self.c(client).delete("/meetd/v1/meetings/%s/bans/%s%s"
                                     % (mid, urllib.parse.quote(who, safe=""), q))

    def audit_req(self, mid, client=None, **params):
        q = ("?" + urllib.parse.urlencode(params)) if params else ""
        return self.c(client).get("/meetd/v1/meetings/%s/audit%s" % (mid, q))

    def audit(self, mid, client=None):
        """Every audit record, newest first."""
        records, pos = [], 0
        for _ in range(100):
            body = self.assert_ok(self.audit_req(mid, client, pos=pos, size=100))
            records += body["records"]
            if not body["has_remaining"]:
                return records
            pos = body["next_pos"]
        self.fail("audit paging does not end")

    def state(self, mid, viewer="alice", client=None):
        """Everything a refused request must leave alone."""
        return {"status": self.query(mid, viewer, client=client).get("status"),
                "participants": self.participants(mid, viewer, client),
                "bans": self.bans(mid, client),
                "audit": self.audit(mid, client)}

    def events(self, dev=None, token=None):
        """Open a device's event stream; closed when the test ends."""
        stream = EventStream(self.server.port, token or dev["device_token"])
        self.addCleanup(stream.close)
        return stream

    def stream_recorded(self, dev):
        """Across nodes (cluster mode), waits until dev's stream open is
        recorded in its row: only a stream opened on another node after that
        is known to be the newer (docs/cluster.md "Streams across nodes").
        One node orders its own streams: nothing to wait for."""
        if not cluster_everywhere():
            return
        # The token is "<device_no>.<secret>" (docs/api.md "Device token").
        sql = ("SELECT count(*) FROM devices WHERE stream_node IS NOT NULL AND device_no = %d"
               % int(dev["device_token"].split(".")[0]))
        give_up = time.monotonic() + DEADLINE
        while psql(self.server.postgres, sql) != "1":
            if time.monotonic() > give_up:
                self.fail("%s's stream open not recorded within %s s" % (dev["ms_open_id"], DEADLINE))
            time.sleep(0.02)


def _code(resp):
    try:
        return resp.json["error_info"]["error_code"]
    except (TypeError, KeyError):
        return None
