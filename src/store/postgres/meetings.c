/* Meetings with their scheduled hosts and recurring occurrences. */
#include <assert.h>
#include <string.h>

#include "store/postgres/pgsql.h"

static store_rc hosts_insert(store_tx *tx, const core_meeting *m)
{
    store_rc rc = STORE_OK;
    for (int i = 0; rc == STORE_OK && i < m->n_hosts; i++) {
        pgsql_params p = {0};
        pgsql_p_int(&p, m->meeting_id);
        pgsql_p_int(&p, i);
        PGSQL_P_STR(&p, m->hosts[i]);
        rc = pgsql_exec(tx, PGSQL_HOST_INSERT, &p, NULL);
    }
    return rc;
}

static store_rc occs_insert(store_tx *tx, const core_meeting *m)
{
    store_rc rc = STORE_OK;
    for (int i = 0; rc == STORE_OK && i < m->n_occ; i++) {
        const core_occurrence *o = &m->occ[i];
        pgsql_params p = {0};
        pgsql_p_int(&p, m->meeting_id);
        pgsql_p_int(&p, o->sub_meeting_id);
        pgsql_p_int(&p, o->start_time);
        pgsql_p_int(&p, o->end_time);
        pgsql_p_int(&p, o->status);
        rc = pgsql_exec(tx, PGSQL_OCC_INSERT, &p, NULL);
    }
    return rc;
}

static bool counts_valid(const core_meeting *m)
{
    return m->n_hosts >= 0 && m->n_hosts <= CORE_HOSTS_MAX && m->n_occ >= 0 &&
           m->n_occ <= CORE_OCC_MAX;
}

/* All or nothing, in a savepoint (pgsql_op_begin): after a CONFLICT (the
 * meeting's id or code taken, or a duplicate occurrence) nothing is
 * written, and the caller may draw new ones in the same transaction. */
store_rc pgsql_meeting_insert(store_tx *tx, const core_meeting *m)
{
    assert(m != NULL);
    if (!counts_valid(m))
        return pgsql_invalid(tx, "meeting insert: host or occurrence count out of range");
    pgsql_params p = {0};
    pgsql_p_int(&p, m->meeting_id);
    PGSQL_P_STR(&p, m->app_id);
    PGSQL_P_STR(&p, m->meeting_code);
    PGSQL_P_STR(&p, m->subject);
    PGSQL_P_STR(&p, m->creator_userid);
    pgsql_p_int(&p, m->creator_instanceid);
    pgsql_p_int(&p, m->type);
    pgsql_p_int(&p, m->meeting_type);
    pgsql_p_int(&p, m->start_time);
    pgsql_p_int(&p, m->end_time);
    pgsql_p_int(&p, m->status);
    pgsql_p_int(&p, m->rule.recurring_type);
    pgsql_p_int(&p, m->rule.until_type);
    pgsql_p_int(&p, m->rule.until_count);
    pgsql_p_int(&p, m->rule.until_date);
    pgsql_p_int(&p, m->created_at);
    store_rc rc = pgsql_op_begin(tx);
    if (rc != STORE_OK)
        return rc;
    rc = pgsql_insert(tx, PGSQL_MEETING_INSERT, &p, NULL);
    if (rc == STORE_OK)
        rc = hosts_insert(tx, m);
    if (rc == STORE_OK)
        rc = occs_insert(tx, m);
    return pgsql_op_end(tx, rc);
}

static store_rc host_row(const PGresult *r, int row, void *ctx)
{
    core_meeting *m = ctx;
    if (m->n_hosts == CORE_HOSTS_MAX)
        return STORE_STOP; /* more rows than a meeting can have */
    PGSQL_STR(r, row, 0, m->hosts[m->n_hosts]);
    m->n_hosts++;
    return STORE_OK;
}

static store_rc occ_row(const PGresult *r, int row, void *ctx)
{
    core_meeting *m = ctx;
    if (m->n_occ == CORE_OCC_MAX)
        return STORE_STOP;
    core_occurrence *o = &m->occ[m->n_occ++];
    o->sub_meeting_id = pgsql_int(r, row, 0);
    o->start_time = pgsql_int(r, row, 1);
    o->end_time = pgsql_int(r, row, 2);
    o->status = (int)pgsql_int(r, row, 3);
    return STORE_OK;
}

/* In a write transaction the meeting's row is locked (FOR UPDATE) until the
 * commit: every job that reads a meeting before it changes it (join,
 * kickout, modify, end, presence) runs after the job before it on that
 * meeting, on any node, and sees what it wrote (pgsql.c). */
store_rc pgsql_meeting_get(store_tx *tx, const char *app_id, int64_t meeting_id,
                           core_meeting *out)
{
    assert(app_id != NULL && out != NULL);
    memset(out, 0, sizeof *out);
    pgsql_params p = {0};
    pgsql_p_int(&p, meeting_id);
    pgsql_p_str(&p, app_id, PGSQL_ARG_MAX);
    pgsql_params q = {0};
    pgsql_p_int(&q, meeting_id);
    /* One round trip: the hosts and occurrences are read after the
     * meeting's row (and its lock), as they would be one at a time. */
    const enum pgsql_stmt_id ids[3] = {
        tx->writable ? PGSQL_MEETING_GET_LOCK : PGSQL_MEETING_GET, PGSQL_HOSTS_GET,
        PGSQL_OCCS_GET};
    const pgsql_params *ps[3] = {&p, &q, &q};
    PGresult *r[3];
    store_rc rc = pgsql_run_n(tx, 3, ids, ps, r);
    if (rc != STORE_OK)
        return rc;
    if (PQntuples(r[0]) == 0) {
        rc = STORE_NOTFOUND;
    } else {
        store_row_meeting(PGSQL_ROW(r[0], 0), 0, out);
        for (int i = 0; rc == STORE_OK && i < PQntuples(r[1]); i++)
            rc = host_row(r[1], i, out);
        for (int i = 0; rc == STORE_OK && i < PQntuples(r[2]); i++)
            rc = occ_row(r[2], i, out);
    }
    for (int i = 0; i < 3; i++)
        PQclear(r[i]);
    if (rc == STORE_STOP)
        rc = pgsql_invalid(tx, "meeting get: more hosts or occurrences than a meeting holds");
    return rc;
}

store_rc pgsql_meeting_app(store_tx *tx, int64_t meeting_id, char app_id[CORE_APPID_MAX + 1])
{
    pgsql_params p = {0};
    pgsql_p_int(&p, meeting_id);
    store_rc rc;
    PGresult *r = pgsql_one(tx, PGSQL_MEETING_APP, &p, &rc);
    if (r != NULL)
        pgsql_str(r, 0, 0, app_id, CORE_APPID_MAX + 1);
    PQclear(r);
    return rc;
}

store_rc pgsql_meeting_by_code(store_tx *tx, const char *code, int64_t *meeting_id,
                               char app_id[CORE_APPID_MAX + 1])
{
    pgsql_params p = {0};
    pgsql_p_str(&p, code, CORE_CODE_LEN + 1);
    store_rc rc;
    PGresult *r = pgsql_one(tx, PGSQL_MEETING_BY_CODE, &p, &rc);
    if (r != NULL) {
        *meeting_id = pgsql_int(r, 0, 0);
        pgsql_str(r, 0, 1, app_id, CORE_APPID_MAX + 1);
    }
    PQclear(r);
    return rc;
}

static store_rc user_meeting_row(const PGresult *r, int row, void *ctx)
{
    return store_meetings_walk_row(ctx, PGSQL_ROW(r, row));
}

store_rc pgsql_meetings_of_user(store_tx *tx, const char *app_id, const char *userid,
                                int64_t from, int64_t skip, int limit, store_meeting_id_cb cb,
                                void *arg, int64_t *remaining, int64_t *next_from,
                                int64_t *next_skip)
{
    assert(app_id != NULL && userid != NULL && cb != NULL);
    store_meetings_walk w = {.from = from, .skip = skip, .limit = limit, .cb = cb, .arg = arg,
                            .same_start = -1};
    pgsql_params p = {0};
    pgsql_p_str(&p, app_id, PGSQL_ARG_MAX);
    pgsql_p_str(&p, userid, PGSQL_ARG_MAX);
    pgsql_p_int(&p, from);
    store_rc rc = pgsql_each(tx, PGSQL_MEETINGS_OF_USER, &p, user_meeting_row, &w);
    *remaining = w.remaining;
    *next_from = w.next_from;
    *next_skip = w.next_skip;
    return rc;
}

/* Only a changed status is written: a join rewrites the whole meeting's
 * state, and 200 unchanged occurrences should not be rewritten. */
store_rc pgsql_meeting_update_status(store_tx *tx, const core_meeting *m)
{
    assert(m != NULL);
    if (m->n_occ < 0 || m->n_occ > CORE_OCC_MAX)
        return pgsql_invalid(tx, "meeting update: occurrence count out of range");
    pgsql_params p = {0};
    pgsql_p_int(&p, m->meeting_id);
    PGSQL_P_STR(&p, m->app_id);
    pgsql_p_int(&p, m->status);
    store_rc rc = pgsql_exec_one(tx, PGSQL_MEETING_SET_STATUS, &p);
    /* The first statement alone decides NOTFOUND, having changed nothing:
     * the savepoint is taken only for the occurrences. */
    if (rc != STORE_OK || m->n_occ == 0)
        return rc;
    rc = pgsql_op_begin(tx);
    if (rc != STORE_OK)
        return rc;
    for (int i = 0; rc == STORE_OK && i < m->n_occ; i++) {
        pgsql_params q = {0};
        pgsql_p_int(&q, m->meeting_id);
        pgsql_p_int(&q, m->occ[i].sub_meeting_id);
        pgsql_p_int(&q, m->occ[i].status);
        rc = pgsql_exec(tx, PGSQL_OCC_SET_STATUS, &q, NULL);
    }
    return pgsql_op_end(tx, rc);
}

/* Hosts and occurrences are few (10, 200) and a modify is rare: they are
 * written again whole, all or nothing. */
store_rc pgsql_meeting_update(store_tx *tx, const core_meeting *m)
{
    assert(m != NULL);
    if (!counts_valid(m))
        return pgsql_invalid(tx, "meeting update: host or occurrence count out of range");
    pgsql_params p = {0};
    pgsql_p_int(&p, m->meeting_id);
    PGSQL_P_STR(&p, m->app_id);
    PGSQL_P_STR(&p, m->subject);
    pgsql_p_int(&p, m->meeting_type);
    pgsql_p_int(&p, m->start_time);
    pgsql_p_int(&p, m->end_time);
    pgsql_p_int(&p, m->status);
    pgsql_p_int(&p, m->rule.recurring_type);
    pgsql_p_int(&p, m->rule.until_type);
    pgsql_p_int(&p, m->rule.until_count);
    pgsql_p_int(&p, m->rule.until_date);
    store_rc rc = pgsql_op_begin(tx);
    if (rc != STORE_OK)
        return rc;
    rc = pgsql_exec_one(tx, PGSQL_MEETING_UPDATE, &p);
    pgsql_params q = {0};
    pgsql_p_int(&q, m->meeting_id);
    if (rc == STORE_OK)
        rc = pgsql_exec(tx, PGSQL_HOSTS_DELETE, &q, NULL);
    if (rc == STORE_OK)
        rc = pgsql_exec(tx, PGSQL_OCCS_DELETE, &q, NULL);
    if (rc == STORE_OK)
        rc = hosts_insert(tx, m);
    if (rc == STORE_OK)
        rc = occs_insert(tx, m);
    return pgsql_op_end(tx, rc);
}
