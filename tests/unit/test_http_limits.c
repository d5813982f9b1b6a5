/* http/limits: connections sized to the descriptors, the API's reserve and
 * the per-app stream cap (configuration.md "--max-connections"). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/limits.h"

static http_limits ask(unsigned long nofile, unsigned long open_fds, unsigned conns,
                       unsigned reserve, unsigned per_app)
{
    return (http_limits){.nofile = nofile, .open_fds = open_fds, .threads = 2, .store_fds = 23,
                         .want_connections = conns, .want_reserve = reserve,
                         .want_per_app = per_app};
}

static unsigned long held(unsigned long open_fds)
{
    return open_fds + 1 + 2 * HTTP_LIMITS_FD_PER_THREAD + 23 + HTTP_LIMITS_FD_SPARE;
}

/* The case: 1,024 descriptors, --max-connections 4096. */
static void test_lowered_to_the_descriptors(void **state)
{
    http_limits l = ask(1024, 12, 4096, 0, 0);
    char why[256];
    assert_int_equal(http_limits_size(&l, why, sizeof why), 0);
    assert_int_equal(l.held_back, held(12));
    assert_int_equal(l.max_connections, 1024 - held(12));
    assert_int_equal(l.api_reserve, l.max_connections / 10);
    assert_int_equal(l.max_streams, l.max_connections - l.api_reserve);
    assert_int_equal(l.max_streams_per_app, l.max_streams / 2);
}

static void test_as_asked_when_they_fit(void **state)
{
    http_limits l = ask(1048576, 12, 4096, 0, 0);
    char why[256];
    assert_int_equal(http_limits_size(&l, why, sizeof why), 0);
    assert_int_equal(l.max_connections, 4096);
    assert_int_equal(l.api_reserve, 409);
    assert_int_equal(l.max_streams, 3687);
    assert_int_equal(l.max_streams_per_app, 1843);
}

static void test_explicit_reserve_and_per_app(void **state)
{
    http_limits l = ask(20000, 12, 40, 8, 10);
    char why[256];
    assert_int_equal(http_limits_size(&l, why, sizeof why), 0);
    assert_int_equal(l.max_connections, 40);
    assert_int_equal(l.api_reserve, 8);
    assert_int_equal(l.max_streams, 32);
    assert_int_equal(l.max_streams_per_app, 10);
    /* A per-app cap above all streams is all streams. */
    l = ask(20000, 12, 40, 8, 1000);
    assert_int_equal(http_limits_size(&l, why, sizeof why), 0);
    assert_int_equal(l.max_streams_per_app, 32);
}

/* The smallest server still has one stream and one connection beside it. */
static void test_smallest(void **state)
{
    char why[256];
    http_limits l = ask(20000, 12, 2, 0, 0);
    assert_int_equal(http_limits_size(&l, why, sizeof why), 0);
    assert_int_equal(l.api_reserve, 1);
    assert_int_equal(l.max_streams, 1);
    assert_int_equal(l.max_streams_per_app, 1);
    l = ask(held(12) + 2, 12, 4096, 0, 0);
    assert_int_equal(http_limits_size(&l, why, sizeof why), 0);
    assert_int_equal(l.max_connections, 2);
}

static void test_refused(void **state)
{
    char why[256];
    http_limits l = ask(held(12) + 1, 12, 4096, 0, 0);
    assert_int_equal(http_limits_size(&l, why, sizeof why), -1);
    assert_non_null(strstr(why, "open-files limit"));
    l = ask(10, 12, 4096, 0, 0);      /* more open than allowed: no underflow */
    assert_int_equal(http_limits_size(&l, why, sizeof why), -1);
    l = ask(20000, 12, 1, 0, 0);
    assert_int_equal(http_limits_size(&l, why, sizeof why), -1);
    assert_non_null(strstr(why, "--max-connections 1"));
    l = ask(20000, 12, 40, 40, 0);
    assert_int_equal(http_limits_size(&l, why, sizeof why), -1);
    assert_non_null(strstr(why, "--api-reserve 40"));
    /* The reserve is judged against what fits, not what was asked. */
    l = ask(held(12) + 50, 12, 4096, 50, 0);
    assert_int_equal(http_limits_size(&l, why, sizeof why), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lowered_to_the_descriptors),
        cmocka_unit_test(test_as_asked_when_they_fit),
        cmocka_unit_test(test_explicit_reserve_and_per_app),
        cmocka_unit_test(test_smallest),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
