/* Token bucket per AppId.
 *
 * On a store several nodes share, the bucket is the store's
 * (store_rate_take, by way of the take callback): this node keeps only the
 * whole tokens it took from it and has not spent yet, and takes a chunk
 * more when they run out. The local buckets then do not refill by
 * themselves.
 *
 * A bucket that has refilled to the brim says nothing a new bucket would not,
 * so idle full buckets are dropped: buckets are kept in order of last use and
 * each call looks at the least recently used ones. A hard bound on the number
 * of buckets covers the case of many apps active at once. */
#include "auth/auth.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "common/dlist.h"
#include "common/hmap.h"

/* Far above the number of apps one server holds; only reached if the caller
 * limits by an unauthenticated AppId. Then the least recently used bucket is
 * forgotten, which at worst lets that app start over with a full bucket. */
#define RL_MAX_BUCKETS 65536
#define RL_SWEEP_PER_CALL 2

/* Tokens are counted in billionths, and the rate in billionths per
 * millisecond, so that refills are exact integer sums: a bucket refilled in
 * many small steps holds what one long step would give. The rate is kept to
 * a millionth of a request a second. The bounds keep the products in int64. */
#define RL_UNIT INT64_C(1000000000)
#define RL_MAX_RATE 1e9         /* requests a second */
#define RL_MAX_BURST 1e9

typedef struct rl_bucket {
    hmap_node link;                     /* in auth_ratelimit.buckets */
    dlist_node use;                     /* in auth_ratelimit.by_use */
    int64_t tokens;                     /* in RL_UNIT */
    int64_t last_ms;
    int64_t refused_until;              /* shared: the store said empty */
    char app_id[];
} rl_bucket;

struct auth_ratelimit {
    pthread_mutex_t lock;
    uint64_t seed;
    int64_t rate;                       /* RL_UNIT per millisecond */
    int64_t burst;                      /* in RL_UNIT */
    hmap buckets;                       /* by AppId, hashed with seed */
    dlist by_use;                       /* least recently used first */
    /* Shared (auth_ratelimit_new_shared); take NULL otherwise. */
    auth_rate_take_fn take;
    void *take_arg;
    int64_t chunk;                      /* whole tokens per take */
    int64_t refill_ms;                  /* time a chunk takes to refill */
};

/* The bucket used longest ago; NULL when there is none. */
static rl_bucket *bucket_oldest(auth_ratelimit *rl)
{
    dlist_node *n = rl->by_use.oldest;
    return n != NULL ? DLIST_ENTRY(n, rl_bucket, use) : NULL;
}

static void bucket_drop(auth_ratelimit *rl, rl_bucket *b)
{
    hmap_remove(&rl->buckets, &b->link);
    dlist_remove(&rl->by_use, &b->use);
    free(b);
}

static rl_bucket *bucket_find(auth_ratelimit *rl, const char *app_id, uint64_t h)
{
    for (hmap_node *n = hmap_first(&rl->buckets, h); n != NULL; n = hmap_next(n)) {
        rl_bucket *b = HMAP_ENTRY(n, rl_bucket, link);
        if (strcmp(b->app_id, app_id) == 0)
            return b;
    }
    return NULL;
}

/* Tokens the bucket would hold at now_ms. A clock that seems to go back adds
 * nothing. */
static int64_t refilled(const auth_ratelimit *rl, const rl_bucket *b, int64_t now_ms)
{
    if (rl->take != NULL)
        return b->tokens;       /* a share of the store's bucket: no refill */
    int64_t missing = rl->burst - b->tokens;
    if (missing <= 0 || now_ms <= b->last_ms)
        return b->tokens < rl->burst ? b->tokens : rl->burst;
    uint64_t elapsed = (uint64_t)now_ms - (uint64_t)b->last_ms;
    /* Compared first, so that the product below stays under `missing`. */
    if (elapsed >= (uint64_t)(missing / rl->rate) + 1)
        return rl->burst;
    int64_t tokens = b->tokens + (int64_t)elapsed * rl->rate;
    return tokens < rl->burst ? tokens : rl->burst;
}

static rl_bucket *bucket_new(auth_ratelimit *rl, const char *app_id, uint64_t h, int64_t now_ms)
{
    if (hmap_count(&rl->buckets) >= RL_MAX_BUCKETS)
        bucket_drop(rl, bucket_oldest(rl));
    size_t len = strlen(app_id);
    rl_bucket *b = malloc(sizeof *b + len + 1);
    if (b == NULL)
        return NULL;
    memcpy(b->app_id, app_id, len + 1);
    b->tokens = rl->take != NULL ? 0 : rl->burst;
    b->last_ms = now_ms;
    b->refused_until = 0;
    hmap_insert(&rl->buckets, &b->link, h);
    dlist_append(&rl->by_use, &b->use);
    return b;
}

/* Shared buckets never fill: one unused for a second is dropped with the
 * few tokens it may hold (at most a chunk that nobody spends). */
static void sweep_full(auth_ratelimit *rl, const rl_bucket *keep, int64_t now_ms)
{
    for (int i = 0; i < RL_SWEEP_PER_CALL; i++) {
        rl_bucket *b = bucket_oldest(rl);
        if (b == NULL || b == keep)
            return;
        if (rl->take != NULL ? now_ms - b->last_ms < 1000 : refilled(rl, b, now_ms) < rl->burst)
            return;
        bucket_drop(rl, b);
    }
}

int auth_ratelimit_new(double rate, double burst, auth_ratelimit **out)
{
    if (out == NULL)
        return -1;
    *out = NULL;
    if (!isfinite(rate) || !isfinite(burst) || rate > RL_MAX_RATE || burst < 1 ||
        burst > RL_MAX_BURST)
        return -1;
    int64_t rate_units = llround(rate * (RL_UNIT / 1000));
    if (rate_units <= 0)
        return -1;      /* zero, negative, or slower than the units can tell */
    auth_ratelimit *rl = calloc(1, sizeof *rl);
    if (rl == NULL)
        return -1;
    rl->seed = hmap_seed();
    rl->rate = rate_units;
    rl->burst = llround(burst * RL_UNIT);
    if (hmap_init(&rl->buckets, RL_MAX_BUCKETS) != 0)
        goto fail;
    if (pthread_mutex_init(&rl->lock, NULL) != 0)
        goto fail;
    *out = rl;
    return 0;
fail:
    hmap_free(&rl->buckets);
    free(rl);
    return -1;
}

int auth_ratelimit_new_shared(double rate, double burst, int64_t chunk, auth_rate_take_fn take,
                              void *take_arg, auth_ratelimit **out)
{
    if (out == NULL || take == NULL || chunk < 1 || chunk > RL_MAX_BURST)
        return -1;
    if (auth_ratelimit_new(rate, burst, out) != 0)
        return -1;
    auth_ratelimit *rl = *out;
    rl->take = take;
    rl->take_arg = take_arg;
    rl->chunk = chunk;
    rl->refill_ms = llround((double)chunk * 1000 / rate);
    if (rl->refill_ms < 1)
        rl->refill_ms = 1;
    return 0;
}

void auth_ratelimit_free(auth_ratelimit *rl)
{
    if (rl == NULL)
        return;
    while (bucket_oldest(rl) != NULL)
        bucket_drop(rl, bucket_oldest(rl));
    hmap_free(&rl->buckets);
    pthread_mutex_destroy(&rl->lock);
    free(rl);
}

bool auth_ratelimit_allow(auth_ratelimit *rl, const char *app_id, int64_t now_ms)
{
    if (rl == NULL || app_id == NULL)
        return false;
    uint64_t h = hmap_hash_str(rl->seed, app_id);
    bool allowed = false;

    pthread_mutex_lock(&rl->lock);
    rl_bucket *b = bucket_find(rl, app_id, h);
    if (b == NULL)
        b = bucket_new(rl, app_id, h, now_ms);
    if (b != NULL && rl->take != NULL && b->tokens < RL_UNIT && now_ms >= b->refused_until) {
        /* This node's share is spent: a chunk from the store's bucket, the
         * lock released meanwhile (a round trip), so b is found again. */
        pthread_mutex_unlock(&rl->lock);
        int64_t granted = 0;
        int rc = rl->take(rl->take_arg, app_id, rl->chunk, &granted);
        pthread_mutex_lock(&rl->lock);
        b = bucket_find(rl, app_id, h);
        if (b == NULL)
            b = bucket_new(rl, app_id, h, now_ms);
        if (rc != 0) {
            allowed = true;
        } else if (b != NULL && granted > 0) {
            b->tokens += (granted < rl->chunk ? granted : rl->chunk) * RL_UNIT;
        } else if (b != NULL && b->tokens < RL_UNIT) {
            b->refused_until = now_ms + rl->refill_ms;
        }
    }
    if (b != NULL && !allowed) {
        b->tokens = refilled(rl, b, now_ms);
        if (now_ms > b->last_ms)
            b->last_ms = now_ms;
        if (b->tokens >= RL_UNIT) {
            b->tokens -= RL_UNIT;
            allowed = true;
        }
        dlist_touch(&rl->by_use, &b->use);
    }
    sweep_full(rl, b, now_ms);
    pthread_mutex_unlock(&rl->lock);
    return allowed;
}
