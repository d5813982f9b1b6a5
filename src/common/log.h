/* Logging to standard error: one line per event, prefixed with UTC time.
 * Secrets (secret keys, device tokens, signatures) are never passed here. */
#ifndef MEETD_COMMON_LOG_H
#define MEETD_COMMON_LOG_H

#include <stddef.h>

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* An "info" line of the access log, its text (len bytes, no newline) as
 * is: written with others in a batch, at most until the next log_flush (or
 * this thread's next other line). */
void log_access(const char *text, size_t len);
/* Writes out every thread's batched access lines. */
void log_flush(void);

#endif
