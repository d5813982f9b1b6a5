/* The relay's cursors (src/live/relay.h): where a meeting's reading starts
 * as streams of it open and close on this node. The tables alone, without
 * a store or a thread. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "live/relay.h"

static int64_t cursor_of(relay *r, int64_t meeting_id)
{
    int64_t c = -1;
    assert_true(relay_cursor(r, meeting_id, &c));
    return c;
}

/* The first stream's snapshot starts the cursor; reads move it on. */
static void test_first_stream_starts_the_cursor(void **state)
{
    (void)state;
    relay *r = relay_table_new();
    assert_non_null(r);
    int64_t c;
    assert_false(relay_cursor(r, 1, &c));
    relay_watch(r, 1, 10, 5);
    assert_int_equal(cursor_of(r, 1), 5);
    assert_true(relay_watching(r, 10));
    relay_advance(r, 1, 9);
    assert_int_equal(cursor_of(r, 1), 9);
    relay_advance(r, 1, 8);           /* never back */
    assert_int_equal(cursor_of(r, 1), 9);
    relay_free(r);
}

/* A stream opened from an older snapshot than the cursor lowers it: the
 * rows between were read while its device was not watched. A newer one
 * leaves it: the rows between are read anyway. */
static void test_older_snapshot_lowers_newer_keeps(void **state)
{
    (void)state;
    relay *r = relay_table_new();
    relay_watch(r, 1, 10, 5);
    relay_advance(r, 1, 20);
    relay_watch(r, 1, 11, 12);
    assert_int_equal(cursor_of(r, 1), 12);
    relay_watch(r, 1, 12, 30);
    assert_int_equal(cursor_of(r, 1), 12);
    relay_advance(r, 1, 31);
    assert_int_equal(cursor_of(r, 1), 31);
    /* Other meetings have their own. */
    relay_watch(r, 2, 20, 3);
    assert_int_equal(cursor_of(r, 2), 3);
    assert_int_equal(cursor_of(r, 1), 31);
    relay_free(r);
}

/* A meeting is followed while it has a stream here; a device while it has
 * one (two at once while one replaces the other). */
static void test_followed_while_streams_last(void **state)
{
    (void)state;
    relay *r = relay_table_new();
    relay_watch(r, 1, 10, 5);
    relay_watch(r, 1, 10, 6);         /* the device's second stream */
    relay_watch(r, 1, 11, 6);
    relay_unwatch(r, 1, 10);
    assert_true(relay_watching(r, 10));
    relay_unwatch(r, 1, 10);
    assert_false(relay_watching(r, 10));
    assert_int_equal(cursor_of(r, 1), 5);
    relay_unwatch(r, 1, 11);
    int64_t c;
    assert_false(relay_cursor(r, 1, &c));
    assert_false(relay_watching(r, 11));
    /* Followed again: from the new stream's snapshot. */
    relay_watch(r, 1, 12, 40);
    assert_int_equal(cursor_of(r, 1), 40);
    /* An unknown close changes nothing. */
    relay_unwatch(r, 1, 99);
    relay_unwatch(r, 7, 12);
    assert_true(relay_watching(r, 12));
    relay_free(r);
}

/* Without a feed (SQLite) there is no relay, and the hub's calls are no-ops. */
static void test_no_relay_takes_null(void **state)
{
    (void)state;
    relay_watch(NULL, 1, 10, 5);
    relay_unwatch(NULL, 1, 10);
    relay_stop(NULL);
    relay_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_stream_starts_the_cursor),
        cmocka_unit_test(test_older_snapshot_lowers_newer_keeps),
        cmocka_unit_test(test_followed_while_streams_last),
        cmocka_unit_test(test_no_relay_takes_null),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
