/* Metrics in the Prometheus text exposition format: rendered on the loop thread, written to
 * metrics_file (atomically, for node_exporter's textfile collector) and served on metrics_listen
 * (metrics_http.c). With metrics_per_tenant = no every series is summed (gauges: maximum or
 * count) per stream, so 10,000 tenants give a few dozen series instead of about 20 per stream
 * and tenant. */
#include "engine_internal.h"
#include "dfw/log.h"
#include "dfw/timeutil.h"

#include <stdio.h>
#include <string.h>

#define NSTREAMS_MAX 8

static const struct {
    const char *name;
    const char *help;
    size_t off;
} counters[] = {
    {"dfw_records_fetched_total", "Records received from the API", offsetof(struct job, fetched)},
    {"dfw_records_duplicate_total", "Records dropped as already delivered",
     offsetof(struct job, duplicates)},
    {"dfw_events_delivered_total", "Events acknowledged by every output",
     offsetof(struct job, delivered)},
    {"dfw_api_requests_total", "API page requests", offsetof(struct job, api_calls)},
    {"dfw_api_throttled_total", "HTTP 429 answers", offsetof(struct job, throttled)},
    {"dfw_api_response_bytes_total", "Response bytes", offsetof(struct job, bytes)},
    {"dfw_records_late_total",
     "Records delivered whose last-update time lies before the previous sweep's end (visible "
     "late; raise settle_delay or overlap if this grows)",
     offsetof(struct job, late)},
};
#define NCOUNTERS (sizeof(counters) / sizeof(counters[0]))

static const char *const anomaly_names[AN_COUNT] = {
    [AN_FULL_NO_NEXT] = "full_page_without_next_link",
    [AN_FOREIGN_NEXT] = "next_link_to_other_host",
    [AN_OVERFULL] = "more_rows_than_top",
    [AN_SKIP_LIMIT] = "skip_limit",
    [AN_SAMPLED] = "ties_read_by_sampling",
    [AN_COUNT_CHANGED] = "count_changed",
    [AN_OUTSIDE_SLICE] = "row_outside_slice",
};

static uint64_t field(const struct job *j, size_t off)
{
    return *(const uint64_t *)(const void *)((const char *)j + off);
}

/* A label value: \, " and line breaks escaped (exposition format). */
static void label(struct dfw_buf *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"') {
            dfw_buf_printf(out, "\\%c", *v);
        }
        else if (*v == '\n') {
            dfw_buf_append(out, "\\n", 2);
        }
        else {
            dfw_buf_append(out, v, 1);
        }
    }
}

static void job_labels(struct dfw_buf *out, const char *tenant, const char *stream)
{
    dfw_buf_append(out, "{", 1);
    if (tenant != NULL) {
        dfw_buf_append(out, "tenant=\"", 8);
        label(out, tenant);
        dfw_buf_append(out, "\",", 2);
    }
    dfw_buf_printf(out, "stream=\"%s\"", stream);
}

static void head(struct dfw_buf *out, const char *name, const char *type, const char *help)
{
    dfw_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Per stream sums for metrics_per_tenant = no. */
struct agg {
    const char *stream;
    uint64_t c[NCOUNTERS];
    uint64_t anomalies[AN_COUNT];
    double max_lag;
    uint64_t failing, pairs, jobs;
};

static size_t aggregate(const struct dfw_engine *e, struct agg *a, int64_t now)
{
    size_t n = 0;
    FOR_EACH_JOB(e, j)
    {
        size_t k;
        for (k = 0; k < n && strcmp(a[k].stream, j->def->name) != 0; k++) {
        }
        if (k == n) {
            if (n == NSTREAMS_MAX) {
                continue;
            }
            memset(&a[n], 0, sizeof(a[n]));
            a[n++].stream = j->def->name;
        }
        for (size_t c = 0; c < NCOUNTERS; c++) {
            a[k].c[c] += field(j, counters[c].off);
        }
        for (int x = 0; x < AN_COUNT; x++) {
            a[k].anomalies[x] += j->anomalies[x];
        }
        double lag = (double)(now - j->cursor.high_water_ms) / 1000.0;
        a[k].max_lag = lag > a[k].max_lag ? lag : a[k].max_lag;
        a[k].failing += j->failing || j->state == J_FAILED;
        a[k].pairs += dfw_cursor_seen_count(&j->cursor);
        a[k].jobs++;
    }
    return n;
}

static void render_aggregate(const struct dfw_engine *e, struct dfw_buf *out, int64_t now)
{
    struct agg a[NSTREAMS_MAX];
    size_t n = aggregate(e, a, now);
    for (size_t c = 0; c < NCOUNTERS; c++) {
        head(out, counters[c].name, "counter", counters[c].help);
        for (size_t k = 0; k < n; k++) {
            dfw_buf_printf(out, "%s{stream=\"%s\"} %llu\n", counters[c].name, a[k].stream,
                           (unsigned long long)a[k].c[c]);
        }
    }
    head(out, "dfw_checkpoint_lag_seconds", "gauge", "Age of the oldest checkpoint of the stream");
    for (size_t k = 0; k < n; k++) {
        dfw_buf_printf(out, "dfw_checkpoint_lag_seconds{stream=\"%s\"} %.3f\n", a[k].stream,
                       a[k].max_lag);
    }
    head(out, "dfw_streams_failing", "gauge", "Tenants whose stream keeps failing");
    for (size_t k = 0; k < n; k++) {
        dfw_buf_printf(out, "dfw_streams_failing{stream=\"%s\"} %llu\n", a[k].stream,
                       (unsigned long long)a[k].failing);
    }
    head(out, "dfw_paging_anomalies_total", "counter",
         "Answers whose paging the window planner had to work around, by kind");
    for (size_t k = 0; k < n; k++) {
        for (int x = 0; x < AN_COUNT; x++) {
            dfw_buf_printf(out, "dfw_paging_anomalies_total{stream=\"%s\",kind=\"%s\"} %llu\n",
                           a[k].stream, anomaly_names[x], (unsigned long long)a[k].anomalies[x]);
        }
    }
    head(out, "dfw_dedup_pairs", "gauge", "Remembered (id, last-update) pairs");
    for (size_t k = 0; k < n; k++) {
        dfw_buf_printf(out, "dfw_dedup_pairs{stream=\"%s\"} %llu\n", a[k].stream,
                       (unsigned long long)a[k].pairs);
    }
}

static void render_per_tenant(const struct dfw_engine *e, struct dfw_buf *out, int64_t now)
{
    for (size_t c = 0; c < NCOUNTERS; c++) {
        head(out, counters[c].name, "counter", counters[c].help);
        FOR_EACH_JOB(e, j)
        {
            dfw_buf_append(out, counters[c].name, strlen(counters[c].name));
            job_labels(out, j->tenant->conf->name, j->def->name);
            dfw_buf_printf(out, "} %llu\n", (unsigned long long)field(j, counters[c].off));
        }
    }
    head(out, "dfw_checkpoint_lag_seconds", "gauge", "Age of the checkpoint");
    FOR_EACH_JOB(e, j)
    {
        dfw_buf_append(out, "dfw_checkpoint_lag_seconds", 26);
        job_labels(out, j->tenant->conf->name, j->def->name);
        dfw_buf_printf(out, "} %.3f\n", (double)(now - j->cursor.high_water_ms) / 1000.0);
    }
    head(out, "dfw_stream_failing", "gauge", "1 when the stream keeps failing (checkpoint held)");
    FOR_EACH_JOB(e, j)
    {
        dfw_buf_append(out, "dfw_stream_failing", 18);
        job_labels(out, j->tenant->conf->name, j->def->name);
        dfw_buf_printf(out, "} %d\n", j->failing || j->state == J_FAILED);
    }
    head(out, "dfw_paging_anomalies_total", "counter",
         "Answers whose paging the window planner had to work around, by kind");
    FOR_EACH_JOB(e, j)
    {
        for (int a = 0; a < AN_COUNT; a++) {
            dfw_buf_append(out, "dfw_paging_anomalies_total", 26);
            job_labels(out, j->tenant->conf->name, j->def->name);
            dfw_buf_printf(out, ",kind=\"%s\"} %llu\n", anomaly_names[a],
                           (unsigned long long)j->anomalies[a]);
        }
    }
    head(out, "dfw_dedup_pairs", "gauge", "Remembered (id, last-update) pairs");
    FOR_EACH_JOB(e, j)
    {
        dfw_buf_append(out, "dfw_dedup_pairs", 15);
        job_labels(out, j->tenant->conf->name, j->def->name);
        dfw_buf_printf(out, "} %zu\n", dfw_cursor_seen_count(&j->cursor));
    }
    head(out, "dfw_token_requests_total", "counter", "Access-token requests");
    for (size_t i = 0; i < e->ntenants; i++) {
        dfw_buf_append(out, "dfw_token_requests_total{tenant=\"", 33);
        label(out, e->tenants[i]->conf->name);
        dfw_buf_printf(out, "\"} %llu\n", (unsigned long long)e->tenants[i]->token_requests);
    }
}

void dfw__metrics_render(const struct dfw_engine *e, struct dfw_buf *out)
{
    int64_t now = dfw_now_ms();
    if (e->cfg->metrics_per_tenant) {
        render_per_tenant(e, out, now);
    }
    else {
        render_aggregate(e, out, now);
    }
    head(out, "dfw_output_events_acked_total", "counter", "Events acknowledged per output");
    for (size_t o = 0; o < e->noutputs; o++) {
        dfw_buf_append(out, "dfw_output_events_acked_total{output=\"", 38);
        label(out, e->outputs[o].name);
        dfw_buf_printf(out, "\"} %llu\n", (unsigned long long)e->out_acked[o]);
    }
    head(out, "dfw_tenants", "gauge", "Tenants configured");
    dfw_buf_printf(out, "dfw_tenants %zu\n", e->ntenants);
    head(out, "dfw_jobs", "gauge", "Streams of all tenants, and how many are delivering");
    dfw_buf_printf(out, "dfw_jobs %zu\ndfw_jobs_delivering %zu\n", e->njobs, e->ndelivering);
    head(out, "dfw_checkpoint_commits_total", "counter",
         "Checkpoint transactions written (each holds many checkpoints: group commit)");
    dfw_buf_printf(out, "dfw_checkpoint_commits_total %llu\n",
                   (unsigned long long)dfw_state_commits(e->state));
    head(out, "dfw_checkpoint_store_up", "gauge", "0 while checkpoints cannot be written");
    dfw_buf_printf(out, "dfw_checkpoint_store_up %d\n", !e->store_down);
}

void dfw__engine_write_metrics(const struct dfw_engine *e)
{
    struct dfw_buf text = DFW_BUF_INIT;
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", e->cfg->metrics_file);
    dfw__metrics_render(e, &text);
    FILE *f = fopen(tmp, "w");
    if (f == NULL || fwrite(text.data, 1, text.len, f) != text.len) {
        dfw_log(DFW_LOG_WARN, "metrics", "msg=\"cannot write %s\"", DFW_LOG_ESC(tmp));
        if (f != NULL) {
            fclose(f);
        }
        dfw_buf_free(&text);
        return;
    }
    if (fclose(f) != 0 || rename(tmp, e->cfg->metrics_file) != 0) {
        dfw_log(DFW_LOG_WARN, "metrics", "msg=\"cannot write %s\"",
                DFW_LOG_ESC(e->cfg->metrics_file));
    }
    dfw_buf_free(&text);
}
