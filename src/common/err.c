#include "common/err.h"

#include <stdarg.h>
#include <stdio.h>

static const struct {
    int http;
    int code;
    const char *msg;
} err_table[ME__COUNT] = {
    [ME_OK] = {200, 0, "OK"},
    [ME_INVALID] = {400, 190004, "invalid parameter"},
    [ME_TOO_LARGE] = {413, 190004, "request body too large"},
    [ME_HEAD_TOO_LARGE] = {431, 190004, "request line and headers too large"},
    [ME_NOT_IN_PROGRESS] = {400, 190004, "meeting is not in progress"},
    [ME_ROUTE] = {404, 190004, "no such API"},
    [ME_METHOD] = {405, 190004, "method not allowed for this API"},
    [ME_NO_MEETING] = {400, 9003, "MEETING NOT EXIST"},
    [ME_BAD_MEETING_ID] = {400, 9002, "invalid meeting id"},
    [ME_FORBIDDEN] = {403, 9042, "no permission"},
    [ME_BANNED] = {403, 9101, "join refused: removed from this meeting with allow_rejoin=false"},
    /* Tencent's codes for cancel's and modify's refusals. Its table answers
     * the cancel ones with HTTP 500; meetd keeps 5xx for its own faults
     * (logs, metrics, alerts count them), and the SDKs treat every status
     * >= 300 alike. */
    [ME_CANCELLED] = {400, 9007, "meeting was cancelled"},
    [ME_NO_MODIFY] = {403, 9102, "no permission to modify the meeting"},
    [ME_STARTED] = {400, 13602, "a meeting that has started cannot be cancelled"},
    [ME_ENDED] = {400, 13603, "meeting has ended"},
    [ME_TS_SKEW] = {400, 190300, "X-TC-Timestamp is more than 300 seconds from server time"},
    [ME_REPLAY] = {400, 190301, "replayed request: X-TC-Timestamp and X-TC-Nonce already used"},
    [ME_UNAUTHORIZED] = {401, 190303, "authentication failed"},
    [ME_BAD_SIGNATURE] = {401, 200003, "Signature failed"},
    [ME_RATE_LIMITED] = {429, 190310, "rate limit exceeded"},
    /* The limit family's code, with the status that says whose limit it
     * is: 429 the client's own app's, 503 the server's. */
    [ME_STREAMS_APP] = {429, 190310, "too many event streams open for this app"},
    [ME_STREAMS_FULL] = {503, 190310, "event streams are at capacity"},
    /* Not a fault: the client may retry at once, on another node or on
     * this one once it is back. */
    [ME_STOPPING] = {503, 5108, "meetd is stopping; retry later"},
    [ME_INTERNAL] = {500, 5108, "internal error"},
};

static meetd_err err_clamp(meetd_err e)
{
    return ((unsigned)e < ME__COUNT) ? e : ME_INTERNAL;
}

int err_http_status(meetd_err e) { return err_table[err_clamp(e)].http; }
int err_code(meetd_err e) { return err_table[err_clamp(e)].code; }
long long err_new_code(meetd_err e) { return 200000000LL + err_table[err_clamp(e)].code; }
const char *err_default_message(meetd_err e) { return err_table[err_clamp(e)].msg; }

meetd_err err_set(meetd_error *out, meetd_err e, const char *fmt, ...)
{
    if (out == NULL)
        return e;
    out->err = e;
    if (fmt == NULL) {
        snprintf(out->msg, sizeof out->msg, "%s", err_default_message(e));
    } else {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(out->msg, sizeof out->msg, fmt, ap);
        va_end(ap);
    }
    return e;
}
