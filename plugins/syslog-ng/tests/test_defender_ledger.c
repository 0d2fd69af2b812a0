/* The ack ledger of defender() (defender-ledger.c) without a daemon: syslog-ng's consecutive ack
 * tracker calls save on the last message of an acknowledged range and destroy on every message;
 * these tests call them in the orders syslog-ng does and check which batches go back to the
 * engine, with which result. dfw_embed_ack is replaced by a recorder. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "defender-ledger.h"

#define MAXB 8
static struct dfw_embed_batch *acked[MAXB];
static dfw_err results[MAXB];
static int nacked;

void dfw_embed_ack(struct dfw_embed_batch *batch, dfw_err result)
{
    assert_true(nacked < MAXB);
    acked[nacked] = batch;
    results[nacked++] = result;
}

static int reset(void **st)
{
    (void)st;
    nacked = 0;
    return 0;
}

/* Post n messages of b: their bookmarks go to bm[first...]. */
static void post(DefenderLedger *l, struct dfw_embed_batch *b, Bookmark *bm, size_t n)
{
    defender_ledger_begin(l, b);
    for (size_t i = 0; i < n; i++) {
        defender_ledger_fill_bookmark(l, &bm[i]);
    }
    defender_ledger_end(l, n == b->count);
}

/* syslog-ng acknowledges the range [from, to): save on its last, destroy on each. */
static void ack_range(Bookmark *bm, size_t from, size_t to, int aborted)
{
    if (!aborted) {
        bm[to - 1].save(&bm[to - 1]);
    }
    for (size_t i = from; i < to; i++) {
        bm[i].destroy(&bm[i]);
    }
}

static void a_batch_goes_back_when_every_message_is_acknowledged(void **st)
{
    (void)st;
    DefenderLedger *l = defender_ledger_new();
    struct dfw_embed_batch b1 = {.seq = 1, .count = 3}, b2 = {.seq = 2, .count = 2};
    Bookmark bm[5] = {0};
    post(l, &b1, bm, 3);
    post(l, &b2, bm + 3, 2);
    ack_range(bm, 0, 2, 0);
    assert_int_equal(nacked, 0); /* one message of b1 is still out */
    ack_range(bm, 2, 4, 0);
    assert_int_equal(nacked, 1);
    assert_ptr_equal(acked[0], &b1);
    assert_int_equal(results[0], DFW_OK);
    ack_range(bm, 4, 5, 0);
    assert_int_equal(nacked, 2);
    assert_ptr_equal(acked[1], &b2);
    assert_int_equal(results[1], DFW_OK);
    defender_ledger_unref(l);
}

static void an_aborted_message_fails_its_batch(void **st)
{
    (void)st;
    DefenderLedger *l = defender_ledger_new();
    struct dfw_embed_batch b1 = {.seq = 1, .count = 2}, b2 = {.seq = 2, .count = 2};
    Bookmark bm[4] = {0};
    post(l, &b1, bm, 2);
    post(l, &b2, bm + 2, 2);
    ack_range(bm, 0, 2, 0);
    ack_range(bm, 2, 3, 1); /* a queue freed at shutdown: no save */
    ack_range(bm, 3, 4, 0);
    assert_int_equal(nacked, 2);
    assert_ptr_equal(acked[1], &b2);
    assert_int_equal(results[0], DFW_OK);
    assert_int_equal(results[1], DFW_ERR_RETRY);
    defender_ledger_unref(l);
}

static void a_batch_cut_short_fails_once_its_posted_messages_are_done(void **st)
{
    (void)st;
    DefenderLedger *l = defender_ledger_new();
    struct dfw_embed_batch b = {.seq = 7, .count = 5};
    Bookmark bm[2] = {0};
    post(l, &b, bm, 2); /* the worker was told to exit after two messages */
    assert_int_equal(nacked, 0);
    ack_range(bm, 0, 2, 0);
    assert_int_equal(nacked, 1);
    assert_int_equal(results[0], DFW_ERR_RETRY);
    defender_ledger_unref(l);
}

static void acknowledgements_after_the_driver_let_go(void **st)
{
    (void)st;
    DefenderLedger *l = defender_ledger_new();
    struct dfw_embed_batch b = {.seq = 3, .count = 2};
    Bookmark bm[2] = {0};
    post(l, &b, bm, 2);
    defender_ledger_unref(l); /* reload: the driver is freed, the bookmarks keep the ledger */
    ack_range(bm, 0, 2, 0);
    assert_int_equal(nacked, 1);
    assert_int_equal(results[0], DFW_OK);
}

static void an_empty_post_gives_the_batch_back_at_once(void **st)
{
    (void)st;
    DefenderLedger *l = defender_ledger_new();
    struct dfw_embed_batch b = {.seq = 4, .count = 3};
    post(l, &b, NULL, 0);
    assert_int_equal(nacked, 1);
    assert_int_equal(results[0], DFW_ERR_RETRY);
    defender_ledger_unref(l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(a_batch_goes_back_when_every_message_is_acknowledged, reset),
        cmocka_unit_test_setup(an_aborted_message_fails_its_batch, reset),
        cmocka_unit_test_setup(a_batch_cut_short_fails_once_its_posted_messages_are_done, reset),
        cmocka_unit_test_setup(acknowledgements_after_the_driver_let_go, reset),
        cmocka_unit_test_setup(an_empty_post_gives_the_batch_back_at_once, reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
