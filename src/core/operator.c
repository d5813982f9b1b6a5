/* The operator of a real-control request (kickout, co-hosts) and of dismiss
 * and cancel: how it is named, whether it is present, what role it holds, and
 * whether a target is the operator. They all name their operator the same way.
 * The participants lists admit their viewer here too, and a query or a list
 * named by rooms_id checks its room here (core_room_check).
 *
 * Whoever names an operator, a banned user is none: a user removed with
 * allow_rejoin=false has no say in the meeting, whatever role the meeting
 * gives their userid, until the ban is lifted. Roles come from the meeting
 * (creator, scheduled hosts) and a userid needs no presence, so without
 * this a banned host or co-host could go on removing others from outside. */
#include "core/core.h"

#include <assert.h>
#include <string.h>

bool core_present_on(uint64_t mask, int instanceid)
{
    return instanceid >= 0 && instanceid < 64 && ((mask >> instanceid) & 1u) != 0;
}

meetd_err core_operator_admit(const core_party *op, meetd_error *err)
{
    assert(op != NULL);
    if (op->found && op->banned)
        return err_set(err, ME_FORBIDDEN,
                       "operator was removed from this meeting with allow_rejoin=false: "
                       "a banned user cannot act in it until the ban is lifted");
    return ME_OK;
}

meetd_err core_operator_id_check(core_id_type type, const char *field, const char *id,
                                 meetd_error *err)
{
    switch (type) {
    case CORE_ID_USERID:
        if (!core_id_valid(id))
            return err_set(err, ME_INVALID, "%s must be %s1..%d bytes of UTF-8", field,
                           strcmp(field, "operator_id") == 0 ? "a userid of " : "", CORE_ID_MAX);
        return ME_OK;
    case CORE_ID_ROOMS_ID:
    case CORE_ID_MS_OPEN_ID:
    case CORE_ID_UUID:
        if (!core_opaque_valid(id))
            return err_set(err, ME_INVALID, "%s must be 1..%d bytes of UTF-8", field,
                           CORE_OPAQUE_MAX);
        return ME_OK;
    case CORE_ID_OPENID:
        return err_set(err, ME_INVALID,
                       "operator_id_type 2 (openid) is only for OAuth2.0 apps, "
                       "which this API does not support");
    case CORE_ID_NONE:
        return err_set(err, ME_INVALID, "operator_id or uuid is required");
    default:
        return err_set(err, ME_INVALID, "unknown operator_id_type");
    }
}

meetd_err core_operator_validate(core_id_type type, const char *id, int instanceid,
                                 meetd_error *err)
{
    /* A rooms_id names a query's asker, never a real-control operator. */
    if (type == CORE_ID_ROOMS_ID)
        return err_set(err, ME_INVALID, "unknown operator_id_type");
    meetd_err e = core_operator_id_check(type, type == CORE_ID_UUID ? "uuid" : "operator_id", id,
                                         err);
    if (e != ME_OK)
        return e;
    if (!core_instanceid_valid(instanceid))
        return err_set(err, ME_INVALID, "instanceid %d is not a known device type", instanceid);
    return ME_OK;
}

int core_operator_role(const core_meeting *m, core_id_type type, const char *id,
                       int instanceid, const core_party *op)
{
    if (type == CORE_ID_USERID) {
        /* A creator or scheduled host needs no presence: the role comes
         * from the meeting, the co-host flag from the user if known. */
        core_user u;
        memset(&u, 0, sizeof u);
        size_t len = strnlen(id, CORE_ID_MAX + 1);
        assert(len <= CORE_ID_MAX); /* validated */
        memcpy(u.userid, id, len < CORE_ID_MAX ? len : CORE_ID_MAX);
        u.cohost = op->found && op->user.cohost;
        return core_user_role(m, &u);
    }
    if (!op->found || !core_present_on(op->present_mask, instanceid))
        return -1;
    return core_user_role(m, &op->user);
}

/* meetd has no Rooms accounts: its rooms are MRA devices, which have no id
 * outside a meeting, so a room is known only by the device it has in this
 * one. A device that left, or one on another instanceid, is no room here. */
meetd_err core_room_check(const core_party *room, meetd_error *err)
{
    assert(room != NULL);
    if (!room->found || !core_present_on(room->present_mask, CORE_INSTANCE_MRA))
        return err_set(err, ME_FORBIDDEN,
                       "operator_id (rooms_id) must be the ms_open_id of an MRA device "
                       "(instanceid 9) present in this meeting");
    return ME_OK;
}

/* Tencent's current documentation lets co-hosts read the participants too
 * (it once said creator only): they moderate, and removing someone needs
 * their ms_open_id, which only a list gives. A room moderates when the
 * user behind its device does (made co-host, or a host's own room). */
meetd_err core_viewer_admit(const core_meeting *m, core_id_type type, const char *id,
                            const core_party *op, meetd_error *err)
{
    assert(m != NULL && op != NULL);
    meetd_err e = core_operator_admit(op, err);
    if (e != ME_OK)
        return e;
    if (type == CORE_ID_ROOMS_ID) {
        e = core_room_check(op, err);
        if (e != ME_OK)
            return e;
    } else if (type != CORE_ID_USERID || !core_id_valid(id)) {
        return err_set(err, ME_INVALID, "operator_id must be a userid of 1..%d bytes of UTF-8",
                       CORE_ID_MAX);
    }
    if (!core_role_moderates(core_operator_role(m, type, id, CORE_INSTANCE_MRA, op)))
        return err_set(err, ME_FORBIDDEN,
                       "only the creator, a host or a co-host may list participants");
    return ME_OK;
}

bool core_operator_is(core_id_type type, const char *id, const core_party *op,
                      const core_party *t)
{
    if (!t->found)
        return false;
    if (op->found && op->user.user_no != 0 && t->user.user_no == op->user.user_no)
        return true;
    return type == CORE_ID_USERID && t->user.userid[0] != '\0' && strcmp(t->user.userid, id) == 0;
}
