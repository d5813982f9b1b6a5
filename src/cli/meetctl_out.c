/* Output: JSON for scripts, aligned tables for people, errors on stderr.
 * Everything the server sends is cleaned before it reaches a terminal, so a
 * nick name cannot carry escape sequences.
 *
 * Two more forms are made for shell scripts, which otherwise copy ids by
 * hand or need jq: -q prints the one id the answer is about (M=$(meetctl
 * meeting create ... -q)), --shell PREFIX prints its fields as assignments
 * to eval. Both read the same record of the answer: the meeting itself for
 * meeting create/get/update (the answer wraps it in a list), the answer
 * otherwise. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/meetctl.h"

void meetctl_print_json(const json_t *v)
{
    size_t flags = isatty(STDOUT_FILENO) ? JSON_INDENT(2) : JSON_COMPACT;
    json_dumpf(v, stdout, flags | JSON_ENCODE_ANY);
    fputc('\n', stdout);
    fflush(stdout);
}

/* ---- -q and --shell ----------------------------------------------------------------- */

/* Where a command's answer keeps the record it is about, and its id. */
typedef struct meetctl_record {
    int (*run)(meetctl_ctx *ctx, int argc, char **argv);
    const char *list;   /* the record is the first element of this array; NULL: the answer */
    const char *id;     /* what -q prints; NULL: nothing */
} meetctl_record;

static const meetctl_record meetctl_records[] = {
    {meetctl_meeting_create, "meeting_info_list", "meeting_id"},
    {meetctl_meeting_get, "meeting_info_list", "meeting_id"},
    {meetctl_meeting_update, "meeting_info_list", "meeting_id"},
    {meetctl_meeting_list, "meeting_info_list", "meeting_id"},
    {meetctl_device_join, NULL, "ms_open_id"},
};

static const meetctl_record *meetctl_record_of(const meetctl_ctx *ctx)
{
    for (size_t i = 0; ctx->cmd != NULL && i < sizeof meetctl_records / sizeof meetctl_records[0];
         i++)
        if (meetctl_records[i].run == ctx->cmd->run)
            return &meetctl_records[i];
    return NULL;
}

static bool meetctl_shell_name_ok(const char *s, bool may_start_with_digit)
{
    for (const char *p = s; *p != '\0'; p++) {
        bool alpha = (*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || *p == '_';
        bool digit = *p >= '0' && *p <= '9';
        if (!alpha && !(digit && (p > s || may_start_with_digit)))
            return false;
    }
    return true;
}

int meetctl_output_check(meetctl_ctx *ctx)
{
    int modes = ctx->json + ctx->quiet + (ctx->shell != NULL);
    if (modes > 1)
        return meetctl_usage(ctx, "give at most one of --json, -q and --shell");
    if (ctx->shell != NULL && (strlen(ctx->shell) > 64 || !meetctl_shell_name_ok(ctx->shell, false)))
        return meetctl_usage(ctx, "--shell PREFIX is letters, digits and '_', not starting with "
                                  "a digit ('' for none), not '%s'", ctx->shell);
    /* Their output is a stream of events or a body as sent: no record. */
    if ((ctx->quiet || ctx->shell != NULL) && ctx->cmd != NULL &&
        (ctx->cmd->run == meetctl_device_watch || ctx->cmd->run == meetctl_request))
        return meetctl_usage(ctx, "-q and --shell do not apply to this command");
    return 0;
}

/* value in single quotes, each ' as '\'': the shell takes every other byte
 * literally, so nothing the server sends can run as a command. */
static void meetctl_shell_quote(FILE *f, const char *value)
{
    fputc('\'', f);
    for (const char *p = value; *p != '\0'; p++) {
        if (*p == '\'')
            fputs("'\\''", f);
        else
            fputc(*p, f);
    }
    fputc('\'', f);
}

static void meetctl_print_shell(const meetctl_ctx *ctx, const json_t *record)
{
    const char *key;
    json_t *v;
    json_object_foreach((json_t *)record, key, v) {
        char text[64];
        const char *value;
        if (json_is_string(v))
            value = json_string_value(v);
        else if (json_is_integer(v) || json_is_boolean(v) || json_is_real(v))
            value = meetctl_jtext(record, key, text, sizeof text);
        else if (json_is_null(v))
            value = "";
        else
            continue;   /* lists and objects have no one value */
        /* A field whose name cannot be a variable is left out, not mangled. */
        if (key[0] == '\0' || !meetctl_shell_name_ok(key, ctx->shell[0] != '\0'))
            continue;
        fputs(ctx->shell, stdout);
        for (const char *p = key; *p != '\0'; p++)
            fputc(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p, stdout);
        fputc('=', stdout);
        meetctl_shell_quote(stdout, value);
        fputc('\n', stdout);
    }
}

/* -q or --shell: prints the answer's record that way. */
static void meetctl_print_record(const meetctl_ctx *ctx, const json_t *out)
{
    const meetctl_record *r = meetctl_record_of(ctx);
    const json_t *record = out;
    if (r != NULL && r->list != NULL)
        record = json_array_get(json_object_get(out, r->list), 0);
    if (!json_is_object(record))
        return;
    if (ctx->shell != NULL) {
        meetctl_print_shell(ctx, record);
        return;
    }
    char id[256];
    if (r != NULL && r->id != NULL && meetctl_jtext(record, r->id, id, sizeof id)[0] != '\0')
        meetctl_say("%s", id);
}

/* ---- cleaning and measuring UTF-8 -------------------------------------------------- */

/* Decodes one UTF-8 sequence at s; returns its length, 0 when malformed. */
static size_t meetctl_utf8_next(const unsigned char *s, uint32_t *cp)
{
    unsigned char c = s[0];
    size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3
                        : (c & 0xf8) == 0xf0 ? 4 : 0;
    if (n == 0 || (n == 2 && c < 0xc2) || (n == 4 && c > 0xf4))
        return 0;
    uint32_t v = n == 1 ? c : (uint32_t)(c & (0x7f >> n));
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80)
            return 0;
        v = (v << 6) | (s[i] & 0x3f);
    }
    if ((n == 3 && (v < 0x800 || (v >= 0xd800 && v <= 0xdfff))) ||
        (n == 4 && (v < 0x10000 || v > 0x10ffff)))
        return 0;
    *cp = v;
    return n;
}

/* Columns a code point takes: East Asian wide and fullwidth forms take two. */
static int meetctl_cp_width(uint32_t cp)
{
    if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0x2e80 && cp <= 0xa4cf) ||
        (cp >= 0xac00 && cp <= 0xd7a3) || (cp >= 0xf900 && cp <= 0xfaff) ||
        (cp >= 0xfe30 && cp <= 0xfe4f) || (cp >= 0xff00 && cp <= 0xff60) ||
        (cp >= 0xffe0 && cp <= 0xffe6) || (cp >= 0x1f300 && cp <= 0x1faff) ||
        (cp >= 0x20000 && cp <= 0x3fffd))
        return 2;
    return 1;
}

char *meetctl_clean(const char *s)
{
    if (s == NULL)
        s = "";
    size_t len = strlen(s);
    char *out = malloc(len + 1);
    if (out == NULL)
        return NULL;
    const unsigned char *p = (const unsigned char *)s;
    size_t o = 0;
    while (*p != '\0') {
        uint32_t cp = 0;
        size_t n = meetctl_utf8_next(p, &cp);
        /* C0, DEL and C1 controls would be obeyed by the terminal. */
        if (n == 0 || cp < 0x20 || (cp >= 0x7f && cp < 0xa0)) {
            out[o++] = '?';
            p += n == 0 ? 1 : n;
            continue;
        }
        memcpy(out + o, p, n);
        o += n;
        p += n;
    }
    out[o] = '\0';
    return out;
}

static size_t meetctl_width(const char *s)
{
    size_t w = 0;
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        uint32_t cp = '?';
        size_t n = meetctl_utf8_next(p, &cp);
        w += (size_t)meetctl_cp_width(cp);
        p += n == 0 ? 1 : n;
    }
    return w;
}

static void meetctl_vsay(const char *fmt, va_list ap)
{
    char *text = NULL;
    if (vasprintf(&text, fmt, ap) < 0)
        return;
    char *clean = meetctl_clean(text);
    fputs(clean != NULL ? clean : "", stdout);
    fputc('\n', stdout);
    free(clean);
    free(text);
}

void meetctl_say(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    meetctl_vsay(fmt, ap);
    va_end(ap);
}

int meetctl_finish(meetctl_ctx *ctx, json_t *out, int (*show)(const json_t *))
{
    int rc = 0;
    if (ctx->json)
        meetctl_print_json(out);
    else if (ctx->quiet || ctx->shell != NULL)
        meetctl_print_record(ctx, out);
    else
        rc = show(out) != 0 ? MEETCTL_EXIT_API : 0;
    json_decref(out);
    return rc;
}

int meetctl_finish_say(meetctl_ctx *ctx, json_t *out, const char *fmt, ...)
{
    if (ctx->json) {
        meetctl_print_json(out);
    } else if (ctx->quiet || ctx->shell != NULL) {
        meetctl_print_record(ctx, out);
    } else {
        va_list ap;
        va_start(ap, fmt);
        meetctl_vsay(fmt, ap);
        va_end(ap);
    }
    json_decref(out);
    return 0;
}

void meetctl_page_footer(const json_t *out, size_t shown, const char *noun)
{
    long long total = (long long)json_integer_value(json_object_get(out, "total_count"));
    if (json_is_true(json_object_get(out, "has_remaining")))
        printf("%zu of %lld %ss; more with --pos %lld\n", shown, total, noun,
               (long long)json_integer_value(json_object_get(out, "next_pos")));
    else
        printf("%lld %s%s\n", total, noun, total == 1 ? "" : "s");
}

/* ---- errors --------------------------------------------------------------------------- */

int meetctl_fail(meetctl_ctx *ctx, const meet_error *err)
{
    char *msg = meetctl_clean(err->message);
    char *trace = meetctl_clean(err->trace_id);
    const char *m = msg != NULL ? msg : "";
    if (err->rc == MEET_EAPI && err->error_code != 0)
        fprintf(stderr, "%s: error %lld (HTTP %ld): %s%s%s%s\n", ctx->name, err->error_code,
                err->http_status, m, trace && trace[0] ? " [trace " : "",
                trace && trace[0] ? trace : "", trace && trace[0] ? "]" : "");
    else if (err->rc == MEET_EAPI)
        fprintf(stderr, "%s: %s%s%s%s\n", ctx->name, m, trace && trace[0] ? " [trace " : "",
                trace && trace[0] ? trace : "", trace && trace[0] ? "]" : "");
    else
        fprintf(stderr, "%s: %s: %s\n", ctx->name, meet_strerror(err->rc), m);
    free(msg);
    free(trace);
    return MEETCTL_EXIT_API;
}

/* ---- tables --------------------------------------------------------------------------- */

void meetctl_table_init(meetctl_table *t, size_t ncols, const char *const *heads)
{
    memset(t, 0, sizeof *t);
    t->ncols = ncols;
    t->heads = heads;
}

void meetctl_table_add(meetctl_table *t, const char *const *row)
{
    if (t->failed)
        return;
    if (t->nrows == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 16;
        char **grown = realloc(t->cells, cap * t->ncols * sizeof *grown);
        if (grown == NULL) {
            t->failed = true;
            return;
        }
        t->cells = grown;
        t->cap = cap;
    }
    char **cells = t->cells + t->nrows * t->ncols;
    for (size_t i = 0; i < t->ncols; i++) {
        cells[i] = meetctl_clean(row[i]);
        if (cells[i] == NULL) {
            for (size_t j = 0; j < i; j++)
                free(cells[j]);
            t->failed = true;
            return;
        }
    }
    t->nrows++;
}

static void meetctl_pad(FILE *f, const char *s, size_t width, bool last)
{
    fputs(s, f);
    if (last)
        return;
    for (size_t w = meetctl_width(s); w < width + 2; w++)
        fputc(' ', f);
}

static void meetctl_table_free(meetctl_table *t)
{
    for (size_t i = 0; i < t->nrows * t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    memset(t, 0, sizeof *t);
}

int meetctl_table_flush(meetctl_table *t, FILE *f)
{
    if (t->failed) {
        meetctl_table_free(t);
        fputs("meetctl: out of memory\n", stderr);
        return 1;
    }
    size_t width[16] = {0};
    size_t ncols = t->ncols < 16 ? t->ncols : 16;
    for (size_t c = 0; c < ncols; c++) {
        if (t->heads != NULL)
            width[c] = strlen(t->heads[c]);
        for (size_t r = 0; r < t->nrows; r++) {
            size_t w = meetctl_width(t->cells[r * t->ncols + c]);
            if (w > width[c])
                width[c] = w;
        }
    }
    if (t->heads != NULL) {
        for (size_t c = 0; c < ncols; c++)
            meetctl_pad(f, t->heads[c], width[c], c + 1 == ncols);
        fputc('\n', f);
    }
    for (size_t r = 0; r < t->nrows; r++) {
        for (size_t c = 0; c < ncols; c++)
            meetctl_pad(f, t->cells[r * t->ncols + c], width[c], c + 1 == ncols);
        fputc('\n', f);
    }
    meetctl_table_free(t);
    return 0;
}

/* ---- reading the answer ------------------------------------------------------------- */

const char *meetctl_jstr(const json_t *obj, const char *key)
{
    const char *s = json_string_value(json_object_get(obj, key));
    return s != NULL ? s : "";
}

const char *meetctl_jtext(const json_t *obj, const char *key, char *buf, size_t n)
{
    const json_t *v = json_object_get(obj, key);
    if (json_is_string(v))
        snprintf(buf, n, "%s", json_string_value(v));
    else if (json_is_integer(v))
        snprintf(buf, n, "%lld", (long long)json_integer_value(v));
    else if (json_is_boolean(v))
        snprintf(buf, n, "%s", json_is_true(v) ? "true" : "false");
    else if (json_is_real(v))
        snprintf(buf, n, "%g", json_real_value(v));
    else if (n > 0)
        buf[0] = '\0';
    return buf;
}

const char *meetctl_jtime(const json_t *obj, const char *key, char *buf, size_t n)
{
    char raw[32];
    meetctl_jtext(obj, key, raw, sizeof raw);
    char *end;
    long long secs = strtoll(raw, &end, 10);
    struct tm tm;
    time_t t = (time_t)secs;
    if (raw[0] == '\0' || *end != '\0' || localtime_r(&t, &tm) == NULL ||
        strftime(buf, n, "%Y-%m-%d %H:%M:%S", &tm) == 0)
        snprintf(buf, n, "%s", raw);
    return buf;
}
