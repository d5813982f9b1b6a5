/* Jobs run more than once (store.h): a backend that cannot serialise a
 * batch rolls it back and runs every job again. store_options.rerun_jobs
 * makes every batch do so on any backend; here the queue's rerun itself,
 * and the jobs of src/auth under it: what they hand back must be what was
 * committed, the second run's, not the first's or a sum of both. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sched.h>
#include <time.h>

#include <cmocka.h>

#include "auth/apps.h"
#include "live/live.h"
#include "live/presence.h"
#include "store/store.h"
#include "store_builders.h"
#include "store_fixture.h"

static store *open_rerun(fixture *f)
{
    store_close(f->s);
    store_options opt = {.data_dir = f->data, .durability = STORE_DURABLE_FULL,
                         .backend = fixture_be->name, .conninfo = fixture_be->conninfo,
                         .rerun_jobs = true};
    f->s = NULL;
    assert_int_equal(store_open(&opt, &f->s), STORE_OK);
    return f->s;
}

/* A job that counts its runs and appends to a list: without a reset at
 * its start it would hand back both runs' rows. */
struct appender {
    int runs;
    int n;              /* reset by the job: rows this run inserted */
    int64_t rows[4];
};

static store_rc appender_job(store_tx *tx, void *arg)
{
    struct appender *a = arg;
    a->runs++;
    a->n = 0;
    for (int i = 0; i < 2; i++) {
        core_user u = mk_user("", "", i == 0 ? "first" : "second");
        snprintf(u.guest_id, sizeof u.guest_id, "g%d", i);
        store_rc rc = store_user_insert(tx, 1, &u);
        if (rc != STORE_OK)
            return rc;
        a->rows[a->n++] = u.user_no;
    }
    return STORE_OK;
}

static void users_counted(store_tx *tx, void *arg)
{
    const struct appender *a = arg;
    for (int i = 0; i < a->n; i++) {
        core_user u;
        assert_int_equal(store_user_by_no(tx, a->rows[i], &u), STORE_OK);
    }
}

static void test_queue_reruns(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    store *s = open_rerun(f);
    struct appender a = {0};
    /* The first run's inserts are undone before the second: no CONFLICT. */
    assert_int_equal(store_write(s, appender_job, &a), STORE_OK);
    assert_int_equal(a.runs, 2);
    assert_int_equal(a.n, 2);
    read_ok(s, users_counted, &a);
    assert_int_equal(raw_count(f->data, "users"), 2);
    /* A declined job runs twice too, and is undone both times. */
    struct appender b = {0};
    assert_int_equal(store_write(s, appender_job, &b), STORE_CONFLICT);
    assert_int_equal(b.runs, 2);
    assert_int_equal(raw_count(f->data, "users"), 2);
}

struct keys_seen {
    int n;
    store_key key;
};

static store_rc key_seen(const store_key *k, void *arg)
{
    struct keys_seen *ks = arg;
    ks->n++;
    ks->key = *k;
    return STORE_OK;
}

struct app_keys {
    const char *app_id;
    struct keys_seen seen;
    store_rc app_rc;
};

static void app_keys_body(store_tx *tx, void *arg)
{
    struct app_keys *q = arg;
    store_app app;
    q->seen.n = 0;
    q->app_rc = store_app_get(tx, q->app_id, &app);
    assert_int_equal(store_key_list(tx, q->app_id, key_seen, &q->seen), STORE_OK);
}

static void test_auth_jobs_rerun(void **state)
{
    fixture *f = *state;
    store *s = open_rerun(f);
    store_app app;
    store_key key;
    assert_int_equal(auth_app_create(s, "rerun", NULL, 1700000000, &app, &key), STORE_OK);
    /* What create handed back is what is stored: one app, one key. */
    assert_int_equal(raw_count(f->data, "apps"), 1);
    struct app_keys q = {.app_id = app.app_id};
    read_ok(s, app_keys_body, &q);
    assert_int_equal(q.app_rc, STORE_OK);
    assert_int_equal(q.seen.n, 1);
    assert_string_equal(q.seen.key.secret_id, key.secret_id);
    assert_string_equal(q.seen.key.secret_key, key.secret_key);

    store_key rotated;
    assert_int_equal(auth_app_rotate(s, app.app_id, 1700000001, &app, &rotated), STORE_OK);
    read_ok(s, app_keys_body, &q);
    assert_int_equal(q.seen.n, 1);
    assert_string_equal(q.seen.key.secret_id, rotated.secret_id);
    assert_string_equal(q.seen.key.secret_key, rotated.secret_key);
    assert_string_not_equal(rotated.secret_id, key.secret_id);

    assert_int_equal(auth_app_rotate(s, "no-such-app", 1700000002, &app, &rotated),
                     STORE_NOTFOUND);
    assert_int_equal(auth_app_delete(s, "no-such-app"), STORE_NOTFOUND);
    assert_int_equal(auth_app_delete(s, app.app_id), STORE_OK);
    read_ok(s, app_keys_body, &q);
    assert_int_equal(q.app_rc, STORE_NOTFOUND);
    assert_int_equal(q.seen.n, 0);
}

/* The presence jobs (presence.c: the queued opens and closes, the
 * heartbeat and sweep, each time-out) run twice per batch: each device is
 * ended once, with one leave recorded. */
struct two_devices {
    core_device d[2];
    int64_t left[2];
};

static void two_devices_body(store_tx *tx, void *arg)
{
    struct two_devices *t = arg;
    for (int i = 0; i < 2; i++) {
        core_user u = mk_user("", i == 0 ? "ga" : "gb", i == 0 ? "a" : "b");
        assert_int_equal(store_user_insert(tx, 1, &u), STORE_OK);
        t->d[i] = mk_device(1, 0, u.user_no, 1, 100, 70 + (unsigned)i);
        assert_int_equal(store_device_insert(tx, &t->d[i]), STORE_OK);
    }
    /* Device 0: its stream went on a node long gone, its grace over. */
    assert_int_equal(store_stream_attach(tx, t->d[0].device_no, 7, 0, NULL), STORE_OK);
    assert_int_equal(store_stream_detach(tx, t->d[0].device_no, 7, 1), STORE_OK);
}

static void two_left_body(store_tx *tx, void *arg)
{
    struct two_devices *t = arg;
    for (int i = 0; i < 2; i++) {
        core_device d;
        assert_int_equal(store_device_get(tx, t->d[i].device_no, &d), STORE_OK);
        t->left[i] = d.left_time != 0 ? d.left_reason : 0;
    }
}

static void test_presence_jobs_rerun(void **state)
{
    fixture *f = *state;
    store *s = open_rerun(f);
    seed(s, "app1", 1, "000000001");
    struct two_devices t;
    write_ok(s, two_devices_body, &t);
    presence *p = NULL;
    presence_config pc = {.grace_ms = 100, .tick_ms = 20};
    assert_int_equal(presence_new(s, NULL, &pc, &p), 0);
    live_config lc = {.heartbeat_ms = 1000000};
    live_hub *h = NULL;
    assert_int_equal(live_hub_new(&lc, s, presence_note, p, &h), 0);
    assert_int_equal(presence_start(p, h, ""), 0);
    /* Device 1 streams, then its client goes. */
    live_stream *st = NULL;
    assert_int_equal(live_stream_open(h, t.d[1].device_no, t.d[1].token_hash, &st),
                     LIVE_OPEN_OK);
    live_stream_close(st);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        read_ok(s, two_left_body, &t);
        if (t.left[0] != 0 && t.left[1] != 0)
            break;
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - t0.tv_sec > 10)
            fail_msg("the time-outs never happened");
        sched_yield();
    }
    assert_int_equal(t.left[0], CORE_LEFT_TIMEOUT);
    assert_int_equal(t.left[1], CORE_LEFT_TIMEOUT);
    live_hub_shutdown(h);
    presence_stop(p);
    live_hub_free(h);
    presence_free(p);
    /* One leave each: the events table holds exactly two rows. */
    assert_int_equal(raw_count(f->data, "events"), 2);
    assert_int_equal(raw_count(f->data, "nodes"), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_queue_reruns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_jobs_rerun, setup, teardown),
        cmocka_unit_test_setup_teardown(test_presence_jobs_rerun, setup, teardown),
    };
    return fixture_run_per_backend(tests, sizeof tests / sizeof tests[0]);
}
