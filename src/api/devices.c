/* /meetd/v1/meetings/{meetingId}/join and /leave: devices entering and
 * leaving, as Tencent's clients do in a real meeting. */
#include "api/api.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "common/ids.h"
#include "common/metrics.h"
#include "live/event.h"

#define API_ID_TRIES 8

typedef struct api_join_req {
    api_call *c;
    int64_t meeting_id;
    core_id_type kind;                 /* CORE_ID_USERID or CORE_ID_GUEST */
    char id[CORE_ID_MAX + 1];
    char nick[CORE_NICK_MAX + 1];
    bool has_nick;
    int instanceid;
    char secret[CORE_TOKEN_SECRET_LEN + 1];   /* the new session's token: */
    uint8_t secret_hash[32];                  /* drawn before the write */
    char token[CORE_TOKEN_MAX + 1];
    core_user user;
    int64_t sub_meeting_id;
    event_batch events;                /* published after the commit */
    uint64_t present;                  /* the user's present instanceids */
    core_meeting m;                    /* not cleared: store_meeting_get fills it */
} api_join_req;

/* A request's record cleared up to head (its meeting, 8 KiB, comes after:
 * written whole before it is read, clearing it was most of a join's cost
 * of allocation). */
static void *api_new_head(size_t size, size_t head)
{
    void *p = malloc(size);
    if (p != NULL)
        memset(p, 0, head);
    return p;
}

/* A new user of the meeting gets fresh random ids; collisions are retried. */
static meetd_err api_join_new_user(store_tx *tx, api_join_req *r)
{
    api_call *c = r->c;
    core_user *u = &r->user;
    memset(u, 0, sizeof *u);
    r->present = 0;
    snprintf(r->kind == CORE_ID_USERID ? u->userid : u->guest_id, CORE_ID_MAX + 1, "%s", r->id);
    snprintf(u->nick_name, sizeof u->nick_name, "%s", r->has_nick ? r->nick : r->id);
    for (int i = 0; i < API_ID_TRIES; i++) {
        if (ids_uuid(u->uuid) != 0 || ids_ms_open_id(u->ms_open_id) != 0)
            return api_fail(c, ME_INTERNAL, NULL);
        int rc = store_user_insert(tx, r->meeting_id, u);
        if (rc == STORE_OK)
            return ME_OK;
        if (rc != STORE_CONFLICT)
            return api_store_fail(c, rc, "user_insert");
    }
    return api_store_fail(c, STORE_CONFLICT, "user_insert: ids exhausted");
}

static meetd_err api_join_user(store_tx *tx, api_join_req *r)
{
    api_call *c = r->c;
    bool banned = false;
    r->present = 0;
    int rc = store_user_party(tx, r->meeting_id, r->kind, r->id, &r->user, &r->present, &banned);
    if (rc == STORE_NOTFOUND)
        return api_join_new_user(tx, r);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "user_party");
    if (banned)
        return api_fail(c, ME_BANNED, NULL);
    if (r->has_nick && strcmp(r->nick, r->user.nick_name) != 0) {
        rc = store_user_set_nick(tx, r->meeting_id, r->user.user_no, r->nick);
        if (rc != STORE_OK)
            return api_store_fail(c, rc, "user_set_nick");
        snprintf(r->user.nick_name, sizeof r->user.nick_name, "%s", r->nick);
    }
    return ME_OK;
}

static meetd_err api_join_session(store_tx *tx, api_join_req *r)
{
    api_call *c = r->c;
    core_device old;
    /* The user's presence was read in this transaction (store_user_party):
     * a device that is not present has no session to replace. */
    int rc = STORE_NOTFOUND;
    if (r->present & (UINT64_C(1) << r->instanceid))
        rc = store_device_end_present(tx, r->meeting_id, r->user.user_no, r->instanceid, c->now,
                                      CORE_LEFT_REPLACED, &old);
    if (rc == STORE_OK) {
        event_rec ev = {.type = EVENT_REPLACED, .meeting = &r->m,
                        .sub_meeting_id = old.sub_meeting_id, .device_no = old.device_no,
                        .user = &r->user, .instanceid = r->instanceid, .time = c->now,
                        .trace_id = c->trace_id};
        rc = event_record(tx, &ev, &r->events);
    }
    if (rc != STORE_OK && rc != STORE_NOTFOUND)
        return api_store_fail(c, rc, "device_replace");

    core_device d;
    memset(&d, 0, sizeof d);
    d.meeting_id = r->meeting_id;
    d.sub_meeting_id = r->sub_meeting_id;
    d.user_no = r->user.user_no;
    d.instanceid = r->instanceid;
    d.join_time = c->now;
    memcpy(d.token_hash, r->secret_hash, sizeof d.token_hash);
    rc = store_device_insert(tx, &d);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "device_insert");
    if (core_token_format(r->token, sizeof r->token, d.device_no, r->secret) != 0)
        return api_fail(c, ME_INTERNAL, NULL);
    event_rec ev = {.type = EVENT_JOINED, .meeting = &r->m, .sub_meeting_id = r->sub_meeting_id,
                    .device_no = d.device_no, .user = &r->user, .instanceid = r->instanceid,
                    .time = c->now, .trace_id = c->trace_id};
    rc = event_record(tx, &ev, &r->events);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "event_record");
    return ME_OK;
}

/* The state a join acts on: the meeting's, or its occurrence's. */
static int api_sub_status(const core_meeting *m, int64_t sub_meeting_id)
{
    if (m->meeting_type == 0)
        return m->status;
    for (int i = 0; i < m->n_occ; i++)
        if (m->occ[i].sub_meeting_id == sub_meeting_id)
            return m->occ[i].status;
    return -1;
}

static meetd_err api_join_tx(store_tx *tx, void *arg)
{
    api_join_req *r = arg;
    api_call *c = r->c;
    /* It may run again (store.h): what it fills starts over. */
    event_batch_reset(&r->events);
    if (api_load_meeting(c, tx, r->meeting_id, &r->m) != ME_OK ||
        core_join_target(&r->m, c->now, &r->sub_meeting_id, &c->err) != ME_OK ||
        api_join_user(tx, r) != ME_OK || api_join_session(tx, r) != ME_OK)
        return c->err.err;
    int before = api_sub_status(&r->m, r->sub_meeting_id);
    core_mark_started(&r->m, r->sub_meeting_id);
    if (api_sub_status(&r->m, r->sub_meeting_id) != before) {
        int rc = store_meeting_update_status(tx, &r->m);
        if (rc != STORE_OK)
            return api_store_fail(c, rc, "meeting_update_status");
    }
    return ME_OK;
}

static meetd_err api_join_parse(api_call *c, json_t *body, api_join_req *r)
{
    bool has_user = false, has_guest = false;
    char guest[CORE_ID_MAX + 1];
    long long instanceid;
    if (api_field_str(c, body, "userid", false, r->id, sizeof r->id, &has_user) != ME_OK ||
        api_field_str(c, body, "guest_id", false, guest, sizeof guest, &has_guest) != ME_OK ||
        api_field_str(c, body, "nick_name", false, r->nick, sizeof r->nick, &r->has_nick) != ME_OK ||
        api_field_int(c, body, "instanceid", true, &instanceid, NULL) != ME_OK)
        return c->err.err;
    if (has_user == has_guest)
        return api_fail(c, ME_INVALID, "exactly one of userid and guest_id is required");
    if (has_guest)
        memcpy(r->id, guest, sizeof guest);
    r->kind = has_user ? CORE_ID_USERID : CORE_ID_GUEST;
    if (!core_id_valid(r->id))
        return api_fail(c, ME_INVALID, "%s must be 1..%d bytes of UTF-8 text",
                        has_user ? "userid" : "guest_id", CORE_ID_MAX);
    if (r->has_nick && r->nick[0] != '\0' && !core_utf8_valid(r->nick, strlen(r->nick)))
        return api_fail(c, ME_INVALID, "nick_name must be UTF-8");
    if (r->has_nick && r->nick[0] == '\0')
        r->has_nick = false;
    if (!core_instanceid_valid(instanceid))
        return api_fail(c, ME_INVALID, "unknown instanceid %lld", instanceid);
    r->instanceid = (int)instanceid;
    return ME_OK;
}

static void api_join_done(api_call *c, void *arg, meetd_err e)
{
    api_join_req *r = arg;
    if (e == ME_OK) {
        metrics_add(METRICS_JOINS, 1);
        event_publish(c->env->live, c->env->hooks, &r->events);
        /* A fixed shape, written as text (no tree): every join answers it. */
        jtext t = {0};
        jtext_open(&t);
        jtext_key(&t, "ms_open_id");
        jtext_str(&t, r->user.ms_open_id);
        jtext_key(&t, "uuid");
        jtext_str(&t, r->user.uuid);
        jtext_key(&t, "instanceid");
        jtext_int(&t, r->instanceid);
        jtext_key(&t, "user_role");
        jtext_int(&t, core_user_role(&r->m, &r->user));
        jtext_key(&t, "device_token");
        jtext_str(&t, r->token);
        jtext_key(&t, "sub_meeting_id");
        jtext_decimal(&t, r->sub_meeting_id);
        jtext_close(&t);
        api_out_text(c, &t);
        jtext_free(&t);
    }
    OPENSSL_cleanse(r->token, sizeof r->token);
    OPENSSL_cleanse(r->secret, sizeof r->secret);
    event_batch_free(&r->events);
    free(r);
}

void api_join(api_call *c)
{
    api_join_req *r = api_new_head(sizeof *r, offsetof(api_join_req, m));
    json_t *body = NULL;
    if (r == NULL) {
        api_fail(c, ME_INTERNAL, NULL);
        return;
    }
    r->c = c;
    bool ok = api_meeting_id(c, &r->meeting_id) == ME_OK && api_body_object(c, &body) == ME_OK &&
              api_join_parse(c, body, r) == ME_OK;
    json_decref(body);
    if (!ok) {
        free(r);
        return;
    }
    /* The token's secret is drawn and hashed here, not in the write: the
     * store's writer thread is the one serial part of meetd. */
    uint8_t raw[CORE_TOKEN_SECRET_LEN / 2];
    if (ids_random_bytes(raw, sizeof raw) != 0) {
        api_fail(c, ME_INTERNAL, NULL);
        free(r);
        return;
    }
    ids_hex(r->secret, raw, sizeof raw, 0);
    OPENSSL_cleanse(raw, sizeof raw);
    if (ids_sha256(r->secret, CORE_TOKEN_SECRET_LEN, r->secret_hash) != 0) {
        api_fail(c, ME_INTERNAL, NULL);
        OPENSSL_cleanse(r->secret, sizeof r->secret);
        free(r);
        return;
    }
    api_write_then(c, api_join_tx, r, api_join_done);
}

/* ---- leave ------------------------------------------------------------------ */

typedef struct api_leave_req {
    api_call *c;
    int64_t meeting_id;
    core_id_type kind;
    char id[CORE_OPAQUE_MAX + 1];
    int instanceid;
    bool left;                         /* a session ended */
    event_batch events;                /* published after the commit */
    core_meeting m;                    /* not cleared: store_meeting_get fills it */
} api_leave_req;

static meetd_err api_leave_tx(store_tx *tx, void *arg)
{
    api_leave_req *r = arg;
    api_call *c = r->c;
    core_party p;
    /* It may run again (store.h): what it fills starts over. */
    r->left = false;
    event_batch_reset(&r->events);
    if (api_load_meeting(c, tx, r->meeting_id, &r->m) != ME_OK ||
        api_resolve(c, tx, r->meeting_id, r->kind, r->id, &p) != ME_OK)
        return c->err.err;
    if (!p.found)
        return ME_OK;
    core_device d;
    int rc = store_device_end_present(tx, r->meeting_id, p.user.user_no, r->instanceid, c->now,
                                      CORE_LEFT_LEAVE, &d);
    if (rc == STORE_OK) {
        event_rec ev = {.type = EVENT_LEFT, .meeting = &r->m, .sub_meeting_id = d.sub_meeting_id,
                        .device_no = d.device_no, .user = &p.user, .instanceid = r->instanceid,
                        .left_reason = CORE_LEFT_LEAVE, .time = c->now,
                        .trace_id = c->trace_id};
        rc = event_record(tx, &ev, &r->events);
        r->left = rc == STORE_OK;
    }
    if (rc != STORE_OK && rc != STORE_NOTFOUND)
        return api_store_fail(c, rc, "device_leave");
    return ME_OK;
}

static void api_leave_done(api_call *c, void *arg, meetd_err e)
{
    api_leave_req *r = arg;
    if (e == ME_OK && r->left) {
        metrics_add(METRICS_LEAVES, 1);
        event_publish(c->env->live, c->env->hooks, &r->events);
    }
    event_batch_free(&r->events);
    free(r);
}

void api_leave(api_call *c)
{
    api_leave_req *r = api_new_head(sizeof *r, offsetof(api_leave_req, m));
    json_t *body = NULL;
    bool has_ms = false, has_uuid = false;
    long long instanceid;
    if (r == NULL) {
        api_fail(c, ME_INTERNAL, NULL);
        return;
    }
    r->c = c;
    if (api_meeting_id(c, &r->meeting_id) != ME_OK || api_body_object(c, &body) != ME_OK ||
        api_field_str(c, body, "ms_open_id", false, r->id, sizeof r->id, &has_ms) != ME_OK ||
        (!has_ms &&
         api_field_str(c, body, "uuid", false, r->id, sizeof r->id, &has_uuid) != ME_OK) ||
        api_field_int(c, body, "instanceid", true, &instanceid, NULL) != ME_OK)
        goto fail;
    if (!has_ms && !has_uuid) {
        api_fail(c, ME_INVALID, "ms_open_id or uuid is required");
        goto fail;
    }
    if (!core_opaque_valid(r->id) || !core_instanceid_valid(instanceid)) {
        api_fail(c, ME_INVALID, "invalid %s or instanceid", has_ms ? "ms_open_id" : "uuid");
        goto fail;
    }
    json_decref(body);
    r->kind = has_ms ? CORE_ID_MS_OPEN_ID : CORE_ID_UUID;
    r->instanceid = (int)instanceid;
    api_write_then(c, api_leave_tx, r, api_leave_done);
    return;
fail:
    json_decref(body);
    free(r);
}
