/* The store's contract: what store.h promises, tested through store.h
 * alone, against every backend this build has (store_fixture.h:
 * fixture_backends; SQLite in a temporary directory, and PostgreSQL when
 * MEETD_TEST_POSTGRES names one). A backend passes these or it is not a
 * store. What one backend does inside (SQLite's statements, checkpointer,
 * files) is tested beside its code: test_store_sqlite.c. */
#include <errno.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ids.h"
#include "common/metrics.h"
#include "store/store.h"
#include "store_builders.h"
#include "store_fixture.h"

/* ---- apps and keys ------------------------------------------------------- */

static store_rc collect_app(const store_app *a, void *arg)
{
    char *buf = arg;
    strcat(buf, a->app_id);
    strcat(buf, ",");
    return STORE_OK;
}

static store_rc collect_key(const store_key *k, void *arg)
{
    char *buf = arg;
    strcat(buf, k->secret_id);
    strcat(buf, ",");
    return STORE_OK;
}

static store_rc stop_at_first_app(const store_app *a, void *arg)
{
    (void)a;
    (*(int *)arg)++;
    return STORE_STOP;
}

static void apps_keys_body(store_tx *tx, void *arg)
{
    (void)arg;
    store_app a = mk_app("app-b"), b = mk_app("app-a"), got;
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
    assert_int_equal(store_app_insert(tx, &b), STORE_OK);
    assert_int_equal(store_app_insert(tx, &a), STORE_CONFLICT);

    assert_int_equal(store_app_get(tx, "app-b", &got), STORE_OK);
    assert_string_equal(got.app_id, "app-b");
    assert_string_equal(got.sdk_id, "sdk-app-b");
    assert_string_equal(got.name, "App app-b");
    assert_int_equal(got.created_at, 1700000000);
    assert_int_equal(store_app_get(tx, "nope", &got), STORE_NOTFOUND);

    int64_t n = -1;
    assert_int_equal(store_app_count(tx, &n), STORE_OK);
    assert_int_equal(n, 2);
    char buf[256] = "";
    assert_int_equal(store_app_list(tx, collect_app, buf), STORE_OK);
    assert_string_equal(buf, "app-a,app-b,");
    int calls = 0;
    assert_int_equal(store_app_list(tx, stop_at_first_app, &calls), STORE_STOP);
    assert_int_equal(calls, 1);

    store_key k1 = mk_key("AKID2", "app-b", 20), k2 = mk_key("AKID1", "app-b", 10),
              k3 = mk_key("AKID3", "app-a", 10), gk;
    assert_int_equal(store_key_insert(tx, &k1), STORE_OK);
    assert_int_equal(store_key_insert(tx, &k2), STORE_OK);
    assert_int_equal(store_key_insert(tx, &k3), STORE_OK);
    store_key dup = mk_key("AKID1", "app-a", 30);
    assert_int_equal(store_key_insert(tx, &dup), STORE_CONFLICT);

    memset(&got, 0, sizeof got);
    assert_int_equal(store_key_get(tx, "AKID2", &gk, &got), STORE_OK);
    assert_string_equal(gk.secret_id, "AKID2");
    assert_string_equal(gk.secret_key, "sk-AKID2");
    assert_string_equal(gk.app_id, "app-b");
    assert_int_equal(gk.created_at, 20);
    assert_string_equal(got.app_id, "app-b");
    assert_string_equal(got.sdk_id, "sdk-app-b");
    assert_int_equal(store_key_get(tx, "AKID9", &gk, NULL), STORE_NOTFOUND);

    buf[0] = '\0';
    assert_int_equal(store_key_list(tx, "app-b", collect_key, buf), STORE_OK);
    assert_string_equal(buf, "AKID1,AKID2,"); /* by created_at */

    assert_int_equal(store_key_delete_all(tx, "app-b"), STORE_OK);
    buf[0] = '\0';
    assert_int_equal(store_key_list(tx, "app-b", collect_key, buf), STORE_OK);
    assert_string_equal(buf, "");
    assert_int_equal(store_key_get(tx, "AKID3", &gk, NULL), STORE_OK);

    /* Deleting an app takes its keys along. */
    assert_int_equal(store_app_delete(tx, "app-a"), STORE_OK);
    assert_int_equal(store_key_get(tx, "AKID3", &gk, NULL), STORE_NOTFOUND);
    assert_int_equal(store_app_delete(tx, "app-a"), STORE_NOTFOUND);
    assert_int_equal(store_app_count(tx, &n), STORE_OK);
    assert_int_equal(n, 1);
}

static void test_apps_keys(void **state)
{
    fixture *f = *state;
    write_ok(f->s, apps_keys_body, NULL);
}

/* Everything an app can own, in one meeting; and a second app's meeting
 * that must survive the first app's deletion. */
static void cascade_fill_body(store_tx *tx, void *arg)
{
    (void)arg;
    store_app a1 = mk_app("app1"), a2 = mk_app("app2");
    assert_int_equal(store_app_insert(tx, &a1), STORE_OK);
    assert_int_equal(store_app_insert(tx, &a2), STORE_OK);
    store_key k = mk_key("AKID1", "app1", 1);
    assert_int_equal(store_key_insert(tx, &k), STORE_OK);

    static core_meeting m;
    mk_meeting(&m, "app1", 11, "111111111");
    m.meeting_type = 1;
    m.n_hosts = 2;
    snprintf(m.hosts[0], sizeof m.hosts[0], "h1");
    snprintf(m.hosts[1], sizeof m.hosts[1], "h2");
    m.n_occ = 3;
    for (int i = 0; i < 3; i++)
        m.occ[i] = (core_occurrence){.sub_meeting_id = 1800000000 + i * 86400,
                                     .start_time = 1800000000 + i * 86400,
                                     .end_time = 1800003600 + i * 86400};
    assert_int_equal(store_meeting_insert(tx, &m), STORE_OK);
    core_user u = mk_user("alice", "", "a");
    assert_int_equal(store_user_insert(tx, 11, &u), STORE_OK);
    core_device d = mk_device(11, 1800000000, u.user_no, 1, 100, 1);
    assert_int_equal(store_device_insert(tx, &d), STORE_OK);
    core_ban b = {.meeting_id = 11, .user = u, .banned_at = 5};
    assert_int_equal(store_ban_put(tx, &b), STORE_OK);
    core_audit au = {.meeting_id = 11, .time = 5, .action = "kickout"};
    assert_int_equal(store_audit_insert(tx, &au), STORE_OK);

    mk_meeting(&m, "app2", 22, "222222222");
    assert_int_equal(store_meeting_insert(tx, &m), STORE_OK);
    core_user u2 = mk_user("bob", "", "b");
    assert_int_equal(store_user_insert(tx, 22, &u2), STORE_OK);
    core_device d2 = mk_device(22, 0, u2.user_no, 2, 100, 2);
    assert_int_equal(store_device_insert(tx, &d2), STORE_OK);
}

static void cascade_delete_body(store_tx *tx, void *arg)
{
    (void)arg;
    assert_int_equal(store_app_delete(tx, "app1"), STORE_OK);
    static core_meeting m;
    core_user u;
    core_device d;
    assert_int_equal(store_meeting_get(tx, "app1", 11, &m), STORE_NOTFOUND);
    assert_int_equal(store_user_get(tx, 11, CORE_ID_USERID, "alice", &u), STORE_NOTFOUND);
    const core_device probe = mk_device(0, 0, 0, 0, 0, 1);
    assert_int_equal(store_device_get(tx, 1, &d), STORE_NOTFOUND);
    assert_int_equal(store_device_by_token(tx, 1, probe.token_hash, &d), STORE_NOTFOUND);
    assert_int_equal(store_meeting_get(tx, "app2", 22, &m), STORE_OK);
}

static void test_app_delete_cascade(void **state)
{
    fixture *f = *state;
    write_ok(f->s, cascade_fill_body, NULL);
    write_ok(f->s, cascade_delete_body, NULL);
    static const struct {
        const char *table;
        int64_t rows;
    } left[] = {
        {"apps", 1},        {"app_keys", 0}, {"meetings", 1}, {"meeting_hosts", 0},
        {"occurrences", 0}, {"users", 1},    {"devices", 1},  {"bans", 0},
        {"audit", 0},
    };
    for (size_t i = 0; i < sizeof left / sizeof left[0]; i++) {
        int64_t n = raw_count(f->data, left[i].table);
        if (n != left[i].rows)
            fail_msg("%s: %" PRId64 " rows, want %" PRId64, left[i].table, n, left[i].rows);
    }
}

/* ---- meetings ------------------------------------------------------------ */

static void conflicts_body(store_tx *tx, void *arg)
{
    (void)arg;
    store_app a = mk_app("app1");
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
    static core_meeting m;
    mk_meeting(&m, "app1", 100, "100000000");
    assert_int_equal(store_meeting_insert(tx, &m), STORE_OK);
    mk_meeting(&m, "app1", 100, "100000001");
    assert_int_equal(store_meeting_insert(tx, &m), STORE_CONFLICT); /* meeting_id */
    mk_meeting(&m, "app1", 101, "100000000");
    assert_int_equal(store_meeting_insert(tx, &m), STORE_CONFLICT); /* meeting_code */
    /* The caller draws again, in the same transaction. */
    mk_meeting(&m, "app1", 101, "100000001");
    assert_int_equal(store_meeting_insert(tx, &m), STORE_OK);

    core_user u1 = mk_user("alice", "", "1");
    assert_int_equal(store_user_insert(tx, 100, &u1), STORE_OK);
    core_user u = mk_user("", "g1", "1"); /* same uuid and ms_open_id */
    assert_int_equal(store_user_insert(tx, 100, &u), STORE_CONFLICT);
    u = mk_user("", "g1", "2");
    snprintf(u.uuid, sizeof u.uuid, "uuid-1"); /* uuid only */
    assert_int_equal(store_user_insert(tx, 100, &u), STORE_CONFLICT);
    u = mk_user("", "g1", "2");
    snprintf(u.ms_open_id, sizeof u.ms_open_id, "ms-1"); /* ms_open_id only */
    assert_int_equal(store_user_insert(tx, 100, &u), STORE_CONFLICT);
    u = mk_user("alice", "", "2"); /* userid */
    assert_int_equal(store_user_insert(tx, 100, &u), STORE_CONFLICT);
    u = mk_user("", "g1", "2");
    assert_int_equal(store_user_insert(tx, 100, &u), STORE_OK);
    u = mk_user("", "g1", "3"); /* guest_id */
    assert_int_equal(store_user_insert(tx, 100, &u), STORE_CONFLICT);
    /* Empty userid / guest_id are not keys: many users may lack one. */
    u = mk_user("", "g2", "3");
    assert_int_equal(store_user_insert(tx, 100, &u), STORE_OK);
    u = mk_user("bob", "", "4");
    assert_int_equal(store_user_insert(tx, 100, &u), STORE_OK);
    /* The same identities in another meeting are someone else. */
    u = u1;
    u.user_no = 0;
    assert_int_equal(store_user_insert(tx, 101, &u), STORE_OK);
    assert_true(u.user_no != u1.user_no);
}

static void conflicts_check_body(store_tx *tx, void *arg)
{
    (void)arg;
    static core_meeting m;
    assert_int_equal(store_meeting_get(tx, "app1", 101, &m), STORE_OK);
    assert_string_equal(m.meeting_code, "100000001");
}

static void test_conflicts(void **state)
{
    fixture *f = *state;
    write_ok(f->s, conflicts_body, NULL);
    read_ok(f->s, conflicts_check_body, NULL);
}

static void fill_recurring(core_meeting *m)
{
    mk_meeting(m, "app1", 7000000000000000001LL, "987654321");
    m->type = 0;
    m->meeting_type = 1;
    m->creator_instanceid = 4;
    m->rule = (core_recurring_rule){.recurring_type = 2, .until_type = 1, .until_count = 200,
                                    .until_date = 1900000000};
    m->n_hosts = 3;
    for (int i = 0; i < 3; i++)
        snprintf(m->hosts[i], sizeof m->hosts[i], "host-%d", 3 - i); /* order kept */
    m->n_occ = CORE_OCC_MAX;
    for (int i = 0; i < CORE_OCC_MAX; i++) {
        int64_t t = 1800000000 + (int64_t)i * 7 * 86400;
        m->occ[i] = (core_occurrence){t, t, t + 3600, i % 4};
    }
}

static void assert_meeting_equal(const core_meeting *a, const core_meeting *b)
{
    assert_int_equal(a->meeting_id, b->meeting_id);
    assert_string_equal(a->app_id, b->app_id);
    assert_string_equal(a->meeting_code, b->meeting_code);
    assert_string_equal(a->subject, b->subject);
    assert_string_equal(a->creator_userid, b->creator_userid);
    assert_int_equal(a->creator_instanceid, b->creator_instanceid);
    assert_int_equal(a->type, b->type);
    assert_int_equal(a->meeting_type, b->meeting_type);
    assert_int_equal(a->start_time, b->start_time);
    assert_int_equal(a->end_time, b->end_time);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->rule.recurring_type, b->rule.recurring_type);
    assert_int_equal(a->rule.until_type, b->rule.until_type);
    assert_int_equal(a->rule.until_count, b->rule.until_count);
    assert_int_equal(a->rule.until_date, b->rule.until_date);
    assert_int_equal(a->created_at, b->created_at);
    assert_int_equal(a->n_hosts, b->n_hosts);
    for (int i = 0; i < a->n_hosts; i++)
        assert_string_equal(a->hosts[i], b->hosts[i]);
    assert_int_equal(a->n_occ, b->n_occ);
    for (int i = 0; i < a->n_occ; i++) {
        assert_int_equal(a->occ[i].sub_meeting_id, b->occ[i].sub_meeting_id);
        assert_int_equal(a->occ[i].start_time, b->occ[i].start_time);
        assert_int_equal(a->occ[i].end_time, b->occ[i].end_time);
        assert_int_equal(a->occ[i].status, b->occ[i].status);
    }
}

struct two_meetings {
    core_meeting want, got;
};

static void roundtrip_insert_body(store_tx *tx, void *arg)
{
    struct two_meetings *t = arg;
    store_app a = mk_app("app1"), b = mk_app("app2");
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
    assert_int_equal(store_app_insert(tx, &b), STORE_OK);
    fill_recurring(&t->want);
    assert_int_equal(store_meeting_insert(tx, &t->want), STORE_OK);
    /* A one-off meeting: no hosts, no occurrences. */
    mk_meeting(&t->got, "app2", 5, "555555555");
    t->got.type = 1;
    assert_int_equal(store_meeting_insert(tx, &t->got), STORE_OK);
}

static void roundtrip_get_body(store_tx *tx, void *arg)
{
    struct two_meetings *t = arg;
    assert_int_equal(store_meeting_get(tx, "app1", t->want.meeting_id, &t->got), STORE_OK);
    assert_meeting_equal(&t->want, &t->got);
    /* Another app's meeting does not exist for this app. */
    assert_int_equal(store_meeting_get(tx, "app2", t->want.meeting_id, &t->got),
                     STORE_NOTFOUND);
    assert_int_equal(store_meeting_get(tx, "app1", 5, &t->got), STORE_NOTFOUND);
    assert_int_equal(store_meeting_get(tx, "app1", 6, &t->got), STORE_NOTFOUND);
    /* Found, all of it is set, whatever it held (api/participants.c does
     * not clear it first): what the one-off meeting lacks reads zero. */
    memset(&t->got, 0xa5, sizeof t->got);
    assert_int_equal(store_meeting_get(tx, "app2", 5, &t->got), STORE_OK);
    assert_int_equal(t->got.type, 1);
    static const core_occurrence no_occ;
    for (int i = 0; i < CORE_OCC_MAX; i++)
        assert_memory_equal(&t->got.occ[i], &no_occ, sizeof no_occ);
    for (int i = 0; i < CORE_HOSTS_MAX; i++)
        assert_string_equal(t->got.hosts[i], "");
    char app[CORE_APPID_MAX + 1];
    assert_int_equal(store_meeting_app(tx, t->want.meeting_id, app), STORE_OK);
    assert_string_equal(app, "app1");
    assert_int_equal(store_meeting_app(tx, 5, app), STORE_OK);
    assert_string_equal(app, "app2");
    assert_int_equal(store_meeting_app(tx, 6, app), STORE_NOTFOUND);
    assert_int_equal(t->got.n_hosts, 0);
    assert_int_equal(t->got.n_occ, 0);
}

static void roundtrip_update_body(store_tx *tx, void *arg)
{
    struct two_meetings *t = arg;
    t->want.status = CORE_ST_CANCELLED;
    t->want.occ[0].status = CORE_ST_ENDED;
    t->want.occ[1].status = CORE_ST_STARTED;
    t->want.occ[199].status = CORE_ST_CANCELLED;
    assert_int_equal(store_meeting_update_status(tx, &t->want), STORE_OK);
    /* Scoped to the app like every other meeting access. */
    core_meeting *other = &t->got;
    *other = t->want;
    snprintf(other->app_id, sizeof other->app_id, "app2");
    assert_int_equal(store_meeting_update_status(tx, other), STORE_NOTFOUND);
    other->meeting_id = 999;
    snprintf(other->app_id, sizeof other->app_id, "app1");
    assert_int_equal(store_meeting_update_status(tx, other), STORE_NOTFOUND);
}

/* A modify writes the meeting's fields, hosts and occurrences as given:
 * fewer hosts, fewer and moved occurrences, a new rule. */
static void roundtrip_modify_body(store_tx *tx, void *arg)
{
    struct two_meetings *t = arg;
    core_meeting *other = &t->got;
    t->want.status = CORE_ST_INIT;
    snprintf(t->want.subject, sizeof t->want.subject, "modified");
    t->want.start_time += 3600;
    t->want.end_time += 7200;
    t->want.rule.recurring_type = 2;
    t->want.rule.until_count = 3;
    t->want.n_hosts = 1;
    snprintf(t->want.hosts[0], sizeof t->want.hosts[0], "zed");
    t->want.n_occ = 3;
    t->want.occ[2].sub_meeting_id += 60;
    t->want.occ[2].start_time += 60;
    assert_int_equal(store_meeting_update(tx, &t->want), STORE_OK);
    *other = t->want;
    snprintf(other->app_id, sizeof other->app_id, "app2");
    assert_int_equal(store_meeting_update(tx, other), STORE_NOTFOUND);
}

static void test_meeting_roundtrip(void **state)
{
    fixture *f = *state;
    struct two_meetings *t = calloc(1, sizeof *t);
    assert_non_null(t);
    write_ok(f->s, roundtrip_insert_body, t);
    read_ok(f->s, roundtrip_get_body, t);
    write_ok(f->s, roundtrip_update_body, t);
    read_ok(f->s, roundtrip_get_body, t);
    write_ok(f->s, roundtrip_modify_body, t);
    read_ok(f->s, roundtrip_get_body, t);
    free(t);
}

/* ---- a user's meetings, by code ----------------------------------------- */

struct user_page {
    int64_t ids[32];
    int n;
    int64_t remaining, next_from, next_skip;
};

static store_rc user_page_id(int64_t id, void *arg)
{
    struct user_page *p = arg;
    p->ids[p->n++] = id;
    return STORE_OK;
}

static void user_page(store_tx *tx, const char *userid, int64_t from, int64_t skip, int limit,
                      struct user_page *p)
{
    memset(p, 0, sizeof *p);
    assert_int_equal(store_meetings_of_user(tx, "app1", userid, from, skip, limit, user_page_id,
                                            p, &p->remaining, &p->next_from, &p->next_skip),
                     STORE_OK);
}

static void user_meetings_body(store_tx *tx, void *arg)
{
    (void)arg;
    store_app a = mk_app("app1"), b = mk_app("app2");
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
    assert_int_equal(store_app_insert(tx, &b), STORE_OK);
    static core_meeting m;
    /* u's: 1 (t=100), 2 and 3 (t=200), 4 hosted (t=150), 5 ended, 6 cancelled,
     * 7 a series with an occurrence left, 8 a series with none left; 9 is
     * another app's, 10 another user's. */
    struct { int64_t id; const char *app, *creator; int64_t start; int status; bool host; } rows[] = {
        {1, "app1", "u", 100, CORE_ST_INIT, false},    {2, "app1", "u", 200, CORE_ST_STARTED, false},
        {3, "app1", "u", 200, CORE_ST_INIT, false},    {4, "app1", "x", 150, CORE_ST_INIT, true},
        {5, "app1", "u", 120, CORE_ST_ENDED, false},   {6, "app1", "u", 130, CORE_ST_CANCELLED, false},
        {9, "app2", "u", 100, CORE_ST_INIT, false},    {10, "app1", "v", 100, CORE_ST_INIT, false},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char code[10];
        snprintf(code, sizeof code, "%09d", (int)rows[i].id);
        mk_meeting(&m, rows[i].app, rows[i].id, code);
        snprintf(m.creator_userid, sizeof m.creator_userid, "%s", rows[i].creator);
        m.start_time = rows[i].start;
        m.end_time = rows[i].start + 60;
        m.status = rows[i].status;
        if (rows[i].host) {
            m.n_hosts = 1;
            snprintf(m.hosts[0], sizeof m.hosts[0], "u");
        }
        assert_int_equal(store_meeting_insert(tx, &m), STORE_OK);
    }
    for (int k = 0; k < 2; k++) {
        mk_meeting(&m, "app1", 7 + k, k ? "000000008" : "000000007");
        snprintf(m.creator_userid, sizeof m.creator_userid, "u");
        m.meeting_type = 1;
        m.start_time = 300;
        m.end_time = 360;
        m.n_occ = 2;
        for (int i = 0; i < 2; i++)
            m.occ[i] = (core_occurrence){.sub_meeting_id = 300 + i, .start_time = 300 + i,
                                         .end_time = 360 + i,
                                         .status = k || i == 0 ? CORE_ST_ENDED : CORE_ST_INIT};
        assert_int_equal(store_meeting_insert(tx, &m), STORE_OK);
    }

    struct user_page p;
    user_page(tx, "u", 0, 0, 20, &p);
    assert_int_equal(p.n, 5);
    int64_t all[] = {1, 4, 2, 3, 7};
    assert_memory_equal(p.ids, all, sizeof all);
    assert_true(p.remaining == 0);
    /* Pages of two: the boundary falls inside the two meetings at 200. */
    user_page(tx, "u", 0, 0, 2, &p);
    assert_int_equal(p.n, 2);
    assert_true(p.ids[0] == 1 && p.ids[1] == 4);
    assert_true(p.remaining == 3 && p.next_from == 200 && p.next_skip == 0);
    user_page(tx, "u", 200, 0, 1, &p);
    assert_true(p.n == 1 && p.ids[0] == 2);
    assert_true(p.remaining == 2 && p.next_from == 200 && p.next_skip == 1);
    user_page(tx, "u", 200, 1, 1, &p);
    assert_true(p.n == 1 && p.ids[0] == 3);
    assert_true(p.remaining == 1 && p.next_from == 300 && p.next_skip == 0);
    user_page(tx, "u", 300, 0, 1, &p);
    assert_true(p.n == 1 && p.ids[0] == 7 && p.remaining == 0);
    /* A skip past what starts at `from` skips those only. */
    user_page(tx, "u", 200, 5, 20, &p);
    assert_true(p.n == 1 && p.ids[0] == 7);
    user_page(tx, "nobody", 0, 0, 20, &p);
    assert_true(p.n == 0 && p.remaining == 0);

    int64_t id;
    char app[CORE_APPID_MAX + 1];
    assert_int_equal(store_meeting_by_code(tx, "000000009", &id, app), STORE_OK);
    assert_true(id == 9);
    assert_string_equal(app, "app2");
    assert_int_equal(store_meeting_by_code(tx, "000000011", &id, app), STORE_NOTFOUND);
}

static void test_meetings_of_user(void **state)
{
    fixture *f = *state;
    write_ok(f->s, user_meetings_body, NULL);
}

static void atomic_insert_body(store_tx *tx, void *arg)
{
    core_meeting *m = arg;
    store_app a = mk_app("app1");
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
    fill_recurring(m);
    m->occ[150].sub_meeting_id = m->occ[149].sub_meeting_id; /* duplicate key */
    assert_int_equal(store_meeting_insert(tx, m), STORE_CONFLICT);
    /* Nothing of the failed insert remains, so the retry can succeed. */
    assert_int_equal(store_meeting_get(tx, "app1", m->meeting_id, m), STORE_NOTFOUND);
    fill_recurring(m);
    assert_int_equal(store_meeting_insert(tx, m), STORE_OK);
}

static void test_meeting_insert_atomic(void **state)
{
    fixture *f = *state;
    core_meeting *m = calloc(1, sizeof *m);
    assert_non_null(m);
    write_ok(f->s, atomic_insert_body, m);
    assert_int_equal(raw_count(f->data, "occurrences"), CORE_OCC_MAX);
    assert_int_equal(raw_count(f->data, "meeting_hosts"), 3);
    free(m);
}

/* ---- transactions ---------------------------------------------------------- */

static store_rc insert_then_fail(store_tx *tx, void *arg)
{
    store_app a = mk_app("doomed");
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
    return *(store_rc *)arg;
}

static store_rc ignore_error(store_tx *tx, void *arg)
{
    (void)arg;
    static core_meeting m;
    mk_meeting(&m, "no-such-app", 1, "123456789");
    assert_int_equal(store_meeting_insert(tx, &m), STORE_ERROR); /* foreign key */
    store_app a = mk_app("doomed");
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
    return STORE_OK; /* wrongly: the store must still roll back */
}

static store_rc count_apps(store_tx *tx, void *arg)
{
    return store_app_count(tx, (int64_t *)arg);
}

static void test_rollback(void **state)
{
    fixture *f = *state;
    int64_t n = -1;
    /* Whatever a job returns but STORE_OK rolls it back and comes back. */
    store_rc codes[] = {STORE_ROLLBACK, STORE_UNAVAILABLE, STORE_NOTFOUND, STORE_CONFLICT,
                        STORE_ERROR, STORE_STOP};
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        assert_int_equal(store_write(f->s, insert_then_fail, &codes[i]), codes[i]);
        assert_int_equal(store_read(f->s, count_apps, &n), STORE_OK);
        assert_int_equal(n, 0);
    }
    assert_int_equal(store_write(f->s, ignore_error, NULL), STORE_ERROR);
    assert_int_equal(store_read(f->s, count_apps, &n), STORE_OK);
    assert_int_equal(n, 0);
    assert_int_equal(raw_count(f->data, "apps"), 0);
    /* And the connection is fine afterwards. */
    write_ok(f->s, app_insert_body, "kept");
    assert_int_equal(store_read(f->s, count_apps, &n), STORE_OK);
    assert_int_equal(n, 1);
}

/* Each committed write is counted once, by its origin, and the total is
 * their sum; a rolled-back write is counted nowhere. */
static void test_writes_counted_by_origin(void **state)
{
    fixture *f = *state;
    enum metrics_counter c[] = {METRICS_STORE_WRITES, METRICS_REQUEST_WRITES,
                                METRICS_PRESENCE_WRITES, METRICS_WEBHOOK_WRITES};
    uint64_t before[4], after[4];
    for (int i = 0; i < 4; i++)
        before[i] = metrics_get_counter(c[i]);
    store_rc no = STORE_ROLLBACK;
    assert_int_equal(store_write_as(f->s, STORE_ORIGIN_PRESENCE, count_apps, &(int64_t){0}),
                     STORE_OK);
    assert_int_equal(store_write_as(f->s, STORE_ORIGIN_WEBHOOK, count_apps, &(int64_t){0}),
                     STORE_OK);
    assert_int_equal(store_write_as(f->s, STORE_ORIGIN_WEBHOOK, count_apps, &(int64_t){0}),
                     STORE_OK);
    assert_int_equal(store_write_as(f->s, STORE_ORIGIN_WEBHOOK, insert_then_fail, &no), no);
    assert_int_equal(store_write(f->s, insert_then_fail, &no), no);
    write_ok(f->s, app_insert_body, "counted");
    for (int i = 0; i < 4; i++)
        after[i] = metrics_get_counter(c[i]);
    /* This process's only store: nothing else writes meanwhile. */
    assert_int_equal(after[1] - before[1], 1);
    assert_int_equal(after[2] - before[2], 1);
    assert_int_equal(after[3] - before[3], 2);
    assert_int_equal(after[0] - before[0], 4);
}

static store_rc write_in_read(store_tx *tx, void *arg)
{
    (void)arg;
    store_app a = mk_app("sneaky");
    assert_int_equal(store_app_insert(tx, &a), STORE_ERROR);
    return STORE_OK;
}

static store_rc read_returns(store_tx *tx, void *arg)
{
    (void)tx;
    return *(store_rc *)arg;
}

static void test_read_only(void **state)
{
    fixture *f = *state;
    assert_int_equal(store_read(f->s, write_in_read, NULL), STORE_ERROR);
    store_rc declined = STORE_ROLLBACK;
    assert_int_equal(store_read(f->s, read_returns, &declined), STORE_ROLLBACK);
    int64_t n = -1;
    assert_int_equal(store_read(f->s, count_apps, &n), STORE_OK);
    assert_int_equal(n, 0);
}

/* ---- users ------------------------------------------------------------------ */

static store_rc collect_cohost(const core_user *u, void *arg)
{
    int64_t *nos = arg;
    nos[++nos[0]] = u->user_no;
    return STORE_OK;
}

static void users_body(store_tx *tx, void *arg)
{
    (void)arg;
    core_user ent = mk_user("alice", "", "a"), guest = mk_user("", "visitor-1", "g"), got;
    ent.cohost = true;
    assert_int_equal(store_user_insert(tx, 1, &ent), STORE_OK);
    assert_int_equal(store_user_insert(tx, 1, &guest), STORE_OK);
    assert_true(ent.user_no > 0 && guest.user_no > 0 && ent.user_no != guest.user_no);

    assert_int_equal(store_user_get(tx, 1, CORE_ID_USERID, "alice", &got), STORE_OK);
    assert_int_equal(got.user_no, ent.user_no);
    assert_string_equal(got.uuid, "uuid-a");
    assert_string_equal(got.ms_open_id, "ms-a");
    assert_string_equal(got.nick_name, "Nick a");
    assert_string_equal(got.guest_id, "");
    assert_true(got.cohost);
    assert_int_equal(store_user_get(tx, 1, CORE_ID_UUID, "uuid-a", &got), STORE_OK);
    assert_int_equal(got.user_no, ent.user_no);
    assert_int_equal(store_user_get(tx, 1, CORE_ID_MS_OPEN_ID, "ms-a", &got), STORE_OK);
    assert_int_equal(got.user_no, ent.user_no);
    assert_int_equal(store_user_get(tx, 1, CORE_ID_GUEST, "visitor-1", &got), STORE_OK);
    assert_int_equal(got.user_no, guest.user_no);
    assert_string_equal(got.userid, "");
    assert_false(got.cohost);
    assert_int_equal(store_user_get(tx, 1, CORE_ID_UUID, "uuid-g", &got), STORE_OK);
    assert_int_equal(got.user_no, guest.user_no);
    assert_int_equal(store_user_get(tx, 1, CORE_ID_MS_OPEN_ID, "ms-g", &got), STORE_OK);
    assert_int_equal(got.user_no, guest.user_no);

    /* Misses: wrong kind, other meeting, empty value, openid. */
    assert_int_equal(store_user_get(tx, 1, CORE_ID_GUEST, "alice", &got), STORE_NOTFOUND);
    assert_int_equal(store_user_get(tx, 1, CORE_ID_MS_OPEN_ID, "uuid-a", &got), STORE_NOTFOUND);
    assert_int_equal(store_user_get(tx, 2, CORE_ID_USERID, "alice", &got), STORE_NOTFOUND);
    assert_int_equal(store_user_get(tx, 1, CORE_ID_USERID, "", &got), STORE_NOTFOUND);
    assert_int_equal(store_user_get(tx, 1, CORE_ID_GUEST, "", &got), STORE_NOTFOUND);
    assert_int_equal(store_user_get(tx, 1, CORE_ID_OPENID, "alice", &got), STORE_NOTFOUND);

    int64_t cohosts[4] = {0};
    assert_int_equal(store_cohosts_list(tx, 1, collect_cohost, cohosts), STORE_OK);
    assert_int_equal(cohosts[0], 1);
    assert_int_equal(cohosts[1], ent.user_no);

    assert_int_equal(store_user_set_cohost(tx, 1, guest.user_no, true), STORE_OK);
    assert_int_equal(store_user_set_cohost(tx, 1, ent.user_no, false), STORE_OK);
    memset(cohosts, 0, sizeof cohosts);
    assert_int_equal(store_cohosts_list(tx, 1, collect_cohost, cohosts), STORE_OK);
    assert_int_equal(cohosts[0], 1);
    assert_int_equal(cohosts[1], guest.user_no);
    memset(cohosts, 0, sizeof cohosts);
    assert_int_equal(store_cohosts_list(tx, 2, collect_cohost, cohosts), STORE_OK);
    assert_int_equal(cohosts[0], 0);
    assert_int_equal(store_user_set_nick(tx, 1, guest.user_no, "新名字"), STORE_OK);
    assert_int_equal(store_user_set_cohost(tx, 2, guest.user_no, true), STORE_NOTFOUND);
    assert_int_equal(store_user_set_nick(tx, 1, 424242, "x"), STORE_NOTFOUND);
    assert_int_equal(store_user_get(tx, 1, CORE_ID_UUID, "uuid-g", &got), STORE_OK);
    assert_true(got.cohost);
    assert_string_equal(got.nick_name, "新名字");
    assert_int_equal(store_user_get(tx, 1, CORE_ID_UUID, "uuid-a", &got), STORE_OK);
    assert_false(got.cohost);
}

static void test_users(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    seed(f->s, "app2", 2, "000000002");
    write_ok(f->s, users_body, NULL);
}

/* ---- devices ------------------------------------------------------------------ */

static void devices_body(store_tx *tx, void *arg)
{
    (void)arg;
    core_user u = mk_user("alice", "", "a"), v = mk_user("bob", "", "b");
    assert_int_equal(store_user_insert(tx, 1, &u), STORE_OK);
    assert_int_equal(store_user_insert(tx, 1, &v), STORE_OK);

    uint64_t mask = 99;
    assert_int_equal(store_user_presence(tx, 1, u.user_no, &mask), STORE_OK);
    assert_int_equal(mask, 0);

    core_device pc = mk_device(1, 0, u.user_no, 1, 100, 10);
    core_device ios = mk_device(1, 0, u.user_no, 4, 101, 11);
    core_device mra = mk_device(1, 0, u.user_no, 9, 102, 12);
    assert_int_equal(store_device_insert(tx, &pc), STORE_OK);
    assert_int_equal(store_device_insert(tx, &ios), STORE_OK);
    assert_int_equal(store_device_insert(tx, &mra), STORE_OK);
    assert_true(pc.device_no > 0 && ios.device_no > pc.device_no && mra.device_no > ios.device_no);
    assert_int_equal(store_user_presence(tx, 1, u.user_no, &mask), STORE_OK);
    assert_int_equal(mask, (1u << 1) | (1u << 4) | (1u << 9));
    assert_int_equal(store_user_presence(tx, 1, v.user_no, &mask), STORE_OK);
    assert_int_equal(mask, 0);
    /* The three at once, by each kind of id. */
    core_user party;
    bool banned = true;
    assert_int_equal(store_user_party(tx, 1, CORE_ID_USERID, "alice", &party, &mask, &banned),
                     STORE_OK);
    assert_int_equal(party.user_no, u.user_no);
    assert_string_equal(party.uuid, u.uuid);
    assert_int_equal(mask, (1u << 1) | (1u << 4) | (1u << 9));
    assert_false(banned);
    assert_int_equal(store_user_party(tx, 1, CORE_ID_MS_OPEN_ID, v.ms_open_id, &party, &mask,
                                      &banned),
                     STORE_OK);
    assert_int_equal(party.user_no, v.user_no);
    assert_int_equal(mask, 0);
    assert_int_equal(store_user_party(tx, 1, CORE_ID_UUID, u.uuid, &party, &mask, &banned),
                     STORE_OK);
    assert_int_equal(party.user_no, u.user_no);
    mask = 7;
    banned = true;
    assert_int_equal(store_user_party(tx, 2, CORE_ID_USERID, "alice", &party, &mask, &banned),
                     STORE_NOTFOUND);
    assert_int_equal(mask, 0);
    assert_false(banned);

    /* One present session per (user, instanceid); another user may. */
    core_device again = mk_device(1, 0, u.user_no, 1, 103, 13);
    assert_int_equal(store_device_insert(tx, &again), STORE_CONFLICT);
    core_device other = mk_device(1, 0, v.user_no, 1, 103, 13);
    assert_int_equal(store_device_insert(tx, &other), STORE_OK);

    core_device got;
    assert_int_equal(store_device_present(tx, 1, u.user_no, 4, &got), STORE_OK);
    assert_int_equal(got.device_no, ios.device_no);
    assert_int_equal(got.meeting_id, 1);
    assert_int_equal(got.user_no, u.user_no);
    assert_int_equal(got.instanceid, 4);
    assert_int_equal(got.join_time, 101);
    assert_int_equal(got.left_time, 0);
    assert_int_equal(got.left_reason, CORE_LEFT_NONE);
    assert_memory_equal(got.token_hash, ios.token_hash, 32);
    assert_int_equal(store_device_present(tx, 1, u.user_no, 2, &got), STORE_NOTFOUND);
    assert_int_equal(store_device_present(tx, 2, u.user_no, 4, &got), STORE_NOTFOUND);

    assert_int_equal(store_device_by_token(tx, ios.device_no, ios.token_hash, &got), STORE_OK);
    assert_int_equal(got.device_no, ios.device_no);
    /* The number and the secret must both match; number 0 asks the legacy
     * table, which a new database has empty. */
    assert_int_equal(store_device_by_token(tx, ios.device_no, pc.token_hash, &got),
                     STORE_NOTFOUND);
    assert_int_equal(store_device_by_token(tx, pc.device_no, ios.token_hash, &got),
                     STORE_NOTFOUND);
    assert_int_equal(store_device_by_token(tx, 0, ios.token_hash, &got), STORE_NOTFOUND);
    assert_int_equal(store_device_by_token(tx, 987654, ios.token_hash, &got), STORE_NOTFOUND);

    /* Ending: once. Then the token is dead and the slot free again. */
    assert_int_equal(store_device_end(tx, ios.device_no, 200, CORE_LEFT_KICKED), STORE_OK);
    assert_int_equal(store_device_end(tx, ios.device_no, 201, CORE_LEFT_LEAVE), STORE_NOTFOUND);
    assert_int_equal(store_device_end(tx, 987654, 201, CORE_LEFT_LEAVE), STORE_NOTFOUND);
    assert_int_equal(store_device_by_token(tx, ios.device_no, ios.token_hash, &got),
                     STORE_NOTFOUND);
    assert_int_equal(store_device_present(tx, 1, u.user_no, 4, &got), STORE_NOTFOUND);
    /* By row id an ended session is still there, with how it ended. */
    assert_int_equal(store_device_get(tx, ios.device_no, &got), STORE_OK);
    assert_int_equal(got.left_time, 200);
    assert_int_equal(got.left_reason, CORE_LEFT_KICKED);
    assert_int_equal(store_device_get(tx, 987654, &got), STORE_NOTFOUND);
    core_user who;
    assert_int_equal(store_user_by_no(tx, got.user_no, &who), STORE_OK);
    assert_string_equal(who.userid, "alice");
    assert_int_equal(store_user_by_no(tx, 987654, &who), STORE_NOTFOUND);
    assert_int_equal(store_user_presence(tx, 1, u.user_no, &mask), STORE_OK);
    assert_int_equal(mask, (1u << 1) | (1u << 9));
    /* Found and ended at once: the session as ended; then there is none. */
    assert_int_equal(store_device_end_present(tx, 1, u.user_no, 9, 250, CORE_LEFT_LEAVE, &got),
                     STORE_OK);
    assert_int_equal(got.device_no, mra.device_no);
    assert_int_equal(got.instanceid, 9);
    assert_int_equal(got.join_time, 102);
    assert_int_equal(got.left_time, 250);
    assert_int_equal(got.left_reason, CORE_LEFT_LEAVE);
    assert_int_equal(store_device_end_present(tx, 1, u.user_no, 9, 251, CORE_LEFT_KICKED, &got),
                     STORE_NOTFOUND);
    assert_int_equal(store_device_end_present(tx, 2, u.user_no, 1, 251, CORE_LEFT_KICKED, &got),
                     STORE_NOTFOUND);
    assert_int_equal(store_device_get(tx, mra.device_no, &got), STORE_OK);
    assert_int_equal(got.left_time, 250);
    assert_int_equal(got.left_reason, CORE_LEFT_LEAVE);
    assert_int_equal(store_user_presence(tx, 1, u.user_no, &mask), STORE_OK);
    assert_int_equal(mask, 1u << 1);

    /* A re-join is a new session: the old token stays dead. */
    core_device rejoin = mk_device(1, 0, u.user_no, 4, 300, 11);
    assert_int_equal(store_device_insert(tx, &rejoin), STORE_OK);
    assert_true(rejoin.device_no > other.device_no);
    assert_int_equal(store_device_by_token(tx, rejoin.device_no, ios.token_hash, &got), STORE_OK);
    assert_int_equal(got.device_no, rejoin.device_no);
    assert_int_equal(store_device_by_token(tx, ios.device_no, ios.token_hash, &got),
                     STORE_NOTFOUND);
}

struct seen {
    int n;
    int64_t device_no[16];
    int stop_after; /* 0: never */
};

static store_rc see_device(const core_device *d, void *arg)
{
    struct seen *s = arg;
    assert_int_equal(d->left_time, 0);
    assert_int_equal(d->left_reason, CORE_LEFT_NONE);
    assert_true(s->n < 16);
    s->device_no[s->n++] = d->device_no;
    return s->stop_after != 0 && s->n == s->stop_after ? STORE_STOP : STORE_OK;
}

struct ended_seen {
    store_tx *tx;
    int ended;
};

static store_rc see_participant_left(const store_participant *u, void *arg)
{
    struct ended_seen *e = arg;
    if (u->left_time == 500) {
        core_device d;
        assert_int_equal(store_device_get(e->tx, u->device_no, &d), STORE_OK);
        assert_int_equal(d.left_reason, CORE_LEFT_ENDED);
        e->ended++;
    }
    return STORE_OK;
}

static void end_all_body(store_tx *tx, void *arg)
{
    (void)arg;
    int64_t no[4];
    for (int i = 0; i < 4; i++) {
        char tag[8];
        snprintf(tag, sizeof tag, "u%d", i);
        core_user u = mk_user("", tag, tag);
        assert_int_equal(store_user_insert(tx, 1, &u), STORE_OK);
        core_device d = mk_device(1, 0, u.user_no, 1 + i, 100 + i, 20 + (unsigned)i);
        assert_int_equal(store_device_insert(tx, &d), STORE_OK);
        no[i] = d.device_no;
    }
    assert_int_equal(store_device_end(tx, no[2], 150, CORE_LEFT_LEAVE), STORE_OK);
    /* A device of another meeting stays. */
    core_user w = mk_user("", "w", "w");
    assert_int_equal(store_user_insert(tx, 2, &w), STORE_OK);
    core_device dw = mk_device(2, 0, w.user_no, 1, 100, 99);
    assert_int_equal(store_device_insert(tx, &dw), STORE_OK);

    /* A callback that stops: its value comes back, nothing is ended. */
    struct seen s = {.stop_after = 2};
    assert_int_equal(store_devices_end_all(tx, 1, 500, CORE_LEFT_ENDED, see_device, &s),
                     STORE_STOP);
    assert_int_equal(s.n, 2);
    core_device got;
    assert_int_equal(store_device_present(tx, 1, 0, 0, &got), STORE_NOTFOUND);
    assert_int_equal(store_device_by_token(tx, no[0], mk_device(0, 0, 0, 0, 0, 20).token_hash,
                                           &got),
                     STORE_OK);

    memset(&s, 0, sizeof s);
    assert_int_equal(store_devices_end_all(tx, 1, 500, CORE_LEFT_ENDED, see_device, &s), STORE_OK);
    assert_int_equal(s.n, 3);
    assert_int_equal(s.device_no[0], no[0]);
    assert_int_equal(s.device_no[1], no[1]);
    assert_int_equal(s.device_no[2], no[3]);
    struct ended_seen ended = {tx, 0};
    int64_t total = 0;
    assert_int_equal(store_participants_list(tx, 1, -1, 0, 100, see_participant_left, &ended,
                                             &total),
                     STORE_OK);
    assert_int_equal(total, 4);
    assert_int_equal(ended.ended, 3); /* the one that left earlier keeps its own time */

    memset(&s, 0, sizeof s);
    assert_int_equal(store_devices_end_all(tx, 1, 600, CORE_LEFT_ENDED, see_device, &s), STORE_OK);
    assert_int_equal(s.n, 0);
    assert_int_equal(store_device_by_token(tx, dw.device_no, dw.token_hash, &got), STORE_OK);
    assert_int_equal(store_devices_end_all(tx, 2, 600, CORE_LEFT_ENDED, NULL, NULL), STORE_OK);
    assert_int_equal(store_device_by_token(tx, dw.device_no, dw.token_hash, &got),
                     STORE_NOTFOUND);
}

static void test_devices(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    seed(f->s, "app2", 2, "000000002");
    write_ok(f->s, devices_body, NULL);
}

/* ---- presence: nodes, streams, the sweep --------------------------------- */

#define NODE_A 111
#define NODE_B 222

struct due_seen {
    int n;
    int64_t device_no[16];
};

static store_rc see_due(int64_t device_no, void *arg)
{
    struct due_seen *s = arg;
    assert_true(s->n < 16);
    s->device_no[s->n++] = device_no;
    return STORE_OK;
}

struct nodes_seen {
    int n;
    store_node node[8];
};

static store_rc see_node(const store_node *n, void *arg)
{
    struct nodes_seen *s = arg;
    assert_true(s->n < 8);
    s->node[s->n++] = *n;
    return STORE_OK;
}

static void expect_stream(store_tx *tx, int64_t device_no, int64_t node, int64_t grace)
{
    int64_t got_node = -1, got_grace = -1;
    assert_int_equal(store_stream_get(tx, device_no, &got_node, &got_grace), STORE_OK);
    assert_int_equal(got_node, node);
    assert_int_equal(got_grace, grace);
}

static void presence_body(store_tx *tx, void *arg)
{
    (void)arg;
    int64_t no[5];
    for (int i = 0; i < 5; i++) {
        char tag[8];
        snprintf(tag, sizeof tag, "p%d", i);
        core_user u = mk_user("", tag, tag);
        assert_int_equal(store_user_insert(tx, 1, &u), STORE_OK);
        core_device d = mk_device(1, 0, u.user_no, 1, 100, 40 + (unsigned)i);
        assert_int_equal(store_device_insert(tx, &d), STORE_OK);
        no[i] = d.device_no;
    }
    /* The meetings of devices, locked (none for an unknown device, none
     * for none). */
    int64_t devs[] = {no[3], 999999, no[0], no[3]};
    assert_int_equal(store_meetings_lock_of_devices(tx, devs, 4), STORE_OK);
    assert_int_equal(store_meetings_lock_of_devices(tx, NULL, 0), STORE_OK);
    /* A device that never streamed has neither column; none is due. */
    expect_stream(tx, no[0], 0, 0);
    int64_t n0, g0;
    assert_int_equal(store_stream_get(tx, 999999, &n0, &g0), STORE_NOTFOUND);

    store_node a = {.node_id = NODE_A, .address = "http://127.0.0.1:1", .started_at = 1000,
                    .heartbeat_at = 10000};
    store_node b = {.node_id = NODE_B, .address = "", .started_at = 2000, .heartbeat_at = 10000};
    assert_int_equal(store_node_register(tx, &a), STORE_OK);
    assert_int_equal(store_node_register(tx, &b), STORE_OK);
    /* Registering again: same row, address and heartbeat refreshed. */
    snprintf(a.address, sizeof a.address, "http://127.0.0.1:2");
    assert_int_equal(store_node_register(tx, &a), STORE_OK);
    struct nodes_seen ns = {0};
    assert_int_equal(store_node_list(tx, see_node, &ns), STORE_OK);
    assert_int_equal(ns.n, 2);
    assert_int_equal(ns.node[0].node_id, NODE_A);
    assert_string_equal(ns.node[0].address, "http://127.0.0.1:2");
    assert_int_equal(ns.node[0].started_at, 1000);
    assert_int_equal(ns.node[1].node_id, NODE_B);

    /* Heartbeats: on time moves it; a row already older than dead_before
     * (taken for dead) or gone answers NOTFOUND and stays as it was. */
    assert_int_equal(store_node_heartbeat(tx, NODE_A, 11000, 6000), STORE_OK);
    assert_int_equal(store_node_heartbeat(tx, NODE_B, 20000, 15000), STORE_NOTFOUND);
    assert_int_equal(store_node_heartbeat(tx, 333, 20000, 15000), STORE_NOTFOUND);
    ns.n = 0;
    assert_int_equal(store_node_list(tx, see_node, &ns), STORE_OK);
    assert_int_equal(ns.node[0].heartbeat_at, 11000);
    assert_int_equal(ns.node[1].heartbeat_at, 10000);

    /* Streams: attach, detach only by the node that holds it. */
    int64_t from = -1;
    assert_int_equal(store_stream_attach(tx, no[0], NODE_A, 0, &from), STORE_OK);
    assert_int_equal(from, 0);
    expect_stream(tx, no[0], NODE_A, 0);
    /* Attaching again from the node that holds it: whatever its open read
     * (its own earlier attach was written since), it still holds it. */
    assert_int_equal(store_stream_attach(tx, no[0], NODE_A, 0, &from), STORE_OK);
    assert_int_equal(from, 0);
    assert_int_equal(store_stream_attach(tx, no[0], NODE_A, NODE_B, &from), STORE_OK);
    assert_int_equal(from, 0);
    expect_stream(tx, no[0], NODE_A, 0);
    assert_int_equal(store_stream_detach(tx, no[0], NODE_B, 5000), STORE_NOTFOUND);
    expect_stream(tx, no[0], NODE_A, 0);
    assert_int_equal(store_stream_detach(tx, no[0], NODE_A, 15000), STORE_OK);
    expect_stream(tx, no[0], 0, 15000);
    /* Back on another node that read the node holding it: taken from
     * that node (*from says which), the grace gone; the old node's late
     * close changes nothing. */
    assert_int_equal(store_stream_attach(tx, no[1], NODE_A, 0, &from), STORE_OK);
    assert_int_equal(store_stream_attach(tx, no[1], NODE_B, NODE_A, &from), STORE_OK);
    assert_int_equal(from, NODE_A);
    assert_int_equal(store_stream_detach(tx, no[1], NODE_A, 12000), STORE_NOTFOUND);
    expect_stream(tx, no[1], NODE_B, 0);
    /* A late attach (its open read no node, or a node that no longer holds
     * it) is refused: the row keeps the node that attached since, *from
     * names it. */
    assert_int_equal(store_stream_attach(tx, no[1], NODE_A, 0, &from), STORE_REFUSED);
    assert_int_equal(from, NODE_B);
    expect_stream(tx, no[1], NODE_B, 0);
    assert_int_equal(store_stream_attach(tx, no[1], NODE_A, 77, &from), STORE_REFUSED);
    assert_int_equal(from, NODE_B);
    expect_stream(tx, no[1], NODE_B, 0);
    /* An open that read a node whose stream has closed since (or that was
     * stopped): a row with no node is anyone's, from none. */
    assert_int_equal(store_stream_attach(tx, no[2], NODE_A, 0, &from), STORE_OK);
    assert_int_equal(store_stream_detach(tx, no[2], NODE_A, 12000), STORE_OK);
    assert_int_equal(store_stream_attach(tx, no[2], NODE_B, NODE_A, &from), STORE_OK);
    assert_int_equal(from, 0);
    expect_stream(tx, no[2], NODE_B, 0);
    /* A device that left holds nothing. */
    assert_int_equal(store_device_end(tx, no[4], 150, CORE_LEFT_LEAVE), STORE_OK);
    assert_int_equal(store_stream_attach(tx, no[4], NODE_A, 0, &from), STORE_NOTFOUND);
    assert_int_equal(store_stream_detach(tx, no[4], NODE_A, 1), STORE_NOTFOUND);
    assert_int_equal(store_stream_attach(tx, 999999, NODE_A, 0, &from), STORE_NOTFOUND);
    assert_int_equal(store_stream_attach(tx, no[2], NODE_A, NODE_B, &from), STORE_OK);
    assert_int_equal(from, NODE_B);
    assert_int_equal(store_stream_attach(tx, no[3], NODE_B, 0, NULL), STORE_OK);

    /* Due at 14999: nothing (no[0]'s grace ends at 15000; the nodes live). */
    struct due_seen ds = {0};
    assert_int_equal(store_presence_due(tx, 14999, 9000, 3000, 9000, 100, see_due, &ds),
                     STORE_OK);
    assert_int_equal(ds.n, 0);
    assert_int_equal(store_presence_claim(tx, no[0], 14999), STORE_NOTFOUND);
    assert_int_equal(store_presence_claim(tx, no[2], 99999), STORE_NOTFOUND);   /* streams */
    /* At 15000 it is, and its claim holds. */
    assert_int_equal(store_presence_due(tx, 15000, 9000, 3000, 9000, 100, see_due, &ds),
                     STORE_OK);
    assert_int_equal(ds.n, 1);
    assert_int_equal(ds.device_no[0], no[0]);
    assert_int_equal(store_presence_claim(tx, no[0], 15000), STORE_OK);

    /* Node B dies (heartbeat 10000, dead_before 10001): its devices get
     * grace from its heartbeat (10000 + 3000), due at once at 15000; node
     * A (11000) lives. Its row stays until forget_before passes it. */
    ds.n = 0;
    assert_int_equal(store_presence_due(tx, 15000, 10001, 3000, 9000, 100, see_due, &ds),
                     STORE_OK);
    assert_int_equal(ds.n, 3);
    assert_int_equal(ds.device_no[2], no[0]);    /* earliest grace first: 13000, 15000 */
    expect_stream(tx, no[1], 0, 13000);
    expect_stream(tx, no[3], 0, 13000);
    expect_stream(tx, no[2], NODE_A, 0);
    ns.n = 0;
    assert_int_equal(store_node_list(tx, see_node, &ns), STORE_OK);
    assert_int_equal(ns.n, 2);
    /* A limit is kept; forgetting takes the dead row. */
    ds.n = 0;
    assert_int_equal(store_presence_due(tx, 15000, 10001, 3000, 10001, 1, see_due, &ds),
                     STORE_OK);
    assert_int_equal(ds.n, 1);
    ns.n = 0;
    assert_int_equal(store_node_list(tx, see_node, &ns), STORE_OK);
    assert_int_equal(ns.n, 1);
    assert_int_equal(ns.node[0].node_id, NODE_A);

    /* A clean stop of A: its streams detached with the stop's grace, its
     * row gone. */
    assert_int_equal(store_node_stop(tx, NODE_A, 40000), STORE_OK);
    expect_stream(tx, no[2], 0, 40000);
    expect_stream(tx, no[3], 0, 13000);
    ns.n = 0;
    assert_int_equal(store_node_list(tx, see_node, &ns), STORE_OK);
    assert_int_equal(ns.n, 0);
    /* Ended devices are never due. */
    assert_int_equal(store_device_end(tx, no[2], 160, CORE_LEFT_TIMEOUT), STORE_OK);
    assert_int_equal(store_presence_claim(tx, no[2], 50000), STORE_NOTFOUND);
    ds.n = 0;
    assert_int_equal(store_presence_due(tx, 50000, 10001, 3000, 10001, 100, see_due, &ds),
                     STORE_OK);
    assert_int_equal(ds.n, 3);   /* no[0], no[1], no[3]; not no[2] nor no[4] */
}

/* Read-only transactions refuse the presence writes. */
static store_rc presence_in_read(store_tx *tx, void *arg)
{
    (void)arg;
    store_node a = {.node_id = NODE_A, .started_at = 1, .heartbeat_at = 1};
    return store_node_register(tx, &a);
}

static store_rc lock_in_read(store_tx *tx, void *arg)
{
    (void)arg;
    int64_t dev = 1;
    return store_meetings_lock_of_devices(tx, &dev, 1);
}

static void test_presence(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    write_ok(f->s, presence_body, NULL);
    assert_int_equal(raw_count(f->data, "nodes"), 0);
    assert_int_equal(store_read(f->s, presence_in_read, NULL), STORE_ERROR);
    assert_int_equal(store_read(f->s, lock_in_read, NULL), STORE_ERROR);
}

static void test_devices_end_all(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    seed(f->s, "app2", 2, "000000002");
    write_ok(f->s, end_all_body, NULL);
}

/* ---- participants --------------------------------------------------------------- */


struct page {
    store_tx *tx;
    int n;
    int64_t last_device_no;
    int64_t sub;
    char first[CORE_ID_MAX + 1];
};

static store_rc see_participant(const store_participant *u, void *arg)
{
    const store_participant *d = u;
    struct page *p = arg;
    assert_true(d->device_no > p->last_device_no); /* join order */
    p->last_device_no = d->device_no;
    /* The row is its session's, of this meeting (and occurrence). */
    core_device full;
    assert_int_equal(store_device_get(p->tx, d->device_no, &full), STORE_OK);
    assert_int_equal(full.meeting_id, 1);
    if (p->sub != -1)
        assert_int_equal(full.sub_meeting_id, p->sub);
    assert_int_equal(full.instanceid, d->instanceid);
    assert_int_equal(full.join_time, d->join_time);
    assert_int_equal(full.left_time, d->left_time);
    assert_true(!u->cohost);
    assert_string_equal(u->guest_id, "");
    /* ... and its user's: ms-p<NN>, Nick p<NN> */
    assert_string_equal(u->ms_open_id + 3, u->uuid + 5);
    assert_string_equal(u->nick_name + 5, u->uuid + 5);
    /* each user is p<NN> with uuid-p<NN> */
    assert_string_equal(u->uuid + 5, u->userid);
    assert_int_equal(d->join_time, 1000 + atoi(u->userid + 1));
    if (atoi(u->userid + 1) == 3)
        assert_int_equal(d->left_time, 2000);
    else
        assert_int_equal(d->left_time, 0);
    if (p->n++ == 0)
        snprintf(p->first, sizeof p->first, "%s", u->userid);
    return STORE_OK;
}

static void page_check(store_tx *tx, int64_t sub, int64_t pos, int size, int want_n,
                       int64_t want_total, const char *want_first)
{
    struct page p = {.tx = tx, .sub = sub};
    int64_t total = -1;
    assert_int_equal(store_participants_list(tx, 1, sub, pos, size, see_participant, &p, &total),
                     STORE_OK);
    assert_int_equal(total, want_total);
    assert_int_equal(p.n, want_n);
    if (want_first != NULL)
        assert_string_equal(p.first, want_first);
}

static void participants_body(store_tx *tx, void *arg)
{
    (void)arg;
    page_check(tx, -1, 0, 10, 10, 25, "p00");
    page_check(tx, -1, 10, 10, 10, 25, "p10");
    page_check(tx, -1, 20, 10, 5, 25, "p20");
    page_check(tx, -1, 25, 10, 0, 25, NULL);
    page_check(tx, -1, 0, 0, 0, 25, NULL);
    page_check(tx, -1, 0, 100, 25, 25, "p00");
    /* Sub A holds i % 5 in {0,1,2}: 15 of 25; sub B 10. */
    page_check(tx, SUB_A, 0, 10, 10, 15, "p00");
    page_check(tx, SUB_A, 10, 10, 5, 15, "p16");
    page_check(tx, SUB_B, 0, 100, 10, 10, "p03");
    page_check(tx, 42, 0, 100, 0, 0, NULL);
    struct page p = {.tx = tx, .sub = -1};
    assert_int_equal(store_participants_list(tx, 1, -1, 0, 3, see_participant, &p, NULL),
                     STORE_OK);
    assert_int_equal(p.n, 3);
    int64_t total = -1;
    assert_int_equal(store_participants_list(tx, 2, -1, 0, 3, see_participant, &p, &total),
                     STORE_OK);
    assert_int_equal(total, 0);
}

/* Meeting 1 (app1) with its sessions, and meeting 2 (app1x) with none. */
static void participants_seeded(fixture *f)
{
    seed(f->s, "app1", 1, "000000001");
    seed(f->s, "app1x", 2, "000000002");
    write_ok(f->s, participants_fill_body, NULL);
}

static void test_participants(void **state)
{
    fixture *f = *state;
    participants_seeded(f);
    read_ok(f->s, participants_body, NULL);
}

typedef int (*filtered_fn)(store_tx *tx, int64_t sub, int64_t pos, int size, struct page *p,
                           int64_t *total);

static int span_1005_1012(store_tx *tx, int64_t sub, int64_t pos, int size, struct page *p,
                          int64_t *total)
{
    return store_participants_between(tx, 1, sub, 1005, 1012, pos, size, see_participant, p,
                                      total);
}

static int present_now(store_tx *tx, int64_t sub, int64_t pos, int size, struct page *p,
                       int64_t *total)
{
    return store_present_list(tx, 1, sub, pos, size, see_participant, p, total);
}

static void filtered_check(store_tx *tx, filtered_fn fn, int64_t sub, int64_t pos, int size,
                           int want_n, int64_t want_total, const char *want_first)
{
    struct page p = {.tx = tx, .sub = sub};
    int64_t total = -1;
    assert_int_equal(fn(tx, sub, pos, size, &p, &total), STORE_OK);
    assert_int_equal(total, want_total);
    assert_int_equal(p.n, want_n);
    if (want_first != NULL)
        assert_string_equal(p.first, want_first);
}

static void filtered_body(store_tx *tx, void *arg)
{
    (void)arg;
    /* Joined at 1005..1012 (inclusive) in SUB_A (i % 5 < 3): 5, 6, 7, 10, 11, 12. */
    filtered_check(tx, span_1005_1012, SUB_A, 0, 4, 4, 6, "p05");
    filtered_check(tx, span_1005_1012, SUB_A, 4, 4, 2, 6, "p11");
    filtered_check(tx, span_1005_1012, SUB_A, 6, 4, 0, 6, NULL);
    filtered_check(tx, span_1005_1012, SUB_A, INT64_MAX, 100, 0, 6, NULL);
    filtered_check(tx, span_1005_1012, SUB_A, 0, 0, 0, 6, NULL);
    filtered_check(tx, span_1005_1012, SUB_B, 0, 100, 2, 2, "p08");
    filtered_check(tx, span_1005_1012, 42, 0, 100, 0, 0, NULL);
    /* Present now: all but p03 (SUB_B), in join order. */
    filtered_check(tx, present_now, -1, 0, 100, 24, 24, "p00");
    filtered_check(tx, present_now, -1, 20, 10, 4, 24, "p21");
    filtered_check(tx, present_now, -1, INT64_MAX, 50, 0, 24, NULL);
    filtered_check(tx, present_now, SUB_A, 0, 100, 15, 15, "p00");
    filtered_check(tx, present_now, SUB_B, 0, 2, 2, 9, "p04");
    struct page p = {.tx = tx, .sub = -1};
    int64_t total = -1;
    assert_int_equal(store_present_list(tx, 2, -1, 0, 10, see_participant, &p, &total),
                     STORE_OK);
    assert_int_equal(total, 0);
}

static void test_participants_filtered(void **state)
{
    fixture *f = *state;
    participants_seeded(f);
    read_ok(f->s, filtered_body, NULL);
}


static void deep_body(store_tx *tx, void *arg)
{
    (void)arg;
    const int64_t subs[] = {-1, SUB_A, SUB_B};
    for (size_t s = 0; s < 3; s++) {
        struct deep_list *whole = calloc(1, sizeof *whole), *page = calloc(1, sizeof *page);
        assert_non_null(whole);
        assert_non_null(page);
        int64_t total = -1;
        assert_int_equal(store_participants_list(tx, 1, subs[s], 0, DEEP_N, deep_row, whole,
                                                 &total),
                         STORE_OK);
        assert_int_equal(whole->n, total);
        assert_true(total > 256 + 20);
        const int64_t at[] = {0, 236, 250, 255, 256, 257, 300, total - 7, total, total + 5};
        for (size_t k = 0; k < sizeof at / sizeof at[0]; k++) {
            memset(page, 0, sizeof *page);
            assert_int_equal(store_participants_list(tx, 1, subs[s], at[k], 20, deep_row, page,
                                                     NULL),
                             STORE_OK);
            int64_t want = at[k] >= total ? 0 : (total - at[k] < 20 ? total - at[k] : 20);
            assert_int_equal(page->n, want);
            for (int i = 0; i < page->n; i++) {
                assert_int_equal(page->no[i], whole->no[at[k] + i]);
                assert_string_equal(page->who[i], whole->who[at[k] + i]);
            }
        }
        free(whole);
        free(page);
    }
}

static void test_participants_deep_pages(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    write_ok(f->s, sessions_fill_body, &(int){DEEP_N});
    read_ok(f->s, deep_body, NULL);
}

/* Positions no meeting reaches, and the edges of its end: every page is
 * empty with the right total (a negative pos is the first page), and is
 * answered at once. What this guards against walked towards the client's
 * pos a stride at a time, inside the call, where no assertion can stop it
 * (pos 2^63 - 1 ran for ever, 10^12 for seconds): so the pages are asked
 * for on a thread of their own and waited for with a deadline far beyond
 * what they take. */
#define FAR_DEADLINE_S 10
#define FAR_SUBS 4
#define FAR_CASES 20

struct far_case {
    int64_t sub, pos;
    int size;
    int rc, n;                 /* the answer: store code, rows */
    int64_t total;
};

struct far_run {
    store *s;
    struct far_case c[FAR_SUBS * FAR_CASES];
    int n_cases;
    int read_rc;
    bool done;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

static store_rc far_count(const store_participant *u, void *arg)
{
    const store_participant *d = u;
    (void)d;
    (void)u;
    ++*(int *)arg;
    return STORE_OK;
}

/* No assertions here: this runs off cmocka's thread. */
static store_rc far_read(store_tx *tx, void *arg)
{
    struct far_run *r = arg;
    for (int i = 0; i < r->n_cases; i++) {
        struct far_case *c = &r->c[i];
        c->total = -1;
        c->rc = store_participants_list(tx, 1, c->sub, c->pos, c->size, far_count, &c->n,
                                        &c->total);
    }
    return STORE_OK;
}

static void *far_main(void *arg)
{
    struct far_run *r = arg;
    int rc = store_read(r->s, far_read, r);
    pthread_mutex_lock(&r->mu);
    r->read_rc = rc;
    r->done = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

static void far_totals_body(store_tx *tx, void *arg)
{
    int64_t *totals = arg;
    const int64_t subs[FAR_SUBS] = {-1, SUB_A, SUB_B, 42};
    for (int s = 0; s < FAR_SUBS; s++)
        assert_int_equal(store_participants_list(tx, 1, subs[s], 0, 0, NULL, NULL, &totals[s]),
                         STORE_OK);
}

static void test_participants_far_pages(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    write_ok(f->s, sessions_fill_body, &(int){JUMP_N});
    const int64_t subs[FAR_SUBS] = {-1, SUB_A, SUB_B, 42};
    int64_t totals[FAR_SUBS];
    read_ok(f->s, far_totals_body, totals);
    assert_int_equal(totals[0], JUMP_N);
    assert_int_equal(totals[3], 0);

    static struct far_run r; /* left to a stuck thread if the deadline passes */
    memset(&r, 0, sizeof r);
    r.s = f->s;
    for (int s = 0; s < FAR_SUBS; s++) {
        int64_t t = totals[s];
        const struct { int64_t pos; int size; } at[FAR_CASES] = {
            {t - 1, 30}, {t, 30}, {t + 1, 30}, {t, INT_MAX}, {4 * JUMP_STRIDE, 100},
            {INT64_C(10000000000), 20}, {INT64_C(1000000000000), 100},
            {INT64_C(4611686018427387904), 100}, {INT64_MAX - 100, 100},
            {INT64_MAX - 1, INT_MAX}, {INT64_MAX, 1}, {INT64_MAX, 100}, {INT64_MAX, 0},
            {INT64_MAX, -1}, {-1, 30}, {INT64_MIN, 5}, {-1, INT_MAX}, {t - 1, INT_MAX},
            {JUMP_STRIDE, INT_MAX}, {INT64_MAX, INT_MAX}};
        for (int k = 0; k < FAR_CASES; k++)
            r.c[r.n_cases++] = (struct far_case){.sub = subs[s], .pos = at[k].pos,
                                                 .size = at[k].size};
    }
    pthread_mutex_init(&r.mu, NULL);
    pthread_cond_init(&r.cv, NULL);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += FAR_DEADLINE_S;
    bodies_running++; /* a stuck reader: the fixture abandons the store */
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, far_main, &r), 0);
    pthread_mutex_lock(&r.mu);
    int wait = 0;
    while (!r.done && wait != ETIMEDOUT)
        wait = pthread_cond_timedwait(&r.cv, &r.mu, &deadline);
    bool done = r.done;
    pthread_mutex_unlock(&r.mu);
    if (!done) {
        pthread_detach(th);
        fail_msg("%d pages past the end still unanswered after %d s", r.n_cases,
                 FAR_DEADLINE_S);
    }
    pthread_join(th, NULL);
    bodies_running--;
    assert_int_equal(r.read_rc, 0);
    for (int i = 0; i < r.n_cases; i++) {
        const struct far_case *c = &r.c[i];
        int64_t t = totals[i / FAR_CASES];
        /* A negative pos is 0, a negative size 0 (lite_page). */
        int64_t pos = c->pos < 0 ? 0 : c->pos, size = c->size < 0 ? 0 : c->size;
        int64_t want = pos >= t ? 0 : (t - pos < size ? t - pos : size);
        if (c->rc != STORE_OK || c->total != t || c->n != want)
            fail_msg("sub %" PRId64 " pos %" PRId64 " size %d: rc %d, total %" PRId64
                     ", %d rows; want total %" PRId64 ", %" PRId64 " rows",
                     c->sub, c->pos, c->size, c->rc, c->total, c->n, t, want);
    }
    pthread_cond_destroy(&r.cv);
    pthread_mutex_destroy(&r.mu);
}

/* ---- bans ------------------------------------------------------------------------- */

struct ban_seen {
    store_tx *tx;
    int n;
    char order[64];
    int nested;
};

static store_rc see_ban(const core_ban *b, void *arg)
{
    struct ban_seen *s = arg;
    assert_int_equal(b->meeting_id, 1);
    assert_true(b->user.user_no > 0);
    assert_string_equal(b->user.uuid + 5, b->user.userid);
    assert_string_equal(b->reason, "spam");
    assert_string_equal(b->operator_ms_open_id, "ms-op");
    assert_string_equal(b->operator_userid, "op");
    assert_string_equal(b->operator_uuid, "uuid-op");
    assert_int_equal(b->operator_instanceid, 33);
    assert_string_equal(b->request_id, "req-1");
    strcat(s->order, b->user.userid);
    strcat(s->order, ",");
    s->n++;
    return STORE_OK;
}

static store_rc see_ban_nested(const core_ban *b, void *arg)
{
    struct ban_seen *s = arg;
    (void)b;
    /* Re-entering the same list from its callback works (own statement). */
    struct ban_seen inner = {0};
    assert_int_equal(store_bans_list(s->tx, 1, see_ban, &inner), STORE_OK);
    s->nested += inner.n;
    return STORE_OK;
}

static void bans_body(store_tx *tx, void *arg)
{
    (void)arg;
    core_user u[4];
    for (int i = 0; i < 4; i++) {
        char tag[8];
        snprintf(tag, sizeof tag, "b%d", i);
        u[i] = mk_user(tag, "", tag);
        assert_int_equal(store_user_insert(tx, 1, &u[i]), STORE_OK);
    }
    int64_t at[4] = {300, 100, 100, 200};
    for (int i = 3; i >= 0; i--) {
        core_ban b = {.meeting_id = 1, .user = u[i], .banned_at = at[i], .reason = "old"};
        assert_int_equal(store_ban_put(tx, &b), STORE_OK);
        snprintf(b.reason, sizeof b.reason, "spam");
        snprintf(b.operator_ms_open_id, sizeof b.operator_ms_open_id, "ms-op");
        snprintf(b.operator_userid, sizeof b.operator_userid, "op");
        snprintf(b.operator_uuid, sizeof b.operator_uuid, "uuid-op");
        b.operator_instanceid = 33;
        snprintf(b.request_id, sizeof b.request_id, "req-1");
        assert_int_equal(store_ban_put(tx, &b), STORE_OK); /* refresh */
    }
    bool banned = false;
    assert_int_equal(store_ban_exists(tx, 1, u[0].user_no, &banned), STORE_OK);
    assert_true(banned);
    assert_int_equal(store_ban_exists(tx, 2, u[0].user_no, &banned), STORE_OK);
    assert_false(banned);
    core_user party;
    uint64_t mask = 1;
    assert_int_equal(store_user_party(tx, 1, CORE_ID_USERID, "b0", &party, &mask, &banned),
                     STORE_OK);
    assert_int_equal(party.user_no, u[0].user_no);
    assert_true(banned);
    assert_int_equal(mask, 0);

    struct ban_seen s = {.tx = tx};
    assert_int_equal(store_bans_list(tx, 1, see_ban, &s), STORE_OK);
    assert_int_equal(s.n, 4);
    assert_string_equal(s.order, "b1,b2,b3,b0,"); /* banned_at, then user_no */

    /* Refreshing moves the ban's time. */
    core_ban b = {.meeting_id = 1, .user = u[0], .banned_at = 50, .reason = "spam",
                  .operator_userid = "op", .operator_uuid = "uuid-op",
                  .operator_ms_open_id = "ms-op", .operator_instanceid = 33,
                  .request_id = "req-1"};
    assert_int_equal(store_ban_put(tx, &b), STORE_OK);
    memset(&s, 0, sizeof s);
    s.tx = tx;
    assert_int_equal(store_bans_list(tx, 1, see_ban, &s), STORE_OK);
    assert_string_equal(s.order, "b0,b1,b2,b3,");

    memset(&s, 0, sizeof s);
    s.tx = tx;
    assert_int_equal(store_bans_list(tx, 1, see_ban_nested, &s), STORE_OK);
    assert_int_equal(s.nested, 16);

    assert_int_equal(store_ban_delete(tx, 1, u[2].user_no), STORE_OK);
    assert_int_equal(store_ban_delete(tx, 1, u[2].user_no), STORE_NOTFOUND);
    assert_int_equal(store_ban_exists(tx, 1, u[2].user_no, &banned), STORE_OK);
    assert_false(banned);
    memset(&s, 0, sizeof s);
    assert_int_equal(store_bans_list(tx, 1, see_ban, &s), STORE_OK);
    assert_string_equal(s.order, "b0,b1,b3,");
    memset(&s, 0, sizeof s);
    assert_int_equal(store_bans_list(tx, 2, see_ban, &s), STORE_OK);
    assert_int_equal(s.n, 0);
}

static void test_bans(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    seed(f->s, "app2", 2, "000000002");
    write_ok(f->s, bans_body, NULL);
}

/* ---- audit ---------------------------------------------------------------------------- */

static void audit_fill_body(store_tx *tx, void *arg)
{
    (void)arg;
    int64_t prev = 0;
    for (int i = 0; i < 25; i++) {
        core_audit a;
        memset(&a, 0, sizeof a);
        a.meeting_id = i == 7 ? 2 : 1;
        a.sub_meeting_id = 1800000000;
        a.time = 5000 + i;
        snprintf(a.request_id, sizeof a.request_id, "req-%d", i);
        snprintf(a.action, sizeof a.action, "kickout");
        snprintf(a.op_userid, sizeof a.op_userid, "host");
        snprintf(a.op_uuid, sizeof a.op_uuid, "uuid-host");
        snprintf(a.op_ms_open_id, sizeof a.op_ms_open_id, "ms-host");
        a.op_instanceid = 1;
        snprintf(a.target_userid, sizeof a.target_userid, "t%d", i);
        snprintf(a.target_guest_id, sizeof a.target_guest_id, "g%d", i);
        snprintf(a.target_uuid, sizeof a.target_uuid, "uuid-t%d", i);
        snprintf(a.target_ms_open_id, sizeof a.target_ms_open_id, "ms-t%d", i);
        a.target_instanceid = 9;
        a.allow_rejoin = i % 2 == 0;
        memset(a.reason, 'r', CORE_REASON_MAX); /* the longest reason */
        assert_int_equal(store_audit_insert(tx, &a), STORE_OK);
        assert_true(a.audit_no > prev);
        prev = a.audit_no;
    }
}

struct audit_page {
    int n;
    int next_i; /* expected index of the next row */
};

static store_rc see_audit(const core_audit *a, void *arg)
{
    struct audit_page *p = arg;
    if (p->next_i == 7)
        p->next_i--; /* meeting 2's */
    int i = p->next_i--;
    char buf[32];
    assert_int_equal(a->meeting_id, 1);
    assert_int_equal(a->sub_meeting_id, 1800000000);
    assert_int_equal(a->time, 5000 + i);
    snprintf(buf, sizeof buf, "req-%d", i);
    assert_string_equal(a->request_id, buf);
    assert_string_equal(a->action, "kickout");
    assert_string_equal(a->op_userid, "host");
    assert_string_equal(a->op_uuid, "uuid-host");
    assert_string_equal(a->op_ms_open_id, "ms-host");
    assert_int_equal(a->op_instanceid, 1);
    snprintf(buf, sizeof buf, "t%d", i);
    assert_string_equal(a->target_userid, buf);
    snprintf(buf, sizeof buf, "g%d", i);
    assert_string_equal(a->target_guest_id, buf);
    snprintf(buf, sizeof buf, "uuid-t%d", i);
    assert_string_equal(a->target_uuid, buf);
    snprintf(buf, sizeof buf, "ms-t%d", i);
    assert_string_equal(a->target_ms_open_id, buf);
    assert_int_equal(a->target_instanceid, 9);
    assert_int_equal(a->allow_rejoin, i % 2 == 0);
    assert_int_equal(strlen(a->reason), CORE_REASON_MAX);
    p->n++;
    return STORE_OK;
}

static void audit_body(store_tx *tx, void *arg)
{
    (void)arg;
    /* 24 rows for meeting 1, newest (i = 24) first. */
    struct audit_page p = {.next_i = 24};
    int64_t total = -1;
    assert_int_equal(store_audit_list(tx, 1, 0, 10, see_audit, &p, &total), STORE_OK);
    assert_int_equal(total, 24);
    assert_int_equal(p.n, 10);
    p.n = 0;
    assert_int_equal(store_audit_list(tx, 1, 10, 10, see_audit, &p, &total), STORE_OK);
    assert_int_equal(p.n, 10);
    p.n = 0;
    assert_int_equal(store_audit_list(tx, 1, 20, 10, see_audit, &p, NULL), STORE_OK);
    assert_int_equal(p.n, 4);
    assert_int_equal(p.next_i, -1);
    p.n = 0;
    assert_int_equal(store_audit_list(tx, 1, 24, 10, see_audit, &p, &total), STORE_OK);
    assert_int_equal(p.n, 0);
    /* Past the end however far, with or without a total: empty. */
    const int64_t far[] = {25, 1024, INT64_C(1000000000000), INT64_MAX - 10, INT64_MAX};
    for (size_t i = 0; i < sizeof far / sizeof far[0]; i++) {
        total = -1;
        assert_int_equal(store_audit_list(tx, 1, far[i], INT_MAX, see_audit, &p, &total),
                         STORE_OK);
        assert_int_equal(total, 24);
        assert_int_equal(store_audit_list(tx, 1, far[i], 100, see_audit, &p, NULL), STORE_OK);
        assert_int_equal(p.n, 0);
    }
    assert_int_equal(store_audit_list(tx, 3, 0, 10, see_audit, &p, &total), STORE_OK);
    assert_int_equal(total, 0);
}

static void test_audit(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    seed(f->s, "app2", 2, "000000002");
    write_ok(f->s, audit_fill_body, NULL);
    read_ok(f->s, audit_body, NULL);
}

/* ---- events ------------------------------------------------------------------------------ */

#define EV_SEEN_MAX 16

struct ev_seen {
    int n;
    int64_t no[EV_SEEN_MAX];
    int64_t meeting[EV_SEEN_MAX];
    int64_t device[EV_SEEN_MAX];
    char type[EV_SEEN_MAX][STORE_EVENT_TYPE_MAX + 1];
    char payload[EV_SEEN_MAX][64];
    int stop_after;                 /* 0: never */
};

static store_rc ev_collect(const store_event *e, const char *payload, void *arg)
{
    struct ev_seen *w = arg;
    assert_true(w->n < EV_SEEN_MAX);
    w->no[w->n] = e->event_no;
    w->meeting[w->n] = e->meeting_id;
    w->device[w->n] = e->device_no;
    snprintf(w->type[w->n], sizeof w->type[0], "%s", e->type);
    snprintf(w->payload[w->n], sizeof w->payload[0], "%s", payload);
    w->n++;
    return w->stop_after != 0 && w->n >= w->stop_after ? STORE_STOP : STORE_OK;
}

struct ev_nos {
    int64_t a, b, c, d, e;
};

static void ev_put(store_tx *tx, int64_t meeting, int64_t device, const char *type,
                   const char *payload, int64_t at, int64_t *no)
{
    store_event e = {.meeting_id = meeting, .device_no = device, .created_at = at};
    snprintf(e.type, sizeof e.type, "%s", type);
    assert_int_equal(store_event_insert(tx, &e, payload), STORE_OK);
    assert_true(e.event_no > 0);
    *no = e.event_no;
}

static void events_fill_body(store_tx *tx, void *arg)
{
    struct ev_nos *n = arg;
    ev_put(tx, 1, 7, "kicked", "{\"reason\":\"line\\nbreak 会议\"}", 1000, &n->a);
    ev_put(tx, 1, 0, "joined", "{}", 1000, &n->b);
    ev_put(tx, 2, 9, "left", "{\"m\":2}", 5000, &n->c);
    ev_put(tx, 1, 8, "role-changed", "{\"role\":\"cohost\"}", 5000, &n->d);
}

static void events_read_body(store_tx *tx, void *arg)
{
    struct ev_nos *n = arg;
    struct ev_seen w = {0};
    assert_int_equal(store_events_since(tx, 1, 0, 100, ev_collect, &w), STORE_OK);
    /* One meeting's rows, in the order they were written, payloads whole. */
    assert_int_equal(w.n, 3);
    assert_true(w.no[0] == n->a && w.no[1] == n->b && w.no[2] == n->d);
    assert_true(n->a < n->b && n->b < n->d);
    assert_string_equal(w.type[0], "kicked");
    assert_string_equal(w.payload[0], "{\"reason\":\"line\\nbreak 会议\"}");
    assert_int_equal(w.device[0], 7);
    assert_int_equal(w.device[1], 0);
    assert_string_equal(w.type[2], "role-changed");
    /* After a number: only what follows it; a limit; a stop. */
    struct ev_seen after = {0};
    assert_int_equal(store_events_since(tx, 1, n->b, 100, ev_collect, &after), STORE_OK);
    assert_int_equal(after.n, 1);
    assert_int_equal(after.no[0], n->d);
    struct ev_seen lim = {0};
    assert_int_equal(store_events_since(tx, 1, 0, 1, ev_collect, &lim), STORE_OK);
    assert_int_equal(lim.n, 1);
    assert_int_equal(lim.no[0], n->a);
    struct ev_seen stop = {.stop_after = 2};
    assert_int_equal(store_events_since(tx, 1, 0, 100, ev_collect, &stop), STORE_STOP);
    assert_int_equal(stop.n, 2);
    /* Another meeting's rows are its own. */
    struct ev_seen other = {0};
    assert_int_equal(store_events_since(tx, 2, 0, 100, ev_collect, &other), STORE_OK);
    assert_int_equal(other.n, 1);
    assert_int_equal(other.no[0], n->c);
    int64_t last = -1;
    assert_int_equal(store_events_last(tx, 1, &last), STORE_OK);
    assert_int_equal(last, n->d);
    assert_int_equal(store_events_last(tx, 3, &last), STORE_OK);
    assert_int_equal(last, 0);
}

static void events_prune_body(store_tx *tx, void *arg)
{
    (void)arg;
    assert_int_equal(store_events_prune(tx, 2000), STORE_OK);
}

static void events_after_prune_body(store_tx *tx, void *arg)
{
    struct ev_nos *n = arg;
    struct ev_seen w = {0};
    assert_int_equal(store_events_since(tx, 1, 0, 100, ev_collect, &w), STORE_OK);
    assert_int_equal(w.n, 1);
    assert_int_equal(w.no[0], n->d);
}

static void events_refill_body(store_tx *tx, void *arg)
{
    struct ev_nos *n = arg;
    assert_int_equal(store_events_prune(tx, 9000), STORE_OK);
    int64_t last = -1;
    assert_int_equal(store_events_last(tx, 1, &last), STORE_OK);
    assert_int_equal(last, 0);
    /* A number is never handed out twice, even once every row is gone. */
    ev_put(tx, 1, 7, "left", "{}", 9500, &n->e);
    assert_true(n->e > n->d && n->e > n->c);
}

static void events_refused_in_read(store_tx *tx, void *arg)
{
    (void)arg;
    store_event e = {.meeting_id = 1, .created_at = 1};
    snprintf(e.type, sizeof e.type, "joined");
    assert_int_not_equal(store_event_insert(tx, &e, "{}"), STORE_OK);
}

static void test_events(void **state)
{
    fixture *f = *state;
    struct ev_nos n = {0};
    write_ok(f->s, events_fill_body, &n);
    read_ok(f->s, events_read_body, &n);
    write_ok(f->s, events_prune_body, NULL);
    read_ok(f->s, events_after_prune_body, &n);
    write_ok(f->s, events_refill_body, &n);
    struct body b = {events_refused_in_read, NULL};
    assert_int_not_equal(store_read(f->s, run_body, &b), STORE_OK);
}

/* Several meetings' rows, each above its own cursor, in one call. */
struct ev_many {
    int64_t m1[4];                  /* meeting 11's numbers, ascending */
    int64_t m2[2];                  /* meeting 12's */
    int64_t m3;                     /* meeting 13's */
};

static void events_many_fill_body(store_tx *tx, void *arg)
{
    struct ev_many *n = arg;
    /* Interleaved across meetings, as several meetings' writes commit. */
    ev_put(tx, 11, 1, "joined", "{\"i\":0}", 1000, &n->m1[0]);
    ev_put(tx, 12, 2, "joined", "{\"j\":0}", 1000, &n->m2[0]);
    ev_put(tx, 11, 1, "role-changed", "{\"i\":1}", 1000, &n->m1[1]);
    ev_put(tx, 13, 3, "kicked", "{\"k\":0}", 1000, &n->m3);
    ev_put(tx, 11, 4, "joined", "{\"i\":2}", 1000, &n->m1[2]);
    ev_put(tx, 12, 2, "left", "{\"j\":1}", 1000, &n->m2[1]);
    ev_put(tx, 11, 1, "kicked", "{\"i\":3}", 1000, &n->m1[3]);
}

static void events_many_read_body(store_tx *tx, void *arg)
{
    struct ev_many *n = arg;
    /* Different cursors, a meeting with no row (14), one whose cursor is at
     * its last row (13), given out of numeric order: each cursor's rows,
     * ascending, in the order of the cursors. */
    store_cursor c[] = {
        {12, 0}, {14, 0}, {11, n->m1[1]}, {13, n->m3},
    };
    struct ev_seen w = {0};
    assert_int_equal(store_events_since_many(tx, c, 4, 100, ev_collect, &w), STORE_OK);
    assert_int_equal(w.n, 4);
    assert_int_equal(w.meeting[0], 12);
    assert_int_equal(w.no[0], n->m2[0]);
    assert_int_equal(w.meeting[1], 12);
    assert_int_equal(w.no[1], n->m2[1]);
    assert_string_equal(w.type[1], "left");
    assert_string_equal(w.payload[1], "{\"j\":1}");
    assert_int_equal(w.device[1], 2);
    assert_int_equal(w.meeting[2], 11);
    assert_int_equal(w.no[2], n->m1[2]);
    assert_int_equal(w.meeting[3], 11);
    assert_int_equal(w.no[3], n->m1[3]);
    assert_string_equal(w.payload[3], "{\"i\":3}");

    /* The limit is each cursor's: two rows of 11, two of 12. */
    store_cursor all[] = {{11, 0}, {12, 0}, {13, 0}};
    struct ev_seen lim = {0};
    assert_int_equal(store_events_since_many(tx, all, 3, 2, ev_collect, &lim), STORE_OK);
    assert_int_equal(lim.n, 5);
    assert_true(lim.no[0] == n->m1[0] && lim.no[1] == n->m1[1]);
    assert_true(lim.no[2] == n->m2[0] && lim.no[3] == n->m2[1]);
    assert_int_equal(lim.no[4], n->m3);

    /* A meeting named twice is read twice, each from its own cursor. */
    store_cursor twice[] = {{13, 0}, {11, n->m1[2]}, {13, 0}};
    struct ev_seen tw = {0};
    assert_int_equal(store_events_since_many(tx, twice, 3, 100, ev_collect, &tw), STORE_OK);
    assert_int_equal(tw.n, 3);
    assert_true(tw.no[0] == n->m3 && tw.no[1] == n->m1[3] && tw.no[2] == n->m3);

    /* None: nothing listed; cursors on meetings without rows: the same. */
    struct ev_seen none = {0};
    assert_int_equal(store_events_since_many(tx, NULL, 0, 100, ev_collect, &none), STORE_OK);
    assert_int_equal(none.n, 0);
    store_cursor empty[] = {{14, 0}, {11, n->m1[3]}};
    assert_int_equal(store_events_since_many(tx, empty, 2, 100, ev_collect, &none), STORE_OK);
    assert_int_equal(none.n, 0);

    /* A stop ends the whole listing, not one cursor's. */
    struct ev_seen stop = {.stop_after = 3};
    assert_int_equal(store_events_since_many(tx, all, 3, 100, ev_collect, &stop), STORE_STOP);
    assert_int_equal(stop.n, 3);

    /* The same rows as one store_events_since per cursor. */
    struct ev_seen one = {0};
    for (size_t i = 0; i < 3; i++)
        assert_int_equal(store_events_since(tx, all[i].meeting_id, all[i].after, 100,
                                            ev_collect, &one), STORE_OK);
    struct ev_seen many = {0};
    assert_int_equal(store_events_since_many(tx, all, 3, 100, ev_collect, &many), STORE_OK);
    assert_int_equal(many.n, one.n);
    for (int i = 0; i < one.n; i++) {
        assert_int_equal(many.no[i], one.no[i]);
        assert_int_equal(many.meeting[i], one.meeting[i]);
        assert_string_equal(many.payload[i], one.payload[i]);
    }
}

static void events_many_bad_limit(store_tx *tx, void *arg)
{
    (void)arg;
    store_cursor c[] = {{11, 0}};
    struct ev_seen w = {0};
    assert_int_not_equal(store_events_since_many(tx, c, 1, 0, ev_collect, &w), STORE_OK);
    assert_int_equal(w.n, 0);
}

static void events_many_too_many(store_tx *tx, void *arg)
{
    (void)arg;
    store_cursor c[STORE_CURSORS_MAX + 1];
    for (size_t i = 0; i <= STORE_CURSORS_MAX; i++)
        c[i] = (store_cursor){11, 0};
    struct ev_seen w = {0};
    assert_int_not_equal(store_events_since_many(tx, c, STORE_CURSORS_MAX + 1, 1, ev_collect, &w),
                         STORE_OK);
    assert_int_equal(w.n, 0);
}

/* The most cursors one call takes, each read. */
struct ev_count {
    int rows;
};

static store_rc ev_count_row(const store_event *e, const char *payload, void *arg)
{
    (void)e;
    (void)payload;
    ((struct ev_count *)arg)->rows++;
    return STORE_OK;
}

static void events_many_full(store_tx *tx, void *arg)
{
    (void)arg;
    /* The widest numbers there are, in both lists: half the cursors on
     * meetings without rows, a quarter on 11 (4 rows), a quarter on 12 (2). */
    store_cursor c[STORE_CURSORS_MAX];
    for (size_t i = 0; i < STORE_CURSORS_MAX; i++)
        c[i] = i % 2 == 0 ? (store_cursor){INT64_MIN + (int64_t)i, INT64_MIN}
                          : (store_cursor){i % 4 == 1 ? 11 : 12, INT64_MIN + (int64_t)i};
    struct ev_count k = {0};
    assert_int_equal(store_events_since_many(tx, c, STORE_CURSORS_MAX, 1000, ev_count_row, &k),
                     STORE_OK);
    assert_int_equal(k.rows, STORE_CURSORS_MAX / 4 * 4 + STORE_CURSORS_MAX / 4 * 2);
}

static void test_events_since_many(void **state)
{
    fixture *f = *state;
    struct ev_many n = {0};
    write_ok(f->s, events_many_fill_body, &n);
    read_ok(f->s, events_many_read_body, &n);
    read_ok(f->s, events_many_full, NULL);
    struct body bad = {events_many_bad_limit, NULL};
    assert_int_not_equal(store_read(f->s, run_body, &bad), STORE_OK);
    struct body many = {events_many_too_many, NULL};
    assert_int_not_equal(store_read(f->s, run_body, &many), STORE_OK);
}

/* ---- concurrency ------------------------------------------------------------------------ */

#define N_WRITERS 4
#define N_READERS 10 /* more than the store keeps connections for */
#define PER_WRITER 200

struct worker {
    store *s;
    int id;
    int i;
    int errors;
    int *done;             /* set (atomically) when the writers are through */
};

static store_rc join_one(store_tx *tx, void *arg)
{
    struct worker *w = arg;
    char tag[32];
    snprintf(tag, sizeof tag, "w%d-%d", w->id, w->i);
    core_user u = mk_user(tag, "", tag);
    int rc = store_user_insert(tx, 1, &u);
    if (rc != STORE_OK)
        return rc;
    core_device d = mk_device(1, 0, u.user_no, 1, w->i, (unsigned)(w->id * 1000 + w->i));
    return store_device_insert(tx, &d);
}

static void *writer_main(void *arg)
{
    struct worker *w = arg;
    for (w->i = 0; w->i < PER_WRITER; w->i++)
        if (store_write(w->s, join_one, w) != 0)
            w->errors++;
    return NULL;
}

static store_rc nop_participant(const store_participant *u, void *arg)
{
    const store_participant *d = u;
    (void)d;
    (void)u;
    (void)arg;
    return STORE_OK;
}

/* Counts the sessions twice in one read: the snapshot must not move. */
static store_rc count_twice(store_tx *tx, void *arg)
{
    int64_t *n = arg;
    int rc = store_participants_list(tx, 1, -1, 0, 0, nop_participant, NULL, &n[0]);
    if (rc != STORE_OK)
        return rc;
    /* Give the writers time to commit between the two counts. */
    for (int i = 0; i < 50; i++)
        sched_yield();
    return store_participants_list(tx, 1, -1, 0, 0, nop_participant, NULL, &n[1]);
}

static void *reader_main(void *arg)
{
    struct worker *w = arg;
    int64_t last = 0;
    while (!__atomic_load_n(w->done, __ATOMIC_SEQ_CST)) {
        int64_t n[2] = {-1, -1};
        if (store_read(w->s, count_twice, n) != 0 || n[0] != n[1] || n[0] < last)
            w->errors++;
        last = n[0];
    }
    return NULL;
}

static void test_concurrent(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    int done = 0;
    struct worker ws[N_WRITERS], rs[N_READERS];
    pthread_t wt[N_WRITERS], rt[N_READERS];
    for (int i = 0; i < N_READERS; i++) {
        rs[i] = (struct worker){.s = f->s, .id = i, .done = &done};
        assert_int_equal(pthread_create(&rt[i], NULL, reader_main, &rs[i]), 0);
    }
    for (int i = 0; i < N_WRITERS; i++) {
        ws[i] = (struct worker){.s = f->s, .id = i, .done = &done};
        assert_int_equal(pthread_create(&wt[i], NULL, writer_main, &ws[i]), 0);
    }
    for (int i = 0; i < N_WRITERS; i++) {
        pthread_join(wt[i], NULL);
        assert_int_equal(ws[i].errors, 0);
    }
    __atomic_store_n(&done, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < N_READERS; i++) {
        pthread_join(rt[i], NULL);
        assert_int_equal(rs[i].errors, 0);
    }
    assert_int_equal(raw_count(f->data, "users"), N_WRITERS * PER_WRITER);
    assert_int_equal(raw_count(f->data, "devices"), N_WRITERS * PER_WRITER);
    int64_t n[2];
    assert_int_equal(store_read(f->s, count_twice, n), 0);
    assert_int_equal(n[0], N_WRITERS * PER_WRITER);
}

/* ---- group commit --------------------------------------------------------------------- */

struct group {
    store *s;
    int released;          /* the first job may finish (atomic) */
    pthread_t ran_on[6];   /* which thread ran each job's fn */
    int rc[6];
    const char *data;
    int64_t committed_at_5;   /* users committed when job 5 ran */
};

struct group_job {
    struct group *g;
    int i;
};

/* Job 0 holds the writer until released, so jobs 1..5 queue behind it and
 * must all run in the next batch, on the writer thread. Job 3 fails. */
static store_rc group_fn(store_tx *tx, void *arg)
{
    struct group_job *j = arg;
    __atomic_store_n(&j->g->ran_on[j->i], pthread_self(), __ATOMIC_SEQ_CST);
    while (j->i == 0 && !__atomic_load_n(&j->g->released, __ATOMIC_SEQ_CST))
        sched_yield();
    char tag[16];
    snprintf(tag, sizeof tag, "g%d", j->i);
    core_user u = mk_user(tag, "", tag);
    if (store_user_insert(tx, 1, &u) != STORE_OK)
        return STORE_ERROR;
    if (j->i == 4)   /* a fn may not write from inside a fn */
        return store_write(j->g->s, group_fn, arg) == STORE_ERROR ? STORE_OK : STORE_ERROR;
    if (j->i == 5)   /* what another connection sees: 1..4 are not committed yet */
        j->g->committed_at_5 = raw_count(j->g->data, "users");
    return j->i == 3 ? STORE_ROLLBACK : STORE_OK;
}

static void *group_main(void *arg)
{
    struct group_job *j = arg;
    j->g->rc[j->i] = store_write(j->g->s, group_fn, j);
    return NULL;
}

static void test_group_commit(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    struct group g = {.s = f->s, .data = f->data};
    struct group_job jobs[6];
    pthread_t t[6];
    for (int i = 0; i < 6; i++) {
        jobs[i] = (struct group_job){&g, i};
        assert_int_equal(pthread_create(&t[i], NULL, group_main, &jobs[i]), 0);
        if (i == 0)   /* job 0 is a batch of its own before the others arrive */
            while (__atomic_load_n(&g.ran_on[0], __ATOMIC_SEQ_CST) == 0)
                sched_yield();
    }
    while (store_write_queue(f->s) != 5)
        sched_yield();
    __atomic_store_n(&g.released, 1, __ATOMIC_SEQ_CST);
    for (int i = 0; i < 6; i++)
        pthread_join(t[i], NULL);

    assert_int_equal(g.rc[0], 0);
    assert_int_equal(g.rc[1], 0);
    assert_int_equal(g.rc[2], 0);
    assert_int_equal(g.rc[3], STORE_ROLLBACK); /* its own result, its work undone */
    assert_int_equal(g.rc[4], 0);
    assert_int_equal(g.rc[5], 0);
    for (int i = 1; i < 6; i++) {         /* the writer ran them all, no caller did */
        assert_true(pthread_equal(g.ran_on[i], g.ran_on[0]));
        assert_false(pthread_equal(g.ran_on[0], t[i]));
    }
    assert_int_equal(g.committed_at_5, 1);   /* g0's batch only: 1..5 share one */
    assert_int_equal(raw_count(f->data, "users"), 5);
    assert_int_equal(store_write_queue(f->s), 0);
}

/* ---- the keys' change stamp ------------------------------------------- */

static store_rc stamp_key_then_fail(store_tx *tx, void *arg)
{
    store_key k = mk_key("AKIDrolledback", (const char *)arg, 1);
    assert_int_equal(store_key_insert(tx, &k), STORE_OK);
    return STORE_ROLLBACK;   /* rolled back: nothing changed */
}

static void stamp_meeting_body(store_tx *tx, void *arg)
{
    static core_meeting m;
    mk_meeting(&m, (const char *)arg, 77, "777777777");
    assert_int_equal(store_meeting_insert(tx, &m), STORE_OK);
}

static void test_keys_stamp(void **state)
{
    fixture *f = *state;
    store_stamp s0, s1, s2;
    store_keys_stamp(f->s, &s0);
    write_ok(f->s, stamp_app_body, "app1");
    store_keys_stamp(f->s, &s1);
    assert_false(stamp_equal(&s0, &s1));
    /* Writes that change no app or key, and a rolled-back key, leave it. */
    write_ok(f->s, stamp_meeting_body, "app1");
    assert_int_equal(store_write(f->s, stamp_key_then_fail, "app1"), STORE_ROLLBACK);
    store_keys_stamp(f->s, &s2);
    assert_true(stamp_equal(&s1, &s2));
    /* Another process's change (meetd app) is seen too, at once: the
     * stamp is the same before it, and moved right after its commit. */
    store_close(f->s);
    f->s = open_store(f->data, STORE_DURABLE_FULL);
    store *other = open_store(f->data, STORE_DURABLE_FULL);
    store_keys_stamp(f->s, &s2);
    assert_true(stamp_equal(&s1, &s2));
    write_ok(other, stamp_app_body, "app2");
    store_keys_stamp(f->s, &s2);
    assert_false(stamp_equal(&s1, &s2));
    store_stamp s3;
    store_keys_stamp(other, &s3);
    assert_true(stamp_equal(&s2, &s3));
    store_close(other);
}

/* ---- webhook deliveries: leases ------------------------------------------ */

static int64_t lease_queue(store_tx *tx, int64_t webhook_id, int64_t due)
{
    store_delivery d = {.webhook_id = webhook_id, .created_at = due, .next_attempt_at = due};
    snprintf(d.app_id, sizeof d.app_id, "app1");
    snprintf(d.event, sizeof d.event, "meeting.participant-joined");
    assert_int_equal(store_outbox_insert(tx, &d, "{}"), STORE_OK);
    return d.delivery_id;
}

static store_rc count_due(const store_delivery *d, const store_webhook *w, void *arg)
{
    (void)d;
    (void)w;
    (*(int *)arg)++;
    return STORE_OK;
}

static void leases_body(store_tx *tx, void *arg)
{
    (void)arg;
    store_app a = mk_app("app1");
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
    store_webhook w = {.created_at = 1};
    snprintf(w.app_id, sizeof w.app_id, "app1");
    snprintf(w.url, sizeof w.url, "http://127.0.0.1:9/hook");
    assert_int_equal(store_webhook_insert(tx, &w), STORE_OK);
    int64_t d1 = lease_queue(tx, w.webhook_id, 1000);
    int64_t d2 = lease_queue(tx, w.webhook_id, 1000);
    int64_t later = lease_queue(tx, w.webhook_id, 3000);

    /* Not due yet: not claimable. */
    assert_int_equal(store_outbox_claim(tx, later, 7, 2000, 9000), STORE_NOTFOUND);
    /* Holder 7 leases d1 until 5000: nobody else has it meanwhile, and it
     * is not listed as due. */
    assert_int_equal(store_outbox_claim(tx, d1, 7, 2000, 5000), STORE_OK);
    assert_int_equal(store_outbox_claim(tx, d1, 8, 2500, 6000), STORE_NOTFOUND);
    assert_int_equal(store_outbox_claim(tx, d1, 7, 2500, 6000), STORE_NOTFOUND);
    int n = 0;
    assert_int_equal(store_outbox_due(tx, 4999, 10, count_due, &n), STORE_OK);
    assert_int_equal(n, 2);   /* d2 and `later` */
    int64_t at = 0;
    assert_int_equal(store_outbox_next_due(tx, 3000, &at), STORE_OK);
    assert_true(at == 5000);
    /* Only the holder's result counts. */
    assert_int_equal(store_outbox_delivered(tx, d1, 8, 3000, 200), STORE_NOTFOUND);
    assert_int_equal(store_outbox_delivered(tx, d1, 0, 3000, 200), STORE_NOTFOUND);
    assert_int_equal(store_outbox_delivered(tx, d1, 7, 3000, 200), STORE_OK);
    assert_int_equal(store_outbox_claim(tx, d1, 8, 9000, 12000), STORE_NOTFOUND);

    /* A lease that ended (its holder died) goes to the next claimant, and
     * the first holder's late result no longer counts. */
    assert_int_equal(store_outbox_claim(tx, d2, 7, 2000, 5000), STORE_OK);
    assert_int_equal(store_outbox_claim(tx, d2, 8, 5000, 8000), STORE_OK);
    assert_int_equal(store_outbox_retry(tx, d2, 7, 5100, 500, "HTTP 500"), STORE_NOTFOUND);
    assert_int_equal(store_outbox_failed(tx, d2, 7, 500, "HTTP 500"), STORE_NOTFOUND);
    /* A retry ends the lease: due again at its time, for anyone. */
    assert_int_equal(store_outbox_retry(tx, d2, 8, 6000, 500, "HTTP 500"), STORE_OK);
    assert_int_equal(store_outbox_claim(tx, d2, 9, 5999, 9000), STORE_NOTFOUND);
    assert_int_equal(store_outbox_claim(tx, d2, 9, 6000, 9000), STORE_OK);
    assert_int_equal(store_outbox_failed(tx, d2, 9, 500, "HTTP 500"), STORE_OK);
    assert_int_equal(store_outbox_claim(tx, d2, 9, 99000, 99999), STORE_NOTFOUND);

    /* Released by its holder (a stopping worker): due at once, for
     * anyone, no attempt counted; nobody else can release it. */
    assert_int_equal(store_outbox_claim(tx, later, 7, 3000, 9000), STORE_OK);
    assert_int_equal(store_outbox_release(tx, later, 8, 3500), STORE_NOTFOUND);
    assert_int_equal(store_outbox_release(tx, later, 7, 3500), STORE_OK);
    assert_int_equal(store_outbox_claim(tx, later, 8, 3500, 9000), STORE_OK);
    assert_int_equal(store_outbox_release(tx, d1, 7, 3500), STORE_NOTFOUND);   /* delivered */
}

static void test_outbox_leases(void **state)
{
    fixture *f = *state;
    write_ok(f->s, leases_body, NULL);
}

/* A read's nonce: spent at once where several processes serve the store,
 * nothing (the process's replay memory suffices) where one does. */
static void test_spend_now(void **state)
{
    fixture *f = *state;
    bool shared = strcmp(fixture_be->name, "sqlite") != 0;
    assert_int_equal(store_spend_now(f->s, "app1", 1000, 42, 900), STORE_OK);
    assert_int_equal(store_spend_now(f->s, "app1", 1000, 42, 900),
                     shared ? STORE_CONFLICT : STORE_OK);
    /* Another node (a second store on the same database) refuses it too. */
    store *other = open_store(f->data, STORE_DURABLE_FULL);
    assert_int_equal(store_spend_now(other, "app1", 1000, 42, 900),
                     shared ? STORE_CONFLICT : STORE_OK);
    assert_int_equal(store_spend_now(other, "app2", 1000, 42, 900), STORE_OK);
    assert_int_equal(store_spend_now(other, "app1", 1000, 43, 900), STORE_OK);
    store_close(other);
    assert_int_equal(raw_count(f->data, "spent_nonces"), shared ? 3 : 0);
}

/* A keys.stamp of an earlier meetd (one byte appended per change, so
 * possibly shorter than the counter) is taken over. */

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_meetings_of_user, setup, teardown),
        cmocka_unit_test_setup_teardown(test_apps_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_keys_stamp, setup, teardown),
        cmocka_unit_test_setup_teardown(test_outbox_leases, setup, teardown),
        cmocka_unit_test_setup_teardown(test_spend_now, setup, teardown),
        cmocka_unit_test_setup_teardown(test_app_delete_cascade, setup, teardown),
        cmocka_unit_test_setup_teardown(test_conflicts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meeting_roundtrip, setup, teardown),
        cmocka_unit_test_setup_teardown(test_meeting_insert_atomic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_writes_counted_by_origin, setup, teardown),
        cmocka_unit_test_setup_teardown(test_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(test_users, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices, setup, teardown),
        cmocka_unit_test_setup_teardown(test_devices_end_all, setup, teardown),
        cmocka_unit_test_setup_teardown(test_presence, setup, teardown),
        cmocka_unit_test_setup_teardown(test_participants, setup, teardown),
        cmocka_unit_test_setup_teardown(test_participants_deep_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_participants_far_pages, setup, teardown),
        cmocka_unit_test_setup_teardown(test_participants_filtered, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bans, setup, teardown),
        cmocka_unit_test_setup_teardown(test_audit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events, setup, teardown),
        cmocka_unit_test_setup_teardown(test_events_since_many, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit, setup, teardown),
    };
    return fixture_run_per_backend(tests, sizeof tests / sizeof tests[0]);
}
