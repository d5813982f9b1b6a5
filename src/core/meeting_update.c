/* Modifying a meeting (PUT /v1/meetings/{id}): who may, when, and what
 * becomes of a recurring meeting's occurrences.
 *
 * The modified meeting is built as a copy and checked by
 * core_meeting_prepare, so that a modify accepts exactly what a create
 * would. What a create never meets is history: occurrences that started,
 * ended or were cancelled have device sessions, counts and answers that
 * name them by sub_meeting_id, so they are kept as they are, in their
 * place in the series; only the occurrences still to come are made again
 * from the rule (merge_occurrences). */
#include "core/core.h"

#include <assert.h>
#include <string.h>

/* Same bound as meeting.c and recurrence.c: 9999-12-31T23:59:59Z. */
#define TIME_LIMIT INT64_C(253402300799)

static meetd_err check_state(const core_meeting *m, int64_t now, meetd_error *err)
{
    int st = core_meeting_status(m, now);

    if (st == CORE_ST_CANCELLED)
        return err_set(err, ME_CANCELLED,
                       "meeting was cancelled: a cancelled meeting cannot be modified");
    if (st == CORE_ST_ENDED)
        return err_set(err, ME_NOT_IN_PROGRESS,
                       "meeting has ended: an ended meeting cannot be modified");
    /* Tencent's modify does not take quick meetings either; it is also
     * what keeps a quick meeting from becoming recurring. */
    if (m->type == 1)
        return err_set(err, ME_INVALID, "a quick meeting (type 1) cannot be modified");
    return ME_OK;
}

static int find_occurrence(const core_meeting *m, int64_t sub_meeting_id)
{
    for (int i = 0; i < m->n_occ; i++) {
        if (m->occ[i].sub_meeting_id == sub_meeting_id)
            return i;
    }
    return -1;
}

/* One occurrence moves; it keeps its sub_meeting_id, and its place in the
 * series: it may not reach into the one before or after it. */
static meetd_err move_occurrence(const core_meeting_change *ch, core_meeting *out,
                                 meetd_error *err)
{
    int i;
    core_occurrence *o;
    int64_t s, e;

    if (out->meeting_type != 1)
        return err_set(err, ME_INVALID,
                       "recurring_rule.sub_meeting_id is only for recurring meetings");
    if (ch->has_rule || (ch->has_meeting_type && ch->meeting_type != 1))
        return err_set(err, ME_INVALID,
                       "recurring_rule.sub_meeting_id moves one occurrence: it cannot come "
                       "with a new rule or meeting_type");
    if (ch->has_hosts)
        return err_set(err, ME_INVALID,
                       "hosts are the whole series': modify them without "
                       "recurring_rule.sub_meeting_id");
    i = find_occurrence(out, ch->sub_meeting_id);
    if (i < 0)
        return err_set(err, ME_INVALID, "no such sub_meeting_id %lld",
                       (long long)ch->sub_meeting_id);
    o = &out->occ[i];
    if (o->status == CORE_ST_CANCELLED)
        return err_set(err, ME_CANCELLED, "that occurrence was cancelled");
    if (o->status == CORE_ST_ENDED)
        return err_set(err, ME_NOT_IN_PROGRESS, "that occurrence has ended");
    s = ch->has_start ? ch->start_time : o->start_time;
    e = ch->has_end ? ch->end_time : o->end_time;
    if (o->status == CORE_ST_STARTED && s != o->start_time)
        return err_set(err, ME_INVALID, "that occurrence is in progress: its start_time cannot change");
    if (s <= 0 || s > TIME_LIMIT)
        return err_set(err, ME_INVALID, "start_time is invalid");
    if (e <= s)
        return err_set(err, ME_INVALID, "end_time must be after start_time");
    if (e > TIME_LIMIT)
        return err_set(err, ME_INVALID, "end_time is past 9999-12-31T23:59:59Z");
    if (i > 0 && s < out->occ[i - 1].end_time)
        return err_set(err, ME_INVALID,
                       "the occurrence would start before the one before it ends "
                       "(sub_meeting_id %lld)", (long long)out->occ[i - 1].sub_meeting_id);
    if (i + 1 < out->n_occ && e > out->occ[i + 1].start_time)
        return err_set(err, ME_INVALID,
                       "the occurrence would end after the next one starts "
                       "(sub_meeting_id %lld)", (long long)out->occ[i + 1].sub_meeting_id);
    o->start_time = s;
    o->end_time = e;
    return ME_OK;
}

static void apply(const core_meeting_change *ch, core_meeting *out)
{
    if (ch->has_subject)
        memcpy(out->subject, ch->subject, sizeof out->subject);
    if (ch->has_start)
        out->start_time = ch->start_time;
    if (ch->has_end)
        out->end_time = ch->end_time;
    if (ch->has_hosts) {
        out->n_hosts = ch->n_hosts;
        memcpy(out->hosts, ch->hosts, sizeof out->hosts);
    }
    if (ch->has_meeting_type)
        out->meeting_type = ch->meeting_type;
    if (ch->has_rule)
        out->rule = ch->rule;
}

/* What a one-off meeting may become, and when. */
static meetd_err check_kind(const core_meeting *m, const core_meeting_change *ch,
                            meetd_error *err)
{
    if (m->meeting_type == 1) {
        if (ch->has_meeting_type && ch->meeting_type != 1)
            return err_set(err, ME_INVALID,
                           "a recurring meeting cannot become a one-off meeting");
        return ME_OK;
    }
    if (ch->has_meeting_type && ch->meeting_type == 1) {
        if (!ch->has_rule)
            return err_set(err, ME_INVALID,
                           "recurring_rule is required to make the meeting recurring");
        if (m->status != CORE_ST_INIT)
            return err_set(err, ME_INVALID, "a meeting in progress cannot become recurring");
    } else if (ch->has_rule) {
        return err_set(err, ME_INVALID, "recurring_rule needs meeting_type 1 (recurring)");
    }
    if (m->status == CORE_ST_STARTED && ch->has_start && ch->start_time != m->start_time)
        return err_set(err, ME_INVALID,
                       "meeting is in progress: its start_time cannot change");
    return ME_OK;
}

static void sort_occurrences(core_occurrence *occ, int n)
{
    for (int i = 1; i < n; i++) {
        core_occurrence o = occ[i];
        int j = i;
        for (; j > 0 && occ[j - 1].sub_meeting_id > o.sub_meeting_id; j--)
            occ[j] = occ[j - 1];
        occ[j] = o;
    }
}

static bool held(const core_occurrence *o)
{
    return o->status != CORE_ST_INIT;
}

/* out->occ holds the occurrences the new rule gives, m->occ the old ones.
 * The k-th occurrence of the series stays as it was when it was held
 * (started, ended, cancelled); otherwise it is the rule's k-th, unless that
 * one starts before the last held occurrence ended or falls on a held one's
 * sub_meeting_id. So until_count still counts the whole series, and a day
 * cancelled stays cancelled. */
static meetd_err merge_occurrences(const core_meeting *m, core_meeting *out, meetd_error *err)
{
    core_occurrence gen[CORE_OCC_MAX];
    int n_gen = out->n_occ, n = 0;
    int n_pos = m->n_occ > n_gen ? m->n_occ : n_gen;
    int64_t floor = INT64_MIN;
    bool live = false;

    assert(n_gen >= 0 && n_gen <= CORE_OCC_MAX);
    memcpy(gen, out->occ, (size_t)n_gen * sizeof gen[0]);
    for (int i = 0; i < m->n_occ; i++) {
        const core_occurrence *o = &m->occ[i];
        if ((o->status == CORE_ST_STARTED || o->status == CORE_ST_ENDED) && o->end_time > floor)
            floor = o->end_time;
    }
    for (int k = 0; k < n_pos; k++) {
        const core_occurrence *pick = NULL;
        if (k < m->n_occ && held(&m->occ[k])) {
            pick = &m->occ[k];
        } else if (k < n_gen && gen[k].start_time >= floor) {
            pick = &gen[k];
            for (int i = 0; i < m->n_occ && pick != NULL; i++) {
                if (held(&m->occ[i]) && m->occ[i].sub_meeting_id == gen[k].sub_meeting_id)
                    pick = NULL;
            }
        }
        if (pick == NULL)
            continue;
        /* Held ones come from m (<= CORE_OCC_MAX) and new ones from a
         * rule capped the same: only both together can overflow. */
        if (n == CORE_OCC_MAX)
            return err_set(err, ME_INVALID,
                           "with the occurrences already held the series would have more "
                           "than %d occurrences", CORE_OCC_MAX);
        out->occ[n++] = *pick;
    }
    sort_occurrences(out->occ, n);
    out->n_occ = n;
    for (int i = 0; i < n; i++)
        live |= out->occ[i].status == CORE_ST_INIT || out->occ[i].status == CORE_ST_STARTED;
    if (!live)
        return err_set(err, ME_INVALID,
                       "the new schedule leaves no occurrence to come: every one it gives "
                       "is held already or starts before the last held one ended");
    return ME_OK;
}

meetd_err core_meeting_modify(const core_meeting *m, const core_meeting_change *ch,
                              const char *userid, int64_t now, core_meeting *out,
                              meetd_error *err)
{
    meetd_err e;

    assert(m != NULL && ch != NULL && out != NULL && out != m);
    if (!core_is_creator(m, userid))
        return err_set(err, ME_NO_MODIFY, "only the creator can modify the meeting");
    e = check_state(m, now, err);
    if (e != ME_OK)
        return e;
    *out = *m;
    /* Tencent: a subject given with a sub_meeting_id is ignored. */
    if (ch->sub_meeting_id != 0)
        return move_occurrence(ch, out, err);

    e = check_kind(m, ch, err);
    if (e != ME_OK)
        return e;
    apply(ch, out);
    e = core_meeting_prepare(out, now, err);
    if (e != ME_OK)
        return e;
    out->status = m->status;
    if (out->meeting_type != 1)
        return ME_OK;
    /* The schedule unchanged, the occurrences are too: one moved alone
     * stays where it was put. */
    if (m->meeting_type == 1 && !ch->has_start && !ch->has_end && !ch->has_rule) {
        out->n_occ = m->n_occ;
        memcpy(out->occ, m->occ, sizeof out->occ);
        return ME_OK;
    }
    return merge_occurrences(m, out, err);
}
