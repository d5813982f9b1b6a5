/* The SQLite store against its interface (store/store.h). Every test gets a
 * fresh directory from mkdtemp, removed at the end. */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "common/ids.h"
#include "store/sqlite_int.h"
#include "store/store.h"

/* ---- fixture ------------------------------------------------------------ */

#include "store_fixture.h"

#include <sched.h>
#include <time.h>

#include "common/metrics.h"

/* ---- builders ----------------------------------------------------------- */

static store_app mk_app(const char *app_id)
{
    store_app a;
    memset(&a, 0, sizeof a);
    snprintf(a.app_id, sizeof a.app_id, "%s", app_id);
    snprintf(a.sdk_id, sizeof a.sdk_id, "sdk-%s", app_id);
    snprintf(a.name, sizeof a.name, "App %s", app_id);
    a.created_at = 1700000000;
    return a;
}

static store_key mk_key(const char *secret_id, const char *app_id, int64_t created_at)
{
    store_key k;
    memset(&k, 0, sizeof k);
    snprintf(k.secret_id, sizeof k.secret_id, "%s", secret_id);
    snprintf(k.secret_key, sizeof k.secret_key, "sk-%s", secret_id);
    snprintf(k.app_id, sizeof k.app_id, "%s", app_id);
    k.created_at = created_at;
    return k;
}

static void mk_meeting(core_meeting *m, const char *app_id, int64_t id, const char *code)
{
    memset(m, 0, sizeof *m);
    m->meeting_id = id;
    snprintf(m->app_id, sizeof m->app_id, "%s", app_id);
    snprintf(m->meeting_code, sizeof m->meeting_code, "%s", code);
    snprintf(m->subject, sizeof m->subject, "Subject %" PRId64 " 会议", id);
    snprintf(m->creator_userid, sizeof m->creator_userid, "creator");
    m->creator_instanceid = 1;
    m->type = 0;
    m->meeting_type = 0;
    m->start_time = 1800000000;
    m->end_time = 1800003600;
    m->status = CORE_ST_INIT;
    m->created_at = 1700000000;
}

static core_user mk_user(const char *userid, const char *guest_id, const char *tag)
{
    core_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.userid, sizeof u.userid, "%s", userid);
    snprintf(u.guest_id, sizeof u.guest_id, "%s", guest_id);
    snprintf(u.uuid, sizeof u.uuid, "uuid-%s", tag);
    snprintf(u.ms_open_id, sizeof u.ms_open_id, "ms-%s", tag);
    snprintf(u.nick_name, sizeof u.nick_name, "Nick %s", tag);
    return u;
}

static core_device mk_device(int64_t meeting_id, int64_t sub, int64_t user_no, int instanceid,
                             int64_t join_time, unsigned token_seed)
{
    core_device d;
    memset(&d, 0, sizeof d);
    d.meeting_id = meeting_id;
    d.sub_meeting_id = sub;
    d.user_no = user_no;
    d.instanceid = instanceid;
    d.join_time = join_time;
    /* Distinct seeds give distinct tokens. */
    for (size_t i = 0; i < sizeof d.token_hash; i++)
        d.token_hash[i] = i < 4 ? (uint8_t)(token_seed >> (8 * i)) : (uint8_t)(i * 7u);
    return d;
}

/* A fresh app with one meeting (id, code) in one transaction. */
struct seed {
    const char *app_id;
    int64_t meeting_id;
    const char *code;
};

static void seed_body(store_tx *tx, void *arg)
{
    const struct seed *sd = arg;
    store_app a = mk_app(sd->app_id);
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
    core_meeting m;
    mk_meeting(&m, sd->app_id, sd->meeting_id, sd->code);
    assert_int_equal(store_meeting_insert(tx, &m), STORE_OK);
}

static void seed(store *s, const char *app_id, int64_t meeting_id, const char *code)
{
    struct seed sd = {app_id, meeting_id, code};
    write_ok(s, seed_body, &sd);
}

/* ---- migrations, files, durability ------------------------------------- */

static void app_exists_body(store_tx *tx, void *arg)
{
    store_app a;
    assert_int_equal(store_app_get(tx, (const char *)arg, &a), STORE_OK);
    assert_string_equal(a.app_id, (const char *)arg);
}

static void app_insert_body(store_tx *tx, void *arg)
{
    store_app a = mk_app((const char *)arg);
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
}

static int64_t raw_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static void app_delete_body(store_tx *tx, void *arg)
{
    assert_int_equal(store_app_delete(tx, (const char *)arg), STORE_OK);
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
    assert_int_equal(store_schema_migrate_to(db, version, &v), 0);
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
    assert_int_equal(store_schema_version(s), 9);
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
    assert_int_equal(store_schema_version(s), 9);
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

static int v5_see_ban(const core_ban *b, void *arg)
{
    struct v5_ban *v = arg;
    assert_true(v->n < 3);
    v->b[v->n++] = *b;
    return 0;
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
    assert_int_equal(store_schema_version(s), 9);
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

/* ---- apps and keys ------------------------------------------------------- */

static int collect_app(const store_app *a, void *arg)
{
    char *buf = arg;
    strcat(buf, a->app_id);
    strcat(buf, ",");
    return 0;
}

static int collect_key(const store_key *k, void *arg)
{
    char *buf = arg;
    strcat(buf, k->secret_id);
    strcat(buf, ",");
    return 0;
}

static int stop_at_first_app(const store_app *a, void *arg)
{
    (void)a;
    (*(int *)arg)++;
    return 42;
}

static void apps_keys_body(store_tx *tx, void *arg)
{
    (void)arg;
    store_app a = mk_app("app-b"), b = mk_app("app-a"), got;
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
    assert_int_equal(store_app_insert(tx, &b), STORE_OK);
    assert_int_equal(store_app_insert(tx, &a), STORE_CONFLICT);

    assert_int_equal(store_app_get(tx, "app-b", &got), STORE_OK);
    assert_string_equal(got.app_id, "app-b");
    assert_string_equal(got.sdk_id, "sdk-app-b");
    assert_string_equal(got.name, "App app-b");
    assert_int_equal(got.created_at, 1700000000);
    assert_int_equal(store_app_get(tx, "nope", &got), STORE_NOTFOUND);

    int64_t n = -1;
    assert_int_equal(store_app_count(tx, &n), STORE_OK);
    assert_int_equal(n, 2);
    char buf[256] = "";
    assert_int_equal(store_app_list(tx, collect_app, buf), STORE_OK);
    assert_string_equal(buf, "app-a,app-b,");
    int calls = 0;
    assert_int_equal(store_app_list(tx, stop_at_first_app, &calls), 42);
    assert_int_equal(calls, 1);

    store_key k1 = mk_key("AKID2", "app-b", 20), k2 = mk_key("AKID1", "app-b", 10),
              k3 = mk_key("AKID3", "app-a", 10), gk;
    assert_int_equal(store_key_insert(tx, &k1), STORE_OK);
    assert_int_equal(store_key_insert(tx, &k2), STORE_OK);
    assert_int_equal(store_key_insert(tx, &k3), STORE_OK);
    store_key dup = mk_key("AKID1", "app-a", 30);
    assert_int_equal(store_key_insert(tx, &dup), STORE_CONFLICT);

    memset(&got, 0, sizeof got);
    assert_int_equal(store_key_get(tx, "AKID2", &gk, &got), STORE_OK);
    assert_string_equal(gk.secret_id, "AKID2");
    assert_string_equal(gk.secret_key, "sk-AKID2");
    assert_string_equal(gk.app_id, "app-b");
    assert_int_equal(gk.created_at, 20);
    assert_string_equal(got.app_id, "app-b");
    assert_string_equal(got.sdk_id, "sdk-app-b");
    assert_int_equal(store_key_get(tx, "AKID9", &gk, NULL), STORE_NOTFOUND);

    buf[0] = '\0';
    assert_int_equal(store_key_list(tx, "app-b", collect_key, buf), STORE_OK);
    assert_string_equal(buf, "AKID1,AKID2,"); /* by created_at */

    assert_int_equal(store_key_delete_all(tx, "app-b"), STORE_OK);
    buf[0] = '\0';
    assert_int_equal(store_key_list(tx, "app-b", collect_key, buf), STORE_OK);
    assert_string_equal(buf, "");
    assert_int_equal(store_key_get(tx, "AKID3", &gk, NULL), STORE_OK);

    /* Deleting an app takes its keys along. */
    assert_int_equal(store_app_delete(tx, "app-a"), STORE_OK);
    assert_int_equal(store_key_get(tx, "AKID3", &gk, NULL), STORE_NOTFOUND);
    assert_int_equal(store_app_delete(tx, "app-a"), STORE_NOTFOUND);
    assert_int_equal(store_app_count(tx, &n), STORE_OK);
    assert_int_equal(n, 1);
}

static void test_apps_keys(void **state)
{
    fixture *f = *state;
    write_ok(f->s, apps_keys_body, NULL);
}

/* Everything an app can own, in one meeting; and a second app's meeting
 * that must survive the first app's deletion. */
static void cascade_fill_body(store_tx *tx, void *arg)
{
    (void)arg;
    store_app a1 = mk_app("app1"), a2 = mk_app("app2");
    assert_int_equal(store_app_insert(tx, &a1), STORE_OK);
    assert_int_equal(store_app_insert(tx, &a2), STORE_OK);
    store_key k = mk_key("AKID1", "app1", 1);
    assert_int_equal(store_key_insert(tx, &k), STORE_OK);

    static core_meeting m;
    mk_meeting(&m, "app1", 11, "111111111");
    m.meeting_type = 1;
    m.n_hosts = 2;
    snprintf(m.hosts[0], sizeof m.hosts[0], "h1");
    snprintf(m.hosts[1], sizeof m.hosts[1], "h2");
    m.n_occ = 3;
    for (int i = 0; i < 3; i++)
        m.occ[i] = (core_occurrence){.sub_meeting_id = 1800000000 + i * 86400,
                                     .start_time = 1800000000 + i * 86400,
                                     .end_time = 1800003600 + i * 86400};
    assert_int_equal(store_meeting_insert(tx, &m), STORE_OK);
    core_user u = mk_user("alice", "", "a");
    assert_int_equal(store_user_insert(tx, 11, &u), STORE_OK);
    core_device d = mk_device(11, 1800000000, u.user_no, 1, 100, 1);
    assert_int_equal(store_device_insert(tx, &d), STORE_OK);
    core_ban b = {.meeting_id = 11, .user = u, .banned_at = 5};
    assert_int_equal(store_ban_put(tx, &b), STORE_OK);
    core_audit au = {.meeting_id = 11, .time = 5, .action = "kickout"};
    assert_int_equal(store_audit_insert(tx, &au), STORE_OK);

    mk_meeting(&m, "app2", 22, "222222222");
    assert_int_equal(store_meeting_insert(tx, &m), STORE_OK);
    core_user u2 = mk_user("bob", "", "b");
    assert_int_equal(store_user_insert(tx, 22, &u2), STORE_OK);
    core_device d2 = mk_device(22, 0, u2.user_no, 2, 100, 2);
    assert_int_equal(store_device_insert(tx, &d2), STORE_OK);
}

static void cascade_delete_body(store_tx *tx, void *arg)
{
    (void)arg;
    assert_int_equal(store_app_delete(tx, "app1"), STORE_OK);
    static core_meeting m;
    core_user u;
    core_device d;
    assert_int_equal(store_meeting_get(tx, "app1", 11, &m), STORE_NOTFOUND);
    assert_int_equal(store_user_get(tx, 11, CORE_ID_USERID, "alice", &u), STORE_NOTFOUND);
    const core_device probe = mk_device(0, 0, 0, 0, 0, 1);
    assert_int_equal(store_device_get(tx, 1, &d), STORE_NOTFOUND);
    assert_int_equal(store_device_by_token(tx, 1, probe.token_hash, &d), STORE_NOTFOUND);
    assert_int_equal(store_meeting_get(tx, "app2", 22, &m), STORE_OK);
}

static void test_app_delete_cascade(void **state)
{
    fixture *f = *state;
    write_ok(f->s, cascade_fill_body, NULL);
    write_ok(f->s, cascade_delete_body, NULL);
    static const struct {
        const char *table;
        int64_t rows;
    } left[] = {
        {"apps", 1},        {"app_keys", 0}, {"meetings", 1}, {"meeting_hosts", 0},
        {"occurrences", 0}, {"users", 1},    {"devices", 1},  {"bans", 0},
        {"audit", 0},
    };
    for (size_t i = 0; i < sizeof left / sizeof left[0]; i++) {
        int64_t n = raw_count(f->data, left[i].table);
        if (n != left[i].rows)
            fail_msg("%s: %" PRId64 " rows, want %" PRId64, left[i].table, n, left[i].rows);
    }
}

/* ---- meetings ------------------------------------------------------------ */

static void conflicts_body(store_tx *tx, void *arg)
{
    (void)arg;
    store_app a = mk_app("app1");
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
    static core_meeting m;
    mk_meeting(&m, "app1", 100, "100000000");
    assert_int_equal(store_meeting_insert(tx, &m), STORE_OK);
    mk_meeting(&m, "app1", 100, "100000001");
    assert_int_equal(store_meeting_insert(tx, &m), STORE_CONFLICT); /* meeting_id */
    mk_meeting(&m, "app1", 101, "100000000");
    assert_int_equal(store_meeting_insert(tx, &m), STORE_CONFLICT); /* meeting_code */
    /* The caller draws again, in the same transaction. */
    mk_meeting(&m, "app1", 101, "100000001");
    assert_int_equal(store_meeting_insert(tx, &m), STORE_OK);

    core_user u1 = mk_user("alice", "", "1");
    assert_int_equal(store_user_insert(tx, 100, &u1), STORE_OK);
    core_user u = mk_user("", "g1", "1"); /* same uuid and ms_open_id */
    assert_int_equal(store_user_insert(tx, 100, &u), STORE_CONFLICT);
    u = mk_user("", "g1", "2");
    snprintf(u.uuid, sizeof u.uuid, "uuid-1"); /* uuid only */
    assert_int_equal(store_user_insert(tx, 100, &u), STORE_CONFLICT);
    u = mk_user("", "g1", "2");
    snprintf(u.ms_open_id, sizeof u.ms_open_id, "ms-1"); /* ms_open_id only */
    assert_int_equal(store_user_insert(tx, 100, &u), STORE_CONFLICT);
    u = mk_user("alice", "", "2"); /* userid */
    assert_int_equal(store_user_insert(tx, 100, &u), STORE_CONFLICT);
    u = mk_user("", "g1", "2");
    assert_int_equal(store_user_insert(tx, 100, &u), STORE_OK);
    u = mk_user("", "g1", "3"); /* guest_id */
    assert_int_equal(store_user_insert(tx, 100, &u), STORE_CONFLICT);
    /* Empty userid / guest_id are not keys: many users may lack one. */
    u = mk_user("", "g2", "3");
    assert_int_equal(store_user_insert(tx, 100, &u), STORE_OK);
    u = mk_user("bob", "", "4");
    assert_int_equal(store_user_insert(tx, 100, &u), STORE_OK);
    /* The same identities in another meeting are someone else. */
    u = u1;
    u.user_no = 0;
    assert_int_equal(store_user_insert(tx, 101, &u), STORE_OK);
    assert_true(u.user_no != u1.user_no);
}

static void conflicts_check_body(store_tx *tx, void *arg)
{
    (void)arg;
    static core_meeting m;
    assert_int_equal(store_meeting_get(tx, "app1", 101, &m), STORE_OK);
    assert_string_equal(m.meeting_code, "100000001");
}

static void test_conflicts(void **state)
{
    fixture *f = *state;
    write_ok(f->s, conflicts_body, NULL);
    read_ok(f->s, conflicts_check_body, NULL);
}

static void fill_recurring(core_meeting *m)
{
    mk_meeting(m, "app1", 7000000000000000001LL, "987654321");
    m->type = 0;
    m->meeting_type = 1;
    m->creator_instanceid = 4;
    m->rule = (core_recurring_rule){.recurring_type = 2, .until_type = 1, .until_count = 200,
                                    .until_date = 1900000000};
    m->n_hosts = 3;
    for (int i = 0; i < 3; i++)
        snprintf(m->hosts[i], sizeof m->hosts[i], "host-%d", 3 - i); /* order kept */
    m->n_occ = CORE_OCC_MAX;
    for (int i = 0; i < CORE_OCC_MAX; i++) {
        int64_t t = 1800000000 + (int64_t)i * 7 * 86400;
        m->occ[i] = (core_occurrence){t, t, t + 3600, i % 4};
    }
}

static void assert_meeting_equal(const core_meeting *a, const core_meeting *b)
{
    assert_int_equal(a->meeting_id, b->meeting_id);
    assert_string_equal(a->app_id, b->app_id);
    assert_string_equal(a->meeting_code, b->meeting_code);
    assert_string_equal(a->subject, b->subject);
    assert_string_equal(a->creator_userid, b->creator_userid);
    assert_int_equal(a->creator_instanceid, b->creator_instanceid);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->meeting_type, b->meeting_type);
    assert_int_equal(a->start_time, b->start_time);
    assert_int_equal(a->end_time, b->end_time);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->rule.recurring_type, b->rule.recurring_type);
    assert_int_equal(a->rule.until_type, b->rule.until_type);
    assert_int_equal(a->rule.until_count, b->rule.until_count);
    assert_int_equal(a->rule.until_date, b->rule.until_date);
    assert_int_equal(a->created_at, b->created_at);
    assert_int_equal(a->n_hosts, b->n_hosts);
    for (int i = 0; i < a->n_hosts; i++)
        assert_string_equal(a->hosts[i], b->hosts[i]);
    assert_int_equal(a->n_occ, b->n_occ);
    for (int i = 0; i < a->n_occ; i++) {
        assert_int_equal(a->occ[i].sub_meeting_id, b->occ[i].sub_meeting_id);
        assert_int_equal(a->occ[i].start_time, b->occ[i].start_time);
        assert_int_equal(a->occ[i].end_time, b->occ[i].end_time);
        assert_int_equal(a->occ[i].status, b->occ[i].status);
    }
}

struct two_meetings {
    core_meeting want, got;
};

static void roundtrip_insert_body(store_tx *tx, void *arg)
{
    struct two_meetings *t = arg;
    store_app a = mk_app("app1"), b = mk_app("app2");
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
    assert_int_equal(store_app_insert(tx, &b), STORE_OK);
    fill_recurring(&t->want);
    assert_int_equal(store_meeting_insert(tx, &t->want), STORE_OK);
    /* A one-off meeting: no hosts, no occurrences. */
    mk_meeting(&t->got, "app2", 5, "555555555");
    t->got.type = 1;
    assert_int_equal(store_meeting_insert(tx, &t->got), STORE_OK);
}

static void roundtrip_get_body(store_tx *tx, void *arg)
{
    struct two_meetings *t = arg;
    assert_int_equal(store_meeting_get(tx, "app1", t->want.meeting_id, &t->got), STORE_OK);
    assert_meeting_equal(&t->want, &t->got);
    /* Another app's meeting does not exist for this app. */
    assert_int_equal(store_meeting_get(tx, "app2", t->want.meeting_id, &t->got),
                     STORE_NOTFOUND);
    assert_int_equal(store_meeting_get(tx, "app1", 5, &t->got), STORE_NOTFOUND);
    assert_int_equal(store_meeting_get(tx, "app1", 6, &t->got), STORE_NOTFOUND);
    assert_int_equal(store_meeting_get(tx, "app2", 5, &t->got), STORE_OK);
    assert_int_equal(t->got.type, 1);
    char app[CORE_APPID_MAX + 1];
    assert_int_equal(store_meeting_app(tx, t->want.meeting_id, app), STORE_OK);
    assert_string_equal(app, "app1");
    assert_int_equal(store_meeting_app(tx, 5, app), STORE_OK);
    assert_string_equal(app, "app2");
    assert_int_equal(store_meeting_app(tx, 6, app), STORE_NOTFOUND);
    assert_int_equal(t->got.n_hosts, 0);
    assert_int_equal(t->got.n_occ, 0);
}

static void roundtrip_update_body(store_tx *tx, void *arg)
{
    struct two_meetings *t = arg;
    t->want.status = CORE_ST_CANCELLED;
    t->want.occ[0].status = CORE_ST_ENDED;
    t->want.occ[1].status = CORE_ST_STARTED;
    t->want.occ[199].status = CORE_ST_CANCELLED;
    assert_int_equal(store_meeting_update_status(tx, &t->want), STORE_OK);
    /* Scoped to the app like every other meeting access. */
    core_meeting *other = &t->got;
    *other = t->want;
    snprintf(other->app_id, sizeof other->app_id, "app2");
    assert_int_equal(store_meeting_update_status(tx, other), STORE_NOTFOUND);
    other->meeting_id = 999;
    snprintf(other->app_id, sizeof other->app_id, "app1");
    assert_int_equal(store_meeting_update_status(tx, other), STORE_NOTFOUND);
}

/* A modify writes the meeting's fields, hosts and occurrences as given:
 * fewer hosts, fewer and moved occurrences, a new rule. */
static void roundtrip_modify_body(store_tx *tx, void *arg)
{
    struct two_meetings *t = arg;
    core_meeting *other = &t->got;
    t->want.status = CORE_ST_INIT;
    snprintf(t->want.subject, sizeof t->want.subject, "modified");
    t->want.start_time += 3600;
    t->want.end_time += 7200;
    t->want.rule.recurring_type = 2;
    t->want.rule.until_count = 3;
    t->want.n_hosts = 1;
    snprintf(t->want.hosts[0], sizeof t->want.hosts[0], "zed");
    t->want.n_occ = 3;
    t->want.occ[2].sub_meeting_id += 60;
    t->want.occ[2].start_time += 60;
    assert_int_equal(store_meeting_update(tx, &t->want), STORE_OK);
    *other = t->want;
    snprintf(other->app_id, sizeof other->app_id, "app2");
    assert_int_equal(store_meeting_update(tx, other), STORE_NOTFOUND);
}

static void test_meeting_roundtrip(void **state)
{
    fixture *f = *state;
    struct two_meetings *t = calloc(1, sizeof *t);
    assert_non_null(t);
    write_ok(f->s, roundtrip_insert_body, t);
    read_ok(f->s, roundtrip_get_body, t);
    write_ok(f->s, roundtrip_update_body, t);
    read_ok(f->s, roundtrip_get_body, t);
    write_ok(f->s, roundtrip_modify_body, t);
    read_ok(f->s, roundtrip_get_body, t);
    free(t);
}

/* ---- a user's meetings, by code ----------------------------------------- */

struct user_page {
    int64_t ids[32];
    int n;
    int64_t remaining, next_from, next_skip;
};

static int user_page_id(int64_t id, void *arg)
{
    struct user_page *p = arg;
    p->ids[p->n++] = id;
    return 0;
}

static void user_page(store_tx *tx, const char *userid, int64_t from, int64_t skip, int limit,
                      struct user_page *p)
{
    memset(p, 0, sizeof *p);
    assert_int_equal(store_meetings_of_user(tx, "app1", userid, from, skip, limit, user_page_id,
                                            p, &p->remaining, &p->next_from, &p->next_skip),
                     STORE_OK);
}

static void user_meetings_body(store_tx *tx, void *arg)
{
    (void)arg;
    store_app a = mk_app("app1"), b = mk_app("app2");
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
    assert_int_equal(store_app_insert(tx, &b), STORE_OK);
    static core_meeting m;
    /* u's: 1 (t=100), 2 and 3 (t=200), 4 hosted (t=150), 5 ended, 6 cancelled,
     * 7 a series with an occurrence left, 8 a series with none left; 9 is
     * another app's, 10 another user's. */
    struct { int64_t id; const char *app, *creator; int64_t start; int status; bool host; } rows[] = {
        {1, "app1", "u", 100, CORE_ST_INIT, false},    {2, "app1", "u", 200, CORE_ST_STARTED, false},
        {3, "app1", "u", 200, CORE_ST_INIT, false},    {4, "app1", "x", 150, CORE_ST_INIT, true},
        {5, "app1", "u", 120, CORE_ST_ENDED, false},   {6, "app1", "u", 130, CORE_ST_CANCELLED, false},
        {9, "app2", "u", 100, CORE_ST_INIT, false},    {10, "app1", "v", 100, CORE_ST_INIT, false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char code[10];
        snprintf(code, sizeof code, "%09d", (int)rows[i].id);
        mk_meeting(&m, rows[i].app, rows[i].id, code);
        snprintf(m.creator_userid, sizeof m.creator_userid, "%s", rows[i].creator);
        m.start_time = rows[i].start;
        m.end_time = rows[i].start + 60;
        m.status = rows[i].status;
        if (rows[i].host) {
            m.n_hosts = 1;
            snprintf(m.hosts[0], sizeof m.hosts[0], "u");
        }
        assert_int_equal(store_meeting_insert(tx, &m), STORE_OK);
    }
    for (int k = 0; k < 2; k++) {
        mk_meeting(&m, "app1", 7 + k, k ? "000000008" : "000000007");
        snprintf(m.creator_userid, sizeof m.creator_userid, "u");
        m.meeting_type = 1;
        m.start_time = 300;
        m.end_time = 360;
        m.n_occ = 2;
        for (int i = 0; i < 2; i++)
            m.occ[i] = (core_occurrence){.sub_meeting_id = 300 + i, .start_time = 300 + i,
                                         .end_time = 360 + i,
                                         .status = k || i == 0 ? CORE_ST_ENDED : CORE_ST_INIT};
        assert_int_equal(store_meeting_insert(tx, &m), STORE_OK);
    }

    struct user_page p;
    user_page(tx, "u", 0, 0, 20, &p);
    assert_int_equal(p.n, 5);
    int64_t all[] = {1, 4, 2, 3, 7};
    assert_memory_equal(p.ids, all, sizeof all);
    assert_true(p.remaining == 0);
    /* Pages of two: the boundary falls inside the two meetings at 200. */
    user_page(tx, "u", 0, 0, 2, &p);
    assert_int_equal(p.n, 2);
    assert_true(p.ids[0] == 1 && p.ids[1] == 4);
    assert_true(p.remaining == 3 && p.next_from == 200 && p.next_skip == 0);
    user_page(tx, "u", 200, 0, 1, &p);
    assert_true(p.n == 1 && p.ids[0] == 2);
    assert_true(p.remaining == 2 && p.next_from == 200 && p.next_skip == 1);
    user_page(tx, "u", 200, 1, 1, &p);
    assert_true(p.n == 1 && p.ids[0] == 3);
    assert_true(p.remaining == 1 && p.next_from == 300 && p.next_skip == 0);
    user_page(tx, "u", 300, 0, 1, &p);
    assert_true(p.n == 1 && p.ids[0] == 7 && p.remaining == 0);
    /* A skip past what starts at `from` skips those only. */
    user_page(tx, "u", 200, 5, 20, &p);
    assert_true(p.n == 1 && p.ids[0] == 7);
    user_page(tx, "nobody", 0, 0, 20, &p);
    assert_true(p.n == 0 && p.remaining == 0);

    int64_t id;
    char app[CORE_APPID_MAX + 1];
    assert_int_equal(store_meeting_by_code(tx, "000000009", &id, app), STORE_OK);
    assert_true(id == 9);
    assert_string_equal(app, "app2");
    assert_int_equal(store_meeting_by_code(tx, "000000011", &id, app), STORE_NOTFOUND);
}

static void test_meetings_of_user(void **state)
{
    fixture *f = *state;
    write_ok(f->s, user_meetings_body, NULL);
}

static void atomic_insert_body(store_tx *tx, void *arg)
{
    core_meeting *m = arg;
    store_app a = mk_app("app1");
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
    fill_recurring(m);
    m->occ[150].sub_meeting_id = m->occ[149].sub_meeting_id; /* duplicate key */
    assert_int_equal(store_meeting_insert(tx, m), STORE_CONFLICT);
    /* Nothing of the failed insert remains, so the retry can succeed. */
    assert_int_equal(store_meeting_get(tx, "app1", m->meeting_id, m), STORE_NOTFOUND);
    fill_recurring(m);
    assert_int_equal(store_meeting_insert(tx, m), STORE_OK);
}

static void test_meeting_insert_atomic(void **state)
{
    fixture *f = *state;
    core_meeting *m = calloc(1, sizeof *m);
    assert_non_null(m);
    write_ok(f->s, atomic_insert_body, m);
    assert_int_equal(raw_count(f->data, "occurrences"), CORE_OCC_MAX);
    assert_int_equal(raw_count(f->data, "meeting_hosts"), 3);
    free(m);
}

/* ---- transactions ---------------------------------------------------------- */

static int insert_then_fail(store_tx *tx, void *arg)
{
    store_app a = mk_app("doomed");
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
    return *(int *)arg;
}

static int ignore_error(store_tx *tx, void *arg)
{
    (void)arg;
    static core_meeting m;
    mk_meeting(&m, "no-such-app", 1, "123456789");
    assert_int_equal(store_meeting_insert(tx, &m), STORE_ERROR); /* foreign key */
    store_app a = mk_app("doomed");
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
    return 0; /* wrongly: the store must still roll back */
}

static int count_apps(store_tx *tx, void *arg)
{
    return store_app_count(tx, (int64_t *)arg);
}

static void test_rollback(void **state)
{
    fixture *f = *state;
    int64_t n = -1;
    int codes[] = {7, -5, STORE_NOTFOUND, STORE_CONFLICT, STORE_ERROR};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        assert_int_equal(store_write(f->s, insert_then_fail, &codes[i]), codes[i]);
        assert_int_equal(store_read(f->s, count_apps, &n), 0);
        assert_int_equal(n, 0);
    }
    assert_int_equal(store_write(f->s, ignore_error, NULL), -1);
    assert_int_equal(store_read(f->s, count_apps, &n), 0);
    assert_int_equal(n, 0);
    assert_int_equal(raw_count(f->data, "apps"), 0);
    /* And the connection is fine afterwards. */
    write_ok(f->s, app_insert_body, "kept");
    assert_int_equal(store_read(f->s, count_apps, &n), 0);
    assert_int_equal(n, 1);
}

static int write_in_read(store_tx *tx, void *arg)
{
    (void)arg;
    store_app a = mk_app("sneaky");
    assert_int_equal(store_app_insert(tx, &a), STORE_ERROR);
    return 0;
}

static int read_returns(store_tx *tx, void *arg)
{
    (void)tx;
    return *(int *)arg;
}

static void test_read_only(void **state)
{
    fixture *f = *state;
    assert_int_equal(store_read(f->s, write_in_read, NULL), -1);
    int five = 5;
    assert_int_equal(store_read(f->s, read_returns, &five), 5);
    int64_t n = -1;
    assert_int_equal(store_read(f->s, count_apps, &n), 0);
    assert_int_equal(n, 0);
}

/* ---- users ------------------------------------------------------------------ */

static int collect_cohost(const core_user *u, void *arg)
{
    int64_t *nos = arg;
    nos[++nos[0]] = u->user_no;
    return 0;
}

static void users_body(store_tx *tx, void *arg)
{
    (void)arg;
    core_user ent = mk_user("alice", "", "a"), guest = mk_user("", "visitor-1", "g"), got;
    ent.cohost = true;
    assert_int_equal(store_user_insert(tx, 1, &ent), STORE_OK);
    assert_int_equal(store_user_insert(tx, 1, &guest), STORE_OK);
    assert_true(ent.user_no > 0 && guest.user_no > 0 && ent.user_no != guest.user_no);

    assert_int_equal(store_user_get(tx, 1, CORE_ID_USERID, "alice", &got), STORE_OK);
    assert_int_equal(got.user_no, ent.user_no);
    assert_string_equal(got.uuid, "uuid-a");
    assert_string_equal(got.ms_open_id, "ms-a");
    assert_string_equal(got.nick_name, "Nick a");
    assert_string_equal(got.guest_id, "");
    assert_true(got.cohost);
    assert_int_equal(store_user_get(tx, 1, CORE_ID_UUID, "uuid-a", &got), STORE_OK);
    assert_int_equal(got.user_no, ent.user_no);
    assert_int_equal(store_user_get(tx, 1, CORE_ID_MS_OPEN_ID, "ms-a", &got), STORE_OK);
    assert_int_equal(got.user_no, ent.user_no);
    assert_int_equal(store_user_get(tx, 1, CORE_ID_GUEST, "visitor-1", &got), STORE_OK);
    assert_int_equal(got.user_no, guest.user_no);
    assert_string_equal(got.userid, "");
    assert_false(got.cohost);
    assert_int_equal(store_user_get(tx, 1, CORE_ID_UUID, "uuid-g", &got), STORE_OK);
    assert_int_equal(got.user_no, guest.user_no);
    assert_int_equal(store_user_get(tx, 1, CORE_ID_MS_OPEN_ID, "ms-g", &got), STORE_OK);
    assert_int_equal(got.user_no, guest.user_no);

    /* Misses: wrong kind, other meeting, empty value, openid. */
    assert_int_equal(store_user_get(tx, 1, CORE_ID_GUEST, "alice", &got), STORE_NOTFOUND);
    assert_int_equal(store_user_get(tx, 1, CORE_ID_MS_OPEN_ID, "uuid-a", &got), STORE_NOTFOUND);
    assert_int_equal(store_user_get(tx, 2, CORE_ID_USERID, "alice", &got), STORE_NOTFOUND);
    assert_int_equal(store_user_get(tx, 1, CORE_ID_USERID, "", &got), STORE_NOTFOUND);
    assert_int_equal(store_user_get(tx, 1, CORE_ID_GUEST, "", &got), STORE_NOTFOUND);
    assert_int_equal(store_user_get(tx, 1, CORE_ID_OPENID, "alice", &got), STORE_NOTFOUND);

    int64_t cohosts[4] = {0};
    assert_int_equal(store_cohosts_list(tx, 1, collect_cohost, cohosts), STORE_OK);
    assert_int_equal(cohosts[0], 1);
    assert_int_equal(cohosts[1], ent.user_no);

    assert_int_equal(store_user_set_cohost(tx, 1, guest.user_no, true), STORE_OK);
    assert_int_equal(store_user_set_cohost(tx, 1, ent.user_no, false), STORE_OK);
    memset(cohosts, 0, sizeof cohosts);
    assert_int_equal(store_cohosts_list(tx, 1, collect_cohost, cohosts), STORE_OK);
    assert_int_equal(cohosts[0], 1);
    assert_int_equal(cohosts[1], guest.user_no);
    memset(cohosts, 0, sizeof cohosts);
    assert_int_equal(store_cohosts_list(tx, 2, collect_cohost, cohosts), STORE_OK);
    assert_int_equal(cohosts[0], 0);
    assert_int_equal(store_user_set_nick(tx, 1, guest.user_no, "新名字"), STORE_OK);
    assert_int_equal(store_user_set_cohost(tx, 2, guest.user_no, true), STORE_NOTFOUND);
    assert_int_equal(store_user_set_nick(tx, 1, 424242, "x"), STORE_NOTFOUND);
    assert_int_equal(store_user_get(tx, 1, CORE_ID_UUID, "uuid-g", &got), STORE_OK);
    assert_true(got.cohost);
    assert_string_equal(got.nick_name, "新名字");
    assert_int_equal(store_user_get(tx, 1, CORE_ID_UUID, "uuid-a", &got), STORE_OK);
    assert_false(got.cohost);
}

static void test_users(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    seed(f->s, "app2", 2, "000000002");
    write_ok(f->s, users_body, NULL);
}

/* ---- devices ------------------------------------------------------------------ */

static void devices_body(store_tx *tx, void *arg)
{
    (void)arg;
    core_user u = mk_user("alice", "", "a"), v = mk_user("bob", "", "b");
    assert_int_equal(store_user_insert(tx, 1, &u), STORE_OK);
    assert_int_equal(store_user_insert(tx, 1, &v), STORE_OK);

    uint64_t mask = 99;
    assert_int_equal(store_user_presence(tx, 1, u.user_no, &mask), STORE_OK);
    assert_int_equal(mask, 0);

    core_device pc = mk_device(1, 0, u.user_no, 1, 100, 10);
    core_device ios = mk_device(1, 0, u.user_no, 4, 101, 11);
    core_device mra = mk_device(1, 0, u.user_no, 9, 102, 12);
    assert_int_equal(store_device_insert(tx, &pc), STORE_OK);
    assert_int_equal(store_device_insert(tx, &ios), STORE_OK);
    assert_int_equal(store_device_insert(tx, &mra), STORE_OK);
    assert_true(pc.device_no > 0 && ios.device_no > pc.device_no && mra.device_no > ios.device_no);
    assert_int_equal(store_user_presence(tx, 1, u.user_no, &mask), STORE_OK);
    assert_int_equal(mask, (1u << 1) | (1u << 4) | (1u << 9));
    assert_int_equal(store_user_presence(tx, 1, v.user_no, &mask), STORE_OK);
    assert_int_equal(mask, 0);

    /* One present session per (user, instanceid); another user may. */
    core_device again = mk_device(1, 0, u.user_no, 1, 103, 13);
    assert_int_equal(store_device_insert(tx, &again), STORE_CONFLICT);
    core_device other = mk_device(1, 0, v.user_no, 1, 103, 13);
    assert_int_equal(store_device_insert(tx, &other), STORE_OK);

    core_device got;
    assert_int_equal(store_device_present(tx, 1, u.user_no, 4, &got), STORE_OK);
    assert_int_equal(got.device_no, ios.device_no);
    assert_int_equal(got.meeting_id, 1);
    assert_int_equal(got.user_no, u.user_no);
    assert_int_equal(got.instanceid, 4);
    assert_int_equal(got.join_time, 101);
    assert_int_equal(got.left_time, 0);
    assert_int_equal(got.left_reason, CORE_LEFT_NONE);
    assert_memory_equal(got.token_hash, ios.token_hash, 32);
    assert_int_equal(store_device_present(tx, 1, u.user_no, 2, &got), STORE_NOTFOUND);
    assert_int_equal(store_device_present(tx, 2, u.user_no, 4, &got), STORE_NOTFOUND);

    assert_int_equal(store_device_by_token(tx, ios.device_no, ios.token_hash, &got), STORE_OK);
    assert_int_equal(got.device_no, ios.device_no);
    /* The number and the secret must both match; number 0 asks the legacy
     * table, which a new database has empty. */
    assert_int_equal(store_device_by_token(tx, ios.device_no, pc.token_hash, &got),
                     STORE_NOTFOUND);
    assert_int_equal(store_device_by_token(tx, pc.device_no, ios.token_hash, &got),
                     STORE_NOTFOUND);
    assert_int_equal(store_device_by_token(tx, 0, ios.token_hash, &got), STORE_NOTFOUND);
    assert_int_equal(store_device_by_token(tx, 987654, ios.token_hash, &got), STORE_NOTFOUND);

    /* Ending: once. Then the token is dead and the slot free again. */
    assert_int_equal(store_device_end(tx, ios.device_no, 200, CORE_LEFT_KICKED), STORE_OK);
    assert_int_equal(store_device_end(tx, ios.device_no, 201, CORE_LEFT_LEAVE), STORE_NOTFOUND);
    assert_int_equal(store_device_end(tx, 987654, 201, CORE_LEFT_LEAVE), STORE_NOTFOUND);
    assert_int_equal(store_device_by_token(tx, ios.device_no, ios.token_hash, &got),
                     STORE_NOTFOUND);
    assert_int_equal(store_device_present(tx, 1, u.user_no, 4, &got), STORE_NOTFOUND);
    /* By row id an ended session is still there, with how it ended. */
    assert_int_equal(store_device_get(tx, ios.device_no, &got), STORE_OK);
    assert_int_equal(got.left_time, 200);
    assert_int_equal(got.left_reason, CORE_LEFT_KICKED);
    assert_int_equal(store_device_get(tx, 987654, &got), STORE_NOTFOUND);
    core_user who;
    assert_int_equal(store_user_by_no(tx, got.user_no, &who), STORE_OK);
    assert_string_equal(who.userid, "alice");
    assert_int_equal(store_user_by_no(tx, 987654, &who), STORE_NOTFOUND);
    assert_int_equal(store_user_presence(tx, 1, u.user_no, &mask), STORE_OK);
    assert_int_equal(mask, (1u << 1) | (1u << 9));

    /* A re-join is a new session: the old token stays dead. */
    core_device rejoin = mk_device(1, 0, u.user_no, 4, 300, 11);
    assert_int_equal(store_device_insert(tx, &rejoin), STORE_OK);
    assert_true(rejoin.device_no > other.device_no);
    assert_int_equal(store_device_by_token(tx, rejoin.device_no, ios.token_hash, &got), STORE_OK);
    assert_int_equal(got.device_no, rejoin.device_no);
    assert_int_equal(store_device_by_token(tx, ios.device_no, ios.token_hash, &got),
                     STORE_NOTFOUND);
}

struct seen {
    int n;
    int64_t device_no[16];
    int stop_after; /* 0: never */
};

static int see_device(const core_device *d, void *arg)
{
    struct seen *s = arg;
    assert_int_equal(d->left_time, 0);
    assert_int_equal(d->left_reason, CORE_LEFT_NONE);
    assert_true(s->n < 16);
    s->device_no[s->n++] = d->device_no;
    return s->stop_after != 0 && s->n == s->stop_after ? 77 : 0;
}

static int see_participant_left(const core_device *d, const core_user *u, void *arg)
{
    (void)u;
    int *ended = arg;
    if (d->left_time == 500) {
        assert_int_equal(d->left_reason, CORE_LEFT_ENDED);
        (*ended)++;
    }
    return 0;
}

static void end_all_body(store_tx *tx, void *arg)
{
    (void)arg;
    int64_t no[4];
    for (int i = 0; i < 4; i++) {
        char tag[8];
        snprintf(tag, sizeof tag, "u%d", i);
        core_user u = mk_user("", tag, tag);
        assert_int_equal(store_user_insert(tx, 1, &u), STORE_OK);
        core_device d = mk_device(1, 0, u.user_no, 1 + i, 100 + i, 20 + (unsigned)i);
        assert_int_equal(store_device_insert(tx, &d), STORE_OK);
        no[i] = d.device_no;
    }
    assert_int_equal(store_device_end(tx, no[2], 150, CORE_LEFT_LEAVE), STORE_OK);
    /* A device of another meeting stays. */
    core_user w = mk_user("", "w", "w");
    assert_int_equal(store_user_insert(tx, 2, &w), STORE_OK);
    core_device dw = mk_device(2, 0, w.user_no, 1, 100, 99);
    assert_int_equal(store_device_insert(tx, &dw), STORE_OK);

    /* A callback that stops: its value comes back, nothing is ended. */
    struct seen s = {.stop_after = 2};
    assert_int_equal(store_devices_end_all(tx, 1, 500, CORE_LEFT_ENDED, see_device, &s), 77);
    assert_int_equal(s.n, 2);
    core_device got;
    assert_int_equal(store_device_present(tx, 1, 0, 0, &got), STORE_NOTFOUND);
    assert_int_equal(store_device_by_token(tx, no[0], mk_device(0, 0, 0, 0, 0, 20).token_hash,
                                           &got),
                     STORE_OK);

    memset(&s, 0, sizeof s);
    assert_int_equal(store_devices_end_all(tx, 1, 500, CORE_LEFT_ENDED, see_device, &s), STORE_OK);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.device_no[0], no[0]);
    assert_int_equal(s.device_no[1], no[1]);
    assert_int_equal(s.device_no[2], no[3]);
    int ended = 0;
    int64_t total = 0;
    assert_int_equal(store_participants_list(tx, 1, -1, 0, 100, see_participant_left, &ended,
                                             &total),
                     STORE_OK);
    assert_int_equal(total, 4);
    assert_int_equal(ended, 3); /* the one that left earlier keeps its own time */

    memset(&s, 0, sizeof s);
    assert_int_equal(store_devices_end_all(tx, 1, 600, CORE_LEFT_ENDED, see_device, &s), STORE_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(store_device_by_token(tx, dw.device_no, dw.token_hash, &got), STORE_OK);
    assert_int_equal(store_devices_end_all(tx, 2, 600, CORE_LEFT_ENDED, NULL, NULL), STORE_OK);
    assert_int_equal(store_device_by_token(tx, dw.device_no, dw.token_hash, &got),
                     STORE_NOTFOUND);
}

static void test_devices(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    seed(f->s, "app2", 2, "000000002");
    write_ok(f->s, devices_body, NULL);
}

static void test_devices_end_all(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    seed(f->s, "app2", 2, "000000002");
    write_ok(f->s, end_all_body, NULL);
}

/* ---- participants --------------------------------------------------------------- */

#define SUB_A 1800000000
#define SUB_B 1800086400

/* A session of user <tag> (new) in meeting 1, occurrence sub. */
static core_device add_session(store_tx *tx, const char *tag, int64_t sub, int64_t join_time,
                               unsigned token_seed)
{
    core_user u = mk_user(tag, "", tag);
    assert_int_equal(store_user_insert(tx, 1, &u), STORE_OK);
    core_device d = mk_device(1, sub, u.user_no, 1, join_time, token_seed);
    assert_int_equal(store_device_insert(tx, &d), STORE_OK);
    return d;
}

static void participants_fill_body(store_tx *tx, void *arg)
{
    (void)arg;
    for (int i = 0; i < 25; i++) {
        char tag[8];
        snprintf(tag, sizeof tag, "p%02d", i);
        core_device d = add_session(tx, tag, i % 5 < 3 ? SUB_A : SUB_B, 1000 + i,
                                    100 + (unsigned)i);
        if (i == 3)
            assert_int_equal(store_device_end(tx, d.device_no, 2000, CORE_LEFT_LEAVE), STORE_OK);
    }
}

struct page {
    int n;
    int64_t last_device_no;
    int64_t sub;
    char first[CORE_ID_MAX + 1];
};

static int see_participant(const core_device *d, const core_user *u, void *arg)
{
    struct page *p = arg;
    assert_true(d->device_no > p->last_device_no); /* join order */
    p->last_device_no = d->device_no;
    assert_int_equal(d->user_no, u->user_no);
    assert_int_equal(d->meeting_id, 1);
    if (p->sub != -1)
        assert_int_equal(d->sub_meeting_id, p->sub);
    /* each user is p<NN> with uuid-p<NN> */
    assert_string_equal(u->uuid + 5, u->userid);
    assert_int_equal(d->join_time, 1000 + atoi(u->userid + 1));
    if (atoi(u->userid + 1) == 3)
        assert_int_equal(d->left_time, 2000);
    else
        assert_int_equal(d->left_time, 0);
    if (p->n++ == 0)
        snprintf(p->first, sizeof p->first, "%s", u->userid);
    return 0;
}

static void page_check(store_tx *tx, int64_t sub, int64_t pos, int size, int want_n,
                       int64_t want_total, const char *want_first)
{
    struct page p = {.sub = sub};
    int64_t total = -1;
    assert_int_equal(store_participants_list(tx, 1, sub, pos, size, see_participant, &p, &total),
                     STORE_OK);
    assert_int_equal(total, want_total);
    assert_int_equal(p.n, want_n);
    if (want_first != NULL)
        assert_string_equal(p.first, want_first);
}

static void participants_body(store_tx *tx, void *arg)
{
    (void)arg;
    page_check(tx, -1, 0, 10, 10, 25, "p00");
    page_check(tx, -1, 10, 10, 10, 25, "p10");
    page_check(tx, -1, 20, 10, 5, 25, "p20");
    page_check(tx, -1, 25, 10, 0, 25, NULL);
    page_check(tx, -1, 0, 0, 0, 25, NULL);
    page_check(tx, -1, 0, 100, 25, 25, "p00");
    /* Sub A holds i % 5 in {0,1,2}: 15 of 25; sub B 10. */
    page_check(tx, SUB_A, 0, 10, 10, 15, "p00");
    page_check(tx, SUB_A, 10, 10, 5, 15, "p16");
    page_check(tx, SUB_B, 0, 100, 10, 10, "p03");
    page_check(tx, 42, 0, 100, 0, 0, NULL);
    struct page p = {.sub = -1};
    assert_int_equal(store_participants_list(tx, 1, -1, 0, 3, see_participant, &p, NULL),
                     STORE_OK);
    assert_int_equal(p.n, 3);
    int64_t total = -1;
    assert_int_equal(store_participants_list(tx, 2, -1, 0, 3, see_participant, &p, &total),
                     STORE_OK);
    assert_int_equal(total, 0);
}

/* Meeting 1 (app1) with its sessions, and meeting 2 (app1x) with none. */
static void participants_seeded(fixture *f)
{
    seed(f->s, "app1", 1, "000000001");
    seed(f->s, "app1x", 2, "000000002");
    write_ok(f->s, participants_fill_body, NULL);
}

static void test_participants(void **state)
{
    fixture *f = *state;
    participants_seeded(f);
    read_ok(f->s, participants_body, NULL);
}

typedef int (*filtered_fn)(store_tx *tx, int64_t sub, int64_t pos, int size, struct page *p,
                           int64_t *total);

static int span_1005_1012(store_tx *tx, int64_t sub, int64_t pos, int size, struct page *p,
                          int64_t *total)
{
    return store_participants_between(tx, 1, sub, 1005, 1012, pos, size, see_participant, p,
                                      total);
}

static int present_now(store_tx *tx, int64_t sub, int64_t pos, int size, struct page *p,
                       int64_t *total)
{
    return store_present_list(tx, 1, sub, pos, size, see_participant, p, total);
}

static void filtered_check(store_tx *tx, filtered_fn fn, int64_t sub, int64_t pos, int size,
                           int want_n, int64_t want_total, const char *want_first)
{
    struct page p = {.sub = sub};
    int64_t total = -1;
    assert_int_equal(fn(tx, sub, pos, size, &p, &total), STORE_OK);
    assert_int_equal(total, want_total);
    assert_int_equal(p.n, want_n);
    if (want_first != NULL)
        assert_string_equal(p.first, want_first);
}

static void filtered_body(store_tx *tx, void *arg)
{
    (void)arg;
    /* Joined at 1005..1012 (inclusive) in SUB_A (i % 5 < 3): 5, 6, 7, 10, 11, 12. */
    filtered_check(tx, span_1005_1012, SUB_A, 0, 4, 4, 6, "p05");
    filtered_check(tx, span_1005_1012, SUB_A, 4, 4, 2, 6, "p11");
    filtered_check(tx, span_1005_1012, SUB_A, 6, 4, 0, 6, NULL);
    filtered_check(tx, span_1005_1012, SUB_A, INT64_MAX, 100, 0, 6, NULL);
    filtered_check(tx, span_1005_1012, SUB_A, 0, 0, 0, 6, NULL);
    filtered_check(tx, span_1005_1012, SUB_B, 0, 100, 2, 2, "p08");
    filtered_check(tx, span_1005_1012, 42, 0, 100, 0, 0, NULL);
    /* Present now: all but p03 (SUB_B), in join order. */
    filtered_check(tx, present_now, -1, 0, 100, 24, 24, "p00");
    filtered_check(tx, present_now, -1, 20, 10, 4, 24, "p21");
    filtered_check(tx, present_now, -1, INT64_MAX, 50, 0, 24, NULL);
    filtered_check(tx, present_now, SUB_A, 0, 100, 15, 15, "p00");
    filtered_check(tx, present_now, SUB_B, 0, 2, 2, 9, "p04");
    struct page p = {.sub = -1};
    int64_t total = -1;
    assert_int_equal(store_present_list(tx, 2, -1, 0, 10, see_participant, &p, &total),
                     STORE_OK);
    assert_int_equal(total, 0);
}

static void test_participants_filtered(void **state)
{
    fixture *f = *state;
    participants_seeded(f);
    read_ok(f->s, filtered_body, NULL);
}

/* Pages far into a meeting take another query (STORE_DEEP_PAGE): each page
 * either side of it must be the same slice of the whole list. */
#define DEEP_N 900

/* *arg sessions in meeting 1, every third in SUB_B, the rest in SUB_A. */
static void sessions_fill_body(store_tx *tx, void *arg)
{
    const int n = *(const int *)arg;
    for (int i = 0; i < n; i++) {
        char tag[16];
        snprintf(tag, sizeof tag, "q%04d", i);
        add_session(tx, tag, i % 3 == 0 ? SUB_B : SUB_A, 1000 + i, 5000 + (unsigned)i);
    }
}

/* Room for the sessions test_participants_walk adds. */
#define DEEP_CAP (DEEP_N + 8)

struct deep_list {
    int n;
    int64_t no[DEEP_CAP];
    char who[DEEP_CAP][16];
};

static int deep_row(const core_device *d, const core_user *u, void *arg)
{
    struct deep_list *l = arg;
    assert_true(l->n < DEEP_CAP);
    assert_int_equal(d->user_no, u->user_no);
    l->no[l->n] = d->device_no;
    snprintf(l->who[l->n], sizeof l->who[0], "%.15s", u->userid);
    l->n++;
    return 0;
}

static void deep_body(store_tx *tx, void *arg)
{
    (void)arg;
    const int64_t subs[] = {-1, SUB_A, SUB_B};
    for (size_t s = 0; s < 3; s++) {
        struct deep_list *whole = calloc(1, sizeof *whole), *page = calloc(1, sizeof *page);
        assert_non_null(whole);
        assert_non_null(page);
        int64_t total = -1;
        assert_int_equal(store_participants_list(tx, 1, subs[s], 0, DEEP_N, deep_row, whole,
                                                 &total),
                         STORE_OK);
        assert_int_equal(whole->n, total);
        assert_true(total > 256 + 20);
        const int64_t at[] = {0, 236, 250, 255, 256, 257, 300, total - 7, total, total + 5};
        for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
            memset(page, 0, sizeof *page);
            assert_int_equal(store_participants_list(tx, 1, subs[s], at[k], 20, deep_row, page,
                                                     NULL),
                             STORE_OK);
            int64_t want = at[k] >= total ? 0 : (total - at[k] < 20 ? total - at[k] : 20);
            assert_int_equal(page->n, want);
            for (int i = 0; i < page->n; i++) {
                assert_int_equal(page->no[i], whole->no[at[k] + i]);
                assert_string_equal(page->who[i], whole->who[at[k] + i]);
            }
        }
        free(whole);
        free(page);
    }
}

static void test_participants_deep_pages(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    write_ok(f->s, sessions_fill_body, &(int){DEEP_N});
    read_ok(f->s, deep_body, NULL);
}

/* A page that follows one already served starts after the session that
 * page ended on (sqlite_pages.c): walking a meeting page by page, in pages
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
        assert_true(store_pages_get(tx->conn->pages, 1, w->sub, pos + w->page->n, &before));
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
    store_pages_put(tx->conn->pages, 1, w->sub, 20, bad_no);
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

/* A page jumped to, far into a meeting, with no page served right before
 * it: the store marks every 1,024th position on the way (sqlite_users.c,
 * STORE_PAGE_STRIDE) and starts later jumps from the nearest mark below.
 * Every page must be the same slice of the whole list, whichever marks
 * exist, and a mark that is not this meeting's is not followed. */
#define JUMP_STRIDE 1024
#define JUMP_N (3 * JUMP_STRIDE + 300)

struct jump_list {
    int n, cap;
    int64_t *no;
};

static int jump_row(const core_device *d, const core_user *u, void *arg)
{
    struct jump_list *l = arg;
    assert_int_equal(d->user_no, u->user_no);
    assert_true(l->n < l->cap);
    l->no[l->n++] = d->device_no;
    return 0;
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
            assert_true(store_pages_get(tx->conn->pages, 1, sub, m, &no));
            assert_int_equal(no, j->whole.no[m - 1]);
        }
        /* Marks that are wrong: another meeting's session, none at all. */
        store_pages_put(tx->conn->pages, 1, sub, JUMP_STRIDE, j->other_no);
        jump_check(tx, j, sub, JUMP_STRIDE + 3);
        store_pages_put(tx->conn->pages, 1, sub, JUMP_STRIDE, INT64_MAX);
        if (total > 2 * JUMP_STRIDE) {
            store_pages_put(tx->conn->pages, 1, sub, 2 * JUMP_STRIDE, j->other_no);
            jump_check(tx, j, sub, 2 * JUMP_STRIDE + 11);
            int64_t no = -1;
            assert_true(store_pages_get(tx->conn->pages, 1, sub, 2 * JUMP_STRIDE, &no));
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

/* Positions no meeting reaches, and the edges of its end: every page is
 * empty with the right total (a negative pos is the first page), and is
 * answered at once. What this guards against walked towards the client's
 * pos a stride at a time, inside the call, where no assertion can stop it
 * (pos 2^63 - 1 ran for ever, 10^12 for seconds): so the pages are asked
 * for on a thread of their own and waited for with a deadline far beyond
 * what they take. */
#define FAR_DEADLINE_S 10
#define FAR_SUBS 4
#define FAR_CASES 20

struct far_case {
    int64_t sub, pos;
    int size;
    int rc, n;                 /* the answer: store code, rows */
    int64_t total;
};

struct far_run {
    store *s;
    struct far_case c[FAR_SUBS * FAR_CASES];
    int n_cases;
    int read_rc;
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static int far_count(const core_device *d, const core_user *u, void *arg)
{
    (void)d;
    (void)u;
    ++*(int *)arg;
    return 0;
}

/* No assertions here: this runs off cmocka's thread. */
static int far_read(store_tx *tx, void *arg)
{
    struct far_run *r = arg;
    for (int i = 0; i < r->n_cases; i++) {
        struct far_case *c = &r->c[i];
        c->total = -1;
        c->rc = store_participants_list(tx, 1, c->sub, c->pos, c->size, far_count, &c->n,
                                        &c->total);
    }
    return 0;
}

static void *far_main(void *arg)
{
    struct far_run *r = arg;
    int rc = store_read(r->s, far_read, r);
    pthread_mutex_lock(&r->mu);
    r->read_rc = rc;
    r->done = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void far_totals_body(store_tx *tx, void *arg)
{
    int64_t *totals = arg;
    const int64_t subs[FAR_SUBS] = {-1, SUB_A, SUB_B, 42};
    for (int s = 0; s < FAR_SUBS; s++)
        assert_int_equal(store_participants_list(tx, 1, subs[s], 0, 0, NULL, NULL, &totals[s]),
                         STORE_OK);
}

static void test_participants_far_pages(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    write_ok(f->s, sessions_fill_body, &(int){JUMP_N});
    const int64_t subs[FAR_SUBS] = {-1, SUB_A, SUB_B, 42};
    int64_t totals[FAR_SUBS];
    read_ok(f->s, far_totals_body, totals);
    assert_int_equal(totals[0], JUMP_N);
    assert_int_equal(totals[3], 0);

    static struct far_run r; /* left to a stuck thread if the deadline passes */
    memset(&r, 0, sizeof r);
    r.s = f->s;
    for (int s = 0; s < FAR_SUBS; s++) {
        int64_t t = totals[s];
        const struct { int64_t pos; int size; } at[FAR_CASES] = {
            {t - 1, 30}, {t, 30}, {t + 1, 30}, {t, INT_MAX}, {4 * JUMP_STRIDE, 100},
            {INT64_C(10000000000), 20}, {INT64_C(1000000000000), 100},
            {INT64_C(4611686018427387904), 100}, {INT64_MAX - 100, 100},
            {INT64_MAX - 1, INT_MAX}, {INT64_MAX, 1}, {INT64_MAX, 100}, {INT64_MAX, 0},
            {INT64_MAX, -1}, {-1, 30}, {INT64_MIN, 5}, {-1, INT_MAX}, {t - 1, INT_MAX},
            {JUMP_STRIDE, INT_MAX}, {INT64_MAX, INT_MAX}};
        for (int k = 0; k < FAR_CASES; k++)
            r.c[r.n_cases++] = (struct far_case){.sub = subs[s], .pos = at[k].pos,
                                                 .size = at[k].size};
    }
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += FAR_DEADLINE_S;
    bodies_running++; /* a stuck reader: the fixture abandons the store */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, far_main, &r), 0);
    pthread_mutex_lock(&r.mu);
    int wait = 0;
    while (!r.done && wait != ETIMEDOUT)
        wait = pthread_cond_timedwait(&r.cv, &r.mu, &deadline);
    bool done = r.done;
    pthread_mutex_unlock(&r.mu);
    if (!done) {
        pthread_detach(th);
        fail_msg("%d pages past the end still unanswered after %d s", r.n_cases,
                 FAR_DEADLINE_S);
    }
    pthread_join(th, NULL);
    bodies_running--;
    assert_int_equal(r.read_rc, 0);
    for (int i = 0; i < r.n_cases; i++) {
        const struct far_case *c = &r.c[i];
        int64_t t = totals[i / FAR_CASES];
        /* A negative pos is 0, a negative size 0 (store_page). */
        int64_t pos = c->pos < 0 ? 0 : c->pos, size = c->size < 0 ? 0 : c->size;
        int64_t want = pos >= t ? 0 : (t - pos < size ? t - pos : size);
        if (c->rc != STORE_OK || c->total != t || c->n != want)
            fail_msg("sub %" PRId64 " pos %" PRId64 " size %d: rc %d, total %" PRId64
                     ", %d rows; want total %" PRId64 ", %" PRId64 " rows",
                     c->sub, c->pos, c->size, c->rc, c->total, c->n, t, want);
    }
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
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

/* ---- bans ------------------------------------------------------------------------- */

struct ban_seen {
    store_tx *tx;
    int n;
    char order[64];
    int nested;
};

static int see_ban(const core_ban *b, void *arg)
{
    struct ban_seen *s = arg;
    assert_int_equal(b->meeting_id, 1);
    assert_true(b->user.user_no > 0);
    assert_string_equal(b->user.uuid + 5, b->user.userid);
    assert_string_equal(b->reason, "spam");
    assert_string_equal(b->operator_ms_open_id, "ms-op");
    assert_string_equal(b->operator_userid, "op");
    assert_string_equal(b->operator_uuid, "uuid-op");
    assert_int_equal(b->operator_instanceid, 33);
    assert_string_equal(b->request_id, "req-1");
    strcat(s->order, b->user.userid);
    strcat(s->order, ",");
    s->n++;
    return 0;
}

static int see_ban_nested(const core_ban *b, void *arg)
{
    struct ban_seen *s = arg;
    (void)b;
    /* Re-entering the same list from its callback works (own statement). */
    struct ban_seen inner = {0};
    assert_int_equal(store_bans_list(s->tx, 1, see_ban, &inner), STORE_OK);
    s->nested += inner.n;
    return 0;
}

static void bans_body(store_tx *tx, void *arg)
{
    (void)arg;
    core_user u[4];
    for (int i = 0; i < 4; i++) {
        char tag[8];
        snprintf(tag, sizeof tag, "b%d", i);
        u[i] = mk_user(tag, "", tag);
        assert_int_equal(store_user_insert(tx, 1, &u[i]), STORE_OK);
    }
    int64_t at[4] = {300, 100, 100, 200};
    for (int i = 3; i >= 0; i--) {
        core_ban b = {.meeting_id = 1, .user = u[i], .banned_at = at[i], .reason = "old"};
        assert_int_equal(store_ban_put(tx, &b), STORE_OK);
        snprintf(b.reason, sizeof b.reason, "spam");
        snprintf(b.operator_ms_open_id, sizeof b.operator_ms_open_id, "ms-op");
        snprintf(b.operator_userid, sizeof b.operator_userid, "op");
        snprintf(b.operator_uuid, sizeof b.operator_uuid, "uuid-op");
        b.operator_instanceid = 33;
        snprintf(b.request_id, sizeof b.request_id, "req-1");
        assert_int_equal(store_ban_put(tx, &b), STORE_OK); /* refresh */
    }
    bool banned = false;
    assert_int_equal(store_ban_exists(tx, 1, u[0].user_no, &banned), STORE_OK);
    assert_true(banned);
    assert_int_equal(store_ban_exists(tx, 2, u[0].user_no, &banned), STORE_OK);
    assert_false(banned);

    struct ban_seen s = {.tx = tx};
    assert_int_equal(store_bans_list(tx, 1, see_ban, &s), STORE_OK);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.order, "b1,b2,b3,b0,"); /* banned_at, then user_no */

    /* Refreshing moves the ban's time. */
    core_ban b = {.meeting_id = 1, .user = u[0], .banned_at = 50, .reason = "spam",
                  .operator_userid = "op", .operator_uuid = "uuid-op",
                  .operator_ms_open_id = "ms-op", .operator_instanceid = 33,
                  .request_id = "req-1"};
    assert_int_equal(store_ban_put(tx, &b), STORE_OK);
    memset(&s, 0, sizeof s);
    s.tx = tx;
    assert_int_equal(store_bans_list(tx, 1, see_ban, &s), STORE_OK);
    assert_string_equal(s.order, "b0,b1,b2,b3,");

    memset(&s, 0, sizeof s);
    s.tx = tx;
    assert_int_equal(store_bans_list(tx, 1, see_ban_nested, &s), STORE_OK);
    assert_int_equal(s.nested, 16);

    assert_int_equal(store_ban_delete(tx, 1, u[2].user_no), STORE_OK);
    assert_int_equal(store_ban_delete(tx, 1, u[2].user_no), STORE_NOTFOUND);
    assert_int_equal(store_ban_exists(tx, 1, u[2].user_no, &banned), STORE_OK);
    assert_false(banned);
    memset(&s, 0, sizeof s);
    assert_int_equal(store_bans_list(tx, 1, see_ban, &s), STORE_OK);
    assert_string_equal(s.order, "b0,b1,b3,");
    memset(&s, 0, sizeof s);
    assert_int_equal(store_bans_list(tx, 2, see_ban, &s), STORE_OK);
    assert_int_equal(s.n, 0);
}

static void test_bans(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    seed(f->s, "app2", 2, "000000002");
    write_ok(f->s, bans_body, NULL);
}

/* ---- audit ---------------------------------------------------------------------------- */

static void audit_fill_body(store_tx *tx, void *arg)
{
    (void)arg;
    int64_t prev = 0;
    for (int i = 0; i < 25; i++) {
        core_audit a;
        memset(&a, 0, sizeof a);
        a.meeting_id = i == 7 ? 2 : 1;
        a.sub_meeting_id = 1800000000;
        a.time = 5000 + i;
        snprintf(a.request_id, sizeof a.request_id, "req-%d", i);
        snprintf(a.action, sizeof a.action, "kickout");
        snprintf(a.op_userid, sizeof a.op_userid, "host");
        snprintf(a.op_uuid, sizeof a.op_uuid, "uuid-host");
        snprintf(a.op_ms_open_id, sizeof a.op_ms_open_id, "ms-host");
        a.op_instanceid = 1;
        snprintf(a.target_userid, sizeof a.target_userid, "t%d", i);
        snprintf(a.target_guest_id, sizeof a.target_guest_id, "g%d", i);
        snprintf(a.target_uuid, sizeof a.target_uuid, "uuid-t%d", i);
        snprintf(a.target_ms_open_id, sizeof a.target_ms_open_id, "ms-t%d", i);
        a.target_instanceid = 9;
        a.allow_rejoin = i % 2 == 0;
        memset(a.reason, 'r', CORE_REASON_MAX); /* the longest reason */
        assert_int_equal(store_audit_insert(tx, &a), STORE_OK);
        assert_true(a.audit_no > prev);
        prev = a.audit_no;
    }
}

struct audit_page {
    int n;
    int next_i; /* expected index of the next row */
};

static int see_audit(const core_audit *a, void *arg)
{
    struct audit_page *p = arg;
    if (p->next_i == 7)
        p->next_i--; /* meeting 2's */
    int i = p->next_i--;
    char buf[32];
    assert_int_equal(a->meeting_id, 1);
    assert_int_equal(a->sub_meeting_id, 1800000000);
    assert_int_equal(a->time, 5000 + i);
    snprintf(buf, sizeof buf, "req-%d", i);
    assert_string_equal(a->request_id, buf);
    assert_string_equal(a->action, "kickout");
    assert_string_equal(a->op_userid, "host");
    assert_string_equal(a->op_uuid, "uuid-host");
    assert_string_equal(a->op_ms_open_id, "ms-host");
    assert_int_equal(a->op_instanceid, 1);
    snprintf(buf, sizeof buf, "t%d", i);
    assert_string_equal(a->target_userid, buf);
    snprintf(buf, sizeof buf, "g%d", i);
    assert_string_equal(a->target_guest_id, buf);
    snprintf(buf, sizeof buf, "uuid-t%d", i);
    assert_string_equal(a->target_uuid, buf);
    snprintf(buf, sizeof buf, "ms-t%d", i);
    assert_string_equal(a->target_ms_open_id, buf);
    assert_int_equal(a->target_instanceid, 9);
    assert_int_equal(a->allow_rejoin, i % 2 == 0);
    assert_int_equal(strlen(a->reason), CORE_REASON_MAX);
    p->n++;
    return 0;
}

static void audit_body(store_tx *tx, void *arg)
{
    (void)arg;
    /* 24 rows for meeting 1, newest (i = 24) first. */
    struct audit_page p = {.next_i = 24};
    int64_t total = -1;
    assert_int_equal(store_audit_list(tx, 1, 0, 10, see_audit, &p, &total), STORE_OK);
    assert_int_equal(total, 24);
    assert_int_equal(p.n, 10);
    p.n = 0;
    assert_int_equal(store_audit_list(tx, 1, 10, 10, see_audit, &p, &total), STORE_OK);
    assert_int_equal(p.n, 10);
    p.n = 0;
    assert_int_equal(store_audit_list(tx, 1, 20, 10, see_audit, &p, NULL), STORE_OK);
    assert_int_equal(p.n, 4);
    assert_int_equal(p.next_i, -1);
    p.n = 0;
    assert_int_equal(store_audit_list(tx, 1, 24, 10, see_audit, &p, &total), STORE_OK);
    assert_int_equal(p.n, 0);
    /* Past the end however far, with or without a total: empty. */
    const int64_t far[] = {25, 1024, INT64_C(1000000000000), INT64_MAX - 10, INT64_MAX};
    for (size_t i = 0; i < sizeof far / sizeof far[0]; i++) {
        total = -1;
        assert_int_equal(store_audit_list(tx, 1, far[i], INT_MAX, see_audit, &p, &total),
                         STORE_OK);
        assert_int_equal(total, 24);
        assert_int_equal(store_audit_list(tx, 1, far[i], 100, see_audit, &p, NULL), STORE_OK);
        assert_int_equal(p.n, 0);
    }
    assert_int_equal(store_audit_list(tx, 3, 0, 10, see_audit, &p, &total), STORE_OK);
    assert_int_equal(total, 0);
}

static void test_audit(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    seed(f->s, "app2", 2, "000000002");
    write_ok(f->s, audit_fill_body, NULL);
    read_ok(f->s, audit_body, NULL);
}

/* ---- concurrency ------------------------------------------------------------------------ */

#define N_WRITERS 4
#define N_READERS 10 /* more than the store keeps connections for */
#define PER_WRITER 200

struct worker {
    store *s;
    int id;
    int i;
    int errors;
    int *done;             /* set (atomically) when the writers are through */
};

static int join_one(store_tx *tx, void *arg)
{
    struct worker *w = arg;
    char tag[32];
    snprintf(tag, sizeof tag, "w%d-%d", w->id, w->i);
    core_user u = mk_user(tag, "", tag);
    int rc = store_user_insert(tx, 1, &u);
    if (rc != STORE_OK)
        return rc;
    core_device d = mk_device(1, 0, u.user_no, 1, w->i, (unsigned)(w->id * 1000 + w->i));
    return store_device_insert(tx, &d);
}

static void *writer_main(void *arg)
{
    struct worker *w = arg;
    for (w->i = 0; w->i < PER_WRITER; w->i++)
        if (store_write(w->s, join_one, w) != 0)
            w->errors++;
    return NULL;
}

static int nop_participant(const core_device *d, const core_user *u, void *arg)
{
    (void)d;
    (void)u;
    (void)arg;
    return 0;
}

/* Counts the sessions twice in one read: the snapshot must not move. */
static int count_twice(store_tx *tx, void *arg)
{
    int64_t *n = arg;
    int rc = store_participants_list(tx, 1, -1, 0, 0, nop_participant, NULL, &n[0]);
    if (rc != STORE_OK)
        return rc;
    /* Give the writers time to commit between the two counts. */
    for (int i = 0; i < 50; i++)
        sched_yield();
    return store_participants_list(tx, 1, -1, 0, 0, nop_participant, NULL, &n[1]);
}

static void *reader_main(void *arg)
{
    struct worker *w = arg;
    int64_t last = 0;
    while (!__atomic_load_n(w->done, __ATOMIC_SEQ_CST)) {
        int64_t n[2] = {-1, -1};
        if (store_read(w->s, count_twice, n) != 0 || n[0] != n[1] || n[0] < last)
            w->errors++;
        last = n[0];
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    int done = 0;
    struct worker ws[N_WRITERS], rs[N_READERS];
    pthread_t wt[N_WRITERS], rt[N_READERS];
    for (int i = 0; i < N_READERS; i++) {
        rs[i] = (struct worker){.s = f->s, .id = i, .done = &done};
        assert_int_equal(pthread_create(&rt[i], NULL, reader_main, &rs[i]), 0);
    }
    for (int i = 0; i < N_WRITERS; i++) {
        ws[i] = (struct worker){.s = f->s, .id = i, .done = &done};
        assert_int_equal(pthread_create(&wt[i], NULL, writer_main, &ws[i]), 0);
    }
    for (int i = 0; i < N_WRITERS; i++) {
        pthread_join(wt[i], NULL);
        assert_int_equal(ws[i].errors, 0);
    }
    __atomic_store_n(&done, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < N_READERS; i++) {
        pthread_join(rt[i], NULL);
        assert_int_equal(rs[i].errors, 0);
    }
    assert_int_equal(raw_count(f->data, "users"), N_WRITERS * PER_WRITER);
    assert_int_equal(raw_count(f->data, "devices"), N_WRITERS * PER_WRITER);
    int64_t n[2];
    assert_int_equal(store_read(f->s, count_twice, n), 0);
    assert_int_equal(n[0], N_WRITERS * PER_WRITER);
}

/* ---- group commit --------------------------------------------------------------------- */

struct group {
    store *s;
    int released;          /* the first job may finish (atomic) */
    pthread_t ran_on[6];   /* which thread ran each job's fn */
    int rc[6];
    const char *data;
    int64_t committed_at_5;   /* users committed when job 5 ran */
};

struct group_job {
    struct group *g;
    int i;
};

/* Job 0 holds the writer until released, so jobs 1..5 queue behind it and
 * must all run in the next batch, on the writer thread. Job 3 fails. */
static int group_fn(store_tx *tx, void *arg)
{
    struct group_job *j = arg;
    __atomic_store_n(&j->g->ran_on[j->i], pthread_self(), __ATOMIC_SEQ_CST);
    while (j->i == 0 && !__atomic_load_n(&j->g->released, __ATOMIC_SEQ_CST))
        sched_yield();
    char tag[16];
    snprintf(tag, sizeof tag, "g%d", j->i);
    core_user u = mk_user(tag, "", tag);
    if (store_user_insert(tx, 1, &u) != STORE_OK)
        return -1;
    if (j->i == 4)   /* a fn may not write from inside a fn */
        return store_write(j->g->s, group_fn, arg) == -1 ? 0 : -1;
    if (j->i == 5)   /* what another connection sees: 1..4 are not committed yet */
        j->g->committed_at_5 = raw_count(j->g->data, "users");
    return j->i == 3 ? 42 : 0;
}

static void *group_main(void *arg)
{
    struct group_job *j = arg;
    j->g->rc[j->i] = store_write(j->g->s, group_fn, j);
    return NULL;
}

static void test_group_commit(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    struct group g = {.s = f->s, .data = f->data};
    struct group_job jobs[6];
    pthread_t t[6];
    for (int i = 0; i < 6; i++) {
        jobs[i] = (struct group_job){&g, i};
        assert_int_equal(pthread_create(&t[i], NULL, group_main, &jobs[i]), 0);
        if (i == 0)   /* job 0 is a batch of its own before the others arrive */
            while (__atomic_load_n(&g.ran_on[0], __ATOMIC_SEQ_CST) == 0)
                sched_yield();
    }
    while (store_write_queue(f->s) != 5)
        sched_yield();
    __atomic_store_n(&g.released, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);

    assert_int_equal(g.rc[0], 0);
    assert_int_equal(g.rc[1], 0);
    assert_int_equal(g.rc[2], 0);
    assert_int_equal(g.rc[3], 42);        /* its own result, its work undone */
    assert_int_equal(g.rc[4], 0);
    assert_int_equal(g.rc[5], 0);
    for (int i = 1; i < 6; i++) {         /* the writer ran them all, no caller did */
        assert_true(pthread_equal(g.ran_on[i], g.ran_on[0]));
        assert_false(pthread_equal(g.ran_on[0], t[i]));
    }
    assert_int_equal(g.committed_at_5, 1);   /* g0's batch only: 1..5 share one */
    assert_int_equal(raw_count(f->data, "users"), 5);
    assert_int_equal(store_write_queue(f->s), 0);
}

/* ---- the keys' change stamp ------------------------------------------- */

static void stamp_app_body(store_tx *tx, void *arg)
{
    store_app a = mk_app((const char *)arg);
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
}

static int stamp_key_then_fail(store_tx *tx, void *arg)
{
    store_key k = mk_key("AKIDrolledback", (const char *)arg, 1);
    assert_int_equal(store_key_insert(tx, &k), STORE_OK);
    return 1;   /* rolled back: nothing changed */
}

static void stamp_meeting_body(store_tx *tx, void *arg)
{
    static core_meeting m;
    mk_meeting(&m, (const char *)arg, 77, "777777777");
    assert_int_equal(store_meeting_insert(tx, &m), STORE_OK);
}

static bool stamp_equal(const store_stamp *a, const store_stamp *b)
{
    return a->moves == b->moves && a->file == b->file;
}

static void test_keys_stamp(void **state)
{
    fixture *f = *state;
    store_stamp s0, s1, s2;
    store_keys_stamp(f->s, &s0);
    write_ok(f->s, stamp_app_body, "app1");
    store_keys_stamp(f->s, &s1);
    assert_false(stamp_equal(&s0, &s1));
    /* Writes that change no app or key, and a rolled-back key, leave it. */
    write_ok(f->s, stamp_meeting_body, "app1");
    assert_int_equal(store_write(f->s, stamp_key_then_fail, "app1"), 1);
    store_keys_stamp(f->s, &s2);
    assert_true(stamp_equal(&s1, &s2));
    /* Another process's change (meetd app) is seen too, at once: the
     * stamp is the same before it, and moved right after its commit. */
    store_close(f->s);
    f->s = open_store(f->data, STORE_DURABLE_FULL);
    store *other = open_store(f->data, STORE_DURABLE_FULL);
    store_keys_stamp(f->s, &s2);
    assert_true(stamp_equal(&s1, &s2));
    write_ok(other, stamp_app_body, "app2");
    store_keys_stamp(f->s, &s2);
    assert_false(stamp_equal(&s1, &s2));
    store_stamp s3;
    store_keys_stamp(other, &s3);
    assert_true(stamp_equal(&s2, &s3));
    store_close(other);
}

/* A keys.stamp of an earlier meetd (one byte appended per change, so
 * possibly shorter than the counter) is taken over. */
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

static int pump_fn(store_tx *tx, void *arg)
{
    struct pump_job *j = arg;
    char tag[32];
    snprintf(tag, sizeof tag, "w%d", j->tag);
    core_user u = mk_user(tag, "", tag);
    return store_user_insert(tx, 1, &u) == STORE_OK ? 0 : 1;
}

static void pump_queue(struct pump *p);

static void pump_done(void *arg, int rc)
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

static void test_wal_restarts_under_load(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    uint64_t before = metrics_get_counter(METRICS_STORE_WAL_RESTARTS);
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
    assert_true(metrics_get_counter(METRICS_STORE_WAL_RESTARTS) >= before + 3);
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
    int fail;            /* the job's return: nonzero rolls it back */
    int rc, status, reread_rc, reread_status;
    char subject[CORE_SUBJECT_MAX + 1];
};

static int mc_job(store_tx *tx, void *arg)
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
            return -1;
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
    struct mc_probe undone = {.app_id = "app1", .set_status = CORE_ST_ENDED, .fail = 9};
    assert_int_equal(store_write(f->s, mc_job, &undone), 9);
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
    int fail;                  /* the job's return */
    int rc, listed;
    int64_t inserted_id;
};

static int hooks_count_cb(const store_webhook *w, void *arg)
{
    (void)w;
    (*(int *)arg)++;
    return 0;
}

static int hooks_job(store_tx *tx, void *arg)
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
            return -1;
        p->inserted_id = w.webhook_id;
    }
    if (p->delete_id > 0 && store_webhook_delete(tx, p->app_id, p->delete_id) != STORE_OK)
        return -1;
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
    struct hooks_probe undone = {.app_id = "app1", .delete_id = add.inserted_id, .fail = 5};
    assert_int_equal(store_write(f->s, hooks_job, &undone), 5);
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
        cmocka_unit_test_setup_teardown(test_meetings_of_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_tokens_by_number, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_session_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_ban_operator, setup, teardown),
        cmocka_unit_test_setup_teardown(test_file_modes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_durability, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apps_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_stamp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_stamp_old_file, setup, teardown),
        cmocka_unit_test_setup_teardown(test_app_delete_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meeting_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meeting_insert_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices_end_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_participants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_participants_deep_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_participants_walk, setup, teardown),
        cmocka_unit_test_setup_teardown(test_participants_jumps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_participants_far_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_participants_filtered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_checkpointer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_restarts_under_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_wal_pages_counted, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meeting_copies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_webhook_none_remembered, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
