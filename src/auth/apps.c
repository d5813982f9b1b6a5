#include "auth/apps.h"

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

int auth_app_create(store *st, const char *name, const char *sdk_id, int64_t now,
                    store_app *app, store_key *key)
{
    auth_app_op op = {.name = name, .sdk_id = sdk_id, .now = now, .app = app, .key = key};
    return store_write(st, auth_create_tx, &op) == STORE_OK ? 0 : -1;
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

/* The auth module's convention: 0 done, 1 no such app, -1 a failure. */
static int auth_result(store_rc rc)
{
    return rc == STORE_OK ? 0 : rc == STORE_NOTFOUND ? 1 : -1;
}

int auth_app_rotate(store *st, const char *app_id, int64_t now, store_app *app, store_key *key)
{
    auth_app_op op = {.app_id = app_id, .now = now, .app = app, .key = key};
    return auth_result(store_write(st, auth_rotate_tx, &op));
}

static store_rc auth_delete_tx(store_tx *tx, void *arg)
{
    auth_app_op *op = arg;
    store_rc rc = store_app_get(tx, op->app_id, op->app);
    if (rc == STORE_OK)
        rc = store_app_delete(tx, op->app_id);
    return rc;
}

int auth_app_delete(store *st, const char *app_id)
{
    store_app app;
    auth_app_op op = {.app_id = app_id, .app = &app};
    return auth_result(store_write(st, auth_delete_tx, &op));
}
