/* See base64.h. */
#include "common/base64.h"

#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>

char *base64_encode(const void *data, size_t len)
{
    /* EVP_EncodeBlock takes an int length and writes 4 per 3 bytes. */
    if (len > (size_t)INT32_MAX / 4 * 3)
        return NULL;
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out == NULL)
        return NULL;
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
    return out;
}
