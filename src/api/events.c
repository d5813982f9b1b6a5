/* GET /meetd/v1/events?device_token=...: a device's event stream. The token
 * alone authorises it (devices hold no app secret). */
#include "api/api.h"

#include <string.h>

#include "common/ids.h"
#include "live/live.h"

void api_events(api_call *c)
{
    const char *token = c->query(c->io, "device_token");
    size_t len = token != NULL ? strnlen(token, CORE_TOKEN_MAX + 1) : 0;
    if (len == 0) {
        api_fail(c, ME_UNAUTHORIZED, "device_token is required");
        return;
    }
    /* A malformed token is answered as an unknown one: nothing tells a
     * prober which part was wrong. */
    int64_t device_no;
    const char *secret;
    if (len > CORE_TOKEN_MAX || !core_token_parse(token, len, &device_no, &secret)) {
        api_fail(c, ME_UNAUTHORIZED, "invalid or expired device_token");
        return;
    }
    uint8_t hash[32];
    if (ids_sha256(secret, CORE_TOKEN_SECRET_LEN, hash) != 0) {
        api_fail(c, ME_INTERNAL, NULL);
        return;
    }
    int rc = live_stream_open(c->env->live, device_no, hash, &c->stream);
    if (rc == 1)
        api_fail(c, ME_UNAUTHORIZED, "invalid or expired device_token");
    else if (rc != 0)
        api_fail(c, ME_INTERNAL, "cannot open the event stream");
}
