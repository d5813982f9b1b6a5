/* GET /v1/meetings/{meetingId}/participants: a page of a meeting's (or an
 * occurrence's) device sessions in join order, read and encoded in one
 * read transaction.
 * GET /v1/meetings/{meetingId}/real_time_participants (and the SDK's
 * spelling, real-time-participants): the devices present now, paged from 1.
 *
 * Both name their operator by userid (operator_id with operator_id_type 1;
 * the history list also takes the older ?userid=) or by rooms_id
 * (operator_id_type 3: an MRA device present in the meeting, as a query
 * takes it), and both admit the creator, a host or a co-host
 * (core_viewer_admit), a room when the user behind it is one. Each row
 * carries the fields of Tencent's participant model that meetd knows; the
 * rest (ip, location, network, client version, microphone, camera, screen
 * share, phone hash, open_id, webinar role) are left out, never guessed. */
#include "api/api.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Tencent's documented largest span of a join-time filter. */
#define API_SPAN_MAX (31 * 86400)
/* instanceid 0: joined by telephone (PSTN). */
#define API_INSTANCE_PSTN 0

typedef struct api_plist {
    api_call *c;
    int64_t meeting_id;
    core_id_type op_type;      /* CORE_ID_USERID or CORE_ID_ROOMS_ID */
    char op_id[CORE_OPAQUE_MAX + 1];
    int64_t pos;
    int size;
    bool span;                 /* start_time/end_time given */
    int64_t from, to;
    bool now_only;             /* real-time: present devices */
    int occ;                   /* the occurrence listed (its times), or -1 */
    jtext rows;                /* the page's rows, "{...},{...}", as read */
    int n_rows;
    int64_t total;
    /* Last: not zeroed by api_plist_new (store_meeting_get sets all of it,
     * and nothing reads it unless that succeeded). */
    core_meeting m;
} api_plist;

/* Tencent's join_type: 0 an ordinary PSTN caller, 1 an ordinary VoIP user;
 * its other values (screen-cast companions, the Linux SDK, companion PSTN
 * lines) are kinds of join meetd does not have. A device that joined as
 * instanceid 0 dialled in; every other joined over the network. */
static int api_join_type(int instanceid)
{
    return instanceid == API_INSTANCE_PSTN ? 0 : 1;
}

/* A row's next member's key: the comma and the key as one literal (the
 * row's shape is fixed, so no key needs jtext_key's first-member test). */
#define API_ROW_KEY(t, key) jtext_lit((t), ",\"" key "\":")

static store_rc api_plist_row(const store_participant *u, void *arg)
{
    api_plist *p = arg;
    const store_participant *d = u;
    /* Each row written as JSON text as it is read (the user's fields in
     * the store's row, not copied): no tree per row. */
    jtext *t = &p->rows;
    if (p->n_rows > 0)
        jtext_lit(t, ",{\"ms_open_id\":");
    else
        jtext_lit(t, "{\"ms_open_id\":");
    jtext_str(t, u->ms_open_id);
    API_ROW_KEY(t, "uuid");
    jtext_str(t, u->uuid);
    API_ROW_KEY(t, "user_name");
    jtext_base64(t, u->nick_name);
    API_ROW_KEY(t, "instanceid");
    jtext_int(t, d->instanceid);
    API_ROW_KEY(t, "join_time");
    jtext_decimal(t, d->join_time);
    API_ROW_KEY(t, "join_type");
    jtext_int(t, api_join_type(d->instanceid));
    API_ROW_KEY(t, "user_role");
    jtext_int(t, core_role_of(&p->m, u->userid, u->guest_id, u->cohost));
    /* Guests have no userid: absent rather than "". */
    if (u->userid[0] != '\0') {
        jtext_lit(t, ",\"is_enterprise_user\":true,\"userid\":");
        jtext_str(t, u->userid);
    } else {
        jtext_lit(t, ",\"is_enterprise_user\":false");
    }
    if (u->guest_id[0] != '\0') {
        API_ROW_KEY(t, "guest_id");
        jtext_str(t, u->guest_id);
    }
    if (d->left_time != 0) {
        API_ROW_KEY(t, "left_time");
        jtext_decimal(t, d->left_time);
    }
    jtext_lit(t, "}");
    p->n_rows++;
    return t->failed ? STORE_STOP : STORE_OK;
}

/* The operator: operator_id with operator_id_type 1 (userid) or 3
 * (rooms_id); with legacy, the older ?userid= too (operator_id wins when
 * both are given). */
static meetd_err api_plist_operator(api_call *c, bool legacy, api_plist *p)
{
    return api_query_operator(c,
                              API_OP_USERID | API_OP_ROOMS_ID |
                                  (legacy ? API_OP_LEGACY_USERID : 0),
                              &p->op_type, p->op_id, sizeof p->op_id);
}

/* start_time/end_time: join-time filter as Tencent documents it. Either
 * alone defaults the other (end: now; start: 31 days before now); the span
 * is at most 31 days. Neither: no filter. */
static meetd_err api_plist_span(api_call *c, api_plist *p)
{
    long long from, to;
    if (api_query_int(c, "start_time", 0, INT64_MAX, -1, &from) != ME_OK ||
        api_query_int(c, "end_time", 0, INT64_MAX, -1, &to) != ME_OK)
        return c->err.err;
    if (from < 0 && to < 0)
        return ME_OK;
    if (to < 0)
        to = c->now;
    if (from < 0)
        from = c->now > API_SPAN_MAX ? c->now - API_SPAN_MAX : 0;
    if (from > to)
        return api_fail(c, ME_INVALID, "start_time must not be after end_time");
    if (to - from > API_SPAN_MAX)
        return api_fail(c, ME_INVALID, "start_time to end_time may span at most 31 days");
    p->span = true;
    p->from = from;
    p->to = to;
    return ME_OK;
}

/* Which sessions a list reads (*sub: 0 a one-off meeting's, -1 every
 * occurrence's) and which occurrence it describes (p->occ): the one
 * sub_meeting_id names, else the current one. */
static meetd_err api_plist_sub(api_plist *p, int64_t *sub)
{
    api_call *c = p->c;
    const char *given = c->query(c->io, "sub_meeting_id");
    *sub = 0;
    p->occ = -1;
    if (p->m.meeting_type == 0)
        return ME_OK;
    if (given != NULL && *given != '\0') {
        for (int i = 0; i < p->m.n_occ; i++) {
            char buf[24];
            snprintf(buf, sizeof buf, "%lld", (long long)p->m.occ[i].sub_meeting_id);
            if (strcmp(buf, given) == 0) {
                *sub = p->m.occ[i].sub_meeting_id;
                p->occ = i;
                return ME_OK;
            }
        }
        return api_fail(c, ME_INVALID, "no such sub_meeting_id");
    }
    p->occ = core_current_occurrence(&p->m, c->now);
    /* Real time: whichever occurrence its present devices are in. */
    if (p->now_only)
        *sub = -1;
    else
        *sub = p->occ >= 0 ? p->m.occ[p->occ].sub_meeting_id : -1;
    return ME_OK;
}

/* schedule_start_time/schedule_end_time: an occurrence's own scheduled
 * times when the list is of one (a caller paging a later occurrence reads
 * when that one was to be held, not when the series began); else the
 * meeting's. */
static void api_plist_schedule(const api_plist *p, int64_t *start, int64_t *end)
{
    const bool one = p->occ >= 0 && p->occ < p->m.n_occ;
    *start = one ? p->m.occ[p->occ].start_time : p->m.start_time;
    *end = one ? p->m.occ[p->occ].end_time : p->m.end_time;
}

static meetd_err api_plist_tx(store_tx *tx, void *arg)
{
    api_plist *p = arg;
    api_call *c = p->c;
    core_party op;
    if (api_load_meeting(c, tx, p->meeting_id, &p->m) != ME_OK ||
        api_resolve(c, tx, p->meeting_id, p->op_type, p->op_id, &op) != ME_OK ||
        core_viewer_admit(&p->m, p->op_type, p->op_id, &op, &c->err) != ME_OK)
        return c->err.err;
    int64_t sub;
    if (api_plist_sub(p, &sub) != ME_OK)
        return c->err.err;
    /* A rerun starts the page again. */
    p->rows.len = 0;
    p->rows.failed = false;
    p->n_rows = 0;
    int rc;
    if (p->now_only)
        rc = store_present_list(tx, p->meeting_id, sub, p->pos, p->size, api_plist_row, p,
                                &p->total);
    else if (p->span && p->m.meeting_type == 0)
        /* Tencent applies the filter to one-off meetings only (a recurring
         * meeting is paged by occurrence); so does meetd. */
        rc = store_participants_between(tx, p->meeting_id, sub, p->from, p->to, p->pos, p->size,
                                        api_plist_row, p, &p->total);
    else
        rc = store_participants_list(tx, p->meeting_id, sub, p->pos, p->size, api_plist_row, p,
                                     &p->total);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "participants_list");
    return ME_OK;
}

/* Zeroing the meeting's 8 KB (its 200 occurrences' room) that the read
 * overwrites was 3 % of a page's instructions. */
static api_plist *api_plist_new(api_call *c)
{
    api_plist *p = malloc(sizeof *p);
    if (p == NULL) {
        api_fail(c, ME_INTERNAL, NULL);
        return NULL;
    }
    memset(p, 0, offsetof(api_plist, m));
    p->c = c;
    return p;
}

static void api_plist_free(api_plist *p)
{
    jtext_free(&p->rows);
    free(p);
}

/* ,"participants":[rows]} closing the page. */
static void api_plist_end(jtext *t, const api_plist *p)
{
    jtext_key(t, "participants");
    jtext_lit(t, "[");
    if (p->rows.failed)
        t->failed = true;
    else
        jtext_raw(t, p->rows.buf, p->rows.len);
    jtext_lit(t, "]");
    jtext_close(t);
}

void api_participants(api_call *c)
{
    long long pos, size;
    api_plist *p = api_plist_new(c);
    if (p == NULL)
        return;
    if (api_meeting_id(c, &p->meeting_id) != ME_OK ||
        api_plist_operator(c, true, p) != ME_OK ||
        api_query_int(c, "pos", 0, INT64_MAX, 0, &pos) != ME_OK ||
        api_query_int(c, "size", 1, 100, 20, &size) != ME_OK || api_plist_span(c, p) != ME_OK)
        goto out;
    p->pos = pos;
    p->size = (int)size;
    if (api_read(c, api_plist_tx, p) != ME_OK)
        goto out;
    int64_t next = p->pos + p->n_rows, start, end;
    api_plist_schedule(p, &start, &end);
    jtext t = {0};
    jtext_open(&t);
    jtext_key(&t, "meeting_id");
    jtext_decimal(&t, p->meeting_id);
    jtext_key(&t, "meeting_code");
    jtext_str(&t, p->m.meeting_code);
    jtext_key(&t, "subject");
    jtext_str(&t, p->m.subject);
    jtext_key(&t, "schedule_start_time");
    jtext_decimal(&t, start);
    jtext_key(&t, "schedule_end_time");
    jtext_decimal(&t, end);
    jtext_key(&t, "total_count");
    jtext_int(&t, p->total);
    jtext_key(&t, "has_remaining");
    jtext_bool(&t, next < p->total);
    jtext_key(&t, "next_pos");
    jtext_int(&t, next);
    api_plist_end(&t, p);
    api_out_text(c, &t);
    jtext_free(&t);
out:
    api_plist_free(p);
}

/* Tencent's largest real-time page. */
#define API_RT_PAGE_MAX 50
/* page * page_size stays far from overflow; no meeting has that many
 * devices present, so such a page is empty whatever its number. */
#define API_RT_PAGE_LIMIT 1000000000000LL

void api_realtime_participants(api_call *c)
{
    long long page, page_size;
    api_plist *p = api_plist_new(c);
    if (p == NULL)
        return;
    p->now_only = true;
    if (api_meeting_id(c, &p->meeting_id) != ME_OK ||
        api_plist_operator(c, false, p) != ME_OK ||
        api_query_int(c, "page", 1, API_RT_PAGE_LIMIT, -1, &page) != ME_OK ||
        api_query_int(c, "page_size", 1, API_RT_PAGE_MAX, -1, &page_size) != ME_OK)
        goto out;
    if (page < 0 || page_size < 0) {
        api_fail(c, ME_INVALID, "page (from 1) and page_size (1..%d) are required",
                 API_RT_PAGE_MAX);
        goto out;
    }
    p->pos = (page - 1) * page_size;
    p->size = (int)page_size;
    if (api_read(c, api_plist_tx, p) != ME_OK)
        goto out;
    int64_t start, end;
    api_plist_schedule(p, &start, &end);
    jtext t = {0};
    jtext_open(&t);
    jtext_key(&t, "meeting_id");
    jtext_decimal(&t, p->meeting_id);
    jtext_key(&t, "meeting_code");
    jtext_str(&t, p->m.meeting_code);
    jtext_key(&t, "subject");
    jtext_base64(&t, p->m.subject);
    jtext_key(&t, "status");
    jtext_str(&t, api_status_name(core_meeting_status(&p->m, c->now)));
    jtext_key(&t, "schedule_start_time");
    jtext_decimal(&t, start);
    jtext_key(&t, "schedule_end_time");
    jtext_decimal(&t, end);
    jtext_key(&t, "total_count");
    jtext_int(&t, p->total);
    jtext_key(&t, "total_page");
    jtext_int(&t, (p->total + page_size - 1) / page_size);
    jtext_key(&t, "current_page");
    jtext_int(&t, page);
    jtext_key(&t, "current_size");
    jtext_int(&t, p->n_rows);
    api_plist_end(&t, p);
    api_out_text(c, &t);
    jtext_free(&t);
out:
    api_plist_free(p);
}
