/* Webhooks: events into the outbox, and the worker that delivers them.
 *
 * The outbox is the only queue. webhook_enqueue writes a row per webhook in
 * the transaction of the change; the worker reads what is due, POSTs it,
 * and writes each outcome back. Nothing about a delivery lives only in
 * memory, so a crash or restart at any point loses nothing: at worst an
 * attempt whose 2xx was not yet recorded is made again (at least once).
 *
 * The worker is one thread driving one curl multi handle (which also keeps
 * connections to receivers alive), and it never waits for a whole group of
 * transfers: as soon as any transfer ends, its outcome is recorded (all the
 * outcomes that ended together in one write transaction) and the slot it
 * held goes to the next due delivery. So a receiver that never answers
 * holds only its own transfers, each for at most --webhook-timeout-ms, and
 * deliveries to every other receiver go on meanwhile.
 *
 * Several nodes on one PostgreSQL each run a worker on the one outbox. A
 * look claims each delivery before starting it (store_outbox_claim: a lease
 * to this node, ids_node_id, until the attempt's timeout and
 * WEBHOOK_LEASE_SLACK_MS have passed), in a write that commits before the
 * transfers start, and an outcome counts only from the lease's holder. So
 * two workers never attempt one delivery at once; a node that dies (kill
 * -9) leaves what it held to the others once the leases end: at least once,
 * a duplicate only for the transfers it had in flight. A worker that stops
 * gives its leases back (store_outbox_release) in one last write.
 *
 * Slots are shared fairly. At most WEBHOOK_INFLIGHT_MAX transfers run at
 * once, at most WEBHOOK_APP_INFLIGHT of one app's and at most
 * WEBHOOK_RECEIVER_INFLIGHT to one receiver (scheme, host and port, whoever
 * registered it). A look at the outbox lists the earliest few due
 * deliveries of each webhook (a per-webhook index makes that a few steps
 * per webhook, whatever the backlog), then hands out free slots
 * round-robin: every webhook's earliest before any webhook's second, the
 * apps in turn from a cursor that moves on when slots run out before every
 * app had its turn. A backlog of one app, or of one dead receiver, can thus
 * delay nobody else by more than the time a slot takes to come free.
 *
 * Between looks the thread sleeps in curl_multi_poll until a transfer needs
 * attention, the next delivery falls due, or webhook_worker_wake (events
 * committed) or webhook_worker_stop interrupts it with curl_multi_wakeup.
 * libcurl resolves names in threads of its own, so a slow DNS server stalls
 * only its own transfer.
 *
 * Where a delivery may connect: no proxy but the configured one (proxy
 * variables in meetd's environment are ignored), and with public_only no
 * loopback, private or link-local address, checked on the address of each
 * socket libcurl opens (see webhook_open_socket). */
#include "live/webhook.h"

#include <assert.h>
#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <curl/curl.h>
#include <openssl/evp.h>

#include "common/base64.h"
#include "common/hmap.h"
#include "common/ids.h"
#include "common/jtext.h"
#include "common/log.h"

/* Transfers under way at once: in all, of one app, to one receiver. Each
 * holds a socket and a few KiB. */
#define WEBHOOK_INFLIGHT_MAX 64
#define WEBHOOK_APP_INFLIGHT 16
#define WEBHOOK_RECEIVER_INFLIGHT 8
/* Due deliveries a look lists per webhook: enough to fill its receiver's
 * slots even when as many of its deliveries are under way already. */
#define WEBHOOK_DUE_PER_HOOK (2 * WEBHOOK_RECEIVER_INFLIGHT)
/* After the store failed, the worker tries again this much later rather
 * than spinning. */
#define WEBHOOK_STORE_RETRY_MS 1000
/* The longest sleep between looks at the outbox, so that a wall clock set
 * back does not park deliveries for as long as it moved. */
#define WEBHOOK_IDLE_MAX_MS 60000
/* The same on a store other nodes share (store_shared): their events, and
 * the end of a dead node's leases, wake nobody here, so the worker looks
 * this often (one write transaction, claiming nothing when nothing is due). */
#define WEBHOOK_SHARED_IDLE_MS 1000
/* Response bytes read from a receiver before the rest is refused. */
#define WEBHOOK_RESPONSE_MAX 65536
#define WEBHOOK_NONCE_LEN 10
/* A claimed delivery's lease lasts the attempt's timeout and this much
 * more: time to record the outcome after the transfer ends (a write
 * queued behind others). A lease that ends first lets another node attempt
 * the delivery again while this one records it; its result then does not
 * count (store_outbox_delivered), and the receiver may see it twice. */
#define WEBHOOK_LEASE_SLACK_MS 5000

static const char *const webhook_names[] = {
    [WEBHOOK_PARTICIPANT_JOINED] = "meeting.participant-joined",
    [WEBHOOK_PARTICIPANT_LEFT] = "meeting.participant-left",
    [WEBHOOK_PARTICIPANT_KICKED] = "meeting.participant-kicked-out",
};

const char *webhook_event_name(webhook_event_type type)
{
    if ((unsigned)type >= sizeof webhook_names / sizeof webhook_names[0])
        return NULL;
    return webhook_names[type];
}

/* ---- values ------------------------------------------------------------- */

/* An absolute URL of one of these schemes with a host, at most
 * STORE_URL_MAX bytes of printable ASCII. */
static bool webhook_url_of(const char *url, const char *const *schemes, size_t n_schemes)
{
    if (url == NULL)
        return false;
    size_t len = strnlen(url, STORE_URL_MAX + 1);
    if (len == 0 || len > STORE_URL_MAX)
        return false;
    /* libcurl would also take other schemes (file://, gopher://...) and fill
     * in a missing one: the prefix is checked here, the rest by its parser. */
    size_t scheme = 0;
    for (size_t i = 0; i < n_schemes && scheme == 0; i++)
        if (strncasecmp(url, schemes[i], strlen(schemes[i])) == 0)
            scheme = strlen(schemes[i]);
    /* libcurl reads "http:///x" as host "x": a host must follow at once. */
    if (scheme == 0 || url[scheme] == '\0' || strchr("/?#@", url[scheme]) != NULL)
        return false;
    for (const unsigned char *p = (const unsigned char *)url; *p; p++)
        if (*p <= ' ' || *p >= 0x7f)
            return false;
    CURLU *u = curl_url();
    if (u == NULL)
        return false;
    char *host = NULL;
    bool ok = curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_HOST, &host, 0) == CURLUE_OK && host != NULL &&
              host[0] != '\0';
    curl_free(host);
    curl_url_cleanup(u);
    return ok;
}

bool webhook_url_valid(const char *url)
{
    static const char *const schemes[] = {"http://", "https://"};
    return webhook_url_of(url, schemes, sizeof schemes / sizeof schemes[0]);
}

bool webhook_proxy_valid(const char *url)
{
    static const char *const schemes[] = {"http://",   "https://",  "socks4://",
                                          "socks4a://", "socks5://", "socks5h://"};
    return webhook_url_of(url, schemes, sizeof schemes / sizeof schemes[0]);
}

bool webhook_token_valid(const char *token)
{
    if (token == NULL)
        return false;
    size_t len = strnlen(token, STORE_TOKEN_MAX + 1);
    if (len == 0 || len > STORE_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < len; i++)
        if (token[i] <= ' ' || token[i] >= 0x7f)
            return false;
    return true;
}

static int webhook_strcmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int webhook_signature(const char *token, const char *timestamp, const char *nonce,
                      const char *data, char out[41])
{
    const char *parts[4] = {token, timestamp, nonce, data};
    /* strcmp compares as unsigned char: bytewise, as the receiver's sort of
     * ASCII strings does. */
    qsort(parts, 4, sizeof parts[0], webhook_strcmp);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    if (ctx == NULL)
        return -1;
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    int ok = EVP_DigestInit_ex(ctx, EVP_sha1(), NULL);
    for (int i = 0; i < 4 && ok; i++)
        ok = EVP_DigestUpdate(ctx, parts[i], strlen(parts[i]));
    ok = ok && EVP_DigestFinal_ex(ctx, md, &n) && n == 20;
    EVP_MD_CTX_free(ctx);
    if (!ok)
        return -1;
    ids_hex(out, md, 20, 0);
    return 0;
}

int64_t webhook_backoff_ms(const webhook_config *cfg, int attempts)
{
    int64_t d = cfg->backoff_base_ms;
    /* Doubling stops at the cap, so this cannot overflow. */
    for (int i = 1; i < attempts && d < cfg->backoff_max_ms; i++)
        d *= 2;
    return d < cfg->backoff_max_ms ? d : cfg->backoff_max_ms;
}

/* ---- the event JSON ------------------------------------------------------ */

/* Written as text (common/jtext.h): a fixed shape, byte for byte what
 * json_dumps wrote of the tree built before (tests/unit/test_webhook.c
 * compares the two), without building one for every event. */

/* An operator object as Tencent sends it: user_name is the base64 of the
 * nick, instance_id a string. u NULL: only userid is known (a creator or
 * host acting without having joined). */
static void webhook_person(jtext *t, const core_user *u, const char *userid, int instanceid)
{
    const char *nick = u != NULL ? u->nick_name : "";
    char *name = base64_encode(nick, strlen(nick));
    if (name == NULL) {
        t->failed = true;
        return;
    }
    jtext_open(t);
    jtext_key(t, "userid");
    jtext_str(t, u != NULL ? u->userid : (userid != NULL ? userid : ""));
    jtext_key(t, "uuid");
    jtext_str(t, u != NULL ? u->uuid : "");
    jtext_key(t, "ms_open_id");
    jtext_str(t, u != NULL ? u->ms_open_id : "");
    jtext_key(t, "user_name");
    jtext_str(t, name);
    jtext_key(t, "instance_id");
    jtext_decimal(t, instanceid);
    /* meetd's guests have no userid; the app knows them by guest_id. */
    if (u != NULL && u->guest_id[0]) {
        jtext_key(t, "guest_id");
        jtext_str(t, u->guest_id);
    }
    jtext_close(t);
    free(name);
}

static void webhook_meeting_info(jtext *t, const core_meeting *m)
{
    jtext_open(t);
    jtext_key(t, "meeting_id");
    jtext_decimal(t, m->meeting_id);
    jtext_key(t, "meeting_code");
    jtext_str(t, m->meeting_code);
    jtext_key(t, "subject");
    jtext_str(t, m->subject);
    jtext_key(t, "meeting_type");
    jtext_int(t, m->meeting_type);
    jtext_key(t, "start_time");
    jtext_int(t, m->start_time);
    jtext_key(t, "end_time");
    jtext_int(t, m->end_time);
    jtext_close(t);
}

/* The one element of "payload". */
static void webhook_payload_item(jtext *t, const webhook_event *ev)
{
    jtext_open(t);
    jtext_key(t, "operate_time");
    jtext_int(t, ev->time_ms);
    jtext_key(t, "operator");
    webhook_person(t, ev->user, ev->operator_userid, ev->instanceid);
    jtext_key(t, "meeting_info");
    webhook_meeting_info(t, ev->meeting);
    if (ev->type == WEBHOOK_PARTICIPANT_KICKED) {
        jtext_key(t, "to_operator");
        webhook_person(t, ev->to_user, NULL, ev->to_instanceid);
        jtext_key(t, "reason");
        jtext_str(t, ev->reason != NULL ? ev->reason : "");
        jtext_key(t, "allow_rejoin");
        jtext_bool(t, ev->allow_rejoin);
    }
    jtext_close(t);
}

char *webhook_event_json(const webhook_event *ev)
{
    assert(ev != NULL && ev->meeting != NULL);
    const char *name = webhook_event_name(ev->type);
    if (name == NULL)
        return NULL;
    /* Acts of the server itself (a presence time-out) have no request to
     * name: they get a trace id of their own. */
    char trace[33];
    const char *trace_id = ev->trace_id;
    if (trace_id == NULL || trace_id[0] == '\0') {
        if (ids_trace(trace) != 0)
            return NULL;
        trace_id = trace;
    }
    jtext t = {0};
    jtext_open(&t);
    jtext_key(&t, "event");
    jtext_str(&t, name);
    jtext_key(&t, "trace_id");
    jtext_str(&t, trace_id);
    jtext_key(&t, "payload");
    jtext_lit(&t, "[");
    webhook_payload_item(&t, ev);
    jtext_lit(&t, "]");
    jtext_close(&t);
    return jtext_take(&t);
}

/* ---- enqueue ------------------------------------------------------------- */

typedef struct webhook_enqueue_ctx {
    store_tx *tx;
    const webhook_event *ev[2];
    int n_ev;
    char *json[2];         /* built at the first webhook: none, no work */
    int64_t now;
    store_rc rc;
    int n;                 /* deliveries recorded */
} webhook_enqueue_ctx;

static store_rc webhook_enqueue_one(const store_webhook *h, void *arg)
{
    webhook_enqueue_ctx *q = arg;
    for (int i = 0; i < q->n_ev; i++) {
        const webhook_event *ev = q->ev[i];
        if (q->json[i] == NULL) {
            q->json[i] = webhook_event_json(ev);
            if (q->json[i] == NULL) {
                log_error("webhook: cannot build the %s event", webhook_event_name(ev->type));
                q->rc = STORE_ERROR;
                return STORE_STOP;
            }
        }
        store_delivery d;
        memset(&d, 0, sizeof d);
        d.webhook_id = h->webhook_id;
        snprintf(d.app_id, sizeof d.app_id, "%s", h->app_id);
        snprintf(d.event, sizeof d.event, "%s", webhook_event_name(ev->type));
        d.created_at = q->now;
        d.next_attempt_at = q->now;
        q->rc = store_outbox_insert(q->tx, &d, q->json[i]);
        if (q->rc != STORE_OK)
            return STORE_STOP;
        q->n++;
    }
    return STORE_OK;
}

/* The webhooks are listed once, however many events (one read of the
 * store, a round trip on a server). */
static store_rc webhook_enqueue_n(store_tx *tx, const webhook_event *const *evs, int n,
                                  int *queued)
{
    webhook_enqueue_ctx q = {.tx = tx, .n_ev = n, .now = clock_unix_ms(), .rc = STORE_OK};
    for (int i = 0; i < n; i++)
        q.ev[i] = evs[i];
    store_rc rc = store_webhook_list(tx, evs[0]->meeting->app_id, webhook_enqueue_one, &q);
    for (int i = 0; i < n; i++)
        free(q.json[i]);
    if (queued != NULL && rc == STORE_OK)
        *queued += q.n;
    /* The callback stopped: its reason is in q.rc. */
    if (rc == STORE_STOP)
        return q.rc;
    return rc;
}

store_rc webhook_enqueue(store_tx *tx, const webhook_event *ev, int *queued)
{
    assert(tx != NULL && ev != NULL && ev->meeting != NULL);
    return webhook_enqueue_n(tx, &ev, 1, queued);
}

store_rc webhook_enqueue_two(store_tx *tx, const webhook_event *first,
                             const webhook_event *second, int *queued)
{
    assert(tx != NULL && first != NULL && second != NULL && first->meeting != NULL &&
           second->meeting == first->meeting);
    const webhook_event *evs[2] = {first, second};
    return webhook_enqueue_n(tx, evs, 2, queued);
}

/* ---- the worker ---------------------------------------------------------- */

typedef struct webhook_job {
    bool used;                      /* the slot holds a transfer */
    bool claimed;                   /* prepared by a look whose write has not
                                       committed yet: not started */
    bool done;                      /* it ended, well or not: an outcome to record */
    int64_t delivery_id;
    int attempts;                   /* made before this one */
    char app_id[CORE_APPID_MAX + 1];
    uint64_t receiver;              /* webhook_receiver() of its URL */
    const webhook_config *cfg;
    CURL *easy;
    struct curl_slist *headers;
    char *body;
    size_t received;                /* response bytes, discarded */
    CURLcode result;
    long http_status;
    char refused[96];               /* why public_only refused to connect */
    char error[CURL_ERROR_SIZE];
} webhook_job;

/* A due delivery the worker may start, as the store listed it. */
typedef struct webhook_cand {
    int64_t delivery_id;
    int64_t webhook_id;
    char app_id[CORE_APPID_MAX + 1];
    uint64_t receiver;
    int rank;                       /* 0 for its webhook's earliest, then 1... */
    bool later;                     /* its app sorts before the cursor */
} webhook_cand;

struct webhook_worker {
    store *st;
    webhook_config cfg;
    int64_t node;                   /* ids_node_id(): the holder of its leases */
    int64_t idle_ms;                /* the longest sleep between looks */
    CURLM *multi;
    pthread_t thread;
    atomic_bool woken;              /* events committed since the last look */
    atomic_bool stopping;
    int n_busy;                     /* slots in use */
    char cursor[CORE_APPID_MAX + 1];/* apps from this one on come first */
    webhook_cand *cands;            /* the last look's, reused */
    size_t n_cands;
    size_t cap_cands;
    webhook_job jobs[WEBHOOK_INFLIGHT_MAX];
};

/* The receiver a URL reaches, as a hash of its scheme, host and port: the
 * webhooks of every app that point at one receiver share its cap. Two
 * receivers whose hashes collide merely share one cap. */
static uint64_t webhook_receiver(const char *url)
{
    char *part[3] = {NULL, NULL, NULL};
    CURLU *u = curl_url();
    if (u != NULL && curl_url_set(u, CURLUPART_URL, url, 0) == CURLUE_OK) {
        curl_url_get(u, CURLUPART_SCHEME, &part[0], 0);
        curl_url_get(u, CURLUPART_HOST, &part[1], 0);
        curl_url_get(u, CURLUPART_PORT, &part[2], CURLU_DEFAULT_PORT);
    }
    uint64_t h = 0;
    for (int i = 0; i < 3; i++) {
        for (char *p = part[i]; p != NULL && *p != '\0'; p++)
            *p = (char)tolower((unsigned char)*p);
        /* An unparsable URL (none is registered) is its own receiver. */
        const char *p = part[i] != NULL ? part[i] : (i == 1 ? url : "");
        h = hmap_hash_mix(h, hmap_hash_str(0, p));
        curl_free(part[i]);
    }
    curl_url_cleanup(u);
    return h;
}

static size_t webhook_discard(char *data, size_t size, size_t n, void *arg)
{
    (void)data;
    webhook_job *j = arg;
    j->received += size * n;
    /* Returning less than given aborts the transfer: a receiver has no
     * business sending megabytes back. */
    return j->received > WEBHOOK_RESPONSE_MAX ? 0 : size * n;
}

/* Empties the slot; a transfer still in the multi handle leaves it. */
static void webhook_job_free(webhook_worker *w, webhook_job *j)
{
    if (j->easy != NULL) {
        if (j->used && !j->done)
            curl_multi_remove_handle(w->multi, j->easy);
        curl_easy_cleanup(j->easy);
    }
    if (j->used)
        w->n_busy--;
    curl_slist_free_all(j->headers);
    free(j->body);
    memset(j, 0, sizeof *j);
}

static int webhook_header(webhook_job *j, const char *name, const char *value)
{
    char line[256];
    snprintf(line, sizeof line, "%s: %s", name, value);
    struct curl_slist *l = curl_slist_append(j->headers, line);
    if (l == NULL)
        return -1;
    j->headers = l;
    return 0;
}

static bool webhook_v4_private(uint32_t a)
{
    return (a >> 24) == 0 || (a >> 24) == 10 || (a >> 24) == 127 ||
           (a >> 20) == 0xAC1 ||             /* 172.16/12 */
           (a >> 16) == 0xC0A8 ||            /* 192.168/16 */
           (a >> 16) == 0xA9FE ||            /* 169.254/16 link-local, cloud metadata */
           (a >> 22) == (100u << 2 | 1) ||   /* 100.64/10 shared address space */
           (a >> 28) >= 0xE;                 /* multicast and reserved */
}

static uint32_t webhook_load32(const unsigned char *b)
{
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

/* An IPv6 address that carries an IPv4 one reaches the IPv4 host (through
 * the kernel, a NAT64 gateway or a tunnel relay), so it is judged by that
 * address: ::127.0.0.1 is loopback however it is spelled. */
static bool webhook_v6_private(const unsigned char *b)
{
    static const unsigned char zero[12];
    uint32_t last = webhook_load32(b + 12);
    /* IPv4-compatible ::a.b.c.d (also :: and ::1) and IPv4-mapped
     * ::ffff:a.b.c.d. */
    if (memcmp(b, zero, 10) == 0 &&
        ((b[10] == 0 && b[11] == 0) || (b[10] == 0xff && b[11] == 0xff)))
        return webhook_v4_private(last);
    /* IPv4-translated ::ffff:0:a.b.c.d (SIIT). */
    if (memcmp(b, zero, 8) == 0 && b[8] == 0xff && b[9] == 0xff && b[10] == 0 && b[11] == 0)
        return webhook_v4_private(last);
    if (b[0] == 0x00 && b[1] == 0x64 && b[2] == 0xff && b[3] == 0x9b) {
        /* NAT64's well-known prefix 64:ff9b::/96. */
        if (memcmp(b + 4, zero, 8) == 0)
            return webhook_v4_private(last);
        /* The rest of 64:ff9b::/32: the local-use 64:ff9b:1::/48 is a
         * network's own translator, where the IPv4 sits depends on a prefix
         * length only that network knows, and it is never reachable from
         * the internet; the remainder is unassigned. */
        return true;
    }
    /* 6to4 2002:AABB:CCDD::/48 carries a.b.c.d in bits 16..47. */
    if (b[0] == 0x20 && b[1] == 0x02)
        return webhook_v4_private(webhook_load32(b + 2));
    /* Teredo 2001:0::/32: the server's IPv4 in bits 32..63 and the client's,
     * inverted, in the last 32: either may be the host reached. */
    if (b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0)
        return webhook_v4_private(webhook_load32(b + 4)) || webhook_v4_private(~last);
    return (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) ||   /* fe80::/10 link-local */
           (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) ||   /* fec0::/10 old site-local */
           b[0] == 0xff ||                             /* ff00::/8 multicast */
           (b[0] & 0xfe) == 0xfc;                      /* fc00::/7 unique local */
}

bool webhook_address_private(const struct sockaddr *sa)
{
    if (sa->sa_family == AF_INET)
        return webhook_v4_private(ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr));
    if (sa->sa_family == AF_INET6)
        return webhook_v6_private(((const struct sockaddr_in6 *)sa)->sin6_addr.s6_addr);
    return true;
}

/* libcurl asks here for every socket it would connect, after its own DNS
 * lookup, so the address checked is the very one connected to: a name that
 * resolves elsewhere the next time (DNS rebinding) is checked again then.
 * With a configured proxy, the proxy is the only address meetd connects to
 * and so the only one checked. */
static curl_socket_t webhook_open_socket(void *clientp, curlsocktype purpose,
                                         struct curl_sockaddr *addr)
{
    (void)purpose;
    webhook_job *j = clientp;
    if (j->cfg->public_only && webhook_address_private(&addr->addr)) {
        char text[INET6_ADDRSTRLEN] = "?";
        if (addr->family == AF_INET)
            inet_ntop(AF_INET, &((const struct sockaddr_in *)&addr->addr)->sin_addr, text,
                      sizeof text);
        else if (addr->family == AF_INET6)
            inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)&addr->addr)->sin6_addr, text,
                      sizeof text);
        snprintf(j->refused, sizeof j->refused, "address %s refused (--webhook-public-only)",
                 text);
        return CURL_SOCKET_BAD;
    }
    return socket(addr->family, addr->socktype, addr->protocol);
}

/* The request for one delivery: body {"data": base64(event)} and Tencent's
 * signature headers, plus X-Meetd-Delivery, the id a receiver can drop
 * repeated deliveries by. j->cfg is set. */
static int webhook_job_prepare(webhook_job *j, const store_delivery *d, const store_webhook *h,
                               const char *payload)
{
    const webhook_config *cfg = j->cfg;
    j->delivery_id = d->delivery_id;
    j->attempts = d->attempts;
    char *data = base64_encode(payload, strlen(payload));
    if (data == NULL)
        return -1;
    char ts[24], nonce[WEBHOOK_NONCE_LEN + 1], sig[41], id[24];
    snprintf(ts, sizeof ts, "%lld", (long long)clock_unix());
    snprintf(id, sizeof id, "%lld", (long long)d->delivery_id);
    int rc = -1;
    if (ids_digits(nonce, WEBHOOK_NONCE_LEN) != 0 ||
        webhook_signature(h->token, ts, nonce, data, sig) != 0 ||
        asprintf(&j->body, "{\"data\":\"%s\"}", data) < 0) {
        j->body = NULL;
        goto out;
    }
    /* An empty Expect: stops curl from waiting for "100 Continue" before
     * the body, which small receivers never send. */
    if (webhook_header(j, "Content-Type", "application/json") != 0 ||
        webhook_header(j, "timestamp", ts) != 0 || webhook_header(j, "nonce", nonce) != 0 ||
        webhook_header(j, "signature", sig) != 0 ||
        webhook_header(j, "X-Meetd-Delivery", id) != 0 || webhook_header(j, "Expect", "") != 0)
        goto out;
    j->easy = curl_easy_init();
    if (j->easy == NULL)
        goto out;
    CURL *e = j->easy;
    /* The proxy is the configured one or none: an empty CURLOPT_PROXY makes
     * libcurl ignore http_proxy, HTTPS_PROXY, ALL_PROXY and the like in
     * meetd's environment, which would otherwise carry deliveries past the
     * address check; an empty NOPROXY keeps NO_PROXY from routing around a
     * configured one. */
    bool ok = curl_easy_setopt(e, CURLOPT_URL, h->url) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https") == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_PROXY, cfg->proxy != NULL ? cfg->proxy : "") ==
                  CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_NOPROXY, "") == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_POSTFIELDS, j->body) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)strlen(j->body)) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_HTTPHEADER, j->headers) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_USERAGENT, "meetd-webhook/1") == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)cfg->timeout_ms) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, webhook_discard) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_WRITEDATA, j) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_ERRORBUFFER, j->error) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, webhook_open_socket) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, j) == CURLE_OK &&
              curl_easy_setopt(e, CURLOPT_PRIVATE, j) == CURLE_OK;
    rc = ok ? 0 : -1;
out:
    free(data);
    return rc;
}

/* ---- choosing what to start ---------------------------------------------- */

static store_rc webhook_cand_add(const store_delivery *d, const store_webhook *h, void *arg)
{
    webhook_worker *w = arg;
    if (w->n_cands == w->cap_cands) {
        size_t cap = w->cap_cands ? 2 * w->cap_cands : 64;
        webhook_cand *grown = realloc(w->cands, cap * sizeof *grown);
        if (grown == NULL)
            return STORE_STOP;    /* choose among those listed so far */
        w->cands = grown;
        w->cap_cands = cap;
    }
    webhook_cand *c = &w->cands[w->n_cands];
    c->delivery_id = d->delivery_id;
    c->webhook_id = h->webhook_id;
    snprintf(c->app_id, sizeof c->app_id, "%s", h->app_id);
    c->receiver = webhook_receiver(h->url);
    /* The store lists each webhook's due deliveries together, earliest
     * first. */
    const webhook_cand *prev = w->n_cands > 0 ? c - 1 : NULL;
    c->rank = prev != NULL && prev->webhook_id == c->webhook_id ? prev->rank + 1 : 0;
    c->later = strcmp(c->app_id, w->cursor) < 0;
    w->n_cands++;
    return STORE_OK;
}

/* Round-robin: every webhook's earliest before any webhook's second, and
 * within a round the apps from the cursor on first. */
static int webhook_cand_cmp(const void *pa, const void *pb)
{
    const webhook_cand *a = pa, *b = pb;
    if (a->rank != b->rank)
        return a->rank < b->rank ? -1 : 1;
    if (a->later != b->later)
        return a->later ? 1 : -1;
    int c = strcmp(a->app_id, b->app_id);
    if (c != 0)
        return c;
    return a->webhook_id < b->webhook_id ? -1 : a->webhook_id > b->webhook_id;
}

/* Whether c is under way already, else whether its app or its receiver has
 * all the transfers it may have. */
static bool webhook_cand_blocked(const webhook_worker *w, const webhook_cand *c)
{
    int app = 0, receiver = 0;
    for (int i = 0; i < WEBHOOK_INFLIGHT_MAX; i++) {
        const webhook_job *j = &w->jobs[i];
        if (!j->used && !j->claimed)
            continue;
        if (j->delivery_id == c->delivery_id)
            return true;
        app += strcmp(j->app_id, c->app_id) == 0;
        receiver += j->receiver == c->receiver;
    }
    return app >= WEBHOOK_APP_INFLIGHT || receiver >= WEBHOOK_RECEIVER_INFLIGHT;
}

static store_rc webhook_pending_one(const store_delivery *d, const store_webhook *h,
                                    const char *payload, void *arg)
{
    webhook_job *j = arg;
    if (webhook_job_prepare(j, d, h, payload) != 0)
        log_error("webhook: cannot prepare delivery %lld", (long long)d->delivery_id);
    return STORE_OK;
}

typedef struct webhook_scan {
    webhook_worker *w;
    int64_t now;
    bool failed;            /* a delivery could not be started */
    int64_t next_at;        /* the next due after now, or -1 */
    int n_claimed;          /* slots prepared by this look */
} webhook_scan;

/* Empties the slots a look prepared but did not start. */
static void webhook_unclaim(webhook_worker *w)
{
    for (int i = 0; i < WEBHOOK_INFLIGHT_MAX; i++)
        if (w->jobs[i].claimed)
            webhook_job_free(w, &w->jobs[i]);
}

/* Like presence's, the worker's writes are meetd's own, told apart from
 * the requests' in the metrics (meetd_webhook_writes_total). */
static store_rc webhook_write(webhook_worker *w, store_fn fn, void *arg)
{
    return store_write_as(w->st, STORE_ORIGIN_WEBHOOK, fn, arg);
}

/* A look is a write: each delivery it starts is claimed first
 * (store_outbox_claim), so that no other node's worker attempts it while
 * this one does. Transfers start only once the claims are committed
 * (webhook_look): the store may run this job again from its start, or
 * fail to commit it. */
static store_rc webhook_look_tx(store_tx *tx, void *arg)
{
    webhook_scan *l = arg;
    webhook_worker *w = l->w;
    webhook_unclaim(w);     /* an earlier run of this job's, undone */
    l->n_claimed = 0;
    l->failed = false;
    w->n_cands = 0;
    store_rc rc = store_outbox_due(tx, l->now, WEBHOOK_DUE_PER_HOOK, webhook_cand_add, w);
    if (rc != STORE_OK && rc != STORE_STOP)
        return rc;
    if (w->n_cands > 1)
        qsort(w->cands, w->n_cands, sizeof *w->cands, webhook_cand_cmp);
    int64_t until = l->now + w->cfg.timeout_ms + WEBHOOK_LEASE_SLACK_MS;
    size_t i = 0;
    for (; i < w->n_cands && w->n_busy + l->n_claimed < WEBHOOK_INFLIGHT_MAX; i++) {
        const webhook_cand *c = &w->cands[i];
        if (webhook_cand_blocked(w, c))
            continue;
        /* NOTFOUND: another node has it, or is claiming it now. */
        rc = store_outbox_claim(tx, c->delivery_id, w->node, l->now, until);
        if (rc == STORE_NOTFOUND)
            continue;
        if (rc != STORE_OK)
            return rc;
        webhook_job *j = w->jobs;
        while (j->used || j->claimed)
            j++;
        j->cfg = &w->cfg;
        snprintf(j->app_id, sizeof j->app_id, "%s", c->app_id);
        j->receiver = c->receiver;
        rc = store_outbox_pending(tx, c->delivery_id, webhook_pending_one, j);
        if (rc == STORE_OK && j->easy != NULL) {
            j->claimed = true;
            l->n_claimed++;
            continue;
        }
        webhook_job_free(w, j);
        if (rc < 0)
            return rc;
        /* Claimed but not startable: attempted again when its lease ends. */
        if (rc == STORE_OK)
            l->failed = true;
    }
    /* All slots taken before every app had its turn: the next look starts
     * with the first app left waiting. */
    if (i < w->n_cands)
        snprintf(w->cursor, sizeof w->cursor, "%s", w->cands[i].app_id);
    rc = store_outbox_next_due(tx, l->now, &l->next_at);
    if (rc == STORE_NOTFOUND)
        l->next_at = -1;
    return rc == STORE_NOTFOUND ? STORE_OK : rc;
}

/* One look at the outbox: starts what is due and fits the caps. Returns how
 * long in ms until the next look is needed even if no transfer ends and no
 * event is committed. */
static int64_t webhook_look(webhook_worker *w)
{
    /* Full: a transfer that ends brings the next look. */
    if (w->n_busy >= WEBHOOK_INFLIGHT_MAX)
        return w->idle_ms;
    webhook_scan l = {w, clock_unix_ms(), false, -1, 0};
    if (webhook_write(w, webhook_look_tx, &l) != STORE_OK) {
        webhook_unclaim(w);
        return WEBHOOK_STORE_RETRY_MS;
    }
    /* Committed: the leases are this node's, the transfers may start. */
    for (int i = 0; i < WEBHOOK_INFLIGHT_MAX; i++) {
        webhook_job *j = &w->jobs[i];
        if (!j->claimed)
            continue;
        j->claimed = false;
        if (curl_multi_add_handle(w->multi, j->easy) == CURLM_OK) {
            j->used = true;
            w->n_busy++;
        } else {
            webhook_job_free(w, j);
            l.failed = true;
        }
    }
    if (l.failed)
        return WEBHOOK_STORE_RETRY_MS;
    if (l.next_at < 0)
        return w->idle_ms;
    int64_t delay = l.next_at - clock_unix_ms();
    return delay < 0 ? 0 : delay < w->idle_ms ? delay : w->idle_ms;
}

/* ---- outcomes ------------------------------------------------------------ */

/* Marks the transfers that ended; returns how many. */
static int webhook_collect(webhook_worker *w)
{
    int n = 0;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(w->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        /* msg is gone once its handle leaves the multi handle. */
        CURL *e = msg->easy_handle;
        CURLcode result = msg->data.result;
        webhook_job *j = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&j);
        curl_multi_remove_handle(w->multi, e);
        if (j == NULL)
            continue;
        j->done = true;
        j->result = result;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &j->http_status);
        n++;
    }
    return n;
}

static bool webhook_ok(const webhook_job *j)
{
    return j->result == CURLE_OK && j->http_status >= 200 && j->http_status <= 299;
}

typedef struct webhook_record {
    webhook_worker *w;
    int64_t now;
} webhook_record;

static store_rc webhook_record_tx(store_tx *tx, void *arg)
{
    webhook_record *r = arg;
    webhook_worker *w = r->w;
    for (int i = 0; i < WEBHOOK_INFLIGHT_MAX; i++) {
        webhook_job *j = &w->jobs[i];
        if (!j->used || !j->done)
            continue;
        store_rc rc;
        int status = (int)j->http_status;
        if (webhook_ok(j)) {
            rc = store_outbox_delivered(tx, j->delivery_id, w->node, r->now, status);
        } else {
            char err[STORE_DELIVERY_ERR_MAX + 1];
            if (j->refused[0])
                snprintf(err, sizeof err, "%s", j->refused);
            else if (j->result != CURLE_OK)
                snprintf(err, sizeof err, "%s",
                         j->error[0] ? j->error : curl_easy_strerror(j->result));
            else
                snprintf(err, sizeof err, "HTTP %d", status);
            int attempts = j->attempts + 1;
            if (attempts >= w->cfg.max_attempts) {
                rc = store_outbox_failed(tx, j->delivery_id, w->node, status, err);
                if (rc == STORE_OK)
                    log_info("webhook: delivery %lld failed after %d attempts: %s",
                             (long long)j->delivery_id, attempts, err);
            } else {
                rc = store_outbox_retry(tx, j->delivery_id, w->node,
                                        r->now + webhook_backoff_ms(&w->cfg, attempts), status,
                                        err);
            }
        }
        /* NOTFOUND: the webhook was deleted meanwhile, with its deliveries,
         * or the lease ended and another node attempted it (its result
         * counts, not this one's). */
        if (rc != STORE_OK && rc != STORE_NOTFOUND)
            return rc;
    }
    return STORE_OK;
}

/* Records every ended transfer's outcome in one write and frees their
 * slots. Returns 0, or -1 when the store failed: those deliveries are still
 * pending and are made again. */
static int webhook_record_done(webhook_worker *w)
{
    webhook_record r = {w, clock_unix_ms()};
    store_rc rc = webhook_write(w, webhook_record_tx, &r);
    if (rc != STORE_OK)
        log_error("webhook: cannot record delivery results; they will be retried");
    for (int i = 0; i < WEBHOOK_INFLIGHT_MAX; i++)
        if (w->jobs[i].used && w->jobs[i].done)
            webhook_job_free(w, &w->jobs[i]);
    return rc == STORE_OK ? 0 : -1;
}

/* The stopping worker's leases of the transfers it abandons. */
static store_rc webhook_release_tx(store_tx *tx, void *arg)
{
    webhook_worker *w = arg;
    int64_t now = clock_unix_ms();
    for (int i = 0; i < WEBHOOK_INFLIGHT_MAX; i++) {
        const webhook_job *j = &w->jobs[i];
        if (!j->used)
            continue;
        store_rc rc = store_outbox_release(tx, j->delivery_id, w->node, now);
        if (rc != STORE_OK && rc != STORE_NOTFOUND)
            return rc;
    }
    return STORE_OK;
}

/* ---- the thread ---------------------------------------------------------- */

static void *webhook_main(void *arg)
{
    webhook_worker *w = arg;
    pthread_setname_np(pthread_self(), "webhooks");
    int64_t look_at = 0;    /* monotonic ms of the next look at the outbox */
    while (!atomic_load(&w->stopping)) {
        int running = 0;
        curl_multi_perform(w->multi, &running);
        /* An ended transfer frees a slot another delivery may be waiting
         * for: record and look again at once. */
        if (webhook_collect(w) > 0)
            look_at = webhook_record_done(w) == 0 ? 0 : clock_mono_ms() + WEBHOOK_STORE_RETRY_MS;
        /* Cleared before the look, so that a wake during it is seen after
         * it rather than lost. */
        if (atomic_exchange(&w->woken, false))
            look_at = 0;
        if (clock_mono_ms() >= look_at && !atomic_load(&w->stopping))
            look_at = clock_mono_ms() + webhook_look(w);
        int64_t wait = look_at - clock_mono_ms();
        wait = wait < 0 ? 0 : wait > w->idle_ms ? w->idle_ms : wait;
        /* Returns when a transfer needs attention, at libcurl's own next
         * timeout, or on curl_multi_wakeup (a wake or the stop). */
        curl_multi_poll(w->multi, NULL, 0, (int)wait, NULL);
    }
    /* Abandoned: still pending in the outbox. Their leases are given back
     * so that the next start, or another node, makes them at once; if that
     * write fails they wait for the leases' end. */
    if (w->n_busy > 0 && webhook_write(w, webhook_release_tx, w) != STORE_OK)
        log_error("webhook: cannot give back the deliveries under way; they are made "
                  "again when their leases end");
    for (int i = 0; i < WEBHOOK_INFLIGHT_MAX; i++)
        if (w->jobs[i].used)
            webhook_job_free(w, &w->jobs[i]);
    return NULL;
}

static bool webhook_config_valid(const webhook_config *c)
{
    return c->max_attempts >= 1 && c->backoff_base_ms >= 1 &&
           c->backoff_max_ms >= c->backoff_base_ms && c->timeout_ms >= 1 &&
           (c->proxy == NULL || webhook_proxy_valid(c->proxy));
}

int webhook_worker_start(store *st, const webhook_config *cfg, webhook_worker **out)
{
    assert(st != NULL && cfg != NULL && out != NULL);
    *out = NULL;
    if (!webhook_config_valid(cfg)) {
        log_error("webhook: invalid configuration");
        return -1;
    }
    webhook_worker *w = calloc(1, sizeof *w);
    if (w == NULL) {
        log_error("webhook: out of memory");
        return -1;
    }
    w->st = st;
    w->cfg = *cfg;
    w->node = ids_node_id();
    w->idle_ms = store_shared(st) ? WEBHOOK_SHARED_IDLE_MS : WEBHOOK_IDLE_MAX_MS;
    atomic_init(&w->woken, false);
    atomic_init(&w->stopping, false);
    w->multi = curl_multi_init();
    if (w->multi == NULL) {
        log_error("webhook: cannot create a curl multi handle");
        free(w);
        return -1;
    }
    int e = pthread_create(&w->thread, NULL, webhook_main, w);
    if (e != 0) {
        log_error("webhook: cannot start the worker: %s", strerror(e));
        curl_multi_cleanup(w->multi);
        free(w);
        return -1;
    }
    *out = w;
    return 0;
}

void webhook_worker_wake(webhook_worker *w)
{
    if (w == NULL)
        return;
    /* One wakeup per look is enough: the flag tells the rest. */
    if (!atomic_exchange(&w->woken, true))
        curl_multi_wakeup(w->multi);
}

void webhook_worker_stop(webhook_worker *w)
{
    if (w == NULL)
        return;
    atomic_store(&w->stopping, true);
    curl_multi_wakeup(w->multi);
    pthread_join(w->thread, NULL);
    curl_multi_cleanup(w->multi);
    free(w->cands);
    free(w);
}
