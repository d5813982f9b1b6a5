/* Who a user is in a meeting: creator, scheduled host, co-host, guest. */
#include "core/core.h"

#include <assert.h>
#include <string.h>

/* An empty userid is "absent" (guests have none), and must never match an
 * empty creator or host slot. */
bool core_is_creator(const core_meeting *m, const char *userid)
{
    assert(m != NULL);
    if (userid == NULL || userid[0] == '\0' || m->creator_userid[0] == '\0')
        return false;
    return strcmp(m->creator_userid, userid) == 0;
}

bool core_is_host(const core_meeting *m, const char *userid)
{
    assert(m != NULL);
    assert(m->n_hosts >= 0 && m->n_hosts <= CORE_HOSTS_MAX);
    if (userid == NULL || userid[0] == '\0')
        return false;
    if (m->n_hosts == 0)
        return core_is_creator(m, userid);
    for (int i = 0; i < m->n_hosts; i++) {
        if (m->hosts[i][0] != '\0' && strcmp(m->hosts[i], userid) == 0)
            return true;
    }
    return false;
}

int core_user_role(const core_meeting *m, const core_user *u)
{
    assert(u != NULL);
    return core_role_of(m, u->userid, u->guest_id, u->cohost);
}

int core_role_of(const core_meeting *m, const char *userid, const char *guest_id, bool cohost)
{
    bool creator, host;

    assert(m != NULL && userid != NULL && guest_id != NULL);
    /* Hosts are scheduled by userid, so a guest can only be a co-host:
     * CORE_ROLE_GUEST_HOST stays unreachable. */
    if (guest_id[0] != '\0')
        return cohost ? CORE_ROLE_COHOST : CORE_ROLE_GUEST;

    creator = core_is_creator(m, userid);
    host = core_is_host(m, userid);
    if (creator && host)
        return CORE_ROLE_CREATOR_HOST;
    if (creator && cohost)
        return CORE_ROLE_CREATOR_COHOST;
    if (creator)
        return CORE_ROLE_CREATOR;
    if (host)
        return CORE_ROLE_HOST;
    if (cohost)
        return CORE_ROLE_COHOST;
    return CORE_ROLE_MEMBER;
}

bool core_role_moderates(int role)
{
    switch (role) {
    case CORE_ROLE_CREATOR:
    case CORE_ROLE_HOST:
    case CORE_ROLE_CREATOR_HOST:
    case CORE_ROLE_GUEST_HOST:
    case CORE_ROLE_COHOST:
    case CORE_ROLE_CREATOR_COHOST:
        return true;
    default:
        return false;
    }
}
