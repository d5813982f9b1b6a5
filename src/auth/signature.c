/* The AK/SK request signature of docs/api.md "Authentication". */
#include "auth/auth.h"

#include <stdbool.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#define HMAC_SHA256_LEN 32
#define HMAC_HEX_LEN (2 * HMAC_SHA256_LEN)

/* Fetching an algorithm walks the provider tables under a lock; doing it once
 * keeps that off the per-request path. The same holds for the digest that
 * HMAC is told to use: naming it in each request's EVP_MAC_init fetched
 * SHA-256 again every time. auth_hmac_sha256 is an HMAC context with its
 * digest set and no key, copied for each signature. Both are set at
 * start-up and only read afterwards. */
static EVP_MAC *auth_hmac;
static EVP_MAC_CTX *auth_hmac_sha256;

int auth_init(void)
{
    if (auth_hmac != NULL)
        return 0;
    auth_hmac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (auth_hmac != NULL)
        auth_hmac_sha256 = EVP_MAC_CTX_new(auth_hmac);
    char digest_name[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end(),
    };
    if (auth_hmac_sha256 == NULL || !EVP_MAC_CTX_set_params(auth_hmac_sha256, params)) {
        auth_shutdown();
        return -1;
    }
    return 0;
}

void auth_shutdown(void)
{
    EVP_MAC_CTX_free(auth_hmac_sha256);
    auth_hmac_sha256 = NULL;
    EVP_MAC_free(auth_hmac);
    auth_hmac = NULL;
}

/* Feeds the string to sign: its head (method, key, nonce, timestamp, URI)
 * gathered into one buffer when it fits, as each EVP_MAC_update costs
 * hundreds of instructions of dispatch before any hashing; the body (up to
 * the request limit) is never copied. */
static int mac_feed(EVP_MAC_CTX *ctx, const char *method, const char *secret_id,
                    const char *nonce, const char *timestamp, const char *uri,
                    const char *body, size_t body_len)
{
    const char *parts[] = {
        method, "\nX-TC-Key=", secret_id, "&X-TC-Nonce=", nonce,
        "&X-TC-Timestamp=", timestamp, "\n", uri, "\n",
    };
    char head[2048];
    size_t len = 0;
    bool whole = true;
    for (size_t i = 0; whole && i < sizeof parts / sizeof parts[0]; i++) {
        size_t n = strlen(parts[i]);
        if (n > sizeof head - len)
            whole = false;
        else {
            memcpy(head + len, parts[i], n);
            len += n;
        }
    }
    int ok = 1;
    if (whole)
        ok = EVP_MAC_update(ctx, (const unsigned char *)head, len);
    else
        for (size_t i = 0; ok && i < sizeof parts / sizeof parts[0]; i++)
            ok = EVP_MAC_update(ctx, (const unsigned char *)parts[i], strlen(parts[i]));
    OPENSSL_cleanse(head, len);
    return ok && (body_len == 0 || EVP_MAC_update(ctx, (const unsigned char *)body, body_len));
}

static void hex_lower(const unsigned char *in, size_t n, char *out)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = digits[in[i] >> 4];
        out[2 * i + 1] = digits[in[i] & 0x0f];
    }
}

/* The signature of the parts with ctx (keyed, nothing fed yet); ctx is
 * freed. */
static int sign_with(EVP_MAC_CTX *ctx, const char *method, const char *secret_id,
                     const char *nonce, const char *timestamp, const char *uri,
                     const char *body, size_t body_len, char out[AUTH_SIG_LEN + 1])
{
    unsigned char mac[HMAC_SHA256_LEN];
    unsigned char hex[HMAC_HEX_LEN];
    size_t mac_len = 0;
    int rc = -1;

    if (!mac_feed(ctx, method, secret_id, nonce, timestamp, uri, body, body_len))
        goto out;
    if (!EVP_MAC_final(ctx, mac, &mac_len, sizeof mac) || mac_len != sizeof mac)
        goto out;
    hex_lower(mac, sizeof mac, (char *)hex);
    /* EVP_EncodeBlock writes the NUL too: 64 bytes give exactly 88 characters. */
    if (EVP_EncodeBlock((unsigned char *)out, hex, sizeof hex) != AUTH_SIG_LEN)
        goto out;
    rc = 0;
out:
    OPENSSL_cleanse(mac, sizeof mac);
    OPENSSL_cleanse(hex, sizeof hex);
    EVP_MAC_CTX_free(ctx);
    if (rc != 0)
        out[0] = '\0';
    return rc;
}

static bool sign_args_ok(const char *method, const char *secret_id, const char *nonce,
                         const char *timestamp, const char *uri, const char *body,
                         size_t body_len, const char *out)
{
    return method != NULL && secret_id != NULL && nonce != NULL && timestamp != NULL &&
           uri != NULL && out != NULL && (body != NULL || body_len == 0);
}

auth_mac *auth_mac_new(const char *secret_key)
{
    if (auth_hmac_sha256 == NULL || secret_key == NULL)
        return NULL;
    EVP_MAC_CTX *ctx = EVP_MAC_CTX_dup(auth_hmac_sha256);
    if (ctx != NULL &&
        !EVP_MAC_init(ctx, (const unsigned char *)secret_key, strlen(secret_key), NULL)) {
        EVP_MAC_CTX_free(ctx);
        ctx = NULL;
    }
    return ctx;
}

auth_mac *auth_mac_dup(const auth_mac *m) { return m != NULL ? EVP_MAC_CTX_dup(m) : NULL; }

void auth_mac_free(auth_mac *m) { EVP_MAC_CTX_free(m); }

int auth_sign_mac(auth_mac *m, const char *method, const char *secret_id, const char *nonce,
                  const char *timestamp, const char *uri, const char *body, size_t body_len,
                  char out[AUTH_SIG_LEN + 1])
{
    if (m == NULL || !sign_args_ok(method, secret_id, nonce, timestamp, uri, body, body_len,
                                   out)) {
        EVP_MAC_CTX_free(m);
        return -1;
    }
    return sign_with(m, method, secret_id, nonce, timestamp, uri, body, body_len, out);
}

int auth_sign(const char *secret_key, const char *method, const char *secret_id,
              const char *nonce, const char *timestamp, const char *uri,
              const char *body, size_t body_len, char out[AUTH_SIG_LEN + 1])
{
    if (!sign_args_ok(method, secret_id, nonce, timestamp, uri, body, body_len, out))
        return -1;
    EVP_MAC_CTX *ctx = auth_mac_new(secret_key);
    if (ctx == NULL) {
        out[0] = '\0';
        return -1;
    }
    return sign_with(ctx, method, secret_id, nonce, timestamp, uri, body, body_len, out);
}

bool auth_signature_equal(const char *expected, const char *received)
{
    if (expected == NULL || received == NULL)
        return false;
    size_t n = strlen(expected);
    bool same_len = strlen(received) == n;
    /* The length is public (always AUTH_SIG_LEN for a good one); the content is
     * not, so on a length mismatch the comparison still runs over n bytes, of
     * the expected value against itself, and its result is discarded. */
    const char *other = same_len ? received : expected;
    int diff = CRYPTO_memcmp(expected, other, n);
    return same_len && diff == 0;
}
