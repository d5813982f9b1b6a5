/* The one hash table (src/common/hmap.h): insert, lookup, delete, growth,
 * its bound, collisions, iteration while deleting, and what happens when
 * memory runs out.
 *
 * hmap.c is compiled into this test with calloc redirected, so that the
 * test can refuse the table's allocations; its names then come from here,
 * not from meetdlib (whose hmap.o the linker has no reason to pull in). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

static long calloc_left = -1;   /* callocs before they fail; -1: never */
static long calloc_refused;

static void *refusing_calloc(size_t n, size_t size)
{
    if (calloc_left == 0) {
        calloc_refused++;
        return NULL;
    }
    if (calloc_left > 0)
        calloc_left--;
    return calloc(n, size);
}

#define calloc refusing_calloc
#include "common/hmap.c"
#undef calloc

typedef struct item {
    hmap_node link;
    int64_t key;
    char name[16];
    int seen;
} item;

static uint64_t hash_of(int64_t key)
{
    return hmap_hash_int(0, (uint64_t)key);
}

static item *find(const hmap *m, int64_t key)
{
    for (hmap_node *n = hmap_first(m, hash_of(key)); n != NULL; n = hmap_next(n)) {
        item *it = HMAP_ENTRY(n, item, link);
        if (it->key == key)
            return it;
    }
    return NULL;
}

static item *items_new(size_t n)
{
    item *v = calloc(n, sizeof *v);
    assert_non_null(v);
    for (size_t i = 0; i < n; i++)
        v[i].key = (int64_t)i * 7919 - 100000;
    return v;
}

static void test_insert_lookup_delete(void **state)
{
    (void)state;
    hmap m;
    assert_int_equal(hmap_init(&m, 0), 0);
    item v[3] = {{.key = 1}, {.key = -5}, {.key = INT64_MAX}};
    assert_null(find(&m, 1));
    for (int i = 0; i < 3; i++)
        hmap_insert(&m, &v[i].link, hash_of(v[i].key));
    assert_int_equal(hmap_count(&m), 3);
    for (int i = 0; i < 3; i++)
        assert_ptr_equal(find(&m, v[i].key), &v[i]);
    assert_null(find(&m, 2));
    hmap_remove(&m, &v[1].link);
    assert_int_equal(hmap_count(&m), 2);
    assert_null(find(&m, -5));
    assert_ptr_equal(find(&m, 1), &v[0]);
    assert_ptr_equal(find(&m, INT64_MAX), &v[2]);
    /* Removed, a node may go in again. */
    hmap_insert(&m, &v[1].link, hash_of(v[1].key));
    assert_ptr_equal(find(&m, -5), &v[1]);
    hmap_free(&m);
}

static item *find_name(const hmap *m, uint64_t seed, const char *name)
{
    uint64_t h = hmap_hash_str(seed, name);
    for (hmap_node *n = hmap_first(m, h); n != NULL; n = hmap_next(n)) {
        item *it = HMAP_ENTRY(n, item, link);
        if (strcmp(it->name, name) == 0)
            return it;
    }
    return NULL;
}

static void test_string_keys(void **state)
{
    (void)state;
    uint64_t seed = hmap_seed();
    hmap m;
    assert_int_equal(hmap_init(&m, 0), 0);
    item v[100];
    memset(v, 0, sizeof v);
    for (int i = 0; i < 100; i++) {
        snprintf(v[i].name, sizeof v[i].name, "app%d", i);
        hmap_insert(&m, &v[i].link, hmap_hash_str(seed, v[i].name));
    }
    for (int i = 0; i < 100; i++)
        assert_ptr_equal(find_name(&m, seed, v[i].name), &v[i]);
    assert_null(find_name(&m, seed, "app100"));
    assert_null(find_name(&m, seed, ""));
    /* The string and its bytes hash alike; another seed, otherwise. */
    assert_true(hmap_hash_str(seed, "abc") == hmap_hash_bytes(seed, "abc", 3));
    assert_true(hmap_hash_str(seed, "abc") != hmap_hash_str(seed ^ 1, "abc"));
    assert_true(hmap_hash_mix(hmap_hash_str(seed, "a"), 1) !=
                hmap_hash_mix(hmap_hash_str(seed, "a"), 2));
    hmap_free(&m);
}

static void test_grows_and_stays_findable(void **state)
{
    (void)state;
    enum { N = 20000 };
    hmap m;
    assert_int_equal(hmap_init(&m, 0), 0);
    assert_int_equal(m.mask + 1, HMAP_MIN_BUCKETS);
    item *v = items_new(N);
    for (size_t i = 0; i < N; i++) {
        hmap_insert(&m, &v[i].link, hash_of(v[i].key));
        /* Load factor at most 1 after every insert. */
        assert_true(hmap_count(&m) <= m.mask + 1);
    }
    assert_true(m.resizes > 0);
    for (size_t i = 0; i < N; i++)
        assert_ptr_equal(find(&m, v[i].key), &v[i]);
    /* Sequential keys spread: no chain much longer than a few. */
    size_t longest = 0;
    for (size_t b = 0; b <= m.mask; b++) {
        size_t len = 0;
        for (hmap_node *n = m.buckets[b]; n != NULL; n = n->next)
            len++;
        if (len > longest)
            longest = len;
    }
    assert_true(longest < 16);
    /* It never shrinks: removing everything keeps the buckets. */
    size_t buckets = m.mask + 1;
    for (size_t i = 0; i < N; i++)
        hmap_remove(&m, &v[i].link);
    assert_int_equal(hmap_count(&m), 0);
    assert_int_equal(m.mask + 1, buckets);
    hmap_free(&m);
    free(v);
}

static void test_bound(void **state)
{
    (void)state;
    enum { N = 1000 };
    hmap m;
    assert_int_equal(hmap_init(&m, 50), 0);   /* rounded up to 64 */
    item *v = items_new(N);
    for (size_t i = 0; i < N; i++)
        hmap_insert(&m, &v[i].link, hash_of(v[i].key));
    assert_int_equal(m.mask + 1, 64);
    assert_int_equal(hmap_count(&m), N);
    for (size_t i = 0; i < N; i++)
        assert_ptr_equal(find(&m, v[i].key), &v[i]);
    hmap_free(&m);
    free(v);
    /* A bound below the first array's size is the array's size. */
    assert_int_equal(hmap_init(&m, 4), 0);
    assert_int_equal(m.mask + 1, 4);
    hmap_free(&m);
}

static void test_collisions(void **state)
{
    (void)state;
    hmap m;
    assert_int_equal(hmap_init(&m, 0), 0);
    /* Five keys under one hash, two more under another in the same bucket. */
    item v[7];
    memset(v, 0, sizeof v);
    uint64_t h = 42, h2 = 42 + (uint64_t)HMAP_MIN_BUCKETS;
    for (int i = 0; i < 7; i++) {
        v[i].key = i;
        hmap_insert(&m, &v[i].link, i < 5 ? h : h2);
    }
    int under_h = 0;
    for (hmap_node *n = hmap_first(&m, h); n != NULL; n = hmap_next(n)) {
        assert_int_equal(n->hash, h);
        HMAP_ENTRY(n, item, link)->seen++;
        under_h++;
    }
    assert_int_equal(under_h, 5);
    for (int i = 0; i < 7; i++)
        assert_int_equal(v[i].seen, i < 5 ? 1 : 0);
    /* Removing from the middle, the head and the tail of a chain. */
    hmap_remove(&m, &v[2].link);
    hmap_remove(&m, &v[6].link);
    hmap_remove(&m, &v[0].link);
    int left = 0;
    for (hmap_node *n = hmap_first(&m, h); n != NULL; n = hmap_next(n)) {
        int64_t k = HMAP_ENTRY(n, item, link)->key;
        assert_true(k == 1 || k == 3 || k == 4);
        left++;
    }
    assert_int_equal(left, 3);
    assert_ptr_equal(HMAP_ENTRY(hmap_first(&m, h2), item, link), &v[5]);
    assert_null(hmap_next(hmap_first(&m, h2)));
    assert_null(hmap_first(&m, 43));
    hmap_free(&m);
}

static void test_iteration_while_deleting(void **state)
{
    (void)state;
    enum { N = 5000 };
    hmap m;
    assert_int_equal(hmap_init(&m, 0), 0);
    item *v = items_new(N);
    for (size_t i = 0; i < N; i++)
        hmap_insert(&m, &v[i].link, hash_of(v[i].key));
    /* Each node once; every other one removed as it is returned. */
    hmap_iter it;
    hmap_iter_init(&it, &m);
    size_t visited = 0;
    for (hmap_node *n; (n = hmap_iter_next(&it)) != NULL;) {
        item *e = HMAP_ENTRY(n, item, link);
        e->seen++;
        visited++;
        if (e->key % 2 == 0)
            hmap_remove(&m, n);
    }
    assert_int_equal(visited, N);
    for (size_t i = 0; i < N; i++) {
        assert_int_equal(v[i].seen, 1);
        assert_true((find(&m, v[i].key) != NULL) == (v[i].key % 2 != 0));
    }
    /* Emptying a table by iteration, freeing each entry as it goes. */
    hmap f;
    assert_int_equal(hmap_init(&f, 0), 0);
    for (int i = 0; i < 300; i++) {
        item *e = calloc(1, sizeof *e);
        assert_non_null(e);
        e->key = i;
        hmap_insert(&f, &e->link, hash_of(i));
    }
    hmap_iter_init(&it, &f);
    for (hmap_node *n; (n = hmap_iter_next(&it)) != NULL;) {
        hmap_remove(&f, n);
        free(HMAP_ENTRY(n, item, link));
    }
    assert_int_equal(hmap_count(&f), 0);
    hmap_iter_init(&it, &f);
    assert_null(hmap_iter_next(&it));
    hmap_free(&f);
    hmap_free(&m);
    free(v);
}

static void test_out_of_memory(void **state)
{
    (void)state;
    hmap m;
    /* No first buckets: init says so, and the table frees safely. */
    calloc_left = 0;
    calloc_refused = 0;
    assert_int_equal(hmap_init(&m, 0), -1);
    assert_int_equal(calloc_refused, 1);
    hmap_free(&m);
    /* Growing refused: inserts go on in the buckets there are, all found. */
    calloc_left = -1;
    assert_int_equal(hmap_init(&m, 0), 0);
    calloc_left = 0;
    enum { N = 500 };
    item *v = items_new(N);
    for (size_t i = 0; i < N; i++)
        hmap_insert(&m, &v[i].link, hash_of(v[i].key));
    assert_true(calloc_refused > 1);
    assert_int_equal(m.mask + 1, HMAP_MIN_BUCKETS);
    assert_int_equal(m.resizes, 0);
    for (size_t i = 0; i < N; i++)
        assert_ptr_equal(find(&m, v[i].key), &v[i]);
    /* Memory back: the next insert grows it, and nothing is lost. */
    calloc_left = -1;
    hmap_remove(&m, &v[0].link);
    hmap_insert(&m, &v[0].link, hash_of(v[0].key));
    assert_true(m.mask + 1 > HMAP_MIN_BUCKETS);
    for (size_t i = 0; i < N; i++)
        assert_ptr_equal(find(&m, v[i].key), &v[i]);
    hmap_free(&m);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_insert_lookup_delete),
        cmocka_unit_test(test_string_keys),
        cmocka_unit_test(test_grows_and_stays_findable),
        cmocka_unit_test(test_bound),
        cmocka_unit_test(test_collisions),
        cmocka_unit_test(test_iteration_while_deleting),
        cmocka_unit_test(test_out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
