/* The cursor of one (tenant, stream): the checkpoint (high-water mark), the sweep in progress
 * (a window read in slices, dfw/window.h) and the (id, last-update) pairs already delivered.
 *
 * A sweep reads every record with from <= last-update < to, where from = high_water - overlap and
 * to = now - settle_delay. When it has read its whole window, high_water becomes to and the next
 * sweep starts at high_water - overlap, so records that became visible late are read again; the
 * remembered pairs drop those repeats. Pairs are remembered from the moment a batch is built
 * (pending, so that the same pair twice on one page is sent once) and kept while a later slice of
 * this sweep or the next sweep can serve them again (see dfw_cursor_advance). Not thread-safe. */
#ifndef DFW_CURSOR_H
#define DFW_CURSOR_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/buf.h"
#include "dfw/err.h"
#include "dfw/window.h"

struct json_object;

struct dfw_cursor {
    int64_t high_water_ms; /* every record updated before this was delivered (ms, UTC) */
    int64_t prev_end_ms;   /* end of the previous sweep: records older than it are late */
    struct dfw_window win; /* the sweep in progress; win.to_ms == 0: none */
    uint64_t delivered;    /* events acknowledged by every output, all time */
    uint64_t late;         /* of those, records that became visible after their window was read */
    struct dfw_seen *seen; /* owned set of remembered (id, last-update) pairs */
};

/* Initialise an empty cursor starting at high_water_ms. Returns DFW_ERR_NOMEM or DFW_OK. */
dfw_err dfw_cursor_init(struct dfw_cursor *c, int64_t high_water_ms);

/* Free what the cursor owns; it is zeroed. NULL seen (never initialised) is fine. */
void dfw_cursor_clear(struct dfw_cursor *c);

/* Begin a sweep over [high_water - overlap, now - settle_delay) read with $top = top, unless one
 * is in progress (then nothing changes). Returns 1 when a sweep is in progress afterwards, 0 when
 * the window would be empty (now - settle_delay <= high_water - overlap: nothing to read yet). */
int dfw_cursor_begin(
    struct dfw_cursor *c, int64_t now_ms, int64_t overlap_ms, int64_t settle_ms, int top);

/* 1 when (id, updated) was delivered or is in the batch being built, else 0. updated is the
 * API's exact text. */
int dfw_cursor_seen(const struct dfw_cursor *c, const char *id, const char *updated);

/* 1 when some pair with this id is remembered: a new last-update time makes it an update. */
int dfw_cursor_seen_id(const struct dfw_cursor *c, const char *id);

/* The latest last-update time (ms since the epoch) among the remembered pairs of this id: the
 * newest version of the record delivered (or in the batch being built) that can still be told
 * apart; 0 when none is remembered (never delivered, or its pairs were forgotten: see
 * dfw_cursor_advance). */
int64_t dfw_cursor_latest(const struct dfw_cursor *c, const char *id);

/* What the cursor remembered of a record before dfw_cursor_note. */
struct dfw_cursor_prior {
    uint64_t pair_hash; /* 64-bit hash of (id, updated), for the window's pass bookkeeping
                           (dfw_cell_page); in memory only: it may change between versions */
    int present;        /* 1: the pair was delivered or is in the batch being built (a duplicate) */
    int id_known;       /* 1: some pair of the id is remembered (as dfw_cursor_seen_id) */
    int64_t latest_ms;  /* as dfw_cursor_latest: ms since the epoch, 0 when none */
};

/* dfw_cursor_seen, dfw_cursor_seen_id and dfw_cursor_latest of a record of the batch being
 * built, all answered before dfw_cursor_add of the pair (when it was not present), with the text
 * of id and updated measured and hashed once: the per-record path of a page. DFW_ERR_NOMEM (the
 * pair is not added; *prior is filled). Not thread-safe (the cursor's job owns it). */
dfw_err dfw_cursor_note(struct dfw_cursor *c,
                        const char *id,
                        const char *updated,
                        int64_t updated_ms,
                        struct dfw_cursor_prior *prior);

/* Remember a pair of the batch being built (pending). DFW_ERR_NOMEM. */
dfw_err
dfw_cursor_add(struct dfw_cursor *c, const char *id, const char *updated, int64_t updated_ms);

/* The batch is acknowledged by every output: its pairs stay remembered and count as delivered. */
void dfw_cursor_commit(struct dfw_cursor *c, size_t events);

/* The batch will not be acknowledged (the job gave up): forget its pending pairs, so that a
 * later attempt sends them again. */
void dfw_cursor_rollback(struct dfw_cursor *c);

/* The slice dfw_window_slice gave is answered and its events are acknowledged: move the window
 * on (dfw_window_advance). When the window is read, the sweep ends: high_water = to. Pairs
 * updated before min(slice position, to - overlap) are forgotten: no later slice of this sweep
 * asks for them (slices are disjoint along the last-update time) and the next sweep starts at
 * to - overlap. */
void dfw_cursor_advance(struct dfw_cursor *c,
                        const struct dfw_slice_outcome *o,
                        int next_skip,
                        int64_t overlap_ms);

/* Number of remembered pairs, and the bytes they take in memory. */
size_t dfw_cursor_seen_count(const struct dfw_cursor *c);
size_t dfw_cursor_seen_bytes(const struct dfw_cursor *c);

/* To and from JSON (the checkpoint file format, version 2; version 1 files are read too: their
 * sweep in progress is begun again). to_text appends the checkpoint with the committed pairs
 * only to out, as one line of JSON text (json-c's plain form, the members in a fixed order);
 * DFW_OK or DFW_ERR_NOMEM (out unchanged). from_json fills an initialised-or-zeroed cursor from
 * the parsed text, DFW_ERR_INVALID when the object is not a checkpoint. */
dfw_err dfw_cursor_to_text(const struct dfw_cursor *c, struct dfw_buf *out);
dfw_err dfw_cursor_from_json(struct dfw_cursor *c, struct json_object *obj);

#endif
