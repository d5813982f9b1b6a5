/* The HTTP server: libmicrohttpd glue, request limits and the access log.
 * It turns each complete request into an api_call and sends the result. */
#ifndef MEETD_HTTP_SERVER_H
#define MEETD_HTTP_SERVER_H

#include <stdbool.h>
#include <stdint.h>

#include "api/api.h"

typedef struct http_config {
    const char *host;          /* IPv4 or IPv6 literal, or "localhost" */
    uint16_t port;             /* 0: any free port */
    unsigned threads;          /* network threads (libmicrohttpd's pool): they run the requests */
    unsigned max_connections;  /* sized to the descriptors: http/limits.h */
    unsigned per_ip_connections; /* 0: no per-address limit */
    unsigned idle_timeout;     /* seconds of silence */
    unsigned request_timeout;  /* seconds for a request to arrive whole */
    bool metrics_public;       /* serve /metrics to any client, not only loopback */
} http_config;

typedef struct http_server http_server;

/* Binds and starts serving. Returns 0, or -1 (logged) when it cannot. */
int http_start(const http_config *cfg, const api_env *env, http_server **out);
/* The bound port (useful with port 0). */
uint16_t http_port(const http_server *s);
/* Stops accepting, finishes nothing further, frees everything. */
void http_stop(http_server *s);

#endif
