/* Device event streams (Server-Sent Events).
 *
 * A present device may hold one stream, opened with its device token. The
 * hub tells a stream what happened to its device once the change is
 * committed (event.c calls it): `kicked`, `replaced` or `meeting-ended`,
 * each followed by the end of the stream, or `role-changed`, after which
 * the stream goes on. Streams cost no thread: a stream with nothing to send
 * is a suspended libmicrohttpd connection, resumed when an event arrives or
 * the heartbeat (a comment every 15 s) is due.
 *
 * Presence follows the stream: the hub tells its on_presence when a
 * device's stream opens and when it goes (not at a stop), and presence.c
 * keeps that in the store's rows, where a device whose stream has been
 * gone longer than the grace period is found and marked left, as a real
 * client's time-out would, by this node or (after a crash) another. A
 * device that never opened a stream stays until it leaves or is removed.
 *
 * Streams of other nodes' changes: the relay (relay.h) reads the rows
 * other nodes commit and delivers them here too; the hub starts it with
 * itself when the store has a change feed (PostgreSQL) and tells it which
 * meetings and devices stream here (live_stream_open, live_stream_close).
 *
 * Streams are capped, in all and per app (live_config), because each holds
 * a connection and a descriptor for as long as its device is present: the
 * HTTP layer keeps the connections above max_streams for API requests, and
 * one app's devices cannot take every stream the server has. A stream that
 * replaces its device's own (or is told at once that its device is gone)
 * is not counted against the caps: it frees as much as it takes. */
#ifndef MEETD_LIVE_H
#define MEETD_LIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/core.h"
#include "store/store.h"

struct MHD_Connection;

typedef struct live_config {
    int heartbeat_ms;       /* comment line interval, 15000 */
    int final_keep_ms;      /* a removed device's event kept for a late stream; 0: 5000 */
    unsigned max_streams;   /* streams open at once, all apps; 0: no cap */
    unsigned max_streams_per_app; /* streams open at once of one app; 0: no cap */
    /* This node (presence_node_id): the "superseded" rows naming it end its
     * streams (live_superseded). 0: none do (no presence). */
    int64_t node_id;
} live_config;

typedef struct live_hub live_hub;
typedef struct live_stream live_stream;

/* A device's stream opened (streaming true) or its client went away
 * (false) at at_ms (Unix ms). Called UNDER the hub lock, in the order the
 * streams opened and went: it must be quick, must not call the hub, and
 * must not wait for the store (presence.c queues it). Not called for a
 * stream ended by its device's final event, by a newer stream of the
 * device on this node, or by the hub's stop. */
typedef struct live_change {
    int64_t device_no;
    bool streaming;
    int64_t at_ms;
    /* The stream's number in the hub (live_stream_refused). */
    uint64_t stream_no;
    /* Opened: the stream_node its token check read, 0 for none (what
     * store_stream_attach compares with). */
    int64_t seen_node;
} live_change;
typedef void (*live_presence_fn)(void *arg, const live_change *c);
/* Starts the hub and its timer thread. on_presence (may be NULL) hears of
 * streams that open and go. */
int live_hub_new(const live_config *cfg, store *st, live_presence_fn on_presence,
                 void *presence_arg, live_hub **out);
/* Ends every stream (their connections are resumed so that the server can
 * stop) and stops the timer. Call before stopping the HTTP server. */
void live_hub_shutdown(live_hub *h);
void live_hub_free(live_hub *h);

/* ---- events: call after the change is committed (event.c does) ---------- */

/* Frames `event: name` / `data: data` (one line of JSON) for the device's
 * stream. final: the device is gone; its stream ends after the event, and
 * the event is kept a while for a stream that opens just after (it hears
 * it and ends). Not final: only an open stream hears it, and goes on.
 * event_no: the event's row (store_event); the device hears nothing
 * numbered at or below the last it heard (its own node's publish and the
 * relay both deliver a row, in either order: relay.h). 0: not a row. */
void live_send(live_hub *h, int64_t event_no, int64_t device_no, const char *name,
               const char *data, bool final);
/* The device left by itself: its stream ends without an event, after the
 * comment ": end left". event_no as for live_send. */
void live_left(live_hub *h, int64_t event_no, int64_t device_no);
/* A "superseded" row (event.h EVENT_SUPERSEDED): the device's stream
 * moved to another node. When node_id is this hub's (live_config.node_id),
 * the device's stream here ends after ": end superseded", as when a second
 * stream of the device opens on this node, unless it opened from a
 * snapshot that held the row already (it is the newer one). */
void live_superseded(live_hub *h, int64_t event_no, int64_t device_no, int64_t node_id);
/* The store refused to record that stream_no became device_no's stream
 * (another node recorded a newer one since its open): it ends as
 * live_superseded's, if it is still open (true: it was). */
bool live_stream_refused(live_hub *h, int64_t device_no, uint64_t stream_no);
/* The store says the device is no longer present, and no event told its
 * stream (rows missed for good, relay.h): it ends as live_left's, unless
 * an event already ended it. */
void live_gone(live_hub *h, int64_t device_no);

/* ---- streams: used by the HTTP layer ------------------------------------ */

/* What live_stream_open and live_stream_probe answer. */
typedef enum live_open_rc {
    LIVE_OPEN_FAILED = -1,      /* the store or memory failed (logged) */
    LIVE_OPEN_OK = 0,
    LIVE_OPEN_UNKNOWN = 1,      /* the token names no present device */
    LIVE_OPEN_APP_FULL = 2,     /* the device's app has max_streams_per_app open */
    LIVE_OPEN_FULL = 3,         /* max_streams are open */
    LIVE_OPEN_STOPPING = 4,     /* meetd is stopping: no new stream */
} live_open_rc;

/* Opens the stream of a present device, found by its token's parts
 * (core_token_parse; the secret as SHA-256). Returns LIVE_OPEN_OK with
 * *out set, or why not. */
live_open_rc live_stream_open(live_hub *h, int64_t device_no, const uint8_t secret_hash[32],
                     live_stream **out);
/* What live_stream_open would answer now, without opening anything (HEAD):
 * no other stream of the device ends. */
live_open_rc live_stream_probe(live_hub *h, int64_t device_no, const uint8_t secret_hash[32]);
/* The caps the hub was started with (0: none). */
void live_stream_limits(const live_hub *h, unsigned *max_streams, unsigned *per_app);
/* Binds the stream to its connection; from now on events resume it. */
void live_stream_attach(live_stream *s, struct MHD_Connection *conn);
/* libmicrohttpd's content reader: bytes to send, 0 after suspending the
 * connection when there is nothing yet, or -1 (end of stream). */
ssize_t live_stream_read(live_stream *s, uint64_t pos, char *buf, size_t max);
/* libmicrohttpd's free callback: the connection is done with the stream. */
void live_stream_close(live_stream *s);
size_t live_stream_count(live_hub *h);
/* Calls fn for every device with an open stream, under the hub lock (fn as
 * quick as on_presence, and ordered with it: presence.c re-attaches a
 * node's streams through it). */
typedef void (*live_device_fn)(void *arg, int64_t device_no, uint64_t stream_no);
void live_stream_devices(live_hub *h, live_device_fn fn, void *arg);
/* Devices the hub remembers (a stream or a final event). */
size_t live_record_count(live_hub *h);

#endif
