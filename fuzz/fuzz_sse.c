/* fuzz_sse: the device event streams of src/live/live.c, through the public
 * live_* API: events with fuzzed reasons, operators, instance ids and times,
 * in any order with streams opening, reading and closing.
 *
 * Each input gets a new hub over one store that holds two present devices
 * (the fixture's alice and bob of {Q}). The input is a program, one byte
 * per step (low nibble: the step, mod 9; bit 4: device d) plus the step's
 * arguments (fuzz_bytes.c):
 *   0 open a stream for device d        5 an event for a device_no nobody has
 *   1 kicked(d, reason, allow_rejoin,   6 read up to n bytes from stream s
 *       operator ms_open_id, instanceid, time)
 *   2 replaced(d, time)                 7 close stream s after reading it all
 *   3 meeting_ended(d, time)            8 close stream s without reading
 *   4 left(d)
 * A model of the hub (below) says what every stream must carry; each
 * stream read to its end is parsed as a client would (fuzz_sse_check) and
 * compared with it, field by field. */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "live/live.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_DEV 2
#define N_SLOTS 4
#define STEPS_MAX 64

/* What the model expects an event to be; name NULL: the stream ends
 * without one. */
typedef struct expect {
    const char *name;
    char reason[CORE_REASON_MAX + 1];
    bool allow_rejoin;
    char op_ms[CORE_OPAQUE_MAX + 1];
    int instanceid;
    int64_t time;
} expect;

typedef struct slot {
    live_stream *s;
    int dev;
    bool closing;            /* the hub has ended it: expect says with what */
    expect want;
    char *text;              /* bytes read so far */
    size_t len;
} slot;

typedef struct device {
    int64_t device_no;
    uint8_t secret_hash[32];   /* of the token's secret (core_token_parse) */
    bool has_final;          /* an event (or a leave) was sent */
    expect final;
    int current;             /* the slot that is this device's stream, or -1 */
} device;

static store *st;
static device devs[N_DEV];
static slot slots[N_SLOTS];

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

/* The hub builds an event with jansson, which refuses invalid UTF-8: such
 * an event is dropped (and logged) before anything changes. */
static bool utf8_ok(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

static void end_slot(slot *s, const expect *e)
{
    if (s->closing)
        return;
    s->closing = true;
    if (e != NULL)
        s->want = *e;
    else
        s->want.name = NULL;
}

/* An event (or a leave, name NULL) for device d, as live_final handles it. */
static void model_final(device *d, const expect *e)
{
    d->has_final = true;
    d->final = *e;
    if (d->current >= 0)
        end_slot(&slots[d->current], e->name != NULL ? e : NULL);
}

static void model_open(int si, int dev)
{
    device *d = &devs[dev];
    slot *s = &slots[si];
    if (d->has_final) {
        end_slot(s, d->final.name != NULL ? &d->final : NULL);
        return;
    }
    if (d->current >= 0)
        end_slot(&slots[d->current], NULL);   /* one stream per device */
    d->current = si;
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

static void check_slot(const slot *s)
{
    json_t *ev = fuzz_sse_check(s->text, s->len);
    const expect *w = &s->want;
    const char *name = json_string_value(json_object_get(ev, "event"));
    if (!s->closing || w->name == NULL) {
        if (ev != NULL)
            fuzz_fail("stream of device %d carried \"%s\" but should carry no event", s->dev,
                      name);
        return;
    }
    if (ev == NULL || strcmp(name, w->name) != 0)
        fuzz_fail("stream of device %d should carry \"%s\", carried %s", s->dev, w->name,
                  ev != NULL ? name : "nothing");
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
    }
    json_decref(ev);
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
    if (live_stream_open(h, devs[dev].device_no, devs[dev].secret_hash, &s->s) != 0)
        fuzz_fail("live_stream_open failed for a present device");
    s->dev = dev;
    model_open(si, dev);
}

static void step_kicked(live_hub *h, fuzz_bytes *b, int dev)
{
    expect e = {.name = "kicked"};
    fuzz_str(b, e.reason, sizeof e.reason);
    e.allow_rejoin = fuzz_u8(b) & 1;
    fuzz_str(b, e.op_ms, sizeof e.op_ms);
    e.instanceid = (int)fuzz_u32(b);
    e.time = (int64_t)fuzz_u64(b);
    live_kicked(h, devs[dev].device_no, e.reason, e.allow_rejoin, e.op_ms, e.instanceid,
                e.time);
    if (utf8_ok(e.reason) && utf8_ok(e.op_ms))
        model_final(&devs[dev], &e);
}

static void run_step(live_hub *h, fuzz_bytes *b)
{
    uint8_t byte = fuzz_u8(b);
    int op = (byte & 0x0f) % 9;
    int dev = (byte >> 4) % N_DEV;
    expect e = {0};
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
        e.name = op == 2 ? "replaced" : "meeting-ended";
        e.time = (int64_t)fuzz_u64(b);
        if (op == 2)
            live_replaced(h, devs[dev].device_no, e.time);
        else
            live_meeting_ended(h, devs[dev].device_no, e.time);
        model_final(&devs[dev], &e);
        break;
    case 4:
        live_left(h, devs[dev].device_no);
        model_final(&devs[dev], &e);
        break;
    case 5: {
        /* Any device_no the store does not hold: its record must stay apart. */
        int64_t other = (int64_t)fuzz_u64(b);
        if (other != devs[0].device_no && other != devs[1].device_no)
            live_meeting_ended(h, other, 0);
        break;
    }
    case 6:
        if ((s = pick_open(b)) != NULL)
            read_some(s, (size_t)fuzz_u8(b) + 1);
        break;
    default:
        if ((s = pick_open(b)) != NULL)
            close_slot(s, op == 7);
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    live_config cfg = {.heartbeat_ms = 1000000000, .grace_ms = 1000000000};
    live_hub *h;
    if (live_hub_new(&cfg, st, NULL, &h) != 0)
        fuzz_fail("live_hub_new failed");
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
