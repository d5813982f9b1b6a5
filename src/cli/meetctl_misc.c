/* meetctl bans list|lift, audit, health and request. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/meetctl.h"

#define MEETCTL_BODY_MAX (64u << 10)   /* meetd's request limit */

enum {
    OPT_POS = MEETCTL_OPT_FIRST_LOCAL,
    OPT_SIZE,
    OPT_HEADER,
};

/* Parses a command that takes only the common options and n operands. */
static int meetctl_plain_args(meetctl_ctx *ctx, int argc, char **argv, int n, const char *what,
                              int *first)
{
    static const struct option opts[] = {MEETCTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    int rc = meetctl_getopt(ctx, argc, argv, opts, NULL, NULL, first);
    if (rc == 0)
        rc = meetctl_operands(ctx, argc, *first, n, n, what);
    return rc;
}

static const char *meetctl_who(const json_t *o, char *buf, size_t n)
{
    const char *userid = meetctl_jstr(o, "userid");
    if (userid[0] != '\0')
        snprintf(buf, n, "%s", userid);
    else if (meetctl_jstr(o, "guest_id")[0] != '\0')
        snprintf(buf, n, "guest:%s", meetctl_jstr(o, "guest_id"));
    else
        snprintf(buf, n, "%s", meetctl_jstr(o, "ms_open_id"));
    return buf;
}

/* ---- bans ------------------------------------------------------------------------------- */

static int meetctl_show_bans(const json_t *out)
{
    static const char *const heads[] = {"USER", "MS_OPEN_ID", "BANNED_AT", "REASON", "OPERATOR"};
    meetctl_table t;
    meetctl_table_init(&t, 5, heads);
    const json_t *bans = json_object_get(out, "bans");
    size_t i;
    json_t *b;
    json_array_foreach(bans, i, b) {
        char user[140], at[32], op[140];
        /* The operator as the audit shows it; a meetd without "operator"
         * has only its ms_open_id. */
        const json_t *opj = json_object_get(b, "operator");
        const char *row[] = {meetctl_who(b, user, sizeof user), meetctl_jstr(b, "ms_open_id"),
                             meetctl_jtime(b, "banned_at", at, sizeof at),
                             meetctl_jstr(b, "reason"),
                             opj != NULL ? meetctl_who(opj, op, sizeof op)
                                         : meetctl_jstr(b, "operator_ms_open_id")};
        meetctl_table_add(&t, row);
    }
    if (meetctl_table_flush(&t, stdout) != 0)
        return 1;
    size_t n = json_array_size(bans);
    printf("%zu ban%s\n", n, n == 1 ? "" : "s");
    return 0;
}

int meetctl_bans_list(meetctl_ctx *ctx, int argc, char **argv)
{
    int first;
    int rc = meetctl_plain_args(ctx, argc, argv, 1, "MEETING", &first);
    meet_client *c;
    if ((rc = meetctl_client_for(ctx, rc, NULL, &c)) != 0)
        return rc;
    json_t *out;
    meet_error err;
    if (meet_bans_list(c, argv[first], &out, &err) != MEET_OK)
        return meetctl_fail(ctx, &err);
    return meetctl_finish(ctx, out, meetctl_show_bans);
}

/* USER as meetctl shows users: KIND:ID names one identity (guest:ID as the
 * bans list prints a guest), a bare name any identity of the user. */
static const char *meetctl_lift_kind(const char *user, const char **id)
{
    static const struct {
        const char *prefix, *kind;
    } kinds[] = {
        {"userid:", "userid"}, {"guest:", "guest_id"}, {"ms:", "ms_open_id"}, {"uuid:", "uuid"},
    };
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        size_t n = strlen(kinds[i].prefix);
        if (strncmp(user, kinds[i].prefix, n) == 0) {
            *id = user + n;
            return kinds[i].kind;
        }
    }
    *id = user;
    return NULL;
}

int meetctl_bans_lift(meetctl_ctx *ctx, int argc, char **argv)
{
    int first;
    int rc = meetctl_plain_args(ctx, argc, argv, 2, "MEETING and USER", &first);
    const char *id = NULL, *kind = NULL;
    if (rc == 0) {
        kind = meetctl_lift_kind(argv[first + 1], &id);
        rc = meetctl_check_text(ctx, "USER", id, 128);
    }
    meet_client *c;
    if ((rc = meetctl_client_for(ctx, rc, NULL, &c)) != 0)
        return rc;
    json_t *out;
    meet_error err;
    if (meet_bans_lift_kind(c, argv[first], kind, id, &out, &err) != MEET_OK)
        return meetctl_fail(ctx, &err);
    return meetctl_finish_say(ctx, out, "%s: %s",
                              json_is_true(json_object_get(out, "lifted")) ? "ban lifted"
                                                                           : "not banned",
                              argv[first + 1]);
}

/* ---- audit ------------------------------------------------------------------------------ */

typedef struct meetctl_page {
    long pos, size;
} meetctl_page;

static int meetctl_page_opt(meetctl_ctx *ctx, int opt, const char *arg, void *st)
{
    meetctl_page *p = st;
    if (opt == OPT_POS)
        return meetctl_parse_long(ctx, "--pos", arg, 0, 1000000000, &p->pos);
    if (opt == OPT_SIZE)
        return meetctl_parse_long(ctx, "--size", arg, 1, MEETCTL_PAGE_MAX, &p->size);
    return MEETCTL_EXIT_USAGE;
}

static int meetctl_show_audit(const json_t *out)
{
    static const char *const heads[] = {"TIME", "ACTION", "OPERATOR", "TARGET",
                                        "DEVICE", "REJOIN", "REASON"};
    meetctl_table t;
    meetctl_table_init(&t, 7, heads);
    const json_t *records = json_object_get(out, "records");
    size_t i;
    json_t *r;
    json_array_foreach(records, i, r) {
        char when[32], op[140], target[140], device[48], rejoin[8];
        const json_t *tgt = json_object_get(r, "target");
        long inst = (long)json_integer_value(json_object_get(tgt, "instanceid"));
        snprintf(device, sizeof device, "%ld %s", inst, meetctl_device_name(inst));
        const char *row[] = {meetctl_jtime(r, "time", when, sizeof when),
                             meetctl_jstr(r, "action"),
                             meetctl_who(json_object_get(r, "operator"), op, sizeof op),
                             meetctl_who(tgt, target, sizeof target), device,
                             meetctl_jtext(r, "allow_rejoin", rejoin, sizeof rejoin),
                             meetctl_jstr(r, "reason")};
        meetctl_table_add(&t, row);
    }
    if (meetctl_table_flush(&t, stdout) != 0)
        return 1;
    meetctl_page_footer(out, json_array_size(records), "record");
    return 0;
}

int meetctl_audit(meetctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"pos", required_argument, NULL, OPT_POS},
        {"size", required_argument, NULL, OPT_SIZE},
        MEETCTL_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    meetctl_page page = {-1, -1};
    int first;
    int rc = meetctl_getopt(ctx, argc, argv, opts, meetctl_page_opt, &page, &first);
    if (rc == 0)
        rc = meetctl_operands(ctx, argc, first, 1, 1, "MEETING");
    meet_client *c;
    if ((rc = meetctl_client_for(ctx, rc, NULL, &c)) != 0)
        return rc;
    json_t *out;
    meet_error err;
    if (meet_audit(c, argv[first], page.pos, page.size, &out, &err) != MEET_OK)
        return meetctl_fail(ctx, &err);
    return meetctl_finish(ctx, out, meetctl_show_audit);
}

/* ---- health ----------------------------------------------------------------------------- */

int meetctl_health(meetctl_ctx *ctx, int argc, char **argv)
{
    int first;
    int rc = meetctl_plain_args(ctx, argc, argv, 0, "no arguments", &first);
    meet_client *c;
    if (rc == 0)
        rc = meetctl_client(ctx, false, &c);
    if (rc != 0)
        return rc;
    json_t *out;
    meet_error err;
    if (meet_healthz(c, &out, &err) != MEET_OK)
        return meetctl_fail(ctx, &err);
    const char *status = meetctl_jstr(out, "status");
    return meetctl_finish_say(ctx, out, "%s", status[0] != '\0' ? status : "ok");
}

/* ---- request ------------------------------------------------------------------------------ */

typedef struct meetctl_request_opts {
    const char **headers;   /* NULL-terminated */
    size_t n;
    bool failed;
} meetctl_request_opts;

static int meetctl_request_opt(meetctl_ctx *ctx, int opt, const char *arg, void *st)
{
    meetctl_request_opts *o = st;
    if (opt != OPT_HEADER)
        return MEETCTL_EXIT_USAGE;
    if (strchr(arg, ':') == NULL || arg[0] == ':' || strpbrk(arg, "\r\n") != NULL)
        return meetctl_usage(ctx, "--header wants 'Name: value', not '%s'", arg);
    const char **grown = realloc(o->headers, (o->n + 2) * sizeof *grown);
    if (grown == NULL) {
        o->failed = true;
        fprintf(stderr, "%s: out of memory\n", ctx->name);
        return MEETCTL_EXIT_API;
    }
    o->headers = grown;
    o->headers[o->n++] = arg;
    o->headers[o->n] = NULL;
    return 0;
}

/* The body from standard input, as bytes. */
static int meetctl_read_stdin(meetctl_ctx *ctx, char **out, size_t *len)
{
    char *buf = malloc(MEETCTL_BODY_MAX + 1);
    size_t n = 0;
    ssize_t r = 0;
    while (buf != NULL && n <= MEETCTL_BODY_MAX &&
           (r = read(STDIN_FILENO, buf + n, MEETCTL_BODY_MAX + 1 - n)) > 0)
        n += (size_t)r;
    if (buf == NULL || r < 0 || n > MEETCTL_BODY_MAX) {
        free(buf);
        return meetctl_usage(ctx, "cannot read a body of at most %u bytes from standard input",
                             MEETCTL_BODY_MAX);
    }
    *out = buf;
    *len = n;
    return 0;
}

static void meetctl_print_body(const meet_response *resp)
{
    json_t *v = json_loadb(resp->body, resp->body_len, 0, NULL);
    if (v != NULL) {
        meetctl_print_json(v);
        json_decref(v);
    } else if (resp->body_len > 0) {
        fwrite(resp->body, 1, resp->body_len, stdout);
        if (resp->body[resp->body_len - 1] != '\n')
            fputc('\n', stdout);
    }
}

static int meetctl_send(meetctl_ctx *ctx, meet_client *c, char **argv, int first, int argc,
                        const char *const *headers)
{
    const char *method = argv[first], *uri = argv[first + 1];
    char *body = NULL;
    size_t len = 0;
    if (argc - first == 3) {
        if (strcmp(argv[first + 2], "-") == 0) {
            int rc = meetctl_read_stdin(ctx, &body, &len);
            if (rc != 0)
                return rc;
        } else if ((body = strdup(argv[first + 2])) == NULL) {
            return MEETCTL_EXIT_API;
        } else {
            len = strlen(body);
        }
    }
    meet_response resp;
    meet_error err;
    meet_rc r = meet_request_raw(c, method, uri, body, len, headers, &resp, &err);
    free(body);
    if (r == MEET_OK || r == MEET_EAPI)
        meetctl_print_body(&resp);
    meet_response_release(&resp);
    if (r == MEET_EINVAL)
        return meetctl_usage(ctx, "METHOD must be upper case and URI start with '/' "
                                  "(printable ASCII, escaped)");
    return r == MEET_OK ? 0 : meetctl_fail(ctx, &err);
}

int meetctl_request(meetctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"header", required_argument, NULL, OPT_HEADER},
        MEETCTL_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    meetctl_request_opts o = {0};
    int first;
    int rc = meetctl_getopt(ctx, argc, argv, opts, meetctl_request_opt, &o, &first);
    if (rc == 0)
        rc = meetctl_operands(ctx, argc, first, 2, 3, "METHOD URI [BODY]");
    meet_client *c;
    if (rc == 0)
        rc = meetctl_client(ctx, true, &c);
    if (rc == 0)
        rc = meetctl_send(ctx, c, argv, first, argc, o.headers);
    free(o.headers);
    return rc;
}
