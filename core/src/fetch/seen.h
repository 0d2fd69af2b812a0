/* The set of (id, last-update) pairs a cursor remembers (internal to fetch/; the public face is
 * dfw/cursor.h). A pair is added pending (its batch is not yet acknowledged) and becomes committed
 * with dfw__seen_commit, or is removed again with dfw__seen_rollback. */
#ifndef DFW_FETCH_SEEN_H
#define DFW_FETCH_SEEN_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/cursor.h"
#include "dfw/err.h"

struct dfw_seen;

/* Visit one committed pair (for the checkpoint). */
typedef void (*dfw__seen_visit_fn)(void *arg,
                                   const char *id,
                                   const char *updated,
                                   int64_t updated_ms);

struct dfw_seen *dfw__seen_new(void);
void dfw__seen_free(struct dfw_seen *s);

/* 1 when the pair is in the set (committed or pending). */
int dfw__seen_has(const struct dfw_seen *s, const char *id, const char *updated);
/* 1 when some pair with this id is in the set. */
int dfw__seen_has_id(const struct dfw_seen *s, const char *id);
/* The latest last-update time (ms) of the pairs with this id in the set, 0 when there is none. */
int64_t dfw__seen_latest(const struct dfw_seen *s, const char *id);
/* Add a pair (nothing when present). pending: until dfw__seen_commit or dfw__seen_rollback. */
dfw_err dfw__seen_add(
    struct dfw_seen *s, const char *id, const char *updated, int64_t updated_ms, int pending);
/* Pending pairs become committed. */
void dfw__seen_commit(struct dfw_seen *s);
/* Pending pairs are removed. */
void dfw__seen_rollback(struct dfw_seen *s);
/* Remove committed pairs updated before keep_ms. */
dfw_err dfw__seen_prune(struct dfw_seen *s, int64_t keep_ms);
/* Pairs in the set, and pending ones among them. */
size_t dfw__seen_count(const struct dfw_seen *s);
size_t dfw__seen_pending(const struct dfw_seen *s);
/* dfw_cursor_note on the set: the pair is looked up (*prior) and added pending when absent, its
 * text measured and hashed once for all of that. DFW_ERR_NOMEM (nothing added; *prior filled). */
dfw_err dfw__seen_note(struct dfw_seen *s,
                       const char *id,
                       const char *updated,
                       int64_t updated_ms,
                       struct dfw_cursor_prior *prior);
/* Call fn for every committed pair. */
void dfw__seen_each(const struct dfw_seen *s, dfw__seen_visit_fn fn, void *arg);
/* Bytes the set holds in memory (entries, tables), for metrics and docs. */
size_t dfw__seen_bytes(const struct dfw_seen *s);

#endif
