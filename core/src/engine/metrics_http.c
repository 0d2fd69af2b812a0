/* metrics_listen: /metrics (Prometheus text) and /health (JSON) on a local address. The listener
 * runs on libmicrohttpd's thread (dfw/listener.h) and never reads the engine: a request asks the
 * loop thread for a fresh rendering (a flag and a wakeup) and waits for it, at most 5 s. */
#include "engine_internal.h"
#include "dfw/listener.h"
#include "dfw/log.h"
#include "dfw/timeutil.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define ANSWER_WAIT_MS 5000

struct dfw_metrics_http {
    struct dfw_engine *engine;
    struct dfw_listener *listener;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t asked, answered; /* requests to the loop, renderings done */
    struct dfw_buf metrics, health;
    int healthy;
};

static void render_health(const struct dfw_engine *e, struct dfw_buf *out, int *healthy)
{
    int64_t now = dfw_now_ms(), oldest = 0;
    size_t failing_streams = 0, failing_tenants = 0;
    for (size_t i = 0; i < e->ntenants; i++) {
        int failing = 0;
        for (size_t k = 0; k < e->tenants[i]->njobs; k++) {
            const struct job *j = &e->tenants[i]->jobs[k];
            int f = j->failing || j->state == J_FAILED;
            failing_streams += f;
            failing |= f;
            if (now - j->cursor.high_water_ms > oldest) {
                oldest = now - j->cursor.high_water_ms;
            }
        }
        failing_tenants += failing;
    }
    /* ready: the loop runs, checkpoints can be written and every stream has read its first
     * window (or is failing, which the counts show) */
    *healthy = !e->store_down && e->nswept + failing_streams >= e->njobs;
    dfw_buf_printf(out,
                   "{\"ready\":%s,\"tenants\":%zu,\"streams\":%zu,\"streams_first_sweep_done\":%zu,"
                   "\"tenants_failing\":%zu,\"streams_failing\":%zu,"
                   "\"oldest_checkpoint_lag_seconds\":%lld,\"checkpoint_store\":\"%s\"}\n",
                   *healthy ? "true" : "false", e->ntenants, e->njobs, e->nswept, failing_tenants,
                   failing_streams, (long long)(oldest / 1000), e->store_down ? "down" : "ok");
}

void dfw__metrics_http_serve(struct dfw_engine *e)
{
    struct dfw_metrics_http *m = e->metrics_http;
    if (m == NULL) {
        return;
    }
    pthread_mutex_lock(&m->mu);
    if (m->asked != m->answered) {
        dfw_buf_reset(&m->metrics);
        dfw_buf_reset(&m->health);
        dfw__metrics_render(e, &m->metrics);
        render_health(e, &m->health, &m->healthy);
        m->answered = m->asked;
        pthread_cond_broadcast(&m->cv);
    }
    pthread_mutex_unlock(&m->mu);
}

static void
on_request(void *ctx, const struct dfw_listener_request *req, struct dfw_listener_reply *reply)
{
    struct dfw_metrics_http *m = ctx;
    const char *path = dfw_listener_path(req);
    int metrics = strcmp(path, "/metrics") == 0;
    if (!metrics && strcmp(path, "/health") != 0) {
        reply->status = 404;
        dfw_buf_printf(&reply->body, "not found: use /metrics or /health\n");
        return;
    }
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += ANSWER_WAIT_MS / 1000;
    pthread_mutex_lock(&m->mu);
    uint64_t mine = ++m->asked;
    dfw_engine_wakeup(m->engine);
    int rc = 0;
    while (m->answered < mine && rc != ETIMEDOUT) {
        rc = pthread_cond_timedwait(&m->cv, &m->mu, &until);
    }
    if (m->answered < mine) {
        reply->status = 503;
        dfw_buf_printf(&reply->body, "the engine did not answer within %d ms\n", ANSWER_WAIT_MS);
    }
    else if (metrics) {
        reply->content_type = "text/plain; version=0.0.4; charset=utf-8";
        dfw_buf_append(&reply->body, m->metrics.data, m->metrics.len);
    }
    else {
        reply->status = m->healthy ? 200 : 503;
        reply->content_type = "application/json";
        dfw_buf_append(&reply->body, m->health.data, m->health.len);
    }
    pthread_mutex_unlock(&m->mu);
}

dfw_err dfw__metrics_http_start(struct dfw_engine *e, char *errbuf, size_t errlen)
{
    const char *spec = e->cfg->metrics_listen;
    if (spec == NULL) {
        return DFW_OK;
    }
    struct dfw_metrics_http *m = calloc(1, sizeof(*m));
    if (m == NULL) {
        return dfw_errorf(DFW_ERR_NOMEM, errbuf, errlen, "out of memory");
    }
    m->engine = e;
    pthread_mutex_init(&m->mu, NULL);
    pthread_cond_init(&m->cv, NULL);
    char host[64];
    const char *colon = strrchr(spec, ':');
    snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
    char why[512];
    m->listener =
        dfw_listener_new(host, (int)strtol(colon + 1, NULL, 10), on_request, m, why, sizeof(why));
    if (m->listener == NULL) {
        e->metrics_http = m;
        dfw__metrics_http_stop(e);
        return dfw_errorf(DFW_ERR_IO, errbuf, errlen, "metrics_listen %s: %s", spec, why);
    }
    e->metrics_http = m;
    dfw_log(DFW_LOG_INFO, "metrics", "msg=\"serving /metrics and /health\" listen=%s",
            DFW_LOG_VAL(spec));
    return DFW_OK;
}

void dfw__metrics_http_stop(struct dfw_engine *e)
{
    struct dfw_metrics_http *m = e->metrics_http;
    if (m == NULL) {
        return;
    }
    /* answer waiting requests (503) before the listener is freed */
    pthread_mutex_lock(&m->mu);
    m->answered = m->asked;
    pthread_cond_broadcast(&m->cv);
    pthread_mutex_unlock(&m->mu);
    dfw_listener_free(m->listener);
    pthread_cond_destroy(&m->cv);
    pthread_mutex_destroy(&m->mu);
    dfw_buf_free(&m->metrics);
    dfw_buf_free(&m->health);
    free(m);
    e->metrics_http = NULL;
}
