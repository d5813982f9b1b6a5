/* The SQLite backend: connections, transactions, statement cache.
 *
 * One database file, <data_dir>/meetd.db, in WAL mode. Writes go through a
 * single connection: SQLite admits one writer at a time anyway, and
 * serialising in-process avoids busy-waiting on the file lock. Reads run on
 * a small pool of read-only connections; under WAL each read transaction
 * sees one consistent snapshot and never blocks, nor is blocked by, the
 * writer.
 *
 * Group commit: callers queue their fn (store_write_async; store_write
 * waits for it). The writer thread takes the whole queue, runs every fn in
 * one transaction, each inside its own SAVEPOINT (so one fn's failure
 * undoes only its own work), commits once — one sync for the batch — and
 * calls each caller back with its result. While it commits, new callers
 * queue up for the next batch. No caller hears of its work before it is
 * committed. Inside its savepoint a fn may undo part of its work alone
 * (store_try, one savepoint down): a write of a signed request keeps the
 * nonce it spent (sqlite_spent.c) when the rules refuse the rest. WAL checkpoints run on a thread of their own (sqlite_ckpt.c).
 *
 * One server per data directory: a server's store holds serve.lock
 * (lock_take) for its life, as its replay memory and caches assume that
 * nothing but `meetd app` (which takes no lock) shares the database.
 *
 * Connections are opened SQLITE_OPEN_NOMUTEX: a connection is only ever used
 * by one thread at a time (writer: the writer thread; reader: whoever
 * checked it out of the pool), so SQLite's per-connection mutex would be
 * pure overhead. */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "store/sqlite_int.h"

#define STORE_DB_NAME "meetd.db"
/* Its first 8 bytes count the commits that changed an app or a key, in
 * any process: see stamp_open. */
#define STORE_STAMP_NAME "keys.stamp"
/* Held (flock) by the one server of a data directory: two servers would
 * each keep their own replay memory and caches of the same database. */
#define STORE_LOCK_NAME "serve.lock"
/* Read connections kept open; more concurrent readers wait for one. */
#define STORE_READERS_MAX 8
/* How long a connection waits on a lock held by another process (meetd app
 * administering the directory offline) before giving up. */
#define STORE_BUSY_MS 5000

struct store {
    char *path;
    char *stamp_path;               /* <data_dir>/keys.stamp: store_keys_stamp */
    uint64_t *stamp;                /* its first 8 bytes, mapped shared */
    uint64_t stamp_ino;
    int lock_fd;                    /* serve.lock while held, else -1 */
    int version;
    store_durability durability;

    store_conn *writer;
    store_ckpt *ckpt;
    store_pages *pages;             /* shared by every connection */
    pthread_mutex_t queue_lock;
    pthread_cond_t queue_cond;      /* the writer waits here when idle */
    struct store_job *queue_head;   /* waiting for the next batch */
    struct store_job *queue_tail;
    bool writer_idle;               /* waiting on queue_cond: needs a signal */
    bool writer_stopping;
    bool writer_started;
    pthread_t writer_thread;

    pthread_mutex_t read_lock;
    pthread_cond_t read_cond;
    store_conn *idle[STORE_READERS_MAX];
    int n_idle;
    int n_open;                     /* readers open, idle or checked out */
};

static const char *const stmt_sql[STMT__COUNT] = {
#define STORE_STMT_SQL(name, sql) [STMT_##name] = sql,
    STORE_STATEMENTS(STORE_STMT_SQL)
#undef STORE_STMT_SQL
};

static const char *const stmt_name[STMT__COUNT] = {
#define STORE_STMT_NAME(name, sql) [STMT_##name] = #name,
    STORE_STATEMENTS(STORE_STMT_NAME)
#undef STORE_STMT_NAME
};

static void conn_log(sqlite3 *db, const char *what)
{
    log_error("store: %s: %s (%d)", what, sqlite3_errmsg(db), sqlite3_extended_errcode(db));
}

/* ---- statements -------------------------------------------------------- */

static sqlite3_stmt *conn_stmt(store_conn *c, enum store_stmt_id id)
{
    assert(id >= 0 && id < STMT__COUNT);
    sqlite3_stmt *st = c->stmt[id];
    if (st != NULL)
        return st;
    if (sqlite3_prepare_v3(c->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
        SQLITE_OK) {
        conn_log(c->db, stmt_name[id]);
        return NULL;
    }
    c->stmt[id] = st;
    return st;
}

/* Runs a transaction-control statement. */
static int conn_tx(store_conn *c, enum store_stmt_id id)
{
    sqlite3_stmt *st = conn_stmt(c, id);
    if (st == NULL)
        return -1;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_DONE)
        conn_log(c->db, stmt_name[id]);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

/* Ends whatever transaction is still open on c. Returns -1 when c is left
 * inside a transaction (it must not be used again). */
static int conn_settle(store_conn *c)
{
    if (sqlite3_get_autocommit(c->db))
        return 0;
    if (conn_tx(c, STMT_TX_ROLLBACK) == 0 && sqlite3_get_autocommit(c->db))
        return 0;
    return -1;
}

sqlite3_stmt *store_stmt(store_tx *tx, enum store_stmt_id id)
{
    assert(tx != NULL && tx->conn != NULL);
    store_conn *c = tx->conn;
    /* Some errors (I/O, out of memory) make SQLite roll the whole
     * transaction back. Running on would autocommit each later statement:
     * refuse instead. */
    if (sqlite3_get_autocommit(c->db)) {
        log_error("store: %s: the transaction was rolled back by an earlier error",
                  stmt_name[id]);
        tx->failed = true;
        return NULL;
    }
    sqlite3_stmt *st = conn_stmt(c, id);
    if (st != NULL && sqlite3_stmt_busy(st)) {
        /* A callback of a list primitive re-entered the same primitive: the
         * cached statement is mid-iteration, so use a one-off. */
        st = NULL;
        if (sqlite3_prepare_v2(c->db, stmt_sql[id], -1, &st, NULL) != SQLITE_OK) {
            conn_log(c->db, stmt_name[id]);
            st = NULL;
        }
    }
    if (st == NULL) {
        tx->failed = true;
        return NULL;
    }
    if (!c->writable && !sqlite3_stmt_readonly(st)) {
        log_error("store: %s: a write primitive called inside store_read", stmt_name[id]);
        store_done(tx, id, st);
        tx->failed = true;
        return NULL;
    }
    return st;
}

void store_done(store_tx *tx, enum store_stmt_id id, sqlite3_stmt *st)
{
    if (st == NULL)
        return;
    if (st != tx->conn->stmt[id]) {
        sqlite3_finalize(st);
        return;
    }
    /* reset repeats the last step's error code; it was handled already. */
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

int store_sqlite_rc(store_tx *tx, enum store_stmt_id id, int rc)
{
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return STORE_CONFLICT;
    /* sqlite3_errmsg names the failed constraint or cause, never a value,
     * so secrets cannot reach the log this way. */
    conn_log(tx->conn->db, stmt_name[id]);
    tx->failed = true;
    return STORE_ERROR;
}

int store_invalid(store_tx *tx, const char *what)
{
    log_error("store: %s", what);
    tx->failed = true;
    return STORE_ERROR;
}

/* Binds fail only on misuse or an oversized value: always an error. */
static int bind_failed(store_tx *tx, enum store_stmt_id id)
{
    conn_log(tx->conn->db, stmt_name[id]);
    tx->failed = true;
    return STORE_ERROR;
}

int store_exec(store_tx *tx, enum store_stmt_id id, sqlite3_stmt *st, int bind_rc,
               int64_t *changes)
{
    if (bind_rc != SQLITE_OK) {
        int rc = bind_failed(tx, id);
        store_done(tx, id, st);
        return rc;
    }
    int rc = sqlite3_step(st);
    int out = rc == SQLITE_DONE ? STORE_OK : store_sqlite_rc(tx, id, rc);
    if (changes != NULL)
        *changes = out == STORE_OK ? sqlite3_changes64(tx->conn->db) : 0;
    store_done(tx, id, st);
    return out;
}

int store_row(store_tx *tx, enum store_stmt_id id, sqlite3_stmt *st, int bind_rc)
{
    if (bind_rc != SQLITE_OK)
        return bind_failed(tx, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return STORE_OK;
    return rc == SQLITE_DONE ? STORE_NOTFOUND : store_sqlite_rc(tx, id, rc);
}

int store_each(store_tx *tx, enum store_stmt_id id, sqlite3_stmt *st, int bind_rc,
               store_row_fn row, void *ctx)
{
    if (bind_rc != SQLITE_OK) {
        int rc = bind_failed(tx, id);
        store_done(tx, id, st);
        return rc;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int stop = row(st, ctx);
        if (stop != 0) {
            store_done(tx, id, st);
            return stop;
        }
    }
    int out = rc == SQLITE_DONE ? STORE_OK : store_sqlite_rc(tx, id, rc);
    store_done(tx, id, st);
    return out;
}

int store_count(store_tx *tx, enum store_stmt_id id, sqlite3_stmt *st, int bind_rc,
                int64_t *out)
{
    int rc = store_row(tx, id, st, bind_rc);
    if (rc == STORE_OK)
        *out = sqlite3_column_int64(st, 0);
    else if (rc == STORE_NOTFOUND)
        rc = store_invalid(tx, "count(*) returned no row");
    store_done(tx, id, st);
    return rc;
}

int store_sp_begin(store_tx *tx)
{
    sqlite3_stmt *st = store_stmt(tx, STMT_SP_BEGIN);
    if (st == NULL)
        return STORE_ERROR;
    return store_exec(tx, STMT_SP_BEGIN, st, SQLITE_OK, NULL);
}

int store_sp_end(store_tx *tx, int rc)
{
    if (rc != STORE_OK) {
        sqlite3_stmt *st = store_stmt(tx, STMT_SP_ROLLBACK);
        if (st == NULL || store_exec(tx, STMT_SP_ROLLBACK, st, SQLITE_OK, NULL) != STORE_OK)
            return STORE_ERROR;
    }
    /* After ROLLBACK TO the savepoint is still open: release it either way. */
    sqlite3_stmt *st = store_stmt(tx, STMT_SP_RELEASE);
    if (st == NULL || store_exec(tx, STMT_SP_RELEASE, st, SQLITE_OK, NULL) != STORE_OK)
        return STORE_ERROR;
    return rc;
}

/* Like a job's own savepoint (batch_job), one level down: the writer's
 * copies of meetings must not outlive a change that fn made, read back and
 * then undid. The mcache's "changed" mark is the job's as a whole, so an
 * undo here drops the copies if anything of the job changed one: more
 * than needed at worst, never less. */
int store_try(store_tx *tx, store_fn fn, void *arg)
{
    store_conn *c = tx->conn;
    bool keys_changed = tx->keys_changed;
    sqlite3_stmt *st = store_stmt(tx, STMT_TRY_BEGIN);
    if (st == NULL || store_exec(tx, STMT_TRY_BEGIN, st, SQLITE_OK, NULL) != STORE_OK)
        return STORE_ERROR;
    int rc = fn(tx, arg);
    if (rc == 0 && tx->failed)
        rc = STORE_ERROR;
    if (rc != 0) {
        if (c->mcache != NULL)
            store_mcache_job_undone(c->mcache);
        tx->keys_changed = keys_changed;
        st = store_stmt(tx, STMT_TRY_ROLLBACK);
        if (st == NULL || store_exec(tx, STMT_TRY_ROLLBACK, st, SQLITE_OK, NULL) != STORE_OK)
            return rc < 0 ? rc : STORE_ERROR;
    }
    /* After ROLLBACK TO the savepoint is still open: release it either way. */
    st = store_stmt(tx, STMT_TRY_RELEASE);
    if (st == NULL || store_exec(tx, STMT_TRY_RELEASE, st, SQLITE_OK, NULL) != STORE_OK)
        return rc < 0 ? rc : STORE_ERROR;
    return rc;
}

/* ---- values ------------------------------------------------------------ */

void store_col_str(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
    assert(cap > 0);
    const unsigned char *s = sqlite3_column_text(st, col);
    size_t len = s != NULL ? (size_t)sqlite3_column_bytes(st, col) : 0;
    if (len >= cap)
        len = cap - 1;
    if (len > 0)
        memcpy(dst, s, len);
    dst[len] = '\0';
}

/* ---- connections ------------------------------------------------------- */

static int conn_pragma_int(sqlite3 *db, const char *sql, int *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        conn_log(db, sql);
        sqlite3_finalize(st);
        return -1;
    }
    *out = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    return 0;
}

static int conn_exec(sqlite3 *db, const char *sql)
{
    if (sqlite3_exec(db, sql, NULL, NULL, NULL) != SQLITE_OK) {
        conn_log(db, sql);
        return -1;
    }
    return 0;
}

/* WAL is a property of the file, set once; a filesystem that cannot do it
 * (no shared memory) is refused rather than silently run in another mode. */
static int conn_wal(sqlite3 *db)
{
    sqlite3_stmt *st = NULL;
    int ok = 0;
    int rc = sqlite3_prepare_v2(db, "PRAGMA journal_mode = WAL", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        const char *mode = (const char *)sqlite3_column_text(st, 0);
        ok = mode != NULL && strcmp(mode, "wal") == 0;
        if (!ok)
            log_error("store: cannot use WAL mode (journal_mode is %s)",
                      mode != NULL ? mode : "unknown");
    } else {
        conn_log(db, "PRAGMA journal_mode");
    }
    sqlite3_finalize(st);
    return ok ? 0 : -1;
}

static void conn_close(store_conn *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < STMT__COUNT; i++)
        sqlite3_finalize(c->stmt[i]);
    if (sqlite3_close(c->db) != SQLITE_OK)
        conn_log(c->db, "close");
    store_mcache_free(c->mcache);
    free(c);
}

/* Pages of 1 KiB rather than SQLite's 4 KiB, for databases created from
 * now on (SQLite ignores it for one that has tables). A kickout or a join
 * dirties one leaf in each of several B-trees, a few rows in each: every
 * dirty page is written whole to the WAL at the commit and again to the
 * database at the checkpoint, so smaller pages mean a quarter of the bytes
 * written and synced for the same rows. Measured (bench/README.md): p50 and
 * p99 of kickouts at a fixed rate down, throughput the same. */
#define STORE_PAGE_SIZE_PRAGMA "PRAGMA page_size = 1024"

static int conn_open(const char *path, bool writable, store_durability durability,
                     store_conn **out)
{
    *out = NULL;
    store_conn *c = calloc(1, sizeof *c);
    if (c == NULL) {
        log_error("store: out of memory");
        return -1;
    }
    c->writable = writable;
    int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_PRIVATECACHE |
                (writable ? SQLITE_OPEN_READWRITE : SQLITE_OPEN_READONLY);
    int rc = sqlite3_open_v2(path, &c->db, flags, NULL);
    if (rc != SQLITE_OK) {
        if (c->db != NULL)
            conn_log(c->db, path);
        else
            log_error("store: %s: %s", path, sqlite3_errstr(rc));
        conn_close(c);
        return -1;
    }
    sqlite3_extended_result_codes(c->db, 1);
    sqlite3_busy_timeout(c->db, STORE_BUSY_MS);
    if (writable) {
        /* In WAL mode FULL syncs the log at every commit; NORMAL only at
         * checkpoints, so a commit survives a crash of meetd, not of the OS. */
        const char *sync = durability == STORE_DURABLE_FULL ? "PRAGMA synchronous = FULL"
                                                            : "PRAGMA synchronous = NORMAL";
        int fk = 0;
        if (conn_exec(c->db, STORE_PAGE_SIZE_PRAGMA) != 0 ||
            conn_exec(c->db, "PRAGMA foreign_keys = ON") != 0 ||
            conn_pragma_int(c->db, "PRAGMA foreign_keys", &fk) != 0 ||
            conn_exec(c->db, sync) != 0 ||
            /* After a burst the WAL is truncated back to this on checkpoint. */
            conn_exec(c->db, "PRAGMA journal_size_limit = 67108864") != 0) {
            conn_close(c);
            return -1;
        }
        if (fk != 1) {
            /* Deleting an app relies on the cascades. */
            log_error("store: this SQLite does not enforce foreign keys");
            conn_close(c);
            return -1;
        }
    }
    *out = c;
    return 0;
}

/* mkdir -p, creating what is missing with mode 0700. */
static int make_dirs(const char *dir)
{
    char *p = strdup(dir);
    if (p == NULL)
        return -1;
    size_t n = strlen(p);
    while (n > 1 && p[n - 1] == '/')
        p[--n] = '\0';
    for (char *q = p + 1;; q++) {
        bool last = *q == '\0';
        if (!last && *q != '/')
            continue;
        *q = '\0';
        if (mkdir(p, 0700) == 0) {
            chmod(p, 0700); /* exactly 0700 whatever the umask */
        } else if (errno != EEXIST) {
            log_error("store: cannot create %s: %s", p, strerror(errno));
            free(p);
            return -1;
        }
        if (last)
            break;
        *q = '/';
    }
    struct stat sb;
    int rc = 0;
    if (stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        log_error("store: %s is not a directory", p);
        rc = -1;
    }
    free(p);
    return rc;
}

static int stamp_open(store *s);

/* flock, not a POSIX lock: POSIX locks belong to the process and vanish
 * when any of its descriptors on the file closes (SQLite's own rule), and
 * are shared by the process's threads; a flock belongs to this open file
 * and goes only with it, or with the process. The holder's pid is written
 * into the file for the message of the next one to try. */
static int lock_take(store *s, const char *dir)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, STORE_LOCK_NAME) < 0) {
        log_error("store: out of memory");
        return -1;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        log_error("store: cannot open %s: %s", path, strerror(errno));
        free(path);
        return -1;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        char pid[24] = "";
        ssize_t n = pread(fd, pid, sizeof pid - 1, 0);
        pid[n > 0 ? n : 0] = '\0';
        pid[strcspn(pid, "\n")] = '\0';
        if (e == EWOULDBLOCK)
            log_error("store: data directory %s is in use by another meetd serve "
                      "(pid %s holds %s)", dir, pid[0] ? pid : "unknown", path);
        else
            log_error("store: cannot lock %s: %s", path, strerror(e));
        close(fd);
        free(path);
        return -1;
    }
    char pid[24];
    int len = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
    if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len)
        log_error("store: cannot write the pid into %s: %s", path, strerror(errno));
    free(path);
    s->lock_fd = fd;
    return 0;
}

/* Creates the database file 0600 before SQLite opens it, so it never exists
 * with the umask's mode (SQLite gives its -wal and -shm files the database
 * file's mode). An existing file is only tightened: opening and closing a
 * descriptor on it here could drop POSIX locks SQLite holds in this
 * process. */
static int make_db_file(const char *path)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd >= 0) {
        int rc = fchmod(fd, 0600);
        if (rc != 0)
            log_error("store: chmod %s: %s", path, strerror(errno));
        close(fd);
        return rc;
    }
    if (errno != EEXIST) {
        log_error("store: cannot create %s: %s", path, strerror(errno));
        return -1;
    }
    struct stat sb;
    if (stat(path, &sb) == 0 && (sb.st_mode & 077) != 0 && chmod(path, 0600) != 0)
        log_error("store: chmod %s: %s", path, strerror(errno));
    return 0;
}

/* ---- open and close ---------------------------------------------------- */

static int writer_start(store *s);
static void writer_stop(store *s);

int store_open(const store_options *opt, store **out)
{
    assert(out != NULL);
    *out = NULL;
    if (opt == NULL || opt->data_dir == NULL || opt->data_dir[0] == '\0') {
        log_error("store: no data directory given");
        return -1;
    }
    if (!sqlite3_threadsafe()) {
        log_error("store: SQLite was built without thread support");
        return -1;
    }
    if (make_dirs(opt->data_dir) != 0)
        return -1;

    store *s = calloc(1, sizeof *s);
    if (s == NULL) {
        log_error("store: out of memory");
        return -1;
    }
    s->lock_fd = -1;
    if (opt->exclusive && lock_take(s, opt->data_dir) != 0) {
        free(s);
        return -1;
    }
    /* asprintf leaves its pointer undefined when it fails. */
    if (asprintf(&s->path, "%s/%s", opt->data_dir, STORE_DB_NAME) < 0)
        s->path = NULL;
    if (s->path == NULL ||
        asprintf(&s->stamp_path, "%s/%s", opt->data_dir, STORE_STAMP_NAME) < 0) {
        free(s->path);
        if (s->lock_fd >= 0)
            close(s->lock_fd);
        free(s);
        log_error("store: out of memory");
        return -1;
    }
    s->durability = opt->durability;
    pthread_mutex_init(&s->queue_lock, NULL);
    pthread_cond_init(&s->queue_cond, NULL);
    pthread_mutex_init(&s->read_lock, NULL);
    pthread_cond_init(&s->read_cond, NULL);

    /* Migrations come before WAL so that a database of a newer meetd is
     * refused before anything about it changes. */
    if (store_pages_new(&s->pages) != 0 || make_db_file(s->path) != 0 || stamp_open(s) != 0 ||
        conn_open(s->path, true, s->durability, &s->writer) != 0 ||
        store_mcache_new(&s->writer->mcache) != 0 ||
        store_schema_migrate(s->writer->db, &s->version) != 0 || conn_wal(s->writer->db) != 0 ||
        store_ckpt_start(s->path, s->writer->db, &s->ckpt) != 0 || writer_start(s) != 0) {
        store_close(s);
        return -1;
    }
    *out = s;
    return 0;
}

void store_close(store *s)
{
    if (s == NULL)
        return;
    /* What is queued is committed (and its callers told) before anything
     * closes. */
    writer_stop(s);
    /* Every reader must be back: closing under a running store_read is a
     * bug of the caller. */
    assert(s->n_idle == s->n_open);
    for (int i = 0; i < s->n_idle; i++)
        conn_close(s->idle[i]);
    /* The writer goes last: the last connection to close checkpoints the
     * WAL into the database file and removes it. Before that, refresh the
     * planner's statistics where SQLite thinks they are stale (bounded). */
    if (s->writer != NULL)
        store_ckpt_stop(s->ckpt, s->writer->db);
    if (s->writer != NULL && s->version > 0) {
        sqlite3_exec(s->writer->db, "PRAGMA analysis_limit = 400", NULL, NULL, NULL);
        sqlite3_exec(s->writer->db, "PRAGMA optimize", NULL, NULL, NULL);
    }
    conn_close(s->writer);
    store_pages_free(s->pages);
    pthread_cond_destroy(&s->read_cond);
    pthread_mutex_destroy(&s->read_lock);
    assert(s->queue_head == NULL);
    pthread_cond_destroy(&s->queue_cond);
    pthread_mutex_destroy(&s->queue_lock);
    if (s->stamp != NULL)
        munmap(s->stamp, sizeof *s->stamp);
    /* Last: the directory is free once everything in it is closed. */
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s->path);
    free(s->stamp_path);
    free(s);
}

int store_schema_version(store *s)
{
    assert(s != NULL);
    return s->version;
}

/* ---- transactions ------------------------------------------------------ */

/* Set while this thread runs a caller's fn: a fn calling store_write would
 * wait for its own batch forever, so that is refused. */
static _Thread_local bool store_in_fn;

/* Runs one caller's fn inside the open transaction and says whether its
 * work may be kept. */
static int tx_apply(store_tx *tx, store_fn fn, void *arg)
{
    tx->failed = false;
    store_in_fn = true;
    int rc = fn(tx, arg);
    store_in_fn = false;
    if (rc == 0 && tx->failed) {
        log_error("store: a transaction ignored a store error: rolled back");
        rc = -1;
    }
    return rc;
}

typedef struct store_job {
    store_fn fn;
    void *arg;
    store_done_fn done;
    void *done_arg;
    int rc;
    bool keys_changed;
    struct store_job *next;
} store_job;

/* Largest batch: bounds how long the first caller of a batch waits. */
#define STORE_BATCH_MAX 256

/* One job of a batch, inside its savepoint. Returns false when the whole
 * transaction is lost (SQLite rolled it back after an I/O or memory error). */
static bool batch_job(store_conn *c, store_job *job)
{
    if (conn_tx(c, STMT_JOB_BEGIN) != 0) {
        job->rc = -1;
        return !sqlite3_get_autocommit(c->db);
    }
    store_tx tx = {.conn = c};
    store_mcache_job_begin(c->mcache);
    job->rc = tx_apply(&tx, job->fn, job->arg);
    job->keys_changed = tx.keys_changed && job->rc == 0;
    /* It may have read back a change that is now undone. */
    if (job->rc != 0)
        store_mcache_job_undone(c->mcache);
    if (sqlite3_get_autocommit(c->db))
        return false;
    if (job->rc != 0 && conn_tx(c, STMT_JOB_ROLLBACK) != 0)
        return false;
    /* After ROLLBACK TO the savepoint is still open: release it either way. */
    return conn_tx(c, STMT_JOB_RELEASE) == 0;
}

/* Every signed request asks whether a key may have changed (the key cache
 * is dropped when it has), so the answer must cost no system call: the
 * counter lives in the first 8 bytes of keys.stamp, mapped shared by every
 * process that has the store open, and a commit that changes an app or a
 * key adds one to it atomically. A stat of the file on each request was
 * 2.5 % of meetd's CPU at the kickout maximum. Only processes running at the
 * same time compare stamps, so the counter's value means nothing on its
 * own and a file of an earlier meetd (one byte appended per change) is
 * simply taken over. */
static int stamp_open(store *s)
{
    int fd = open(s->stamp_path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0 ||
        ((size_t)sb.st_size < sizeof *s->stamp && ftruncate(fd, sizeof *s->stamp) != 0)) {
        log_error("store: cannot open %s: %s", s->stamp_path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    void *map = mmap(NULL, sizeof *s->stamp, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        log_error("store: cannot map %s: %s", s->stamp_path, strerror(errno));
        return -1;
    }
    s->stamp = map;
    s->stamp_ino = (uint64_t)sb.st_ino;
    return 0;
}

static void stamp_move(store *s)
{
    __atomic_add_fetch(s->stamp, 1, __ATOMIC_SEQ_CST);
}

void store_keys_stamp(store *s, store_stamp *out)
{
    out->moves = __atomic_load_n(s->stamp, __ATOMIC_SEQ_CST);
    out->file = s->stamp_ino;
}

/* Runs a batch in one transaction and sets every job's rc. */
static void batch_run(store *s, store_job *batch)
{
    store_conn *c = s->writer;
    store_ckpt_batch_begin(s->ckpt);
    bool ok = conn_tx(c, STMT_TX_BEGIN_IMMEDIATE) == 0;
    if (ok) {
        /* Failing only costs the copies: they are dropped. */
        store_tx tx = {.conn = c};
        (void)store_mcache_check(c->mcache, &tx);
    }
    for (store_job *j = batch; ok && j != NULL; j = j->next)
        ok = batch_job(c, j);
    int64_t commit_us = 0;
    if (ok) {
        int64_t t0 = clock_mono_us();
        ok = conn_tx(c, STMT_TX_COMMIT) == 0;
        commit_us = clock_mono_us() - t0;
    }
    if (ok) {
        uint64_t n = 0;
        bool keys_changed = false;
        for (store_job *j = batch; j != NULL; j = j->next) {
            n += j->rc == 0;
            keys_changed |= j->keys_changed;
        }
        metrics_add(METRICS_STORE_COMMITS, 1);
        metrics_add(METRICS_STORE_WRITES, n);
        metrics_commit(commit_us);
        /* Before any caller hears of its commit, so that once `meetd app
         * rotate-key` has said so no server takes the old key. */
        if (keys_changed)
            stamp_move(s);
    } else {
        store_mcache_clear(c->mcache);
        /* Nothing of this batch is committed: no job may say otherwise. */
        for (store_job *j = batch; j != NULL; j = j->next)
            if (j->rc == 0)
                j->rc = -1;
        log_error("store: a write transaction of %s failed",
                  batch->next != NULL ? "a batch" : "one caller");
    }
    if (conn_settle(c) != 0)
        log_error("store: could not roll back a write transaction");
    store_ckpt_batch_end(s->ckpt);
}

/* Takes up to STORE_BATCH_MAX queued jobs (queue_lock held). */
static store_job *queue_take(store *s)
{
    store_job *batch = s->queue_head, *last = batch;
    int n = 1;
    for (; n < STORE_BATCH_MAX && last->next != NULL; n++)
        last = last->next;
    s->queue_head = last->next;
    if (s->queue_head == NULL)
        s->queue_tail = NULL;
    last->next = NULL;
    return batch;
}

/* Set on the writer thread: a store_fn or a done callback that called
 * store_write would wait for itself forever, so that is refused. */
static _Thread_local bool store_on_writer;

/* The writer: takes whatever is queued as one batch, commits it, tells each
 * caller, and goes again; what arrives during a commit waits for the next
 * one, so the busier the store the larger the groups. It sleeps only when
 * the queue is empty, so a busy store costs its callers no wake-ups. */
static void *writer_main(void *arg)
{
    store *s = arg;
    store_on_writer = true;
    pthread_setname_np(pthread_self(), "store-writer");
    pthread_mutex_lock(&s->queue_lock);
    for (;;) {
        while (s->queue_head == NULL && !s->writer_stopping) {
            s->writer_idle = true;
            pthread_cond_wait(&s->queue_cond, &s->queue_lock);
        }
        s->writer_idle = false;
        if (s->queue_head == NULL)
            break;   /* stopping, and everything queued is done */
        store_job *batch = queue_take(s);
        pthread_mutex_unlock(&s->queue_lock);
        batch_run(s, batch);
        for (store_job *j = batch, *next; j != NULL; j = next) {
            next = j->next;
            j->done(j->done_arg, j->rc);
            free(j);
        }
        pthread_mutex_lock(&s->queue_lock);
    }
    pthread_mutex_unlock(&s->queue_lock);
    return NULL;
}

static int writer_start(store *s)
{
    if (pthread_create(&s->writer_thread, NULL, writer_main, s) != 0) {
        log_error("store: cannot start the writer thread");
        return -1;
    }
    s->writer_started = true;
    return 0;
}

/* Lets the writer finish what is queued, then joins it. */
static void writer_stop(store *s)
{
    if (!s->writer_started)
        return;
    pthread_mutex_lock(&s->queue_lock);
    s->writer_stopping = true;
    pthread_cond_signal(&s->queue_cond);
    pthread_mutex_unlock(&s->queue_lock);
    pthread_join(s->writer_thread, NULL);
    s->writer_started = false;
}

int store_write_async(store *s, store_fn fn, void *arg, store_done_fn done, void *done_arg)
{
    assert(s != NULL && fn != NULL && done != NULL);
    store_job *job = calloc(1, sizeof *job);
    if (job == NULL) {
        log_error("store: out of memory");
        return -1;
    }
    *job = (store_job){.fn = fn, .arg = arg, .done = done, .done_arg = done_arg, .rc = -1};
    pthread_mutex_lock(&s->queue_lock);
    if (s->writer_stopping) {
        pthread_mutex_unlock(&s->queue_lock);
        free(job);
        log_error("store: a write after the store began to close");
        return -1;
    }
    if (s->queue_tail != NULL)
        s->queue_tail->next = job;
    else
        s->queue_head = job;
    s->queue_tail = job;
    if (s->writer_idle) {
        s->writer_idle = false;
        pthread_cond_signal(&s->queue_cond);
    }
    pthread_mutex_unlock(&s->queue_lock);
    return 0;
}

/* store_write's caller, waiting on the stack for its job. */
typedef struct store_waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    int rc;
} store_waiter;

static void waiter_done(void *arg, int rc)
{
    store_waiter *w = arg;
    pthread_mutex_lock(&w->lock);
    w->rc = rc;
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

int store_write(store *s, store_fn fn, void *arg)
{
    assert(s != NULL && fn != NULL);
    if (store_on_writer || store_in_fn) {
        log_error("store: store_write called from inside a store_fn or a done callback");
        return -1;
    }
    store_waiter w = {.rc = -1};
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    int rc = -1;
    if (store_write_async(s, fn, arg, waiter_done, &w) == 0) {
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
    for (const store_job *j = s->queue_head; j != NULL; j = j->next)
        n++;
    pthread_mutex_unlock(&s->queue_lock);
    return n;
}

static store_conn *reader_get(store *s)
{
    pthread_mutex_lock(&s->read_lock);
    while (s->n_idle == 0 && s->n_open == STORE_READERS_MAX)
        pthread_cond_wait(&s->read_cond, &s->read_lock);
    if (s->n_idle > 0) {
        store_conn *c = s->idle[--s->n_idle];
        pthread_mutex_unlock(&s->read_lock);
        return c;
    }
    /* Claim the slot, then open outside the lock: opening does file I/O. */
    s->n_open++;
    pthread_mutex_unlock(&s->read_lock);
    store_conn *c = NULL;
    if (conn_open(s->path, false, s->durability, &c) != 0) {
        pthread_mutex_lock(&s->read_lock);
        s->n_open--;
        pthread_cond_signal(&s->read_cond);
        pthread_mutex_unlock(&s->read_lock);
        return NULL;
    }
    /* Readers only: they see committed sessions alone, so every position
     * they remember is for good. */
    c->pages = s->pages;
    return c;
}

static void reader_put(store *s, store_conn *c)
{
    /* A connection stuck inside a transaction would pin an old snapshot
     * forever: drop it instead of pooling it. */
    bool broken = conn_settle(c) != 0;
    if (broken)
        conn_close(c);
    pthread_mutex_lock(&s->read_lock);
    if (broken)
        s->n_open--;
    else
        s->idle[s->n_idle++] = c;
    assert(s->n_idle <= s->n_open && s->n_open <= STORE_READERS_MAX);
    pthread_cond_signal(&s->read_cond);
    pthread_mutex_unlock(&s->read_lock);
}

int store_read(store *s, store_fn fn, void *arg)
{
    assert(s != NULL && fn != NULL);
    store_conn *c = reader_get(s);
    if (c == NULL)
        return -1;
    int rc = -1;
    /* Deferred: the snapshot is taken at the first read and held until the
     * end, so everything fn reads is from one committed state. */
    if (conn_tx(c, STMT_TX_BEGIN) == 0) {
        store_tx tx = {.conn = c};
        rc = tx_apply(&tx, fn, arg);
        if (rc == 0 && conn_tx(c, STMT_TX_COMMIT) != 0)
            rc = -1;
    }
    reader_put(s, c);
    return rc;
}
