/* Error codes shared by every libdfw function. */
#ifndef DFW_ERR_H
#define DFW_ERR_H

#include <stddef.h>

/* Every fallible function returns a dfw_err: DFW_OK (0) or a negative code. Retryable codes
 * (DFW_ERR_RETRY, DFW_ERR_THROTTLED, DFW_ERR_BUSY) describe a condition that may clear by itself;
 * the others are permanent until configuration or input changes. */
typedef enum dfw_err {
    DFW_OK = 0,
    DFW_ERR_NOMEM = -1,     /* allocation failed */
    DFW_ERR_INVALID = -2,   /* bad argument or malformed input (JSON, JWT, timestamp) */
    DFW_ERR_CONFIG = -3,    /* configuration error: unknown key, bad value, missing key */
    DFW_ERR_IO = -4,        /* file or socket I/O failed */
    DFW_ERR_PERM = -5,      /* unsafe permissions (e.g. a group/world-readable secret file) */
    DFW_ERR_AUTH = -6,      /* credentials rejected, consent missing: needs an operator */
    DFW_ERR_RETRY = -7,     /* transient failure (5xx, timeout, connection reset): retry later */
    DFW_ERR_THROTTLED = -8, /* HTTP 429 or quota exhausted: retry after the given delay */
    DFW_ERR_BUSY = -9,      /* an output cannot take more now (back-pressure) */
    DFW_ERR_NOTFOUND = -10, /* no such tenant, stream, file or key */
    DFW_ERR_LOCKED = -11,   /* the state directory is locked by another instance */
    DFW_ERR_FORBIDDEN = -12 /* token valid but a required role (permission) is missing */
} dfw_err;

/* Static English text for an error code; never NULL. Thread-safe. */
const char *dfw_strerror(dfw_err err);

/* Write a printf-formatted message into errbuf (errlen bytes, always NUL-terminated; errbuf may be
 * NULL when errlen is 0) and return code: the one-liner for "fail with a message" paths. */
dfw_err dfw_errorf(dfw_err code, char *errbuf, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* 1 when err is worth retrying without operator action (RETRY, THROTTLED, BUSY), else 0. */
int dfw_err_retryable(dfw_err err);

#endif
