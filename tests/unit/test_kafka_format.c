/* The Kafka output without a broker: topic templates, keys, headers, the value (format(): JSON or
 * CEF), the options (SASL password from a secret) and the delivered-record memo of failed
 * batches. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dfw/cef.h"
#include "dfw/config.h"
#include "dfw/log.h"
#include "dfw/output.h"
#include "dfw/timeutil.h"
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
    struct dfw_config_kv xml[] = {{"brokers", "b:1", "k.conf", 1}, {"format", "xml", "k.conf", 2}};
    assert_int_equal(dfw_output_conf_parse(p, xml, 2, &conf, err, sizeof(err)), DFW_ERR_CONFIG);
    assert_non_null(strstr(err, "k.conf:2"));
    assert_non_null(strstr(err, "json|cef|leef"));
}

/* A kafka conf from key/value pairs (brokers added); NULL with the reason on stderr. */
static void *kconf(const char *const (*kv)[2], size_t n)
{
    struct dfw_config_kv kvs[16] = {{"brokers", "127.0.0.1:1", "k.conf", 1}};
    assert_true(n < 16);
    for (size_t i = 0; i < n; i++) {
        kvs[i + 1] = (struct dfw_config_kv){(char *)(uintptr_t)kv[i][0],
                                            (char *)(uintptr_t)kv[i][1], "k.conf", (int)i + 2};
    }
    void *conf = NULL;
    char err[512];
    if (dfw_output_conf_parse(dfw_output_find(dfw_output_registry, "kafka"), kvs, n + 1, &conf, err,
                              sizeof(err)) != DFW_OK) {
        fprintf(stderr, "conf: %s\n", err);
        return NULL;
    }
    return conf;
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    char *buf = calloc(1, 65536);
    assert_non_null(buf);
    size_t n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* format = cef: the value is the CEF line of libdfw's encoder, byte for byte the golden line of
 * test_cef.c, with no syslog header, no newline and no size limit; headers and key stay. */
static void value_is_the_cef_line(void **state)
{
    (void)state;
    const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, "kafka");
    const char *const kv[][2] = {{"format", "cef"}};
    void *conf = kconf(kv, 1);
    assert_non_null(conf);
    assert_int_equal(((struct dfw_out_kafka_conf *)conf)->format, DFW_KAFKA_FMT_CEF);

    char path[4096];
    snprintf(path, sizeof(path), "%s/cef/mde-alert.json", DFW_TEST_DATA);
    struct json_object *rec = json_object_from_file(path);
    assert_non_null(rec);
    struct dfw_event ev = event(rec, DFW_EVENT_NEW);
    ev.tenant_id = "a839b112-1253-6432-9bf6-94542403f21c";
    ev.id = "da637472900382838869_1364969609";
    ev.updated = "2021-01-26T20:33:59.2Z";
    assert_int_equal(dfw_time_parse(ev.updated, &ev.updated_ms), DFW_OK);

    struct dfw_buf out = DFW_BUF_INIT;
    assert_int_equal(p->format(conf, &ev, &out), DFW_OK);
    snprintf(path, sizeof(path), "%s/cef/mde-alert.cef", DFW_TEST_DATA);
    char *want = slurp(path);
    size_t wlen = strlen(want);
    assert_true(wlen > 0 && want[wlen - 1] == '\n');
    want[wlen - 1] = '\0';
    assert_string_equal(out.data, want);
    assert_null(memchr(out.data, '\n', out.len));

    /* the produce path: CEF rendered into a reused scratch buffer, JSON borrowed from the event */
    struct dfw_buf scratch = DFW_BUF_INIT;
    const char *value;
    size_t vlen;
    for (int round = 0; round < 2; round++) {
        assert_int_equal(dfw_out_kafka_value(DFW_KAFKA_FMT_CEF, &ev, &scratch, &value, &vlen),
                         DFW_OK);
        assert_int_equal(vlen, out.len);
        assert_memory_equal(value, out.data, vlen);
    }
    size_t jlen;
    const char *json = dfw_event_json(&ev, &jlen);
    assert_int_equal(dfw_out_kafka_value(DFW_KAFKA_FMT_JSON, &ev, &scratch, &value, &vlen), DFW_OK);
    assert_ptr_equal(value, json);
    assert_int_equal(vlen, jlen);

    /* no size limit: a value far longer than a UDP syslog message is not truncated */
    char url[4100];
    memset(url, 'a', 4000);
    url[4000] = '\0';
    struct json_object *big = json_object_new_object();
    struct json_object *evid = json_object_new_object();
    struct json_object *arr = json_object_new_array();
    json_object_object_add(evid, "entityType", json_object_new_string("Url"));
    json_object_object_add(evid, "url", json_object_new_string(url));
    json_object_array_add(arr, evid);
    json_object_object_add(big, "evidence", arr);
    struct dfw_event bev = event(big, DFW_EVENT_NEW);
    assert_int_equal(dfw_out_kafka_value(DFW_KAFKA_FMT_CEF, &bev, &scratch, &value, &vlen), DFW_OK);
    assert_true(vlen > 4000);
    assert_non_null(strstr(value, url));
    assert_null(strstr(value, DFW_CEF_TRUNC_MARKER));
    json_object_put(big);

    /* the key and headers do not depend on the format */
    char key[64];
    size_t klen;
    assert_int_equal(dfw_out_kafka_key(DFW_KAFKA_KEY_ID, &ev, key, sizeof(key), &klen), DFW_OK);
    assert_string_equal(key, "da637472900382838869_1364969609");
    free(want);
    dfw_buf_free(&scratch);
    dfw_buf_free(&out);
    dfw_output_conf_free(p, conf);
    json_object_put(rec);
}

static void write_secret(const char *path, const char *text, mode_t mode)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    assert_int_equal(chmod(path, mode), 0);
}

/* sasl.password as librdkafka got it from a conf, "" when unset. */
static void built_password(const struct dfw_out_kafka_conf *c, char *out, size_t outlen)
{
    char err[512];
    rd_kafka_conf_t *rc = dfw_out_kafka_conf_build(c, "siem", err, sizeof(err));
    if (rc == NULL) {
        fail_msg("build: %s", err);
    }
    size_t len = outlen;
    if (rd_kafka_conf_get(rc, "sasl.password", out, &len) != RD_KAFKA_CONF_OK) {
        out[0] = '\0';
    }
    rd_kafka_conf_destroy(rc);
}

/* sasl_password_file / _env / _credential: sasl.password from a secret, never from the config;
 * a group-readable file, two sources, or a source next to kafka.sasl.password are refused. */
static void sasl_password_from_a_secret(void **state)
{
    (void)state;
    const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, "kafka");
    char dir[] = "/tmp/dfw-kafka-secret-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char file[256], err[512], pw[256];
    snprintf(file, sizeof(file), "%s/kafka.pw", dir);
    write_secret(file, "s3cr3t-pw\n", 0600);

    const char *const kv_file[][2] = {{"kafka.security.protocol", "SASL_PLAINTEXT"},
                                      {"kafka.sasl.mechanism", "PLAIN"},
                                      {"kafka.sasl.username", "forwarder"},
                                      {"sasl_password_file", file}};
    void *conf = kconf(kv_file, 4);
    assert_non_null(conf);
    struct dfw_out_kafka_conf *c = conf;
    assert_int_equal(dfw_out_kafka_conf_check(c, err, sizeof(err)), DFW_OK);
    assert_false(dfw_out_kafka_conf_inline_password(c));
    built_password(c, pw, sizeof(pw));
    assert_string_equal(pw, "s3cr3t-pw"); /* trailing newline removed */

    /* group-readable: refused at check and at build, naming the option, never the content */
    assert_int_equal(chmod(file, 0640), 0);
    assert_int_equal(dfw_out_kafka_conf_check(c, err, sizeof(err)), DFW_ERR_CONFIG);
    assert_non_null(strstr(err, "sasl_password_file"));
    assert_null(strstr(err, "s3cr3t"));
    assert_null(dfw_out_kafka_conf_build(c, "siem", err, sizeof(err)));
    assert_non_null(strstr(err, "sasl_password_file"));
    assert_null(strstr(err, "s3cr3t"));
    assert_null(p->init(conf, "siem", err, sizeof(err)));
    assert_non_null(strstr(err, "output siem"));
    assert_non_null(strstr(err, "sasl_password_file"));
    dfw_output_conf_free(p, conf);

    /* an environment variable */
    assert_int_equal(setenv("DFW_TEST_KAFKA_PW", "env-pw", 1), 0);
    const char *const kv_env[][2] = {{"sasl_password_env", "DFW_TEST_KAFKA_PW"}};
    conf = kconf(kv_env, 1);
    assert_non_null(conf);
    assert_int_equal(dfw_out_kafka_conf_check(conf, err, sizeof(err)), DFW_OK);
    built_password(conf, pw, sizeof(pw));
    assert_string_equal(pw, "env-pw");
    dfw_output_conf_free(p, conf);
    unsetenv("DFW_TEST_KAFKA_PW");

    /* a systemd credential: $CREDENTIALS_DIRECTORY/<name> */
    write_secret(file, "cred-pw", 0400);
    assert_int_equal(setenv("CREDENTIALS_DIRECTORY", dir, 1), 0);
    const char *const kv_cred[][2] = {{"sasl_password_credential", "kafka.pw"}};
    conf = kconf(kv_cred, 1);
    assert_non_null(conf);
    built_password(conf, pw, sizeof(pw));
    assert_string_equal(pw, "cred-pw");
    dfw_output_conf_free(p, conf);
    unsetenv("CREDENTIALS_DIRECTORY");

    /* two sources, or a source and the inline property: refused */
    const char *const kv_two[][2] = {{"sasl_password_file", file}, {"sasl_password_env", "X"}};
    conf = kconf(kv_two, 2);
    assert_int_equal(dfw_out_kafka_conf_check(conf, err, sizeof(err)), DFW_ERR_CONFIG);
    assert_non_null(strstr(err, "at most one of sasl_password_file"));
    dfw_output_conf_free(p, conf);
    const char *const kv_both[][2] = {{"sasl_password_file", file},
                                      {"kafka.sasl.password", "inline-s3cr3t"}};
    conf = kconf(kv_both, 2);
    assert_int_equal(dfw_out_kafka_conf_check(conf, err, sizeof(err)), DFW_ERR_CONFIG);
    assert_non_null(strstr(err, "kafka.sasl.password"));
    assert_null(strstr(err, "inline-s3cr3t"));
    dfw_output_conf_free(p, conf);

    /* a missing file is a start-up error naming it */
    const char *const kv_missing[][2] = {{"sasl_password_file", "/nonexistent/kafka.pw"}};
    conf = kconf(kv_missing, 1);
    assert_int_equal(dfw_out_kafka_conf_check(conf, err, sizeof(err)), DFW_ERR_CONFIG);
    assert_non_null(strstr(err, "sasl_password_file"));
    dfw_output_conf_free(p, conf);

    assert_int_equal(unlink(file), 0);
    assert_int_equal(rmdir(dir), 0);
}

/* kafka.sasl.password inline still works (compatibility) but start-up warns, without the value. */
static void inline_password_accepted_with_a_warning(void **state)
{
    (void)state;
    const struct dfw_output_plugin *p = dfw_output_find(dfw_output_registry, "kafka");
    const char *const kv[][2] = {{"kafka.sasl.password", "inline-s3cr3t"}};
    void *conf = kconf(kv, 1);
    assert_non_null(conf);
    char err[512], pw[256];
    assert_int_equal(dfw_out_kafka_conf_check(conf, err, sizeof(err)), DFW_OK);
    assert_true(dfw_out_kafka_conf_inline_password(conf));
    built_password(conf, pw, sizeof(pw));
    assert_string_equal(pw, "inline-s3cr3t");

    char logpath[] = "/tmp/dfw-kafka-log-XXXXXX";
    int fd = mkstemp(logpath);
    assert_true(fd >= 0);
    int saved = dup(STDERR_FILENO);
    assert_true(saved >= 0);
    assert_true(dup2(fd, STDERR_FILENO) >= 0);
    dfw_log_set_level(DFW_LOG_WARN); /* no producer thread runs here: see dfw_log_set_level */
    void *self = p->init(conf, "siem", err, sizeof(err));
    p->destroy(self);
    dfw_log_set_level(DFW_LOG_ERROR);
    assert_true(dup2(saved, STDERR_FILENO) >= 0);
    close(saved);
    close(fd);
    if (self == NULL) {
        fail_msg("init: %s", err);
    }
    char *log = slurp(logpath);
    unlink(logpath);
    if (strstr(log, "output=siem") == NULL || strstr(log, "use sasl_password_file") == NULL) {
        fail_msg("no warning in: %s", log);
    }
    assert_null(strstr(log, "inline-s3cr3t"));
    free(log);
    dfw_output_conf_free(p, conf);
}

static void memo_remembers_delivered_records(void **state)
{
    (void)state;
    struct dfw_event ev[3] = {event(NULL, DFW_EVENT_NEW), event(NULL, DFW_EVENT_NEW),
                              event(NULL, DFW_EVENT_NEW)};
    ev[1].id = "b";
    ev[2].id = "c";
    struct dfw_batch b = {ev, 3, 7, NULL};
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
    dfw_log_set_level(DFW_LOG_ERROR);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(topic_templates),
        cmocka_unit_test(keys_and_headers),
        cmocka_unit_test(value_is_the_record_json),
        cmocka_unit_test(options_defaults_and_checks),
        cmocka_unit_test(value_is_the_cef_line),
        cmocka_unit_test(sasl_password_from_a_secret),
        cmocka_unit_test(inline_password_accepted_with_a_warning),
        cmocka_unit_test(memo_remembers_delivered_records),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
