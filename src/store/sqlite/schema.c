/* Versioned schema migrations for the SQLite store.
 *
 * The database's PRAGMA user_version is the number of migrations applied.
 * migrations[i] takes a database from version i to i + 1; each runs in its
 * own IMMEDIATE transaction together with the version bump, so a crash
 * leaves the database at a version boundary and two processes opening the
 * same directory cannot both apply a step. Released migrations are never
 * edited: a change to the schema is a new entry at the end.
 *
 * Tables are STRICT (SQLite >= 3.37) so a wrongly typed value is an error
 * rather than silently stored. Every lookup path of lite.h's catalogue
 * has an index, and every foreign key's child columns lead an index so that
 * cascading deletes never scan a table. */
#include <assert.h>
#include <stdio.h>

#include "common/log.h"
#include "store/sqlite/lite.h"

/* 0 -> 1: the initial schema. */
static const char *const migration_1[] = {
    "CREATE TABLE apps ("
    "  app_id      TEXT NOT NULL PRIMARY KEY,"
    "  sdk_id      TEXT NOT NULL DEFAULT '',"
    "  name        TEXT NOT NULL DEFAULT '',"
    "  created_at  INTEGER NOT NULL"
    ") STRICT, WITHOUT ROWID",

    "CREATE TABLE app_keys ("
    "  secret_id   TEXT NOT NULL PRIMARY KEY,"
    "  app_id      TEXT NOT NULL REFERENCES apps (app_id) ON DELETE CASCADE,"
    "  secret_key  TEXT NOT NULL,"
    "  created_at  INTEGER NOT NULL"
    ") STRICT, WITHOUT ROWID",
    "CREATE INDEX app_keys_by_app ON app_keys (app_id, created_at)",

    /* meeting_id is drawn at random by the caller; as the rowid it costs no
     * separate index. */
    "CREATE TABLE meetings ("
    "  meeting_id          INTEGER PRIMARY KEY,"
    "  app_id              TEXT NOT NULL REFERENCES apps (app_id) ON DELETE CASCADE,"
    "  meeting_code        TEXT NOT NULL UNIQUE,"
    "  subject             TEXT NOT NULL DEFAULT '',"
    "  creator_userid      TEXT NOT NULL DEFAULT '',"
    "  creator_instanceid  INTEGER NOT NULL,"
    "  type                INTEGER NOT NULL,"
    "  meeting_type        INTEGER NOT NULL,"
    "  start_time          INTEGER NOT NULL,"
    "  end_time            INTEGER NOT NULL,"
    "  status              INTEGER NOT NULL,"
    "  recurring_type      INTEGER NOT NULL DEFAULT 0,"
    "  until_type          INTEGER NOT NULL DEFAULT 0,"
    "  until_count         INTEGER NOT NULL DEFAULT 0,"
    "  until_date          INTEGER NOT NULL DEFAULT 0,"
    "  created_at          INTEGER NOT NULL"
    ") STRICT",
    "CREATE INDEX meetings_by_app ON meetings (app_id)",

    "CREATE TABLE meeting_hosts ("
    "  meeting_id  INTEGER NOT NULL REFERENCES meetings (meeting_id) ON DELETE CASCADE,"
    "  pos         INTEGER NOT NULL,"
    "  userid      TEXT NOT NULL,"
    "  PRIMARY KEY (meeting_id, pos)"
    ") STRICT, WITHOUT ROWID",

    "CREATE TABLE occurrences ("
    "  meeting_id      INTEGER NOT NULL REFERENCES meetings (meeting_id) ON DELETE CASCADE,"
    "  sub_meeting_id  INTEGER NOT NULL,"
    "  start_time      INTEGER NOT NULL,"
    "  end_time        INTEGER NOT NULL,"
    "  status          INTEGER NOT NULL,"
    "  PRIMARY KEY (meeting_id, sub_meeting_id)"
    ") STRICT, WITHOUT ROWID",

    /* A user's identity within one meeting. An enterprise user has a userid,
     * a guest a guest_id; the other is ''. */
    "CREATE TABLE users ("
    "  user_no     INTEGER PRIMARY KEY,"
    "  meeting_id  INTEGER NOT NULL REFERENCES meetings (meeting_id) ON DELETE CASCADE,"
    "  userid      TEXT NOT NULL DEFAULT '',"
    "  guest_id    TEXT NOT NULL DEFAULT '',"
    "  uuid        TEXT NOT NULL,"
    "  ms_open_id  TEXT NOT NULL,"
    "  nick_name   TEXT NOT NULL DEFAULT '',"
    "  cohost      INTEGER NOT NULL DEFAULT 0 CHECK (cohost IN (0, 1)),"
    "  UNIQUE (meeting_id, uuid),"
    "  UNIQUE (meeting_id, ms_open_id)"
    ") STRICT",
    "CREATE UNIQUE INDEX users_by_userid ON users (meeting_id, userid) WHERE userid <> ''",
    "CREATE UNIQUE INDEX users_by_guest ON users (meeting_id, guest_id) WHERE guest_id <> ''",

    /* A device session. left_time is NULL while the device is present; the
     * partial indexes make "present" the cheap case and enforce at most one
     * present session per (user, instanceid) and per token. AUTOINCREMENT:
     * device_no is the handle live event streams are keyed by, so it is never
     * reused, not even after an app's devices are deleted. */
    "CREATE TABLE devices ("
    "  device_no       INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  meeting_id      INTEGER NOT NULL REFERENCES meetings (meeting_id) ON DELETE CASCADE,"
    "  sub_meeting_id  INTEGER NOT NULL DEFAULT 0,"
    "  user_no         INTEGER NOT NULL REFERENCES users (user_no) ON DELETE CASCADE,"
    "  instanceid      INTEGER NOT NULL,"
    "  join_time       INTEGER NOT NULL,"
    "  left_time       INTEGER,"
    "  left_reason     INTEGER NOT NULL DEFAULT 0,"
    "  token_hash      BLOB NOT NULL CHECK (length(token_hash) = 32)"
    ") STRICT",
    "CREATE UNIQUE INDEX devices_present ON devices (meeting_id, user_no, instanceid)"
    "  WHERE left_time IS NULL",
    "CREATE UNIQUE INDEX devices_by_token ON devices (token_hash) WHERE left_time IS NULL",
    /* (meeting_id) lists a meeting's sessions in device_no (rowid) order;
     * (meeting_id, sub_meeting_id) one occurrence's, in the same order. */
    "CREATE INDEX devices_by_meeting ON devices (meeting_id)",
    "CREATE INDEX devices_by_sub ON devices (meeting_id, sub_meeting_id)",
    "CREATE INDEX devices_by_user ON devices (user_no)",

    "CREATE TABLE bans ("
    "  meeting_id           INTEGER NOT NULL REFERENCES meetings (meeting_id) ON DELETE CASCADE,"
    "  user_no              INTEGER NOT NULL REFERENCES users (user_no) ON DELETE CASCADE,"
    "  banned_at            INTEGER NOT NULL,"
    "  reason               TEXT NOT NULL DEFAULT '',"
    "  operator_ms_open_id  TEXT NOT NULL DEFAULT '',"
    "  request_id           TEXT NOT NULL DEFAULT '',"
    "  PRIMARY KEY (meeting_id, user_no)"
    ") STRICT, WITHOUT ROWID",
    "CREATE INDEX bans_by_time ON bans (meeting_id, banned_at, user_no)",
    "CREATE INDEX bans_by_user ON bans (user_no)",

    "CREATE TABLE audit ("
    "  audit_no           INTEGER PRIMARY KEY,"
    "  meeting_id         INTEGER NOT NULL REFERENCES meetings (meeting_id) ON DELETE CASCADE,"
    "  sub_meeting_id     INTEGER NOT NULL DEFAULT 0,"
    "  time               INTEGER NOT NULL,"
    "  request_id         TEXT NOT NULL DEFAULT '',"
    "  action             TEXT NOT NULL,"
    "  op_userid          TEXT NOT NULL DEFAULT '',"
    "  op_uuid            TEXT NOT NULL DEFAULT '',"
    "  op_ms_open_id      TEXT NOT NULL DEFAULT '',"
    "  op_instanceid      INTEGER NOT NULL,"
    "  target_userid      TEXT NOT NULL DEFAULT '',"
    "  target_guest_id    TEXT NOT NULL DEFAULT '',"
    "  target_uuid        TEXT NOT NULL DEFAULT '',"
    "  target_ms_open_id  TEXT NOT NULL DEFAULT '',"
    "  target_instanceid  INTEGER NOT NULL,"
    "  allow_rejoin       INTEGER NOT NULL CHECK (allow_rejoin IN (0, 1)),"
    "  reason             TEXT NOT NULL DEFAULT ''"
    ") STRICT",
    "CREATE INDEX audit_by_meeting ON audit (meeting_id, audit_no)",
    NULL,
};

/* 1 -> 2: webhooks and the outbox their deliveries are made from. */
static const char *const migration_2[] = {
    /* AUTOINCREMENT: ids are shown to the app (and in its deliveries), so a
     * deleted webhook's id never comes back for another URL. */
    "CREATE TABLE webhooks ("
    "  webhook_id  INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  app_id      TEXT NOT NULL REFERENCES apps (app_id) ON DELETE CASCADE,"
    "  url         TEXT NOT NULL,"
    "  token       TEXT NOT NULL,"
    "  created_at  INTEGER NOT NULL"
    ") STRICT",
    "CREATE INDEX webhooks_by_app ON webhooks (app_id, webhook_id)",

    /* One event for one webhook. A row is written in the transaction of the
     * change it reports and settled (status 1 delivered, 2 failed) only by
     * the delivery worker, so a pending row is exactly an event still owed.
     * Times are Unix milliseconds. app_id repeats the webhook's so that an
     * app's deliveries list without a join. */
    "CREATE TABLE outbox ("
    "  delivery_id       INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  webhook_id        INTEGER NOT NULL REFERENCES webhooks (webhook_id) ON DELETE CASCADE,"
    "  app_id            TEXT NOT NULL,"
    "  event             TEXT NOT NULL,"
    "  payload           TEXT NOT NULL,"
    "  created_at        INTEGER NOT NULL,"
    "  attempts          INTEGER NOT NULL DEFAULT 0,"
    "  next_attempt_at   INTEGER NOT NULL,"
    "  status            INTEGER NOT NULL DEFAULT 0 CHECK (status IN (0, 1, 2)),"
    "  last_http_status  INTEGER NOT NULL DEFAULT 0,"
    "  last_error        TEXT NOT NULL DEFAULT '',"
    "  delivered_at      INTEGER NOT NULL DEFAULT 0"
    ") STRICT",
    /* The worker's question, "what is due", reads only pending rows however
     * many settled ones accumulate. */
    "CREATE INDEX outbox_due ON outbox (next_attempt_at, delivery_id) WHERE status = 0",
    "CREATE INDEX outbox_by_webhook ON outbox (webhook_id)",
    "CREATE INDEX outbox_by_app ON outbox (app_id, delivery_id)",
    "CREATE INDEX outbox_by_app_status ON outbox (app_id, status, delivery_id)",
    NULL,
};

/* 2 -> 3: fewer B-trees written at every join and removal (bench/README.md).
 * - devices_by_token goes: a device token now names its session's number
 *   (core/token.c), so a stream finds its session by primary key. The
 *   tokens of sessions present now are bare secrets; legacy_tokens keeps
 *   their hashes, so those devices' streams still open. It is never added
 *   to and holds only sessions that were present at this upgrade.
 * - devices_by_user goes with the foreign key it served: users are only
 *   ever deleted with their meeting, whose own cascade already takes the
 *   meeting's devices. SQLite cannot drop a foreign key, so the table is
 *   rebuilt, keeping its AUTOINCREMENT high-water mark (a device_no is
 *   never reused). No other table refers to devices. */
static const char *const migration_3[] = {
    "CREATE TABLE legacy_tokens ("
    "  token_hash  BLOB NOT NULL PRIMARY KEY,"
    "  device_no   INTEGER NOT NULL"
    ") STRICT, WITHOUT ROWID",
    "INSERT INTO legacy_tokens (token_hash, device_no) "
    "  SELECT token_hash, device_no FROM devices WHERE left_time IS NULL",

    "CREATE TABLE devices_v3 ("
    "  device_no       INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  meeting_id      INTEGER NOT NULL REFERENCES meetings (meeting_id) ON DELETE CASCADE,"
    "  sub_meeting_id  INTEGER NOT NULL DEFAULT 0,"
    "  user_no         INTEGER NOT NULL,"
    "  instanceid      INTEGER NOT NULL,"
    "  join_time       INTEGER NOT NULL,"
    "  left_time       INTEGER,"
    "  left_reason     INTEGER NOT NULL DEFAULT 0,"
    "  token_hash      BLOB NOT NULL CHECK (length(token_hash) = 32)"
    ") STRICT",
    "INSERT INTO devices_v3 SELECT device_no, meeting_id, sub_meeting_id, user_no, "
    "  instanceid, join_time, left_time, left_reason, token_hash FROM devices",
    "DELETE FROM sqlite_sequence WHERE name = 'devices_v3'",
    "INSERT INTO sqlite_sequence (name, seq) "
    "  SELECT 'devices_v3', seq FROM sqlite_sequence WHERE name = 'devices'",
    "DROP TABLE devices",
    "ALTER TABLE devices_v3 RENAME TO devices",
    "CREATE UNIQUE INDEX devices_present ON devices (meeting_id, user_no, instanceid)"
    "  WHERE left_time IS NULL",
    "CREATE INDEX devices_by_meeting ON devices (meeting_id)",
    "CREATE INDEX devices_by_sub ON devices (meeting_id, sub_meeting_id)",
    NULL,
};

/* 3 -> 4: a participants page answers total_count without counting the
 * meeting's sessions (each kick and re-join adds one, so a long meeting
 * has far more sessions than devices present): session_counts keeps the
 * number of sessions of each occurrence, kept by triggers on devices so
 * that no way of adding or removing a session can miss it. Every session
 * so far is counted once here. */
static const char *const migration_4[] = {
    "CREATE TABLE session_counts ("
    "  meeting_id      INTEGER NOT NULL REFERENCES meetings (meeting_id) ON DELETE CASCADE,"
    "  sub_meeting_id  INTEGER NOT NULL,"
    "  sessions        INTEGER NOT NULL CHECK (sessions >= 0),"
    "  PRIMARY KEY (meeting_id, sub_meeting_id)"
    ") STRICT, WITHOUT ROWID",
    "INSERT INTO session_counts (meeting_id, sub_meeting_id, sessions) "
    "  SELECT meeting_id, sub_meeting_id, count(*) FROM devices "
    "  GROUP BY meeting_id, sub_meeting_id",
    "CREATE TRIGGER session_counts_add AFTER INSERT ON devices BEGIN"
    "  INSERT INTO session_counts (meeting_id, sub_meeting_id, sessions)"
    "  VALUES (NEW.meeting_id, NEW.sub_meeting_id, 1)"
    "  ON CONFLICT (meeting_id, sub_meeting_id) DO UPDATE SET sessions = sessions + 1;"
    " END",
    /* Sessions go only with their meeting, which takes its counts with it;
     * this keeps the count right should that ever change. */
    "CREATE TRIGGER session_counts_drop AFTER DELETE ON devices BEGIN"
    "  UPDATE session_counts SET sessions = sessions - 1"
    "  WHERE meeting_id = OLD.meeting_id AND sub_meeting_id = OLD.sub_meeting_id;"
    " END",
    NULL,
};

/* 4 -> 5: a ban names its operator as the audit row of the same removal
 * does (userid, uuid, ms_open_id, instanceid): an operator named by userid
 * who never joined has no ms_open_id, and the bans list showed nobody.
 * Bans made before this take their operator from that audit row (same
 * meeting and request id; every row of one request has the same operator);
 * a ban with none keeps '' and instanceid -1. Co-host power now ends with
 * a ban (core/kickout.c): users banned before this lose the role too. */
static const char *const migration_5[] = {
    "ALTER TABLE bans ADD COLUMN op_userid TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE bans ADD COLUMN op_uuid TEXT NOT NULL DEFAULT ''",
    "ALTER TABLE bans ADD COLUMN op_instanceid INTEGER NOT NULL DEFAULT -1",
    /* One pass over the audit (sorted by the GROUP BY), not one scan of a
     * meeting's audit per ban: there is no index on request_id. */
    "UPDATE bans SET op_userid = a.op_userid, op_uuid = a.op_uuid, "
    "  op_instanceid = a.op_instanceid "
    "FROM (SELECT meeting_id, request_id, op_userid, op_uuid, op_instanceid FROM audit "
    "      WHERE request_id <> '' GROUP BY meeting_id, request_id) a "
    "WHERE a.meeting_id = bans.meeting_id AND a.request_id = bans.request_id",
    "UPDATE users SET cohost = 0 WHERE cohost = 1 AND user_no IN (SELECT user_no FROM bans)",
    NULL,
};

/* 5 -> 6: the nonces that writes of signed requests spent
 * (sqlite/spent.c), so that a replay after a restart is refused. No foreign
 * key to apps: rows leave within ten minutes anyway, and a cascade would
 * need an index by app written at every write. A nonce of 2^63 or more is
 * stored as its two's complement. */
static const char *const migration_6[] = {
    "CREATE TABLE spent_nonces ("
    "  ts      INTEGER NOT NULL,"
    "  nonce   INTEGER NOT NULL,"
    "  app_id  TEXT NOT NULL,"
    "  PRIMARY KEY (ts, nonce, app_id)"
    ") STRICT, WITHOUT ROWID",
    NULL,
};

/* 6 -> 7: the webhook worker asks "what is due" per webhook (the earliest
 * few of each), so that one receiver's backlog cannot hide another's due
 * delivery behind it; this index answers that in a few steps per webhook
 * however many deliveries are pending. */
static const char *const migration_7[] = {
    "CREATE INDEX outbox_webhook_due ON outbox (webhook_id, next_attempt_at, delivery_id) "
    "  WHERE status = 0",
    NULL,
};

/* 7 -> 8: a user's meetings in progress or yet to start (GET /v1/meetings
 * ?userid=...), by start time: those they created, from an index that
 * holds only meetings not ended or cancelled (status 0 or 1; a series
 * stays 0 until cancelled as a whole), and those they host. */
static const char *const migration_8[] = {
    "CREATE INDEX meetings_by_creator ON meetings (app_id, creator_userid, start_time) "
    "  WHERE status IN (0, 1)",
    "CREATE INDEX meeting_hosts_by_user ON meeting_hosts (userid)",
    NULL,
};

/* 8 -> 9: what happened, once per event (src/live/event.c): joins, leaves,
 * removals, replacements, ends and role changes, numbered in commit order,
 * so that a node that did not make a change can learn of it from the rows
 * (store_events_since, one meeting at a time: events_by_meeting) and tell
 * its own device streams. AUTOINCREMENT:
 * a number is never handed out twice, even after the newest rows were
 * pruned, or a reader's "after N" would skip the new rows. No foreign keys:
 * rows are pruned by age (events_by_time), and one that outlives its
 * meeting's deletion names a meeting nobody streams. */
static const char *const migration_9[] = {
    "CREATE TABLE events ("
    "  event_no    INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  meeting_id  INTEGER NOT NULL,"
    "  device_no   INTEGER,"
    "  type        TEXT NOT NULL,"
    "  payload     TEXT NOT NULL,"
    "  created_at  INTEGER NOT NULL"
    ") STRICT",
    "CREATE INDEX events_by_time ON events (created_at)",
    "CREATE INDEX events_by_meeting ON events (meeting_id, event_no)",
    NULL,
};

/* 9 -> 10: presence in rows (sqlite/presence.c), so that a crash of meetd
 * loses no device's grace period. nodes: one row per running meetd (one
 * here: serve.lock), heartbeating; a row left by a process that died ages
 * and its devices are ended as if their streams had closed at its last
 * heartbeat. devices.stream_node (the node holding the device's stream)
 * and devices.grace_until (Unix ms: when a device without a stream is
 * ended); both NULL for a device that never streamed. The sweep's lookups
 * (dead nodes' devices, devices due) each have a partial index over the
 * present devices that need one, so they cost nothing for the others. */
static const char *const migration_10[] = {
    "CREATE TABLE nodes ("
    "  node_id       INTEGER PRIMARY KEY,"
    "  address       TEXT NOT NULL DEFAULT '',"
    "  started_at    INTEGER NOT NULL,"
    "  heartbeat_at  INTEGER NOT NULL"
    ") STRICT",
    "CREATE INDEX nodes_by_heartbeat ON nodes (heartbeat_at)",
    "ALTER TABLE devices ADD COLUMN stream_node INTEGER",
    "ALTER TABLE devices ADD COLUMN grace_until INTEGER",
    "CREATE INDEX devices_by_stream_node ON devices (stream_node) "
    "  WHERE left_time IS NULL AND stream_node IS NOT NULL",
    "CREATE INDEX devices_by_grace ON devices (grace_until) "
    "  WHERE left_time IS NULL AND grace_until IS NOT NULL",
    NULL,
};

/* 10 -> 11: webhook deliveries are leased to the worker attempting them
 * (store_outbox_claim): leased_by is its node id, 0 for a delivery never
 * claimed; the lease's end is the row's next_attempt_at, so the indexes of
 * due deliveries serve unchanged. One node serves a SQLite store, but a
 * restarted one is another holder: what its previous run held waits for
 * the lease's end, as a dead node's would. */
static const char *const migration_11[] = {
    "ALTER TABLE outbox ADD COLUMN leased_by INTEGER NOT NULL DEFAULT 0",
    NULL,
};

/* 11 -> 12: a meeting's present sessions in join order (device_no, the
 * rowid) on an index of their own: the real-time list's page walks it in
 * order and stops, where devices_present (by user and instanceid) made it
 * join and sort every present session for each page. */
static const char *const migration_12[] = {
    "CREATE INDEX devices_present_by_no ON devices (meeting_id) WHERE left_time IS NULL",
    NULL,
};

/* migrations[v] takes the database from version v to v + 1: statements run
 * in order, NULL-terminated. */
static const char *const *const migrations[] = {
    migration_1,
    migration_2,
    migration_3,
    migration_4,
    migration_5,
    migration_6,
    migration_7,
    migration_8,
    migration_9,
    migration_10,
    migration_11,
    migration_12,
};

#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

static void schema_log(sqlite3 *db, const char *what)
{
    log_error("store: schema: %s: %s", what, sqlite3_errmsg(db));
}

static int schema_exec(sqlite3 *db, const char *sql, const char *what)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        schema_log(db, what);
        return -1;
    }
    return 0;
}

static int schema_version(sqlite3 *db, int *version)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        schema_log(db, "reading user_version");
        sqlite3_finalize(st);
        return -1;
    }
    *version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return 0;
}

/* Applies one migration if the database is below target. *version is what
 * the database is at when this returns 0. */
static int schema_step(sqlite3 *db, int target, int *version)
{
    /* IMMEDIATE: the version is read under the write lock, so it cannot
     * change before this transaction bumps it. */
    if (schema_exec(db, "BEGIN IMMEDIATE", "begin") != 0)
        return -1;
    int v;
    if (schema_version(db, &v) != 0)
        goto fail;
    if (v > N_MIGRATIONS) {
        log_error("store: the database is at schema version %d, newer than this meetd "
                  "knows (%d): run a newer meetd, or restore a backup",
                  v, N_MIGRATIONS);
        goto fail;
    }
    if (v < 0) {
        log_error("store: the database has an invalid schema version %d", v);
        goto fail;
    }
    if (v < target) {
        char what[64], bump[64];
        snprintf(what, sizeof what, "migration %d -> %d", v, v + 1);
        for (const char *const *sql = migrations[v]; *sql != NULL; sql++)
            if (schema_exec(db, *sql, what) != 0)
                goto fail;
        /* PRAGMA takes no bound parameters; v is our own small integer. */
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
        if (schema_exec(db, bump, what) != 0)
            goto fail;
        v++;
    }
    if (schema_exec(db, "COMMIT", "commit") != 0)
        goto fail;
    *version = v;
    return 0;
fail:
    if (!sqlite3_get_autocommit(db))
        sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    return -1;
}

int lite_schema_migrate_to(sqlite3 *db, int target, int *version)
{
    assert(db != NULL && version != NULL && target >= 0 && target <= N_MIGRATIONS);
    /* Each step applies one migration, or none when the database is
     * current, so this ends after at most target + 1 transactions. */
    int v;
    do {
        if (schema_step(db, target, &v) != 0)
            return -1;
    } while (v < target);
    *version = v;
    return 0;
}

int lite_schema_migrate(sqlite3 *db, int *version)
{
    return lite_schema_migrate_to(db, N_MIGRATIONS, version);
}
