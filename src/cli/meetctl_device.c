/* meetctl device join|leave|watch: meetd's device extension (CONTRACT.md
 * section 6). */
#include <stdlib.h>
#include <string.h>

#include "cli/meetctl.h"

#define MEETCTL_ID_MAX 64
#define MEETCTL_NICK_MAX 128

enum {
    OPT_USERID = MEETCTL_OPT_FIRST_LOCAL,
    OPT_GUEST,
    OPT_NICK,
    OPT_INSTANCEID,
};

typedef struct meetctl_join_opts {
    const char *userid;
    const char *guest;
    const char *nick;
    int instanceid;
} meetctl_join_opts;

static int meetctl_join_opt(meetctl_ctx *ctx, int opt, const char *arg, void *st)
{
    meetctl_join_opts *o = st;
    switch (opt) {
    case OPT_USERID:
        o->userid = arg;
        return meetctl_check_text(ctx, "--userid", arg, MEETCTL_ID_MAX);
    case OPT_GUEST:
        o->guest = arg;
        return meetctl_check_text(ctx, "--guest", arg, MEETCTL_ID_MAX);
    case OPT_NICK:
        o->nick = arg;
        return meetctl_check_text(ctx, "--nick", arg, MEETCTL_NICK_MAX);
    case OPT_INSTANCEID:
        return meetctl_parse_instanceid(ctx, arg, &o->instanceid);
    }
    return MEETCTL_EXIT_USAGE;
}

static int meetctl_show_join(const json_t *out)
{
    char inst[16], role[16], sub[32];
    meetctl_table t;
    meetctl_table_init(&t, 2, NULL);
    const char *rows[][2] = {
        {"ms_open_id", meetctl_jstr(out, "ms_open_id")},
        {"uuid", meetctl_jstr(out, "uuid")},
        {"instanceid", meetctl_jtext(out, "instanceid", inst, sizeof inst)},
        {"user_role", meetctl_jtext(out, "user_role", role, sizeof role)},
        {"sub_meeting_id", meetctl_jtext(out, "sub_meeting_id", sub, sizeof sub)},
        {"device_token", meetctl_jstr(out, "device_token")},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
        if (rows[i][1][0] != '\0')
            meetctl_table_add(&t, rows[i]);
    return meetctl_table_flush(&t, stdout);
}

int meetctl_device_join(meetctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {
        {"userid", required_argument, NULL, OPT_USERID},
        {"guest", required_argument, NULL, OPT_GUEST},
        {"nick", required_argument, NULL, OPT_NICK},
        {"instanceid", required_argument, NULL, OPT_INSTANCEID},
        MEETCTL_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    meetctl_join_opts o = {.instanceid = 1};
    int first;
    int rc = meetctl_getopt(ctx, argc, argv, opts, meetctl_join_opt, &o, &first);
    if (rc == 0)
        rc = meetctl_operands(ctx, argc, first, 1, 1, "MEETING");
    if (rc == 0 && (o.userid == NULL) == (o.guest == NULL))
        rc = meetctl_usage(ctx, "give exactly one of --userid and --guest");
    meet_client *c;
    if (rc == 0)
        rc = meetctl_client(ctx, true, &c);
    if (rc != 0)
        return rc;

    json_t *body = json_pack("{s:s, s:i}", o.userid ? "userid" : "guest_id",
                             o.userid ? o.userid : o.guest, "instanceid", o.instanceid);
    if (body != NULL && o.nick != NULL && json_object_set_new(body, "nick_name",
                                                              json_string(o.nick)) != 0) {
        json_decref(body);
        body = NULL;
    }
    if (body == NULL) {
        fprintf(stderr, "%s: out of memory\n", ctx->name);
        return MEETCTL_EXIT_API;
    }
    json_t *out;
    meet_error err;
    meet_rc r = meet_device_join(c, argv[first], body, &out, &err);
    json_decref(body);
    if (r != MEET_OK)
        return meetctl_fail(ctx, &err);
    return meetctl_finish(ctx, out, meetctl_show_join);
}

int meetctl_device_leave(meetctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {MEETCTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    int first;
    int rc = meetctl_getopt(ctx, argc, argv, opts, NULL, NULL, &first);
    if (rc == 0)
        rc = meetctl_operands(ctx, argc, first, 2, 2, "MEETING and WHO (ms:ID/INST or uuid:ID/INST)");
    meetctl_ident who;
    if (rc == 0)
        rc = meetctl_parse_ident(ctx, argv[first + 1], &who);
    if (rc == 0 && who.kind == MEETCTL_ID_USERID)
        rc = meetctl_usage(ctx, "a device is named by ms: or uuid:, not userid:");
    meet_client *c;
    if (rc == 0)
        rc = meetctl_client(ctx, true, &c);
    if (rc != 0)
        return rc;

    json_t *body = json_pack("{s:s, s:i}", who.kind == MEETCTL_ID_MS ? "ms_open_id" : "uuid",
                             who.id, "instanceid", who.instanceid);
    if (body == NULL) {
        fprintf(stderr, "%s: out of memory\n", ctx->name);
        return MEETCTL_EXIT_API;
    }
    json_t *out;
    meet_error err;
    meet_rc r = meet_device_leave(c, argv[first], body, &out, &err);
    json_decref(body);
    if (r != MEET_OK)
        return meetctl_fail(ctx, &err);
    return meetctl_finish_say(ctx, out, "left: %s", argv[first + 1]);
}

/* ---- watch ------------------------------------------------------------------------------- */

/* One event a line, flushed at once: whoever reads the pipe sees it as it
 * arrives. */
static int meetctl_print_event(const char *event, const char *data, void *arg)
{
    const meetctl_ctx *ctx = arg;
    if (ctx->json) {
        json_t *parsed = json_loads(data, JSON_DECODE_ANY, NULL);
        json_t *line = json_pack("{s:s, s:o}", "event", event,
                                 "data", parsed != NULL ? parsed : json_string(data));
        if (line != NULL)
            json_dumpf(line, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
        else
            fputs("{}", stdout);
        json_decref(line);
        fputc('\n', stdout);
    } else {
        meetctl_say("%s %s", event, data);
    }
    fflush(stdout);
    return 0;
}

/* Said on stderr, so that stdout stays the events alone: from here on no
 * event of this device is missed. */
static void meetctl_watch_opened(const char *trace_id, void *arg)
{
    const meetctl_ctx *ctx = arg;
    char *trace = meetctl_clean(trace_id);
    fprintf(stderr, "%s: connected%s%s%s; waiting for events\n", ctx->name,
            trace && trace[0] ? " [trace " : "", trace && trace[0] ? trace : "",
            trace && trace[0] ? "]" : "");
    free(trace);
}

int meetctl_device_watch(meetctl_ctx *ctx, int argc, char **argv)
{
    static const struct option opts[] = {MEETCTL_COMMON_OPTIONS, {NULL, 0, NULL, 0}};
    int first;
    int rc = meetctl_getopt(ctx, argc, argv, opts, NULL, NULL, &first);
    if (rc == 0)
        rc = meetctl_operands(ctx, argc, first, 0, 1, "at most a TOKEN");
    const char *token = rc == 0 && first < argc ? argv[first] : getenv("MEETD_DEVICE_TOKEN");
    if (rc == 0 && (token == NULL || token[0] == '\0'))
        rc = meetctl_usage(ctx, "no device token: give TOKEN or set MEETD_DEVICE_TOKEN");
    meet_client *c;
    if (rc == 0)
        rc = meetctl_client(ctx, false, &c);
    if (rc != 0)
        return rc;
    meet_error err;
    meet_watch_handlers h = {.on_event = meetctl_print_event, .on_open = meetctl_watch_opened,
                             .arg = ctx};
    if (meet_events_watch(c, token, &h, &err) != MEET_OK)
        return meetctl_fail(ctx, &err);
    return 0;
}
