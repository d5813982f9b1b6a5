"""bench/meetbench and bench/summary.py against a real meetd (bench/README.md).

make bench is not part of make test (it needs nginx and minutes), so these
runs, a second each, are what keeps the load generator honest: every
scenario finishes with no error, counts what it did, and reports errors and
a refused setup the way the README says."""
import json
import os
import subprocess
import sys
import tempfile
import unittest

import meetd_harness as h
from meetd_harness import MeetdCase

BENCH_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "bench")
SUMMARY = os.path.join(BENCH_DIR, "summary.py")
# What each scenario does, by operation (bench/README.md "meetbench").
OPS = {"kickout": {"kickout", "join"}, "join-churn": {"leave", "join"},
       "participants": {"participants"}, "mixed": {"participants", "join", "kickout"}}


def meetbench_bin():
    path = os.environ.get("MEETBENCH_BIN")
    if not path:
        raise unittest.SkipTest("MEETBENCH_BIN is not set (run through ctest)")
    return path


def run_meetbench(profile, *args):
    """meetbench --json for a second on 4 connections, signed with the
    credentials file `profile` (None: none); returns (exit status, result
    or None, stderr)."""
    cmd = [meetbench_bin(), "--json", "--connections", "4", "--threads", "1",
           "--duration", "1", "--warmup", "0"]
    if profile is not None:
        cmd += ["--profile", profile]
    proc = subprocess.run(cmd + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          timeout=h.DEADLINE * 3, env=h.child_env())
    out = proc.stdout.decode()
    return proc.returncode, (json.loads(out) if out.strip() else None), proc.stderr.decode()


def assert_streams_clean(case, rc, res, err, streams, kicks):
    """A streams run: every stream opened, every kick heard and closed."""
    case.assertEqual(rc, 0, err)
    case.assertEqual(res["errors"], 0, res["error_kinds"])
    case.assertEqual((res["streams"], res["kicks"]), (streams, kicks))
    case.assertEqual(res["ops"]["stream-open"]["count"], streams)
    for name in ("kickout", "kick-to-event", "kick-to-close"):
        case.assertEqual(res["ops"][name]["count"], kicks, name)
    # A stream ends after its `kicked` line, which comes after the kick.
    case.assertLessEqual(res["ops"]["kick-to-event"]["p50_ms"],
                         res["ops"]["kick-to-close"]["p50_ms"] * 1.02 + 1e-9)


class MeetbenchTest(MeetdCase):
    def bench(self, *args, profile=None):
        """Runs meetbench --json; returns (exit status, result or None, stderr)."""
        if profile is None:
            profile = os.path.join(self.server.data, "credentials")
        return run_meetbench(profile or None, *args)

    def assert_clean(self, rc, res, err, ops):
        self.assertEqual(rc, 0, err)
        self.assertEqual(res["errors"], 0, res["error_kinds"])
        self.assertEqual(res["error_kinds"], {})
        self.assertGreater(res["requests"], 0)
        counted = {name for name, o in res["ops"].items() if o["count"] > 0}
        self.assertEqual(counted, ops)
        self.assertEqual(sum(o["count"] for o in res["ops"].values()), res["requests"])
        for name, o in res["ops"].items():
            if o["count"]:
                self.assertLessEqual(o["p50_ms"], o["p99_ms"], name)
                self.assertLessEqual(o["p99_ms"], o["p999_ms"] + 1e-9, name)
                self.assertLessEqual(o["p999_ms"], o["max_ms"] * 1.02 + 1e-9, name)
                self.assertGreater(o["mean_ms"], 0, name)

    def test_every_scenario_runs_clean(self):
        for scenario, ops in sorted(OPS.items()):
            with self.subTest(scenario=scenario):
                rc, res, err = self.bench("--meetings", "2", "--participants", "6", scenario)
                self.assert_clean(rc, res, err, ops)
                self.assertEqual(res["scenario"], scenario)
                if scenario in ("kickout", "join-churn"):
                    # A step is a pair: its two operations alternate.
                    a, b = (res["ops"][o]["count"] for o in sorted(ops))
                    self.assertLessEqual(abs(a - b), 4)

    def test_streams_on_the_one_url_by_default(self):
        rc, res, err = self.bench("--meetings", "2", "--participants", "4", "--kicks", "5",
                                  "--hold", "0", "streams")
        assert_streams_clean(self, rc, res, err, 8, 5)
        self.assertEqual(res["stream_target"], res["target"])

    def test_stream_url_opens_the_streams_there(self):
        # The same node under another name (localhost): the plumbing of
        # --stream-url; test_cluster_bench runs it across two nodes.
        rc, res, err = self.bench("--meetings", "2", "--participants", "4", "--kicks", "5",
                                  "--hold", "0", "--stream-url",
                                  "http://localhost:%d" % self.server.port, "streams")
        assert_streams_clean(self, rc, res, err, 8, 5)
        self.assertEqual(res["stream_target"], "127.0.0.1:%d" % self.server.port)

    def test_stream_url_bad_values_are_refused(self):
        port = self.server.port
        for args, why in ((["--stream-url", "http://127.0.0.1:%d" % port, "kickout"],
                           "--stream-url is for the streams scenario"),
                          (["--stream-url", "http://10.0.0.1:%d" % port, "streams"],
                           "not a loopback address"),
                          (["--stream-url", "127.0.0.1:%d" % port, "streams"], "bad URL")):
            with self.subTest(args=args):
                before = self.metrics()["meetd_joins_total"]
                rc, res, err = self.bench("--meetings", "1", "--participants", "2", *args)
                self.assertEqual(rc, 2, err)
                self.assertIsNone(res)
                self.assertIn(why, err)
                self.assertEqual(self.metrics()["meetd_joins_total"], before)

    def test_static_against_healthz(self):
        url = "http://127.0.0.1:%d/healthz" % self.server.port
        rc, res, err = self.bench("--url", url, "static", profile=False)
        self.assert_clean(rc, res, err, {"static"})

    def test_open_loop_never_outruns_its_rate(self):
        rc, res, err = self.bench("--meetings", "1", "--participants", "4", "--rate", "40",
                                  "kickout")
        self.assert_clean(rc, res, err, {"kickout", "join"})
        # 40 steps a second for one second: never more (a late step is sent
        # late, not dropped, so fewer only when the machine stalls).
        self.assertLessEqual(res["ops"]["kickout"]["count"], 41)

    def test_answers_that_are_not_2xx_are_errors(self):
        url = "http://127.0.0.1:%d/no-such-path" % self.server.port
        rc, res, err = self.bench("--url", url, "static", profile=False)
        self.assertEqual(rc, 3, err)                    # finished, but answers were wrong
        self.assertGreater(res["errors"], 0)
        self.assertEqual(res["errors"], res["requests"])  # every answer, none a success
        self.assertEqual(res["ops"], {})
        kinds = list(res["error_kinds"])
        self.assertEqual(len(kinds), 1, kinds)
        self.assertRegex(kinds[0], r"^404/\d+$")           # status/error_code

    def test_a_refused_setup_fails_the_run(self):
        creds = dict(self.server.creds)
        creds["MEETD_SECRET_KEY"] = "0" * len(creds["MEETD_SECRET_KEY"])
        with tempfile.NamedTemporaryFile("w", suffix=".creds", delete=False) as f:
            f.write("".join("%s=%s\n" % kv for kv in creds.items()))
        self.addCleanup(os.unlink, f.name)
        before = self.metrics()["meetd_joins_total"]
        rc, res, err = self.bench("--meetings", "1", "--participants", "4", "kickout",
                                  profile=f.name)
        self.assertEqual(rc, 1, err)
        self.assertIsNone(res)
        self.assertIn("run failed", err)
        self.assertEqual(self.metrics()["meetd_joins_total"], before)

    def test_summary_line_reads_a_result(self):
        rc, res, err = self.bench("--meetings", "1", "--participants", "4", "kickout")
        self.assert_clean(rc, res, err, {"kickout", "join"})
        with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
            json.dump(res, f)
        self.addCleanup(os.unlink, f.name)
        out = subprocess.run([sys.executable, SUMMARY, "line", "full-kickout", f.name],
                             stdout=subprocess.PIPE, check=True).stdout.decode()
        self.assertRegex(out, r"^bench: full-kickout: \d+ req/s \(.*kickout \d+/s.*\) "
                              r"p50 [0-9.]+ p99 [0-9.]+ p99\.9 [0-9.]+ ms, errors 0")


def fixed_result(scenario, rps, server_cpu, p99_ms=1.0, rate=0.0):
    """A meetbench --json result with the figures summary.py reads."""
    name = {"static": "static", "kickout": "kickout", "join-churn": "join",
            "participants": "participants"}[scenario]
    o = {"rps": rps, "p50_ms": p99_ms / 2, "p99_ms": p99_ms, "p999_ms": p99_ms * 2,
         "count": int(rps * 10), "max_ms": p99_ms * 3}
    return {"scenario": scenario, "rps": rps, "ops": {name: o}, "errors": 0,
            "error_kinds": {}, "client_cpu": 0.5, "server_cpu": server_cpu, "rate": rate}


class SummaryReportTest(unittest.TestCase):
    """summary.py report's closing cpu: and tail: lines from a fixed run:
    the arithmetic, the exact form, and nan for what the run lacks."""

    def report(self, results):
        with tempfile.TemporaryDirectory() as d:
            for label, r in results.items():
                with open(os.path.join(d, label + ".json"), "w") as f:
                    json.dump(r, f)
            return subprocess.run([sys.executable, SUMMARY, "report", d], stdout=subprocess.PIPE,
                                  check=True).stdout.decode().splitlines()

    def test_cpu_and_tail_lines(self):
        results = {
            "nginx-static": fixed_result("static", 50000, 1.0),
            # 0.8 CPU at 50,000 req/s: 16 us a request.
            "mhd-static": fixed_result("static", 50000, 0.8),
            "meetd-healthz": fixed_result("static", 40000, 0.96),      # 24 us: 1.50 x
            "full-kickout": fixed_result("kickout", 10000, 0.8),       # 80 us: 5.00 x
            "full-join-churn": fixed_result("join-churn", 20000, 1.0),  # 50 us
            "full-participants": fixed_result("participants", 8000, 1.0),  # 125 us
            # three half-rate runs, each after its nginx run: p99 differences
            # 3.0, 0.5, 1.25 -> median 1.25
            "nginx-at-full-kickout-half": fixed_result("static", 10000, 0.2, 2.0, 10000),
            "full-kickout-half": fixed_result("kickout", 10000, 0.5, 5.0, 5000),
            "nginx-at-full-kickout-half-2": fixed_result("static", 10000, 0.2, 1.0, 10000),
            "full-kickout-half-2": fixed_result("kickout", 10000, 0.5, 1.5, 5000),
            "nginx-at-full-kickout-half-3": fixed_result("static", 10000, 0.2, 0.25, 10000),
            "full-kickout-half-3": fixed_result("kickout", 10000, 0.5, 1.5, 5000),
        }
        out = self.report(results)
        self.assertEqual(out[-9:], [
            "cpu: healthz 1.50 x libmicrohttpd alone (24.0 us vs 16.0 us a request)",
            "cpu: full-kickout 5.00 x libmicrohttpd alone (80.0 us vs 16.0 us a request)",
            "cpu: full-join-churn 3.12 x libmicrohttpd alone (50.0 us vs 16.0 us a request)",
            "cpu: full-participants 7.81 x libmicrohttpd alone (125.0 us vs 16.0 us a request)",
            "cpu: normal-kickout nan x libmicrohttpd alone (nan us vs 16.0 us a request)",
            "cpu: normal-join-churn nan x libmicrohttpd alone (nan us vs 16.0 us a request)",
            "cpu: normal-participants nan x libmicrohttpd alone (nan us vs 16.0 us a request)",
            "tail: full 1.25 ms over nginx (median of 3)",
            "tail: normal nan ms over nginx (median of 0)",
        ])
        # The throughput against the bound is still printed, as a figure.
        self.assertTrue(any(l.startswith("figure: kickout throughput (full)") for l in out), out)
        self.assertFalse(any("MISSED" in l or "MET" in l for l in out), out)


if __name__ == "__main__":
    unittest.main()
