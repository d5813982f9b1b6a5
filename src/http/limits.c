#include "http/limits.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>

/* Below this the server could not hold one stream beside one request. */
#define HTTP_LIMITS_MIN_CONNECTIONS 2

int http_limits_size(http_limits *l, char *why, size_t why_len)
{
    /* The listening socket is the 1. */
    l->held_back = l->open_fds + 1 + (unsigned long)l->threads * HTTP_LIMITS_FD_PER_THREAD +
                   l->store_fds + HTTP_LIMITS_FD_SPARE;
    unsigned long fit = l->nofile > l->held_back ? l->nofile - l->held_back : 0;
    if (fit < HTTP_LIMITS_MIN_CONNECTIONS) {
        snprintf(why, why_len,
                 "the open-files limit %lu leaves %lu connections after the %lu descriptors "
                 "meetd keeps for itself; raise it (ulimit -n) to at least %lu",
                 l->nofile, fit, l->held_back, l->held_back + HTTP_LIMITS_MIN_CONNECTIONS);
        return -1;
    }
    l->max_connections = l->want_connections < fit ? l->want_connections : (unsigned)fit;
    if (l->max_connections < HTTP_LIMITS_MIN_CONNECTIONS) {
        snprintf(why, why_len, "--max-connections %u: at least %d are needed",
                 l->want_connections, HTTP_LIMITS_MIN_CONNECTIONS);
        return -1;
    }
    if (l->want_reserve == 0) {
        l->api_reserve = l->max_connections / 10;
        if (l->api_reserve == 0)
            l->api_reserve = 1;
    } else if (l->want_reserve >= l->max_connections) {
        snprintf(why, why_len,
                 "--api-reserve %u leaves no connection for event streams: it must be below "
                 "the %u connections meetd can hold",
                 l->want_reserve, l->max_connections);
        return -1;
    } else {
        l->api_reserve = l->want_reserve;
    }
    l->max_streams = l->max_connections - l->api_reserve;
    if (l->want_per_app == 0) {
        l->max_streams_per_app = l->max_streams / 2;
        if (l->max_streams_per_app == 0)
            l->max_streams_per_app = 1;
    } else {
        l->max_streams_per_app =
            l->want_per_app < l->max_streams ? l->want_per_app : l->max_streams;
    }
    return 0;
}

int http_limits_raise_nofile(unsigned long *before, unsigned long *after, unsigned long *hard)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
        return -1;
    *before = *after = (unsigned long)rl.rlim_cur;
    *hard = (unsigned long)rl.rlim_max;
    if (rl.rlim_cur == rl.rlim_max)
        return 0;
    struct rlimit want = {.rlim_cur = rl.rlim_max, .rlim_max = rl.rlim_max};
    /* An unlimited hard limit is refused by Linux above fs.nr_open. */
    if (setrlimit(RLIMIT_NOFILE, &want) != 0) {
        FILE *f = rl.rlim_max == RLIM_INFINITY ? fopen("/proc/sys/fs/nr_open", "re") : NULL;
        unsigned long nr_open = 0;
        bool read = f != NULL && fscanf(f, "%lu", &nr_open) == 1;
        if (f != NULL)
            fclose(f);
        want.rlim_cur = nr_open;
        if (!read || nr_open <= rl.rlim_cur || setrlimit(RLIMIT_NOFILE, &want) != 0)
            return -1;
    }
    *after = (unsigned long)want.rlim_cur;
    return 0;
}

unsigned long http_limits_open_fds(void)
{
    unsigned long n = 0;
    DIR *d = opendir("/proc/self/fd");
    if (d != NULL) {
        for (struct dirent *e; (e = readdir(d)) != NULL;)
            if (e->d_name[0] != '.')
                n++;
        closedir(d);
        return n > 0 ? n - 1 : 0;   /* not the one opendir holds */
    }
    /* No /proc: probe each number below the limit (once, at start). */
    struct rlimit rl;
    unsigned long top = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                            ? (unsigned long)rl.rlim_cur
                            : 65536;
    for (unsigned long fd = 0; fd < top; fd++)
        if (fcntl((int)fd, F_GETFD) != -1 || errno != EBADF)
            n++;
    return n;
}
