/* The window planner (dfw/window.h): slices along the last-update time, then the creation time,
 * then $skip over a cell. docs/architecture.md ("Reading a window") has the argument. */
#include "dfw/window.h"

#include <stdlib.h>
#include <string.h>

/* The slice after a complete one aims at this share of $top, so that it is likely to fit. */
#define TARGET_NUM 7
#define TARGET_DEN 10
#define GROW_MAX   8

void dfw_window_begin(struct dfw_window *w, int64_t from_ms, int64_t to_ms, int top)
{
    memset(w, 0, sizeof(*w));
    w->from_ms = from_ms;
    w->to_ms = to_ms > from_ms ? to_ms : from_ms + 1;
    w->pos_ms = from_ms;
    w->end_ms = w->to_ms;
    w->width_ms = w->to_ms - from_ms;
    w->mode = DFW_WINDOW_TIME;
    w->top = top > 0 ? top : 1;
}

int dfw_window_done(const struct dfw_window *w)
{
    return w->to_ms == 0 || w->pos_ms >= w->to_ms;
}

void dfw_window_slice(const struct dfw_window *w, struct dfw_slice *out)
{
    out->from_ms = w->pos_ms;
    out->skip = 0;
    out->count = 0;
    out->cfrom_ms = DFW_WINDOW_OPEN_LO;
    out->cto_ms = DFW_WINDOW_OPEN_HI;
    switch (w->mode) {
    case DFW_WINDOW_TIME:
        out->to_ms = w->end_ms;
        break;
    case DFW_WINDOW_CREATED:
        out->to_ms = w->pos_ms + 1;
        out->cfrom_ms = w->cpos_ms;
        out->cto_ms = w->cend_ms;
        break;
    case DFW_WINDOW_PASSES:
        out->to_ms = w->pos_ms + 1;
        out->cfrom_ms = w->cpos_ms;
        out->cto_ms = w->cpos_ms + 1;
        out->skip = w->skip;
        out->count = 1;
        break;
    }
}

/* [lo, hi) holds more than one millisecond. */
static int splittable(int64_t lo, int64_t hi)
{
    return hi - lo > 1;
}

/* Where to cut [lo, hi) after a response that did not cover it: just after the lower octile of
 * the times it returned. A server that returned the newest rows then leaves 7/8 of them above the
 * cut, so each further answer below it brings mostly records not seen yet; one that returned the
 * oldest leaves an eighth of a page below, which completes, and the next slice grows from it; a
 * random sample cuts the slice at an eighth of its records. Without rows, the middle. Always
 * lo < m < hi. */
static int64_t split_point(int64_t lo, int64_t hi, size_t rows, int64_t cut, int same)
{
    int64_t m = rows > 0 && cut < hi ? cut + 1 : lo + (hi - lo) / 2;
    if (rows > 0 && same && cut > lo && cut < hi) {
        m = cut; /* all rows in one millisecond: what lies below it first, then that one */
    }
    if (m <= lo) {
        m = lo + 1;
    }
    if (m >= hi) {
        m = hi - 1;
    }
    return m;
}

/* Width of the slice after a complete one of width w with rows rows. */
static int64_t grown(int64_t w, size_t rows, int top)
{
    int64_t target = (int64_t)top * TARGET_NUM / TARGET_DEN;
    if (target < 1) {
        target = 1;
    }
    int64_t n;
    if (rows == 0 || (int64_t)rows * GROW_MAX <= target) {
        n = w > INT64_MAX / GROW_MAX ? INT64_MAX : w * GROW_MAX;
    }
    else {
        n = (int64_t)((double)w * (double)target / (double)rows);
    }
    return n > 0 ? n : 1;
}

static void next_time_slice(struct dfw_window *w)
{
    w->mode = DFW_WINDOW_TIME;
    w->end_ms = w->to_ms - w->pos_ms > w->width_ms ? w->pos_ms + w->width_ms : w->to_ms;
}

void dfw_window_advance(struct dfw_window *w, const struct dfw_slice_outcome *o, int next_skip)
{
    switch (w->mode) {
    case DFW_WINDOW_TIME:
        if (!o->more) {
            w->width_ms = grown(w->end_ms - w->pos_ms, o->rows, w->top);
            w->pos_ms = w->end_ms;
            next_time_slice(w);
        }
        else if (splittable(w->pos_ms, w->end_ms)) {
            w->end_ms = split_point(w->pos_ms, w->end_ms, o->rows, o->cut_ms, o->same_ms);
        }
        else {
            /* more records in one millisecond than a page holds: split by creation time */
            w->mode = DFW_WINDOW_CREATED;
            w->cpos_ms = DFW_WINDOW_OPEN_LO;
            w->cend_ms = split_point(DFW_WINDOW_OPEN_LO, DFW_WINDOW_OPEN_HI, o->rows, o->ccut_ms,
                                     o->csame_ms);
        }
        return;
    case DFW_WINDOW_CREATED:
        if (!o->more) {
            w->cpos_ms = w->cend_ms;
            if (w->cpos_ms == DFW_WINDOW_OPEN_HI) {
                w->pos_ms++; /* the cell is read: back to the last-update time */
                next_time_slice(w);
            }
            else {
                w->cend_ms = DFW_WINDOW_OPEN_HI;
            }
        }
        else if (splittable(w->cpos_ms, w->cend_ms)) {
            w->cend_ms = split_point(w->cpos_ms, w->cend_ms, o->rows, o->ccut_ms, o->csame_ms);
        }
        else {
            w->mode = DFW_WINDOW_PASSES;
            w->skip = 0;
        }
        return;
    case DFW_WINDOW_PASSES:
        if (o->cell == DFW_CELL_MORE) {
            w->skip = next_skip;
            return;
        }
        /* the cell is read: the next creation-time slice */
        w->mode = DFW_WINDOW_CREATED;
        w->cpos_ms = w->cpos_ms + 1;
        w->cend_ms = DFW_WINDOW_OPEN_HI;
        w->skip = 0;
        return;
    }
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

int64_t dfw_window_cut(int64_t *times, size_t n, int *same)
{
    qsort(times, n, sizeof(*times), cmp_i64);
    if (same != NULL) {
        *same = times[0] == times[n - 1];
    }
    return times[(n - 1) / 8];
}

/* ---- reading a cell ---- */

/* A record unseen after this many quiet pages per page of the cell would have shown with
 * probability above 1 - 1e-6 in a random order: ln(1e6) < 14. */
#define QUIET_FACTOR 14

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

static int push(uint64_t **v, size_t *n, size_t *cap, uint64_t x)
{
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 256;
        uint64_t *nv = realloc(*v, nc * sizeof(*nv));
        if (nv == NULL) {
            return -1;
        }
        *v = nv;
        *cap = nc;
    }
    (*v)[(*n)++] = x;
    return 0;
}

/* Linear search: a cell holds a few pages of records. */
static int contains(const uint64_t *v, size_t n, uint64_t x)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i] == x) {
            return 1;
        }
    }
    return 0;
}

/* Every element of sorted a is in sorted b. */
static int subset(const uint64_t *a, size_t na, const uint64_t *b, size_t nb)
{
    size_t j = 0;
    for (size_t i = 0; i < na; i++) {
        while (j < nb && b[j] < a[i]) {
            j++;
        }
        if (j == nb || b[j] != a[i]) {
            return 0;
        }
    }
    return 1;
}

void dfw_cell_reset(struct dfw_cell *c)
{
    c->nprev = c->ncur = c->nall = 0;
    c->prev_clean = 0;
    c->cur_clean = 1;
    c->passes = 0;
    c->skip = 0;
    c->count = -1;
    c->count_changed = 0;
    c->truncated = 0;
    c->quiet = 0;
}

enum dfw_cell_verdict dfw_cell_page(
    struct dfw_cell *c, const uint64_t *pairs, size_t rows, int top, long count, int skip_max)
{
    int fresh = 0;
    for (size_t i = 0; i < rows; i++) {
        if (contains(c->cur, c->ncur, pairs[i])) {
            c->cur_clean = 0;
        }
        else if (push(&c->cur, &c->ncur, &c->capcur, pairs[i]) != 0) {
            return DFW_CELL_INCOMPLETE;
        }
        if (!contains(c->all, c->nall, pairs[i])) {
            if (push(&c->all, &c->nall, &c->capall, pairs[i]) != 0) {
                return DFW_CELL_INCOMPLETE;
            }
            fresh = 1;
        }
    }
    c->quiet = fresh ? 0 : c->quiet + 1;
    if (count >= 0) {
        c->count_changed |= c->count >= 0 && count != c->count;
        c->count = count;
        if (c->nall >= (size_t)count) {
            return DFW_CELL_DONE; /* every record the API counts was seen */
        }
    }
    if (rows < (size_t)top) {
        /* the pass ended */
        qsort(c->cur, c->ncur, sizeof(*c->cur), cmp_u64);
        int accepted = c->passes > 0 && c->prev_clean && subset(c->prev, c->nprev, c->cur, c->ncur);
        uint64_t *t = c->prev;
        size_t tc = c->capprev;
        c->prev = c->cur;
        c->nprev = c->ncur;
        c->capprev = c->capcur;
        c->cur = t;
        c->capcur = tc;
        c->ncur = 0;
        c->prev_clean = c->cur_clean;
        c->cur_clean = 1;
        c->passes++;
        if (accepted) {
            return DFW_CELL_DONE;
        }
        c->skip = 0;
    }
    else if (skip_max > 0 && c->skip + top > skip_max) {
        c->skip = 0; /* the API pages no further: start over; what lies beyond may stay unseen */
        c->truncated = 1;
    }
    else {
        c->skip += top;
    }
    size_t pages = c->nall / (size_t)(top > 0 ? top : 1) + 1;
    if (c->quiet >= QUIET_FACTOR * pages) {
        return c->truncated ? DFW_CELL_INCOMPLETE : DFW_CELL_SAMPLED;
    }
    return DFW_CELL_MORE;
}

void dfw_cell_clear(struct dfw_cell *c)
{
    free(c->prev);
    free(c->cur);
    free(c->all);
    memset(c, 0, sizeof(*c));
}
