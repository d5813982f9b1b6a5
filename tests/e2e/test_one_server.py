"""One meetd serve per address and per data directory, and `meetd app`
beside it (operations.md "Data", configuration.md)."""
import shutil
import tempfile
import unittest

import meetd_harness as h
from meetd_harness import MeetdCase, run_serve


class OneServerTest(MeetdCase):
    """One meetd serve per address and per data directory; `meetd app`
    administers the directory beside it."""

    def test_second_serve_on_the_same_address_fails(self):
        other = tempfile.mkdtemp(prefix="meetd-e2e-")
        self.addCleanup(shutil.rmtree, other, True)
        rc, err = run_serve(["--listen", "127.0.0.1:%d" % self.server.port, "--data", other])
        self.assertIsNotNone(rc, "a second meetd started on a taken address:\n" + err)
        self.assertEqual(rc, 1, err)
        self.assertIn("cannot listen on 127.0.0.1:%d: Address already in use" % self.server.port,
                      err)
        self.assertEqual(self.assert_ok(self.client.get("/healthz", signed=False)),
                         {"status": "ok"})

    @unittest.skipIf(h.pg_everywhere(), "with --postgres meetd does not lock its data "
                     "directory (configuration.md)")
    def test_second_serve_on_the_same_data_dir_fails(self):
        rc, err = run_serve(["--listen", "127.0.0.1:0", "--data", self.server.data])
        self.assertIsNotNone(rc, "a second meetd started on a data directory in use:\n" + err)
        self.assertEqual(rc, 1, err)
        self.assertIn("data directory %s is in use by another meetd serve (pid %d"
                      % (self.server.data, self.server.proc.pid), err)
        self.assertEqual(self.assert_ok(self.client.get("/healthz", signed=False)),
                         {"status": "ok"})

    def test_app_commands_work_beside_serve(self):
        creds = self.server.create_app("--name", "beside")
        cp = self.server.app("list")
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn(creds["MEETD_APP_ID"], cp.stdout)
        self.assert_ok(self.server.client(creds).post("/v1/meetings", self.meeting_body()))


class LockAfterCrashTest(unittest.TestCase):
    def test_a_killed_server_leaves_the_directory_free(self):
        server = h.Server()
        self.addCleanup(server.close)
        server.start()
        server.proc.kill()
        server.proc.wait()
        server.proc = None
        server.start()          # the kernel dropped the lock with the process
        server.stop()


if __name__ == "__main__":
    unittest.main()
