/* /v1/meetings: create, query, cancel, dismiss, participants. */
#include "api/api.h"

#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "common/ids.h"
#include "live/live.h"
#include "live/webhook.h"

#define API_CREATE_TRIES 8
#define API_QUICK_LENGTH 3600

/* ---- response values ---------------------------------------------------- */

static json_t *api_sub_meetings_json(const core_meeting *m)
{
    json_t *arr = json_array();
    for (int i = 0; arr != NULL && i < m->n_occ; i++) {
        const core_occurrence *o = &m->occ[i];
        json_array_append_new(arr, json_pack("{s:o,s:s,s:o,s:o}", "sub_meeting_id",
                                             api_id_json(o->sub_meeting_id), "status",
                                             api_status_name(o->status), "start_time",
                                             api_time_json(o->start_time), "end_time",
                                             api_time_json(o->end_time)));
    }
    return arr;
}

static json_t *api_meeting_json(const core_meeting *m, int64_t now, bool with_status)
{
    json_t *hosts = json_array();
    if (m->n_hosts == 0)
        json_array_append_new(hosts, json_pack("{s:s}", "userid", m->creator_userid));
    for (int i = 0; i < m->n_hosts; i++)
        json_array_append_new(hosts, json_pack("{s:s}", "userid", m->hosts[i]));
    json_t *info = json_pack("{s:s,s:o,s:s,s:i,s:i,s:o,s:o,s:o}", "subject", m->subject,
                             "meeting_id", api_id_json(m->meeting_id), "meeting_code",
                             m->meeting_code, "type", m->type, "meeting_type",
                             m->meeting_type, "hosts", hosts, "start_time",
                             api_time_json(m->start_time), "end_time",
                             api_time_json(m->end_time));
    if (info == NULL)
        return NULL;
    if (with_status)
        json_object_set_new(info, "status", json_string(api_status_name(core_meeting_status(m, now))));
    if (m->meeting_type == 1) {
        json_object_set_new(info, "recurring_rule",
                            json_pack("{s:i,s:i,s:i,s:I}", "recurring_type",
                                      m->rule.recurring_type, "until_type", m->rule.until_type,
                                      "until_count", m->rule.until_count, "until_date",
                                      (json_int_t)m->rule.until_date));
        int cur = core_current_occurrence(m, now);
        if (with_status && cur >= 0)
            json_object_set_new(info, "current_sub_meeting_id",
                                api_id_json(m->occ[cur].sub_meeting_id));
        json_object_set_new(info, "sub_meetings", api_sub_meetings_json(m));
    }
    return info;
}

static json_t *api_meeting_list_json(json_t *info)
{
    return json_pack("{s:i,s:[o]}", "meeting_number", 1, "meeting_info_list", info);
}

/* ---- create ------------------------------------------------------------- */

static meetd_err api_parse_hosts(api_call *c, json_t *body, core_meeting *m)
{
    json_t *hosts = json_object_get(body, "hosts");
    if (hosts == NULL || json_is_null(hosts))
        return ME_OK;
    if (!json_is_array(hosts))
        return api_fail(c, ME_INVALID, "hosts must be an array");
    if (json_array_size(hosts) > CORE_HOSTS_MAX)
        return api_fail(c, ME_INVALID, "at most %d hosts", CORE_HOSTS_MAX);
    size_t i;
    json_t *h;
    json_array_foreach(hosts, i, h) {
        if (!json_is_object(h))
            return api_fail(c, ME_INVALID, "hosts[%zu] must be an object", i);
        if (api_field_str(c, h, "userid", true, m->hosts[i], sizeof m->hosts[i], NULL) != ME_OK)
            return c->err.err;
        m->n_hosts = (int)i + 1;
    }
    return ME_OK;
}

static meetd_err api_parse_rule(api_call *c, json_t *body, core_meeting *m)
{
    json_t *rule = json_object_get(body, "recurring_rule");
    if (rule == NULL || json_is_null(rule))
        return api_fail(c, ME_INVALID, "recurring_rule is required for a recurring meeting");
    if (!json_is_object(rule))
        return api_fail(c, ME_INVALID, "recurring_rule must be an object");
    long long type = 0, until_type = 0, count = 7, date = 0;
    bool has_type = false, has_date = false;
    if (api_field_int(c, rule, "recurring_type", false, &type, NULL) != ME_OK ||
        api_field_int(c, rule, "until_type", false, &until_type, &has_type) != ME_OK ||
        api_field_int(c, rule, "until_count", false, &count, NULL) != ME_OK ||
        api_field_int(c, rule, "until_date", false, &date, &has_date) != ME_OK)
        return c->err.err;
    if (!has_type)
        until_type = has_date ? 0 : 1;
    if (type < 0 || type > 4 || until_type < 0 || until_type > 1)
        return api_fail(c, ME_INVALID, "recurring_type must be 0..4 and until_type 0 or 1");
    if (count < 0 || count > CORE_OCC_MAX)
        return api_fail(c, ME_INVALID, "until_count must be 1..%d", CORE_OCC_MAX);
    if (until_type == 0 && !has_date)
        return api_fail(c, ME_INVALID, "until_date is required when until_type is 0");
    m->rule.recurring_type = (int)type;
    m->rule.until_type = (int)until_type;
    m->rule.until_count = (int)count;
    m->rule.until_date = date;
    return ME_OK;
}

static meetd_err api_parse_meeting(api_call *c, json_t *body, core_meeting *m)
{
    long long instanceid, type, meeting_type = 0;
    bool has_start = false, has_end = false;
    if (api_field_str(c, body, "userid", true, m->creator_userid, sizeof m->creator_userid,
                      NULL) != ME_OK ||
        api_field_int(c, body, "instanceid", true, &instanceid, NULL) != ME_OK ||
        api_field_str(c, body, "subject", true, m->subject, sizeof m->subject, NULL) != ME_OK ||
        api_field_int(c, body, "type", true, &type, NULL) != ME_OK ||
        api_field_time(c, body, "start_time", false, &m->start_time, &has_start) != ME_OK ||
        api_field_time(c, body, "end_time", false, &m->end_time, &has_end) != ME_OK ||
        api_field_int(c, body, "meeting_type", false, &meeting_type, NULL) != ME_OK)
        return c->err.err;
    if (!core_instanceid_valid(instanceid))
        return api_fail(c, ME_INVALID, "unknown instanceid %lld", instanceid);
    if (type != 0 && type != 1)
        return api_fail(c, ME_INVALID, "type must be 0 (scheduled) or 1 (quick)");
    if (meeting_type != 0 && meeting_type != 1)
        return api_fail(c, ME_INVALID, "meeting_type must be 0 (one-off) or 1 (recurring)");
    m->creator_instanceid = (int)instanceid;
    m->type = (int)type;
    m->meeting_type = (int)meeting_type;
    if (type == 1) {
        if (!has_start)
            m->start_time = c->now;
        if (!has_end)
            m->end_time = m->start_time + API_QUICK_LENGTH;
    } else if (!has_start || !has_end) {
        return api_fail(c, ME_INVALID, "start_time and end_time are required");
    }
    if (api_parse_hosts(c, body, m) != ME_OK)
        return c->err.err;
    if (meeting_type == 1 && api_parse_rule(c, body, m) != ME_OK)
        return c->err.err;
    return ME_OK;
}

typedef struct api_create_req {
    api_call *c;
    core_meeting m;
} api_create_req;

static int api_create_tx(store_tx *tx, void *arg)
{
    api_create_req *r = arg;
    api_call *c = r->c;
    core_meeting *m = &r->m;
    for (int i = 0; i < API_CREATE_TRIES; i++) {
        if (ids_meeting_id(&m->meeting_id) != 0 || ids_meeting_code(m->meeting_code) != 0)
            return api_fail(c, ME_INTERNAL, NULL);
        int rc = store_meeting_insert(tx, m);
        if (rc == STORE_OK)
            return ME_OK;
        if (rc != STORE_CONFLICT)
            return api_store_fail(c, rc, "meeting_insert");
    }
    return api_store_fail(c, STORE_CONFLICT, "meeting_insert: ids exhausted");
}

static void api_create_done(api_call *c, void *arg, meetd_err e)
{
    api_create_req *r = arg;
    if (e == ME_OK)
        c->out = api_meeting_list_json(api_meeting_json(&r->m, c->now, false));
    free(r);
}

void api_meeting_create(api_call *c)
{
    json_t *body;
    if (api_body_object(c, &body) != ME_OK)
        return;
    api_create_req *r = calloc(1, sizeof *r);
    if (r == NULL) {
        json_decref(body);
        api_fail(c, ME_INTERNAL, NULL);
        return;
    }
    r->c = c;
    core_meeting *m = &r->m;
    snprintf(m->app_id, sizeof m->app_id, "%s", c->app_id);
    m->created_at = c->now;
    bool ok = api_parse_meeting(c, body, m) == ME_OK &&
              core_meeting_prepare(m, c->now, &c->err) == ME_OK;
    json_decref(body);
    if (!ok) {
        free(r);
        return;
    }
    api_write_then(c, api_create_tx, r, api_create_done);
}

/* ---- query ---------------------------------------------------------------- */

typedef struct api_get_req {
    api_call *c;
    int64_t meeting_id;
    core_meeting m;
    json_t *cohosts;
} api_get_req;

static int api_cohost_row(const core_user *u, void *arg)
{
    json_t *row = json_pack("{s:s,s:s,s:s}", "userid", u->userid, "ms_open_id", u->ms_open_id,
                            "uuid", u->uuid);
    return row != NULL && json_array_append_new(arg, row) == 0 ? 0 : 1;
}

static int api_get_tx(store_tx *tx, void *arg)
{
    api_get_req *r = arg;
    api_call *c = r->c;
    if (api_load_meeting(c, tx, r->meeting_id, &r->m) != ME_OK)
        return c->err.err;
    int rc = store_cohosts_list(tx, r->meeting_id, api_cohost_row, r->cohosts);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "cohosts_list");
    return ME_OK;
}

/* userid and instanceid name who asks, as on Tencent's query. */
static meetd_err api_query_caller(api_call *c)
{
    const char *userid = c->query(c->io, "userid");
    if (userid == NULL || !core_id_valid(userid))
        return api_fail(c, ME_INVALID, "userid is required (1..%d bytes)", CORE_ID_MAX);
    long long instanceid;
    if (api_query_int(c, "instanceid", 0, 64, -1, &instanceid) != ME_OK)
        return c->err.err;
    if (!core_instanceid_valid(instanceid))
        return api_fail(c, ME_INVALID, "instanceid is required and must be a known device type");
    return ME_OK;
}

void api_meeting_get(api_call *c)
{
    api_get_req *r = calloc(1, sizeof *r);
    if (r == NULL) {
        api_fail(c, ME_INTERNAL, NULL);
        return;
    }
    r->c = c;
    r->cohosts = json_array();
    if (api_meeting_id(c, &r->meeting_id) == ME_OK && api_query_caller(c) == ME_OK &&
        api_read(c, api_get_tx, r) == ME_OK) {
        json_t *info = api_meeting_json(&r->m, c->now, true);
        if (info != NULL)
            json_object_set(info, "current_co_hosts", r->cohosts);
        c->out = api_meeting_list_json(info);
    }
    json_decref(r->cohosts);
    free(r);
}

/* ---- cancel and dismiss ------------------------------------------------- */

typedef struct api_end_req {
    api_call *c;
    int64_t meeting_id;
    bool dismiss;
    char userid[CORE_ID_MAX + 1];
    int64_t sub_meeting_id;      /* cancel: 0 = whole meeting */
    core_meeting m;
    store_tx *tx;
    int64_t *ended;              /* sessions ended, told after commit */
    size_t n_ended;
    size_t cap_ended;
    int hooks;                   /* webhook deliveries queued */
} api_end_req;

static int api_end_device(const core_device *d, void *arg)
{
    api_end_req *r = arg;
    core_user u;
    int rc = store_user_by_no(r->tx, d->user_no, &u);
    if (rc == STORE_OK) {
        webhook_event ev = {.type = WEBHOOK_PARTICIPANT_LEFT, .meeting = &r->m,
                            .trace_id = r->c->trace_id, .time_ms = webhook_now_ms(),
                            .user = &u, .instanceid = d->instanceid};
        rc = webhook_enqueue(r->tx, &ev, &r->hooks);
    }
    if (rc != STORE_OK)
        return api_store_fail(r->c, rc, "end_device");
    if (r->n_ended == r->cap_ended) {
        size_t cap = r->cap_ended ? 2 * r->cap_ended : 64;
        int64_t *grown = realloc(r->ended, cap * sizeof *grown);
        if (grown == NULL)
            return api_fail(r->c, ME_INTERNAL, NULL);
        r->ended = grown;
        r->cap_ended = cap;
    }
    r->ended[r->n_ended++] = d->device_no;
    return 0;
}

static int api_end_tx(store_tx *tx, void *arg)
{
    api_end_req *r = arg;
    api_call *c = r->c;
    if (api_load_meeting(c, tx, r->meeting_id, &r->m) != ME_OK)
        return c->err.err;
    /* Cancelling one occurrence ends its devices only if it is under way. */
    int64_t started_sub = -1;
    int64_t sub = 0;
    if (core_require_in_progress(&r->m, c->now, &started_sub, NULL) != ME_OK)
        started_sub = -1;
    if (api_admit_userid(c, tx, r->meeting_id, r->userid) != ME_OK)
        return c->err.err;
    meetd_err e = r->dismiss ? core_dismiss(&r->m, r->userid, c->now, &sub, &c->err)
                             : core_cancel(&r->m, r->userid, r->sub_meeting_id, &c->err);
    if (e != ME_OK)
        return e;
    int rc = store_meeting_update_status(tx, &r->m);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "meeting_update_status");
    bool end_devices = r->dismiss || r->sub_meeting_id == 0 || r->sub_meeting_id == started_sub;
    r->n_ended = 0;
    r->tx = tx;
    if (end_devices) {
        rc = store_devices_end_all(tx, r->meeting_id, c->now, CORE_LEFT_ENDED, api_end_device, r);
        if (rc != STORE_OK)
            return c->err.err != ME_OK ? c->err.err : api_store_fail(c, rc, "devices_end_all");
    }
    return ME_OK;
}

static void api_end_done(api_call *c, void *arg, meetd_err e)
{
    api_end_req *r = arg;
    if (e == ME_OK) {
        if (r->hooks > 0)
            webhook_worker_wake(c->env->hooks);
        for (size_t i = 0; i < r->n_ended; i++)
            live_meeting_ended(c->env->live, r->ended[i], c->now);
    }
    free(r->ended);
    free(r);
}

static void api_meeting_end(api_call *c, bool dismiss)
{
    api_end_req *r = calloc(1, sizeof *r);
    json_t *body = NULL;
    if (r == NULL) {
        api_fail(c, ME_INTERNAL, NULL);
        return;
    }
    r->c = c;
    r->dismiss = dismiss;
    long long instanceid;
    bool has_sub = false;
    if (api_meeting_id(c, &r->meeting_id) != ME_OK || api_body_object(c, &body) != ME_OK ||
        api_field_str(c, body, "userid", true, r->userid, sizeof r->userid, NULL) != ME_OK ||
        api_field_int(c, body, "instanceid", true, &instanceid, NULL) != ME_OK)
        goto out;
    if (!core_instanceid_valid(instanceid)) {
        api_fail(c, ME_INVALID, "unknown instanceid %lld", instanceid);
        goto out;
    }
    long long reason_code;
    if (api_field_int(c, body, "reason_code", false, &reason_code, NULL) != ME_OK)
        goto out;
    if (!dismiss &&
        api_field_time(c, body, "sub_meeting_id", false, &r->sub_meeting_id, &has_sub) != ME_OK)
        goto out;
    if (!core_id_valid(r->userid)) {
        api_fail(c, ME_INVALID, "userid must be 1..%d bytes", CORE_ID_MAX);
        goto out;
    }
    json_decref(body);
    api_write_then(c, api_end_tx, r, api_end_done);
    return;
out:
    json_decref(body);
    free(r->ended);
    free(r);
}

void api_meeting_cancel(api_call *c) { api_meeting_end(c, false); }
void api_meeting_dismiss(api_call *c) { api_meeting_end(c, true); }

/* ---- participants ---------------------------------------------------------- */

typedef struct api_plist {
    api_call *c;
    int64_t meeting_id;
    const char *userid;
    int64_t pos;
    int size;
    core_meeting m;
    json_t *rows;
    int64_t total;
} api_plist;

static json_t *api_base64_json(const char *s)
{
    size_t len = strlen(s);
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out == NULL)
        return NULL;
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)len);
    json_t *v = json_string(out);
    free(out);
    return v;
}

static int api_plist_row(const core_device *d, const core_user *u, void *arg)
{
    api_plist *p = arg;
    /* One object per session on the page: set field by field rather than
     * through json_pack, whose format is parsed again for every row. The
     * keys are literals; the values are checked as json_pack would. */
    json_t *row = json_object();
    if (row == NULL)
        return 1;
    int bad = json_object_set_new_nocheck(row, "userid", json_string(u->userid)) |
              json_object_set_new_nocheck(row, "uuid", json_string(u->uuid)) |
              json_object_set_new_nocheck(row, "ms_open_id", json_string(u->ms_open_id)) |
              json_object_set_new_nocheck(row, "user_name", api_base64_json(u->nick_name)) |
              json_object_set_new_nocheck(row, "instanceid", json_integer(d->instanceid)) |
              json_object_set_new_nocheck(row, "join_time", api_time_json(d->join_time)) |
              json_object_set_new_nocheck(row, "user_role",
                                          json_integer(core_user_role(&p->m, u)));
    if (u->guest_id[0])
        bad |= json_object_set_new_nocheck(row, "guest_id", json_string(u->guest_id));
    if (d->left_time != 0)
        bad |= json_object_set_new_nocheck(row, "left_time", api_time_json(d->left_time));
    if (bad != 0) {
        json_decref(row);
        return 1;
    }
    return json_array_append_new(p->rows, row) != 0;
}

static meetd_err api_plist_sub(api_plist *p, int64_t *sub)
{
    api_call *c = p->c;
    const char *given = c->query(c->io, "sub_meeting_id");
    *sub = 0;
    if (p->m.meeting_type == 0)
        return ME_OK;
    if (given != NULL && *given != '\0') {
        for (int i = 0; i < p->m.n_occ; i++) {
            char buf[24];
            snprintf(buf, sizeof buf, "%lld", (long long)p->m.occ[i].sub_meeting_id);
            if (strcmp(buf, given) == 0) {
                *sub = p->m.occ[i].sub_meeting_id;
                return ME_OK;
            }
        }
        return api_fail(c, ME_INVALID, "no such sub_meeting_id");
    }
    int cur = core_current_occurrence(&p->m, c->now);
    *sub = cur >= 0 ? p->m.occ[cur].sub_meeting_id : -1;
    return ME_OK;
}

static int api_plist_tx(store_tx *tx, void *arg)
{
    api_plist *p = arg;
    api_call *c = p->c;
    if (api_load_meeting(c, tx, p->meeting_id, &p->m) != ME_OK)
        return c->err.err;
    if (api_admit_userid(c, tx, p->meeting_id, p->userid) != ME_OK)
        return c->err.err;
    if (!core_is_creator(&p->m, p->userid) && !core_is_host(&p->m, p->userid))
        return api_fail(c, ME_FORBIDDEN, "only the creator or a host may list participants");
    int64_t sub;
    if (api_plist_sub(p, &sub) != ME_OK)
        return c->err.err;
    int rc = store_participants_list(tx, p->meeting_id, sub, p->pos, p->size, api_plist_row, p,
                                     &p->total);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "participants_list");
    return ME_OK;
}

void api_participants(api_call *c)
{
    long long pos, size;
    api_plist *p = calloc(1, sizeof *p);
    if (p == NULL) {
        api_fail(c, ME_INTERNAL, NULL);
        return;
    }
    p->c = c;
    p->userid = c->query(c->io, "userid");
    if (api_meeting_id(c, &p->meeting_id) != ME_OK)
        goto out;
    if (p->userid == NULL || !core_id_valid(p->userid)) {
        api_fail(c, ME_INVALID, "userid is required (1..%d bytes)", CORE_ID_MAX);
        goto out;
    }
    if (api_query_int(c, "pos", 0, INT64_MAX, 0, &pos) != ME_OK ||
        api_query_int(c, "size", 1, 100, 20, &size) != ME_OK)
        goto out;
    p->pos = pos;
    p->size = (int)size;
    p->rows = json_array();
    if (api_read(c, api_plist_tx, p) != ME_OK)
        goto out;
    int64_t next = p->pos + (int64_t)json_array_size(p->rows);
    c->out = json_pack("{s:o,s:s,s:s,s:o,s:o,s:I,s:b,s:I,s:O}", "meeting_id",
                       api_id_json(p->meeting_id), "meeting_code", p->m.meeting_code, "subject",
                       p->m.subject, "schedule_start_time", api_time_json(p->m.start_time),
                       "schedule_end_time", api_time_json(p->m.end_time), "total_count",
                       (json_int_t)p->total, "has_remaining", next < p->total, "next_pos",
                       (json_int_t)next, "participants", p->rows);
out:
    json_decref(p->rows);
    free(p);
}
