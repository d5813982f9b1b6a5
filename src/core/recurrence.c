/* Recurring meetings: expanding a rule into its occurrences.
 *
 * All calendar arithmetic happens on local day numbers (days since
 * 1970-01-01 at CORE_TZ_OFFSET): an occurrence is a local day plus the first
 * occurrence's local time of day. With a fixed offset and no DST this is
 * exact, and it keeps "working day" and "same day next month" in the user's
 * calendar rather than UTC's. */
#include "core/core.h"

#include <assert.h>

#define DAY_SECONDS 86400

/* 9999-12-31T23:59:59Z, the bound of every time meetd takes: each
 * occurrence a rule gives ends by it too, so that a series a create accepts
 * is one a modify (which checks each time it is given against the bound)
 * can still take back as it is. It also keeps every addition far from
 * int64 overflow. */
#define TIME_LIMIT INT64_C(253402300799)

/* Weeks and months reach far: Tencent caps those series at 50. */
#define OCC_MAX_LONG_PERIOD 50

enum {
    REC_DAILY = 0,
    REC_WORKING_DAYS = 1,
    REC_WEEKLY = 2,
    REC_BIWEEKLY = 3,
    REC_MONTHLY = 4,
};

struct civil_date {
    int64_t year;
    int month; /* 1..12 */
    int day;   /* 1..31 */
};

static int64_t local_day(int64_t t)
{
    int64_t local = t + CORE_TZ_OFFSET;
    int64_t d = local / DAY_SECONDS;

    if (local % DAY_SECONDS < 0)
        d--;
    return d;
}

/* 0 Sunday .. 6 Saturday. Day 0, 1970-01-01, was a Thursday. */
static int weekday(int64_t day)
{
    int64_t w = (day + 4) % 7;
    return (int)(w < 0 ? w + 7 : w);
}

static bool is_working_day(int64_t day)
{
    int w = weekday(day);
    return w != 0 && w != 6;
}

static bool is_leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int month_days(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    assert(m >= 1 && m <= 12);
    return (m == 2 && is_leap(y)) ? 29 : days[m - 1];
}

/* Leap years in [1, y]. */
static int64_t leaps_through(int64_t y)
{
    return y / 4 - y / 100 + y / 400;
}

/* Only dates from 1970 on occur: times are positive and the offset is east. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    int64_t days;

    assert(y >= 1970);
    days = 365 * (y - 1970) + leaps_through(y - 1) - leaps_through(1969);
    for (int i = 1; i < m; i++)
        days += month_days(y, i);
    return days + d - 1;
}

static struct civil_date civil_from_days(int64_t day)
{
    struct civil_date c;

    assert(day >= 0);
    /* 366-day years underestimate the year; walk forward the few missing. */
    c.year = 1970 + day / 366;
    while (days_from_civil(c.year + 1, 1, 1) <= day)
        c.year++;
    day -= days_from_civil(c.year, 1, 1);
    c.month = 1;
    while (day >= month_days(c.year, c.month)) {
        day -= month_days(c.year, c.month);
        c.month++;
    }
    c.day = (int)day + 1;
    return c;
}

/* The same day of the month, k months after first; a month too short for
 * that day gets its last day, and the next month returns to the original. */
static int64_t monthly_day(struct civil_date first, int k)
{
    int64_t idx = (first.month - 1) + (int64_t)k;
    int64_t y = first.year + idx / 12;
    int m = (int)(idx % 12) + 1;
    int d = first.day;

    if (d > month_days(y, m))
        d = month_days(y, m);
    return days_from_civil(y, m, d);
}

static int64_t next_day(int type, int64_t prev, struct civil_date first, int k)
{
    switch (type) {
    case REC_DAILY:
        return prev + 1;
    case REC_WORKING_DAYS:
        do
            prev++;
        while (!is_working_day(prev));
        return prev;
    case REC_WEEKLY:
        return prev + 7;
    case REC_BIWEEKLY:
        return prev + 14;
    case REC_MONTHLY:
        return monthly_day(first, k);
    default:
        assert(!"unchecked recurring_type");
        return prev;
    }
}

static meetd_err check_rule(const core_recurring_rule *rule, int64_t start, int cap,
                            meetd_error *err)
{
    if (rule->until_type == 1) {
        if (rule->until_count < 1 || rule->until_count > cap)
            return err_set(err, ME_INVALID, "recurring_rule.until_count must be 1..%d", cap);
    } else if (rule->until_type == 0) {
        if (rule->until_date < start)
            return err_set(err, ME_INVALID,
                           "recurring_rule.until_date must not be before start_time");
    } else {
        return err_set(err, ME_INVALID, "recurring_rule.until_type must be 0 or 1");
    }
    return ME_OK;
}

meetd_err core_recurrence_expand(const core_recurring_rule *rule, int64_t start,
                                 int64_t end, core_occurrence *occ, int *n_occ,
                                 meetd_error *err)
{
    int type, cap, n = 0;
    int64_t duration, first, day, time_of_day;
    struct civil_date first_date;
    meetd_err e;

    assert(rule != NULL && occ != NULL && n_occ != NULL);
    *n_occ = 0;
    if (start <= 0 || start > TIME_LIMIT)
        return err_set(err, ME_INVALID, "start_time is out of range");
    if (end <= start)
        return err_set(err, ME_INVALID, "end_time must be after start_time");
    if (end > TIME_LIMIT)
        return err_set(err, ME_INVALID, "end_time is past 9999-12-31T23:59:59Z");
    type = rule->recurring_type;
    if (type < REC_DAILY || type > REC_MONTHLY)
        return err_set(err, ME_INVALID, "recurring_rule.recurring_type must be 0..4");
    cap = (type == REC_BIWEEKLY || type == REC_MONTHLY) ? OCC_MAX_LONG_PERIOD : CORE_OCC_MAX;
    e = check_rule(rule, start, cap, err);
    if (e != ME_OK)
        return e;

    duration = end - start;
    first = local_day(start);
    time_of_day = start + CORE_TZ_OFFSET - first * DAY_SECONDS;
    first_date = civil_from_days(first);
    day = first;
    if (type == REC_WORKING_DAYS) {
        while (!is_working_day(day))
            day++;
    }

    for (int k = 0;; k++) {
        int64_t s;

        if (rule->until_type == 1 && k == rule->until_count)
            break;
        if (k > 0)
            day = next_day(type, day, first_date, k);
        s = day * DAY_SECONDS + time_of_day - CORE_TZ_OFFSET;
        if (rule->until_type == 0 && s > rule->until_date)
            break;
        if (n == cap)
            return err_set(err, ME_INVALID,
                           "recurring_rule.until_date gives more than %d occurrences", cap);
        if (s + duration > TIME_LIMIT)
            return err_set(err, ME_INVALID,
                           "the series would run past 9999-12-31T23:59:59Z (occurrence %d)",
                           k + 1);
        occ[n].sub_meeting_id = s;
        occ[n].start_time = s;
        occ[n].end_time = s + duration;
        occ[n].status = CORE_ST_INIT;
        n++;
    }
    /* Possible only when a working-day series starts on a weekend and
     * until_date ends it before the Monday. */
    if (n == 0)
        return err_set(err, ME_INVALID,
                       "recurring_rule.until_date is before the first occurrence");
    *n_occ = n;
    return ME_OK;
}
