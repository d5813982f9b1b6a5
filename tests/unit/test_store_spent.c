/* The store's spent nonces (store_spend) and partial undo (store_try)
 * against their interface, and the migration that adds them. Every test
 * gets a fresh directory from mkdtemp, removed at the end. */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/sqlite/lite.h"
#include "store/store.h"

/* ---- fixture ------------------------------------------------------------ */

#include "store_fixture.h"

/* Writes run on the store's writer thread, where a failed assertion cannot
 * unwind to the test: the jobs below only record what the store said, and
 * the test checks it on its own thread once the write is decided. Reads run
 * on the caller's thread and assert directly. */

/* One spend, what it must say, and what it said. */
typedef struct spend {
    const char *app_id;
    int64_t ts;
    uint64_t nonce;
    int64_t keep_from;
    int want;
    int got;
} spend;

static store_rc spend_job(store_tx *tx, void *arg)
{
    for (spend *s = arg; s->app_id != NULL; s++)
        s->got = store_spend(tx, s->app_id, s->ts, s->nonce, s->keep_from);
    return STORE_OK;
}

/* Spends the list (ended by a NULL app_id) in one write. */
static void spend_all(store *st, spend *list)
{
    assert_int_equal(store_write(st, spend_job, list), 0);
    for (const spend *s = list; s->app_id != NULL; s++)
        if (s->got != s->want)
            fail_msg("spend (%s, %lld, %llu): %d, want %d", s->app_id, (long long)s->ts,
                     (unsigned long long)s->nonce, s->got, s->want);
}

static store_rc app_insert_job(store_tx *tx, void *arg)
{
    store_app a;
    memset(&a, 0, sizeof a);
    snprintf(a.app_id, sizeof a.app_id, "%s", (const char *)arg);
    a.created_at = 1700000000;
    return store_app_insert(tx, &a) == STORE_OK ? STORE_OK : STORE_ERROR;
}

static void app_absent_body(store_tx *tx, void *arg)
{
    store_app a;
    assert_int_equal(store_app_get(tx, arg, &a), STORE_NOTFOUND);
}

static void app_present_body(store_tx *tx, void *arg)
{
    store_app a;
    assert_int_equal(store_app_get(tx, arg, &a), STORE_OK);
}

/* ---- store_spend ------------------------------------------------------- */

/* A triple is spent once; any part different is another triple, and every
 * nonce of 64 bits is its own (those of 2^63 and more are stored signed). */
static void test_spend_once(void **state)
{
    fixture *f = *state;
    spend first[] = {
        {"app1", 1000, 42, 700, STORE_OK, 0},
        {"app1", 1000, 42, 700, STORE_CONFLICT, 0},
        {"app2", 1000, 42, 700, STORE_OK, 0},
        {"app1", 1001, 42, 700, STORE_OK, 0},
        {"app1", 1000, 43, 700, STORE_OK, 0},
        {"app1", 1000, UINT64_MAX, 700, STORE_OK, 0},
        {"app1", 1000, UINT64_MAX - 1, 700, STORE_OK, 0},
        {"app1", 1000, (uint64_t)1 << 63, 700, STORE_OK, 0},
        {"app1", 1000, ((uint64_t)1 << 63) - 1, 700, STORE_OK, 0},
        {"app1", 1000, UINT64_MAX, 700, STORE_CONFLICT, 0},
        {NULL, 0, 0, 0, 0, 0},
    };
    spend_all(f->s, first);
    /* A later transaction sees them all spent. */
    spend again[] = {
        {"app1", 1000, 42, 700, STORE_CONFLICT, 0},
        {"app2", 1000, 42, 700, STORE_CONFLICT, 0},
        {"app1", 1000, (uint64_t)1 << 63, 700, STORE_CONFLICT, 0},
        {"app3", 1000, 42, 700, STORE_OK, 0},
        {NULL, 0, 0, 0, 0, 0},
    };
    spend_all(f->s, again);
    assert_int_equal(raw_count(f->data, "spent_nonces"), 9);
}

/* Spent with the write's commit, so it outlives the process; and not spent
 * when the write is rolled back. */
static store_rc spend_then_fail(store_tx *tx, void *arg)
{
    *(store_rc *)arg = store_spend(tx, "app1", 1000, 7, 700);
    return STORE_ROLLBACK;
}

static void test_spend_durable(void **state)
{
    fixture *f = *state;
    spend first[] = {{"app1", 1000, 1, 700, STORE_OK, 0}, {NULL, 0, 0, 0, 0, 0}};
    spend_all(f->s, first);
    store_rc rc = STORE_ERROR;
    assert_int_equal(store_write(f->s, spend_then_fail, &rc), STORE_ROLLBACK);
    assert_int_equal(rc, STORE_OK);
    store_close(f->s);
    f->s = open_store(f->data, STORE_DURABLE_FULL);
    spend after[] = {
        {"app1", 1000, 1, 700, STORE_CONFLICT, 0},
        {"app1", 1000, 7, 700, STORE_OK, 0},   /* its job was rolled back */
        {NULL, 0, 0, 0, 0, 0},
    };
    spend_all(f->s, after);
}

/* What has left the window goes; what may still come in the window stays. */
static void test_spend_prune(void **state)
{
    fixture *f = *state;
    spend a[] = {
        {"app1", 1000, 1, 700, STORE_OK, 0},
        {"app1", 1100, 2, 700, STORE_OK, 0},
        {"app1", 1300, 3, 700, STORE_OK, 0},   /* ahead of the clock */
        {NULL, 0, 0, 0, 0, 0},
    };
    spend_all(f->s, a);
    assert_int_equal(raw_count(f->data, "spent_nonces"), 3);
    /* The window's lower edge passes 1000 but not 1100. */
    spend b[] = {
        {"app1", 1200, 4, 1001, STORE_OK, 0},
        {"app1", 1100, 2, 1001, STORE_CONFLICT, 0},
        {"app1", 1300, 3, 1001, STORE_CONFLICT, 0},
        {NULL, 0, 0, 0, 0, 0},
    };
    spend_all(f->s, b);
    assert_int_equal(raw_count(f->data, "spent_nonces"), 3);
    /* Past 1300 everything of before goes, across a restart too. */
    store_close(f->s);
    f->s = open_store(f->data, STORE_DURABLE_FULL);
    spend c[] = {{"app2", 1500, 5, 1301, STORE_OK, 0}, {NULL, 0, 0, 0, 0, 0}};
    spend_all(f->s, c);
    assert_int_equal(raw_count(f->data, "spent_nonces"), 1);
}

/* ---- store_try ---------------------------------------------------------- */

/* Inserts app "tried<ret>" and returns ret (a store_rc). */
static store_rc insert_app_and(store_tx *tx, void *arg)
{
    const store_rc *ret = arg;
    char app_id[32];
    snprintf(app_id, sizeof app_id, "tried%d", (int)*ret);
    return app_insert_job(tx, app_id) == STORE_OK ? *ret : STORE_ERROR;
}

/* A spend, then two tries: one undone (refused), one kept. */
struct tried {
    int spent, refused, kept;
};

static store_rc spend_and_try(store_tx *tx, void *arg)
{
    struct tried *t = arg;
    store_rc refused = STORE_ROLLBACK, ok = STORE_OK;
    t->spent = store_spend(tx, "app1", 1000, 9, 700);
    t->refused = store_try(tx, insert_app_and, &refused);
    t->kept = store_try(tx, insert_app_and, &ok);
    return STORE_OK;
}

static void test_try(void **state)
{
    fixture *f = *state;
    struct tried t = {-1, -1, -1};
    assert_int_equal(store_write(f->s, spend_and_try, &t), 0);
    assert_int_equal(t.spent, STORE_OK);
    assert_int_equal(t.refused, STORE_ROLLBACK);
    assert_int_equal(t.kept, 0);
    read_ok(f->s, app_absent_body, "tried4");   /* STORE_ROLLBACK */
    read_ok(f->s, app_present_body, "tried0");
    spend again[] = {{"app1", 1000, 9, 700, STORE_CONFLICT, 0}, {NULL, 0, 0, 0, 0, 0}};
    spend_all(f->s, again);
}

/* A try that creates a meeting, reads it (the writer keeps a copy) and is
 * refused: the meeting must not be found afterwards, not even as a copy. */
struct try_meeting {
    int inserted, read_inside, tried, read_after;
};

static store_rc meeting_insert_read_refuse(store_tx *tx, void *arg)
{
    struct try_meeting *t = arg;
    core_meeting m, got;
    memset(&m, 0, sizeof m);
    m.meeting_id = 77;
    snprintf(m.app_id, sizeof m.app_id, "app1");
    snprintf(m.meeting_code, sizeof m.meeting_code, "777000777");
    m.creator_instanceid = 1;
    m.start_time = 1800000000;
    m.end_time = 1800003600;
    m.status = CORE_ST_INIT;
    m.created_at = 1700000000;
    t->inserted = store_meeting_insert(tx, &m);
    t->read_inside = store_meeting_get(tx, "app1", 77, &got);
    return STORE_ROLLBACK;
}

static store_rc meeting_try_job(store_tx *tx, void *arg)
{
    struct try_meeting *t = arg;
    core_meeting got;
    t->tried = store_try(tx, meeting_insert_read_refuse, t);
    t->read_after = store_meeting_get(tx, "app1", 77, &got);
    return STORE_OK;
}

static store_rc meeting_get_job(store_tx *tx, void *arg)
{
    core_meeting got;
    *(int *)arg = store_meeting_get(tx, "app1", 77, &got);
    return STORE_OK;
}

static void test_try_drops_copies(void **state)
{
    fixture *f = *state;
    assert_int_equal(store_write(f->s, app_insert_job, "app1"), 0);
    struct try_meeting t = {-1, -1, -1, -1};
    assert_int_equal(store_write(f->s, meeting_try_job, &t), 0);
    assert_int_equal(t.inserted, STORE_OK);
    assert_int_equal(t.read_inside, STORE_OK);
    assert_int_equal(t.tried, STORE_ROLLBACK);
    assert_int_equal(t.read_after, STORE_NOTFOUND);
    int next = -1;
    assert_int_equal(store_write(f->s, meeting_get_job, &next), 0);
    assert_int_equal(next, STORE_NOTFOUND);
    assert_int_equal(raw_count(f->data, "meetings"), 0);
}

/* ---- migration 6 -------------------------------------------------------- */

/* A database as meetd left it at schema 4 (with an app in it) upgrades, keeps
 * its rows, and spends. */
static void test_migrate_spent(void **state)
{
    fixture *f = *state;
    char dir[128], path[256];
    snprintf(dir, sizeof dir, "%s/v4", f->root);
    assert_int_equal(mkdir(dir, 0700), 0);
    snprintf(path, sizeof path, "%s/meetd.db", dir);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    int v = 0;
    assert_int_equal(lite_schema_migrate_to(db, 4, &v), 0);
    assert_int_equal(v, 4);
    assert_int_equal(sqlite3_exec(db, "INSERT INTO apps (app_id, created_at) VALUES ('old', 1)",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);

    store *s = open_store(dir, STORE_DURABLE_FULL);
    assert_true(store_schema_version(s) >= 6);
    read_ok(s, app_present_body, "old");
    spend sp[] = {
        {"old", 1000, 1, 700, STORE_OK, 0},
        {"old", 1000, 1, 700, STORE_CONFLICT, 0},
        {NULL, 0, 0, 0, 0, 0},
    };
    spend_all(s, sp);
    store_close(s);
    assert_int_equal(raw_count(dir, "spent_nonces"), 1);
    assert_int_equal(raw_count(dir, "apps"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_spend_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spend_durable, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spend_prune, setup, teardown),
        cmocka_unit_test_setup_teardown(test_try, setup, teardown),
        cmocka_unit_test_setup_teardown(test_try_drops_copies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_migrate_spent, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
