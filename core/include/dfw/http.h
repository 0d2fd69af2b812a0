/* All HTTP requests of all tenants on one libcurl multi handle (one event loop, one thread). */
#ifndef DFW_HTTP_H
#define DFW_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/buf.h"
#include "dfw/err.h"

struct dfw_http;

/* Transfers handed to libcurl at once per allowed connection, when max_active is 0 (HTTP/2
 * carries many on one connection). */
#define DFW_HTTP_ACTIVE_PER_CONNECTION 16

struct dfw_http_opts {
    const char *ca_file; /* extra CA bundle; NULL = system store. Verification is always on. */
    int64_t timeout_ms;  /* whole transfer, from when it is handed to libcurl (not while queued) */
    int64_t connect_timeout_ms;
    int max_connections; /* open connections (CURLMOPT_MAX_TOTAL_CONNECTIONS); 0: 64 */
    const char *user_agent;
    int max_active; /* transfers handed to libcurl at once; more requests wait in a FIFO and
                       cost only their URL and headers meanwhile (libcurl's per-transfer buffers
                       are tens of KiB). 0: DFW_HTTP_ACTIVE_PER_CONNECTION * max_connections */
};

/* The outcome of one request, valid only during the completion callback. */
struct dfw_http_response {
    long status;            /* HTTP status, 0 when no response (see error) */
    const char *body;       /* response body (NUL-terminated), may be empty */
    struct dfw_buf *owner;  /* the buffer holding body, or NULL: a callback that keeps the body
                               past its return takes it with dfw_buf_steal(owner), which gives
                               back body itself (then the caller's to free), or moves *owner
                               whole (capacity too) and leaves it empty (DFW_BUF_INIT) */
    size_t len;             /* bytes */
    int64_t retry_after_ms; /* from Retry-After (seconds or HTTP date), -1 when absent */
    const char *error;      /* transport error text (curl's error buffer), "" on success */
    dfw_err transport;      /* DFW_OK when a response arrived, DFW_ERR_RETRY for timeouts and
                               connection errors, DFW_ERR_INVALID for bad URLs or TLS failures */
};

/* Called once per request from dfw_http_run (never from inside dfw_http_get/post). */
typedef void (*dfw_http_done_fn)(void *ctx, const struct dfw_http_response *resp);

/* Create the loop. curl_global_init must have been called once (dfw_http_global_init). */
struct dfw_http *dfw_http_new(const struct dfw_http_opts *opts, char *errbuf, size_t errlen);

/* Abort every transfer (callbacks are not called) and free. NULL is a no-op. */
void dfw_http_free(struct dfw_http *http);

/* curl_global_init once per process; call before any thread starts. */
dfw_err dfw_http_global_init(void);

/* Queue a GET with "Authorization: Bearer <bearer>" (bearer may be NULL) and one more header line
 * "Name: value" (header may be NULL; e.g. dfw_stream_header's Prefer for Graph). The URL and the
 * header are copied; the bearer is copied into a header and never logged. Accepts gzip/deflate.
 * Requests start in the order they were queued, at most max_active at once. DFW_ERR_NOMEM when
 * the request cannot be queued (its callback is then never called); a queued request that cannot
 * be started later completes with transport DFW_ERR_RETRY ("out of memory"). into, when not NULL,
 * is a buffer the answer's body is written into (taken in every case, error or not: *into is
 * left empty, and its storage is resp->owner's or freed): a caller reading page after page hands
 * back the previous page's buffer and its pages need no fresh memory faulted in
 * (docs/performance.md, "Recycled page buffers"). */
dfw_err dfw_http_get(struct dfw_http *http,
                     const char *url,
                     const char *bearer,
                     const char *header,
                     struct dfw_buf *into,
                     dfw_http_done_fn done,
                     void *ctx);

/* Queue a POST of an application/x-www-form-urlencoded body (copied; may hold a secret; wiped
 * when freed). Queued and started as dfw_http_get. */
dfw_err dfw_http_post_form(
    struct dfw_http *http, const char *url, const char *body, dfw_http_done_fn done, void *ctx);

/* Run transfers for at most timeout_ms and call the callbacks of finished ones. Returns the number
 * of transfers still running. */
int dfw_http_run(struct dfw_http *http, int timeout_ms);

struct dfw_wait_fd;

/* dfw_http_run that also returns when one of the nfds extra descriptors (an output's sockets or
 * wakeup pipe, see dfw/output.h) is ready. */
int dfw_http_run_fds(struct dfw_http *http,
                     const struct dfw_wait_fd *fds,
                     int nfds,
                     int timeout_ms);

/* Transfers queued or running. */
int dfw_http_pending(const struct dfw_http *http);

/* Transfers running (handed to libcurl): at most max_active. */
int dfw_http_active(const struct dfw_http *http);

/* Wake a dfw_http_run that is waiting (async-signal-safe: for signal handlers). */
void dfw_http_wakeup(struct dfw_http *http);

/* Longest wait a server can ask for (Retry-After, a 429 body): one hour, the longest quota
 * window of the APIs (defender-api.md §6). Longer requests are shortened to it, so that
 * "now + wait" never overflows and a broken server cannot stop a stream for days. */
#define DFW_HTTP_RETRY_AFTER_MAX_MS (3600LL * 1000)

/* If the n-byte header line (as libcurl's header callback passes it, CRLF included) is
 * Retry-After, return its delay in ms: delay-seconds or an HTTP-date (RFC 9110 §10.2.3), 0 for a
 * date in the past, at most DFW_HTTP_RETRY_AFTER_MAX_MS. -1 for any other header or an
 * unreadable value. Thread-safe. */
int64_t dfw_http_retry_after_ms(const char *line, size_t n);

/* The decimal seconds at the start of text (at least one digit, no sign) as ms, at most
 * DFW_HTTP_RETRY_AFTER_MAX_MS whatever the number of digits; -1 when text does not start with a
 * digit. *end (when end is not NULL) is set after the digits. For Retry-After and for the
 * "again in N seconds" text of Defender 429 bodies. Thread-safe. */
int64_t dfw_http_delay_seconds_ms(const char *text, const char **end);

/* Exponential backoff with full jitter: a random delay in [base/2, base] where
 * base = min(max_ms, min_ms * 2^attempt). */
int64_t dfw_backoff_ms(int attempt, int64_t min_ms, int64_t max_ms);

#endif
