/* JSON text written in one pass (the essay is in jtext.h). */
#include "common/jtext.h"
#include "common/base64.h"

#include <stdlib.h>
#include <string.h>

/* UTF-8 is checked as core checks every text it accepts: one rule. */
#include "core/core.h"

static bool jtext_room(jtext *t, size_t more)
{
    if (t->failed)
        return false;
    if (t->len + more <= t->cap)
        return true;
    size_t cap = t->cap != 0 ? t->cap : 1024;
    while (cap < t->len + more)
        cap *= 2;
    char *grown = realloc(t->buf, cap);
    if (grown == NULL) {
        t->failed = true;
        return false;
    }
    t->buf = grown;
    t->cap = cap;
    return true;
}

void jtext_raw_grow(jtext *t, const char *s, size_t len)
{
    /* Nothing to add (an empty page's rows: s may be NULL then). */
    if (len == 0)
        return;
    if (jtext_room(t, len)) {
        memcpy(t->buf + t->len, s, len);
        t->len += len;
    }
}

void jtext_open(jtext *t)
{
    jtext_lit(t, "{");
    t->first = true;
}

void jtext_close(jtext *t)
{
    jtext_lit(t, "}");
    t->first = false;
}

void jtext_keyn(jtext *t, const char *key, size_t n)
{
    if (!jtext_room(t, n + 4))
        return;
    char *p = t->buf + t->len;
    if (!t->first)
        *p++ = ',';
    *p++ = '"';
    memcpy(p, key, n);
    p += n;
    *p++ = '"';
    *p++ = ':';
    t->len = (size_t)(p - t->buf);
    t->first = false;
}

/* Escaped as jansson escapes without JSON_ENSURE_ASCII: the quote, the
 * backslash and control characters; the rest of UTF-8 as it is, each
 * multi-byte sequence checked as it is copied (one pass, no strlen). */
/* The bytes a string's run copies as they are: printable ASCII but the
 * quote and the backslash. A table built by the compiler: one load a byte
 * in the copy loop instead of four comparisons (a page of 20 participants
 * spends 10,000 instructions less, bench/README.md). */
#define JTEXT_PLAIN(b) ((b) >= 0x20 && (b) < 0x80 && (b) != '"' && (b) != '\\')
#define JTEXT_PLAIN4(b) JTEXT_PLAIN(b), JTEXT_PLAIN((b) + 1), JTEXT_PLAIN((b) + 2), JTEXT_PLAIN((b) + 3)
#define JTEXT_PLAIN16(b)                                                              \
    JTEXT_PLAIN4(b), JTEXT_PLAIN4((b) + 4), JTEXT_PLAIN4((b) + 8), JTEXT_PLAIN4((b) + 12)
#define JTEXT_PLAIN64(b)                                                              \
    JTEXT_PLAIN16(b), JTEXT_PLAIN16((b) + 16), JTEXT_PLAIN16((b) + 32), JTEXT_PLAIN16((b) + 48)
static const bool jtext_plain[256] = {JTEXT_PLAIN64(0), JTEXT_PLAIN64(64), JTEXT_PLAIN64(128),
                                      JTEXT_PLAIN64(192)};

void jtext_str(jtext *t, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *q = (const unsigned char *)s;
    if (!jtext_room(t, 2))
        return;
    t->buf[t->len++] = '"';
    for (;;) {
        /* Room for the longest thing one step writes (\u00XX, 6 bytes)
         * and the closing quote, with some to copy a run into. */
        if (t->len + 16 > t->cap && !jtext_room(t, 64))
            return;
        char *p = t->buf + t->len;
        char *end = t->buf + t->cap - 8;
        while (p < end && jtext_plain[*q])
            *p++ = (char)*q++;
        t->len = (size_t)(p - t->buf);
        unsigned char ch = *q;
        if (ch == '\0')
            break;
        if (jtext_plain[ch])
            continue;   /* the buffer was full: grow and go on */
        if (ch >= 0x80) {
            size_t n = (ch & 0xe0) == 0xc0 ? 2 : (ch & 0xf0) == 0xe0 ? 3 : (ch & 0xf8) == 0xf0 ? 4 : 0;
            size_t k = 1;
            while (k < n && q[k] != '\0')
                k++;
            if (n == 0 || k < n || !core_utf8_valid((const char *)q, n)) {
                t->failed = true;
                return;
            }
            memcpy(p, q, n);
            t->len += n;
            q += n;
            continue;
        }
        *p++ = '\\';
        switch (ch) {
        case '"': *p++ = '"'; break;
        case '\\': *p++ = '\\'; break;
        case '\b': *p++ = 'b'; break;
        case '\f': *p++ = 'f'; break;
        case '\n': *p++ = 'n'; break;
        case '\r': *p++ = 'r'; break;
        case '\t': *p++ = 't'; break;
        default:
            *p++ = 'u';
            *p++ = '0';
            *p++ = '0';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 0x0f];
        }
        t->len = (size_t)(p - t->buf);
        q++;
    }
    t->buf[t->len++] = '"';   /* room: kept by the loop's reserve */
}

void jtext_base64(jtext *t, const char *s)
{
    size_t n = strlen(s);
    if (n > BASE64_IN_MAX) {
        t->failed = true;
        return;
    }
    /* The quotes, the text and EVP_EncodeBlock's NUL (overwritten by the
     * closing quote). The alphabet needs no escaping. */
    if (!jtext_room(t, BASE64_LEN(n) + 3))
        return;
    char *p = t->buf + t->len;
    *p++ = '"';
    base64_encode_into(p, s, n);
    p += BASE64_LEN(n);
    *p++ = '"';
    t->len = (size_t)(p - t->buf);
}

static size_t jtext_digits(char out[24], long long v)
{
    char tmp[24];
    size_t n = 0;
    unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    do {
        tmp[n++] = (char)('0' + u % 10);
        u /= 10;
    } while (u != 0);
    size_t k = 0;
    if (v < 0)
        out[k++] = '-';
    while (n > 0)
        out[k++] = tmp[--n];
    return k;
}

void jtext_int(jtext *t, long long v)
{
    char d[24];
    jtext_raw(t, d, jtext_digits(d, v));
}

void jtext_decimal(jtext *t, long long v)
{
    char d[26];
    d[0] = '"';
    size_t n = jtext_digits(d + 1, v);
    d[n + 1] = '"';
    jtext_raw(t, d, n + 2);
}

void jtext_bool(jtext *t, bool v)
{
    if (v)
        jtext_lit(t, "true");
    else
        jtext_lit(t, "false");
}

void jtext_free(jtext *t)
{
    free(t->buf);
    memset(t, 0, sizeof *t);
}

char *jtext_take(jtext *t)
{
    char *s = NULL;
    if (jtext_room(t, 1)) {
        t->buf[t->len] = '\0';
        s = t->buf;
        t->buf = NULL;
    }
    jtext_free(t);
    return s;
}
