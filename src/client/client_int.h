/* libmeet internals shared by the files of src/client and its unit test. Not installed. */
#ifndef MEET_CLIENT_INT_H
#define MEET_CLIENT_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <curl/curl.h>

#include "libmeet.h"

#define MEET_DEFAULT_CONNECT_TIMEOUT_MS 10000L
#define MEET_DEFAULT_TIMEOUT_MS 30000L
#define MEET_MAX_RESPONSE (16u << 20)   /* no API answer comes near this */
#define MEET_MAX_CONNECTIONS 32L        /* open connections a client keeps for reuse */

struct meet_client {
    char *base;             /* scheme://host[:port][/prefix], no trailing '/' */
    size_t prefix_off;      /* base + prefix_off is the path prefix, "" or "/prefix" */
    char *app_id;           /* NULL when none */
    char *sdk_id;           /* NULL when none */
    char *secret_id;
    char *secret_key;
    char *ca_file;          /* NULL: the system's bundle */
    char *user_agent;
    long connect_timeout_ms;
    long timeout_ms;
    CURLSH *share;
    pthread_mutex_t locks[CURL_LOCK_DATA_LAST];
};

/* Records rc and a printf-style message in err (which may be NULL) and
 * returns rc. */
meet_rc meet_err_set(meet_error *err, meet_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void meet_err_clear(meet_error *err);

/* Makes sure the signer is ready (pthread_once around auth_init). */
meet_rc meet_signer_ready(void);

/* The header list of one signed request: X-TC-Key, X-TC-Timestamp,
 * X-TC-Nonce, X-TC-Signature, AppId and SdkId (when the client has them),
 * X-TC-Registered, Content-Type when has_body, then the extra lines. It also
 * removes the headers libcurl would add on its own and the contract does not
 * want (Expect, a form Content-Type). signed_uri is what the server sees on
 * the request line. The caller frees *out with curl_slist_free_all. */
meet_rc meet_headers_signed(const meet_client *c, const char *method, const char *signed_uri,
                            const char *body, size_t body_len, bool has_body,
                            const char *timestamp, const char *nonce,
                            const char *const *extra, struct curl_slist **out);

/* Unsigned requests (health, event streams) get only the extra lines and
 * the same removals. */
meet_rc meet_headers_plain(const char *const *extra, struct curl_slist **out);

/* One exchange. sign: add the signature headers. stream: no overall timeout
 * and the answer goes to sink (when not NULL) as it arrives. */
typedef size_t (*meet_sink_fn)(CURL *h, const char *buf, size_t n, void *arg);

typedef struct meet_call {
    const char *method;
    const char *uri;                /* after the prefix: "/v1/..." */
    const char *body;               /* NULL: no body */
    size_t body_len;
    const char *const *headers;     /* extra lines, NULL-terminated, or NULL */
    bool sign;
    bool stream;
    meet_sink_fn sink;              /* stream only */
    void *sink_arg;
    /* Optional: the final answer's headers are in (status >= 200). */
    void (*on_head)(long status, const char *trace_id, void *arg);
} meet_call;

/* Performs call. With no sink, resp receives the whole answer. The return
 * is about transport only: MEET_OK when an HTTP answer arrived, whatever its
 * status (resp->http_status says). */
meet_rc meet_perform(meet_client *c, const meet_call *call, meet_response *resp,
                     meet_error *err);

/* Turns a received answer into the JSON interface's result. */
meet_rc meet_json_result(const meet_response *resp, json_t **out, meet_error *err);

/* ---- Server-Sent Events parser --------------------------------------------- */

typedef struct meet_sse {
    char *line;             /* the line being read */
    size_t line_len, line_cap;
    char *event;            /* NULL: "message" */
    char *data;
    size_t data_len, data_cap;
    bool have_data;
    bool skip_lf;           /* the last byte was CR: a following LF ends nothing */
    meet_event_fn fn;
    void (*end_fn)(const char *reason, void *arg);   /* optional; set after init */
    void *arg;
} meet_sse;

#define MEET_SSE_LINE_MAX (1u << 20)

void meet_sse_init(meet_sse *p, meet_event_fn fn, void *arg);
/* Feeds bytes; calls fn for each complete event, and end_fn (when set) for
 * each ": end REASON" comment, with REASON. Returns 0 to go on, 1 when
 * fn asked to stop, -1 when out of memory or a line exceeds MEET_SSE_LINE_MAX. */
int meet_sse_feed(meet_sse *p, const char *buf, size_t n);
void meet_sse_release(meet_sse *p);

#endif
