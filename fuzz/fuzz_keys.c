/* The fuzzers' keys, and a second signer to hold auth_sign against. */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>

const fuzz_key fuzz_key_default = {
    .secret_id = "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
    .secret_key = "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
    .app_id = "200000001",
    .sdk_id = "",
};

const fuzz_key fuzz_key_sdk = {
    .secret_id = "AKIDfuzzSdkApp0000000000000000002",
    .secret_key = "fuzzSecretKeyOfTheSecondApp00002",
    .app_id = "200000002",
    .sdk_id = "sdk-2",
};

const fuzz_key *fuzz_key_find(const char *secret_id)
{
    if (secret_id == NULL)
        return NULL;
    if (strcmp(secret_id, fuzz_key_default.secret_id) == 0)
        return &fuzz_key_default;
    if (strcmp(secret_id, fuzz_key_sdk.secret_id) == 0)
        return &fuzz_key_sdk;
    return NULL;
}

/* The contract's string to sign, built whole (auth_sign streams it in
 * pieces: building it differently is the point of a reference). */
static unsigned char *ref_string(const char *method, const char *secret_id, const char *nonce,
                                 const char *timestamp, const char *uri, const char *body,
                                 size_t body_len, size_t *len)
{
    const char *head[] = {method, "\nX-TC-Key=", secret_id, "&X-TC-Nonce=", nonce,
                          "&X-TC-Timestamp=", timestamp, "\n", uri, "\n"};
    size_t n = body_len;
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++)
        n += strlen(head[i]);
    unsigned char *s = malloc(n + 1);
    if (s == NULL)
        fuzz_fail("out of memory");
    size_t at = 0;
    for (size_t i = 0; i < sizeof head / sizeof head[0]; i++) {
        size_t k = strlen(head[i]);
        memcpy(s + at, head[i], k);
        at += k;
    }
    if (body_len > 0)
        memcpy(s + at, body, body_len);
    *len = n;
    return s;
}

void fuzz_ref_sign(const char *secret_key, const char *method, const char *secret_id,
                   const char *nonce, const char *timestamp, const char *uri,
                   const char *body, size_t body_len, char out[AUTH_SIG_LEN + 1])
{
    size_t len;
    unsigned char *s = ref_string(method, secret_id, nonce, timestamp, uri, body, body_len, &len);
    unsigned char mac[32];
    unsigned int mac_len = 0;
    if (HMAC(EVP_sha256(), secret_key, (int)strlen(secret_key), s, len, mac, &mac_len) == NULL ||
        mac_len != sizeof mac)
        fuzz_fail("reference HMAC failed");
    free(s);

    char hex[65];
    for (size_t i = 0; i < sizeof mac; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);

    fuzz_base64(hex, 64, out);
    size_t o = strlen(out);
    if (o != AUTH_SIG_LEN)
        fuzz_fail("reference signature has %zu characters", o);
}
