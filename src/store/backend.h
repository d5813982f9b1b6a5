/* The store's backend table: what a backend (SQLite, PostgreSQL) gives the
 * store, in the manner of SQLite's sqlite3_vfs or curl's Curl_ssl.
 *
 * Private to src/store/ and the store's own tests. store.h is the
 * interface callers see; store.c routes each of its functions through the
 * table of the store's backend, and queue.c runs the writes (the queue, the
 * writer threads, group commit) for every backend alike. A backend keeps
 * its internals under a prefix of its own (SQLite: lite_, in
 * src/store/sqlite/; PostgreSQL: pgsql_, in src/store/postgres/) and
 * exports one symbol, its table (store_backend_sqlite, store_backend_postgres).
 *
 * How a write runs, as queue.c drives the table:
 *
 *   writers(impl)             how many writer threads, each with a
 *                             connection of its own: writer_open(impl, i)
 *   batch_begin(conn, keys)   one transaction for a batch of jobs; keys:
 *                             the meetings its keyed jobs are of
 *     job_begin(conn)         each job in a savepoint of its own
 *       fn(tx, arg)           the caller's job, calling the primitives
 *         try_begin(tx) ... try_end(tx, keep)   store_try, one level down
 *     job_end(conn, keep)     release it, or roll it back (keep false)
 *   batch_commit(conn, keys_changed)
 *   batch_end(conn, committed)  whatever the outcome: settle the connection
 *
 * Any of batch_begin, job_begin, job_end and batch_commit may return
 * STORE_RETRY (a serialization failure, a deadlock): the queue then calls
 * batch_end(conn, false) and runs the whole batch again, every job's fn
 * from its start, in a new transaction (store.h: a job may run more than
 * once), up to a bound (queue.c) after which the jobs fail with
 * STORE_ERROR. Any other failure of these hooks ends the transaction:
 * batch_end(conn, false), and every job of the batch that would have
 * committed fails with STORE_UNAVAILABLE when that was the failure, else
 * STORE_ERROR. A primitive that meets a serialization failure or a
 * deadlock sets tx->retry (and tx->failed) and returns STORE_ERROR: the
 * queue reruns the batch after that job's job_end, whatever the job
 * returned. A writer_open that fails is asked again at the next batch,
 * which meanwhile fails with its code.
 *
 * Reads: read_begin(impl, tx) sets tx->conn to a connection holding a
 * read-only snapshot; read_end(impl, tx, commit) gives it back.
 *
 * Every function returns a store_rc unless its comment says otherwise. */
#ifndef MEETD_STORE_BACKEND_H
#define MEETD_STORE_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

/* What a store_fn works on. The queue (writes) or store_read (reads) fills
 * it; the backend's primitives read conn and set the flags. */
struct store_tx {
    const struct store_backend *be;
    void *impl;          /* the backend's store (what open returned) */
    void *conn;          /* the backend's connection for this transaction */
    bool writable;       /* false inside store_read: write primitives refuse */
    /* Set by every primitive that returns STORE_ERROR or STORE_UNAVAILABLE:
     * a job that saw a backend failure is never committed, even if its fn
     * ignores the error and returns STORE_OK. */
    bool failed;
    bool unavailable;    /* ...and that failure was the backend being out of reach */
    bool retry;          /* ...and it was a serialization failure or deadlock */
    bool keys_changed;   /* an app or a key was written: move the keys stamp */
};

typedef struct store_backend {
    const char *name;    /* "sqlite", "postgres": store_options.backend */
    bool shared;         /* several processes may serve it: store_shared */

    /* ---- life ---------------------------------------------------------- */
    /* Opens (creating and migrating as needed) the backend's store. */
    store_rc (*open)(const store_options *opt, void **impl);
    /* Called once every writer thread has stopped and every read ended. */
    void (*close)(void *impl);
    int (*schema_version)(void *impl);   /* not a store_rc: the version */
    void (*keys_stamp)(void *impl, store_stamp *out);

    /* ---- writes: the connections of the writer threads ----------------- */
    int (*writers)(void *impl);          /* not a store_rc: >= 1 */
    /* The most descriptors the store's connections (and their files) may
     * hold at once, those open already included: meetd keeps them out of
     * the network connections' budget (http/limits.h). */
    int (*descriptors)(void *impl);      /* not a store_rc: >= 0 */
    int (*batch_max)(void *impl);        /* largest batch of jobs, >= 1 */
    /* Connection of writer thread i (0 <= i < writers), called on that
     * thread before its first batch; writer_close after its last. */
    store_rc (*writer_open)(void *impl, int i, void **conn);
    void (*writer_close)(void *impl, void *conn);
    /* keys: the distinct nonzero keys of the batch's jobs
     * (store_write_async_key: the ids of their meetings), ascending, n_keys
     * of them. A backend with row locks takes those meetings' locks here,
     * in that order: two batches with meetings in common then never take
     * them in opposite orders, which would be a deadlock. */
    store_rc (*batch_begin)(void *conn, const int64_t *keys, size_t n_keys);
    store_rc (*job_begin)(void *conn);
    /* keep: the job's fn returned STORE_OK and tx->failed is false. */
    store_rc (*job_end)(void *conn, store_tx *tx, bool keep);
    /* keys_changed: a kept job of the batch changed an app or a key; the
     * stamp moves before this returns STORE_OK. */
    store_rc (*batch_commit)(void *conn, bool keys_changed);
    /* After the commit or a failure: committed false rolls back whatever
     * is open and drops what the connection cached of the batch. */
    void (*batch_end)(void *conn, bool committed);
    /* store_try's savepoint inside a job. */
    store_rc (*try_begin)(store_tx *tx);
    store_rc (*try_end)(store_tx *tx, bool keep);

    /* ---- reads --------------------------------------------------------- */
    store_rc (*read_begin)(void *impl, store_tx *tx);
    /* commit: fn returned STORE_OK (a read has nothing to commit, but a
     * backend may check the snapshot ended well). */
    store_rc (*read_end)(void *impl, store_tx *tx, bool commit);

    /* store_spend_now: NULL for a backend only one process serves (the
     * store then spends nothing for reads). */
    store_rc (*spend_now)(void *impl, const char *app_id, int64_t timestamp, uint64_t nonce,
                          int64_t keep_from);

    /* store_rate_take: NULL for a backend only one process serves. */
    store_rc (*rate_take)(void *impl, const char *app_id, double rate, double burst,
                          int64_t want, int64_t *granted);

    /* ---- the change feed (store.h "changes made by any node") ----------- */
    /* NULL when the backend has none (one writing process: SQLite). */
    store_rc (*changes_open)(void *impl, void **feed);
    store_rc (*changes_wait)(void *feed, int timeout_ms, store_change_cb cb, void *arg,
                             bool *resync);
    void (*changes_wake)(void *feed);
    void (*changes_close)(void *feed);

    /* ---- primitives: one per function of store.h, same arguments ------- */
    store_rc (*spend)(store_tx *tx, const char *app_id, int64_t timestamp, uint64_t nonce,
                      int64_t keep_from);

    store_rc (*app_insert)(store_tx *tx, const store_app *app);
    store_rc (*app_get)(store_tx *tx, const char *app_id, store_app *out);
    store_rc (*app_list)(store_tx *tx, store_app_cb cb, void *arg);
    store_rc (*app_count)(store_tx *tx, int64_t *count);
    store_rc (*app_delete)(store_tx *tx, const char *app_id);
    store_rc (*key_insert)(store_tx *tx, const store_key *key);
    store_rc (*key_get)(store_tx *tx, const char *secret_id, store_key *key, store_app *app);
    store_rc (*key_list)(store_tx *tx, const char *app_id, store_key_cb cb, void *arg);
    store_rc (*key_delete_all)(store_tx *tx, const char *app_id);

    store_rc (*meeting_insert)(store_tx *tx, const core_meeting *m);
    store_rc (*meeting_get)(store_tx *tx, const char *app_id, int64_t meeting_id,
                            core_meeting *out);
    store_rc (*meeting_app)(store_tx *tx, int64_t meeting_id, char app_id[CORE_APPID_MAX + 1]);
    store_rc (*meeting_by_code)(store_tx *tx, const char *code, int64_t *meeting_id,
                                char app_id[CORE_APPID_MAX + 1]);
    store_rc (*meetings_of_user)(store_tx *tx, const char *app_id, const char *userid,
                                 int64_t from, int64_t skip, int limit, store_meeting_id_cb cb,
                                 void *arg, int64_t *remaining, int64_t *next_from,
                                 int64_t *next_skip);
    store_rc (*meeting_update_status)(store_tx *tx, const core_meeting *m);
    store_rc (*meeting_update)(store_tx *tx, const core_meeting *m);

    store_rc (*user_get)(store_tx *tx, int64_t meeting_id, core_id_type kind,
                         const char *value, core_user *out);
    store_rc (*user_party)(store_tx *tx, int64_t meeting_id, core_id_type kind,
                           const char *value, core_user *out, uint64_t *mask, bool *banned);
    store_rc (*user_insert)(store_tx *tx, int64_t meeting_id, core_user *u);
    store_rc (*user_by_no)(store_tx *tx, int64_t user_no, core_user *out);
    store_rc (*user_set_cohost)(store_tx *tx, int64_t meeting_id, int64_t user_no, bool cohost);
    store_rc (*user_set_nick)(store_tx *tx, int64_t meeting_id, int64_t user_no,
                              const char *nick);
    store_rc (*cohosts_list)(store_tx *tx, int64_t meeting_id, store_user_cb cb, void *arg);
    store_rc (*cohosts_end)(store_tx *tx, int64_t meeting_id);

    store_rc (*user_presence)(store_tx *tx, int64_t meeting_id, int64_t user_no,
                              uint64_t *mask);
    store_rc (*device_insert)(store_tx *tx, core_device *d);
    store_rc (*device_present)(store_tx *tx, int64_t meeting_id, int64_t user_no,
                               int instanceid, core_device *out);
    store_rc (*device_end_present)(store_tx *tx, int64_t meeting_id, int64_t user_no,
                                   int instanceid, int64_t left_time, int left_reason,
                                   core_device *out);
    store_rc (*device_end)(store_tx *tx, int64_t device_no, int64_t left_time, int left_reason);
    store_rc (*devices_end_all)(store_tx *tx, int64_t meeting_id, int64_t left_time,
                                int left_reason, store_device_cb cb, void *arg);
    store_rc (*device_get)(store_tx *tx, int64_t device_no, core_device *out);
    store_rc (*device_by_token)(store_tx *tx, int64_t device_no, const uint8_t secret_hash[32],
                                core_device *out);
    store_rc (*participants_list)(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id,
                                  int64_t pos, int size, store_participant_cb cb, void *arg,
                                  int64_t *total);
    store_rc (*participants_between)(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id,
                                     int64_t from, int64_t to, int64_t pos, int size,
                                     store_participant_cb cb, void *arg, int64_t *total);
    store_rc (*present_list)(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id,
                             int64_t pos, int size, store_participant_cb cb, void *arg,
                             int64_t *total);

    store_rc (*ban_put)(store_tx *tx, const core_ban *b);
    store_rc (*ban_exists)(store_tx *tx, int64_t meeting_id, int64_t user_no, bool *banned);
    store_rc (*ban_delete)(store_tx *tx, int64_t meeting_id, int64_t user_no);
    store_rc (*bans_list)(store_tx *tx, int64_t meeting_id, store_ban_cb cb, void *arg);

    store_rc (*audit_insert)(store_tx *tx, core_audit *a);
    store_rc (*audit_list)(store_tx *tx, int64_t meeting_id, int64_t pos, int size,
                           store_audit_cb cb, void *arg, int64_t *total);

    store_rc (*event_insert)(store_tx *tx, store_event *e, const char *payload);
    store_rc (*events_since)(store_tx *tx, int64_t meeting_id, int64_t after, int limit,
                             store_event_cb cb, void *arg);
    store_rc (*events_since_many)(store_tx *tx, const store_cursor *cursors, size_t n,
                                  int limit, store_event_cb cb, void *arg);
    store_rc (*events_last)(store_tx *tx, int64_t meeting_id, int64_t *event_no);
    store_rc (*events_prune)(store_tx *tx, int64_t before);

    store_rc (*node_register)(store_tx *tx, const store_node *n);
    store_rc (*node_heartbeat)(store_tx *tx, int64_t node_id, int64_t now, int64_t dead_before);
    store_rc (*node_list)(store_tx *tx, store_node_cb cb, void *arg);
    store_rc (*node_stop)(store_tx *tx, int64_t node_id, int64_t grace_until);
    store_rc (*stream_attach)(store_tx *tx, int64_t device_no, int64_t node_id,
                              int64_t expected, int64_t *from);
    store_rc (*stream_detach)(store_tx *tx, int64_t device_no, int64_t node_id,
                              int64_t grace_until);
    store_rc (*meetings_lock_of_devices)(store_tx *tx, const int64_t *device_nos, size_t n);
    store_rc (*stream_get)(store_tx *tx, int64_t device_no, int64_t *stream_node,
                           int64_t *grace_until);
    store_rc (*presence_due)(store_tx *tx, int64_t now, int64_t dead_before, int64_t grace_ms,
                             int64_t forget_before, int limit, store_device_no_cb cb, void *arg);
    store_rc (*presence_claim)(store_tx *tx, int64_t device_no, int64_t now);

    store_rc (*webhook_insert)(store_tx *tx, store_webhook *w);
    store_rc (*webhook_get)(store_tx *tx, const char *app_id, int64_t webhook_id,
                            store_webhook *out);
    store_rc (*webhook_list)(store_tx *tx, const char *app_id, store_webhook_cb cb, void *arg);
    store_rc (*webhook_count)(store_tx *tx, const char *app_id, int64_t *count);
    store_rc (*webhook_delete)(store_tx *tx, const char *app_id, int64_t webhook_id);
    store_rc (*outbox_insert)(store_tx *tx, store_delivery *d, const char *payload);
    store_rc (*outbox_due)(store_tx *tx, int64_t now, int per_webhook, store_due_cb cb,
                           void *arg);
    store_rc (*outbox_pending)(store_tx *tx, int64_t delivery_id, store_pending_cb cb,
                               void *arg);
    store_rc (*outbox_next_due)(store_tx *tx, int64_t after, int64_t *at);
    store_rc (*outbox_claim)(store_tx *tx, int64_t delivery_id, int64_t holder, int64_t now,
                             int64_t until);
    store_rc (*outbox_release)(store_tx *tx, int64_t delivery_id, int64_t holder, int64_t at);
    store_rc (*outbox_delivered)(store_tx *tx, int64_t delivery_id, int64_t holder, int64_t at,
                                 int http_status);
    store_rc (*outbox_retry)(store_tx *tx, int64_t delivery_id, int64_t holder,
                             int64_t next_attempt_at, int http_status, const char *error);
    store_rc (*outbox_failed)(store_tx *tx, int64_t delivery_id, int64_t holder,
                              int http_status, const char *error);
    store_rc (*deliveries_list)(store_tx *tx, const char *app_id, int status, int64_t pos,
                                int size, store_delivery_cb cb, void *arg, int64_t *total);
} store_backend;

/* The backends linked into this program (CMake: MEETD_STORE_BACKENDS). */
extern const store_backend store_backend_sqlite;
#ifdef MEETD_WITH_POSTGRES
extern const store_backend store_backend_postgres;
#endif
/* The linked-in backend of this name (NULL: "sqlite"); NULL when there is
 * none. The store's contract tests use it to pick what they run against. */
const store_backend *store_backend_find(const char *name);

#endif
