"""meetctl's output for shell scripts (docs/meetctl.md, "For shell scripts"):
-q prints the answer's id alone, --shell PREFIX prints assignments that bash
evaluates to the answer's values, whatever they contain.

Needs MEETCTL_BIN besides MEETD_BIN.
"""
import subprocess
import unittest

from meetd_harness import DEADLINE, MeetdCase, uniq
from test_meetctl import ctl_env, meetctl_bin, run_ctl


class ShellOutputTest(MeetdCase):
    def ctl(self, *args):
        return run_ctl(list(args), ctl_env(self.server.creds))

    def ok(self, *args):
        cp = self.ctl(*args)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        return cp.stdout

    def bash(self, script):
        """Runs script in bash with meetctl as $CTL and the credentials in the
        environment; returns its stdout."""
        env = ctl_env(self.server.creds, CTL=meetctl_bin())
        cp = subprocess.run(["bash", "-c", script], capture_output=True, text=True,
                            timeout=DEADLINE, env=env)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        return cp.stdout

    def test_quiet_prints_the_meeting_id_alone(self):
        out = self.ok("meeting", "create", "--userid", "alice", "--subject", "q", "-q")
        mid = out.strip()
        self.assertRegex(out, r"^\d{1,19}\n$")
        # It is the meeting's id: the meeting is there under it.
        self.assertEqual(self.ok("meeting", "get", mid, "--userid", "alice", "-q"), out)
        self.assertEqual(self.query(mid)["meeting_id"], mid)

    def test_quiet_prints_the_joined_devices_ms_open_id(self):
        mid = self.new_meeting()
        user = uniq("bob")
        out = self.ok("device", "join", mid, "--userid", user, "--instanceid", "2", "-q")
        self.assertEqual(self.present(mid), [(out.strip(), 2)])
        self.assertEqual(out.count("\n"), 1)

    def test_quiet_commands_without_an_id_print_nothing(self):
        mid = self.new_meeting()
        self.assertEqual(self.ok("meeting", "participants", mid, "--userid", "alice", "-q"), "")
        self.assertEqual(self.ok("health", "--quiet"), "")

    def test_shell_assignments_evaluate_to_the_answer(self):
        mid = self.new_meeting()
        user = uniq("bob")
        out = self.bash('eval "$("$CTL" device join %s --userid %s --instanceid 2 --shell BOB_)"\n'
                        'printf "%%s\\n" "$BOB_MS_OPEN_ID" "$BOB_UUID" "$BOB_INSTANCEID" '
                        '"$BOB_DEVICE_TOKEN"' % (mid, user))
        ms, uuid, inst, token = out.splitlines()
        self.assertEqual(self.present(mid), [(ms, 2)])
        self.assertEqual(inst, "2")
        self.assertTrue(uuid)
        stream = self.events(token=token)
        self.assertEqual(stream.status, 200, "the device_token printed opens no stream")

    def test_shell_values_are_quoted_against_the_shell(self):
        # A subject the shell would expand, split or run if it were not quoted.
        subject = "it's $(touch pwned) `id` $HOME; \"x\" *"
        mid = self.ok("meeting", "create", "--userid", "alice", "--subject", subject, "-q").strip()
        out = self.bash('cd "$(mktemp -d)" && eval "$("$CTL" meeting get %s --userid alice '
                        '--shell \'\')" && printf "%%s\\n" "$SUBJECT" "$MEETING_ID" && ls' % mid)
        lines = out.splitlines()
        self.assertEqual(lines[0], subject)
        self.assertEqual(lines[1], mid)
        self.assertEqual(lines[2:], [], "something in the value ran")

    def test_output_options_refused_together_or_where_they_do_not_apply(self):
        mid = self.new_meeting()
        for args in (["--json", "-q"], ["-q", "--shell", "X_"], ["--json", "--shell", "X_"],
                     ["--shell", "1X"], ["--shell", "A-B"], ["--shell", "A B"]):
            cp = self.ctl("meeting", "get", mid, "--userid", "alice", *args)
            self.assertEqual(cp.returncode, 2, (args, cp.stdout, cp.stderr))
            self.assertEqual(cp.stdout, "", args)
        for args in (["device", "watch", "x.y", "-q"],
                     ["request", "GET", "/healthz", "--shell", "X_"]):
            cp = self.ctl(*args)
            self.assertEqual(cp.returncode, 2, (args, cp.stderr))
            self.assertIn("do not apply", cp.stderr)
        # Refused before anything was sent: no meeting was made.
        before = self.ok("meeting", "get", mid, "--userid", "alice", "--json")
        cp = self.ctl("meeting", "create", "--userid", "alice", "--subject", "no", "-q", "--json")
        self.assertEqual(cp.returncode, 2)
        self.assertEqual(self.ok("meeting", "get", mid, "--userid", "alice", "--json"), before)


if __name__ == "__main__":
    unittest.main()
