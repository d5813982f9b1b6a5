/* JSON text written in one pass, without a jansson tree: for answers with
 * many rows (a participants page: the tree cost ~9,000 instructions a row
 * to build and twice that to serialise and free) and for texts of a fixed
 * shape written on every request (a join's answer, an event's payload).
 * The writer appends to one growing buffer; a failure (memory, a string
 * that is not UTF-8, as json_string refuses) is remembered and reported
 * once, at the end (api_out_text, jtext_take). The caller writes the
 * commas and braces itself (jtext_key writes a comma before every key but
 * the object's first). Strings are escaped as jansson escapes them
 * (tests/unit/test_jtext.c compares the two), so a text written here is
 * byte for byte what json_dumps(JSON_COMPACT) wrote of the same object. */
#ifndef MEETD_COMMON_JTEXT_H
#define MEETD_COMMON_JTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

typedef struct jtext {
    char *buf;
    size_t len, cap;
    bool failed;
    bool first;               /* the next key is its object's first */
} jtext;

/* len bytes as they are; jtext_raw_grow when they do not fit (or the
 * writer failed). Inline: a row of a page writes a dozen short literals,
 * each then a compare and a copy of a known size, not a call and a
 * memcpy (~8,000 instructions of a page of 20, bench/README.md). */
void jtext_raw_grow(jtext *t, const char *s, size_t len);
static inline void jtext_raw(jtext *t, const char *s, size_t len)
{
    if (len != 0 && !t->failed && len <= t->cap - t->len) {
        memcpy(t->buf + t->len, s, len);
        t->len += len;
        return;
    }
    jtext_raw_grow(t, s, len);
}
#define jtext_lit(t, s) jtext_raw((t), (s), sizeof(s) - 1)
/* "{" and "}": an object begun and ended. */
void jtext_open(jtext *t);
void jtext_close(jtext *t);
/* ,"key": (the key a string literal, written as it is). */
void jtext_keyn(jtext *t, const char *key, size_t len);
#define jtext_key(t, key) jtext_keyn((t), "" key, sizeof(key) - 1)
void jtext_str(jtext *t, const char *s);        /* a JSON string, escaped */
void jtext_base64(jtext *t, const char *s);     /* a JSON string: s's base64 */
void jtext_int(jtext *t, long long v);          /* a JSON number */
void jtext_decimal(jtext *t, long long v);      /* "123": ids and times */
void jtext_bool(jtext *t, bool v);
/* The text as a C string the caller owns and frees (t emptied); NULL when
 * the writer failed (t freed). */
char *jtext_take(jtext *t);
void jtext_free(jtext *t);

#endif
