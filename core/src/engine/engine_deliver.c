/* Delivery of a batch: every output gets it, each acknowledges asynchronously; a refused or failed
 * batch is submitted again with backoff (DESIGN.md §4). Below job.c: it reports a verdict, the life
 * cycle acts on it. */
#include "engine_internal.h"
#include "dfw/log.h"
#include "dfw/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BUSY_GIVE_UP_MS (5 * 60 * 1000)

/* How long back-pressure may last before --once gives up: what max_retries backoffs would take
 * (500 ms doubling up to 30 s), so an output that stays down ends the run as soon as a failing
 * one would; the daemon waits BUSY_GIVE_UP_MS before it reports the stream failing. */
static int64_t busy_give_up_ms(const struct dfw_engine *e)
{
    if (!e->once) {
        return BUSY_GIVE_UP_MS;
    }
    int64_t total = 0, step = 500;
    for (int i = 0; i < e->cfg->max_retries; i++) {
        total += step;
        step = step * 2 > 30000 ? 30000 : step * 2;
    }
    return total;
}

void dfw__deliver_begin(struct job *j)
{
    struct dfw_engine *e = j->tenant->engine;
    j->seq = ++e->next_seq;
    j->acked = 0;
    j->pending = 0;
    j->reading = 0;
    j->released = 0;
    if (!j->reread) {
        j->deliver_attempts = 0; /* a reread goes on counting: --once still gives up */
    }
    j->reread = 0;
    j->busy_since = 0;
    j->retry_at = 0;
    j->verdict = DV_WAIT;
    j->deliver_err = DFW_OK;
}

/* An output did not take or acknowledge the batch (rc says why): retry with backoff. Back-pressure
 * (DFW_ERR_BUSY) is retried soon and is no failure unless it lasts BUSY_GIVE_UP_MS. In --once mode
 * give up after max_retries, or at once on a permanent error (bad token, wrong index), so a
 * scheduler sees the failure; the checkpoint stays before the batch. */
static void deliver_failed(struct job *j, int64_t now, dfw_err rc)
{
    const struct dfw_engine *e = j->tenant->engine;
    int give_up;
    if (rc == DFW_ERR_BUSY) {
        if (j->busy_since == 0) {
            j->busy_since = now;
            dfw_log(
                DFW_LOG_INFO, "pipeline",
                "tenant=%s stream=%s msg=\"an output cannot take the batch yet (back-pressure); "
                "waiting\"",
                j->tenant->conf->name, j->def->name);
        }
        j->retry_at = now + 50;
        give_up = now - j->busy_since > busy_give_up_ms(e);
    }
    else {
        j->deliver_attempts++;
        j->retry_at = now + dfw_backoff_ms(j->deliver_attempts, 500, 30000);
        give_up = j->deliver_attempts > e->cfg->max_retries || !dfw_err_retryable(rc);
    }
    if (e->once && give_up) {
        dfw_log(DFW_LOG_ERROR, "pipeline",
                "tenant=%s stream=%s msg=\"outputs did not acknowledge the batch (%s); checkpoint "
                "held\" attempts=%d",
                j->tenant->conf->name, j->def->name, dfw_strerror(rc), j->deliver_attempts);
        j->verdict = DV_GIVE_UP;
        j->deliver_err = dfw_err_retryable(rc) ? DFW_ERR_IO : rc;
        j->retry_at = now;
    }
    dfw__job_at(j, j->retry_at);
}

void dfw__deliver_cancel(struct job *j)
{
    struct dfw_engine *e = j->tenant->engine;
    for (unsigned o = 0; o < e->noutputs; o++) {
        if ((j->pending & (1u << o)) && e->outputs[o].plugin->cancel != NULL) {
            e->outputs[o].plugin->cancel(e->outputs[o].self, j->seq);
        }
    }
    j->pending = 0;
    j->reading = 0;
}

int dfw__deliver_taken(const struct job *j, unsigned mask)
{
    return (j->acked | j->pending) == j->tenant->engine->all_outputs && (j->reading & mask) == 0;
}

/* An output will not read the batch's events again (dfw_batch.taken): the page may go (job.c). */
static void on_taken(void *ack_ctx, uint64_t seq)
{
    struct ack_ctx *a = ack_ctx;
    struct job *j = a->job;
    unsigned bit = 1u << a->out;
    if (j->state != J_DELIVER || seq != j->seq || !(j->reading & bit)) {
        return;
    }
    j->reading &= ~bit;
    dfw__job_at(j,
                dfw_mono_ms()); /* the page may go, the next be read ahead: in the loop (job.c) */
}

static void on_ack(void *ack_ctx, uint64_t seq, dfw_err result)
{
    struct ack_ctx *a = ack_ctx;
    struct job *j = a->job;
    struct dfw_engine *e = j->tenant->engine;
    unsigned bit = 1u << a->out;
    if (j->state != J_DELIVER || seq != j->seq || !(j->pending & bit)) {
        return; /* a late ack of a batch already re-sent */
    }
    j->pending &= ~bit;
    j->reading &= ~bit;
    if (result == DFW_OK) {
        j->acked |= bit;
        if (j->acked == e->all_outputs) {
            dfw__job_at(j, dfw_mono_ms()); /* the commit happens in the loop */
        }
    }
    else {
        dfw_log(DFW_LOG_WARN, "pipeline",
                "tenant=%s stream=%s output=%s msg=\"batch not "
                "acknowledged (%s); will re-send\"",
                j->tenant->conf->name, j->def->name, e->outputs[a->out].name, dfw_strerror(result));
        deliver_failed(j, dfw_mono_ms(), result);
    }
    /* the commit happens in the loop, never inside an output's submit or poll */
}

enum deliver_verdict dfw__deliver(struct job *j, int64_t now)
{
    struct dfw_engine *e = j->tenant->engine;
    if (j->acked == e->all_outputs) {
        return DV_ACKED;
    }
    if (j->verdict == DV_GIVE_UP) {
        return j->verdict;
    }
    if (now < j->retry_at) {
        dfw__job_at(j, j->retry_at);
        return DV_WAIT;
    }
    if (j->released && (j->acked | j->pending) != e->all_outputs) {
        return DV_REREAD; /* the events are gone with the page */
    }
    struct dfw_batch batch = {j->events, j->nevents, j->seq, on_taken};
    for (unsigned o = 0; o < e->noutputs && j->verdict != DV_GIVE_UP; o++) {
        unsigned bit = 1u << o;
        if ((j->acked | j->pending) & bit) {
            continue;
        }
        j->pending |= bit;
        j->reading |= bit; /* before submit: taken or ack may be called inside it */
        dfw_err rc = e->outputs[o].plugin->submit(e->outputs[o].self, &batch, on_ack, &j->acks[o]);
        if (rc == DFW_OK) {
            j->busy_since = 0;
        }
        else {
            j->pending &= ~bit;
            j->reading &= ~bit;
            deliver_failed(j, now, rc);
            if (rc != DFW_ERR_BUSY && (j->deliver_attempts == 1 || j->deliver_attempts % 10 == 0)) {
                dfw_log(DFW_LOG_WARN, "pipeline",
                        "tenant=%s stream=%s output=%s msg=\"output "
                        "cannot take the batch (%s); checkpoint held, retrying\" attempts=%d",
                        j->tenant->conf->name, j->def->name, e->outputs[o].name, dfw_strerror(rc),
                        j->deliver_attempts);
            }
        }
    }
    return j->acked == e->all_outputs ? DV_ACKED : j->verdict;
}
