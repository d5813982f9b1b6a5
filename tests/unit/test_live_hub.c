/* The live hub's memory of devices, without any stream: final events are
 * kept for a late stream, then forgotten, however many there are. */
#include "store_fixture.h"

#include <sched.h>
#include <time.h>

#include "live/live.h"

#define KICKED_DATA                                                                       \
    "{\"reason\":\"reason\",\"allow_rejoin\":true,\"operator\":{\"ms_open_id\":\"ms-op\","     \
    "\"instanceid\":1},\"time\":1700000000}"

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* The hub's timer forgets on its own thread: wait for it, bounded. */
static void wait_records(live_hub *h, size_t want)
{
    int64_t deadline = mono_ms() + 10000;
    while (live_record_count(h) != want) {
        if (mono_ms() > deadline)
            fail_msg("the hub still remembers %zu devices, not %zu", live_record_count(h), want);
        sched_yield();
    }
}

static void test_finals_are_forgotten(void **state)
{
    fixture *f = *state;
    live_config cfg = {.heartbeat_ms = 20, .final_keep_ms = 100};
    live_hub *h = NULL;
    assert_int_equal(live_hub_new(&cfg, f->s, NULL, NULL, &h), 0);
    /* More than the table starts with: it grows while they are kept. */
    for (int64_t d = 1; d <= 1000; d++)
        live_send(h, 0, d, "kicked", KICKED_DATA, true);
    assert_int_equal(live_record_count(h), 1000);
    /* News for a device whose final is already kept replaces it (and keeps
     * it longer), without a second record. */
    live_send(h, 0, 7, "replaced", "{\"time\":1700000001}", true);
    live_left(h, 0, 8);
    assert_int_equal(live_record_count(h), 1000);
    wait_records(h, 0);
    /* And the hub still works afterwards. */
    live_send(h, 0, 5, "meeting-ended", "{\"time\":1700000002}", true);
    assert_int_equal(live_record_count(h), 1);
    wait_records(h, 0);
    live_hub_free(h);
}

/* A final set again while queued is kept longer, and does not hold back
 * the finals queued behind it. */
static void test_final_set_again_keeps_its_place(void **state)
{
    fixture *f = *state;
    live_config cfg = {.heartbeat_ms = 20, .final_keep_ms = 1000};
    live_hub *h = NULL;
    assert_int_equal(live_hub_new(&cfg, f->s, NULL, NULL, &h), 0);
    int64_t t0 = mono_ms();
    for (int64_t d = 1; d <= 100; d++)
        live_send(h, 0, d, "kicked", KICKED_DATA, true);
    /* Device 1, first in line, gets news 500 ms later: kept until t0+1500
     * or after. This waits on the clock because the clock is the subject. */
    while (mono_ms() < t0 + 500)
        sched_yield();
    live_send(h, 0, 1, "replaced", "{\"time\":1700000001}", true);
    assert_int_equal(live_record_count(h), 100);
    /* The other 99 go at ~t0+1000, before device 1: the count stops at 1
     * (it went from 100 straight to 0 when device 1 held them back). */
    wait_records(h, 1);
    wait_records(h, 0);
    assert_true(mono_ms() >= t0 + 1500);
    live_hub_free(h);
}

static void test_free_with_finals_kept(void **state)
{
    fixture *f = *state;
    live_config cfg = {.heartbeat_ms = 15000};   /* default keep: 5 s */
    live_hub *h = NULL;
    assert_int_equal(live_hub_new(&cfg, f->s, NULL, NULL, &h), 0);
    for (int64_t d = 1; d <= 300; d++)
        live_send(h, 0, d, "kicked", KICKED_DATA, true);
    assert_int_equal(live_record_count(h), 300);
    live_hub_free(h);   /* what is still kept is freed (ASan would say) */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_finals_are_forgotten, setup, teardown),
        cmocka_unit_test_setup_teardown(test_final_set_again_keeps_its_place, setup, teardown),
        cmocka_unit_test_setup_teardown(test_free_with_finals_kept, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
