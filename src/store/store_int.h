/* What store.c and queue.c share: the store every backend sits behind.
 * Private to src/store/ (and the store's own tests). */
#ifndef MEETD_STORE_STORE_INT_H
#define MEETD_STORE_STORE_INT_H

#include <pthread.h>
#include <stdbool.h>

#include "store/backend.h"

typedef struct store_job store_job;

struct store {
    const store_backend *be;
    void *impl;                     /* what be->open returned */

    /* queue.c: the writes waiting for a writer, and the writers: one
     * lane (queue) a writer, under one lock. */
    pthread_mutex_t queue_lock;
    struct store_lane *lanes;       /* n_lanes */
    int n_lanes;                    /* be->writers */
    bool writers_stopping;
    int n_writers;                  /* threads started */
    int batch_max;
    bool rerun_jobs;                /* store_options.rerun_jobs */
    pthread_t *writer_threads;
};

/* queue.c: starts be->writers(impl) writer threads / lets them finish what
 * is queued and joins them. */
store_rc store_queue_start(store *s);
void store_queue_stop(store *s);
/* Runs a caller's fn on tx (marking the thread as inside a fn, where
 * store_write is refused). A fn that returned STORE_OK after a primitive
 * failed gets the failure instead: STORE_UNAVAILABLE or STORE_ERROR. */
store_rc store_apply(store_tx *tx, store_fn fn, void *arg);

#endif
