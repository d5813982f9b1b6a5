/* The column lists every backend selects, and how a row of each is read,
 * in one place (private to src/store/ and its tests).
 *
 * The tables are the same on every backend (each backend's schema.c makes
 * them, in its own SQL dialect), and a row is decoded by its position:
 * store_row_device (columns.c) reads column col + i as the i-th name of
 * STORE_DEVICE_COLS, whichever backend ran the query. A backend gives only
 * its three ways of reading a column (a store_row: SQLite's LITE_ROW,
 * PostgreSQL's PGSQL_ROW). So a column added to a table is added to one
 * list, one decoder, and each backend's migration. What differs between
 * the backends (placeholders ?1 or $1, INDEXED BY hints, FOR UPDATE, ON
 * CONFLICT) stays in each backend's statement catalogue.
 *
 * p is a table alias prefix: "" or "d.". A list without p is selected from
 * its table alone. */
#ifndef MEETD_STORE_COLUMNS_H
#define MEETD_STORE_COLUMNS_H

#include <stddef.h>
#include <stdint.h>

#include "store/store.h"

#define STORE_DEVICE_COLS(p)                                                          \
    p "device_no, " p "meeting_id, " p "sub_meeting_id, " p "user_no, " p             \
      "instanceid, " p "join_time, " p "left_time, " p "left_reason, " p "token_hash"
#define STORE_DEVICE_NCOLS 9
#define STORE_USER_COLS(p)                                                            \
    p "user_no, " p "userid, " p "guest_id, " p "uuid, " p "ms_open_id, " p           \
      "nick_name, " p "cohost"
#define STORE_USER_NCOLS 7
/* A participants page's row (store_participant): what the page shows of
 * the session, then of its user (d: the device's alias, u: the user's). */
#define STORE_PARTICIPANT_COLS(d, u)                                                  \
    d "device_no, " d "instanceid, " d "join_time, " d "left_time, " u "userid, " u   \
      "guest_id, " u "uuid, " u "ms_open_id, " u "nick_name, " u "cohost"
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

/* One result row as its backend reads it (SQLite: lite_row_of, PostgreSQL:
 * pgsql_row_of). res and row are the backend's (a statement; a result and
 * a row number). */
typedef struct store_row store_row;
struct store_row {
    const void *res;
    int row;
    /* A number; NULL reads as 0. */
    int64_t (*num)(const store_row *r, int col);
    /* Text into dst (capacity cap), cut to fit; NULL reads as "". */
    void (*text)(const store_row *r, int col, char *dst, size_t cap);
    /* Exactly n bytes into dst; a value of another length (or NULL) leaves
     * dst as it was. */
    void (*bytes)(const store_row *r, int col, uint8_t *dst, size_t n);
    /* Text in place, valid as long as the row (no copy); NULL reads as "". */
    const char *(*str)(const store_row *r, int col);
};

/* Each reads its list from column col on, zeroing *out first. */
void store_row_device(const store_row *r, int col, core_device *out);
void store_row_user(const store_row *r, int col, core_user *out);
/* STORE_PARTICIPANT_COLS; the strings point into the row (store_row.str). */
void store_row_participant(const store_row *r, int col, store_participant *out);
void store_row_webhook(const store_row *r, int col, store_webhook *out);
void store_row_delivery(const store_row *r, int col, store_delivery *out);
void store_row_app(const store_row *r, int col, store_app *out);
void store_row_key(const store_row *r, int col, store_key *out);
void store_row_audit(const store_row *r, int col, core_audit *out);
/* The event's fields; its payload (the last column) is the caller's to
 * read, valid as long as the row. */
void store_row_event(const store_row *r, int col, store_event *out);
/* The meeting's row only: its hosts and occurrences are read apart, into
 * the same struct, so this does not zero it. */
void store_row_meeting(const store_row *r, int col, core_meeting *out);

/* The rows of store_meetings_of_user (meeting_id, start_time; ordered by
 * start_time, then meeting_id) handed to the caller as store.h says: the
 * first `skip` that start at `from` left out, `limit` given to cb, the
 * rest counted. A backend starts a walk with .same_start = -1 and the
 * caller's from, skip, limit, cb and arg, feeds it every row, then answers
 * remaining, next_from and next_skip from it. */
typedef struct store_meetings_walk {
    int64_t from, skip;
    int limit;
    store_meeting_id_cb cb;
    void *arg;
    int taken;
    int64_t last_start;   /* start_time of the row before */
    int64_t same_start;   /* rows before this one with last_start; -1: none yet */
    int64_t remaining, next_from, next_skip;
} store_meetings_walk;
store_rc store_meetings_walk_row(store_meetings_walk *w, const store_row *r);

#endif
