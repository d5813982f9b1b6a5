/* GET /meetd/v1/events?device_token=...: a device's event stream. The token
 * alone authorises it (devices hold no app secret). HEAD answers what GET
 * would, without opening or ending a stream. */
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
    bool head = strcmp(c->method, "HEAD") == 0;
    live_open_rc rc = head ? live_stream_probe(c->env->live, device_no, hash)
                           : live_stream_open(c->env->live, device_no, hash, &c->stream);
    unsigned max_streams, per_app;
    live_stream_limits(c->env->live, &max_streams, &per_app);
    if (rc == LIVE_OPEN_OK)
        c->stream_head = head;
    else if (rc == LIVE_OPEN_UNKNOWN)
        api_fail(c, ME_UNAUTHORIZED, "invalid or expired device_token");
    else if (rc == LIVE_OPEN_APP_FULL)
        api_fail(c, ME_STREAMS_APP,
                 "too many event streams open for this app: at most %u at once "
                 "(--max-streams-per-app); close one or retry later", per_app);
    else if (rc == LIVE_OPEN_FULL)
        api_fail(c, ME_STREAMS_FULL,
                 "event streams are at capacity: at most %u at once, the other connections "
                 "are kept for API requests (--api-reserve); retry later", max_streams);
    else if (rc == LIVE_OPEN_STOPPING)
        api_fail(c, ME_STOPPING, "meetd is stopping: no new event stream; reconnect later");
    else
        api_fail(c, ME_INTERNAL, "cannot open the event stream");
}
