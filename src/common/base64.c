/* See base64.h. */
#include "common/base64.h"

#include <assert.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdlib.h>

void base64_encode_into(char *out, const void *data, size_t len)
{
    assert(len <= BASE64_IN_MAX);
    EVP_EncodeBlock((unsigned char *)out, data, (int)len);
}

char *base64_encode(const void *data, size_t len)
{
    /* EVP_EncodeBlock takes an int length and writes 4 per 3 bytes. */
    if (len > BASE64_IN_MAX)
        return NULL;
    char *out = malloc(BASE64_LEN(len) + 1);
    if (out == NULL)
        return NULL;
    base64_encode_into(out, data, len);
    return out;
}
