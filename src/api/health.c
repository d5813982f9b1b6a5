/* GET /healthz: answers 200 only when the store answers.
 *
 * The store is asked at most once per API_HEALTH_PROBE_MS: an answer it
 * gave within that time answers for it. A load balancer's checks, or a
 * benchmark's 30,000 a second, then cost the store nothing, and the
 * answer is at most that old. A failed probe is never reused: until the
 * store answers again every check asks it. The body is a fixed text, sent
 * without a JSON tree. */
#include "api/api.h"

#include <stdatomic.h>

#include "common/ids.h"

#define API_HEALTH_PROBE_MS 100

/* When the store last answered (monotonic ms); INT64_MIN: never. Shared by
 * the request threads: a race costs at most one extra probe. */
static atomic_int_fast64_t api_health_ok_ms = INT64_MIN;

static store_rc api_health_tx(store_tx *tx, void *arg)
{
    int64_t n;
    return store_app_count(tx, &n);
}

void api_healthz(api_call *c)
{
    int64_t now = clock_mono_ms();
    int64_t ok = atomic_load_explicit(&api_health_ok_ms, memory_order_relaxed);
    if (ok == INT64_MIN || now - ok >= API_HEALTH_PROBE_MS) {
        if (store_read(c->env->st, api_health_tx, NULL) != STORE_OK) {
            atomic_store_explicit(&api_health_ok_ms, INT64_MIN, memory_order_relaxed);
            api_fail(c, ME_INTERNAL, "store unavailable");
            return;
        }
        atomic_store_explicit(&api_health_ok_ms, now, memory_order_relaxed);
    }
    c->out_text = "{\"status\":\"ok\"}";
}
