/* What the store's tests build with: apps, keys, meetings, users and
 * sessions, and the bodies several test programs run. */
#ifndef MEETD_TESTS_STORE_BUILDERS_H
#define MEETD_TESTS_STORE_BUILDERS_H

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "store_fixture.h"

static inline store_app mk_app(const char *app_id)
{
    store_app a;
    memset(&a, 0, sizeof a);
    snprintf(a.app_id, sizeof a.app_id, "%s", app_id);
    snprintf(a.sdk_id, sizeof a.sdk_id, "sdk-%s", app_id);
    snprintf(a.name, sizeof a.name, "App %s", app_id);
    a.created_at = 1700000000;
    return a;
}

static inline store_key mk_key(const char *secret_id, const char *app_id, int64_t created_at)
{
    store_key k;
    memset(&k, 0, sizeof k);
    snprintf(k.secret_id, sizeof k.secret_id, "%s", secret_id);
    snprintf(k.secret_key, sizeof k.secret_key, "sk-%s", secret_id);
    snprintf(k.app_id, sizeof k.app_id, "%s", app_id);
    k.created_at = created_at;
    return k;
}

static inline void mk_meeting(core_meeting *m, const char *app_id, int64_t id, const char *code)
{
    memset(m, 0, sizeof *m);
    m->meeting_id = id;
    snprintf(m->app_id, sizeof m->app_id, "%s", app_id);
    snprintf(m->meeting_code, sizeof m->meeting_code, "%s", code);
    snprintf(m->subject, sizeof m->subject, "Subject %" PRId64 " 会议", id);
    snprintf(m->creator_userid, sizeof m->creator_userid, "creator");
    m->creator_instanceid = 1;
    m->type = 0;
    m->meeting_type = 0;
    m->start_time = 1800000000;
    m->end_time = 1800003600;
    m->status = CORE_ST_INIT;
    m->created_at = 1700000000;
}

static inline core_user mk_user(const char *userid, const char *guest_id, const char *tag)
{
    core_user u;
    memset(&u, 0, sizeof u);
    snprintf(u.userid, sizeof u.userid, "%s", userid);
    snprintf(u.guest_id, sizeof u.guest_id, "%s", guest_id);
    snprintf(u.uuid, sizeof u.uuid, "uuid-%s", tag);
    snprintf(u.ms_open_id, sizeof u.ms_open_id, "ms-%s", tag);
    snprintf(u.nick_name, sizeof u.nick_name, "Nick %s", tag);
    return u;
}

static inline core_device mk_device(int64_t meeting_id, int64_t sub, int64_t user_no,
                                    int instanceid, int64_t join_time, unsigned token_seed)
{
    core_device d;
    memset(&d, 0, sizeof d);
    d.meeting_id = meeting_id;
    d.sub_meeting_id = sub;
    d.user_no = user_no;
    d.instanceid = instanceid;
    d.join_time = join_time;
    /* Distinct seeds give distinct tokens. */
    for (size_t i = 0; i < sizeof d.token_hash; i++)
        d.token_hash[i] = i < 4 ? (uint8_t)(token_seed >> (8 * i)) : (uint8_t)(i * 7u);
    return d;
}

/* A fresh app with one meeting (id, code) in one transaction. */
struct seed {
    const char *app_id;
    int64_t meeting_id;
    const char *code;
};

static inline void seed_body(store_tx *tx, void *arg)
{
    const struct seed *sd = arg;
    store_app a = mk_app(sd->app_id);
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
    core_meeting m;
    mk_meeting(&m, sd->app_id, sd->meeting_id, sd->code);
    assert_int_equal(store_meeting_insert(tx, &m), STORE_OK);
}

static inline void seed(store *s, const char *app_id, int64_t meeting_id, const char *code)
{
    struct seed sd = {app_id, meeting_id, code};
    write_ok(s, seed_body, &sd);
}

static inline void app_exists_body(store_tx *tx, void *arg)
{
    store_app a;
    assert_int_equal(store_app_get(tx, (const char *)arg, &a), STORE_OK);
    assert_string_equal(a.app_id, (const char *)arg);
}

static inline void app_insert_body(store_tx *tx, void *arg)
{
    store_app a = mk_app((const char *)arg);
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
}

static inline void app_delete_body(store_tx *tx, void *arg)
{
    assert_int_equal(store_app_delete(tx, (const char *)arg), STORE_OK);
}

#define SUB_A 1800000000
#define SUB_B 1800086400

/* A session of user <tag> (new) in meeting 1, occurrence sub. */
static inline core_device add_session(store_tx *tx, const char *tag, int64_t sub,
                                      int64_t join_time, unsigned token_seed)
{
    core_user u = mk_user(tag, "", tag);
    assert_int_equal(store_user_insert(tx, 1, &u), STORE_OK);
    core_device d = mk_device(1, sub, u.user_no, 1, join_time, token_seed);
    assert_int_equal(store_device_insert(tx, &d), STORE_OK);
    return d;
}

/* 25 sessions in meeting 1, three fifths in SUB_A; the fourth has left. */
static inline void participants_fill_body(store_tx *tx, void *arg)
{
    (void)arg;
    for (int i = 0; i < 25; i++) {
        char tag[8];
        snprintf(tag, sizeof tag, "p%02d", i);
        core_device d = add_session(tx, tag, i % 5 < 3 ? SUB_A : SUB_B, 1000 + i,
                                    100 + (unsigned)i);
        if (i == 3)
            assert_int_equal(store_device_end(tx, d.device_no, 2000, CORE_LEFT_LEAVE), STORE_OK);
    }
}

/* Pages far into a meeting (SQLite steps over what lies before them on
 * the index, from marks a stride apart): each page must be the same slice
 * of the whole list. */
#define DEEP_N 900

/* *arg sessions in meeting 1, every third in SUB_B, the rest in SUB_A. */
static inline void sessions_fill_body(store_tx *tx, void *arg)
{
    const int n = *(const int *)arg;
    for (int i = 0; i < n; i++) {
        char tag[16];
        snprintf(tag, sizeof tag, "q%04d", i);
        add_session(tx, tag, i % 3 == 0 ? SUB_B : SUB_A, 1000 + i, 5000 + (unsigned)i);
    }
}

/* Room for the sessions test_participants_walk adds. */
#define DEEP_CAP (DEEP_N + 8)

struct deep_list {
    int n;
    int64_t no[DEEP_CAP];
    char who[DEEP_CAP][16];
};

static inline store_rc deep_row(const store_participant *u, void *arg)
{
    const store_participant *d = u;
    struct deep_list *l = arg;
    assert_true(l->n < DEEP_CAP);
    l->no[l->n] = d->device_no;
    snprintf(l->who[l->n], sizeof l->who[0], "%.15s", u->userid);
    l->n++;
    return 0;
}

/* Sessions enough for pages jumped to far into a meeting: SQLite marks
 * every 1,024th position (JUMP_STRIDE; test_store_sqlite's jumps). */
#define JUMP_STRIDE 1024
#define JUMP_N (3 * JUMP_STRIDE + 300)

static inline void stamp_app_body(store_tx *tx, void *arg)
{
    store_app a = mk_app((const char *)arg);
    assert_int_equal(store_app_insert(tx, &a), STORE_OK);
}

static inline bool stamp_equal(const store_stamp *a, const store_stamp *b)
{
    return a->moves == b->moves && a->file == b->file;
}

#endif
