/* The store's webhooks and outbox against their interface (store/store.h).
 * Every test gets a fresh directory from mkdtemp, removed at the end. */
#include <ftw.h>
#include <inttypes.h>
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

#include "store/store.h"

/* ---- fixture ------------------------------------------------------------ */

#include "store_fixture.h"

/* ---- builders ----------------------------------------------------------- */

static void app_body(store_tx *tx, void *arg)
{
    store_app a;
    memset(&a, 0, sizeof a);
    snprintf(a.app_id, sizeof a.app_id, "%s", (const char *)arg);
    a.created_at = 1700000000;
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
}

struct hook_req {
    const char *app_id;
    const char *url;
    store_webhook out;
};

static void hook_body(store_tx *tx, void *arg)
{
    struct hook_req *h = arg;
    memset(&h->out, 0, sizeof h->out);
    snprintf(h->out.app_id, sizeof h->out.app_id, "%s", h->app_id);
    snprintf(h->out.url, sizeof h->out.url, "%s", h->url);
    snprintf(h->out.token, sizeof h->out.token, "tok-%s", h->url);
    h->out.created_at = 1700000000123;
    assert_int_equal(store_webhook_insert(tx, &h->out), STORE_OK);
    assert_true(h->out.webhook_id > 0);
}

static int64_t add_hook(store *s, const char *app_id, const char *url)
{
    struct hook_req h = {app_id, url, {0}};
    write_ok(s, hook_body, &h);
    return h.out.webhook_id;
}

struct queue_req {
    int64_t webhook_id;
    const char *app_id;
    const char *event;
    const char *payload;
    int64_t created_at;
    int64_t due;
    int64_t delivery_id;
};

static void queue_body(store_tx *tx, void *arg)
{
    struct queue_req *q = arg;
    store_delivery d;
    memset(&d, 0, sizeof d);
    d.webhook_id = q->webhook_id;
    snprintf(d.app_id, sizeof d.app_id, "%s", q->app_id);
    snprintf(d.event, sizeof d.event, "%s", q->event);
    d.created_at = q->created_at;
    d.next_attempt_at = q->due;
    /* Settled-state fields are ignored on insert. */
    d.status = STORE_DELIVERY_DELIVERED;
    d.attempts = 7;
    assert_int_equal(store_outbox_insert(tx, &d, q->payload), STORE_OK);
    assert_true(d.delivery_id > 0);
    q->delivery_id = d.delivery_id;
}

static int64_t queue(store *s, int64_t webhook_id, const char *app_id, const char *payload,
                     int64_t due)
{
    struct queue_req q = {webhook_id, app_id, "meeting.participant-joined", payload, due - 5,
                          due, 0};
    write_ok(s, queue_body, &q);
    return q.delivery_id;
}

/* ---- webhooks ----------------------------------------------------------- */

#define LIST_MAX 8

struct hook_list {
    const char *app_id;
    int n;
    store_webhook w[LIST_MAX];
    int64_t count;
};

static store_rc hook_collect(const store_webhook *w, void *arg)
{
    struct hook_list *l = arg;
    assert_true(l->n < LIST_MAX);
    l->w[l->n++] = *w;
    return STORE_OK;
}

static void hook_list_body(store_tx *tx, void *arg)
{
    struct hook_list *l = arg;
    l->n = 0;
    assert_int_equal(store_webhook_list(tx, l->app_id, hook_collect, l), STORE_OK);
    assert_int_equal(store_webhook_count(tx, l->app_id, &l->count), STORE_OK);
    assert_int_equal(l->count, l->n);
}

struct hook_ref {
    const char *app_id;
    int64_t id;
    int rc;
    store_webhook w;
};

static void hook_get_body(store_tx *tx, void *arg)
{
    struct hook_ref *r = arg;
    r->rc = store_webhook_get(tx, r->app_id, r->id, &r->w);
}

static void hook_delete_body(store_tx *tx, void *arg)
{
    struct hook_ref *r = arg;
    r->rc = store_webhook_delete(tx, r->app_id, r->id);
}

static void test_webhooks_crud(void **state)
{
    fixture *f = *state;
    assert_true(store_schema_version(f->s) >= 2);
    write_ok(f->s, app_body, "app1");
    write_ok(f->s, app_body, "app2");
    int64_t a = add_hook(f->s, "app1", "http://a.example/hook");
    int64_t b = add_hook(f->s, "app1", "https://b.example/hook");
    int64_t c = add_hook(f->s, "app2", "http://c.example/");
    assert_true(a < b && b < c);

    struct hook_list l = {.app_id = "app1"};
    read_ok(f->s, hook_list_body, &l);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.w[0].webhook_id, a);
    assert_int_equal(l.w[1].webhook_id, b);
    assert_string_equal(l.w[0].app_id, "app1");
    assert_string_equal(l.w[0].url, "http://a.example/hook");
    assert_string_equal(l.w[0].token, "tok-http://a.example/hook");
    assert_int_equal(l.w[0].created_at, 1700000000123);

    struct hook_ref r = {"app1", b, -9, {0}};
    read_ok(f->s, hook_get_body, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_string_equal(r.w.url, "https://b.example/hook");
    /* Another app's webhook does not exist for this one. */
    r = (struct hook_ref){"app1", c, -9, {0}};
    read_ok(f->s, hook_get_body, &r);
    assert_int_equal(r.rc, STORE_NOTFOUND);
    r = (struct hook_ref){"app1", c, -9, {0}};
    write_ok(f->s, hook_delete_body, &r);
    assert_int_equal(r.rc, STORE_NOTFOUND);
    assert_int_equal(raw_count(f->data, "webhooks"), 3);

    r = (struct hook_ref){"app1", a, -9, {0}};
    write_ok(f->s, hook_delete_body, &r);
    assert_int_equal(r.rc, STORE_OK);
    write_ok(f->s, hook_delete_body, &r);
    assert_int_equal(r.rc, STORE_NOTFOUND);
    read_ok(f->s, hook_list_body, &l);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.w[0].webhook_id, b);

    /* Ids are never reused, not even the highest one after its delete. */
    r = (struct hook_ref){"app2", c, -9, {0}};
    write_ok(f->s, hook_delete_body, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_true(add_hook(f->s, "app2", "http://d.example/") > c);
}

/* ---- outbox ------------------------------------------------------------- */

#define DUE_MAX 64

struct due_list {
    int64_t now;
    int per_webhook;
    int n;
    store_delivery d[DUE_MAX];
    store_webhook w[DUE_MAX];
    int next_rc;
    int64_t next_at;
};

static store_rc due_collect(const store_delivery *d, const store_webhook *w, void *arg)
{
    struct due_list *l = arg;
    assert_true(l->n < DUE_MAX);
    l->d[l->n] = *d;
    l->w[l->n] = *w;
    l->n++;
    return STORE_OK;
}

static void due_body(store_tx *tx, void *arg)
{
    struct due_list *l = arg;
    l->n = 0;
    assert_int_equal(store_outbox_due(tx, l->now, l->per_webhook, due_collect, l), STORE_OK);
    l->next_rc = store_outbox_next_due(tx, l->now, &l->next_at);
}

static void due(store *s, struct due_list *l, int64_t now, int per_webhook)
{
    l->now = now;
    l->per_webhook = per_webhook;
    read_ok(s, due_body, l);
}

struct pending_req {
    int64_t id;
    int rc;
    store_delivery d;
    store_webhook w;
    char payload[64];
};

static store_rc pending_collect(const store_delivery *d, const store_webhook *w,
                                const char *payload, void *arg)
{
    struct pending_req *r = arg;
    r->d = *d;
    r->w = *w;
    snprintf(r->payload, sizeof r->payload, "%s", payload);
    return STORE_OK;
}

static void pending_body(store_tx *tx, void *arg)
{
    struct pending_req *r = arg;
    r->rc = store_outbox_pending(tx, r->id, pending_collect, r);
}

static struct pending_req pending(store *s, int64_t id)
{
    struct pending_req r;
    memset(&r, 0, sizeof r);
    r.id = id;
    r.rc = -9;
    read_ok(s, pending_body, &r);
    return r;
}

enum settle { DELIVER, RETRY, FAIL };

struct settle_req {
    enum settle how;
    int64_t id;
    int64_t at;
    int http;
    const char *error;
    int rc;
};

static void settle_body(store_tx *tx, void *arg)
{
    struct settle_req *r = arg;
    switch (r->how) {
    /* Holder 0: these deliveries were never claimed (store_outbox_claim). */
    case DELIVER: r->rc = store_outbox_delivered(tx, r->id, 0, r->at, r->http); break;
    case RETRY: r->rc = store_outbox_retry(tx, r->id, 0, r->at, r->http, r->error); break;
    case FAIL: r->rc = store_outbox_failed(tx, r->id, 0, r->http, r->error); break;
    }
}

static int settle(store *s, enum settle how, int64_t id, int64_t at, int http, const char *err)
{
    struct settle_req r = {how, id, at, http, err, -9};
    write_ok(s, settle_body, &r);
    return r.rc;
}

static void test_outbox_due_and_settle(void **state)
{
    fixture *f = *state;
    write_ok(f->s, app_body, "app1");
    int64_t h1 = add_hook(f->s, "app1", "http://one.example/");
    int64_t h2 = add_hook(f->s, "app1", "http://two.example/");

    struct due_list l;
    due(f->s, &l, 5000, 10);
    assert_int_equal(l.n, 0);
    assert_int_equal(l.next_rc, STORE_NOTFOUND);

    int64_t d1 = queue(f->s, h1, "app1", "{\"n\":1}", 1000);
    int64_t d2 = queue(f->s, h2, "app1", "{\"n\":2}", 3000);
    int64_t d3 = queue(f->s, h1, "app1", "{\"n\":3}", 2000);
    int64_t d4 = queue(f->s, h2, "app1", "{\"n\":4}", 9000);

    /* Due at 3000: three, by webhook and then earliest first, each with
     * its webhook. */
    due(f->s, &l, 3000, 10);
    assert_int_equal(l.n, 3);
    assert_int_equal(l.d[0].delivery_id, d1);
    assert_int_equal(l.d[1].delivery_id, d3);
    assert_int_equal(l.d[2].delivery_id, d2);
    assert_int_equal(l.w[0].webhook_id, h1);
    assert_int_equal(l.w[1].webhook_id, h1);
    assert_int_equal(l.w[2].webhook_id, h2);
    assert_string_equal(l.w[0].url, "http://one.example/");
    assert_string_equal(l.w[2].token, "tok-http://two.example/");
    assert_string_equal(l.d[0].event, "meeting.participant-joined");
    assert_string_equal(l.d[0].app_id, "app1");
    assert_int_equal(l.d[0].status, STORE_DELIVERY_PENDING);
    assert_int_equal(l.d[0].attempts, 0);
    assert_int_equal(l.d[0].created_at, 995);
    /* The next due after 3000 is d4's. */
    assert_int_equal(l.next_rc, STORE_OK);
    assert_int_equal(l.next_at, 9000);
    /* The limit takes each webhook's earliest. */
    due(f->s, &l, 3000, 1);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.d[0].delivery_id, d1);
    assert_int_equal(l.d[1].delivery_id, d2);
    /* One pending delivery with its webhook and event JSON. */
    struct pending_req p = pending(f->s, d2);
    assert_int_equal(p.rc, STORE_OK);
    assert_int_equal(p.d.delivery_id, d2);
    assert_int_equal(p.w.webhook_id, h2);
    assert_string_equal(p.w.token, "tok-http://two.example/");
    assert_string_equal(p.payload, "{\"n\":2}");
    assert_int_equal(pending(f->s, 999999).rc, STORE_NOTFOUND);

    /* Delivered: settled, no longer due; a second result changes nothing. */
    assert_int_equal(settle(f->s, DELIVER, d1, 3100, 204, NULL), STORE_OK);
    assert_int_equal(settle(f->s, DELIVER, d1, 3200, 200, NULL), STORE_NOTFOUND);
    assert_int_equal(settle(f->s, RETRY, d1, 3200, 500, "x"), STORE_NOTFOUND);
    /* Retry: counted and moved. */
    assert_int_equal(settle(f->s, RETRY, d3, 8000, 503, "HTTP 503"), STORE_OK);
    /* Failed: settled. */
    assert_int_equal(settle(f->s, FAIL, d2, 0, 0, "Couldn't connect to server"), STORE_OK);
    assert_int_equal(settle(f->s, FAIL, d2, 0, 0, "again"), STORE_NOTFOUND);

    due(f->s, &l, 7999, 10);
    assert_int_equal(l.n, 0);
    assert_int_equal(l.next_at, 8000);
    due(f->s, &l, 9000, 10);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.d[0].delivery_id, d3);
    assert_int_equal(l.d[0].attempts, 1);
    assert_int_equal(l.d[0].last_http_status, 503);
    assert_string_equal(l.d[0].last_error, "HTTP 503");
    assert_int_equal(l.d[1].delivery_id, d4);
    assert_int_equal(l.next_rc, STORE_NOTFOUND);
    /* Settled: no longer pending. */
    assert_int_equal(pending(f->s, d1).rc, STORE_NOTFOUND);
    assert_int_equal(pending(f->s, d2).rc, STORE_NOTFOUND);

    /* Unknown ids. */
    assert_int_equal(settle(f->s, DELIVER, 999999, 1, 200, NULL), STORE_NOTFOUND);
}

/* One webhook's backlog hides nobody's due delivery: a look lists a few of
 * each webhook's, whatever the order of their due times. */
static void test_outbox_due_per_webhook(void **state)
{
    fixture *f = *state;
    write_ok(f->s, app_body, "appA");
    write_ok(f->s, app_body, "appB");
    int64_t dead = add_hook(f->s, "appA", "http://dead.example/");
    int64_t other = add_hook(f->s, "appA", "http://other.example/");
    int64_t healthy = add_hook(f->s, "appB", "http://healthy.example/");
    int64_t backlog[40];
    for (int i = 0; i < 40; i++)
        backlog[i] = queue(f->s, dead, "appA", "{}", 1000 + i);
    int64_t a2 = queue(f->s, other, "appA", "{}", 5000);
    int64_t b1 = queue(f->s, healthy, "appB", "{}", 6000);
    queue(f->s, healthy, "appB", "{}", 7000);   /* not due yet */

    struct due_list l;
    due(f->s, &l, 6000, 4);
    assert_int_equal(l.n, 6);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(l.d[i].delivery_id, backlog[i]);
        assert_int_equal(l.w[i].webhook_id, dead);
    }
    assert_int_equal(l.d[4].delivery_id, a2);
    assert_int_equal(l.d[5].delivery_id, b1);
    assert_string_equal(l.w[5].app_id, "appB");
    assert_int_equal(l.next_at, 7000);
    /* Settling the first four brings the next four of the backlog. */
    for (int i = 0; i < 4; i++)
        assert_int_equal(settle(f->s, RETRY, backlog[i], 100000, 0, "timeout"), STORE_OK);
    due(f->s, &l, 6000, 4);
    assert_int_equal(l.n, 6);
    assert_int_equal(l.d[0].delivery_id, backlog[4]);
    assert_int_equal(l.d[3].delivery_id, backlog[7]);
}

/* ---- deliveries list ---------------------------------------------------- */

struct dlv_list {
    const char *app_id;
    int status;
    int64_t pos;
    int size;
    int n;
    int64_t total;
    store_delivery d[DUE_MAX];
};

static store_rc dlv_collect(const store_delivery *d, void *arg)
{
    struct dlv_list *l = arg;
    assert_true(l->n < DUE_MAX);
    l->d[l->n++] = *d;
    return STORE_OK;
}

static void dlv_body(store_tx *tx, void *arg)
{
    struct dlv_list *l = arg;
    l->n = 0;
    assert_int_equal(store_deliveries_list(tx, l->app_id, l->status, l->pos, l->size,
                                           dlv_collect, l, &l->total),
                     STORE_OK);
}

static void dlv(store *s, struct dlv_list *l, const char *app_id, int status, int64_t pos,
                int size)
{
    l->app_id = app_id;
    l->status = status;
    l->pos = pos;
    l->size = size;
    read_ok(s, dlv_body, l);
}

static void test_deliveries_list(void **state)
{
    fixture *f = *state;
    write_ok(f->s, app_body, "app1");
    write_ok(f->s, app_body, "app2");
    int64_t h1 = add_hook(f->s, "app1", "http://one.example/");
    int64_t h2 = add_hook(f->s, "app2", "http://two.example/");
    int64_t id[5];
    for (int i = 0; i < 5; i++)
        id[i] = queue(f->s, h1, "app1", "{}", 1000 + i);
    int64_t other = queue(f->s, h2, "app2", "{}", 1000);
    assert_int_equal(settle(f->s, DELIVER, id[1], 2000, 200, NULL), STORE_OK);
    assert_int_equal(settle(f->s, DELIVER, id[3], 2001, 201, NULL), STORE_OK);
    assert_int_equal(settle(f->s, FAIL, id[4], 0, 500, "HTTP 500"), STORE_OK);

    struct dlv_list l;
    dlv(f->s, &l, "app1", -1, 0, 10);
    assert_int_equal(l.total, 5);
    assert_int_equal(l.n, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(l.d[i].delivery_id, id[4 - i]);   /* newest first */
    assert_int_equal(l.d[0].status, STORE_DELIVERY_FAILED);
    assert_int_equal(l.d[0].attempts, 1);
    assert_string_equal(l.d[0].last_error, "HTTP 500");
    assert_int_equal(l.d[1].status, STORE_DELIVERY_DELIVERED);
    assert_int_equal(l.d[1].delivered_at, 2001);
    assert_int_equal(l.d[1].last_http_status, 201);
    assert_int_equal(l.d[1].webhook_id, h1);

    dlv(f->s, &l, "app1", -1, 1, 2);                          /* paging */
    assert_int_equal(l.total, 5);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.d[0].delivery_id, id[3]);
    assert_int_equal(l.d[1].delivery_id, id[2]);
    dlv(f->s, &l, "app1", -1, 4, 10);
    assert_int_equal(l.n, 1);
    dlv(f->s, &l, "app1", -1, 0, 0);                          /* count only */
    assert_int_equal(l.n, 0);
    assert_int_equal(l.total, 5);

    dlv(f->s, &l, "app1", STORE_DELIVERY_PENDING, 0, 10);
    assert_int_equal(l.total, 2);
    assert_int_equal(l.d[0].delivery_id, id[2]);
    assert_int_equal(l.d[1].delivery_id, id[0]);
    dlv(f->s, &l, "app1", STORE_DELIVERY_DELIVERED, 1, 10);
    assert_int_equal(l.total, 2);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.d[0].delivery_id, id[1]);
    dlv(f->s, &l, "app1", STORE_DELIVERY_FAILED, 0, 10);
    assert_int_equal(l.total, 1);

    dlv(f->s, &l, "app2", -1, 0, 10);                         /* tenancy */
    assert_int_equal(l.total, 1);
    assert_int_equal(l.d[0].delivery_id, other);
    dlv(f->s, &l, "nobody", -1, 0, 10);
    assert_int_equal(l.total, 0);
}

/* ---- cascades and restarts ---------------------------------------------- */

static void app_delete_body(store_tx *tx, void *arg)
{
    assert_int_equal(store_app_delete(tx, (const char *)arg), STORE_OK);
}

static void test_cascades(void **state)
{
    fixture *f = *state;
    write_ok(f->s, app_body, "app1");
    write_ok(f->s, app_body, "app2");
    int64_t h1 = add_hook(f->s, "app1", "http://one.example/");
    int64_t h2 = add_hook(f->s, "app1", "http://two.example/");
    int64_t h3 = add_hook(f->s, "app2", "http://three.example/");
    queue(f->s, h1, "app1", "{}", 1);
    queue(f->s, h1, "app1", "{}", 2);
    queue(f->s, h2, "app1", "{}", 3);
    queue(f->s, h3, "app2", "{}", 4);
    assert_int_equal(raw_count(f->data, "outbox"), 4);

    /* A deleted webhook takes its deliveries with it, pending ones too. */
    struct hook_ref r = {"app1", h1, -9, {0}};
    write_ok(f->s, hook_delete_body, &r);
    assert_int_equal(r.rc, STORE_OK);
    assert_int_equal(raw_count(f->data, "outbox"), 2);
    struct due_list l;
    due(f->s, &l, 100, 10);
    assert_int_equal(l.n, 2);

    /* So does a deleted app, through its webhooks. */
    write_ok(f->s, app_delete_body, "app1");
    assert_int_equal(raw_count(f->data, "webhooks"), 1);
    assert_int_equal(raw_count(f->data, "outbox"), 1);
}

static void test_survives_reopen(void **state)
{
    fixture *f = *state;
    write_ok(f->s, app_body, "app1");
    int64_t h = add_hook(f->s, "app1", "http://one.example/");
    int64_t d = queue(f->s, h, "app1", "{\"kept\":true}", 10);
    assert_int_equal(settle(f->s, RETRY, d, 20, 0, "Timeout was reached"), STORE_OK);
    store_close(f->s);
    f->s = NULL;

    store_options opt = {.data_dir = f->data, .durability = STORE_DURABLE_FULL};
    assert_int_equal(store_open(&opt, &f->s), 0);
    struct due_list l;
    due(f->s, &l, 20, 10);
    assert_int_equal(l.n, 1);
    assert_int_equal(l.d[0].delivery_id, d);
    assert_int_equal(l.d[0].attempts, 1);
    assert_string_equal(pending(f->s, d).payload, "{\"kept\":true}");
    assert_string_equal(l.d[0].last_error, "Timeout was reached");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_webhooks_crud, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_due_and_settle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_due_per_webhook, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deliveries_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cascades, setup, teardown),
        cmocka_unit_test_setup_teardown(test_survives_reopen, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
