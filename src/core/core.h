/* The meeting rules: who may remove whom, bans, roles, recurring occurrences.
 *
 * Plain functions over plain structs. Nothing here does I/O, allocates, reads
 * the clock or touches JSON: the API layer parses a request into these
 * structs, the store fills in what the rules need to see, and the rules say
 * what happens. That is what makes every rule unit-testable.
 *
 * Strings are fixed-size, NUL-terminated arrays so that a struct can be
 * copied, zeroed and freed as one value. An empty string means "absent". */
#ifndef MEETD_CORE_H
#define MEETD_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "common/err.h"

#define CORE_APPID_MAX 32      /* AppId, SdkId */
#define CORE_ID_MAX 64         /* userid, guest_id: bytes */
#define CORE_OPAQUE_MAX 128    /* uuid, ms_open_id as accepted on input */
/* Tencent counts a subject in UTF-16 bytes: at most 512, 2 per character
 * of the Basic Multilingual Plane, 4 for one above it. The most UTF-8 that
 * fits is 256 BMP characters of 3 bytes each. */
#define CORE_SUBJECT_UNITS_MAX 512
#define CORE_SUBJECT_MAX 768   /* bytes of UTF-8 */
#define CORE_NICK_MAX 128      /* bytes of UTF-8 */
#define CORE_REASON_MAX 1024   /* bytes of UTF-8 */
#define CORE_REQID_MAX 40      /* request (trace) id */
#define CORE_HOSTS_MAX 10      /* scheduled hosts per meeting */
#define CORE_OCC_MAX 200       /* occurrences of a recurring meeting */
#define CORE_KICK_MAX 20       /* targets of one kickout */
#define CORE_CODE_LEN 9        /* meeting_code digits */

/* Asia/Shanghai has no daylight saving: one fixed offset places "working
 * days" and "same day next month" where a Tencent user expects them. */
#define CORE_TZ_OFFSET (8 * 3600)

/* Meeting and occurrence states, in the order of the MEETING_STATE_* names. */
enum core_status {
    CORE_ST_INIT = 0,
    CORE_ST_STARTED = 1,
    CORE_ST_ENDED = 2,
    CORE_ST_CANCELLED = 3,
};

/* Why a device session ended (devices.left_reason). */
enum core_left {
    CORE_LEFT_NONE = 0,      /* still present */
    CORE_LEFT_LEAVE = 1,     /* the device left */
    CORE_LEFT_KICKED = 2,    /* removed by kickout */
    CORE_LEFT_REPLACED = 3,  /* same user joined again on the same instanceid */
    CORE_LEFT_ENDED = 4,     /* meeting dismissed or cancelled */
    CORE_LEFT_TIMEOUT = 5,   /* event stream gone longer than the grace period */
};

/* user_role values of docs/api.md "Identities". */
enum core_role {
    CORE_ROLE_MEMBER = 0,
    CORE_ROLE_CREATOR = 1,
    CORE_ROLE_HOST = 2,
    CORE_ROLE_CREATOR_HOST = 3,
    CORE_ROLE_GUEST = 4,
    CORE_ROLE_GUEST_HOST = 5,
    CORE_ROLE_COHOST = 6,
    CORE_ROLE_CREATOR_COHOST = 7,
};

/* How a request names a user (operator_id_type, plus the seed's uuid form). */
typedef enum core_id_type {
    CORE_ID_NONE = 0,
    CORE_ID_USERID = 1,
    CORE_ID_OPENID = 2,     /* OAuth2.0 only: always rejected */
    CORE_ID_ROOMS_ID = 3,   /* a query's or a list's operator: an MRA device present in the meeting, by ms_open_id */
    CORE_ID_MS_OPEN_ID = 4,
    CORE_ID_UUID = 100,     /* not a wire value: the seed form's "uuid" field */
    CORE_ID_GUEST = 101,    /* not a wire value: join's guest_id */
} core_id_type;

typedef struct core_recurring_rule {
    int recurring_type; /* 0 daily, 1 working days, 2 weekly, 3 every two weeks, 4 monthly */
    int until_type;     /* 0 until a date, 1 a number of occurrences */
    int until_count;    /* until_type 1 */
    int64_t until_date; /* until_type 0: Unix seconds; last occurrence starts on or before it */
} core_recurring_rule;

typedef struct core_occurrence {
    int64_t sub_meeting_id; /* Tencent's convention: the occurrence's start time */
    int64_t start_time;
    int64_t end_time;
    int status;             /* enum core_status */
} core_occurrence;

typedef struct core_meeting {
    int64_t meeting_id;                  /* > 0, at most 19 decimal digits */
    char app_id[CORE_APPID_MAX + 1];
    char meeting_code[CORE_CODE_LEN + 1];
    char subject[CORE_SUBJECT_MAX + 1];
    char creator_userid[CORE_ID_MAX + 1];
    int creator_instanceid;
    int type;                            /* 0 scheduled, 1 quick */
    int meeting_type;                    /* 0 one-off, 1 recurring */
    int64_t start_time;
    int64_t end_time;
    /* One-off: the meeting's state. Recurring: CORE_ST_CANCELLED when the
     * whole series is cancelled, else CORE_ST_INIT; the occurrences carry the
     * rest (core_meeting_status derives the series' state). */
    int status;
    core_recurring_rule rule;            /* meeting_type 1 only */
    int n_hosts;
    char hosts[CORE_HOSTS_MAX][CORE_ID_MAX + 1];
    int n_occ;                           /* 0 for one-off */
    core_occurrence occ[CORE_OCC_MAX];
    int64_t created_at;
} core_meeting;

/* A user's identity within one meeting (for a recurring one: the series). */
typedef struct core_user {
    int64_t user_no;                         /* store row id; 0 until stored */
    char userid[CORE_ID_MAX + 1];            /* "" for guests */
    char guest_id[CORE_ID_MAX + 1];          /* "" for enterprise users */
    char uuid[CORE_OPAQUE_MAX + 1];
    char ms_open_id[CORE_OPAQUE_MAX + 1];
    char nick_name[CORE_NICK_MAX + 1];
    bool cohost;
} core_user;

/* One device session: the pair (user, instanceid) from join to leave. */
typedef struct core_device {
    int64_t device_no;        /* store row id */
    int64_t meeting_id;
    int64_t sub_meeting_id;   /* 0 for one-off meetings */
    int64_t user_no;
    int instanceid;
    int64_t join_time;
    int64_t left_time;        /* 0 while present */
    int left_reason;          /* enum core_left */
    uint8_t token_hash[32];   /* SHA-256 of the device token */
} core_device;

/* A user as a rule sees it: known in this meeting or not, where present, and
 * whether banned (removed with allow_rejoin=false and not lifted since). */
typedef struct core_party {
    bool found;
    core_user user;
    uint64_t present_mask;    /* bit i: present on instanceid i (all valid ids are < 64) */
    bool banned;
} core_party;

typedef struct core_ban {
    int64_t meeting_id;
    core_user user;           /* who is banned (user_no is the key) */
    int64_t banned_at;
    char reason[CORE_REASON_MAX + 1];
    /* Who banned them, as the audit row of the same removal names them: an
     * operator named by userid who never joined has only operator_userid. */
    char operator_userid[CORE_ID_MAX + 1];
    char operator_uuid[CORE_OPAQUE_MAX + 1];
    char operator_ms_open_id[CORE_OPAQUE_MAX + 1];
    int operator_instanceid;  /* -1 for bans stored before schema version 5 without an audit row */
    char request_id[CORE_REQID_MAX + 1];
} core_ban;

typedef struct core_audit {
    int64_t audit_no;         /* store row id */
    int64_t meeting_id;
    int64_t sub_meeting_id;
    int64_t time;
    char request_id[CORE_REQID_MAX + 1];
    char action[16];          /* "kickout" */
    char op_userid[CORE_ID_MAX + 1];
    char op_uuid[CORE_OPAQUE_MAX + 1];
    char op_ms_open_id[CORE_OPAQUE_MAX + 1];
    int op_instanceid;
    char target_userid[CORE_ID_MAX + 1];
    char target_guest_id[CORE_ID_MAX + 1];
    char target_uuid[CORE_OPAQUE_MAX + 1];
    char target_ms_open_id[CORE_OPAQUE_MAX + 1];
    int target_instanceid;
    bool allow_rejoin;
    char reason[CORE_REASON_MAX + 1];
} core_audit;

/* ---- value checks ---------------------------------------------------- */

/* instanceid 9: an MRA device (a VoIP/SIP meeting-room connector). */
#define CORE_INSTANCE_MRA 9
bool core_instanceid_valid(long long instanceid);
bool core_utf8_valid(const char *s, size_t len);
/* 1..max bytes of valid UTF-8 without control characters (NULL: false):
 * identifiers and subjects end up in logs, headers and SSE frames. */
bool core_text_valid(const char *s, size_t max);
/* core_text_valid with CORE_ID_MAX. */
bool core_id_valid(const char *s);
/* 1..CORE_OPAQUE_MAX bytes, same character rule. */
bool core_opaque_valid(const char *s);
/* A meeting subject: core_text_valid, and at most CORE_SUBJECT_UNITS_MAX
 * bytes counted as Tencent counts them (UTF-16). */
bool core_subject_valid(const char *s);
/* Parses a meetingId path segment: 1..19 ASCII digits. Returns ME_OK with *out
 * set; ME_BAD_MEETING_ID when malformed; ME_NO_MEETING when well formed but
 * no meeting can have it (zero, or above INT64_MAX). */
meetd_err core_parse_meeting_id(const char *s, int64_t *out);

/* ---- device tokens (token.c) ----------------------------------------- */

/* The random part of a device token: 64 lower-case hex characters. */
#define CORE_TOKEN_SECRET_LEN 64
/* "<device_no>.<secret>": up to 19 digits, a dot, the secret. */
#define CORE_TOKEN_MAX (19 + 1 + CORE_TOKEN_SECRET_LEN)

/* Writes the token of session device_no (> 0) with this secret into out
 * (cap bytes). 0, or -1 (out empty) when an argument is out of range. */
int core_token_format(char *out, size_t cap, int64_t device_no, const char *secret);
/* Splits len bytes of a token into its session number (0: a token issued
 * before schema version 3, a bare secret) and its secret, which points
 * into token and runs to its end. False when malformed. */
bool core_token_parse(const char *token, size_t len, int64_t *device_no, const char **secret);

/* ---- roles ----------------------------------------------------------- */

bool core_is_creator(const core_meeting *m, const char *userid);
/* A scheduled host; the creator is the host when no hosts were scheduled. */
bool core_is_host(const core_meeting *m, const char *userid);
int core_user_role(const core_meeting *m, const core_user *u);
/* core_user_role from the user's fields alone (a page's rows, read in place). */
int core_role_of(const core_meeting *m, const char *userid, const char *guest_id, bool cohost);
/* Whether a user_role may moderate: creator, host or co-host (any
 * combination), not a plain member or guest. */
bool core_role_moderates(int role);

/* ---- meetings and occurrences ---------------------------------------- */

/* Validates a meeting being created (subject, times, type, hosts, rule) and,
 * for a recurring one, fills m->occ from the rule. now is the server time. */
meetd_err core_meeting_prepare(core_meeting *m, int64_t now, meetd_error *err);

/* Expands a recurrence: the first occurrence is [start, end); the rest keep
 * its time of day and length. */
meetd_err core_recurrence_expand(const core_recurring_rule *rule, int64_t start,
                                 int64_t end, core_occurrence *occ, int *n_occ,
                                 meetd_error *err);

/* The occurrence a join or kickout acts on, as an index into m->occ, or -1
 * when none can be (series over or cancelled). One-off meetings: -1. */
int core_current_occurrence(const core_meeting *m, int64_t now);

/* The state to report for the meeting as a whole (enum core_status). */
int core_meeting_status(const core_meeting *m, int64_t now);

/* sub_meeting_id that device sessions of a join at `now` belong to (0 for
 * one-off), or ME_NOT_IN_PROGRESS when the meeting cannot be joined. */
meetd_err core_join_target(const core_meeting *m, int64_t now, int64_t *sub_meeting_id,
                           meetd_error *err);
/* Marks the meeting (or the current occurrence) started, as a join does. */
void core_mark_started(core_meeting *m, int64_t sub_meeting_id);

/* Whether a kickout or co-host change may act now; fills the occurrence.
 * When not, the message says why: nobody has joined yet, ended, cancelled. */
meetd_err core_require_in_progress(const core_meeting *m, int64_t now,
                                   int64_t *sub_meeting_id, meetd_error *err);

/* Dismiss and cancel name their operator the way real-control requests do
 * (operator_id + operator_id_type 1 or 4, or the older userid, which is
 * type 1); the API layer resolves it into a core_party. */
typedef struct core_end_req {
    core_id_type op_type;              /* CORE_ID_USERID or CORE_ID_MS_OPEN_ID */
    char op_id[CORE_OPAQUE_MAX + 1];
    int op_instanceid;
    /* cancel */
    bool has_sub;                      /* sub_meeting_id given: that occurrence only */
    int64_t sub_meeting_id;
    int meeting_type;                  /* -1 absent, else must be the meeting's own */
} core_end_req;

/* Dismiss: end the meeting in progress now (recurring: the occurrence in
 * progress). The operator must be the creator, a host or a co-host, not
 * banned, and present on op_instanceid when named by ms_open_id; only a
 * meeting in progress (190004 says why not). Sets *sub_meeting_id to what
 * ended (0 for one-off). */
meetd_err core_dismiss(core_meeting *m, int64_t now, const core_end_req *req,
                       const core_party *op, int64_t *sub_meeting_id, meetd_error *err);
/* Cancel: only the creator, not banned. The whole meeting (series), or one
 * occurrence when req->has_sub. Tencent's codes: 9007 cancelled already,
 * 13602 started (in progress), 13603 ended. */
meetd_err core_cancel(core_meeting *m, const core_end_req *req, const core_party *op,
                      meetd_error *err);

/* ---- modifying a meeting (meeting_update.c) -------------------------- */

/* What a modify request asks for; a has_ flag false leaves that part as it
 * is. hosts with n_hosts 0 clears the scheduled hosts (the creator hosts). */
typedef struct core_meeting_change {
    bool has_subject, has_start, has_end, has_hosts, has_meeting_type, has_rule;
    char subject[CORE_SUBJECT_MAX + 1];
    int64_t start_time;
    int64_t end_time;
    int n_hosts;
    char hosts[CORE_HOSTS_MAX][CORE_ID_MAX + 1];
    int meeting_type;
    core_recurring_rule rule;
    /* recurring_rule.sub_meeting_id: move this occurrence only (0: the
     * whole meeting). */
    int64_t sub_meeting_id;
} core_meeting_change;

/* Modify: only the creator (userid), and neither a quick meeting nor one
 * that ended (190004) or was cancelled (9007). The result is checked as
 * create checks a meeting and written to *out (m is left as it was; out
 * must not be m). A meeting in progress keeps its start_time. Occurrences
 * of a recurring meeting that started, ended or were cancelled are kept as
 * they are, in their place in the series, with their sub_meeting_id; the
 * others are the (new) rule's, from the end of the last one that took
 * place. With ch->sub_meeting_id only that occurrence's times change. */
meetd_err core_meeting_modify(const core_meeting *m, const core_meeting_change *ch,
                              const char *userid, int64_t now, core_meeting *out,
                              meetd_error *err);

/* ---- the operator of a real-control request (operator.c) ------------- */

bool core_present_on(uint64_t mask, int instanceid);
/* A banned user is never an operator, of any request that takes one
 * (kickout, co-hosts, dismiss, cancel, participants): 9042 when op is
 * banned. op is the operator as resolved (not found: never joined, so
 * never banned). */
meetd_err core_operator_admit(const core_party *op, meetd_error *err);
/* The id's form for how it is named (type): a userid, or an opaque
 * ms_open_id / rooms_id / uuid; openid refused (OAuth2.0 only), as is no
 * operator at all. `field` names the id in the message ("operator_id",
 * "userid", "uuid"): every carrier of an operator checks it here. */
meetd_err core_operator_id_check(core_id_type type, const char *field, const char *id,
                                 meetd_error *err);
/* userid, ms_open_id or uuid form, and a known instanceid; openid refused. */
meetd_err core_operator_validate(core_id_type type, const char *id, int instanceid,
                                 meetd_error *err);
/* The operator's user_role, or -1 when named by uuid / ms_open_id and not
 * present on instanceid. Named by userid, presence is not required. */
int core_operator_role(const core_meeting *m, core_id_type type, const char *id,
                       int instanceid, const core_party *op);
/* A rooms_id (operator_id_type 3) names a room: in meetd, whose rooms are
 * MRA devices, the ms_open_id of a device present in the meeting on
 * instanceid 9 (9042 otherwise). room is that ms_open_id resolved in the
 * meeting. */
meetd_err core_room_check(const core_party *room, meetd_error *err);
/* The operator of a participants list (past sessions or the devices
 * present now), named by userid or by rooms_id (type): the creator, a host
 * or a co-host (9042 otherwise); banned never. op is that id resolved in
 * the meeting (a userid not found: never joined, so neither co-host nor
 * banned; a rooms_id: core_room_check). */
meetd_err core_viewer_admit(const core_meeting *m, core_id_type type, const char *id,
                            const core_party *op, meetd_error *err);
/* Whether target t is the operator. */
bool core_operator_is(core_id_type type, const char *id, const core_party *op,
                      const core_party *t);

/* ---- kickout ----------------------------------------------------------- */

typedef struct core_kick_user {
    core_id_type id_type;              /* CORE_ID_MS_OPEN_ID or CORE_ID_UUID */
    char id[CORE_OPAQUE_MAX + 1];
    int instanceid;
} core_kick_user;

typedef struct core_kick_req {
    core_id_type op_type;              /* USERID, OPENID, MS_OPEN_ID or UUID */
    char op_id[CORE_OPAQUE_MAX + 1];
    int op_instanceid;
    bool allow_rejoin;
    bool has_reason;
    char reason[CORE_REASON_MAX + 1];
    int n_users;
    core_kick_user users[CORE_KICK_MAX];
} core_kick_req;

typedef enum core_kick_result {
    CORE_KICK_REMOVED = 0,
    CORE_KICK_NOT_IN_MEETING = 1,
    CORE_KICK_DEVICE_MISMATCH = 2,
} core_kick_result;

typedef struct core_kick_plan {
    core_kick_result result[CORE_KICK_MAX];
    /* true for the first entry naming a device that is removed: that entry
     * performs the removal (a duplicate entry reports the same result). */
    bool apply[CORE_KICK_MAX];
    /* true on the first applied entry of a co-host who loses the role: the
     * request bans them, or removes every device they are present on. */
    bool revoke_cohost[CORE_KICK_MAX];
} core_kick_plan;

/* Checks what needs no meeting state: operator form, instanceids, 1..20
 * users, target forms, MRA reason, reason length and UTF-8, id lengths. */
meetd_err core_kick_validate(const core_kick_req *req, meetd_error *err);

/* Decides a validated kickout against the meeting. op is the operator as
 * resolved by req->op_type; targets[i] is users[i] resolved by its id.
 * Checks: meeting in progress, operator not banned, operator's presence
 * (uuid / ms_open_id forms) and role, no self-kick, a co-host does not
 * remove the creator or a host. On ME_OK, plan says what happens to each
 * target, and which co-hosts lose the role. */
meetd_err core_kick_decide(const core_meeting *m, int64_t now, const core_kick_req *req,
                           const core_party *op, const core_party *targets,
                           core_kick_plan *plan, meetd_error *err);

const char *core_kick_result_name(core_kick_result r);

/* ---- co-hosts ---------------------------------------------------------- */

typedef struct core_cohost_req {
    core_id_type op_type;              /* USERID, MS_OPEN_ID or UUID */
    char op_id[CORE_OPAQUE_MAX + 1];
    int op_instanceid;
    bool action;                       /* true: make co-host; false: revoke */
    core_id_type target_type;          /* MS_OPEN_ID or UUID */
    char target_id[CORE_OPAQUE_MAX + 1];
    int target_instanceid;
} core_cohost_req;

meetd_err core_cohost_validate(const core_cohost_req *req, meetd_error *err);
/* Only the creator or a host, not banned, present when named by uuid /
 * ms_open_id; the target must be in the meeting on target_instanceid (an
 * MRA device included) and (to be appointed) not banned. */
meetd_err core_cohost_decide(const core_meeting *m, int64_t now, const core_cohost_req *req,
                             const core_party *op, const core_party *target,
                             meetd_error *err);

/* ---- naming a user by one identity (identity.c) ------------------------ */

/* The kinds a user can be named by outside a request body (the ban lift's
 * ?kind=): "userid", "guest_id", "ms_open_id", "uuid". */
#define CORE_NAME_KINDS 4
extern const core_id_type core_name_kinds[CORE_NAME_KINDS];
/* The kind spelled s; 190004 naming the choices when s is none of them. */
meetd_err core_name_kind_parse(const char *s, core_id_type *out, meetd_error *err);
const char *core_name_kind(core_id_type kind);
/* A name looked up as every kind of core_name_kinds: matches[i] is the user
 * it names as core_name_kinds[i]. *pick is the index of the one user it
 * names, or -1 when it names nobody. A name that names more than one user
 * is 190004, whose message lists the kinds to choose from. */
meetd_err core_name_pick(const core_party matches[CORE_NAME_KINDS], int *pick,
                         meetd_error *err);

#endif
