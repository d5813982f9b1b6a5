/* meetd's log.h for the fuzz build, which compiles src/common/log.c out.
 *
 * A fuzzer runs thousands of inputs a second and most of them are refused
 * with a logged reason: printing every line would make the run I/O-bound
 * and bury libFuzzer's own output. So lines are dropped unless
 * MEETD_FUZZ_LOG=1, but the last error line is kept for fuzz_fail's
 * messages about internal errors. */
#include "fuzz.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"

static char last_error[1024];
static int verbose = -1;     /* -1: MEETD_FUZZ_LOG not read yet */

static bool log_verbose(void)
{
    if (verbose < 0) {
        const char *v = getenv("MEETD_FUZZ_LOG");
        verbose = v != NULL && strcmp(v, "1") == 0;
    }
    return verbose == 1;
}

void log_info(const char *fmt, ...)
{
    if (!log_verbose())
        return;
    va_list ap;
    va_start(ap, fmt);
    fputs("info ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

void log_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    if (log_verbose())
        fprintf(stderr, "error %s\n", last_error);
}

const char *fuzz_last_error(void) { return last_error; }

void fuzz_clear_error(void) { last_error[0] = '\0'; }

bool fuzz_ignored(const char *check)
{
    const char *list = getenv("MEETD_FUZZ_IGNORE");
    size_t n = strlen(check);
    while (list != NULL && *list != '\0') {
        size_t len = strcspn(list, ",");
        if (len == n && strncmp(list, check, n) == 0)
            return true;
        list += len + (list[len] == ',');
    }
    return false;
}

void fuzz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("\nmeetd fuzz: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    abort();
}
