/* The decoders of the column lists (columns.h): one per list, for every
 * backend. */
#include "store/columns.h"

#include <string.h>

#define ROW_TEXT(r, col, arr) (r)->text((r), (col), (arr), sizeof(arr))

void store_row_device(const store_row *r, int col, core_device *d)
{
    memset(d, 0, sizeof *d);
    d->device_no = r->num(r, col);
    d->meeting_id = r->num(r, col + 1);
    d->sub_meeting_id = r->num(r, col + 2);
    d->user_no = r->num(r, col + 3);
    d->instanceid = (int)r->num(r, col + 4);
    d->join_time = r->num(r, col + 5);
    d->left_time = r->num(r, col + 6);           /* NULL reads as 0 */
    d->left_reason = (int)r->num(r, col + 7);
    r->bytes(r, col + 8, d->token_hash, sizeof d->token_hash);
}

void store_row_user(const store_row *r, int col, core_user *u)
{
    memset(u, 0, sizeof *u);
    u->user_no = r->num(r, col);
    ROW_TEXT(r, col + 1, u->userid);
    ROW_TEXT(r, col + 2, u->guest_id);
    ROW_TEXT(r, col + 3, u->uuid);
    ROW_TEXT(r, col + 4, u->ms_open_id);
    ROW_TEXT(r, col + 5, u->nick_name);
    u->cohost = r->num(r, col + 6) != 0;
}

void store_row_participant(const store_row *r, int col, store_participant *p)
{
    p->device_no = r->num(r, col);
    p->instanceid = (int)r->num(r, col + 1);
    p->join_time = r->num(r, col + 2);
    p->left_time = r->num(r, col + 3);           /* NULL reads as 0 */
    p->userid = r->str(r, col + 4);
    p->guest_id = r->str(r, col + 5);
    p->uuid = r->str(r, col + 6);
    p->ms_open_id = r->str(r, col + 7);
    p->nick_name = r->str(r, col + 8);
    p->cohost = r->num(r, col + 9) != 0;
}

void store_row_webhook(const store_row *r, int col, store_webhook *w)
{
    memset(w, 0, sizeof *w);
    w->webhook_id = r->num(r, col);
    ROW_TEXT(r, col + 1, w->app_id);
    ROW_TEXT(r, col + 2, w->url);
    ROW_TEXT(r, col + 3, w->token);
    w->created_at = r->num(r, col + 4);
}

void store_row_delivery(const store_row *r, int col, store_delivery *d)
{
    memset(d, 0, sizeof *d);
    d->delivery_id = r->num(r, col);
    d->webhook_id = r->num(r, col + 1);
    ROW_TEXT(r, col + 2, d->app_id);
    ROW_TEXT(r, col + 3, d->event);
    d->created_at = r->num(r, col + 4);
    d->attempts = (int)r->num(r, col + 5);
    d->next_attempt_at = r->num(r, col + 6);
    d->status = (int)r->num(r, col + 7);
    d->last_http_status = (int)r->num(r, col + 8);
    ROW_TEXT(r, col + 9, d->last_error);
    d->delivered_at = r->num(r, col + 10);
}

void store_row_app(const store_row *r, int col, store_app *a)
{
    memset(a, 0, sizeof *a);
    ROW_TEXT(r, col, a->app_id);
    ROW_TEXT(r, col + 1, a->sdk_id);
    ROW_TEXT(r, col + 2, a->name);
    a->created_at = r->num(r, col + 3);
}

void store_row_key(const store_row *r, int col, store_key *k)
{
    memset(k, 0, sizeof *k);
    ROW_TEXT(r, col, k->secret_id);
    ROW_TEXT(r, col + 1, k->secret_key);
    ROW_TEXT(r, col + 2, k->app_id);
    k->created_at = r->num(r, col + 3);
}

void store_row_audit(const store_row *r, int col, core_audit *a)
{
    memset(a, 0, sizeof *a);
    a->audit_no = r->num(r, col);
    a->meeting_id = r->num(r, col + 1);
    a->sub_meeting_id = r->num(r, col + 2);
    a->time = r->num(r, col + 3);
    ROW_TEXT(r, col + 4, a->request_id);
    ROW_TEXT(r, col + 5, a->action);
    ROW_TEXT(r, col + 6, a->op_userid);
    ROW_TEXT(r, col + 7, a->op_uuid);
    ROW_TEXT(r, col + 8, a->op_ms_open_id);
    a->op_instanceid = (int)r->num(r, col + 9);
    ROW_TEXT(r, col + 10, a->target_userid);
    ROW_TEXT(r, col + 11, a->target_guest_id);
    ROW_TEXT(r, col + 12, a->target_uuid);
    ROW_TEXT(r, col + 13, a->target_ms_open_id);
    a->target_instanceid = (int)r->num(r, col + 14);
    a->allow_rejoin = r->num(r, col + 15) != 0;
    ROW_TEXT(r, col + 16, a->reason);
}

void store_row_event(const store_row *r, int col, store_event *e)
{
    memset(e, 0, sizeof *e);
    e->event_no = r->num(r, col);
    e->meeting_id = r->num(r, col + 1);
    e->device_no = r->num(r, col + 2);           /* NULL reads as 0 */
    ROW_TEXT(r, col + 3, e->type);
    e->created_at = r->num(r, col + 4);
}

void store_row_meeting(const store_row *r, int col, core_meeting *m)
{
    m->meeting_id = r->num(r, col);
    ROW_TEXT(r, col + 1, m->app_id);
    ROW_TEXT(r, col + 2, m->meeting_code);
    ROW_TEXT(r, col + 3, m->subject);
    ROW_TEXT(r, col + 4, m->creator_userid);
    m->creator_instanceid = (int)r->num(r, col + 5);
    m->type = (int)r->num(r, col + 6);
    m->meeting_type = (int)r->num(r, col + 7);
    m->start_time = r->num(r, col + 8);
    m->end_time = r->num(r, col + 9);
    m->status = (int)r->num(r, col + 10);
    m->rule.recurring_type = (int)r->num(r, col + 11);
    m->rule.until_type = (int)r->num(r, col + 12);
    m->rule.until_count = (int)r->num(r, col + 13);
    m->rule.until_date = r->num(r, col + 14);
    m->created_at = r->num(r, col + 15);
}

store_rc store_meetings_walk_row(store_meetings_walk *w, const store_row *r)
{
    int64_t id = r->num(r, 0), start = r->num(r, 1);
    if (start != w->last_start || w->same_start < 0)
        w->same_start = 0;
    w->last_start = start;
    int64_t before = w->same_start++;
    if (start == w->from && before < w->skip)
        return STORE_OK;
    if (w->taken < w->limit) {
        w->taken++;
        return w->cb(id, w->arg);
    }
    if (w->remaining++ == 0) {
        w->next_from = start;
        w->next_skip = before;
    }
    return STORE_OK;
}
