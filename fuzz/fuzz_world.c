/* The world the API fuzzers run in: a real SQLite store in a temp dir, the
 * two test apps, a live hub, and a fixture that every input meets as made.
 *
 * Handlers change the store, so without a fresh fixture an input's effect
 * would depend on every input before it (a dismissed meeting stays
 * dismissed), coverage would drift, and a crash could not be replayed alone.
 * A fixture (two meetings, eight joins, a co-host, a removal) is made
 * through the real handlers, again only after an input that may have
 * changed it. Every MEETD_FUZZ_RECYCLE fixtures the store is thrown away
 * and opened again, so that a long run does not grow it without bound. */
#include "fuzz.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "live/live.h"

#define FUZZ_VARS_MAX 32
#define FUZZ_VAR_NAME_MAX 12
#define FUZZ_RECYCLE_DEFAULT 1000
#define FUZZ_DIR_PREFIX "meetd-fuzz-"

typedef struct fuzz_var {
    char name[FUZZ_VAR_NAME_MAX + 1];
    char value[CORE_OPAQUE_MAX + 1];
} fuzz_var;

static struct {
    char dir[PATH_MAX];
    store *st;
    live_hub *live;
    api_env env;
    unsigned long fixtures;      /* fixtures made since the store was opened */
    unsigned long recycle;
    bool dirty;                  /* the last input may have changed the fixture */
    fuzz_var vars[FUZZ_VARS_MAX];
    int n_vars;
} W;

/* ---- the temp dir ---------------------------------------------------------- */

static void remove_dir(const char *dir)
{
    DIR *d = opendir(dir);
    if (d == NULL)
        return;
    struct dirent *e;
    char path[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        unlink(path);
    }
    closedir(d);
    rmdir(dir);
}

/* A crashed run cannot clean up after itself; the next one removes the dirs
 * of processes that are gone (the pid is in the name). */
static void remove_stale_dirs(const char *base)
{
    DIR *d = opendir(base);
    if (d == NULL)
        return;
    struct dirent *e;
    char path[PATH_MAX];
    while ((e = readdir(d)) != NULL) {
        size_t plen = strlen(FUZZ_DIR_PREFIX);
        if (strncmp(e->d_name, FUZZ_DIR_PREFIX, plen) != 0)
            continue;
        long pid = strtol(e->d_name + plen, NULL, 10);
        if (pid <= 0 || (kill((pid_t)pid, 0) != 0 && errno == ESRCH)) {
            snprintf(path, sizeof path, "%s/%s", base, e->d_name);
            remove_dir(path);
        }
    }
    closedir(d);
}

static const char *temp_base(void)
{
    /* tmpfs: the store's fsyncs cost nothing there. */
    if (access("/dev/shm", W_OK) == 0)
        return "/dev/shm";
    const char *t = getenv("TMPDIR");
    return t != NULL && t[0] != '\0' ? t : "/tmp";
}

/* ---- store and hub ------------------------------------------------------- */

static int apps_tx(store_tx *tx, void *arg)
{
    const fuzz_key *keys[] = {&fuzz_key_default, &fuzz_key_sdk};
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        store_app app;
        store_key key;
        memset(&app, 0, sizeof app);
        memset(&key, 0, sizeof key);
        snprintf(app.app_id, sizeof app.app_id, "%s", keys[i]->app_id);
        snprintf(app.sdk_id, sizeof app.sdk_id, "%s", keys[i]->sdk_id);
        snprintf(app.name, sizeof app.name, "fuzz-%zu", i + 1);
        app.created_at = FUZZ_NOW;
        snprintf(key.secret_id, sizeof key.secret_id, "%s", keys[i]->secret_id);
        snprintf(key.secret_key, sizeof key.secret_key, "%s", keys[i]->secret_key);
        snprintf(key.app_id, sizeof key.app_id, "%s", keys[i]->app_id);
        key.created_at = FUZZ_NOW;
        if (store_app_insert(tx, &app) != STORE_OK || store_key_insert(tx, &key) != STORE_OK)
            return -1;
    }
    return 0;
}

static void world_open(void)
{
    const char *base = temp_base();
    remove_stale_dirs(base);
    /* SQLite's statement journals and sort spills are temp files: on tmpfs
     * too, or they cost more than the rest of an input together. */
    setenv("SQLITE_TMPDIR", base, 0);
    snprintf(W.dir, sizeof W.dir, "%s/" FUZZ_DIR_PREFIX "%ld-XXXXXX", base, (long)getpid());
    if (mkdtemp(W.dir) == NULL)
        fuzz_fail("cannot create a temp dir under %s: %s", base, strerror(errno));
    /* NORMAL: a fuzzer has no use for durability against power loss. */
    store_options so = {.data_dir = W.dir, .durability = STORE_DURABLE_NORMAL};
    if (store_open(&so, &W.st) != 0)
        fuzz_fail("store_open(%s) failed: %s", W.dir, fuzz_last_error());
    if (store_write(W.st, apps_tx, NULL) != 0)
        fuzz_fail("cannot create the test apps: %s", fuzz_last_error());
    /* Heartbeats are far away, and no presence sweeper runs: nothing but
     * the input writes to the store while it runs (else inputs would
     * depend on timing). */
    live_config lc = {.heartbeat_ms = 1000000000};
    if (live_hub_new(&lc, W.st, NULL, NULL, &W.live) != 0)
        fuzz_fail("live_hub_new failed");
    W.env = (api_env){.st = W.st, .live = W.live};
    W.fixtures = 0;
    W.dirty = true;
}

static void world_close(void)
{
    if (W.st == NULL)
        return;
    live_hub_free(W.live);
    store_close(W.st);
    W.live = NULL;
    W.st = NULL;
    remove_dir(W.dir);
}

void fuzz_world_init(void)
{
    if (W.st != NULL)
        return;
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK || auth_init() != 0)
        fuzz_fail("cannot initialise curl or the signer");
    const char *r = getenv("MEETD_FUZZ_RECYCLE");
    W.recycle = r != NULL && atol(r) > 0 ? (unsigned long)atol(r) : FUZZ_RECYCLE_DEFAULT;
    world_open();
    atexit(world_close);
}

const api_env *fuzz_world_env(void) { return &W.env; }

/* ---- the fixture ------------------------------------------------------------ */

static const char *var_value(const char *name, size_t n)
{
    for (int i = 0; i < W.n_vars; i++)
        if (strlen(W.vars[i].name) == n && memcmp(W.vars[i].name, name, n) == 0)
            return W.vars[i].value;
    return NULL;
}

static void set_var(const char *name, const char *value)
{
    if (W.n_vars == FUZZ_VARS_MAX)
        fuzz_fail("fixture: too many variables");
    fuzz_var *v = &W.vars[W.n_vars++];
    snprintf(v->name, sizeof v->name, "%s", name);
    snprintf(v->value, sizeof v->value, "%s", value);
}

static const char *no_lookup(void *io, const char *name) { return NULL; }

json_t *fuzz_world_direct(api_handler h, const char *param0, const char *text)
{
    size_t body_len;
    char *body = fuzz_subst(text, strlen(text), &body_len);
    api_call c;
    memset(&c, 0, sizeof c);
    c.env = &W.env;
    c.method = "POST";
    c.path = "/fixture";
    c.raw_uri = "/fixture";
    c.body = body;
    c.body_len = body_len;
    c.trace_id = "f0220000000000000000000000000000";
    c.header = no_lookup;
    c.query = no_lookup;
    c.now = FUZZ_NOW;
    if (param0 != NULL) {
        c.n_param = 1;
        snprintf(c.param[0], sizeof c.param[0], "%s", param0);
    }
    snprintf(c.app_id, sizeof c.app_id, "%s", fuzz_key_default.app_id);
    h(&c);
    if (c.err.err != ME_OK)
        fuzz_fail("fixture: %s failed: %s (%s)", body, c.err.msg, fuzz_last_error());
    free(body);
    /* The answer as a tree, however the handler built it (api_out_text). */
    int status;
    json_t *out = api_response_body(&c, &status);
    json_decref(c.out);
    free(c.out_json);
    return out;
}

static const char *json_str(json_t *o, const char *key)
{
    const char *s = json_string_value(json_object_get(o, key));
    if (s == NULL)
        fuzz_fail("fixture: answer without %s", key);
    return s;
}

static void create_meeting(const char *var, const char *body)
{
    json_t *out = fuzz_world_direct(api_meeting_create, NULL, body);
    json_t *info = json_array_get(json_object_get(out, "meeting_info_list"), 0);
    set_var(var, json_str(info, "meeting_id"));
    json_decref(out);
}

/* Joins and names the device's ids prefix+"ms"/"uuid"/"tok"+n. */
static void join(const char *meeting_var, const char *prefix, int n, const char *body)
{
    const char *mid = var_value(meeting_var, strlen(meeting_var));
    json_t *out = fuzz_world_direct(api_join, mid, body);
    char name[FUZZ_VAR_NAME_MAX + 1];
    snprintf(name, sizeof name, "%sms%d", prefix, n);
    set_var(name, json_str(out, "ms_open_id"));
    snprintf(name, sizeof name, "%suuid%d", prefix, n);
    set_var(name, json_str(out, "uuid"));
    snprintf(name, sizeof name, "%stok%d", prefix, n);
    set_var(name, json_str(out, "device_token"));
    if (prefix[0] == 'R' && n == 1)
        set_var("Rsub", json_str(out, "sub_meeting_id"));
    json_decref(out);
}

typedef struct hooks_reset {
    int64_t ids[64];
    int n;
    store_webhook w;
} hooks_reset;

static int hook_id(const store_webhook *w, void *arg)
{
    hooks_reset *h = arg;
    if (h->n == (int)(sizeof h->ids / sizeof h->ids[0]))
        return 1;
    h->ids[h->n++] = w->webhook_id;
    return 0;
}

/* The default app ends up with exactly one webhook, so that every join and
 * removal writes one outbox row (webhook_enqueue, webhook_event_json). */
static int hooks_tx(store_tx *tx, void *arg)
{
    hooks_reset *h = arg;
    const char *apps[] = {fuzz_key_default.app_id, fuzz_key_sdk.app_id};
    for (size_t a = 0; a < sizeof apps / sizeof apps[0]; a++) {
        h->n = 0;
        int rc = store_webhook_list(tx, apps[a], hook_id, h);
        if (rc != STORE_OK && rc != 1)
            return -1;
        for (int i = 0; i < h->n; i++)
            if (store_webhook_delete(tx, apps[a], h->ids[i]) != STORE_OK)
                return -1;
    }
    memset(&h->w, 0, sizeof h->w);
    snprintf(h->w.app_id, sizeof h->w.app_id, "%s", fuzz_key_default.app_id);
    snprintf(h->w.url, sizeof h->w.url, "http://127.0.0.1:9/fuzz");
    snprintf(h->w.token, sizeof h->w.token, "fuzztoken");
    h->w.created_at = FUZZ_NOW * 1000;
    return store_webhook_insert(tx, &h->w) == STORE_OK ? 0 : -1;
}

static void world_fixture(void)
{
    W.n_vars = 0;
    hooks_reset h;
    if (store_write(W.st, hooks_tx, &h) != 0)
        fuzz_fail("fixture: cannot reset the webhooks: %s", fuzz_last_error());
    char id[24];
    snprintf(id, sizeof id, "%lld", (long long)h.w.webhook_id);
    set_var("hook", id);

    create_meeting("Q", "{\"userid\":\"alice\",\"instanceid\":1,\"subject\":\"fuzz\",\"type\":1}");
    join("Q", "", 1, "{\"userid\":\"alice\",\"instanceid\":1}");
    join("Q", "", 2, "{\"userid\":\"bob\",\"nick_name\":\"Bob\",\"instanceid\":2}");
    join("Q", "", 3, "{\"guest_id\":\"g1\",\"instanceid\":3}");
    join("Q", "", 4, "{\"userid\":\"carol\",\"instanceid\":9}");
    /* State a single request cannot build and then read back: a co-host,
     * and a removed and banned user with its audit row. */
    json_decref(fuzz_world_direct(api_cohosts, var_value("Q", 1),
        "{\"operator_id\":\"alice\",\"operator_id_type\":1,\"instanceid\":1,\"action\":true,"
        "\"user\":{\"uuid\":\"{uuid2}\",\"instanceid\":2}}"));
    join("Q", "", 5, "{\"userid\":\"mallory\",\"nick_name\":\"M\",\"instanceid\":2}");
    json_decref(fuzz_world_direct(api_kickout, var_value("Q", 1),
        "{\"operator_id\":\"alice\",\"operator_id_type\":1,\"instanceid\":1,"
        "\"allow_rejoin\":false,\"reason\":\"fixture\","
        "\"users\":[{\"uuid\":\"{uuid5}\",\"instanceid\":2}]}"));

    /* A series is scheduled (type 0: a quick meeting cannot recur), its
     * first occurrence under way at the fuzzers' fixed clock. */
    char series[400];
    snprintf(series, sizeof series,
             "{\"userid\":\"alice\",\"instanceid\":1,\"subject\":\"series\",\"type\":0,"
             "\"start_time\":\"%lld\",\"end_time\":\"%lld\","
             "\"hosts\":[{\"userid\":\"alice\"},{\"userid\":\"bob\"}],"
             "\"meeting_type\":1,\"recurring_rule\":{\"recurring_type\":0,"
             "\"until_type\":1,\"until_count\":3}}",
             (long long)FUZZ_NOW - 600, (long long)FUZZ_NOW + 3000);
    create_meeting("R", series);
    join("R", "R", 1, "{\"userid\":\"alice\",\"instanceid\":1}");
    join("R", "R", 2, "{\"userid\":\"bob\",\"instanceid\":2}");
}

void fuzz_world_begin(void)
{
    fuzz_clear_error();
    if (!W.dirty)
        return;
    if (W.fixtures >= W.recycle) {
        world_close();
        world_open();
    }
    W.fixtures++;
    world_fixture();
    W.dirty = false;
}

bool fuzz_world_owned(const char *id)
{
    static const char *const owned[] = {"Q", "R", "hook"};
    for (size_t i = 0; i < sizeof owned / sizeof owned[0]; i++) {
        const char *v = var_value(owned[i], strlen(owned[i]));
        if (v != NULL && strcmp(v, id) == 0)
            return true;
    }
    return false;
}

/* ---- placeholders ------------------------------------------------------------ */

char *fuzz_subst(const char *text, size_t len, size_t *out_len)
{
    /* Every value is at most CORE_OPAQUE_MAX bytes and replaces at least
     * three ("{Q}"), so this bounds the result. */
    size_t cap = len + (len / 3 + 1) * CORE_OPAQUE_MAX + 1;
    char *out = malloc(cap);
    if (out == NULL)
        fuzz_fail("out of memory");
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '{') {
            size_t max = len - i - 1 < FUZZ_VAR_NAME_MAX + 1 ? len - i - 1 : FUZZ_VAR_NAME_MAX + 1;
            const char *close = memchr(text + i + 1, '}', max);
            const char *v = close != NULL ? var_value(text + i + 1, (size_t)(close - text - i - 1))
                                          : NULL;
            if (v != NULL) {
                size_t vn = strlen(v);
                memcpy(out + o, v, vn);
                o += vn;
                i = (size_t)(close - text);
                continue;
            }
        }
        out[o++] = text[i];
    }
    out[o] = '\0';
    *out_len = o;
    return out;
}

/* ---- checks after a call ----------------------------------------------------- */

static char *read_stream(live_stream *s, size_t *len)
{
    size_t cap = 1024, n = 0;
    char *text = malloc(cap);
    if (text == NULL)
        fuzz_fail("out of memory");
    for (;;) {
        if (cap - n < 512) {
            cap *= 2;
            text = realloc(text, cap);
            if (text == NULL)
                fuzz_fail("out of memory");
        }
        ssize_t got = live_stream_read(s, n, text + n, cap - n - 1);
        if (got < 0)
            break;
        /* Without a connection the stream cannot suspend: 0 would mean it
         * tried to, on a NULL connection. */
        if (got == 0)
            fuzz_fail("live_stream_read returned 0 on a stream without a connection");
        n += (size_t)got;
    }
    text[n] = '\0';
    *len = n;
    return text;
}

typedef struct join_check {
    int64_t meeting_id;
    const char *ms_open_id;
    bool found;
    bool banned;
} join_check;

static int join_check_tx(store_tx *tx, void *arg)
{
    join_check *j = arg;
    core_user u;
    int rc = store_user_get(tx, j->meeting_id, CORE_ID_MS_OPEN_ID, j->ms_open_id, &u);
    if (rc == STORE_NOTFOUND)
        return 0;
    j->found = true;
    return rc == STORE_OK && store_ban_exists(tx, j->meeting_id, u.user_no, &j->banned) == STORE_OK
               ? 0
               : -1;
}

static void check_join_of(const api_call *c, json_t *out);

/* Only a join answers with a device_token: the user it admitted must exist
 * and must not be banned (docs/api.md: a banned user cannot join from any
 * device until the ban is lifted). */
static void check_join(const api_call *c)
{
    if (c->err.err != ME_OK || c->n_param < 1)
        return;
    int status;
    json_t *out = api_response_body(c, &status);
    const char *token = json_string_value(json_object_get(out, "device_token"));
    if (token == NULL) {
        json_decref(out);
        return;
    }
    check_join_of(c, out);
    json_decref(out);
}

static void check_join_of(const api_call *c, json_t *out)
{
    join_check j = {.ms_open_id = json_string_value(json_object_get(out, "ms_open_id"))};
    if (j.ms_open_id == NULL || core_parse_meeting_id(c->param[0], &j.meeting_id) != ME_OK)
        fuzz_fail("a join answered 200 without a ms_open_id or a meeting id");
    if (store_read(W.st, join_check_tx, &j) != 0)
        fuzz_fail("cannot read back a join: %s", fuzz_last_error());
    if (!j.found || j.banned)
        fuzz_fail("a join answered 200 for %s, who is %s", j.ms_open_id,
                  j.found ? "banned from the meeting" : "not in the meeting");
}

/* s with every byte outside printable ASCII as \xNN: a message can hold
 * anything the client sent. */
static const char *escaped(const char *s)
{
    static char buf[4 * MEETD_ERRMSG_MAX + 1];
    size_t o = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < sizeof buf; p++) {
        if (*p >= 0x20 && *p < 0x7f && *p != '\\')
            buf[o++] = (char)*p;
        else
            o += (size_t)snprintf(buf + o, sizeof buf - o, "\\x%02x", *p);
    }
    buf[o] = '\0';
    return buf;
}

void fuzz_call_finish(api_call *c)
{
    check_join(c);
    if (c->stream != NULL) {
        size_t len;
        char *text = read_stream(c->stream, &len);
        live_stream_close(c->stream);
        c->stream = NULL;
        json_t *ev = fuzz_sse_check(text, len);
        json_decref(ev);
        free(text);
    }
    int status = 0;
    json_t *body = api_response_body(c, &status);
    if (body == NULL && !fuzz_ignored("encode"))
        fuzz_fail("the response cannot be built, so the server would send a 500 instead of "
                  "%d (error %d, message \"%s\")", status, (int)c->err.err, escaped(c->err.msg));
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    if (body != NULL && text == NULL)
        fuzz_fail("the response cannot be encoded (status %d)", status);
    /* MEETD_FUZZ_SHOW=1: what each input got, to see where seeds go. */
    const char *show = getenv("MEETD_FUZZ_SHOW");
    if (show != NULL && strcmp(show, "1") == 0)
        fprintf(stderr, "%s %s -> %d %s\n", c->method, c->path, status, text ? text : "(none)");
    /* A failed request changes nothing (docs/api.md, "Errors") and a GET
     * changes nothing either: the fixture can serve the next input as it
     * is. Anything else makes a new one. */
    if (c->err.err == ME_OK && strcmp(c->method, "GET") != 0)
        W.dirty = true;
    if (c->err.err == ME_INTERNAL && !fuzz_ignored("internal"))
        fuzz_fail("internal error (500) for client input: \"%s\"; last log line: \"%s\"",
                  escaped(c->err.msg), fuzz_last_error());
    free(text);
    json_decref(body);
    json_decref(c->out);
    c->out = NULL;
    free(c->out_json);
    c->out_json = NULL;
}
