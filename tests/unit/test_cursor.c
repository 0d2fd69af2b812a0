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

static void sweep_window_uses_overlap(void **state)
{
    (void)state;
    struct dfw_cursor c;
    assert_int_equal(dfw_cursor_init(&c, 100 * MIN), DFW_OK);
    dfw_cursor_begin(&c, 200 * MIN, 5 * MIN);
    assert_int_equal(c.sweep_from_ms, 95 * MIN);
    assert_int_equal(c.sweep_to_ms, 200 * MIN);
    /* a second begin while the sweep runs changes nothing */
    dfw_cursor_begin(&c, 300 * MIN, 5 * MIN);
    assert_int_equal(c.sweep_to_ms, 200 * MIN);
    assert_int_equal(dfw_cursor_page_done(&c, "https://h/next?$skiptoken=x", 5 * MIN), DFW_OK);
    assert_string_equal(c.next_link, "https://h/next?$skiptoken=x");
    assert_int_equal(c.high_water_ms, 100 * MIN);
    assert_int_equal(dfw_cursor_page_done(&c, NULL, 5 * MIN), DFW_OK);
    assert_null(c.next_link);
    assert_int_equal(c.high_water_ms, 200 * MIN);
    assert_int_equal(c.sweep_to_ms, 0);
    dfw_cursor_clear(&c);
}

static void dedup_by_id_and_update_time(void **state)
{
    (void)state;
    struct dfw_cursor c;
    dfw_cursor_init(&c, 100 * MIN);
    dfw_cursor_begin(&c, 200 * MIN, 5 * MIN);
    assert_int_equal(dfw_cursor_add(&c, "a1", "2026-01-01T00:00:00Z", 199 * MIN), DFW_OK);
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
    dfw_cursor_clear(&c);
}

static void forgets_pairs_outside_the_next_window(void **state)
{
    (void)state;
    struct dfw_cursor c;
    dfw_cursor_init(&c, 100 * MIN);
    dfw_cursor_begin(&c, 200 * MIN, 5 * MIN);
    /* older than sweep_to - overlap: cannot come back, not remembered */
    dfw_cursor_add(&c, "old", "t1", 150 * MIN);
    dfw_cursor_add(&c, "recent", "t2", 197 * MIN);
    assert_false(dfw_cursor_seen(&c, "old", "t1"));
    assert_true(dfw_cursor_seen(&c, "recent", "t2"));
    dfw_cursor_page_done(&c, NULL, 5 * MIN);
    dfw_cursor_begin(&c, 400 * MIN, 5 * MIN);
    assert_int_equal(c.sweep_from_ms, 195 * MIN);
    assert_true(dfw_cursor_seen(&c, "recent", "t2"));
    dfw_cursor_page_done(&c, NULL, 5 * MIN);
    /* high water 400 min: 197 is outside [395, ...) and is pruned from both indexes */
    assert_false(dfw_cursor_seen(&c, "recent", "t2"));
    assert_false(dfw_cursor_seen_id(&c, "recent"));
    assert_int_equal(dfw_cursor_seen_count(&c), 0);
    dfw_cursor_clear(&c);
}

static void many_pairs_grow_the_table(void **state)
{
    (void)state;
    struct dfw_cursor c;
    dfw_cursor_init(&c, 0);
    dfw_cursor_begin(&c, 1000 * MIN, 5 * MIN);
    char id[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(id, sizeof(id), "id-%d", i);
        assert_int_equal(dfw_cursor_add(&c, id, "2026-11-23T10:00:00.1234567Z", 999 * MIN), DFW_OK);
    }
    assert_int_equal(dfw_cursor_seen_count(&c), 20000);
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
    dfw_cursor_begin(&c, 200 * MIN, 5 * MIN);
    dfw_cursor_add(&c, "x", "2026-01-01T00:00:00Z", 198 * MIN);
    dfw_cursor_page_done(&c, "https://h/api/alerts?$skiptoken=abc", 5 * MIN);
    c.delivered = 17;
    struct json_object *o = dfw_cursor_to_json(&c);
    assert_non_null(o);
    /* through text, as on disk */
    struct json_object *o2 = json_tokener_parse(json_object_to_json_string(o));
    dfw_cursor_init(&d, 0);
    assert_int_equal(dfw_cursor_from_json(&d, o2), DFW_OK);
    assert_int_equal(d.high_water_ms, c.high_water_ms);
    assert_int_equal(d.sweep_from_ms, c.sweep_from_ms);
    assert_int_equal(d.sweep_to_ms, c.sweep_to_ms);
    assert_int_equal(d.keep_from_ms, c.keep_from_ms);
    assert_int_equal(d.delivered, 17);
    assert_string_equal(d.next_link, c.next_link);
    assert_true(dfw_cursor_seen(&d, "x", "2026-01-01T00:00:00Z"));
    json_object_put(o);
    json_object_put(o2);
    /* not a checkpoint */
    struct json_object *bad = json_tokener_parse("{\"high_water_ms\":\"yesterday\"}");
    assert_int_equal(dfw_cursor_from_json(&d, bad), DFW_ERR_INVALID);
    json_object_put(bad);
    dfw_cursor_clear(&c);
    dfw_cursor_clear(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sweep_window_uses_overlap),
        cmocka_unit_test(dedup_by_id_and_update_time),
        cmocka_unit_test(forgets_pairs_outside_the_next_window),
        cmocka_unit_test(many_pairs_grow_the_table),
        cmocka_unit_test(json_round_trip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
