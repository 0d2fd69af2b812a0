/* The life cycle of a job (one tenant and stream): IDLE -> (begin a sweep) FETCH -> a slice of the
 * window is requested -> the answer becomes a batch -> DELIVER -> every output acknowledged ->
 * commit: the window moves on, the checkpoint is written -> the next slice, or IDLE until the next
 * poll. Failures retry with backoff; permanent ones (and, in --once, lasting ones) mark the job
 * FAILED. Everything that changes a job's state is here; engine_fetch.c, batch.c and
 * engine_deliver.c below it only report. */
#include "engine_internal.h"
#include "dfw/log.h"
#include "dfw/state.h"
#include "dfw/timeutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAILED_RETRY_MS (10 * 60 * 1000)

/* Every state change goes through here: the engine counts jobs fetching, delivering and finished,
 * so that its loop never walks all jobs; a job that stops reading pages frees its spare buffer. */
static void set_state(struct job *j, enum job_state st)
{
    struct dfw_engine *e = j->tenant->engine;
    e->ndelivering -= j->state == J_DELIVER;
    e->nfetching -= j->state == J_FETCH;
    e->nfinished -= j->state == J_DONE || j->state == J_FAILED;
    j->state = st;
    e->ndelivering += st == J_DELIVER;
    e->nfetching += st == J_FETCH;
    e->nfinished += st == J_DONE || st == J_FAILED;
    if (st != J_FETCH && st != J_DELIVER) {
        dfw_buf_free(&j->spare); /* no page to read until the next poll: memory given back */
    }
}

void dfw__job_uncount(struct job *j)
{
    struct dfw_engine *e = j->tenant->engine;
    e->ndelivering -= j->state == J_DELIVER;
    e->nfetching -= j->state == J_FETCH;
    e->nfinished -= j->state == J_DONE || j->state == J_FAILED;
    e->nswept -= j->swept != 0;
}

/* The slice is not delivered: its pairs go back, the outputs forget the batch, the page and a
 * read-ahead are dropped. */
static void abandon_slice(struct job *j)
{
    dfw_cursor_rollback(&j->cursor); /* its pairs were never acknowledged */
    dfw__deliver_cancel(j);
    dfw__batch_drop(j);
    dfw__ahead_drop(j);
}

static void job_fail(struct job *j, dfw_err err)
{
    abandon_slice(j);
    set_state(j, J_FAILED);
    j->fail_err = err;
    j->failing = 1;
    /* in daemon mode a failed job is tried again later: consent may be granted meanwhile */
    if (j->tenant->engine->once) {
        dfw__sched_cancel(&j->tenant->engine->sched, &j->node);
    }
    else {
        dfw__job_at(j, dfw_mono_ms() + FAILED_RETRY_MS);
    }
}

static void job_retry(struct job *j, int64_t now, int64_t retry_after_ms, const char *why)
{
    const struct dfw_config *cfg = j->tenant->engine->cfg;
    j->attempts++;
    int64_t delay = retry_after_ms >= 0 ? retry_after_ms : dfw_backoff_ms(j->attempts, 1000, 60000);
    if (j->attempts > cfg->max_retries && !j->failing) {
        j->failing = 1;
        dfw_log(DFW_LOG_ERROR, "fetch",
                "tenant=%s stream=%s msg=\"still failing after %d attempts; checkpoint held\" "
                "reason=\"%s\"",
                j->tenant->conf->name, j->def->name, j->attempts, DFW_LOG_ESC(why));
        if (j->tenant->engine->once) {
            job_fail(j, DFW_ERR_RETRY);
            return;
        }
    }
    dfw__job_at(j, now + delay);
}

/* Polls keep a fixed phase per job (a point in poll_interval picked at random when the job is
 * made): the next poll is the job's next grid time, so thousands of tenants stay spread over the
 * interval instead of bunching after the first cycle, and a poll is never later than one
 * interval after the previous one began. */
static void schedule_poll(struct job *j, int64_t now)
{
    const struct dfw_engine *e = j->tenant->engine;
    int64_t iv = e->cfg->poll_interval_ms;
    int64_t origin = e->run_start_mono + j->phase_ms;
    int64_t k = now >= origin ? (now - origin) / iv + 1 : 0;
    set_state(j, J_IDLE);
    dfw__job_at(j, origin + k * iv);
}

/* The window is read up to the end this --once run needs: the run's start - settle_delay. */
static int caught_up(const struct job *j)
{
    const struct dfw_engine *e = j->tenant->engine;
    return e->once && j->cursor.win.to_ms == 0 &&
           j->cursor.high_water_ms >= e->run_start_wall - j->settle_ms;
}

/* Stage the checkpoint; the loop commits every staged one in one transaction before anything else
 * is delivered (engine.c): in this turn when the batch held events, else within
 * DFW_QUIET_COMMIT_MS. */
static void save_checkpoint(struct job *j)
{
    struct dfw_engine *e = j->tenant->engine;
    int64_t due = j->nevents > 0 ? 0 : dfw_mono_ms() + DFW_QUIET_COMMIT_MS;
    if (dfw_state_staged(e->state) == 0 || due < e->commit_due) {
        e->commit_due = due;
    }
    char err[512];
    if (dfw_state_save(e->state, j->tenant->conf->name, j->def->name, &j->cursor, err,
                       sizeof(err)) != DFW_OK) {
        /* the events are delivered; a lost checkpoint only means re-sending them later */
        dfw_log(DFW_LOG_ERROR, "state", "tenant=%s stream=%s msg=\"%s\"", j->tenant->conf->name,
                j->def->name, DFW_LOG_ESC(err));
    }
}

/* Every output acknowledged the batch (or it was empty): the window moves on. */
static void commit(struct job *j, int64_t now)
{
    struct dfw_engine *e = j->tenant->engine;
    const char *tenant = j->tenant->conf->name;
    dfw_cursor_commit(&j->cursor, j->nevents);
    j->delivered += j->nevents;
    for (size_t o = 0; o < e->noutputs; o++) {
        e->out_acked[o] += j->nevents;
    }
    if (j->batch_late > 0) {
        j->late += j->batch_late;
        j->cursor.late += j->batch_late;
        dfw_log(DFW_LOG_INFO, "fetch",
                "tenant=%s stream=%s msg=\"records became visible after their window was read\" "
                "late=%zu behind_s=%lld tolerated_s=%lld",
                tenant, j->def->name, j->batch_late, (long long)(j->batch_late_ms / 1000),
                (long long)((j->settle_ms + j->overlap_ms) / 1000));
    }
    enum dfw_window_mode before = j->cursor.win.mode;
    dfw_cursor_advance(&j->cursor, &j->outcome, j->cell.skip, j->overlap_ms);
    if (j->cursor.win.mode != before) {
        dfw_cell_reset(&j->cell);
    }
    dfw__ahead_settle(j);
    save_checkpoint(j);
    dfw_log(DFW_LOG_DEBUG, "pipeline",
            "tenant=%s stream=%s events=%zu rows=%zu more=%d next_read_ahead=%d", tenant,
            j->def->name, j->nevents, j->outcome.rows, j->outcome.more, j->ahead != AHEAD_NONE);
    dfw__batch_drop(j);
    j->attempts = 0;
    j->failing = 0;
    if (j->tenant->retiring) {
        set_state(j, J_IDLE); /* its batch is in: nothing more (reload) */
        return;
    }
    if (j->cursor.win.to_ms != 0) {
        set_state(j, J_FETCH);
        dfw__job_at(j, now);
        return;
    }
    if (!j->swept) {
        j->swept = 1;
        e->nswept++;
    }
    if (caught_up(j)) {
        set_state(j, J_DONE);
        return;
    }
    schedule_poll(j, now);
}

static void on_response(void *ctx, const struct dfw_http_response *r);
static void send(struct job *j, int64_t now);

/* Delivery failed after the page was given back: the slice is read again, now that the retry
 * delay is over, and its batch goes to every output (those that acknowledged the first one get
 * its records twice: at-least-once). */
static void reread(struct job *j, int64_t now)
{
    dfw_log(DFW_LOG_INFO, "pipeline",
            "tenant=%s stream=%s msg=\"the batch must be sent again and its page was given back; "
            "reading the slice again\" attempts=%d",
            j->tenant->conf->name, j->def->name, j->deliver_attempts);
    abandon_slice(j);
    j->reread = 1;
    set_state(j, J_FETCH);
    send(j, now);
}

static void deliver_step(struct job *j, int64_t now)
{
    switch (dfw__deliver(j, now)) {
    case DV_ACKED:
        commit(j, now);
        break;
    case DV_GIVE_UP:
        job_fail(j, j->deliver_err);
        break;
    case DV_REREAD:
        reread(j, now);
        break;
    case DV_WAIT: {
        unsigned late = j->tenant->engine->late_readers;
        /* the passes of a cell count what each page brings: a reread would skew them */
        if (!j->released && j->cursor.win.mode != DFW_WINDOW_PASSES && dfw__deliver_taken(j, ~0u)) {
            dfw__batch_release(j); /* before the read-ahead: its answer may take the memory */
        }
        if (late != 0 && dfw__deliver_taken(j, late)) {
            dfw__ahead_send(j, now, on_response);
        }
        break;
    }
    }
}

/* An answer with a $skip the API refused: the cell cannot be paged further. */
static int skip_refused(struct job *j, const struct dfw_http_response *r)
{
    if (r->transport != DFW_OK || r->status != 400 || j->slice.skip == 0) {
        return 0;
    }
    memset(&j->outcome, 0, sizeof(j->outcome));
    j->outcome.more = 1;
    j->outcome.cell = DFW_CELL_INCOMPLETE;
    /* the limit is where we are: the window gives the cell up (and says so) */
    dfw__job_anomaly(j, AN_SKIP_LIMIT);
    dfw_cursor_advance(&j->cursor, &j->outcome, 0, j->overlap_ms);
    dfw_cell_reset(&j->cell);
    save_checkpoint(j);
    dfw__job_at(j, dfw_mono_ms());
    return 1;
}

/* The answer to the request for j->slice. */
static void answer(struct job *j, const struct dfw_http_response *r, int64_t now)
{
    if (skip_refused(j, r)) {
        return;
    }
    struct fetch_verdict v;
    dfw__fetch_verdict(j, r, &v);
    switch (v.kind) {
    case V_PAGE: {
        char err[512];
        if (dfw__batch_build(j, r, err, sizeof(err)) != DFW_OK) {
            dfw_log(DFW_LOG_WARN, "fetch", "tenant=%s stream=%s msg=\"bad page: %s; retrying\"",
                    j->tenant->conf->name, j->def->name, DFW_LOG_ESC(err));
            job_retry(j, now, -1, err);
            return;
        }
        j->attempts = 0;
        if (j->nevents == 0) {
            commit(j, now);
            return;
        }
        set_state(j, J_DELIVER);
        dfw__deliver_begin(j);
        if (j->tenant->engine->late_readers == 0) {
            /* before the outputs get the batch: the next page arrives while this one is encoded */
            dfw__ahead_send(j, now, on_response);
        }
        deliver_step(j, now);
        return;
    }
    case V_THROTTLED:
        /* a 429 is the service's own pacing, not a failure: it never marks the job failing */
        dfw__job_at(
            j, now + (v.wait_ms >= 0 ? v.wait_ms : dfw_backoff_ms(j->attempts + 1, 1000, 60000)));
        return;
    case V_RETRY:
        job_retry(j, now, v.wait_ms, v.why);
        return;
    case V_FAIL:
        job_fail(j, v.err);
        return;
    }
}

static void on_response(void *ctx, const struct dfw_http_response *r)
{
    struct job *j = ctx;
    int64_t now = dfw_mono_ms();
    j->in_flight = 0;
    j->bytes += r->len;
    if (dfw__ahead_answer(j, r, now)) {
        return; /* read ahead: kept until its turn, or dropped */
    }
    if (j->tenant->retiring) {
        return; /* reload removed it: the answer is not delivered, the checkpoint stays */
    }
    answer(j, r, now);
}

/* The answer read ahead, now that the batch before it is committed. */
static void answer_read_ahead(struct job *j, int64_t now)
{
    struct dfw_buf body = j->ahead_body;
    struct dfw_http_response r = j->ahead_resp;
    memset(&j->ahead_body, 0, sizeof(j->ahead_body));
    r.owner = &body;
    j->ahead = AHEAD_NONE;
    answer(j, &r, now);
    dfw_buf_free(&body); /* unless the batch took it */
}

static void send(struct job *j, int64_t now)
{
    if (j->in_flight) {
        return; /* a read-ahead no longer wanted is still out: sent once it is back */
    }
    if (dfw__fetch_send(j, now, &j->cursor.win, &j->slice, 0, on_response) == FS_FAILED) {
        job_fail(j, j->fail_err);
    }
}

static void begin_sweep(struct job *j, int64_t now)
{
    struct dfw_cursor *c = &j->cursor;
    int resumed = c->win.to_ms != 0;
    if (!dfw_cursor_begin(c, dfw_now_ms(), j->overlap_ms, j->settle_ms, j->top)) {
        /* nothing has settled since the checkpoint yet */
        if (caught_up(j)) {
            set_state(j, J_DONE);
        }
        else {
            schedule_poll(j, now);
        }
        return;
    }
    c->win.top = j->top; /* a resumed sweep is read with this run's $top */
    if (resumed || c->win.mode != DFW_WINDOW_TIME) {
        dfw_cell_reset(&j->cell);
    }
    j->warned = 0;
    set_state(j, J_FETCH);
    send(j, now);
}

static void load_checkpoint(struct job *j)
{
    struct dfw_engine *e = j->tenant->engine;
    char err[512];
    dfw_err rc =
        dfw_state_load(e->state, j->tenant->conf->name, j->def->name, &j->cursor, err, sizeof(err));
    if (rc == DFW_ERR_NOTFOUND) {
        j->cursor.high_water_ms = e->run_start_wall - e->cfg->initial_lookback_ms;
        dfw_log(DFW_LOG_INFO, "state",
                "tenant=%s stream=%s msg=\"no checkpoint; starting %lld s back\"",
                j->tenant->conf->name, j->def->name,
                (long long)(e->cfg->initial_lookback_ms / 1000));
    }
    else if (rc != DFW_OK) {
        dfw_log(DFW_LOG_ERROR, "state", "tenant=%s stream=%s msg=\"%s\"", j->tenant->conf->name,
                j->def->name, DFW_LOG_ESC(err));
        job_fail(j, rc);
    }
    j->unloaded = rc != DFW_OK && rc != DFW_ERR_NOTFOUND;
}

void dfw__job_init_run(struct job *j, int64_t due)
{
    set_state(j, J_IDLE);
    dfw__job_at(j, due);
    load_checkpoint(j);
}

void dfw__job_step(struct job *j, int64_t now)
{
    struct dfw_engine *e = j->tenant->engine;
    if (j->tenant->retiring && j->state != J_DELIVER) {
        return; /* reload: it only finishes what is being delivered */
    }
    if (e->store_down && (j->state == J_IDLE || j->state == J_FETCH)) {
        /* nothing moves on while checkpoints cannot be kept */
        if (dfw__job_hold(j, now)) {
            job_fail(j, DFW_ERR_IO);
        }
        return;
    }
    switch (j->state) {
    case J_IDLE:
        if (!e->stop) {
            begin_sweep(j, now);
        }
        break;
    case J_FETCH:
        if (e->stop) {
            break;
        }
        if (j->ahead == AHEAD_READY) {
            /* the batch before it is committed first: a crash repeats at most one batch */
            e->commit_due = 0;
            dfw__checkpoints_commit(e, now);
            if (e->store_down) {
                dfw__job_at(j, now); /* held (checkpoint_hold.c) from its next step */
                break;
            }
            answer_read_ahead(j, now);
        }
        else if (!j->in_flight) {
            send(j, now);
        }
        break;
    case J_DELIVER:
        deliver_step(j, now);
        break;
    case J_FAILED:
        if (!e->once && !e->stop) {
            set_state(j, J_IDLE);
            j->attempts = 0;
            j->slot->failed = DFW_OK;
            if (j->unloaded) {
                load_checkpoint(j); /* never start over while the checkpoint is unreadable */
            }
            if (j->state == J_IDLE) {
                dfw__job_at(j, now);
            }
        }
        break;
    case J_DONE:
        break;
    }
}

void dfw__job_release(struct job *j)
{
    dfw__sched_cancel(&j->tenant->engine->sched, &j->node);
    if (j->waiting_token) {
        dfw__token_forget(j->slot, j);
    }
    dfw__deliver_cancel(j);
    dfw__batch_drop(j);
    dfw_buf_free(&j->strs);
    dfw_buf_free(&j->ahead_body);
    dfw_buf_free(&j->spare);
    dfw_cursor_clear(&j->cursor);
    dfw_cell_clear(&j->cell);
    free(j->times);
    free(j->pairs);
    free(j->acks);
}
