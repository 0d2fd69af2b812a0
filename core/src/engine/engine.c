/* The engine loop: jobs are created here and stepped on every turn of the libcurl multi loop;
 * the outputs are polled; --once ends when every job is done or failed. */
#include "engine_internal.h"
#include "dfw/log.h"
#include "dfw/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define STOP_GRACE_MS 10000

static struct token_slot *slot_for(struct tenant_rt *t, const char *resource)
{
    for (size_t i = 0; i < t->nslots; i++) {
        if (strcmp(t->slots[i].resource, resource) == 0) {
            return &t->slots[i];
        }
    }
    struct token_slot *s = &t->slots[t->nslots++];
    memset(s, 0, sizeof(*s));
    s->tenant = t;
    s->resource = resource;
    return s;
}

static void bucket_init(struct bucket *b, int per_period, int64_t period_ms, int64_t now)
{
    b->capacity = per_period > 0 ? per_period : 0;
    b->tokens = b->capacity;
    b->per_ms = per_period > 0 ? (double)per_period / (double)period_ms : 0;
    b->last = now;
}

static dfw_err tenant_init(struct dfw_engine *e,
                           struct tenant_rt *t,
                           const struct dfw_tenant_conf *tc,
                           char *errbuf,
                           size_t errlen)
{
    t->engine = e;
    t->conf = tc;
    t->cloud = dfw_cloud_find(tc->cloud ? tc->cloud : "global");
    if (t->cloud == NULL) {
        snprintf(errbuf, errlen, "tenant %s: unknown cloud %s", tc->name, tc->cloud);
        return DFW_ERR_CONFIG;
    }
    t->defender_url = tc->defender_url ? tc->defender_url : t->cloud->defender_url;
    t->graph_url = tc->graph_url ? tc->graph_url : t->cloud->graph_url;
    /* defender_url overrides both Defender hosts (a regional host or the emulator) */
    t->mde_url = tc->defender_url ? tc->defender_url : t->cloud->mde_url;
    t->auth = dfw_auth_new(tc, tc->login_url ? tc->login_url : t->cloud->login_url, errbuf, errlen);
    return t->auth ? DFW_OK : DFW_ERR_AUTH;
}

struct dfw_engine *dfw_engine_new(const struct dfw_config *cfg,
                                  struct dfw_output *outputs,
                                  size_t noutputs,
                                  struct dfw_state *state,
                                  char *errbuf,
                                  size_t errlen)
{
    if (noutputs == 0 || noutputs > 16) {
        snprintf(errbuf, errlen, "between 1 and 16 outputs are supported (have %zu)", noutputs);
        return NULL;
    }
    struct dfw_engine *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        snprintf(errbuf, errlen, "out of memory");
        return NULL;
    }
    e->cfg = cfg;
    e->outputs = outputs;
    e->noutputs = noutputs;
    e->state = state;
    e->stop_grace_ms = STOP_GRACE_MS;
    for (size_t o = 0; o < noutputs; o++) {
        if (!(outputs[o].plugin->flags & DFW_OUTPUT_ACK_WAKES)) {
            e->polled_outputs |= 1u << o;
        }
    }
    struct dfw_http_opts ho = {
        .ca_file = cfg->ca_file,
        .timeout_ms = cfg->http_timeout_ms,
        .connect_timeout_ms = cfg->connect_timeout_ms,
        .max_connections = cfg->max_connections,
        .user_agent = "defender-forwarder/" DFW_VERSION,
    };
    e->http = dfw_http_new(&ho, errbuf, errlen);
    e->tenants = calloc(cfg->ntenants ? cfg->ntenants : 1, sizeof(*e->tenants));
    size_t njobs = 0;
    for (size_t i = 0; i < cfg->ntenants; i++) {
        njobs += cfg->tenants[i].nstreams;
    }
    e->jobs = calloc(njobs ? njobs : 1, sizeof(*e->jobs));
    e->out_acked = calloc(noutputs, sizeof(*e->out_acked));
    if (e->http == NULL || e->tenants == NULL || e->jobs == NULL || e->out_acked == NULL) {
        if (e->http != NULL) {
            snprintf(errbuf, errlen, "out of memory");
        }
        dfw_engine_free(e);
        return NULL;
    }
    int64_t now = dfw_mono_ms();
    for (size_t i = 0; i < cfg->ntenants; i++) {
        struct tenant_rt *t = &e->tenants[e->ntenants];
        if (tenant_init(e, t, &cfg->tenants[i], errbuf, errlen) != DFW_OK) {
            dfw_auth_free(t->auth);
            dfw_engine_free(e);
            return NULL;
        }
        e->ntenants++;
        for (size_t s = 0; s < t->conf->nstreams; s++) {
            struct job *j = &e->jobs[e->njobs];
            j->tenant = t;
            j->def = dfw_stream_find(t->conf->streams[s]);
            if (j->def == NULL) {
                snprintf(errbuf, errlen, "tenant %s: unknown stream %s", t->conf->name,
                         t->conf->streams[s]);
                dfw_engine_free(e);
                return NULL;
            }
            j->resource = dfw_stream_resource(j->def, t->cloud);
            j->base_url = j->def->host == DFW_HOST_GRAPH ? t->graph_url
                          : j->def->host == DFW_HOST_MDE ? t->mde_url
                                                         : t->defender_url;
            j->slot = slot_for(t, j->resource);
            j->overlap_ms = t->conf->overlap_ms >= 0 ? t->conf->overlap_ms : cfg->overlap_ms;
            j->settle_ms =
                t->conf->settle_delay_ms >= 0 ? t->conf->settle_delay_ms : cfg->settle_delay_ms;
            j->top = cfg->page_size > 0 ? cfg->page_size : j->def->page_size;
            if (j->top > j->def->page_size_max) {
                j->top = j->def->page_size_max;
            }
            j->acks = calloc(noutputs, sizeof(*j->acks));
            e->njobs++;
            if (j->acks == NULL || dfw_cursor_init(&j->cursor, 0) != DFW_OK) {
                snprintf(errbuf, errlen, "out of memory");
                dfw_engine_free(e);
                return NULL;
            }
            for (unsigned o = 0; o < noutputs; o++) {
                j->acks[o].job = j;
                j->acks[o].out = o;
            }
            bucket_init(&j->per_min, j->def->rate_per_min, 60000, now);
            bucket_init(&j->per_hour, j->def->rate_per_hour, 3600000, now);
        }
    }
    return e;
}

void dfw_engine_free(struct dfw_engine *e)
{
    if (e == NULL) {
        return;
    }
    dfw_http_free(e->http); /* before the jobs: pending callbacks point at them */
    for (size_t i = 0; i < e->njobs; i++) {
        dfw__job_release(&e->jobs[i]);
    }
    for (size_t i = 0; i < e->ntenants; i++) {
        dfw_auth_free(e->tenants[i].auth);
    }
    free(e->jobs);
    free(e->tenants);
    free(e->out_acked);
    free(e);
}

void dfw_engine_stop(struct dfw_engine *e)
{
    e->stop = 1;
}

void dfw_engine_wakeup(struct dfw_engine *e)
{
    dfw_http_wakeup(e->http);
}

void dfw_engine_set_stop_grace(struct dfw_engine *e, int64_t grace_ms)
{
    e->stop_grace_ms = grace_ms > 0 ? grace_ms : 0;
}

static int all_done(const struct dfw_engine *e)
{
    for (size_t i = 0; i < e->njobs; i++) {
        if (e->jobs[i].state != J_DONE && e->jobs[i].state != J_FAILED) {
            return 0;
        }
    }
    return 1;
}

static int busy(const struct dfw_engine *e)
{
    for (size_t i = 0; i < e->njobs; i++) {
        if (e->jobs[i].state == J_DELIVER) {
            return 1;
        }
    }
    return 0;
}

/* Some output that must be polled holds a batch and its acknowledgement is due. */
static int awaiting_acks(const struct dfw_engine *e)
{
    for (size_t i = 0; i < e->njobs; i++) {
        if (e->jobs[i].state == J_DELIVER && (e->jobs[i].pending & e->polled_outputs) != 0) {
            return 1;
        }
    }
    return 0;
}

/* Some batch is acknowledged by every output and waits for its commit in the next step. */
static int commit_due(const struct dfw_engine *e)
{
    for (size_t i = 0; i < e->njobs; i++) {
        if (e->jobs[i].state == J_DELIVER && e->jobs[i].acked == (1u << e->noutputs) - 1) {
            return 1;
        }
    }
    return 0;
}

static void progress_line(const struct dfw_engine *e, int final)
{
    struct dfw_engine_summary s;
    dfw_engine_get_summary(e, &s);
    size_t done = 0;
    for (size_t i = 0; i < e->njobs; i++) {
        done += e->jobs[i].state == J_DONE || e->jobs[i].state == J_FAILED;
    }
    double secs = (double)s.elapsed_ms / 1000.0;
    fprintf(stderr,
            "\rprogress: %zu/%zu streams done, %llu events delivered (%.0f/s), %llu API "
            "calls, %llu throttled%s",
            done, e->njobs, (unsigned long long)s.delivered,
            secs > 0 ? (double)s.delivered / secs : 0.0, (unsigned long long)s.api_calls,
            (unsigned long long)s.throttled, final ? "\n" : "   ");
}

dfw_err dfw_engine_run(struct dfw_engine *e, int once, int progress)
{
    e->once = once;
    e->run_start_wall = dfw_now_ms();
    e->run_start_mono = dfw_mono_ms();
    int64_t now = e->run_start_mono;
    /* spread the first polls of many tenants over a few seconds (not in --once) */
    int64_t spread =
        once ? 0 : (e->cfg->poll_interval_ms / 10 < 5000 ? e->cfg->poll_interval_ms / 10 : 5000);
    for (size_t i = 0; i < e->njobs; i++) {
        dfw__job_init_run(&e->jobs[i], now + (spread > 0 ? rand() % spread : 0));
    }
    int64_t last_metrics = now, last_progress = now, stop_at = 0;
    while (1) {
        now = dfw_mono_ms();
        if (e->stop && stop_at == 0) {
            stop_at = now + e->stop_grace_ms;
            dfw_log(DFW_LOG_INFO, "engine",
                    "msg=\"stopping: waiting for outstanding acknowledgements\"");
        }
        for (size_t i = 0; i < e->njobs; i++) {
            dfw__job_step(&e->jobs[i], now);
        }
        for (size_t o = 0; o < e->noutputs; o++) {
            if (e->outputs[o].plugin->poll != NULL) {
                e->outputs[o].plugin->poll(e->outputs[o].self, 0);
            }
        }
        if (once && all_done(e)) {
            break;
        }
        if (e->stop && (!busy(e) || now >= stop_at)) {
            break;
        }
        /* outputs' sockets are not in this poll: wake often while acknowledgements are due */
        dfw_http_run(e->http, commit_due(e) ? 0 : awaiting_acks(e) ? 2 : 50);
        now = dfw_mono_ms();
        if (e->cfg->metrics_file != NULL && now - last_metrics >= 10000) {
            dfw__engine_write_metrics(e);
            last_metrics = now;
        }
        if (progress && now - last_progress >= 2000) {
            progress_line(e, 0);
            last_progress = now;
        }
    }
    for (size_t o = 0; o < e->noutputs; o++) {
        e->outputs[o].plugin->flush(e->outputs[o].self, 5000);
    }
    if (progress) {
        progress_line(e, 1);
    }
    if (e->cfg->metrics_file != NULL) {
        dfw__engine_write_metrics(e);
    }
    dfw_err result = DFW_OK;
    for (size_t i = 0; i < e->njobs; i++) {
        if (e->jobs[i].state == J_FAILED) {
            result = e->jobs[i].fail_err;
        }
    }
    if (result == DFW_OK && once && !all_done(e)) {
        /* interrupted before every stream was read up to the start: not a success */
        result = DFW_ERR_RETRY;
    }
    return result;
}

void dfw_engine_get_summary(const struct dfw_engine *e, struct dfw_engine_summary *s)
{
    memset(s, 0, sizeof(*s));
    s->tenants = e->ntenants;
    s->jobs = e->njobs;
    for (size_t i = 0; i < e->njobs; i++) {
        const struct job *j = &e->jobs[i];
        s->jobs_failed += j->state == J_FAILED;
        s->fetched += j->fetched;
        s->duplicates += j->duplicates;
        s->late += j->late;
        s->delivered += j->delivered;
        s->bytes += j->bytes;
        s->api_calls += j->api_calls;
        s->throttled += j->throttled;
    }
    for (size_t i = 0; i < e->ntenants; i++) {
        s->token_requests += e->tenants[i].token_requests;
    }
    s->elapsed_ms = dfw_mono_ms() - e->run_start_mono;
}
