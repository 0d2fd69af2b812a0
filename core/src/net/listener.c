/* The local HTTP listener over libmicrohttpd (its internal polling thread). libmicrohttpd parses
 * requests, arguments and keep-alive; this file only maps one request to one handler call. */
#include "dfw/listener.h"
#include "dfw/log.h"

#include <arpa/inet.h>
#include <stdatomic.h>
#include <time.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <microhttpd.h>

#define MAX_CONNECTIONS 16
#define IDLE_TIMEOUT_S  10
#define MAX_REPLY_BYTES (1024 * 1024)
#define DEFAULT_CTYPE   "text/plain; charset=utf-8"
#define DRAIN_MS        2000

struct dfw_listener {
    struct MHD_Daemon *daemon;
    dfw_listener_fn fn;
    void *ctx;
    int port;
    atomic_int active; /* requests between their first handler call and their completion */
};

struct dfw_listener_request {
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
};

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) {
        msg[--n] = '\0';
    }
    dfw_log(DFW_LOG_WARN, "listener", "msg=\"%s\"", DFW_LOG_ESC(msg));
}

static enum MHD_Result
send_reply(struct MHD_Connection *conn, int status, const char *ctype, const char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)(uintptr_t)body, MHD_RESPMEM_MUST_COPY);
    if (resp == NULL) {
        return MHD_NO;
    }
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    enum MHD_Result rc = MHD_queue_response(conn, (unsigned int)status, resp);
    MHD_destroy_response(resp);
    return rc;
}

static enum MHD_Result on_request(void *cls,
                                  struct MHD_Connection *conn,
                                  const char *url,
                                  const char *method,
                                  const char *version,
                                  const char *upload_data,
                                  size_t *upload_data_size,
                                  void **req_cls)
{
    (void)version;
    (void)upload_data;
    struct dfw_listener *l = cls;
    /* the first call announces the request; a body (not expected) arrives in later calls and is
     * dropped */
    if (*req_cls == NULL) {
        static int seen;
        *req_cls = &seen;
        atomic_fetch_add(&l->active, 1);
        if (strcmp(method, MHD_HTTP_METHOD_GET) == 0 || strcmp(method, MHD_HTTP_METHOD_HEAD) == 0) {
            return MHD_YES;
        }
    }
    if (*upload_data_size != 0) {
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0) {
        static const char msg[] = "method not allowed\n";
        return send_reply(conn, MHD_HTTP_METHOD_NOT_ALLOWED, DEFAULT_CTYPE, msg, sizeof(msg) - 1);
    }
    struct dfw_listener_request req = {conn, method, url};
    struct dfw_listener_reply reply = {200, DEFAULT_CTYPE, DFW_BUF_INIT};
    l->fn(l->ctx, &req, &reply);
    enum MHD_Result rc;
    if (reply.body.len > MAX_REPLY_BYTES || reply.status < 100 || reply.status > 599) {
        static const char msg[] = "internal error\n";
        rc = send_reply(conn, 500, DEFAULT_CTYPE, msg, sizeof(msg) - 1);
    }
    else {
        rc = send_reply(conn, reply.status, reply.content_type ? reply.content_type : DEFAULT_CTYPE,
                        reply.body.data ? reply.body.data : "", reply.body.len);
    }
    dfw_buf_free(&reply.body);
    return rc;
}

/* A request ended (answer sent or connection gone): dfw_listener_free waits for this. */
static void on_completed(void *cls,
                         struct MHD_Connection *conn,
                         void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    (void)toe;
    struct dfw_listener *l = cls;
    if (*req_cls != NULL) {
        atomic_fetch_sub(&l->active, 1);
        *req_cls = NULL;
    }
}

struct dfw_listener *dfw_listener_new(
    const char *address, int port, dfw_listener_fn fn, void *ctx, char *errbuf, size_t errlen)
{
    struct sockaddr_in sa;
    memset(&sa, 0, sizeof(sa));
    sa.sin_family = AF_INET;
    if (address == NULL || inet_pton(AF_INET, address, &sa.sin_addr) != 1) {
        dfw_errorf(DFW_ERR_INVALID, errbuf, errlen, "listener: '%s' is not an IPv4 address",
                   address ? address : "(null)");
        return NULL;
    }
    if (port < 0 || port > 65535 || fn == NULL) {
        dfw_errorf(DFW_ERR_INVALID, errbuf, errlen, "listener: port %d is not 0..65535", port);
        return NULL;
    }
    sa.sin_port = htons((uint16_t)port);
    struct dfw_listener *l = calloc(1, sizeof(*l));
    if (l == NULL) {
        dfw_errorf(DFW_ERR_NOMEM, errbuf, errlen, "out of memory");
        return NULL;
    }
    l->fn = fn;
    l->ctx = ctx;
    l->daemon = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG | MHD_USE_ITC,
        (uint16_t)port, NULL, NULL, on_request, l, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, l, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&sa,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)MAX_CONNECTIONS, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned int)IDLE_TIMEOUT_S, MHD_OPTION_END);
    if (l->daemon == NULL) {
        dfw_errorf(DFW_ERR_IO, errbuf, errlen,
                   "cannot listen on %s:%d (port in use or not permitted)", address, port);
        free(l);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(l->daemon, MHD_DAEMON_INFO_BIND_PORT);
    l->port = info != NULL && info->port != 0 ? (int)info->port : port;
    return l;
}

int dfw_listener_port(const struct dfw_listener *l)
{
    return l->port;
}

void dfw_listener_free(struct dfw_listener *l)
{
    if (l == NULL) {
        return;
    }
    if (l->daemon != NULL) {
        /* stop accepting, let answers being sent (e.g. "signed in, close this window") finish */
        MHD_socket fd = MHD_quiesce_daemon(l->daemon);
        for (int waited = 0; atomic_load(&l->active) > 0 && waited < DRAIN_MS; waited += 10) {
            struct timespec ts = {0, 10 * 1000000L};
            nanosleep(&ts, NULL);
        }
        MHD_stop_daemon(l->daemon);
        if (fd != MHD_INVALID_SOCKET) {
            close(fd);
        }
    }
    free(l);
}

const char *dfw_listener_method(const struct dfw_listener_request *req)
{
    return req->method;
}

const char *dfw_listener_path(const struct dfw_listener_request *req)
{
    return req->path;
}

const char *dfw_listener_arg(const struct dfw_listener_request *req, const char *name)
{
    const char *value = NULL;
    if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &value,
                                      NULL) != MHD_YES) {
        return NULL;
    }
    return value != NULL ? value : ""; /* "?name" without '=' */
}
