/* Meetings with their scheduled hosts and recurring occurrences. */
#include <assert.h>

#include "store/sqlite/lite.h"

static store_rc meeting_insert_row(store_tx *tx, const core_meeting *m)
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_MEETING_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    int b = sqlite3_bind_int64(st, 1, m->meeting_id);
    b |= LITE_BIND_STR(st, 2, m->app_id);
    b |= LITE_BIND_STR(st, 3, m->meeting_code);
    b |= LITE_BIND_STR(st, 4, m->subject);
    b |= LITE_BIND_STR(st, 5, m->creator_userid);
    b |= sqlite3_bind_int(st, 6, m->creator_instanceid);
    b |= sqlite3_bind_int(st, 7, m->type);
    b |= sqlite3_bind_int(st, 8, m->meeting_type);
    b |= sqlite3_bind_int64(st, 9, m->start_time);
    b |= sqlite3_bind_int64(st, 10, m->end_time);
    b |= sqlite3_bind_int(st, 11, m->status);
    b |= sqlite3_bind_int(st, 12, m->rule.recurring_type);
    b |= sqlite3_bind_int(st, 13, m->rule.until_type);
    b |= sqlite3_bind_int(st, 14, m->rule.until_count);
    b |= sqlite3_bind_int64(st, 15, m->rule.until_date);
    b |= sqlite3_bind_int64(st, 16, m->created_at);
    return lite_exec(tx, STMT_MEETING_INSERT, st, b, NULL);
}

static store_rc hosts_insert(store_tx *tx, const core_meeting *m)
{
    int rc = STORE_OK;
    for (int i = 0; rc == STORE_OK && i < m->n_hosts; i++) {
        sqlite3_stmt *st = lite_stmt(tx, STMT_HOST_INSERT);
        if (st == NULL)
            return STORE_ERROR;
        int b = sqlite3_bind_int64(st, 1, m->meeting_id);
        b |= sqlite3_bind_int(st, 2, i);
        b |= LITE_BIND_STR(st, 3, m->hosts[i]);
        rc = lite_exec(tx, STMT_HOST_INSERT, st, b, NULL);
    }
    return rc;
}

static store_rc occs_insert(store_tx *tx, const core_meeting *m)
{
    int rc = STORE_OK;
    for (int i = 0; rc == STORE_OK && i < m->n_occ; i++) {
        const core_occurrence *o = &m->occ[i];
        sqlite3_stmt *st = lite_stmt(tx, STMT_OCC_INSERT);
        if (st == NULL)
            return STORE_ERROR;
        int b = sqlite3_bind_int64(st, 1, m->meeting_id);
        b |= sqlite3_bind_int64(st, 2, o->sub_meeting_id);
        b |= sqlite3_bind_int64(st, 3, o->start_time);
        b |= sqlite3_bind_int64(st, 4, o->end_time);
        b |= sqlite3_bind_int(st, 5, o->status);
        rc = lite_exec(tx, STMT_OCC_INSERT, st, b, NULL);
    }
    return rc;
}

/* A meeting's hosts and occurrences, after its row. */
static store_rc meeting_children_insert(store_tx *tx, const core_meeting *m, int rc)
{
    if (rc == STORE_OK)
        rc = hosts_insert(tx, m);
    if (rc == STORE_OK)
        rc = occs_insert(tx, m);
    return rc;
}

static store_rc meeting_insert_rows(store_tx *tx, const core_meeting *m)
{
    return meeting_children_insert(tx, m, meeting_insert_row(tx, m));
}

/* Insert and update: the counts checked, the cached copy dropped, and the
 * rows written all or nothing (after an insert's CONFLICT the caller draws
 * a new id or code and tries again in the same transaction). */
static store_rc meeting_write(store_tx *tx, const core_meeting *m, const char *invalid,
                              store_rc (*rows)(store_tx *, const core_meeting *))
{
    assert(m != NULL);
    if (m->n_hosts < 0 || m->n_hosts > CORE_HOSTS_MAX || m->n_occ < 0 ||
        m->n_occ > CORE_OCC_MAX)
        return lite_invalid(tx, invalid);
    if (lite_tx_conn(tx)->mcache != NULL)
        lite_mcache_drop(lite_tx_conn(tx)->mcache, m->meeting_id);
    int rc = lite_sp_begin(tx);
    if (rc != STORE_OK)
        return rc;
    return lite_sp_end(tx, rows(tx, m));
}

store_rc lite_meeting_insert(store_tx *tx, const core_meeting *m)
{
    return meeting_write(tx, m, "meeting insert: host or occurrence count out of range",
                         meeting_insert_rows);
}

static store_rc host_row(sqlite3_stmt *st, void *ctx)
{
    core_meeting *m = ctx;
    if (m->n_hosts == CORE_HOSTS_MAX)
        return -2; /* more rows than a meeting can have */
    LITE_COL_STR(st, 0, m->hosts[m->n_hosts]);
    m->n_hosts++;
    return 0;
}

static store_rc occ_row(sqlite3_stmt *st, void *ctx)
{
    core_meeting *m = ctx;
    if (m->n_occ == CORE_OCC_MAX)
        return -2;
    core_occurrence *o = &m->occ[m->n_occ++];
    o->sub_meeting_id = sqlite3_column_int64(st, 0);
    o->start_time = sqlite3_column_int64(st, 1);
    o->end_time = sqlite3_column_int64(st, 2);
    o->status = sqlite3_column_int(st, 3);
    return 0;
}

store_rc lite_meeting_app(store_tx *tx, int64_t meeting_id, char app_id[CORE_APPID_MAX + 1])
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_MEETING_APP);
    if (st == NULL)
        return STORE_ERROR;
    int rc = lite_row(tx, STMT_MEETING_APP, st, sqlite3_bind_int64(st, 1, meeting_id));
    if (rc == STORE_OK)
        lite_col_str(st, 0, app_id, CORE_APPID_MAX + 1);
    lite_done(tx, STMT_MEETING_APP, st);
    return rc;
}

store_rc lite_meeting_by_code(store_tx *tx, const char *code, int64_t *meeting_id,
                               char app_id[CORE_APPID_MAX + 1])
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_MEETING_BY_CODE);
    if (st == NULL)
        return STORE_ERROR;
    int rc = lite_row(tx, STMT_MEETING_BY_CODE, st,
                       lite_bind_str(st, 1, code, CORE_CODE_LEN + 1));
    if (rc == STORE_OK) {
        *meeting_id = sqlite3_column_int64(st, 0);
        lite_col_str(st, 1, app_id, CORE_APPID_MAX + 1);
    }
    lite_done(tx, STMT_MEETING_BY_CODE, st);
    return rc;
}

static store_rc user_meeting_row(sqlite3_stmt *st, void *ctx)
{
    return store_meetings_walk_row(ctx, LITE_ROW(st));
}

store_rc lite_meetings_of_user(store_tx *tx, const char *app_id, const char *userid, int64_t from,
                                int64_t skip, int limit, store_meeting_id_cb cb, void *arg,
                                int64_t *remaining, int64_t *next_from, int64_t *next_skip)
{
    assert(app_id != NULL && userid != NULL && cb != NULL);
    store_meetings_walk w = {.from = from, .skip = skip, .limit = limit, .cb = cb, .arg = arg,
                            .same_start = -1};
    sqlite3_stmt *st = lite_stmt(tx, STMT_MEETINGS_OF_USER);
    if (st == NULL)
        return STORE_ERROR;
    int b = lite_bind_str(st, 1, app_id, LITE_ARG_MAX);
    b |= lite_bind_str(st, 2, userid, LITE_ARG_MAX);
    b |= sqlite3_bind_int64(st, 3, from);
    int rc = lite_each(tx, STMT_MEETINGS_OF_USER, st, b, user_meeting_row, &w);
    *remaining = w.remaining;
    *next_from = w.next_from;
    *next_skip = w.next_skip;
    return rc;
}

store_rc lite_meeting_get(store_tx *tx, const char *app_id, int64_t meeting_id, core_meeting *out)
{
    assert(app_id != NULL && out != NULL);
    lite_mcache *mc = lite_tx_conn(tx)->mcache;
    if (mc != NULL && lite_mcache_get(mc, app_id, meeting_id, out))
        return STORE_OK;
    memset(out, 0, sizeof *out);
    sqlite3_stmt *st = lite_stmt(tx, STMT_MEETING_GET);
    if (st == NULL)
        return STORE_ERROR;
    int b = sqlite3_bind_int64(st, 1, meeting_id);
    b |= lite_bind_str(st, 2, app_id, LITE_ARG_MAX);
    int rc = lite_row(tx, STMT_MEETING_GET, st, b);
    if (rc == STORE_OK)
        store_row_meeting(LITE_ROW(st), 0, out);
    lite_done(tx, STMT_MEETING_GET, st);
    if (rc != STORE_OK)
        return rc;

    st = lite_stmt(tx, STMT_HOSTS_GET);
    if (st == NULL)
        return STORE_ERROR;
    rc = lite_each(tx, STMT_HOSTS_GET, st, sqlite3_bind_int64(st, 1, meeting_id), host_row,
                    out);
    if (rc == STORE_OK) {
        st = lite_stmt(tx, STMT_OCCS_GET);
        if (st == NULL)
            return STORE_ERROR;
        rc = lite_each(tx, STMT_OCCS_GET, st, sqlite3_bind_int64(st, 1, meeting_id), occ_row,
                        out);
    }
    if (rc == -2)
        rc = lite_invalid(tx, "meeting get: more hosts or occurrences than a meeting holds");
    if (rc == STORE_OK && mc != NULL)
        lite_mcache_put(mc, out);
    return rc;
}

/* Only a changed status is written: a join rewrites the whole meeting's
 * state, and 200 unchanged occurrences should not dirty their pages. */
static store_rc occ_set_status(store_tx *tx, int64_t meeting_id, const core_occurrence *o)
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_OCC_SET_STATUS);
    if (st == NULL)
        return STORE_ERROR;
    int b = sqlite3_bind_int64(st, 1, meeting_id);
    b |= sqlite3_bind_int64(st, 2, o->sub_meeting_id);
    b |= sqlite3_bind_int(st, 3, o->status);
    return lite_exec(tx, STMT_OCC_SET_STATUS, st, b, NULL);
}

static store_rc meeting_set_status(store_tx *tx, const core_meeting *m)
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_MEETING_SET_STATUS);
    if (st == NULL)
        return STORE_ERROR;
    int b = sqlite3_bind_int64(st, 1, m->meeting_id);
    b |= LITE_BIND_STR(st, 2, m->app_id);
    b |= sqlite3_bind_int(st, 3, m->status);
    int64_t n = 0;
    int rc = lite_exec(tx, STMT_MEETING_SET_STATUS, st, b, &n);
    if (rc == STORE_OK && n == 0)
        return STORE_NOTFOUND;
    for (int i = 0; rc == STORE_OK && i < m->n_occ; i++)
        rc = occ_set_status(tx, m->meeting_id, &m->occ[i]);
    return rc;
}

store_rc lite_meeting_update_status(store_tx *tx, const core_meeting *m)
{
    assert(m != NULL);
    if (m->n_occ < 0 || m->n_occ > CORE_OCC_MAX)
        return lite_invalid(tx, "meeting update: occurrence count out of range");
    if (lite_tx_conn(tx)->mcache != NULL)
        lite_mcache_drop(lite_tx_conn(tx)->mcache, m->meeting_id);
    int rc = lite_sp_begin(tx);
    if (rc != STORE_OK)
        return rc;
    return lite_sp_end(tx, meeting_set_status(tx, m));
}

/* Every host (or occurrence) row of a meeting: an update writes them anew. */
static store_rc meeting_children_delete(store_tx *tx, enum lite_stmt_id stmt, int64_t meeting_id)
{
    sqlite3_stmt *st = lite_stmt(tx, stmt);
    if (st == NULL)
        return STORE_ERROR;
    return lite_exec(tx, stmt, st, sqlite3_bind_int64(st, 1, meeting_id), NULL);
}

/* Hosts and occurrences are few (10, 200) and a modify is rare: they are
 * written again whole rather than compared. Nothing refers to their rows:
 * device sessions and their counts name an occurrence by its
 * sub_meeting_id, which m keeps for every occurrence that has any. */
static store_rc meeting_update_rows(store_tx *tx, const core_meeting *m)
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_MEETING_UPDATE);
    if (st == NULL)
        return STORE_ERROR;
    int b = sqlite3_bind_int64(st, 1, m->meeting_id);
    b |= LITE_BIND_STR(st, 2, m->app_id);
    b |= LITE_BIND_STR(st, 3, m->subject);
    b |= sqlite3_bind_int(st, 4, m->meeting_type);
    b |= sqlite3_bind_int64(st, 5, m->start_time);
    b |= sqlite3_bind_int64(st, 6, m->end_time);
    b |= sqlite3_bind_int(st, 7, m->status);
    b |= sqlite3_bind_int(st, 8, m->rule.recurring_type);
    b |= sqlite3_bind_int(st, 9, m->rule.until_type);
    b |= sqlite3_bind_int(st, 10, m->rule.until_count);
    b |= sqlite3_bind_int64(st, 11, m->rule.until_date);
    int64_t n = 0;
    int rc = lite_exec(tx, STMT_MEETING_UPDATE, st, b, &n);
    if (rc == STORE_OK && n == 0)
        return STORE_NOTFOUND;
    if (rc == STORE_OK)
        rc = meeting_children_delete(tx, STMT_HOSTS_DELETE, m->meeting_id);
    if (rc == STORE_OK)
        rc = meeting_children_delete(tx, STMT_OCCS_DELETE, m->meeting_id);
    return meeting_children_insert(tx, m, rc);
}

store_rc lite_meeting_update(store_tx *tx, const core_meeting *m)
{
    return meeting_write(tx, m, "meeting update: host or occurrence count out of range",
                         meeting_update_rows);
}
