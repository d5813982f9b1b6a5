/* Webhooks: an app's other systems hear of participants joining, leaving and
 * being removed.
 *
 * An event is written to the store's outbox inside the same transaction as
 * the change it reports, one row per registered webhook of the app; so an
 * event exists exactly when its change is committed. A worker thread delivers
 * the outbox afterwards, at least once, retrying with exponential backoff,
 * and never on an API request's path. Request body and signature follow
 * Tencent's webhook scheme: {"data": base64(event JSON)} with headers
 * timestamp, nonce and signature = hex SHA-1 of the sorted concatenation of
 * (token, timestamp, nonce, data). */
#ifndef MEETD_LIVE_WEBHOOK_H
#define MEETD_LIVE_WEBHOOK_H

#include <stdbool.h>
#include <stdint.h>

#include "core/core.h"
#include "store/store.h"

typedef enum webhook_event_type {
    WEBHOOK_PARTICIPANT_JOINED = 0,   /* "meeting.participant-joined" */
    WEBHOOK_PARTICIPANT_LEFT = 1,     /* "meeting.participant-left" */
    WEBHOOK_PARTICIPANT_KICKED = 2,   /* "meeting.participant-kicked-out" (meetd's own) */
} webhook_event_type;

typedef struct webhook_event {
    webhook_event_type type;
    const core_meeting *meeting;      /* its app_id says whose webhooks hear it */
    const char *trace_id;             /* the request's id ("" for the server's own acts) */
    int64_t time_ms;                  /* operate_time */
    /* joined / left: the participant. kicked: who removed (user may be NULL
     * with operator_userid set, for a creator or host who never joined). */
    const core_user *user;
    const char *operator_userid;
    int instanceid;
    /* kicked only: who was removed, why, and whether they may come back. */
    const core_user *to_user;
    int to_instanceid;
    const char *reason;
    bool allow_rejoin;
} webhook_event;

/* Records the event for every webhook of the meeting's app (none: nothing
 * happens). Runs inside the caller's write transaction. STORE_OK or an error.
 * Adds the deliveries recorded to *queued (may be NULL): only when that is
 * nonzero need the worker be woken after the commit. */
store_rc webhook_enqueue(store_tx *tx, const webhook_event *ev, int *queued);
/* Two events of one change (of one meeting), as webhook_enqueue of first
 * then of second, each webhook getting first before second; the webhooks
 * are read once. */
store_rc webhook_enqueue_two(store_tx *tx, const webhook_event *first,
                             const webhook_event *second, int *queued);

/* Webhooks one app may register (the API and `meetd app webhook add` refuse
 * more): each event costs one outbox row per webhook inside the request's
 * transaction. */
#define WEBHOOK_MAX_PER_APP 20

/* "meeting.participant-joined" and so on; NULL for an unknown type. */
const char *webhook_event_name(webhook_event_type type);
/* The event as Tencent's webhook JSON (compact UTF-8), exactly what is
 * base64-encoded into a delivery's "data". Caller frees; NULL on failure. */
char *webhook_event_json(const webhook_event *ev);
/* Tencent's webhook signature: lowercase hex SHA-1 of the four strings
 * sorted bytewise and concatenated. out gets 40 characters and a NUL.
 * Returns 0 or -1. */
int webhook_signature(const char *token, const char *timestamp, const char *nonce,
                      const char *data, char out[41]);
/* An absolute http:// or https:// URL with a host, at most STORE_URL_MAX bytes. */
bool webhook_url_valid(const char *url);
/* 1..STORE_TOKEN_MAX bytes of printable ASCII without spaces. */
bool webhook_token_valid(const char *token);

typedef struct webhook_config {
    int max_attempts;       /* then the delivery is marked failed */
    int backoff_base_ms;    /* first retry after this; doubles each time */
    int backoff_max_ms;     /* cap of the delay */
    int timeout_ms;         /* one delivery attempt */
    bool public_only;       /* refuse to connect to loopback, private and
                               link-local addresses (checked per connection,
                               after DNS, so a name cannot smuggle them) */
    const char *proxy;      /* NULL: connect directly, whatever proxy
                               variables the environment holds; else every
                               delivery goes through this proxy URL, and
                               public_only checks the proxy's address only
                               (outlives the worker) */
} webhook_config;

/* A proxy URL: http://, https://, socks4://, socks4a://, socks5:// or
 * socks5h:// with a host, at most STORE_URL_MAX bytes, no spaces. */
bool webhook_proxy_valid(const char *url);

/* Whether an address is one public_only refuses. An IPv6 address that
 * carries an IPv4 one (IPv4-compatible, -mapped or -translated, NAT64
 * 64:ff9b::/96, 6to4, Teredo) is judged by the IPv4 it carries; the rest of
 * 64:ff9b::/32 (the local-use 64:ff9b:1::/48) is refused. */
struct sockaddr;
bool webhook_address_private(const struct sockaddr *sa);

/* The delay before the attempt after `attempts` failed ones:
 * backoff_base_ms * 2^(attempts - 1), at most backoff_max_ms. */
int64_t webhook_backoff_ms(const webhook_config *cfg, int attempts);

typedef struct webhook_worker webhook_worker;

/* Starts the delivery thread. It resumes whatever the outbox holds. The
 * caller has run curl_global_init. Returns 0, or -1 (logged; also for a
 * config out of range). */
int webhook_worker_start(store *st, const webhook_config *cfg, webhook_worker **out);
/* Tells the worker that new events were committed (cheap; any thread;
 * w may be NULL: webhooks off). */
void webhook_worker_wake(webhook_worker *w);
/* Stops the thread and frees (NULL: nothing); prompt even while receivers
 * hang. Attempts under way are abandoned: their deliveries stay pending and
 * are made after a restart. */
void webhook_worker_stop(webhook_worker *w);

#endif
