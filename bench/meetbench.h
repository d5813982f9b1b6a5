/* meetbench: the load generator of bench/ (issue 5). N keep-alive HTTP/1.1
 * connections spread over a few threads, each thread one epoll loop; every
 * meetd request freshly signed with a nonce of its own. See bench/README.md.
 *
 * Files: meetbench.c (options, phases, report), mb_engine.c (connections,
 * the HTTP/1.1 response parser, the event loop), mb_scenario.c (what each
 * scenario sends and how it reads the answers), mb_hist.c (latencies). */
#ifndef MEETBENCH_H
#define MEETBENCH_H

#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- latency histogram (mb_hist.c) --------------------------------------- */

/* Log-linear buckets over nanoseconds: values below 2^MB_HIST_SUB_BITS are
 * exact, above that each power of two is cut in 2^(MB_HIST_SUB_BITS-1)
 * equal parts, so a reported value is within 1/64 (1.6 %) of the truth
 * whatever its size, at a fixed 30 KB per histogram. */
#define MB_HIST_SUB_BITS 7
#define MB_HIST_HALF (1 << (MB_HIST_SUB_BITS - 1))
#define MB_HIST_BUCKETS ((1 << MB_HIST_SUB_BITS) + (64 - MB_HIST_SUB_BITS) * MB_HIST_HALF)

typedef struct mb_hist {
    uint64_t count;
    int64_t min_ns;
    int64_t max_ns;
    double sum_ns;
    uint64_t bucket[MB_HIST_BUCKETS];
} mb_hist;

void mb_hist_reset(mb_hist *h);
void mb_hist_add(mb_hist *h, int64_t ns);
void mb_hist_merge(mb_hist *into, const mb_hist *from);
/* The value at percentile p (0..100), in nanoseconds; 0 when empty. */
int64_t mb_hist_percentile(const mb_hist *h, double p);

/* ---- what is measured ---------------------------------------------------- */

typedef enum mb_op {
    MB_OP_STATIC,      /* GET of a fixed path, unsigned */
    MB_OP_CREATE,      /* POST /v1/meetings */
    MB_OP_JOIN,        /* POST /meetd/v1/meetings/{id}/join */
    MB_OP_LEAVE,       /* POST /meetd/v1/meetings/{id}/leave */
    MB_OP_KICKOUT,     /* PUT /v1/real-control/meetings/{id}/kickout */
    MB_OP_READ,        /* GET /v1/meetings/{id}/participants */
    MB_OP_STREAM,      /* GET /meetd/v1/events: time to the stream's first line */
    MB_OP_KICK_EVENT,  /* kickout sent -> its device's stream has `kicked` */
    MB_OP_KICK_CLOSE,  /* kickout sent -> its device's stream has ended */
    MB_OP__COUNT
} mb_op;

const char *mb_op_name(mb_op op);
/* Whether op is an HTTP request (the rest are derived measurements). */
bool mb_op_is_request(mb_op op);

/* Transport failures are recorded under status 0 with these codes. */
enum { MB_XERR_CONNECT = 1, MB_XERR_CLOSED, MB_XERR_MALFORMED };

#define MB_ERR_KINDS 32

typedef struct mb_errcount {
    int status;
    long code;        /* the body's error_code, 0 when it has none */
    uint64_t n;
} mb_errcount;

typedef struct mb_stats {
    mb_hist op[MB_OP__COUNT];
    uint64_t errors;
    int n_kinds;
    mb_errcount kind[MB_ERR_KINDS];
} mb_stats;

void mb_stats_reset(mb_stats *s);
void mb_stats_error(mb_stats *s, int status, long code);
void mb_stats_merge(mb_stats *into, const mb_stats *from);

/* ---- settings ------------------------------------------------------------ */

typedef enum mb_scenario {
    MB_SCEN_STATIC,
    MB_SCEN_KICKOUT,
    MB_SCEN_JOIN_CHURN,
    MB_SCEN_PARTICIPANTS,
    MB_SCEN_MIXED,
    MB_SCEN_STREAMS,
} mb_scenario;

/* Where connections go: an IPv4 loopback address and its Host header. */
typedef struct mb_endpoint {
    struct sockaddr_in addr;
    char host_header[80];
} mb_endpoint;

typedef struct mb_config {
    mb_scenario scenario;
    const char *scenario_name;
    mb_endpoint api;           /* every request but the event streams */
    mb_endpoint stream;        /* streams: --stream-url, or the same as api */
    char path[512];            /* static: the path to GET */
    char app_id[64];
    char sdk_id[64];
    char secret_id[128];
    char secret_key[128];
    int connections;
    int setup_connections;     /* setup's joins go over this many */
    int threads;
    double duration_s;
    double warmup_s;
    long requests;             /* end the measurement after this many answers, 0: no */
    double rate;               /* steps a second over all connections; 0: closed loop */
    int meetings;
    int participants;          /* per meeting */
    bool pipeline;             /* send a step's requests at once (kick + re-join) */
    bool json;
    int mix_read, mix_join, mix_kick;   /* percentages, mixed */
    bool walk;                 /* participants: pages in order, not at random */
    int kicks;                 /* streams: devices to kick */
    double hold_s;             /* streams: seconds to hold all streams open */
    pid_t pid;                 /* server to sample (CPU, RSS), 0: none */
    unsigned seed;
} mb_config;

/* ---- shared run state ---------------------------------------------------- */

#define MB_ID_MAX 24
#define MB_MSID_MAX 128
#define MB_TOKEN_MAX 128

/* One participant device of the setup: meeting m, user u (instanceid 1). */
typedef struct mb_slot {
    int meeting;
    int user;
    char ms_open_id[MB_MSID_MAX];
    char token[MB_TOKEN_MAX];
    /* streams: when its kickout was sent (CLOCK_MONOTONIC ns), 0 before. */
    _Atomic int64_t kick_ns;
} mb_slot;

typedef enum mb_phase {
    MB_PHASE_CREATE,     /* setup: create meetings, one task each */
    MB_PHASE_JOIN,       /* setup: join every slot, one task each */
    MB_PHASE_LOAD,       /* timed: warm-up, then measurement */
    MB_PHASE_STREAMS,    /* streams: open one per slot, then kick */
} mb_phase;

typedef struct mb_run {
    const mb_config *cfg;
    mb_phase phase;
    char (*meeting_id)[MB_ID_MAX];
    int n_meetings;
    mb_slot *slots;
    int n_slots;
    atomic_int next_task;      /* setup phases and stream kicks: work handed out */
    int n_tasks;
    atomic_int streams_ready;  /* streams whose first line arrived */
    atomic_int streams_closed; /* kicked streams that ended */
    atomic_int kicks_sent;
    atomic_bool kick_go;       /* streams: every stream is open, kicking may start */
    atomic_bool stop;
    atomic_bool failed;        /* a setup request failed: give up */
    int64_t start_ns;
    int64_t measure_ns;        /* warm-up ends */
    int64_t end_ns;            /* measurement ends */
    atomic_long answered;      /* answers counted in the measurement (--requests) */
    _Atomic int64_t ended_ns;  /* when --requests was reached, 0 before */
} mb_run;

/* ---- connections and workers (mb_engine.c) ------------------------------- */

typedef struct mb_buf {
    char *p;
    size_t len;
    size_t off;                /* bytes before off are consumed */
    size_t cap;
} mb_buf;

int mb_buf_reserve(mb_buf *b, size_t more);
int mb_buf_append(mb_buf *b, const void *p, size_t n);
int mb_buf_printf(mb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mb_buf_free(mb_buf *b);

/* One request of a step. */
typedef struct mb_req {
    mb_op op;
    int slot;                  /* slot index, or -1 */
    int meeting;               /* meeting index (create, read), or -1 */
    int64_t start_ns;          /* when it was sent, or was due (open loop) */
} mb_req;

#define MB_STEP_MAX 2

/* A step: what one connection does at a time. Most are one request; a
 * kickout step is the kick and its re-join, so that meetings stay full. */
typedef struct mb_step {
    mb_req req[MB_STEP_MAX];
    int n;
    int sent;
    int done;
    int64_t due_ns;            /* open loop: when the step should start */
} mb_step;

typedef enum mb_role { MB_ROLE_LOAD, MB_ROLE_STREAM } mb_role;

typedef struct mb_worker mb_worker;

typedef enum mb_parse_state {
    MB_RS_HEAD, MB_RS_BODY, MB_RS_CHUNK_SIZE, MB_RS_CHUNK_DATA, MB_RS_CHUNK_END,
    MB_RS_TRAILER, MB_RS_UNTIL_EOF,
} mb_parse_state;

typedef struct mb_conn {
    int fd;
    int id;                    /* 0..connections-1 over all workers */
    mb_role role;
    mb_worker *w;
    bool connecting;
    bool want_out;             /* EPOLLOUT is armed */
    bool busy;                 /* a step is under way */
    bool finished;             /* no more work (setup phases, streams) */
    mb_buf out;
    mb_buf in;
    mb_buf body;
    /* the response being parsed */
    mb_parse_state rs;
    int status;
    bool chunked;
    bool close_after;
    size_t remaining;
    /* requests sent and not yet answered, oldest first */
    mb_req inflight[MB_STEP_MAX];
    int n_inflight;
    mb_step step;
    int64_t next_due_ns;       /* open loop */
    int walk_pos;              /* participants --walk: the next page's pos */
    int64_t reopen_ns;         /* closed after a failure: connect again then */
    /* load: the slots this connection acts on; [0, n_present) are present */
    int *owned;
    int n_owned;
    int n_present;
    /* stream: its slot and what was seen */
    int stream_slot;
    bool stream_ready;
    bool stream_kicked;
    bool stream_opening;       /* counted in its worker's `opening` */
} mb_conn;

struct mb_worker {
    int id;
    mb_run *run;
    int epfd;
    mb_conn **conns;           /* load connections first, then streams */
    int n_conns;
    int n_load;
    int next_open;             /* streams: the next one to connect */
    int opening;               /* streams: connected, first line not seen yet */
    mb_stats *warm;            /* completions during warm-up (and setup) */
    mb_stats *meas;            /* completions inside the measured window */
    uint64_t rng;
    pthread_t thread;
    int rc;
};

int64_t mb_now_ns(void);
uint64_t mb_rand(mb_worker *w);

/* Runs the worker's connections until its phase is over. 0 or -1. */
int mb_worker_loop(mb_worker *w);
int mb_conn_open(mb_conn *c);
void mb_conn_close(mb_conn *c);
/* Where c connects: its event stream's node, or the API's. */
const mb_endpoint *mb_conn_endpoint(const mb_conn *c);

/* Seeds the nonce counter; before any thread signs. */
void mb_nonce_init(void);
/* Appends a request to c->out: signed when the scenario talks to meetd. */
int mb_write_signed(mb_conn *c, const char *method, const char *uri, const char *body);
int mb_write_plain(mb_conn *c, const char *method, const char *uri);

/* ---- scenarios (mb_scenario.c) ------------------------------------------- */

/* Plans c's next step: 1 planned, 0 nothing yet (ask again soon), -1
 * nothing more in this phase. */
int mb_scen_next_step(mb_conn *c, mb_step *s);
/* Appends the request r to c->out. */
int mb_scen_write(mb_conn *c, const mb_req *r);
/* A response to r: records what setup needs, and whether it is an error. */
void mb_scen_response(mb_conn *c, const mb_req *r, int status, const char *body, size_t len);
/* More of a stream's body arrived (c->body). */
void mb_scen_stream_data(mb_conn *c, int64_t now);
/* A stream's response ended, or its connection did. */
void mb_scen_stream_end(mb_conn *c, int64_t now);
/* Gives a load connection its slots. */
int mb_scen_assign(mb_conn *c, const mb_run *run);

/* Extracts a string field of a compact JSON object ("key":"value", no
 * escapes: meetd's ids never have any). 0, or -1 when absent or too long. */
int mb_json_str(const char *body, size_t len, const char *key, char *out, size_t cap);
/* The body's error_code, or 0. */
long mb_error_code(const char *body, size_t len);

#endif
