/* Steps most handlers share: the meeting id, the meeting, the users in it. */
#include "api/api.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

meetd_err api_meeting_id(api_call *c, int64_t *id)
{
    meetd_err e = core_parse_meeting_id(c->param[0], id);
    if (e != ME_OK)
        return api_fail(c, e, NULL);
    /* The meeting's writes are run in order by one writer
     * (store_write_async_key). */
    c->write_key = *id;
    return ME_OK;
}

meetd_err api_store_fail(api_call *c, store_rc rc, const char *what)
{
    /* The cause is logged by the store; the client learns only the trace id.
     * An unreachable backend answers as any other store failure. */
    log_error("trace=%s store failure (%d%s) in %s", c->trace_id, (int)rc,
              rc == STORE_UNAVAILABLE ? ": unavailable" : "", what);
    return api_fail(c, ME_INTERNAL, NULL);
}

meetd_err api_load_meeting(api_call *c, store_tx *tx, int64_t id, core_meeting *m)
{
    int rc = store_meeting_get(tx, c->app_id, id, m);
    if (rc == STORE_NOTFOUND)
        return api_fail(c, ME_NO_MEETING, NULL);
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "meeting_get");
    return ME_OK;
}

meetd_err api_resolve(api_call *c, store_tx *tx, int64_t meeting_id, core_id_type kind,
                      const char *id, core_party *out)
{
    memset(out, 0, sizeof *out);
    /* A rooms_id is the ms_open_id of a room's device (core_room_check). */
    if (kind == CORE_ID_ROOMS_ID)
        kind = CORE_ID_MS_OPEN_ID;
    int rc = store_user_party(tx, meeting_id, kind, id, &out->user, &out->present_mask,
                              &out->banned);
    if (rc == STORE_NOTFOUND)
        return ME_OK;
    if (rc != STORE_OK)
        return api_store_fail(c, rc, "user_party");
    out->found = true;
    return ME_OK;
}

meetd_err api_admit_userid(api_call *c, store_tx *tx, int64_t meeting_id, const char *userid)
{
    core_party op;
    if (api_resolve(c, tx, meeting_id, CORE_ID_USERID, userid, &op) != ME_OK)
        return c->err.err;
    return core_operator_admit(&op, &c->err);
}

/* The outcome of a handler's transaction. store_rc and meetd_err never
 * share a variable: the store says whether the transaction held (rc), the
 * handler's own answer travels in job_err. */
static meetd_err api_tx_result(api_call *c, store_rc rc, meetd_err job_err)
{
    if (rc != STORE_OK && rc != STORE_ROLLBACK)
        return api_fail(c, ME_INTERNAL, NULL);
    if (job_err == ME_OK)
        return ME_OK;
    /* The handler recorded its error on the call already. */
    if (c->err.err == ME_OK)
        return api_fail(c, ME_INTERNAL, NULL);
    return c->err.err;
}

/* A job starts from a clean call: a backend may run it again after a
 * serialization failure, and what the earlier run recorded is void. */
static void api_job_reset(api_call *c)
{
    memset(&c->err, 0, sizeof c->err);
    c->job_err = ME_INTERNAL;
}

/* The handler's job as a store_fn: ME_OK commits, its error undoes it. */
static store_rc api_job_run(store_tx *tx, void *arg)
{
    api_call *c = arg;
    c->job_err = c->job_fn(tx, c->job_arg);
    return c->job_err == ME_OK ? STORE_OK : STORE_ROLLBACK;
}

/* The job of every write. The request's nonce is spent first, in the
 * job's own savepoint: spent already (a replay the replay memory has
 * forgotten, after a restart), the job fails, its savepoint is rolled back
 * and nothing changes. The handler's work then runs in a savepoint of its
 * own, so that a write the rules refuse undoes its work but still commits
 * the spend: replayed later, when the rules might say yes, it is refused
 * all the same. A store error fails the whole job, spend included (the
 * replay memory still holds it). */
static store_rc api_write_job(store_tx *tx, void *arg)
{
    api_call *c = arg;
    api_job_reset(c);
    if (!c->spend)
        return api_job_run(tx, c);
    store_rc rc = store_spend(tx, c->app_id, c->timestamp, c->nonce, c->now - AUTH_WINDOW);
    if (rc == STORE_CONFLICT) {
        c->job_err = api_fail(c, ME_REPLAY, NULL);
        return STORE_ROLLBACK;
    }
    if (rc != STORE_OK) {
        c->job_err = api_store_fail(c, rc, "spend");
        return rc;
    }
    rc = store_try(tx, api_job_run, c);
    /* Refused by the rules: its work is undone, the spend is kept. */
    return rc == STORE_ROLLBACK ? STORE_OK : rc;
}

void api_write_then(api_call *c, api_job_fn fn, void *arg, api_then_fn then)
{
    assert(c->write_fn == NULL);
    c->write_fn = api_write_job;
    c->write_arg = c;
    c->job_fn = fn;
    c->job_arg = arg;
    c->job_err = ME_INTERNAL;
    c->then = then;
    if (!c->write_later)
        api_write_finish(c, store_write(c->env->st, c->write_fn, c->write_arg));
}

void api_then_free(api_call *c, void *arg, meetd_err e)
{
    (void)c;
    (void)e;
    free(arg);
}

bool api_write_pending(const api_call *c) { return c->write_fn != NULL; }

void api_write_finish(api_call *c, store_rc rc)
{
    assert(c->write_fn != NULL && c->then != NULL);
    api_then_fn then = c->then;
    void *arg = c->job_arg;
    meetd_err job_err = c->job_err;
    c->write_fn = NULL;
    c->write_arg = NULL;
    c->job_fn = NULL;
    c->job_arg = NULL;
    c->then = NULL;
    /* Committed (or a replay refused, nothing written): the handler's own
     * result says whether its work is done too. */
    then(c, arg, api_tx_result(c, rc, job_err));
}

/* api_read's job: the handler's fn and what it answered. */
typedef struct api_read_job {
    api_call *c;
    api_job_fn fn;
    void *arg;
    meetd_err err;
} api_read_job;

static store_rc api_read_run(store_tx *tx, void *arg)
{
    api_read_job *j = arg;
    j->err = j->fn(tx, j->arg);
    return j->err == ME_OK ? STORE_OK : STORE_ROLLBACK;
}

meetd_err api_read(api_call *c, api_job_fn fn, void *arg)
{
    api_read_job j = {.c = c, .fn = fn, .arg = arg, .err = ME_INTERNAL};
    store_rc rc = store_read(c->env->st, api_read_run, &j);
    return api_tx_result(c, rc, j.err);
}

meetd_err api_field_target(api_call *c, json_t *obj, const char *where, core_id_type *type,
                           char *id, size_t cap, int *instanceid)
{
    if (!json_is_object(obj))
        return api_fail(c, ME_INVALID, "%s must be an object", where);
    bool has_to = false, has_type = false, has_uuid = false;
    long long t = 0, inst;
    if (api_field_str(c, obj, "to_operator_id", false, id, cap, &has_to) != ME_OK ||
        api_field_int(c, obj, "to_operator_id_type", false, &t, &has_type) != ME_OK)
        return c->err.err;
    if (has_to) {
        if (!has_type || t != CORE_ID_MS_OPEN_ID)
            return api_fail(c, ME_INVALID, "%s.to_operator_id_type must be 4 (ms_open_id)", where);
        *type = CORE_ID_MS_OPEN_ID;
    } else {
        if (api_field_str(c, obj, "uuid", false, id, cap, &has_uuid) != ME_OK)
            return c->err.err;
        if (!has_uuid)
            return api_fail(c, ME_INVALID, "%s needs uuid or to_operator_id", where);
        *type = CORE_ID_UUID;
    }
    if (api_field_int(c, obj, "instanceid", true, &inst, NULL) != ME_OK)
        return c->err.err;
    if (!core_instanceid_valid(inst))
        return api_fail(c, ME_INVALID, "%s: unknown instanceid %lld", where, inst);
    *instanceid = (int)inst;
    return ME_OK;
}
