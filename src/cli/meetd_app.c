/* meetd app: administer apps in the store directly (no server needed). */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/crypto.h>

#include "auth/apps.h"
#include "cli/meetd_cli.h"
#include "common/ids.h"

static void app_usage(FILE *f)
{
    fprintf(f,
            "usage: meetd app create [--data DIR] [--name NAME] [--sdk-id ID | --no-sdk-id]\n"
            "       meetd app list [--data DIR]\n"
            "       meetd app rotate-key [--data DIR] APPID\n"
            "       meetd app delete [--data DIR] APPID\n"
            "DIR defaults to $MEETD_DATA or %s. create and rotate-key print the\n"
            "credentials block (MEETD_*=...) on standard output.\n"
            "example: meetd app create --name billing --data ./var\n",
            MEETD_DEFAULT_DATA);
}

typedef struct app_opts {
    const char *data;
    const char *name;
    const char *sdk_id;     /* NULL: generate */
    const char *endpoint;
} app_opts;

static int app_count_keys(const store_key *key, void *arg)
{
    (*(int *)arg)++;
    return 0;
}

static int app_print(const store_app *app, void *arg)
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
    return 0;
}

static int app_list_tx(store_tx *tx, void *arg)
{
    printf("%-12s %-14s %-20s %4s  %s\n", "APPID", "SDKID", "NAME", "KEYS", "CREATED");
    return store_app_list(tx, app_print, tx) == STORE_OK ? 0 : -1;
}

static int app_run(const char *cmd, const app_opts *o, const char *app_id)
{
    store *st = NULL;
    store_options so = {.data_dir = o->data, .durability = STORE_DURABLE_FULL};
    if (store_open(&so, &st) != 0) {
        fprintf(stderr, "meetd: cannot open the store in %s\n", o->data);
        return 1;
    }
    int rc = 0;
    store_app app;
    store_key key;
    memset(&key, 0, sizeof key);
    if (strcmp(cmd, "create") == 0) {
        rc = auth_app_create(st, o->name, o->sdk_id, clock_unix(), &app, &key);
        if (rc == 0)
            meetd_print_credentials(stdout, o->endpoint, &app, &key);
    } else if (strcmp(cmd, "list") == 0) {
        rc = store_read(st, app_list_tx, NULL);
    } else if (strcmp(cmd, "rotate-key") == 0) {
        rc = auth_app_rotate(st, app_id, clock_unix(), &app, &key);
        if (rc == 0)
            meetd_print_credentials(stdout, o->endpoint, &app, &key);
    } else {
        rc = auth_app_delete(st, app_id);
        if (rc == 0)
            printf("deleted app %s\n", app_id);
    }
    if (rc == 1)
        fprintf(stderr, "meetd: no app %s\n", app_id);
    else if (rc != 0)
        fprintf(stderr, "meetd: app %s failed\n", cmd);
    OPENSSL_cleanse(&key, sizeof key);
    store_close(st);
    return rc == 0 ? 0 : 1;
}

int meetd_app_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"data", required_argument, NULL, 'd'},  {"name", required_argument, NULL, 'n'},
        {"sdk-id", required_argument, NULL, 's'}, {"no-sdk-id", no_argument, NULL, 'N'},
        {"endpoint", required_argument, NULL, 'e'}, {"help", no_argument, NULL, 'h'},
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
    const char *listen = getenv("MEETD_LISTEN");
    char endpoint[300];
    snprintf(endpoint, sizeof endpoint, "http://%s", listen && *listen ? listen : MEETD_DEFAULT_LISTEN);
    o.endpoint = endpoint;
    int ch;
    optind = 2;
    while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (ch) {
        case 'd': o.data = optarg; break;
        case 'n': o.name = optarg; break;
        case 's': o.sdk_id = optarg; break;
        case 'N': o.sdk_id = ""; break;
        case 'e': o.endpoint = optarg; break;
        case 'h': app_usage(stdout); return 0;
        default: app_usage(stderr); return 2;
        }
    }
    int rest = argc - optind;
    bool needs_id = strcmp(cmd, "rotate-key") == 0 || strcmp(cmd, "delete") == 0;
    bool known = needs_id || strcmp(cmd, "create") == 0 || strcmp(cmd, "list") == 0;
    if (!known || rest != (needs_id ? 1 : 0)) {
        app_usage(stderr);
        return 2;
    }
    if (strlen(o.name) > CORE_ID_MAX || (o.sdk_id && strlen(o.sdk_id) > CORE_APPID_MAX)) {
        fprintf(stderr, "meetd: --name is at most %d bytes, --sdk-id %d\n", CORE_ID_MAX,
                CORE_APPID_MAX);
        return 2;
    }
    return app_run(cmd, &o, needs_id ? argv[optind] : NULL);
}
