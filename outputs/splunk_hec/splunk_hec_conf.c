/* Option table and validation of the Splunk HEC output. docs/splunk-hec.md describes it. */
#include "splunk_hec_conf.h"
#include "dfw/secret.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define OPT(name, type, def, field, help)                                                          \
    {                                                                                              \
        name, type, def, offsetof(struct dfw_out_splunk_hec_conf, field), NULL, 0, help            \
    }

const struct dfw_option dfw_out_splunk_hec_options[] = {
    {"url", DFW_OPT_STRING, NULL, offsetof(struct dfw_out_splunk_hec_conf, url), NULL, 1,
     "HEC base URL, e.g. https://splunk.example.com:8088"},
    OPT("token_file",
        DFW_OPT_STRING,
        NULL,
        token_file,
        "file holding the HEC token (mode 0600 or stricter)"),
    OPT("token_credential",
        DFW_OPT_STRING,
        NULL,
        token_credential,
        "HEC token from $CREDENTIALS_DIRECTORY/<name> (systemd LoadCredential=)"),
    OPT("token_env", DFW_OPT_STRING, NULL, token_env, "HEC token from this environment variable"),
    OPT("index", DFW_OPT_STRING, NULL, index, "Splunk index (default: the token's default index)"),
    OPT("sourcetype",
        DFW_OPT_STRING,
        NULL,
        sourcetype,
        "one sourcetype for every stream (default: per-stream add-on sourcetypes)"),
    OPT("sourcetype_m365d_incidents",
        DFW_OPT_STRING,
        NULL,
        sourcetype_m365d_incidents,
        "sourcetype of m365d-incidents events (default ms365:defender:incident)"),
    OPT("sourcetype_mde_alerts",
        DFW_OPT_STRING,
        NULL,
        sourcetype_mde_alerts,
        "sourcetype of mde-alerts events (default ms:defender:atp:alerts)"),
    OPT("sourcetype_graph_alerts",
        DFW_OPT_STRING,
        NULL,
        sourcetype_graph_alerts,
        "sourcetype of graph-alerts events (default ms365:defender:incident:alerts)"),
    OPT("sourcetype_graph_incidents",
        DFW_OPT_STRING,
        NULL,
        sourcetype_graph_incidents,
        "sourcetype of graph-incidents events (default ms365:defender:incident)"),
    OPT("sourcetype_graph_incident_alerts",
        DFW_OPT_STRING,
        NULL,
        sourcetype_graph_incident_alerts,
        "sourcetype of the alerts split out of graph-incidents (default "
        "ms365:defender:incident:alerts)"),
    OPT("split_alerts",
        DFW_OPT_BOOL,
        "on",
        split_alerts,
        "graph-incidents: the incident without its alerts, and each alert its own event (the "
        "add-on's shape); no: one event per incident with alerts[]"),
    OPT("source",
        DFW_OPT_STRING,
        "defender-forwarder:{stream}:{tenant_id}",
        source,
        "source of each event; {tenant}, {tenant_id} and {stream} are replaced"),
    OPT("host", DFW_OPT_STRING, NULL, host, "host of each event (default: this machine's name)"),
    OPT("ca_file",
        DFW_OPT_STRING,
        NULL,
        ca_file,
        "CA certificates (PEM) to verify the HEC endpoint (default: system store)"),
    OPT("gzip", DFW_OPT_BOOL, "on", gzip, "compress request bodies (Content-Encoding: gzip)"),
    OPT("gzip_level",
        DFW_OPT_INT,
        "6",
        gzip_level,
        "compression level of request bodies (libdeflate): 1 fastest to 9 smallest (default 6)"),
    OPT("ack",
        DFW_OPT_BOOL,
        "on",
        ack,
        "wait for indexer acknowledgement before a batch counts as delivered"),
    OPT("batch_max_events",
        DFW_OPT_INT,
        "1000",
        batch_max_events,
        "most events in one HEC request (1-100000)"),
    OPT("batch_max_bytes",
        DFW_OPT_SIZE,
        "1m",
        batch_max_bytes,
        "most uncompressed bytes in one HEC request (4k-64m)"),
    OPT("batch_timeout_ms",
        DFW_OPT_INT,
        "100",
        batch_timeout_ms,
        "ms to wait for more events before sending a request that is not full, while other pages "
        "are being read"),
    OPT("max_pending",
        DFW_OPT_INT,
        "32",
        max_pending,
        "requests sent but not yet acknowledged before the pipeline is held (back-pressure)"),
    OPT("max_in_flight", DFW_OPT_INT, "4", max_in_flight, "concurrent HTTP requests"),
    OPT("ack_poll_interval_ms",
        DFW_OPT_INT,
        "1000",
        ack_poll_interval_ms,
        "ms between polls of /services/collector/ack"),
    OPT("ack_timeout_ms",
        DFW_OPT_INT,
        "300000",
        ack_timeout_ms,
        "ms to wait for an indexer acknowledgement before sending the request again"),
    OPT("timeout_ms", DFW_OPT_INT, "30000", timeout_ms, "ms for one HTTP request"),
    OPT("connect_timeout_ms",
        DFW_OPT_INT,
        "10000",
        connect_timeout_ms,
        "ms to connect (TCP and TLS)"),
    OPT("max_retries",
        DFW_OPT_INT,
        "4",
        max_retries,
        "retries of a request (503, 429, 5xx, timeouts) before its batch is failed"),
    OPT("retry_min_ms", DFW_OPT_INT, "500", retry_min_ms, "first retry delay (ms)"),
    OPT("retry_max_ms",
        DFW_OPT_INT,
        "30000",
        retry_max_ms,
        "longest retry delay (ms; exponential backoff with jitter)"),
    {NULL, 0, NULL, 0, NULL, 0, NULL},
};

const char *dfw_out_splunk_hec_default_sourcetype(const char *stream)
{
    /* defender-api.md §8.1; graph-alerts: alerts_v2 carries the Defender XDR alert entity, which
     * the add-on indexes as ms365:defender:incident:alerts */
    static const char *const map[][2] = {
        {"graph-incidents", "ms365:defender:incident"},
        {"m365d-incidents", "ms365:defender:incident"},
        {"mde-alerts", "ms:defender:atp:alerts"},
        {"graph-alerts", "ms365:defender:incident:alerts"},
    };
    for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (stream != NULL && strcmp(stream, map[i][0]) == 0) {
            return map[i][1];
        }
    }
    return NULL;
}

const char *dfw_out_splunk_hec_sourcetype(const struct dfw_out_splunk_hec_conf *c,
                                          const char *stream)
{
    const char *per = NULL;
    if (stream != NULL && strcmp(stream, "m365d-incidents") == 0) {
        per = c->sourcetype_m365d_incidents;
    }
    else if (stream != NULL && strcmp(stream, "mde-alerts") == 0) {
        per = c->sourcetype_mde_alerts;
    }
    else if (stream != NULL && strcmp(stream, "graph-alerts") == 0) {
        per = c->sourcetype_graph_alerts;
    }
    else if (stream != NULL && strcmp(stream, "graph-incidents") == 0) {
        per = c->sourcetype_graph_incidents;
    }
    const char *def = dfw_out_splunk_hec_default_sourcetype(stream);
    return per != NULL ? per : c->sourcetype != NULL ? c->sourcetype : def ? def : "defender:event";
}

const char *dfw_out_splunk_hec_alert_sourcetype(const struct dfw_out_splunk_hec_conf *c)
{
    return c->sourcetype_graph_incident_alerts != NULL ? c->sourcetype_graph_incident_alerts
           : c->sourcetype != NULL                     ? c->sourcetype
                                                       : "ms365:defender:incident:alerts";
}

/* http:// sends the token in clear text: only to this machine (a local HEC or a test). */
static int loopback_url(const char *url)
{
    const char *host = url + strlen("http://");
    static const char *const ok[] = {"127.0.0.1", "localhost", "[::1]"};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        size_t n = strlen(ok[i]);
        if (strncasecmp(host, ok[i], n) == 0 &&
            (host[n] == '\0' || host[n] == ':' || host[n] == '/')) {
            return 1;
        }
    }
    return 0;
}

/* {tenant}, {tenant_id} and {stream} are the only placeholders; anything else is a typo. */
static int template_ok(const char *t)
{
    static const char *const names[] = {"{tenant}", "{tenant_id}", "{stream}"};
    for (const char *p = strchr(t, '{'); p != NULL; p = strchr(p + 1, '{')) {
        int known = 0;
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
            known |= strncmp(p, names[i], strlen(names[i])) == 0;
        }
        if (!known) {
            return 0;
        }
    }
    return 1;
}

static dfw_err check_ranges(const struct dfw_out_splunk_hec_conf *c, char *errbuf, size_t errlen)
{
    const struct {
        const char *name;
        long long v, min, max;
    } r[] = {
        {"gzip_level", c->gzip_level, 1, 9},
        {"batch_max_events", c->batch_max_events, 1, 100000},
        {"batch_max_bytes", c->batch_max_bytes, 4096, 64LL * 1024 * 1024},
        {"batch_timeout_ms", c->batch_timeout_ms, 0, 60000},
        {"max_pending", c->max_pending, 1, 4096},
        {"max_in_flight", c->max_in_flight, 1, 64},
        {"ack_poll_interval_ms", c->ack_poll_interval_ms, 10, 600000},
        {"ack_timeout_ms", c->ack_timeout_ms, 100, 86400000},
        {"timeout_ms", c->timeout_ms, 100, 3600000},
        {"connect_timeout_ms", c->connect_timeout_ms, 100, 600000},
        {"max_retries", c->max_retries, 0, 1000},
        {"retry_min_ms", c->retry_min_ms, 1, 3600000},
        {"retry_max_ms", c->retry_max_ms, c->retry_min_ms, 3600000},
    };
    for (size_t i = 0; i < sizeof(r) / sizeof(r[0]); i++) {
        if (r[i].v < r[i].min || r[i].v > r[i].max) {
            return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen, "%s must be between %lld and %lld",
                              r[i].name, r[i].min, r[i].max);
        }
    }
    return DFW_OK;
}

/* A field Splunk shows as a string: printable, no control characters, not empty. */
static int field_ok(const char *s)
{
    if (s == NULL || *s == '\0') {
        return 0;
    }
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return 0;
        }
    }
    return 1;
}

dfw_err
dfw_out_splunk_hec_conf_check(const struct dfw_out_splunk_hec_conf *c, char *errbuf, size_t errlen)
{
    if (c->url == NULL || strncasecmp(c->url, "https://", 8) != 0) {
        if (c->url == NULL || strncasecmp(c->url, "http://", 7) != 0 || !loopback_url(c->url)) {
            return dfw_errorf(
                DFW_ERR_CONFIG, errbuf, errlen,
                "url must start with https:// (http:// only to 127.0.0.1 or localhost)");
        }
    }
    if (strchr(c->url, '?') != NULL || strchr(c->url, '#') != NULL) {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen, "url must not have a query or fragment");
    }
    int sources = (c->token_file != NULL) + (c->token_credential != NULL) + (c->token_env != NULL);
    if (sources != 1) {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen,
                          "exactly one of token_file, token_credential, token_env");
    }
    if (c->token_file != NULL) {
        char why[512];
        if (dfw_secret_check_file(c->token_file, why, sizeof(why)) != DFW_OK) {
            return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen, "token_file: %s", why);
        }
    }
    const struct {
        const char *name, *value;
    } fields[] = {
        {"index", c->index},
        {"sourcetype", c->sourcetype},
        {"sourcetype_m365d_incidents", c->sourcetype_m365d_incidents},
        {"sourcetype_mde_alerts", c->sourcetype_mde_alerts},
        {"sourcetype_graph_alerts", c->sourcetype_graph_alerts},
        {"sourcetype_graph_incidents", c->sourcetype_graph_incidents},
        {"sourcetype_graph_incident_alerts", c->sourcetype_graph_incident_alerts},
        {"source", c->source},
        {"host", c->host},
    };
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        if (fields[i].value != NULL && !field_ok(fields[i].value)) {
            return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen,
                              "%s must not be empty or hold control characters", fields[i].name);
        }
    }
    if (c->host != NULL && strlen(c->host) > 255) {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen, "host: at most 255 bytes");
    }
    if (c->source != NULL && !template_ok(c->source)) {
        return dfw_errorf(DFW_ERR_CONFIG, errbuf, errlen,
                          "source: unknown placeholder (use {tenant}, {tenant_id} or "
                          "{stream})");
    }
    return check_ranges(c, errbuf, errlen);
}
