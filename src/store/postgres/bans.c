/* Bans (removed with allow_rejoin=false) and the removal audit log. */
#include <assert.h>
#include <string.h>

#include "store/postgres/pgsql.h"

/* ---- bans -------------------------------------------------------------- */

store_rc pgsql_ban_put(store_tx *tx, const core_ban *b)
{
    assert(b != NULL);
    pgsql_params p = {0};
    pgsql_p_int(&p, b->meeting_id);
    pgsql_p_int(&p, b->user.user_no);
    pgsql_p_int(&p, b->banned_at);
    PGSQL_P_STR(&p, b->reason);
    PGSQL_P_STR(&p, b->operator_ms_open_id);
    PGSQL_P_STR(&p, b->request_id);
    PGSQL_P_STR(&p, b->operator_userid);
    PGSQL_P_STR(&p, b->operator_uuid);
    pgsql_p_int(&p, b->operator_instanceid);
    return pgsql_exec(tx, PGSQL_BAN_PUT, &p, NULL);
}

store_rc pgsql_ban_exists(store_tx *tx, int64_t meeting_id, int64_t user_no, bool *banned)
{
    assert(banned != NULL);
    *banned = false;
    pgsql_params p = {0};
    pgsql_p_int(&p, meeting_id);
    pgsql_p_int(&p, user_no);
    store_rc rc;
    PGresult *r = pgsql_one(tx, PGSQL_BAN_EXISTS, &p, &rc);
    PQclear(r);
    if (rc == STORE_NOTFOUND)
        return STORE_OK;
    *banned = rc == STORE_OK;
    return rc;
}

store_rc pgsql_ban_delete(store_tx *tx, int64_t meeting_id, int64_t user_no)
{
    pgsql_params p = {0};
    pgsql_p_int(&p, meeting_id);
    pgsql_p_int(&p, user_no);
    return pgsql_exec_one(tx, PGSQL_BAN_DELETE, &p);
}

struct ban_iter {
    store_ban_cb cb;
    void *arg;
};

static store_rc ban_row(const PGresult *r, int row, void *ctx)
{
    const struct ban_iter *it = ctx;
    /* core_ban holds a 1 KiB reason: fine on the stack, one per row. */
    core_ban b;
    memset(&b, 0, sizeof b);
    b.meeting_id = pgsql_int(r, row, 0);
    b.banned_at = pgsql_int(r, row, 1);
    PGSQL_STR(r, row, 2, b.reason);
    PGSQL_STR(r, row, 3, b.operator_ms_open_id);
    PGSQL_STR(r, row, 4, b.request_id);
    PGSQL_STR(r, row, 5, b.operator_userid);
    PGSQL_STR(r, row, 6, b.operator_uuid);
    b.operator_instanceid = (int)pgsql_int(r, row, 7);
    store_row_user(PGSQL_ROW(r, row), 8, &b.user);
    return it->cb(&b, it->arg);
}

store_rc pgsql_bans_list(store_tx *tx, int64_t meeting_id, store_ban_cb cb, void *arg)
{
    assert(cb != NULL);
    pgsql_params p = {0};
    pgsql_p_int(&p, meeting_id);
    struct ban_iter it = {cb, arg};
    return pgsql_each(tx, PGSQL_BANS_LIST, &p, ban_row, &it);
}

/* ---- audit ------------------------------------------------------------- */

store_rc pgsql_audit_insert(store_tx *tx, core_audit *a)
{
    assert(a != NULL);
    pgsql_params p = {0};
    pgsql_p_int(&p, a->meeting_id);
    pgsql_p_int(&p, a->sub_meeting_id);
    pgsql_p_int(&p, a->time);
    PGSQL_P_STR(&p, a->request_id);
    PGSQL_P_STR(&p, a->action);
    PGSQL_P_STR(&p, a->op_userid);
    PGSQL_P_STR(&p, a->op_uuid);
    PGSQL_P_STR(&p, a->op_ms_open_id);
    pgsql_p_int(&p, a->op_instanceid);
    PGSQL_P_STR(&p, a->target_userid);
    PGSQL_P_STR(&p, a->target_guest_id);
    PGSQL_P_STR(&p, a->target_uuid);
    PGSQL_P_STR(&p, a->target_ms_open_id);
    pgsql_p_int(&p, a->target_instanceid);
    pgsql_p_int(&p, a->allow_rejoin ? 1 : 0);
    PGSQL_P_STR(&p, a->reason);
    int64_t no = 0;
    store_rc rc = pgsql_insert(tx, PGSQL_AUDIT_INSERT, &p, &no);
    if (rc == STORE_OK)
        a->audit_no = no;
    return rc;
}

struct audit_iter {
    store_audit_cb cb;
    void *arg;
};

static store_rc audit_row(const PGresult *r, int row, void *ctx)
{
    const struct audit_iter *it = ctx;
    core_audit a;
    store_row_audit(PGSQL_ROW(r, row), 0, &a);
    return it->cb(&a, it->arg);
}

/* Newest first. A page past the end is empty and costs the count alone
 * (when the caller asks for the total, as SQLite's). */
store_rc pgsql_audit_list(store_tx *tx, int64_t meeting_id, int64_t pos, int size,
                          store_audit_cb cb, void *arg, int64_t *total)
{
    assert(cb != NULL);
    pgsql_page(&pos, &size);
    pgsql_params p = {0};
    pgsql_p_int(&p, meeting_id);
    if (total != NULL) {
        store_rc rc = pgsql_count(tx, PGSQL_AUDIT_COUNT, &p, total);
        if (rc != STORE_OK)
            return rc;
    }
    if (size == 0 || (total != NULL && pos >= *total))
        return STORE_OK;
    pgsql_p_int(&p, size);
    pgsql_p_int(&p, pos);
    struct audit_iter it = {cb, arg};
    return pgsql_each(tx, PGSQL_AUDIT_LIST, &p, audit_row, &it);
}
