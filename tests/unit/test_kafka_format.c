/* The Kafka output without a broker: topic templates, keys, headers, the value (format()), the
 * options and the delivered-record memo of failed batches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "dfw/config.h"
#include "dfw/output.h"
#include "kafka_conf.h"
#include "kafka_format.h"
#include "kafka_memo.h"
#include "registry.h"

static struct dfw_event event(struct json_object *rec, enum dfw_event_kind kind)
{
    return (struct dfw_event){.tenant = "contoso",
                              .tenant_id = "d581233e-ba75-410e-88cc-aaeb5da98658",
                              .stream = "mde-alerts",
                              .kind = kind,
                              .id = "da6390_-13",
                              .updated_ms = 1700000000000,
                              .updated = "2023-11-14T22:13:20.1234567Z",
                              .record = rec};
}

static void topic_templates(void **state)
{
    (void)state;
    struct dfw_event ev = event(NULL, DFW_EVENT_UPDATE);
    char topic[DFW_KAFKA_TOPIC_MAX + 1], why[256];
    assert_int_equal(dfw_out_kafka_topic_check("defender.{stream}", why, sizeof(why)), DFW_OK);
    assert_int_equal(dfw_out_kafka_topic("defender.{stream}", &ev, topic, sizeof(topic)), DFW_OK);
    assert_string_equal(topic, "defender.mde-alerts");
    assert_int_equal(dfw_out_kafka_topic("x_{tenant}.{stream}.{kind}", &ev, topic, sizeof(topic)),
                     DFW_OK);
    assert_string_equal(topic, "x_contoso.mde-alerts.update");
    ev.kind = DFW_EVENT_NEW;
    assert_int_equal(dfw_out_kafka_topic("{kind}", &ev, topic, sizeof(topic)), DFW_OK);
    assert_string_equal(topic, "new");

    const char *bad[] = {"", "a b", "defender.{strem}", "{tenant", "a/b", "x}", ".", "t\xc3\xa9"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        why[0] = '\0';
        assert_int_equal(dfw_out_kafka_topic_check(bad[i], why, sizeof(why)), DFW_ERR_CONFIG);
        assert_true(why[0] != '\0');
    }
    /* a rendered name longer than Kafka's limit is refused, not cut */
    char longt[300];
    memset(longt, 'a', 245);
    snprintf(longt + 245, sizeof(longt) - 245, "{tenant}");
    assert_int_equal(dfw_out_kafka_topic_check(longt, why, sizeof(why)), DFW_OK);
    assert_int_equal(dfw_out_kafka_topic(longt, &ev, topic, sizeof(topic)), DFW_ERR_INVALID);
    memset(longt, 'a', 250);
    longt[250] = '\0';
    assert_int_equal(dfw_out_kafka_topic_check(longt, why, sizeof(why)), DFW_ERR_CONFIG);
}

static void keys_and_headers(void **state)
{
    (void)state;
    struct dfw_event ev = event(NULL, DFW_EVENT_UPDATE);
    char key[64];
    size_t len;
    assert_int_equal(dfw_out_kafka_key(DFW_KAFKA_KEY_ID, &ev, key, sizeof(key), &len), DFW_OK);
    assert_int_equal(len, strlen("da6390_-13"));
    assert_memory_equal(key, "da6390_-13", len);
    assert_int_equal(dfw_out_kafka_key(DFW_KAFKA_KEY_TENANT_ID, &ev, key, sizeof(key), &len),
                     DFW_OK);
    assert_string_equal(key, "contoso/da6390_-13");
    assert_int_equal(dfw_out_kafka_key(DFW_KAFKA_KEY_NONE, &ev, key, sizeof(key), &len), DFW_OK);
    assert_int_equal(len, 0);
    assert_int_equal(dfw_out_kafka_key(DFW_KAFKA_KEY_ID, &ev, key, 5, &len), DFW_ERR_INVALID);

    struct dfw_kafka_header h[DFW_KAFKA_NHEADERS];
    dfw_out_kafka_headers(&ev, h);
    const char *want[][2] = {{"tenant", "contoso"},
                             {"stream", "mde-alerts"},
                             {"kind", "update"},
                             {"last_update", "2023-11-14T22:13:20.1234567Z"}};
    for (size_t i = 0; i < DFW_KAFKA_NHEADERS; i++) {
        assert_string_equal(h[i].name, want[i][0]);
        assert_string_equal(h[i].value, want[i][1]);
    }
}

static void value_is_the_record_json(void **state)
{
    (void)state;
    const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, "kafka");
    assert_non_null(p);
    struct json_object *rec =
        json_tokener_parse("{\"id\":\"da6390_-13\",\"title\":\"a \\\"b\\\"\\nc\",\"n\":1}");
    struct dfw_event ev = event(rec, DFW_EVENT_NEW);
    struct dfw_buf out = DFW_BUF_INIT;
    assert_int_equal(p->format(NULL, &ev, &out), DFW_OK);
    assert_string_equal(out.data, "{\"id\":\"da6390_-13\",\"title\":\"a \\\"b\\\"\\nc\",\"n\":1}");
    dfw_buf_free(&out);
    json_object_put(rec);
}

static void options_defaults_and_checks(void **state)
{
    (void)state;
    const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, "kafka");
    struct dfw_config_kv kvs[] = {{"brokers", "127.0.0.1:9092", "k.conf", 2},
                                  {"kafka.security.protocol", "SASL_SSL", "k.conf", 3},
                                  {"kafka.sasl.mechanism", "SCRAM-SHA-512", "k.conf", 4}};
    void *conf = NULL;
    char err[512];
    assert_int_equal(dfw_output_conf_parse(p, kvs, 3, &conf, err, sizeof(err)), DFW_OK);
    const struct dfw_out_kafka_conf *c = conf;
    assert_string_equal(c->topic, "defender.{stream}");
    assert_int_equal(c->key, DFW_KAFKA_KEY_ID);
    assert_int_equal(c->format, DFW_KAFKA_FMT_JSON);
    assert_int_equal(c->delivery_timeout, 120000);
    assert_int_equal(c->props.count, 2);
    assert_int_equal(dfw_out_kafka_conf_check(c, err, sizeof(err)), DFW_OK);
    /* the producer gets our defaults and the pass-through properties */
    rd_kafka_conf_t *rc = dfw_out_kafka_conf_build(c, "siem", err, sizeof(err));
    assert_non_null(rc);
    const char *want[][2] = {{"enable.idempotence", "true"},
                             {"acks", "-1"},
                             {"compression.codec", "zstd"},
                             {"security.protocol", "sasl_ssl"},
                             {"sasl.mechanisms", "SCRAM-SHA-512"}};
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        char v[128];
        size_t vlen = sizeof(v);
        assert_int_equal(rd_kafka_conf_get(rc, want[i][0], v, &vlen), RD_KAFKA_CONF_OK);
        if (strcmp(v, want[i][1]) != 0) {
            fail_msg("%s = %s, expected %s", want[i][0], v, want[i][1]);
        }
    }
    rd_kafka_conf_destroy(rc);
    dfw_output_conf_free(p, conf);

    struct dfw_config_kv nobrokers[] = {{"topic", "t", "k.conf", 1}};
    conf = NULL;
    assert_int_equal(dfw_output_conf_parse(p, nobrokers, 1, &conf, err, sizeof(err)),
                     DFW_ERR_CONFIG);
    assert_non_null(strstr(err, "brokers"));
    struct dfw_config_kv cef[] = {{"brokers", "b:1", "k.conf", 1}, {"format", "cef", "k.conf", 2}};
    assert_int_equal(dfw_output_conf_parse(p, cef, 2, &conf, err, sizeof(err)), DFW_ERR_CONFIG);
    assert_non_null(strstr(err, "k.conf:2"));
}

static void memo_remembers_delivered_records(void **state)
{
    (void)state;
    struct dfw_event ev[3] = {event(NULL, DFW_EVENT_NEW), event(NULL, DFW_EVENT_NEW),
                              event(NULL, DFW_EVENT_NEW)};
    ev[1].id = "b";
    ev[2].id = "c";
    struct dfw_batch b = {ev, 3, 7};
    uint64_t h = dfw_out_kafka_batch_hash(&b);
    struct dfw_kafka_memos memos = {NULL, 0};
    assert_null(dfw_out_kafka_memo_find(&memos, 7, 3, h));
    unsigned char bits = 0x5;
    assert_int_equal(dfw_out_kafka_memo_save(&memos, 7, 3, h, &bits), DFW_OK);
    const unsigned char *got = dfw_out_kafka_memo_find(&memos, 7, 3, h);
    assert_non_null(got);
    assert_int_equal(got[0], 0x5);
    /* the same seq with other records is not the same batch */
    ev[2].id = "d";
    assert_null(dfw_out_kafka_memo_find(&memos, 7, 3, dfw_out_kafka_batch_hash(&b)));
    assert_null(dfw_out_kafka_memo_find(&memos, 7, 2, h));
    dfw_out_kafka_memo_drop(&memos, 7);
    assert_null(dfw_out_kafka_memo_find(&memos, 7, 3, h));
    /* bounded: the oldest is forgotten */
    for (uint64_t s = 0; s < DFW_KAFKA_MEMO_MAX + 5; s++) {
        assert_int_equal(dfw_out_kafka_memo_save(&memos, s, 3, h, &bits), DFW_OK);
    }
    assert_int_equal(memos.count, DFW_KAFKA_MEMO_MAX);
    assert_null(dfw_out_kafka_memo_find(&memos, 0, 3, h));
    assert_non_null(dfw_out_kafka_memo_find(&memos, DFW_KAFKA_MEMO_MAX + 4, 3, h));
    dfw_out_kafka_memo_free(&memos);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(topic_templates),
        cmocka_unit_test(keys_and_headers),
        cmocka_unit_test(value_is_the_record_json),
        cmocka_unit_test(options_defaults_and_checks),
        cmocka_unit_test(memo_remembers_delivered_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
