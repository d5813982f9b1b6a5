/* /meetd/v1/webhooks: an app's webhook URLs and what became of its events. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "live/webhook.h"

#define API_WEBHOOK_TOKEN_LEN 32

typedef struct api_hooks {
    api_call *c;
    store_webhook w;        /* create: the new one */
    int64_t id;             /* delete: the path's id */
    json_t *rows;
    int status;             /* deliveries: -1 or a store_delivery_status */
    int64_t pos;
    int size;
    int64_t total;
} api_hooks;

static const char *api_delivery_status(int status)
{
    switch (status) {
    case STORE_DELIVERY_DELIVERED: return "delivered";
    case STORE_DELIVERY_FAILED: return "failed";
    default: return "pending";
    }
}

static api_hooks *api_hooks_new(api_call *c)
{
    api_hooks *r = api_alloc(c, sizeof *r);
    if (r == NULL)
        return NULL;
    r->c = c;
    return r;
}

/* ---- POST /meetd/v1/webhooks -------------------------------------------- */

static meetd_err api_webhook_parse(api_call *c, store_webhook *w)
{
    json_t *body = NULL;
    bool has_token = false;
    if (api_body_object(c, &body) != ME_OK)
        return c->err.err;
    meetd_err e = api_field_str(c, body, "url", true, w->url, sizeof w->url, NULL);
    if (e == ME_OK)
        e = api_field_str(c, body, "token", false, w->token, sizeof w->token, &has_token);
    json_decref(body);
    if (e != ME_OK)
        return e;
    if (!webhook_url_valid(w->url))
        return api_fail(c, ME_INVALID, "url must be an http:// or https:// URL with a host, "
                                       "without spaces (at most %d bytes)", STORE_URL_MAX);
    if (has_token && !webhook_token_valid(w->token))
        return api_fail(c, ME_INVALID, "token must be 1..%d printable ASCII characters "
                                       "without spaces", STORE_TOKEN_MAX);
    /* Tencent's own tokens are alphanumeric; a generated one is too. */
    if (!has_token && ids_alnum(w->token, API_WEBHOOK_TOKEN_LEN) != 0)
        return api_fail(c, ME_INTERNAL, NULL);
    return ME_OK;
}

static meetd_err api_webhook_create_tx(store_tx *tx, void *arg)
{
    api_hooks *r = arg;
    api_call *c = r->c;
    int64_t n = 0;
    int rc = store_webhook_count(tx, c->app_id, &n);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "webhook_count");
    if (n >= WEBHOOK_MAX_PER_APP)
        return api_fail(c, ME_INVALID, "an app has at most %d webhooks", WEBHOOK_MAX_PER_APP);
    rc = store_webhook_insert(tx, &r->w);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "webhook_insert");
    return ME_OK;
}

static void api_webhook_create_done(api_call *c, void *arg, meetd_err e)
{
    api_hooks *r = arg;
    if (e == ME_OK)
        api_out(c, json_pack("{s:o,s:s,s:s,s:I}", "id", api_id_json(r->w.webhook_id), "url",
                             r->w.url, "token", r->w.token, "created_at",
                             (json_int_t)r->w.created_at));
    /* The token is a shared secret: no copy left behind on the heap. */
    explicit_bzero(&r->w, sizeof r->w);
    free(r);
}

void api_webhook_create(api_call *c)
{
    api_hooks *r = api_hooks_new(c);
    if (r == NULL)
        return;
    snprintf(r->w.app_id, sizeof r->w.app_id, "%s", c->app_id);
    r->w.created_at = clock_unix_ms();
    if (api_webhook_parse(c, &r->w) != ME_OK) {
        api_webhook_create_done(c, r, c->err.err);
        return;
    }
    api_write_then(c, api_webhook_create_tx, r, api_webhook_create_done);
}

/* ---- GET /meetd/v1/webhooks ---------------------------------------------- */

static store_rc api_webhook_row(const store_webhook *w, void *arg)
{
    api_hooks *r = arg;
    json_t *row = json_pack("{s:o,s:s,s:s,s:I}", "id", api_id_json(w->webhook_id), "url", w->url,
                            "token", w->token, "created_at", (json_int_t)w->created_at);
    return row != NULL && json_array_append_new(r->rows, row) == 0 ? STORE_OK : STORE_STOP;
}

static meetd_err api_webhooks_tx(store_tx *tx, void *arg)
{
    api_hooks *r = arg;
    int rc = store_webhook_list(tx, r->c->app_id, api_webhook_row, r);
    if (rc != STORE_OK)
        return api_store_fail(r->c, rc, "webhook_list");
    return ME_OK;
}

void api_webhooks_list(api_call *c)
{
    api_hooks *r = api_hooks_new(c);
    if (r == NULL)
        return;
    r->rows = json_array();
    if (r->rows == NULL)
        api_fail(c, ME_INTERNAL, NULL);
    else if (api_read(c, api_webhooks_tx, r) == ME_OK)
        api_out(c, json_pack("{s:O}", "webhooks", r->rows));
    json_decref(r->rows);
    free(r);
}

/* ---- DELETE /meetd/v1/webhooks/{id} --------------------------------------- */

/* 1..19 decimal digits; anything else names no webhook. */
static bool api_webhook_id(const char *s, int64_t *out)
{
    size_t len = strlen(s);
    if (len == 0 || len > 19)
        return false;
    for (size_t i = 0; i < len; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    unsigned long long v = strtoull(s, NULL, 10);
    if (v == 0 || v > INT64_MAX)
        return false;
    *out = (int64_t)v;
    return true;
}

static meetd_err api_webhook_delete_tx(store_tx *tx, void *arg)
{
    api_hooks *r = arg;
    api_call *c = r->c;
    /* Another app's webhook is as unknown as one that never existed. */
    int rc = store_webhook_delete(tx, c->app_id, r->id);
    if (rc == STORE_NOTFOUND)
        return api_fail(c, ME_INVALID, "no webhook %lld", (long long)r->id);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "webhook_delete");
    return ME_OK;
}

void api_webhook_delete(api_call *c)
{
    api_hooks *r = api_hooks_new(c);
    if (r == NULL)
        return;
    if (!api_webhook_id(c->param[0], &r->id)) {
        api_fail(c, ME_INVALID, "no webhook %.64s", c->param[0]);
        free(r);
        return;
    }
    api_write_then(c, api_webhook_delete_tx, r, api_then_free);
}

/* ---- GET /meetd/v1/webhooks/deliveries -------------------------------------- */

static store_rc api_delivery_row(const store_delivery *d, void *arg)
{
    api_hooks *r = arg;
    json_t *row = json_pack("{s:o,s:o,s:s,s:I,s:i,s:s,s:i,s:s,s:I,s:I}", "id",
                            api_id_json(d->delivery_id), "webhook_id", api_id_json(d->webhook_id),
                            "event", d->event, "created_at", (json_int_t)d->created_at,
                            "attempts", d->attempts, "status", api_delivery_status(d->status),
                            "last_http_status", d->last_http_status, "last_error",
                            d->last_error, "delivered_at", (json_int_t)d->delivered_at,
                            "next_attempt_at", (json_int_t)d->next_attempt_at);
    return row != NULL && json_array_append_new(r->rows, row) == 0 ? STORE_OK : STORE_STOP;
}

static meetd_err api_deliveries_tx(store_tx *tx, void *arg)
{
    api_hooks *r = arg;
    int rc = store_deliveries_list(tx, r->c->app_id, r->status, r->pos, r->size,
                                   api_delivery_row, r, &r->total);
    if (rc != STORE_OK)
        return api_store_fail(r->c, rc, "deliveries_list");
    return ME_OK;
}

static meetd_err api_delivery_filter(api_call *c, int *status)
{
    static const struct { const char *name; int status; } names[] = {
        {"pending", STORE_DELIVERY_PENDING},
        {"delivered", STORE_DELIVERY_DELIVERED},
        {"failed", STORE_DELIVERY_FAILED},
    };
    const char *s = c->query(c->io, "status");
    *status = -1;
    if (s == NULL || *s == '\0')
        return ME_OK;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(s, names[i].name) == 0) {
            *status = names[i].status;
            return ME_OK;
        }
    return api_fail(c, ME_INVALID, "status must be pending, delivered or failed");
}

void api_webhook_deliveries(api_call *c)
{
    long long pos, size;
    api_hooks *r = api_hooks_new(c);
    if (r == NULL)
        return;
    r->rows = json_array();
    if (r->rows == NULL) {
        api_fail(c, ME_INTERNAL, NULL);
    } else if (api_query_int(c, "pos", 0, INT64_MAX, 0, &pos) == ME_OK &&
               api_query_int(c, "size", 1, 100, 20, &size) == ME_OK &&
               api_delivery_filter(c, &r->status) == ME_OK) {
        r->pos = pos;
        r->size = (int)size;
        if (api_read(c, api_deliveries_tx, r) == ME_OK) {
            int64_t next = r->pos + (int64_t)json_array_size(r->rows);
            api_out(c, json_pack("{s:I,s:b,s:I,s:O}", "total_count", (json_int_t)r->total,
                                 "has_remaining", next < r->total, "next_pos", (json_int_t)next,
                                 "deliveries", r->rows));
        }
    }
    json_decref(r->rows);
    free(r);
}
