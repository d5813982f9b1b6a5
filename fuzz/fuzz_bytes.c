/* Typed reads off a fuzzer input, and a base64 encoder for the checks. */
#include "fuzz.h"

#include <string.h>

uint8_t fuzz_u8(fuzz_bytes *b)
{
    if (b->n == 0)
        return 0;
    uint8_t v = b->p[0];
    b->p++;
    b->n--;
    return v;
}

uint32_t fuzz_u32(fuzz_bytes *b)
{
    uint32_t v = 0;
    for (int i = 0; i < 4; i++)
        v = v << 8 | fuzz_u8(b);
    return v;
}

uint64_t fuzz_u64(fuzz_bytes *b)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v = v << 8 | fuzz_u8(b);
    return v;
}

void fuzz_str(fuzz_bytes *b, char *out, size_t cap)
{
    size_t want = fuzz_u8(b);
    size_t n = want < b->n ? want : b->n;
    size_t keep = n < cap - 1 ? n : cap - 1;
    memcpy(out, b->p, keep);
    out[keep] = '\0';
    b->p += n;
    b->n -= n;
}

void fuzz_base64(const void *data, size_t len, char *out)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *in = data;
    size_t o = 0;
    for (size_t i = 0; i < len; i += 3) {
        size_t left = len - i;
        uint32_t v = (uint32_t)in[i] << 16;
        if (left > 1)
            v |= (uint32_t)in[i + 1] << 8;
        if (left > 2)
            v |= in[i + 2];
        out[o++] = digits[(v >> 18) & 63];
        out[o++] = digits[(v >> 12) & 63];
        out[o++] = left > 1 ? digits[(v >> 6) & 63] : '=';
        out[o++] = left > 2 ? digits[v & 63] : '=';
    }
    out[o] = '\0';
}
