/* The Kafka output's options ([output NAME] type = kafka), their validation and the librdkafka
 * producer configuration built from them. docs/kafka.md describes the output. */
#ifndef DFW_OUT_KAFKA_CONF_H
#define DFW_OUT_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include "dfw/err.h"
#include "dfw/output.h"

/* Enum values follow the order of the option table's "values" strings. */
enum dfw_kafka_format { DFW_KAFKA_FMT_JSON = 0, DFW_KAFKA_FMT_CEF = 1, DFW_KAFKA_FMT_LEEF = 2 };
enum dfw_kafka_key { DFW_KAFKA_KEY_ID = 0, DFW_KAFKA_KEY_TENANT_ID = 1, DFW_KAFKA_KEY_NONE = 2 };

/* Longest topic name Kafka accepts. */
#define DFW_KAFKA_TOPIC_MAX 249

/* Filled by dfw_output_conf_parse from dfw_out_kafka_options; strings are owned by the conf. */
struct dfw_out_kafka_conf {
    char *brokers;              /* bootstrap.servers: host:port,... */
    char *topic;                /* template with {tenant} {stream} {kind} */
    int format;                 /* enum dfw_kafka_format */
    int key;                    /* enum dfw_kafka_key */
    int compression;            /* index into "zstd|lz4|gzip|snappy|none" */
    long long delivery_timeout; /* ms: message.timeout.ms, then the batch is re-sent */
    long long flush_timeout;    /* ms: longest wait for delivery reports at shutdown */
    /* sasl.password from a secret (at most one of the three): a file with mode 0600 or stricter,
     * a systemd credential name (LoadCredential=), or an environment variable */
    char *sasl_password_file;
    char *sasl_password_credential;
    char *sasl_password_env;
    struct dfw_opt_list props; /* kafka.<property> = value, applied after our defaults */
};

/* The option table (NULL-name terminated). */
extern const struct dfw_option dfw_out_kafka_options[];

/* Check a conf (template, brokers, ranges, conflicting properties, at most one sasl_password_*
 * source and not together with kafka.sasl.password, a sasl_password_file that is a regular file
 * without group/world permissions). DFW_ERR_CONFIG with a message naming the option in errbuf when
 * something is wrong. Reads nothing but the secret file's metadata (stat); never its content. */
dfw_err dfw_out_kafka_conf_check(const struct dfw_out_kafka_conf *c, char *errbuf, size_t errlen);

/* 1 when the conf writes the SASL password inline (kafka.sasl.password), which the output accepts
 * but warns about: sasl_password_file keeps it out of the configuration file. */
int dfw_out_kafka_conf_inline_password(const struct dfw_out_kafka_conf *c);

/* A librdkafka producer configuration: our defaults (idempotence, acks=all, compression, client
 * id naming instance), then every kafka.<property> in file order, then sasl.password read from
 * the sasl_password_* source with dfw_secret_read (read again at each call, so a new producer
 * picks up a rotated password; the copy read is wiped after librdkafka copied it). Returns NULL
 * with a message in errbuf naming the property or the secret's file/variable (never a value: it
 * may be a password). The caller owns the result (rd_kafka_conf_destroy, or hand it to
 * rd_kafka_new). */
rd_kafka_conf_t *dfw_out_kafka_conf_build(const struct dfw_out_kafka_conf *c,
                                          const char *instance,
                                          char *errbuf,
                                          size_t errlen);

#endif
