/* The PostgreSQL backend: connections, transactions, statements, and the
 * table (backend.h) that plugs it into the store.
 *
 * Several meetd nodes share one database (docs/cluster.md). Each node runs
 * --pg-writers (PGSQL_WRITERS) writer threads (queue.c), each with a
 * connection of its own and its share of the meetings, and keeps a pool of
 * read connections. libpq connections are used by one thread at a time;
 * nothing here is shared between them but the pool.
 *
 * Round trips. What bounds a node's writes is less the server's work than
 * the writer waiting for it, statement after statement
 * (meetd_store_round_trips_total counts the waits). So a job's savepoints
 * are not sent on their own: they are deferred (pgsql_defer) and go ahead
 * of the job's next statement, or of COMMIT, in one libpq pipeline; and
 * statements that do not need each other's results go together
 * (pgsql_run_n: a meeting with its hosts and occurrences). In a pipeline
 * the server runs them one after the other, as it would have one round
 * trip each, and skips the rest after a failure.
 *
 * Writes. A batch of jobs is one transaction at READ COMMITTED, each job in
 * a savepoint (store_job), store_try one savepoint down (store_try). Jobs on
 * one meeting serialise on its row: in a write transaction store_meeting_get
 * reads the meeting FOR UPDATE, so a second job on that meeting, on this
 * node or another, waits there until the first commits and then reads what
 * it wrote (each statement of READ COMMITTED sees what committed before it
 * began). The batch takes its keyed jobs' meetings when it begins, in
 * ascending order (pgsql_batch_begin), so that two batches of the same
 * meetings never hold them in opposite orders. A serialization failure or
 * a deadlock that remains (40001, 40P01: a job that also locks a meeting
 * not its key) marks the job for a retry and queue.c runs the whole batch
 * again from its start. Unique keys decide
 * every race the rules do not see: a spent nonce, a user's identity in a
 * meeting, a present device, a generated id.
 *
 * Commit outcome. Each batch reads its transaction id when it begins. If
 * the connection is lost while COMMIT is under way, the commit may or may
 * not have happened: the writer connects again and asks pg_xact_status()
 * until the server says committed or aborted (or PGSQL_RESOLVE_MS pass), so
 * that a caller hears of success if and only if its write is there.
 *
 * Connection loss otherwise: the statement fails with STORE_UNAVAILABLE
 * (the caller answers that the store is out of reach), the connection is
 * dropped, and the next transaction on it connects again — at once the
 * first time, then no more often than an exponential backoff allows, so a
 * node whose database is down does not hammer it. A transaction that had
 * not sent anything yet when it found its connection dead (a server
 * restarted since the last batch) reconnects and goes on.
 *
 * Keys. SQLite's store counts key changes in a file mapped by every process
 * of the host. Nodes share no memory, and a key rotated by `meetd app
 * rotate-key --postgres` on another machine must be refused everywhere
 * once that command returns. So the stamp is a row, keys_version, that a
 * trigger moves in the transaction of every change to apps or keys, and
 * pgsql_keys_stamp reads it on a read connection at every call: one round
 * trip per signed request, in place of reading the key itself (the node's
 * key cache then answers until the row moves). A notification could tell
 * nodes sooner, but one can be missed or arrive after the command has
 * returned; the row cannot. When the row cannot be read the stamp is one
 * no read ever gives, so no cached key is used. */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "store/postgres/pgsql.h"

/* Writer connections of a node unless --pg-writers says otherwise. Each
 * commits batches of its own: while one waits for the server (a round
 * trip, a lock, a sync) the others go on. The queue gives each writer its
 * share of the meetings (queue.c), so that one meeting's callers still
 * hear of their commits in commit order, and writers of one node do not
 * wait for each other's meeting locks. */
#define PGSQL_WRITERS 4
/* Largest batch: bounds how long the first job of a batch waits, and how
 * much a retry runs again. */
#define PGSQL_BATCH_MAX 64
/* Read connections kept open; more concurrent readers wait for one. */
#define PGSQL_READERS_MAX 8
/* Reconnection backoff: first wait, and the most it grows to. */
#define PGSQL_BACKOFF_MIN_MS 100
#define PGSQL_BACKOFF_MAX_MS 5000
/* How long a writer tries to learn the outcome of a commit whose
 * connection was lost. */
#define PGSQL_RESOLVE_MS 30000

static const char *const stmt_sql[PGSQL__COUNT] = {
#define PGSQL_STMT_SQL(name, writes, sql) [PGSQL_##name] = sql,
    PGSQL_STATEMENTS(PGSQL_STMT_SQL)
#undef PGSQL_STMT_SQL
};

static const char *const stmt_name[PGSQL__COUNT] = {
#define PGSQL_STMT_NAME(name, writes, sql) [PGSQL_##name] = #name,
    PGSQL_STATEMENTS(PGSQL_STMT_NAME)
#undef PGSQL_STMT_NAME
};

static const bool stmt_writes[PGSQL__COUNT] = {
#define PGSQL_STMT_WRITES(name, writes, sql) [PGSQL_##name] = (writes) != 0,
    PGSQL_STATEMENTS(PGSQL_STMT_WRITES)
#undef PGSQL_STMT_WRITES
};

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* ---- connections ------------------------------------------------------- */

/* A writer's wait for the server, counted (meetd_store_round_trips_total):
 * what bounds a node's writes is how many of these a job costs, which a
 * loaded machine does not change. */
static void conn_trip(const pgsql_conn *c)
{
    if (c->writable)
        metrics_add(METRICS_STORE_ROUND_TRIPS, 1);
}

static void conn_drop(pgsql_conn *c)
{
    if (c->pg != NULL)
        PQfinish(c->pg);
    c->pg = NULL;
    memset(c->prepared, 0, sizeof c->prepared);
    c->n_defer = 0;
}

static bool conn_up(const pgsql_conn *c)
{
    return c->pg != NULL && PQstatus(c->pg) == CONNECTION_OK;
}

/* The server's notices reach meetd's log when they are warnings; a NOTICE
 * ("table already exists, skipping" at every start) is not news. */
static void conn_notice(void *arg, const PGresult *r)
{
    (void)arg;
    const char *sev = PQresultErrorField(r, PG_DIAG_SEVERITY_NONLOCALIZED);
    const char *msg = PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY);
    if (sev != NULL && strcmp(sev, "WARNING") == 0)
        log_error("store: postgres: server warning: %s", msg != NULL ? msg : "");
}

/* Connects now, whatever the backoff says. */
static store_rc conn_connect(pgsql_conn *c)
{
    conn_drop(c);
    /* application_name first: the operator's conninfo (expanded from
     * "dbname") may set its own. */
    const char *const keys[] = {"application_name", "dbname", NULL};
    const char *const vals[] = {"meetd", c->store->conninfo, NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    if (pg == NULL || PQstatus(pg) != CONNECTION_OK) {
        /* libpq's message names the host, never the password. */
        char msg[256];
        snprintf(msg, sizeof msg, "%s", pg != NULL ? PQerrorMessage(pg) : "out of memory");
        msg[strcspn(msg, "\n")] = '\0';
        log_error("store: postgres: cannot connect: %s", msg);
        PQfinish(pg);
        int64_t now = clock_mono_ms();
        c->backoff_ms = c->backoff_ms == 0 ? PGSQL_BACKOFF_MIN_MS
                        : c->backoff_ms * 2 > PGSQL_BACKOFF_MAX_MS ? PGSQL_BACKOFF_MAX_MS
                                                                   : c->backoff_ms * 2;
        c->retry_at_ms = now + c->backoff_ms;
        return STORE_UNAVAILABLE;
    }
    PQsetNoticeReceiver(pg, conn_notice, NULL);
    c->pg = pg;
    c->backoff_ms = 0;
    c->retry_at_ms = 0;
    /* NORMAL durability: a commit survives meetd, not the database
     * server's crash (store.h). */
    if (c->writable && c->store->durability == STORE_DURABLE_NORMAL &&
        pgsql_command(c, "SET synchronous_commit = off") != STORE_OK)
        return STORE_UNAVAILABLE;
    return STORE_OK;
}

store_rc pgsql_conn_ready(pgsql_conn *c)
{
    if (conn_up(c))
        return STORE_OK;
    if (c->retry_at_ms != 0 && clock_mono_ms() < c->retry_at_ms)
        return STORE_UNAVAILABLE;
    return conn_connect(c);
}

static pgsql_conn *conn_new(pgsql_store *s, bool writable)
{
    pgsql_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        log_error("store: out of memory");
        return NULL;
    }
    c->store = s;
    c->writable = writable;
    return c;
}

static void conn_free(pgsql_conn *c)
{
    if (c == NULL)
        return;
    conn_drop(c);
    free(c);
}

/* What a failed result means for the transaction. Logs the statement's
 * name, the SQLSTATE and the primary message (never a DETAIL, which may
 * quote values). */
static store_rc result_rc(PGconn *pg, const PGresult *r, const char *what)
{
    if (PQstatus(pg) != CONNECTION_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(pg));
        msg[strcspn(msg, "\n")] = '\0';
        log_error("store: postgres: %s: connection lost: %s", what, msg);
        return STORE_UNAVAILABLE;
    }
    const char *state = r != NULL ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    const char *msg = r != NULL ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    if (state != NULL && (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0)) {
        log_info("store: postgres: %s: %s (%s): the batch runs again", what,
                 msg != NULL ? msg : "", state);
        return STORE_RETRY;
    }
    /* The server going away (shutdown, terminated backend) may arrive as an
     * error before the connection is seen bad. */
    if (state != NULL && (strncmp(state, "08", 2) == 0 || strcmp(state, "57P01") == 0 ||
                          strcmp(state, "57P02") == 0 || strcmp(state, "57P03") == 0)) {
        log_error("store: postgres: %s: %s (%s)", what, msg != NULL ? msg : "", state);
        return STORE_UNAVAILABLE;
    }
    if (state != NULL && strcmp(state, "23505") == 0)
        return STORE_CONFLICT;
    log_error("store: postgres: %s: %s (%s)", what, msg != NULL ? msg : PQerrorMessage(pg),
              state != NULL ? state : "no SQLSTATE");
    return STORE_ERROR;
}

/* ---- pipelines ---------------------------------------------------------- */

/* One message of a pipeline: a command without parameters (sql), or the
 * preparation of statement id (prepare), or its execution with p. */
typedef struct pipe_msg {
    const char *sql;
    enum pgsql_stmt_id id;
    bool prepare;
    const pgsql_params *p;
    PGresult **out;          /* the result wanted, or NULL */
} pipe_msg;

#define PIPE_MSGS_MAX (PGSQL_DEFER_MAX + 2 * PGSQL_PIPE_MAX + 1)

static void stmt_label(enum pgsql_stmt_id id, char name[16])
{
    snprintf(name, 16, "m%d", (int)id);
}

/* Sends m[0..n) in one pipeline (libpq's pipeline mode) and waits for the
 * server once: the statements run one after the other, as they would one
 * round trip each, and each sees what those before it did. After the first
 * failure the server skips the rest (PGRES_PIPELINE_ABORTED) up to the
 * sync: the result is that failure's (logged), every out left NULL. A
 * connection lost on the way is dropped: STORE_UNAVAILABLE. */
static store_rc conn_pipeline(pgsql_conn *c, pipe_msg *m, int n)
{
    PGconn *pg = c->pg;
    conn_trip(c);
    bool sent = PQenterPipelineMode(pg) == 1;
    for (int i = 0; sent && i < n; i++) {
        char name[16];
        if (m[i].sql != NULL) {
            sent = PQsendQueryParams(pg, m[i].sql, 0, NULL, NULL, NULL, NULL, 0) == 1;
        } else if (m[i].prepare) {
            stmt_label(m[i].id, name);
            sent = PQsendPrepare(pg, name, stmt_sql[m[i].id], 0, NULL) == 1;
        } else {
            stmt_label(m[i].id, name);
            sent = PQsendQueryPrepared(pg, name, m[i].p->n, m[i].p->val, m[i].p->len,
                                       m[i].p->fmt, 0) == 1;
        }
    }
    sent = sent && PQpipelineSync(pg) == 1;
    store_rc rc = STORE_OK;
    bool broken = !sent;
    for (int i = 0; !broken && i < n; i++) {
        PGresult *r = PQgetResult(pg);
        if (r == NULL) {
            broken = true;
            break;
        }
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            if (m[i].prepare)
                c->prepared[m[i].id] = true;
            if (m[i].out != NULL) {
                *m[i].out = r;
                r = NULL;
            }
        } else if (st != PGRES_PIPELINE_ABORTED && rc == STORE_OK) {
            rc = result_rc(pg, r, m[i].sql != NULL ? m[i].sql : stmt_name[m[i].id]);
            if (rc == STORE_UNAVAILABLE)
                broken = true;
        }
        PQclear(r);
        /* Each result is followed by a NULL. */
        r = PQgetResult(pg);
        if (r != NULL) {
            PQclear(r);
            broken = true;
        }
    }
    if (!broken) {
        PGresult *r = PQgetResult(pg);
        broken = r == NULL || PQresultStatus(r) != PGRES_PIPELINE_SYNC;
        PQclear(r);
    }
    broken = broken || PQexitPipelineMode(pg) != 1;
    if (broken) {
        if (rc == STORE_OK || rc == STORE_UNAVAILABLE) {
            char msg[256];
            snprintf(msg, sizeof msg, "%s", PQerrorMessage(pg));
            msg[strcspn(msg, "\n")] = '\0';
            log_error("store: postgres: a pipeline of %d: connection lost: %s", n, msg);
        }
        rc = STORE_UNAVAILABLE;
        conn_drop(c);
    }
    if (rc != STORE_OK)
        for (int i = 0; i < n; i++)
            if (m[i].out != NULL) {
                PQclear(*m[i].out);
                *m[i].out = NULL;
            }
    return rc;
}

/* The deferred commands (pgsql_defer) as the head of a pipeline; taken off
 * c, as they are about to be sent. */
static int defer_take(pgsql_conn *c, pipe_msg *m)
{
    int n = c->n_defer;
    for (int i = 0; i < n; i++)
        m[i] = (pipe_msg){.sql = c->defer[i]};
    c->n_defer = 0;
    return n;
}

store_rc pgsql_defer(pgsql_conn *c, const char *sql)
{
    if (!conn_up(c))
        return STORE_UNAVAILABLE;
    if (c->n_defer == PGSQL_DEFER_MAX) {
        /* Never in the jobs' savepoint nesting; sent now rather than lost. */
        pipe_msg m[PGSQL_DEFER_MAX];
        int n = defer_take(c, m);
        if (conn_up(c))
            (void)conn_pipeline(c, m, n);
    }
    c->defer[c->n_defer++] = sql;
    return STORE_OK;
}

store_rc pgsql_command(pgsql_conn *c, const char *sql)
{
    /* A rollback undoes whatever the deferred commands would have done. */
    if (strcmp(sql, "ROLLBACK") == 0)
        c->n_defer = 0;
    if (!conn_up(c))
        return STORE_UNAVAILABLE;
    store_rc rc = STORE_OK;
    if (c->n_defer > 0) {
        pipe_msg m[PGSQL_DEFER_MAX + 1];
        int n = defer_take(c, m);
        m[n++] = (pipe_msg){.sql = sql};
        rc = conn_pipeline(c, m, n);
    } else {
        conn_trip(c);
        PGresult *r = PQexec(c->pg, sql);
        ExecStatusType st = PQresultStatus(r);
        if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK)
            rc = result_rc(c->pg, r, sql);
        PQclear(r);
        if (rc == STORE_UNAVAILABLE)
            conn_drop(c);
    }
    return rc == STORE_CONFLICT ? STORE_ERROR : rc;
}

/* Marks tx with a failure rc (not CONFLICT: the caller decides). */
static store_rc tx_fail(store_tx *tx, store_rc rc)
{
    tx->failed = true;
    if (rc == STORE_RETRY) {
        tx->retry = true;
        return STORE_ERROR;
    }
    if (rc == STORE_UNAVAILABLE) {
        tx->unavailable = true;
        conn_drop(tx->conn);
    }
    return rc;
}

store_rc pgsql_invalid(store_tx *tx, const char *what)
{
    log_error("store: postgres: %s", what);
    tx->failed = true;
    return STORE_ERROR;
}

store_rc pgsql_op_begin(store_tx *tx)
{
    pgsql_conn *c = tx->conn;
    store_rc rc = pgsql_defer(c, "SAVEPOINT store_op");
    if (rc != STORE_OK)
        return tx_fail(tx, rc);
    c->in_op++;
    return STORE_OK;
}

store_rc pgsql_op_end(store_tx *tx, store_rc rc)
{
    pgsql_conn *c = tx->conn;
    c->in_op--;
    store_rc end = STORE_OK;
    if (rc != STORE_OK)
        end = pgsql_defer(c, "ROLLBACK TO SAVEPOINT store_op");
    /* After ROLLBACK TO the savepoint is still open: release it either way. */
    if (end == STORE_OK)
        end = pgsql_defer(c, "RELEASE SAVEPOINT store_op");
    if (end != STORE_OK)
        return tx_fail(tx, end);
    return rc;
}

/* ---- statements -------------------------------------------------------- */

void pgsql_p_int(pgsql_params *p, int64_t v)
{
    assert(p->n < PGSQL_PARAMS_MAX);
    int i = p->n++;
    snprintf(p->num[i], sizeof p->num[i], "%lld", (long long)v);
    p->val[i] = p->num[i];
    p->len[i] = 0;
    p->fmt[i] = 0;
}

void pgsql_p_double(pgsql_params *p, double v)
{
    assert(p->n < PGSQL_PARAMS_MAX);
    int i = p->n++;
    snprintf(p->num[i], sizeof p->num[i], "%.15g", v);
    p->val[i] = p->num[i];
    p->len[i] = 0;
    p->fmt[i] = 0;
}

void pgsql_p_str(pgsql_params *p, const char *s, size_t cap)
{
    assert(p->n < PGSQL_PARAMS_MAX && s != NULL && cap > 0);
    int i = p->n++;
    p->val[i] = s;
    p->len[i] = (int)strnlen(s, cap - 1);
    p->fmt[i] = 1;
}

void pgsql_p_bytes(pgsql_params *p, const void *b, int len)
{
    assert(p->n < PGSQL_PARAMS_MAX);
    int i = p->n++;
    p->val[i] = b;
    p->len[i] = len;
    p->fmt[i] = 1;
}

void pgsql_p_text(pgsql_params *p, const char *s)
{
    assert(p->n < PGSQL_PARAMS_MAX && s != NULL);
    int i = p->n++;
    p->val[i] = s;
    p->len[i] = 0;
    p->fmt[i] = 0;
}

/* What a statement's failure f means for tx: *rc, the transaction marked. */
static void run_failed(store_tx *tx, store_rc f, store_rc *rc)
{
    pgsql_conn *c = tx->conn;
    /* A unique key that ON CONFLICT did not cover still aborted the
     * transaction: the caller cannot go on in it. */
    if (f == STORE_CONFLICT) {
        if (c->in_op == 0)
            tx->failed = true;
        *rc = STORE_CONFLICT;
        return;
    }
    *rc = tx_fail(tx, f);
}

/* Whether tx may run statement id now; else *rc says why not. */
static bool run_allowed(store_tx *tx, enum pgsql_stmt_id id, store_rc *rc)
{
    assert(tx != NULL && tx->conn != NULL && id >= 0 && id < PGSQL__COUNT);
    if (stmt_writes[id] && !tx->writable) {
        log_error("store: postgres: %s: a write primitive called inside store_read",
                  stmt_name[id]);
        *rc = pgsql_invalid(tx, "write refused");
        return false;
    }
    /* The transaction died with its connection: nothing more can run in
     * it, and a new connection would run statements outside it. */
    if (!conn_up(tx->conn)) {
        *rc = tx_fail(tx, STORE_UNAVAILABLE);
        return false;
    }
    return true;
}

store_rc pgsql_run_n(store_tx *tx, int n, const enum pgsql_stmt_id *ids,
                     const pgsql_params *const *ps, PGresult **res)
{
    assert(n >= 1 && n <= PGSQL_PIPE_MAX);
    static const pgsql_params none = {0};
    pgsql_conn *c = tx->conn;
    store_rc rc = STORE_OK;
    for (int i = 0; i < n; i++)
        res[i] = NULL;
    for (int i = 0; i < n; i++)
        if (!run_allowed(tx, ids[i], &rc))
            return rc;
    /* The deferred commands, then each statement (prepared first, the
     * first time this connection runs it), in one pipeline. */
    pipe_msg m[PIPE_MSGS_MAX];
    int k = defer_take(c, m);
    bool preparing[PGSQL__COUNT] = {false};
    for (int i = 0; i < n; i++) {
        if (!c->prepared[ids[i]] && !preparing[ids[i]]) {
            m[k++] = (pipe_msg){.id = ids[i], .prepare = true};
            preparing[ids[i]] = true;
        }
        m[k++] = (pipe_msg){.id = ids[i], .p = ps[i] != NULL ? ps[i] : &none, .out = &res[i]};
    }
    rc = conn_pipeline(c, m, k);
    if (rc != STORE_OK)
        run_failed(tx, rc, &rc);
    return rc;
}

PGresult *pgsql_run(store_tx *tx, enum pgsql_stmt_id id, const pgsql_params *p, store_rc *rc)
{
    pgsql_conn *c = tx->conn;
    if (!run_allowed(tx, id, rc))
        return NULL;
    if (c->n_defer > 0 || !c->prepared[id]) {
        PGresult *r = NULL;
        *rc = pgsql_run_n(tx, 1, &id, &p, &r);
        return r;
    }
    static const pgsql_params none = {0};
    if (p == NULL)
        p = &none;
    char name[16];
    stmt_label(id, name);
    conn_trip(c);
    PGresult *r = PQexecPrepared(c->pg, name, p->n, p->val, p->len, p->fmt, 0);
    ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
        *rc = STORE_OK;
        return r;
    }
    store_rc f = result_rc(c->pg, r, stmt_name[id]);
    PQclear(r);
    run_failed(tx, f, rc);
    return NULL;
}

PGresult *pgsql_one(store_tx *tx, enum pgsql_stmt_id id, const pgsql_params *p, store_rc *rc)
{
    PGresult *r = pgsql_run(tx, id, p, rc);
    if (r != NULL && PQntuples(r) == 0) {
        PQclear(r);
        *rc = STORE_NOTFOUND;
        return NULL;
    }
    return r;
}

store_rc pgsql_exec(store_tx *tx, enum pgsql_stmt_id id, const pgsql_params *p,
                    int64_t *changes)
{
    store_rc rc;
    PGresult *r = pgsql_run(tx, id, p, &rc);
    if (changes != NULL)
        *changes = r != NULL ? strtoll(PQcmdTuples(r), NULL, 10) : 0;
    PQclear(r);
    return rc;
}

store_rc pgsql_exec_one(store_tx *tx, enum pgsql_stmt_id id, const pgsql_params *p)
{
    int64_t n = 0;
    store_rc rc = pgsql_exec(tx, id, p, &n);
    return rc == STORE_OK && n == 0 ? STORE_NOTFOUND : rc;
}

store_rc pgsql_insert(store_tx *tx, enum pgsql_stmt_id id, const pgsql_params *p,
                      int64_t *out)
{
    store_rc rc;
    PGresult *r = pgsql_run(tx, id, p, &rc);
    if (r == NULL)
        return rc;
    if (PQntuples(r) == 0)
        rc = STORE_CONFLICT;
    else if (out != NULL)
        *out = pgsql_int(r, 0, 0);
    PQclear(r);
    return rc;
}

store_rc pgsql_count(store_tx *tx, enum pgsql_stmt_id id, const pgsql_params *p, int64_t *out)
{
    store_rc rc;
    PGresult *r = pgsql_run(tx, id, p, &rc);
    if (r == NULL)
        return rc;
    if (PQntuples(r) != 1)
        rc = pgsql_invalid(tx, "count(*) returned no row");
    else
        *out = pgsql_int(r, 0, 0);
    PQclear(r);
    return rc;
}

store_rc pgsql_each(store_tx *tx, enum pgsql_stmt_id id, const pgsql_params *p,
                    pgsql_row_fn fn, void *ctx)
{
    store_rc rc;
    PGresult *r = pgsql_run(tx, id, p, &rc);
    if (r == NULL)
        return rc;
    int n = PQntuples(r);
    for (int i = 0; i < n && rc == STORE_OK; i++)
        rc = fn(r, i, ctx);
    PQclear(r);
    return rc;
}

/* ---- values out --------------------------------------------------------- */

int64_t pgsql_int(const PGresult *r, int row, int col)
{
    if (PQgetisnull(r, row, col))
        return 0;
    return strtoll(PQgetvalue(r, row, col), NULL, 10);
}

void pgsql_str(const PGresult *r, int row, int col, char *dst, size_t cap)
{
    assert(cap > 0);
    size_t len = (size_t)PQgetlength(r, row, col);
    if (len >= cap)
        len = cap - 1;
    memcpy(dst, PQgetvalue(r, row, col), len);
    dst[len] = '\0';
}

static int hex_nibble(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    return -1;
}

int64_t pgsql_row_num(const store_row *r, int col)
{
    return pgsql_int(r->res, r->row, col);
}

void pgsql_row_text(const store_row *r, int col, char *dst, size_t cap)
{
    pgsql_str(r->res, r->row, col, dst, cap);
}

/* A bytea column in text format: "\x" and two hex digits a byte. Left as
 * it was unless it is exactly n bytes (zeroed if a digit is bad). */
/* PQgetvalue's text lives as long as the result, "" for NULL. */
const char *pgsql_row_str(const store_row *r, int col)
{
    return PQgetvalue(r->res, r->row, col);
}

void pgsql_row_bytes(const store_row *sr, int col, uint8_t *dst, size_t n)
{
    const PGresult *r = sr->res;
    int row = sr->row;
    const char *v = PQgetvalue(r, row, col);
    if ((size_t)PQgetlength(r, row, col) != 2 + 2 * n || v[0] != '\\' || v[1] != 'x')
        return;
    for (size_t i = 0; i < n; i++) {
        int hi = hex_nibble(v[2 + 2 * i]), lo = hex_nibble(v[3 + 2 * i]);
        if (hi < 0 || lo < 0) {
            memset(dst, 0, n);
            return;
        }
        dst[i] = (uint8_t)(hi << 4 | lo);
    }
}

/* ---- open and close ---------------------------------------------------- */

static void pgsql_close(void *impl);

static store_rc pgsql_open(const store_options *opt, void **out)
{
    *out = NULL;
    if (opt == NULL || opt->conninfo == NULL || opt->conninfo[0] == '\0') {
        log_error("store: postgres: no connection string given");
        return STORE_ERROR;
    }
    pgsql_store *s = calloc(1, sizeof *s);
    if (s == NULL || (s->conninfo = strdup(opt->conninfo)) == NULL ||
        (s->idle = calloc(PGSQL_READERS_MAX, sizeof *s->idle)) == NULL) {
        if (s != NULL)
            free(s->conninfo);
        free(s);
        log_error("store: out of memory");
        return STORE_ERROR;
    }
    s->durability = opt->durability;
    s->writers = opt->writers > 0 ? opt->writers : PGSQL_WRITERS;
    pthread_mutex_init(&s->read_lock, NULL);
    pthread_cond_init(&s->read_cond, NULL);
    /* The first connection migrates, then serves as the first reader. */
    pgsql_conn *c = conn_new(s, false);
    store_rc rc = c != NULL ? conn_connect(c) : STORE_ERROR;
    if (rc == STORE_OK)
        rc = pgsql_schema_migrate(c->pg, &s->version);
    if (rc != STORE_OK) {
        conn_free(c);
        pgsql_close(s);
        return rc;
    }
    s->idle[s->n_idle++] = c;
    s->n_open = 1;
    *out = s;
    return STORE_OK;
}

static void pgsql_close(void *impl)
{
    pgsql_store *s = impl;
    if (s == NULL)
        return;
    assert(s->n_idle == s->n_open);
    for (int i = 0; i < s->n_idle; i++)
        conn_free(s->idle[i]);
    pthread_cond_destroy(&s->read_cond);
    pthread_mutex_destroy(&s->read_lock);
    free(s->idle);
    free(s->conninfo);
    free(s);
}

static int pgsql_schema_version(void *impl)
{
    const pgsql_store *s = impl;
    return s->version;
}

static pgsql_conn *reader_get(pgsql_store *s);
static void reader_put(pgsql_store *s, pgsql_conn *c);

static void pgsql_keys_stamp(void *impl, store_stamp *out)
{
    pgsql_store *s = impl;
    out->file = 0;
    /* Never a version the row holds (those count up from 0). */
    out->moves = UINT64_C(1) << 63 | __atomic_add_fetch(&s->unknown, 1, __ATOMIC_RELAXED);
    pgsql_conn *c = reader_get(s);
    if (c == NULL)
        return;
    /* Autocommit: one statement is its own snapshot. A connection found
     * dead is connected again once, as a transaction's first command is. */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (pgsql_conn_ready(c) != STORE_OK)
            break;
        store_tx tx = {.conn = c, .writable = false};
        store_rc rc;
        PGresult *r = pgsql_one(&tx, PGSQL_KEYS_VERSION, NULL, &rc);
        if (r != NULL)
            out->moves = (uint64_t)pgsql_int(r, 0, 0);
        PQclear(r);
        if (rc != STORE_UNAVAILABLE)
            break;
        c->retry_at_ms = 0;
    }
    reader_put(s, c);
}

/* A signed read's triple, spent on a read connection in autocommit: the
 * INSERT is its own transaction, committed with the server's
 * synchronous_commit (readers never turn it off), before the read begins.
 * One round trip more per signed read; done before rather than inside the
 * read's snapshot, whose transaction is READ ONLY and whose commit would
 * come after the read's work rather than before it. A connection found
 * dead (the server restarted) is connected again once, as keys_stamp's:
 * if the first attempt had reached the server, the second finds the
 * triple spent and the read is refused, which errs the safe way. */
static store_rc pgsql_spend_now(void *impl, const char *app_id, int64_t timestamp,
                                uint64_t nonce, int64_t keep_from)
{
    pgsql_store *s = impl;
    pgsql_conn *c = reader_get(s);
    if (c == NULL)
        return STORE_ERROR;
    store_rc rc = STORE_UNAVAILABLE;
    for (int attempt = 0; attempt < 2; attempt++) {
        rc = pgsql_conn_ready(c);
        if (rc != STORE_OK)
            break;
        store_tx tx = {.be = &store_backend_postgres, .impl = s, .conn = c, .writable = true};
        rc = pgsql_spend(&tx, app_id, timestamp, nonce, keep_from);
        if (rc != STORE_UNAVAILABLE)
            break;
        c->retry_at_ms = 0;
    }
    reader_put(s, c);
    return rc;
}

/* A chunk of an app's shared rate bucket (store_rate_take), on a read
 * connection in autocommit as pgsql_spend_now. Not retried after a lost
 * connection: the caller admits the request (auth/ratelimit.c), which a
 * store out of reach answers 5108 anyway. */
static store_rc pgsql_rate_take(void *impl, const char *app_id, double rate, double burst,
                                int64_t want, int64_t *granted)
{
    pgsql_store *s = impl;
    pgsql_conn *c = reader_get(s);
    if (c == NULL)
        return STORE_ERROR;
    store_rc rc = pgsql_conn_ready(c);
    store_tx tx = {.be = &store_backend_postgres, .impl = s, .conn = c, .writable = true};
    for (int pass = 0; rc == STORE_OK && pass < 2; pass++) {
        pgsql_params p = {0};
        PGSQL_P_STR(&p, app_id ? app_id : "");
        pgsql_p_double(&p, burst);
        pgsql_p_double(&p, rate / 1000);
        pgsql_p_int(&p, want);
        PGresult *r = pgsql_one(&tx, PGSQL_RATE_TAKE, &p, &rc);
        if (r != NULL)
            *granted = pgsql_int(r, 0, 0);
        PQclear(r);
        if (rc != STORE_NOTFOUND)
            break;
        /* The app's first take: its bucket, full, then take again. */
        pgsql_params q = {0};
        PGSQL_P_STR(&q, app_id ? app_id : "");
        pgsql_p_double(&q, burst);
        rc = pgsql_exec(&tx, PGSQL_RATE_BUCKET, &q, NULL);
    }
    reader_put(s, c);
    return rc;
}

/* ---- writes: the queue's hooks (backend.h) ----------------------------- */

static int pgsql_writers(void *impl)
{
    const pgsql_store *s = impl;
    return s->writers;
}

/* A socket a connection: the writers', the read connections' (made on
 * demand) and the change feed's (the relay listens on one). A connection
 * made again after a loss closes its old socket first. */
static int pgsql_descriptors(void *impl)
{
    const pgsql_store *s = impl;
    return s->writers + PGSQL_READERS_MAX + 1;
}

static int pgsql_batch_max(void *impl)
{
    (void)impl;
    return PGSQL_BATCH_MAX;
}

/* The connection is made here if it can be, else at its first batch: a
 * node starts whether or not the database answers at that moment. */
static store_rc pgsql_writer_open(void *impl, int i, void **conn)
{
    (void)i;
    pgsql_conn *c = conn_new(impl, true);
    if (c == NULL)
        return STORE_ERROR;
    (void)pgsql_conn_ready(c);
    *conn = c;
    return STORE_OK;
}

static void pgsql_writer_close(void *impl, void *conn)
{
    (void)impl;
    conn_free(conn);
}

/* Runs the first command of a transaction. A connection found dead here
 * (the server restarted since the last transaction) has lost nothing yet:
 * connect once more and go on. */
static store_rc conn_begin(pgsql_conn *c, const char *sql, PGresult **res)
{
    c->n_defer = 0;   /* nothing of a transaction before this one is pending */
    for (int attempt = 0;; attempt++) {
        store_rc rc = pgsql_conn_ready(c);
        if (rc != STORE_OK)
            return rc;
        conn_trip(c);
        PGresult *r = PQexec(c->pg, sql);
        ExecStatusType st = PQresultStatus(r);
        if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
            if (res != NULL)
                *res = r;
            else
                PQclear(r);
            return STORE_OK;
        }
        rc = result_rc(c->pg, r, "begin");
        PQclear(r);
        if (rc != STORE_UNAVAILABLE) {
            (void)pgsql_command(c, "ROLLBACK");
            return rc == STORE_CONFLICT ? STORE_ERROR : rc;
        }
        conn_drop(c);
        if (attempt == 1)
            return rc;
        c->retry_at_ms = 0;
    }
}

#define PGSQL_BEGIN "BEGIN ISOLATION LEVEL READ COMMITTED; "
/* The transaction id is taken (and so assigned) in the same round trip:
 * pgsql_batch_commit needs it if COMMIT's answer is lost. Last: the
 * round trip's answer is its last statement's. */
#define PGSQL_BEGIN_XID "SELECT pg_current_xact_id()"

/* The keyed jobs' meetings are locked in the same round trip, in
 * ascending order (the rows are locked as they come out of the sort), and
 * held to the commit as each job's own store_meeting_get would hold its
 * meeting: two batches of the same meetings, on two writers or two nodes,
 * then wait for each other at the first they share instead of each
 * holding one the other wants (a deadlock, seen by PostgreSQL only after
 * deadlock_timeout). The ids are the batch's own integers, written into
 * the text: nothing from outside is. */
static store_rc pgsql_batch_begin(void *conn, const int64_t *keys, size_t n_keys)
{
    pgsql_conn *c = conn;
    PGresult *r = NULL;
    static const char lock_head[] =
        PGSQL_BEGIN "SELECT count(*) FROM (SELECT meeting_id FROM meetings "
                    "WHERE meeting_id = ANY('{";
    static const char lock_tail[] =
        "}'::bigint[]) ORDER BY meeting_id FOR UPDATE) locked; " PGSQL_BEGIN_XID;
    char *sql = NULL;
    if (n_keys > 0) {
        size_t cap = sizeof lock_head + n_keys * 21 + sizeof lock_tail, at;
        sql = malloc(cap);
        if (sql != NULL) {
            at = (size_t)snprintf(sql, cap, "%s", lock_head);
            for (size_t i = 0; i < n_keys; i++)
                at += (size_t)snprintf(sql + at, cap - at, i > 0 ? ",%lld" : "%lld",
                                       (long long)keys[i]);
            snprintf(sql + at, cap - at, "%s", lock_tail);
        }
    }
    /* Out of memory for the text: the meetings are locked as the jobs read
     * them (right, but a deadlock is then possible: a rerun). */
    store_rc rc = conn_begin(c, sql != NULL ? sql : PGSQL_BEGIN PGSQL_BEGIN_XID, &r);
    free(sql);
    if (rc != STORE_OK)
        return rc;
    c->xid[0] = '\0';
    if (PQntuples(r) == 1)
        snprintf(c->xid, sizeof c->xid, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return c->xid[0] != '\0' ? STORE_OK : STORE_ERROR;
}

static store_rc pgsql_job_begin(void *conn)
{
    return pgsql_defer(conn, "SAVEPOINT store_job");
}

static store_rc pgsql_job_end(void *conn, store_tx *tx, bool keep)
{
    (void)tx;
    pgsql_conn *c = conn;
    if (!keep) {
        store_rc rc = pgsql_defer(c, "ROLLBACK TO SAVEPOINT store_job");
        if (rc != STORE_OK)
            return rc;
    }
    /* After ROLLBACK TO the savepoint is still open: release it either way. */
    return pgsql_defer(c, "RELEASE SAVEPOINT store_job");
}

/* COMMIT's answer was lost with the connection: ask a new connection what
 * became of transaction c->xid. STORE_OK when it committed. */
static store_rc commit_resolve(pgsql_conn *c)
{
    int64_t deadline = clock_mono_ms() + PGSQL_RESOLVE_MS;
    log_error("store: postgres: the connection was lost during COMMIT of transaction %s: "
              "asking the server whether it committed", c->xid);
    while (clock_mono_ms() < deadline) {
        conn_drop(c);
        c->retry_at_ms = 0;
        if (conn_connect(c) != STORE_OK) {
            sleep_ms(c->backoff_ms);   /* grows as conn_connect failures do */
            continue;
        }
        const char *val[1] = {c->xid};
        PGresult *r = PQexecParams(c->pg, stmt_sql[PGSQL_XACT_STATUS], 1, NULL, val, NULL,
                                   NULL, 0);
        char status[16] = "";
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
            PGSQL_STR(r, 0, 0, status);
        PQclear(r);
        if (strcmp(status, "committed") == 0) {
            log_info("store: postgres: transaction %s had committed", c->xid);
            return STORE_OK;
        }
        if (strcmp(status, "aborted") == 0) {
            log_info("store: postgres: transaction %s had not committed", c->xid);
            return STORE_UNAVAILABLE;
        }
        /* "in progress": its backend has not yet seen the loss. */
        sleep_ms(50);
    }
    log_error("store: postgres: the outcome of transaction %s is unknown after %d s; "
              "its callers are told it failed",
              c->xid, PGSQL_RESOLVE_MS / 1000);
    return STORE_UNAVAILABLE;
}

static store_rc pgsql_batch_commit(void *conn, bool keys_changed)
{
    (void)keys_changed;   /* keys_version moved in the transaction itself */
    pgsql_conn *c = conn;
    if (!conn_up(c))
        return STORE_UNAVAILABLE;
    /* The last job's savepoint ends in COMMIT's round trip. */
    PGresult *r = NULL;
    store_rc rc;
    if (c->n_defer > 0) {
        pipe_msg m[PGSQL_DEFER_MAX + 1];
        int n = defer_take(c, m);
        m[n++] = (pipe_msg){.sql = "COMMIT", .out = &r};
        rc = conn_pipeline(c, m, n);
    } else {
        conn_trip(c);
        r = PQexec(c->pg, "COMMIT");
        rc = PQresultStatus(r) == PGRES_COMMAND_OK ? STORE_OK : result_rc(c->pg, r, "COMMIT");
    }
    if (rc == STORE_OK) {
        /* COMMIT of a transaction in the aborted state rolls back and says
         * so only in its command tag. */
        if (strcmp(PQcmdStatus(r), "COMMIT") != 0) {
            log_error("store: postgres: COMMIT rolled back an aborted transaction");
            rc = STORE_ERROR;
        }
    } else if (rc == STORE_UNAVAILABLE) {
        /* Lost on the way, COMMIT may have been carried out or not. */
        rc = commit_resolve(c);
    } else if (rc == STORE_CONFLICT) {
        rc = STORE_ERROR;
    }
    PQclear(r);
    return rc;
}

static void pgsql_batch_end(void *conn, bool committed)
{
    pgsql_conn *c = conn;
    if (committed || !conn_up(c))
        return;
    if (PQtransactionStatus(c->pg) != PQTRANS_IDLE &&
        pgsql_command(c, "ROLLBACK") != STORE_OK) {
        log_error("store: postgres: could not roll back a write transaction: reconnecting");
        conn_drop(c);
    }
}

static store_rc pgsql_try_begin(store_tx *tx)
{
    store_rc rc = pgsql_defer(tx->conn, "SAVEPOINT store_try");
    return rc == STORE_OK ? rc : tx_fail(tx, rc);
}

static store_rc pgsql_try_end(store_tx *tx, bool keep)
{
    store_rc rc = STORE_OK;
    if (!keep)
        rc = pgsql_defer(tx->conn, "ROLLBACK TO SAVEPOINT store_try");
    if (rc == STORE_OK)
        rc = pgsql_defer(tx->conn, "RELEASE SAVEPOINT store_try");
    return rc == STORE_OK ? rc : tx_fail(tx, rc);
}

/* ---- reads -------------------------------------------------------------- */

static pgsql_conn *reader_get(pgsql_store *s)
{
    pthread_mutex_lock(&s->read_lock);
    while (s->n_idle == 0 && s->n_open == PGSQL_READERS_MAX)
        pthread_cond_wait(&s->read_cond, &s->read_lock);
    pgsql_conn *c = NULL;
    if (s->n_idle > 0) {
        c = s->idle[--s->n_idle];
    } else {
        s->n_open++;
        c = conn_new(s, false);
        if (c == NULL)
            s->n_open--;
    }
    pthread_mutex_unlock(&s->read_lock);
    return c;
}

static void reader_put(pgsql_store *s, pgsql_conn *c)
{
    /* A connection left inside a transaction would pin its snapshot: drop
     * the connection (the slot stays, and reconnects when next used). */
    if (conn_up(c) && PQtransactionStatus(c->pg) != PQTRANS_IDLE)
        conn_drop(c);
    pthread_mutex_lock(&s->read_lock);
    s->idle[s->n_idle++] = c;
    assert(s->n_idle <= s->n_open && s->n_open <= PGSQL_READERS_MAX);
    pthread_cond_signal(&s->read_cond);
    pthread_mutex_unlock(&s->read_lock);
}

/* REPEATABLE READ: everything fn reads is from one snapshot. */
static store_rc pgsql_read_begin(void *impl, store_tx *tx)
{
    pgsql_store *s = impl;
    pgsql_conn *c = reader_get(s);
    if (c == NULL)
        return STORE_ERROR;
    store_rc rc = conn_begin(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", NULL);
    if (rc != STORE_OK) {
        reader_put(s, c);
        return rc == STORE_RETRY ? STORE_ERROR : rc;
    }
    tx->conn = c;
    tx->writable = false;
    return STORE_OK;
}

static store_rc pgsql_read_end(void *impl, store_tx *tx, bool commit)
{
    pgsql_store *s = impl;
    pgsql_conn *c = tx->conn;
    store_rc rc = STORE_OK;
    if (conn_up(c))
        rc = pgsql_command(c, commit ? "COMMIT" : "ROLLBACK");
    if (rc == STORE_RETRY)
        rc = STORE_ERROR;
    reader_put(s, c);
    tx->conn = NULL;
    return commit ? rc : STORE_OK;
}

/* ---- the table ---------------------------------------------------------- */

const store_backend store_backend_postgres = {
    .name = "postgres",
    .shared = true,
    .open = pgsql_open,
    .close = pgsql_close,
    .schema_version = pgsql_schema_version,
    .keys_stamp = pgsql_keys_stamp,
    .writers = pgsql_writers,
    .descriptors = pgsql_descriptors,
    .batch_max = pgsql_batch_max,
    .writer_open = pgsql_writer_open,
    .writer_close = pgsql_writer_close,
    .batch_begin = pgsql_batch_begin,
    .job_begin = pgsql_job_begin,
    .job_end = pgsql_job_end,
    .batch_commit = pgsql_batch_commit,
    .batch_end = pgsql_batch_end,
    .try_begin = pgsql_try_begin,
    .try_end = pgsql_try_end,
    .read_begin = pgsql_read_begin,
    .read_end = pgsql_read_end,
    .spend_now = pgsql_spend_now,
    .rate_take = pgsql_rate_take,
    .spend = pgsql_spend,
    .app_insert = pgsql_app_insert,
    .app_get = pgsql_app_get,
    .app_list = pgsql_app_list,
    .app_count = pgsql_app_count,
    .app_delete = pgsql_app_delete,
    .key_insert = pgsql_key_insert,
    .key_get = pgsql_key_get,
    .key_list = pgsql_key_list,
    .key_delete_all = pgsql_key_delete_all,
    .meeting_insert = pgsql_meeting_insert,
    .meeting_get = pgsql_meeting_get,
    .meeting_app = pgsql_meeting_app,
    .meeting_by_code = pgsql_meeting_by_code,
    .meetings_of_user = pgsql_meetings_of_user,
    .meeting_update_status = pgsql_meeting_update_status,
    .meeting_update = pgsql_meeting_update,
    .user_get = pgsql_user_get,
    .user_party = pgsql_user_party,
    .user_insert = pgsql_user_insert,
    .user_by_no = pgsql_user_by_no,
    .user_set_cohost = pgsql_user_set_cohost,
    .user_set_nick = pgsql_user_set_nick,
    .cohosts_list = pgsql_cohosts_list,
    .cohosts_end = pgsql_cohosts_end,
    .user_presence = pgsql_user_presence,
    .device_insert = pgsql_device_insert,
    .device_present = pgsql_device_present,
    .device_end_present = pgsql_device_end_present,
    .device_end = pgsql_device_end,
    .devices_end_all = pgsql_devices_end_all,
    .device_get = pgsql_device_get,
    .device_by_token = pgsql_device_by_token,
    .participants_list = pgsql_participants_list,
    .participants_between = pgsql_participants_between,
    .present_list = pgsql_present_list,
    .ban_put = pgsql_ban_put,
    .ban_exists = pgsql_ban_exists,
    .ban_delete = pgsql_ban_delete,
    .bans_list = pgsql_bans_list,
    .audit_insert = pgsql_audit_insert,
    .audit_list = pgsql_audit_list,
    .event_insert = pgsql_event_insert,
    .events_since = pgsql_events_since,
    .events_since_many = pgsql_events_since_many,
    .events_last = pgsql_events_last,
    .events_prune = pgsql_events_prune,
    .node_register = pgsql_node_register,
    .node_heartbeat = pgsql_node_heartbeat,
    .node_list = pgsql_node_list,
    .node_stop = pgsql_node_stop,
    .stream_attach = pgsql_stream_attach,
    .stream_detach = pgsql_stream_detach,
    .meetings_lock_of_devices = pgsql_meetings_lock_of_devices,
    .stream_get = pgsql_stream_get,
    .presence_due = pgsql_presence_due,
    .presence_claim = pgsql_presence_claim,
    .changes_open = pgsql_changes_open,
    .changes_wait = pgsql_changes_wait,
    .changes_wake = pgsql_changes_wake,
    .changes_close = pgsql_changes_close,
    .webhook_insert = pgsql_webhook_insert,
    .webhook_get = pgsql_webhook_get,
    .webhook_list = pgsql_webhook_list,
    .webhook_count = pgsql_webhook_count,
    .webhook_delete = pgsql_webhook_delete,
    .outbox_insert = pgsql_outbox_insert,
    .outbox_due = pgsql_outbox_due,
    .outbox_pending = pgsql_outbox_pending,
    .outbox_next_due = pgsql_outbox_next_due,
    .outbox_claim = pgsql_outbox_claim,
    .outbox_release = pgsql_outbox_release,
    .outbox_delivered = pgsql_outbox_delivered,
    .outbox_retry = pgsql_outbox_retry,
    .outbox_failed = pgsql_outbox_failed,
    .deliveries_list = pgsql_deliveries_list,
};
