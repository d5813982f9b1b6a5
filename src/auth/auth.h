/* Request authentication: the AK/SK signature of docs/api.md "Authentication", the
 * replay window, and the per-app rate limit. No I/O: the caller passes the
 * header values and a way to look a SecretId up. */
#ifndef MEETD_AUTH_H
#define MEETD_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define AUTH_WINDOW 300     /* seconds either side of server time */
#define AUTH_SIG_LEN 88     /* base64 of 64 hex characters */

/* Fetches the HMAC implementation once. Call before any other auth_ call. */
int auth_init(void);
void auth_shutdown(void);

/* signature = base64(lowercase_hex(HMAC-SHA256(secret_key, string_to_sign)))
 * with string_to_sign built from the parts as the contract says. out receives
 * AUTH_SIG_LEN characters and a NUL. Returns 0, or -1 on a crypto failure. */
int auth_sign(const char *secret_key, const char *method, const char *secret_id,
              const char *nonce, const char *timestamp, const char *uri,
              const char *body, size_t body_len, char out[AUTH_SIG_LEN + 1]);

/* A secret key prepared for HMAC-SHA256 (the key schedule done once), kept
 * with the key cache's entry; NULL when it could not be made. */
struct evp_mac_ctx_st;
typedef struct evp_mac_ctx_st auth_mac;
auth_mac *auth_mac_new(const char *secret_key);
/* A copy of m for one signature (the caller's, auth_mac_free), or NULL. */
auth_mac *auth_mac_dup(const auth_mac *m);
void auth_mac_free(auth_mac *m);
/* auth_sign with the key prepared: m (a copy of its own, auth_mac_dup) is
 * used up and freed. */
int auth_sign_mac(auth_mac *m, const char *method, const char *secret_id, const char *nonce,
                  const char *timestamp, const char *uri, const char *body, size_t body_len,
                  char out[AUTH_SIG_LEN + 1]);

/* Constant-time comparison of a received signature with the expected one. */
bool auth_signature_equal(const char *expected, const char *received);

/* ---- replay memory ------------------------------------------------------- */

/* Remembers (AppId, timestamp, nonce) triples for as long as the timestamp is
 * inside the window, holding at most `capacity` of them. At the bound it
 * forgets the oldest second's entries and raises that app's floor: from then
 * on a request of that app whose timestamp is at or below the floor is refused
 * as a possible replay. So the bound can only refuse honest requests (those
 * whose timestamp is old), never accept a replay. Thread-safe. */
typedef struct auth_replay auth_replay;

int auth_replay_new(size_t capacity, auth_replay **out);
void auth_replay_free(auth_replay *r);
/* ME_OK and the triple is recorded; ME_REPLAY when seen before (or at or
 * below the floor). The caller has checked the window already. */
meetd_err auth_replay_check(auth_replay *r, const char *app_id, int64_t timestamp,
                            uint64_t nonce, int64_t now);
size_t auth_replay_size(auth_replay *r);
/* Refuses, for every app, any timestamp at or below `second`. The memory is
 * not persisted, so a starting server raises it to its start time: nothing
 * signed before the start with an earlier timestamp is accepted. Requests
 * signed ahead of the clock pass the floor; for writes the store's spent
 * nonces refuse their replays (api_write_then), reads are answered again. */
void auth_replay_raise_floor(auth_replay *r, int64_t second);

/* ---- rate limit ------------------------------------------------------------ */

/* Token bucket per AppId: `rate` requests a second, bursts of up to `burst`.
 * Thread-safe. */
typedef struct auth_ratelimit auth_ratelimit;

int auth_ratelimit_new(double rate, double burst, auth_ratelimit **out);
/* Takes up to `want` tokens of app_id's bucket shared with other nodes into
 * *granted (0: it is empty). Returns 0, or -1 when the bucket cannot be
 * reached. */
typedef int (*auth_rate_take_fn)(void *arg, const char *app_id, int64_t want,
                                 int64_t *granted);
/* The same limit held across nodes: each app's tokens come from a bucket
 * shared by every node (take), `chunk` whole tokens at a time, when this
 * node has none of the app's left. A node refused by the shared bucket asks
 * again only once a chunk could have refilled (chunk / rate seconds), and a
 * node that cannot reach it admits (the request then meets the store's own
 * failure). Over-admission across n nodes is at most n x chunk tokens. */
int auth_ratelimit_new_shared(double rate, double burst, int64_t chunk, auth_rate_take_fn take,
                              void *take_arg, auth_ratelimit **out);
void auth_ratelimit_free(auth_ratelimit *rl);
/* now_ms: a monotonic clock in milliseconds. */
bool auth_ratelimit_allow(auth_ratelimit *rl, const char *app_id, int64_t now_ms);

/* ---- verifying a request ------------------------------------------------- */

/* Header values as received; NULL when the header is absent. */
typedef struct auth_request {
    const char *method;
    const char *uri;            /* path and ?query exactly as on the request line */
    const char *body;
    size_t body_len;
    const char *key;            /* X-TC-Key */
    const char *timestamp;      /* X-TC-Timestamp */
    const char *nonce;          /* X-TC-Nonce */
    const char *signature;      /* X-TC-Signature */
    const char *app_id;         /* AppId */
    const char *sdk_id;         /* SdkId; "" counts as absent */
    const char *access_token;   /* AccessToken (OAuth2.0) */
    const char *open_id;        /* OpenId (OAuth2.0) */
} auth_request;

/* What the lookup says of a SecretId. */
typedef struct auth_key {
    char secret_key[65];
    char app_id[33];
    char sdk_id[33];            /* "" when the app has none */
    /* secret_key prepared (a copy for this request, freed by auth_verify),
     * when the key cache had it; NULL: signed with secret_key. */
    auth_mac *mac;
} auth_key;

/* What a key lookup found. */
typedef enum auth_lookup_rc {
    AUTH_KEY_FOUND = 0,     /* out is filled */
    AUTH_KEY_UNKNOWN = 1,   /* no such SecretId */
    AUTH_KEY_FAILED = -1,   /* could not look (the store failed; logged) */
} auth_lookup_rc;

typedef auth_lookup_rc (*auth_lookup_fn)(void *arg, const char *secret_id, auth_key *out);

/* Who sent a verified request, and the (timestamp, nonce) it spent: a
 * request that goes on to change state spends them durably as well (the
 * store's spent_nonces, written in the write's own transaction), since the
 * replay memory does not outlive the process. */
typedef struct auth_identity {
    char app_id[33];
    int64_t timestamp;          /* X-TC-Timestamp, inside the window */
    uint64_t nonce;             /* X-TC-Nonce by value */
} auth_identity;

/* Verifies a request, in this order: OAuth2.0 headers (190303), missing
 * headers (190303), malformed nonce (190303), unknown key (190303), AppId
 * and SdkId (190303), signature (200003), timestamp window (190300), replay
 * (190301). The signature is checked before the window and the replay
 * memory so that only authentic requests consume replay capacity.
 * On ME_OK, *who (may be NULL) says who sent it and what it spent. */
meetd_err auth_verify(const auth_request *req, auth_lookup_fn lookup, void *lookup_arg,
                      auth_replay *replay, int64_t now, auth_identity *who, meetd_error *err);

/* ---- the key cache (keycache.c) ------------------------------------------ */

/* SecretIds longer than this are never cached (the store holds 64). */
#define AUTH_SECRET_ID_MAX 64

typedef struct auth_keycache auth_keycache;

/* At most max_entries keys, each trusted for ttl_ms at most. */
int auth_keycache_new(size_t max_entries, int64_t ttl_ms, auth_keycache **out);
void auth_keycache_free(auth_keycache *kc);
/* 0 and *out filled when the key is cached under this stamp and fresh, 1
 * when it must be looked up. A stamp other than the last one seen drops
 * every entry first. now_ms: a monotonic clock. */
int auth_keycache_get(auth_keycache *kc, const char *secret_id, const uint64_t stamp[2],
                      int64_t now_ms, auth_key *out);
/* Keeps a key just looked up under stamp (read before the lookup); ignored
 * when a newer stamp has been seen since. */
void auth_keycache_put(auth_keycache *kc, const char *secret_id, const uint64_t stamp[2],
                       int64_t now_ms, const auth_key *key);

#endif
