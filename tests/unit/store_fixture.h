/* The fixture the store's cmocka tests share: a store in a fresh temporary
 * directory per test, test bodies run inside transactions, and a row count
 * read through a separate connection (what is really in the file). */
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

#include "store/store.h"

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
    store_options opt = {.data_dir = dir, .durability = d};
    store *s = NULL;
    assert_int_equal(store_open(&opt, &s), 0);
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
    store_options opt = {.data_dir = f->data, .durability = STORE_DURABLE_FULL};
    if (store_open(&opt, &f->s) != 0) {
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

static inline int run_body(store_tx *tx, void *arg)
{
    struct body *b = arg;
    bodies_running++;
    b->fn(tx, b->arg);
    bodies_running--;
    return 0;
}

static inline void write_ok(store *s, body_fn fn, void *arg)
{
    struct body b = {fn, arg};
    assert_int_equal(store_write(s, run_body, &b), 0);
}

static inline void read_ok(store *s, body_fn fn, void *arg)
{
    struct body b = {fn, arg};
    assert_int_equal(store_read(s, run_body, &b), 0);
}

static inline int64_t raw_count(const char *data, const char *table)
{
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

#endif
