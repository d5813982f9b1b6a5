/* Errors as the wire format (docs/api.md "Errors") defines them.
 *
 * Every layer above the store speaks meetd_err. Each value maps to exactly
 * one (HTTP status, error_code) pair; the message travels beside it in a
 * meetd_error so that a rule can say precisely what was wrong. */
#ifndef MEETD_COMMON_ERR_H
#define MEETD_COMMON_ERR_H

#include <stddef.h>

typedef enum meetd_err {
    ME_OK = 0,
    ME_INVALID,         /* 400 190004 invalid parameter */
    ME_TOO_LARGE,       /* 413 190004 body over the limit */
    ME_HEAD_TOO_LARGE,  /* 431 190004 request line and headers over the limit */
    ME_NOT_IN_PROGRESS, /* 400 190004 meeting is not in progress / not joinable */
    ME_ROUTE,           /* 404 190004 unknown route */
    ME_METHOD,          /* 405 190004 known route, other method */
    ME_NO_MEETING,      /* 400 9003 MEETING NOT EXIST */
    ME_BAD_MEETING_ID,  /* 400 9002 meeting id not well formed */
    ME_FORBIDDEN,       /* 403 9042 no permission */
    ME_BANNED,          /* 403 9101 join refused: removed with allow_rejoin=false */
    ME_CANCELLED,       /* 400 9007 the meeting (or occurrence) was cancelled */
    ME_NO_MODIFY,       /* 403 9102 no permission to modify the meeting */
    ME_STARTED,         /* 400 13602 a started meeting cannot be cancelled */
    ME_ENDED,           /* 400 13603 the meeting has ended (cancel) */
    ME_TS_SKEW,         /* 400 190300 timestamp outside the window */
    ME_REPLAY,          /* 400 190301 (timestamp, nonce) already used */
    ME_UNAUTHORIZED,    /* 401 190303 unknown key/app, SdkId mismatch, missing headers, OAuth */
    ME_BAD_SIGNATURE,   /* 401 200003 Signature failed */
    ME_RATE_LIMITED,    /* 429 190310 per-app rate limit */
    ME_STREAMS_APP,     /* 429 190310 the app's event streams at --max-streams-per-app */
    ME_STREAMS_FULL,    /* 503 190310 event streams at capacity (--api-reserve kept) */
    ME_STOPPING,        /* 503 5108 meetd is stopping: nothing new is started; retry */
    ME_INTERNAL,        /* 500 5108 internal error; details only in the log */
    ME__COUNT
} meetd_err;

#define MEETD_ERRMSG_MAX 256

typedef struct meetd_error {
    meetd_err err;
    char msg[MEETD_ERRMSG_MAX];
} meetd_error;

int err_http_status(meetd_err e);
int err_code(meetd_err e);                 /* the contract's error_code */
long long err_new_code(meetd_err e);       /* 200000000 + error_code */
const char *err_default_message(meetd_err e);

/* Records e with a printf-style message (NULL fmt: the default message)
 * into out, which may be NULL. Returns e, so rules can `return err_set(...)`. */
meetd_err err_set(meetd_error *out, meetd_err e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
