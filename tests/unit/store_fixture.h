/* The fixture the store's cmocka tests share: a store in a fresh temporary
 * directory (and, for a server backend, an emptied database) per test, test
 * bodies run inside transactions, and a row count read through a separate
 * connection (what is really stored).
 *
 * Which backend: fixture_be, SQLite unless a test program picks another.
 * test_store_contract runs its tests once per backend fixture_backends
 * lists: SQLite always; PostgreSQL when the environment's
 * MEETD_TEST_POSTGRES holds a libpq conninfo and this build has the
 * backend (MEETD_WITH_POSTGRES), its reset and count then being
 * pgsql_fixture_reset and pgsql_fixture_count. */
#ifndef MEETD_TESTS_STORE_FIXTURE_H
#define MEETD_TESTS_STORE_FIXTURE_H

#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "store/backend.h"
#include "store/store.h"

typedef struct fixture_backend {
    const char *name;        /* store_options.backend */
    const char *conninfo;    /* store_options.conninfo; NULL for SQLite */
    /* Before each test: leaves the backend's database empty (NULL: a fresh
     * directory is enough). 0 on success. */
    int (*reset)(const char *conninfo);
    /* The rows of table, read apart from the store under test (data: the
     * test's data directory). */
    int64_t (*count)(const char *conninfo, const char *data, const char *table);
} fixture_backend;

#ifdef MEETD_WITH_POSTGRES
int pgsql_fixture_reset(const char *conninfo);
int64_t pgsql_fixture_count(const char *conninfo, const char *data, const char *table);
#endif

static inline int64_t sqlite_fixture_count(const char *conninfo, const char *data,
                                           const char *table)
{
    (void)conninfo;
    char path[256], sql[128];
    snprintf(path, sizeof path, "%.200s/meetd.db", data);
    snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", table);
    sqlite3 *db = NULL;
    assert_int_equal(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

static const fixture_backend fixture_sqlite = {
    .name = "sqlite", .reset = NULL, .count = sqlite_fixture_count};
static const fixture_backend *fixture_be = &fixture_sqlite;

/* The backends to run a contract test against (at most max): their
 * number. */
static inline int fixture_backends(const fixture_backend **out, int max)
{
    int n = 0;
    if (n < max)
        out[n++] = &fixture_sqlite;
#ifdef MEETD_WITH_POSTGRES
    static fixture_backend pg = {
        .name = "postgres", .reset = pgsql_fixture_reset, .count = pgsql_fixture_count};
    const char *conninfo = getenv("MEETD_TEST_POSTGRES");
    if (n < max && conninfo != NULL && *conninfo && store_backend_find("postgres") != NULL) {
        pg.conninfo = conninfo;
        out[n++] = &pg;
    }
#endif
    return n;
}

/* Runs the group once per backend fixture_backends lists, each group named
 * after its backend: the failures, summed. */
static inline int fixture_run_per_backend(const struct CMUnitTest *tests, size_t n_tests)
{
    const fixture_backend *backends[4];
    int n = fixture_backends(backends, 4);
    int failed = 0;
    for (int i = 0; i < n; i++) {
        fixture_be = backends[i];
        failed += _cmocka_run_group_tests(backends[i]->name, tests, n_tests, NULL, NULL);
    }
    return failed;
}

typedef struct fixture {
    char root[64];     /* the mkdtemp directory */
    char data[128];    /* root/data: store_open must create it */
    store *s;
} fixture;

static inline int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void rm_tree(const char *dir) { nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS); }

static inline store *open_store(const char *dir, store_durability d)
{
    store_options opt = {.data_dir = dir, .durability = d, .backend = fixture_be->name,
                         .conninfo = fixture_be->conninfo};
    store *s = NULL;
    assert_int_equal(store_open(&opt, &s), STORE_OK);
    assert_non_null(s);
    return s;
}

static inline int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->root, sizeof f->root, "%s/meetd-store-XXXXXX", tmp != NULL && *tmp ? tmp : "/tmp");
    if (mkdtemp(f->root) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->data, sizeof f->data, "%s/data", f->root);
    store_options opt = {.data_dir = f->data, .durability = STORE_DURABLE_FULL,
                         .backend = fixture_be->name, .conninfo = fixture_be->conninfo};
    if ((fixture_be->reset != NULL && fixture_be->reset(fixture_be->conninfo) != 0) ||
        store_open(&opt, &f->s) != STORE_OK) {
        rm_tree(f->root);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

/* Bodies in progress: a failed assertion inside one jumps out of store_write
 * or store_read, leaving the store locked; it is then abandoned, not closed. */
static int bodies_running;

static inline int teardown(void **state)
{
    fixture *f = *state;
    if (bodies_running == 0 && f->s != NULL)
        store_close(f->s);
    bodies_running = 0;
    rm_tree(f->root);
    free(f);
    return 0;
}

/* Runs a test body inside a transaction; the body asserts as it goes. */
typedef void (*body_fn)(store_tx *tx, void *arg);
struct body {
    body_fn fn;
    void *arg;
};

static inline store_rc run_body(store_tx *tx, void *arg)
{
    struct body *b = arg;
    bodies_running++;
    b->fn(tx, b->arg);
    bodies_running--;
    return STORE_OK;
}

static inline void write_ok(store *s, body_fn fn, void *arg)
{
    struct body b = {fn, arg};
    assert_int_equal(store_write(s, run_body, &b), STORE_OK);
}

static inline void read_ok(store *s, body_fn fn, void *arg)
{
    struct body b = {fn, arg};
    assert_int_equal(store_read(s, run_body, &b), STORE_OK);
}

/* The rows of table in the store of data (the fixture's backend). */
static inline int64_t raw_count(const char *data, const char *table)
{
    return fixture_be->count(fixture_be->conninfo, data, table);
}

#endif
