/* Presence in rows (store.h "presence: which node holds a device's
 * stream"): the nodes table and the two presence columns of devices.
 *
 * SQLite has one writer and one server per data directory (serve.lock), so
 * the contract's concurrency holds without locks: every write below runs
 * on the writer, one job after another, and store_presence_claim's check
 * and the caller's end are in the same job. The node rows still matter
 * here: a meetd that crashed left its row and its devices' stream_node
 * behind, and the restarted meetd (another node_id) ends those devices by
 * the dead-node rule, with grace from the dead row's last heartbeat. */
#include <assert.h>

#include "store/sqlite/lite.h"

/* Dead nodes converted per sweep; more wait for the next one (a second). */
#define LITE_DEAD_NODES_MAX 64

static store_rc presence_writable(store_tx *tx, const char *what)
{
    return lite_tx_conn(tx)->writable ? STORE_OK : lite_invalid(tx, what);
}

store_rc lite_node_register(store_tx *tx, const store_node *n)
{
    assert(n != NULL);
    if (presence_writable(tx, "store_node_register inside store_read") != STORE_OK)
        return STORE_ERROR;
    sqlite3_stmt *st = lite_stmt(tx, STMT_NODE_UPSERT);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, n->node_id);
    r |= LITE_BIND_STR(st, 2, n->address);
    r |= sqlite3_bind_int64(st, 3, n->started_at);
    r |= sqlite3_bind_int64(st, 4, n->heartbeat_at);
    return lite_exec(tx, STMT_NODE_UPSERT, st, r, NULL);
}

store_rc lite_node_heartbeat(store_tx *tx, int64_t node_id, int64_t now, int64_t dead_before)
{
    if (presence_writable(tx, "store_node_heartbeat inside store_read") != STORE_OK)
        return STORE_ERROR;
    sqlite3_stmt *st = lite_stmt(tx, STMT_NODE_HEARTBEAT);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, node_id);
    r |= sqlite3_bind_int64(st, 2, now);
    r |= sqlite3_bind_int64(st, 3, dead_before);
    int64_t n = 0;
    store_rc rc = lite_exec(tx, STMT_NODE_HEARTBEAT, st, r, &n);
    return rc == STORE_OK && n == 0 ? STORE_NOTFOUND : rc;
}

typedef struct node_walk {
    store_node_cb cb;
    void *arg;
} node_walk;

static store_rc node_row(sqlite3_stmt *st, void *ctx)
{
    node_walk *w = ctx;
    store_node n;
    memset(&n, 0, sizeof n);
    n.node_id = sqlite3_column_int64(st, 0);
    LITE_COL_STR(st, 1, n.address);
    n.started_at = sqlite3_column_int64(st, 2);
    n.heartbeat_at = sqlite3_column_int64(st, 3);
    return w->cb(&n, w->arg);
}

store_rc lite_node_list(store_tx *tx, store_node_cb cb, void *arg)
{
    assert(cb != NULL);
    sqlite3_stmt *st = lite_stmt(tx, STMT_NODE_LIST);
    if (st == NULL)
        return STORE_ERROR;
    node_walk w = {cb, arg};
    return lite_each(tx, STMT_NODE_LIST, st, 0, node_row, &w);
}

/* Every present device streaming on node_id: detached with grace_until. */
static store_rc detach_all(store_tx *tx, int64_t node_id, int64_t grace_until)
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_NODE_DETACH_ALL);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, node_id);
    r |= sqlite3_bind_int64(st, 2, grace_until);
    return lite_exec(tx, STMT_NODE_DETACH_ALL, st, r, NULL);
}

store_rc lite_node_stop(store_tx *tx, int64_t node_id, int64_t grace_until)
{
    if (presence_writable(tx, "store_node_stop inside store_read") != STORE_OK)
        return STORE_ERROR;
    store_rc rc = detach_all(tx, node_id, grace_until);
    if (rc != STORE_OK)
        return rc;
    sqlite3_stmt *st = lite_stmt(tx, STMT_NODE_DELETE);
    if (st == NULL)
        return STORE_ERROR;
    return lite_exec(tx, STMT_NODE_DELETE, st, sqlite3_bind_int64(st, 1, node_id), NULL);
}

store_rc lite_stream_attach(store_tx *tx, int64_t device_no, int64_t node_id,
                            int64_t expected, int64_t *from)
{
    if (presence_writable(tx, "store_stream_attach inside store_read") != STORE_OK)
        return STORE_ERROR;
    /* One writer: nothing comes between the read and the update. */
    sqlite3_stmt *st = lite_stmt(tx, STMT_STREAM_HOLDER);
    if (st == NULL)
        return STORE_ERROR;
    store_rc rc = lite_row(tx, STMT_STREAM_HOLDER, st, sqlite3_bind_int64(st, 1, device_no));
    int64_t holder = rc == STORE_OK ? sqlite3_column_int64(st, 0) : 0;
    lite_done(tx, STMT_STREAM_HOLDER, st);
    if (rc != STORE_OK)
        return rc;
    *from = holder != node_id ? holder : 0;
    if (holder != 0 && holder != expected && holder != node_id)
        return STORE_REFUSED;
    st = lite_stmt(tx, STMT_STREAM_ATTACH);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, device_no);
    r |= sqlite3_bind_int64(st, 2, node_id);
    return lite_exec(tx, STMT_STREAM_ATTACH, st, r, NULL);
}

store_rc lite_stream_detach(store_tx *tx, int64_t device_no, int64_t node_id,
                            int64_t grace_until)
{
    if (presence_writable(tx, "store_stream_detach inside store_read") != STORE_OK)
        return STORE_ERROR;
    sqlite3_stmt *st = lite_stmt(tx, STMT_STREAM_DETACH);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, device_no);
    r |= sqlite3_bind_int64(st, 2, node_id);
    r |= sqlite3_bind_int64(st, 3, grace_until);
    int64_t n = 0;
    store_rc rc = lite_exec(tx, STMT_STREAM_DETACH, st, r, &n);
    return rc == STORE_OK && n == 0 ? STORE_NOTFOUND : rc;
}

/* One writer: no job ever waits for another's rows. */
store_rc lite_meetings_lock_of_devices(store_tx *tx, const int64_t *device_nos, size_t n)
{
    (void)device_nos;
    (void)n;
    return presence_writable(tx, "store_meetings_lock_of_devices inside store_read") == STORE_OK
               ? STORE_OK
               : STORE_ERROR;
}

store_rc lite_stream_get(store_tx *tx, int64_t device_no, int64_t *stream_node,
                         int64_t *grace_until)
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_STREAM_GET);
    if (st == NULL)
        return STORE_ERROR;
    store_rc rc = lite_row(tx, STMT_STREAM_GET, st, sqlite3_bind_int64(st, 1, device_no));
    if (rc == STORE_OK) {
        *stream_node = sqlite3_column_int64(st, 0);   /* NULL reads as 0 */
        *grace_until = sqlite3_column_int64(st, 1);
    }
    lite_done(tx, STMT_STREAM_GET, st);
    return rc;
}

typedef struct dead_nodes {
    int n;
    int64_t node_id[LITE_DEAD_NODES_MAX];
    int64_t heartbeat_at[LITE_DEAD_NODES_MAX];
} dead_nodes;

static store_rc dead_row(sqlite3_stmt *st, void *ctx)
{
    dead_nodes *d = ctx;
    d->node_id[d->n] = sqlite3_column_int64(st, 0);
    d->heartbeat_at[d->n] = sqlite3_column_int64(st, 1);
    return ++d->n < LITE_DEAD_NODES_MAX ? STORE_OK : STORE_STOP;
}

typedef struct due_walk {
    store_device_no_cb cb;
    void *arg;
} due_walk;

static store_rc due_row(sqlite3_stmt *st, void *ctx)
{
    due_walk *w = ctx;
    return w->cb(sqlite3_column_int64(st, 0), w->arg);
}

store_rc lite_presence_due(store_tx *tx, int64_t now, int64_t dead_before, int64_t grace_ms,
                           int64_t forget_before, int limit, store_device_no_cb cb, void *arg)
{
    assert(cb != NULL);
    if (presence_writable(tx, "store_presence_due inside store_read") != STORE_OK)
        return STORE_ERROR;
    if (limit < 1 || limit > 1000)
        return lite_invalid(tx, "store_presence_due: limit out of 1..1000");
    if (forget_before > dead_before)
        return lite_invalid(tx, "store_presence_due: forget_before after dead_before");
    /* The dead nodes first, read whole before their devices are written. */
    dead_nodes dead = {0};
    sqlite3_stmt *st = lite_stmt(tx, STMT_DEAD_NODES);
    if (st == NULL)
        return STORE_ERROR;
    store_rc rc = lite_each(tx, STMT_DEAD_NODES, st, sqlite3_bind_int64(st, 1, dead_before),
                            dead_row, &dead);
    if (rc != STORE_OK && rc != STORE_STOP)
        return rc;
    for (int i = 0; i < dead.n; i++)
        if ((rc = detach_all(tx, dead.node_id[i], dead.heartbeat_at[i] + grace_ms)) != STORE_OK)
            return rc;
    /* Forgotten only once converted: a row older than forget_before is
     * older than dead_before too, and the oldest come first above. A
     * sweep that met more dead nodes than it converts forgets none. */
    if (dead.n < LITE_DEAD_NODES_MAX) {
        st = lite_stmt(tx, STMT_NODES_FORGET);
        if (st == NULL)
            return STORE_ERROR;
        rc = lite_exec(tx, STMT_NODES_FORGET, st, sqlite3_bind_int64(st, 1, forget_before), NULL);
        if (rc != STORE_OK)
            return rc;
    }
    st = lite_stmt(tx, STMT_PRESENCE_DUE);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, now);
    r |= sqlite3_bind_int(st, 2, limit);
    due_walk w = {cb, arg};
    return lite_each(tx, STMT_PRESENCE_DUE, st, r, due_row, &w);
}

store_rc lite_presence_claim(store_tx *tx, int64_t device_no, int64_t now)
{
    if (presence_writable(tx, "store_presence_claim inside store_read") != STORE_OK)
        return STORE_ERROR;
    sqlite3_stmt *st = lite_stmt(tx, STMT_PRESENCE_CLAIM);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, device_no);
    r |= sqlite3_bind_int64(st, 2, now);
    store_rc rc = lite_row(tx, STMT_PRESENCE_CLAIM, st, r);
    lite_done(tx, STMT_PRESENCE_CLAIM, st);
    return rc;
}
