/* Errors: libmeet's own, and the Tencent error_info of an answer
 * (docs/api.md "Errors"). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"

#define MEET_BODY_EXCERPT 160   /* bytes of a non-JSON error body quoted in the message */

const char *meet_strerror(meet_rc rc)
{
    switch (rc) {
    case MEET_OK: return "success";
    case MEET_EAPI: return "API error";
    case MEET_ETRANSPORT: return "transport error";
    case MEET_EPROTO: return "unexpected answer";
    case MEET_EINVAL: return "invalid argument";
    case MEET_ENOMEM: return "out of memory";
    case MEET_EINTERNAL: return "internal error";
    }
    return "unknown error";
}

void meet_err_clear(meet_error *err)
{
    if (err != NULL)
        memset(err, 0, sizeof *err);
}

meet_rc meet_err_set(meet_error *err, meet_rc rc, const char *fmt, ...)
{
    if (err == NULL)
        return rc;
    err->rc = rc;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    return rc;
}

/* error_code is a number on the wire; a string of digits is taken too, since
 * a gateway in front of the API may quote it. */
static long long meet_json_code(const json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_string(v)) {
        char *end;
        long long n = strtoll(json_string_value(v), &end, 10);
        return *end == '\0' ? n : 0;
    }
    return 0;
}

/* A body that is not the API's JSON (a proxy's HTML page, say) is quoted in
 * the message, on one line and without control characters. */
static void meet_quote_body(char *out, size_t cap, long status, const char *body, size_t len)
{
    int n = snprintf(out, cap, "HTTP %ld", status);
    if (len == 0 || n < 0 || (size_t)n + 3 >= cap)
        return;
    size_t at = (size_t)n;
    out[at++] = ':';
    out[at++] = ' ';
    size_t take = len < MEET_BODY_EXCERPT ? len : MEET_BODY_EXCERPT;
    for (size_t i = 0; i < take && at + 1 < cap; i++) {
        unsigned char ch = (unsigned char)body[i];
        out[at++] = (ch < 0x20 || ch == 0x7f) ? ' ' : (char)ch;
    }
    out[at] = '\0';
}

static bool meet_fill_error_info(meet_error *err, const char *body, size_t len)
{
    json_t *root = len > 0 ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *info = json_object_get(root, "error_info");
    bool found = json_is_object(info);
    if (found) {
        err->error_code = meet_json_code(json_object_get(info, "error_code"));
        err->new_error_code = meet_json_code(json_object_get(info, "new_error_code"));
        const char *msg = json_string_value(json_object_get(info, "message"));
        if (msg != NULL && msg[0] != '\0')
            snprintf(err->message, sizeof err->message, "%s", msg);
        else
            snprintf(err->message, sizeof err->message, "HTTP %ld", err->http_status);
    }
    json_decref(root);
    return found;
}

meet_rc meet_error_from_response(long http_status, const char *body, size_t body_len,
                                 const char *trace, meet_error *err)
{
    meet_error local;
    if (err == NULL)
        err = &local;
    meet_err_clear(err);
    err->http_status = http_status;
    if (trace != NULL)
        snprintf(err->trace_id, sizeof err->trace_id, "%s", trace);
    if (body == NULL)
        body_len = 0;

    if (http_status >= 200 && http_status < 300)
        return err->rc = MEET_OK;
    err->rc = MEET_EAPI;
    if (!meet_fill_error_info(err, body, body_len))
        meet_quote_body(err->message, sizeof err->message, http_status, body, body_len);
    return MEET_EAPI;
}
