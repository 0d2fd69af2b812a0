/* The HEC wire protocol apart from HTTP itself: replies, error codes, indexer acknowledgement
 * queries. Pure functions (the test seam). Source: Splunk's "Troubleshoot HTTP Event Collector"
 * status codes and "About HTTP Event Collector Indexer Acknowledgment". */
#ifndef DFW_OUT_SPLUNK_HEC_PROTO_H
#define DFW_OUT_SPLUNK_HEC_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/buf.h"
#include "dfw/err.h"

/* A reply body such as {"text":"Success","code":0,"ackId":7}. */
struct dfw_out_splunk_hec_reply {
    int code;       /* HEC status code, -1 when absent */
    int has_ack_id; /* 1 when ackId was present */
    uint64_t ack_id;
    char text[160]; /* "text", printable ASCII only (it is logged), "" when absent */
};

/* Parse a reply body; anything unparseable leaves code -1 and no ackId. */
void dfw_out_splunk_hec_parse_reply(const char *body,
                                    size_t len,
                                    struct dfw_out_splunk_hec_reply *r);

/* What an answer to an event POST means for the request: DFW_OK (delivered), DFW_ERR_RETRY
 * (503, 5xx, 408, an unknown channel: send again after a backoff), DFW_ERR_THROTTLED (429), or
 * a permanent failure that needs an operator: DFW_ERR_AUTH (401/403: token invalid or disabled),
 * DFW_ERR_CONFIG (wrong index, URL, channel or acknowledgement setting), DFW_ERR_INVALID (the data
 * or request size was refused). *advice (may be NULL) gets one sentence for the log, never
 * NULL. status 0 (no HTTP answer) is DFW_ERR_RETRY. */
dfw_err dfw_out_splunk_hec_classify(long status,
                                    const struct dfw_out_splunk_hec_reply *r,
                                    const char **advice);

/* Splunk's text for a HEC status code ("Invalid token"), or "unknown code". */
const char *dfw_out_splunk_hec_code_text(int code);

/* Append {"acks":[id,id,...]} for an /services/collector/ack query. */
dfw_err dfw_out_splunk_hec_ack_query(const uint64_t *ids, size_t n, struct dfw_buf *out);

/* Parse {"acks":{"7":true,"8":false}}: acked[i] becomes 1 for each ids[i] reported true (others
 * are left alone). DFW_ERR_INVALID when the body is not such an object. */
dfw_err dfw_out_splunk_hec_parse_acks(
    const char *body, size_t len, const uint64_t *ids, int *acked, size_t n);

/* A random channel GUID (RFC 4122 version 4, lower case) into out (>= 37 bytes). DFW_ERR_IO
 * when no randomness is available. */
dfw_err dfw_out_splunk_hec_channel(char *out, size_t outlen);

#endif
