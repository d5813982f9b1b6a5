/* The PostgreSQL backend's own promises, beyond the store contract
 * (test_store_contract.c runs that against it): what a node does when its
 * connections to PostgreSQL are lost (src/store/postgres/pgsql.c).
 *
 * Runs against CTest's fixture `postgres` (MEETD_TEST_POSTGRES), on a
 * database of its own; connections are cut with pg_terminate_backend from a
 * connection of the test's own. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>
#include <libpq-fe.h>

#include "store/store.h"
#include "store_builders.h"
#include "store_fixture.h"

static const char *conninfo(void)
{
    return fixture_be->conninfo;
}

/* Runs sql on a connection of the test's own; returns the first value of
 * its first row ("" when none), in buf. */
static const char *side_sql(const char *sql, char *buf, size_t n)
{
    PGconn *pg = PQconnectdb(conninfo());
    assert_int_equal(PQstatus(pg), CONNECTION_OK);
    PGresult *r = PQexec(pg, sql);
    ExecStatusType st = PQresultStatus(r);
    if (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)
        fail_msg("%s: %s", sql, PQerrorMessage(pg));
    snprintf(buf, n, "%s", st == PGRES_TUPLES_OK && PQntuples(r) > 0 ? PQgetvalue(r, 0, 0) : "");
    PQclear(r);
    PQfinish(pg);
    return buf;
}

/* Ends every connection meetd's store has to the test's database. */
static int terminate_store_connections(const char *extra_where)
{
    char sql[512], buf[32];
    snprintf(sql, sizeof sql,
             "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
             "WHERE datname = current_database() AND application_name = 'meetd' %s",
             extra_where);
    return atoi(side_sql(sql, buf, sizeof buf));
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static store_rc insert_app(store_tx *tx, void *arg)
{
    store_app a = mk_app((const char *)arg);
    return store_app_insert(tx, &a);
}

static store_rc count_apps(store_tx *tx, void *arg)
{
    return store_app_count(tx, (int64_t *)arg);
}

/* A server restarted between two requests (every connection of the node
 * cut while idle): the next write and the next read connect again and
 * succeed, with nothing lost. */
static void test_connections_cut_while_idle(void **state)
{
    fixture *f = *state;
    assert_int_equal(store_write(f->s, insert_app, "app1"), STORE_OK);
    int64_t n = 0;
    assert_int_equal(store_read(f->s, count_apps, &n), STORE_OK);
    assert_true(terminate_store_connections("") >= 2);   /* the writer and a reader */
    assert_int_equal(store_write(f->s, insert_app, "app2"), STORE_OK);
    assert_int_equal(store_read(f->s, count_apps, &n), STORE_OK);
    assert_int_equal(n, 2);
    store_stamp s1, s2;
    store_keys_stamp(f->s, &s1);
    assert_int_equal(store_write(f->s, insert_app, "app3"), STORE_OK);
    store_keys_stamp(f->s, &s2);
    assert_true(s1.moves != s2.moves);
}

/* The connection is lost in the middle of a job: the caller hears that
 * the store is out of reach, nothing of the job is stored, and the next
 * write connects again. */
static store_rc insert_then_lose(store_tx *tx, void *arg)
{
    store_rc rc = insert_app(tx, arg);
    assert_int_equal(rc, STORE_OK);
    /* This job's own connection: the one idle inside a transaction. */
    assert_int_equal(terminate_store_connections("AND state = 'idle in transaction'"), 1);
    return STORE_OK;
}

static void test_connection_lost_inside_a_job(void **state)
{
    fixture *f = *state;
    assert_int_equal(store_write(f->s, insert_then_lose, "lost"), STORE_UNAVAILABLE);
    assert_int_equal(raw_count(f->data, "apps"), 0);
    assert_int_equal(store_write(f->s, insert_app, "app1"), STORE_OK);
    assert_int_equal(raw_count(f->data, "apps"), 1);
}

/* The connection is lost while COMMIT runs (a deferred trigger holds the
 * commit for a while; the test cuts the connection then): the writer asks
 * the server what became of the transaction before answering. It was
 * aborted, so the caller hears of a failure, and the row is not there. */
struct killer {
    int killed;
};

static void *kill_during_commit(void *arg)
{
    struct killer *k = arg;
    char buf[32];
    for (int i = 0; i < 1000 && k->killed == 0; i++) {
        k->killed = atoi(side_sql(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND application_name = 'meetd' "
            "AND query = 'COMMIT' AND wait_event = 'PgSleep'",
            buf, sizeof buf));
        if (k->killed == 0)
            sleep_ms(10);
    }
    return NULL;
}

static void test_connection_lost_during_commit(void **state)
{
    fixture *f = *state;
    char buf[8];
    side_sql("CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS "
             "$$ BEGIN PERFORM pg_sleep(5); RETURN NULL; END $$",
             buf, sizeof buf);
    side_sql("CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT ON apps "
             "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()",
             buf, sizeof buf);
    struct killer k = {0};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, kill_during_commit, &k), 0);
    store_rc rc = store_write(f->s, insert_app, "slow");
    pthread_join(t, NULL);
    assert_int_equal(k.killed, 1);
    assert_int_equal(rc, STORE_UNAVAILABLE);
    assert_int_equal(raw_count(f->data, "apps"), 0);
    side_sql("DROP TRIGGER slow_commit ON apps", buf, sizeof buf);
    assert_int_equal(store_write(f->s, insert_app, "app1"), STORE_OK);
    assert_int_equal(raw_count(f->data, "apps"), 1);
}

/* Two nodes lock two meetings in opposite orders: PostgreSQL breaks the
 * deadlock by failing one transaction (40P01), and that node runs its batch
 * again from the start (queue.c), so both writes succeed; the job of the
 * retried one ran twice. */
struct crossing {
    store *s;
    int64_t first, second;
    int *locked;          /* jobs holding their first meeting (atomic) */
    int runs;             /* times this job's fn ran */
    store_rc rc;
};

static store_rc lock_both(store_tx *tx, void *arg)
{
    struct crossing *x = arg;
    __atomic_add_fetch(&x->runs, 1, __ATOMIC_SEQ_CST);
    core_meeting *m = calloc(1, sizeof *m);
    assert_non_null(m);
    store_rc rc = store_meeting_get(tx, "app1", x->first, m);
    if (rc == STORE_OK && x->runs == 1) {
        /* Both hold their first row before either asks for its second. */
        __atomic_add_fetch(x->locked, 1, __ATOMIC_SEQ_CST);
        for (int i = 0; i < 2000 && __atomic_load_n(x->locked, __ATOMIC_SEQ_CST) < 2; i++)
            sleep_ms(5);
    }
    if (rc == STORE_OK)
        rc = store_meeting_get(tx, "app1", x->second, m);
    free(m);
    return rc;
}

static void *crossing_main(void *arg)
{
    struct crossing *x = arg;
    x->rc = store_write(x->s, lock_both, x);
    return NULL;
}

static void test_deadlock_between_nodes_is_retried(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    char buf[8];
    side_sql("INSERT INTO meetings SELECT 2, app_id, '000000002', subject, creator_userid, "
             "creator_instanceid, type, meeting_type, start_time, end_time, status, "
             "recurring_type, until_type, until_count, until_date, created_at "
             "FROM meetings WHERE meeting_id = 1", buf, sizeof buf);
    store *other = open_store(f->data, STORE_DURABLE_FULL);   /* a second node */
    int locked = 0;
    struct crossing a = {.s = f->s, .first = 1, .second = 2, .locked = &locked};
    struct crossing b = {.s = other, .first = 2, .second = 1, .locked = &locked};
    pthread_t ta, tb;
    assert_int_equal(pthread_create(&ta, NULL, crossing_main, &a), 0);
    assert_int_equal(pthread_create(&tb, NULL, crossing_main, &b), 0);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    store_close(other);
    assert_int_equal(locked, 2);
    assert_int_equal(a.rc, STORE_OK);
    assert_int_equal(b.rc, STORE_OK);
    /* One of them ran again: at least once more than the two first runs
     * (a busy machine may add a rerun: a connection the server ended
     * between tests is found lost at the next BEGIN, and that batch runs
     * again too). */
    assert_true(a.runs + b.runs >= 3);
}

/* One node's writers (queue.c's lanes, 4 by default) run writes keyed by
 * different meetings in parallel. A job that locks a meeting besides its
 * own may meet another writer's job doing the opposite: the deadlock is
 * broken by PostgreSQL (40P01), that writer's batch runs again, and both
 * writes succeed. Keys 1 and 2 fall in different lanes of 4. */
struct keyed_done {
    int done;             /* set once the callback ran (atomic) */
    store_rc rc;
};

static void keyed_done_cb(void *arg, store_rc rc)
{
    struct keyed_done *d = arg;
    d->rc = rc;
    __atomic_store_n(&d->done, 1, __ATOMIC_SEQ_CST);
}

static void test_deadlock_between_writers_is_retried(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    char buf[8];
    side_sql("INSERT INTO meetings SELECT 2, app_id, '000000002', subject, creator_userid, "
             "creator_instanceid, type, meeting_type, start_time, end_time, status, "
             "recurring_type, until_type, until_count, until_date, created_at "
             "FROM meetings WHERE meeting_id = 1", buf, sizeof buf);
    int locked = 0;
    struct crossing a = {.s = f->s, .first = 1, .second = 2, .locked = &locked};
    struct crossing b = {.s = f->s, .first = 2, .second = 1, .locked = &locked};
    struct keyed_done da = {0}, db = {0};
    assert_int_equal(store_write_async_key(f->s, 1, lock_both, &a, keyed_done_cb, &da), STORE_OK);
    assert_int_equal(store_write_async_key(f->s, 2, lock_both, &b, keyed_done_cb, &db), STORE_OK);
    for (int i = 0; i < 3000 && !(__atomic_load_n(&da.done, __ATOMIC_SEQ_CST) &&
                                 __atomic_load_n(&db.done, __ATOMIC_SEQ_CST));
         i++)
        sleep_ms(10);
    assert_true(da.done && db.done);
    assert_int_equal(locked, 2);
    assert_int_equal(da.rc, STORE_OK);
    assert_int_equal(db.rc, STORE_OK);
    /* The deadlock happened (one writer would have run the two in turn,
     * each once) and was a rerun. */
    assert_true(a.runs + b.runs >= 3);
}

/* A job that changes devices of a meeting without holding it (the
 * presence thread's batch of stream closes) against a kickout, which holds
 * its meeting and then its devices' rows, on two writers of one node. The
 * batch takes D2's row, the kickout the meeting and D1's; each then wants
 * the other's: a deadlock that PostgreSQL sees only after deadlock_timeout
 * (a second), breaking it by failing one batch. With the meetings locked
 * first (store_meetings_lock_of_devices) the batch holds the meeting
 * before any row, the kickout waits for it there, and each runs once. */
struct streams_pair {
    int round;            /* new users and devices each round */
    int64_t d1, d2;
};

static void two_streams_body(store_tx *tx, void *arg)
{
    struct streams_pair *sp = arg;
    store_node n = {.node_id = 77, .started_at = 1, .heartbeat_at = 1};
    assert_int_equal(store_node_register(tx, &n), STORE_OK);
    int64_t *no[2] = {&sp->d1, &sp->d2};
    for (int i = 0; i < 2; i++) {
        char tag[8];
        snprintf(tag, sizeof tag, "s%d-%d", sp->round, i);
        core_user u = mk_user("", tag, tag);
        assert_int_equal(store_user_insert(tx, 1, &u), STORE_OK);
        core_device d = mk_device(1, 0, u.user_no, 1, 100, 70 + 2 * (unsigned)sp->round + (unsigned)i);
        assert_int_equal(store_device_insert(tx, &d), STORE_OK);
        assert_int_equal(store_stream_attach(tx, d.device_no, 77, 0, NULL), STORE_OK);
        *no[i] = d.device_no;
    }
}

struct order_race {
    const struct streams_pair *sp;
    bool lock_first;      /* the closes take the meetings' locks first */
    int a_holds, b_holds; /* atomic: each job holds its first row */
    int a_runs, b_runs;
};

/* Waits (bounded) for *flag; false when it never came. */
static bool wait_flag(const int *flag, int ms)
{
    for (int i = 0; i < ms / 5; i++) {
        if (__atomic_load_n(flag, __ATOMIC_SEQ_CST))
            return true;
        sleep_ms(5);
    }
    return false;
}

static store_rc closes_job(store_tx *tx, void *arg)
{
    struct order_race *x = arg;
    int run = __atomic_add_fetch(&x->a_runs, 1, __ATOMIC_SEQ_CST);
    int64_t devs[2] = {x->sp->d2, x->sp->d1};
    store_rc rc = x->lock_first ? store_meetings_lock_of_devices(tx, devs, 2) : STORE_OK;
    if (rc == STORE_OK)
        rc = store_stream_detach(tx, x->sp->d2, 77, 5000);
    if (rc == STORE_OK && run == 1) {
        __atomic_store_n(&x->a_holds, 1, __ATOMIC_SEQ_CST);
        /* The kickout takes its rows now, unless it waits for ours. */
        (void)wait_flag(&x->b_holds, 1000);
    }
    if (rc == STORE_OK)
        rc = store_stream_detach(tx, x->sp->d1, 77, 5000);
    return rc;
}

static store_rc kickout_job(store_tx *tx, void *arg)
{
    struct order_race *x = arg;
    int run = __atomic_add_fetch(&x->b_runs, 1, __ATOMIC_SEQ_CST);
    core_meeting *m = calloc(1, sizeof *m);
    assert_non_null(m);
    store_rc rc = store_meeting_get(tx, "app1", 1, m);
    free(m);
    if (rc == STORE_OK)
        rc = store_device_end(tx, x->sp->d1, 200, CORE_LEFT_KICKED);
    if (rc == STORE_OK && run == 1)
        __atomic_store_n(&x->b_holds, 1, __ATOMIC_SEQ_CST);
    if (rc == STORE_OK)
        rc = store_device_end(tx, x->sp->d2, 200, CORE_LEFT_KICKED);
    return rc;
}

static void order_race_run(fixture *f, struct order_race *x)
{
    struct keyed_done da = {0}, db = {0};
    /* Key 0 (the presence thread's writes) and key 1 fall in different
     * lanes of 4. */
    assert_int_equal(store_write_async_key(f->s, 0, closes_job, x, keyed_done_cb, &da), STORE_OK);
    assert_true(wait_flag(&x->a_holds, 10000));
    assert_int_equal(store_write_async_key(f->s, 1, kickout_job, x, keyed_done_cb, &db), STORE_OK);
    assert_true(wait_flag(&da.done, 30000) && wait_flag(&db.done, 30000));
    assert_int_equal(da.rc, STORE_OK);
    assert_int_equal(db.rc, STORE_OK);
}

static void test_device_changes_lock_meetings_first(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    struct streams_pair sp = {.round = 0};
    write_ok(f->s, two_streams_body, &sp);
    /* Without the meetings' locks: the deadlock, and a batch run again
     * (which shows the race below is the one meant). */
    struct order_race x = {.sp = &sp, .lock_first = false};
    order_race_run(f, &x);
    assert_true(x.a_runs + x.b_runs >= 3);
    /* Two new streaming devices, then with the locks: each job once. */
    sp.round = 1;
    write_ok(f->s, two_streams_body, &sp);
    struct order_race y = {.sp = &sp, .lock_first = true};
    order_race_run(f, &y);
    assert_int_equal(y.a_runs, 1);
    assert_int_equal(y.b_runs, 1);
}

/* A node's clean stop detaches every device streaming on it, of any
 * meeting, in one statement; a kickout holds its meeting, then ends its
 * devices one by one. The stop takes the meetings first: it waits for the
 * kickout there, rather than holding one of the rows the kickout wants
 * next. Both orders of the kickout's two devices, since which row the
 * stop's statement would reach first is the server's choice. */
struct stop_race {
    const struct streams_pair *sp;
    bool d2_first;
    int b_holds;          /* atomic */
    int a_runs, b_runs;
};

static store_rc node_stop_job(store_tx *tx, void *arg)
{
    struct stop_race *x = arg;
    __atomic_add_fetch(&x->a_runs, 1, __ATOMIC_SEQ_CST);
    return store_node_stop(tx, 77, 5000);
}

static store_rc kick_two_job(store_tx *tx, void *arg)
{
    struct stop_race *x = arg;
    int run = __atomic_add_fetch(&x->b_runs, 1, __ATOMIC_SEQ_CST);
    core_meeting *m = calloc(1, sizeof *m);
    assert_non_null(m);
    store_rc rc = store_meeting_get(tx, "app1", 1, m);
    free(m);
    int64_t first = x->d2_first ? x->sp->d2 : x->sp->d1;
    int64_t second = x->d2_first ? x->sp->d1 : x->sp->d2;
    if (rc == STORE_OK)
        rc = store_device_end(tx, first, 200, CORE_LEFT_KICKED);
    if (rc == STORE_OK && run == 1) {
        __atomic_store_n(&x->b_holds, 1, __ATOMIC_SEQ_CST);
        /* Time for the stop's statement to start (the stop is queued once
         * this row is held); what is asserted does not depend on it: with
         * the meetings locked first the stop waits for this job whatever
         * the timing, and only without them does this let it deadlock. */
        sleep_ms(300);
    }
    if (rc == STORE_OK)
        rc = store_device_end(tx, second, 200, CORE_LEFT_KICKED);
    return rc;
}

static void test_node_stop_locks_meetings_first(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    for (int round = 0; round < 2; round++) {
        struct streams_pair sp = {.round = round};
        write_ok(f->s, two_streams_body, &sp);
        struct stop_race x = {.sp = &sp, .d2_first = round == 1};
        struct keyed_done da = {0}, db = {0};
        assert_int_equal(store_write_async_key(f->s, 1, kick_two_job, &x, keyed_done_cb, &db),
                         STORE_OK);
        assert_true(wait_flag(&x.b_holds, 10000));
        assert_int_equal(store_write_async_key(f->s, 0, node_stop_job, &x, keyed_done_cb, &da),
                         STORE_OK);
        assert_true(wait_flag(&da.done, 30000) && wait_flag(&db.done, 30000));
        assert_int_equal(da.rc, STORE_OK);
        assert_int_equal(db.rc, STORE_OK);
        assert_int_equal(x.a_runs, 1);
        assert_int_equal(x.b_runs, 1);
    }
}

/* Two nodes, one writer each, each with a batch of two writes keyed by
 * meetings 1 and 2, queued in opposite orders. Each job locks its own
 * meeting only, as the API's do. Were the meetings locked as the jobs read
 * them, the first job on each node would hold one meeting and the second
 * wait for the other's: a deadlock, a batch run again. The batch takes
 * its jobs' meetings when it begins, in ascending order: the second node's
 * batch waits there, and every job runs once. */
struct gate {
    int running, open;    /* atomic */
};

static store_rc gate_job(store_tx *tx, void *arg)
{
    (void)tx;
    struct gate *g = arg;
    __atomic_store_n(&g->running, 1, __ATOMIC_SEQ_CST);
    assert_true(wait_flag(&g->open, 10000));
    return STORE_OK;
}

struct own_meeting {
    int64_t id;
    int *held;            /* first jobs holding their meeting (atomic) */
    bool first;           /* the first of its batch */
    int runs;
};

static store_rc own_meeting_job(store_tx *tx, void *arg)
{
    struct own_meeting *o = arg;
    int run = __atomic_add_fetch(&o->runs, 1, __ATOMIC_SEQ_CST);
    core_meeting *m = calloc(1, sizeof *m);
    assert_non_null(m);
    store_rc rc = store_meeting_get(tx, "app1", o->id, m);
    free(m);
    if (rc == STORE_OK && o->first && run == 1) {
        /* Both first jobs hold their meeting before either second job
         * asks, unless the other batch waits for this one. */
        __atomic_add_fetch(o->held, 1, __ATOMIC_SEQ_CST);
        for (int i = 0; i < 200 && __atomic_load_n(o->held, __ATOMIC_SEQ_CST) < 2; i++)
            sleep_ms(5);
    }
    return rc;
}

static void test_batches_lock_their_meetings_in_order(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 1, "000000001");
    char buf[8];
    side_sql("INSERT INTO meetings SELECT 2, app_id, '000000002', subject, creator_userid, "
             "creator_instanceid, type, meeting_type, start_time, end_time, status, "
             "recurring_type, until_type, until_count, until_date, created_at "
             "FROM meetings WHERE meeting_id = 1", buf, sizeof buf);
    store *node[2];
    for (int n = 0; n < 2; n++) {
        store_options opt = {.data_dir = f->data, .durability = STORE_DURABLE_FULL,
                             .backend = fixture_be->name, .conninfo = fixture_be->conninfo,
                             .writers = 1};
        assert_int_equal(store_open(&opt, &node[n]), STORE_OK);
    }
    int held = 0;
    struct gate g[2] = {{0}, {0}};
    struct keyed_done gd[2] = {{0}}, d[2][2] = {{{0}}};
    struct own_meeting o[2][2] = {
        {{.id = 1, .held = &held, .first = true}, {.id = 2, .held = &held}},
        {{.id = 2, .held = &held, .first = true}, {.id = 1, .held = &held}},
    };
    /* The gate holds each node's writer, so that its two jobs queue into
     * one batch behind it. */
    for (int n = 0; n < 2; n++) {
        assert_int_equal(store_write_async_key(node[n], 0, gate_job, &g[n], keyed_done_cb, &gd[n]),
                         STORE_OK);
        assert_true(wait_flag(&g[n].running, 10000));
        for (int k = 0; k < 2; k++)
            assert_int_equal(store_write_async_key(node[n], o[n][k].id, own_meeting_job,
                                                   &o[n][k], keyed_done_cb, &d[n][k]),
                             STORE_OK);
    }
    for (int n = 0; n < 2; n++)
        __atomic_store_n(&g[n].open, 1, __ATOMIC_SEQ_CST);
    for (int n = 0; n < 2; n++)
        for (int k = 0; k < 2; k++) {
            assert_true(wait_flag(&d[n][k].done, 30000));
            assert_int_equal(d[n][k].rc, STORE_OK);
        }
    for (int n = 0; n < 2; n++) {
        assert_true(wait_flag(&gd[n].done, 30000));
        store_close(node[n]);
    }
    for (int n = 0; n < 2; n++)
        for (int k = 0; k < 2; k++)
            assert_int_equal(o[n][k].runs, 1);
}

/* ---- the change feed (store.h "changes made by any node") ---------------- */

typedef struct named {
    int64_t ids[16];
    int n;
} named;

static void note_change(int64_t meeting_id, void *arg)
{
    named *w = arg;
    if (w->n < 16)
        w->ids[w->n++] = meeting_id;
}

typedef struct event_job {
    const char *app_id;
    int64_t meeting_id;
    bool undo;                 /* roll this job back */
} event_job;

static store_rc insert_event(store_tx *tx, void *arg)
{
    const event_job *j = arg;
    core_meeting m;
    store_rc rc = store_meeting_get(tx, j->app_id, j->meeting_id, &m);
    store_event e = {.meeting_id = j->meeting_id, .device_no = 0, .created_at = 1};
    snprintf(e.type, sizeof e.type, "joined");
    if (rc == STORE_OK)
        rc = store_event_insert(tx, &e, "{}");
    return rc == STORE_OK && j->undo ? STORE_ROLLBACK : rc;
}

/* Waits (bounded) until the feed has named something or said resync. */
static void wait_feed(store_changes *c, named *w, bool *resync)
{
    *resync = false;
    for (int i = 0; i < 50 && w->n == 0 && !*resync; i++) {
        bool r = false;
        store_changes_wait(c, 100, note_change, w, &r);
        *resync = *resync || r;
    }
}

/* Only a committed event names its meeting; a rolled-back job's says
 * nothing; a cut listener reconnects and says resync. */
static void test_change_feed_names_committed_meetings(void **state)
{
    fixture *f = *state;
    seed(f->s, "app1", 501, "000000501");
    seed(f->s, "app2", 502, "000000502");
    store_changes *c = NULL;
    assert_int_equal(store_changes_open(f->s, &c), STORE_OK);
    named w = {0};
    bool resync = false;
    wait_feed(c, &w, &resync);             /* the first connection */
    assert_true(resync);
    assert_int_equal(w.n, 0);

    event_job undone = {"app1", 501, true}, kept = {"app2", 502, false};
    assert_int_equal(store_write(f->s, insert_event, &undone), STORE_ROLLBACK);
    assert_int_equal(store_write(f->s, insert_event, &kept), STORE_OK);
    wait_feed(c, &w, &resync);
    assert_false(resync);
    assert_int_equal(w.n, 1);
    assert_int_equal(w.ids[0], 502);

    /* Cut: the wait that notices says so, the next reconnects: resync. */
    char buf[32];
    assert_string_equal(side_sql("SELECT count(pg_terminate_backend(pid)) FROM "
                                 "pg_stat_activity WHERE datname = current_database() "
                                 "AND application_name LIKE 'meetd-listener-%'",
                                 buf, sizeof buf),
                        "1");
    w.n = 0;
    wait_feed(c, &w, &resync);
    assert_true(resync);
    /* And it listens again. */
    w.n = 0;
    assert_int_equal(store_write(f->s, insert_event, &kept), STORE_OK);
    wait_feed(c, &w, &resync);
    assert_int_equal(w.n, 1);
    assert_int_equal(w.ids[0], 502);
    store_changes_close(c);
}

int main(void)
{
    const char *pg = getenv("MEETD_TEST_POSTGRES");
    if (pg == NULL || *pg == '\0') {
        fprintf(stderr, "test_pg_store: MEETD_TEST_POSTGRES is not set (CTest's fixture "
                        "postgres sets it)\n");
        return 1;
    }
    const fixture_backend *backends[4];
    int n = fixture_backends(backends, 4);
    for (int i = 0; i < n; i++)
        if (strcmp(backends[i]->name, "postgres") == 0)
            fixture_be = backends[i];
    assert_string_equal(fixture_be->name, "postgres");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_connections_cut_while_idle, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_lost_inside_a_job, setup, teardown),
        cmocka_unit_test_setup_teardown(test_connection_lost_during_commit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadlock_between_nodes_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(test_device_changes_lock_meetings_first, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_batches_lock_their_meetings_in_order, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_node_stop_locks_meetings_first, setup, teardown),
        cmocka_unit_test_setup_teardown(test_deadlock_between_writers_is_retried, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_change_feed_names_committed_meetings, setup,
                                        teardown),
    };
    return cmocka_run_group_tests_name("postgres", tests, NULL, NULL);
}
