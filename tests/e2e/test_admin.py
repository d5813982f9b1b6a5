"""First start, credentials file, `meetd app` administration (configuration.md)."""
import os
import re
import socket
import stat
import subprocess
import tempfile
import unittest

import meetd_harness as h

PROBE = "/v1/meetings"


class AdminTest(h.MeetdCase):
    server_per_test = True        # every test sees a first start on an empty store

    def works(self, creds):
        client = self.server.client(creds)
        self.assert_ok(client.post(PROBE, self.meeting_body()))
        return client

    def refused_401(self, creds):
        self.assert_error(self.server.client(creds).post(PROBE, self.meeting_body()),
                          401, 190303)

    def app_ids_listed(self):
        cp = self.server.app("list")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        return cp.stdout

    def test_first_start_writes_credentials_0600(self):
        path = os.path.join(self.server.data, "credentials")
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        with open(path) as f:
            lines = [l for l in f.read().splitlines() if l.strip()]
        keys = [l.split("=", 1)[0] for l in lines]
        self.assertEqual(sorted(keys), sorted(h.CRED_KEYS), lines)
        creds = self.server.creds
        self.assertEqual(creds["MEETD_ENDPOINT"], "http://127.0.0.1:%d" % self.server.port)
        for k in ("MEETD_APP_ID", "MEETD_SECRET_ID", "MEETD_SECRET_KEY"):
            self.assertTrue(creds[k], k)
        self.works(creds)
        self.assertNotIn(creds["MEETD_SECRET_KEY"], self.server.stderr())
        self.server.stop()
        self.assertIn("MEETD_SECRET_KEY=" + creds["MEETD_SECRET_KEY"], self.server.stdout(),
                      "first start did not print the credentials on stdout")
        self.assertNotIn(creds["MEETD_SECRET_KEY"], self.server.stderr())

    def test_restart_keeps_the_app_and_does_not_reprint(self):
        first = dict(self.server.creds)
        self.server.restart()
        again = self.server.creds
        for k in ("MEETD_APP_ID", "MEETD_SDK_ID", "MEETD_SECRET_ID", "MEETD_SECRET_KEY"):
            self.assertEqual(again[k], first[k], k)
        self.works(first)
        self.server.stop()
        self.assertNotIn(first["MEETD_SECRET_KEY"], self.server.stdout_of_last_run())
        self.assertNotIn(first["MEETD_SECRET_KEY"], self.server.stderr())

    def test_restart_on_another_port_moves_the_credentials_endpoint(self):
        path = os.path.join(self.server.data, "credentials")
        first = dict(self.server.creds)
        old_port = self.server.port
        self.server.stop()
        # Hold the old port so that the restart (port 0) must take another one.
        holder = socket.socket()
        try:
            holder.bind(("127.0.0.1", old_port))
            self.server.start()
        finally:
            holder.close()
        self.assertNotEqual(self.server.port, old_port)
        with open(path) as f:
            now_in_file = h.parse_credentials(f.read())
        self.assertEqual(now_in_file["MEETD_ENDPOINT"], "http://127.0.0.1:%d" % self.server.port)
        for k in ("MEETD_APP_ID", "MEETD_SDK_ID", "MEETD_SECRET_ID", "MEETD_SECRET_KEY"):
            self.assertEqual(now_in_file[k], first[k], k)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)
        self.works(now_in_file)

    def test_restart_keeps_every_other_line_of_the_credentials_file(self):
        path = os.path.join(self.server.data, "credentials")
        with open(path) as f:
            lines = f.read().splitlines()
        # Edited by hand: a comment added, the endpoint line deleted.
        edited = ["# the tour's app"] + [l for l in lines if not l.startswith("MEETD_ENDPOINT=")]
        with open(path, "w") as f:
            f.write("\n".join(edited) + "\n")
        self.server.restart()
        with open(path) as f:
            now = f.read().splitlines()
        self.assertEqual(now, ["MEETD_ENDPOINT=http://127.0.0.1:%d" % self.server.port] + edited)
        self.assertEqual(stat.S_IMODE(os.stat(path).st_mode), 0o600)

    def test_app_create_and_rotate_key_print_the_running_servers_endpoint(self):
        real = "http://127.0.0.1:%d" % self.server.port
        new = self.server.create_app()
        self.assertEqual(new["MEETD_ENDPOINT"], real)
        cp = self.server.app("rotate-key", new["MEETD_APP_ID"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(h.parse_credentials(cp.stdout)["MEETD_ENDPOINT"], real)
        given = self.server.create_app("--endpoint", "https://meetd.example.org")
        self.assertEqual(given["MEETD_ENDPOINT"], "https://meetd.example.org")

    def test_app_create_without_a_running_server_says_the_endpoint_is_unknown(self):
        self.server.stop()
        cp = self.server.app("create")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        creds = h.parse_credentials(cp.stdout)
        self.assertNotIn("MEETD_ENDPOINT", creds, "a guessed address was printed")
        self.assertTrue(creds["MEETD_SECRET_KEY"])
        self.assertIn("address is unknown", cp.stderr)
        self.assertIn("--endpoint", cp.stderr)

    def test_app_create_and_list(self):
        dev = self.server.creds
        new = self.server.create_app("--name", "billing")
        self.assertTrue(new["MEETD_SDK_ID"], "an SdkId is generated by default")
        for k in ("MEETD_APP_ID", "MEETD_SECRET_ID", "MEETD_SECRET_KEY"):
            self.assertNotEqual(new[k], dev[k], k)
        self.works(new)                                  # meetd sees it on the next request
        listing = self.app_ids_listed()
        for text in (dev["MEETD_APP_ID"], new["MEETD_APP_ID"], new["MEETD_SDK_ID"], "billing"):
            self.assertIn(text, listing)
        for secret in (dev["MEETD_SECRET_KEY"], new["MEETD_SECRET_KEY"]):
            self.assertNotIn(secret, listing)
        self.assertNotIn(new["MEETD_SECRET_KEY"], self.server.stderr())

    def test_sdk_id_options(self):
        given = self.server.create_app("--sdk-id", "1987654321")
        self.assertEqual(given["MEETD_SDK_ID"], "1987654321")
        client = self.works(given)
        self.assert_error(client.post(PROBE, self.meeting_body(), headers={"SdkId": None}),
                          401, 190303)
        none = self.server.create_app("--no-sdk-id")
        self.assertEqual(none["MEETD_SDK_ID"], "")
        self.works(none)

    def test_rotate_key(self):
        app = self.server.create_app()
        old = self.works(app)
        mid = self.new_meeting(client=old)
        bob = self.join(mid, "bob", 2, client=old)
        cp = self.server.app("rotate-key", app["MEETD_APP_ID"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        new = h.parse_credentials(cp.stdout)
        self.assertEqual((new["MEETD_APP_ID"], new["MEETD_SDK_ID"]),
                         (app["MEETD_APP_ID"], app["MEETD_SDK_ID"]))
        self.assertNotEqual(new["MEETD_SECRET_ID"], app["MEETD_SECRET_ID"])
        self.assertNotEqual(new["MEETD_SECRET_KEY"], app["MEETD_SECRET_KEY"])
        self.refused_401(app)
        client = self.works(new)
        self.assertEqual(self.present(mid, client=client), [(bob["ms_open_id"], 2)])
        self.works(self.server.creds)                    # other apps untouched
        self.assertNotIn(new["MEETD_SECRET_KEY"], self.server.stderr())

    def test_delete(self):
        app = self.server.create_app()
        self.works(app)
        cp = self.server.app("delete", app["MEETD_APP_ID"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.refused_401(app)
        self.assertNotIn(app["MEETD_APP_ID"], self.app_ids_listed())
        self.works(self.server.creds)

    def test_contradicting_or_misplaced_options_change_nothing(self):
        before = self.app_ids_listed()
        for args in (["create", "--sdk-id", "1", "--no-sdk-id"],
                     ["create", "--no-sdk-id", "--sdk-id", "1"]):
            cp = self.server.app(*args)
            self.assertEqual(cp.returncode, 2, args)
            self.assertEqual(cp.stdout, "", "credentials printed despite a usage error")
            self.assertIn("meetd app: --sdk-id and --no-sdk-id contradict each other",
                          cp.stderr)
        for args in (["list", "--name", "x"], ["list", "--no-sdk-id"],
                     ["delete", "--sdk-id", "1", "424242"]):
            cp = self.server.app(*args)
            self.assertEqual(cp.returncode, 2, args)
            self.assertIn("are for 'meetd app create'", cp.stderr)
        cp = self.server.app("list", "--bogus")
        self.assertEqual(cp.returncode, 2)
        self.assertTrue(cp.stderr.startswith("meetd app: unknown option '--bogus'"), cp.stderr)
        self.assertEqual(self.app_ids_listed(), before)

    def test_exit_statuses(self):
        self.assertEqual(self.server.app("frobnicate").returncode, 2)
        self.assertEqual(self.server.app("delete").returncode, 2)           # APPID missing
        cp = self.server.app("rotate-key", "424242424242")
        self.assertEqual(cp.returncode, 1)
        self.assertTrue(cp.stderr.strip(), "failure without a message")
        self.works(self.server.creds)


def run_meetd(*args, env=None):
    cp = subprocess.run([h.meetd_bin()] + list(args), stdin=subprocess.DEVNULL,
                        capture_output=True, text=True, timeout=h.DEADLINE,
                        env=env or h.child_env())
    bad = h.sanitizer_reports(cp.stderr)
    if bad:
        raise AssertionError("meetd %s reported %s:\n%s" % (" ".join(args), bad, cp.stderr))
    return cp


class CommandLineTest(unittest.TestCase):
    """meetd's own command line: help, version, and the messages of bad options.
    None of these starts a server; each that could runs in an empty directory,
    and must leave it empty."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="meetd-cli-")
        self.addCleanup(lambda: os.rmdir(self.dir))   # fails if anything was created

    def test_version_is_the_projects(self):
        root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
        with open(os.path.join(root, "CMakeLists.txt")) as f:
            version = re.search(r"project\(meetd VERSION ([0-9.]+)", f.read()).group(1)
        cp = run_meetd("--version")
        self.assertEqual((cp.returncode, cp.stdout, cp.stderr), (0, "meetd %s\n" % version, ""))

    def test_help_command(self):
        top = run_meetd("--help")
        self.assertEqual(top.returncode, 0)
        cp = run_meetd("help")
        self.assertEqual((cp.returncode, cp.stdout), (0, top.stdout))
        self.assertIn("meetd help [serve|app]", cp.stdout)
        self.assertIn("meetd --version", cp.stdout)
        for sub in ("serve", "app"):
            cp = run_meetd("help", sub)
            self.assertEqual(cp.returncode, 0, cp.stderr)
            self.assertEqual(cp.stdout, run_meetd(sub, "--help").stdout)
            self.assertTrue(cp.stdout.startswith("usage: meetd %s" % sub), cp.stdout)
        cp = run_meetd("help", "frobnicate")
        self.assertEqual((cp.returncode, cp.stdout), (2, ""))
        self.assertIn("meetd help: no command 'frobnicate'", cp.stderr)
        cp = run_meetd("help", "serve", "app")
        self.assertEqual((cp.returncode, cp.stdout), (2, ""))
        self.assertIn("meetd help: one command at most", cp.stderr)

    def test_listen_errors_show_the_form(self):
        data = os.path.join(self.dir, "data")
        for value in ("8080", ":8080", "localhost", "127.0.0.1:99999"):
            cp = run_meetd("serve", "--listen", value, "--data", data)
            self.assertEqual((cp.returncode, cp.stdout), (2, ""), value)
            self.assertEqual(cp.stderr, "meetd serve: invalid --listen '%s': want HOST:PORT, "
                             "e.g. 127.0.0.1:8080, 0.0.0.0:8080 or [::1]:8080\n" % value)
        env = dict(h.child_env(), MEETD_LISTEN="8080")
        cp = run_meetd("serve", "--data", data, env=env)
        self.assertEqual(cp.returncode, 2)
        self.assertIn("meetd serve: invalid MEETD_LISTEN='8080': want HOST:PORT", cp.stderr)
        self.assertFalse(os.path.exists(data), "a refused start created its data directory")

    def test_option_errors_name_the_command(self):
        data = os.path.join(self.dir, "data")
        cases = [(["--bogus"], "meetd serve: unknown option '--bogus'\n"),
                 (["--threads"], "meetd serve: missing value for '--threads'\n"),
                 (["--threads", "0"], "meetd serve: invalid --threads '0'\n"),
                 (["--pg-writers", "0"], "meetd serve: invalid --pg-writers '0'\n"),
                 (["--pg-writers", "65"], "meetd serve: invalid --pg-writers '65'\n"),
                 (["--pg-writers", "two"], "meetd serve: invalid --pg-writers 'two'\n"),
                 (["--durability", "fast"],
                  "meetd serve: invalid --durability 'fast': want full or normal\n"),
                 (["extra"], "meetd serve: unexpected argument 'extra'\n")]
        for args, first in cases:
            cp = run_meetd("serve", "--data", data, *args)
            self.assertEqual(cp.returncode, 2, args)
            self.assertTrue(cp.stderr.startswith(first), (args, cp.stderr))
            self.assertNotRegex(cp.stderr, r"(?m)^serve:", "getopt's own prefix")
        self.assertFalse(os.path.exists(data))


if __name__ == "__main__":
    unittest.main()
