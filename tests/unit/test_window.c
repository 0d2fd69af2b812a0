/* The window planner against a simulated list API: records with last-update and creation times,
 * served in the order a policy says (oldest first, newest first, a new random order on every
 * request), with $top, $skip and optional updates between requests. Every record that stays in
 * the window must be returned at least once, whatever the order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dfw/window.h"

#define DAY    86400000LL
#define T0     1767225600000LL /* 2026-01-01 */
#define MAXREC 20000

enum order { ASC, DESC, RANDOM };

struct rec {
    int64_t updated, created;
    int seen;
};

struct server {
    struct rec recs[MAXREC];
    size_t n;
    enum order order;
    int next_links;   /* 1: a page that leaves rows out says so (else only a full page) */
    int churn;        /* records updated (moved past the window) after each request */
    int64_t moved_to; /* where churned records go */
    int skip_max;     /* 0: no limit */
    int counts;       /* answers carry @odata.count */
    size_t cell_verdicts[4];
    unsigned rng;
    size_t requests;
    size_t idx[MAXREC]; /* scratch */
};

static unsigned next_rand(struct server *s)
{
    s->rng = s->rng * 1103515245u + 12345u;
    return s->rng >> 8;
}

static int cmp_updated;
static const struct server *cmp_server;

static int by_time(const void *a, const void *b)
{
    const struct rec *x = &cmp_server->recs[*(const size_t *)a];
    const struct rec *y = &cmp_server->recs[*(const size_t *)b];
    int c = (x->updated > y->updated) - (x->updated < y->updated);
    if (c == 0) {
        c = (*(const size_t *)a > *(const size_t *)b) - (*(const size_t *)a < *(const size_t *)b);
    }
    return cmp_updated * c;
}

static int in_slice(const struct rec *r, const struct dfw_slice *q)
{
    return r->updated >= q->from_ms && r->updated < q->to_ms && r->created >= q->cfrom_ms &&
           r->created < q->cto_ms;
}

/* Answer one request; fill the outcome as batch.c does. */
static void
serve(struct server *s, struct dfw_window *w, struct dfw_cell *cell, struct dfw_slice_outcome *o)
{
    struct dfw_slice q;
    dfw_window_slice(w, &q);
    size_t m = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (in_slice(&s->recs[i], &q)) {
            s->idx[m++] = i;
        }
    }
    cmp_server = s;
    cmp_updated = s->order == DESC ? -1 : 1;
    qsort(s->idx, m, sizeof(size_t), by_time);
    if (s->order == RANDOM) {
        for (size_t i = m; i > 1; i--) {
            size_t k = next_rand(s) % i;
            size_t t = s->idx[i - 1];
            s->idx[i - 1] = s->idx[k];
            s->idx[k] = t;
        }
    }
    size_t start = (size_t)q.skip < m ? (size_t)q.skip : m;
    size_t rows = m - start < (size_t)w->top ? m - start : (size_t)w->top;
    static int64_t up[MAXREC], cr[MAXREC];
    static uint64_t pairs[MAXREC];
    memset(o, 0, sizeof(*o));
    for (size_t i = 0; i < rows; i++) {
        struct rec *r = &s->recs[s->idx[start + i]];
        r->seen = 1;
        up[i] = r->updated;
        cr[i] = r->created;
        pairs[i] = (uint64_t)s->idx[start + i] * 2654435761u + 1;
    }
    int next = s->next_links && start + rows < m;
    o->rows = rows;
    o->more = rows >= (size_t)w->top || next;
    if (rows > 0) {
        o->cut_ms = dfw_window_cut(up, rows, &o->same_ms);
        o->ccut_ms = dfw_window_cut(cr, rows, &o->csame_ms);
    }
    if (w->mode == DFW_WINDOW_PASSES) {
        o->cell = dfw_cell_page(cell, pairs, rows, w->top, s->counts ? (long)m : -1, s->skip_max);
        s->cell_verdicts[o->cell]++;
    }
    s->requests++;
    /* live data: some of the records just served are updated, out of the window */
    for (int c = 0; c < s->churn && rows > 0; c++) {
        s->recs[s->idx[start + next_rand(s) % rows]].updated = s->moved_to + c;
    }
}

/* Read [from, to) to the end; returns the number of requests. */
static size_t sweep(struct server *s, int64_t from, int64_t to, int top)
{
    struct dfw_window w;
    struct dfw_cell cell = {0};
    struct dfw_slice_outcome o;
    enum dfw_window_mode before = DFW_WINDOW_TIME;
    dfw_window_begin(&w, from, to, top);
    memset(s->cell_verdicts, 0, sizeof(s->cell_verdicts));
    s->requests = 0;
    while (!dfw_window_done(&w)) {
        serve(s, &w, &cell, &o);
        dfw_window_advance(&w, &o, cell.skip);
        if (w.mode != before) {
            dfw_cell_reset(&cell);
            before = w.mode;
        }
        assert_true(s->requests < 100000);
    }
    dfw_cell_clear(&cell);
    return s->requests;
}

static void add(struct server *s, int64_t updated, int64_t created)
{
    s->recs[s->n].updated = updated;
    s->recs[s->n].created = created;
    s->recs[s->n].seen = 0;
    s->n++;
}

/* Every record whose last-update time is (still) in [from, to) was returned. */
static void assert_all_seen(const struct server *s, int64_t from, int64_t to)
{
    size_t missed = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->recs[i].updated >= from && s->recs[i].updated < to && !s->recs[i].seen) {
            missed++;
        }
    }
    assert_int_equal(missed, 0);
}

static struct server *server_new(enum order order, int next_links)
{
    struct server *s = calloc(1, sizeof(*s));
    assert_non_null(s);
    s->order = order;
    s->next_links = next_links;
    s->rng = 12345;
    s->moved_to = T0 + 10 * DAY;
    return s;
}

static void spread(struct server *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int64_t u = T0 + (int64_t)(next_rand(s) % DAY);
        add(s, u, u - (int64_t)(next_rand(s) % (7 * DAY)));
    }
}

static void quiet_window_is_one_request(void **state)
{
    (void)state;
    struct server *s = server_new(ASC, 1);
    spread(s, 30);
    assert_int_equal(sweep(s, T0, T0 + DAY, 100), 1);
    assert_all_seen(s, T0, T0 + DAY);
    free(s);
}

static void empty_window_is_one_request(void **state)
{
    (void)state;
    struct server *s = server_new(ASC, 1);
    assert_int_equal(sweep(s, T0, T0 + 60000, 100), 1);
    free(s);
}

/* A backfill: every order, with or without next links; the cost stays within a small factor of
 * the pages the records fill. */
static void backfill_in_every_order(void **state)
{
    (void)state;
    const enum order orders[] = {ASC, DESC, RANDOM};
    for (size_t k = 0; k < 3; k++) {
        for (int links = 0; links < 2; links++) {
            struct server *s = server_new(orders[k], links);
            spread(s, 10000);
            size_t calls = sweep(s, T0, T0 + DAY, 500);
            assert_all_seen(s, T0, T0 + DAY);
            /* 10,000 records fill 20 pages of 500 */
            assert_true(calls >= 20);
            assert_true(calls <= 80);
            free(s);
        }
    }
}

/* Records updated while the sweep reads (moved past the window) shift every row behind them; the
 * records that stay must all be read. */
static void updates_while_reading(void **state)
{
    (void)state;
    const enum order orders[] = {ASC, DESC, RANDOM};
    for (size_t k = 0; k < 3; k++) {
        struct server *s = server_new(orders[k], 1);
        spread(s, 10000);
        s->churn = 5;
        sweep(s, T0, T0 + DAY, 500);
        assert_all_seen(s, T0, T0 + DAY);
        free(s);
    }
}

/* 3 x $top records with one last-update time and different creation times (a bulk update):
 * split along the creation time. */
static void ties_split_by_creation_time(void **state)
{
    (void)state;
    struct server *s = server_new(RANDOM, 1);
    spread(s, 1000);
    for (int i = 0; i < 300; i++) {
        add(s, T0 + 5000, T0 - DAY + i * 1000);
    }
    size_t calls = sweep(s, T0, T0 + DAY, 100);
    assert_all_seen(s, T0, T0 + DAY);
    assert_int_equal(s->cell_verdicts[DFW_CELL_DONE] + s->cell_verdicts[DFW_CELL_SAMPLED], 0);
    assert_true(calls < 100);
    free(s);
}

/* 3 x $top records with one last-update and one creation time, in a stable order: two $skip
 * passes, the second returning all the first returned. */
static void ties_in_both_times_stable_order(void **state)
{
    (void)state;
    struct server *s = server_new(ASC, 0);
    spread(s, 500);
    for (int i = 0; i < 300; i++) {
        add(s, T0 + 5000, T0 + 4000);
    }
    sweep(s, T0, T0 + DAY, 100);
    assert_all_seen(s, T0, T0 + DAY);
    assert_int_equal(s->cell_verdicts[DFW_CELL_DONE], 1);
    /* two passes of four pages (the fourth is short) */
    assert_int_equal(s->cell_verdicts[DFW_CELL_MORE], 7);
    /* reaching the cell costs a handful of requests, not one per halving */
    assert_true(s->requests < 30);
    free(s);
}

/* The same ties in a new order on every request: with @odata.count (Graph) until every counted
 * record was seen; without, until pages stop bringing anything new (reported as sampled). */
static void ties_in_both_times_random_order(void **state)
{
    (void)state;
    for (int counts = 0; counts < 2; counts++) {
        struct server *s = server_new(RANDOM, 1);
        s->counts = counts;
        spread(s, 500);
        for (int i = 0; i < 300; i++) {
            add(s, T0 + 5000, T0 + 4000);
        }
        sweep(s, T0, T0 + DAY, 100);
        assert_all_seen(s, T0, T0 + DAY);
        assert_int_equal(s->cell_verdicts[counts ? DFW_CELL_DONE : DFW_CELL_SAMPLED], 1);
        free(s);
    }
}

/* Updates while a tied cell is read in a stable order: the pass that lost a record to the shift
 * is not accepted. */
static void ties_with_updates_while_reading(void **state)
{
    (void)state;
    struct server *s = server_new(ASC, 0);
    for (int i = 0; i < 300; i++) {
        add(s, T0 + 5000, T0 + 4000);
    }
    s->churn = 1;
    sweep(s, T0, T0 + DAY, 100);
    assert_all_seen(s, T0, T0 + DAY);
    free(s);
}

/* More tied records than $skip_max + $top allow, in a stable order: reported, never silent. */
static void ties_beyond_the_skip_limit_are_reported(void **state)
{
    (void)state;
    struct server *s = server_new(ASC, 1);
    for (int i = 0; i < 700; i++) {
        add(s, T0 + 5000, T0 + 4000);
    }
    s->skip_max = 500;
    sweep(s, T0, T0 + DAY, 100);
    assert_int_equal(s->cell_verdicts[DFW_CELL_INCOMPLETE], 1);
    free(s);
}

static void cut_at_the_lower_octile(void **state)
{
    (void)state;
    int same;
    int64_t t[] = {90, 10, 50, 30, 70, 20, 40, 60, 80, 0, 100, 110, 120, 130, 140, 150, 160};
    assert_int_equal(dfw_window_cut(t, 17, &same), 20);
    assert_false(same);
    int64_t u[] = {4, 2};
    assert_int_equal(dfw_window_cut(u, 2, NULL), 2);
    int64_t v[] = {6, 6, 6};
    assert_int_equal(dfw_window_cut(v, 3, &same), 6);
    assert_true(same);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(quiet_window_is_one_request),
        cmocka_unit_test(empty_window_is_one_request),
        cmocka_unit_test(backfill_in_every_order),
        cmocka_unit_test(updates_while_reading),
        cmocka_unit_test(ties_split_by_creation_time),
        cmocka_unit_test(ties_in_both_times_stable_order),
        cmocka_unit_test(ties_in_both_times_random_order),
        cmocka_unit_test(ties_with_updates_while_reading),
        cmocka_unit_test(ties_beyond_the_skip_limit_are_reported),
        cmocka_unit_test(cut_at_the_lower_octile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
