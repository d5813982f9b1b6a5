/* meetctl kickout and meetctl cohost add|remove: the real-control calls.
 * Every rule of the contract that needs no server state is checked here, so
 * that a request the server would refuse as 190004 never leaves. */
#include <stdlib.h>
#include <string.h>

#include "cli/meetctl.h"

#define MEETCTL_MRA 9

enum {
    OPT_OPERATOR = MEETCTL_OPT_FIRST_LOCAL,
    OPT_USER,
    OPT_NO_REJOIN,
    OPT_REASON,
};

typedef struct meetctl_control_opts {
    const char *op;
    const char **users;     /* every --user, in order */
    size_t nusers;
    bool no_rejoin;
    const char *reason;
    bool failed;            /* out of memory collecting --user */
} meetctl_control_opts;

static int meetctl_control_opt(meetctl_ctx *ctx, int opt, const char *arg, void *st)
{
    meetctl_control_opts *o = st;
    switch (opt) {
    case OPT_OPERATOR:
        if (o->op != NULL)
            return meetctl_usage(ctx, "--operator given twice");
        o->op = arg;
        return 0;
    case OPT_USER: {
        /* Collected whole: "more than 20" is reported with the real count. */
        const char **grown = realloc(o->users, (o->nusers + 1) * sizeof *grown);
        if (grown == NULL) {
            o->failed = true;
            return MEETCTL_EXIT_API;
        }
        o->users = grown;
        o->users[o->nusers++] = arg;
        return 0;
    }
    case OPT_NO_REJOIN:
        o->no_rejoin = true;
        return 0;
    case OPT_REASON:
        o->reason = arg;
        return 0;
    }
    return MEETCTL_EXIT_USAGE;
}

static int meetctl_control_args(meetctl_ctx *ctx, int argc, char **argv, bool kickout,
                                meetctl_control_opts *o, const char **mid)
{
    static const struct option kick_opts[] = {
        {"operator", required_argument, NULL, OPT_OPERATOR},
        {"user", required_argument, NULL, OPT_USER},
        {"no-rejoin", no_argument, NULL, OPT_NO_REJOIN},
        {"reason", required_argument, NULL, OPT_REASON},
        MEETCTL_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    static const struct option cohost_opts[] = {
        {"operator", required_argument, NULL, OPT_OPERATOR},
        {"user", required_argument, NULL, OPT_USER},
        MEETCTL_COMMON_OPTIONS,
        {NULL, 0, NULL, 0},
    };
    memset(o, 0, sizeof *o);
    *mid = NULL;
    int first;
    int rc = meetctl_getopt(ctx, argc, argv, kickout ? kick_opts : cohost_opts,
                            meetctl_control_opt, o, &first);
    if (rc == 0)
        rc = meetctl_operands(ctx, argc, first, 1, 1, "MEETING");
    if (rc == 0 && o->op == NULL)
        rc = meetctl_usage(ctx, "--operator is required (userid:ID/INST, ms:ID/INST or "
                                "uuid:ID/INST)");
    if (rc == 0)
        *mid = argv[first];
    if (o->failed)
        fprintf(stderr, "%s: out of memory\n", ctx->name);
    return rc;
}

/* ---- bodies --------------------------------------------------------------------------- */

/* The operator fields: operator_id + operator_id_type (1 userid, 4
 * ms_open_id) or the seed form's uuid, and the operator's instanceid. */
static int meetctl_add_operator(json_t *body, const meetctl_ident *op)
{
    int bad = json_object_set_new(body, op->kind == MEETCTL_ID_UUID ? "uuid" : "operator_id",
                                  json_string(op->id));
    if (op->kind != MEETCTL_ID_UUID)
        bad |= json_object_set_new(body, "operator_id_type",
                                   json_integer(op->kind == MEETCTL_ID_MS ? 4 : 1));
    bad |= json_object_set_new(body, "instanceid", json_integer(op->instanceid));
    return bad;
}

/* A target: {to_operator_id, to_operator_id_type: 4, instanceid} or {uuid, instanceid}. */
static json_t *meetctl_target(const meetctl_ident *t)
{
    if (t->kind == MEETCTL_ID_UUID)
        return json_pack("{s:s, s:i}", "uuid", t->id, "instanceid", t->instanceid);
    return json_pack("{s:s, s:i, s:i}", "to_operator_id", t->id, "to_operator_id_type", 4,
                     "instanceid", t->instanceid);
}

static bool meetctl_same_user(const meetctl_ident *a, const meetctl_ident *b)
{
    return a->kind == b->kind && strcmp(a->id, b->id) == 0;
}

/* kickout: the contract forbids self-removal (190004); co-hosts: the server decides. */
static int meetctl_parse_target(meetctl_ctx *ctx, const char *s, const meetctl_ident *op,
                                bool not_self, meetctl_ident *t)
{
    if (meetctl_parse_ident(ctx, s, t) != 0)
        return MEETCTL_EXIT_USAGE;
    if (t->kind == MEETCTL_ID_USERID)
        return meetctl_usage(ctx, "'%s': a participant is named by ms: or uuid:, not userid:", s);
    if (not_self && meetctl_same_user(op, t))
        return meetctl_usage(ctx, "'%s' is the operator: nobody removes themselves with kickout",
                             s);
    return 0;
}

/* All targets, checked; *any_mra says whether one is an MRA room. */
static int meetctl_targets(meetctl_ctx *ctx, const meetctl_control_opts *o,
                           const meetctl_ident *op, json_t *users, bool *any_mra)
{
    *any_mra = false;
    for (size_t i = 0; i < o->nusers; i++) {
        meetctl_ident t;
        if (meetctl_parse_target(ctx, o->users[i], op, true, &t) != 0)
            return MEETCTL_EXIT_USAGE;
        *any_mra |= t.instanceid == MEETCTL_MRA;
        if (json_array_append_new(users, meetctl_target(&t)) != 0) {
            fprintf(stderr, "%s: out of memory\n", ctx->name);
            return MEETCTL_EXIT_API;
        }
    }
    return 0;
}

static int meetctl_check_reason(meetctl_ctx *ctx, const char *reason, bool any_mra)
{
    if (any_mra && (reason == NULL || reason[0] == '\0'))
        return meetctl_usage(ctx, "--reason is required when a target is an MRA room "
                                  "(instanceid 9)");
    if (reason == NULL)
        return 0;
    if (strlen(reason) > MEETCTL_REASON_MAX)
        return meetctl_usage(ctx, "--reason is %zu bytes; at most %d", strlen(reason),
                             MEETCTL_REASON_MAX);
    if (!meetctl_utf8_valid(reason))
        return meetctl_usage(ctx, "--reason is not valid UTF-8");
    return 0;
}

static int meetctl_kick_body(meetctl_ctx *ctx, const meetctl_control_opts *o, json_t **out)
{
    *out = NULL;
    if (o->nusers == 0)
        return meetctl_usage(ctx, "no --user given: a kickout names 1 to %d devices",
                             MEETCTL_MAX_USERS);
    if (o->nusers > MEETCTL_MAX_USERS)
        return meetctl_usage(ctx, "%zu --user given: a kickout names at most %d devices; "
                                  "split it into several",
                             o->nusers, MEETCTL_MAX_USERS);
    meetctl_ident op;
    if (meetctl_parse_ident(ctx, o->op, &op) != 0)
        return MEETCTL_EXIT_USAGE;
    json_t *body = json_object();
    json_t *users = json_array();
    bool any_mra = false;
    int rc = body == NULL || users == NULL || meetctl_add_operator(body, &op) != 0
                 ? MEETCTL_EXIT_API
                 : meetctl_targets(ctx, o, &op, users, &any_mra);
    if (rc == 0)
        rc = meetctl_check_reason(ctx, o->reason, any_mra);
    if (rc == 0) {
        int bad = json_object_set_new(body, "allow_rejoin", json_boolean(!o->no_rejoin));
        if (o->reason != NULL)
            bad |= json_object_set_new(body, "reason", json_string(o->reason));
        bad |= json_object_set(body, "users", users);
        if (bad) {
            fprintf(stderr, "%s: out of memory\n", ctx->name);
            rc = MEETCTL_EXIT_API;
        }
    }
    json_decref(users);
    if (rc != 0) {
        json_decref(body);
        return rc;
    }
    *out = body;
    return 0;
}

/* ---- kickout ---------------------------------------------------------------------------- */

static int meetctl_show_kick(const json_t *out)
{
    const json_t *results = json_object_get(out, "results");
    if (!json_is_array(results)) {
        /* Tencent answers {} and tells nothing per target. */
        meetctl_say("kickout accepted");
        return 0;
    }
    static const char *const heads[] = {"MS_OPEN_ID", "UUID", "DEVICE", "RESULT"};
    meetctl_table t;
    meetctl_table_init(&t, 4, heads);
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r) {
        char device[48];
        long inst = (long)json_integer_value(json_object_get(r, "instanceid"));
        snprintf(device, sizeof device, "%ld %s", inst, meetctl_device_name(inst));
        const char *row[] = {meetctl_jstr(r, "ms_open_id"), meetctl_jstr(r, "uuid"), device,
                             meetctl_jstr(r, "result")};
        meetctl_table_add(&t, row);
    }
    return meetctl_table_flush(&t, stdout);
}

/* meetd reported every target's outcome and none is "removed". */
static bool meetctl_none_removed(const json_t *out)
{
    const json_t *results = json_object_get(out, "results");
    if (!json_is_array(results))
        return false;
    size_t i;
    json_t *r;
    json_array_foreach(results, i, r) {
        if (strcmp(meetctl_jstr(r, "result"), "removed") == 0)
            return false;
    }
    return true;
}

int meetctl_kickout(meetctl_ctx *ctx, int argc, char **argv)
{
    meetctl_control_opts o;
    const char *mid;
    json_t *body = NULL;
    int rc = meetctl_control_args(ctx, argc, argv, true, &o, &mid);
    if (rc == 0)
        rc = meetctl_kick_body(ctx, &o, &body);
    free(o.users);
    meet_client *c;
    if ((rc = meetctl_client_for(ctx, rc, body, &c)) != 0)
        return rc;
    json_t *out;
    meet_error err;
    /* Ask for each target's outcome: meetd reports it, Tencent ignores the
     * preference and answers {} as usual. */
    meet_rc r = meet_kickout(c, mid, body, true, &out, &err);
    json_decref(body);
    if (r != MEET_OK)
        return meetctl_fail(ctx, &err);
    /* A kickout that removes nobody succeeds (retrying is safe), so only
     * the exit status can tell a script that nothing happened. Tencent's {}
     * says nothing per target: then it cannot be told, and the status is 0. */
    bool none = meetctl_none_removed(out);
    rc = meetctl_finish(ctx, out, meetctl_show_kick);
    if (rc == 0 && none) {
        fprintf(stderr, "%s: no device was removed: no target is in the meeting on the device "
                        "type named\n", ctx->name);
        rc = MEETCTL_EXIT_NONE_REMOVED;
    }
    return rc;
}

/* ---- co-hosts ---------------------------------------------------------------------------- */

static int meetctl_cohost_body(meetctl_ctx *ctx, const meetctl_control_opts *o, bool action,
                               json_t **out)
{
    *out = NULL;
    if (o->nusers != 1)
        return meetctl_usage(ctx, "give exactly one --user");
    meetctl_ident op, t;
    if (meetctl_parse_ident(ctx, o->op, &op) != 0 ||
        meetctl_parse_target(ctx, o->users[0], &op, false, &t) != 0)
        return MEETCTL_EXIT_USAGE;
    json_t *body = json_object();
    json_t *user = meetctl_target(&t);
    int bad = body == NULL || user == NULL || meetctl_add_operator(body, &op) != 0;
    bad = bad || json_object_set_new(body, "action", json_boolean(action)) != 0;
    bad = bad || json_object_set(body, "user", user) != 0;
    json_decref(user);
    if (bad) {
        json_decref(body);
        fprintf(stderr, "%s: out of memory\n", ctx->name);
        return MEETCTL_EXIT_API;
    }
    *out = body;
    return 0;
}

static int meetctl_cohost(meetctl_ctx *ctx, int argc, char **argv, bool action)
{
    meetctl_control_opts o;
    const char *mid;
    json_t *body = NULL;
    int rc = meetctl_control_args(ctx, argc, argv, false, &o, &mid);
    if (rc == 0)
        rc = meetctl_cohost_body(ctx, &o, action, &body);
    const char *who = rc == 0 ? o.users[0] : NULL;
    meet_client *c;
    if ((rc = meetctl_client_for(ctx, rc, body, &c)) != 0) {
        free(o.users);
        return rc;
    }
    json_t *out;
    meet_error err;
    meet_rc r = meet_cohosts(c, mid, body, &out, &err);
    json_decref(body);
    if (r != MEET_OK) {
        free(o.users);
        return meetctl_fail(ctx, &err);
    }
    rc = meetctl_finish_say(ctx, out, "%s: %s", action ? "co-host granted" : "co-host revoked",
                            who);
    free(o.users);
    return rc;
}

int meetctl_cohost_add(meetctl_ctx *ctx, int argc, char **argv)
{
    return meetctl_cohost(ctx, argc, argv, true);
}

int meetctl_cohost_remove(meetctl_ctx *ctx, int argc, char **argv)
{
    return meetctl_cohost(ctx, argc, argv, false);
}
