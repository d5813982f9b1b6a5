/* The writes of every backend: the queue, the writer threads, group commit.
 *
 * Callers queue their fn (store_write_async; store_write waits for it). A
 * writer thread takes the queue, up to the backend's batch_max jobs, as one
 * batch: it runs every fn in one transaction, each inside its own
 * savepoint (so one fn's failure undoes only its own work), commits once —
 * one sync for the batch — and calls each caller back with its result.
 * While it commits, new callers queue up for the next batch, so the busier
 * the store the larger the groups. No caller hears of its work before it is
 * committed. Inside its savepoint a fn may undo part of its work alone
 * (store_try, one savepoint down): a write of a signed request keeps the
 * nonce it spent when the rules refuse the rest.
 *
 * The backend chooses how many writer threads run (backend.h: writers),
 * each with a connection of its own: SQLite admits one writer at a time
 * anyway and runs one; a server database (PostgreSQL) takes several
 * batches at once, row locks ordering the jobs that touch the same rows.
 * Each writer has a lane, a queue of its own. A write queued with a key
 * (store_write_async_key: the API's, its meeting's id) goes to the lane
 * the key hashes to, any other to lane 0: so the writes of one meeting
 * are run by one writer in the order queued, and their callers hear of
 * them in commit order, as with one writer (the device streams' events
 * of a meeting stay in order); different meetings commit in parallel, and
 * as no two writers take one meeting's row lock from its own writes,
 * writers seldom wait for each other (a keyless write that locks a
 * meeting may; a deadlock then is a rerun, below).
 * A batch the backend cannot serialise (STORE_RETRY: a serialization
 * failure or a deadlock) is rolled back and run again whole, every job's
 * fn from its start: store.h tells jobs to expect that. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "store/store_int.h"

/* How often a batch is run again after STORE_RETRY before its jobs fail. */
#define STORE_RETRY_MAX 8

typedef struct store_lane store_lane;
struct store_lane {
    pthread_cond_t cond;            /* its writer waits here when idle */
    store_job *head;                /* waiting for the next batch */
    store_job *tail;
    bool idle;                      /* waiting on cond: needs a signal */
};

struct store_job {
    store_fn fn;
    void *arg;
    store_done_fn done;
    void *done_arg;
    store_rc rc;
    int64_t key;                   /* store_write_async_key's; 0: none */
    store_origin origin;
    bool keys_changed;
    struct store_job *next;
};

/* Set while this thread runs a caller's fn: a fn calling store_write would
 * wait for its own batch forever, so that is refused. */
static _Thread_local bool store_in_fn;
/* Set on a writer thread: a done callback that called store_write would
 * wait for itself forever, so that is refused too. */
static _Thread_local bool store_on_writer;

static store_rc tx_failure(const store_tx *tx)
{
    return tx->unavailable ? STORE_UNAVAILABLE : STORE_ERROR;
}

store_rc store_apply(store_tx *tx, store_fn fn, void *arg)
{
    tx->failed = false;
    tx->unavailable = false;
    tx->retry = false;
    store_in_fn = true;
    store_rc rc = fn(tx, arg);
    store_in_fn = false;
    if (rc == STORE_OK && tx->failed) {
        log_error("store: a transaction ignored a store error: rolled back");
        rc = tx_failure(tx);
    }
    return rc;
}

/* Like a job's own savepoint, one level down. keys_changed goes back to
 * what it was: an app or key change undone here moves no stamp. */
store_rc store_try(store_tx *tx, store_fn fn, void *arg)
{
    bool keys_changed = tx->keys_changed;
    store_rc rc = tx->be->try_begin(tx);
    if (rc != STORE_OK)
        return rc;
    rc = fn(tx, arg);
    if (rc == STORE_OK && tx->failed)
        rc = tx_failure(tx);
    if (rc != STORE_OK)
        tx->keys_changed = keys_changed;
    store_rc end = tx->be->try_end(tx, rc == STORE_OK);
    if (end != STORE_OK)
        return rc < 0 ? rc : end;
    return rc;
}

/* One job of a batch, inside its savepoint. Returns STORE_OK when the
 * batch may go on (whatever the job's own result), else what ended the
 * transaction. */
static store_rc batch_job(store *s, void *conn, store_job *job)
{
    const store_backend *be = s->be;
    store_rc rc = be->job_begin(conn);
    if (rc != STORE_OK)
        return rc;
    store_tx tx = {.be = be, .impl = s->impl, .conn = conn, .writable = true};
    job->rc = store_apply(&tx, job->fn, job->arg);
    bool keep = job->rc == STORE_OK;
    job->keys_changed = keep && tx.keys_changed;
    rc = be->job_end(conn, &tx, keep);
    if (rc == STORE_OK && tx.retry)
        rc = STORE_RETRY;
    return rc;
}

static int key_cmp(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* The batch's distinct nonzero keys, ascending, into keys (room for every
 * job); returns how many. Without room (NULL: out of memory at the
 * writer's start) none: the meetings are then locked as the jobs read
 * them, which is right but may deadlock (a rerun). */
static size_t batch_keys(const store_job *batch, int64_t *keys)
{
    if (keys == NULL)
        return 0;
    size_t n = 0;
    for (const store_job *j = batch; j != NULL; j = j->next)
        if (j->key != 0)
            keys[n++] = j->key;
    qsort(keys, n, sizeof *keys, key_cmp);
    size_t d = 0;
    for (size_t i = 0; i < n; i++)
        if (d == 0 || keys[d - 1] != keys[i])
            keys[d++] = keys[i];
    return d;
}

/* Runs a batch in one transaction (again, after STORE_RETRY) and sets
 * every job's rc. keys: room for batch_max. */
static void batch_run(store *s, void *conn, store_job *batch, int64_t *keys)
{
    const store_backend *be = s->be;
    store_rc rc = STORE_ERROR;
    int64_t commit_us = 0;
    size_t n_keys = batch_keys(batch, keys);
    for (int attempt = 0;; attempt++) {
        for (store_job *j = batch; j != NULL; j = j->next) {
            j->rc = STORE_ERROR;
            j->keys_changed = false;
        }
        rc = be->batch_begin(conn, keys, n_keys);
        for (store_job *j = batch; rc == STORE_OK && j != NULL; j = j->next)
            rc = batch_job(s, conn, j);
        /* The tests' rerun_jobs: the first run is undone as a serialization
         * failure would undo it. */
        if (rc == STORE_OK && s->rerun_jobs && attempt == 0)
            rc = STORE_RETRY;
        if (rc == STORE_OK) {
            bool keys_changed = false;
            for (const store_job *j = batch; j != NULL; j = j->next)
                keys_changed |= j->keys_changed;
            int64_t t0 = clock_mono_us();
            rc = be->batch_commit(conn, keys_changed);
            commit_us = clock_mono_us() - t0;
        }
        be->batch_end(conn, rc == STORE_OK);
        if (rc != STORE_RETRY || attempt == STORE_RETRY_MAX)
            break;
    }
    if (rc == STORE_OK) {
        static const enum metrics_counter by_origin[STORE_ORIGIN__COUNT] = {
            [STORE_ORIGIN_REQUEST] = METRICS_REQUEST_WRITES,
            [STORE_ORIGIN_PRESENCE] = METRICS_PRESENCE_WRITES,
            [STORE_ORIGIN_WEBHOOK] = METRICS_WEBHOOK_WRITES,
        };
        uint64_t of[STORE_ORIGIN__COUNT] = {0};
        for (const store_job *j = batch; j != NULL; j = j->next)
            of[j->origin] += j->rc == STORE_OK;
        for (int o = 0; o < STORE_ORIGIN__COUNT; o++)
            if (of[o] > 0)
                metrics_add(by_origin[o], of[o]);
        metrics_add(METRICS_STORE_COMMITS, 1);
        metrics_commit(commit_us);
        return;
    }
    /* Nothing of this batch is committed: no job may say otherwise. */
    store_rc fail = rc == STORE_UNAVAILABLE ? STORE_UNAVAILABLE : STORE_ERROR;
    for (store_job *j = batch; j != NULL; j = j->next)
        if (j->rc == STORE_OK || j->rc == STORE_RETRY)
            j->rc = fail;
    log_error("store: a write transaction of %s failed%s",
              batch->next != NULL ? "a batch" : "one caller",
              rc == STORE_RETRY ? " (it could not be serialised)" : "");
}

/* Takes up to batch_max queued jobs of lane l (queue_lock held). */
static store_job *queue_take(store *s, store_lane *l)
{
    store_job *batch = l->head, *last = batch;
    int n = 1;
    for (; n < s->batch_max && last->next != NULL; n++)
        last = last->next;
    l->head = last->next;
    if (l->head == NULL)
        l->tail = NULL;
    last->next = NULL;
    return batch;
}

typedef struct writer_arg {
    store *s;
    int i;
} writer_arg;

/* A writer: takes whatever is queued as one batch, commits it, tells each
 * caller, and goes again. It sleeps only when the queue is empty, so a busy
 * store costs its callers no wake-ups. A connection the backend could not
 * open (a server out of reach) is asked for again at the next batch; the
 * batch meanwhile fails with what writer_open said. */
static void *writer_main(void *arg)
{
    writer_arg wa = *(writer_arg *)arg;
    free(arg);
    store *s = wa.s;
    const store_backend *be = s->be;
    store_on_writer = true;
    char name[16];
    snprintf(name, sizeof name, wa.i == 0 ? "store-writer" : "store-writer%d", wa.i);
    pthread_setname_np(pthread_self(), name);
    store_lane *lane = &s->lanes[wa.i];
    void *conn = NULL;
    store_rc open_rc = be->writer_open(s->impl, wa.i, &conn);
    int64_t *keys = malloc((size_t)s->batch_max * sizeof *keys);
    pthread_mutex_lock(&s->queue_lock);
    for (;;) {
        while (lane->head == NULL && !s->writers_stopping) {
            lane->idle = true;
            pthread_cond_wait(&lane->cond, &s->queue_lock);
            lane->idle = false;
        }
        if (lane->head == NULL)
            break;   /* stopping, and everything queued is done */
        store_job *batch = queue_take(s, lane);
        pthread_mutex_unlock(&s->queue_lock);
        if (conn == NULL)
            open_rc = be->writer_open(s->impl, wa.i, &conn);
        if (conn != NULL) {
            batch_run(s, conn, batch, keys);
        } else {
            for (store_job *j = batch; j != NULL; j = j->next)
                j->rc = open_rc == STORE_UNAVAILABLE ? STORE_UNAVAILABLE : STORE_ERROR;
        }
        for (store_job *j = batch, *next; j != NULL; j = next) {
            next = j->next;
            j->done(j->done_arg, j->rc);
            free(j);
        }
        pthread_mutex_lock(&s->queue_lock);
    }
    pthread_mutex_unlock(&s->queue_lock);
    free(keys);
    if (conn != NULL)
        be->writer_close(s->impl, conn);
    return NULL;
}

store_rc store_queue_start(store *s)
{
    int n = s->be->writers(s->impl);
    s->batch_max = s->be->batch_max(s->impl);
    assert(n >= 1 && s->batch_max >= 1);
    s->writer_threads = calloc((size_t)n, sizeof *s->writer_threads);
    s->lanes = calloc((size_t)n, sizeof *s->lanes);
    if (s->writer_threads == NULL || s->lanes == NULL) {
        log_error("store: out of memory");
        return STORE_ERROR;
    }
    for (int i = 0; i < n; i++)
        pthread_cond_init(&s->lanes[i].cond, NULL);
    s->n_lanes = n;
    for (int i = 0; i < n; i++) {
        writer_arg *wa = malloc(sizeof *wa);
        if (wa != NULL)
            *wa = (writer_arg){.s = s, .i = i};
        if (wa == NULL || pthread_create(&s->writer_threads[i], NULL, writer_main, wa) != 0) {
            free(wa);
            log_error("store: cannot start a writer thread");
            return STORE_ERROR;
        }
        s->n_writers++;
    }
    return STORE_OK;
}

void store_queue_stop(store *s)
{
    if (s->n_writers > 0) {
        pthread_mutex_lock(&s->queue_lock);
        s->writers_stopping = true;
        for (int i = 0; i < s->n_lanes; i++)
            pthread_cond_signal(&s->lanes[i].cond);
        pthread_mutex_unlock(&s->queue_lock);
        for (int i = 0; i < s->n_writers; i++)
            pthread_join(s->writer_threads[i], NULL);
        s->n_writers = 0;
    }
    free(s->writer_threads);
    s->writer_threads = NULL;
    for (int i = 0; i < s->n_lanes; i++) {
        assert(s->lanes[i].head == NULL);
        pthread_cond_destroy(&s->lanes[i].cond);
    }
    free(s->lanes);
    s->lanes = NULL;
    s->n_lanes = 0;
}

/* The lane of key: 0 for none, else spread by a multiplicative hash (a
 * meeting id's low bits need not be). */
static int lane_of(const store *s, int64_t key)
{
    if (key == 0 || s->n_lanes == 1)
        return 0;
    uint64_t x = (uint64_t)key * UINT64_C(0x9E3779B97F4A7C15);
    return (int)((x >> 32) % (uint64_t)s->n_lanes);
}

store_rc store_write_async(store *s, store_fn fn, void *arg, store_done_fn done, void *done_arg)
{
    return store_write_async_key(s, 0, fn, arg, done, done_arg);
}

static store_rc write_queue(store *s, int64_t key, store_origin origin, store_fn fn,
                            void *arg, store_done_fn done, void *done_arg)
{
    assert(s != NULL && fn != NULL && done != NULL);
    assert(origin >= 0 && origin < STORE_ORIGIN__COUNT);
    store_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        log_error("store: out of memory");
        return STORE_ERROR;
    }
    *job = (store_job){.fn = fn, .arg = arg, .done = done, .done_arg = done_arg,
                       .rc = STORE_ERROR, .key = key, .origin = origin};
    pthread_mutex_lock(&s->queue_lock);
    if (s->writers_stopping || s->n_writers == 0) {
        pthread_mutex_unlock(&s->queue_lock);
        free(job);
        log_error("store: a write after the store began to close");
        return STORE_ERROR;
    }
    store_lane *l = &s->lanes[lane_of(s, key)];
    if (l->tail != NULL)
        l->tail->next = job;
    else
        l->head = job;
    l->tail = job;
    if (l->idle)
        pthread_cond_signal(&l->cond);
    pthread_mutex_unlock(&s->queue_lock);
    return STORE_OK;
}

store_rc store_write_async_key(store *s, int64_t key, store_fn fn, void *arg,
                               store_done_fn done, void *done_arg)
{
    return write_queue(s, key, STORE_ORIGIN_REQUEST, fn, arg, done, done_arg);
}

/* store_write's caller, waiting on the stack for its job. */
typedef struct store_waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    store_rc rc;
} store_waiter;

static void waiter_done(void *arg, store_rc rc)
{
    store_waiter *w = arg;
    pthread_mutex_lock(&w->lock);
    w->rc = rc;
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

store_rc store_write(store *s, store_fn fn, void *arg)
{
    return store_write_as(s, STORE_ORIGIN_REQUEST, fn, arg);
}

store_rc store_write_as(store *s, store_origin origin, store_fn fn, void *arg)
{
    assert(s != NULL && fn != NULL);
    if (store_on_writer || store_in_fn) {
        log_error("store: store_write called from inside a store_fn or a done callback");
        return STORE_ERROR;
    }
    store_waiter w = {.rc = STORE_ERROR};
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    store_rc rc = STORE_ERROR;
    if (write_queue(s, 0, origin, fn, arg, waiter_done, &w) == STORE_OK) {
        pthread_mutex_lock(&w.lock);
        while (!w.done)
            pthread_cond_wait(&w.cond, &w.lock);
        pthread_mutex_unlock(&w.lock);
        rc = w.rc;
    }
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.lock);
    return rc;
}

int store_write_queue(store *s)
{
    /* Only tests ask: counting the list keeps the hot path free of it. */
    pthread_mutex_lock(&s->queue_lock);
    int n = 0;
    for (int i = 0; i < s->n_lanes; i++)
        for (const store_job *j = s->lanes[i].head; j != NULL; j = j->next)
            n++;
    pthread_mutex_unlock(&s->queue_lock);
    return n;
}
