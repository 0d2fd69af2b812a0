#include "dfw/http.h"
#include "dfw/buf.h"
#include "dfw/output.h"

#include <ctype.h>
#include <curl/curl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define UPLOAD_BUFFER 16384L /* CURLOPT_UPLOAD_BUFFERSIZE's minimum */
#define IDLE_HANDLES  64     /* easy handles kept for the next transfers */

/* A request: queued (easy == NULL, on the FIFO) until a place among the active transfers is free,
 * then a libcurl transfer (on the active list). */
struct xfer {
    CURL *easy;
    char *url;
    struct curl_slist *headers;
    char *post_body;
    struct dfw_buf body;
    int sized; /* the body's room was reserved from the answer's Content-Length */
    int64_t retry_after_ms;
    dfw_http_done_fn done;
    void *ctx;
    char errbuf[CURL_ERROR_SIZE];
    struct xfer *next;
    struct xfer *prev;
};

struct dfw_http {
    CURLM *multi;
    struct dfw_http_opts opts;
    char *ca_file;
    char *user_agent;
    struct xfer *active;
    struct xfer *queue_head, *queue_tail; /* not yet handed to libcurl, oldest first */
    int nactive, max_active;
    int pending; /* active + queued */
    /* Easy handles of finished transfers, reset (curl_easy_reset keeps a handle's download
     * buffer and caches): a poll then allocates no handle of its own. */
    CURL *idle[IDLE_HANDLES];
    int nidle;
};

dfw_err dfw_http_global_init(void)
{
    return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? DFW_OK : DFW_ERR_IO;
}

struct dfw_http *dfw_http_new(const struct dfw_http_opts *opts, char *errbuf, size_t errlen)
{
    struct dfw_http *h = calloc(1, sizeof(*h));
    if (h == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    h->opts = *opts;
    h->multi = curl_multi_init();
    h->ca_file = opts->ca_file ? strdup(opts->ca_file) : NULL;
    h->user_agent = strdup(opts->user_agent ? opts->user_agent : "defender-forwarder");
    if (h->multi == NULL || h->user_agent == NULL || (opts->ca_file && h->ca_file == NULL)) {
        snprintf(errbuf, errlen, "cannot initialise libcurl");
        dfw_http_free(h);
        return NULL;
    }
    int conns = opts->max_connections > 0 ? opts->max_connections : 64;
    h->max_active =
        opts->max_active > 0 ? opts->max_active : DFW_HTTP_ACTIVE_PER_CONNECTION * conns;
    curl_multi_setopt(h->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)conns);
    curl_multi_setopt(h->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    return h;
}

static void xfer_free(struct xfer *x)
{
    if (x == NULL) {
        return;
    }
    if (x->easy != NULL) {
        curl_easy_cleanup(x->easy);
    }
    curl_slist_free_all(x->headers);
    if (x->post_body != NULL) {
        /* may hold a client secret */
        memset(x->post_body, 0, strlen(x->post_body));
        free(x->post_body);
    }
    dfw_buf_free(&x->body);
    free(x->url);
    free(x);
}

void dfw_http_free(struct dfw_http *h)
{
    if (h == NULL) {
        return;
    }
    struct xfer *x = h->active;
    while (x != NULL) {
        struct xfer *next = x->next;
        curl_multi_remove_handle(h->multi, x->easy);
        xfer_free(x);
        x = next;
    }
    for (x = h->queue_head; x != NULL;) {
        struct xfer *next = x->next;
        xfer_free(x);
        x = next;
    }
    while (h->nidle > 0) {
        curl_easy_cleanup(h->idle[--h->nidle]);
    }
    if (h->multi != NULL) {
        curl_multi_cleanup(h->multi);
    }
    free(h->ca_file);
    free(h->user_agent);
    free(h);
}

/* Bytes of a body's buffer beyond its answer kept when the answer is complete. */
#define FIT_SLACK (256 * 1024)

/* The largest Content-Length reserved ahead; a larger body grows as it arrives. */
#define SIZE_HINT_MAX ((curl_off_t)256 << 20)

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct xfer *x = userdata;
    size_t n = size * nmemb;
    curl_off_t length = -1;
    if (!x->sized) {
        /* room for the whole body at once, to the byte: no copy while it grows, and no huge page
         * beyond its end (dfw/buf.h). A compressed body's length is only a lower bound. */
        x->sized = 1;
        if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &length) == CURLE_OK &&
            length > 0 && length <= SIZE_HINT_MAX &&
            dfw_buf_reserve_exact(&x->body, (size_t)length) != DFW_OK) {
            return 0;
        }
    }
    return dfw_buf_append(&x->body, ptr, n) == DFW_OK ? n : 0;
}

int64_t dfw_http_delay_seconds_ms(const char *text, const char **end)
{
    const char *p = text;
    if (!isdigit((unsigned char)*p)) {
        return -1;
    }
    int64_t secs = 0;
    for (; isdigit((unsigned char)*p); p++) {
        /* saturate instead of overflowing: any long wait becomes the cap */
        if (secs < DFW_HTTP_RETRY_AFTER_MAX_MS / 1000) {
            secs = secs * 10 + (*p - '0');
        }
    }
    if (end != NULL) {
        *end = p;
    }
    return secs * 1000 < DFW_HTTP_RETRY_AFTER_MAX_MS ? secs * 1000 : DFW_HTTP_RETRY_AFTER_MAX_MS;
}

int64_t dfw_http_retry_after_ms(const char *line, size_t n)
{
    static const char name[] = "retry-after:";
    if (n <= sizeof(name) || n >= 128 || strncasecmp(line, name, sizeof(name) - 1) != 0) {
        return -1;
    }
    char val[128];
    memcpy(val, line + sizeof(name) - 1, n - (sizeof(name) - 1));
    val[n - (sizeof(name) - 1)] = '\0';
    if (memchr(val, '\0', n - (sizeof(name) - 1)) != NULL) {
        return -1; /* a NUL inside the header line */
    }
    const char *p = val, *end;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    int64_t ms = dfw_http_delay_seconds_ms(p, &end);
    if (ms >= 0) {
        while (*end == ' ' || *end == '\t') {
            end++;
        }
        return *end == '\r' || *end == '\n' || *end == '\0' ? ms : -1;
    }
    time_t when = curl_getdate(p, NULL);
    if (when <= 0) {
        return -1;
    }
    /* both times are seconds since 1970: compare before multiplying so nothing overflows */
    time_t now = time(NULL);
    if (when <= now) {
        return 0;
    }
    if ((int64_t)when - (int64_t)now >= DFW_HTTP_RETRY_AFTER_MAX_MS / 1000) {
        return DFW_HTTP_RETRY_AFTER_MAX_MS;
    }
    return ((int64_t)when - (int64_t)now) * 1000;
}

static size_t on_header(char *ptr, size_t size, size_t nitems, void *userdata)
{
    struct xfer *x = userdata;
    size_t n = size * nitems;
    int64_t ms = dfw_http_retry_after_ms(ptr, n);
    if (ms >= 0) {
        x->retry_after_ms = ms;
    }
    return n;
}

/* Hand x to libcurl (x is off the queue): an easy handle with our options, on the active list. */
static dfw_err start(struct dfw_http *h, struct xfer *x)
{
    x->easy = h->nidle > 0 ? h->idle[--h->nidle] : curl_easy_init();
    if (x->easy == NULL) {
        return DFW_ERR_NOMEM;
    }
    CURL *e = x->easy;
    curl_easy_setopt(e, CURLOPT_URL, x->url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, x);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, x->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, x);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ACCEPT_ENCODING, "");
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "https");
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)h->opts.timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)h->opts.connect_timeout_ms);
    curl_easy_setopt(e, CURLOPT_USERAGENT, h->user_agent);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    if (h->ca_file != NULL) {
        curl_easy_setopt(e, CURLOPT_CAINFO, h->ca_file);
    }
    if (x->post_body != NULL) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, x->post_body);
        /* libcurl's smallest upload buffer (its default is 64 KiB per transfer): our forms
         * are a few KiB */
        curl_easy_setopt(e, CURLOPT_UPLOAD_BUFFERSIZE, UPLOAD_BUFFER);
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, x->headers);
    if (curl_multi_add_handle(h->multi, e) != CURLM_OK) {
        curl_easy_cleanup(e);
        x->easy = NULL;
        return DFW_ERR_NOMEM;
    }
    x->prev = NULL;
    x->next = h->active;
    if (h->active != NULL) {
        h->active->prev = x;
    }
    h->active = x;
    h->nactive++;
    return DFW_OK;
}

static struct xfer *dequeue(struct dfw_http *h)
{
    struct xfer *x = h->queue_head;
    h->queue_head = x->next;
    if (h->queue_head == NULL) {
        h->queue_tail = NULL;
    }
    x->next = NULL;
    return x;
}

/* A queued request that could not be handed to libcurl: its callback hears a transport error. */
static void fail_queued(struct dfw_http *h, struct xfer *x)
{
    struct dfw_http_response r;
    memset(&r, 0, sizeof(r));
    r.body = "";
    r.retry_after_ms = -1;
    r.error = "out of memory";
    r.transport = DFW_ERR_RETRY;
    h->pending--;
    x->done(x->ctx, &r);
    xfer_free(x);
}

/* Start queued requests, oldest first, while fewer than max_active run (from dfw_http_run). */
static void start_queued(struct dfw_http *h)
{
    while (h->queue_head != NULL && h->nactive < h->max_active) {
        struct xfer *x = dequeue(h);
        if (start(h, x) != DFW_OK) {
            fail_queued(h, x);
        }
    }
}

static dfw_err add(struct dfw_http *h,
                   const char *url,
                   const char *bearer,
                   const char *header,
                   const char *form,
                   struct dfw_buf *into,
                   dfw_http_done_fn done,
                   void *ctx)
{
    struct xfer *x = calloc(1, sizeof(*x));
    if (x == NULL) {
        if (into != NULL) {
            dfw_buf_free(into);
        }
        return DFW_ERR_NOMEM;
    }
    if (into != NULL) {
        x->body = *into;
        *into = (struct dfw_buf)DFW_BUF_INIT;
        dfw_buf_reset(&x->body);
    }
    x->body.large = 1; /* pages of many MiB */
    x->retry_after_ms = -1;
    x->done = done;
    x->ctx = ctx;
    x->url = strdup(url);
    x->headers = curl_slist_append(NULL, "Accept: application/json");
    if (x->url == NULL || x->headers == NULL) {
        xfer_free(x);
        return DFW_ERR_NOMEM;
    }
    if (bearer != NULL) {
        struct dfw_buf hdr = DFW_BUF_INIT;
        if (dfw_buf_printf(&hdr, "Authorization: Bearer %s", bearer) != DFW_OK) {
            xfer_free(x);
            return DFW_ERR_NOMEM;
        }
        struct curl_slist *l = curl_slist_append(x->headers, hdr.data);
        memset(hdr.data, 0, hdr.len);
        dfw_buf_free(&hdr);
        if (l == NULL) {
            xfer_free(x);
            return DFW_ERR_NOMEM;
        }
        x->headers = l;
    }
    if (header != NULL) {
        struct curl_slist *l = curl_slist_append(x->headers, header);
        if (l == NULL) {
            xfer_free(x);
            return DFW_ERR_NOMEM;
        }
        x->headers = l;
    }
    if (form != NULL) {
        x->post_body = strdup(form);
        struct curl_slist *l =
            curl_slist_append(x->headers, "Content-Type: application/x-www-form-urlencoded");
        if (x->post_body == NULL || l == NULL) {
            xfer_free(x);
            return DFW_ERR_NOMEM;
        }
        x->headers = l;
    }
    if (h->queue_head == NULL && h->nactive < h->max_active) {
        dfw_err rc = start(h, x);
        if (rc != DFW_OK) {
            xfer_free(x);
            return rc;
        }
    }
    else if (h->queue_tail != NULL) {
        h->queue_tail->next = x;
        h->queue_tail = x;
    }
    else {
        h->queue_head = h->queue_tail = x;
    }
    h->pending++;
    return DFW_OK;
}

dfw_err dfw_http_get(struct dfw_http *h,
                     const char *url,
                     const char *bearer,
                     const char *header,
                     struct dfw_buf *into,
                     dfw_http_done_fn done,
                     void *ctx)
{
    return add(h, url, bearer, header, NULL, into, done, ctx);
}

dfw_err dfw_http_post_form(
    struct dfw_http *h, const char *url, const char *body, dfw_http_done_fn done, void *ctx)
{
    return add(h, url, NULL, NULL, body, NULL, done, ctx);
}

static void finish(struct dfw_http *h, struct xfer *x, CURLcode rc)
{
    struct dfw_http_response r;
    memset(&r, 0, sizeof(r));
    curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &r.status);
    if (dfw_buf_append(&x->body, "", 0) != DFW_OK) {
        rc = CURLE_OUT_OF_MEMORY;
    }
    dfw_buf_fit(&x->body, FIT_SLACK); /* a recycled buffer larger than this answer (into) */
    r.body = x->body.data;
    r.len = x->body.len;
    r.owner = &x->body;
    r.retry_after_ms = x->retry_after_ms;
    if (rc == CURLE_OK) {
        r.transport = DFW_OK;
        r.error = "";
    }
    else {
        r.status = 0;
        r.error = x->errbuf[0] ? x->errbuf : curl_easy_strerror(rc);
        switch (rc) {
        case CURLE_URL_MALFORMAT:
        case CURLE_UNSUPPORTED_PROTOCOL:
        case CURLE_PEER_FAILED_VERIFICATION:
        case CURLE_SSL_CACERT_BADFILE:
            r.transport = DFW_ERR_INVALID;
            break;
        default:
            r.transport = DFW_ERR_RETRY;
        }
    }
    if (x->prev != NULL) {
        x->prev->next = x->next;
    }
    else {
        h->active = x->next;
    }
    if (x->next != NULL) {
        x->next->prev = x->prev;
    }
    h->pending--;
    h->nactive--;
    curl_multi_remove_handle(h->multi, x->easy);
    /* the handle is free before the callback, which may start the next request */
    if (h->nidle < IDLE_HANDLES) {
        curl_easy_reset(x->easy);
        h->idle[h->nidle++] = x->easy;
        x->easy = NULL;
    }
    x->done(x->ctx, &r);
    xfer_free(x);
}

int dfw_http_run(struct dfw_http *h, int timeout_ms)
{
    return dfw_http_run_fds(h, NULL, 0, timeout_ms);
}

#define MAX_EXTRA_FDS 64

/* Finish every completed transfer (its callback runs); the number finished. */
static int finish_done(struct dfw_http *h)
{
    int done = 0, left;
    CURLMsg *msg;
    while ((msg = curl_multi_info_read(h->multi, &left)) != NULL) {
        if (msg->msg != CURLMSG_DONE) {
            continue;
        }
        struct xfer *x = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)(void *)&x);
        finish(h, x, msg->data.result);
        done++;
    }
    return done;
}

int dfw_http_run_fds(struct dfw_http *h, const struct dfw_wait_fd *fds, int nfds, int timeout_ms)
{
    int running = 0;
    struct curl_waitfd extra[MAX_EXTRA_FDS];
    int n = nfds < MAX_EXTRA_FDS ? nfds : MAX_EXTRA_FDS;
    for (int i = 0; i < n; i++) {
        extra[i].fd = fds[i].fd;
        extra[i].events = (short)((fds[i].events & POLLIN ? CURL_WAIT_POLLIN : 0) |
                                  (fds[i].events & POLLOUT ? CURL_WAIT_POLLOUT : 0));
        extra[i].revents = 0;
    }
    if (h->pending > 0) {
        curl_multi_perform(h->multi, &running);
        if (finish_done(h) > 0) {
            /* a transfer completed: its callback runs now, not after the wait (it has no socket
             * left to wake the poll, so waiting would stall it for the whole timeout) */
            start_queued(h);
            return h->pending;
        }
    }
    curl_multi_poll(h->multi, n ? extra : NULL, (unsigned)n, timeout_ms, NULL);
    curl_multi_perform(h->multi, &running);
    finish_done(h);
    start_queued(h);
    return h->pending;
}

int dfw_http_pending(const struct dfw_http *h)
{
    return h->pending;
}

int dfw_http_active(const struct dfw_http *h)
{
    return h->nactive;
}

void dfw_http_wakeup(struct dfw_http *h)
{
    curl_multi_wakeup(h->multi);
}

int64_t dfw_backoff_ms(int attempt, int64_t min_ms, int64_t max_ms)
{
    int64_t base = min_ms;
    for (int i = 0; i < attempt && base < max_ms; i++) {
        base *= 2;
    }
    if (base > max_ms) {
        base = max_ms;
    }
    int64_t half = base / 2;
    /* jitter spreads retries of many tenants; not security relevant */
    return half + (half > 0 ? (int64_t)(rand() % (half + 1)) : 0);
}
