/* core co-hosts: request validation and who may appoint or revoke. */
#include "core_fixture.h"

static core_meeting mtg;
static core_cohost_req req;
static meetd_error err;

/* alice created the meeting, bob is the scheduled host, coh a co-host. */
static core_party p_alice, p_bob, p_coh, p_mem, p_guest, p_absent;

static void req_init(core_id_type op_type, const char *op_id, int op_instanceid,
                     core_id_type target_type, const char *target_id, int target_instanceid)
{
    memset(&req, 0, sizeof req);
    req.op_type = op_type;
    snprintf(req.op_id, sizeof req.op_id, "%s", op_id);
    req.op_instanceid = op_instanceid;
    req.action = true;
    req.target_type = target_type;
    snprintf(req.target_id, sizeof req.target_id, "%s", target_id);
    req.target_instanceid = target_instanceid;
}

static int setup(void **state)
{
    (void)state;
    meeting_in_progress(&mtg, 42, "Co-hosts");

    p_alice = party(1, "alice", "", false, BIT(1));
    p_bob = party(2, "bob", "", false, BIT(2));
    p_coh = party(3, "coh", "", true, BIT(4));
    p_mem = party(4, "mem", "", false, BIT(1) | BIT(3));
    p_guest = party(5, "", "guest-5", false, BIT(5) | BIT(9));
    memset(&p_absent, 0, sizeof p_absent);

    req_init(CORE_ID_USERID, "alice", 1, CORE_ID_MS_OPEN_ID, "ms-4", 3);
    memset(&err, 0, sizeof err);
    return 0;
}

static meetd_err validate(void)
{
    return core_cohost_validate(&req, &err);
}

static meetd_err decide(const core_party *op, const core_party *target)
{
    assert_int_equal(core_cohost_validate(&req, &err), ME_OK);
    return core_cohost_decide(&mtg, NOW, &req, op, target, &err);
}

/* ---- validate ------------------------------------------------------------ */

static void test_validate_ok(void **state)
{
    (void)state;
    assert_int_equal(validate(), ME_OK);
    req_init(CORE_ID_UUID, "uuid-2", 2, CORE_ID_UUID, "uuid-4", 1);
    assert_int_equal(validate(), ME_OK);
    req_init(CORE_ID_MS_OPEN_ID, "ms-2", 2, CORE_ID_UUID, "uuid-4", 33);
    req.action = false;
    assert_int_equal(validate(), ME_OK);
}

static void test_validate_operator(void **state)
{
    (void)state;
    req.op_type = CORE_ID_OPENID;
    assert_int_equal(validate(), ME_INVALID);
    assert_err_msg(&err, "operator_id_type 2");
    assert_err_msg(&err, "OAuth2.0");
    req.op_type = CORE_ID_NONE;
    assert_int_equal(validate(), ME_INVALID);
    assert_string_equal(err.msg, "operator_id or uuid is required");
    req.op_type = (core_id_type)5;
    assert_int_equal(validate(), ME_INVALID);
    assert_string_equal(err.msg, "unknown operator_id_type");

    req.op_type = CORE_ID_USERID;
    memset(req.op_id, 'a', 65);
    assert_int_equal(validate(), ME_INVALID); /* 65-byte userid */
    req.op_id[64] = '\0';
    assert_int_equal(validate(), ME_OK);
    req.op_type = CORE_ID_UUID;
    memset(req.op_id, 'a', sizeof req.op_id);
    assert_int_equal(validate(), ME_INVALID); /* 129 bytes */
    req.op_id[128] = '\0';
    assert_int_equal(validate(), ME_OK);
    req.op_id[0] = '\0';
    assert_int_equal(validate(), ME_INVALID);
    assert_err_msg(&err, "uuid");
}

static void test_validate_instanceids(void **state)
{
    (void)state;
    req.op_instanceid = 11;
    assert_int_equal(validate(), ME_INVALID);
    req.op_instanceid = -1;
    assert_int_equal(validate(), ME_INVALID);
    req.op_instanceid = 9; /* operating from an MRA device is allowed */
    assert_int_equal(validate(), ME_OK);
    req.target_instanceid = 34;
    assert_int_equal(validate(), ME_INVALID);
    assert_err_msg(&err, "user.instanceid");
    req.target_instanceid = 11;
    assert_int_equal(validate(), ME_INVALID);
}

static void test_validate_mra_target(void **state)
{
    (void)state;
    /* Tencent's current documentation lets an MRA room be a co-host. */
    req.target_instanceid = 9;
    assert_int_equal(validate(), ME_OK);
    req.action = false;
    assert_int_equal(validate(), ME_OK);
}

static void test_decide_mra_target(void **state)
{
    core_party room = p_guest; /* present on 5 and on 9 (MRA) */

    (void)state;
    req_init(CORE_ID_USERID, "alice", 1, CORE_ID_MS_OPEN_ID, "ms-5", 9);
    assert_int_equal(decide(&p_absent, &room), ME_OK);
    req.action = false;
    assert_int_equal(decide(&p_absent, &room), ME_OK);
    /* Not on MRA: the device named must be present, as for any target. */
    room.present_mask = BIT(5);
    req.action = true;
    assert_int_equal(decide(&p_absent, &room), ME_INVALID);
}

/* ---- who may read participants ------------------------------------------- */

static void test_role_moderates(void **state)
{
    (void)state;
    const int yes[] = {CORE_ROLE_CREATOR, CORE_ROLE_HOST, CORE_ROLE_CREATOR_HOST,
                       CORE_ROLE_GUEST_HOST, CORE_ROLE_COHOST, CORE_ROLE_CREATOR_COHOST};
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
        assert_true(core_role_moderates(yes[i]));
    assert_false(core_role_moderates(CORE_ROLE_MEMBER));
    assert_false(core_role_moderates(CORE_ROLE_GUEST));
    assert_false(core_role_moderates(-1));
    assert_false(core_role_moderates(8));
}

/* The participants lists' operator named by userid. */
static meetd_err viewer(const char *userid, const core_party *op)
{
    return core_viewer_admit(&mtg, CORE_ID_USERID, userid, op, &err);
}

static void test_viewer_admit(void **state)
{
    (void)state;
    /* Creator and host need not have joined; a co-host is one by their
     * user record. */
    assert_int_equal(viewer("alice", &p_absent), ME_OK);
    assert_int_equal(viewer("bob", &p_absent), ME_OK);
    assert_int_equal(viewer("coh", &p_coh), ME_OK);
    /* A member, and someone the meeting does not know: 9042. */
    assert_int_equal(viewer("mem", &p_mem), ME_FORBIDDEN);
    assert_err_msg(&err, "co-host");
    assert_int_equal(viewer("nobody", &p_absent), ME_FORBIDDEN);
    /* "coh" named by userid but never made co-host in this meeting. */
    assert_int_equal(viewer("coh", &p_absent), ME_FORBIDDEN);
    /* Banned: never, whatever the role. */
    core_party banned = p_coh;
    banned.banned = true;
    assert_int_equal(viewer("coh", &banned), ME_FORBIDDEN);
    assert_err_msg(&err, "allow_rejoin=false");
    core_party banned_creator = p_alice;
    banned_creator.banned = true;
    assert_int_equal(viewer("alice", &banned_creator), ME_FORBIDDEN);
    /* Malformed ids never reach the role rule. */
    assert_int_equal(viewer("", &p_absent), ME_INVALID);
    char long_id[CORE_ID_MAX + 2];
    memset(long_id, 'u', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    assert_int_equal(viewer(long_id, &p_absent), ME_INVALID);
}

static void test_viewer_admit_room(void **state)
{
    (void)state;
    /* A rooms_id is an MRA device present in the meeting: the guest's
     * device on instanceid 9 is one; a co-host's is when it is on 9. */
    assert_int_equal(core_viewer_admit(&mtg, CORE_ID_ROOMS_ID, "ms-5", &p_guest, &err),
                     ME_FORBIDDEN);
    assert_err_msg(&err, "co-host");
    core_party room = p_coh;
    room.present_mask = BIT(9);
    assert_int_equal(core_viewer_admit(&mtg, CORE_ID_ROOMS_ID, "ms-3", &room, &err), ME_OK);
    /* Not on instanceid 9, not present, unknown: no room of this meeting. */
    assert_int_equal(core_viewer_admit(&mtg, CORE_ID_ROOMS_ID, "ms-3", &p_coh, &err),
                     ME_FORBIDDEN);
    assert_err_msg(&err, "rooms_id");
    room.present_mask = 0;
    assert_int_equal(core_viewer_admit(&mtg, CORE_ID_ROOMS_ID, "ms-3", &room, &err),
                     ME_FORBIDDEN);
    assert_err_msg(&err, "rooms_id");
    assert_int_equal(core_viewer_admit(&mtg, CORE_ID_ROOMS_ID, "ms-x", &p_absent, &err),
                     ME_FORBIDDEN);
    assert_err_msg(&err, "rooms_id");
    /* Banned: never. */
    room.present_mask = BIT(9);
    room.banned = true;
    assert_int_equal(core_viewer_admit(&mtg, CORE_ID_ROOMS_ID, "ms-3", &room, &err),
                     ME_FORBIDDEN);
    assert_err_msg(&err, "allow_rejoin=false");
    /* The forms a list does not take never reach the role rule. */
    assert_int_equal(core_viewer_admit(&mtg, CORE_ID_MS_OPEN_ID, "ms-3", &p_coh, &err),
                     ME_INVALID);
}

static void test_validate_target_form(void **state)
{
    (void)state;
    req.target_type = CORE_ID_USERID;
    assert_int_equal(validate(), ME_INVALID);
    req.target_type = CORE_ID_OPENID;
    assert_int_equal(validate(), ME_INVALID);
    req.target_type = CORE_ID_NONE;
    assert_int_equal(validate(), ME_INVALID);
    req.target_type = CORE_ID_UUID;
    assert_int_equal(validate(), ME_OK);
    req.target_id[0] = '\0';
    assert_int_equal(validate(), ME_INVALID);
    assert_err_msg(&err, "user.uuid");
    memset(req.target_id, 't', sizeof req.target_id);
    assert_int_equal(validate(), ME_INVALID);
    req.target_id[128] = '\0';
    assert_int_equal(validate(), ME_OK);
    snprintf(req.target_id, sizeof req.target_id, "x\xc0\x80");
    assert_int_equal(validate(), ME_INVALID);
}

/* ---- decide -------------------------------------------------------------- */

static void test_decide_not_in_progress(void **state)
{
    (void)state;
    mtg.status = CORE_ST_INIT;
    assert_int_equal(decide(&p_absent, &p_mem), ME_NOT_IN_PROGRESS);
    mtg.status = CORE_ST_ENDED;
    assert_int_equal(decide(&p_absent, &p_mem), ME_NOT_IN_PROGRESS);
    /* Before permission: a member hears the same. */
    mtg.status = CORE_ST_INIT;
    req_init(CORE_ID_USERID, "mem", 1, CORE_ID_UUID, "uuid-5", 5);
    assert_int_equal(decide(&p_mem, &p_guest), ME_NOT_IN_PROGRESS);
}

static void test_decide_creator_by_userid(void **state)
{
    (void)state;
    assert_int_equal(decide(&p_absent, &p_mem), ME_OK); /* alice not present */
    assert_int_equal(decide(&p_alice, &p_mem), ME_OK);
    req.action = false;
    assert_int_equal(decide(&p_absent, &p_mem), ME_OK);
}

static void test_decide_host(void **state)
{
    (void)state;
    req_init(CORE_ID_UUID, "uuid-2", 2, CORE_ID_UUID, "uuid-5", 5);
    assert_int_equal(decide(&p_bob, &p_guest), ME_OK);
    req_init(CORE_ID_USERID, "bob", 3, CORE_ID_UUID, "uuid-5", 5);
    assert_int_equal(decide(&p_absent, &p_guest), ME_OK);
    /* The host may make the creator a co-host. */
    req_init(CORE_ID_UUID, "uuid-2", 2, CORE_ID_UUID, "uuid-1", 1);
    assert_int_equal(decide(&p_bob, &p_alice), ME_OK);
}

static void test_decide_presence(void **state)
{
    core_party op = p_bob;

    (void)state;
    req_init(CORE_ID_MS_OPEN_ID, "ms-2", 3, CORE_ID_UUID, "uuid-4", 1);
    assert_int_equal(decide(&op, &p_mem), ME_FORBIDDEN);
    assert_string_equal(err.msg, "operator is not in the meeting on that device");
    assert_int_equal(decide(&p_absent, &p_mem), ME_FORBIDDEN);
    op.present_mask = BIT(3);
    assert_int_equal(decide(&op, &p_mem), ME_OK);
    /* The creator named by uuid must be present too. */
    req_init(CORE_ID_UUID, "uuid-1", 2, CORE_ID_UUID, "uuid-4", 1);
    assert_int_equal(decide(&p_alice, &p_mem), ME_FORBIDDEN);
}

static void test_decide_cohost_cannot_appoint(void **state)
{
    core_party op = p_coh;

    (void)state;
    req_init(CORE_ID_UUID, "uuid-3", 4, CORE_ID_UUID, "uuid-4", 1);
    assert_int_equal(decide(&p_coh, &p_mem), ME_FORBIDDEN);
    assert_err_msg(&err, "creator or a host");
    req.action = false;
    assert_int_equal(decide(&p_coh, &p_mem), ME_FORBIDDEN);
    req_init(CORE_ID_USERID, "coh", 1, CORE_ID_UUID, "uuid-4", 1);
    assert_int_equal(decide(&op, &p_mem), ME_FORBIDDEN);
    /* A guest co-host neither. */
    op = party(6, "", "guest-6", true, BIT(8));
    req_init(CORE_ID_UUID, "uuid-6", 8, CORE_ID_UUID, "uuid-4", 1);
    assert_int_equal(decide(&op, &p_mem), ME_FORBIDDEN);
}

static void test_decide_member_forbidden(void **state)
{
    (void)state;
    req_init(CORE_ID_UUID, "uuid-4", 1, CORE_ID_UUID, "uuid-5", 5);
    assert_int_equal(decide(&p_mem, &p_guest), ME_FORBIDDEN);
    req_init(CORE_ID_USERID, "stranger", 1, CORE_ID_UUID, "uuid-5", 5);
    assert_int_equal(decide(&p_absent, &p_guest), ME_FORBIDDEN);
    req_init(CORE_ID_UUID, "uuid-5", 5, CORE_ID_UUID, "uuid-4", 1);
    assert_int_equal(decide(&p_guest, &p_mem), ME_FORBIDDEN);
}

static void test_decide_creator_cohost_may_appoint(void **state)
{
    core_party op = p_alice;

    (void)state;
    op.user.cohost = true; /* creator, not host (bob is), but co-host */
    req_init(CORE_ID_UUID, "uuid-1", 1, CORE_ID_UUID, "uuid-4", 1);
    assert_int_equal(decide(&op, &p_mem), ME_OK);
}

static void test_decide_creator_not_host_may_appoint(void **state)
{
    (void)state;
    /* With bob scheduled, alice is creator only: still allowed. */
    req_init(CORE_ID_UUID, "uuid-1", 1, CORE_ID_UUID, "uuid-4", 3);
    assert_int_equal(decide(&p_alice, &p_mem), ME_OK);
    /* With no hosts scheduled, bob is nobody. */
    mtg.n_hosts = 0;
    req_init(CORE_ID_UUID, "uuid-2", 2, CORE_ID_UUID, "uuid-4", 3);
    assert_int_equal(decide(&p_bob, &p_mem), ME_FORBIDDEN);
}

static void test_decide_target_presence(void **state)
{
    core_party t = p_mem;

    (void)state;
    req.target_instanceid = 2; /* mem is on 1 and 3 */
    assert_int_equal(decide(&p_absent, &p_mem), ME_INVALID);
    assert_string_equal(err.msg, "user is not in the meeting on that device");
    req.target_instanceid = 1;
    assert_int_equal(decide(&p_absent, &p_mem), ME_OK);
    t.present_mask = 0;
    assert_int_equal(decide(&p_absent, &t), ME_INVALID);
    assert_int_equal(decide(&p_absent, &p_absent), ME_INVALID);
    assert_string_equal(err.msg, "user is not in the meeting on that device");
    /* Bit 33, not bit 1. */
    t.present_mask = BIT(33);
    req.target_instanceid = 33;
    assert_int_equal(decide(&p_absent, &t), ME_OK);
    req.target_instanceid = 1;
    assert_int_equal(decide(&p_absent, &t), ME_INVALID);
}

static void test_decide_target_self(void **state)
{
    core_party op = p_bob;

    (void)state;
    op.present_mask = BIT(2) | BIT(3);
    req_init(CORE_ID_UUID, "uuid-2", 2, CORE_ID_UUID, "uuid-2", 3);
    assert_int_equal(decide(&op, &op), ME_INVALID);
    assert_err_msg(&err, "your own");
    /* By userid, matched on the target's userid. */
    req_init(CORE_ID_USERID, "alice", 1, CORE_ID_UUID, "uuid-1", 1);
    assert_int_equal(decide(&p_absent, &p_alice), ME_INVALID);
    /* Distinct users not yet stored (user_no 0) are not one another. */
    op.user.user_no = 0;
    req_init(CORE_ID_UUID, "uuid-2", 2, CORE_ID_UUID, "uuid-5", 5);
    {
        core_party t = p_guest;
        t.user.user_no = 0;
        assert_int_equal(decide(&op, &t), ME_OK);
    }
}

static void test_decide_recurring(void **state)
{
    (void)state;
    mtg.status = CORE_ST_INIT;
    mtg.meeting_type = 1;
    mtg.n_occ = 2;
    for (int i = 0; i < 2; i++) {
        mtg.occ[i].start_time = mtg.occ[i].sub_meeting_id = NOW + i * 86400;
        mtg.occ[i].end_time = mtg.occ[i].start_time + 3600;
    }
    assert_int_equal(decide(&p_absent, &p_mem), ME_NOT_IN_PROGRESS);
    mtg.occ[0].status = CORE_ST_STARTED;
    assert_int_equal(decide(&p_absent, &p_mem), ME_OK);
    mtg.status = CORE_ST_CANCELLED;
    assert_int_equal(decide(&p_absent, &p_mem), ME_NOT_IN_PROGRESS);
}

static void test_decide_banned_operator(void **state)
{
    core_party op = p_alice;

    (void)state;
    op.banned = true;
    assert_int_equal(decide(&op, &p_mem), ME_FORBIDDEN); /* by userid, no presence needed */
    assert_err_msg(&err, "allow_rejoin=false");
    req.action = false;
    assert_int_equal(decide(&op, &p_mem), ME_FORBIDDEN);
    op = p_bob;
    op.banned = true;
    req_init(CORE_ID_MS_OPEN_ID, "ms-2", 2, CORE_ID_UUID, "uuid-4", 1);
    assert_int_equal(decide(&op, &p_mem), ME_FORBIDDEN);
    assert_err_msg(&err, "allow_rejoin=false");
    op.banned = false;
    assert_int_equal(decide(&op, &p_mem), ME_OK);
}

static void test_decide_banned_target(void **state)
{
    core_party t = p_mem;

    (void)state;
    /* Banned, still present on a device the kickout did not name: not
     * appointed (the role could never be used)... */
    t.banned = true;
    assert_int_equal(decide(&p_alice, &t), ME_INVALID);
    assert_err_msg(&err, "lift the ban");
    /* ...but a leftover role may always be taken away. */
    req.action = false;
    assert_int_equal(decide(&p_alice, &t), ME_OK);
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_validate_ok),
        T(test_validate_operator),
        T(test_validate_instanceids),
        T(test_validate_mra_target),
        T(test_validate_target_form),
        T(test_decide_not_in_progress),
        T(test_decide_creator_by_userid),
        T(test_decide_host),
        T(test_decide_presence),
        T(test_decide_cohost_cannot_appoint),
        T(test_decide_member_forbidden),
        T(test_decide_creator_cohost_may_appoint),
        T(test_decide_creator_not_host_may_appoint),
        T(test_decide_target_presence),
        T(test_decide_target_self),
        T(test_decide_recurring),
        T(test_decide_banned_operator),
        T(test_decide_banned_target),
        T(test_decide_mra_target),
        T(test_role_moderates),
        T(test_viewer_admit),
        T(test_viewer_admit_room),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
