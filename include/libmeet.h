/* libmeet: a C client for the Tencent Meeting OpenAPI as meetd serves it.
 *
 * The same client talks to meetd and to https://api.meeting.qq.com: it signs
 * every request with the AK/SK scheme (docs/api.md "Authentication") and
 * sends only the headers Tencent documents.
 *
 * Usage
 *
 *     meet_global_init();                      // once, before any thread starts
 *     meet_config cfg = {.endpoint = "http://127.0.0.1:8080", .app_id = ...,
 *                        .secret_id = ..., .secret_key = ...};
 *     meet_client *c;
 *     meet_error err;
 *     if (meet_client_new(&cfg, &c, &err) != MEET_OK) ...
 *     json_t *out;
 *     if (meet_meeting_get(c, "7567173273889276131", "alice", 1, &out, &err) == MEET_OK) {
 *         ... use out ...
 *         json_decref(out);
 *     } else {
 *         fprintf(stderr, "%lld %s (trace %s)\n", err.error_code, err.message, err.trace_id);
 *     }
 *     meet_client_free(c);
 *     meet_global_cleanup();                   // once, after every thread is done
 *
 * The JSON interface
 *
 *   Request bodies are jansson values the caller keeps (borrowed, never
 *   modified): each call serialises its body once, compactly, and signs and
 *   sends exactly those bytes. Field names and types are those of
 *   docs/api.md; libmeet does not check them, the server does.
 *
 *   On MEET_OK, *out receives a new reference to the parsed response object,
 *   which the caller releases with json_decref(). A success with an empty body
 *   yields an empty object. On any other return *out is NULL.
 *
 * Errors
 *
 *   Every call returns a meet_rc and, when err is not NULL, fills *err (on
 *   success too: rc MEET_OK, http_status and trace_id set). A refusal by the
 *   server (any HTTP status >= 300, as the official SDKs decide) is MEET_EAPI
 *   with the status, error_info.error_code, new_error_code and message of the
 *   body, and the X-TC-Trace header, which names the request in the server's
 *   log.
 *
 * Threads
 *
 *   A meet_client may be used by any number of threads at once. Each call uses
 *   its own libcurl easy handle; the handles share one connection cache, DNS
 *   cache and TLS session cache, so consecutive calls reuse connections (up
 *   to 32 open connections are kept).
 */
#ifndef LIBMEET_H
#define LIBMEET_H

#include <stdbool.h>
#include <stddef.h>

#include <jansson.h>

#ifdef __cplusplus
extern "C" {
#endif

/* libmeet is built with hidden visibility: what this header declares is all
 * that leaves the library (libmeet.a is one object whose other names are
 * local), so a program may define its own auth_sign or meet_perform. */
#if defined(__GNUC__)
#pragma GCC visibility push(default)
#endif

#define MEET_VERSION "0.1.0"

#define MEET_MSG_MAX 512        /* meet_error.message, NUL included */
#define MEET_TRACE_MAX 128      /* meet_error.trace_id, NUL included */
#define MEET_SIGNATURE_LEN 88   /* base64 of 64 hex characters */
#define MEET_NONCE_MAX 24       /* a nonce as text, NUL included */

typedef enum meet_rc {
    MEET_OK = 0,
    MEET_EAPI,          /* the server answered with HTTP status >= 300 */
    MEET_ETRANSPORT,    /* no answer: DNS, connect, TLS, timeout, connection lost */
    MEET_EPROTO,        /* an answer the API never gives: not JSON, not an object, too large */
    MEET_EINVAL,        /* a bad argument; nothing was sent */
    MEET_ENOMEM,        /* out of memory; nothing was sent, or the answer was lost */
    MEET_EINTERNAL,     /* libmeet could not sign (crypto failure) or set up libcurl */
} meet_rc;

typedef struct meet_error {
    meet_rc rc;
    long http_status;               /* 0 when no HTTP answer arrived */
    long long error_code;           /* error_info.error_code, 0 when the body had none */
    long long new_error_code;       /* error_info.new_error_code, 0 when absent */
    char message[MEET_MSG_MAX];     /* error_info.message, or libmeet's own words */
    char trace_id[MEET_TRACE_MAX];  /* X-TC-Trace of the answer, "" when absent */
} meet_error;

/* A short English name of rc ("API error", "transport error", ...). */
const char *meet_strerror(meet_rc rc);

/* ---- library set-up ------------------------------------------------------ */

/* Initialises libcurl and fetches the HMAC implementation. Call once before
 * the first client is made and before other threads start; calls nest (each
 * needs a meet_global_cleanup). Returns MEET_OK or MEET_EINTERNAL. */
meet_rc meet_global_init(void);
/* Releases what meet_global_init took, once the last client is freed. */
void meet_global_cleanup(void);

/* ---- the client ---------------------------------------------------------- */

typedef struct meet_config {
    /* "http://127.0.0.1:8080", "https://api.meeting.qq.com", or with a path
     * prefix ("https://gw.example.com/meeting"), which is then part of the
     * URI that is signed. Required. */
    const char *endpoint;
    const char *app_id;         /* AppId header; NULL or "" sends none */
    const char *sdk_id;         /* SdkId header; NULL or "" sends none */
    const char *secret_id;      /* X-TC-Key. Without it (and secret_key) only the */
    const char *secret_key;     /* unsigned calls work. The key is never sent */
    long connect_timeout_ms;    /* 0: 10 s */
    long timeout_ms;            /* whole request, 0: 30 s (event streams have none) */
    const char *ca_file;        /* PEM bundle to verify https servers with; NULL: system's */
    const char *user_agent;     /* NULL: "libmeet/" MEET_VERSION */
} meet_config;

typedef struct meet_client meet_client;

/* Copies cfg (the caller may free its strings afterwards) into a new client.
 * MEET_EINVAL when the endpoint is missing or not an http:// or https:// URL
 * without query or fragment, when only one of secret_id and secret_key is
 * given, or when a header value holds a control character. A client without
 * keys can make only unsigned calls (meet_healthz, meet_events_watch); the
 * others then fail with MEET_EINVAL. */
meet_rc meet_client_new(const meet_config *cfg, meet_client **out, meet_error *err);
/* Frees the client and closes its connections; NULL is fine. No call may be
 * running on it. The secret key is wiped from memory. */
void meet_client_free(meet_client *c);

/* ---- signing (exposed for tests and for callers with their own transport) */

/* signature = base64(lowercase_hex(HMAC-SHA256(secret_key, string_to_sign)))
 * where string_to_sign = METHOD "\n" "X-TC-Key=" secret_id "&X-TC-Nonce=" nonce
 * "&X-TC-Timestamp=" timestamp "\n" uri "\n" body. The uri is the path and
 * query exactly as on the request line, body the exact bytes sent (body may be
 * NULL when body_len is 0). This is meetd's own signer (src/auth/signature.c).
 * Returns MEET_OK, MEET_EINVAL or MEET_EINTERNAL. */
meet_rc meet_sign(const char *secret_key, const char *method, const char *secret_id,
                  const char *nonce, const char *timestamp, const char *uri,
                  const char *body, size_t body_len, char out[MEET_SIGNATURE_LEN + 1]);

/* A fresh X-TC-Nonce as the official SDKs make it: milliseconds since the
 * epoch times 10^6 plus a random number below 10^6 (19 digits). Within one
 * process no two calls return the same value, even from many threads. */
void meet_nonce(char out[MEET_NONCE_MAX]);

/* ---- the generic call ---------------------------------------------------- */

/* The raw answer to a request. body is NUL-terminated (the NUL is not counted
 * in body_len) and owned by the struct: release it with meet_response_release. */
typedef struct meet_response {
    long http_status;
    char *body;
    size_t body_len;
    char trace_id[MEET_TRACE_MAX];
} meet_response;

void meet_response_release(meet_response *r);

/* Sends one signed request. method is upper case ("GET", "POST", "PUT",
 * "DELETE"); uri starts with "/" and is sent and signed as given (escape
 * query values yourself, see meet_escape). body/body_len are the exact bytes
 * to send, NULL for none; with a body, Content-Type: application/json is sent.
 * headers is NULL or a NULL-terminated list of extra "Name: value" lines
 * (e.g. "Prefer: return=representation"); they are not signed, as in the
 * contract. resp is filled whenever an HTTP answer arrived (MEET_OK or
 * MEET_EAPI) and zeroed otherwise; release it in every case. */
meet_rc meet_request_raw(meet_client *c, const char *method, const char *uri,
                         const char *body, size_t body_len, const char *const *headers,
                         meet_response *resp, meet_error *err);

/* meet_request_raw with a JSON body (NULL: none) and a parsed JSON answer in
 * *out (see "The JSON interface" above). */
meet_rc meet_request(meet_client *c, const char *method, const char *uri, const json_t *body,
                     const char *const *headers, json_t **out, meet_error *err);

/* Percent-encodes s for a path segment or query value: every byte but
 * A-Z a-z 0-9 - . _ ~ becomes %XX. Returns a malloc'd string, NULL when out of
 * memory; the caller frees it. */
char *meet_escape(const char *s);

/* ---- one call per endpoint (docs/api.md) --------------------------------- */

/* POST /v1/meetings. body: {userid, instanceid, subject, type, start_time,
 * end_time, hosts?, meeting_type?, recurring_rule?}. */
meet_rc meet_meeting_create(meet_client *c, const json_t *body, json_t **out, meet_error *err);

/* Who asks, on a query or a participants list (operator_id_type): a
 * userid, or a rooms_id (in meetd, the ms_open_id of an MRA device present
 * in the meeting). */
#define MEET_OPERATOR_USERID 1
#define MEET_OPERATOR_ROOMS_ID 3

/* GET /v1/meetings/{meeting_id}?operator_id=…&operator_id_type=…&instanceid=…
 * (the query as Tencent's current SDK sends it). */
meet_rc meet_meeting_query(meet_client *c, const char *meeting_id, const char *operator_id,
                           int operator_id_type, int instanceid, json_t **out, meet_error *err);

/* GET /v1/meetings?operator_id=…&operator_id_type=…&instanceid=…&meeting_code=…:
 * the meeting with this 9-digit code, answered as by id. */
meet_rc meet_meeting_by_code(meet_client *c, const char *meeting_code, const char *operator_id,
                             int operator_id_type, int instanceid, json_t **out,
                             meet_error *err);

/* GET /v1/meetings?userid=…&instanceid=…[&cursory=…&pos=…][&is_show_all_sub_meetings=1]:
 * the user's meetings in progress or yet to start, 20 a page. pos and
 * cursory are the previous page's next_pos and next_cursory (negative: not
 * sent, the first page). */
meet_rc meet_meetings_list(meet_client *c, const char *userid, int instanceid, long long pos,
                           long long cursory, bool all_sub_meetings, json_t **out,
                           meet_error *err);

/* meet_meeting_query with operator_id_type 1 (userid). */
meet_rc meet_meeting_get(meet_client *c, const char *meeting_id, const char *userid,
                         int instanceid, json_t **out, meet_error *err);

/* PUT /v1/meetings/{meeting_id}: modify. body: {userid (or operator_id with
 * operator_id_type 1), instanceid, and what changes: subject?, start_time?,
 * end_time?, hosts?, meeting_type?, recurring_rule?}. The body stays the
 * caller's; *out (the caller's, json_decref) is {meeting_number,
 * meeting_info_list:[{meeting_id, meeting_code}]}. */
meet_rc meet_meeting_update(meet_client *c, const char *meeting_id, const json_t *body,
                            json_t **out, meet_error *err);

/* POST /v1/meetings/{meeting_id}/cancel. body: {userid | operator_id +
 * operator_id_type, instanceid, reason_code, meeting_type?, reason_detail?,
 * sub_meeting_id?} (docs/api.md "Cancel"). */
meet_rc meet_meeting_cancel(meet_client *c, const char *meeting_id, const json_t *body,
                            json_t **out, meet_error *err);

/* POST /v1/meetings/{meeting_id}/dismiss. body: {operator_id +
 * operator_id_type | userid, instanceid, reason_code, reason_detail?,
 * retrieve_code?, force_dismiss_meeting?} (docs/api.md "Dismiss"). */
meet_rc meet_meeting_dismiss(meet_client *c, const char *meeting_id, const json_t *body,
                             json_t **out, meet_error *err);

/* GET /v1/meetings/{meeting_id}/participants?userid=…[&sub_meeting_id=…]
 * [&pos=…][&size=…]: the older form (meet_participants sends the current
 * one). sub_meeting_id NULL, pos or size negative: not sent. */
meet_rc meet_meeting_participants(meet_client *c, const char *meeting_id, const char *userid,
                                  const char *sub_meeting_id, long pos, long size,
                                  json_t **out, meet_error *err);

/* A participants request in Tencent's current form. The operator is
 * operator_id with operator_id_type (MEET_OPERATOR_USERID or
 * MEET_OPERATOR_ROOMS_ID, the types meetd serves for these lists; 0 is
 * taken as 1). NULL strings and negative numbers are not
 * sent. */
typedef struct meet_participants_query {
    const char *operator_id;
    int operator_id_type;
    const char *sub_meeting_id;
    long pos, size;                 /* participants: size 1..100 */
    long start_time, end_time;      /* participants: join-time filter, Unix seconds */
    long page, page_size;           /* real-time: page from 1, page_size 1..50 */
} meet_participants_query;

/* An empty query: nothing optional sent, operator_id_type 1. */
void meet_participants_query_init(meet_participants_query *q);

/* GET /v1/meetings/{meeting_id}/participants?[sub_meeting_id=…&]operator_id=…
 * &operator_id_type=…[&pos=…][&size=…][&start_time=…][&end_time=…], in the
 * order the official SDKs send them. */
meet_rc meet_participants(meet_client *c, const char *meeting_id,
                          const meet_participants_query *q, json_t **out, meet_error *err);

/* GET /v1/meetings/{meeting_id}/real_time_participants?[sub_meeting_id=…&]
 * operator_id=…&operator_id_type=…&page=…&page_size=…: the devices present now. */
meet_rc meet_realtime_participants(meet_client *c, const char *meeting_id,
                                   const meet_participants_query *q, json_t **out,
                                   meet_error *err);

/* PUT /v1/real-control/meetings/{meeting_id}/kickout. body: {operator_id,
 * operator_id_type | uuid, instanceid, allow_rejoin, reason?, users[]}.
 * With results, sends "Prefer: return=representation" (a meetd extension;
 * Tencent ignores it and answers {}), asking for {"results":[…]}. */
meet_rc meet_kickout(meet_client *c, const char *meeting_id, const json_t *body, bool results,
                     json_t **out, meet_error *err);

/* PUT /v1/real-control/meetings/{meeting_id}/cohosts. body: {operator…,
 * instanceid, action, user:{…}}. */
meet_rc meet_cohosts(meet_client *c, const char *meeting_id, const json_t *body, json_t **out,
                     meet_error *err);

/* POST /meetd/v1/meetings/{meeting_id}/join. body: {userid | guest_id,
 * nick_name?, instanceid}. The answer carries the device_token. */
meet_rc meet_device_join(meet_client *c, const char *meeting_id, const json_t *body,
                         json_t **out, meet_error *err);

/* POST /meetd/v1/meetings/{meeting_id}/leave. body: {ms_open_id | uuid, instanceid}. */
meet_rc meet_device_leave(meet_client *c, const char *meeting_id, const json_t *body,
                          json_t **out, meet_error *err);

/* GET /meetd/v1/meetings/{meeting_id}/bans */
meet_rc meet_bans_list(meet_client *c, const char *meeting_id, json_t **out, meet_error *err);

/* DELETE /meetd/v1/meetings/{meeting_id}/bans/{who}: who is any identity of
 * the user (userid, guest_id, ms_open_id, uuid); meetd refuses (190004) a
 * name that more than one user of the meeting has. */
meet_rc meet_bans_lift(meet_client *c, const char *meeting_id, const char *who, json_t **out,
                       meet_error *err);
/* The same with ?kind=KIND: who is that identity of the user, KIND one of
 * "userid", "guest_id", "ms_open_id", "uuid" (NULL: meet_bans_lift). */
meet_rc meet_bans_lift_kind(meet_client *c, const char *meeting_id, const char *kind,
                            const char *who, json_t **out, meet_error *err);

/* GET /meetd/v1/meetings/{meeting_id}/audit[?pos=…&size=…]; negative: not sent. */
meet_rc meet_audit(meet_client *c, const char *meeting_id, long pos, long size, json_t **out,
                   meet_error *err);

/* GET /healthz, unsigned. An unhealthy server's 500 is MEET_EAPI. */
meet_rc meet_healthz(meet_client *c, json_t **out, meet_error *err);

/* ---- device event streams ------------------------------------------------ */

/* Called once per Server-Sent Event, in order, as it arrives. event is the
 * event's name ("message" when the server gave none), data its data lines
 * joined by "\n" ("" when none). Both are valid only during the call. Return
 * 0 to go on, anything else to stop watching. */
typedef int (*meet_event_fn)(const char *event, const char *data, void *arg);

typedef struct meet_watch_handlers {
    meet_event_fn on_event;     /* required */
    /* Optional: called once when the server has accepted the stream (HTTP
     * 2xx), before any event, with the answer's X-TC-Trace ("" when none).
     * From then on no event for this device can be missed. */
    void (*on_open)(const char *trace_id, void *arg);
    void *arg;                  /* passed to each */
    /* Optional: called when the server says why it is about to close the
     * stream without an event (a ": end REASON" comment, docs/api.md
     * "Device event stream"), at most once per reason line, before the
     * close. reason is "left" (the device left), "superseded" (another
     * stream of the device took over) or "shutdown" (meetd is stopping),
     * or a word this libmeet does not know yet; valid only during the
     * call. A server older than these comments never calls it: its close
     * without an event gives no reason. Last in the struct, so that
     * initialisers written before it still mean what they meant. */
    void (*on_end)(const char *reason, void *arg);
    /* Optional: called for each `role-changed` event (after on_event, which
     * hears it too): the device's user was made (cohost true) or unmade
     * (false) co-host, and user_role is the role code the join answers
     * (docs/api.md), or -1 when the event gave none. The stream goes on.
     * Last in the struct, after on_end, for the same reason. */
    void (*on_role)(bool cohost, int user_role, void *arg);
} meet_watch_handlers;

/* GET /meetd/v1/events?device_token=… (unsigned: the token authorises it)
 * and calls h->on_event for each event until the server closes the stream
 * (after kicked, meeting-ended or replaced, or without an event when the
 * device left, another stream took over or meetd stops: h->on_end hears
 * which) or on_event asks to stop; both are MEET_OK. role-changed does not
 * end the stream. There is no overall
 * timeout, but a stream silent for 60 s (the server sends a heartbeat
 * comment every 15 s) is MEET_ETRANSPORT. A refused token is MEET_EAPI.
 * Other comments, id and retry fields are ignored; a stream is never
 * reconnected, since a closed stream means the device's session is over. */
meet_rc meet_events_watch(meet_client *c, const char *device_token,
                          const meet_watch_handlers *h, meet_error *err);

/* ---- errors ---------------------------------------------------------------- */

/* Fills err from an answer: rc MEET_OK for status 200..299, else MEET_EAPI
 * with error_info's fields when the body is {"error_info":{…}}, or a message
 * naming the status and the start of the body otherwise. trace may be NULL.
 * Used by every call; exposed for callers with their own transport. */
meet_rc meet_error_from_response(long http_status, const char *body, size_t body_len,
                                 const char *trace, meet_error *err);

/* ---- credentials profiles ------------------------------------------------ */

/* The credentials meetd writes to <data>/credentials (KEY=VALUE lines):
 * MEETD_ENDPOINT, MEETD_APP_ID, MEETD_SDK_ID, MEETD_SECRET_ID, MEETD_SECRET_KEY.
 * A field is NULL when not given. */
typedef struct meet_profile {
    char *endpoint;
    char *app_id;
    char *sdk_id;
    char *secret_id;
    char *secret_key;
} meet_profile;

/* Parses KEY=VALUE lines into p (which it zeroes first). Blank lines and
 * lines starting with '#' are skipped, an "export " prefix is allowed, a value
 * may be wrapped in single or double quotes, surrounding blanks are trimmed,
 * other keys are ignored, the last of repeated keys wins. A line without '='
 * is an error: MEET_EINVAL, and *bad_line (when not NULL) is its number
 * (from 1). On any error p is released. */
meet_rc meet_profile_parse(const char *text, meet_profile *p, int *bad_line);

/* Reads the file at path and parses it. MEET_EINVAL when it cannot be read
 * (errno tells why) or does not parse. */
meet_rc meet_profile_load(const char *path, meet_profile *p, int *bad_line);

/* Fills the fields p does not have yet from the MEETD_* environment
 * variables (an empty variable counts as unset). MEET_OK or MEET_ENOMEM. */
meet_rc meet_profile_merge_env(meet_profile *p);

/* Frees the fields (wiping the secret key) and zeroes p. */
void meet_profile_release(meet_profile *p);

#if defined(__GNUC__)
#pragma GCC visibility pop
#endif

#ifdef __cplusplus
}
#endif

#endif
