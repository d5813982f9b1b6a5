/* meetctl meeting create|get|list|update|cancel|dismiss|participants|realtime */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "cli/meetctl.h"

#define MEETCTL_MAX_HOSTS 10
#define MEETCTL_SUBJECT_MAX 768 /* bytes; the server counts as Tencent does */
#define MEETCTL_ID_MAX 64

enum {
    OPT_USERID = MEETCTL_OPT_FIRST_LOCAL,
    OPT_INSTANCEID,
    OPT_SUBJECT,
    OPT_TYPE,
    OPT_START,
    OPT_END,
    OPT_HOST,
    OPT_RECURRING,
    OPT_UNTIL_COUNT,
    OPT_UNTIL_DATE,
    OPT_SUB_MEETING,
    OPT_REASON_CODE,
    OPT_POS,
    OPT_SIZE,
    OPT_OPERATOR_TYPE,
    OPT_PAGE,
    OPT_NO_HOSTS,
    OPT_OPERATOR,
    OPT_REASON,
    OPT_NO_FORCE,
    OPT_ROOMS_ID,
    OPT_CODE,
    OPT_CURSORY,
    OPT_ALL_SUBS,
};

/* Tencent's largest real-time page. */
#define MEETCTL_REALTIME_PAGE_MAX 50
/* The last second a meeting can start at (9999-12-31): --pos of a list. */
#define MEETCTL_TIME_MAX 253402300799L

/* Everything the meeting subcommands take; each reads what it needs. */
typedef struct meetctl_meeting_opts {
    const char *userid;
    int instanceid;
    const char *subject;
    const char *type;
    const char *start, *end;
    const char *hosts[MEETCTL_MAX_HOSTS];
    size_t nhosts;
    const char *recurring;
    long until_count;
    const char *until_date;
    const char *sub_meeting;
    long reason_code;
    long pos, size;
    bool instanceid_given;
    long operator_type;      /* operator_id_type of the lists; -1: not given (1) */
    long page;
    bool no_hosts;
    const char *op;         /* --operator KIND:ID/INST (cancel, dismiss) */
    const char *reason;     /* --reason: reason_detail */
    bool no_force;          /* --no-force: force_dismiss_meeting 0 */
    const char *rooms_id;
    const char *code;
    long cursory;
    bool all_subs;
} meetctl_meeting_opts;

/* The server's rule (docs/api.md "Create"), checked before sending:
 * Tencent counts 2 bytes a character, 4 for one above U+FFFF. */
static int meetctl_check_subject(meetctl_ctx *ctx, const char *s)
{
    int rc = meetctl_check_text(ctx, "--subject", s, MEETCTL_SUBJECT_MAX);
    if (rc != 0)
        return rc;
    size_t units = 0;
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++)
        if ((*p & 0xc0) != 0x80)
            units += *p >= 0xf0 ? 4 : 2;
    if (units > 512)
        return meetctl_usage(ctx, "--subject must be at most 512 bytes as Tencent counts them "
                                  "(2 a character, 4 above U+FFFF); it is %zu", units);
    return 0;
}

static int meetctl_meeting_opt(meetctl_ctx *ctx, int opt, const char *arg, void *st)
{
    meetctl_meeting_opts *o = st;
    switch (opt) {
    case OPT_USERID:
        o->userid = arg;
        return meetctl_check_text(ctx, "--userid", arg, MEETCTL_ID_MAX);
    case OPT_INSTANCEID:
        o->instanceid_given = true;
        return meetctl_parse_instanceid(ctx, arg, &o->instanceid);
    case OPT_SUBJECT:
        o->subject = arg;
        return meetctl_check_subject(ctx, arg);
    case OPT_TYPE:
        o->type = arg;
        return 0;
    case OPT_START:
        o->start = arg;
        return 0;
    case OPT_END:
        o->end = arg;
        return 0;
    case OPT_HOST:
        if (o->nhosts == MEETCTL_MAX_HOSTS)
            return meetctl_usage(ctx, "at most %d --host", MEETCTL_MAX_HOSTS);
        o->hosts[o->nhosts++] = arg;
        return meetctl_check_text(ctx, "--host", arg, MEETCTL_ID_MAX);
    case OPT_RECURRING:
        o->recurring = arg;
        return 0;
    case OPT_UNTIL_COUNT:
        return meetctl_parse_long(ctx, "--until-count", arg, 1, 500, &o->until_count);
    case OPT_UNTIL_DATE:
        o->until_date = arg;
        return 0;
    case OPT_SUB_MEETING:
        o->sub_meeting = arg;
        return meetctl_check_text(ctx, "--sub-meeting", arg, MEETCTL_ID_MAX);
    case OPT_REASON_CODE:
        return meetctl_parse_long(ctx, "--reason-code", arg, 0, 1000000, &o->reason_code);
    case OPT_POS:
        return meetctl_parse_long(ctx, "--pos", arg, 0, MEETCTL_TIME_MAX, &o->pos);
    case OPT_SIZE:
        return meetctl_parse_long(ctx, "--size", arg, 1, MEETCTL_PAGE_MAX, &o->size);
    case OPT_OPERATOR_TYPE:
        return meetctl_parse_long(ctx, "--operator-type", arg, 1, 3, &o->operator_type);
    case OPT_PAGE:
        return meetctl_parse_long(ctx, "--page", arg, 1, 1000000000, &o->page);
    case OPT_NO_HOSTS:
        o->no_hosts = true;
        return 0;
    case OPT_OPERATOR:
        if (o->op != NULL)
            return meetctl_usage(ctx, "--operator given twice");
        o->op = arg;
        return 0;
    case OPT_REASON:
        o->reason = arg;
        return meetctl_check_text(ctx, "--reason", arg, MEETCTL_REASON_MAX);
    case OPT_NO_FORCE:
        o->no_force = true;
        return 0;
    case OPT_ROOMS_ID:
        o->rooms_id = arg;
        return meetctl_check_text(ctx, "--rooms-id", arg, 128);
    case OPT_CODE:
        o->code = arg;
        return meetctl_check_text(ctx, "--code", arg, 9);
    case OPT_CURSORY:
        return meetctl_parse_long(ctx, "--cursory", arg, 0, 1000000000, &o->cursory);
    case OPT_ALL_SUBS:
        o->all_subs = true;
        return 0;
    }
    return MEETCTL_EXIT_USAGE;
}

static const struct option meetctl_meeting_options[] = {
    {"userid", required_argument, NULL, OPT_USERID},
    {"instanceid", required_argument, NULL, OPT_INSTANCEID},
    {"subject", required_argument, NULL, OPT_SUBJECT},
    {"type", required_argument, NULL, OPT_TYPE},
    {"start", required_argument, NULL, OPT_START},
    {"end", required_argument, NULL, OPT_END},
    {"host", required_argument, NULL, OPT_HOST},
    {"recurring", required_argument, NULL, OPT_RECURRING},
    {"until-count", required_argument, NULL, OPT_UNTIL_COUNT},
    {"until-date", required_argument, NULL, OPT_UNTIL_DATE},
    {"sub-meeting", required_argument, NULL, OPT_SUB_MEETING},
    {"reason-code", required_argument, NULL, OPT_REASON_CODE},
    {"pos", required_argument, NULL, OPT_POS},
    {"size", required_argument, NULL, OPT_SIZE},
    {"operator-type", required_argument, NULL, OPT_OPERATOR_TYPE},
    {"page", required_argument, NULL, OPT_PAGE},
    {"no-hosts", no_argument, NULL, OPT_NO_HOSTS},
    {"operator", required_argument, NULL, OPT_OPERATOR},
    {"reason", required_argument, NULL, OPT_REASON},
    {"no-force", no_argument, NULL, OPT_NO_FORCE},
    {"rooms-id", required_argument, NULL, OPT_ROOMS_ID},
    {"code", required_argument, NULL, OPT_CODE},
    {"cursory", required_argument, NULL, OPT_CURSORY},
    {"all-sub-meetings", no_argument, NULL, OPT_ALL_SUBS},
    MEETCTL_COMMON_OPTIONS,
    {NULL, 0, NULL, 0},
};

/* Options a subcommand does not take are refused rather than ignored. */
static int meetctl_only(meetctl_ctx *ctx, const meetctl_meeting_opts *o, unsigned allowed)
{
    static const char *const names[] = {"--subject", "--type", "--start", "--end", "--host",
                                        "--recurring", "--until-count", "--until-date",
                                        "--sub-meeting", "--reason-code", "--pos", "--size",
                                        "--instanceid", "--operator-type", "--page",
                                        "--no-hosts", "--operator", "--reason", "--no-force",
                                        "--rooms-id", "--code", "--cursory",
                                        "--all-sub-meetings"};
    bool given[] = {o->subject, o->type, o->start, o->end, o->nhosts > 0, o->recurring,
                    o->until_count >= 0, o->until_date, o->sub_meeting, o->reason_code >= 0,
                    o->pos >= 0, o->size >= 0, o->instanceid_given, o->operator_type >= 0,
                    o->page >= 0, o->no_hosts, o->op, o->reason, o->no_force, o->rooms_id,
                    o->code, o->cursory >= 0, o->all_subs};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (given[i] && !(allowed & (1u << i)))
            return meetctl_usage(ctx, "%s is not an option of this command", names[i]);
    return 0;
}
#define ALLOW_INSTANCEID (1u << 12)
#define ALLOW_CREATE (0xffu | ALLOW_INSTANCEID)
#define ALLOW_OPERATOR_TYPE (1u << 13)
/* --start/--end: the join-time filter; --operator-type: operator_id_type. */
#define ALLOW_ROOMS (1u << 19)
#define ALLOW_PARTICIPANTS \
    ((1u << 2) | (1u << 3) | (1u << 8) | (1u << 10) | (1u << 11) | ALLOW_OPERATOR_TYPE | \
     ALLOW_ROOMS)
#define ALLOW_REALTIME \
    ((1u << 8) | (1u << 11) | ALLOW_OPERATOR_TYPE | (1u << 14) | ALLOW_ROOMS)
/* Everything create takes but --type (a meeting's type does not change),
 * and --sub-meeting, --no-hosts. */
#define ALLOW_UPDATE ((0xffu & ~(1u << 1)) | (1u << 8) | ALLOW_INSTANCEID | (1u << 15))
#define ALLOW_OPERATOR (1u << 16)
#define ALLOW_END ((1u << 9) | ALLOW_INSTANCEID | ALLOW_OPERATOR | (1u << 17))
#define ALLOW_CANCEL ((1u << 8) | ALLOW_END)
#define ALLOW_DISMISS ((1u << 18) | ALLOW_END)
#define ALLOW_CODE (1u << 20)
#define ALLOW_GET (ALLOW_INSTANCEID | ALLOW_ROOMS | ALLOW_CODE)
#define ALLOW_LIST (ALLOW_INSTANCEID | (1u << 10) | (1u << 21) | (1u << 22))

/* Parses the options and the operands; *mid is NULL when want_meeting is
 * false, or when --code names the meeting instead. */
static int meetctl_meeting_args(meetctl_ctx *ctx, int argc, char **argv, meetctl_meeting_opts *o,
                                unsigned allowed, bool want_meeting, const char **mid)
{
    memset(o, 0, sizeof *o);
    o->instanceid = 1;
    o->until_count = o->reason_code = o->pos = o->size = o->operator_type = o->page = -1;
    o->cursory = -1;
    int first;
    int rc = meetctl_getopt(ctx, argc, argv, meetctl_meeting_options, meetctl_meeting_opt, o,
                            &first);
    if (rc == 0)
        rc = meetctl_only(ctx, o, allowed);
    bool operand = want_meeting && o->code == NULL;
    if (rc == 0)
        rc = meetctl_operands(ctx, argc, first, operand, operand,
                              (allowed & ALLOW_CODE) ? "MEETING (or --code CODE)" : "MEETING");
    if (rc == 0 && (allowed & ALLOW_OPERATOR)) {
        /* The operator named one way: --userid (with --instanceid) is
         * --operator userid:USERID/N spelled the older way. */
        if ((o->op == NULL) == (o->userid == NULL))
            rc = meetctl_usage(ctx, "give --operator (userid:ID/INST or ms:ID/INST) or --userid");
        else if (o->op != NULL && o->instanceid_given)
            rc = meetctl_usage(ctx, "--operator names the device: no --instanceid with it");
    } else if (rc == 0 && o->userid != NULL && o->rooms_id != NULL) {
        rc = meetctl_usage(ctx, "give --userid or --rooms-id, not both");
    } else if (rc == 0 && o->userid == NULL && o->rooms_id == NULL) {
        rc = meetctl_usage(ctx, (allowed & ALLOW_ROOMS) ? "--userid or --rooms-id is required"
                                                        : "--userid is required");
    }
    *mid = operand && rc == 0 ? argv[first] : NULL;
    return rc;
}

/* ---- showing a meeting -------------------------------------------------------------- */

/* "alice, bob" from [{"userid":…}, …], falling back to ms_open_id. */
static char *meetctl_user_list(const json_t *arr)
{
    size_t cap = 1, i;
    json_t *u;
    json_array_foreach(arr, i, u) {
        const char *id = meetctl_jstr(u, "userid")[0] ? meetctl_jstr(u, "userid")
                                                      : meetctl_jstr(u, "ms_open_id");
        cap += strlen(id) + 2;
    }
    char *out = calloc(1, cap);
    if (out == NULL)
        return NULL;
    json_array_foreach(arr, i, u) {
        const char *id = meetctl_jstr(u, "userid")[0] ? meetctl_jstr(u, "userid")
                                                      : meetctl_jstr(u, "ms_open_id");
        if (i > 0)
            strcat(out, ", ");
        strcat(out, id);
    }
    return out;
}

static void meetctl_kv(meetctl_table *t, const char *key, const char *value)
{
    if (value == NULL || value[0] == '\0')
        return;
    const char *row[] = {key, value};
    meetctl_table_add(t, row);
}

static int meetctl_show_occurrences(const json_t *subs)
{
    if (json_array_size(subs) == 0)
        return 0;
    static const char *const heads[] = {"SUB_MEETING_ID", "STATUS", "START", "END"};
    meetctl_table t;
    meetctl_table_init(&t, 4, heads);
    size_t i;
    json_t *s;
    json_array_foreach(subs, i, s) {
        char id[32], start[32], end[32];
        /* meetd's state of the occurrence; Tencent's integer says only
         * whether it was cancelled. */
        char st[32];
        const char *state = meetctl_jstr(s, "sub_meeting_state");
        if (state[0] == '\0')
            state = meetctl_jtext(s, "status", st, sizeof st)[0] == '1' ? "cancelled"
                                                                       : "scheduled";
        const char *row[] = {meetctl_jtext(s, "sub_meeting_id", id, sizeof id), state,
                             meetctl_jtime(s, "start_time", start, sizeof start),
                             meetctl_jtime(s, "end_time", end, sizeof end)};
        meetctl_table_add(&t, row);
    }
    fputc('\n', stdout);
    return meetctl_table_flush(&t, stdout);
}

static int meetctl_show_meeting(const json_t *m)
{
    char type[16], start[32], end[32], mtype[16], cur[32];
    meetctl_table t;
    meetctl_table_init(&t, 2, NULL);
    meetctl_kv(&t, "meeting_id", meetctl_jstr(m, "meeting_id"));
    meetctl_kv(&t, "meeting_code", meetctl_jstr(m, "meeting_code"));
    meetctl_kv(&t, "subject", meetctl_jstr(m, "subject"));
    meetctl_kv(&t, "status", meetctl_jstr(m, "status"));
    meetctl_jtext(m, "type", type, sizeof type);
    meetctl_kv(&t, "type", strcmp(type, "1") == 0 ? "quick" : strcmp(type, "0") == 0 ? "scheduled"
                                                                                  : type);
    meetctl_jtext(m, "meeting_type", mtype, sizeof mtype);
    if (strcmp(mtype, "1") == 0)
        meetctl_kv(&t, "recurring", "yes");
    meetctl_kv(&t, "start", meetctl_jtime(m, "start_time", start, sizeof start));
    meetctl_kv(&t, "end", meetctl_jtime(m, "end_time", end, sizeof end));
    char *hosts = meetctl_user_list(json_object_get(m, "hosts"));
    char *cohosts = meetctl_user_list(json_object_get(m, "current_co_hosts"));
    meetctl_kv(&t, "hosts", hosts);
    meetctl_kv(&t, "co-hosts", cohosts);
    meetctl_kv(&t, "current_sub_meeting_id",
               meetctl_jtext(m, "current_sub_meeting_id", cur, sizeof cur));
    char remain[16];
    meetctl_kv(&t, "remaining occurrences",
               meetctl_jtext(m, "remain_sub_meetings", remain, sizeof remain));
    meetctl_kv(&t, "join_url", meetctl_jstr(m, "join_url"));
    free(hosts);
    free(cohosts);
    int rc = meetctl_table_flush(&t, stdout);
    if (rc == 0)
        rc = meetctl_show_occurrences(json_object_get(m, "sub_meetings"));
    return rc;
}

static int meetctl_show_meetings(const json_t *out)
{
    size_t i;
    json_t *m;
    json_array_foreach(json_object_get(out, "meeting_info_list"), i, m) {
        if (i > 0)
            fputc('\n', stdout);
        if (meetctl_show_meeting(m) != 0)
            return MEETCTL_EXIT_API;
    }
    return 0;
}


/* ---- create --------------------------------------------------------------------------- */

static int meetctl_recurring_type(const char *s)
{
    static const char *const names[] = {"daily", "workdays", "weekly", "biweekly", "monthly"};
    for (int i = 0; i < 5; i++)
        if (strcmp(s, names[i]) == 0 || (s[0] == '0' + i && s[1] == '\0'))
            return i;
    return -1;
}

/* --recurring with --until-count or --until-date as a recurring_rule
 * (*rule NULL without --recurring). 0 or MEETCTL_EXIT_USAGE. */
static int meetctl_rule(meetctl_ctx *ctx, const meetctl_meeting_opts *o, json_t **rule)
{
    *rule = NULL;
    int rtype = -1;
    if (o->recurring != NULL && (rtype = meetctl_recurring_type(o->recurring)) < 0)
        return meetctl_usage(ctx, "--recurring is daily, workdays, weekly, biweekly or monthly");
    if (o->recurring == NULL && (o->until_count >= 0 || o->until_date != NULL))
        return meetctl_usage(ctx, "--until-count and --until-date need --recurring");
    if (o->until_count >= 0 && o->until_date != NULL)
        return meetctl_usage(ctx, "give --until-count or --until-date, not both");
    long long until = 0;
    if (o->until_date != NULL && meetctl_parse_time(ctx, "--until-date", o->until_date, &until))
        return MEETCTL_EXIT_USAGE;
    if (rtype < 0)
        return 0;
    *rule = o->until_date != NULL
                ? json_pack("{s:i, s:i, s:I}", "recurring_type", rtype, "until_type", 0,
                            "until_date", (json_int_t)until)
                : json_pack("{s:i, s:i, s:i}", "recurring_type", rtype, "until_type", 1,
                            "until_count", (int)(o->until_count > 0 ? o->until_count : 7));
    return 0;
}

/* What a create and a modify body share, as the SDK sends it: a time as
 * a string of Unix seconds, the hosts ([] with --no-hosts), a new
 * recurring rule (which makes the meeting recurring; the body takes it
 * over). Each returns true when jansson failed: out of memory. */
static bool meetctl_put_time(json_t *b, const char *key, long long t)
{
    char s[24];
    snprintf(s, sizeof s, "%lld", t);
    return json_object_set_new(b, key, json_string(s)) != 0;
}

static bool meetctl_put_hosts(json_t *b, const meetctl_meeting_opts *o)
{
    json_t *hosts = json_array();
    bool failed = false;
    for (size_t i = 0; i < o->nhosts; i++)
        failed |= json_array_append_new(hosts, json_pack("{s:s}", "userid", o->hosts[i])) != 0;
    return json_object_set_new(b, "hosts", hosts) != 0 || failed;
}

static bool meetctl_put_rule(json_t *b, json_t **rule)
{
    bool failed = json_object_set_new(b, "meeting_type", json_integer(1)) != 0;
    failed |= json_object_set_new(b, "recurring_rule", *rule) != 0;
    *rule = NULL;
    return failed;
}

/* The end of building a body: *out is b, or b is dropped (rc an exit
 * status, or failed: out of memory, said here). */
static int meetctl_body_done(meetctl_ctx *ctx, json_t *b, json_t *rule, int rc, bool failed,
                             json_t **out)
{
    json_decref(rule);
    if (rc == 0 && !failed) {
        *out = b;
        return 0;
    }
    json_decref(b);
    if (rc != 0)
        return rc;
    fprintf(stderr, "%s: out of memory\n", ctx->name);
    return MEETCTL_EXIT_API;
}

/* The create body, checked as the contract checks it. */
static int meetctl_create_body(meetctl_ctx *ctx, const meetctl_meeting_opts *o, json_t **out)
{
    *out = NULL;
    if (o->subject == NULL)
        return meetctl_usage(ctx, "--subject is required");
    int type = o->start != NULL ? 0 : 1;
    if (o->type != NULL) {
        if (strcmp(o->type, "scheduled") == 0 || strcmp(o->type, "0") == 0)
            type = 0;
        else if (strcmp(o->type, "quick") == 0 || strcmp(o->type, "1") == 0)
            type = 1;
        else
            return meetctl_usage(ctx, "--type is quick or scheduled, not '%s'", o->type);
    }
    long long start = 0, end = 0;
    if ((o->start != NULL) != (o->end != NULL))
        return meetctl_usage(ctx, "--start and --end go together");
    if (type == 0 && o->start == NULL)
        return meetctl_usage(ctx, "a scheduled meeting needs --start and --end");
    if (o->start != NULL && (meetctl_parse_time(ctx, "--start", o->start, &start) != 0 ||
                             meetctl_parse_time(ctx, "--end", o->end, &end) != 0))
        return MEETCTL_EXIT_USAGE;
    if (o->start != NULL && end <= start)
        return meetctl_usage(ctx, "--end must be after --start");
    json_t *rule = NULL;
    if (meetctl_rule(ctx, o, &rule) != 0)
        return MEETCTL_EXIT_USAGE;

    json_t *b = json_pack("{s:s, s:i, s:s, s:i}", "userid", o->userid, "instanceid", o->instanceid,
                          "subject", o->subject, "type", type);
    bool failed = b == NULL;
    if (!failed && o->start != NULL)
        failed = meetctl_put_time(b, "start_time", start) | meetctl_put_time(b, "end_time", end);
    if (!failed && o->nhosts > 0)
        failed = meetctl_put_hosts(b, o);
    if (!failed && rule != NULL)
        failed = meetctl_put_rule(b, &rule);
    return meetctl_body_done(ctx, b, rule, 0, failed, out);
}

/* ---- update ------------------------------------------------------------------------- */

/* --start/--end of a modify, when given: parsed, then put as create puts it. */
static int meetctl_time_field(meetctl_ctx *ctx, json_t *b, const char *opt, const char *key,
                              const char *arg, bool *failed)
{
    long long t;
    if (arg == NULL)
        return 0;
    if (meetctl_parse_time(ctx, opt, arg, &t) != 0)
        return MEETCTL_EXIT_USAGE;
    *failed |= meetctl_put_time(b, key, t);
    return 0;
}

/* The modify body: who asks, then only what the options change, as
 * Tencent's SDK sends it (userid and instanceid, times as strings). */
static int meetctl_update_body(meetctl_ctx *ctx, const meetctl_meeting_opts *o, json_t **out)
{
    *out = NULL;
    if (o->no_hosts && o->nhosts > 0)
        return meetctl_usage(ctx, "give --host or --no-hosts, not both");
    if (o->sub_meeting != NULL && o->recurring != NULL)
        return meetctl_usage(ctx, "--sub-meeting moves one occurrence: not with --recurring");
    if (o->sub_meeting != NULL && (o->nhosts > 0 || o->no_hosts))
        return meetctl_usage(ctx, "--sub-meeting moves one occurrence: hosts are the series'");
    if (o->sub_meeting != NULL && o->start == NULL && o->end == NULL)
        return meetctl_usage(ctx, "--sub-meeting needs --start or --end");
    if (o->subject == NULL && o->start == NULL && o->end == NULL && o->nhosts == 0 &&
        !o->no_hosts && o->recurring == NULL && o->sub_meeting == NULL)
        return meetctl_usage(ctx, "nothing to change: give --subject, --start, --end, --host, "
                                  "--no-hosts or --recurring");
    json_t *rule = NULL;
    if (meetctl_rule(ctx, o, &rule) != 0)
        return MEETCTL_EXIT_USAGE;
    json_t *b = json_pack("{s:s, s:i}", "userid", o->userid, "instanceid", o->instanceid);
    bool failed = b == NULL;
    if (!failed && o->subject != NULL)
        failed |= json_object_set_new(b, "subject", json_string(o->subject)) != 0;
    int rc = 0;
    if (!failed && (meetctl_time_field(ctx, b, "--start", "start_time", o->start, &failed) != 0 ||
                    meetctl_time_field(ctx, b, "--end", "end_time", o->end, &failed) != 0))
        rc = MEETCTL_EXIT_USAGE;
    if (rc == 0 && !failed && (o->nhosts > 0 || o->no_hosts))
        failed = meetctl_put_hosts(b, o);
    if (rc == 0 && !failed && rule != NULL)
        failed = meetctl_put_rule(b, &rule);
    if (rc == 0 && !failed && o->sub_meeting != NULL)
        failed |= json_object_set_new(b, "recurring_rule",
                                      json_pack("{s:s}", "sub_meeting_id", o->sub_meeting)) != 0;
    return meetctl_body_done(ctx, b, rule, rc, failed, out);
}

/* create and update: the body from the options, then one request. */
static int meetctl_meeting_write(meetctl_ctx *ctx, int argc, char **argv, bool update)
{
    meetctl_meeting_opts o;
    const char *mid;
    int rc = meetctl_meeting_args(ctx, argc, argv, &o, update ? ALLOW_UPDATE : ALLOW_CREATE,
                                  update, &mid);
    json_t *body = NULL;
    if (rc == 0)
        rc = update ? meetctl_update_body(ctx, &o, &body) : meetctl_create_body(ctx, &o, &body);
    meet_client *c;
    if ((rc = meetctl_client_for(ctx, rc, body, &c)) != 0)
        return rc;
    json_t *out;
    meet_error err;
    meet_rc r = update ? meet_meeting_update(c, mid, body, &out, &err)
                       : meet_meeting_create(c, body, &out, &err);
    json_decref(body);
    if (r != MEET_OK)
        return meetctl_fail(ctx, &err);
    return update ? meetctl_finish_say(ctx, out, "updated: %s", mid)
                  : meetctl_finish(ctx, out, meetctl_show_meetings);
}

int meetctl_meeting_create(meetctl_ctx *ctx, int argc, char **argv)
{
    return meetctl_meeting_write(ctx, argc, argv, false);
}

int meetctl_meeting_update(meetctl_ctx *ctx, int argc, char **argv)
{
    return meetctl_meeting_write(ctx, argc, argv, true);
}

/* ---- get, cancel, dismiss ------------------------------------------------------------- */

int meetctl_meeting_get(meetctl_ctx *ctx, int argc, char **argv)
{
    meetctl_meeting_opts o;
    const char *mid;
    int rc = meetctl_meeting_args(ctx, argc, argv, &o, ALLOW_GET, true, &mid);
    meet_client *c;
    if ((rc = meetctl_client_for(ctx, rc, NULL, &c)) != 0)
        return rc;
    const char *op = o.rooms_id != NULL ? o.rooms_id : o.userid;
    int type = o.rooms_id != NULL ? MEET_OPERATOR_ROOMS_ID : MEET_OPERATOR_USERID;
    json_t *out;
    meet_error err;
    meet_rc r = o.code != NULL
                    ? meet_meeting_by_code(c, o.code, op, type, o.instanceid, &out, &err)
                    : meet_meeting_query(c, mid, op, type, o.instanceid, &out, &err);
    if (r != MEET_OK)
        return meetctl_fail(ctx, &err);
    return meetctl_finish(ctx, out, meetctl_show_meetings);
}

/* ---- list ------------------------------------------------------------------------------ */

static int meetctl_show_list(const json_t *out)
{
    static const char *const heads[] = {"MEETING_ID", "CODE", "SUBJECT", "STATUS", "START",
                                        "ROLE"};
    meetctl_table t;
    meetctl_table_init(&t, 6, heads);
    const json_t *list = json_object_get(out, "meeting_info_list");
    size_t i;
    json_t *m;
    json_array_foreach(list, i, m) {
        char start[32];
        const char *status = meetctl_jstr(m, "status");
        if (strncmp(status, "MEETING_STATE_", 14) == 0)
            status += 14;
        const char *row[] = {meetctl_jstr(m, "meeting_id"), meetctl_jstr(m, "meeting_code"),
                             meetctl_jstr(m, "subject"), status,
                             meetctl_jtime(m, "start_time", start, sizeof start),
                             meetctl_jstr(m, "join_meeting_role")};
        meetctl_table_add(&t, row);
    }
    if (json_array_size(list) > 0 && meetctl_table_flush(&t, stdout) != 0)
        return 1;
    size_t n = json_array_size(list);
    long long remaining = (long long)json_integer_value(json_object_get(out, "remaining"));
    if (remaining > 0)
        printf("%zu meeting%s, %lld more with --pos %lld --cursory %lld\n", n, n == 1 ? "" : "s",
               remaining, (long long)json_integer_value(json_object_get(out, "next_pos")),
               (long long)json_integer_value(json_object_get(out, "next_cursory")));
    else
        printf("%zu meeting%s\n", n, n == 1 ? "" : "s");
    return 0;
}

int meetctl_meeting_list(meetctl_ctx *ctx, int argc, char **argv)
{
    meetctl_meeting_opts o;
    const char *mid;
    int rc = meetctl_meeting_args(ctx, argc, argv, &o, ALLOW_LIST, false, &mid);
    if (rc == 0 && (o.pos >= 0) != (o.cursory >= 0))
        rc = meetctl_usage(ctx, "--pos and --cursory go together (the previous page's)");
    meet_client *c;
    if ((rc = meetctl_client_for(ctx, rc, NULL, &c)) != 0)
        return rc;
    json_t *out;
    meet_error err;
    if (meet_meetings_list(c, o.userid, o.instanceid, o.pos, o.cursory, o.all_subs, &out,
                           &err) != MEET_OK)
        return meetctl_fail(ctx, &err);
    return meetctl_finish(ctx, out, meetctl_show_list);
}

/* The body of a cancel or dismiss, keys in the order the official SDK
 * sends them (its models' fields, alphabetically). Dismiss names its
 * operator by operator_id + operator_id_type, Tencent's only form for it;
 * cancel by userid, the SDK's form, unless the operator is an ms_open_id,
 * which only operator_id carries. */
static json_t *meetctl_end_body(const meetctl_meeting_opts *o, const meetctl_ident *op,
                                bool cancel)
{
    json_t *b = json_object();
    int bad = b == NULL;
    bool by_operator = !cancel || op->kind != MEETCTL_ID_USERID;
    long reason_code = o->reason_code >= 0 ? o->reason_code : 1;
    if (!cancel && o->no_force)
        bad |= json_object_set_new(b, "force_dismiss_meeting", json_integer(0));
    bad |= json_object_set_new(b, "instanceid", json_integer(op->instanceid));
    if (by_operator) {
        bad |= json_object_set_new(b, "operator_id", json_string(op->id));
        bad |= json_object_set_new(b, "operator_id_type",
                                   json_integer(op->kind == MEETCTL_ID_MS ? 4 : 1));
    }
    bad |= json_object_set_new(b, "reason_code", json_integer(reason_code));
    if (o->reason != NULL)
        bad |= json_object_set_new(b, "reason_detail", json_string(o->reason));
    if (cancel && o->sub_meeting != NULL)
        bad |= json_object_set_new(b, "sub_meeting_id", json_string(o->sub_meeting));
    if (!by_operator)
        bad |= json_object_set_new(b, "userid", json_string(op->id));
    if (bad) {
        json_decref(b);
        return NULL;
    }
    return b;
}

static int meetctl_end_meeting(meetctl_ctx *ctx, int argc, char **argv, bool cancel)
{
    meetctl_meeting_opts o;
    const char *mid;
    int rc = meetctl_meeting_args(ctx, argc, argv, &o, cancel ? ALLOW_CANCEL : ALLOW_DISMISS,
                                  true, &mid);
    meetctl_ident op;
    memset(&op, 0, sizeof op);
    if (rc == 0 && o.op != NULL) {
        rc = meetctl_parse_ident(ctx, o.op, &op);
        if (rc == 0 && op.kind == MEETCTL_ID_UUID)
            rc = meetctl_usage(ctx, "'%s': the operator is named by userid: or ms:, not uuid:",
                               o.op);
    } else if (rc == 0) {
        op.kind = MEETCTL_ID_USERID;
        snprintf(op.id, sizeof op.id, "%s", o.userid);
        op.instanceid = o.instanceid;
    }
    meet_client *c;
    if ((rc = meetctl_client_for(ctx, rc, NULL, &c)) != 0)
        return rc;
    json_t *body = meetctl_end_body(&o, &op, cancel);
    if (body == NULL) {
        fprintf(stderr, "%s: out of memory\n", ctx->name);
        return MEETCTL_EXIT_API;
    }
    json_t *out;
    meet_error err;
    meet_rc r = cancel ? meet_meeting_cancel(c, mid, body, &out, &err)
                       : meet_meeting_dismiss(c, mid, body, &out, &err);
    json_decref(body);
    if (r != MEET_OK)
        return meetctl_fail(ctx, &err);
    return meetctl_finish_say(ctx, out, "%s %s",
                              cancel ? (o.sub_meeting ? "occurrence cancelled:" : "cancelled:")
                                     : "dismissed:",
                              mid);
}

int meetctl_meeting_cancel(meetctl_ctx *ctx, int argc, char **argv)
{
    return meetctl_end_meeting(ctx, argc, argv, true);
}

int meetctl_meeting_dismiss(meetctl_ctx *ctx, int argc, char **argv)
{
    return meetctl_end_meeting(ctx, argc, argv, false);
}

/* ---- participants ---------------------------------------------------------------------- */

/* user_name is the base64 of the nick name; anything else is shown as it
 * came. */
static char *meetctl_unbase64(const char *in)
{
    size_t n = strlen(in);
    char *out = malloc(n + 1);
    if (out == NULL)
        return NULL;
    int len = n > 0 && n % 4 == 0 ? EVP_DecodeBlock((unsigned char *)out,
                                                    (const unsigned char *)in, (int)n)
                                  : -1;
    if (len < 0) {
        memcpy(out, in, n + 1);
        return out;
    }
    /* EVP_DecodeBlock counts the padding as data: drop what '=' stood for. */
    for (size_t i = n; i > 0 && in[i - 1] == '='; i--)
        len--;
    out[len] = '\0';
    return out;
}

/* Tencent's join_type: how the device came in (0 by telephone, 1 over the
 * network); others are kinds of join meetd does not have. */
static const char *meetctl_join_type(const json_t *p)
{
    const json_t *v = json_object_get(p, "join_type");
    if (!json_is_integer(v))
        return "";
    switch (json_integer_value(v)) {
    case 0:
        return "PSTN";
    case 1:
        return "VoIP";
    default:
        return "other";
    }
}

/* The rows of either list; realtime lists have no LEFT column. */
static int meetctl_show_rows(const json_t *rows, bool realtime)
{
    static const char *const heads[] = {"MS_OPEN_ID", "USER", "NAME", "DEVICE", "JOIN",
                                        "ROLE", "JOINED", "LEFT"};
    meetctl_table t;
    meetctl_table_init(&t, realtime ? 7 : 8, heads);
    size_t i;
    json_t *p;
    json_array_foreach(rows, i, p) {
        char user[140], device[48], joined[32], left[32];
        const char *userid = meetctl_jstr(p, "userid");
        if (userid[0] == '\0' && meetctl_jstr(p, "guest_id")[0] != '\0')
            snprintf(user, sizeof user, "guest:%s", meetctl_jstr(p, "guest_id"));
        else
            snprintf(user, sizeof user, "%s", userid);
        long inst = (long)json_integer_value(json_object_get(p, "instanceid"));
        snprintf(device, sizeof device, "%ld %s", inst, meetctl_device_name(inst));
        char *name = meetctl_unbase64(meetctl_jstr(p, "user_name"));
        const char *row[] = {meetctl_jstr(p, "ms_open_id"), user, name ? name : "", device,
                             meetctl_join_type(p),
                             meetctl_role_name((long)json_integer_value(
                                 json_object_get(p, "user_role"))),
                             meetctl_jtime(p, "join_time", joined, sizeof joined),
                             meetctl_jtime(p, "left_time", left, sizeof left)};
        meetctl_table_add(&t, row);
        free(name);
    }
    return meetctl_table_flush(&t, stdout) != 0;
}

static int meetctl_show_participants(const json_t *out)
{
    const json_t *rows = json_object_get(out, "participants");
    if (meetctl_show_rows(rows, false) != 0)
        return 1;
    meetctl_page_footer(out, json_array_size(rows), "device");
    return 0;
}

static int meetctl_show_realtime(const json_t *out)
{
    const json_t *rows = json_object_get(out, "participants");
    if (meetctl_show_rows(rows, true) != 0)
        return 1;
    long long total = (long long)json_integer_value(json_object_get(out, "total_count"));
    long long page = (long long)json_integer_value(json_object_get(out, "current_page"));
    long long pages = (long long)json_integer_value(json_object_get(out, "total_page"));
    if (page < pages)
        printf("page %lld of %lld, %lld device%s present; more with --page %lld\n", page,
               pages, total, total == 1 ? "" : "s", page + 1);
    else
        printf("%lld device%s present\n", total, total == 1 ? "" : "s");
    return 0;
}

/* The list request both subcommands send: --userid is the operator, of
 * --operator-type (default 1, userid), or --rooms-id, of type 3. */
static int meetctl_list_query(meetctl_ctx *ctx, int rc, const meetctl_meeting_opts *o,
                              meet_participants_query *q)
{
    meet_participants_query_init(q);
    if (rc == 0 && o->rooms_id != NULL && o->operator_type > 0)
        rc = meetctl_usage(ctx, "--rooms-id is operator_id_type 3: no --operator-type with it");
    q->operator_id = o->rooms_id != NULL ? o->rooms_id : o->userid;
    q->operator_id_type = o->rooms_id != NULL  ? MEET_OPERATOR_ROOMS_ID
                          : o->operator_type > 0 ? (int)o->operator_type
                                                 : MEET_OPERATOR_USERID;
    q->sub_meeting_id = o->sub_meeting;
    return rc;
}

int meetctl_meeting_participants(meetctl_ctx *ctx, int argc, char **argv)
{
    meetctl_meeting_opts o;
    const char *mid;
    long long start = -1, end = -1;
    int rc = meetctl_meeting_args(ctx, argc, argv, &o, ALLOW_PARTICIPANTS, true, &mid);
    if (rc == 0 && o.start != NULL)
        rc = meetctl_parse_time(ctx, "--start", o.start, &start);
    if (rc == 0 && o.end != NULL)
        rc = meetctl_parse_time(ctx, "--end", o.end, &end);
    if (rc == 0 && start >= 0 && end >= 0 && end < start)
        rc = meetctl_usage(ctx, "--end must not be before --start");
    meet_participants_query q;
    rc = meetctl_list_query(ctx, rc, &o, &q);
    meet_client *c;
    if ((rc = meetctl_client_for(ctx, rc, NULL, &c)) != 0)
        return rc;
    q.pos = o.pos;
    q.size = o.size;
    q.start_time = (long)start;
    q.end_time = (long)end;
    json_t *out;
    meet_error err;
    if (meet_participants(c, mid, &q, &out, &err) != MEET_OK)
        return meetctl_fail(ctx, &err);
    return meetctl_finish(ctx, out, meetctl_show_participants);
}

int meetctl_meeting_realtime(meetctl_ctx *ctx, int argc, char **argv)
{
    meetctl_meeting_opts o;
    const char *mid;
    int rc = meetctl_meeting_args(ctx, argc, argv, &o, ALLOW_REALTIME, true, &mid);
    if (rc == 0 && o.size > MEETCTL_REALTIME_PAGE_MAX)
        rc = meetctl_usage(ctx, "--size wants a whole number from 1 to %d",
                           MEETCTL_REALTIME_PAGE_MAX);
    meet_participants_query q;
    rc = meetctl_list_query(ctx, rc, &o, &q);
    meet_client *c;
    if ((rc = meetctl_client_for(ctx, rc, NULL, &c)) != 0)
        return rc;
    /* Tencent requires both: the first page of 20 unless asked otherwise. */
    q.page = o.page > 0 ? o.page : 1;
    q.page_size = o.size > 0 ? o.size : 20;
    json_t *out;
    meet_error err;
    if (meet_realtime_participants(c, mid, &q, &out, &err) != MEET_OK)
        return meetctl_fail(ctx, &err);
    return meetctl_finish(ctx, out, meetctl_show_realtime);
}
