/* Bookkeeping between pipeline batches and HEC requests, without any I/O (the test seam for
 * acknowledgements). A pipeline batch (one fetched page) is spread over one or more requests, and
 * a request may carry events of several batches (small pages of many tenants within
 * batch_timeout_ms). A batch is acknowledged to the pipeline exactly once: DFW_OK when every
 * request holding its events is delivered, or the first failure of one of them. */
#ifndef DFW_OUT_SPLUNK_HEC_QUEUE_H
#define DFW_OUT_SPLUNK_HEC_QUEUE_H

#include <stddef.h>
#include <stdint.h>
#include "dfw/buf.h"
#include "dfw/err.h"
#include "dfw/output.h"

struct hec_batch {
    uint64_t seq;
    dfw_ack_fn ack;
    void *ack_ctx;
    size_t open; /* requests holding its events that have not finished */
    int sealed;  /* every event placed: it can complete */
    int done;    /* the pipeline has its answer (or never will: abandoned) */
    struct hec_batch *next;
};

enum hec_req_state {
    HEC_REQ_OPEN,     /* taking events */
    HEC_REQ_READY,    /* closed, waiting for a free connection */
    HEC_REQ_SENDING,  /* HTTP request running */
    HEC_REQ_WAIT_ACK, /* 200 with an ackId: waiting for the indexer acknowledgement */
    HEC_REQ_BACKOFF   /* failed, sent again at due */
};

struct hec_req {
    unsigned id; /* for logs */
    enum hec_req_state state;
    struct dfw_buf body; /* concatenated event objects; gzip'd once closed when gzip = on */
    size_t events;
    size_t raw_bytes;           /* uncompressed size */
    int gzipped;                /* body holds the gzip'd form */
    struct hec_batch **batches; /* batches with events in this request (each once) */
    size_t nbatches, cap;
    uint64_t ack_id;
    int64_t opened_ms; /* monotonic: first event (HEC_REQ_OPEN) */
    int64_t due_ms;    /* monotonic: retry time (BACKOFF) or ack deadline (WAIT_ACK) */
    int attempts;      /* failed sends and lost acks so far */
    void *xfer;        /* owned by the transport while SENDING */
    struct hec_req *next;
};

#define HEC_QUEUE_SPARE 8

struct hec_queue {
    size_t max_events;
    size_t max_bytes;
    struct hec_req *head, *tail; /* requests in creation order */
    size_t nreqs;
    struct hec_req *open; /* the request taking events, or NULL */
    struct hec_batch *batches;
    unsigned next_id;
    /* raw bodies of finished or compressed requests, kept for the next ones: a body of
     * batch_max_bytes is above glibc's mmap threshold, and a fresh one would be mapped and
     * faulted in page by page */
    struct dfw_buf spare[HEC_QUEUE_SPARE];
    size_t nspare;
};

/* An empty queue closing requests at max_events events or max_bytes bytes. */
void hec_queue_init(struct hec_queue *q, size_t max_events, size_t max_bytes);

/* Free every request and batch without acknowledging anything (destroy: the pipeline re-sends
 * what was not acknowledged). */
void hec_queue_clear(struct hec_queue *q);

/* Start a batch. NULL when out of memory. */
struct hec_batch *hec_queue_batch(struct hec_queue *q, uint64_t seq, dfw_ack_fn ack, void *ctx);

/* Append one rendered event of b to the open request, opening one (and closing a full one) as
 * needed. now_ms: monotonic. DFW_ERR_NOMEM: call hec_queue_abandon(b). */
dfw_err hec_queue_add(
    struct hec_queue *q, struct hec_batch *b, const char *event, size_t len, int64_t now_ms);

/* Every event of b is placed: b completes when its requests do (at once when it has none). */
void hec_queue_seal(struct hec_queue *q, struct hec_batch *b);

/* b cannot be placed whole: it is acknowledged with err now (unless it already was). */
void hec_queue_fail(struct hec_queue *q, struct hec_batch *b, dfw_err err);

/* b was not accepted after all: it completes without an acknowledgement. */
void hec_queue_abandon(struct hec_queue *q, struct hec_batch *b);

/* The pipeline took back every batch with this seq: none is acknowledged any more (their requests
 * still go out). */
void hec_queue_cancel(struct hec_queue *q, uint64_t seq);

/* Close the open request (HEC_REQ_READY); returns it, or NULL when none is open. */
struct hec_req *hec_queue_close_open(struct hec_queue *q);

/* A request finished: result DFW_OK (delivered and, with acknowledgement, acked) or the failure
 * that its batches are acknowledged with. Acknowledges the batches that are complete now and
 * frees r. */
void hec_queue_finish(struct hec_queue *q, struct hec_req *r, dfw_err result);

/* Keep buf's allocation for the next request to open when it has room for half of max_bytes or
 * more (else, or when HEC_QUEUE_SPARE are kept already, it is freed); *buf is left empty. For a
 * finished request's body, and a raw body replaced by its gzip'd form. */
void hec_queue_recycle(struct hec_queue *q, struct dfw_buf *buf);

/* Requests not finished, the open one included. */
size_t hec_queue_pending(const struct hec_queue *q);

/* Batches known to the queue (not yet freed). */
size_t hec_queue_batches(const struct hec_queue *q);

#endif
