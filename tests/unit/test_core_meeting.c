/* core meetings: roles, creation checks, recurrence, state, join, dismiss, cancel. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "core/core.h"

#define DAY 86400
#define HOUR 3600

/* Local times (UTC+8) used below, checked against `date -d`. */
#define FRI_2024_03_08_1000 INT64_C(1709863200)
#define SAT_2024_03_09_1000 INT64_C(1709949600)
#define MON_2024_03_11_1000 INT64_C(1710122400)
#define TUE_2024_03_12_1000 INT64_C(1710208800)
#define WED_2024_03_13_1000 INT64_C(1710295200)
#define FRI_2024_03_15_1000 INT64_C(1710468000)
#define MON_2024_03_18_1000 INT64_C(1710727200)
#define SAT_2024_03_09_0700 INT64_C(1709938800) /* Friday 23:00 in UTC */
#define MON_2024_03_11_0700 INT64_C(1710111600)
#define TUE_2024_03_12_0700 INT64_C(1710198000)
#define MON_2024_03_11_0100 INT64_C(1710090000) /* Sunday 17:00 in UTC */
#define TUE_2024_03_12_0100 INT64_C(1710176400)
#define JAN_31_2024_0900 INT64_C(1706662800)
#define FEB_29_2024_0900 INT64_C(1709168400)
#define MAR_31_2024_0900 INT64_C(1711846800)
#define APR_30_2024_0900 INT64_C(1714438800)
#define MAY_31_2024_0900 INT64_C(1717117200)
#define JAN_31_2025_0700 INT64_C(1738278000) /* Jan 30 in UTC */
#define FEB_28_2025_0700 INT64_C(1740697200)
#define MAR_31_2025_0700 INT64_C(1743375600)
#define DEC_31_2024_0900 INT64_C(1735606800)
#define JAN_31_2025_0900 INT64_C(1738285200)
#define FEB_28_2025_0900 INT64_C(1740704400)
#define MAR_31_2025_0900 INT64_C(1743382800)

static core_meeting mtg; /* ~14 KB: static, and reset by every test */

/* Independent of recurrence.c: the C library's calendar on shifted time. */
static struct tm local_tm(int64_t t)
{
    struct tm tm;
    time_t shifted = (time_t)(t + CORE_TZ_OFFSET);

    assert_non_null(gmtime_r(&shifted, &tm));
    return tm;
}

static void one_off(core_meeting *m)
{
    memset(m, 0, sizeof *m);
    m->meeting_id = 1242152152161LL;
    snprintf(m->subject, sizeof m->subject, "Weekly sync");
    snprintf(m->creator_userid, sizeof m->creator_userid, "alice");
    m->creator_instanceid = 1;
    m->type = 0;
    m->meeting_type = 0;
    m->start_time = MON_2024_03_11_1000;
    m->end_time = MON_2024_03_11_1000 + HOUR;
}

static void add_host(core_meeting *m, const char *userid)
{
    snprintf(m->hosts[m->n_hosts], sizeof m->hosts[0], "%s", userid);
    m->n_hosts++;
}

/* A prepared recurring meeting: daily, n occurrences from Mon 2024-03-11 10:00. */
static void recurring(core_meeting *m, int n)
{
    meetd_error err;

    one_off(m);
    m->meeting_type = 1;
    m->rule.recurring_type = 0;
    m->rule.until_type = 1;
    m->rule.until_count = n;
    assert_int_equal(core_meeting_prepare(m, MON_2024_03_11_1000 - DAY, &err), ME_OK);
    assert_int_equal(m->n_occ, n);
}

static void assert_err_has(const meetd_error *err, const char *needle)
{
    if (strstr(err->msg, needle) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err->msg, needle);
}

static void set_user(core_user *u, const char *userid, const char *guest_id, bool cohost)
{
    memset(u, 0, sizeof *u);
    snprintf(u->userid, sizeof u->userid, "%s", userid);
    snprintf(u->guest_id, sizeof u->guest_id, "%s", guest_id);
    u->cohost = cohost;
}

static meetd_err expand(int type, int until_type, int count, int64_t until, int64_t start,
                        int64_t end, core_occurrence *occ, int *n, meetd_error *err)
{
    core_recurring_rule r = {type, until_type, count, until};

    memset(err, 0, sizeof *err);
    return core_recurrence_expand(&r, start, end, occ, n, err);
}

/* ---- roles --------------------------------------------------------------- */

static void test_is_creator(void **state)
{
    (void)state;
    one_off(&mtg);
    assert_true(core_is_creator(&mtg, "alice"));
    assert_false(core_is_creator(&mtg, "Alice"));
    assert_false(core_is_creator(&mtg, "alice "));
    assert_false(core_is_creator(&mtg, "bob"));
    assert_false(core_is_creator(&mtg, ""));
    assert_false(core_is_creator(&mtg, NULL));
    mtg.creator_userid[0] = '\0';
    assert_false(core_is_creator(&mtg, ""));
}

static void test_is_host(void **state)
{
    (void)state;
    one_off(&mtg);
    /* No scheduled hosts: the creator hosts. */
    assert_true(core_is_host(&mtg, "alice"));
    assert_false(core_is_host(&mtg, "bob"));
    assert_false(core_is_host(&mtg, ""));
    /* Scheduled hosts replace the creator as host. */
    add_host(&mtg, "bob");
    add_host(&mtg, "carol");
    assert_true(core_is_host(&mtg, "bob"));
    assert_true(core_is_host(&mtg, "carol"));
    assert_false(core_is_host(&mtg, "alice"));
    assert_false(core_is_host(&mtg, "dave"));
    assert_false(core_is_host(&mtg, ""));
    assert_false(core_is_host(&mtg, NULL));
    add_host(&mtg, "alice");
    assert_true(core_is_host(&mtg, "alice"));
}

static void test_user_role_enterprise(void **state)
{
    core_user u;

    (void)state;
    one_off(&mtg);
    set_user(&u, "alice", "", false);
    assert_int_equal(core_user_role(&mtg, &u), CORE_ROLE_CREATOR_HOST); /* host by default */
    set_user(&u, "zed", "", false);
    assert_int_equal(core_user_role(&mtg, &u), CORE_ROLE_MEMBER);
    set_user(&u, "zed", "", true);
    assert_int_equal(core_user_role(&mtg, &u), CORE_ROLE_COHOST);

    add_host(&mtg, "bob");
    set_user(&u, "alice", "", false);
    assert_int_equal(core_user_role(&mtg, &u), CORE_ROLE_CREATOR);
    set_user(&u, "alice", "", true);
    assert_int_equal(core_user_role(&mtg, &u), CORE_ROLE_CREATOR_COHOST);
    set_user(&u, "bob", "", false);
    assert_int_equal(core_user_role(&mtg, &u), CORE_ROLE_HOST);
    set_user(&u, "bob", "", true);
    assert_int_equal(core_user_role(&mtg, &u), CORE_ROLE_HOST); /* host outranks co-host */

    add_host(&mtg, "alice");
    set_user(&u, "alice", "", true);
    assert_int_equal(core_user_role(&mtg, &u), CORE_ROLE_CREATOR_HOST);
}

static void test_user_role_guest(void **state)
{
    core_user u;

    (void)state;
    one_off(&mtg);
    add_host(&mtg, "bob");
    set_user(&u, "", "g-1", false);
    assert_int_equal(core_user_role(&mtg, &u), CORE_ROLE_GUEST);
    set_user(&u, "", "g-1", true);
    assert_int_equal(core_user_role(&mtg, &u), CORE_ROLE_COHOST);
    /* A guest id equal to the creator's or a host's userid is still a guest. */
    set_user(&u, "", "alice", false);
    assert_int_equal(core_user_role(&mtg, &u), CORE_ROLE_GUEST);
    set_user(&u, "", "bob", false);
    assert_int_equal(core_user_role(&mtg, &u), CORE_ROLE_GUEST);
}

/* ---- prepare: one-off ---------------------------------------------------- */

static void assert_invalid(core_meeting *m, const char *field)
{
    meetd_error err;

    memset(&err, 0, sizeof err);
    assert_int_equal(core_meeting_prepare(m, 1, &err), ME_INVALID);
    assert_int_equal(err.err, ME_INVALID);
    if (strstr(err.msg, field) == NULL)
        fail_msg("message \"%s\" does not name %s", err.msg, field);
}

static void test_prepare_one_off_ok(void **state)
{
    meetd_error err;

    (void)state;
    one_off(&mtg);
    mtg.status = CORE_ST_ENDED;
    mtg.n_occ = 5;
    assert_int_equal(core_meeting_prepare(&mtg, 1700000000, &err), ME_OK);
    assert_int_equal(mtg.status, CORE_ST_INIT);
    assert_int_equal(mtg.n_occ, 0);
    assert_true(mtg.start_time == MON_2024_03_11_1000);
    assert_true(mtg.end_time == MON_2024_03_11_1000 + HOUR);
    assert_true(mtg.created_at == 1700000000);
}

static void test_prepare_subject(void **state)
{
    meetd_error err;

    (void)state;
    one_off(&mtg);
    mtg.subject[0] = '\0';
    assert_invalid(&mtg, "subject");

    /* Tencent's count: 2 a character, 4 above U+FFFF, 512 at most. */
    one_off(&mtg);
    memset(mtg.subject, 's', 256);
    mtg.subject[256] = '\0';
    assert_int_equal(core_meeting_prepare(&mtg, 1, &err), ME_OK);
    memset(mtg.subject, 's', 257);
    mtg.subject[257] = '\0';
    assert_invalid(&mtg, "subject");
    one_off(&mtg);
    for (int i = 0; i < 256; i++)
        memcpy(mtg.subject + 3 * i, "\xe4\xb8\xad", 3); /* 中: 768 bytes, 512 counted */
    mtg.subject[768] = '\0';
    assert_int_equal(core_meeting_prepare(&mtg, 1, &err), ME_OK);
    for (int i = 0; i < 128; i++)
        memcpy(mtg.subject + 4 * i, "\xf0\x9f\x98\x80", 4); /* U+1F600: 4 counted */
    mtg.subject[512] = '\0';
    assert_int_equal(core_meeting_prepare(&mtg, 1, &err), ME_OK);
    mtg.subject[512] = 's';
    mtg.subject[513] = '\0';
    assert_invalid(&mtg, "subject");
    /* A full array cannot even be terminated. */
    memset(mtg.subject, 's', sizeof mtg.subject);
    assert_invalid(&mtg, "subject");

    one_off(&mtg);
    snprintf(mtg.subject, sizeof mtg.subject, "\xe5\x91\xa8\xe4\xbc\x9a"); /* 周会 */
    assert_int_equal(core_meeting_prepare(&mtg, 1, &err), ME_OK);
    snprintf(mtg.subject, sizeof mtg.subject, "bad \xc0\x80");
    assert_invalid(&mtg, "subject");
    snprintf(mtg.subject, sizeof mtg.subject, "two\nlines");
    assert_invalid(&mtg, "subject");
    snprintf(mtg.subject, sizeof mtg.subject, "tab\there");
    assert_invalid(&mtg, "subject");
    snprintf(mtg.subject, sizeof mtg.subject, "del\x7f");
    assert_invalid(&mtg, "subject");
}

static void test_prepare_creator(void **state)
{
    meetd_error err;

    (void)state;
    one_off(&mtg);
    mtg.creator_userid[0] = '\0';
    assert_invalid(&mtg, "userid");
    one_off(&mtg);
    memset(mtg.creator_userid, 'a', CORE_ID_MAX);
    assert_int_equal(core_meeting_prepare(&mtg, 1, &err), ME_OK);
    memset(mtg.creator_userid, 'a', sizeof mtg.creator_userid); /* 65 bytes */
    assert_invalid(&mtg, "userid");

    one_off(&mtg);
    mtg.creator_instanceid = 11;
    assert_invalid(&mtg, "instanceid");
    mtg.creator_instanceid = -1;
    assert_invalid(&mtg, "instanceid");
    mtg.creator_instanceid = 34;
    assert_invalid(&mtg, "instanceid");
    mtg.creator_instanceid = 33;
    assert_int_equal(core_meeting_prepare(&mtg, 1, &err), ME_OK);
}

static void test_prepare_types(void **state)
{
    meetd_error err;

    (void)state;
    one_off(&mtg);
    mtg.type = 2;
    assert_invalid(&mtg, "type");
    mtg.type = -1;
    assert_invalid(&mtg, "type");
    mtg.type = 1;
    assert_int_equal(core_meeting_prepare(&mtg, 1, &err), ME_OK);

    one_off(&mtg);
    mtg.meeting_type = 2;
    assert_invalid(&mtg, "meeting_type");
    mtg.meeting_type = -1;
    assert_invalid(&mtg, "meeting_type");

    /* A quick meeting cannot be recurring (Tencent's rule). */
    one_off(&mtg);
    mtg.type = 1;
    mtg.meeting_type = 1;
    mtg.rule.until_type = 1;
    mtg.rule.until_count = 2;
    assert_invalid(&mtg, "cannot be recurring");
    assert_int_equal(mtg.n_occ, 0);
}

static void test_prepare_times(void **state)
{
    meetd_error err;

    (void)state;
    one_off(&mtg);
    mtg.start_time = 0;
    assert_invalid(&mtg, "start_time");
    mtg.start_time = -5;
    assert_invalid(&mtg, "start_time");

    one_off(&mtg);
    mtg.end_time = mtg.start_time;
    assert_invalid(&mtg, "end_time");
    mtg.end_time = mtg.start_time - 1;
    assert_invalid(&mtg, "end_time");
    mtg.end_time = 0;
    assert_invalid(&mtg, "end_time");
    mtg.end_time = mtg.start_time + 1;
    assert_int_equal(core_meeting_prepare(&mtg, 1, &err), ME_OK);

    /* Far-future times are refused rather than overflowing later. */
    one_off(&mtg);
    mtg.start_time = INT64_MAX - 10;
    mtg.end_time = INT64_MAX;
    assert_invalid(&mtg, "start_time");
    one_off(&mtg);
    mtg.end_time = INT64_MAX;
    assert_invalid(&mtg, "end_time");
}

static void test_prepare_quick_defaults(void **state)
{
    meetd_error err;
    const int64_t now = 1700000000;

    (void)state;
    one_off(&mtg);
    mtg.type = 1;
    mtg.start_time = 0;
    mtg.end_time = 0;
    assert_int_equal(core_meeting_prepare(&mtg, now, &err), ME_OK);
    assert_true(mtg.start_time == now);
    assert_true(mtg.end_time == now + HOUR);

    /* A scheduled meeting gets no defaults. */
    one_off(&mtg);
    mtg.start_time = 0;
    mtg.end_time = 0;
    assert_invalid(&mtg, "start_time");
}

static void test_prepare_hosts(void **state)
{
    meetd_error err;
    char name[16];

    (void)state;
    one_off(&mtg);
    for (int i = 0; i < CORE_HOSTS_MAX; i++) {
        snprintf(name, sizeof name, "host%d", i);
        add_host(&mtg, name);
    }
    assert_int_equal(core_meeting_prepare(&mtg, 1, &err), ME_OK);
    mtg.n_hosts = CORE_HOSTS_MAX + 1;
    assert_invalid(&mtg, "hosts");
    mtg.n_hosts = -1;
    assert_invalid(&mtg, "hosts");

    one_off(&mtg);
    add_host(&mtg, "bob");
    add_host(&mtg, "carol");
    add_host(&mtg, "bob");
    assert_invalid(&mtg, "hosts[2]");

    one_off(&mtg);
    add_host(&mtg, "bob");
    add_host(&mtg, "");
    assert_invalid(&mtg, "hosts[1]");
    one_off(&mtg);
    add_host(&mtg, "new\nline");
    assert_invalid(&mtg, "hosts[0]");
    one_off(&mtg);
    memset(mtg.hosts[0], 'h', sizeof mtg.hosts[0]);
    mtg.n_hosts = 1;
    assert_invalid(&mtg, "hosts[0]");
    /* The creator may be listed as a host. */
    one_off(&mtg);
    add_host(&mtg, "alice");
    assert_int_equal(core_meeting_prepare(&mtg, 1, &err), ME_OK);
}

/* ---- prepare: recurring ------------------------------------------------- */

static void test_prepare_recurring(void **state)
{
    meetd_error err;

    (void)state;
    one_off(&mtg);
    mtg.meeting_type = 1;
    mtg.rule.recurring_type = 2;
    mtg.rule.until_type = 1;
    mtg.rule.until_count = 4;
    mtg.occ[0].status = CORE_ST_ENDED; /* garbage from the caller is overwritten */
    assert_int_equal(core_meeting_prepare(&mtg, 1, &err), ME_OK);
    assert_int_equal(mtg.status, CORE_ST_INIT);
    assert_int_equal(mtg.n_occ, 4);
    for (int i = 0; i < 4; i++) {
        assert_true(mtg.occ[i].start_time == MON_2024_03_11_1000 + (int64_t)i * 7 * DAY);
        assert_true(mtg.occ[i].end_time == mtg.occ[i].start_time + HOUR);
        assert_true(mtg.occ[i].sub_meeting_id == mtg.occ[i].start_time);
        assert_int_equal(mtg.occ[i].status, CORE_ST_INIT);
    }

    one_off(&mtg);
    mtg.meeting_type = 1;
    mtg.rule.recurring_type = 7;
    mtg.rule.until_type = 1;
    mtg.rule.until_count = 4;
    assert_invalid(&mtg, "recurring_type");
    assert_int_equal(mtg.n_occ, 0);
}

static void test_prepare_recurring_weekend_start(void **state)
{
    meetd_error err;

    (void)state;
    one_off(&mtg);
    mtg.meeting_type = 1;
    mtg.start_time = SAT_2024_03_09_1000;
    mtg.end_time = SAT_2024_03_09_1000 + 2 * HOUR;
    mtg.rule.recurring_type = 1;
    mtg.rule.until_type = 1;
    mtg.rule.until_count = 2;
    assert_int_equal(core_meeting_prepare(&mtg, 1, &err), ME_OK);
    assert_true(mtg.start_time == MON_2024_03_11_1000);
    assert_true(mtg.end_time == MON_2024_03_11_1000 + 2 * HOUR);
    assert_true(mtg.occ[1].start_time == TUE_2024_03_12_1000);
}

/* ---- recurrence ------------------------------------------------------------ */

static core_occurrence occ[CORE_OCC_MAX];

static void test_rec_daily(void **state)
{
    meetd_error err;
    int n = -1;

    (void)state;
    assert_int_equal(expand(0, 1, 3, 0, FRI_2024_03_08_1000, FRI_2024_03_08_1000 + 1800, occ,
                            &n, &err), ME_OK);
    assert_int_equal(n, 3);
    assert_true(occ[0].start_time == FRI_2024_03_08_1000);
    assert_true(occ[1].start_time == SAT_2024_03_09_1000);
    assert_true(occ[2].start_time == FRI_2024_03_08_1000 + 2 * DAY);
    for (int i = 0; i < n; i++) {
        assert_true(occ[i].end_time - occ[i].start_time == 1800);
        assert_true(occ[i].sub_meeting_id == occ[i].start_time);
        assert_int_equal(occ[i].status, CORE_ST_INIT);
    }
}

static void test_rec_working_days_from_friday(void **state)
{
    meetd_error err;
    int n;

    (void)state;
    assert_int_equal(expand(1, 1, 4, 0, FRI_2024_03_08_1000, FRI_2024_03_08_1000 + HOUR, occ,
                            &n, &err), ME_OK);
    assert_int_equal(n, 4);
    assert_true(occ[0].start_time == FRI_2024_03_08_1000);
    assert_true(occ[1].start_time == MON_2024_03_11_1000);
    assert_true(occ[2].start_time == TUE_2024_03_12_1000);
    assert_true(occ[3].start_time == WED_2024_03_13_1000);
    assert_true(occ[1].end_time == MON_2024_03_11_1000 + HOUR);
}

static void test_rec_working_days_from_saturday(void **state)
{
    meetd_error err;
    int n;

    (void)state;
    assert_int_equal(expand(1, 1, 2, 0, SAT_2024_03_09_1000, SAT_2024_03_09_1000 + HOUR, occ,
                            &n, &err), ME_OK);
    assert_int_equal(n, 2);
    assert_true(occ[0].start_time == MON_2024_03_11_1000);
    assert_true(occ[0].sub_meeting_id == MON_2024_03_11_1000);
    assert_true(occ[0].end_time == MON_2024_03_11_1000 + HOUR);
    assert_true(occ[1].start_time == TUE_2024_03_12_1000);
}

/* Saturday 07:00 in UTC+8 is Friday 23:00 UTC: local time decides. */
static void test_rec_working_days_local_not_utc(void **state)
{
    meetd_error err;
    int n;

    (void)state;
    assert_int_equal(expand(1, 1, 2, 0, SAT_2024_03_09_0700, SAT_2024_03_09_0700 + HOUR, occ,
                            &n, &err), ME_OK);
    assert_true(occ[0].start_time == MON_2024_03_11_0700);
    assert_true(occ[1].start_time == TUE_2024_03_12_0700);

    /* Monday 01:00 local is Sunday in UTC, and is a working day. */
    assert_int_equal(expand(1, 1, 2, 0, MON_2024_03_11_0100, MON_2024_03_11_0100 + HOUR, occ,
                            &n, &err), ME_OK);
    assert_true(occ[0].start_time == MON_2024_03_11_0100);
    assert_true(occ[1].start_time == TUE_2024_03_12_0100);
}

static void test_rec_working_days_never_weekend(void **state)
{
    meetd_error err;
    int n;

    (void)state;
    assert_int_equal(expand(1, 1, CORE_OCC_MAX, 0, SAT_2024_03_09_0700,
                            SAT_2024_03_09_0700 + HOUR, occ, &n, &err), ME_OK);
    assert_int_equal(n, CORE_OCC_MAX);
    for (int i = 0; i < n; i++) {
        struct tm tm = local_tm(occ[i].start_time);
        assert_true(tm.tm_wday >= 1 && tm.tm_wday <= 5);
        assert_int_equal(tm.tm_hour, 7);
        assert_int_equal(tm.tm_min, 0);
        if (i > 0) {
            int64_t gap = occ[i].start_time - occ[i - 1].start_time;
            /* Next day, or Friday to Monday. */
            assert_true(gap == DAY || (gap == 3 * DAY && tm.tm_wday == 1));
        }
    }
    /* 200 working days = 40 weeks. */
    assert_true(occ[n - 1].start_time == MON_2024_03_11_0700 + (int64_t)(40 * 7 - 3) * DAY);
}

static void test_rec_weekly_and_biweekly(void **state)
{
    meetd_error err;
    int n;

    (void)state;
    assert_int_equal(expand(2, 1, 3, 0, FRI_2024_03_08_1000, FRI_2024_03_08_1000 + HOUR, occ,
                            &n, &err), ME_OK);
    assert_int_equal(n, 3);
    assert_true(occ[1].start_time == FRI_2024_03_15_1000);
    assert_true(occ[2].start_time == FRI_2024_03_08_1000 + 14 * DAY);

    assert_int_equal(expand(3, 1, 3, 0, MON_2024_03_11_1000, MON_2024_03_11_1000 + HOUR, occ,
                            &n, &err), ME_OK);
    assert_int_equal(n, 3);
    assert_true(occ[1].start_time == MON_2024_03_11_1000 + 14 * DAY);
    assert_true(occ[2].start_time == MON_2024_03_11_1000 + 28 * DAY);
}

static void test_rec_monthly_from_jan_31(void **state)
{
    meetd_error err;
    int n;

    (void)state;
    assert_int_equal(expand(4, 1, 5, 0, JAN_31_2024_0900, JAN_31_2024_0900 + HOUR, occ, &n,
                            &err), ME_OK);
    assert_int_equal(n, 5);
    assert_true(occ[0].start_time == JAN_31_2024_0900);
    assert_true(occ[1].start_time == FEB_29_2024_0900); /* leap year */
    assert_true(occ[2].start_time == MAR_31_2024_0900); /* back to the 31st */
    assert_true(occ[3].start_time == APR_30_2024_0900);
    assert_true(occ[4].start_time == MAY_31_2024_0900);
    assert_true(occ[4].end_time == MAY_31_2024_0900 + HOUR);
}

static void test_rec_monthly_local_day_and_year_end(void **state)
{
    meetd_error err;
    int n;

    (void)state;
    /* 2025-01-31 07:00 local is still January 30 in UTC. */
    assert_int_equal(expand(4, 1, 3, 0, JAN_31_2025_0700, JAN_31_2025_0700 + HOUR, occ, &n,
                            &err), ME_OK);
    assert_true(occ[1].start_time == FEB_28_2025_0700);
    assert_true(occ[2].start_time == MAR_31_2025_0700);

    assert_int_equal(expand(4, 1, 4, 0, DEC_31_2024_0900, DEC_31_2024_0900 + HOUR, occ, &n,
                            &err), ME_OK);
    assert_true(occ[1].start_time == JAN_31_2025_0900);
    assert_true(occ[2].start_time == FEB_28_2025_0900);
    assert_true(occ[3].start_time == MAR_31_2025_0900);
}

static void test_rec_monthly_50_against_libc(void **state)
{
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    meetd_error err;
    int n;

    (void)state;
    assert_int_equal(expand(4, 1, 50, 0, JAN_31_2025_0700, JAN_31_2025_0700 + 90 * 60, occ, &n,
                            &err), ME_OK);
    assert_int_equal(n, 50);
    for (int i = 0; i < n; i++) {
        struct tm tm = local_tm(occ[i].start_time);
        int year = tm.tm_year + 1900;
        int last = mdays[tm.tm_mon] + (tm.tm_mon == 1 && year % 4 == 0);
        assert_int_equal((tm.tm_year - 125) * 12 + tm.tm_mon, i);
        assert_int_equal(tm.tm_mday, last < 31 ? last : 31);
        assert_int_equal(tm.tm_hour, 7);
        assert_true(occ[i].end_time - occ[i].start_time == 90 * 60);
    }
}

static void test_rec_count_caps(void **state)
{
    meetd_error err;
    int64_t s = MON_2024_03_11_1000, e = s + HOUR;
    int n;

    (void)state;
    for (int type = 0; type <= 2; type++) {
        assert_int_equal(expand(type, 1, CORE_OCC_MAX, 0, s, e, occ, &n, &err), ME_OK);
        assert_int_equal(n, CORE_OCC_MAX);
        n = -1;
        assert_int_equal(expand(type, 1, CORE_OCC_MAX + 1, 0, s, e, occ, &n, &err), ME_INVALID);
        assert_int_equal(n, 0);
        assert_non_null(strstr(err.msg, "until_count"));
    }
    for (int type = 3; type <= 4; type++) {
        assert_int_equal(expand(type, 1, 50, 0, s, e, occ, &n, &err), ME_OK);
        assert_int_equal(n, 50);
        assert_int_equal(expand(type, 1, 51, 0, s, e, occ, &n, &err), ME_INVALID);
        assert_int_equal(n, 0);
    }
    assert_int_equal(expand(0, 1, 1, 0, s, e, occ, &n, &err), ME_OK);
    assert_int_equal(n, 1);
    assert_int_equal(expand(0, 1, 0, 0, s, e, occ, &n, &err), ME_INVALID);
    assert_int_equal(expand(0, 1, -1, 0, s, e, occ, &n, &err), ME_INVALID);
}

static void test_rec_until_date(void **state)
{
    meetd_error err;
    int64_t s = MON_2024_03_11_1000, e = s + HOUR;
    int n;

    (void)state;
    assert_int_equal(expand(0, 0, 0, s + 2 * DAY, s, e, occ, &n, &err), ME_OK);
    assert_int_equal(n, 3); /* an occurrence starting exactly at until_date counts */
    assert_int_equal(expand(0, 0, 0, s + 2 * DAY - 1, s, e, occ, &n, &err), ME_OK);
    assert_int_equal(n, 2);
    assert_int_equal(expand(0, 0, 0, s, s, e, occ, &n, &err), ME_OK);
    assert_int_equal(n, 1);
    assert_int_equal(expand(0, 0, 0, s - 1, s, e, occ, &n, &err), ME_INVALID);
    assert_non_null(strstr(err.msg, "until_date"));
    /* until_count is ignored for until_type 0. */
    assert_int_equal(expand(2, 0, 999, s + 7 * DAY, s, e, occ, &n, &err), ME_OK);
    assert_int_equal(n, 2);
}

static void test_rec_until_date_caps(void **state)
{
    meetd_error err;
    int64_t s = MON_2024_03_11_1000, e = s + HOUR;
    int n;

    (void)state;
    assert_int_equal(expand(0, 0, 0, s + (CORE_OCC_MAX - 1) * (int64_t)DAY, s, e, occ, &n, &err),
                     ME_OK);
    assert_int_equal(n, CORE_OCC_MAX);
    assert_int_equal(expand(0, 0, 0, s + CORE_OCC_MAX * (int64_t)DAY, s, e, occ, &n, &err),
                     ME_INVALID);
    assert_int_equal(n, 0);
    assert_int_equal(expand(3, 0, 0, s + 49 * 14 * (int64_t)DAY, s, e, occ, &n, &err), ME_OK);
    assert_int_equal(n, 50);
    assert_int_equal(expand(3, 0, 0, s + 50 * 14 * (int64_t)DAY, s, e, occ, &n, &err),
                     ME_INVALID);
    /* A weekly series is capped at 200, not 50. */
    assert_int_equal(expand(2, 0, 0, s + 60 * 7 * (int64_t)DAY, s, e, occ, &n, &err), ME_OK);
    assert_int_equal(n, 61);
    /* Monthly: 50 months from Jan 31 2024 ends on 2028-02-29. */
    assert_int_equal(expand(4, 0, 0, INT64_MAX, JAN_31_2024_0900, JAN_31_2024_0900 + HOUR, occ,
                            &n, &err), ME_INVALID);
    assert_int_equal(expand(4, 0, 0, MAY_31_2024_0900, JAN_31_2024_0900,
                            JAN_31_2024_0900 + HOUR, occ, &n, &err), ME_OK);
    assert_int_equal(n, 5);
}

static void test_rec_until_date_working_days(void **state)
{
    meetd_error err;
    int n;

    (void)state;
    /* Until the Saturday itself: the Monday start is after it, nothing is left. */
    assert_int_equal(expand(1, 0, 0, SAT_2024_03_09_1000 + HOUR, SAT_2024_03_09_1000,
                            SAT_2024_03_09_1000 + HOUR, occ, &n, &err), ME_INVALID);
    assert_int_equal(n, 0);
    /* Friday to the next Monday 10:00: Fri, Mon..Fri, Mon = 7. */
    assert_int_equal(expand(1, 0, 0, MON_2024_03_18_1000, FRI_2024_03_08_1000,
                            FRI_2024_03_08_1000 + HOUR, occ, &n, &err), ME_OK);
    assert_int_equal(n, 7);
    assert_true(occ[5].start_time == FRI_2024_03_15_1000);
    assert_true(occ[6].start_time == MON_2024_03_18_1000);
}

static void test_rec_invalid(void **state)
{
    meetd_error err;
    int64_t s = MON_2024_03_11_1000, e = s + HOUR;
    int n;

    (void)state;
    assert_int_equal(expand(5, 1, 3, 0, s, e, occ, &n, &err), ME_INVALID);
    assert_non_null(strstr(err.msg, "recurring_type"));
    assert_int_equal(expand(-1, 1, 3, 0, s, e, occ, &n, &err), ME_INVALID);
    assert_int_equal(expand(0, 2, 3, 0, s, e, occ, &n, &err), ME_INVALID);
    assert_non_null(strstr(err.msg, "until_type"));
    assert_int_equal(expand(0, -1, 3, 0, s, e, occ, &n, &err), ME_INVALID);
    assert_int_equal(expand(0, 1, 3, 0, s, s, occ, &n, &err), ME_INVALID);
    assert_int_equal(expand(0, 1, 3, 0, 0, HOUR, occ, &n, &err), ME_INVALID);
    assert_int_equal(expand(0, 1, 3, 0, INT64_MAX - HOUR, INT64_MAX, occ, &n, &err),
                     ME_INVALID);
}

/* Every occurrence ends by 9999-12-31T23:59:59Z, the bound of the first
 * one's times: a series starting near it and counted past it is refused,
 * not stored with times no modify would take back. */
static void test_rec_series_past_time_limit(void **state)
{
    const int64_t limit = INT64_C(253402300799);
    meetd_error err;
    int n;

    (void)state;
    /* Two days before the bound: three daily occurrences fit, four not. */
    int64_t s = limit - 2 * DAY - HOUR, e = s + HOUR;
    assert_int_equal(expand(0, 1, 3, 0, s, e, occ, &n, &err), ME_OK);
    assert_int_equal(n, 3);
    assert_true(occ[2].end_time <= limit);
    assert_int_equal(expand(0, 1, 4, 0, s, e, occ, &n, &err), ME_INVALID);
    assert_non_null(strstr(err.msg, "9999-12-31"));
    for (int type = 1; type <= 4; type++)
        assert_int_equal(expand(type, 1, 50, 0, s, e, occ, &n, &err), ME_INVALID);
    /* Counted by until_date the series stops at the bound by itself. */
    assert_int_equal(expand(0, 0, 0, limit, s, e, occ, &n, &err), ME_OK);
    assert_int_equal(n, 3);
}

/* ---- current occurrence and status ------------------------------------- */

static void test_current_occurrence(void **state)
{
    int64_t t0;

    (void)state;
    one_off(&mtg);
    assert_int_equal(core_current_occurrence(&mtg, MON_2024_03_11_1000), -1);

    recurring(&mtg, 3);
    t0 = mtg.occ[0].start_time;
    assert_int_equal(core_current_occurrence(&mtg, t0 - DAY), 0);
    assert_int_equal(core_current_occurrence(&mtg, t0 + HOUR - 1), 0);
    assert_int_equal(core_current_occurrence(&mtg, t0 + HOUR), 1); /* end is exclusive */
    assert_int_equal(core_current_occurrence(&mtg, t0 + 2 * DAY + 10), 2);
    /* All past their end: the last INIT one still takes a late join. */
    assert_int_equal(core_current_occurrence(&mtg, t0 + 10 * DAY), 2);

    /* A started occurrence wins, whatever the clock says. */
    mtg.occ[1].status = CORE_ST_STARTED;
    assert_int_equal(core_current_occurrence(&mtg, t0 - DAY), 1);
    assert_int_equal(core_current_occurrence(&mtg, t0 + 10 * DAY), 1);

    mtg.occ[1].status = CORE_ST_ENDED;
    mtg.occ[0].status = CORE_ST_ENDED;
    assert_int_equal(core_current_occurrence(&mtg, t0 - DAY), 2);
    mtg.occ[2].status = CORE_ST_CANCELLED;
    assert_int_equal(core_current_occurrence(&mtg, t0 - DAY), -1);

    /* The last INIT one, not the last one. */
    mtg.occ[1].status = CORE_ST_INIT;
    assert_int_equal(core_current_occurrence(&mtg, t0 + 10 * DAY), 1);

    mtg.status = CORE_ST_CANCELLED;
    assert_int_equal(core_current_occurrence(&mtg, t0 - DAY), -1);
}

static void test_meeting_status(void **state)
{
    (void)state;
    one_off(&mtg);
    for (int st = CORE_ST_INIT; st <= CORE_ST_CANCELLED; st++) {
        mtg.status = st;
        assert_int_equal(core_meeting_status(&mtg, 0), st);
    }

    recurring(&mtg, 3);
    assert_int_equal(core_meeting_status(&mtg, 0), CORE_ST_INIT);
    mtg.occ[0].status = CORE_ST_ENDED;
    assert_int_equal(core_meeting_status(&mtg, 0), CORE_ST_INIT);
    mtg.occ[1].status = CORE_ST_STARTED;
    assert_int_equal(core_meeting_status(&mtg, 0), CORE_ST_STARTED);
    mtg.occ[1].status = CORE_ST_ENDED;
    mtg.occ[2].status = CORE_ST_CANCELLED;
    assert_int_equal(core_meeting_status(&mtg, 0), CORE_ST_ENDED);
    for (int i = 0; i < 3; i++)
        mtg.occ[i].status = CORE_ST_CANCELLED;
    assert_int_equal(core_meeting_status(&mtg, 0), CORE_ST_CANCELLED);
    mtg.occ[0].status = CORE_ST_STARTED;
    mtg.status = CORE_ST_CANCELLED;
    assert_int_equal(core_meeting_status(&mtg, 0), CORE_ST_CANCELLED);
}

/* ---- join, start, in progress --------------------------------------------- */

static void test_join_target_one_off(void **state)
{
    meetd_error err;
    int64_t sub = -1;

    (void)state;
    one_off(&mtg);
    assert_int_equal(core_join_target(&mtg, 0, &sub, &err), ME_OK);
    assert_true(sub == 0);
    mtg.status = CORE_ST_STARTED;
    assert_int_equal(core_join_target(&mtg, 0, &sub, &err), ME_OK);
    mtg.status = CORE_ST_ENDED;
    assert_int_equal(core_join_target(&mtg, 0, &sub, &err), ME_NOT_IN_PROGRESS);
    assert_string_equal(err.msg, "meeting has ended");
    mtg.status = CORE_ST_CANCELLED;
    assert_int_equal(core_join_target(&mtg, 0, &sub, &err), ME_NOT_IN_PROGRESS);
    assert_string_equal(err.msg, "meeting was cancelled");
}

static void test_join_target_recurring(void **state)
{
    meetd_error err;
    int64_t sub = -1, t0;

    (void)state;
    recurring(&mtg, 2);
    t0 = mtg.occ[0].start_time;
    assert_int_equal(core_join_target(&mtg, t0, &sub, &err), ME_OK);
    assert_true(sub == t0);
    assert_int_equal(core_join_target(&mtg, t0 + HOUR, &sub, &err), ME_OK);
    assert_true(sub == t0 + DAY);
    mtg.occ[0].status = CORE_ST_ENDED;
    mtg.occ[1].status = CORE_ST_ENDED;
    assert_int_equal(core_join_target(&mtg, t0, &sub, &err), ME_NOT_IN_PROGRESS);
    assert_true(sub == 0);
    mtg.occ[1].status = CORE_ST_INIT;
    mtg.status = CORE_ST_CANCELLED;
    assert_int_equal(core_join_target(&mtg, t0, &sub, &err), ME_NOT_IN_PROGRESS);
}

static void test_mark_started(void **state)
{
    (void)state;
    one_off(&mtg);
    core_mark_started(&mtg, 0);
    assert_int_equal(mtg.status, CORE_ST_STARTED);
    core_mark_started(&mtg, 0);
    assert_int_equal(mtg.status, CORE_ST_STARTED);
    mtg.status = CORE_ST_ENDED;
    core_mark_started(&mtg, 0);
    assert_int_equal(mtg.status, CORE_ST_ENDED);

    recurring(&mtg, 3);
    core_mark_started(&mtg, mtg.occ[1].sub_meeting_id);
    assert_int_equal(mtg.occ[0].status, CORE_ST_INIT);
    assert_int_equal(mtg.occ[1].status, CORE_ST_STARTED);
    assert_int_equal(mtg.occ[2].status, CORE_ST_INIT);
    assert_int_equal(mtg.status, CORE_ST_INIT);
    mtg.occ[2].status = CORE_ST_ENDED;
    core_mark_started(&mtg, mtg.occ[2].sub_meeting_id);
    assert_int_equal(mtg.occ[2].status, CORE_ST_ENDED);
    core_mark_started(&mtg, 12345); /* no such occurrence: nothing */
    assert_int_equal(mtg.occ[0].status, CORE_ST_INIT);
}

static void test_require_in_progress(void **state)
{
    meetd_error err;
    int64_t sub = -1;

    (void)state;
    one_off(&mtg);
    /* Each cause says itself: right after create nobody has joined. */
    assert_int_equal(core_require_in_progress(&mtg, 0, &sub, &err), ME_NOT_IN_PROGRESS);
    assert_string_equal(err.msg, "meeting is not in progress: nobody has joined it yet "
                                 "(a meeting starts when its first device joins)");
    mtg.status = CORE_ST_STARTED;
    assert_int_equal(core_require_in_progress(&mtg, 0, &sub, &err), ME_OK);
    assert_true(sub == 0);
    mtg.status = CORE_ST_ENDED;
    assert_int_equal(core_require_in_progress(&mtg, 0, &sub, &err), ME_NOT_IN_PROGRESS);
    assert_string_equal(err.msg, "meeting is not in progress: it has ended (dismissed); "
                                 "an ended meeting does not start again");
    mtg.status = CORE_ST_CANCELLED;
    assert_int_equal(core_require_in_progress(&mtg, 0, &sub, &err), ME_NOT_IN_PROGRESS);
    assert_string_equal(err.msg, "meeting is not in progress: it was cancelled");

    recurring(&mtg, 3);
    /* The current occurrence exists but has not started. */
    assert_int_equal(core_require_in_progress(&mtg, mtg.occ[0].start_time, &sub, &err),
                     ME_NOT_IN_PROGRESS);
    char want[200];
    snprintf(want, sizeof want,
             "meeting is not in progress: nobody has joined its current occurrence "
             "(sub_meeting_id %lld) yet (an occurrence starts when its first device joins)",
             (long long)mtg.occ[0].sub_meeting_id);
    assert_string_equal(err.msg, want);
    mtg.occ[2].status = CORE_ST_STARTED;
    assert_int_equal(core_require_in_progress(&mtg, 0, &sub, &err), ME_OK);
    assert_true(sub == mtg.occ[2].sub_meeting_id);
    mtg.status = CORE_ST_CANCELLED;
    assert_int_equal(core_require_in_progress(&mtg, 0, &sub, &err), ME_NOT_IN_PROGRESS);
    assert_string_equal(err.msg, "meeting is not in progress: the recurring meeting was "
                                 "cancelled");
}

/* ---- dismiss ------------------------------------------------------------- */

static core_end_req by_userid(const char *userid)
{
    core_end_req r;

    memset(&r, 0, sizeof r);
    r.op_type = CORE_ID_USERID;
    snprintf(r.op_id, sizeof r.op_id, "%s", userid ? userid : "");
    r.op_instanceid = 1;
    r.meeting_type = -1;
    return r;
}

/* An operator named by userid who never joined: the store finds nobody. */
static meetd_err dismiss_as(core_meeting *m, const char *userid, int64_t now, int64_t *sub,
                            meetd_error *err)
{
    core_end_req r = by_userid(userid);
    core_party nobody;

    memset(&nobody, 0, sizeof nobody);
    return core_dismiss(m, now, &r, &nobody, sub, err);
}

static meetd_err cancel_as(core_meeting *m, const char *userid, int64_t sub, meetd_error *err)
{
    core_end_req r = by_userid(userid);
    core_party nobody;

    memset(&nobody, 0, sizeof nobody);
    r.has_sub = sub != 0;
    r.sub_meeting_id = sub;
    return core_cancel(m, &r, &nobody, err);
}

/* A joined user: present on instanceid 2. */
static core_party party(const char *userid, bool cohost, bool banned)
{
    core_party p;

    memset(&p, 0, sizeof p);
    p.found = true;
    p.user.user_no = 7;
    snprintf(p.user.userid, sizeof p.user.userid, "%s", userid);
    snprintf(p.user.ms_open_id, sizeof p.user.ms_open_id, "ms-%s", userid);
    p.user.cohost = cohost;
    p.present_mask = UINT64_C(1) << 2;
    p.banned = banned;
    return p;
}

static core_end_req by_ms(const core_party *p, int instanceid)
{
    core_end_req r;

    memset(&r, 0, sizeof r);
    r.op_type = CORE_ID_MS_OPEN_ID;
    snprintf(r.op_id, sizeof r.op_id, "%s", p->user.ms_open_id);
    r.op_instanceid = instanceid;
    r.meeting_type = -1;
    return r;
}

static void test_dismiss_permission(void **state)
{
    meetd_error err;
    int64_t sub;

    (void)state;
    one_off(&mtg);
    add_host(&mtg, "bob");
    mtg.status = CORE_ST_STARTED;
    assert_int_equal(dismiss_as(&mtg, "zed", 0, &sub, &err), ME_FORBIDDEN);
    assert_int_equal(dismiss_as(&mtg, "", 0, &sub, &err), ME_FORBIDDEN);
    assert_int_equal(dismiss_as(&mtg, NULL, 0, &sub, &err), ME_FORBIDDEN);
    assert_int_equal(mtg.status, CORE_ST_STARTED);
    assert_int_equal(dismiss_as(&mtg, "bob", 0, &sub, &err), ME_OK);
    assert_int_equal(mtg.status, CORE_ST_ENDED);
    assert_true(sub == 0);

    /* The creator is not a host here, and may still dismiss. */
    mtg.status = CORE_ST_STARTED;
    assert_int_equal(dismiss_as(&mtg, "alice", 0, &sub, &err), ME_OK);
    assert_int_equal(mtg.status, CORE_ST_ENDED);
}

static void test_dismiss_cohost(void **state)
{
    meetd_error err;
    int64_t sub;
    core_party carol = party("carol", true, false);
    core_party dave = party("dave", false, false);
    core_end_req r;

    (void)state;
    one_off(&mtg);
    mtg.status = CORE_ST_STARTED;
    /* A member, by ms_open_id or userid: no. */
    r = by_ms(&dave, 2);
    assert_int_equal(core_dismiss(&mtg, 0, &r, &dave, &sub, &err), ME_FORBIDDEN);
    r = by_userid("dave");
    assert_int_equal(core_dismiss(&mtg, 0, &r, &dave, &sub, &err), ME_FORBIDDEN);
    /* A co-host by ms_open_id must be on that device. */
    r = by_ms(&carol, 1);
    assert_int_equal(core_dismiss(&mtg, 0, &r, &carol, &sub, &err), ME_FORBIDDEN);
    assert_string_equal(err.msg, "operator is not in the meeting on that device");
    assert_int_equal(mtg.status, CORE_ST_STARTED);
    /* A banned co-host: never. */
    core_party banned = party("carol", true, true);
    r = by_ms(&banned, 2);
    assert_int_equal(core_dismiss(&mtg, 0, &r, &banned, &sub, &err), ME_FORBIDDEN);
    assert_err_has(&err, "allow_rejoin=false");
    assert_int_equal(mtg.status, CORE_ST_STARTED);
    r = by_ms(&carol, 2);
    assert_int_equal(core_dismiss(&mtg, 0, &r, &carol, &sub, &err), ME_OK);
    assert_int_equal(mtg.status, CORE_ST_ENDED);
    /* By userid, a user who holds the role needs no presence. */
    mtg.status = CORE_ST_STARTED;
    carol.present_mask = 0;
    r = by_userid("carol");
    assert_int_equal(core_dismiss(&mtg, 0, &r, &carol, &sub, &err), ME_OK);
    assert_int_equal(mtg.status, CORE_ST_ENDED);
}

static void test_dismiss_one_off_states(void **state)
{
    meetd_error err;
    int64_t sub;

    (void)state;
    one_off(&mtg);
    /* Only a meeting in progress: one nobody joined is cancelled instead. */
    assert_int_equal(dismiss_as(&mtg, "alice", 0, &sub, &err), ME_NOT_IN_PROGRESS);
    assert_err_has(&err, "nobody has joined it yet");
    assert_int_equal(mtg.status, CORE_ST_INIT);
    mtg.status = CORE_ST_STARTED;
    assert_int_equal(dismiss_as(&mtg, "alice", 0, &sub, &err), ME_OK);
    assert_int_equal(mtg.status, CORE_ST_ENDED);
    assert_int_equal(dismiss_as(&mtg, "alice", 0, &sub, &err), ME_NOT_IN_PROGRESS);
    assert_err_has(&err, "it has ended");
    assert_int_equal(mtg.status, CORE_ST_ENDED);
    mtg.status = CORE_ST_CANCELLED;
    assert_int_equal(dismiss_as(&mtg, "alice", 0, &sub, &err), ME_NOT_IN_PROGRESS);
    assert_err_has(&err, "it was cancelled");
    assert_int_equal(mtg.status, CORE_ST_CANCELLED);
}

static void test_dismiss_recurring(void **state)
{
    meetd_error err;
    int64_t sub = -1, t0;

    (void)state;
    recurring(&mtg, 3);
    t0 = mtg.occ[0].start_time;
    mtg.occ[1].status = CORE_ST_STARTED;
    assert_int_equal(dismiss_as(&mtg, "alice", t0, &sub, &err), ME_OK);
    assert_true(sub == mtg.occ[1].sub_meeting_id);
    assert_int_equal(mtg.occ[0].status, CORE_ST_INIT);
    assert_int_equal(mtg.occ[1].status, CORE_ST_ENDED);

    /* None started: nothing is in progress to end. */
    assert_int_equal(dismiss_as(&mtg, "alice", t0 + HOUR, &sub, &err), ME_NOT_IN_PROGRESS);
    assert_err_has(&err, "nobody has joined its current occurrence");
    assert_true(sub == 0);
    assert_int_equal(mtg.occ[0].status, CORE_ST_INIT);
    assert_int_equal(mtg.occ[2].status, CORE_ST_INIT);

    mtg.occ[0].status = CORE_ST_ENDED;
    mtg.occ[2].status = CORE_ST_STARTED;
    assert_int_equal(dismiss_as(&mtg, "alice", t0 + 9 * DAY, &sub, &err), ME_OK);
    assert_true(sub == mtg.occ[2].sub_meeting_id);
    assert_int_equal(dismiss_as(&mtg, "alice", t0, &sub, &err), ME_NOT_IN_PROGRESS);
    assert_string_equal(err.msg, "meeting is not in progress: every occurrence has ended or "
                                 "been cancelled");
    assert_true(sub == 0);
    assert_int_equal(core_meeting_status(&mtg, t0), CORE_ST_ENDED);
}

/* ---- cancel -------------------------------------------------------------- */

static void test_cancel_permission(void **state)
{
    meetd_error err;
    core_party alice = party("alice", false, false);
    core_party carol = party("carol", true, false);
    core_end_req r;

    (void)state;
    one_off(&mtg);
    add_host(&mtg, "bob");
    assert_int_equal(cancel_as(&mtg, "bob", 0, &err), ME_FORBIDDEN);
    assert_int_equal(cancel_as(&mtg, "zed", 0, &err), ME_FORBIDDEN);
    assert_int_equal(cancel_as(&mtg, "", 0, &err), ME_FORBIDDEN);
    r = by_ms(&carol, 2);
    assert_int_equal(core_cancel(&mtg, &r, &carol, &err), ME_FORBIDDEN);
    /* The creator banned, or by ms_open_id on another device: no. */
    core_party banned = party("alice", false, true);
    r = by_userid("alice");
    assert_int_equal(core_cancel(&mtg, &r, &banned, &err), ME_FORBIDDEN);
    r = by_ms(&alice, 3);
    assert_int_equal(core_cancel(&mtg, &r, &alice, &err), ME_FORBIDDEN);
    assert_int_equal(mtg.status, CORE_ST_INIT);
    r = by_ms(&alice, 2);
    assert_int_equal(core_cancel(&mtg, &r, &alice, &err), ME_OK);
    assert_int_equal(mtg.status, CORE_ST_CANCELLED);
}

static void test_cancel_one_off(void **state)
{
    meetd_error err;
    core_end_req r = by_userid("alice");
    core_party nobody;

    (void)state;
    memset(&nobody, 0, sizeof nobody);
    one_off(&mtg);
    mtg.status = CORE_ST_STARTED;
    assert_int_equal(cancel_as(&mtg, "alice", 0, &err), ME_STARTED);
    assert_int_equal(mtg.status, CORE_ST_STARTED);
    mtg.status = CORE_ST_INIT;
    r.meeting_type = 1;
    assert_int_equal(core_cancel(&mtg, &r, &nobody, &err), ME_INVALID);
    assert_err_has(&err, "meeting_type 1");
    assert_int_equal(mtg.status, CORE_ST_INIT);
    r.meeting_type = 0;
    assert_int_equal(core_cancel(&mtg, &r, &nobody, &err), ME_OK);
    assert_int_equal(mtg.status, CORE_ST_CANCELLED);
    assert_int_equal(cancel_as(&mtg, "alice", 0, &err), ME_CANCELLED);
    mtg.status = CORE_ST_ENDED;
    assert_int_equal(cancel_as(&mtg, "alice", 0, &err), ME_ENDED);
    assert_int_equal(mtg.status, CORE_ST_ENDED);
    mtg.status = CORE_ST_INIT;
    assert_int_equal(cancel_as(&mtg, "alice", 123, &err), ME_INVALID);
    assert_int_equal(mtg.status, CORE_ST_INIT);
}

static void test_cancel_series(void **state)
{
    meetd_error err;
    int64_t sub;
    core_end_req r = by_userid("alice");
    core_party nobody;

    (void)state;
    memset(&nobody, 0, sizeof nobody);
    recurring(&mtg, 3);
    mtg.occ[0].status = CORE_ST_ENDED;
    mtg.occ[1].status = CORE_ST_STARTED;
    /* An occurrence in progress: the series has started. */
    assert_int_equal(cancel_as(&mtg, "alice", 0, &err), ME_STARTED);
    assert_int_equal(mtg.status, CORE_ST_INIT);
    assert_int_equal(mtg.occ[2].status, CORE_ST_INIT);
    mtg.occ[1].status = CORE_ST_ENDED;
    r.meeting_type = 0;
    assert_int_equal(core_cancel(&mtg, &r, &nobody, &err), ME_INVALID);
    assert_int_equal(mtg.status, CORE_ST_INIT);
    r.meeting_type = 1;
    assert_int_equal(core_cancel(&mtg, &r, &nobody, &err), ME_OK);
    assert_int_equal(mtg.status, CORE_ST_CANCELLED);
    assert_int_equal(mtg.occ[0].status, CORE_ST_ENDED);
    assert_int_equal(mtg.occ[1].status, CORE_ST_ENDED);
    assert_int_equal(mtg.occ[2].status, CORE_ST_CANCELLED);
    assert_int_equal(core_meeting_status(&mtg, 0), CORE_ST_CANCELLED);
    assert_int_equal(core_join_target(&mtg, 0, &sub, &err), ME_NOT_IN_PROGRESS);
    assert_int_equal(cancel_as(&mtg, "alice", 0, &err), ME_CANCELLED);
    assert_int_equal(cancel_as(&mtg, "alice", mtg.occ[2].sub_meeting_id, &err), ME_CANCELLED);

    /* A series that is over cannot be cancelled. */
    recurring(&mtg, 2);
    mtg.occ[0].status = CORE_ST_ENDED;
    mtg.occ[1].status = CORE_ST_CANCELLED;
    assert_int_equal(cancel_as(&mtg, "alice", 0, &err), ME_ENDED);
    assert_int_equal(mtg.status, CORE_ST_INIT);
}

static void test_cancel_occurrence(void **state)
{
    meetd_error err;
    int64_t sub;
    core_end_req r = by_userid("alice");
    core_party nobody;

    (void)state;
    memset(&nobody, 0, sizeof nobody);
    recurring(&mtg, 3);
    assert_int_equal(cancel_as(&mtg, "alice", mtg.occ[0].sub_meeting_id, &err), ME_OK);
    assert_int_equal(mtg.occ[0].status, CORE_ST_CANCELLED);
    assert_int_equal(mtg.occ[1].status, CORE_ST_INIT);
    assert_int_equal(mtg.status, CORE_ST_INIT);
    /* The next join goes to the next occurrence. */
    assert_int_equal(core_join_target(&mtg, mtg.occ[0].start_time, &sub, &err), ME_OK);
    assert_true(sub == mtg.occ[1].sub_meeting_id);

    assert_int_equal(cancel_as(&mtg, "alice", mtg.occ[0].sub_meeting_id, &err), ME_CANCELLED);
    assert_int_equal(cancel_as(&mtg, "alice", mtg.occ[0].sub_meeting_id + 1, &err),
                     ME_INVALID);
    assert_string_equal(err.msg, "no such sub_meeting_id");
    /* "0" is no occurrence, never "the whole series". */
    r.has_sub = true;
    r.sub_meeting_id = 0;
    assert_int_equal(core_cancel(&mtg, &r, &nobody, &err), ME_INVALID);
    assert_int_equal(mtg.status, CORE_ST_INIT);
    assert_int_equal(cancel_as(&mtg, "bob", mtg.occ[1].sub_meeting_id, &err), ME_FORBIDDEN);
    mtg.occ[1].status = CORE_ST_STARTED;
    assert_int_equal(cancel_as(&mtg, "alice", mtg.occ[1].sub_meeting_id, &err), ME_STARTED);
    assert_int_equal(mtg.occ[1].status, CORE_ST_STARTED);
    /* A later occurrence can go while one is in progress. */
    assert_int_equal(cancel_as(&mtg, "alice", mtg.occ[2].sub_meeting_id, &err), ME_OK);
    assert_int_equal(mtg.occ[2].status, CORE_ST_CANCELLED);
    assert_int_equal(mtg.occ[1].status, CORE_ST_STARTED);
    mtg.occ[1].status = CORE_ST_ENDED;
    assert_int_equal(cancel_as(&mtg, "alice", mtg.occ[1].sub_meeting_id, &err), ME_ENDED);
    assert_int_equal(mtg.occ[1].status, CORE_ST_ENDED);
}

/* ---- modify ---------------------------------------------------------------- */

static core_meeting next; /* what core_meeting_modify writes */

static void change(core_meeting_change *ch)
{
    memset(ch, 0, sizeof *ch);
}

/* The creator's modify, the day before: allowed, into next. */
static void assert_modified(const core_meeting_change *ch)
{
    meetd_error err;

    assert_int_equal(core_meeting_modify(&mtg, ch, "alice", MON_2024_03_11_1000 - DAY, &next,
                                         &err), ME_OK);
}

/* A refused modify leaves both meetings as they were. */
static void assert_refused(const core_meeting_change *ch, const char *userid, meetd_err want,
                           const char *needle)
{
    static core_meeting before;
    meetd_error err;

    before = mtg;
    assert_int_equal(core_meeting_modify(&mtg, ch, userid, MON_2024_03_11_1000 - DAY, &next,
                                         &err), want);
    assert_err_has(&err, needle);
    assert_memory_equal(&mtg, &before, sizeof mtg);
}

static void test_modify_who_and_when(void **state)
{
    core_meeting_change ch;

    (void)state;
    change(&ch);
    ch.has_subject = true;
    snprintf(ch.subject, sizeof ch.subject, "renamed");
    one_off(&mtg);
    add_host(&mtg, "bob");
    assert_refused(&ch, "bob", ME_NO_MODIFY, "only the creator");
    assert_refused(&ch, "", ME_NO_MODIFY, "only the creator");
    mtg.status = CORE_ST_CANCELLED;
    assert_refused(&ch, "alice", ME_CANCELLED, "cancelled");
    mtg.status = CORE_ST_ENDED;
    assert_refused(&ch, "alice", ME_NOT_IN_PROGRESS, "ended");
    mtg.status = CORE_ST_INIT;
    mtg.type = 1;
    assert_refused(&ch, "alice", ME_INVALID, "quick");
    /* A series whose every occurrence was cancelled is cancelled. */
    recurring(&mtg, 2);
    mtg.occ[0].status = mtg.occ[1].status = CORE_ST_CANCELLED;
    assert_refused(&ch, "alice", ME_CANCELLED, "cancelled");
}

static void test_modify_one_off(void **state)
{
    core_meeting_change ch;

    (void)state;
    one_off(&mtg);
    add_host(&mtg, "bob");
    change(&ch);
    ch.has_subject = ch.has_start = ch.has_end = ch.has_hosts = true;
    snprintf(ch.subject, sizeof ch.subject, "moved");
    ch.start_time = TUE_2024_03_12_1000;
    ch.end_time = TUE_2024_03_12_1000 + HOUR;
    ch.n_hosts = 0;
    assert_modified(&ch);
    assert_string_equal(next.subject, "moved");
    assert_true(next.start_time == TUE_2024_03_12_1000);
    assert_int_equal(next.n_hosts, 0);
    assert_true(core_is_host(&next, "alice"));
    assert_string_equal(next.meeting_code, mtg.meeting_code);
    assert_string_equal(mtg.subject, "Weekly sync");

    /* Checked as create checks. */
    ch.end_time = ch.start_time;
    assert_refused(&ch, "alice", ME_INVALID, "end_time must be after start_time");
    ch.end_time = ch.start_time + HOUR;
    ch.subject[0] = '\0';
    assert_refused(&ch, "alice", ME_INVALID, "subject");
    snprintf(ch.subject, sizeof ch.subject, "ok");
    ch.n_hosts = 2;
    snprintf(ch.hosts[0], sizeof ch.hosts[0], "hank");
    snprintf(ch.hosts[1], sizeof ch.hosts[1], "hank");
    assert_refused(&ch, "alice", ME_INVALID, "duplicate");

    /* In progress: the end may move, the start may not. */
    mtg.status = CORE_ST_STARTED;
    change(&ch);
    ch.has_start = ch.has_end = true;
    ch.start_time = mtg.start_time;
    ch.end_time = mtg.end_time + HOUR;
    assert_modified(&ch);
    assert_int_equal(next.status, CORE_ST_STARTED);
    assert_true(next.end_time == mtg.end_time + HOUR);
    ch.start_time = mtg.start_time + 60;
    assert_refused(&ch, "alice", ME_INVALID, "in progress");
}

static void test_modify_kind(void **state)
{
    core_meeting_change ch;

    (void)state;
    one_off(&mtg);
    change(&ch);
    ch.has_meeting_type = true;
    ch.meeting_type = 1;
    assert_refused(&ch, "alice", ME_INVALID, "recurring_rule is required");
    ch.has_rule = true;
    ch.rule.recurring_type = 2;
    ch.rule.until_type = 1;
    ch.rule.until_count = 3;
    assert_modified(&ch);
    assert_int_equal(next.meeting_type, 1);
    assert_int_equal(next.n_occ, 3);
    assert_true(next.occ[1].sub_meeting_id == MON_2024_03_18_1000);
    mtg.status = CORE_ST_STARTED;
    assert_refused(&ch, "alice", ME_INVALID, "in progress cannot become recurring");
    mtg.status = CORE_ST_INIT;
    ch.has_meeting_type = false;
    assert_refused(&ch, "alice", ME_INVALID, "needs meeting_type 1");

    recurring(&mtg, 3);
    change(&ch);
    ch.has_meeting_type = true;
    ch.meeting_type = 0;
    assert_refused(&ch, "alice", ME_INVALID, "cannot become a one-off");
}

static void test_modify_rule_keeps_what_was_held(void **state)
{
    core_meeting_change ch;
    int64_t ids[5];

    (void)state;
    recurring(&mtg, 5);
    for (int i = 0; i < 5; i++)
        ids[i] = mtg.occ[i].sub_meeting_id;
    mtg.occ[0].status = CORE_ST_ENDED;
    mtg.occ[1].status = CORE_ST_STARTED;
    mtg.occ[3].status = CORE_ST_CANCELLED;

    /* Seven in all: the held ones stay where they are. */
    change(&ch);
    ch.has_rule = true;
    ch.rule = mtg.rule;
    ch.rule.until_count = 7;
    assert_modified(&ch);
    assert_int_equal(next.n_occ, 7);
    for (int i = 0; i < 5; i++)
        assert_true(next.occ[i].sub_meeting_id == ids[i]);
    assert_int_equal(next.occ[0].status, CORE_ST_ENDED);
    assert_int_equal(next.occ[1].status, CORE_ST_STARTED);
    assert_int_equal(next.occ[2].status, CORE_ST_INIT);
    assert_int_equal(next.occ[3].status, CORE_ST_CANCELLED);
    assert_true(next.occ[6].sub_meeting_id == MON_2024_03_11_1000 + 6 * DAY);

    /* An hour later from now on: the held ones keep their times and ids,
     * the others move and are named by their new start. */
    change(&ch);
    ch.has_start = ch.has_end = true;
    ch.start_time = mtg.start_time + HOUR;
    ch.end_time = mtg.end_time + HOUR;
    assert_modified(&ch);
    assert_int_equal(next.n_occ, 5);
    assert_true(next.occ[1].sub_meeting_id == ids[1]);
    assert_true(next.occ[2].sub_meeting_id == ids[2] + HOUR);
    assert_true(next.occ[2].start_time == ids[2] + HOUR);
    assert_true(next.occ[3].sub_meeting_id == ids[3]);
    assert_int_equal(next.occ[3].status, CORE_ST_CANCELLED);
    assert_true(next.occ[4].sub_meeting_id == ids[4] + HOUR);
    assert_true(next.start_time == mtg.start_time + HOUR);

    /* Two in all: nothing is left to come, which a modify does not do. */
    mtg.occ[1].status = CORE_ST_ENDED;
    change(&ch);
    ch.has_rule = true;
    ch.rule = mtg.rule;
    ch.rule.until_count = 2;
    assert_refused(&ch, "alice", ME_INVALID, "no occurrence to come");
}

static void test_modify_one_occurrence(void **state)
{
    core_meeting_change ch;

    (void)state;
    recurring(&mtg, 3);
    change(&ch);
    ch.sub_meeting_id = mtg.occ[1].sub_meeting_id;
    ch.has_start = ch.has_end = ch.has_subject = true;
    ch.start_time = mtg.occ[1].start_time + 2 * HOUR;
    ch.end_time = mtg.occ[1].end_time + 2 * HOUR;
    snprintf(ch.subject, sizeof ch.subject, "ignored");
    assert_modified(&ch);
    assert_true(next.occ[1].sub_meeting_id == mtg.occ[1].sub_meeting_id);
    assert_true(next.occ[1].start_time == mtg.occ[1].start_time + 2 * HOUR);
    assert_string_equal(next.subject, "Weekly sync");
    assert_memory_equal(&next.occ[2], &mtg.occ[2], sizeof mtg.occ[2]);

    ch.end_time = mtg.occ[2].start_time + 1;
    assert_refused(&ch, "alice", ME_INVALID, "next one starts");
    ch.end_time = mtg.occ[1].end_time;
    ch.start_time = mtg.occ[0].end_time - 1;
    assert_refused(&ch, "alice", ME_INVALID, "before it ends");
    ch.start_time = mtg.occ[1].start_time;
    ch.sub_meeting_id = 1;
    assert_refused(&ch, "alice", ME_INVALID, "no such sub_meeting_id");
    ch.sub_meeting_id = mtg.occ[1].sub_meeting_id;
    ch.has_hosts = true;
    assert_refused(&ch, "alice", ME_INVALID, "hosts");
    ch.has_hosts = false;
    mtg.occ[1].status = CORE_ST_CANCELLED;
    assert_refused(&ch, "alice", ME_CANCELLED, "cancelled");
    mtg.occ[1].status = CORE_ST_ENDED;
    assert_refused(&ch, "alice", ME_NOT_IN_PROGRESS, "ended");
    mtg.occ[1].status = CORE_ST_STARTED;
    ch.start_time = mtg.occ[1].start_time + 60;
    assert_refused(&ch, "alice", ME_INVALID, "in progress");

    one_off(&mtg);
    ch.sub_meeting_id = mtg.start_time;
    assert_refused(&ch, "alice", ME_INVALID, "only for recurring");

    /* A moved occurrence stays moved when the schedule does not change. */
    recurring(&mtg, 3);
    mtg.occ[1].start_time += HOUR;
    mtg.occ[1].end_time += HOUR;
    change(&ch);
    ch.has_subject = ch.has_hosts = true;
    snprintf(ch.subject, sizeof ch.subject, "renamed");
    assert_modified(&ch);
    assert_string_equal(next.subject, "renamed");
    assert_memory_equal(next.occ, mtg.occ, sizeof mtg.occ);
    assert_int_equal(next.n_occ, 3);
    /* A new rule makes it again from the rule. */
    change(&ch);
    ch.has_rule = true;
    ch.rule = mtg.rule;
    assert_modified(&ch);
    assert_true(next.occ[1].start_time == mtg.occ[1].sub_meeting_id);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_is_creator),
        cmocka_unit_test(test_is_host),
        cmocka_unit_test(test_user_role_enterprise),
        cmocka_unit_test(test_user_role_guest),
        cmocka_unit_test(test_prepare_one_off_ok),
        cmocka_unit_test(test_prepare_subject),
        cmocka_unit_test(test_prepare_creator),
        cmocka_unit_test(test_prepare_types),
        cmocka_unit_test(test_prepare_times),
        cmocka_unit_test(test_prepare_quick_defaults),
        cmocka_unit_test(test_prepare_hosts),
        cmocka_unit_test(test_prepare_recurring),
        cmocka_unit_test(test_prepare_recurring_weekend_start),
        cmocka_unit_test(test_rec_daily),
        cmocka_unit_test(test_rec_working_days_from_friday),
        cmocka_unit_test(test_rec_working_days_from_saturday),
        cmocka_unit_test(test_rec_working_days_local_not_utc),
        cmocka_unit_test(test_rec_working_days_never_weekend),
        cmocka_unit_test(test_rec_weekly_and_biweekly),
        cmocka_unit_test(test_rec_monthly_from_jan_31),
        cmocka_unit_test(test_rec_monthly_local_day_and_year_end),
        cmocka_unit_test(test_rec_monthly_50_against_libc),
        cmocka_unit_test(test_rec_count_caps),
        cmocka_unit_test(test_rec_until_date),
        cmocka_unit_test(test_rec_until_date_caps),
        cmocka_unit_test(test_rec_until_date_working_days),
        cmocka_unit_test(test_rec_invalid),
        cmocka_unit_test(test_rec_series_past_time_limit),
        cmocka_unit_test(test_current_occurrence),
        cmocka_unit_test(test_meeting_status),
        cmocka_unit_test(test_join_target_one_off),
        cmocka_unit_test(test_join_target_recurring),
        cmocka_unit_test(test_mark_started),
        cmocka_unit_test(test_require_in_progress),
        cmocka_unit_test(test_dismiss_permission),
        cmocka_unit_test(test_dismiss_cohost),
        cmocka_unit_test(test_dismiss_one_off_states),
        cmocka_unit_test(test_dismiss_recurring),
        cmocka_unit_test(test_cancel_permission),
        cmocka_unit_test(test_cancel_one_off),
        cmocka_unit_test(test_cancel_series),
        cmocka_unit_test(test_cancel_occurrence),
        cmocka_unit_test(test_modify_who_and_when),
        cmocka_unit_test(test_modify_one_off),
        cmocka_unit_test(test_modify_kind),
        cmocka_unit_test(test_modify_rule_keeps_what_was_held),
        cmocka_unit_test(test_modify_one_occurrence),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
