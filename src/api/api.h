/* The API layer: one thin handler per resource (parse -> core -> store ->
 * respond) and the route table that finds it.
 *
 * A handler sees an api_call, never libmicrohttpd: the HTTP layer fills the
 * request half and sends what the response half says. That keeps handlers
 * callable from tests and fuzzers without a socket. */
#ifndef MEETD_API_H
#define MEETD_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "auth/auth.h"
#include "common/err.h"
#include "common/jtext.h"
#include "core/core.h"
#include "store/store.h"

struct live_hub;
struct live_stream;
struct webhook_worker;

#define API_BODY_MAX (64 * 1024)
#define API_PARAMS_MAX 2
#define API_PARAM_MAX 256

typedef struct api_env {
    store *st;
    auth_replay *replay;      /* NULL disables replay protection (tests only) */
    auth_ratelimit *rl;       /* NULL: no rate limit */
    auth_keycache *keys;      /* NULL: every request reads its key from the store */
    struct live_hub *live;    /* device event streams */
    struct webhook_worker *hooks; /* NULL: webhooks off */
} api_env;

typedef struct api_call api_call;
typedef const char *(*api_lookup_fn)(void *io, const char *name);
/* What a handler does once its write is decided: e is ME_OK when it is
 * committed, else the error (already recorded on c). It owns arg. */
typedef void (*api_then_fn)(api_call *c, void *arg, meetd_err e);
/* A handler's transaction (api_read, api_write_then): ME_OK to commit, or
 * the error it recorded on the call (api_fail, api_store_fail), which
 * undoes its work. It may run more than once (store.h: a backend reruns a
 * job it could not serialise), so it starts by resetting what it fills. */
typedef meetd_err (*api_job_fn)(store_tx *tx, void *arg);

struct api_call {
    /* Request, filled by the HTTP layer. */
    const api_env *env;
    const char *method;
    const char *path;         /* decoded path, no query */
    const char *raw_uri;      /* path and query exactly as on the request line */
    const char *body;
    size_t body_len;
    const char *trace_id;
    api_lookup_fn header;     /* case-insensitive header lookup */
    api_lookup_fn query;      /* decoded query argument lookup */
    void *io;
    int64_t now;              /* wall clock, Unix seconds, read once */

    /* Filled by the router. */
    int n_param;
    char param[API_PARAMS_MAX][API_PARAM_MAX];
    char app_id[CORE_APPID_MAX + 1];
    /* Set for a verified signed request: a write spends its (timestamp,
     * nonce) in its own transaction (api_write_then). */
    bool spend;
    int64_t timestamp;
    uint64_t nonce;

    /* Response: err.err == ME_OK means 200 with `out` (owned; may be NULL
     * for `{}`), or, when `stream` is set, a device event stream; otherwise
     * the error body of err. */
    json_t *out;
    /* Or, for an answer of a fixed shape, its JSON text as is (static,
     * not freed): sent without building and serialising a tree. */
    const char *out_text;
    /* Or its JSON text written in one pass (api_out_text), owned: pages
     * of rows are encoded as they are read, with no tree in between. */
    char *out_json;
    size_t out_json_len;
    struct live_stream *stream;
    /* HEAD of an event stream that would open: the stream's headers, no
     * stream (opening one would end the device's live stream). */
    bool stream_head;
    meetd_error err;

    /* Set by the HTTP layer: a handler's write may finish after
     * api_dispatch returns (api_write_then). */
    bool write_later;
    /* The write api_write_then left to the HTTP layer (it queues
     * write_fn(write_arg)), and what follows. write_fn spends the
     * request's nonce and runs the handler's job_fn(job_arg). */
    store_fn write_fn;
    void *write_arg;
    int64_t write_key;        /* the meeting's id, once parsed: the write's key */
    api_job_fn job_fn;
    void *job_arg;
    meetd_err job_err;        /* job_fn's result, kept when the spend commits */
    api_then_fn then;
};

/* Routes, authenticates and runs the handler. When write_later is set and
 * the handler asked for a write, the call is not finished on return:
 * api_write_pending says so, the HTTP layer queues write_fn(write_arg)
 * with store_write_async and, once that is decided, calls
 * api_write_finish on the request's own thread. */
void api_dispatch(api_call *c);
bool api_write_pending(const api_call *c);
/* Runs what follows the write (rc: what the store said) and finishes the
 * call. Must be called exactly once for a pending write, even when the
 * client has gone: the work after a commit (events to device streams, the
 * webhook worker's wake-up) must not be lost with the connection. */
void api_write_finish(api_call *c, store_rc rc);

/* Sets a successful call's answer to v (owned from here on); v NULL (a
 * builder out of memory) records the internal error instead. */
meetd_err api_out(api_call *c, json_t *v);

/* The response body to send (a new reference) and its status; an answer
 * set as text (out_text, out_json) is parsed into a tree (for tests and
 * fuzzers: the HTTP layer sends the text as it is). */
json_t *api_response_body(const api_call *c, int *status);

/* ---- answers written as JSON text (common/jtext.h) ------------------ */

/* The text becomes the call's answer (ownership taken, t emptied); a failed
 * writer records the internal error instead, as api_out(NULL) does. */
meetd_err api_out_text(api_call *c, jtext *t);

/* ---- helpers for handlers (api/json.c, api/common.c) ---------------- */

/* Records an error on the call and returns it. */
meetd_err api_fail(api_call *c, meetd_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* size zeroed bytes (the caller's), or NULL with 5108 recorded. */
void *api_alloc(api_call *c, size_t size);

/* The body as a JSON object (duplicate keys refused); *out owned by caller. */
meetd_err api_body_object(api_call *c, json_t **out);

/* Typed fields. Absent and !required: ME_OK with *present false (present may
 * be NULL). Wrong type, missing required, too long: ME_INVALID. */
meetd_err api_field_str(api_call *c, json_t *obj, const char *key, bool required, char *buf,
                        size_t cap, bool *present);
meetd_err api_field_int(api_call *c, json_t *obj, const char *key, bool required,
                        long long *v, bool *present);
meetd_err api_field_bool(api_call *c, json_t *obj, const char *key, bool required, bool *v,
                         bool *present);
/* A string of decimal Unix seconds, as Tencent sends times. */
meetd_err api_field_time(api_call *c, json_t *obj, const char *key, bool required,
                         int64_t *v, bool *present);
/* A query argument parsed as a non-negative integer within [min, max]. */
meetd_err api_query_int(api_call *c, const char *name, long long min, long long max,
                        long long def, long long *v);

json_t *api_time_json(int64_t t);          /* "1700000000" */
/* obj[key] = s unless s is "" (an id a user does not have is absent, not
 * ""); nonzero when out of memory, as json_object_set_new. */
int api_set_nonempty(json_t *obj, const char *key, const char *s);
json_t *api_id_json(int64_t id);           /* decimal string */
const char *api_status_name(int status);   /* MEETING_STATE_* */

/* The meetingId path parameter, checked (9002/9003 as the contract says). */
meetd_err api_meeting_id(api_call *c, int64_t *id);
/* Loads the app's meeting inside tx; ME_NO_MEETING when absent. */
meetd_err api_load_meeting(api_call *c, store_tx *tx, int64_t id, core_meeting *m);
/* Resolves a user of the meeting named by kind/id, with their presence and
 * whether they are banned (a rooms_id by its ms_open_id). */
meetd_err api_resolve(api_call *c, store_tx *tx, int64_t meeting_id, core_id_type kind,
                      const char *id, core_party *out);
/* The user a request names as its operator by userid (participants),
 * refused (9042) when banned: core_operator_admit. */
meetd_err api_admit_userid(api_call *c, store_tx *tx, int64_t meeting_id, const char *userid);
/* Which operator forms an endpoint takes (operator.c): operator_id_type
 * values as bits, and the older carriers, read only when operator_id is
 * absent (operator_id wins). openid is refused whatever the mask. */
#define API_OP_USERID (1u << CORE_ID_USERID)
#define API_OP_ROOMS_ID (1u << CORE_ID_ROOMS_ID)
#define API_OP_MS_OPEN_ID (1u << CORE_ID_MS_OPEN_ID)
#define API_OP_LEGACY_USERID (1u << 8) /* the older `userid` */
#define API_OP_UUID (1u << 9)          /* real-control's seed form `uuid` */
/* The operator in the query string (?operator_id=&operator_id_type=, or
 * ?userid=): its type and id (copied into id), in one of the forms accept
 * takes and of that form's length; else 190004. */
meetd_err api_query_operator(api_call *c, unsigned accept, core_id_type *type, char *id,
                             size_t cap);
/* The same for a JSON body; accept may hold LEGACY_USERID or UUID, not both. */
meetd_err api_field_operator(api_call *c, json_t *body, unsigned accept, core_id_type *type,
                             char *id, size_t cap);
/* A target object: {to_operator_id, to_operator_id_type: 4} or {uuid}, plus
 * instanceid. `where` names it in messages ("users[2]", "user"). */
meetd_err api_field_target(api_call *c, json_t *obj, const char *where, core_id_type *type,
                           char *id, size_t cap, int *instanceid);
/* Maps a store failure inside a transaction to ME_INTERNAL (5108), an
 * unreachable backend (STORE_UNAVAILABLE) included. */
meetd_err api_store_fail(api_call *c, store_rc rc, const char *what);
/* Runs fn in a read transaction: fn's result, or ME_INTERNAL when the
 * store failed. */
meetd_err api_read(api_call *c, api_job_fn fn, void *arg);
/* Runs fn in a write transaction, then then(c, arg, result); the handler
 * must return right after, without touching arg. With write_later the
 * write runs after the handler returns, so that the request's thread
 * serves others while the commit is under way. Every write of a signed
 * request goes through here, and here its (AppId, timestamp, nonce) is
 * spent in the same transaction: a replay after a restart, when the replay
 * memory has forgotten it, is refused (190301) and changes nothing. */
void api_write_then(api_call *c, api_job_fn fn, void *arg, api_then_fn then);
/* A then for writes whose success needs nothing more than the default {}. */
void api_then_free(api_call *c, void *arg, meetd_err e);

/* Meeting fields as create takes them (meetings.c), shared with modify:
 * body's "hosts" (absent or null: m->hosts untouched) and its
 * "recurring_rule" (required; absent fields get create's defaults). */
meetd_err api_parse_hosts(api_call *c, json_t *body, core_meeting *m);
meetd_err api_parse_rule(api_call *c, json_t *body, core_meeting *m);
/* ---- a meeting as the API describes it (api/meetings.c) ------------ */

#define API_INFO_STATUS 1u     /* status (a query's answer, not a create's) */
#define API_INFO_FIRST_SUB 2u  /* sub_meetings[]: only the current occurrence */
/* meeting_info_list[i] of create, query and list: every field of Tencent's
 * models that meetd knows (docs/api.md), join_url included. NULL when out
 * of memory. */
json_t *api_meeting_info(api_call *c, const core_meeting *m, unsigned flags);
/* The meeting's join_url: http://<Host of the request>/meetd/v1/j/<code>. */
json_t *api_join_url_json(api_call *c, const core_meeting *m);

/* ---- handlers -------------------------------------------------------- */

typedef void (*api_handler)(api_call *c);

void api_meeting_create(api_call *c);
void api_meeting_get(api_call *c);
void api_meeting_update(api_call *c);
void api_meetings_get(api_call *c);
void api_join_page(api_call *c);
void api_meeting_cancel(api_call *c);
void api_meeting_dismiss(api_call *c);
void api_participants(api_call *c);
void api_realtime_participants(api_call *c);
void api_kickout(api_call *c);
void api_cohosts(api_call *c);
void api_join(api_call *c);
void api_leave(api_call *c);
void api_bans_list(api_call *c);
void api_bans_lift(api_call *c);
void api_audit(api_call *c);
void api_healthz(api_call *c);
void api_webhook_create(api_call *c);
void api_webhooks_list(api_call *c);
void api_webhook_delete(api_call *c);
void api_webhook_deliveries(api_call *c);
void api_events(api_call *c);

#endif
