#include "common/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

/* Every request logs a line, so the line is built once in a buffer and
 * written with one write(2): no stdio lock shared by the network threads, no
 * second formatting pass, and lines from concurrent threads stay whole (one
 * write of a line to a pipe or an O_APPEND file is not interleaved). */
static void log_line(const char *level, const char *fmt, va_list ap)
{
    /* The date and time to the second, formatted once a second per thread. */
    static _Thread_local time_t stamp_sec = -1;
    static _Thread_local char stamp[64];
    char line[2048];
    int saved_errno = errno; /* callers may still read theirs */
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (tv.tv_sec != stamp_sec) {
        struct tm tm;
        gmtime_r(&tv.tv_sec, &tm);
        snprintf(stamp, sizeof stamp, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
                 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
        stamp_sec = tv.tv_sec;
    }
    int n = snprintf(line, sizeof line, "%s.%03ldZ %s ", stamp, (long)(tv.tv_usec / 1000), level);
    int m = n < 0 || (size_t)n >= sizeof line - 1
                ? -1
                : vsnprintf(line + n, sizeof line - 1 - (size_t)n, fmt, ap);
    if (m < 0) {
        errno = saved_errno;
        return;
    }
    /* A longer line is cut, as the fprintf before this did. */
    size_t len = (size_t)n + (size_t)m;
    if (len > sizeof line - 2)
        len = sizeof line - 2;
    line[len++] = '\n';
    for (size_t off = 0; off < len;) {
        ssize_t w = write(STDERR_FILENO, line + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            break;
        off += (size_t)w;
    }
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
