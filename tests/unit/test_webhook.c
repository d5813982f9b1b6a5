/* Webhooks (live/webhook.h): the signature, the event JSON, the outbox
 * rows an event makes, and the worker delivering them to a real local HTTP
 * receiver (a small server in a thread of this test). */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "common/base64.h"
#include "common/ids.h"
#include "live/webhook.h"

#define DEADLINE_MS 20000   /* error bound of every wait */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- signature ---------------------------------------------------------- */

static void sig_is(const char *token, const char *ts, const char *nonce, const char *data,
                   const char *want)
{
    char out[41];
    memset(out, 'x', sizeof out);
    assert_int_equal(webhook_signature(token, ts, nonce, data, out), 0);
    assert_string_equal(out, want);
}

static void test_signature_vectors(void **state)
{
    (void)state;
    /* Computed independently: sha1("".join(sorted(parts))).hexdigest(). */
    sig_is("QgtoKen1", "1609745012", "123456789", "eyJhIjoxfQ==",
           "352cbf50183c879d6f6e6650ff8aed3b6463b446");
    /* The sort is of the four strings, whichever role each has. */
    sig_is("b", "a", "d", "c", "81fe8bfe87576c3ecb22426f8e57847382917acf");
    sig_is("d", "c", "b", "a", "81fe8bfe87576c3ecb22426f8e57847382917acf");
    sig_is("", "", "", "", "da39a3ee5e6b4b0d3255bfef95601890afd80709");
    /* Bytewise: upper case sorts before lower case, digits before both. */
    sig_is("zz", "1700000000", "42", "ABC=", "d571ad7c4b8853b18fbe5ea61849885c954b68ca");
}

/* ---- values ------------------------------------------------------------- */

static void test_values(void **state)
{
    (void)state;
    assert_true(webhook_url_valid("http://127.0.0.1:8080/hook"));
    assert_true(webhook_url_valid("https://example.com"));
    assert_true(webhook_url_valid("HTTPS://example.com/a?b=c"));
    assert_false(webhook_url_valid(NULL));
    assert_false(webhook_url_valid(""));
    assert_false(webhook_url_valid("ftp://example.com/"));
    assert_false(webhook_url_valid("file:///etc/passwd"));
    assert_false(webhook_url_valid("example.com/hook"));
    assert_false(webhook_url_valid("http://"));
    assert_false(webhook_url_valid("http:///path"));
    assert_false(webhook_url_valid("https://?q"));
    assert_false(webhook_url_valid("http://@host/"));
    assert_false(webhook_url_valid("http://exa mple.com/"));
    assert_false(webhook_url_valid("http://example.com/\n"));
    char url[STORE_URL_MAX + 2];
    memset(url, 'a', sizeof url);
    memcpy(url, "http://h/", 9);
    url[STORE_URL_MAX] = '\0';
    assert_true(webhook_url_valid(url));
    url[STORE_URL_MAX] = 'a';
    url[STORE_URL_MAX + 1] = '\0';
    assert_false(webhook_url_valid(url));

    assert_true(webhook_token_valid("a"));
    assert_true(webhook_token_valid("Tok-en_1.~!"));
    assert_false(webhook_token_valid(""));
    assert_false(webhook_token_valid("has space"));
    assert_false(webhook_token_valid("tab\t"));
    assert_false(webhook_token_valid("caf\xc3\xa9"));
    char tok[STORE_TOKEN_MAX + 2];
    memset(tok, 'k', sizeof tok);
    tok[STORE_TOKEN_MAX] = '\0';
    assert_true(webhook_token_valid(tok));
    tok[STORE_TOKEN_MAX] = 'k';
    tok[STORE_TOKEN_MAX + 1] = '\0';
    assert_false(webhook_token_valid(tok));

    webhook_config c = {.max_attempts = 5, .backoff_base_ms = 100, .backoff_max_ms = 1000,
                        .timeout_ms = 1};
    assert_int_equal(webhook_backoff_ms(&c, 1), 100);
    assert_int_equal(webhook_backoff_ms(&c, 2), 200);
    assert_int_equal(webhook_backoff_ms(&c, 3), 400);
    assert_int_equal(webhook_backoff_ms(&c, 4), 800);
    assert_int_equal(webhook_backoff_ms(&c, 5), 1000);
    assert_int_equal(webhook_backoff_ms(&c, 1000000), 1000);
    c.backoff_max_ms = 86400000;
    c.backoff_base_ms = 86400000;
    assert_int_equal(webhook_backoff_ms(&c, 60), 86400000);

    assert_string_equal(webhook_event_name(WEBHOOK_PARTICIPANT_JOINED),
                        "meeting.participant-joined");
    assert_string_equal(webhook_event_name(WEBHOOK_PARTICIPANT_LEFT), "meeting.participant-left");
    assert_string_equal(webhook_event_name(WEBHOOK_PARTICIPANT_KICKED),
                        "meeting.participant-kicked-out");
    assert_null(webhook_event_name((webhook_event_type)7));

    int64_t before = (int64_t)time(NULL) * 1000;
    int64_t now = clock_unix_ms();
    assert_true(now >= before && now < before + 5000);
}

/* ---- the event JSON ----------------------------------------------------- */

static core_meeting *mk_meeting(const char *app_id)
{
    core_meeting *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->meeting_id = 1234567890123456789LL;
    snprintf(m->app_id, sizeof m->app_id, "%s", app_id);
    snprintf(m->meeting_code, sizeof m->meeting_code, "987654321");
    snprintf(m->subject, sizeof m->subject, "Weekly \"sync\" 会议");
    m->meeting_type = 1;
    m->start_time = 1800000000;
    m->end_time = 1800003600;
    return m;
}

static core_user mk_user(const char *userid, const char *guest_id, const char *nick, char tag)
{
    core_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.userid, sizeof u.userid, "%s", userid);
    snprintf(u.guest_id, sizeof u.guest_id, "%s", guest_id);
    memset(u.uuid, tag, 32);
    snprintf(u.ms_open_id, sizeof u.ms_open_id, "ms%c%c%c", tag, tag, tag);
    snprintf(u.nick_name, sizeof u.nick_name, "%s", nick);
    return u;
}

static json_t *parse_event(const webhook_event *ev)
{
    char *s = webhook_event_json(ev);
    assert_non_null(s);
    json_error_t err;
    json_t *root = json_loads(s, JSON_REJECT_DUPLICATES, &err);
    free(s);
    assert_non_null(root);
    return root;
}

static const char *str_at(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_true(json_is_string(v));
    return json_string_value(v);
}

static json_int_t int_at(json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_true(json_is_integer(v));
    return json_integer_value(v);
}

static void check_person(json_t *p, const core_user *u, const char *userid, const char *name_b64,
                         const char *instance)
{
    assert_true(json_is_object(p));
    assert_string_equal(str_at(p, "userid"), userid);
    assert_string_equal(str_at(p, "uuid"), u != NULL ? u->uuid : "");
    assert_string_equal(str_at(p, "ms_open_id"), u != NULL ? u->ms_open_id : "");
    assert_string_equal(str_at(p, "user_name"), name_b64);
    assert_string_equal(str_at(p, "instance_id"), instance);
}

static void check_meeting_info(json_t *info)
{
    assert_string_equal(str_at(info, "meeting_id"), "1234567890123456789");
    assert_string_equal(str_at(info, "meeting_code"), "987654321");
    assert_string_equal(str_at(info, "subject"), "Weekly \"sync\" 会议");
    assert_int_equal(int_at(info, "meeting_type"), 1);
    assert_int_equal(int_at(info, "start_time"), 1800000000);
    assert_int_equal(int_at(info, "end_time"), 1800003600);
}

static void test_event_json(void **state)
{
    (void)state;
    core_meeting *m = mk_meeting("app1");
    core_user ann = mk_user("ann", "", "Ann 王", 'A');
    webhook_event ev = {.type = WEBHOOK_PARTICIPANT_JOINED, .meeting = m,
                        .trace_id = "0123456789abcdef0123456789abcdef",
                        .time_ms = 1800000123456, .user = &ann, .instanceid = 2};
    json_t *root = parse_event(&ev);
    assert_int_equal(json_object_size(root), 3);
    assert_string_equal(str_at(root, "event"), "meeting.participant-joined");
    assert_string_equal(str_at(root, "trace_id"), "0123456789abcdef0123456789abcdef");
    json_t *payload = json_object_get(root, "payload");
    assert_true(json_is_array(payload));
    assert_int_equal(json_array_size(payload), 1);
    json_t *item = json_array_get(payload, 0);
    assert_int_equal(json_object_size(item), 3);
    assert_int_equal(int_at(item, "operate_time"), 1800000123456);
    check_person(json_object_get(item, "operator"), &ann, "ann", "QW5uIOeOiw==", "2");
    assert_null(json_object_get(json_object_get(item, "operator"), "guest_id"));
    check_meeting_info(json_object_get(item, "meeting_info"));
    json_decref(root);

    /* Left, by a guest, without a trace id: one of its own is made. */
    core_user guest = mk_user("", "g-77", "", 'G');
    ev = (webhook_event){.type = WEBHOOK_PARTICIPANT_LEFT, .meeting = m, .trace_id = "",
                         .time_ms = 5, .user = &guest, .instanceid = 1};
    root = parse_event(&ev);
    assert_string_equal(str_at(root, "event"), "meeting.participant-left");
    const char *trace = str_at(root, "trace_id");
    assert_int_equal(strlen(trace), 32);
    assert_int_equal(strspn(trace, "0123456789abcdef"), 32);
    item = json_array_get(json_object_get(root, "payload"), 0);
    json_t *op = json_object_get(item, "operator");
    check_person(op, &guest, "", "", "1");
    assert_string_equal(str_at(op, "guest_id"), "g-77");
    assert_null(json_object_get(item, "to_operator"));
    assert_null(json_object_get(item, "reason"));
    json_decref(root);

    /* Kicked out by a creator who never joined (no user, only a userid). */
    core_user bob = mk_user("bob", "", "Bob", 'B');
    ev = (webhook_event){.type = WEBHOOK_PARTICIPANT_KICKED, .meeting = m, .trace_id = "t1",
                         .time_ms = 1800000999000, .user = NULL, .operator_userid = "alice",
                         .instanceid = 1, .to_user = &bob, .to_instanceid = 5,
                         .reason = "spam \"links\"", .allow_rejoin = false};
    root = parse_event(&ev);
    assert_string_equal(str_at(root, "event"), "meeting.participant-kicked-out");
    assert_string_equal(str_at(root, "trace_id"), "t1");
    item = json_array_get(json_object_get(root, "payload"), 0);
    assert_int_equal(json_object_size(item), 6);
    check_person(json_object_get(item, "operator"), NULL, "alice", "", "1");
    check_person(json_object_get(item, "to_operator"), &bob, "bob", "Qm9i", "5");
    assert_string_equal(str_at(item, "reason"), "spam \"links\"");
    assert_true(json_is_false(json_object_get(item, "allow_rejoin")));
    check_meeting_info(json_object_get(item, "meeting_info"));
    json_decref(root);

    /* Kicked out by a participant, allowed back, no reason given. */
    ev.user = &ann;
    ev.operator_userid = NULL;
    ev.reason = NULL;
    ev.allow_rejoin = true;
    root = parse_event(&ev);
    item = json_array_get(json_object_get(root, "payload"), 0);
    check_person(json_object_get(item, "operator"), &ann, "ann", "QW5uIOeOiw==", "1");
    assert_string_equal(str_at(item, "reason"), "");
    assert_true(json_is_true(json_object_get(item, "allow_rejoin")));
    json_decref(root);

    ev.type = (webhook_event_type)9;
    assert_null(webhook_event_json(&ev));
    free(m);
}

/* The body is byte for byte what jansson wrote of the same tree (the form
 * webhook.c built before it wrote text): key order, escapes, guests,
 * operators without a user, strings with quotes, controls and UTF-8. */
static json_t *old_person(const core_user *u, const char *userid, int instanceid)
{
    const char *nick = u != NULL ? u->nick_name : "";
    char *name = base64_encode(nick, strlen(nick));
    assert_non_null(name);
    char inst[16];
    snprintf(inst, sizeof inst, "%d", instanceid);
    json_t *o = json_pack("{s:s,s:s,s:s,s:s,s:s}", "userid",
                          u != NULL ? u->userid : (userid != NULL ? userid : ""), "uuid",
                          u != NULL ? u->uuid : "", "ms_open_id", u != NULL ? u->ms_open_id : "",
                          "user_name", name, "instance_id", inst);
    free(name);
    if (o != NULL && u != NULL && u->guest_id[0])
        json_object_set_new(o, "guest_id", json_string(u->guest_id));
    return o;
}

static char *old_event_json(const webhook_event *ev)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)ev->meeting->meeting_id);
    const core_meeting *m = ev->meeting;
    json_t *info = json_pack("{s:s,s:s,s:s,s:i,s:I,s:I}", "meeting_id", id, "meeting_code",
                             m->meeting_code, "subject", m->subject, "meeting_type",
                             m->meeting_type, "start_time", (json_int_t)m->start_time,
                             "end_time", (json_int_t)m->end_time);
    json_t *item = json_pack("{s:I,s:o,s:o}", "operate_time", (json_int_t)ev->time_ms,
                             "operator", old_person(ev->user, ev->operator_userid, ev->instanceid),
                             "meeting_info", info);
    assert_non_null(item);
    if (ev->type == WEBHOOK_PARTICIPANT_KICKED) {
        json_object_set_new(item, "to_operator", old_person(ev->to_user, NULL, ev->to_instanceid));
        json_object_set_new(item, "reason", json_string(ev->reason != NULL ? ev->reason : ""));
        json_object_set_new(item, "allow_rejoin", json_boolean(ev->allow_rejoin));
    }
    json_t *root = json_pack("{s:s,s:s,s:[o]}", "event", webhook_event_name(ev->type),
                             "trace_id", ev->trace_id, "payload", item);
    assert_non_null(root);
    char *out = json_dumps(root, JSON_COMPACT);
    json_decref(root);
    return out;
}

static void test_event_json_as_jansson(void **state)
{
    (void)state;
    static const char *const texts[] = {"", "a \"b\" \\c", "\x01\t\n\x1f\x7f/", "会议 \xf0\x9f\x98\x80"};
    core_meeting *m = mk_meeting("app1");
    for (size_t a = 0; a < 4; a++)
        for (size_t b = 0; b < 4; b++) {
            snprintf(m->subject, sizeof m->subject, "%s", texts[a]);
            m->meeting_type = (int)b % 2;
            m->start_time = b == 3 ? INT64_MAX : (int64_t)b;
            core_user op = mk_user(texts[b], a % 2 ? "g \"1\"" : "", texts[a], 'O');
            core_user to = mk_user(texts[a], b % 2 ? "" : texts[b], texts[b], 'T');
            for (int type = 0; type <= WEBHOOK_PARTICIPANT_KICKED; type++) {
                if (webhook_event_name((webhook_event_type)type) == NULL)
                    continue;
                webhook_event ev = {.type = (webhook_event_type)type, .meeting = m,
                                    .trace_id = "0123456789abcdef0123456789abcdef",
                                    .time_ms = 1800000123456 + (int64_t)a,
                                    .user = b == 2 ? NULL : &op, .operator_userid = texts[a],
                                    .instanceid = (int)a, .to_user = &to,
                                    .to_instanceid = (int)b, .reason = b == 1 ? NULL : texts[b],
                                    .allow_rejoin = a % 2 == 0};
                char *want = old_event_json(&ev);
                char *got = webhook_event_json(&ev);
                assert_non_null(want);
                assert_non_null(got);
                assert_string_equal(got, want);
                free(want);
                free(got);
            }
        }
    /* Text that is not UTF-8 is refused, as jansson refused it. */
    snprintf(m->subject, sizeof m->subject, "half \xe4\xbc");
    webhook_event ev = {.type = WEBHOOK_PARTICIPANT_JOINED, .meeting = m, .trace_id = "t",
                        .time_ms = 1, .operator_userid = "x", .instanceid = 1};
    assert_null(webhook_event_json(&ev));
    free(m);
}

/* ---- a store with an app ------------------------------------------------ */

typedef struct fixture {
    char root[64];
    char data[128];
    store *s;
    struct receiver *rx;
} fixture;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static store_rc app_insert_tx(store_tx *tx, void *arg)
{
    store_app a;
    memset(&a, 0, sizeof a);
    snprintf(a.app_id, sizeof a.app_id, "%s", (const char *)arg);
    a.created_at = 1700000000;
    return store_app_insert(tx, &a) == STORE_OK ? STORE_OK : STORE_ERROR;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    const char *tmp = getenv("TMPDIR");
    snprintf(f->root, sizeof f->root, "%s/meetd-webhook-XXXXXX",
             tmp != NULL && *tmp ? tmp : "/tmp");
    if (mkdtemp(f->root) == NULL) {
        free(f);
        return -1;
    }
    snprintf(f->data, sizeof f->data, "%s/data", f->root);
    store_options opt = {.data_dir = f->data, .durability = STORE_DURABLE_NORMAL};
    if (store_open(&opt, &f->s) != 0 || store_write(f->s, app_insert_tx, "app1") != 0 ||
        store_write(f->s, app_insert_tx, "app2") != 0) {
        store_close(f->s);
        nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
        free(f);
        return -1;
    }
    *state = f;
    return 0;
}

static void receiver_free(struct receiver *rx);

static int teardown(void **state)
{
    fixture *f = *state;
    receiver_free(f->rx);
    store_close(f->s);
    nftw(f->root, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    free(f);
    return 0;
}

struct hook_add {
    const char *app_id;
    char url[STORE_URL_MAX + 1];
    const char *token;
    int64_t id;
};

static store_rc hook_add_tx(store_tx *tx, void *arg)
{
    struct hook_add *h = arg;
    store_webhook w;
    memset(&w, 0, sizeof w);
    snprintf(w.app_id, sizeof w.app_id, "%s", h->app_id);
    snprintf(w.url, sizeof w.url, "%s", h->url);
    snprintf(w.token, sizeof w.token, "%s", h->token);
    w.created_at = clock_unix_ms();
    if (store_webhook_insert(tx, &w) != STORE_OK)
        return STORE_ERROR;
    h->id = w.webhook_id;
    return STORE_OK;
}

static int64_t add_hook(store *s, const char *app_id, const char *url, const char *token)
{
    struct hook_add h = {.app_id = app_id, .token = token};
    snprintf(h.url, sizeof h.url, "%s", url);
    assert_int_equal(store_write(s, hook_add_tx, &h), 0);
    return h.id;
}

static store_rc enqueue_tx(store_tx *tx, void *arg)
{
    return webhook_enqueue(tx, arg, NULL) == STORE_OK ? STORE_OK : STORE_ERROR;
}

/* Enqueues a joined event of user `tag` in app_id's meeting. */
static void enqueue_join(store *s, const char *app_id, char tag)
{
    core_meeting *m = mk_meeting(app_id);
    char nick[8] = {'U', tag, 0};
    char userid[8] = {'u', tag, 0};
    core_user u = mk_user(userid, "", nick, tag);
    webhook_event ev = {.type = WEBHOOK_PARTICIPANT_JOINED, .meeting = m, .trace_id = "tr",
                        .time_ms = clock_unix_ms(), .user = &u, .instanceid = 1};
    assert_int_equal(store_write(s, enqueue_tx, &ev), 0);
    free(m);
}

#define ROWS_MAX 32

struct rows {
    const char *app_id;
    int n;
    int64_t total;
    store_delivery d[ROWS_MAX];
};

static store_rc rows_collect(const store_delivery *d, void *arg)
{
    struct rows *r = arg;
    if (r->n < ROWS_MAX)
        r->d[r->n++] = *d;
    return STORE_OK;
}

static store_rc rows_tx(store_tx *tx, void *arg)
{
    struct rows *r = arg;
    r->n = 0;
    return store_deliveries_list(tx, r->app_id, -1, 0, ROWS_MAX, rows_collect, r, &r->total) ==
                   STORE_OK
               ? STORE_OK
               : STORE_ERROR;
}

static void rows(store *s, const char *app_id, struct rows *r)
{
    r->app_id = app_id;
    assert_int_equal(store_read(s, rows_tx, r), 0);
}

/* Waits until every delivery of app_id is in `status` (polling the store:
 * nothing else tells when the worker's write is committed). */
static void wait_all(store *s, const char *app_id, int status, int want_n, struct rows *r)
{
    int64_t end = mono_ms() + DEADLINE_MS;
    for (;;) {
        rows(s, app_id, r);
        int match = 0;
        for (int i = 0; i < r->n; i++)
            match += r->d[i].status == status;
        if (r->n == want_n && match == want_n)
            return;
        if (mono_ms() > end)
            fail_msg("deliveries of %s not all in status %d within %d ms", app_id, status,
                     DEADLINE_MS);
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

static void test_enqueue_rows(void **state)
{
    fixture *f = *state;
    struct rows r;
    /* No webhooks: nothing is written. */
    enqueue_join(f->s, "app1", 'a');
    rows(f->s, "app1", &r);
    assert_int_equal(r.total, 0);

    int64_t h1 = add_hook(f->s, "app1", "http://127.0.0.1:9/one", "t1");
    int64_t h2 = add_hook(f->s, "app1", "http://127.0.0.1:9/two", "t2");
    add_hook(f->s, "app2", "http://127.0.0.1:9/other", "t3");
    int64_t before = clock_unix_ms();
    enqueue_join(f->s, "app1", 'b');
    rows(f->s, "app1", &r);
    assert_int_equal(r.total, 2);   /* one per webhook of the app, none for app2's */
    assert_int_equal(r.d[0].webhook_id, h2);
    assert_int_equal(r.d[1].webhook_id, h1);
    for (int i = 0; i < 2; i++) {
        assert_string_equal(r.d[i].event, "meeting.participant-joined");
        assert_int_equal(r.d[i].status, STORE_DELIVERY_PENDING);
        assert_int_equal(r.d[i].attempts, 0);
        assert_true(r.d[i].created_at >= before);
        assert_true(r.d[i].next_attempt_at == r.d[i].created_at);   /* due at once */
    }
    rows(f->s, "app2", &r);
    assert_int_equal(r.total, 0);
}

/* ---- the receiver ------------------------------------------------------- */

#define RX_MAX 64

typedef struct rx_req {
    char timestamp[32];
    char nonce[32];
    char signature[64];
    char delivery[32];
    char content_type[64];
    char body[16384];
} rx_req;

struct receiver {
    int fd;
    int port;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool stop;
    int fail_first;      /* answer 500 to this many requests, then `status` */
    int status;
    bool hang;           /* never answer */
    int n;
    rx_req req[RX_MAX];
};

static void rx_header(const char *head, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    out[0] = '\0';
    for (const char *p = strstr(head, "\r\n"); p != NULL; p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t len = strcspn(v, "\r\n");
            if (len >= cap)
                len = cap - 1;
            memcpy(out, v, len);
            out[len] = '\0';
            return;
        }
    }
}

static void rx_serve(struct receiver *rx, int c)
{
    char buf[20000];
    size_t have = 0;
    char *end = NULL;
    while (end == NULL && have < sizeof buf - 1) {
        ssize_t n = recv(c, buf + have, sizeof buf - 1 - have, 0);
        if (n <= 0)
            return;
        have += (size_t)n;
        buf[have] = '\0';
        end = strstr(buf, "\r\n\r\n");
    }
    if (end == NULL)
        return;
    *end = '\0';
    char len_s[32];
    rx_header(buf, "Content-Length", len_s, sizeof len_s);
    size_t body_len = (size_t)strtoul(len_s, NULL, 10);
    size_t head_len = (size_t)(end - buf) + 4;
    while (have < head_len + body_len && have < sizeof buf - 1) {
        ssize_t n = recv(c, buf + have, sizeof buf - 1 - have, 0);
        if (n <= 0)
            return;
        have += (size_t)n;
    }
    buf[have] = '\0';
    pthread_mutex_lock(&rx->lock);
    bool hang = rx->hang;
    int status = rx->n < rx->fail_first ? 500 : rx->status;
    if (rx->n < RX_MAX) {
        rx_req *r = &rx->req[rx->n];
        rx_header(buf, "timestamp", r->timestamp, sizeof r->timestamp);
        rx_header(buf, "nonce", r->nonce, sizeof r->nonce);
        rx_header(buf, "signature", r->signature, sizeof r->signature);
        rx_header(buf, "X-Meetd-Delivery", r->delivery, sizeof r->delivery);
        rx_header(buf, "Content-Type", r->content_type, sizeof r->content_type);
        snprintf(r->body, sizeof r->body, "%.*s", (int)body_len, buf + head_len);
    }
    rx->n++;
    pthread_cond_broadcast(&rx->cond);
    if (hang) {
        /* Hold the connection until the test ends. */
        while (!rx->stop)
            pthread_cond_wait(&rx->cond, &rx->lock);
    }
    pthread_mutex_unlock(&rx->lock);
    if (hang)
        return;
    char resp[128];
    int n = snprintf(resp, sizeof resp,
                     "HTTP/1.1 %d X\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok", status);
    send(c, resp, (size_t)n, MSG_NOSIGNAL);
}

static void *rx_main(void *arg)
{
    struct receiver *rx = arg;
    for (;;) {
        int c = accept(rx->fd, NULL, NULL);
        if (c < 0) {
            if (errno == EINTR)
                continue;
            return NULL;   /* shut down */
        }
        rx_serve(rx, c);
        close(c);
    }
}

/* port 0: any free one. */
static struct receiver *receiver_on(int port, int status)
{
    struct receiver *rx = calloc(1, sizeof *rx);
    assert_non_null(rx);
    rx->status = status;
    pthread_mutex_init(&rx->lock, NULL);
    pthread_cond_init(&rx->cond, NULL);
    rx->fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(rx->fd >= 0);
    int one = 1;
    setsockopt(rx->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK),
                            .sin_port = htons((uint16_t)port)};
    assert_int_equal(bind(rx->fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(rx->fd, 16), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(rx->fd, (struct sockaddr *)&a, &len), 0);
    rx->port = ntohs(a.sin_port);
    assert_int_equal(pthread_create(&rx->thread, NULL, rx_main, rx), 0);
    return rx;
}

static struct receiver *receiver_new(int status) { return receiver_on(0, status); }

static void receiver_free(struct receiver *rx)
{
    if (rx == NULL)
        return;
    pthread_mutex_lock(&rx->lock);
    rx->stop = true;
    pthread_cond_broadcast(&rx->cond);
    pthread_mutex_unlock(&rx->lock);
    shutdown(rx->fd, SHUT_RDWR);   /* wakes accept */
    pthread_join(rx->thread, NULL);
    close(rx->fd);
    pthread_cond_destroy(&rx->cond);
    pthread_mutex_destroy(&rx->lock);
    free(rx);
}

/* Waits until the receiver has seen at least n requests. */
static void rx_wait(struct receiver *rx, int n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += DEADLINE_MS / 1000;
    pthread_mutex_lock(&rx->lock);
    int e = 0;
    while (rx->n < n && e != ETIMEDOUT)
        e = pthread_cond_timedwait(&rx->cond, &rx->lock, &until);
    int seen = rx->n;
    pthread_mutex_unlock(&rx->lock);
    if (seen < n)
        fail_msg("the receiver saw %d requests, not %d, within %d ms", seen, n, DEADLINE_MS);
}

static int rx_count(struct receiver *rx)
{
    pthread_mutex_lock(&rx->lock);
    int n = rx->n;
    pthread_mutex_unlock(&rx->lock);
    return n;
}

static void rx_url(const struct receiver *rx, char *out, size_t cap)
{
    snprintf(out, cap, "http://127.0.0.1:%d/hook", rx->port);
}

/* Checks one request as a receiver would: the signature (recomputed here
 * with a sort and SHA-1 of this test's own) and the event inside. */
static json_t *rx_check(const rx_req *r, const char *token)
{
    assert_string_equal(r->content_type, "application/json");
    json_t *body = json_loads(r->body, 0, NULL);
    assert_non_null(body);
    assert_int_equal(json_object_size(body), 1);
    const char *data = str_at(body, "data");
    const char *parts[4] = {token, r->timestamp, r->nonce, data};
    for (int i = 0; i < 4; i++)          /* insertion sort, bytewise */
        for (int j = i; j > 0 && strcmp(parts[j - 1], parts[j]) > 0; j--) {
            const char *t = parts[j];
            parts[j] = parts[j - 1];
            parts[j - 1] = t;
        }
    char joined[20000];
    snprintf(joined, sizeof joined, "%s%s%s%s", parts[0], parts[1], parts[2], parts[3]);
    unsigned char md[20];
    assert_int_equal(EVP_Q_digest(NULL, "SHA1", NULL, joined, strlen(joined), md, NULL), 1);
    char hex[41];
    for (int i = 0; i < 20; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    assert_string_equal(r->signature, hex);
    long long ts = strtoll(r->timestamp, NULL, 10);
    assert_true(llabs(ts - (long long)time(NULL)) < 60);
    assert_true(strlen(r->nonce) > 0 && strspn(r->nonce, "0123456789") == strlen(r->nonce));

    size_t len = strlen(data);
    unsigned char *raw = malloc(len + 1);
    assert_non_null(raw);
    int n = EVP_DecodeBlock(raw, (const unsigned char *)data, (int)len);
    assert_true(n >= 0);
    while (len > 0 && data[--len] == '=')   /* DecodeBlock counts the padding */
        n--;
    json_t *ev = json_loadb((const char *)raw, (size_t)n, 0, NULL);
    free(raw);
    json_decref(body);
    assert_non_null(ev);
    return ev;
}

static webhook_config quick(int attempts)
{
    return (webhook_config){.max_attempts = attempts, .backoff_base_ms = 20,
                            .backoff_max_ms = 80, .timeout_ms = 5000};
}

/* ---- delivery ----------------------------------------------------------- */

static void test_delivered(void **state)
{
    fixture *f = *state;
    f->rx = receiver_new(200);
    char url[128];
    rx_url(f->rx, url, sizeof url);
    add_hook(f->s, "app1", url, "secret-token");
    webhook_config cfg = quick(3);
    webhook_worker *w = NULL;
    assert_int_equal(webhook_worker_start(f->s, &cfg, &w), 0);
    enqueue_join(f->s, "app1", 'a');
    webhook_worker_wake(w);
    rx_wait(f->rx, 1);
    struct rows r;
    wait_all(f->s, "app1", STORE_DELIVERY_DELIVERED, 1, &r);
    assert_int_equal(r.d[0].attempts, 1);
    assert_int_equal(r.d[0].last_http_status, 200);
    assert_string_equal(r.d[0].last_error, "");
    assert_true(r.d[0].delivered_at >= r.d[0].created_at);

    json_t *ev = rx_check(&f->rx->req[0], "secret-token");
    assert_string_equal(str_at(ev, "event"), "meeting.participant-joined");
    assert_string_equal(str_at(ev, "trace_id"), "tr");
    json_t *op = json_object_get(json_array_get(json_object_get(ev, "payload"), 0), "operator");
    assert_string_equal(str_at(op, "userid"), "ua");
    json_decref(ev);
    char id[32];
    snprintf(id, sizeof id, "%lld", (long long)r.d[0].delivery_id);
    assert_string_equal(f->rx->req[0].delivery, id);

    /* A second event, woken at once. */
    enqueue_join(f->s, "app1", 'b');
    webhook_worker_wake(w);
    rx_wait(f->rx, 2);
    wait_all(f->s, "app1", STORE_DELIVERY_DELIVERED, 2, &r);
    webhook_worker_stop(w);
    assert_int_equal(rx_count(f->rx), 2);
}

static void test_retried_until_delivered(void **state)
{
    fixture *f = *state;
    f->rx = receiver_new(204);
    f->rx->fail_first = 2;
    char url[128];
    rx_url(f->rx, url, sizeof url);
    add_hook(f->s, "app1", url, "tok");
    enqueue_join(f->s, "app1", 'a');
    /* Started after the event: the worker resumes what the outbox holds. */
    webhook_config cfg = quick(5);
    webhook_worker *w = NULL;
    assert_int_equal(webhook_worker_start(f->s, &cfg, &w), 0);
    struct rows r;
    wait_all(f->s, "app1", STORE_DELIVERY_DELIVERED, 1, &r);
    webhook_worker_stop(w);
    assert_int_equal(rx_count(f->rx), 3);
    assert_int_equal(r.d[0].attempts, 3);
    assert_int_equal(r.d[0].last_http_status, 204);
    /* Every attempt carried the same delivery, freshly signed. */
    for (int i = 0; i < 3; i++) {
        json_t *ev = rx_check(&f->rx->req[i], "tok");
        json_decref(ev);
    }
    assert_string_equal(f->rx->req[0].delivery, f->rx->req[2].delivery);
}

static void test_failed_after_max_attempts(void **state)
{
    fixture *f = *state;
    f->rx = receiver_new(500);
    char url[128];
    rx_url(f->rx, url, sizeof url);
    add_hook(f->s, "app1", url, "tok");
    webhook_config cfg = quick(2);
    webhook_worker *w = NULL;
    assert_int_equal(webhook_worker_start(f->s, &cfg, &w), 0);
    enqueue_join(f->s, "app1", 'a');
    webhook_worker_wake(w);
    struct rows r;
    wait_all(f->s, "app1", STORE_DELIVERY_FAILED, 1, &r);
    webhook_worker_stop(w);
    assert_int_equal(rx_count(f->rx), 2);
    assert_int_equal(r.d[0].attempts, 2);
    assert_int_equal(r.d[0].last_http_status, 500);
    assert_string_equal(r.d[0].last_error, "HTTP 500");
    assert_int_equal(r.d[0].delivered_at, 0);
}

static void test_receiver_down_then_up(void **state)
{
    fixture *f = *state;
    /* A port nobody listens on for now: take one from a receiver, close it. */
    struct receiver *gone = receiver_new(200);
    int port = gone->port;
    char url[128];
    rx_url(gone, url, sizeof url);
    receiver_free(gone);
    add_hook(f->s, "app1", url, "tok");
    webhook_config cfg = quick(1000);
    webhook_worker *w = NULL;
    assert_int_equal(webhook_worker_start(f->s, &cfg, &w), 0);
    enqueue_join(f->s, "app1", 'a');
    enqueue_join(f->s, "app1", 'b');
    webhook_worker_wake(w);
    /* Refused attempts are recorded as such... */
    struct rows r;
    int64_t end = mono_ms() + DEADLINE_MS;
    do {
        rows(f->s, "app1", &r);
        assert_true(mono_ms() < end);
    } while (r.n < 2 || r.d[0].attempts < 2 || r.d[1].attempts < 2);
    assert_int_equal(r.d[0].status, STORE_DELIVERY_PENDING);
    assert_int_equal(r.d[0].last_http_status, 0);
    assert_true(r.d[0].last_error[0] != '\0');

    /* ...and once the receiver is up, both arrive. */
    f->rx = receiver_on(port, 200);
    wait_all(f->s, "app1", STORE_DELIVERY_DELIVERED, 2, &r);
    webhook_worker_stop(w);
    assert_int_equal(rx_count(f->rx), 2);
    json_t *a = rx_check(&f->rx->req[0], "tok");
    json_t *b = rx_check(&f->rx->req[1], "tok");
    assert_string_not_equal(f->rx->req[0].delivery, f->rx->req[1].delivery);
    json_decref(a);
    json_decref(b);
}

static void test_restart_resumes(void **state)
{
    fixture *f = *state;
    f->rx = receiver_new(503);
    char url[128];
    rx_url(f->rx, url, sizeof url);
    add_hook(f->s, "app1", url, "tok");
    webhook_config cfg = quick(1000);
    webhook_worker *w = NULL;
    assert_int_equal(webhook_worker_start(f->s, &cfg, &w), 0);
    enqueue_join(f->s, "app1", 'a');
    webhook_worker_wake(w);
    rx_wait(f->rx, 2);
    webhook_worker_stop(w);
    struct rows r;
    rows(f->s, "app1", &r);
    assert_int_equal(r.d[0].status, STORE_DELIVERY_PENDING);

    /* Store closed and opened again, as across a restart of meetd. */
    store_close(f->s);
    store_options opt = {.data_dir = f->data, .durability = STORE_DURABLE_NORMAL};
    assert_int_equal(store_open(&opt, &f->s), 0);
    pthread_mutex_lock(&f->rx->lock);
    f->rx->status = 200;
    pthread_mutex_unlock(&f->rx->lock);
    assert_int_equal(webhook_worker_start(f->s, &cfg, &w), 0);
    wait_all(f->s, "app1", STORE_DELIVERY_DELIVERED, 1, &r);
    webhook_worker_stop(w);
    /* The first 503 was recorded; the second may have been abandoned by
     * the stop; then the delivery. */
    assert_true(r.d[0].attempts >= 2);
    assert_int_equal(r.d[0].last_http_status, 200);
}

static void test_stop_abandons_hung_attempt(void **state)
{
    fixture *f = *state;
    f->rx = receiver_new(200);
    f->rx->hang = true;
    char url[128];
    rx_url(f->rx, url, sizeof url);
    add_hook(f->s, "app1", url, "tok");
    webhook_config cfg = quick(3);
    cfg.timeout_ms = 600000;
    webhook_worker *w = NULL;
    assert_int_equal(webhook_worker_start(f->s, &cfg, &w), 0);
    enqueue_join(f->s, "app1", 'a');
    webhook_worker_wake(w);
    rx_wait(f->rx, 1);
    int64_t t0 = mono_ms();
    webhook_worker_stop(w);
    assert_true(mono_ms() - t0 < 5000);
    struct rows r;
    rows(f->s, "app1", &r);
    /* Not counted, not settled: delivered after the next start. */
    assert_int_equal(r.d[0].status, STORE_DELIVERY_PENDING);
    assert_int_equal(r.d[0].attempts, 0);
}

/* A receiver that never answers holds only its own deliveries: another
 * app's delivery to a healthy receiver is made at once, not after the hung
 * attempts time out. */
static void test_hung_receiver_delays_nobody_else(void **state)
{
    fixture *f = *state;
    f->rx = receiver_new(200);
    f->rx->hang = true;
    struct receiver *healthy = receiver_new(200);
    char url[128];
    rx_url(f->rx, url, sizeof url);
    for (int i = 0; i < 20; i++)
        add_hook(f->s, "app1", url, "tok");
    rx_url(healthy, url, sizeof url);
    add_hook(f->s, "app2", url, "tok2");
    webhook_config cfg = quick(3);
    cfg.timeout_ms = 600000;
    webhook_worker *w = NULL;
    assert_int_equal(webhook_worker_start(f->s, &cfg, &w), 0);
    for (char tag = 'a'; tag < 'd'; tag++)   /* 60 deliveries that hang */
        enqueue_join(f->s, "app1", tag);
    webhook_worker_wake(w);
    rx_wait(f->rx, 1);
    int64_t t0 = mono_ms();
    enqueue_join(f->s, "app2", 'z');
    webhook_worker_wake(w);
    rx_wait(healthy, 1);
    int64_t took = mono_ms() - t0;
    if (took >= 1000)
        fail_msg("the healthy receiver's delivery took %lld ms", (long long)took);
    t0 = mono_ms();
    webhook_worker_stop(w);
    assert_true(mono_ms() - t0 < 5000);
    receiver_free(healthy);
}

static void test_worker_config(void **state)
{
    fixture *f = *state;
    webhook_worker *w = (webhook_worker *)f;
    webhook_config bad[] = {
        {.max_attempts = 0, .backoff_base_ms = 1, .backoff_max_ms = 1, .timeout_ms = 1},
        {.max_attempts = 1, .backoff_base_ms = 0, .backoff_max_ms = 1, .timeout_ms = 1},
        {.max_attempts = 1, .backoff_base_ms = 10, .backoff_max_ms = 5, .timeout_ms = 1},
        {.max_attempts = 1, .backoff_base_ms = 1, .backoff_max_ms = 1, .timeout_ms = 0},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(webhook_worker_start(f->s, &bad[i], &w), -1);
        assert_null(w);
    }
    /* NULL is "webhooks off". */
    webhook_worker_wake(NULL);
    webhook_worker_stop(NULL);
    /* An idle worker stops at once. */
    webhook_config cfg = quick(1);
    assert_int_equal(webhook_worker_start(f->s, &cfg, &w), 0);
    webhook_worker_wake(w);
    webhook_worker_stop(w);
}

static bool private_addr(const char *text)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (inet_pton(AF_INET, text, &((struct sockaddr_in *)&ss)->sin_addr) == 1) {
        ss.ss_family = AF_INET;
    } else {
        assert_int_equal(inet_pton(AF_INET6, text, &((struct sockaddr_in6 *)&ss)->sin6_addr), 1);
        ss.ss_family = AF_INET6;
    }
    return webhook_address_private((struct sockaddr *)&ss);
}

static void test_private_addresses(void **state)
{
    (void)state;
    static const char *const refused[] = {
        "127.0.0.1", "127.255.1.2", "10.1.2.3", "172.16.0.1", "172.31.255.255",
        "192.168.1.1", "169.254.169.254", "100.64.0.1", "100.127.255.255", "0.0.0.0",
        "224.0.0.1", "255.255.255.255", "::1", "::", "fe80::1", "fc00::1", "fd12::1",
        "ff02::1", "::ffff:127.0.0.1", "::ffff:10.0.0.1",
    };
    static const char *const allowed[] = {
        "8.8.8.8", "172.15.255.255", "172.32.0.1", "192.169.0.1", "100.63.255.255",
        "100.128.0.1", "1.1.1.1", "2001:4860::8888", "::ffff:8.8.8.8",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++)
        assert_true(private_addr(refused[i]));
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        assert_false(private_addr(allowed[i]));
}

/* An IPv6 address that carries an IPv4 one is judged by that IPv4, in
 * every form that reaches it. */
static void test_embedded_ipv4(void **state)
{
    (void)state;
    static const char *const refused[] = {
        /* IPv4-compatible */
        "::127.0.0.1", "::7f00:1", "::10.1.2.3", "::192.168.0.1", "::169.254.169.254",
        /* IPv4-mapped */
        "::ffff:127.0.0.1", "::ffff:172.16.0.1", "::ffff:100.64.0.1",
        /* IPv4-translated (SIIT) */
        "::ffff:0:127.0.0.1", "::ffff:0:10.0.0.1",
        /* NAT64 well-known prefix */
        "64:ff9b::7f00:1", "64:ff9b::127.0.0.1", "64:ff9b::10.0.0.1",
        "64:ff9b::169.254.169.254", "64:ff9b::c0a8:101",
        /* NAT64 local-use 64:ff9b:1::/48 (public IPv4s included: where the
         * IPv4 sits is the local network's choice) and the rest of
         * 64:ff9b::/32 */
        "64:ff9b:1::7f00:1", "64:ff9b:1::8.8.8.8", "64:ff9b:1:7f00:1::", "64:ff9b:2::8.8.8.8",
        /* 6to4 */
        "2002:7f00:1::", "2002:7f00:1::1", "2002:a00:1::1", "2002:c0a8:101::1",
        "2002:a9fe:a9fe::1",
        /* Teredo: client 127.0.0.1 (inverted in the last 32 bits), server
         * 8.8.8.8; client 8.8.8.8, server 10.0.0.1 */
        "2001:0:808:808::80ff:fffe", "2001:0:808:808:0:0:f5ff:fffe", "2001:0:a00:1::f7f7:f7f7",
        /* no IPv4 inside, never public */
        "fec0::1",
    };
    static const char *const allowed[] = {
        "::8.8.8.8", "::ffff:1.1.1.1", "::ffff:0:8.8.8.8", "64:ff9b::8.8.8.8",
        "64:ff9b::101:101", "2002:808:808::1", "2002:101:101::",
        "2001:0:808:808::f7f7:f7f7", "2001:4860:4860::8888", "2a00:1450::1",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        if (!private_addr(refused[i]))
            fail_msg("%s should be refused", refused[i]);
    }
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++) {
        if (private_addr(allowed[i]))
            fail_msg("%s should be allowed", allowed[i]);
    }
}

static void test_proxy_values(void **state)
{
    (void)state;
    static const char *const good[] = {
        "http://127.0.0.1:3128", "https://proxy.example", "socks5h://proxy.example:1080",
        "socks5://10.0.0.1", "socks4://p.example", "socks4a://p.example", "HTTP://P.EXAMPLE/",
    };
    static const char *const bad[] = {
        "", "127.0.0.1:3128", "proxy.example", "ftp://proxy.example", "http://",
        "http://a b", "http:///x", "file:///tmp/x", "socks6://p.example",
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        if (!webhook_proxy_valid(good[i]))
            fail_msg("%s should be a valid proxy", good[i]);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (webhook_proxy_valid(bad[i]))
            fail_msg("%s should not be a valid proxy", bad[i]);
    }
    assert_false(webhook_proxy_valid(NULL));
}

int main(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_signature_vectors),
        cmocka_unit_test(test_private_addresses),
        cmocka_unit_test(test_embedded_ipv4),
        cmocka_unit_test(test_proxy_values),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_event_json),
        cmocka_unit_test(test_event_json_as_jansson),
        cmocka_unit_test_setup_teardown(test_enqueue_rows, setup, teardown),
        cmocka_unit_test_setup_teardown(test_delivered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_retried_until_delivered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_failed_after_max_attempts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_receiver_down_then_up, setup, teardown),
        cmocka_unit_test_setup_teardown(test_restart_resumes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stop_abandons_hung_attempt, setup, teardown),
        cmocka_unit_test_setup_teardown(test_hung_receiver_delays_nobody_else, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worker_config, setup, teardown),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
