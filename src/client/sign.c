/* Signing a request: nonces, timestamps and the header list. The signature
 * itself is meetd's own signer (src/auth/signature.c), so the project has one
 * implementation of docs/api.md "Authentication", not two. */
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include "auth/auth.h"
#include "client/client_int.h"

_Static_assert(MEET_SIGNATURE_LEN == AUTH_SIG_LEN, "libmeet and meetd disagree on the signature");

static pthread_once_t meet_signer_once = PTHREAD_ONCE_INIT;
static int meet_signer_rc = -1;

static void meet_signer_init(void)
{
    meet_signer_rc = auth_init();
}

meet_rc meet_signer_ready(void)
{
    /* auth_init is not itself safe to race; pthread_once makes it so. */
    pthread_once(&meet_signer_once, meet_signer_init);
    return meet_signer_rc == 0 ? MEET_OK : MEET_EINTERNAL;
}

meet_rc meet_sign(const char *secret_key, const char *method, const char *secret_id,
                  const char *nonce, const char *timestamp, const char *uri,
                  const char *body, size_t body_len, char out[MEET_SIGNATURE_LEN + 1])
{
    if (out == NULL)
        return MEET_EINVAL;
    out[0] = '\0';
    if (secret_key == NULL || method == NULL || secret_id == NULL || nonce == NULL ||
        timestamp == NULL || uri == NULL || (body == NULL && body_len != 0))
        return MEET_EINVAL;
    if (meet_signer_ready() != MEET_OK)
        return MEET_EINTERNAL;
    return auth_sign(secret_key, method, secret_id, nonce, timestamp, uri, body, body_len, out) == 0
               ? MEET_OK
               : MEET_EINTERNAL;
}

/* ---- nonces ---------------------------------------------------------------- */

/* The last nonce handed out in this process: a new one is always larger, so
 * two requests of one process never share a (timestamp, nonce) pair even
 * when the random parts collide within a millisecond. */
static _Atomic uint64_t meet_last_nonce;

static uint32_t meet_random32(uint64_t fallback)
{
    uint32_t r;
    if (getrandom(&r, sizeof r, GRND_NONBLOCK) == (ssize_t)sizeof r)
        return r;
    /* No entropy yet (early boot): uniqueness still holds through the
     * counter above; the random part only spreads processes apart. */
    return (uint32_t)(fallback * 2654435761u);
}

void meet_nonce(char out[MEET_NONCE_MAX])
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    uint64_t ms = (uint64_t)now.tv_sec * 1000u + (uint64_t)now.tv_nsec / 1000000u;
    uint64_t candidate = ms * 1000000u + meet_random32((uint64_t)now.tv_nsec) % 1000000u;

    uint64_t last = atomic_load(&meet_last_nonce);
    uint64_t next;
    do {
        next = candidate > last ? candidate : last + 1;
    } while (!atomic_compare_exchange_weak(&meet_last_nonce, &last, next));
    snprintf(out, MEET_NONCE_MAX, "%" PRIu64, next);
}

/* ---- headers ---------------------------------------------------------------- */

/* Appends a formatted line; on failure frees the whole list and sets *list
 * to NULL, so a chain of appends needs one check at the end. */
static void meet_slist_addf(struct curl_slist **list, bool *failed, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void meet_slist_addf(struct curl_slist **list, bool *failed, const char *fmt, ...)
{
    if (*failed)
        return;
    char *line = NULL;
    va_list ap;
    va_start(ap, fmt);
    int n = vasprintf(&line, fmt, ap);
    va_end(ap);
    struct curl_slist *grown = n < 0 ? NULL : curl_slist_append(*list, line);
    free(n < 0 ? NULL : line);
    if (grown == NULL) {
        curl_slist_free_all(*list);
        *list = NULL;
        *failed = true;
        return;
    }
    *list = grown;
}

/* A header line is one line: a CR or LF in it would let a value smuggle in
 * headers of its own. */
static bool meet_header_line_ok(const char *line)
{
    const char *colon = strchr(line, ':');
    return colon != NULL && colon != line && strpbrk(line, "\r\n") == NULL;
}

static bool meet_extra_ok(const char *const *extra)
{
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++)
        if (!meet_header_line_ok(extra[i]))
            return false;
    return true;
}

/* True when one of the caller's extra lines sets the header `name`: the
 * caller's choice then replaces libmeet's default. */
static bool meet_extra_has(const char *const *extra, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++)
        if (strncasecmp(extra[i], name, n) == 0 && extra[i][n] == ':')
            return true;
    return false;
}

static void meet_add_common(struct curl_slist **list, bool *failed, bool has_body,
                            const char *const *extra)
{
    if (has_body && !meet_extra_has(extra, "Content-Type"))
        meet_slist_addf(list, failed, "Content-Type: application/json");
    else if (!has_body && !meet_extra_has(extra, "Content-Type"))
        /* libcurl labels even an empty POST as a form; say nothing instead. */
        meet_slist_addf(list, failed, "Content-Type:");
    /* A body over 1 KiB would make libcurl wait for "100 Continue", which
     * neither meetd nor Tencent needs; send the body straight away. */
    if (!meet_extra_has(extra, "Expect"))
        meet_slist_addf(list, failed, "Expect:");
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++)
        meet_slist_addf(list, failed, "%s", extra[i]);
}

meet_rc meet_headers_signed(const meet_client *c, const char *method, const char *signed_uri,
                            const char *body, size_t body_len, bool has_body,
                            const char *timestamp, const char *nonce,
                            const char *const *extra, struct curl_slist **out)
{
    *out = NULL;
    if (!meet_extra_ok(extra))
        return MEET_EINVAL;
    char sig[MEET_SIGNATURE_LEN + 1];
    meet_rc rc = meet_sign(c->secret_key, method, c->secret_id, nonce, timestamp, signed_uri,
                           body, body_len, sig);
    if (rc != MEET_OK)
        return rc;

    struct curl_slist *list = NULL;
    bool failed = false;
    meet_slist_addf(&list, &failed, "X-TC-Key: %s", c->secret_id);
    meet_slist_addf(&list, &failed, "X-TC-Timestamp: %s", timestamp);
    meet_slist_addf(&list, &failed, "X-TC-Nonce: %s", nonce);
    meet_slist_addf(&list, &failed, "X-TC-Signature: %s", sig);
    if (c->app_id != NULL)
        meet_slist_addf(&list, &failed, "AppId: %s", c->app_id);
    if (c->sdk_id != NULL)
        meet_slist_addf(&list, &failed, "SdkId: %s", c->sdk_id);
    if (!meet_extra_has(extra, "X-TC-Registered"))
        meet_slist_addf(&list, &failed, "X-TC-Registered: 1");
    meet_add_common(&list, &failed, has_body, extra);
    if (failed)
        return MEET_ENOMEM;
    *out = list;
    return MEET_OK;
}

meet_rc meet_headers_plain(const char *const *extra, struct curl_slist **out)
{
    *out = NULL;
    if (!meet_extra_ok(extra))
        return MEET_EINVAL;
    struct curl_slist *list = NULL;
    bool failed = false;
    meet_add_common(&list, &failed, false, extra);
    if (failed)
        return MEET_ENOMEM;
    *out = list;
    return MEET_OK;
}
