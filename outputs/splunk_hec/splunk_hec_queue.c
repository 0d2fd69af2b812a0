/* Pipeline batches <-> HEC requests: which acknowledgement is due when. */
#include "splunk_hec_queue.h"

#include <stdlib.h>
#include <string.h>

void hec_queue_init(struct hec_queue *q, size_t max_events, size_t max_bytes)
{
    memset(q, 0, sizeof(*q));
    q->max_events = max_events ? max_events : 1;
    q->max_bytes = max_bytes;
}

void hec_queue_recycle(struct hec_queue *q, struct dfw_buf *buf)
{
    /* a small body (a gzip'd one) would be grown again, and the allocation it grows into kept
     * beside the raw bodies here: only those of a raw request's size are worth keeping */
    if (q->nspare < HEC_QUEUE_SPARE && buf->cap >= q->max_bytes / 2) {
        dfw_buf_reset(buf);
        q->spare[q->nspare++] = *buf; /* taken first by the next request (last in, first out) */
        *buf = (struct dfw_buf)DFW_BUF_INIT;
    }
    else {
        dfw_buf_free(buf);
    }
}

static void req_free(struct hec_queue *q, struct hec_req *r)
{
    hec_queue_recycle(q, &r->body);
    free(r->batches);
    free(r);
}

void hec_queue_clear(struct hec_queue *q)
{
    struct hec_req *r = q->head;
    while (r != NULL) {
        struct hec_req *next = r->next;
        req_free(q, r);
        r = next;
    }
    for (size_t i = 0; i < q->nspare; i++) {
        dfw_buf_free(&q->spare[i]);
    }
    struct hec_batch *b = q->batches;
    while (b != NULL) {
        struct hec_batch *next = b->next;
        free(b);
        b = next;
    }
    size_t max_events = q->max_events, max_bytes = q->max_bytes;
    hec_queue_init(q, max_events, max_bytes);
}

struct hec_batch *hec_queue_batch(struct hec_queue *q, uint64_t seq, dfw_ack_fn ack, void *ctx)
{
    struct hec_batch *b = calloc(1, sizeof(*b));
    if (b == NULL) {
        return NULL;
    }
    b->seq = seq;
    b->ack = ack;
    b->ack_ctx = ctx;
    b->next = q->batches;
    q->batches = b;
    return b;
}

/* Unlink and free b once nothing refers to it any more. */
static void batch_release(struct hec_queue *q, struct hec_batch *b)
{
    if (b->open > 0 || !b->sealed || !b->done) {
        return;
    }
    for (struct hec_batch **pp = &q->batches; *pp != NULL; pp = &(*pp)->next) {
        if (*pp == b) {
            *pp = b->next;
            free(b);
            return;
        }
    }
}

static void batch_complete(struct hec_queue *q, struct hec_batch *b, dfw_err result)
{
    if (!b->done && (result != DFW_OK || (b->sealed && b->open == 0))) {
        b->done = 1;
        b->ack(b->ack_ctx, b->seq, result);
    }
    batch_release(q, b);
}

static struct hec_req *req_new(struct hec_queue *q, int64_t now_ms)
{
    struct hec_req *r = calloc(1, sizeof(*r));
    if (r == NULL) {
        return NULL;
    }
    if (q->nspare > 0) {
        r->body = q->spare[--q->nspare];
    }
    r->id = ++q->next_id;
    r->state = HEC_REQ_OPEN;
    r->opened_ms = now_ms;
    if (q->tail != NULL) {
        q->tail->next = r;
    }
    else {
        q->head = r;
    }
    q->tail = r;
    q->nreqs++;
    return r;
}

static dfw_err req_add_batch(struct hec_req *r, struct hec_batch *b)
{
    if (r->nbatches > 0 && r->batches[r->nbatches - 1] == b) {
        return DFW_OK;
    }
    if (r->nbatches == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4;
        struct hec_batch **p = realloc(r->batches, cap * sizeof(*p));
        if (p == NULL) {
            return DFW_ERR_NOMEM;
        }
        r->batches = p;
        r->cap = cap;
    }
    r->batches[r->nbatches++] = b;
    b->open++;
    return DFW_OK;
}

struct hec_req *hec_queue_close_open(struct hec_queue *q)
{
    struct hec_req *r = q->open;
    if (r != NULL) {
        r->state = HEC_REQ_READY;
        q->open = NULL;
    }
    return r;
}

dfw_err hec_queue_add(
    struct hec_queue *q, struct hec_batch *b, const char *event, size_t len, int64_t now_ms)
{
    struct hec_req *r = q->open;
    /* an event larger than max_bytes still goes out, alone in its request */
    if (r != NULL && r->events > 0 && r->raw_bytes + len + 1 > q->max_bytes) {
        hec_queue_close_open(q);
        r = NULL;
    }
    if (r == NULL) {
        r = req_new(q, now_ms);
        if (r == NULL) {
            return DFW_ERR_NOMEM;
        }
        q->open = r;
    }
    if (req_add_batch(r, b) != DFW_OK || dfw_buf_append(&r->body, event, len) != DFW_OK ||
        dfw_buf_append(&r->body, "\n", 1) != DFW_OK) {
        return DFW_ERR_NOMEM;
    }
    r->events++;
    r->raw_bytes = r->body.len;
    if (r->events >= q->max_events || r->raw_bytes >= q->max_bytes) {
        hec_queue_close_open(q);
    }
    return DFW_OK;
}

void hec_queue_seal(struct hec_queue *q, struct hec_batch *b)
{
    b->sealed = 1;
    batch_complete(q, b, DFW_OK);
}

void hec_queue_fail(struct hec_queue *q, struct hec_batch *b, dfw_err err)
{
    batch_complete(q, b, err);
}

void hec_queue_abandon(struct hec_queue *q, struct hec_batch *b)
{
    b->sealed = 1;
    b->done = 1;
    batch_release(q, b);
}

void hec_queue_cancel(struct hec_queue *q, uint64_t seq)
{
    struct hec_batch *b = q->batches;
    while (b != NULL) {
        struct hec_batch *next = b->next; /* abandon may free b */
        if (b->seq == seq && !b->done) {
            hec_queue_abandon(q, b);
        }
        b = next;
    }
}

void hec_queue_finish(struct hec_queue *q, struct hec_req *r, dfw_err result)
{
    struct hec_req *prev = NULL;
    for (struct hec_req *p = q->head; p != NULL && p != r; p = p->next) {
        prev = p;
    }
    if (prev != NULL) {
        prev->next = r->next;
    }
    else if (q->head == r) {
        q->head = r->next;
    }
    if (q->tail == r) {
        q->tail = prev;
    }
    if (q->open == r) {
        q->open = NULL;
    }
    q->nreqs--;
    for (size_t i = 0; i < r->nbatches; i++) {
        struct hec_batch *b = r->batches[i];
        b->open--;
        batch_complete(q, b, result);
    }
    req_free(q, r);
}

size_t hec_queue_pending(const struct hec_queue *q)
{
    return q->nreqs;
}

size_t hec_queue_batches(const struct hec_queue *q)
{
    size_t n = 0;
    for (const struct hec_batch *b = q->batches; b != NULL; b = b->next) {
        n++;
    }
    return n;
}
