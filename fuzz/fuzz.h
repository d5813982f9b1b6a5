/* Shared pieces of the libFuzzer targets (docs/fuzzing.md).
 *
 * fuzz_keys.c   the fixed test keys, and a reference signer
 * fuzz_req.c    an HTTP request as text -> api_call, as libmicrohttpd would fill it
 * fuzz_world.c  a real store in a temp dir, the apps, a fresh fixture per input
 * fuzz_log.c    meetd's log.h, quiet unless MEETD_FUZZ_LOG=1
 *
 * Everything here aborts on a broken invariant of the harness itself (a
 * fixture that cannot be created): such a "crash" is a harness or store bug,
 * and the message says which. */
#ifndef MEETD_FUZZ_H
#define MEETD_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api/api.h"
#include "auth/auth.h"

/* The server clock of every fuzzed request: the timestamp of the signature
 * vectors, so that their seeds verify as they are. */
#define FUZZ_NOW INT64_C(1700000000)
#define FUZZ_NOW_STR "1700000000"

/* ---- fuzz_log.c ------------------------------------------------------- */

/* The last line meetd logged at error level ("" when none), to say why an
 * input ended in an internal error. */
const char *fuzz_last_error(void);
void fuzz_clear_error(void);

/* True when the check is named in MEETD_FUZZ_IGNORE (comma-separated:
 * "encode", "internal", "tenancy"), so that a long run can go on past a
 * finding that is known and awaits its fix. Sanitizer reports cannot be
 * ignored this way. */
bool fuzz_ignored(const char *check);

/* Prints the message and aborts: libFuzzer saves the input as a crash. */
void fuzz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

/* ---- fuzz_keys.c ------------------------------------------------------ */

typedef struct fuzz_key {
    const char *secret_id;
    const char *secret_key;
    const char *app_id;
    const char *sdk_id;      /* "" when the app has none */
} fuzz_key;

/* The app every fuzzed request signs for by default: the signature vectors'
 * key (tests/vectors/signature.json) with AppId 200000001. */
extern const fuzz_key fuzz_key_default;
/* A second app, with an SdkId: cross-tenant requests and the SdkId rules. */
extern const fuzz_key fuzz_key_sdk;

/* The key with this SecretId among the two above, or NULL. */
const fuzz_key *fuzz_key_find(const char *secret_id);

/* An independent implementation of the signature (OpenSSL's one-shot HMAC,
 * own hex and base64), to check auth_sign against. out: 88 chars and NUL. */
void fuzz_ref_sign(const char *secret_key, const char *method, const char *secret_id,
                   const char *nonce, const char *timestamp, const char *uri,
                   const char *body, size_t body_len, char out[AUTH_SIG_LEN + 1]);

/* ---- fuzz_req.c --------------------------------------------------------- */

#define FUZZ_HDR_MAX 32
#define FUZZ_ARG_MAX 32

typedef struct fuzz_pair {
    char *name;
    char *value;             /* NULL: a query argument without '=' */
} fuzz_pair;

/* A request as the HTTP layer hands it over: method, the raw URI (signed),
 * the decoded path, decoded query arguments, trimmed headers, the body. */
typedef struct fuzz_req {
    char *method;
    char *raw_uri;
    char *path;
    fuzz_pair hdr[FUZZ_HDR_MAX];
    int n_hdr;
    fuzz_pair arg[FUZZ_ARG_MAX];
    int n_arg;
    char *body;              /* exactly body_len bytes, no NUL after them */
    size_t body_len;
} fuzz_req;

/* Parses "METHOD URI\nName: value\n...\n\nbody" (a missing blank line means
 * no body). Returns 0, or -1 when there is no request line at all. */
int fuzz_req_parse(fuzz_req *r, const char *text, size_t len);
void fuzz_req_free(fuzz_req *r);

/* Only the query part of a URI ("a=1&b=2"), for targets that fuzz queries. */
void fuzz_req_set_query(fuzz_req *r, const char *query, size_t len);

/* Replaces or adds a header. */
void fuzz_req_set_header(fuzz_req *r, const char *name, const char *value);
const char *fuzz_req_header(const fuzz_req *r, const char *name);

/* Fills in what a well-behaved client sends and the input left out: X-TC-Key
 * (the default key), X-TC-Timestamp (FUZZ_NOW), X-TC-Nonce, AppId (the key's),
 * SdkId (when the key's app has one), Content-Type for a body, and last
 * X-TC-Signature, computed over exactly what the verifier will read with the
 * secret of the named key (the default key's when the name is unknown). An
 * X-TC-Signature given by the input is left alone: that tests bad ones. */
void fuzz_req_sign(fuzz_req *r);

/* An api_call on r (api_call.io points at r). The response half is empty. */
void fuzz_req_call(fuzz_req *r, const api_env *env, api_call *c);

/* ---- fuzz_world.c ------------------------------------------------------- */

/* Opens the store in a fresh temp dir (under /dev/shm when it exists) with
 * both apps, and the live hub. Call once, from LLVMFuzzerInitialize. */
void fuzz_world_init(void);
const api_env *fuzz_world_env(void);

/* Per input: makes sure the input meets the fixture (below) as created,
 * whatever the inputs before it did. A new fixture is made only after an
 * input that may have changed the old one (a successful call other than a
 * GET: failures change nothing, by the API's contract), which keeps the
 * store work per input low. After MEETD_FUZZ_RECYCLE fixtures (default
 * 1000) the store is replaced by an empty one, so that it stays small. */
void fuzz_world_begin(void);

/* The fixture, created by the real handlers:
 *   {Q}  a quick one-off meeting of alice, in progress, with
 *        1 alice@1 (creator), 2 bob@2 (co-host), 3 guest g1@3, 4 carol@9 (MRA)
 *        present, and 5 mallory, removed from @2 by alice and banned (so
 *        the meeting has a ban and an audit row)
 *   {R}  a recurring quick meeting of alice (3 daily occurrences) with
 *        hosts alice and bob, both present in the first occurrence (alice@1,
 *        bob@2); {Rsub} its sub_meeting_id
 *   {msN} {uuidN} {tokN}   ms_open_id, uuid, device token of user N of {Q}
 *   {RmsN} {RuuidN} {RtokN}  the same for user N (1, 2) of {R}
 *   {hook}  the id of the app's one webhook
 * fuzz_subst replaces these names, braces included, in text (the URI and
 * body of a request), so that the fuzzer can name things whose ids are
 * random. Returns a malloc'd copy and its length in *out_len. */
char *fuzz_subst(const char *text, size_t len, size_t *out_len);

/* Checks what every dispatched call must satisfy and releases its response
 * (and notes whether the fixture may have changed, by c->method):
 * the response can be encoded as the server would (a body that cannot be
 * encoded turns any answer into a 500), no internal error (a 500 for
 * client input is a bug), an event stream reads as SSE, a successful join
 * admitted a user who is in the meeting and not banned. Aborts otherwise. */
void fuzz_call_finish(api_call *c);

/* A handler call as the fixture makes it: app fuzz_key_default, no auth,
 * fixture names in the body substituted. Aborts when the call fails. */
json_t *fuzz_world_direct(api_handler h, const char *param0, const char *body);

/* True when id is the id of something of the default app in this input's
 * fixture ({Q}, {R}, {hook}): the other app must never get a 200 on it. */
bool fuzz_world_owned(const char *id);

/* ---- fuzz_sse_check.c ---------------------------------------------------- */

/* Reads a whole device event stream as an EventSource client would and
 * checks meetd's framing: the opening comment, then heartbeat comments and
 * event frames ("event: NAME\ndata: JSON\n\n", with the fields docs/api.md
 * gives for NAME), ended by nothing, by a final event (kicked, replaced,
 * meeting-ended) or by an end comment (": end left|superseded|shutdown"),
 * after which nothing may come. Aborts on a violation. Returns
 * {"events": [{"event": NAME, "data": {...}}...], "end": REASON or null}. */
json_t *fuzz_sse_check(const char *text, size_t len);

/* ---- fuzz_bytes.c --------------------------------------------------------- */

/* Reads typed values off the front of a fuzzer input; past the end every
 * read gives zeros, so any input is a complete program. */
typedef struct fuzz_bytes {
    const uint8_t *p;
    size_t n;
} fuzz_bytes;

uint8_t fuzz_u8(fuzz_bytes *b);
uint32_t fuzz_u32(fuzz_bytes *b);
uint64_t fuzz_u64(fuzz_bytes *b);
/* A length byte, then that many bytes (fewer at the end), as a C string of
 * at most cap - 1 bytes: an embedded NUL ends it, as it would in meetd. */
void fuzz_str(fuzz_bytes *b, char *out, size_t cap);

/* Standard base64 with padding, for checking meetd's encodings; out needs
 * 4 * ((len + 2) / 3) + 1 bytes. */
void fuzz_base64(const void *data, size_t len, char *out);

#endif
