#include "common/log.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 2048

/* Every request logs a line, so the line is built once in a buffer and
 * written with one write(2): no stdio lock shared by the network threads, no
 * second formatting pass, and lines from concurrent threads stay whole (one
 * write of a line to a pipe or an O_APPEND file is not interleaved). The
 * access lines are batched as well (log_access, below). */
/* Formats "TIME LEVEL text\n" into line (of size LOG_LINE_MAX); returns
 * its length, 0 when it could not be formatted. */
/* "YYYY-MM-DDTHH:MM:SS.mmmZ" for tv into out (at least 25 bytes); returns
 * its length (24). The part to the second is formatted once a second per
 * thread. */
static size_t log_stamp(char *out, const struct timeval *tv)
{
    static _Thread_local time_t stamp_sec = -1;
    static _Thread_local char stamp[64];
    static _Thread_local size_t stamp_len;
    if (tv->tv_sec != stamp_sec) {
        struct tm tm;
        gmtime_r(&tv->tv_sec, &tm);
        int k = snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                         tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        stamp_len = k > 0 && (size_t)k < sizeof stamp ? (size_t)k : 0;
        stamp_sec = tv->tv_sec;
    }
    memcpy(out, stamp, stamp_len);
    unsigned ms = (unsigned)(tv->tv_usec / 1000);
    char *p = out + stamp_len;
    *p++ = '.';
    *p++ = (char)('0' + ms / 100);
    *p++ = (char)('0' + ms / 10 % 10);
    *p++ = (char)('0' + ms % 10);
    *p++ = 'Z';
    return (size_t)(p - out);
}

/* Formats "TIME LEVEL text\n" into line (of size LOG_LINE_MAX); returns
 * its length, 0 when it could not be formatted. */
static size_t log_format(char *line, const char *level, const char *fmt, va_list ap)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    size_t s = log_stamp(line, &tv);
    int n = snprintf(line + s, LOG_LINE_MAX - s, " %s ", level);
    if (n < 0 || (size_t)n >= LOG_LINE_MAX - s - 1)
        return 0;
    n += (int)s;
    int m = vsnprintf(line + n, LOG_LINE_MAX - 1 - (size_t)n, fmt, ap);
    if (m < 0)
        return 0;
    /* A longer line is cut, as the fprintf before this did. */
    size_t len = (size_t)n + (size_t)m;
    if (len > LOG_LINE_MAX - 2)
        len = LOG_LINE_MAX - 2;
    line[len++] = '\n';
    return len;
}

static void log_write(const char *buf, size_t len)
{
    for (size_t off = 0; off < len;) {
        ssize_t w = write(STDERR_FILENO, buf + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
}

/* ---- access lines, batched ------------------------------------------------
 * An access line a request was one write(2) a request: a system call as
 * dear as the request's own send. They are gathered per thread instead and
 * written whole lines at a time: when a thread's batch is near full, when
 * that thread logs anything else (its lines stay in order), and by
 * log_flush, which the HTTP server's watchdog calls every 100 ms and once
 * more as it stops. A line is so at most that late; one killed meetd loses
 * at most that much of its access log. */
/* At most PIPE_BUF: a write of no more to a pipe is not interleaved with
 * other threads' (and to an O_APPEND file none is), so lines stay whole. */
#define LOG_BATCH_SIZE PIPE_BUF

typedef struct log_batch {
    pthread_mutex_t lock;      /* its thread appends, log_flush empties */
    size_t len;
    struct log_batch *next;
    char buf[LOG_BATCH_SIZE];
} log_batch;

static pthread_mutex_t log_batches_lock = PTHREAD_MUTEX_INITIALIZER;
static log_batch *log_batches;             /* every thread's, for good */
static _Thread_local log_batch *log_mine;

static void log_batch_flush(log_batch *b)
{
    if (b->len > 0) {
        log_write(b->buf, b->len);
        b->len = 0;
    }
}

/* The calling thread's batch, made on its first access line; NULL when out
 * of memory (the line is then written at once). */
static log_batch *log_batch_mine(void)
{
    if (log_mine != NULL)
        return log_mine;
    log_batch *b = malloc(sizeof *b);
    if (b == NULL)
        return NULL;
    pthread_mutex_init(&b->lock, NULL);
    b->len = 0;
    pthread_mutex_lock(&log_batches_lock);
    b->next = log_batches;
    log_batches = b;
    pthread_mutex_unlock(&log_batches_lock);
    log_mine = b;
    return b;
}

void log_flush(void)
{
    pthread_mutex_lock(&log_batches_lock);
    for (log_batch *b = log_batches; b != NULL; b = b->next) {
        pthread_mutex_lock(&b->lock);
        log_batch_flush(b);
        pthread_mutex_unlock(&b->lock);
    }
    pthread_mutex_unlock(&log_batches_lock);
}

void log_access(const char *text, size_t len)
{
    char line[LOG_LINE_MAX];
    int saved_errno = errno;
    /* The log_format prefix, by hand: this runs once a request. */
    struct timeval tv;
    gettimeofday(&tv, NULL);
    size_t n = log_stamp(line, &tv);
    memcpy(line + n, " info ", 6);
    n += 6;
    if (len > LOG_LINE_MAX - 1 - n)
        len = LOG_LINE_MAX - 1 - n;   /* cut, as log_format cuts */
    memcpy(line + n, text, len);
    n += len;
    line[n++] = '\n';
    log_batch *b = log_batch_mine();
    if (b == NULL) {
        log_write(line, n);
    } else {
        pthread_mutex_lock(&b->lock);
        if (b->len + n > sizeof b->buf)
            log_batch_flush(b);
        memcpy(b->buf + b->len, line, n);
        b->len += n;
        pthread_mutex_unlock(&b->lock);
    }
    errno = saved_errno;
}

static void log_line(const char *level, const char *fmt, va_list ap)
{
    char line[LOG_LINE_MAX];
    int saved_errno = errno; /* callers may still read theirs */
    size_t len = log_format(line, level, fmt, ap);
    /* This thread's access lines first: its lines stay in their order. */
    if (log_mine != NULL) {
        pthread_mutex_lock(&log_mine->lock);
        log_batch_flush(log_mine);
        pthread_mutex_unlock(&log_mine->lock);
    }
    log_write(line, len);
    errno = saved_errno;
}

void log_info(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line("info", fmt, ap);
    va_end(ap);
}

void log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    log_line("error", fmt, ap);
    va_end(ap);
}
