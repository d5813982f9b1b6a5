/* The SQLite backend's own tests: what is SQLite's and not the interface's
 * (migrations of its schema, its files and their modes, the statement
 * catalogue's page marks, the checkpointer, the WAL, the keys.stamp file,
 * the writer's meeting copies). The interface's tests, run against every
 * backend, are test_store_contract.c. Every test gets a fresh directory
 * from mkdtemp, removed at the end. */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "common/ids.h"
#include "common/metrics.h"
#include "store/sqlite/lite.h"
#include "store/store.h"
#include "store_builders.h"
#include "store_fixture.h"

/* ---- migrations, files, durability ------------------------------------- */


static int64_t raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void test_migrate_and_reopen(void **state)
{
    fixture *f = *state;
    int v = store_schema_version(f->s);
    assert_true(v >= 1);
    write_ok(f->s, app_insert_body, "app1");
    store_close(f->s);
    f->s = NULL;

    f->s = open_store(f->data, STORE_DURABLE_FULL);
    assert_int_equal(store_schema_version(f->s), v);
    read_ok(f->s, app_exists_body, "app1");
    store_close(f->s);
    f->s = NULL;

    /* A database from a newer meetd is refused, and left untouched. */
    char path[256];
    snprintf(path, sizeof path, "%s/meetd.db", f->data);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(raw_int(db, "PRAGMA page_size"), 1024);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 999", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    store_options opt = {.data_dir = f->data};
    store *s = (store *)&opt; /* must be reset to NULL on failure */
    assert_int_equal(store_open(&opt, &s), -1);
    assert_null(s);

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    char sql[64];
    snprintf(sql, sizeof sql, "PRAGMA user_version = %d", v);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    f->s = open_store(f->data, STORE_DURABLE_FULL);
    read_ok(f->s, app_exists_body, "app1");

    /* Refused before anything changes: not even the journal mode. */
    char newer[128];
    snprintf(newer, sizeof newer, "%s/newer", f->root);
    assert_int_equal(mkdir(newer, 0700), 0);
    snprintf(path, sizeof path, "%s/meetd.db", newer);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA user_version = 1000", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);
    opt.data_dir = newer;
    assert_int_equal(store_open(&opt, &s), -1);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "delete");
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA user_version", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_int_equal(sqlite3_column_int(st, 0), 1000);
    sqlite3_finalize(st);
    sqlite3_close(db);
}

/* ---- 2 -> 3: device tokens by number ------------------------------------ */

/* A bare-secret token as meetd issued them before schema 3. */
static const char legacy_token[] =
    "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";

struct v3_check {
    uint8_t legacy_hash[32];
    uint8_t left_hash[32];
    int64_t new_no;
};

static void v3_read_body(store_tx *tx, void *arg)
{
    struct v3_check *c = arg;
    core_device d;
    /* The present session's old token still opens its stream... */
    assert_int_equal(store_device_by_token(tx, 0, c->legacy_hash, &d), STORE_OK);
    assert_int_equal(d.device_no, 2);
    assert_int_equal(d.user_no, 1);
    assert_int_equal(store_device_by_token(tx, 2, c->legacy_hash, &d), STORE_OK);
    /* ...an ended one's does not, and history is all there. */
    assert_int_equal(store_device_by_token(tx, 0, c->left_hash, &d), STORE_NOTFOUND);
    assert_int_equal(store_device_get(tx, 1, &d), STORE_OK);
    assert_int_equal(d.left_time, 150);
    assert_int_equal(store_device_get(tx, 3, &d), STORE_OK);
    assert_int_equal(d.user_no, 2);
}

static void v3_write_body(store_tx *tx, void *arg)
{
    struct v3_check *c = arg;
    core_device d = mk_device(7, 0, 2, 5, 300, 77);
    assert_int_equal(store_device_insert(tx, &d), STORE_OK);
    c->new_no = d.device_no;
    /* A present (user, instanceid) is still unique: device 2 holds alice's 1. */
    core_device again = mk_device(7, 0, 1, 1, 300, 78);
    assert_int_equal(store_device_insert(tx, &again), STORE_CONFLICT);
}

static void v3_gone_body(store_tx *tx, void *arg)
{
    struct v3_check *c = arg;
    core_device d;
    assert_int_equal(store_device_get(tx, c->new_no, &d), STORE_NOTFOUND);
    assert_int_equal(store_device_by_token(tx, 0, c->legacy_hash, &d), STORE_NOTFOUND);
}


/* <root>/<name>/meetd.db opened raw, foreign keys on, as meetd left it at
 * schema version; path gets the file's name. */
static sqlite3 *raw_db_at(const fixture *f, const char *name, int version, char *path,
                          size_t cap)
{
    char dir[128];
    snprintf(dir, sizeof dir, "%s/%s", f->root, name);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, cap, "%s/meetd.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), SQLITE_OK);
    int v = 0;
    assert_int_equal(lite_schema_migrate_to(db, version, &v), 0);
    assert_int_equal(v, version);
    return db;
}

static void test_migrate_tokens_by_number(void **state)
{
    fixture *f = *state;
    char dir[128], path[256];
    snprintf(dir, sizeof dir, "%s/v2", f->root);

    /* A database as meetd left it at schema 2: device 1 left, device 2
     * present with a bare-secret token, device 3 present then left, and the
     * highest number ever given (4) already deleted. */
    struct v3_check c = {0};
    assert_int_equal(ids_sha256(legacy_token, strlen(legacy_token), c.legacy_hash), 0);
    memset(c.left_hash, 0x5a, sizeof c.left_hash);
    sqlite3 *db = raw_db_at(f, "v2", 2, path, sizeof path);
    const char *seed =
        "INSERT INTO apps (app_id, created_at) VALUES ('app1', 1);"
        "INSERT INTO meetings (meeting_id, app_id, meeting_code, creator_instanceid, type, "
        "  meeting_type, start_time, end_time, status, created_at) "
        "  VALUES (7, 'app1', '777777777', 1, 0, 0, 100, 200, 1, 1);"
        "INSERT INTO users (user_no, meeting_id, userid, uuid, ms_open_id) "
        "  VALUES (1, 7, 'alice', 'U1', 'M1'), (2, 7, 'bob', 'U2', 'M2');"
        "INSERT INTO devices (meeting_id, user_no, instanceid, join_time, left_time, token_hash) "
        "  VALUES (7, 1, 1, 100, 150, zeroblob(32));"
        "INSERT INTO devices (meeting_id, user_no, instanceid, join_time, token_hash) "
        "  VALUES (7, 1, 1, 160, ?1), (7, 2, 2, 160, ?2), (7, 2, 3, 160, zeroblob(32));"
        "DELETE FROM devices WHERE device_no = 4;";
    assert_int_equal(sqlite3_exec(db, "BEGIN", NULL, NULL, NULL), SQLITE_OK);
    for (const char *sql = seed; *sql != '\0';) {
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, &sql), SQLITE_OK);
        if (sqlite3_bind_parameter_count(st) > 0) {
            assert_int_equal(sqlite3_bind_blob(st, 1, c.legacy_hash, 32, SQLITE_STATIC), SQLITE_OK);
            assert_int_equal(sqlite3_bind_blob(st, 2, c.left_hash, 32, SQLITE_STATIC), SQLITE_OK);
        }
        assert_int_equal(sqlite3_step(st), SQLITE_DONE);
        sqlite3_finalize(st);
    }
    /* Device 3 (left_hash) ends before the upgrade. */
    assert_int_equal(sqlite3_exec(db, "UPDATE devices SET left_time = 170 WHERE device_no = 3;"
                                      "COMMIT", NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(raw_int(db, "SELECT seq FROM sqlite_sequence WHERE name = 'devices'"), 4);
    sqlite3_close(db);

    store *s = open_store(dir, STORE_DURABLE_FULL);
    assert_int_equal(store_schema_version(s), 12);
    read_ok(s, v3_read_body, &c);
    write_ok(s, v3_write_body, &c);
    /* Never a number given before, not even a deleted one. */
    assert_int_equal(c.new_no, 5);
    store_close(s);

    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM sqlite_master WHERE name IN "
                                 "('devices_by_token', 'devices_by_user', 'devices_v3')"),
                     0);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM pragma_foreign_key_list('devices')"), 1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM pragma_foreign_key_list('devices') "
                                 "WHERE \"table\" = 'meetings'"),
                     1);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM legacy_tokens"), 1);
    /* An old database keeps its page size: only new ones get 1 KiB. */
    assert_int_equal(raw_int(db, "PRAGMA page_size"), 4096);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM pragma_foreign_key_check"), 0);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    assert_string_equal((const char *)sqlite3_column_text(st, 0), "ok");
    sqlite3_finalize(st);
    sqlite3_close(db);

    /* Deleting the app still takes its devices, through the meeting. */
    s = open_store(dir, STORE_DURABLE_FULL);
    write_ok(s, app_delete_body, "app1");
    read_ok(s, v3_gone_body, &c);
    store_close(s);
}

/* ---- migration 4: session counts ------------------------------------------ */

/* Sessions of meeting 7 per occurrence, as store_participants_list counts
 * them: all of them, then occurrences 0, 11, 12 and one that has none. */
struct counts {
    int64_t all, sub0, sub11, sub12, none;
};

static void counts_body(store_tx *tx, void *arg)
{
    struct counts *n = arg;
    int64_t *out[] = {&n->all, &n->sub0, &n->sub11, &n->sub12, &n->none};
    const int64_t subs[] = {-1, 0, 11, 12, 99};
    for (size_t i = 0; i < 5; i++) {
        *out[i] = -1;
        assert_int_equal(store_participants_list(tx, 7, subs[i], 0, 0, NULL, NULL, out[i]),
                         STORE_OK);
    }
}

static struct counts counts_of(store *s)
{
    struct counts n;
    read_ok(s, counts_body, &n);
    return n;
}

/* Two sessions more: one in occurrence 12 (a re-join of bob's device) and
 * one in an occurrence that had none. */
static void counts_join_body(store_tx *tx, void *arg)
{
    (void)arg;
    core_device d = mk_device(7, 12, 2, 9, 300, 77);
    assert_int_equal(store_device_insert(tx, &d), STORE_OK);
    d = mk_device(7, 99, 1, 9, 300, 78);
    assert_int_equal(store_device_insert(tx, &d), STORE_OK);
}

/* Occurrences whose kept count differs from the rows it counts. */
#define COUNTS_WRONG                                                                     \
    "SELECT count(*) FROM (SELECT meeting_id, sub_meeting_id, count(*) AS n FROM devices " \
    "  GROUP BY meeting_id, sub_meeting_id) d "                                         \
    "FULL JOIN session_counts c USING (meeting_id, sub_meeting_id) "                     \
    "WHERE coalesce(c.sessions, 0) <> coalesce(d.n, 0)"

static void test_migrate_session_counts(void **state)
{
    fixture *f = *state;
    char dir[128], path[256];
    snprintf(dir, sizeof dir, "%s/v3", f->root);

    /* A database as meetd left it at schema 3: meeting 7 with sessions in
     * occurrences 0 (1), 11 (3, one of them left) and 12 (2); meeting 8
     * with one. */
    sqlite3 *db = raw_db_at(f, "v3", 3, path, sizeof path);
    const char *seed =
        "BEGIN;"
        "INSERT INTO apps (app_id, created_at) VALUES ('app1', 1), ('app2', 1);"
        "INSERT INTO meetings (meeting_id, app_id, meeting_code, creator_instanceid, type, "
        "  meeting_type, start_time, end_time, status, created_at) "
        "  VALUES (7, 'app1', '777777777', 1, 0, 1, 100, 200, 1, 1),"
        "         (8, 'app2', '888888888', 1, 0, 0, 100, 200, 1, 1);"
        "INSERT INTO users (user_no, meeting_id, userid, uuid, ms_open_id) "
        "  VALUES (1, 7, 'alice', 'U1', 'M1'), (2, 7, 'bob', 'U2', 'M2'),"
        "         (3, 8, 'carol', 'U3', 'M3');"
        "INSERT INTO devices (meeting_id, sub_meeting_id, user_no, instanceid, join_time, "
        "  left_time, token_hash) VALUES"
        "  (7, 0, 1, 1, 100, NULL, randomblob(32)),"
        "  (7, 11, 1, 1, 100, 150, randomblob(32)),"
        "  (7, 11, 1, 3, 160, NULL, randomblob(32)),"
        "  (7, 11, 2, 2, 160, NULL, randomblob(32)),"
        "  (7, 12, 1, 4, 170, NULL, randomblob(32)),"
        "  (7, 12, 2, 5, 170, NULL, randomblob(32)),"
        "  (8, 0, 3, 1, 100, NULL, randomblob(32));"
        "COMMIT;";
    assert_int_equal(sqlite3_exec(db, seed, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    store *s = open_store(dir, STORE_DURABLE_FULL);
    assert_int_equal(store_schema_version(s), 12);
    struct counts n = counts_of(s);
    assert_int_equal(n.all, 6);
    assert_int_equal(n.sub0, 1);
    assert_int_equal(n.sub11, 3);
    assert_int_equal(n.sub12, 2);
    assert_int_equal(n.none, 0);
    write_ok(s, counts_join_body, NULL);
    n = counts_of(s);
    assert_int_equal(n.all, 8);
    assert_int_equal(n.sub12, 3);
    assert_int_equal(n.none, 1);
    assert_int_equal(n.sub11, 3);
    store_close(s);

    /* The counts are the rows', by any way of adding or removing one. */
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "PRAGMA foreign_keys = ON", NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(raw_int(db, COUNTS_WRONG), 0);
    assert_int_equal(raw_int(db, "SELECT sessions FROM session_counts WHERE meeting_id = 8"), 1);
    assert_int_equal(sqlite3_exec(db, "DELETE FROM devices WHERE meeting_id = 7 AND "
                                      "sub_meeting_id = 11 AND left_time IS NOT NULL",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    assert_int_equal(raw_int(db, COUNTS_WRONG), 0);
    assert_int_equal(raw_int(db, "SELECT sessions FROM session_counts "
                                 "WHERE meeting_id = 7 AND sub_meeting_id = 11"),
                     2);
    sqlite3_close(db);

    /* Deleting an app takes its meetings' counts; the other's stay. */
    s = open_store(dir, STORE_DURABLE_FULL);
    write_ok(s, app_delete_body, "app1");
    n = counts_of(s);
    assert_int_equal(n.all, 0);
    assert_int_equal(n.sub12, 0);
    store_close(s);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    assert_int_equal(raw_int(db, "SELECT count(*) FROM session_counts WHERE meeting_id = 7"), 0);
    assert_int_equal(raw_int(db, "SELECT sessions FROM session_counts WHERE meeting_id = 8"), 1);
    assert_int_equal(raw_int(db, COUNTS_WRONG), 0);
    sqlite3_close(db);
}

/* ---- migration 5: a ban's operator ------------------------------------------ */

struct v5_ban {
    int n;
    core_ban b[3];
};

static store_rc v5_see_ban(const core_ban *b, void *arg)
{
    struct v5_ban *v = arg;
    assert_true(v->n < 3);
    v->b[v->n++] = *b;
    return STORE_OK;
}

static void v5_bans_body(store_tx *tx, void *arg)
{
    assert_int_equal(store_bans_list(tx, 7, v5_see_ban, arg), STORE_OK);
}

static void v5_users_body(store_tx *tx, void *arg)
{
    bool *cohost = arg;
    for (int i = 0; i < 4; i++) {
        core_user u;
        assert_int_equal(store_user_by_no(tx, i + 1, &u), STORE_OK);
        cohost[i] = u.cohost;
    }
}

static void test_migrate_ban_operator(void **state)
{
    fixture *f = *state;
    char dir[128], path[256];
    snprintf(dir, sizeof dir, "%s/v4", f->root);

    /* A database as meetd left it at schema 4: bob banned by alice named by
     * userid, never joined (audit has only her userid); carol (a co-host)
     * banned by dave (on instanceid 3); erin's ban has no audit
     * row. Dave is a co-host and not banned. */
    sqlite3 *db = raw_db_at(f, "v4", 4, path, sizeof path);
    const char *seed =
        "BEGIN;"
        "INSERT INTO apps (app_id, created_at) VALUES ('app1', 1);"
        "INSERT INTO meetings (meeting_id, app_id, meeting_code, creator_instanceid, type, "
        "  meeting_type, start_time, end_time, status, created_at) "
        "  VALUES (7, 'app1', '777777777', 1, 0, 0, 100, 200, 1, 1);"
        "INSERT INTO users (user_no, meeting_id, userid, uuid, ms_open_id, cohost) VALUES "
        "  (1, 7, 'bob', 'U1', 'M1', 0), (2, 7, 'carol', 'U2', 'M2', 1),"
        "  (3, 7, 'dave', 'U3', 'M3', 1), (4, 7, 'erin', 'U4', 'M4', 1);"
        "INSERT INTO audit (meeting_id, time, request_id, action, op_userid, op_uuid, "
        "  op_ms_open_id, op_instanceid, target_userid, target_instanceid, allow_rejoin) "
        "  VALUES (7, 110, 'r1', 'kickout', 'alice', '', '', 1, 'bob', 2, 0),"
        "         (7, 120, 'r2', 'kickout', 'dave', 'U3', 'M3', 3, 'carol', 4, 0),"
        "         (7, 120, 'r2', 'kickout', 'dave', 'U3', 'M3', 3, 'carol', 5, 0);"
        "INSERT INTO bans (meeting_id, user_no, banned_at, operator_ms_open_id, request_id) "
        "  VALUES (7, 1, 110, '', 'r1'), (7, 2, 120, 'M3', 'r2'), (7, 4, 130, '', 'r9');"
        "COMMIT;";
    assert_int_equal(sqlite3_exec(db, seed, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    store *s = open_store(dir, STORE_DURABLE_FULL);
    assert_int_equal(store_schema_version(s), 12);
    struct v5_ban v = {0};
    read_ok(s, v5_bans_body, &v);
    assert_int_equal(v.n, 3);
    assert_string_equal(v.b[0].user.userid, "bob");
    assert_string_equal(v.b[0].operator_userid, "alice");
    assert_string_equal(v.b[0].operator_ms_open_id, "");
    assert_int_equal(v.b[0].operator_instanceid, 1);
    assert_string_equal(v.b[1].user.userid, "carol");
    assert_string_equal(v.b[1].operator_userid, "dave");
    assert_string_equal(v.b[1].operator_uuid, "U3");
    assert_string_equal(v.b[1].operator_ms_open_id, "M3");
    assert_int_equal(v.b[1].operator_instanceid, 3);
    assert_string_equal(v.b[2].user.userid, "erin");
    assert_string_equal(v.b[2].operator_userid, "");
    assert_int_equal(v.b[2].operator_instanceid, -1);
    /* Banned co-hosts are co-hosts no more; dave, not banned, still is. */
    bool cohost[4];
    read_ok(s, v5_users_body, cohost);
    assert_false(cohost[0]);
    assert_false(cohost[1]);
    assert_true(cohost[2]);
    assert_false(cohost[3]);
    store_close(s);
}

/* 9 -> 10: devices present before presence was kept in rows have no
 * stream recorded: none is due, whatever the clock says, and they take a
 * stream's open as any other. */
struct v10_check {
    int64_t node, grace;
    int due;
};

static store_rc v10_due(int64_t device_no, void *arg)
{
    (void)device_no;
    ((struct v10_check *)arg)->due++;
    return STORE_OK;
}

static void v10_body(store_tx *tx, void *arg)
{
    struct v10_check *c = arg;
    assert_int_equal(store_stream_get(tx, 1, &c->node, &c->grace), STORE_OK);
    assert_int_equal(store_presence_due(tx, INT64_MAX / 2, INT64_MAX / 4, 1000, 0, 100, v10_due,
                                        c),
                     STORE_OK);
    assert_int_equal(store_stream_attach(tx, 1, 5, 0, NULL), STORE_OK);
}

static void test_migrate_presence(void **state)
{
    fixture *f = *state;
    char dir[128], path[256];
    snprintf(dir, sizeof dir, "%s/v9", f->root);
    sqlite3 *db = raw_db_at(f, "v9", 9, path, sizeof path);
    const char *seed =
        "BEGIN;"
        "INSERT INTO apps (app_id, created_at) VALUES ('app1', 1);"
        "INSERT INTO meetings (meeting_id, app_id, meeting_code, creator_instanceid, type, "
        "  meeting_type, start_time, end_time, status, created_at) "
        "  VALUES (7, 'app1', '777777777', 1, 0, 0, 100, 200, 1, 1);"
        "INSERT INTO users (user_no, meeting_id, userid, uuid, ms_open_id) "
        "  VALUES (1, 7, 'alice', 'U1', 'M1');"
        "INSERT INTO devices (meeting_id, user_no, instanceid, join_time, token_hash) "
        "  VALUES (7, 1, 1, 100, zeroblob(32));"
        "COMMIT;";
    assert_int_equal(sqlite3_exec(db, seed, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(db);

    store *s = open_store(dir, STORE_DURABLE_FULL);
    assert_int_equal(store_schema_version(s), 12);
    struct v10_check c = {-1, -1, 0};
    write_ok(s, v10_body, &c);
    assert_int_equal(c.node, 0);
    assert_int_equal(c.grace, 0);
    assert_int_equal(c.due, 0);
    store_close(s);
}

static void test_file_modes(void **state)
{
    fixture *f = *state;
    struct stat sb;
    char path[256];
    write_ok(f->s, app_insert_body, "app1");
    assert_int_equal(stat(f->data, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    snprintf(path, sizeof path, "%s/meetd.db", f->data);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/meetd.db-wal", f->data);
    assert_int_equal(stat(path, &sb), 0); /* WAL mode */
    assert_int_equal(sb.st_mode & 0777, 0600);

    /* Even with a permissive umask, and with missing parents. */
    char deep[128];
    snprintf(deep, sizeof deep, "%s/a/b/c", f->root);
    mode_t old = umask(0);
    store *s = open_store(deep, STORE_DURABLE_NORMAL);
    umask(old);
    write_ok(s, app_insert_body, "app2");
    assert_int_equal(stat(deep, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0700);
    snprintf(path, sizeof path, "%s/meetd.db", deep);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    snprintf(path, sizeof path, "%s/meetd.db-wal", deep);
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    store_close(s);
}

static void test_durability(void **state)
{
    fixture *f = *state;
    for (int mode = 0; mode < 2; mode++) {
        char dir[256], app[16];
        snprintf(dir, sizeof dir, "%s/d%d", f->root, mode);
        snprintf(app, sizeof app, "app-%d", mode);
        store *s = open_store(dir, mode == 0 ? STORE_DURABLE_FULL : STORE_DURABLE_NORMAL);
        write_ok(s, app_insert_body, app);
        store_close(s);
        s = open_store(dir, mode == 0 ? STORE_DURABLE_FULL : STORE_DURABLE_NORMAL);
        read_ok(s, app_exists_body, app);
        store_close(s);
        /* Checkpointed into the file itself on close. */
        assert_int_equal(raw_count(dir, "apps"), 1);
    }
}

/* A page that follows one already served starts after the session that
 * page ended on (sqlite/pages.c): walking a meeting page by page, in pages
 * of several sizes, must give the whole list, before and after sessions
 * are added, after the meeting is gone and its id used again, and when the
 * table holds a hint that is not this meeting's. */
struct walk {
    int64_t sub;
    struct deep_list *whole, *page;
    int64_t other_no;          /* a session of meeting 2 */
    int size;
};

static void walk_check(store_tx *tx, struct walk *w)
{
    memset(w->whole, 0, sizeof *w->whole);
    int64_t total = -1;
    assert_int_equal(
        store_participants_list(tx, 1, w->sub, 0, DEEP_CAP, deep_row, w->whole, &total), STORE_OK);
    assert_int_equal(w->whole->n, total);
    int64_t pos = 0;
    for (;;) {
        memset(w->page, 0, sizeof *w->page);
        assert_int_equal(store_participants_list(tx, 1, w->sub, pos, w->size, deep_row, w->page,
                                                 NULL),
                         STORE_OK);
        for (int i = 0; i < w->page->n; i++) {
            assert_int_equal(w->page->no[i], w->whole->no[pos + i]);
            assert_string_equal(w->page->who[i], w->whole->who[pos + i]);
        }
        if (w->page->n == 0)
            break;
        /* The page says where the next one starts. */
        int64_t before = -1;
        assert_true(lite_pages_get(lite_tx_conn(tx)->pages, 1, w->sub, pos + w->page->n, &before));
        assert_int_equal(before, w->whole->no[pos + w->page->n - 1]);
        pos += w->page->n;
    }
    assert_int_equal(pos, total);
}

static void walk_body(store_tx *tx, void *arg)
{
    struct walk *w = arg;
    const int64_t subs[] = {-1, SUB_A, SUB_B};
    const int sizes[] = {20, 7, 100};
    for (size_t s = 0; s < 3; s++)
        for (size_t k = 0; k < 3; k++) {
            w->sub = subs[s];
            w->size = sizes[k];
            walk_check(tx, w);
        }
}

/* Hints that must not be followed: a session of another meeting, and one
 * that does not exist; the page at the hinted position stays the list's. */
static void walk_bad_hint(store_tx *tx, struct walk *w, int64_t bad_no)
{
    w->size = 20;
    walk_check(tx, w);        /* w->whole, and every hint right */
    lite_pages_put(lite_tx_conn(tx)->pages, 1, w->sub, 20, bad_no);
    memset(w->page, 0, sizeof *w->page);
    assert_int_equal(store_participants_list(tx, 1, w->sub, 20, 20, deep_row, w->page, NULL),
                     STORE_OK);
    assert_int_equal(w->page->n, 20);
    for (int i = 0; i < 20; i++)
        assert_int_equal(w->page->no[i], w->whole->no[20 + i]);
}

static void walk_bad_hints_body(store_tx *tx, void *arg)
{
    struct walk *w = arg;
    const int64_t subs[] = {-1, SUB_A};
    for (size_t s = 0; s < 2; s++) {
        w->sub = subs[s];
        walk_bad_hint(tx, w, w->other_no);
        walk_bad_hint(tx, w, INT64_MAX);
    }
}

/* Straight to a position the old meeting had a hint for, before any page
 * of the new one could have put one there. */
static void walk_reused_body(store_tx *tx, void *arg)
{
    struct walk *w = arg;
    const int64_t subs[] = {-1, SUB_A};
    const int at[] = {20, 7};
    for (size_t s = 0; s < 2; s++) {
        memset(w->whole, 0, sizeof *w->whole);
        assert_int_equal(store_participants_list(tx, 1, subs[s], 0, DEEP_CAP, deep_row, w->whole,
                                                 NULL),
                         STORE_OK);
        assert_true(w->whole->n > at[s]);
        memset(w->page, 0, sizeof *w->page);
        assert_int_equal(store_participants_list(tx, 1, subs[s], at[s], at[s], deep_row, w->page,
                                                 NULL),
                         STORE_OK);
        int want = w->whole->n - at[s] < at[s] ? w->whole->n - at[s] : at[s];
        assert_int_equal(w->page->n, want);
        for (int i = 0; i < want; i++)
            assert_int_equal(w->page->no[i], w->whole->no[at[s] + i]);
    }
}

static void walk_more_body(store_tx *tx, void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++) {
        char tag[8];
        snprintf(tag, sizeof tag, "r%03d", i);
        add_session(tx, tag, SUB_A, 9000 + i, 7000 + (unsigned)i);
    }
}

/* A session of meeting 2, its number into *arg: a hint or mark that must
 * not be followed for meeting 1. */
static void other_session_body(store_tx *tx, void *arg)
{
    core_user u = mk_user("z", "", "z");
    assert_int_equal(store_user_insert(tx, 2, &u), STORE_OK);
    core_device d = mk_device(2, SUB_A, u.user_no, 1, 100, 4242);
    assert_int_equal(store_device_insert(tx, &d), STORE_OK);
    *(int64_t *)arg = d.device_no;
}


struct jump_list {
    int n, cap;
    int64_t *no;
};

static store_rc jump_row(const store_participant *u, void *arg)
{
    const store_participant *d = u;
    struct jump_list *l = arg;
    assert_true(l->n < l->cap);
    l->no[l->n++] = d->device_no;
    return STORE_OK;
}

struct jumps {
    int64_t other_no;          /* a session of meeting 2 */
    struct jump_list whole, page;
};

static void jump_check(store_tx *tx, struct jumps *j, int64_t sub, int64_t pos)
{
    j->page.n = 0;
    assert_int_equal(store_participants_list(tx, 1, sub, pos, 30, jump_row, &j->page, NULL),
                     STORE_OK);
    int64_t total = j->whole.n;
    int64_t want = pos >= total ? 0 : (total - pos < 30 ? total - pos : 30);
    assert_int_equal(j->page.n, want);
    for (int i = 0; i < j->page.n; i++)
        assert_int_equal(j->page.no[i], j->whole.no[pos + i]);
}

static void jumps_body(store_tx *tx, void *arg)
{
    struct jumps *j = arg;
    const int64_t subs[] = {-1, SUB_A, SUB_B};
    for (size_t s = 0; s < 3; s++) {
        int64_t sub = subs[s], total = -1;
        j->whole.n = 0;
        assert_int_equal(
            store_participants_list(tx, 1, sub, 0, JUMP_N, jump_row, &j->whole, &total), STORE_OK);
        assert_int_equal(j->whole.n, total);
        assert_true(total > JUMP_STRIDE + 30);
        /* Deepest first (every mark is found from nothing), then below
         * and around the marks, then past the end. */
        const int64_t at[] = {total - 5, JUMP_STRIDE, JUMP_STRIDE - 1, JUMP_STRIDE + 1,
                              total / 2, 2 * JUMP_STRIDE - 1, 2 * JUMP_STRIDE,
                              2 * JUMP_STRIDE + 7, total - 1, total, total + 1,
                              4 * JUMP_STRIDE + 5};
        for (size_t k = 0; k < sizeof at / sizeof at[0]; k++)
            jump_check(tx, j, sub, at[k]);
        /* The marks are the sessions right before them. */
        for (int64_t m = JUMP_STRIDE; m < total; m += JUMP_STRIDE) {
            int64_t no = -1;
            assert_true(lite_pages_get(lite_tx_conn(tx)->pages, 1, sub, m, &no));
            assert_int_equal(no, j->whole.no[m - 1]);
        }
        /* Marks that are wrong: another meeting's session, none at all. */
        lite_pages_put(lite_tx_conn(tx)->pages, 1, sub, JUMP_STRIDE, j->other_no);
        jump_check(tx, j, sub, JUMP_STRIDE + 3);
        lite_pages_put(lite_tx_conn(tx)->pages, 1, sub, JUMP_STRIDE, INT64_MAX);
        if (total > 2 * JUMP_STRIDE) {
            lite_pages_put(lite_tx_conn(tx)->pages, 1, sub, 2 * JUMP_STRIDE, j->other_no);
            jump_check(tx, j, sub, 2 * JUMP_STRIDE + 11);
            int64_t no = -1;
            assert_true(lite_pages_get(lite_tx_conn(tx)->pages, 1, sub, 2 * JUMP_STRIDE, &no));
            assert_int_equal(no, j->whole.no[2 * JUMP_STRIDE - 1]);
        }
        jump_check(tx, j, sub, JUMP_STRIDE + 500);
    }
}

static void test_participants_jumps(void **state)
{
    fixture *f = *state;
    struct jumps j = {0};
    j.whole.cap = j.page.cap = JUMP_N;
    j.whole.no = calloc(JUMP_N, sizeof *j.whole.no);
    j.page.no = calloc(JUMP_N, sizeof *j.page.no);
    assert_non_null(j.whole.no);
    assert_non_null(j.page.no);
    seed(f->s, "app1", 1, "000000001");
    seed(f->s, "app2", 2, "000000002");
    write_ok(f->s, sessions_fill_body, &(int){JUMP_N});
    write_ok(f->s, other_session_body, &j.other_no);
    read_ok(f->s, jumps_body, &j);
    free(j.whole.no);
    free(j.page.no);
}

/* How many statements the connection has run so far (SQLite counts each
 * statement's runs). */
static int64_t statements_run(sqlite3 *db)
{
    int64_t n = 0;
    for (sqlite3_stmt *st = sqlite3_next_stmt(db, NULL); st != NULL;
         st = sqlite3_next_stmt(db, st))
        n += sqlite3_stmt_status(st, SQLITE_STMTSTATUS_RUN, 0);
    return n;
}

static store_rc count_rows(const store_participant *p, void *arg)
{
    assert_non_null(p->uuid);
    ++*(int *)arg;
    return STORE_OK;
}

/* Statements run by one page of each list, at size 1 and at size 20: the
 * rows come with their users from the page's own statement, so the number
 * is the same (a user read a row would add 19), and small. */
static void one_statement_body(store_tx *tx, void *arg)
{
    (void)arg;
    sqlite3 *db = lite_tx_conn(tx)->db;
    int64_t runs[2][4];
    const int sizes[2] = {1, 20};
    for (int k = 0; k < 2; k++) {
        for (int list = 0; list < 4; list++) {
            int rows = 0;
            int64_t before = statements_run(db);
            store_rc rc;
            switch (list) {
            case 0: /* from the first */
                rc = store_participants_list(tx, 1, -1, 0, sizes[k], count_rows, &rows, NULL);
                break;
            case 1: /* further in, no page ended there (found on the index) */
                rc = store_participants_list(tx, 1, SUB_A, 7 + k, sizes[k], count_rows, &rows,
                                             NULL);
                break;
            case 2:
                rc = store_participants_between(tx, 1, SUB_A, 0, 1000000, 3, sizes[k],
                                                count_rows, &rows, NULL);
                break;
            default:
                rc = store_present_list(tx, 1, -1, 5, sizes[k], count_rows, &rows, NULL);
            }
            assert_int_equal(rc, STORE_OK);
            assert_int_equal(rows, sizes[k]);
            runs[k][list] = statements_run(db) - before;
            assert_true(runs[k][list] <= 3);
        }
    }
    for (int list = 0; list < 4; list++)
        assert_int_equal(runs[0][list], runs[1][list]);
}

/* No page statement sorts: each walks an index in join order and stops
 * after its page (the real-time list sorted every present session, joined
 * to its user, for each page before devices_present_by_no). */
static void no_sort_body(store_tx *tx, void *arg)
{
    (void)arg;
    const enum lite_stmt_id ids[] = {STMT_PART_AFTER_ALL, STMT_PART_AFTER_SUB, STMT_PART_NTH_ALL,
                                     STMT_PART_NTH_SUB, STMT_PRESENT_LIST, STMT_PRESENT_COUNT};
    sqlite3 *db = lite_tx_conn(tx)->db;
    for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
        sqlite3_stmt *st = lite_stmt(tx, ids[i]);
        assert_non_null(st);
        char sql[2048];
        snprintf(sql, sizeof sql, "EXPLAIN QUERY PLAN %s", sqlite3_sql(st));
        sqlite3_stmt *plan = NULL;
        assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &plan, NULL), SQLITE_OK);
        int steps = 0;
        while (sqlite3_step(plan) == SQLITE_ROW) {
            const char *detail = (const char *)sqlite3_column_text(plan, 3);
            assert_non_null(detail);
            assert_null(strstr(detail, "TEMP B-TREE"));
            steps++;
        }
        assert_true(steps > 0);
        sqlite3_finalize(plan);
    }
}

static void test_participants_no_sort(void **state)
{
    fixture *f = *state;
    read_ok(f->s, no_sort_body, NULL);
}

static void test_participants_one_statement(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    write_ok(f->s, sessions_fill_body, &(int){60});
    read_ok(f->s, one_statement_body, NULL);
}

static void test_participants_walk(void **state)
{
    fixture *f = *state;
    struct walk w = {0};
    w.whole = calloc(1, sizeof *w.whole);
    w.page = calloc(1, sizeof *w.page);
    assert_non_null(w.whole);
    assert_non_null(w.page);
    seed(f->s, "app1", 1, "000000001");
    seed(f->s, "app2", 2, "000000002");
    write_ok(f->s, sessions_fill_body, &(int){DEEP_N});
    write_ok(f->s, other_session_body, &w.other_no);
    read_ok(f->s, walk_body, &w);
    /* Sessions added after the walk: the positions it saw hold. */
    write_ok(f->s, walk_more_body, NULL);
    read_ok(f->s, walk_body, &w);
    read_ok(f->s, walk_bad_hints_body, &w);
    /* The meeting deleted and its id used again, for fewer sessions: what
     * was remembered of the old one is not followed. */
    write_ok(f->s, app_delete_body, "app1");
    seed(f->s, "app1", 1, "000000001");
    write_ok(f->s, participants_fill_body, NULL);
    read_ok(f->s, walk_reused_body, &w);
    read_ok(f->s, walk_body, &w);
    free(w.whole);
    free(w.page);
}

static void test_keys_stamp_old_file(void **state)
{
    fixture *f = *state;
    store_close(f->s);
    char path[4096];
    snprintf(path, sizeof path, "%s/keys.stamp", f->data);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    fputs("\n\n\n", fp);
    fclose(fp);
    f->s = open_store(f->data, STORE_DURABLE_FULL);
    store_stamp s0, s1;
    store_keys_stamp(f->s, &s0);
    write_ok(f->s, stamp_app_body, "app1");
    store_keys_stamp(f->s, &s1);
    assert_false(stamp_equal(&s0, &s1));
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_int_equal(sb.st_size, 8);
}

/* ---- the background checkpointer ---------------------------------------- */

/* A user of meeting 1 named prefix and i. */
static void insert_user_tagged(store_tx *tx, const char *prefix, int i)
{
    char tag[32];
    snprintf(tag, sizeof tag, "%s%d", prefix, i);
    core_user u = mk_user(tag, "", tag);
    assert_int_equal(store_user_insert(tx, 1, &u), STORE_OK);
}

static void ckpt_user_body(store_tx *tx, void *arg)
{
    insert_user_tagged(tx, "ckpt", *(int *)arg);
}

static void test_checkpointer(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    uint64_t before = metrics_get_counter(METRICS_STORE_CHECKPOINTS);
    uint64_t inline_before = metrics_get_counter(METRICS_STORE_CHECKPOINTS_INLINE);
    /* One commit each: well over the 1,000 WAL pages that ask for a pass. */
    for (int i = 0; i < 1500; i++)
        write_ok(f->s, ckpt_user_body, &i);
    /* The pass runs on its own thread: wait for it, with a generous bound. */
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    while (metrics_get_counter(METRICS_STORE_CHECKPOINTS) == before) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        assert_true(now.tv_sec - t0.tv_sec < 30);
        sched_yield();
    }
    /* It copied pages into the database file itself... */
    char path[256];
    snprintf(path, sizeof path, "%s/meetd.db", f->data);
    struct stat sb;
    assert_int_equal(stat(path, &sb), 0);
    assert_true(sb.st_size > 4096 * 8);
    /* ...and the writer never had to. */
    assert_int_equal(metrics_get_counter(METRICS_STORE_CHECKPOINTS_INLINE), inline_before);
    assert_int_equal(raw_count(f->data, "users"), 1500);
}

/* Writes that never let the store's writer go idle: 64 always queued,
 * each finished one queueing the next from its callback. Under such a
 * load SQLite alone never starts the WAL over (a checkpoint never catches
 * the last commit); the checkpointer has to hold the writer. */
struct pump {
    store *s;
    atomic_bool stop;
    atomic_int outstanding;
    atomic_int next_tag;
    atomic_int written;
    atomic_int failed;
};

struct pump_job {
    struct pump *p;
    int tag;
};

static store_rc pump_fn(store_tx *tx, void *arg)
{
    struct pump_job *j = arg;
    char tag[32];
    snprintf(tag, sizeof tag, "w%d", j->tag);
    core_user u = mk_user(tag, "", tag);
    return store_user_insert(tx, 1, &u) == STORE_OK ? STORE_OK : STORE_ROLLBACK;
}

static void pump_queue(struct pump *p);

static void pump_done(void *arg, store_rc rc)
{
    struct pump_job *j = arg;
    struct pump *p = j->p;
    free(j);
    if (rc == 0)
        atomic_fetch_add(&p->written, 1);
    else
        atomic_fetch_add(&p->failed, 1);
    if (!atomic_load(&p->stop))
        pump_queue(p);
    else
        atomic_fetch_sub(&p->outstanding, 1);
}

static void pump_queue(struct pump *p)
{
    struct pump_job *j = malloc(sizeof *j);
    if (j != NULL) {
        /* Filled first: once queued, the job may be done and freed. */
        j->p = p;
        j->tag = atomic_fetch_add(&p->next_tag, 1);
    }
    if (j == NULL || store_write_async(p->s, pump_fn, j, pump_done, j) != 0) {
        free(j);
        atomic_fetch_add(&p->failed, 1);
        atomic_fetch_sub(&p->outstanding, 1);
    }
}

/* How many waits for a WAL restart /metrics has counted so far. */
static unsigned long long wal_hold_count(void)
{
    metrics_gauges g = {0};
    char *page = metrics_render(&g);
    assert_non_null(page);
    const char *key = "\nmeetd_store_wal_restart_wait_seconds_count ";
    const char *at = strstr(page, key);
    assert_non_null(at);
    unsigned long long n = strtoull(at + strlen(key), NULL, 10);
    free(page);
    return n;
}

static void test_wal_restarts_under_load(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    uint64_t before = metrics_get_counter(METRICS_STORE_WAL_RESTARTS);
    unsigned long long holds_before = wal_hold_count();
    uint64_t inline_before = metrics_get_counter(METRICS_STORE_CHECKPOINTS_INLINE);
    static struct pump p;
    memset(&p, 0, sizeof p);
    p.s = f->s;
    atomic_store(&p.outstanding, 64);
    for (int i = 0; i < 64; i++)
        pump_queue(&p);
    /* Long enough that a WAL never started over would pass the writer's
     * inline limit (64,000 pages, ~67 MB with headers) one and a half times
     * over, and the WAL is started over every 16,000 pages (six times):
     * the writes it took to grow the WAL to its first 2 MB tell how many
     * that is. Bounded: the writes themselves are the progress this waits
     * on. */
    char wal[256];
    snprintf(wal, sizeof wal, "%s/meetd.db-wal", f->data);
    const off_t probe = 2 * 1024 * 1024, limit = 64000 * (1024 + 24);
    off_t largest = 0;
    int at_probe = 0;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        struct stat sb;
        if (stat(wal, &sb) == 0 && sb.st_size > largest)
            largest = sb.st_size;
        int written = atomic_load(&p.written);
        if (at_probe == 0 && largest >= probe)
            at_probe = written > 0 ? written : 1;
        if (at_probe > 0 && (int64_t)written * probe * 2 >= (int64_t)at_probe * 3 * limit)
            break;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec >= 120) {
            atomic_store(&p.stop, true);
            fail_msg("120 s and only %d writes (%d at 2 MB of WAL)", written, at_probe);
        }
        sched_yield();
    }
    atomic_store(&p.stop, true);
    /* The last writes finish within a commit or two. */
    while (atomic_load(&p.outstanding) > 0) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec >= 150)
            fail_msg("%d writes still queued", atomic_load(&p.outstanding));
        sched_yield();
    }
    assert_int_equal(atomic_load(&p.failed), 0);
    uint64_t restarts = metrics_get_counter(METRICS_STORE_WAL_RESTARTS) - before;
    assert_true(restarts >= 3);
    /* The writer, never idle here, waited for each of them, and /metrics
     * shows those waits (the tail of every write queued meanwhile). */
    assert_true(wal_hold_count() - holds_before >= restarts);
    assert_int_equal(metrics_get_counter(METRICS_STORE_CHECKPOINTS_INLINE), inline_before);
    /* The WAL file never grew past a restart's worth: 16,000 pages of
     * 1 KiB and their headers, and what comes in while the last passes
     * run. */
    assert_true(largest < 32 * 1024 * 1024);
    /* Every acknowledged write is there, the holds lost none. */
    assert_int_equal(raw_count(f->data, "users"), atomic_load(&p.written));
}

/* ---- the WAL page counter ------------------------------------------------ */

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* What the WAL file itself holds (the format is SQLite's, walformat.html):
 * its header's salts, and how many frames of this generation precede the
 * last commit frame. Frames of an earlier generation, left beyond a restart,
 * carry other salts. Read from the file, not from SQLite. */
struct wal_state {
    uint32_t salt1, salt2;
    long committed;
};

static struct wal_state wal_read(const char *data)
{
    char path[256];
    snprintf(path, sizeof path, "%s/meetd.db-wal", data);
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    unsigned char hdr[32], fh[24];
    assert_int_equal(fread(hdr, 1, sizeof hdr, fp), sizeof hdr);
    struct wal_state w = {be32(hdr + 16), be32(hdr + 20), 0};
    long page = be32(hdr + 8);
    assert_true(page >= 512 && page <= 65536);
    for (long i = 0;; i++) {
        assert_int_equal(fseek(fp, 32 + i * (24 + page), SEEK_SET), 0);
        if (fread(fh, 1, sizeof fh, fp) != sizeof fh || be32(fh + 8) != w.salt1 ||
            be32(fh + 12) != w.salt2)
            break;
        if (be32(fh + 4) != 0)    /* the database's size: set on commit frames only */
            w.committed = i + 1;
    }
    fclose(fp);
    return w;
}

/* A PASSIVE checkpoint through a connection of the test's own, closed at
 * once: with meetd's writer idle it copies the whole WAL, so meetd's next
 * write starts the WAL over. */
/* A connection of the test's own to the store's database, as another
 * process would have: it waits up to 5 s for meetd's writer. */
static sqlite3 *outside_open(const char *data)
{
    char path[256];
    snprintf(path, sizeof path, "%s/meetd.db", data);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
    sqlite3_busy_timeout(db, 5000);
    return db;
}

static void wal_checkpoint_outside(const char *data)
{
    sqlite3 *db = outside_open(data);
    /* A connection sees the WAL only from its first read: until then a
     * checkpoint on it does nothing and says -1, -1. */
    assert_int_equal(sqlite3_exec(db, "SELECT count(*) FROM sqlite_schema", NULL, NULL, NULL),
                     SQLITE_OK);
    int log = -1, copied = -1;
    assert_int_equal(sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, &log, &copied),
                     SQLITE_OK);
    assert_true(log > 0);
    assert_int_equal(copied, log);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

struct wal_users_job {
    int first, count;
};

static void wal_users_body(store_tx *tx, void *arg)
{
    const struct wal_users_job *j = arg;
    for (int i = j->first; i < j->first + j->count; i++)
        insert_user_tagged(tx, "wal", i);
}

/* meetd_store_wal_pages_total against the frames each commit really
 * appended, read from the WAL file; among the commits, ones that start the
 * WAL over and write more pages than the generation before held (where
 * the WAL's length alone cannot tell a restart from growth). */
static void test_wal_pages_counted(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    struct wal_state last = wal_read(f->data);
    uint64_t counted = metrics_get_counter(METRICS_STORE_WAL_PAGES);
    long appended = 0;
    int restarts = 0, restarts_longer = 0, next = 0;
    for (int round = 0; round < 24; round++) {
        /* Every third round the WAL is copied out, so the write starts it over. */
        if (round % 3 == 2)
            wal_checkpoint_outside(f->data);
        /* Short and long commits mixed; of the ones that start the WAL over,
         * every other one longer than all the generation before it. */
        int count = round % 2 == 0 ? 1 + round / 2 : 20 * (1 + round % 4);
        if (round % 3 == 2)
            count = round % 6 == 2 ? 1 : 600;
        struct wal_users_job j = {next, count};
        next += j.count;
        write_ok(f->s, wal_users_body, &j);
        struct wal_state w = wal_read(f->data);
        if (w.salt1 != last.salt1 || w.salt2 != last.salt2) {
            restarts++;
            restarts_longer += w.committed >= last.committed;
            appended += w.committed;
        } else {
            assert_true(w.committed > last.committed);
            appended += w.committed - last.committed;
        }
        last = w;
        uint64_t now = metrics_get_counter(METRICS_STORE_WAL_PAGES);
        if (now - counted != (uint64_t)appended)
            fail_msg("round %d: counted %" PRIu64 " pages, the WAL got %ld", round,
                     now - counted, appended);
    }
    assert_true(restarts >= 6);
    assert_true(restarts_longer >= 2);
    assert_int_equal(raw_count(f->data, "users"), next);
}

/* ---- the writer's meeting copies ------------------------------------------ */

/* Runs on the writer thread: it records what it saw (an assertion there
 * could not unwind the test), the test thread checks. */
struct mc_probe {
    const char *app_id;
    int set_status;      /* >= 0: write this status, then read again */
    store_rc fail;       /* the job's return: not STORE_OK rolls it back */
    int rc, status, reread_rc, reread_status;
    char subject[CORE_SUBJECT_MAX + 1];
};

static store_rc mc_job(store_tx *tx, void *arg)
{
    struct mc_probe *p = arg;
    core_meeting m;
    p->rc = store_meeting_get(tx, p->app_id, 1, &m);
    if (p->rc != STORE_OK)
        return p->fail;
    p->status = m.status;
    snprintf(p->subject, sizeof p->subject, "%s", m.subject);
    if (p->set_status >= 0) {
        m.status = p->set_status;
        if (store_meeting_update_status(tx, &m) != STORE_OK)
            return STORE_ERROR;
        /* Read back inside the job: this may keep a copy of the change. */
        p->reread_rc = store_meeting_get(tx, p->app_id, 1, &m);
        p->reread_status = m.status;
    }
    return p->fail;
}

/* A job that reads meeting 1 as app_id: status -1 for "not there". */
static void mc_expect(store *s, const char *app_id, int status, const char *subject)
{
    struct mc_probe p = {.app_id = app_id, .set_status = -1};
    assert_int_equal(store_write(s, mc_job, &p), 0);
    if (status < 0) {
        assert_int_equal(p.rc, STORE_NOTFOUND);
        return;
    }
    assert_int_equal(p.rc, STORE_OK);
    assert_int_equal(p.status, status);
    if (subject != NULL)
        assert_string_equal(p.subject, subject);
}

static void outside_exec(const char *data, const char *sql)
{
    sqlite3 *db = outside_open(data);
    assert_int_equal(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_close(db), SQLITE_OK);
}

static void mc_meeting_insert_body(store_tx *tx, void *arg)
{
    core_meeting m;
    mk_meeting(&m, (const char *)arg, 1, "000000003");
    assert_int_equal(store_meeting_insert(tx, &m), STORE_OK);
}

/* What the writer reads of a meeting is what the database holds, whoever
 * changed it and whatever was undone: each step fails if the writer's
 * copies outlive the change it names. */
static void test_meeting_copies(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    seed(f->s, "app2", 2, "000000002");
    mc_expect(f->s, "app1", CORE_ST_INIT, NULL);
    mc_expect(f->s, "app2", -1, NULL);     /* meeting 1 is app1's only */
    /* The writer's own change. */
    struct mc_probe p = {.app_id = "app1", .set_status = CORE_ST_STARTED};
    assert_int_equal(store_write(f->s, mc_job, &p), 0);
    assert_int_equal(p.reread_rc, STORE_OK);
    assert_int_equal(p.reread_status, CORE_ST_STARTED);
    mc_expect(f->s, "app1", CORE_ST_STARTED, NULL);
    /* A change read back, then rolled back with its job. */
    struct mc_probe undone = {.app_id = "app1", .set_status = CORE_ST_ENDED,
                             .fail = STORE_ROLLBACK};
    assert_int_equal(store_write(f->s, mc_job, &undone), STORE_ROLLBACK);
    assert_int_equal(undone.reread_status, CORE_ST_ENDED);
    mc_expect(f->s, "app1", CORE_ST_STARTED, NULL);
    /* Another connection's commit. */
    outside_exec(f->data, "UPDATE meetings SET subject = 'changed outside' WHERE meeting_id = 1");
    mc_expect(f->s, "app1", CORE_ST_STARTED, "changed outside");
    outside_exec(f->data, "UPDATE meetings SET status = 2 WHERE meeting_id = 1");
    mc_expect(f->s, "app1", CORE_ST_ENDED, NULL);
    /* The app deleted, and its meetings with it. */
    write_ok(f->s, app_delete_body, "app1");
    mc_expect(f->s, "app1", -1, NULL);
    /* The same id again, now another app's. */
    write_ok(f->s, mc_meeting_insert_body, "app2");
    mc_expect(f->s, "app1", -1, NULL);
    mc_expect(f->s, "app2", CORE_ST_INIT, NULL);
}

/* What the writer lists of an app's webhooks follows the database in
 * the same ways, though it remembers apps that have none. */
struct hooks_probe {
    const char *app_id;
    bool insert;               /* add one first */
    int64_t delete_id;         /* > 0: delete this one first */
    store_rc fail;             /* the job's return */
    int rc, listed;
    int64_t inserted_id;
};

static store_rc hooks_count_cb(const store_webhook *w, void *arg)
{
    (void)w;
    (*(int *)arg)++;
    return STORE_OK;
}

static store_rc hooks_job(store_tx *tx, void *arg)
{
    struct hooks_probe *p = arg;
    if (p->insert) {
        store_webhook w;
        memset(&w, 0, sizeof w);
        snprintf(w.app_id, sizeof w.app_id, "%s", p->app_id);
        snprintf(w.url, sizeof w.url, "https://example.com/hook");
        snprintf(w.token, sizeof w.token, "token");
        w.created_at = 1700000000000;
        if (store_webhook_insert(tx, &w) != STORE_OK)
            return STORE_ERROR;
        p->inserted_id = w.webhook_id;
    }
    if (p->delete_id > 0 && store_webhook_delete(tx, p->app_id, p->delete_id) != STORE_OK)
        return STORE_ERROR;
    p->listed = 0;
    p->rc = store_webhook_list(tx, p->app_id, hooks_count_cb, &p->listed);
    return p->fail;
}

static int hooks_listed(store *s, const char *app_id)
{
    struct hooks_probe p = {.app_id = app_id};
    assert_int_equal(store_write(s, hooks_job, &p), 0);
    assert_int_equal(p.rc, STORE_OK);
    return p.listed;
}

static void test_webhook_none_remembered(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    seed(f->s, "app2", 2, "000000002");
    assert_int_equal(hooks_listed(f->s, "app1"), 0);     /* remembered: none */
    assert_int_equal(hooks_listed(f->s, "app2"), 0);
    /* The writer adds one. */
    struct hooks_probe add = {.app_id = "app1", .insert = true};
    assert_int_equal(store_write(f->s, hooks_job, &add), 0);
    assert_int_equal(add.listed, 1);
    assert_int_equal(hooks_listed(f->s, "app1"), 1);
    assert_int_equal(hooks_listed(f->s, "app2"), 0);
    /* Deleted, listed as none inside the job, and rolled back with it. */
    struct hooks_probe undone = {.app_id = "app1", .delete_id = add.inserted_id,
                                 .fail = STORE_ROLLBACK};
    assert_int_equal(store_write(f->s, hooks_job, &undone), STORE_ROLLBACK);
    assert_int_equal(undone.listed, 0);
    assert_int_equal(hooks_listed(f->s, "app1"), 1);
    /* Another connection adds one to the app remembered as having none. */
    outside_exec(f->data, "INSERT INTO webhooks (app_id, url, token, created_at) "
                          "VALUES ('app2', 'https://example.com/x', 't', 1)");
    assert_int_equal(hooks_listed(f->s, "app2"), 1);
    /* The app deleted with its webhooks, then made again. */
    write_ok(f->s, app_delete_body, "app1");
    seed(f->s, "app1", 3, "000000003");
    assert_int_equal(hooks_listed(f->s, "app1"), 0);
    struct hooks_probe again = {.app_id = "app1", .insert = true};
    assert_int_equal(store_write(f->s, hooks_job, &again), 0);
    assert_int_equal(hooks_listed(f->s, "app1"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_migrate_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_tokens_by_number, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_session_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_ban_operator, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_presence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_durability, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_stamp_old_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_participants_walk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_participants_jumps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_participants_one_statement, setup, teardown),
        cmocka_unit_test_setup_teardown(test_participants_no_sort, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpointer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_restarts_under_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_pages_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meeting_copies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_none_remembered, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
