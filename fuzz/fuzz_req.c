/* A request written as text, turned into what src/http/server.c hands to
 * api_dispatch. The text form keeps seeds readable and lets libFuzzer's
 * dictionaries work on header names and JSON:
 *
 *     PUT /v1/real-control/meetings/{Q}/kickout
 *     Prefer: return=representation
 *
 *     {"operator_id":"alice","operator_id_type":1,...}
 *
 * libmicrohttpd's behaviour is imitated where handlers can see it: header
 * values trimmed, names compared without case (query argument names too),
 * the first of repeated names wins, the path %-decoded up to '?', query
 * arguments split on '&' and '=' and decoded with '+' as space, an argument
 * without '=' has no value. */
#include "fuzz.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static char *dup_n(const char *s, size_t n)
{
    char *d = malloc(n + 1);
    if (d == NULL)
        fuzz_fail("out of memory");
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

static char *dup_s(const char *s) { return dup_n(s, strlen(s)); }

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* %XX decoding (and '+' as space when plus_space); a malformed escape stays
 * as it is. The result is a C string, so a %00 ends it, as it does for
 * libmicrohttpd's callers. */
static char *url_decode(const char *s, size_t n, bool plus_space)
{
    char *d = dup_n(s, n);
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int hi, lo;
        if (s[i] == '%' && i + 2 < n && (hi = hex_value(s[i + 1])) >= 0 &&
            (lo = hex_value(s[i + 2])) >= 0) {
            d[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else if (plus_space && s[i] == '+') {
            d[o++] = ' ';
        } else {
            d[o++] = s[i];
        }
    }
    d[o] = '\0';
    return d;
}

static bool is_space(char c) { return c == ' ' || c == '\t'; }

static void add_pair(fuzz_pair *arr, int *n, int max, char *name, char *value)
{
    if (*n == max) {
        free(name);
        free(value);
        return;
    }
    arr[*n].name = name;
    arr[*n].value = value;
    (*n)++;
}

void fuzz_req_set_query(fuzz_req *r, const char *q, size_t len)
{
    size_t i = 0;
    while (i < len) {
        size_t end = i;
        while (end < len && q[end] != '&')
            end++;
        if (end > i) {
            const char *eq = memchr(q + i, '=', end - i);
            size_t name_len = eq != NULL ? (size_t)(eq - (q + i)) : end - i;
            char *name = url_decode(q + i, name_len, true);
            char *value = eq != NULL ? url_decode(eq + 1, (size_t)(q + end - eq - 1), true) : NULL;
            add_pair(r->arg, &r->n_arg, FUZZ_ARG_MAX, name, value);
        }
        i = end + 1;
    }
}

/* "METHOD URI [VERSION]": returns false when there is no URI. */
static bool parse_request_line(fuzz_req *r, const char *line, size_t n)
{
    if (n > 0 && line[n - 1] == '\r')
        n--;
    const char *sp = memchr(line, ' ', n);
    if (sp == NULL || sp == line)
        return false;
    const char *uri = sp + 1;
    size_t rest = n - (size_t)(uri - line);
    const char *uri_end = memchr(uri, ' ', rest);
    size_t uri_len = uri_end != NULL ? (size_t)(uri_end - uri) : rest;
    if (uri_len == 0)
        return false;
    r->method = dup_n(line, (size_t)(sp - line));
    r->raw_uri = dup_n(uri, uri_len);
    /* The C strings end at a NUL, as libmicrohttpd's would. */
    size_t raw = strlen(r->raw_uri);
    const char *q = memchr(r->raw_uri, '?', raw);
    size_t path_len = q != NULL ? (size_t)(q - r->raw_uri) : raw;
    r->path = url_decode(r->raw_uri, path_len, false);
    if (q != NULL)
        fuzz_req_set_query(r, q + 1, raw - path_len - 1);
    return true;
}

static void parse_header_line(fuzz_req *r, const char *line, size_t n)
{
    const char *colon = memchr(line, ':', n);
    if (colon == NULL || colon == line)
        return;   /* libmicrohttpd refuses such a line; dropping it is close enough */
    const char *v = colon + 1;
    const char *end = line + n;
    while (v < end && is_space(*v))
        v++;
    while (end > v && (is_space(end[-1]) || end[-1] == '\r'))
        end--;
    add_pair(r->hdr, &r->n_hdr, FUZZ_HDR_MAX, dup_n(line, (size_t)(colon - line)),
             dup_n(v, (size_t)(end - v)));
}

int fuzz_req_parse(fuzz_req *r, const char *text, size_t len)
{
    memset(r, 0, sizeof *r);
    const char *p = text;
    const char *end = text + len;
    const char *nl = memchr(p, '\n', len);
    const char *line_end = nl != NULL ? nl : end;
    if (!parse_request_line(r, p, (size_t)(line_end - p))) {
        fuzz_req_free(r);
        return -1;
    }
    p = nl != NULL ? nl + 1 : end;
    while (p < end) {
        nl = memchr(p, '\n', (size_t)(end - p));
        line_end = nl != NULL ? nl : end;
        size_t n = (size_t)(line_end - p);
        if (n == 0 || (n == 1 && p[0] == '\r')) {
            /* The blank line: the rest is the body. */
            p = nl != NULL ? nl + 1 : end;
            r->body_len = (size_t)(end - p);
            if (r->body_len > 0) {
                /* Exactly body_len bytes and no NUL after them: api.h does
                 * not promise one, so a handler must not read past. */
                r->body = malloc(r->body_len);
                if (r->body == NULL)
                    fuzz_fail("out of memory");
                memcpy(r->body, p, r->body_len);
            }
            return 0;
        }
        parse_header_line(r, p, n);
        p = nl != NULL ? nl + 1 : end;
    }
    return 0;
}

static void free_pairs(fuzz_pair *arr, int n)
{
    for (int i = 0; i < n; i++) {
        free(arr[i].name);
        free(arr[i].value);
    }
}

void fuzz_req_free(fuzz_req *r)
{
    free(r->method);
    free(r->raw_uri);
    free(r->path);
    free_pairs(r->hdr, r->n_hdr);
    free_pairs(r->arg, r->n_arg);
    free(r->body);
    memset(r, 0, sizeof *r);
}

static const char *lookup(const fuzz_pair *arr, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcasecmp(arr[i].name, name) == 0)
            return arr[i].value;
    return NULL;
}

const char *fuzz_req_header(const fuzz_req *r, const char *name)
{
    return lookup(r->hdr, r->n_hdr, name);
}

void fuzz_req_set_header(fuzz_req *r, const char *name, const char *value)
{
    for (int i = 0; i < r->n_hdr; i++)
        if (strcasecmp(r->hdr[i].name, name) == 0) {
            free(r->hdr[i].value);
            r->hdr[i].value = dup_s(value);
            return;
        }
    if (r->n_hdr == FUZZ_HDR_MAX) {
        /* The last slot makes room: the fixed-up headers matter more. */
        r->n_hdr--;
        free(r->hdr[r->n_hdr].name);
        free(r->hdr[r->n_hdr].value);
    }
    add_pair(r->hdr, &r->n_hdr, FUZZ_HDR_MAX, dup_s(name), dup_s(value));
}

void fuzz_req_sign(fuzz_req *r)
{
    if (fuzz_req_header(r, "X-TC-Key") == NULL)
        fuzz_req_set_header(r, "X-TC-Key", fuzz_key_default.secret_id);
    const char *key_id = fuzz_req_header(r, "X-TC-Key");
    const fuzz_key *k = fuzz_key_find(key_id);
    if (k == NULL)
        k = &fuzz_key_default;
    if (fuzz_req_header(r, "X-TC-Timestamp") == NULL)
        fuzz_req_set_header(r, "X-TC-Timestamp", FUZZ_NOW_STR);
    if (fuzz_req_header(r, "X-TC-Nonce") == NULL)
        fuzz_req_set_header(r, "X-TC-Nonce", "1");
    if (fuzz_req_header(r, "AppId") == NULL)
        fuzz_req_set_header(r, "AppId", k->app_id);
    if (k->sdk_id[0] != '\0' && fuzz_req_header(r, "SdkId") == NULL)
        fuzz_req_set_header(r, "SdkId", k->sdk_id);
    if (r->body_len > 0 && fuzz_req_header(r, "Content-Type") == NULL)
        fuzz_req_set_header(r, "Content-Type", "application/json");
    if (fuzz_req_header(r, "X-TC-Signature") != NULL)
        return;
    char sig[AUTH_SIG_LEN + 1];
    /* Read back after the set_header calls: the slot-making above may have
     * dropped one, and the verifier reads whatever is there now. */
    key_id = fuzz_req_header(r, "X-TC-Key");
    const char *nonce = fuzz_req_header(r, "X-TC-Nonce");
    const char *ts = fuzz_req_header(r, "X-TC-Timestamp");
    if (key_id == NULL || nonce == NULL || ts == NULL)
        return;
    if (auth_sign(k->secret_key, r->method, key_id, nonce, ts, r->raw_uri,
                  r->body != NULL ? r->body : "", r->body_len, sig) != 0)
        fuzz_fail("auth_sign failed");
    fuzz_req_set_header(r, "X-TC-Signature", sig);
}

static const char *io_header(void *io, const char *name)
{
    const fuzz_req *r = io;
    return lookup(r->hdr, r->n_hdr, name);
}

static const char *io_query(void *io, const char *name)
{
    const fuzz_req *r = io;
    return lookup(r->arg, r->n_arg, name);
}

void fuzz_req_call(fuzz_req *r, const api_env *env, api_call *c)
{
    memset(c, 0, sizeof *c);
    c->env = env;
    c->method = r->method;
    c->path = r->path;
    c->raw_uri = r->raw_uri;
    c->body = r->body != NULL ? r->body : "";
    c->body_len = r->body_len;
    c->trace_id = "f0220000000000000000000000000001";
    c->header = io_header;
    c->query = io_query;
    c->io = r;
    c->now = FUZZ_NOW;
}
