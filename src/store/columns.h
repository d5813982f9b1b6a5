/* The column lists every backend selects, in one place (private to
 * src/store/ and its tests).
 *
 * The tables are the same on every backend (each backend's schema.c makes
 * them, in its own SQL dialect), and a row is decoded by its position: a
 * backend's decoder (SQLite's lite_col_device, PostgreSQL's
 * pgsql_col_device, ...) reads column col + i as the i-th name below. So
 * the lists are written once, here, and a column added to a table is added
 * here and to each backend's decoder and migration. What differs between
 * the backends (placeholders ?1 or $1, INDEXED BY hints, FOR UPDATE, ON
 * CONFLICT) stays in each backend's statement catalogue.
 *
 * p is a table alias prefix: "" or "d.". A list without p is selected from
 * its table alone. */
#ifndef MEETD_STORE_COLUMNS_H
#define MEETD_STORE_COLUMNS_H

#define STORE_DEVICE_COLS(p)                                                          \
    p "device_no, " p "meeting_id, " p "sub_meeting_id, " p "user_no, " p             \
      "instanceid, " p "join_time, " p "left_time, " p "left_reason, " p "token_hash"
#define STORE_DEVICE_NCOLS 9
#define STORE_USER_COLS(p)                                                            \
    p "user_no, " p "userid, " p "guest_id, " p "uuid, " p "ms_open_id, " p           \
      "nick_name, " p "cohost"
#define STORE_USER_NCOLS 7
#define STORE_MEETING_COLS                                                            \
    "meeting_id, app_id, meeting_code, subject, creator_userid, creator_instanceid, " \
    "type, meeting_type, start_time, end_time, status, recurring_type, until_type, "  \
    "until_count, until_date, created_at"
#define STORE_AUDIT_COLS                                                              \
    "audit_no, meeting_id, sub_meeting_id, time, request_id, action, op_userid, "     \
    "op_uuid, op_ms_open_id, op_instanceid, target_userid, target_guest_id, "         \
    "target_uuid, target_ms_open_id, target_instanceid, allow_rejoin, reason"
#define STORE_WEBHOOK_COLS(p)                                                         \
    p "webhook_id, " p "app_id, " p "url, " p "token, " p "created_at"
#define STORE_WEBHOOK_NCOLS 5
#define STORE_DELIVERY_COLS(p)                                                        \
    p "delivery_id, " p "webhook_id, " p "app_id, " p "event, " p "created_at, " p    \
      "attempts, " p "next_attempt_at, " p "status, " p "last_http_status, " p        \
      "last_error, " p "delivered_at"
#define STORE_DELIVERY_NCOLS 11
#define STORE_APP_COLS(p) p "app_id, " p "sdk_id, " p "name, " p "created_at"
#define STORE_KEY_COLS(p) p "secret_id, " p "secret_key, " p "app_id, " p "created_at"
#define STORE_EVENT_COLS(p)                                                           \
    p "event_no, " p "meeting_id, " p "device_no, " p "type, " p "created_at, " p "payload"

#endif
