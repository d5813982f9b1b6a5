/* The client handle and the transport: one libcurl easy handle per call,
 * all of a client's handles sharing one connection, DNS and TLS session
 * cache under mutexes, so any number of threads may call at once and
 * consecutive calls reuse a connection. */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "client/client_int.h"

meet_rc meet_global_init(void)
{
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
        return MEET_EINTERNAL;
    if (meet_signer_ready() != MEET_OK) {
        curl_global_cleanup();
        return MEET_EINTERNAL;
    }
    return MEET_OK;
}

void meet_global_cleanup(void)
{
    /* The signer's HMAC handle stays: it is fetched once per process
     * (pthread_once) and cannot be fetched again after a release. */
    curl_global_cleanup();
}

/* ---- configuration ------------------------------------------------------------ */

static bool meet_is_blank(const char *s)
{
    return s == NULL || s[0] == '\0';
}

/* A value that goes into a header must be one printable line. */
static bool meet_header_value_ok(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f)
            return false;
    return true;
}

/* Splits "scheme://host[:port][/prefix][/]" into a base without the trailing
 * slash and the offset of the prefix. A query or fragment has no place in
 * an endpoint, and a stray byte would end up on the request line. */
static meet_rc meet_parse_endpoint(const char *ep, char **base, size_t *prefix_off)
{
    size_t host_at;
    if (strncasecmp(ep, "http://", 7) == 0)
        host_at = 7;
    else if (strncasecmp(ep, "https://", 8) == 0)
        host_at = 8;
    else
        return MEET_EINVAL;
    for (const unsigned char *p = (const unsigned char *)ep; *p != '\0'; p++)
        if (*p <= 0x20 || *p >= 0x7f || *p == '?' || *p == '#')
            return MEET_EINVAL;
    size_t host_len = strcspn(ep + host_at, "/");
    if (host_len == 0)
        return MEET_EINVAL;

    char *b = strdup(ep);
    if (b == NULL)
        return MEET_ENOMEM;
    size_t len = strlen(b);
    while (len > host_at + host_len && b[len - 1] == '/')
        b[--len] = '\0';
    *base = b;
    *prefix_off = host_at + host_len;
    return MEET_OK;
}

static int meet_dup_opt(const char *s, char **out)
{
    *out = NULL;
    if (meet_is_blank(s))
        return 0;
    *out = strdup(s);
    return *out == NULL ? -1 : 0;
}

static void meet_share_lock(CURL *h, curl_lock_data data, curl_lock_access access, void *arg)
{
    meet_client *c = arg;
    pthread_mutex_lock(&c->locks[data]);
}

static void meet_share_unlock(CURL *h, curl_lock_data data, void *arg)
{
    meet_client *c = arg;
    pthread_mutex_unlock(&c->locks[data]);
}

static meet_rc meet_share_new(meet_client *c)
{
    c->share = curl_share_init();
    if (c->share == NULL)
        return MEET_ENOMEM;
    int bad = curl_share_setopt(c->share, CURLSHOPT_LOCKFUNC, meet_share_lock) != CURLSHE_OK;
    bad |= curl_share_setopt(c->share, CURLSHOPT_UNLOCKFUNC, meet_share_unlock) != CURLSHE_OK;
    bad |= curl_share_setopt(c->share, CURLSHOPT_USERDATA, c) != CURLSHE_OK;
    bad |= curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT) != CURLSHE_OK;
    bad |= curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS) != CURLSHE_OK;
    bad |= curl_share_setopt(c->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION) != CURLSHE_OK;
    return bad ? MEET_EINTERNAL : MEET_OK;
}

static meet_rc meet_check_config(const meet_config *cfg, meet_error *err)
{
    if (cfg == NULL || meet_is_blank(cfg->endpoint))
        return meet_err_set(err, MEET_EINVAL, "no endpoint");
    if (meet_is_blank(cfg->secret_id) != meet_is_blank(cfg->secret_key))
        return meet_err_set(err, MEET_EINVAL, "a SecretId needs its SecretKey, and the reverse");
    const char *values[] = {cfg->app_id, cfg->sdk_id, cfg->secret_id, cfg->user_agent};
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++)
        if (values[i] != NULL && !meet_header_value_ok(values[i]))
            return meet_err_set(err, MEET_EINVAL, "a credential contains a control character");
    if (cfg->connect_timeout_ms < 0 || cfg->timeout_ms < 0)
        return meet_err_set(err, MEET_EINVAL, "negative timeout");
    return MEET_OK;
}

meet_rc meet_client_new(const meet_config *cfg, meet_client **out, meet_error *err)
{
    meet_err_clear(err);
    if (out == NULL)
        return meet_err_set(err, MEET_EINVAL, "no place for the client");
    *out = NULL;
    meet_rc rc = meet_check_config(cfg, err);
    if (rc != MEET_OK)
        return rc;

    meet_client *c = calloc(1, sizeof *c);
    if (c == NULL)
        return meet_err_set(err, MEET_ENOMEM, "out of memory");
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_init(&c->locks[i], NULL);
    c->connect_timeout_ms = cfg->connect_timeout_ms > 0 ? cfg->connect_timeout_ms
                                                        : MEET_DEFAULT_CONNECT_TIMEOUT_MS;
    c->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : MEET_DEFAULT_TIMEOUT_MS;

    rc = meet_parse_endpoint(cfg->endpoint, &c->base, &c->prefix_off);
    if (rc != MEET_OK) {
        meet_client_free(c);
        return meet_err_set(err, rc, rc == MEET_EINVAL
                                         ? "endpoint is not an http:// or https:// URL "
                                           "without query or fragment"
                                         : "out of memory");
    }
    int bad = meet_dup_opt(cfg->app_id, &c->app_id);
    bad |= meet_dup_opt(cfg->sdk_id, &c->sdk_id);
    bad |= meet_dup_opt(cfg->secret_id, &c->secret_id);
    bad |= meet_dup_opt(cfg->secret_key, &c->secret_key);
    bad |= meet_dup_opt(cfg->ca_file, &c->ca_file);
    bad |= meet_dup_opt(cfg->user_agent ? cfg->user_agent : "libmeet/" MEET_VERSION,
                        &c->user_agent);
    if (bad) {
        meet_client_free(c);
        return meet_err_set(err, MEET_ENOMEM, "out of memory");
    }
    rc = meet_share_new(c);
    if (rc != MEET_OK) {
        meet_client_free(c);
        return meet_err_set(err, rc, "cannot set up libcurl's shared cache");
    }
    *out = c;
    return MEET_OK;
}

void meet_client_free(meet_client *c)
{
    if (c == NULL)
        return;
    if (c->share != NULL)
        curl_share_cleanup(c->share);
    for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
        pthread_mutex_destroy(&c->locks[i]);
    if (c->secret_key != NULL)
        explicit_bzero(c->secret_key, strlen(c->secret_key));
    free(c->base);
    free(c->app_id);
    free(c->sdk_id);
    free(c->secret_id);
    free(c->secret_key);
    free(c->ca_file);
    free(c->user_agent);
    free(c);
}

/* ---- one exchange ----------------------------------------------------------- */

typedef struct meet_xfer {
    const meet_call *call;
    CURL *h;
    char *buf;
    size_t len, cap;
    bool too_large;
    char trace[MEET_TRACE_MAX];
} meet_xfer;

static size_t meet_on_body(char *data, size_t size, size_t nmemb, void *arg)
{
    meet_xfer *x = arg;
    size_t n = size * nmemb;
    if (x->len + n > MEET_MAX_RESPONSE) {
        x->too_large = true;
        return 0;
    }
    if (x->len + n + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 1024;
        while (cap < x->len + n + 1)
            cap *= 2;
        char *grown = realloc(x->buf, cap);
        if (grown == NULL)
            return 0;
        x->buf = grown;
        x->cap = cap;
    }
    memcpy(x->buf + x->len, data, n);
    x->len += n;
    x->buf[x->len] = '\0';
    return n;
}

static size_t meet_on_stream(char *data, size_t size, size_t nmemb, void *arg)
{
    meet_xfer *x = arg;
    return x->call->sink(x->h, data, size * nmemb, x->call->sink_arg);
}

static size_t meet_on_header(char *data, size_t size, size_t nmemb, void *arg)
{
    meet_xfer *x = arg;
    size_t n = size * nmemb;
    static const char name[] = "X-TC-Trace:";
    /* An interim answer (1xx) has headers of its own; keep the final one's. */
    if (n >= 5 && memcmp(data, "HTTP/", 5) == 0)
        x->trace[0] = '\0';
    if ((n == 2 && data[0] == '\r' && data[1] == '\n') || (n == 1 && data[0] == '\n')) {
        long status = 0;
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &status);
        if (status >= 200 && x->call->on_head != NULL)
            x->call->on_head(status, x->trace, x->call->sink_arg);
        return n;
    }
    if (n < sizeof name - 1 || strncasecmp(data, name, sizeof name - 1) != 0)
        return n;
    const char *v = data + sizeof name - 1;
    const char *end = data + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t'))
        end--;
    size_t len = (size_t)(end - v);
    if (len >= sizeof x->trace)
        len = sizeof x->trace - 1;
    memcpy(x->trace, v, len);
    x->trace[len] = '\0';
    return n;
}

static bool meet_method_ok(const char *m)
{
    size_t n = 0;
    for (; m[n] != '\0'; n++)
        if (m[n] < 'A' || m[n] > 'Z')
            return false;
    return n > 0 && n <= 16;
}

/* The URI is signed as given and must reach the request line unchanged:
 * printable ASCII only, no fragment, and libcurl must not tidy "/../". */
static bool meet_uri_ok(const char *u)
{
    if (u[0] != '/')
        return false;
    for (const unsigned char *p = (const unsigned char *)u; *p != '\0'; p++)
        if (*p <= 0x20 || *p >= 0x7f || *p == '#')
            return false;
    return true;
}

static void meet_set_method(CURL *h, const meet_call *call)
{
    if (call->body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, call->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)call->body_len);
        if (strcmp(call->method, "POST") != 0)
            curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call->method);
    } else if (strcmp(call->method, "GET") == 0) {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    } else if (strcmp(call->method, "POST") == 0) {
        /* An empty POST still carries Content-Length: 0. */
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)0);
    } else {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, call->method);
    }
}

static void meet_set_transport(CURL *h, const meet_client *c, const meet_call *call)
{
    curl_easy_setopt(h, CURLOPT_SHARE, c->share);
    /* The cache is shared, so its bound counts every thread's connections;
     * libcurl's default (5) would close connections busy threads still want. */
    curl_easy_setopt(h, CURLOPT_MAXCONNECTS, MEET_MAX_CONNECTIONS);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    /* A redirect would resend a signed request to a host nobody chose. */
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    if (c->ca_file != NULL)
        curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
    curl_easy_setopt(h, CURLOPT_USERAGENT, c->user_agent);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_timeout_ms);
    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
    if (call->stream) {
        /* No end to a healthy stream; a silent one is dead (the server sends
         * a heartbeat every 15 s). */
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 0L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
        curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    } else {
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
    }
}

static meet_rc meet_build_headers(meet_client *c, const meet_call *call, struct curl_slist **out)
{
    if (!call->sign)
        return meet_headers_plain(call->headers, out);
    if (c->secret_id == NULL)
        return MEET_EINVAL;
    char *signed_uri = NULL;
    if (asprintf(&signed_uri, "%s%s", c->base + c->prefix_off, call->uri) < 0)
        return MEET_ENOMEM;
    char nonce[MEET_NONCE_MAX];
    char ts[24];
    meet_nonce(nonce);
    snprintf(ts, sizeof ts, "%lld", (long long)time(NULL));
    meet_rc rc = meet_headers_signed(c, call->method, signed_uri, call->body, call->body_len,
                                     call->body != NULL, ts, nonce, call->headers, out);
    free(signed_uri);
    return rc;
}

static meet_rc meet_transport_error(meet_client *c, CURLcode cc, const char *errbuf,
                                    const meet_xfer *x, meet_error *err)
{
    if (x->too_large)
        return meet_err_set(err, MEET_EPROTO, "answer larger than %u bytes", MEET_MAX_RESPONSE);
    if (cc == CURLE_OUT_OF_MEMORY || cc == CURLE_WRITE_ERROR)
        return meet_err_set(err, MEET_ENOMEM, "out of memory reading the answer");
    /* The URI is left out: an event stream's carries the device token. */
    return meet_err_set(err, MEET_ETRANSPORT, "%s: %s", c->base,
                        errbuf[0] != '\0' ? errbuf : curl_easy_strerror(cc));
}

static meet_rc meet_finish(CURL *h, meet_xfer *x, meet_response *resp)
{
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (x->buf == NULL) {
        x->buf = calloc(1, 1);
        if (x->buf == NULL)
            return MEET_ENOMEM;
    }
    resp->http_status = status;
    resp->body = x->buf;
    resp->body_len = x->len;
    memcpy(resp->trace_id, x->trace, sizeof resp->trace_id);
    x->buf = NULL;
    return MEET_OK;
}

/* Runs the exchange on a prepared handle. */
static meet_rc meet_run(CURL *h, meet_client *c, const meet_call *call, const char *url,
                        struct curl_slist *headers, meet_response *resp, meet_error *err)
{
    meet_xfer x = {.call = call, .h = h};
    char errbuf[CURL_ERROR_SIZE] = "";
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, meet_on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, &x);
    if (call->stream && call->sink != NULL) {
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, meet_on_stream);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    } else {
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, meet_on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &x);
    }
    meet_set_transport(h, c, call);
    meet_set_method(h, call);

    meet_rc rc;
    CURLcode cc = curl_easy_perform(h);
    /* A sink that stops a stream makes libcurl report a write error; whether
     * that was a wish or a failure is the sink owner's to say. */
    if (cc != CURLE_OK && !(call->stream && call->sink != NULL && cc == CURLE_WRITE_ERROR))
        rc = meet_transport_error(c, cc, errbuf, &x, err);
    else if ((rc = meet_finish(h, &x, resp)) != MEET_OK)
        meet_err_set(err, rc, "out of memory");
    free(x.buf);
    if (rc == MEET_OK && err != NULL) {
        err->http_status = resp->http_status;
        memcpy(err->trace_id, resp->trace_id, sizeof err->trace_id);
    }
    return rc;
}

meet_rc meet_perform(meet_client *c, const meet_call *call, meet_response *resp,
                     meet_error *err)
{
    memset(resp, 0, sizeof *resp);
    meet_err_clear(err);
    if (c == NULL || call->method == NULL || call->uri == NULL || !meet_method_ok(call->method) ||
        !meet_uri_ok(call->uri))
        return meet_err_set(err, MEET_EINVAL, "bad method or URI");

    struct curl_slist *headers = NULL;
    meet_rc rc = meet_build_headers(c, call, &headers);
    if (rc != MEET_OK)
        return meet_err_set(err, rc, rc == MEET_EINVAL
                                         ? (c->secret_id == NULL ? "no credentials to sign with"
                                                                 : "a header line is malformed")
                                         : "cannot sign the request");
    char *url = NULL;
    CURL *h = NULL;
    if (asprintf(&url, "%s%s", c->base, call->uri) < 0) {
        url = NULL;
        rc = meet_err_set(err, MEET_ENOMEM, "out of memory");
    } else if ((h = curl_easy_init()) == NULL) {
        rc = meet_err_set(err, MEET_EINTERNAL, "cannot make a libcurl handle");
    } else {
        rc = meet_run(h, c, call, url, headers, resp, err);
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    free(url);
    return rc;
}

/* ---- the generic calls ----------------------------------------------------- */

void meet_response_release(meet_response *r)
{
    if (r == NULL)
        return;
    free(r->body);
    memset(r, 0, sizeof *r);
}

meet_rc meet_request_raw(meet_client *c, const char *method, const char *uri,
                         const char *body, size_t body_len, const char *const *headers,
                         meet_response *resp, meet_error *err)
{
    meet_response local;
    if (resp == NULL)
        resp = &local;
    if (body == NULL && body_len != 0) {
        memset(resp, 0, sizeof *resp);
        meet_err_clear(err);
        return meet_err_set(err, MEET_EINVAL, "body length without a body");
    }
    meet_call call = {.method = method, .uri = uri, .body = body, .body_len = body_len,
                      .headers = headers, .sign = true};
    meet_rc rc = meet_perform(c, &call, resp, err);
    if (rc == MEET_OK)
        rc = meet_error_from_response(resp->http_status, resp->body, resp->body_len,
                                      resp->trace_id, err);
    if (resp == &local)
        meet_response_release(&local);
    return rc;
}

meet_rc meet_json_result(const meet_response *resp, json_t **out, meet_error *err)
{
    *out = NULL;
    if (resp->body_len == 0) {
        /* Tencent documents some successes as an empty body. */
        *out = json_object();
        return *out != NULL ? MEET_OK : meet_err_set(err, MEET_ENOMEM, "out of memory");
    }
    json_error_t jerr;
    json_t *v = json_loadb(resp->body, resp->body_len, 0, &jerr);
    if (!json_is_object(v)) {
        json_decref(v);
        return meet_err_set(err, MEET_EPROTO, "HTTP %ld answer is not a JSON object%s%s",
                            resp->http_status, v == NULL ? ": " : "", v == NULL ? jerr.text : "");
    }
    *out = v;
    return MEET_OK;
}

/* Serialises once; the bytes signed are the bytes sent. */
static meet_rc meet_send_json(meet_client *c, const char *method, const char *uri,
                              const json_t *body, const char *const *headers, bool sign,
                              json_t **out, meet_error *err)
{
    char *text = NULL;
    *out = NULL;
    if (body != NULL) {
        text = json_dumps(body, JSON_COMPACT | JSON_ENCODE_ANY);
        if (text == NULL) {
            meet_err_clear(err);
            return meet_err_set(err, MEET_EINVAL, "body cannot be serialised as JSON");
        }
    }
    meet_call call = {.method = method, .uri = uri, .body = text,
                      .body_len = text != NULL ? strlen(text) : 0, .headers = headers,
                      .sign = sign};
    meet_response resp;
    meet_rc rc = meet_perform(c, &call, &resp, err);
    if (rc == MEET_OK)
        rc = meet_error_from_response(resp.http_status, resp.body, resp.body_len, resp.trace_id,
                                      err);
    if (rc == MEET_OK)
        rc = meet_json_result(&resp, out, err);
    meet_response_release(&resp);
    free(text);
    return rc;
}

meet_rc meet_request(meet_client *c, const char *method, const char *uri, const json_t *body,
                     const char *const *headers, json_t **out, meet_error *err)
{
    json_t *ignored = NULL;
    meet_rc rc = meet_send_json(c, method, uri, body, headers, true, out ? out : &ignored, err);
    json_decref(ignored);
    return rc;
}

meet_rc meet_healthz(meet_client *c, json_t **out, meet_error *err)
{
    json_t *ignored = NULL;
    meet_rc rc = meet_send_json(c, "GET", "/healthz", NULL, NULL, false, out ? out : &ignored,
                                err);
    json_decref(ignored);
    return rc;
}
