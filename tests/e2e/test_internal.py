"""Internal errors (docs/api.md "Errors": 500/5108): a store failure mid-kickout is answered
5108 without leaking internals, and nothing is half-applied.

The schema is not part of the contract, so the tables a kickout writes are found
by watching row counts; the failure is then injected from outside while meetd
runs: with Python's sqlite3 (WAL lets both open the file), or with psql when the
server runs on PostgreSQL (MEETD_E2E_POSTGRES=1)."""
import os
import sqlite3
import unittest

import meetd_harness as h
from meetd_harness import kick_body, op_ms, tgt_ms

LEAKS = ("sqlite", "sql", "table", "trigger", "e2e injected", "constraint", "no such",
         "database", ".c:", "errno")


class SqliteDb:
    """The server's SQLite database, opened beside it."""

    def __init__(self, server):
        self.conn = sqlite3.connect(os.path.join(server.data, "meetd.db"),
                                    timeout=h.DEADLINE, isolation_level=None)

    def close(self):
        self.conn.close()

    def counts(self):
        names = [r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        return {n: self.conn.execute('SELECT count(*) FROM "%s"'
                                     % n.replace('"', '""')).fetchone()[0] for n in names}

    def fail_inserts(self, i, table):
        self.conn.execute('CREATE TRIGGER e2e_fail_%d BEFORE INSERT ON "%s" BEGIN '
                          "SELECT RAISE(ABORT, 'e2e injected failure'); END" % (i, table))

    def repair(self, i, table):
        self.conn.execute("DROP TRIGGER e2e_fail_%d" % i)

    def drop(self, table):
        self.conn.execute('DROP TABLE "%s"' % table)


class PostgresDb:
    """The server's PostgreSQL database, through psql."""

    def __init__(self, server):
        self.conninfo = server.postgres

    def close(self):
        pass

    def counts(self):
        out = h.psql(self.conninfo,
                     "SELECT table_name, (xpath('/row/c/text()', query_to_xml("
                     "format('SELECT count(*) AS c FROM %I', table_name), false, true, '')))"
                     "[1]::text FROM information_schema.tables "
                     "WHERE table_schema = 'public' AND table_type = 'BASE TABLE'")
        return {name: int(n) for name, n in (line.split("|") for line in out.splitlines())}

    def fail_inserts(self, i, table):
        h.psql(self.conninfo, "CREATE OR REPLACE FUNCTION e2e_fail() RETURNS trigger "
                              "LANGUAGE plpgsql AS $$ BEGIN "
                              "RAISE EXCEPTION 'e2e injected failure'; END $$")
        h.psql(self.conninfo, 'CREATE TRIGGER e2e_fail_%d BEFORE INSERT ON "%s" '
                              "FOR EACH ROW EXECUTE FUNCTION e2e_fail()" % (i, table))

    def repair(self, i, table):
        h.psql(self.conninfo, 'DROP TRIGGER e2e_fail_%d ON "%s"' % (i, table))

    def drop(self, table):
        h.psql(self.conninfo, 'DROP TABLE "%s" CASCADE' % table)


class InternalErrorTest(h.MeetdCase):
    server_per_test = True

    def db(self):
        db = (PostgresDb if self.server.postgres else SqliteDb)(self.server)
        self.addCleanup(db.close)
        return db

    @staticmethod
    def counts(db):
        return db.counts()

    def kickout_tables(self, db):
        """Tables that gain rows on a kickout (allow_rejoin=true) but not on joins/reads."""
        mid = self.new_meeting()
        alice = self.join(mid, "alice", 1)
        c0 = self.counts(db)
        carol = self.join(mid, "carol", 3)
        self.query(mid)
        self.participants(mid)
        c1 = self.counts(db)
        self.kick_ok(mid, kick_body(op_ms(alice), [tgt_ms(carol)], reason="probe"))
        c2 = self.counts(db)
        noisy = {t for t in c1 if c1[t] != c0.get(t)}
        grown = sorted(t for t in c2 if c2[t] > c1.get(t, 0) and t not in noisy)
        self.assertTrue(grown, "a kickout added rows to no table of its own: %s -> %s" % (c1, c2))
        return grown

    def scene(self):
        mid = self.new_meeting()
        alice, bob = self.join(mid, "alice", 1), self.join(mid, "bob", 2)
        body = kick_body(op_ms(alice), [tgt_ms(bob)], allow_rejoin=False, reason="x")
        return mid, bob, body

    def assert_internal_error(self, resp, tables):
        info = self.assert_error(resp, 500, 5108)
        msg = info["message"].lower()
        for leak in LEAKS + tuple(t.lower() for t in tables):
            self.assertNotIn(leak, msg, "5108 message leaks internals: %r" % info["message"])
        self.assertEqual(info["message"], "internal error")
        # The access line is written last, once the answer is out: wait for
        # it, then every line of this request is there.
        self.server.wait_line(lambda l: resp.trace in l and " access " in l,
                              what="access line of %s" % resp.trace)
        lines = self.server.lines_with(resp.trace)
        self.assertGreaterEqual(len(lines), 2, "the cause is not logged under the trace id: %s"
                                % lines)

    def test_failed_write_rolls_back_the_whole_kickout(self):
        db = self.db()
        tables = self.kickout_tables(db)
        mid, bob, body = self.scene()
        before = self.state(mid)
        for i, t in enumerate(tables):
            db.fail_inserts(i, t)
        self.assert_internal_error(self.kickout(mid, body), tables)
        self.assert_unchanged(before, mid)                      # bob present, no ban, no audit
        self.assert_ok(self.join_req(mid, "bob", 4))            # and not banned
        self.assertEqual(self.client.get("/healthz", signed=False).status, 200)
        # Repaired store: the same kickout now works (no transaction left open).
        for i, t in enumerate(tables):
            db.repair(i, t)
        self.kick_ok(mid, body)
        self.assert_absent(mid, bob)
        self.assertEqual(self.bans(mid)["total_count"], 1)

    def test_dropped_table(self):
        db = self.db()
        tables = self.kickout_tables(db)
        mid, bob, body = self.scene()
        for t in tables:
            db.drop(t)
        self.assert_internal_error(self.kickout(mid, body), tables)
        self.assert_present(mid, bob)
        health = self.client.get("/healthz", signed=False)
        self.assertIn(health.status, (200, 503), health)
        self.assertTrue(health.trace, health)


if __name__ == "__main__":
    unittest.main()
