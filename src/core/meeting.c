/* A meeting's life: creation checks, occurrences, state, join, dismiss, cancel.
 *
 * A one-off meeting keeps its state in m->status. A recurring one keeps it in
 * its occurrences, with m->status saying only whether the series as a whole
 * was cancelled; everything reported for the series is derived from those. */
#include "core/core.h"

#include <assert.h>
#include <string.h>

/* Same bound as recurrence.c: 9999-12-31T23:59:59Z. */
#define TIME_LIMIT INT64_C(253402300799)

/* A quick meeting given no end runs for an hour, like Tencent's default. */
#define QUICK_DEFAULT_LENGTH 3600

static bool is_recurring(const core_meeting *m)
{
    return m->meeting_type == 1;
}

static meetd_err check_hosts(const core_meeting *m, meetd_error *err)
{
    if (m->n_hosts < 0 || m->n_hosts > CORE_HOSTS_MAX)
        return err_set(err, ME_INVALID, "hosts: at most %d hosts", CORE_HOSTS_MAX);
    for (int i = 0; i < m->n_hosts; i++) {
        if (!core_id_valid(m->hosts[i]))
            return err_set(err, ME_INVALID, "hosts[%d].userid is invalid", i);
        for (int j = 0; j < i; j++) {
            if (strcmp(m->hosts[i], m->hosts[j]) == 0)
                return err_set(err, ME_INVALID, "hosts[%d].userid is a duplicate", i);
        }
    }
    return ME_OK;
}

static meetd_err check_times(core_meeting *m, int64_t now, meetd_error *err)
{
    /* A quick meeting is "now": the caller may leave its times out. */
    if (m->type == 1) {
        if (m->start_time == 0)
            m->start_time = now;
        if (m->end_time == 0 && m->start_time > 0 && m->start_time <= TIME_LIMIT)
            m->end_time = m->start_time + QUICK_DEFAULT_LENGTH;
    }
    if (m->start_time <= 0 || m->start_time > TIME_LIMIT)
        return err_set(err, ME_INVALID, "start_time is invalid");
    if (m->end_time <= m->start_time)
        return err_set(err, ME_INVALID, "end_time must be after start_time");
    if (m->end_time > TIME_LIMIT)
        return err_set(err, ME_INVALID, "end_time is past 9999-12-31T23:59:59Z");
    return ME_OK;
}

meetd_err core_meeting_prepare(core_meeting *m, int64_t now, meetd_error *err)
{
    meetd_err e;

    assert(m != NULL);
    if (!core_subject_valid(m->subject))
        return err_set(err, ME_INVALID,
                       "subject must be 1..%d bytes counted as Tencent counts them (2 a "
                       "character, 4 above U+FFFF), valid UTF-8 without control characters",
                       CORE_SUBJECT_UNITS_MAX);
    if (!core_id_valid(m->creator_userid))
        return err_set(err, ME_INVALID, "userid is invalid");
    if (!core_instanceid_valid(m->creator_instanceid))
        return err_set(err, ME_INVALID, "instanceid %d is not a known device type",
                       m->creator_instanceid);
    if (m->type != 0 && m->type != 1)
        return err_set(err, ME_INVALID, "type must be 0 (scheduled) or 1 (quick)");
    if (m->meeting_type != 0 && m->meeting_type != 1)
        return err_set(err, ME_INVALID, "meeting_type must be 0 (one-off) or 1 (recurring)");
    /* Tencent: a recurring meeting cannot be a quick one (a quick meeting
     * is "now", a series is a schedule). */
    if (m->type == 1 && is_recurring(m))
        return err_set(err, ME_INVALID, "a quick meeting (type 1) cannot be recurring "
                                        "(meeting_type 1): schedule it (type 0)");
    e = check_times(m, now, err);
    if (e != ME_OK)
        return e;
    e = check_hosts(m, err);
    if (e != ME_OK)
        return e;

    m->status = CORE_ST_INIT;
    m->n_occ = 0;
    if (is_recurring(m)) {
        e = core_recurrence_expand(&m->rule, m->start_time, m->end_time, m->occ, &m->n_occ,
                                   err);
        if (e != ME_OK)
            return e;
        /* A working-day series asked to start on a weekend starts on the
         * Monday: the meeting's times are its first occurrence's. */
        m->start_time = m->occ[0].start_time;
        m->end_time = m->occ[0].end_time;
    }
    if (m->created_at == 0)
        m->created_at = now;
    return ME_OK;
}

static int find_started(const core_meeting *m)
{
    for (int i = 0; i < m->n_occ; i++) {
        if (m->occ[i].status == CORE_ST_STARTED)
            return i;
    }
    return -1;
}

static int find_occurrence(const core_meeting *m, int64_t sub_meeting_id)
{
    for (int i = 0; i < m->n_occ; i++) {
        if (m->occ[i].sub_meeting_id == sub_meeting_id)
            return i;
    }
    return -1;
}

int core_current_occurrence(const core_meeting *m, int64_t now)
{
    int last_init = -1, started;

    assert(m != NULL);
    assert(m->n_occ >= 0 && m->n_occ <= CORE_OCC_MAX);
    if (!is_recurring(m) || m->status == CORE_ST_CANCELLED)
        return -1;
    started = find_started(m);
    if (started >= 0)
        return started;
    for (int i = 0; i < m->n_occ; i++) {
        if (m->occ[i].status != CORE_ST_INIT)
            continue;
        if (m->occ[i].end_time > now)
            return i;
        last_init = i;
    }
    /* Every remaining occurrence is past its scheduled end: the last one
     * still takes a late join rather than the series refusing everyone. */
    return last_init;
}

int core_meeting_status(const core_meeting *m, int64_t now)
{
    bool any_ended = false;

    assert(m != NULL);
    (void)now;
    if (!is_recurring(m) || m->n_occ == 0)
        return m->status;
    if (m->status == CORE_ST_CANCELLED)
        return CORE_ST_CANCELLED;
    if (find_started(m) >= 0)
        return CORE_ST_STARTED;
    for (int i = 0; i < m->n_occ; i++) {
        int st = m->occ[i].status;
        if (st == CORE_ST_ENDED)
            any_ended = true;
        else if (st != CORE_ST_CANCELLED)
            return CORE_ST_INIT;
    }
    return any_ended ? CORE_ST_ENDED : CORE_ST_CANCELLED;
}

meetd_err core_join_target(const core_meeting *m, int64_t now, int64_t *sub_meeting_id,
                           meetd_error *err)
{
    int cur;

    assert(m != NULL && sub_meeting_id != NULL);
    *sub_meeting_id = 0;
    if (!is_recurring(m)) {
        if (m->status == CORE_ST_ENDED)
            return err_set(err, ME_NOT_IN_PROGRESS, "meeting has ended");
        if (m->status == CORE_ST_CANCELLED)
            return err_set(err, ME_NOT_IN_PROGRESS, "meeting was cancelled");
        return ME_OK;
    }
    cur = core_current_occurrence(m, now);
    if (cur < 0) {
        if (core_meeting_status(m, now) == CORE_ST_CANCELLED)
            return err_set(err, ME_NOT_IN_PROGRESS, "meeting was cancelled");
        return err_set(err, ME_NOT_IN_PROGRESS, "meeting has ended");
    }
    *sub_meeting_id = m->occ[cur].sub_meeting_id;
    return ME_OK;
}

void core_mark_started(core_meeting *m, int64_t sub_meeting_id)
{
    int i;

    assert(m != NULL);
    if (!is_recurring(m)) {
        if (m->status == CORE_ST_INIT)
            m->status = CORE_ST_STARTED;
        return;
    }
    i = find_occurrence(m, sub_meeting_id);
    if (i >= 0 && m->occ[i].status == CORE_ST_INIT)
        m->occ[i].status = CORE_ST_STARTED;
}

/* Why a meeting is not in progress, said so that its user knows what to do:
 * "not in progress" alone read, right after a create, like a fault. */
static meetd_err not_in_progress(const core_meeting *m, int64_t now, meetd_error *err)
{
    int cur;

    if (!is_recurring(m)) {
        if (m->status == CORE_ST_ENDED)
            return err_set(err, ME_NOT_IN_PROGRESS,
                           "meeting is not in progress: it has ended (dismissed); "
                           "an ended meeting does not start again");
        if (m->status == CORE_ST_CANCELLED)
            return err_set(err, ME_NOT_IN_PROGRESS,
                           "meeting is not in progress: it was cancelled");
        return err_set(err, ME_NOT_IN_PROGRESS,
                       "meeting is not in progress: nobody has joined it yet "
                       "(a meeting starts when its first device joins)");
    }
    if (m->status == CORE_ST_CANCELLED)
        return err_set(err, ME_NOT_IN_PROGRESS,
                       "meeting is not in progress: the recurring meeting was cancelled");
    cur = core_current_occurrence(m, now);
    if (cur >= 0)
        return err_set(err, ME_NOT_IN_PROGRESS,
                       "meeting is not in progress: nobody has joined its current occurrence "
                       "(sub_meeting_id %lld) yet (an occurrence starts when its first "
                       "device joins)",
                       (long long)m->occ[cur].sub_meeting_id);
    return err_set(err, ME_NOT_IN_PROGRESS,
                   "meeting is not in progress: every occurrence has ended or been cancelled");
}

meetd_err core_require_in_progress(const core_meeting *m, int64_t now,
                                   int64_t *sub_meeting_id, meetd_error *err)
{
    int i;

    assert(m != NULL && sub_meeting_id != NULL);
    *sub_meeting_id = 0;
    if (!is_recurring(m)) {
        if (m->status != CORE_ST_STARTED)
            return not_in_progress(m, now, err);
        return ME_OK;
    }
    i = m->status == CORE_ST_CANCELLED ? -1 : find_started(m);
    if (i < 0)
        return not_in_progress(m, now, err);
    *sub_meeting_id = m->occ[i].sub_meeting_id;
    return ME_OK;
}

/* The operator of a dismiss or cancel, admitted (not banned) and present
 * when named by ms_open_id: its user_role. */
static meetd_err end_operator(const core_meeting *m, const core_end_req *req,
                              const core_party *op, int *role, meetd_error *err)
{
    meetd_err e = core_operator_admit(op, err);

    if (e != ME_OK)
        return e;
    *role = core_operator_role(m, req->op_type, req->op_id, req->op_instanceid, op);
    if (*role < 0)
        return err_set(err, ME_FORBIDDEN, "operator is not in the meeting on that device");
    return ME_OK;
}

meetd_err core_dismiss(core_meeting *m, int64_t now, const core_end_req *req,
                       const core_party *op, int64_t *sub_meeting_id, meetd_error *err)
{
    int role, i;
    meetd_err e;

    assert(m != NULL && req != NULL && op != NULL && sub_meeting_id != NULL);
    *sub_meeting_id = 0;
    e = end_operator(m, req, op, &role, err);
    if (e != ME_OK)
        return e;
    if (role == CORE_ROLE_MEMBER || role == CORE_ROLE_GUEST)
        return err_set(err, ME_FORBIDDEN,
                       "only the creator, a host or a co-host can dismiss the meeting");
    /* Tencent ends "a meeting in progress" only: one nobody has joined is
     * cancelled, not dismissed. */
    e = core_require_in_progress(m, now, sub_meeting_id, err);
    if (e != ME_OK)
        return e;
    if (!is_recurring(m)) {
        m->status = CORE_ST_ENDED;
        return ME_OK;
    }
    i = find_occurrence(m, *sub_meeting_id);
    assert(i >= 0);
    m->occ[i].status = CORE_ST_ENDED;
    return ME_OK;
}

static meetd_err cancel_occurrence(core_meeting *m, int64_t sub_meeting_id, meetd_error *err)
{
    int i;

    if (!is_recurring(m))
        return err_set(err, ME_INVALID, "sub_meeting_id is only for recurring meetings");
    i = find_occurrence(m, sub_meeting_id);
    if (i < 0)
        return err_set(err, ME_INVALID, "no such sub_meeting_id");
    if (m->status == CORE_ST_CANCELLED)
        return err_set(err, ME_CANCELLED, "the recurring meeting was cancelled");
    switch (m->occ[i].status) {
    case CORE_ST_CANCELLED:
        return err_set(err, ME_CANCELLED, "that occurrence was cancelled already");
    case CORE_ST_ENDED:
        return err_set(err, ME_ENDED, "that occurrence has ended");
    case CORE_ST_STARTED:
        return err_set(err, ME_STARTED,
                       "that occurrence is in progress: a started meeting cannot be "
                       "cancelled (dismiss ends it)");
    }
    m->occ[i].status = CORE_ST_CANCELLED;
    return ME_OK;
}

meetd_err core_cancel(core_meeting *m, const core_end_req *req, const core_party *op,
                      meetd_error *err)
{
    int role;
    meetd_err e;

    assert(m != NULL && req != NULL && op != NULL);
    e = end_operator(m, req, op, &role, err);
    if (e != ME_OK)
        return e;
    if (role != CORE_ROLE_CREATOR && role != CORE_ROLE_CREATOR_HOST &&
        role != CORE_ROLE_CREATOR_COHOST)
        return err_set(err, ME_FORBIDDEN, "only the creator can cancel the meeting");
    /* A caller who says what kind of meeting it means and is wrong would
     * otherwise cancel a whole series believing it one meeting. */
    if (req->meeting_type >= 0 && req->meeting_type != m->meeting_type)
        return err_set(err, ME_INVALID,
                       is_recurring(m) ? "meeting_type 0 names a one-off meeting, but this "
                                         "meeting is recurring (send 1, or leave it out)"
                                       : "meeting_type 1 names a recurring meeting, but this "
                                         "meeting is one-off (send 0, or leave it out)");
    if (req->has_sub)
        return cancel_occurrence(m, req->sub_meeting_id, err);

    switch (core_meeting_status(m, 0)) {
    case CORE_ST_ENDED:
        return err_set(err, ME_ENDED, is_recurring(m) ? "every occurrence has ended"
                                                      : "meeting has ended");
    case CORE_ST_CANCELLED:
        return err_set(err, ME_CANCELLED, "meeting was cancelled already");
    case CORE_ST_STARTED:
        return err_set(err, ME_STARTED,
                       is_recurring(m) ? "an occurrence is in progress: a started meeting "
                                         "cannot be cancelled (dismiss ends it; a later "
                                         "occurrence is cancelled by its sub_meeting_id)"
                                       : "meeting is in progress: a started meeting cannot "
                                         "be cancelled (dismiss ends it)");
    }
    m->status = CORE_ST_CANCELLED;
    /* The series' occurrences say so too, so that sub_meetings[] agrees
     * with the series; those that already ended keep their history. */
    for (int i = 0; i < m->n_occ; i++) {
        if (m->occ[i].status == CORE_ST_INIT)
            m->occ[i].status = CORE_ST_CANCELLED;
    }
    return ME_OK;
}
