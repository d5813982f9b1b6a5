/* The list in order of age (src/common/dlist.h): appending, taking out of
 * the head, the middle and the tail, touching, and what it says empty. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "common/dlist.h"

typedef struct item {
    int key;
    dlist_node order;
} item;

/* The keys from oldest to newest into out; checks the links both ways. */
static int keys(const dlist *l, int *out)
{
    int n = 0;
    const dlist_node *prev = NULL;
    for (const dlist_node *x = l->oldest; x != NULL; prev = x, x = x->newer) {
        assert_ptr_equal(x->older, prev);
        out[n++] = DLIST_ENTRY(x, const item, order)->key;
    }
    assert_ptr_equal(l->newest, prev);
    return n;
}

static void test_order_of_age(void **state)
{
    (void)state;
    dlist l = {0};
    int k[8];
    assert_int_equal(keys(&l, k), 0);
    item v[5];
    for (int i = 0; i < 5; i++) {
        v[i].key = i;
        dlist_append(&l, &v[i].order);
    }
    assert_int_equal(keys(&l, k), 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(k[i], i);
    /* The middle, the oldest and the newest. */
    dlist_remove(&l, &v[2].order);
    dlist_remove(&l, &v[0].order);
    dlist_remove(&l, &v[4].order);
    assert_int_equal(keys(&l, k), 2);
    assert_true(k[0] == 1 && k[1] == 3);
    assert_null(v[2].order.older);
    assert_null(v[2].order.newer);
    /* Touched, the oldest becomes the newest; touching the newest changes nothing. */
    dlist_touch(&l, &v[1].order);
    assert_int_equal(keys(&l, k), 2);
    assert_true(k[0] == 3 && k[1] == 1);
    dlist_touch(&l, &v[1].order);
    assert_int_equal(keys(&l, k), 2);
    assert_true(k[0] == 3 && k[1] == 1);
    /* Emptied, then used again. */
    dlist_remove(&l, &v[3].order);
    dlist_remove(&l, &v[1].order);
    assert_null(l.oldest);
    assert_null(l.newest);
    dlist_append(&l, &v[4].order);
    assert_int_equal(keys(&l, k), 1);
    assert_int_equal(k[0], 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_of_age),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
