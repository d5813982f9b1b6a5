/* POST /v1/meetings/{meetingId}/cancel and .../dismiss: a meeting ends.
 *
 * Both take their operator as Tencent's current form (operator_id +
 * operator_id_type, 1 userid or 4 ms_open_id) or the older `userid`, plus
 * instanceid and a required reason_code; the rules are core_cancel's and
 * core_dismiss's. They differ in who may and when: cancel is the creator's,
 * of a meeting (or one occurrence) not yet started, so no device is ever
 * present to end; dismiss is the creator's, a host's or a co-host's, of a
 * meeting in progress, and ends every device still present (each an event,
 * live/event.h: told `meeting-ended` on its stream after commit, a
 * participant-left webhook) and every co-host's role in the write
 * transaction that records the end. Ending the roles tells nobody
 * `role-changed`: every device was put out, and told so, first. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "live/event.h"

typedef struct api_end_req {
    api_call *c;
    int64_t meeting_id;
    bool dismiss;
    core_end_req req;
    bool force;                  /* dismiss: force_dismiss_meeting (default 1) */
    core_meeting m;
    core_party op;
    store_tx *tx;
    event_batch events;          /* published after the commit */
} api_end_req;

static store_rc api_end_device(const core_device *d, void *arg)
{
    api_end_req *r = arg;
    /* Tencent's force_dismiss_meeting 0: "with participants in the meeting,
     * it cannot be ended". Said before anything is ended (the store stops
     * at STORE_STOP), so the refusal changes nothing. Each stop records
     * its reason on the call. */
    if (!r->force) {
        api_fail(r->c, ME_INVALID,
                 "force_dismiss_meeting is 0 and devices are still in the meeting "
                 "(send 1, the default, to remove them)");
        return STORE_STOP;
    }
    core_user u;
    store_rc rc = store_user_by_no(r->tx, d->user_no, &u);
    if (rc == STORE_OK) {
        event_rec ev = {.type = EVENT_ENDED, .meeting = &r->m, .sub_meeting_id = d->sub_meeting_id,
                        .device_no = d->device_no, .user = &u, .instanceid = d->instanceid,
                        .time = r->c->now, .trace_id = r->c->trace_id};
        rc = event_record(r->tx, &ev, &r->events);
    }
    if (rc != STORE_OK) {
        api_store_fail(r->c, rc, "end_device");
        return STORE_STOP;
    }
    return STORE_OK;
}

static meetd_err api_end_tx(store_tx *tx, void *arg)
{
    api_end_req *r = arg;
    api_call *c = r->c;
    /* It may run again (store.h): what it fills starts over. */
    event_batch_reset(&r->events);
    r->tx = tx;
    if (api_load_meeting(c, tx, r->meeting_id, &r->m) != ME_OK ||
        api_resolve(c, tx, r->meeting_id, r->req.op_type, r->req.op_id, &r->op) != ME_OK)
        return c->err.err;
    int64_t sub = 0;
    meetd_err e = r->dismiss ? core_dismiss(&r->m, c->now, &r->req, &r->op, &sub, &c->err)
                             : core_cancel(&r->m, &r->req, &r->op, &c->err);
    if (e != ME_OK)
        return e;
    int rc = store_meeting_update_status(tx, &r->m);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "meeting_update_status");
    if (r->dismiss) {
        rc = store_devices_end_all(tx, r->meeting_id, c->now, CORE_LEFT_ENDED, api_end_device, r);
        if (rc != STORE_OK)
            return c->err.err != ME_OK ? c->err.err : api_store_fail(c, rc, "devices_end_all");
        /* Co-host is a role held in the meeting while it runs (a kickout
         * that puts the last device out ends it too): once everyone is put
         * out, nobody keeps it. Kept, a co-host of one occurrence of a
         * series could, by userid and from outside, list, remove, ban and
         * dismiss in every later one. */
        rc = store_cohosts_end(tx, r->meeting_id);
        if (rc != STORE_OK)
            return api_store_fail(c, rc, "cohosts_end");
    }
    return ME_OK;
}

static void api_end_done(api_call *c, void *arg, meetd_err e)
{
    api_end_req *r = arg;
    if (e == ME_OK)
        event_publish(c->env->live, c->env->hooks, &r->events);
    event_batch_free(&r->events);
    free(r);
}

/* An optional integer field that must be 0 or 1. */
static meetd_err api_end_flag(api_call *c, json_t *body, const char *key, long long def,
                              long long *v)
{
    bool present = false;
    if (api_field_int(c, body, key, false, v, &present) != ME_OK)
        return c->err.err;
    if (!present)
        *v = def;
    else if (*v != 0 && *v != 1)
        return api_fail(c, ME_INVALID, "%s must be 0 or 1", key);
    return ME_OK;
}

/* Every field is checked, by type and value, before the store is read. */
static meetd_err api_end_parse(api_call *c, json_t *body, api_end_req *r)
{
    core_end_req *req = &r->req;
    long long instanceid, reason_code, v;
    char detail[CORE_REASON_MAX + 1];
    if (api_field_operator(c, body, API_OP_USERID | API_OP_MS_OPEN_ID | API_OP_LEGACY_USERID,
                           &req->op_type, req->op_id, sizeof req->op_id) != ME_OK ||
        api_field_int(c, body, "instanceid", true, &instanceid, NULL) != ME_OK ||
        api_field_int(c, body, "reason_code", true, &reason_code, NULL) != ME_OK ||
        api_field_str(c, body, "reason_detail", false, detail, sizeof detail, NULL) != ME_OK)
        return c->err.err;
    if (!core_instanceid_valid(instanceid))
        return api_fail(c, ME_INVALID, "unknown instanceid %lld", instanceid);
    req->op_instanceid = (int)instanceid;
    if (core_operator_validate(req->op_type, req->op_id, req->op_instanceid, &c->err) != ME_OK)
        return c->err.err;
    req->meeting_type = -1;
    if (r->dismiss) {
        /* retrieve_code is checked and has nothing to act on: meetd never
         * hands a meeting's code to another meeting (docs/api.md). */
        if (api_end_flag(c, body, "retrieve_code", 0, &v) != ME_OK ||
            api_end_flag(c, body, "force_dismiss_meeting", 1, &v) != ME_OK)
            return c->err.err;
        r->force = v == 1;
        return ME_OK;
    }
    bool has_type = false;
    if (api_field_time(c, body, "sub_meeting_id", false, &req->sub_meeting_id, &req->has_sub) !=
            ME_OK ||
        api_field_int(c, body, "meeting_type", false, &v, &has_type) != ME_OK)
        return c->err.err;
    if (has_type) {
        if (v != 0 && v != 1)
            return api_fail(c, ME_INVALID, "meeting_type must be 0 (one-off) or 1 (recurring)");
        req->meeting_type = (int)v;
    }
    return ME_OK;
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
    bool ok = api_meeting_id(c, &r->meeting_id) == ME_OK &&
              api_body_object(c, &body) == ME_OK && api_end_parse(c, body, r) == ME_OK;
    json_decref(body);
    if (!ok) {
        free(r);
        return;
    }
    api_write_then(c, api_end_tx, r, api_end_done);
}

void api_meeting_cancel(api_call *c) { api_meeting_end(c, false); }
void api_meeting_dismiss(api_call *c) { api_meeting_end(c, true); }
