/* Presence time-outs: a device whose event stream has been gone longer
 * than the grace period leaves, as a real client's time-out would.
 *
 * The hub (live.c) keeps the clock of each device's absence and calls
 * presence_expire when one runs out; this module is the part that writes:
 * it ends the device in the store and records the leave as an event
 * (event.c), which gives the participant-left webhook and, after the
 * commit, ends any stream the device has by then (": end left"). */
#ifndef MEETD_LIVE_PRESENCE_H
#define MEETD_LIVE_PRESENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "live/event.h"
#include "live/live.h"
#include "store/store.h"

struct webhook_worker;

typedef struct presence {
    store *st;
    struct webhook_worker *hooks;   /* NULL: webhooks off */
    int grace_ms;                   /* the hub's, for the log line */
} presence;

/* The hub's live_expire_fn; arg is a presence that outlives the hub. */
void presence_expire(live_hub *h, int64_t device_no, void *arg);

/* The time-out's write transaction alone, for presence_expire and tests:
 * device_no leaves at now_ms (Unix ms) with CORE_LEFT_TIMEOUT, unless it
 * is gone or has left already (*ended false). The leave is recorded in b,
 * to be published after the commit. */
typedef struct presence_timeout {
    int64_t device_no;
    int64_t now_ms;
    event_batch *b;
    bool ended;
} presence_timeout;
store_rc presence_timeout_tx(store_tx *tx, void *arg);

#endif
