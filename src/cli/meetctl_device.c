/* meetctl device join|leave|watch: meetd's device extension (docs/api.md
 * "Join a device" to "Device event stream").
 *
 * A watch ends only when its stream does, and never for a good reason: the
 * device's session is over, or the connection is. So its exit status says
 * which (MEETCTL_EXIT_KICKED and after, meetctl.h), and a line on stderr
 * says it in words, even when the stream ended without an event: meetd
 * then names the case in an end comment first (libmeet's on_end). */
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
    if ((rc = meetctl_client_for(ctx, rc, NULL, &c)) != 0)
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
    if ((rc = meetctl_client_for(ctx, rc, NULL, &c)) != 0)
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

/* The events after which meetd ends a stream, and what each means. Any
 * other event (role-changed, or one newer than meetctl) is printed and the
 * watch goes on. */
static const struct {
    const char *event;
    int status;
    const char *why;
} meetctl_final_events[] = {
    {"kicked", MEETCTL_EXIT_KICKED, "the device was removed from the meeting (kicked)"},
    {"meeting-ended", MEETCTL_EXIT_ENDED, "the meeting ended (meeting-ended)"},
    {"replaced", MEETCTL_EXIT_REPLACED,
     "the same user joined again on this device type; this session is over (replaced)"},
};
#define MEETCTL_NFINAL (sizeof meetctl_final_events / sizeof meetctl_final_events[0])

/* The reasons meetd gives before it ends a stream without an event. */
static const struct {
    const char *reason;
    int status;
    const char *why;
} meetctl_end_reasons[] = {
    {"left", MEETCTL_EXIT_LEFT, "the device left the meeting (left)"},
    {"superseded", MEETCTL_EXIT_SUPERSEDED,
     "another watch took over this device's stream (superseded)"},
    {"shutdown", MEETCTL_EXIT_SHUTDOWN, "meetd is stopping (shutdown)"},
};
#define MEETCTL_NEND (sizeof meetctl_end_reasons / sizeof meetctl_end_reasons[0])
#define MEETCTL_END_MAX 64

typedef struct meetctl_watch {
    const meetctl_ctx *ctx;
    bool opened;        /* the server accepted the stream */
    int final;          /* index into meetctl_final_events of the last one seen; -1 none */
    /* The last end reason heard ("" none); a longer one is cut, but only a
     * known one, well within, picks an exit status. */
    char end[MEETCTL_END_MAX];
} meetctl_watch;

/* One event a line, flushed at once: whoever reads the pipe sees it as it
 * arrives. */
static int meetctl_print_event(const char *event, const char *data, void *arg)
{
    meetctl_watch *w = arg;
    for (size_t i = 0; i < MEETCTL_NFINAL; i++)
        if (strcmp(event, meetctl_final_events[i].event) == 0)
            w->final = (int)i;
    if (w->ctx->json) {
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

static void meetctl_watch_ending(const char *reason, void *arg)
{
    meetctl_watch *w = arg;
    snprintf(w->end, sizeof w->end, "%s", reason);
}

/* Said on stderr, so that stdout stays the events alone: from here on no
 * event of this device is missed. */
static void meetctl_watch_opened(const char *trace_id, void *arg)
{
    meetctl_watch *w = arg;
    w->opened = true;
    char *trace = meetctl_clean(trace_id);
    fprintf(stderr, "%s: connected%s%s%s; waiting for events\n", w->ctx->name,
            trace && trace[0] ? " [trace " : "", trace && trace[0] ? trace : "",
            trace && trace[0] ? "]" : "");
    free(trace);
}

/* The exit status and stderr line of a watch whose stream was accepted. A
 * final event, or else the reason meetd gave for ending without one, wins
 * over how the connection then ended: it already says why the session is
 * over. */
static int meetctl_watch_end(meetctl_ctx *ctx, const meetctl_watch *w, meet_rc r,
                             const meet_error *err)
{
    if (w->final >= 0) {
        fprintf(stderr, "%s: stream ended: %s\n", ctx->name, meetctl_final_events[w->final].why);
        return meetctl_final_events[w->final].status;
    }
    for (size_t i = 0; i < MEETCTL_NEND; i++) {
        if (strcmp(w->end, meetctl_end_reasons[i].reason) == 0) {
            fprintf(stderr, "%s: stream ended: %s\n", ctx->name, meetctl_end_reasons[i].why);
            return meetctl_end_reasons[i].status;
        }
    }
    if (r == MEET_OK || w->end[0] != '\0') {
        /* A meetd older than the end comments, or a reason newer than this
         * meetctl: the three cases (docs/api.md "Device event stream") are
         * named together, or the server's word is passed on. */
        if (w->end[0] != '\0') {
            char *why = meetctl_clean(w->end);
            fprintf(stderr, "%s: stream ended: meetd closed it without an event (%s)\n",
                    ctx->name, why != NULL ? why : "");
            free(why);
        } else {
            fprintf(stderr, "%s: stream ended: meetd closed it without an event or a reason "
                            "(the device left, another watch took over this device's stream, "
                            "or meetd is stopping)\n",
                    ctx->name);
        }
        return MEETCTL_EXIT_CLOSED;
    }
    if (r == MEET_ETRANSPORT) {
        char *msg = meetctl_clean(err->message);
        fprintf(stderr, "%s: connection lost: %s\n", ctx->name, msg != NULL ? msg : "");
        free(msg);
        return MEETCTL_EXIT_LOST;
    }
    return meetctl_fail(ctx, err);
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
    meetctl_watch w = {.ctx = ctx, .opened = false, .final = -1, .end = ""};
    meet_watch_handlers h = {.on_event = meetctl_print_event, .on_open = meetctl_watch_opened,
                             .arg = &w, .on_end = meetctl_watch_ending};
    meet_rc r = meet_events_watch(c, token, &h, &err);
    /* Not accepted (a refused token, no server): an error like any command's. */
    if (!w.opened)
        return r == MEET_OK ? 0 : meetctl_fail(ctx, &err);
    return meetctl_watch_end(ctx, &w, r, &err);
}
