/* GET /healthz: answers 200 only when the store answers. */
#include "api/api.h"

static store_rc api_health_tx(store_tx *tx, void *arg)
{
    int64_t n;
    return store_app_count(tx, &n);
}

void api_healthz(api_call *c)
{
    if (store_read(c->env->st, api_health_tx, NULL) != STORE_OK) {
        api_fail(c, ME_INTERNAL, "store unavailable");
        return;
    }
    api_out(c, json_pack("{s:s}", "status", "ok"));
}
