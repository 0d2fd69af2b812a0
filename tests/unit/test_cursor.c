#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "dfw/cursor.h"

#define MIN 60000LL

static const struct dfw_slice_outcome complete = {0};

static void sweep_window_uses_overlap_and_settle_delay(void **state)
{
    (void)state;
    struct dfw_cursor c;
    assert_int_equal(dfw_cursor_init(&c, 100 * MIN), DFW_OK);
    assert_int_equal(dfw_cursor_begin(&c, 200 * MIN, 5 * MIN, 2 * MIN, 100), 1);
    assert_int_equal(c.win.from_ms, 95 * MIN);
    assert_int_equal(c.win.to_ms, 198 * MIN);
    /* a second begin while the sweep runs changes nothing */
    assert_int_equal(dfw_cursor_begin(&c, 300 * MIN, 5 * MIN, 2 * MIN, 100), 1);
    assert_int_equal(c.win.to_ms, 198 * MIN);
    /* one complete response over the whole window ends the sweep */
    dfw_cursor_advance(&c, &complete, 0, 5 * MIN);
    assert_int_equal(c.win.to_ms, 0);
    assert_int_equal(c.high_water_ms, 198 * MIN);
    assert_int_equal(c.prev_end_ms, 198 * MIN);
    /* nothing settled yet: no sweep */
    assert_int_equal(dfw_cursor_begin(&c, 190 * MIN, 5 * MIN, 2 * MIN, 100), 0);
    assert_int_equal(c.win.to_ms, 0);
    dfw_cursor_clear(&c);
}

static void dedup_by_id_and_update_time(void **state)
{
    (void)state;
    struct dfw_cursor c;
    dfw_cursor_init(&c, 100 * MIN);
    dfw_cursor_begin(&c, 200 * MIN, 5 * MIN, 0, 100);
    assert_int_equal(dfw_cursor_add(&c, "a1", "2026-01-01T00:00:00Z", 199 * MIN), DFW_OK);
    /* pending pairs count: the same pair twice on one page is sent once */
    assert_true(dfw_cursor_seen(&c, "a1", "2026-01-01T00:00:00Z"));
    /* an update of the same alert is a different event */
    assert_false(dfw_cursor_seen(&c, "a1", "2026-01-01T00:00:01Z"));
    assert_false(dfw_cursor_seen(&c, "a2", "2026-01-01T00:00:00Z"));
    /* the id alone tells that a new last-update time is an update */
    assert_true(dfw_cursor_seen_id(&c, "a1"));
    assert_false(dfw_cursor_seen_id(&c, "a2"));
    assert_false(dfw_cursor_seen_id(&c, "a"));
    /* adding twice keeps one entry */
    dfw_cursor_add(&c, "a1", "2026-01-01T00:00:00Z", 199 * MIN);
    assert_int_equal(dfw_cursor_seen_count(&c), 1);
    dfw_cursor_commit(&c, 1);
    assert_int_equal(c.delivered, 1);
    dfw_cursor_clear(&c);
}

static void note_answers_before_it_adds(void **state)
{
    (void)state;
    struct dfw_cursor c;
    struct dfw_cursor_prior p;
    dfw_cursor_init(&c, 100 * MIN);
    dfw_cursor_begin(&c, 200 * MIN, 5 * MIN, 0, 100);
    /* a record never seen: nothing known, and it is remembered (pending) from now on */
    assert_int_equal(dfw_cursor_note(&c, "a1", "2026-01-01T00:00:00Z", 150 * MIN, &p), DFW_OK);
    assert_false(p.present);
    assert_false(p.id_known);
    assert_int_equal(p.latest_ms, 0);
    uint64_t first = p.pair_hash;
    assert_true(dfw_cursor_seen(&c, "a1", "2026-01-01T00:00:00Z"));
    /* the same pair again on the page: a duplicate, nothing added */
    assert_int_equal(dfw_cursor_note(&c, "a1", "2026-01-01T00:00:00Z", 150 * MIN, &p), DFW_OK);
    assert_true(p.present);
    assert_true(p.pair_hash == first);
    assert_int_equal(dfw_cursor_seen_count(&c), 1);
    /* a later version: an update of a known id, whose latest version was the first */
    assert_int_equal(dfw_cursor_note(&c, "a1", "2026-01-01T00:05:00Z", 155 * MIN, &p), DFW_OK);
    assert_false(p.present);
    assert_true(p.id_known);
    assert_int_equal(p.latest_ms, 150 * MIN);
    assert_true(p.pair_hash != first);
    assert_int_equal(dfw_cursor_latest(&c, "a1"), 155 * MIN);
    /* ids that share a prefix, or are one 8-byte word long, are other ids */
    assert_int_equal(dfw_cursor_note(&c, "a", "2026-01-01T00:00:00Z", 150 * MIN, &p), DFW_OK);
    assert_false(p.present);
    assert_false(p.id_known);
    assert_int_equal(dfw_cursor_note(&c, "a1234567", "2026-01-01T00:00:00Z", 1, &p), DFW_OK);
    assert_false(p.id_known);
    assert_int_equal(dfw_cursor_note(&c, "a12345678", "2026-01-01T00:00:00Z", 1, &p), DFW_OK);
    assert_false(p.id_known);
    assert_true(dfw_cursor_seen_id(&c, "a1234567"));
    assert_false(dfw_cursor_seen_id(&c, "a123456"));
    /* noted pairs are pending: a batch given up forgets them */
    dfw_cursor_rollback(&c);
    assert_int_equal(dfw_cursor_seen_count(&c), 0);
    assert_false(dfw_cursor_seen(&c, "a1", "2026-01-01T00:00:00Z"));
    dfw_cursor_clear(&c);
}

static void rollback_forgets_the_unacknowledged_batch(void **state)
{
    (void)state;
    struct dfw_cursor c;
    dfw_cursor_init(&c, 100 * MIN);
    dfw_cursor_begin(&c, 200 * MIN, 5 * MIN, 0, 100);
    dfw_cursor_add(&c, "kept", "t1", 150 * MIN);
    dfw_cursor_commit(&c, 1);
    dfw_cursor_add(&c, "lost", "t2", 150 * MIN);
    dfw_cursor_add(&c, "kept", "t3", 151 * MIN);
    assert_int_equal(dfw_cursor_seen_count(&c), 3);
    dfw_cursor_rollback(&c);
    assert_int_equal(dfw_cursor_seen_count(&c), 1);
    assert_true(dfw_cursor_seen(&c, "kept", "t1"));
    assert_false(dfw_cursor_seen(&c, "lost", "t2"));
    assert_false(dfw_cursor_seen(&c, "kept", "t3"));
    assert_false(dfw_cursor_seen_id(&c, "lost"));
    assert_int_equal(c.delivered, 1);
    dfw_cursor_clear(&c);
}

/* Pairs are kept while a later slice or the next sweep can serve them again. */
static void forgets_pairs_no_slice_can_serve_again(void **state)
{
    (void)state;
    struct dfw_cursor c;
    dfw_cursor_init(&c, 100 * MIN);
    dfw_cursor_begin(&c, 200 * MIN, 5 * MIN, 0, 10);
    /* a full page over the whole window [95, 200): split */
    struct dfw_slice_outcome full = {.rows = 10, .more = 1, .cut_ms = 120 * MIN};
    dfw_cursor_add(&c, "early", "t1", 110 * MIN);
    dfw_cursor_add(&c, "late", "t2", 198 * MIN);
    dfw_cursor_commit(&c, 2);
    dfw_cursor_advance(&c, &full, 0, 5 * MIN);
    assert_int_equal(c.win.pos_ms, 95 * MIN);
    assert_true(dfw_cursor_seen(&c, "early", "t1"));
    /* [95, 120min+1ms) is complete: 110 cannot come back in this sweep nor the next one */
    dfw_cursor_advance(&c, &complete, 0, 5 * MIN);
    assert_true(c.win.pos_ms > 120 * MIN);
    assert_false(dfw_cursor_seen(&c, "early", "t1"));
    assert_true(dfw_cursor_seen(&c, "late", "t2"));
    /* the rest, to the end: the sweep ends, pairs before 200 - 5 go */
    while (c.win.to_ms != 0) {
        dfw_cursor_advance(&c, &complete, 0, 5 * MIN);
    }
    assert_int_equal(c.high_water_ms, 200 * MIN);
    assert_true(dfw_cursor_seen(&c, "late", "t2"));
    dfw_cursor_begin(&c, 300 * MIN, 5 * MIN, 0, 10);
    assert_int_equal(c.win.from_ms, 195 * MIN);
    dfw_cursor_advance(&c, &complete, 0, 5 * MIN);
    /* high water 300 min: 198 is outside [295, ...) and is pruned from both indexes */
    assert_false(dfw_cursor_seen(&c, "late", "t2"));
    assert_false(dfw_cursor_seen_id(&c, "late"));
    assert_int_equal(dfw_cursor_seen_count(&c), 0);
    dfw_cursor_clear(&c);
}

static void many_pairs_grow_the_table(void **state)
{
    (void)state;
    struct dfw_cursor c;
    dfw_cursor_init(&c, 0);
    dfw_cursor_begin(&c, 1000 * MIN, 5 * MIN, 0, 100);
    char id[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof(id), "id-%d", i);
        assert_int_equal(dfw_cursor_add(&c, id, "2026-11-23T10:00:00.1234567Z", 999 * MIN), DFW_OK);
    }
    dfw_cursor_commit(&c, 20000);
    assert_int_equal(dfw_cursor_seen_count(&c), 20000);
    /* about 100 bytes a pair with ids like these */
    assert_true(dfw_cursor_seen_bytes(&c) > 20000 * 60);
    assert_true(dfw_cursor_seen_bytes(&c) < 20000 * 160);
    for (int i = 0; i < 20000; i += 997) {
        snprintf(id, sizeof(id), "id-%d", i);
        assert_true(dfw_cursor_seen(&c, id, "2026-11-23T10:00:00.1234567Z"));
    }
    assert_false(dfw_cursor_seen(&c, "id-20000", "2026-11-23T10:00:00.1234567Z"));
    assert_true(dfw_cursor_seen_id(&c, "id-19999"));
    assert_false(dfw_cursor_seen_id(&c, "id-20000"));
    dfw_cursor_clear(&c);
}

static void json_round_trip(void **state)
{
    (void)state;
    struct dfw_cursor c, d;
    dfw_cursor_init(&c, 100 * MIN);
    dfw_cursor_begin(&c, 200 * MIN, 5 * MIN, 1 * MIN, 50);
    dfw_cursor_add(&c, "x", "2026-01-01T00:00:00Z", 198 * MIN);
    dfw_cursor_commit(&c, 17);
    dfw_cursor_add(&c, "pending", "2026-01-01T00:00:00Z", 198 * MIN);
    struct dfw_slice_outcome full = {.rows = 50, .more = 1, .cut_ms = 100 * MIN};
    dfw_cursor_advance(&c, &full, 0, 5 * MIN);
    c.late = 3;
    struct dfw_buf text = DFW_BUF_INIT;
    assert_int_equal(dfw_cursor_to_text(&c, &text), DFW_OK);
    /* the text on disk, member for member */
    char want[1024];
    snprintf(want, sizeof(want),
             "{\"version\":2,\"high_water\":\"1970-01-01T01:40:00.000Z\",\"high_water_ms\":%lld,"
             "\"prev_end_ms\":%lld,\"sweep\":{\"from_ms\":%lld,\"to_ms\":%lld,\"pos_ms\":%lld,"
             "\"end_ms\":%lld,\"width_ms\":%lld,\"top\":%d},\"delivered\":17,\"late\":3,"
             "\"seen\":[[\"x\",\"2026-01-01T00:00:00Z\",%lld]]}",
             (long long)c.high_water_ms, (long long)c.prev_end_ms, (long long)c.win.from_ms,
             (long long)c.win.to_ms, (long long)c.win.pos_ms, (long long)c.win.end_ms,
             (long long)c.win.width_ms, c.win.top, (long long)(198 * MIN));
    assert_string_equal(text.data, want);
    struct json_object *o2 = json_tokener_parse(text.data);
    dfw_buf_free(&text);
    dfw_cursor_init(&d, 0);
    assert_int_equal(dfw_cursor_from_json(&d, o2), DFW_OK);
    assert_int_equal(d.high_water_ms, c.high_water_ms);
    assert_memory_equal(&d.win, &c.win, sizeof(d.win));
    assert_int_equal(d.delivered, 17);
    assert_int_equal(d.late, 3);
    assert_true(dfw_cursor_seen(&d, "x", "2026-01-01T00:00:00Z"));
    /* only acknowledged pairs reach the checkpoint */
    assert_false(dfw_cursor_seen(&d, "pending", "2026-01-01T00:00:00Z"));
    json_object_put(o2);
    /* not a checkpoint */
    struct json_object *bad = json_tokener_parse("{\"high_water_ms\":\"yesterday\"}");
    assert_int_equal(dfw_cursor_from_json(&d, bad), DFW_ERR_INVALID);
    json_object_put(bad);
    /* a sweep that is not a window */
    bad = json_tokener_parse("{\"version\":2,\"high_water_ms\":5,\"seen\":[],\"sweep\":"
                             "{\"from_ms\":10,\"to_ms\":5,\"pos_ms\":10,\"end_ms\":5,"
                             "\"width_ms\":1,\"top\":10}}");
    assert_int_equal(dfw_cursor_from_json(&d, bad), DFW_ERR_INVALID);
    json_object_put(bad);
    dfw_cursor_clear(&c);
    dfw_cursor_clear(&d);
}

/* A version 1 checkpoint (next link paging) is read; its sweep is begun again. */
static void reads_version_1(void **state)
{
    (void)state;
    struct dfw_cursor d;
    dfw_cursor_init(&d, 0);
    struct json_object *v1 = json_tokener_parse(
        "{\"version\":1,\"high_water\":\"2026-01-01T00:00:00.000Z\",\"high_water_ms\":"
        "1767225600000,\"sweep_from_ms\":1767225300000,\"sweep_to_ms\":1767229200000,"
        "\"next_link\":\"https://h/api/alerts?$skip=100\",\"keep_from_ms\":1767228900000,"
        "\"delivered\":42,\"seen\":[[\"a\",\"2026-01-01T00:59:00Z\",1767229140000]]}");
    assert_int_equal(dfw_cursor_from_json(&d, v1), DFW_OK);
    assert_int_equal(d.high_water_ms, 1767225600000LL);
    assert_int_equal(d.win.to_ms, 0);
    assert_int_equal(d.delivered, 42);
    assert_true(dfw_cursor_seen(&d, "a", "2026-01-01T00:59:00Z"));
    json_object_put(v1);
    dfw_cursor_clear(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sweep_window_uses_overlap_and_settle_delay),
        cmocka_unit_test(dedup_by_id_and_update_time),
        cmocka_unit_test(note_answers_before_it_adds),
        cmocka_unit_test(rollback_forgets_the_unacknowledged_batch),
        cmocka_unit_test(forgets_pairs_no_slice_can_serve_again),
        cmocka_unit_test(many_pairs_grow_the_table),
        cmocka_unit_test(json_round_trip),
        cmocka_unit_test(reads_version_1),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
