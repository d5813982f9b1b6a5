/* Apps (tenants) and their credentials: creating, rotating, deleting.
 * Used by `meetd app` and by the first start of an empty store. */
#ifndef MEETD_AUTH_APPS_H
#define MEETD_AUTH_APPS_H

#include <stdbool.h>

#include "store/store.h"

/* Each returns the store_rc of its one write transaction: STORE_OK, or
 * STORE_NOTFOUND where its comment says, or a failure (logged). */

/* sdk_id NULL: generate one; "": the app has none. Fills app and key. */
store_rc auth_app_create(store *st, const char *name, const char *sdk_id, int64_t now,
                         store_app *app, store_key *key);
/* A server's first look at its store, in one write: with no app at all,
 * creates the app `name` (*created true); else fills app and key with the
 * oldest app of that name and its newest key. Servers sharing a store and
 * starting together create one app between them. STORE_NOTFOUND when
 * there are apps but none named so (or it has no key). */
store_rc auth_app_first(store *st, const char *name, int64_t now, store_app *app,
                        store_key *key, bool *created);
/* A new key pair replaces every key of the app. STORE_NOTFOUND: no such
 * app (nothing changed). */
store_rc auth_app_rotate(store *st, const char *app_id, int64_t now, store_app *app,
                         store_key *key);
/* STORE_NOTFOUND: no such app. */
store_rc auth_app_delete(store *st, const char *app_id);

#endif
