/* Base64 (RFC 4648, with padding) through OpenSSL's EVP_EncodeBlock: the one
 * encoder of the server, for the participants' user_name and subject and for
 * a webhook's payload and nick names. */
#ifndef MEETD_COMMON_BASE64_H
#define MEETD_COMMON_BASE64_H

#include <stddef.h>

/* base64 of len bytes, malloc'd and NUL-terminated: the caller frees it.
 * NULL when out of memory or len is beyond what EVP_EncodeBlock takes. */
char *base64_encode(const void *data, size_t len);

#endif
