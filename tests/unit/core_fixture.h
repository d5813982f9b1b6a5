/* What the cmocka tests of the role rules (kickout, co-hosts) share: the
 * clock, a meeting in progress, and parties as the store would resolve them. */
#ifndef MEETD_TESTS_CORE_FIXTURE_H
#define MEETD_TESTS_CORE_FIXTURE_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/core.h"

#define BIT(i) (UINT64_C(1) << (i))
#define NOW INT64_C(1710122400)

/* A found party: user_no n gets uuid "uuid-n" and ms_open_id "ms-n"; mask
 * says which instanceids are present. */
static inline core_party party(int64_t user_no, const char *userid, const char *guest_id,
                               bool cohost, uint64_t mask)
{
    core_party p;

    memset(&p, 0, sizeof p);
    p.found = true;
    p.present_mask = mask;
    p.user.user_no = user_no;
    p.user.cohost = cohost;
    snprintf(p.user.userid, sizeof p.user.userid, "%s", userid);
    snprintf(p.user.guest_id, sizeof p.user.guest_id, "%s", guest_id);
    snprintf(p.user.uuid, sizeof p.user.uuid, "uuid-%lld", (long long)user_no);
    snprintf(p.user.ms_open_id, sizeof p.user.ms_open_id, "ms-%lld", (long long)user_no);
    return p;
}

/* In progress at NOW: created by alice (instanceid 1), bob the host. */
static inline void meeting_in_progress(core_meeting *m, int64_t meeting_id, const char *subject)
{
    memset(m, 0, sizeof *m);
    m->meeting_id = meeting_id;
    snprintf(m->subject, sizeof m->subject, "%s", subject);
    snprintf(m->creator_userid, sizeof m->creator_userid, "alice");
    m->creator_instanceid = 1;
    m->start_time = NOW - 600;
    m->end_time = NOW + 3000;
    snprintf(m->hosts[0], sizeof m->hosts[0], "bob");
    m->n_hosts = 1;
    m->status = CORE_ST_STARTED;
}

static inline void assert_err_msg(const meetd_error *err, const char *needle)
{
    if (strstr(err->msg, needle) == NULL)
        fail_msg("message \"%s\" lacks \"%s\"", err->msg, needle);
}

#endif
