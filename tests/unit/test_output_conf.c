#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <string.h>

#include "dfw/config.h"
#include "dfw/output.h"
#include "registry.h"

struct fake_conf {
    char *host;
    long long port;
    int tls;
    int format;
    long long timeout;
    long long size;
};

static const struct dfw_option fake_options[] = {
    {"host", DFW_OPT_STRING, NULL, offsetof(struct fake_conf, host), NULL, 1, "host"},
    {"port", DFW_OPT_INT, "514", offsetof(struct fake_conf, port), NULL, 0, "port"},
    {"tls", DFW_OPT_BOOL, "no", offsetof(struct fake_conf, tls), NULL, 0, "tls"},
    {"format", DFW_OPT_ENUM, "cef", offsetof(struct fake_conf, format), "cef|json|leef", 0, "f"},
    {"timeout", DFW_OPT_DURATION, "10s", offsetof(struct fake_conf, timeout), NULL, 0, "t"},
    {"size", DFW_OPT_SIZE, "1k", offsetof(struct fake_conf, size), NULL, 0, "s"},
    {NULL, 0, NULL, 0, NULL, 0, NULL},
};

static const struct dfw_output_plugin fake = {
    .name = "fake",
    .options = fake_options,
    .conf_size = sizeof(struct fake_conf),
};

static void defaults_then_values(void **state)
{
    (void)state;
    struct dfw_config_kv kvs[] = {
        {"host", "siem", "a.conf", 3},
        {"format", "JSON", "a.conf", 4},
        {"tls", "on", "a.conf", 5},
        {"size", "64k", "a.conf", 6},
    };
    void *conf = NULL;
    char err[256];
    assert_int_equal(dfw_output_conf_parse(&fake, kvs, 4, &conf, err, sizeof(err)), DFW_OK);
    struct fake_conf *c = conf;
    assert_string_equal(c->host, "siem");
    assert_int_equal(c->port, 514);
    assert_int_equal(c->tls, 1);
    assert_int_equal(c->format, 1);
    assert_int_equal(c->timeout, 10000);
    assert_int_equal(c->size, 65536);
    dfw_output_conf_free(&fake, conf);
}

static void errors_name_file_and_line(void **state)
{
    (void)state;
    void *conf = NULL;
    char err[256];
    struct dfw_config_kv unknown[] = {{"host", "x", "b.conf", 1}, {"hots", "x", "b.conf", 9}};
    assert_int_equal(dfw_output_conf_parse(&fake, unknown, 2, &conf, err, sizeof(err)),
                     DFW_ERR_CONFIG);
    assert_non_null(strstr(err, "b.conf:9"));
    assert_non_null(strstr(err, "hots"));
    struct dfw_config_kv badenum[] = {{"host", "x", "c.conf", 1}, {"format", "xml", "c.conf", 2}};
    assert_int_equal(dfw_output_conf_parse(&fake, badenum, 2, &conf, err, sizeof(err)),
                     DFW_ERR_CONFIG);
    assert_non_null(strstr(err, "c.conf:2"));
    assert_non_null(strstr(err, "cef|json|leef"));
    struct dfw_config_kv badint[] = {{"host", "x", "d.conf", 1}, {"port", "51x", "d.conf", 7}};
    assert_int_equal(dfw_output_conf_parse(&fake, badint, 2, &conf, err, sizeof(err)),
                     DFW_ERR_CONFIG);
    assert_non_null(strstr(err, "d.conf:7"));
    struct dfw_config_kv missing[] = {{"port", "1", "e.conf", 1}};
    assert_int_equal(dfw_output_conf_parse(&fake, missing, 1, &conf, err, sizeof(err)),
                     DFW_ERR_CONFIG);
    assert_non_null(strstr(err, "host"));
    assert_null(conf);
}

struct pass_conf {
    char *brokers;
    struct dfw_opt_list props;
};

static const struct dfw_option pass_options[] = {
    {"brokers", DFW_OPT_STRING, NULL, offsetof(struct pass_conf, brokers), NULL, 0, "b"},
    {"kafka.", DFW_OPT_PREFIX, NULL, offsetof(struct pass_conf, props), NULL, 0, "kafka.<p>"},
    {NULL, 0, NULL, 0, NULL, 0, NULL},
};

static const struct dfw_output_plugin pass = {
    .name = "pass",
    .options = pass_options,
    .conf_size = sizeof(struct pass_conf),
};

static void prefix_rows_collect_pass_through_keys(void **state)
{
    (void)state;
    struct dfw_config_kv kvs[] = {
        {"kafka.security.protocol", "SASL_SSL", "k.conf", 2},
        {"brokers", "b1:9092", "k.conf", 3},
        {"kafka.linger.ms", "5", "k.conf", 4},
    };
    void *conf = NULL;
    char err[256];
    assert_int_equal(dfw_output_conf_parse(&pass, kvs, 3, &conf, err, sizeof(err)), DFW_OK);
    struct pass_conf *c = conf;
    assert_string_equal(c->brokers, "b1:9092");
    assert_int_equal(c->props.count, 2);
    assert_string_equal(c->props.items[0].key, "security.protocol");
    assert_string_equal(c->props.items[0].value, "SASL_SSL");
    assert_string_equal(c->props.items[1].key, "linger.ms");
    assert_string_equal(c->props.items[1].value, "5");
    dfw_output_conf_free(&pass, conf);

    /* none given: an empty list */
    conf = NULL;
    assert_int_equal(dfw_output_conf_parse(&pass, kvs + 1, 1, &conf, err, sizeof(err)), DFW_OK);
    c = conf;
    assert_int_equal(c->props.count, 0);
    assert_null(c->props.items);
    dfw_output_conf_free(&pass, conf);

    /* the bare prefix, or a key that only shares its start, is unknown */
    struct dfw_config_kv bare[] = {{"kafka.", "x", "k.conf", 7}};
    conf = NULL;
    assert_int_equal(dfw_output_conf_parse(&pass, bare, 1, &conf, err, sizeof(err)),
                     DFW_ERR_CONFIG);
    assert_non_null(strstr(err, "k.conf:7"));
    assert_null(conf);
    struct dfw_config_kv other[] = {{"kafkax.acks", "1", "k.conf", 8}};
    assert_int_equal(dfw_output_conf_parse(&pass, other, 1, &conf, err, sizeof(err)),
                     DFW_ERR_CONFIG);
    assert_non_null(strstr(err, "kafkax.acks"));
    /* a table without a prefix row still rejects dotted keys */
    struct dfw_config_kv dotted[] = {{"host", "x", "k.conf", 1}, {"kafka.acks", "1", "k.conf", 9}};
    assert_int_equal(dfw_output_conf_parse(&fake, dotted, 2, &conf, err, sizeof(err)),
                     DFW_ERR_CONFIG);
    assert_non_null(strstr(err, "k.conf:9"));
}

static void registry_has_builtin_outputs(void **state)
{
    (void)state;
    assert_non_null(dfw_output_find(dfw_output_registry, "file"));
    assert_non_null(dfw_output_find(dfw_output_registry, "syslog"));
    assert_null(dfw_output_find(dfw_output_registry, "fake"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults_then_values),
        cmocka_unit_test(errors_name_file_and_line),
        cmocka_unit_test(prefix_rows_collect_pass_through_keys),
        cmocka_unit_test(registry_has_builtin_outputs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
