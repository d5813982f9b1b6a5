/* The scenarios: what each connection asks, step after step, and what the
 * answers tell setup.
 *
 * Setup makes meetings (creator "bench-host", a quick meeting) and joins
 * every slot: slot s is user "u<s / meetings>" on instanceid 1 in meeting
 * s % meetings, so that consecutive slots are in different meetings. In the
 * timed phase each load connection owns the slots s with s % connections
 * == its id, so that no two connections act on one device at once and each
 * knows whether its devices are present. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meetbench.h"

#define MB_OPERATOR "bench-host"
#define MB_PAGE 20

static const mb_config *conf(const mb_conn *c)
{
    return c->w->run->cfg;
}

/* ---- answers --------------------------------------------------------------- */

int mb_json_str(const char *body, size_t len, const char *key, char *out, size_t cap)
{
    char pat[64];
    int n = snprintf(pat, sizeof pat, "\"%s\":\"", key);
    if (body == NULL || n < 0 || (size_t)n >= sizeof pat)
        return -1;
    const char *v = memmem(body, len, pat, (size_t)n);
    if (v == NULL)
        return -1;
    v += n;
    const char *end = memchr(v, '"', len - (size_t)(v - body));
    if (end == NULL || (size_t)(end - v) >= cap)
        return -1;
    memcpy(out, v, (size_t)(end - v));
    out[end - v] = '\0';
    return 0;
}

long mb_error_code(const char *body, size_t len)
{
    static const char pat[] = "\"error_code\":";
    const char *v = body != NULL ? memmem(body, len, pat, sizeof pat - 1) : NULL;
    return v != NULL ? strtol(v + sizeof pat - 1, NULL, 10) : 0;
}

/* ---- slots ------------------------------------------------------------------ */

int mb_scen_assign(mb_conn *c, const mb_run *run)
{
    int n = run->cfg->connections;
    int count = run->n_slots > c->id ? (run->n_slots - c->id + n - 1) / n : 0;
    c->owned = count > 0 ? malloc((size_t)count * sizeof *c->owned) : NULL;
    if (count > 0 && c->owned == NULL)
        return -1;
    for (int i = 0; i < count; i++)
        c->owned[i] = c->id + i * n;
    c->n_owned = count;
    c->n_present = count;      /* setup joined them all */
    return 0;
}

static void swap_owned(mb_conn *c, int i, int j)
{
    int t = c->owned[i];
    c->owned[i] = c->owned[j];
    c->owned[j] = t;
}

/* Takes a present slot and counts it absent from now on. */
static int take_present(mb_conn *c)
{
    int i = (int)(mb_rand(c->w) % (uint64_t)c->n_present);
    swap_owned(c, i, --c->n_present);
    return c->owned[c->n_present];
}

/* Takes an absent slot and counts it present from now on. */
static int take_absent(mb_conn *c)
{
    int absent = c->n_owned - c->n_present;
    int i = c->n_present + (int)(mb_rand(c->w) % (uint64_t)absent);
    swap_owned(c, i, c->n_present++);
    return c->owned[c->n_present - 1];
}

/* A present slot that is not taken: a kick and re-join step leaves it
 * present when the step is over. */
static int pick_present(mb_conn *c)
{
    return c->owned[mb_rand(c->w) % (uint64_t)c->n_present];
}

/* ---- steps ------------------------------------------------------------------ */

static void step_add(mb_step *s, mb_op op, int slot, int meeting)
{
    s->req[s->n++] = (mb_req){.op = op, .slot = slot, .meeting = meeting};
}

static int next_task(mb_run *run)
{
    int t = atomic_fetch_add_explicit(&run->next_task, 1, memory_order_relaxed);
    return t < run->n_tasks ? t : -1;
}

/* mixed: reads, re-joins of devices this connection removed, and removals;
 * when the chosen kind has nothing to act on the other one is done. */
static void step_mixed(mb_conn *c, mb_step *s)
{
    const mb_config *cfg = conf(c);
    int roll = (int)(mb_rand(c->w) % 100);
    if (c->n_owned == 0 || roll < cfg->mix_read) {
        step_add(s, MB_OP_READ, -1, (int)(mb_rand(c->w) % (uint64_t)c->w->run->n_meetings));
        return;
    }
    bool join = roll < cfg->mix_read + cfg->mix_join;
    if (join && c->n_present == c->n_owned)
        join = false;
    if (!join && c->n_present == 0)
        join = true;
    if (join)
        step_add(s, MB_OP_JOIN, take_absent(c), -1);
    else
        step_add(s, MB_OP_KICKOUT, take_present(c), -1);
}

static int step_load(mb_conn *c, mb_step *s)
{
    const mb_config *cfg = conf(c);
    int slot;
    switch (cfg->scenario) {
    case MB_SCEN_STATIC:
        step_add(s, MB_OP_STATIC, -1, -1);
        return 1;
    case MB_SCEN_KICKOUT:
    case MB_SCEN_JOIN_CHURN:
        if (c->n_present == 0)
            return -1;
        slot = pick_present(c);
        step_add(s, cfg->scenario == MB_SCEN_KICKOUT ? MB_OP_KICKOUT : MB_OP_LEAVE, slot, -1);
        step_add(s, MB_OP_JOIN, slot, -1);
        return 1;
    case MB_SCEN_PARTICIPANTS:
        step_add(s, MB_OP_READ, -1,
                 cfg->walk ? c->id % c->w->run->n_meetings
                           : (int)(mb_rand(c->w) % (uint64_t)c->w->run->n_meetings));
        return 1;
    case MB_SCEN_MIXED:
        step_mixed(c, s);
        return 1;
    case MB_SCEN_STREAMS:
        break;
    }
    return -1;
}

int mb_scen_next_step(mb_conn *c, mb_step *s)
{
    mb_run *run = c->w->run;
    memset(s, 0, sizeof *s);
    int t;
    if (c->role == MB_ROLE_STREAM) {
        step_add(s, MB_OP_STREAM, c->stream_slot, -1);
        return 1;
    }
    switch (run->phase) {
    case MB_PHASE_CREATE:
        if ((t = next_task(run)) < 0)
            return -1;
        step_add(s, MB_OP_CREATE, -1, t);
        return 1;
    case MB_PHASE_JOIN:
        if ((t = next_task(run)) < 0)
            return -1;
        step_add(s, MB_OP_JOIN, t, -1);
        return 1;
    case MB_PHASE_STREAMS:
        if (!atomic_load_explicit(&run->kick_go, memory_order_acquire))
            return 0;
        if ((t = next_task(run)) < 0)
            return -1;
        step_add(s, MB_OP_KICKOUT, t, -1);
        return 1;
    case MB_PHASE_LOAD:
        return step_load(c, s);
    }
    return -1;
}

/* ---- requests --------------------------------------------------------------- */

int mb_scen_write(mb_conn *c, const mb_req *r)
{
    mb_run *run = c->w->run;
    const mb_slot *sl = r->slot >= 0 ? &run->slots[r->slot] : NULL;
    const char *mid = sl != NULL ? run->meeting_id[sl->meeting]
                      : r->meeting >= 0 ? run->meeting_id[r->meeting] : "";
    char uri[640], body[512];
    int pos;
    switch (r->op) {
    case MB_OP_STATIC:
        return mb_write_plain(c, "GET", conf(c)->path);
    case MB_OP_CREATE:
        return mb_write_signed(c, "POST", "/v1/meetings",
                               "{\"userid\":\"" MB_OPERATOR "\",\"instanceid\":1,"
                               "\"subject\":\"meetbench\",\"type\":1}");
    case MB_OP_JOIN:
        snprintf(uri, sizeof uri, "/meetd/v1/meetings/%s/join", mid);
        snprintf(body, sizeof body, "{\"userid\":\"u%d\",\"instanceid\":1}", sl->user);
        return mb_write_signed(c, "POST", uri, body);
    case MB_OP_LEAVE:
        snprintf(uri, sizeof uri, "/meetd/v1/meetings/%s/leave", mid);
        snprintf(body, sizeof body, "{\"ms_open_id\":\"%s\",\"instanceid\":1}", sl->ms_open_id);
        return mb_write_signed(c, "POST", uri, body);
    case MB_OP_KICKOUT:
        if (run->phase == MB_PHASE_STREAMS) {
            /* Its stream measures from here; the release pairs with the
             * stream's acquire in another thread. */
            atomic_store_explicit(&run->slots[r->slot].kick_ns, r->start_ns,
                                  memory_order_release);
            atomic_fetch_add_explicit(&run->kicks_sent, 1, memory_order_relaxed);
        }
        snprintf(uri, sizeof uri, "/v1/real-control/meetings/%s/kickout", mid);
        snprintf(body, sizeof body,
                 "{\"operator_id\":\"" MB_OPERATOR "\",\"operator_id_type\":1,\"instanceid\":1,"
                 "\"allow_rejoin\":true,\"users\":[{\"to_operator_id\":\"%s\","
                 "\"to_operator_id_type\":4,\"instanceid\":1}]}",
                 sl->ms_open_id);
        return mb_write_signed(c, "PUT", uri, body);
    case MB_OP_READ:
        if (conf(c)->walk) {
            /* The next page of this connection's meeting, from the top
             * again after the last. */
            pos = c->walk_pos;
            c->walk_pos = pos + MB_PAGE < conf(c)->participants ? pos + MB_PAGE : 0;
        } else {
            /* A random page among the meeting's participants. */
            pos = conf(c)->participants > MB_PAGE
                      ? (int)(mb_rand(c->w) % (uint64_t)(conf(c)->participants - MB_PAGE + 1))
                      : 0;
        }
        snprintf(uri, sizeof uri,
                 "/v1/meetings/%s/participants?userid=" MB_OPERATOR "&pos=%d&size=%d", mid, pos,
                 MB_PAGE);
        return mb_write_signed(c, "GET", uri, NULL);
    case MB_OP_STREAM:
        snprintf(uri, sizeof uri, "/meetd/v1/events?device_token=%s", sl->token);
        return mb_write_plain(c, "GET", uri);
    default:
        return -1;
    }
}

/* ---- what answers mean --------------------------------------------------- */

static void setup_failed(mb_conn *c, const mb_req *r, int status, const char *body, size_t len)
{
    mb_run *run = c->w->run;
    if (!atomic_exchange(&run->failed, true))
        fprintf(stderr, "meetbench: setup %s failed: HTTP %d %.*s\n", mb_op_name(r->op), status,
                (int)(len > 300 ? 300 : len), body);
}

void mb_scen_response(mb_conn *c, const mb_req *r, int status, const char *body, size_t len)
{
    mb_run *run = c->w->run;
    if (run->phase != MB_PHASE_CREATE && run->phase != MB_PHASE_JOIN)
        return;
    if (status < 200 || status > 299) {
        setup_failed(c, r, status, body, len);
        return;
    }
    int bad = 0;
    if (r->op == MB_OP_CREATE) {
        bad = mb_json_str(body, len, "meeting_id", run->meeting_id[r->meeting], MB_ID_MAX);
    } else if (r->op == MB_OP_JOIN) {
        mb_slot *sl = &run->slots[r->slot];
        bad = mb_json_str(body, len, "ms_open_id", sl->ms_open_id, sizeof sl->ms_open_id) |
              mb_json_str(body, len, "device_token", sl->token, sizeof sl->token);
    }
    if (bad)
        setup_failed(c, r, status, body, len);
}

void mb_scen_stream_data(mb_conn *c, int64_t now)
{
    mb_run *run = c->w->run;
    mb_stats *st = c->w->meas;
    if (!c->stream_ready && c->body.len > 0 && c->n_inflight > 0) {
        /* The first line (": meetd event stream") says the stream is live. */
        c->stream_ready = true;
        mb_hist_add(&st->op[MB_OP_STREAM], now - c->inflight[0].start_ns);
        atomic_fetch_add_explicit(&run->streams_ready, 1, memory_order_relaxed);
    }
    if (!c->stream_kicked && c->body.p != NULL && strstr(c->body.p, "event: kicked") != NULL) {
        c->stream_kicked = true;
        int64_t k = atomic_load_explicit(&run->slots[c->stream_slot].kick_ns, memory_order_acquire);
        if (k > 0)
            mb_hist_add(&st->op[MB_OP_KICK_EVENT], now - k);
    }
}

void mb_scen_stream_end(mb_conn *c, int64_t now)
{
    mb_run *run = c->w->run;
    int64_t k = atomic_load_explicit(&run->slots[c->stream_slot].kick_ns, memory_order_acquire);
    if (k > 0) {
        mb_hist_add(&c->w->meas->op[MB_OP_KICK_CLOSE], now - k);
        atomic_fetch_add_explicit(&run->streams_closed, 1, memory_order_relaxed);
    } else if (c->status == 0 || (c->status >= 200 && c->status <= 299)) {
        /* A stream that ended with nobody removing its device. (An HTTP
         * error was counted when it was answered.) */
        mb_stats_error(c->w->meas, 0, MB_XERR_CLOSED);
    }
}
