/* The cursor of one (tenant, stream): where the next fetch starts, the page in progress, and the
 * (id, last-update) pairs already delivered inside the overlap window. */
#ifndef DFW_CURSOR_H
#define DFW_CURSOR_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/err.h"

struct json_object;

/* A sweep reads every record with from_ms <= last-update < to_ms, page by page. When its last page
 * is acknowledged, high_water_ms becomes to_ms and the next sweep starts at
 * high_water_ms - overlap, so late-indexed records are read again; the seen set drops those
 * repeats. */
struct dfw_cursor {
    int64_t high_water_ms; /* every record updated before this was delivered (ms, UTC) */
    int64_t sweep_from_ms; /* current sweep window; sweep_to_ms == 0: no sweep in progress */
    int64_t sweep_to_ms;
    char *next_link;       /* owned: next page of the current sweep, NULL: first page */
    int64_t keep_from_ms;  /* pairs updated before this are not remembered: they cannot come
                              back in the next sweep (sweep_to - overlap) */
    uint64_t delivered;    /* events acknowledged by every output, all time */
    struct dfw_seen *seen; /* owned hash set of delivered (id, last-update) pairs */
};

/* Initialise an empty cursor starting at high_water_ms. Returns DFW_ERR_NOMEM or DFW_OK. */
dfw_err dfw_cursor_init(struct dfw_cursor *c, int64_t high_water_ms);

/* Free what the cursor owns; it is zeroed. */
void dfw_cursor_clear(struct dfw_cursor *c);

/* Begin a sweep [high_water - overlap, now) unless one is in progress (then nothing changes). */
void dfw_cursor_begin(struct dfw_cursor *c, int64_t now_ms, int64_t overlap_ms);

/* 1 when (id, updated) was already delivered, else 0. updated is the API's exact text. */
int dfw_cursor_seen(const struct dfw_cursor *c, const char *id, const char *updated);

/* 1 when some pair with this id (any last-update time) is remembered: the record was delivered
 * before, so a new last-update time makes it an update. */
int dfw_cursor_seen_id(const struct dfw_cursor *c, const char *id);

/* Record a delivered pair (ignored when updated_ms < keep_from_ms). */
dfw_err
dfw_cursor_add(struct dfw_cursor *c, const char *id, const char *updated, int64_t updated_ms);

/* The page is acknowledged: continue at next_link (copied), or, when NULL, finish the sweep:
 * high_water = sweep_to, and pairs older than high_water - overlap are forgotten. */
dfw_err dfw_cursor_page_done(struct dfw_cursor *c, const char *next_link, int64_t overlap_ms);

/* Restart the current sweep from its first page (after an expired next link). */
void dfw_cursor_restart_sweep(struct dfw_cursor *c);

/* Number of remembered pairs. */
size_t dfw_cursor_seen_count(const struct dfw_cursor *c);

/* To and from JSON (the checkpoint file format, see defender-forwarder(1) FILES). to_json returns a
 * new object (caller puts it); from_json fills an initialised-or-zeroed cursor, DFW_ERR_INVALID
 * when the object is not a checkpoint. */
struct json_object *dfw_cursor_to_json(const struct dfw_cursor *c);
dfw_err dfw_cursor_from_json(struct dfw_cursor *c, struct json_object *obj);

#endif
