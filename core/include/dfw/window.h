/* The window planner: which part of a sweep's window to ask the API for next, so that no record
 * whose last-update time lies in the window is missed, whatever the server's paging does.
 *
 * Microsoft's next links are the same query with a larger $skip (or opaque), run again over live
 * data (defender-api.md §10.3): an update during paging shifts the rows behind it, and a record
 * slides over the offset unseen. The planner never pages a live result with $skip. It cuts the
 * window [from, to) into slices along the last-update time and accepts a slice only when ONE
 * response covers it completely (fewer rows than $top and no next link). A slice that does not fit
 * is split just after the lower octile of the times the answer returned. A
 * one-millisecond slice that still does not fit is split along the creation time; a cell of one
 * millisecond in both is read with $skip (struct dfw_cell below; docs/architecture.md argues why
 * nothing is missed). Pure logic: no I/O, no clock; the engine calls it, the cursor persists it.
 * Not thread-safe (one job). */
#ifndef DFW_WINDOW_H
#define DFW_WINDOW_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/err.h"

/* No bound on the creation time: the whole range the APIs' times can take (1970-01-01 up to
 * 10000-01-01, exclusive). A request leaves such a bound out of its filter. */
#define DFW_WINDOW_OPEN_LO 0
#define DFW_WINDOW_OPEN_HI 253402300800000LL

/* What the next request asks for: last-update in [from_ms, to_ms) and, when split by creation
 * time, created in [cfrom_ms, cto_ms) (DFW_WINDOW_OPEN_* = no bound); $skip = skip. ms since the
 * epoch, UTC. */
struct dfw_slice {
    int64_t from_ms, to_ms;
    int64_t cfrom_ms, cto_ms;
    int skip;  /* > 0 only in the pass mode of a cell */
    int count; /* 1: ask for @odata.count too (pass mode, where the API documents $count) */
};

/* What reading a cell (see struct dfw_cell) says after a page. */
enum dfw_cell_verdict {
    DFW_CELL_MORE = 0,      /* read the page at dfw_cell.skip */
    DFW_CELL_DONE = 1,      /* every record of the cell was returned */
    DFW_CELL_SAMPLED = 2,   /* done by sampling: very probably complete, not certain */
    DFW_CELL_INCOMPLETE = 3 /* the API's $skip limit stops the reading: some may be missing */
};

/* What one response said about its slice. */
struct dfw_slice_outcome {
    size_t rows;     /* rows in the response, repeats included */
    int more;        /* rows >= $top, or a next link: the slice may hold more than it gave */
    int64_t cut_ms;  /* lower octile of the rows' last-update times (dfw_window_cut; rows > 0) */
    int64_t ccut_ms; /* lower octile of the rows' creation times (rows > 0) */
    int same_ms;     /* every row has the last-update millisecond cut_ms */
    int csame_ms;    /* every row has the creation millisecond ccut_ms */
    enum dfw_cell_verdict cell; /* PASSES mode: what dfw_cell_page said of the page */
};

enum dfw_window_mode {
    DFW_WINDOW_TIME = 0,    /* slicing along the last-update time */
    DFW_WINDOW_CREATED = 1, /* the 1 ms cell [pos, pos+1): slicing along the creation time */
    DFW_WINDOW_PASSES = 2   /* the cell in both times: $skip passes */
};

/* A sweep in progress (persisted in the checkpoint, see dfw/cursor.h). to_ms == 0: none. */
struct dfw_window {
    int64_t from_ms, to_ms; /* the sweep's window */
    int64_t pos_ms;         /* every slice below pos is complete */
    int64_t end_ms;         /* end of the current slice along the last-update time */
    int64_t width_ms;       /* width of the slice after the current one */
    enum dfw_window_mode mode;
    int64_t cpos_ms; /* CREATED/PASSES: every created slice below cpos is complete */
    int64_t cend_ms; /* CREATED: end of the current created slice */
    int skip;        /* PASSES: $skip of the next page */
    int top;         /* $top the slices are read with (rows >= top means "more") */
};

/* Start a sweep over [from_ms, to_ms) read with $top = top (> 0). The first slice is the whole
 * window: a quiet tenant costs one request. */
void dfw_window_begin(struct dfw_window *w, int64_t from_ms, int64_t to_ms, int top);

/* 1 when the sweep has read its whole window (or none was begun). */
int dfw_window_done(const struct dfw_window *w);

/* The slice to request next. Only valid while !dfw_window_done(w). */
void dfw_window_slice(const struct dfw_window *w, struct dfw_slice *out);

/* What happened with the slice dfw_window_slice gave: move on (complete) or split (more). Call it
 * only once the events of that response are acknowledged, so that the saved window never runs
 * ahead of the outputs. next_skip: in PASSES mode with o->cell == DFW_CELL_MORE, the $skip of the
 * next page (dfw_cell.skip). */
void dfw_window_advance(struct dfw_window *w, const struct dfw_slice_outcome *o, int next_skip);

/* Where to cut a slice that an answer did not cover: the lower octile of the n times (n > 0) the
 * answer returned (times is sorted). *same (may be NULL) is set to 1 when all n are equal. For
 * dfw_slice_outcome. */
int64_t dfw_window_cut(int64_t *times, size_t n, int *same);

/* Reading a cell (one millisecond in both times, more records than $top) with $skip. In a stable
 * order a pass (pages at $skip 0, $top, 2 $top, ... up to a short page) with no record twice
 * returns every record of the cell, unless a record it had read was updated away meanwhile (the
 * rows behind it shift back); the next pass shows that (it lacks that record). So a pass is
 * accepted when it repeated nothing and the next pass returned every record it returned. A
 * server that orders ties differently on every request repeats records within passes; then the
 * cell is complete when the records seen reach @odata.count (where the API documents $count),
 * or, without a count, when so many pages in a row brought nothing new that a record still
 * unseen would have shown with probability above 1 - 1e-6 (reported as not certain). */

struct dfw_cell {
    uint64_t *prev, *cur, *all; /* sorted-on-demand pair hashes: last pass, this pass, union */
    size_t nprev, ncur, nall, capprev, capcur, capall;
    int prev_clean;    /* the previous pass repeated no record */
    int cur_clean;     /* this pass has repeated no record so far */
    int passes;        /* passes finished */
    int skip;          /* $skip of the next page */
    long count;        /* @odata.count of the cell, -1 unknown */
    int count_changed; /* @odata.count differed between pages of the cell */
    int truncated;     /* the API's $skip limit was reached before a pass ended */
    size_t quiet;      /* pages in a row without a record not seen before */
};

/* Start reading a new cell (memory is kept for reuse). */
void dfw_cell_reset(struct dfw_cell *c);

/* One page of the cell was answered: its rows' pair hashes, rows < top (a short page ends a
 * pass), and its @odata.count (-1 when the answer has none). Returns what to do next; with
 * DFW_CELL_MORE, c->skip is the next page's $skip. skip_max: the API's $skip limit (0 none).
 * DFW_ERR_NOMEM is reported as DFW_CELL_INCOMPLETE. */
enum dfw_cell_verdict dfw_cell_page(
    struct dfw_cell *c, const uint64_t *pairs, size_t rows, int top, long count, int skip_max);

/* Free the memory. */
void dfw_cell_clear(struct dfw_cell *c);

#endif
