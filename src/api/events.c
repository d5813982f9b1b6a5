/* GET /meetd/v1/events?device_token=...: a device's event stream. The token
 * alone authorises it (devices hold no app secret). */
#include "api/api.h"

#include <string.h>

#include "common/ids.h"
#include "live/live.h"

#define API_TOKEN_MAX 128

void api_events(api_call *c)
{
    const char *token = c->query(c->io, "device_token");
    size_t len = token != NULL ? strlen(token) : 0;
    if (len == 0 || len > API_TOKEN_MAX) {
        api_fail(c, ME_UNAUTHORIZED, "device_token is required");
        return;
    }
    uint8_t hash[32];
    if (ids_sha256(token, len, hash) != 0) {
        api_fail(c, ME_INTERNAL, NULL);
        return;
    }
    int rc = live_stream_open(c->env->live, hash, &c->stream);
    if (rc == 1)
        api_fail(c, ME_UNAUTHORIZED, "invalid or expired device_token");
    else if (rc != 0)
        api_fail(c, ME_INTERNAL, "cannot open the event stream");
}
