/* Command-line values: numbers, times, device types and participant names,
 * checked against the contract before anything is sent. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/meetctl.h"

/* The device types of docs/api.md "Identities". */
static const struct {
    int id;
    const char *name;
} meetctl_devices[] = {
    {0, "PSTN phone"},    {1, "PC"},
    {2, "Mac"},           {3, "Android"},
    {4, "iOS"},           {5, "Web"},
    {6, "iPad"},          {7, "Android Pad"},
    {8, "mini program"},  {9, "MRA"},
    {10, "Linux"},        {20, "Rooms Windows"},
    {21, "Rooms Mac"},    {22, "Rooms Android"},
    {30, "Controller Windows"}, {32, "Controller Android"},
    {33, "Controller iOS"},
};

#define MEETCTL_KNOWN_DEVICES "0-10, 20, 21, 22, 30, 32, 33"

bool meetctl_instanceid_known(long v)
{
    for (size_t i = 0; i < sizeof meetctl_devices / sizeof meetctl_devices[0]; i++)
        if (meetctl_devices[i].id == v)
            return true;
    return false;
}

const char *meetctl_device_name(long instanceid)
{
    for (size_t i = 0; i < sizeof meetctl_devices / sizeof meetctl_devices[0]; i++)
        if (meetctl_devices[i].id == instanceid)
            return meetctl_devices[i].name;
    return "?";
}

const char *meetctl_role_name(long role)
{
    static const char *const names[] = {"member", "creator",  "host",    "creator+host",
                                        "guest",  "guest+host", "co-host", "creator+co-host"};
    return role >= 0 && role < (long)(sizeof names / sizeof names[0]) ? names[role] : "?";
}

/* Decimal, whole string, in range; no sign games, no blanks. */
static bool meetctl_decimal(const char *s, long min, long max, long *out)
{
    if (s == NULL || s[0] == '\0' || (s[0] != '-' && (s[0] < '0' || s[0] > '9')))
        return false;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (errno != 0 || *end != '\0' || v < min || v > max)
        return false;
    *out = v;
    return true;
}

int meetctl_parse_long(meetctl_ctx *ctx, const char *opt, const char *s, long min, long max,
                       long *out)
{
    if (!meetctl_decimal(s, min, max, out))
        return meetctl_usage(ctx, "%s wants a whole number from %ld to %ld, not '%s'", opt, min,
                             max, s);
    return 0;
}

int meetctl_parse_instanceid(meetctl_ctx *ctx, const char *s, int *out)
{
    long v;
    if (!meetctl_decimal(s, 0, 1000, &v) || !meetctl_instanceid_known(v))
        return meetctl_usage(ctx, "unknown instanceid '%s' (device types: %s)", s,
                             MEETCTL_KNOWN_DEVICES);
    *out = (int)v;
    return 0;
}

int meetctl_parse_ident(meetctl_ctx *ctx, const char *s, meetctl_ident *out)
{
    static const struct {
        const char *prefix;
        meetctl_id_kind kind;
        size_t max;     /* docs/api.md: userid 1..64, uuid/ms_open_id 1..128 bytes */
    } kinds[] = {
        {"userid:", MEETCTL_ID_USERID, 64},
        {"ms:", MEETCTL_ID_MS, 128},
        {"uuid:", MEETCTL_ID_UUID, 128},
    };
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t plen = strlen(kinds[i].prefix);
        if (strncmp(s, kinds[i].prefix, plen) != 0)
            continue;
        const char *id = s + plen;
        const char *slash = strrchr(id, '/');
        if (slash == NULL || slash == id || slash[1] == '\0')
            break;
        size_t id_len = (size_t)(slash - id);
        if (id_len > kinds[i].max)
            return meetctl_usage(ctx, "'%s': the id is longer than %zu bytes", s, kinds[i].max);
        long inst;
        if (!meetctl_decimal(slash + 1, 0, 1000, &inst) || !meetctl_instanceid_known(inst))
            return meetctl_usage(ctx, "'%s': unknown instanceid '%s' (device types: %s)", s,
                                 slash + 1, MEETCTL_KNOWN_DEVICES);
        out->kind = kinds[i].kind;
        memcpy(out->id, id, id_len);
        out->id[id_len] = '\0';
        out->instanceid = (int)inst;
        if (!meetctl_utf8_valid(out->id))
            return meetctl_usage(ctx, "'%s': the id is not valid UTF-8", s);
        return 0;
    }
    return meetctl_usage(ctx,
                         "'%s' is not KIND:ID/INSTANCEID with KIND userid, ms or uuid "
                         "(e.g. ms:msABC/1)",
                         s);
}

int meetctl_parse_time(meetctl_ctx *ctx, const char *opt, const char *s, long long *out)
{
    long long now = (long long)time(NULL);
    long v;
    if (strcmp(s, "now") == 0) {
        *out = now;
        return 0;
    }
    if (s[0] == '+' && s[1] >= '0' && s[1] <= '9') {
        char *end;
        errno = 0;
        long long n = strtoll(s + 1, &end, 10);
        long long unit = *end == 's' || *end == '\0' ? 1
                         : *end == 'm'              ? 60
                         : *end == 'h'              ? 3600
                         : *end == 'd'              ? 86400
                                                    : 0;
        bool tail_ok = *end == '\0' || end[1] == '\0';
        if (errno == 0 && unit != 0 && tail_ok && n <= 3650LL * 86400 / unit) {
            *out = now + n * unit;
            return 0;
        }
    } else if (meetctl_decimal(s, 0, LONG_MAX, &v)) {
        *out = v;
        return 0;
    }
    return meetctl_usage(ctx, "%s wants Unix seconds, 'now' or '+N[smhd]', not '%s'", opt, s);
}

bool meetctl_utf8_valid(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p != '\0') {
        unsigned char c = *p;
        size_t n = c < 0x80 ? 0 : (c & 0xe0) == 0xc0 ? 1 : (c & 0xf0) == 0xe0 ? 2
                              : (c & 0xf8) == 0xf0 ? 3 : 4;
        if (n == 4 || (n == 1 && c < 0xc2) || (n == 3 && c > 0xf4))
            return false;
        unsigned long cp = n == 0 ? c : (c & (0x3f >> n));
        for (size_t i = 1; i <= n; i++) {
            if ((p[i] & 0xc0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3f);
        }
        if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
            (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
            return false;
        p += n + 1;
    }
    return true;
}

int meetctl_check_text(meetctl_ctx *ctx, const char *what, const char *s, size_t max)
{
    size_t len = strlen(s);
    if (len == 0 || len > max)
        return meetctl_usage(ctx, "%s must be 1 to %zu bytes (it is %zu)", what, max, len);
    if (!meetctl_utf8_valid(s))
        return meetctl_usage(ctx, "%s is not valid UTF-8", what);
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        if (*p < 0x20 || *p == 0x7f)
            return meetctl_usage(ctx, "%s contains a control character", what);
    return 0;
}
