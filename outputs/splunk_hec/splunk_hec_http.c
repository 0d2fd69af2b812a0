/* libcurl multi client for HEC: event POSTs and acknowledgement queries on one channel. */
#include "splunk_hec_http.h"
#include "dfw/http.h"
#include "dfw/buf.h"

#include <curl/curl.h>
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <poll.h>
#include <sys/select.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

struct hec_xfer {
    CURL *easy;
    void *ctx;
    char *copy; /* ack query body (owned) */
    struct dfw_buf resp;
    int64_t retry_after_ms;
    char errbuf[CURL_ERROR_SIZE];
    struct hec_xfer *next, *prev;
};

struct hec_http {
    CURLM *multi;
    char *event_url;
    char *ack_url;
    X509_STORE *trust; /* the CAs, loaded once for every connection; NULL: libcurl loads them */
    CURLSH *share;     /* TLS sessions, resumed by the next connection (RFC 8446 §2.2) */
    char *ca_file;
    struct curl_slist *hdr_plain; /* Authorization, channel, Content-Type */
    struct curl_slist *hdr_gzip;  /* the same plus Content-Encoding: gzip */
    long timeout_ms;
    long connect_timeout_ms;
    struct hec_xfer *active;
    int running;
    int aborting;
};

/* Headers hold the token: overwrite before freeing. */
static void wipe_headers(struct curl_slist *l)
{
    for (struct curl_slist *p = l; p != NULL; p = p->next) {
        memset(p->data, 0, strlen(p->data));
    }
    curl_slist_free_all(l);
}

static void xfer_free(struct hec_xfer *x)
{
    if (x->easy != NULL) {
        curl_easy_cleanup(x->easy);
    }
    free(x->copy);
    dfw_buf_free(&x->resp);
    free(x);
}

void hec_http_free(struct hec_http *h)
{
    if (h == NULL) {
        return;
    }
    h->aborting = 1;
    struct hec_xfer *x = h->active;
    while (x != NULL) {
        struct hec_xfer *next = x->next;
        curl_multi_remove_handle(h->multi, x->easy);
        xfer_free(x);
        x = next;
    }
    if (h->multi != NULL) {
        curl_multi_cleanup(h->multi);
    }
    wipe_headers(h->hdr_plain);
    wipe_headers(h->hdr_gzip);
    free(h->event_url);
    free(h->ack_url);
    if (h->share != NULL) {
        curl_share_cleanup(h->share);
    }
    X509_STORE_free(h->trust);
    free(h->ca_file);
    free(h);
}

static char *join_url(const char *base, const char *path)
{
    struct dfw_buf b = DFW_BUF_INIT;
    size_t n = strlen(base);
    while (n > 0 && base[n - 1] == '/') {
        n--;
    }
    if (dfw_buf_append(&b, base, n) != DFW_OK || dfw_buf_puts(&b, path) != DFW_OK) {
        dfw_buf_free(&b);
        return NULL;
    }
    return b.data;
}

static struct curl_slist *headers(const struct hec_http_opts *o, int gzip)
{
    struct dfw_buf auth = DFW_BUF_INIT, chan = DFW_BUF_INIT;
    struct curl_slist *l = NULL;
    int ok = dfw_buf_printf(&auth, "Authorization: Splunk %s", o->token) == DFW_OK &&
             dfw_buf_printf(&chan, "X-Splunk-Request-Channel: %s", o->channel) == DFW_OK;
    const char *lines[] = {auth.data, chan.data, "Content-Type: application/json",
                           gzip ? "Content-Encoding: gzip" : NULL, "Expect:"};
    for (size_t i = 0; ok && i < sizeof(lines) / sizeof(lines[0]); i++) {
        if (lines[i] == NULL) {
            continue;
        }
        struct curl_slist *n = curl_slist_append(l, lines[i]);
        ok = n != NULL;
        l = n ? n : l;
    }
    if (auth.data != NULL) {
        memset(auth.data, 0, auth.len);
    }
    dfw_buf_free(&auth);
    dfw_buf_free(&chan);
    if (!ok) {
        wipe_headers(l);
        return NULL;
    }
    return l;
}

/* The CAs libcurl would load for each connection, loaded once: the CA file (ca_file, else
 * libcurl's default bundle) and libcurl's default CA directory, as CURLOPT_CAINFO and
 * CURLOPT_CAPATH do. A receiver that closes its connection after each answer (HTTP/1.1
 * "Connection: close") makes a TLS connection per request, and each reloaded and re-parsed
 * every CA (docs/performance.md). NULL when out of memory; *bad when the file cannot be read. */
static X509_STORE *load_trust(const char *ca_file, int *bad)
{
    const curl_version_info_data *vi = curl_version_info(CURLVERSION_NOW);
    const char *file = ca_file != NULL ? ca_file : vi->cainfo;
    X509_STORE *st = X509_STORE_new();
    *bad = 0;
    if (st == NULL) {
        return NULL;
    }
    if ((file != NULL && X509_STORE_load_file(st, file) != 1) ||
        (vi->capath != NULL && X509_STORE_load_path(st, vi->capath) != 1)) {
        *bad = 1;
        X509_STORE_free(st);
        return NULL;
    }
    return st;
}

/* CURLOPT_SSL_CTX_FUNCTION: every connection verifies with the store loaded once. */
static CURLcode use_trust(CURL *curl, void *ssl_ctx, void *arg)
{
    (void)curl;
    SSL_CTX_set1_cert_store(ssl_ctx, arg); /* takes a reference */
    return CURLE_OK;
}

struct hec_http *hec_http_new(const struct hec_http_opts *opts, char *errbuf, size_t errlen)
{
    struct hec_http *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    h->timeout_ms = opts->timeout_ms;
    h->connect_timeout_ms = opts->connect_timeout_ms;
    h->multi = curl_multi_init();
    h->event_url = join_url(opts->base_url, "/services/collector/event");
    h->ack_url = join_url(opts->base_url, "/services/collector/ack");
    h->ca_file = opts->ca_file ? strdup(opts->ca_file) : NULL;
    h->hdr_plain = headers(opts, 0);
    h->hdr_gzip = headers(opts, 1);
    if (h->multi == NULL || h->event_url == NULL || h->ack_url == NULL ||
        (opts->ca_file != NULL && h->ca_file == NULL) || h->hdr_plain == NULL ||
        h->hdr_gzip == NULL) {
        snprintf(errbuf, errlen, "cannot initialise libcurl");
        hec_http_free(h);
        return NULL;
    }
    int bad = 0;
    if (strncasecmp(opts->base_url, "https:", 6) == 0 &&
        (h->trust = load_trust(h->ca_file, &bad)) == NULL) {
        if (bad) {
            snprintf(errbuf, errlen, "cannot read the CA file %s",
                     h->ca_file ? h->ca_file : "of libcurl");
        }
        else {
            snprintf(errbuf, errlen, "out of memory");
        }
        hec_http_free(h);
        return NULL;
    }
    /* a new easy handle per request: the TLS session cache is shared so that a connection the
     * receiver closed after its answer is resumed, not negotiated and verified again. One
     * thread uses the handles: no locks. */
    h->share = curl_share_init();
    if (h->share != NULL) {
        curl_share_setopt(h->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
    }
    curl_multi_setopt(h->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, opts->max_connections);
    curl_multi_setopt(h->multi, CURLMOPT_MAX_HOST_CONNECTIONS, opts->max_connections);
    return h;
}

int hec_http_wait(const struct hec_http *h, struct dfw_wait_fd *fds, int max, int *timeout_ms)
{
    *timeout_ms = -1;
    if (h->running == 0) {
        return 0;
    }
    fd_set rd, wr, ex;
    int maxfd = -1, n = 0;
    FD_ZERO(&rd);
    FD_ZERO(&wr);
    FD_ZERO(&ex);
    long t = -1;
    curl_multi_timeout(h->multi, &t);
    if (curl_multi_fdset(h->multi, &rd, &wr, &ex, &maxfd) == CURLM_OK) {
        for (int fd = 0; fd <= maxfd && n < max; fd++) {
            short ev =
                (short)((FD_ISSET(fd, &rd) ? POLLIN : 0) | (FD_ISSET(fd, &wr) ? POLLOUT : 0));
            if (ev != 0) {
                fds[n].fd = fd;
                fds[n].events = ev;
                n++;
            }
        }
    }
    /* no descriptor to wait on (resolving, or one above FD_SETSIZE): look again soon */
    if (n == 0 && (t < 0 || t > 10)) {
        t = 10;
    }
    *timeout_ms = t < 0 ? 1000 : (int)t;
    return n;
}

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct hec_xfer *x = userdata;
    size_t n = size * nmemb;
    if (x->resp.len + n > (1u << 20)) {
        return 0; /* a HEC reply is small: refuse a flood */
    }
    return dfw_buf_append(&x->resp, ptr, n) == DFW_OK ? n : 0;
}

static size_t on_header(char *ptr, size_t size, size_t nitems, void *userdata)
{
    struct hec_xfer *x = userdata;
    size_t n = size * nitems;
    int64_t ms = dfw_http_retry_after_ms(ptr, n);
    if (ms >= 0) {
        x->retry_after_ms = ms;
    }
    return n;
}

static int on_progress(void *clientp, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    const struct hec_http *h = clientp;
    return h->aborting; /* non-zero aborts the transfer: shutdown never waits on the network */
}

dfw_err hec_http_post(
    struct hec_http *h, int ack_endpoint, const char *body, size_t len, int gzip, void *ctx)
{
    struct hec_xfer *x = calloc(1, sizeof(*x));
    if (x == NULL) {
        return DFW_ERR_NOMEM;
    }
    x->ctx = ctx;
    x->retry_after_ms = -1;
    x->easy = curl_easy_init();
    if (ack_endpoint) {
        x->copy = malloc(len + 1);
        if (x->copy != NULL) {
            memcpy(x->copy, body, len);
            x->copy[len] = '\0';
        }
        body = x->copy;
    }
    if (x->easy == NULL || body == NULL) {
        xfer_free(x);
        return DFW_ERR_NOMEM;
    }
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, ack_endpoint ? h->ack_url : h->event_url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https,http");
    /* HEC speaks HTTP/1.1; keep-alive connections are reused by the multi handle */
    curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    curl_easy_setopt(e, CURLOPT_POST, 1L);
    curl_easy_setopt(e, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, gzip && !ack_endpoint ? h->hdr_gzip : h->hdr_plain);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "defender-forwarder/" DFW_VERSION);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, h->timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, h->connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (h->trust != NULL && curl_easy_setopt(e, CURLOPT_SSL_CTX_FUNCTION, use_trust) == CURLE_OK) {
        curl_easy_setopt(e, CURLOPT_SSL_CTX_DATA, h->trust);
        curl_easy_setopt(e, CURLOPT_CAINFO, NULL); /* loaded already */
        curl_easy_setopt(e, CURLOPT_CAPATH, NULL);
    }
    else if (h->ca_file != NULL) {
        curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file); /* a TLS library other than OpenSSL */
    }
    if (h->share != NULL) {
        curl_easy_setopt(e, CURLOPT_SHARE, h->share);
    }
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, h);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
        xfer_free(x);
        return DFW_ERR_NOMEM;
    }
    x->next = h->active;
    if (h->active != NULL) {
        h->active->prev = x;
    }
    h->active = x;
    h->running++;
    return DFW_OK;
}

static void finish(struct hec_http *h, CURL *e, CURLcode code, hec_http_done_fn done, void *user)
{
    char *priv = NULL;
    curl_easy_getinfo(e, CURLINFO_PRIVATE, &priv);
    struct hec_xfer *x = (struct hec_xfer *)(void *)priv;
    curl_multi_remove_handle(h->multi, e);
    if (x->prev != NULL) {
        x->prev->next = x->next;
    }
    else {
        h->active = x->next;
    }
    if (x->next != NULL) {
        x->next->prev = x->prev;
    }
    h->running--;
    struct hec_http_result res = {0, "", 0, x->retry_after_ms, ""};
    if (code == CURLE_OK) {
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &res.status);
        res.body = x->resp.data ? x->resp.data : "";
        res.len = x->resp.len;
    }
    else {
        res.error = x->errbuf[0] ? x->errbuf : curl_easy_strerror(code);
    }
    done(user, x->ctx, &res);
    xfer_free(x);
}

void hec_http_run(struct hec_http *h, int timeout_ms, hec_http_done_fn done, void *user)
{
    int still = 0;
    curl_multi_perform(h->multi, &still);
    if (timeout_ms > 0 && h->running > 0) {
        curl_multi_poll(h->multi, NULL, 0, timeout_ms, NULL);
        curl_multi_perform(h->multi, &still);
    }
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(h->multi, &left)) != NULL) {
        if (m->msg == CURLMSG_DONE) {
            finish(h, m->easy_handle, m->data.result, done, user);
        }
    }
}

int hec_http_running(const struct hec_http *h)
{
    return h->running;
}
