/* Presence time-outs: a device whose event stream has been gone longer
 * than the grace period leaves, as a real client's time-out would, even
 * when the meetd that held its stream crashed.
 *
 * The clocks are rows, not memory (store.h "presence"). Each meetd is a
 * node with a random id and a heartbeat row. The hub (live.c) tells this
 * module when a stream opens and when its client goes; those changes are
 * queued here, never written on the caller's thread (libmicrohttpd's), and
 * the sweeper thread writes what has queued in one job, in order: a stream
 * open sets the device's stream_node to this node (a compare-and-set from
 * what the open read: presence.c says why, and what a move to another
 * node does), a close sets its grace_until to the close time + grace. A
 * burst of opens or closes is one write, not one each.
 *
 * Every tick (1 s) the sweeper heartbeats the node and sweeps: devices of
 * nodes whose heartbeat is older than the dead-after time
 * (PRESENCE_DEAD_AFTER_MS) get grace from that heartbeat, and each device
 * whose grace ran out is ended in a write of its own (presence_timeout_tx):
 * store_device_end with CORE_LEFT_TIMEOUT and the leave recorded as an
 * event (event.c), which gives the participant-left webhook and, after the
 * commit, ends any stream the device has by then (": end left"). So:
 * - a client that goes: ended at close + grace (within a tick);
 * - meetd killed (kill -9, a crash, a lost machine): its row stops
 *   heartbeating; the restarted meetd, or any other node, ends the devices
 *   whose clients do not come back at last heartbeat + grace, but not
 *   before the row has been silent for the dead-after time. A client that
 *   reconnects (to any node) within that time stays present;
 * - a clean stop (SIGTERM): every stream of the node is detached at once
 *   with grace from the stop (presence_stop), so a restart within the grace
 *   keeps devices present whose clients reconnect.
 * A node that was only slow (its heartbeat missed the dead-after time) may
 * have had its streams converted by another: its next heartbeat answers
 * so, and it attaches every open stream again. */
#ifndef MEETD_LIVE_PRESENCE_H
#define MEETD_LIVE_PRESENCE_H

#include <stdbool.h>
#include <stdint.h>

#include "live/event.h"
#include "live/live.h"
#include "store/store.h"

struct webhook_worker;

/* A node silent this long is dead. Five heartbeats: a node is not declared
 * dead for one late write. */
#define PRESENCE_DEAD_AFTER_MS 5000
/* How often the sweeper heartbeats and sweeps. */
#define PRESENCE_TICK_MS 1000
/* A dead node's row is forgotten this long after its last heartbeat. */
#define PRESENCE_FORGET_MS (3600 * 1000)

typedef struct presence_config {
    int grace_ms;        /* stream gone this long: device marked left */
    int dead_after_ms;   /* 0: PRESENCE_DEAD_AFTER_MS */
    int tick_ms;         /* 0: PRESENCE_TICK_MS */
    /* The node's id (meetd passes ids_node_id(), the one its webhook
     * leases carry too); 0 draws one of its own, so that tests can run
     * several nodes in one process. */
    int64_t node_id;
} presence_config;

typedef struct presence presence;

/* A presence for the store st (hooks NULL: webhooks off) as the node
 * cfg->node_id (0: a node id drawn here). Nothing is written or started
 * until presence_start. */
int presence_new(store *st, struct webhook_worker *hooks, const presence_config *cfg,
                 presence **out);
/* The hub's live_presence_fn (arg: the presence): queues the change. */
void presence_note(void *arg, const live_change *c);
/* Starts the sweeper thread for the hub h (it publishes the leaves there)
 * with the node's listen address (for operators; may be ""). */
int presence_start(presence *p, live_hub *h, const char *address);
/* Stops the sweeper, writes what is queued, and detaches every stream of
 * the node with grace from now (its row goes). Call after
 * live_hub_shutdown, before live_hub_free. Harmless when not started. */
void presence_stop(presence *p);
void presence_free(presence *p);
int64_t presence_node_id(const presence *p);

/* The time-out's write transaction alone, for the sweeper and tests:
 * device_no leaves at now_ms (Unix ms) with CORE_LEFT_TIMEOUT, unless it
 * is gone or has left already (*ended false) or, with claim set, unless it
 * is not due at now_ms (store_presence_claim: it came back, or another
 * node ended it). The leave is recorded in b, to be published after the
 * commit. */
typedef struct presence_timeout {
    int64_t device_no;
    int64_t now_ms;
    bool claim;
    event_batch *b;
    bool ended;
} presence_timeout;
store_rc presence_timeout_tx(store_tx *tx, void *arg);

#endif
