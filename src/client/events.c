/* Device event streams: GET /meetd/v1/events?device_token=… answers with
 * Server-Sent Events (docs/api.md "Device event stream"), parsed here as
 * they arrive. */
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"

#define MEET_ERROR_BODY_MAX (64u << 10)   /* what is kept of a refusal's body */

/* ---- the parser (the text/event-stream grammar of the HTML standard) --------- */

void meet_sse_init(meet_sse *p, meet_event_fn fn, void *arg)
{
    memset(p, 0, sizeof *p);
    p->fn = fn;
    p->arg = arg;
}

void meet_sse_release(meet_sse *p)
{
    free(p->line);
    free(p->event);
    free(p->data);
    memset(p, 0, sizeof *p);
}

static int meet_grow(char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap : 256;
    while (n < need)
        n *= 2;
    char *grown = realloc(*buf, n);
    if (grown == NULL)
        return -1;
    *buf = grown;
    *cap = n;
    return 0;
}

/* A blank line ends an event. The standard dispatches only events with data;
 * an event with a name but no data is passed on too, since a name alone
 * ("meeting-ended") already says what happened. */
static int meet_sse_dispatch(meet_sse *p)
{
    int stop = 0;
    if (p->have_data || p->event != NULL) {
        if (p->data == NULL && meet_grow(&p->data, &p->data_cap, 1) != 0)
            return -1;
        p->data[p->data_len] = '\0';
        stop = p->fn(p->event != NULL ? p->event : "message", p->data, p->arg) != 0;
    }
    free(p->event);
    p->event = NULL;
    p->data_len = 0;
    p->have_data = false;
    return stop;
}

static int meet_sse_field(meet_sse *p, const char *line, size_t len)
{
    const char *colon = memchr(line, ':', len);
    size_t name_len = colon != NULL ? (size_t)(colon - line) : len;
    const char *value = colon != NULL ? colon + 1 : line + len;
    size_t value_len = (size_t)(line + len - value);
    if (value_len > 0 && value[0] == ' ') {
        value++;
        value_len--;
    }

    if (name_len == 5 && memcmp(line, "event", 5) == 0) {
        char *name = strndup(value, value_len);
        if (name == NULL)
            return -1;
        free(p->event);
        p->event = name;
    } else if (name_len == 4 && memcmp(line, "data", 4) == 0) {
        size_t need = p->data_len + value_len + 2;
        if (meet_grow(&p->data, &p->data_cap, need) != 0)
            return -1;
        if (p->have_data)
            p->data[p->data_len++] = '\n';
        memcpy(p->data + p->data_len, value, value_len);
        p->data_len += value_len;
        p->data[p->data_len] = '\0';
        p->have_data = true;
    }
    /* id, retry and unknown fields: a stream is never resumed, so ignored. */
    return 0;
}

/* A comment is a heartbeat, or says why the server is about to close the
 * stream without an event: ": end REASON" (docs/api.md "Device event
 * stream"). Other clients skip it like any comment. */
static int meet_sse_comment(meet_sse *p)
{
    static const char end[] = "end ";
    const char *text = p->line + 1;
    size_t len = p->line_len - 1;
    if (len > 0 && text[0] == ' ') {
        text++;
        len--;
    }
    if (p->end_fn == NULL || len <= sizeof end - 1 || memcmp(text, end, sizeof end - 1) != 0)
        return 0;
    char *reason = strndup(text + sizeof end - 1, len - (sizeof end - 1));
    if (reason == NULL)
        return -1;
    p->end_fn(reason, p->arg);
    free(reason);
    return 0;
}

static int meet_sse_line(meet_sse *p)
{
    if (p->line_len == 0)
        return meet_sse_dispatch(p);
    if (p->line[0] == ':')
        return meet_sse_comment(p);
    return meet_sse_field(p, p->line, p->line_len);
}

int meet_sse_feed(meet_sse *p, const char *buf, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char ch = buf[i];
        if (p->skip_lf) {
            p->skip_lf = false;
            if (ch == '\n')
                continue;
        }
        if (ch == '\r' || ch == '\n') {
            p->skip_lf = ch == '\r';
            int r = meet_sse_line(p);
            p->line_len = 0;
            if (r != 0)
                return r;
            continue;
        }
        if (p->line_len + 1 > MEET_SSE_LINE_MAX)
            return -1;
        if (meet_grow(&p->line, &p->line_cap, p->line_len + 1) != 0)
            return -1;
        p->line[p->line_len++] = ch;
    }
    return 0;
}

/* ---- the stream ---------------------------------------------------------------- */

typedef struct meet_watch {
    meet_sse sse;
    const meet_watch_handlers *h;
    bool checked;       /* the status has been looked at */
    bool is_stream;     /* 2xx: the body is events; else an error body */
    bool stopped;       /* the callback asked to stop */
    bool broken;        /* the parser gave up */
    char *body;         /* a refusal's body */
    size_t body_len;
    size_t body_cap;
} meet_watch;

static size_t meet_watch_sink(CURL *h, const char *buf, size_t n, void *arg)
{
    meet_watch *w = arg;
    if (!w->checked) {
        long status = 0;
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        w->is_stream = status >= 200 && status < 300;
        w->checked = true;
    }
    if (!w->is_stream) {
        size_t take = w->body_len + n > MEET_ERROR_BODY_MAX ? MEET_ERROR_BODY_MAX - w->body_len : n;
        if (take > 0 && meet_grow(&w->body, &w->body_cap, w->body_len + take + 1) == 0) {
            memcpy(w->body + w->body_len, buf, take);
            w->body_len += take;
        }
        return n;
    }
    int r = meet_sse_feed(&w->sse, buf, n);
    if (r == 0)
        return n;
    if (r > 0)
        w->stopped = true;
    else
        w->broken = true;
    return 0;   /* ends the transfer */
}

/* Every event goes to on_event; role-changed also to on_role, parsed. */
static int meet_watch_event(const char *event, const char *data, void *arg)
{
    meet_watch *w = arg;
    int stop = w->h->on_event(event, data, w->h->arg);
    if (stop == 0 && w->h->on_role != NULL && strcmp(event, "role-changed") == 0) {
        json_t *j = json_loads(data, 0, NULL);
        const char *role = json_string_value(json_object_get(j, "role"));
        json_t *code = json_object_get(j, "user_role");
        w->h->on_role(role != NULL && strcmp(role, "cohost") == 0,
                      json_is_integer(code) ? (int)json_integer_value(code) : -1, w->h->arg);
        json_decref(j);
    }
    return stop;
}

static void meet_watch_ending(const char *reason, void *arg)
{
    meet_watch *w = arg;
    w->h->on_end(reason, w->h->arg);
}

static void meet_watch_opened(long status, const char *trace_id, void *arg)
{
    meet_watch *w = arg;
    if (status >= 200 && status < 300 && w->h->on_open != NULL)
        w->h->on_open(trace_id, w->h->arg);
}

static meet_rc meet_watch_result(meet_watch *w, const meet_response *resp, meet_error *err)
{
    if (w->broken)
        return meet_err_set(err, MEET_EPROTO,
                            "event stream line longer than %u bytes, or out of memory",
                            MEET_SSE_LINE_MAX);
    if (w->stopped || (resp->http_status >= 200 && resp->http_status < 300)) {
        if (err != NULL)
            err->rc = MEET_OK;
        return MEET_OK;
    }
    return meet_error_from_response(resp->http_status, w->body, w->body_len, resp->trace_id, err);
}

meet_rc meet_events_watch(meet_client *c, const char *device_token,
                          const meet_watch_handlers *h, meet_error *err)
{
    meet_err_clear(err);
    if (c == NULL || device_token == NULL || device_token[0] == '\0' || h == NULL ||
        h->on_event == NULL)
        return meet_err_set(err, MEET_EINVAL, "no client, device token or callback");
    char *token = meet_escape(device_token);
    char *uri = NULL;
    if (token == NULL || asprintf(&uri, "/meetd/v1/events?device_token=%s", token) < 0) {
        free(token);
        return meet_err_set(err, MEET_ENOMEM, "out of memory");
    }
    free(token);

    static const char *const accept[] = {"Accept: text/event-stream", NULL};
    meet_watch w = {.h = h};
    meet_sse_init(&w.sse, meet_watch_event, &w);
    w.sse.end_fn = h->on_end != NULL ? meet_watch_ending : NULL;
    meet_call call = {.method = "GET", .uri = uri, .headers = accept, .sign = false,
                      .stream = true, .sink = meet_watch_sink, .sink_arg = &w,
                      .on_head = meet_watch_opened};
    meet_response resp;
    meet_rc rc = meet_perform(c, &call, &resp, err);
    if (rc == MEET_OK)
        rc = meet_watch_result(&w, &resp, err);
    meet_response_release(&resp);
    meet_sse_release(&w.sse);
    free(w.body);
    free(uri);
    return rc;
}
