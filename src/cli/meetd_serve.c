/* meetd serve: open the store, start HTTP, wait for SIGINT/SIGTERM. */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <pthread.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "auth/apps.h"
#include "auth/auth.h"
#include "cli/meetd_cli.h"
#include "common/ids.h"
#include "common/log.h"
#include "http/limits.h"
#include "http/server.h"
#include "live/live.h"
#include "live/presence.h"
#include "live/webhook.h"

/* Keys held in memory at once; a deployment with more apps than this still
 * works, with some requests reading their key from the store. */
#define SERVE_KEYCACHE_MAX 4096

typedef struct serve_opts {
    char host[256];
    unsigned port;
    const char *data;
    const char *postgres;          /* libpq conninfo; NULL: SQLite in data */
    unsigned pg_writers;           /* 0: the backend's default */
    unsigned threads;
    unsigned max_connections;
    unsigned api_reserve;          /* 0: http_limits_size's default */
    unsigned max_streams_per_app;  /* 0: http_limits_size's default */
    unsigned per_ip;
    unsigned idle_timeout;
    unsigned request_timeout;
    double rate_limit;
    unsigned long replay_capacity;
    store_durability durability;
    unsigned presence_grace;
    unsigned heartbeat;
    bool metrics_public;
    webhook_config hooks;
} serve_opts;

static void serve_usage(FILE *f)
{
    fprintf(f,
            "usage: meetd serve [options]\n"
            "  --listen HOST:PORT       address (MEETD_LISTEN, default %s; port 0: any)\n"
            "  --data DIR               data directory (MEETD_DATA, default %s)\n"
            "  --postgres CONNINFO      share a PostgreSQL with other nodes (MEETD_POSTGRES;\n"
            "                           any libpq connection string or URI); DIR then holds\n"
            "                           only this node's own files\n"
            "  --pg-writers N           with --postgres: writer connections, each committing\n"
            "                           the writes of its share of the meetings\n"
            "                           (MEETD_PG_WRITERS, default 4)\n"
            "  --threads N              request threads (MEETD_THREADS, default 2)\n"
            "  --max-connections N      open connections (MEETD_MAX_CONNECTIONS, default 4096;\n"
            "                           lowered to what the open-files limit can hold)\n"
            "  --api-reserve N          connections event streams never take (MEETD_API_RESERVE,\n"
            "                           default a tenth of the connections)\n"
            "  --max-streams-per-app N  event streams of one app (MEETD_MAX_STREAMS_PER_APP,\n"
            "                           default half of the streams)\n"
            "  --per-ip-connections N   per client address, 0 = off (MEETD_PER_IP_CONNECTIONS)\n"
            "  --idle-timeout S         seconds of silence before closing (MEETD_IDLE_TIMEOUT, default 30)\n"
            "  --request-timeout S      seconds for a request to arrive whole (MEETD_REQUEST_TIMEOUT, default 30)\n"
            "  --rate-limit R           requests/s per app, 0 = off (MEETD_RATE_LIMIT)\n"
            "  --replay-capacity N      (timestamp, nonce) pairs kept (MEETD_REPLAY_CAPACITY, default 1000000)\n"
            "  --durability full|normal commit durability (MEETD_DURABILITY, default full)\n"
            "  --presence-grace S       stream gone S seconds: device left (MEETD_PRESENCE_GRACE, default 60)\n"
            "  --heartbeat S            event stream heartbeat (MEETD_HEARTBEAT, default 15)\n"
            "  --metrics-public         serve /metrics to any client, not only loopback\n"
            "  --webhook-attempts N     attempts per webhook delivery (MEETD_WEBHOOK_ATTEMPTS, default 10)\n"
            "  --webhook-backoff-ms N   first retry delay, doubling (MEETD_WEBHOOK_BACKOFF_MS, default 1000)\n"
            "  --webhook-backoff-max-ms N  longest retry delay (MEETD_WEBHOOK_BACKOFF_MAX_MS, default 300000)\n"
            "  --webhook-timeout-ms N   one delivery attempt (MEETD_WEBHOOK_TIMEOUT_MS, default 10000)\n"
            "  --webhook-public-only    never deliver to loopback, private or link-local addresses\n"
            "  --webhook-proxy URL      deliver through this proxy (MEETD_WEBHOOK_PROXY); http_proxy\n"
            "                           and the other proxy variables are never used\n",
            MEETD_DEFAULT_LISTEN, MEETD_DEFAULT_DATA);
}

static int serve_parse_listen(const char *s, serve_opts *o)
{
    const char *colon = strrchr(s, ':');
    if (colon == NULL || colon == s)
        return -1;
    size_t hl = (size_t)(colon - s);
    /* [::1]:8080 */
    if (s[0] == '[' && hl >= 2 && s[hl - 1] == ']') {
        s++;
        hl -= 2;
    }
    if (hl >= sizeof o->host)
        return -1;
    memcpy(o->host, s, hl);
    o->host[hl] = '\0';
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno != 0 || *end != '\0' || end == colon + 1 || port > 65535)
        return -1;
    o->port = (unsigned)port;
    return 0;
}

static int serve_parse_uint(const char *s, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || *end != '\0' || end == s || s[0] == '-' || v > max)
        return -1;
    *out = v;
    return 0;
}

/* The webhook worker's settings; name without "webhook-". Delays up to a
 * day, attempts up to 1000. */
static int serve_set_webhook(webhook_config *c, const char *name, const char *v)
{
    unsigned long n;
    if (strcmp(name, "proxy") == 0) {
        /* Empty: none, as if unset. */
        c->proxy = *v ? v : NULL;
        return *v == '\0' || webhook_proxy_valid(v) ? 0 : -1;
    }
    bool attempts = strcmp(name, "attempts") == 0;
    if (serve_parse_uint(v, attempts ? 1000UL : 86400000UL, &n) != 0 || n < 1)
        return -1;
    if (attempts)
        c->max_attempts = (int)n;
    else if (strcmp(name, "backoff-ms") == 0)
        c->backoff_base_ms = (int)n;
    else if (strcmp(name, "backoff-max-ms") == 0)
        c->backoff_max_ms = (int)n;
    else if (strcmp(name, "timeout-ms") == 0)
        c->timeout_ms = (int)n;
    else
        return -1;
    return 0;
}

/* Applies one setting; name is the flag without dashes, for messages. */
static int serve_set(serve_opts *o, const char *name, const char *v)
{
    unsigned long n;
    if (strcmp(name, "listen") == 0)
        return serve_parse_listen(v, o);
    if (strcmp(name, "data") == 0) {
        o->data = v;
        return *v ? 0 : -1;
    }
    if (strcmp(name, "postgres") == 0) {
        o->postgres = v;
        return *v ? 0 : -1;
    }
    if (strcmp(name, "durability") == 0) {
        if (strcasecmp(v, "full") == 0)
            o->durability = STORE_DURABLE_FULL;
        else if (strcasecmp(v, "normal") == 0)
            o->durability = STORE_DURABLE_NORMAL;
        else
            return -1;
        return 0;
    }
    if (strcmp(name, "rate-limit") == 0) {
        char *end;
        errno = 0;
        double r = strtod(v, &end);
        if (errno != 0 || *end != '\0' || end == v || !(r >= 0) || r > 1e9)
            return -1;
        o->rate_limit = r;
        return 0;
    }
    if (strcmp(name, "replay-capacity") == 0) {
        if (serve_parse_uint(v, 100000000UL, &n) != 0 || n < 1000)
            return -1;
        o->replay_capacity = n;
        return 0;
    }
    if (strncmp(name, "webhook-", 8) == 0)
        return serve_set_webhook(&o->hooks, name + 8, v);
    if (serve_parse_uint(v, 1000000UL, &n) != 0)
        return -1;
    if (strcmp(name, "threads") == 0 && n >= 1 && n <= 256)
        o->threads = (unsigned)n;
    else if (strcmp(name, "pg-writers") == 0 && n >= 1 && n <= 64)
        o->pg_writers = (unsigned)n;
    else if (strcmp(name, "max-connections") == 0 && n >= 1)
        o->max_connections = (unsigned)n;
    else if (strcmp(name, "api-reserve") == 0 && n >= 1)
        o->api_reserve = (unsigned)n;
    else if (strcmp(name, "max-streams-per-app") == 0 && n >= 1)
        o->max_streams_per_app = (unsigned)n;
    else if (strcmp(name, "per-ip-connections") == 0)
        o->per_ip = (unsigned)n;
    else if (strcmp(name, "idle-timeout") == 0 && n >= 1)
        o->idle_timeout = (unsigned)n;
    else if (strcmp(name, "request-timeout") == 0 && n >= 1 && n <= 3600)
        o->request_timeout = (unsigned)n;
    else if (strcmp(name, "presence-grace") == 0 && n >= 1 && n <= 86400)
        o->presence_grace = (unsigned)n;
    else if (strcmp(name, "heartbeat") == 0 && n >= 1 && n <= 3600)
        o->heartbeat = (unsigned)n;
    else
        return -1;
    return 0;
}

static const struct option serve_longopts[] = {
    {"listen", required_argument, NULL, 0},
    {"data", required_argument, NULL, 0},
    {"postgres", required_argument, NULL, 0},
    {"pg-writers", required_argument, NULL, 0},
    {"threads", required_argument, NULL, 0},
    {"max-connections", required_argument, NULL, 0},
    {"api-reserve", required_argument, NULL, 0},
    {"max-streams-per-app", required_argument, NULL, 0},
    {"per-ip-connections", required_argument, NULL, 0},
    {"idle-timeout", required_argument, NULL, 0},
    {"request-timeout", required_argument, NULL, 0},
    {"rate-limit", required_argument, NULL, 0},
    {"replay-capacity", required_argument, NULL, 0},
    {"durability", required_argument, NULL, 0},
    {"presence-grace", required_argument, NULL, 0},
    {"heartbeat", required_argument, NULL, 0},
    {"metrics-public", no_argument, NULL, 'm'},
    {"webhook-public-only", no_argument, NULL, 'P'},
    {"webhook-attempts", required_argument, NULL, 0},
    {"webhook-backoff-ms", required_argument, NULL, 0},
    {"webhook-backoff-max-ms", required_argument, NULL, 0},
    {"webhook-timeout-ms", required_argument, NULL, 0},
    {"webhook-proxy", required_argument, NULL, 0},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* What a refused value should have looked like, where the option's own
 * name does not say it (a message suffix). */
static const char *serve_wants(const char *name)
{
    if (strcmp(name, "listen") == 0)
        return ": want HOST:PORT, e.g. 127.0.0.1:8080, 0.0.0.0:8080 or [::1]:8080";
    if (strcmp(name, "durability") == 0)
        return ": want full or normal";
    return "";
}

/* Environment first, so that flags (parsed after) win. */
static int serve_from_env(serve_opts *o)
{
    for (const struct option *opt = serve_longopts; opt->name != NULL; opt++) {
        if (opt->has_arg != required_argument)
            continue;
        char var[64] = "MEETD_";
        size_t n = strlen(var);
        for (const char *p = opt->name; *p && n + 1 < sizeof var; p++)
            var[n++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        var[n] = '\0';
        const char *v = getenv(var);
        if (v != NULL && serve_set(o, opt->name, v) != 0) {
            fprintf(stderr, "meetd serve: invalid %s='%s'%s\n", var, v, serve_wants(opt->name));
            return -1;
        }
    }
    return 0;
}

static int serve_parse(int argc, char **argv, serve_opts *o)
{
    memset(o, 0, sizeof *o);
    serve_parse_listen(MEETD_DEFAULT_LISTEN, o);
    o->data = MEETD_DEFAULT_DATA;
    o->threads = 2;
    o->max_connections = 4096;
    o->idle_timeout = 30;
    o->request_timeout = 30;
    o->replay_capacity = 1000000;
    o->presence_grace = 60;
    o->heartbeat = 15;
    o->hooks = (webhook_config){.max_attempts = 10, .backoff_base_ms = 1000,
                                .backoff_max_ms = 300000, .timeout_ms = 10000};
    if (serve_from_env(o) != 0)
        return 2;
    int idx, ch;
    optind = 1;
    /* Our own messages: getopt's would be prefixed with argv[0], "serve". */
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", serve_longopts, &idx)) != -1) {
        if (ch == 'h') {
            serve_usage(stdout);
            return 1;
        }
        if (ch == 'm') {
            o->metrics_public = true;
            continue;
        }
        if (ch == 'P') {
            o->hooks.public_only = true;
            continue;
        }
        if (ch == '?' || ch == ':') {
            fprintf(stderr, "meetd serve: %s '%s'\nTry 'meetd serve --help'.\n",
                    ch == '?' ? "unknown option" : "missing value for", argv[optind - 1]);
            return 2;
        }
        if (serve_set(o, serve_longopts[idx].name, optarg) != 0) {
            fprintf(stderr, "meetd serve: invalid --%s '%s'%s\n", serve_longopts[idx].name,
                    optarg, serve_wants(serve_longopts[idx].name));
            return 2;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "meetd serve: unexpected argument '%s'\nTry 'meetd serve --help'.\n",
                argv[optind]);
        return 2;
    }
    if (o->hooks.backoff_max_ms < o->hooks.backoff_base_ms) {
        fprintf(stderr, "meetd serve: --webhook-backoff-max-ms is below --webhook-backoff-ms\n");
        return 2;
    }
    return 0;
}

/* First start with an empty store: a development app, its credentials shown
 * once on stdout (never in the log) and kept in <data>/credentials. On a
 * store shared by several nodes (--postgres) the one node that finds no app
 * creates it, however many start together (auth_app_first), and every node
 * makes its own <data>/credentials hold the development app's current key
 * at each start: a node that joins later, or restarts after `meetd app
 * rotate-key`, has it too. A file that holds it already is left as its
 * owner edited it (meetd_endpoint_publish updates its address). */
static int serve_first_start(store *st, const serve_opts *o, const char *endpoint)
{
    store_app app;
    store_key key;
    bool created = false;
    store_rc found = auth_app_first(st, "development", clock_unix(), &app, &key, &created);
    if (found != STORE_OK && found != STORE_NOTFOUND)
        return -1;
    int rc = 0;
    if (created || (found == STORE_OK && o->postgres != NULL &&
                    !meetd_credentials_current(o->data, &app, &key))) {
        rc = meetd_write_credentials(o->data, endpoint, &app, &key);
        if (rc == 0 && created) {
            printf("meetd: created a development app; its credentials (also in %s/credentials):\n",
                   o->data);
            meetd_print_credentials(stdout, endpoint, &app, &key);
            fflush(stdout);
            log_info("created development app %s", app.app_id);
        } else if (rc == 0) {
            log_info("wrote the credentials of development app %s to %s/credentials",
                     app.app_id, o->data);
        }
    } else {
        if (found == STORE_NOTFOUND && o->postgres != NULL)
            log_info("the shared store has apps but no development app with a key: "
                     "no %s/credentials written", o->data);
    }
    OPENSSL_cleanse(&key, sizeof key);
    return rc;
}

/* Requests signed before this start may have been seen by the previous
 * process, whose replay memory is gone: refuse their timestamps, and accept
 * connections only once the clock has moved past them, so that a client
 * whose clock agrees with ours is never refused. Writes need no floor (the
 * store keeps their spent nonces); this covers reads, and only those with
 * timestamps up to now. */
/* --rate-limit on a shared store: the store's bucket of each app. */
typedef struct serve_rate {
    store *st;
    double rate;
    double burst;
} serve_rate;

static int serve_rate_take(void *arg, const char *app_id, int64_t want, int64_t *granted)
{
    const serve_rate *r = arg;
    return store_rate_take(r->st, app_id, r->rate, r->burst, want, granted) == STORE_OK ? 0 : -1;
}

static void serve_replay_floor(auth_replay *replay)
{
    int64_t start = clock_unix();
    auth_replay_raise_floor(replay, start);
    while (clock_unix() <= start) {
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

/* Sizes the connections to the descriptors (http/limits.h) and says so:
 * an operator reads here what meetd will hold. */
static int serve_limits(const serve_opts *o, store *st, const unsigned long nofile[3],
                        int raised, http_limits *l)
{
    *l = (http_limits){.nofile = nofile[1], .open_fds = http_limits_open_fds(),
                       .store_fds = (unsigned long)store_descriptors(st),
                       .threads = o->threads, .want_connections = o->max_connections,
                       .want_reserve = o->api_reserve,
                       .want_per_app = o->max_streams_per_app};
    char why[256];
    if (http_limits_size(l, why, sizeof why) != 0) {
        log_error("cannot serve: %s", why);
        return -1;
    }
    char rl[96];
    if (raised != 0)
        snprintf(rl, sizeof rl, "soft limit not raised to the hard limit %lu", nofile[2]);
    else if (nofile[0] != nofile[1])
        snprintf(rl, sizeof rl, "soft limit raised from %lu to the hard limit", nofile[0]);
    else
        snprintf(rl, sizeof rl, "the hard limit");
    char asked[64] = "as asked";
    if (l->max_connections < o->max_connections)
        snprintf(asked, sizeof asked, "--max-connections %u lowered to fit", o->max_connections);
    log_info("limits: open files %lu (%s); connections %u (%s: %lu descriptors kept for "
             "meetd itself: %lu open at start, %lu for the store's connections, %u per thread, "
             "1 listening, %d spare); "
             "event streams at most %u (%u connections kept for API requests), %u per app",
             nofile[1], rl, l->max_connections, asked, l->held_back, l->open_fds,
             l->store_fds, HTTP_LIMITS_FD_PER_THREAD, HTTP_LIMITS_FD_SPARE, l->max_streams, l->api_reserve,
             l->max_streams_per_app);
    return 0;
}

static int serve_run(const serve_opts *o)
{
    int ret = 1;
    store *st = NULL;
    auth_replay *replay = NULL;
    auth_ratelimit *rl = NULL;
    auth_keycache *keys = NULL;
    http_server *srv = NULL;
    live_hub *live = NULL;
    presence *pres = NULL;
    webhook_worker *hooks = NULL;
    bool curl_ready = false;
    bool published = false;
    sigset_t set;

    /* Every thread started later inherits this mask, so only sigwait below
     * sees them. */
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    /* Before anything opens: every connection is a descriptor. */
    unsigned long nofile[3] = {0, 0, 0};   /* soft before, soft now, hard */
    int nofile_raised = http_limits_raise_nofile(&nofile[0], &nofile[1], &nofile[2]);

    store_options so = {.data_dir = o->data, .durability = o->durability, .exclusive = true,
                        .backend = o->postgres != NULL ? "postgres" : NULL,
                        .conninfo = o->postgres, .writers = (int)o->pg_writers};
    /* Once, before any thread exists: curl_global_init is not thread-safe. */
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        log_error("cannot initialise libcurl");
        goto out;
    }
    curl_ready = true;
    if (auth_init() != 0) {
        log_error("cannot initialise HMAC-SHA256");
        goto out;
    }
    /* For the tests alone (docs/internals.md): every write job runs twice,
     * the first run undone, as a backend that cannot serialise a batch
     * runs it (store.h). Not a flag: nobody wants it in production. */
    const char *rerun = getenv("MEETD_TEST_RERUN_JOBS");
    so.rerun_jobs = rerun != NULL && strcmp(rerun, "1") == 0;
    if (so.rerun_jobs)
        log_info("store: MEETD_TEST_RERUN_JOBS=1: every write job runs twice");
    /* The shared store's node keeps only its own files in DIR (credentials,
     * endpoint); SQLite's store makes DIR itself. */
    if (o->postgres != NULL && mkdir(o->data, 0700) != 0 && errno != EEXIST) {
        log_error("cannot create %s: %s", o->data, strerror(errno));
        goto out;
    }
    if (store_open(&so, &st) != STORE_OK) {
        /* Never the conninfo: it may hold a password. */
        if (o->postgres != NULL)
            log_error("cannot open the store in PostgreSQL (--postgres)");
        else
            log_error("cannot open the store in %s", o->data);
        goto out;
    }
    if (auth_replay_new(o->replay_capacity, &replay) != 0)
        goto out;
    serve_replay_floor(replay);
    serve_rate rate = {.st = st, .rate = o->rate_limit,
                       .burst = o->rate_limit < 1 ? 1 : o->rate_limit};
    if (o->rate_limit > 0 && !store_shared(st) &&
        auth_ratelimit_new(rate.rate, rate.burst, &rl) != 0)
        goto out;
    /* Nodes sharing the store share each app's bucket too, a twentieth of
     * the rate (at least one token) at a time: over-admission stays within
     * nodes x chunk tokens (docs/cluster.md). */
    if (o->rate_limit > 0 && store_shared(st) &&
        auth_ratelimit_new_shared(rate.rate, rate.burst,
                                  o->rate_limit / 20 < 1 ? 1 : (int64_t)(o->rate_limit / 20),
                                  serve_rate_take, &rate, &rl) != 0)
        goto out;
    /* 1 s: how long a key could outlive its deletion should the change stamp
     * ever fail to move (store_keys_stamp). */
    if (auth_keycache_new(SERVE_KEYCACHE_MAX, 1000, &keys) != 0)
        goto out;
    /* Before the hub and the server, the two that enqueue events. */
    if (webhook_worker_start(st, &o->hooks, &hooks) != 0)
        goto out;
    /* Counted now: the store, the log and the webhook worker are open. */
    http_limits lim;
    if (serve_limits(o, st, nofile, nofile_raised, &lim) != 0)
        goto out;
    live_config lc = {.heartbeat_ms = (int)o->heartbeat * 1000,
                      .max_streams = lim.max_streams,
                      .max_streams_per_app = lim.max_streams_per_app};
    /* Outlives the hub, which tells it of every stream that opens or goes;
     * its sweeper starts once the address is known. */
    /* One node id for presence and the webhook leases. */
    presence_config pc = {.grace_ms = (int)o->presence_grace * 1000, .node_id = ids_node_id()};
    if (presence_new(st, hooks, &pc, &pres) != 0)
        goto out;
    lc.node_id = presence_node_id(pres);   /* its streams end on "superseded" rows naming it */
    if (live_hub_new(&lc, st, presence_note, pres, &live) != 0)
        goto out;
    api_env env = {.st = st, .replay = replay, .rl = rl, .keys = keys, .live = live,
                   .hooks = hooks};
    http_config hc = {.host = o->host, .port = (uint16_t)o->port, .threads = o->threads,
                      .max_connections = lim.max_connections,
                      .per_ip_connections = o->per_ip, .idle_timeout = o->idle_timeout,
                      .request_timeout = o->request_timeout,
                      .metrics_public = o->metrics_public};
    if (http_start(&hc, &env, &srv) != 0)
        goto out;
    char endpoint[300];
    snprintf(endpoint, sizeof endpoint, strchr(o->host, ':') ? "http://[%s]:%u" : "http://%s:%u",
             o->host, (unsigned)http_port(srv));
    if (presence_start(pres, live, endpoint) != 0) {
        log_error("cannot start the presence sweeper");
        goto out;
    }
    if (serve_first_start(st, o, endpoint) != 0) {
        log_error("cannot create the development app");
        goto out;
    }
    /* Not fatal: meetd serves all the same, only `meetd app` and an old
     * credentials file would name another address. */
    published = true;
    if (meetd_endpoint_publish(o->data, endpoint) != 0)
        log_error("cannot record the address %s in %s", endpoint, o->data);
    /* Names this process in the store's leases (outbox.leased_by). */
    log_info("node id %lld", (long long)ids_node_id());
    fprintf(stderr, "meetd: listening on %s\n", endpoint);
    fflush(stderr);

    int sig = 0;
    sigwait(&set, &sig);
    log_info("signal %d: shutting down", sig);
    ret = 0;
out:
    if (published)
        meetd_endpoint_withdraw(o->data);
    /* Streams end first: libmicrohttpd cannot stop with suspended ones. */
    live_hub_shutdown(live);
    /* Every stream of the node detached at once, with grace from now. */
    presence_stop(pres);
    http_stop(srv);
    live_hub_free(live);
    presence_free(pres);
    /* Nothing enqueues any more; pending deliveries wait in the outbox. */
    webhook_worker_stop(hooks);
    auth_ratelimit_free(rl);
    auth_keycache_free(keys);
    auth_replay_free(replay);
    store_close(st);
    auth_shutdown();
    if (curl_ready)
        curl_global_cleanup();
    return ret;
}

int meetd_serve_main(int argc, char **argv)
{
    serve_opts o;
    int rc = serve_parse(argc, argv, &o);
    if (rc != 0)
        return rc == 1 ? 0 : rc;
    return serve_run(&o);
}
