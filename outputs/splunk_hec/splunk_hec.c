/* The Splunk HEC output: events as concatenated JSON objects to /services/collector/event, with
 * indexer acknowledgement. Options: splunk_hec_conf.c; event objects and gzip:
 * splunk_hec_format.c; batches <-> requests: splunk_hec_queue.c; replies and codes:
 * splunk_hec_proto.c; HTTP: splunk_hec_http.c; the user's view: docs/splunk-hec.md. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dfw/http.h"
#include "dfw/log.h"
#include "dfw/output.h"
#include "dfw/secret.h"
#include "dfw/timeutil.h"
#include "splunk_hec_conf.h"
#include "splunk_hec_format.h"
#include "splunk_hec_http.h"
#include "splunk_hec_proto.h"
#include "splunk_hec_queue.h"

/* A batch taken but not yet placed in requests whole: its events are rendered only as requests are
 * filled (fill), so that the output holds the bytes of the requests it may send or must keep for
 * a re-send (max_pending), not whole pages. The pipeline keeps the events until the batch is
 * acknowledged or cancelled, or until the source is placed whole and taken says so (dfw/event.h):
 * then it may free the page while the last requests are out. */
struct hec_src {
    struct hec_batch *b;
    const struct dfw_event *events;
    size_t n, next; /* events, and the first not placed yet */
    struct hec_src *next_src;
    dfw_taken_fn taken; /* told once every event is placed (NULL: not told) */
};

struct hec_out {
    const struct dfw_out_splunk_hec_conf *conf; /* borrowed for the instance's lifetime */
    struct hec_src *srcs, **srcs_tail;          /* oldest first */
    struct dfw_out_splunk_hec_fmt fmt;
    char *name;
    char channel[40];
    struct hec_http *http;
    struct hec_queue q;
    struct dfw_buf ev;   /* one rendered event */
    int in_flight;       /* event POSTs running */
    int ack_in_flight;   /* an ack query is running */
    int64_t next_ack_ms; /* monotonic: next ack query */
    int warned_no_ack;
    uint64_t *ids; /* ack query scratch */
    int *acked;
    size_t ids_cap;
};

/* The ctx of an ack query transfer (event POSTs carry their struct hec_req). */
static char ack_query_ctx;

static void hec_destroy(void *self)
{
    struct hec_out *o = self;
    if (o == NULL) {
        return;
    }
    hec_http_free(o->http); /* first: running transfers point into request bodies */
    while (o->srcs != NULL) {
        struct hec_src *s = o->srcs;
        o->srcs = s->next_src;
        free(s);
    }
    hec_queue_clear(&o->q);
    dfw_buf_free(&o->ev);
    dfw_out_splunk_hec_fmt_free(&o->fmt);
    free(o->ids);
    free(o->acked);
    free(o->name);
    free(o);
}

static void *hec_init(const void *conf, const char *instance, char *errbuf, size_t errlen)
{
    const struct dfw_out_splunk_hec_conf *c = conf;
    char why[512];
    struct hec_out *o = calloc(1, sizeof(*o));
    if (o == NULL || (o->name = strdup(instance)) == NULL) {
        snprintf(errbuf, errlen, "output %s: out of memory", instance);
        hec_destroy(o);
        return NULL;
    }
    o->conf = c;
    o->srcs_tail = &o->srcs;
    hec_queue_init(&o->q, (size_t)c->batch_max_events, (size_t)c->batch_max_bytes);
    if (dfw_out_splunk_hec_conf_check(c, why, sizeof(why)) != DFW_OK) {
        snprintf(errbuf, errlen, "output %s: %s", instance, why);
        hec_destroy(o);
        return NULL;
    }
    dfw_out_splunk_hec_fmt_init(&o->fmt, c);
    if (dfw_out_splunk_hec_channel(o->channel, sizeof(o->channel)) != DFW_OK) {
        snprintf(errbuf, errlen, "output %s: no random numbers for the channel id", instance);
        hec_destroy(o);
        return NULL;
    }
    struct dfw_secret_ref ref = {c->token_file, c->token_credential, c->token_env};
    char *token = NULL;
    if (dfw_secret_read(&ref, &token, NULL, why, sizeof(why)) != DFW_OK) {
        snprintf(errbuf, errlen, "output %s: HEC token: %s", instance, why);
        hec_destroy(o);
        return NULL;
    }
    struct hec_http_opts ho = {
        .base_url = c->url,
        .token = token,
        .channel = o->channel,
        .ca_file = c->ca_file,
        .timeout_ms = (long)c->timeout_ms,
        .connect_timeout_ms = (long)c->connect_timeout_ms,
        .max_connections = (long)c->max_in_flight + 1,
    };
    o->http = hec_http_new(&ho, why, sizeof(why));
    dfw_secret_free(token); /* the client keeps its own copy in the header */
    if (o->http == NULL) {
        snprintf(errbuf, errlen, "output %s: %s", instance, why);
        hec_destroy(o);
        return NULL;
    }
    dfw_log(DFW_LOG_INFO, "output", "output=%s msg=\"HEC ready\" url=%s channel=%s gzip=%d ack=%d",
            o->name, DFW_LOG_VAL(c->url), o->channel, c->gzip, c->ack);
    return o;
}

static dfw_err hec_format(const void *conf, const struct dfw_event *ev, struct dfw_buf *out)
{
    struct dfw_out_splunk_hec_fmt f;
    dfw_out_splunk_hec_fmt_init(&f, conf);
    dfw_err err = dfw_out_splunk_hec_format(&f, ev, out);
    dfw_out_splunk_hec_fmt_free(&f);
    return err;
}

/* Bytes a compressed request may keep beyond its body. */
#define GZIP_FIT_SLACK (64 * 1024)

/* A closed request's body in its gzip'd form (gzip = on), kept uncompressed when that fails. The
 * raw allocation, every byte of it resident, goes to the next request to open; what this one
 * keeps until acknowledged is its compressed bytes (a tenth). */
static void compress_req(struct hec_out *o, struct hec_req *r)
{
    if (!o->conf->gzip || r->gzipped || r->events == 0) {
        return;
    }
    struct dfw_buf gz = {0};
    if (dfw_out_splunk_hec_gzip(r->body.data, r->body.len, (int)o->conf->gzip_level, &gz) !=
        DFW_OK) {
        dfw_buf_free(&gz);
        return;
    }
    dfw_buf_fit(&gz, GZIP_FIT_SLACK);
    hec_queue_recycle(&o->q, &r->body);
    r->body = gz;
    r->gzipped = 1;
}

/* Compress the requests closed since the last call, so that at most one request (the open one)
 * holds uncompressed events: a page's raw bytes are not held twice. */
static void compress_closed(struct hec_out *o)
{
    for (struct hec_req *r = o->q.head; o->conf->gzip && r != NULL; r = r->next) {
        if (r->state == HEC_REQ_READY) {
            compress_req(o, r);
        }
    }
}

/* Put the request on the wire (gzip'd by now, or here when it was closed elsewhere). */
static void send_req(struct hec_out *o, struct hec_req *r, int64_t now)
{
    if (r->events == 0) {
        hec_queue_finish(&o->q, r, DFW_OK); /* an allocation failed before its first event */
        return;
    }
    compress_req(o, r);
    if (hec_http_post(o->http, 0, r->body.data, r->body.len, r->gzipped, r) != DFW_OK) {
        r->state = HEC_REQ_BACKOFF;
        r->due_ms = now + o->conf->retry_min_ms;
        return;
    }
    r->state = HEC_REQ_SENDING;
    o->in_flight++;
}

/* The source at *pp is placed whole, or given up: its batch is complete once its requests are. */
static void src_remove(struct hec_out *o, struct hec_src **pp, int placed)
{
    struct hec_src *s = *pp;
    *pp = s->next_src;
    if (o->srcs_tail == &s->next_src) {
        o->srcs_tail = pp;
    }
    if (placed) {
        if (s->taken != NULL) {
            s->taken(s->b->ack_ctx, s->b->seq); /* the requests hold every event: page not read */
        }
        hec_queue_seal(&o->q, s->b);
    }
    else {
        hec_queue_abandon(&o->q, s->b);
    }
    free(s);
}

/* Render one event into the open request (one line per HEC event: an incident and its alerts). */
static dfw_err
place(struct hec_out *o, struct hec_batch *b, const struct dfw_event *ev, int64_t now)
{
    dfw_buf_reset(&o->ev);
    dfw_err err = dfw_out_splunk_hec_format(&o->fmt, ev, &o->ev);
    for (size_t at = 0; err == DFW_OK && at < o->ev.len;) {
        const char *line = o->ev.data + at;
        const char *nl = memchr(line, '\n', o->ev.len - at);
        size_t n = nl ? (size_t)(nl - line) : o->ev.len - at;
        err = hec_queue_add(&o->q, b, line, n, now);
        at += n + 1;
    }
    if (err != DFW_OK) {
        /* events already placed go out anyway: the re-sent batch may repeat them */
        dfw_log(DFW_LOG_ERROR, "output", "output=%s msg=\"cannot format event\" id=%s error=\"%s\"",
                o->name, DFW_LOG_VAL(ev->id), dfw_strerror(err));
    }
    return err;
}

/* Room for one more request: below max_pending, and no more requests waiting to be sent than
 * free connections (plus one, rendered while the others are on the wire). */
static int room(const struct hec_out *o)
{
    size_t ready = 0;
    for (const struct hec_req *r = o->q.head; r != NULL; r = r->next) {
        ready += r->state == HEC_REQ_READY;
    }
    int free_conns = o->conf->max_in_flight - o->in_flight;
    return hec_queue_pending(&o->q) < (size_t)o->conf->max_pending &&
           ready < (size_t)(free_conns > 0 ? free_conns : 0) + 1;
}

/* Fill requests from the sources, oldest first, while there is room. */
static void fill(struct hec_out *o, int64_t now)
{
    while (o->srcs != NULL && room(o)) {
        struct hec_src *s = o->srcs;
        if (s->b->done) {
            src_remove(o, &o->srcs, 0); /* a request of it failed: the pipeline sends it again */
            continue;
        }
        const struct hec_req *open = o->q.open;
        while (s->next < s->n && (o->q.open == open || open == NULL)) {
            open = o->q.open;
            dfw_err err = place(o, s->b, &s->events[s->next++], now);
            if (err != DFW_OK) {
                hec_queue_fail(&o->q, s->b, err);
                break;
            }
        }
        compress_closed(o);
        if (s->b->done || s->next == s->n) {
            src_remove(o, &o->srcs, !s->b->done);
        }
    }
    if (o->srcs == NULL && o->conf->batch_timeout_ms == 0) {
        hec_queue_close_open(&o->q);
    }
}

/* Send what may be sent: due retries and closed requests, oldest first, up to max_in_flight. */
static void start_ready(struct hec_out *o, int64_t now)
{
    struct hec_req *r = o->q.head;
    while (r != NULL && o->in_flight < o->conf->max_in_flight) {
        struct hec_req *next = r->next; /* send_req may free r */
        if (r->state == HEC_REQ_READY || (r->state == HEC_REQ_BACKOFF && now >= r->due_ms)) {
            send_req(o, r, now);
        }
        r = next;
    }
}

/* A send failed in a retryable way: back off, or give up on its batches after max_retries. */
static void retry_later(struct hec_out *o,
                        struct hec_req *r,
                        dfw_err why,
                        int64_t delay_ms,
                        int64_t now,
                        const char *what)
{
    r->attempts++;
    if (r->attempts > o->conf->max_retries) {
        dfw_log(DFW_LOG_ERROR, "output",
                "output=%s msg=\"giving up on request after %d attempts; its batches are not "
                "acknowledged and will be sent again\" request=%u events=%zu last=\"%s\"",
                o->name, r->attempts, r->id, r->events, DFW_LOG_ESC(what));
        hec_queue_finish(&o->q, r, why);
        return;
    }
    if (delay_ms < 0) {
        delay_ms = dfw_backoff_ms(r->attempts, o->conf->retry_min_ms, o->conf->retry_max_ms);
    }
    if (delay_ms > o->conf->retry_max_ms) {
        delay_ms = o->conf->retry_max_ms;
    }
    dfw_log(r->attempts == 1 ? DFW_LOG_WARN : DFW_LOG_INFO, "output",
            "output=%s msg=\"%s; retrying\" request=%u attempt=%d delay_ms=%lld", o->name,
            DFW_LOG_ESC(what), r->id, r->attempts, (long long)delay_ms);
    r->state = HEC_REQ_BACKOFF;
    r->due_ms = now + delay_ms;
}

static void event_done(struct hec_out *o, struct hec_req *r, const struct hec_http_result *res)
{
    int64_t now = dfw_mono_ms();
    o->in_flight--;
    struct dfw_out_splunk_hec_reply rep;
    dfw_out_splunk_hec_parse_reply(res->body, res->len, &rep);
    const char *advice;
    dfw_err c = dfw_out_splunk_hec_classify(res->status, &rep, &advice);
    char what[512];
    if (res->status == 0) {
        snprintf(what, sizeof(what), "HEC request failed: %s", res->error);
    }
    else {
        snprintf(what, sizeof(what), "HEC answered HTTP %ld code %d (%s) text=%s: %s", res->status,
                 rep.code, dfw_out_splunk_hec_code_text(rep.code), rep.text[0] ? rep.text : "-",
                 advice);
    }
    if (c == DFW_OK) {
        if (o->conf->ack && rep.has_ack_id) {
            r->state = HEC_REQ_WAIT_ACK;
            r->ack_id = rep.ack_id;
            r->due_ms = now + o->conf->ack_timeout_ms;
            if (o->next_ack_ms < now) {
                o->next_ack_ms = now + o->conf->ack_poll_interval_ms;
            }
            return;
        }
        if (o->conf->ack && !o->warned_no_ack) {
            o->warned_no_ack = 1;
            dfw_log(DFW_LOG_WARN, "output",
                    "output=%s msg=\"HEC sent no ackId: indexer acknowledgement is off for this "
                    "token; HTTP 200 counts as delivered\"",
                    o->name);
        }
        hec_queue_finish(&o->q, r, DFW_OK);
        return;
    }
    if (c == DFW_ERR_RETRY || c == DFW_ERR_THROTTLED) {
        retry_later(o, r, c, res->retry_after_ms, now, what);
        return;
    }
    /* permanent: the operator must act; the batches stay unacknowledged (checkpoint held) */
    dfw_log(DFW_LOG_ERROR, "output",
            "output=%s msg=\"%s; batch not acknowledged, checkpoint held\" url=%s request=%u "
            "events=%zu",
            o->name, DFW_LOG_ESC(what), DFW_LOG_VAL(o->conf->url), r->id, r->events);
    hec_queue_finish(&o->q, r, c);
}

/* Requests whose ackId was queried and which are still waiting; fills o->ids. */
static size_t collect_waiting(struct hec_out *o)
{
    size_t n = 0;
    for (struct hec_req *r = o->q.head; r != NULL; r = r->next) {
        n += r->state == HEC_REQ_WAIT_ACK;
    }
    if (n > o->ids_cap) {
        uint64_t *ids = realloc(o->ids, n * sizeof(*ids));
        if (ids != NULL) {
            o->ids = ids;
        }
        int *acked = realloc(o->acked, n * sizeof(*acked));
        if (acked != NULL) {
            o->acked = acked;
        }
        if (ids == NULL || acked == NULL) {
            return 0;
        }
        o->ids_cap = n;
    }
    size_t i = 0;
    for (struct hec_req *r = o->q.head; r != NULL; r = r->next) {
        if (r->state == HEC_REQ_WAIT_ACK) {
            o->ids[i] = r->ack_id;
            o->acked[i++] = 0;
        }
    }
    return n;
}

/* The indexer no longer knows our ackIds (restart, channel dropped): send them again. */
static void acks_lost(struct hec_out *o, int64_t now, const char *why)
{
    struct hec_req *r = o->q.head;
    while (r != NULL) {
        struct hec_req *next = r->next;
        if (r->state == HEC_REQ_WAIT_ACK) {
            retry_later(o, r, DFW_ERR_RETRY, 0, now, why);
        }
        r = next;
    }
}

static void ack_done(struct hec_out *o, const struct hec_http_result *res)
{
    int64_t now = dfw_mono_ms();
    o->ack_in_flight = 0;
    o->next_ack_ms = now + o->conf->ack_poll_interval_ms;
    size_t n = collect_waiting(o);
    if (res->status == 200 &&
        dfw_out_splunk_hec_parse_acks(res->body, res->len, o->ids, o->acked, n) == DFW_OK) {
        size_t i = 0;
        struct hec_req *r = o->q.head;
        while (r != NULL) {
            struct hec_req *next = r->next;
            if (r->state == HEC_REQ_WAIT_ACK && i < n && o->acked[i++]) {
                hec_queue_finish(&o->q, r, DFW_OK);
            }
            r = next;
        }
        return;
    }
    struct dfw_out_splunk_hec_reply rep;
    dfw_out_splunk_hec_parse_reply(res->body, res->len, &rep);
    if (res->status == 400 && (rep.code == 11 || rep.code == 14)) {
        char why[256];
        snprintf(why, sizeof(why), "ack query refused: code %d (%s)", rep.code,
                 dfw_out_splunk_hec_code_text(rep.code));
        acks_lost(o, now, why);
        return;
    }
    dfw_log(DFW_LOG_WARN, "output",
            "output=%s msg=\"ack query failed; asking again\" status=%ld code=%d error=\"%s\"",
            o->name, res->status, rep.code, DFW_LOG_ESC(res->status ? rep.text : res->error));
}

static void on_done(void *user, void *ctx, const struct hec_http_result *res)
{
    struct hec_out *o = user;
    if (ctx == &ack_query_ctx) {
        ack_done(o, res);
    }
    else {
        event_done(o, ctx, res);
    }
}

/* Query the acks that are due; requests past ack_timeout are lost acks: send them again. */
static void poll_acks(struct hec_out *o, int64_t now)
{
    struct hec_req *r = o->q.head;
    while (r != NULL) {
        struct hec_req *next = r->next;
        if (r->state == HEC_REQ_WAIT_ACK && now >= r->due_ms) {
            char why[128];
            snprintf(why, sizeof(why), "no indexer acknowledgement for ackId %llu within %lld ms",
                     (unsigned long long)r->ack_id, o->conf->ack_timeout_ms);
            retry_later(o, r, DFW_ERR_RETRY, 0, now, why);
        }
        r = next;
    }
    if (o->ack_in_flight || now < o->next_ack_ms) {
        return;
    }
    size_t n = collect_waiting(o);
    if (n == 0) {
        return;
    }
    struct dfw_buf q = DFW_BUF_INIT;
    if (dfw_out_splunk_hec_ack_query(o->ids, n, &q) == DFW_OK &&
        hec_http_post(o->http, 1, q.data, q.len, 0, &ack_query_ctx) == DFW_OK) {
        o->ack_in_flight = 1;
    }
    else {
        o->next_ack_ms = now + o->conf->ack_poll_interval_ms;
    }
    dfw_buf_free(&q);
}

static void hec_poll(void *self, int timeout_ms)
{
    struct hec_out *o = self;
    int64_t now = dfw_mono_ms();
    if (o->q.open != NULL && now - o->q.open->opened_ms >= o->conf->batch_timeout_ms) {
        hec_queue_close_open(&o->q);
    }
    fill(o, now);
    start_ready(o, now);
    if (o->conf->ack) {
        poll_acks(o, now);
    }
    hec_http_run(o->http, timeout_ms, on_done, o);
    now = dfw_mono_ms();
    fill(o, now);
    start_ready(o, now);
}

/* The sockets of the running transfers, and the first of the output's timers: the open request's
 * batch_timeout, a backoff or acknowledgement deadline, the next acknowledgement query. */
static int hec_wait(void *self, struct dfw_wait_fd *fds, int max, int *timeout_ms)
{
    struct hec_out *o = self;
    int n = hec_http_wait(o->http, fds, max, timeout_ms);
    int64_t now = dfw_mono_ms(), due = INT64_MAX;
    if (o->q.open != NULL) {
        due = o->q.open->opened_ms + o->conf->batch_timeout_ms;
    }
    int waiting = 0;
    for (const struct hec_req *r = o->q.head; r != NULL; r = r->next) {
        if ((r->state == HEC_REQ_BACKOFF || r->state == HEC_REQ_WAIT_ACK) && r->due_ms < due) {
            due = r->due_ms;
        }
        waiting |= r->state == HEC_REQ_WAIT_ACK;
    }
    if (waiting && !o->ack_in_flight && o->next_ack_ms < due) {
        due = o->next_ack_ms;
    }
    if (due != INT64_MAX) {
        int64_t left = due > now ? due - now : 0;
        if (*timeout_ms < 0 || left < *timeout_ms) {
            *timeout_ms = left > 60000 ? 60000 : (int)left;
        }
    }
    return n;
}

/* Nothing more is coming before an acknowledgement: the open request goes out now, once every
 * submitted event is in it (the sources are placed as room allows). */
static void hec_quiet(void *self)
{
    struct hec_out *o = self;
    if (o->srcs == NULL && o->q.open != NULL) {
        hec_queue_close_open(&o->q);
        start_ready(o, dfw_mono_ms());
    }
}

static dfw_err hec_submit(void *self, const struct dfw_batch *batch, dfw_ack_fn ack, void *ack_ctx)
{
    struct hec_out *o = self;
    if (batch->count == 0) {
        ack(ack_ctx, batch->seq, DFW_OK);
        return DFW_OK;
    }
    if (hec_queue_pending(&o->q) >= (size_t)o->conf->max_pending) {
        return DFW_ERR_BUSY; /* back-pressure: acknowledgements must come first */
    }
    struct hec_src *src = calloc(1, sizeof(*src));
    struct hec_batch *b = src ? hec_queue_batch(&o->q, batch->seq, ack, ack_ctx) : NULL;
    if (b == NULL) {
        free(src);
        return DFW_ERR_NOMEM;
    }
    *src = (struct hec_src){b, batch->events, batch->count, 0, NULL, batch->taken};
    *o->srcs_tail = src;
    o->srcs_tail = &src->next_src;
    int64_t now = dfw_mono_ms();
    fill(o, now);
    start_ready(o, now);
    hec_http_run(o->http, 0, on_done, o);
    return DFW_OK;
}

/* The pipeline takes the batch back: its events are not read any more, no ack comes for it. */
static void hec_cancel(void *self, uint64_t seq)
{
    struct hec_out *o = self;
    for (struct hec_src **pp = &o->srcs; *pp != NULL;) {
        struct hec_src *s = *pp;
        if (s->b->seq != seq) {
            pp = &s->next_src;
            continue;
        }
        src_remove(o, pp, 0);
    }
    hec_queue_cancel(&o->q, seq); /* placed ones: sent still, never acknowledged */
}

static dfw_err hec_flush(void *self, int timeout_ms)
{
    struct hec_out *o = self;
    int64_t deadline = dfw_mono_ms() + timeout_ms;
    fill(o, dfw_mono_ms());
    hec_queue_close_open(&o->q);
    while (hec_queue_pending(&o->q) > 0 || o->srcs != NULL) {
        int64_t left = deadline - dfw_mono_ms();
        if (left <= 0) {
            return DFW_ERR_RETRY;
        }
        hec_poll(o, left < 50 ? (int)left : 50);
        hec_queue_close_open(&o->q); /* what poll filled goes out now */
        if (hec_http_running(o->http) == 0 && hec_queue_pending(&o->q) > 0) {
            /* only timers are left (backoff, ack poll): sleep a little instead of spinning */
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    return DFW_OK;
}

const struct dfw_output_plugin dfw_out_splunk_hec_plugin = {
    .name = "splunk_hec",
    .description = "Splunk HTTP Event Collector with indexer acknowledgement",
    .options = dfw_out_splunk_hec_options,
    .conf_size = sizeof(struct dfw_out_splunk_hec_conf),
    .init = hec_init,
    .format = hec_format,
    .submit = hec_submit,
    .cancel = hec_cancel,
    .poll = hec_poll,
    .wait = hec_wait,
    .quiet = hec_quiet,
    .flush = hec_flush,
    .destroy = hec_destroy,
};
