/* The relay: rows committed by any node to this node's streams (the essay
 * is in relay.h).
 *
 * Two tables under one mutex: the meetings followed (a cursor, how many
 * streams, whether a read is due) and the devices streaming here (which
 * rows to hand on). The thread waits on the store's change feed, marks the
 * meetings named as due, and reads the due ones in one snapshot, handing
 * rows on without the mutex held (event_deliver takes the hub lock; the
 * hub calls relay_watch without it, so the two locks are never nested). */
#include "live/relay.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/hmap.h"
#include "common/ids.h"
#include "common/log.h"
#include "live/event.h"
#include "live/live.h"

/* Rows of one meeting per read; a meeting with more is read again at once.
 * A read takes up to STORE_CURSORS_MAX meetings in one query, whose rows
 * all come back in one answer: this bounds that answer. */
#define RELAY_READ_MAX 100

/* A meeting followed, or a device watched (cursor, gen, due unused). */
typedef struct relay_entry {
    hmap_node link;
    int64_t key;                   /* meeting_id or device_no */
    int64_t cursor;                /* last row number read */
    /* Set anew (from relay.gens) when the entry is made and when
     * relay_watch lowers cursor: a read begun before does not move it. */
    uint64_t gen;
    int streams;
    bool due;                      /* to be read at the next pass */
} relay_entry;

/* What one pass reads of a meeting. */
typedef struct relay_due {
    int64_t meeting_id;
    int64_t cursor;
    uint64_t gen;
    int rows;                      /* of it read */
} relay_due;

struct relay {
    pthread_mutex_t lock;
    hmap meetings;
    hmap devices;
    uint64_t gens;                 /* the last relay_entry.gen given */
    bool resync;                   /* check every watched device at the next pass */
    bool stopping;
    store *st;
    store_changes *feed;
    struct live_hub *hub;
    pthread_t thread;
    bool started;
};

/* ---- tables (lock held) ---------------------------------------------------- */

static uint64_t relay_hash(int64_t key)
{
    return hmap_hash_int(0, (uint64_t)key);
}

static relay_entry *relay_find(hmap *table, int64_t key)
{
    for (hmap_node *n = hmap_first(table, relay_hash(key)); n != NULL; n = hmap_next(n)) {
        relay_entry *e = HMAP_ENTRY(n, relay_entry, link);
        if (e->key == key)
            return e;
    }
    return NULL;
}

/* One more stream for key: its entry, made if need be (NULL: no memory). */
static relay_entry *relay_hold(hmap *table, int64_t key, bool *made)
{
    relay_entry *e = relay_find(table, key);
    *made = false;
    if (e == NULL) {
        e = calloc(1, sizeof *e);
        if (e == NULL)
            return NULL;
        e->key = key;
        hmap_insert(table, &e->link, relay_hash(key));
        *made = true;
    }
    e->streams++;
    return e;
}

/* One stream fewer for key; the entry goes with its last. */
static void relay_release(hmap *table, int64_t key)
{
    relay_entry *e = relay_find(table, key);
    if (e == NULL || --e->streams > 0)
        return;
    hmap_remove(table, &e->link);
    free(e);
}

static void relay_table_free(hmap *table)
{
    hmap_iter it;
    hmap_iter_init(&it, table);
    for (hmap_node *n; (n = hmap_iter_next(&it)) != NULL;) {
        hmap_remove(table, n);
        free(HMAP_ENTRY(n, relay_entry, link));
    }
    hmap_free(table);
}

/* ---- what the hub calls ------------------------------------------------------ */

void relay_watch(relay *r, int64_t meeting_id, int64_t device_no, int64_t from)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    bool made_m, made_d;
    relay_entry *m = relay_hold(&r->meetings, meeting_id, &made_m);
    relay_entry *d = m != NULL ? relay_hold(&r->devices, device_no, &made_d) : NULL;
    if (m == NULL || d == NULL) {
        /* Without an entry the stream hears only this node's own rows. */
        if (m != NULL)
            relay_release(&r->meetings, meeting_id);
        pthread_mutex_unlock(&r->lock);
        log_error("live: out of memory following meeting %lld for other nodes' events",
                  (long long)meeting_id);
        return;
    }
    if (made_m) {
        m->cursor = from;
        m->gen = ++r->gens;
    } else if (from < m->cursor) {
        m->cursor = from;
        m->gen = ++r->gens;
    }
    m->due = true;
    /* Under the lock: relay_stop closes the feed under it. */
    if (r->feed != NULL && !r->stopping)
        store_changes_wake(r->feed);
    pthread_mutex_unlock(&r->lock);
}

void relay_unwatch(relay *r, int64_t meeting_id, int64_t device_no)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    if (relay_find(&r->devices, device_no) != NULL && relay_find(&r->meetings, meeting_id) != NULL) {
        relay_release(&r->devices, device_no);
        relay_release(&r->meetings, meeting_id);
    }
    pthread_mutex_unlock(&r->lock);
}

bool relay_cursor(relay *r, int64_t meeting_id, int64_t *cursor)
{
    pthread_mutex_lock(&r->lock);
    relay_entry *m = relay_find(&r->meetings, meeting_id);
    if (m != NULL)
        *cursor = m->cursor;
    pthread_mutex_unlock(&r->lock);
    return m != NULL;
}

bool relay_watching(relay *r, int64_t device_no)
{
    pthread_mutex_lock(&r->lock);
    bool yes = relay_find(&r->devices, device_no) != NULL;
    pthread_mutex_unlock(&r->lock);
    return yes;
}

/* A row of meeting_id numbered event_no was read by a pass that began at
 * generation gen: the cursor moves to it, unless relay_watch lowered the
 * cursor since (the meeting is due again and is read from there). */
static void relay_step(relay *r, int64_t meeting_id, uint64_t gen, int64_t event_no)
{
    relay_entry *m = relay_find(&r->meetings, meeting_id);
    if (m != NULL && m->gen == gen && event_no > m->cursor)
        m->cursor = event_no;
}

void relay_advance(relay *r, int64_t meeting_id, int64_t event_no)
{
    pthread_mutex_lock(&r->lock);
    relay_entry *m = relay_find(&r->meetings, meeting_id);
    if (m != NULL)
        relay_step(r, meeting_id, m->gen, event_no);
    pthread_mutex_unlock(&r->lock);
}

/* ---- the thread ---------------------------------------------------------------- */

static void relay_notified(int64_t meeting_id, void *arg)
{
    relay *r = arg;
    pthread_mutex_lock(&r->lock);
    relay_entry *m = relay_find(&r->meetings, meeting_id);
    if (m != NULL)
        m->due = true;
    pthread_mutex_unlock(&r->lock);
}

typedef struct relay_read {
    relay *r;
    relay_due *due;
    size_t n;
    size_t i;                      /* the meeting being read */
    size_t end;                    /* the query's last, exclusive */
    int64_t *devices;              /* resync: devices to check */
    size_t n_devices;
} relay_read;

static store_rc relay_row(const store_event *e, const char *payload, void *arg)
{
    relay_read *q = arg;
    relay *r = q->r;
    /* The rows come cursor after cursor, in the order asked, and no
     * meeting is asked twice: a row of another meeting is the next
     * meeting's first (those between had none). */
    while (q->i < q->end && q->due[q->i].meeting_id != e->meeting_id)
        q->i++;
    if (q->i == q->end)
        return STORE_ERROR;        /* not asked for: cannot happen */
    relay_due *m = &q->due[q->i];
    m->rows++;
    pthread_mutex_lock(&r->lock);
    bool watched = e->device_no != 0 && relay_find(&r->devices, e->device_no) != NULL;
    pthread_mutex_unlock(&r->lock);
    /* A row of a device not streaming here is skipped: were its stream
     * opening now, relay_watch makes the meeting read again from the
     * stream's snapshot. */
    if (watched)
        event_deliver(r->hub, e, payload);
    pthread_mutex_lock(&r->lock);
    relay_step(r, m->meeting_id, m->gen, e->event_no);
    pthread_mutex_unlock(&r->lock);
    return STORE_OK;
}

static store_rc relay_read_fn(store_tx *tx, void *arg)
{
    relay_read *q = arg;
    /* Up to STORE_CURSORS_MAX meetings a query, one round trip each. */
    for (size_t from = 0; from < q->n; from = q->end) {
        size_t k = q->n - from < STORE_CURSORS_MAX ? q->n - from : STORE_CURSORS_MAX;
        store_cursor c[STORE_CURSORS_MAX];
        for (size_t j = 0; j < k; j++) {
            c[j] = (store_cursor){q->due[from + j].meeting_id, q->due[from + j].cursor};
            q->due[from + j].rows = 0;
        }
        q->i = from;
        q->end = from + k;
        store_rc rc = store_events_since_many(tx, c, k, RELAY_READ_MAX, relay_row, q);
        if (rc != STORE_OK)
            return rc;
        pthread_mutex_lock(&q->r->lock);
        for (size_t j = from; j < q->end; j++) {
            if (q->due[j].rows < RELAY_READ_MAX)
                continue;
            /* More to come: read again at once. */
            relay_entry *m = relay_find(&q->r->meetings, q->due[j].meeting_id);
            if (m != NULL)
                m->due = true;
        }
        pthread_mutex_unlock(&q->r->lock);
    }
    /* After a resync: a device the rows said nothing of may have left while
     * the node was not listening, its rows pruned since. Same snapshot: a
     * device that left has its row read above, or none is kept. */
    for (size_t i = 0; i < q->n_devices; i++) {
        core_device d;
        store_rc rc = store_device_get(tx, q->devices[i], &d);
        if (rc == STORE_NOTFOUND || (rc == STORE_OK && d.left_time != 0))
            live_gone(q->r->hub, q->devices[i]);
        else if (rc != STORE_OK)
            return rc;
    }
    return STORE_OK;
}

/* Reads the due meetings (all of them with all_due) and, after a resync,
 * checks the watched devices. False when the read failed: what was due is
 * due again. */
static bool relay_pass(relay *r, bool all_due)
{
    relay_read q = {.r = r};
    pthread_mutex_lock(&r->lock);
    bool check = r->resync;
    r->resync = false;
    size_t n_dev = check ? hmap_count(&r->devices) : 0;
    size_t n_meetings = hmap_count(&r->meetings);
    q.due = calloc(n_meetings > 0 ? n_meetings : 1, sizeof *q.due);
    q.devices = calloc(n_dev > 0 ? n_dev : 1, sizeof *q.devices);
    if (q.due == NULL || q.devices == NULL) {
        r->resync |= check;
        pthread_mutex_unlock(&r->lock);
        free(q.due);
        free(q.devices);
        log_error("live: out of memory reading other nodes' events");
        return false;
    }
    hmap_iter it;
    hmap_iter_init(&it, &r->meetings);
    for (hmap_node *n; (n = hmap_iter_next(&it)) != NULL;) {
        relay_entry *m = HMAP_ENTRY(n, relay_entry, link);
        if (m->due || all_due) {
            m->due = false;
            q.due[q.n++] = (relay_due){m->key, m->cursor, m->gen, 0};
        }
    }
    hmap_iter_init(&it, &r->devices);
    for (hmap_node *n; check && (n = hmap_iter_next(&it)) != NULL;)
        q.devices[q.n_devices++] = HMAP_ENTRY(n, relay_entry, link)->key;
    pthread_mutex_unlock(&r->lock);
    bool ok = true;
    if (q.n > 0 || q.n_devices > 0) {
        store_rc rc = store_read(r->st, relay_read_fn, &q);
        if (rc != STORE_OK) {
            ok = false;
            /* Read again at the next pass, from where the cursors got. */
            pthread_mutex_lock(&r->lock);
            r->resync |= check;
            for (size_t i = 0; i < q.n; i++) {
                relay_entry *m = relay_find(&r->meetings, q.due[i].meeting_id);
                if (m != NULL)
                    m->due = true;
            }
            pthread_mutex_unlock(&r->lock);
        }
    }
    free(q.due);
    free(q.devices);
    return ok;
}

static bool relay_any_due(relay *r)
{
    bool due = r->resync;
    hmap_iter it;
    hmap_iter_init(&it, &r->meetings);
    for (hmap_node *n; !due && (n = hmap_iter_next(&it)) != NULL;)
        due = HMAP_ENTRY(n, relay_entry, link)->due;
    return due;
}

static void *relay_main(void *arg)
{
    relay *r = arg;
    pthread_setname_np(pthread_self(), "live-relay");
    int64_t next_pass = clock_mono_ms() + RELAY_PASS_MS;
    for (;;) {
        pthread_mutex_lock(&r->lock);
        bool stop = r->stopping;
        bool due = relay_any_due(r);
        pthread_mutex_unlock(&r->lock);
        if (stop)
            break;
        int64_t now = clock_mono_ms();
        int wait = due ? 0 : next_pass > now ? (int)(next_pass - now) : 0;
        bool resync = false;
        (void)store_changes_wait(r->feed, wait, relay_notified, r, &resync);
        if (resync) {
            pthread_mutex_lock(&r->lock);
            r->resync = true;
            pthread_mutex_unlock(&r->lock);
        }
        now = clock_mono_ms();
        bool all = resync || now >= next_pass;
        if (now >= next_pass)
            next_pass = now + RELAY_PASS_MS;
        if (!relay_pass(r, all)) {
            /* The store is out of reach: no faster than the period. */
            bool ignored = false;
            (void)store_changes_wait(r->feed, RELAY_PASS_MS, relay_notified, r, &ignored);
            if (ignored) {
                pthread_mutex_lock(&r->lock);
                r->resync = true;
                pthread_mutex_unlock(&r->lock);
            }
        }
    }
    return NULL;
}

/* ---- life cycle ------------------------------------------------------------------ */

relay *relay_table_new(void)
{
    relay *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    if (hmap_init(&r->meetings, 0) != 0 || hmap_init(&r->devices, 0) != 0 ||
        pthread_mutex_init(&r->lock, NULL) != 0) {
        hmap_free(&r->meetings);
        hmap_free(&r->devices);
        free(r);
        return NULL;
    }
    return r;
}

int relay_start(store *st, struct live_hub *h, relay **out)
{
    *out = NULL;
    store_changes *feed = NULL;
    store_rc rc = store_changes_open(st, &feed);
    if (rc == STORE_NOTFOUND)
        return 0;                  /* one node: its own publish is all */
    if (rc != STORE_OK)
        return -1;
    relay *r = relay_table_new();
    if (r == NULL) {
        store_changes_close(feed);
        return -1;
    }
    r->st = st;
    r->hub = h;
    r->feed = feed;
    if (pthread_create(&r->thread, NULL, relay_main, r) != 0) {
        log_error("live: cannot start the relay thread");
        relay_free(r);
        return -1;
    }
    r->started = true;
    *out = r;
    return 0;
}

void relay_stop(relay *r)
{
    if (r == NULL)
        return;
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    pthread_mutex_unlock(&r->lock);
    if (r->started) {
        store_changes_wake(r->feed);
        pthread_join(r->thread, NULL);
        r->started = false;
    }
    pthread_mutex_lock(&r->lock);
    store_changes_close(r->feed);
    r->feed = NULL;
    pthread_mutex_unlock(&r->lock);
}

void relay_free(relay *r)
{
    if (r == NULL)
        return;
    relay_stop(r);
    relay_table_free(&r->meetings);
    relay_table_free(&r->devices);
    pthread_mutex_destroy(&r->lock);
    free(r);
}
