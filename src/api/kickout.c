/* PUT /v1/real-control/meetings/{meetingId}/kickout — the mission.
 *
 * The body is checked whole before anything is read from the store; then the
 * meeting, the operator and every target are read, the rules decide, and all
 * removals, bans and co-host revocations are written in the same transaction,
 * each removal recorded once as an event (live/event.h), which writes its
 * audit row and webhooks there too. */
#include "api/api.h"

#include "common/metrics.h"
#include "live/event.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ~25 KiB, mostly room for twenty targets: api_kickout clears only what is
 * read before it is written (api_kick_new). */
typedef struct api_kick {
    api_call *c;
    int64_t meeting_id;
    core_party op;
    core_kick_plan plan;
    int64_t sub_meeting_id;
    int n_removed;
    event_batch events;                   /* published after the commit */
    /* Not cleared: each is written whole before it is read. */
    core_kick_req req;                    /* its head is cleared, not users[] */
    core_meeting m;                       /* store_meeting_get fills it */
    core_party targets[CORE_KICK_MAX];    /* api_resolve fills each */
    core_device removed[CORE_KICK_MAX];   /* store_device_end_present */
} api_kick;

static api_kick *api_kick_new(void)
{
    api_kick *k = malloc(sizeof *k);
    if (k != NULL) {
        memset(k, 0, offsetof(api_kick, req));
        memset(&k->req, 0, offsetof(core_kick_req, users));
    }
    return k;
}

static meetd_err api_kick_parse(api_call *c, json_t *body, core_kick_req *req)
{
    long long instanceid;
    if (api_field_operator(c, body, API_OP_USERID | API_OP_MS_OPEN_ID | API_OP_UUID,
                           &req->op_type, req->op_id, sizeof req->op_id) != ME_OK ||
        api_field_int(c, body, "instanceid", true, &instanceid, NULL) != ME_OK ||
        api_field_bool(c, body, "allow_rejoin", true, &req->allow_rejoin, NULL) != ME_OK ||
        api_field_str(c, body, "reason", false, req->reason, sizeof req->reason,
                      &req->has_reason) != ME_OK)
        return c->err.err;
    if (!core_instanceid_valid(instanceid))
        return api_fail(c, ME_INVALID, "unknown instanceid %lld", instanceid);
    req->op_instanceid = (int)instanceid;
    json_t *users = json_object_get(body, "users");
    if (users == NULL || !json_is_array(users))
        return api_fail(c, ME_INVALID, "users is required and must be an array");
    size_t n = json_array_size(users);
    if (n == 0 || n > CORE_KICK_MAX)
        return api_fail(c, ME_INVALID, "users must list 1 to %d users", CORE_KICK_MAX);
    size_t i;
    json_t *u;
    json_array_foreach(users, i, u) {
        char where[32];
        snprintf(where, sizeof where, "users[%zu]", i);
        core_kick_user *ku = &req->users[i];
        if (api_field_target(c, u, where, &ku->id_type, ku->id, sizeof ku->id,
                             &ku->instanceid) != ME_OK)
            return c->err.err;
    }
    req->n_users = (int)n;
    return core_kick_validate(req, &c->err);
}

/* The removal as an event: its audit row, its webhooks and, after the
 * commit, the removed device's `kicked` come from this one record. */
static void api_kick_event(const api_kick *k, int i, event_rec *ev)
{
    const api_call *c = k->c;
    *ev = (event_rec){.type = EVENT_KICKED, .meeting = &k->m, .sub_meeting_id = k->sub_meeting_id,
                      .device_no = k->removed[k->n_removed].device_no,
                      .user = &k->targets[i].user, .instanceid = k->req.users[i].instanceid,
                      .op_user = k->op.found ? &k->op.user : NULL, .op_id = k->req.op_id,
                      .op_by_userid = k->req.op_type == CORE_ID_USERID,
                      .op_instanceid = k->req.op_instanceid, .reason = k->req.reason,
                      .allow_rejoin = k->req.allow_rejoin, .time = c->now,
                      .trace_id = c->trace_id};
}

static meetd_err api_kick_apply(store_tx *tx, api_kick *k, int i)
{
    api_call *c = k->c;
    const core_party *t = &k->targets[i];
    core_device *dev = &k->removed[k->n_removed];
    int rc = store_device_end_present(tx, k->meeting_id, t->user.user_no,
                                      k->req.users[i].instanceid, c->now, CORE_LEFT_KICKED, dev);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "device_end_present");
    event_rec ev;
    api_kick_event(k, i, &ev);
    rc = event_record(tx, &ev, &k->events);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "event_record");
    k->n_removed++;
    if (!k->req.allow_rejoin) {
        /* The ban names its operator as the audit row of the same removal
         * does, so that the two never tell different stories. */
        core_audit a;
        event_audit(&ev, &a);
        core_ban ban;
        memset(&ban, 0, sizeof ban);
        ban.meeting_id = k->meeting_id;
        ban.user = t->user;
        ban.banned_at = c->now;
        snprintf(ban.reason, sizeof ban.reason, "%s", k->req.reason);
        snprintf(ban.operator_userid, sizeof ban.operator_userid, "%s", a.op_userid);
        snprintf(ban.operator_uuid, sizeof ban.operator_uuid, "%s", a.op_uuid);
        snprintf(ban.operator_ms_open_id, sizeof ban.operator_ms_open_id, "%s", a.op_ms_open_id);
        ban.operator_instanceid = a.op_instanceid;
        snprintf(ban.request_id, sizeof ban.request_id, "%s", c->trace_id);
        rc = store_ban_put(tx, &ban);
        if (rc != STORE_OK)
            return api_store_fail(c, rc, "ban_put");
    }
    if (k->plan.revoke_cohost[i]) {
        rc = store_user_set_cohost(tx, k->meeting_id, t->user.user_no, false);
        if (rc != STORE_OK)
            return api_store_fail(c, rc, "user_set_cohost");
    }
    return ME_OK;
}

/* A removal that ends a co-host's role (a ban, or their last device put
 * out) is heard as role-changed by the devices the user still has present.
 * Recorded after every removal, so that a device the same request removes
 * hears `kicked` alone. */
static meetd_err api_kick_roles(store_tx *tx, api_kick *k)
{
    api_call *c = k->c;
    for (int i = 0; i < k->req.n_users; i++) {
        if (!k->plan.apply[i] || !k->plan.revoke_cohost[i] || !k->targets[i].user.cohost)
            continue;
        event_rec ev = {.type = EVENT_ROLE, .meeting = &k->m, .sub_meeting_id = k->sub_meeting_id,
                        .user = &k->targets[i].user, .cohost = false, .time = c->now,
                        .trace_id = c->trace_id};
        int rc = event_record(tx, &ev, &k->events);
        if (rc != STORE_OK)
            return api_store_fail(c, rc, "event_record");
    }
    return ME_OK;
}

static meetd_err api_kick_tx(store_tx *tx, void *arg)
{
    api_kick *k = arg;
    api_call *c = k->c;
    /* It may run again (store.h): what it fills starts over. */
    k->n_removed = 0;
    event_batch_reset(&k->events);
    if (api_load_meeting(c, tx, k->meeting_id, &k->m) != ME_OK ||
        api_resolve(c, tx, k->meeting_id, k->req.op_type, k->req.op_id,
                    &k->op) != ME_OK)
        return c->err.err;
    for (int i = 0; i < k->req.n_users; i++)
        if (api_resolve(c, tx, k->meeting_id, k->req.users[i].id_type, k->req.users[i].id,
                        &k->targets[i]) != ME_OK)
            return c->err.err;
    if (core_kick_decide(&k->m, c->now, &k->req, &k->op, k->targets, &k->plan, &c->err) != ME_OK)
        return c->err.err;
    /* Decided, so the meeting is in progress: this only names the occurrence. */
    core_require_in_progress(&k->m, c->now, &k->sub_meeting_id, NULL);
    for (int i = 0; i < k->req.n_users; i++)
        if (k->plan.apply[i] && api_kick_apply(tx, k, i) != ME_OK)
            return c->err.err;
    return api_kick_roles(tx, k);
}

static bool api_wants_representation(api_call *c)
{
    const char *prefer = c->header(c->io, "Prefer");
    return prefer != NULL && strcasestr(prefer, "return=representation") != NULL;
}

/* NULL when out of memory: a list short of a target would say it was
 * never asked for. */
static json_t *api_kick_results(const api_kick *k)
{
    json_t *arr = json_array();
    for (int i = 0; arr != NULL && i < k->req.n_users; i++) {
        const core_kick_user *u = &k->req.users[i];
        const core_party *t = &k->targets[i];
        const char *ms = t->found ? t->user.ms_open_id
                                  : (u->id_type == CORE_ID_MS_OPEN_ID ? u->id : "");
        const char *uuid = t->found ? t->user.uuid : (u->id_type == CORE_ID_UUID ? u->id : "");
        if (json_array_append_new(arr, json_pack("{s:s,s:s,s:i,s:s}", "ms_open_id", ms, "uuid",
                                                 uuid, "instanceid", u->instanceid, "result",
                                                 core_kick_result_name(k->plan.result[i]))) !=
            0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return json_pack("{s:o}", "results", arr);
}

static void api_kick_done(api_call *c, void *arg, meetd_err e)
{
    api_kick *k = arg;
    if (e == ME_OK) {
        metrics_add(METRICS_KICKOUT_REMOVALS, (uint64_t)k->n_removed);
        /* Committed: only now may the devices hear of it. */
        event_publish(c->env->live, c->env->hooks, &k->events);
        if (api_wants_representation(c))
            api_out(c, api_kick_results(k));
    }
    event_batch_free(&k->events);
    free(k);
}

void api_kickout(api_call *c)
{
    api_kick *k = api_kick_new();
    json_t *body = NULL;
    if (k == NULL) {
        api_fail(c, ME_INTERNAL, NULL);
        return;
    }
    k->c = c;
    bool ok = api_meeting_id(c, &k->meeting_id) == ME_OK && api_body_object(c, &body) == ME_OK &&
              api_kick_parse(c, body, &k->req) == ME_OK;
    json_decref(body);
    if (!ok) {
        free(k);
        return;
    }
    api_write_then(c, api_kick_tx, k, api_kick_done);
}
