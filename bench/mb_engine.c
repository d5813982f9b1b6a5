/* Connections, a minimal HTTP/1.1 response parser (Content-Length, chunked,
 * read-until-close), and the per-thread epoll loop that drives them. */
#include <errno.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "meetbench.h"

#define MB_READ_CHUNK 16384
#define MB_HEAD_MAX (64 * 1024)
#define MB_BODY_KEEP (256 * 1024)    /* more of a body is read and dropped */
#define MB_STREAMS_OPENING 256       /* streams connecting at once, per thread */
#define MB_POLL_NS 10000000LL        /* 10 ms: how often phase changes are seen */
#define MB_REOPEN_NS 50000000LL      /* 50 ms between reconnects after a failure */
#define MB_EVENTS 256

/* ---- clock, random -------------------------------------------------------- */

int64_t mb_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* xorshift64*: the choice of slot or page needs no quality beyond spread. */
uint64_t mb_rand(mb_worker *w)
{
    uint64_t x = w->rng;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    w->rng = x;
    return x * 0x2545F4914F6CDD1DULL;
}

/* ---- buffers --------------------------------------------------------------- */

int mb_buf_reserve(mb_buf *b, size_t more)
{
    if (b->cap - b->len >= more)
        return 0;
    /* Reclaim consumed bytes before growing. */
    if (b->off > 0) {
        memmove(b->p, b->p + b->off, b->len - b->off);
        b->len -= b->off;
        b->off = 0;
        if (b->cap - b->len >= more)
            return 0;
    }
    size_t cap = b->cap ? b->cap : 1024;
    while (cap - b->len < more)
        cap *= 2;
    char *p = realloc(b->p, cap);
    if (p == NULL)
        return -1;
    b->p = p;
    b->cap = cap;
    return 0;
}

int mb_buf_append(mb_buf *b, const void *p, size_t n)
{
    if (mb_buf_reserve(b, n + 1) != 0)
        return -1;
    memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';       /* bodies are searched as strings */
    return 0;
}

int mb_buf_printf(mb_buf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(room ? b->p + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0)
            return -1;
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return 0;
        }
        if (mb_buf_reserve(b, (size_t)n + 1) != 0)
            return -1;
    }
}

void mb_buf_free(mb_buf *b)
{
    free(b->p);
    memset(b, 0, sizeof *b);
}

static void buf_clear(mb_buf *b)
{
    b->len = 0;
    b->off = 0;
    if (b->p != NULL)
        b->p[0] = '\0';
}

/* ---- requests ------------------------------------------------------------- */

/* Nonces are unique per process by a counter, and across processes and
 * runs because the counter starts at a random point below 2^63: two
 * meetbench processes started in the same millisecond (bench-cluster's
 * two nodes, which share one replay memory) drew the same start when it
 * was the clock, and one refused the other's setup as replayed. Two runs'
 * ranges of a few million nonces meet with a probability of ~1e-12. */
static _Atomic uint64_t mb_nonce;

void mb_nonce_init(void)
{
    uint64_t start;
    if (getrandom(&start, sizeof start, 0) != (ssize_t)sizeof start) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        start = ((uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec) ^
                ((uint64_t)getpid() << 40);
    }
    atomic_store(&mb_nonce, start >> 1);
}

static uint64_t next_nonce(void)
{
    return atomic_fetch_add_explicit(&mb_nonce, 1, memory_order_relaxed);
}

int mb_write_signed(mb_conn *c, const char *method, const char *uri, const char *body)
{
    const mb_config *cfg = c->w->run->cfg;
    char ts[24], nonce[24], sig[AUTH_SIG_LEN + 1];
    size_t blen = body != NULL ? strlen(body) : 0;
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    snprintf(nonce, sizeof nonce, "%llu", (unsigned long long)next_nonce());
    if (auth_sign(cfg->secret_key, method, cfg->secret_id, nonce, ts, uri, body, blen, sig) != 0)
        return -1;
    int rc = mb_buf_printf(&c->out,
                           "%s %s HTTP/1.1\r\nHost: %s\r\nX-TC-Key: %s\r\nX-TC-Timestamp: %s\r\n"
                           "X-TC-Nonce: %s\r\nX-TC-Signature: %s\r\nAppId: %s\r\n",
                           method, uri, mb_conn_endpoint(c)->host_header, cfg->secret_id, ts,
                           nonce, sig, cfg->app_id);
    if (rc == 0 && cfg->sdk_id[0] != '\0')
        rc = mb_buf_printf(&c->out, "SdkId: %s\r\n", cfg->sdk_id);
    if (rc == 0 && body != NULL)
        rc = mb_buf_printf(&c->out, "Content-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                           blen, body);
    else if (rc == 0)
        rc = mb_buf_printf(&c->out, "\r\n");
    return rc;
}

int mb_write_plain(mb_conn *c, const char *method, const char *uri)
{
    return mb_buf_printf(&c->out, "%s %s HTTP/1.1\r\nHost: %s\r\n\r\n", method, uri,
                         mb_conn_endpoint(c)->host_header);
}

const mb_endpoint *mb_conn_endpoint(const mb_conn *c)
{
    const mb_config *cfg = c->w->run->cfg;
    return c->role == MB_ROLE_STREAM ? &cfg->stream : &cfg->api;
}

/* ---- connections ---------------------------------------------------------- */

static int conn_arm(mb_conn *c, bool want_out)
{
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP | (want_out ? EPOLLOUT : 0u),
                             .data.ptr = c};
    if (epoll_ctl(c->w->epfd, EPOLL_CTL_MOD, c->fd, &ev) != 0)
        return -1;
    c->want_out = want_out;
    return 0;
}

static void conn_reset_parser(mb_conn *c)
{
    c->rs = MB_RS_HEAD;
    c->status = 0;
    c->chunked = false;
    c->close_after = false;
    c->remaining = 0;
    buf_clear(&c->body);
}

int mb_conn_open(mb_conn *c)
{
    const mb_endpoint *to = mb_conn_endpoint(c);
    c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (c->fd < 0)
        return -1;
    int one = 1;
    setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(c->fd, (const struct sockaddr *)&to->addr, sizeof to->addr) != 0 &&
        errno != EINPROGRESS) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->connecting = true;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP, .data.ptr = c};
    if (epoll_ctl(c->w->epfd, EPOLL_CTL_ADD, c->fd, &ev) != 0) {
        close(c->fd);
        c->fd = -1;
        return -1;
    }
    c->want_out = true;
    buf_clear(&c->in);
    buf_clear(&c->out);
    conn_reset_parser(c);
    c->n_inflight = 0;
    return 0;
}

/* A stream stops counting as one being opened once its first line came, or
 * once it is gone. */
static void stream_settle(mb_conn *c)
{
    if (c->stream_opening) {
        c->stream_opening = false;
        c->w->opening--;
    }
}

void mb_conn_close(mb_conn *c)
{
    if (c->fd >= 0) {
        epoll_ctl(c->w->epfd, EPOLL_CTL_DEL, c->fd, NULL);
        close(c->fd);
    }
    c->fd = -1;
    c->connecting = false;
    c->want_out = false;
    if (c->role == MB_ROLE_STREAM)
        stream_settle(c);
}

/* Where a completion at `now` of a request started at `start` is counted:
 * inside the measured window only when both ends are in it. */
static mb_stats *stats_for(mb_worker *w, int64_t start, int64_t now)
{
    mb_run *run = w->run;
    if (start < run->measure_ns || now > run->end_ns)
        return w->warm;
    int64_t ended = atomic_load_explicit(&run->ended_ns, memory_order_relaxed);
    return ended == 0 || now <= ended ? w->meas : w->warm;
}

/* The connection failed or was closed under requests: each one still in
 * flight is an error, the step is dropped, and the connection comes back
 * later. A stream's end is its scenario's business. */
static void conn_fail(mb_conn *c, int xerr, int64_t now)
{
    mb_worker *w = c->w;
    if (c->role == MB_ROLE_STREAM) {
        if (!c->finished)
            mb_scen_stream_end(c, now);
        mb_conn_close(c);
        c->finished = true;
        return;
    }
    for (int i = 0; i < c->n_inflight; i++)
        mb_stats_error(stats_for(w, c->inflight[i].start_ns, now), 0, xerr);
    if (w->run->phase != MB_PHASE_LOAD && c->n_inflight > 0)
        atomic_store(&w->run->failed, true);
    c->n_inflight = 0;
    c->busy = false;
    mb_conn_close(c);
    c->reopen_ns = now + MB_REOPEN_NS;
}

static int conn_flush(mb_conn *c)
{
    mb_buf *o = &c->out;
    while (o->off < o->len) {
        ssize_t n = send(c->fd, o->p + o->off, o->len - o->off, MSG_NOSIGNAL);
        if (n > 0) {
            o->off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return c->want_out ? 0 : conn_arm(c, true);
        return -1;
    }
    buf_clear(o);
    return c->want_out ? conn_arm(c, false) : 0;
}

/* ---- responses ------------------------------------------------------------- */

static bool header_is(const char *line, size_t len, const char *name, const char **value)
{
    size_t n = strlen(name);
    if (len <= n || line[n] != ':' || strncasecmp(line, name, n) != 0)
        return false;
    const char *v = line + n + 1;
    while (v < line + len && (*v == ' ' || *v == '\t'))
        v++;
    *value = v;
    return true;
}

static bool value_has(const char *v, const char *end, const char *token)
{
    size_t n = strlen(token);
    for (; v + n <= end; v++)
        if (strncasecmp(v, token, n) == 0)
            return true;
    return false;
}

/* Parses the status line and headers in [p, p + len); *length is -1 when
 * no Content-Length was given. */
static int parse_head(mb_conn *c, const char *p, size_t len, long long *length)
{
    if (len < 12 || strncmp(p, "HTTP/1.", 7) != 0 || p[8] != ' ')
        return -1;
    c->status = atoi(p + 9);
    if (c->status < 100 || c->status > 999)
        return -1;
    *length = -1;
    const char *end = p + len;
    const char *line = memchr(p, '\n', len);
    while (line != NULL && line + 1 < end) {
        line++;
        const char *eol = memchr(line, '\n', (size_t)(end - line));
        size_t n = (size_t)((eol != NULL ? eol : end) - line);
        if (n > 0 && line[n - 1] == '\r')
            n--;
        const char *v;
        if (header_is(line, n, "content-length", &v))
            *length = strtoll(v, NULL, 10);
        else if (header_is(line, n, "transfer-encoding", &v))
            c->chunked = value_has(v, line + n, "chunked");
        else if (header_is(line, n, "connection", &v))
            c->close_after = value_has(v, line + n, "close");
        line = eol;
    }
    return 0;
}

static int body_take(mb_conn *c, const char *p, size_t n, int64_t now)
{
    if (c->body.len < MB_BODY_KEEP && mb_buf_append(&c->body, p, n) != 0)
        return -1;
    if (c->role == MB_ROLE_STREAM) {
        mb_scen_stream_data(c, now);
        if (c->stream_ready)
            stream_settle(c);
    }
    return 0;
}

/* --requests: the answer that reaches the count ends the measurement
 * (answers already on their way are still counted). */
static void count_answer(mb_run *run, int64_t now)
{
    long n = atomic_fetch_add_explicit(&run->answered, 1, memory_order_relaxed) + 1;
    if (n == run->cfg->requests) {
        atomic_store(&run->ended_ns, now);
        atomic_store(&run->stop, true);
    }
}

/* A response is complete: count it, tell the scenario, and end the step
 * when it was the step's last. */
static void conn_response(mb_conn *c, int64_t now)
{
    mb_worker *w = c->w;
    if (c->role == MB_ROLE_STREAM) {
        if (c->status < 200 || c->status > 299)
            mb_stats_error(w->meas, c->status, mb_error_code(c->body.p, c->body.len));
        c->n_inflight = 0;
        mb_scen_stream_end(c, now);
        c->finished = true;
        return;
    }
    if (c->n_inflight == 0)
        return;    /* an answer nobody asked for: ignored */
    mb_req r = c->inflight[0];
    memmove(&c->inflight[0], &c->inflight[1], (size_t)(c->n_inflight - 1) * sizeof r);
    c->n_inflight--;
    mb_stats *st = stats_for(w, r.start_ns, now);
    if (c->status >= 200 && c->status <= 299)
        mb_hist_add(&st->op[r.op], now - r.start_ns);
    else
        mb_stats_error(st, c->status, mb_error_code(c->body.p, c->body.len));
    if (st == w->meas && w->run->cfg->requests > 0)
        count_answer(w->run, now);
    mb_scen_response(c, &r, c->status, c->body.p != NULL ? c->body.p : "", c->body.len);
    if (++c->step.done == c->step.n)
        c->busy = false;
}

/* After the head: how the body is delimited. */
static mb_parse_state body_state(mb_conn *c, long long length)
{
    if (c->chunked)
        return MB_RS_CHUNK_SIZE;
    if (length >= 0) {
        c->remaining = (size_t)length;
        return MB_RS_BODY;
    }
    if (c->status == 204 || c->status == 304)
        return MB_RS_BODY;    /* remaining 0 */
    c->close_after = true;
    return MB_RS_UNTIL_EOF;
}

/* One step of the parser over the unread input. 1: progress (maybe a whole
 * response), 0: more input needed, -1: malformed. */
static int parse_step(mb_conn *c, int64_t now)
{
    mb_buf *in = &c->in;
    char *p = in->p + in->off;
    size_t avail = in->len - in->off;
    switch (c->rs) {
    case MB_RS_HEAD: {
        char *end = avail >= 4 ? memmem(p, avail, "\r\n\r\n", 4) : NULL;
        if (end == NULL)
            return avail > MB_HEAD_MAX ? -1 : 0;
        conn_reset_parser(c);
        long long length;
        if (parse_head(c, p, (size_t)(end - p), &length) != 0)
            return -1;
        in->off += (size_t)(end - p) + 4;
        if (c->status < 200) {     /* 1xx: a final answer follows */
            conn_reset_parser(c);
            return 1;
        }
        c->rs = body_state(c, length);
        if (c->rs == MB_RS_BODY && c->remaining == 0) {
            conn_response(c, now);
            c->rs = MB_RS_HEAD;
        }
        return 1;
    }
    case MB_RS_BODY:
    case MB_RS_CHUNK_DATA: {
        size_t n = avail < c->remaining ? avail : c->remaining;
        if (n == 0)
            return 0;
        if (body_take(c, p, n, now) != 0)
            return -1;
        in->off += n;
        c->remaining -= n;
        if (c->remaining > 0)
            return 1;
        if (c->rs == MB_RS_CHUNK_DATA) {
            c->rs = MB_RS_CHUNK_END;
        } else {
            conn_response(c, now);
            c->rs = MB_RS_HEAD;
        }
        return 1;
    }
    case MB_RS_CHUNK_SIZE: {
        char *eol = memchr(p, '\n', avail);
        if (eol == NULL)
            return avail > 1024 ? -1 : 0;
        char *end;
        unsigned long long size = strtoull(p, &end, 16);
        if (end == p)
            return -1;
        in->off += (size_t)(eol - p) + 1;
        c->remaining = (size_t)size;
        c->rs = size == 0 ? MB_RS_TRAILER : MB_RS_CHUNK_DATA;
        return 1;
    }
    case MB_RS_CHUNK_END:
        if (avail < 2)
            return 0;
        if (p[0] != '\r' || p[1] != '\n')
            return -1;
        in->off += 2;
        c->rs = MB_RS_CHUNK_SIZE;
        return 1;
    case MB_RS_TRAILER: {
        char *eol = memchr(p, '\n', avail);
        if (eol == NULL)
            return avail > MB_HEAD_MAX ? -1 : 0;
        bool empty = eol == p || (eol == p + 1 && p[0] == '\r');
        in->off += (size_t)(eol - p) + 1;
        if (empty) {
            conn_response(c, now);
            c->rs = MB_RS_HEAD;
        }
        return 1;
    }
    case MB_RS_UNTIL_EOF:
        if (avail == 0)
            return 0;
        if (body_take(c, p, avail, now) != 0)
            return -1;
        in->off += avail;
        return 1;
    }
    return -1;
}

static int conn_parse(mb_conn *c, int64_t now)
{
    int rc = 0;
    while (c->fd >= 0 && (rc = parse_step(c, now)) > 0) {
        /* A response asked to close: whatever follows is not ours. */
        if (c->rs == MB_RS_HEAD && c->close_after)
            return 1;
    }
    if (c->in.off == c->in.len)
        buf_clear(&c->in);
    return c->fd >= 0 && rc < 0 ? -1 : 0;
}

/* Reads until the socket is drained. Returns 0, or -1 after the connection
 * failed (and was dealt with). */
static int conn_read(mb_conn *c, int64_t *now)
{
    for (;;) {
        if (mb_buf_reserve(&c->in, MB_READ_CHUNK) != 0) {
            conn_fail(c, MB_XERR_MALFORMED, *now);
            return -1;
        }
        size_t room = c->in.cap - c->in.len - 1;
        ssize_t n = recv(c->fd, c->in.p + c->in.len, room, 0);
        if (n > 0) {
            *now = mb_now_ns();
            c->in.len += (size_t)n;
            int rc = conn_parse(c, *now);
            if (rc < 0) {
                conn_fail(c, MB_XERR_MALFORMED, *now);
                return -1;
            }
            if (c->role == MB_ROLE_STREAM && c->finished) {
                mb_conn_close(c);      /* the stream ended: nothing more here */
                return -1;
            }
            if (rc > 0) {              /* Connection: close: reconnect at once */
                conn_fail(c, MB_XERR_CLOSED, *now);
                c->reopen_ns = *now;
                return -1;
            }
            if ((size_t)n < room)
                return 0;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        if (n == 0 && c->rs == MB_RS_UNTIL_EOF) {
            conn_response(c, *now);
            c->rs = MB_RS_HEAD;
        }
        /* Closed between responses with nothing asked: not an error. */
        bool idle = c->rs == MB_RS_HEAD && c->in.len == c->in.off && c->n_inflight == 0;
        conn_fail(c, MB_XERR_CLOSED, *now);
        if (idle)
            c->reopen_ns = *now;
        return -1;
    }
}

/* ---- scheduling ----------------------------------------------------------- */

static int64_t rate_interval_ns(const mb_config *cfg)
{
    return (int64_t)(1e9 * cfg->connections / cfg->rate);
}

/* Starts c's next step when it is free (and, open loop, when it is due),
 * and sends what the step allows: its next request, or with --pipeline all
 * of them. Returns 0, or -1 after the connection failed. */
static int conn_advance(mb_conn *c, int64_t now)
{
    mb_run *run = c->w->run;
    const mb_config *cfg = run->cfg;
    if (c->fd < 0 || c->connecting || c->finished)
        return 0;
    if (!c->busy) {
        if (atomic_load_explicit(&run->stop, memory_order_relaxed) ||
            (run->phase == MB_PHASE_LOAD && now >= run->end_ns))
            return 0;
        bool open_loop = cfg->rate > 0 && c->role == MB_ROLE_LOAD &&
                         (run->phase == MB_PHASE_LOAD || run->phase == MB_PHASE_STREAMS);
        if (open_loop && now < c->next_due_ns)
            return 0;
        int rc = mb_scen_next_step(c, &c->step);
        if (rc < 0)
            c->finished = true;
        if (rc == 0 && open_loop)      /* no work yet: look again in a ms */
            c->next_due_ns = now + 1000000 + (int64_t)(1e9 * c->id / cfg->rate);
        if (rc <= 0)
            return 0;
        c->busy = true;
        c->step.due_ns = now;
        if (open_loop) {
            /* The step is late when the connection was busy at its time:
             * its latency counts from when it was due (no coordinated
             * omission). */
            c->step.due_ns = c->next_due_ns;
            c->next_due_ns += rate_interval_ns(cfg);
        }
    }
    bool sent = false;
    while (c->step.sent < c->step.n && (c->n_inflight == 0 || cfg->pipeline)) {
        mb_req *r = &c->step.req[c->step.sent];
        r->start_ns = c->step.sent == 0 ? c->step.due_ns : mb_now_ns();
        if (mb_scen_write(c, r) != 0)
            return -1;
        c->inflight[c->n_inflight++] = *r;
        c->step.sent++;
        sent = true;
    }
    if (sent && conn_flush(c) != 0) {
        conn_fail(c, MB_XERR_CLOSED, now);
        return -1;
    }
    return 0;
}

static void conn_connected(mb_conn *c, int64_t now)
{
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0 ||
        conn_arm(c, false) != 0) {
        /* Nothing was in flight, yet a refused connection is an error. */
        mb_stats_error(stats_for(c->w, now, now), 0, MB_XERR_CONNECT);
        conn_fail(c, MB_XERR_CONNECT, now);
        if (c->w->run->phase != MB_PHASE_LOAD && c->role == MB_ROLE_LOAD &&
            !atomic_exchange(&c->w->run->failed, true))
            fprintf(stderr, "meetbench: cannot connect to %s: %s\n",
                    mb_conn_endpoint(c)->host_header, strerror(err ? err : errno));
        return;
    }
    c->connecting = false;
}

static void conn_event(mb_conn *c, uint32_t events, int64_t now)
{
    if (c->fd < 0)
        return;
    if (c->connecting) {
        conn_connected(c, now);
        if (c->fd < 0)
            return;
    }
    if (events & (EPOLLIN | EPOLLHUP | EPOLLERR | EPOLLRDHUP)) {
        if (conn_read(c, &now) != 0)
            return;
    }
    if ((events & EPOLLOUT) && c->want_out && conn_flush(c) != 0) {
        conn_fail(c, MB_XERR_CLOSED, now);
        return;
    }
    conn_advance(c, now);
}

/* Streams are connected a few hundred at a time per thread: ten thousand
 * SYNs at once would overflow the listen backlog and cost retransmits. */
static void open_streams(mb_worker *w, int64_t now)
{
    while (w->next_open < w->n_conns && w->opening < MB_STREAMS_OPENING &&
           !atomic_load_explicit(&w->run->stop, memory_order_relaxed)) {
        mb_conn *c = w->conns[w->next_open++];
        if (mb_conn_open(c) != 0) {
            mb_stats_error(w->meas, 0, MB_XERR_CONNECT);
            c->finished = true;
            mb_scen_stream_end(c, now);
            continue;
        }
        c->stream_opening = true;
        w->opening++;
    }
}

/* Connects load connections that are due and starts their steps; returns
 * how long until something is due, capped at MB_POLL_NS. */
static int64_t service_load(mb_worker *w, int64_t now)
{
    int64_t wait = MB_POLL_NS;
    for (int i = 0; i < w->n_load; i++) {
        mb_conn *c = w->conns[i];
        if (c->finished)
            continue;
        if (c->fd < 0) {
            if (now < c->reopen_ns) {
                if (c->reopen_ns - now < wait)
                    wait = c->reopen_ns - now;
                continue;
            }
            if (mb_conn_open(c) != 0) {
                mb_stats_error(stats_for(w, now, now), 0, MB_XERR_CONNECT);
                c->reopen_ns = now + MB_REOPEN_NS;
                continue;
            }
        }
        if (!c->busy && c->next_due_ns > now && c->next_due_ns - now < wait)
            wait = c->next_due_ns - now;
        conn_advance(c, now);
    }
    return wait;
}

static bool phase_over(mb_worker *w, int64_t now)
{
    mb_run *run = w->run;
    if (atomic_load_explicit(&run->stop, memory_order_relaxed) ||
        atomic_load_explicit(&run->failed, memory_order_relaxed))
        return true;
    if (run->phase == MB_PHASE_LOAD)
        return now >= run->end_ns;
    if (run->phase == MB_PHASE_STREAMS)
        return false;      /* the main thread says when */
    for (int i = 0; i < w->n_load; i++)
        if (!w->conns[i]->finished || w->conns[i]->busy)
            return false;
    return true;
}

/* epoll_pwait2 takes a timeout in ns: an open-loop step is sent on time,
 * not up to a ms late. Kernels before 5.11 (and valgrind) lack it: then
 * epoll_wait, rounding the timeout up. */
static atomic_bool no_pwait2;

static int wait_events(int epfd, struct epoll_event *ev, int64_t wait_ns)
{
    if (!atomic_load_explicit(&no_pwait2, memory_order_relaxed)) {
        struct timespec ts = {.tv_sec = wait_ns / 1000000000LL,
                              .tv_nsec = wait_ns % 1000000000LL};
        int n = epoll_pwait2(epfd, ev, MB_EVENTS, &ts, NULL);
        if (n >= 0 || errno != ENOSYS)
            return n;
        atomic_store(&no_pwait2, true);
    }
    return epoll_wait(epfd, ev, MB_EVENTS, (int)((wait_ns + 999999) / 1000000));
}

int mb_worker_loop(mb_worker *w)
{
    struct epoll_event ev[MB_EVENTS];
    const mb_run *run = w->run;
    int64_t now = mb_now_ns();
    w->next_open = w->n_load;        /* streams follow the load connections */
    for (int i = 0; i < w->n_load; i++)
        w->conns[i]->next_due_ns = run->start_ns + (run->cfg->rate > 0
            ? (int64_t)(1e9 * w->conns[i]->id / run->cfg->rate) : 0);
    while (!phase_over(w, now)) {
        int64_t wait = service_load(w, now);
        open_streams(w, now);
        if (run->phase == MB_PHASE_LOAD && run->end_ns - now < wait)
            wait = run->end_ns - now;
        if (wait < 0)
            wait = 0;
        int n = wait_events(w->epfd, ev, wait);
        if (n < 0 && errno != EINTR)
            return -1;
        now = mb_now_ns();
        for (int i = 0; i < n; i++)
            conn_event(ev[i].data.ptr, ev[i].events, now);
    }
    return 0;
}
