"""README.md as a newcomer follows it: the tour's commands, taken from README.md
itself and run in bash against a meetd of the test's own; `make run` with
its variables; `make test`'s banners and summary (scripts/test.sh).

The tour is the part of README.md between `<!-- tour: begin` and
`<!-- tour: end -->`. Every ```sh block in it is run, in order, in one bash
whose directory holds `var` (the server's data directory), `build` (the
directory of MEETCTL_BIN) and `scripts`, so that the commands run exactly as
written. `make run` is left out: the test has started meetd already. Every
command must exit 0, but one whose status the next line prints (`echo ... $?`).
A ```text block right after a ```sh block is what that block prints: each of
its lines must match a line of the output, in order (other lines may come
between). In an expected line a run of spaces stands for any run of spaces,
`…` for any text, a word cut short by `…` (msPj3gl78J…) for any word, and a
date (2026-12-03) or a time (09:58:50) for any.

Needs MEETCTL_BIN besides MEETD_BIN; `make` for the make run tests.
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unittest

import meetd_harness as h

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
README = os.path.join(SOURCE, "README.md")
TOUR_TIMEOUT = 60.0      # error bound for the whole tour; never a sleep
MARK = "@@tour"
DATE_RE = re.compile(r"^\d{4}-\d\d-\d\d$")
TIME_RE = re.compile(r"^\d\d:\d\d:\d\d$")
CUT_WORD_RE = re.compile(r"^[\w-]+…$")


def make_env(**extra):
    """The environment of a make run by a test: no MEETD_*, and nothing of a
    make this test may itself run under (make test), which would pass on its
    flags."""
    env = {k: v for k, v in h.child_env().items()
           if k not in ("MAKEFLAGS", "MAKELEVEL", "MFLAGS", "MAKE")}
    env.update(extra)
    return env


def meetctl_dir():
    path = os.environ.get("MEETCTL_BIN")
    if not path:
        raise RuntimeError("MEETCTL_BIN is not set (path of the meetctl binary)")
    return os.path.dirname(os.path.abspath(path))


def tour_blocks(text):
    """[(kind, [lines])] of the fenced blocks of the tour, kind 'sh' or 'text'."""
    begin = text.index("<!-- tour: begin")
    end = text.index("<!-- tour: end -->", begin)
    blocks, current = [], None
    for line in text[begin:end].splitlines():
        fence = re.match(r"^```(\w*)\s*$", line)
        if fence and current is None:
            current = (fence.group(1), [])
        elif fence:
            blocks.append(current)
            current = None
        elif current is not None:
            current[1].append(line)
    if current is not None:
        raise AssertionError("README.md: a fenced block of the tour is not closed")
    return blocks


def commands(lines):
    """The block's commands, a line ending in a backslash joined to the next."""
    out, pending = [], ""
    for line in lines:
        pending += line
        if pending.endswith("\\"):
            pending += "\n"        # bash joins the lines itself
            continue
        if pending.strip() and not pending.lstrip().startswith("#"):
            out.append(pending)
        pending = ""
    if pending.strip():
        out.append(pending)
    return out


def starts_meetd(cmd):
    return re.match(r"^\s*make run\b", cmd) is not None


def line_regex(expected):
    """The regular expression an expected line stands for (module docstring)."""
    tokens = expected.split()
    parts = []
    for i, tok in enumerate(tokens):
        if tok == "…":
            parts.append((r"\s*" if i else "") + ".*")
            continue
        if CUT_WORD_RE.match(tok):
            pat = r"\S+"
        elif DATE_RE.match(tok):
            pat = r"\d{4}-\d\d-\d\d"
        elif TIME_RE.match(tok):
            pat = r"\d\d:\d\d:\d\d"
        else:
            pat = ".*".join(re.escape(p) for p in tok.split("…"))
        parts.append((r"\s+" if i else "") + pat)
    return re.compile("".join(parts))


def unmatched(expected_lines, actual_lines):
    """The first expected line with no match after the previous one's, or None."""
    actual = [l.rstrip() for l in actual_lines if l.strip()]
    at = 0
    for exp in expected_lines:
        if not exp.strip():
            continue
        rx = line_regex(exp.strip())
        while at < len(actual) and not rx.fullmatch(actual[at].strip()):
            at += 1
        if at == len(actual):
            return exp
        at += 1
    return None


class TourTest(h.MeetdCase):
    def setUp(self):
        super().setUp()
        self.dir = tempfile.mkdtemp(prefix="meetd-tour-")
        self.addCleanup(shutil.rmtree, self.dir, True)
        os.symlink(self.server.data, os.path.join(self.dir, "var"))
        os.symlink(meetctl_dir(), os.path.join(self.dir, "build"))
        os.symlink(os.path.join(SOURCE, "scripts"), os.path.join(self.dir, "scripts"))

    def script(self, steps):
        """One bash script running every command, each between two marks
        that carry its number and its exit status."""
        out = ["exec 2>&1", "__tour_rc=0"]     # an error line belongs to its command's output
        for n, (cmd, _block) in enumerate(steps):
            out.append("printf '\\n%s %d begin\\n'; (exit $__tour_rc)" % (MARK, n))
            out.append(cmd)
            # The marks give $? back: the next command may print it.
            out.append("__tour_rc=$?; printf '\\n%s %d status %%d\\n' $__tour_rc; "
                       "(exit $__tour_rc)" % (MARK, n))
        return "\n".join(out) + "\n"

    def run_tour(self, steps):
        env = h.child_env()
        env["TZ"] = "UTC"
        proc = subprocess.Popen(["bash", "-c", self.script(steps)], cwd=self.dir, env=env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                start_new_session=True, text=True)
        try:
            out, _ = proc.communicate(timeout=TOUR_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)      # bash and what it left running
            out, _ = proc.communicate()
            raise AssertionError("the tour did not finish within %s s:\n%s"
                                 % (TOUR_TIMEOUT, out))
        bad = h.sanitizer_reports(out)
        self.assertFalse(bad, "the tour reported %s:\n%s" % (bad, out))
        return out

    def test_the_tour_runs_as_written(self):
        with open(README, encoding="utf-8") as f:
            blocks = tour_blocks(f.read())
        steps, expect = [], {}       # expect: sh block number -> its text block
        for i, (kind, lines) in enumerate(blocks):
            if kind == "sh":
                steps += [(c, i) for c in commands(lines) if not starts_meetd(c)]
            elif kind == "text" and i > 0 and blocks[i - 1][0] == "sh":
                expect[i - 1] = lines
        shown = "\n".join("\n".join(v) for v in expect.values())
        # What the tour exists to show must stay shown (and so checked).
        for what in ("removed", "kicked", "error 9101", "ban lifted", "LEFT"):
            self.assertIn(what, shown, "README.md's tour no longer shows %r" % what)

        out = self.run_tour(steps)
        per_step = {}
        current = None
        for line in out.splitlines():
            m = re.match(r"^%s (\d+) (begin|status (\d+))$" % MARK, line)
            if m and m.group(2) == "begin":
                current = int(m.group(1))
                per_step[current] = {"lines": [], "status": None}
            elif m:
                per_step[int(m.group(1))]["status"] = int(m.group(3))
                current = None
            elif current is not None:
                per_step[current]["lines"].append(line)
        for n, (cmd, block) in enumerate(steps):
            self.assertIn(n, per_step, "the tour stopped before %r:\n%s" % (cmd, out))
            self.assertIsNotNone(per_step[n]["status"], "%r did not finish:\n%s" % (cmd, out))
            status_shown = n + 1 < len(steps) and "$?" in steps[n + 1][0]
            if not status_shown:
                self.assertEqual(per_step[n]["status"], 0, "%r failed:\n%s"
                                 % (cmd, "\n".join(per_step[n]["lines"])))
        for block, lines in expect.items():
            printed = [l for n, (c, b) in enumerate(steps) if b == block
                       for l in per_step[n]["lines"]]
            missing = unmatched(lines, printed)
            self.assertIsNone(missing, "README.md shows %r, which the block printed no line "
                              "like; it printed:\n%s" % (missing, "\n".join(printed)))
        # Blocks the README shows no output of print no error either.
        for n, (cmd, block) in enumerate(steps):
            if block not in expect:
                self.assertNotIn("error", "\n".join(per_step[n]["lines"]), cmd)

    def test_the_checker_refuses_what_the_readme_does_not_show(self):
        # The matching rules themselves: a test that cannot fail proves nothing.
        ok = ["MS_OPEN_ID  UUID  DEVICE  RESULT",
              "msAbc  DEF12  2 Mac   removed",
              "kicked {\"reason\":\"tour\",\"time\":1796291930}",
              "msK2  carol  2026-01-02 03:04:05"]
        self.assertIsNone(unmatched(["MS_OPEN_ID UUID DEVICE RESULT",
                                     "msPj3gl78J…  2F85A02…  2 Mac  removed",
                                     'kicked {"reason":"tour","time":…}',
                                     "msK2b7Qm1c…  carol  2026-12-03 09:58:50"], ok))
        self.assertIsNotNone(unmatched(["msPj3gl78J…  2F85A02…  2 Mac  not_in_meeting"], ok))
        self.assertIsNotNone(unmatched(["msK2b7Qm1c…  carol  2026-12-03"], ok))  # whole lines
        self.assertIsNotNone(unmatched(["msPj3gl78J…  2F85A02…  2 Mac  removed",
                                        "MS_OPEN_ID UUID DEVICE RESULT"], ok))   # in order


class MakeRunTest(unittest.TestCase):
    """`make run` leaves --listen and --data to MEETD_LISTEN and MEETD_DATA,
    unless LISTEN= or DATA= are given to make."""

    def setUp(self):
        if shutil.which("make") is None:
            self.skipTest("make is not installed")
        self.dir = tempfile.mkdtemp(prefix="meetd-make-")
        self.addCleanup(shutil.rmtree, self.dir, True)

    def make_run(self, make_args, env_extra):
        """Runs `make run` (the build taken as done) from an empty directory,
        waits for meetd's listening line; returns (port, data dir's files)."""
        env = make_env(**env_extra)
        build = os.path.dirname(h.meetd_bin())
        proc = subprocess.Popen(
            ["make", "--no-print-directory", "-f", os.path.join(SOURCE, "Makefile"),
             "-o", "build", "BUILD=" + build, "run"] + make_args,
            cwd=self.dir, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            seen = []
            for line in iter(proc.stderr.readline, ""):
                seen.append(line)
                m = re.search(r"meetd: listening on http://([\d.]+):(\d+)", line)
                if m:
                    return int(m.group(2)), "".join(seen)
            raise AssertionError("make run ended without meetd listening:\n" + "".join(seen))
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)    # make and meetd
            try:
                proc.wait(h.DEADLINE)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            proc.stderr.close()

    def served(self, data, port):
        with open(os.path.join(data, "credentials")) as f:
            creds = h.parse_credentials(f.read())
        self.assertEqual(creds["MEETD_ENDPOINT"], "http://127.0.0.1:%d" % port)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "var")),
                         "make run used ./var, not the data directory it was given")

    def test_meetd_variables_reach_meetd(self):
        data = os.path.join(self.dir, "from-env")
        port, log = self.make_run([], {"MEETD_LISTEN": "127.0.0.1:0", "MEETD_DATA": data})
        self.assertNotEqual(port, 8080, log)
        self.served(data, port)

    def test_listen_and_data_given_to_make(self):
        data = os.path.join(self.dir, "from-make")
        port, log = self.make_run(["LISTEN=127.0.0.1:0", "DATA=" + data],
                                  {"MEETD_LISTEN": "127.0.0.1:1", "MEETD_DATA": "/nonexistent"})
        self.assertNotEqual(port, 1, log)
        self.served(data, port)


class MakeTestTest(unittest.TestCase):
    """`make test` names each phase as it starts and ends with a summary of
    all of them (scripts/test.sh), CTest's closing line still in the output.
    The phases here are dry ones: the real suite is what runs this test."""

    def run_phases(self, *phases):
        cp = subprocess.run(["bash", os.path.join(SOURCE, "scripts", "test.sh")] + list(phases),
                            capture_output=True, text=True, timeout=h.DEADLINE,
                            env=make_env())
        return cp.returncode, cp.stdout + cp.stderr

    def test_banners_and_a_summary_of_every_phase(self):
        ctest = "100% tests passed, 0 tests failed out of 3"
        rc, out = self.run_phases("first|a phase that passes|echo one; echo '%s'" % ctest,
                                  "second|a phase that fails|echo two; exit 3",
                                  "third|runs after a failure|echo three")
        self.assertEqual(rc, 1, out)
        lines = out.splitlines()
        order = [lines.index(l) for l in (
            "==> make test, phase 1 of 3: first: a phase that passes", "one", ctest,
            "==> make test, phase 2 of 3: second: a phase that fails", "two",
            "==> make test, phase 3 of 3: third: runs after a failure", "three",
            "==> make test: 2 of 3 phases passed")]
        self.assertEqual(order, sorted(order), out)
        summary = [l.split() for l in lines[order[-1] + 1:]]
        self.assertEqual([row[:2] for row in summary],
                         [["first", "passed"], ["second", "FAILED"], ["third", "passed"]], out)
        self.assertTrue(lines[order[-1] + 1].endswith(ctest), out)

    def test_all_passed_exits_0_and_the_last_ctest_line_closes_the_output(self):
        ctest = "100% tests passed, 0 tests failed out of 7"
        rc, out = self.run_phases("only|dry|echo '%s'" % ctest)
        self.assertEqual(rc, 0, out)
        self.assertIn("==> make test: 1 of 1 phases passed", out)
        self.assertTrue(out.rstrip().endswith(ctest), out)

    def test_make_test_runs_the_three_phases_under_banners(self):
        if shutil.which("make") is None:
            self.skipTest("make is not installed")
        # -n: the sub-makes only print what they would do.
        cp = subprocess.run(["make", "--no-print-directory", "-n", "test"], cwd=SOURCE,
                            capture_output=True, text=True, timeout=h.DEADLINE,
                            env=make_env())
        self.assertEqual(cp.returncode, 0, cp.stderr)
        for banner in ("phase 1 of 3: fuzz smoke", "phase 2 of 3: plain suite",
                       "phase 3 of 3: ASan suite", "make test: 3 of 3 phases passed"):
            self.assertIn(banner, cp.stdout)
        self.assertIn("fuzz/run.sh", cp.stdout)
        self.assertIn("ctest", cp.stdout)


if __name__ == "__main__":
    unittest.main()
