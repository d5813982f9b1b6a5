/* The SQLite backend: connections, transactions, statement cache.
 *
 * Its internals carry the prefix lite_ (lite.h), not store_: store_ is the
 * interface (store.h) that every backend serves, and a second backend
 * (PostgreSQL, pgsql_) links beside this one without a name in common.
 * The one symbol it exports is its table, store_backend_sqlite (bottom).
 *
 * One database file, <data_dir>/meetd.db, in WAL mode. Writes go through a
 * single connection, so the backend asks the queue (queue.c) for one writer
 * thread: SQLite admits one writer at a time anyway, and serialising
 * in-process avoids busy-waiting on the file lock. The queue's group commit
 * runs here as BEGIN IMMEDIATE, a SAVEPOINT per job, one COMMIT (one sync)
 * per batch. Reads run on a small pool of read-only connections; under WAL
 * each read transaction sees one consistent snapshot and never blocks, nor
 * is blocked by, the writer. SQLite never answers STORE_RETRY: with one
 * writer there is nothing to serialise against. WAL checkpoints run on a
 * thread of their own (ckpt.c).
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
#include "store/sqlite/lite.h"

#define LITE_DB_NAME "meetd.db"
/* Its first 8 bytes count the commits that changed an app or a key, in
 * any process: see stamp_open. */
#define LITE_STAMP_NAME "keys.stamp"
/* Held (flock) by the one server of a data directory: two servers would
 * each keep their own replay memory and caches of the same database. */
#define LITE_LOCK_NAME "serve.lock"
/* Read connections kept open; more concurrent readers wait for one. */
#define LITE_READERS_MAX 8
/* How long a connection waits on a lock held by another process (meetd app
 * administering the directory offline) before giving up. */
#define LITE_BUSY_MS 5000

typedef struct lite_store {
    char *path;
    char *stamp_path;               /* <data_dir>/keys.stamp: store_keys_stamp */
    uint64_t *stamp;                /* its first 8 bytes, mapped shared */
    uint64_t stamp_ino;
    int lock_fd;                    /* serve.lock while held, else -1 */
    int version;
    store_durability durability;

    lite_conn *writer;
    lite_ckpt *ckpt;
    lite_pages *pages;             /* shared by every connection */

    pthread_mutex_t read_lock;
    pthread_cond_t read_cond;
    lite_conn *idle[LITE_READERS_MAX];
    int n_idle;
    int n_open;                     /* readers open, idle or checked out */
} lite_store;

static const char *const stmt_sql[STMT__COUNT] = {
#define LITE_STMT_SQL(name, sql) [STMT_##name] = sql,
    LITE_STATEMENTS(LITE_STMT_SQL)
#undef LITE_STMT_SQL
};

static const char *const stmt_name[STMT__COUNT] = {
#define LITE_STMT_NAME(name, sql) [STMT_##name] = #name,
    LITE_STATEMENTS(LITE_STMT_NAME)
#undef LITE_STMT_NAME
};

static void conn_log(sqlite3 *db, const char *what)
{
    log_error("store: %s: %s (%d)", what, sqlite3_errmsg(db), sqlite3_extended_errcode(db));
}

/* ---- statements -------------------------------------------------------- */

static sqlite3_stmt *conn_stmt(lite_conn *c, enum lite_stmt_id id)
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
static int conn_tx(lite_conn *c, enum lite_stmt_id id)
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
static int conn_settle(lite_conn *c)
{
    if (sqlite3_get_autocommit(c->db))
        return 0;
    if (conn_tx(c, STMT_TX_ROLLBACK) == 0 && sqlite3_get_autocommit(c->db))
        return 0;
    return -1;
}

sqlite3_stmt *lite_stmt(store_tx *tx, enum lite_stmt_id id)
{
    assert(tx != NULL && tx->conn != NULL);
    lite_conn *c = tx->conn;
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
        lite_done(tx, id, st);
        tx->failed = true;
        return NULL;
    }
    return st;
}

void lite_done(store_tx *tx, enum lite_stmt_id id, sqlite3_stmt *st)
{
    if (st == NULL)
        return;
    if (st != lite_tx_conn(tx)->stmt[id]) {
        sqlite3_finalize(st);
        return;
    }
    /* reset repeats the last step's error code; it was handled already. */
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
}

store_rc lite_sqlite_rc(store_tx *tx, enum lite_stmt_id id, int rc)
{
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
        return STORE_CONFLICT;
    /* sqlite3_errmsg names the failed constraint or cause, never a value,
     * so secrets cannot reach the log this way. */
    conn_log(lite_tx_conn(tx)->db, stmt_name[id]);
    tx->failed = true;
    return STORE_ERROR;
}

store_rc lite_invalid(store_tx *tx, const char *what)
{
    log_error("store: %s", what);
    tx->failed = true;
    return STORE_ERROR;
}

/* Binds fail only on misuse or an oversized value: always an error. */
static store_rc bind_failed(store_tx *tx, enum lite_stmt_id id)
{
    conn_log(lite_tx_conn(tx)->db, stmt_name[id]);
    tx->failed = true;
    return STORE_ERROR;
}

store_rc lite_exec(store_tx *tx, enum lite_stmt_id id, sqlite3_stmt *st, int bind_rc,
                    int64_t *changes)
{
    if (bind_rc != SQLITE_OK) {
        int rc = bind_failed(tx, id);
        lite_done(tx, id, st);
        return rc;
    }
    int rc = sqlite3_step(st);
    int out = rc == SQLITE_DONE ? STORE_OK : lite_sqlite_rc(tx, id, rc);
    if (changes != NULL)
        *changes = out == STORE_OK ? sqlite3_changes64(lite_tx_conn(tx)->db) : 0;
    lite_done(tx, id, st);
    return out;
}

store_rc lite_row(store_tx *tx, enum lite_stmt_id id, sqlite3_stmt *st, int bind_rc)
{
    if (bind_rc != SQLITE_OK)
        return bind_failed(tx, id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW)
        return STORE_OK;
    return rc == SQLITE_DONE ? STORE_NOTFOUND : lite_sqlite_rc(tx, id, rc);
}

store_rc lite_each(store_tx *tx, enum lite_stmt_id id, sqlite3_stmt *st, int bind_rc,
                    lite_row_fn row, void *ctx)
{
    if (bind_rc != SQLITE_OK) {
        int rc = bind_failed(tx, id);
        lite_done(tx, id, st);
        return rc;
    }
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int stop = row(st, ctx);
        if (stop != 0) {
            lite_done(tx, id, st);
            return stop;
        }
    }
    int out = rc == SQLITE_DONE ? STORE_OK : lite_sqlite_rc(tx, id, rc);
    lite_done(tx, id, st);
    return out;
}

store_rc lite_count(store_tx *tx, enum lite_stmt_id id, sqlite3_stmt *st, int bind_rc,
                     int64_t *out)
{
    int rc = lite_row(tx, id, st, bind_rc);
    if (rc == STORE_OK)
        *out = sqlite3_column_int64(st, 0);
    else if (rc == STORE_NOTFOUND)
        rc = lite_invalid(tx, "count(*) returned no row");
    lite_done(tx, id, st);
    return rc;
}

store_rc lite_sp_begin(store_tx *tx)
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_SP_BEGIN);
    if (st == NULL)
        return STORE_ERROR;
    return lite_exec(tx, STMT_SP_BEGIN, st, SQLITE_OK, NULL);
}

store_rc lite_sp_end(store_tx *tx, store_rc rc)
{
    if (rc != STORE_OK) {
        sqlite3_stmt *st = lite_stmt(tx, STMT_SP_ROLLBACK);
        if (st == NULL || lite_exec(tx, STMT_SP_ROLLBACK, st, SQLITE_OK, NULL) != STORE_OK)
            return STORE_ERROR;
    }
    /* After ROLLBACK TO the savepoint is still open: release it either way. */
    sqlite3_stmt *st = lite_stmt(tx, STMT_SP_RELEASE);
    if (st == NULL || lite_exec(tx, STMT_SP_RELEASE, st, SQLITE_OK, NULL) != STORE_OK)
        return STORE_ERROR;
    return rc;
}

/* ---- values ------------------------------------------------------------ */

void lite_col_str(sqlite3_stmt *st, int col, char *dst, size_t cap)
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

int64_t lite_row_num(const store_row *r, int col)
{
    return sqlite3_column_int64((sqlite3_stmt *)r->res, col);
}

void lite_row_text(const store_row *r, int col, char *dst, size_t cap)
{
    lite_col_str((sqlite3_stmt *)r->res, col, dst, cap);
}

/* sqlite3_column_text's pointer stays valid until the statement steps or
 * is reset, or this column is converted (a STRICT TEXT column never is). */
const char *lite_row_str(const store_row *r, int col)
{
    const unsigned char *s = sqlite3_column_text((sqlite3_stmt *)r->res, col);
    return s != NULL ? (const char *)s : "";
}

void lite_row_bytes(const store_row *r, int col, uint8_t *dst, size_t n)
{
    sqlite3_stmt *st = (sqlite3_stmt *)r->res;
    const void *b = sqlite3_column_blob(st, col);
    if (b != NULL && (size_t)sqlite3_column_bytes(st, col) == n)
        memcpy(dst, b, n);
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

static void conn_close(lite_conn *c)
{
    if (c == NULL)
        return;
    for (int i = 0; i < STMT__COUNT; i++)
        sqlite3_finalize(c->stmt[i]);
    if (sqlite3_close(c->db) != SQLITE_OK)
        conn_log(c->db, "close");
    lite_mcache_free(c->mcache);
    free(c);
}

/* Pages of 1 KiB rather than SQLite's 4 KiB, for databases created from
 * now on (SQLite ignores it for one that has tables). A kickout or a join
 * dirties one leaf in each of several B-trees, a few rows in each: every
 * dirty page is written whole to the WAL at the commit and again to the
 * database at the checkpoint, so smaller pages mean a quarter of the bytes
 * written and synced for the same rows. Measured (bench/README.md): p50 and
 * p99 of kickouts at a fixed rate down, throughput the same. */
#define LITE_PAGE_SIZE_PRAGMA "PRAGMA page_size = 1024"

static int conn_open(const char *path, bool writable, store_durability durability,
                     lite_conn **out)
{
    *out = NULL;
    lite_conn *c = calloc(1, sizeof *c);
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
    sqlite3_busy_timeout(c->db, LITE_BUSY_MS);
    if (writable) {
        /* In WAL mode FULL syncs the log at every commit; NORMAL only at
         * checkpoints, so a commit survives a crash of meetd, not of the OS. */
        const char *sync = durability == STORE_DURABLE_FULL ? "PRAGMA synchronous = FULL"
                                                            : "PRAGMA synchronous = NORMAL";
        int fk = 0;
        if (conn_exec(c->db, LITE_PAGE_SIZE_PRAGMA) != 0 ||
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

static int stamp_open(lite_store *s);

/* flock, not a POSIX lock: POSIX locks belong to the process and vanish
 * when any of its descriptors on the file closes (SQLite's own rule), and
 * are shared by the process's threads; a flock belongs to this open file
 * and goes only with it, or with the process. The holder's pid is written
 * into the file for the message of the next one to try. */
static int lock_take(lite_store *s, const char *dir)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, LITE_LOCK_NAME) < 0) {
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

static void lite_close(void *impl);

static store_rc lite_open(const store_options *opt, void **out)
{
    assert(out != NULL);
    *out = NULL;
    if (opt == NULL || opt->data_dir == NULL || opt->data_dir[0] == '\0') {
        log_error("store: no data directory given");
        return STORE_ERROR;
    }
    if (!sqlite3_threadsafe()) {
        log_error("store: SQLite was built without thread support");
        return STORE_ERROR;
    }
    if (make_dirs(opt->data_dir) != 0)
        return STORE_ERROR;

    lite_store *s = calloc(1, sizeof *s);
    if (s == NULL) {
        log_error("store: out of memory");
        return STORE_ERROR;
    }
    s->lock_fd = -1;
    if (opt->exclusive && lock_take(s, opt->data_dir) != 0) {
        free(s);
        return STORE_ERROR;
    }
    /* asprintf leaves its pointer undefined when it fails. */
    if (asprintf(&s->path, "%s/%s", opt->data_dir, LITE_DB_NAME) < 0)
        s->path = NULL;
    if (s->path == NULL ||
        asprintf(&s->stamp_path, "%s/%s", opt->data_dir, LITE_STAMP_NAME) < 0) {
        free(s->path);
        if (s->lock_fd >= 0)
            close(s->lock_fd);
        free(s);
        log_error("store: out of memory");
        return STORE_ERROR;
    }
    s->durability = opt->durability;
    pthread_mutex_init(&s->read_lock, NULL);
    pthread_cond_init(&s->read_cond, NULL);

    /* Migrations come before WAL so that a database of a newer meetd is
     * refused before anything about it changes. */
    if (lite_pages_new(&s->pages) != 0 || make_db_file(s->path) != 0 || stamp_open(s) != 0 ||
        conn_open(s->path, true, s->durability, &s->writer) != 0 ||
        (s->writer->store = s, lite_mcache_new(&s->writer->mcache) != 0) ||
        lite_schema_migrate(s->writer->db, &s->version) != 0 || conn_wal(s->writer->db) != 0 ||
        lite_ckpt_start(s->path, s->writer->db, &s->ckpt) != 0) {
        lite_close(s);
        return STORE_ERROR;
    }
    *out = s;
    return STORE_OK;
}

static void lite_close(void *impl)
{
    lite_store *s = impl;
    if (s == NULL)
        return;
    /* The queue has stopped the writer thread (what was queued is
     * committed, and its callers told), and every reader must be back:
     * closing under a running store_read is a bug of the caller. */
    assert(s->n_idle == s->n_open);
    for (int i = 0; i < s->n_idle; i++)
        conn_close(s->idle[i]);
    /* The writer goes last: the last connection to close checkpoints the
     * WAL into the database file and removes it. Before that, refresh the
     * planner's statistics where SQLite thinks they are stale (bounded). */
    if (s->writer != NULL)
        lite_ckpt_stop(s->ckpt, s->writer->db);
    if (s->writer != NULL && s->version > 0) {
        sqlite3_exec(s->writer->db, "PRAGMA analysis_limit = 400", NULL, NULL, NULL);
        sqlite3_exec(s->writer->db, "PRAGMA optimize", NULL, NULL, NULL);
    }
    conn_close(s->writer);
    lite_pages_free(s->pages);
    pthread_cond_destroy(&s->read_cond);
    pthread_mutex_destroy(&s->read_lock);
    if (s->stamp != NULL)
        munmap(s->stamp, sizeof *s->stamp);
    /* Last: the directory is free once everything in it is closed. */
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    free(s->path);
    free(s->stamp_path);
    free(s);
}

static int lite_schema_version(void *impl)
{
    const lite_store *s = impl;
    return s->version;
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
static int stamp_open(lite_store *s)
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

static void stamp_move(lite_store *s)
{
    __atomic_add_fetch(s->stamp, 1, __ATOMIC_SEQ_CST);
}

static void lite_keys_stamp(void *impl, store_stamp *out)
{
    const lite_store *s = impl;
    out->moves = __atomic_load_n(s->stamp, __ATOMIC_SEQ_CST);
    out->file = s->stamp_ino;
}

/* ---- writes: the queue's hooks (backend.h) ----------------------------- */

static int lite_writers(void *impl)
{
    (void)impl;
    return 1;
}

/* Each connection (the writer, the checkpointer's, the read connections
 * opened on demand) holds the database file and its WAL; the process
 * holds the shared-memory file once, and the key stamp and the lock file. */
static int lite_descriptors(void *impl)
{
    (void)impl;
    return (1 + 1 + LITE_READERS_MAX) * 2 + 1 + 2;
}

/* Largest batch: bounds how long the first caller of a batch waits. */
#define LITE_BATCH_MAX 256

static int lite_batch_max(void *impl)
{
    (void)impl;
    return LITE_BATCH_MAX;
}

/* The one writer connection, opened with the store (migrations run on it)
 * and closed with it. */
static store_rc lite_writer_open(void *impl, int i, void **conn)
{
    lite_store *s = impl;
    assert(i == 0);
    *conn = s->writer;
    return STORE_OK;
}

static void lite_writer_close(void *impl, void *conn)
{
    (void)impl;
    (void)conn;
}

/* One writer: no other transaction takes a lock meanwhile, so the keys'
 * meetings need none. */
static store_rc lite_batch_begin(void *conn, const int64_t *keys, size_t n_keys)
{
    (void)keys;
    (void)n_keys;
    lite_conn *c = conn;
    lite_ckpt_batch_begin(c->store->ckpt);
    if (conn_tx(c, STMT_TX_BEGIN_IMMEDIATE) != 0)
        return STORE_ERROR;
    /* Failing only costs the copies: they are dropped. */
    store_tx tx = {.conn = c, .writable = true};
    (void)lite_mcache_check(c->mcache, &tx);
    return STORE_OK;
}

static store_rc lite_job_begin(void *conn)
{
    lite_conn *c = conn;
    if (conn_tx(c, STMT_JOB_BEGIN) != 0)
        return STORE_ERROR;
    lite_mcache_job_begin(c->mcache);
    return STORE_OK;
}

/* Some errors (I/O, out of memory) make SQLite roll the whole transaction
 * back: the batch is then lost, whatever the job said. */
static store_rc lite_job_end(void *conn, store_tx *tx, bool keep)
{
    (void)tx;
    lite_conn *c = conn;
    /* It may have read back a change that is now undone. */
    if (!keep)
        lite_mcache_job_undone(c->mcache);
    if (sqlite3_get_autocommit(c->db))
        return STORE_ERROR;
    if (!keep && conn_tx(c, STMT_JOB_ROLLBACK) != 0)
        return STORE_ERROR;
    /* After ROLLBACK TO the savepoint is still open: release it either way. */
    return conn_tx(c, STMT_JOB_RELEASE) == 0 ? STORE_OK : STORE_ERROR;
}

static store_rc lite_batch_commit(void *conn, bool keys_changed)
{
    lite_conn *c = conn;
    if (conn_tx(c, STMT_TX_COMMIT) != 0)
        return STORE_ERROR;
    /* Before any caller hears of its commit, so that once `meetd app
     * rotate-key` has said so no server takes the old key. */
    if (keys_changed)
        stamp_move(c->store);
    return STORE_OK;
}

static void lite_batch_end(void *conn, bool committed)
{
    lite_conn *c = conn;
    if (!committed)
        lite_mcache_clear(c->mcache);
    if (conn_settle(c) != 0)
        log_error("store: could not roll back a write transaction");
    lite_ckpt_batch_end(c->store->ckpt);
}

/* store_try's savepoint, one level below a job's: the writer's copies of
 * meetings must not outlive a change that fn made, read back and then
 * undid. The mcache's "changed" mark is the job's as a whole, so an undo
 * here drops the copies if anything of the job changed one: more than
 * needed at worst, never less. */
static store_rc lite_try_begin(store_tx *tx)
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_TRY_BEGIN);
    if (st == NULL || lite_exec(tx, STMT_TRY_BEGIN, st, SQLITE_OK, NULL) != STORE_OK)
        return STORE_ERROR;
    return STORE_OK;
}

static store_rc lite_try_end(store_tx *tx, bool keep)
{
    lite_conn *c = tx->conn;
    sqlite3_stmt *st;
    if (!keep) {
        if (c->mcache != NULL)
            lite_mcache_job_undone(c->mcache);
        st = lite_stmt(tx, STMT_TRY_ROLLBACK);
        if (st == NULL || lite_exec(tx, STMT_TRY_ROLLBACK, st, SQLITE_OK, NULL) != STORE_OK)
            return STORE_ERROR;
    }
    /* After ROLLBACK TO the savepoint is still open: release it either way. */
    st = lite_stmt(tx, STMT_TRY_RELEASE);
    if (st == NULL || lite_exec(tx, STMT_TRY_RELEASE, st, SQLITE_OK, NULL) != STORE_OK)
        return STORE_ERROR;
    return STORE_OK;
}

/* ---- reads -------------------------------------------------------------- */

static lite_conn *reader_get(lite_store *s)
{
    pthread_mutex_lock(&s->read_lock);
    while (s->n_idle == 0 && s->n_open == LITE_READERS_MAX)
        pthread_cond_wait(&s->read_cond, &s->read_lock);
    if (s->n_idle > 0) {
        lite_conn *c = s->idle[--s->n_idle];
        pthread_mutex_unlock(&s->read_lock);
        return c;
    }
    /* Claim the slot, then open outside the lock: opening does file I/O. */
    s->n_open++;
    pthread_mutex_unlock(&s->read_lock);
    lite_conn *c = NULL;
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

static void reader_put(lite_store *s, lite_conn *c)
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
    assert(s->n_idle <= s->n_open && s->n_open <= LITE_READERS_MAX);
    pthread_cond_signal(&s->read_cond);
    pthread_mutex_unlock(&s->read_lock);
}

/* Deferred: the snapshot is taken at the first read and held until the
 * end, so everything fn reads is from one committed state. */
static store_rc lite_read_begin(void *impl, store_tx *tx)
{
    lite_store *s = impl;
    lite_conn *c = reader_get(s);
    if (c == NULL)
        return STORE_ERROR;
    if (conn_tx(c, STMT_TX_BEGIN) != 0) {
        reader_put(s, c);
        return STORE_ERROR;
    }
    tx->conn = c;
    tx->writable = false;
    return STORE_OK;
}

static store_rc lite_read_end(void *impl, store_tx *tx, bool commit)
{
    lite_store *s = impl;
    lite_conn *c = tx->conn;
    store_rc rc = STORE_OK;
    if (commit && conn_tx(c, STMT_TX_COMMIT) != 0)
        rc = STORE_ERROR;
    reader_put(s, c);
    tx->conn = NULL;
    return rc;
}

/* ---- the table ---------------------------------------------------------- */

const store_backend store_backend_sqlite = {
    .name = "sqlite",
    .shared = false,
    .open = lite_open,
    .close = lite_close,
    .schema_version = lite_schema_version,
    .keys_stamp = lite_keys_stamp,
    .writers = lite_writers,
    .descriptors = lite_descriptors,
    .batch_max = lite_batch_max,
    .writer_open = lite_writer_open,
    .writer_close = lite_writer_close,
    .batch_begin = lite_batch_begin,
    .job_begin = lite_job_begin,
    .job_end = lite_job_end,
    .batch_commit = lite_batch_commit,
    .batch_end = lite_batch_end,
    .try_begin = lite_try_begin,
    .try_end = lite_try_end,
    .read_begin = lite_read_begin,
    .read_end = lite_read_end,
    /* One process serves a SQLite store: its replay memory covers reads. */
    .spend_now = NULL,
    .rate_take = NULL,   /* its node's own bucket is the app's (auth/ratelimit.c) */
    .spend = lite_spend,
    .app_insert = lite_app_insert,
    .app_get = lite_app_get,
    .app_list = lite_app_list,
    .app_count = lite_app_count,
    .app_delete = lite_app_delete,
    .key_insert = lite_key_insert,
    .key_get = lite_key_get,
    .key_list = lite_key_list,
    .key_delete_all = lite_key_delete_all,
    .meeting_insert = lite_meeting_insert,
    .meeting_get = lite_meeting_get,
    .meeting_app = lite_meeting_app,
    .meeting_by_code = lite_meeting_by_code,
    .meetings_of_user = lite_meetings_of_user,
    .meeting_update_status = lite_meeting_update_status,
    .meeting_update = lite_meeting_update,
    .user_get = lite_user_get,
    .user_party = lite_user_party,
    .user_insert = lite_user_insert,
    .user_by_no = lite_user_by_no,
    .user_set_cohost = lite_user_set_cohost,
    .user_set_nick = lite_user_set_nick,
    .cohosts_list = lite_cohosts_list,
    .cohosts_end = lite_cohosts_end,
    .user_presence = lite_user_presence,
    .device_insert = lite_device_insert,
    .device_present = lite_device_present,
    .device_end_present = lite_device_end_present,
    .device_end = lite_device_end,
    .devices_end_all = lite_devices_end_all,
    .device_get = lite_device_get,
    .device_by_token = lite_device_by_token,
    .participants_list = lite_participants_list,
    .participants_between = lite_participants_between,
    .present_list = lite_present_list,
    .ban_put = lite_ban_put,
    .ban_exists = lite_ban_exists,
    .ban_delete = lite_ban_delete,
    .bans_list = lite_bans_list,
    .audit_insert = lite_audit_insert,
    .audit_list = lite_audit_list,
    .event_insert = lite_event_insert,
    .events_since = lite_events_since,
    .events_since_many = lite_events_since_many,
    .events_last = lite_events_last,
    .events_prune = lite_events_prune,
    .node_register = lite_node_register,
    .node_heartbeat = lite_node_heartbeat,
    .node_list = lite_node_list,
    .node_stop = lite_node_stop,
    .stream_attach = lite_stream_attach,
    .stream_detach = lite_stream_detach,
    .meetings_lock_of_devices = lite_meetings_lock_of_devices,
    .stream_get = lite_stream_get,
    .presence_due = lite_presence_due,
    .presence_claim = lite_presence_claim,
    .webhook_insert = lite_webhook_insert,
    .webhook_get = lite_webhook_get,
    .webhook_list = lite_webhook_list,
    .webhook_count = lite_webhook_count,
    .webhook_delete = lite_webhook_delete,
    .outbox_insert = lite_outbox_insert,
    .outbox_due = lite_outbox_due,
    .outbox_pending = lite_outbox_pending,
    .outbox_next_due = lite_outbox_next_due,
    .outbox_claim = lite_outbox_claim,
    .outbox_release = lite_outbox_release,
    .outbox_delivered = lite_outbox_delivered,
    .outbox_retry = lite_outbox_retry,
    .outbox_failed = lite_outbox_failed,
    .deliveries_list = lite_deliveries_list,
};
