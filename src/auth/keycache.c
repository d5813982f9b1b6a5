/* The key cache: SecretId -> (SecretKey, AppId, SdkId), so that verifying a
 * request does not read the store. Every signed request needs its key, and
 * that read was a read transaction of its own on the store's reader pool.
 *
 * Entries are only valid under the stamp they were read with (the caller's
 * change stamp, which moves whenever an app or a key changes) and for at
 * most ttl_ms: the stamp makes rotation and deletion take effect at once,
 * the age bounds the damage should a stamp ever not move (a process killed
 * between its commit and moving the stamp). Only keys that exist are kept,
 * so an unknown SecretId always costs a lookup, and a new key is found the
 * moment it is committed.
 *
 * An entry also keeps its secret key prepared for HMAC-SHA256 (the key
 * schedule, a sixth of a signature's cost, done once); each request gets a
 * copy of it, as one context cannot serve two threads. */
#include "auth/auth.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/hmap.h"

typedef struct kc_entry {
    hmap_node link;
    char secret_id[AUTH_SECRET_ID_MAX + 1];
    auth_key key;              /* key.mac: NULL, the prepared key is mac */
    auth_mac *mac;             /* key.secret_key prepared for HMAC, or NULL */
    int64_t fetched_ms;
} kc_entry;

struct auth_keycache {
    pthread_mutex_t lock;
    uint64_t stamp[2];           /* the stamp every entry was read under */
    size_t max;
    int64_t ttl_ms;
    uint64_t seed;
    hmap entries;                /* kc_entry by SecretId; at most max */
};

static kc_entry *kc_find(auth_keycache *kc, const char *secret_id)
{
    for (hmap_node *n = hmap_first(&kc->entries, hmap_hash_str(kc->seed, secret_id)); n != NULL;
         n = hmap_next(n)) {
        kc_entry *e = HMAP_ENTRY(n, kc_entry, link);
        if (strcmp(e->secret_id, secret_id) == 0)
            return e;
    }
    return NULL;
}

static void kc_clear(auth_keycache *kc)
{
    hmap_iter it;
    hmap_iter_init(&it, &kc->entries);
    for (hmap_node *n; (n = hmap_iter_next(&it)) != NULL;) {
        hmap_remove(&kc->entries, n);
        kc_entry *e = HMAP_ENTRY(n, kc_entry, link);
        auth_mac_free(e->mac);
        OPENSSL_clear_free(e, sizeof *e);
    }
}

/* Drops everything read under another stamp (lock held). */
static void kc_sync(auth_keycache *kc, const uint64_t stamp[2])
{
    if (kc->stamp[0] == stamp[0] && kc->stamp[1] == stamp[1])
        return;
    kc_clear(kc);
    kc->stamp[0] = stamp[0];
    kc->stamp[1] = stamp[1];
}

int auth_keycache_new(size_t max_entries, int64_t ttl_ms, auth_keycache **out)
{
    *out = NULL;
    auth_keycache *kc = calloc(1, sizeof *kc);
    if (kc == NULL)
        return -1;
    kc->max = max_entries > 0 ? max_entries : 1;
    kc->ttl_ms = ttl_ms;
    kc->seed = hmap_seed();
    if (hmap_init(&kc->entries, kc->max) != 0) {
        free(kc);
        return -1;
    }
    pthread_mutex_init(&kc->lock, NULL);
    *out = kc;
    return 0;
}

void auth_keycache_free(auth_keycache *kc)
{
    if (kc == NULL)
        return;
    kc_clear(kc);
    hmap_free(&kc->entries);
    pthread_mutex_destroy(&kc->lock);
    free(kc);
}

int auth_keycache_get(auth_keycache *kc, const char *secret_id, const uint64_t stamp[2],
                      int64_t now_ms, auth_key *out)
{
    int rc = 1;
    pthread_mutex_lock(&kc->lock);
    kc_sync(kc, stamp);
    const kc_entry *e = kc_find(kc, secret_id);
    if (e != NULL && now_ms - e->fetched_ms <= kc->ttl_ms && now_ms >= e->fetched_ms) {
        *out = e->key;
        /* A copy of the prepared key for this request: no key schedule
         * per request (NULL: signed from secret_key). */
        out->mac = auth_mac_dup(e->mac);
        rc = 0;
    }
    pthread_mutex_unlock(&kc->lock);
    return rc;
}

void auth_keycache_put(auth_keycache *kc, const char *secret_id, const uint64_t stamp[2],
                       int64_t now_ms, const auth_key *key)
{
    if (strlen(secret_id) > AUTH_SECRET_ID_MAX)
        return;
    /* Prepared outside the lock: it is the one costly step. */
    auth_mac *mac = auth_mac_new(key->secret_key);
    pthread_mutex_lock(&kc->lock);
    /* Read under an older stamp than the newest seen: it may be what a
     * rotation just replaced. */
    if (kc->stamp[0] != stamp[0] || kc->stamp[1] != stamp[1]) {
        pthread_mutex_unlock(&kc->lock);
        auth_mac_free(mac);
        return;
    }
    kc_entry *e = kc_find(kc, secret_id);
    if (e == NULL) {
        /* Full: start afresh rather than track recency; a deployment with
         * more live keys than max pays a lookup now and then. */
        if (hmap_count(&kc->entries) >= kc->max)
            kc_clear(kc);
        e = calloc(1, sizeof *e);
        if (e == NULL) {
            pthread_mutex_unlock(&kc->lock);
            auth_mac_free(mac);
            return;
        }
        memcpy(e->secret_id, secret_id, strlen(secret_id) + 1);
        hmap_insert(&kc->entries, &e->link, hmap_hash_str(kc->seed, secret_id));
    }
    e->key = *key;
    e->key.mac = NULL;
    auth_mac_free(e->mac);
    e->mac = mac;
    e->fetched_ms = now_ms;
    pthread_mutex_unlock(&kc->lock);
}
