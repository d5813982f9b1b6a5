/* Apps and their API keys. */
#include <assert.h>

#include "store/sqlite/lite.h"

store_rc lite_app_insert(store_tx *tx, const store_app *app)
{
    assert(app != NULL);
    tx->keys_changed = true;
    sqlite3_stmt *st = lite_stmt(tx, STMT_APP_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    int b = LITE_BIND_STR(st, 1, app->app_id);
    b |= LITE_BIND_STR(st, 2, app->sdk_id);
    b |= LITE_BIND_STR(st, 3, app->name);
    b |= sqlite3_bind_int64(st, 4, app->created_at);
    return lite_exec(tx, STMT_APP_INSERT, st, b, NULL);
}

store_rc lite_app_get(store_tx *tx, const char *app_id, store_app *out)
{
    assert(app_id != NULL && out != NULL);
    sqlite3_stmt *st = lite_stmt(tx, STMT_APP_GET);
    if (st == NULL)
        return STORE_ERROR;
    int rc = lite_row(tx, STMT_APP_GET, st, lite_bind_str(st, 1, app_id, LITE_ARG_MAX));
    if (rc == STORE_OK)
        store_row_app(LITE_ROW(st), 0, out);
    lite_done(tx, STMT_APP_GET, st);
    return rc;
}

struct app_iter {
    store_app_cb cb;
    void *arg;
};

static store_rc app_row(sqlite3_stmt *st, void *ctx)
{
    const struct app_iter *it = ctx;
    store_app a;
    store_row_app(LITE_ROW(st), 0, &a);
    return it->cb(&a, it->arg);
}

store_rc lite_app_list(store_tx *tx, store_app_cb cb, void *arg)
{
    assert(cb != NULL);
    sqlite3_stmt *st = lite_stmt(tx, STMT_APP_LIST);
    if (st == NULL)
        return STORE_ERROR;
    struct app_iter it = {cb, arg};
    return lite_each(tx, STMT_APP_LIST, st, SQLITE_OK, app_row, &it);
}

store_rc lite_app_count(store_tx *tx, int64_t *count)
{
    assert(count != NULL);
    sqlite3_stmt *st = lite_stmt(tx, STMT_APP_COUNT);
    if (st == NULL)
        return STORE_ERROR;
    return lite_count(tx, STMT_APP_COUNT, st, SQLITE_OK, count);
}

store_rc lite_app_delete(store_tx *tx, const char *app_id)
{
    assert(app_id != NULL);
    tx->keys_changed = true;
    /* The foreign keys cascade: keys, meetings, and below the meetings their
     * hosts, occurrences, users, devices, bans and audit. */
    if (lite_tx_conn(tx)->mcache != NULL)
        lite_mcache_clear(lite_tx_conn(tx)->mcache);
    sqlite3_stmt *st = lite_stmt(tx, STMT_APP_DELETE);
    if (st == NULL)
        return STORE_ERROR;
    int64_t n = 0;
    int rc = lite_exec(tx, STMT_APP_DELETE, st, lite_bind_str(st, 1, app_id, LITE_ARG_MAX),
                        &n);
    return rc == STORE_OK && n == 0 ? STORE_NOTFOUND : rc;
}

store_rc lite_key_insert(store_tx *tx, const store_key *key)
{
    assert(key != NULL);
    tx->keys_changed = true;
    sqlite3_stmt *st = lite_stmt(tx, STMT_KEY_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    int b = LITE_BIND_STR(st, 1, key->secret_id);
    b |= LITE_BIND_STR(st, 2, key->secret_key);
    b |= LITE_BIND_STR(st, 3, key->app_id);
    b |= sqlite3_bind_int64(st, 4, key->created_at);
    return lite_exec(tx, STMT_KEY_INSERT, st, b, NULL);
}

store_rc lite_key_get(store_tx *tx, const char *secret_id, store_key *key, store_app *app)
{
    assert(secret_id != NULL);
    sqlite3_stmt *st = lite_stmt(tx, STMT_KEY_GET);
    if (st == NULL)
        return STORE_ERROR;
    int rc = lite_row(tx, STMT_KEY_GET, st, lite_bind_str(st, 1, secret_id, LITE_ARG_MAX));
    if (rc == STORE_OK) {
        if (key != NULL)
            store_row_key(LITE_ROW(st), 0, key);
        if (app != NULL)
            store_row_app(LITE_ROW(st), 4, app);
    }
    lite_done(tx, STMT_KEY_GET, st);
    return rc;
}

struct key_iter {
    store_key_cb cb;
    void *arg;
};

static store_rc key_row(sqlite3_stmt *st, void *ctx)
{
    const struct key_iter *it = ctx;
    store_key k;
    store_row_key(LITE_ROW(st), 0, &k);
    int rc = it->cb(&k, it->arg);
    explicit_bzero(&k, sizeof k); /* no stray copies of secret keys */
    return rc;
}

store_rc lite_key_list(store_tx *tx, const char *app_id, store_key_cb cb, void *arg)
{
    assert(app_id != NULL && cb != NULL);
    sqlite3_stmt *st = lite_stmt(tx, STMT_KEY_LIST);
    if (st == NULL)
        return STORE_ERROR;
    struct key_iter it = {cb, arg};
    return lite_each(tx, STMT_KEY_LIST, st, lite_bind_str(st, 1, app_id, LITE_ARG_MAX),
                      key_row, &it);
}

store_rc lite_key_delete_all(store_tx *tx, const char *app_id)
{
    assert(app_id != NULL);
    tx->keys_changed = true;
    sqlite3_stmt *st = lite_stmt(tx, STMT_KEY_DELETE_ALL);
    if (st == NULL)
        return STORE_ERROR;
    return lite_exec(tx, STMT_KEY_DELETE_ALL, st,
                      lite_bind_str(st, 1, app_id, LITE_ARG_MAX), NULL);
}
