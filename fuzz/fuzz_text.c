/* fuzz_text: the JSON text writer jtext (src/common/jtext.c) against jansson.
 *
 * The answers built by hand (a participants page, a join's answer) must be
 * the very bytes json_dumps(JSON_COMPACT) gives for the same values (what
 * meetd sends for a tree, src/http/server.c), and must refuse a string that
 * is not UTF-8 exactly where json_string refuses it. Each input is a small
 * program that writes the same values twice, with jtext and as a jansson
 * tree:
 *
 *   byte: op (low 3 bits), then its operands
 *     0  a string: 2 length bytes (big-endian, at most what is left) then
 *        the bytes; a NUL in them ends the C string, as it would in meetd
 *     1  a long string: a length byte, the bytes, then a count byte: the
 *        bytes repeated count + 1 times (up to 64 KiB, across the buffer's
 *        growth steps)
 *     2  an integer (8 bytes, any long long)
 *     3  an id or time as a decimal string (8 bytes: jtext_decimal)
 *     4  a boolean (1 byte)
 *     5  an object opened (the value of a key, or an array's element)
 *     6  an array opened ("[" and the caller's commas, as the page's rows)
 *     7  the innermost object or array closed (nothing at the top)
 *   In an object each value gets a key "k<n>", n counting in that object
 *   (jtext's keys are the code's literals: never escaped, never twice).
 *
 * Checks, besides the sanitizers: a string refused by jtext is one that
 * json_string refuses and the other way round; when nothing was refused,
 * the text equals json_dumps of the tree byte for byte, and json_loadb of
 * the text equals the tree (json_equal). */
#include "fuzz.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_TEXT_DEPTH 32

typedef struct frame {
    json_t *v;                 /* the tree's container (borrowed from its parent) */
    bool array;
    unsigned n;                /* values written in it */
} frame;

typedef struct prog {
    jtext t;
    frame stack[FUZZ_TEXT_DEPTH];
    int depth;                 /* stack[depth - 1] is the innermost */
    json_t *root;
} prog;

/* Writes the key or the comma before a value; the tree side is done by
 * prog_put. */
static void prog_before(prog *p)
{
    frame *f = &p->stack[p->depth - 1];
    if (f->array) {
        if (f->n > 0)
            jtext_lit(&p->t, ",");
    } else {
        char key[16];
        int n = snprintf(key, sizeof key, "k%u", f->n);
        jtext_keyn(&p->t, key, (size_t)n);
    }
}

/* v (a new reference) into the innermost container. */
static void prog_put(prog *p, json_t *v)
{
    frame *f = &p->stack[p->depth - 1];
    if (v == NULL)
        fuzz_fail("jansson: out of memory");
    int rc;
    if (f->array) {
        rc = json_array_append_new(f->v, v);
    } else {
        char key[16];
        snprintf(key, sizeof key, "k%u", f->n);
        rc = json_object_set_new(f->v, key, v);
    }
    if (rc != 0)
        fuzz_fail("jansson: cannot add a value");
    f->n++;
}

static void prog_close(prog *p)
{
    frame *f = &p->stack[p->depth - 1];
    if (f->array)
        jtext_lit(&p->t, "]");
    else
        jtext_close(&p->t);
    p->depth--;
}

/* A string value; false when it was refused (by both: checked). */
static bool prog_str(prog *p, const char *s)
{
    prog_before(p);
    bool was_failed = p->t.failed;
    jtext_str(&p->t, s);
    json_t *v = json_string(s);
    bool refused = p->t.failed && !was_failed;
    if ((v == NULL) != refused) {
        fuzz_fail("jtext_str %s a string json_string %s (%zu bytes)",
                  refused ? "refused" : "took", v == NULL ? "refuses" : "takes", strlen(s));
    }
    if (v == NULL)
        return false;
    prog_put(p, v);
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_bytes b = {data, size};
    prog p = {.t = {0}, .depth = 1};
    p.root = json_object();
    if (p.root == NULL)
        fuzz_fail("jansson: out of memory");
    p.stack[0] = (frame){.v = p.root};
    jtext_open(&p.t);

    bool refused = false;
    char *s = malloc(65536 * 2 + 1);
    if (s == NULL)
        fuzz_fail("out of memory");
    while (b.n > 0 && !refused) {
        uint8_t op = fuzz_u8(&b) & 7;
        switch (op) {
        case 0: {
            size_t want = (size_t)fuzz_u8(&b) << 8;
            want |= fuzz_u8(&b);
            size_t n = want < b.n ? want : b.n;
            memcpy(s, b.p, n);
            s[n] = '\0';
            b.p += n;
            b.n -= n;
            refused = !prog_str(&p, s);
            break;
        }
        case 1: {
            char unit[256];
            fuzz_str(&b, unit, sizeof unit);
            size_t count = (size_t)fuzz_u8(&b) + 1;
            size_t n = strlen(unit), len = 0;
            for (size_t i = 0; i < count && len + n <= 65536; i++, len += n)
                memcpy(s + len, unit, n);
            s[len] = '\0';
            refused = !prog_str(&p, s);
            break;
        }
        case 2: {
            long long v = (long long)fuzz_u64(&b);
            prog_before(&p);
            jtext_int(&p.t, v);
            prog_put(&p, json_integer(v));
            break;
        }
        case 3: {
            long long v = (long long)fuzz_u64(&b);
            char d[32];
            snprintf(d, sizeof d, "%lld", v);
            prog_before(&p);
            jtext_decimal(&p.t, v);
            prog_put(&p, json_string(d));
            break;
        }
        case 4: {
            bool v = fuzz_u8(&b) & 1;
            prog_before(&p);
            jtext_bool(&p.t, v);
            prog_put(&p, json_boolean(v));
            break;
        }
        case 5:
        case 6: {
            if (p.depth == FUZZ_TEXT_DEPTH)
                break;
            bool array = op == 6;
            json_t *v = array ? json_array() : json_object();
            prog_before(&p);
            if (array)
                jtext_lit(&p.t, "[");
            else
                jtext_open(&p.t);
            prog_put(&p, v);   /* the parent holds it; the frame borrows */
            p.stack[p.depth++] = (frame){.v = v, .array = array};
            break;
        }
        case 7:
            if (p.depth > 1)
                prog_close(&p);
            break;
        }
    }
    free(s);

    if (!refused) {
        while (p.depth > 0)
            prog_close(&p);
        if (p.t.failed)
            fuzz_fail("jtext failed with no string refused");
        char *want = json_dumps(p.root, JSON_COMPACT);
        if (want == NULL)
            fuzz_fail("json_dumps failed");
        size_t wlen = strlen(want);
        if (wlen != p.t.len || memcmp(want, p.t.buf, wlen) != 0) {
            size_t i = 0;
            while (i < wlen && i < p.t.len && want[i] == p.t.buf[i])
                i++;
            fuzz_fail("jtext differs from json_dumps at byte %zu of %zu/%zu: "
                      "\"%.40s\" vs \"%.40s\"",
                      i, p.t.len, wlen, p.t.buf + i, want + i);
        }
        free(want);
        json_error_t err;
        json_t *back = json_loadb(p.t.buf, p.t.len, JSON_REJECT_DUPLICATES, &err);
        if (back == NULL)
            fuzz_fail("jtext's output does not parse: %s at %d", err.text, err.position);
        if (!json_equal(back, p.root))
            fuzz_fail("jtext's output parses to other values");
        json_decref(back);
    }
    jtext_free(&p.t);
    json_decref(p.root);
    return 0;
}
