/* The relay: device streams on this node hear of changes committed by any
 * node (issue 16; docs/cluster.md "Streams across nodes").
 *
 * A node publishes its own rows after its commit (event_publish). A change
 * made on another node reaches this one as rows in the events table and a
 * wake-up from the store's change feed (store.h "changes made by any
 * node"; PostgreSQL's NOTIFY, sent only if the change commits). The relay
 * is one thread. For every meeting with a stream on this node it keeps a
 * cursor, the number of the last row of that meeting it has read; when the
 * feed names the meeting, when the feed reconnects (resync) and once a
 * second anyway, it reads the meeting's rows above the cursor and hands
 * each row of a device streaming here to event_deliver, in number order.
 * The meetings due are read together, in one snapshot and one query for up
 * to STORE_CURSORS_MAX of them (store_events_since_many), not one query
 * each: a node following thousands of meetings would otherwise make
 * thousands of round trips a second to learn, mostly, that nothing
 * happened. Rows are the truth and a notification
 * only a wake-up: one lost costs at most a second, a lost connection the
 * reconnection and one read. After a resync the relay also ends the stream
 * of every device the rows say nothing of but which is no longer present
 * (left_time set): rows kept EVENT_KEEP_MS may have been pruned while the
 * node was cut off.
 *
 * Where a cursor starts: the stream's own token check. live_stream_open
 * reads, in one snapshot, the device (present, its token right) and the
 * meeting's last row number L (store_events_last). Every row of the
 * meeting committed before that snapshot is numbered at most L, and every
 * row committed after it above L (a meeting's rows are numbered in commit
 * order, store.h). Rows at most L happened before the device was seen
 * present: none ended it (it is present in the snapshot), and what they
 * changed (a role) is what the device's state says; the stream must not
 * hear them again. Rows above L are news to it, each to be heard once.
 * So, under the hub lock as the stream registers, the device's
 * last-delivered number becomes at least L (live.c drops whatever comes at
 * or below it); then relay_watch sets the meeting's cursor to L, or leaves
 * it lower if it already is, or LOWERS it to L when the meeting was
 * followed already from further on (rows between were read while this
 * device was not watched, and were skipped for it), and reads the meeting
 * at once. Lowering re-reads rows other devices of the meeting have
 * heard: the device's last-delivered number drops them. Between the
 * snapshot and relay_watch a row for the device may be read and skipped
 * (not yet watched): the read relay_watch asks for finds it again. A row
 * the stream missed because it committed after the snapshot but was read
 * before the stream was watched is therefore always read again after.
 *
 * Twice and out of order: both the node's own publish (after its commit)
 * and the relay (after reading) deliver the node's own rows, in either
 * order. Each device record in the hub keeps the number of the last event
 * it was given and drops any at or below it (live_send), under the hub
 * lock: a device never hears an event twice or one older than another it
 * heard. The price: a news event (role-changed) that loses that race to a
 * later event of the same device is not heard (the later one, the state
 * the device reads, says more); a final one is never lost, it ends the
 * stream whichever comes first.
 *
 * Before commit: a node's own publish follows its commit; other nodes' rows
 * are read from a snapshot, which holds only committed rows. Neither can
 * tell a device of a change that does not commit.
 *
 * On a backend without a feed (SQLite: one node) the relay does not run:
 * relay_start gives NULL, and every function here takes NULL. */
#ifndef MEETD_LIVE_RELAY_H
#define MEETD_LIVE_RELAY_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store.h"

struct live_hub;
typedef struct relay relay;

/* How often the relay reads every meeting it follows, notified or not. */
#define RELAY_PASS_MS 1000

/* Starts the relay of hub h on st. 0 with *out set, 0 with *out NULL when
 * the store has no change feed (nothing to relay), -1 on failure. */
int relay_start(store *st, struct live_hub *h, relay **out);
/* Stops the thread (the tables stay usable: a stream closing later calls
 * relay_unwatch). */
void relay_stop(relay *r);
void relay_free(relay *r);

/* A stream of device_no (of meeting_id) opened from a snapshot in which
 * the meeting's last row was numbered from (the essay above). */
void relay_watch(relay *r, int64_t meeting_id, int64_t device_no, int64_t from);
/* That stream closed. */
void relay_unwatch(relay *r, int64_t meeting_id, int64_t device_no);

/* For the tests: a relay without a thread or store (its tables only), and
 * what it holds. relay_cursor answers false when the meeting is not
 * followed. */
relay *relay_table_new(void);
bool relay_cursor(relay *r, int64_t meeting_id, int64_t *cursor);
bool relay_watching(relay *r, int64_t device_no);
/* What a read of the meeting's rows up to event_no does to its cursor
 * (unless relay_watch lowered it since the read began). */
void relay_advance(relay *r, int64_t meeting_id, int64_t event_no);

#endif
