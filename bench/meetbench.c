/* meetbench: options, the run's phases (setup, warm-up and measurement, or
 * the streams phase), and the report. See bench/README.md. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "auth/auth.h"
#include "meetbench.h"

#define MB_STREAMS_STALL_NS (10 * 1000000000LL)   /* no progress this long: give up */

static void usage(FILE *f)
{
    fprintf(f,
        "usage: meetbench [options] SCENARIO\n"
        "scenarios: static, kickout, join-churn, participants, mixed, streams\n"
        "  --url URL            http://127.0.0.1:PORT[/path] (default: the profile's endpoint)\n"
        "  --stream-url URL     streams: open the event streams on this node, send every\n"
        "                       request to --url (default: --url)\n"
        "  --profile FILE       meetd credentials (KEY=VALUE lines; default: MEETD_* variables)\n"
        "  --connections N      keep-alive connections (default 64)\n"
        "  --setup-connections N  connections for setup's joins (default: --connections)\n"
        "  --threads N          client threads, one epoll loop each (default 1)\n"
        "  --duration S         measured seconds (default 10)\n"
        "  --requests N         or: measure until N answers (then --duration is a bound)\n"
        "  --warmup S           seconds before measuring (default 2)\n"
        "  --rate R             open loop: R steps a second over all connections (default: closed loop)\n"
        "  --pipeline           send a step's requests at once (kick and re-join)\n"
        "  --meetings N         meetings set up (default 10)\n"
        "  --participants N     devices joined per meeting (default 100)\n"
        "  --mix R,J,K          mixed: percent reads, re-joins, kickouts (default 60,20,20)\n"
        "  --walk               reads: each connection pages through one meeting in order,\n"
        "                       as a client listing it would (default: random pages)\n"
        "  --path PATH          static: the path to GET (default: the URL's, or /)\n"
        "  --kicks N            streams: devices kicked (default 1000)\n"
        "  --hold S             streams: seconds all streams stay open before kicking (default 1)\n"
        "  --pid PID            the server's pid: report its CPU use, its threads' wait for a\n"
        "                       CPU (run queue) and its RSS\n"
        "  --seed N             random seed (default 1)\n"
        "  --json               one JSON object on stdout instead of the table\n");
}

/* ---- settings --------------------------------------------------------------- */

static const char *const scenario_names[] = {
    [MB_SCEN_STATIC] = "static",           [MB_SCEN_KICKOUT] = "kickout",
    [MB_SCEN_JOIN_CHURN] = "join-churn",   [MB_SCEN_PARTICIPANTS] = "participants",
    [MB_SCEN_MIXED] = "mixed",             [MB_SCEN_STREAMS] = "streams",
};

static int parse_scenario(const char *s, mb_config *cfg)
{
    for (size_t i = 0; i < sizeof scenario_names / sizeof scenario_names[0]; i++) {
        if (strcmp(s, scenario_names[i]) == 0) {
            cfg->scenario = (mb_scenario)i;
            cfg->scenario_name = scenario_names[i];
            return 0;
        }
    }
    return -1;
}

/* http://HOST:PORT[/path], HOST an IPv4 loopback address or localhost:
 * meetbench loads only this machine. */
static int parse_url(const char *url, mb_endpoint *to, char *path, size_t path_cap)
{
    if (strncmp(url, "http://", 7) != 0)
        return -1;
    const char *host = url + 7;
    const char *colon = strchr(host, ':');
    if (colon == NULL || colon - host >= 64)
        return -1;
    char name[64];
    memcpy(name, host, (size_t)(colon - host));
    name[colon - host] = '\0';
    if (strcmp(name, "localhost") == 0)
        strcpy(name, "127.0.0.1");
    char *end;
    errno = 0;
    unsigned long port = strtoul(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || port == 0 || port > 65535 || (*end && *end != '/'))
        return -1;
    memset(&to->addr, 0, sizeof to->addr);
    to->addr.sin_family = AF_INET;
    to->addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, name, &to->addr.sin_addr) != 1)
        return -1;
    if ((ntohl(to->addr.sin_addr.s_addr) >> 24) != 127) {
        fprintf(stderr, "meetbench: %s is not a loopback address\n", name);
        return -1;
    }
    snprintf(to->host_header, sizeof to->host_header, "%s:%lu", name, port);
    snprintf(path, path_cap, "%s", *end ? end : "/");
    return 0;
}

static void set_field(char *dst, size_t cap, const char *v)
{
    snprintf(dst, cap, "%s", v != NULL ? v : "");
}

/* Applies one credentials line (KEY=VALUE, maybe `export `, maybe quoted). */
static void profile_line(char *line, mb_config *cfg, char *endpoint, size_t cap)
{
    line[strcspn(line, "\r\n")] = '\0';
    if (strncmp(line, "export ", 7) == 0)
        line += 7;
    char *eq = strchr(line, '=');
    if (eq == NULL)
        return;
    *eq = '\0';
    char *v = eq + 1;
    size_t n = strlen(v);
    if (n >= 2 && (v[0] == '"' || v[0] == '\'') && v[n - 1] == v[0]) {
        v[n - 1] = '\0';
        v++;
    }
    if (strcmp(line, "MEETD_ENDPOINT") == 0)
        set_field(endpoint, cap, v);
    else if (strcmp(line, "MEETD_APP_ID") == 0)
        set_field(cfg->app_id, sizeof cfg->app_id, v);
    else if (strcmp(line, "MEETD_SDK_ID") == 0)
        set_field(cfg->sdk_id, sizeof cfg->sdk_id, v);
    else if (strcmp(line, "MEETD_SECRET_ID") == 0)
        set_field(cfg->secret_id, sizeof cfg->secret_id, v);
    else if (strcmp(line, "MEETD_SECRET_KEY") == 0)
        set_field(cfg->secret_key, sizeof cfg->secret_key, v);
}

static int load_profile(const char *file, mb_config *cfg, char *endpoint, size_t cap)
{
    if (file == NULL) {
        set_field(endpoint, cap, getenv("MEETD_ENDPOINT"));
        set_field(cfg->app_id, sizeof cfg->app_id, getenv("MEETD_APP_ID"));
        set_field(cfg->sdk_id, sizeof cfg->sdk_id, getenv("MEETD_SDK_ID"));
        set_field(cfg->secret_id, sizeof cfg->secret_id, getenv("MEETD_SECRET_ID"));
        set_field(cfg->secret_key, sizeof cfg->secret_key, getenv("MEETD_SECRET_KEY"));
        return 0;
    }
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        fprintf(stderr, "meetbench: %s: %s\n", file, strerror(errno));
        return -1;
    }
    char line[1024];
    while (fgets(line, sizeof line, f) != NULL)
        profile_line(line, cfg, endpoint, cap);
    fclose(f);
    return 0;
}

static int parse_num(const char *s, double min, double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !(v >= min && v <= max))
        return -1;
    *out = v;
    return 0;
}

static int parse_int(const char *s, int min, int max, int *out)
{
    double v;
    if (parse_num(s, min, max, &v) != 0 || v != (int)v)
        return -1;
    *out = (int)v;
    return 0;
}

static int parse_mix(const char *s, mb_config *cfg)
{
    int r, j, k;
    char tail;
    if (sscanf(s, "%d,%d,%d%c", &r, &j, &k, &tail) != 3 || r < 0 || j < 0 || k < 0 ||
        r + j + k != 100)
        return -1;
    cfg->mix_read = r;
    cfg->mix_join = j;
    cfg->mix_kick = k;
    return 0;
}

enum {
    OPT_URL = 1, OPT_PROFILE, OPT_CONNECTIONS, OPT_THREADS, OPT_DURATION, OPT_WARMUP,
    OPT_RATE, OPT_PIPELINE, OPT_MEETINGS, OPT_PARTICIPANTS, OPT_MIX, OPT_WALK, OPT_PATH, OPT_KICKS,
    OPT_HOLD, OPT_PID, OPT_SEED, OPT_JSON, OPT_HELP, OPT_SETUP_CONNECTIONS, OPT_REQUESTS,
    OPT_STREAM_URL,
};

static const struct option longopts[] = {
    {"url", required_argument, NULL, OPT_URL},
    {"profile", required_argument, NULL, OPT_PROFILE},
    {"connections", required_argument, NULL, OPT_CONNECTIONS},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"rate", required_argument, NULL, OPT_RATE},
    {"pipeline", no_argument, NULL, OPT_PIPELINE},
    {"meetings", required_argument, NULL, OPT_MEETINGS},
    {"participants", required_argument, NULL, OPT_PARTICIPANTS},
    {"mix", required_argument, NULL, OPT_MIX},
    {"walk", no_argument, NULL, OPT_WALK},
    {"path", required_argument, NULL, OPT_PATH},
    {"kicks", required_argument, NULL, OPT_KICKS},
    {"hold", required_argument, NULL, OPT_HOLD},
    {"pid", required_argument, NULL, OPT_PID},
    {"seed", required_argument, NULL, OPT_SEED},
    {"json", no_argument, NULL, OPT_JSON},
    {"help", no_argument, NULL, OPT_HELP},
    {"setup-connections", required_argument, NULL, OPT_SETUP_CONNECTIONS},
    {"requests", required_argument, NULL, OPT_REQUESTS},
    {"stream-url", required_argument, NULL, OPT_STREAM_URL},
    {NULL, 0, NULL, 0},
};

/* The options that name something, kept until the profile is read. */
typedef struct mb_names {
    const char *url;
    const char *stream_url;
    const char *profile;
    const char *path;
} mb_names;

/* One option; 0, or -1 when its value is bad. */
static int apply_option(int opt, const char *v, mb_config *cfg, mb_names *nm)
{
    double d;
    int pid;
    switch (opt) {
    case OPT_URL: nm->url = v; return 0;
    case OPT_STREAM_URL: nm->stream_url = v; return 0;
    case OPT_PROFILE: nm->profile = v; return 0;
    case OPT_PATH: nm->path = v; return 0;
    case OPT_CONNECTIONS: return parse_int(v, 1, 1000000, &cfg->connections);
    case OPT_SETUP_CONNECTIONS: return parse_int(v, 1, 100000, &cfg->setup_connections);
    case OPT_THREADS: return parse_int(v, 1, 256, &cfg->threads);
    case OPT_DURATION: return parse_num(v, 0.1, 86400, &cfg->duration_s);
    case OPT_REQUESTS:
        if (parse_num(v, 1, 1e12, &d) != 0)
            return -1;
        cfg->requests = (long)d;
        return 0;
    case OPT_WARMUP: return parse_num(v, 0, 3600, &cfg->warmup_s);
    case OPT_RATE: return parse_num(v, 0, 1e8, &cfg->rate);
    case OPT_PIPELINE: cfg->pipeline = true; return 0;
    case OPT_MEETINGS: return parse_int(v, 1, 1000000, &cfg->meetings);
    case OPT_PARTICIPANTS: return parse_int(v, 1, 10000000, &cfg->participants);
    case OPT_MIX: return parse_mix(v, cfg);
    case OPT_WALK: cfg->walk = true; return 0;
    case OPT_KICKS: return parse_int(v, 0, 10000000, &cfg->kicks);
    case OPT_HOLD: return parse_num(v, 0, 3600, &cfg->hold_s);
    case OPT_PID:
        if (parse_int(v, 1, INT_MAX, &pid) != 0)
            return -1;
        cfg->pid = (pid_t)pid;
        return 0;
    case OPT_SEED:
        if (parse_num(v, 0, 4294967295.0, &d) != 0)
            return -1;
        cfg->seed = (unsigned)d;
        return 0;
    case OPT_JSON: cfg->json = true; return 0;
    }
    return -1;
}

static int parse_args(int argc, char **argv, mb_config *cfg)
{
    mb_names nm = {0};
    *cfg = (mb_config){.connections = 64, .threads = 1, .duration_s = 10, .warmup_s = 2,
                       .meetings = 10, .participants = 100, .mix_read = 60, .mix_join = 20,
                       .mix_kick = 20, .kicks = 1000, .hold_s = 1, .seed = 1};
    int opt;
    bool duration_given = false;
    while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        duration_given |= opt == OPT_DURATION;
        if (opt == 'h' || opt == OPT_HELP) {
            usage(stdout);
            exit(0);
        }
        if (opt == '?' || apply_option(opt, optarg, cfg, &nm) != 0) {
            if (opt != '?')
                fprintf(stderr, "meetbench: bad value for --%s: %s\n",
                        longopts[opt - 1].name, optarg);
            return -1;
        }
    }
    if (optind != argc - 1 || parse_scenario(argv[optind], cfg) != 0) {
        usage(stderr);
        return -1;
    }
    char endpoint[256] = "";
    const char *url = nm.url;
    if (cfg->scenario != MB_SCEN_STATIC || url == NULL)
        if (load_profile(nm.profile, cfg, endpoint, sizeof endpoint) != 0)
            return -1;
    if (url == NULL)
        url = endpoint;
    if (url[0] == '\0') {
        fprintf(stderr, "meetbench: no --url and no MEETD_ENDPOINT\n");
        return -1;
    }
    char url_path[sizeof cfg->path];
    if (parse_url(url, &cfg->api, url_path, sizeof url_path) != 0) {
        fprintf(stderr, "meetbench: bad URL %s (want http://127.x.x.x:PORT[/path])\n", url);
        return -1;
    }
    snprintf(cfg->path, sizeof cfg->path, "%s", nm.path != NULL ? nm.path : url_path);
    /* Streams on another node than the one that is sent the kicks: the
     * time from a kick to the end of a stream then crosses the nodes'
     * shared store and the relay (docs/cluster.md). */
    cfg->stream = cfg->api;
    if (nm.stream_url != NULL && cfg->scenario != MB_SCEN_STREAMS) {
        fprintf(stderr, "meetbench: --stream-url is for the streams scenario\n");
        return -1;
    }
    if (nm.stream_url != NULL &&
        parse_url(nm.stream_url, &cfg->stream, url_path, sizeof url_path) != 0) {
        fprintf(stderr, "meetbench: bad URL %s (want http://127.x.x.x:PORT)\n", nm.stream_url);
        return -1;
    }
    if (cfg->scenario != MB_SCEN_STATIC && (cfg->app_id[0] == '\0' || cfg->secret_id[0] == '\0' ||
                                            cfg->secret_key[0] == '\0')) {
        fprintf(stderr, "meetbench: no credentials (--profile FILE or MEETD_* variables)\n");
        return -1;
    }
    long slots = (long)cfg->meetings * cfg->participants;
    if (slots > 50000000) {
        fprintf(stderr, "meetbench: --meetings x --participants is too large\n");
        return -1;
    }
    if ((cfg->scenario == MB_SCEN_KICKOUT || cfg->scenario == MB_SCEN_JOIN_CHURN) &&
        slots < cfg->connections) {
        fprintf(stderr, "meetbench: %s needs --meetings x --participants >= --connections "
                        "(each connection acts on devices of its own)\n", cfg->scenario_name);
        return -1;
    }
    if (cfg->requests > 0 && !duration_given)
        cfg->duration_s = 3600;      /* only a bound: the count ends the run */
    if (cfg->setup_connections == 0)
        cfg->setup_connections = cfg->connections;
    if (cfg->threads > cfg->connections && cfg->scenario != MB_SCEN_STREAMS)
        cfg->threads = cfg->connections;
    return 0;
}

/* ---- processes: CPU time and memory --------------------------------------- */

/* CPU seconds (user + system) used by pid so far, or -1. */
static double proc_cpu_s(pid_t pid)
{
    char path[64], line[2048];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    size_t n = fread(line, 1, sizeof line - 1, f);
    fclose(f);
    line[n] = '\0';
    /* Fields after the command name, which may hold spaces: from the last ')'. */
    char *p = strrchr(line, ')');
    unsigned long long ut, st;
    if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
                            &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

/* VmRSS of pid in KiB, or -1. */
static long proc_rss_kb(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return -1;
    long kb = -1;
    while (fgets(line, sizeof line, f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

/* Seconds pid's threads have spent runnable but waiting for a CPU (the
 * scheduler's run-queue wait, /proc/<pid>/task/<tid>/schedstat), or -1. */
static double proc_wait_s(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (d == NULL)
        return -1;
    unsigned long long total = 0;
    bool any = false;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        char file[320];
        snprintf(file, sizeof file, "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
        FILE *f = fopen(file, "r");
        unsigned long long run, wait;
        if (f == NULL)
            continue;   /* the thread ended */
        if (fscanf(f, "%llu %llu", &run, &wait) == 2) {
            total += wait;
            any = true;
        }
        fclose(f);
    }
    closedir(d);
    return any ? (double)total / 1e9 : -1;
}

/* The machine's idle and total CPU time so far (/proc/stat, in ticks);
 * false when unknown. Idle includes waiting for I/O. */
static bool machine_ticks(unsigned long long *idle, unsigned long long *total)
{
    FILE *f = fopen("/proc/stat", "r");
    if (f == NULL)
        return false;
    unsigned long long v[8] = {0};
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
                   &v[4], &v[5], &v[6], &v[7]);
    fclose(f);
    if (n < 5)
        return false;
    *idle = v[3] + v[4];
    *total = 0;
    for (int i = 0; i < 8; i++)
        *total += v[i];
    return true;
}

static double self_cpu_s(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static void sleep_until(int64_t t_ns)
{
    struct timespec ts = {.tv_sec = t_ns / 1000000000LL, .tv_nsec = t_ns % 1000000000LL};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
        ;
}

/* ---- phases ----------------------------------------------------------------- */

typedef struct mb_result {
    mb_stats *meas;
    mb_stats *warm;
    double setup_s;
    double server_cpu;         /* cores busy during the measurement, -1 unknown */
    double server_wait;        /* s/s the server's threads waited for a CPU, -1 unknown */
    double machine_idle;       /* share of the machine's CPU time idle, -1 unknown */
    double client_cpu;
    long server_rss_kb;
    double span_s;             /* the measured window's length */
    long rss_before_kb;        /* streams: before any stream opened */
    long rss_streams_kb;       /* streams: the most seen while all were open */
    int streams;
    int kicks;
} mb_result;

static void *worker_main(void *arg)
{
    mb_worker *w = arg;
    w->rc = mb_worker_loop(w);
    return NULL;
}

static void free_conn(mb_conn *c)
{
    if (c->fd >= 0)
        mb_conn_close(c);
    mb_buf_free(&c->in);
    mb_buf_free(&c->out);
    mb_buf_free(&c->body);
    free(c->owned);
}

static void free_workers(mb_worker *w, int n)
{
    for (int i = 0; i < n; i++) {
        for (int j = 0; j < w[i].n_conns; j++)
            free_conn(w[i].conns[j]);
        free(w[i].conns);
        free(w[i].warm);
        free(w[i].meas);
        if (w[i].epfd >= 0)
            close(w[i].epfd);
    }
    free(w);
}

/* Workers, each with its share of the connections: load connection g and
 * stream s go to thread g % threads and s % threads. */
static mb_worker *make_workers(mb_run *run, int n_load, int n_streams, mb_conn *conns)
{
    const mb_config *cfg = run->cfg;
    int t = cfg->threads;
    mb_worker *w = calloc((size_t)t, sizeof *w);
    if (w == NULL)
        return NULL;
    for (int i = 0; i < t; i++)
        w[i].epfd = -1;
    for (int i = 0; i < t; i++) {
        int load = n_load / t + (i < n_load % t);
        int streams = n_streams / t + (i < n_streams % t);
        w[i].id = i;
        w[i].run = run;
        w[i].rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(cfg->seed * 64 + (unsigned)i + 1);
        w[i].epfd = epoll_create1(EPOLL_CLOEXEC);
        w[i].conns = calloc((size_t)(load + streams) + 1, sizeof *w[i].conns);
        w[i].warm = malloc(sizeof *w[i].warm);
        w[i].meas = malloc(sizeof *w[i].meas);
        if (w[i].epfd < 0 || w[i].conns == NULL || w[i].warm == NULL || w[i].meas == NULL) {
            free_workers(w, t);
            return NULL;
        }
        mb_stats_reset(w[i].warm);
        mb_stats_reset(w[i].meas);
    }
    for (int g = 0; g < n_load + n_streams; g++) {
        mb_conn *c = &conns[g];
        bool stream = g >= n_load;
        int idx = stream ? g - n_load : g;
        mb_worker *wk = &w[idx % t];
        c->fd = -1;
        c->id = idx;
        c->role = stream ? MB_ROLE_STREAM : MB_ROLE_LOAD;
        c->stream_slot = stream ? idx : -1;
        c->w = wk;
        wk->conns[wk->n_conns++] = c;
        if (!stream)
            wk->n_load++;
        if (!stream && run->phase == MB_PHASE_LOAD && mb_scen_assign(c, run) != 0) {
            free_workers(w, t);
            return NULL;
        }
    }
    return w;
}

/* The main thread during a timed phase: samples CPU and memory at the
 * window's edges. */
static void watch_load(mb_run *run, mb_result *res)
{
    pid_t pid = run->cfg->pid;
    sleep_until(run->measure_ns);
    double s0 = pid ? proc_cpu_s(pid) : -1, c0 = self_cpu_s();
    double w0 = pid ? proc_wait_s(pid) : -1;
    unsigned long long i0, t0, i1, t1;
    bool m0 = machine_ticks(&i0, &t0);
    /* In slices: --requests may end the window early. */
    int64_t now;
    while ((now = mb_now_ns()) < run->end_ns && !atomic_load(&run->stop))
        sleep_until(now + 10000000LL < run->end_ns ? now + 10000000LL : run->end_ns);
    double s1 = pid ? proc_cpu_s(pid) : -1, c1 = self_cpu_s();
    double w1 = pid ? proc_wait_s(pid) : -1;
    bool m1 = machine_ticks(&i1, &t1);
    int64_t ended = atomic_load(&run->ended_ns);
    int64_t end = ended > 0 && ended < run->end_ns ? ended : run->end_ns;
    double span = (double)(end - run->measure_ns) / 1e9;
    if (span <= 0)
        span = 1e-9;
    res->span_s = span;
    res->server_cpu = s0 >= 0 && s1 >= 0 ? (s1 - s0) / span : -1;
    /* A thread that ended in the window takes its wait with it: unknown. */
    res->server_wait = w0 >= 0 && w1 >= w0 ? (w1 - w0) / span : -1;
    res->machine_idle = m0 && m1 && t1 > t0 ? (double)(i1 - i0) / (double)(t1 - t0) : -1;
    res->client_cpu = (c1 - c0) / span;
    res->server_rss_kb = pid ? proc_rss_kb(pid) : -1;
}

/* Waits until counter reaches target; gives up when it has not moved for
 * MB_STREAMS_STALL_NS. Returns its last value. */
static int wait_count(atomic_int *counter, int target)
{
    int last = -1;
    int64_t moved = mb_now_ns();
    for (;;) {
        int v = atomic_load(counter);
        if (v >= target)
            return v;
        int64_t now = mb_now_ns();
        if (v != last) {
            last = v;
            moved = now;
        } else if (now - moved > MB_STREAMS_STALL_NS) {
            return v;
        }
        sleep_until(now + 10000000LL);
    }
}

/* The main thread during the streams phase: all open, memory sampled,
 * held, then the kicks, then the end. */
static void watch_streams(mb_run *run, mb_result *res)
{
    const mb_config *cfg = run->cfg;
    res->streams = wait_count(&run->streams_ready, run->n_slots);
    if (!cfg->json)
        fprintf(stderr, "meetbench: %d of %d streams open\n", res->streams, run->n_slots);
    int64_t hold_end = mb_now_ns() + (int64_t)(cfg->hold_s * 1e9);
    do {
        long kb = cfg->pid ? proc_rss_kb(cfg->pid) : -1;
        if (kb > res->rss_streams_kb)
            res->rss_streams_kb = kb;
        sleep_until(mb_now_ns() + 100000000LL);
    } while (mb_now_ns() < hold_end);
    int64_t t0 = mb_now_ns();
    double c0 = self_cpu_s(), s0 = cfg->pid ? proc_cpu_s(cfg->pid) : -1;
    atomic_store_explicit(&run->kick_go, true, memory_order_release);
    res->kicks = wait_count(&run->kicks_sent, run->n_tasks);
    wait_count(&run->streams_closed, res->kicks);
    double span = (double)(mb_now_ns() - t0) / 1e9;
    res->client_cpu = (self_cpu_s() - c0) / span;
    res->server_cpu = s0 >= 0 ? (proc_cpu_s(cfg->pid) - s0) / span : -1;
    res->server_rss_kb = cfg->pid ? proc_rss_kb(cfg->pid) : -1;
    atomic_store(&run->stop, true);
}

/* Runs one phase with n_load load connections and n_streams streams, and
 * adds what the workers counted to res. 0, or -1. */
static int run_phase(mb_run *run, int n_load, int n_streams, mb_result *res)
{
    int t = run->cfg->threads;
    int rc = 0, started = 0;
    mb_conn *conns = calloc((size_t)(n_load + n_streams), sizeof *conns);
    mb_worker *w = conns != NULL ? make_workers(run, n_load, n_streams, conns) : NULL;
    if (w == NULL) {
        free(conns);
        fprintf(stderr, "meetbench: out of memory\n");
        return -1;
    }
    atomic_store(&run->stop, false);
    for (; started < t; started++)
        if (pthread_create(&w[started].thread, NULL, worker_main, &w[started]) != 0)
            break;
    if (started < t) {
        atomic_store(&run->stop, true);
        rc = -1;
    } else if (run->phase == MB_PHASE_LOAD) {
        watch_load(run, res);
    } else if (run->phase == MB_PHASE_STREAMS) {
        watch_streams(run, res);
    }
    for (int i = 0; i < started; i++) {
        pthread_join(w[i].thread, NULL);
        if (w[i].rc != 0)
            rc = -1;
        mb_stats_merge(res->meas, w[i].meas);
        mb_stats_merge(res->warm, w[i].warm);
    }
    free_workers(w, t);
    free(conns);
    if (atomic_load(&run->failed))
        rc = -1;
    return rc;
}

/* Creates the meetings and joins every slot. */
static int setup(mb_run *run, mb_result *res)
{
    const mb_config *cfg = run->cfg;
    int64_t t0 = mb_now_ns();
    run->measure_ns = INT64_MAX;     /* nothing in setup is measured */
    run->end_ns = INT64_MAX;
    run->phase = MB_PHASE_CREATE;
    run->n_tasks = run->n_meetings;
    atomic_store(&run->next_task, 0);
    int most = cfg->setup_connections;
    int conns = most < run->n_meetings ? most : run->n_meetings;
    if (run_phase(run, conns, 0, res) != 0)
        return -1;
    run->phase = MB_PHASE_JOIN;
    run->n_tasks = run->n_slots;
    atomic_store(&run->next_task, 0);
    conns = most < run->n_slots ? most : run->n_slots;
    if (run_phase(run, conns, 0, res) != 0)
        return -1;
    res->setup_s = (double)(mb_now_ns() - t0) / 1e9;
    mb_stats_reset(res->warm);
    if (!cfg->json)
        fprintf(stderr, "meetbench: setup: %d meetings, %d devices joined in %.2f s\n",
                run->n_meetings, run->n_slots, res->setup_s);
    return 0;
}

static int run_load(mb_run *run, mb_result *res)
{
    const mb_config *cfg = run->cfg;
    run->phase = MB_PHASE_LOAD;
    run->start_ns = mb_now_ns();
    run->measure_ns = run->start_ns + (int64_t)(cfg->warmup_s * 1e9);
    run->end_ns = run->measure_ns + (int64_t)(cfg->duration_s * 1e9);
    return run_phase(run, cfg->connections, 0, res);
}

static int run_streams(mb_run *run, mb_result *res)
{
    const mb_config *cfg = run->cfg;
    run->phase = MB_PHASE_STREAMS;
    run->start_ns = mb_now_ns();
    run->measure_ns = 0;
    run->end_ns = INT64_MAX;
    run->n_tasks = cfg->kicks < run->n_slots ? cfg->kicks : run->n_slots;
    atomic_store(&run->next_task, 0);
    res->rss_before_kb = cfg->pid ? proc_rss_kb(cfg->pid) : -1;
    return run_phase(run, cfg->connections, run->n_slots, res);
}

/* ---- report ------------------------------------------------------------------ */

static double ms(int64_t ns)
{
    return (double)ns / 1e6;
}

static uint64_t total_requests(const mb_stats *s)
{
    uint64_t n = 0;
    for (int i = 0; i < MB_OP__COUNT; i++)
        if (mb_op_is_request((mb_op)i))
            n += s->op[i].count;
    for (int i = 0; i < MB_ERR_KINDS; i++)
        if (s->kind[i].status > 0)
            n += s->kind[i].n;          /* answered, even if with an error */
    return n;
}

static void error_label(const mb_errcount *e, char *out, size_t cap)
{
    static const char *const xerr[] = {"?", "connect", "closed", "malformed"};
    if (e->status == 0)
        snprintf(out, cap, "transport/%s", e->code >= 1 && e->code <= 3 ? xerr[e->code] : "?");
    else if (e->status < 0)
        snprintf(out, cap, "other");
    else
        snprintf(out, cap, "%d/%ld", e->status, e->code);
}


static void print_human(const mb_config *cfg, const mb_result *res)
{
    const mb_stats *s = res->meas;
    double span = res->span_s;
    printf("meetbench %s: %s, %d connections, %d thread%s, ", cfg->scenario_name,
           cfg->api.host_header, cfg->connections, cfg->threads, cfg->threads == 1 ? "" : "s");
    if (cfg->rate > 0)
        printf("open loop at %.0f steps/s", cfg->rate);
    else
        printf("closed loop");
    if (cfg->pipeline)
        printf(", pipelined");
    if (span > 0)
        printf(", %.1f s (+%.0f s warm-up)\n", span, cfg->warmup_s);
    else
        printf("\n");
    if (cfg->scenario != MB_SCEN_STATIC)
        printf("  setup: %d meetings x %d participants in %.2f s\n", cfg->meetings,
               cfg->participants, res->setup_s);
    uint64_t req = total_requests(s);
    if (span > 0)
        printf("  requests: %llu, %.1f/s\n", (unsigned long long)req, (double)req / span);
    printf("  %-14s %9s %10s %9s %9s %9s %9s %9s\n", "latency (ms)", "count", "rate/s", "p50",
           "p99", "p99.9", "max", "mean");
    for (int i = 0; i < MB_OP__COUNT; i++) {
        const mb_hist *h = &s->op[i];
        if (h->count == 0)
            continue;
        char rate[32] = "-";
        if (span > 0)
            snprintf(rate, sizeof rate, "%.1f", (double)h->count / span);
        printf("  %-14s %9llu %10s %9.3f %9.3f %9.3f %9.3f %9.3f\n", mb_op_name((mb_op)i),
               (unsigned long long)h->count, rate,
               ms(mb_hist_percentile(h, 50)), ms(mb_hist_percentile(h, 99)),
               ms(mb_hist_percentile(h, 99.9)), ms(h->max_ns), h->sum_ns / (double)h->count / 1e6);
    }
    printf("  errors: %llu", (unsigned long long)s->errors);
    const char *sep = " (";
    for (int i = 0; i < MB_ERR_KINDS; i++) {
        if (s->kind[i].n == 0)
            continue;
        char label[48];
        error_label(&s->kind[i], label, sizeof label);
        printf("%s%s x%llu", sep, label, (unsigned long long)s->kind[i].n);
        sep = ", ";
    }
    printf("%s\n", s->errors ? ")" : "");
    if (res->warm->errors)
        printf("  errors in warm-up: %llu\n", (unsigned long long)res->warm->errors);
    if (cfg->scenario == MB_SCEN_STREAMS) {
        printf("  streams: %d open on %s, %d kicked", res->streams, cfg->stream.host_header,
               res->kicks);
        if (cfg->pid)
            printf("; server RSS %ld KiB before, %ld KiB with them open (%.1f KiB each)",
                   res->rss_before_kb, res->rss_streams_kb,
                   res->streams > 0
                       ? (double)(res->rss_streams_kb - res->rss_before_kb) / res->streams
                       : 0.0);
        printf("\n");
    }
    printf("  cpu: client %.2f cores", res->client_cpu);
    if (res->server_cpu >= 0)
        printf(", server %.2f cores, server RSS %ld KiB", res->server_cpu, res->server_rss_kb);
    if (res->server_wait >= 0)
        printf(", server threads waited for a CPU %.0f ms/s", res->server_wait * 1000);
    if (res->machine_idle >= 0)
        printf(", machine idle %.0f %%", res->machine_idle * 100);
    printf("\n");
}

static void print_json(const mb_config *cfg, const mb_result *res)
{
    const mb_stats *s = res->meas;
    double span = res->span_s;
    uint64_t req = total_requests(s);
    printf("{\"scenario\":\"%s\",\"target\":\"%s\",\"connections\":%d,\"threads\":%d,"
           "\"duration_s\":%.3f,\"warmup_s\":%g,\"rate\":%g,\"pipeline\":%s,\"meetings\":%d,"
           "\"participants\":%d,\"setup_s\":%.3f,\"requests\":%llu,\"rps\":%.1f,",
           cfg->scenario_name, cfg->api.host_header, cfg->connections, cfg->threads, span,
           cfg->warmup_s, cfg->rate, cfg->pipeline ? "true" : "false", cfg->meetings,
           cfg->participants, res->setup_s, (unsigned long long)req,
           span > 0 ? (double)req / span : 0.0);
    printf("\"ops\":{");
    const char *sep = "";
    for (int i = 0; i < MB_OP__COUNT; i++) {
        const mb_hist *h = &s->op[i];
        if (h->count == 0)
            continue;
        printf("%s\"%s\":{\"count\":%llu,\"rps\":%.1f,\"p50_ms\":%.4f,\"p99_ms\":%.4f,"
               "\"p999_ms\":%.4f,\"max_ms\":%.4f,\"mean_ms\":%.4f}",
               sep, mb_op_name((mb_op)i), (unsigned long long)h->count,
               span > 0 ? (double)h->count / span : 0.0, ms(mb_hist_percentile(h, 50)),
               ms(mb_hist_percentile(h, 99)), ms(mb_hist_percentile(h, 99.9)), ms(h->max_ns),
               h->sum_ns / (double)h->count / 1e6);
        sep = ",";
    }
    printf("},\"errors\":%llu,\"warmup_errors\":%llu,\"error_kinds\":{",
           (unsigned long long)s->errors, (unsigned long long)res->warm->errors);
    sep = "";
    for (int i = 0; i < MB_ERR_KINDS; i++) {
        if (s->kind[i].n == 0)
            continue;
        char label[48];
        error_label(&s->kind[i], label, sizeof label);
        printf("%s\"%s\":%llu", sep, label, (unsigned long long)s->kind[i].n);
        sep = ",";
    }
    printf("},\"client_cpu\":%.3f,\"server_cpu\":%.3f,\"server_rss_kb\":%ld", res->client_cpu,
           res->server_cpu, res->server_rss_kb);
    printf(",\"server_wait_ms_per_s\":%.1f,\"machine_idle\":%.3f",
           res->server_wait >= 0 ? res->server_wait * 1000 : -1.0, res->machine_idle);
    if (cfg->scenario == MB_SCEN_STREAMS)
        printf(",\"stream_target\":\"%s\",\"streams\":%d,\"kicks\":%d,\"rss_before_kb\":%ld,"
               "\"rss_streams_kb\":%ld",
               cfg->stream.host_header, res->streams, res->kicks, res->rss_before_kb,
               res->rss_streams_kb);
    printf("}\n");
}

/* ---- main ------------------------------------------------------------------------ */

/* Many streams need many descriptors: take what the hard limit allows. */
static void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static int run_all(const mb_config *cfg, mb_result *res)
{
    mb_run run = {.cfg = cfg, .n_meetings = cfg->meetings,
                  .n_slots = cfg->meetings * cfg->participants};
    int rc = -1;
    if (cfg->scenario == MB_SCEN_STATIC) {
        run.n_meetings = 0;
        run.n_slots = 0;
        return run_load(&run, res);
    }
    run.meeting_id = calloc((size_t)run.n_meetings, sizeof *run.meeting_id);
    run.slots = calloc((size_t)run.n_slots, sizeof *run.slots);
    if (run.meeting_id == NULL || run.slots == NULL)
        goto out;
    for (int s = 0; s < run.n_slots; s++) {
        run.slots[s].meeting = s % run.n_meetings;
        run.slots[s].user = s / run.n_meetings;
    }
    if (setup(&run, res) != 0)
        goto out;
    rc = cfg->scenario == MB_SCEN_STREAMS ? run_streams(&run, res) : run_load(&run, res);
out:
    free(run.meeting_id);
    free(run.slots);
    return rc;
}

int main(int argc, char **argv)
{
    mb_config cfg;
    if (parse_args(argc, argv, &cfg) != 0)
        return 2;
    if (auth_init() != 0) {
        fprintf(stderr, "meetbench: cannot load HMAC from OpenSSL\n");
        return 1;
    }
    raise_nofile();
    mb_nonce_init();
    mb_result res = {.server_cpu = -1, .server_wait = -1, .machine_idle = -1,
                     .server_rss_kb = -1, .rss_before_kb = -1, .rss_streams_kb = -1};
    res.meas = malloc(sizeof *res.meas);
    res.warm = malloc(sizeof *res.warm);
    int rc = 1;
    if (res.meas == NULL || res.warm == NULL)
        goto out;
    mb_stats_reset(res.meas);
    mb_stats_reset(res.warm);
    if (run_all(&cfg, &res) != 0) {
        fprintf(stderr, "meetbench: %s run failed\n", cfg.scenario_name);
        goto out;
    }
    if (cfg.json)
        print_json(&cfg, &res);
    else
        print_human(&cfg, &res);
    /* 3: the run finished but something answered wrongly. */
    rc = res.meas->errors > 0 ? 3 : 0;
out:
    free(res.meas);
    free(res.warm);
    auth_shutdown();
    return rc;
}
