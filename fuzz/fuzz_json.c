/* fuzz_json: every endpoint's request decoding, handler by handler, without
 * routing and signing in the way (fuzz_router covers those).
 *
 * Input: byte 0 picks the endpoint, byte 1 the situation, the rest is the
 * endpoint's input with fixture names substituted ({Q}, {ms2}...):
 *   - endpoints with a body: the JSON body;
 *   - GET endpoints: the query string ("userid=alice&instanceid=1");
 *   - DELETE .../bans/{user} and /webhooks/{id}: the path segment.
 * Byte 1: bits 0-1 the meeting in the path ({Q}, {R}, a well-formed id of
 * no meeting, a malformed one); bit 2 acts as the second app (which must
 * never succeed on the first app's meetings: checked); bit 3 sends
 * "Prefer: return=representation".
 *
 * The same checks as fuzz_router follow every call (fuzz_call_finish). */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef enum input_kind { IN_BODY, IN_QUERY, IN_PARAM } input_kind;

typedef struct endpoint {
    api_handler handler;
    input_kind kind;
    bool meeting;          /* param[0] is a meeting id */
} endpoint;

static const endpoint endpoints[] = {
    {api_meeting_create, IN_BODY, false},
    {api_meeting_get, IN_QUERY, true},
    {api_meeting_cancel, IN_BODY, true},
    {api_meeting_dismiss, IN_BODY, true},
    {api_participants, IN_QUERY, true},
    {api_kickout, IN_BODY, true},
    {api_cohosts, IN_BODY, true},
    {api_join, IN_BODY, true},
    {api_leave, IN_BODY, true},
    {api_bans_list, IN_QUERY, true},
    {api_bans_lift, IN_PARAM, true},
    {api_audit, IN_QUERY, true},
    {api_webhook_create, IN_BODY, false},
    {api_webhooks_list, IN_QUERY, false},
    {api_webhook_delete, IN_PARAM, false},
    {api_webhook_deliveries, IN_QUERY, false},
    {api_events, IN_QUERY, false},
};

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_world_init();
    return 0;
}

static const char *meeting_param(uint8_t choice)
{
    static char id[CORE_OPAQUE_MAX + 1];
    static const char *const names[] = {"{Q}", "{R}", "1234567890123456789", "12ab"};
    size_t n;
    char *s = fuzz_subst(names[choice & 3], strlen(names[choice & 3]), &n);
    snprintf(id, sizeof id, "%s", s);
    free(s);
    return id;
}

static const char *prefer_header(void *io, const char *name)
{
    bool prefer = *(const bool *)io;
    return prefer && strcasecmp(name, "Prefer") == 0 ? "return=representation" : NULL;
}

static const char *no_query(void *io, const char *name) { return NULL; }

static fuzz_req query_req;

static const char *req_query(void *io, const char *name)
{
    for (int i = 0; i < query_req.n_arg; i++)
        if (strcasecmp(query_req.arg[i].name, name) == 0)
            return query_req.arg[i].value;
    return NULL;
}

/* Sets the endpoint's input on c; returns a buffer the call borrows. */
static char *set_input(api_call *c, const endpoint *e, char *text, size_t len)
{
    memset(&query_req, 0, sizeof query_req);
    if (e->kind == IN_BODY) {
        /* Exactly len bytes, no NUL after them, like fuzz_req's bodies. */
        char *body = len > 0 ? malloc(len) : NULL;
        if (len > 0) {
            if (body == NULL)
                fuzz_fail("out of memory");
            memcpy(body, text, len);
        }
        c->body = body != NULL ? body : "";
        c->body_len = len;
        return body;
    }
    if (e->kind == IN_QUERY) {
        fuzz_req_set_query(&query_req, text, len);
        c->query = req_query;
        return NULL;
    }
    /* A path segment: what api_match would capture (no '/', bounded). */
    size_t n = strcspn(text, "/");
    if (n >= API_PARAM_MAX)
        n = API_PARAM_MAX - 1;
    int slot = e->meeting ? 1 : 0;
    memcpy(c->param[slot], text, n);
    c->param[slot][n] = '\0';
    c->n_param = slot + 1;
    return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2 || size - 2 > API_BODY_MAX)
        return 0;
    const endpoint *e = &endpoints[data[0] % (sizeof endpoints / sizeof endpoints[0])];
    uint8_t how = data[1];
    bool other_app = (how & 4) != 0;
    bool prefer = (how & 8) != 0;

    fuzz_world_begin();
    size_t len;
    char *text = fuzz_subst((const char *)data + 2, size - 2, &len);

    api_call c;
    memset(&c, 0, sizeof c);
    c.env = fuzz_world_env();
    /* fuzz_call_finish takes a GET to change nothing. */
    c.method = e->kind == IN_QUERY ? "GET" : "POST";
    c.path = "/fuzz";
    c.raw_uri = "/fuzz";
    c.body = "";
    c.trace_id = "f0220000000000000000000000000002";
    c.header = prefer_header;
    c.query = no_query;
    c.io = &prefer;
    c.now = FUZZ_NOW;
    snprintf(c.app_id, sizeof c.app_id, "%s",
             other_app ? fuzz_key_sdk.app_id : fuzz_key_default.app_id);
    if (e->meeting) {
        snprintf(c.param[0], sizeof c.param[0], "%s", meeting_param(how));
        c.n_param = 1;
    }
    char *body = set_input(&c, e, text, len);
    /* The query lookup reads query_req, so io stays the Prefer flag. */
    e->handler(&c);
    if (other_app && c.err.err == ME_OK && c.n_param > 0 && fuzz_world_owned(c.param[0]) &&
        !fuzz_ignored("tenancy"))
        fuzz_fail("app %s got a 200 on %s of app %s", c.app_id, c.param[0],
                  fuzz_key_default.app_id);
    fuzz_call_finish(&c);
    fuzz_req_free(&query_req);
    free(body);
    free(text);
    return 0;
}
