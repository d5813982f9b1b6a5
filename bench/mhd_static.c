/* mhd-static: libmicrohttpd alone, answering every request with `{}`, set
 * up as meetd sets up its daemon (epoll, a pool of worker threads,
 * suspend/resume allowed). make bench runs it between nginx and meetd so
 * that each run tells the HTTP library's own ceiling from what meetd does
 * per request (bench/README.md).
 *
 *   mhd-static PORT [THREADS]     (prints "listening" once it does)
 *
 * The answer is queued on the handler's second call: queued on the first,
 * libmicrohttpd closes the connection after it (no keep-alive). */
#include <microhttpd.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>

static enum MHD_Result answer(void *cls, struct MHD_Connection *conn, const char *url,
                              const char *method, const char *version, const char *upload,
                              size_t *upload_size, void **req)
{
    (void)url;
    (void)method;
    (void)version;
    (void)upload;
    struct MHD_Response *body = cls;
    if (*req == NULL) {
        *req = conn;
        return MHD_YES;
    }
    if (*upload_size != 0) {
        *upload_size = 0;    /* a body is read and dropped */
        return MHD_YES;
    }
    return MHD_queue_response(conn, MHD_HTTP_OK, body);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: mhd-static PORT [THREADS]\n");
        return 2;
    }
    int port = atoi(argv[1]);
    int threads = argc > 2 ? atoi(argv[2]) : 2;
    if (port <= 0 || port > 65535 || threads < 1) {
        fprintf(stderr, "mhd-static: bad port or thread count\n");
        return 2;
    }
    static const char text[] = "{}";
    struct MHD_Response *body =
        MHD_create_response_from_buffer(sizeof text - 1, (void *)text, MHD_RESPMEM_PERSISTENT);
    if (body == NULL ||
        MHD_add_response_header(body, "Content-Type", "application/json") != MHD_YES)
        return 1;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    /* Before the daemon's threads start, so that they inherit the mask and
     * sigwait below is the one to take the signal. */
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME;
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, answer, body, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)threads, MHD_OPTION_CONNECTION_LIMIT, 4096u, MHD_OPTION_CONNECTION_TIMEOUT,
        60u, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(12 * 1024), MHD_OPTION_END);
    if (d == NULL) {
        fprintf(stderr, "mhd-static: cannot listen on port %d\n", port);
        MHD_destroy_response(body);
        return 1;
    }
    printf("listening\n");
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    MHD_stop_daemon(d);
    MHD_destroy_response(body);
    return 0;
}
