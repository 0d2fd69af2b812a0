/* The engine's timer heap (internal): jobs ordered by the monotonic time of their next action, so
 * a loop turn touches only the jobs that are due, not every job. A job is in the heap at most
 * once (struct sched_node inside it). Not thread-safe: the loop thread only. */
#ifndef DFW_ENGINE_SCHED_H
#define DFW_ENGINE_SCHED_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/err.h"

/* Embedded in the object scheduled; idx is 0 when not queued, else its heap position + 1. */
struct sched_node {
    int64_t due; /* monotonic ms */
    size_t idx;
};

struct dfw_sched {
    struct sched_node **heap;
    size_t n, cap;
};

/* Queue node at due, or move it there when already queued. DFW_ERR_NOMEM. */
dfw_err dfw__sched_at(struct dfw_sched *s, struct sched_node *node, int64_t due);

/* Take node out of the heap (nothing when it is not queued). */
void dfw__sched_cancel(struct dfw_sched *s, struct sched_node *node);

/* Pop the earliest node when it is due at now or before, else NULL. */
struct sched_node *dfw__sched_pop_due(struct dfw_sched *s, int64_t now);

/* The earliest due time, or INT64_MAX when empty. */
int64_t dfw__sched_next(const struct dfw_sched *s);

/* Free the heap (the nodes belong to their owners). */
void dfw__sched_free(struct dfw_sched *s);

#endif
