/* Internals shared by the SQLite backend's files (src/store/sqlite/). Not
 * part of the store interface: nothing outside this directory includes
 * this, but for the store's SQLite-only unit tests. Every name here has
 * the prefix lite_ (LITE_): the store_ names are the interface's, and a
 * second backend (pgsql_) is linked beside this one.
 *
 * Every statement the backend runs is listed once, below, with its SQL. A
 * connection prepares a statement the first time it needs it and keeps it
 * for its lifetime; after each use the statement is reset and its bindings
 * cleared, so the hot paths never parse SQL. Values only ever reach SQLite
 * through bindings. */
#ifndef MEETD_STORE_SQLITE_INT_H
#define MEETD_STORE_SQLITE_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "store/backend.h"
#include "store/columns.h"

/* X(name, sql): the statement catalogue. A participants page starts after
 * a session number (PART_AFTER_*), found on the meeting's index alone
 * (PART_NTH_*, or a mark of sqlite/pages.c): with LIMIT/OFFSET SQLite would
 * read every skipped row and look up its user before dropping it, and a
 * subquery of the page's numbers costs a materialisation and a sort (a
 * quarter more instructions a page of 20, bench/README.md). The real-time
 * list walks devices_present_by_no, the present sessions in join order:
 * by devices_present (user, instanceid) each page sorted every present
 * session joined to its user. Queries that read "the present devices"
 * repeat `left_time IS NULL` and user lookups repeat `userid <> ''`
 * because SQLite only uses a partial index when the query's WHERE clause
 * contains the index's condition. Ending a whole meeting names its index:
 * without statistics the planner would walk every session the meeting ever
 * had rather than the present ones. */
#define LITE_PARTY                                                                    \
    "SELECT " STORE_USER_COLS("u.") ", (SELECT coalesce(sum(1 << d.instanceid), 0) "  \
    "FROM devices d WHERE d.meeting_id = u.meeting_id AND d.user_no = u.user_no "     \
    "AND d.left_time IS NULL AND d.instanceid BETWEEN 0 AND 63), "                    \
    "EXISTS (SELECT 1 FROM bans b WHERE b.meeting_id = u.meeting_id AND "            \
    "b.user_no = u.user_no) FROM users u WHERE u.meeting_id = ?1 AND "

#define LITE_STATEMENTS(X)                                                            \
    /* transaction control (connection level) */                                     \
    X(TX_BEGIN, "BEGIN")                                                              \
    X(TX_BEGIN_IMMEDIATE, "BEGIN IMMEDIATE")                                          \
    X(DATA_VERSION, "PRAGMA data_version")                                            \
    X(TX_COMMIT, "COMMIT")                                                            \
    X(TX_ROLLBACK, "ROLLBACK")                                                        \
    /* atomic multi-statement primitives */                                           \
    X(SP_BEGIN, "SAVEPOINT store_op")                                                 \
    X(SP_RELEASE, "RELEASE store_op")                                                 \
    X(SP_ROLLBACK, "ROLLBACK TO store_op")                                            \
    /* one caller's fn inside a group commit */                                      \
    X(JOB_BEGIN, "SAVEPOINT store_job")                                               \
    X(JOB_RELEASE, "RELEASE store_job")                                               \
    X(JOB_ROLLBACK, "ROLLBACK TO store_job")                                          \
    /* store_try: part of a job that may be undone alone */                           \
    X(TRY_BEGIN, "SAVEPOINT store_try")                                               \
    X(TRY_RELEASE, "RELEASE store_try")                                               \
    X(TRY_ROLLBACK, "ROLLBACK TO store_try")                                          \
    /* spent nonces (sqlite/spent.c) */                                               \
    X(SPENT_INSERT, "INSERT INTO spent_nonces (ts, nonce, app_id) VALUES (?1, ?2, ?3)") \
    X(SPENT_PRUNE, "DELETE FROM spent_nonces WHERE ts < ?1")                          \
    /* events (events.c) */                                                           \
    X(EVENT_INSERT, "INSERT INTO events (meeting_id, device_no, type, payload, "      \
                    "created_at) VALUES (?1, ?2, ?3, ?4, ?5)")                        \
    X(EVENTS_SINCE, "SELECT " STORE_EVENT_COLS("") " FROM events "                    \
                    "WHERE meeting_id = ?3 AND event_no > ?1 "                        \
                    "ORDER BY event_no LIMIT ?2")                                     \
    X(EVENTS_LAST, "SELECT coalesce(max(event_no), 0) FROM events "                   \
                   "WHERE meeting_id = ?1")                                           \
    X(EVENTS_PRUNE, "DELETE FROM events WHERE created_at < ?1")                       \
    /* presence (sqlite/presence.c) */                                                \
    X(NODE_UPSERT, "INSERT INTO nodes (node_id, address, started_at, heartbeat_at) "  \
                   "VALUES (?1, ?2, ?3, ?4) ON CONFLICT (node_id) DO UPDATE SET "     \
                   "address = excluded.address, heartbeat_at = excluded.heartbeat_at") \
    X(NODE_HEARTBEAT, "UPDATE nodes SET heartbeat_at = ?2 "                           \
                      "WHERE node_id = ?1 AND heartbeat_at >= ?3")                    \
    X(NODE_LIST, "SELECT node_id, address, started_at, heartbeat_at FROM nodes "      \
                 "ORDER BY node_id")                                                  \
    X(NODE_DELETE, "DELETE FROM nodes WHERE node_id = ?1")                            \
    X(NODES_FORGET, "DELETE FROM nodes WHERE heartbeat_at < ?1")                      \
    X(NODE_DETACH_ALL, "UPDATE devices INDEXED BY devices_by_stream_node "            \
                       "SET stream_node = NULL, grace_until = ?2 "                    \
                       "WHERE stream_node = ?1 AND left_time IS NULL")                \
    X(DEAD_NODES, "SELECT node_id, heartbeat_at FROM nodes "                          \
                  "WHERE heartbeat_at < ?1 ORDER BY heartbeat_at")                    \
    X(STREAM_HOLDER, "SELECT coalesce(stream_node, 0) FROM devices "                  \
                     "WHERE device_no = ?1 AND left_time IS NULL")                    \
    X(STREAM_ATTACH, "UPDATE devices SET stream_node = ?2, grace_until = NULL "       \
                     "WHERE device_no = ?1")                                          \
    X(STREAM_DETACH, "UPDATE devices SET stream_node = NULL, grace_until = ?3 "       \
                     "WHERE device_no = ?1 AND stream_node = ?2 AND left_time IS NULL") \
    X(STREAM_GET, "SELECT stream_node, grace_until FROM devices WHERE device_no = ?1") \
    X(PRESENCE_DUE, "SELECT device_no FROM devices INDEXED BY devices_by_grace "      \
                    "WHERE left_time IS NULL AND grace_until IS NOT NULL "            \
                    "AND grace_until <= ?1 ORDER BY grace_until LIMIT ?2")            \
    X(PRESENCE_CLAIM, "SELECT 1 FROM devices WHERE device_no = ?1 "                   \
                      "AND left_time IS NULL AND stream_node IS NULL "                \
                      "AND grace_until <= ?2")                                        \
    /* apps and keys */                                                               \
    X(APP_INSERT, "INSERT INTO apps (" STORE_APP_COLS("") ") "                        \
                  "VALUES (?1, ?2, ?3, ?4)")                                          \
    X(APP_GET, "SELECT " STORE_APP_COLS("") " FROM apps WHERE app_id = ?1")           \
    X(APP_LIST, "SELECT " STORE_APP_COLS("") " FROM apps ORDER BY app_id")            \
    X(APP_COUNT, "SELECT count(*) FROM apps")                                         \
    X(APP_DELETE, "DELETE FROM apps WHERE app_id = ?1")                               \
    X(KEY_INSERT, "INSERT INTO app_keys (" STORE_KEY_COLS("") ") "                    \
                  "VALUES (?1, ?2, ?3, ?4)")                                          \
    X(KEY_GET, "SELECT " STORE_KEY_COLS("k.") ", "                                    \
               STORE_APP_COLS("a.") " "                                               \
               "FROM app_keys k JOIN apps a ON a.app_id = k.app_id "                  \
               "WHERE k.secret_id = ?1")                                              \
    X(KEY_LIST, "SELECT " STORE_KEY_COLS("") " FROM app_keys "                        \
                "WHERE app_id = ?1 ORDER BY created_at, secret_id")                   \
    X(KEY_DELETE_ALL, "DELETE FROM app_keys WHERE app_id = ?1")                       \
    /* meetings */                                                                    \
    X(MEETING_INSERT, "INSERT INTO meetings (" STORE_MEETING_COLS ") VALUES "         \
                      "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, "     \
                      "?14, ?15, ?16)")                                               \
    X(HOST_INSERT, "INSERT INTO meeting_hosts (meeting_id, pos, userid) "             \
                   "VALUES (?1, ?2, ?3)")                                             \
    X(OCC_INSERT, "INSERT INTO occurrences (meeting_id, sub_meeting_id, start_time, " \
                  "end_time, status) VALUES (?1, ?2, ?3, ?4, ?5)")                    \
    X(MEETING_GET, "SELECT " STORE_MEETING_COLS " FROM meetings "                     \
                   "WHERE meeting_id = ?1 AND app_id = ?2")                           \
    X(HOSTS_GET, "SELECT userid FROM meeting_hosts WHERE meeting_id = ?1 "            \
                 "ORDER BY pos")                                                      \
    X(OCCS_GET, "SELECT sub_meeting_id, start_time, end_time, status "                \
                "FROM occurrences WHERE meeting_id = ?1 ORDER BY sub_meeting_id")     \
    X(MEETING_APP, "SELECT app_id FROM meetings WHERE meeting_id = ?1")               \
    X(MEETING_BY_CODE, "SELECT meeting_id, app_id FROM meetings "                     \
                       "WHERE meeting_code = ?1")                                     \
    /* A user's meetings that are in progress or yet to start, by start time:  \
     * those they created (meetings_by_creator, whose condition the query      \
     * repeats) and those they host (meeting_hosts_by_user). A series counts   \
     * while one of its occurrences has neither ended nor been cancelled. */   \
    X(MEETINGS_OF_USER, "SELECT meeting_id, start_time FROM meetings "                \
                        "WHERE meeting_id IN ("                                       \
                        "  SELECT meeting_id FROM meetings WHERE app_id = ?1 "        \
                        "  AND creator_userid = ?2 AND status IN (0, 1) "             \
                        "  AND start_time >= ?3 "                                     \
                        "  UNION SELECT meeting_id FROM meeting_hosts WHERE userid = ?2) " \
                        "AND app_id = ?1 AND status IN (0, 1) AND start_time >= ?3 "  \
                        "AND (meeting_type = 0 OR EXISTS (SELECT 1 FROM occurrences o " \
                        "  WHERE o.meeting_id = meetings.meeting_id AND o.status IN (0, 1))) " \
                        "ORDER BY start_time, meeting_id")                            \
    X(MEETING_SET_STATUS, "UPDATE meetings SET status = ?3 "                          \
                          "WHERE meeting_id = ?1 AND app_id = ?2")                    \
    X(OCC_SET_STATUS, "UPDATE occurrences SET status = ?3 "                           \
                      "WHERE meeting_id = ?1 AND sub_meeting_id = ?2 AND status <> ?3") \
    X(MEETING_UPDATE, "UPDATE meetings SET subject = ?3, meeting_type = ?4, "         \
                      "start_time = ?5, end_time = ?6, status = ?7, recurring_type = ?8, " \
                      "until_type = ?9, until_count = ?10, until_date = ?11 "         \
                      "WHERE meeting_id = ?1 AND app_id = ?2")                        \
    X(HOSTS_DELETE, "DELETE FROM meeting_hosts WHERE meeting_id = ?1")                \
    X(OCCS_DELETE, "DELETE FROM occurrences WHERE meeting_id = ?1")                   \
    /* users */                                                                       \
    X(USER_BY_USERID, "SELECT " STORE_USER_COLS("") " FROM users "                    \
                      "WHERE meeting_id = ?1 AND userid = ?2 AND userid <> ''")       \
    X(USER_BY_GUEST, "SELECT " STORE_USER_COLS("") " FROM users "                     \
                     "WHERE meeting_id = ?1 AND guest_id = ?2 AND guest_id <> ''")    \
    X(USER_BY_UUID, "SELECT " STORE_USER_COLS("") " FROM users "                      \
                    "WHERE meeting_id = ?1 AND uuid = ?2")                            \
    X(USER_BY_MS_OPEN_ID, "SELECT " STORE_USER_COLS("") " FROM users "                \
                          "WHERE meeting_id = ?1 AND ms_open_id = ?2")                \
    /* A user, the instanceids it is present on as a mask, whether it is     \
     * banned (store_user_party): one statement, not three. A user has at   \
     * most one present session an instanceid (devices_present), so the sum  \
     * of distinct powers of two is their OR and cannot overflow. */         \
    X(PARTY_BY_USERID, LITE_PARTY "u.userid = ?2 AND u.userid <> ''")                 \
    X(PARTY_BY_GUEST, LITE_PARTY "u.guest_id = ?2 AND u.guest_id <> ''")              \
    X(PARTY_BY_UUID, LITE_PARTY "u.uuid = ?2")                                        \
    X(PARTY_BY_MS_OPEN_ID, LITE_PARTY "u.ms_open_id = ?2")                            \
    X(USER_BY_NO, "SELECT " STORE_USER_COLS("") " FROM users WHERE user_no = ?1")     \
    X(USER_INSERT, "INSERT INTO users (meeting_id, userid, guest_id, uuid, "          \
                   "ms_open_id, nick_name, cohost) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)") \
    X(USER_SET_COHOST, "UPDATE users SET cohost = ?3 "                                \
                       "WHERE user_no = ?2 AND meeting_id = ?1")                      \
    X(USER_SET_NICK, "UPDATE users SET nick_name = ?3 "                               \
                     "WHERE user_no = ?2 AND meeting_id = ?1")                        \
    X(USERS_COHOSTS, "SELECT " STORE_USER_COLS("") " FROM users "                     \
                     "WHERE meeting_id = ?1 AND cohost = 1 ORDER BY user_no")         \
    X(USERS_COHOSTS_END, "UPDATE users SET cohost = 0 "                               \
                         "WHERE meeting_id = ?1 AND cohost = 1")                      \
    /* devices */                                                                     \
    X(DEVICE_PRESENCE, "SELECT instanceid FROM devices WHERE meeting_id = ?1 "        \
                       "AND user_no = ?2 AND left_time IS NULL")                      \
    X(DEVICE_INSERT, "INSERT INTO devices (meeting_id, sub_meeting_id, user_no, "     \
                     "instanceid, join_time, left_time, left_reason, token_hash) "    \
                     "VALUES (?1, ?2, ?3, ?4, ?5, NULL, 0, ?6)")                      \
    X(DEVICE_PRESENT, "SELECT " STORE_DEVICE_COLS("") " FROM devices "                \
                      "WHERE meeting_id = ?1 AND user_no = ?2 AND instanceid = ?3 "   \
                      "AND left_time IS NULL")                                        \
    X(DEVICE_END, "UPDATE devices SET left_time = ?2, left_reason = ?3 "              \
                  "WHERE device_no = ?1 AND left_time IS NULL")                       \
    X(DEVICES_PRESENT_ALL, "SELECT " STORE_DEVICE_COLS("") " FROM devices "           \
                           "INDEXED BY devices_present "                              \
                           "WHERE meeting_id = ?1 AND left_time IS NULL "             \
                           "ORDER BY device_no")                                      \
    X(DEVICES_END_ALL, "UPDATE devices INDEXED BY devices_present "                   \
                       "SET left_time = ?2, left_reason = ?3 "                        \
                       "WHERE meeting_id = ?1 AND left_time IS NULL")                 \
    X(DEVICE_GET, "SELECT " STORE_DEVICE_COLS("") " FROM devices WHERE device_no = ?1") \
    X(DEVICE_PRESENT_NO, "SELECT " STORE_DEVICE_COLS("") " FROM devices "             \
                         "WHERE device_no = ?1 AND left_time IS NULL")                \
    X(LEGACY_TOKEN, "SELECT device_no FROM legacy_tokens WHERE token_hash = ?1")      \
    X(PART_COUNT_ALL, "SELECT coalesce(sum(sessions), 0) FROM session_counts "        \
                      "WHERE meeting_id = ?1")                                        \
    X(PART_COUNT_SUB, "SELECT coalesce(sum(sessions), 0) FROM session_counts "        \
                      "WHERE meeting_id = ?1 AND sub_meeting_id = ?2")                \
    X(PART_AFTER_ALL, "SELECT " STORE_PARTICIPANT_COLS("d.", "u.")    \
                      " FROM devices d JOIN users u ON u.user_no = d.user_no "        \
                      "WHERE d.meeting_id = ?1 AND d.device_no > ?4 "                 \
                      "ORDER BY d.device_no LIMIT ?3")                                \
    X(PART_AFTER_SUB, "SELECT " STORE_PARTICIPANT_COLS("d.", "u.")    \
                      " FROM devices d JOIN users u ON u.user_no = d.user_no "        \
                      "WHERE d.meeting_id = ?1 AND d.sub_meeting_id = ?2 "            \
                      "AND d.device_no > ?4 ORDER BY d.device_no LIMIT ?3")           \
    X(PART_NTH_ALL, "SELECT device_no FROM devices WHERE meeting_id = ?1 "           \
                    "AND device_no > ?4 ORDER BY device_no LIMIT 1 OFFSET ?3")        \
    X(PART_NTH_SUB, "SELECT device_no FROM devices WHERE meeting_id = ?1 "           \
                    "AND sub_meeting_id = ?2 AND device_no > ?4 "                    \
                    "ORDER BY device_no LIMIT 1 OFFSET ?3")                          \
    X(PART_SESSION_OF, "SELECT count(*) FROM devices WHERE device_no = ?1 "           \
                       "AND meeting_id = ?2 AND (?3 = -1 OR sub_meeting_id = ?3)")    \
    X(PART_SPAN_COUNT, "SELECT count(*) FROM devices INDEXED BY devices_by_sub "     \
                       "WHERE meeting_id = ?1 AND sub_meeting_id = ?2 "               \
                       "AND join_time >= ?5 AND join_time <= ?6")                     \
    X(PART_SPAN_LIST, "SELECT " STORE_PARTICIPANT_COLS("d.", "u.")    \
                      " FROM devices d INDEXED BY devices_by_sub "                    \
                      "JOIN users u ON u.user_no = d.user_no "                        \
                      "WHERE d.meeting_id = ?1 AND d.sub_meeting_id = ?2 "            \
                      "AND d.join_time >= ?5 AND d.join_time <= ?6 "                  \
                      "ORDER BY d.device_no LIMIT ?3 OFFSET ?4")                      \
    X(PRESENT_COUNT, "SELECT count(*) FROM devices INDEXED BY devices_present_by_no " \
                     "WHERE meeting_id = ?1 AND left_time IS NULL "                   \
                     "AND (?2 = -1 OR sub_meeting_id = ?2)")                          \
    X(PRESENT_LIST, "SELECT " STORE_PARTICIPANT_COLS("d.", "u.")      \
                    " FROM devices d INDEXED BY devices_present_by_no "               \
                    "JOIN users u ON u.user_no = d.user_no "                          \
                    "WHERE d.meeting_id = ?1 AND d.left_time IS NULL "                \
                    "AND (?2 = -1 OR d.sub_meeting_id = ?2) "                         \
                    "ORDER BY d.device_no LIMIT ?3 OFFSET ?4")                        \
    /* bans */                                                                        \
    X(BAN_PUT, "INSERT INTO bans (meeting_id, user_no, banned_at, reason, "           \
               "operator_ms_open_id, request_id, op_userid, op_uuid, op_instanceid) " \
               "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) "                         \
               "ON CONFLICT (meeting_id, user_no) DO UPDATE SET "                     \
               "banned_at = excluded.banned_at, reason = excluded.reason, "           \
               "operator_ms_open_id = excluded.operator_ms_open_id, "                 \
               "request_id = excluded.request_id, op_userid = excluded.op_userid, "   \
               "op_uuid = excluded.op_uuid, op_instanceid = excluded.op_instanceid")  \
    X(BAN_EXISTS, "SELECT 1 FROM bans WHERE meeting_id = ?1 AND user_no = ?2")        \
    X(BAN_DELETE, "DELETE FROM bans WHERE meeting_id = ?1 AND user_no = ?2")          \
    X(BANS_LIST, "SELECT b.meeting_id, b.banned_at, b.reason, b.operator_ms_open_id, " \
                 "b.request_id, b.op_userid, b.op_uuid, b.op_instanceid, "            \
                 STORE_USER_COLS("u.")                                                \
                 " FROM bans b JOIN users u ON u.user_no = b.user_no "                \
                 "WHERE b.meeting_id = ?1 ORDER BY b.banned_at, b.user_no")           \
    /* audit */                                                                       \
    X(AUDIT_INSERT, "INSERT INTO audit (meeting_id, sub_meeting_id, time, "           \
                    "request_id, action, op_userid, op_uuid, op_ms_open_id, "         \
                    "op_instanceid, target_userid, target_guest_id, target_uuid, "    \
                    "target_ms_open_id, target_instanceid, allow_rejoin, reason) "    \
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, "     \
                    "?13, ?14, ?15, ?16)")                                            \
    X(AUDIT_COUNT, "SELECT count(*) FROM audit WHERE meeting_id = ?1")                \
    X(AUDIT_LIST, "SELECT " STORE_AUDIT_COLS " FROM audit WHERE meeting_id = ?1 "     \
                  "ORDER BY audit_no DESC LIMIT ?2 OFFSET ?3")                        \
    /* webhooks */                                                                    \
    X(WEBHOOK_INSERT, "INSERT INTO webhooks (app_id, url, token, created_at) "        \
                      "VALUES (?1, ?2, ?3, ?4)")                                      \
    X(WEBHOOK_GET, "SELECT " STORE_WEBHOOK_COLS("") " FROM webhooks "                 \
                   "WHERE webhook_id = ?1 AND app_id = ?2")                           \
    X(WEBHOOK_LIST, "SELECT " STORE_WEBHOOK_COLS("") " FROM webhooks "                \
                    "WHERE app_id = ?1 ORDER BY webhook_id")                          \
    X(WEBHOOK_COUNT, "SELECT count(*) FROM webhooks WHERE app_id = ?1")               \
    X(WEBHOOK_DELETE, "DELETE FROM webhooks WHERE webhook_id = ?1 AND app_id = ?2")   \
    /* webhook outbox: pending is status = 0, spelled out for outbox_due */           \
    X(OUTBOX_INSERT, "INSERT INTO outbox (webhook_id, app_id, event, payload, "       \
                     "created_at, next_attempt_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6)")  \
    /* The earliest ?2 due of each webhook, by app and webhook: an IN list   \
     * per webhook, each a few steps of outbox_webhook_due. */                  \
    X(OUTBOX_DUE, "SELECT " STORE_DELIVERY_COLS("o.") ", "                            \
                  STORE_WEBHOOK_COLS("w.") " FROM webhooks w JOIN outbox o "          \
                  "ON o.delivery_id IN (SELECT i.delivery_id FROM outbox i "          \
                  "INDEXED BY outbox_webhook_due WHERE i.webhook_id = w.webhook_id "  \
                  "AND i.status = 0 AND i.next_attempt_at <= ?1 "                     \
                  "ORDER BY i.next_attempt_at, i.delivery_id LIMIT ?2) "              \
                  "ORDER BY w.app_id, w.webhook_id, o.next_attempt_at, o.delivery_id") \
    X(OUTBOX_PENDING, "SELECT " STORE_DELIVERY_COLS("o.") ", o.payload, "             \
                      STORE_WEBHOOK_COLS("w.") " FROM outbox o "                      \
                      "JOIN webhooks w ON w.webhook_id = o.webhook_id "               \
                      "WHERE o.delivery_id = ?1 AND o.status = 0")                    \
    X(OUTBOX_NEXT_DUE, "SELECT next_attempt_at FROM outbox INDEXED BY outbox_due "    \
                       "WHERE status = 0 AND next_attempt_at > ?1 "                   \
                       "ORDER BY next_attempt_at LIMIT 1")                            \
    X(OUTBOX_CLAIM, "UPDATE outbox SET leased_by = ?2, next_attempt_at = ?4 "         \
                    "WHERE delivery_id = ?1 AND status = 0 AND next_attempt_at <= ?3") \
    X(OUTBOX_RELEASE, "UPDATE outbox SET next_attempt_at = ?3 "                       \
                      "WHERE delivery_id = ?1 AND status = 0 AND leased_by = ?2")     \
    X(OUTBOX_DELIVERED, "UPDATE outbox SET status = 1, attempts = attempts + 1, "     \
                        "delivered_at = ?2, last_http_status = ?3, last_error = '' "  \
                        "WHERE delivery_id = ?1 AND status = 0 AND leased_by = ?4")   \
    X(OUTBOX_RETRY, "UPDATE outbox SET attempts = attempts + 1, "                     \
                    "next_attempt_at = ?2, last_http_status = ?3, last_error = ?4 "   \
                    "WHERE delivery_id = ?1 AND status = 0 AND leased_by = ?5")       \
    X(OUTBOX_FAILED, "UPDATE outbox SET status = 2, attempts = attempts + 1, "        \
                     "last_http_status = ?2, last_error = ?3 "                        \
                     "WHERE delivery_id = ?1 AND status = 0 AND leased_by = ?4")      \
    X(DELIVERIES_COUNT_ALL, "SELECT count(*) FROM outbox WHERE app_id = ?1")          \
    X(DELIVERIES_COUNT_STATUS, "SELECT count(*) FROM outbox "                         \
                               "WHERE app_id = ?1 AND status = ?2")                   \
    X(DELIVERIES_LIST_ALL, "SELECT " STORE_DELIVERY_COLS("") " FROM outbox "          \
                           "WHERE app_id = ?1 "                                       \
                           "ORDER BY delivery_id DESC LIMIT ?3 OFFSET ?4")            \
    X(DELIVERIES_LIST_STATUS, "SELECT " STORE_DELIVERY_COLS("") " FROM outbox "       \
                              "WHERE app_id = ?1 AND status = ?2 "                    \
                              "ORDER BY delivery_id DESC LIMIT ?3 OFFSET ?4")

enum lite_stmt_id {
#define LITE_STMT_ENUM(name, sql) STMT_##name,
    LITE_STATEMENTS(LITE_STMT_ENUM)
#undef LITE_STMT_ENUM
    STMT__COUNT
};

typedef struct lite_pages lite_pages;
typedef struct lite_mcache lite_mcache;

/* One SQLite connection and its prepared statements. Used by one thread at a
 * time: the writer's by the writer thread, a reader's while checked out of
 * the pool. */
typedef struct lite_conn {
    sqlite3 *db;
    struct lite_store *store;  /* the writer's: its store (stamp, checkpointer) */
    bool writable;
    lite_pages *pages;        /* the store's (sqlite/pages.c); NULL: none */
    lite_mcache *mcache;      /* the writer's only (sqlite/mcache.c); else NULL */
    int64_t spent_pruned;      /* the writer's: spent nonces below this are gone */
    sqlite3_stmt *stmt[STMT__COUNT];
} lite_conn;

/* The connection of a transaction (store_tx in backend.h). */
static inline lite_conn *lite_tx_conn(const store_tx *tx)
{
    return tx->conn;
}

/* ---- schema.c -------------------------------------------------------- */

/* Brings db (a writable connection) to the latest version, one migration
 * per transaction; sets *version. -1 (logged) on failure, or when the
 * database is newer than this program knows. */
int lite_schema_migrate(sqlite3 *db, int *version);
/* The same, up to version target only: for the tests of a migration,
 * which build a database as an older meetd left it. */
int lite_schema_migrate_to(sqlite3 *db, int target, int *version);

/* ---- sqlite.c: statements and errors --------------------------------- */

/* The cached statement id, ready to bind; NULL (logged, tx failed) when it
 * cannot be prepared or the transaction is gone. Pair with lite_done. */
sqlite3_stmt *lite_stmt(store_tx *tx, enum lite_stmt_id id);
/* Resets st and clears its bindings (or finalizes it, when it was a one-off
 * prepared because the cached one was busy further up the stack). */
void lite_done(store_tx *tx, enum lite_stmt_id id, sqlite3_stmt *st);
/* Maps a failed SQLite result code of statement id: a unique or primary key
 * violation is STORE_CONFLICT; anything else is logged, fails the
 * transaction and is STORE_ERROR. */
store_rc lite_sqlite_rc(store_tx *tx, enum lite_stmt_id id, int rc);
/* Logs what (no values) and fails the transaction: STORE_ERROR. */
store_rc lite_invalid(store_tx *tx, const char *what);

/* Steps a statement that returns no rows to completion and releases it.
 * bind_rc is the OR of the bind results (nonzero: a bind failed).
 * STORE_OK, STORE_CONFLICT or STORE_ERROR; *changes (may be NULL) gets the
 * number of rows changed. */
store_rc lite_exec(store_tx *tx, enum lite_stmt_id id, sqlite3_stmt *st, int bind_rc,
                    int64_t *changes);
/* Steps a statement once: STORE_OK with a row to read, STORE_NOTFOUND when
 * none, else an error. The caller reads the row, then calls lite_done. */
store_rc lite_row(store_tx *tx, enum lite_stmt_id id, sqlite3_stmt *st, int bind_rc);
/* Steps st through all its rows, calling row for each, and releases it.
 * A nonzero return of row stops the iteration and is returned as is;
 * otherwise STORE_OK, or STORE_ERROR when stepping failed. */
typedef store_rc (*lite_row_fn)(sqlite3_stmt *st, void *ctx);
store_rc lite_each(store_tx *tx, enum lite_stmt_id id, sqlite3_stmt *st, int bind_rc,
                    lite_row_fn row, void *ctx);
/* Runs a single-value query (count(*)) into *out and releases it. */
store_rc lite_count(store_tx *tx, enum lite_stmt_id id, sqlite3_stmt *st, int bind_rc,
                     int64_t *out);

/* A savepoint around a primitive that runs several statements, so that it
 * changes all or nothing (and the caller may retry within the transaction
 * after a CONFLICT). lite_sp_end releases it after rc == STORE_OK, rolls it
 * back otherwise, and returns rc (or STORE_ERROR when that fails). */
store_rc lite_sp_begin(store_tx *tx);
store_rc lite_sp_end(store_tx *tx, store_rc rc);

/* ---- values in and out ------------------------------------------------ */

/* Longest string argument accepted from a caller that passes a bare
 * const char * (lookups by value); longer ones are cut here. */
#define LITE_ARG_MAX (CORE_REASON_MAX + 1)

static inline int lite_bind_str(sqlite3_stmt *st, int i, const char *s, size_t cap)
{
    return sqlite3_bind_text(st, i, s, (int)strnlen(s, cap), SQLITE_STATIC);
}
/* arr must be an array (sizeof is its capacity), not a pointer. */
#define LITE_BIND_STR(st, i, arr) lite_bind_str((st), (i), (arr), sizeof(arr))

/* Copies a text column into dst (capacity cap), truncated to fit. */
void lite_col_str(sqlite3_stmt *st, int col, char *dst, size_t cap);
#define LITE_COL_STR(st, col, arr) lite_col_str((st), (col), (arr), sizeof(arr))

/* A row of st for columns.h's decoders: store_row_user(LITE_ROW(st), 0, &u).
 * The four readers are store_row's. */
int64_t lite_row_num(const store_row *r, int col);
void lite_row_text(const store_row *r, int col, char *dst, size_t cap);
void lite_row_bytes(const store_row *r, int col, uint8_t *dst, size_t n);
const char *lite_row_str(const store_row *r, int col);
#define LITE_ROW(st)                                                                  \
    (&(const store_row){(st), 0, lite_row_num, lite_row_text, lite_row_bytes, lite_row_str})

/* Clamps a page request to what SQLite's LIMIT/OFFSET take. */
static inline void lite_page(int64_t *pos, int *size)
{
    if (*pos < 0)
        *pos = 0;
    if (*size < 0)
        *size = 0;
}

/* The background WAL checkpointer (sqlite/ckpt.c): started once the
 * database is in WAL mode, stopped before the writer closes. */
typedef struct lite_ckpt lite_ckpt;
int lite_ckpt_start(const char *path, sqlite3 *writer, lite_ckpt **out);
void lite_ckpt_stop(lite_ckpt *k, sqlite3 *writer);
/* The writer brackets each batch with these (k may be NULL): between two
 * batches the checkpointer may hold it for the pass that lets the WAL
 * start over. */
void lite_ckpt_batch_begin(lite_ckpt *k);
void lite_ckpt_batch_end(lite_ckpt *k);

/* Where participants pages start (sqlite/pages.c): for (meeting,
 * occurrence, pos) the session just before pos, once a page has ended
 * there. A hint: the caller checks the session is still the meeting's. */
int lite_pages_new(lite_pages **out);
void lite_pages_free(lite_pages *p);
bool lite_pages_get(lite_pages *p, int64_t meeting_id, int64_t sub, int64_t pos,
                     int64_t *before_no);
void lite_pages_put(lite_pages *p, int64_t meeting_id, int64_t sub, int64_t pos,
                     int64_t before_no);

/* The writer's copies of meetings (sqlite/mcache.c). get copies one out
 * when it is held for that app; put keeps one; drop forgets one; clear
 * forgets all (the apps without webhooks too). check, at the start of a
 * write transaction, clears when another connection has committed since
 * the last check. no_hooks: the app was seen without webhooks since. */
int lite_mcache_new(lite_mcache **out);
void lite_mcache_free(lite_mcache *mc);
bool lite_mcache_get(const lite_mcache *mc, const char *app_id, int64_t meeting_id,
                      core_meeting *out);
void lite_mcache_put(lite_mcache *mc, const core_meeting *m);
void lite_mcache_drop(lite_mcache *mc, int64_t meeting_id);
void lite_mcache_clear(lite_mcache *mc);
bool lite_mcache_no_hooks(lite_mcache *mc, const char *app_id);
void lite_mcache_put_no_hooks(lite_mcache *mc, const char *app_id);
void lite_mcache_drop_hooks(lite_mcache *mc, const char *app_id);
/* Around each job: a rolled-back job clears only when it changed what the
 * copies hold (a drop or a clear since job_begin). */
void lite_mcache_job_begin(lite_mcache *mc);
void lite_mcache_job_undone(lite_mcache *mc);
int lite_mcache_check(lite_mcache *mc, store_tx *tx);

/* ---- the primitives (apps.c, bans.c, meetings.c, spent.c, users.c,
 * webhooks.c): what store_backend_sqlite's table points at; store.h says
 * what each does. */
store_rc lite_spend(store_tx *tx, const char *app_id, int64_t timestamp, uint64_t nonce,
                    int64_t keep_from);
store_rc lite_app_insert(store_tx *tx, const store_app *app);
store_rc lite_app_get(store_tx *tx, const char *app_id, store_app *out);
store_rc lite_app_list(store_tx *tx, store_app_cb cb, void *arg);
store_rc lite_app_count(store_tx *tx, int64_t *count);
store_rc lite_app_delete(store_tx *tx, const char *app_id);
store_rc lite_key_insert(store_tx *tx, const store_key *key);
store_rc lite_key_get(store_tx *tx, const char *secret_id, store_key *key, store_app *app);
store_rc lite_key_list(store_tx *tx, const char *app_id, store_key_cb cb, void *arg);
store_rc lite_key_delete_all(store_tx *tx, const char *app_id);
store_rc lite_meeting_insert(store_tx *tx, const core_meeting *m);
store_rc lite_meeting_get(store_tx *tx, const char *app_id, int64_t meeting_id, core_meeting *out);
store_rc lite_meeting_app(store_tx *tx, int64_t meeting_id, char app_id[CORE_APPID_MAX + 1]);
store_rc lite_meeting_by_code(store_tx *tx, const char *code, int64_t *meeting_id,
                              char app_id[CORE_APPID_MAX + 1]);
store_rc lite_meetings_of_user(store_tx *tx, const char *app_id, const char *userid, int64_t from,
                               int64_t skip, int limit, store_meeting_id_cb cb, void *arg,
                               int64_t *remaining, int64_t *next_from, int64_t *next_skip);
store_rc lite_meeting_update_status(store_tx *tx, const core_meeting *m);
store_rc lite_meeting_update(store_tx *tx, const core_meeting *m);
store_rc lite_user_get(store_tx *tx, int64_t meeting_id, core_id_type kind, const char *value,
                       core_user *out);
store_rc lite_user_insert(store_tx *tx, int64_t meeting_id, core_user *u);
store_rc lite_user_by_no(store_tx *tx, int64_t user_no, core_user *out);
store_rc lite_user_set_cohost(store_tx *tx, int64_t meeting_id, int64_t user_no, bool cohost);
store_rc lite_user_set_nick(store_tx *tx, int64_t meeting_id, int64_t user_no, const char *nick);
store_rc lite_cohosts_list(store_tx *tx, int64_t meeting_id, store_user_cb cb, void *arg);
store_rc lite_cohosts_end(store_tx *tx, int64_t meeting_id);
store_rc lite_user_party(store_tx *tx, int64_t meeting_id, core_id_type kind,
                         const char *value, core_user *out, uint64_t *mask, bool *banned);
store_rc lite_user_presence(store_tx *tx, int64_t meeting_id, int64_t user_no, uint64_t *mask);
store_rc lite_device_insert(store_tx *tx, core_device *d);
store_rc lite_device_present(store_tx *tx, int64_t meeting_id, int64_t user_no, int instanceid,
                             core_device *out);
store_rc lite_device_end(store_tx *tx, int64_t device_no, int64_t left_time, int left_reason);
store_rc lite_device_end_present(store_tx *tx, int64_t meeting_id, int64_t user_no,
                                 int instanceid, int64_t left_time, int left_reason,
                                 core_device *out);
store_rc lite_devices_end_all(store_tx *tx, int64_t meeting_id, int64_t left_time, int left_reason,
                              store_device_cb cb, void *arg);
store_rc lite_device_get(store_tx *tx, int64_t device_no, core_device *out);
store_rc lite_device_by_token(store_tx *tx, int64_t device_no, const uint8_t secret_hash[32],
                              core_device *out);
store_rc lite_participants_list(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id,
                                int64_t pos, int size, store_participant_cb cb, void *arg,
                                int64_t *total);
store_rc lite_participants_between(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id,
                                   int64_t from, int64_t to, int64_t pos, int size,
                                   store_participant_cb cb, void *arg, int64_t *total);
store_rc lite_present_list(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id, int64_t pos,
                           int size, store_participant_cb cb, void *arg, int64_t *total);
store_rc lite_ban_put(store_tx *tx, const core_ban *b);
store_rc lite_ban_exists(store_tx *tx, int64_t meeting_id, int64_t user_no, bool *banned);
store_rc lite_ban_delete(store_tx *tx, int64_t meeting_id, int64_t user_no);
store_rc lite_bans_list(store_tx *tx, int64_t meeting_id, store_ban_cb cb, void *arg);
store_rc lite_audit_insert(store_tx *tx, core_audit *a);
store_rc lite_audit_list(store_tx *tx, int64_t meeting_id, int64_t pos, int size,
                         store_audit_cb cb, void *arg, int64_t *total);
store_rc lite_webhook_insert(store_tx *tx, store_webhook *w);
store_rc lite_webhook_get(store_tx *tx, const char *app_id, int64_t webhook_id,
                          store_webhook *out);
store_rc lite_webhook_list(store_tx *tx, const char *app_id, store_webhook_cb cb, void *arg);
store_rc lite_webhook_count(store_tx *tx, const char *app_id, int64_t *count);
store_rc lite_webhook_delete(store_tx *tx, const char *app_id, int64_t webhook_id);
store_rc lite_outbox_insert(store_tx *tx, store_delivery *d, const char *payload);
store_rc lite_outbox_due(store_tx *tx, int64_t now, int per_webhook, store_due_cb cb, void *arg);
store_rc lite_outbox_pending(store_tx *tx, int64_t delivery_id, store_pending_cb cb, void *arg);
store_rc lite_outbox_next_due(store_tx *tx, int64_t after, int64_t *at);
store_rc lite_outbox_claim(store_tx *tx, int64_t delivery_id, int64_t holder, int64_t now,
                           int64_t until);
store_rc lite_outbox_release(store_tx *tx, int64_t delivery_id, int64_t holder, int64_t at);
store_rc lite_outbox_delivered(store_tx *tx, int64_t delivery_id, int64_t holder, int64_t at,
                               int http_status);
store_rc lite_outbox_retry(store_tx *tx, int64_t delivery_id, int64_t holder,
                           int64_t next_attempt_at, int http_status, const char *error);
store_rc lite_outbox_failed(store_tx *tx, int64_t delivery_id, int64_t holder, int http_status,
                            const char *error);
store_rc lite_deliveries_list(store_tx *tx, const char *app_id, int status, int64_t pos, int size,
                              store_delivery_cb cb, void *arg, int64_t *total);
store_rc lite_node_register(store_tx *tx, const store_node *n);
store_rc lite_node_heartbeat(store_tx *tx, int64_t node_id, int64_t now, int64_t dead_before);
store_rc lite_node_list(store_tx *tx, store_node_cb cb, void *arg);
store_rc lite_node_stop(store_tx *tx, int64_t node_id, int64_t grace_until);
store_rc lite_stream_attach(store_tx *tx, int64_t device_no, int64_t node_id,
                            int64_t expected, int64_t *from);
store_rc lite_stream_detach(store_tx *tx, int64_t device_no, int64_t node_id,
                            int64_t grace_until);
store_rc lite_meetings_lock_of_devices(store_tx *tx, const int64_t *device_nos, size_t n);
store_rc lite_stream_get(store_tx *tx, int64_t device_no, int64_t *stream_node,
                         int64_t *grace_until);
store_rc lite_presence_due(store_tx *tx, int64_t now, int64_t dead_before, int64_t grace_ms,
                           int64_t forget_before, int limit, store_device_no_cb cb, void *arg);
store_rc lite_presence_claim(store_tx *tx, int64_t device_no, int64_t now);
store_rc lite_event_insert(store_tx *tx, store_event *e, const char *payload);
store_rc lite_events_since(store_tx *tx, int64_t meeting_id, int64_t after, int limit,
                           store_event_cb cb, void *arg);
store_rc lite_events_since_many(store_tx *tx, const store_cursor *cursors, size_t n, int limit,
                                store_event_cb cb, void *arg);
store_rc lite_events_last(store_tx *tx, int64_t meeting_id, int64_t *event_no);
store_rc lite_events_prune(store_tx *tx, int64_t before);

#endif
