/* meetd app: administer apps in the store directly (no server needed). */
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth/apps.h"
#include "cli/meetd_cli.h"
#include "common/ids.h"
#include "live/webhook.h"

static void app_usage(FILE *f)
{
    fprintf(f,
            "usage: meetd app create [--data DIR] [--name NAME] [--sdk-id ID | --no-sdk-id]\n"
            "                        [--endpoint URL]\n"
            "       meetd app list [--data DIR]\n"
            "       meetd app rotate-key [--data DIR] [--endpoint URL] APPID\n"
            "       meetd app delete [--data DIR] APPID\n"
            "       meetd app webhook add [--data DIR] APPID URL [--token T]\n"
            "       meetd app webhook list [--data DIR] APPID\n"
            "       meetd app webhook remove [--data DIR] APPID ID\n"
            "DIR defaults to $MEETD_DATA or %s. create and rotate-key print the\n"
            "credentials block (MEETD_*=...) on standard output; its MEETD_ENDPOINT is\n"
            "--endpoint, else the address of the meetd serve running on DIR. webhook add\n"
            "generates a token when none is given. Every command takes --postgres CONNINFO\n"
            "(or $MEETD_POSTGRES): it then administers the apps of the PostgreSQL that\n"
            "nodes started with the same --postgres share, rather than those in DIR.\n"
            "example: meetd app create --name billing --data ./var\n",
            MEETD_DEFAULT_DATA);
}

/* "meetd app: <message>" and a pointer to the help on stderr; returns 2. */
static int app_bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int app_bad_usage(const char *fmt, ...)
{
    fputs("meetd app: ", stderr);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nTry 'meetd app --help'.\n", stderr);
    return 2;
}

typedef struct app_opts {
    const char *data;
    const char *postgres;   /* libpq conninfo; NULL: SQLite in data */
    const char *name;
    const char *sdk_id;     /* NULL: generate */
    const char *endpoint;
    const char *token;      /* webhook add; NULL: generate */
} app_opts;

/* The store the command administers: PostgreSQL with --postgres, else
 * SQLite in DIR. Says which on failure (never the conninfo: it may hold a
 * password). */
static int app_open(const app_opts *o, store **st)
{
    store_options so = {.data_dir = o->data, .durability = STORE_DURABLE_FULL,
                        .backend = o->postgres != NULL ? "postgres" : NULL,
                        .conninfo = o->postgres};
    if (store_open(&so, st) == STORE_OK)
        return 0;
    if (o->postgres != NULL)
        fprintf(stderr, "meetd: cannot open the store in PostgreSQL (--postgres)\n");
    else
        fprintf(stderr, "meetd: cannot open the store in %s\n", o->data);
    return -1;
}

static store_rc app_count_keys(const store_key *key, void *arg)
{
    (*(int *)arg)++;
    return STORE_OK;
}

static store_rc app_print(const store_app *app, void *arg)
{
    store_tx *tx = arg;
    int keys = 0;
    store_key_list(tx, app->app_id, app_count_keys, &keys);
    char when[32];
    time_t t = (time_t)app->created_at;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%-12s %-14s %-20s %4d  %s\n", app->app_id, app->sdk_id[0] ? app->sdk_id : "-",
           app->name, keys, when);
    return STORE_OK;
}

static store_rc app_list_tx(store_tx *tx, void *arg)
{
    printf("%-12s %-14s %-20s %4s  %s\n", "APPID", "SDKID", "NAME", "KEYS", "CREATED");
    return store_app_list(tx, app_print, tx);
}

/* ---- app webhook add|list|remove ----------------------------------------- */

typedef struct app_hook {
    const char *app_id;
    store_webhook w;        /* add: the new one */
    int64_t id;             /* remove */
    const char *failure;    /* what went wrong, for the message */
} app_hook;

static void app_hook_header(void)
{
    printf("%-6s %-24s %-34s %s\n", "ID", "CREATED", "TOKEN", "URL");
}

static store_rc app_hook_print(const store_webhook *w, void *arg)
{
    char when[32];
    time_t t = (time_t)(w->created_at / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    printf("%-6lld %-24s %-34s %s\n", (long long)w->webhook_id, when, w->token, w->url);
    return STORE_OK;
}

/* Every webhook command names an existing app. Called first by each job,
 * it also clears what an earlier run of the job said (store.h: a job may
 * run more than once). */
static store_rc app_hook_app(store_tx *tx, app_hook *h)
{
    store_app app;
    h->failure = NULL;
    store_rc rc = store_app_get(tx, h->app_id, &app);
    if (rc == STORE_NOTFOUND)
        h->failure = "no such app";
    return rc;
}

static store_rc app_hook_add_tx(store_tx *tx, void *arg)
{
    app_hook *h = arg;
    int64_t n = 0;
    store_rc rc = app_hook_app(tx, h);
    if (rc == STORE_OK)
        rc = store_webhook_count(tx, h->app_id, &n);
    if (rc != STORE_OK)
        return rc;
    if (n >= WEBHOOK_MAX_PER_APP) {
        h->failure = "the app has the most webhooks allowed";
        return STORE_ROLLBACK;
    }
    return store_webhook_insert(tx, &h->w);
}

static store_rc app_hook_list_tx(store_tx *tx, void *arg)
{
    app_hook *h = arg;
    store_rc rc = app_hook_app(tx, h);
    if (rc != STORE_OK)
        return rc;
    app_hook_header();
    return store_webhook_list(tx, h->app_id, app_hook_print, NULL);
}

static store_rc app_hook_remove_tx(store_tx *tx, void *arg)
{
    app_hook *h = arg;
    store_rc rc = app_hook_app(tx, h);
    if (rc != STORE_OK)
        return rc;
    rc = store_webhook_delete(tx, h->app_id, h->id);
    if (rc == STORE_NOTFOUND)
        h->failure = "the app has no such webhook";
    return rc;
}

/* argv: add APPID URL | list APPID | remove APPID ID. Arguments are checked
 * before the store is opened: a usage error changes nothing. */
static int app_webhook(const app_opts *o, int argc, char **argv)
{
    static const struct { const char *name; int args; } subs[] = {
        {"add", 3}, {"list", 2}, {"remove", 3},
    };
    size_t k = 0;
    while (k < 3 && (argc < 1 || strcmp(argv[0], subs[k].name) != 0))
        k++;
    if (k == 3 || argc != subs[k].args || (o->token != NULL && k != 0)) {
        app_usage(stderr);
        return 2;
    }
    app_hook h;
    memset(&h, 0, sizeof h);
    h.app_id = argv[1];
    store_fn fn = k == 0 ? app_hook_add_tx : k == 1 ? app_hook_list_tx : app_hook_remove_tx;
    if (k == 0) {
        if (!webhook_url_valid(argv[2])) {
            fprintf(stderr, "meetd app: the URL must be http:// or https:// with a host, at most "
                            "%d bytes\n", STORE_URL_MAX);
            return 2;
        }
        if (o->token != NULL && !webhook_token_valid(o->token)) {
            fprintf(stderr, "meetd app: --token must be 1..%d printable ASCII characters without "
                            "spaces\n", STORE_TOKEN_MAX);
            return 2;
        }
        snprintf(h.w.app_id, sizeof h.w.app_id, "%s", h.app_id);
        snprintf(h.w.url, sizeof h.w.url, "%s", argv[2]);
        if (o->token != NULL)
            snprintf(h.w.token, sizeof h.w.token, "%s", o->token);
        else if (ids_alnum(h.w.token, 32) != 0)
            return 1;
        h.w.created_at = clock_unix_ms();
    } else if (k == 2) {
        char *end;
        long long id = strtoll(argv[2], &end, 10);
        if (argv[2][0] < '0' || argv[2][0] > '9' || *end != '\0' || id <= 0) {
            fprintf(stderr, "meetd: no webhook %s\n", argv[2]);
            return 1;
        }
        h.id = id;
    }
    store *st = NULL;
    if (app_open(o, &st) != 0)
        return 1;
    store_rc rc = k == 1 ? store_read(st, fn, &h) : store_write(st, fn, &h);
    if (rc == STORE_OK && k == 0) {
        app_hook_header();
        app_hook_print(&h.w, NULL);
    } else if (rc == STORE_OK && k == 2) {
        printf("removed webhook %lld of app %s\n", (long long)h.id, h.app_id);
    } else if (rc != STORE_OK) {
        fprintf(stderr, "meetd: app webhook %s %s: %s\n", subs[k].name, h.app_id,
                h.failure != NULL ? h.failure : "failed");
    }
    OPENSSL_cleanse(&h.w, sizeof h.w);
    store_close(st);
    return rc == STORE_OK ? 0 : 1;
}

static int app_run(const char *cmd, const app_opts *o, const char *app_id)
{
    store *st = NULL;
    if (app_open(o, &st) != 0)
        return 1;
    store_rc rc = STORE_OK;
    store_app app;
    store_key key;
    memset(&key, 0, sizeof key);
    if (strcmp(cmd, "create") == 0) {
        rc = auth_app_create(st, o->name, o->sdk_id, clock_unix(), &app, &key);
        if (rc == STORE_OK)
            meetd_print_credentials(stdout, o->endpoint, &app, &key);
    } else if (strcmp(cmd, "list") == 0) {
        rc = store_read(st, app_list_tx, NULL);
    } else if (strcmp(cmd, "rotate-key") == 0) {
        rc = auth_app_rotate(st, app_id, clock_unix(), &app, &key);
        if (rc == STORE_OK)
            meetd_print_credentials(stdout, o->endpoint, &app, &key);
    } else {
        rc = auth_app_delete(st, app_id);
        if (rc == STORE_OK)
            printf("deleted app %s\n", app_id);
    }
    if (rc == STORE_OK && o->endpoint == NULL && strcmp(cmd, "list") != 0 &&
        strcmp(cmd, "delete") != 0)
        fprintf(stderr, "meetd: no meetd serve is running on %s, so its address is unknown: "
                        "add MEETD_ENDPOINT=http://HOST:PORT to these lines, or give "
                        "--endpoint URL\n", o->data);
    if (rc == STORE_NOTFOUND)
        fprintf(stderr, "meetd: no app %s\n", app_id);
    else if (rc != STORE_OK)
        fprintf(stderr, "meetd: app %s failed\n", cmd);
    OPENSSL_cleanse(&key, sizeof key);
    store_close(st);
    return rc == STORE_OK ? 0 : 1;
}

int meetd_app_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},  {"name", required_argument, NULL, 'n'},
        {"sdk-id", required_argument, NULL, 's'}, {"no-sdk-id", no_argument, NULL, 'N'},
        {"endpoint", required_argument, NULL, 'e'}, {"help", no_argument, NULL, 'h'},
        {"token", required_argument, NULL, 't'},
        {"postgres", required_argument, NULL, 'p'},
        {NULL, 0, NULL, 0},
    };
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        app_usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    app_opts o = {.data = getenv("MEETD_DATA"), .name = "app", .endpoint = NULL};
    if (o.data == NULL || *o.data == '\0')
        o.data = MEETD_DEFAULT_DATA;
    o.postgres = getenv("MEETD_POSTGRES");
    if (o.postgres != NULL && *o.postgres == '\0')
        o.postgres = NULL;
    int ch;
    bool sdk_given = false, no_sdk = false, name_given = false;
    optind = 2;
    /* Our own messages: getopt's would be prefixed with argv[0], "app". */
    opterr = 0;
    while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd': o.data = optarg; break;
        case 'n': o.name = optarg; name_given = true; break;
        case 's': o.sdk_id = optarg; sdk_given = true; break;
        case 'N': no_sdk = true; break;
        case 'e': o.endpoint = optarg; break;
        case 't': o.token = optarg; break;
        case 'p':
            if (*optarg == '\0')
                return app_bad_usage("--postgres needs a connection string");
            o.postgres = optarg;
            break;
        case 'h': app_usage(stdout); return 0;
        default:
            return app_bad_usage("%s '%s'", ch == ':' ? "missing value for" : "unknown option",
                                 argv[optind - 1]);
        }
    }
    /* An option is never silently dropped: two that contradict each other,
     * or one that the command does not take, is a usage error. */
    if (sdk_given && no_sdk)
        return app_bad_usage("--sdk-id and --no-sdk-id contradict each other: give one");
    if (no_sdk)
        o.sdk_id = "";
    if ((sdk_given || no_sdk || name_given) && strcmp(cmd, "create") != 0)
        return app_bad_usage("--name, --sdk-id and --no-sdk-id are for 'meetd app create'");
    int rest = argc - optind;
    if (strcmp(cmd, "webhook") == 0)
        return app_webhook(&o, rest, argv + optind);
    if (o.token != NULL)
        return app_bad_usage("--token is for 'meetd app webhook add'");
    bool needs_id = strcmp(cmd, "rotate-key") == 0 || strcmp(cmd, "delete") == 0;
    bool known = needs_id || strcmp(cmd, "create") == 0 || strcmp(cmd, "list") == 0;
    if (!known || rest != (needs_id ? 1 : 0)) {
        app_usage(stderr);
        return 2;
    }
    if (strlen(o.name) > CORE_ID_MAX || (o.sdk_id && strlen(o.sdk_id) > CORE_APPID_MAX)) {
        fprintf(stderr, "meetd app: --name is at most %d bytes, --sdk-id %d\n", CORE_ID_MAX,
                CORE_APPID_MAX);
        return 2;
    }
    /* The block names the server that serves this data directory, wherever
     * it listens; a guess such as the default address would send the reader
     * to nothing, or to another server. */
    char endpoint[512];
    bool prints_block = strcmp(cmd, "create") == 0 || strcmp(cmd, "rotate-key") == 0;
    if (prints_block && o.endpoint == NULL && meetd_endpoint_read(o.data, endpoint,
                                                                  sizeof endpoint) == 0)
        o.endpoint = endpoint;
    return app_run(cmd, &o, needs_id ? argv[optind] : NULL);
}
