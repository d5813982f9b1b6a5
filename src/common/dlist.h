/* An intrusive list in order of age: entries appended as the newest, taken
 * from anywhere in O(1), the oldest at hand. What an LRU (the rate limit's
 * buckets by last use) or a FIFO of raises (the replay memory's floors)
 * needs beside its hmap table, written once.
 *
 * The entry embeds a dlist_node and is the caller's: the list never
 * allocates or frees. A node is in at most one list at a time. No lock: the
 * owner's. */
#ifndef MEETD_COMMON_DLIST_H
#define MEETD_COMMON_DLIST_H

#include <stddef.h>

typedef struct dlist_node {
    struct dlist_node *older, *newer;
} dlist_node;

typedef struct dlist {
    dlist_node *oldest, *newest;   /* both NULL: empty */
} dlist;

/* The entry of type `type` whose member `member` is node n (n not NULL). */
#define DLIST_ENTRY(n, type, member) ((type *)(void *)((char *)(n) - offsetof(type, member)))

/* n, not in a list, becomes the newest of l. */
static inline void dlist_append(dlist *l, dlist_node *n)
{
    n->older = l->newest;
    n->newer = NULL;
    if (l->newest != NULL)
        l->newest->newer = n;
    else
        l->oldest = n;
    l->newest = n;
}

/* Takes n, which is in l, out of it. */
static inline void dlist_remove(dlist *l, dlist_node *n)
{
    if (n->older != NULL)
        n->older->newer = n->newer;
    else
        l->oldest = n->newer;
    if (n->newer != NULL)
        n->newer->older = n->older;
    else
        l->newest = n->older;
    n->older = n->newer = NULL;
}

/* n, which is in l, becomes its newest (used again, raised again). */
static inline void dlist_touch(dlist *l, dlist_node *n)
{
    dlist_remove(l, n);
    dlist_append(l, n);
}

#endif
