/* Webhooks and the outbox their deliveries are made from. */
#include <assert.h>
#include <string.h>

#include "store/postgres/pgsql.h"

/* ---- webhooks ------------------------------------------------------------ */

store_rc pgsql_webhook_insert(store_tx *tx, store_webhook *w)
{
    assert(w != NULL);
    pgsql_params p = {0};
    PGSQL_P_STR(&p, w->app_id);
    PGSQL_P_STR(&p, w->url);
    PGSQL_P_STR(&p, w->token);
    pgsql_p_int(&p, w->created_at);
    int64_t id = 0;
    store_rc rc = pgsql_insert(tx, PGSQL_WEBHOOK_INSERT, &p, &id);
    if (rc == STORE_OK)
        w->webhook_id = id;
    return rc;
}

store_rc pgsql_webhook_get(store_tx *tx, const char *app_id, int64_t webhook_id,
                           store_webhook *out)
{
    assert(app_id != NULL && out != NULL);
    pgsql_params p = {0};
    pgsql_p_int(&p, webhook_id);
    pgsql_p_str(&p, app_id, PGSQL_ARG_MAX);
    store_rc rc;
    PGresult *r = pgsql_one(tx, PGSQL_WEBHOOK_GET, &p, &rc);
    if (r != NULL)
        store_row_webhook(PGSQL_ROW(r, 0), 0, out);
    PQclear(r);
    return rc;
}

struct webhook_iter {
    store_webhook_cb cb;
    void *arg;
};

static store_rc webhook_row(const PGresult *r, int row, void *ctx)
{
    const struct webhook_iter *it = ctx;
    store_webhook w;
    store_row_webhook(PGSQL_ROW(r, row), 0, &w);
    return it->cb(&w, it->arg);
}

store_rc pgsql_webhook_list(store_tx *tx, const char *app_id, store_webhook_cb cb, void *arg)
{
    assert(app_id != NULL && cb != NULL);
    pgsql_params p = {0};
    pgsql_p_str(&p, app_id, PGSQL_ARG_MAX);
    struct webhook_iter it = {cb, arg};
    return pgsql_each(tx, PGSQL_WEBHOOK_LIST, &p, webhook_row, &it);
}

store_rc pgsql_webhook_count(store_tx *tx, const char *app_id, int64_t *count)
{
    assert(app_id != NULL && count != NULL);
    pgsql_params p = {0};
    pgsql_p_str(&p, app_id, PGSQL_ARG_MAX);
    return pgsql_count(tx, PGSQL_WEBHOOK_COUNT, &p, count);
}

/* The foreign key cascades to the webhook's deliveries, pending ones
 * included: nobody is left to deliver them to. */
store_rc pgsql_webhook_delete(store_tx *tx, const char *app_id, int64_t webhook_id)
{
    assert(app_id != NULL);
    pgsql_params p = {0};
    pgsql_p_int(&p, webhook_id);
    pgsql_p_str(&p, app_id, PGSQL_ARG_MAX);
    return pgsql_exec_one(tx, PGSQL_WEBHOOK_DELETE, &p);
}

/* ---- outbox -------------------------------------------------------------- */

store_rc pgsql_outbox_insert(store_tx *tx, store_delivery *d, const char *payload)
{
    assert(d != NULL && payload != NULL);
    pgsql_params p = {0};
    pgsql_p_int(&p, d->webhook_id);
    PGSQL_P_STR(&p, d->app_id);
    PGSQL_P_STR(&p, d->event);
    /* The event JSON has no fixed bound: its own length. */
    pgsql_p_bytes(&p, payload, (int)strlen(payload));
    pgsql_p_int(&p, d->created_at);
    pgsql_p_int(&p, d->next_attempt_at);
    int64_t id = 0;
    store_rc rc = pgsql_insert(tx, PGSQL_OUTBOX_INSERT, &p, &id);
    if (rc == STORE_OK)
        d->delivery_id = id;
    return rc;
}

struct due_iter {
    store_due_cb cb;
    void *arg;
};

static store_rc due_row(const PGresult *r, int row, void *ctx)
{
    const struct due_iter *it = ctx;
    store_delivery d;
    store_webhook w;
    store_row_delivery(PGSQL_ROW(r, row), 0, &d);
    store_row_webhook(PGSQL_ROW(r, row), STORE_DELIVERY_NCOLS, &w);
    return it->cb(&d, &w, it->arg);
}

store_rc pgsql_outbox_due(store_tx *tx, int64_t now, int per_webhook, store_due_cb cb,
                          void *arg)
{
    assert(cb != NULL);
    if (per_webhook <= 0)
        return STORE_OK;
    pgsql_params p = {0};
    pgsql_p_int(&p, now);
    pgsql_p_int(&p, per_webhook);
    struct due_iter it = {cb, arg};
    return pgsql_each(tx, PGSQL_OUTBOX_DUE, &p, due_row, &it);
}

store_rc pgsql_outbox_pending(store_tx *tx, int64_t delivery_id, store_pending_cb cb,
                              void *arg)
{
    assert(cb != NULL);
    pgsql_params p = {0};
    pgsql_p_int(&p, delivery_id);
    store_rc rc;
    PGresult *r = pgsql_one(tx, PGSQL_OUTBOX_PENDING, &p, &rc);
    if (r == NULL)
        return rc;
    store_delivery d;
    store_webhook w;
    store_row_delivery(PGSQL_ROW(r, 0), 0, &d);
    store_row_webhook(PGSQL_ROW(r, 0), STORE_DELIVERY_NCOLS + 1, &w);
    rc = cb(&d, &w, PQgetvalue(r, 0, STORE_DELIVERY_NCOLS), arg);
    PQclear(r);
    return rc;
}

store_rc pgsql_outbox_next_due(store_tx *tx, int64_t after, int64_t *at)
{
    assert(at != NULL);
    pgsql_params p = {0};
    pgsql_p_int(&p, after);
    store_rc rc;
    PGresult *r = pgsql_one(tx, PGSQL_OUTBOX_NEXT_DUE, &p, &rc);
    if (r != NULL)
        *at = pgsql_int(r, 0, 0);
    PQclear(r);
    return rc;
}

/* Results of an attempt: they change only a pending delivery (NOTFOUND
 * when it is gone or settled already). */
/* The claim runs in the caller's write transaction: the lease is taken
 * when that commits, and a node that sees the row locked by another's claim
 * under way skips it (SKIP LOCKED) rather than waiting for that commit. */
store_rc pgsql_outbox_claim(store_tx *tx, int64_t delivery_id, int64_t holder, int64_t now,
                            int64_t until)
{
    pgsql_params p = {0};
    pgsql_p_int(&p, delivery_id);
    pgsql_p_int(&p, holder);
    pgsql_p_int(&p, now);
    pgsql_p_int(&p, until);
    return pgsql_exec_one(tx, PGSQL_OUTBOX_CLAIM, &p);
}

store_rc pgsql_outbox_release(store_tx *tx, int64_t delivery_id, int64_t holder, int64_t at)
{
    pgsql_params p = {0};
    pgsql_p_int(&p, delivery_id);
    pgsql_p_int(&p, holder);
    pgsql_p_int(&p, at);
    return pgsql_exec_one(tx, PGSQL_OUTBOX_RELEASE, &p);
}

store_rc pgsql_outbox_delivered(store_tx *tx, int64_t delivery_id, int64_t holder, int64_t at,
                                int http_status)
{
    pgsql_params p = {0};
    pgsql_p_int(&p, delivery_id);
    pgsql_p_int(&p, at);
    pgsql_p_int(&p, http_status);
    pgsql_p_int(&p, holder);
    return pgsql_exec_one(tx, PGSQL_OUTBOX_DELIVERED, &p);
}

store_rc pgsql_outbox_retry(store_tx *tx, int64_t delivery_id, int64_t holder,
                            int64_t next_attempt_at, int http_status, const char *error)
{
    pgsql_params p = {0};
    pgsql_p_int(&p, delivery_id);
    pgsql_p_int(&p, next_attempt_at);
    pgsql_p_int(&p, http_status);
    pgsql_p_str(&p, error != NULL ? error : "", STORE_DELIVERY_ERR_MAX + 1);
    pgsql_p_int(&p, holder);
    return pgsql_exec_one(tx, PGSQL_OUTBOX_RETRY, &p);
}

store_rc pgsql_outbox_failed(store_tx *tx, int64_t delivery_id, int64_t holder, int http_status,
                             const char *error)
{
    pgsql_params p = {0};
    pgsql_p_int(&p, delivery_id);
    pgsql_p_int(&p, http_status);
    pgsql_p_str(&p, error != NULL ? error : "", STORE_DELIVERY_ERR_MAX + 1);
    pgsql_p_int(&p, holder);
    return pgsql_exec_one(tx, PGSQL_OUTBOX_FAILED, &p);
}

struct delivery_iter {
    store_delivery_cb cb;
    void *arg;
};

static store_rc delivery_row(const PGresult *r, int row, void *ctx)
{
    const struct delivery_iter *it = ctx;
    store_delivery d;
    store_row_delivery(PGSQL_ROW(r, row), 0, &d);
    return it->cb(&d, it->arg);
}

/* Newest first; status -1 lists every status. A page past the end is
 * empty and costs the count alone (when the caller asks for the total). */
store_rc pgsql_deliveries_list(store_tx *tx, const char *app_id, int status, int64_t pos,
                               int size, store_delivery_cb cb, void *arg, int64_t *total)
{
    assert(app_id != NULL && cb != NULL);
    pgsql_page(&pos, &size);
    pgsql_params p = {0};
    pgsql_p_str(&p, app_id, PGSQL_ARG_MAX);
    pgsql_p_int(&p, status < 0 ? -1 : status);
    if (total != NULL) {
        store_rc rc = pgsql_count(tx, PGSQL_DELIVERIES_COUNT, &p, total);
        if (rc != STORE_OK)
            return rc;
    }
    if (size == 0 || (total != NULL && pos >= *total))
        return STORE_OK;
    pgsql_p_int(&p, size);
    pgsql_p_int(&p, pos);
    struct delivery_iter it = {cb, arg};
    return pgsql_each(tx, PGSQL_DELIVERIES_LIST, &p, delivery_row, &it);
}
