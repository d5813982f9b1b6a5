/* The route table, and the steps every request goes through before its
 * handler: route, authenticate, rate-limit. */
#include "api/api.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <openssl/crypto.h>

#include "common/ids.h"

typedef struct api_route {
    const char *method;
    const char *pattern;   /* '*' matches one path segment, captured as a param */
    bool signed_only;      /* false: no authentication (health) */
    api_handler handler;
} api_route;

static const api_route api_routes[] = {
    /* First: the route a load balancer asks every second or so, and the
     * cheapest to answer; no other pattern matches its path. */
    {"GET", "/healthz", false, api_healthz},
    {"POST", "/v1/meetings", true, api_meeting_create},
    {"GET", "/v1/meetings", true, api_meetings_get},
    {"GET", "/v1/meetings/*", true, api_meeting_get},
    {"PUT", "/v1/meetings/*", true, api_meeting_update},
    {"POST", "/v1/meetings/*/cancel", true, api_meeting_cancel},
    {"POST", "/v1/meetings/*/dismiss", true, api_meeting_dismiss},
    {"GET", "/v1/meetings/*/participants", true, api_participants},
    /* The documented path, and the one the official SDKs send. */
    {"GET", "/v1/meetings/*/real_time_participants", true, api_realtime_participants},
    {"GET", "/v1/meetings/*/real-time-participants", true, api_realtime_participants},
    {"PUT", "/v1/real-control/meetings/*/kickout", true, api_kickout},
    {"PUT", "/v1/real-control/meetings/*/cohosts", true, api_cohosts},
    {"POST", "/meetd/v1/meetings/*/join", true, api_join},
    {"POST", "/meetd/v1/meetings/*/leave", true, api_leave},
    {"GET", "/meetd/v1/meetings/*/bans", true, api_bans_list},
    {"DELETE", "/meetd/v1/meetings/*/bans/*", true, api_bans_lift},
    {"GET", "/meetd/v1/meetings/*/audit", true, api_audit},
    {"POST", "/meetd/v1/webhooks", true, api_webhook_create},
    {"GET", "/meetd/v1/webhooks", true, api_webhooks_list},
    {"GET", "/meetd/v1/webhooks/deliveries", true, api_webhook_deliveries},
    {"DELETE", "/meetd/v1/webhooks/*", true, api_webhook_delete},
    {"GET", "/meetd/v1/events", false, api_events},
    {"GET", "/meetd/v1/j/*", false, api_join_page},
};

/* Matches path against pattern segment by segment. Empty segments are
 * skipped: Tencent's own example request has "//v1/...". */
static bool api_match(const char *pattern, const char *path, api_call *c)
{
    int n_param = 0;
    const char *p = pattern;
    const char *s = path;
    for (;;) {
        while (*p == '/')
            p++;
        while (*s == '/')
            s++;
        if (*p == '\0' || *s == '\0')
            break;
        size_t plen = strcspn(p, "/");
        size_t slen = strcspn(s, "/");
        if (plen == 1 && *p == '*') {
            if (n_param == API_PARAMS_MAX || slen >= API_PARAM_MAX)
                return false;
            memcpy(c->param[n_param], s, slen);
            c->param[n_param][slen] = '\0';
            n_param++;
        } else if (plen != slen || memcmp(p, s, plen) != 0) {
            return false;
        }
        p += plen;
        s += slen;
    }
    if (*p != '\0' || *s != '\0')
        return false;
    c->n_param = n_param;
    return true;
}

typedef struct api_key_query {
    const char *secret_id;
    auth_key *out;
    auth_lookup_rc rc;
} api_key_query;

static store_rc api_key_read(store_tx *tx, void *arg)
{
    api_key_query *q = arg;
    store_key key;
    store_app app;
    store_rc rc = store_key_get(tx, q->secret_id, &key, &app);
    if (rc != STORE_OK) {
        q->rc = rc == STORE_NOTFOUND ? AUTH_KEY_UNKNOWN : AUTH_KEY_FAILED;
        return STORE_OK;
    }
    snprintf(q->out->secret_key, sizeof q->out->secret_key, "%s", key.secret_key);
    snprintf(q->out->app_id, sizeof q->out->app_id, "%s", app.app_id);
    snprintf(q->out->sdk_id, sizeof q->out->sdk_id, "%s", app.sdk_id);
    OPENSSL_cleanse(&key, sizeof key);
    q->rc = AUTH_KEY_FOUND;
    return STORE_OK;
}

static auth_lookup_rc api_key_lookup(void *arg, const char *secret_id, auth_key *out)
{
    const api_env *env = arg;
    store_stamp stamp = {0, 0};
    int64_t now_ms = clock_mono_ms();
    if (env->keys != NULL) {
        store_keys_stamp(env->st, &stamp);
        if (auth_keycache_get(env->keys, secret_id, (uint64_t[2]){stamp.moves, stamp.file},
                              now_ms, out) == 0)
            return AUTH_KEY_FOUND;
    }
    api_key_query q = {secret_id, out, AUTH_KEY_FAILED};
    if (store_read(env->st, api_key_read, &q) != STORE_OK)
        return AUTH_KEY_FAILED;
    if (q.rc == AUTH_KEY_FOUND && env->keys != NULL)
        auth_keycache_put(env->keys, secret_id, (uint64_t[2]){stamp.moves, stamp.file}, now_ms,
                          out);
    return q.rc;
}

static meetd_err api_authenticate(api_call *c)
{
    auth_request r = {
        .method = c->method,
        .uri = c->raw_uri,
        .body = c->body,
        .body_len = c->body_len,
        .key = c->header(c->io, "X-TC-Key"),
        .timestamp = c->header(c->io, "X-TC-Timestamp"),
        .nonce = c->header(c->io, "X-TC-Nonce"),
        .signature = c->header(c->io, "X-TC-Signature"),
        .app_id = c->header(c->io, "AppId"),
        .sdk_id = c->header(c->io, "SdkId"),
        .access_token = c->header(c->io, "AccessToken"),
        .open_id = c->header(c->io, "OpenId"),
    };
    auth_identity who;
    meetd_err e = auth_verify(&r, api_key_lookup, (void *)c->env, c->env->replay, c->now, &who,
                              &c->err);
    if (e != ME_OK)
        return e;
    _Static_assert(sizeof c->app_id == sizeof who.app_id, "AppId sizes differ");
    memcpy(c->app_id, who.app_id, sizeof c->app_id);
    /* Without a replay memory (tests) nothing is spent durably either. */
    c->spend = c->env->replay != NULL;
    c->timestamp = who.timestamp;
    c->nonce = who.nonce;
    if (c->env->rl != NULL && !auth_ratelimit_allow(c->env->rl, c->app_id, clock_mono_ms()))
        return api_fail(c, ME_RATE_LIMITED, NULL);
    return ME_OK;
}

/* A signed read spends its triple in the store before it is answered
 * when other nodes serve the same store (store_spend_now): their replay
 * memories do not know it, and a write's spend (api_write_then) covers
 * writes only. On SQLite this spends nothing, and the replay memory that
 * auth_verify consulted is the process's, which serves every request. */
static meetd_err api_spend_read(api_call *c)
{
    if (!c->spend)
        return ME_OK;
    store_rc rc = store_spend_now(c->env->st, c->app_id, c->timestamp, c->nonce,
                                  c->now - AUTH_WINDOW);
    if (rc == STORE_CONFLICT)
        return api_fail(c, ME_REPLAY, NULL);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "spend_now");
    return ME_OK;
}

static meetd_err api_check_content_type(api_call *c)
{
    if (c->body_len == 0)
        return ME_OK;
    const char *ct = c->header(c->io, "Content-Type");
    static const char json[] = "application/json";
    if (ct != NULL && strncasecmp(ct, json, sizeof json - 1) == 0 &&
        (ct[sizeof json - 1] == '\0' || ct[sizeof json - 1] == ';' ||
         ct[sizeof json - 1] == ' '))
        return ME_OK;
    return api_fail(c, ME_INVALID, "Content-Type must be application/json");
}

void api_dispatch(api_call *c)
{
    const api_route *found = NULL;
    bool other_method = false;
    c->err.err = ME_OK;
    c->err.msg[0] = '\0';
    /* Every GET route answers HEAD: the same handler, the same status and
     * headers (libmicrohttpd sends no body for HEAD). A signed HEAD is
     * signed as HEAD (c->method), as sent on the request line. */
    const char *method = strcmp(c->method, "HEAD") == 0 ? "GET" : c->method;
    /* The routes of the request's method first (the first whose pattern
     * matches wins), and only when none does, the others' patterns, to
     * tell 405 from 404: matching a path costs far more than comparing a
     * method. */
    size_t n = sizeof api_routes / sizeof api_routes[0];
    for (size_t i = 0; i < n && found == NULL; i++)
        if (strcmp(api_routes[i].method, method) == 0 &&
            api_match(api_routes[i].pattern, c->path, c))
            found = &api_routes[i];
    for (size_t i = 0; i < n && found == NULL && !other_method; i++)
        if (strcmp(api_routes[i].method, method) != 0 &&
            api_match(api_routes[i].pattern, c->path, c))
            other_method = true;
    if (found == NULL) {
        if (other_method)
            api_fail(c, ME_METHOD, "method %s is not allowed for %s", c->method, c->path);
        else
            api_fail(c, ME_ROUTE, NULL);
        return;
    }
    if (found->signed_only) {
        if (api_authenticate(c) != ME_OK)
            return;
        if (api_check_content_type(c) != ME_OK)
            return;
        if (strcmp(found->method, "GET") == 0 && api_spend_read(c) != ME_OK)
            return;
    }
    found->handler(c);
}
