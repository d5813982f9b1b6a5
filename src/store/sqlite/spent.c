/* Spent nonces: the (AppId, timestamp, nonce) of every write of a signed
 * request, so that a replay is refused after a restart or a crash too.
 *
 * The replay memory (auth/replay.c) lives in the process. A write's triple
 * is inserted here in the write's own transaction, which makes it exactly
 * as durable as the write: no extra sync, one row more in the commit. The
 * primary key leads with the timestamp, so the rows that have left the
 * window go with one range delete, and a new row lands at the B-tree's
 * right edge (timestamps are close to now). */
#include <assert.h>

#include "store/sqlite/lite.h"

/* Deletes what keep_from no longer needs. Rows are deleted once per new
 * second of keep_from, not per write: a busy second costs one range delete
 * of the rows of one second. A delete undone with its job is done again at
 * the next second, which takes those rows along. */
static store_rc spent_prune(store_tx *tx, int64_t keep_from)
{
    lite_conn *c = tx->conn;
    if (keep_from <= c->spent_pruned)
        return STORE_OK;
    sqlite3_stmt *st = lite_stmt(tx, STMT_SPENT_PRUNE);
    if (st == NULL)
        return STORE_ERROR;
    int rc = lite_exec(tx, STMT_SPENT_PRUNE, st, sqlite3_bind_int64(st, 1, keep_from), NULL);
    if (rc == STORE_OK)
        c->spent_pruned = keep_from;
    return rc;
}

store_rc lite_spend(store_tx *tx, const char *app_id, int64_t timestamp, uint64_t nonce,
                     int64_t keep_from)
{
    assert(app_id != NULL);
    if (!lite_tx_conn(tx)->writable)
        return lite_invalid(tx, "store_spend inside store_read");
    sqlite3_stmt *st = lite_stmt(tx, STMT_SPENT_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, timestamp);
    /* SQLite's integers are signed: a nonce of 2^63 or more is kept as its
     * two's complement, which is as unique as the nonce itself. */
    r |= sqlite3_bind_int64(st, 2, (int64_t)nonce);
    r |= lite_bind_str(st, 3, app_id, LITE_ARG_MAX);
    int rc = lite_exec(tx, STMT_SPENT_INSERT, st, r, NULL);
    if (rc != STORE_OK)
        return rc;
    return spent_prune(tx, keep_from);
}
