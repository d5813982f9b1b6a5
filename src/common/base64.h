/* Base64 (RFC 4648, with padding) through OpenSSL's EVP_EncodeBlock: the one
 * encoder of the server, for the participants' user_name and subject and for
 * a webhook's payload and nick names. */
#ifndef MEETD_COMMON_BASE64_H
#define MEETD_COMMON_BASE64_H

#include <stddef.h>
#include <stdint.h>

/* The longest len that base64 encodes (EVP_EncodeBlock takes an int). */
#define BASE64_IN_MAX ((size_t)INT32_MAX / 4 * 3)
/* The characters of base64 of len bytes (len <= BASE64_IN_MAX), without
 * the NUL. */
#define BASE64_LEN(len) (4 * (((len) + 2) / 3))

/* base64 of len bytes, malloc'd and NUL-terminated: the caller frees it.
 * NULL when out of memory or len is beyond BASE64_IN_MAX. */
char *base64_encode(const void *data, size_t len);
/* base64 of len bytes (len <= BASE64_IN_MAX) into out, which has room for
 * BASE64_LEN(len) + 1 (the NUL): writing into a buffer that is already
 * there, such as an answer's text, costs no allocation. */
void base64_encode_into(char *out, const void *data, size_t len);

#endif
