/* Random identifiers and clocks. Every id comes from OpenSSL's RAND_bytes, so
 * none can be guessed from another. */
#ifndef MEETD_COMMON_IDS_H
#define MEETD_COMMON_IDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Each returns 0, or -1 when the random generator fails. */
int ids_random_bytes(void *buf, size_t len);
/* len characters of [0-9A-Za-z] and a NUL into out (len + 1 bytes). */
int ids_alnum(char *out, size_t len);
/* len decimal digits, the first non-zero, and a NUL. */
int ids_digits(char *out, size_t len);
/* len bytes as 2*len lower-case (upper when `upper`) hex characters and a NUL. */
void ids_hex(char *out, const uint8_t *bytes, size_t len, int upper);

/* A meeting id: 19 decimal digits, below INT64_MAX. */
int ids_meeting_id(int64_t *out);
int ids_meeting_code(char out[10]);
int ids_uuid(char out[33]);          /* 32 upper-case hex */
int ids_ms_open_id(char out[45]);    /* "ms" + 42 alphanumerics */
int ids_trace(char out[33]);         /* 32 lower-case hex */

/* This process's node id: random, in [1, 2^63), drawn at its first call
 * and the same for the process's life. Nodes sharing one PostgreSQL tell
 * their leases apart by it (webhook deliveries); a restarted process is
 * another node. */
int64_t ids_node_id(void);

/* SHA-256 of data into out. Returns 0 or -1. */
int ids_sha256(const void *data, size_t len, uint8_t out[32]);
/* Compares secrets (or their hashes) in time independent of where they differ. */
bool ids_equal(const void *a, const void *b, size_t len);

int64_t clock_unix(void);            /* wall clock, seconds */
int64_t clock_unix_ms(void);         /* wall clock, milliseconds */
int64_t clock_mono_ms(void);         /* monotonic, milliseconds */
int64_t clock_mono_us(void);         /* monotonic, microseconds */
/* CLOCK_MONOTONIC ms milliseconds from now (a negative ms is now), as
 * pthread_cond_timedwait takes it for a condition variable whose clock is
 * CLOCK_MONOTONIC: every bounded wait's deadline. */
struct timespec clock_mono_deadline(int64_t ms);

#endif
