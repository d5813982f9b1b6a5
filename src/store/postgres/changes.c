/* The change feed (store.h "changes made by any node") on PostgreSQL.
 *
 * The writer side is one statement: PGSQL_EVENT_INSERT calls pg_notify on
 * the channel PGSQL_CHANNEL with the row's meeting id, in the row's own
 * transaction. PostgreSQL delivers a notification only once its
 * transaction has committed (and drops those of a rolled-back savepoint,
 * so a job undone inside a committed batch names nothing), and a listener
 * receives it only once the commit is visible to a snapshot taken after:
 * a reader woken by it finds the rows. Duplicates in one transaction are
 * folded into one, so a batch of kicks in one meeting sends one.
 *
 * The reader side is a connection of its own per feed, not a reader or a
 * writer: it sits in LISTEN between notifications, and a statement on it
 * would delay them. Its application_name is "meetd-listener-<pid>", for an
 * operator (and a test) to find it in pg_stat_activity. When it is lost
 * (a restart, pg_terminate_backend, a network cut) notifications sent
 * meanwhile are lost with it: the wait that notices reports
 * STORE_UNAVAILABLE, the next one connects again (at once, then no more
 * often than a backoff allows) and reports resync, for the caller to read
 * all it follows. */
#include <errno.h>
#include <inttypes.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/ids.h"
#include "common/log.h"
#include "store/postgres/pgsql.h"

#define CHANGES_BACKOFF_MIN_MS 100
#define CHANGES_BACKOFF_MAX_MS 5000

typedef struct pgsql_changes {
    char *conninfo;
    PGconn *pg;
    int wake_fd;                 /* eventfd: store_changes_wake */
    int64_t retry_at_ms;         /* no reconnection before (monotonic); 0: now */
    int backoff_ms;
    bool lost_logged;            /* one line per outage, not one per attempt */
    char app_name[40];
} pgsql_changes;

store_rc pgsql_changes_open(void *impl, void **feed)
{
    pgsql_store *s = impl;
    pgsql_changes *c = calloc(1, sizeof *c);
    if (c == NULL || (c->conninfo = strdup(s->conninfo)) == NULL) {
        free(c);
        log_error("store: out of memory");
        return STORE_ERROR;
    }
    c->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (c->wake_fd < 0) {
        log_error("store: postgres: eventfd: %s", strerror(errno));
        free(c->conninfo);
        free(c);
        return STORE_ERROR;
    }
    snprintf(c->app_name, sizeof c->app_name, "meetd-listener-%ld", (long)getpid());
    *feed = c;
    return STORE_OK;
}

/* The server's messages outside a statement (the FATAL of a terminated
 * backend) would go to stderr: the loss is logged where it is noticed. */
static void changes_notice(void *arg, const PGresult *r)
{
    (void)arg;
    (void)r;
}

static void changes_drop(pgsql_changes *c)
{
    if (c->pg != NULL)
        PQfinish(c->pg);
    c->pg = NULL;
}

/* Connects and listens. STORE_OK, or STORE_UNAVAILABLE with the next
 * attempt put off by the backoff. */
static store_rc changes_connect(pgsql_changes *c)
{
    changes_drop(c);
    /* The operator's conninfo (expanded from "dbname") may name its own
     * application; ours comes last so that the listener is always found. */
    const char *const keys[] = {"dbname", "application_name", NULL};
    const char *const vals[] = {c->conninfo, c->app_name, NULL};
    PGconn *pg = PQconnectdbParams(keys, vals, 1);
    PGresult *r = NULL;
    if (pg != NULL && PQstatus(pg) == CONNECTION_OK)
        r = PQexec(pg, "LISTEN " PGSQL_CHANNEL);
    if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) {
        if (!c->lost_logged) {
            char msg[256];
            snprintf(msg, sizeof msg, "%s", pg != NULL ? PQerrorMessage(pg) : "out of memory");
            msg[strcspn(msg, "\n")] = '\0';
            log_error("store: postgres: the change listener cannot connect: %s", msg);
            c->lost_logged = true;
        }
        PQclear(r);
        PQfinish(pg);
        c->backoff_ms = c->backoff_ms == 0 ? CHANGES_BACKOFF_MIN_MS
                        : c->backoff_ms * 2 > CHANGES_BACKOFF_MAX_MS ? CHANGES_BACKOFF_MAX_MS
                                                                     : c->backoff_ms * 2;
        c->retry_at_ms = clock_mono_ms() + c->backoff_ms;
        return STORE_UNAVAILABLE;
    }
    PQclear(r);
    PQsetNoticeReceiver(pg, changes_notice, NULL);
    if (c->lost_logged)
        log_info("store: postgres: the change listener is connected again");
    c->pg = pg;
    c->backoff_ms = 0;
    c->retry_at_ms = 0;
    c->lost_logged = false;
    return STORE_OK;
}

/* Hands every notification libpq has read to cb. */
static void changes_drain(pgsql_changes *c, store_change_cb cb, void *arg)
{
    PGnotify *n;
    while ((n = PQnotifies(c->pg)) != NULL) {
        char *end = NULL;
        long long id = strtoll(n->extra, &end, 10);
        if (end != n->extra && *end == '\0' && id > 0)
            cb((int64_t)id, arg);
        PQfreemem(n);
    }
}

/* Waits for the wake fd (and the listener's socket, sock >= 0). */
static bool changes_poll(pgsql_changes *c, int sock, int timeout_ms)
{
    struct pollfd p[2] = {{.fd = c->wake_fd, .events = POLLIN}, {.fd = sock, .events = POLLIN}};
    int n = poll(p, sock >= 0 ? 2 : 1, timeout_ms < 0 ? 0 : timeout_ms);
    if (n > 0 && (p[0].revents & POLLIN)) {
        uint64_t v;
        ssize_t got = read(c->wake_fd, &v, sizeof v);
        (void)got;   /* EAGAIN: another wait took it */
    }
    return n > 0 && sock >= 0 && (p[1].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
}

store_rc pgsql_changes_wait(void *feed, int timeout_ms, store_change_cb cb, void *arg,
                            bool *resync)
{
    pgsql_changes *c = feed;
    if (c->pg == NULL) {
        int64_t now = clock_mono_ms();
        if (c->retry_at_ms > now) {
            int64_t wait = c->retry_at_ms - now;
            (void)changes_poll(c, -1, wait < timeout_ms ? (int)wait : timeout_ms);
            return STORE_UNAVAILABLE;
        }
        if (changes_connect(c) != STORE_OK)
            return STORE_UNAVAILABLE;
        /* Whatever committed while nobody listened was not named. */
        *resync = true;
        return STORE_OK;
    }
    /* What an earlier read brought in first, without waiting. */
    changes_drain(c, cb, arg);
    if (!changes_poll(c, PQsocket(c->pg), timeout_ms))
        return STORE_OK;
    if (!PQconsumeInput(c->pg) || PQstatus(c->pg) != CONNECTION_OK) {
        char msg[256];
        snprintf(msg, sizeof msg, "%s", PQerrorMessage(c->pg));
        msg[strcspn(msg, "\n")] = '\0';
        log_error("store: postgres: the change listener lost its connection: %s", msg);
        changes_drop(c);
        c->retry_at_ms = 0;     /* the first attempt at once */
        c->lost_logged = true;
        return STORE_UNAVAILABLE;
    }
    changes_drain(c, cb, arg);
    return STORE_OK;
}

void pgsql_changes_wake(void *feed)
{
    pgsql_changes *c = feed;
    uint64_t one = 1;
    ssize_t n = write(c->wake_fd, &one, sizeof one);
    (void)n;   /* EAGAIN: the counter is full, a wake is pending anyway */
}

void pgsql_changes_close(void *feed)
{
    pgsql_changes *c = feed;
    if (c == NULL)
        return;
    changes_drop(c);
    close(c->wake_fd);
    free(c->conninfo);
    free(c);
}
