/* Reading request bodies and building response values. */
#include "api/api.h"
#include "common/base64.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

meetd_err api_fail(api_call *c, meetd_err e, const char *fmt, ...)
{
    c->err.err = e;
    if (fmt == NULL) {
        snprintf(c->err.msg, sizeof c->err.msg, "%s", err_default_message(e));
    } else {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(c->err.msg, sizeof c->err.msg, fmt, ap);
        va_end(ap);
    }
    return e;
}

void *api_alloc(api_call *c, size_t size)
{
    void *p = calloc(1, size);
    if (p == NULL)
        api_fail(c, ME_INTERNAL, NULL);
    return p;
}

/* Whether a body jansson could not read failed for want of memory, which
 * is meetd's fault (5108), not the client's (190004). jansson says so only
 * sometimes: its lexer reports a failed allocation inside a token as a
 * syntax error. So, unless the error is one only a body makes, ask its
 * allocator for what reading the body needs: refused, the body was not to
 * blame. */
static bool api_parse_oom(const api_call *c, const json_error_t *jerr)
{
    if (json_error_code(jerr) == json_error_out_of_memory)
        return true;
    if (json_error_code(jerr) == json_error_duplicate_key)
        return false;
    json_malloc_t alloc;
    json_free_t release;
    json_get_alloc_funcs(&alloc, &release);
    void *probe = alloc(c->body_len + 1);
    if (probe == NULL)
        return true;
    release(probe);
    return false;
}

meetd_err api_body_object(api_call *c, json_t **out)
{
    json_error_t jerr;
    *out = NULL;
    if (c->body_len == 0)
        return api_fail(c, ME_INVALID, "request body is required");
    /* Duplicate keys are refused: two readers of one body must never
     * disagree about what it says. */
    json_t *root = json_loadb(c->body, c->body_len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL && api_parse_oom(c, &jerr))
        return api_fail(c, ME_INTERNAL, NULL);
    if (root == NULL)
        return api_fail(c, ME_INVALID, "malformed JSON body: %s", jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return api_fail(c, ME_INVALID, "request body must be a JSON object");
    }
    *out = root;
    return ME_OK;
}

static json_t *api_field(api_call *c, json_t *obj, const char *key, bool required,
                         bool *present, meetd_err *e)
{
    json_t *v = json_object_get(obj, key);
    /* Tencent's SDKs omit unset optional fields; a JSON null reads the same. */
    if (v != NULL && json_is_null(v))
        v = NULL;
    if (present != NULL)
        *present = v != NULL;
    *e = ME_OK;
    if (v == NULL && required)
        *e = api_fail(c, ME_INVALID, "%s is required", key);
    return v;
}

meetd_err api_field_str(api_call *c, json_t *obj, const char *key, bool required, char *buf,
                        size_t cap, bool *present)
{
    meetd_err e;
    json_t *v = api_field(c, obj, key, required, present, &e);
    if (v == NULL)
        return e;
    if (!json_is_string(v))
        return api_fail(c, ME_INVALID, "%s must be a string", key);
    size_t len = json_string_length(v);
    if (len >= cap)
        return api_fail(c, ME_INVALID, "%s is too long (at most %zu bytes)", key, cap - 1);
    memcpy(buf, json_string_value(v), len);
    buf[len] = '\0';
    return ME_OK;
}

meetd_err api_field_int(api_call *c, json_t *obj, const char *key, bool required,
                        long long *out, bool *present)
{
    meetd_err e;
    json_t *v = api_field(c, obj, key, required, present, &e);
    if (v == NULL)
        return e;
    if (!json_is_integer(v))
        return api_fail(c, ME_INVALID, "%s must be an integer", key);
    *out = json_integer_value(v);
    return ME_OK;
}

meetd_err api_field_bool(api_call *c, json_t *obj, const char *key, bool required, bool *out,
                         bool *present)
{
    meetd_err e;
    json_t *v = api_field(c, obj, key, required, present, &e);
    if (v == NULL)
        return e;
    if (!json_is_boolean(v))
        return api_fail(c, ME_INVALID, "%s must be true or false", key);
    *out = json_is_true(v);
    return ME_OK;
}

/* Strict decimal: digits only, no sign, no spaces, fits in int64. Leading
 * zeros count for nothing, however many ("0010" is 10): the value is judged,
 * not its spelling, so a number in range is never refused as out of range.
 * The scan is bounded by the request's own size. */
static bool api_parse_decimal(const char *s, long long *out)
{
    if (s == NULL || *s == '\0')
        return false;
    for (const char *p = s; *p; p++)
        if (*p < '0' || *p > '9')
            return false;
    while (s[0] == '0' && s[1] != '\0')
        s++;
    if (strlen(s) > 19)
        return false;
    errno = 0;
    long long v = strtoll(s, NULL, 10);
    if (errno != 0)
        return false;
    *out = v;
    return true;
}

meetd_err api_field_time(api_call *c, json_t *obj, const char *key, bool required,
                         int64_t *out, bool *present)
{
    char buf[32];
    bool have = false;
    meetd_err e = api_field_str(c, obj, key, required, buf, sizeof buf, &have);
    if (present != NULL)
        *present = have;
    if (e != ME_OK || !have)
        return e;
    long long v;
    if (!api_parse_decimal(buf, &v))
        return api_fail(c, ME_INVALID, "%s must be a string of Unix seconds", key);
    *out = v;
    return ME_OK;
}

meetd_err api_query_int(api_call *c, const char *name, long long min, long long max,
                        long long def, long long *out)
{
    const char *s = c->query(c->io, name);
    if (s == NULL || *s == '\0') {
        *out = def;
        return ME_OK;
    }
    long long v;
    if (!api_parse_decimal(s, &v) || v < min || v > max)
        return api_fail(c, ME_INVALID, "%s must be an integer from %lld to %lld", name, min,
                        max);
    *out = v;
    return ME_OK;
}

/* Times and ids go out as decimal strings. json_sprintf formats twice (to
 * measure, then to write) and checks the UTF-8 of digits; these are built
 * in every row of a participants page, so the digits are written once here
 * and handed over as they are. */
static json_t *api_decimal_json(int64_t v)
{
    char buf[24];
    int n = snprintf(buf, sizeof buf, "%lld", (long long)v);
    return n > 0 && (size_t)n < sizeof buf ? json_stringn_nocheck(buf, (size_t)n) : NULL;
}

json_t *api_time_json(int64_t t) { return api_decimal_json(t); }
json_t *api_id_json(int64_t id) { return api_decimal_json(id); }

const char *api_status_name(int status)
{
    switch (status) {
    case CORE_ST_STARTED: return "MEETING_STATE_STARTED";
    case CORE_ST_ENDED: return "MEETING_STATE_ENDED";
    case CORE_ST_CANCELLED: return "MEETING_STATE_CANCELLED";
    default: return "MEETING_STATE_INIT";
    }
}

int api_set_nonempty(json_t *obj, const char *key, const char *s)
{
    return s[0] == '\0' ? 0 : json_object_set_new(obj, key, json_string(s));
}

meetd_err api_out(api_call *c, json_t *v)
{
    /* NULL is what every jansson builder returns when memory runs out
     * (json_pack too, for a NULL 'o' value a helper returned): never a
     * 200 with `{}` or a part of the answer. */
    if (v == NULL)
        return api_fail(c, ME_INTERNAL, NULL);
    json_decref(c->out);
    c->out = v;
    /* The last answer set is the answer, whichever way it was set. */
    free(c->out_json);
    c->out_json = NULL;
    c->out_json_len = 0;
    c->out_text = NULL;
    return ME_OK;
}

json_t *api_response_body(const api_call *c, int *status)
{
    if (c->err.err == ME_OK) {
        *status = 200;
        if (c->out_json != NULL || c->out_text != NULL)
            return c->out_json != NULL ? json_loadb(c->out_json, c->out_json_len, 0, NULL)
                                       : json_loads(c->out_text, 0, NULL);
        return c->out != NULL ? json_incref(c->out) : json_object();
    }
    *status = err_http_status(c->err.err);
    const char *msg = c->err.msg[0] ? c->err.msg : err_default_message(c->err.err);
    /* A message may quote the request (a path, an id); JSON text must be
     * UTF-8, so one that is not falls back to the default. */
    if (!core_utf8_valid(msg, strlen(msg)))
        msg = err_default_message(c->err.err);
    return json_pack("{s:{s:i,s:I,s:s}}", "error_info", "error_code", err_code(c->err.err),
                     "new_error_code", (json_int_t)err_new_code(c->err.err), "message", msg);
}

/* ---- answers as text ------------------------------------------------------ */

meetd_err api_out_text(api_call *c, jtext *t)
{
    if (t->failed)
        return api_fail(c, ME_INTERNAL, NULL);
    json_decref(c->out);
    c->out = NULL;
    free(c->out_json);
    c->out_text = NULL;
    c->out_json = t->buf;
    c->out_json_len = t->len;
    memset(t, 0, sizeof *t);
    return ME_OK;
}
