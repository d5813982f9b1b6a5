/* Verifying a signed request, in the order auth.h and docs/api.md give. */
#include "auth/auth.h"

#include <string.h>

#include <openssl/crypto.h>

#define NONCE_MAX_DIGITS 20     /* UINT64_MAX has 20 */
#define TIMESTAMP_MAX_DIGITS 19

/* An empty header says as little as no header. */
static bool present(const char *value)
{
    return value != NULL && value[0] != '\0';
}

static bool all_digits(const char *s, size_t max_digits)
{
    size_t n = 0;
    for (; s[n] != '\0'; n++)
        if (s[n] < '0' || s[n] > '9' || n >= max_digits)
            return false;
    return n > 0;
}

/* 1..20 digits, at most UINT64_MAX, above zero. Leading zeros are allowed: the
 * replay memory compares nonces by value. */
static bool parse_nonce(const char *s, uint64_t *out)
{
    if (!all_digits(s, NONCE_MAX_DIGITS))
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return v > 0;
}

/* 1..19 digits; 19 nines do not overflow a uint64_t. */
static bool parse_timestamp(const char *s, uint64_t *out)
{
    if (!all_digits(s, TIMESTAMP_MAX_DIGITS))
        return false;
    uint64_t v = 0;
    for (; *s; s++)
        v = v * 10 + (unsigned)(*s - '0');
    *out = v;
    return true;
}

/* |now - ts| <= AUTH_WINDOW, worked out in unsigned arithmetic so that no
 * value of either can overflow. */
static bool in_window(uint64_t ts, int64_t now)
{
    if (ts > INT64_MAX)
        return false;
    if (now < 0) {
        uint64_t behind = (uint64_t)0 - (uint64_t)now;
        return behind <= AUTH_WINDOW && ts <= AUTH_WINDOW - behind;
    }
    uint64_t n = (uint64_t)now;
    uint64_t d = ts > n ? ts - n : n - ts;
    return d <= AUTH_WINDOW;
}

static meetd_err check_oauth(const auth_request *req, meetd_error *err)
{
    if (!present(req->key) && (present(req->access_token) || present(req->open_id)))
        return err_set(err, ME_UNAUTHORIZED,
                       "OAuth2.0 authentication (AccessToken/OpenId) is not supported "
                       "by this API; sign the request with X-TC-Key");
    return ME_OK;
}

static meetd_err check_present(const auth_request *req, meetd_error *err)
{
    const struct {
        const char *name;
        const char *value;
    } required[] = {
        {"X-TC-Key", req->key},
        {"X-TC-Timestamp", req->timestamp},
        {"X-TC-Nonce", req->nonce},
        {"X-TC-Signature", req->signature},
        {"AppId", req->app_id},
    };
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++)
        if (!present(required[i].value))
            return err_set(err, ME_UNAUTHORIZED, "missing header %s", required[i].name);
    return ME_OK;
}

static meetd_err check_app(const auth_request *req, const auth_key *key, meetd_error *err)
{
    if (strcmp(req->app_id, key->app_id) != 0)
        return err_set(err, ME_UNAUTHORIZED, "AppId does not match X-TC-Key");
    bool sdk_sent = present(req->sdk_id);
    if (key->sdk_id[0] != '\0') {
        if (!sdk_sent)
            return err_set(err, ME_UNAUTHORIZED, "missing header SdkId");
        if (strcmp(req->sdk_id, key->sdk_id) != 0)
            return err_set(err, ME_UNAUTHORIZED, "SdkId does not match AppId");
    } else if (sdk_sent) {
        return err_set(err, ME_UNAUTHORIZED, "SdkId given but this app has none");
    }
    return ME_OK;
}

static meetd_err check_signature(const auth_request *req, auth_key *key,
                                 meetd_error *err)
{
    char expected[AUTH_SIG_LEN + 1];
    meetd_err rc = ME_OK;
    /* The key cache's prepared key when there is one (no key schedule),
     * used up here. */
    auth_mac *m = key->mac;
    key->mac = NULL;
    int signed_rc = m != NULL
                        ? auth_sign_mac(m, req->method, req->key,
                                        req->nonce, req->timestamp, req->uri, req->body,
                                        req->body_len, expected)
                        : auth_sign(key->secret_key, req->method, req->key, req->nonce,
                                    req->timestamp, req->uri, req->body, req->body_len,
                                    expected);
    if (signed_rc != 0)
        rc = err_set(err, ME_INTERNAL, NULL);
    else if (!auth_signature_equal(expected, req->signature))
        rc = err_set(err, ME_BAD_SIGNATURE, "Signature failed");
    OPENSSL_cleanse(expected, sizeof expected);
    return rc;
}

static meetd_err check_timestamp(const char *value, int64_t now, int64_t *ts_out,
                                 meetd_error *err)
{
    uint64_t ts;
    if (!parse_timestamp(value, &ts))
        return err_set(err, ME_TS_SKEW, "X-TC-Timestamp must be Unix seconds");
    if (!in_window(ts, now))
        return err_set(err, ME_TS_SKEW, NULL);
    *ts_out = (int64_t)ts;
    return ME_OK;
}

/* Everything after the lookup, so that the caller wipes the key on every path. */
static meetd_err verify_with_key(const auth_request *req, auth_key *key,
                                 uint64_t nonce, auth_replay *replay, int64_t now,
                                 int64_t *ts_out, meetd_error *err)
{
    meetd_err rc = check_app(req, key, err);
    if (rc == ME_OK)
        rc = check_signature(req, key, err);
    int64_t ts = 0;
    if (rc == ME_OK)
        rc = check_timestamp(req->timestamp, now, &ts, err);
    if (rc == ME_OK && replay != NULL) {
        rc = auth_replay_check(replay, key->app_id, ts, nonce, now);
        if (rc != ME_OK)
            err_set(err, rc, NULL);
    }
    *ts_out = ts;
    return rc;
}

meetd_err auth_verify(const auth_request *req, auth_lookup_fn lookup, void *lookup_arg,
                      auth_replay *replay, int64_t now, auth_identity *who, meetd_error *err)
{
    if (req == NULL || lookup == NULL || req->method == NULL || req->uri == NULL ||
        (req->body == NULL && req->body_len != 0))
        return err_set(err, ME_INTERNAL, NULL);

    meetd_err rc = check_oauth(req, err);
    if (rc == ME_OK)
        rc = check_present(req, err);
    if (rc != ME_OK)
        return rc;

    uint64_t nonce;
    if (!parse_nonce(req->nonce, &nonce))
        return err_set(err, ME_UNAUTHORIZED,
                       "X-TC-Nonce must be a positive decimal integer of at most 20 digits");

    auth_key key;
    memset(&key, 0, sizeof key);
    auth_lookup_rc found = lookup(lookup_arg, req->key, &key);
    /* The lookup fills fixed arrays; do not trust it to terminate them. */
    key.secret_key[sizeof key.secret_key - 1] = '\0';
    key.app_id[sizeof key.app_id - 1] = '\0';
    key.sdk_id[sizeof key.sdk_id - 1] = '\0';

    int64_t ts = 0;
    if (found == AUTH_KEY_FOUND)
        rc = verify_with_key(req, &key, nonce, replay, now, &ts, err);
    else if (found == AUTH_KEY_UNKNOWN)
        rc = err_set(err, ME_UNAUTHORIZED, "unknown X-TC-Key");
    else
        rc = err_set(err, ME_INTERNAL, NULL);

    if (rc == ME_OK) {
        if (who != NULL) {
            memcpy(who->app_id, key.app_id, sizeof key.app_id);
            who->timestamp = ts;
            who->nonce = nonce;
        }
        err_set(err, ME_OK, NULL);
    }
    auth_mac_free(key.mac);
    OPENSSL_cleanse(&key, sizeof key);
    return rc;
}
