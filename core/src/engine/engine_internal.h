/* Engine internals shared by engine*.c; not a public header. */
#ifndef DFW_ENGINE_INTERNAL_H
#define DFW_ENGINE_INTERNAL_H

#include "dfw/auth.h"
#include "dfw/cloud.h"
#include "dfw/cursor.h"
#include "dfw/engine.h"
#include "dfw/http.h"
#include "dfw/stream.h"

#include <signal.h>

#define MAX_RESOURCES 3

/* A token request in flight or backing off, per (tenant, resource): single-flight refresh. */
struct token_slot {
    struct tenant_rt *tenant;
    const char *resource;
    int in_flight;
    int attempts;
    int64_t retry_at; /* monotonic ms */
    dfw_err failed;   /* permanent failure (DFW_ERR_AUTH...), DFW_OK when none */
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
};

/* Token bucket (documented per-tenant quotas). */
struct bucket {
    double tokens;
    double capacity;
    double per_ms;
    int64_t last; /* monotonic ms */
};

enum job_state { J_IDLE, J_FETCH, J_DELIVER, J_DONE, J_FAILED };

struct ack_ctx {
    struct job *job;
    unsigned out;
};

struct job {
    struct tenant_rt *tenant;
    const struct dfw_stream_def *def;
    const char *resource;
    const char *base_url;
    struct token_slot *slot;
    struct dfw_cursor cursor;
    enum job_state state;
    int64_t due;      /* monotonic ms: next action */
    int in_flight;    /* an API request is running */
    int attempts;     /* consecutive failures of the current request */
    int failing;      /* attempts exceeded max_retries: reported in metrics */
    dfw_err fail_err; /* why the job is J_FAILED */
    struct bucket per_min;
    struct bucket per_hour;
    /* the page being delivered */
    struct dfw_page page;
    struct dfw_event *events;
    char *ids; /* nevents id strings, 64 bytes each */
    size_t nevents;
    uint64_t seq;
    unsigned acked;   /* bit per output */
    unsigned pending; /* bit per output: submitted, ack outstanding */
    int deliver_attempts;
    int64_t busy_since;   /* monotonic ms: first back-pressure answer for this batch, 0 none */
    struct ack_ctx *acks; /* one per output */
    /* counters */
    uint64_t fetched, duplicates, delivered, bytes, api_calls, throttled;
};

struct dfw_engine {
    const struct dfw_config *cfg;
    struct dfw_output *outputs;
    size_t noutputs;
    struct dfw_state *state;
    struct dfw_http *http;
    struct tenant_rt *tenants;
    size_t ntenants;
    struct job *jobs;
    size_t njobs;
    uint64_t next_seq;
    int once;
    int64_t run_start_wall;
    int64_t run_start_mono;
    volatile sig_atomic_t stop;
    uint64_t *out_acked; /* events acknowledged per output */
};

/* tokens.c: start a token request for the slot unless one is in flight or backing off */
void dfw__token_request(struct token_slot *s, int64_t now);
/* engine_fetch.c */
void dfw__job_fetch(struct job *j, int64_t now);
/* engine_deliver.c */
void dfw__job_deliver(struct job *j, int64_t now);
void dfw__job_page_received(struct job *j, const struct dfw_http_response *r, int64_t now);
void dfw__job_drop_page(struct job *j);
void dfw__job_commit(struct job *j, int64_t now);
/* engine_metrics.c */
void dfw__engine_write_metrics(const struct dfw_engine *e);
/* engine.c */
void dfw__job_fail(struct job *j, dfw_err err);
void dfw__job_retry(struct job *j, int64_t now, int64_t retry_after_ms, const char *why);

#endif
