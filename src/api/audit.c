/* GET /meetd/v1/meetings/{meetingId}/audit: the removal log, newest first. */
#include "api/api.h"

#include <stdlib.h>

typedef struct api_audit_req {
    api_call *c;
    int64_t meeting_id;
    int64_t pos;
    int size;
    core_meeting m;
    json_t *rows;
    int64_t total;
} api_audit_req;

static store_rc api_audit_row(const core_audit *a, void *arg)
{
    api_audit_req *r = arg;
    json_t *target = json_pack("{s:s,s:s,s:s,s:i}", "userid", a->target_userid, "uuid",
                               a->target_uuid, "ms_open_id", a->target_ms_open_id, "instanceid",
                               a->target_instanceid);
    if (target != NULL && api_set_nonempty(target, "guest_id", a->target_guest_id) != 0) {
        json_decref(target);
        target = NULL;          /* json_pack then fails: no row without it */
    }
    json_t *row = json_pack("{s:o,s:s,s:s,s:o,s:{s:s,s:s,s:s,s:i},s:o,s:s,s:b}", "time",
                            api_time_json(a->time), "request_id", a->request_id, "action",
                            a->action, "sub_meeting_id", api_id_json(a->sub_meeting_id),
                            "operator", "userid", a->op_userid, "uuid", a->op_uuid,
                            "ms_open_id", a->op_ms_open_id, "instanceid", a->op_instanceid,
                            "target", target, "reason", a->reason, "allow_rejoin",
                            a->allow_rejoin);
    return row != NULL && json_array_append_new(r->rows, row) == 0 ? STORE_OK : STORE_STOP;
}

static meetd_err api_audit_tx(store_tx *tx, void *arg)
{
    api_audit_req *r = arg;
    api_call *c = r->c;
    if (api_load_meeting(c, tx, r->meeting_id, &r->m) != ME_OK)
        return c->err.err;
    int rc = store_audit_list(tx, r->meeting_id, r->pos, r->size, api_audit_row, r, &r->total);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "audit_list");
    return ME_OK;
}

void api_audit(api_call *c)
{
    long long pos, size;
    api_audit_req *r = api_alloc(c, sizeof *r);
    if (r == NULL)
        return;
    r->c = c;
    r->rows = json_array();
    if (api_meeting_id(c, &r->meeting_id) == ME_OK &&
        api_query_int(c, "pos", 0, INT64_MAX, 0, &pos) == ME_OK &&
        api_query_int(c, "size", 1, 100, 20, &size) == ME_OK) {
        r->pos = pos;
        r->size = (int)size;
        if (api_read(c, api_audit_tx, r) == ME_OK) {
            int64_t next = r->pos + (int64_t)json_array_size(r->rows);
            api_out(c, json_pack("{s:o,s:I,s:b,s:I,s:O}", "meeting_id",
                                 api_id_json(r->meeting_id), "total_count",
                                 (json_int_t)r->total, "has_remaining", next < r->total,
                                 "next_pos", (json_int_t)next, "records", r->rows));
        }
    }
    json_decref(r->rows);
    free(r);
}
