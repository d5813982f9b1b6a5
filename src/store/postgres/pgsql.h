/* Internals shared by the PostgreSQL backend's files (prefix pgsql_). Not
 * part of the store interface: nothing outside src/store/postgres/ includes
 * this, but for the store's own tests.
 *
 * Every statement the backend runs is listed once, below, with its SQL. A
 * connection prepares a statement (named by its number, in the same
 * pipeline as its first run: pgsql.c) the first time it needs it and keeps
 * it for the connection's life, so the hot paths never parse SQL; a new connection after a loss prepares them again. Values
 * only ever reach PostgreSQL as parameters: strings in binary format with
 * their length (so a caller's bound is applied without a copy), numbers as
 * text. Results are text.
 *
 * Where SQLite's statements answer a unique-key clash with an error that
 * leaves the transaction usable, PostgreSQL's error aborts the whole
 * transaction: so every insert that may clash says ON CONFLICT DO NOTHING
 * and a missing RETURNING row is the CONFLICT, and the caller may draw a new
 * id and try again in the same transaction as it does on SQLite. */
#ifndef MEETD_STORE_PGSQL_H
#define MEETD_STORE_PGSQL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/backend.h"
#include "store/columns.h"

/* store_user_party's statement, but for its last condition. */
#define PGSQL_PARTY                                                                   \
    "SELECT " STORE_USER_COLS("u.") ", (SELECT coalesce(bit_or(1::bigint << "       \
    "d.instanceid), 0) FROM devices d WHERE d.meeting_id = u.meeting_id AND "         \
    "d.user_no = u.user_no AND d.left_time IS NULL AND d.instanceid BETWEEN 0 AND 63), " \
    "EXISTS (SELECT 1 FROM bans b WHERE b.meeting_id = u.meeting_id AND "            \
    "b.user_no = u.user_no) FROM users u WHERE u.meeting_id = $1 AND "

/* The server's clock in Unix ms, and a rate bucket's tokens now ($2 its
 * burst, $3 its rate per ms). */
#define PGSQL_NOW_MS "(extract(epoch FROM clock_timestamp()) * 1000)::bigint"
#define PGSQL_RATE_REFILLED                                                           \
    "LEAST($2::float8, tokens + GREATEST(0, " PGSQL_NOW_MS " - updated_at) * $3::float8)"

/* Advisory lock keys (pg_advisory_lock takes a bigint): "meetd" and what
 * the lock guards. */
#define PGSQL_LOCK_SCHEMA INT64_C(0x6d65657464000001)  /* migrations */
#define PGSQL_LOCK_APPS INT64_C(0x6d65657464000002)    /* app_count in a write */
#define PGSQL_LOCK_SPENT INT64_C(0x6d65657464000003)   /* pruning spent nonces */

/* X(name, writes, sql). writes: the statement changes rows, and is refused
 * inside store_read. A participants page is read with LIMIT/OFFSET on the
 * meeting's index, and only after the count has said that the page is not
 * past the end (users.c): a page far into a meeting steps over the index
 * entries before it (SQLite's backend remembers where pages start; this
 * one does not yet). */
/* The channel of the change feed: event rows were committed; the payload
 * is their meeting's id (changes.c). */
#define PGSQL_CHANNEL "meetd_events"

#define PGSQL_STATEMENTS(X)                                                           \
    /* spent nonces */                                                                \
    X(SPENT_INSERT, 1, "INSERT INTO spent_nonces (ts, nonce, app_id) "                \
                       "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING RETURNING 1")       \
    /* One node prunes at a time: the others skip (the lock is the             \
     * transaction's, taken once per statement by the InitPlan). */             \
    X(SPENT_PRUNE, 1, "DELETE FROM spent_nonces WHERE ts < $1 "                       \
                      "AND (SELECT pg_try_advisory_xact_lock($2))")  \
    /* shared rate limits: the bucket refilled by the server's clock, then     \
     * up to $4 whole tokens taken; one row, so EvalPlanQual recomputes both   \
     * from the newest version when two nodes take at once. */                 \
    X(RATE_BUCKET, 1, "INSERT INTO rate_buckets (app_id, tokens, updated_at, granted) " \
                      "VALUES ($1, $2::float8, " PGSQL_NOW_MS ", 0) "                  \
                      "ON CONFLICT DO NOTHING")                                       \
    X(RATE_TAKE, 1, "UPDATE rate_buckets SET "                                        \
                    "granted = floor(LEAST(" PGSQL_RATE_REFILLED ", $4::float8)), "   \
                    "tokens = " PGSQL_RATE_REFILLED " - floor(LEAST("                 \
                    PGSQL_RATE_REFILLED ", $4::float8)), "                            \
                    "updated_at = GREATEST(updated_at, " PGSQL_NOW_MS ") "           \
                    "WHERE app_id = $1 RETURNING granted")                            \
    /* apps and keys */                                                               \
    X(APP_INSERT, 1, "INSERT INTO apps (" STORE_APP_COLS("") ") "                     \
                     "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1")     \
    X(APP_GET, 0, "SELECT " STORE_APP_COLS("") " FROM apps WHERE app_id = $1")        \
    X(APP_LIST, 0, "SELECT " STORE_APP_COLS("") " FROM apps ORDER BY app_id")         \
    X(APP_COUNT, 0, "SELECT count(*) FROM apps")                                      \
    X(APPS_LOCK, 0, "SELECT pg_advisory_xact_lock($1)")              \
    X(APP_DELETE, 1, "DELETE FROM apps WHERE app_id = $1")                            \
    X(KEY_INSERT, 1, "INSERT INTO app_keys (" STORE_KEY_COLS("") ") "                 \
                     "VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING RETURNING 1")     \
    X(KEY_GET, 0, "SELECT " STORE_KEY_COLS("k.") ", "                                 \
                  STORE_APP_COLS("a.") " "                                            \
                  "FROM app_keys k JOIN apps a ON a.app_id = k.app_id "               \
                  "WHERE k.secret_id = $1")                                           \
    X(KEY_LIST, 0, "SELECT " STORE_KEY_COLS("") " FROM app_keys "                     \
                   "WHERE app_id = $1 ORDER BY created_at, secret_id")                \
    X(KEY_DELETE_ALL, 1, "DELETE FROM app_keys WHERE app_id = $1")                    \
    /* meetings */                                                                    \
    X(MEETING_INSERT, 1, "INSERT INTO meetings (" STORE_MEETING_COLS ") VALUES "      \
                         "($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, "  \
                         "$14, $15, $16) ON CONFLICT DO NOTHING RETURNING 1")          \
    X(HOST_INSERT, 1, "INSERT INTO meeting_hosts (meeting_id, pos, userid) "          \
                      "VALUES ($1, $2, $3)")                                          \
    X(OCC_INSERT, 1, "INSERT INTO occurrences (meeting_id, sub_meeting_id, start_time, " \
                     "end_time, status) VALUES ($1, $2, $3, $4, $5)")                 \
    X(MEETING_GET, 0, "SELECT " STORE_MEETING_COLS " FROM meetings "                  \
                      "WHERE meeting_id = $1 AND app_id = $2")                        \
    /* In a write: every job on one meeting, on any node, waits here for     \
     * the one before it to commit. */                                         \
    X(MEETING_GET_LOCK, 0, "SELECT " STORE_MEETING_COLS " FROM meetings "             \
                           "WHERE meeting_id = $1 AND app_id = $2 FOR UPDATE")        \
    X(HOSTS_GET, 0, "SELECT userid FROM meeting_hosts WHERE meeting_id = $1 "         \
                    "ORDER BY pos")                                                   \
    X(OCCS_GET, 0, "SELECT sub_meeting_id, start_time, end_time, status "             \
                   "FROM occurrences WHERE meeting_id = $1 ORDER BY sub_meeting_id")  \
    X(MEETING_APP, 0, "SELECT app_id FROM meetings WHERE meeting_id = $1")            \
    X(MEETING_BY_CODE, 0, "SELECT meeting_id, app_id FROM meetings "                  \
                          "WHERE meeting_code = $1")                                  \
    X(MEETINGS_OF_USER, 0, "SELECT meeting_id, start_time FROM meetings m "           \
                           "WHERE meeting_id IN ("                                    \
                           "  SELECT meeting_id FROM meetings WHERE app_id = $1 "     \
                           "  AND creator_userid = $2 AND status IN (0, 1) "          \
                           "  AND start_time >= $3 "                                  \
                           "  UNION SELECT meeting_id FROM meeting_hosts "            \
                           "  WHERE userid = $2) "                                    \
                           "AND app_id = $1 AND status IN (0, 1) AND start_time >= $3 " \
                           "AND (meeting_type = 0 OR EXISTS (SELECT 1 FROM occurrences o " \
                           "  WHERE o.meeting_id = m.meeting_id AND o.status IN (0, 1))) " \
                           "ORDER BY start_time, meeting_id")                         \
    X(MEETING_SET_STATUS, 1, "UPDATE meetings SET status = $3 "                       \
                             "WHERE meeting_id = $1 AND app_id = $2")                 \
    X(OCC_SET_STATUS, 1, "UPDATE occurrences SET status = $3 WHERE meeting_id = $1 "  \
                         "AND sub_meeting_id = $2 AND status <> $3")                  \
    X(MEETING_UPDATE, 1, "UPDATE meetings SET subject = $3, meeting_type = $4, "      \
                         "start_time = $5, end_time = $6, status = $7, "              \
                         "recurring_type = $8, until_type = $9, until_count = $10, "  \
                         "until_date = $11 WHERE meeting_id = $1 AND app_id = $2")    \
    X(HOSTS_DELETE, 1, "DELETE FROM meeting_hosts WHERE meeting_id = $1")             \
    X(OCCS_DELETE, 1, "DELETE FROM occurrences WHERE meeting_id = $1")                \
    /* users */                                                                       \
    X(USER_BY_USERID, 0, "SELECT " STORE_USER_COLS("") " FROM users "                 \
                         "WHERE meeting_id = $1 AND userid = $2 AND userid <> ''")    \
    X(USER_BY_GUEST, 0, "SELECT " STORE_USER_COLS("") " FROM users "                  \
                        "WHERE meeting_id = $1 AND guest_id = $2 AND guest_id <> ''") \
    X(USER_BY_UUID, 0, "SELECT " STORE_USER_COLS("") " FROM users "                   \
                       "WHERE meeting_id = $1 AND uuid = $2")                         \
    X(USER_BY_MS_OPEN_ID, 0, "SELECT " STORE_USER_COLS("") " FROM users "             \
                             "WHERE meeting_id = $1 AND ms_open_id = $2")             \
    /* A user, the instanceids it is present on as a mask, whether it is     \
     * banned (store_user_party): one statement for three. */               \
    X(PARTY_BY_USERID, 0, PGSQL_PARTY "u.userid = $2 AND u.userid <> ''")             \
    X(PARTY_BY_GUEST, 0, PGSQL_PARTY "u.guest_id = $2 AND u.guest_id <> ''")          \
    X(PARTY_BY_UUID, 0, PGSQL_PARTY "u.uuid = $2")                                    \
    X(PARTY_BY_MS_OPEN_ID, 0, PGSQL_PARTY "u.ms_open_id = $2")                        \
    X(USER_BY_NO, 0, "SELECT " STORE_USER_COLS("") " FROM users WHERE user_no = $1")  \
    X(USER_INSERT, 1, "INSERT INTO users (meeting_id, userid, guest_id, uuid, "       \
                      "ms_open_id, nick_name, cohost) VALUES ($1, $2, $3, $4, $5, $6, $7) " \
                      "ON CONFLICT DO NOTHING RETURNING user_no")                     \
    X(USER_SET_COHOST, 1, "UPDATE users SET cohost = $3 "                             \
                          "WHERE user_no = $2 AND meeting_id = $1")                   \
    X(USER_SET_NICK, 1, "UPDATE users SET nick_name = $3 "                            \
                        "WHERE user_no = $2 AND meeting_id = $1")                     \
    X(USERS_COHOSTS, 0, "SELECT " STORE_USER_COLS("") " FROM users "                  \
                        "WHERE meeting_id = $1 AND cohost = 1 ORDER BY user_no")      \
    X(USERS_COHOSTS_END, 1, "UPDATE users SET cohost = 0 "                            \
                            "WHERE meeting_id = $1 AND cohost = 1")                   \
    /* devices */                                                                     \
    X(DEVICE_PRESENCE, 0, "SELECT instanceid FROM devices WHERE meeting_id = $1 "     \
                          "AND user_no = $2 AND left_time IS NULL")                   \
    X(DEVICE_INSERT, 1, "INSERT INTO devices (meeting_id, sub_meeting_id, user_no, "  \
                        "instanceid, join_time, left_time, left_reason, token_hash) " \
                        "VALUES ($1, $2, $3, $4, $5, NULL, 0, $6) "                   \
                        "ON CONFLICT DO NOTHING RETURNING device_no")                 \
    X(DEVICE_PRESENT, 0, "SELECT " STORE_DEVICE_COLS("") " FROM devices "             \
                         "WHERE meeting_id = $1 AND user_no = $2 AND instanceid = $3 " \
                         "AND left_time IS NULL")                                     \
    X(DEVICE_END_PRESENT, 1, "UPDATE devices SET left_time = $4, left_reason = $5 "   \
                             "WHERE meeting_id = $1 AND user_no = $2 AND "            \
                             "instanceid = $3 AND left_time IS NULL RETURNING "       \
                             STORE_DEVICE_COLS(""))                                   \
    X(DEVICE_END, 1, "UPDATE devices SET left_time = $2, left_reason = $3 "           \
                     "WHERE device_no = $1 AND left_time IS NULL")                    \
    X(DEVICES_PRESENT_ALL, 0, "SELECT " STORE_DEVICE_COLS("") " FROM devices "        \
                              "WHERE meeting_id = $1 AND left_time IS NULL "          \
                              "ORDER BY device_no")                                   \
    X(DEVICES_END_ALL, 1, "UPDATE devices SET left_time = $2, left_reason = $3 "      \
                          "WHERE meeting_id = $1 AND left_time IS NULL")              \
    X(DEVICE_GET, 0, "SELECT " STORE_DEVICE_COLS("") " FROM devices WHERE device_no = $1") \
    X(DEVICE_PRESENT_NO, 0, "SELECT " STORE_DEVICE_COLS("") " FROM devices "          \
                            "WHERE device_no = $1 AND left_time IS NULL")             \
    /* participants: counts from session_counts (one row per occurrence) */         \
    X(PART_COUNT_ALL, 0, "SELECT coalesce(sum(sessions), 0) FROM session_counts "     \
                         "WHERE meeting_id = $1")                                     \
    X(PART_COUNT_SUB, 0, "SELECT coalesce(sum(sessions), 0) FROM session_counts "     \
                         "WHERE meeting_id = $1 AND sub_meeting_id = $2")             \
    /* The page's sessions picked on the index alone, then their rows. */      \
    X(PART_LIST_ALL, 0, "SELECT " STORE_PARTICIPANT_COLS("d.", "u.")  \
                        " FROM (SELECT device_no FROM devices WHERE meeting_id = $1 " \
                        "ORDER BY device_no LIMIT $2 OFFSET $3) p "                   \
                        "JOIN devices d ON d.device_no = p.device_no "                \
                        "JOIN users u ON u.user_no = d.user_no ORDER BY d.device_no") \
    X(PART_LIST_SUB, 0, "SELECT " STORE_PARTICIPANT_COLS("d.", "u.")  \
                        " FROM (SELECT device_no FROM devices WHERE meeting_id = $1 " \
                        "AND sub_meeting_id = $4 ORDER BY device_no LIMIT $2 OFFSET $3) p " \
                        "JOIN devices d ON d.device_no = p.device_no "                \
                        "JOIN users u ON u.user_no = d.user_no ORDER BY d.device_no") \
    X(PART_SPAN_COUNT, 0, "SELECT count(*) FROM devices "                             \
                          "WHERE meeting_id = $1 AND sub_meeting_id = $2 "            \
                          "AND join_time >= $3 AND join_time <= $4")                  \
    X(PART_SPAN_LIST, 0, "SELECT " STORE_PARTICIPANT_COLS("d.", "u.") \
                         " FROM devices d JOIN users u ON u.user_no = d.user_no "     \
                         "WHERE d.meeting_id = $1 AND d.sub_meeting_id = $4 "         \
                         "AND d.join_time >= $5 AND d.join_time <= $6 "               \
                         "ORDER BY d.device_no LIMIT $2 OFFSET $3")                   \
    X(PRESENT_COUNT, 0, "SELECT count(*) FROM devices "                               \
                        "WHERE meeting_id = $1 AND left_time IS NULL "                \
                        "AND ($2::bigint = -1 OR sub_meeting_id = $2)")               \
    X(PRESENT_LIST, 0, "SELECT " STORE_PARTICIPANT_COLS("d.", "u.")   \
                       " FROM devices d JOIN users u ON u.user_no = d.user_no "       \
                       "WHERE d.meeting_id = $1 AND d.left_time IS NULL "             \
                       "AND ($4::bigint = -1 OR d.sub_meeting_id = $4) "              \
                       "ORDER BY d.device_no LIMIT $2 OFFSET $3")                     \
    /* bans */                                                                        \
    X(BAN_PUT, 1, "INSERT INTO bans (meeting_id, user_no, banned_at, reason, "        \
                  "operator_ms_open_id, request_id, op_userid, op_uuid, op_instanceid) " \
                  "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) "                      \
                  "ON CONFLICT (meeting_id, user_no) DO UPDATE SET "                  \
                  "banned_at = excluded.banned_at, reason = excluded.reason, "        \
                  "operator_ms_open_id = excluded.operator_ms_open_id, "              \
                  "request_id = excluded.request_id, op_userid = excluded.op_userid, " \
                  "op_uuid = excluded.op_uuid, op_instanceid = excluded.op_instanceid") \
    X(BAN_EXISTS, 0, "SELECT 1 FROM bans WHERE meeting_id = $1 AND user_no = $2")     \
    X(BAN_DELETE, 1, "DELETE FROM bans WHERE meeting_id = $1 AND user_no = $2")       \
    X(BANS_LIST, 0, "SELECT b.meeting_id, b.banned_at, b.reason, b.operator_ms_open_id, " \
                    "b.request_id, b.op_userid, b.op_uuid, b.op_instanceid, "         \
                    STORE_USER_COLS("u.")                                             \
                    " FROM bans b JOIN users u ON u.user_no = b.user_no "             \
                    "WHERE b.meeting_id = $1 ORDER BY b.banned_at, b.user_no")        \
    /* audit */                                                                       \
    X(AUDIT_INSERT, 1, "INSERT INTO audit (meeting_id, sub_meeting_id, time, "        \
                       "request_id, action, op_userid, op_uuid, op_ms_open_id, "      \
                       "op_instanceid, target_userid, target_guest_id, target_uuid, " \
                       "target_ms_open_id, target_instanceid, allow_rejoin, reason) " \
                       "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, "  \
                       "$13, $14, $15, $16) RETURNING audit_no")                      \
    X(AUDIT_COUNT, 0, "SELECT count(*) FROM audit WHERE meeting_id = $1")             \
    X(AUDIT_LIST, 0, "SELECT " STORE_AUDIT_COLS " FROM audit WHERE meeting_id = $1 "  \
                     "ORDER BY audit_no DESC LIMIT $2 OFFSET $3")                     \
    /* events (events.c) */                                                           \
    /* The row and its notification in one round trip: pg_notify in the   \
     * transaction is sent only if it commits (and dropped with a rolled  \
     * back savepoint); one a meeting per transaction (PostgreSQL drops   \
     * the duplicates), so a payload is one meeting id, far below the     \
     * 8000 bytes a payload may hold. changes.c listens. */               \
    X(EVENT_INSERT, 1, "WITH e AS (INSERT INTO events (meeting_id, device_no, "      \
                       "type, payload, created_at) VALUES ($1, "                      \
                       "NULLIF($2::bigint, 0), $3, $4, $5) RETURNING event_no, "      \
                       "meeting_id) SELECT event_no, pg_notify('" PGSQL_CHANNEL "', " \
                       "meeting_id::text) FROM e")                                    \
    X(EVENTS_SINCE, 0, "SELECT " STORE_EVENT_COLS("") " FROM events "                 \
                       "WHERE meeting_id = $1 AND event_no > $2 "                     \
                       "ORDER BY event_no LIMIT $3")                                  \
    /* Every cursor's rows in one round trip (store_events_since_many):    \
     * $1 the meetings, $2 their cursors, side by side, each read on the  \
     * index by the LATERAL with its own LIMIT, in the cursors' order. */ \
    X(EVENTS_SINCE_MANY, 0, "SELECT " STORE_EVENT_COLS("e.") " FROM unnest($1::bigint[], " \
                            "$2::bigint[]) WITH ORDINALITY AS c(meeting_id, after_no, i) " \
                            "CROSS JOIN LATERAL (SELECT * FROM events "               \
                            "WHERE events.meeting_id = c.meeting_id "                 \
                            "AND events.event_no > c.after_no "                      \
                            "ORDER BY events.event_no LIMIT $3) e "                   \
                            "ORDER BY c.i, e.event_no")                               \
    X(EVENTS_LAST, 0, "SELECT coalesce(max(event_no), 0) FROM events "                \
                      "WHERE meeting_id = $1")                                        \
    X(EVENTS_PRUNE, 1, "DELETE FROM events WHERE created_at < $1")                    \
    /* presence (presence.c) */                                                       \
    X(NODE_UPSERT, 1, "INSERT INTO nodes (node_id, address, started_at, heartbeat_at) " \
                      "VALUES ($1, $2, $3, $4) ON CONFLICT (node_id) DO UPDATE SET "  \
                      "address = EXCLUDED.address, heartbeat_at = EXCLUDED.heartbeat_at") \
    X(NODE_HEARTBEAT, 1, "UPDATE nodes SET heartbeat_at = $2 "                        \
                         "WHERE node_id = $1 AND heartbeat_at >= $3")                 \
    X(NODE_LIST, 0, "SELECT node_id, address, started_at, heartbeat_at FROM nodes "   \
                    "ORDER BY node_id")                                               \
    X(NODE_DELETE, 1, "DELETE FROM nodes WHERE node_id = $1")                         \
    X(NODES_FORGET, 1, "DELETE FROM nodes WHERE heartbeat_at < $1")                   \
    /* The meetings of a node's streaming devices, in order, before their  \
     * rows (store_meetings_lock_of_devices says why). */                    \
    X(NODE_LOCK_MEETINGS, 1, "SELECT count(*) FROM (SELECT meeting_id FROM meetings "  \
                             "WHERE meeting_id IN (SELECT meeting_id FROM devices "   \
                             "WHERE stream_node = $1 AND left_time IS NULL) "         \
                             "ORDER BY meeting_id FOR UPDATE) locked")                \
    X(NODE_DETACH_ALL, 1, "UPDATE devices SET stream_node = NULL, grace_until = $2 "  \
                          "WHERE stream_node = $1 AND left_time IS NULL")             \
    /* Two sweeps at once split the dead nodes between them. */                \
    X(DEAD_NODES, 1, "SELECT node_id, heartbeat_at FROM nodes WHERE heartbeat_at < $1 " \
                     "ORDER BY heartbeat_at LIMIT $2 FOR UPDATE SKIP LOCKED")         \
    /* Locks the row until the commit: the compare and the set are one. */    \
    X(STREAM_HOLDER, 1, "SELECT coalesce(stream_node, 0) FROM devices "               \
                        "WHERE device_no = $1 AND left_time IS NULL FOR UPDATE")      \
    X(STREAM_ATTACH, 1, "UPDATE devices SET stream_node = $2, grace_until = NULL "    \
                        "WHERE device_no = $1")                                       \
    X(STREAM_DETACH, 1, "UPDATE devices SET stream_node = NULL, grace_until = $3 "    \
                        "WHERE device_no = $1 AND stream_node = $2 AND left_time IS NULL") \
    X(STREAM_GET, 0, "SELECT stream_node, grace_until FROM devices WHERE device_no = $1") \
    /* The rows are locked as they come out of the sort: in meeting order. */ \
    X(MEETINGS_LOCK_OF_DEVICES, 1, "SELECT count(*) FROM (SELECT meeting_id FROM meetings " \
                                   "WHERE meeting_id IN (SELECT meeting_id FROM devices " \
                                   "WHERE device_no = ANY($1::bigint[])) "             \
                                   "ORDER BY meeting_id FOR UPDATE) locked")          \
    X(PRESENCE_DUE, 1, "SELECT device_no FROM devices WHERE left_time IS NULL "       \
                       "AND grace_until IS NOT NULL AND grace_until <= $1 "           \
                       "ORDER BY grace_until LIMIT $2 FOR UPDATE SKIP LOCKED")        \
    X(PRESENCE_CLAIM, 1, "SELECT 1 FROM devices WHERE device_no = $1 "                \
                         "AND left_time IS NULL AND stream_node IS NULL "             \
                         "AND grace_until <= $2 FOR UPDATE")                          \
    /* webhooks */                                                                    \
    X(WEBHOOK_INSERT, 1, "INSERT INTO webhooks (app_id, url, token, created_at) "     \
                         "VALUES ($1, $2, $3, $4) RETURNING webhook_id")              \
    X(WEBHOOK_GET, 0, "SELECT " STORE_WEBHOOK_COLS("") " FROM webhooks "              \
                      "WHERE webhook_id = $1 AND app_id = $2")                        \
    X(WEBHOOK_LIST, 0, "SELECT " STORE_WEBHOOK_COLS("") " FROM webhooks "             \
                       "WHERE app_id = $1 ORDER BY webhook_id")                       \
    X(WEBHOOK_COUNT, 0, "SELECT count(*) FROM webhooks WHERE app_id = $1")            \
    X(WEBHOOK_DELETE, 1, "DELETE FROM webhooks WHERE webhook_id = $1 AND app_id = $2") \
    /* the outbox: pending is status = 0 */                                           \
    X(OUTBOX_INSERT, 1, "INSERT INTO outbox (webhook_id, app_id, event, payload, "    \
                        "created_at, next_attempt_at) VALUES ($1, $2, $3, $4, $5, $6) " \
                        "RETURNING delivery_id")                                      \
    /* The earliest $2 due of each webhook, by app and webhook. */                \
    X(OUTBOX_DUE, 0, "SELECT " STORE_DELIVERY_COLS("o.") ", " STORE_WEBHOOK_COLS("w.") \
                     " FROM webhooks w CROSS JOIN LATERAL (SELECT * FROM outbox i "   \
                     "WHERE i.webhook_id = w.webhook_id AND i.status = 0 "            \
                     "AND i.next_attempt_at <= $1 "                                   \
                     "ORDER BY i.next_attempt_at, i.delivery_id LIMIT $2) o "         \
                     "ORDER BY w.app_id, w.webhook_id, o.next_attempt_at, o.delivery_id") \
    X(OUTBOX_PENDING, 0, "SELECT " STORE_DELIVERY_COLS("o.") ", o.payload, "          \
                         STORE_WEBHOOK_COLS("w.") " FROM outbox o "                   \
                         "JOIN webhooks w ON w.webhook_id = o.webhook_id "            \
                         "WHERE o.delivery_id = $1 AND o.status = 0")                 \
    X(OUTBOX_NEXT_DUE, 0, "SELECT next_attempt_at FROM outbox "                       \
                          "WHERE status = 0 AND next_attempt_at > $1 "                \
                          "ORDER BY next_attempt_at LIMIT 1")                         \
    /* A row another node's transaction is claiming is skipped, not waited     \
     * for: that node will have it. */                                          \
    X(OUTBOX_CLAIM, 1, "UPDATE outbox SET leased_by = $2, next_attempt_at = $4 "      \
                       "WHERE delivery_id = (SELECT delivery_id FROM outbox "         \
                       "WHERE delivery_id = $1 AND status = 0 "                       \
                       "AND next_attempt_at <= $3 FOR UPDATE SKIP LOCKED)")           \
    X(OUTBOX_RELEASE, 1, "UPDATE outbox SET next_attempt_at = $3 "                  \
                         "WHERE delivery_id = $1 AND status = 0 AND leased_by = $2")  \
    X(OUTBOX_DELIVERED, 1, "UPDATE outbox SET status = 1, attempts = attempts + 1, "  \
                           "delivered_at = $2, last_http_status = $3, last_error = '' " \
                           "WHERE delivery_id = $1 AND status = 0 AND leased_by = $4") \
    X(OUTBOX_RETRY, 1, "UPDATE outbox SET attempts = attempts + 1, "                  \
                       "next_attempt_at = $2, last_http_status = $3, last_error = $4 " \
                       "WHERE delivery_id = $1 AND status = 0 AND leased_by = $5")    \
    X(OUTBOX_FAILED, 1, "UPDATE outbox SET status = 2, attempts = attempts + 1, "     \
                        "last_http_status = $2, last_error = $3 "                     \
                        "WHERE delivery_id = $1 AND status = 0 AND leased_by = $4")   \
    X(DELIVERIES_COUNT, 0, "SELECT count(*) FROM outbox WHERE app_id = $1 "           \
                           "AND ($2::integer < 0 OR status = $2)")                    \
    X(DELIVERIES_LIST, 0, "SELECT " STORE_DELIVERY_COLS("") " FROM outbox "           \
                          "WHERE app_id = $1 AND ($2::integer < 0 OR status = $2) "   \
                          "ORDER BY delivery_id DESC LIMIT $3 OFFSET $4")             \
    /* the keys' stamp and the commit outcome (pgsql.c) */                            \
    X(KEYS_VERSION, 0, "SELECT version FROM keys_version")                            \
    X(XACT_STATUS, 0, "SELECT pg_xact_status($1::xid8)")

enum pgsql_stmt_id {
#define PGSQL_STMT_ENUM(name, writes, sql) PGSQL_##name,
    PGSQL_STATEMENTS(PGSQL_STMT_ENUM)
#undef PGSQL_STMT_ENUM
    PGSQL__COUNT
};

/* The store: where to connect, and the pool of read connections. */
typedef struct pgsql_conn pgsql_conn;

typedef struct pgsql_store {
    char *conninfo;
    store_durability durability;
    int writers;                    /* writer connections (store_options.writers) */
    int version;
    uint64_t unknown;               /* keys_stamp when it cannot be read */

    pthread_mutex_t read_lock;
    pthread_cond_t read_cond;
    pgsql_conn **idle;              /* PGSQL_READERS_MAX */
    int n_idle;
    int n_open;                     /* readers open, idle or checked out */
} pgsql_store;

/* Transaction control deferred on a connection (pgsql_defer): a job's
 * savepoints nest no deeper than job, try and op, each begun and ended. */
#define PGSQL_DEFER_MAX 16
/* Statements one pgsql_run_n sends at once. */
#define PGSQL_PIPE_MAX 4

/* One libpq connection and what it has prepared. Used by one thread at a
 * time: a writer's by its writer thread, a reader's while checked out. pg is
 * NULL, or bad, after a loss: pgsql_conn_ready connects it again, no more
 * often than its backoff allows. */
struct pgsql_conn {
    pgsql_store *store;
    PGconn *pg;
    bool writable;
    bool prepared[PGSQL__COUNT];
    int64_t retry_at_ms;            /* no reconnection before (monotonic) */
    int backoff_ms;                 /* the next wait after a failed one */
    int64_t spent_pruned;           /* spent nonces below this are gone */
    int in_op;                      /* inside pgsql_op_begin's savepoint */
    char xid[24];                   /* the open batch's transaction id */
    const char *defer[PGSQL_DEFER_MAX];   /* commands not yet sent (pgsql_defer) */
    int n_defer;
};

/* ---- pgsql.c: connections and statements ------------------------------ */

/* Connects c if it is not (STORE_UNAVAILABLE, logged once per loss, while
 * the server is out of reach or the backoff has not elapsed). */
store_rc pgsql_conn_ready(pgsql_conn *c);
/* Runs a command outside the statement catalogue (transaction control):
 * STORE_OK, STORE_RETRY (serialization failure, deadlock),
 * STORE_UNAVAILABLE (connection lost) or STORE_ERROR, logged. The
 * deferred commands go first, in the same round trip; "ROLLBACK" drops
 * them instead. */
store_rc pgsql_command(pgsql_conn *c, const char *sql);
/* Queues a transaction-control command whose answer nobody waits for (a
 * savepoint begun or ended): it is sent with the next statement or
 * command, in one pipeline, so a job's savepoints cost no round trip of
 * their own. sql is a literal (kept, not copied). Should it fail, that
 * next statement fails in its place, as it would have in a transaction
 * the command aborted. STORE_UNAVAILABLE when c is down. */
store_rc pgsql_defer(pgsql_conn *c, const char *sql);

/* Parameters of one statement. Strings and bytes are sent in binary format
 * (no copy, the caller's bound applied); numbers as decimal text. */
#define PGSQL_PARAMS_MAX 16
typedef struct pgsql_params {
    int n;
    const char *val[PGSQL_PARAMS_MAX];
    int len[PGSQL_PARAMS_MAX];
    int fmt[PGSQL_PARAMS_MAX];
    char num[PGSQL_PARAMS_MAX][24];
} pgsql_params;

void pgsql_p_int(pgsql_params *p, int64_t v);
/* As decimal text, to 15 significant digits (what fits num[]). */
void pgsql_p_double(pgsql_params *p, double v);
/* At most cap - 1 bytes of s (a NUL ends it earlier). */
void pgsql_p_str(pgsql_params *p, const char *s, size_t cap);
#define PGSQL_P_STR(p, arr) pgsql_p_str((p), (arr), sizeof(arr))
void pgsql_p_bytes(pgsql_params *p, const void *b, int len);
/* s (NUL-terminated, the caller's) in text format: for a value PostgreSQL
 * must parse, as an array literal "{1,2}". */
void pgsql_p_text(pgsql_params *p, const char *s);

/* Longest string argument accepted from a caller that passes a bare
 * const char * (lookups by value); longer ones are cut here. */
#define PGSQL_ARG_MAX (CORE_REASON_MAX + 1)

/* Runs statement id with p on tx's connection. On success returns the
 * result (the caller PQclears it) and sets *rc STORE_OK; else NULL with
 * *rc the failure, the transaction marked (tx->failed, and ->retry or
 * ->unavailable) and the cause logged. */
PGresult *pgsql_run(store_tx *tx, enum pgsql_stmt_id id, const pgsql_params *p, store_rc *rc);
/* As pgsql_run for n (at most PGSQL_PIPE_MAX) statements that do not need
 * each other's results, in one round trip: they run in order, each seeing
 * what those before it did. res[i] gets each result (the caller PQclears
 * them); on a failure every res[i] is NULL and the transaction is marked
 * as pgsql_run marks it. */
store_rc pgsql_run_n(store_tx *tx, int n, const enum pgsql_stmt_id *ids,
                     const pgsql_params *const *ps, PGresult **res);
/* As pgsql_run for a query of one row: NULL with *rc STORE_NOTFOUND when
 * it returned none. */
PGresult *pgsql_one(store_tx *tx, enum pgsql_stmt_id id, const pgsql_params *p, store_rc *rc);
/* Runs a statement that returns no rows: STORE_OK or a failure. *changes
 * (may be NULL) gets the number of rows changed. */
store_rc pgsql_exec(store_tx *tx, enum pgsql_stmt_id id, const pgsql_params *p,
                    int64_t *changes);
/* An UPDATE or DELETE of one row: STORE_NOTFOUND when it matched none. */
store_rc pgsql_exec_one(store_tx *tx, enum pgsql_stmt_id id, const pgsql_params *p);
/* An INSERT ... ON CONFLICT DO NOTHING RETURNING x: STORE_CONFLICT when no
 * row came back; else *out (may be NULL) gets x. */
store_rc pgsql_insert(store_tx *tx, enum pgsql_stmt_id id, const pgsql_params *p,
                      int64_t *out);
/* A single-value query (count(*)) into *out. */
store_rc pgsql_count(store_tx *tx, enum pgsql_stmt_id id, const pgsql_params *p,
                     int64_t *out);
/* Runs a query and calls row for each row; a nonzero return of row stops
 * and is returned as is. The rows are all read before the first call, so
 * row may call other primitives. */
typedef store_rc (*pgsql_row_fn)(const PGresult *r, int row, void *ctx);
store_rc pgsql_each(store_tx *tx, enum pgsql_stmt_id id, const pgsql_params *p,
                    pgsql_row_fn fn, void *ctx);
/* Logs what (no values) and fails the transaction: STORE_ERROR. */
store_rc pgsql_invalid(store_tx *tx, const char *what);
/* A savepoint around a primitive that runs several statements, so that it
 * changes all or nothing and a CONFLICT or an error inside it leaves the
 * transaction usable (a PostgreSQL error aborts the transaction, a
 * savepoint's rollback revives it): the caller may draw new ids and try
 * again, as on SQLite. pgsql_op_end releases it after rc == STORE_OK, rolls
 * it back otherwise, and returns rc (or the failure of doing so). */
store_rc pgsql_op_begin(store_tx *tx);
store_rc pgsql_op_end(store_tx *tx, store_rc rc);

/* ---- values out ------------------------------------------------------- */

int64_t pgsql_int(const PGresult *r, int row, int col);   /* NULL reads as 0 */
/* Copies a text column into dst (capacity cap), cut to fit. */
void pgsql_str(const PGresult *r, int row, int col, char *dst, size_t cap);
#define PGSQL_STR(r, row, col, arr) pgsql_str((r), (row), (col), (arr), sizeof(arr))
/* Row row of r for columns.h's decoders:
 * store_row_user(PGSQL_ROW(r, row), 0, &u). The three readers are
 * store_row's; a bytea column is read from its text form ("\x" and hex). */
int64_t pgsql_row_num(const store_row *r, int col);
void pgsql_row_text(const store_row *r, int col, char *dst, size_t cap);
void pgsql_row_bytes(const store_row *r, int col, uint8_t *dst, size_t n);
const char *pgsql_row_str(const store_row *r, int col);
#define PGSQL_ROW(r, row)                                                             \
    (&(const store_row){(r), (row), pgsql_row_num, pgsql_row_text, pgsql_row_bytes,   \
                        pgsql_row_str})

/* Clamps a page request to what LIMIT/OFFSET take. */
static inline void pgsql_page(int64_t *pos, int *size)
{
    if (*pos < 0)
        *pos = 0;
    if (*size < 0)
        *size = 0;
}

/* ---- schema.c ---------------------------------------------------------- */

/* Brings the database to the latest version under the schema advisory lock
 * (several nodes starting together apply each migration once); sets
 * *version. STORE_ERROR (logged) on failure, or when the database is newer
 * than this program knows. */
store_rc pgsql_schema_migrate(PGconn *pg, int *version);

/* ---- the primitives (one file each: apps.c, meetings.c, users.c,
 * bans.c, webhooks.c) --------------------------------------------------- */

store_rc pgsql_spend(store_tx *tx, const char *app_id, int64_t timestamp, uint64_t nonce,
                     int64_t keep_from);
store_rc pgsql_app_insert(store_tx *tx, const store_app *app);
store_rc pgsql_app_get(store_tx *tx, const char *app_id, store_app *out);
store_rc pgsql_app_list(store_tx *tx, store_app_cb cb, void *arg);
store_rc pgsql_app_count(store_tx *tx, int64_t *count);
store_rc pgsql_app_delete(store_tx *tx, const char *app_id);
store_rc pgsql_key_insert(store_tx *tx, const store_key *key);
store_rc pgsql_key_get(store_tx *tx, const char *secret_id, store_key *key, store_app *app);
store_rc pgsql_key_list(store_tx *tx, const char *app_id, store_key_cb cb, void *arg);
store_rc pgsql_key_delete_all(store_tx *tx, const char *app_id);

store_rc pgsql_meeting_insert(store_tx *tx, const core_meeting *m);
store_rc pgsql_meeting_get(store_tx *tx, const char *app_id, int64_t meeting_id,
                           core_meeting *out);
store_rc pgsql_meeting_app(store_tx *tx, int64_t meeting_id, char app_id[CORE_APPID_MAX + 1]);
store_rc pgsql_meeting_by_code(store_tx *tx, const char *code, int64_t *meeting_id,
                               char app_id[CORE_APPID_MAX + 1]);
store_rc pgsql_meetings_of_user(store_tx *tx, const char *app_id, const char *userid,
                                int64_t from, int64_t skip, int limit, store_meeting_id_cb cb,
                                void *arg, int64_t *remaining, int64_t *next_from,
                                int64_t *next_skip);
store_rc pgsql_meeting_update_status(store_tx *tx, const core_meeting *m);
store_rc pgsql_meeting_update(store_tx *tx, const core_meeting *m);

store_rc pgsql_user_get(store_tx *tx, int64_t meeting_id, core_id_type kind, const char *value,
                        core_user *out);
store_rc pgsql_user_party(store_tx *tx, int64_t meeting_id, core_id_type kind,
                          const char *value, core_user *out, uint64_t *mask, bool *banned);
store_rc pgsql_user_insert(store_tx *tx, int64_t meeting_id, core_user *u);
store_rc pgsql_user_by_no(store_tx *tx, int64_t user_no, core_user *out);
store_rc pgsql_user_set_cohost(store_tx *tx, int64_t meeting_id, int64_t user_no, bool cohost);
store_rc pgsql_user_set_nick(store_tx *tx, int64_t meeting_id, int64_t user_no,
                             const char *nick);
store_rc pgsql_cohosts_list(store_tx *tx, int64_t meeting_id, store_user_cb cb, void *arg);
store_rc pgsql_cohosts_end(store_tx *tx, int64_t meeting_id);
store_rc pgsql_user_presence(store_tx *tx, int64_t meeting_id, int64_t user_no,
                             uint64_t *mask);
store_rc pgsql_device_insert(store_tx *tx, core_device *d);
store_rc pgsql_device_present(store_tx *tx, int64_t meeting_id, int64_t user_no,
                              int instanceid, core_device *out);
store_rc pgsql_device_end(store_tx *tx, int64_t device_no, int64_t left_time, int left_reason);
store_rc pgsql_device_end_present(store_tx *tx, int64_t meeting_id, int64_t user_no,
                                  int instanceid, int64_t left_time, int left_reason,
                                  core_device *out);
store_rc pgsql_devices_end_all(store_tx *tx, int64_t meeting_id, int64_t left_time,
                               int left_reason, store_device_cb cb, void *arg);
store_rc pgsql_device_get(store_tx *tx, int64_t device_no, core_device *out);
store_rc pgsql_device_by_token(store_tx *tx, int64_t device_no, const uint8_t secret_hash[32],
                               core_device *out);
store_rc pgsql_participants_list(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id,
                                 int64_t pos, int size, store_participant_cb cb, void *arg,
                                 int64_t *total);
store_rc pgsql_participants_between(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id,
                                    int64_t from, int64_t to, int64_t pos, int size,
                                    store_participant_cb cb, void *arg, int64_t *total);
store_rc pgsql_present_list(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id,
                            int64_t pos, int size, store_participant_cb cb, void *arg,
                            int64_t *total);

store_rc pgsql_ban_put(store_tx *tx, const core_ban *b);
store_rc pgsql_ban_exists(store_tx *tx, int64_t meeting_id, int64_t user_no, bool *banned);
store_rc pgsql_ban_delete(store_tx *tx, int64_t meeting_id, int64_t user_no);
store_rc pgsql_bans_list(store_tx *tx, int64_t meeting_id, store_ban_cb cb, void *arg);
store_rc pgsql_audit_insert(store_tx *tx, core_audit *a);
store_rc pgsql_audit_list(store_tx *tx, int64_t meeting_id, int64_t pos, int size,
                          store_audit_cb cb, void *arg, int64_t *total);

store_rc pgsql_webhook_insert(store_tx *tx, store_webhook *w);
store_rc pgsql_webhook_get(store_tx *tx, const char *app_id, int64_t webhook_id,
                           store_webhook *out);
store_rc pgsql_webhook_list(store_tx *tx, const char *app_id, store_webhook_cb cb, void *arg);
store_rc pgsql_webhook_count(store_tx *tx, const char *app_id, int64_t *count);
store_rc pgsql_webhook_delete(store_tx *tx, const char *app_id, int64_t webhook_id);
store_rc pgsql_outbox_insert(store_tx *tx, store_delivery *d, const char *payload);
store_rc pgsql_outbox_due(store_tx *tx, int64_t now, int per_webhook, store_due_cb cb,
                          void *arg);
store_rc pgsql_outbox_pending(store_tx *tx, int64_t delivery_id, store_pending_cb cb,
                              void *arg);
store_rc pgsql_outbox_next_due(store_tx *tx, int64_t after, int64_t *at);
store_rc pgsql_outbox_claim(store_tx *tx, int64_t delivery_id, int64_t holder, int64_t now,
                            int64_t until);
store_rc pgsql_outbox_release(store_tx *tx, int64_t delivery_id, int64_t holder, int64_t at);
store_rc pgsql_outbox_delivered(store_tx *tx, int64_t delivery_id, int64_t holder, int64_t at,
                                int http_status);
store_rc pgsql_outbox_retry(store_tx *tx, int64_t delivery_id, int64_t holder,
                            int64_t next_attempt_at, int http_status, const char *error);
store_rc pgsql_outbox_failed(store_tx *tx, int64_t delivery_id, int64_t holder, int http_status,
                             const char *error);
store_rc pgsql_deliveries_list(store_tx *tx, const char *app_id, int status, int64_t pos,
                               int size, store_delivery_cb cb, void *arg, int64_t *total);
store_rc pgsql_event_insert(store_tx *tx, store_event *e, const char *payload);
store_rc pgsql_events_since(store_tx *tx, int64_t meeting_id, int64_t after, int limit,
                            store_event_cb cb, void *arg);
store_rc pgsql_events_since_many(store_tx *tx, const store_cursor *cursors, size_t n,
                                 int limit, store_event_cb cb, void *arg);
store_rc pgsql_events_last(store_tx *tx, int64_t meeting_id, int64_t *event_no);
store_rc pgsql_events_prune(store_tx *tx, int64_t before);
store_rc pgsql_node_register(store_tx *tx, const store_node *n);
store_rc pgsql_node_heartbeat(store_tx *tx, int64_t node_id, int64_t now, int64_t dead_before);
store_rc pgsql_node_list(store_tx *tx, store_node_cb cb, void *arg);
store_rc pgsql_node_stop(store_tx *tx, int64_t node_id, int64_t grace_until);
store_rc pgsql_stream_attach(store_tx *tx, int64_t device_no, int64_t node_id,
                             int64_t expected, int64_t *from);
store_rc pgsql_stream_detach(store_tx *tx, int64_t device_no, int64_t node_id,
                             int64_t grace_until);
store_rc pgsql_meetings_lock_of_devices(store_tx *tx, const int64_t *device_nos, size_t n);
store_rc pgsql_stream_get(store_tx *tx, int64_t device_no, int64_t *stream_node,
                          int64_t *grace_until);
store_rc pgsql_presence_due(store_tx *tx, int64_t now, int64_t dead_before, int64_t grace_ms,
                            int64_t forget_before, int limit, store_device_no_cb cb,
                            void *arg);
store_rc pgsql_presence_claim(store_tx *tx, int64_t device_no, int64_t now);

/* changes.c: the change feed (store.h), one listening connection a feed. */
store_rc pgsql_changes_open(void *impl, void **feed);
store_rc pgsql_changes_wait(void *feed, int timeout_ms, store_change_cb cb, void *arg,
                            bool *resync);
void pgsql_changes_wake(void *feed);
void pgsql_changes_close(void *feed);

#endif
