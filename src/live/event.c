/* Events: one record per change, its rows in the change's transaction, and
 * the streams told from those rows after the commit (the essay is in
 * event.h).
 *
 * The table below is the whole of what a type means outside its payload:
 * its row's name, whether streams hear it (and whether it ends them), and
 * whether the webhooks and the audit do. event_record and event_deliver
 * both read it, so that what a node that made the change publishes and
 * what a node that reads the rows later delivers cannot differ. */
#include "live/event.h"

#include <assert.h>
#include <jansson.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "common/jtext.h"
#include "common/log.h"
#include "live/live.h"
#include "live/webhook.h"

/* What a stream hears of an event. */
typedef enum event_stream {
    EVENT_STREAM_NONE = 0,   /* nothing */
    EVENT_STREAM_FINAL,      /* the event, then the end of the stream */
    EVENT_STREAM_NEWS,       /* the event; the stream goes on */
    EVENT_STREAM_LEFT,       /* ": end left", then the end */
    EVENT_STREAM_SUPERSEDED, /* ": end superseded", then the end: on one node */
} event_stream;

static const struct {
    const char *name;
    event_stream stream;
} event_types[EVENT__COUNT] = {
    [EVENT_JOINED] = {"joined", EVENT_STREAM_NONE},
    [EVENT_LEFT] = {"left", EVENT_STREAM_LEFT},
    [EVENT_KICKED] = {"kicked", EVENT_STREAM_FINAL},
    [EVENT_REPLACED] = {"replaced", EVENT_STREAM_FINAL},
    [EVENT_ENDED] = {"meeting-ended", EVENT_STREAM_FINAL},
    [EVENT_ROLE] = {"role-changed", EVENT_STREAM_NEWS},
    [EVENT_SUPERSEDED] = {"superseded", EVENT_STREAM_SUPERSEDED},
};

/* Pruning is by age, at most once per second of the clock: a busy second
 * costs one range delete. A prune undone with its job is done again a
 * second later. Process-wide, as the writer is. */
static _Atomic int64_t event_pruned_s;

const char *event_type_name(event_type type)
{
    if ((unsigned)type >= EVENT__COUNT)
        return NULL;
    return event_types[type].name;
}

static int event_type_of(const char *name)
{
    for (int t = 0; t < EVENT__COUNT; t++)
        if (strcmp(event_types[t].name, name) == 0)
            return t;
    return -1;
}

/* ---- payloads ------------------------------------------------------------ */

/* Written as text (common/jtext.h), byte for byte what json_dumps wrote of
 * the same object before: rows written by an older meetd and streams'
 * data lines read the same. A fixed shape each, no tree to build. */
char *event_payload(const event_rec *ev, bool *failed)
{
    jtext t = {0};
    jtext_open(&t);
    switch (ev->type) {
    case EVENT_KICKED:
        /* docs/api.md "Device event stream": the operator by ms_open_id ("" for
         * a creator or host named by userid who never joined). */
        jtext_key(&t, "reason");
        jtext_str(&t, ev->reason);
        jtext_key(&t, "allow_rejoin");
        jtext_bool(&t, ev->allow_rejoin);
        jtext_key(&t, "operator");
        jtext_open(&t);
        jtext_key(&t, "ms_open_id");
        jtext_str(&t, ev->op_user != NULL ? ev->op_user->ms_open_id : "");
        jtext_key(&t, "instanceid");
        jtext_int(&t, ev->op_instanceid);
        jtext_close(&t);
        break;
    case EVENT_REPLACED:
    case EVENT_ENDED:
        break;
    case EVENT_ROLE: {
        core_user u = *ev->user;
        u.cohost = ev->cohost;
        jtext_key(&t, "role");
        jtext_str(&t, ev->cohost ? "cohost" : "attendee");
        jtext_key(&t, "user_role");
        jtext_int(&t, core_user_role(ev->meeting, &u));
        jtext_key(&t, "meeting_id");
        jtext_decimal(&t, ev->meeting->meeting_id);
        break;
    }
    case EVENT_JOINED:
    case EVENT_LEFT:
        jtext_key(&t, "meeting_id");
        jtext_decimal(&t, ev->meeting->meeting_id);
        jtext_key(&t, "instanceid");
        jtext_int(&t, ev->instanceid);
        if (ev->type == EVENT_LEFT) {
            jtext_key(&t, "left_reason");
            jtext_int(&t, ev->left_reason);
        }
        break;
    case EVENT_SUPERSEDED:
        /* Not a stream's data (it hears a comment): the node that ends it. */
        jtext_key(&t, "node");
        jtext_int(&t, ev->node);
        break;
    default:
        t.failed = true;
        break;
    }
    jtext_key(&t, "time");
    jtext_int(&t, ev->time);
    jtext_close(&t);
    char *text = jtext_take(&t);
    if (text == NULL && failed != NULL)
        *failed = true;
    return text;
}

void event_audit(const event_rec *ev, core_audit *a)
{
    const core_user *t = ev->user;
    memset(a, 0, sizeof *a);
    a->meeting_id = ev->meeting->meeting_id;
    a->sub_meeting_id = ev->sub_meeting_id;
    a->time = ev->time;
    snprintf(a->request_id, sizeof a->request_id, "%s", ev->trace_id);
    snprintf(a->action, sizeof a->action, "kickout");
    if (ev->op_user != NULL) {
        snprintf(a->op_userid, sizeof a->op_userid, "%s", ev->op_user->userid);
        snprintf(a->op_uuid, sizeof a->op_uuid, "%s", ev->op_user->uuid);
        snprintf(a->op_ms_open_id, sizeof a->op_ms_open_id, "%s", ev->op_user->ms_open_id);
    } else {
        /* A creator or host named by userid who never joined. */
        snprintf(a->op_userid, sizeof a->op_userid, "%.*s", CORE_ID_MAX,
                 ev->op_id != NULL ? ev->op_id : "");
    }
    a->op_instanceid = ev->op_instanceid;
    snprintf(a->target_userid, sizeof a->target_userid, "%s", t->userid);
    snprintf(a->target_guest_id, sizeof a->target_guest_id, "%s", t->guest_id);
    snprintf(a->target_uuid, sizeof a->target_uuid, "%s", t->uuid);
    snprintf(a->target_ms_open_id, sizeof a->target_ms_open_id, "%s", t->ms_open_id);
    a->target_instanceid = ev->instanceid;
    a->allow_rejoin = ev->allow_rejoin;
    snprintf(a->reason, sizeof a->reason, "%s", ev->reason != NULL ? ev->reason : "");
}

/* ---- recording ------------------------------------------------------------ */

/* The event's webhooks, in the order receivers have always had them. */
static store_rc event_webhooks(store_tx *tx, const event_rec *ev, int64_t time_ms, event_batch *b)
{
    webhook_event w = {.meeting = ev->meeting, .trace_id = ev->trace_id, .time_ms = time_ms,
                       .user = ev->user, .instanceid = ev->instanceid};
    switch (ev->type) {
    case EVENT_JOINED:
        w.type = WEBHOOK_PARTICIPANT_JOINED;
        return webhook_enqueue(tx, &w, &b->hooks);
    case EVENT_LEFT:
    case EVENT_ENDED:
        w.type = WEBHOOK_PARTICIPANT_LEFT;
        return webhook_enqueue(tx, &w, &b->hooks);
    case EVENT_KICKED: {
        webhook_event k = {.type = WEBHOOK_PARTICIPANT_KICKED, .meeting = ev->meeting,
                           .trace_id = ev->trace_id, .time_ms = time_ms, .user = ev->op_user,
                           .operator_userid = ev->op_by_userid ? ev->op_id : "",
                           .instanceid = ev->op_instanceid, .to_user = ev->user,
                           .to_instanceid = ev->instanceid, .reason = ev->reason,
                           .allow_rejoin = ev->allow_rejoin};
        /* Whoever counts presence from participant-left sees this one go too. */
        w.type = WEBHOOK_PARTICIPANT_LEFT;
        return webhook_enqueue_two(tx, &k, &w, &b->hooks);
    }
    default:
        return STORE_OK;
    }
}

/* One row, and its note for the streams. */
static store_rc event_row(store_tx *tx, const event_rec *ev, int64_t device_no,
                          int64_t time_ms, event_batch *b)
{
    bool failed = false;
    char *payload = event_payload(ev, &failed);
    if (payload == NULL) {
        /* STORE_ERROR says "already logged". */
        log_error("event: cannot build the %s event", event_types[ev->type].name);
        return STORE_ERROR;
    }
    store_event row = {.meeting_id = ev->meeting->meeting_id, .device_no = device_no,
                       .created_at = time_ms};
    snprintf(row.type, sizeof row.type, "%s", event_types[ev->type].name);
    store_rc rc = store_event_insert(tx, &row, payload);
    if (rc != STORE_OK || event_types[ev->type].stream == EVENT_STREAM_NONE || device_no == 0) {
        free(payload);
        return rc;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? 2 * b->cap : 8;
        event_note *grown = realloc(b->notes, cap * sizeof *grown);
        if (grown == NULL) {
            log_error("event: out of memory keeping the %s event for the streams",
                      event_types[ev->type].name);
            free(payload);
            return STORE_ERROR;
        }
        b->notes = grown;
        b->cap = cap;
    }
    b->notes[b->n].row = row;
    b->notes[b->n].payload = payload;
    b->n++;
    return STORE_OK;
}

/* A role change concerns every device its user has present: one row each. */
static store_rc event_role_rows(store_tx *tx, const event_rec *ev, int64_t time_ms, event_batch *b)
{
    uint64_t mask = 0;
    store_rc rc = store_user_presence(tx, ev->meeting->meeting_id, ev->user->user_no, &mask);
    for (int i = 0; rc == STORE_OK && i < 64; i++) {
        if (!(mask & (UINT64_C(1) << i)))
            continue;
        core_device d;
        rc = store_device_present(tx, ev->meeting->meeting_id, ev->user->user_no, i, &d);
        if (rc == STORE_OK)
            rc = event_row(tx, ev, d.device_no, time_ms, b);
    }
    return rc;
}

store_rc event_record(store_tx *tx, const event_rec *ev, event_batch *b)
{
    assert(ev != NULL && b != NULL && ev->meeting != NULL);
    assert(ev->user != NULL || ev->type == EVENT_SUPERSEDED);
    assert((unsigned)ev->type < EVENT__COUNT);
    int64_t time_ms = ev->time_ms != 0 ? ev->time_ms : clock_unix_ms();
    store_rc rc = ev->type == EVENT_ROLE ? event_role_rows(tx, ev, time_ms, b)
                                    : event_row(tx, ev, ev->device_no, time_ms, b);
    if (rc == STORE_OK)
        rc = event_webhooks(tx, ev, time_ms, b);
    if (rc == STORE_OK && ev->type == EVENT_KICKED) {
        core_audit a;
        event_audit(ev, &a);
        rc = store_audit_insert(tx, &a);
    }
    int64_t second = time_ms / 1000;
    if (rc == STORE_OK && atomic_exchange(&event_pruned_s, second) != second)
        rc = store_events_prune(tx, time_ms - EVENT_KEEP_MS);
    return rc;
}

/* ---- after the commit ------------------------------------------------------ */

void event_deliver(live_hub *h, const store_event *row, const char *payload)
{
    int t = event_type_of(row->type);
    if (h == NULL || t < 0 || row->device_no == 0)
        return;
    switch (event_types[t].stream) {
    case EVENT_STREAM_FINAL:
        live_send(h, row->event_no, row->device_no, row->type, payload, true);
        break;
    case EVENT_STREAM_NEWS:
        live_send(h, row->event_no, row->device_no, row->type, payload, false);
        break;
    case EVENT_STREAM_LEFT:
        live_left(h, row->event_no, row->device_no);
        break;
    case EVENT_STREAM_SUPERSEDED: {
        json_t *data = json_loads(payload, 0, NULL);
        json_t *node = json_object_get(data, "node");
        if (json_is_integer(node))
            live_superseded(h, row->event_no, row->device_no, json_integer_value(node));
        else
            log_error("event: a superseded row (%lld) names no node", (long long)row->event_no);
        json_decref(data);
        break;
    }
    case EVENT_STREAM_NONE:
        break;
    }
}

void event_publish(live_hub *h, webhook_worker *hooks, event_batch *b)
{
    if (b->hooks > 0)
        webhook_worker_wake(hooks);
    for (size_t i = 0; i < b->n; i++)
        event_deliver(h, &b->notes[i].row, b->notes[i].payload);
    event_batch_reset(b);
}

void event_batch_reset(event_batch *b)
{
    for (size_t i = 0; i < b->n; i++)
        free(b->notes[i].payload);
    b->n = 0;
    b->hooks = 0;
}

void event_batch_free(event_batch *b)
{
    event_batch_reset(b);
    free(b->notes);
    b->notes = NULL;
    b->cap = 0;
}
