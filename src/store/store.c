/* The store interface, routed to the store's backend (backend.h).
 *
 * Opening picks the backend by name, opens it and starts the writers
 * (queue.c); every primitive of store.h is one call through the table of
 * the transaction's backend. Nothing here knows SQL or any backend's
 * types: a second backend plugs in by filling a store_backend and naming
 * it below. */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "store/store_int.h"

static const store_backend *const store_backends[] = {
    &store_backend_sqlite,
#ifdef MEETD_WITH_POSTGRES
    &store_backend_postgres,
#endif
};

const store_backend *store_backend_find(const char *name)
{
    if (name == NULL)
        name = "sqlite";
    for (size_t i = 0; i < sizeof store_backends / sizeof *store_backends; i++)
        if (strcmp(store_backends[i]->name, name) == 0)
            return store_backends[i];
    return NULL;
}

store_rc store_open(const store_options *opt, store **out)
{
    assert(out != NULL);
    *out = NULL;
    if (opt == NULL) {
        log_error("store: no options given");
        return STORE_ERROR;
    }
    const store_backend *be = store_backend_find(opt->backend);
    if (be == NULL) {
        log_error("store: no backend \"%s\" in this build", opt->backend);
        return STORE_ERROR;
    }
    store *s = calloc(1, sizeof *s);
    if (s == NULL) {
        log_error("store: out of memory");
        return STORE_ERROR;
    }
    s->be = be;
    s->rerun_jobs = opt->rerun_jobs;
    pthread_mutex_init(&s->queue_lock, NULL);
    store_rc rc = be->open(opt, &s->impl);
    if (rc == STORE_OK)
        rc = store_queue_start(s);
    if (rc != STORE_OK) {
        store_close(s);
        return rc;
    }
    *out = s;
    return STORE_OK;
}

void store_close(store *s)
{
    if (s == NULL)
        return;
    /* What is queued is committed (and its callers told) before anything
     * closes. */
    store_queue_stop(s);
    if (s->impl != NULL)
        s->be->close(s->impl);
    pthread_mutex_destroy(&s->queue_lock);
    free(s);
}

int store_schema_version(store *s)
{
    assert(s != NULL);
    return s->be->schema_version(s->impl);
}

int store_descriptors(store *s)
{
    assert(s != NULL);
    return s->be->descriptors(s->impl);
}

void store_keys_stamp(store *s, store_stamp *out)
{
    s->be->keys_stamp(s->impl, out);
}

store_rc store_read(store *s, store_fn fn, void *arg)
{
    assert(s != NULL && fn != NULL);
    store_tx tx = {.be = s->be, .impl = s->impl};
    store_rc rc = s->be->read_begin(s->impl, &tx);
    if (rc != STORE_OK)
        return rc;
    rc = store_apply(&tx, fn, arg);
    store_rc end = s->be->read_end(s->impl, &tx, rc == STORE_OK);
    return rc == STORE_OK ? end : rc;
}

/* ---- the change feed -------------------------------------------------- */

struct store_changes {
    const store_backend *be;
    void *feed;
};

store_rc store_changes_open(store *s, store_changes **out)
{
    assert(s != NULL && out != NULL);
    *out = NULL;
    if (s->be->changes_open == NULL)
        return STORE_NOTFOUND;
    store_changes *c = calloc(1, sizeof *c);
    if (c == NULL) {
        log_error("store: out of memory");
        return STORE_ERROR;
    }
    c->be = s->be;
    store_rc rc = s->be->changes_open(s->impl, &c->feed);
    if (rc != STORE_OK) {
        free(c);
        return rc;
    }
    *out = c;
    return STORE_OK;
}

store_rc store_changes_wait(store_changes *c, int timeout_ms, store_change_cb cb, void *arg,
                            bool *resync)
{
    assert(c != NULL && cb != NULL && resync != NULL);
    *resync = false;
    return c->be->changes_wait(c->feed, timeout_ms, cb, arg, resync);
}

void store_changes_wake(store_changes *c)
{
    if (c != NULL)
        c->be->changes_wake(c->feed);
}

void store_changes_close(store_changes *c)
{
    if (c == NULL)
        return;
    c->be->changes_close(c->feed);
    free(c);
}

/* ---- primitives ------------------------------------------------------- */

store_rc store_spend(store_tx *tx, const char *app_id, int64_t timestamp, uint64_t nonce,
                     int64_t keep_from)
{
    return tx->be->spend(tx, app_id, timestamp, nonce, keep_from);
}

bool store_shared(const store *s)
{
    return s->be->shared;
}

store_rc store_rate_take(store *s, const char *app_id, double rate, double burst, int64_t want,
                         int64_t *granted)
{
    *granted = 0;
    if (s->be->rate_take == NULL)
        return STORE_ERROR;
    return s->be->rate_take(s->impl, app_id, rate, burst, want, granted);
}

store_rc store_spend_now(store *s, const char *app_id, int64_t timestamp, uint64_t nonce,
                         int64_t keep_from)
{
    if (s->be->spend_now == NULL)
        return STORE_OK;
    return s->be->spend_now(s->impl, app_id, timestamp, nonce, keep_from);
}

store_rc store_app_insert(store_tx *tx, const store_app *app)
{
    return tx->be->app_insert(tx, app);
}

store_rc store_app_get(store_tx *tx, const char *app_id, store_app *out)
{
    return tx->be->app_get(tx, app_id, out);
}

store_rc store_app_list(store_tx *tx, store_app_cb cb, void *arg)
{
    return tx->be->app_list(tx, cb, arg);
}

store_rc store_app_count(store_tx *tx, int64_t *count)
{
    return tx->be->app_count(tx, count);
}

store_rc store_app_delete(store_tx *tx, const char *app_id)
{
    return tx->be->app_delete(tx, app_id);
}

store_rc store_key_insert(store_tx *tx, const store_key *key)
{
    return tx->be->key_insert(tx, key);
}

store_rc store_key_get(store_tx *tx, const char *secret_id, store_key *key, store_app *app)
{
    return tx->be->key_get(tx, secret_id, key, app);
}

store_rc store_key_list(store_tx *tx, const char *app_id, store_key_cb cb, void *arg)
{
    return tx->be->key_list(tx, app_id, cb, arg);
}

store_rc store_key_delete_all(store_tx *tx, const char *app_id)
{
    return tx->be->key_delete_all(tx, app_id);
}

store_rc store_meeting_insert(store_tx *tx, const core_meeting *m)
{
    return tx->be->meeting_insert(tx, m);
}

store_rc store_meeting_get(store_tx *tx, const char *app_id, int64_t meeting_id, core_meeting *out)
{
    return tx->be->meeting_get(tx, app_id, meeting_id, out);
}

store_rc store_meeting_app(store_tx *tx, int64_t meeting_id, char app_id[CORE_APPID_MAX + 1])
{
    return tx->be->meeting_app(tx, meeting_id, app_id);
}

store_rc store_meeting_by_code(store_tx *tx, const char *code, int64_t *meeting_id,
                               char app_id[CORE_APPID_MAX + 1])
{
    return tx->be->meeting_by_code(tx, code, meeting_id, app_id);
}

store_rc store_meetings_of_user(store_tx *tx, const char *app_id, const char *userid, int64_t from,
                                int64_t skip, int limit, store_meeting_id_cb cb, void *arg,
                                int64_t *remaining, int64_t *next_from, int64_t *next_skip)
{
    return tx->be->meetings_of_user(tx, app_id, userid, from, skip, limit, cb, arg, remaining,
                                    next_from, next_skip);
}

store_rc store_meeting_update_status(store_tx *tx, const core_meeting *m)
{
    return tx->be->meeting_update_status(tx, m);
}

store_rc store_meeting_update(store_tx *tx, const core_meeting *m)
{
    return tx->be->meeting_update(tx, m);
}

store_rc store_user_get(store_tx *tx, int64_t meeting_id, core_id_type kind, const char *value,
                        core_user *out)
{
    return tx->be->user_get(tx, meeting_id, kind, value, out);
}

store_rc store_user_party(store_tx *tx, int64_t meeting_id, core_id_type kind,
                          const char *value, core_user *out, uint64_t *mask, bool *banned)
{
    *mask = 0;
    *banned = false;
    return tx->be->user_party(tx, meeting_id, kind, value, out, mask, banned);
}

store_rc store_user_insert(store_tx *tx, int64_t meeting_id, core_user *u)
{
    return tx->be->user_insert(tx, meeting_id, u);
}

store_rc store_user_by_no(store_tx *tx, int64_t user_no, core_user *out)
{
    return tx->be->user_by_no(tx, user_no, out);
}

store_rc store_user_set_cohost(store_tx *tx, int64_t meeting_id, int64_t user_no, bool cohost)
{
    return tx->be->user_set_cohost(tx, meeting_id, user_no, cohost);
}

store_rc store_user_set_nick(store_tx *tx, int64_t meeting_id, int64_t user_no, const char *nick)
{
    return tx->be->user_set_nick(tx, meeting_id, user_no, nick);
}

store_rc store_cohosts_list(store_tx *tx, int64_t meeting_id, store_user_cb cb, void *arg)
{
    return tx->be->cohosts_list(tx, meeting_id, cb, arg);
}

store_rc store_cohosts_end(store_tx *tx, int64_t meeting_id)
{
    return tx->be->cohosts_end(tx, meeting_id);
}

store_rc store_user_presence(store_tx *tx, int64_t meeting_id, int64_t user_no, uint64_t *mask)
{
    return tx->be->user_presence(tx, meeting_id, user_no, mask);
}

store_rc store_device_insert(store_tx *tx, core_device *d)
{
    return tx->be->device_insert(tx, d);
}

store_rc store_device_present(store_tx *tx, int64_t meeting_id, int64_t user_no, int instanceid,
                              core_device *out)
{
    return tx->be->device_present(tx, meeting_id, user_no, instanceid, out);
}

store_rc store_device_end_present(store_tx *tx, int64_t meeting_id, int64_t user_no,
                                  int instanceid, int64_t left_time, int left_reason,
                                  core_device *out)
{
    return tx->be->device_end_present(tx, meeting_id, user_no, instanceid, left_time,
                                      left_reason, out);
}

store_rc store_device_end(store_tx *tx, int64_t device_no, int64_t left_time, int left_reason)
{
    return tx->be->device_end(tx, device_no, left_time, left_reason);
}

store_rc store_devices_end_all(store_tx *tx, int64_t meeting_id, int64_t left_time,
                               int left_reason, store_device_cb cb, void *arg)
{
    return tx->be->devices_end_all(tx, meeting_id, left_time, left_reason, cb, arg);
}

store_rc store_device_get(store_tx *tx, int64_t device_no, core_device *out)
{
    return tx->be->device_get(tx, device_no, out);
}

store_rc store_device_by_token(store_tx *tx, int64_t device_no, const uint8_t secret_hash[32],
                               core_device *out)
{
    return tx->be->device_by_token(tx, device_no, secret_hash, out);
}

store_rc store_participants_list(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id,
                                 int64_t pos, int size, store_participant_cb cb, void *arg,
                                 int64_t *total)
{
    return tx->be->participants_list(tx, meeting_id, sub_meeting_id, pos, size, cb, arg, total);
}

store_rc store_participants_between(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id,
                                    int64_t from, int64_t to, int64_t pos, int size,
                                    store_participant_cb cb, void *arg, int64_t *total)
{
    return tx->be->participants_between(tx, meeting_id, sub_meeting_id, from, to, pos, size, cb,
                                        arg, total);
}

store_rc store_present_list(store_tx *tx, int64_t meeting_id, int64_t sub_meeting_id, int64_t pos,
                            int size, store_participant_cb cb, void *arg, int64_t *total)
{
    return tx->be->present_list(tx, meeting_id, sub_meeting_id, pos, size, cb, arg, total);
}

store_rc store_ban_put(store_tx *tx, const core_ban *b)
{
    return tx->be->ban_put(tx, b);
}

store_rc store_ban_exists(store_tx *tx, int64_t meeting_id, int64_t user_no, bool *banned)
{
    return tx->be->ban_exists(tx, meeting_id, user_no, banned);
}

store_rc store_ban_delete(store_tx *tx, int64_t meeting_id, int64_t user_no)
{
    return tx->be->ban_delete(tx, meeting_id, user_no);
}

store_rc store_bans_list(store_tx *tx, int64_t meeting_id, store_ban_cb cb, void *arg)
{
    return tx->be->bans_list(tx, meeting_id, cb, arg);
}

store_rc store_audit_insert(store_tx *tx, core_audit *a)
{
    return tx->be->audit_insert(tx, a);
}

store_rc store_audit_list(store_tx *tx, int64_t meeting_id, int64_t pos, int size,
                          store_audit_cb cb, void *arg, int64_t *total)
{
    return tx->be->audit_list(tx, meeting_id, pos, size, cb, arg, total);
}

store_rc store_event_insert(store_tx *tx, store_event *e, const char *payload)
{
    return tx->be->event_insert(tx, e, payload);
}

store_rc store_events_since(store_tx *tx, int64_t meeting_id, int64_t after, int limit,
                            store_event_cb cb, void *arg)
{
    return tx->be->events_since(tx, meeting_id, after, limit, cb, arg);
}

store_rc store_events_since_many(store_tx *tx, const store_cursor *cursors, size_t n, int limit,
                                 store_event_cb cb, void *arg)
{
    return tx->be->events_since_many(tx, cursors, n, limit, cb, arg);
}

store_rc store_events_last(store_tx *tx, int64_t meeting_id, int64_t *event_no)
{
    return tx->be->events_last(tx, meeting_id, event_no);
}

store_rc store_events_prune(store_tx *tx, int64_t before)
{
    return tx->be->events_prune(tx, before);
}

store_rc store_node_register(store_tx *tx, const store_node *n)
{
    return tx->be->node_register(tx, n);
}

store_rc store_node_heartbeat(store_tx *tx, int64_t node_id, int64_t now, int64_t dead_before)
{
    return tx->be->node_heartbeat(tx, node_id, now, dead_before);
}

store_rc store_node_list(store_tx *tx, store_node_cb cb, void *arg)
{
    return tx->be->node_list(tx, cb, arg);
}

store_rc store_node_stop(store_tx *tx, int64_t node_id, int64_t grace_until)
{
    return tx->be->node_stop(tx, node_id, grace_until);
}

store_rc store_stream_attach(store_tx *tx, int64_t device_no, int64_t node_id,
                             int64_t expected, int64_t *from)
{
    int64_t ignored;
    return tx->be->stream_attach(tx, device_no, node_id, expected, from != NULL ? from : &ignored);
}

store_rc store_meetings_lock_of_devices(store_tx *tx, const int64_t *device_nos, size_t n)
{
    assert(device_nos != NULL || n == 0);
    return tx->be->meetings_lock_of_devices(tx, device_nos, n);
}

store_rc store_stream_detach(store_tx *tx, int64_t device_no, int64_t node_id,
                             int64_t grace_until)
{
    return tx->be->stream_detach(tx, device_no, node_id, grace_until);
}

store_rc store_stream_get(store_tx *tx, int64_t device_no, int64_t *stream_node,
                          int64_t *grace_until)
{
    return tx->be->stream_get(tx, device_no, stream_node, grace_until);
}

store_rc store_presence_due(store_tx *tx, int64_t now, int64_t dead_before, int64_t grace_ms,
                            int64_t forget_before, int limit, store_device_no_cb cb, void *arg)
{
    return tx->be->presence_due(tx, now, dead_before, grace_ms, forget_before, limit, cb, arg);
}

store_rc store_presence_claim(store_tx *tx, int64_t device_no, int64_t now)
{
    return tx->be->presence_claim(tx, device_no, now);
}

store_rc store_webhook_insert(store_tx *tx, store_webhook *w)
{
    return tx->be->webhook_insert(tx, w);
}

store_rc store_webhook_get(store_tx *tx, const char *app_id, int64_t webhook_id,
                           store_webhook *out)
{
    return tx->be->webhook_get(tx, app_id, webhook_id, out);
}

store_rc store_webhook_list(store_tx *tx, const char *app_id, store_webhook_cb cb, void *arg)
{
    return tx->be->webhook_list(tx, app_id, cb, arg);
}

store_rc store_webhook_count(store_tx *tx, const char *app_id, int64_t *count)
{
    return tx->be->webhook_count(tx, app_id, count);
}

store_rc store_webhook_delete(store_tx *tx, const char *app_id, int64_t webhook_id)
{
    return tx->be->webhook_delete(tx, app_id, webhook_id);
}

store_rc store_outbox_insert(store_tx *tx, store_delivery *d, const char *payload)
{
    return tx->be->outbox_insert(tx, d, payload);
}

store_rc store_outbox_due(store_tx *tx, int64_t now, int per_webhook, store_due_cb cb, void *arg)
{
    return tx->be->outbox_due(tx, now, per_webhook, cb, arg);
}

store_rc store_outbox_pending(store_tx *tx, int64_t delivery_id, store_pending_cb cb, void *arg)
{
    return tx->be->outbox_pending(tx, delivery_id, cb, arg);
}

store_rc store_outbox_next_due(store_tx *tx, int64_t after, int64_t *at)
{
    return tx->be->outbox_next_due(tx, after, at);
}

store_rc store_outbox_claim(store_tx *tx, int64_t delivery_id, int64_t holder, int64_t now,
                            int64_t until)
{
    assert(holder != 0 && until > now);
    return tx->be->outbox_claim(tx, delivery_id, holder, now, until);
}

store_rc store_outbox_release(store_tx *tx, int64_t delivery_id, int64_t holder, int64_t at)
{
    return tx->be->outbox_release(tx, delivery_id, holder, at);
}

store_rc store_outbox_delivered(store_tx *tx, int64_t delivery_id, int64_t holder, int64_t at,
                                int http_status)
{
    return tx->be->outbox_delivered(tx, delivery_id, holder, at, http_status);
}

store_rc store_outbox_retry(store_tx *tx, int64_t delivery_id, int64_t holder,
                            int64_t next_attempt_at, int http_status, const char *error)
{
    return tx->be->outbox_retry(tx, delivery_id, holder, next_attempt_at, http_status, error);
}

store_rc store_outbox_failed(store_tx *tx, int64_t delivery_id, int64_t holder, int http_status,
                             const char *error)
{
    return tx->be->outbox_failed(tx, delivery_id, holder, http_status, error);
}

store_rc store_deliveries_list(store_tx *tx, const char *app_id, int status, int64_t pos, int size,
                               store_delivery_cb cb, void *arg, int64_t *total)
{
    return tx->be->deliveries_list(tx, app_id, status, pos, size, cb, arg, total);
}
