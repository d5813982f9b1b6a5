/* fuzz_auth: request authentication (auth_verify), the signer (auth_sign)
 * and the comparison (auth_signature_equal), each held against an oracle
 * written from the documented rules rather than from the code.
 *
 * Input:
 *   byte 0  bits 0-1  the signature: 0 as given, 1 the correct one, 2 the
 *                     correct one with one character changed, 3 the correct
 *                     one for the body without its last byte
 *           bits 2-4  the server clock: FUZZ_NOW, or the request's timestamp
 *                     moved by 0, +300, -300, +301, -301, or far away
 *           bit 5     with a replay memory (capacity 2, so it evicts)
 *           bit 6     then more signed requests, and the first one again
 *   byte 1  a bit per header: set means absent (NULL), in the order below
 *   byte 2  where to change the signature (mode 2); how many more requests
 *   then, separated by '\n': method, URI, X-TC-Key, X-TC-Timestamp,
 *   X-TC-Nonce, X-TC-Signature, AppId, SdkId, AccessToken, OpenId; the rest
 *   is the body.
 *
 * The key lookup knows the two fuzz apps and three odd keys: AKIDmax (the
 * longest secret and AppId), AKIDraw (fills every array without a NUL, which
 * auth_verify must cope with) and AKIDfail (the lookup fails). */
#include "fuzz.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define N_FIELDS 10
#define REPLAY_CAPACITY 2
/* auth/replay.c refuses clocks this far out as not of this era. */
#define REPLAY_TIME_LIMIT (INT64_MAX / 4)

enum { F_METHOD, F_URI, F_KEY, F_TS, F_NONCE, F_SIG, F_APP, F_SDK, F_TOKEN, F_OPENID };

typedef struct oracle_key {
    const char *id;
    char secret[65];
    char app[33];
    char sdk[33];
} oracle_key;

static oracle_key keys[4];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    if (auth_init() != 0)
        fuzz_fail("auth_init failed");
    const fuzz_key *fk[] = {&fuzz_key_default, &fuzz_key_sdk};
    for (int i = 0; i < 2; i++) {
        keys[i].id = fk[i]->secret_id;
        snprintf(keys[i].secret, sizeof keys[i].secret, "%s", fk[i]->secret_key);
        snprintf(keys[i].app, sizeof keys[i].app, "%s", fk[i]->app_id);
        snprintf(keys[i].sdk, sizeof keys[i].sdk, "%s", fk[i]->sdk_id);
    }
    keys[2].id = "AKIDmax";
    memset(keys[2].secret, 'k', 64);
    memset(keys[2].app, '9', 32);
    /* What auth_verify makes of AKIDraw's unterminated arrays: each cut one
     * short of its size. */
    keys[3].id = "AKIDraw";
    memset(keys[3].secret, 'S', 64);
    memset(keys[3].app, 'A', 32);
    memset(keys[3].sdk, 'D', 32);
    return 0;
}

static const oracle_key *key_find(const char *id)
{
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
        if (id != NULL && strcmp(id, keys[i].id) == 0)
            return &keys[i];
    return NULL;
}

static auth_lookup_rc lookup(void *arg, const char *secret_id, auth_key *out)
{
    if (strcmp(secret_id, "AKIDfail") == 0)
        return AUTH_KEY_FAILED;
    if (strcmp(secret_id, "AKIDraw") == 0) {
        memset(out->secret_key, 'S', sizeof out->secret_key);
        memset(out->app_id, 'A', sizeof out->app_id);
        memset(out->sdk_id, 'D', sizeof out->sdk_id);
        return AUTH_KEY_FOUND;
    }
    const oracle_key *k = key_find(secret_id);
    if (k == NULL)
        return AUTH_KEY_UNKNOWN;
    snprintf(out->secret_key, sizeof out->secret_key, "%s", k->secret);
    snprintf(out->app_id, sizeof out->app_id, "%s", k->app);
    snprintf(out->sdk_id, sizeof out->sdk_id, "%s", k->sdk);
    return AUTH_KEY_FOUND;
}

/* ---- the oracle: docs/api.md "Authentication", in its order ------------- */

static bool present(const char *v) { return v != NULL && v[0] != '\0'; }

/* 1..max decimal digits, value in *v (saturating above UINT64_MAX). */
static bool digits(const char *s, size_t max, unsigned __int128 *v)
{
    size_t n = strlen(s);
    if (n == 0 || n > max)
        return false;
    *v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        *v = *v * 10 + (unsigned)(s[i] - '0');
    }
    return true;
}

static meetd_err predict(const auth_request *q, int64_t now, bool replay_on)
{
    if (!present(q->key) && (present(q->access_token) || present(q->open_id)))
        return ME_UNAUTHORIZED;
    if (!present(q->key) || !present(q->timestamp) || !present(q->nonce) ||
        !present(q->signature) || !present(q->app_id))
        return ME_UNAUTHORIZED;
    unsigned __int128 nonce, ts;
    if (!digits(q->nonce, 20, &nonce) || nonce == 0 || nonce > UINT64_MAX)
        return ME_UNAUTHORIZED;
    if (strcmp(q->key, "AKIDfail") == 0)
        return ME_INTERNAL;
    const oracle_key *k = key_find(q->key);
    if (k == NULL)
        return ME_UNAUTHORIZED;
    if (strcmp(q->app_id, k->app) != 0)
        return ME_UNAUTHORIZED;
    if (k->sdk[0] != '\0' ? !present(q->sdk_id) || strcmp(q->sdk_id, k->sdk) != 0
                          : present(q->sdk_id))
        return ME_UNAUTHORIZED;
    char sig[AUTH_SIG_LEN + 1];
    fuzz_ref_sign(k->secret, q->method, q->key, q->nonce, q->timestamp, q->uri, q->body,
                  q->body_len, sig);
    if (strcmp(sig, q->signature) != 0)
        return ME_BAD_SIGNATURE;
    /* Unix seconds: an int64, whatever the clock says. */
    if (!digits(q->timestamp, 19, &ts) || ts > INT64_MAX)
        return ME_TS_SKEW;
    __int128 d = (__int128)ts - now;
    if (d > AUTH_WINDOW || d < -AUTH_WINDOW)
        return ME_TS_SKEW;
    if (replay_on && (now > REPLAY_TIME_LIMIT || now < -REPLAY_TIME_LIMIT))
        return ME_INTERNAL;
    return ME_OK;
}

/* ---- building the request ---------------------------------------------------- */

typedef struct input {
    char *field[N_FIELDS];
    const char *body;
    size_t body_len;
} input;

/* Splits at the first N_FIELDS newlines; missing fields are "". */
static void split(input *in, const char *p, size_t n)
{
    for (int i = 0; i < N_FIELDS; i++) {
        const char *nl = memchr(p, '\n', n);
        size_t len = nl != NULL ? (size_t)(nl - p) : n;
        in->field[i] = strndup(p, len);
        if (in->field[i] == NULL)
            fuzz_fail("out of memory");
        p += nl != NULL ? len + 1 : len;
        n -= nl != NULL ? len + 1 : len;
    }
    in->body = p;
    in->body_len = n;
}

static void free_input(input *in)
{
    for (int i = 0; i < N_FIELDS; i++)
        free(in->field[i]);
}

static void to_request(const input *in, uint8_t absent, auth_request *q)
{
    memset(q, 0, sizeof *q);
    q->method = in->field[F_METHOD];
    q->uri = in->field[F_URI];
    q->body = in->body;
    q->body_len = in->body_len;
    const char **h[] = {&q->key,    &q->timestamp, &q->nonce,        &q->signature,
                        &q->app_id, &q->sdk_id,    &q->access_token, &q->open_id};
    for (int i = 0; i < 8; i++)
        *h[i] = (absent >> i) & 1 ? NULL : in->field[F_KEY + i];
}

/* The signature the input asks for (byte 0, bits 0-1), into in->field[F_SIG]. */
static void choose_signature(input *in, int mode, uint8_t where)
{
    if (mode == 0)
        return;
    const oracle_key *k = key_find(in->field[F_KEY]);
    const char *secret = k != NULL ? k->secret : keys[0].secret;
    size_t body_len = mode == 3 && in->body_len > 0 ? in->body_len - 1 : in->body_len;
    char sig[AUTH_SIG_LEN + 1];
    if (auth_sign(secret, in->field[F_METHOD], in->field[F_KEY], in->field[F_NONCE],
                  in->field[F_TS], in->field[F_URI], in->body, body_len, sig) != 0)
        fuzz_fail("auth_sign failed");
    if (mode == 2)
        sig[where % AUTH_SIG_LEN] ^= 0x01;
    free(in->field[F_SIG]);
    in->field[F_SIG] = strdup(sig);
    if (in->field[F_SIG] == NULL)
        fuzz_fail("out of memory");
}

/* The server clock (byte 0, bits 2-4), around the request's timestamp so
 * that the window's edges are reached. */
static int64_t choose_now(const char *ts_text, int choice)
{
    unsigned __int128 ts = 0;
    if (!digits(ts_text, 19, &ts))
        ts = 0;
    static const int offsets[] = {0, 0, 300, -300, 301, -301};
    __int128 now;
    if (choice == 0)
        now = FUZZ_NOW;
    else if (choice < 6)
        now = (__int128)ts + offsets[choice];
    else if (choice == 6)
        now = -(__int128)ts;
    else
        now = (__int128)INT64_MAX - (__int128)(ts % 1000);
    if (now > INT64_MAX)
        now = INT64_MAX;
    if (now < INT64_MIN)
        now = INT64_MIN;
    return (int64_t)now;
}

/* ---- checks -------------------------------------------------------------------- */

static const char *err_name(meetd_err e)
{
    static char buf[16];
    snprintf(buf, sizeof buf, "%d", (int)e);
    return buf;
}

static meetd_err verify_checked(const auth_request *q, auth_replay *replay, int64_t now)
{
    auth_identity who = {.app_id = "unset"};
    const char *app = who.app_id;
    meetd_error err;
    memset(&err, 0x5a, sizeof err);
    meetd_err rc = auth_verify(q, lookup, NULL, replay, now, &who, &err);
    if (err.err != rc)
        fuzz_fail("auth_verify returned %d but recorded %d", (int)rc, (int)err.err);
    if (memchr(err.msg, '\0', sizeof err.msg) == NULL)
        fuzz_fail("auth_verify left an unterminated message");
    if (rc == ME_OK) {
        const oracle_key *k = key_find(q->key);
        if (k == NULL || strcmp(app, k->app) != 0)
            fuzz_fail("auth_verify accepted key %s but says AppId %s", q->key, app);
    }
    return rc;
}

/* The signer against the reference, and the comparison against strcmp. */
static void check_signer(const input *in)
{
    const oracle_key *k = key_find(in->field[F_KEY]);
    const char *secret = k != NULL ? k->secret : keys[0].secret;
    char a[AUTH_SIG_LEN + 1], b[AUTH_SIG_LEN + 1];
    if (auth_sign(secret, in->field[F_METHOD], in->field[F_KEY], in->field[F_NONCE],
                  in->field[F_TS], in->field[F_URI], in->body, in->body_len, a) != 0)
        fuzz_fail("auth_sign failed");
    fuzz_ref_sign(secret, in->field[F_METHOD], in->field[F_KEY], in->field[F_NONCE],
                  in->field[F_TS], in->field[F_URI], in->body, in->body_len, b);
    if (strcmp(a, b) != 0)
        fuzz_fail("auth_sign gives %s, the reference %s", a, b);
    const char *given = in->field[F_SIG];
    if (auth_signature_equal(a, given) != (strcmp(a, given) == 0))
        fuzz_fail("auth_signature_equal(%s, %s) is wrong", a, given);
    if (auth_signature_equal(a, NULL) || auth_signature_equal(NULL, given))
        fuzz_fail("auth_signature_equal accepted NULL");
}

/* Bit 6: other signed requests (new nonces, nearby seconds) fill and evict
 * the small memory; then the first request comes again. Whatever the memory
 * forgot, it must not accept the replay (auth.h: the bound can only refuse
 * honest requests, never accept a replay). */
static void replay_sequence(input *in, uint8_t absent, auth_replay *replay, int64_t now,
                            int extra)
{
    char *orig_nonce = in->field[F_NONCE], *orig_ts = in->field[F_TS];
    char *orig_sig = in->field[F_SIG];
    unsigned __int128 ts = 0;
    bool ts_ok = digits(orig_ts, 19, &ts) && ts <= INT64_MAX - 64;
    for (int i = 1; i <= extra; i++) {
        char nonce[32], tsb[32];
        snprintf(nonce, sizeof nonce, "%d", 1000 + i);
        snprintf(tsb, sizeof tsb, "%lld", (long long)(ts_ok ? (int64_t)ts + (i % 3) - 1 : i));
        in->field[F_NONCE] = nonce;
        in->field[F_TS] = tsb;
        in->field[F_SIG] = NULL;
        choose_signature(in, 1, 0);
        auth_request q;
        to_request(in, absent, &q);
        verify_checked(&q, replay, now);
        free(in->field[F_SIG]);
    }
    in->field[F_NONCE] = orig_nonce;
    in->field[F_TS] = orig_ts;
    in->field[F_SIG] = orig_sig;
    auth_request q;
    to_request(in, absent, &q);
    meetd_err rc = verify_checked(&q, replay, now);
    if (rc == ME_OK)
        fuzz_fail("a replayed request was accepted after %d others", extra);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    uint8_t flags = data[0], absent = data[1], param = data[2];
    input in;
    split(&in, (const char *)data + 3, size - 3);
    choose_signature(&in, flags & 3, param);
    check_signer(&in);

    int64_t now = choose_now(in.field[F_TS], (flags >> 2) & 7);
    bool replay_on = (flags & 0x20) != 0;
    auth_replay *replay = NULL;
    if (replay_on && auth_replay_new(REPLAY_CAPACITY, &replay) != 0)
        fuzz_fail("auth_replay_new failed");

    auth_request q;
    to_request(&in, absent, &q);
    meetd_err want = predict(&q, now, replay_on);
    meetd_err got = verify_checked(&q, replay, now);
    if (got != want)
        fuzz_fail("auth_verify says %d, the documented rules %s (now %lld)", (int)got,
                  err_name(want), (long long)now);
    if (replay_on && got == ME_OK) {
        if (verify_checked(&q, replay, now) != ME_REPLAY)
            fuzz_fail("the same request was accepted twice");
        if ((flags & 0x40) != 0)
            replay_sequence(&in, absent, replay, now, param % 8);
    }
    auth_replay_free(replay);
    free_input(&in);
    return 0;
}
