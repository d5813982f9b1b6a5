/* fuzz_webhook: the webhook encoders of src/live/webhook.c.
 *
 *   webhook_event_json   an event built from fuzzed meeting, users, reason,
 *                        times and trace id; the JSON is parsed back and
 *                        held field by field against docs/api.md "Events"
 *                        (user_name the base64 of the nick, instance_id a
 *                        string, to_operator/reason/allow_rejoin only when
 *                        kicked). It may fail only for an unknown event type
 *                        or a string that is not UTF-8.
 *   webhook_signature    against a reference (own bytewise sort, one-shot
 *                        SHA-1), over the delivery's real data (base64 of
 *                        the event) or fuzzed strings.
 *   webhook_token_valid  against its documented rule, exactly.
 *   webhook_url_valid    against what it promises (scheme, length, bytes).
 *   webhook_backoff_ms   against base * 2^(attempts - 1) capped at max.
 *
 * Input (fuzz_bytes.c): flags, then the values in the order read below. */
#include "fuzz.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <openssl/evp.h>

#include "live/webhook.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static core_meeting meeting;   /* large: kept off the stack */

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    fuzz_world_init();         /* curl (webhook_url_valid) */
    return 0;
}

/* ---- the event JSON ----------------------------------------------------------- */

static void read_user(fuzz_bytes *b, core_user *u)
{
    memset(u, 0, sizeof *u);
    fuzz_str(b, u->userid, sizeof u->userid);
    fuzz_str(b, u->guest_id, sizeof u->guest_id);
    fuzz_str(b, u->uuid, sizeof u->uuid);
    fuzz_str(b, u->ms_open_id, sizeof u->ms_open_id);
    fuzz_str(b, u->nick_name, sizeof u->nick_name);
}

static bool utf8_ok(const char *s)
{
    json_t *j = json_string(s);
    json_decref(j);
    return j != NULL;
}

/* Strings a person object carries as JSON strings (the nick goes base64). */
static bool person_ok(const core_user *u, const char *userid)
{
    if (u == NULL)
        return userid == NULL || utf8_ok(userid);
    return utf8_ok(u->userid) && utf8_ok(u->uuid) && utf8_ok(u->ms_open_id) &&
           (u->guest_id[0] == '\0' || utf8_ok(u->guest_id));
}

static void want_str(json_t *o, const char *key, const char *want, const char *where)
{
    const char *got = json_string_value(json_object_get(o, key));
    if (got == NULL || strcmp(got, want) != 0)
        fuzz_fail("%s.%s is \"%s\", should be \"%s\"", where, key, got ? got : "(absent)", want);
}

static void want_int(json_t *o, const char *key, long long want, const char *where)
{
    json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) != want)
        fuzz_fail("%s.%s should be %lld", where, key, want);
}

static void check_person(json_t *p, const core_user *u, const char *userid, int instanceid,
                         const char *where)
{
    if (!json_is_object(p))
        fuzz_fail("%s is not an object", where);
    const char *nick = u != NULL ? u->nick_name : "";
    char b64[4 * ((CORE_NICK_MAX + 2) / 3) + 1];
    fuzz_base64(nick, strlen(nick), b64);
    char inst[16];
    snprintf(inst, sizeof inst, "%d", instanceid);
    want_str(p, "userid", u != NULL ? u->userid : (userid != NULL ? userid : ""), where);
    want_str(p, "uuid", u != NULL ? u->uuid : "", where);
    want_str(p, "ms_open_id", u != NULL ? u->ms_open_id : "", where);
    want_str(p, "user_name", b64, where);
    want_str(p, "instance_id", inst, where);
    bool guest = u != NULL && u->guest_id[0] != '\0';
    if (guest)
        want_str(p, "guest_id", u->guest_id, where);
    if (json_object_size(p) != (guest ? 6u : 5u))
        fuzz_fail("%s has fields the docs do not name", where);
}

static void check_meeting(json_t *m)
{
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)meeting.meeting_id);
    want_str(m, "meeting_id", id, "meeting_info");
    want_str(m, "meeting_code", meeting.meeting_code, "meeting_info");
    want_str(m, "subject", meeting.subject, "meeting_info");
    want_int(m, "meeting_type", meeting.meeting_type, "meeting_info");
    want_int(m, "start_time", meeting.start_time, "meeting_info");
    want_int(m, "end_time", meeting.end_time, "meeting_info");
    if (json_object_size(m) != 6)
        fuzz_fail("meeting_info has fields the docs do not name");
}

static bool is_trace(const char *s)
{
    if (s == NULL || strlen(s) != 32)
        return false;
    for (int i = 0; i < 32; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

static void check_event(const char *text, const webhook_event *ev)
{
    json_error_t jerr;
    json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL)
        fuzz_fail("webhook_event_json is not JSON: %s", jerr.text);
    want_str(root, "event", webhook_event_name(ev->type), "event");
    const char *trace = json_string_value(json_object_get(root, "trace_id"));
    if (ev->trace_id != NULL && ev->trace_id[0] != '\0')
        want_str(root, "trace_id", ev->trace_id, "event");
    else if (!is_trace(trace))
        fuzz_fail("a generated trace_id is not 32 lowercase hex: %s", trace ? trace : "(none)");
    json_t *payload = json_object_get(root, "payload");
    if (!json_is_array(payload) || json_array_size(payload) != 1 || json_object_size(root) != 3)
        fuzz_fail("event must be {event, trace_id, payload: [one item]}");
    json_t *item = json_array_get(payload, 0);
    want_int(item, "operate_time", ev->time_ms, "payload");
    check_person(json_object_get(item, "operator"), ev->user, ev->operator_userid,
                 ev->instanceid, "operator");
    check_meeting(json_object_get(item, "meeting_info"));
    bool kicked = ev->type == WEBHOOK_PARTICIPANT_KICKED;
    if (kicked) {
        check_person(json_object_get(item, "to_operator"), ev->to_user, NULL, ev->to_instanceid,
                     "to_operator");
        want_str(item, "reason", ev->reason != NULL ? ev->reason : "", "payload");
        if (json_is_true(json_object_get(item, "allow_rejoin")) != ev->allow_rejoin ||
            !json_is_boolean(json_object_get(item, "allow_rejoin")))
            fuzz_fail("payload.allow_rejoin is wrong");
    }
    if (json_object_size(item) != (kicked ? 6u : 3u))
        fuzz_fail("payload item has fields the docs do not name for this event");
    json_decref(root);
}

/* Builds the event from the input; returns its JSON (or NULL) after checking
 * it. */
static char *event_json(fuzz_bytes *b)
{
    static core_user user, to_user;
    static char op_userid[CORE_ID_MAX + 1], reason[CORE_REASON_MAX + 1], trace[CORE_REQID_MAX + 1];
    uint8_t f = fuzz_u8(b);
    memset(&meeting, 0, sizeof meeting);
    snprintf(meeting.app_id, sizeof meeting.app_id, "%s", fuzz_key_default.app_id);
    meeting.meeting_id = (int64_t)fuzz_u64(b);
    fuzz_str(b, meeting.meeting_code, sizeof meeting.meeting_code);
    fuzz_str(b, meeting.subject, sizeof meeting.subject);
    meeting.meeting_type = (int)fuzz_u32(b);
    meeting.start_time = (int64_t)fuzz_u64(b);
    meeting.end_time = (int64_t)fuzz_u64(b);

    webhook_event ev = {.meeting = &meeting};
    /* 3 is no event type; so is anything past the enum. */
    ev.type = (webhook_event_type)((f & 3) == 3 ? 3 + (int)fuzz_u8(b) : (f & 3));
    if (f & 4) {
        read_user(b, &user);
        ev.user = &user;
    }
    if (f & 8) {
        fuzz_str(b, op_userid, sizeof op_userid);
        ev.operator_userid = op_userid;
    }
    ev.instanceid = (int)fuzz_u32(b);
    if (f & 16) {
        read_user(b, &to_user);
        ev.to_user = &to_user;
    }
    ev.to_instanceid = (int)fuzz_u32(b);
    if (f & 32) {
        fuzz_str(b, reason, sizeof reason);
        ev.reason = reason;
    }
    ev.allow_rejoin = (f & 64) != 0;
    ev.time_ms = (int64_t)fuzz_u64(b);
    if (f & 128) {
        fuzz_str(b, trace, sizeof trace);
        ev.trace_id = trace;
    }

    char *json = webhook_event_json(&ev);
    bool known = webhook_event_name(ev.type) != NULL;
    bool kicked = ev.type == WEBHOOK_PARTICIPANT_KICKED;
    bool strings_ok = utf8_ok(meeting.meeting_code) && utf8_ok(meeting.subject) &&
                      (ev.trace_id == NULL || utf8_ok(ev.trace_id)) &&
                      person_ok(ev.user, ev.operator_userid) &&
                      (!kicked || (person_ok(ev.to_user, NULL) &&
                                   (ev.reason == NULL || utf8_ok(ev.reason))));
    if (json == NULL && known && strings_ok)
        fuzz_fail("webhook_event_json failed on a valid event (type %d)", (int)ev.type);
    if (json != NULL && !known)
        fuzz_fail("webhook_event_json built an event of unknown type %d", (int)ev.type);
    if (json != NULL)
        check_event(json, &ev);
    return json;
}

/* ---- signature ------------------------------------------------------------------ */

static int byte_cmp(const char *a, const char *b)
{
    const unsigned char *x = (const unsigned char *)a, *y = (const unsigned char *)b;
    while (*x != '\0' && *x == *y) {
        x++;
        y++;
    }
    return (*x > *y) - (*x < *y);
}

static void ref_signature(const char *parts_in[4], char out[41])
{
    const char *p[4] = {parts_in[0], parts_in[1], parts_in[2], parts_in[3]};
    for (int i = 1; i < 4; i++)
        for (int j = i; j > 0 && byte_cmp(p[j - 1], p[j]) > 0; j--) {
            const char *t = p[j];
            p[j] = p[j - 1];
            p[j - 1] = t;
        }
    size_t n = 0;
    for (int i = 0; i < 4; i++)
        n += strlen(p[i]);
    char *cat = malloc(n + 1);
    if (cat == NULL)
        fuzz_fail("out of memory");
    cat[0] = '\0';
    for (int i = 0; i < 4; i++)
        strcat(cat, p[i]);
    unsigned char md[20];
    unsigned int len = 0;
    if (EVP_Digest(cat, n, md, &len, EVP_sha1(), NULL) != 1 || len != 20)
        fuzz_fail("reference SHA-1 failed");
    free(cat);
    for (int i = 0; i < 20; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
}

static void check_signature(fuzz_bytes *b, const char *json)
{
    char token[STORE_TOKEN_MAX + 1], ts[32], nonce[32], text[256];
    fuzz_str(b, token, sizeof token);
    fuzz_str(b, ts, sizeof ts);
    fuzz_str(b, nonce, sizeof nonce);
    fuzz_str(b, text, sizeof text);
    /* The data a delivery signs is the base64 of the event. */
    char *data = NULL;
    if (json != NULL) {
        size_t n = strlen(json);
        data = malloc(4 * ((n + 2) / 3) + 1);
        if (data == NULL)
            fuzz_fail("out of memory");
        fuzz_base64(json, n, data);
    }
    const char *parts[4] = {token, ts, nonce, data != NULL ? data : text};
    char got[41], want[41];
    if (webhook_signature(parts[0], parts[1], parts[2], parts[3], got) != 0)
        fuzz_fail("webhook_signature failed");
    ref_signature(parts, want);
    if (strcmp(got, want) != 0)
        fuzz_fail("webhook_signature gives %s, the reference %s", got, want);
    free(data);
}

/* ---- validators and backoff ----------------------------------------------------- */

static bool printable_no_space(const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        if (*p <= ' ' || *p >= 0x7f)
            return false;
    return true;
}

static void check_token(const char *t)
{
    size_t n = strlen(t);
    bool want = n >= 1 && n <= STORE_TOKEN_MAX && printable_no_space(t);
    if (webhook_token_valid(t) != want)
        fuzz_fail("webhook_token_valid(\"%s\") is %d", t, !want);
}

static void check_url(const char *url)
{
    if (!webhook_url_valid(url))
        return;
    size_t n = strlen(url);
    size_t scheme = strncasecmp(url, "http://", 7) == 0    ? 7
                    : strncasecmp(url, "https://", 8) == 0 ? 8
                                                           : 0;
    if (n > STORE_URL_MAX || scheme == 0 || !printable_no_space(url) ||
        strchr("/?#@", url[scheme]) != NULL)
        fuzz_fail("webhook_url_valid accepted \"%s\"", url);
}

static void check_backoff(fuzz_bytes *b)
{
    webhook_config cfg = {.max_attempts = 1, .timeout_ms = 1};
    cfg.backoff_base_ms = (int)(fuzz_u32(b) % INT_MAX) + 1;
    cfg.backoff_max_ms =
        cfg.backoff_base_ms + (int)(fuzz_u32(b) % ((uint32_t)INT_MAX - cfg.backoff_base_ms + 1));
    int attempts = (int)fuzz_u32(b);
    __int128 want = cfg.backoff_base_ms;
    if (attempts > 1)
        want = attempts - 1 >= 62 ? cfg.backoff_max_ms : want << (attempts - 1);
    if (want > cfg.backoff_max_ms)
        want = cfg.backoff_max_ms;
    int64_t got = webhook_backoff_ms(&cfg, attempts);
    if (got != (int64_t)want)
        fuzz_fail("webhook_backoff_ms(base %d, max %d, attempts %d) = %lld, want %lld",
                  cfg.backoff_base_ms, cfg.backoff_max_ms, attempts, (long long)got,
                  (long long)want);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_bytes b = {data, size};
    char *json = event_json(&b);
    check_signature(&b, json);
    free(json);
    check_backoff(&b);
    char token[STORE_TOKEN_MAX + 8];
    fuzz_str(&b, token, sizeof token);
    check_token(token);
    /* The URL is the rest of the input, so that it can pass the length bound. */
    char url[STORE_URL_MAX + 64];
    size_t n = b.n < sizeof url - 1 ? b.n : sizeof url - 1;
    memcpy(url, b.p, n);
    url[n] = '\0';
    check_url(url);
    return 0;
}
