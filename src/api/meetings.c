/* /v1/meetings: create, query (by id, by meeting_code) and a user's list
 * (cancel and dismiss: meeting_end.c; participants: participants.c), and
 * the page a meeting's join_url names.
 *
 * A meeting is described the same way wherever it appears (api_meeting_info:
 * create, query, list; field by field as Tencent's SDK models declare them,
 * docs/api.md). What meetd cannot know truthfully (a password it does not
 * keep, settings it does not hold, invitees) is absent, never invented. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "common/ids.h"

#define API_CREATE_TRIES 8
#define API_QUICK_LENGTH 3600
/* Tencent's page of a user's meetings: at most 20. */
#define API_LIST_PAGE 20
#define API_JOIN_PREFIX "/meetd/v1/j/"

/* ---- response values ---------------------------------------------------- */

/* Whether host is host[:port] as a URL's authority writes it without user
 * info: a name or IPv4 address of letters, digits, '.' and '-', or an IPv6
 * address in brackets (hex digits, ':' and '.'), then at most a ':' and 1..5
 * digits. Characters alone would let "[:]:[]" or "a:b:c" through, which
 * make no URL. */
static bool api_host_valid(const char *host)
{
    const char *p = host;
    if (*p == '[') {
        const char *close = strchr(p, ']');
        if (close == NULL || close - p < 3 || memchr(p, ':', (size_t)(close - p)) == NULL)
            return false;
        p++;
        if (strspn(p, "0123456789abcdefABCDEF:.") != (size_t)(close - p))
            return false;
        p = close + 1;
    } else {
        size_t n = strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "0123456789.-");
        if (n == 0)
            return false;
        p += n;
    }
    if (*p == '\0')
        return true;
    if (*p++ != ':')
        return false;
    size_t digits = strspn(p, "0123456789");
    return digits >= 1 && digits <= 5 && p[digits] == '\0';
}

/* The address the caller reached meetd at, as its Host header says (meetd
 * serves plain HTTP; a TLS front names itself in Host too, but its scheme
 * cannot be known here). A Host that is not a host and port is not echoed:
 * the join_url is then the path alone, which still resolves against the
 * address the caller used. */
static void api_base_url(api_call *c, char *out, size_t cap)
{
    const char *host = c->header(c->io, "Host");
    out[0] = '\0';
    if (host == NULL || strlen(host) > 255 || !api_host_valid(host))
        return;
    snprintf(out, cap, "http://%s", host);
}

json_t *api_join_url_json(api_call *c, const core_meeting *m)
{
    char base[300];
    api_base_url(c, base, sizeof base);
    return json_sprintf("%s" API_JOIN_PREFIX "%s", base, m->meeting_code);
}

/* Tencent's sub_meetings[].status: 0 the occurrence exists, 1 deleted
 * (cancelled). meetd's finer state goes beside it, in sub_meeting_state. */
static json_t *api_sub_meeting_json(const core_occurrence *o)
{
    return json_pack("{s:o,s:i,s:o,s:o,s:s}", "sub_meeting_id", api_id_json(o->sub_meeting_id),
                     "status", o->status == CORE_ST_CANCELLED ? 1 : 0, "start_time",
                     api_time_json(o->start_time), "end_time", api_time_json(o->end_time),
                     "sub_meeting_state", api_status_name(o->status));
}

static json_t *api_host_json(const char *userid)
{
    return json_pack("{s:s,s:i,s:s}", "operator_id", userid, "operator_id_type",
                     CORE_ID_USERID, "userid", userid);
}

/* The fields of a recurring meeting that let a caller find an occurrence:
 * current_sub_meeting_id (the one in progress, else the next to be held),
 * sub_meetings[] (every one, or with first_sub only the current one, as
 * Tencent's list does by default), has_more_sub_meeting (1 when
 * sub_meetings[] leaves some out) and remain_sub_meetings (occurrences
 * neither ended nor cancelled). */
static int api_recurring_json(json_t *info, const core_meeting *m, int64_t now, bool first_sub)
{
    int cur = core_current_occurrence(m, now);
    int remain = 0;
    for (int i = 0; i < m->n_occ; i++)
        remain += m->occ[i].status == CORE_ST_INIT || m->occ[i].status == CORE_ST_STARTED;
    json_t *subs = json_array();
    int shown = 0;
    for (int i = 0; subs != NULL && i < m->n_occ; i++) {
        if (first_sub && i != (cur >= 0 ? cur : 0))
            continue;
        /* One left out would read as has_more_sub_meeting: fail whole. */
        if (json_array_append_new(subs, api_sub_meeting_json(&m->occ[i])) != 0) {
            json_decref(subs);
            subs = NULL;
        }
        shown++;
    }
    int rc = json_object_set_new(info, "recurring_rule",
                                 json_pack("{s:i,s:i,s:i,s:I}", "recurring_type",
                                           m->rule.recurring_type, "until_type",
                                           m->rule.until_type, "until_count",
                                           m->rule.until_count, "until_date",
                                           (json_int_t)m->rule.until_date));
    if (cur >= 0)
        rc |= json_object_set_new(info, "current_sub_meeting_id",
                                  api_id_json(m->occ[cur].sub_meeting_id));
    rc |= json_object_set_new(info, "sub_meetings", subs);
    rc |= json_object_set_new(info, "has_more_sub_meeting", json_integer(shown < m->n_occ));
    rc |= json_object_set_new(info, "remain_sub_meetings", json_integer(remain));
    return rc;
}

json_t *api_meeting_info(api_call *c, const core_meeting *m, unsigned flags)
{
    json_t *hosts = json_array();
    int bad = m->n_hosts == 0 ? json_array_append_new(hosts, api_host_json(m->creator_userid))
                              : 0;
    for (int i = 0; i < m->n_hosts; i++)
        bad |= json_array_append_new(hosts, api_host_json(m->hosts[i]));
    if (bad != 0) {
        json_decref(hosts);
        hosts = NULL;           /* json_pack then fails: no meeting without them */
    }
    json_t *info = json_pack("{s:s,s:o,s:s,s:i,s:i,s:o,s:o,s:o,s:o}", "subject", m->subject,
                             "meeting_id", api_id_json(m->meeting_id), "meeting_code",
                             m->meeting_code, "type", m->type, "meeting_type",
                             m->meeting_type, "hosts", hosts, "start_time",
                             api_time_json(m->start_time), "end_time",
                             api_time_json(m->end_time), "join_url", api_join_url_json(c, m));
    if (info == NULL)
        return NULL;
    int rc = 0;
    if (flags & API_INFO_STATUS)
        rc |= json_object_set_new(info, "status",
                                  json_string(api_status_name(core_meeting_status(m, c->now))));
    if (m->meeting_type == 1)
        rc |= api_recurring_json(info, m, c->now, (flags & API_INFO_FIRST_SUB) != 0);
    if (rc != 0) {
        json_decref(info);
        return NULL;
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

static meetd_err api_create_tx(store_tx *tx, void *arg)
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
        api_out(c, api_meeting_list_json(api_meeting_info(c, &r->m, 0)));
    free(r);
}

void api_meeting_create(api_call *c)
{
    json_t *body;
    if (api_body_object(c, &body) != ME_OK)
        return;
    api_create_req *r = api_alloc(c, sizeof *r);
    if (r == NULL) {
        json_decref(body);
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

/* ---- query --------------------------------------------------------------- */

/* Who asks, as Tencent's queries name them: operator_id + operator_id_type
 * (current form; wins when both are given) or the older userid, and
 * instanceid. operator_id_type 1 is a userid, 2 an openid (OAuth2.0 only:
 * refused, as everywhere), 3 a rooms_id: in meetd, where the rooms are MRA
 * devices (instanceid 9), the ms_open_id of a room's device in the meeting
 * (checked against the meeting once it is loaded). */
typedef struct api_asker {
    core_id_type type;                 /* CORE_ID_USERID or CORE_ID_ROOMS_ID */
    char id[CORE_OPAQUE_MAX + 1];
    int instanceid;
} api_asker;

static meetd_err api_query_asker(api_call *c, api_asker *a)
{
    memset(a, 0, sizeof *a);
    if (api_query_operator(c, API_OP_USERID | API_OP_ROOMS_ID | API_OP_LEGACY_USERID, &a->type,
                           a->id, sizeof a->id) != ME_OK)
        return c->err.err;
    long long instanceid;
    if (api_query_int(c, "instanceid", 0, 64, -1, &instanceid) != ME_OK)
        return c->err.err;
    if (!core_instanceid_valid(instanceid))
        return api_fail(c, ME_INVALID, "instanceid is required and must be a known device type");
    a->instanceid = (int)instanceid;
    return ME_OK;
}

/* A rooms_id must name a room's device in this very meeting: a user
 * present on instanceid 9 (MRA) with that ms_open_id. */
static meetd_err api_check_room(api_call *c, store_tx *tx, const core_meeting *m,
                                const api_asker *a)
{
    if (a->type != CORE_ID_ROOMS_ID)
        return ME_OK;
    core_party room;
    if (api_resolve(c, tx, m->meeting_id, CORE_ID_ROOMS_ID, a->id, &room) != ME_OK)
        return c->err.err;
    return core_room_check(&room, &c->err);
}

static store_rc api_cohost_row(const core_user *u, void *arg)
{
    /* The SDK's keys (operator_id, operator_id_type, userid): a co-host is
     * someone in the meeting, named by ms_open_id; a guest has no userid. */
    json_t *row = json_pack("{s:s,s:i,s:s,s:s}", "operator_id", u->ms_open_id,
                            "operator_id_type", CORE_ID_MS_OPEN_ID, "ms_open_id",
                            u->ms_open_id, "uuid", u->uuid);
    if (row == NULL || api_set_nonempty(row, "userid", u->userid) != 0) {
        json_decref(row);
        return STORE_STOP;
    }
    return json_array_append_new(arg, row) == 0 ? STORE_OK : STORE_STOP;
}

/* A meeting as a query describes it, read in one transaction. */
typedef struct api_full {
    core_meeting m;
    json_t *cohosts;
} api_full;

static meetd_err api_load_full(api_call *c, store_tx *tx, int64_t id, api_full *f)
{
    if (api_load_meeting(c, tx, id, &f->m) != ME_OK)
        return c->err.err;
    json_decref(f->cohosts);
    f->cohosts = json_array();
    if (f->cohosts == NULL)
        return api_fail(c, ME_INTERNAL, NULL);
    int rc = store_cohosts_list(tx, id, api_cohost_row, f->cohosts);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "cohosts_list");
    return ME_OK;
}

static json_t *api_full_json(api_call *c, api_full *f, unsigned flags)
{
    json_t *info = api_meeting_info(c, &f->m, flags | API_INFO_STATUS);
    if (info != NULL && json_object_set(info, "current_co_hosts", f->cohosts) != 0) {
        json_decref(info);
        info = NULL;
    }
    return info;
}

typedef struct api_get_req {
    api_call *c;
    api_asker asker;
    int64_t meeting_id;          /* by id; 0 by code */
    char code[CORE_CODE_LEN + 1];
    api_full f;
} api_get_req;

static bool api_code_valid(const char *s)
{
    if (s == NULL || strlen(s) != CORE_CODE_LEN)
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    return true;
}

static meetd_err api_get_tx(store_tx *tx, void *arg)
{
    api_get_req *r = arg;
    api_call *c = r->c;
    if (r->meeting_id == 0) {
        char app[CORE_APPID_MAX + 1];
        int rc = store_meeting_by_code(tx, r->code, &r->meeting_id, app);
        if (rc == STORE_NOTFOUND || (rc == STORE_OK && strcmp(app, c->app_id) != 0))
            return api_fail(c, ME_NO_MEETING, NULL);
        if (rc != STORE_OK)
            return api_store_fail(c, rc, "meeting_by_code");
    }
    if (api_load_full(c, tx, r->meeting_id, &r->f) != ME_OK ||
        api_check_room(c, tx, &r->f.m, &r->asker) != ME_OK)
        return c->err.err;
    return ME_OK;
}

static void api_get_run(api_call *c, api_get_req *r)
{
    if (api_read(c, api_get_tx, r) == ME_OK)
        api_out(c, api_meeting_list_json(api_full_json(c, &r->f, 0)));
    json_decref(r->f.cohosts);
    free(r);
}

void api_meeting_get(api_call *c)
{
    api_get_req *r = api_alloc(c, sizeof *r);
    if (r == NULL)
        return;
    r->c = c;
    if (api_meeting_id(c, &r->meeting_id) != ME_OK || api_query_asker(c, &r->asker) != ME_OK) {
        free(r);
        return;
    }
    api_get_run(c, r);
}

/* ---- a user's meetings ---------------------------------------------------- */

typedef struct api_list_req {
    api_call *c;
    char userid[CORE_OPAQUE_MAX + 1];  /* api_asker's id, a userid here */
    long long pos, cursory;
    bool all_subs;
    int n;
    int64_t ids[API_LIST_PAGE];
    api_full *f;                 /* n of them */
    int64_t remaining, next_pos, next_cursory;
} api_list_req;

static store_rc api_list_id(int64_t meeting_id, void *arg)
{
    api_list_req *r = arg;
    r->ids[r->n++] = meeting_id;
    return STORE_OK;
}

static meetd_err api_list_tx(store_tx *tx, void *arg)
{
    api_list_req *r = arg;
    api_call *c = r->c;
    r->n = 0;
    int rc = store_meetings_of_user(tx, c->app_id, r->userid, r->pos, r->cursory,
                                    API_LIST_PAGE, api_list_id, r, &r->remaining,
                                    &r->next_pos, &r->next_cursory);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "meetings_of_user");
    for (int i = 0; i < r->n; i++)
        if (api_load_full(c, tx, r->ids[i], &r->f[i]) != ME_OK)
            return c->err.err;
    return ME_OK;
}

static json_t *api_list_json(api_list_req *r)
{
    api_call *c = r->c;
    json_t *list = json_array();
    for (int i = 0; list != NULL && i < r->n; i++) {
        const core_meeting *m = &r->f[i].m;
        json_t *info = api_full_json(c, &r->f[i], r->all_subs ? 0 : API_INFO_FIRST_SUB);
        /* Tencent's spelling: creator, hoster (invitee: meetd keeps none). */
        if (info == NULL ||
            json_object_set_new(info, "join_meeting_role",
                                json_string(core_is_creator(m, r->userid) ? "creator"
                                                                          : "hoster")) != 0 ||
            json_array_append_new(list, info) != 0) {
            json_decref(info);
            json_decref(list);
            return NULL;
        }
    }
    json_t *out = json_pack("{s:i,s:o,s:I}", "meeting_number", r->n, "meeting_info_list", list,
                            "remaining", (json_int_t)r->remaining);
    if (out != NULL && r->remaining > 0 &&
        (json_object_set_new(out, "next_pos", json_integer(r->next_pos)) != 0 ||
         json_object_set_new(out, "next_cursory", json_integer(r->next_cursory)) != 0)) {
        json_decref(out);
        out = NULL;
    }
    return out;
}

static void api_meetings_list(api_call *c, const api_asker *a)
{
    if (a->type == CORE_ID_ROOMS_ID) {
        api_fail(c, ME_INVALID,
                 "operator_id_type 3 (rooms_id) names a room's device inside one meeting in "
                 "meetd: query that meeting by meeting_code or id; list a user's meetings "
                 "with userid (or operator_id_type 1)");
        return;
    }
    long long all = 0;
    api_list_req *r = api_alloc(c, sizeof *r);
    if (r == NULL)
        return;
    r->c = c;
    snprintf(r->userid, sizeof r->userid, "%s", a->id);
    if (api_query_int(c, "pos", 0, INT64_MAX, 0, &r->pos) != ME_OK ||
        api_query_int(c, "cursory", 0, INT64_MAX, 0, &r->cursory) != ME_OK ||
        api_query_int(c, "is_show_all_sub_meetings", 0, 1, 0, &all) != ME_OK) {
        free(r);
        return;
    }
    r->all_subs = all == 1;
    r->f = calloc(API_LIST_PAGE, sizeof *r->f);
    if (r->f == NULL) {
        api_fail(c, ME_INTERNAL, NULL);
    } else if (api_read(c, api_list_tx, r) == ME_OK) {
        api_out(c, api_list_json(r));
    }
    for (int i = 0; r->f != NULL && i < API_LIST_PAGE; i++)
        json_decref(r->f[i].cohosts);
    free(r->f);
    free(r);
}

/* GET /v1/meetings: by meeting_code (the same answer as by id), else the
 * asker's meetings in progress or yet to start. */
void api_meetings_get(api_call *c)
{
    api_asker a;
    if (api_query_asker(c, &a) != ME_OK)
        return;
    const char *code = c->query(c->io, "meeting_code");
    if (code == NULL) {
        api_meetings_list(c, &a);
        return;
    }
    if (!api_code_valid(code)) {
        api_fail(c, ME_INVALID, "meeting_code must be 9 digits");
        return;
    }
    api_get_req *r = api_alloc(c, sizeof *r);
    if (r == NULL)
        return;
    r->c = c;
    r->asker = a;
    memcpy(r->code, code, sizeof r->code);
    api_get_run(c, r);
}

/* ---- the page join_url names ---------------------------------------------- */

/* GET /meetd/v1/j/{meeting_code}, unauthenticated: whoever holds the link
 * learns that the meeting exists and how devices join it, nothing more (no
 * subject, no times, no ids: a code is only 9 digits). */
static meetd_err api_join_page_tx(store_tx *tx, void *arg)
{
    api_call *c = arg;
    int64_t id;
    char app[CORE_APPID_MAX + 1];
    int rc = store_meeting_by_code(tx, c->param[0], &id, app);
    if (rc == STORE_NOTFOUND)
        return api_fail(c, ME_NO_MEETING, NULL);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "meeting_by_code");
    return ME_OK;
}

void api_join_page(api_call *c)
{
    if (!api_code_valid(c->param[0])) {
        api_fail(c, ME_NO_MEETING, NULL);
        return;
    }
    if (api_read(c, api_join_page_tx, c) != ME_OK)
        return;
    api_out(c, json_pack("{s:s,s:s}", "meeting_code", c->param[0], "message",
                         "a meetd meeting: devices join it through the app that created it "
                         "(POST /meetd/v1/meetings/{meetingId}/join, signed by the app)"));
}
