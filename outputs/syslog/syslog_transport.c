/* TCP, TLS (RFC 5425) and UDP (RFC 5426) sockets of the syslog output. */
#include "syslog_transport.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netdb.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dfw/log.h"
#include "dfw/timeutil.h"
#include "syslog_conf.h"

struct dfw_syslog_transport {
    char *instance;
    char *host;
    char *server_name;
    int kind;
    int port;
    int64_t timeout_ms;
    int64_t backoff_min_ms;
    int64_t backoff_max_ms;
    int fd;               /* -1 when not connected */
    SSL_CTX *ctx;         /* TLS only */
    SSL *ssl;             /* TLS only, while connected */
    BIO_METHOD *bio_meth; /* TLS only: socket BIO that never raises SIGPIPE */
    int failures;         /* consecutive failed connects or writes */
    int64_t retry_at;     /* monotonic ms before which no connect is tried */
    uint64_t rng;         /* jitter */
};

/* ---- a socket BIO that sends with MSG_NOSIGNAL (OpenSSL's own uses write(2)) ------------- */

static int bio_fd(BIO *b)
{
    return (int)(intptr_t)BIO_get_data(b);
}

static int bio_sock_write(BIO *b, const char *buf, int len)
{
    BIO_clear_retry_flags(b);
    ssize_t n = send(bio_fd(b), buf, (size_t)len, MSG_NOSIGNAL);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            BIO_set_retry_write(b);
        }
        return -1;
    }
    return (int)n;
}

static int bio_sock_read(BIO *b, char *buf, int len)
{
    BIO_clear_retry_flags(b);
    ssize_t n = recv(bio_fd(b), buf, (size_t)len, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            BIO_set_retry_read(b);
        }
        return -1;
    }
    return (int)n;
}

static long bio_sock_ctrl(BIO *b, int cmd, long num, void *ptr)
{
    (void)b;
    (void)num;
    (void)ptr;
    return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int bio_sock_create(BIO *b)
{
    BIO_set_init(b, 1);
    return 1;
}

/* ---- helpers ------------------------------------------------------------------------------ */

static uint64_t next_random(struct dfw_syslog_transport *t)
{
    /* xorshift64*: jitter only, no security use */
    t->rng ^= t->rng >> 12;
    t->rng ^= t->rng << 25;
    t->rng ^= t->rng >> 27;
    return t->rng * 2685821657736338717ULL;
}

/* Wait until fd is ready for events or deadline (monotonic ms) passes: 1 ready, 0 timeout. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        int64_t left = deadline - dfw_mono_ms();
        if (left <= 0) {
            return 0;
        }
        struct pollfd p = {fd, events, 0};
        int r = poll(&p, 1, left > INT_MAX ? INT_MAX : (int)left);
        if (r > 0) {
            return 1;
        }
        if (r < 0 && errno != EINTR) {
            return 1; /* let the next call report the error */
        }
    }
}

static const char *ssl_error_text(const SSL *ssl, char *buf, size_t len)
{
    long v = ssl != NULL ? SSL_get_verify_result(ssl) : X509_V_OK;
    unsigned long e = ERR_get_error();
    if (v != X509_V_OK) {
        snprintf(buf, len, "certificate verification failed: %s", X509_verify_cert_error_string(v));
    }
    else if (e != 0) {
        ERR_error_string_n(e, buf, len);
    }
    else {
        snprintf(buf, len, "%s", errno ? strerror(errno) : "connection closed by peer");
    }
    ERR_clear_error();
    return buf;
}

static void close_conn(struct dfw_syslog_transport *t, int graceful)
{
    if (t->ssl != NULL) {
        if (graceful) {
            ERR_clear_error();
            SSL_shutdown(t->ssl); /* best effort close_notify, non-blocking */
        }
        SSL_free(t->ssl); /* frees the BIO too */
        t->ssl = NULL;
        ERR_clear_error();
    }
    if (t->fd >= 0) {
        close(t->fd);
        t->fd = -1;
    }
}

/* Close after a failure and start the next reconnect delay: min * 2^(failures-1), capped at max,
 * jittered into [max(min, d/2), d]. */
static void fail_conn(struct dfw_syslog_transport *t, const char *what, const char *error)
{
    close_conn(t, 0);
    if (t->failures < 30) {
        t->failures++;
    }
    int64_t d = t->backoff_min_ms;
    for (int i = 1; i < t->failures && d < t->backoff_max_ms; i++) {
        d *= 2;
    }
    d = d > t->backoff_max_ms ? t->backoff_max_ms : d;
    int64_t lo = d / 2 > t->backoff_min_ms ? d / 2 : t->backoff_min_ms;
    if (d > lo) {
        d = lo + (int64_t)(next_random(t) % (uint64_t)(d - lo + 1));
    }
    t->retry_at = dfw_mono_ms() + d;
    dfw_log(DFW_LOG_WARN, "output",
            "output=%s msg=\"%s\" host=%s port=%d error=\"%s\" retry_in_ms=%lld", t->instance,
            DFW_LOG_ESC(what), DFW_LOG_VAL(t->host), t->port, DFW_LOG_ESC(error), (long long)d);
}

/* ---- connecting ---------------------------------------------------------------------------- */

static int tcp_connect_one(const struct addrinfo *ai, int64_t deadline, int *err)
{
    int fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 || fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        *err = errno;
        close(fd);
        return -1;
    }
    if (connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
        if (errno != EINPROGRESS) {
            *err = errno;
            close(fd);
            return -1;
        }
        int soerr = 0;
        socklen_t sl = sizeof(soerr);
        if (!wait_fd(fd, POLLOUT, deadline)) {
            *err = ETIMEDOUT;
            close(fd);
            return -1;
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0 || soerr != 0) {
            *err = soerr ? soerr : errno;
            close(fd);
            return -1;
        }
    }
    return fd;
}

static int tls_handshake(struct dfw_syslog_transport *t, int64_t deadline, char *ebuf, size_t elen)
{
    unsigned char addr[16];
    BIO *bio = NULL;
    t->ssl = SSL_new(t->ctx);
    if (t->ssl == NULL || (bio = BIO_new(t->bio_meth)) == NULL) {
        snprintf(ebuf, elen, "out of memory");
        return -1;
    }
    BIO_set_data(bio, (void *)(intptr_t)t->fd);
    SSL_set_bio(t->ssl, bio, bio); /* bio now owned by ssl */
    if (inet_pton(AF_INET, t->server_name, addr) == 1 ||
        inet_pton(AF_INET6, t->server_name, addr) == 1) {
        if (X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(t->ssl), t->server_name) != 1) {
            snprintf(ebuf, elen, "cannot set the expected IP address");
            return -1;
        }
    }
    else {
        SSL_set_hostflags(t->ssl, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (SSL_set_tlsext_host_name(t->ssl, t->server_name) != 1 ||
            SSL_set1_host(t->ssl, t->server_name) != 1) {
            snprintf(ebuf, elen, "cannot set the expected host name");
            return -1;
        }
    }
    for (;;) {
        ERR_clear_error();
        errno = 0;
        int r = SSL_connect(t->ssl);
        if (r == 1) {
            return 0;
        }
        int e = SSL_get_error(t->ssl, r);
        short ev = e == SSL_ERROR_WANT_READ ? POLLIN : e == SSL_ERROR_WANT_WRITE ? POLLOUT : 0;
        if (ev == 0) {
            ssl_error_text(t->ssl, ebuf, elen);
            return -1;
        }
        if (!wait_fd(t->fd, ev, deadline)) {
            snprintf(ebuf, elen, "TLS handshake timed out");
            return -1;
        }
    }
}

static dfw_err do_connect(struct dfw_syslog_transport *t)
{
    char port[16], ebuf[256];
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = t->kind == DFW_SYSLOG_UDP ? SOCK_DGRAM : SOCK_STREAM;
    snprintf(port, sizeof(port), "%d", t->port);
    int rc = getaddrinfo(t->host, port, &hints, &res);
    if (rc != 0) {
        fail_conn(t, "cannot resolve host", gai_strerror(rc));
        return DFW_ERR_RETRY;
    }
    int64_t deadline = dfw_mono_ms() + t->timeout_ms;
    int err = 0;
    for (const struct addrinfo *ai = res; ai != NULL && t->fd < 0; ai = ai->ai_next) {
        t->fd = tcp_connect_one(ai, deadline, &err);
    }
    freeaddrinfo(res);
    if (t->fd < 0) {
        fail_conn(t, "connect failed", strerror(err));
        return DFW_ERR_RETRY;
    }
    if (t->kind == DFW_SYSLOG_TLS && tls_handshake(t, deadline, ebuf, sizeof(ebuf)) != 0) {
        fail_conn(t, "TLS handshake failed", ebuf);
        return DFW_ERR_RETRY;
    }
    dfw_log(DFW_LOG_INFO, "output", "output=%s msg=\"connected\" host=%s port=%d transport=%s",
            t->instance, DFW_LOG_VAL(t->host), t->port,
            t->kind == DFW_SYSLOG_TLS   ? "tls"
            : t->kind == DFW_SYSLOG_UDP ? "udp"
                                        : "tcp");
    return DFW_OK;
}

/* 1 when the receiver has closed a stream connection (or it failed); data it sent is dropped. */
static int peer_closed(struct dfw_syslog_transport *t)
{
    char buf[512];
    for (int rounds = 0; rounds < 64; rounds++) {
        struct pollfd p = {t->fd, POLLIN, 0};
        if (poll(&p, 1, 0) <= 0) {
            return 0;
        }
        if (p.revents & (POLLERR | POLLNVAL)) {
            return 1;
        }
        if (t->ssl != NULL) {
            /* also consumes TLS 1.3 session tickets and notices close_notify */
            ERR_clear_error();
            int n = SSL_read(t->ssl, buf, sizeof(buf));
            if (n <= 0) {
                int e = SSL_get_error(t->ssl, n);
                ERR_clear_error();
                return !(e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE);
            }
        }
        else {
            ssize_t n = recv(t->fd, buf, sizeof(buf), MSG_PEEK);
            if (n == 0) {
                return 1;
            }
            if (n < 0) {
                return !(errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR);
            }
            if (recv(t->fd, buf, (size_t)n, 0) < 0) { /* a receiver should not talk; discard */
                return 1;
            }
        }
    }
    return 0;
}

/* ---- public -------------------------------------------------------------------------------- */

void dfw_out_syslog_transport_free(struct dfw_syslog_transport *t)
{
    if (t == NULL) {
        return;
    }
    close_conn(t, 1);
    SSL_CTX_free(t->ctx);
    if (t->bio_meth != NULL) {
        BIO_meth_free(t->bio_meth);
    }
    free(t->instance);
    free(t->host);
    free(t->server_name);
    free(t);
}

static int tls_setup(struct dfw_syslog_transport *t,
                     const struct dfw_syslog_transport_opts *o,
                     char *errbuf,
                     size_t errlen)
{
    char ebuf[256];
    const char *what = NULL;
    t->ctx = SSL_CTX_new(TLS_client_method());
    t->bio_meth = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "dfw-syslog-socket");
    if (t->ctx == NULL || t->bio_meth == NULL) {
        what = "cannot create the TLS context";
    }
    else if (!BIO_meth_set_write(t->bio_meth, bio_sock_write) ||
             !BIO_meth_set_read(t->bio_meth, bio_sock_read) ||
             !BIO_meth_set_ctrl(t->bio_meth, bio_sock_ctrl) ||
             !BIO_meth_set_create(t->bio_meth, bio_sock_create)) {
        what = "cannot create the socket BIO";
    }
    else if (SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION) != 1) {
        what = "cannot require TLS 1.2";
    }
    else if (o->ca_file != NULL ? SSL_CTX_load_verify_locations(t->ctx, o->ca_file, NULL) != 1
                                : SSL_CTX_set_default_verify_paths(t->ctx) != 1) {
        what = o->ca_file != NULL ? "cannot load ca_file" : "cannot load the system CA store";
    }
    else if (o->cert_file != NULL &&
             SSL_CTX_use_certificate_chain_file(t->ctx, o->cert_file) != 1) {
        what = "cannot load cert_file";
    }
    else if (o->key_file != NULL &&
             (SSL_CTX_use_PrivateKey_file(t->ctx, o->key_file, SSL_FILETYPE_PEM) != 1 ||
              SSL_CTX_check_private_key(t->ctx) != 1)) {
        what = "cannot load key_file or it does not match cert_file";
    }
    if (what != NULL) {
        snprintf(errbuf, errlen, "output %s: %s: %s", o->instance, what,
                 ssl_error_text(NULL, ebuf, sizeof(ebuf)));
        return -1;
    }
    /* verification is always on; there is deliberately no option to turn it off */
    SSL_CTX_set_verify(t->ctx, SSL_VERIFY_PEER, NULL);
    SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    return 0;
}

struct dfw_syslog_transport *
dfw_out_syslog_transport_new(const struct dfw_syslog_transport_opts *o, char *errbuf, size_t errlen)
{
    struct dfw_syslog_transport *t = calloc(1, sizeof(*t));
    if (t == NULL) {
        snprintf(errbuf, errlen, "output %s: out of memory", o->instance);
        return NULL;
    }
    t->fd = -1;
    t->kind = o->kind;
    t->port = o->port;
    t->timeout_ms = o->timeout_ms;
    t->backoff_min_ms = o->backoff_min_ms;
    t->backoff_max_ms = o->backoff_max_ms;
    t->rng = (uint64_t)dfw_mono_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)(uintptr_t)t;
    t->rng = t->rng ? t->rng : 0x9E3779B97F4A7C15ULL;
    t->instance = strdup(o->instance);
    t->host = strdup(o->host);
    t->server_name = strdup(o->server_name != NULL ? o->server_name : o->host);
    if (t->instance == NULL || t->host == NULL || t->server_name == NULL) {
        snprintf(errbuf, errlen, "output %s: out of memory", o->instance);
        dfw_out_syslog_transport_free(t);
        return NULL;
    }
    if (t->kind == DFW_SYSLOG_TLS && tls_setup(t, o, errbuf, errlen) != 0) {
        dfw_out_syslog_transport_free(t);
        return NULL;
    }
    return t;
}

dfw_err dfw_out_syslog_transport_ready(struct dfw_syslog_transport *t)
{
    if (t->fd >= 0) {
        if (t->kind == DFW_SYSLOG_UDP || !peer_closed(t)) {
            return DFW_OK;
        }
        /* the receiver went away (restart, idle timeout): reconnect at once */
        dfw_log(DFW_LOG_INFO, "output", "output=%s msg=\"receiver closed the connection\"",
                t->instance);
        close_conn(t, 0);
    }
    if (dfw_mono_ms() < t->retry_at) {
        return DFW_ERR_BUSY;
    }
    return do_connect(t);
}

static dfw_err send_stream(struct dfw_syslog_transport *t, const char *p, size_t len)
{
    char ebuf[256];
    while (len > 0) {
        short ev = POLLOUT;
        if (t->ssl != NULL) {
            ERR_clear_error();
            errno = 0;
            int n = SSL_write(t->ssl, p, len > INT_MAX ? INT_MAX : (int)len);
            if (n > 0) {
                p += n;
                len -= (size_t)n;
                continue;
            }
            int e = SSL_get_error(t->ssl, n);
            if (e != SSL_ERROR_WANT_WRITE && e != SSL_ERROR_WANT_READ) {
                fail_conn(t, "write failed", ssl_error_text(t->ssl, ebuf, sizeof(ebuf)));
                return DFW_ERR_RETRY;
            }
            ev = e == SSL_ERROR_WANT_READ ? POLLIN : POLLOUT;
        }
        else {
            ssize_t n = send(t->fd, p, len, MSG_NOSIGNAL);
            if (n >= 0) {
                p += n;
                len -= (size_t)n;
                continue;
            }
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                fail_conn(t, "write failed", strerror(errno));
                return DFW_ERR_RETRY;
            }
        }
        if (!wait_fd(t->fd, ev, dfw_mono_ms() + t->timeout_ms)) {
            fail_conn(t, "write failed", "write_timeout passed without progress");
            return DFW_ERR_RETRY;
        }
    }
    return DFW_OK;
}

static dfw_err send_datagram(struct dfw_syslog_transport *t, const char *p, size_t len)
{
    for (;;) {
        ssize_t n = send(t->fd, p, len, MSG_NOSIGNAL);
        if (n >= 0) {
            return DFW_OK;
        }
        int err = errno;
        if (err == EINTR) {
            continue;
        }
        if (err != EAGAIN && err != EWOULDBLOCK) {
            fail_conn(t, "send failed", strerror(err));
            return DFW_ERR_RETRY;
        }
        if (!wait_fd(t->fd, POLLOUT, dfw_mono_ms() + t->timeout_ms)) {
            fail_conn(t, "send failed", "write_timeout passed without progress");
            return DFW_ERR_RETRY;
        }
    }
}

dfw_err dfw_out_syslog_transport_send(struct dfw_syslog_transport *t, const char *data, size_t len)
{
    if (t->fd < 0) {
        return DFW_ERR_RETRY;
    }
    return t->kind == DFW_SYSLOG_UDP ? send_datagram(t, data, len) : send_stream(t, data, len);
}

void dfw_out_syslog_transport_success(struct dfw_syslog_transport *t)
{
    t->failures = 0;
}

int dfw_out_syslog_transport_is_stream(const struct dfw_syslog_transport *t)
{
    return t->kind != DFW_SYSLOG_UDP;
}
