/* How many connections meetd can really hold, and how many of them event
 * streams may take.
 *
 * Every connection is a descriptor, and an event stream holds its own for
 * as long as its device is present. With the common open-files limit of
 * 1,024 and --max-connections 4096, about a thousand streams used up the
 * descriptors: libmicrohttpd could accept nothing more, and /healthz, signed
 * reads and joins timed out until streams closed. So at start meetd raises
 * its soft RLIMIT_NOFILE to the hard limit (http_limits_raise_nofile),
 * lowers --max-connections to what the descriptors left can hold
 * (http_limits_size), and keeps --api-reserve of those connections out of
 * the streams' reach. */
#ifndef MEETD_HTTP_LIMITS_H
#define MEETD_HTTP_LIMITS_H

#include <stddef.h>

/* Descriptors kept for what opens after the count at start
 * (http_limits_open_fds), besides the store's connections (counted by the
 * store: http_limits.store_fds): webhook deliveries in flight (up to 64
 * transfers, live/webhook.c, each a socket and at times a resolver's), the
 * log, and a margin. */
#define HTTP_LIMITS_FD_SPARE 104
/* Per network thread: its epoll descriptor and its wake-up pipe. */
#define HTTP_LIMITS_FD_PER_THREAD 3

typedef struct http_limits {
    /* In: the process's state and what the options asked for. */
    unsigned long nofile;          /* soft RLIMIT_NOFILE, after raising */
    unsigned long open_fds;        /* descriptors open before the server starts */
    unsigned long store_fds;       /* store_descriptors: its connections, at most */
    unsigned threads;
    unsigned want_connections;     /* --max-connections */
    unsigned want_reserve;         /* --api-reserve; 0: a tenth of the connections */
    unsigned want_per_app;         /* --max-streams-per-app; 0: half the streams */
    /* Out. */
    unsigned long held_back;       /* descriptors not for connections */
    unsigned max_connections;      /* what libmicrohttpd is told */
    unsigned api_reserve;          /* connections streams never take */
    unsigned max_streams;          /* max_connections - api_reserve */
    unsigned max_streams_per_app;
} http_limits;

/* Fills the out half from the in half. Returns 0, or -1 with why[] saying
 * what to change when the descriptors cannot hold one stream and one
 * request, or when --api-reserve leaves no connection for streams. */
int http_limits_size(http_limits *l, char *why, size_t why_len);

/* Raises the soft RLIMIT_NOFILE to the hard limit. Fills *before and
 * *after (the soft limit) and *hard. Returns 0, or -1 when it could not be
 * raised (then *after is the unchanged soft limit). */
int http_limits_raise_nofile(unsigned long *before, unsigned long *after, unsigned long *hard);

/* Descriptors open in this process now. */
unsigned long http_limits_open_fds(void);

#endif
