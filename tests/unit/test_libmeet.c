/* libmeet: signing against the contract's vectors, the headers it sends,
 * nonces, profiles, error bodies, the event-stream parser, and the transport
 * against a small HTTP server on a loopback port (headers as received,
 * connection reuse, many threads on one client, event streams). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "client/client_int.h"
#include "libmeet.h"
#include "vectors.h"

#define VEC_SECRET_ID "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE"
#define VEC_SECRET_KEY "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"

/* ---- vectors ------------------------------------------------------------------------- */

static void test_sign_vectors(void **state)
{
    json_t *root = load_vectors();
    size_t i;
    json_t *v;
    json_array_foreach(json_object_get(root, "vectors"), i, v) {
        const char *body = vstr(v, "body");
        char sig[MEET_SIGNATURE_LEN + 1];
        assert_int_equal(meet_sign(vstr(v, "secret_key"), vstr(v, "method"), vstr(v, "secret_id"),
                                   vstr(v, "nonce"), vstr(v, "timestamp"), vstr(v, "uri"), body,
                                   strlen(body), sig),
                         MEET_OK);
        if (strcmp(sig, vstr(v, "signature")) != 0)
            fail_msg("vector %zu: signature %s, expected %s", i, sig, vstr(v, "signature"));

        /* One byte of the body more and the signature must change. */
        char *longer = NULL;
        assert_true(asprintf(&longer, "%s ", body) > 0);
        char other[MEET_SIGNATURE_LEN + 1];
        assert_int_equal(meet_sign(vstr(v, "secret_key"), vstr(v, "method"), vstr(v, "secret_id"),
                                   vstr(v, "nonce"), vstr(v, "timestamp"), vstr(v, "uri"), longer,
                                   strlen(longer), other),
                         MEET_OK);
        free(longer);
        assert_string_not_equal(sig, other);
    }
    assert_int_equal(i, json_array_size(json_object_get(root, "vectors")));
    json_decref(root);
}

static void test_sign_bad_arguments(void **state)
{
    char sig[MEET_SIGNATURE_LEN + 1];
    assert_int_equal(meet_sign(NULL, "GET", "id", "1", "1", "/", NULL, 0, sig), MEET_EINVAL);
    assert_string_equal(sig, "");
    assert_int_equal(meet_sign("k", "GET", "id", "1", "1", "/", NULL, 3, sig), MEET_EINVAL);
    assert_int_equal(meet_sign("k", "GET", "id", "1", "1", "/", NULL, 0, sig), MEET_OK);
    assert_int_equal(strlen(sig), MEET_SIGNATURE_LEN);
}

/* ---- headers ------------------------------------------------------------------------- */

static meet_client *new_client(const char *endpoint, const char *app_id, const char *sdk_id)
{
    meet_config cfg = {.endpoint = endpoint, .app_id = app_id, .sdk_id = sdk_id,
                       .secret_id = VEC_SECRET_ID, .secret_key = VEC_SECRET_KEY,
                       .timeout_ms = 20000};
    meet_client *c = NULL;
    meet_error err;
    if (meet_client_new(&cfg, &c, &err) != MEET_OK)
        fail_msg("meet_client_new: %s", err.message);
    return c;
}

/* The list as one string, lines separated by '|'. */
static char *join_list(const struct curl_slist *l)
{
    size_t n = 1;
    for (const struct curl_slist *p = l; p != NULL; p = p->next)
        n += strlen(p->data) + 1;
    char *s = calloc(1, n);
    assert_non_null(s);
    for (const struct curl_slist *p = l; p != NULL; p = p->next) {
        strcat(s, p->data);
        if (p->next != NULL)
            strcat(s, "|");
    }
    return s;
}

/* Vector 5 is the official Python SDK's kickout, AppId 200000001, no SdkId. */
static void test_headers_vector5(void **state)
{
    json_t *root = load_vectors();
    json_t *vectors = json_object_get(root, "vectors");
    json_t *v = json_array_get(vectors, json_array_size(vectors) - 1);
    meet_client *c = new_client("https://api.meeting.qq.com", "200000001", "");
    const char *body = vstr(v, "body");
    struct curl_slist *l = NULL;
    assert_int_equal(meet_headers_signed(c, vstr(v, "method"), vstr(v, "uri"), body, strlen(body),
                                         true, vstr(v, "timestamp"), vstr(v, "nonce"), NULL, &l),
                     MEET_OK);
    char *got = join_list(l);
    char *want = NULL;
    assert_true(asprintf(&want,
                         "X-TC-Key: %s|X-TC-Timestamp: %s|X-TC-Nonce: %s|X-TC-Signature: %s|"
                         "AppId: 200000001|X-TC-Registered: 1|Content-Type: application/json|"
                         "Expect:",
                         vstr(v, "secret_id"), vstr(v, "timestamp"), vstr(v, "nonce"),
                         vstr(v, "signature")) > 0);
    assert_string_equal(got, want);
    free(want);
    free(got);
    curl_slist_free_all(l);
    meet_client_free(c);
    json_decref(root);
}

static void test_headers_sdk_id_get_and_extra(void **state)
{
    meet_client *c = new_client("http://127.0.0.1:1", "app1", "sdk1");
    static const char *const extra[] = {"Prefer: return=representation", NULL};
    struct curl_slist *l = NULL;
    assert_int_equal(meet_headers_signed(c, "GET", "/v1/meetings/1?userid=a&instanceid=1", NULL,
                                         0, false, "1700000000", "42", extra, &l),
                     MEET_OK);
    char *got = join_list(l);
    char sig[MEET_SIGNATURE_LEN + 1];
    assert_int_equal(meet_sign(VEC_SECRET_KEY, "GET", VEC_SECRET_ID, "42", "1700000000",
                               "/v1/meetings/1?userid=a&instanceid=1", NULL, 0, sig),
                     MEET_OK);
    char *want = NULL;
    /* No body: no JSON Content-Type, and libcurl's own one is suppressed. */
    assert_true(asprintf(&want,
                         "X-TC-Key: %s|X-TC-Timestamp: 1700000000|X-TC-Nonce: 42|"
                         "X-TC-Signature: %s|AppId: app1|SdkId: sdk1|X-TC-Registered: 1|"
                         "Content-Type:|Expect:|Prefer: return=representation",
                         VEC_SECRET_ID, sig) > 0);
    assert_string_equal(got, want);
    free(want);
    free(got);
    curl_slist_free_all(l);

    /* A header line that would smuggle another one in is refused. */
    static const char *const bad[] = {"Prefer: x\r\nX-Evil: 1", NULL};
    l = NULL;
    assert_int_equal(meet_headers_signed(c, "GET", "/", NULL, 0, false, "1", "1", bad, &l),
                     MEET_EINVAL);
    assert_null(l);
    meet_client_free(c);
}

static void test_headers_no_app_id(void **state)
{
    meet_client *c = new_client("http://127.0.0.1:1", NULL, NULL);
    struct curl_slist *l = NULL;
    assert_int_equal(meet_headers_signed(c, "POST", "/v1/meetings", "{}", 2, true, "1", "2", NULL,
                                         &l),
                     MEET_OK);
    char *got = join_list(l);
    assert_null(strstr(got, "AppId"));
    assert_null(strstr(got, "SdkId"));
    assert_non_null(strstr(got, "Content-Type: application/json"));
    free(got);
    curl_slist_free_all(l);
    meet_client_free(c);
}

static void test_client_config(void **state)
{
    meet_client *c = NULL;
    meet_error err;
    meet_config cfg = {.endpoint = "ftp://x", .secret_id = "a", .secret_key = "b"};
    assert_int_equal(meet_client_new(&cfg, &c, &err), MEET_EINVAL);
    assert_null(c);
    cfg.endpoint = "http://h/x?y=1";
    assert_int_equal(meet_client_new(&cfg, &c, &err), MEET_EINVAL);
    cfg.endpoint = "http:///path";
    assert_int_equal(meet_client_new(&cfg, &c, &err), MEET_EINVAL);
    cfg.endpoint = "http://h";
    cfg.secret_key = NULL;
    assert_int_equal(meet_client_new(&cfg, &c, &err), MEET_EINVAL);
    cfg.secret_key = "b";
    cfg.app_id = "12\r\nX: y";
    assert_int_equal(meet_client_new(&cfg, &c, &err), MEET_EINVAL);
    cfg.app_id = "1";

    cfg.endpoint = "https://gw.example.com/meeting//";
    assert_int_equal(meet_client_new(&cfg, &c, &err), MEET_OK);
    assert_string_equal(c->base, "https://gw.example.com/meeting");
    assert_string_equal(c->base + c->prefix_off, "/meeting");
    meet_client_free(c);
    cfg.endpoint = "HTTP://127.0.0.1:8080/";
    assert_int_equal(meet_client_new(&cfg, &c, &err), MEET_OK);
    assert_string_equal(c->base + c->prefix_off, "");
    meet_client_free(c);
}

/* ---- nonces ------------------------------------------------------------------------------ */

static uint64_t now_ms(void)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    return (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
}

static uint64_t parse_nonce(const char *s)
{
    assert_int_equal(strlen(s), 19);
    assert_true(s[0] >= '1' && s[0] <= '9');
    for (const char *p = s; *p != '\0'; p++)
        assert_true(*p >= '0' && *p <= '9');
    return strtoull(s, NULL, 10);
}

static void test_nonce_format(void **state)
{
    uint64_t before = now_ms();
    char n[MEET_NONCE_MAX];
    meet_nonce(n);
    uint64_t after = now_ms();
    uint64_t v = parse_nonce(n);
    /* ms_timestamp * 1e6 + random: the millisecond part is the clock's. The
     * upper bound leaves room for the in-process counter's bumps. */
    assert_true(v / 1000000u >= before);
    assert_true(v / 1000000u <= after + 1000);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static void test_nonce_increasing(void **state)
{
    enum { N = 20000 };
    uint64_t last = 0;
    for (int i = 0; i < N; i++) {
        char n[MEET_NONCE_MAX];
        meet_nonce(n);
        uint64_t v = parse_nonce(n);
        assert_true(v > last);
        last = v;
    }
}

enum { NONCE_THREADS = 8, NONCES_PER_THREAD = 5000 };

static void *nonce_worker(void *arg)
{
    uint64_t *out = arg;
    for (int i = 0; i < NONCES_PER_THREAD; i++) {
        char n[MEET_NONCE_MAX];
        meet_nonce(n);
        out[i] = strtoull(n, NULL, 10);
    }
    return NULL;
}

static void test_nonce_unique_across_threads(void **state)
{
    uint64_t *all = calloc(NONCE_THREADS * NONCES_PER_THREAD, sizeof *all);
    assert_non_null(all);
    pthread_t t[NONCE_THREADS];
    for (int i = 0; i < NONCE_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, nonce_worker, all + i * NONCES_PER_THREAD), 0);
    for (int i = 0; i < NONCE_THREADS; i++)
        pthread_join(t[i], NULL);
    qsort(all, NONCE_THREADS * NONCES_PER_THREAD, sizeof *all, cmp_u64);
    for (size_t i = 1; i < NONCE_THREADS * NONCES_PER_THREAD; i++)
        if (all[i] == all[i - 1])
            fail_msg("nonce %llu handed out twice", (unsigned long long)all[i]);
    free(all);
}

/* ---- profiles ---------------------------------------------------------------------------- */

static void test_profile_meetd_format(void **state)
{
    /* Exactly what meetd writes to <data>/credentials. */
    const char *text = "MEETD_ENDPOINT=http://127.0.0.1:8080\n"
                       "MEETD_APP_ID=686481430\n"
                       "MEETD_SDK_ID=46474766952\n"
                       "MEETD_SECRET_ID=AKIDqkQbtRLKhorNTlnMKKjDCuRWz7HYlESm\n"
                       "MEETD_SECRET_KEY=VqwAsv5XQCLZKrryb1QKhQHoVVjcb8lB\n";
    meet_profile p;
    int bad = -1;
    assert_int_equal(meet_profile_parse(text, &p, &bad), MEET_OK);
    assert_int_equal(bad, 0);
    assert_string_equal(p.endpoint, "http://127.0.0.1:8080");
    assert_string_equal(p.app_id, "686481430");
    assert_string_equal(p.sdk_id, "46474766952");
    assert_string_equal(p.secret_id, "AKIDqkQbtRLKhorNTlnMKKjDCuRWz7HYlESm");
    assert_string_equal(p.secret_key, "VqwAsv5XQCLZKrryb1QKhQHoVVjcb8lB");
    meet_profile_release(&p);
    assert_null(p.secret_key);
}

static void test_profile_shell_forms(void **state)
{
    const char *text = "# a comment\r\n"
                       "\n"
                       "export MEETD_APP_ID=\"200 1\"\r\n"
                       "  MEETD_SECRET_ID = 'abc'  \n"
                       "MEETD_SECRET_KEY=k=with=equals\n"
                       "MEETD_SDK_ID=\n"
                       "OTHER=ignored\n"
                       "MEETD_SECRET_ID=last-wins";   /* no final newline */
    meet_profile p;
    assert_int_equal(meet_profile_parse(text, &p, NULL), MEET_OK);
    assert_string_equal(p.app_id, "200 1");
    assert_string_equal(p.secret_id, "last-wins");
    assert_string_equal(p.secret_key, "k=with=equals");
    assert_string_equal(p.sdk_id, "");
    assert_null(p.endpoint);
    meet_profile_release(&p);
}

static void test_profile_bad_line(void **state)
{
    meet_profile p;
    int bad = 0;
    assert_int_equal(meet_profile_parse("MEETD_APP_ID=1\n\nnot a pair\n", &p, &bad), MEET_EINVAL);
    assert_int_equal(bad, 3);
    assert_null(p.app_id);
    assert_int_equal(meet_profile_parse("=value\n", &p, &bad), MEET_EINVAL);
    assert_int_equal(bad, 1);
}

static void test_profile_file_and_env(void **state)
{
    char path[] = "/tmp/test_libmeet_profile_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    const char *text = "MEETD_APP_ID=file-app\nMEETD_SECRET_ID=file-id\n";
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);

    meet_profile p;
    assert_int_equal(meet_profile_load(path, &p, NULL), MEET_OK);
    setenv("MEETD_APP_ID", "env-app", 1);
    setenv("MEETD_SECRET_KEY", "env-key", 1);
    setenv("MEETD_SDK_ID", "", 1);
    unsetenv("MEETD_ENDPOINT");
    assert_int_equal(meet_profile_merge_env(&p), MEET_OK);
    assert_string_equal(p.app_id, "file-app");      /* already set: kept */
    assert_string_equal(p.secret_key, "env-key");   /* missing: from the environment */
    assert_null(p.sdk_id);                          /* empty variable counts as unset */
    assert_null(p.endpoint);
    meet_profile_release(&p);
    unsetenv("MEETD_APP_ID");
    unsetenv("MEETD_SECRET_KEY");
    unsetenv("MEETD_SDK_ID");
    unlink(path);

    errno = 0;
    assert_int_equal(meet_profile_load(path, &p, NULL), MEET_EINVAL);
    assert_int_equal(errno, ENOENT);
}

/* ---- error bodies --------------------------------------------------------------------------- */

static void test_error_body(void **state)
{
    const char *body =
        "{\"error_info\":{\"error_code\":9003,\"new_error_code\":200009003,"
        "\"message\":\"MEETING NOT EXIST\"}}";
    meet_error e;
    assert_int_equal(meet_error_from_response(400, body, strlen(body), "abc123", &e), MEET_EAPI);
    assert_int_equal(e.rc, MEET_EAPI);
    assert_int_equal(e.http_status, 400);
    assert_int_equal(e.error_code, 9003);
    assert_int_equal(e.new_error_code, 200009003);
    assert_string_equal(e.message, "MEETING NOT EXIST");
    assert_string_equal(e.trace_id, "abc123");
}

static void test_error_other_bodies(void **state)
{
    meet_error e;
    const char *html = "<html>\n<b>Bad Gateway</b></html>";
    assert_int_equal(meet_error_from_response(502, html, strlen(html), NULL, &e), MEET_EAPI);
    assert_int_equal(e.error_code, 0);
    assert_string_equal(e.message, "HTTP 502: <html> <b>Bad Gateway</b></html>");
    assert_string_equal(e.trace_id, "");

    assert_int_equal(meet_error_from_response(503, NULL, 0, "t", &e), MEET_EAPI);
    assert_string_equal(e.message, "HTTP 503");

    const char *quoted = "{\"error_info\":{\"error_code\":\"190303\",\"message\":\"\"}}";
    assert_int_equal(meet_error_from_response(401, quoted, strlen(quoted), NULL, &e), MEET_EAPI);
    assert_int_equal(e.error_code, 190303);
    assert_string_equal(e.message, "HTTP 401");

    assert_int_equal(meet_error_from_response(200, "{}", 2, "t2", &e), MEET_OK);
    assert_int_equal(e.rc, MEET_OK);
    assert_string_equal(e.trace_id, "t2");
    /* Official SDKs treat any status >= 300 as an error, a body or not. */
    assert_int_equal(meet_error_from_response(302, "{}", 2, NULL, &e), MEET_EAPI);
}

/* ---- the event-stream parser ------------------------------------------------------------------ */

typedef struct events_seen {
    char text[4096];     /* "name=data;" for each event */
    int stop_after;      /* stop when this many were seen (0: never) */
    int count;
} events_seen;

static int collect_event(const char *event, const char *data, void *arg)
{
    events_seen *s = arg;
    size_t n = strlen(s->text);
    snprintf(s->text + n, sizeof s->text - n, "%s=%s;", event, data);
    s->count++;
    return s->stop_after > 0 && s->count >= s->stop_after;
}

static const char SSE_TEXT[] =
    ": heartbeat\r\n"
    "\r\n"
    "event: kicked\r\n"
    "data: {\"reason\":\"bye\",\r\n"
    "data:\"allow_rejoin\":false}\r\n"
    "id: 7\r\n"
    "\r\n"
    "data: plain\n"
    "\n"
    "event: meeting-ended\r"
    "\r"
    "event: partial\n";      /* no blank line: never dispatched */

static const char SSE_EXPECTED[] =
    "kicked={\"reason\":\"bye\",\n\"allow_rejoin\":false};message=plain;meeting-ended=;";

static void test_sse_whole(void **state)
{
    events_seen s = {.count = 0};
    meet_sse p;
    meet_sse_init(&p, collect_event, &s);
    assert_int_equal(meet_sse_feed(&p, SSE_TEXT, strlen(SSE_TEXT)), 0);
    meet_sse_release(&p);
    assert_string_equal(s.text, SSE_EXPECTED);
}

/* Every split point, including between CR and LF, gives the same events. */
static void test_sse_split_everywhere(void **state)
{
    size_t n = strlen(SSE_TEXT);
    for (size_t cut = 0; cut <= n; cut++) {
        events_seen s = {.count = 0};
        meet_sse p;
        meet_sse_init(&p, collect_event, &s);
        assert_int_equal(meet_sse_feed(&p, SSE_TEXT, cut), 0);
        assert_int_equal(meet_sse_feed(&p, SSE_TEXT + cut, n - cut), 0);
        meet_sse_release(&p);
        if (strcmp(s.text, SSE_EXPECTED) != 0)
            fail_msg("split at %zu: %s", cut, s.text);
    }
}

static void test_sse_stop(void **state)
{
    events_seen s = {.stop_after = 1};
    meet_sse p;
    meet_sse_init(&p, collect_event, &s);
    assert_int_equal(meet_sse_feed(&p, SSE_TEXT, strlen(SSE_TEXT)), 1);
    meet_sse_release(&p);
    assert_int_equal(s.count, 1);
}

/* The comments meetd sends before it closes a stream without an event
 * (docs/api.md "Device event stream"): reported by end_fn, whatever the
 * line ending or where the bytes are cut; other comments, and comments
 * that only look alike, are not. */
static void collect_end(const char *reason, void *arg)
{
    events_seen *s = arg;
    size_t n = strlen(s->text);
    snprintf(s->text + n, sizeof s->text - n, "end(%s);", reason);
}

static const char SSE_END_TEXT[] =
    ": meetd event stream\n\n"
    ":\r\n\r\n"
    ": endless\n"                   /* not "end " */
    ": end\n"                       /* no reason */
    ": end \n"                      /* an empty one */
    "end: left\n"                   /* a field, not a comment */
    "event: notice\n"
    "data: x\n\n"
    ": ending soon\n\n"
    ": end superseded\r\n\r\n"
    ":end shutdown\r"               /* no space after the colon, CR alone */
    "\r"
    ": end left\n\n"
    ": end some new reason\n\n";   /* passed on as it is */

static const char SSE_END_EXPECTED[] =
    "notice=x;end(superseded);end(shutdown);end(left);end(some new reason);";

static void test_sse_end_comments(void **state)
{
    size_t n = strlen(SSE_END_TEXT);
    for (size_t cut = 0; cut <= n; cut++) {
        events_seen s = {.count = 0};
        meet_sse p;
        meet_sse_init(&p, collect_event, &s);
        p.end_fn = collect_end;
        assert_int_equal(meet_sse_feed(&p, SSE_END_TEXT, cut), 0);
        assert_int_equal(meet_sse_feed(&p, SSE_END_TEXT + cut, n - cut), 0);
        meet_sse_release(&p);
        if (strcmp(s.text, SSE_END_EXPECTED) != 0)
            fail_msg("split at %zu: %s", cut, s.text);
        assert_int_equal(s.count, 1);
    }
    /* Without end_fn (meet_sse_init's default) they are comments like any. */
    events_seen s = {.count = 0};
    meet_sse p;
    meet_sse_init(&p, collect_event, &s);
    assert_int_equal(meet_sse_feed(&p, SSE_END_TEXT, n), 0);
    meet_sse_release(&p);
    assert_string_equal(s.text, "notice=x;");
}

/* ---- a loopback HTTP server ----------------------------------------------------------------- */

#define MAX_CONNS 1024

typedef struct fake_req {
    char method[16];
    char uri[2048];
    char head[8192];     /* header lines as received */
    char *body;
    size_t body_len;
} fake_req;

typedef struct fake_server {
    int lfd;
    int port;
    pthread_t acceptor;
    pthread_mutex_t mu;
    int accepts;
    int conn_fds[MAX_CONNS];
    pthread_t conn_threads[MAX_CONNS];
    fake_req *reqs;
    size_t nreqs, cap;
} fake_server;

typedef struct fake_conn {
    fake_server *srv;
    int fd;
} fake_conn;

static fake_server srv;

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void respond(int fd, int status, const char *type, const char *trace, const char *body,
                    bool close_after)
{
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                     "X-TC-Trace: %s\r\n%s\r\n",
                     status, type, strlen(body), trace, close_after ? "Connection: close\r\n" : "");
    send_all(fd, head, (size_t)n);
    send_all(fd, body, strlen(body));
}

/* The end comment after events is not what meetd sends (none follows an
 * event), but libmeet passes on what comes, in order. */
static const char SSE_STREAM[] = ": hi\n\nevent: role-changed\ndata: {\"role\":\"cohost\","
                                 "\"user_role\":6}\n\nevent: kicked\ndata: {\"reason\":\"r\"}\n\n"
                                 "event: meeting-ended\ndata: {}\n\n: end shutdown\n\n";

/* The answer depends on the URI only. */
static bool answer(int fd, const fake_req *r, size_t n)
{
    char trace[32];
    snprintf(trace, sizeof trace, "trace-%zu", n);
    if (strncmp(r->uri, "/meetd/v1/events?device_token=good", 35) == 0) {
        /* A stream: no length, ends when the connection does. */
        char head[] = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
                      "Connection: close\r\n\r\n";
        send_all(fd, head, strlen(head));
        send_all(fd, SSE_STREAM, strlen(SSE_STREAM));
        return false;
    }
    if (strncmp(r->uri, "/meetd/v1/events", 16) == 0) {
        respond(fd, 401, "application/json", trace,
                "{\"error_info\":{\"error_code\":190303,\"message\":\"bad token\"}}", true);
        return false;
    }
    if (strstr(r->uri, "/err") != NULL) {
        respond(fd, 400, "application/json", trace,
                "{\"error_info\":{\"error_code\":9003,\"new_error_code\":200009003,"
                "\"message\":\"MEETING NOT EXIST\"}}",
                false);
        return true;
    }
    if (strstr(r->uri, "/notjson") != NULL) {
        respond(fd, 200, "text/plain", trace, "hello", false);
        return true;
    }
    if (strstr(r->uri, "/empty") != NULL) {
        respond(fd, 200, "application/json", trace, "", false);
        return true;
    }
    char body[64];
    snprintf(body, sizeof body, "{\"n\":%zu}", n);
    respond(fd, 200, "application/json", trace, body, false);
    return true;
}

static size_t content_length(const char *head)
{
    for (const char *p = head; (p = strchr(p, '\n')) != NULL; p++)
        if (strncasecmp(p + 1, "Content-Length:", 15) == 0)
            return strtoul(p + 16, NULL, 10);
    return 0;
}

/* Reads one request; false when the client closed the connection. */
static bool read_request(int fd, char *buf, size_t cap, size_t *have, fake_req *r)
{
    char *end;
    buf[*have] = '\0';
    while ((end = strstr(buf, "\r\n\r\n")) == NULL) {
        ssize_t n = recv(fd, buf + *have, cap - 1 - *have, 0);
        if (n <= 0)
            return false;
        *have += (size_t)n;
        buf[*have] = '\0';
    }
    size_t head_len = (size_t)(end - buf) + 4;
    memset(r, 0, sizeof *r);
    sscanf(buf, "%15s %2047s", r->method, r->uri);
    snprintf(r->head, sizeof r->head, "%.*s", (int)head_len, buf);
    r->body_len = content_length(r->head);
    r->body = calloc(1, r->body_len + 1);
    size_t got = *have - head_len < r->body_len ? *have - head_len : r->body_len;
    memcpy(r->body, buf + head_len, got);
    while (got < r->body_len) {
        ssize_t n = recv(fd, r->body + got, r->body_len - got, 0);
        if (n <= 0) {
            free(r->body);
            return false;
        }
        got += (size_t)n;
    }
    size_t used = head_len + (got < *have - head_len ? got : *have - head_len);
    memmove(buf, buf + used, *have - used);
    *have -= used;
    return true;
}

static void *conn_main(void *arg)
{
    fake_conn *fc = arg;
    size_t cap = 128 * 1024, have = 0;
    char *buf = malloc(cap);
    for (;;) {
        fake_req r;
        if (!read_request(fc->fd, buf, cap, &have, &r))
            break;
        pthread_mutex_lock(&fc->srv->mu);
        if (fc->srv->nreqs == fc->srv->cap) {
            fc->srv->cap = fc->srv->cap ? 2 * fc->srv->cap : 64;
            fc->srv->reqs = realloc(fc->srv->reqs, fc->srv->cap * sizeof *fc->srv->reqs);
        }
        size_t n = fc->srv->nreqs++;
        fc->srv->reqs[n] = r;
        pthread_mutex_unlock(&fc->srv->mu);
        if (!answer(fc->fd, &r, n))
            break;
    }
    shutdown(fc->fd, SHUT_WR);
    free(buf);
    free(fc);
    return NULL;
}

static void *accept_main(void *arg)
{
    fake_server *s = arg;
    for (;;) {
        int fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            return NULL;    /* shut down */
        pthread_mutex_lock(&s->mu);
        if (s->accepts == MAX_CONNS) {
            /* More connections than any test makes: the test fails on the
             * closed connection, not here (cmocka asserts belong to its thread). */
            pthread_mutex_unlock(&s->mu);
            close(fd);
            continue;
        }
        fake_conn *fc = malloc(sizeof *fc);
        fc->srv = s;
        fc->fd = fd;
        int i = s->accepts++;
        s->conn_fds[i] = fd;
        pthread_create(&s->conn_threads[i], NULL, conn_main, fc);
        pthread_mutex_unlock(&s->mu);
    }
}

static int server_start(void **state)
{
    memset(&srv, 0, sizeof srv);
    pthread_mutex_init(&srv.mu, NULL);
    srv.lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    if (srv.lfd < 0 || bind(srv.lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(srv.lfd, 64) != 0 || getsockname(srv.lfd, (struct sockaddr *)&a, &len) != 0)
        return -1;
    srv.port = ntohs(a.sin_port);
    return pthread_create(&srv.acceptor, NULL, accept_main, &srv);
}

/* Stops the server; every client must be freed first (so every connection
 * is closed and each connection thread ends on its own). */
static int server_stop(void **state)
{
    shutdown(srv.lfd, SHUT_RDWR);
    pthread_join(srv.acceptor, NULL);
    close(srv.lfd);
    for (int i = 0; i < srv.accepts; i++) {
        shutdown(srv.conn_fds[i], SHUT_RDWR);
        pthread_join(srv.conn_threads[i], NULL);
        close(srv.conn_fds[i]);
    }
    for (size_t i = 0; i < srv.nreqs; i++)
        free(srv.reqs[i].body);
    free(srv.reqs);
    pthread_mutex_destroy(&srv.mu);
    return 0;
}

static char *endpoint(const char *suffix)
{
    char *e = NULL;
    assert_true(asprintf(&e, "http://127.0.0.1:%d%s", srv.port, suffix) > 0);
    return e;
}

static meet_client *server_client(const char *suffix, const char *sdk_id)
{
    char *e = endpoint(suffix);
    meet_client *c = new_client(e, "200000001", sdk_id);
    free(e);
    return c;
}

/* A header's value in a recorded request, or NULL. */
static const char *header_of(const fake_req *r, const char *name, char *out, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = strchr(r->head, '\n'); p != NULL; p = strchr(p + 1, '\n')) {
        if (strncasecmp(p + 1, name, n) != 0 || p[1 + n] != ':')
            continue;
        const char *v = p + 2 + n;
        while (*v == ' ')
            v++;
        size_t len = strcspn(v, "\r\n");
        snprintf(out, cap, "%.*s", (int)len, v);
        return out;
    }
    return NULL;
}

static fake_req *last_request(void)
{
    assert_true(srv.nreqs > 0);
    return &srv.reqs[srv.nreqs - 1];
}

/* The signature received verifies over what was received. */
static void assert_signed(const fake_req *r)
{
    char key[128], ts[32], nonce[32], sig[128];
    assert_non_null(header_of(r, "X-TC-Key", key, sizeof key));
    assert_non_null(header_of(r, "X-TC-Timestamp", ts, sizeof ts));
    assert_non_null(header_of(r, "X-TC-Nonce", nonce, sizeof nonce));
    assert_non_null(header_of(r, "X-TC-Signature", sig, sizeof sig));
    assert_string_equal(key, VEC_SECRET_ID);
    parse_nonce(nonce);
    char want[MEET_SIGNATURE_LEN + 1];
    assert_int_equal(meet_sign(VEC_SECRET_KEY, r->method, key, nonce, ts, r->uri, r->body,
                               r->body_len, want),
                     MEET_OK);
    assert_string_equal(sig, want);
}

/* A write as sent: the caller's body, compact, byte for byte, signed. */
static void assert_sent_signed(const fake_req *r, const json_t *body)
{
    char *sent = json_dumps(body, JSON_COMPACT);
    assert_non_null(sent);
    assert_int_equal(r->body_len, strlen(sent));
    assert_memory_equal(r->body, sent, r->body_len);
    free(sent);
    assert_signed(r);
}

/* ---- transport tests ------------------------------------------------------------------------ */

static void test_wire_post_headers(void **state)
{
    meet_client *c = server_client("", "sdk-9");
    /* Over 1 KiB: libcurl would wait for "100 Continue" unless told not to. */
    json_t *body = json_object();
    char big[4096];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    json_object_set_new(body, "subject", json_string(big));
    json_object_set_new(body, "userid", json_string("张三"));
    json_t *out = NULL;
    meet_error err;
    assert_int_equal(meet_meeting_create(c, body, &out, &err), MEET_OK);
    assert_true(json_is_integer(json_object_get(out, "n")));
    assert_int_equal(err.http_status, 200);
    assert_true(strncmp(err.trace_id, "trace-", 6) == 0);
    json_decref(out);

    fake_req *r = last_request();
    assert_string_equal(r->method, "POST");
    assert_string_equal(r->uri, "/v1/meetings");
    assert_sent_signed(r, body);
    char v[256];
    assert_string_equal(header_of(r, "AppId", v, sizeof v), "200000001");
    assert_string_equal(header_of(r, "SdkId", v, sizeof v), "sdk-9");
    assert_string_equal(header_of(r, "X-TC-Registered", v, sizeof v), "1");
    assert_string_equal(header_of(r, "Content-Type", v, sizeof v), "application/json");
    assert_null(header_of(r, "Expect", v, sizeof v));
    json_decref(body);
    meet_client_free(c);
}

/* The participants lists in Tencent's current form, arguments in the
 * order the official SDKs send them; what is not asked for is not sent. */
static void test_wire_participants_current_form(void **state)
{
    (void)state;
    meet_client *c = server_client("", NULL);
    json_t *out = NULL;
    meet_error err;
    meet_participants_query q;
    meet_participants_query_init(&q);
    q.operator_id = "张 三";
    assert_int_equal(meet_participants(c, "123", &q, &out, &err), MEET_OK);
    json_decref(out);
    assert_string_equal(last_request()->method, "GET");
    assert_string_equal(last_request()->uri,
                        "/v1/meetings/123/participants?"
                        "operator_id=%E5%BC%A0%20%E4%B8%89&operator_id_type=1");
    assert_int_equal(last_request()->body_len, 0);
    assert_signed(last_request());

    q.operator_id = "alice";
    q.sub_meeting_id = "1700000000";
    q.pos = 0;
    q.size = 100;
    q.start_time = 1700000000;
    q.end_time = 1700003600;
    assert_int_equal(meet_participants(c, "123", &q, &out, &err), MEET_OK);
    json_decref(out);
    assert_string_equal(last_request()->uri,
                        "/v1/meetings/123/participants?sub_meeting_id=1700000000&operator_id=alice"
                        "&operator_id_type=1&pos=0&size=100&start_time=1700000000"
                        "&end_time=1700003600");

    meet_participants_query_init(&q);
    q.operator_id = "alice";
    q.page = 2;
    q.page_size = 50;
    assert_int_equal(meet_realtime_participants(c, "123", &q, &out, &err), MEET_OK);
    json_decref(out);
    assert_string_equal(last_request()->uri, "/v1/meetings/123/real_time_participants?"
                                             "operator_id=alice&operator_id_type=1&page=2"
                                             "&page_size=50");
    assert_signed(last_request());
    /* No meeting id: refused before anything is sent. */
    assert_int_equal(meet_realtime_participants(c, "", &q, &out, &err), MEET_EINVAL);
    assert_null(out);
    meet_client_free(c);
}

static void test_wire_get_escaped_query(void **state)
{
    meet_client *c = server_client("", NULL);
    json_t *out = NULL;
    meet_error err;
    assert_int_equal(meet_meeting_get(c, "123", "张 三&x", 2, &out, &err), MEET_OK);
    json_decref(out);
    fake_req *r = last_request();
    assert_string_equal(r->method, "GET");
    assert_string_equal(r->uri, "/v1/meetings/123?operator_id=%E5%BC%A0%20%E4%B8%89%26x"
                                "&operator_id_type=1&instanceid=2");
    assert_int_equal(r->body_len, 0);
    assert_signed(r);
    char v[256];
    assert_null(header_of(r, "SdkId", v, sizeof v));
    assert_null(header_of(r, "Content-Type", v, sizeof v));

    assert_int_equal(meet_meeting_participants(c, "123", "alice", "1700000000", 0, 100, &out, &err),
                     MEET_OK);
    json_decref(out);
    assert_string_equal(last_request()->uri,
                        "/v1/meetings/123/participants?userid=alice&sub_meeting_id=1700000000"
                        "&pos=0&size=100");
    assert_int_equal(meet_audit(c, "123", -1, 5, &out, &err), MEET_OK);
    json_decref(out);
    assert_string_equal(last_request()->uri, "/meetd/v1/meetings/123/audit?size=5");
    assert_int_equal(meet_bans_lift(c, "123", "ms/x", &out, &err), MEET_OK);
    json_decref(out);
    assert_string_equal(last_request()->method, "DELETE");
    assert_string_equal(last_request()->uri, "/meetd/v1/meetings/123/bans/ms%2Fx");
    assert_signed(last_request());
    assert_int_equal(meet_bans_lift_kind(c, "123", "guest_id", "g us", &out, &err), MEET_OK);
    json_decref(out);
    assert_string_equal(last_request()->uri, "/meetd/v1/meetings/123/bans/g%20us?kind=guest_id");
    assert_signed(last_request());
    assert_int_equal(meet_bans_lift_kind(c, "123", NULL, "bob", &out, &err), MEET_OK);
    json_decref(out);
    assert_string_equal(last_request()->uri, "/meetd/v1/meetings/123/bans/bob");
    meet_client_free(c);
}

/* The query forms of Tencent's SDK, parameters in its order. */
static void test_wire_meeting_queries(void **state)
{
    (void)state;
    meet_client *c = server_client("", NULL);
    json_t *out = NULL;
    meet_error err;
    assert_int_equal(meet_meeting_query(c, "123", "ms/1", MEET_OPERATOR_ROOMS_ID, 9, &out, &err),
                     MEET_OK);
    json_decref(out);
    assert_string_equal(last_request()->method, "GET");
    assert_string_equal(last_request()->uri,
                        "/v1/meetings/123?operator_id=ms%2F1&operator_id_type=3&instanceid=9");
    assert_signed(last_request());
    assert_int_equal(meet_meeting_by_code(c, "806123456", "alice", MEET_OPERATOR_USERID, 1, &out,
                                          &err),
                     MEET_OK);
    json_decref(out);
    assert_string_equal(last_request()->uri, "/v1/meetings?operator_id=alice&operator_id_type=1"
                                             "&instanceid=1&meeting_code=806123456");
    assert_signed(last_request());
    assert_int_equal(meet_meetings_list(c, "a b", 2, -1, -1, false, &out, &err), MEET_OK);
    json_decref(out);
    assert_string_equal(last_request()->uri, "/v1/meetings?userid=a%20b&instanceid=2");
    assert_int_equal(meet_meetings_list(c, "bob", 1, 1700000000, 19, true, &out, &err), MEET_OK);
    json_decref(out);
    assert_string_equal(last_request()->uri, "/v1/meetings?userid=bob&instanceid=1&cursory=19"
                                             "&pos=1700000000&is_show_all_sub_meetings=1");
    assert_signed(last_request());
    assert_int_equal(meet_meeting_by_code(c, "", "alice", 1, 1, &out, &err), MEET_EINVAL);
    assert_null(out);
    meet_client_free(c);
}

static void test_wire_kickout_prefer(void **state)
{
    meet_client *c = server_client("", NULL);
    json_t *body = json_pack("{s:s, s:i, s:i, s:b, s:[]}", "operator_id", "alice",
                             "operator_id_type", 1, "instanceid", 1, "allow_rejoin", 1, "users");
    json_t *out = NULL;
    meet_error err;
    assert_int_equal(meet_kickout(c, "77", body, true, &out, &err), MEET_OK);
    json_decref(out);
    fake_req *r = last_request();
    assert_string_equal(r->method, "PUT");
    assert_string_equal(r->uri, "/v1/real-control/meetings/77/kickout");
    char v[256];
    assert_string_equal(header_of(r, "Prefer", v, sizeof v), "return=representation");
    assert_signed(r);
    assert_int_equal(meet_kickout(c, "77", body, false, &out, &err), MEET_OK);
    json_decref(out);
    assert_null(header_of(last_request(), "Prefer", v, sizeof v));
    json_decref(body);
    meet_client_free(c);
}

static void test_wire_meeting_update(void **state)
{
    meet_client *c = server_client("", NULL);
    json_t *body = json_pack("{s:s, s:i, s:s}", "userid", "alice", "instanceid", 1, "subject",
                             "moved");
    json_t *out = NULL;
    meet_error err;
    assert_int_equal(meet_meeting_update(c, "7/7", body, &out, &err), MEET_OK);
    json_decref(out);
    fake_req *r = last_request();
    assert_string_equal(r->method, "PUT");
    assert_string_equal(r->uri, "/v1/meetings/7%2F7");
    assert_sent_signed(r, body);
    /* The body is still the caller's, untouched. */
    assert_int_equal(body->refcount, 1);
    assert_int_equal(meet_meeting_update(c, "", body, &out, &err), MEET_EINVAL);
    assert_null(out);
    json_decref(body);
    meet_client_free(c);
}

static void test_wire_prefix_is_signed(void **state)
{
    meet_client *c = server_client("/gw/", NULL);
    json_t *out = NULL;
    meet_error err;
    assert_int_equal(meet_bans_list(c, "5", &out, &err), MEET_OK);
    json_decref(out);
    assert_string_equal(last_request()->uri, "/gw/meetd/v1/meetings/5/bans");
    assert_signed(last_request());
    meet_client_free(c);
}

static void test_wire_api_error(void **state)
{
    meet_client *c = server_client("", NULL);
    json_t *out = (json_t *)1;
    meet_error err;
    assert_int_equal(meet_request(c, "GET", "/v1/err", NULL, NULL, &out, &err), MEET_EAPI);
    assert_null(out);
    assert_int_equal(err.rc, MEET_EAPI);
    assert_int_equal(err.http_status, 400);
    assert_int_equal(err.error_code, 9003);
    assert_int_equal(err.new_error_code, 200009003);
    assert_string_equal(err.message, "MEETING NOT EXIST");
    assert_true(strncmp(err.trace_id, "trace-", 6) == 0);

    /* The raw call gives the answer as well as the error. */
    meet_response resp;
    assert_int_equal(meet_request_raw(c, "GET", "/v1/err", NULL, 0, NULL, &resp, &err), MEET_EAPI);
    assert_int_equal(resp.http_status, 400);
    assert_non_null(strstr(resp.body, "MEETING NOT EXIST"));
    meet_response_release(&resp);

    assert_int_equal(meet_request(c, "GET", "/v1/notjson", NULL, NULL, &out, &err), MEET_EPROTO);
    assert_null(out);
    assert_int_equal(meet_request(c, "GET", "/v1/empty", NULL, NULL, &out, &err), MEET_OK);
    assert_true(json_is_object(out) && json_object_size(out) == 0);
    json_decref(out);

    assert_int_equal(meet_request(c, "get", "/v1/x", NULL, NULL, &out, &err), MEET_EINVAL);
    assert_int_equal(meet_request(c, "GET", "v1/x", NULL, NULL, &out, &err), MEET_EINVAL);
    assert_int_equal(meet_request(c, "GET", "/v1/a b", NULL, NULL, &out, &err), MEET_EINVAL);
    meet_client_free(c);
}

static void test_wire_unsigned(void **state)
{
    char *e = endpoint("");
    meet_config cfg = {.endpoint = e};   /* no keys: unsigned calls only */
    meet_client *c = NULL;
    meet_error err;
    assert_int_equal(meet_client_new(&cfg, &c, &err), MEET_OK);
    free(e);
    json_t *out = NULL;
    assert_int_equal(meet_healthz(c, &out, &err), MEET_OK);
    json_decref(out);
    char v[128];
    assert_string_equal(last_request()->uri, "/healthz");
    assert_null(header_of(last_request(), "X-TC-Key", v, sizeof v));
    assert_null(header_of(last_request(), "X-TC-Signature", v, sizeof v));
    size_t before = srv.nreqs;
    assert_int_equal(meet_bans_list(c, "1", &out, &err), MEET_EINVAL);
    assert_int_equal(srv.nreqs, before);   /* nothing was sent */
    meet_client_free(c);
}

static void test_wire_connection_reuse(void **state)
{
    meet_client *c = server_client("", NULL);
    int accepts = srv.accepts;
    for (int i = 0; i < 5; i++) {
        json_t *out = NULL;
        assert_int_equal(meet_bans_list(c, "1", &out, NULL), MEET_OK);
        json_decref(out);
    }
    assert_int_equal(srv.accepts - accepts, 1);
    meet_client_free(c);
}

enum { WIRE_THREADS = 8, CALLS_PER_THREAD = 25 };

static void *wire_worker(void *arg)
{
    meet_client *c = arg;
    intptr_t failures = 0;
    for (int i = 0; i < CALLS_PER_THREAD; i++) {
        json_t *body = json_pack("{s:i}", "i", i);
        json_t *out = NULL;
        meet_error err;
        if (meet_device_join(c, "42", body, &out, &err) != MEET_OK) {
            fprintf(stderr, "call failed: %s: %s\n", meet_strerror(err.rc), err.message);
            failures++;
        }
        json_decref(out);
        json_decref(body);
    }
    return (void *)failures;
}

static void test_wire_threads(void **state)
{
    meet_client *c = server_client("", NULL);
    int accepts = srv.accepts;
    size_t first = srv.nreqs;
    pthread_t t[WIRE_THREADS];
    for (int i = 0; i < WIRE_THREADS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, wire_worker, c), 0);
    intptr_t failures = 0;
    for (int i = 0; i < WIRE_THREADS; i++) {
        void *f;
        pthread_join(t[i], &f);
        failures += (intptr_t)f;
    }
    assert_int_equal(failures, 0);
    assert_int_equal(srv.nreqs - first, WIRE_THREADS * CALLS_PER_THREAD);
    /* Connections are shared, not one per call. */
    assert_true(srv.accepts - accepts <= WIRE_THREADS);
    /* Every request carried its own nonce and a valid signature. */
    uint64_t nonces[WIRE_THREADS * CALLS_PER_THREAD];
    for (size_t i = 0; i < WIRE_THREADS * CALLS_PER_THREAD; i++) {
        char n[32];
        assert_non_null(header_of(&srv.reqs[first + i], "X-TC-Nonce", n, sizeof n));
        nonces[i] = strtoull(n, NULL, 10);
        assert_signed(&srv.reqs[first + i]);
    }
    qsort(nonces, WIRE_THREADS * CALLS_PER_THREAD, sizeof nonces[0], cmp_u64);
    for (size_t i = 1; i < WIRE_THREADS * CALLS_PER_THREAD; i++)
        assert_true(nonces[i] != nonces[i - 1]);
    meet_client_free(c);
}

static void note_open(const char *trace_id, void *arg)
{
    events_seen *s = arg;
    /* Before any event, once. */
    snprintf(s->text + strlen(s->text), sizeof s->text - strlen(s->text), "open;");
}

static void collect_role(bool cohost, int user_role, void *arg)
{
    events_seen *s = arg;
    size_t n = strlen(s->text);
    snprintf(s->text + n, sizeof s->text - n, "role(%s,%d);", cohost ? "cohost" : "attendee",
             user_role);
}

static void test_wire_events(void **state)
{
    meet_client *c = server_client("", NULL);
    events_seen s = {.count = 0};
    meet_error err;
    meet_watch_handlers h = {.on_event = collect_event, .on_open = note_open, .arg = &s,
                             .on_end = collect_end, .on_role = collect_role};
    assert_int_equal(meet_events_watch(c, "good", &h, &err), MEET_OK);
    /* role-changed goes on: the events after it arrive too. */
    assert_string_equal(s.text, "open;role-changed={\"role\":\"cohost\",\"user_role\":6};"
                                "role(cohost,6);kicked={\"reason\":\"r\"};meeting-ended={};"
                                "end(shutdown);");
    fake_req *r = last_request();
    char v[128];
    assert_null(header_of(r, "X-TC-Signature", v, sizeof v));
    assert_string_equal(header_of(r, "Accept", v, sizeof v), "text/event-stream");

    /* Stopping after the first event is a success too. */
    events_seen one = {.stop_after = 1};
    meet_watch_handlers h1 = {.on_event = collect_event, .arg = &one};
    assert_int_equal(meet_events_watch(c, "good", &h1, &err), MEET_OK);
    assert_int_equal(one.count, 1);

    events_seen none = {.count = 0};
    meet_watch_handlers h2 = {.on_event = collect_event, .on_open = note_open, .arg = &none};
    assert_int_equal(meet_events_watch(c, "bad token", &h2, &err), MEET_EAPI);
    assert_int_equal(err.http_status, 401);
    assert_int_equal(err.error_code, 190303);
    assert_string_equal(last_request()->uri, "/meetd/v1/events?device_token=bad%20token");
    assert_int_equal(none.count, 0);
    assert_string_equal(none.text, "");     /* a refused stream never opened */
    meet_client_free(c);
}

static void test_wire_unreachable(void **state)
{
    /* A port that was free a moment ago: bound, then closed. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    char ep[64];
    snprintf(ep, sizeof ep, "http://127.0.0.1:%d", ntohs(a.sin_port));
    meet_client *c = new_client(ep, "1", NULL);
    json_t *out = NULL;
    meet_error err;
    assert_int_equal(meet_bans_list(c, "1", &out, &err), MEET_ETRANSPORT);
    assert_null(out);
    assert_int_equal(err.http_status, 0);
    assert_true(strlen(err.message) > 0);
    meet_client_free(c);
}

static int group_setup(void **state)
{
    if (meet_global_init() != MEET_OK)
        return -1;
    return server_start(state);
}

static int group_teardown(void **state)
{
    server_stop(state);
    meet_global_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sign_vectors),
        cmocka_unit_test(test_sign_bad_arguments),
        cmocka_unit_test(test_headers_vector5),
        cmocka_unit_test(test_headers_sdk_id_get_and_extra),
        cmocka_unit_test(test_headers_no_app_id),
        cmocka_unit_test(test_client_config),
        cmocka_unit_test(test_nonce_format),
        cmocka_unit_test(test_nonce_increasing),
        cmocka_unit_test(test_nonce_unique_across_threads),
        cmocka_unit_test(test_profile_meetd_format),
        cmocka_unit_test(test_profile_shell_forms),
        cmocka_unit_test(test_profile_bad_line),
        cmocka_unit_test(test_profile_file_and_env),
        cmocka_unit_test(test_error_body),
        cmocka_unit_test(test_error_other_bodies),
        cmocka_unit_test(test_sse_whole),
        cmocka_unit_test(test_sse_split_everywhere),
        cmocka_unit_test(test_sse_stop),
        cmocka_unit_test(test_sse_end_comments),
        cmocka_unit_test(test_wire_post_headers),
        cmocka_unit_test(test_wire_get_escaped_query),
        cmocka_unit_test(test_wire_participants_current_form),
        cmocka_unit_test(test_wire_kickout_prefer),
        cmocka_unit_test(test_wire_meeting_update),
        cmocka_unit_test(test_wire_prefix_is_signed),
        cmocka_unit_test(test_wire_api_error),
        cmocka_unit_test(test_wire_meeting_queries),
        cmocka_unit_test(test_wire_unsigned),
        cmocka_unit_test(test_wire_connection_reuse),
        cmocka_unit_test(test_wire_threads),
        cmocka_unit_test(test_wire_events),
        cmocka_unit_test(test_wire_unreachable),
    };
    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
