/* Events (store.h "events: what happened, once"): one row per event, in the
 * transaction of the change it reports.
 *
 * SQLite has one writer, so rows are numbered in commit order without more
 * (store.h asks it only within a meeting); AUTOINCREMENT keeps a number
 * from coming back after the newest rows were pruned. Pruning is by age through events_by_time: a
 * range delete at the B-tree's left edge. */
#include <assert.h>

#include "store/sqlite/lite.h"

store_rc lite_event_insert(store_tx *tx, store_event *e, const char *payload)
{
    assert(e != NULL && payload != NULL);
    if (!lite_tx_conn(tx)->writable)
        return lite_invalid(tx, "store_event_insert inside store_read");
    sqlite3_stmt *st = lite_stmt(tx, STMT_EVENT_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, e->meeting_id);
    r |= e->device_no != 0 ? sqlite3_bind_int64(st, 2, e->device_no) : sqlite3_bind_null(st, 2);
    r |= LITE_BIND_STR(st, 3, e->type);
    r |= sqlite3_bind_text(st, 4, payload, -1, SQLITE_STATIC);
    r |= sqlite3_bind_int64(st, 5, e->created_at);
    store_rc rc = lite_exec(tx, STMT_EVENT_INSERT, st, r, NULL);
    if (rc == STORE_OK)
        e->event_no = sqlite3_last_insert_rowid(lite_tx_conn(tx)->db);
    return rc;
}

typedef struct events_walk {
    store_event_cb cb;
    void *arg;
} events_walk;

static store_rc events_row(sqlite3_stmt *st, void *ctx)
{
    events_walk *w = ctx;
    store_event e;
    store_row_event(LITE_ROW(st), 0, &e);
    const unsigned char *payload = sqlite3_column_text(st, 5);
    return w->cb(&e, payload != NULL ? (const char *)payload : "", w->arg);
}

store_rc lite_events_since(store_tx *tx, int64_t meeting_id, int64_t after, int limit,
                           store_event_cb cb, void *arg)
{
    assert(cb != NULL);
    if (limit < 1 || limit > 1000)
        return lite_invalid(tx, "store_events_since: limit out of 1..1000");
    sqlite3_stmt *st = lite_stmt(tx, STMT_EVENTS_SINCE);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, after);
    r |= sqlite3_bind_int(st, 2, limit);
    r |= sqlite3_bind_int64(st, 3, meeting_id);
    events_walk w = {cb, arg};
    return lite_each(tx, STMT_EVENTS_SINCE, st, r, events_row, &w);
}

/* In-process, a query per cursor costs no round trip: the one statement,
 * run again for each. */
store_rc lite_events_since_many(store_tx *tx, const store_cursor *cursors, size_t n, int limit,
                                store_event_cb cb, void *arg)
{
    assert(cb != NULL && (cursors != NULL || n == 0));
    if (n > STORE_CURSORS_MAX)
        return lite_invalid(tx, "store_events_since_many: more than STORE_CURSORS_MAX cursors");
    if (limit < 1 || limit > 1000)
        return lite_invalid(tx, "store_events_since_many: limit out of 1..1000");
    for (size_t i = 0; i < n; i++) {
        store_rc rc = lite_events_since(tx, cursors[i].meeting_id, cursors[i].after, limit, cb,
                                        arg);
        if (rc != STORE_OK)
            return rc;
    }
    return STORE_OK;
}

store_rc lite_events_last(store_tx *tx, int64_t meeting_id, int64_t *event_no)
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_EVENTS_LAST);
    if (st == NULL)
        return STORE_ERROR;
    return lite_count(tx, STMT_EVENTS_LAST, st, sqlite3_bind_int64(st, 1, meeting_id), event_no);
}

store_rc lite_events_prune(store_tx *tx, int64_t before)
{
    if (!lite_tx_conn(tx)->writable)
        return lite_invalid(tx, "store_events_prune inside store_read");
    sqlite3_stmt *st = lite_stmt(tx, STMT_EVENTS_PRUNE);
    if (st == NULL)
        return STORE_ERROR;
    return lite_exec(tx, STMT_EVENTS_PRUNE, st, sqlite3_bind_int64(st, 1, before), NULL);
}
