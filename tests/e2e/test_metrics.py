"""GET /metrics: Prometheus text, no authentication, counters that move."""
import re
import time
import unittest

from meetd_harness import MeetdCase, kick_body, op_ms, tgt_ms


class MetricsTest(MeetdCase):
    def test_counters_follow_requests(self):
        before = self.metrics()
        mid = self.new_meeting("alice")
        alice = self.join(mid, "alice", 1)
        bob = self.join(mid, "bob", 2)
        stream = self.events(bob)
        self.assertEqual(stream.status, 200)
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(bob)]))
        self.assertEqual(stream.next_event()[0], "kicked")
        self.assert_error(self.client.get("/v1/meetings/12?userid=alice&instanceid=1"), 400, 9003)
        # A request is counted when libmicrohttpd reports it complete, which
        # may be just after its client read the answer: wait (bounded) for
        # the last one, the 400, rather than read the counters once. A
        # request's write is counted at its commit, before its answer, and in
        # one counter of its own: meetd's own writes (presence: the stream's
        # open, a heartbeat a second; webhooks: on a shared store a look at
        # the outbox a second), which may commit at any time, are counted
        # apart, on this node and on another one alike.
        def own(m):
            return m["meetd_request_writes_total"]
        deadline = time.monotonic() + 5
        while True:
            after = self.metrics()
            # The stream's open is written by the presence thread in its own
            # time (the stream may be answered first): wait for it too.
            if ((after['meetd_requests_total{status="4xx"}']
                    > before['meetd_requests_total{status="4xx"}']
                    and own(after) - own(before) == 4
                    and after["meetd_presence_writes_total"]
                    > before["meetd_presence_writes_total"])
                    or time.monotonic() > deadline):
                break
        self.assertEqual(after["meetd_joins_total"] - before["meetd_joins_total"], 2)
        self.assertEqual(after["meetd_kickout_removals_total"]
                         - before["meetd_kickout_removals_total"], 1)
        self.assertGreaterEqual(after['meetd_requests_total{status="2xx"}']
                                - before['meetd_requests_total{status="2xx"}'], 5)
        self.assertGreaterEqual(after['meetd_requests_total{status="4xx"}']
                                - before['meetd_requests_total{status="4xx"}'], 1)
        self.assertGreater(after["meetd_replay_entries"], 0)
        # Four writes of requests (the meeting, two joins, the kickout), each
        # counted once, in at least one commit; none still waiting.
        writes = after["meetd_store_writes_total"] - before["meetd_store_writes_total"]
        commits = after["meetd_store_commits_total"] - before["meetd_store_commits_total"]
        self.assertEqual(own(after) - own(before), 4)
        self.assertGreaterEqual(after["meetd_presence_writes_total"]
                                - before["meetd_presence_writes_total"], 1)   # the open
        # Every write is counted once in the total and once by its origin.
        self.assertEqual(writes, sum(after[k] - before[k] for k in (
            "meetd_request_writes_total", "meetd_presence_writes_total",
            "meetd_webhook_writes_total")))
        self.assertGreaterEqual(commits, 1)
        self.assertLessEqual(commits, writes)
        self.assertEqual(after["meetd_writes_pending"], 0)
        # SQLite's WAL (a store on PostgreSQL counts no pages of its own).
        if not self.server.postgres:
            # Each commit appends its changed pages to the WAL: at least one, and
            # (1 KiB pages) a handful for a join or a kickout, not the whole WAL.
            pages = after["meetd_store_wal_pages_total"] - before["meetd_store_wal_pages_total"]
            self.assertGreaterEqual(pages, commits)
            self.assertLessEqual(pages, 40 * writes)
            one = self.metrics()
            self.join(mid, "carol", 3)
            two = self.metrics()
            self.assertTrue(1 <= two["meetd_store_wal_pages_total"]
                            - one["meetd_store_wal_pages_total"] <= 40, (one, two))
        # The histogram is cumulative and its count matches +Inf.
        buckets = sorted((float(m.group(1)) if m.group(1) != "+Inf" else float("inf"), v)
                         for k, v in after.items()
                         for m in [re.match(r'meetd_request_duration_seconds_bucket\{le="(.*)"\}', k)]
                         if m)
        self.assertEqual([v for _, v in buckets], sorted(v for _, v in buckets))
        self.assertEqual(buckets[-1][1], after["meetd_request_duration_seconds_count"])
        # Every commit is timed once, in a cumulative histogram of its own.
        commit_buckets = sorted(
            (float(m.group(1)) if m.group(1) != "+Inf" else float("inf"), v)
            for k, v in after.items()
            for m in [re.match(r'meetd_store_commit_seconds_bucket\{le="(.*)"\}', k)] if m)
        self.assertEqual(len(commit_buckets), 11)
        self.assertEqual([v for _, v in commit_buckets], sorted(v for _, v in commit_buckets))
        self.assertEqual(after["meetd_store_commit_seconds_count"],
                         after["meetd_store_commits_total"])
        self.assertEqual(after["meetd_store_commit_seconds_count"]
                         - before["meetd_store_commit_seconds_count"], commits)
        self.assertGreater(after["meetd_store_commit_seconds_sum"],
                           before["meetd_store_commit_seconds_sum"])
        # The writer's waits for a WAL restart have a histogram of their own;
        # these few writes are far from a restart's 16,000 pages (and a store
        # on PostgreSQL has none), so none was added.
        hold_buckets = [v for k, v in after.items()
                        if k.startswith("meetd_store_wal_restart_wait_seconds_bucket{")]
        self.assertEqual(len(hold_buckets), 11)
        self.assertEqual(max(hold_buckets), after["meetd_store_wal_restart_wait_seconds_count"])
        self.assertEqual(after["meetd_store_wal_restart_wait_seconds_count"],
                         before["meetd_store_wal_restart_wait_seconds_count"])

    def test_open_streams_gauge(self):
        mid = self.new_meeting("alice")
        streams = [self.events(self.join(mid, "s%d" % i, 2)) for i in range(3)]
        self.assertTrue(all(s.status == 200 for s in streams))
        self.assertGreaterEqual(self.metrics()["meetd_event_streams"], 3)


if __name__ == "__main__":
    unittest.main()
