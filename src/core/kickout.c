/* Kickout: who may remove which devices, and what happens to each target.
 *
 * Validation needs no meeting state and runs first, so that a malformed
 * request is 190004 whatever the meeting. The decision then either refuses
 * the whole request or says, per target, what the store must do: the
 * request is all-or-nothing.
 *
 * Co-host is a role of the user in the meeting, not of a device, while a
 * kickout removes devices. A co-host keeps the role when one of several
 * devices is removed and rejoin is allowed (they are still there, on the
 * others); the role goes when the request bans them (a banned user is never
 * an operator, so the role would be a dead letter that comes back with a
 * lifted ban) or removes the last device they are present on (the host
 * removed them from the meeting; one who comes back is a member again). */
#include "core/core.h"

#include <assert.h>
#include <string.h>

static meetd_err check_target(const core_kick_user *u, int i, meetd_error *err)
{
    const char *field;

    if (u->id_type == CORE_ID_MS_OPEN_ID)
        field = "to_operator_id";
    else if (u->id_type == CORE_ID_UUID)
        field = "uuid";
    else
        return err_set(err, ME_INVALID,
                       "users[%d]: give uuid, or to_operator_id with to_operator_id_type 4 "
                       "(ms_open_id)", i);
    if (!core_opaque_valid(u->id))
        return err_set(err, ME_INVALID, "users[%d].%s must be 1..%d bytes of UTF-8", i, field,
                       CORE_OPAQUE_MAX);
    if (!core_instanceid_valid(u->instanceid))
        return err_set(err, ME_INVALID, "users[%d].instanceid %d is not a known device type", i,
                       u->instanceid);
    return ME_OK;
}

static meetd_err check_reason(const core_kick_req *req, meetd_error *err)
{
    /* strnlen bounded by the array: an unterminated array means the API
     * layer copied more than CORE_REASON_MAX bytes. */
    size_t len = strnlen(req->reason, sizeof req->reason);
    bool mra = false;

    for (int i = 0; i < req->n_users; i++)
        mra = mra || req->users[i].instanceid == CORE_INSTANCE_MRA;
    if (mra && (!req->has_reason || len == 0))
        return err_set(err, ME_INVALID,
                       "reason is required when removing an MRA (instanceid 9) device");
    if (!req->has_reason)
        return ME_OK;
    if (len > CORE_REASON_MAX)
        return err_set(err, ME_INVALID, "reason is longer than %d bytes", CORE_REASON_MAX);
    if (!core_utf8_valid(req->reason, len))
        return err_set(err, ME_INVALID, "reason is not valid UTF-8");
    return ME_OK;
}

meetd_err core_kick_validate(const core_kick_req *req, meetd_error *err)
{
    meetd_err e;

    assert(req != NULL);
    e = core_operator_validate(req->op_type, req->op_id, req->op_instanceid, err);
    if (e != ME_OK)
        return e;
    if (req->n_users < 1 || req->n_users > CORE_KICK_MAX)
        return err_set(err, ME_INVALID, "users must hold 1..%d users", CORE_KICK_MAX);
    for (int i = 0; i < req->n_users; i++) {
        e = check_target(&req->users[i], i, err);
        if (e != ME_OK)
            return e;
    }
    return check_reason(req, err);
}

/* What a kickout does to one target device. A target not in the meeting, or
 * not on the instanceid named, is no error: nothing happens to it, so that a
 * retried kickout is safe (Tencent: the device type must match, or the
 * action has no effect). */
static core_kick_result target_result(const core_party *t, int instanceid)
{
    if (!t->found || t->present_mask == 0)
        return CORE_KICK_NOT_IN_MEETING;
    if (core_present_on(t->present_mask, instanceid))
        return CORE_KICK_REMOVED;
    return CORE_KICK_DEVICE_MISMATCH;
}

/* Only the first entry naming a device removes it, so that a request
 * listing a device twice removes, bans and audits it once. */
static bool first_naming(const core_kick_req *req, const core_party *targets, int i)
{
    for (int j = 0; j < i; j++) {
        if (targets[j].found && targets[j].user.user_no == targets[i].user.user_no &&
            req->users[j].instanceid == req->users[i].instanceid)
            return false;
    }
    return true;
}

/* Marks, on the first applied entry of each co-host target, whether the
 * request takes the role away (see the header). */
static void plan_cohosts(const core_kick_req *req, const core_party *targets,
                         core_kick_plan *plan)
{
    for (int i = 0; i < req->n_users; i++) {
        const core_party *t = &targets[i];
        uint64_t removed = 0;
        bool first = true;

        if (!plan->apply[i] || !t->user.cohost)
            continue;
        for (int j = 0; j < req->n_users; j++) {
            if (!plan->apply[j] || targets[j].user.user_no != t->user.user_no)
                continue;
            first = first && j >= i;
            assert(core_instanceid_valid(req->users[j].instanceid)); /* validated: < 64 */
            removed |= UINT64_C(1) << req->users[j].instanceid;
        }
        plan->revoke_cohost[i] = first && (!req->allow_rejoin || (t->present_mask & ~removed) == 0);
    }
}

meetd_err core_kick_decide(const core_meeting *m, int64_t now, const core_kick_req *req,
                           const core_party *op, const core_party *targets,
                           core_kick_plan *plan, meetd_error *err)
{
    int64_t sub;
    int role;
    bool cohost_only;
    meetd_err e;

    assert(m != NULL && req != NULL && op != NULL && targets != NULL && plan != NULL);
    assert(req->n_users >= 1 && req->n_users <= CORE_KICK_MAX);
    memset(plan, 0, sizeof *plan);

    e = core_require_in_progress(m, now, &sub, err);
    if (e != ME_OK)
        return e;
    e = core_operator_admit(op, err);
    if (e != ME_OK)
        return e;
    role = core_operator_role(m, req->op_type, req->op_id, req->op_instanceid, op);
    if (role < 0)
        return err_set(err, ME_FORBIDDEN, "operator is not in the meeting on that device");
    if (role == CORE_ROLE_MEMBER || role == CORE_ROLE_GUEST)
        return err_set(err, ME_FORBIDDEN,
                       "only the creator, a host or a co-host can remove participants");
    cohost_only = role == CORE_ROLE_COHOST;

    for (int i = 0; i < req->n_users; i++) {
        const core_party *t = &targets[i];

        if (core_operator_is(req->op_type, req->op_id, op, t))
            return err_set(err, ME_INVALID, "cannot remove yourself");
        if (cohost_only && t->found &&
            (core_is_creator(m, t->user.userid) || core_is_host(m, t->user.userid)))
            return err_set(err, ME_FORBIDDEN, "a co-host cannot remove the host or the creator");
        plan->result[i] = target_result(t, req->users[i].instanceid);
        plan->apply[i] = plan->result[i] == CORE_KICK_REMOVED && first_naming(req, targets, i);
    }
    plan_cohosts(req, targets, plan);
    return ME_OK;
}

const char *core_kick_result_name(core_kick_result r)
{
    switch (r) {
    case CORE_KICK_REMOVED:
        return "removed";
    case CORE_KICK_NOT_IN_MEETING:
        return "not_in_meeting";
    case CORE_KICK_DEVICE_MISMATCH:
        return "device_mismatch";
    }
    assert(!"unknown kick result");
    return "unknown";
}
