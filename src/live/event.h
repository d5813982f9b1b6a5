/* One path for "something happened": a device joined, left, was removed or
 * replaced, a meeting ended for it, its user's role changed.
 *
 * A handler describes the change once, as an event_rec, and records it with
 * event_record inside the write transaction that makes the change. From
 * that one record, in that transaction, come the event's rows in the store
 * (store_event_insert: the truth, numbered in commit order), its audit row
 * (kickouts) and its webhook outbox rows (webhook_enqueue). Nothing leaves
 * the process before the commit: event_record only adds what device streams
 * are to hear to an event_batch, and the handler's after-commit step hands
 * the batch to event_publish. A rolled-back transaction's batch is dropped
 * (event_batch_free) and nobody ever hears of it.
 *
 * event_publish tells this node's streams from the very rows it wrote, with
 * event_deliver, and wakes the webhook worker. A node that did not make the
 * change learns of it the same way, later (the relay, relay.h): for each
 * meeting whose devices it streams it keeps the number of the last row it
 * read, reads that meeting's rows numbered above it
 * (store_events_since; a meeting's rows are numbered in commit order by
 * the store's contract, which is all a per-meeting cursor needs)
 * and calls event_deliver for each. Rows, not notifications, are the
 * truth: a notification (here, the call after commit; across nodes, a
 * database notification) only says "read the rows now". A node that missed
 * one still finds the rows at its next read, which a timer makes happen
 * anyway, so a lost notification costs at most one period; a node that
 * missed more than the rows kept (EVENT_KEEP_MS: its last number is below
 * the oldest row) rebuilds from the state tables instead: it ends every
 * stream whose device is no longer present. A final event delivered twice
 * is harmless (it ends a stream once; the second finds it ended), news
 * (role-changed) is not: the hub keeps, per device, the number of the last
 * row it was told of and drops any not above it (live_send), so a node's
 * own publish and its relay may both deliver a row, in either order.
 *
 * What each type produces (docs/internals.md, "A new event type"):
 *   type            row type          audit   webhooks                 stream
 *   EVENT_JOINED    "joined"          -       participant-joined       -
 *   EVENT_LEFT      "left"            -       participant-left         ": end left", ends
 *   EVENT_KICKED    "kicked"          kickout participant-kicked-out,  "kicked", ends
 *                                             participant-left
 *   EVENT_REPLACED  "replaced"        -       -                        "replaced", ends
 *   EVENT_ENDED     "meeting-ended"   -       participant-left         "meeting-ended", ends
 *   EVENT_ROLE      "role-changed"    -       -                        "role-changed", goes on
 *   EVENT_SUPERSEDED "superseded"     -       -                        ": end superseded", ends
 *                                                                      (on the node named only)
 * A stream event's row payload is exactly the stream's data line.
 * EVENT_SUPERSEDED is the cross-node form of a device's second stream
 * ending its first (src/live/presence.c): the device's stream moved to
 * another node, and the node it moved from (ev->node, in the payload) ends
 * the stream it holds for the device, as live.c ends the older of two
 * streams on one node; the device stays, so nothing else hears of it. */
#ifndef MEETD_LIVE_EVENT_H
#define MEETD_LIVE_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/core.h"
#include "store/store.h"

struct live_hub;
struct webhook_worker;

/* How long event rows are kept (Unix ms of their creation): a node whose
 * last read is older than this rebuilds rather than reads. */
#define EVENT_KEEP_MS (10 * 60 * 1000)

typedef enum event_type {
    EVENT_JOINED = 0,
    EVENT_LEFT,
    EVENT_KICKED,
    EVENT_REPLACED,
    EVENT_ENDED,
    EVENT_ROLE,
    EVENT_SUPERSEDED,
    EVENT__COUNT
} event_type;

/* What happened. Pointers are the caller's and need only live through
 * event_record. */
typedef struct event_rec {
    event_type type;
    const core_meeting *meeting;   /* the app (its app_id) and the meeting */
    int64_t sub_meeting_id;        /* the occurrence (0: a one-off meeting) */
    /* The device it concerns (EVENT_ROLE: 0, every present device of user
     * hears it) and its participant. */
    int64_t device_no;
    const core_user *user;         /* EVENT_SUPERSEDED: may be NULL */
    int instanceid;
    /* EVENT_KICKED: who acted. op_user NULL: a creator or host who never
     * joined, named by op_id (op_by_userid: op_id is a userid). */
    const core_user *op_user;
    const char *op_id;
    bool op_by_userid;
    int op_instanceid;
    const char *reason;            /* EVENT_KICKED */
    bool allow_rejoin;             /* EVENT_KICKED */
    int left_reason;               /* EVENT_LEFT: CORE_LEFT_* */
    bool cohost;                   /* EVENT_ROLE: holds the co-host role now */
    int64_t node;                  /* EVENT_SUPERSEDED: the node whose stream ends */
    int64_t time;                  /* Unix s: the request's now */
    int64_t time_ms;               /* Unix ms for webhooks and rows; 0: now */
    const char *trace_id;          /* the request's id ("" for the server's own acts) */
} event_rec;

/* What streams are to hear once the transaction commits: copies of the
 * rows written. */
typedef struct event_note {
    store_event row;
    char *payload;
} event_note;

typedef struct event_batch {
    event_note *notes;
    size_t n;
    size_t cap;
    int hooks;                     /* webhook deliveries queued */
} event_batch;

/* "kicked", "role-changed"...; NULL for an unknown type. */
const char *event_type_name(event_type type);
/* The event's row payload as compact JSON text (caller frees); for a type
 * streams hear as an event, exactly the stream's data. NULL on failure
 * (*failed, may be NULL, set): out of memory, or text that is not UTF-8. */
char *event_payload(const event_rec *ev, bool *failed);
/* The audit row a kickout event writes (a ban of the same removal names
 * its operator from it, so that the two never tell different stories). */
void event_audit(const event_rec *ev, core_audit *a);

/* Records ev in the caller's write transaction: its rows, audit row and
 * webhook rows, and adds what streams will hear to b. STORE_OK or an error
 * (the caller's transaction is then to be rolled back). */
store_rc event_record(store_tx *tx, const event_rec *ev, event_batch *b);
/* After the commit: wakes the webhook worker if b queued deliveries (hooks
 * may be NULL) and tells the streams of this node (h), in the order
 * recorded; then empties b. */
void event_publish(struct live_hub *h, struct webhook_worker *hooks, event_batch *b);
/* Tells h's streams of one committed row: what event_publish does per row,
 * and what a node that reads rows written by another calls. Rows of types
 * streams do not hear are ignored. */
void event_deliver(struct live_hub *h, const store_event *row, const char *payload);
/* Forgets what b holds, unpublished (a rolled-back or retried transaction). */
void event_batch_reset(event_batch *b);
void event_batch_free(event_batch *b);

#endif
