/* Naming a user of a meeting by a bare string (the ban lift's path).
 *
 * A user has four names in a meeting: a userid or a guest_id (whichever they
 * joined with), a uuid and an ms_open_id. They are unique per kind, not
 * across kinds: userid "gus" and guest_id "gus" are two people. A bare name
 * that fits more than one user must not pick one of them silently (lifting
 * the ban of the wrong user answered {"lifted":false} and left the banned
 * one banned), so the caller says which kind it means, or gets an error
 * telling it how to. */
#include "core/core.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* The order in which kinds are listed in messages and docs. */
const core_id_type core_name_kinds[CORE_NAME_KINDS] = {CORE_ID_USERID, CORE_ID_GUEST,
                                                       CORE_ID_MS_OPEN_ID, CORE_ID_UUID};

const char *core_name_kind(core_id_type kind)
{
    switch (kind) {
    case CORE_ID_USERID:
        return "userid";
    case CORE_ID_GUEST:
        return "guest_id";
    case CORE_ID_MS_OPEN_ID:
        return "ms_open_id";
    case CORE_ID_UUID:
        return "uuid";
    default:
        return "?";
    }
}

meetd_err core_name_kind_parse(const char *s, core_id_type *out, meetd_error *err)
{
    assert(out != NULL);
    for (int i = 0; s != NULL && i < CORE_NAME_KINDS; i++) {
        if (strcmp(s, core_name_kind(core_name_kinds[i])) == 0) {
            *out = core_name_kinds[i];
            return ME_OK;
        }
    }
    return err_set(err, ME_INVALID, "kind must be userid, guest_id, ms_open_id or uuid");
}

meetd_err core_name_pick(const core_party matches[CORE_NAME_KINDS], int *pick,
                         meetd_error *err)
{
    char kinds[96] = "";
    size_t used = 0;
    int n = 0;

    assert(matches != NULL && pick != NULL);
    *pick = -1;
    for (int i = 0; i < CORE_NAME_KINDS; i++) {
        bool again = false;

        if (!matches[i].found)
            continue;
        /* The same user under two kinds is still one user. */
        for (int j = 0; j < i && !again; j++)
            again = matches[j].found && matches[j].user.user_no == matches[i].user.user_no;
        if (again)
            continue;
        /* "?kind=a or ?kind=b": at most four short names, always fits. */
        int w = snprintf(kinds + used, sizeof kinds - used, "%s?kind=%s", n == 0 ? "" : " or ",
                         core_name_kind(core_name_kinds[i]));
        assert(w > 0 && (size_t)w < sizeof kinds - used);
        used += (size_t)w;
        n++;
        if (*pick < 0)
            *pick = i;
    }
    if (n > 1) {
        *pick = -1;
        return err_set(err, ME_INVALID,
                       "the name is taken by more than one user of this meeting: "
                       "say which with %s", kinds);
    }
    return ME_OK;
}
