/* fuzz_router: whole requests through api_dispatch, as the HTTP layer
 * would hand them over, against a real store.
 *
 * Input: a request as text (fuzz_req.c), e.g.
 *
 *     DELETE /meetd/v1/meetings/{Q}/bans/{ms5}
 *     X-TC-Nonce: 7
 *
 * or up to four of them, each after a line "~~~", run in order on the same
 * fixture (a removal, then the removed user's join).
 *
 * The harness signs it with the test key unless the input brings its own
 * X-TC-Signature (fuzz_req_sign), so most inputs get past authentication
 * and reach routing's path parameters, the handlers' body and query
 * decoding, the store and the live hub; {Q}, {ms2} and the like name this
 * input's fixture (fuzz_world.c). Replay memory and rate limit are off.
 *
 * Beyond the sanitizers it checks: no 500 for any input, every response can
 * be encoded, an opened event stream is well-formed SSE, and the second app
 * never gets a 200 on the first app's meetings or webhooks. */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>

#define REQUEST_SEP "\n~~~\n"
#define REQUESTS_MAX 4

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_world_init();
    return 0;
}

static void check_tenancy(const api_call *c)
{
    if (c->err.err != ME_OK || strcmp(c->app_id, fuzz_key_sdk.app_id) != 0 ||
        fuzz_ignored("tenancy"))
        return;
    /* param[0] is what a route acts on: a meeting, or a webhook. */
    if (c->n_param > 0 && fuzz_world_owned(c->param[0]))
        fuzz_fail("app %s got a 200 for %s %s, which names %s of app %s", c->app_id, c->method,
                  c->path, c->param[0], fuzz_key_default.app_id);
}

static void run_request(const char *text, size_t len)
{
    fuzz_req r;
    if (fuzz_req_parse(&r, text, len) != 0)
        return;
    /* The HTTP layer answers these itself and never dispatches them: a body
     * over the limit (413), a URI holding %00 (refused, connection closed). */
    if (r.body_len <= API_BODY_MAX && strcasestr(r.raw_uri, "%00") == NULL) {
        fuzz_req_sign(&r);
        api_call c;
        fuzz_req_call(&r, fuzz_world_env(), &c);
        api_dispatch(&c);
        check_tenancy(&c);
        fuzz_call_finish(&c);
    }
    fuzz_req_free(&r);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_world_begin();
    size_t len;
    char *text = fuzz_subst((const char *)data, size, &len);
    /* Up to REQUESTS_MAX requests in a row, on one fixture, so that one can
     * set up what the next one meets (remove, then rejoin). */
    const char *p = text, *end = text + len;
    for (int i = 0; i < REQUESTS_MAX && p < end; i++) {
        const char *sep = memmem(p, (size_t)(end - p), REQUEST_SEP, strlen(REQUEST_SEP));
        const char *stop = sep != NULL ? sep : end;
        run_request(p, (size_t)(stop - p));
        p = sep != NULL ? sep + strlen(REQUEST_SEP) : end;
    }
    free(text);
    return 0;
}
