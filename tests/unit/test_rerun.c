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

#include <cmocka.h>

#include "auth/apps.h"
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
    assert_int_equal(auth_app_create(s, "rerun", NULL, 1700000000, &app, &key), 0);
    /* What create handed back is what is stored: one app, one key. */
    assert_int_equal(raw_count(f->data, "apps"), 1);
    struct app_keys q = {.app_id = app.app_id};
    read_ok(s, app_keys_body, &q);
    assert_int_equal(q.app_rc, STORE_OK);
    assert_int_equal(q.seen.n, 1);
    assert_string_equal(q.seen.key.secret_id, key.secret_id);
    assert_string_equal(q.seen.key.secret_key, key.secret_key);

    store_key rotated;
    assert_int_equal(auth_app_rotate(s, app.app_id, 1700000001, &app, &rotated), 0);
    read_ok(s, app_keys_body, &q);
    assert_int_equal(q.seen.n, 1);
    assert_string_equal(q.seen.key.secret_id, rotated.secret_id);
    assert_string_equal(q.seen.key.secret_key, rotated.secret_key);
    assert_string_not_equal(rotated.secret_id, key.secret_id);

    assert_int_equal(auth_app_rotate(s, "no-such-app", 1700000002, &app, &rotated), 1);
    assert_int_equal(auth_app_delete(s, "no-such-app"), 1);
    assert_int_equal(auth_app_delete(s, app.app_id), 0);
    read_ok(s, app_keys_body, &q);
    assert_int_equal(q.app_rc, STORE_NOTFOUND);
    assert_int_equal(q.seen.n, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_queue_reruns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_auth_jobs_rerun, setup, teardown),
    };
    return fixture_run_per_backend(tests, sizeof tests / sizeof tests[0]);
}
