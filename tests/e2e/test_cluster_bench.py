"""meetbench's cross-node streams run, as `make bench-cluster` does it
(bench/README.md): streams held on node B, every request (setup, kicks) sent
to node A, one PostgreSQL behind both; and summary.py's cluster report of it.

A second's run, to keep the tool right between benchmark runs; the figures
are not judged here. Runs against the PostgreSQL of CTest's fixture
`postgres` (MEETD_TEST_POSTGRES), a database of its own."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import meetd_harness as h
from test_bench import SUMMARY, assert_streams_clean, run_meetbench

STREAMS_PATH = "path=/meetd/v1/events"
KICK_PATH = "path=/v1/real-control/meetings/"


def stream_opens(node):
    """The access lines of streams opened on node (a stream that ends
    logs a second line, with stream=closed)."""
    return [l for l in node.lines_with(STREAMS_PATH) if "stream=closed" not in l]


class ClusterBenchTest(h.MeetdCase):
    server_per_test = True

    def setUp(self):
        self.a, self.b = h.start_nodes(self, 2)

    def test_streams_on_b_hear_kicks_sent_to_a(self):
        rc, res, err = run_meetbench(
            os.path.join(self.a.data, "credentials"), "--meetings", "2", "--participants", "4",
            "--kicks", "6", "--hold", "0", "--url", "http://127.0.0.1:%d" % self.a.port,
            "--stream-url", "http://127.0.0.1:%d" % self.b.port, "streams")
        assert_streams_clean(self, rc, res, err, 8, 6)
        self.assertEqual(res["target"], "127.0.0.1:%d" % self.a.port)
        self.assertEqual(res["stream_target"], "127.0.0.1:%d" % self.b.port)
        # A node logs a stream when it opens: all eight on B, none on A;
        # A was sent the kicks. (The harness reads the logs on threads of
        # its own: wait for the lines.)
        self.b.wait_line(lambda _: len(stream_opens(self.b)) >= 8, what="8 streams opened on B")
        self.a.wait_line(lambda _: len(self.a.lines_with(KICK_PATH)) >= 6, what="6 kicks on A")
        self.assertEqual(len(stream_opens(self.b)), 8)
        self.assertEqual(stream_opens(self.a), [])
        self.assertEqual(len(self.a.lines_with(KICK_PATH)), 6)
        self.assertEqual(self.b.lines_with(KICK_PATH), [])

        # summary.py cluster reads the run under the name cluster.sh gives it.
        with tempfile.TemporaryDirectory() as d:
            with open(os.path.join(d, "pg2-kick-to-close.json"), "w") as f:
                json.dump(res, f)
            out = subprocess.run([sys.executable, SUMMARY, "cluster", d], check=True,
                                 stdout=subprocess.PIPE).stdout.decode()
        self.assertIn("cross-node: 8 streams on 127.0.0.1:%d, 6 kicks sent to 127.0.0.1:%d"
                      % (self.b.port, self.a.port), out)
        self.assertRegex(out, r"target: cross-node kick-to-close p99 <= 10 ms: [0-9.]+ ms -> "
                              r"(MET|MISSED) \(6 of 6 streams closed, errors 0\)")


if __name__ == "__main__":
    unittest.main()
