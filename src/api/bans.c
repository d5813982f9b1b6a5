/* /meetd/v1/meetings/{meetingId}/bans: who may not come back, and lifting it. */
#include "api/api.h"

#include <stdlib.h>

typedef struct api_bans {
    api_call *c;
    int64_t meeting_id;
    core_meeting m;
    json_t *rows;
    bool has_kind;          /* lift: ?kind= given */
    core_id_type kind;
    bool lifted;
} api_bans;

static store_rc api_ban_row(const core_ban *b, void *arg)
{
    api_bans *r = arg;
    /* "operator" as the audit names it; operator_ms_open_id stays for
     * clients written before it (it is operator.ms_open_id). */
    json_t *op = json_pack("{s:s,s:s,s:s}", "userid", b->operator_userid, "uuid",
                           b->operator_uuid, "ms_open_id", b->operator_ms_open_id);
    if (op != NULL && b->operator_instanceid >= 0 &&
        json_object_set_new(op, "instanceid", json_integer(b->operator_instanceid)) != 0) {
        json_decref(op);
        op = NULL;              /* json_pack then fails: no row without it */
    }
    json_t *row = json_pack("{s:s,s:s,s:s,s:o,s:s,s:o,s:s,s:s}", "userid", b->user.userid, "uuid",
                            b->user.uuid, "ms_open_id", b->user.ms_open_id, "banned_at",
                            api_time_json(b->banned_at), "reason", b->reason, "operator", op,
                            "operator_ms_open_id", b->operator_ms_open_id, "request_id",
                            b->request_id);
    if (row == NULL)
        return STORE_STOP;
    if (api_set_nonempty(row, "guest_id", b->user.guest_id) != 0) {
        json_decref(row);
        return STORE_STOP;
    }
    return json_array_append_new(r->rows, row) == 0 ? STORE_OK : STORE_STOP;
}

static meetd_err api_bans_tx(store_tx *tx, void *arg)
{
    api_bans *r = arg;
    api_call *c = r->c;
    if (api_load_meeting(c, tx, r->meeting_id, &r->m) != ME_OK)
        return c->err.err;
    int rc = store_bans_list(tx, r->meeting_id, api_ban_row, r);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "bans_list");
    return ME_OK;
}

void api_bans_list(api_call *c)
{
    api_bans *r = api_alloc(c, sizeof *r);
    if (r == NULL)
        return;
    r->c = c;
    r->rows = json_array();
    if (api_meeting_id(c, &r->meeting_id) == ME_OK && api_read(c, api_bans_tx, r) == ME_OK)
        api_out(c, json_pack("{s:o,s:I,s:O}", "meeting_id", api_id_json(r->meeting_id),
                             "total_count", (json_int_t)json_array_size(r->rows), "bans", r->rows));
    json_decref(r->rows);
    free(r);
}

/* The path names the user; ?kind= says by which of their identities
 * (core/identity.c). Without it the name may be any of them, as long as it
 * names one user only. */
static meetd_err api_lift_tx(store_tx *tx, void *arg)
{
    api_bans *r = arg;
    api_call *c = r->c;
    /* It may run again (store.h): a ban lifted by a run undone is not. */
    r->lifted = false;
    if (api_load_meeting(c, tx, r->meeting_id, &r->m) != ME_OK)
        return c->err.err;
    core_party p = {0};
    if (r->has_kind) {
        if (api_resolve(c, tx, r->meeting_id, r->kind, c->param[1], &p) != ME_OK)
            return c->err.err;
    } else {
        core_party matches[CORE_NAME_KINDS];
        for (int i = 0; i < CORE_NAME_KINDS; i++)
            if (api_resolve(c, tx, r->meeting_id, core_name_kinds[i], c->param[1],
                            &matches[i]) != ME_OK)
                return c->err.err;
        int pick;
        if (core_name_pick(matches, &pick, &c->err) != ME_OK)
            return c->err.err;
        if (pick >= 0)
            p = matches[pick];
    }
    if (!p.found)
        return ME_OK;
    int rc = store_ban_delete(tx, r->meeting_id, p.user.user_no);
    if (rc == STORE_OK)
        r->lifted = true;
    else if (rc != STORE_NOTFOUND)
        return api_store_fail(c, rc, "ban_delete");
    return ME_OK;
}

static void api_lift_done(api_call *c, void *arg, meetd_err e)
{
    api_bans *r = arg;
    if (e == ME_OK)
        api_out(c, json_pack("{s:b}", "lifted", r->lifted));
    free(r);
}

void api_bans_lift(api_call *c)
{
    api_bans *r = api_alloc(c, sizeof *r);
    if (r == NULL)
        return;
    r->c = c;
    if (api_meeting_id(c, &r->meeting_id) != ME_OK) {
        free(r);
        return;
    }
    if (!core_opaque_valid(c->param[1])) {
        api_fail(c, ME_INVALID, "the user id in the path must be 1..%d bytes", CORE_OPAQUE_MAX);
        free(r);
        return;
    }
    const char *kind = c->query(c->io, "kind");
    r->has_kind = kind != NULL;
    if (r->has_kind && core_name_kind_parse(kind, &r->kind, &c->err) != ME_OK) {
        free(r);
        return;
    }
    api_write_then(c, api_lift_tx, r, api_lift_done);
}
