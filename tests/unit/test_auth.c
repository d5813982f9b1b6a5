/* auth: the signature against the contract's vectors, and auth_verify's checks
 * in their order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <openssl/evp.h>

#include "auth/auth.h"
#include "vectors.h"

#define NOW INT64_C(1700000000)

/* ---- fake key store ------------------------------------------------------ */

typedef struct fake_key {
    const char *secret_id;
    const char *secret_key;
    const char *app_id;
    const char *sdk_id;
} fake_key;

/* The first is the key of the vectors; its app has no SdkId, as in vector 5. */
static const fake_key KEY_PLAIN = {"AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
                                   "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", "200000001", ""};
static const fake_key KEY_SDK = {"AKIDsdkKey0000000000000000000000000",
                                 "sdkSecretKey00000000000000000000", "200000002", "sdk-200000002"};
static const fake_key KEY_OTHER = {"AKIDotherKey00000000000000000000000",
                                   "otherSecretKey000000000000000000", "200000003", ""};
#define BROKEN_SECRET_ID "AKIDlookupFails"

static auth_lookup_rc fake_lookup(void *arg, const char *secret_id, auth_key *out)
{
    int *calls = arg;
    if (calls != NULL)
        (*calls)++;
    if (strcmp(secret_id, BROKEN_SECRET_ID) == 0)
        return AUTH_KEY_FAILED;
    const fake_key *keys[] = {&KEY_PLAIN, &KEY_SDK, &KEY_OTHER};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        if (strcmp(keys[i]->secret_id, secret_id) != 0)
            continue;
        snprintf(out->secret_key, sizeof out->secret_key, "%s", keys[i]->secret_key);
        snprintf(out->app_id, sizeof out->app_id, "%s", keys[i]->app_id);
        snprintf(out->sdk_id, sizeof out->sdk_id, "%s", keys[i]->sdk_id);
        return AUTH_KEY_FOUND;
    }
    return AUTH_KEY_UNKNOWN;
}

/* ---- building signed requests -------------------------------------------- */

typedef struct signed_req {
    auth_request req;
    char ts[32];
    char sig[AUTH_SIG_LEN + 1];
} signed_req;

static const char KICK_URI[] = "/v1/real-control/meetings/7567173273889276131/kickout";
static const char KICK_BODY[] = "{\"instanceid\":1,\"users\":[{\"uuid\":\"u1\",\"instanceid\":2}]}";

static void sign_with(signed_req *s, const char *secret_key)
{
    assert_int_equal(auth_sign(secret_key, s->req.method, s->req.key, s->req.nonce,
                               s->req.timestamp, s->req.uri, s->req.body, s->req.body_len,
                               s->sig),
                     0);
    s->req.signature = s->sig;
}

/* A correctly signed PUT for key k at timestamp ts. */
static void make_req(signed_req *s, const fake_key *k, int64_t ts, const char *nonce)
{
    memset(s, 0, sizeof *s);
    snprintf(s->ts, sizeof s->ts, "%lld", (long long)ts);
    s->req.method = "PUT";
    s->req.uri = KICK_URI;
    s->req.body = KICK_BODY;
    s->req.body_len = strlen(KICK_BODY);
    s->req.key = k->secret_id;
    s->req.timestamp = s->ts;
    s->req.nonce = nonce;
    s->req.app_id = k->app_id;
    s->req.sdk_id = k->sdk_id[0] != '\0' ? k->sdk_id : NULL;
    sign_with(s, k->secret_key);
}

/* Re-signs after a test changed a signed field. */
static void resign(signed_req *s, const fake_key *k)
{
    sign_with(s, k->secret_key);
}

static meetd_err verify_at(const signed_req *s, auth_replay *replay, int64_t now,
                           auth_identity *who, meetd_error *err)
{
    memset(err, 0, sizeof *err);
    return auth_verify(&s->req, fake_lookup, NULL, replay, now, who, err);
}

static void assert_no_secret_in(const meetd_error *err)
{
    const fake_key *keys[] = {&KEY_PLAIN, &KEY_SDK, &KEY_OTHER};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        assert_null(strstr(err->msg, keys[i]->secret_key));
}

/* Verifies s, expecting failure e with a message containing want (if given). */
static void expect_fail(const signed_req *s, meetd_err e, const char *want)
{
    meetd_error err;
    auth_identity who = {.app_id = "untouched"};
    meetd_err rc = verify_at(s, NULL, NOW, &who, &err);
    if (rc != e)
        fail_msg("expected error %d, got %d (%s)", (int)e, (int)rc, err.msg);
    assert_int_equal(err.err, e);
    if (want != NULL && strstr(err.msg, want) == NULL)
        fail_msg("message \"%s\" does not mention \"%s\"", err.msg, want);
    assert_no_secret_in(&err);
    assert_string_equal(who.app_id, "untouched");
}

static void expect_ok(const signed_req *s, auth_replay *replay, int64_t now)
{
    meetd_error err;
    auth_identity who;
    memset(&who, 0, sizeof who);
    meetd_err rc = verify_at(s, replay, now, &who, &err);
    if (rc != ME_OK)
        fail_msg("expected success, got %d (%s)", (int)rc, err.msg);
    assert_string_equal(who.app_id, s->req.app_id);
    /* What the request spent, as a write spends it again in the store. */
    assert_int_equal(who.timestamp, strtoll(s->req.timestamp, NULL, 10));
    assert_true(who.nonce == strtoull(s->req.nonce, NULL, 10));
}

/* ---- vectors --------------------------------------------------------------- */

static void hmac_hex_of(const char *key, const char *data, size_t len, char hex[65])
{
    unsigned char mac[32];
    size_t mac_len = 0;
    assert_non_null(EVP_Q_mac(NULL, "HMAC", NULL, "SHA256", NULL, key, strlen(key),
                              (const unsigned char *)data, len, mac, sizeof mac, &mac_len));
    assert_int_equal(mac_len, 32);
    for (size_t i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", mac[i]);
}

static void test_sign_vectors(void **state)
{
    (void)state;
    json_t *root = load_vectors();
    json_t *vectors = json_object_get(root, "vectors");
    size_t i;
    json_t *v;
    json_array_foreach(vectors, i, v) {
        json_t *body = json_object_get(v, "body");
        assert_true(json_is_string(body));
        char sig[AUTH_SIG_LEN + 1];
        assert_int_equal(auth_sign(vstr(v, "secret_key"), vstr(v, "method"),
                                   vstr(v, "secret_id"), vstr(v, "nonce"),
                                   vstr(v, "timestamp"), vstr(v, "uri"),
                                   json_string_value(body), json_string_length(body), sig),
                         0);
        assert_int_equal(strlen(sig), AUTH_SIG_LEN);
        assert_string_equal(sig, vstr(v, "signature"));

        /* The signature is base64 of the hex, not of the raw digest. */
        unsigned char decoded[AUTH_SIG_LEN];
        int n = EVP_DecodeBlock(decoded, (const unsigned char *)sig, AUTH_SIG_LEN);
        assert_int_equal(n, 66);    /* 64 bytes and two of padding */
        assert_memory_equal(decoded, vstr(v, "hmac_hex"), 64);

        /* The vector agrees with itself, by an HMAC done without auth_sign. */
        const char *sts = vstr(v, "string_to_sign");
        char hex[65];
        hmac_hex_of(vstr(v, "secret_key"), sts, strlen(sts), hex);
        assert_string_equal(hex, vstr(v, "hmac_hex"));
    }
    assert_int_equal(i, 5);
    json_decref(root);
}

/* URIs of every size a request line can carry are signed byte for byte,
 * checked against an HMAC done without auth_sign. */
static void test_sign_long_uris(void **state)
{
    (void)state;
    static char uri[5000], sts[5200];
    const size_t lengths[] = {1, 400, 440, 441, 442, 443, 511, 512, 513, 4900};
    for (size_t k = 0; k < sizeof lengths / sizeof lengths[0]; k++) {
        size_t n = lengths[k];
        uri[0] = '/';
        for (size_t i = 1; i < n; i++)
            uri[i] = (char)('a' + i % 26);
        uri[n] = '\0';
        char sig[AUTH_SIG_LEN + 1];
        assert_int_equal(auth_sign("key", "PUT", "AKIDexample", "1234567", "1700000000", uri,
                                   "{\"a\":1}", 7, sig), 0);
        int m = snprintf(sts, sizeof sts,
                         "PUT\nX-TC-Key=AKIDexample&X-TC-Nonce=1234567&X-TC-Timestamp=1700000000"
                         "\n%s\n{\"a\":1}", uri);
        char hex[65];
        hmac_hex_of("key", sts, (size_t)m, hex);
        unsigned char decoded[AUTH_SIG_LEN];
        assert_int_equal(EVP_DecodeBlock(decoded, (const unsigned char *)sig, AUTH_SIG_LEN), 66);
        if (memcmp(decoded, hex, 64) != 0)
            fail_msg("URI of %zu bytes: signed the wrong bytes", n);
    }
}

/* Bytes after a NUL in the body are signed too: the body is counted, not a string. */
static void test_sign_body_with_nul(void **state)
{
    (void)state;
    const char body[] = {'{', '}', '\0', 'x'};
    char sig[AUTH_SIG_LEN + 1], sig_short[AUTH_SIG_LEN + 1];
    assert_int_equal(auth_sign("k", "POST", "id", "1", "2", "/u", body, sizeof body, sig), 0);
    assert_int_equal(auth_sign("k", "POST", "id", "1", "2", "/u", body, 2, sig_short), 0);
    assert_string_not_equal(sig, sig_short);

    const char sts[] = "POST\nX-TC-Key=id&X-TC-Nonce=1&X-TC-Timestamp=2\n/u\n{}\0x";
    char hex[65];
    hmac_hex_of("k", sts, sizeof sts - 1, hex);
    unsigned char decoded[AUTH_SIG_LEN];
    assert_int_equal(EVP_DecodeBlock(decoded, (const unsigned char *)sig, AUTH_SIG_LEN), 66);
    assert_memory_equal(decoded, hex, 64);
}

static void test_sign_empty_body(void **state)
{
    (void)state;
    char a[AUTH_SIG_LEN + 1], b[AUTH_SIG_LEN + 1];
    assert_int_equal(auth_sign("k", "GET", "id", "1", "2", "/u", NULL, 0, a), 0);
    assert_int_equal(auth_sign("k", "GET", "id", "1", "2", "/u", "", 0, b), 0);
    assert_string_equal(a, b);
    assert_int_equal(auth_sign("k", "GET", "id", "1", "2", "/u", NULL, 3, b), -1);
}

static void test_sign_needs_init(void **state)
{
    (void)state;
    char sig[AUTH_SIG_LEN + 1];
    auth_shutdown();
    assert_int_equal(auth_sign("k", "GET", "id", "1", "2", "/u", "", 0, sig), -1);
    assert_int_equal(auth_init(), 0);
    assert_int_equal(auth_init(), 0);   /* a second call is harmless */
    assert_int_equal(auth_sign("k", "GET", "id", "1", "2", "/u", "", 0, sig), 0);
}

static void test_signature_equal(void **state)
{
    (void)state;
    char sig[AUTH_SIG_LEN + 1];
    assert_int_equal(auth_sign("k", "GET", "id", "1", "2", "/u", "", 0, sig), 0);
    char copy[AUTH_SIG_LEN + 1];
    memcpy(copy, sig, sizeof copy);
    assert_true(auth_signature_equal(sig, copy));

    copy[AUTH_SIG_LEN - 3] ^= 1;
    assert_false(auth_signature_equal(sig, copy));
    copy[AUTH_SIG_LEN - 3] ^= 1;
    copy[0] ^= 1;
    assert_false(auth_signature_equal(sig, copy));
    copy[0] ^= 1;

    copy[AUTH_SIG_LEN - 1] = '\0';      /* a prefix */
    assert_false(auth_signature_equal(sig, copy));
    char longer[AUTH_SIG_LEN + 2];
    snprintf(longer, sizeof longer, "%sA", sig);
    assert_false(auth_signature_equal(sig, longer));
    assert_false(auth_signature_equal(sig, ""));
    assert_false(auth_signature_equal(sig, NULL));
    assert_false(auth_signature_equal(NULL, sig));
}

/* ---- auth_verify ----------------------------------------------------------- */

/* Vector 5 byte for byte, as the official Python SDK sends it: SdkId is an empty
 * header and the app has no SdkId. */
static void test_verify_vector5(void **state)
{
    (void)state;
    json_t *root = load_vectors();
    json_t *v = json_array_get(json_object_get(root, "vectors"), 4);
    assert_non_null(strstr(vstr(v, "note"), "SdkId ''"));
    assert_string_equal(vstr(v, "secret_id"), KEY_PLAIN.secret_id);
    json_t *body = json_object_get(v, "body");
    auth_request req = {
        .method = vstr(v, "method"),
        .uri = vstr(v, "uri"),
        .body = json_string_value(body),
        .body_len = json_string_length(body),
        .key = vstr(v, "secret_id"),
        .timestamp = vstr(v, "timestamp"),
        .nonce = vstr(v, "nonce"),
        .signature = vstr(v, "signature"),
        .app_id = "200000001",
        .sdk_id = "",
    };
    auth_replay *replay;
    assert_int_equal(auth_replay_new(16, &replay), 0);
    meetd_error err;
    auth_identity who;
    assert_int_equal(auth_verify(&req, fake_lookup, NULL, replay, 1700000000, &who, &err), ME_OK);
    assert_string_equal(who.app_id, "200000001");
    assert_int_equal(err.err, ME_OK);
    /* And sent again, it is a replay. */
    assert_int_equal(auth_verify(&req, fake_lookup, NULL, replay, 1700000001, &who, &err),
                     ME_REPLAY);
    assert_int_equal(err.err, ME_REPLAY);
    auth_replay_free(replay);
    json_decref(root);
}

static void test_verify_ok_with_sdk_id(void **state)
{
    (void)state;
    signed_req s;
    make_req(&s, &KEY_SDK, NOW, "12345");
    assert_string_equal(s.req.sdk_id, KEY_SDK.sdk_id);
    expect_ok(&s, NULL, NOW);
}

static void test_verify_oauth(void **state)
{
    (void)state;
    auth_request req = {.method = "PUT", .uri = KICK_URI, .access_token = "tok",
                        .app_id = "200000001"};
    signed_req s = {.req = req};
    expect_fail(&s, ME_UNAUTHORIZED, "OAuth2.0");
    expect_fail(&s, ME_UNAUTHORIZED, "not supported");

    s.req.access_token = NULL;
    s.req.open_id = "open-1";
    expect_fail(&s, ME_UNAUTHORIZED, "OAuth2.0");
    s.req.key = "";     /* empty counts as absent */
    expect_fail(&s, ME_UNAUTHORIZED, "OAuth2.0");

    /* Empty OAuth headers are absent too: the complaint is the missing key. */
    s.req.key = NULL;
    s.req.open_id = "";
    s.req.access_token = "";
    expect_fail(&s, ME_UNAUTHORIZED, "missing header X-TC-Key");

    /* A properly signed request that also carries OAuth headers is fine. */
    make_req(&s, &KEY_PLAIN, NOW, "7");
    s.req.access_token = "tok";
    s.req.open_id = "open-1";
    expect_ok(&s, NULL, NOW);
}

static void test_verify_missing_headers(void **state)
{
    (void)state;
    static const struct {
        size_t offset;
        const char *name;
    } fields[] = {
        {offsetof(auth_request, key), "X-TC-Key"},
        {offsetof(auth_request, timestamp), "X-TC-Timestamp"},
        {offsetof(auth_request, nonce), "X-TC-Nonce"},
        {offsetof(auth_request, signature), "X-TC-Signature"},
        {offsetof(auth_request, app_id), "AppId"},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        char want[64];
        snprintf(want, sizeof want, "missing header %s", fields[i].name);
        const char *blank[] = {NULL, ""};
        for (size_t j = 0; j < 2; j++) {
            signed_req s;
            make_req(&s, &KEY_PLAIN, NOW, "99");
            const char **field = (const char **)((char *)&s.req + fields[i].offset);
            *field = blank[j];
            expect_fail(&s, ME_UNAUTHORIZED, want);
        }
    }
}

static void test_verify_bad_nonce(void **state)
{
    (void)state;
    const char *bad[] = {
        "0", "00", "-1", "+1", "abc", "12a", " 1", "1 ", "1.0", "0x10",
        "123456789012345678901",    /* 21 digits */
        "18446744073709551616",     /* UINT64_MAX + 1 */
        "99999999999999999999",
    };
    int calls = 0;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        signed_req s;
        make_req(&s, &KEY_PLAIN, NOW, bad[i]);  /* signed, so only the form is wrong */
        meetd_error err;
        assert_int_equal(auth_verify(&s.req, fake_lookup, &calls, NULL, NOW, NULL, &err),
                         ME_UNAUTHORIZED);
        if (strstr(err.msg, "X-TC-Nonce") == NULL)
            fail_msg("nonce \"%s\": message \"%s\"", bad[i], err.msg);
    }
    assert_int_equal(calls, 0);     /* refused before the key store is asked */

    const char *good[] = {"1", "18446744073709551615", "00000000000000000001", "1700000000000123456"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        signed_req s;
        make_req(&s, &KEY_PLAIN, NOW, good[i]);
        expect_ok(&s, NULL, NOW);
    }
}

static void test_verify_unknown_key(void **state)
{
    (void)state;
    signed_req s;
    make_req(&s, &KEY_PLAIN, NOW, "5");
    s.req.key = "AKIDnobodyHasThisKey";
    expect_fail(&s, ME_UNAUTHORIZED, "X-TC-Key");

    s.req.key = BROKEN_SECRET_ID;
    expect_fail(&s, ME_INTERNAL, NULL);
}

static void test_verify_app_id_mismatch(void **state)
{
    (void)state;
    signed_req s;
    make_req(&s, &KEY_PLAIN, NOW, "5");
    s.req.app_id = KEY_OTHER.app_id;
    resign(&s, &KEY_PLAIN);
    expect_fail(&s, ME_UNAUTHORIZED, "AppId");
    s.req.app_id = "2000000011";
    expect_fail(&s, ME_UNAUTHORIZED, "AppId");
}

static void test_verify_sdk_id(void **state)
{
    (void)state;
    signed_req s;
    make_req(&s, &KEY_SDK, NOW, "5");
    s.req.sdk_id = NULL;
    expect_fail(&s, ME_UNAUTHORIZED, "SdkId");
    s.req.sdk_id = "";
    expect_fail(&s, ME_UNAUTHORIZED, "SdkId");
    s.req.sdk_id = "sdk-200000003";
    expect_fail(&s, ME_UNAUTHORIZED, "SdkId");
    s.req.sdk_id = "sdk-2000000021";
    expect_fail(&s, ME_UNAUTHORIZED, "SdkId");

    /* An app without SdkId: "" and absent pass, anything else is refused. */
    make_req(&s, &KEY_PLAIN, NOW, "5");
    s.req.sdk_id = "";
    expect_ok(&s, NULL, NOW);
    s.req.sdk_id = NULL;
    expect_ok(&s, NULL, NOW);
    s.req.sdk_id = "sdk-200000002";
    expect_fail(&s, ME_UNAUTHORIZED, "SdkId");
}

static void test_verify_bad_signature(void **state)
{
    (void)state;
    signed_req s;
    make_req(&s, &KEY_PLAIN, NOW, "5");
    char good[AUTH_SIG_LEN + 1];
    memcpy(good, s.sig, sizeof good);

    s.sig[10] = s.sig[10] == 'A' ? 'B' : 'A';
    meetd_error err;
    assert_int_equal(verify_at(&s, NULL, NOW, NULL, &err), ME_BAD_SIGNATURE);
    assert_string_equal(err.msg, "Signature failed");
    assert_null(strstr(err.msg, good));

    /* Signed with another app's secret. */
    make_req(&s, &KEY_PLAIN, NOW, "5");
    resign(&s, &KEY_OTHER);
    expect_fail(&s, ME_BAD_SIGNATURE, "Signature failed");

    /* Each signed part matters. */
    make_req(&s, &KEY_PLAIN, NOW, "5");
    s.req.body_len--;
    expect_fail(&s, ME_BAD_SIGNATURE, NULL);
    make_req(&s, &KEY_PLAIN, NOW, "5");
    s.req.method = "POST";
    expect_fail(&s, ME_BAD_SIGNATURE, NULL);
    make_req(&s, &KEY_PLAIN, NOW, "5");
    s.req.uri = "/v1/real-control/meetings/7567173273889276132/kickout";
    expect_fail(&s, ME_BAD_SIGNATURE, NULL);
    make_req(&s, &KEY_PLAIN, NOW, "5");
    s.req.nonce = "05";     /* same value, other bytes */
    expect_fail(&s, ME_BAD_SIGNATURE, NULL);
    make_req(&s, &KEY_PLAIN, NOW, "5");
    s.req.timestamp = "1700000001";
    expect_fail(&s, ME_BAD_SIGNATURE, NULL);
    make_req(&s, &KEY_PLAIN, NOW, "5");
    s.sig[AUTH_SIG_LEN - 1] = '\0';
    expect_fail(&s, ME_BAD_SIGNATURE, NULL);

    /* The signature is checked before the window: a forged request with a stale
     * timestamp learns nothing about the window. */
    make_req(&s, &KEY_PLAIN, NOW - 1000, "5");
    s.sig[0] ^= 1;
    expect_fail(&s, ME_BAD_SIGNATURE, NULL);
}

static void test_verify_timestamp_form(void **state)
{
    (void)state;
    const char *bad[] = {"abc", "-1700000000", "+1700000000", "1700000000.0", " 1700000000",
                         "17000000000000000000", "1e9"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        signed_req s;
        make_req(&s, &KEY_PLAIN, NOW, "5");
        s.req.timestamp = bad[i];
        resign(&s, &KEY_PLAIN);
        meetd_error err;
        assert_int_equal(verify_at(&s, NULL, NOW, NULL, &err), ME_TS_SKEW);
        assert_string_equal(err.msg, "X-TC-Timestamp must be Unix seconds");
    }

    /* 19 digits is a well-formed number, just far outside the window. */
    signed_req s;
    make_req(&s, &KEY_PLAIN, NOW, "5");
    s.req.timestamp = "9999999999999999999";
    resign(&s, &KEY_PLAIN);
    expect_fail(&s, ME_TS_SKEW, "300");
    /* Leading zeros are still seconds. */
    s.req.timestamp = "01700000000";
    resign(&s, &KEY_PLAIN);
    expect_ok(&s, NULL, NOW);
}

static void test_verify_window_edges(void **state)
{
    (void)state;
    const struct {
        int64_t offset;
        meetd_err want;
    } cases[] = {
        {0, ME_OK}, {-300, ME_OK}, {300, ME_OK}, {-301, ME_TS_SKEW}, {301, ME_TS_SKEW},
        {-100000, ME_TS_SKEW}, {100000, ME_TS_SKEW},
    };
    auth_replay *replay;
    assert_int_equal(auth_replay_new(64, &replay), 0);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        signed_req s;
        make_req(&s, &KEY_PLAIN, NOW + cases[i].offset, "77");
        meetd_error err;
        meetd_err rc = verify_at(&s, replay, NOW, NULL, &err);
        if (rc != cases[i].want)
            fail_msg("offset %lld: got %d (%s)", (long long)cases[i].offset, (int)rc, err.msg);
    }
    /* Refused timestamps were not remembered; accepted ones were. */
    assert_int_equal(auth_replay_size(replay), 3);
    auth_replay_free(replay);
}

static void test_verify_replay(void **state)
{
    (void)state;
    auth_replay *replay;
    assert_int_equal(auth_replay_new(64, &replay), 0);

    signed_req s;
    make_req(&s, &KEY_PLAIN, NOW, "1700000000000123456");
    expect_ok(&s, replay, NOW);
    meetd_error err;
    assert_int_equal(verify_at(&s, replay, NOW + 10, NULL, &err), ME_REPLAY);
    assert_int_equal(err.err, ME_REPLAY);

    /* Same timestamp and nonce under another AppId. */
    signed_req other;
    make_req(&other, &KEY_OTHER, NOW, "1700000000000123456");
    expect_ok(&other, replay, NOW);
    assert_int_equal(verify_at(&other, replay, NOW, NULL, &err), ME_REPLAY);

    /* Same nonce, another timestamp: a new pair. */
    make_req(&s, &KEY_PLAIN, NOW + 1, "1700000000000123456");
    expect_ok(&s, replay, NOW);

    /* A nonce is compared by its value: 0042 after 42 is a replay. */
    make_req(&s, &KEY_PLAIN, NOW, "42");
    expect_ok(&s, replay, NOW);
    make_req(&s, &KEY_PLAIN, NOW, "0042");
    assert_int_equal(verify_at(&s, replay, NOW, NULL, &err), ME_REPLAY);
    auth_replay_free(replay);
}

static void test_verify_forgery_does_not_consume_nonce(void **state)
{
    (void)state;
    auth_replay *replay;
    assert_int_equal(auth_replay_new(64, &replay), 0);
    signed_req s;
    make_req(&s, &KEY_PLAIN, NOW, "31337");
    char good[AUTH_SIG_LEN + 1];
    memcpy(good, s.sig, sizeof good);

    s.sig[5] = s.sig[5] == 'x' ? 'y' : 'x';
    meetd_error err;
    assert_int_equal(verify_at(&s, replay, NOW, NULL, &err), ME_BAD_SIGNATURE);
    assert_int_equal(auth_replay_size(replay), 0);

    memcpy(s.sig, good, sizeof good);
    expect_ok(&s, replay, NOW);
    assert_int_equal(auth_replay_size(replay), 1);
    auth_replay_free(replay);
}

/* The checks answer in the documented order. */
static void test_verify_order(void **state)
{
    (void)state;
    signed_req s;
    /* OAuth before missing headers. */
    make_req(&s, &KEY_PLAIN, NOW, "5");
    s.req.key = NULL;
    s.req.nonce = NULL;
    s.req.access_token = "tok";
    expect_fail(&s, ME_UNAUTHORIZED, "OAuth2.0");
    /* Missing headers in the order of the table. */
    make_req(&s, &KEY_PLAIN, NOW, "5");
    s.req.nonce = NULL;
    s.req.app_id = NULL;
    expect_fail(&s, ME_UNAUTHORIZED, "X-TC-Nonce");
    /* Malformed nonce before the unknown key. */
    make_req(&s, &KEY_PLAIN, NOW, "0");
    s.req.key = "AKIDnobody";
    expect_fail(&s, ME_UNAUTHORIZED, "X-TC-Nonce");
    /* Unknown key before anything about the app. */
    make_req(&s, &KEY_PLAIN, NOW, "5");
    s.req.key = "AKIDnobody";
    s.req.app_id = "x";
    expect_fail(&s, ME_UNAUTHORIZED, "unknown X-TC-Key");
    /* AppId before the signature. */
    make_req(&s, &KEY_PLAIN, NOW, "5");
    s.req.app_id = "x";
    s.sig[0] ^= 1;
    expect_fail(&s, ME_UNAUTHORIZED, "AppId");
    /* Signature before a malformed timestamp. */
    make_req(&s, &KEY_PLAIN, NOW, "5");
    s.req.timestamp = "soon";
    expect_fail(&s, ME_BAD_SIGNATURE, NULL);
}

static void test_verify_internal(void **state)
{
    (void)state;
    signed_req s;
    make_req(&s, &KEY_PLAIN, NOW, "5");
    meetd_error err;
    assert_int_equal(auth_verify(&s.req, NULL, NULL, NULL, NOW, NULL, &err), ME_INTERNAL);
    s.req.method = NULL;
    assert_int_equal(auth_verify(&s.req, fake_lookup, NULL, NULL, NOW, NULL, &err), ME_INTERNAL);
    make_req(&s, &KEY_PLAIN, NOW, "5");
    s.req.body = NULL;
    assert_int_equal(auth_verify(&s.req, fake_lookup, NULL, NULL, NOW, NULL, &err), ME_INTERNAL);
    /* err may be NULL. */
    make_req(&s, &KEY_PLAIN, NOW, "5");
    assert_int_equal(auth_verify(&s.req, fake_lookup, NULL, NULL, NOW, NULL, NULL), ME_OK);
    s.req.key = "AKIDnobody";
    assert_int_equal(auth_verify(&s.req, fake_lookup, NULL, NULL, NOW, NULL, NULL),
                     ME_UNAUTHORIZED);
}

static int group_setup(void **state)
{
    (void)state;
    return auth_init();
}

static int group_teardown(void **state)
{
    (void)state;
    auth_shutdown();
    return 0;
}


/* ---- the key cache ------------------------------------------------------ */

static auth_key kc_key(const char *secret, const char *app)
{
    auth_key k;
    memset(&k, 0, sizeof k);
    snprintf(k.secret_key, sizeof k.secret_key, "%s", secret);
    snprintf(k.app_id, sizeof k.app_id, "%s", app);
    return k;
}

static void test_keycache_hit_and_stamp(void **state)
{
    (void)state;
    auth_keycache *kc = NULL;
    assert_int_equal(auth_keycache_new(16, 1000, &kc), 0);
    const uint64_t s1[2] = {7, 1}, s2[2] = {7, 2};
    auth_key out, k = kc_key("secret-1", "app1");
    assert_int_equal(auth_keycache_get(kc, "AKID1", s1, 100, &out), 1);   /* empty */
    auth_keycache_put(kc, "AKID1", s1, 100, &k);
    assert_int_equal(auth_keycache_get(kc, "AKID1", s1, 200, &out), 0);
    assert_string_equal(out.secret_key, "secret-1");
    assert_string_equal(out.app_id, "app1");
    /* With its key prepared for HMAC (a copy, the caller's): it signs as
     * the secret key itself does. */
    assert_non_null(out.mac);
    char want[AUTH_SIG_LEN + 1], got[AUTH_SIG_LEN + 1];
    assert_int_equal(auth_sign("secret-1", "PUT", "AKID1", "12345", "1700000000", "/v1/x?y=1",
                               "{\"a\":1}", 7, want), 0);
    assert_int_equal(auth_sign_mac(out.mac, "PUT", "AKID1", "12345", "1700000000", "/v1/x?y=1",
                                   "{\"a\":1}", 7, got), 0);
    assert_string_equal(got, want);
    /* A second copy from the same entry signs again (the entry's own is
     * untouched by the first). */
    assert_int_equal(auth_keycache_get(kc, "AKID1", s1, 200, &out), 0);
    assert_int_equal(auth_sign_mac(out.mac, "PUT", "AKID1", "12345", "1700000000", "/v1/x?y=1",
                                   "{\"a\":1}", 7, got), 0);
    assert_string_equal(got, want);
    assert_int_equal(auth_keycache_get(kc, "AKID2", s1, 200, &out), 1);
    /* The stamp moved (a rotation committed): nothing read before is kept. */
    assert_int_equal(auth_keycache_get(kc, "AKID1", s2, 200, &out), 1);
    assert_int_equal(auth_keycache_get(kc, "AKID1", s1, 200, &out), 1);
    auth_keycache_free(kc);
}

static void test_keycache_stale_put_ignored(void **state)
{
    (void)state;
    auth_keycache *kc = NULL;
    assert_int_equal(auth_keycache_new(16, 1000, &kc), 0);
    const uint64_t old[2] = {7, 1}, now[2] = {7, 2};
    auth_key out, k = kc_key("old-secret", "app1");
    /* A lookup that began before a rotation ends after another request saw
     * the new stamp: what it read must not be cached. */
    assert_int_equal(auth_keycache_get(kc, "AKID1", old, 100, &out), 1);
    assert_int_equal(auth_keycache_get(kc, "AKIDX", now, 100, &out), 1);
    auth_keycache_put(kc, "AKID1", old, 100, &k);
    assert_int_equal(auth_keycache_get(kc, "AKID1", now, 100, &out), 1);
    assert_int_equal(auth_keycache_get(kc, "AKID1", old, 100, &out), 1);
    auth_keycache_free(kc);
}

static void test_keycache_ttl_and_capacity(void **state)
{
    (void)state;
    auth_keycache *kc = NULL;
    assert_int_equal(auth_keycache_new(2, 1000, &kc), 0);
    const uint64_t s[2] = {1, 1};
    auth_key out, k = kc_key("s", "app");
    assert_int_equal(auth_keycache_get(kc, "AKID1", s, 0, &out), 1);      /* as a lookup does */
    auth_keycache_put(kc, "AKID1", s, 0, &k);
    assert_int_equal(auth_keycache_get(kc, "AKID1", s, 1000, &out), 0);
    auth_mac_free(out.mac);
    assert_int_equal(auth_keycache_get(kc, "AKID1", s, 1001, &out), 1);   /* expired */
    assert_int_equal(auth_keycache_get(kc, "AKID1", s, -5, &out), 1);     /* clock went back */
    auth_keycache_put(kc, "AKID1", s, 2000, &k);                          /* refreshed */
    assert_int_equal(auth_keycache_get(kc, "AKID1", s, 2500, &out), 0);
    auth_mac_free(out.mac);
    auth_keycache_put(kc, "AKID2", s, 2000, &k);
    auth_keycache_put(kc, "AKID3", s, 2000, &k);   /* over capacity: starts afresh */
    assert_int_equal(auth_keycache_get(kc, "AKID3", s, 2000, &out), 0);
    auth_mac_free(out.mac);
    assert_int_equal(auth_keycache_get(kc, "AKID1", s, 2000, &out), 1);
    char longid[AUTH_SECRET_ID_MAX + 2];
    memset(longid, 'A', sizeof longid - 1);
    longid[sizeof longid - 1] = '\0';
    auth_keycache_put(kc, longid, s, 2000, &k);     /* never cached */
    assert_int_equal(auth_keycache_get(kc, longid, s, 2000, &out), 1);
    auth_keycache_free(kc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keycache_hit_and_stamp),
        cmocka_unit_test(test_keycache_stale_put_ignored),
        cmocka_unit_test(test_keycache_ttl_and_capacity),
        cmocka_unit_test(test_sign_vectors),
        cmocka_unit_test(test_sign_body_with_nul),
        cmocka_unit_test(test_sign_long_uris),
        cmocka_unit_test(test_sign_empty_body),
        cmocka_unit_test(test_sign_needs_init),
        cmocka_unit_test(test_signature_equal),
        cmocka_unit_test(test_verify_vector5),
        cmocka_unit_test(test_verify_ok_with_sdk_id),
        cmocka_unit_test(test_verify_oauth),
        cmocka_unit_test(test_verify_missing_headers),
        cmocka_unit_test(test_verify_bad_nonce),
        cmocka_unit_test(test_verify_unknown_key),
        cmocka_unit_test(test_verify_app_id_mismatch),
        cmocka_unit_test(test_verify_sdk_id),
        cmocka_unit_test(test_verify_bad_signature),
        cmocka_unit_test(test_verify_timestamp_form),
        cmocka_unit_test(test_verify_window_edges),
        cmocka_unit_test(test_verify_replay),
        cmocka_unit_test(test_verify_forgery_does_not_consume_nonce),
        cmocka_unit_test(test_verify_order),
        cmocka_unit_test(test_verify_internal),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
