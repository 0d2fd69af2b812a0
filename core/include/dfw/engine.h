/* The engine: scheduler + pipeline. Polls every (tenant, stream) on one libcurl multi loop, hands
 * each fetched page to every output and advances the checkpoint only when every output has
 * acknowledged it (DESIGN.md §3 pipeline/scheduler, §4). */
#ifndef DFW_ENGINE_H
#define DFW_ENGINE_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/config.h"
#include "dfw/err.h"
#include "dfw/output.h"
#include "dfw/state.h"

struct dfw_engine;

struct dfw_engine_summary {
    size_t tenants;
    size_t jobs;         /* (tenant, stream) pairs */
    size_t jobs_failed;  /* jobs that ended (or are) in a failed state */
    uint64_t fetched;    /* records received from the APIs */
    uint64_t duplicates; /* records dropped because (id, last-update) was already delivered */
    uint64_t late;       /* delivered records that became visible after their window was read */
    uint64_t delivered;  /* events acknowledged by every output */
    uint64_t bytes;      /* response bytes received */
    uint64_t api_calls;  /* API page requests */
    uint64_t throttled;  /* HTTP 429 answers */
    uint64_t token_requests;
    int64_t elapsed_ms;
};

/* Create an engine over cfg (borrowed; must outlive the engine), the created outputs (borrowed)
 * and an opened, locked state directory (borrowed). Creates a token provider per tenant, which
 * reads the secrets: a tenant whose secrets cannot be read fails creation with errbuf naming it.
 * Returns NULL on error. */
struct dfw_engine *dfw_engine_new(const struct dfw_config *cfg,
                                  struct dfw_output *outputs,
                                  size_t noutputs,
                                  struct dfw_state *state,
                                  char *errbuf,
                                  size_t errlen);

/* Run until dfw_engine_stop, or with once != 0 until every (tenant, stream) has completed a sweep
 * up to the time run started (or failed). progress != 0 prints a progress line to stderr every two
 * seconds. Returns DFW_OK, or DFW_ERR_AUTH / DFW_ERR_RETRY / DFW_ERR_FORBIDDEN when at least one
 * job failed (once mode). Single-threaded: call from one thread. */
dfw_err dfw_engine_run(struct dfw_engine *e, int once, int progress);

/* Ask run to return: in-flight deliveries are given a bounded time to be acknowledged (see
 * dfw_engine_set_stop_grace). Async-signal-safe and thread-safe (it wakes the loop). */
void dfw_engine_stop(struct dfw_engine *e);

/* Loads the configuration again for a reload, on dfw_engine_run's thread: a new configuration
 * (the engine borrows it until dfw_engine_free: keep it until then), or NULL with the reason in
 * errbuf (the running configuration stays). */
typedef const struct dfw_config *(*dfw_reload_fn)(void *ctx, char *errbuf, size_t errlen);

/* Set how to reload (NULL: reload requests are ignored with a log line). Call before run. */
void dfw_engine_set_reload(struct dfw_engine *e, dfw_reload_fn fn, void *ctx);

/* Ask run to reload (SIGHUP): tenants added start, removed ones stop once their in-flight batch
 * is acknowledged, changed ones stop and start again with the new section, the others are not
 * touched; a configuration that cannot be loaded, or a new tenant whose credentials cannot be
 * read, refuses the reload and the running configuration stays. [forwarder] and [output]
 * changes take effect at the next start (logged). Ignored by --once. Async-signal-safe. */
void dfw_engine_request_reload(struct dfw_engine *e);

/* Wake a dfw_engine_run that waits for network events or timers (a host's acknowledgement, a
 * metrics request). Thread-safe and async-signal-safe; never blocks. */
void dfw_engine_wakeup(struct dfw_engine *e);

/* How long run keeps going after dfw_engine_stop to collect outstanding acknowledgements (ms, >=
 * 0; default 10000). 0: return at once; batches not yet acknowledged are fetched and delivered
 * again by the next run (the checkpoint is before them). Call before run (not thread-safe). */
void dfw_engine_set_stop_grace(struct dfw_engine *e, int64_t grace_ms);

/* Counters so far. */
void dfw_engine_get_summary(const struct dfw_engine *e, struct dfw_engine_summary *out);

/* Free. NULL is a no-op. */
void dfw_engine_free(struct dfw_engine *e);

#endif
