/* The API's answers when memory runs out.
 *
 * Each handler that builds a JSON answer is run again and again with
 * jansson's allocator failing from its Nth allocation on (N = 0, 1, 2, ...,
 * until a run needs fewer than N): every run must answer the internal
 * error (5108) with no body of its own, or, when the failures fell where
 * they do no harm, the whole answer. Never a crash, never a 200 with `{}`
 * or with part of an answer (a list short of rows, a row short of fields).
 *
 * The handlers run as the HTTP layer runs them (api/api.h: an api_call,
 * no socket), on a real store in a temporary directory, against a fixture
 * made through the same handlers: a recurring meeting with a co-host, a
 * guest, a removal with a ban, a webhook. */
#include <string.h>
#include <strings.h>
#include <time.h>

#include <jansson.h>

#include "store_fixture.h"

#include "api/api.h"
#include "live/live.h"

/* A run needs a few hundred allocations; far more means a loop. */
#define OOM_RUNS_MAX 20000

/* ---- the failing allocator ------------------------------------------------ */

static long oom_left = -1;   /* allocations before they fail; -1: never */
static long oom_failed;      /* allocations refused in this run */

static void *oom_malloc(size_t n)
{
    if (oom_left == 0) {
        oom_failed++;
        return NULL;
    }
    if (oom_left > 0)
        oom_left--;
    return malloc(n);
}

/* ---- the world ------------------------------------------------------------ */

#define APP_ID "oomapp"

static struct {
    fixture *f;          /* the store's temp dir (store_fixture.h) */
    store *st;
    live_hub *live;
    api_env env;
    int64_t now;
    char mid[24];        /* a recurring meeting, in progress */
    char body[512];      /* the request body a `before` step prepares */
} W;

typedef struct io_pairs {
    const char *const *query;     /* name, value, ..., NULL */
    const char *const *headers;
} io_pairs;

static const char *io_find(const char *const *kv, const char *name)
{
    for (size_t i = 0; kv != NULL && kv[i] != NULL; i += 2)
        if (strcasecmp(kv[i], name) == 0)
            return kv[i + 1];
    return NULL;
}

static const char *io_query(void *io, const char *name)
{
    return io_find(((io_pairs *)io)->query, name);
}

static const char *io_header(void *io, const char *name)
{
    return io_find(((io_pairs *)io)->headers, name);
}

typedef struct request {
    const char *name;
    api_handler h;
    const char *method;
    bool with_mid;                /* param[0] is the meeting id */
    const char *body;             /* NULL: none; "" : W.body */
    const char *const *query;
    const char *const *headers;
    void (*before)(void);         /* run before each call, memory intact */
    bool exact;                   /* the same answer every time (a read) */
} request;

static const char *const no_pairs[] = {NULL};
static const char *const host[] = {"Host", "127.0.0.1:8080", NULL};

/* Runs r once; *c is the caller's to finish (api_call_done). */
static void call(const request *r, api_call *c, io_pairs *io)
{
    const char *body = r->body == NULL ? NULL : r->body[0] == '\0' ? W.body : r->body;
    memset(c, 0, sizeof *c);
    io->query = r->query != NULL ? r->query : no_pairs;
    io->headers = r->headers != NULL ? r->headers : host;
    c->env = &W.env;
    c->method = r->method;
    c->path = "/oom";
    c->raw_uri = "/oom";
    c->body = body;
    c->body_len = body != NULL ? strlen(body) : 0;
    c->trace_id = "00000000000000000000000000000000";
    c->header = io_header;
    c->query = io_query;
    c->io = io;
    c->now = W.now;
    if (r->with_mid) {
        c->n_param = 1;
        snprintf(c->param[0], sizeof c->param[0], "%s", W.mid);
    }
    snprintf(c->app_id, sizeof c->app_id, "%s", APP_ID);
    r->h(c);
    assert_false(api_write_pending(c));
}

static void api_call_done(api_call *c)
{
    json_decref(c->out);
    c->out = NULL;
    free(c->out_json);
    c->out_json = NULL;
}

/* An answer written as text (api_out_text, out_text) read back into c->out, with
 * memory intact, so that answers compare as trees whichever way they were
 * built. */
static void answer_tree(api_call *c)
{
    if (c->out_json == NULL && c->out_text == NULL)
        return;
    if (c->err.err == ME_OK) {
        json_error_t e;
        c->out = c->out_json != NULL ? json_loadb(c->out_json, c->out_json_len, 0, &e)
                                     : json_loads(c->out_text, 0, &e);
        if (c->out == NULL)
            fail_msg("the answer's text is not JSON: %s", e.text);
    }
    free(c->out_json);
    c->out_json = NULL;
    c->out_text = NULL;
}

/* The answer of a fixture step: it must succeed. */
static json_t *fixture_step(const request *r)
{
    api_call c;
    io_pairs io;
    call(r, &c, &io);
    answer_tree(&c);
    if (c.err.err != ME_OK)
        fail_msg("fixture %s: %d %s", r->name, (int)c.err.err, c.err.msg);
    return c.out;
}

static const char *str_of(const json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    assert_non_null(s);
    return s;
}

/* ---- comparing answers ---------------------------------------------------- */

/* Whether a has b's shape: the same keys at every depth, arrays of the same
 * length, values of the same JSON type. Writes answer new ids and tokens
 * each time; what they must never do is leave something out. */
static bool same_shape(const json_t *a, const json_t *b)
{
    if (json_typeof(a) != json_typeof(b))
        return false;
    if (json_is_object(a)) {
        if (json_object_size(a) != json_object_size(b))
            return false;
        const char *k;
        json_t *v;
        json_object_foreach((json_t *)a, k, v) {
            json_t *w = json_object_get(b, k);
            if (w == NULL || !same_shape(v, w))
                return false;
        }
        return true;
    }
    if (json_is_array(a)) {
        if (json_array_size(a) != json_array_size(b))
            return false;
        for (size_t i = 0; i < json_array_size(a); i++)
            if (!same_shape(json_array_get(a, i), json_array_get(b, i)))
                return false;
    }
    return true;
}

static void check_answers(const request *r)
{
    api_call c;
    io_pairs io;
    if (r->before != NULL)
        r->before();
    call(r, &c, &io);
    answer_tree(&c);
    if (c.err.err != ME_OK || c.out == NULL)
        fail_msg("%s: no answer with memory intact: %d %s", r->name, (int)c.err.err,
                 c.err.msg);
    json_t *want = c.out;
    c.out = NULL;
    for (long n = 0;; n++) {
        if (n > OOM_RUNS_MAX)
            fail_msg("%s: still allocating after %ld runs", r->name, n);
        if (r->before != NULL)
            r->before();
        oom_failed = 0;
        oom_left = n;
        call(r, &c, &io);
        oom_left = -1;
        answer_tree(&c);
        if (c.err.err == ME_OK) {
            if (c.out == NULL)
                fail_msg("%s: allocation %ld failed and the answer is 200 {}", r->name, n);
            bool same = r->exact ? json_equal(c.out, want) : same_shape(c.out, want);
            if (!same) {
                char *got = json_dumps(c.out, JSON_COMPACT | JSON_SORT_KEYS);
                fail_msg("%s: allocation %ld failed and the answer is partial: %s", r->name,
                         n, got != NULL ? got : "?");
            }
        } else if (c.err.err != ME_INTERNAL || c.out != NULL) {
            fail_msg("%s: allocation %ld failed and the answer is %d (%s)%s", r->name, n,
                     (int)c.err.err, c.err.msg, c.out != NULL ? " with a body" : "");
        }
        api_call_done(&c);
        if (oom_failed == 0)
            break;          /* the whole handler ran within n allocations */
    }
    json_decref(want);
}

/* ---- the fixture ----------------------------------------------------------- */

static int app_tx(store_tx *tx, void *arg)
{
    (void)arg;
    store_app app;
    memset(&app, 0, sizeof app);
    snprintf(app.app_id, sizeof app.app_id, "%s", APP_ID);
    snprintf(app.name, sizeof app.name, "oom");
    app.created_at = W.now;
    return store_app_insert(tx, &app) == STORE_OK ? 0 : -1;
}

static const char *const alice_q[] = {"operator_id", "alice", "operator_id_type", "1",
                                      "instanceid", "1", NULL};

static void join_as(const char *who_field, const char *who, int instanceid, char *ms,
                    size_t cap)
{
    snprintf(W.body, sizeof W.body, "{\"%s\":\"%s\",\"instanceid\":%d,\"nick_name\":\"%s\"}",
             who_field, who, instanceid, who);
    request r = {"join", api_join, "POST", true, "", NULL, NULL, NULL, false};
    json_t *out = fixture_step(&r);
    if (ms != NULL)
        snprintf(ms, cap, "%s", str_of(out, "ms_open_id"));
    json_decref(out);
}

/* A recurring meeting's create body, its first occurrence from start on. */
static void recurring_body(char *buf, size_t cap, const char *subject, int recurring_type,
                           int count, int64_t start)
{
    snprintf(buf, cap,
             "{\"userid\":\"alice\",\"instanceid\":1,\"subject\":\"%s\",\"type\":0,"
             "\"start_time\":\"%lld\",\"end_time\":\"%lld\",\"meeting_type\":1,"
             "\"recurring_rule\":{\"recurring_type\":%d,\"until_type\":1,"
             "\"until_count\":%d}}",
             subject, (long long)start, (long long)start + 1800, recurring_type, count);
}

/* W.body: alice (the creator, by userid) removes the device ms on
 * instanceid, with a reason (a ban, allow_rejoin false, needs one). */
static void kick_body(const char *ms, int instanceid, bool allow_rejoin)
{
    snprintf(W.body, sizeof W.body,
             "{\"operator_id\":\"alice\",\"operator_id_type\":1,\"instanceid\":1,"
             "\"allow_rejoin\":%s,\"reason\":\"oom\",\"users\":[{\"to_operator_id\":\"%s\","
             "\"to_operator_id_type\":4,\"instanceid\":%d}]}",
             allow_rejoin ? "true" : "false", ms, instanceid);
}

static int world_setup(void **state)
{
    if (setup(state) != 0)
        return -1;
    W.f = *state;
    W.st = W.f->s;
    W.now = (int64_t)time(NULL);
    if (store_write(W.st, app_tx, NULL) != 0)
        return -1;
    /* No heartbeat falls within the test. */
    live_config lc = {.heartbeat_ms = 1000000000};
    if (live_hub_new(&lc, W.st, NULL, NULL, &W.live) != 0)
        return -1;
    W.env = (api_env){.st = W.st, .live = W.live};

    char body[512];
    recurring_body(body, sizeof body, "OOM", 0, 3, W.now + 60);
    request create = {"create", api_meeting_create, "POST", false, body, NULL, NULL, NULL,
                      false};
    json_t *out = fixture_step(&create);
    snprintf(W.mid, sizeof W.mid, "%s",
             str_of(json_array_get(json_object_get(out, "meeting_info_list"), 0),
                    "meeting_id"));
    json_decref(out);

    char bob[200], mallory[200];
    join_as("userid", "alice", 1, NULL, 0);
    join_as("userid", "bob", 2, bob, sizeof bob);
    join_as("guest_id", "g-1", 5, NULL, 0);
    join_as("userid", "mallory", 3, mallory, sizeof mallory);
    snprintf(W.body, sizeof W.body,
             "{\"operator_id\":\"alice\",\"operator_id_type\":1,\"instanceid\":1,"
             "\"action\":true,\"user\":{\"to_operator_id\":\"%s\",\"to_operator_id_type\":4,"
             "\"instanceid\":2}}",
             bob);
    request cohost = {"cohost", api_cohosts, "PUT", true, "", NULL, NULL, NULL, false};
    json_decref(fixture_step(&cohost));
    kick_body(mallory, 3, false);
    request kick = {"kickout", api_kickout, "PUT", true, "", NULL, NULL, NULL, false};
    json_decref(fixture_step(&kick));
    request hook = {"webhook", api_webhook_create, "POST", false,
                    "{\"url\":\"http://127.0.0.1:9/hook\"}", NULL, NULL, NULL, false};
    json_decref(fixture_step(&hook));

    json_set_alloc_funcs(oom_malloc, free);
    return 0;
}

static int world_teardown(void **state)
{
    json_set_alloc_funcs(malloc, free);
    if (W.live != NULL) {
        live_hub_shutdown(W.live);
        live_hub_free(W.live);
    }
    return W.f != NULL ? teardown(state) : 0;
}

/* ---- the handlers ----------------------------------------------------------- */

static void test_participants(void **state)
{
    (void)state;
    static const char *const q[] = {"operator_id", "alice", "operator_id_type", "1", "size",
                                    "100", NULL};
    request r = {"participants", api_participants, "GET", true, NULL, q, NULL, NULL, true};
    check_answers(&r);
}

static void test_realtime_participants(void **state)
{
    (void)state;
    static const char *const q[] = {"operator_id", "alice", "operator_id_type", "1", "page",
                                    "1", "page_size", "50", NULL};
    request r = {"real-time participants", api_realtime_participants, "GET", true, NULL, q,
                 NULL, NULL, true};
    check_answers(&r);
}

static void test_query(void **state)
{
    (void)state;
    request r = {"query", api_meeting_get, "GET", true, NULL, alice_q, NULL, NULL, true};
    check_answers(&r);
}

static void test_list(void **state)
{
    (void)state;
    static const char *const q[] = {"userid", "alice", "instanceid", "1",
                                    "is_show_all_sub_meetings", "1", NULL};
    request r = {"list", api_meetings_get, "GET", false, NULL, q, NULL, NULL, true};
    check_answers(&r);
}

static void test_audit_and_bans(void **state)
{
    (void)state;
    request audit = {"audit", api_audit, "GET", true, NULL, NULL, NULL, NULL, true};
    check_answers(&audit);
    request bans = {"bans", api_bans_list, "GET", true, NULL, NULL, NULL, NULL, true};
    check_answers(&bans);
}

/* Every webhook but the fixture's goes before each create: an app has at
 * most WEBHOOK_MAX_PER_APP, and the runs would reach it. */
static int drop_hook(const store_webhook *w, void *arg)
{
    if (strstr(w->url, "/hook") == NULL)
        return store_webhook_delete(arg, APP_ID, w->webhook_id) == STORE_OK ? 0 : 1;
    return 0;
}

static int drop_hooks_tx(store_tx *tx, void *arg)
{
    (void)arg;
    return store_webhook_list(tx, APP_ID, drop_hook, tx) == STORE_OK ? 0 : -1;
}

static void before_webhook(void) { assert_int_equal(store_write(W.st, drop_hooks_tx, NULL), 0); }

static void test_webhooks_and_health(void **state)
{
    (void)state;
    request hooks = {"webhooks", api_webhooks_list, "GET", false, NULL, NULL, NULL, NULL, true};
    check_answers(&hooks);
    request deliveries = {"deliveries", api_webhook_deliveries, "GET", false, NULL, NULL,
                          NULL, NULL, true};
    check_answers(&deliveries);
    request create = {"webhook", api_webhook_create, "POST", false,
                      "{\"url\":\"http://127.0.0.1:9/other\",\"token\":\"t0k\"}", NULL,
                      NULL, before_webhook, false};
    check_answers(&create);
    request health = {"healthz", api_healthz, "GET", false, NULL, NULL, NULL, NULL, true};
    check_answers(&health);
}

static void test_join(void **state)
{
    (void)state;
    request r = {"join", api_join, "POST", true, "{\"userid\":\"erin\",\"instanceid\":4}", NULL,
                 NULL, NULL, false};
    check_answers(&r);
}

/* A device to remove, joined afresh before each kickout. */
static void before_kick(void)
{
    char ms[200];
    join_as("userid", "frank", 2, ms, sizeof ms);
    kick_body(ms, 2, true);
}

static void test_kickout_results(void **state)
{
    (void)state;
    static const char *const prefer[] = {"Host", "127.0.0.1", "Prefer", "return=representation",
                                         NULL};
    request r = {"kickout", api_kickout, "PUT", true, "", NULL, prefer, before_kick, false};
    check_answers(&r);
}

static void test_create_and_modify(void **state)
{
    (void)state;
    char body[512];
    recurring_body(body, sizeof body, "OOM 2", 2, 4, W.now + 7200);
    request create = {"create", api_meeting_create, "POST", false, body, NULL, NULL, NULL,
                      false};
    check_answers(&create);
    request modify = {"modify", api_meeting_update, "PUT", true,
                      "{\"operator_id\":\"alice\",\"operator_id_type\":1,\"instanceid\":1,"
                      "\"subject\":\"OOM renamed\"}",
                      NULL, NULL, NULL, false};
    check_answers(&modify);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_participants),
        cmocka_unit_test(test_realtime_participants),
        cmocka_unit_test(test_query),
        cmocka_unit_test(test_list),
        cmocka_unit_test(test_audit_and_bans),
        cmocka_unit_test(test_webhooks_and_health),
        cmocka_unit_test(test_join),
        cmocka_unit_test(test_kickout_results),
        cmocka_unit_test(test_create_and_modify),
    };
    return cmocka_run_group_tests(tests, world_setup, world_teardown);
}
