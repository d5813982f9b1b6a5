/* Value checks shared by every request: instanceids, identifiers, meeting ids. */
#include "core/core.h"

#include <assert.h>
#include <string.h>

bool core_instanceid_valid(long long instanceid)
{
    switch (instanceid) {
    case 0: case 1: case 2: case 3: case 4: case 5: case 6: case 7: case 8:
    case 9: case 10: case 20: case 21: case 22: case 30: case 32: case 33:
        return true;
    default:
        return false;
    }
}

/* Strict UTF-8 (RFC 3629): the shortest form only, no UTF-16 surrogates,
 * nothing above U+10FFFF. Lenient decoders are how two layers end up
 * disagreeing about what an id is. */
bool core_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;

    assert(s != NULL || len == 0);
    while (i < len) {
        unsigned c = p[i];
        size_t n;
        unsigned cp, min;

        if (c < 0x80) {
            i++;
            continue;
        } else if ((c & 0xe0) == 0xc0) {
            n = 1, cp = c & 0x1f, min = 0x80;
        } else if ((c & 0xf0) == 0xe0) {
            n = 2, cp = c & 0x0f, min = 0x800;
        } else if ((c & 0xf8) == 0xf0) {
            n = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false; /* stray continuation byte, or 0xf8..0xff */
        }
        if (len - i - 1 < n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            unsigned cc = p[i + k];
            if ((cc & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/* Identifiers end up in logs, headers and SSE frames, where a control
 * character would let one value pose as two. */
bool core_text_valid(const char *s, size_t max)
{
    size_t len;

    if (s == NULL)
        return false;
    len = strnlen(s, max + 1);
    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return core_utf8_valid(s, len);
}

bool core_id_valid(const char *s) { return core_text_valid(s, CORE_ID_MAX); }

bool core_opaque_valid(const char *s) { return core_text_valid(s, CORE_OPAQUE_MAX); }

bool core_subject_valid(const char *s)
{
    if (!core_text_valid(s, CORE_SUBJECT_MAX))
        return false;
    /* Valid UTF-8 by now: a lead byte of 4 bytes (0xf0..0xf4) is a character
     * above the BMP, two UTF-16 units; every other character is one. */
    size_t units = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p & 0xc0) == 0x80)
            continue;
        units += *p >= 0xf0 ? 4 : 2;
    }
    return units <= CORE_SUBJECT_UNITS_MAX;
}

meetd_err core_parse_meeting_id(const char *s, int64_t *out)
{
    uint64_t v = 0;
    size_t len;

    assert(out != NULL);
    *out = 0;
    if (s == NULL)
        return ME_BAD_MEETING_ID;
    len = strnlen(s, 20);
    if (len == 0 || len > 19)
        return ME_BAD_MEETING_ID;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return ME_BAD_MEETING_ID;
        /* 19 digits are below 10^19 < 2^64: no overflow possible. */
        v = v * 10 + (uint64_t)(s[i] - '0');
    }
    if (v == 0 || v > (uint64_t)INT64_MAX)
        return ME_NO_MEETING;
    *out = (int64_t)v;
    return ME_OK;
}
