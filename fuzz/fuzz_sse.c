/* fuzz_sse: the device event streams of src/live/live.c, fed as meetd
 * feeds them: events built by src/live/event.c (event_payload) and
 * delivered from their rows (event_deliver), with fuzzed reasons,
 * operators, instance ids, roles and times, in any order with streams
 * opening, reading and closing and the hub stopping.
 *
 * Each input gets a new hub over one store that holds two present devices
 * (the fixture's alice and bob of {Q}). The input is a program, one byte
 * per step (low nibble: the step, mod 11; bit 4: device d) plus the step's
 * arguments (fuzz_bytes.c):
 *   0 open a stream for device d        6 read up to n bytes from stream s
 *   1 kicked(d, reason, allow_rejoin,   7 close stream s after reading it all
 *       operator ms_open_id, instanceid, time)
 *   2 replaced(d, time)                 8 close stream s without reading
 *   3 meeting_ended(d, time)            9 role-changed(d, cohost, time): the
 *   4 left(d)                             stream goes on
 *   5 an event for a device_no nobody  10 the hub stops (live_hub_shutdown)
 *     has (time)
 * A model of the hub (below) says what every stream must carry: the
 * role-changed events it heard, then nothing, a final event, or an end
 * comment with its reason (left, superseded, shutdown); each stream read
 * to its end is parsed as a client would (fuzz_sse_check) and compared
 * with it, field by field. */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "live/event.h"
#include "live/live.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_DEV 2
#define N_SLOTS 4
#define STEPS_MAX 64
#define N_STEPS 11

/* One event the model expects a stream to carry. */
typedef struct expect {
    const char *name;
    char reason[CORE_REASON_MAX + 1];
    bool allow_rejoin;
    char op_ms[CORE_OPAQUE_MAX + 1];
    int instanceid;
    bool cohost;             /* role-changed */
    int64_t time;
} expect;

/* How a stream ends: with an event (event.name set), with an end comment
 * (reason set), or not at all (neither: still open when read). */
typedef struct ending {
    expect event;
    const char *reason;
} ending;

typedef struct slot {
    live_stream *s;
    int dev;
    expect news[STEPS_MAX];  /* role-changed events heard, in order */
    int n_news;
    bool closing;            /* the hub has ended it: want says how */
    ending want;
    char *text;              /* bytes read so far */
    size_t len;
} slot;

typedef struct device {
    int64_t device_no;
    uint8_t secret_hash[32];   /* of the token's secret (core_token_parse) */
    bool has_final;          /* an event (or a leave) was sent */
    ending final;
    int current;             /* the slot that is this device's stream, or -1 */
} device;

static store *st;
static device devs[N_DEV];
static slot slots[N_SLOTS];
static bool stopped;         /* the hub was told to stop */
/* What event_payload builds from: a meeting and a participant who is
 * neither its creator nor a host. */
static core_meeting meeting = {.meeting_id = 4242, .creator_userid = "creator"};
static core_user member = {.userid = "member"};

static int device_tx(store_tx *tx, void *arg)
{
    device *d = arg;
    core_device cd;
    return store_device_by_token(tx, d->device_no, d->secret_hash, &cd) == STORE_OK ? 0 : -1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_world_init();
    fuzz_world_begin();     /* once: the devices stay present, nothing here removes them */
    st = fuzz_world_env()->st;
    const char *names[N_DEV] = {"{tok1}", "{tok2}"};
    for (int i = 0; i < N_DEV; i++) {
        size_t n;
        char *tok = fuzz_subst(names[i], strlen(names[i]), &n);
        const char *secret;
        if (!core_token_parse(tok, n, &devs[i].device_no, &secret) ||
            ids_sha256(secret, CORE_TOKEN_SECRET_LEN, devs[i].secret_hash) != 0 ||
            store_read(st, device_tx, &devs[i]) != 0)
            fuzz_fail("cannot find the fixture's device %d", i);
        free(tok);
    }
    return 0;
}

/* ---- the model ------------------------------------------------------------------ */

static void end_slot(slot *s, const ending *e)
{
    if (s->closing)
        return;
    s->closing = true;
    s->want = *e;
}

/* A final event (or a leave: no name, reason "left"), as live_final
 * handles it: kept for a late stream, and the device's stream ends. */
static void model_final(device *d, const ending *e)
{
    d->has_final = true;
    d->final = *e;
    if (d->current >= 0)
        end_slot(&slots[d->current], e);
}

/* News (role-changed), as live_news handles it: only an open stream of a
 * device without a final event hears it. */
static void model_news(device *d, const expect *e)
{
    if (d->has_final || d->current < 0 || slots[d->current].closing)
        return;
    slot *s = &slots[d->current];
    if (s->n_news < STEPS_MAX)
        s->news[s->n_news++] = *e;
}

static void model_open(int si, int dev)
{
    device *d = &devs[dev];
    slot *s = &slots[si];
    if (d->has_final) {
        end_slot(s, &d->final);
        return;
    }
    if (d->current >= 0)   /* one stream per device */
        end_slot(&slots[d->current], &(ending){.reason = "superseded"});
    d->current = si;
}

static void model_stop(void)
{
    stopped = true;
    for (int i = 0; i < N_DEV; i++)
        if (devs[i].current >= 0)
            end_slot(&slots[devs[i].current], &(ending){.reason = "shutdown"});
}

/* ---- steps ------------------------------------------------------------------ */

static void read_some(slot *s, size_t max)
{
    char *grown = realloc(s->text, s->len + max + 1);
    if (grown == NULL)
        fuzz_fail("out of memory");
    s->text = grown;
    ssize_t n = live_stream_read(s->s, s->len, s->text + s->len, max);
    if (n == 0)
        fuzz_fail("live_stream_read returned 0 on a stream without a connection");
    if (n > 0)
        s->len += (size_t)n;
}

static void check_event(const slot *s, json_t *ev, const expect *w)
{
    const char *name = json_string_value(json_object_get(ev, "event"));
    if (strcmp(name, w->name) != 0)
        fuzz_fail("stream of device %d carried \"%s\" where \"%s\" was due", s->dev, name,
                  w->name);
    json_t *data = json_object_get(ev, "data");
    if (json_integer_value(json_object_get(data, "time")) != w->time)
        fuzz_fail("event time %lld, sent %lld",
                  (long long)json_integer_value(json_object_get(data, "time")),
                  (long long)w->time);
    if (strcmp(w->name, "kicked") == 0) {
        json_t *op = json_object_get(data, "operator");
        if (strcmp(json_string_value(json_object_get(data, "reason")), w->reason) != 0 ||
            json_is_true(json_object_get(data, "allow_rejoin")) != w->allow_rejoin ||
            strcmp(json_string_value(json_object_get(op, "ms_open_id")), w->op_ms) != 0 ||
            json_integer_value(json_object_get(op, "instanceid")) != w->instanceid)
            fuzz_fail("kicked event does not say what was sent");
    } else if (strcmp(w->name, "role-changed") == 0) {
        if (strcmp(json_string_value(json_object_get(data, "role")),
                   w->cohost ? "cohost" : "attendee") != 0 ||
            json_integer_value(json_object_get(data, "user_role")) !=
                (w->cohost ? CORE_ROLE_COHOST : CORE_ROLE_MEMBER))
            fuzz_fail("role-changed event does not say what was sent");
    }
}

/* The stream as read: the news it heard, then how it ended. */
static void check_slot(const slot *s)
{
    json_t *got = fuzz_sse_check(s->text, s->len);
    json_t *events = json_object_get(got, "events");
    const char *end = json_string_value(json_object_get(got, "end"));
    bool final_event = s->closing && s->want.event.name != NULL;
    size_t want_n = (size_t)s->n_news + (final_event ? 1 : 0);
    if (json_array_size(events) != want_n)
        fuzz_fail("stream of device %d carried %zu events, %zu were due", s->dev,
                  json_array_size(events), want_n);
    for (int i = 0; i < s->n_news; i++)
        check_event(s, json_array_get(events, (size_t)i), &s->news[i]);
    if (final_event)
        check_event(s, json_array_get(events, (size_t)s->n_news), &s->want.event);
    const char *want_end = s->closing ? s->want.reason : NULL;
    if ((end == NULL) != (want_end == NULL) || (end != NULL && strcmp(end, want_end) != 0))
        fuzz_fail("stream of device %d ended with \"%s\" where \"%s\" was due", s->dev,
                  end != NULL ? end : "(no end comment)",
                  want_end != NULL ? want_end : "(no end comment)");
    json_decref(got);
}

static void close_slot(slot *s, bool drain)
{
    if (drain) {
        /* Without a connection a stream never waits: it ends once empty. */
        while (s->len < (size_t)1 << 20) {
            size_t before = s->len;
            read_some(s, 4096);
            if (s->len == before)
                break;
        }
        check_slot(s);
    }
    live_stream_close(s->s);
    device *d = &devs[s->dev];
    if (d->current == (int)(s - slots))
        d->current = -1;
    free(s->text);
    memset(s, 0, sizeof *s);
}

static slot *pick_open(fuzz_bytes *b)
{
    int start = fuzz_u8(b) % N_SLOTS;
    for (int i = 0; i < N_SLOTS; i++) {
        slot *s = &slots[(start + i) % N_SLOTS];
        if (s->s != NULL)
            return s;
    }
    return NULL;
}

static void step_open(live_hub *h, int dev)
{
    int si = -1;
    for (int i = 0; i < N_SLOTS && si < 0; i++)
        if (slots[i].s == NULL)
            si = i;
    if (si < 0)
        return;
    slot *s = &slots[si];
    live_open_rc rc = live_stream_open(h, devs[dev].device_no, devs[dev].secret_hash, &s->s);
    if (stopped) {
        if (rc != LIVE_OPEN_STOPPING)
            fuzz_fail("live_stream_open answered %d, not LIVE_OPEN_STOPPING, after the stop", rc);
        return;
    }
    if (rc != LIVE_OPEN_OK)
        fuzz_fail("live_stream_open failed for a present device");
    s->dev = dev;
    model_open(si, dev);
}

/* Builds the event as event.c does and delivers it as from its row;
 * false when its text cannot be JSON (invalid UTF-8): event_record would
 * fail the transaction, so nothing is delivered. */
static bool deliver(live_hub *h, const event_rec *ev, int64_t device_no)
{
    char *payload = event_payload(ev, NULL);
    if (payload == NULL)
        return false;
    store_event row = {.meeting_id = meeting.meeting_id, .device_no = device_no};
    snprintf(row.type, sizeof row.type, "%s", event_type_name(ev->type));
    event_deliver(h, &row, payload);
    free(payload);
    return true;
}

static void step_kicked(live_hub *h, fuzz_bytes *b, int dev)
{
    ending e = {.event = {.name = "kicked"}};
    expect *x = &e.event;
    fuzz_str(b, x->reason, sizeof x->reason);
    x->allow_rejoin = fuzz_u8(b) & 1;
    fuzz_str(b, x->op_ms, sizeof x->op_ms);
    x->instanceid = (int)fuzz_u32(b);
    x->time = (int64_t)fuzz_u64(b);
    core_user op = {0};
    snprintf(op.ms_open_id, sizeof op.ms_open_id, "%s", x->op_ms);
    event_rec ev = {.type = EVENT_KICKED, .meeting = &meeting, .user = &member,
                    .op_user = &op, .op_instanceid = x->instanceid, .reason = x->reason,
                    .allow_rejoin = x->allow_rejoin, .time = x->time};
    if (deliver(h, &ev, devs[dev].device_no))
        model_final(&devs[dev], &e);
}

static void run_step(live_hub *h, fuzz_bytes *b)
{
    uint8_t byte = fuzz_u8(b);
    int op = (byte & 0x0f) % N_STEPS;
    int dev = (byte >> 4) % N_DEV;
    ending e = {.reason = NULL};
    event_rec ev = {.meeting = &meeting, .user = &member};
    slot *s;
    switch (op) {
    case 0:
        step_open(h, dev);
        break;
    case 1:
        step_kicked(h, b, dev);
        break;
    case 2:
    case 3:
        e.event.name = op == 2 ? "replaced" : "meeting-ended";
        e.event.time = ev.time = (int64_t)fuzz_u64(b);
        ev.type = op == 2 ? EVENT_REPLACED : EVENT_ENDED;
        if (deliver(h, &ev, devs[dev].device_no))
            model_final(&devs[dev], &e);
        break;
    case 4:
        ev.type = EVENT_LEFT;
        e.reason = "left";
        if (deliver(h, &ev, devs[dev].device_no))
            model_final(&devs[dev], &e);
        break;
    case 5: {
        /* Any device_no the store does not hold: its record must stay apart. */
        int64_t other = (int64_t)fuzz_u64(b);
        ev.type = EVENT_ENDED;
        if (other != devs[0].device_no && other != devs[1].device_no)
            deliver(h, &ev, other);
        break;
    }
    case 6:
        if ((s = pick_open(b)) != NULL)
            read_some(s, (size_t)fuzz_u8(b) + 1);
        break;
    case 9:
        e.event.name = "role-changed";
        e.event.cohost = ev.cohost = fuzz_u8(b) & 1;
        e.event.time = ev.time = (int64_t)fuzz_u64(b);
        ev.type = EVENT_ROLE;
        if (deliver(h, &ev, devs[dev].device_no))
            model_news(&devs[dev], &e.event);
        break;
    case 10:
        live_hub_shutdown(h);
        model_stop();
        break;
    default:
        if ((s = pick_open(b)) != NULL)
            close_slot(s, op == 7);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    live_config cfg = {.heartbeat_ms = 1000000000};
    live_hub *h;
    if (live_hub_new(&cfg, st, NULL, NULL, &h) != 0)
        fuzz_fail("live_hub_new failed");
    stopped = false;
    for (int i = 0; i < N_DEV; i++) {
        devs[i].has_final = false;
        devs[i].current = -1;
    }
    fuzz_bytes b = {data, size};
    for (int i = 0; i < STEPS_MAX && b.n > 0; i++)
        run_step(h, &b);
    for (int i = 0; i < N_SLOTS; i++)
        if (slots[i].s != NULL)
            close_slot(&slots[i], true);
    if (live_stream_count(h) != 0)
        fuzz_fail("the hub counts %zu streams after all were closed", live_stream_count(h));
    live_hub_free(h);
    return 0;
}
