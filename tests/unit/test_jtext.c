/* common/jtext.c, the one-pass JSON writer of the participants pages,
 * join answers and event payloads: its strings are what jansson writes for
 * the same value, its numbers are exact at the extremes, its failures (memory, text that is not
 * UTF-8) end in the internal error and no body; and common/log.c's batched
 * access lines stay whole and in order with the thread's other lines. */
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "api/api.h"
#include "common/base64.h"
#include "common/log.h"

/* t's text, NUL-terminated, in a new string. */
static char *text_of(const jtext *t)
{
    char *s = malloc(t->len + 1);
    assert_non_null(s);
    memcpy(s, t->buf, t->len);
    s[t->len] = '\0';
    return s;
}

/* t holds exactly the JSON string jansson writes for s. */
static void check_as_jansson(const jtext *t, const char *s)
{
    json_t *v = json_string(s);
    assert_non_null(v);
    char *want = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    char *got = text_of(t);
    assert_string_equal(got, want);
    free(got);
    free(want);
    json_decref(v);
}

static void test_strings_as_jansson_writes_them(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "", "plain", "quote \" and backslash \\", "slash / stays",
        "controls \x01\x02\x1f \b\f\n\r\t end", "DEL \x7f", "UTF-8: \xc3\xa9 \xe4\xb8\xad \xf0\x9f\x98\x80",
        "\"\"\\\\", "\x1f",
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        jtext t = {0};
        jtext_str(&t, cases[i]);
        assert_false(t.failed);
        check_as_jansson(&t, cases[i]);
        jtext_free(&t);
    }
    /* A long run with nothing to escape fills the buffer to its end and
     * must grow it and go on (a first version spun there for ever). */
    for (size_t lead = 0; lead < 80; lead++) {
        char *plain = malloc(9001);
        assert_non_null(plain);
        memset(plain, 'x', 9000);
        plain[9000] = '\0';
        jtext t = {0};
        for (size_t k = 0; k < lead; k++)
            jtext_lit(&t, " ");
        jtext_str(&t, plain);
        assert_false(t.failed);
        assert_int_equal(t.len, lead + 9002);
        assert_int_equal(t.buf[t.len - 1], '"');
        jtext_free(&t);
        free(plain);
    }
    /* Long strings cross the buffer's growth at every offset. */
    char *big = malloc(20001);
    assert_non_null(big);
    static const char piece[] = "ab\"\xc3\xa9\n\xf0\x9f\x98\x80" "cd";
    for (size_t i = 0; i < 20000; i++)
        big[i] = piece[i % (sizeof piece - 1)];
    for (size_t cut = 19990; cut <= 20000; cut++) {
        big[cut] = '\0';
        /* Cut inside the 2-byte or the 4-byte character: not UTF-8. */
        size_t m = cut % (sizeof piece - 1);
        bool whole = m != 4 && m != 7 && m != 8 && m != 9;
        jtext t = {0};
        jtext_lit(&t, "[");
        jtext_str(&t, big);
        if (whole) {
            assert_false(t.failed);
            t.len--;   /* only the string */
            memmove(t.buf, t.buf + 1, t.len);
            check_as_jansson(&t, big);
        } else {
            assert_true(t.failed);
        }
        jtext_free(&t);
        big[cut] = piece[cut % (sizeof piece - 1)];
    }
    free(big);
}

static void test_not_utf8_fails(void **state)
{
    (void)state;
    jtext t = {0};
    jtext_str(&t, "ok");
    jtext_str(&t, "bad \xff byte");
    assert_true(t.failed);
    /* Once failed, nothing more is written and the answer is the 500. */
    size_t len = t.len;
    jtext_str(&t, "more");
    assert_int_equal(t.len, len);
    api_call c;
    memset(&c, 0, sizeof c);
    assert_int_equal(api_out_text(&c, &t), ME_INTERNAL);
    assert_null(c.out_json);
    jtext_free(&t);
}

/* Refused exactly where json_string refuses (fuzz/fuzz_text.c checks the
 * same on fuzzed bytes): the edges of each UTF-8 rule. */
static void test_utf8_refused_as_jansson(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "\xc2\x80", "\xdf\xbf", "\xe0\xa0\x80", "\xef\xbf\xbf", "\xf0\x90\x80\x80",
        "\xf4\x8f\xbf\xbf",                    /* U+10FFFF */
        "\xe2\x80\xa8\xe2\x80\xa9",              /* U+2028, U+2029: not escaped */
        "\xc0\xaf", "\xc1\xbf", "\xe0\x9f\xbf", "\xf0\x8f\xbf\xbf", /* overlong */
        "\xed\xa0\x80", "\xed\xbf\xbf",         /* surrogates */
        "\xf4\x90\x80\x80", "\xf5\x80\x80\x80", "\xf8\x88\x80\x80\x80", /* past U+10FFFF */
        "\x80", "\xbf", "\xfe", "\xff",            /* no lead byte */
        "\xc3", "ab\xe8\xae", "\xf0\x9f\x98",      /* cut at the end */
        "\xc3(", "\xe8\xae(", "\xf0\x9f\x98(",     /* cut by another character */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *v = json_string(cases[i]);
        jtext t = {0};
        jtext_str(&t, cases[i]);
        assert_int_equal(t.failed, v == NULL);
        if (v != NULL)
            check_as_jansson(&t, cases[i]);
        json_decref(v);
        jtext_free(&t);
    }
}

static void test_numbers_and_objects(void **state)
{
    (void)state;
    jtext t = {0};
    jtext_open(&t);
    jtext_key(&t, "min");
    jtext_int(&t, LLONG_MIN);
    jtext_key(&t, "max");
    jtext_int(&t, LLONG_MAX);
    jtext_key(&t, "zero");
    jtext_int(&t, 0);
    jtext_key(&t, "id");
    jtext_decimal(&t, 7567173273889276131LL);
    jtext_key(&t, "neg");
    jtext_decimal(&t, -12);
    jtext_key(&t, "yes");
    jtext_bool(&t, true);
    jtext_key(&t, "no");
    jtext_bool(&t, false);
    jtext_key(&t, "inner");
    jtext_open(&t);
    jtext_key(&t, "a");
    jtext_int(&t, 1);
    jtext_close(&t);
    jtext_key(&t, "after");
    jtext_str(&t, "x");
    jtext_close(&t);
    assert_false(t.failed);
    char *got = text_of(&t);
    assert_string_equal(got, "{\"min\":-9223372036854775808,\"max\":9223372036854775807,"
                             "\"zero\":0,\"id\":\"7567173273889276131\",\"neg\":\"-12\","
                             "\"yes\":true,\"no\":false,\"inner\":{\"a\":1},\"after\":\"x\"}");
    free(got);
    /* Handed to the call as its answer; the writer is emptied. */
    api_call c;
    memset(&c, 0, sizeof c);
    assert_int_equal(api_out_text(&c, &t), ME_OK);
    assert_null(t.buf);
    int status = 0;
    json_t *body = api_response_body(&c, &status);
    assert_int_equal(status, 200);
    assert_non_null(body);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(body, "inner"), "a")), 1);
    json_decref(body);
    free(c.out_json);
}

/* The last answer a handler sets is the one sent, text or tree: a tree set
 * after a text replaces it (the HTTP layer sends out_json before out). */
static void test_last_answer_wins(void **state)
{
    (void)state;
    api_call c;
    memset(&c, 0, sizeof c);
    jtext t = {0};
    jtext_lit(&t, "{\"text\":1}");
    assert_int_equal(api_out_text(&c, &t), ME_OK);
    assert_int_equal(api_out(&c, json_pack("{s:i}", "tree", 2)), ME_OK);
    assert_null(c.out_json);
    int status = 0;
    json_t *body = api_response_body(&c, &status);
    assert_int_equal(json_integer_value(json_object_get(body, "tree")), 2);
    assert_null(json_object_get(body, "text"));
    json_decref(body);
    c.out_text = "{\"static\":3}";
    jtext_lit(&t, "{\"text\":4}");
    assert_int_equal(api_out_text(&c, &t), ME_OK);
    assert_null(c.out_text);
    assert_null(c.out);
    body = api_response_body(&c, &status);
    assert_int_equal(json_integer_value(json_object_get(body, "text")), 4);
    json_decref(body);
    free(c.out_json);
}

/* A page larger than the first buffer grows it and keeps every byte. */
static void test_growth(void **state)
{
    (void)state;
    jtext t = {0};
    /* Nothing added from nothing (an empty page's rows): no buffer yet. */
    jtext_raw(&t, NULL, 0);
    assert_null(t.buf);
    assert_false(t.failed);
    jtext_lit(&t, "[");
    for (int i = 0; i < 5000; i++) {
        if (i > 0)
            jtext_lit(&t, ",");
        jtext_int(&t, i);
    }
    jtext_lit(&t, "]");
    assert_false(t.failed);
    char *got = text_of(&t);
    json_t *v = json_loads(got, 0, NULL);
    assert_non_null(v);
    assert_int_equal(json_array_size(v), 5000);
    assert_int_equal(json_integer_value(json_array_get(v, 4999)), 4999);
    json_decref(v);
    free(got);
    jtext_free(&t);
}

/* jtext_base64 writes in place what base64_encode returns, quoted: for
 * every length of a nick name and more (each padding), and wherever the
 * buffer's end falls (a prefix of every length before it). */
static void test_base64_in_place(void **state)
{
    (void)state;
    char src[200];
    for (size_t i = 0; i < sizeof src - 1; i++)
        src[i] = (char)(0x20 + (i * 7) % 0x5f);
    for (size_t pre = 0; pre < 1030; pre += pre < 990 ? 90 : 1) {
        for (size_t n = 0; n < sizeof src; n += 1 + n / 16) {
            char s[sizeof src + 1];
            memcpy(s, src, n);
            s[n] = '\0';
            jtext t = {0};
            for (size_t k = 0; k < pre; k++)
                jtext_lit(&t, "x");
            jtext_base64(&t, s);
            assert_false(t.failed);
            char *b = base64_encode(s, n);
            assert_non_null(b);
            assert_int_equal(t.len, pre + strlen(b) + 2);
            assert_int_equal(t.buf[pre], '"');
            assert_memory_equal(t.buf + pre + 1, b, strlen(b));
            assert_int_equal(t.buf[t.len - 1], '"');
            free(b);
            jtext_free(&t);
        }
    }
}

/* Standard error into a file for the length of fn(); returns its text. */
static char *capture_stderr(void (*fn)(void))
{
    char path[] = "/tmp/test_jtext.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    fn();
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    off_t n = lseek(fd, 0, SEEK_END);
    char *text = calloc(1, (size_t)n + 1);
    assert_non_null(text);
    assert_int_equal(pread(fd, text, (size_t)n, 0), n);
    close(fd);
    return text;
}

static void log_some(void)
{
    log_access("access one", 10);
    log_access("access two", 10);
    /* Another line of the same thread: the batch goes first. */
    log_error("an error");
    log_access("access three", 12);
}

static void log_many(void)
{
    char line[64];
    for (int i = 0; i < 1000; i++)
        log_access(line, (size_t)snprintf(line, sizeof line, "access number %d", i));
}

static void test_log_batches_in_order(void **state)
{
    (void)state;
    char *text = capture_stderr(log_some);
    /* The last access line waits for a flush. */
    char *one = strstr(text, " info access one\n");
    char *two = strstr(text, " info access two\n");
    char *err = strstr(text, " error an error\n");
    assert_non_null(one);
    assert_non_null(two);
    assert_non_null(err);
    assert_true(one < two && two < err);
    assert_null(strstr(text, "access three"));
    free(text);
    text = capture_stderr(log_flush);
    assert_non_null(strstr(text, " info access three\n"));
    free(text);
    /* Many lines: batches written whole lines at a time, none lost. */
    text = capture_stderr(log_many);
    char *flushed = capture_stderr(log_flush);
    size_t lines = 0;
    for (const char *s = text; *s; s++)
        lines += *s == '\n';
    for (const char *s = flushed; *s; s++)
        lines += *s == '\n';
    assert_int_equal(lines, 1000);
    assert_true(strlen(text) > 0 && text[strlen(text) - 1] == '\n');
    assert_non_null(strstr(text, " info access number 0\n"));
    assert_non_null(strstr(flushed, " info access number 999\n"));
    free(text);
    free(flushed);
}

static void log_long(void)
{
    char *text = malloc(5000);
    assert_non_null(text);
    memset(text, 'y', 5000);
    log_access(text, 5000);
    log_flush();
    free(text);
}

/* A line longer than a log line is cut, and stays one line. */
static void test_log_long_line_cut_whole(void **state)
{
    (void)state;
    char *text = capture_stderr(log_long);
    size_t n = strlen(text);
    assert_true(n > 0 && n <= 2048);
    assert_int_equal(text[n - 1], '\n');
    assert_ptr_equal(strchr(text, '\n'), text + n - 1);
    assert_non_null(strstr(text, " info yyyy"));
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_strings_as_jansson_writes_them),
        cmocka_unit_test(test_not_utf8_fails),
        cmocka_unit_test(test_utf8_refused_as_jansson),
        cmocka_unit_test(test_numbers_and_objects),
        cmocka_unit_test(test_last_answer_wins),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_base64_in_place),
        cmocka_unit_test(test_log_batches_in_order),
        cmocka_unit_test(test_log_long_line_cut_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
