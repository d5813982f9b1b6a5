/* Device tokens. A token is "<device_no>.<secret>": the session's number,
 * then 64 lower-case hex characters of randomness. The store keeps only
 * SHA-256 of the secret. The number lets an event stream find its session
 * by primary key, so that no index over random token hashes has to be
 * written at every join and removal (two random B-tree pages of each; see
 * bench/README.md). It says nothing secret: session numbers are handed out
 * in order anyway.
 *
 * Tokens issued before schema version 3 are a bare secret; they are found
 * through the store's legacy_tokens table and parse here with number 0. */
#include "core/core.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

static bool token_secret_valid(const char *s, size_t len)
{
    if (len != CORE_TOKEN_SECRET_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

int core_token_format(char *out, size_t cap, int64_t device_no, const char *secret)
{
    assert(out != NULL && secret != NULL && cap > 0);
    if (device_no <= 0 || !token_secret_valid(secret, strlen(secret))) {
        out[0] = '\0';
        return -1;
    }
    int n = snprintf(out, cap, "%lld.%s", (long long)device_no, secret);
    if (n < 0 || (size_t)n >= cap) {
        out[0] = '\0';
        return -1;
    }
    return 0;
}

bool core_token_parse(const char *token, size_t len, int64_t *device_no, const char **secret)
{
    assert(token != NULL && device_no != NULL && secret != NULL);
    const char *dot = memchr(token, '.', len);
    if (dot == NULL) {
        *device_no = 0;
        *secret = token;
        return token_secret_valid(token, len);
    }
    size_t digits = (size_t)(dot - token);
    /* core_parse_meeting_id's rule: 1..19 digits, above zero, within int64. */
    char num[20];
    if (digits == 0 || digits >= sizeof num || token[0] == '0')
        return false;
    memcpy(num, token, digits);
    num[digits] = '\0';
    int64_t n;
    if (core_parse_meeting_id(num, &n) != ME_OK)
        return false;
    *device_no = n;
    *secret = dot + 1;
    return token_secret_valid(dot + 1, len - digits - 1);
}
