/* Presence in rows (store.h "presence: which node holds a device's
 * stream") on PostgreSQL, where several nodes sweep at once.
 *
 * Each UPDATE below re-checks its WHERE on the row it locks (READ
 * COMMITTED re-reads a row that changed while it waited), so a stream
 * attached on another node in between is neither detached by a late write
 * nor converted as a dead node's. The sweep takes what no other sweep
 * holds (SKIP LOCKED): dead nodes split between sweeps, and a device due is
 * only a candidate until store_presence_claim locks its row FOR UPDATE and
 * finds it still due; the claimer's transaction has read, and so locked,
 * the device's meeting first, the order every write takes. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/postgres/pgsql.h"

/* Dead nodes converted per sweep; more wait for the next one (a second). */
#define PGSQL_DEAD_NODES_MAX 64

static store_rc presence_writable(store_tx *tx, const char *what)
{
    return tx->writable ? STORE_OK : pgsql_invalid(tx, what);
}

store_rc pgsql_node_register(store_tx *tx, const store_node *n)
{
    assert(n != NULL);
    if (presence_writable(tx, "store_node_register inside store_read") != STORE_OK)
        return STORE_ERROR;
    pgsql_params p = {0};
    pgsql_p_int(&p, n->node_id);
    PGSQL_P_STR(&p, n->address);
    pgsql_p_int(&p, n->started_at);
    pgsql_p_int(&p, n->heartbeat_at);
    return pgsql_exec(tx, PGSQL_NODE_UPSERT, &p, NULL);
}

store_rc pgsql_node_heartbeat(store_tx *tx, int64_t node_id, int64_t now, int64_t dead_before)
{
    if (presence_writable(tx, "store_node_heartbeat inside store_read") != STORE_OK)
        return STORE_ERROR;
    pgsql_params p = {0};
    pgsql_p_int(&p, node_id);
    pgsql_p_int(&p, now);
    pgsql_p_int(&p, dead_before);
    return pgsql_exec_one(tx, PGSQL_NODE_HEARTBEAT, &p);
}

typedef struct node_walk {
    store_node_cb cb;
    void *arg;
} node_walk;

static store_rc node_row(const PGresult *r, int row, void *ctx)
{
    node_walk *w = ctx;
    store_node n;
    memset(&n, 0, sizeof n);
    n.node_id = pgsql_int(r, row, 0);
    PGSQL_STR(r, row, 1, n.address);
    n.started_at = pgsql_int(r, row, 2);
    n.heartbeat_at = pgsql_int(r, row, 3);
    return w->cb(&n, w->arg);
}

store_rc pgsql_node_list(store_tx *tx, store_node_cb cb, void *arg)
{
    assert(cb != NULL);
    node_walk w = {cb, arg};
    return pgsql_each(tx, PGSQL_NODE_LIST, &(pgsql_params){0}, node_row, &w);
}

/* Every present device streaming on node_id: detached with grace_until.
 * Their meetings are locked first, in order: the devices are of many
 * meetings, and a kickout holds its meeting before its devices' rows. */
static store_rc detach_all(store_tx *tx, int64_t node_id, int64_t grace_until)
{
    pgsql_params l = {0};
    pgsql_p_int(&l, node_id);
    int64_t locked = 0;
    store_rc rc = pgsql_count(tx, PGSQL_NODE_LOCK_MEETINGS, &l, &locked);
    if (rc != STORE_OK)
        return rc;
    pgsql_params p = {0};
    pgsql_p_int(&p, node_id);
    pgsql_p_int(&p, grace_until);
    return pgsql_exec(tx, PGSQL_NODE_DETACH_ALL, &p, NULL);
}

store_rc pgsql_node_stop(store_tx *tx, int64_t node_id, int64_t grace_until)
{
    if (presence_writable(tx, "store_node_stop inside store_read") != STORE_OK)
        return STORE_ERROR;
    store_rc rc = detach_all(tx, node_id, grace_until);
    if (rc != STORE_OK)
        return rc;
    pgsql_params p = {0};
    pgsql_p_int(&p, node_id);
    return pgsql_exec(tx, PGSQL_NODE_DELETE, &p, NULL);
}

store_rc pgsql_stream_attach(store_tx *tx, int64_t device_no, int64_t node_id,
                             int64_t expected, int64_t *from)
{
    if (presence_writable(tx, "store_stream_attach inside store_read") != STORE_OK)
        return STORE_ERROR;
    /* FOR UPDATE reads the row's newest committed version and holds it:
     * another node's attach waits for this commit, then reads ours. */
    pgsql_params p = {0};
    pgsql_p_int(&p, device_no);
    store_rc rc;
    PGresult *r = pgsql_one(tx, PGSQL_STREAM_HOLDER, &p, &rc);
    if (r == NULL)
        return rc;
    int64_t holder = pgsql_int(r, 0, 0);
    PQclear(r);
    *from = holder != node_id ? holder : 0;
    if (holder != 0 && holder != expected && holder != node_id)
        return STORE_REFUSED;
    pgsql_params q = {0};
    pgsql_p_int(&q, device_no);
    pgsql_p_int(&q, node_id);
    return pgsql_exec_one(tx, PGSQL_STREAM_ATTACH, &q);
}

store_rc pgsql_stream_detach(store_tx *tx, int64_t device_no, int64_t node_id,
                             int64_t grace_until)
{
    if (presence_writable(tx, "store_stream_detach inside store_read") != STORE_OK)
        return STORE_ERROR;
    pgsql_params p = {0};
    pgsql_p_int(&p, device_no);
    pgsql_p_int(&p, node_id);
    pgsql_p_int(&p, grace_until);
    return pgsql_exec_one(tx, PGSQL_STREAM_DETACH, &p);
}

store_rc pgsql_meetings_lock_of_devices(store_tx *tx, const int64_t *device_nos, size_t n)
{
    if (presence_writable(tx, "store_meetings_lock_of_devices inside store_read") != STORE_OK)
        return STORE_ERROR;
    if (n == 0)
        return STORE_OK;
    /* The array's text: "{1,2,...}", at most 20 characters and a comma a
     * number. */
    size_t cap = n * 21 + 3, at = 0;
    char *arr = malloc(cap);
    if (arr == NULL)
        return pgsql_invalid(tx, "store_meetings_lock_of_devices: out of memory");
    arr[at++] = '{';
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(arr + at, cap - at, i > 0 ? ",%lld" : "%lld",
                               (long long)device_nos[i]);
    snprintf(arr + at, cap - at, "}");
    pgsql_params p = {0};
    pgsql_p_text(&p, arr);
    int64_t locked = 0;
    store_rc rc = pgsql_count(tx, PGSQL_MEETINGS_LOCK_OF_DEVICES, &p, &locked);
    free(arr);
    return rc;
}

store_rc pgsql_stream_get(store_tx *tx, int64_t device_no, int64_t *stream_node,
                          int64_t *grace_until)
{
    pgsql_params p = {0};
    pgsql_p_int(&p, device_no);
    store_rc rc;
    PGresult *r = pgsql_one(tx, PGSQL_STREAM_GET, &p, &rc);
    if (r == NULL)
        return rc;
    *stream_node = pgsql_int(r, 0, 0);   /* NULL reads as 0 */
    *grace_until = pgsql_int(r, 0, 1);
    PQclear(r);
    return STORE_OK;
}

typedef struct due_walk {
    store_device_no_cb cb;
    void *arg;
} due_walk;

static store_rc due_row(const PGresult *r, int row, void *ctx)
{
    due_walk *w = ctx;
    return w->cb(pgsql_int(r, row, 0), w->arg);
}

store_rc pgsql_presence_due(store_tx *tx, int64_t now, int64_t dead_before, int64_t grace_ms,
                            int64_t forget_before, int limit, store_device_no_cb cb,
                            void *arg)
{
    assert(cb != NULL);
    if (presence_writable(tx, "store_presence_due inside store_read") != STORE_OK)
        return STORE_ERROR;
    if (limit < 1 || limit > 1000)
        return pgsql_invalid(tx, "store_presence_due: limit out of 1..1000");
    if (forget_before > dead_before)
        return pgsql_invalid(tx, "store_presence_due: forget_before after dead_before");
    /* The dead nodes first, read whole (and locked) before their devices
     * are written. */
    pgsql_params p = {0};
    pgsql_p_int(&p, dead_before);
    pgsql_p_int(&p, PGSQL_DEAD_NODES_MAX);
    store_rc rc;
    PGresult *r = pgsql_run(tx, PGSQL_DEAD_NODES, &p, &rc);
    if (r == NULL)
        return rc;
    int n = PQntuples(r);
    for (int i = 0; i < n && rc == STORE_OK; i++)
        rc = detach_all(tx, pgsql_int(r, i, 0), pgsql_int(r, i, 1) + grace_ms);
    PQclear(r);
    if (rc != STORE_OK)
        return rc;
    /* Forgotten only once converted: a sweep that met as many dead nodes
     * as it converts forgets none (the others may not be converted yet). */
    if (n < PGSQL_DEAD_NODES_MAX) {
        pgsql_params f = {0};
        pgsql_p_int(&f, forget_before);
        rc = pgsql_exec(tx, PGSQL_NODES_FORGET, &f, NULL);
        if (rc != STORE_OK)
            return rc;
    }
    pgsql_params d = {0};
    pgsql_p_int(&d, now);
    pgsql_p_int(&d, limit);
    due_walk w = {cb, arg};
    return pgsql_each(tx, PGSQL_PRESENCE_DUE, &d, due_row, &w);
}

store_rc pgsql_presence_claim(store_tx *tx, int64_t device_no, int64_t now)
{
    if (presence_writable(tx, "store_presence_claim inside store_read") != STORE_OK)
        return STORE_ERROR;
    pgsql_params p = {0};
    pgsql_p_int(&p, device_no);
    pgsql_p_int(&p, now);
    store_rc rc;
    PGresult *r = pgsql_one(tx, PGSQL_PRESENCE_CLAIM, &p, &rc);
    if (r != NULL)
        PQclear(r);
    return rc;
}
