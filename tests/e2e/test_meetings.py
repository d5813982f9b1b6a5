"""Meetings: create, query, status, cancel, dismiss, participants (docs/api.md)."""
import calendar
import unittest
from datetime import datetime, timedelta, timezone

import meetd_harness as h
from meetd_harness import DROP, variant

CN = timezone(timedelta(hours=8))        # api.md: recurrences computed in UTC+8
DAY = 86400
MALFORMED_IDS = ("abc", "12a4", "1" * 20, "-1", "1.5", "0x1f", "+12", "%20", "1%20")
UNKNOWN_IDS = ("1", "1234567890123456789", "9999999999999999999")


def at_cn(d, hour=10):
    return int(datetime(d.year, d.month, d.day, hour, tzinfo=CN).timestamp())


def add_months(ts, n):
    d = datetime.fromtimestamp(ts, CN)
    y, m = divmod(d.month - 1 + n, 12)
    y, m = d.year + y, m + 1
    day = min(d.day, calendar.monthrange(y, m)[1])
    return int(d.replace(year=y, month=m, day=day).timestamp())


def expected_starts(start, rtype, n):
    if rtype in (0, 2, 3):
        step = {0: 1, 2: 7, 3: 14}[rtype] * DAY
        return [start + i * step for i in range(n)]
    if rtype == 1:       # working days, Mon..Fri in UTC+8
        out, t = [], start
        while len(out) < n:
            if datetime.fromtimestamp(t, CN).weekday() < 5:
                out.append(t)
            t += DAY
        return out
    return [add_months(start, i) for i in range(n)]   # monthly


def next_weekday(weekday):
    d = datetime.now(CN).date() + timedelta(days=1)
    while d.weekday() != weekday:
        d += timedelta(days=1)
    return d


class CreateTest(h.MeetdCase):
    def test_create_one_off(self):
        body = self.meeting_body("alice", subject="Weekly sync")
        out = self.assert_ok(self.client.post("/v1/meetings", body))
        self.assertEqual(out["meeting_number"], 1)
        self.assertEqual(len(out["meeting_info_list"]), 1)
        info = out["meeting_info_list"][0]
        self.assertRegex(info["meeting_id"], r"^[0-9]{1,19}$")
        self.assertRegex(info["meeting_code"], r"^[0-9]{9}$")
        self.assertEqual((info["subject"], info["start_time"], info["end_time"]),
                         ("Weekly sync", body["start_time"], body["end_time"]))
        self.assertEqual((info["type"], info.get("meeting_type", 0)), (0, 0))
        self.assertEqual([x["userid"] for x in info["hosts"]], ["alice"])
        self.assertNotIn("sub_meetings", info)
        other = self.create_meeting("alice")
        self.assertNotEqual(other["meeting_id"], info["meeting_id"])
        self.assertNotEqual(other["meeting_code"], info["meeting_code"])

    def test_create_with_hosts_and_unicode(self):
        info = self.create_meeting("张三", hosts=["hank", "hope"], subject="周会 weekly")
        self.assertEqual([x["userid"] for x in info["hosts"]], ["hank", "hope"])
        self.assertEqual(info["subject"], "周会 weekly")
        q = self.query(info["meeting_id"], "张三")
        self.assertEqual((q["subject"], [x["userid"] for x in q["hosts"]]),
                         ("周会 weekly", ["hank", "hope"]))

    def test_quick_meeting_defaults_to_now_plus_one_hour(self):
        t0 = h.now()
        body = variant(self.meeting_body(), type=1, start_time=DROP, end_time=DROP)
        info = self.assert_ok(self.client.post("/v1/meetings", body))["meeting_info_list"][0]
        start, end = int(info["start_time"]), int(info["end_time"])
        self.assertTrue(t0 - 5 <= start <= h.now() + 5, info)
        self.assertEqual(end - start, 3600, info)
        self.assertEqual(info["type"], 1)

    def check_recurring(self, start, rtype, n, info):
        self.assertEqual(info.get("meeting_type"), 1, info)
        self.assertEqual(info["recurring_rule"]["recurring_type"], rtype, info)
        subs = info["sub_meetings"]
        want = expected_starts(start, rtype, n)
        self.assertEqual([int(s["start_time"]) for s in subs], want, "type %d" % rtype)
        self.assertEqual([s["sub_meeting_id"] for s in subs], [str(t) for t in want])
        self.assertEqual([int(s["end_time"]) - int(s["start_time"]) for s in subs], [3600] * n)
        self.assertEqual({s["status"] for s in subs}, {0})

    def test_recurring_every_type(self):
        friday = at_cn(next_weekday(4))       # working days must skip the weekend
        d = datetime.now(CN).date()
        the15th = at_cn(datetime(d.year + (d.month == 12), d.month % 12 + 1, 15))
        for rtype, start in ((0, friday), (1, friday), (2, friday), (3, friday), (4, the15th)):
            with self.subTest(recurring_type=rtype):
                rule = {"recurring_type": rtype, "until_type": 1, "until_count": 4}
                info = self.create_meeting(rule=rule, start_time=str(start),
                                           end_time=str(start + 3600))
                self.check_recurring(start, rtype, 4, info)
                q = self.query(info["meeting_id"])
                self.assertEqual([s["sub_meeting_id"] for s in q["sub_meetings"]],
                                 [s["sub_meeting_id"] for s in info["sub_meetings"]])

    def test_monthly_on_the_31st_uses_last_day_of_short_months(self):
        start = at_cn(datetime(datetime.now(CN).year + 1, 1, 31))
        rule = {"recurring_type": 4, "until_type": 1, "until_count": 3}
        info = self.create_meeting(rule=rule, start_time=str(start), end_time=str(start + 3600))
        days = [datetime.fromtimestamp(int(s["start_time"]), CN).day for s in info["sub_meetings"]]
        self.assertEqual(days[0], 31)
        self.assertIn(days[1], (28, 29))
        self.check_recurring(start, 4, 3, info)

    def test_recurring_until_date_and_default_count(self):
        start = at_cn(next_weekday(0))
        by_date = {"recurring_type": 0, "until_type": 0, "until_date": start + 2 * DAY + 3600}
        info = self.create_meeting(rule=by_date, start_time=str(start), end_time=str(start + 3600))
        self.check_recurring(start, 0, 3, info)
        default = {"recurring_type": 0, "until_type": 1}
        info = self.create_meeting(rule=default, start_time=str(start), end_time=str(start + 3600))
        self.check_recurring(start, 0, 7, info)

    def test_subject_length_as_tencent_counts_it(self):
        # 512 bytes at most, counted 2 a character and 4 above U+FFFF.
        self.create_meeting(subject="a" * 256)
        self.create_meeting(subject="中" * 256)                   # 768 bytes of UTF-8
        self.create_meeting(subject="😀" * 128)
        for subject in ("a" * 257, "中" * 257, "😀" * 128 + "a", ""):
            with self.subTest(len=len(subject)):
                self.assert_error(self.client.post("/v1/meetings",
                                                   self.meeting_body(subject=subject)),
                                  400, 190004)

    def test_invalid_fields(self):
        base = self.meeting_body("alice")
        t = int(base["start_time"])
        rule = {"recurring_type": 0, "until_type": 1, "until_count": 2}
        cases = {
            "userid missing": variant(base, userid=DROP),
            "userid empty": variant(base, userid=""),
            "userid 65 bytes": variant(base, userid="u" * 65),
            "userid not a string": variant(base, userid=7),
            "instanceid missing": variant(base, instanceid=DROP),
            "instanceid unknown": variant(base, instanceid=11),
            "instanceid string": variant(base, instanceid="1"),
            "subject missing": variant(base, subject=DROP),
            "type missing": variant(base, type=DROP),
            "type 2": variant(base, type=2),
            "type string": variant(base, type="0"),
            "start_time missing": variant(base, start_time=DROP),
            "end_time missing": variant(base, end_time=DROP),
            "end before start": variant(base, end_time=str(t - 60)),
            "end equals start": variant(base, end_time=str(t)),
            "start_time not digits": variant(base, start_time="tomorrow"),
            "start_time a number": variant(base, start_time=t),
            "hosts not array": variant(base, hosts={"userid": "hank"}),
            "host without userid": variant(base, hosts=[{}]),
            "11 hosts": variant(base, hosts=[{"userid": "h%d" % i} for i in range(11)]),
            "meeting_type 2": variant(base, meeting_type=2),
            "recurring without rule": variant(base, meeting_type=1),
            "recurring_type 5": variant(base, meeting_type=1,
                                        recurring_rule=variant(rule, recurring_type=5)),
            "until_type 2": variant(base, meeting_type=1, recurring_rule=variant(rule, until_type=2)),
            "rule not object": variant(base, meeting_type=1, recurring_rule=[rule]),
            "duplicate key": h.to_bytes(base)[:-1] + b',"subject":"again"}',
            "not an object": b'["alice"]',
            "malformed": b'{"userid":"alice",',
        }
        for what, body in cases.items():
            with self.subTest(what):
                self.assert_error(self.client.post("/v1/meetings", body), 400, 190004)
        self.create_meeting(hosts=["h%d" % i for i in range(10)])           # 10 is fine


class StatusTest(h.MeetdCase):
    def test_init_started_ended(self):
        info = self.create_meeting("alice")
        mid = info["meeting_id"]
        q = self.query(mid)
        self.assertEqual(q["status"], "MEETING_STATE_INIT")
        for k in ("meeting_id", "meeting_code", "subject", "start_time", "end_time"):
            self.assertEqual(q[k], info[k], k)
        bob = self.join(mid, "bob", 2)
        self.assertEqual(self.query(mid)["status"], "MEETING_STATE_STARTED")
        # A member may not dismiss.
        self.assert_error(self.dismiss(mid, "bob", 2), 403, 9042)
        self.assertEqual(self.query(mid)["status"], "MEETING_STATE_STARTED")
        self.assert_present(mid, bob)
        self.assertEqual(self.assert_ok(self.dismiss(mid)), {})
        self.assertEqual(self.query(mid)["status"], "MEETING_STATE_ENDED")
        self.assertEqual(self.present(mid), [])
        self.assertIn("left_time", self.participants(mid)[0])
        # Ended: dismiss, cancel (Tencent's 13603) and join are refused.
        before = self.state(mid)
        self.assert_error(self.dismiss(mid), 400, 190004)
        self.assert_error(self.cancel(mid), 400, 13603)
        self.assert_error(self.join_req(mid, "bob", 2), 400, 190004)
        self.assert_unchanged(before, mid)

    def test_scheduled_host_can_dismiss(self):
        mid = self.new_meeting("alice", hosts=["hank"])
        self.join(mid, "bob", 1)
        self.assertEqual(self.assert_ok(self.dismiss(mid, "hank", 1)), {})
        self.assertEqual(self.query(mid)["status"], "MEETING_STATE_ENDED")

    def test_query_parameters_required(self):
        mid = self.new_meeting()
        for uri in ("/v1/meetings/%s" % mid, "/v1/meetings/%s?userid=alice" % mid,
                    "/v1/meetings/%s?instanceid=1" % mid,
                    "/v1/meetings/%s?userid=alice&instanceid=11" % mid,
                    "/v1/meetings/%s?userid=alice&instanceid=x" % mid):
            with self.subTest(uri):
                self.assert_error(self.client.get(uri), 400, 190004)

    def test_malformed_meeting_ids(self):
        for bad in MALFORMED_IDS:
            with self.subTest(id=bad):
                self.assert_error(self.query_req(bad), 400, 9002)
                self.assert_error(self.participants_req(bad), 400, 9002)
                self.assert_error(self.cancel(bad), 400, 9002)
                self.assert_error(self.dismiss(bad), 400, 9002)
                self.assert_error(self.join_req(bad, "bob"), 400, 9002)

    def test_unknown_meeting_ids(self):
        for bad in UNKNOWN_IDS:
            with self.subTest(id=bad):
                self.assert_error(self.query_req(bad), 400, 9003, message="MEETING NOT EXIST")
                self.assert_error(self.participants_req(bad), 400, 9003)
                self.assert_error(self.cancel(bad), 400, 9003)
                self.assert_error(self.dismiss(bad), 400, 9003)
                self.assert_error(self.join_req(bad, "bob"), 400, 9003)


class CancelTest(h.MeetdCase):
    def test_only_the_creator_cancels(self):
        mid = self.new_meeting("alice", hosts=["hank"])
        before = self.state(mid)
        self.assert_error(self.cancel(mid, "hank"), 403, 9042)     # a host is not enough
        self.assert_error(self.cancel(mid, "bob"), 403, 9042)
        self.assert_unchanged(before, mid)
        self.assertEqual(self.assert_ok(self.cancel(mid)), {})
        self.assertEqual(self.query(mid)["status"], "MEETING_STATE_CANCELLED")
        before = self.state(mid)
        self.assert_error(self.cancel(mid), 400, 9007)      # Tencent: cancelled already
        self.assert_error(self.join_req(mid, "bob"), 400, 190004)
        self.assert_unchanged(before, mid)

    def test_started_meeting_is_not_cancelled(self):
        # Tencent's 13602: a meeting in progress is dismissed, not cancelled.
        mid = self.new_meeting()
        bob = self.join(mid, "bob", 2)
        before = self.state(mid)
        self.assert_error(self.cancel(mid), 400, 13602, contains="cannot be cancelled")
        self.assert_unchanged(before, mid)
        self.assert_present(mid, bob)
        self.assert_ok(self.leave(mid, bob))    # still started: the meeting has begun
        before = self.state(mid)
        self.assert_error(self.cancel(mid), 400, 13602)
        self.assert_unchanged(before, mid)

    def test_cancel_one_occurrence(self):
        rule = {"recurring_type": 0, "until_type": 1, "until_count": 3}
        info = self.create_meeting(rule=rule)
        mid, subs = info["meeting_id"], [s["sub_meeting_id"] for s in info["sub_meetings"]]
        self.assertEqual(self.assert_ok(self.cancel(mid, sub_meeting_id=subs[1])), {})
        q = self.query(mid)
        self.assertNotEqual(q["status"], "MEETING_STATE_CANCELLED")
        self.assertEqual([s["sub_meeting_state"] for s in q["sub_meetings"]],
                         ["MEETING_STATE_INIT", "MEETING_STATE_CANCELLED", "MEETING_STATE_INIT"])
        self.assertEqual(self.join(mid, "bob")["sub_meeting_id"], subs[0])
        # The whole series: not while an occurrence is in progress (13602).
        before = self.state(mid)
        self.assert_error(self.cancel(mid), 400, 13602)
        self.assert_unchanged(before, mid)
        self.assert_ok(self.dismiss(mid))
        self.assertEqual(self.assert_ok(self.cancel(mid)), {})
        self.assertEqual(self.query(mid)["status"], "MEETING_STATE_CANCELLED")


class RecurringTest(h.MeetdCase):
    def test_occurrences_progress_on_join_and_dismiss(self):
        rule = {"recurring_type": 0, "until_type": 1, "until_count": 3}
        info = self.create_meeting(rule=rule)
        mid, subs = info["meeting_id"], [s["sub_meeting_id"] for s in info["sub_meetings"]]
        first = self.join(mid, "bob", 2)
        self.assertEqual(first["sub_meeting_id"], subs[0])
        q = self.query(mid)
        self.assertEqual(q.get("current_sub_meeting_id"), subs[0])
        self.assertEqual([s["sub_meeting_state"] for s in q["sub_meetings"]],
                         ["MEETING_STATE_STARTED", "MEETING_STATE_INIT", "MEETING_STATE_INIT"])
        self.assertEqual(self.assert_ok(self.dismiss(mid)), {})
        q = self.query(mid)
        self.assertEqual([s["sub_meeting_state"] for s in q["sub_meetings"]],
                         ["MEETING_STATE_ENDED", "MEETING_STATE_INIT", "MEETING_STATE_INIT"])
        second = self.join(mid, "bob", 2)
        self.assertEqual(second["sub_meeting_id"], subs[1])
        self.assertEqual((second["uuid"], second["ms_open_id"]),
                         (first["uuid"], first["ms_open_id"]), "ids are per series")
        q = self.query(mid)
        self.assertEqual(q.get("current_sub_meeting_id"), subs[1])
        self.assertEqual(q["sub_meetings"][1]["sub_meeting_state"], "MEETING_STATE_STARTED")
        # participants: current occurrence by default, an earlier one on request.
        now_rows = self.participants(mid)
        self.assertEqual([("left_time" in r, r["userid"]) for r in now_rows], [(False, "bob")])
        old_rows = self.participants(mid, sub_meeting_id=subs[0])
        self.assertEqual([("left_time" in r, r["userid"]) for r in old_rows], [(True, "bob")])


class ParticipantsTest(h.MeetdCase):
    def test_rows_and_fields(self):
        t0 = h.now()
        info = self.create_meeting("alice")
        mid = info["meeting_id"]
        devs = [self.join(mid, "alice", 1, nick_name="Alice A"),
                self.join(mid, "bob", 2, nick_name="张三"),
                self.join(mid, guest_id="g-1", instanceid=5, nick_name="Guest"),
                self.join(mid, "room-1", 9, nick_name="Room 1"),
                self.join(mid, "carol", 3)]                       # nick defaults to the id
        body = self.assert_ok(self.participants_req(mid))
        self.assertEqual((body["meeting_id"], body["meeting_code"], body["subject"],
                          body["schedule_start_time"], body["schedule_end_time"]),
                         (mid, info["meeting_code"], info["subject"],
                          info["start_time"], info["end_time"]))
        self.assertEqual((body["total_count"], body["has_remaining"], body["next_pos"]),
                         (5, False, 5))
        rows = body["participants"]
        # A guest has no userid: the field is absent (docs/api.md).
        want = [("alice", "Alice A", 1, 3), ("bob", "张三", 2, 0), (None, "Guest", 5, 4),
                ("room-1", "Room 1", 9, 0), ("carol", "carol", 3, 0)]
        self.assertEqual([(r.get("userid"), r["user_name"], r["instanceid"], r["user_role"])
                          for r in rows],
                         [(u, h.b64(n), i, role) for u, n, i, role in want])
        self.assertEqual(rows[2].get("guest_id"), "g-1")
        fields = {"uuid", "ms_open_id", "user_name", "instanceid", "join_time", "join_type",
                  "user_role", "is_enterprise_user"}
        self.assertEqual([set(r) for r in rows],
                         [fields | ({"guest_id"} if i == 2 else {"userid"}) for i in range(5)])
        self.assertEqual([(r["join_type"], r["is_enterprise_user"]) for r in rows],
                         [(1, i != 2) for i in range(5)])
        self.assertTrue(all(type(r["instanceid"]) is int and type(r["user_role"]) is int
                            for r in rows), rows)
        for row, dev in zip(rows, devs):
            self.assertEqual((row["uuid"], row["ms_open_id"]), (dev["uuid"], dev["ms_open_id"]))
            self.assertNotIn("left_time", row)
            self.assertRegex(row["join_time"], r"^[0-9]+$")
            self.assertTrue(t0 - 5 <= int(row["join_time"]) <= h.now() + 5, row)

    def test_left_time_only_for_devices_that_left(self):
        mid = self.new_meeting()
        alice = self.join(mid, "alice", 1)
        bob = self.join(mid, "bob", 2)
        self.assertEqual(self.assert_ok(self.leave(mid, bob)), {})
        rows = {r["ms_open_id"]: r for r in self.participants(mid)}
        self.assertNotIn("left_time", rows[alice["ms_open_id"]])
        left = rows[bob["ms_open_id"]]
        self.assertRegex(left["left_time"], r"^[0-9]+$")
        self.assertGreaterEqual(int(left["left_time"]), int(left["join_time"]))

    def test_paging_is_exact(self):
        mid = self.new_meeting()
        users = ["alice", "bob", "carol"]
        for i, u in enumerate(users):
            self.join(mid, u, i + 1)

        def page(pos, size):
            b = self.assert_ok(self.participants_req(mid, pos=pos, size=size))
            return ([r["userid"] for r in b["participants"]], b["total_count"],
                    b["has_remaining"], b["next_pos"])

        self.assertEqual(page(0, 1), (["alice"], 3, True, 1))
        self.assertEqual(page(1, 1), (["bob"], 3, True, 2))
        self.assertEqual(page(2, 1), (["carol"], 3, False, 3))
        self.assertEqual(page(0, 2), (["alice", "bob"], 3, True, 2))
        self.assertEqual(page(2, 2), (["carol"], 3, False, 3))
        self.assertEqual(page(0, 100), (users, 3, False, 3))
        self.assertEqual(page(3, 20), ([], 3, False, 3))
        b = self.assert_ok(self.participants_req(mid))          # defaults pos 0, size 20
        self.assertEqual([r["userid"] for r in b["participants"]], users)

    def test_total_counts_sessions(self):
        """total_count is the number of sessions (kept as they come, schema
        4): a device kicked and back is two, a join refused adds none."""
        mid = self.new_meeting()
        alice = self.join(mid, "alice", 1)
        bob = self.join(mid, "bob", 2)

        def total():
            return self.assert_ok(self.participants_req(mid, size=1))["total_count"]

        self.assertEqual(total(), 2)
        self.kick_ok(mid, h.kick_body(h.op_ms(alice), [h.tgt_ms(bob)]))
        self.assertEqual(total(), 2)
        bob = self.join(mid, "bob", 2)
        self.assertEqual(total(), 3)
        self.kick_ok(mid, h.kick_body(h.op_ms(alice), [h.tgt_ms(bob)], allow_rejoin=False))
        self.assert_error(self.join_req(mid, "bob", 2), 403, 9101)
        self.assertEqual(total(), 3)
        rows = self.participants(mid)
        self.assertEqual([(r["userid"], "left_time" in r) for r in rows],
                         [("alice", False), ("bob", True), ("bob", True)])

    def test_bad_paging_parameters(self):
        mid = self.new_meeting()
        self.join(mid, "alice", 1)
        for params in ({"size": 0}, {"size": 101}, {"size": -1}, {"size": "abc"},
                       {"pos": -1}, {"pos": "x"}):
            with self.subTest(**params):
                self.assert_error(self.participants_req(mid, **params), 400, 190004)

    def test_only_creator_or_host_may_list(self):
        mid = self.new_meeting("alice", hosts=["hank"])
        self.join(mid, "bob", 2)
        self.assert_ok(self.participants_req(mid, "alice"))
        self.assert_ok(self.participants_req(mid, "hank"))
        self.assert_error(self.participants_req(mid, "bob"), 403, 9042)
        self.assert_error(self.participants_req(mid, "nobody"), 403, 9042)
        self.assert_error(self.client.get("/v1/meetings/%s/participants" % mid), 400, 190004)


if __name__ == "__main__":
    unittest.main()
