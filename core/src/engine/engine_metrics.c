/* Prometheus text exposition written to metrics_file (atomically) for node_exporter's textfile
 * collector or any scraper. */
#include "engine_internal.h"
#include "dfw/log.h"
#include "dfw/timeutil.h"

#include <stdio.h>
#include <string.h>

void dfw__engine_write_metrics(const struct dfw_engine *e)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", e->cfg->metrics_file);
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        dfw_log(DFW_LOG_WARN, "metrics", "msg=\"cannot write %s\"", tmp);
        return;
    }
    static const struct {
        const char *name;
        const char *help;
        size_t off;
    } counters[] = {
        {"dfw_records_fetched_total", "Records received from the API",
         offsetof(struct job, fetched)},
        {"dfw_records_duplicate_total", "Records dropped as already delivered",
         offsetof(struct job, duplicates)},
        {"dfw_events_delivered_total", "Events acknowledged by every output",
         offsetof(struct job, delivered)},
        {"dfw_api_requests_total", "API page requests", offsetof(struct job, api_calls)},
        {"dfw_api_throttled_total", "HTTP 429 answers", offsetof(struct job, throttled)},
        {"dfw_api_response_bytes_total", "Response bytes", offsetof(struct job, bytes)},
        {"dfw_records_late_total",
         "Records delivered whose last-update time lies before the previous sweep's end "
         "(visible late; raise settle_delay or overlap if this grows)",
         offsetof(struct job, late)},
    };
    for (size_t c = 0; c < sizeof(counters) / sizeof(counters[0]); c++) {
        fprintf(f, "# HELP %s %s\n# TYPE %s counter\n", counters[c].name, counters[c].help,
                counters[c].name);
        FOR_EACH_JOB(e, j)
        {
            fprintf(f, "%s{tenant=\"%s\",stream=\"%s\"} %llu\n", counters[c].name,
                    j->tenant->conf->name, j->def->name,
                    (unsigned long long)*(const uint64_t *)(const void *)((const char *)j +
                                                                          counters[c].off));
        }
    }
    int64_t now = dfw_now_ms();
    fprintf(f, "# HELP dfw_checkpoint_lag_seconds Age of the checkpoint\n"
               "# TYPE dfw_checkpoint_lag_seconds gauge\n");
    FOR_EACH_JOB(e, j)
    {
        fprintf(f, "dfw_checkpoint_lag_seconds{tenant=\"%s\",stream=\"%s\"} %.3f\n",
                j->tenant->conf->name, j->def->name,
                (double)(now - j->cursor.high_water_ms) / 1000.0);
    }
    fprintf(f, "# HELP dfw_stream_failing 1 when the stream keeps failing (checkpoint held)\n"
               "# TYPE dfw_stream_failing gauge\n");
    FOR_EACH_JOB(e, j)
    {
        fprintf(f, "dfw_stream_failing{tenant=\"%s\",stream=\"%s\"} %d\n", j->tenant->conf->name,
                j->def->name, j->failing || j->state == J_FAILED);
    }
    static const char *const anomaly_names[AN_COUNT] = {
        [AN_FULL_NO_NEXT] = "full_page_without_next_link",
        [AN_FOREIGN_NEXT] = "next_link_to_other_host",
        [AN_OVERFULL] = "more_rows_than_top",
        [AN_SKIP_LIMIT] = "skip_limit",
        [AN_SAMPLED] = "ties_read_by_sampling",
        [AN_COUNT_CHANGED] = "count_changed",
        [AN_OUTSIDE_SLICE] = "row_outside_slice",
    };
    fprintf(f, "# HELP dfw_paging_anomalies_total Answers whose paging the window planner had to "
               "work around, by kind\n# TYPE dfw_paging_anomalies_total counter\n");
    FOR_EACH_JOB(e, j)
    {
        for (int a = 0; a < AN_COUNT; a++) {
            fprintf(f, "dfw_paging_anomalies_total{tenant=\"%s\",stream=\"%s\",kind=\"%s\"} %llu\n",
                    j->tenant->conf->name, j->def->name, anomaly_names[a],
                    (unsigned long long)j->anomalies[a]);
        }
    }
    fprintf(f, "# HELP dfw_dedup_pairs Remembered (id, last-update) pairs\n"
               "# TYPE dfw_dedup_pairs gauge\n");
    FOR_EACH_JOB(e, j)
    {
        fprintf(f, "dfw_dedup_pairs{tenant=\"%s\",stream=\"%s\"} %zu\n", j->tenant->conf->name,
                j->def->name, dfw_cursor_seen_count(&j->cursor));
    }
    fprintf(f, "# HELP dfw_token_requests_total Access-token requests\n"
               "# TYPE dfw_token_requests_total counter\n");
    for (size_t i = 0; i < e->ntenants; i++) {
        fprintf(f, "dfw_token_requests_total{tenant=\"%s\"} %llu\n", e->tenants[i]->conf->name,
                (unsigned long long)e->tenants[i]->token_requests);
    }
    fprintf(f, "# HELP dfw_output_events_acked_total Events acknowledged per output\n"
               "# TYPE dfw_output_events_acked_total counter\n");
    for (size_t o = 0; o < e->noutputs; o++) {
        fprintf(f, "dfw_output_events_acked_total{output=\"%s\"} %llu\n", e->outputs[o].name,
                (unsigned long long)e->out_acked[o]);
    }
    if (fclose(f) != 0 || rename(tmp, e->cfg->metrics_file) != 0) {
        dfw_log(DFW_LOG_WARN, "metrics", "msg=\"cannot write %s\"", e->cfg->metrics_file);
    }
}
