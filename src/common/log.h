/* Logging to standard error: one line per event, prefixed with UTC time.
 * Secrets (secret keys, device tokens, signatures) are never passed here. */
#ifndef MEETD_COMMON_LOG_H
#define MEETD_COMMON_LOG_H

void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif
