/* The one path for "something happened" (src/live/event.c) and presence
 * time-outs (src/live/presence.c), against a real store and hub: what a
 * stream hears, and when; rows a node that did not make the change can
 * deliver from; and the defects of live/ fixed on the way. */
#include "store_fixture.h"

#include <jansson.h>
#include <sched.h>
#include <string.h>
#include <stdatomic.h>
#include <time.h>

#include "api/api.h"
#include "common/ids.h"
#include "live/event.h"
#include "live/live.h"
#include "live/presence.h"
#include "live/webhook.h"

#define APP "app1"
#define MEETING 4242
#define NOW 1800000100

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* One app, one meeting in progress, one user on two devices (instanceids 1
 * and 2), and a webhook of the app. */
typedef struct scene {
    core_meeting m;
    core_user user;
    core_device dev[2];
} scene;

static void seed_body(store_tx *tx, void *arg)
{
    scene *sc = arg;
    store_app a;
    memset(&a, 0, sizeof a);
    snprintf(a.app_id, sizeof a.app_id, APP);
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
    core_meeting *m = &sc->m;
    memset(m, 0, sizeof *m);
    m->meeting_id = MEETING;
    snprintf(m->app_id, sizeof m->app_id, APP);
    snprintf(m->meeting_code, sizeof m->meeting_code, "424242424");
    snprintf(m->subject, sizeof m->subject, "Events");
    snprintf(m->creator_userid, sizeof m->creator_userid, "creator");
    m->creator_instanceid = 1;
    m->start_time = NOW - 100;
    m->end_time = NOW + 3600;
    m->status = CORE_ST_STARTED;
    assert_int_equal(store_meeting_insert(tx, m), STORE_OK);
    core_user *u = &sc->user;
    memset(u, 0, sizeof *u);
    snprintf(u->userid, sizeof u->userid, "bob");
    snprintf(u->uuid, sizeof u->uuid, "uuid-bob");
    snprintf(u->ms_open_id, sizeof u->ms_open_id, "ms-bob");
    snprintf(u->nick_name, sizeof u->nick_name, "Bob");
    assert_int_equal(store_user_insert(tx, MEETING, u), STORE_OK);
    for (int i = 0; i < 2; i++) {
        core_device *d = &sc->dev[i];
        memset(d, 0, sizeof *d);
        d->meeting_id = MEETING;
        d->user_no = u->user_no;
        d->instanceid = i + 1;
        d->join_time = NOW - 10;
        char secret[CORE_TOKEN_SECRET_LEN + 1];
        memset(secret, "ab"[i], CORE_TOKEN_SECRET_LEN);
        secret[CORE_TOKEN_SECRET_LEN] = '\0';
        assert_int_equal(ids_sha256(secret, CORE_TOKEN_SECRET_LEN, d->token_hash), 0);
        assert_int_equal(store_device_insert(tx, d), STORE_OK);
    }
    store_webhook w;
    memset(&w, 0, sizeof w);
    snprintf(w.app_id, sizeof w.app_id, APP);
    snprintf(w.url, sizeof w.url, "http://127.0.0.1:9/hook");
    snprintf(w.token, sizeof w.token, "tok");
    assert_int_equal(store_webhook_insert(tx, &w), STORE_OK);
}

static void seed(fixture *f, scene *sc) { write_ok(f->s, seed_body, sc); }

static live_stream *open_stream(live_hub *h, const core_device *d)
{
    live_stream *s = NULL;
    assert_int_equal(live_stream_open(h, d->device_no, d->token_hash, &s), LIVE_OPEN_OK);
    return s;
}

/* What the stream has queued now (without a connection a read never
 * waits). The caller frees. */
static char *drain(live_stream *s)
{
    size_t cap = 1 << 16, len = 0;
    char *text = malloc(cap);
    assert_non_null(text);
    ssize_t n;
    while ((n = live_stream_read(s, len, text + len, cap - 1 - len)) > 0)
        len += (size_t)n;
    text[len] = '\0';
    return text;
}

/* ---- recording in a transaction ------------------------------------------ */

typedef struct rec_job {
    const event_rec *ev;
    event_batch *b;
    live_stream *peek;     /* read inside the transaction */
    bool roll_back;
    char *heard_inside;
} rec_job;

static int rec_tx(store_tx *tx, void *arg)
{
    rec_job *j = arg;
    event_batch_reset(j->b);
    if (event_record(tx, j->ev, j->b) != STORE_OK)
        return -1;
    if (j->peek != NULL)
        j->heard_inside = drain(j->peek);
    return j->roll_back ? 1 : 0;
}

static event_rec role_event(const scene *sc, bool cohost)
{
    return (event_rec){.type = EVENT_ROLE, .meeting = &sc->m, .user = &sc->user,
                       .cohost = cohost, .time = NOW, .trace_id = "trace-role"};
}

/* A role change is heard by every present device's stream, only after the
 * commit, and the stream goes on: a later final event still arrives. A
 * rolled-back one is never heard. */
static void test_role_changed_after_commit_only(void **state)
{
    fixture *f = *state;
    scene sc;
    seed(f, &sc);
    live_config cfg = {.heartbeat_ms = 1000000};
    live_hub *h = NULL;
    assert_int_equal(live_hub_new(&cfg, f->s, NULL, NULL, &h), 0);
    live_stream *s1 = open_stream(h, &sc.dev[0]), *s2 = open_stream(h, &sc.dev[1]);
    free(drain(s1));
    free(drain(s2));

    event_batch b = {0};
    event_rec ev = role_event(&sc, true);
    rec_job j = {.ev = &ev, .b = &b, .peek = s1, .roll_back = true};
    assert_int_equal(store_write(f->s, rec_tx, &j), 1);
    assert_string_equal(j.heard_inside, "");
    free(j.heard_inside);
    event_batch_free(&b);          /* rolled back: dropped unpublished */
    char *t = drain(s1);
    assert_string_equal(t, "");
    free(t);

    j = (rec_job){.ev = &ev, .b = &b, .peek = s1};
    assert_int_equal(store_write(f->s, rec_tx, &j), 0);
    assert_string_equal(j.heard_inside, "");    /* recorded, not yet committed */
    free(j.heard_inside);
    t = drain(s1);
    assert_string_equal(t, "");                  /* committed, not yet published */
    free(t);
    assert_int_equal(b.n, 2);                    /* one per present device */
    event_publish(h, NULL, &b);
    char want[256];
    snprintf(want, sizeof want,
             "event: role-changed\ndata: {\"role\":\"cohost\",\"user_role\":%d,"
             "\"meeting_id\":\"%d\",\"time\":%d}\n\n",
             CORE_ROLE_COHOST, MEETING, NOW);
    live_stream *both[2] = {s1, s2};
    for (int i = 0; i < 2; i++) {
        t = drain(both[i]);
        assert_string_equal(t, want);
        free(t);
    }
    assert_int_equal(live_stream_count(h), 2);
    /* Still streaming: a final event after it arrives, and ends it. */
    live_send(h, 0, sc.dev[0].device_no, "kicked", "{\"time\":1}", true);
    t = drain(s1);
    assert_string_equal(t, "event: kicked\ndata: {\"time\":1}\n\n");
    free(t);
    event_batch_free(&b);
    live_stream_close(s1);
    live_stream_close(s2);
    live_hub_free(h);
}

/* ---- rows: what another node reads ---------------------------------------- */

typedef struct row_walk {
    live_hub *h;
    int n;
    store_event last;
} row_walk;

static store_rc row_deliver(const store_event *e, const char *payload, void *arg)
{
    row_walk *w = arg;
    event_deliver(w->h, e, payload);
    w->last = *e;
    w->n++;
    return STORE_OK;
}

static void rows_body(store_tx *tx, void *arg)
{
    assert_int_equal(store_events_since(tx, MEETING, 0, 100, row_deliver, arg), STORE_OK);
}

typedef struct last_q {
    int64_t last;
} last_q;

static void last_body(store_tx *tx, void *arg)
{
    last_q *q = arg;
    assert_int_equal(store_events_last(tx, MEETING, &q->last), STORE_OK);
}

typedef struct count_q {
    int64_t audit;
    int64_t deliveries;
} count_q;

static int audit_none(const core_audit *a, void *arg)
{
    (void)a;
    (void)arg;
    return 0;
}

static int delivery_none(const store_delivery *d, void *arg)
{
    (void)d;
    (void)arg;
    return 0;
}

static void count_body(store_tx *tx, void *arg)
{
    count_q *q = arg;
    assert_int_equal(store_audit_list(tx, MEETING, 0, 0, audit_none, NULL,
                                      &q->audit),
                     STORE_OK);
    assert_int_equal(store_deliveries_list(tx, APP, -1, 0, 0, delivery_none,
                                           NULL, &q->deliveries),
                     STORE_OK);
}

/* A node that did not make the change, reading the rows, tells its
 * streams exactly what the node that made it told its own. */
static void test_rows_deliver_what_publish_does(void **state)
{
    fixture *f = *state;
    scene sc;
    seed(f, &sc);
    live_config cfg = {.heartbeat_ms = 1000000};
    live_hub *a = NULL, *bh = NULL;
    assert_int_equal(live_hub_new(&cfg, f->s, NULL, NULL, &a), 0);
    assert_int_equal(live_hub_new(&cfg, f->s, NULL, NULL, &bh), 0);
    last_q q = {-1};
    read_ok(f->s, last_body, &q);
    assert_int_equal(q.last, 0);
    live_stream *sa = open_stream(a, &sc.dev[0]), *sb = open_stream(bh, &sc.dev[0]);
    free(drain(sa));
    free(drain(sb));

    core_user op = sc.user;
    snprintf(op.ms_open_id, sizeof op.ms_open_id, "ms-op");
    event_rec ev = {.type = EVENT_KICKED, .meeting = &sc.m, .device_no = sc.dev[0].device_no,
                    .user = &sc.user, .instanceid = 1, .op_user = &op, .op_instanceid = 2,
                    .reason = "line\nbreak \"quoted\"", .allow_rejoin = false, .time = NOW,
                    .trace_id = "trace-kick"};
    event_batch b = {0};
    rec_job j = {.ev = &ev, .b = &b};
    assert_int_equal(store_write(f->s, rec_tx, &j), 0);
    event_publish(a, NULL, &b);
    event_batch_free(&b);
    /* The one record wrote the audit row and both webhooks too. */
    count_q n = {0};
    read_ok(f->s, count_body, &n);
    assert_int_equal(n.audit, 1);
    assert_int_equal(n.deliveries, 2);
    row_walk w = {.h = bh};
    read_ok(f->s, rows_body, &w);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.last.type, "kicked");
    assert_int_equal(w.last.meeting_id, MEETING);
    assert_int_equal(w.last.device_no, sc.dev[0].device_no);
    read_ok(f->s, last_body, &q);
    assert_int_equal(q.last, w.last.event_no);
    char *ta = drain(sa), *tb = drain(sb);
    assert_non_null(strstr(ta, "event: kicked\ndata: {\"reason\":\"line\\nbreak"));
    assert_string_equal(ta, tb);
    free(ta);
    free(tb);
    /* Both streams ended with it. */
    assert_int_equal(live_stream_read(sa, 0, (char[8]){0}, 8), -1);
    live_stream_close(sa);
    live_stream_close(sb);
    live_hub_free(a);
    live_hub_free(bh);
}

/* ---- once each, in order (relay.h) ----------------------------------------- */

/* This node's publish and the relay deliver the same rows, in either
 * order: a device hears each number once and none below one it heard. */
static void test_device_hears_each_row_once_in_order(void **state)
{
    fixture *f = *state;
    scene sc;
    seed(f, &sc);
    live_config cfg = {.heartbeat_ms = 1000000};
    live_hub *h = NULL;
    assert_int_equal(live_hub_new(&cfg, f->s, NULL, NULL, &h), 0);
    live_stream *s = open_stream(h, &sc.dev[0]);
    free(drain(s));
    int64_t dev = sc.dev[0].device_no;
    live_send(h, 5, dev, "role-changed", "{\"n\":5}", false);
    live_send(h, 5, dev, "role-changed", "{\"n\":5}", false);   /* the other messenger */
    live_send(h, 4, dev, "role-changed", "{\"n\":4}", false);   /* older: out of order */
    live_send(h, 7, dev, "role-changed", "{\"n\":7}", false);
    char *t = drain(s);
    assert_string_equal(t, "event: role-changed\ndata: {\"n\":5}\n\n"
                           "event: role-changed\ndata: {\"n\":7}\n\n");
    free(t);
    live_send(h, 6, dev, "kicked", "{\"n\":6}", true);          /* below 7: dropped */
    live_send(h, 9, dev, "kicked", "{\"n\":9}", true);
    live_send(h, 9, dev, "kicked", "{\"n\":9}", true);
    live_left(h, 10, dev);                                       /* ended already */
    t = drain(s);
    assert_string_equal(t, "event: kicked\ndata: {\"n\":9}\n\n");
    free(t);
    assert_int_equal(live_stream_read(s, 0, (char[8]){0}, 8), -1);
    /* Not a row (0): no order to keep, as before rows. */
    live_stream *s2 = open_stream(h, &sc.dev[1]);
    free(drain(s2));
    live_send(h, 0, sc.dev[1].device_no, "role-changed", "{\"n\":0}", false);
    live_send(h, 0, sc.dev[1].device_no, "role-changed", "{\"n\":0}", false);
    t = drain(s2);
    assert_string_equal(t, "event: role-changed\ndata: {\"n\":0}\n\n"
                           "event: role-changed\ndata: {\"n\":0}\n\n");
    free(t);
    live_stream_close(s);
    live_stream_close(s2);
    live_hub_free(h);
}

/* live_gone (the relay's resync: the store says the device left, no row
 * told it) ends a stream as a leave does, but never after an event. */
static void test_gone_ends_a_stream_only_once(void **state)
{
    fixture *f = *state;
    scene sc;
    seed(f, &sc);
    live_config cfg = {.heartbeat_ms = 1000000};
    live_hub *h = NULL;
    assert_int_equal(live_hub_new(&cfg, f->s, NULL, NULL, &h), 0);
    live_stream *s1 = open_stream(h, &sc.dev[0]), *s2 = open_stream(h, &sc.dev[1]);
    free(drain(s1));
    free(drain(s2));
    live_send(h, 3, sc.dev[0].device_no, "kicked", "{\"n\":3}", true);
    live_gone(h, sc.dev[0].device_no);
    live_gone(h, sc.dev[1].device_no);
    char *t1 = drain(s1), *t2 = drain(s2);
    assert_string_equal(t1, "event: kicked\ndata: {\"n\":3}\n\n");
    assert_string_equal(t2, ": end left\n\n");
    free(t1);
    free(t2);
    assert_int_equal(live_stream_read(s1, 0, (char[8]){0}, 8), -1);
    assert_int_equal(live_stream_read(s2, 0, (char[8]){0}, 8), -1);
    live_stream_close(s1);
    live_stream_close(s2);
    live_hub_free(h);
}

/* ---- defects ----------------------------------------------------------------- */

/* A stream opened while its device's grace time-out waits for the writer
 * (its token still good) used to stay open on a device that had left. */
static atomic_bool writer_held, writer_release;

static int hold_tx(store_tx *tx, void *arg)
{
    (void)tx;
    (void)arg;
    atomic_store(&writer_held, true);
    int64_t deadline = mono_ms() + 10000;
    while (!atomic_load(&writer_release) && mono_ms() < deadline)
        sched_yield();
    return 0;
}

static void hold_done(void *arg, int rc)
{
    (void)arg;
    (void)rc;
}

/* Sets the device's row as a stream closed on node long ago: due now. */
typedef struct gone_job {
    int64_t device_no;
    int64_t node;
    int64_t grace_until;
} gone_job;

static void gone_body(store_tx *tx, void *arg)
{
    gone_job *g = arg;
    assert_int_equal(store_stream_attach(tx, g->device_no, g->node, 0, NULL), STORE_OK);
    if (g->grace_until != 0)
        assert_int_equal(store_stream_detach(tx, g->device_no, g->node, g->grace_until),
                         STORE_OK);
}

static void test_stream_opened_during_timeout_ends(void **state)
{
    fixture *f = *state;
    scene sc;
    seed(f, &sc);
    gone_job g = {sc.dev[0].device_no, 7, clock_unix_ms() - 1000};
    write_ok(f->s, gone_body, &g);
    atomic_store(&writer_held, false);
    atomic_store(&writer_release, false);
    assert_int_equal(store_write_async(f->s, hold_tx, NULL, hold_done, NULL), 0);
    int64_t deadline = mono_ms() + 10000;
    while (!atomic_load(&writer_held) && mono_ms() < deadline)
        sched_yield();
    /* The sweeper's first sweep (the device is due) waits for the writer. */
    presence *p = NULL;
    presence_config pc = {.grace_ms = 50, .tick_ms = 20};
    assert_int_equal(presence_new(f->s, NULL, &pc, &p), 0);
    live_config cfg = {.heartbeat_ms = 20};
    live_hub *h = NULL;
    assert_int_equal(live_hub_new(&cfg, f->s, presence_note, p, &h), 0);
    assert_int_equal(presence_start(p, h, ""), 0);
    while (store_write_queue(f->s) < 1 && mono_ms() < deadline)
        sched_yield();
    assert_int_equal(store_write_queue(f->s), 1);
    live_stream *s2 = open_stream(h, &sc.dev[0]);   /* still present: opens */
    atomic_store(&writer_release, true);
    char text[4096] = "";
    size_t len = 0;
    while (strstr(text, ": end left") == NULL && mono_ms() < deadline) {
        ssize_t n = live_stream_read(s2, len, text + len, sizeof text - 1 - len);
        if (n > 0)
            text[len += (size_t)n] = '\0';
        else
            sched_yield();
    }
    assert_non_null(strstr(text, ": end left\n\n"));
    assert_int_equal(live_stream_read(s2, len, text, 8), -1);
    live_stream_close(s2);
    live_hub_shutdown(h);
    presence_stop(p);
    live_hub_free(h);
    presence_free(p);
}

/* ---- the sweeper ---------------------------------------------------------------- */

typedef struct row_q {
    int64_t device_no;
    int64_t node, grace_until;
    core_device dev;
} row_q;

static void row_body(store_tx *tx, void *arg)
{
    row_q *q = arg;
    assert_int_equal(store_stream_get(tx, q->device_no, &q->node, &q->grace_until), STORE_OK);
    assert_int_equal(store_device_get(tx, q->device_no, &q->dev), STORE_OK);
}

static row_q row_of(fixture *f, int64_t device_no)
{
    row_q q = {.device_no = device_no};
    read_ok(f->s, row_body, &q);
    return q;
}

/* Waits (bounded) until the device's row satisfies done. */
static row_q wait_row(fixture *f, int64_t device_no, bool (*done)(const row_q *, int64_t),
                      int64_t want, const char *what)
{
    int64_t deadline = mono_ms() + 10000;
    for (;;) {
        row_q q = row_of(f, device_no);
        if (done(&q, want))
            return q;
        if (mono_ms() > deadline)
            fail_msg("device %lld: %s never happened", (long long)device_no, what);
        sched_yield();
    }
}

static bool row_on_node(const row_q *q, int64_t node) { return q->node == node; }
static bool row_in_grace(const row_q *q, int64_t unused)
{
    (void)unused;
    return q->node == 0 && q->grace_until != 0;
}
static bool row_left(const row_q *q, int64_t unused)
{
    (void)unused;
    return q->dev.left_time != 0;
}

typedef struct sweeper {
    presence *p;
    live_hub *h;
} sweeper;

static sweeper sweeper_start(fixture *f, int grace_ms, int dead_after_ms)
{
    sweeper w = {0};
    presence_config pc = {.grace_ms = grace_ms, .dead_after_ms = dead_after_ms, .tick_ms = 20};
    assert_int_equal(presence_new(f->s, NULL, &pc, &w.p), 0);
    /* As meetd: the hub ends the streams "superseded" rows name it for. */
    live_config cfg = {.heartbeat_ms = 1000000, .node_id = presence_node_id(w.p)};
    assert_int_equal(live_hub_new(&cfg, f->s, presence_note, w.p, &w.h), 0);
    assert_int_equal(presence_start(w.p, w.h, "http://127.0.0.1:1"), 0);
    return w;
}

static void sweeper_stop(sweeper *w)
{
    live_hub_shutdown(w->h);
    presence_stop(w->p);
    live_hub_free(w->h);
    presence_free(w->p);
}

/* A stream's open and close reach the row; past the grace its device is
 * ended as a time-out, its stream told; a device that never streamed
 * stays. */
static void test_sweeper_times_out_closed_stream(void **state)
{
    fixture *f = *state;
    scene sc;
    seed(f, &sc);
    sweeper w = sweeper_start(f, 300, 0);
    int64_t node = presence_node_id(w.p);
    assert_true(node > 0);
    live_stream *s = open_stream(w.h, &sc.dev[0]);
    wait_row(f, sc.dev[0].device_no, row_on_node, node, "the attach");
    int64_t closed = clock_unix_ms();
    live_stream_close(s);
    /* The row keeps the grace after the time-out too: no race with it. */
    row_q q = wait_row(f, sc.dev[0].device_no, row_in_grace, 0, "the detach");
    assert_true(q.grace_until >= closed + 300 && q.grace_until <= clock_unix_ms() + 300);
    q = wait_row(f, sc.dev[0].device_no, row_left, 0, "the time-out");
    assert_int_equal(q.dev.left_reason, CORE_LEFT_TIMEOUT);
    assert_true(clock_unix_ms() >= closed + 300);
    /* Device 2 never opened a stream: it stays. */
    assert_int_equal(row_of(f, sc.dev[1].device_no).dev.left_time, 0);
    sweeper_stop(&w);
}

/* A node that died (its row's heartbeat is old) with a stream open: its
 * device ends, with grace from that heartbeat; a device it held whose
 * client came back to this node stays. */
typedef struct dead_job {
    int64_t node;
    int64_t heartbeat_at;
    int64_t dev[2];
} dead_job;

static void dead_body(store_tx *tx, void *arg)
{
    dead_job *d = arg;
    store_node n = {.node_id = d->node, .started_at = d->heartbeat_at,
                    .heartbeat_at = d->heartbeat_at};
    assert_int_equal(store_node_register(tx, &n), STORE_OK);
    for (int i = 0; i < 2; i++)
        assert_int_equal(store_stream_attach(tx, d->dev[i], d->node, 0, NULL), STORE_OK);
}

static void test_sweeper_ends_dead_nodes_devices(void **state)
{
    fixture *f = *state;
    scene sc;
    seed(f, &sc);
    int64_t t0 = clock_unix_ms();
    dead_job d = {42, t0 - 400, {sc.dev[0].device_no, sc.dev[1].device_no}};
    write_ok(f->s, dead_body, &d);
    /* Dead after 300 ms: dead already. Grace 2000 ms from its heartbeat:
     * time enough for device 1's client to come back, even under ASan. */
    sweeper w = sweeper_start(f, 2000, 300);
    live_stream *s = open_stream(w.h, &sc.dev[1]);   /* came back here */
    row_q q = wait_row(f, sc.dev[0].device_no, row_left, 0, "the dead node's time-out");
    assert_int_equal(q.dev.left_reason, CORE_LEFT_TIMEOUT);
    assert_true(clock_unix_ms() >= t0 - 400 + 2000);
    q = row_of(f, sc.dev[1].device_no);
    assert_int_equal(q.dev.left_time, 0);
    assert_int_equal(q.node, presence_node_id(w.p));
    live_stream_close(s);
    sweeper_stop(&w);
}

/* A node taken for dead while it was only slow: another node converted
 * its stream's row (grace from its old heartbeat, due at once). At its
 * next heartbeat it records its open streams again, before ending anyone:
 * the device streaming on it stays. */
typedef struct takeover_job {
    int64_t node;
    int64_t now;
} takeover_job;

static store_rc takeover_due(int64_t device_no, void *arg)
{
    (void)device_no;
    (void)arg;
    return STORE_OK;
}

static void takeover_body(store_tx *tx, void *arg)
{
    takeover_job *t = arg;
    store_node n = {.node_id = t->node, .started_at = t->now - 20000,
                    .heartbeat_at = t->now - 10000};
    assert_int_equal(store_node_register(tx, &n), STORE_OK);
    assert_int_equal(store_presence_due(tx, t->now, t->now - 300, 100, t->now - 3600000, 10,
                                        takeover_due, NULL),
                     STORE_OK);
}

typedef struct node_seen {
    int64_t node;
    bool found;
} node_seen;

static store_rc node_match(const store_node *n, void *arg)
{
    node_seen *q = arg;
    if (n->node_id == q->node)
        q->found = true;
    return STORE_OK;
}

static void node_body(store_tx *tx, void *arg)
{
    assert_int_equal(store_node_list(tx, node_match, arg), STORE_OK);
}

/* Waits (bounded) until the node's first tick has written its row. */
static void wait_registered(fixture *f, int64_t node)
{
    int64_t deadline = mono_ms() + 10000;
    for (;;) {
        node_seen q = {node, false};
        read_ok(f->s, node_body, &q);
        if (q.found)
            return;
        if (mono_ms() > deadline)
            fail_msg("node %lld never registered", (long long)node);
        sched_yield();
    }
}

static void test_sweeper_taken_for_dead_records_again(void **state)
{
    fixture *f = *state;
    scene sc;
    seed(f, &sc);
    sweeper w = sweeper_start(f, 100, 300);
    int64_t node = presence_node_id(w.p);
    live_stream *s = open_stream(w.h, &sc.dev[0]);
    wait_row(f, sc.dev[0].device_no, row_on_node, node, "the attach");
    /* Taken for dead after its first tick: a takeover that came before
     * it would meet a node that never ran (its first registration does
     * not look for converted rows; nothing could convert them in life,
     * as no other node can see a node before its row exists). */
    wait_registered(f, node);
    takeover_job t = {node, clock_unix_ms()};
    write_ok(f->s, takeover_body, &t);
    row_q q = wait_row(f, sc.dev[0].device_no, row_on_node, node, "the attach again");
    assert_int_equal(q.grace_until, 0);
    assert_int_equal(q.dev.left_time, 0);
    live_stream_close(s);
    sweeper_stop(&w);
}

/* A clean stop detaches the node's streams with grace from the stop, in
 * one write; the stream's own close at the stop writes nothing more. */
static void test_sweeper_stop_detaches(void **state)
{
    fixture *f = *state;
    scene sc;
    seed(f, &sc);
    sweeper w = sweeper_start(f, 60000, 0);
    live_stream *s = open_stream(w.h, &sc.dev[0]);
    wait_row(f, sc.dev[0].device_no, row_on_node, presence_node_id(w.p), "the attach");
    live_hub_shutdown(w.h);
    live_stream_close(s);
    int64_t before = clock_unix_ms();
    presence_stop(w.p);
    row_q q = row_of(f, sc.dev[0].device_no);
    assert_int_equal(q.node, 0);
    assert_true(q.grace_until >= before + 60000 && q.grace_until <= clock_unix_ms() + 60000);
    assert_int_equal(q.dev.left_time, 0);
    assert_int_equal(raw_count(f->data, "nodes"), 0);
    live_hub_free(w.h);
    presence_free(w.p);
}

/* ---- a device's streams on two nodes (presence.c) ------------------------ */

/* Two nodes on one store: a second stream of the device on node B takes
 * the row from A (its open read A) and records a "superseded" row naming
 * A, with no audit and no webhook; delivered to both hubs (the relay's
 * part), it ends A's stream with ": end superseded" and leaves B's. A's
 * close then detaches nothing: the device stays on B. */
static void test_stream_moved_to_another_node_ends_there(void **state)
{
    fixture *f = *state;
    scene sc;
    seed(f, &sc);
    sweeper a = sweeper_start(f, 60000, 0), b = sweeper_start(f, 60000, 0);
    int64_t node_a = presence_node_id(a.p), node_b = presence_node_id(b.p);
    int64_t dev = sc.dev[0].device_no;
    live_stream *sa = open_stream(a.h, &sc.dev[0]);
    wait_row(f, dev, row_on_node, node_a, "the attach on A");
    free(drain(sa));
    live_stream *sb = open_stream(b.h, &sc.dev[0]);
    wait_row(f, dev, row_on_node, node_b, "the attach on B");
    free(drain(sb));
    count_q n = {0};
    read_ok(f->s, count_body, &n);
    assert_int_equal(n.audit, 0);
    assert_int_equal(n.deliveries, 0);
    /* B's own publish named A: B's stream goes on. */
    row_walk w = {.h = b.h};
    read_ok(f->s, rows_body, &w);
    assert_int_equal(w.n, 1);
    assert_string_equal(w.last.type, "superseded");
    assert_int_equal(w.last.device_no, dev);
    char *t = drain(sb);
    assert_null(strstr(t, ": end"));
    free(t);
    w = (row_walk){.h = a.h};
    read_ok(f->s, rows_body, &w);
    t = drain(sa);
    assert_string_equal(t, ": end superseded\n\n");
    free(t);
    assert_int_equal(live_stream_read(sa, 0, (char[8]){0}, 8), -1);
    /* A's close, then an open on A that its queue writes after it. */
    live_stream_close(sa);
    live_stream *other = open_stream(a.h, &sc.dev[1]);
    wait_row(f, sc.dev[1].device_no, row_on_node, node_a, "the later attach on A");
    row_q q = row_of(f, dev);
    assert_int_equal(q.node, node_b);
    assert_int_equal(q.grace_until, 0);
    live_stream_close(other);
    live_stream_close(sb);
    sweeper_stop(&a);
    sweeper_stop(&b);
}

/* Holds the writer until told, then records the device's stream on node B
 * as B's attach would: the write of A's open waits behind it. */
typedef struct move_job {
    atomic_bool go;
    int64_t device_no;
    int64_t node;
} move_job;

static store_rc move_tx(store_tx *tx, void *arg)
{
    move_job *j = arg;
    int64_t deadline = mono_ms() + 10000;
    while (!atomic_load(&j->go) && mono_ms() < deadline)
        sched_yield();
    return store_stream_attach(tx, j->device_no, j->node, 0, NULL);
}

static void move_done(void *arg, store_rc rc)
{
    (void)arg;
    assert_int_equal(rc, STORE_OK);
}

/* A's open is written late, after the client moved to B and B's attach
 * was written: A's attach is refused (its open read no node, the row now
 * names B), A's stream ends with ": end superseded", and its close leaves
 * the row on B without a grace. */
static void test_late_attach_is_refused(void **state)
{
    fixture *f = *state;
    scene sc;
    seed(f, &sc);
    sweeper a = sweeper_start(f, 60000, 0);
    int64_t node_b = presence_node_id(a.p) ^ 1;
    int64_t dev = sc.dev[0].device_no;
    move_job j = {.device_no = dev, .node = node_b};
    atomic_init(&j.go, false);
    assert_int_equal(store_write_async(f->s, move_tx, &j, move_done, NULL), STORE_OK);
    live_stream *sa = open_stream(a.h, &sc.dev[0]);   /* reads no node */
    free(drain(sa));
    atomic_store(&j.go, true);
    /* The refusal ends the stream (bounded wait: the presence thread). */
    int64_t deadline = mono_ms() + 10000;
    char *t = NULL;
    for (;;) {
        t = drain(sa);
        if (strstr(t, ": end superseded\n\n") != NULL || mono_ms() > deadline)
            break;
        free(t);
        sched_yield();
    }
    assert_string_equal(t, ": end superseded\n\n");
    free(t);
    live_stream_close(sa);
    live_stream *other = open_stream(a.h, &sc.dev[1]);
    wait_row(f, sc.dev[1].device_no, row_on_node, presence_node_id(a.p), "a later attach");
    row_q q = row_of(f, dev);
    assert_int_equal(q.node, node_b);
    assert_int_equal(q.grace_until, 0);
    live_stream_close(other);
    sweeper_stop(&a);
}

static const char *token_query(void *io, const char *name)
{
    return strcmp(name, "device_token") == 0 ? io : NULL;
}

/* A stream asked for while meetd is stopping: refused as such (503 in
 * api/events.c), not as a failure (500). */
static void test_open_while_stopping(void **state)
{
    fixture *f = *state;
    scene sc;
    seed(f, &sc);
    live_config cfg = {.heartbeat_ms = 1000000};
    live_hub *h = NULL;
    assert_int_equal(live_hub_new(&cfg, f->s, NULL, NULL, &h), 0);
    live_hub_shutdown(h);
    live_stream *s = NULL;
    assert_int_equal(live_stream_open(h, sc.dev[0].device_no, sc.dev[0].token_hash, &s),
                     LIVE_OPEN_STOPPING);
    assert_null(s);
    assert_int_equal(live_stream_probe(h, sc.dev[0].device_no, sc.dev[0].token_hash),
                     LIVE_OPEN_STOPPING);
    /* What the client gets: GET and HEAD alike. */
    char secret[CORE_TOKEN_SECRET_LEN + 1], token[CORE_TOKEN_MAX + 1];
    memset(secret, 'a', CORE_TOKEN_SECRET_LEN);
    secret[CORE_TOKEN_SECRET_LEN] = '\0';
    assert_int_equal(core_token_format(token, sizeof token, sc.dev[0].device_no, secret), 0);
    api_env env = {.st = f->s, .live = h};
    const char *methods[] = {"GET", "HEAD"};
    for (int i = 0; i < 2; i++) {
        api_call c = {.env = &env, .method = methods[i], .query = token_query, .io = token,
                      .trace_id = "t"};
        api_events(&c);
        assert_null(c.stream);
        assert_int_equal(c.err.err, ME_STOPPING);
        assert_int_equal(err_http_status(c.err.err), 503);
    }
    live_hub_free(h);
}

/* The participant-left webhook of a time-out says when in milliseconds,
 * as every other webhook does (it used to be the second times 1000). */
typedef struct payload_q {
    int64_t operate_time;
    char event[STORE_EVENT_MAX + 1];
} payload_q;

static int payload_cb(const store_delivery *d, const store_webhook *w, const char *payload,
                      void *arg)
{
    (void)w;
    payload_q *q = arg;
    snprintf(q->event, sizeof q->event, "%s", d->event);
    json_t *j = json_loads(payload, 0, NULL);
    json_t *item = json_array_get(json_object_get(j, "payload"), 0);
    q->operate_time = json_integer_value(json_object_get(item, "operate_time"));
    json_decref(j);
    return 0;
}

static int first_delivery(const store_delivery *d, void *arg)
{
    *(int64_t *)arg = d->delivery_id;
    return 0;
}

static void payload_body(store_tx *tx, void *arg)
{
    int64_t id = 0;
    assert_int_equal(store_deliveries_list(tx, APP, -1, 0, 1, first_delivery, &id, NULL),
                     STORE_OK);
    assert_int_equal(store_outbox_pending(tx, id, payload_cb, arg), STORE_OK);
}

static void test_timeout_webhook_time_in_ms(void **state)
{
    fixture *f = *state;
    scene sc;
    seed(f, &sc);
    event_batch b = {0};
    presence_timeout t = {.device_no = sc.dev[1].device_no, .now_ms = 1800000200123, .b = &b};
    assert_int_equal(store_write(f->s, presence_timeout_tx, &t), 0);
    assert_true(t.ended);
    assert_int_equal(b.n, 1);       /* its stream is to hear ": end left" */
    event_batch_free(&b);
    payload_q q = {0};
    read_ok(f->s, payload_body, &q);
    assert_string_equal(q.event, "meeting.participant-left");
    assert_int_equal(q.operate_time, 1800000200123);
}

/* Each payload is what jansson wrote of the same object (the form event.c
 * built before it wrote text): reasons with quotes, escapes, controls and
 * UTF-8 of every length, ids at their extremes; text that is not UTF-8 is
 * refused as json_pack refused it. */
static char *payload_as_jansson(const event_rec *ev)
{
    char mid[24];
    snprintf(mid, sizeof mid, "%lld", (long long)ev->meeting->meeting_id);
    json_t *d = NULL;
    switch (ev->type) {
    case EVENT_KICKED:
        d = json_pack("{s:s,s:b,s:{s:s,s:i},s:I}", "reason", ev->reason, "allow_rejoin",
                      ev->allow_rejoin, "operator", "ms_open_id",
                      ev->op_user != NULL ? ev->op_user->ms_open_id : "", "instanceid",
                      ev->op_instanceid, "time", (json_int_t)ev->time);
        break;
    case EVENT_REPLACED:
    case EVENT_ENDED:
        d = json_pack("{s:I}", "time", (json_int_t)ev->time);
        break;
    case EVENT_ROLE: {
        core_user u = *ev->user;
        u.cohost = ev->cohost;
        d = json_pack("{s:s,s:i,s:s,s:I}", "role", ev->cohost ? "cohost" : "attendee",
                      "user_role", core_user_role(ev->meeting, &u), "meeting_id", mid, "time",
                      (json_int_t)ev->time);
        break;
    }
    case EVENT_JOINED:
        d = json_pack("{s:s,s:i,s:I}", "meeting_id", mid, "instanceid", ev->instanceid, "time",
                      (json_int_t)ev->time);
        break;
    case EVENT_LEFT:
        d = json_pack("{s:s,s:i,s:i,s:I}", "meeting_id", mid, "instanceid", ev->instanceid,
                      "left_reason", ev->left_reason, "time", (json_int_t)ev->time);
        break;
    case EVENT_SUPERSEDED:
        d = json_pack("{s:I,s:I}", "node", (json_int_t)ev->node, "time", (json_int_t)ev->time);
        break;
    default:
        break;
    }
    char *text = d != NULL ? json_dumps(d, JSON_COMPACT) : NULL;
    json_decref(d);
    return text;
}

static void test_payload_text_is_janssons(void **state)
{
    (void)state;
    static const char *const reasons[] = {
        "", "spam", "say \"hi\"", "back\\slash", "tab\there\nnew\r\b\f", "\x01\x1f\x7f",
        "caf\xc3\xa9 \xe4\xbc\x9a\xe8\xae\xae \xf0\x9f\x98\x80", "</script>",
    };
    core_meeting m;
    memset(&m, 0, sizeof m);
    m.meeting_id = INT64_MAX;
    snprintf(m.creator_userid, sizeof m.creator_userid, "host");
    core_user op, target;
    memset(&op, 0, sizeof op);
    memset(&target, 0, sizeof target);
    snprintf(op.ms_open_id, sizeof op.ms_open_id, "op\"ms");
    snprintf(target.userid, sizeof target.userid, "host");
    const int64_t times[] = {0, 1800000200123, INT64_MAX};
    for (int type = 0; type < EVENT__COUNT; type++)
        for (size_t r = 0; r < sizeof reasons / sizeof reasons[0]; r++)
            for (size_t k = 0; k < 3; k++) {
                event_rec ev = {.type = (event_type)type, .meeting = &m, .user = &target,
                                .op_user = r % 2 ? &op : NULL, .instanceid = (int)r,
                                .op_instanceid = 9, .reason = reasons[r],
                                .allow_rejoin = k == 1, .cohost = k != 1,
                                .left_reason = (int)k, .node = times[k] / 7,
                                .time = times[k]};
                char *want = payload_as_jansson(&ev);
                bool failed = false;
                char *got = event_payload(&ev, &failed);
                assert_non_null(want);
                assert_non_null(got);
                assert_false(failed);
                assert_string_equal(got, want);
                free(got);
                free(want);
            }
    event_rec bad = {.type = EVENT_KICKED, .meeting = &m, .user = &target,
                     .reason = "half \xe4\xbc", .time = 1};
    bool failed = false;
    assert_null(event_payload(&bad, &failed));
    assert_true(failed);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_payload_text_is_janssons),
        cmocka_unit_test_setup_teardown(test_role_changed_after_commit_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rows_deliver_what_publish_does, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_hears_each_row_once_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_gone_ends_a_stream_only_once, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_opened_during_timeout_ends, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweeper_times_out_closed_stream, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweeper_ends_dead_nodes_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweeper_taken_for_dead_records_again, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_sweeper_stop_detaches, setup, teardown),
        cmocka_unit_test_setup_teardown(test_stream_moved_to_another_node_ends_there, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_late_attach_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(test_open_while_stopping, setup, teardown),
        cmocka_unit_test_setup_teardown(test_timeout_webhook_time_in_ms, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
