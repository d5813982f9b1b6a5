/* Webhooks and the outbox their deliveries are made from. */
#include <assert.h>

#include "store/sqlite/lite.h"

/* Runs an UPDATE or DELETE of one row: NOTFOUND when it matched none. */
static store_rc exec_one(store_tx *tx, enum lite_stmt_id id, sqlite3_stmt *st, int bind_rc)
{
    int64_t n = 0;
    int rc = lite_exec(tx, id, st, bind_rc, &n);
    return rc == STORE_OK && n == 0 ? STORE_NOTFOUND : rc;
}

/* ---- webhooks ------------------------------------------------------------ */

store_rc lite_webhook_insert(store_tx *tx, store_webhook *w)
{
    assert(w != NULL);
    if (lite_tx_conn(tx)->mcache != NULL)
        lite_mcache_drop_hooks(lite_tx_conn(tx)->mcache, w->app_id);
    sqlite3_stmt *st = lite_stmt(tx, STMT_WEBHOOK_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    int r = LITE_BIND_STR(st, 1, w->app_id);
    r |= LITE_BIND_STR(st, 2, w->url);
    r |= LITE_BIND_STR(st, 3, w->token);
    r |= sqlite3_bind_int64(st, 4, w->created_at);
    int rc = lite_exec(tx, STMT_WEBHOOK_INSERT, st, r, NULL);
    if (rc == STORE_OK)
        w->webhook_id = sqlite3_last_insert_rowid(lite_tx_conn(tx)->db);
    return rc;
}

store_rc lite_webhook_get(store_tx *tx, const char *app_id, int64_t webhook_id, store_webhook *out)
{
    assert(app_id != NULL && out != NULL);
    sqlite3_stmt *st = lite_stmt(tx, STMT_WEBHOOK_GET);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, webhook_id);
    r |= lite_bind_str(st, 2, app_id, LITE_ARG_MAX);
    int rc = lite_row(tx, STMT_WEBHOOK_GET, st, r);
    if (rc == STORE_OK)
        store_row_webhook(LITE_ROW(st), 0, out);
    lite_done(tx, STMT_WEBHOOK_GET, st);
    return rc;
}

struct webhook_iter {
    store_webhook_cb cb;
    void *arg;
    int rows;
};

static store_rc webhook_row(sqlite3_stmt *st, void *ctx)
{
    struct webhook_iter *it = ctx;
    it->rows++;
    store_webhook w;
    store_row_webhook(LITE_ROW(st), 0, &w);
    return it->cb(&w, it->arg);
}

store_rc lite_webhook_list(store_tx *tx, const char *app_id, store_webhook_cb cb, void *arg)
{
    assert(app_id != NULL && cb != NULL);
    lite_mcache *mc = lite_tx_conn(tx)->mcache;
    if (mc != NULL && lite_mcache_no_hooks(mc, app_id))
        return STORE_OK;
    sqlite3_stmt *st = lite_stmt(tx, STMT_WEBHOOK_LIST);
    if (st == NULL)
        return STORE_ERROR;
    struct webhook_iter it = {cb, arg, 0};
    int rc = lite_each(tx, STMT_WEBHOOK_LIST, st, lite_bind_str(st, 1, app_id, LITE_ARG_MAX),
                        webhook_row, &it);
    if (rc == STORE_OK && it.rows == 0 && mc != NULL)
        lite_mcache_put_no_hooks(mc, app_id);
    return rc;
}

store_rc lite_webhook_count(store_tx *tx, const char *app_id, int64_t *count)
{
    assert(app_id != NULL && count != NULL);
    sqlite3_stmt *st = lite_stmt(tx, STMT_WEBHOOK_COUNT);
    if (st == NULL)
        return STORE_ERROR;
    return lite_count(tx, STMT_WEBHOOK_COUNT, st, lite_bind_str(st, 1, app_id, LITE_ARG_MAX),
                       count);
}

store_rc lite_webhook_delete(store_tx *tx, const char *app_id, int64_t webhook_id)
{
    assert(app_id != NULL);
    /* Marks the job as a changer: rolled back, its "none" must go too. */
    if (lite_tx_conn(tx)->mcache != NULL)
        lite_mcache_drop_hooks(lite_tx_conn(tx)->mcache, app_id);
    /* The foreign key cascades to the webhook's deliveries, pending ones
     * included: nobody is left to deliver them to. */
    sqlite3_stmt *st = lite_stmt(tx, STMT_WEBHOOK_DELETE);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, webhook_id);
    r |= lite_bind_str(st, 2, app_id, LITE_ARG_MAX);
    return exec_one(tx, STMT_WEBHOOK_DELETE, st, r);
}

/* ---- outbox -------------------------------------------------------------- */

store_rc lite_outbox_insert(store_tx *tx, store_delivery *d, const char *payload)
{
    assert(d != NULL && payload != NULL);
    sqlite3_stmt *st = lite_stmt(tx, STMT_OUTBOX_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, d->webhook_id);
    r |= LITE_BIND_STR(st, 2, d->app_id);
    r |= LITE_BIND_STR(st, 3, d->event);
    /* The event JSON has no fixed bound; SQLite's own limit applies. */
    r |= sqlite3_bind_text(st, 4, payload, -1, SQLITE_STATIC);
    r |= sqlite3_bind_int64(st, 5, d->created_at);
    r |= sqlite3_bind_int64(st, 6, d->next_attempt_at);
    int rc = lite_exec(tx, STMT_OUTBOX_INSERT, st, r, NULL);
    if (rc == STORE_OK)
        d->delivery_id = sqlite3_last_insert_rowid(lite_tx_conn(tx)->db);
    return rc;
}

struct due_iter {
    store_due_cb cb;
    void *arg;
};

static store_rc due_row(sqlite3_stmt *st, void *ctx)
{
    const struct due_iter *it = ctx;
    store_delivery d;
    store_webhook w;
    store_row_delivery(LITE_ROW(st), 0, &d);
    store_row_webhook(LITE_ROW(st), STORE_DELIVERY_NCOLS, &w);
    return it->cb(&d, &w, it->arg);
}

store_rc lite_outbox_due(store_tx *tx, int64_t now, int per_webhook, store_due_cb cb, void *arg)
{
    assert(cb != NULL);
    if (per_webhook <= 0)
        return STORE_OK;
    sqlite3_stmt *st = lite_stmt(tx, STMT_OUTBOX_DUE);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, now);
    r |= sqlite3_bind_int(st, 2, per_webhook);
    struct due_iter it = {cb, arg};
    return lite_each(tx, STMT_OUTBOX_DUE, st, r, due_row, &it);
}

store_rc lite_outbox_pending(store_tx *tx, int64_t delivery_id, store_pending_cb cb, void *arg)
{
    assert(cb != NULL);
    sqlite3_stmt *st = lite_stmt(tx, STMT_OUTBOX_PENDING);
    if (st == NULL)
        return STORE_ERROR;
    int rc = lite_row(tx, STMT_OUTBOX_PENDING, st, sqlite3_bind_int64(st, 1, delivery_id));
    if (rc == STORE_OK) {
        store_delivery d;
        store_webhook w;
        store_row_delivery(LITE_ROW(st), 0, &d);
        const char *payload = (const char *)sqlite3_column_text(st, STORE_DELIVERY_NCOLS);
        store_row_webhook(LITE_ROW(st), STORE_DELIVERY_NCOLS + 1, &w);
        rc = cb(&d, &w, payload != NULL ? payload : "", arg);
    }
    lite_done(tx, STMT_OUTBOX_PENDING, st);
    return rc;
}

store_rc lite_outbox_next_due(store_tx *tx, int64_t after, int64_t *at)
{
    assert(at != NULL);
    sqlite3_stmt *st = lite_stmt(tx, STMT_OUTBOX_NEXT_DUE);
    if (st == NULL)
        return STORE_ERROR;
    int rc = lite_row(tx, STMT_OUTBOX_NEXT_DUE, st, sqlite3_bind_int64(st, 1, after));
    if (rc == STORE_OK)
        *at = sqlite3_column_int64(st, 0);
    lite_done(tx, STMT_OUTBOX_NEXT_DUE, st);
    return rc;
}

/* SQLite has one writer: the claim's check and its update cannot
 * interleave with another's. */
store_rc lite_outbox_claim(store_tx *tx, int64_t delivery_id, int64_t holder, int64_t now,
                           int64_t until)
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_OUTBOX_CLAIM);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, delivery_id);
    r |= sqlite3_bind_int64(st, 2, holder);
    r |= sqlite3_bind_int64(st, 3, now);
    r |= sqlite3_bind_int64(st, 4, until);
    return exec_one(tx, STMT_OUTBOX_CLAIM, st, r);
}

store_rc lite_outbox_release(store_tx *tx, int64_t delivery_id, int64_t holder, int64_t at)
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_OUTBOX_RELEASE);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, delivery_id);
    r |= sqlite3_bind_int64(st, 2, holder);
    r |= sqlite3_bind_int64(st, 3, at);
    return exec_one(tx, STMT_OUTBOX_RELEASE, st, r);
}

store_rc lite_outbox_delivered(store_tx *tx, int64_t delivery_id, int64_t holder, int64_t at,
                               int http_status)
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_OUTBOX_DELIVERED);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, delivery_id);
    r |= sqlite3_bind_int64(st, 2, at);
    r |= sqlite3_bind_int(st, 3, http_status);
    r |= sqlite3_bind_int64(st, 4, holder);
    return exec_one(tx, STMT_OUTBOX_DELIVERED, st, r);
}

store_rc lite_outbox_retry(store_tx *tx, int64_t delivery_id, int64_t holder,
                           int64_t next_attempt_at, int http_status, const char *error)
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_OUTBOX_RETRY);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, delivery_id);
    r |= sqlite3_bind_int64(st, 2, next_attempt_at);
    r |= sqlite3_bind_int(st, 3, http_status);
    r |= lite_bind_str(st, 4, error != NULL ? error : "", STORE_DELIVERY_ERR_MAX);
    r |= sqlite3_bind_int64(st, 5, holder);
    return exec_one(tx, STMT_OUTBOX_RETRY, st, r);
}

store_rc lite_outbox_failed(store_tx *tx, int64_t delivery_id, int64_t holder, int http_status,
                            const char *error)
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_OUTBOX_FAILED);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, delivery_id);
    r |= sqlite3_bind_int(st, 2, http_status);
    r |= lite_bind_str(st, 3, error != NULL ? error : "", STORE_DELIVERY_ERR_MAX);
    r |= sqlite3_bind_int64(st, 4, holder);
    return exec_one(tx, STMT_OUTBOX_FAILED, st, r);
}

struct delivery_iter {
    store_delivery_cb cb;
    void *arg;
};

static store_rc delivery_row(sqlite3_stmt *st, void *ctx)
{
    const struct delivery_iter *it = ctx;
    store_delivery d;
    store_row_delivery(LITE_ROW(st), 0, &d);
    return it->cb(&d, it->arg);
}

store_rc lite_deliveries_list(store_tx *tx, const char *app_id, int status, int64_t pos, int size,
                               store_delivery_cb cb, void *arg, int64_t *total)
{
    assert(app_id != NULL && cb != NULL);
    bool all = status < 0;
    enum lite_stmt_id count_id = all ? STMT_DELIVERIES_COUNT_ALL : STMT_DELIVERIES_COUNT_STATUS;
    enum lite_stmt_id list_id = all ? STMT_DELIVERIES_LIST_ALL : STMT_DELIVERIES_LIST_STATUS;
    lite_page(&pos, &size);
    if (total != NULL) {
        sqlite3_stmt *st = lite_stmt(tx, count_id);
        if (st == NULL)
            return STORE_ERROR;
        int r = lite_bind_str(st, 1, app_id, LITE_ARG_MAX);
        if (!all)
            r |= sqlite3_bind_int(st, 2, status);
        int rc = lite_count(tx, count_id, st, r, total);
        if (rc != STORE_OK)
            return rc;
    }
    /* A page past the end is empty: OFFSET would step over every row to
     * find that out. */
    if (size == 0 || (total != NULL && pos >= *total))
        return STORE_OK;
    sqlite3_stmt *st = lite_stmt(tx, list_id);
    if (st == NULL)
        return STORE_ERROR;
    /* Both statements number LIMIT and OFFSET ?3 and ?4; the ALL one simply
     * has no ?2. */
    int r = lite_bind_str(st, 1, app_id, LITE_ARG_MAX);
    if (!all)
        r |= sqlite3_bind_int(st, 2, status);
    r |= sqlite3_bind_int(st, 3, size);
    r |= sqlite3_bind_int64(st, 4, pos);
    struct delivery_iter it = {cb, arg};
    return lite_each(tx, list_id, st, r, delivery_row, &it);
}
