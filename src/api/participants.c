/* GET /v1/meetings/{meetingId}/participants: a page of a meeting's (or an
 * occurrence's) device sessions in join order, read and encoded in one
 * read transaction. */
#include "api/api.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct api_plist {
    api_call *c;
    int64_t meeting_id;
    const char *userid;
    int64_t pos;
    int size;
    core_meeting m;
    json_t *rows;
    int64_t total;
} api_plist;

static json_t *api_base64_json(const char *s)
{
    size_t len = strlen(s);
    char *out = malloc(4 * ((len + 2) / 3) + 1);
    if (out == NULL)
        return NULL;
    EVP_EncodeBlock((unsigned char *)out, (const unsigned char *)s, (int)len);
    json_t *v = json_string(out);
    free(out);
    return v;
}

static int api_plist_row(const core_device *d, const core_user *u, void *arg)
{
    api_plist *p = arg;
    /* One object per session on the page: set field by field rather than
     * through json_pack, whose format is parsed again for every row. The
     * keys are literals; the values are checked as json_pack would. */
    json_t *row = json_object();
    if (row == NULL)
        return 1;
    int bad = json_object_set_new_nocheck(row, "userid", json_string(u->userid)) |
              json_object_set_new_nocheck(row, "uuid", json_string(u->uuid)) |
              json_object_set_new_nocheck(row, "ms_open_id", json_string(u->ms_open_id)) |
              json_object_set_new_nocheck(row, "user_name", api_base64_json(u->nick_name)) |
              json_object_set_new_nocheck(row, "instanceid", json_integer(d->instanceid)) |
              json_object_set_new_nocheck(row, "join_time", api_time_json(d->join_time)) |
              json_object_set_new_nocheck(row, "user_role",
                                          json_integer(core_user_role(&p->m, u)));
    if (u->guest_id[0])
        bad |= json_object_set_new_nocheck(row, "guest_id", json_string(u->guest_id));
    if (d->left_time != 0)
        bad |= json_object_set_new_nocheck(row, "left_time", api_time_json(d->left_time));
    if (bad != 0) {
        json_decref(row);
        return 1;
    }
    return json_array_append_new(p->rows, row) != 0;
}

static meetd_err api_plist_sub(api_plist *p, int64_t *sub)
{
    api_call *c = p->c;
    const char *given = c->query(c->io, "sub_meeting_id");
    *sub = 0;
    if (p->m.meeting_type == 0)
        return ME_OK;
    if (given != NULL && *given != '\0') {
        for (int i = 0; i < p->m.n_occ; i++) {
            char buf[24];
            snprintf(buf, sizeof buf, "%lld", (long long)p->m.occ[i].sub_meeting_id);
            if (strcmp(buf, given) == 0) {
                *sub = p->m.occ[i].sub_meeting_id;
                return ME_OK;
            }
        }
        return api_fail(c, ME_INVALID, "no such sub_meeting_id");
    }
    int cur = core_current_occurrence(&p->m, c->now);
    *sub = cur >= 0 ? p->m.occ[cur].sub_meeting_id : -1;
    return ME_OK;
}

static int api_plist_tx(store_tx *tx, void *arg)
{
    api_plist *p = arg;
    api_call *c = p->c;
    if (api_load_meeting(c, tx, p->meeting_id, &p->m) != ME_OK)
        return c->err.err;
    if (api_admit_userid(c, tx, p->meeting_id, p->userid) != ME_OK)
        return c->err.err;
    if (!core_is_creator(&p->m, p->userid) && !core_is_host(&p->m, p->userid))
        return api_fail(c, ME_FORBIDDEN, "only the creator or a host may list participants");
    int64_t sub;
    if (api_plist_sub(p, &sub) != ME_OK)
        return c->err.err;
    int rc = store_participants_list(tx, p->meeting_id, sub, p->pos, p->size, api_plist_row, p,
                                     &p->total);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "participants_list");
    return ME_OK;
}

void api_participants(api_call *c)
{
    long long pos, size;
    api_plist *p = calloc(1, sizeof *p);
    if (p == NULL) {
        api_fail(c, ME_INTERNAL, NULL);
        return;
    }
    p->c = c;
    p->userid = c->query(c->io, "userid");
    if (api_meeting_id(c, &p->meeting_id) != ME_OK)
        goto out;
    if (p->userid == NULL || !core_id_valid(p->userid)) {
        api_fail(c, ME_INVALID, "userid is required (1..%d bytes)", CORE_ID_MAX);
        goto out;
    }
    if (api_query_int(c, "pos", 0, INT64_MAX, 0, &pos) != ME_OK ||
        api_query_int(c, "size", 1, 100, 20, &size) != ME_OK)
        goto out;
    p->pos = pos;
    p->size = (int)size;
    p->rows = json_array();
    if (api_read(c, api_plist_tx, p) != ME_OK)
        goto out;
    int64_t next = p->pos + (int64_t)json_array_size(p->rows);
    c->out = json_pack("{s:o,s:s,s:s,s:o,s:o,s:I,s:b,s:I,s:O}", "meeting_id",
                       api_id_json(p->meeting_id), "meeting_code", p->m.meeting_code, "subject",
                       p->m.subject, "schedule_start_time", api_time_json(p->m.start_time),
                       "schedule_end_time", api_time_json(p->m.end_time), "total_count",
                       (json_int_t)p->total, "has_remaining", next < p->total, "next_pos",
                       (json_int_t)next, "participants", p->rows);
out:
    json_decref(p->rows);
    free(p);
}
