/* core kickout: request validation and the per-target decision. */
#include "core_fixture.h"

static core_meeting mtg;
static core_kick_req req;
static core_kick_plan plan;
static meetd_error err;

/* The cast of every decide test: alice created the meeting, bob is the
 * scheduled host, coh a co-host, mem and a guest ordinary participants. */
static core_party p_alice, p_bob, p_coh, p_mem, p_guest, p_gcoh, p_room, p_absent;

static void req_init(core_id_type type, const char *op_id, int instanceid)
{
    memset(&req, 0, sizeof req);
    req.op_type = type;
    snprintf(req.op_id, sizeof req.op_id, "%s", op_id);
    req.op_instanceid = instanceid;
    req.allow_rejoin = true;
}

static void add_user(core_id_type type, const char *id, int instanceid)
{
    core_kick_user *u = &req.users[req.n_users++];

    u->id_type = type;
    snprintf(u->id, sizeof u->id, "%s", id);
    u->instanceid = instanceid;
}

static void set_reason(const char *reason)
{
    req.has_reason = true;
    snprintf(req.reason, sizeof req.reason, "%s", reason);
}

static int setup(void **state)
{
    (void)state;
    meeting_in_progress(&mtg, 1242152152161LL, "Kickout");

    p_alice = party(1, "alice", "", false, BIT(1));
    p_bob = party(2, "bob", "", false, BIT(2));
    p_coh = party(3, "coh", "", true, BIT(4));
    p_mem = party(4, "mem", "", false, BIT(1) | BIT(3));
    p_guest = party(5, "", "guest-5", false, BIT(5));
    p_gcoh = party(6, "", "guest-6", true, BIT(8));
    p_room = party(7, "room", "", false, BIT(9) | BIT(33));
    memset(&p_absent, 0, sizeof p_absent);

    req_init(CORE_ID_USERID, "alice", 1);
    add_user(CORE_ID_UUID, "uuid-4", 1);
    memset(&plan, 0xab, sizeof plan); /* decide must overwrite every field it reports */
    memset(&err, 0, sizeof err);
    return 0;
}

static meetd_err validate(void)
{
    return core_kick_validate(&req, &err);
}

static meetd_err decide(const core_party *op, const core_party *targets)
{
    assert_int_equal(core_kick_validate(&req, &err), ME_OK);
    return core_kick_decide(&mtg, NOW, &req, op, targets, &plan, &err);
}

/* ---- validate: operator ------------------------------------------------ */

static void test_validate_ok_forms(void **state)
{
    (void)state;
    assert_int_equal(validate(), ME_OK);
    req_init(CORE_ID_UUID, "afagsagwags", 4); /* the seed's example */
    add_user(CORE_ID_UUID, "agaqwwgdkkddd", 2);
    add_user(CORE_ID_UUID, "agaqwwgdkksd", 5);
    set_reason("test");
    assert_int_equal(validate(), ME_OK);
    req_init(CORE_ID_MS_OPEN_ID, "ms-op", 1);
    add_user(CORE_ID_MS_OPEN_ID, "ms-target", 1);
    assert_int_equal(validate(), ME_OK);
}

static void test_validate_operator_id_lengths(void **state)
{
    char buf[CORE_OPAQUE_MAX + 1];

    (void)state;
    memset(buf, 'u', 64);
    buf[64] = '\0';
    req_init(CORE_ID_USERID, buf, 1);
    add_user(CORE_ID_UUID, "t", 1);
    assert_int_equal(validate(), ME_OK);
    buf[64] = 'u';
    buf[65] = '\0';
    req_init(CORE_ID_USERID, buf, 1); /* a 65-byte userid */
    add_user(CORE_ID_UUID, "t", 1);
    assert_int_equal(validate(), ME_INVALID);
    assert_err_msg(&err, "operator_id");
    /* The same 65 bytes are fine as an ms_open_id or uuid, up to 128. */
    req.op_type = CORE_ID_MS_OPEN_ID;
    assert_int_equal(validate(), ME_OK);
    memset(buf, 'm', 128);
    buf[128] = '\0';
    req_init(CORE_ID_UUID, buf, 1);
    add_user(CORE_ID_UUID, "t", 1);
    assert_int_equal(validate(), ME_OK);
    memset(req.op_id, 'm', sizeof req.op_id); /* 129 bytes, unterminated */
    assert_int_equal(validate(), ME_INVALID);
    assert_err_msg(&err, "uuid");
    req_init(CORE_ID_MS_OPEN_ID, "", 1);
    add_user(CORE_ID_UUID, "t", 1);
    assert_int_equal(validate(), ME_INVALID);
    req_init(CORE_ID_USERID, "", 1);
    add_user(CORE_ID_UUID, "t", 1);
    assert_int_equal(validate(), ME_INVALID);
    req_init(CORE_ID_UUID, "bad\xed\xa0\x80", 1);
    add_user(CORE_ID_UUID, "t", 1);
    assert_int_equal(validate(), ME_INVALID);
    req_init(CORE_ID_USERID, "ctl\x01", 1);
    add_user(CORE_ID_UUID, "t", 1);
    assert_int_equal(validate(), ME_INVALID);
}

static void test_validate_operator_types(void **state)
{
    (void)state;
    req.op_type = CORE_ID_OPENID;
    assert_int_equal(validate(), ME_INVALID);
    assert_err_msg(&err, "operator_id_type 2");
    assert_err_msg(&err, "OAuth2.0");
    req.op_type = CORE_ID_NONE;
    assert_int_equal(validate(), ME_INVALID);
    assert_string_equal(err.msg, "operator_id or uuid is required");
    req.op_type = (core_id_type)3;
    assert_int_equal(validate(), ME_INVALID);
    assert_string_equal(err.msg, "unknown operator_id_type");
    req.op_type = CORE_ID_GUEST;
    assert_int_equal(validate(), ME_INVALID);
    assert_string_equal(err.msg, "unknown operator_id_type");
    req.op_type = (core_id_type)-1;
    assert_int_equal(validate(), ME_INVALID);
}

/* Every carrier of an operator (query string, body; operator_id, userid,
 * uuid) checks the id's form here, and names the field it read. */
static void test_operator_id_check(void **state)
{
    char big[CORE_OPAQUE_MAX + 2];

    (void)state;
    assert_int_equal(core_operator_id_check(CORE_ID_USERID, "operator_id", "alice", &err), ME_OK);
    assert_int_equal(core_operator_id_check(CORE_ID_USERID, "operator_id", "", &err), ME_INVALID);
    assert_err_msg(&err, "operator_id must be a userid of 1..");
    assert_int_equal(core_operator_id_check(CORE_ID_USERID, "userid", "", &err), ME_INVALID);
    assert_err_msg(&err, "userid must be 1..");
    memset(big, 'r', CORE_OPAQUE_MAX);
    big[CORE_OPAQUE_MAX] = '\0';
    assert_int_equal(core_operator_id_check(CORE_ID_ROOMS_ID, "operator_id", big, &err), ME_OK);
    assert_int_equal(core_operator_id_check(CORE_ID_USERID, "operator_id", big, &err), ME_INVALID);
    big[CORE_OPAQUE_MAX] = 'r';
    big[CORE_OPAQUE_MAX + 1] = '\0';
    assert_int_equal(core_operator_id_check(CORE_ID_UUID, "uuid", big, &err), ME_INVALID);
    assert_err_msg(&err, "uuid must be 1..");
    assert_int_equal(core_operator_id_check(CORE_ID_OPENID, "operator_id", "o", &err), ME_INVALID);
    assert_err_msg(&err, "OAuth2.0");
    assert_int_equal(core_operator_id_check(CORE_ID_NONE, "operator_id", "", &err), ME_INVALID);
    /* A rooms_id is a query's asker: no real-control operator. */
    req_init(CORE_ID_ROOMS_ID, "room", 9);
    add_user(CORE_ID_UUID, "t", 1);
    assert_int_equal(validate(), ME_INVALID);
    assert_string_equal(err.msg, "unknown operator_id_type");
}

static void test_validate_operator_instanceid(void **state)
{
    static const int bad[] = {-1, 11, 34, 12, 31, 64, 100};

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        req.op_instanceid = bad[i];
        assert_int_equal(validate(), ME_INVALID);
        assert_err_msg(&err, "instanceid");
    }
    req.op_instanceid = 0;
    assert_int_equal(validate(), ME_OK);
    req.op_instanceid = 33;
    assert_int_equal(validate(), ME_OK);
    req.op_instanceid = 9; /* an MRA operator is fine; MRA targets need a reason */
    assert_int_equal(validate(), ME_OK);
}

/* ---- validate: users --------------------------------------------------- */

static void test_validate_user_count(void **state)
{
    char id[16];

    (void)state;
    req.n_users = 0;
    assert_int_equal(validate(), ME_INVALID);
    assert_err_msg(&err, "users");
    req.n_users = -1;
    assert_int_equal(validate(), ME_INVALID);
    req_init(CORE_ID_USERID, "alice", 1);
    for (int i = 0; i < CORE_KICK_MAX; i++) {
        snprintf(id, sizeof id, "u%d", i);
        add_user(CORE_ID_UUID, id, 1);
    }
    assert_int_equal(validate(), ME_OK);
    req.n_users = CORE_KICK_MAX + 1; /* 21: the array holds 20, count alone is checked */
    assert_int_equal(validate(), ME_INVALID);
    assert_err_msg(&err, "users");
}

static void test_validate_user_forms(void **state)
{
    (void)state;
    add_user(CORE_ID_USERID, "mem", 1);
    assert_int_equal(validate(), ME_INVALID);
    assert_err_msg(&err, "users[1]");
    req.users[1].id_type = CORE_ID_OPENID;
    assert_int_equal(validate(), ME_INVALID);
    req.users[1].id_type = CORE_ID_NONE;
    assert_int_equal(validate(), ME_INVALID);
    req.users[1].id_type = CORE_ID_MS_OPEN_ID;
    assert_int_equal(validate(), ME_OK);

    req.users[1].id[0] = '\0';
    assert_int_equal(validate(), ME_INVALID);
    assert_err_msg(&err, "users[1].to_operator_id");
    memset(req.users[1].id, 'x', 128);
    req.users[1].id[128] = '\0';
    assert_int_equal(validate(), ME_OK);
    memset(req.users[1].id, 'x', sizeof req.users[1].id);
    assert_int_equal(validate(), ME_INVALID);
    snprintf(req.users[0].id, sizeof req.users[0].id, "bad\xff");
    assert_int_equal(validate(), ME_INVALID);
    assert_err_msg(&err, "users[0].uuid");
}

static void test_validate_user_instanceid(void **state)
{
    (void)state;
    add_user(CORE_ID_UUID, "x", 2);
    req.users[1].instanceid = 11;
    assert_int_equal(validate(), ME_INVALID);
    assert_err_msg(&err, "users[1].instanceid");
    req.users[1].instanceid = -1;
    assert_int_equal(validate(), ME_INVALID);
    req.users[1].instanceid = 34;
    assert_int_equal(validate(), ME_INVALID);
    req.users[1].instanceid = 22;
    assert_int_equal(validate(), ME_OK);
}

/* ---- validate: reason --------------------------------------------------- */

static void test_validate_mra_reason(void **state)
{
    (void)state;
    add_user(CORE_ID_UUID, "room", 9);
    assert_int_equal(validate(), ME_INVALID);
    assert_string_equal(err.msg, "reason is required when removing an MRA (instanceid 9) device");
    set_reason("");
    assert_int_equal(validate(), ME_INVALID);
    assert_err_msg(&err, "MRA");
    /* A reason in the buffer without has_reason is not a reason. */
    snprintf(req.reason, sizeof req.reason, "meeting room leaves");
    req.has_reason = false;
    assert_int_equal(validate(), ME_INVALID);
    req.has_reason = true;
    assert_int_equal(validate(), ME_OK);
    /* Without an MRA target, no reason (or an empty one) is fine. */
    req.users[1].instanceid = 1;
    req.has_reason = false;
    assert_int_equal(validate(), ME_OK);
    set_reason("");
    assert_int_equal(validate(), ME_OK);
}

static void test_validate_reason_length(void **state)
{
    (void)state;
    req.has_reason = true;
    memset(req.reason, 'r', CORE_REASON_MAX);
    req.reason[CORE_REASON_MAX] = '\0';
    assert_int_equal(validate(), ME_OK);
    /* 1025 bytes: the array is full with no terminator. */
    memset(req.reason, 'r', sizeof req.reason);
    assert_int_equal(validate(), ME_INVALID);
    assert_err_msg(&err, "reason");
    assert_err_msg(&err, "1024");
    /* Even when has_reason is false, a bad buffer is ignored. */
    req.has_reason = false;
    assert_int_equal(validate(), ME_OK);
}

static void test_validate_reason_utf8(void **state)
{
    (void)state;
    /* 341 three-byte characters = 1023 bytes, plus one = 1024. */
    req.has_reason = true;
    req.reason[0] = '\0';
    for (int i = 0; i < 341; i++)
        strcat(req.reason, "\xe7\xa7\xbb"); /* 移 */
    strcat(req.reason, ".");
    assert_int_equal(strlen(req.reason), 1024);
    assert_int_equal(validate(), ME_OK);
    /* A multi-byte character cut at the end. */
    req.reason[1023] = '\0';
    req.reason[1022] = '\0';
    assert_int_equal(validate(), ME_INVALID);
    assert_err_msg(&err, "UTF-8");
    set_reason("bad \xc0\xaf");
    assert_int_equal(validate(), ME_INVALID);
    set_reason("\xed\xb0\x80");
    assert_int_equal(validate(), ME_INVALID);
    /* Newlines are fine in a reason; it is free text. */
    set_reason("line one\nline two\t\xe2\x9c\x93");
    assert_int_equal(validate(), ME_OK);
}

/* ---- decide: meeting state ---------------------------------------------- */

static void test_decide_not_in_progress(void **state)
{
    (void)state;
    mtg.status = CORE_ST_INIT;
    assert_int_equal(decide(&p_alice, &p_mem), ME_NOT_IN_PROGRESS);
    mtg.status = CORE_ST_ENDED;
    assert_int_equal(decide(&p_alice, &p_mem), ME_NOT_IN_PROGRESS);
    assert_string_equal(err.msg, "meeting is not in progress: it has ended (dismissed); "
                                 "an ended meeting does not start again");
    mtg.status = CORE_ST_CANCELLED;
    assert_int_equal(decide(&p_alice, &p_mem), ME_NOT_IN_PROGRESS);
    assert_string_equal(err.msg, "meeting is not in progress: it was cancelled");
    /* Right after create: say why, and what starts a meeting. */
    mtg.status = CORE_ST_INIT;
    assert_int_equal(decide(&p_alice, &p_mem), ME_NOT_IN_PROGRESS);
    assert_string_equal(err.msg, "meeting is not in progress: nobody has joined it yet "
                                 "(a meeting starts when its first device joins)");
    /* State is checked before permission. */
    req_init(CORE_ID_USERID, "mem", 1);
    add_user(CORE_ID_UUID, "uuid-1", 1);
    assert_int_equal(decide(&p_mem, &p_alice), ME_NOT_IN_PROGRESS);
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
    assert_int_equal(decide(&p_alice, &p_mem), ME_NOT_IN_PROGRESS);
    mtg.occ[1].status = CORE_ST_STARTED;
    assert_int_equal(decide(&p_alice, &p_mem), ME_OK);
    assert_int_equal(plan.result[0], CORE_KICK_REMOVED);
}

/* ---- decide: operator --------------------------------------------------- */

static void test_decide_creator_by_userid_not_present(void **state)
{
    core_party op = p_absent; /* alice never joined */

    (void)state;
    assert_int_equal(decide(&op, &p_mem), ME_OK);
    assert_int_equal(plan.result[0], CORE_KICK_REMOVED);
    assert_true(plan.apply[0]);
    /* Joined elsewhere: presence is still not required. */
    op = p_alice;
    op.present_mask = BIT(4);
    assert_int_equal(decide(&op, &p_mem), ME_OK);
}

static void test_decide_host_by_userid(void **state)
{
    (void)state;
    req_init(CORE_ID_USERID, "bob", 3);
    add_user(CORE_ID_UUID, "uuid-4", 3);
    assert_int_equal(decide(&p_absent, &p_mem), ME_OK);
    assert_int_equal(plan.result[0], CORE_KICK_REMOVED);
}

static void test_decide_member_by_userid_forbidden(void **state)
{
    (void)state;
    req_init(CORE_ID_USERID, "mem", 1);
    add_user(CORE_ID_UUID, "uuid-5", 5);
    assert_int_equal(decide(&p_mem, &p_guest), ME_FORBIDDEN);
    /* Unknown in the meeting altogether. */
    req_init(CORE_ID_USERID, "stranger", 1);
    add_user(CORE_ID_UUID, "uuid-5", 5);
    assert_int_equal(decide(&p_absent, &p_guest), ME_FORBIDDEN);
}

static void test_decide_cohost_by_userid(void **state)
{
    core_party op = p_coh;

    (void)state;
    req_init(CORE_ID_USERID, "coh", 1);
    add_user(CORE_ID_UUID, "uuid-4", 1);
    op.present_mask = 0; /* co-host flag counts without presence */
    assert_int_equal(decide(&op, &p_mem), ME_OK);
    /* A co-host flag on a party that was not found means nothing. */
    op.found = false;
    assert_int_equal(decide(&op, &p_mem), ME_FORBIDDEN);
}

static void test_decide_uuid_operator_presence(void **state)
{
    core_party op = p_bob;

    (void)state;
    req_init(CORE_ID_UUID, "uuid-2", 2);
    add_user(CORE_ID_UUID, "uuid-4", 1);
    assert_int_equal(decide(&op, &p_mem), ME_OK);
    req.op_instanceid = 1; /* bob is on his Mac, not a PC */
    assert_int_equal(decide(&op, &p_mem), ME_FORBIDDEN);
    assert_string_equal(err.msg, "operator is not in the meeting on that device");
    req.op_instanceid = 2;
    op.present_mask = 0;
    assert_int_equal(decide(&op, &p_mem), ME_FORBIDDEN);
    assert_string_equal(err.msg, "operator is not in the meeting on that device");
    assert_int_equal(decide(&p_absent, &p_mem), ME_FORBIDDEN);
    assert_string_equal(err.msg, "operator is not in the meeting on that device");
    /* The creator too must be present when named by ms_open_id. */
    req_init(CORE_ID_MS_OPEN_ID, "ms-1", 2);
    add_user(CORE_ID_UUID, "uuid-4", 1);
    assert_int_equal(decide(&p_alice, &p_mem), ME_FORBIDDEN);
    req.op_instanceid = 1;
    assert_int_equal(decide(&p_alice, &p_mem), ME_OK);
}

static void test_decide_uuid_operator_high_instanceid(void **state)
{
    core_party op = p_bob;

    (void)state;
    op.present_mask = BIT(33);
    req_init(CORE_ID_UUID, "uuid-2", 33);
    add_user(CORE_ID_UUID, "uuid-4", 1);
    assert_int_equal(decide(&op, &p_mem), ME_OK);
    req.op_instanceid = 32;
    assert_int_equal(decide(&op, &p_mem), ME_FORBIDDEN);
    req.op_instanceid = 1; /* 33 folded into 32 bits would land on 1 */
    assert_int_equal(decide(&op, &p_mem), ME_FORBIDDEN);
}

static void test_decide_uuid_operator_roles(void **state)
{
    (void)state;
    req_init(CORE_ID_UUID, "uuid-4", 1);
    add_user(CORE_ID_UUID, "uuid-5", 5);
    assert_int_equal(decide(&p_mem, &p_guest), ME_FORBIDDEN);
    assert_err_msg(&err, "creator");
    req_init(CORE_ID_UUID, "uuid-5", 5);
    add_user(CORE_ID_UUID, "uuid-4", 1);
    assert_int_equal(decide(&p_guest, &p_mem), ME_FORBIDDEN);
    /* A guest co-host may remove members. */
    req_init(CORE_ID_MS_OPEN_ID, "ms-6", 8);
    add_user(CORE_ID_UUID, "uuid-4", 1);
    assert_int_equal(decide(&p_gcoh, &p_mem), ME_OK);
    assert_int_equal(plan.result[0], CORE_KICK_REMOVED);
}

static void test_decide_guest_named_like_creator(void **state)
{
    /* guest_id "alice" is not userid "alice": no creator rights. */
    core_party op = party(9, "", "alice", false, BIT(1));

    (void)state;
    req_init(CORE_ID_UUID, "uuid-9", 1);
    add_user(CORE_ID_UUID, "uuid-4", 1);
    assert_int_equal(decide(&op, &p_mem), ME_FORBIDDEN);
}

static void test_decide_creator_without_hosts(void **state)
{
    (void)state;
    mtg.n_hosts = 0; /* alice is then the host as well */
    req_init(CORE_ID_UUID, "uuid-1", 1);
    add_user(CORE_ID_UUID, "uuid-4", 3);
    assert_int_equal(decide(&p_alice, &p_mem), ME_OK);
    assert_int_equal(plan.result[0], CORE_KICK_REMOVED);
}

/* ---- decide: self and co-host limits ------------------------------------ */

static void test_decide_self_kick(void **state)
{
    core_party op = p_bob;
    core_party target = p_bob;

    (void)state;
    op.present_mask = BIT(2) | BIT(3);
    target.present_mask = op.present_mask;
    req_init(CORE_ID_UUID, "uuid-2", 2);
    add_user(CORE_ID_UUID, "uuid-2", 3); /* own other device: still yourself */
    assert_int_equal(decide(&op, &target), ME_INVALID);
    assert_string_equal(err.msg, "cannot remove yourself");
    req.users[0].instanceid = 2;
    assert_int_equal(decide(&op, &target), ME_INVALID);
    /* By userid: matched on the target's userid, whatever the operator row. */
    req_init(CORE_ID_USERID, "bob", 1);
    add_user(CORE_ID_UUID, "uuid-2", 2);
    assert_int_equal(decide(&p_absent, &target), ME_INVALID);
    assert_string_equal(err.msg, "cannot remove yourself");
    /* A target that is not found cannot be the operator. */
    assert_int_equal(decide(&p_absent, &p_absent), ME_OK);
    assert_int_equal(plan.result[0], CORE_KICK_NOT_IN_MEETING);
    assert_false(plan.apply[0]);
}

static void test_decide_self_kick_later_entry(void **state)
{
    core_party targets[3];

    (void)state;
    targets[0] = p_mem;
    targets[1] = p_guest;
    targets[2] = p_alice;
    add_user(CORE_ID_UUID, "uuid-5", 5);
    add_user(CORE_ID_UUID, "uuid-1", 1);
    assert_int_equal(decide(&p_alice, targets), ME_INVALID);
    assert_string_equal(err.msg, "cannot remove yourself");
}

static void test_decide_user_no_zero_is_not_self(void **state)
{
    /* Two distinct users whose rows are not yet stored (user_no 0) must not
     * be taken for one another. */
    core_party op = p_bob, target = p_mem;

    (void)state;
    op.user.user_no = 0;
    target.user.user_no = 0;
    req_init(CORE_ID_UUID, "uuid-2", 2);
    add_user(CORE_ID_UUID, "uuid-4", 1);
    assert_int_equal(decide(&op, &target), ME_OK);
    assert_int_equal(plan.result[0], CORE_KICK_REMOVED);
}

static void test_decide_cohost_limits(void **state)
{
    core_party targets[2];

    (void)state;
    req_init(CORE_ID_UUID, "uuid-3", 4);
    add_user(CORE_ID_UUID, "uuid-1", 1);
    assert_int_equal(decide(&p_coh, &p_alice), ME_FORBIDDEN);
    assert_string_equal(err.msg, "a co-host cannot remove the host or the creator");
    req.users[0].instanceid = 2;
    assert_int_equal(decide(&p_coh, &p_bob), ME_FORBIDDEN);
    assert_string_equal(err.msg, "a co-host cannot remove the host or the creator");
    /* Even when the named device does not match: the request is refused. */
    req.users[0].instanceid = 5;
    assert_int_equal(decide(&p_coh, &p_bob), ME_FORBIDDEN);
    /* Another co-host and a guest are fine. */
    req.users[0].instanceid = 8;
    assert_int_equal(decide(&p_coh, &p_gcoh), ME_OK);
    assert_int_equal(plan.result[0], CORE_KICK_REMOVED);
    /* One forbidden target spoils the whole request. */
    targets[0] = p_mem;
    targets[1] = p_bob;
    req_init(CORE_ID_UUID, "uuid-3", 4);
    add_user(CORE_ID_UUID, "uuid-4", 1);
    add_user(CORE_ID_UUID, "uuid-2", 2);
    assert_int_equal(decide(&p_coh, targets), ME_FORBIDDEN);
    /* A creator that never joined is not found, so nothing to refuse. */
    req_init(CORE_ID_UUID, "uuid-3", 4);
    add_user(CORE_ID_UUID, "uuid-1", 1);
    assert_int_equal(decide(&p_coh, &p_absent), ME_OK);
    assert_int_equal(plan.result[0], CORE_KICK_NOT_IN_MEETING);
}

static void test_decide_cohost_limit_creator_without_hosts(void **state)
{
    (void)state;
    mtg.n_hosts = 0;
    req_init(CORE_ID_UUID, "uuid-3", 4);
    add_user(CORE_ID_UUID, "uuid-1", 1);
    assert_int_equal(decide(&p_coh, &p_alice), ME_FORBIDDEN);
    /* bob is no host once no hosts are scheduled. */
    req.users[0].instanceid = 2;
    assert_int_equal(decide(&p_coh, &p_bob), ME_OK);
    assert_int_equal(plan.result[0], CORE_KICK_REMOVED);
}

static void test_decide_host_removes_creator(void **state)
{
    (void)state;
    req_init(CORE_ID_UUID, "uuid-2", 2);
    add_user(CORE_ID_UUID, "uuid-1", 1);
    assert_int_equal(decide(&p_bob, &p_alice), ME_OK);
    assert_int_equal(plan.result[0], CORE_KICK_REMOVED);
    assert_true(plan.apply[0]);
}

static void test_decide_creator_removes_host(void **state)
{
    (void)state;
    req_init(CORE_ID_USERID, "alice", 1);
    add_user(CORE_ID_MS_OPEN_ID, "ms-2", 2);
    assert_int_equal(decide(&p_alice, &p_bob), ME_OK);
    assert_int_equal(plan.result[0], CORE_KICK_REMOVED);
}

static void test_decide_creator_cohost_removes_host(void **state)
{
    /* Creator and co-host (not host): the creator's rights apply. */
    core_party op = p_alice;

    (void)state;
    op.user.cohost = true;
    req_init(CORE_ID_UUID, "uuid-1", 1);
    add_user(CORE_ID_UUID, "uuid-2", 2);
    assert_int_equal(decide(&op, &p_bob), ME_OK);
    assert_int_equal(plan.result[0], CORE_KICK_REMOVED);
}

/* ---- decide: a banned operator ------------------------------------------ */

static void test_decide_banned_operator(void **state)
{
    core_party op;

    (void)state;
    /* The creator, banned by the host, named by userid: no presence needed,
     * the role comes from the meeting, and still no say. */
    op = p_alice;
    op.banned = true;
    op.present_mask = 0;
    assert_int_equal(decide(&op, &p_mem), ME_FORBIDDEN);
    assert_err_msg(&err, "allow_rejoin=false");
    assert_err_msg(&err, "ban is lifted");
    /* The scheduled host alike, and a co-host still flagged as one. */
    op = p_bob;
    op.banned = true;
    req_init(CORE_ID_USERID, "bob", 2);
    add_user(CORE_ID_UUID, "uuid-4", 1);
    assert_int_equal(decide(&op, &p_mem), ME_FORBIDDEN);
    assert_err_msg(&err, "allow_rejoin=false");
    op = p_coh;
    op.banned = true;
    req_init(CORE_ID_USERID, "coh", 4);
    add_user(CORE_ID_UUID, "uuid-4", 1);
    assert_int_equal(decide(&op, &p_mem), ME_FORBIDDEN);
    assert_err_msg(&err, "allow_rejoin=false");
    /* Named by ms_open_id and still present on another device (a ban is
     * device-precise about removal, not about power). */
    req_init(CORE_ID_MS_OPEN_ID, "ms-3", 4);
    add_user(CORE_ID_UUID, "uuid-4", 1);
    assert_int_equal(decide(&op, &p_mem), ME_FORBIDDEN);
    assert_err_msg(&err, "allow_rejoin=false");
    op.banned = false;
    assert_int_equal(decide(&op, &p_mem), ME_OK);
    /* Not found means never joined, so never banned. */
    op = p_absent;
    op.banned = true;
    req_init(CORE_ID_USERID, "alice", 1);
    add_user(CORE_ID_UUID, "uuid-4", 1);
    assert_int_equal(decide(&op, &p_mem), ME_OK);
    /* The meeting's state still comes first. */
    op = p_alice;
    op.banned = true;
    mtg.status = CORE_ST_ENDED;
    assert_int_equal(decide(&op, &p_mem), ME_NOT_IN_PROGRESS);
}

static void test_operator_admit(void **state)
{
    core_party op = p_mem;

    (void)state;
    assert_int_equal(core_operator_admit(&op, &err), ME_OK);
    op.banned = true;
    assert_int_equal(core_operator_admit(&op, &err), ME_FORBIDDEN);
    assert_int_equal(err.err, ME_FORBIDDEN);
    op.found = false;
    assert_int_equal(core_operator_admit(&op, &err), ME_OK);
}

/* ---- decide: co-hosts losing the role ------------------------------------ */

static void test_decide_cohost_last_device_revoked(void **state)
{
    core_party t[2] = {p_coh, p_coh};

    (void)state;
    /* Removed from the only device they were on: no longer a co-host,
     * even with rejoin allowed. */
    req_init(CORE_ID_USERID, "alice", 1);
    add_user(CORE_ID_UUID, "uuid-3", 4);
    assert_int_equal(decide(&p_alice, t), ME_OK);
    assert_true(plan.apply[0]);
    assert_true(plan.revoke_cohost[0]);
    /* On two devices, one removed with rejoin allowed: still there, still
     * a co-host. */
    t[0].present_mask = t[1].present_mask = BIT(4) | BIT(2);
    assert_int_equal(decide(&p_alice, t), ME_OK);
    assert_true(plan.apply[0]);
    assert_false(plan.revoke_cohost[0]);
    /* Both named in one request: revoked once, on the first. */
    add_user(CORE_ID_MS_OPEN_ID, "ms-3", 2);
    assert_int_equal(decide(&p_alice, t), ME_OK);
    assert_true(plan.apply[0] && plan.apply[1]);
    assert_true(plan.revoke_cohost[0]);
    assert_false(plan.revoke_cohost[1]);
    /* One of them a mismatch (not present on 5): the device on 2 stays. */
    req.users[0].instanceid = 5;
    assert_int_equal(decide(&p_alice, t), ME_OK);
    assert_false(plan.apply[0]);
    assert_true(plan.apply[1]);
    assert_false(plan.revoke_cohost[0]);
    assert_false(plan.revoke_cohost[1]);
}

static void test_decide_cohost_ban_revokes(void **state)
{
    core_party t[3] = {p_coh, p_coh, p_gcoh};

    (void)state;
    /* Banned while still on another device: the role goes with the ban. */
    t[0].present_mask = t[1].present_mask = BIT(4) | BIT(2);
    req_init(CORE_ID_USERID, "alice", 1);
    req.allow_rejoin = false;
    add_user(CORE_ID_UUID, "uuid-3", 4);
    add_user(CORE_ID_UUID, "uuid-3", 4); /* listed twice: one revocation */
    add_user(CORE_ID_UUID, "uuid-6", 8); /* a guest co-host alike */
    assert_int_equal(decide(&p_alice, t), ME_OK);
    assert_true(plan.revoke_cohost[0]);
    assert_false(plan.apply[1]);
    assert_false(plan.revoke_cohost[1]);
    assert_true(plan.revoke_cohost[2]);
    /* No removal, no ban, no revocation. */
    req.users[0].instanceid = req.users[1].instanceid = 5;
    req.users[2].instanceid = 1;
    assert_int_equal(decide(&p_alice, t), ME_OK);
    for (int i = 0; i < 3; i++)
        assert_false(plan.revoke_cohost[i]);
}

static void test_decide_member_never_revoked(void **state)
{
    core_party t[2] = {p_mem, p_mem};

    (void)state;
    req_init(CORE_ID_USERID, "alice", 1);
    req.allow_rejoin = false;
    add_user(CORE_ID_UUID, "uuid-4", 1);
    add_user(CORE_ID_UUID, "uuid-4", 3);
    assert_int_equal(decide(&p_alice, t), ME_OK);
    assert_true(plan.apply[0] && plan.apply[1]);
    assert_false(plan.revoke_cohost[0]);
    assert_false(plan.revoke_cohost[1]);
}

/* ---- decide: per-target results ----------------------------------------- */

static void test_decide_results(void **state)
{
    core_party t[5];

    (void)state;
    req_init(CORE_ID_USERID, "alice", 1);
    t[0] = p_mem;    add_user(CORE_ID_UUID, "uuid-4", 3);  /* present on 3 */
    t[1] = p_mem;    add_user(CORE_ID_UUID, "uuid-4", 2);  /* on 1 and 3, not 2 */
    t[2] = p_absent; add_user(CORE_ID_UUID, "nobody", 1);
    t[3] = p_guest;  add_user(CORE_ID_UUID, "uuid-5", 5);
    t[4] = p_guest;  add_user(CORE_ID_UUID, "uuid-5", 5);
    t[4].present_mask = 0; /* known, but left */
    assert_int_equal(decide(&p_alice, t), ME_OK);
    assert_int_equal(plan.result[0], CORE_KICK_REMOVED);
    assert_int_equal(plan.result[1], CORE_KICK_DEVICE_MISMATCH);
    assert_int_equal(plan.result[2], CORE_KICK_NOT_IN_MEETING);
    assert_int_equal(plan.result[3], CORE_KICK_REMOVED);
    assert_int_equal(plan.result[4], CORE_KICK_NOT_IN_MEETING);
    assert_true(plan.apply[0]);
    assert_false(plan.apply[1]);
    assert_false(plan.apply[2]);
    assert_true(plan.apply[3]);
    assert_false(plan.apply[4]);
}

static void test_decide_mra_high_bits(void **state)
{
    core_party t[3] = {p_room, p_room, p_room};

    (void)state;
    req_init(CORE_ID_USERID, "alice", 1);
    add_user(CORE_ID_UUID, "uuid-7", 9);
    add_user(CORE_ID_UUID, "uuid-7", 33);
    add_user(CORE_ID_UUID, "uuid-7", 1); /* 33 - 32: a 32-bit shift would say yes */
    set_reason("room is closing");
    assert_int_equal(decide(&p_alice, t), ME_OK);
    assert_int_equal(plan.result[0], CORE_KICK_REMOVED);
    assert_int_equal(plan.result[1], CORE_KICK_REMOVED);
    assert_int_equal(plan.result[2], CORE_KICK_DEVICE_MISMATCH);
    assert_true(plan.apply[0]);
    assert_true(plan.apply[1]); /* same user, another device: its own removal */
    assert_false(plan.apply[2]);
}

static void test_decide_duplicates(void **state)
{
    core_party t[4];

    (void)state;
    req_init(CORE_ID_USERID, "alice", 1);
    /* The same device by uuid, then by ms_open_id, then by uuid again. */
    t[0] = p_mem; add_user(CORE_ID_UUID, "uuid-4", 1);
    t[1] = p_mem; add_user(CORE_ID_MS_OPEN_ID, "ms-4", 1);
    t[2] = p_mem; add_user(CORE_ID_UUID, "uuid-4", 3);
    t[3] = p_mem; add_user(CORE_ID_UUID, "uuid-4", 1);
    assert_int_equal(decide(&p_alice, t), ME_OK);
    for (int i = 0; i < 4; i++)
        assert_int_equal(plan.result[i], CORE_KICK_REMOVED);
    assert_true(plan.apply[0]);
    assert_false(plan.apply[1]);
    assert_true(plan.apply[2]);
    assert_false(plan.apply[3]);
}

static void test_decide_duplicate_after_mismatch(void **state)
{
    core_party t[3] = {p_mem, p_mem, p_guest};

    (void)state;
    req_init(CORE_ID_USERID, "alice", 1);
    add_user(CORE_ID_UUID, "uuid-4", 2); /* mismatch */
    add_user(CORE_ID_UUID, "uuid-4", 2); /* again */
    add_user(CORE_ID_UUID, "uuid-5", 2); /* other user, same instanceid */
    assert_int_equal(decide(&p_alice, t), ME_OK);
    assert_int_equal(plan.result[0], CORE_KICK_DEVICE_MISMATCH);
    assert_int_equal(plan.result[1], CORE_KICK_DEVICE_MISMATCH);
    assert_int_equal(plan.result[2], CORE_KICK_DEVICE_MISMATCH);
    for (int i = 0; i < 3; i++)
        assert_false(plan.apply[i]);
}

static void test_decide_twenty_targets(void **state)
{
    core_party t[CORE_KICK_MAX];
    char id[16];

    (void)state;
    req_init(CORE_ID_USERID, "bob", 2);
    for (int i = 0; i < CORE_KICK_MAX; i++) {
        t[i] = party(100 + i % 10, "", "g", false, BIT(1));
        snprintf(id, sizeof id, "g%d", i % 10);
        add_user(CORE_ID_UUID, id, 1);
    }
    assert_int_equal(decide(&p_absent, t), ME_OK);
    for (int i = 0; i < CORE_KICK_MAX; i++) {
        assert_int_equal(plan.result[i], CORE_KICK_REMOVED);
        assert_true(plan.apply[i] == (i < 10));
    }
    /* The last entry alone decides the whole request's fate. */
    t[CORE_KICK_MAX - 1] = p_bob;
    assert_int_equal(decide(&p_absent, t), ME_INVALID);
}

static void test_result_names(void **state)
{
    (void)state;
    assert_string_equal(core_kick_result_name(CORE_KICK_REMOVED), "removed");
    assert_string_equal(core_kick_result_name(CORE_KICK_NOT_IN_MEETING), "not_in_meeting");
    assert_string_equal(core_kick_result_name(CORE_KICK_DEVICE_MISMATCH), "device_mismatch");
}

#define T(f) cmocka_unit_test_setup(f, setup)

int main(void)
{
    const struct CMUnitTest tests[] = {
        T(test_validate_ok_forms),
        T(test_validate_operator_id_lengths),
        T(test_validate_operator_types),
        T(test_operator_id_check),
        T(test_validate_operator_instanceid),
        T(test_validate_user_count),
        T(test_validate_user_forms),
        T(test_validate_user_instanceid),
        T(test_validate_mra_reason),
        T(test_validate_reason_length),
        T(test_validate_reason_utf8),
        T(test_decide_not_in_progress),
        T(test_decide_banned_operator),
        T(test_operator_admit),
        T(test_decide_cohost_last_device_revoked),
        T(test_decide_cohost_ban_revokes),
        T(test_decide_member_never_revoked),
        T(test_decide_recurring),
        T(test_decide_creator_by_userid_not_present),
        T(test_decide_host_by_userid),
        T(test_decide_member_by_userid_forbidden),
        T(test_decide_cohost_by_userid),
        T(test_decide_uuid_operator_presence),
        T(test_decide_uuid_operator_high_instanceid),
        T(test_decide_uuid_operator_roles),
        T(test_decide_guest_named_like_creator),
        T(test_decide_creator_without_hosts),
        T(test_decide_self_kick),
        T(test_decide_self_kick_later_entry),
        T(test_decide_user_no_zero_is_not_self),
        T(test_decide_cohost_limits),
        T(test_decide_cohost_limit_creator_without_hosts),
        T(test_decide_host_removes_creator),
        T(test_decide_creator_removes_host),
        T(test_decide_creator_cohost_removes_host),
        T(test_decide_results),
        T(test_decide_mra_high_bits),
        T(test_decide_duplicates),
        T(test_decide_duplicate_after_mismatch),
        T(test_decide_twenty_targets),
        T(test_result_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
