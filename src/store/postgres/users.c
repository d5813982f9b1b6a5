/* Users (identities within a meeting), device sessions and participant
 * listings. A device session is present while its left_time is NULL; the
 * core sees that as left_time 0. */
#include <assert.h>
#include <string.h>

#include "common/ids.h"
#include "store/postgres/pgsql.h"

/* ---- users ------------------------------------------------------------- */

store_rc pgsql_user_get(store_tx *tx, int64_t meeting_id, core_id_type kind, const char *value,
                        core_user *out)
{
    assert(value != NULL && out != NULL);
    enum pgsql_stmt_id id;
    switch (kind) {
    case CORE_ID_USERID: id = PGSQL_USER_BY_USERID; break;
    case CORE_ID_GUEST: id = PGSQL_USER_BY_GUEST; break;
    case CORE_ID_UUID: id = PGSQL_USER_BY_UUID; break;
    case CORE_ID_MS_OPEN_ID: id = PGSQL_USER_BY_MS_OPEN_ID; break;
    default:
        /* openid (OAuth only) and "none" never name a stored user. */
        return STORE_NOTFOUND;
    }
    pgsql_params p = {0};
    pgsql_p_int(&p, meeting_id);
    pgsql_p_str(&p, value, PGSQL_ARG_MAX);
    store_rc rc;
    PGresult *r = pgsql_one(tx, id, &p, &rc);
    if (r != NULL)
        store_row_user(PGSQL_ROW(r, 0), 0, out);
    PQclear(r);
    return rc;
}

store_rc pgsql_user_party(store_tx *tx, int64_t meeting_id, core_id_type kind,
                          const char *value, core_user *out, uint64_t *mask, bool *banned)
{
    assert(value != NULL && out != NULL && mask != NULL && banned != NULL);
    enum pgsql_stmt_id id;
    switch (kind) {
    case CORE_ID_USERID: id = PGSQL_PARTY_BY_USERID; break;
    case CORE_ID_GUEST: id = PGSQL_PARTY_BY_GUEST; break;
    case CORE_ID_UUID: id = PGSQL_PARTY_BY_UUID; break;
    case CORE_ID_MS_OPEN_ID: id = PGSQL_PARTY_BY_MS_OPEN_ID; break;
    default:
        return STORE_NOTFOUND;   /* as pgsql_user_get */
    }
    pgsql_params p = {0};
    pgsql_p_int(&p, meeting_id);
    pgsql_p_str(&p, value, PGSQL_ARG_MAX);
    store_rc rc;
    PGresult *r = pgsql_one(tx, id, &p, &rc);
    if (r != NULL) {
        store_row_user(PGSQL_ROW(r, 0), 0, out);
        *mask = (uint64_t)pgsql_int(r, 0, STORE_USER_NCOLS);
        *banned = strcmp(PQgetvalue(r, 0, STORE_USER_NCOLS + 1), "t") == 0;
    }
    PQclear(r);
    return rc;
}

store_rc pgsql_user_by_no(store_tx *tx, int64_t user_no, core_user *out)
{
    assert(out != NULL);
    pgsql_params p = {0};
    pgsql_p_int(&p, user_no);
    store_rc rc;
    PGresult *r = pgsql_one(tx, PGSQL_USER_BY_NO, &p, &rc);
    if (r != NULL)
        store_row_user(PGSQL_ROW(r, 0), 0, out);
    PQclear(r);
    return rc;
}

store_rc pgsql_user_insert(store_tx *tx, int64_t meeting_id, core_user *u)
{
    assert(u != NULL);
    pgsql_params p = {0};
    pgsql_p_int(&p, meeting_id);
    PGSQL_P_STR(&p, u->userid);
    PGSQL_P_STR(&p, u->guest_id);
    PGSQL_P_STR(&p, u->uuid);
    PGSQL_P_STR(&p, u->ms_open_id);
    PGSQL_P_STR(&p, u->nick_name);
    pgsql_p_int(&p, u->cohost ? 1 : 0);
    return pgsql_insert(tx, PGSQL_USER_INSERT, &p, &u->user_no);
}

store_rc pgsql_user_set_cohost(store_tx *tx, int64_t meeting_id, int64_t user_no, bool cohost)
{
    pgsql_params p = {0};
    pgsql_p_int(&p, meeting_id);
    pgsql_p_int(&p, user_no);
    pgsql_p_int(&p, cohost ? 1 : 0);
    return pgsql_exec_one(tx, PGSQL_USER_SET_COHOST, &p);
}

store_rc pgsql_user_set_nick(store_tx *tx, int64_t meeting_id, int64_t user_no,
                             const char *nick)
{
    assert(nick != NULL);
    pgsql_params p = {0};
    pgsql_p_int(&p, meeting_id);
    pgsql_p_int(&p, user_no);
    pgsql_p_str(&p, nick, CORE_NICK_MAX + 1);
    return pgsql_exec_one(tx, PGSQL_USER_SET_NICK, &p);
}

struct user_iter {
    store_user_cb cb;
    void *arg;
};

static store_rc user_row(const PGresult *r, int row, void *ctx)
{
    const struct user_iter *it = ctx;
    core_user u;
    store_row_user(PGSQL_ROW(r, row), 0, &u);
    return it->cb(&u, it->arg);
}

store_rc pgsql_cohosts_list(store_tx *tx, int64_t meeting_id, store_user_cb cb, void *arg)
{
    assert(cb != NULL);
    pgsql_params p = {0};
    pgsql_p_int(&p, meeting_id);
    struct user_iter it = {cb, arg};
    return pgsql_each(tx, PGSQL_USERS_COHOSTS, &p, user_row, &it);
}

store_rc pgsql_cohosts_end(store_tx *tx, int64_t meeting_id)
{
    pgsql_params p = {0};
    pgsql_p_int(&p, meeting_id);
    return pgsql_exec(tx, PGSQL_USERS_COHOSTS_END, &p, NULL);
}

/* ---- devices ----------------------------------------------------------- */

static store_rc presence_row(const PGresult *r, int row, void *ctx)
{
    uint64_t *mask = ctx;
    int64_t instanceid = pgsql_int(r, row, 0);
    if (instanceid >= 0 && instanceid < 64)
        *mask |= UINT64_C(1) << instanceid;
    return STORE_OK;
}

store_rc pgsql_user_presence(store_tx *tx, int64_t meeting_id, int64_t user_no,
                             uint64_t *mask)
{
    assert(mask != NULL);
    *mask = 0;
    pgsql_params p = {0};
    pgsql_p_int(&p, meeting_id);
    pgsql_p_int(&p, user_no);
    return pgsql_each(tx, PGSQL_DEVICE_PRESENCE, &p, presence_row, mask);
}

/* Always inserted present, whatever d->left_time says: a session begins at
 * join. CONFLICT when (user, instanceid) already has a present session. */
store_rc pgsql_device_insert(store_tx *tx, core_device *d)
{
    assert(d != NULL);
    pgsql_params p = {0};
    pgsql_p_int(&p, d->meeting_id);
    pgsql_p_int(&p, d->sub_meeting_id);
    pgsql_p_int(&p, d->user_no);
    pgsql_p_int(&p, d->instanceid);
    pgsql_p_int(&p, d->join_time);
    pgsql_p_bytes(&p, d->token_hash, (int)sizeof d->token_hash);
    int64_t no = 0;
    store_rc rc = pgsql_insert(tx, PGSQL_DEVICE_INSERT, &p, &no);
    if (rc == STORE_OK) {
        d->device_no = no;
        d->left_time = 0;
        d->left_reason = CORE_LEFT_NONE;
    }
    return rc;
}

static store_rc device_one(store_tx *tx, enum pgsql_stmt_id id, const pgsql_params *p,
                           core_device *out)
{
    store_rc rc;
    PGresult *r = pgsql_one(tx, id, p, &rc);
    if (r != NULL)
        store_row_device(PGSQL_ROW(r, 0), 0, out);
    PQclear(r);
    return rc;
}

store_rc pgsql_device_present(store_tx *tx, int64_t meeting_id, int64_t user_no,
                              int instanceid, core_device *out)
{
    assert(out != NULL);
    pgsql_params p = {0};
    pgsql_p_int(&p, meeting_id);
    pgsql_p_int(&p, user_no);
    pgsql_p_int(&p, instanceid);
    return device_one(tx, PGSQL_DEVICE_PRESENT, &p, out);
}

store_rc pgsql_device_end_present(store_tx *tx, int64_t meeting_id, int64_t user_no,
                                  int instanceid, int64_t left_time, int left_reason,
                                  core_device *out)
{
    assert(out != NULL);
    pgsql_params p = {0};
    pgsql_p_int(&p, meeting_id);
    pgsql_p_int(&p, user_no);
    pgsql_p_int(&p, instanceid);
    pgsql_p_int(&p, left_time);
    pgsql_p_int(&p, left_reason);
    return device_one(tx, PGSQL_DEVICE_END_PRESENT, &p, out);
}

store_rc pgsql_device_end(store_tx *tx, int64_t device_no, int64_t left_time, int left_reason)
{
    pgsql_params p = {0};
    pgsql_p_int(&p, device_no);
    pgsql_p_int(&p, left_time);
    pgsql_p_int(&p, left_reason);
    return pgsql_exec_one(tx, PGSQL_DEVICE_END, &p);
}

struct device_iter {
    store_device_cb cb;
    void *arg;
};

static store_rc device_row(const PGresult *r, int row, void *ctx)
{
    const struct device_iter *it = ctx;
    core_device d;
    store_row_device(PGSQL_ROW(r, row), 0, &d);
    return it->cb(&d, it->arg);
}

/* cb sees every present session first, then one UPDATE ends them all. A
 * nonzero cb stops before anything is ended and is returned. */
store_rc pgsql_devices_end_all(store_tx *tx, int64_t meeting_id, int64_t left_time,
                               int left_reason, store_device_cb cb, void *arg)
{
    pgsql_params p = {0};
    pgsql_p_int(&p, meeting_id);
    if (cb != NULL) {
        struct device_iter it = {cb, arg};
        store_rc rc = pgsql_each(tx, PGSQL_DEVICES_PRESENT_ALL, &p, device_row, &it);
        if (rc != STORE_OK)
            return rc;
    }
    pgsql_p_int(&p, left_time);
    pgsql_p_int(&p, left_reason);
    return pgsql_exec(tx, PGSQL_DEVICES_END_ALL, &p, NULL);
}

store_rc pgsql_device_get(store_tx *tx, int64_t device_no, core_device *out)
{
    assert(out != NULL);
    pgsql_params p = {0};
    pgsql_p_int(&p, device_no);
    return device_one(tx, PGSQL_DEVICE_GET, &p, out);
}

/* Tokens issued before SQLite's schema version 3 (device_no 0) never
 * existed on PostgreSQL: no session has one. */
store_rc pgsql_device_by_token(store_tx *tx, int64_t device_no, const uint8_t secret_hash[32],
                               core_device *out)
{
    assert(secret_hash != NULL && out != NULL);
    if (device_no == 0)
        return STORE_NOTFOUND;
    pgsql_params p = {0};
    pgsql_p_int(&p, device_no);
    store_rc rc = device_one(tx, PGSQL_DEVICE_PRESENT_NO, &p, out);
    /* A right number with a wrong secret is no session at all. */
    if (rc == STORE_OK && !ids_equal(out->token_hash, secret_hash, sizeof out->token_hash)) {
        memset(out, 0, sizeof *out);
        rc = STORE_NOTFOUND;
    }
    return rc;
}

/* ---- participants ------------------------------------------------------ */

struct participant_iter {
    store_participant_cb cb;
    void *arg;
};

static store_rc participant_row(const PGresult *r, int row, void *ctx)
{
    const struct participant_iter *it = ctx;
    store_participant p;
    store_row_participant(PGSQL_ROW(r, row), 0, &p);
    return it->cb(&p, it->arg);
}

/* A page of a filtered listing: the count's parameters are ($1 meeting,
 * $2 occurrence or -1, then the span's $3, $4), the page's ($1 meeting, $2
 * size, $3 offset, $4 occurrence, then the span's $5, $6). Counted first,
 * whether or not the caller wants the total: past the last row the page is
 * empty and nothing more is read, so no page costs more than the count and
 * the rows up to it, however far out pos lies. */
static store_rc page_filtered(store_tx *tx, enum pgsql_stmt_id count_id,
                              enum pgsql_stmt_id list_id, int64_t meeting_id,
                              int64_t sub_meeting_id, const int64_t *span, int64_t pos,
                              int size, store_participant_cb cb, void *arg, int64_t *total)
{
    assert(cb != NULL || size <= 0);
    pgsql_page(&pos, &size);
    pgsql_params c = {0};
    pgsql_p_int(&c, meeting_id);
    pgsql_p_int(&c, sub_meeting_id);
    if (span != NULL) {
        pgsql_p_int(&c, span[0]);
        pgsql_p_int(&c, span[1]);
    }
    int64_t count = 0;
    store_rc rc = pgsql_count(tx, count_id, &c, &count);
    if (rc != STORE_OK)
        return rc;
    if (total != NULL)
        *total = count;
    if (size == 0 || pos >= count)
        return STORE_OK;
    pgsql_params p = {0};
    pgsql_p_int(&p, meeting_id);
    pgsql_p_int(&p, size);
    pgsql_p_int(&p, pos);
    pgsql_p_int(&p, sub_meeting_id);
    if (span != NULL) {
        pgsql_p_int(&p, span[0]);
        pgsql_p_int(&p, span[1]);
    }
    struct participant_iter it = {cb, arg};
    return pgsql_each(tx, list_id, &p, participant_row, &it);
}

/* The number of sessions comes from session_counts (one row per
 * occurrence); the page picks its sessions' numbers on the meeting's index
 * alone and only then reads their rows and users. */
store_rc pgsql_participants_list(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id,
                                 int64_t pos, int size, store_participant_cb cb, void *arg,
                                 int64_t *total)
{
    assert(cb != NULL || size <= 0);
    pgsql_page(&pos, &size);
    bool all = sub_meeting_id == -1;
    /* Counts ($1 meeting, $2 occurrence) and pages ($1 meeting, $2 size,
     * $3 offset, $4 occurrence): the ALL statements have no occurrence. */
    int64_t count = 0;
    pgsql_params c = {0};
    pgsql_p_int(&c, meeting_id);
    if (!all)
        pgsql_p_int(&c, sub_meeting_id);
    store_rc rc = pgsql_count(tx, all ? PGSQL_PART_COUNT_ALL : PGSQL_PART_COUNT_SUB, &c, &count);
    if (rc != STORE_OK)
        return rc;
    if (total != NULL)
        *total = count;
    if (size == 0 || pos >= count)
        return STORE_OK;
    pgsql_params p = {0};
    pgsql_p_int(&p, meeting_id);
    pgsql_p_int(&p, size);
    pgsql_p_int(&p, pos);
    if (!all)
        pgsql_p_int(&p, sub_meeting_id);
    struct participant_iter it = {cb, arg};
    return pgsql_each(tx, all ? PGSQL_PART_LIST_ALL : PGSQL_PART_LIST_SUB, &p, participant_row,
                      &it);
}

store_rc pgsql_participants_between(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id,
                                    int64_t from, int64_t to, int64_t pos, int size,
                                    store_participant_cb cb, void *arg, int64_t *total)
{
    assert(sub_meeting_id >= 0);
    const int64_t span[2] = {from, to};
    return page_filtered(tx, PGSQL_PART_SPAN_COUNT, PGSQL_PART_SPAN_LIST, meeting_id,
                         sub_meeting_id, span, pos, size, cb, arg, total);
}

store_rc pgsql_present_list(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id,
                            int64_t pos, int size, store_participant_cb cb, void *arg,
                            int64_t *total)
{
    return page_filtered(tx, PGSQL_PRESENT_COUNT, PGSQL_PRESENT_LIST, meeting_id,
                         sub_meeting_id, NULL, pos, size, cb, arg, total);
}
