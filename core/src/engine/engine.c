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
    e->all_outputs = (1u << noutputs) - 1;
    for (size_t o = 0; o < noutputs; o++) {
        e->late_readers |= outputs[o].plugin->cancel != NULL ? 1u << o : 0;
    }
    e->state = state;
    e->stop_grace_ms = STOP_GRACE_MS;
    struct dfw_http_opts ho = {
        .ca_file = cfg->ca_file,
        .timeout_ms = cfg->http_timeout_ms,
        .connect_timeout_ms = cfg->connect_timeout_ms,
        .max_connections = cfg->max_connections,
        .user_agent = "defender-forwarder/" DFW_VERSION,
    };
    e->http = dfw_http_new(&ho, errbuf, errlen);
    e->captenants = cfg->ntenants ? cfg->ntenants : 1;
    e->tenants = calloc(e->captenants, sizeof(*e->tenants));
    e->out_acked = calloc(noutputs, sizeof(*e->out_acked));
    if (e->http == NULL || e->tenants == NULL || e->out_acked == NULL) {
        if (e->http != NULL) {
            snprintf(errbuf, errlen, "out of memory");
        }
        dfw_engine_free(e);
        return NULL;
    }
    for (size_t i = 0; i < cfg->ntenants; i++) {
        struct tenant_rt *t = dfw__tenant_new(e, &cfg->tenants[i], errbuf, errlen);
        if (t == NULL) {
            dfw_engine_free(e);
            return NULL;
        }
        e->tenants[e->ntenants++] = t;
        e->njobs += t->njobs;
    }
    if (dfw__metrics_http_start(e, errbuf, errlen) != DFW_OK) {
        dfw_engine_free(e);
        return NULL;
    }
    return e;
}

void dfw_engine_free(struct dfw_engine *e)
{
    if (e == NULL) {
        return;
    }
    dfw__metrics_http_stop(e);
    dfw_http_free(e->http); /* before the jobs: pending callbacks point at them */
    for (size_t i = 0; i < e->ntenants; i++) {
        dfw__tenant_free(e->tenants[i]);
    }
    dfw__sched_free(&e->sched);
    for (size_t i = 0; i < e->napps; i++) {
        free(e->apps[i].client_id);
    }
    free(e->apps);
    free(e->tenants);
    free(e->out_acked);
    free(e);
}

void dfw_engine_wakeup(struct dfw_engine *e)
{
    dfw_http_wakeup(e->http);
}

void dfw_engine_set_stop_grace(struct dfw_engine *e, int64_t grace_ms)
{
    e->stop_grace_ms = grace_ms > 0 ? grace_ms : 0;
}

void dfw_engine_stop(struct dfw_engine *e)
{
    e->stop = 1;
    dfw_http_wakeup(e->http); /* a write to libcurl's wakeup pipe: async-signal-safe */
}

/* An output that cannot say what it waits for is polled this often while batches are out. */
#define BLIND_POLL_MS 50
#define MAX_WAIT_MS   1000
#define MAX_WAIT_FDS  64
/* A job's timer may fire this much late, so that one wakeup serves the jobs due close together
 * (10,000 quiet tenants: 333 polls/s start in at most ten timer wakeups a second, not 333). */
#define TIMER_SLACK_MS 100

/* What the outputs wait for (descriptors into fds, up to max) and the time until one of them
 * needs its poll; -1 for none. */
static int outputs_wait(const struct dfw_engine *e, struct dfw_wait_fd *fds, int max, int *nfds)
{
    int timeout = -1;
    *nfds = 0;
    for (size_t o = 0; o < e->noutputs; o++) {
        const struct dfw_output_plugin *p = e->outputs[o].plugin;
        int t = -1;
        if (p->wait != NULL) {
            *nfds += p->wait(e->outputs[o].self, fds + *nfds, max - *nfds, &t);
        }
        else if (p->poll != NULL && e->ndelivering > 0 && !(p->flags & DFW_OUTPUT_ACK_WAKES)) {
            t = BLIND_POLL_MS; /* an ACK_WAKES output wakes the loop itself */
        }
        if (t >= 0 && (timeout < 0 || t < timeout)) {
            timeout = t;
        }
    }
    return timeout;
}

/* Nothing will be submitted before an acknowledgement: the outputs send what they hold back (a
 * lone tenant's last request of a page does not wait batch_timeout_ms for batches that cannot
 * come). While any job reads a page, what it brings may still join them. */
static void quiet_outputs(const struct dfw_engine *e)
{
    if (e->nfetching > 0 || e->ndelivering == 0) {
        return;
    }
    for (size_t o = 0; o < e->noutputs; o++) {
        if (e->outputs[o].plugin->quiet != NULL) {
            e->outputs[o].plugin->quiet(e->outputs[o].self);
        }
    }
}

static void poll_outputs(const struct dfw_engine *e)
{
    for (size_t o = 0; o < e->noutputs; o++) {
        if (e->outputs[o].plugin->poll != NULL) {
            e->outputs[o].plugin->poll(e->outputs[o].self, 0);
        }
    }
}

/* Run every job whose timer is due. */
static void step_due(struct dfw_engine *e, int64_t now)
{
    struct sched_node *n;
    while ((n = dfw__sched_pop_due(&e->sched, now)) != NULL) {
        dfw__job_step(dfw__job_of(n), now);
    }
}

static void progress_line(const struct dfw_engine *e, int final)
{
    struct dfw_engine_summary s;
    dfw_engine_get_summary(e, &s);
    size_t done = e->nfinished;
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
    for (size_t i = 0; i < e->ntenants; i++) {
        for (size_t k = 0; k < e->tenants[i]->njobs; k++) {
            dfw__job_init_run(&e->tenants[i]->jobs[k], now + (spread > 0 ? rand() % spread : 0));
        }
    }
    int64_t next_metrics = now + 10000, next_progress = now + 2000, stop_at = 0;
    dfw__notify_start(e, now);
    struct dfw_wait_fd fds[MAX_WAIT_FDS];
    while (1) {
        now = dfw_mono_ms();
        dfw__notify_turn(e, now);
        if (e->stop && stop_at == 0) {
            stop_at = now + e->stop_grace_ms;
            dfw__notify_stopping();
            dfw_log(DFW_LOG_INFO, "engine",
                    "msg=\"stopping: waiting for outstanding acknowledgements\"");
        }
        if (e->reload_requested) {
            dfw__reload(e);
        }
        dfw__reload_tick(e, now);
        step_due(e, now);
        poll_outputs(e);     /* acknowledgements make their jobs due now: at the clock's time */
        now = dfw_mono_ms(); /* else they would wait for the next timer, TIMER_SLACK_MS late */
        step_due(e, now);
        dfw__checkpoints_commit(e, now); /* before anything else is delivered */
        dfw__metrics_http_serve(e);
        quiet_outputs(e);
        if (once && e->nfinished == e->njobs) {
            break;
        }
        if (stop_at != 0 && (e->ndelivering == 0 || now >= stop_at)) { /* stop seen at the top */
            break;
        }
        /* sleep until the next timer, a transfer or an output needs us */
        int nfds;
        int64_t wait = outputs_wait(e, fds, MAX_WAIT_FDS, &nfds);
        int64_t until = dfw__sched_next(&e->sched);
        until = until > now && until < INT64_MAX - TIMER_SLACK_MS ? until + TIMER_SLACK_MS : until;
        until = until < next_metrics ? until : next_metrics;
        until = !progress || until < next_progress ? until : next_progress;
        until = e->watchdog_ms == 0 || until < e->next_watchdog ? until : e->next_watchdog;
        if (dfw_state_staged(e->state) > 0) {
            int64_t c = e->store_down && e->store_retry_at > e->commit_due ? e->store_retry_at
                                                                           : e->commit_due;
            until = until < c ? until : c;
        }
        int64_t timer = until == INT64_MAX ? MAX_WAIT_MS : until - now;
        if (wait < 0 || timer < wait) {
            wait = timer;
        }
        wait = wait < 0 ? 0 : wait > MAX_WAIT_MS ? MAX_WAIT_MS : wait;
        dfw_http_run_fds(e->http, fds, nfds, (int)wait);
        now = dfw_mono_ms();
        if (now >= next_metrics) {
            if (e->cfg->metrics_file != NULL) {
                dfw__engine_write_metrics(e);
            }
            dfw__notify_status(e);
            next_metrics = now + 10000;
        }
        if (progress && now >= next_progress) {
            progress_line(e, 0);
            next_progress = now + 2000;
        }
    }
    for (size_t o = 0; o < e->noutputs; o++) {
        e->outputs[o].plugin->flush(e->outputs[o].self, 5000);
    }
    e->store_down = 0;
    e->commit_due = 0; /* everything staged now */
    dfw__checkpoints_commit(e, dfw_mono_ms());
    if (progress) {
        progress_line(e, 1);
    }
    if (e->cfg->metrics_file != NULL) {
        dfw__engine_write_metrics(e);
    }
    dfw_err result = DFW_OK;
    for (size_t i = 0; i < e->ntenants; i++) {
        for (size_t k = 0; k < e->tenants[i]->njobs; k++) {
            if (e->tenants[i]->jobs[k].state == J_FAILED) {
                result = e->tenants[i]->jobs[k].fail_err;
            }
        }
    }
    if (result == DFW_OK && e->store_down) {
        result = DFW_ERR_IO; /* the last checkpoints are not written: the next run repeats */
    }
    if (result == DFW_OK && once && e->nfinished != e->njobs) {
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
    for (size_t i = 0; i < e->ntenants; i++) {
        for (size_t k = 0; k < e->tenants[i]->njobs; k++) {
            const struct job *j = &e->tenants[i]->jobs[k];
            s->jobs_failed += j->state == J_FAILED;
            s->fetched += j->fetched;
            s->duplicates += j->duplicates;
            s->late += j->late;
            s->delivered += j->delivered;
            s->bytes += j->bytes;
            s->api_calls += j->api_calls;
            s->throttled += j->throttled;
        }
        s->token_requests += e->tenants[i]->token_requests;
    }
    s->elapsed_ms = dfw_mono_ms() - e->run_start_mono;
}
