/* PUT /v1/meetings/{meetingId}: modify a meeting (docs/api.md "Modify a
 * meeting").
 *
 * The body is Tencent's: who asks (userid, or operator_id with
 * operator_id_type 1) and instanceid, then only what changes. Fields
 * meetd keeps no trace of (settings, password, live, invitees, ...) are
 * checked for their JSON type and ignored, as create ignores them. The
 * rules (creator only, state, occurrences) are core_meeting_modify's; the
 * new meeting is written in the request's one write transaction. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

typedef struct api_update_req {
    api_call *c;
    int64_t meeting_id;
    char userid[CORE_ID_MAX + 1];
    core_meeting_change ch;
    core_meeting m;          /* as stored */
    core_meeting next;       /* as modified */
} api_update_req;

/* Fields of Tencent's modify that meetd does not keep, with the JSON type
 * the SDK model gives each. */
static const struct {
    const char *key;
    json_type type;
} api_update_ignored[] = {
    {"allow_enterprise_intranet_only", JSON_TRUE},
    {"enable_doc_upload_permission", JSON_TRUE},
    {"enable_enroll", JSON_TRUE},
    {"enable_host_key", JSON_TRUE},
    {"enable_live", JSON_TRUE},
    {"guests", JSON_ARRAY},
    {"host_key", JSON_STRING},
    {"invitees", JSON_ARRAY},
    {"live_config", JSON_OBJECT},
    {"location", JSON_STRING},
    {"media_set_type", JSON_INTEGER},
    {"password", JSON_STRING},
    {"settings", JSON_OBJECT},
    {"time_zone", JSON_STRING},
};

static meetd_err api_update_check_ignored(api_call *c, json_t *body)
{
    for (size_t i = 0; i < sizeof api_update_ignored / sizeof api_update_ignored[0]; i++) {
        json_t *v = json_object_get(body, api_update_ignored[i].key);
        json_type want = api_update_ignored[i].type;
        if (v == NULL || json_is_null(v))
            continue;
        bool ok = want == JSON_TRUE ? json_is_boolean(v) : json_typeof(v) == want;
        if (!ok)
            return api_fail(c, ME_INVALID, "%s must be %s", api_update_ignored[i].key,
                            want == JSON_TRUE      ? "true or false"
                            : want == JSON_ARRAY   ? "an array"
                            : want == JSON_OBJECT  ? "an object"
                            : want == JSON_INTEGER ? "an integer"
                                                   : "a string");
    }
    return ME_OK;
}

static const char *const api_rule_fields[] = {
    "recurring_type", "until_type", "until_count", "until_date",
    "customized_recurring_type", "customized_recurring_step", "customized_recurring_days",
};

/* recurring_rule is either a new rule (as create takes it) or, with
 * sub_meeting_id, the occurrence whose times change. */
static meetd_err api_update_rule(api_call *c, json_t *body, core_meeting *scratch,
                                 core_meeting_change *ch)
{
    json_t *rule = json_object_get(body, "recurring_rule");
    if (rule == NULL || json_is_null(rule))
        return ME_OK;
    if (!json_is_object(rule))
        return api_fail(c, ME_INVALID, "recurring_rule must be an object");
    bool has_sub = false;
    if (api_field_time(c, rule, "sub_meeting_id", false, &ch->sub_meeting_id, &has_sub) != ME_OK)
        return c->err.err;
    if (has_sub) {
        if (ch->sub_meeting_id <= 0)
            return api_fail(c, ME_INVALID, "recurring_rule.sub_meeting_id is invalid");
        for (size_t i = 0; i < sizeof api_rule_fields / sizeof api_rule_fields[0]; i++) {
            json_t *v = json_object_get(rule, api_rule_fields[i]);
            if (v != NULL && !json_is_null(v))
                return api_fail(c, ME_INVALID,
                                "recurring_rule.sub_meeting_id moves one occurrence: it cannot "
                                "come with %s", api_rule_fields[i]);
        }
        return ME_OK;
    }
    if (api_parse_rule(c, body, scratch) != ME_OK)
        return c->err.err;
    ch->rule = scratch->rule;
    ch->has_rule = true;
    return ME_OK;
}

static meetd_err api_update_parse(api_call *c, json_t *body, api_update_req *r)
{
    core_meeting_change *ch = &r->ch;
    long long instanceid, meeting_type = 0;
    core_id_type op_type;
    /* Only the creator modifies: by userid alone. */
    if (api_field_operator(c, body, API_OP_USERID | API_OP_LEGACY_USERID, &op_type, r->userid,
                           sizeof r->userid) != ME_OK ||
        api_field_int(c, body, "instanceid", true, &instanceid, NULL) != ME_OK)
        return c->err.err;
    if (!core_instanceid_valid(instanceid))
        return api_fail(c, ME_INVALID, "unknown instanceid %lld", instanceid);
    if (api_field_str(c, body, "subject", false, ch->subject, sizeof ch->subject,
                      &ch->has_subject) != ME_OK ||
        api_field_time(c, body, "start_time", false, &ch->start_time, &ch->has_start) != ME_OK ||
        api_field_time(c, body, "end_time", false, &ch->end_time, &ch->has_end) != ME_OK ||
        api_field_int(c, body, "meeting_type", false, &meeting_type, &ch->has_meeting_type) !=
            ME_OK)
        return c->err.err;
    if (ch->has_meeting_type && meeting_type != 0 && meeting_type != 1)
        return api_fail(c, ME_INVALID, "meeting_type must be 0 (one-off) or 1 (recurring)");
    ch->meeting_type = (int)meeting_type;
    /* r->next is not used before the transaction: it serves as the parse
     * target of create's parsers. */
    json_t *hosts = json_object_get(body, "hosts");
    if (hosts != NULL && !json_is_null(hosts)) {
        if (api_parse_hosts(c, body, &r->next) != ME_OK)
            return c->err.err;
        ch->has_hosts = true;
        ch->n_hosts = r->next.n_hosts;
        memcpy(ch->hosts, r->next.hosts, sizeof ch->hosts);
    }
    if (api_update_rule(c, body, &r->next, ch) != ME_OK)
        return c->err.err;
    return api_update_check_ignored(c, body);
}

static meetd_err api_update_tx(store_tx *tx, void *arg)
{
    api_update_req *r = arg;
    api_call *c = r->c;
    if (api_load_meeting(c, tx, r->meeting_id, &r->m) != ME_OK ||
        api_admit_userid(c, tx, r->meeting_id, r->userid) != ME_OK)
        return c->err.err;
    meetd_err e = core_meeting_modify(&r->m, &r->ch, r->userid, c->now, &r->next, &c->err);
    if (e != ME_OK)
        return e;
    int rc = store_meeting_update(tx, &r->next);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "meeting_update");
    return ME_OK;
}

/* Tencent's answer names the meeting; the settings, live and host-key
 * fields of its model are absent: meetd keeps none of them. */
static void api_update_done(api_call *c, void *arg, meetd_err e)
{
    api_update_req *r = arg;
    if (e == ME_OK) {
        api_out(c, json_pack("{s:i,s:[{s:o,s:s}]}", "meeting_number", 1, "meeting_info_list",
                             "meeting_id", api_id_json(r->next.meeting_id), "meeting_code",
                             r->next.meeting_code));
    }
    free(r);
}

void api_meeting_update(api_call *c)
{
    api_update_req *r = api_alloc(c, sizeof *r);
    json_t *body = NULL;
    if (r == NULL)
        return;
    r->c = c;
    if (api_meeting_id(c, &r->meeting_id) != ME_OK || api_body_object(c, &body) != ME_OK ||
        api_update_parse(c, body, r) != ME_OK) {
        json_decref(body);
        free(r);
        return;
    }
    json_decref(body);
    api_write_then(c, api_update_tx, r, api_update_done);
}
