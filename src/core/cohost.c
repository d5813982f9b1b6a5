/* Co-hosts: appointing and revoking them.
 *
 * The operator is named and identified exactly as in a kickout (kickout.c);
 * only the role required differs: a co-host cannot appoint another. */
#include "core/core.h"

#include <assert.h>
#include <string.h>

#define INSTANCE_MRA 9

static bool present_on(uint64_t mask, int instanceid)
{
    return instanceid >= 0 && instanceid < 64 && ((mask >> instanceid) & 1u) != 0;
}

static meetd_err check_operator(const core_cohost_req *req, meetd_error *err)
{
    switch (req->op_type) {
    case CORE_ID_USERID:
        if (!core_id_valid(req->op_id))
            return err_set(err, ME_INVALID,
                           "operator_id must be a userid of 1..%d bytes of UTF-8",
                           CORE_ID_MAX);
        break;
    case CORE_ID_MS_OPEN_ID:
    case CORE_ID_UUID:
        if (!core_opaque_valid(req->op_id))
            return err_set(err, ME_INVALID, "%s must be 1..%d bytes of UTF-8",
                           req->op_type == CORE_ID_UUID ? "uuid" : "operator_id",
                           CORE_OPAQUE_MAX);
        break;
    case CORE_ID_OPENID:
        return err_set(err, ME_INVALID,
                       "operator_id_type 2 (openid) is only for OAuth2.0 apps, "
                       "which this API does not support");
    case CORE_ID_NONE:
        return err_set(err, ME_INVALID, "operator_id or uuid is required");
    default:
        return err_set(err, ME_INVALID, "unknown operator_id_type");
    }
    if (!core_instanceid_valid(req->op_instanceid))
        return err_set(err, ME_INVALID, "instanceid %d is not a known device type",
                       req->op_instanceid);
    return ME_OK;
}

meetd_err core_cohost_validate(const core_cohost_req *req, meetd_error *err)
{
    meetd_err e;

    assert(req != NULL);
    e = check_operator(req, err);
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
    /* An MRA device is a room connector, not a person who could moderate. */
    if (req->target_instanceid == INSTANCE_MRA)
        return err_set(err, ME_INVALID, "co-host cannot be an MRA device");
    return ME_OK;
}

/* As in kickout.c: the role, or -1 when a uuid / ms_open_id operator is not
 * present on op_instanceid. */
static int operator_role(const core_meeting *m, const core_cohost_req *req,
                         const core_party *op)
{
    if (req->op_type == CORE_ID_USERID) {
        core_user u;
        size_t len;

        memset(&u, 0, sizeof u);
        len = strnlen(req->op_id, sizeof req->op_id);
        assert(len <= CORE_ID_MAX); /* validated */
        memcpy(u.userid, req->op_id, len < CORE_ID_MAX ? len : CORE_ID_MAX);
        u.cohost = op->found && op->user.cohost;
        return core_user_role(m, &u);
    }
    if (!op->found || !present_on(op->present_mask, req->op_instanceid))
        return -1;
    return core_user_role(m, &op->user);
}

static bool is_operator(const core_cohost_req *req, const core_party *op,
                        const core_party *t)
{
    if (op->found && op->user.user_no != 0 && t->user.user_no == op->user.user_no)
        return true;
    return req->op_type == CORE_ID_USERID && t->user.userid[0] != '\0' &&
           strcmp(t->user.userid, req->op_id) == 0;
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
    role = operator_role(m, req, op);
    if (role < 0)
        return err_set(err, ME_FORBIDDEN, "operator is not in the meeting on that device");
    if (role != CORE_ROLE_CREATOR && role != CORE_ROLE_HOST &&
        role != CORE_ROLE_CREATOR_HOST && role != CORE_ROLE_CREATOR_COHOST)
        return err_set(err, ME_FORBIDDEN, "only the creator or a host can change co-hosts");
    if (!target->found || !present_on(target->present_mask, req->target_instanceid))
        return err_set(err, ME_INVALID, "user is not in the meeting on that device");
    if (is_operator(req, op, target))
        return err_set(err, ME_INVALID, "cannot change your own co-host role");
    return ME_OK;
}
