/* Process-wide counters for /metrics (Prometheus text format). Lock-free:
 * every request updates them. */
#ifndef MEETD_COMMON_METRICS_H
#define MEETD_COMMON_METRICS_H

#include <stddef.h>
#include <stdint.h>

enum metrics_counter {
    METRICS_KICKOUT_REMOVALS,   /* devices removed by kickout */
    METRICS_JOINS,              /* device sessions started */
    METRICS_LEAVES,             /* device sessions ended by the device (incl. time-outs) */
    METRICS_STORE_COMMITS,      /* write transactions committed (one a group) */
    METRICS_STORE_WRITES,       /* callers' writes run in them: the sum of the three
                                 * below, never added to itself */
    METRICS_STORE_CHECKPOINTS,  /* WAL checkpoints by the background checkpointer */
    METRICS_STORE_CHECKPOINTS_INLINE,  /* ... and by the writer, when the WAL grew too long */
    METRICS_STORE_WAL_RESTARTS, /* checkpoints that let the WAL start over */
    METRICS_STORE_WAL_PAGES,    /* pages the commits appended to the WAL */
    METRICS_REQUEST_WRITES,     /* of METRICS_STORE_WRITES, the clients' requests' */
    METRICS_PRESENCE_WRITES,    /* ... meetd's own for presence */
    METRICS_WEBHOOK_WRITES,     /* ... and its own for webhook deliveries */
    METRICS_STORE_ROUND_TRIPS,  /* PostgreSQL: the writers' round trips to the server */
    METRICS__COUNT
};

void metrics_add(enum metrics_counter c, uint64_t n);
uint64_t metrics_get_counter(enum metrics_counter c);
/* One finished request: its status and how long it took. */
void metrics_request(int status, int64_t latency_us);
/* One committed group of writes: how long its COMMIT took. */
void metrics_commit(int64_t us);
/* The store's writer waited this long for a WAL restart's last pass. */
void metrics_wal_hold(int64_t us);

/* Gauges read when the page is built. */
typedef struct metrics_gauges {
    size_t event_streams;
    size_t replay_entries;
    size_t writes_pending;      /* requests whose write waits for its commit */
} metrics_gauges;

/* The whole page; caller frees. NULL when out of memory. */
char *metrics_render(const metrics_gauges *g);

#endif
