/* The Kafka output's options ([output NAME] type = kafka), their validation and the librdkafka
 * producer configuration built from them. docs/kafka.md describes the output. */
#ifndef DFW_OUT_KAFKA_CONF_H
#define DFW_OUT_KAFKA_CONF_H

#include <librdkafka/rdkafka.h>
#include <stddef.h>
#include "dfw/err.h"
#include "dfw/output.h"

/* Enum values follow the order of the option table's "values" strings. */
enum dfw_kafka_format { DFW_KAFKA_FMT_JSON = 0 };
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
    struct dfw_opt_list props;  /* kafka.<property> = value, passed to librdkafka last */
};

/* The option table (NULL-name terminated). */
extern const struct dfw_option dfw_out_kafka_options[];

/* Check a conf (template, brokers, ranges, conflicting properties). DFW_ERR_CONFIG with a message
 * naming the option in errbuf when something is wrong. No I/O. */
dfw_err dfw_out_kafka_conf_check(const struct dfw_out_kafka_conf *c, char *errbuf, size_t errlen);

/* A librdkafka producer configuration: our defaults (idempotence, acks=all, compression, client
 * id naming instance), then every kafka.<property> in file order. Returns NULL with a message in
 * errbuf naming the property (never its value: it may be a password). The caller owns the
 * result (rd_kafka_conf_destroy, or hand it to rd_kafka_new). */
rd_kafka_conf_t *dfw_out_kafka_conf_build(const struct dfw_out_kafka_conf *c,
                                          const char *instance,
                                          char *errbuf,
                                          size_t errlen);

#endif
