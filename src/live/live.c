/* Device event streams: the hub, its streams, their SSE framing and the
 * timer. What happened is decided elsewhere (event.c calls live_send and
 * live_left after the commit); presence is presence.c's: the hub only
 * tells it, under the hub lock, when a device's stream opens and when it
 * goes (on_presence), and presence.c writes that to the store's rows.
 *
 * One mutex guards the hub. Events are rare next to requests, and holding it
 * across MHD_suspend_connection / MHD_resume_connection is what makes a wake
 * up impossible to lose: a reader that finds nothing to send suspends its
 * connection before any notifier can look at it, and a notifier that queues
 * bytes resumes a suspended connection in the same critical section.
 *
 * Per device the hub keeps a small record: its open stream, the final event
 * it was sent (kept a while, so that a stream opened just after the device
 * was removed still hears why). No clock of a device's absence is kept
 * here: that is a row (store.h "presence"), so that a crash loses none.
 * Per app it counts the open streams (live_app), for the per-app cap; a
 * stream is admitted under the hub lock, so two opening at once cannot
 * both take the last place (live_admit).
 *
 * An event is final or news. A stream ends after a final one (kicked,
 * replaced, meeting-ended); news (role-changed) is appended to the open
 * stream, which goes on, and is not kept for a later one (live_news). A
 * stream also ends without an event in three cases a client could not
 * tell apart from the close alone: its device left, a second stream of the
 * device took over (here, or on another node: live_superseded and
 * live_stream_refused, which presence.c's rows decide), meetd is stopping.
 * Before such a close the stream gets a
 * comment naming the case (LIVE_END_*): SSE clients skip comments, so the
 * event set stays what docs/api.md promised, and a client that looks
 * (libmeet's on_end, meetctl's exit status) knows why. A leave's comment is
 * its device's final text, kept like an event's for a stream that opens
 * just after. At stop the hub waits, bounded, for the streams it ended to
 * be sent before the server stops: libmicrohttpd would cut them
 * (live_hub_shutdown). */
#include <assert.h>
#include "live/live.h"

#include <errno.h>
#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/hmap.h"
#include "common/ids.h"
#include "common/log.h"
#include "live/relay.h"

/* How long a removed device's final event is kept for a stream that checked
 * its token before the removal was committed but registers after the event
 * (live_stream_open). That window is the time between two statements of one
 * function, unless its thread is descheduled: 5 s is ample, and at
 * thousands of kicks a second every second kept is thousands of records. */
#define LIVE_FINAL_KEEP_MS 5000
#define LIVE_TICK_MS 1000
/* How long live_hub_shutdown waits for the streams it ended to be sent:
 * their last bytes are a few dozen, so only a client that stopped reading
 * holds it that long. */
#define LIVE_STOP_DRAIN_MS 2000

/* The comments that end a stream without an event (docs/api.md "Device
 * event stream"; src/client/events.c reads them). */
#define LIVE_END_LEFT ": end left\n\n"
#define LIVE_END_SUPERSEDED ": end superseded\n\n"
#define LIVE_END_SHUTDOWN ": end shutdown\n\n"

typedef struct live_dev live_dev;

/* An app with streams open: how many, for max_streams_per_app. It goes
 * with its last stream. */
typedef struct live_app {
    hmap_node link;                /* in live_hub.apps */
    char app_id[CORE_APPID_MAX + 1];
    size_t streams;
} live_app;

struct live_stream {
    live_hub *hub;
    int64_t device_no;
    live_app *app;                 /* counted in its app's streams */
    int64_t meeting_id;            /* its device's, for the relay */
    uint64_t no;                   /* the hub's number for it (live_change) */
    /* The meeting's last row in its token check's snapshot: a "superseded"
     * row numbered at or below it was committed before this stream was
     * seen, so it is for an older stream (live_superseded). */
    int64_t since;
    struct MHD_Connection *conn;
    char *buf;                     /* bytes not yet handed to libmicrohttpd */
    size_t len;
    size_t cap;
    bool closing;                  /* end the stream once buf is drained */
    bool final;                    /* closing because the device is gone */
    bool suspended;
};

struct live_dev {
    hmap_node link;                /* in live_hub.devs */
    int64_t device_no;
    live_stream *stream;
    char *final;                   /* final text: an event, or LIVE_END_LEFT */
    int64_t final_until_ms;
    /* The last event row it was told of (or that its stream's snapshot
     * saw): what comes at or below it is a repeat or out of order. */
    int64_t last_event_no;
    /* The timer visits only records with something to do: those with a
     * stream (the watch list), and finals in the order they expire (a
     * FIFO: they are all kept LIVE_FINAL_KEEP_MS). At
     * thousands of kicks a second there are hundreds of thousands of
     * finals; walking them all every tick, under the hub lock, stalled
     * every event. */
    bool watched;
    bool queued;
    /* final_until_ms when it was queued: the FIFO is in this order. A final
     * set again later keeps its place and is queued again when it comes
     * out, so that it never holds back the ones behind it. */
    int64_t queued_until_ms;
    live_dev *wprev, *wnext;
    live_dev *fnext;
};

struct live_hub {
    pthread_mutex_t lock;
    pthread_cond_t tick;
    pthread_cond_t drained;        /* at stop: a stream with a connection closed */
    pthread_t timer;
    bool timer_started;
    bool stopping;
    live_config cfg;
    store *st;
    live_presence_fn on_presence;  /* a stream of a device opened or went */
    void *presence_arg;
    relay *relay;                  /* other nodes' rows; NULL: one node */
    hmap devs;                     /* live_dev by device_no */
    live_dev *watch_head;
    live_dev *fifo_head, *fifo_tail;
    size_t n_streams;
    size_t n_attached;             /* of them, those given a connection */
    uint64_t stream_nos;           /* the last live_stream.no given */
    hmap apps;                     /* live_app by AppId */
    int64_t next_heartbeat_ms;
};

/* ---- device records (hub lock held) ------------------------------------- */

static live_dev *live_dev_get(live_hub *h, int64_t device_no, bool create)
{
    uint64_t hash = hmap_hash_int(0, (uint64_t)device_no);
    for (hmap_node *n = hmap_first(&h->devs, hash); n != NULL; n = hmap_next(n)) {
        live_dev *d = HMAP_ENTRY(n, live_dev, link);
        if (d->device_no == device_no)
            return d;
    }
    if (!create)
        return NULL;
    live_dev *d = calloc(1, sizeof *d);
    if (d == NULL)
        return NULL;
    d->device_no = device_no;
    hmap_insert(&h->devs, &d->link, hash);
    return d;
}

/* Puts d on the watch list or takes it off, as its state now says. */
static void live_watch(live_hub *h, live_dev *d)
{
    bool want = d->stream != NULL;
    if (want == d->watched)
        return;
    d->watched = want;
    if (want) {
        d->wprev = NULL;
        d->wnext = h->watch_head;
        if (d->wnext != NULL)
            d->wnext->wprev = d;
        h->watch_head = d;
        return;
    }
    if (d->wprev != NULL)
        d->wprev->wnext = d->wnext;
    else
        h->watch_head = d->wnext;
    if (d->wnext != NULL)
        d->wnext->wprev = d->wprev;
    d->wprev = d->wnext = NULL;
}

static void live_fifo_push(live_hub *h, live_dev *d)
{
    d->queued = true;
    d->queued_until_ms = d->final_until_ms;
    d->fnext = NULL;
    if (h->fifo_tail != NULL)
        h->fifo_tail->fnext = d;
    else
        h->fifo_head = d;
    h->fifo_tail = d;
}

/* A record with nothing left to remember goes. */
static void live_dev_gc(live_hub *h, live_dev *d, int64_t now_ms)
{
    if (d->final != NULL && d->final_until_ms <= now_ms && d->stream == NULL) {
        free(d->final);
        d->final = NULL;
    }
    live_watch(h, d);
    /* A record in the FIFO goes when the FIFO lets go of it. */
    if (d->stream != NULL || d->final != NULL || d->queued)
        return;
    assert(!d->watched);
    hmap_remove(&h->devs, &d->link);
    free(d);
}

/* ---- per-app stream counts (hub lock held) ------------------------------- */

static live_app *live_app_find(live_hub *h, const char *app_id)
{
    for (hmap_node *n = hmap_first(&h->apps, hmap_hash_str(0, app_id)); n != NULL;
         n = hmap_next(n)) {
        live_app *a = HMAP_ENTRY(n, live_app, link);
        if (strcmp(a->app_id, app_id) == 0)
            return a;
    }
    return NULL;
}

/* An entry for app_id, with no stream yet (NULL: no memory). */
static live_app *live_app_new(live_hub *h, const char *app_id)
{
    live_app *a = calloc(1, sizeof *a);
    if (a == NULL)
        return NULL;
    snprintf(a->app_id, sizeof a->app_id, "%s", app_id);
    hmap_insert(&h->apps, &a->link, hmap_hash_str(0, a->app_id));
    return a;
}

static void live_app_release(live_hub *h, live_app *app)
{
    if (app == NULL || --app->streams > 0)
        return;
    hmap_remove(&h->apps, &app->link);
    free(app);
}

/* ---- streams (hub lock held) ---------------------------------------------- */

static int live_append(live_stream *s, const char *text)
{
    size_t n = strlen(text);
    if (s->len + n > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + n)
            cap *= 2;
        char *b = realloc(s->buf, cap);
        if (b == NULL)
            return -1;
        s->buf = b;
        s->cap = cap;
    }
    memcpy(s->buf + s->len, text, n);
    s->len += n;
    return 0;
}

static void live_wake(live_stream *s)
{
    if (s->suspended && s->conn != NULL) {
        s->suspended = false;
        MHD_resume_connection(s->conn);
    }
}

/* Sends text (an event or a LIVE_END_* comment) and ends the stream after it. */
static void live_end_stream(live_stream *s, const char *text, bool final)
{
    if (s->closing)
        return;
    /* Without it the stream still ends: the client hears a close with no
     * reason, as from a meetd older than the end comments. */
    if (live_append(s, text) != 0)
        log_error("live: out of memory queuing an event for device %lld",
                  (long long)s->device_no);
    s->closing = true;
    s->final = final;
    live_wake(s);
}

/* ---- events ----------------------------------------------------------------- */

/* One SSE frame. data is one line of JSON (jansson escapes every control
 * character): a line break in it would split the event for the client. */
static char *live_event_text(const char *name, const char *data)
{
    if (strpbrk(name, "\r\n") != NULL || strpbrk(data, "\r\n") != NULL)
        return NULL;
    char *text = NULL;
    if (asprintf(&text, "event: %s\ndata: %s\n\n", name, data) < 0)
        text = NULL;
    return text;
}

/* Whether an event numbered event_no is news to d, which then remembers it
 * (hub lock held). relay.h says why this is enough. */
static bool live_fresh(live_dev *d, int64_t event_no)
{
    if (event_no == 0)
        return true;
    if (event_no <= d->last_event_no)
        return false;
    d->last_event_no = event_no;
    return true;
}

/* The device is gone: tell its stream, or keep the news for a late one.
 * text is an event or LIVE_END_LEFT; the hub owns it from here. only_first:
 * not when an event already ended it (live_gone). */
static void live_final(live_hub *h, int64_t event_no, int64_t device_no, char *text,
                       bool only_first)
{
    if (text == NULL) {
        log_error("live: cannot frame an event for device %lld", (long long)device_no);
        return;
    }
    int64_t now = clock_mono_ms();
    pthread_mutex_lock(&h->lock);
    live_dev *d = live_dev_get(h, device_no, true);
    if (d == NULL || !live_fresh(d, event_no) || (only_first && d->final != NULL)) {
        if (d != NULL)
            live_dev_gc(h, d, now);   /* made here for nothing */
        pthread_mutex_unlock(&h->lock);
        free(text);
        return;
    }
    free(d->final);
    d->final = text;
    d->final_until_ms = now + h->cfg.final_keep_ms;
    if (!d->queued)
        live_fifo_push(h, d);
    live_watch(h, d);
    if (d->stream != NULL)
        live_end_stream(d->stream, text, true);
    pthread_mutex_unlock(&h->lock);
}

/* News for a device that stays: its open stream hears it and goes on. Not
 * kept: a stream that opens later learns the state it reports elsewhere
 * (the join's answer, the participants list), and a device already given
 * its final event hears nothing after it. */
static void live_news(live_hub *h, int64_t event_no, int64_t device_no, char *text)
{
    if (text == NULL) {
        log_error("live: cannot frame an event for device %lld", (long long)device_no);
        return;
    }
    pthread_mutex_lock(&h->lock);
    live_dev *d = live_dev_get(h, device_no, false);
    if (d != NULL && d->final == NULL && d->stream != NULL && !d->stream->closing &&
        live_fresh(d, event_no)) {
        if (live_append(d->stream, text) == 0)
            live_wake(d->stream);
        else
            log_error("live: out of memory queuing an event for device %lld",
                      (long long)device_no);
    }
    pthread_mutex_unlock(&h->lock);
    free(text);
}

void live_send(live_hub *h, int64_t event_no, int64_t device_no, const char *name,
               const char *data, bool final)
{
    char *text = live_event_text(name, data);
    if (final)
        live_final(h, event_no, device_no, text, false);
    else
        live_news(h, event_no, device_no, text);
}

void live_left(live_hub *h, int64_t event_no, int64_t device_no)
{
    live_final(h, event_no, device_no, strdup(LIVE_END_LEFT), false);
}

void live_gone(live_hub *h, int64_t device_no)
{
    live_final(h, 0, device_no, strdup(LIVE_END_LEFT), true);
}

/* device_no's open stream (hub lock held), NULL when none. */
static live_stream *live_open_stream(live_hub *h, int64_t device_no)
{
    live_dev *d = live_dev_get(h, device_no, false);
    return d != NULL && d->stream != NULL && !d->stream->closing ? d->stream : NULL;
}

/* Not final: the device stays, and a stream it opens later is its stream.
 * Its close then detaches this node, which the row no longer names: the
 * grace is the new holder's to start. Not live_fresh: the row ends the
 * streams older than itself, whatever else the device heard since. */
void live_superseded(live_hub *h, int64_t event_no, int64_t device_no, int64_t node_id)
{
    if (h->cfg.node_id == 0 || node_id != h->cfg.node_id)
        return;
    pthread_mutex_lock(&h->lock);
    live_stream *s = live_open_stream(h, device_no);
    if (s != NULL && event_no > s->since)
        live_end_stream(s, LIVE_END_SUPERSEDED, false);
    pthread_mutex_unlock(&h->lock);
}

bool live_stream_refused(live_hub *h, int64_t device_no, uint64_t stream_no)
{
    pthread_mutex_lock(&h->lock);
    live_stream *s = live_open_stream(h, device_no);
    bool ends = s != NULL && s->no == stream_no;
    if (ends)
        live_end_stream(s, LIVE_END_SUPERSEDED, false);
    pthread_mutex_unlock(&h->lock);
    return ends;
}

/* ---- the HTTP side ------------------------------------------------------- */

typedef struct live_token_query {
    int64_t device_no;
    const uint8_t *hash;
    bool relayed;                  /* read where the relay's cursor starts */
    bool opening;                  /* not a probe: read the stream's node */
    core_device dev;
    char app_id[CORE_APPID_MAX + 1];
    int64_t last_event_no;         /* the meeting's, in the token's snapshot */
    int64_t stream_node;           /* the device's, in the token's snapshot */
    int rc;
} live_token_query;

static store_rc live_token_read(store_tx *tx, void *arg)
{
    live_token_query *q = arg;
    q->rc = store_device_by_token(tx, q->device_no, q->hash, &q->dev);
    if (q->rc == STORE_OK)
        q->rc = store_meeting_app(tx, q->dev.meeting_id, q->app_id);
    /* The same snapshot as the token's: relay.h says why. */
    if (q->rc == STORE_OK && q->relayed)
        q->rc = store_events_last(tx, q->dev.meeting_id, &q->last_event_no);
    /* What the stream's attach compares with (presence.c): read with the
     * token, so that an attach recorded by another node after this read
     * refuses it. */
    int64_t grace_until;
    if (q->rc == STORE_OK && q->opening)
        q->rc = store_stream_get(tx, q->dev.device_no, &q->stream_node, &grace_until);
    return STORE_OK;
}

/* Whether a new stream of d may open under the caps (hub lock held). A
 * stream that replaces its device's live one, or that only hears its
 * device's final event, is let through: it takes nothing for long. */
static live_open_rc live_admit(live_hub *h, live_dev *d, live_app *app)
{
    if (d != NULL && (d->final != NULL || (d->stream != NULL && !d->stream->closing)))
        return LIVE_OPEN_OK;
    if (h->cfg.max_streams_per_app > 0 && app != NULL &&
        app->streams >= h->cfg.max_streams_per_app)
        return LIVE_OPEN_APP_FULL;
    if (h->cfg.max_streams > 0 && h->n_streams >= h->cfg.max_streams)
        return LIVE_OPEN_FULL;
    return LIVE_OPEN_OK;
}

/* live_stream_open, or with out NULL live_stream_probe. */
static live_open_rc live_stream_start(live_hub *h, int64_t device_no, const uint8_t secret_hash[32],
                             live_stream **out)
{
    live_token_query q = {.device_no = device_no, .hash = secret_hash,
                          .relayed = out != NULL && h->relay != NULL, .opening = out != NULL,
                          .rc = STORE_ERROR};
    if (store_read(h->st, live_token_read, &q) != STORE_OK || q.rc < 0)
        return LIVE_OPEN_FAILED;
    if (q.rc == STORE_NOTFOUND)
        return LIVE_OPEN_UNKNOWN;
    if (out == NULL) {
        pthread_mutex_lock(&h->lock);
        live_open_rc rc = h->stopping ? LIVE_OPEN_STOPPING
                             : live_admit(h, live_dev_get(h, q.dev.device_no, false),
                                          live_app_find(h, q.app_id));
        pthread_mutex_unlock(&h->lock);
        return rc;
    }
    live_stream *s = calloc(1, sizeof *s);
    if (s == NULL)
        return LIVE_OPEN_FAILED;
    s->hub = h;
    s->device_no = q.dev.device_no;
    s->meeting_id = q.dev.meeting_id;
    s->since = q.last_event_no;

    /* The first bytes make libmicrohttpd send the headers at once. Written
     * before the record is looked up: a record made here and then left
     * would be on neither of the timer's lists, so never collected. */
    if (live_append(s, ": meetd event stream\n\n") != 0) {
        free(s);
        return LIVE_OPEN_FAILED;
    }
    pthread_mutex_lock(&h->lock);
    live_app *app = live_app_find(h, q.app_id);
    live_open_rc rc = h->stopping ? LIVE_OPEN_STOPPING
                         : live_admit(h, live_dev_get(h, s->device_no, false), app);
    if (rc == LIVE_OPEN_OK && app == NULL && (app = live_app_new(h, q.app_id)) == NULL)
        rc = -1;
    live_dev *d = rc == LIVE_OPEN_OK ? live_dev_get(h, s->device_no, true) : NULL;
    if (d == NULL) {
        if (rc == LIVE_OPEN_OK) {
            rc = -1;
            if (app->streams == 0) {   /* made above for this stream */
                hmap_remove(&h->apps, &app->link);
                free(app);
            }
        }
        pthread_mutex_unlock(&h->lock);
        free(s->buf);
        free(s);
        return rc;
    }
    s->app = app;
    s->app->streams++;
    if (d->last_event_no < q.last_event_no)
        d->last_event_no = q.last_event_no;
    if (d->final != NULL) {
        /* Removed between the token check and now: say so and end. */
        live_end_stream(s, d->final, true);
    } else {
        if (d->stream != NULL)
            live_end_stream(d->stream, LIVE_END_SUPERSEDED, false);   /* one stream per device */
        d->stream = s;
        s->no = ++h->stream_nos;
        live_watch(h, d);
        if (h->on_presence != NULL) {
            live_change c = {.device_no = s->device_no, .streaming = true,
                             .at_ms = clock_unix_ms(), .stream_no = s->no,
                             .seen_node = q.stream_node};
            h->on_presence(h->presence_arg, &c);
        }
    }
    h->n_streams++;
    pthread_mutex_unlock(&h->lock);
    /* After the registration: a row the relay reads from now on finds the
     * stream, and the read this asks for finds any it skipped before. */
    relay_watch(h->relay, s->meeting_id, s->device_no, q.last_event_no);
    *out = s;
    return LIVE_OPEN_OK;
}

live_open_rc live_stream_open(live_hub *h, int64_t device_no, const uint8_t secret_hash[32],
                     live_stream **out)
{
    return live_stream_start(h, device_no, secret_hash, out);
}

live_open_rc live_stream_probe(live_hub *h, int64_t device_no, const uint8_t secret_hash[32])
{
    return live_stream_start(h, device_no, secret_hash, NULL);
}

void live_stream_limits(const live_hub *h, unsigned *max_streams, unsigned *per_app)
{
    *max_streams = h->cfg.max_streams;
    *per_app = h->cfg.max_streams_per_app;
}

void live_stream_attach(live_stream *s, struct MHD_Connection *conn)
{
    pthread_mutex_lock(&s->hub->lock);
    if (s->conn == NULL && conn != NULL)
        s->hub->n_attached++;
    s->conn = conn;
    pthread_mutex_unlock(&s->hub->lock);
}

ssize_t live_stream_read(live_stream *s, uint64_t pos, char *buf, size_t max)
{
    live_hub *h = s->hub;
    ssize_t n;
    pthread_mutex_lock(&h->lock);
    if (s->len > 0) {
        size_t take = s->len < max ? s->len : max;
        memcpy(buf, s->buf, take);
        memmove(s->buf, s->buf + take, s->len - take);
        s->len -= take;
        n = (ssize_t)take;
    } else if (s->closing || h->stopping || s->conn == NULL) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        s->suspended = true;
        MHD_suspend_connection(s->conn);
        n = 0;
    }
    pthread_mutex_unlock(&h->lock);
    return n;
}

void live_stream_close(live_stream *s)
{
    live_hub *h = s->hub;
    int64_t now = clock_mono_ms();
    pthread_mutex_lock(&h->lock);
    live_dev *d = live_dev_get(h, s->device_no, false);
    if (d != NULL && d->stream == s) {
        d->stream = NULL;
        /* The client went away while its device is still in the meeting:
         * its grace starts. Not at a stop: the stop detaches every stream
         * of the node at once (presence_stop), one write for all. */
        if (!s->final && !h->stopping && h->on_presence != NULL) {
            live_change c = {.device_no = s->device_no, .streaming = false,
                             .at_ms = clock_unix_ms(), .stream_no = s->no};
            h->on_presence(h->presence_arg, &c);
        }
        live_dev_gc(h, d, now);
    }
    live_app_release(h, s->app);
    h->n_streams--;
    if (s->conn != NULL && --h->n_attached == 0 && h->stopping)
        pthread_cond_broadcast(&h->drained);
    pthread_mutex_unlock(&h->lock);
    relay_unwatch(h->relay, s->meeting_id, s->device_no);
    free(s->buf);
    free(s);
}

size_t live_stream_count(live_hub *h)
{
    pthread_mutex_lock(&h->lock);
    size_t n = h->n_streams;
    pthread_mutex_unlock(&h->lock);
    return n;
}

void live_stream_devices(live_hub *h, live_device_fn fn, void *arg)
{
    pthread_mutex_lock(&h->lock);
    for (live_dev *d = h->watch_head; d != NULL; d = d->wnext)
        if (d->stream != NULL && !d->stream->closing)
            fn(arg, d->device_no, d->stream->no);
    pthread_mutex_unlock(&h->lock);
}

size_t live_record_count(live_hub *h)
{
    pthread_mutex_lock(&h->lock);
    size_t n = hmap_count(&h->devs);
    pthread_mutex_unlock(&h->lock);
    return n;
}

/* ---- timer: heartbeats, forgetting ---------------------------------------- */

/* One pass over the records (hub lock held). */
static void live_sweep(live_hub *h, int64_t now, bool heartbeat)
{
    for (live_dev *d = h->watch_head, *next; d != NULL; d = next) {
        next = d->wnext;   /* d may leave the list, or go */
        if (heartbeat && d->stream != NULL && !d->stream->closing &&
            live_append(d->stream, ":\n\n") == 0)
            live_wake(d->stream);
        live_dev_gc(h, d, now);
    }
    /* Finals expire in the order they were set; one set again since it was
     * queued goes to the back. */
    while (h->fifo_head != NULL && h->fifo_head->queued_until_ms <= now) {
        live_dev *d = h->fifo_head;
        h->fifo_head = d->fnext;
        if (h->fifo_head == NULL)
            h->fifo_tail = NULL;
        d->queued = false;
        if (d->final != NULL && d->final_until_ms > now)
            live_fifo_push(h, d);
        else
            live_dev_gc(h, d, now);
    }
}

static void *live_timer(void *arg)
{
    live_hub *h = arg;
    pthread_setname_np(pthread_self(), "live-timer");
    pthread_mutex_lock(&h->lock);
    while (!h->stopping) {
        int64_t now = clock_mono_ms();
        bool heartbeat = now >= h->next_heartbeat_ms;
        if (heartbeat)
            h->next_heartbeat_ms = now + h->cfg.heartbeat_ms;
        live_sweep(h, now, heartbeat);
        int64_t wait_ms = h->next_heartbeat_ms - now;
        if (wait_ms > LIVE_TICK_MS)
            wait_ms = LIVE_TICK_MS;
        struct timespec until = clock_mono_deadline(wait_ms);
        pthread_cond_timedwait(&h->tick, &h->lock, &until);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* ---- life cycle ------------------------------------------------------------ */

int live_hub_new(const live_config *cfg, store *st, live_presence_fn on_presence,
                 void *presence_arg, live_hub **out)
{
    live_hub *h = calloc(1, sizeof *h);
    if (h == NULL)
        return -1;
    if (hmap_init(&h->devs, 0) != 0 || hmap_init(&h->apps, 0) != 0) {
        hmap_free(&h->devs);
        free(h);
        return -1;
    }
    h->cfg = *cfg;
    if (h->cfg.final_keep_ms <= 0)
        h->cfg.final_keep_ms = LIVE_FINAL_KEEP_MS;
    h->st = st;
    h->on_presence = on_presence;
    h->presence_arg = presence_arg;
    h->next_heartbeat_ms = clock_mono_ms() + cfg->heartbeat_ms;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    bool lock_ok = pthread_mutex_init(&h->lock, NULL) == 0;
    bool tick_ok = pthread_cond_init(&h->tick, &ca) == 0;
    bool drained_ok = pthread_cond_init(&h->drained, &ca) == 0;
    pthread_condattr_destroy(&ca);
    if (!lock_ok || !tick_ok || !drained_ok ||
        pthread_create(&h->timer, NULL, live_timer, h) != 0) {
        if (drained_ok)
            pthread_cond_destroy(&h->drained);
        if (tick_ok)
            pthread_cond_destroy(&h->tick);
        if (lock_ok)
            pthread_mutex_destroy(&h->lock);
        hmap_free(&h->devs);
        hmap_free(&h->apps);
        free(h);
        return -1;
    }
    h->timer_started = true;
    if (relay_start(st, h, &h->relay) != 0) {
        live_hub_free(h);
        return -1;
    }
    *out = h;
    return 0;
}

void live_hub_shutdown(live_hub *h)
{
    if (h == NULL)
        return;
    /* No other node's event after this: the streams are ending. */
    relay_stop(h->relay);
    pthread_mutex_lock(&h->lock);
    h->stopping = true;
    for (live_dev *d = h->watch_head; d != NULL; d = d->wnext)
        if (d->stream != NULL)
            live_end_stream(d->stream, LIVE_END_SHUTDOWN, false);
    pthread_cond_signal(&h->tick);
    /* libmicrohttpd, once told to stop, cuts its connections whatever they
     * still had to send: wait (bounded) until every stream has sent its end
     * comment and closed, so that clients hear why and see a clean end. */
    struct timespec until = clock_mono_deadline(LIVE_STOP_DRAIN_MS);
    while (h->n_attached > 0)
        if (pthread_cond_timedwait(&h->drained, &h->lock, &until) == ETIMEDOUT) {
            log_error("live: %zu event streams not closed %d ms after the stop; cut",
                      h->n_attached, LIVE_STOP_DRAIN_MS);
            break;
        }
    pthread_mutex_unlock(&h->lock);
    if (h->timer_started) {
        pthread_join(h->timer, NULL);
        h->timer_started = false;
    }
}

void live_hub_free(live_hub *h)
{
    if (h == NULL)
        return;
    live_hub_shutdown(h);
    hmap_iter it;
    hmap_iter_init(&it, &h->devs);
    for (hmap_node *n; (n = hmap_iter_next(&it)) != NULL;) {
        live_dev *d = HMAP_ENTRY(n, live_dev, link);
        hmap_remove(&h->devs, n);
        free(d->final);
        free(d);
    }
    hmap_free(&h->devs);
    /* Every stream is closed by now (the server stopped first), and each
     * app entry went with its last one; these are only defence. */
    hmap_iter_init(&it, &h->apps);
    for (hmap_node *n; (n = hmap_iter_next(&it)) != NULL;) {
        hmap_remove(&h->apps, n);
        free(HMAP_ENTRY(n, live_app, link));
    }
    hmap_free(&h->apps);
    relay_free(h->relay);
    pthread_cond_destroy(&h->drained);
    pthread_cond_destroy(&h->tick);
    pthread_mutex_destroy(&h->lock);
    free(h);
}
