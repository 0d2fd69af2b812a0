/* The Splunk HEC output's options ([output NAME] type = splunk_hec) and their validation.
 * docs/splunk-hec.md describes the output. */
#ifndef DFW_OUT_SPLUNK_HEC_CONF_H
#define DFW_OUT_SPLUNK_HEC_CONF_H

#include <stddef.h>
#include "dfw/err.h"
#include "dfw/output.h"

/* Filled by dfw_output_conf_parse from dfw_out_splunk_hec_options; strings are owned by the
 * conf. */
struct dfw_out_splunk_hec_conf {
    char *url;              /* https://splunk:8088 (the /services/collector paths are added) */
    char *token_file;       /* the HEC token, a file with mode 0600 or stricter */
    char *token_credential; /* or: a systemd credential name (LoadCredential=) */
    char *token_env;        /* or: an environment variable */
    char *index;            /* NULL: the token's default index */
    char *sourcetype;       /* NULL: per-stream defaults (Splunk Add-on for Microsoft Security) */
    char *sourcetype_m365d_incidents;
    char *sourcetype_mde_alerts;
    char *sourcetype_graph_alerts;
    char *sourcetype_graph_incidents;
    char *sourcetype_graph_incident_alerts; /* the alerts split out of graph-incidents */
    char *source;                           /* template with {tenant}, {tenant_id}, {stream} */
    char *host;                             /* NULL: this machine's host name */
    char *ca_file;        /* NULL: the system's CA store; verification is always on */
    int gzip;             /* Content-Encoding: gzip */
    long long gzip_level; /* libdeflate's level, 1 (fastest) to 9 (smallest); default 6 */
    int ack;              /* indexer acknowledgement */
    int split_alerts;     /* graph-incidents: each expanded alert its own event (default on) */
    long long batch_max_events;
    long long batch_max_bytes; /* uncompressed request body */
    long long batch_timeout_ms;
    long long max_pending;   /* requests sent and not yet acknowledged: back-pressure */
    long long max_in_flight; /* concurrent HTTP requests */
    long long ack_poll_interval_ms;
    long long ack_timeout_ms; /* an ackId not acknowledged by then is a lost ack: send again */
    long long timeout_ms;     /* one HTTP request, connect included */
    long long connect_timeout_ms;
    long long max_retries; /* per request, before the pipeline batch is failed */
    long long retry_min_ms;
    long long retry_max_ms;
};

/* The option table (NULL-name terminated). */
extern const struct dfw_option dfw_out_splunk_hec_options[];

/* Built-in sourcetype of a stream (Splunk Add-on for Microsoft Security, defender-api.md §8.1);
 * NULL for an unknown stream. */
const char *dfw_out_splunk_hec_default_sourcetype(const char *stream);

/* The sourcetype events of stream get: the per-stream option, else sourcetype, else the built-in
 * default, else "defender:event". Never NULL; borrowed from c or static. */
const char *dfw_out_splunk_hec_sourcetype(const struct dfw_out_splunk_hec_conf *c,
                                          const char *stream);

/* The sourcetype of the alerts split out of graph-incidents: sourcetype_graph_incident_alerts,
 * else sourcetype, else "ms365:defender:incident:alerts" (the add-on's). Never NULL. */
const char *dfw_out_splunk_hec_alert_sourcetype(const struct dfw_out_splunk_hec_conf *c);

/* Check a conf (URL scheme, ranges, templates, the token source and its file permissions).
 * DFW_ERR_CONFIG with a message naming the option in errbuf. No I/O but stat(). */
dfw_err
dfw_out_splunk_hec_conf_check(const struct dfw_out_splunk_hec_conf *c, char *errbuf, size_t errlen);

#endif
