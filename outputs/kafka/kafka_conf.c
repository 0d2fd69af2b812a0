/* Option table and validation of the Kafka output, and the producer configuration built from it.
 * docs/kafka.md describes the output. */
#include "kafka_conf.h"
#include "kafka_format.h"

#include "dfw/secret.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OPT(name, type, def, field, values, req, help)                                             \
    {                                                                                              \
        name, type, def, offsetof(struct dfw_out_kafka_conf, field), values, req, help             \
    }

#define CODECS "zstd|lz4|gzip|snappy|none"

const struct dfw_option dfw_out_kafka_options[] = {
    OPT("brokers",
        DFW_OPT_STRING,
        NULL,
        brokers,
        NULL,
        1,
        "bootstrap brokers: host:port[,host:port...]"),
    OPT("topic",
        DFW_OPT_STRING,
        "defender.{stream}",
        topic,
        NULL,
        0,
        "topic name template with {tenant}, {stream} and {kind}"),
    OPT("format",
        DFW_OPT_ENUM,
        "json",
        format,
        "json|cef|leef",
        0,
        "message value: the record as JSON, or its CEF or LEEF line (no syslog header)"),
    OPT("key",
        DFW_OPT_ENUM,
        "id",
        key,
        "id|tenant-id|none",
        0,
        "message key: the alert or incident id, tenant/id, or none"),
    OPT("compression", DFW_OPT_ENUM, "zstd", compression, CODECS, 0, "compression codec"),
    OPT("delivery_timeout",
        DFW_OPT_DURATION,
        "120s",
        delivery_timeout,
        NULL,
        0,
        "give up on a record after this long (message.timeout.ms); the batch is then re-sent"),
    OPT("flush_timeout",
        DFW_OPT_DURATION,
        "10s",
        flush_timeout,
        NULL,
        0,
        "longest wait for outstanding delivery reports at shutdown"),
    OPT("sasl_password_file",
        DFW_OPT_STRING,
        NULL,
        sasl_password_file,
        NULL,
        0,
        "sasl.password from this file (mode 0600 or stricter)"),
    OPT("sasl_password_credential",
        DFW_OPT_STRING,
        NULL,
        sasl_password_credential,
        NULL,
        0,
        "sasl.password from this systemd credential (LoadCredential=)"),
    OPT("sasl_password_env",
        DFW_OPT_STRING,
        NULL,
        sasl_password_env,
        NULL,
        0,
        "sasl.password from this environment variable"),
    OPT("kafka.",
        DFW_OPT_PREFIX,
        NULL,
        props,
        NULL,
        0,
        "kafka.<property> = value: any librdkafka producer property (SASL, TLS, batching)"),
    {NULL, 0, NULL, 0, NULL, 0, NULL},
};

/* Properties the output sets itself from its own options or must own (callbacks, opaque). */
static const char *const owned[][2] = {
    {"bootstrap.servers", "brokers"},           {"metadata.broker.list", "brokers"},
    {"message.timeout.ms", "delivery_timeout"}, {"delivery.timeout.ms", "delivery_timeout"},
    {"compression.codec", "compression"},       {"compression.type", "compression"},
};

dfw_err dfw_out_kafka_conf_check(const struct dfw_out_kafka_conf *c, char *errbuf, size_t errlen)
{
    if (c->brokers == NULL || strspn(c->brokers, " ,") == strlen(c->brokers)) {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen,
                          "brokers must list at least one host:port");
    }
    char why[256];
    if (dfw_out_kafka_topic_check(c->topic, why, sizeof(why)) != DFW_OK) {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen, "topic '%s': %s",
                          c->topic ? c->topic : "", why);
    }
    if (c->delivery_timeout < 1000 || c->delivery_timeout > 2147483647LL) {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen, "delivery_timeout must be at least 1s");
    }
    if (c->flush_timeout < 0 || c->flush_timeout > 3600000LL) {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen, "flush_timeout must be between 0 and 1h");
    }
    for (size_t i = 0; i < c->props.count; i++) {
        const char *k = c->props.items[i].key;
        for (size_t j = 0; j < sizeof(owned) / sizeof(owned[0]); j++) {
            if (strcasecmp(k, owned[j][0]) == 0) {
                return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen,
                                  "kafka.%s: set it with the %s option", k, owned[j][1]);
            }
        }
    }
    int sources = (c->sasl_password_file != NULL) + (c->sasl_password_credential != NULL) +
                  (c->sasl_password_env != NULL);
    if (sources > 1) {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen,
                          "at most one of sasl_password_file, sasl_password_credential, "
                          "sasl_password_env");
    }
    if (sources == 1 && dfw_out_kafka_conf_inline_password(c)) {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen,
                          "kafka.sasl.password: the password is already set by sasl_password_*");
    }
    if (c->sasl_password_file != NULL) {
        char reason[512];
        if (dfw_secret_check_file(c->sasl_password_file, reason, sizeof(reason)) != DFW_OK) {
            return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen, "sasl_password_file: %s", reason);
        }
    }
    return DFW_OK;
}

int dfw_out_kafka_conf_inline_password(const struct dfw_out_kafka_conf *c)
{
    for (size_t i = 0; i < c->props.count; i++) {
        if (strcasecmp(c->props.items[i].key, "sasl.password") == 0) {
            return 1;
        }
    }
    return 0;
}

static const char *codec_name(int idx)
{
    static const char *const names[] = {"zstd", "lz4", "gzip", "snappy", "none"};
    return idx >= 0 && idx < 5 ? names[idx] : "none";
}

static int set(rd_kafka_conf_t *conf,
               const char *key,
               const char *value,
               const char *shown_as,
               char *errbuf,
               size_t errlen)
{
    char why[512];
    if (rd_kafka_conf_set(conf, key, value, why, sizeof(why)) != RD_KAFKA_CONF_OK) {
        /* librdkafka's text names the property and, for enums, the allowed values; it may quote
         * the value, which can be a password: then say less */
        if (value[0] != '\0' && strstr(why, value) != NULL) {
            snprintf(errbuf, errlen, "%s: invalid value", shown_as);
        }
        else {
            snprintf(errbuf, errlen, "%s: %s", shown_as, why);
        }
        return -1;
    }
    return 0;
}

/* Set sasl.password from the conf's sasl_password_* source, if any. */
static int set_secret_password(rd_kafka_conf_t *conf,
                               const struct dfw_out_kafka_conf *c,
                               char *errbuf,
                               size_t errlen)
{
    struct dfw_secret_ref ref = {c->sasl_password_file, c->sasl_password_credential,
                                 c->sasl_password_env};
    const char *shown = c->sasl_password_file         ? "sasl_password_file"
                        : c->sasl_password_credential ? "sasl_password_credential"
                        : c->sasl_password_env        ? "sasl_password_env"
                                                      : NULL;
    if (shown == NULL) {
        return 0;
    }
    char *password = NULL, why[512];
    if (dfw_secret_read(&ref, &password, NULL, why, sizeof(why)) != DFW_OK) {
        snprintf(errbuf, errlen, "%s: %s", shown, why); /* names the file or variable only */
        return -1;
    }
    int rc = set(conf, "sasl.password", password, shown, errbuf, errlen);
    dfw_secret_free(password); /* librdkafka keeps its own copy */
    return rc;
}

rd_kafka_conf_t *dfw_out_kafka_conf_build(const struct dfw_out_kafka_conf *c,
                                          const char *instance,
                                          char *errbuf,
                                          size_t errlen)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    if (conf == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    char client_id[256], timeout[32];
    snprintf(client_id, sizeof(client_id), "defender-forwarder-%s", instance);
    snprintf(timeout, sizeof(timeout), "%lld", c->delivery_timeout);
    const char *defaults[][3] = {
        {"bootstrap.servers", c->brokers, "brokers"},
        {"client.id", client_id, "client.id"},
        {"enable.idempotence", "true", "enable.idempotence"},
        {"acks", "all", "acks"},
        {"compression.codec", codec_name(c->compression), "compression"},
        {"message.timeout.ms", timeout, "delivery_timeout"},
        /* a broker that is down is retried quickly: the checkpoint waits, not the records */
        {"reconnect.backoff.max.ms", "2000", "reconnect.backoff.max.ms"},
    };
    for (size_t i = 0; i < sizeof(defaults) / sizeof(defaults[0]); i++) {
        if (set(conf, defaults[i][0], defaults[i][1], defaults[i][2], errbuf, errlen) != 0) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    for (size_t i = 0; i < c->props.count; i++) {
        char shown[300];
        snprintf(shown, sizeof(shown), "kafka.%s", c->props.items[i].key);
        if (set(conf, c->props.items[i].key, c->props.items[i].value, shown, errbuf, errlen) != 0) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    }
    if (set_secret_password(conf, c, errbuf, errlen) != 0) {
        rd_kafka_conf_destroy(conf);
        return NULL;
    }
    return conf;
}
