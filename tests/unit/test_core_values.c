/* core value checks: instanceids, UTF-8, identifiers, meeting ids, device
 * tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

/* ---- instanceid -------------------------------------------------------- */

static void test_instanceid_valid_set(void **state)
{
    static const long long valid[] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20, 21, 22, 30, 32, 33};
    int n_valid = 0;

    (void)state;
    for (size_t i = 0; i < sizeof valid / sizeof valid[0]; i++)
        assert_true(core_instanceid_valid(valid[i]));
    /* Exactly those 17 in a wide range around them. */
    for (long long v = -100; v <= 200; v++)
        n_valid += core_instanceid_valid(v);
    assert_int_equal(n_valid, 17);
}

static void test_instanceid_invalid(void **state)
{
    (void)state;
    assert_false(core_instanceid_valid(-1));
    assert_false(core_instanceid_valid(11));
    assert_false(core_instanceid_valid(19));
    assert_false(core_instanceid_valid(23));
    assert_false(core_instanceid_valid(29));
    assert_false(core_instanceid_valid(31));
    assert_false(core_instanceid_valid(34));
    assert_false(core_instanceid_valid(64));
    assert_false(core_instanceid_valid(INT64_MAX));
    assert_false(core_instanceid_valid(INT64_MIN));
    assert_false(core_instanceid_valid(4294967297LL)); /* 1 in the low 32 bits */
}

/* ---- UTF-8 -------------------------------------------------------------- */

static bool utf8(const char *s)
{
    return core_utf8_valid(s, strlen(s));
}

static void test_utf8_valid(void **state)
{
    (void)state;
    assert_true(core_utf8_valid("", 0));
    assert_true(core_utf8_valid(NULL, 0));
    assert_true(utf8("plain ascii"));
    assert_true(utf8("\xc2\x80"));         /* U+0080, smallest 2-byte */
    assert_true(utf8("caf\xc3\xa9"));      /* é */
    assert_true(utf8("\xdf\xbf"));         /* U+07FF */
    assert_true(utf8("\xe0\xa0\x80"));     /* U+0800, smallest 3-byte */
    assert_true(utf8("\xe4\xb8\xad\xe6\x96\x87")); /* 中文 */
    assert_true(utf8("\xed\x9f\xbf"));     /* U+D7FF, just below surrogates */
    assert_true(utf8("\xee\x80\x80"));     /* U+E000, just above */
    assert_true(utf8("\xef\xbf\xbf"));     /* U+FFFF */
    assert_true(utf8("\xf0\x90\x80\x80")); /* U+10000, smallest 4-byte */
    assert_true(utf8("\xf0\x9f\x98\x80")); /* emoji */
    assert_true(utf8("\xf4\x8f\xbf\xbf")); /* U+10FFFF, the last code point */
    /* An embedded NUL is a valid code point; the length decides. */
    assert_true(core_utf8_valid("a\0b", 3));
}

static void test_utf8_overlong(void **state)
{
    (void)state;
    assert_false(utf8("\xc0\x80"));         /* NUL, overlong */
    assert_false(utf8("\xc0\xaf"));         /* '/', overlong */
    assert_false(utf8("\xc1\xbf"));         /* U+007F, overlong */
    assert_false(utf8("\xe0\x80\x80"));
    assert_false(utf8("\xe0\x9f\xbf"));     /* U+07FF in 3 bytes */
    assert_false(utf8("\xf0\x80\x80\x80"));
    assert_false(utf8("\xf0\x8f\xbf\xbf")); /* U+FFFF in 4 bytes */
}

static void test_utf8_surrogates_and_range(void **state)
{
    (void)state;
    assert_false(utf8("\xed\xa0\x80"));     /* U+D800 */
    assert_false(utf8("\xed\xaf\xbf"));     /* U+DBFF */
    assert_false(utf8("\xed\xb0\x80"));     /* U+DC00 */
    assert_false(utf8("\xed\xbf\xbf"));     /* U+DFFF */
    assert_false(utf8("\xed\xa0\xbd\xed\xb8\x80")); /* CESU-8 pair */
    assert_false(utf8("\xf4\x90\x80\x80")); /* U+110000 */
    assert_false(utf8("\xf5\x80\x80\x80"));
    assert_false(utf8("\xf7\xbf\xbf\xbf"));
    assert_false(utf8("\xf8\x88\x80\x80\x80")); /* 5-byte form */
    assert_false(utf8("\xfc\x84\x80\x80\x80\x80"));
    assert_false(utf8("\xfe"));
    assert_false(utf8("\xff"));
}

static void test_utf8_malformed(void **state)
{
    (void)state;
    assert_false(utf8("\x80"));             /* lone continuation */
    assert_false(utf8("a\xbf" "b"));
    assert_false(utf8("\xc3"));             /* truncated 2-byte */
    assert_false(utf8("\xe4\xb8"));         /* truncated 3-byte */
    assert_false(utf8("\xf0\x9f\x98"));     /* truncated 4-byte */
    assert_false(utf8("\xe4\x41\xad"));     /* ASCII inside a sequence */
    assert_false(utf8("\xc3\xc3\xa9"));
    assert_false(utf8("ok\xe4\xb8"));
    /* The length bounds the scan: a sequence cut by len is invalid even when
     * the bytes after len would complete it. */
    assert_false(core_utf8_valid("\xe4\xb8\xad", 2));
    assert_true(core_utf8_valid("\xe4\xb8\xad", 3));
    assert_true(core_utf8_valid("ab\xff", 2));
}

/* ---- identifiers --------------------------------------------------------- */

static void fill(char *buf, char c, size_t n)
{
    memset(buf, c, n);
    buf[n] = '\0';
}

static void test_id_lengths(void **state)
{
    char buf[300];

    (void)state;
    assert_false(core_id_valid(NULL));
    assert_false(core_id_valid(""));
    assert_true(core_id_valid("a"));
    fill(buf, 'u', 64);
    assert_true(core_id_valid(buf));
    fill(buf, 'u', 65);
    assert_false(core_id_valid(buf));
    fill(buf, 'u', 200);
    assert_false(core_id_valid(buf));
}

static void test_id_multibyte_length_is_bytes(void **state)
{
    char buf[300] = "";

    (void)state;
    /* 21 three-byte characters = 63 bytes, plus one = 64: fits. */
    for (int i = 0; i < 21; i++)
        strcat(buf, "\xe4\xb8\xad");
    strcat(buf, "x");
    assert_int_equal(strlen(buf), 64);
    assert_true(core_id_valid(buf));
    /* 22 of them = 66 bytes although only 22 characters. */
    buf[63] = '\0';
    strcat(buf, "\xe4\xb8\xad");
    assert_int_equal(strlen(buf), 66);
    assert_false(core_id_valid(buf));
}

static void test_id_unterminated_array(void **state)
{
    /* A core_user.userid filled to the brim without a NUL must be rejected
     * without reading past the array. */
    core_user u;

    (void)state;
    memset(u.userid, 'a', sizeof u.userid);
    assert_false(core_id_valid(u.userid));
    u.userid[CORE_ID_MAX] = '\0';
    assert_true(core_id_valid(u.userid));
}

static void test_id_characters(void **state)
{
    (void)state;
    assert_true(core_id_valid("alice@example.com"));
    assert_true(core_id_valid("with space"));
    assert_true(core_id_valid("\xe5\xbc\xa0\xe4\xb8\x89")); /* 张三 */
    assert_true(core_id_valid("~"));
    assert_false(core_id_valid("tab\there"));
    assert_false(core_id_valid("line\nbreak"));
    assert_false(core_id_valid("cr\r"));
    assert_false(core_id_valid("\x01"));
    assert_false(core_id_valid("unit\x1fsep"));
    assert_false(core_id_valid("del\x7f"));
    assert_false(core_id_valid("bad\xc0\x80"));
    assert_false(core_id_valid("\xed\xa0\x80"));
    assert_false(core_id_valid("\xf4\x90\x80\x80"));
    assert_false(core_id_valid("trunc\xe4\xb8"));
}

static void test_opaque(void **state)
{
    char buf[300];
    core_kick_user ku;

    (void)state;
    assert_false(core_opaque_valid(NULL));
    assert_false(core_opaque_valid(""));
    fill(buf, 'x', 1);
    assert_true(core_opaque_valid(buf));
    fill(buf, 'x', 64);
    assert_true(core_opaque_valid(buf));
    fill(buf, 'x', 65);
    assert_true(core_opaque_valid(buf)); /* ids are 64, opaque values 128 */
    fill(buf, 'x', 128);
    assert_true(core_opaque_valid(buf));
    fill(buf, 'x', 129);
    assert_false(core_opaque_valid(buf));
    assert_false(core_opaque_valid("a\nb"));
    assert_false(core_opaque_valid("\x7f"));
    assert_false(core_opaque_valid("\xc1\x81"));
    memset(ku.id, 'z', sizeof ku.id);
    assert_false(core_opaque_valid(ku.id));
}

/* ---- meeting ids -------------------------------------------------------- */

static meetd_err parse(const char *s, int64_t *out)
{
    *out = -7;
    return core_parse_meeting_id(s, out);
}

static void test_meeting_id_ok(void **state)
{
    int64_t v;

    (void)state;
    assert_int_equal(parse("1", &v), ME_OK);
    assert_int_equal(v, 1);
    assert_int_equal(parse("1242152152161", &v), ME_OK);
    assert_int_equal(v, 1242152152161LL);
    assert_int_equal(parse("0042", &v), ME_OK);
    assert_int_equal(v, 42);
    assert_int_equal(parse("1234567890123456789", &v), ME_OK); /* 19 digits */
    assert_int_equal(v, 1234567890123456789LL);
    assert_int_equal(parse("9223372036854775807", &v), ME_OK);
    assert_true(v == INT64_MAX);
    assert_int_equal(parse("0000000000000000001", &v), ME_OK); /* 19 digits, value 1 */
    assert_int_equal(v, 1);
}

static void test_meeting_id_no_meeting(void **state)
{
    int64_t v;

    (void)state;
    assert_int_equal(parse("0", &v), ME_NO_MEETING);
    assert_int_equal(v, 0);
    assert_int_equal(parse("0000000000000000000", &v), ME_NO_MEETING);
    assert_int_equal(parse("9223372036854775808", &v), ME_NO_MEETING); /* INT64_MAX + 1 */
    assert_int_equal(v, 0);
    assert_int_equal(parse("9999999999999999999", &v), ME_NO_MEETING);
}

static void test_meeting_id_malformed(void **state)
{
    static const char *bad[] = {
        "", "+1", "-1", " 1", "1 ", "1a", "a1", "abc", "1.0", "0x10", "1e5",
        "12345678901234567890",  /* 20 digits */
        "00000000000000000001",  /* 20 digits, small value */
        "99999999999999999999999",
        "\xef\xbc\x91",          /* fullwidth digit one */
        "1/2", "%31",
    };
    int64_t v;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(parse(bad[i], &v), ME_BAD_MEETING_ID);
        assert_int_equal(v, 0);
    }
    assert_int_equal(parse(NULL, &v), ME_BAD_MEETING_ID);
}

/* ---- device tokens ------------------------------------------------------- */

static const char secret[] = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

static bool parses(const char *token, int64_t *no, const char **sec)
{
    return core_token_parse(token, strlen(token), no, sec);
}

static void test_token_round_trip(void **state)
{
    (void)state;
    static const int64_t numbers[] = {1, 42, 1000000, INT64_MAX};
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        char tok[CORE_TOKEN_MAX + 1];
        assert_int_equal(core_token_format(tok, sizeof tok, numbers[i], secret), 0);
        int64_t no = -1;
        const char *sec = NULL;
        assert_true(parses(tok, &no, &sec));
        assert_int_equal(no, numbers[i]);
        assert_string_equal(sec, secret);
    }
    char tok[CORE_TOKEN_MAX + 1];
    assert_int_equal(core_token_format(tok, sizeof tok, 42, secret), 0);
    assert_string_equal(tok, "42.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef");
    /* The longest fits CORE_TOKEN_MAX exactly. */
    assert_int_equal(core_token_format(tok, sizeof tok, INT64_MAX, secret), 0);
    assert_int_equal(strlen(tok), CORE_TOKEN_MAX);
}

static void test_token_format_refuses(void **state)
{
    (void)state;
    char tok[CORE_TOKEN_MAX + 1];
    assert_int_equal(core_token_format(tok, sizeof tok, 0, secret), -1);
    assert_string_equal(tok, "");
    assert_int_equal(core_token_format(tok, sizeof tok, -5, secret), -1);
    assert_int_equal(core_token_format(tok, sizeof tok, 1, "abc"), -1);
    assert_int_equal(core_token_format(tok, sizeof tok, 1,
                                       "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef"),
                     -1);
    char small[20];
    assert_int_equal(core_token_format(small, sizeof small, 1, secret), -1);
    assert_string_equal(small, "");
}

static void test_token_legacy(void **state)
{
    (void)state;
    int64_t no = -1;
    const char *sec = NULL;
    assert_true(parses(secret, &no, &sec));
    assert_int_equal(no, 0);
    assert_ptr_equal(sec, secret);
}

static void test_token_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "",
        ".",
        "1.",
        ".0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "0.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "01.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "-1.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "1x.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "9223372036854775808.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "12345678901234567890.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        "1.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
        "1.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef0",
        "1.0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef",
        "1.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde.",
        "1.2.0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcde",
        "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdeg",
        "bad token",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        int64_t no;
        const char *sec;
        if (parses(bad[i], &no, &sec))
            fail_msg("accepted \"%s\"", bad[i]);
    }
    /* Bytes after an embedded NUL count: len is the caller's. */
    char tok[CORE_TOKEN_MAX + 2];
    assert_int_equal(core_token_format(tok, sizeof tok, 7, secret), 0);
    int64_t no;
    const char *sec;
    assert_false(core_token_parse(tok, strlen(tok) + 1, &no, &sec));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instanceid_valid_set),
        cmocka_unit_test(test_instanceid_invalid),
        cmocka_unit_test(test_utf8_valid),
        cmocka_unit_test(test_utf8_overlong),
        cmocka_unit_test(test_utf8_surrogates_and_range),
        cmocka_unit_test(test_utf8_malformed),
        cmocka_unit_test(test_id_lengths),
        cmocka_unit_test(test_id_multibyte_length_is_bytes),
        cmocka_unit_test(test_id_unterminated_array),
        cmocka_unit_test(test_id_characters),
        cmocka_unit_test(test_opaque),
        cmocka_unit_test(test_meeting_id_ok),
        cmocka_unit_test(test_meeting_id_no_meeting),
        cmocka_unit_test(test_meeting_id_malformed),
        cmocka_unit_test(test_token_round_trip),
        cmocka_unit_test(test_token_format_refuses),
        cmocka_unit_test(test_token_legacy),
        cmocka_unit_test(test_token_malformed),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
