/* A program linked with libmeet as its users link it: only include/libmeet.h
 * and libmeet.a. It defines, for its own purposes, names that libmeet uses
 * inside (the signer it compiles in, its transport). Were they exported,
 * the program's definitions would either clash with libmeet's or, worse,
 * silently replace them (a static library's member is not pulled in for a
 * name the program already defines), and meet_sign would call the
 * program's auth_sign. The vectors must still sign right. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "libmeet.h"

/* The program's own functions of the same names: each fails loudly. */
int auth_sign(void);
int auth_init(void);
int auth_signature_equal(void);
int meet_perform(void);
int meet_headers_signed(void);
int auth_sign(void) { abort(); }
int auth_init(void) { abort(); }
int auth_signature_equal(void) { abort(); }
int meet_perform(void) { abort(); }
int meet_headers_signed(void) { abort(); }

static const char *vstr(json_t *v, const char *key)
{
    const char *s = json_string_value(json_object_get(v, key));
    if (s == NULL)
        fail_msg("vector lacks %s", key);
    return s;
}

static void test_vectors_sign_with_libmeets_own_signer(void **state)
{
    (void)state;
    const char *path = getenv("MEETD_VECTORS");
    assert_non_null(path);
    json_error_t jerr;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &jerr);
    assert_non_null(root);
    json_t *vectors = json_object_get(root, "vectors");
    assert_true(json_array_size(vectors) > 0);
    size_t i;
    json_t *v;
    json_array_foreach(vectors, i, v) {
        char sig[MEET_SIGNATURE_LEN + 1];
        const char *body = vstr(v, "body");
        assert_int_equal(meet_sign(vstr(v, "secret_key"), vstr(v, "method"), vstr(v, "secret_id"),
                                   vstr(v, "nonce"), vstr(v, "timestamp"), vstr(v, "uri"), body,
                                   strlen(body), sig),
                         MEET_OK);
        assert_string_equal(sig, vstr(v, "signature"));
    }
    json_decref(root);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors_sign_with_libmeets_own_signer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
