/* meetctl: the command line on libmeet. Declarations shared by its files. */
#ifndef MEETCTL_H
#define MEETCTL_H

#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>

#include <jansson.h>

#include "libmeet.h"

/* Exit status, as docs/meetctl.md and 'meetctl --help' promise. One table
 * for every command, so that a number means the same thing wherever a script
 * sees it. */
#define MEETCTL_EXIT_OK 0
#define MEETCTL_EXIT_API 1      /* the API refused, or it could not be reached */
#define MEETCTL_EXIT_USAGE 2    /* bad command line; nothing was sent */
#define MEETCTL_EXIT_NONE_REMOVED 3 /* kickout: meetd reported no target removed */
/* device watch: why the stream ended (it never ends for a good reason). */
#define MEETCTL_EXIT_KICKED 4
#define MEETCTL_EXIT_ENDED 5    /* meeting-ended */
#define MEETCTL_EXIT_REPLACED 6
#define MEETCTL_EXIT_CLOSED 7   /* closed by the server without an event or a reason */
#define MEETCTL_EXIT_LOST 8     /* connection lost after the stream opened */
/* Closed without an event, after a comment saying why (": end REASON"). */
#define MEETCTL_EXIT_LEFT 9         /* the device left */
#define MEETCTL_EXIT_SUPERSEDED 10  /* another stream of the device took over */
#define MEETCTL_EXIT_SHUTDOWN 11    /* meetd is stopping */
#define MEETCTL_HELP (-1)       /* --help was printed: exit 0 */

#define MEETCTL_DEFAULT_ENDPOINT "http://127.0.0.1:8080"
#define MEETCTL_MAX_USERS 20    /* targets per kickout (docs/api.md "Kickout") */
#define MEETCTL_PAGE_MAX 100    /* --size of participants and audit (docs/api.md) */
#define MEETCTL_REASON_MAX 1024

/* Long options every command accepts; codes above any character. */
enum {
    MEETCTL_OPT_JSON = 1000,
    MEETCTL_OPT_ENDPOINT,
    MEETCTL_OPT_PROFILE,
    MEETCTL_OPT_TIMEOUT,
    MEETCTL_OPT_CACERT,
    MEETCTL_OPT_SHELL,
    MEETCTL_OPT_FIRST_LOCAL,    /* commands number their own options from here */
};

#define MEETCTL_COMMON_OPTIONS                                              \
    {"json", no_argument, NULL, MEETCTL_OPT_JSON},                          \
    {"endpoint", required_argument, NULL, MEETCTL_OPT_ENDPOINT},            \
    {"profile", required_argument, NULL, MEETCTL_OPT_PROFILE},              \
    {"timeout", required_argument, NULL, MEETCTL_OPT_TIMEOUT},              \
    {"cacert", required_argument, NULL, MEETCTL_OPT_CACERT},                \
    {"quiet", no_argument, NULL, 'q'},                                      \
    {"shell", required_argument, NULL, MEETCTL_OPT_SHELL},                  \
    {"help", no_argument, NULL, 'h'}

typedef struct meetctl_ctx meetctl_ctx;

typedef struct meetctl_cmd {
    const char *group;      /* "meeting", or NULL for a top-level command */
    const char *name;
    const char *summary;    /* one line for the command list */
    const char *help;       /* full --help text: usage, options, example */
    int (*run)(meetctl_ctx *ctx, int argc, char **argv);
} meetctl_cmd;

struct meetctl_ctx {
    const meetctl_cmd *cmd;
    char name[64];          /* "meetctl meeting create", for messages */
    bool json;
    bool quiet;                 /* -q: the answer's id alone */
    const char *shell;          /* --shell PREFIX: KEY=value lines; NULL: off */
    const char *endpoint;
    const char *profile;
    const char *ca_file;
    long timeout_s;
    meet_client *client;
};

/* ---- meetctl.c ------------------------------------------------------------ */

/* Parses argv (argv[0] is the command word) with opts, which must end with
 * MEETCTL_COMMON_OPTIONS and a zero entry. Common options are handled here;
 * every other one is passed to fn, which returns 0 or MEETCTL_EXIT_USAGE.
 * Returns 0 with *first_arg the index of the first operand, MEETCTL_HELP
 * after printing the command's help, or MEETCTL_EXIT_USAGE after a message. */
int meetctl_getopt(meetctl_ctx *ctx, int argc, char **argv, const struct option *opts,
                   int (*fn)(meetctl_ctx *ctx, int opt, const char *arg, void *st), void *st,
                   int *first_arg);

/* Checks that argv[first..argc) holds min..max operands; what names them in
 * the message ("MEETING", "MEETING USER"). Returns 0 or MEETCTL_EXIT_USAGE. */
int meetctl_operands(meetctl_ctx *ctx, int argc, int first, int min, int max, const char *what);

/* Prints "meetctl CMD: message" and a pointer to --help on stderr; returns
 * MEETCTL_EXIT_USAGE. */
int meetctl_usage(meetctl_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The client, made on first use from --endpoint, --profile or the
 * environment. signing: the command needs credentials. Returns 0, or an exit
 * status after a message. */
int meetctl_client(meetctl_ctx *ctx, bool signing, meet_client **out);
/* The signing client for a command whose arguments came out rc (0: well):
 * every command's step from its arguments to its request. When they did
 * not, or there is no client, the request body built from them (or NULL)
 * is dropped and the exit status returned; on 0 the caller owns body. */
int meetctl_client_for(meetctl_ctx *ctx, int rc, json_t *body, meet_client **out);

/* ---- meetctl_args.c ------------------------------------------------------- */

typedef enum meetctl_id_kind {
    MEETCTL_ID_USERID,
    MEETCTL_ID_MS,
    MEETCTL_ID_UUID,
} meetctl_id_kind;

/* A participant device named on the command line as KIND:ID/INSTANCEID. */
typedef struct meetctl_ident {
    meetctl_id_kind kind;
    char id[129];
    int instanceid;
} meetctl_ident;

bool meetctl_instanceid_known(long v);
const char *meetctl_device_name(long instanceid);
const char *meetctl_role_name(long role);

int meetctl_parse_instanceid(meetctl_ctx *ctx, const char *s, int *out);
int meetctl_parse_long(meetctl_ctx *ctx, const char *opt, const char *s, long min, long max,
                       long *out);
int meetctl_parse_ident(meetctl_ctx *ctx, const char *s, meetctl_ident *out);
/* Unix seconds, "now", or "+N" with a unit s, m, h or d (from now). */
int meetctl_parse_time(meetctl_ctx *ctx, const char *opt, const char *s, long long *out);
/* Checks a text argument: 1..max bytes of UTF-8 without control characters. */
int meetctl_check_text(meetctl_ctx *ctx, const char *what, const char *s, size_t max);
bool meetctl_utf8_valid(const char *s);

/* ---- meetctl_out.c -------------------------------------------------------- */

/* The answer as --json prints it: indented on a terminal, one line otherwise. */
void meetctl_print_json(const json_t *v);
/* Checks the output options together: at most one of --json, -q and
 * --shell, a PREFIX fit for a shell variable's name, and a command whose
 * output is an answer (not device watch or request). Returns 0 or
 * MEETCTL_EXIT_USAGE after a message. */
int meetctl_output_check(meetctl_ctx *ctx);
/* Reports a failed call on stderr; returns the exit status for it. */
int meetctl_fail(meetctl_ctx *ctx, const meet_error *err);

typedef struct meetctl_table {
    size_t ncols;
    const char *const *heads;   /* NULL: no header row (key-value lists) */
    char **cells;               /* nrows * ncols cleaned copies */
    size_t nrows, cap;
    bool failed;
} meetctl_table;

void meetctl_table_init(meetctl_table *t, size_t ncols, const char *const *heads);
/* Adds a row of ncols strings (NULL prints as ""), cleaned for the terminal. */
void meetctl_table_add(meetctl_table *t, const char *const *row);
/* Prints and frees the table. Returns 0, or 1 when out of memory. */
int meetctl_table_flush(meetctl_table *t, FILE *f);

/* Field helpers for building rows from the answer. */
const char *meetctl_jstr(const json_t *obj, const char *key);
/* A string, integer or boolean field as text in buf ("" when absent). */
const char *meetctl_jtext(const json_t *obj, const char *key, char *buf, size_t n);
/* A field of Unix seconds (string or number) as local "YYYY-MM-DD HH:MM:SS". */
const char *meetctl_jtime(const json_t *obj, const char *key, char *buf, size_t n);
/* A message line on stdout, cleaned. */
void meetctl_say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Ends a command that got an answer: prints it (--json) or its view, frees
 * it, and returns the exit status (a view that fails: MEETCTL_EXIT_API). */
int meetctl_finish(meetctl_ctx *ctx, json_t *out, int (*show)(const json_t *));
/* The same, for commands whose view is one message line. */
int meetctl_finish_say(meetctl_ctx *ctx, json_t *out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Below a page of a list: "N of TOTAL <noun>s; more with --pos P", or
 * "TOTAL <noun>s" when nothing remains. */
void meetctl_page_footer(const json_t *out, size_t shown, const char *noun);
/* s with control characters and bad UTF-8 replaced by '?'; caller frees. */
char *meetctl_clean(const char *s);

/* ---- commands ---------------------------------------------------------------- */

int meetctl_meeting_create(meetctl_ctx *ctx, int argc, char **argv);
int meetctl_meeting_get(meetctl_ctx *ctx, int argc, char **argv);
int meetctl_meeting_update(meetctl_ctx *ctx, int argc, char **argv);
int meetctl_meeting_list(meetctl_ctx *ctx, int argc, char **argv);
int meetctl_meeting_cancel(meetctl_ctx *ctx, int argc, char **argv);
int meetctl_meeting_dismiss(meetctl_ctx *ctx, int argc, char **argv);
int meetctl_meeting_participants(meetctl_ctx *ctx, int argc, char **argv);
int meetctl_meeting_realtime(meetctl_ctx *ctx, int argc, char **argv);
int meetctl_kickout(meetctl_ctx *ctx, int argc, char **argv);
int meetctl_cohost_add(meetctl_ctx *ctx, int argc, char **argv);
int meetctl_cohost_remove(meetctl_ctx *ctx, int argc, char **argv);
int meetctl_device_join(meetctl_ctx *ctx, int argc, char **argv);
int meetctl_device_leave(meetctl_ctx *ctx, int argc, char **argv);
int meetctl_device_watch(meetctl_ctx *ctx, int argc, char **argv);
int meetctl_bans_list(meetctl_ctx *ctx, int argc, char **argv);
int meetctl_bans_lift(meetctl_ctx *ctx, int argc, char **argv);
int meetctl_audit(meetctl_ctx *ctx, int argc, char **argv);
int meetctl_health(meetctl_ctx *ctx, int argc, char **argv);
int meetctl_request(meetctl_ctx *ctx, int argc, char **argv);

#endif
