/* Engine internals shared by the files of core/src/engine/; not a public header.
 *
 * Layers, top to bottom (no file calls a file above it):
 *   engine.c        the loop: creates the jobs, steps them, polls the outputs, summary
 *   job.c           the job life cycle: sweep, slice, response, delivery, commit, retry, failure
 *   engine_fetch.c  one API request (token, rate budget, URL) and the verdict on its answer
 *   batch.c         a page becomes a batch: dedup, kinds, late arrivals, what the page says
 *                   about its slice
 *   engine_deliver.c  submit a batch to every output and collect their acknowledgements
 *   tokens.c        access tokens per (tenant, resource), single-flight
 *   engine_metrics.c, state.c  metrics file, checkpoints */
#ifndef DFW_ENGINE_INTERNAL_H
#define DFW_ENGINE_INTERNAL_H

#include "dfw/auth.h"
#include "dfw/cloud.h"
#include "dfw/cursor.h"
#include "dfw/engine.h"
#include "dfw/http.h"
#include "dfw/stream.h"
#include "dfw/window.h"
#include "sched.h"

#include <signal.h>

#define MAX_RESOURCES 3
#define ID_LEN        128

/* A token request in flight or backing off, per (tenant, resource): single-flight refresh. */
struct token_slot {
    struct tenant_rt *tenant;
    const char *resource;
    int in_flight;
    int attempts;
    int64_t retry_at;     /* monotonic ms */
    dfw_err failed;       /* permanent failure (DFW_ERR_AUTH...), DFW_OK when none */
    struct job **waiters; /* jobs waiting for this token (woken when a request ends) */
    size_t nwaiters, capwaiters;
};

/* Token bucket (documented per-tenant quotas). */
struct bucket {
    double tokens;
    double capacity;
    double per_ms;
    int64_t last; /* monotonic ms */
};

/* Graph's limit per application across all tenants: 130,000 requests per 10 s (Microsoft Graph
 * throttling limits, defender-api.md §10.2), one bucket per client_id. */
#define GRAPH_APP_REQUESTS  130000
#define GRAPH_APP_PERIOD_MS 10000

struct app_bucket {
    char *client_id;
    struct bucket b;
};

struct tenant_rt {
    struct dfw_engine *engine;
    const struct dfw_tenant_conf *conf;
    const struct dfw_cloud *cloud;
    const char *defender_url;
    const char *mde_url;
    const char *graph_url;
    struct dfw_auth *auth;
    struct token_slot slots[MAX_RESOURCES];
    size_t nslots;
    uint64_t token_requests;
    long graph_app;   /* index of its client_id's app-wide Graph bucket in engine->apps */
    struct job *jobs; /* owned: one per stream of the tenant */
    size_t njobs;
    int retiring;                /* reload removed or changed it: it stops once idle */
    int starting;                /* reload added it: it starts when waits_for is gone */
    struct tenant_rt *waits_for; /* the tenant it replaces, still retiring, or NULL */
};


enum job_state { J_IDLE, J_FETCH, J_DELIVER, J_DONE, J_FAILED };

/* The request read ahead while a batch is delivered (read_ahead.c). */
enum ahead_state {
    AHEAD_NONE,  /* none */
    AHEAD_SENT,  /* in flight (j->in_flight), for j->ahead_slice */
    AHEAD_READY, /* answered while the batch was delivered: kept in j->ahead_resp */
    AHEAD_STALE  /* in flight, no longer wanted: its answer is dropped */
};

/* Things a page can say about the server's paging that the operator should hear about
 * (each one warning line per sweep and a counter). */
enum anomaly {
    AN_FULL_NO_NEXT,  /* a page of $top rows without a next link (where next links are due) */
    AN_FOREIGN_NEXT,  /* a next link to another host: not followed */
    AN_OVERFULL,      /* more rows than $top */
    AN_SKIP_LIMIT,    /* a cell needs $skip beyond the API's limit: not read completely */
    AN_SAMPLED,       /* a cell's ties came in a new order on every request: read by sampling */
    AN_COUNT_CHANGED, /* @odata.count changed while a cell was read */
    AN_OUTSIDE_SLICE, /* a row whose last-update time lies outside the slice asked for */
    AN_COUNT
};

struct ack_ctx {
    struct job *job;
    unsigned out;
};

/* What delivery of the current batch needs the life cycle to do. */
enum deliver_verdict {
    DV_WAIT,    /* acknowledgements outstanding, or a retry is scheduled (due) */
    DV_ACKED,   /* every output acknowledged the batch */
    DV_GIVE_UP, /* --once: the outputs keep refusing; fail the job (deliver_err) */
    DV_REREAD   /* an output must get the batch again but its page is given back: read the slice
                   again (the checkpoint has not moved) */
};

struct job {
    struct tenant_rt *tenant;
    const struct dfw_stream_def *def;
    const char *resource;
    const char *base_url;
    struct token_slot *slot;
    struct dfw_cursor cursor;
    struct dfw_cell cell; /* pass mode of the window */
    uint64_t *pairs;      /* scratch: pair hashes of the page's rows (pass mode) */
    size_t pairs_cap;
    int64_t overlap_ms; /* the tenant's or the forwarder's */
    int64_t settle_ms;
    int top; /* $top of this job's requests */
    enum job_state state;
    struct sched_node node; /* node.due: monotonic ms of the next timed action (when queued) */
    int waiting_token;      /* on its token slot's waiters */
    int64_t phase_ms;       /* where in poll_interval this job's polls fall */
    int swept;              /* has read its first window this run */
    int in_flight;          /* an API request is running */
    int attempts;           /* consecutive failures of the current request */
    int failing;            /* attempts exceeded max_retries: reported in metrics */
    dfw_err fail_err;       /* why the job is J_FAILED */
    int unloaded;           /* its checkpoint could not be read: load it again before any sweep */
    uint64_t held_outage;   /* the store outage it said it holds for (checkpoint_hold.c) */
    struct bucket per_min;
    struct bucket per_hour;
    /* the response being delivered: the slice it answered and what it said about it */
    struct dfw_slice slice;
    struct dfw_slice_outcome outcome;
    struct dfw_buf body;  /* the response body the page and events point into */
    struct dfw_buf spare; /* a dropped batch's body, emptied: the next request's answer goes into
                             its memory (no fresh pages to fault in); freed in any other state */
    struct dfw_page page;
    struct dfw_event *events;
    struct dfw_buf strs; /* ids, last-update times and severities of the events (arena) */
    size_t nevents;
    /* the next slice's request, sent while this batch is delivered (read_ahead.c) */
    enum ahead_state ahead;
    struct dfw_slice ahead_slice;
    struct dfw_http_response ahead_resp; /* AHEAD_READY: the answer; body in ahead_body */
    struct dfw_buf ahead_body;
    char ahead_error[256];
    int64_t *times; /* scratch: last-update and creation times of the page's rows */
    size_t times_cap;
    uint64_t seq;
    unsigned acked;   /* bit per output */
    unsigned pending; /* bit per output: submitted, ack outstanding */
    unsigned reading; /* bit per output: submitted, neither acknowledged nor taken (dfw_batch) */
    int released;     /* the batch's page is given back: only its count and pairs are left */
    int reread;       /* this batch is the reread of one whose delivery failed: attempts go on */
    int deliver_attempts;
    int64_t busy_since; /* monotonic ms: first back-pressure answer for this batch, 0 none */
    int64_t retry_at;   /* monotonic ms: the batch is submitted again no earlier */
    enum deliver_verdict verdict;
    dfw_err deliver_err;
    struct ack_ctx *acks;  /* one per output */
    unsigned warned;       /* bit per enum anomaly: warned this sweep */
    size_t batch_late;     /* events of the batch that arrived late (see dfw_cursor.prev_end_ms) */
    int64_t batch_late_ms; /* the most behind of them: ms before the previous sweep's end */
    /* counters */
    uint64_t fetched, duplicates, delivered, bytes, api_calls, throttled, late;
    uint64_t anomalies[AN_COUNT];
};

/* A commit that failed is tried again this much later (engine.c, checkpoint_hold.c). */
#define DFW_STORE_RETRY_MS 1000

/* A checkpoint that delivered events is committed in the turn of the loop that staged it (a crash
 * repeats at most that batch); one that only moves an empty window on waits up to this long for
 * others to share its transaction and fsync (a crash then re-reads windows that held nothing).
 * job.c stages, dfw__checkpoints_commit (checkpoint_hold.c) commits. */
#define DFW_QUIET_COMMIT_MS 1000

struct dfw_engine {
    const struct dfw_config *cfg;
    struct dfw_output *outputs;
    size_t noutputs;
    unsigned all_outputs;  /* a bit per output: a batch every output acknowledged */
    unsigned late_readers; /* outputs that read a batch's events after submit (those with cancel):
                              the read-ahead waits until they have taken the batch, so that the
                              next page does not arrive beside a whole page */
    struct dfw_state *state;
    struct dfw_http *http;
    struct tenant_rt **tenants; /* owned */
    size_t ntenants, captenants;
    size_t nretiring, nstarting; /* tenants being stopped or waiting to start (reload) */
    volatile sig_atomic_t reload_requested;
    dfw_reload_fn reload_fn;
    void *reload_ctx;
    size_t njobs; /* over all tenants */
    struct dfw_sched sched;
    struct app_bucket *apps; /* Graph buckets per client_id */
    size_t napps, capapps;
    size_t ndelivering;                    /* jobs in J_DELIVER */
    size_t nfetching;                      /* jobs in J_FETCH */
    size_t nfinished;                      /* jobs in J_DONE or J_FAILED */
    size_t nswept;                         /* jobs that have read their first window */
    struct dfw_metrics_http *metrics_http; /* metrics_listen, or NULL */
    int64_t watchdog_ms, next_watchdog;    /* systemd WatchdogSec= / 2, 0 when off (notify.c) */
    int64_t commit_due; /* monotonic ms when the staged checkpoints are due (while any are) */
    int store_down;     /* the last checkpoint commit failed: jobs hold */
    int64_t store_retry_at, store_logged; /* monotonic ms */
    uint64_t store_outages;               /* times the store went down (from 1) */
    uint64_t next_seq;
    int once;
    int64_t run_start_wall;
    int64_t run_start_mono;
    volatile sig_atomic_t stop;
    int64_t stop_grace_ms;
    uint64_t *out_acked; /* events acknowledged per output */
};

/* The job's next timed action at due (monotonic ms); wakes it from the loop. */
static inline void dfw__job_at(struct job *j, int64_t due)
{
    /* out of memory: the job stays where it was; the next wakeup of its kind retries */
    (void)dfw__sched_at(&j->tenant->engine->sched, &j->node, due);
}

static inline struct job *dfw__job_of(struct sched_node *n)
{
    return (struct job *)(void *)((char *)n - offsetof(struct job, node));
}

/* Every job of every tenant: FOR_EACH_JOB(e, j) { ... } (j is a struct job *). */
#define FOR_EACH_JOB(e, j)                                                                         \
    for (size_t ti_ = 0; ti_ < (e)->ntenants; ti_++)                                               \
        for (struct job *j = (e)->tenants[ti_]->jobs;                                              \
             j < (e)->tenants[ti_]->jobs + (e)->tenants[ti_]->njobs; j++)

/* reload.c: apply a reload request (on the loop thread); every turn: free tenants that stopped,
 * start the ones waiting */
void dfw__reload(struct dfw_engine *e);
void dfw__reload_tick(struct dfw_engine *e, int64_t now);

/* tenant.c: a tenant's runtime (token provider, slots, one job per stream), or NULL with errbuf */
struct tenant_rt *dfw__tenant_new(struct dfw_engine *e,
                                  const struct dfw_tenant_conf *tc,
                                  char *errbuf,
                                  size_t errlen);
void dfw__tenant_free(struct tenant_rt *t);

/* job.c */
void dfw__job_init_run(struct job *j, int64_t now);
void dfw__job_step(struct job *j, int64_t now);
void dfw__job_release(struct job *j);
/* The job leaves the engine's counts (it is about to be freed). */
void dfw__job_uncount(struct job *j);

/* checkpoint_hold.c: the job cannot start a request while the checkpoint store is down
 * (store_down): it holds at its last written checkpoint, says so once per outage, is reported
 * failing and waits for the next commit attempt. Returns 1 when the job must fail instead
 * (--once: the run ends, the next one repeats the batch delivered since). */
int dfw__job_hold(struct job *j, int64_t now);

/* checkpoint_hold.c: write the staged checkpoints in one transaction when they are due (the loop,
 * every turn; job.c before it delivers an answer read ahead). While the store cannot be written
 * (disk full, read-only) store_down is set, jobs stop advancing and the error is said once, and
 * again every minute. */
void dfw__checkpoints_commit(struct dfw_engine *e, int64_t now);

/* engine_fetch.c: the outcome of trying to send the job's request for the slice w gives (written
 * to *slice). ahead (a read-ahead, read_ahead.c): nothing but FS_SENT or FS_WAIT, and FS_WAIT
 * has no effect (no token request, no timer, no error): the request is sent later as usual. */
enum fetch_send { FS_SENT, FS_WAIT, FS_FAILED };
enum fetch_send dfw__fetch_send(struct job *j,
                                int64_t now,
                                const struct dfw_window *w,
                                struct dfw_slice *slice,
                                int ahead,
                                dfw_http_done_fn done);

/* engine_fetch.c: what an API answer means for the job */
enum verdict_kind { V_PAGE, V_RETRY, V_THROTTLED, V_FAIL };
struct fetch_verdict {
    enum verdict_kind kind;
    int64_t wait_ms; /* V_RETRY, V_THROTTLED: delay, -1 = backoff */
    dfw_err err;     /* V_FAIL */
    char why[320];
};
void dfw__fetch_verdict(struct job *j, const struct dfw_http_response *r, struct fetch_verdict *v);

/* batch.c: parse the page into j->events (new pairs remembered as pending) and j->outcome; the
 * body is taken from r->owner (a response of dfw_http).
 * DFW_ERR_INVALID / NOMEM with the reason in errbuf: nothing is kept, the page is retried. */
dfw_err dfw__batch_build(struct job *j, const struct dfw_http_response *r, char *err, size_t len);
/* Free the page and the batch (pending pairs are not touched). */
void dfw__batch_drop(struct job *j);
/* Every output has the batch in its own memory (dfw__deliver_taken): give the page and the events
 * back before the acknowledgements (the body's memory takes the next request's answer when none
 * is out). What the commit needs (nevents, the pending pairs, the outcome) stays. */
void dfw__batch_release(struct job *j);
/* Count a paging anomaly; warn once per sweep. */
void dfw__job_anomaly(struct job *j, enum anomaly a);

/* engine_deliver.c */
void dfw__deliver_begin(struct job *j);
/* The batch will not be acknowledged (the job fails or is freed): outputs still holding it are
 * told to let go of its events (dfw_output_plugin.cancel) before they are freed. */
void dfw__deliver_cancel(struct job *j);
enum deliver_verdict dfw__deliver(struct job *j, int64_t now);
/* Every output has the batch, and those of mask (bit per output) have acknowledged it or said it
 * is taken (dfw_batch.taken). All outputs: its page may be given back; an output that does not
 * say taken keeps it until its acknowledgement, because its re-send may rely on the batch being
 * the same (the Kafka output's memo of what a failed batch delivered). */
int dfw__deliver_taken(const struct job *j, unsigned mask);

/* read_ahead.c (read_ahead = yes): while the batch of slice N is delivered, the request for slice
 * N+1 is sent, so the API's latency overlaps the outputs'. N+1 is what the window gives once N's
 * outcome is applied (dfw_window_advance is pure), known before N is acknowledged except in the
 * PASSES mode of a cell (never read ahead). The answer is kept, not parsed, until N is committed
 * (so dedup, kinds and late arrivals are decided as without read-ahead); at the commit it is
 * used only if the window's next slice is the one asked for, else dropped. At most two pages
 * per job are in memory. The checkpoint never moves ahead of the outputs: nothing of N+1 is
 * delivered before N's checkpoint is committed. The request is sent before N is submitted when
 * every output copies a batch in submit; else once those that read it later have taken it
 * (dfw__deliver_taken), when its page is given back too if no other output still needs it, so
 * that a job's memory stays near one page and what the outputs hold. */
/* J_DELIVER: send the next slice's request when it is known. */
void dfw__ahead_send(struct job *j, int64_t now, dfw_http_done_fn done);
/* An answer arrived (in_flight is cleared): 1 when it was the read-ahead's and is dealt with (kept
 * or dropped), 0 when the caller handles it as the answer to j->slice. */
int dfw__ahead_answer(struct job *j, const struct dfw_http_response *r, int64_t now);
/* The batch is committed, the window moved on: keep the read-ahead only if it asked for the slice
 * now due (then j->slice is that slice), else drop it. */
void dfw__ahead_settle(struct job *j);
/* Forget the read-ahead (the job fails or stops): a kept answer is freed, one in flight is dropped
 * when it arrives. */
void dfw__ahead_drop(struct job *j);

/* tokens.c: start a token request for the slot unless one is in flight or backing off */
void dfw__token_request(struct token_slot *s, int64_t now);
/* tokens.c: j waits for slot's token: woken when a token request of the tenant ends, or at the
 * slot's retry time when it is backing off. */
void dfw__token_wait(struct token_slot *s, struct job *j, int64_t now);
/* tokens.c: forget j (it is freed). */
void dfw__token_forget(struct token_slot *s, struct job *j);

/* metrics_http.c: metrics_listen. start: DFW_ERR_IO when the address cannot be bound. serve: on
 * the loop thread every turn, answers what the listener asked for. */
dfw_err dfw__metrics_http_start(struct dfw_engine *e, char *errbuf, size_t errlen);
void dfw__metrics_http_serve(struct dfw_engine *e);
void dfw__metrics_http_stop(struct dfw_engine *e);

/* notify.c: sd_notify READY, WATCHDOG (every turn; sends at half of WatchdogSec=), STATUS,
 * STOPPING */
void dfw__notify_start(struct dfw_engine *e, int64_t now);
void dfw__notify_turn(struct dfw_engine *e, int64_t now);
void dfw__notify_status(const struct dfw_engine *e);
void dfw__notify_stopping(void);

/* engine_metrics.c: the Prometheus text of every metric (appended to out) */
void dfw__metrics_render(const struct dfw_engine *e, struct dfw_buf *out);
void dfw__engine_write_metrics(const struct dfw_engine *e);

#endif
