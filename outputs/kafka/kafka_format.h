/* What the Kafka output makes of one event, without I/O: topic, key, headers and value. */
#ifndef DFW_OUT_KAFKA_FORMAT_H
#define DFW_OUT_KAFKA_FORMAT_H

#include <stddef.h>
#include "dfw/buf.h"
#include "dfw/err.h"
#include "dfw/event.h"

/* Headers on every message, in this order: tenant, stream, kind, last_update. */
#define DFW_KAFKA_NHEADERS 4

struct dfw_kafka_header {
    const char *name;
    const char *value; /* borrowed from the event */
};

/* Check a topic template: only the placeholders {tenant}, {stream} and {kind}, and otherwise the
 * characters Kafka allows in a topic name (A-Z a-z 0-9 . _ -). DFW_ERR_CONFIG with a reason in
 * why. */
dfw_err dfw_out_kafka_topic_check(const char *tmpl, char *why, size_t whylen);

/* Render the topic of ev from a checked template into out (NUL-terminated). DFW_ERR_INVALID when
 * the name would be longer than Kafka's 249 characters or hold a character Kafka refuses. */
dfw_err dfw_out_kafka_topic(const char *tmpl, const struct dfw_event *ev, char *out, size_t outlen);

/* The message key of ev for key mode (enum dfw_kafka_key) into out; *len is 0 for no key.
 * DFW_ERR_INVALID when it does not fit. */
dfw_err
dfw_out_kafka_key(int mode, const struct dfw_event *ev, char *out, size_t outlen, size_t *len);

/* The headers of ev (values borrowed from ev; a missing value becomes ""). */
void dfw_out_kafka_headers(const struct dfw_event *ev,
                           struct dfw_kafka_header h[DFW_KAFKA_NHEADERS]);

/* The message value of ev for format mode (enum dfw_kafka_format): the record as compact JSON
 * (*value borrowed from ev, scratch untouched) or its CEF or LEEF line without a syslog header and
 * without a size limit (dfw_cef_format, dfw_leef_format; *value points into scratch, which is
 * reset first and owned by the caller). *value stays valid until ev or scratch changes. DFW_OK
 * or DFW_ERR_NOMEM. */
dfw_err dfw_out_kafka_value(int format,
                            const struct dfw_event *ev,
                            struct dfw_buf *scratch,
                            const char **value,
                            size_t *len);

/* The message value of ev (dfw_out_kafka_value for conf's format; JSON when conf is NULL),
 * appended to out. The plugin's format(). */
dfw_err dfw_out_kafka_format(const void *conf, const struct dfw_event *ev, struct dfw_buf *out);

#endif
