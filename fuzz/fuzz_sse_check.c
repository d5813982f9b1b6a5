/* What a device's event stream must look like on the wire (docs/api.md,
 * "Device event stream"), checked the way a client would read it: a line
 * break inside a value would split an event, so the framing is the thing
 * to get right, whatever a reason string holds. */
#include "fuzz.h"

#include <string.h>

#define SSE_HELLO ": meetd event stream\n\n"

static void need(bool ok, const char *what, const char *text, size_t len)
{
    if (!ok)
        fuzz_fail("event stream: %s; stream (%zu bytes): %.*s", what, len,
                  len > 2000 ? 2000 : (int)len, text);
}

static bool is_int(json_t *o, const char *key) { return json_is_integer(json_object_get(o, key)); }

static bool is_final(const char *name)
{
    return strcmp(name, "kicked") == 0 || strcmp(name, "replaced") == 0 ||
           strcmp(name, "meeting-ended") == 0;
}

/* The fields docs/api.md gives each event. */
static void check_fields(const char *name, json_t *data, const char *text, size_t len)
{
    need(json_is_object(data), "data is not a JSON object", text, len);
    need(is_int(data, "time"), "data has no integer time", text, len);
    size_t expect = 1;
    if (strcmp(name, "kicked") == 0) {
        json_t *op = json_object_get(data, "operator");
        need(json_is_string(json_object_get(data, "reason")), "kicked: reason", text, len);
        need(json_is_boolean(json_object_get(data, "allow_rejoin")), "kicked: allow_rejoin",
             text, len);
        need(json_is_object(op) && json_object_size(op) == 2 &&
                 json_is_string(json_object_get(op, "ms_open_id")) && is_int(op, "instanceid"),
             "kicked: operator{ms_open_id, instanceid}", text, len);
        expect = 4;
    } else if (strcmp(name, "role-changed") == 0) {
        const char *role = json_string_value(json_object_get(data, "role"));
        need(role != NULL && (strcmp(role, "cohost") == 0 || strcmp(role, "attendee") == 0),
             "role-changed: role is cohost or attendee", text, len);
        need(is_int(data, "user_role"), "role-changed: user_role", text, len);
        need(json_is_string(json_object_get(data, "meeting_id")), "role-changed: meeting_id",
             text, len);
        expect = 4;
    } else {
        need(is_final(name), "unknown event name", text, len);
    }
    need(json_object_size(data) == expect, "data has fields the docs do not name", text, len);
}

/* One "event: NAME\ndata: JSON" frame (without its closing blank line). */
static json_t *parse_event(const char *f, size_t n, const char *text, size_t len)
{
    static const char ev[] = "event: ";
    static const char da[] = "data: ";
    need(n > sizeof ev - 1 && memcmp(f, ev, sizeof ev - 1) == 0,
         "a frame is neither a comment nor \"event: \"", text, len);
    const char *nl = memchr(f, '\n', n);
    need(nl != NULL, "event without a data line", text, len);
    char name[32];
    size_t name_len = (size_t)(nl - f) - (sizeof ev - 1);
    need(name_len > 0 && name_len < sizeof name, "event name length", text, len);
    memcpy(name, f + sizeof ev - 1, name_len);
    name[name_len] = '\0';
    const char *d = nl + 1;
    size_t dn = n - (size_t)(d - f);
    need(dn > sizeof da - 1 && memcmp(d, da, sizeof da - 1) == 0, "no \"data: \" line", text, len);
    d += sizeof da - 1;
    dn -= sizeof da - 1;
    /* One data line: a line break in the JSON would end the value early
     * for the client (it would see two data fields joined by "\n"). */
    need(memchr(d, '\n', dn) == NULL && memchr(d, '\r', dn) == NULL,
         "the data value spans lines", text, len);
    json_error_t jerr;
    json_t *data = json_loadb(d, dn, JSON_REJECT_DUPLICATES, &jerr);
    need(data != NULL, "data is not JSON", text, len);
    check_fields(name, data, text, len);
    return json_pack("{s:s,s:o}", "event", name, "data", data);
}

/* A comment frame: a heartbeat (":"), or ": end REASON" with a reason
 * docs/api.md names; returns the reason, or NULL for a heartbeat. */
static const char *parse_comment(const char *f, size_t n, const char *text, size_t len)
{
    static const char *const reasons[] = {"left", "superseded", "shutdown"};
    static const char end[] = ": end ";
    need(memchr(f, '\n', n) == NULL, "a comment frame spans lines", text, len);
    if (n == 1)
        return NULL;
    need(n > sizeof end - 1 && memcmp(f, end, sizeof end - 1) == 0,
         "a comment is neither a heartbeat nor an end", text, len);
    for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
        if (n - (sizeof end - 1) == strlen(reasons[i]) &&
            memcmp(f + sizeof end - 1, reasons[i], strlen(reasons[i])) == 0)
            return reasons[i];
    need(false, "an end comment with a reason the docs do not name", text, len);
    return NULL;
}

json_t *fuzz_sse_check(const char *text, size_t len)
{
    size_t hl = strlen(SSE_HELLO);
    need(len >= hl && memcmp(text, SSE_HELLO, hl) == 0, "does not open with the comment", text,
         len);
    need(memchr(text, '\0', len) == NULL, "NUL byte in the stream", text, len);
    json_t *events = json_array();
    const char *end = NULL;
    bool over = false;           /* a final event or an end comment came */
    size_t i = hl;
    while (i < len) {
        need(!over, "bytes after the stream's last event or end comment", text, len);
        const char *f = text + i;
        const char *stop = memmem(f, len - i, "\n\n", 2);
        need(stop != NULL, "a frame is not closed by a blank line", text, len);
        size_t n = (size_t)(stop - f);
        if (n > 0 && f[0] == ':') {
            end = parse_comment(f, n, text, len);
            over = end != NULL;
        } else {
            json_t *ev = parse_event(f, n, text, len);
            over = is_final(json_string_value(json_object_get(ev, "event")));
            json_array_append_new(events, ev);
        }
        i += n + 2;
    }
    return json_pack("{s:o,s:s?}", "events", events, "end", end);
}
