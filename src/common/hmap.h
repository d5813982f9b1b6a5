/* One hash table for the whole program: intrusive, chained, growing.
 *
 * Why one. meetd had hand-written tables in the replay memory, the rate
 * limit, the key cache, the live hub (devices and apps), the relay
 * (meetings and devices), each with its own FNV-1a or multiplier, its own
 * chains, its own idea of growing (or none: fixed bucket counts that a
 * busy node outgrew into long chains). This is the one they share.
 *
 * Intrusive. The caller's struct embeds an hmap_node; the table holds
 * pointers to those nodes and never allocates, copies or frees an entry.
 * So an insert cannot fail (below), an entry can sit in other structures
 * at once (the replay memory's per-second ring, the rate limit's LRU list),
 * and a caller keeps whatever key it has: a string in the entry, an int64,
 * a triple. The table knows only the 64-bit hash of each node; the caller
 * hashes its key (hmap_hash_*) and compares keys itself while walking the
 * candidates of a hash (hmap_first / hmap_next), as in
 *
 *     for (hmap_node *n = hmap_first(&t, h); n != NULL; n = hmap_next(n))
 *         if (HMAP_ENTRY(n, entry, link)->key == key) ...
 *
 * Keys it has to serve: strings (AppIds, SecretIds) that come from
 * requests, int64s (meeting ids, device numbers, drawn at random or from a
 * sequence), and composites (AppId, timestamp, nonce). Keys an outsider
 * chooses are hashed with a seed drawn at start-up (hmap_seed), so that
 * colliding keys cannot be computed ahead of time; FNV-1a followed by a
 * 64-bit finalizer, so that every bit of the hash depends on every bit of
 * the key and the bucket index (the low bits) is as good as any.
 *
 * Resizing. The table doubles when it holds more entries than buckets (load
 * factor 1), up to max_buckets given at init, so memory stays bounded when
 * the caller bounds its entries. The new bucket array is allocated before
 * the old one is let go: when that allocation fails, the table goes on
 * with the buckets it has (longer chains, nothing lost) and tries again at
 * a later insert. That is why hmap_insert returns nothing. It never
 * shrinks: a table sized for its busiest moment keeps those buckets (8
 * bytes each), which is also what makes removal during an iteration safe.
 *
 * Deletion is O(1) without walking the chain (each node knows the pointer
 * that points at it), and never moves another node.
 *
 * Iteration (hmap_iter): every node present when it starts and not removed
 * before it is reached is returned exactly once. The node just returned may
 * be removed (and freed) before asking for the next: the iterator has
 * already stepped past it. Removing any other node is not allowed (the
 * iterator may hold it as the next to return), nor is inserting
 * during an iteration: an insert may resize, which reorders every chain
 * (an assertion catches an iteration that goes on after a resize).
 *
 * Locking is the caller's: the table has no lock of its own, and every
 * table here lives under its owner's mutex. */
#ifndef MEETD_COMMON_HMAP_H
#define MEETD_COMMON_HMAP_H

#include <stddef.h>
#include <stdint.h>

/* Embedded in each entry. The table's: the caller neither reads nor sets
 * its fields, but hash (read-only) once inserted. */
typedef struct hmap_node {
    struct hmap_node *next;
    struct hmap_node **pprev;       /* the pointer that points at this node */
    uint64_t hash;
} hmap_node;

typedef struct hmap {
    hmap_node **buckets;
    size_t mask;                    /* buckets - 1; a power of two less one */
    size_t count;
    size_t max_buckets;
    uint64_t resizes;               /* an iteration asserts it did not move */
} hmap;

/* The entry of type `type` whose member `member` is node n. */
#define HMAP_ENTRY(n, type, member) ((type *)(void *)((char *)(n) - offsetof(type, member)))

/* A table that grows up to max_buckets (rounded up to a power of two; 0:
 * no bound). 0, or -1 when its first buckets cannot be allocated. */
int hmap_init(hmap *m, size_t max_buckets);
/* Frees the buckets. The entries are the caller's: free them first (an
 * iteration that removes and frees each is the way). */
void hmap_free(hmap *m);

/* Links n under hash. Never fails (a failed grow only costs speed). A node
 * is in at most one table at a time, and not twice in the same. */
void hmap_insert(hmap *m, hmap_node *n, uint64_t hash);
/* Unlinks n, which is in m. */
void hmap_remove(hmap *m, hmap_node *n);
size_t hmap_count(const hmap *m);

/* The first node of hash's chain whose hash is hash (NULL: none); then the
 * next one after n with the same hash. The caller compares its keys. */
hmap_node *hmap_first(const hmap *m, uint64_t hash);
hmap_node *hmap_next(const hmap_node *n);

/* Every node, in no particular order (the rules are in the essay above).
 * An iteration may stop at any point; it holds nothing. */
typedef struct hmap_iter {
    const hmap *m;
    size_t bucket;                  /* the next bucket to look in */
    hmap_node *next;                /* the next node to return */
    uint64_t resizes;               /* m->resizes when it began */
} hmap_iter;
void hmap_iter_init(hmap_iter *it, const hmap *m);
/* The next node, or NULL at the end. */
hmap_node *hmap_iter_next(hmap_iter *it);

/* ---- hashing ------------------------------------------------------------ */

/* A random seed (OpenSSL's generator; the clock if it fails: the tables
 * still work, only less resistant to chosen keys). */
uint64_t hmap_seed(void);
/* A NUL-terminated string, n bytes, a 64-bit number; hmap_hash_mix folds
 * one more value into a hash (composite keys: hash the first part, mix in
 * the others). seed: hmap_seed's, or 0 for keys nobody outside chooses. */
uint64_t hmap_hash_str(uint64_t seed, const char *s);
uint64_t hmap_hash_bytes(uint64_t seed, const void *p, size_t n);
uint64_t hmap_hash_int(uint64_t seed, uint64_t v);
uint64_t hmap_hash_mix(uint64_t h, uint64_t v);

#endif
