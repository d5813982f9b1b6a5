/* Replay memory: which (AppId, timestamp, nonce) triples were used inside the
 * window, in this process.
 *
 * It is the first check of every signed request, and the only one of a
 * read. It does not outlive the process: after a restart only the start-up
 * floor (auth_replay_raise_floor, at the start second) refuses, and a
 * request signed up to AUTH_WINDOW seconds ahead of the clock passes it.
 * Writes are covered beyond that by the store: each write spends its triple
 * in spent_nonces in its own transaction (api_write_then), which refuses a
 * replay this memory no longer knows (190301) and rolls the write back. So
 * this memory may forget early, as below, but never accept a replay inside
 * the process; across processes, writes are the store's to refuse. Reads
 * too when several nodes serve one PostgreSQL (store_spend_now, before the
 * read is answered); on SQLite one process serves every read, and this
 * memory with its start-up floor is all a read needs.
 *
 * Entries live in two structures at once: a hash table keyed by the triple
 * (is this triple known?; common/hmap.h, hashed with a seed drawn at start)
 * and a ring of per-second lists indexed by the
 * timestamp (which entries expire, or go first when memory is full?). Both
 * operations are O(1) amortized.
 *
 * Forgetting is only ever done together with raising a floor, so the memory
 * errs towards refusing: when the oldest second is evicted to make room, every
 * app that had entries there gets floor = that second, and its requests at or
 * below the floor are refused. Floors are bounded as well; when their table is
 * full the least recently raised one is folded into a global floor, which
 * refuses for every app and so is safe too. */
#include "auth/auth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/dlist.h"
#include "common/hmap.h"

/* Seconds the ring can tell apart. With the window enforced, live timestamps
 * span at most 2 * AUTH_WINDOW + 1 seconds, so each slot holds one second. */
#define RING_SIZE 1024
#define RING_MASK (RING_SIZE - 1)
_Static_assert(RING_SIZE > 2 * AUTH_WINDOW + 1, "ring must cover the window");
_Static_assert((RING_SIZE & RING_MASK) == 0, "ring size must be a power of two");

#define APP_ID_MAX 32       /* as auth_key.app_id */

/* Times further out than this are not Unix seconds of this era; refusing them
 * keeps every subtraction below free of overflow. */
#define TIME_LIMIT (INT64_MAX / 4)

typedef struct entry {
    hmap_node link;
    struct entry *sec_next; /* the other entries of the same second */
    int64_t ts;
    uint64_t nonce;
    char app_id[APP_ID_MAX + 1];
} entry;

typedef struct slot {
    int64_t second;
    size_t count;           /* 0: the slot is free and second is meaningless */
    entry *head;
} slot;

typedef struct app_floor {
    hmap_node link;
    dlist_node order;       /* in auth_replay.floor_order */
    int64_t floor;
    char app_id[APP_ID_MAX + 1];
} app_floor;

struct auth_replay {
    pthread_mutex_t lock;
    uint64_t seed;
    size_t capacity;
    size_t count;
    int64_t lo;             /* no entry has a timestamp below this */
    hmap entries;
    slot ring[RING_SIZE];

    hmap floors;
    size_t floor_count;
    dlist floor_order;      /* by time of the last raise, oldest first */
    int64_t global_floor;
};

/* ---- hashing ------------------------------------------------------------- */

/* Seeded so that colliding inputs cannot be precomputed; entries come only
 * from authentic requests, which limits what an attacker can feed in anyway. */
static uint64_t hash_app(uint64_t seed, const char *app_id)
{
    return hmap_hash_str(seed, app_id);
}

static uint64_t hash_triple(uint64_t seed, const char *app_id, int64_t ts, uint64_t nonce)
{
    return hmap_hash_mix(hmap_hash_mix(hash_app(seed, app_id), (uint64_t)ts), nonce);
}

/* ---- floors -------------------------------------------------------------- */

static app_floor *floor_find(auth_replay *r, const char *app_id)
{
    uint64_t h = hash_app(r->seed, app_id);
    for (hmap_node *n = hmap_first(&r->floors, h); n != NULL; n = hmap_next(n)) {
        app_floor *f = HMAP_ENTRY(n, app_floor, link);
        if (strcmp(f->app_id, app_id) == 0)
            return f;
    }
    return NULL;
}

/* The floor raised longest ago; NULL when there is none. */
static app_floor *floor_oldest(auth_replay *r)
{
    dlist_node *n = r->floor_order.oldest;
    return n != NULL ? DLIST_ENTRY(n, app_floor, order) : NULL;
}

static void floor_drop(auth_replay *r, app_floor *f)
{
    hmap_remove(&r->floors, &f->link);
    dlist_remove(&r->floor_order, &f->order);
    r->floor_count--;
    free(f);
}

static void raise_global_floor(auth_replay *r, int64_t second)
{
    if (second > r->global_floor)
        r->global_floor = second;
}

/* floor(app) = max(floor(app), second). Never fails: without room or memory
 * for a record, the global floor takes the raise instead. */
static void floor_raise(auth_replay *r, const char *app_id, int64_t second)
{
    app_floor *f = floor_find(r, app_id);
    if (f != NULL) {
        if (second > f->floor)
            f->floor = second;
        dlist_touch(&r->floor_order, &f->order);
        return;
    }
    if (r->floor_count >= r->capacity) {
        raise_global_floor(r, floor_oldest(r)->floor);
        floor_drop(r, floor_oldest(r));
    }
    f = malloc(sizeof *f);
    if (f == NULL) {
        raise_global_floor(r, second);
        return;
    }
    memcpy(f->app_id, app_id, strlen(app_id) + 1);
    f->floor = second;
    r->floor_count++;
    hmap_insert(&r->floors, &f->link, hash_app(r->seed, app_id));
    dlist_append(&r->floor_order, &f->order);
}

/* A floor below the window refuses nothing the window check lets through.
 * The list is in order of raising, which is nearly the order of floor values;
 * a record that is out of order waits its turn, still inside the bound. */
static void floors_expire(auth_replay *r, int64_t cutoff)
{
    while (floor_oldest(r) != NULL && floor_oldest(r)->floor < cutoff)
        floor_drop(r, floor_oldest(r));
}

static bool below_floor(auth_replay *r, const char *app_id, int64_t ts)
{
    if (ts <= r->global_floor)
        return true;
    app_floor *f = floor_find(r, app_id);
    return f != NULL && ts <= f->floor;
}

/* ---- entries ------------------------------------------------------------- */

static slot *slot_of(auth_replay *r, int64_t second)
{
    return &r->ring[(uint64_t)second & RING_MASK];
}

/* Frees a slot's entries; with raise set they are forgotten before their time
 * and their apps' floors go up to cover them. */
static void slot_clear(auth_replay *r, slot *s, bool raise)
{
    entry *e = s->head;
    while (e != NULL) {
        entry *next = e->sec_next;
        if (raise)
            floor_raise(r, e->app_id, s->second);
        hmap_remove(&r->entries, &e->link);
        free(e);
        e = next;
    }
    r->count -= s->count;
    s->count = 0;
    s->head = NULL;
}

static void entries_expire(auth_replay *r, int64_t cutoff)
{
    while (r->count > 0 && r->lo < cutoff) {
        if (cutoff - r->lo > RING_SIZE) {
            /* A jump of the clock: one pass over the ring is cheaper. */
            for (size_t i = 0; i < RING_SIZE; i++)
                if (r->ring[i].count > 0 && r->ring[i].second < cutoff)
                    slot_clear(r, &r->ring[i], false);
            r->lo = cutoff;
            return;
        }
        slot *s = slot_of(r, r->lo);
        if (s->count > 0 && s->second == r->lo)
            slot_clear(r, s, false);
        r->lo++;
    }
}

/* The slot of the oldest second held. Walking up from lo moves lo along, so
 * the walks add up to the distance time has moved. */
static slot *oldest_slot(auth_replay *r)
{
    for (int i = 0; i < RING_SIZE; i++, r->lo++) {
        slot *s = slot_of(r, r->lo);
        if (s->count > 0 && s->second == r->lo)
            return s;
    }
    /* Held seconds spread wider than the ring (the clock went back): look at
     * every slot. */
    slot *oldest = NULL;
    for (size_t i = 0; i < RING_SIZE; i++)
        if (r->ring[i].count > 0 && (oldest == NULL || r->ring[i].second < oldest->second))
            oldest = &r->ring[i];
    if (oldest != NULL)
        r->lo = oldest->second;
    return oldest;
}

static bool entry_known(auth_replay *r, uint64_t h, const char *app_id, int64_t ts,
                        uint64_t nonce)
{
    for (hmap_node *n = hmap_first(&r->entries, h); n != NULL; n = hmap_next(n)) {
        const entry *e = HMAP_ENTRY(n, entry, link);
        if (e->ts == ts && e->nonce == nonce && strcmp(e->app_id, app_id) == 0)
            return true;
    }
    return false;
}

static int entry_add(auth_replay *r, uint64_t h, const char *app_id, int64_t ts,
                     uint64_t nonce)
{
    entry *e = malloc(sizeof *e);
    if (e == NULL)
        return -1;
    e->ts = ts;
    e->nonce = nonce;
    memcpy(e->app_id, app_id, strlen(app_id) + 1);

    slot *s = slot_of(r, ts);
    if (s->count == 0)
        s->second = ts;
    e->sec_next = s->head;
    s->head = e;
    s->count++;
    if (r->count == 0 || ts < r->lo)
        r->lo = ts;
    r->count++;
    hmap_insert(&r->entries, &e->link, h);
    return 0;
}

/* Called with the triple known to be new and above every floor. Makes room,
 * then records it, unless the room-making raised a floor that now covers it. */
static meetd_err record(auth_replay *r, uint64_t h, const char *app_id, int64_t ts,
                        uint64_t nonce)
{
    slot *s = slot_of(r, ts);
    if (s->count > 0 && s->second != ts) {
        if (s->second > ts)
            /* Only after the clock went back by more than the ring covers:
             * the newer second keeps the slot, this request cannot be
             * remembered, and that is only safe by refusing it. */
            return ME_REPLAY;
        slot_clear(r, s, true);
    }
    if (r->count >= r->capacity) {
        slot *oldest = oldest_slot(r);
        if (oldest->second > ts) {
            /* This request is itself the oldest: the floor remembers it. */
            floor_raise(r, app_id, ts);
            return ME_OK;
        }
        slot_clear(r, oldest, true);
        if (below_floor(r, app_id, ts))
            return ME_OK;   /* new, and from now on refused by the floor */
    }
    return entry_add(r, h, app_id, ts, nonce) == 0 ? ME_OK : ME_INTERNAL;
}

/* ---- interface ----------------------------------------------------------- */

int auth_replay_new(size_t capacity, auth_replay **out)
{
    if (out == NULL)
        return -1;
    *out = NULL;
    if (capacity == 0)
        return -1;
    auth_replay *r = calloc(1, sizeof *r);
    if (r == NULL)
        return -1;
    r->capacity = capacity;
    r->seed = hmap_seed();
    r->global_floor = INT64_MIN;
    /* Both bounded by capacity: as many buckets, at most. */
    if (hmap_init(&r->entries, capacity) != 0)
        goto fail;
    if (hmap_init(&r->floors, capacity) != 0)
        goto fail;
    if (pthread_mutex_init(&r->lock, NULL) != 0)
        goto fail;
    *out = r;
    return 0;
fail:
    hmap_free(&r->entries);
    hmap_free(&r->floors);
    free(r);
    return -1;
}

void auth_replay_free(auth_replay *r)
{
    if (r == NULL)
        return;
    for (size_t i = 0; i < RING_SIZE; i++)
        slot_clear(r, &r->ring[i], false);
    while (floor_oldest(r) != NULL)
        floor_drop(r, floor_oldest(r));
    hmap_free(&r->entries);
    hmap_free(&r->floors);
    pthread_mutex_destroy(&r->lock);
    free(r);
}

meetd_err auth_replay_check(auth_replay *r, const char *app_id, int64_t timestamp,
                            uint64_t nonce, int64_t now)
{
    if (r == NULL || app_id == NULL || strlen(app_id) > APP_ID_MAX)
        return ME_INVALID;
    if (now < -TIME_LIMIT || now > TIME_LIMIT)
        return ME_INTERNAL;
    /* Outside the window nothing can be remembered; the caller should have
     * refused already, and this says why. */
    if (timestamp < now - AUTH_WINDOW || timestamp > now + AUTH_WINDOW)
        return ME_TS_SKEW;

    pthread_mutex_lock(&r->lock);
    int64_t cutoff = now - AUTH_WINDOW;
    entries_expire(r, cutoff);
    floors_expire(r, cutoff);

    meetd_err rc;
    uint64_t h = hash_triple(r->seed, app_id, timestamp, nonce);
    if (below_floor(r, app_id, timestamp) || entry_known(r, h, app_id, timestamp, nonce))
        rc = ME_REPLAY;
    else
        rc = record(r, h, app_id, timestamp, nonce);
    pthread_mutex_unlock(&r->lock);
    return rc;
}

void auth_replay_raise_floor(auth_replay *r, int64_t second)
{
    pthread_mutex_lock(&r->lock);
    raise_global_floor(r, second);
    pthread_mutex_unlock(&r->lock);
}

size_t auth_replay_size(auth_replay *r)
{
    if (r == NULL)
        return 0;
    pthread_mutex_lock(&r->lock);
    size_t n = r->count;
    pthread_mutex_unlock(&r->lock);
    return n;
}
