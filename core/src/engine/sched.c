/* A binary min-heap of sched_nodes by due time (sched.h). */
#include "sched.h"

#include <stdlib.h>

static void place(struct dfw_sched *s, size_t i, struct sched_node *n)
{
    s->heap[i] = n;
    n->idx = i + 1;
}

static void sift_up(struct dfw_sched *s, size_t i)
{
    struct sched_node *n = s->heap[i];
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (s->heap[p]->due <= n->due) {
            break;
        }
        place(s, i, s->heap[p]);
        i = p;
    }
    place(s, i, n);
}

static void sift_down(struct dfw_sched *s, size_t i)
{
    struct sched_node *n = s->heap[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->n) {
            break;
        }
        if (c + 1 < s->n && s->heap[c + 1]->due < s->heap[c]->due) {
            c++;
        }
        if (s->heap[c]->due >= n->due) {
            break;
        }
        place(s, i, s->heap[c]);
        i = c;
    }
    place(s, i, n);
}

dfw_err dfw__sched_at(struct dfw_sched *s, struct sched_node *node, int64_t due)
{
    if (node->idx != 0) {
        int64_t old = node->due;
        node->due = due;
        if (due < old) {
            sift_up(s, node->idx - 1);
        }
        else {
            sift_down(s, node->idx - 1);
        }
        return DFW_OK;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct sched_node **h = realloc(s->heap, cap * sizeof(*h));
        if (h == NULL) {
            return DFW_ERR_NOMEM;
        }
        s->heap = h;
        s->cap = cap;
    }
    node->due = due;
    place(s, s->n++, node);
    sift_up(s, s->n - 1);
    return DFW_OK;
}

void dfw__sched_cancel(struct dfw_sched *s, struct sched_node *node)
{
    if (node->idx == 0) {
        return;
    }
    size_t i = node->idx - 1;
    node->idx = 0;
    struct sched_node *last = s->heap[--s->n];
    if (i == s->n) {
        return;
    }
    place(s, i, last);
    sift_down(s, i);
    sift_up(s, last->idx - 1);
}

struct sched_node *dfw__sched_pop_due(struct dfw_sched *s, int64_t now)
{
    if (s->n == 0 || s->heap[0]->due > now) {
        return NULL;
    }
    struct sched_node *n = s->heap[0];
    dfw__sched_cancel(s, n);
    return n;
}

int64_t dfw__sched_next(const struct dfw_sched *s)
{
    return s->n ? s->heap[0]->due : INT64_MAX;
}

void dfw__sched_free(struct dfw_sched *s)
{
    free(s->heap);
    s->heap = NULL;
    s->n = s->cap = 0;
}
