#include "auth/apps.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "common/ids.h"

#define AUTH_ID_TRIES 8

typedef struct auth_app_op {
    const char *name;
    const char *sdk_id;
    const char *app_id;
    int64_t now;
    store_app *app;
    store_key *key;
} auth_app_op;

/* SecretIds look like Tencent's ("AKID" + 32), so do SecretKeys (32). */
static int auth_key_draw(store_key *key, const char *app_id, int64_t now)
{
    memset(key, 0, sizeof *key);
    memcpy(key->secret_id, "AKID", 4);
    if (ids_alnum(key->secret_id + 4, 32) != 0 || ids_alnum(key->secret_key, 32) != 0)
        return -1;
    snprintf(key->app_id, sizeof key->app_id, "%s", app_id);
    key->created_at = now;
    return 0;
}

/* Every job below may run more than once (store.h): each draws its ids
 * afresh and overwrites what it fills. */
static store_rc auth_key_add(store_tx *tx, store_key *key, const char *app_id, int64_t now)
{
    for (int i = 0; i < AUTH_ID_TRIES; i++) {
        if (auth_key_draw(key, app_id, now) != 0)
            return STORE_ERROR;
        store_rc rc = store_key_insert(tx, key);
        if (rc != STORE_CONFLICT)
            return rc;
    }
    return STORE_ERROR;
}

static store_rc auth_create_tx(store_tx *tx, void *arg)
{
    auth_app_op *op = arg;
    store_app *app = op->app;
    for (int i = 0;; i++) {
        if (i == AUTH_ID_TRIES)
            return STORE_ERROR;
        memset(app, 0, sizeof *app);
        /* Numeric ids like Tencent's: AppId 9 digits, SdkId 11. */
        if (ids_digits(app->app_id, 9) != 0)
            return STORE_ERROR;
        if (op->sdk_id == NULL) {
            if (ids_digits(app->sdk_id, 11) != 0)
                return STORE_ERROR;
        } else {
            snprintf(app->sdk_id, sizeof app->sdk_id, "%s", op->sdk_id);
        }
        snprintf(app->name, sizeof app->name, "%s", op->name);
        app->created_at = op->now;
        store_rc rc = store_app_insert(tx, app);
        if (rc == STORE_OK)
            break;
        if (rc != STORE_CONFLICT)
            return rc;
    }
    return auth_key_add(tx, op->key, app->app_id, op->now);
}

store_rc auth_app_create(store *st, const char *name, const char *sdk_id, int64_t now,
                         store_app *app, store_key *key)
{
    auth_app_op op = {.name = name, .sdk_id = sdk_id, .now = now, .app = app, .key = key};
    return store_write(st, auth_create_tx, &op);
}

/* The first start's question, "is there any app yet", and its answer in
 * one write transaction: a backend shared by several servers serialises
 * the count of every such write (PostgreSQL: an advisory lock, store.h's
 * store_app_count), so of servers starting together on an empty store
 * exactly one creates the app. */
typedef struct auth_first_op {
    auth_app_op create;
    bool created;
    bool found;          /* the app named create.name and a key of it */
} auth_first_op;

static store_rc auth_first_app(const store_app *a, void *arg)
{
    auth_first_op *op = arg;
    store_app *best = op->create.app;
    if (strcmp(a->name, op->create.name) != 0)
        return STORE_OK;
    /* The oldest of that name (then the lowest id): the one created first. */
    if (!op->found || a->created_at < best->created_at ||
        (a->created_at == best->created_at && strcmp(a->app_id, best->app_id) < 0))
        *best = *a;
    op->found = true;
    return STORE_OK;
}

static store_rc auth_first_key(const store_key *k, void *arg)
{
    auth_first_op *op = arg;
    /* Listed oldest first: the last one is the newest. */
    *op->create.key = *k;
    op->found = true;
    return STORE_OK;
}

static store_rc auth_first_tx(store_tx *tx, void *arg)
{
    auth_first_op *op = arg;
    op->created = op->found = false;
    int64_t apps = 0;
    store_rc rc = store_app_count(tx, &apps);
    if (rc != STORE_OK)
        return rc;
    if (apps == 0) {
        rc = auth_create_tx(tx, &op->create);
        op->created = op->found = rc == STORE_OK;
        return rc;
    }
    rc = store_app_list(tx, auth_first_app, op);
    if (rc != STORE_OK || !op->found)
        return rc;
    op->found = false;
    return store_key_list(tx, op->create.app->app_id, auth_first_key, op);
}

store_rc auth_app_first(store *st, const char *name, int64_t now, store_app *app,
                        store_key *key, bool *created)
{
    auth_first_op op = {.create = {.name = name, .now = now, .app = app, .key = key}};
    store_rc rc = store_write(st, auth_first_tx, &op);
    *created = rc == STORE_OK && op.created;
    if (rc != STORE_OK)
        return rc;
    return op.found ? STORE_OK : STORE_NOTFOUND;
}

/* STORE_NOTFOUND: no such app (rolled back, nothing changed). */
static store_rc auth_rotate_tx(store_tx *tx, void *arg)
{
    auth_app_op *op = arg;
    store_rc rc = store_app_get(tx, op->app_id, op->app);
    if (rc == STORE_OK)
        rc = store_key_delete_all(tx, op->app_id);
    if (rc == STORE_OK)
        rc = auth_key_add(tx, op->key, op->app_id, op->now);
    return rc;
}

store_rc auth_app_rotate(store *st, const char *app_id, int64_t now, store_app *app,
                         store_key *key)
{
    auth_app_op op = {.app_id = app_id, .now = now, .app = app, .key = key};
    return store_write(st, auth_rotate_tx, &op);
}

static store_rc auth_delete_tx(store_tx *tx, void *arg)
{
    auth_app_op *op = arg;
    store_rc rc = store_app_get(tx, op->app_id, op->app);
    if (rc == STORE_OK)
        rc = store_app_delete(tx, op->app_id);
    return rc;
}

store_rc auth_app_delete(store *st, const char *app_id)
{
    store_app app;
    auth_app_op op = {.app_id = app_id, .app = &app};
    return store_write(st, auth_delete_tx, &op);
}
