/* Apps and their API keys, and the nonces signed writes spent. */
#include <assert.h>
#include <string.h>

#include "store/postgres/pgsql.h"

/* ---- spent nonces -------------------------------------------------------- */

/* As SQLite's (sqlite/spent.c): the triple is inserted in the write's own
 * transaction; rows below keep_from are deleted once per second of it per
 * connection, and by one connection of the cluster at a time (the others'
 * prune skips under the advisory lock, and the next second's takes the
 * rows along). */
store_rc pgsql_spend(store_tx *tx, const char *app_id, int64_t timestamp, uint64_t nonce,
                     int64_t keep_from)
{
    assert(app_id != NULL);
    if (!tx->writable)
        return pgsql_invalid(tx, "store_spend inside store_read");
    pgsql_params p = {0};
    pgsql_p_int(&p, timestamp);
    /* bigint is signed: a nonce of 2^63 or more is kept as its two's
     * complement, as unique as the nonce itself. */
    pgsql_p_int(&p, (int64_t)nonce);
    pgsql_p_str(&p, app_id, PGSQL_ARG_MAX);
    store_rc rc = pgsql_insert(tx, PGSQL_SPENT_INSERT, &p, NULL);
    if (rc != STORE_OK)
        return rc;
    pgsql_conn *c = tx->conn;
    if (keep_from <= c->spent_pruned)
        return STORE_OK;
    pgsql_params q = {0};
    pgsql_p_int(&q, keep_from);
    pgsql_p_int(&q, PGSQL_LOCK_SPENT);
    rc = pgsql_exec(tx, PGSQL_SPENT_PRUNE, &q, NULL);
    if (rc == STORE_OK)
        c->spent_pruned = keep_from;
    return rc;
}

/* ---- apps ----------------------------------------------------------------- */

store_rc pgsql_app_insert(store_tx *tx, const store_app *app)
{
    assert(app != NULL);
    tx->keys_changed = true;
    pgsql_params p = {0};
    PGSQL_P_STR(&p, app->app_id);
    PGSQL_P_STR(&p, app->sdk_id);
    PGSQL_P_STR(&p, app->name);
    pgsql_p_int(&p, app->created_at);
    return pgsql_insert(tx, PGSQL_APP_INSERT, &p, NULL);
}

store_rc pgsql_app_get(store_tx *tx, const char *app_id, store_app *out)
{
    assert(app_id != NULL && out != NULL);
    pgsql_params p = {0};
    pgsql_p_str(&p, app_id, PGSQL_ARG_MAX);
    store_rc rc;
    PGresult *r = pgsql_one(tx, PGSQL_APP_GET, &p, &rc);
    if (r != NULL)
        store_row_app(PGSQL_ROW(r, 0), 0, out);
    PQclear(r);
    return rc;
}

struct app_iter {
    store_app_cb cb;
    void *arg;
};

static store_rc app_row(const PGresult *r, int row, void *ctx)
{
    const struct app_iter *it = ctx;
    store_app a;
    store_row_app(PGSQL_ROW(r, row), 0, &a);
    return it->cb(&a, it->arg);
}

store_rc pgsql_app_list(store_tx *tx, store_app_cb cb, void *arg)
{
    assert(cb != NULL);
    struct app_iter it = {cb, arg};
    return pgsql_each(tx, PGSQL_APP_LIST, NULL, app_row, &it);
}

/* In a write, the count is taken under a transaction-level advisory lock
 * that every other write's count waits for: "count the apps, create one if
 * there is none" in one write transaction then creates exactly one app,
 * however many nodes start on an empty database together (the count runs
 * after the lock is granted, and at READ COMMITTED it sees what the holder
 * committed). */
store_rc pgsql_app_count(store_tx *tx, int64_t *count)
{
    assert(count != NULL);
    if (tx->writable) {
        pgsql_params p = {0};
        pgsql_p_int(&p, PGSQL_LOCK_APPS);
        store_rc rc = pgsql_exec(tx, PGSQL_APPS_LOCK, &p, NULL);
        if (rc != STORE_OK)
            return rc;
    }
    return pgsql_count(tx, PGSQL_APP_COUNT, NULL, count);
}

store_rc pgsql_app_delete(store_tx *tx, const char *app_id)
{
    assert(app_id != NULL);
    tx->keys_changed = true;
    /* The foreign keys cascade: keys, webhooks, meetings, and below the
     * meetings their hosts, occurrences, users, devices, bans and audit. */
    pgsql_params p = {0};
    pgsql_p_str(&p, app_id, PGSQL_ARG_MAX);
    return pgsql_exec_one(tx, PGSQL_APP_DELETE, &p);
}

/* ---- keys ------------------------------------------------------------------ */

store_rc pgsql_key_insert(store_tx *tx, const store_key *key)
{
    assert(key != NULL);
    tx->keys_changed = true;
    pgsql_params p = {0};
    PGSQL_P_STR(&p, key->secret_id);
    PGSQL_P_STR(&p, key->secret_key);
    PGSQL_P_STR(&p, key->app_id);
    pgsql_p_int(&p, key->created_at);
    return pgsql_insert(tx, PGSQL_KEY_INSERT, &p, NULL);
}

store_rc pgsql_key_get(store_tx *tx, const char *secret_id, store_key *key, store_app *app)
{
    assert(secret_id != NULL);
    pgsql_params p = {0};
    pgsql_p_str(&p, secret_id, PGSQL_ARG_MAX);
    store_rc rc;
    PGresult *r = pgsql_one(tx, PGSQL_KEY_GET, &p, &rc);
    if (r != NULL && key != NULL)
        store_row_key(PGSQL_ROW(r, 0), 0, key);
    if (r != NULL && app != NULL)
        store_row_app(PGSQL_ROW(r, 0), 4, app);
    PQclear(r);
    return rc;
}

struct key_iter {
    store_key_cb cb;
    void *arg;
};

static store_rc key_row(const PGresult *r, int row, void *ctx)
{
    const struct key_iter *it = ctx;
    store_key k;
    store_row_key(PGSQL_ROW(r, row), 0, &k);
    store_rc rc = it->cb(&k, it->arg);
    explicit_bzero(&k, sizeof k); /* no stray copies of secret keys */
    return rc;
}

store_rc pgsql_key_list(store_tx *tx, const char *app_id, store_key_cb cb, void *arg)
{
    assert(app_id != NULL && cb != NULL);
    pgsql_params p = {0};
    pgsql_p_str(&p, app_id, PGSQL_ARG_MAX);
    struct key_iter it = {cb, arg};
    return pgsql_each(tx, PGSQL_KEY_LIST, &p, key_row, &it);
}

store_rc pgsql_key_delete_all(store_tx *tx, const char *app_id)
{
    assert(app_id != NULL);
    tx->keys_changed = true;
    pgsql_params p = {0};
    pgsql_p_str(&p, app_id, PGSQL_ARG_MAX);
    return pgsql_exec(tx, PGSQL_KEY_DELETE_ALL, &p, NULL);
}
