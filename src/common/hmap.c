/* The one hash table (the essay is in hmap.h). */
#include "common/hmap.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/ids.h"

/* The first bucket array: small, since most tables here hold a handful
 * (one node's meetings, apps, keys); it doubles from there. */
#define HMAP_MIN_BUCKETS 16

static size_t round_up_pow2(size_t n)
{
    size_t p = 1;
    while (p < n && p <= SIZE_MAX / 2)
        p <<= 1;
    return p;
}

int hmap_init(hmap *m, size_t max_buckets)
{
    size_t max = max_buckets == 0 ? SIZE_MAX / 2 / sizeof(hmap_node *) : max_buckets;
    max = round_up_pow2(max);
    size_t n = max < HMAP_MIN_BUCKETS ? max : HMAP_MIN_BUCKETS;
    *m = (hmap){0};
    m->buckets = calloc(n, sizeof *m->buckets);
    if (m->buckets == NULL)
        return -1;
    m->mask = n - 1;
    m->max_buckets = max;
    return 0;
}

void hmap_free(hmap *m)
{
    free(m->buckets);
    m->buckets = NULL;
    m->count = 0;
}

static void link_node(hmap_node **buckets, size_t mask, hmap_node *n)
{
    hmap_node **head = &buckets[n->hash & mask];
    n->next = *head;
    n->pprev = head;
    if (*head != NULL)
        (*head)->pprev = &n->next;
    *head = n;
}

/* Doubles at load factor 1, up to max_buckets. Failing to allocate only
 * costs speed: the old buckets stay, and the next insert tries again. */
static void grow(hmap *m)
{
    size_t n = m->mask + 1;
    if (m->count <= n || n >= m->max_buckets)
        return;
    hmap_node **nb = calloc(2 * n, sizeof *nb);
    if (nb == NULL)
        return;
    for (size_t i = 0; i < n; i++) {
        for (hmap_node *e = m->buckets[i], *next; e != NULL; e = next) {
            next = e->next;
            link_node(nb, 2 * n - 1, e);
        }
    }
    free(m->buckets);
    m->buckets = nb;
    m->mask = 2 * n - 1;
    m->resizes++;
}

void hmap_insert(hmap *m, hmap_node *n, uint64_t hash)
{
    n->hash = hash;
    link_node(m->buckets, m->mask, n);
    m->count++;
    grow(m);
}

void hmap_remove(hmap *m, hmap_node *n)
{
    assert(m->count > 0 && n->pprev != NULL);
    *n->pprev = n->next;
    if (n->next != NULL)
        n->next->pprev = n->pprev;
    n->next = NULL;
    n->pprev = NULL;
    m->count--;
}

size_t hmap_count(const hmap *m)
{
    return m->count;
}

hmap_node *hmap_first(const hmap *m, uint64_t hash)
{
    hmap_node *n = m->buckets[hash & m->mask];
    while (n != NULL && n->hash != hash)
        n = n->next;
    return n;
}

hmap_node *hmap_next(const hmap_node *n)
{
    uint64_t hash = n->hash;
    for (n = n->next; n != NULL; n = n->next)
        if (n->hash == hash)
            return (hmap_node *)n;
    return NULL;
}

/* ---- iteration ---------------------------------------------------------- */

/* The first node at or after bucket it->bucket into it->next. */
static void iter_fill(hmap_iter *it)
{
    it->next = NULL;
    while (it->next == NULL && it->bucket <= it->m->mask)
        it->next = it->m->buckets[it->bucket++];
}

void hmap_iter_init(hmap_iter *it, const hmap *m)
{
    it->m = m;
    it->bucket = 0;
    it->resizes = m->resizes;
    iter_fill(it);
}

hmap_node *hmap_iter_next(hmap_iter *it)
{
    assert(it->resizes == it->m->resizes);   /* inserted into while iterating */
    hmap_node *n = it->next;
    if (n == NULL)
        return NULL;
    /* Step past n now, so that the caller may remove it. */
    it->next = n->next;
    if (it->next == NULL)
        iter_fill(it);
    return n;
}

/* ---- hashing ------------------------------------------------------------ */

/* The finalizer of SplitMix64: every output bit depends on every input bit,
 * so the low bits that pick a bucket are as good as the high ones. */
static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    x ^= x >> 31;
    return x;
}

uint64_t hmap_seed(void)
{
    uint64_t seed;
    if (ids_random_bytes(&seed, sizeof seed) == 0)
        return seed;
    return mix64((uint64_t)time(NULL) ^ (uint64_t)(uintptr_t)&seed);
}

/* FNV-1a over the bytes, its offset basis moved by the seed. */
uint64_t hmap_hash_bytes(uint64_t seed, const void *p, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ seed;
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= 0x100000001b3ULL;
    }
    return mix64(h);
}

uint64_t hmap_hash_str(uint64_t seed, const char *s)
{
    return hmap_hash_bytes(seed, s, strlen(s));
}

uint64_t hmap_hash_int(uint64_t seed, uint64_t v)
{
    return mix64(v ^ mix64(seed));
}

uint64_t hmap_hash_mix(uint64_t h, uint64_t v)
{
    return mix64(h ^ mix64(v));
}
