/* Writing the staged checkpoints, and a job while the checkpoint store cannot be written
 * (store_down is set when a commit fails: disk full, read-only, I/O error). Its batch in delivery
 * goes on and its checkpoint stays staged, but it starts no request, so that a restart repeats at
 * most that one batch; it says so once per outage (the engine logs the store's error itself) and
 * goes on when a commit succeeds. In --once the job fails instead: the run ends (exit status 1)
 * rather than waiting for space. */
#include "engine_internal.h"
#include "dfw/log.h"
#include "dfw/state.h"

int dfw__job_hold(struct job *j, int64_t now)
{
    struct dfw_engine *e = j->tenant->engine;
    if (j->held_outage != e->store_outages) {
        j->held_outage = e->store_outages;
        /* tenant and stream names are checked by the configuration (A-Z a-z 0-9 _ . -) */
        dfw_log(DFW_LOG_WARN, "state", "tenant=%s stream=%s msg=\"%s\"", j->tenant->conf->name,
                j->def->name,
                e->once ? "stopping this stream: the checkpoint store cannot be written; the "
                          "batch delivered since its last written checkpoint is sent again by "
                          "the next run"
                        : "holding at the last written checkpoint until the checkpoint store "
                          "can be written");
    }
    j->failing = 1; /* dfw_stream_failing, /health: cleared by its next commit */
    if (e->once && !j->in_flight) {
        return 1;
    }
    /* at the next commit attempt; when that is this turn's (it comes after the jobs), one retry
     * interval later: queued at or before now, the job would be popped again at once, and the
     * loop would spin in this turn forever */
    dfw__job_at(j, e->store_retry_at > now ? e->store_retry_at : now + DFW_STORE_RETRY_MS);
    return 0;
}

/* Write the checkpoints the jobs staged this turn, in one transaction. While the store cannot be
 * written (disk full, read-only) jobs stop advancing (job.c looks at store_down) and the error is
 * said once, and again every minute. */
void dfw__checkpoints_commit(struct dfw_engine *e, int64_t now)
{
    if (dfw_state_staged(e->state) == 0 || now < e->commit_due ||
        (e->store_down && now < e->store_retry_at)) {
        return;
    }
    char err[1024];
    if (dfw_state_commit(e->state, err, sizeof(err)) == DFW_OK) {
        if (e->store_down) {
            dfw_log(DFW_LOG_INFO, "state", "msg=\"checkpoints are written again\"");
        }
        e->store_down = 0;
        return;
    }
    if (!e->store_down || now >= e->store_logged + 60000) {
        dfw_log(DFW_LOG_ERROR, "state",
                "msg=\"%s; every stream holds at its last written checkpoint until the store can "
                "be written\" staged=%zu",
                DFW_LOG_ESC(err), dfw_state_staged(e->state));
        e->store_logged = now;
    }
    /* a new outage: each stream says once that it holds (checkpoint_hold.c) */
    e->store_outages += !e->store_down;
    e->store_down = 1;
    e->store_retry_at = now + DFW_STORE_RETRY_MS;
}
