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

#define KEYCACHE_BUCKETS 256

typedef struct kc_entry {
    char secret_id[AUTH_SECRET_ID_MAX + 1];
    auth_key key;              /* key.mac: NULL, the prepared key is mac */
    auth_mac *mac;             /* key.secret_key prepared for HMAC, or NULL */
    int64_t fetched_ms;
    struct kc_entry *next;
} kc_entry;

struct auth_keycache {
    pthread_mutex_t lock;
    uint64_t stamp[2];           /* the stamp every entry was read under */
    size_t n;
    size_t max;
    int64_t ttl_ms;
    kc_entry *bucket[KEYCACHE_BUCKETS];
};

static size_t kc_hash(const char *s)
{
    /* FNV-1a: SecretIds are random, nothing better is needed. */
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return (size_t)(h % KEYCACHE_BUCKETS);
}

static void kc_clear(auth_keycache *kc)
{
    for (size_t b = 0; b < KEYCACHE_BUCKETS; b++) {
        for (kc_entry *e = kc->bucket[b], *next; e != NULL; e = next) {
            next = e->next;
            auth_mac_free(e->mac);
            OPENSSL_clear_free(e, sizeof *e);
        }
        kc->bucket[b] = NULL;
    }
    kc->n = 0;
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
    pthread_mutex_init(&kc->lock, NULL);
    kc->max = max_entries > 0 ? max_entries : 1;
    kc->ttl_ms = ttl_ms;
    *out = kc;
    return 0;
}

void auth_keycache_free(auth_keycache *kc)
{
    if (kc == NULL)
        return;
    kc_clear(kc);
    pthread_mutex_destroy(&kc->lock);
    free(kc);
}

int auth_keycache_get(auth_keycache *kc, const char *secret_id, const uint64_t stamp[2],
                      int64_t now_ms, auth_key *out)
{
    int rc = 1;
    pthread_mutex_lock(&kc->lock);
    kc_sync(kc, stamp);
    for (kc_entry *e = kc->bucket[kc_hash(secret_id)]; e != NULL; e = e->next) {
        if (strcmp(e->secret_id, secret_id) != 0)
            continue;
        if (now_ms - e->fetched_ms <= kc->ttl_ms && now_ms >= e->fetched_ms) {
            *out = e->key;
            /* A copy of the prepared key for this request: no key
             * schedule per request (NULL: signed from secret_key). */
            out->mac = auth_mac_dup(e->mac);
            rc = 0;
        }
        break;
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
    size_t b = kc_hash(secret_id);
    kc_entry *e = kc->bucket[b];
    while (e != NULL && strcmp(e->secret_id, secret_id) != 0)
        e = e->next;
    if (e == NULL) {
        /* Full: start afresh rather than track recency; a deployment with
         * more live keys than max pays a lookup now and then. */
        if (kc->n >= kc->max)
            kc_clear(kc);
        e = calloc(1, sizeof *e);
        if (e == NULL) {
            pthread_mutex_unlock(&kc->lock);
            auth_mac_free(mac);
            return;
        }
        memcpy(e->secret_id, secret_id, strlen(secret_id) + 1);
        e->next = kc->bucket[b];
        kc->bucket[b] = e;
        kc->n++;
    }
    e->key = *key;
    e->key.mac = NULL;
    auth_mac_free(e->mac);
    e->mac = mac;
    e->fetched_ms = now_ms;
    pthread_mutex_unlock(&kc->lock);
}
