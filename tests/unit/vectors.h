/* The signature test vectors (tests/vectors/signature.json, a copy of the
 * shared ones), for the cmocka tests of both signers: meetd's and libmeet's. */
#ifndef MEETD_TESTS_VECTORS_H
#define MEETD_TESTS_VECTORS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>

#include <cmocka.h>
#include <jansson.h>

/* The whole file (caller decrefs); fails the test unless it has vectors.
 * CTest passes its path in MEETD_VECTORS. */
static inline json_t *load_vectors(void)
{
    const char *path = getenv("MEETD_VECTORS");
    if (path == NULL || path[0] == '\0')
        fail_msg("MEETD_VECTORS is not set (path of tests/vectors/signature.json)");
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (root == NULL)
        fail_msg("cannot read %s: %s (line %d)", path, jerr.text, jerr.line);
    json_t *vectors = json_object_get(root, "vectors");
    if (!json_is_array(vectors) || json_array_size(vectors) == 0) {
        json_decref(root);
        fail_msg("%s has no vectors", path);
    }
    return root;
}

/* A vector's string field; fails the test when it is missing. */
static inline const char *vstr(const json_t *v, const char *field)
{
    const char *s = json_string_value(json_object_get(v, field));
    if (s == NULL)
        fail_msg("vector field %s missing", field);
    return s;
}

#endif
