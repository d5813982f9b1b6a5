#include "common/metrics.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

/* A latency histogram: upper bounds in microseconds (Prometheus wants
 * seconds), one count per bucket and one above the last. */
#define METRICS_BUCKETS 10
typedef struct metrics_hist {
    const char *name;
    const char *help;
    int64_t le_us[METRICS_BUCKETS];
    atomic_uint_fast64_t bucket[METRICS_BUCKETS + 1];
    atomic_uint_fast64_t sum_us;
} metrics_hist;

static metrics_hist metrics_requests = {
    "meetd_request_duration_seconds", "Time from request line to response.",
    {500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000}, {0}, 0};
/* A commit is mostly its sync: finer at the low end. */
static metrics_hist metrics_commits = {
    "meetd_store_commit_seconds",
    "Time the store's writer spent committing one group of writes (COMMIT, its sync included).",
    {100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, 1000000}, {0}, 0};
/* The writer's waits for a WAL restart (store/sqlite/ckpt.c): no commit
 * runs meanwhile, so under load each is a pause of every write. */
static metrics_hist metrics_wal_holds = {
    "meetd_store_wal_restart_wait_seconds",
    "Time the store's writer waited, before a group of writes, for the checkpointer's last "
    "pass of a WAL restart (two syncs and the pages copied since the pass before).",
    {100, 250, 500, 1000, 2500, 5000, 10000, 25000, 100000, 1000000}, {0}, 0};

static const struct {
    const char *name;
    const char *help;
} metrics_counter_info[METRICS__COUNT] = {
    [METRICS_KICKOUT_REMOVALS] = {"meetd_kickout_removals_total", "Devices removed by kickout."},
    [METRICS_JOINS] = {"meetd_joins_total", "Device sessions started."},
    [METRICS_LEAVES] = {"meetd_leaves_total",
                        "Device sessions ended by the device or its time-out."},
    [METRICS_STORE_COMMITS] = {"meetd_store_commits_total",
                               "Write transactions committed, each one group of writes."},
    [METRICS_STORE_WRITES] = {"meetd_store_writes_total",
                              "Writes committed in them (writes / commits = group size)."},
    [METRICS_STORE_CHECKPOINTS] = {"meetd_store_checkpoints_total",
                                   "WAL checkpoints run by the background checkpointer."},
    [METRICS_STORE_CHECKPOINTS_INLINE] = {
        "meetd_store_checkpoints_inline_total",
        "WAL checkpoints the writer ran itself because the WAL outgrew its hard limit."},
    [METRICS_STORE_WAL_RESTARTS] = {
        "meetd_store_wal_restarts_total",
        "Checkpoints that copied the whole WAL with the writer held, so that it starts over."},
    [METRICS_STORE_WAL_PAGES] = {
        "meetd_store_wal_pages_total",
        "Database pages the commits appended to the WAL (each is written and synced)."},
    [METRICS_REQUEST_WRITES] = {
        "meetd_request_writes_total",
        "Of the writes, the requests' (the API's and the operators'), counted at their commit."},
    [METRICS_PRESENCE_WRITES] = {
        "meetd_presence_writes_total",
        "Of the writes, meetd's own for presence: stream opens and closes, heartbeats, "
        "time-outs."},
    [METRICS_WEBHOOK_WRITES] = {
        "meetd_webhook_writes_total",
        "Of the writes, meetd's own for webhook deliveries: looks at the outbox (at least one "
        "a second on a shared store), outcomes, leases given back."},
    [METRICS_STORE_ROUND_TRIPS] = {
        "meetd_store_round_trips_total",
        "PostgreSQL: round trips the writer connections made to the server (divided by the "
        "writes, what a write costs in waits for the server)."},
};

static atomic_uint_fast64_t metrics_counters[METRICS__COUNT];
static atomic_uint_fast64_t metrics_status[6];       /* by first digit: 1xx..5xx */

void metrics_add(enum metrics_counter c, uint64_t n)
{
    assert(c != METRICS_STORE_WRITES);      /* derived, below */
    atomic_fetch_add_explicit(&metrics_counters[c], n, memory_order_relaxed);
}

/* Every counter read once; the writes' total is the sum of its origins as
 * read, never a counter of its own, so that one reading can never show a
 * write in the total and not in its origin's counter (or the reverse). */
static void metrics_snapshot(uint64_t out[METRICS__COUNT])
{
    for (int c = 0; c < METRICS__COUNT; c++)
        out[c] = (uint64_t)atomic_load_explicit(&metrics_counters[c], memory_order_relaxed);
    out[METRICS_STORE_WRITES] = out[METRICS_REQUEST_WRITES] + out[METRICS_PRESENCE_WRITES] +
                                out[METRICS_WEBHOOK_WRITES];
}

uint64_t metrics_get_counter(enum metrics_counter c)
{
    uint64_t v[METRICS__COUNT];
    metrics_snapshot(v);
    return v[c];
}

static void metrics_observe(metrics_hist *h, int64_t us)
{
    size_t b = 0;
    while (b < METRICS_BUCKETS && us > h->le_us[b])
        b++;
    atomic_fetch_add_explicit(&h->bucket[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_us, (uint64_t)(us > 0 ? us : 0), memory_order_relaxed);
}

void metrics_request(int status, int64_t latency_us)
{
    int cls = status / 100;
    if (cls < 1 || cls > 5)
        cls = 0;
    atomic_fetch_add_explicit(&metrics_status[cls], 1, memory_order_relaxed);
    metrics_observe(&metrics_requests, latency_us);
}

void metrics_commit(int64_t us)
{
    metrics_observe(&metrics_commits, us);
}

void metrics_wal_hold(int64_t us)
{
    metrics_observe(&metrics_wal_holds, us);
}

static unsigned long long metrics_get(atomic_uint_fast64_t *v)
{
    return (unsigned long long)atomic_load_explicit(v, memory_order_relaxed);
}

static void metrics_render_hist(FILE *f, metrics_hist *h)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s histogram\n", h->name, h->help, h->name);
    unsigned long long cum = 0;
    for (size_t b = 0; b <= METRICS_BUCKETS; b++) {
        cum += metrics_get(&h->bucket[b]);
        if (b < METRICS_BUCKETS)
            fprintf(f, "%s_bucket{le=\"%g\"} %llu\n", h->name, (double)h->le_us[b] / 1e6, cum);
        else
            fprintf(f, "%s_bucket{le=\"+Inf\"} %llu\n", h->name, cum);
    }
    fprintf(f, "%s_sum %.6f\n", h->name, (double)metrics_get(&h->sum_us) / 1e6);
    fprintf(f, "%s_count %llu\n", h->name, cum);
}

char *metrics_render(const metrics_gauges *g)
{
    char *page = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&page, &len);
    if (f == NULL)
        return NULL;
    fprintf(f, "# HELP meetd_requests_total HTTP requests answered, by status class.\n"
               "# TYPE meetd_requests_total counter\n");
    static const char *classes[] = {"other", "1xx", "2xx", "3xx", "4xx", "5xx"};
    for (int i = 0; i < 6; i++)
        fprintf(f, "meetd_requests_total{status=\"%s\"} %llu\n", classes[i],
                metrics_get(&metrics_status[i]));
    metrics_render_hist(f, &metrics_requests);
    metrics_render_hist(f, &metrics_commits);
    metrics_render_hist(f, &metrics_wal_holds);
    uint64_t counters[METRICS__COUNT];
    metrics_snapshot(counters);
    for (int c = 0; c < METRICS__COUNT; c++)
        fprintf(f, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", metrics_counter_info[c].name,
                metrics_counter_info[c].help, metrics_counter_info[c].name,
                metrics_counter_info[c].name, (unsigned long long)counters[c]);
    fprintf(f,
            "# HELP meetd_event_streams Open device event streams.\n"
            "# TYPE meetd_event_streams gauge\n"
            "meetd_event_streams %zu\n"
            "# HELP meetd_replay_entries (timestamp, nonce) pairs held by the replay memory.\n"
            "# TYPE meetd_replay_entries gauge\n"
            "meetd_replay_entries %zu\n"
            "# HELP meetd_writes_pending Requests whose write is queued or being committed.\n"
            "# TYPE meetd_writes_pending gauge\n"
            "meetd_writes_pending %zu\n",
            g->event_streams, g->replay_entries, g->writes_pending);
    if (fclose(f) != 0) {
        free(page);
        return NULL;
    }
    return page;
}
