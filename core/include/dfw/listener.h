/* A small HTTP/1.1 server on a local IPv4 address for the forwarder's own endpoints: the redirect
 * of `authorize` (and, later, /metrics and /health). A thin wrapper over libmicrohttpd, which
 * parses the requests; it answers GET and HEAD only (other methods get 405 without reaching the
 * handler) and ignores request bodies. Every answer carries Cache-Control: no-store. */
#ifndef DFW_LISTENER_H
#define DFW_LISTENER_H

#include <stddef.h>
#include "dfw/buf.h"
#include "dfw/err.h"

struct dfw_listener;

/* One request, valid only during the handler call. */
struct dfw_listener_request;

/* What the handler answers. Preset to status 200, content type "text/plain; charset=utf-8" and
 * an empty body; the handler sets what it needs and appends to body (the listener frees it). */
struct dfw_listener_reply {
    int status;
    const char *content_type; /* static storage or owned by the handler's ctx */
    struct dfw_buf body;
};

/* Called on the listener's own thread, one request at a time (libmicrohttpd's internal polling
 * thread): the handler must synchronise with the rest of the program itself. */
typedef void (*dfw_listener_fn)(void *ctx,
                                const struct dfw_listener_request *req,
                                struct dfw_listener_reply *reply);

/* Listen on address (an IPv4 literal such as "127.0.0.1") and port (0: a free port, see
 * dfw_listener_port) and serve requests with fn(ctx, ...) until dfw_listener_free. NULL with
 * errbuf set (e.g. "127.0.0.1:8400: port in use or not permitted") on failure. At most 16
 * connections at a time; idle connections are closed after 10 s. */
struct dfw_listener *dfw_listener_new(
    const char *address, int port, dfw_listener_fn fn, void *ctx, char *errbuf, size_t errlen);

/* The port listened on (the chosen one when dfw_listener_new was given 0). */
int dfw_listener_port(const struct dfw_listener *l);

/* Stop listening, give requests in progress up to 2 s to send their answers, free. NULL is a
 * no-op. */
void dfw_listener_free(struct dfw_listener *l);

/* "GET" or "HEAD". */
const char *dfw_listener_method(const struct dfw_listener_request *req);

/* The path of the request URI, without the query ("/" for "GET /?code=x"). */
const char *dfw_listener_path(const struct dfw_listener_request *req);

/* The decoded value of query argument name ("" for "?name" without '='), or NULL when absent.
 * Valid during the handler call. */
const char *dfw_listener_arg(const struct dfw_listener_request *req, const char *name);

#endif
