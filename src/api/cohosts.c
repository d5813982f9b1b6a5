/* PUT /v1/real-control/meetings/{meetingId}/cohosts
 *
 * A change of the target's co-host role is recorded as an event
 * (live/event.h): after the commit, every device the target has present
 * hears `role-changed` on its stream, which goes on. */
#include "api/api.h"

#include <stdlib.h>

#include "live/event.h"

typedef struct api_cohost {
    api_call *c;
    int64_t meeting_id;
    core_cohost_req req;
    core_meeting m;
    event_batch events;       /* published after the commit */
} api_cohost;

static meetd_err api_cohost_parse(api_call *c, json_t *body, core_cohost_req *req)
{
    long long instanceid;
    if (api_field_operator(c, body, API_OP_USERID | API_OP_MS_OPEN_ID | API_OP_UUID,
                           &req->op_type, req->op_id, sizeof req->op_id) != ME_OK ||
        api_field_int(c, body, "instanceid", true, &instanceid, NULL) != ME_OK ||
        api_field_bool(c, body, "action", true, &req->action, NULL) != ME_OK)
        return c->err.err;
    if (!core_instanceid_valid(instanceid))
        return api_fail(c, ME_INVALID, "unknown instanceid %lld", instanceid);
    req->op_instanceid = (int)instanceid;
    json_t *user = json_object_get(body, "user");
    if (user == NULL)
        return api_fail(c, ME_INVALID, "user is required");
    if (api_field_target(c, user, "user", &req->target_type, req->target_id,
                         sizeof req->target_id, &req->target_instanceid) != ME_OK)
        return c->err.err;
    return core_cohost_validate(req, &c->err);
}

static meetd_err api_cohost_tx(store_tx *tx, void *arg)
{
    api_cohost *h = arg;
    api_call *c = h->c;
    core_party op, target;
    event_batch_reset(&h->events);
    if (api_load_meeting(c, tx, h->meeting_id, &h->m) != ME_OK ||
        api_resolve(c, tx, h->meeting_id, h->req.op_type, h->req.op_id, &op) != ME_OK ||
        api_resolve(c, tx, h->meeting_id, h->req.target_type, h->req.target_id, &target) != ME_OK ||
        core_cohost_decide(&h->m, c->now, &h->req, &op, &target, &c->err) != ME_OK)
        return c->err.err;
    int rc = store_user_set_cohost(tx, h->meeting_id, target.user.user_no, h->req.action);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "user_set_cohost");
    if (target.user.cohost == h->req.action)
        return ME_OK;    /* no change: nothing to tell */
    int64_t sub = 0;
    core_require_in_progress(&h->m, c->now, &sub, NULL);
    event_rec ev = {.type = EVENT_ROLE, .meeting = &h->m, .sub_meeting_id = sub,
                    .user = &target.user, .cohost = h->req.action, .time = c->now,
                    .trace_id = c->trace_id};
    rc = event_record(tx, &ev, &h->events);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "event_record");
    return ME_OK;
}

static void api_cohost_done(api_call *c, void *arg, meetd_err e)
{
    api_cohost *h = arg;
    if (e == ME_OK)
        event_publish(c->env->live, c->env->hooks, &h->events);
    event_batch_free(&h->events);
    free(h);
}

void api_cohosts(api_call *c)
{
    api_cohost *h = calloc(1, sizeof *h);
    json_t *body = NULL;
    if (h == NULL) {
        api_fail(c, ME_INTERNAL, NULL);
        return;
    }
    h->c = c;
    bool ok = api_meeting_id(c, &h->meeting_id) == ME_OK && api_body_object(c, &body) == ME_OK &&
              api_cohost_parse(c, body, &h->req) == ME_OK;
    json_decref(body);
    if (!ok) {
        free(h);
        return;
    }
    api_write_then(c, api_cohost_tx, h, api_cohost_done);
}
