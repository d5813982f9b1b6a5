/* Bans (removed with allow_rejoin=false) and the removal audit log. */
#include <assert.h>

#include "store/sqlite/lite.h"

/* ---- bans -------------------------------------------------------------- */

store_rc lite_ban_put(store_tx *tx, const core_ban *b)
{
    assert(b != NULL);
    sqlite3_stmt *st = lite_stmt(tx, STMT_BAN_PUT);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, b->meeting_id);
    r |= sqlite3_bind_int64(st, 2, b->user.user_no);
    r |= sqlite3_bind_int64(st, 3, b->banned_at);
    r |= LITE_BIND_STR(st, 4, b->reason);
    r |= LITE_BIND_STR(st, 5, b->operator_ms_open_id);
    r |= LITE_BIND_STR(st, 6, b->request_id);
    r |= LITE_BIND_STR(st, 7, b->operator_userid);
    r |= LITE_BIND_STR(st, 8, b->operator_uuid);
    r |= sqlite3_bind_int(st, 9, b->operator_instanceid);
    return lite_exec(tx, STMT_BAN_PUT, st, r, NULL);
}

store_rc lite_ban_exists(store_tx *tx, int64_t meeting_id, int64_t user_no, bool *banned)
{
    assert(banned != NULL);
    *banned = false;
    sqlite3_stmt *st = lite_stmt(tx, STMT_BAN_EXISTS);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, meeting_id);
    r |= sqlite3_bind_int64(st, 2, user_no);
    int rc = lite_row(tx, STMT_BAN_EXISTS, st, r);
    lite_done(tx, STMT_BAN_EXISTS, st);
    if (rc == STORE_NOTFOUND)
        return STORE_OK;
    *banned = rc == STORE_OK;
    return rc;
}

store_rc lite_ban_delete(store_tx *tx, int64_t meeting_id, int64_t user_no)
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_BAN_DELETE);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, meeting_id);
    r |= sqlite3_bind_int64(st, 2, user_no);
    int64_t n = 0;
    int rc = lite_exec(tx, STMT_BAN_DELETE, st, r, &n);
    return rc == STORE_OK && n == 0 ? STORE_NOTFOUND : rc;
}

struct ban_iter {
    store_ban_cb cb;
    void *arg;
};

static store_rc ban_row(sqlite3_stmt *st, void *ctx)
{
    const struct ban_iter *it = ctx;
    /* core_ban holds a 1 KiB reason: fine on the stack, and one per row
     * rather than per list. */
    core_ban b;
    memset(&b, 0, sizeof b);
    b.meeting_id = sqlite3_column_int64(st, 0);
    b.banned_at = sqlite3_column_int64(st, 1);
    LITE_COL_STR(st, 2, b.reason);
    LITE_COL_STR(st, 3, b.operator_ms_open_id);
    LITE_COL_STR(st, 4, b.request_id);
    LITE_COL_STR(st, 5, b.operator_userid);
    LITE_COL_STR(st, 6, b.operator_uuid);
    b.operator_instanceid = sqlite3_column_int(st, 7);
    store_row_user(LITE_ROW(st), 8, &b.user);
    return it->cb(&b, it->arg);
}

store_rc lite_bans_list(store_tx *tx, int64_t meeting_id, store_ban_cb cb, void *arg)
{
    assert(cb != NULL);
    sqlite3_stmt *st = lite_stmt(tx, STMT_BANS_LIST);
    if (st == NULL)
        return STORE_ERROR;
    struct ban_iter it = {cb, arg};
    return lite_each(tx, STMT_BANS_LIST, st, sqlite3_bind_int64(st, 1, meeting_id), ban_row,
                      &it);
}

/* ---- audit ------------------------------------------------------------- */

store_rc lite_audit_insert(store_tx *tx, core_audit *a)
{
    assert(a != NULL);
    sqlite3_stmt *st = lite_stmt(tx, STMT_AUDIT_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, a->meeting_id);
    r |= sqlite3_bind_int64(st, 2, a->sub_meeting_id);
    r |= sqlite3_bind_int64(st, 3, a->time);
    r |= LITE_BIND_STR(st, 4, a->request_id);
    r |= LITE_BIND_STR(st, 5, a->action);
    r |= LITE_BIND_STR(st, 6, a->op_userid);
    r |= LITE_BIND_STR(st, 7, a->op_uuid);
    r |= LITE_BIND_STR(st, 8, a->op_ms_open_id);
    r |= sqlite3_bind_int(st, 9, a->op_instanceid);
    r |= LITE_BIND_STR(st, 10, a->target_userid);
    r |= LITE_BIND_STR(st, 11, a->target_guest_id);
    r |= LITE_BIND_STR(st, 12, a->target_uuid);
    r |= LITE_BIND_STR(st, 13, a->target_ms_open_id);
    r |= sqlite3_bind_int(st, 14, a->target_instanceid);
    r |= sqlite3_bind_int(st, 15, a->allow_rejoin ? 1 : 0);
    r |= LITE_BIND_STR(st, 16, a->reason);
    int rc = lite_exec(tx, STMT_AUDIT_INSERT, st, r, NULL);
    if (rc == STORE_OK)
        a->audit_no = sqlite3_last_insert_rowid(lite_tx_conn(tx)->db);
    return rc;
}

struct audit_iter {
    store_audit_cb cb;
    void *arg;
};

static store_rc audit_row(sqlite3_stmt *st, void *ctx)
{
    const struct audit_iter *it = ctx;
    core_audit a;
    store_row_audit(LITE_ROW(st), 0, &a);
    return it->cb(&a, it->arg);
}

store_rc lite_audit_list(store_tx *tx, int64_t meeting_id, int64_t pos, int size,
                          store_audit_cb cb, void *arg, int64_t *total)
{
    assert(cb != NULL);
    lite_page(&pos, &size);
    if (total != NULL) {
        sqlite3_stmt *st = lite_stmt(tx, STMT_AUDIT_COUNT);
        if (st == NULL)
            return STORE_ERROR;
        int rc = lite_count(tx, STMT_AUDIT_COUNT, st, sqlite3_bind_int64(st, 1, meeting_id),
                             total);
        if (rc != STORE_OK)
            return rc;
    }
    /* A page past the end is empty: OFFSET would step over every row to
     * find that out. */
    if (size == 0 || (total != NULL && pos >= *total))
        return STORE_OK;
    sqlite3_stmt *st = lite_stmt(tx, STMT_AUDIT_LIST);
    if (st == NULL)
        return STORE_ERROR;
    int r = sqlite3_bind_int64(st, 1, meeting_id);
    r |= sqlite3_bind_int(st, 2, size);
    r |= sqlite3_bind_int64(st, 3, pos);
    struct audit_iter it = {cb, arg};
    return lite_each(tx, STMT_AUDIT_LIST, st, r, audit_row, &it);
}
