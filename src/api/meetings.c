/* /v1/meetings: create and query (cancel and dismiss: meeting_end.c;
 * participants: participants.c). */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "common/ids.h"

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

meetd_err api_parse_hosts(api_call *c, json_t *body, core_meeting *m)
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

meetd_err api_parse_rule(api_call *c, json_t *body, core_meeting *m)
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
