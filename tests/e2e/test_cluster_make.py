"""`make cluster` (scripts/cluster.sh, docs/cluster.md): a PostgreSQL and two
nodes for a person to try; they serve one app, and stopping the script stops
everything it started and removes the PostgreSQL.

Runs the script itself (make would build first), with both nodes on port 0.
Needs PostgreSQL installed, as every test of CTest's fixture `postgres`."""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import meetd_harness as h

SCRIPT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts",
                      "cluster.sh")


class Port:
    """What h.Client needs of a server: its port."""

    def __init__(self, port):
        self.port = port


class MakeClusterTest(unittest.TestCase):
    def test_two_nodes_one_app_and_a_clean_stop(self):
        h.pg_base()
        d = tempfile.mkdtemp(prefix="meetd-cluster-e2e-")
        self.addCleanup(shutil.rmtree, d, True)
        env = dict(h.child_env(), MEETD_BIN=h.meetd_bin(),
                   MEETD_CLUSTER_LISTEN1="127.0.0.1:0", MEETD_CLUSTER_LISTEN2="127.0.0.1:0")
        proc = subprocess.Popen([SCRIPT, d], stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
        self.addCleanup(lambda: proc.poll() is None and (proc.kill(), proc.wait()))
        lines, cond = [], threading.Condition()

        def read():
            for raw in iter(proc.stderr.readline, b""):
                with cond:
                    lines.append(raw.decode("utf-8", "replace"))
                    cond.notify_all()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        deadline = time.monotonic() + h.DEADLINE
        with cond:
            while len([l for l in lines if h.LISTEN_RE.search(l)]) < 2:
                left = deadline - time.monotonic()
                self.assertGreater(left, 0, "two nodes did not start:\n" + "".join(lines))
                self.assertIsNone(proc.poll(), "cluster.sh ended:\n" + "".join(lines))
                cond.wait(min(left, 0.2))
            ports = {int(h.LISTEN_RE.search(l).group(1)) for l in lines if h.LISTEN_RE.search(l)}
        pgdir = re.search(r"one PostgreSQL \((/tmp/meetd-cluster-\w+)\)", "".join(lines)).group(1)
        creds = []
        for node in ("node1", "node2"):
            with open(os.path.join(d, node, "credentials")) as f:
                creds.append(h.parse_credentials(f.read()))
        self.assertEqual(creds[0]["MEETD_SECRET_ID"], creds[1]["MEETD_SECRET_ID"])
        self.assertEqual({int(c["MEETD_ENDPOINT"].rsplit(":", 1)[1]) for c in creds}, ports)
        # A meeting made on one node is the other's too.
        a, b = (h.Client(Port(int(c["MEETD_ENDPOINT"].rsplit(":", 1)[1])), c) for c in creds)
        t = h.now() + 3600
        made = a.post("/v1/meetings", {"userid": "alice", "instanceid": 1, "subject": "trial",
                                       "type": 0, "start_time": str(t),
                                       "end_time": str(t + 3600)})
        self.assertEqual(made.status, 200, made)
        mid = made.json["meeting_info_list"][0]["meeting_id"]
        seen = b.get("/v1/meetings/%s?userid=alice&instanceid=1" % mid)
        self.assertEqual(seen.status, 200, seen)
        # SIGTERM: the nodes stop, the PostgreSQL stops and is removed.
        proc.send_signal(signal.SIGTERM)
        self.assertEqual(proc.wait(h.DEADLINE), 0)
        reader.join(h.DEADLINE)
        self.assertEqual(h.sanitizer_reports("".join(lines)), [], "".join(lines))
        self.assertFalse(os.path.exists(pgdir), pgdir)
        left = subprocess.run(["pgrep", "-f", d], capture_output=True, text=True).stdout
        self.assertEqual(left.strip(), "", "processes left behind")


if __name__ == "__main__":
    unittest.main()
