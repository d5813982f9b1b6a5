/* Presence time-outs (the essay is in presence.h).
 *
 * The time-out commits, then publishes. A stream of the device may have
 * opened while the time-out was queued for the writer (its token was still
 * good then): publishing the leave ends that stream too, where before it
 * stayed open on a device that had left. */
#include "live/presence.h"

#include <stdlib.h>

#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "live/webhook.h"

store_rc presence_timeout_tx(store_tx *tx, void *arg)
{
    presence_timeout *t = arg;
    event_batch_reset(t->b);
    t->ended = false;
    core_device dev;
    core_user user;
    char app_id[CORE_APPID_MAX + 1];
    int64_t now = t->now_ms / 1000;
    store_rc rc = store_device_get(tx, t->device_no, &dev);
    if (rc == STORE_NOTFOUND || (rc == STORE_OK && dev.left_time != 0))
        return STORE_OK;
    if (rc != STORE_OK || store_device_end(tx, t->device_no, now, CORE_LEFT_TIMEOUT) != STORE_OK)
        return STORE_ERROR;
    core_meeting *m = malloc(sizeof *m);
    if (m == NULL)
        return STORE_ERROR;
    rc = store_meeting_app(tx, dev.meeting_id, app_id);
    if (rc == STORE_OK)
        rc = store_meeting_get(tx, app_id, dev.meeting_id, m);
    if (rc == STORE_OK)
        rc = store_user_by_no(tx, dev.user_no, &user);
    if (rc == STORE_OK) {
        event_rec ev = {.type = EVENT_LEFT, .meeting = m, .sub_meeting_id = dev.sub_meeting_id,
                        .device_no = t->device_no, .user = &user, .instanceid = dev.instanceid,
                        .left_reason = CORE_LEFT_TIMEOUT, .time = now, .time_ms = t->now_ms,
                        .trace_id = ""};
        rc = event_record(tx, &ev, t->b);
    }
    free(m);
    if (rc != STORE_OK)
        return STORE_ERROR;
    t->ended = true;
    return STORE_OK;
}

void presence_expire(live_hub *h, int64_t device_no, void *arg)
{
    presence *p = arg;
    event_batch b = {0};
    presence_timeout t = {.device_no = device_no, .now_ms = webhook_now_ms(), .b = &b};
    if (store_write(p->st, presence_timeout_tx, &t) != STORE_OK) {
        log_error("live: could not mark device %lld left after its grace period",
                  (long long)device_no);
    } else if (t.ended) {
        metrics_add(METRICS_LEAVES, 1);
        log_info("live: device %lld left: event stream gone longer than %d ms",
                 (long long)device_no, p->grace_ms);
        event_publish(h, p->hooks, &b);
    }
    event_batch_free(&b);
}
