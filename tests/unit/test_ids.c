/* common/ids: random bytes (drawn through a per-thread pool), trace ids and
 * the other generated identifiers, and the monotonic deadline of a bounded
 * wait; common/base64: the server's one base64 encoder. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "common/base64.h"
#include "common/ids.h"

static int cmp16(const void *a, const void *b) { return memcmp(a, b, 16); }

/* n 16-byte values, sorted: no two may be equal. */
static void assert_all_distinct(uint8_t (*v)[16], size_t n)
{
    qsort(v, n, 16, cmp16);
    for (size_t i = 1; i < n; i++)
        assert_true(memcmp(v[i - 1], v[i], 16) != 0);
}

/* Small draws cross many refills of the pool; a byte handed out twice, or a
 * refill that does not happen, shows as two equal values. */
static void test_small_draws_never_repeat(void **state)
{
    (void)state;
    enum { N = 20000 };
    uint8_t (*v)[16] = calloc(N, 16);
    assert_non_null(v);
    for (size_t i = 0; i < N; i++) {
        /* Odd sizes in between shift where each value starts in the pool. */
        uint8_t skew[7];
        if (i % 3 == 0)
            assert_int_equal(ids_random_bytes(skew, 1 + i % 7), 0);
        assert_int_equal(ids_random_bytes(v[i], 16), 0);
    }
    assert_all_distinct(v, N);
    free(v);
}

/* Bytes wiped before they are copied out, or a pool never filled, are
 * zeros: over 256 KiB drawn in small pieces about half the bits are set. */
static void test_small_draws_are_random(void **state)
{
    (void)state;
    uint64_t ones = 0, bits = 0;
    for (size_t i = 0; i < 8192; i++) {
        uint8_t b[32];
        size_t len = 1 + i % 32;
        memset(b, 0, sizeof b);
        assert_int_equal(ids_random_bytes(b, len), 0);
        for (size_t k = 0; k < len; k++)
            ones += (uint64_t)__builtin_popcount(b[k]);
        bits += 8 * len;
    }
    /* 1,081,344 bits: a fair source is within 0.5 % of half far beyond
     * any doubt (the standard deviation is 0.05 %). */
    assert_true(ones * 1000 > bits * 495 && ones * 1000 < bits * 505);
}

/* Draws larger than the pool hands out, and the pool's own size. */
static void test_large_draws(void **state)
{
    (void)state;
    size_t sizes[] = {63, 64, 65, 1000, 1024, 1025, 5000};
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        uint8_t *a = calloc(1, sizes[i]), *b = calloc(1, sizes[i]);
        assert_non_null(a);
        assert_non_null(b);
        assert_int_equal(ids_random_bytes(a, sizes[i]), 0);
        assert_int_equal(ids_random_bytes(b, sizes[i]), 0);
        assert_true(memcmp(a, b, sizes[i]) != 0);
        /* The last 16 bytes are as filled as the first. */
        static const uint8_t zero[16];
        assert_true(memcmp(a + sizes[i] - 16, zero, 16) != 0);
        free(a);
        free(b);
    }
}

static int is_lower_hex(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return s[n] == '\0';
}

enum { TRACE_THREADS = 4, TRACES_EACH = 5000 };

static void *draw_traces(void *arg)
{
    char (*out)[33] = arg;
    for (size_t i = 0; i < TRACES_EACH; i++)
        if (ids_trace(out[i]) != 0)
            out[i][0] = '\0';
    return NULL;
}

/* Each thread has a pool of its own: traces drawn at once on several
 * threads are well-formed and all different. */
static void test_traces_across_threads(void **state)
{
    (void)state;
    char (*t)[33] = calloc((size_t)TRACE_THREADS * TRACES_EACH, 33);
    assert_non_null(t);
    pthread_t th[TRACE_THREADS];
    for (int i = 0; i < TRACE_THREADS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, draw_traces, t + (size_t)i * TRACES_EACH),
                         0);
    for (int i = 0; i < TRACE_THREADS; i++)
        pthread_join(th[i], NULL);
    size_t n = (size_t)TRACE_THREADS * TRACES_EACH;
    uint8_t (*raw)[16] = calloc(n, 16);
    assert_non_null(raw);
    for (size_t i = 0; i < n; i++) {
        assert_true(is_lower_hex(t[i], 32));
        for (size_t k = 0; k < 16; k++) {
            unsigned v;
            assert_int_equal(sscanf(t[i] + 2 * k, "%2x", &v), 1);
            raw[i][k] = (uint8_t)v;
        }
    }
    assert_all_distinct(raw, n);
    free(raw);
    free(t);
}

static void test_identifier_forms(void **state)
{
    (void)state;
    char uuid[33], open_id[45], code[10];
    int64_t mid = 0;
    for (int i = 0; i < 200; i++) {
        assert_int_equal(ids_uuid(uuid), 0);
        assert_int_equal(strlen(uuid), 32);
        assert_int_equal(strspn(uuid, "0123456789ABCDEF"), 32);
        assert_int_equal(ids_ms_open_id(open_id), 0);
        assert_int_equal(strlen(open_id), 44);
        assert_memory_equal(open_id, "ms", 2);
        assert_int_equal(strspn(open_id + 2, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                             "abcdefghijklmnopqrstuvwxyz"),
                         42);
        assert_int_equal(ids_meeting_code(code), 0);
        assert_int_equal(strlen(code), 9);
        assert_int_equal(strspn(code, "0123456789"), 9);
        assert_true(code[0] != '0');
        assert_int_equal(ids_meeting_id(&mid), 0);
        assert_true(mid >= 1000000000000000000LL && mid < 9000000000000000000LL);
    }
}

/* RFC 4648's vectors, and bytes that are not text. */
static void test_base64(void **state)
{
    static const struct {
        const char *in;
        size_t len;
        const char *out;
    } v[] = {
        {"", 0, ""},          {"f", 1, "Zg=="},         {"fo", 2, "Zm8="},
        {"foo", 3, "Zm9v"},   {"foob", 4, "Zm9vYg=="},  {"fooba", 5, "Zm9vYmE="},
        {"foobar", 6, "Zm9vYmFy"}, {"\0\xff\xfe", 3, "AP/+"}, {"小明", 6, "5bCP5piO"},
    };
    (void)state;
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char *got = base64_encode(v[i].in, v[i].len);
        assert_non_null(got);
        assert_string_equal(got, v[i].out);
        free(got);
    }
    /* Beyond an int's reach for EVP_EncodeBlock: refused before reading. */
    assert_null(base64_encode("", (size_t)INT32_MAX));
}

static int64_t ns_of(struct timespec t) { return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec; }

/* A deadline is now plus ms on CLOCK_MONOTONIC, its nanoseconds kept below
 * a second (pthread_cond_timedwait refuses any other). */
static void test_mono_deadline(void **state)
{
    static const int64_t ms[] = {0, 1, 250, 999, 1000, 1500, 86400000};
    (void)state;
    for (size_t i = 0; i < sizeof ms / sizeof ms[0]; i++) {
        struct timespec before, after;
        clock_gettime(CLOCK_MONOTONIC, &before);
        struct timespec d = clock_mono_deadline(ms[i]);
        clock_gettime(CLOCK_MONOTONIC, &after);
        assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
        assert_true(ns_of(d) >= ns_of(before) + ms[i] * 1000000);
        assert_true(ns_of(d) <= ns_of(after) + ms[i] * 1000000);
    }
    /* A deadline already past is now. */
    struct timespec before, after;
    clock_gettime(CLOCK_MONOTONIC, &before);
    struct timespec d = clock_mono_deadline(-1500);
    clock_gettime(CLOCK_MONOTONIC, &after);
    assert_true(d.tv_nsec >= 0 && d.tv_nsec < 1000000000L);
    assert_true(ns_of(d) >= ns_of(before) && ns_of(d) <= ns_of(after));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_small_draws_never_repeat),
        cmocka_unit_test(test_small_draws_are_random),
        cmocka_unit_test(test_large_draws),
        cmocka_unit_test(test_traces_across_threads),
        cmocka_unit_test(test_identifier_forms),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_mono_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
