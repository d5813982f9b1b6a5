/* core identity: naming a user by a bare string (the ban lift), its kinds. */
#include "core_fixture.h"

static meetd_error err;

static void test_kind_names_round_trip(void **state)
{
    core_id_type k = CORE_ID_NONE;

    (void)state;
    for (int i = 0; i < CORE_NAME_KINDS; i++) {
        assert_int_equal(core_name_kind_parse(core_name_kind(core_name_kinds[i]), &k, &err),
                         ME_OK);
        assert_int_equal(k, core_name_kinds[i]);
    }
    assert_string_equal(core_name_kind(CORE_ID_USERID), "userid");
    assert_string_equal(core_name_kind(CORE_ID_GUEST), "guest_id");
    assert_string_equal(core_name_kind(CORE_ID_MS_OPEN_ID), "ms_open_id");
    assert_string_equal(core_name_kind(CORE_ID_UUID), "uuid");
}

static void test_kind_parse_refuses(void **state)
{
    static const char *const bad[] = {"", "openid", "USERID", "userid ", "guest", "ms",
                                      "user_id", "4", "userid\n"};
    core_id_type k = CORE_ID_UUID;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(core_name_kind_parse(bad[i], &k, &err), ME_INVALID);
        assert_string_equal(err.msg, "kind must be userid, guest_id, ms_open_id or uuid");
    }
    assert_int_equal(core_name_kind_parse(NULL, &k, &err), ME_INVALID);
    assert_int_equal(k, CORE_ID_UUID); /* untouched */
}

static void test_pick_none_and_one(void **state)
{
    core_party m[CORE_NAME_KINDS];
    int pick = 7;

    (void)state;
    memset(m, 0, sizeof m);
    assert_int_equal(core_name_pick(m, &pick, &err), ME_OK);
    assert_int_equal(pick, -1);
    for (int i = 0; i < CORE_NAME_KINDS; i++) {
        memset(m, 0, sizeof m);
        m[i] = party(5, "gus", "", false, 0);
        assert_int_equal(core_name_pick(m, &pick, &err), ME_OK);
        assert_int_equal(pick, i);
    }
    /* One user under two kinds is one user. */
    memset(m, 0, sizeof m);
    m[2] = party(5, "x", "", false, 0);
    m[3] = m[2];
    assert_int_equal(core_name_pick(m, &pick, &err), ME_OK);
    assert_int_equal(pick, 2);
}

static void test_pick_ambiguous(void **state)
{
    core_party m[CORE_NAME_KINDS];
    int pick = 7;

    (void)state;
    /* userid gus and guest_id gus: two people. */
    memset(m, 0, sizeof m);
    m[0] = party(1, "gus", "", false, BIT(1));
    m[1] = party(2, "", "gus", false, 0);
    assert_int_equal(core_name_pick(m, &pick, &err), ME_INVALID);
    assert_int_equal(pick, -1);
    assert_string_equal(err.msg, "the name is taken by more than one user of this meeting: "
                                 "say which with ?kind=userid or ?kind=guest_id");
    /* Every kind a different user: all listed, in order. */
    for (int i = 0; i < CORE_NAME_KINDS; i++)
        m[i] = party(10 + i, "u", "", false, 0);
    assert_int_equal(core_name_pick(m, &pick, &err), ME_INVALID);
    assert_string_equal(err.msg, "the name is taken by more than one user of this meeting: "
                                 "say which with ?kind=userid or ?kind=guest_id or "
                                 "?kind=ms_open_id or ?kind=uuid");
    /* A userid that is someone else's ms_open_id. */
    memset(m, 0, sizeof m);
    m[0] = party(1, "msX", "", false, 0);
    m[2] = party(3, "carol", "", false, 0);
    assert_int_equal(core_name_pick(m, &pick, &err), ME_INVALID);
    assert_err_msg(&err, "?kind=userid or ?kind=ms_open_id");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kind_names_round_trip),
        cmocka_unit_test(test_kind_parse_refuses),
        cmocka_unit_test(test_pick_none_and_one),
        cmocka_unit_test(test_pick_ambiguous),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
