/* auth: the bounded replay memory and the per-app rate limiter. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <math.h>
#include <pthread.h>

#include "auth/auth.h"

#define T INT64_C(1700000000)

static auth_replay *new_replay(size_t capacity)
{
    auth_replay *r = NULL;
    assert_int_equal(auth_replay_new(capacity, &r), 0);
    assert_non_null(r);
    return r;
}

/* One check at server time `now`, and the bound holds after it. */
static meetd_err check_at(auth_replay *r, size_t capacity, const char *app, int64_t ts,
                          uint64_t nonce, int64_t now)
{
    meetd_err rc = auth_replay_check(r, app, ts, nonce, now);
    assert_true(auth_replay_size(r) <= capacity);
    return rc;
}

#define CHECK(r, cap, app, ts, nonce) check_at((r), (cap), (app), (ts), (nonce), T)

/* ---- replay memory ------------------------------------------------------- */

static void test_replay_basic(void **state)
{
    (void)state;
    auth_replay *r = new_replay(16);
    assert_int_equal(auth_replay_size(r), 0);
    assert_int_equal(CHECK(r, 16, "A", T, 1), ME_OK);
    assert_int_equal(CHECK(r, 16, "A", T, 1), ME_REPLAY);
    assert_int_equal(CHECK(r, 16, "A", T, 2), ME_OK);
    assert_int_equal(CHECK(r, 16, "A", T - 1, 1), ME_OK);
    assert_int_equal(CHECK(r, 16, "A", T, UINT64_MAX), ME_OK);
    assert_int_equal(CHECK(r, 16, "A", T, UINT64_MAX), ME_REPLAY);
    assert_int_equal(auth_replay_size(r), 4);
    auth_replay_free(r);
}

/* A restarted server raises the floor to its start: whatever was signed up to
 * then is refused for every app, later timestamps are not. */
static void test_replay_raised_floor(void **state)
{
    auth_replay *r = new_replay(16);
    auth_replay_raise_floor(r, T);
    assert_int_equal(CHECK(r, 16, "A", T - 1, 1), ME_REPLAY);
    assert_int_equal(CHECK(r, 16, "B", T, 1), ME_REPLAY);
    assert_int_equal(CHECK(r, 16, "A", T + 1, 1), ME_OK);
    assert_int_equal(CHECK(r, 16, "A", T + 1, 1), ME_REPLAY);
    /* Raising is monotonic: a lower value leaves the floor where it was. */
    auth_replay_raise_floor(r, T - 100);
    assert_int_equal(CHECK(r, 16, "C", T, 7), ME_REPLAY);
    auth_replay_free(r);
}

static void test_replay_per_app(void **state)
{
    (void)state;
    auth_replay *r = new_replay(16);
    assert_int_equal(CHECK(r, 16, "A", T, 5), ME_OK);
    assert_int_equal(CHECK(r, 16, "B", T, 5), ME_OK);
    assert_int_equal(CHECK(r, 16, "AB", T, 5), ME_OK);
    assert_int_equal(CHECK(r, 16, "", T, 5), ME_OK);
    assert_int_equal(CHECK(r, 16, "A", T, 5), ME_REPLAY);
    assert_int_equal(CHECK(r, 16, "B", T, 5), ME_REPLAY);
    assert_int_equal(auth_replay_size(r), 4);
    auth_replay_free(r);
}

static void test_replay_capacity(void **state)
{
    (void)state;
    const size_t cap = 4;
    auth_replay *r = new_replay(cap);

    assert_int_equal(CHECK(r, cap, "A", T - 10, 1), ME_OK);
    assert_int_equal(CHECK(r, cap, "A", T - 10, 2), ME_OK);
    assert_int_equal(CHECK(r, cap, "B", T - 5, 1), ME_OK);
    assert_int_equal(CHECK(r, cap, "A", T - 5, 3), ME_OK);
    assert_int_equal(auth_replay_size(r), cap);

    /* Full: the oldest second (T-10, both of A's) goes, and A's floor is T-10. */
    assert_int_equal(CHECK(r, cap, "C", T, 1), ME_OK);
    assert_int_equal(auth_replay_size(r), 3);
    assert_int_equal(CHECK(r, cap, "A", T - 10, 1), ME_REPLAY);    /* evicted triple */
    assert_int_equal(CHECK(r, cap, "A", T - 10, 2), ME_REPLAY);
    assert_int_equal(CHECK(r, cap, "A", T - 10, 99), ME_REPLAY);   /* at the floor */
    assert_int_equal(CHECK(r, cap, "A", T - 200, 99), ME_REPLAY);  /* below it */
    assert_int_equal(CHECK(r, cap, "A", T - 5, 3), ME_REPLAY);     /* still held */
    assert_int_equal(auth_replay_size(r), 3);

    /* Above the floor is fine, and other apps never had a floor. */
    assert_int_equal(CHECK(r, cap, "A", T - 9, 7), ME_OK);
    assert_int_equal(auth_replay_size(r), cap);

    /* B at T-10 is older than all held: it is accepted, and B's floor
     * remembers it instead of an entry. */
    assert_int_equal(CHECK(r, cap, "B", T - 10, 2), ME_OK);
    assert_int_equal(auth_replay_size(r), cap);
    assert_int_equal(CHECK(r, cap, "B", T - 10, 2), ME_REPLAY);
    assert_int_equal(CHECK(r, cap, "B", T - 10, 3), ME_REPLAY);    /* at B's floor */
    assert_int_equal(CHECK(r, cap, "A", T - 9, 7), ME_REPLAY);     /* A's entry stayed */
    assert_int_equal(CHECK(r, cap, "C", T - 10, 2), ME_OK);

    /* D at T-9: second T-9 (A's nonce 7) goes; A's floor rises to T-9. */
    assert_int_equal(CHECK(r, cap, "D", T - 9, 1), ME_OK);
    assert_int_equal(CHECK(r, cap, "A", T - 9, 7), ME_REPLAY);
    assert_int_equal(CHECK(r, cap, "A", T - 9, 8), ME_REPLAY);
    assert_int_equal(CHECK(r, cap, "D", T - 9, 1), ME_REPLAY);
    assert_int_equal(CHECK(r, cap, "A", T - 8, 8), ME_OK);
    auth_replay_free(r);
}

/* Every entry in one second: evicting it covers the newcomer with its floor. */
static void test_replay_capacity_one_second(void **state)
{
    (void)state;
    const size_t cap = 3;
    auth_replay *r = new_replay(cap);
    assert_int_equal(CHECK(r, cap, "A", T, 1), ME_OK);
    assert_int_equal(CHECK(r, cap, "A", T, 2), ME_OK);
    assert_int_equal(CHECK(r, cap, "B", T, 1), ME_OK);
    assert_int_equal(CHECK(r, cap, "A", T, 3), ME_OK);
    assert_int_equal(auth_replay_size(r), 0);
    for (uint64_t n = 1; n <= 3; n++)
        assert_int_equal(CHECK(r, cap, "A", T, n), ME_REPLAY);
    assert_int_equal(CHECK(r, cap, "B", T, 1), ME_REPLAY);
    assert_int_equal(CHECK(r, cap, "C", T, 1), ME_OK);
    assert_int_equal(auth_replay_size(r), 1);
    assert_int_equal(CHECK(r, cap, "A", T + 1, 1), ME_OK);
    assert_int_equal(CHECK(r, cap, "A", T + 1, 1), ME_REPLAY);
    auth_replay_free(r);
}

static void test_replay_capacity_one(void **state)
{
    (void)state;
    auth_replay *r = new_replay(1);
    for (int64_t s = 0; s < 50; s++) {
        assert_int_equal(CHECK(r, 1, "A", T + s - 100, 1), ME_OK);
        assert_int_equal(CHECK(r, 1, "A", T + s - 100, 1), ME_REPLAY);
        assert_int_equal(auth_replay_size(r), 1);
    }
    auth_replay_free(r);
}

static void test_replay_expiry(void **state)
{
    (void)state;
    auth_replay *r = new_replay(16);
    assert_int_equal(check_at(r, 16, "A", T, 1, T), ME_OK);
    assert_int_equal(check_at(r, 16, "A", T + 1, 1, T), ME_OK);

    /* Remembered up to the edge of the window... */
    assert_int_equal(check_at(r, 16, "A", T, 1, T + 300), ME_REPLAY);
    assert_int_equal(auth_replay_size(r), 2);
    /* ...and past it, forgotten: the window refuses the timestamp itself. */
    assert_int_equal(check_at(r, 16, "A", T, 1, T + 301), ME_TS_SKEW);
    assert_int_equal(check_at(r, 16, "A", T + 1, 2, T + 301), ME_OK);
    assert_int_equal(auth_replay_size(r), 2);  /* (T+1,1) and (T+1,2) */
    assert_int_equal(check_at(r, 16, "A", T + 1, 1, T + 301), ME_REPLAY);
    assert_int_equal(check_at(r, 16, "A", T + 400, 1, T + 400), ME_OK);
    assert_int_equal(auth_replay_size(r), 1);

    /* A jump far ahead empties the memory in one pass. */
    assert_int_equal(check_at(r, 16, "A", T + 100000, 1, T + 100000), ME_OK);
    assert_int_equal(auth_replay_size(r), 1);
    auth_replay_free(r);
}

/* Floors expire like entries: once a floor is out of the window, a new app
 * floor can be created without the old one in the way. */
static void test_replay_floor_expiry(void **state)
{
    (void)state;
    const size_t cap = 2;
    auth_replay *r = new_replay(cap);
    assert_int_equal(check_at(r, cap, "A", T - 100, 1, T), ME_OK);
    assert_int_equal(check_at(r, cap, "B", T, 1, T), ME_OK);
    assert_int_equal(check_at(r, cap, "B", T, 2, T), ME_OK);   /* A's floor: T-100 */
    assert_int_equal(check_at(r, cap, "A", T - 100, 2, T), ME_REPLAY);
    assert_int_equal(check_at(r, cap, "A", T - 99, 2, T), ME_OK);
    /* Much later the old floor is outside the window and harmless. */
    assert_int_equal(check_at(r, cap, "A", T + 1000, 1, T + 1000), ME_OK);
    assert_int_equal(check_at(r, cap, "A", T + 1000, 1, T + 1000), ME_REPLAY);
    assert_int_equal(check_at(r, cap, "A", T + 999, 1, T + 1000), ME_OK);
    auth_replay_free(r);
}

/* The server clock stepping back by more than the ring covers: a request that
 * cannot be remembered is refused rather than accepted. */
static void test_replay_clock_back(void **state)
{
    (void)state;
    auth_replay *r = new_replay(16);
    assert_int_equal(check_at(r, 16, "A", T, 1, T), ME_OK);
    assert_int_equal(check_at(r, 16, "A", T - 1024, 1, T - 1024), ME_REPLAY);
    assert_int_equal(check_at(r, 16, "A", T - 1023, 1, T - 1024), ME_OK);
    assert_int_equal(auth_replay_size(r), 2);
    assert_int_equal(check_at(r, 16, "A", T, 1, T), ME_REPLAY);
    assert_int_equal(auth_replay_size(r), 1);
    auth_replay_free(r);
}

static void test_replay_bad_args(void **state)
{
    (void)state;
    auth_replay *r = NULL;
    assert_int_equal(auth_replay_new(0, &r), -1);
    assert_null(r);
    assert_int_equal(auth_replay_new(1, NULL), -1);

    r = new_replay(4);
    assert_int_equal(auth_replay_check(r, NULL, T, 1, T), ME_INVALID);
    assert_int_equal(auth_replay_check(r, "123456789012345678901234567890123", T, 1, T),
                     ME_INVALID);
    assert_int_equal(auth_replay_check(r, "12345678901234567890123456789012", T, 1, T), ME_OK);
    assert_int_equal(auth_replay_check(r, "A", T - 301, 1, T), ME_TS_SKEW);
    assert_int_equal(auth_replay_check(r, "A", T + 301, 1, T), ME_TS_SKEW);
    assert_int_equal(auth_replay_check(r, "A", INT64_MAX, 1, T), ME_TS_SKEW);
    assert_int_equal(auth_replay_check(r, "A", INT64_MIN, 1, T), ME_TS_SKEW);
    assert_int_equal(auth_replay_check(r, "A", T, 1, INT64_MAX), ME_INTERNAL);
    assert_int_equal(auth_replay_size(r), 1);
    assert_int_equal(auth_replay_check(NULL, "A", T, 1, T), ME_INVALID);
    assert_int_equal(auth_replay_size(NULL), 0);
    auth_replay_free(r);
    auth_replay_free(NULL);
}

/* ---- replay memory under churn: never a replay accepted -------------------- */

#define CHURN_NONCES 16
#define CHURN_STEPS 4000
#define CHURN_SPAN (CHURN_STEPS + 2 * AUTH_WINDOW + 1)

static uint64_t rng_next(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

/* How far behind now a request's timestamp is. Realistic: mostly within a
 * couple of seconds, some late by up to the window, a few slightly early.
 * Spread: a fifth anywhere in the window, early ones included, which fills the
 * memory with entries that live up to twice the window. */
static int64_t churn_lag(uint64_t *rng, bool spread)
{
    uint64_t x = rng_next(rng) % 100;
    if (x < 80)
        return (int64_t)(x % 3);
    if (spread)
        return (int64_t)(rng_next(rng) % (2 * AUTH_WINDOW + 1)) - AUTH_WINDOW;
    if (x < 98)
        return (int64_t)(rng_next(rng) % (AUTH_WINDOW + 1));
    return -(int64_t)(rng_next(rng) % 6);
}

/* Random traffic against a reference of every accepted triple: none may be
 * accepted twice, whatever the pressure. */
static void churn(size_t cap, int apps, bool spread, int *accepted, int *refused)
{
    auth_replay *r = new_replay(cap);
    unsigned char *seen = calloc((size_t)apps * CHURN_NONCES * CHURN_SPAN, 1);
    assert_non_null(seen);
    uint64_t rng = 0x9e3779b97f4a7c15ULL;
    const int64_t base = T - AUTH_WINDOW;
    *accepted = *refused = 0;

    for (int step = 0; step < CHURN_STEPS; step++) {
        int64_t now = T + step / 4;
        for (int k = 0; k < 8; k++) {
            int app = (int)(rng_next(&rng) % (uint64_t)apps);
            int nonce = (int)(rng_next(&rng) % CHURN_NONCES);
            int64_t ts = now - churn_lag(&rng, spread);
            char name[16];
            snprintf(name, sizeof name, "app%d", app);
            meetd_err rc = check_at(r, cap, name, ts, (uint64_t)nonce + 1, now);
            size_t idx = ((size_t)app * CHURN_NONCES + (size_t)nonce) * CHURN_SPAN +
                         (size_t)(ts - base);
            if (rc == ME_OK) {
                if (seen[idx]) {
                    free(seen);
                    auth_replay_free(r);
                    fail_msg("replay accepted: app%d ts %lld nonce %d", app, (long long)ts,
                             nonce + 1);
                }
                seen[idx] = 1;
                (*accepted)++;
            } else {
                assert_int_equal(rc, ME_REPLAY);
                (*refused)++;
            }
        }
    }
    free(seen);
    auth_replay_free(r);
}

/* Far too small for the traffic, and more apps than the floor table holds, so
 * the global floor comes into play: safety only. */
static void test_replay_churn_overloaded(void **state)
{
    (void)state;
    int accepted, refused;
    churn(8, 64, true, &accepted, &refused);
    assert_true(accepted > 0);
    assert_true(refused > 0);
}

/* Room for several seconds of realistic traffic: a fresh request is refused
 * when its timestamp is older than what the memory holds (the late fifth),
 * or when it repeats a triple (only 16 nonces here). */
static void test_replay_churn_moderate(void **state)
{
    (void)state;
    int accepted, refused;
    churn(256, 64, false, &accepted, &refused);
    assert_true(accepted > CHURN_STEPS * 8 * 3 / 4);
    assert_true(refused > 0);
}

/* ---- replay memory, threads ------------------------------------------------ */

#define THREADS 8
#define PER_THREAD 2000

typedef struct worker {
    pthread_t tid;
    auth_replay *r;
    pthread_barrier_t *start;
    int id;
    bool shared_nonces;     /* every thread the same triples */
    int ok, replay, other;
} worker;

static void *worker_run(void *arg)
{
    worker *w = arg;
    pthread_barrier_wait(w->start);
    for (int k = 0; k < PER_THREAD; k++) {
        uint64_t nonce = w->shared_nonces ? (uint64_t)k + 1 : (uint64_t)w->id * 1000000 + k + 1;
        const char *app = (k % 3 == 0) ? "A" : (k % 3 == 1) ? "B" : "C";
        meetd_err rc = auth_replay_check(w->r, app, T - (k % 50), nonce, T);
        if (rc == ME_OK)
            w->ok++;
        else if (rc == ME_REPLAY)
            w->replay++;
        else
            w->other++;
    }
    return NULL;
}

static void run_workers(auth_replay *r, bool shared, int *ok, int *replay)
{
    worker w[THREADS];
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (worker){.r = r, .start = &start, .id = i, .shared_nonces = shared};
        assert_int_equal(pthread_create(&w[i].tid, NULL, worker_run, &w[i]), 0);
    }
    *ok = *replay = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(w[i].tid, NULL), 0);
        assert_int_equal(w[i].other, 0);
        *ok += w[i].ok;
        *replay += w[i].replay;
    }
    pthread_barrier_destroy(&start);
}

static void test_replay_threads_distinct(void **state)
{
    (void)state;
    auth_replay *r = new_replay(THREADS * PER_THREAD);
    int ok, replay;
    run_workers(r, false, &ok, &replay);
    assert_int_equal(ok, THREADS * PER_THREAD);
    assert_int_equal(replay, 0);
    assert_int_equal(auth_replay_size(r), THREADS * PER_THREAD);

    run_workers(r, false, &ok, &replay);
    assert_int_equal(ok, 0);
    assert_int_equal(replay, THREADS * PER_THREAD);
    assert_int_equal(auth_replay_size(r), THREADS * PER_THREAD);
    auth_replay_free(r);
}

/* All threads race on the same triples: each is accepted exactly once. */
static void test_replay_threads_same(void **state)
{
    (void)state;
    auth_replay *r = new_replay(PER_THREAD);
    int ok, replay;
    run_workers(r, true, &ok, &replay);
    assert_int_equal(ok, PER_THREAD);
    assert_int_equal(replay, (THREADS - 1) * PER_THREAD);
    assert_int_equal(auth_replay_size(r), PER_THREAD);
    auth_replay_free(r);
}

/* ---- rate limiter ------------------------------------------------------------ */

static int allow_count(auth_ratelimit *rl, const char *app, int64_t now_ms, int tries)
{
    int n = 0;
    for (int i = 0; i < tries; i++)
        n += auth_ratelimit_allow(rl, app, now_ms);
    return n;
}

static void test_ratelimit_burst_and_refill(void **state)
{
    (void)state;
    auth_ratelimit *rl = NULL;
    assert_int_equal(auth_ratelimit_new(2, 3, &rl), 0);
    const int64_t t0 = 5000000;

    assert_int_equal(allow_count(rl, "A", t0, 10), 3);     /* the burst, then no */
    assert_false(auth_ratelimit_allow(rl, "A", t0 + 499));  /* half a token */
    assert_true(auth_ratelimit_allow(rl, "A", t0 + 500));   /* one token per 500 ms */
    assert_false(auth_ratelimit_allow(rl, "A", t0 + 500));
    assert_int_equal(allow_count(rl, "A", t0 + 1500, 10), 2);

    /* Another app has its own bucket. */
    assert_int_equal(allow_count(rl, "B", t0 + 1500, 10), 3);

    /* A long pause refills to the burst, no further. */
    assert_int_equal(allow_count(rl, "A", t0 + 60000, 10), 3);
    /* A clock that seems to go back gives nothing. */
    assert_int_equal(allow_count(rl, "A", t0, 10), 0);
    assert_int_equal(allow_count(rl, "A", t0 + 60499, 10), 0);
    assert_int_equal(allow_count(rl, "A", t0 + 60500, 10), 1);
    auth_ratelimit_free(rl);
}

static void test_ratelimit_slow_rate(void **state)
{
    (void)state;
    auth_ratelimit *rl = NULL;
    assert_int_equal(auth_ratelimit_new(0.5, 1, &rl), 0);
    assert_true(auth_ratelimit_allow(rl, "A", 0));
    assert_false(auth_ratelimit_allow(rl, "A", 1999));
    assert_true(auth_ratelimit_allow(rl, "A", 2000));
    assert_false(auth_ratelimit_allow(rl, "A", 2000));
    auth_ratelimit_free(rl);
}

/* Many apps, each once. With rate 1, buckets refill within a second and are
 * dropped as they do; with a rate so slow that none refills, the hard bound on
 * buckets forgets the least recently used. Either way a bucket in use is kept. */
static void many_apps(double rate, int64_t recheck_ms)
{
    auth_ratelimit *rl = NULL;
    assert_int_equal(auth_ratelimit_new(rate, 1, &rl), 0);
    char name[32];
    for (int i = 0; i < 100000; i++) {
        snprintf(name, sizeof name, "app-%d", i);
        assert_true(auth_ratelimit_allow(rl, name, i / 10));
    }
    assert_false(auth_ratelimit_allow(rl, name, 10000));
    assert_false(auth_ratelimit_allow(rl, "app-99990", 10000));
    assert_true(auth_ratelimit_allow(rl, name, recheck_ms));
    auth_ratelimit_free(rl);
}

static void test_ratelimit_many_apps(void **state)
{
    (void)state;
    many_apps(1, 11000);
    many_apps(0.001, 10000 + 1000000);
}

static void test_ratelimit_rate_units(void **state)
{
    (void)state;
    /* A request every four seconds. */
    auth_ratelimit *rl = NULL;
    assert_int_equal(auth_ratelimit_new(0.25, 2, &rl), 0);
    assert_int_equal(allow_count(rl, "A", 0, 5), 2);
    assert_false(auth_ratelimit_allow(rl, "A", 3999));
    assert_true(auth_ratelimit_allow(rl, "A", 4000));
    assert_false(auth_ratelimit_allow(rl, "A", 4000));
    /* Many tiny steps add up to exactly what one step gives. */
    for (int64_t t = 4001; t < 8000; t++)
        assert_false(auth_ratelimit_allow(rl, "A", t));
    assert_true(auth_ratelimit_allow(rl, "A", 8000));
    auth_ratelimit_free(rl);

    /* A third of a request a second is kept to a millionth of a request a
     * second: the token is there within a millisecond of 3 s. */
    assert_int_equal(auth_ratelimit_new(1.0 / 3, 1, &rl), 0);
    assert_true(auth_ratelimit_allow(rl, "A", 0));
    assert_false(auth_ratelimit_allow(rl, "A", 2999));
    assert_true(auth_ratelimit_allow(rl, "A", 3001));
    auth_ratelimit_free(rl);
}

/* A shared bucket as the store keeps it, without its refill: `left` whole
 * tokens; each take is counted; fail makes it unreachable. */
typedef struct fake_bucket {
    int64_t left;
    int takes;
    int64_t last_want;
    bool fail;
} fake_bucket;

static int fake_take(void *arg, const char *app_id, int64_t want, int64_t *granted)
{
    (void)app_id;
    fake_bucket *b = arg;
    b->takes++;
    b->last_want = want;
    if (b->fail)
        return -1;
    *granted = b->left < want ? b->left : want;
    b->left -= *granted;
    return 0;
}

static void test_ratelimit_shared(void **state)
{
    (void)state;
    fake_bucket fb = {.left = 7};
    auth_ratelimit *rl = NULL;
    /* Rate 40 a second, chunks of 2: a chunk refills in 50 ms. */
    assert_int_equal(auth_ratelimit_new_shared(40, 40, 2, fake_take, &fb, &rl), 0);
    /* The node holds nothing of its own: what it admits is what it took,
     * two at a time, and the bucket's last odd token. */
    assert_int_equal(allow_count(rl, "A", 1000, 10), 7);
    assert_int_equal(fb.left, 0);
    assert_int_equal(fb.last_want, 2);
    assert_int_equal(fb.takes, 5);          /* 2 + 2 + 2 + 1, then empty */
    /* Refused: not asked again until a chunk could have refilled. */
    assert_false(auth_ratelimit_allow(rl, "A", 1049));
    assert_int_equal(fb.takes, 5);
    fb.left = 3;
    assert_int_equal(allow_count(rl, "A", 1050, 10), 3);
    assert_int_equal(fb.takes, 8);          /* 2 + 1, then empty */
    /* Unreachable: admitted (the store's own failure answers). */
    fb.fail = true;
    assert_true(auth_ratelimit_allow(rl, "A", 5000));
    auth_ratelimit_free(rl);
    /* Bad arguments. */
    assert_int_equal(auth_ratelimit_new_shared(40, 40, 0, fake_take, &fb, &rl), -1);
    assert_int_equal(auth_ratelimit_new_shared(40, 40, 2, NULL, &fb, &rl), -1);
}

typedef struct rl_worker {
    pthread_t tid;
    auth_ratelimit *rl;
    pthread_barrier_t *start;
    int allowed;
} rl_worker;

#define RL_APPS 200
#define RL_BURST 5

/* Every thread asks for every app, so buckets are created, used and dropped
 * concurrently; each app must still allow exactly its burst in total. */
static void *rl_worker_run(void *arg)
{
    rl_worker *w = arg;
    char name[16];
    pthread_barrier_wait(w->start);
    for (int round = 0; round < 2 * RL_BURST; round++) {
        for (int app = 0; app < RL_APPS; app++) {
            snprintf(name, sizeof name, "app-%d", app);
            w->allowed += auth_ratelimit_allow(w->rl, name, 1000);
        }
    }
    return NULL;
}

static void test_ratelimit_threads(void **state)
{
    (void)state;
    auth_ratelimit *rl = NULL;
    assert_int_equal(auth_ratelimit_new(0.001, RL_BURST, &rl), 0);
    rl_worker w[THREADS];
    pthread_barrier_t start;
    assert_int_equal(pthread_barrier_init(&start, NULL, THREADS), 0);
    for (int i = 0; i < THREADS; i++) {
        w[i] = (rl_worker){.rl = rl, .start = &start};
        assert_int_equal(pthread_create(&w[i].tid, NULL, rl_worker_run, &w[i]), 0);
    }
    int total = 0;
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_join(w[i].tid, NULL), 0);
        total += w[i].allowed;
    }
    pthread_barrier_destroy(&start);
    assert_int_equal(total, RL_APPS * RL_BURST);
    auth_ratelimit_free(rl);
}

static void test_ratelimit_bad_args(void **state)
{
    (void)state;
    auth_ratelimit *rl = (auth_ratelimit *)&rl;
    assert_int_equal(auth_ratelimit_new(0, 1, &rl), -1);
    assert_null(rl);
    assert_int_equal(auth_ratelimit_new(-1, 1, &rl), -1);
    assert_int_equal(auth_ratelimit_new(1, 0.5, &rl), -1);
    assert_int_equal(auth_ratelimit_new(NAN, 1, &rl), -1);
    assert_int_equal(auth_ratelimit_new(1, INFINITY, &rl), -1);
    assert_int_equal(auth_ratelimit_new(1e-7, 1, &rl), -1);     /* below the unit */
    assert_int_equal(auth_ratelimit_new(1, 2e9, &rl), -1);
    assert_int_equal(auth_ratelimit_new(2e9, 1, &rl), -1);
    assert_int_equal(auth_ratelimit_new(1, 1, NULL), -1);
    assert_false(auth_ratelimit_allow(NULL, "A", 0));
    auth_ratelimit_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_replay_basic),
        cmocka_unit_test(test_replay_raised_floor),
        cmocka_unit_test(test_replay_per_app),
        cmocka_unit_test(test_replay_capacity),
        cmocka_unit_test(test_replay_capacity_one_second),
        cmocka_unit_test(test_replay_capacity_one),
        cmocka_unit_test(test_replay_expiry),
        cmocka_unit_test(test_replay_floor_expiry),
        cmocka_unit_test(test_replay_clock_back),
        cmocka_unit_test(test_replay_bad_args),
        cmocka_unit_test(test_replay_churn_overloaded),
        cmocka_unit_test(test_replay_churn_moderate),
        cmocka_unit_test(test_replay_threads_distinct),
        cmocka_unit_test(test_replay_threads_same),
        cmocka_unit_test(test_ratelimit_burst_and_refill),
        cmocka_unit_test(test_ratelimit_slow_rate),
        cmocka_unit_test(test_ratelimit_many_apps),
        cmocka_unit_test(test_ratelimit_rate_units),
        cmocka_unit_test(test_ratelimit_shared),
        cmocka_unit_test(test_ratelimit_threads),
        cmocka_unit_test(test_ratelimit_bad_args),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
