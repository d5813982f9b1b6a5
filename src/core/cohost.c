/* Co-hosts: appointing and revoking them.
 *
 * The operator is named and identified exactly as in a kickout (operator.c);
 * only the role required differs: a co-host cannot appoint another. A kickout
 * can take the role away too (kickout.c says when).
 *
 * An MRA device (instanceid 9, a meeting-room connector) may be made a
 * co-host, as Tencent's current documentation allows: the room's
 * moderator then moderates from the room. */
#include "core/core.h"

#include <assert.h>
#include <string.h>

meetd_err core_cohost_validate(const core_cohost_req *req, meetd_error *err)
{
    meetd_err e;

    assert(req != NULL);
    e = core_operator_validate(req->op_type, req->op_id, req->op_instanceid, err);
    if (e != ME_OK)
        return e;
    if (req->target_type != CORE_ID_MS_OPEN_ID && req->target_type != CORE_ID_UUID)
        return err_set(err, ME_INVALID,
                       "user: give uuid, or to_operator_id with to_operator_id_type 4 "
                       "(ms_open_id)");
    if (!core_opaque_valid(req->target_id))
        return err_set(err, ME_INVALID, "user.%s must be 1..%d bytes of UTF-8",
                       req->target_type == CORE_ID_UUID ? "uuid" : "to_operator_id",
                       CORE_OPAQUE_MAX);
    if (!core_instanceid_valid(req->target_instanceid))
        return err_set(err, ME_INVALID, "user.instanceid %d is not a known device type",
                       req->target_instanceid);
    return ME_OK;
}

meetd_err core_cohost_decide(const core_meeting *m, int64_t now, const core_cohost_req *req,
                             const core_party *op, const core_party *target,
                             meetd_error *err)
{
    int64_t sub;
    int role;
    meetd_err e;

    assert(m != NULL && req != NULL && op != NULL && target != NULL);
    e = core_require_in_progress(m, now, &sub, err);
    if (e != ME_OK)
        return e;
    e = core_operator_admit(op, err);
    if (e != ME_OK)
        return e;
    role = core_operator_role(m, req->op_type, req->op_id, req->op_instanceid, op);
    if (role < 0)
        return err_set(err, ME_FORBIDDEN, "operator is not in the meeting on that device");
    if (role != CORE_ROLE_CREATOR && role != CORE_ROLE_HOST &&
        role != CORE_ROLE_CREATOR_HOST && role != CORE_ROLE_CREATOR_COHOST)
        return err_set(err, ME_FORBIDDEN, "only the creator or a host can change co-hosts");
    if (!target->found || !core_present_on(target->present_mask, req->target_instanceid))
        return err_set(err, ME_INVALID, "user is not in the meeting on that device");
    if (core_operator_is(req->op_type, req->op_id, op, target))
        return err_set(err, ME_INVALID, "cannot change your own co-host role");
    /* Still present on a device the kickout did not name, but banned: a
     * co-host who can never act (operator.c). Revoking stays allowed. */
    if (req->action && target->banned)
        return err_set(err, ME_INVALID,
                       "user was removed from this meeting with allow_rejoin=false: "
                       "lift the ban before making them a co-host");
    return ME_OK;
}
