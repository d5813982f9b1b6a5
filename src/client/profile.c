/* Credentials profiles: the KEY=VALUE file meetd writes to <data>/credentials
 * (docs/configuration.md), and the same names in the environment. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_int.h"

#define MEET_PROFILE_MAX (64u << 10)    /* a credentials file is a few hundred bytes */

typedef struct meet_profile_key {
    const char *name;
    size_t offset;
} meet_profile_key;

static const meet_profile_key meet_profile_keys[] = {
    {"MEETD_ENDPOINT", offsetof(meet_profile, endpoint)},
    {"MEETD_APP_ID", offsetof(meet_profile, app_id)},
    {"MEETD_SDK_ID", offsetof(meet_profile, sdk_id)},
    {"MEETD_SECRET_ID", offsetof(meet_profile, secret_id)},
    {"MEETD_SECRET_KEY", offsetof(meet_profile, secret_key)},
};
#define MEET_PROFILE_NKEYS (sizeof meet_profile_keys / sizeof meet_profile_keys[0])

static char **meet_profile_slot(meet_profile *p, size_t i)
{
    return (char **)((char *)p + meet_profile_keys[i].offset);
}

static void meet_wipe_free(char *s)
{
    if (s != NULL)
        explicit_bzero(s, strlen(s));
    free(s);
}

void meet_profile_release(meet_profile *p)
{
    if (p == NULL)
        return;
    for (size_t i = 0; i < MEET_PROFILE_NKEYS; i++)
        meet_wipe_free(*meet_profile_slot(p, i));
    memset(p, 0, sizeof *p);
}

static bool meet_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

/* Trims blanks around [*s, *e) and then one pair of matching quotes. */
static void meet_trim(const char **s, const char **e)
{
    while (*s < *e && meet_blank(**s))
        (*s)++;
    while (*e > *s && meet_blank((*e)[-1]))
        (*e)--;
    if (*e - *s >= 2 && (**s == '"' || **s == '\'') && (*e)[-1] == **s) {
        (*s)++;
        (*e)--;
    }
}

/* One line: 0 parsed or skipped, -1 malformed, -2 out of memory. */
static int meet_profile_line(meet_profile *p, const char *line, const char *end)
{
    const char *s = line, *e = end;
    meet_trim(&s, &e);
    if (s == e || *s == '#')
        return 0;
    if (e - s > 7 && memcmp(s, "export", 6) == 0 && meet_blank(s[6]))
        for (s += 6; s < e && meet_blank(*s); s++)
            ;
    const char *eq = memchr(s, '=', (size_t)(e - s));
    if (eq == NULL || eq == s)
        return -1;
    const char *ks = s, *ke = eq, *vs = eq + 1, *ve = e;
    meet_trim(&ks, &ke);
    meet_trim(&vs, &ve);
    for (size_t i = 0; i < MEET_PROFILE_NKEYS; i++) {
        const char *name = meet_profile_keys[i].name;
        if ((size_t)(ke - ks) != strlen(name) || memcmp(ks, name, (size_t)(ke - ks)) != 0)
            continue;
        char *value = strndup(vs, (size_t)(ve - vs));
        if (value == NULL)
            return -2;
        char **slot = meet_profile_slot(p, i);
        meet_wipe_free(*slot);
        *slot = value;
        return 0;
    }
    return 0;
}

meet_rc meet_profile_parse(const char *text, meet_profile *p, int *bad_line)
{
    if (p == NULL || text == NULL)
        return MEET_EINVAL;
    memset(p, 0, sizeof *p);
    if (bad_line != NULL)
        *bad_line = 0;
    int lineno = 0;
    for (const char *line = text; *line != '\0';) {
        const char *end = strchr(line, '\n');
        if (end == NULL)
            end = line + strlen(line);
        lineno++;
        int r = meet_profile_line(p, line, end);
        if (r != 0) {
            meet_profile_release(p);
            if (r == -1 && bad_line != NULL)
                *bad_line = lineno;
            return r == -1 ? MEET_EINVAL : MEET_ENOMEM;
        }
        line = *end == '\n' ? end + 1 : end;
    }
    return MEET_OK;
}

meet_rc meet_profile_load(const char *path, meet_profile *p, int *bad_line)
{
    if (p != NULL)
        memset(p, 0, sizeof *p);
    if (bad_line != NULL)
        *bad_line = 0;
    if (path == NULL || p == NULL)
        return MEET_EINVAL;
    FILE *f = fopen(path, "re");
    if (f == NULL)
        return MEET_EINVAL;
    char *text = calloc(1, MEET_PROFILE_MAX + 1);
    if (text == NULL) {
        fclose(f);
        return MEET_ENOMEM;
    }
    size_t n = fread(text, 1, MEET_PROFILE_MAX + 1, f);
    int read_failed = ferror(f);
    fclose(f);
    meet_rc rc;
    if (read_failed) {
        errno = EIO;
        rc = MEET_EINVAL;
    } else if (n > MEET_PROFILE_MAX || memchr(text, '\0', n) != NULL) {
        /* Not a credentials file: too big, or binary. */
        errno = EINVAL;
        rc = MEET_EINVAL;
    } else {
        text[n] = '\0';
        rc = meet_profile_parse(text, p, bad_line);
    }
    explicit_bzero(text, n);
    free(text);
    return rc;
}

meet_rc meet_profile_merge_env(meet_profile *p)
{
    if (p == NULL)
        return MEET_EINVAL;
    for (size_t i = 0; i < MEET_PROFILE_NKEYS; i++) {
        char **slot = meet_profile_slot(p, i);
        const char *v = getenv(meet_profile_keys[i].name);
        if (*slot != NULL || v == NULL || v[0] == '\0')
            continue;
        *slot = strdup(v);
        if (*slot == NULL)
            return MEET_ENOMEM;
    }
    return MEET_OK;
}
