/* The Kafka output: a librdkafka idempotent producer. A batch is acknowledged when the delivery
 * report of every one of its records has come back; one failed report fails the batch, which the
 * pipeline then re-sends (DESIGN.md §4). Options: kafka_conf.c; topic, key, headers and value:
 * kafka_format.c; docs/kafka.md. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dfw/log.h"
#include "dfw/output.h"
#include "dfw/timeutil.h"
#include "kafka_conf.h"
#include "kafka_format.h"
#include "kafka_memo.h"

#define KEY_MAX        512
#define ERR_LOG_SLOTS  8
#define ERR_LOG_PERIOD 30000 /* ms between two log lines about the same client error */

struct kafka_out;

/* One accepted batch: alive until the last delivery report of its records. Each message's opaque
 * is &refs[i] (which points back to the batch), so a report knows its record's index. */
struct batch {
    struct batch *next;
    struct batch **pprev;
    uint64_t seq;
    uint64_t hash; /* dfw_out_kafka_batch_hash */
    size_t count;  /* records in the batch */
    struct batch **refs;
    unsigned char *delivered; /* bit i: record i delivered (now or by an earlier attempt) */
    size_t produced;          /* records handed to librdkafka */
    size_t outstanding;       /* produced records whose delivery report has not been served */
    int closed;               /* submit is done producing: the ack may go when outstanding is 0 */
    dfw_err result;           /* DFW_OK, or the first failure */
    dfw_ack_fn ack;
    void *ack_ctx;
};

struct kafka_out {
    const struct dfw_out_kafka_conf *conf; /* borrowed for the instance's lifetime */
    char *name;
    rd_kafka_t *rk;
    long long queue_max; /* queue.buffering.max.messages */
    struct batch *batches;
    struct dfw_buf value;         /* format = cef: the line being produced (librdkafka copies it) */
    struct dfw_kafka_memos memos; /* what failed batches delivered, for their re-send */
    int wake[2];  /* librdkafka writes to wake[1] when its main queue gets an event (a delivery
                     report): the engine sleeps on wake[0] instead of polling */
    int fatal;    /* the producer hit a fatal error: replace it once its batches are failed */
    int dropping; /* destroy: delivery reports no longer acknowledge */
    struct {
        rd_kafka_resp_err_t err;
        int64_t at;
    } logged[ERR_LOG_SLOTS];
};

static void *unconst(const void *p)
{
    return (void *)(uintptr_t)p; /* librdkafka takes void * but copies (RD_KAFKA_MSG_F_COPY) */
}

static dfw_err map_err(rd_kafka_resp_err_t e)
{
    switch (e) {
    case RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART:
    case RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC:
    case RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION:
        return DFW_ERR_NOTFOUND;
    case RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_CLUSTER_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_TRANSACTIONAL_ID_AUTHORIZATION_FAILED:
    case RD_KAFKA_RESP_ERR_SASL_AUTHENTICATION_FAILED:
    case RD_KAFKA_RESP_ERR__AUTHENTICATION:
        return DFW_ERR_AUTH;
    case RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE:
    case RD_KAFKA_RESP_ERR_INVALID_RECORD:
    case RD_KAFKA_RESP_ERR_TOPIC_EXCEPTION:
        return DFW_ERR_INVALID;
    default:
        return DFW_ERR_RETRY;
    }
}

/* What an operator should do about a delivery or produce error. */
static const char *advice(rd_kafka_resp_err_t e)
{
    switch (map_err(e)) {
    case DFW_ERR_NOTFOUND:
        return "the topic does not exist and is not created automatically "
               "(auto.create.topics.enable=false on the brokers, or "
               "kafka.allow.auto.create.topics=false): create the topic";
    case DFW_ERR_AUTH:
        return "not authorized: check the SASL/TLS credentials (kafka.sasl.*, kafka.ssl.*) and "
               "grant this principal WRITE on the topic (IDEMPOTENT_WRITE on the cluster before "
               "Kafka 3.0)";
    case DFW_ERR_INVALID:
        return "the record is larger than the topic accepts: raise the topic's max.message.bytes "
               "and kafka.message.max.bytes";
    default:
        break;
    }
    if (e == RD_KAFKA_RESP_ERR__MSG_TIMED_OUT) {
        return "not delivered within delivery_timeout: are the brokers up and reachable?";
    }
    return "the batch will be re-sent";
}

static void batch_free(struct batch *b)
{
    free(b->refs);
    free(b->delivered);
    free(b);
}

static void batch_finish(struct kafka_out *k, struct batch *b)
{
    *b->pprev = b->next;
    if (b->next != NULL) {
        b->next->pprev = b->pprev;
    }
    if (!k->dropping) {
        if (b->result == DFW_OK) {
            dfw_out_kafka_memo_drop(&k->memos, b->seq);
        }
        else {
            /* no memory for the memo: the re-send is whole (duplicates, never loss) */
            (void)dfw_out_kafka_memo_save(&k->memos, b->seq, b->count, b->hash, b->delivered);
        }
        b->ack(b->ack_ctx, b->seq, b->result);
    }
    batch_free(b);
}

static void batch_fail(struct batch *b, dfw_err err)
{
    if (b->result == DFW_OK) {
        b->result = err;
    }
}

/* Delivery report: served by rd_kafka_poll/flush on the pipeline thread. */
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    struct kafka_out *k = opaque;
    struct batch **ref = m->_private;
    struct batch *b = *ref;
    size_t idx = (size_t)(ref - b->refs);
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        b->delivered[idx / 8] |= (unsigned char)(1u << (idx % 8));
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR && b->result == DFW_OK && !k->dropping) {
        /* the key is an id from the API: a NUL-terminated copy, escaped in the line */
        char key[201];
        size_t klen = m->key != NULL ? (m->key_len < 200 ? m->key_len : 200) : 0;
        memcpy(key, klen ? m->key : "", klen);
        key[klen] = '\0';
        dfw_log(DFW_LOG_WARN, "kafka",
                "output=%s topic=%s key=%s msg=\"delivery failed: %s; batch not acknowledged, "
                "checkpoint held: %s\"",
                k->name, DFW_LOG_VAL(m->rkt ? rd_kafka_topic_name(m->rkt) : "-"), DFW_LOG_VAL(key),
                DFW_LOG_ESC(rd_kafka_err2str(m->err)), advice(m->err));
    }
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
        batch_fail(b, map_err(m->err));
    }
    b->outstanding--;
    if (b->closed && b->outstanding == 0) {
        batch_finish(k, b);
    }
}

/* 1 when err was not logged in the last ERR_LOG_PERIOD ms (and remember it now). */
static int should_log(struct kafka_out *k, rd_kafka_resp_err_t err)
{
    int64_t now = dfw_mono_ms();
    size_t slot = 0;
    for (size_t i = 0; i < ERR_LOG_SLOTS; i++) {
        if (k->logged[i].err == err) {
            if (now - k->logged[i].at < ERR_LOG_PERIOD) {
                return 0;
            }
            slot = i;
            break;
        }
        if (k->logged[i].at < k->logged[slot].at) {
            slot = i;
        }
    }
    k->logged[slot].err = err;
    k->logged[slot].at = now;
    return 1;
}

/* Client-level errors: served by rd_kafka_poll on the pipeline thread. */
static void on_error(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
    struct kafka_out *k = opaque;
    rd_kafka_resp_err_t e = (rd_kafka_resp_err_t)err;
    if (e == RD_KAFKA_RESP_ERR__FATAL) {
        char why[512];
        rd_kafka_fatal_error(rk, why, sizeof(why));
        dfw_log(DFW_LOG_ERROR, "kafka",
                "output=%s msg=\"fatal producer error: %s; failing outstanding batches and "
                "starting a new producer\"",
                k->name, DFW_LOG_ESC(why));
        k->fatal = 1;
        return;
    }
    if (!should_log(k, e)) {
        return;
    }
    if (e == RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN) {
        dfw_log(DFW_LOG_ERROR, "kafka",
                "output=%s brokers=%s msg=\"all brokers down: records wait up to "
                "delivery_timeout, the checkpoint holds until they are delivered\" reason=\"%s\"",
                k->name, DFW_LOG_VAL(k->conf->brokers), DFW_LOG_ESC(reason));
    }
    else if (map_err(e) == DFW_ERR_AUTH) {
        dfw_log(DFW_LOG_ERROR, "kafka", "output=%s msg=\"%s: %s\" reason=\"%s\"", k->name,
                DFW_LOG_ESC(rd_kafka_err2str(e)), advice(e), DFW_LOG_ESC(reason));
    }
    else {
        dfw_log(DFW_LOG_WARN, "kafka", "output=%s msg=\"%s\" reason=\"%s\"", k->name,
                DFW_LOG_ESC(rd_kafka_err2str(e)), DFW_LOG_ESC(reason));
    }
}

/* librdkafka's own log lines (from its threads; dfw_log is thread-safe). */
static void on_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const struct kafka_out *k = rd_kafka_opaque(rk);
    enum dfw_log_level l = level <= 4 ? DFW_LOG_WARN : level <= 6 ? DFW_LOG_INFO : DFW_LOG_DEBUG;
    dfw_log(l, "kafka", "output=%s librdkafka=%s msg=\"%s\"", k ? k->name : "-", DFW_LOG_VAL(fac),
            DFW_LOG_ESC(buf));
}

static dfw_err producer_new(struct kafka_out *k, char *errbuf, size_t errlen)
{
    char why[512];
    rd_kafka_conf_t *conf = dfw_out_kafka_conf_build(k->conf, k->name, why, sizeof(why));
    if (conf == NULL) {
        snprintf(errbuf, errlen, "output %s: %s", k->name, why);
        return DFW_ERR_CONFIG;
    }
    char qmax[32];
    size_t qlen = sizeof(qmax);
    k->queue_max = 100000;
    if (rd_kafka_conf_get(conf, "queue.buffering.max.messages", qmax, &qlen) == RD_KAFKA_CONF_OK) {
        k->queue_max = strtoll(qmax, NULL, 10);
    }
    rd_kafka_conf_set_opaque(conf, k);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    rd_kafka_conf_set_error_cb(conf, on_error);
    rd_kafka_conf_set_log_cb(conf, on_log);
    k->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
    if (k->rk == NULL) {
        rd_kafka_conf_destroy(conf); /* not taken on failure */
        snprintf(errbuf, errlen, "output %s: cannot create the Kafka producer: %s", k->name, why);
        return DFW_ERR_CONFIG;
    }
    /* conf is now owned by rk */
    k->fatal = 0;
    rd_kafka_queue_t *q = rd_kafka_queue_get_main(k->rk);
    rd_kafka_queue_io_event_enable(q, k->wake[1], "!", 1);
    rd_kafka_queue_destroy(q);
    return DFW_OK;
}

/* Empty the wakeup pipe (non-blocking), then serve every queued event. */
static void serve_events(struct kafka_out *k, int timeout_ms)
{
    char buf[64];
    while (read(k->wake[0], buf, sizeof(buf)) > 0) {
    }
    if (rd_kafka_poll(k->rk, timeout_ms) > 0) {
        while (rd_kafka_poll(k->rk, 0) > 0) {
        }
    }
}

/* Purge what is queued and serve the delivery reports of the purged records for up to wait_ms. */
static void purge_and_drain(struct kafka_out *k, int wait_ms)
{
    rd_kafka_purge(k->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    int64_t until = dfw_mono_ms() + wait_ms;
    do {
        rd_kafka_poll(k->rk, 10);
    } while (k->batches != NULL && dfw_mono_ms() < until);
}

static void kafka_destroy(void *self)
{
    struct kafka_out *k = self;
    if (k == NULL) {
        return;
    }
    k->dropping = 1;
    if (k->rk != NULL) {
        purge_and_drain(k, 1000);
        rd_kafka_destroy(k->rk);
    }
    while (k->batches != NULL) {
        batch_finish(k, k->batches); /* dropping: no ack */
    }
    dfw_out_kafka_memo_free(&k->memos);
    dfw_buf_free(&k->value);
    for (int i = 0; i < 2; i++) {
        if (k->wake[i] >= 0) {
            close(k->wake[i]);
        }
    }
    free(k->name);
    free(k);
}

static void *kafka_init(const void *conf, const char *instance, char *errbuf, size_t errlen)
{
    const struct dfw_out_kafka_conf *c = conf;
    char why[512];
    if (dfw_out_kafka_conf_check(c, why, sizeof(why)) != DFW_OK) {
        snprintf(errbuf, errlen, "output %s: %s", instance, why);
        return NULL;
    }
    struct kafka_out *k = calloc(1, sizeof(*k));
    if (k == NULL) {
        snprintf(errbuf, errlen, "output %s: out of memory", instance);
        return NULL;
    }
    k->conf = c;
    k->wake[0] = k->wake[1] = -1;
    k->name = strdup(instance);
    if (k->name == NULL) {
        snprintf(errbuf, errlen, "output %s: out of memory", instance);
        kafka_destroy(k);
        return NULL;
    }
    if (pipe(k->wake) != 0) {
        snprintf(errbuf, errlen, "output %s: pipe: %s", instance, strerror(errno));
        k->wake[0] = k->wake[1] = -1;
        kafka_destroy(k);
        return NULL;
    }
    for (int i = 0; i < 2; i++) {
        fcntl(k->wake[i], F_SETFL, fcntl(k->wake[i], F_GETFL) | O_NONBLOCK);
        fcntl(k->wake[i], F_SETFD, FD_CLOEXEC);
    }
    if (producer_new(k, errbuf, errlen) != DFW_OK) {
        kafka_destroy(k);
        return NULL;
    }
    if (dfw_out_kafka_conf_inline_password(c)) {
        dfw_log(DFW_LOG_WARN, "kafka",
                "output=%s msg=\"kafka.sasl.password is written in the configuration file; use "
                "sasl_password_file (mode 0600), sasl_password_credential or sasl_password_env "
                "instead\"",
                instance);
    }
    return k;
}

/* After a fatal error: once every batch of the old producer has been failed, start a new one. */
static dfw_err replace_if_fatal(struct kafka_out *k)
{
    if (!k->fatal) {
        return DFW_OK;
    }
    rd_kafka_poll(k->rk, 0);
    if (k->batches != NULL) {
        return DFW_ERR_RETRY;
    }
    rd_kafka_destroy(k->rk);
    k->rk = NULL;
    char err[512];
    if (producer_new(k, err, sizeof(err)) != DFW_OK) {
        dfw_log(DFW_LOG_ERROR, "kafka", "output=%s msg=\"%s\"", k->name, DFW_LOG_ESC(err));
        return DFW_ERR_RETRY;
    }
    dfw_log(DFW_LOG_INFO, "kafka", "output=%s msg=\"new producer started\"", k->name);
    return DFW_OK;
}

/* Produce one event. On QUEUE_FULL serve delivery reports (acks of other batches may be called)
 * and try again until the delivery timeout: a record is produced once or not at all. */
static rd_kafka_resp_err_t
produce(struct kafka_out *k, struct batch **ref, const struct dfw_event *ev)
{
    char topic[DFW_KAFKA_TOPIC_MAX + 1], key[KEY_MAX];
    size_t keylen, vlen;
    struct dfw_kafka_header h[DFW_KAFKA_NHEADERS];
    if (dfw_out_kafka_topic(k->conf->topic, ev, topic, sizeof(topic)) != DFW_OK ||
        dfw_out_kafka_key(k->conf->key, ev, key, sizeof(key), &keylen) != DFW_OK) {
        return RD_KAFKA_RESP_ERR__INVALID_ARG; /* checked before the first record is produced */
    }
    const char *value;
    if (dfw_out_kafka_value(k->conf->format, ev, &k->value, &value, &vlen) != DFW_OK) {
        return RD_KAFKA_RESP_ERR__FAIL;
    }
    dfw_out_kafka_headers(ev, h);
    int64_t give_up = dfw_mono_ms() + k->conf->delivery_timeout;
    while (1) {
        rd_kafka_headers_t *hdrs = rd_kafka_headers_new(DFW_KAFKA_NHEADERS);
        for (size_t i = 0; i < DFW_KAFKA_NHEADERS; i++) {
            rd_kafka_header_add(hdrs, h[i].name, -1, h[i].value, -1);
        }
        rd_kafka_resp_err_t err = rd_kafka_producev(
            k->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_VALUE(unconst(value), vlen), RD_KAFKA_V_KEY(keylen ? key : NULL, keylen),
            RD_KAFKA_V_HEADERS(hdrs), RD_KAFKA_V_OPAQUE(ref), RD_KAFKA_V_END);
        if (err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            return err; /* hdrs now owned by the message */
        }
        rd_kafka_headers_destroy(hdrs);
        if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL || dfw_mono_ms() >= give_up || k->fatal) {
            return err;
        }
        rd_kafka_poll(k->rk, 100);
    }
}

/* Every topic and key of the batch can be made: checked before anything is produced. */
static dfw_err batch_renders(const struct kafka_out *k, const struct dfw_batch *batch)
{
    char topic[DFW_KAFKA_TOPIC_MAX + 1], key[KEY_MAX];
    size_t keylen;
    for (size_t i = 0; i < batch->count; i++) {
        const struct dfw_event *ev = &batch->events[i];
        if (dfw_out_kafka_topic(k->conf->topic, ev, topic, sizeof(topic)) != DFW_OK) {
            dfw_log(DFW_LOG_ERROR, "kafka",
                    "output=%s tenant=%s stream=%s msg=\"topic template '%s' gives no valid "
                    "topic name (at most %d characters of A-Z a-z 0-9 . _ -)\"",
                    k->name, ev->tenant, ev->stream, DFW_LOG_ESC(k->conf->topic),
                    DFW_KAFKA_TOPIC_MAX);
            return DFW_ERR_CONFIG;
        }
        if (dfw_out_kafka_key(k->conf->key, ev, key, sizeof(key), &keylen) != DFW_OK) {
            dfw_log(DFW_LOG_ERROR, "kafka", "output=%s tenant=%s stream=%s msg=\"key too long\"",
                    k->name, ev->tenant, ev->stream);
            return DFW_ERR_INVALID;
        }
    }
    return DFW_OK;
}

/* A tracked batch, linked into k->batches. NULL when out of memory. */
static struct batch *
batch_new(struct kafka_out *k, const struct dfw_batch *batch, dfw_ack_fn ack, void *ctx)
{
    struct batch *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return NULL;
    }
    b->refs = malloc(batch->count * sizeof(*b->refs));
    b->delivered = calloc((batch->count + 7) / 8, 1);
    if (b->refs == NULL || b->delivered == NULL) {
        batch_free(b);
        return NULL;
    }
    for (size_t i = 0; i < batch->count; i++) {
        b->refs[i] = b;
    }
    b->seq = batch->seq;
    b->count = batch->count;
    b->hash = dfw_out_kafka_batch_hash(batch);
    b->ack = ack;
    b->ack_ctx = ctx;
    b->next = k->batches;
    b->pprev = &k->batches;
    if (k->batches != NULL) {
        k->batches->pprev = &b->next;
    }
    k->batches = b;
    return b;
}

static dfw_err kafka_submit(void *self, const struct dfw_batch *batch, dfw_ack_fn ack, void *ctx)
{
    struct kafka_out *k = self;
    if (replace_if_fatal(k) != DFW_OK) {
        return DFW_ERR_RETRY;
    }
    if (batch->count == 0) {
        ack(ctx, batch->seq, DFW_OK);
        return DFW_OK;
    }
    /* back-pressure: take a batch only when all of it fits the producer's queue (a batch larger
     * than the whole queue is taken when the queue is empty) */
    rd_kafka_poll(k->rk, 0);
    long long queued = rd_kafka_outq_len(k->rk);
    if (queued > 0 && queued + (long long)batch->count > k->queue_max) {
        return DFW_ERR_BUSY;
    }
    dfw_err rc = batch_renders(k, batch);
    if (rc != DFW_OK) {
        return rc;
    }
    struct batch *b = batch_new(k, batch, ack, ctx);
    if (b == NULL) {
        return DFW_ERR_NOMEM;
    }
    /* an earlier attempt of this batch delivered some records: send only the others */
    const unsigned char *before = dfw_out_kafka_memo_find(&k->memos, b->seq, b->count, b->hash);
    for (size_t i = 0; i < batch->count; i++) {
        if (before != NULL && (before[i / 8] & (1u << (i % 8)))) {
            b->delivered[i / 8] |= (unsigned char)(1u << (i % 8));
            continue;
        }
        rd_kafka_resp_err_t err = produce(k, &b->refs[i], &batch->events[i]);
        if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
            dfw_log(DFW_LOG_WARN, "kafka",
                    "output=%s tenant=%s stream=%s msg=\"cannot produce record %zu of %zu: %s; "
                    "%s\"",
                    k->name, batch->events[i].tenant, batch->events[i].stream, i + 1, batch->count,
                    DFW_LOG_ESC(rd_kafka_err2str(err)), advice(err));
            batch_fail(b, map_err(err));
            break;
        }
        b->produced++;
        b->outstanding++;
    }
    if (b->produced == 0 && b->result != DFW_OK) {
        /* nothing went out: not accepted, no ack will come; the memo stays as it was */
        rc = b->result;
        *b->pprev = b->next;
        if (b->next != NULL) {
            b->next->pprev = b->pprev;
        }
        batch_free(b);
        return rc;
    }
    /* produced records are tracked; a failure above fails the batch once they are reported */
    b->closed = 1;
    if (b->outstanding == 0) {
        batch_finish(k, b); /* all reported while waiting for queue space, or sent before */
    }
    return DFW_OK;
}

static void kafka_poll(void *self, int timeout_ms)
{
    struct kafka_out *k = self;
    serve_events(k, timeout_ms);
    replace_if_fatal(k);
}

/* While batches are out, the engine sleeps on the wakeup pipe; a fatal producer waiting to be
 * replaced is looked at again every second. */
static int kafka_wait(void *self, struct dfw_wait_fd *fds, int max, int *timeout_ms)
{
    struct kafka_out *k = self;
    *timeout_ms = k->fatal ? 1000 : -1;
    if (k->batches == NULL || max < 1) {
        return 0;
    }
    fds[0].fd = k->wake[0];
    fds[0].events = POLLIN;
    return 1;
}

static dfw_err kafka_flush(void *self, int timeout_ms)
{
    struct kafka_out *k = self;
    int ms = timeout_ms < k->conf->flush_timeout ? timeout_ms : (int)k->conf->flush_timeout;
    rd_kafka_flush(k->rk, ms);
    if (k->batches == NULL) {
        return DFW_OK;
    }
    int left = rd_kafka_outq_len(k->rk);
    dfw_log(DFW_LOG_WARN, "kafka",
            "output=%s msg=\"%d record(s) not delivered within %d ms; their batches are not "
            "acknowledged and the checkpoint stays before them\"",
            k->name, left, ms);
    purge_and_drain(k, 1000);
    return DFW_ERR_RETRY;
}

const struct dfw_output_plugin dfw_out_kafka_plugin = {
    .name = "kafka",
    .description = "Apache Kafka topics (librdkafka idempotent producer)",
    .options = dfw_out_kafka_options,
    .conf_size = sizeof(struct dfw_out_kafka_conf),
    .init = kafka_init,
    .format = dfw_out_kafka_format,
    .submit = kafka_submit,
    .poll = kafka_poll,
    .wait = kafka_wait,
    .flush = kafka_flush,
    .destroy = kafka_destroy,
};
