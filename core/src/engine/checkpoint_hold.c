/* A job while the checkpoint store cannot be written (engine.c sets store_down when a commit
 * fails: disk full, read-only, I/O error). Its batch in delivery goes on and its checkpoint stays
 * staged, but it starts no request, so that a restart repeats at most that one batch; it says so
 * once per outage (the engine logs the store's error itself) and goes on when a commit succeeds.
 * In --once the job fails instead: the run ends (exit status 1) rather than waiting for space. */
#include "engine_internal.h"
#include "dfw/log.h"

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
