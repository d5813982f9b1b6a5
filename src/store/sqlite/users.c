/* Users (identities within a meeting), device sessions and participant
 * listings. A device session is present while its left_time is NULL; the
 * core sees that as left_time 0. */
#include <assert.h>

#include "common/ids.h"
#include "store/sqlite/lite.h"

/* ---- users ------------------------------------------------------------- */

store_rc lite_user_get(store_tx *tx, int64_t meeting_id, core_id_type kind, const char *value,
                        core_user *out)
{
    assert(value != NULL && out != NULL);
    enum lite_stmt_id id;
    switch (kind) {
    case CORE_ID_USERID: id = STMT_USER_BY_USERID; break;
    case CORE_ID_GUEST: id = STMT_USER_BY_GUEST; break;
    case CORE_ID_UUID: id = STMT_USER_BY_UUID; break;
    case CORE_ID_MS_OPEN_ID: id = STMT_USER_BY_MS_OPEN_ID; break;
    default:
        /* openid (OAuth only) and "none" never name a stored user. */
        return STORE_NOTFOUND;
    }
    sqlite3_stmt *st = lite_stmt(tx, id);
    if (st == NULL)
        return STORE_ERROR;
    int b = sqlite3_bind_int64(st, 1, meeting_id);
    b |= lite_bind_str(st, 2, value, LITE_ARG_MAX);
    int rc = lite_row(tx, id, st, b);
    if (rc == STORE_OK)
        store_row_user(LITE_ROW(st), 0, out);
    lite_done(tx, id, st);
    return rc;
}

store_rc lite_user_by_no(store_tx *tx, int64_t user_no, core_user *out)
{
    assert(out != NULL);
    sqlite3_stmt *st = lite_stmt(tx, STMT_USER_BY_NO);
    if (st == NULL)
        return STORE_ERROR;
    int rc = lite_row(tx, STMT_USER_BY_NO, st, sqlite3_bind_int64(st, 1, user_no));
    if (rc == STORE_OK)
        store_row_user(LITE_ROW(st), 0, out);
    lite_done(tx, STMT_USER_BY_NO, st);
    return rc;
}

store_rc lite_user_insert(store_tx *tx, int64_t meeting_id, core_user *u)
{
    assert(u != NULL);
    sqlite3_stmt *st = lite_stmt(tx, STMT_USER_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    int b = sqlite3_bind_int64(st, 1, meeting_id);
    b |= LITE_BIND_STR(st, 2, u->userid);
    b |= LITE_BIND_STR(st, 3, u->guest_id);
    b |= LITE_BIND_STR(st, 4, u->uuid);
    b |= LITE_BIND_STR(st, 5, u->ms_open_id);
    b |= LITE_BIND_STR(st, 6, u->nick_name);
    b |= sqlite3_bind_int(st, 7, u->cohost ? 1 : 0);
    int rc = lite_exec(tx, STMT_USER_INSERT, st, b, NULL);
    if (rc == STORE_OK)
        u->user_no = sqlite3_last_insert_rowid(lite_tx_conn(tx)->db);
    return rc;
}

store_rc lite_user_set_cohost(store_tx *tx, int64_t meeting_id, int64_t user_no, bool cohost)
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_USER_SET_COHOST);
    if (st == NULL)
        return STORE_ERROR;
    int b = sqlite3_bind_int64(st, 1, meeting_id);
    b |= sqlite3_bind_int64(st, 2, user_no);
    b |= sqlite3_bind_int(st, 3, cohost ? 1 : 0);
    int64_t n = 0;
    int rc = lite_exec(tx, STMT_USER_SET_COHOST, st, b, &n);
    return rc == STORE_OK && n == 0 ? STORE_NOTFOUND : rc;
}

store_rc lite_user_set_nick(store_tx *tx, int64_t meeting_id, int64_t user_no, const char *nick)
{
    assert(nick != NULL);
    sqlite3_stmt *st = lite_stmt(tx, STMT_USER_SET_NICK);
    if (st == NULL)
        return STORE_ERROR;
    int b = sqlite3_bind_int64(st, 1, meeting_id);
    b |= sqlite3_bind_int64(st, 2, user_no);
    b |= lite_bind_str(st, 3, nick, CORE_NICK_MAX);
    int64_t n = 0;
    int rc = lite_exec(tx, STMT_USER_SET_NICK, st, b, &n);
    return rc == STORE_OK && n == 0 ? STORE_NOTFOUND : rc;
}

struct user_iter {
    store_user_cb cb;
    void *arg;
};

static store_rc user_row(sqlite3_stmt *st, void *ctx)
{
    const struct user_iter *it = ctx;
    core_user u;
    store_row_user(LITE_ROW(st), 0, &u);
    return it->cb(&u, it->arg);
}

store_rc lite_cohosts_list(store_tx *tx, int64_t meeting_id, store_user_cb cb, void *arg)
{
    assert(cb != NULL);
    sqlite3_stmt *st = lite_stmt(tx, STMT_USERS_COHOSTS);
    if (st == NULL)
        return STORE_ERROR;
    struct user_iter it = {cb, arg};
    return lite_each(tx, STMT_USERS_COHOSTS, st, sqlite3_bind_int64(st, 1, meeting_id),
                      user_row, &it);
}

store_rc lite_cohosts_end(store_tx *tx, int64_t meeting_id)
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_USERS_COHOSTS_END);
    if (st == NULL)
        return STORE_ERROR;
    return lite_exec(tx, STMT_USERS_COHOSTS_END, st, sqlite3_bind_int64(st, 1, meeting_id),
                      NULL);
}

/* ---- devices ----------------------------------------------------------- */

static store_rc presence_row(sqlite3_stmt *st, void *ctx)
{
    uint64_t *mask = ctx;
    int instanceid = sqlite3_column_int(st, 0);
    if (instanceid >= 0 && instanceid < 64)
        *mask |= UINT64_C(1) << instanceid;
    return 0;
}

store_rc lite_user_party(store_tx *tx, int64_t meeting_id, core_id_type kind,
                         const char *value, core_user *out, uint64_t *mask, bool *banned)
{
    assert(value != NULL && out != NULL && mask != NULL && banned != NULL);
    enum lite_stmt_id id;
    switch (kind) {
    case CORE_ID_USERID: id = STMT_PARTY_BY_USERID; break;
    case CORE_ID_GUEST: id = STMT_PARTY_BY_GUEST; break;
    case CORE_ID_UUID: id = STMT_PARTY_BY_UUID; break;
    case CORE_ID_MS_OPEN_ID: id = STMT_PARTY_BY_MS_OPEN_ID; break;
    default:
        return STORE_NOTFOUND;   /* as lite_user_get */
    }
    sqlite3_stmt *st = lite_stmt(tx, id);
    if (st == NULL)
        return STORE_ERROR;
    int b = sqlite3_bind_int64(st, 1, meeting_id);
    b |= lite_bind_str(st, 2, value, LITE_ARG_MAX);
    int rc = lite_row(tx, id, st, b);
    if (rc == STORE_OK) {
        store_row_user(LITE_ROW(st), 0, out);
        *mask = (uint64_t)sqlite3_column_int64(st, STORE_USER_NCOLS);
        *banned = sqlite3_column_int(st, STORE_USER_NCOLS + 1) != 0;
    }
    lite_done(tx, id, st);
    return rc;
}

store_rc lite_user_presence(store_tx *tx, int64_t meeting_id, int64_t user_no, uint64_t *mask)
{
    assert(mask != NULL);
    *mask = 0;
    sqlite3_stmt *st = lite_stmt(tx, STMT_DEVICE_PRESENCE);
    if (st == NULL)
        return STORE_ERROR;
    int b = sqlite3_bind_int64(st, 1, meeting_id);
    b |= sqlite3_bind_int64(st, 2, user_no);
    return lite_each(tx, STMT_DEVICE_PRESENCE, st, b, presence_row, mask);
}

store_rc lite_device_insert(store_tx *tx, core_device *d)
{
    assert(d != NULL);
    /* Always inserted present, whatever d->left_time says: a session begins
     * at join. CONFLICT when (user, instanceid) already has a present
     * session or the token is in use. */
    sqlite3_stmt *st = lite_stmt(tx, STMT_DEVICE_INSERT);
    if (st == NULL)
        return STORE_ERROR;
    int b = sqlite3_bind_int64(st, 1, d->meeting_id);
    b |= sqlite3_bind_int64(st, 2, d->sub_meeting_id);
    b |= sqlite3_bind_int64(st, 3, d->user_no);
    b |= sqlite3_bind_int(st, 4, d->instanceid);
    b |= sqlite3_bind_int64(st, 5, d->join_time);
    b |= sqlite3_bind_blob(st, 6, d->token_hash, (int)sizeof d->token_hash, SQLITE_STATIC);
    int rc = lite_exec(tx, STMT_DEVICE_INSERT, st, b, NULL);
    if (rc == STORE_OK) {
        d->device_no = sqlite3_last_insert_rowid(lite_tx_conn(tx)->db);
        d->left_time = 0;
        d->left_reason = CORE_LEFT_NONE;
    }
    return rc;
}

store_rc lite_device_present(store_tx *tx, int64_t meeting_id, int64_t user_no, int instanceid,
                              core_device *out)
{
    assert(out != NULL);
    sqlite3_stmt *st = lite_stmt(tx, STMT_DEVICE_PRESENT);
    if (st == NULL)
        return STORE_ERROR;
    int b = sqlite3_bind_int64(st, 1, meeting_id);
    b |= sqlite3_bind_int64(st, 2, user_no);
    b |= sqlite3_bind_int(st, 3, instanceid);
    int rc = lite_row(tx, STMT_DEVICE_PRESENT, st, b);
    if (rc == STORE_OK)
        store_row_device(LITE_ROW(st), 0, out);
    lite_done(tx, STMT_DEVICE_PRESENT, st);
    return rc;
}

/* Two statements, not PostgreSQL's one UPDATE … RETURNING: SQLite
 * materialises RETURNING rows in an ephemeral table, and the one statement
 * cost 2.5 times the SELECT and the UPDATE by rowid together (measured with
 * bench/profile.sh: ~30,000 instructions against ~12,000 a kickout step).
 * No round trips to save here. */
store_rc lite_device_end_present(store_tx *tx, int64_t meeting_id, int64_t user_no,
                                 int instanceid, int64_t left_time, int left_reason,
                                 core_device *out)
{
    store_rc rc = lite_device_present(tx, meeting_id, user_no, instanceid, out);
    if (rc == STORE_OK)
        rc = lite_device_end(tx, out->device_no, left_time, left_reason);
    if (rc == STORE_OK) {
        out->left_time = left_time;
        out->left_reason = left_reason;
    }
    return rc;
}

store_rc lite_device_end(store_tx *tx, int64_t device_no, int64_t left_time, int left_reason)
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_DEVICE_END);
    if (st == NULL)
        return STORE_ERROR;
    int b = sqlite3_bind_int64(st, 1, device_no);
    b |= sqlite3_bind_int64(st, 2, left_time);
    b |= sqlite3_bind_int(st, 3, left_reason);
    int64_t n = 0;
    int rc = lite_exec(tx, STMT_DEVICE_END, st, b, &n);
    return rc == STORE_OK && n == 0 ? STORE_NOTFOUND : rc;
}

struct device_iter {
    store_device_cb cb;
    void *arg;
};

static store_rc device_row(sqlite3_stmt *st, void *ctx)
{
    const struct device_iter *it = ctx;
    core_device d;
    store_row_device(LITE_ROW(st), 0, &d);
    return it->cb(&d, it->arg);
}

store_rc lite_devices_end_all(store_tx *tx, int64_t meeting_id, int64_t left_time, int left_reason,
                               store_device_cb cb, void *arg)
{
    /* cb sees every present session first, then one UPDATE ends them all:
     * rows are never changed under the SELECT that walks them. A nonzero
     * cb stops before anything is ended and is returned (the caller's fn
     * passes it on, rolling back). */
    if (cb != NULL) {
        sqlite3_stmt *st = lite_stmt(tx, STMT_DEVICES_PRESENT_ALL);
        if (st == NULL)
            return STORE_ERROR;
        struct device_iter it = {cb, arg};
        int rc = lite_each(tx, STMT_DEVICES_PRESENT_ALL, st,
                            sqlite3_bind_int64(st, 1, meeting_id), device_row, &it);
        if (rc != STORE_OK)
            return rc;
    }
    sqlite3_stmt *st = lite_stmt(tx, STMT_DEVICES_END_ALL);
    if (st == NULL)
        return STORE_ERROR;
    int b = sqlite3_bind_int64(st, 1, meeting_id);
    b |= sqlite3_bind_int64(st, 2, left_time);
    b |= sqlite3_bind_int(st, 3, left_reason);
    return lite_exec(tx, STMT_DEVICES_END_ALL, st, b, NULL);
}

store_rc lite_device_get(store_tx *tx, int64_t device_no, core_device *out)
{
    assert(out != NULL);
    sqlite3_stmt *st = lite_stmt(tx, STMT_DEVICE_GET);
    if (st == NULL)
        return STORE_ERROR;
    int rc = lite_row(tx, STMT_DEVICE_GET, st, sqlite3_bind_int64(st, 1, device_no));
    if (rc == STORE_OK)
        store_row_device(LITE_ROW(st), 0, out);
    lite_done(tx, STMT_DEVICE_GET, st);
    return rc;
}

/* The session a token issued before schema version 3 belongs to. */
static store_rc lite_legacy_token(store_tx *tx, const uint8_t secret_hash[32], int64_t *device_no)
{
    sqlite3_stmt *st = lite_stmt(tx, STMT_LEGACY_TOKEN);
    if (st == NULL)
        return STORE_ERROR;
    int rc = lite_row(tx, STMT_LEGACY_TOKEN, st,
                       sqlite3_bind_blob(st, 1, secret_hash, 32, SQLITE_STATIC));
    if (rc == STORE_OK)
        *device_no = sqlite3_column_int64(st, 0);
    lite_done(tx, STMT_LEGACY_TOKEN, st);
    return rc;
}

store_rc lite_device_by_token(store_tx *tx, int64_t device_no, const uint8_t secret_hash[32],
                               core_device *out)
{
    assert(secret_hash != NULL && out != NULL);
    if (device_no == 0) {
        int rc = lite_legacy_token(tx, secret_hash, &device_no);
        if (rc != STORE_OK)
            return rc;
    }
    sqlite3_stmt *st = lite_stmt(tx, STMT_DEVICE_PRESENT_NO);
    if (st == NULL)
        return STORE_ERROR;
    int rc = lite_row(tx, STMT_DEVICE_PRESENT_NO, st, sqlite3_bind_int64(st, 1, device_no));
    if (rc == STORE_OK)
        store_row_device(LITE_ROW(st), 0, out);
    lite_done(tx, STMT_DEVICE_PRESENT_NO, st);
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
    int n;                     /* rows seen */
    int64_t last_no;           /* the last one's session */
};

static store_rc participant_row(sqlite3_stmt *st, void *ctx)
{
    struct participant_iter *it = ctx;
    store_participant p;
    store_row_participant(LITE_ROW(st), 0, &p);
    it->n++;
    it->last_no = p.device_no;
    return it->cb(&p, it->arg);
}

/* The participants statements' common parameters: ?1 the meeting, ?2 the
 * occurrence (unless sub_meeting_id is -1), ?3 how many (a page's size, or
 * the sessions skipped), ?4 the offset or the session to start after. */
static int participants_bind(sqlite3_stmt *st, int64_t meeting_id, int64_t sub_meeting_id,
                             int64_t count, int64_t from)
{
    int b = sqlite3_bind_int64(st, 1, meeting_id);
    if (sub_meeting_id != -1)
        b |= sqlite3_bind_int64(st, 2, sub_meeting_id);
    b |= sqlite3_bind_int64(st, 3, count);
    b |= sqlite3_bind_int64(st, 4, from);
    return b;
}

/* One page by statement id (parameters as participants_bind's). */
static store_rc participants_page(store_tx *tx, enum lite_stmt_id id, int64_t meeting_id,
                                  int64_t sub_meeting_id, int size, int64_t from,
                                  struct participant_iter *it)
{
    sqlite3_stmt *st = lite_stmt(tx, id);
    if (st == NULL)
        return STORE_ERROR;
    return lite_each(tx, id, st, participants_bind(st, meeting_id, sub_meeting_id, size, from),
                      participant_row, it);
}

/* The session remembered at pos - 1 (sqlite/pages.c), if the table has one
 * and it is still this meeting's (and occurrence's): STORE_NOTFOUND when
 * not. */
static store_rc participants_hint(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id,
                                  int64_t pos, int64_t *before_no)
{
    int64_t n = 0;
    if (!lite_pages_get(lite_tx_conn(tx)->pages, meeting_id, sub_meeting_id, pos, before_no))
        return STORE_NOTFOUND;
    sqlite3_stmt *st = lite_stmt(tx, STMT_PART_SESSION_OF);
    if (st == NULL)
        return STORE_ERROR;
    int b = sqlite3_bind_int64(st, 1, *before_no);
    b |= sqlite3_bind_int64(st, 2, meeting_id);
    b |= sqlite3_bind_int64(st, 3, sub_meeting_id);
    int rc = lite_count(tx, STMT_PART_SESSION_OF, st, b, &n);
    if (rc != STORE_OK || n != 1)
        return rc != STORE_OK ? rc : STORE_NOTFOUND;
    return STORE_OK;
}

/* The session `skip` sessions after session after_no (0: from the first),
 * on the index alone: STORE_NOTFOUND when the meeting has fewer. */
static store_rc participants_nth(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id,
                                 int64_t after_no, int64_t skip, int64_t *out_no)
{
    enum lite_stmt_id id = sub_meeting_id == -1 ? STMT_PART_NTH_ALL : STMT_PART_NTH_SUB;
    sqlite3_stmt *st = lite_stmt(tx, id);
    if (st == NULL)
        return STORE_ERROR;
    int rc = lite_row(tx, id, st, participants_bind(st, meeting_id, sub_meeting_id, skip,
                                                     after_no));
    if (rc == STORE_OK)
        *out_no = sqlite3_column_int64(st, 0);
    lite_done(tx, id, st);
    return rc;
}

/* Where a page jumped to starts, when no page ended right before it:
 * SQLite reaches an offset only by stepping over every session before it,
 * so a meeting's positions that are multiples of LITE_PAGE_STRIDE are
 * remembered too (in the same table), each found from the one below it.
 * The first jump deep into a meeting steps over what lies before it once,
 * leaving those marks; any later jump below the deepest mark steps over
 * fewer than a stride and a page. A jump short of the first mark steps
 * over pos - 1 entries of the index: fewer than a stride, and no row or
 * user read for them. Sets *before_no to the session at pos - 1 (pos > 0).
 * pos is below the number of sessions (store_participants_list answers
 * anything further out without coming here), so each loop runs at most
 * sessions / LITE_PAGE_STRIDE times, whatever number the client sent. */
#define LITE_PAGE_STRIDE 1024

static store_rc participants_jump(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id,
                                  int64_t pos, int64_t *before_no)
{
    assert(pos > 0);
    int64_t top = pos / LITE_PAGE_STRIDE * LITE_PAGE_STRIDE;
    int64_t at = top, no = 0;
    int rc = STORE_NOTFOUND;
    /* The deepest mark at or below pos that is still right (0: none). */
    for (; at > 0; at -= LITE_PAGE_STRIDE) {
        rc = participants_hint(tx, meeting_id, sub_meeting_id, at, &no);
        if (rc != STORE_NOTFOUND)
            break;
    }
    if (rc != STORE_OK && rc != STORE_NOTFOUND)
        return rc;
    if (at == 0)
        no = 0;
    /* The marks missing up to the one below pos, each from the last. */
    while (at < top) {
        rc = participants_nth(tx, meeting_id, sub_meeting_id, no, LITE_PAGE_STRIDE - 1, &no);
        if (rc != STORE_OK)
            return rc;
        at += LITE_PAGE_STRIDE;
        lite_pages_put(lite_tx_conn(tx)->pages, meeting_id, sub_meeting_id, at, no);
    }
    if (pos > at) {
        rc = participants_nth(tx, meeting_id, sub_meeting_id, no, pos - at - 1, &no);
        if (rc != STORE_OK)
            return rc;
    }
    *before_no = no;
    return STORE_OK;
}

/* The number of sessions of the meeting (sub_meeting_id -1) or of one
 * occurrence, from session_counts: one row per occurrence, whatever the
 * number of sessions. */
static store_rc participants_count(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id,
                                   int64_t *count)
{
    bool all = sub_meeting_id == -1;
    enum lite_stmt_id id = all ? STMT_PART_COUNT_ALL : STMT_PART_COUNT_SUB;
    sqlite3_stmt *st = lite_stmt(tx, id);
    if (st == NULL)
        return STORE_ERROR;
    int b = sqlite3_bind_int64(st, 1, meeting_id);
    if (!all)
        b |= sqlite3_bind_int64(st, 2, sub_meeting_id);
    return lite_count(tx, id, st, b, count);
}

store_rc lite_participants_list(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id,
                                 int64_t pos, int size, store_participant_cb cb, void *arg,
                                 int64_t *total)
{
    assert(cb != NULL || size <= 0);
    bool all = sub_meeting_id == -1;
    lite_page(&pos, &size);

    /* Counted whether or not the caller wants the total: pos is the
     * client's number, and everything below walks towards it (marks a
     * stride apart, then an offset on the index). Past the last session
     * the page is empty and nothing is walked, so no page costs more than
     * the meeting's own sessions, however far out pos lies. */
    int64_t count = 0;
    int rc = participants_count(tx, meeting_id, sub_meeting_id, &count);
    if (rc != STORE_OK)
        return rc;
    if (total != NULL)
        *total = count;
    if (size == 0 || pos >= count)
        return STORE_OK;

    /* Every page is read after a session number (0: from the first), so
     * the sessions before it are stepped over on the index alone, never
     * joined to their users and dropped as an OFFSET would. */
    int64_t before_no = 0;
    if (pos > 0) {
        rc = participants_hint(tx, meeting_id, sub_meeting_id, pos, &before_no);
        if (rc == STORE_NOTFOUND) {
            rc = participants_jump(tx, meeting_id, sub_meeting_id, pos, &before_no);
            /* No session at pos - 1: the page is past the end, and empty. */
            if (rc == STORE_NOTFOUND)
                return STORE_OK;
        }
        if (rc != STORE_OK)
            return rc;
    }
    struct participant_iter it = {cb, arg, 0, 0};
    rc = participants_page(tx, all ? STMT_PART_AFTER_ALL : STMT_PART_AFTER_SUB, meeting_id,
                           sub_meeting_id, size, before_no, &it);
    /* Where the next page starts, for whoever asks for it. */
    if (rc == STORE_OK && it.n > 0)
        lite_pages_put(lite_tx_conn(tx)->pages, meeting_id, sub_meeting_id, pos + it.n,
                       it.last_no);
    return rc;
}

/* A filtered page: count what matches, then read the page with LIMIT and
 * OFFSET. A span has no index on join time, so both walk the occurrence's
 * sessions (devices_by_sub); the present ones walk devices_present_by_no,
 * the meeting's present sessions in join order (schema 12). Either way the
 * count walks as many as the filter's index gives, the page at most that
 * many, in order, with no sort; the sessions an OFFSET skips are still
 * joined to their users before they are dropped. That bound is the data's,
 * never the client's: pos beyond the count returns before the page is
 * read, and the span [from, to] only narrows what is counted. No position
 * marks are kept (they would be per span, and presence changes): a
 * filtered list is a bounded scan, not a walk towards a number the client
 * chose. */
static store_rc participants_filtered(store_tx *tx, enum lite_stmt_id count_id,
                                      enum lite_stmt_id list_id, int64_t meeting_id,
                                      int64_t sub_meeting_id, int64_t from, int64_t to,
                                      int64_t pos, int size, store_participant_cb cb, void *arg,
                                      int64_t *total)
{
    assert(cb != NULL || size <= 0);
    lite_page(&pos, &size);
    bool span = count_id == STMT_PART_SPAN_COUNT;
    int64_t count = 0;
    sqlite3_stmt *st = lite_stmt(tx, count_id);
    if (st == NULL)
        return STORE_ERROR;
    int b = sqlite3_bind_int64(st, 1, meeting_id);
    b |= sqlite3_bind_int64(st, 2, sub_meeting_id);
    if (span) {
        b |= sqlite3_bind_int64(st, 5, from);
        b |= sqlite3_bind_int64(st, 6, to);
    }
    int rc = lite_count(tx, count_id, st, b, &count);
    if (rc != STORE_OK)
        return rc;
    if (total != NULL)
        *total = count;
    if (size == 0 || pos >= count)
        return STORE_OK;
    st = lite_stmt(tx, list_id);
    if (st == NULL)
        return STORE_ERROR;
    /* participants_bind leaves ?2 unbound for -1; these statements test it. */
    b = participants_bind(st, meeting_id, sub_meeting_id, size, pos);
    if (sub_meeting_id == -1)
        b |= sqlite3_bind_int64(st, 2, -1);
    if (span) {
        b |= sqlite3_bind_int64(st, 5, from);
        b |= sqlite3_bind_int64(st, 6, to);
    }
    struct participant_iter it = {cb, arg, 0, 0};
    return lite_each(tx, list_id, st, b, participant_row, &it);
}

store_rc lite_participants_between(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id,
                                    int64_t from, int64_t to, int64_t pos, int size,
                                    store_participant_cb cb, void *arg, int64_t *total)
{
    assert(sub_meeting_id >= 0);
    return participants_filtered(tx, STMT_PART_SPAN_COUNT, STMT_PART_SPAN_LIST, meeting_id,
                                 sub_meeting_id, from, to, pos, size, cb, arg, total);
}

store_rc lite_present_list(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id, int64_t pos,
                            int size, store_participant_cb cb, void *arg, int64_t *total)
{
    return participants_filtered(tx, STMT_PRESENT_COUNT, STMT_PRESENT_LIST, meeting_id,
                                 sub_meeting_id, 0, 0, pos, size, cb, arg, total);
}
