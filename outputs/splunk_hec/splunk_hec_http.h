/* The HEC output's HTTP client: one libcurl multi handle owned by the output instance, driven
 * from the output's poll (never blocking longer than asked). TLS verification is always on. */
#ifndef DFW_OUT_SPLUNK_HEC_HTTP_H
#define DFW_OUT_SPLUNK_HEC_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/err.h"
#include "dfw/output.h"

struct hec_http;

struct hec_http_opts {
    const char *base_url; /* https://host:8088 (a trailing '/' is ignored) */
    const char *token;    /* copied into the Authorization header; never logged */
    const char *channel;  /* X-Splunk-Request-Channel GUID */
    const char *ca_file;  /* NULL: system store */
    long timeout_ms;
    long connect_timeout_ms;
    long max_connections;
};

/* The outcome of one POST, valid during the completion callback only. */
struct hec_http_result {
    long status;      /* HTTP status, 0 when no answer */
    const char *body; /* NUL-terminated, may be "" */
    size_t len;
    int64_t retry_after_ms; /* Retry-After, -1 when absent */
    const char *error;      /* curl's error text when status is 0, else "" */
};

typedef void (*hec_http_done_fn)(void *user, void *ctx, const struct hec_http_result *res);

/* Create the client; NULL with a message in errbuf (never the token). */
struct hec_http *hec_http_new(const struct hec_http_opts *opts, char *errbuf, size_t errlen);

/* Abort every transfer (no callbacks), wipe the token and free. NULL is a no-op. */
void hec_http_free(struct hec_http *h);

/* Queue a POST to /services/collector/event (ack_endpoint 0) or /services/collector/ack (1).
 * body is borrowed and must stay unchanged until the completion callback (ack queries are
 * copied); gzip adds Content-Encoding: gzip. ctx is passed back to the callback. */
dfw_err hec_http_post(
    struct hec_http *h, int ack_endpoint, const char *body, size_t len, int gzip, void *ctx);

/* Run transfers for at most timeout_ms (0: do what is possible now) and call done for each
 * finished one. */
void hec_http_run(struct hec_http *h, int timeout_ms, hec_http_done_fn done, void *user);

/* Transfers queued or running. */
int hec_http_running(const struct hec_http *h);

/* The sockets libcurl waits on (up to max into fds; returns how many; curl_multi_fdset, so only
 * descriptors below FD_SETSIZE: without one the timeout is at most 10 ms) and, while transfers
 * run, the time until libcurl's own timeout needs hec_http_run (*timeout_ms, -1: none). */
int hec_http_wait(const struct hec_http *h, struct dfw_wait_fd *fds, int max, int *timeout_ms);

#endif
