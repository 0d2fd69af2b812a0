/* The Kafka output against librdkafka's in-process mock cluster: acknowledgement only after every
 * delivery report, injected produce errors, brokers down, back-pressure, flush and destroy. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfw/config.h"
#include "dfw/log.h"
#include "dfw/output.h"
#include "dfw/timeutil.h"
#include "registry.h"

#define MAX_EVENTS 64
#define MAX_ACKS   64

struct cluster {
    rd_kafka_t *rk; /* owns the mock cluster */
    rd_kafka_mock_cluster_t *mc;
    char brokers[256];
};

struct acks {
    int n;
    uint64_t seq[MAX_ACKS];
    dfw_err result[MAX_ACKS];
};

/* A batch of events over two tenants and two streams, ids "<prefix>-<i>". */
struct events {
    struct dfw_event ev[MAX_EVENTS];
    char ids[MAX_EVENTS][32];
    struct json_object *rec[MAX_EVENTS];
    size_t n;
};

static const struct dfw_output_plugin *plugin(void)
{
    const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, "kafka");
    assert_non_null(p);
    return p;
}

static void cluster_new(struct cluster *c)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* no brokers of its own: it only hosts the mock cluster */
    assert_int_equal(rd_kafka_conf_set(conf, "log_level", "4", err, sizeof(err)), 0);
    c->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    assert_non_null(c->rk);
    c->mc = rd_kafka_mock_cluster_new(c->rk, 3);
    assert_non_null(c->mc);
    snprintf(c->brokers, sizeof(c->brokers), "%s", rd_kafka_mock_cluster_bootstraps(c->mc));
    assert_int_equal(rd_kafka_mock_topic_create(c->mc, "t.contoso.mde-alerts", 2, 3), 0);
    assert_int_equal(rd_kafka_mock_topic_create(c->mc, "t.fabrikam.graph-alerts", 2, 3), 0);
}

static void cluster_free(struct cluster *c)
{
    rd_kafka_mock_cluster_destroy(c->mc);
    rd_kafka_destroy(c->rk);
}

static void brokers_set(struct cluster *c, int up)
{
    for (int32_t id = 1; id <= 3; id++) {
        if (up) {
            rd_kafka_mock_broker_set_up(c->mc, id);
        }
        else {
            rd_kafka_mock_broker_set_down(c->mc, id);
        }
    }
}

static void events_make(struct events *e, const char *prefix, size_t n)
{
    assert_true(n <= MAX_EVENTS);
    e->n = n;
    for (size_t i = 0; i < n; i++) {
        snprintf(e->ids[i], sizeof(e->ids[i]), "%s-%zu", prefix, i);
        char json[128];
        snprintf(json, sizeof(json), "{\"id\":\"%s\",\"title\":\"alert %zu\"}", e->ids[i], i);
        e->rec[i] = json_tokener_parse(json);
        assert_non_null(e->rec[i]);
        int second = i % 2;
        e->ev[i] = (struct dfw_event){.tenant = second ? "fabrikam" : "contoso",
                                      .tenant_id = "tid",
                                      .stream = second ? "graph-alerts" : "mde-alerts",
                                      .kind = DFW_EVENT_NEW,
                                      .id = e->ids[i],
                                      .updated_ms = 1700000000000,
                                      .updated = "2023-11-14T22:13:20Z",
                                      .record = e->rec[i]};
    }
}

static void events_free(struct events *e)
{
    for (size_t i = 0; i < e->n; i++) {
        json_object_put(e->rec[i]);
    }
}

static void on_ack(void *ctx, uint64_t seq, dfw_err result)
{
    struct acks *a = ctx;
    assert_true(a->n < MAX_ACKS);
    a->seq[a->n] = seq;
    a->result[a->n] = result;
    a->n++;
}

/* An instance with brokers = the mock cluster plus extra "key", "value" pairs (NULL-ended). */
static void *open_output(const struct cluster *c, void **conf, const char *const *extra)
{
    struct dfw_config_kv kvs[16] = {{"brokers", (char *)(uintptr_t)c->brokers, "t.conf", 1},
                                    {"topic", "t.{tenant}.{stream}", "t.conf", 2}};
    size_t n = 2;
    for (; extra != NULL && extra[0] != NULL; extra += 2, n++) {
        kvs[n] = (struct dfw_config_kv){(char *)(uintptr_t)extra[0], (char *)(uintptr_t)extra[1],
                                        "t.conf", (int)n + 1};
    }
    char err[512];
    assert_int_equal(dfw_output_conf_parse(plugin(), kvs, n, conf, err, sizeof(err)), DFW_OK);
    void *self = plugin()->init(*conf, "mock", err, sizeof(err));
    if (self == NULL) {
        fail_msg("init: %s", err);
    }
    return self;
}

static void close_output(void *self, void *conf)
{
    plugin()->destroy(self);
    dfw_output_conf_free(plugin(), conf);
}

static dfw_err
submit(void *self, const struct events *e, size_t from, size_t n, uint64_t seq, struct acks *a)
{
    struct dfw_batch b = {e->ev + from, n, seq, NULL};
    return plugin()->submit(self, &b, on_ack, a);
}

/* Poll until a->n reaches want or timeout_ms passes. */
static void pump(void *self, struct acks *a, int want, int timeout_ms)
{
    int64_t until = dfw_mono_ms() + timeout_ms;
    while (a->n < want && dfw_mono_ms() < until) {
        plugin()->poll(self, 50);
    }
}

/* Every message in the two test topics: count per key, and the headers of each checked. */
static size_t consume_all(const struct cluster *c, const char *key, size_t *key_count)
{
    char err[256];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    assert_int_equal(rd_kafka_conf_set(conf, "bootstrap.servers", c->brokers, err, sizeof(err)),
                     RD_KAFKA_CONF_OK);
    assert_int_equal(rd_kafka_conf_set(conf, "group.id", "test", err, sizeof(err)), 0);
    assert_int_equal(rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof(err)), 0);
    assert_int_equal(rd_kafka_conf_set(conf, "enable.partition.eof", "true", err, sizeof(err)), 0);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    assert_non_null(rk);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(4);
    const char *topics[] = {"t.contoso.mde-alerts", "t.fabrikam.graph-alerts"};
    for (int t = 0; t < 2; t++) {
        for (int32_t p = 0; p < 2; p++) {
            rd_kafka_topic_partition_list_add(parts, topics[t], p)->offset =
                RD_KAFKA_OFFSET_BEGINNING;
        }
    }
    assert_int_equal(rd_kafka_assign(rk, parts), 0);
    rd_kafka_topic_partition_list_destroy(parts);
    size_t total = 0, eof = 0;
    *key_count = 0;
    int64_t until = dfw_mono_ms() + 10000;
    while (eof < 4 && dfw_mono_ms() < until) {
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL) {
            continue;
        }
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            eof++;
        }
        else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            total++;
            if (m->key_len == strlen(key) && memcmp(m->key, key, m->key_len) == 0) {
                (*key_count)++;
            }
            rd_kafka_headers_t *h = NULL;
            const void *v;
            size_t vlen;
            assert_int_equal(rd_kafka_message_headers(m, &h), 0);
            assert_int_equal(rd_kafka_header_get_last(h, "kind", &v, &vlen), 0);
            assert_memory_equal(v, "new", 3);
            assert_int_equal(rd_kafka_header_get_last(h, "tenant", &v, &vlen), 0);
            const char *want =
                strstr(rd_kafka_topic_name(m->rkt), "contoso") ? "contoso" : "fabrikam";
            assert_int_equal(vlen, strlen(want));
            assert_memory_equal(v, want, vlen);
        }
        rd_kafka_message_destroy(m);
    }
    assert_int_equal(eof, 4);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    return total;
}

static void acks_each_batch_once_after_delivery(void **state)
{
    (void)state;
    struct cluster c;
    cluster_new(&c);
    struct events e;
    events_make(&e, "a", 8);
    void *conf;
    void *k = open_output(&c, &conf, NULL);
    struct acks a = {0};
    assert_int_equal(submit(k, &e, 0, 5, 1, &a), DFW_OK);
    assert_int_equal(submit(k, &e, 5, 3, 2, &a), DFW_OK);
    assert_int_equal(a.n, 0); /* nothing is acknowledged before its delivery report */
    pump(k, &a, 2, 10000);
    assert_int_equal(a.n, 2);
    assert_true((a.seq[0] == 1 && a.seq[1] == 2) || (a.seq[0] == 2 && a.seq[1] == 1));
    assert_int_equal(a.result[0], DFW_OK);
    assert_int_equal(a.result[1], DFW_OK);
    plugin()->poll(k, 100);
    assert_int_equal(a.n, 2); /* exactly once */
    assert_int_equal(plugin()->flush(k, 1000), DFW_OK);
    size_t once;
    assert_int_equal(consume_all(&c, "a-3", &once), 8);
    assert_int_equal(once, 1);
    close_output(k, conf);
    events_free(&e);
    cluster_free(&c);
}

static void retriable_errors_retried_without_duplicates(void **state)
{
    (void)state;
    struct cluster c;
    cluster_new(&c);
    rd_kafka_mock_push_request_errors(
        c.mc, 0 /* Produce */, 4, RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS, RD_KAFKA_RESP_ERR_REQUEST_TIMED_OUT,
        RD_KAFKA_RESP_ERR_NOT_ENOUGH_REPLICAS_AFTER_APPEND);
    struct events e;
    events_make(&e, "r", 10);
    void *conf;
    void *k = open_output(&c, &conf, NULL);
    struct acks a = {0};
    assert_int_equal(submit(k, &e, 0, 10, 7, &a), DFW_OK);
    pump(k, &a, 1, 20000);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.result[0], DFW_OK);
    size_t once;
    /* the idempotent producer retried inside librdkafka: every record exactly once */
    assert_int_equal(consume_all(&c, "r-9", &once), 10);
    assert_int_equal(once, 1);
    close_output(k, conf);
    events_free(&e);
    cluster_free(&c);
}

static void failed_report_fails_batch_then_resend_succeeds(void **state)
{
    (void)state;
    struct cluster c;
    cluster_new(&c);
    struct events e;
    events_make(&e, "f", 4);
    void *conf;
    void *k = open_output(&c, &conf, NULL);
    struct acks a = {0};
    /* warm up: producer id and metadata, so the injected errors hit Produce requests */
    assert_int_equal(submit(k, &e, 0, 1, 1, &a), DFW_OK);
    pump(k, &a, 1, 10000);
    assert_int_equal(a.result[0], DFW_OK);
    rd_kafka_mock_push_request_errors(
        c.mc, 0, 6, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED, RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED,
        RD_KAFKA_RESP_ERR_TOPIC_AUTHORIZATION_FAILED);
    assert_int_equal(submit(k, &e, 0, 4, 2, &a), DFW_OK);
    pump(k, &a, 2, 10000);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.seq[1], 2);
    assert_int_equal(a.result[1], DFW_ERR_AUTH); /* one report failed: the batch failed */
    rd_kafka_mock_clear_request_errors(c.mc, 0);
    /* the pipeline re-sends the same batch until it is acknowledged (librdkafka may fail
     * records of a topic at once while it still remembers the topic's error) */
    int64_t until = dfw_mono_ms() + 15000;
    while ((a.n == 2 || a.result[a.n - 1] != DFW_OK) && dfw_mono_ms() < until) {
        int before = a.n;
        dfw_err rc = submit(k, &e, 0, 4, 2, &a);
        if (rc == DFW_OK) {
            pump(k, &a, before + 1, 10000);
        }
        plugin()->poll(k, 200);
    }
    assert_int_equal(a.result[a.n - 1], DFW_OK);
    /* re-sends carried only the records not yet delivered: warm-up + 4, each once */
    size_t once;
    assert_int_equal(consume_all(&c, "f-2", &once), 5);
    assert_int_equal(once, 1);
    close_output(k, conf);
    events_free(&e);
    cluster_free(&c);
}

static void unknown_topic_fails_the_batch(void **state)
{
    (void)state;
    struct cluster c;
    cluster_new(&c);
    rd_kafka_mock_topic_set_error(c.mc, "missing.mde-alerts",
                                  RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART);
    struct events e;
    events_make(&e, "u", 2);
    const char *extra[] = {"topic", "missing.{stream}", "kafka.topic.metadata.propagation.max.ms",
                           "200",   "delivery_timeout", "5s",
                           NULL};
    e.ev[1] = e.ev[0];
    void *conf;
    void *k = open_output(&c, &conf, extra);
    struct acks a = {0};
    dfw_err rc = submit(k, &e, 0, 2, 3, &a);
    if (rc == DFW_OK) {
        pump(k, &a, 1, 10000);
        assert_int_equal(a.n, 1);
        assert_int_equal(a.result[0], DFW_ERR_NOTFOUND);
    }
    else {
        assert_int_equal(rc, DFW_ERR_NOTFOUND); /* known missing before the first produce */
    }
    close_output(k, conf);
    events_free(&e);
    cluster_free(&c);
}

static void brokers_down_fails_after_timeout_then_recovers(void **state)
{
    (void)state;
    struct cluster c;
    cluster_new(&c);
    struct events e;
    events_make(&e, "d", 6);
    const char *extra[] = {"delivery_timeout", "2s", NULL};
    void *conf;
    void *k = open_output(&c, &conf, extra);
    brokers_set(&c, 0);
    struct acks a = {0};
    assert_int_equal(submit(k, &e, 0, 6, 1, &a), DFW_OK);
    plugin()->poll(k, 500);
    assert_int_equal(a.n, 0); /* held, not failed at once */
    pump(k, &a, 1, 10000);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.result[0], DFW_ERR_RETRY); /* timed out: re-send */
    brokers_set(&c, 1);
    assert_int_equal(submit(k, &e, 0, 6, 1, &a), DFW_OK);
    pump(k, &a, 2, 15000);
    assert_int_equal(a.n, 2);
    assert_int_equal(a.result[1], DFW_OK);
    size_t once;
    assert_int_equal(consume_all(&c, "d-0", &once), 6);
    assert_int_equal(once, 1);
    close_output(k, conf);
    events_free(&e);
    cluster_free(&c);
}

static void queue_full_is_back_pressure(void **state)
{
    (void)state;
    struct cluster c;
    cluster_new(&c);
    struct events e;
    events_make(&e, "q", 16);
    const char *extra[] = {"kafka.queue.buffering.max.messages", "10", NULL};
    void *conf;
    void *k = open_output(&c, &conf, extra);
    brokers_set(&c, 0);
    struct acks a = {0};
    assert_int_equal(submit(k, &e, 0, 8, 1, &a), DFW_OK);
    /* the second batch does not fit: refused whole, nothing of it produced */
    assert_int_equal(submit(k, &e, 8, 8, 2, &a), DFW_ERR_BUSY);
    assert_int_equal(a.n, 0);
    brokers_set(&c, 1);
    pump(k, &a, 1, 15000);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.result[0], DFW_OK);
    assert_int_equal(submit(k, &e, 8, 8, 2, &a), DFW_OK);
    pump(k, &a, 2, 10000);
    assert_int_equal(a.result[1], DFW_OK);
    size_t once;
    assert_int_equal(consume_all(&c, "q-12", &once), 16); /* each record once */
    assert_int_equal(once, 1);
    close_output(k, conf);
    events_free(&e);
    cluster_free(&c);
}

static void batch_larger_than_queue_is_taken_when_empty(void **state)
{
    (void)state;
    struct cluster c;
    cluster_new(&c);
    struct events e;
    events_make(&e, "L", 40);
    const char *extra[] = {"kafka.queue.buffering.max.messages", "10", NULL};
    void *conf;
    void *k = open_output(&c, &conf, extra);
    struct acks a = {0};
    assert_int_equal(submit(k, &e, 0, 40, 9, &a), DFW_OK);
    pump(k, &a, 1, 15000);
    assert_int_equal(a.n, 1);
    assert_int_equal(a.result[0], DFW_OK);
    size_t once;
    assert_int_equal(consume_all(&c, "L-39", &once), 40);
    assert_int_equal(once, 1);
    close_output(k, conf);
    events_free(&e);
    cluster_free(&c);
}

static void flush_fails_what_is_not_delivered(void **state)
{
    (void)state;
    struct cluster c;
    cluster_new(&c);
    struct events e;
    events_make(&e, "s", 3);
    void *conf;
    void *k = open_output(&c, &conf, NULL);
    brokers_set(&c, 0);
    struct acks a = {0};
    assert_int_equal(submit(k, &e, 0, 3, 4, &a), DFW_OK);
    int64_t t0 = dfw_mono_ms();
    assert_int_equal(plugin()->flush(k, 300), DFW_ERR_RETRY);
    assert_true(dfw_mono_ms() - t0 < 3000); /* bounded */
    assert_int_equal(a.n, 1);
    assert_int_not_equal(a.result[0], DFW_OK); /* not acknowledged as delivered */
    close_output(k, conf);
    events_free(&e);
    cluster_free(&c);
}

static void destroy_drops_outstanding_without_ack(void **state)
{
    (void)state;
    struct cluster c;
    cluster_new(&c);
    struct events e;
    events_make(&e, "x", 3);
    void *conf;
    void *k = open_output(&c, &conf, NULL);
    brokers_set(&c, 0);
    struct acks a = {0};
    assert_int_equal(submit(k, &e, 0, 3, 5, &a), DFW_OK);
    close_output(k, conf);
    assert_int_equal(a.n, 0);
    events_free(&e);
    cluster_free(&c);
}

static void init_errors_name_the_property(void **state)
{
    (void)state;
    struct cluster c = {.brokers = "127.0.0.1:1"};
    const struct {
        const char *key, *value, *want;
    } cases[] = {
        {"kafka.no.such.property", "1", "kafka.no.such.property"},
        {"kafka.bootstrap.servers", "h:1", "brokers"},
        {"kafka.message.timeout.ms", "5", "delivery_timeout"},
        {"topic", "x.{tenantt}", "unknown placeholder"},
        {"topic", "a b", "not allowed"},
        {"kafka.acks", "s3cr3t-value", "kafka.acks"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct dfw_config_kv kvs[] = {
            {"brokers", c.brokers, "t.conf", 1},
            {(char *)(uintptr_t)cases[i].key, (char *)(uintptr_t)cases[i].value, "t.conf", 2}};
        void *conf = NULL;
        char err[512] = "";
        assert_int_equal(dfw_output_conf_parse(plugin(), kvs, 2, &conf, err, sizeof(err)), DFW_OK);
        assert_null(plugin()->init(conf, "bad", err, sizeof(err)));
        if (strstr(err, cases[i].want) == NULL || strstr(err, "output bad") == NULL) {
            fail_msg("case %zu: '%s' does not say '%s'", i, err, cases[i].want);
        }
        assert_null(strstr(err, "s3cr3t")); /* a value may be a password: never echoed */
        dfw_output_conf_free(plugin(), conf);
    }
}

int main(void)
{
    dfw_log_set_level(getenv("KLOG") ? DFW_LOG_DEBUG : DFW_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(acks_each_batch_once_after_delivery),
        cmocka_unit_test(retriable_errors_retried_without_duplicates),
        cmocka_unit_test(failed_report_fails_batch_then_resend_succeeds),
        cmocka_unit_test(unknown_topic_fails_the_batch),
        cmocka_unit_test(brokers_down_fails_after_timeout_then_recovers),
        cmocka_unit_test(queue_full_is_back_pressure),
        cmocka_unit_test(batch_larger_than_queue_is_taken_when_empty),
        cmocka_unit_test(flush_fails_what_is_not_delivered),
        cmocka_unit_test(destroy_drops_outstanding_without_ack),
        cmocka_unit_test(init_errors_name_the_property),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
