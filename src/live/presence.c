/* Presence time-outs (the essay is in presence.h), and the order of a
 * device's streams across nodes.
 *
 * One lock guards the queue of changes the hub hands over; the hub calls
 * presence_note under its own lock, so the order is hub lock, then this
 * one, and the sweeper never calls the hub while holding it. The queue is
 * written in arrival order by one thread, so a device's open and close
 * reach the rows in the order they happened on this node (the store's
 * conditions see to other nodes: store_stream_detach touches only a row
 * this node holds).
 *
 * Streams on two nodes. On one node the hub orders a device's streams (the
 * newer ends the older, live.c). Across nodes the row does, and only the
 * row: an open is written after the fact (queued here, so that the stream
 * is answered without waiting for a write), so the nodes' memories cannot
 * order two opens, and no clock is compared. The stream's token check
 * reads the row's stream_node (live_token_read), and the open is written
 * as a compare-and-set from it (store_stream_attach): the row is taken if
 * it holds no node, this node, or the node the open read.
 * - Taken from another node X (the open read X: X's stream is the older):
 *   an EVENT_SUPERSEDED row naming X, in the same transaction (the
 *   meeting's row read first, as every event's). X's relay reads it and
 *   ends its stream of the device with ": end superseded", as the second
 *   stream on one node ends the first; a stream X opened after the row
 *   (its token check saw the row) is the newer and stays. No webhook or
 *   audit: the device stays in the meeting, as on one node.
 * - Refused (the row holds a node Y that attached after the open read it):
 *   Y's stream is the newer, or at least the one written first. Nothing
 *   is written; after the commit this stream ends with ": end superseded"
 *   if it is still open (live_stream_refused: by its number, not a newer
 *   stream of the device on this node), and its close detaches nothing,
 *   the row naming Y. So a client that opened its stream here and moved to
 *   Y before this node wrote the open keeps its device on Y, however late
 *   this node's writes come (its writer held up by a lock, say).
 * What the row cannot order: two opens on two nodes within the time the
 * first takes to be written (both read no node): the first written is
 * kept, the other ends superseded, which may be the newer. A client that
 * moves within that moment may be told superseded on its new stream. The
 * other way round (the later written wins) would let a late write take a
 * row back from a client that moved on, as long as this node has not
 * noticed that its old stream closed, which a suspended connection shows
 * only at its next heartbeat: that is the defect this prevents. The
 * streams attached again after the node was taken for dead read no node
 * (the rows were converted): a row another node holds since is refused,
 * and this node's stream of it ends.
 *
 * The time-out commits, then publishes. A stream of the device may have
 * opened while the time-out was queued for the writer (its token was still
 * good then, and its attach waits behind the sweep on this thread):
 * publishing the leave ends that stream too, where before it stayed open
 * on a device that had left. */
#include "live/presence.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "live/webhook.h"

/* Devices ended per sweep; when there are more the next sweep is at once. */
#define PRESENCE_DUE_MAX 256

typedef struct presence_change {
    int64_t device_no;
    int64_t at_ms;       /* detach: when the client went */
    bool streaming;
    /* attach: the stream (live_change.stream_no) and the stream_node its
     * open read (store_stream_attach compares with it). */
    uint64_t stream_no;
    int64_t seen_node;
} presence_change;

struct presence {
    store *st;
    struct webhook_worker *hooks;
    live_hub *hub;
    presence_config cfg;
    int64_t node_id;
    int64_t started_at;
    char address[STORE_NODE_ADDR_MAX + 1];

    pthread_mutex_t lock;
    pthread_cond_t wake;
    presence_change *pending;      /* in arrival order */
    size_t n_pending, cap_pending;
    bool stopping;
    bool started;
    bool registered;               /* the node's row was written once */
    pthread_t thread;
};

int64_t presence_node_id(const presence *p)
{
    return p->node_id;
}

/* The writes meetd makes on its own, told apart from the requests' in the
 * metrics (meetd_presence_writes_total). */
static store_rc presence_write(presence *p, store_fn fn, void *arg)
{
    return store_write_as(p->st, STORE_ORIGIN_PRESENCE, fn, arg);
}

/* ---- the queue -------------------------------------------------------------- */

/* Lock held. Appends one change; false when out of memory. */
static bool presence_push(presence *p, const presence_change *change)
{
    if (p->n_pending == p->cap_pending) {
        size_t cap = p->cap_pending ? p->cap_pending * 2 : 64;
        presence_change *c = realloc(p->pending, cap * sizeof *c);
        if (c == NULL)
            return false;
        p->pending = c;
        p->cap_pending = cap;
    }
    p->pending[p->n_pending++] = *change;
    return true;
}

static void presence_queue(presence *p, const presence_change *c)
{
    pthread_mutex_lock(&p->lock);
    /* Lost, the device's row keeps its last state: a lost open may end a
     * streaming device at its old grace, a lost close keeps it until its
     * node stops. Logged: it takes running out of memory. */
    if (!presence_push(p, c))
        log_error("presence: out of memory queuing a stream %s of device %lld",
                  c->streaming ? "open" : "close", (long long)c->device_no);
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
}

void presence_note(void *arg, const live_change *lc)
{
    presence_change c = {.device_no = lc->device_no, .at_ms = lc->at_ms,
                         .streaming = lc->streaming, .stream_no = lc->stream_no,
                         .seen_node = lc->seen_node};
    presence_queue(arg, &c);
}

/* An attach the rows refused: its stream ends after the commit. */
typedef struct refused_attach {
    int64_t device_no;
    uint64_t stream_no;
} refused_attach;

typedef struct flush_job {
    const presence *p;
    const presence_change *c;
    size_t n;
    core_meeting *m;               /* scratch for the moves */
    event_batch b;                 /* the moves' "superseded" rows */
    refused_attach *refused;       /* n places */
    size_t n_refused;
    int64_t *devices;              /* n: the changes' devices, for their meetings' locks */
} flush_job;

/* Reads the device's meeting, which a backend with row locks holds from
 * here to the commit (store.h: a job reads the meeting before the rows it
 * decides on, and an event row needs it). NOTFOUND: the device is gone. */
static store_rc presence_lock_meeting(store_tx *tx, int64_t device_no, core_meeting *m)
{
    core_device dev;
    char app_id[CORE_APPID_MAX + 1];
    store_rc rc = store_device_get(tx, device_no, &dev);
    if (rc == STORE_OK)
        rc = store_meeting_app(tx, dev.meeting_id, app_id);
    if (rc == STORE_OK)
        rc = store_meeting_get(tx, app_id, dev.meeting_id, m);
    return rc;
}

/* One stream open: the compare-and-set, and what it decides. */
static store_rc presence_attach_tx(store_tx *tx, flush_job *j, const presence_change *c)
{
    int64_t self = j->p->node_id, from = 0;
    store_rc rc = STORE_OK;
    /* The open read another node: the row may be taken from it, which is
     * recorded in the meeting's rows (the meeting locked already, in
     * presence_flush_tx: this reads it for the event). */
    if (c->seen_node != 0 && c->seen_node != self)
        rc = presence_lock_meeting(tx, c->device_no, j->m);
    if (rc == STORE_OK)
        rc = store_stream_attach(tx, c->device_no, self, c->seen_node, &from);
    if (rc == STORE_REFUSED) {
        /* Another node attached the device after this stream's open read
         * its row: that stream is the device's. This one ends (if it is
         * still open) and its close detaches nothing. */
        j->refused[j->n_refused++] = (refused_attach){c->device_no, c->stream_no};
        return STORE_OK;
    }
    if (rc != STORE_OK || from == 0)
        return rc;
    /* Taken from the node this stream's open read: that node ends its
     * stream of the device when the row reaches it (its relay), as a
     * second stream on one node ends the first. */
    event_rec ev = {.type = EVENT_SUPERSEDED, .meeting = j->m, .device_no = c->device_no,
                    .node = from, .time = clock_unix_ms() / 1000, .trace_id = ""};
    return event_record(tx, &ev, &j->b);
}

/* NOTFOUND is the rows saying the change no longer applies (the device
 * left, or streams on another node now): nothing to write. Runs again
 * whole after a rollback: every statement sets, none adds, and what it
 * fills in j is emptied first. */
static store_rc presence_flush_tx(store_tx *tx, void *arg)
{
    flush_job *j = arg;
    event_batch_reset(&j->b);
    j->n_refused = 0;
    int grace = j->p->cfg.grace_ms;
    /* Every meeting whose devices this changes, locked before any device
     * row, in one order (store_meetings_lock_of_devices): a kickout holds
     * its meeting and then its devices' rows, so this job waits for it at
     * the meeting instead of holding a row it will want. */
    store_rc lk = store_meetings_lock_of_devices(tx, j->devices, j->n);
    if (lk != STORE_OK)
        return lk;
    for (size_t i = 0; i < j->n; i++) {
        const presence_change *c = &j->c[i];
        store_rc rc = c->streaming
                          ? presence_attach_tx(tx, j, c)
                          : store_stream_detach(tx, c->device_no, j->p->node_id, c->at_ms + grace);
        if (rc != STORE_OK && rc != STORE_NOTFOUND)
            return rc;
    }
    return STORE_OK;
}

/* Writes what is queued in one job. False when the write failed: the
 * changes are queued again, in front of newer ones. */
static bool presence_flush(presence *p)
{
    pthread_mutex_lock(&p->lock);
    presence_change *c = p->pending;
    size_t n = p->n_pending, cap = p->cap_pending;
    p->pending = NULL;
    p->n_pending = p->cap_pending = 0;
    pthread_mutex_unlock(&p->lock);
    if (n == 0) {
        free(c);
        return true;
    }
    flush_job j = {.p = p, .c = c, .n = n, .m = malloc(sizeof *j.m),
                   .refused = malloc(n * sizeof *j.refused),
                   .devices = malloc(n * sizeof *j.devices)};
    if (j.devices != NULL)
        for (size_t i = 0; i < n; i++)
            j.devices[i] = c[i].device_no;
    store_rc rc = j.m != NULL && j.refused != NULL && j.devices != NULL
                      ? presence_write(p, presence_flush_tx, &j)
                      : STORE_ERROR;
    if (rc == STORE_OK) {
        for (size_t i = 0; i < j.n_refused; i++)
            if (live_stream_refused(p->hub, j.refused[i].device_no, j.refused[i].stream_no))
                log_info("presence: device %lld streams on another node since its stream "
                         "here opened; this one ends", (long long)j.refused[i].device_no);
        event_publish(p->hub, p->hooks, &j.b);
    }
    event_batch_free(&j.b);
    free(j.m);
    free(j.refused);
    free(j.devices);
    if (rc == STORE_OK) {
        free(c);
        return true;
    }
    log_error("presence: could not record %zu stream opens and closes; trying again", n);
    pthread_mutex_lock(&p->lock);
    /* c (older) goes first, followed by whatever came meanwhile. */
    if (n + p->n_pending > cap) {
        presence_change *g = realloc(c, (n + p->n_pending) * sizeof *g);
        if (g == NULL) {
            pthread_mutex_unlock(&p->lock);
            log_error("presence: out of memory: %zu stream changes lost", n);
            free(c);
            return false;
        }
        c = g;
        cap = n + p->n_pending;
    }
    if (p->n_pending > 0)
        memcpy(c + n, p->pending, p->n_pending * sizeof *c);
    free(p->pending);
    p->pending = c;
    p->n_pending += n;
    p->cap_pending = cap;
    pthread_mutex_unlock(&p->lock);
    return false;
}

/* live_device_fn: every open stream of the node, attached again (queued
 * under the hub lock, so ordered with the hub's own notes). */
static void presence_reattach(void *arg, int64_t device_no, uint64_t stream_no)
{
    /* Its rows were converted (no node) or still name it: either is
     * taken. A row another node holds was attached there since (the
     * client moved on while this node was silent): refused, and this
     * node's stream of it ends. */
    presence_change c = {.device_no = device_no, .streaming = true, .stream_no = stream_no};
    presence_queue(arg, &c);
}

/* ---- the sweep -------------------------------------------------------------- */

store_rc presence_timeout_tx(store_tx *tx, void *arg)
{
    presence_timeout *t = arg;
    event_batch_reset(t->b);
    t->ended = false;
    core_device dev;
    core_user user;
    char app_id[CORE_APPID_MAX + 1];
    int64_t now = t->now_ms / 1000;
    store_rc rc = store_device_get(tx, t->device_no, &dev);
    if (rc == STORE_NOTFOUND || (rc == STORE_OK && dev.left_time != 0))
        return STORE_OK;
    if (rc != STORE_OK)
        return rc;
    core_meeting *m = malloc(sizeof *m);
    if (m == NULL)
        return STORE_ERROR;
    /* The meeting first (store.h: it is where a backend with row locks
     * serialises the jobs of one meeting), then the device's row. */
    rc = store_meeting_app(tx, dev.meeting_id, app_id);
    if (rc == STORE_OK)
        rc = store_meeting_get(tx, app_id, dev.meeting_id, m);
    if (rc == STORE_OK && t->claim) {
        rc = store_presence_claim(tx, t->device_no, t->now_ms);
        if (rc == STORE_NOTFOUND) {
            free(m);
            return STORE_OK;
        }
    }
    if (rc == STORE_OK)
        rc = store_device_end(tx, t->device_no, now, CORE_LEFT_TIMEOUT);
    if (rc == STORE_OK)
        rc = store_user_by_no(tx, dev.user_no, &user);
    if (rc == STORE_OK) {
        event_rec ev = {.type = EVENT_LEFT, .meeting = m, .sub_meeting_id = dev.sub_meeting_id,
                        .device_no = t->device_no, .user = &user, .instanceid = dev.instanceid,
                        .left_reason = CORE_LEFT_TIMEOUT, .time = now, .time_ms = t->now_ms,
                        .trace_id = ""};
        rc = event_record(tx, &ev, t->b);
    }
    free(m);
    if (rc != STORE_OK)
        return rc == STORE_NOTFOUND ? STORE_ERROR : rc;
    t->ended = true;
    return STORE_OK;
}

typedef struct tick_job {
    const presence *p;
    int64_t now;
    bool registered;               /* the row had to be written again */
    size_t n;
    int64_t due[PRESENCE_DUE_MAX];
} tick_job;

static store_rc tick_due(int64_t device_no, void *arg)
{
    tick_job *j = arg;
    j->due[j->n++] = device_no;
    return STORE_OK;
}

/* The heartbeat and the list of devices due, in one write. */
static store_rc presence_tick_tx(store_tx *tx, void *arg)
{
    tick_job *j = arg;
    const presence *p = j->p;
    j->registered = false;
    j->n = 0;
    int64_t dead_before = j->now - p->cfg.dead_after_ms;
    int64_t forget = PRESENCE_FORGET_MS > p->cfg.dead_after_ms ? PRESENCE_FORGET_MS
                                                                : p->cfg.dead_after_ms;
    store_rc rc = store_node_heartbeat(tx, p->node_id, j->now, dead_before);
    if (rc == STORE_NOTFOUND) {
        store_node n = {.node_id = p->node_id, .started_at = p->started_at,
                        .heartbeat_at = j->now};
        snprintf(n.address, sizeof n.address, "%s", p->address);
        rc = store_node_register(tx, &n);
        j->registered = true;
    }
    if (rc != STORE_OK)
        return rc;
    return store_presence_due(tx, j->now, dead_before, p->cfg.grace_ms, j->now - forget,
                              PRESENCE_DUE_MAX, tick_due, j);
}

static void presence_end(presence *p, int64_t device_no, int64_t now_ms)
{
    event_batch b = {0};
    presence_timeout t = {.device_no = device_no, .now_ms = now_ms, .claim = true, .b = &b};
    if (presence_write(p, presence_timeout_tx, &t) != STORE_OK) {
        log_error("live: could not mark device %lld left after its grace period",
                  (long long)device_no);
    } else if (t.ended) {
        metrics_add(METRICS_LEAVES, 1);
        log_info("live: device %lld left: event stream gone longer than %d ms",
                 (long long)device_no, p->cfg.grace_ms);
        event_publish(p->hub, p->hooks, &b);
    }
    event_batch_free(&b);
}

/* One heartbeat and sweep. Returns true when devices may still be due
 * (the sweep was full): the next one follows at once. */
static bool presence_tick(presence *p)
{
    tick_job *j = malloc(sizeof *j);
    if (j == NULL)
        return false;
    *j = (tick_job){.p = p, .now = clock_unix_ms()};
    bool more = false;
    if (presence_write(p, presence_tick_tx, j) != STORE_OK) {
        log_error("presence: could not heartbeat node %lld; trying again",
                  (long long)p->node_id);
    } else {
        if (j->registered && !p->registered) {
            /* The first: every stream open so far is queued already. */
            log_info("presence: node %lld registered", (long long)p->node_id);
            p->registered = true;
        } else if (j->registered) {
            /* Its row was gone or its heartbeat late: its streams' rows
             * may have been converted by another node. Attached again,
             * and written before the devices listed are ended: a device
             * streaming here is not due, whatever its row said. */
            log_error("presence: node %lld was taken for dead; its streams are "
                      "recorded again", (long long)p->node_id);
            live_stream_devices(p->hub, presence_reattach, p);
            presence_flush(p);
        }
        for (size_t i = 0; i < j->n; i++)
            presence_end(p, j->due[i], j->now);
        more = j->n == PRESENCE_DUE_MAX;
    }
    free(j);
    return more;
}

static void *presence_run(void *arg)
{
    presence *p = arg;
    pthread_setname_np(pthread_self(), "presence");
    int64_t next_tick = 0;         /* at once: registers the node */
    int64_t hold_until = 0;        /* after a failed write: no flush before */
    pthread_mutex_lock(&p->lock);
    while (!p->stopping) {
        int64_t now = clock_mono_ms();
        bool flush = p->n_pending > 0 && now >= hold_until;
        if (!flush && now < next_tick) {
            int64_t until = next_tick;
            if (p->n_pending > 0 && hold_until < until)
                until = hold_until;
            struct timespec ts = clock_mono_deadline(until - now);
            pthread_cond_timedwait(&p->wake, &p->lock, &ts);
            continue;
        }
        pthread_mutex_unlock(&p->lock);
        /* Opens and closes first: a device that came back before this
         * sweep is not ended by it. */
        if (flush && !presence_flush(p))
            hold_until = clock_mono_ms() + p->cfg.tick_ms;
        if (clock_mono_ms() >= next_tick)
            next_tick = presence_tick(p) ? 0 : clock_mono_ms() + p->cfg.tick_ms;
        pthread_mutex_lock(&p->lock);
    }
    pthread_mutex_unlock(&p->lock);
    return NULL;
}

/* ---- life cycle ---------------------------------------------------------------- */

int presence_new(store *st, struct webhook_worker *hooks, const presence_config *cfg,
                 presence **out)
{
    presence *p = calloc(1, sizeof *p);
    if (p == NULL)
        return -1;
    p->st = st;
    p->hooks = hooks;
    p->cfg = *cfg;
    if (p->cfg.dead_after_ms <= 0)
        p->cfg.dead_after_ms = PRESENCE_DEAD_AFTER_MS;
    if (p->cfg.tick_ms <= 0)
        p->cfg.tick_ms = PRESENCE_TICK_MS;
    p->started_at = clock_unix_ms();
    /* 63 random bits, never 0 (0 reads as "no node"). */
    uint64_t id = cfg->node_id > 0 ? (uint64_t)cfg->node_id : 0;
    while (id == 0) {
        if (ids_random_bytes(&id, sizeof id) != 0) {
            free(p);
            return -1;
        }
        id &= INT64_MAX;
    }
    p->node_id = (int64_t)id;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    bool lock_ok = pthread_mutex_init(&p->lock, NULL) == 0;
    bool wake_ok = pthread_cond_init(&p->wake, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!lock_ok || !wake_ok) {
        if (wake_ok)
            pthread_cond_destroy(&p->wake);
        if (lock_ok)
            pthread_mutex_destroy(&p->lock);
        free(p);
        return -1;
    }
    *out = p;
    return 0;
}

int presence_start(presence *p, live_hub *h, const char *address)
{
    p->hub = h;
    snprintf(p->address, sizeof p->address, "%s", address != NULL ? address : "");
    if (pthread_create(&p->thread, NULL, presence_run, p) != 0)
        return -1;
    p->started = true;
    return 0;
}

typedef struct stop_job {
    int64_t node_id;
    int64_t grace_until;
} stop_job;

static store_rc presence_stop_tx(store_tx *tx, void *arg)
{
    const stop_job *j = arg;
    return store_node_stop(tx, j->node_id, j->grace_until);
}

void presence_stop(presence *p)
{
    if (p == NULL || !p->started)
        return;
    pthread_mutex_lock(&p->lock);
    p->stopping = true;
    pthread_cond_signal(&p->wake);
    pthread_mutex_unlock(&p->lock);
    pthread_join(p->thread, NULL);
    p->started = false;
    presence_flush(p);
    stop_job j = {p->node_id, clock_unix_ms() + p->cfg.grace_ms};
    if (presence_write(p, presence_stop_tx, &j) != STORE_OK)
        log_error("presence: could not detach the streams of node %lld at the stop; they "
                  "time out as a dead node's", (long long)p->node_id);
    else
        log_info("presence: node %lld stopped; its devices' grace runs from now",
                 (long long)p->node_id);
}

void presence_free(presence *p)
{
    if (p == NULL)
        return;
    presence_stop(p);
    free(p->pending);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->lock);
    free(p);
}
