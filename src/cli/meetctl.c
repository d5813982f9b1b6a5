/* meetctl: command dispatch, common options and credentials. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/meetctl.h"

#define MEETCTL_COMMON_HELP                                                          \
    "\nCommon options:\n"                                                            \
    "  --endpoint URL   server (default $MEETD_ENDPOINT, else " MEETCTL_DEFAULT_ENDPOINT ")\n" \
    "  --profile FILE   credentials file (KEY=VALUE lines) instead of the environment\n" \
    "  --json           print the answer's raw JSON\n"                               \
    "  -q, --quiet      print only the id the answer is about (for $(...))\n"      \
    "  --shell PREFIX   print the answer as PREFIXFIELD='value' lines (for eval)\n" \
    "  --timeout SECS   give up on a request after SECS seconds (default 30)\n"     \
    "  --cacert FILE    CA certificates to verify an https server with\n"           \
    "  -h, --help       this help\n"

static const meetctl_cmd meetctl_cmds[] = {
    {"meeting", "create", "create a meeting",
     "usage: meetctl meeting create --userid USERID --subject TEXT [options]\n"
     "\n"
     "Creates a meeting (POST /v1/meetings) and prints its meeting_id and code.\n"
     "\n"
     "  --userid USERID     creator (required)\n"
     "  --subject TEXT      subject, up to 512 bytes counted as Tencent does: 2 a\n"
     "                      character, 4 above U+FFFF (required)\n"
     "  --instanceid N      creator's device type (default 1, PC)\n"
     "  --type quick|scheduled\n"
     "                      default: scheduled when --start is given, else quick\n"
     "  --start TIME        start; TIME is Unix seconds, 'now' or '+N[smhd]' from now\n"
     "  --end TIME          end (required with --start)\n"
     "  --host USERID       a scheduled host; repeat for more (at most 10)\n"
     "  --recurring daily|workdays|weekly|biweekly|monthly\n"
     "                      a recurring meeting\n"
     "  --until-count N     number of occurrences (default 7)\n"
     "  --until-date TIME   last occurrence date, instead of --until-count\n"
     "\n"
     "Example:\n"
     "  meetctl meeting create --userid alice --subject 'Weekly sync' \\\n"
     "      --start +1h --end +2h --recurring weekly --until-count 4\n",
     meetctl_meeting_create},
    {"meeting", "get", "show a meeting and its status",
     "usage: meetctl meeting get MEETING|--code CODE --userid USERID|--rooms-id ID\n"
     "                           [--instanceid N]\n"
     "\n"
     "Shows a meeting (GET /v1/meetings/MEETING, or GET /v1/meetings?meeting_code=CODE):\n"
     "status, hosts, co-hosts, join_url, and the occurrences of a recurring meeting.\n"
     "\n"
     "  --code CODE         the meeting's 9-digit meeting_code instead of its id\n"
     "  --userid USERID     who asks (operator_id_type 1)\n"
     "  --rooms-id ID       who asks, as a room: the ms_open_id of an MRA device\n"
     "                      present in the meeting (operator_id_type 3)\n"
     "  --instanceid N      their device type (default 1)\n"
     "\n"
     "Example:\n"
     "  meetctl meeting get 7567173273889276131 --userid alice\n"
     "  meetctl meeting get --code 806123456 --userid alice\n",
     meetctl_meeting_get},
    {"meeting", "list", "a user's meetings in progress or to come",
     "usage: meetctl meeting list --userid USERID [options]\n"
     "\n"
     "Lists the meetings USERID created or hosts that are in progress or yet to\n"
     "start (GET /v1/meetings?userid=...), by start time, 20 a page.\n"
     "\n"
     "  --userid USERID     whose meetings (required)\n"
     "  --instanceid N      their device type (default 1)\n"
     "  --pos N --cursory N the next page: the previous page's next_pos and next_cursory\n"
     "  --all-sub-meetings  every occurrence of a recurring meeting (--json), not the\n"
     "                      current one only\n"
     "\n"
     "Example:\n"
     "  meetctl meeting list --userid alice\n",
     meetctl_meeting_list},
    {"meeting", "update", "modify a meeting (creator only)",
     "usage: meetctl meeting update MEETING --userid USERID [options]\n"
     "\n"
     "Modifies a meeting (PUT /v1/meetings/MEETING); only what is given changes.\n"
     "'meetctl meeting get' shows the result.\n"
     "\n"
     "  --userid USERID     the creator (required)\n"
     "  --instanceid N      creator's device type (default 1, PC)\n"
     "  --subject TEXT      new subject (limits as on create)\n"
     "  --start TIME        new start; TIME is Unix seconds, 'now' or '+N[smhd]'\n"
     "  --end TIME          new end\n"
     "  --host USERID       the scheduled hosts, replacing the old; repeat for more\n"
     "  --no-hosts          no scheduled hosts (the creator hosts)\n"
     "  --recurring daily|workdays|weekly|biweekly|monthly\n"
     "                      a new rule (a one-off meeting becomes recurring); the\n"
     "                      occurrences held already stay\n"
     "  --until-count N     number of occurrences in all (default 7)\n"
     "  --until-date TIME   last occurrence date, instead of --until-count\n"
     "  --sub-meeting ID    move only this occurrence (with --start and/or --end)\n"
     "\n"
     "Example:\n"
     "  meetctl meeting update 7567173273889276131 --userid alice \\\n"
     "      --subject 'Weekly sync (moved)' --start +1d --end +25h\n",
     meetctl_meeting_update},
    {"meeting", "cancel", "cancel a meeting not yet started (creator only)",
     "usage: meetctl meeting cancel MEETING (--operator WHO | --userid USERID) [options]\n"
     "\n"
     "Cancels a meeting nobody has joined yet, or one occurrence of a recurring\n"
     "meeting (POST /v1/meetings/MEETING/cancel). A meeting in progress is dismissed\n"
     "instead (13602); one cancelled already answers 9007, one ended 13603.\n"
     "\n"
     "  --operator WHO      the creator: userid:ID/INST, or ms:MS_OPEN_ID/INST when\n"
     "                      they are in the meeting on that device\n"
     "  --userid USERID     the creator by userid (same as --operator userid:USERID/N)\n"
     "  --instanceid N      their device type with --userid (default 1)\n"
     "  --sub-meeting ID    only this occurrence of a recurring meeting\n"
     "  --reason-code N     reason code, yours to choose (default 1)\n"
     "  --reason TEXT       reason_detail\n"
     "\n"
     "Example:\n"
     "  meetctl meeting cancel 7567173273889276131 --operator userid:alice/1 --reason-code 2\n",
     meetctl_meeting_cancel},
    {"meeting", "dismiss", "end a meeting in progress",
     "usage: meetctl meeting dismiss MEETING (--operator WHO | --userid USERID) [options]\n"
     "\n"
     "Ends a meeting in progress (POST /v1/meetings/MEETING/dismiss): every device\n"
     "is removed and told. The creator, a host or a co-host may do it.\n"
     "\n"
     "  --operator WHO      userid:ID/INST (creator, host, or a co-host by userid),\n"
     "                      or ms:MS_OPEN_ID/INST (in the meeting on that device)\n"
     "  --userid USERID     same as --operator userid:USERID/N\n"
     "  --instanceid N      their device type with --userid (default 1)\n"
     "  --reason-code N     reason code, yours to choose (default 1)\n"
     "  --reason TEXT       reason_detail\n"
     "  --no-force          refuse (190004) while devices are still in the meeting\n"
     "\n"
     "Example:\n"
     "  meetctl meeting dismiss 7567173273889276131 --operator ms:msAAA/2\n",
     meetctl_meeting_dismiss},
    {"meeting", "participants", "list the devices that joined",
     "usage: meetctl meeting participants MEETING --userid USERID|--rooms-id ID [options]\n"
     "\n"
     "Lists participant devices in join order (GET /v1/meetings/MEETING/participants,\n"
     "sent as operator_id + operator_id_type); a device still present has no LEFT\n"
     "time. JOIN is how it came in: VoIP, or PSTN (by telephone).\n"
     "\n"
     "  --userid USERID     the operator: creator, host or co-host\n"
     "  --operator-type N   its operator_id_type: 1 userid (default), 2 open_id,\n"
     "                      3 rooms_id (meetd serves 1 and 3)\n"
     "  --rooms-id ID       the operator as a room (operator_id_type 3): the\n"
     "                      ms_open_id of an MRA device present in the meeting\n"
     "  --sub-meeting ID    an occurrence of a recurring meeting (default: current)\n"
     "  --start TIME        only devices that joined at or after TIME\n"
     "  --end TIME          ... and at or before TIME (span at most 31 days;\n"
     "                      one-off meetings only, as Tencent documents)\n"
     "  --pos N             offset of the first row (default 0)\n"
     "  --size N            rows per page, 1..100 (default 20)\n"
     "\n"
     "TIME is Unix seconds, now, or +N with a unit s, m, h or d.\n"
     "\n"
     "Example:\n"
     "  meetctl meeting participants 7567173273889276131 --userid alice --size 100\n",
     meetctl_meeting_participants},
    {"meeting", "realtime", "list the devices present now",
     "usage: meetctl meeting realtime MEETING --userid USERID|--rooms-id ID [options]\n"
     "\n"
     "Lists the devices in the meeting now, in join order\n"
     "(GET /v1/meetings/MEETING/real_time_participants).\n"
     "\n"
     "  --userid USERID     the operator: creator, host or co-host\n"
     "  --operator-type N   its operator_id_type: 1 userid (default), 2 open_id,\n"
     "                      3 rooms_id (meetd serves 1 and 3)\n"
     "  --rooms-id ID       the operator as a room (operator_id_type 3): the\n"
     "                      ms_open_id of an MRA device present in the meeting\n"
     "  --sub-meeting ID    only this occurrence of a recurring meeting\n"
     "  --page N            page number from 1 (default 1)\n"
     "  --size N            devices per page, 1..50 (default 20)\n"
     "\n"
     "Example:\n"
     "  meetctl meeting realtime 7567173273889276131 --userid alice\n",
     meetctl_meeting_realtime},
    {NULL, "kickout", "remove devices from a meeting",
     "usage: meetctl kickout MEETING --operator WHO --user WHO... [options]\n"
     "\n"
     "Removes participant devices (PUT /v1/real-control/meetings/MEETING/kickout)\n"
     "and prints what happened to each.\n"
     "\n"
     "  --operator WHO      who removes: userid:ID/INST (creator or scheduled host),\n"
     "                      ms:MS_OPEN_ID/INST or uuid:UUID/INST (present on INST)\n"
     "  --user WHO          a device to remove: ms:MS_OPEN_ID/INST or uuid:UUID/INST;\n"
     "                      repeat for more (1 to 20)\n"
     "  --no-rejoin         ban the removed users from joining again\n"
     "  --reason TEXT       why (required when a target is an MRA room, INST 9)\n"
     "\n"
     "INST is the device type: 0 PSTN phone, 1 PC, 2 Mac, 3 Android, 4 iOS, 5 Web,\n"
     "6 iPad, 7 Android Pad, 8 mini program, 9 MRA (SIP/H.323 room), 10 Linux,\n"
     "20-22 Rooms, 30, 32, 33 Controller.\n"
     "\n"
     "Exit status 3: meetd reported that no target was removed (none was in the\n"
     "meeting on the device type named); nothing changed. 0 when at least one was\n"
     "(the table says which), or when the server reports nothing per target\n"
     "(Tencent answers {}).\n"
     "\n"
     "Example:\n"
     "  meetctl kickout 7567173273889276131 --operator ms:msAAA/1 --user ms:msBBB/2 \\\n"
     "      --user uuid:6F1A0B/9 --no-rejoin --reason 'disruptive'\n",
     meetctl_kickout},
    {"cohost", "add", "make a participant co-host",
     "usage: meetctl cohost add MEETING --operator WHO --user WHO\n"
     "\n"
     "Makes a present participant co-host (PUT .../cohosts, action true). Only the\n"
     "creator or a host may; an MRA room (INST 9) may be made co-host too.\n"
     "\n"
     "  --operator WHO      userid:ID/INST, ms:MS_OPEN_ID/INST or uuid:UUID/INST\n"
     "  --user WHO          ms:MS_OPEN_ID/INST or uuid:UUID/INST\n"
     "\n"
     "Example:\n"
     "  meetctl cohost add 7567173273889276131 --operator userid:alice/1 --user ms:msBBB/2\n",
     meetctl_cohost_add},
    {"cohost", "remove", "revoke co-host",
     "usage: meetctl cohost remove MEETING --operator WHO --user WHO\n"
     "\n"
     "Revokes a participant's co-host role (PUT .../cohosts, action false).\n"
     "\n"
     "  --operator WHO      userid:ID/INST, ms:MS_OPEN_ID/INST or uuid:UUID/INST\n"
     "  --user WHO          ms:MS_OPEN_ID/INST or uuid:UUID/INST\n"
     "\n"
     "Example:\n"
     "  meetctl cohost remove 7567173273889276131 --operator userid:alice/1 --user ms:msBBB/2\n",
     meetctl_cohost_remove},
    {"device", "join", "bring a device into a meeting",
     "usage: meetctl device join MEETING (--userid USERID | --guest ID) [options]\n"
     "\n"
     "Joins a device (POST /meetd/v1/meetings/MEETING/join) and prints its ms_open_id,\n"
     "uuid and the device_token that 'device watch' needs.\n"
     "\n"
     "  --userid USERID     an enterprise user\n"
     "  --guest ID          the app's id for an outside user (guest)\n"
     "  --nick NAME         display name (default: the id)\n"
     "  --instanceid N      device type (default 1, PC)\n"
     "\n"
     "Example:\n"
     "  meetctl device join 7567173273889276131 --userid bob --nick Bob --instanceid 2\n",
     meetctl_device_join},
    {"device", "leave", "take a device out of a meeting",
     "usage: meetctl device leave MEETING WHO\n"
     "\n"
     "A device leaves (POST /meetd/v1/meetings/MEETING/leave). WHO is\n"
     "ms:MS_OPEN_ID/INST or uuid:UUID/INST. Leaving twice is not an error.\n"
     "\n"
     "Example:\n"
     "  meetctl device leave 7567173273889276131 ms:msBBB/2\n",
     meetctl_device_leave},
    {"device", "watch", "print a device's events as they arrive",
     "usage: meetctl device watch [TOKEN]\n"
     "\n"
     "Follows a device's event stream (GET /meetd/v1/events, Server-Sent Events,\n"
     "authorised by the device token alone; no credentials needed) and prints each\n"
     "event as it arrives, one a line: the event name and its data; with --json one\n"
     "{\"event\":…,\"data\":…} object a line. TOKEN is the device_token that\n"
     "'device join' prints (SESSION.SECRET: a number, a dot and 64 hex digits);\n"
     "it defaults to $MEETD_DEVICE_TOKEN.\n"
     "\n"
     "A watch ends only when its stream does; a line on stderr and the exit\n"
     "status say why:\n"
     "  4  kicked: the device was removed (the event was printed)\n"
     "  5  meeting-ended: the meeting was dismissed or cancelled\n"
     "  6  replaced: the same user joined again on this device type\n"
     "  9  left: the device left the meeting (no event)\n"
     "  10 superseded: another watch took over this device's stream (no event)\n"
     "  11 shutdown: meetd is stopping (no event)\n"
     "  7  meetd closed the stream without an event and gave no reason it knows\n"
     "     (a meetd older than the reasons: one of 9, 10, 11)\n"
     "  8  connection lost after the stream opened (broken, or silent for 60 s)\n"
     "  1  the token was refused, or the server could not be reached\n"
     "  2  usage error\n"
     "\n"
     "Example:\n"
     "  meetctl device watch 17.4da17ad10bfd2678ae209d9ae34bd84ed606186ad0e818d92be260bca85174d3\n"
     "  export MEETD_DEVICE_TOKEN=$(meetctl --json device join $M --userid bob | jq -r .device_token)\n"
     "  meetctl device watch --json\n",
     meetctl_device_watch},
    {"bans", "list", "list the users banned from a meeting",
     "usage: meetctl bans list MEETING\n"
     "\n"
     "Lists the users removed with --no-rejoin (GET /meetd/v1/meetings/MEETING/bans).\n"
     "\n"
     "Example:\n"
     "  meetctl bans list 7567173273889276131\n",
     meetctl_bans_list},
    {"bans", "lift", "let a banned user join again",
     "usage: meetctl bans lift MEETING USER\n"
     "\n"
     "Lifts a ban (DELETE /meetd/v1/meetings/MEETING/bans/USER). USER is\n"
     "userid:ID, guest:ID, ms:ID or uuid:ID (as bans list shows a guest), or a\n"
     "bare name, which meetd refuses when two users have it (a userid and a\n"
     "guest_id, say). Lifting a ban that does not exist is not an error.\n"
     "\n"
     "Example:\n"
     "  meetctl bans lift 7567173273889276131 bob\n"
     "  meetctl bans lift 7567173273889276131 guest:gus\n",
     meetctl_bans_lift},
    {NULL, "audit", "show the removal log of a meeting",
     "usage: meetctl audit MEETING [--pos N] [--size N]\n"
     "\n"
     "Shows the meeting's audit log, newest first (GET /meetd/v1/meetings/MEETING/audit).\n"
     "\n"
     "  --pos N             offset of the first record (default 0)\n"
     "  --size N            records per page, 1..100 (default 20)\n"
     "\n"
     "Example:\n"
     "  meetctl audit 7567173273889276131 --size 50\n",
     meetctl_audit},
    {NULL, "health", "check that the server answers",
     "usage: meetctl health\n"
     "\n"
     "Asks GET /healthz (no credentials needed); prints the status, exit 1 when\n"
     "the server is unhealthy or unreachable.\n"
     "\n"
     "Example:\n"
     "  meetctl health --endpoint http://127.0.0.1:8080\n",
     meetctl_health},
    {NULL, "request", "send any signed request",
     "usage: meetctl request METHOD URI [BODY] [--header 'Name: value']...\n"
     "\n"
     "Signs and sends one request as given and prints the answer's body. BODY is\n"
     "sent byte for byte ('-' reads it from standard input). URI is the path and\n"
     "query exactly as they go on the request line (escape it yourself).\n"
     "\n"
     "  --header LINE       an extra header line; repeat for more\n"
     "\n"
     "Example:\n"
     "  meetctl request PUT /v1/real-control/meetings/$M/kickout \\\n"
     "      '{\"operator_id\":\"alice\",\"operator_id_type\":1,\"instanceid\":1,'\\\n"
     "'\"allow_rejoin\":true,\"users\":[{\"to_operator_id\":\"msBBB\",\"to_operator_id_type\":4,'\\\n"
     "'\"instanceid\":2}]}' --header 'Prefer: return=representation'\n",
     meetctl_request},
};
#define MEETCTL_NCMDS (sizeof meetctl_cmds / sizeof meetctl_cmds[0])

static void meetctl_main_help(FILE *f)
{
    fputs("usage: meetctl [OPTIONS] COMMAND [ARGS]\n"
          "       meetctl --version\n"
          "\n"
          "Drives a meetd server, or the Tencent Meeting API, from the command line.\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < MEETCTL_NCMDS; i++) {
        char name[48];
        snprintf(name, sizeof name, "%s%s%s", meetctl_cmds[i].group ? meetctl_cmds[i].group : "",
                 meetctl_cmds[i].group ? " " : "", meetctl_cmds[i].name);
        fprintf(f, "  %-22s %s\n", name, meetctl_cmds[i].summary);
    }
    fputs(MEETCTL_COMMON_HELP
          "\n"
          "Credentials come from MEETD_ENDPOINT, MEETD_APP_ID, MEETD_SDK_ID,\n"
          "MEETD_SECRET_ID and MEETD_SECRET_KEY, as meetd writes them to <data>/credentials:\n"
          "  set -a; . var/credentials; set +a\n"
          "or from --profile FILE in the same format; never from the command line.\n"
          "\n"
          "Exit status: 0 success, 1 API error (or server unreachable), 2 usage error,\n"
          "3 kickout removed nothing, 4-11 why 'device watch' ended (see its --help).\n"
          "'meetctl COMMAND --help' describes a command, with an example.\n",
          f);
}

static void meetctl_group_help(FILE *f, const char *group)
{
    fprintf(f, "usage: meetctl %s SUBCOMMAND [ARGS]\n\nSubcommands:\n", group);
    for (size_t i = 0; i < MEETCTL_NCMDS; i++)
        if (meetctl_cmds[i].group != NULL && strcmp(meetctl_cmds[i].group, group) == 0)
            fprintf(f, "  %-14s %s\n", meetctl_cmds[i].name, meetctl_cmds[i].summary);
    fprintf(f, "\n'meetctl %s SUBCOMMAND --help' describes one, with an example.\n", group);
}

int meetctl_usage(meetctl_ctx *ctx, const char *fmt, ...)
{
    fprintf(stderr, "%s: ", ctx->name);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\nTry '%s --help'.\n", ctx->name);
    return MEETCTL_EXIT_USAGE;
}

int meetctl_operands(meetctl_ctx *ctx, int argc, int first, int min, int max, const char *what)
{
    int n = argc - first;
    if (n < min)
        return meetctl_usage(ctx, "missing %s", what);
    if (n > max)
        return meetctl_usage(ctx, "too many arguments (expected %s)", what);
    return 0;
}

/* ---- options --------------------------------------------------------------------- */

static int meetctl_common_option(meetctl_ctx *ctx, int opt, const char *arg)
{
    switch (opt) {
    case MEETCTL_OPT_JSON:
        ctx->json = true;
        return 0;
    case 'q':
        ctx->quiet = true;
        return 0;
    case MEETCTL_OPT_SHELL:
        ctx->shell = arg;
        return 0;
    case MEETCTL_OPT_ENDPOINT:
        ctx->endpoint = arg;
        return 0;
    case MEETCTL_OPT_PROFILE:
        ctx->profile = arg;
        return 0;
    case MEETCTL_OPT_CACERT:
        ctx->ca_file = arg;
        return 0;
    case MEETCTL_OPT_TIMEOUT:
        return meetctl_parse_long(ctx, "--timeout", arg, 1, 86400, &ctx->timeout_s);
    }
    return -1;  /* not a common option */
}

int meetctl_getopt(meetctl_ctx *ctx, int argc, char **argv, const struct option *opts,
                   int (*fn)(meetctl_ctx *ctx, int opt, const char *arg, void *st), void *st,
                   int *first_arg)
{
    optind = 0;     /* glibc: start afresh, argv is a new vector */
    opterr = 0;
    for (;;) {
        int opt = getopt_long(argc, argv, ":hq", opts, NULL);
        if (opt == -1)
            break;
        if (opt == 'h') {
            fputs(ctx->cmd != NULL ? ctx->cmd->help : "", stdout);
            if (ctx->cmd != NULL)
                fputs(MEETCTL_COMMON_HELP, stdout);
            return MEETCTL_HELP;
        }
        if (opt == '?')
            return meetctl_usage(ctx, "unknown option '%s'", argv[optind - 1]);
        if (opt == ':')
            return meetctl_usage(ctx, "option '%s' needs a value", argv[optind - 1]);
        int rc = meetctl_common_option(ctx, opt, optarg);
        if (rc == -1)
            rc = fn != NULL ? fn(ctx, opt, optarg, st) : MEETCTL_EXIT_USAGE;
        if (rc != 0)
            return rc;
    }
    *first_arg = optind;
    return meetctl_output_check(ctx);
}

/* ---- credentials ---------------------------------------------------------------- */

static int meetctl_load_profile(meetctl_ctx *ctx, meet_profile *p)
{
    if (ctx->profile == NULL) {
        memset(p, 0, sizeof *p);
        if (meet_profile_merge_env(p) != MEET_OK) {
            meet_profile_release(p);
            fprintf(stderr, "%s: out of memory\n", ctx->name);
            return MEETCTL_EXIT_API;
        }
        return 0;
    }
    int bad_line = 0;
    errno = 0;
    meet_rc rc = meet_profile_load(ctx->profile, p, &bad_line);
    if (rc == MEET_OK) {
        struct stat st;
        if (stat(ctx->profile, &st) == 0 && (st.st_mode & 077) != 0)
            fprintf(stderr, "%s: warning: %s can be read by other users (chmod 600 it)\n",
                    ctx->name, ctx->profile);
        return 0;
    }
    if (bad_line > 0)
        return meetctl_usage(ctx, "%s, line %d: not a KEY=VALUE line", ctx->profile, bad_line);
    return meetctl_usage(ctx, "cannot read profile %s: %s", ctx->profile,
                         errno != 0 ? strerror(errno) : meet_strerror(rc));
}

static bool meetctl_missing(const char *s)
{
    return s == NULL || s[0] == '\0';
}

static int meetctl_make_client(meetctl_ctx *ctx, const meet_profile *p, bool signing)
{
    if (signing && (meetctl_missing(p->app_id) || meetctl_missing(p->secret_id) ||
                    meetctl_missing(p->secret_key))) {
        fprintf(stderr,
                "%s: no credentials: set MEETD_APP_ID, MEETD_SECRET_ID and MEETD_SECRET_KEY\n"
                "(e.g. set -a; . var/credentials; set +a) or pass --profile FILE\n",
                ctx->name);
        return MEETCTL_EXIT_USAGE;
    }
    const char *endpoint = ctx->endpoint;
    if (endpoint == NULL)
        endpoint = !meetctl_missing(p->endpoint) ? p->endpoint : MEETCTL_DEFAULT_ENDPOINT;
    meet_config cfg = {
        .endpoint = endpoint,
        .app_id = p->app_id,
        .sdk_id = p->sdk_id,
        .secret_id = signing ? p->secret_id : NULL,
        .secret_key = signing ? p->secret_key : NULL,
        .timeout_ms = ctx->timeout_s * 1000,
        .ca_file = ctx->ca_file,
        .user_agent = "meetctl/" MEET_VERSION,
    };
    meet_error err;
    if (meet_client_new(&cfg, &ctx->client, &err) != MEET_OK) {
        if (err.rc == MEET_EINVAL)
            return meetctl_usage(ctx, "%s (endpoint '%s')", err.message, endpoint);
        fprintf(stderr, "%s: %s\n", ctx->name, err.message);
        return MEETCTL_EXIT_API;
    }
    return 0;
}

int meetctl_client_for(meetctl_ctx *ctx, int rc, json_t *body, meet_client **out)
{
    if (rc == 0)
        rc = meetctl_client(ctx, true, out);
    if (rc != 0)
        json_decref(body);
    return rc;
}

int meetctl_client(meetctl_ctx *ctx, bool signing, meet_client **out)
{
    *out = NULL;
    if (ctx->client == NULL) {
        meet_profile p;
        int rc = meetctl_load_profile(ctx, &p);
        if (rc != 0)
            return rc;
        rc = meetctl_make_client(ctx, &p, signing);
        meet_profile_release(&p);
        if (rc != 0)
            return rc;
    }
    *out = ctx->client;
    return 0;
}

/* ---- dispatch --------------------------------------------------------------------- */

static bool meetctl_is_group(const char *word)
{
    for (size_t i = 0; i < MEETCTL_NCMDS; i++)
        if (meetctl_cmds[i].group != NULL && strcmp(meetctl_cmds[i].group, word) == 0)
            return true;
    return false;
}

static const meetctl_cmd *meetctl_find(const char *group, const char *name)
{
    for (size_t i = 0; i < MEETCTL_NCMDS; i++) {
        const meetctl_cmd *c = &meetctl_cmds[i];
        if ((group == NULL) != (c->group == NULL))
            continue;
        if (group != NULL && strcmp(group, c->group) != 0)
            continue;
        if (strcmp(name, c->name) == 0)
            return c;
    }
    return NULL;
}

static bool meetctl_is_help(const char *word)
{
    return strcmp(word, "--help") == 0 || strcmp(word, "-h") == 0 || strcmp(word, "help") == 0;
}

/* The options before the command word. */
static int meetctl_leading_options(meetctl_ctx *ctx, int argc, char **argv, int *next)
{
    static const struct option opts[] = {
        {"version", no_argument, NULL, 'V'},
        MEETCTL_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    optind = 0;
    opterr = 0;
    for (;;) {
        /* '+': stop at the command word; its options are the command's. */
        int opt = getopt_long(argc, argv, "+:hq", opts, NULL);
        if (opt == -1)
            break;
        if (opt == 'h') {
            meetctl_main_help(stdout);
            return MEETCTL_HELP;
        }
        if (opt == 'V') {
            printf("meetctl %s\n", MEETD_VERSION);
            return MEETCTL_HELP;
        }
        if (opt == '?' || opt == ':') {
            fprintf(stderr, "meetctl: %s '%s'\nTry 'meetctl --help'.\n",
                    opt == '?' ? "unknown option" : "missing value for", argv[optind - 1]);
            return MEETCTL_EXIT_USAGE;
        }
        int rc = meetctl_common_option(ctx, opt, optarg);
        if (rc != 0)
            return rc;
    }
    *next = optind;
    return 0;
}

static int meetctl_dispatch(meetctl_ctx *ctx, int argc, char **argv)
{
    int at = 0;
    int rc = meetctl_leading_options(ctx, argc, argv, &at);
    if (rc != 0)
        return rc;
    if (at >= argc) {
        fputs("meetctl: missing command\n\n", stderr);
        meetctl_main_help(stderr);
        return MEETCTL_EXIT_USAGE;
    }
    const char *word = argv[at];
    if (meetctl_is_help(word)) {
        meetctl_main_help(stdout);
        return MEETCTL_HELP;
    }
    const meetctl_cmd *cmd = NULL;
    if (meetctl_is_group(word)) {
        if (at + 1 < argc && meetctl_is_help(argv[at + 1])) {
            meetctl_group_help(stdout, word);
            return MEETCTL_HELP;
        }
        if (at + 1 >= argc) {
            fprintf(stderr, "meetctl %s: missing subcommand\n\n", word);
            meetctl_group_help(stderr, word);
            return MEETCTL_EXIT_USAGE;
        }
        cmd = meetctl_find(word, argv[at + 1]);
        if (cmd == NULL) {
            fprintf(stderr, "meetctl %s: unknown subcommand '%s'\n\n", word, argv[at + 1]);
            meetctl_group_help(stderr, word);
            return MEETCTL_EXIT_USAGE;
        }
        at++;
    } else if ((cmd = meetctl_find(NULL, word)) == NULL) {
        fprintf(stderr, "meetctl: unknown command '%s'\nTry 'meetctl --help'.\n", word);
        return MEETCTL_EXIT_USAGE;
    }
    ctx->cmd = cmd;
    snprintf(ctx->name, sizeof ctx->name, "meetctl %s%s%s", cmd->group ? cmd->group : "",
             cmd->group ? " " : "", cmd->name);
    return cmd->run(ctx, argc - at, argv + at);
}

int main(int argc, char **argv)
{
    if (meet_global_init() != MEET_OK) {
        fputs("meetctl: cannot initialise libcurl or the signer\n", stderr);
        return MEETCTL_EXIT_API;
    }
    meetctl_ctx ctx = {.timeout_s = 0};
    snprintf(ctx.name, sizeof ctx.name, "meetctl");
    int rc = meetctl_dispatch(&ctx, argc, argv);
    meet_client_free(ctx.client);
    meet_global_cleanup();
    if (fflush(stdout) != 0 && rc == 0) {
        fprintf(stderr, "meetctl: cannot write the output: %s\n", strerror(errno));
        rc = MEETCTL_EXIT_API;
    }
    return rc == MEETCTL_HELP ? MEETCTL_EXIT_OK : rc;
}
