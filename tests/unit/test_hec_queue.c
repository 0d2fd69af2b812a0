/* Acknowledgement bookkeeping of the Splunk HEC output: pipeline batches spread over requests
 * and requests shared by batches; each batch acknowledged exactly once. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "splunk_hec_queue.h"

#define MAX_ACKS 32

static struct {
    uint64_t seq;
    dfw_err result;
} acks[MAX_ACKS];
static int nacks;

static void on_ack(void *ctx, uint64_t seq, dfw_err result)
{
    (void)ctx;
    assert_true(nacks < MAX_ACKS);
    acks[nacks].seq = seq;
    acks[nacks].result = result;
    nacks++;
}

static int setup(void **state)
{
    (void)state;
    nacks = 0;
    return 0;
}

static void add_events(struct hec_queue *q, struct hec_batch *b, int n)
{
    for (int i = 0; i < n; i++) {
        char ev[32];
        int len = snprintf(ev, sizeof(ev), "{\"event\":%d}", i);
        assert_int_equal(hec_queue_add(q, b, ev, (size_t)len, 1000), DFW_OK);
    }
}

static void batch_spread_over_requests(void **state)
{
    (void)state;
    struct hec_queue q;
    hec_queue_init(&q, 3, 1 << 20);
    struct hec_batch *b = hec_queue_batch(&q, 7, on_ack, NULL);
    add_events(&q, b, 7);
    hec_queue_seal(&q, b);
    /* 3 + 3 closed, 1 still open */
    assert_int_equal(hec_queue_pending(&q), 3);
    assert_non_null(q.open);
    assert_int_equal(q.open->events, 1);
    assert_int_equal(q.head->state, HEC_REQ_READY);
    assert_int_equal(q.head->events, 3);
    assert_string_equal(q.head->body.data, "{\"event\":0}\n{\"event\":1}\n{\"event\":2}\n");
    hec_queue_close_open(&q);
    assert_null(q.open);
    /* finish out of order: the ack comes with the last one only */
    hec_queue_finish(&q, q.head->next, DFW_OK);
    hec_queue_finish(&q, q.tail, DFW_OK);
    assert_int_equal(nacks, 0);
    hec_queue_finish(&q, q.head, DFW_OK);
    assert_int_equal(nacks, 1);
    assert_int_equal(acks[0].seq, 7);
    assert_int_equal(acks[0].result, DFW_OK);
    assert_int_equal(hec_queue_pending(&q), 0);
    assert_int_equal(hec_queue_batches(&q), 0);
    hec_queue_clear(&q);
}

static void batches_share_a_request(void **state)
{
    (void)state;
    struct hec_queue q;
    hec_queue_init(&q, 4, 1 << 20);
    struct hec_batch *a = hec_queue_batch(&q, 1, on_ack, NULL);
    add_events(&q, a, 2);
    hec_queue_seal(&q, a);
    struct hec_batch *b = hec_queue_batch(&q, 2, on_ack, NULL);
    add_events(&q, b, 3); /* 2 join a's request, 1 opens the next */
    hec_queue_seal(&q, b);
    assert_int_equal(hec_queue_pending(&q), 2);
    assert_int_equal(q.head->nbatches, 2);
    struct hec_req *second = hec_queue_close_open(&q);
    hec_queue_finish(&q, q.head, DFW_OK);
    /* a is complete, b still has an event on the wire */
    assert_int_equal(nacks, 1);
    assert_int_equal(acks[0].seq, 1);
    hec_queue_finish(&q, second, DFW_OK);
    assert_int_equal(nacks, 2);
    assert_int_equal(acks[1].seq, 2);
    assert_int_equal(hec_queue_batches(&q), 0);
    hec_queue_clear(&q);
}

static void failure_acks_once_and_early(void **state)
{
    (void)state;
    struct hec_queue q;
    hec_queue_init(&q, 2, 1 << 20);
    struct hec_batch *b = hec_queue_batch(&q, 9, on_ack, NULL);
    add_events(&q, b, 6);
    hec_queue_seal(&q, b);
    assert_int_equal(hec_queue_pending(&q), 3);
    /* the middle request fails: the batch is answered now, with the failure */
    hec_queue_finish(&q, q.head->next, DFW_ERR_AUTH);
    assert_int_equal(nacks, 1);
    assert_int_equal(acks[0].seq, 9);
    assert_int_equal(acks[0].result, DFW_ERR_AUTH);
    /* the others finishing later change nothing, and free the batch */
    hec_queue_finish(&q, q.head, DFW_OK);
    assert_int_equal(hec_queue_batches(&q), 1);
    hec_queue_finish(&q, q.head, DFW_ERR_RETRY);
    assert_int_equal(nacks, 1);
    assert_int_equal(hec_queue_batches(&q), 0);
    assert_int_equal(hec_queue_pending(&q), 0);
    hec_queue_clear(&q);
}

static void byte_limit_closes_requests(void **state)
{
    (void)state;
    struct hec_queue q;
    hec_queue_init(&q, 1000, 40);
    struct hec_batch *b = hec_queue_batch(&q, 3, on_ack, NULL);
    char big[100];
    memset(big, 'x', sizeof(big));
    assert_int_equal(hec_queue_add(&q, b, "0123456789", 10, 0), DFW_OK);
    assert_int_equal(hec_queue_add(&q, b, "0123456789", 10, 0), DFW_OK);
    /* would pass 40 bytes: a new request; one larger than the limit goes alone */
    assert_int_equal(hec_queue_add(&q, b, big, sizeof(big), 0), DFW_OK);
    assert_int_equal(hec_queue_add(&q, b, "0123456789", 10, 0), DFW_OK);
    hec_queue_seal(&q, b);
    hec_queue_close_open(&q);
    assert_int_equal(hec_queue_pending(&q), 3);
    assert_int_equal(q.head->events, 2);
    assert_int_equal(q.head->raw_bytes, 22);
    assert_int_equal(q.head->next->events, 1);
    assert_int_equal(q.head->next->raw_bytes, 101);
    while (q.head != NULL) {
        hec_queue_finish(&q, q.head, DFW_OK);
    }
    assert_int_equal(nacks, 1);
    hec_queue_clear(&q);
}

static void empty_abandoned_and_cleared(void **state)
{
    (void)state;
    struct hec_queue q;
    hec_queue_init(&q, 10, 1 << 20);
    /* a batch without events completes when sealed */
    struct hec_batch *e = hec_queue_batch(&q, 1, on_ack, NULL);
    hec_queue_seal(&q, e);
    assert_int_equal(nacks, 1);
    assert_int_equal(hec_queue_batches(&q), 0);
    /* an abandoned batch never gets an ack, even when its events are delivered */
    struct hec_batch *a = hec_queue_batch(&q, 2, on_ack, NULL);
    add_events(&q, a, 2);
    hec_queue_abandon(&q, a);
    hec_queue_finish(&q, hec_queue_close_open(&q), DFW_OK);
    assert_int_equal(nacks, 1);
    assert_int_equal(hec_queue_batches(&q), 0);
    /* clear drops everything without acks (ASan checks for leaks) */
    struct hec_batch *c = hec_queue_batch(&q, 3, on_ack, NULL);
    add_events(&q, c, 25);
    hec_queue_seal(&q, c);
    hec_queue_clear(&q);
    assert_int_equal(nacks, 1);
    assert_int_equal(hec_queue_pending(&q), 0);
    assert_int_equal(q.max_events, 10);
}

/* A raw body replaced by its gzip'd form is the next request's body (no allocation grown and
 * faulted in again); a small one (a compressed body) is not kept beside it. */
static void recycled_bodies(void **state)
{
    (void)state;
    struct hec_queue q;
    hec_queue_init(&q, 1000, 64);
    struct hec_batch *b = hec_queue_batch(&q, 1, on_ack, NULL);
    char big[64];
    memset(big, 'x', sizeof(big));
    assert_int_equal(hec_queue_add(&q, b, big, sizeof(big), 0), DFW_OK); /* full: closed */
    struct hec_req *r = q.head;
    assert_int_equal(r->state, HEC_REQ_READY);
    char *raw = r->body.data;
    size_t cap = r->body.cap;
    hec_queue_recycle(&q, &r->body);
    assert_null(r->body.data);
    assert_int_equal(r->body.cap, 0);
    assert_int_equal(q.nspare, 1);
    /* the compressed form, smaller than half of max_bytes, is freed when it is recycled */
    assert_int_equal(dfw_buf_append(&r->body, "gz", 2), DFW_OK);
    dfw_buf_fit(&r->body, 0); /* as compress_req leaves it: its bytes and the NUL */
    assert_true(r->body.cap < 32);
    hec_queue_finish(&q, r, DFW_OK);
    assert_int_equal(q.nspare, 1);
    /* the next request writes into the raw allocation, emptied */
    assert_int_equal(hec_queue_add(&q, b, "{}", 2, 0), DFW_OK);
    assert_ptr_equal(q.open->body.data, raw);
    assert_int_equal(q.open->body.cap, cap);
    assert_string_equal(q.open->body.data, "{}\n");
    assert_int_equal(q.nspare, 0);
    hec_queue_seal(&q, b);
    hec_queue_clear(&q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(batch_spread_over_requests, setup),
        cmocka_unit_test_setup(batches_share_a_request, setup),
        cmocka_unit_test_setup(failure_acks_once_and_early, setup),
        cmocka_unit_test_setup(byte_limit_closes_requests, setup),
        cmocka_unit_test_setup(empty_abandoned_and_cleared, setup),
        cmocka_unit_test_setup(recycled_bodies, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
