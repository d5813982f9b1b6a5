/* POST /v1/meetings/{meetingId}/cancel and .../dismiss: a meeting ends.
 *
 * Both take their operator as Tencent's current form (operator_id +
 * operator_id_type, 1 userid or 4 ms_open_id) or the older `userid`, plus
 * instanceid and a required reason_code; the rules are core_cancel's and
 * core_dismiss's. They differ in who may and when: cancel is the creator's,
 * of a meeting (or one occurrence) not yet started, so no device is ever
 * present to end; dismiss is the creator's, a host's or a co-host's, of a
 * meeting in progress, and ends every device still present (each told
 * `meeting-ended` on its stream after commit, each a participant-left
 * webhook) and every co-host's role in the write transaction that records
 * the end. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "live/live.h"
#include "live/webhook.h"

typedef struct api_end_req {
    api_call *c;
    int64_t meeting_id;
    bool dismiss;
    core_end_req req;
    bool force;                  /* dismiss: force_dismiss_meeting (default 1) */
    core_meeting m;
    core_party op;
    store_tx *tx;
    int64_t *ended;              /* sessions ended, told after commit */
    size_t n_ended;
    size_t cap_ended;
    int hooks;                   /* webhook deliveries queued */
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
        webhook_event ev = {.type = WEBHOOK_PARTICIPANT_LEFT, .meeting = &r->m,
                            .trace_id = r->c->trace_id, .time_ms = webhook_now_ms(),
                            .user = &u, .instanceid = d->instanceid};
        rc = webhook_enqueue(r->tx, &ev, &r->hooks);
    }
    if (rc != STORE_OK) {
        api_store_fail(r->c, rc, "end_device");
        return STORE_STOP;
    }
    if (r->n_ended == r->cap_ended) {
        size_t cap = r->cap_ended ? 2 * r->cap_ended : 64;
        int64_t *grown = realloc(r->ended, cap * sizeof *grown);
        if (grown == NULL) {
            api_fail(r->c, ME_INTERNAL, NULL);
            return STORE_STOP;
        }
        r->ended = grown;
        r->cap_ended = cap;
    }
    r->ended[r->n_ended++] = d->device_no;
    return STORE_OK;
}

static meetd_err api_end_tx(store_tx *tx, void *arg)
{
    api_end_req *r = arg;
    api_call *c = r->c;
    /* It may run again (store.h): what it fills starts over. */
    r->n_ended = 0;
    r->hooks = 0;
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
    if (e == ME_OK) {
        if (r->hooks > 0)
            webhook_worker_wake(c->env->hooks);
        for (size_t i = 0; i < r->n_ended; i++)
            live_meeting_ended(c->env->live, r->ended[i], c->now);
    }
    free(r->ended);
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
