/* The store: meetd's durable state behind one interface.
 *
 * Callers never see SQL. They hand a function (a job) to store_write (or
 * store_read) and call the primitives below on the transaction it
 * receives; a backend (SQLite, src/store/sqlite/; PostgreSQL beside it)
 * decides how transactions are run, behind the table of backend.h. That
 * keeps "read state, apply the rules, write the outcome" atomic, and lets
 * a backend batch many requests' transactions into one commit (group
 * commit) without any caller changing.
 *
 * Every function returns a store_rc unless it says otherwise, and a
 * store_rc never carries anything else: a job's own answer (an API error,
 * "no such app") travels in its arg, never in the store's return code.
 *
 * The contract a job keeps (store_fn):
 *  - It returns STORE_OK to commit its work; anything else undoes all of it
 *    and is what store_write returns: STORE_ROLLBACK when its own rules
 *    declined (the reason in its arg), or a primitive's code it does not
 *    handle. After a primitive failed (STORE_ERROR, STORE_UNAVAILABLE) the
 *    job is never committed, even if it returns STORE_OK.
 *  - It may run MORE THAN ONCE: a backend that cannot serialise a batch (a
 *    serialization failure, a deadlock: PostgreSQL) rolls it back and runs
 *    every job of it again, from its start, in a new transaction. So a job
 *    resets at its start whatever it fills in its arg (counters, arrays it
 *    appends to, flags it sets, messages it records), and does nothing
 *    outside the store that cannot be done twice: effects that must happen
 *    once (waking a stream, a metric) come after store_write returns, from
 *    what the last run left in arg. store_options.rerun_jobs makes every
 *    job run twice, for the tests.
 *  - It does not call store_write or store_read, and does not wait for
 *    another job: it runs on a writer thread, inside a transaction shared
 *    with other callers' jobs.
 *  - Inside a write, reading a meeting (store_meeting_get) is where a
 *    backend with row locks (PostgreSQL) locks that meeting's row until
 *    the commit: two jobs on one meeting run one after the other, each
 *    seeing the other's committed work. A job reads the meeting before the
 *    rows it decides on (users, devices, bans), as the API's jobs do.
 *
 * A list primitive calls its callback once per row: the callback returns
 * STORE_OK to go on, or STORE_STOP (or any other code) to stop the list,
 * which then returns that code as is. STORE_STOP is nothing else's: a
 * stopped list is never mistaken for NOTFOUND.
 *
 * The contract a backend keeps: backend.h. */
#ifndef MEETD_STORE_H
#define MEETD_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"

typedef enum store_rc {
    STORE_OK = 0,
    STORE_NOTFOUND = 1,     /* no such row */
    STORE_CONFLICT = 2,     /* a unique key is taken (generated id collision) */
    STORE_STOP = 3,         /* a callback stopped a list; the list returns it */
    STORE_ROLLBACK = 4,     /* a job declined (its own rules refused): undone */
    STORE_REFUSED = 5,      /* a compare-and-set found another value: nothing written */
    STORE_ERROR = -1,       /* the backend failed; already logged */
    STORE_UNAVAILABLE = -2, /* the backend cannot be reached now; logged */
    STORE_RETRY = -3,       /* backend to queue only (backend.h); never returned */
} store_rc;

typedef struct store store;
typedef struct store_tx store_tx;

/* Durability of a committed write. FULL: synced to disk before store_write
 * returns (the default). NORMAL: survives a crash of meetd, not of the OS. */
typedef enum store_durability {
    STORE_DURABLE_FULL = 0,
    STORE_DURABLE_NORMAL = 1,
} store_durability;

typedef struct store_options {
    const char *data_dir;          /* SQLite: <data_dir>/meetd.db, created 0600 */
    store_durability durability;
    /* Take <data_dir>/serve.lock (flock, exclusive) for the store's life,
     * or fail: one server per data directory. Administration (meetd app)
     * leaves it false and works beside a running server. */
    bool exclusive;
    /* Which backend (store_backend.name): NULL or "sqlite" for SQLite in
     * data_dir, "postgres" for PostgreSQL at conninfo (when built in). */
    const char *backend;
    const char *conninfo;
    /* PostgreSQL: writer connections of this node, each committing batches
     * of its own (0: the backend's default; SQLite always runs one). */
    int writers;
    /* Tests: every batch of writes runs twice, the first run rolled back
     * as after a serialization failure, so that a job that is not safe to
     * run again shows it on any backend. */
    bool rerun_jobs;
} store_options;

/* Opens (creating and migrating as needed) the store. With opt->exclusive
 * set and the lock held by another process, it fails (logged, naming the
 * holder's pid) before anything in the directory is opened. */
store_rc store_open(const store_options *opt, store **out);
void store_close(store *s);
/* The schema version the store is at after migrations. */
int store_schema_version(store *s);
/* The most descriptors the store may hold at once (its connections, made
 * on demand or again after a loss, and their files), counting those it
 * holds now: what the network connections must leave it. */
int store_descriptors(store *s);

/* Runs the job fn inside one write transaction (the contract above). fn
 * returns STORE_OK to commit, anything else to roll back every change it
 * made; that value is then returned as is. Returns STORE_OK only once the
 * transaction is committed (durably, per the durability mode), and
 * STORE_ERROR or STORE_UNAVAILABLE when the backend could not begin or
 * commit (the changes are then not made). fn runs on a writer thread, in a
 * transaction it shares with other callers' (group commit, each fn in a
 * savepoint of its own). */
typedef store_rc (*store_fn)(store_tx *tx, void *arg);
store_rc store_write(store *s, store_fn fn, void *arg);
/* Whose a write is, for the metrics only: each committed write is counted
 * once, at its commit, in meetd_store_writes_total and in its origin's
 * counter (requests', presence's or webhooks'), so that a reader of
 * /metrics can tell the requests' writes from meetd's own exactly. */
typedef enum store_origin {
    STORE_ORIGIN_REQUEST,       /* store_write and store_write_async*: a client's */
    STORE_ORIGIN_PRESENCE,      /* stream opens and closes, heartbeats, time-outs */
    STORE_ORIGIN_WEBHOOK,       /* the webhook worker's looks, outcomes, releases */
    STORE_ORIGIN__COUNT
} store_origin;
/* store_write, counted as origin's. */
store_rc store_write_as(store *s, store_origin origin, store_fn fn, void *arg);
/* store_write without the wait: queues fn and returns at once. Once fn's
 * work is committed (or rolled back), done(done_arg, rc) is called, once,
 * with the rc store_write would have returned, on a writer thread: done
 * must be quick and must not call the store. Returns STORE_ERROR, and
 * never calls done, when the write cannot be queued (out of memory,
 * closing). */
typedef void (*store_done_fn)(void *done_arg, store_rc rc);
store_rc store_write_async(store *s, store_fn fn, void *arg, store_done_fn done,
                           void *done_arg);
/* store_write_async with a key (nonzero: the id of the meeting the job
 * changes): writes with one key are run one after the other, in the order
 * queued, and their done callbacks come in their commit order, even where
 * the backend runs several writers (PostgreSQL); writes with different keys
 * (or none) may commit, and be called back, in any order. A job may
 * change rows of other meetings: row locks keep it right, only those
 * meetings' callbacks are not ordered with it. */
store_rc store_write_async_key(store *s, int64_t key, store_fn fn, void *arg,
                               store_done_fn done, void *done_arg);
/* Writes queued for the next batch (for tests: it walks the queue). */
int store_write_queue(store *s);
/* Inside a store_fn: runs fn in a savepoint of its own and returns what it
 * returns. When that is not STORE_OK, fn's changes are undone and the
 * caller's other changes in the job are kept (a store error still fails
 * the whole job). */
store_rc store_try(store_tx *tx, store_fn fn, void *arg);

/* Spends a signed request's (AppId, timestamp, nonce): STORE_CONFLICT when
 * it was spent before, by a write committed by this or an earlier process.
 * Written in the caller's transaction, so it is spent exactly when the
 * write is committed. Spent nonces whose timestamp is below keep_from (the
 * window's lower edge: such a request is refused anyway) are deleted, at
 * most once per second of keep_from. */
store_rc store_spend(store_tx *tx, const char *app_id, int64_t timestamp, uint64_t nonce,
                     int64_t keep_from);
/* Whether several processes (nodes) may serve this store at once
 * (PostgreSQL), so that what one commits another learns of only from the
 * rows: no commit of theirs wakes this process. */
bool store_shared(const store *s);
/* Takes up to `want` whole tokens from the app's shared token bucket
 * (store_shared stores only; STORE_ERROR elsewhere): the bucket holds at
 * most `burst` and refills at `rate` a second, by the database server's
 * clock, so that nodes whose clocks differ count alike. Sets *granted (0 when
 * the bucket holds less than one). Its own transaction, like
 * store_spend_now's; the bucket is made at the app's first call, full. */
store_rc store_rate_take(store *s, const char *app_id, double rate, double burst, int64_t want,
                         int64_t *granted);
/* Spends a signed read's triple on a store that several processes serve
 * (PostgreSQL): in a transaction of its own, committed (synchronously)
 * before this returns, so that a read answered by one node is refused on
 * every other. STORE_CONFLICT when it was spent before. On a store only
 * this process serves (SQLite) it does nothing and returns STORE_OK: the
 * process's replay memory (auth/replay.c) is then the whole of the reads'.
 * A spend whose connection was lost before its answer is tried once more,
 * and may then find itself spent: refused, as a replay is (never the
 * other way). */
store_rc store_spend_now(store *s, const char *app_id, int64_t timestamp, uint64_t nonce,
                         int64_t keep_from);
/* Runs fn on a consistent read-only snapshot, once. Same return
 * convention; write primitives fail (STORE_ERROR). */
store_rc store_read(store *s, store_fn fn, void *arg);

/* ---- apps and keys ----------------------------------------------------- */

/* Tells whether apps or keys may have changed since an earlier stamp, in
 * this process or another one (`meetd app` writes the database directly):
 * cheap enough to read on every request (a load from shared memory). Every
 * commit that changes an app or a key moves the stamp once it is
 * committed, so a cache of keys that is dropped when the stamp moves never
 * outlives a rotated or deleted key. */
typedef struct store_stamp {
    uint64_t moves; /* commits that changed an app or a key */
    uint64_t file;  /* which stamp file counted them */
} store_stamp;
void store_keys_stamp(store *s, store_stamp *out);

typedef struct store_app {
    char app_id[CORE_APPID_MAX + 1];
    char sdk_id[CORE_APPID_MAX + 1];   /* "" when the app has none */
    char name[CORE_ID_MAX + 1];
    int64_t created_at;
} store_app;

#define STORE_SECRET_MAX 64

typedef struct store_key {
    char secret_id[STORE_SECRET_MAX + 1];
    char secret_key[STORE_SECRET_MAX + 1];
    char app_id[CORE_APPID_MAX + 1];
    int64_t created_at;
} store_key;

store_rc store_app_insert(store_tx *tx, const store_app *app);        /* CONFLICT if taken */
store_rc store_app_get(store_tx *tx, const char *app_id, store_app *out);
typedef store_rc (*store_app_cb)(const store_app *app, void *arg);   /* STORE_STOP stops */
store_rc store_app_list(store_tx *tx, store_app_cb cb, void *arg);
/* In a write transaction the count serialises with every other write's
 * count, on every server sharing the store (SQLite: the one writer;
 * PostgreSQL: an advisory lock held to the commit), so "count the apps,
 * create one when there is none" in one write creates exactly one. */
store_rc store_app_count(store_tx *tx, int64_t *count);
/* Deletes the app with its keys and all its meetings' state. */
store_rc store_app_delete(store_tx *tx, const char *app_id);

store_rc store_key_insert(store_tx *tx, const store_key *key);        /* CONFLICT if taken */
/* The key with this SecretId, and its app. */
store_rc store_key_get(store_tx *tx, const char *secret_id, store_key *key, store_app *app);
typedef store_rc (*store_key_cb)(const store_key *key, void *arg);
store_rc store_key_list(store_tx *tx, const char *app_id, store_key_cb cb, void *arg);
store_rc store_key_delete_all(store_tx *tx, const char *app_id);

/* ---- meetings ------------------------------------------------------------ */

/* Inserts the meeting with its hosts and occurrences. CONFLICT when its
 * meeting_id or meeting_code is taken (the caller draws new ones). */
store_rc store_meeting_insert(store_tx *tx, const core_meeting *m);
/* The meeting of this app with this id, hosts and occurrences included:
 * found, all of *out is set (what the meeting lacks is zero), whatever it
 * held, so a caller need not clear it first. Another app's meeting is
 * NOTFOUND. Inside a write, a backend with row
 * locks (PostgreSQL) locks the meeting's row here until the commit: the
 * job's later reads and writes of the meeting are serialised with every
 * other job's on it (the contract above). */
store_rc store_meeting_get(store_tx *tx, const char *app_id, int64_t meeting_id,
                           core_meeting *out);
/* The app a meeting belongs to, for work that starts from a device rather
 * than from an app's request (presence time-outs). */
store_rc store_meeting_app(store_tx *tx, int64_t meeting_id, char app_id[CORE_APPID_MAX + 1]);
/* The meeting with this 9-digit code: its id and its app. Codes are unique
 * across apps; the caller checks the app when the request has one. */
store_rc store_meeting_by_code(store_tx *tx, const char *code, int64_t *meeting_id,
                               char app_id[CORE_APPID_MAX + 1]);
/* The app's meetings that userid created or hosts and that are in progress
 * or yet to start (a series: while one occurrence has neither ended nor been
 * cancelled), in order of start_time, then meeting_id. The list starts at
 * start_time `from`, leaving out the first `skip` meetings that start at
 * exactly `from` (Tencent's pos and cursory). cb sees the first `limit`;
 * *remaining gets how many follow them, and, when some do, *next_from and
 * *next_skip the position of the first of those. */
typedef store_rc (*store_meeting_id_cb)(int64_t meeting_id, void *arg);   /* STORE_STOP stops */
store_rc store_meetings_of_user(store_tx *tx, const char *app_id, const char *userid, int64_t from,
                                int64_t skip, int limit, store_meeting_id_cb cb, void *arg,
                                int64_t *remaining, int64_t *next_from, int64_t *next_skip);
/* Writes m->status and every occurrence's status. */
store_rc store_meeting_update_status(store_tx *tx, const core_meeting *m);
/* Writes what a modify may change: subject, meeting_type, times, status,
 * rule, and the hosts and occurrences as m has them (an occurrence keeps
 * its row's values by its sub_meeting_id; those m lacks are gone).
 * NOTFOUND when the meeting is not the app's. */
store_rc store_meeting_update(store_tx *tx, const core_meeting *m);

/* ---- users (identities per meeting) ---------------------------------- */

/* Looks a user of the meeting up by userid, guest_id, uuid or ms_open_id
 * (kind CORE_ID_USERID, CORE_ID_GUEST, CORE_ID_UUID, CORE_ID_MS_OPEN_ID). */
store_rc store_user_get(store_tx *tx, int64_t meeting_id, core_id_type kind, const char *value,
                        core_user *out);
/* store_user_get, then that user's store_user_presence (*mask) and
 * store_ban_exists (*banned), as one call: one round trip on a backend
 * with a server. NOTFOUND (*mask 0, *banned false) when no such user. */
store_rc store_user_party(store_tx *tx, int64_t meeting_id, core_id_type kind,
                          const char *value, core_user *out, uint64_t *mask, bool *banned);
/* Inserts u and sets u->user_no. CONFLICT when uuid/ms_open_id/userid/guest_id
 * is taken in this meeting. */
store_rc store_user_insert(store_tx *tx, int64_t meeting_id, core_user *u);
/* The user with this row id. */
store_rc store_user_by_no(store_tx *tx, int64_t user_no, core_user *out);
store_rc store_user_set_cohost(store_tx *tx, int64_t meeting_id, int64_t user_no, bool cohost);
store_rc store_user_set_nick(store_tx *tx, int64_t meeting_id, int64_t user_no, const char *nick);
/* The meeting's co-hosts, in the order they first joined. */
typedef store_rc (*store_user_cb)(const core_user *u, void *arg);   /* STORE_STOP stops */
store_rc store_cohosts_list(store_tx *tx, int64_t meeting_id, store_user_cb cb, void *arg);
/* Every co-host of the meeting loses the role (a dismiss: everyone is put
 * out, and nobody carries a role into a later occurrence). */
store_rc store_cohosts_end(store_tx *tx, int64_t meeting_id);

/* ---- devices (participant sessions) ------------------------------------ */

/* The instanceids on which the user is present now, as a bit mask. */
store_rc store_user_presence(store_tx *tx, int64_t meeting_id, int64_t user_no, uint64_t *mask);
/* Inserts a present session and sets d->device_no. */
store_rc store_device_insert(store_tx *tx, core_device *d);
/* The present session of (user, instanceid); NOTFOUND when none. */
store_rc store_device_present(store_tx *tx, int64_t meeting_id, int64_t user_no, int instanceid,
                              core_device *out);
/* store_device_present, then store_device_end of what it found, as one call
 * (one statement on a backend with a server): *out is the session as
 * ended. NOTFOUND when (user, instanceid) has no present session. */
store_rc store_device_end_present(store_tx *tx, int64_t meeting_id, int64_t user_no,
                                  int instanceid, int64_t left_time, int left_reason,
                                  core_device *out);
/* Ends a present session: sets left_time and left_reason. NOTFOUND when the
 * session is not present (already ended). */
store_rc store_device_end(store_tx *tx, int64_t device_no, int64_t left_time, int left_reason);
/* Ends every present session of the meeting; cb (may be NULL) sees each one
 * as it was before it ended. */
typedef store_rc (*store_device_cb)(const core_device *d, void *arg);
store_rc store_devices_end_all(store_tx *tx, int64_t meeting_id, int64_t left_time,
                               int left_reason, store_device_cb cb, void *arg);
/* The session with this row id, present or not. */
store_rc store_device_get(store_tx *tx, int64_t device_no, core_device *out);
/* The present session device_no whose token's secret hashes to secret_hash
 * (core_token_parse); device_no 0 looks the session up by the hash, for
 * tokens issued before schema version 3. NOTFOUND when there is none: no
 * such session, not present, or another secret. */
store_rc store_device_by_token(store_tx *tx, int64_t device_no, const uint8_t secret_hash[32],
                               core_device *out);

/* One row of a participants page: what a page shows of the session and
 * of its user, read in place (store_device_get has the rest of a
 * session). The strings are the backend's, valid only during the
 * callback: a page of any size copies no user (core_user is 528 bytes a
 * row), and none is NULL ("" for a guest's userid, an enterprise user's
 * guest_id). */
typedef struct store_participant {
    int64_t device_no;
    int instanceid;
    int64_t join_time;
    int64_t left_time;        /* 0 while present */
    const char *userid, *guest_id, *uuid, *ms_open_id, *nick_name;
    bool cohost;
} store_participant;

/* Device sessions of a meeting in join order, with their users: one
 * statement for the page's rows, joined to their users (never a lookup a
 * row). sub_meeting_id -1 lists every occurrence's. Fills *total with the
 * number of sessions. pos is an offset into them (negative: 0), size the
 * page's (negative: 0); a page at or past the last session is empty and
 * costs what the first page costs, however large pos is. */
typedef store_rc (*store_participant_cb)(const store_participant *p, void *arg);
store_rc store_participants_list(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id,
                                 int64_t pos, int size, store_participant_cb cb, void *arg,
                                 int64_t *total);

/* As store_participants_list, for one occurrence (0: a one-off meeting),
 * only the sessions that joined in [from, to] (Unix seconds, inclusive).
 * Each page counts the sessions of the occurrence in the span first: its
 * work is bounded by the occurrence's sessions, whatever pos, from or to
 * the client sent, and a page past the end costs that count alone. */
store_rc store_participants_between(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id,
                                    int64_t from, int64_t to, int64_t pos, int size,
                                    store_participant_cb cb, void *arg, int64_t *total);

/* The sessions present now (no left_time), in join order, with their users:
 * of the meeting (sub_meeting_id -1) or of one occurrence. Paged and
 * counted as store_participants_between, bounded by the devices present. */
store_rc store_present_list(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id, int64_t pos,
                            int size, store_participant_cb cb, void *arg, int64_t *total);

/* ---- bans ---------------------------------------------------------------- */

/* Inserts or refreshes the ban of b->user.user_no in b->meeting_id. */
store_rc store_ban_put(store_tx *tx, const core_ban *b);
store_rc store_ban_exists(store_tx *tx, int64_t meeting_id, int64_t user_no, bool *banned);
/* NOTFOUND when the user was not banned. */
store_rc store_ban_delete(store_tx *tx, int64_t meeting_id, int64_t user_no);
typedef store_rc (*store_ban_cb)(const core_ban *b, void *arg);
store_rc store_bans_list(store_tx *tx, int64_t meeting_id, store_ban_cb cb, void *arg);

/* ---- audit log ----------------------------------------------------------- */

store_rc store_audit_insert(store_tx *tx, core_audit *a);           /* sets a->audit_no */
/* Newest first, paged as participants are (a page past the end is empty). */
typedef store_rc (*store_audit_cb)(const core_audit *a, void *arg);
store_rc store_audit_list(store_tx *tx, int64_t meeting_id, int64_t pos, int size,
                          store_audit_cb cb, void *arg, int64_t *total);

/* ---- events: what happened, once ---------------------------------------- */

/* One row per event (src/live/event.c records them): a device joined,
 * left, was removed or replaced, a meeting ended for a device, a user's
 * role changed. A row is the truth about an event; whatever tells a device
 * stream of it (this node after its commit, another node later) is only a
 * messenger, and a messenger that missed a notification reads the rows.
 *
 * The contract, for every backend:
 * - store_event_insert writes in the caller's transaction: the row exists
 *   exactly when the change it reports is committed (rolled back with it).
 *   Every event is of one meeting, and the transaction that writes it has
 *   read that meeting (store_meeting_get), which on a backend with row
 *   locks holds the meeting's row until the commit.
 * - Numbers are ordered by commit WITHIN A MEETING: once any reader has
 *   seen a row of meeting M numbered N, every row of M committed later is
 *   numbered above N. Numbers are unique across meetings and never reused;
 *   gaps are allowed. Across meetings there is no order: a row of another
 *   meeting with a lower number may commit later. That is what one lock
 *   per meeting gives without a lock for everyone (SQLite's one writer
 *   gives more; PostgreSQL's sequence, drawn under the meeting's row lock,
 *   gives exactly this), and it is all a reader needs: it follows the
 *   meetings whose devices it streams, one cursor each.
 * - store_events_since(meeting, after, limit) lists that meeting's rows
 *   numbered above `after`, ascending, at most limit, on the caller's
 *   snapshot; store_events_last(meeting) where a new cursor starts.
 *   store_events_since_many does the same for many cursors at once (a
 *   node's relay reads every meeting it follows each second: on a backend
 *   over the network one round trip for all, not one per meeting).
 * - Rows are kept until store_events_prune removes them by age. A reader
 *   that has not read for longer than the age kept (EVENT_KEEP_MS,
 *   src/live/event.h) may have missed rows for good and rebuilds from the
 *   state tables instead (devices present, co-hosts). */
#define STORE_EVENT_TYPE_MAX 32

typedef struct store_event {
    int64_t event_no;                    /* set by store_event_insert */
    int64_t meeting_id;
    int64_t device_no;                   /* the device it concerns; 0: none */
    char type[STORE_EVENT_TYPE_MAX + 1]; /* "kicked", "role-changed"... (event.h) */
    int64_t created_at;                  /* Unix ms */
} store_event;

/* Writes e with its payload (JSON text, the caller's); sets e->event_no. */
store_rc store_event_insert(store_tx *tx, store_event *e, const char *payload);
/* The meeting's rows numbered above `after`, oldest first, at most limit
 * (1..1000). cb sees each with its payload (valid during the call only);
 * STORE_STOP from it ends the listing, which then answers STORE_STOP.
 * STORE_OK when every row was seen. */
typedef store_rc (*store_event_cb)(const store_event *e, const char *payload, void *arg);
store_rc store_events_since(store_tx *tx, int64_t meeting_id, int64_t after, int limit,
                            store_event_cb cb, void *arg);
/* One reader's cursor on one meeting: the last row number it has read. */
typedef struct store_cursor {
    int64_t meeting_id;
    int64_t after;
} store_cursor;
/* How many cursors one store_events_since_many takes: the rows come back
 * whole in one answer (PostgreSQL), so a caller with more splits them. */
#define STORE_CURSORS_MAX 128
/* store_events_since for each of the n cursors (0..STORE_CURSORS_MAX), in
 * one query where the backend can: the rows of cursors[0] first, oldest
 * first, at most limit (1..1000) of them, then those of cursors[1], and so
 * on; a cursor whose meeting has no row above it gives none. Each cursor
 * is listed on its own (a meeting named twice is listed twice). cb and
 * STORE_STOP as for store_events_since. */
store_rc store_events_since_many(store_tx *tx, const store_cursor *cursors, size_t n, int limit,
                                 store_event_cb cb, void *arg);
/* The meeting's highest number still kept (0: none): where a new cursor
 * on the meeting starts. A meeting whose rows were all pruned answers 0,
 * and its next row is numbered above every pruned one. */
store_rc store_events_last(store_tx *tx, int64_t meeting_id, int64_t *event_no);
/* Deletes the rows created before `before` (Unix ms). */
store_rc store_events_prune(store_tx *tx, int64_t before);

/* ---- presence: which node holds a device's stream ------------------------ */

/* A device's presence follows its event stream (src/live/presence.c): rows,
 * not any node's memory, say whether a device has a stream and, when its
 * stream is gone, until when it may come back (its grace). So a crash of
 * meetd, or the death of one node of several, loses no clock: the nodes
 * still running (or the restarted one) end the devices whose grace ran out.
 *
 * Per device: stream_node, the node holding its stream (none: no stream),
 * and grace_until (Unix ms), when a device without a stream is ended. A
 * device that never opened a stream has neither and stays until it
 * leaves. Per node: a row with its heartbeat. A node whose heartbeat is
 * older than the dead-after time (PRESENCE_DEAD_AFTER_MS) is dead: its
 * devices are treated as if their streams had closed at its last
 * heartbeat.
 *
 * The contract, for every backend:
 * - Several nodes run every one of these at once, each in its own
 *   transactions. An UPDATE that decides on a row re-checks its condition
 *   on the row it locks (PostgreSQL's READ COMMITTED does, for UPDATE ...
 *   WHERE), so a stream attached on node B in between is never detached
 *   by node A's late write nor converted as a dead node's; nor taken back
 *   by A's late attach, a compare-and-set from what A's open read, its
 *   row locked (FOR UPDATE) from the compare to the commit.
 * - store_presence_due may skip rows another node's sweep holds
 *   (PostgreSQL: FOR UPDATE SKIP LOCKED): it is a list of candidates.
 *   store_presence_claim decides: it locks the device's row until the
 *   commit (FOR UPDATE) and re-checks that it is present and due, so two
 *   nodes ending the same device end it once.
 * - No foreign key from devices to nodes: a dead node's row goes while
 *   rows written before its death may still name it (they are converted
 *   first, in the same transaction). */
#define STORE_NODE_ADDR_MAX 255

typedef struct store_node {
    int64_t node_id;                     /* random, 1..2^63-1, drawn at start */
    char address[STORE_NODE_ADDR_MAX + 1]; /* where it listens ("" unknown) */
    int64_t started_at;                  /* Unix ms */
    int64_t heartbeat_at;                /* Unix ms */
} store_node;

/* Inserts the node, or (same node_id) sets its address and heartbeat. */
store_rc store_node_register(store_tx *tx, const store_node *n);
/* Moves the node's heartbeat to now. NOTFOUND when its row is gone or its
 * heartbeat is older than dead_before: others may have declared it dead
 * and taken its streams' rows over (converted them to a grace period), so
 * the node registers again and attaches its open streams again. */
store_rc store_node_heartbeat(store_tx *tx, int64_t node_id, int64_t now, int64_t dead_before);
/* Every node row, by node_id. */
typedef store_rc (*store_node_cb)(const store_node *n, void *arg);   /* STORE_STOP stops */
store_rc store_node_list(store_tx *tx, store_node_cb cb, void *arg);
/* A clean stop of the node: every present device streaming on it is
 * detached with grace_until (its grace starts at the stop, so a restart
 * within it keeps the device present), and its row goes. */
store_rc store_node_stop(store_tx *tx, int64_t node_id, int64_t grace_until);

/* The device's stream opened on node_id, as a compare-and-set on
 * stream_node: `expected` is the stream_node the stream's open read (0:
 * none). When the row holds no node, node_id, or expected, it gets
 * stream_node = node_id and no grace: STORE_OK, *from the OTHER node it
 * was taken from (0: none, or node_id held it). When it holds another
 * node, one that attached after that read (a client that moved on before
 * this open was written): STORE_REFUSED, *from that node, nothing
 * written. NOTFOUND when the device is not present (it left since its
 * token was checked: nothing to hold). The row stays locked until the
 * commit either way (FOR UPDATE), so what *from says holds until then. */
store_rc store_stream_attach(store_tx *tx, int64_t device_no, int64_t node_id,
                             int64_t expected, int64_t *from);
/* In a write, before a job changes the rows of devices of several
 * meetings: takes those meetings' locks (as store_meeting_get does, to the
 * commit) in ascending order of meeting id. A job on one meeting reads it
 * before its rows (the rule above); one that changes devices of many
 * meetings without their meetings' locks could take a device row that a
 * job holding that meeting is about to want, while waiting for a row that
 * job holds: a deadlock, which PostgreSQL sees only after its
 * deadlock_timeout (a second) and breaks by failing a batch. Devices that
 * do not exist are skipped; n may be 0. A backend without row locks
 * (SQLite: one writer) has nothing to do. */
store_rc store_meetings_lock_of_devices(store_tx *tx, const int64_t *device_nos, size_t n);
/* The device's stream on node_id closed: no stream_node, grace_until set.
 * Only while node_id holds it (NOTFOUND otherwise: it left, or its stream
 * is on another node now, which this must not undo). */
store_rc store_stream_detach(store_tx *tx, int64_t device_no, int64_t node_id,
                             int64_t grace_until);
/* The device's presence row: *stream_node and *grace_until, 0 for none.
 * NOTFOUND when there is no such device (present or not). */
store_rc store_stream_get(store_tx *tx, int64_t device_no, int64_t *stream_node,
                          int64_t *grace_until);
/* The sweep, in a write. First every present device streaming on a node
 * whose heartbeat is older than dead_before is detached with grace_until =
 * that heartbeat + grace_ms, and node rows whose heartbeat is older than
 * forget_before go (forget_before <= dead_before: a node silent that long
 * registers again when it comes back). Then cb sees the present devices
 * whose grace_until <= now, earliest first, at most limit (1..1000): the
 * candidates to end, each ended by its own store_presence_claim. */
typedef store_rc (*store_device_no_cb)(int64_t device_no, void *arg);   /* STORE_STOP stops */
store_rc store_presence_due(store_tx *tx, int64_t now, int64_t dead_before, int64_t grace_ms,
                            int64_t forget_before, int limit, store_device_no_cb cb, void *arg);
/* STORE_OK when device_no is present, has no stream and its grace_until
 * <= now, its row then locked until the commit (the caller ends it);
 * NOTFOUND otherwise (it came back, left, or another node ended it). */
store_rc store_presence_claim(store_tx *tx, int64_t device_no, int64_t now);

/* ---- changes made by any node ------------------------------------------- */

/* A wake-up for readers of the events (src/live/relay.c): "these meetings
 * have new event rows". Only a wake-up: a reader that missed one finds the
 * rows at its next read all the same (the events contract above).
 *
 * A backend whose store several processes write (PostgreSQL) has a feed:
 * every committed transaction that wrote event rows names their meetings
 * to every node's feed, and only a committed one (the notification is sent
 * in the transaction, so a rolled-back write says nothing). One with a
 * single writing process (SQLite: its callers publish their own rows after
 * the commit) has none, and store_changes_open answers STORE_NOTFOUND.
 *
 * One thread waits on a feed; store_changes_wake may be called from any. */
typedef struct store_changes store_changes;
/* A meeting with new rows (called once or more per meeting and wait). */
typedef void (*store_change_cb)(int64_t meeting_id, void *arg);

store_rc store_changes_open(store *s, store_changes **out);
/* Waits up to timeout_ms (or until store_changes_wake) for changes and
 * calls cb for each meeting named. *resync is set true when the feed has
 * just (re)connected: whatever was committed while it was not listening
 * was not named, and the caller reads everything it follows. STORE_OK
 * (also on a time-out or a wake), or STORE_UNAVAILABLE when the feed is
 * down (it connects again at the next wait, no more often than a backoff
 * allows; the wait still lasts up to timeout_ms). */
store_rc store_changes_wait(store_changes *c, int timeout_ms, store_change_cb cb, void *arg,
                            bool *resync);
/* Makes a wait under way (or the next one) return at once. */
void store_changes_wake(store_changes *c);
/* Call after the waiting thread has stopped, before store_close. */
void store_changes_close(store_changes *c);

/* ---- webhooks and their outbox ----------------------------------------- */

#define STORE_URL_MAX 1024
#define STORE_TOKEN_MAX 128
#define STORE_EVENT_MAX 64
#define STORE_DELIVERY_ERR_MAX 255

typedef struct store_webhook {
    int64_t webhook_id;                  /* set by store_webhook_insert */
    char app_id[CORE_APPID_MAX + 1];
    char url[STORE_URL_MAX + 1];
    char token[STORE_TOKEN_MAX + 1];
    int64_t created_at;                  /* Unix ms */
} store_webhook;

/* Sets w->webhook_id (never reused, even after a delete). */
store_rc store_webhook_insert(store_tx *tx, store_webhook *w);
/* The webhook with this id of this app; another app's is NOTFOUND. */
store_rc store_webhook_get(store_tx *tx, const char *app_id, int64_t webhook_id,
                           store_webhook *out);
/* The app's webhooks, oldest first. */
typedef store_rc (*store_webhook_cb)(const store_webhook *w, void *arg);   /* STORE_STOP stops */
store_rc store_webhook_list(store_tx *tx, const char *app_id, store_webhook_cb cb, void *arg);
store_rc store_webhook_count(store_tx *tx, const char *app_id, int64_t *count);
/* Deletes it with its deliveries. NOTFOUND when the app has no such webhook. */
store_rc store_webhook_delete(store_tx *tx, const char *app_id, int64_t webhook_id);

typedef enum store_delivery_status {
    STORE_DELIVERY_PENDING = 0,
    STORE_DELIVERY_DELIVERED = 1,
    STORE_DELIVERY_FAILED = 2,           /* gave up after the last attempt */
} store_delivery_status;

/* One event for one webhook. The event JSON itself travels beside it as a
 * separate string: it has no useful bound. */
typedef struct store_delivery {
    int64_t delivery_id;                 /* set by store_outbox_insert */
    int64_t webhook_id;
    char app_id[CORE_APPID_MAX + 1];
    char event[STORE_EVENT_MAX + 1];     /* "meeting.participant-joined" */
    int64_t created_at;                  /* Unix ms, like every time below */
    int attempts;                        /* made so far */
    int64_t next_attempt_at;             /* pending: when it is due */
    int status;                          /* store_delivery_status */
    int last_http_status;                /* 0: none (no attempt, or no response) */
    char last_error[STORE_DELIVERY_ERR_MAX + 1];
    int64_t delivered_at;                /* 0 until delivered */
} store_delivery;

/* Queues d (pending; status, attempts and the results are ignored) with its
 * event JSON; sets d->delivery_id. */
store_rc store_outbox_insert(store_tx *tx, store_delivery *d, const char *payload);
/* Pending deliveries due at `now` (next_attempt_at <= now): the earliest
 * per_webhook of each webhook, ordered by app, webhook and due time, each
 * with its webhook. A delivery worker picks from these; one webhook's
 * backlog never hides another's. The event JSON is not read. */
typedef store_rc (*store_due_cb)(const store_delivery *d, const store_webhook *w, void *arg);
store_rc store_outbox_due(store_tx *tx, int64_t now, int per_webhook, store_due_cb cb, void *arg);
/* One pending delivery with its webhook and event JSON (valid during the
 * call only); NOTFOUND when it is settled or gone. cb's result is returned. */
typedef store_rc (*store_pending_cb)(const store_delivery *d, const store_webhook *w,
                                     const char *payload, void *arg);
store_rc store_outbox_pending(store_tx *tx, int64_t delivery_id, store_pending_cb cb, void *arg);
/* When the earliest pending delivery due after `after` is due; NOTFOUND when
 * none is. */
store_rc store_outbox_next_due(store_tx *tx, int64_t after, int64_t *at);
/* Leases a due pending delivery to `holder` (a node id, never 0) until
 * `until`: its next_attempt_at becomes `until`, so that no worker lists it
 * as due before the lease ends, and only the holder's result counts (below).
 * NOTFOUND when it is settled, gone, not due at `now` (leased to a worker
 * whose lease has not ended), or being claimed by another node's
 * transaction at this moment (PostgreSQL: skipped, not waited for). Each
 * delivery is thus attempted by one worker at a time; a worker that dies
 * holding it leaves it to whoever claims it once `until` has passed. */
store_rc store_outbox_claim(store_tx *tx, int64_t delivery_id, int64_t holder, int64_t now,
                            int64_t until);
/* Ends holder's lease early: the pending delivery is due at `at`, no
 * attempt counted (one a stopping worker abandoned). NOTFOUND when it is
 * not pending or not leased to holder. */
store_rc store_outbox_release(store_tx *tx, int64_t delivery_id, int64_t holder, int64_t at);
/* Results of an attempt, each counting it in `attempts`. They change only a
 * pending delivery leased to `holder` (0: one never claimed): NOTFOUND when
 * it is gone or settled already, or its lease went to another worker. A
 * result of retry clears nothing but sets the next attempt's time, which
 * also ends the lease. */
store_rc store_outbox_delivered(store_tx *tx, int64_t delivery_id, int64_t holder, int64_t at,
                                int http_status);
store_rc store_outbox_retry(store_tx *tx, int64_t delivery_id, int64_t holder,
                            int64_t next_attempt_at, int http_status, const char *error);
store_rc store_outbox_failed(store_tx *tx, int64_t delivery_id, int64_t holder, int http_status,
                             const char *error);
/* The app's deliveries, newest first; status -1 lists every status. Fills
 * *total (may be NULL) with how many match. Payloads are not read. */
typedef store_rc (*store_delivery_cb)(const store_delivery *d, void *arg);
store_rc store_deliveries_list(store_tx *tx, const char *app_id, int status, int64_t pos, int size,
                               store_delivery_cb cb, void *arg, int64_t *total);

#endif
