/* POST /v1/meetings/{meetingId}/cancel and .../dismiss: a meeting ends.
 *
 * Both end every device still present (each told `meeting-ended` on its
 * stream after commit, each a participant-left webhook) in the write
 * transaction that records the end; they differ in who may and when. */
#include "api/api.h"

#include <stdlib.h>
#include <string.h>

#include "live/live.h"
#include "live/webhook.h"

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
