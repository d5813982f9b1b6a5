#include "http/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/ids.h"
#include "common/log.h"
#include "common/metrics.h"
#include "live/live.h"

/* Headers and the request line must fit in this per-connection pool;
 * libmicrohttpd answers 431 when they do not. Every open event stream keeps
 * its pool, so this is most of a stream's memory: 12 KiB holds any signed
 * request with room to spare (nginx's default header buffers are 8 KiB)
 * and keeps 10,000 streams within budget (bench/README.md). */
#define HTTP_CONNECTION_MEMORY (12 * 1024)
/* What a request's head may take of that pool: libmicrohttpd reads any head
 * that fits, and then writes the answer's status line and headers into
 * what is left. A head that left less than they need (a signed request
 * some 150 bytes under libmicrohttpd's own 431) ran its handler, committed
 * its write, and was then closed without an answer. So meetd refuses a
 * head past HTTP_HEAD_MAX itself, before anything runs, and keeps the rest
 * for the answer: a stream's headers and its first chunk's buffer (at
 * least 128 bytes) take under 512. The head's weight is its bytes plus
 * HTTP_FIELD_COST for each header, cookie and query argument
 * (libmicrohttpd keeps a record of each in the pool too: 64 bytes each,
 * measured on 0.9.75) and the Cookie header's value once more (it parses
 * a copy). tests/e2e/test_hostile.py walks a head across the limit. */
#define HTTP_HEAD_MAX (HTTP_CONNECTION_MEMORY - 1024)
#define HTTP_FIELD_COST 64
#define HTTP_PATH_LOG_MAX 200
/* A chunked body over the limit is read and dropped up to this many bytes,
 * so that an ordinary client gets its 413 rather than a reset while it is
 * still sending; past it the connection is answered and closed at once. */
#define HTTP_DISCARD_MAX (4 * API_BODY_MAX)
/* How long a stopping server waits for the answers to writes committed as
 * it stopped (http_writes_drain): they are on their way within
 * milliseconds, the bound is for a connection that cannot take them. */
#define HTTP_STOP_ANSWER_MS 5000

typedef struct http_req http_req;
static void http_access_log(const http_req *r, const char *extra);

/* Requests run on libmicrohttpd's network threads, start to finish, except
 * for a write's commit: the connection is suspended while its write waits
 * in the store's queue, and resumed by the store's writer once it is
 * decided (http_write_done). No thread waits for a commit, and a request
 * crosses threads only twice, however many share a commit. */
typedef struct http_writes {
    pthread_mutex_t lock;
    pthread_cond_t cond;       /* signalled when pending or answering drops to 0 */
    unsigned pending;          /* queued, not yet decided and resumed */
    unsigned answering;        /* queued, and their request not yet completed */
    bool stopping;             /* new writes are not queued (http_stop) */
    /* The /metrics gauge: queued, not yet decided. It drops before the
     * connection is resumed, so that a client that has its answer never
     * sees its own write still waiting; pending drops after. */
    atomic_size_t waiting;
} http_writes;

/* A connection while it is sending us a request. libmicrohttpd only bounds
 * silence (the idle timeout); a client that trickles a byte now and then
 * would hold its connection for ever. The watchdog (which also writes out
 * the batched access lines every 100 ms: log_access) gives each request
 * --request-timeout to arrive whole, then shuts the socket down. */
typedef struct http_conn {
    int fd;
    int64_t since_ms;          /* the current request began to arrive */
    bool receiving;
    /* The request whose line was read and whose completion libmicrohttpd
     * has not reported (NULL: none). It does not report every one: a
     * request line whose query arguments fill the connection's memory is
     * dropped unanswered, without a word to http_completed, and its
     * http_req was lost (a few KiB a connection, for anyone who can
     * connect). Such a request is logged and freed with its connection
     * (http_notify_connection). Touched only on the connection's thread. */
    struct http_req *req;
    struct http_conn *prev;
    struct http_conn *next;
} http_conn;

typedef struct http_watchdog {
    pthread_mutex_t lock;      /* also held while a socket is shut down, so
                                  that its fd cannot be closed and reused */
    pthread_cond_t cond;
    http_conn *head;
    int64_t timeout_ms;
    bool stopping;
    bool started;
    pthread_t thread;
} http_watchdog;

struct http_server {
    struct MHD_Daemon *daemon;
    const api_env *env;
    uint16_t port;
    bool metrics_public;
    http_writes writes;
    http_watchdog dog;
};

/* One request from its first line to its completion. */
struct http_req {
    char *raw_uri;
    int64_t start_us;
    char trace[33];
    char method[12];
    char path[HTTP_PATH_LOG_MAX + 1];
    char *body;
    size_t len;
    size_t discarded;
    bool headers_seen;
    bool too_large;
    bool answered;
    bool stream;               /* an event stream: logged when it opens too */
    bool close;                /* answer with Connection: close */
    int status;                /* 0 until a response is queued */
    int error_code;
    api_call call;
    /* While its write is queued (api_write_pending after dispatch): the
     * connection (suspended meanwhile), and the store's answer once ready
     * is set. */
    http_server *server;
    struct MHD_Connection *conn;
    atomic_bool ready;
    store_rc write_rc;
    bool answering;            /* counted in http_writes.answering */
};

static http_conn *http_conn_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci != NULL ? ci->socket_context : NULL;
}

static void http_req_free(http_req *r)
{
    json_decref(r->call.out);
    free(r->call.out_json);
    free(r->body);
    free(r->raw_uri);
    free(r);
}

/* Called by libmicrohttpd with the request line's URI before it is decoded:
 * the signature covers exactly those bytes. */
static void *http_uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    http_req *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->raw_uri = strdup(uri);
    if (r->raw_uri == NULL || ids_trace(r->trace) != 0) {
        free(r->raw_uri);
        free(r);
        return NULL;
    }
    r->start_us = clock_mono_us();
    /* The path as sent until libmicrohttpd has decoded it (http_access):
     * what a request it drops before that is logged under. Never the query,
     * which may hold a device token. */
    size_t n = strcspn(uri, "?");
    if (n > HTTP_PATH_LOG_MAX)
        n = HTTP_PATH_LOG_MAX;
    memcpy(r->path, uri, n);
    r->path[n] = '\0';
    http_conn *c = http_conn_of(conn);
    if (c != NULL)
        c->req = r;
    return r;
}

/* ---- the request watchdog -------------------------------------------------- */

static void http_conn_phase(http_server *s, struct MHD_Connection *conn, bool receiving)
{
    http_conn *c = http_conn_of(conn);
    if (c == NULL)
        return;
    pthread_mutex_lock(&s->dog.lock);
    c->receiving = receiving;
    c->since_ms = clock_mono_ms();
    pthread_mutex_unlock(&s->dog.lock);
}

static void http_notify_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                                   enum MHD_ConnectionNotificationCode toe)
{
    http_server *s = cls;
    http_conn *c = *socket_context;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c = calloc(1, sizeof *c);
        if (c == NULL || ci == NULL) {
            free(c);
            return;   /* unwatched: the idle timeout still applies */
        }
        c->fd = ci->connect_fd;
        c->since_ms = clock_mono_ms();
        c->receiving = true;
        pthread_mutex_lock(&s->dog.lock);
        c->next = s->dog.head;
        if (c->next != NULL)
            c->next->prev = c;
        s->dog.head = c;
        pthread_mutex_unlock(&s->dog.lock);
        *socket_context = c;
        return;
    }
    if (c == NULL)
        return;
    if (c->req != NULL) {
        /* Dropped by libmicrohttpd without a completion (http_conn.req):
         * its access line, as for any request that ended unanswered. */
        http_access_log(c->req, " aborted=1");
        http_req_free(c->req);
        c->req = NULL;
    }
    pthread_mutex_lock(&s->dog.lock);
    if (c->prev != NULL)
        c->prev->next = c->next;
    else
        s->dog.head = c->next;
    if (c->next != NULL)
        c->next->prev = c->prev;
    pthread_mutex_unlock(&s->dog.lock);
    free(c);
    *socket_context = NULL;
}

static void *http_watchdog_main(void *arg)
{
    http_server *s = arg;
    http_watchdog *d = &s->dog;
    pthread_setname_np(pthread_self(), "http-watchdog");
    pthread_mutex_lock(&d->lock);
    while (!d->stopping) {
        int64_t now = clock_mono_ms();
        for (http_conn *c = d->head; c != NULL; c = c->next) {
            if (c->receiving && now - c->since_ms > d->timeout_ms) {
                /* libmicrohttpd sees the connection end and cleans up. */
                shutdown(c->fd, SHUT_RDWR);
                c->receiving = false;
                log_info("request not received whole within %lld ms: connection closed",
                         (long long)d->timeout_ms);
            }
        }
        /* The access lines batched meanwhile go out now (log_access),
         * outside the lock: a slow stderr must not hold up connections. */
        pthread_mutex_unlock(&d->lock);
        log_flush();
        pthread_mutex_lock(&d->lock);
        if (d->stopping)
            break;
        struct timespec until = clock_mono_deadline(100);
        pthread_cond_timedwait(&d->cond, &d->lock, &until);
    }
    pthread_mutex_unlock(&d->lock);
    return NULL;
}

static int http_watchdog_start(http_server *s, unsigned timeout_s)
{
    http_watchdog *d = &s->dog;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&d->lock, NULL);
    pthread_cond_init(&d->cond, &ca);
    pthread_condattr_destroy(&ca);
    d->timeout_ms = (int64_t)timeout_s * 1000;
    if (pthread_create(&d->thread, NULL, http_watchdog_main, s) != 0)
        return -1;
    d->started = true;
    return 0;
}

static void http_watchdog_stop(http_watchdog *d)
{
    if (d->started) {
        pthread_mutex_lock(&d->lock);
        d->stopping = true;
        pthread_cond_signal(&d->cond);
        pthread_mutex_unlock(&d->lock);
        pthread_join(d->thread, NULL);
        d->started = false;
    }
}

static void http_writes_answered(http_writes *w, http_req *r);

/* ---- access log ------------------------------------------------------------ */

/* The access line's text, built by hand: vsnprintf was a tenth of a
 * /healthz request's instructions. */
typedef struct http_line {
    char buf[512];
    size_t len;
} http_line;

static void http_line_add(http_line *l, const char *text)
{
    size_t n = strlen(text);
    if (n > sizeof l->buf - l->len)
        n = sizeof l->buf - l->len;
    memcpy(l->buf + l->len, text, n);
    l->len += n;
}

/* A request's method or decoded path, as a URI would carry it: every byte
 * outside printable ASCII, the space and '%' itself as %XX. The path is
 * decoded (a client's %0A is a newline by now), and the line must stay one
 * line of space-separated fields: a path may not start a forged line or a
 * forged field. At most max bytes are added, never part of an escape. */
static void http_line_escaped(http_line *l, const char *text, size_t max)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t room = sizeof l->buf - l->len;
    if (max > room)
        max = room;
    char *p = l->buf + l->len;
    char *end = p + max;
    for (const unsigned char *q = (const unsigned char *)text; *q != '\0'; q++) {
        if (*q > 0x20 && *q < 0x7f && *q != '%') {
            if (end - p < 1)
                break;
            *p++ = (char)*q;
        } else {
            if (end - p < 3)
                break;
            *p++ = '%';
            *p++ = hex[*q >> 4];
            *p++ = hex[*q & 0x0f];
        }
    }
    l->len = (size_t)(p - l->buf);
}

static void http_line_int(http_line *l, long long v)
{
    char digits[24];
    size_t n = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        digits[sizeof digits - 1 - n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    if (v < 0)
        digits[sizeof digits - 1 - n++] = '-';
    if (n > sizeof l->buf - l->len)
        n = sizeof l->buf - l->len;
    memcpy(l->buf + l->len, digits + sizeof digits - n, n);
    l->len += n;
}

static void http_access_log(const http_req *r, const char *extra)
{
    int64_t us = clock_mono_us() - r->start_us;
    if (us < 0)
        us = 0;
    /* A stream counts once, when it opens: its lifetime is no latency. */
    if (strcmp(extra, " stream=closed") != 0)
        metrics_request(r->status, us);
    /* "access method=%s path=%s status=%d error_code=%d
     * latency_ms=%lld.%03lld trace=%s%s": milliseconds with three
     * decimals, in integers. */
    http_line l = {.len = 0};
    http_line_add(&l, "access method=");
    http_line_escaped(&l, r->method[0] ? r->method : "-", 3 * sizeof r->method);
    http_line_add(&l, " path=");
    http_line_escaped(&l, r->path[0] ? r->path : "-", HTTP_PATH_LOG_MAX);
    http_line_add(&l, " status=");
    http_line_int(&l, r->status);
    http_line_add(&l, " error_code=");
    http_line_int(&l, r->error_code);
    http_line_add(&l, " latency_ms=");
    http_line_int(&l, us / 1000);
    char frac[5] = {'.', (char)('0' + us % 1000 / 100), (char)('0' + us % 100 / 10),
                    (char)('0' + us % 10), '\0'};
    http_line_add(&l, frac);
    http_line_add(&l, " trace=");
    http_line_add(&l, r->trace);
    http_line_add(&l, extra);
    log_access(l.buf, l.len);
}

static void http_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                           enum MHD_RequestTerminationCode toe)
{
    http_req *r = *req_cls;
    if (r == NULL)
        return;
    if (r->stream)
        http_access_log(r, " stream=closed");
    else
        http_access_log(r, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " aborted=1");
    /* The connection ended after its write was decided but before the
     * handler ran again (the server stopping without waiting for the
     * answer any longer): what follows the commit still runs. */
    if (api_write_pending(&r->call) && atomic_load_explicit(&r->ready, memory_order_acquire))
        api_write_finish(&r->call, r->write_rc);
    http_writes_answered(&((http_server *)cls)->writes, r);
    /* Keep-alive: the next request's clock starts now. */
    http_conn_phase(cls, conn, true);
    http_conn *c = http_conn_of(conn);
    if (c != NULL && c->req == r)
        c->req = NULL;
    http_req_free(r);
    *req_cls = NULL;
}

static const char *http_header(void *io, const char *name)
{
    return MHD_lookup_connection_value(io, MHD_HEADER_KIND, name);
}

static const char *http_query(void *io, const char *name)
{
    return MHD_lookup_connection_value(io, MHD_GET_ARGUMENT_KIND, name);
}

static enum MHD_Result http_send(struct MHD_Connection *conn, http_req *r, api_call *c)
{
    int status;
    struct MHD_Response *resp;
    if (c->err.err == ME_OK && c->out_json != NULL) {
        /* Written as text already (api_out_text): handed over as it is. */
        status = MHD_HTTP_OK;
        resp = MHD_create_response_from_buffer(c->out_json_len, c->out_json,
                                               MHD_RESPMEM_MUST_FREE);
        if (resp == NULL)
            return MHD_NO;   /* out_json is freed with the request */
        c->out_json = NULL;
    } else if (c->err.err == ME_OK && (c->out_text != NULL || c->out == NULL)) {
        /* A fixed answer (`{}` when none was set: most writes'): its
         * static text, neither copied nor freed. */
        const char *text = c->out_text != NULL ? c->out_text : "{}";
        status = MHD_HTTP_OK;
        resp = MHD_create_response_from_buffer(strlen(text), (void *)text,
                                               MHD_RESPMEM_PERSISTENT);
        if (resp == NULL)
            return MHD_NO;
    } else {
        json_t *body = api_response_body(c, &status);
        char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
        json_decref(body);
        if (text == NULL) {
            /* Out of memory while building a reply: a fixed one needs none. */
            static const char oom[] =
                "{\"error_info\":{\"error_code\":5108,\"new_error_code\":200005108,"
                "\"message\":\"internal error\"}}";
            text = strdup(oom);
            status = 500;
            if (text == NULL)
                return MHD_NO;
        }
        resp = MHD_create_response_from_buffer(strlen(text), text, MHD_RESPMEM_MUST_FREE);
        if (resp == NULL) {
            free(text);
            return MHD_NO;
        }
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    MHD_add_response_header(resp, "X-TC-Trace", r->trace);
    if (r->close)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    enum MHD_Result ret = MHD_queue_response(conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    r->status = status;
    r->error_code = c->err.err == ME_OK ? 0 : err_code(c->err.err);
    return ret;
}

static ssize_t http_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    return live_stream_read(cls, pos, buf, max);
}

static void http_stream_free(void *cls) { live_stream_close(cls); }

static ssize_t http_no_stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    return MHD_CONTENT_READER_END_OF_STREAM;
}

/* A device event stream: a response with no length whose bytes come from
 * the live hub as events happen. Without a stream (HEAD), the same
 * response with nothing in it: the same headers as GET's. */
static enum MHD_Result http_send_stream(struct MHD_Connection *conn, http_req *r,
                                        struct live_stream *stream)
{
    struct MHD_Response *resp =
        stream != NULL ? MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
                                                           http_stream_read, stream,
                                                           http_stream_free)
                       : MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096,
                                                           http_no_stream_read, NULL, NULL);
    /* libmicrohttpd (0.9.75) sends a chunked body's last chunk even for
     * HEAD: a body where none may be. Answered as to HTTP/1.0 there is no
     * chunking (the connection closes instead) and nothing follows the
     * headers. */
    if (stream == NULL && resp != NULL)
        MHD_set_response_options(resp, MHD_RF_HTTP_1_0_COMPATIBLE_STRICT, MHD_RO_END);
    if (resp == NULL) {
        if (stream != NULL)
            live_stream_close(stream);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    MHD_add_response_header(resp, "X-TC-Trace", r->trace);
    if (stream != NULL)
        live_stream_attach(stream, conn);
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    r->status = MHD_HTTP_OK;
    /* A stream lasts as long as its device: log its start, not only its end. */
    r->stream = stream != NULL;
    if (r->stream)
        http_access_log(r, " stream=open");
    return ret;
}

static bool http_client_loopback(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci == NULL || ci->client_addr == NULL)
        return false;
    const struct sockaddr *sa = ci->client_addr;
    if (sa->sa_family == AF_INET)
        return (ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) >> 24) == 127;
    if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
    }
    return false;
}

/* GET /metrics: Prometheus text, no authentication, so loopback only unless
 * the operator opens it up. */
static enum MHD_Result http_send_metrics(struct MHD_Connection *conn, http_req *r,
                                         http_server *s)
{
    metrics_gauges g = {
        .writes_pending = atomic_load_explicit(&s->writes.waiting, memory_order_relaxed),
        .event_streams = s->env->live != NULL ? live_stream_count(s->env->live) : 0,
        .replay_entries = s->env->replay != NULL ? auth_replay_size(s->env->replay) : 0,
    };
    char *page = metrics_render(&g);
    if (page == NULL)
        return MHD_NO;
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(strlen(page), page, MHD_RESPMEM_MUST_FREE);
    if (resp == NULL) {
        free(page);
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; version=0.0.4");
    MHD_add_response_header(resp, "X-TC-Trace", r->trace);
    enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    r->status = MHD_HTTP_OK;
    return ret;
}

static enum MHD_Result http_send_error(struct MHD_Connection *conn, http_req *r,
                                       const api_env *env, meetd_err e, const char *msg)
{
    api_call c;
    memset(&c, 0, sizeof c);
    c.env = env;
    err_set(&c.err, e, "%s", msg);
    return http_send(conn, r, &c);
}

/* Sends what the call's handler decided. */
static enum MHD_Result http_finish(struct MHD_Connection *conn, http_req *r)
{
    api_call *c = &r->call;
    if (c->err.err == ME_INTERNAL) {
        log_error("trace=%s internal error: %s", r->trace, c->err.msg);
        /* The client sees only the default message of an internal error. */
        err_set(&c->err, ME_INTERNAL, NULL);
    }
    if ((c->stream != NULL || c->stream_head) && c->err.err == ME_OK)
        return http_send_stream(conn, r, c->stream);
    return http_send(conn, r, c);
}

/* ---- writes ---------------------------------------------------------------- */

/* One queued write decided. */
static void http_writes_done(http_writes *w)
{
    pthread_mutex_lock(&w->lock);
    if (--w->pending == 0)
        pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* One request that queued a write completed: answered, or its connection
 * gone. */
static void http_writes_answered(http_writes *w, http_req *r)
{
    if (!r->answering)
        return;
    r->answering = false;
    pthread_mutex_lock(&w->lock);
    if (--w->answering == 0)
        pthread_cond_broadcast(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

/* On the store's writer thread. */
static void http_write_done(void *arg, store_rc rc)
{
    http_req *r = arg;
    /* Once resumed, the connection may finish and free r at any moment. */
    struct MHD_Connection *conn = r->conn;
    http_server *s = r->server;
    r->write_rc = rc;
    atomic_fetch_sub_explicit(&s->writes.waiting, 1, memory_order_relaxed);
    atomic_store_explicit(&r->ready, true, memory_order_release);
    MHD_resume_connection(conn);
    http_writes_done(&s->writes);
}

/* Suspends the connection and queues the call's write; false when it is not
 * queued (the server or the store is stopping). */
static bool http_write_queue(http_server *s, http_req *r, struct MHD_Connection *conn)
{
    http_writes *w = &s->writes;
    pthread_mutex_lock(&w->lock);
    bool open = !w->stopping;
    if (open) {
        w->pending++;
        w->answering++;
        atomic_fetch_add_explicit(&w->waiting, 1, memory_order_relaxed);
    }
    pthread_mutex_unlock(&w->lock);
    if (!open)
        return false;
    r->server = s;
    r->conn = conn;
    r->answering = true;
    /* Suspended first: the write may be decided before this returns. */
    MHD_suspend_connection(conn);
    if (store_write_async_key(s->env->st, r->call.write_key, r->call.write_fn, r->call.write_arg,
                              http_write_done, r) == 0)
        return true;
    atomic_fetch_sub_explicit(&w->waiting, 1, memory_order_relaxed);
    MHD_resume_connection(conn);
    http_writes_done(w);
    http_writes_answered(w, r);
    return false;
}

/* From here on writes are not queued; returns once every queued one is
 * decided and its connection resumed (libmicrohttpd cannot stop with
 * suspended connections), and then once each such request has been
 * answered or its connection has gone, or HTTP_STOP_ANSWER_MS has passed:
 * a client whose write was committed as meetd stopped gets its answer,
 * not a closed connection. */
static void http_writes_drain(http_writes *w)
{
    pthread_mutex_lock(&w->lock);
    w->stopping = true;
    while (w->pending > 0)
        pthread_cond_wait(&w->cond, &w->lock);
    struct timespec until = clock_mono_deadline(HTTP_STOP_ANSWER_MS);
    while (w->answering > 0 && pthread_cond_timedwait(&w->cond, &w->lock, &until) != ETIMEDOUT)
        ;
    if (w->answering > 0)
        log_error("stopping: %u answers to committed writes not sent in %d ms; their "
                  "connections are closed", w->answering, HTTP_STOP_ANSWER_MS);
    pthread_mutex_unlock(&w->lock);
}

static void http_writes_free(http_writes *w)
{
    pthread_cond_destroy(&w->cond);
    pthread_mutex_destroy(&w->lock);
}

static enum MHD_Result http_count_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                         const char *value)
{
    int *counts = cls;
    if (strcasecmp(key, MHD_HTTP_HEADER_CONTENT_LENGTH) == 0)
        counts[0]++;
    else if (strcasecmp(key, MHD_HTTP_HEADER_TRANSFER_ENCODING) == 0)
        counts[1]++;
    return MHD_YES;
}

/* Requests whose framing two readers could disagree on are refused, and
 * their connection closed: with two lengths (or a length and chunking) a
 * proxy and meetd could see different requests in the same bytes. A NUL
 * decoded from the URI would cut the path or a query value short. */
static const char *http_request_framing(struct MHD_Connection *conn, const char *raw_uri)
{
    int counts[2] = {0, 0};
    MHD_get_connection_values(conn, MHD_HEADER_KIND, http_count_header, counts);
    if (counts[0] > 1 || counts[1] > 1 || (counts[0] > 0 && counts[1] > 0))
        return "conflicting Content-Length / Transfer-Encoding headers";
    if (raw_uri != NULL && strcasestr(raw_uri, "%00") != NULL)
        return "the request URI holds a NUL byte";
    return NULL;
}

/* What a request's head weighs beyond its bytes (HTTP_HEAD_MAX). */
static enum MHD_Result http_weigh_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                        const char *value)
{
    size_t *extra = cls;
    *extra += HTTP_FIELD_COST;
    /* libmicrohttpd parses a copy of the Cookie header into its cookies. */
    if (kind == MHD_HEADER_KIND && strcasecmp(key, MHD_HTTP_HEADER_COOKIE) == 0 && value != NULL)
        *extra += strlen(value);
    return MHD_YES;
}

/* Whether the request's head leaves libmicrohttpd room to answer it
 * (HTTP_HEAD_MAX). */
static bool http_head_fits(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    if (ci == NULL)
        return true;
    size_t extra = 0;
    MHD_get_connection_values(
        conn, (enum MHD_ValueKind)(MHD_HEADER_KIND | MHD_COOKIE_KIND | MHD_GET_ARGUMENT_KIND),
        http_weigh_field, &extra);
    return ci->header_size + extra <= HTTP_HEAD_MAX;
}

/* src into dst (of size n), cut to fit: snprintf's "%s" without the
 * formatting machinery, once or twice a request. */
static void http_copy_cut(char *dst, size_t n, const char *src)
{
    size_t len = strnlen(src, n - 1);
    memcpy(dst, src, len);
    dst[len] = '\0';
}

static enum MHD_Result http_access(void *cls, struct MHD_Connection *conn, const char *url,
                                   const char *method, const char *version,
                                   const char *upload_data, size_t *upload_data_size,
                                   void **req_cls)
{
    http_server *s = cls;
    http_req *r = *req_cls;
    if (r == NULL)
        return MHD_NO;   /* allocation failed in http_uri_log: drop the connection */

    if (!r->headers_seen) {
        r->headers_seen = true;
        http_copy_cut(r->method, sizeof r->method, method);
        http_copy_cut(r->path, sizeof r->path, url);
        const char *bad = http_request_framing(conn, r->raw_uri);
        if (bad != NULL) {
            r->too_large = r->answered = r->close = true;
            return http_send_error(conn, r, s->env, ME_INVALID, bad);
        }
        if (!http_head_fits(conn)) {
            char why[160];
            snprintf(why, sizeof why,
                     "request line and headers too large: at most %d bytes, each header, "
                     "cookie and query argument counting %d more, cookies twice",
                     HTTP_HEAD_MAX, HTTP_FIELD_COST);
            r->too_large = r->answered = r->close = true;
            return http_send_error(conn, r, s->env, ME_HEAD_TOO_LARGE, why);
        }
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND,
                                                     MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl != NULL && strtoull(cl, NULL, 10) > API_BODY_MAX) {
            r->too_large = r->answered = true;
            return http_send_error(conn, r, s->env, ME_TOO_LARGE,
                                   "request body larger than 65536 bytes");
        }
        return MHD_YES;
    }

    if (*upload_data_size != 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->answered)
            return MHD_YES;
        if (r->too_large || r->len + n > API_BODY_MAX) {
            /* Chunked bodies have no Content-Length to refuse up front. */
            r->too_large = true;
            free(r->body);
            r->body = NULL;
            r->discarded += n;
            if (r->discarded + r->len <= HTTP_DISCARD_MAX)
                return MHD_YES;
            r->answered = true;
            return http_send_error(conn, r, s->env, ME_TOO_LARGE,
                                   "request body larger than 65536 bytes");
        }
        char *grown = realloc(r->body, r->len + n + 1);
        if (grown == NULL)
            return MHD_NO;
        r->body = grown;
        memcpy(r->body + r->len, upload_data, n);
        r->len += n;
        r->body[r->len] = '\0';
        return MHD_YES;
    }
    if (r->answered)
        return MHD_YES;
    if (r->too_large) {
        r->answered = true;
        return http_send_error(conn, r, s->env, ME_TOO_LARGE,
                               "request body larger than 65536 bytes");
    }

    /* HEAD as GET (api_dispatch): libmicrohttpd sends no body for it. */
    if ((strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) &&
        strcmp(url, "/metrics") == 0) {
        if (s->metrics_public || http_client_loopback(conn))
            return http_send_metrics(conn, r, s);
        return http_send_error(conn, r, s->env, ME_ROUTE, "no such API");
    }

    /* Called again once resumed: the write is decided. (A write that could
     * not be queued was finished before the first call returned.) */
    if (api_write_pending(&r->call)) {
        if (!atomic_load_explicit(&r->ready, memory_order_acquire))
            return MHD_YES;
        api_write_finish(&r->call, r->write_rc);
        return http_finish(conn, r);
    }
    http_conn_phase(s, conn, false);   /* received whole: the watchdog lets go */
    api_call *c = &r->call;
    c->env = s->env;
    c->method = method;
    c->path = url;
    c->raw_uri = r->raw_uri;
    c->body = r->body != NULL ? r->body : "";
    c->body_len = r->len;
    c->trace_id = r->trace;
    c->header = http_header;
    c->query = http_query;
    c->io = conn;
    c->now = clock_unix();
    c->write_later = true;
    api_dispatch(c);
    if (api_write_pending(c)) {
        if (http_write_queue(s, r, conn))
            return MHD_YES;
        /* Shutting down: the write runs here, and the answer goes at once. */
        api_write_finish(c, store_write(s->env->st, c->write_fn, c->write_arg));
    }
    return http_finish(conn, r);
}

static int http_bind_addr(const char *host, uint16_t port, struct sockaddr_storage *ss,
                          socklen_t *len, unsigned *flags)
{
    memset(ss, 0, sizeof *ss);
    if (strcmp(host, "localhost") == 0)
        host = "127.0.0.1";
    struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, host, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons(port);
        *len = sizeof *in4;
        return 0;
    }
    if (inet_pton(AF_INET6, host, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons(port);
        *len = sizeof *in6;
        *flags |= MHD_USE_IPv6;
        return 0;
    }
    return -1;
}

/* The listening socket is made here rather than by libmicrohttpd, so that
 * an address that cannot be had is a start-up error that says why. It has
 * SO_REUSEADDR (a restarted meetd binds while its predecessor's
 * connections linger in TIME_WAIT) and never SO_REUSEPORT: with it a
 * second meetd on a taken address would start without a word and the
 * kernel would split the connections between the two. */
static int http_listen(const http_config *cfg, unsigned *flags, int *out, uint16_t *port)
{
    struct sockaddr_storage ss;
    socklen_t len;
    if (http_bind_addr(cfg->host, cfg->port, &ss, &len, flags) != 0) {
        log_error("cannot listen on '%s': not an IP address", cfg->host);
        return -1;
    }
    const char *fmt = ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u";
    char where[300];
    snprintf(where, sizeof where, fmt, cfg->host, (unsigned)cfg->port);
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        log_error("cannot listen on %s: socket: %s", where, strerror(errno));
        return -1;
    }
    int on = 1;
    /* IPv6 only, as libmicrohttpd's own sockets without MHD_USE_DUAL_STACK. */
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on) != 0 ||
        (ss.ss_family == AF_INET6 &&
         setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof on) != 0)) {
        log_error("cannot listen on %s: setsockopt: %s", where, strerror(errno));
        close(fd);
        return -1;
    }
    if (bind(fd, (struct sockaddr *)&ss, len) != 0) {
        int e = errno;
        log_error("cannot listen on %s: %s%s", where, strerror(e),
                  e == EADDRINUSE ? " (another process, perhaps another meetd serve, "
                                    "listens there)" : "");
        close(fd);
        return -1;
    }
    struct sockaddr_storage bound;
    socklen_t blen = sizeof bound;
    if (listen(fd, SOMAXCONN) != 0 ||
        getsockname(fd, (struct sockaddr *)&bound, &blen) != 0) {
        log_error("cannot listen on %s: %s", where, strerror(errno));
        close(fd);
        return -1;
    }
    *port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
    *out = fd;
    return 0;
}

int http_start(const http_config *cfg, const api_env *env, http_server **out)
{
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    int fd;
    uint16_t port;
    if (http_listen(cfg, &flags, &fd, &port) != 0)
        return -1;
    http_server *s = calloc(1, sizeof *s);
    if (s == NULL) {
        close(fd);
        return -1;
    }
    pthread_mutex_init(&s->writes.lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&s->writes.cond, &ca);
    pthread_condattr_destroy(&ca);
    s->env = env;
    s->metrics_public = cfg->metrics_public;
    if (http_watchdog_start(s, cfg->request_timeout) != 0) {
        http_writes_free(&s->writes);
        free(s);
        close(fd);
        return -1;
    }
    /* From here the socket is libmicrohttpd's: MHD_stop_daemon closes it. */
    s->daemon = MHD_start_daemon(
        flags, port, NULL, NULL, http_access, s,
        MHD_OPTION_LISTEN_SOCKET, fd,
        MHD_OPTION_THREAD_POOL_SIZE, cfg->threads,
        MHD_OPTION_CONNECTION_LIMIT, cfg->max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, cfg->per_ip_connections,
        MHD_OPTION_CONNECTION_TIMEOUT, cfg->idle_timeout,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)HTTP_CONNECTION_MEMORY,
        MHD_OPTION_URI_LOG_CALLBACK, http_uri_log, s,
        MHD_OPTION_NOTIFY_COMPLETED, http_completed, s,
        MHD_OPTION_NOTIFY_CONNECTION, http_notify_connection, s,
        MHD_OPTION_END);
    if (s->daemon == NULL) {
        log_error("cannot serve on %s:%u: libmicrohttpd did not start", cfg->host,
                  (unsigned)port);
        http_watchdog_stop(&s->dog);
        http_writes_free(&s->writes);
        free(s);
        return -1;
    }
    s->port = port;
    *out = s;
    return 0;
}

uint16_t http_port(const http_server *s) { return s->port; }

void http_stop(http_server *s)
{
    if (s == NULL)
        return;
    http_writes_drain(&s->writes);
    MHD_stop_daemon(s->daemon);
    http_watchdog_stop(&s->dog);
    log_flush();   /* the last requests' access lines */
    http_writes_free(&s->writes);
    free(s);
}
