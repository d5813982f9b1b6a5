/* Latency histograms and per-thread statistics. */
#include <string.h>

#include "meetbench.h"

#define MB_HIST_EXACT (1 << MB_HIST_SUB_BITS)

void mb_hist_reset(mb_hist *h)
{
    memset(h, 0, sizeof *h);
}

static int hist_index(int64_t v)
{
    if (v < MB_HIST_EXACT)
        return v < 0 ? 0 : (int)v;
    int msb = 63 - __builtin_clzll((unsigned long long)v);
    int shift = msb - (MB_HIST_SUB_BITS - 1);          /* >= 1 */
    int sub = (int)(v >> shift);                        /* HALF .. 2*HALF-1 */
    return MB_HIST_EXACT + (shift - 1) * MB_HIST_HALF + (sub - MB_HIST_HALF);
}

/* The middle of bucket i's range: the bucket's width is the error bound,
 * and the middle halves it. */
static int64_t hist_value(int i)
{
    if (i < MB_HIST_EXACT)
        return i;
    int shift = (i - MB_HIST_EXACT) / MB_HIST_HALF + 1;
    int64_t sub = MB_HIST_HALF + (i - MB_HIST_EXACT) % MB_HIST_HALF;
    int64_t low = sub << shift;
    return low + ((int64_t)1 << shift) / 2;
}

void mb_hist_add(mb_hist *h, int64_t ns)
{
    if (ns < 0)
        ns = 0;
    if (h->count == 0 || ns < h->min_ns)
        h->min_ns = ns;
    if (ns > h->max_ns)
        h->max_ns = ns;
    h->count++;
    h->sum_ns += (double)ns;
    h->bucket[hist_index(ns)]++;
}

void mb_hist_merge(mb_hist *into, const mb_hist *from)
{
    if (from->count == 0)
        return;
    if (into->count == 0 || from->min_ns < into->min_ns)
        into->min_ns = from->min_ns;
    if (from->max_ns > into->max_ns)
        into->max_ns = from->max_ns;
    into->count += from->count;
    into->sum_ns += from->sum_ns;
    for (int i = 0; i < MB_HIST_BUCKETS; i++)
        into->bucket[i] += from->bucket[i];
}

int64_t mb_hist_percentile(const mb_hist *h, double p)
{
    if (h->count == 0)
        return 0;
    /* The rank of the sample at p: at least the first, at most the last. */
    uint64_t rank = (uint64_t)(p / 100.0 * (double)h->count + 0.999999);
    if (rank < 1)
        rank = 1;
    if (rank >= h->count)
        return h->max_ns;
    uint64_t seen = 0;
    for (int i = 0; i < MB_HIST_BUCKETS; i++) {
        seen += h->bucket[i];
        if (seen >= rank) {
            int64_t v = hist_value(i);
            /* A bucket's middle may lie outside what was seen. */
            if (v > h->max_ns)
                v = h->max_ns;
            if (v < h->min_ns)
                v = h->min_ns;
            return v;
        }
    }
    return h->max_ns;
}

/* ---- statistics ----------------------------------------------------------- */

void mb_stats_reset(mb_stats *s)
{
    for (int i = 0; i < MB_OP__COUNT; i++)
        mb_hist_reset(&s->op[i]);
    s->errors = 0;
    s->n_kinds = 0;
    memset(s->kind, 0, sizeof s->kind);
}

/* Counts one error under (status, code); past MB_ERR_KINDS distinct kinds
 * the rest share the last row, (-1, -1), rather than being lost. */
static void stats_error_n(mb_stats *s, int status, long code, uint64_t n)
{
    s->errors += n;
    for (int i = 0; i < s->n_kinds; i++) {
        if (s->kind[i].status == status && s->kind[i].code == code) {
            s->kind[i].n += n;
            return;
        }
    }
    if (s->n_kinds == MB_ERR_KINDS - 1) {
        status = -1;
        code = -1;
        if (s->kind[MB_ERR_KINDS - 1].n == 0)
            s->kind[MB_ERR_KINDS - 1] = (mb_errcount){-1, -1, 0};
        s->kind[MB_ERR_KINDS - 1].n += n;
        return;
    }
    s->kind[s->n_kinds++] = (mb_errcount){status, code, n};
}

void mb_stats_error(mb_stats *s, int status, long code)
{
    stats_error_n(s, status, code, 1);
}

void mb_stats_merge(mb_stats *into, const mb_stats *from)
{
    for (int i = 0; i < MB_OP__COUNT; i++)
        mb_hist_merge(&into->op[i], &from->op[i]);
    for (int i = 0; i < MB_ERR_KINDS; i++)
        if (from->kind[i].n > 0)
            stats_error_n(into, from->kind[i].status, from->kind[i].code, from->kind[i].n);
}

static const char *const mb_op_names[MB_OP__COUNT] = {
    [MB_OP_STATIC] = "static",         [MB_OP_CREATE] = "create",
    [MB_OP_JOIN] = "join",             [MB_OP_LEAVE] = "leave",
    [MB_OP_KICKOUT] = "kickout",       [MB_OP_READ] = "participants",
    [MB_OP_STREAM] = "stream-open",    [MB_OP_KICK_EVENT] = "kick-to-event",
    [MB_OP_KICK_CLOSE] = "kick-to-close",
};

const char *mb_op_name(mb_op op)
{
    return op < MB_OP__COUNT ? mb_op_names[op] : "?";
}

bool mb_op_is_request(mb_op op)
{
    return op != MB_OP_KICK_EVENT && op != MB_OP_KICK_CLOSE;
}
