/* Events (store.h "events: what happened, once") on PostgreSQL.
 *
 * The number is the sequence's, drawn by the INSERT while the transaction
 * holds its meeting's row (migration 9 in schema.c says why that orders a
 * meeting's rows by commit, and store.h why that is enough). Pruning is by
 * age; several nodes pruning at once delete the same rows, which costs a
 * wait on their row locks and nothing else. */
#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "store/postgres/pgsql.h"

store_rc pgsql_event_insert(store_tx *tx, store_event *e, const char *payload)
{
    assert(e != NULL && payload != NULL);
    if (!tx->writable)
        return pgsql_invalid(tx, "store_event_insert inside store_read");
    pgsql_params p = {0};
    pgsql_p_int(&p, e->meeting_id);
    pgsql_p_int(&p, e->device_no);          /* 0: none, NULL in the row */
    PGSQL_P_STR(&p, e->type);
    pgsql_p_str(&p, payload, strlen(payload) + 1);
    pgsql_p_int(&p, e->created_at);
    int64_t no = 0;
    store_rc rc = pgsql_insert(tx, PGSQL_EVENT_INSERT, &p, &no);
    if (rc == STORE_OK)
        e->event_no = no;
    return rc;
}

typedef struct events_walk {
    store_event_cb cb;
    void *arg;
} events_walk;

static store_rc events_row(const PGresult *r, int row, void *ctx)
{
    events_walk *w = ctx;
    store_event e;
    store_row_event(PGSQL_ROW(r, row), 0, &e);
    return w->cb(&e, PQgetvalue(r, row, 5), w->arg);
}

store_rc pgsql_events_since(store_tx *tx, int64_t meeting_id, int64_t after, int limit,
                            store_event_cb cb, void *arg)
{
    assert(cb != NULL);
    if (limit < 1 || limit > 1000)
        return pgsql_invalid(tx, "store_events_since: limit out of 1..1000");
    pgsql_params p = {0};
    pgsql_p_int(&p, meeting_id);
    pgsql_p_int(&p, after);
    pgsql_p_int(&p, limit);
    events_walk w = {cb, arg};
    return pgsql_each(tx, PGSQL_EVENTS_SINCE, &p, events_row, &w);
}

/* A bigint[] literal of n numbers, each picked from cursors by what (0:
 * meeting, 1: cursor), into buf (PGSQL_ARRAY_CAP). */
#define PGSQL_ARRAY_CAP (STORE_CURSORS_MAX * 21 + 3)
static void events_array(const store_cursor *cursors, size_t n, int what, char *buf)
{
    size_t at = 0;
    buf[at++] = '{';
    for (size_t i = 0; i < n; i++) {
        int64_t v = what == 0 ? cursors[i].meeting_id : cursors[i].after;
        at += (size_t)snprintf(buf + at, PGSQL_ARRAY_CAP - at, i > 0 ? ",%lld" : "%lld",
                               (long long)v);
    }
    snprintf(buf + at, PGSQL_ARRAY_CAP - at, "}");
}

store_rc pgsql_events_since_many(store_tx *tx, const store_cursor *cursors, size_t n,
                                 int limit, store_event_cb cb, void *arg)
{
    assert(cb != NULL && (cursors != NULL || n == 0));
    if (n > STORE_CURSORS_MAX)
        return pgsql_invalid(tx, "store_events_since_many: more than STORE_CURSORS_MAX cursors");
    if (limit < 1 || limit > 1000)
        return pgsql_invalid(tx, "store_events_since_many: limit out of 1..1000");
    if (n == 0)
        return STORE_OK;
    char meetings[PGSQL_ARRAY_CAP], afters[PGSQL_ARRAY_CAP];
    events_array(cursors, n, 0, meetings);
    events_array(cursors, n, 1, afters);
    pgsql_params p = {0};
    pgsql_p_text(&p, meetings);
    pgsql_p_text(&p, afters);
    pgsql_p_int(&p, limit);
    events_walk w = {cb, arg};
    return pgsql_each(tx, PGSQL_EVENTS_SINCE_MANY, &p, events_row, &w);
}

store_rc pgsql_events_last(store_tx *tx, int64_t meeting_id, int64_t *event_no)
{
    pgsql_params p = {0};
    pgsql_p_int(&p, meeting_id);
    return pgsql_count(tx, PGSQL_EVENTS_LAST, &p, event_no);
}

store_rc pgsql_events_prune(store_tx *tx, int64_t before)
{
    if (!tx->writable)
        return pgsql_invalid(tx, "store_events_prune inside store_read");
    pgsql_params p = {0};
    pgsql_p_int(&p, before);
    return pgsql_exec(tx, PGSQL_EVENTS_PRUNE, &p, NULL);
}
