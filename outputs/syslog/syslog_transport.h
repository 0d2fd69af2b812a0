/* Sockets of the syslog output: TCP, TLS (OpenSSL, peer always verified) and UDP, non-blocking
 * with poll() and timeouts, reconnect with exponential backoff and jitter. Not thread-safe: one
 * transport is used by one thread (the pipeline thread). */
#ifndef DFW_OUT_SYSLOG_TRANSPORT_H
#define DFW_OUT_SYSLOG_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/err.h"

struct dfw_syslog_transport;

/* Settings; all strings are copied by dfw_out_syslog_transport_new. */
struct dfw_syslog_transport_opts {
    const char *instance; /* output name, for log lines */
    int kind;             /* enum dfw_syslog_transport_kind */
    const char *host;
    int port;
    const char *ca_file;     /* TLS: NULL = default verify paths */
    const char *cert_file;   /* TLS: optional client certificate chain */
    const char *key_file;    /* TLS: its private key */
    const char *server_name; /* TLS: name or IP the certificate must match; NULL = host */
    int64_t timeout_ms;      /* connect, handshake, and a write without progress */
    int64_t backoff_min_ms;  /* first reconnect delay */
    int64_t backoff_max_ms;  /* longest reconnect delay */
};

/* Create a transport (no connection yet; TLS: the SSL_CTX is set up here, so a bad CA, cert or
 * key file fails now). Returns NULL with a message in errbuf. Free with
 * dfw_out_syslog_transport_free. */
struct dfw_syslog_transport *dfw_out_syslog_transport_new(const struct dfw_syslog_transport_opts *o,
                                                          char *errbuf,
                                                          size_t errlen);

/* Close and free. NULL is a no-op. */
void dfw_out_syslog_transport_free(struct dfw_syslog_transport *t);

/* Make sure a usable connection exists: an open stream connection whose peer has not closed it
 * (checked with poll + a non-blocking read), or a new one. DFW_OK when connected; DFW_ERR_BUSY
 * without blocking while a reconnect delay runs; DFW_ERR_RETRY when connecting failed (a
 * reconnect delay starts). */
dfw_err dfw_out_syslog_transport_ready(struct dfw_syslog_transport *t);

/* Write all len bytes (stream) or send them as one datagram (UDP). On failure the connection is
 * closed, a reconnect delay starts and DFW_ERR_RETRY is returned. */
dfw_err dfw_out_syslog_transport_send(struct dfw_syslog_transport *t, const char *data, size_t len);

/* Note that a whole batch went out: the next failure starts again at the shortest delay. */
void dfw_out_syslog_transport_success(struct dfw_syslog_transport *t);

/* 1 for a stream transport (TCP, TLS), 0 for UDP. */
int dfw_out_syslog_transport_is_stream(const struct dfw_syslog_transport *t);

#endif
